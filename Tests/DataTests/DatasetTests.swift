import Data
import Foundation
import Tensor
import TestSupport
import XCTest

final class DatasetTests: XCTestCase {
  var folder: URL!
  override func setUpWithError() throws { folder = try makeTemporaryFolder() }
  override func tearDown() { try? FileManager.default.removeItem(at: folder) }

  /// A bright disc on a dark background with its mask, as files `images/<stem>.png`, `masks/<maskStem>.png`.
  func writeSample(_ root: URL, stem: String, maskStem: String? = nil, width: Int = 48, height: Int = 32,
                   maskValue: UInt8 = 255) throws {
    for sub in ["images", "masks"] {
      try FileManager.default.createDirectory(at: root.appendingPathComponent(sub), withIntermediateDirectories: true)
    }
    var rgb = [UInt8](repeating: 30, count: width * height * 3), mask = [UInt8](repeating: 0, count: width * height)
    for y in 0..<height {
      for x in 0..<width where (x - 20) * (x - 20) + (y - 14) * (y - 14) < 80 {
        mask[y * width + x] = maskValue
        for c in 0..<3 { rgb[(y * width + x) * 3 + c] = 220 }
      }
    }
    try ImageIO.writePNG(rgb, width: width, height: height, channels: 3,
                         to: root.appendingPathComponent("images/\(stem).png").path)
    try ImageIO.writePNG(mask, width: width, height: height, channels: 1,
                         to: root.appendingPathComponent("masks/\(maskStem ?? stem).png").path)
  }

  func testPairingNamingAndSplits() throws {
    let root = folder.appendingPathComponent("isic")
    for stem in ["ISIC_1", "ISIC_2", "ISIC_10"] { try writeSample(root, stem: stem, maskStem: stem + "_segmentation") }
    let dataset = try SegmentationDataset(root: root.path, naming: .suffix("_segmentation"))
    XCTAssertEqual(dataset.samples.map(\.stem), ["ISIC_1", "ISIC_10", "ISIC_2"])
    XCTAssertEqual(try SegmentationDataset(root: root.path).samples.map(\.maskPath), dataset.samples.map(\.maskPath),
                   "the suffix is found without being given")
    XCTAssertEqual(try SegmentationDataset(root: root.path).maskSummary, "masks named <stem>_segmentation", "and said")
    XCTAssertEqual(try SegmentationDataset(root: root.path, encoding: .labelValues([0, 255])).subset([]).maskSummary,
                   "masks named <stem>_segmentation, mask rule labels:0,255", "subsets keep both")
    let plain = folder.appendingPathComponent("plain")
    try writeSample(plain, stem: "x")
    XCTAssertNil(try SegmentationDataset(root: plain.path).maskSummary, "the default says nothing")
    // Found the same way: a prefix, or both; a folder where one image has no such mask still names it.
    let both = folder.appendingPathComponent("both")
    for stem in ["a1", "a2"] { try writeSample(both, stem: stem, maskStem: "gt_" + stem + "_mask") }
    XCTAssertEqual(try SegmentationDataset(root: both.path).samples.map { URL(fileURLWithPath: $0.maskPath).lastPathComponent },
                   ["gt_a1_mask.png", "gt_a2_mask.png"])
    try writeSample(root, stem: "ISIC_3", maskStem: "ISIC_3_other")
    XCTAssertThrowsError(try SegmentationDataset(root: root.path)) { error in
      XCTAssertTrue(error.localizedDescription.contains("no mask named 'ISIC_1.*'"), error.localizedDescription)
    }
    XCTAssertNil(MaskNaming.infer(imageStems: ["1", "2"], maskStems: ["x1", "x2", "1y", "2y"]), "two rules pair all: ambiguous")
    XCTAssertEqual(MaskNaming.infer(imageStems: ["1", "2"], maskStems: ["x1", "x2", "1y"]), .prefix("x"))
    XCTAssertEqual(MaskNaming.infer(maskStems: ["a_seg", "b_seg"], imageStems: ["a", "b", "a_prob"]), .suffix("_seg"),
                   "the other way round: every mask pairs, extra images are left alone")
    XCTAssertEqual(MaskNaming.affixes(prefix: "gt_", suffix: "_m").imageStem(forMask: "gt_a1_m"), "a1")
    XCTAssertNil(MaskNaming.suffix("_seg").imageStem(forMask: "_seg"), "nothing left for the image's stem")
    let prefixed = folder.appendingPathComponent("prefixed")
    for stem in ["2", "10", "1"] { try writeSample(prefixed, stem: stem, maskStem: "p" + stem) }
    XCTAssertEqual(try SegmentationDataset(root: prefixed.path, naming: .prefix("p")).samples.map(\.stem), ["1", "2", "10"])
    try "10\n1\n".write(to: prefixed.appendingPathComponent("test.txt"), atomically: true, encoding: .utf8)
    XCTAssertEqual(try SegmentationDataset(root: prefixed.path, split: "test.txt", naming: .prefix("p")).samples.map(\.stem),
                   ["10", "1"], "split file order is kept")
    try "1\n7\n".write(to: prefixed.appendingPathComponent("bad.txt"), atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try SegmentationDataset(root: prefixed.path, split: "bad.txt", naming: .prefix("p"))) { error in
      XCTAssertTrue(error.localizedDescription.hasSuffix("bad.txt: stem '7' has no image in \(prefixed.path)/images"),
                    error.localizedDescription)
    }
    XCTAssertThrowsError(try SegmentationDataset(root: prefixed.path, split: "missing.txt", naming: .prefix("p")))
    try "10\n1\n10.png\n".write(to: prefixed.appendingPathComponent("twice.txt"), atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try SegmentationDataset(root: prefixed.path, split: "twice.txt", naming: .prefix("p"))) { error in
      XCTAssertTrue(error.localizedDescription.hasSuffix("twice.txt: stem '10' is listed twice"), error.localizedDescription)
    }
    let noMasks = folder.appendingPathComponent("nomasks/images")
    try FileManager.default.createDirectory(at: noMasks, withIntermediateDirectories: true)
    XCTAssertThrowsError(try SegmentationDataset(root: noMasks.deletingLastPathComponent().path)) { error in
      XCTAssertTrue(error.localizedDescription.contains("no masks/ folder"))
    }
  }

  func testPraNetLayout() throws {
    let root = folder.appendingPathComponent("pranet")
    // PraNet's TrainDataset uses image/ and mask/; TestDataset/<set>/ uses images/ and masks/.
    try writeSample(root.appendingPathComponent("TrainDataset"), stem: "1")
    try FileManager.default.moveItem(at: root.appendingPathComponent("TrainDataset/images"),
                                     to: root.appendingPathComponent("TrainDataset/image"))
    try FileManager.default.moveItem(at: root.appendingPathComponent("TrainDataset/masks"),
                                     to: root.appendingPathComponent("TrainDataset/mask"))
    for set in ["Kvasir", "CVC-ClinicDB", "ETIS-LaribPolypDB"] {
      try writeSample(root.appendingPathComponent("TestDataset/\(set)"), stem: "a")
      try writeSample(root.appendingPathComponent("TestDataset/\(set)"), stem: "b")
    }
    let (train, tests) = try SegmentationDataset.openPraNet(root: root.path)
    XCTAssertEqual(train.samples.count, 1)
    XCTAssertEqual(tests.map(\.name), ["CVC-ClinicDB", "ETIS-LaribPolypDB", "Kvasir"])
    XCTAssertEqual(tests.map(\.samples.count), [2, 2, 2])
    XCTAssertThrowsError(try SegmentationDataset.openPraNet(root: folder.path))
  }

  func testValidationSplitIsSeededAndDisjoint() throws {
    let root = folder.appendingPathComponent("d")
    for i in 0..<20 { try writeSample(root, stem: String(i)) }
    let dataset = try SegmentationDataset(root: root.path)
    let (train, validation) = dataset.splitValidation(fraction: 0.1, seed: 1234)
    XCTAssertEqual(validation.samples.count, 2)
    XCTAssertEqual(train.samples.count, 18)
    XCTAssertTrue(Set(train.samples.map(\.stem)).isDisjoint(with: validation.samples.map(\.stem)))
    XCTAssertEqual(dataset.splitValidation(fraction: 0.1, seed: 1234).validation.samples, validation.samples)
    XCTAssertNotEqual(dataset.splitValidation(fraction: 0.1, seed: 99).validation.samples, validation.samples)
  }

  func testMultiClassMasks() throws {
    let mask = Image(width: 3, height: 1, channels: 1, bytes: [0, 128, 255])
    XCTAssertEqual(try MaskEncoding.labelValues([0, 128, 255]).classIndices(mask, path: "m.png"), [0, 1, 2])
    XCTAssertThrowsError(try MaskEncoding.labelValues([0, 255]).classIndices(mask, path: "m.png")) { error in
      XCTAssertEqual(error.localizedDescription, "m.png: mask value 128 is not one of the labels [0, 255]")
    }
    let colour = Image(width: 2, height: 1, channels: 3, bytes: [0, 0, 0, 255, 0, 0])
    XCTAssertEqual(try MaskEncoding.palette([[0, 0, 0], [255, 0, 0]]).classIndices(colour, path: "c.png"), [0, 1])
    XCTAssertEqual(try MaskEncoding.threshold(127).classIndices(mask, path: "m.png"), [0, 1, 1])
  }

  /// `--masks` text: each kind read and written back; bad rules are refused with the rule named.
  func testMaskRulesParseAndRoundTrip() throws {
    XCTAssertEqual(try MaskEncoding(rule: "threshold:50"), .threshold(50))
    XCTAssertEqual(try MaskEncoding(rule: "labels:0,128,255"), .labelValues([0, 128, 255]))
    XCTAssertEqual(try MaskEncoding(rule: "palette:000000,FF0000,00ff7f"), .palette([[0, 0, 0], [255, 0, 0], [0, 255, 127]]))
    for rule in ["threshold:127", "labels:0,1,2", "palette:000000,ff0000,00ff7f"] {
      XCTAssertEqual(try MaskEncoding(rule: rule).rule, rule)
    }
    XCTAssertEqual(MaskEncoding.binary.rule, "threshold:127")
    let refusals = ["threshold:255": "N must be one integer in 0...254", "labels:0,300": "'300' is not a grey value",
                    "labels:5": "got 1 values", "labels:0,1,1": "listed twice", "palette:00000": "'00000' is not a colour",
                    "labels": "no values", "label:0,1": "unknown kind 'label'", "labels:0,,1": "'' is not a grey value"]
    for (rule, reason) in refusals {
      XCTAssertThrowsError(try MaskEncoding(rule: rule), rule) { error in
        XCTAssertTrue("\(error)".hasPrefix("mask rule '\(rule)': ") && "\(error)".contains(reason), "\(error)")
      }
    }
  }

  func testLoaderIsDeterministicAndKeepsImageAndMaskAligned() throws {
    let root = folder.appendingPathComponent("aligned")
    for i in 0..<6 { try writeSample(root, stem: String(i)) }
    let dataset = try SegmentationDataset(root: root.path)
    var augmentation = Augmentation()
    augmentation.scaleRange = [0.8, 1.2]
    augmentation.colourJitter = 0.1
    let transform = SampleTransform(size: 64, augmentation: augmentation)
    func run() throws -> [[Float]] {
      let loader = DataLoader(dataset: dataset, transform: transform, batchSize: 4, shuffle: true, seed: 7)
      var out: [[Float]] = []
      for batch in loader {
        let b = try batch.get()
        XCTAssertEqual(b.images.shape.suffix(3), [3, 64, 64])
        XCTAssertEqual(b.masks.dtype, .int64)
        // Aligned: the image is bright exactly where the mask is foreground (the disc), whatever the augmentation.
        let foreground = try b.masks.eq(1).unsqueeze(1).expand([-1, 3, -1, -1])
        let inside = try b.images.maskedFill(foreground.logicalNot(), 0).sum().item() / Swift.max(1, try foreground.to(.float32).sum().item())
        XCTAssertGreaterThan(inside, 0.8, "normalised brightness inside the mask")
        out.append(try b.images.floats() + b.masks.to(.float32).floats())
      }
      return out
    }
    let first = try run(), second = try run()
    XCTAssertEqual(first.count, 2)
    XCTAssertEqual(first, second, "same seed, same batches, whatever the thread timing")
  }

  func testUnreadableSampleSurfacesAsAnErrorNamingTheFile() throws {
    let root = folder.appendingPathComponent("broken")
    try writeSample(root, stem: "a")
    try Data("junk".utf8).write(to: root.appendingPathComponent("masks/a.png"))
    let loader = DataLoader(dataset: try SegmentationDataset(root: root.path), transform: SampleTransform(size: 32),
                            batchSize: 1, shuffle: false)
    let iterator = loader.makeIterator()
    XCTAssertThrowsError(try XCTUnwrap(iterator.next()).get()) { error in
      XCTAssertTrue(error.localizedDescription.contains("masks/a.png: not a JPEG, PNG or TIFF image"), error.localizedDescription)
    }
  }

  func testImageMaskSizeMismatchNamesBothFiles() throws {
    let root = folder.appendingPathComponent("mismatch")
    try writeSample(root, stem: "a")
    try ImageIO.writePNG([UInt8](repeating: 0, count: 10 * 10), width: 10, height: 10, channels: 1,
                         to: root.appendingPathComponent("masks/a.png").path)
    let loader = DataLoader(dataset: try SegmentationDataset(root: root.path), transform: SampleTransform(size: 32),
                            batchSize: 1, shuffle: false)
    XCTAssertThrowsError(try loader.load(0, epoch: 0)) { error in
      XCTAssertTrue(error.localizedDescription.contains("masks/a.png: mask is 10x10, image"), error.localizedDescription)
      XCTAssertTrue(error.localizedDescription.contains("images/a.png is 48x32"), error.localizedDescription)
    }
  }

  /// `checkFiles` (run by train and evaluate before the model loads) names a mask of the wrong size and a file that
  /// is not an image from the headers alone, and passes a good dataset.
  func testCheckFilesNamesBadPairsFromTheirHeaders() throws {
    let root = folder.appendingPathComponent("checked")
    try writeSample(root, stem: "a")
    try writeSample(root, stem: "b")
    XCTAssertNoThrow(try SegmentationDataset(root: root.path).checkFiles())
    try ImageIO.writePNG([UInt8](repeating: 0, count: 10 * 10), width: 10, height: 10, channels: 1,
                         to: root.appendingPathComponent("masks/b.png").path)
    XCTAssertThrowsError(try SegmentationDataset(root: root.path).checkFiles()) { error in
      XCTAssertEqual(error.localizedDescription, root.path + "/masks/b.png: mask is 10x10, image is 48x32")
    }
    try Data("junk".utf8).write(to: root.appendingPathComponent("images/a.png"))
    XCTAssertThrowsError(try SegmentationDataset(root: root.path).checkFiles()) { error in
      XCTAssertEqual(error.localizedDescription, root.path + "/images/a.png: not a JPEG, PNG or TIFF image")
    }
  }

  func testClinicDBSplits() throws {
    let root = Fixtures.sharedData.appendingPathComponent("CVC-ClinicDB")
    guard FileManager.default.fileExists(atPath: root.path) else { throw XCTSkip("CVC-ClinicDB is not at \(root.path)") }
    XCTAssertEqual(try SegmentationDataset(root: root.path, split: "train.txt").samples.count, 550)
    let test = try SegmentationDataset(root: root.path, split: "test.txt")
    XCTAssertEqual(test.samples.count, 62)
    XCTAssertEqual(test.samples.first?.stem, "14")
    let kvasir = Fixtures.sharedData.appendingPathComponent("Kvasir-SEG")
    if FileManager.default.fileExists(atPath: kvasir.path) {
      XCTAssertEqual(try SegmentationDataset(root: kvasir.path, split: "test.txt").samples.count, 100)
    }
  }
}

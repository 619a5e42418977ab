import Data
import Foundation
import Tensor
import TestSupport
import XCTest

/// Readers on small files in every supported format and layout (scripts/fixtures/make_images.py, written by
/// Pillow / OpenCV / tifffile). Lossless formats must decode exactly; JPEG within 3 grey levels of Pillow's decoder
/// (both libjpeg-turbo, possibly different versions and IDCT settings).
final class ImageIOTests: XCTestCase {
  func testEveryFormatAndLayout() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/expected.json")))
    let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
    XCTAssertEqual(expected.count, 14)
    for (name, info) in expected.sorted(by: { $0.key < $1.key }) {
      let image = try ImageIO.read(Fixtures.path("images/\(name)"))
      let shape = try XCTUnwrap(info["shape"] as? [Int])
      let values = try XCTUnwrap(info["values"] as? [Int])
      let channels = shape.count == 3 ? shape[2] : 1
      XCTAssertEqual([image.height, image.width, image.channels], [shape[0], shape[1], channels], name)
      let ours = image.samples.map(Int.init)
      if info["lossless"] as? Bool == true {
        XCTAssertEqual(ours, values, "\(name) decodes exactly")
      } else {
        let worst = zip(ours, values).map { Swift.abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 3, "\(name): JPEG decode within 3 levels of Pillow")
      }
      if name.contains("16") { XCTAssertEqual(image.bitDepth, 16, name) }
    }
  }

  func testClinicDBFramesDecodeLikeTifffile() throws {
    let folder = Fixtures.sharedData.appendingPathComponent("CVC-ClinicDB/images")
    guard FileManager.default.fileExists(atPath: folder.path) else {
      throw XCTSkip("CVC-ClinicDB is not at \(folder.path): the tifffile comparison needs it")
    }
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/clinicdb_tifffile_sha256.json")))
    let digests = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
    let scratch = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: scratch) }
    for (stem, info) in digests {
      let image = try ImageIO.read(folder.appendingPathComponent("\(stem).tif").path)
      XCTAssertEqual([image.height, image.width, image.channels], info["shape"] as? [Int], stem)
      let dump = scratch.appendingPathComponent(stem)
      try Data(image.samples.map { UInt8($0) }).write(to: dump)
      XCTAssertEqual(try sha256(dump.path), info["sha256"] as? String, "frame \(stem): same pixels as tifffile")
      // The red channel alone (what OpenCV returns for these files) must not be what we read.
      let reds = stride(from: 0, to: image.samples.count, by: 3).map { image.samples[$0] }
      let blues = stride(from: 2, to: image.samples.count, by: 3).map { image.samples[$0] }
      XCTAssertNotEqual(reds, blues, "frame \(stem) holds colour, not grey")
    }
  }

  /// sha256 of a file with coreutils (no hashing code of our own).
  func sha256(_ path: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    process.arguments = [path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: output, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
  }

  func testBadFilesGiveErrorsNamingTheFile() throws {
    let scratch = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: scratch) }
    let empty = scratch.appendingPathComponent("empty.png").path
    XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
    let text = scratch.appendingPathComponent("notes.png").path
    try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
    let truncated = scratch.appendingPathComponent("cut.png").path
    let png = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/rgb8.png")))
    try png.prefix(png.count / 2).write(to: URL(fileURLWithPath: truncated))
    // A JPEG cut short: libjpeg only warns and fills the rest with grey; it must be an error all the same.
    let truncatedJPEG = scratch.appendingPathComponent("cut.jpg").path
    let jpeg = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/rgb.jpg")))
    try jpeg.prefix(jpeg.count * 2 / 3).write(to: URL(fileURLWithPath: truncatedJPEG))
    let cases: [(String, String)] = [
      (empty, "empty file"), (text, "not a JPEG, PNG or TIFF image"), (truncated, "PNG:"),
      (truncatedJPEG, "JPEG: premature end of file (truncated)"),
      (scratch.appendingPathComponent("missing.jpg").path, "no such file"), (scratch.path, "is a folder"),
    ]
    for (path, reason) in cases {
      XCTAssertThrowsError(try ImageIO.read(path)) { error in
        XCTAssertTrue(error.localizedDescription.hasPrefix(path + ": "), error.localizedDescription)
        XCTAssertTrue(error.localizedDescription.contains(reason), error.localizedDescription)
      }
    }
  }

  /// The header-only size equals the decoded image's for every fixture format (JPEG, PNG, TIFF tiled, planar,
  /// LZW); files that are not images fail as `read` does, naming the file; a file cut after its header passes.
  func testSizeFromTheHeaderEqualsTheDecodedSize() throws {
    for name in ["rgb8.png", "palette.png", "grey16.png", "rgb.jpg", "progressive.jpg", "rgb_declared_grey.tif",
                 "tiled.tif", "planar.tif", "grey_lzw.tif"] {
      let path = Fixtures.path("images/\(name)")
      let (image, size) = (try ImageIO.read(path), try ImageIO.size(of: path))
      XCTAssertEqual([size.width, size.height], [image.width, image.height], name)
    }
    let scratch = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: scratch) }
    let text = scratch.appendingPathComponent("notes.jpg").path
    try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
    let whole = scratch.appendingPathComponent("noise.png").path, headerOnly = scratch.appendingPathComponent("cut.png").path
    var generator = SplitMix64(seed: 3)
    try ImageIO.writePNG((0..<(64 * 48)).map { _ in UInt8.random(in: 0...255, using: &generator) }, width: 64, height: 48,
                         channels: 1, to: whole)
    let png = try Data(contentsOf: URL(fileURLWithPath: whole))
    try png.prefix(png.count / 2).write(to: URL(fileURLWithPath: headerOnly))  // the header and half the pixels
    XCTAssertThrowsError(try ImageIO.size(of: text)) { error in
      XCTAssertEqual(error.localizedDescription, text + ": not a JPEG, PNG or TIFF image")
    }
    XCTAssertThrowsError(try ImageIO.size(of: scratch.path)) { error in
      XCTAssertEqual(error.localizedDescription, scratch.path + ": is a folder")
    }
    let size = try ImageIO.size(of: headerOnly)
    XCTAssertEqual([size.width, size.height], [64, 48])
    XCTAssertThrowsError(try ImageIO.read(headerOnly), "the pixels are missing: read names the file")
  }

  /// Reading reduced (rows streamed through the C reducer, or libjpeg's scaled decoding for JPEG's powers of two)
  /// equals the rounded block means of the whole image, computed here from the full decode, for every fixture
  /// format and layout and factors that do and do not divide the sides. JPEG's scaled inverse DCT is not a block
  /// mean: within a few grey levels of it.
  func testReducedReadingEqualsBlockMeansOfTheWholeImage() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/expected.json")))
    let names = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any]).keys.sorted()
    for name in names {
      let path = Fixtures.path("images/\(name)")
      let whole = try ImageIO.read(path)
      for factor in [2, 3, 4, 5] {
        let reduced = try ImageIO.read(path, reducedBy: factor)
        let expected = blockMeans(whole, factor)
        XCTAssertEqual([reduced.width, reduced.height, reduced.channels, reduced.bitDepth],
                       [expected.width, expected.height, whole.channels, whole.bitDepth], "\(name) / \(factor)")
        if name.hasSuffix(".jpg") && factor % 2 == 0 {
          continue  // scaled decoding of these random-pixel fixtures is not a block mean; see the Kvasir test below
        } else {
          XCTAssertEqual(reduced.samples, expected.samples, "\(name) / \(factor)")
        }
      }
    }
    XCTAssertEqual(ImageIO.reductionFactor(width: 20000, height: 20000, toAtMost: 4_000_000), 10)
    XCTAssertEqual(ImageIO.reductionFactor(width: 384, height: 288, toAtMost: 4_000_000), 1)
  }

  /// libjpeg's scaled decoding (1/2, 1/4, 1/8) of real colonoscopy JPEGs is close to the block means of the whole
  /// image: it is what reduced reading uses for large JPEGs.
  func testScaledJPEGDecodingIsNearTheBlockMeans() throws {
    let folder = Fixtures.sharedData.appendingPathComponent("Kvasir-SEG/images")
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().prefix(3), !names.isEmpty else {
      throw XCTSkip("Kvasir-SEG is not at \(folder.path)")
    }
    for name in names {
      let path = folder.appendingPathComponent(name).path
      let whole = try ImageIO.read(path)
      for factor in [2, 4, 8] {
        let reduced = try ImageIO.read(path, reducedBy: factor), expected = blockMeans(whole, factor)
        XCTAssertEqual([reduced.width, reduced.height], [expected.width, expected.height], "\(name) / \(factor)")
        let differences = zip(reduced.samples, expected.samples).map { Double(Swift.abs(Int($0) - Int($1))) }
        let mean = differences.reduce(0, +) / Double(differences.count)
        XCTAssertLessThan(mean, 1.0, "\(name) / \(factor)")
      }
    }
  }

  /// The mean of each factor x factor block (edge blocks over the pixels they have), rounded half up.
  func blockMeans(_ image: Image, _ factor: Int) -> (width: Int, height: Int, samples: [UInt16]) {
    let width = (image.width + factor - 1) / factor, height = (image.height + factor - 1) / factor
    var samples: [UInt16] = []
    for by in 0..<height {
      for bx in 0..<width {
        for c in 0..<image.channels {
          var sum = 0, count = 0
          for y in (by * factor)..<min(image.height, (by + 1) * factor) {
            for x in (bx * factor)..<min(image.width, (bx + 1) * factor) {
              sum += Int(image.samples[(y * image.width + x) * image.channels + c])
              count += 1
            }
          }
          samples.append(UInt16((sum + count / 2) / count))
        }
      }
    }
    return (width, height, samples)
  }

  /// An image with more pixels than `ImageIO.pixelLimit` is refused from its header, in every format, with one
  /// line naming the file, its size and the limit; at the limit it decodes.
  func testImagesPastThePixelLimitAreRefusedFromTheHeader() throws {
    let saved = ImageIO.pixelLimit
    defer { ImageIO.pixelLimit = saved }
    for name in ["rgb8.png", "rgb.jpg", "tiled.tif"] {
      let path = Fixtures.path("images/\(name)")
      let size = try ImageIO.size(of: path)
      ImageIO.pixelLimit = size.width * size.height - 1
      XCTAssertThrowsError(try ImageIO.read(path)) { error in
        XCTAssertTrue(error.localizedDescription.hasPrefix("\(path): \(size.width)x\(size.height) = "), error.localizedDescription)
        XCTAssertTrue(error.localizedDescription.contains(" pixels, over the limit of "), error.localizedDescription)
        XCTAssertTrue(error.localizedDescription.hasSuffix(" (--max-pixels raises it)"), error.localizedDescription)
      }
      ImageIO.pixelLimit = size.width * size.height
      XCTAssertNoThrow(try ImageIO.read(path), name)
    }
  }

  /// Mutated and truncated copies of every fixture: each read (whole, header, reduced) must return or throw, never
  /// crash or hang.
  /// Bounded: 0.6 seconds per format.
  func testFuzzedFilesNeverCrash() throws {
    let scratch = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: scratch) }
    var generator = SystemRandomNumberGenerator()
    var attempts = 0, failures = 0
    for name in ["rgb8.png", "palette.png", "grey16.png", "rgb.jpg", "progressive.jpg", "rgb_declared_grey.tif",
                 "tiled.tif", "planar.tif", "grey_lzw.tif"] {
      let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/\(name)")))
      let target = scratch.appendingPathComponent(name)
      let deadline = Date().addingTimeInterval(0.6)
      while Date() < deadline {
        var mutated = original
        if Bool.random(using: &generator) {
          mutated = mutated.prefix(Int.random(in: 0..<mutated.count, using: &generator))
        } else {
          for _ in 0..<Int.random(in: 1...8, using: &generator) {
            mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
          }
        }
        try mutated.write(to: target)
        attempts += 1
        do { _ = try ImageIO.read(target.path) } catch { failures += 1 }
        _ = try? ImageIO.size(of: target.path)  // the header reader gets the same files: no crash, no hang
        _ = try? ImageIO.read(target.path, reducedBy: 3)  // and the streaming decoders (libpng's row API, strips)
      }
    }
    XCTAssertGreaterThan(attempts, 200)
    XCTAssertGreaterThan(failures, 0, "some mutations must be rejected")
  }

  /// Overlays: class 1 in the given colour, class 2 in the next one, outlines where a class meets another.
  func testOverlayColoursEachClassAndOutlinesItsEdges() {
    let (w, h) = (6, 3)
    let grey = [UInt8](repeating: 100, count: w * h * 3)
    let mask: [UInt8] = [1, 1, 1, 2, 2, 2,
                         1, 1, 1, 2, 2, 2,
                         1, 1, 1, 2, 2, 2]
    let out = Overlay.draw(rgb: grey, width: w, height: h, mask: mask)
    func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(out[(y * w + x) * 3..<(y * w + x) * 3 + 3]) }
    XCTAssertEqual(pixel(2, 1), [255, 128, 0], "class 1 meets class 2 at x = 2: an outline in class 1's orange")
    XCTAssertEqual(pixel(1, 1), [162, 111, 60], "inside class 1: 40 % orange over grey 100")
    let c2 = Overlay.otherClassColours[0]
    XCTAssertEqual(pixel(3, 1), [c2.0, c2.1, c2.2], "class 2's edge in its own colour")
    XCTAssertEqual(pixel(4, 1), [84, 148, 84], "inside class 2: 40 % of (60, 220, 60) over grey 100")
    let binary = Overlay.draw(rgb: grey, width: w, height: h, mask: mask.map { $0 == 1 ? 1 : 0 })
    XCTAssertEqual(Array(binary[(1 * w + 4) * 3..<(1 * w + 4) * 3 + 3]), [100, 100, 100], "background untouched")
  }

  func testPNGWriteRoundTrip() throws {
    let scratch = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: scratch) }
    let pixels = (0..<(5 * 4 * 3)).map { UInt8($0 * 4) }
    let path = scratch.appendingPathComponent("x.png").path
    try ImageIO.writePNG(pixels, width: 5, height: 4, channels: 3, to: path)
    let back = try ImageIO.read(path)
    XCTAssertEqual(back.samples.map { UInt8($0) }, pixels)
    XCTAssertThrowsError(try ImageIO.writePNG(pixels, width: 6, height: 4, channels: 3, to: path))
  }
}

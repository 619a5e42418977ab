import Data
import Foundation
import TestSupport
import XCTest

final class EvaluateCommandTests: XCTestCase {
  var folder: URL!
  override func setUpWithError() throws { folder = try makeTemporaryFolder() }
  override func tearDown() { try? FileManager.default.removeItem(at: folder) }

  /// Writes the metrics fixtures' worked example (scripts/fixtures/make_metrics.py) (images A and B) as PNG files.
  func writeWorkedExample(predictionScale: Int = 1) throws -> (pred: String, gt: String) {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("metrics/worked_example.json")))
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    let inputs = try XCTUnwrap(json["inputs"] as? [String: [[Int]]])
    let pred = folder.appendingPathComponent("pred"), gt = folder.appendingPathComponent("dataset/masks")
    try FileManager.default.createDirectory(at: pred, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: gt, withIntermediateDirectories: true)
    for stem in ["A", "B"] {
      let mask = try XCTUnwrap(inputs["GT_\(stem)"]).flatMap { $0.map(UInt8.init) }
      try ImageIO.writePNG(mask, width: 8, height: 8, channels: 1, to: gt.appendingPathComponent("\(stem).png").path)
      let map = try XCTUnwrap(inputs["PRED_\(stem)"]).flatMap { $0.map(UInt8.init) }
      try ImageIO.writePNG(map, width: 8, height: 8, channels: 1, to: pred.appendingPathComponent("\(stem).png").path)
    }
    return (pred.path, gt.path)
  }

  func testJSONMatchesTheReferenceTool() throws {
    let (pred, gt) = try writeWorkedExample()
    let result = try runHSPSAM(["evaluate", "--pred", pred, "--gt", gt, "--gt-threshold", "128", "--format", "json"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let ours = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("metrics/worked_example.json")))
    let reference = try XCTUnwrap((JSONSerialization.jsonObject(with: data) as? [String: Any])?["AB"] as? [String: Any])
    for key in ["mDice", "mIoU", "maxDice", "Smeasure", "wFmeasure", "meanEmeasure", "maxEmeasure", "adpEmeasure", "MAE",
                "Dice@0.5", "IoU@0.5", "pooledDice@0.5"] {
      XCTAssertEqual((ours[key] as? NSNumber)?.doubleValue ?? .nan, (reference[key] as? NSNumber)?.doubleValue ?? -1,
                     accuracy: 1e-9, key)
    }
    XCTAssertEqual(ours["count"] as? Int, 2)
    XCTAssertEqual(ours["dataset"] as? String, "dataset")
    let csv = try runHSPSAM(["evaluate", "--pred", pred, "--gt", gt, "--format", "csv"])
    XCTAssertTrue(csv.stdout.hasPrefix("dataset,mDice,mIoU,maxDice,Smeasure"), csv.stdout)
    XCTAssertEqual(csv.stdout.split(separator: "\n").count, 2)
    let table = try runHSPSAM(["evaluate", "--pred", pred, "--gt", gt])
    XCTAssertTrue(table.stdout.contains("0.7893"), table.stdout)
  }

  /// Ground truth named like ISIC's (`A_segmentation.png`) pairs with predictions named like the images (`A.png`)
  /// by the inferred suffix, and other prediction files (`A_prob.png`, here unreadable) are left alone.
  func testGroundTruthWithASuffixPairsWithItsPrediction() throws {
    let (pred, gt) = try writeWorkedExample()
    let plain = try runHSPSAM(["evaluate", "--pred", pred, "--gt", gt, "--format", "csv"])
    XCTAssertEqual(plain.status, 0, plain.stderr)
    for stem in ["A", "B"] {
      try FileManager.default.moveItem(atPath: gt + "/\(stem).png", toPath: gt + "/\(stem)_segmentation.png")
    }
    try Data("not an image".utf8).write(to: URL(fileURLWithPath: pred + "/A_prob.png"))
    let suffixed = try runHSPSAM(["evaluate", "--pred", pred, "--gt", gt, "--format", "csv"])
    XCTAssertEqual(suffixed.status, 0, suffixed.stderr)
    XCTAssertEqual(suffixed.stdout, plain.stdout, "the same two pairs, the same numbers")
  }

  func testMissingPredictionAndBadFiles() throws {
    let (pred, gt) = try writeWorkedExample()
    try FileManager.default.removeItem(atPath: pred + "/B.png")
    let missing = try runHSPSAM(["evaluate", "--pred", pred, "--gt", gt])
    XCTAssertNotEqual(missing.status, 0)
    XCTAssertTrue(missing.stderr.contains("B.png: no prediction with stem 'B'"), missing.stderr)
    let skipping = try runHSPSAM(["evaluate", "--pred", pred, "--gt", gt, "--skip-invalid", "--format", "csv"])
    XCTAssertEqual(skipping.status, 0, skipping.stderr)
    XCTAssertTrue(skipping.stderr.contains("skipped:"), skipping.stderr)
    XCTAssertTrue(skipping.stdout.contains(",1,0"), "count 1: \(skipping.stdout)")
    try Data("garbage".utf8).write(to: URL(fileURLWithPath: pred + "/B.png"))
    let corrupt = try runHSPSAM(["evaluate", "--pred", pred, "--gt", gt])
    XCTAssertTrue(corrupt.stderr.contains("B.png: not a JPEG, PNG or TIFF image"), corrupt.stderr)
    XCTAssertEqual(corrupt.stderr.split(separator: "\n").count, 1)
    let noFolder = try runHSPSAM(["evaluate", "--pred", folder.appendingPathComponent("nope").path, "--gt", gt])
    XCTAssertTrue(noFolder.stderr.contains("--pred: not a folder"), noFolder.stderr)
    let emptyFolder = folder.appendingPathComponent("empty")
    try FileManager.default.createDirectory(at: emptyFolder, withIntermediateDirectories: true)
    let empty = try runHSPSAM(["evaluate", "--pred", pred, "--gt", emptyFolder.path])
    XCTAssertTrue(empty.stderr.contains("--gt: no image files"), empty.stderr)
    for arguments in [["--pred", pred, "--gt", gt, "--tta"], ["--baseline", "box-oracle", "--data", gt, "--tta"],
                      ["--baseline", "box-oracle", "--data", gt, "--tta-dihedral"]] {
      let refused = try runHSPSAM(["evaluate"] + arguments)
      XCTAssertNotEqual(refused.status, 0)
      XCTAssertTrue(refused.stderr.contains("--tta and --tta-dihedral apply to a trained model's run"), refused.stderr)
    }
    for arguments in [["--pred", pred, "--gt", gt, "--box-refine"], ["--baseline", "box-oracle", "--data", gt, "--box-refine"]] {
      let refused = try runHSPSAM(["evaluate"] + arguments)
      XCTAssertNotEqual(refused.status, 0)
      XCTAssertTrue(refused.stderr.contains("--box-refine applies to a trained model's run"), refused.stderr)
    }
    let padding = try runHSPSAM(["evaluate", "--data", gt, "--box-refine", "--box-padding", "2"])
    XCTAssertNotEqual(padding.status, 0)
    XCTAssertTrue(padding.stderr.contains("--box-padding must be in 0...1"), padding.stderr)
    let orphan = try runHSPSAM(["evaluate", "--data", gt, "--box-min-fraction", "0.5"])
    XCTAssertNotEqual(orphan.status, 0)
    XCTAssertTrue(orphan.stderr.contains("--box-padding and --box-min-fraction need --box-refine"), orphan.stderr)
    let both = try runHSPSAM(["evaluate", "--data", gt, "--tta", "--tta-dihedral"])
    XCTAssertNotEqual(both.status, 0)
    XCTAssertTrue(both.stderr.contains("--tta and --tta-dihedral exclude each other"), both.stderr)
  }

  /// Where results go is checked before the model runs: a report, map or summary path that cannot be written fails
  /// in one line naming the option, before any image is evaluated (the table is never printed).
  func testOutputPathsAndDataAreCheckedBeforeTheEvaluation() throws {
    let data = folder.appendingPathComponent("data")
    try writeGeneratedDataset(at: data, count: 1, prefix: "e")
    let file = folder.appendingPathComponent("file").path
    try Data("not a folder".utf8).write(to: URL(fileURLWithPath: file))
    let cases: [(arguments: [String], message: String)] = [
      (["--report", file + "/report"], "--report \(file)/report: cannot make the folder (Not a directory)"),
      (["--report", file], "--report \(file) is a file, not a folder"),
      (["--save-pred", file + "/maps"], "--save-pred \(file)/maps: cannot make the folder (Not a directory)"),
      (["--summary", folder.path + "/none/summary.json"], "--summary \(folder.path)/none/summary.json: folder \(folder.path)/none does not exist"),
    ]
    for (arguments, message) in cases {
      let refused = try runHSPSAM(["evaluate", "--data", data.path] + arguments)
      XCTAssertNotEqual(refused.status, 0, arguments.joined(separator: " "))
      XCTAssertEqual(refused.stderr, "Error: \(message)\n")
      XCTAssertEqual(refused.stdout, "", "no table: nothing was evaluated")
    }
    XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "not a folder", "the file is untouched")
    // A mask of another size than its image in the second --data: named before the model loads, so no table and
    // no progress line for the first, good, dataset either.
    let bad = folder.appendingPathComponent("bad")
    try writeGeneratedDataset(at: bad, count: 2, prefix: "m")
    try ImageIO.writePNG([UInt8](repeating: 0, count: 100), width: 10, height: 10, channels: 1, to: bad.path + "/masks/m1.png")
    let refused = try runHSPSAM(["evaluate", "--data", data.path, "--data", bad.path])
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertEqual(refused.stderr, "Error: \(bad.path)/masks/m1.png: mask is 10x10, image is 40x30\n")
    XCTAssertEqual(refused.stdout, "")
  }

  /// `--skip-invalid` with `--data`: a pair whose image is not an image (found by the header check) and one whose
  /// mask ends early (found when decoded) are named on stderr and left out; the row, the summary and the report
  /// cover the other two and list the two. Without the flag the first bad file stops the run before any image.
  func testSkipInvalidLeavesUnreadablePairsOutOfTheRow() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let data = folder.appendingPathComponent("data")
    try writeGeneratedDataset(at: data, count: 4, prefix: "s")
    let (garbage, cut) = (data.path + "/images/s1.png", data.path + "/masks/s2.png")
    try Data("not an image".utf8).write(to: URL(fileURLWithPath: garbage))
    try Data(contentsOf: URL(fileURLWithPath: cut)).prefix(60).write(to: URL(fileURLWithPath: cut))
    let strict = try runHSPSAM(["evaluate", "--baseline", "box-oracle", "--data", data.path])
    XCTAssertNotEqual(strict.status, 0)
    XCTAssertEqual(strict.stderr, "Error: \(garbage): not a JPEG, PNG or TIFF image\n")
    XCTAssertEqual(strict.stdout, "")

    let summary = folder.appendingPathComponent("summary.json").path, report = folder.appendingPathComponent("report").path
    let result = try runHSPSAM(["evaluate", "--baseline", "box-oracle", "--data", data.path, "--skip-invalid",
                                "--format", "csv", "--summary", summary, "--report", report])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stderr.contains("skipped \(garbage): not a JPEG, PNG or TIFF image\n"), result.stderr)
    XCTAssertTrue(result.stderr.contains("skipped \(cut): "), result.stderr)
    XCTAssertTrue(result.stderr.contains("data: 2 of 4 image/mask pairs left out (--skip-invalid; named above): its row covers 2\n"),
                  result.stderr)
    let lines = result.stdout.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
    let countColumn = try XCTUnwrap(lines.first?.firstIndex(of: "count"))
    XCTAssertEqual(lines.count, 2, result.stdout)
    XCTAssertEqual(lines[1][countColumn], "2")
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as? [String: Any])
    let details = try XCTUnwrap((json["details"] as? [[String: Any]])?.first)
    XCTAssertEqual((details["skipped"] as? [[String: String]])?.map { $0["path"] }, [garbage, cut])
    XCTAssertEqual((details["perImageDice@0.5"] as? [String: Double]).map { Set($0.keys) }, ["s0", "s3"])
    let page = try String(contentsOfFile: report + "/index.html", encoding: .utf8)
    XCTAssertTrue(page.contains("2 image/mask pairs could not be read and are not in this row"), "report names the pairs left out")

    // Nothing readable at all is an error, not a row of NaN.
    for stem in ["s0", "s3"] { try Data("x".utf8).write(to: URL(fileURLWithPath: data.path + "/images/\(stem).png")) }
    let none = try runHSPSAM(["evaluate", "--baseline", "box-oracle", "--data", data.path, "--skip-invalid"])
    XCTAssertNotEqual(none.status, 0)
    XCTAssertTrue(none.stderr.hasSuffix("Error: data: none of its 4 image/mask pairs can be read (reasons above)\n"), none.stderr)
  }

  func testPredictionOfAnotherSizeIsResized() throws {
    let (pred, gt) = try writeWorkedExample()
    // A 16x16 nearest-neighbour enlargement of B's map: resized back it must score like the original closely.
    let original = try ImageIO.read(pred + "/B.png").samples.map { UInt8($0) }
    var big = [UInt8](repeating: 0, count: 256)
    for y in 0..<16 { for x in 0..<16 { big[y * 16 + x] = original[(y / 2) * 8 + x / 2] } }
    try ImageIO.writePNG(big, width: 16, height: 16, channels: 1, to: pred + "/B.png")
    let result = try runHSPSAM(["evaluate", "--pred", pred, "--gt", gt, "--format", "json"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let ours = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    XCTAssertEqual((ours["Dice@0.5"] as? NSNumber)?.doubleValue ?? 0, 0.903, accuracy: 0.05)
  }
}

import Data
import Foundation
import TestSupport
import XCTest

/// Several `--data` folders of different formats and mask rules in one `hspsam train` and one `hspsam evaluate`:
/// generated PNGs, CVC-ClinicDB TIFFs (colour declared grey) and Kvasir-SEG JPEGs whose JPEG masks carry noise.
/// The real frames are linked (not copied) from ../shared/data into a temporary folder.
final class MultiDatasetCommandTests: XCTestCase {
  let clinic = Fixtures.sharedData.appendingPathComponent("CVC-ClinicDB")
  let kvasir = Fixtures.sharedData.appendingPathComponent("Kvasir-SEG")

  /// A dataset folder of symbolic links to `stems` of `source`.
  func linkSubset(of source: URL, stems: [String], to target: URL) throws {
    let fm = FileManager.default
    for sub in ["images", "masks"] {
      try fm.createDirectory(at: target.appendingPathComponent(sub), withIntermediateDirectories: true)
      let files = try fm.contentsOfDirectory(atPath: source.appendingPathComponent(sub).path)
      for stem in stems {
        let file = try XCTUnwrap(files.first { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent == stem }, "\(sub)/\(stem)")
        try fm.createSymbolicLink(at: target.appendingPathComponent("\(sub)/\(file)"),
                                  withDestinationURL: source.appendingPathComponent("\(sub)/\(file)"))
      }
    }
  }

  func testTrainAndEvaluateOnThreeFormats() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    guard FileManager.default.fileExists(atPath: kvasir.appendingPathComponent("train.txt").path),
          FileManager.default.fileExists(atPath: clinic.appendingPathComponent("train.txt").path)
    else { throw XCTSkip("../shared/data (CVC-ClinicDB, Kvasir-SEG) absent: the real-data multi-dataset run is not tested") }
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    // Kvasir-SEG's three smallest training images (332x487 to 396x480): debug-built metrics on 2-megapixel frames would dominate.
    let kvasirStems = ["cju2htabevq9108015qjei0x7", "cju2zdvjn9h7r08553cp4eed5", "cju76l27oyrw907551ri2a7fl"]
    try linkSubset(of: clinic, stems: ["1", "2", "3"], to: folder.appendingPathComponent("clinic"))
    try linkSubset(of: kvasir, stems: kvasirStems, to: folder.appendingPathComponent("kvasir"))
    let generated = folder.appendingPathComponent("gen")
    try writeGeneratedDataset(at: generated, count: 3, prefix: "g")
    let run = folder.appendingPathComponent("run").path
    let environment = ["HSPSAM_CACHE": folder.appendingPathComponent("cache").path]
    // 2 training + 1 validation image per dataset; gen drawn twice per epoch: 2*2 + 2 + 2 = 8 draws = 4 steps of 2.
    let trained = try runHSPSAM(["train", "--config", #"{"batchSize": 2, "epochs": 1, "cachedVariants": 1, "model": {"promptsPerLevel": 1}}"#,
                                 "--data", generated.path, "--data", "Clinic=" + folder.appendingPathComponent("clinic").path,
                                 "--data", "Kvasir=" + folder.appendingPathComponent("kvasir").path, "--weight", "gen=2",
                                 "--val-fraction", "0.34", "--out", run], environment: environment)
    XCTAssertEqual(trained.status, 0, trained.stderr)
    XCTAssertTrue(trained.stdout.contains("trained 4 steps"), trained.stdout)
    let log = try String(contentsOfFile: run + "/log.jsonl", encoding: .utf8)
    for name in ["gen", "Clinic", "Kvasir"] { XCTAssertTrue(log.contains("\"validationDice.\(name)\""), log) }

    let report = folder.appendingPathComponent("report").path
    let evaluated = try runHSPSAM(["evaluate", "--checkpoint", run, "--data", "Clinic=" + folder.appendingPathComponent("clinic").path,
                                   "--data", "Kvasir=" + folder.appendingPathComponent("kvasir").path, "--format", "csv",
                                   "--report", report, "--cases", "1"])
    XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
    let lines = evaluated.stdout.split(separator: "\n")
    XCTAssertEqual(lines.count, 3, evaluated.stdout)
    XCTAssertTrue(lines[1].hasPrefix("Clinic,") && lines[1].hasSuffix(",3,0"), String(lines[1]))
    XCTAssertTrue(lines[2].hasPrefix("Kvasir,") && lines[2].hasSuffix(",3,0"), String(lines[2]))
    for file in ["index.html", "summary.json", "Clinic_cases.png", "Kvasir_cases.png"] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: report + "/" + file), file)
    }

    // Errors name what is wrong, and nothing is written.
    let missingSplit = try runHSPSAM(["train", "--data", generated.path, "--data", folder.appendingPathComponent("clinic").path,
                                      "--split", "train.txt", "--out", folder.appendingPathComponent("r2").path], environment: environment)
    XCTAssertNotEqual(missingSplit.status, 0)
    XCTAssertTrue(missingSplit.stderr.contains("gen/train.txt"), missingSplit.stderr)
    try FileManager.default.removeItem(at: folder.appendingPathComponent("clinic/masks/2.tif"))
    let missingMask = try runHSPSAM(["evaluate", "--checkpoint", run, "--data", folder.appendingPathComponent("clinic").path])
    XCTAssertNotEqual(missingMask.status, 0)
    XCTAssertTrue(missingMask.stderr.contains("2.tif") && missingMask.stderr.contains("no mask"), missingMask.stderr)
    let badWeight = try runHSPSAM(["train", "--data", generated.path, "--weight", "other=2", "--out", folder.appendingPathComponent("r3").path])
    XCTAssertTrue(badWeight.stderr.contains("no --data is named other"), badWeight.stderr)
    // A mask of another size than its image: named from the headers before the model loads or a copy is cached.
    try ImageIO.writePNG([UInt8](repeating: 0, count: 100), width: 10, height: 10, channels: 1, to: generated.path + "/masks/g2.png")
    let badMask = try runHSPSAM(["train", "--data", generated.path, "--out", folder.appendingPathComponent("r4").path], environment: environment)
    XCTAssertNotEqual(badMask.status, 0)
    XCTAssertEqual(badMask.stderr, "Error: \(generated.path)/masks/g2.png: mask is 10x10, image is 40x30\n")
    for name in ["r2", "r3", "r4"] { XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path), name) }
  }
}

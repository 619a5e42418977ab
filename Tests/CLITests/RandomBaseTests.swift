import Foundation
import TestSupport
import XCTest

/// `--base-checkpoint random`: seeded random base weights, for checks of the arithmetic where the real weights are
/// not at hand (a GPU machine, quick tests); the base is rebuilt alike for prediction, and nothing else accepts it.
final class RandomBaseTests: XCTestCase {
  func testARunOnARandomBaseTrainsAndPredictsOnlyWithIt() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data")
    try writeGeneratedDataset(at: data, count: 3, prefix: "r")
    let run = folder.appendingPathComponent("run").path
    let train = try runHSPSAM(["train", "--config", #"{"batchSize": 2, "cachedVariants": 1, "model": {"promptsPerLevel": 1}}"#,
                               "--base-checkpoint", "random", "--data", data.path, "--val-fraction", "0", "--max-steps", "1",
                               "--out", run], environment: ["HSPSAM_CACHE": folder.appendingPathComponent("cache").path])
    XCTAssertEqual(train.status, 0, train.stderr)
    let predicted = try runHSPSAM(["predict", "--checkpoint", run, "--base-checkpoint", "random", data.appendingPathComponent("images").path,
                                   "--output", folder.appendingPathComponent("masks").path])
    XCTAssertEqual(predicted.status, 0, predicted.stderr)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("masks").path).count, 3)
    guard FileManager.default.fileExists(atPath: Fixtures.liteMedSAMWeights) else { return }
    let refused = try runHSPSAM(["predict", "--checkpoint", run, data.appendingPathComponent("images").path,
                                 "--output", folder.appendingPathComponent("other").path])
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.stderr.contains("was trained on random"), refused.stderr)
  }
}

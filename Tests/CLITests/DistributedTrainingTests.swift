import Data
import Foundation
import Tensor
import TestSupport
import Training
import XCTest

/// `hspsam train --nproc-per-node 2`: two processes on libtorch's c10d (Gloo over 127.0.0.1).
final class DistributedTrainingTests: XCTestCase {
  let config = #"{"batchSize": 1, "cachedVariants": 1, "model": {"promptsPerLevel": 1}}"#

  /// A launch environment that cannot be right is named in one line before anything is read or written.
  func testABadLaunchEnvironmentIsNamedInOneLine() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let run = folder.appendingPathComponent("run")
    for (environment, message) in [(["WORLD_SIZE": "2"], "Error: RANK is not set, though WORLD_SIZE is"),
                                   (["WORLD_SIZE": "2", "RANK": "2"], "Error: RANK must be a whole number in 0...1, not '2'"),
                                   (["WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "one"],
                                    "Error: LOCAL_RANK must be a whole number in 0...1, not 'one'")] {
      let result = try runHSPSAM(["train", "--data", folder.path, "--out", run.path], environment: environment)
      XCTAssertNotEqual(result.status, 0)
      XCTAssertEqual(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines), message)
      XCTAssertFalse(FileManager.default.fileExists(atPath: run.path), "nothing written")
    }
  }

  /// Two ranks with batch 1 take the steps of one process with batch 2 (each rank every other sample of the
  /// same seeded order; gradients averaged), so the trained tensors agree; a run saved by two resumes in one.
  func testTwoProcessesTrainAsOneWithTheGlobalBatchAndResumeInOne() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data")
    try writeGeneratedDataset(at: data, count: 5, prefix: "d")  // 4 to train on, 1 to validate
    let common = ["--data", data.path, "--val-fraction", "0.2", "--max-steps", "2"]
    let two = try runHSPSAM(["train", "--config", config, "--nproc-per-node", "2", "--out", folder.appendingPathComponent("two").path] + common,
                            environment: ["HSPSAM_CACHE": folder.appendingPathComponent("cache-two").path])
    XCTAssertEqual(two.status, 0, two.stderr)
    let one = try runHSPSAM(["train", "--config", #"{"batchSize": 2, "cachedVariants": 1, "model": {"promptsPerLevel": 1}}"#,
                             "--threads", "2", "--out", folder.appendingPathComponent("one").path] + common,
                            environment: ["HSPSAM_CACHE": folder.appendingPathComponent("cache-one").path])
    XCTAssertEqual(one.status, 0, one.stderr)
    let a = try RunCheckpoint.read(folder.appendingPathComponent("two/last.safetensors").path)
    let b = try RunCheckpoint.read(folder.appendingPathComponent("one/last.safetensors").path)
    XCTAssertEqual(a.metadata.step, 2)
    XCTAssertEqual(a.metadata.worldSize, 2)
    XCTAssertEqual(Set(a.model.keys), Set(b.model.keys))
    var largest = 0.0, total = 0.0, count = 0
    for (name, value) in b.model {
      let difference = try (XCTUnwrap(a.model[name]) - value).abs()
      largest = max(largest, try difference.max().item())
      total += try difference.sum().item()
      count += value.count
    }
    // Two AdamW steps at the configuration's rate (5e-4) move a weight by up to ~1e-3 (Adam's step is about the
    // rate whatever the gradient's size). The all-reduce sums in another order than one process's batch, and where
    // a gradient is tiny Adam magnifies that float32 noise: measured 3.0e-5 at most, 1.6e-9 on average.
    XCTAssertLessThan(largest, 1e-4, "largest difference between the two runs' trained tensors")
    XCTAssertLessThan(total / Double(count), 1e-7, "mean difference between the two runs' trained tensors")

    // The two-process run, saved after step 2 of its 2-step epochs, goes on in one process (4-step epochs):
    // the position in the epoch is its images taken, so the one process continues at step 4, the start of epoch 2.
    let resumed = try runHSPSAM(["train", "--resume", "--out", folder.appendingPathComponent("two").path, "--data", data.path,
                                 "--val-fraction", "0.2", "--max-steps", "5"],
                                environment: ["HSPSAM_CACHE": folder.appendingPathComponent("cache-two").path])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertTrue(resumed.stderr.contains("resuming at epoch 2, step 4 (saved by 2 process(es) at step 2, continued by 1)"), resumed.stderr)
    let after = try RunCheckpoint.read(folder.appendingPathComponent("two/last.safetensors").path).metadata
    XCTAssertEqual(after.step, 5)
    XCTAssertNil(after.worldSize)
  }

  /// A rank killed mid-run ends the whole run promptly, with one line naming it, instead of a hang.
  func testAKilledRankStopsTheRunWithOneLineNamingIt() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data")
    try writeGeneratedDataset(at: data, count: 5, prefix: "k")
    let started = Date()
    let run = try runAndSignal(["train", "--config", config, "--nproc-per-node", "2", "--epochs", "500", "--data", data.path,
                                "--val-fraction", "0.2", "--out", folder.appendingPathComponent("run").path],
                               after: " step 2/", environment: ["HSPSAM_CACHE": folder.appendingPathComponent("cache").path],
                               signal: 0, killChild: (rank: 1, signal: SIGKILL))
    XCTAssertNotEqual(run.status, 0, run.stderr)
    let lastLine = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
    XCTAssertEqual(lastLine, "Error: rank 1 of 2 was killed by signal 9 first; the run stopped", run.stderr)
    XCTAssertLessThan(Date().timeIntervalSince(started), 120, "stopped within the collectives' timeout, not hung")
  }
}

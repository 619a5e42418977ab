import Foundation
import TestSupport
import Training
import XCTest

/// `hspsam train` stopped by SIGTERM, the way `kill`, `timeout` or a batch scheduler's pre-emption stops a job.
final class TrainSignalTests: XCTestCase {
  /// The run saves `last` after the step under way, exits non-zero (not killed by the signal) with one line that
  /// names the step and `--resume`, and `--resume` continues from that step.
  func testSIGTERMSavesTheRunAndResumeContinues() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data")
    try writeGeneratedDataset(at: data, count: 3, prefix: "t")
    let run = folder.appendingPathComponent("run").path
    let cache = ["HSPSAM_CACHE": folder.appendingPathComponent("cache").path]

    // 500 epochs of one step each: far more than runs before the signal arrives.
    let process = Process()
    process.executableURL = hspsamExecutable
    process.arguments = ["train", "--config", #"{"batchSize": 2, "cachedVariants": 1, "model": {"promptsPerLevel": 1}}"#,
                         "--data", data.path, "--out", run, "--epochs", "500", "--val-fraction", "0.3"]
    process.environment = ProcessInfo.processInfo.environment.merging(cache) { _, new in new }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // The progress line of step 1 comes after the handlers are installed; signal the run while it trains.
    var stderr = Data()
    while !String(decoding: stderr, as: UTF8.self).contains(" step 1/") {
      let chunk = err.fileHandleForReading.availableData
      if chunk.isEmpty { break }  // the process ended before its first step: the assertions below say how
      stderr.append(chunk)
    }
    process.terminate()
    stderr.append(err.fileHandleForReading.readDataToEndOfFile())
    _ = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: stderr, as: UTF8.self)
    XCTAssertEqual(process.terminationReason, .exit, "the signal is handled, not fatal: \(text)")
    XCTAssertNotEqual(process.terminationStatus, 0, text)
    let lastLine = text.split(separator: "\n").last.map(String.init) ?? ""
    XCTAssertTrue(lastLine.contains("interrupted by SIGTERM at step") && lastLine.contains("--resume"), lastLine)

    let saved = try RunCheckpoint.read(run + "/last.safetensors").metadata
    XCTAssertGreaterThanOrEqual(saved.step, 1, "saved after at least the step whose progress line was read")
    XCTAssertTrue(lastLine.contains("at step \(saved.step):"), "the line names the saved step \(saved.step): \(lastLine)")
    let resumed = try runHSPSAM(["train", "--resume", "--data", data.path, "--out", run, "--val-fraction", "0.3",
                                 "--max-steps", String(saved.step + 1)], environment: cache)
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertTrue(resumed.stderr.contains("resuming at epoch \(saved.epoch + 1), step \(saved.step)"), resumed.stderr)
    XCTAssertEqual(try RunCheckpoint.read(run + "/last.safetensors").metadata.step, saved.step + 1, "one more step, from the saved one")
  }
}

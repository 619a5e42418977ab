import Data
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

    // 500 epochs of one step each: far more than runs before the signal arrives. The progress line of step 1 comes
    // after the handlers are installed; the run is signalled while it trains.
    let train = try runAndSignal(["train", "--config", #"{"batchSize": 2, "cachedVariants": 1, "model": {"promptsPerLevel": 1}}"#,
                                  "--data", data.path, "--out", run, "--epochs", "500", "--val-fraction", "0.3"],
                                 after: " step 1/", environment: cache)
    let text = train.stderr
    XCTAssertEqual(train.reason, .exit, "the signal is handled, not fatal: \(text)")
    XCTAssertNotEqual(train.status, 0, text)
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

/// Ctrl-C during the prefix cache, in a run started with SIGINT ignored (as a shell starts a background job):
/// the run stops after the batch under way with one line saying how many copies are kept and that the same command
/// goes on from them; running it again computes only the rest.
final class CacheSignalTests: XCTestCase {
  func testSIGINTDuringThePrefixCacheKeepsTheCopiesDone() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data")
    try writeGeneratedDataset(at: data, count: 12, prefix: "c")
    let cacheFolder = folder.appendingPathComponent("cache")
    let arguments = ["train", "--config", #"{"batchSize": 2, "cachedVariants": 2, "model": {"promptsPerLevel": 1}}"#,
                     "--data", data.path, "--out", folder.appendingPathComponent("run").path, "--max-steps", "1",
                     "--val-fraction", "0.2"]
    let quoted = arguments.map { "'" + $0 + "'" }.joined(separator: " ")
    let stopped = try runAndSignal(["-c", "trap '' INT; exec '\(hspsamExecutable.path)' \(quoted)"], after: "prefix 8/",
                                   environment: ["HSPSAM_CACHE": cacheFolder.path], signal: SIGINT, executable: URL(fileURLWithPath: "/bin/sh"))
    XCTAssertEqual(stopped.reason, .exit, stopped.stderr)
    XCTAssertNotEqual(stopped.status, 0, stopped.stderr)
    let lastLine = stopped.stderr.split(separator: "\n").last.map(String.init) ?? ""
    let kept = try XCTUnwrap(lastLine.firstMatch(of: /interrupted by SIGINT during the prefix cache: the (\d+) of 20 copies computed so far are kept under .*, so the same run goes on from them/),
                             lastLine).1
    let files = try FileManager.default.subpathsOfDirectory(atPath: cacheFolder.path).filter { $0.hasSuffix(".safetensors") }
    XCTAssertEqual(files.count, Int(kept), "every copy counted is in its file")
    XCTAssertLessThan(files.count, 20, "stopped before the end")
    let again = try runHSPSAM(arguments, environment: ["HSPSAM_CACHE": cacheFolder.path])
    XCTAssertEqual(again.status, 0, again.stderr)
  }
}

/// `hspsam evaluate` and `predict` stopped by SIGTERM (or Ctrl-C) part-way: each finishes the image under way and
/// exits non-zero with one line saying how far it got.
final class EvaluatePredictSignalTests: XCTestCase {
  /// `evaluate` prints the table of the images done; the summary file, which would replace a complete one, is not
  /// written.
  func testSIGTERMReportsTheImagesDone() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("bars")
    try writeGeneratedDataset(at: data, count: 12, prefix: "e")
    let summary = folder.appendingPathComponent("summary.json").path
    let run = try runAndSignal(["evaluate", "--data", data.path, "--summary", summary, "--format", "csv"], after: "bars: 1/12")
    XCTAssertEqual(run.reason, .exit, "the signal is handled, not fatal: \(run.stderr)")
    XCTAssertNotEqual(run.status, 0, run.stderr)
    let lastLine = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
    let done = try XCTUnwrap(lastLine.firstMatch(of: /interrupted by SIGTERM after (\d+) of 12 images of bars/).flatMap { Int($0.1) },
                             lastLine)
    XCTAssertTrue((1..<12).contains(done), "stopped part-way: \(lastLine)")
    XCTAssertTrue(lastLine.hasSuffix("not written: --summary \(summary)"), lastLine)
    // The CSV row counts the images done.
    let lines = run.stdout.split(separator: "\n")
    XCTAssertEqual(lines.count, 2, run.stdout)
    let header = lines[0].split(separator: ","), row = lines[1].split(separator: ",")
    let countColumn = try XCTUnwrap(header.firstIndex(of: "count"), run.stdout)
    XCTAssertEqual(Int(row[countColumn]), done, run.stdout)
    XCTAssertFalse(FileManager.default.fileExists(atPath: summary))
  }

  /// `predict` the same way: the masks of the images done are complete and stay; the line says how many.
  func testSIGTERMKeepsThePredictionsDone() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("bars")
    try writeGeneratedDataset(at: data, count: 12, prefix: "p")
    let output = folder.appendingPathComponent("out").path
    let run = try runAndSignal(["predict", data.appendingPathComponent("images").path, "--output", output], after: "1/12")
    XCTAssertEqual(run.reason, .exit, "the signal is handled, not fatal: \(run.stderr)")
    XCTAssertNotEqual(run.status, 0, run.stderr)
    let lastLine = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
    let done = try XCTUnwrap(lastLine.firstMatch(of: /interrupted by SIGTERM after (\d+) of 12 images: their masks are in/)
      .flatMap { Int($0.1) }, lastLine)
    XCTAssertTrue((1..<12).contains(done), "stopped part-way: \(lastLine)")
    let masks = try FileManager.default.contentsOfDirectory(atPath: output).filter { $0.hasSuffix(".png") }
    XCTAssertEqual(masks.count, done, "one mask per image done: \(masks)")
    for mask in masks { XCTAssertEqual(try ImageIO.read(output + "/" + mask).width, 40, "\(mask) is whole") }
  }
}

/// Runs hspsam (or `executable`), sends `signal` once `marker` is on its stderr (0: none), and returns how it ended.
/// `killChild`: a rank of `--nproc-per-node` (the launcher's child started as that rank) to send a signal instead.
func runAndSignal(_ arguments: [String], after marker: String, environment: [String: String] = [:], signal: Int32 = SIGTERM,
                  executable: URL = hspsamExecutable, killChild: (rank: Int, signal: Int32)? = nil) throws
  -> (status: Int32, reason: Process.TerminationReason, stdout: String, stderr: String)
{
  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
  let out = Pipe(), err = Pipe()
  process.standardOutput = out
  process.standardError = err
  try process.run()
  var stderr = Data()
  while !String(decoding: stderr, as: UTF8.self).contains(marker) {
    let chunk = err.fileHandleForReading.availableData
    if chunk.isEmpty { break }  // ended before the marker: the caller's assertions say how
    stderr.append(chunk)
  }
  if signal != 0 { kill(process.processIdentifier, signal) }
  if let killChild, let child = childProcess(of: process.processIdentifier, rank: killChild.rank) { kill(child, killChild.signal) }
  stderr.append(err.fileHandleForReading.readDataToEndOfFile())
  let stdout = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, process.terminationReason, String(decoding: stdout, as: UTF8.self),
          String(decoding: stderr, as: UTF8.self))
}

/// The child of `parent` whose environment has RANK=`rank` (from /proc), if any.
func childProcess(of parent: Int32, rank: Int) -> Int32? {
  let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
  for entry in entries {
    guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { continue }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 2, Int32(fields[1]) == parent,
          let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
    if environment.split(separator: 0).contains(where: { String(decoding: $0, as: UTF8.self) == "RANK=\(rank)" }) { return pid }
  }
  return nil
}

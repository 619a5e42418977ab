import Data
import Foundation
import Models
import Tensor
import TestSupport
import Training
import XCTest

/// `hspsam train` then `hspsam predict` as a user runs them, on generated images, for one optimiser step.
final class TrainPredictCommandTests: XCTestCase {
  func testTrainThenPredictAndErrors() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data")
    try writeGeneratedDataset(at: data, count: 3, prefix: "s", suffix: ".jpg")  // stems with a dot: s0.jpg
    let config = folder.appendingPathComponent("config.json")
    try Data(#"{"batchSize": 2, "cachedVariants": 1, "model": {"promptsPerLevel": 1}}"#.utf8).write(to: config)
    let run = folder.appendingPathComponent("run").path
    let cache = ["HSPSAM_CACHE": folder.appendingPathComponent("cache").path]
    let trained = try runHSPSAM(["train", "--config", config.path, "--data", data.path, "--out", run, "--max-steps", "1",
                                 "--val-fraction", "0.3"], environment: cache)
    XCTAssertEqual(trained.status, 0, trained.stderr)
    XCTAssertTrue(trained.stdout.contains("trained 1 steps"), trained.stdout)
    XCTAssertTrue(trained.stdout.contains("not validated yet"), "one step ends before the first validation: \(trained.stdout)")
    for file in ["config.json", "best.safetensors", "last.safetensors", "log.jsonl"] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/" + file), file)
    }
    XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("cache/prefix").path), "HSPSAM_CACHE is used")
    let again = try runHSPSAM(["train", "--config", config.path, "--data", data.path, "--out", run, "--max-steps", "1"],
                              environment: cache)
    XCTAssertNotEqual(again.status, 0)
    XCTAssertTrue(again.stderr.contains("already holds a run"), again.stderr)

    // --init without --config takes the checkpoint's own configuration (promptsPerLevel 1 here); with another
    // "model" section it is refused before anything is written; with --resume it is refused.
    let tuned = folder.appendingPathComponent("tuned").path
    // One epoch (2 training images, batch 2: one step) ends with a validation, kept by --keep-checkpoints.
    let fineTuned = try runHSPSAM(["train", "--init", run, "--data", data.path, "--out", tuned, "--epochs", "1",
                                   "--val-fraction", "0.3", "--keep-checkpoints"], environment: cache)
    XCTAssertEqual(fineTuned.status, 0, fineTuned.stderr)
    XCTAssertTrue(FileManager.default.fileExists(atPath: tuned + "/epoch-1.safetensors"), "--keep-checkpoints keeps epoch 1")
    XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: run).contains { $0.hasPrefix("epoch-") }, "kept only when asked")
    XCTAssertTrue(fineTuned.stderr.contains("starting from the weights of \(run)/best.safetensors"), fineTuned.stderr)
    XCTAssertTrue(try String(contentsOfFile: tuned + "/config.json", encoding: .utf8).contains(#""promptsPerLevel" : 1"#))
    let otherModel = try runHSPSAM(["train", "--init", run, "--config", #"{"model": {"promptsPerLevel": 2}}"#, "--data", data.path,
                                    "--out", folder.appendingPathComponent("other").path, "--max-steps", "1"], environment: cache)
    XCTAssertNotEqual(otherModel.status, 0)
    XCTAssertTrue(otherModel.stderr.contains("configuration differs"), otherModel.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("other").path))
    let both = try runHSPSAM(["train", "--init", run, "--resume", "--data", data.path, "--out", tuned], environment: cache)
    XCTAssertNotEqual(both.status, 0)
    XCTAssertTrue(both.stderr.contains("--init and --resume together"), both.stderr)

    let output = folder.appendingPathComponent("pred").path
    let predicted = try runHSPSAM(["predict", "--checkpoint", run, data.appendingPathComponent("images").path,
                                   "--output", output, "--overlay", "--prob"])
    XCTAssertEqual(predicted.status, 0, predicted.stderr)
    let mask = try ImageIO.read(output + "/s0.jpg.png")
    XCTAssertEqual([mask.width, mask.height, mask.channels], [40, 30, 1])
    XCTAssertEqual(Set(mask.samples).subtracting([0, 255]), [])
    XCTAssertTrue(FileManager.default.fileExists(atPath: output + "/s0.jpg_overlay.png"))
    XCTAssertTrue(FileManager.default.fileExists(atPath: output + "/s0.jpg_prob.png"))

    let summary = folder.appendingPathComponent("summary.json").path
    let evaluated = try runHSPSAM(["evaluate", "--checkpoint", run, "--data", "gen=" + data.path, "--format", "csv",
                                   "--summary", summary, "--save-pred", folder.appendingPathComponent("maps").path])
    XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
    XCTAssertTrue(evaluated.stdout.hasPrefix("dataset,mDice"), evaluated.stdout)
    XCTAssertTrue(evaluated.stdout.contains("\ngen,"), evaluated.stdout)
    let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as? [String: Any])
    XCTAssertEqual((document["means"] as? [[String: Any]])?.first?["count"] as? Double, 3)
    XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("maps/gen/s1.jpg.png").path))
    let refinedRun = try runHSPSAM(["evaluate", "--checkpoint", run, "--data", "gen=" + data.path, "--format", "json",
                                    "--box-refine"])
    XCTAssertEqual(refinedRun.status, 0, refinedRun.stderr)
    XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(refinedRun.stdout.utf8)) as? [String: Any])?["count"] as? Double, 3,
                   refinedRun.stdout)

    let wrong = try runHSPSAM(["predict", "--checkpoint", Fixtures.liteMedSAMWeights,
                               data.appendingPathComponent("images").path, "--output", output])
    XCTAssertNotEqual(wrong.status, 0)
    XCTAssertTrue(wrong.stderr.contains("not an hspsam checkpoint"), wrong.stderr)
    // export: trained tensors only, float16, refuses to overwrite; the copy predicts like the run.
    let exported = folder.appendingPathComponent("small.safetensors").path
    let export = try runHSPSAM(["export", "--checkpoint", run, "--output", exported])
    XCTAssertEqual(export.status, 0, export.stderr)
    XCTAssertTrue(export.stdout.contains("float16"), export.stdout)
    let before = try Data(contentsOf: URL(fileURLWithPath: exported))
    let again2 = try runHSPSAM(["export", "--checkpoint", run, "--output", exported])
    XCTAssertNotEqual(again2.status, 0)
    XCTAssertTrue(again2.stderr.contains("exists: not overwritten"), again2.stderr)
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: exported)), before, "the existing file is untouched")
    let viaExport = try runHSPSAM(["predict", "--checkpoint", exported, data.appendingPathComponent("images/s0.jpg.png").path,
                                   "--output", folder.appendingPathComponent("pred-export").path])
    XCTAssertEqual(viaExport.status, 0, viaExport.stderr)
    let full = try ImageIO.read(output + "/s0.jpg.png").samples, half = try ImageIO.read(folder.appendingPathComponent("pred-export/s0.jpg.png").path).samples
    XCTAssertLessThanOrEqual(zip(full, half).filter { $0 != $1 }.count, 12, "float16 weights change at most a few mask pixels of 1200")
    let eightBit = folder.appendingPathComponent("int8.safetensors").path
    let export8 = try runHSPSAM(["export", "--checkpoint", run, "--output", eightBit, "--int8"])
    XCTAssertEqual(export8.status, 0, export8.stderr)
    XCTAssertTrue(export8.stdout.contains("(int8)"), export8.stdout)
    let via8 = try runHSPSAM(["predict", "--checkpoint", eightBit, data.appendingPathComponent("images/s0.jpg.png").path,
                              "--output", folder.appendingPathComponent("pred-int8").path])
    XCTAssertEqual(via8.status, 0, via8.stderr)

    // average: the run and its fine-tune (one model) make one checkpoint that predicts; the shipped model (4 prompts
    // per level, not 1) is refused naming it, and nothing is written.
    let soup = folder.appendingPathComponent("soup.safetensors").path
    let averaged = try runHSPSAM(["average", "--checkpoint", run, "--checkpoint", tuned + "/epoch-1.safetensors", "--output", soup])
    XCTAssertEqual(averaged.status, 0, averaged.stderr)
    let viaSoup = try runHSPSAM(["predict", "--checkpoint", soup, data.appendingPathComponent("images/s0.jpg.png").path,
                                 "--output", folder.appendingPathComponent("pred-soup").path])
    XCTAssertEqual(viaSoup.status, 0, viaSoup.stderr)
    XCTAssertEqual(try ImageIO.read(folder.appendingPathComponent("pred-soup/s0.jpg.png").path).width, 40)
    let shippedModel = Fixtures.repository.appendingPathComponent("models/hsp-clinicdb.safetensors").path
    let mixed = folder.appendingPathComponent("mixed.safetensors").path
    let refusedMix = try runHSPSAM(["average", "--checkpoint", run, "--checkpoint", shippedModel, "--output", mixed])
    XCTAssertNotEqual(refusedMix.status, 0)
    XCTAssertTrue(refusedMix.stderr.contains("\(shippedModel): another model"), refusedMix.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: mixed), "nothing written")

    // Without --checkpoint the shipped model (models/hsp-clinicdb.safetensors, in the repository) predicts.
    let builtin = folder.appendingPathComponent("builtin").path
    let shipped = try runHSPSAM(["predict", data.appendingPathComponent("images/s0.jpg.png").path, "--output", builtin])
    XCTAssertEqual(shipped.status, 0, shipped.stderr)
    XCTAssertEqual(try ImageIO.read(builtin + "/s0.jpg.png").width, 40)
    // --box-refine: the same model's objects boxed and decoded by LiteMedSAM; a 0/255 mask and a probability map.
    let refined = folder.appendingPathComponent("refined").path
    let boxed = try runHSPSAM(["predict", data.appendingPathComponent("images/s0.jpg.png").path, "--output", refined,
                               "--box-refine", "--box-padding", "0.05", "--prob"])
    XCTAssertEqual(boxed.status, 0, boxed.stderr)
    XCTAssertEqual(Set(try ImageIO.read(refined + "/s0.jpg.png").samples).subtracting([0, 255]), [])
    XCTAssertEqual(try ImageIO.read(refined + "/s0.jpg_prob.png").width, 40)
    let unknown = try runHSPSAM(["predict", "--checkpoint", "hsp-nothing", data.appendingPathComponent("images").path, "--output", output])
    XCTAssertTrue(unknown.stderr.contains("hsp-nothing: no such file or folder"), unknown.stderr)
    let badConfig = folder.appendingPathComponent("bad.json")
    try Data(#"{"epoch": 3}"#.utf8).write(to: badConfig)
    let refused = try runHSPSAM(["train", "--config", badConfig.path, "--data", data.path, "--out", folder.appendingPathComponent("r2").path])
    XCTAssertTrue(refused.stderr.contains("unknown key 'epoch'"), refused.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("r2").path), "nothing written")
    // Base weights that are not a checkpoint are found before the run folder is made; a run folder that cannot be
    // made (under a file) is named by its option.
    let notWeights = folder.appendingPathComponent("weights.pth").path
    try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: notWeights))
    let badBase = try runHSPSAM(["train", "--data", data.path, "--out", folder.appendingPathComponent("r3").path,
                                 "--base-checkpoint", notWeights], environment: cache)
    XCTAssertNotEqual(badBase.status, 0)
    XCTAssertTrue(badBase.stderr.hasPrefix("Error: \(notWeights): not a zip archive: expected a PyTorch checkpoint"), badBase.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("r3").path), "nothing written")
    let underFile = try runHSPSAM(["train", "--config", config.path, "--data", data.path, "--out", notWeights + "/run"],
                                  environment: cache)
    XCTAssertNotEqual(underFile.status, 0)
    XCTAssertEqual(underFile.stderr, "Error: --out \(notWeights)/run: cannot make the run folder (Not a directory)\n")
  }

  /// Before it loads a model or writes anything, `predict` refuses an `--output` that would overwrite an input
  /// image, and two inputs with one stem (the second mask would replace the first); each error names the files.
  func testPredictRefusesToOverwriteInputsOrItsOwnMasks() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (first, second) = (folder.appendingPathComponent("first"), folder.appendingPathComponent("second"))
    try writeGeneratedDataset(at: first, count: 1, prefix: "p")
    try writeGeneratedDataset(at: second, count: 1, prefix: "p")
    let images = first.appendingPathComponent("images").path
    let before = try Data(contentsOf: URL(fileURLWithPath: images + "/p0.png"))
    let intoInputs = try runHSPSAM(["predict", images, "--output", images])
    XCTAssertNotEqual(intoInputs.status, 0)
    XCTAssertTrue(intoInputs.stderr.contains("\(images)/p0.png would overwrite an input image"), intoInputs.stderr)
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: images + "/p0.png")), before, "the image is untouched")
    let output = folder.appendingPathComponent("out").path
    let sameStem = try runHSPSAM(["predict", images, second.appendingPathComponent("images/p0.png").path, "--output", output])
    XCTAssertNotEqual(sameStem.status, 0)
    XCTAssertTrue(sameStem.stderr.contains("\(images)/p0.png and \(second.path)/images/p0.png would both write \(output)/p0.png"),
                  sameStem.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: output), "nothing written")
    // An --output (or train's --out) that is a file, or lies under one, is refused naming the option.
    let file = folder.appendingPathComponent("file").path
    try Data("not a folder".utf8).write(to: URL(fileURLWithPath: file))
    for (arguments, message) in [(["predict", images, "--output", file], "--output \(file) is a file, not a folder"),
                                 (["predict", images, "--output", file + "/out"],
                                  "--output \(file)/out: cannot make the folder (Not a directory)"),
                                 (["train", "--data", first.path, "--out", file], "--out \(file) is a file, not a run folder")] {
      let refused = try runHSPSAM(arguments)
      XCTAssertNotEqual(refused.status, 0)
      XCTAssertTrue(refused.stderr.hasPrefix("Error: \(message)\n"), refused.stderr)
    }
    XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "not a folder", "the file is untouched")
  }

  /// One unreadable image in a folder costs only its own mask: `predict` names it and the reason at once, writes
  /// the other images' masks, and exits 1 with a line that counts and names the files it could not read.
  func testPredictSkipsUnreadableImagesAndNamesThem() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data")
    try writeGeneratedDataset(at: data, count: 2, prefix: "g")
    let images = data.appendingPathComponent("images")
    let (garbage, truncated) = (images.appendingPathComponent("a-garbage.png").path, images.appendingPathComponent("b-cut.png").path)
    try Data("not an image".utf8).write(to: URL(fileURLWithPath: garbage))
    try Data(contentsOf: images.appendingPathComponent("g0.png")).prefix(60).write(to: URL(fileURLWithPath: truncated))
    let output = folder.appendingPathComponent("out").path
    let result = try runHSPSAM(["predict", images.path, "--output", output])
    XCTAssertEqual(result.status, 1, result.stderr)
    XCTAssertTrue(result.stderr.contains("skipped \(garbage): not a JPEG, PNG or TIFF image\n"), result.stderr)
    XCTAssertTrue(result.stderr.contains("skipped \(truncated): "), result.stderr)
    XCTAssertTrue(result.stderr.hasSuffix("Error: 2 of 4 images could not be read and have no mask (reasons above): \(garbage), \(truncated)\n"),
                  result.stderr)
    XCTAssertTrue(result.stdout.hasPrefix("2 masks in \(output)"), result.stdout)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: output).sorted(), ["g0.png", "g1.png"])
    XCTAssertEqual(try ImageIO.read(output + "/g1.png").width, 40)
    // Nothing readable: no mask, and no empty --output folder left behind (an existing folder stays).
    let none = folder.appendingPathComponent("none").path
    let failed = try runHSPSAM(["predict", garbage, truncated, "--output", none])
    XCTAssertEqual(failed.status, 1, failed.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: none), "the folder predict made for nothing is removed")
    let existing = folder.appendingPathComponent("existing").path
    try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: false)
    XCTAssertEqual(try runHSPSAM(["predict", garbage, "--output", existing]).status, 1)
    XCTAssertTrue(FileManager.default.fileExists(atPath: existing), "a folder that existed before is the user's")
  }

  /// A 20000 x 20000 PNG (its header: the pixels are never needed) is refused before decoding with one line, the
  /// other image is predicted, and the whole process peaks well under the ~13 GB decoding it would take (GNU time's
  /// maximum resident set size of the child process).
  func testAHugeImageIsRefusedWithinAMemoryBound() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data")
    try writeGeneratedDataset(at: data, count: 1, prefix: "h")
    let huge = folder.appendingPathComponent("huge.png").path
    try ImageIO.writePNG([UInt8](repeating: 0, count: 16), width: 4, height: 4, channels: 1, to: huge)
    var png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: huge)))
    for (offset, value) in [(16, 20000), (20, 20000)] {  // IHDR width and height, big-endian
      for k in 0..<4 { png[offset + k] = UInt8((value >> (8 * (3 - k))) & 0xFF) }
    }
    let crc = crc32(png[12..<29])  // over the chunk type and data
    for k in 0..<4 { png[29 + k] = UInt8((crc >> (8 * (3 - k))) & 0xFF) }
    try Data(png).write(to: URL(fileURLWithPath: huge))
    XCTAssertEqual(try ImageIO.size(of: huge).width, 20000)
    let output = folder.appendingPathComponent("out").path
    let (status, stderr, peak) = try runWithPeakMemory(["predict", huge, data.appendingPathComponent("images/h0.png").path, "--output", output])
    XCTAssertEqual(status, 1, stderr)
    XCTAssertTrue(stderr.contains("skipped \(huge): 20000x20000 = 400,000,000 pixels, over the limit of 50,000,000 (--max-pixels raises it)"), stderr)
    XCTAssertTrue(FileManager.default.fileExists(atPath: output + "/h0.png"), "the other image is predicted")
    XCTAssertLessThan(peak, 2_000_000, "peak resident memory \(peak) KB")
  }

  /// Runs the binary under GNU time (Debian's `time`): exit status, stderr, and the child's peak resident memory (KB).
  func runWithPeakMemory(_ arguments: [String]) throws -> (status: Int32, stderr: String, peakKB: Int) {
    let time = "/usr/bin/time"
    guard FileManager.default.isExecutableFile(atPath: time) else { throw XCTSkip("GNU time (Debian's time) measures the child's peak memory") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: time)
    process.arguments = ["-f", "peak-kb %M", hspsamExecutable.path] + arguments
    let err = Pipe()
    process.standardError = err
    process.standardOutput = Pipe()
    try process.run()
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let peak = try XCTUnwrap(stderr.firstMatch(of: /peak-kb (\d+)/).flatMap { Int($0.1) }, stderr)
    return (process.terminationStatus, stderr, peak)
  }

  /// An image over `PromptFreePredictor.largeImagePixels` (a 4200 x 4000 frame, PNG) is read reduced and its masks
  /// written at full size row by row: the mask agrees with the full-size prediction made in-process (IoU > 0.98,
  /// the reduction moves the edge by a pixel or two), and the process peaks under the full-size path's memory.
  func testALargeImageIsPredictedReducedWithFullSizeMasks() throws {
    let weights = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (width, height) = (4200, 4000)
    // A bright disc on a dark gradient, as scripts/fixtures/make_huge_images.c draws (row by row: debug builds are slow).
    let (cx, cy, r) = (0.55 * Double(width), 0.45 * Double(height), 0.2 * Double(height))
    var rgb = [UInt8](); rgb.reserveCapacity(width * height * 3)
    let gradient: [UInt8] = (0..<width).flatMap { (x: Int) -> [UInt8] in [UInt8(60 + 100 * x / width), 0, 50] }
    for y in 0..<height {
      var row = gradient
      for x in 0..<width { row[3 * x + 1] = UInt8(40 + 60 * y / height) }
      let dy = Double(y) - cy
      if dy * dy < r * r {
        let half = (r * r - dy * dy).squareRoot()
        for x in max(0, Int((cx - half).rounded(.up)))...min(width - 1, Int((cx + half).rounded(.down))) {
          row[3 * x] = 220; row[3 * x + 1] = 120; row[3 * x + 2] = 90
        }
      }
      rgb += row
    }
    let large = folder.appendingPathComponent("large.png").path
    try ImageIO.writePNG(rgb, width: width, height: height, channels: 3, to: large)
    XCTAssertEqual(PromptFreePredictor.readingFactor(width: width, height: height), 3)
    let output = folder.appendingPathComponent("out").path
    let (status, stderr, peak) = try runWithPeakMemory(["predict", large, "--output", output, "--prob"])
    XCTAssertEqual(status, 0, stderr)
    let mask = try ImageIO.read(output + "/large.png"), probability = try ImageIO.read(output + "/large_prob.png")
    XCTAssertEqual([mask.width, mask.height, probability.width, probability.height], [width, height, width, height])
    XCTAssertLessThan(peak, 800_000, "peak resident memory \(peak) KB")

    let shipped = Fixtures.repository.appendingPathComponent("models/hsp-clinicdb.safetensors").path
    let predictor = try PromptFreePredictor(checkpoint: shipped, baseCheckpoint: weights)
    let full = try predictor.segment(Image(width: width, height: height, channels: 3, bytes: rgb))
    // The probability maps agree pixel by pixel (8-bit, 255 x p) and so do the masks: a pixel or two moves at the
    // edge of whatever the model outlines (with the shipped model, the disc).
    var differences = 0.0, disagreeing = 0, both = 0, either = 0
    for i in 0..<(width * height) {
      differences += Swift.abs(Double(ModelEvaluation.eightBit(full.foreground[i])) - Double(probability.samples[i]))
      let (a, b) = (full.classes[i] == 1, mask.samples[i] > 127)
      if a != b { disagreeing += 1 }
      if a || b { either += 1 }
      if a && b { both += 1 }
    }
    let meanDifference = differences / Double(width * height), iou = either == 0 ? 1 : Double(both) / Double(either)
    print("large image: peak \(peak) KB, mean probability difference \(meanDifference) / 255, mask IoU \(iou) over \(either) pixels")
    XCTAssertLessThan(meanDifference, 1.0, "mean difference of the 8-bit probability maps")
    XCTAssertLessThan(Double(disagreeing) / Double(width * height), 0.002, "pixels whose mask differs")
  }

  /// A checkpoint write killed half-way (kill -9) leaves its hidden temporary; the next run in that folder removes
  /// it and says so, and a temporary of a process still running is left alone.
  func testStaleTemporariesAreRemoved() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let stale = folder.appendingPathComponent(".last.safetensors.tmp-999999999")
    let live = folder.appendingPathComponent(".best.safetensors.tmp-\(getpid())")
    for file in [stale, live] { try Data(count: 1000).write(to: file) }
    XCTAssertEqual(TemporaryFiles.removeStale(in: folder), [".last.safetensors.tmp-999999999"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path))
    XCTAssertTrue(FileManager.default.fileExists(atPath: live.path), "this process is alive")
  }

  /// `train --skip-invalid`: a pair that is not an image (found by the header check) and one whose mask is cut short
  /// after its header (found only by decoding) are named, counted, listed in the run folder and left out; the run
  /// trains on the rest. Without the flag the first bad file stops it before anything is written.
  func testTrainSkipInvalidLeavesUnreadablePairsOut() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data")
    try writeGeneratedDataset(at: data, count: 4, prefix: "s")
    let (garbage, cut) = (data.path + "/images/s1.png", data.path + "/masks/s2.png")
    try Data("not an image".utf8).write(to: URL(fileURLWithPath: garbage))
    try Data(contentsOf: URL(fileURLWithPath: cut)).prefix(60).write(to: URL(fileURLWithPath: cut))
    let config = #"{"batchSize": 2, "cachedVariants": 1, "model": {"promptsPerLevel": 1}}"#
    let cache = ["HSPSAM_CACHE": folder.appendingPathComponent("cache").path]
    let strictRun = folder.appendingPathComponent("strict").path
    let strict = try runHSPSAM(["train", "--config", config, "--data", data.path, "--out", strictRun, "--max-steps", "1"],
                               environment: cache)
    XCTAssertNotEqual(strict.status, 0)
    XCTAssertTrue(strict.stderr.hasSuffix("Error: \(garbage): not a JPEG, PNG or TIFF image\n"), strict.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: strictRun), "nothing written")

    let run = folder.appendingPathComponent("run").path
    let trained = try runHSPSAM(["train", "--config", config, "--data", data.path, "--out", run, "--max-steps", "1",
                                 "--val-fraction", "0", "--skip-invalid"], environment: cache)
    XCTAssertEqual(trained.status, 0, trained.stderr)
    XCTAssertTrue(trained.stderr.contains("skipped \(garbage): not a JPEG, PNG or TIFF image\n"), trained.stderr)
    XCTAssertTrue(trained.stderr.contains("skipped \(cut): "), trained.stderr)
    XCTAssertTrue(trained.stderr.contains("data: 2 of 4 image/mask pairs left out (--skip-invalid; named above)\n"), trained.stderr)
    XCTAssertTrue(trained.stderr.contains("caching the frozen encoder prefix of data: 2 images"), trained.stderr)
    XCTAssertTrue(trained.stdout.contains("trained 1 steps"), trained.stdout)
    let listed = try String(contentsOfFile: run + "/skipped.txt", encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(listed.map { String($0.prefix { $0 != ":" }) }, [garbage, cut])

    // Nothing readable is an error that names the dataset, not a run on no data.
    for stem in ["s0", "s3"] { try Data("x".utf8).write(to: URL(fileURLWithPath: data.path + "/images/\(stem).png")) }
    let none = try runHSPSAM(["train", "--config", config, "--data", data.path, "--out", folder.appendingPathComponent("none").path,
                              "--skip-invalid"], environment: cache)
    XCTAssertNotEqual(none.status, 0)
    XCTAssertTrue(none.stderr.hasSuffix("Error: data: none of its 4 image/mask pairs can be read (reasons above)\n"), none.stderr)
  }

  /// The trained baselines (docs/model.md 5) through the same commands: `--config` twice (the second replaces the
  /// model section), one step, then a prompt-free prediction at the input size.
  func testBaselineArchitecturesTrainAndPredict() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data")
    try writeGeneratedDataset(at: data, count: 3, prefix: "b")
    let cache = ["HSPSAM_CACHE": folder.appendingPathComponent("cache").path]
    let models = ["decoder-only": #"{"model": {"architecture": "decoder-only", "promptedLevels": [], "loraBlocks": "none"}}"#,
                  "positional": #"{"model": {"architecture": "positional", "promptedLevels": [], "loraBlocks": "none"}}"#,
                  // Also the paper code's square resize (the prediction is resized back to 40x30 all the same).
                  "single-level": #"{"resize": "square", "model": {"architecture": "single-level", "promptedLevels": [3], "promptsPerLevel": 1}}"#]
    for (name, model) in models.sorted(by: { $0.key < $1.key }) {
      let run = folder.appendingPathComponent("run-" + name).path
      let trained = try runHSPSAM(["train", "--config", #"{"batchSize": 2, "cachedVariants": 1}"#, "--config", model,
                                   "--data", data.path, "--out", run, "--max-steps", "1", "--val-fraction", "0.3"], environment: cache)
      XCTAssertEqual(trained.status, 0, name + ": " + trained.stderr)
      let saved = try String(contentsOfFile: run + "/config.json", encoding: .utf8)
      XCTAssertTrue(saved.contains(#""architecture" : "\#(name)""#) && saved.contains(#""batchSize" : 2"#), saved)
      let output = folder.appendingPathComponent("pred-" + name).path
      let predicted = try runHSPSAM(["predict", "--checkpoint", run, data.appendingPathComponent("images/b1.png").path, "--output", output])
      XCTAssertEqual(predicted.status, 0, name + ": " + predicted.stderr)
      let mask = try ImageIO.read(output + "/b1.png")
      XCTAssertEqual([mask.width, mask.height, mask.channels], [40, 30, 1], name)
    }
  }

  /// A model with two classes through the commands: label-value masks (`--masks labels:0,128,255`), one training
  /// step, a class-index prediction with its foreground map, an evaluation; a rule whose classes differ from the
  /// model's, an unknown --masks name and --box-refine are refused, each naming what is wrong.
  func testMultiClassMasksTrainPredictEvaluate() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("organs")
    for sub in ["images", "masks"] {
      try FileManager.default.createDirectory(at: data.appendingPathComponent(sub), withIntermediateDirectories: true)
    }
    for i in 0..<3 {  // class 1 (grey 128, red) on the left, class 2 (grey 255, green) on the right
      var rgb = [UInt8](repeating: 30, count: 40 * 30 * 3), mask = [UInt8](repeating: 0, count: 40 * 30)
      for y in (6 + i)..<20 {
        for x in 3..<15 { mask[y * 40 + x] = 128; rgb[(y * 40 + x) * 3] = 220 }
        for x in 22..<36 { mask[y * 40 + x] = 255; rgb[(y * 40 + x) * 3 + 1] = 220 }
      }
      try ImageIO.writePNG(rgb, width: 40, height: 30, channels: 3, to: data.appendingPathComponent("images/m\(i).png").path)
      try ImageIO.writePNG(mask, width: 40, height: 30, channels: 1, to: data.appendingPathComponent("masks/m\(i).png").path)
    }
    let cache = ["HSPSAM_CACHE": folder.appendingPathComponent("cache").path]
    let config = #"{"batchSize": 2, "cachedVariants": 1, "model": {"promptsPerLevel": 1, "numClasses": 2}}"#
    func train(_ extra: [String], out: String) throws -> (status: Int32, stdout: String, stderr: String) {
      try runHSPSAM(["train", "--config", config, "--data", data.path, "--out", folder.appendingPathComponent(out).path,
                     "--max-steps", "1", "--val-fraction", "0.3"] + extra, environment: cache)
    }
    let binaryRule = try train([], out: "binary")
    XCTAssertNotEqual(binaryRule.status, 0)
    XCTAssertTrue(binaryRule.stderr.contains("organs: mask rule threshold:127 gives 1 foreground class(es), the model has numClasses 2"),
                  binaryRule.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("binary").path), "nothing written")
    let unknownName = try train(["--masks", "other=labels:0,128,255"], out: "unknown")
    XCTAssertNotEqual(unknownName.status, 0)
    XCTAssertTrue(unknownName.stderr.contains("--masks other=...: no --data is named other (names: organs)"), unknownName.stderr)
    let badRule = try train(["--masks", "labels:0,128,300"], out: "bad")
    XCTAssertNotEqual(badRule.status, 0)
    XCTAssertTrue(badRule.stderr.contains("--masks labels:0,128,300: mask rule 'labels:0,128,300': '300' is not a grey value"),
                  badRule.stderr)

    let trained = try train(["--masks", "organs=labels:0,128,255"], out: "run")
    XCTAssertEqual(trained.status, 0, trained.stderr)
    XCTAssertTrue(trained.stderr.contains("validation images (mask rule labels:0,128,255)"), trained.stderr)
    let run = folder.appendingPathComponent("run").path
    let output = folder.appendingPathComponent("pred").path
    let predicted = try runHSPSAM(["predict", "--checkpoint", run, data.appendingPathComponent("images").path, "--output", output, "--prob"])
    XCTAssertEqual(predicted.status, 0, predicted.stderr)
    XCTAssertEqual(Set(try ImageIO.read(output + "/m0.png").samples).subtracting([0, 1, 2]), [], "class indices")
    let map = try ImageIO.read(output + "/m0_prob.png")
    XCTAssertEqual([map.width, map.height, map.channels], [40, 30, 1], "--prob writes 1 - p(background) for several classes")
    let refine = try runHSPSAM(["predict", "--checkpoint", run, data.appendingPathComponent("images").path,
                                "--output", folder.appendingPathComponent("refined").path, "--box-refine"])
    XCTAssertNotEqual(refine.status, 0)
    XCTAssertTrue(refine.stderr.contains("--box-refine needs a one-class model; this one has 2 classes"), refine.stderr)
    let evaluated = try runHSPSAM(["evaluate", "--checkpoint", run, "--data", data.path, "--masks", "labels:0,128,255", "--format", "json"])
    XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
    let row = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as? [String: Any], evaluated.stdout)
    XCTAssertEqual(row["count"] as? Double, 3, evaluated.stdout)
    for column in ["Dice.class1", "Dice.class2"] {  // per-class Dice of the class map (any value: one training step)
      let value = try XCTUnwrap(row[column] as? Double, "\(column) in \(evaluated.stdout)")
      XCTAssertTrue((0...1).contains(value), "\(column) \(value)")
    }
    // The built-in one-class model on the same rule: scored as any class, and said so.
    let oneClass = try runHSPSAM(["evaluate", "--data", data.path, "--masks", "labels:0,128,255", "--format", "csv"])
    XCTAssertEqual(oneClass.status, 0, oneClass.stderr)
    XCTAssertTrue(oneClass.stderr.contains("organs: the model's classes are not the 2 of labels:0,128,255: scored as any class"),
                  oneClass.stderr)
    XCTAssertFalse(oneClass.stdout.contains("Dice.class1"), oneClass.stdout)
    let twice = try runHSPSAM(["evaluate", "--data", data.path, "--masks", "organs=threshold:5", "--masks", "organs=threshold:6"])
    XCTAssertNotEqual(twice.status, 0)
    XCTAssertTrue(twice.stderr.contains("--masks: two rules for organs"), twice.stderr)
    // Grey 128 is not a label of this rule: the error names the mask file and the value.
    let wrongLabels = try runHSPSAM(["evaluate", "--checkpoint", run, "--data", data.path, "--masks", "labels:0,255"])
    XCTAssertNotEqual(wrongLabels.status, 0)
    XCTAssertTrue(wrongLabels.stderr.contains("masks/m0.png: mask value 128 is not one of the labels [0, 255]"), wrongLabels.stderr)
  }

  /// HSP-SAM on a SAM ViT-B backbone through the commands: random ViT-B weights saved as a float16 checkpoint made
  /// at 1024 (so loading at `inputSize` 256 resizes the positional tables), one training step, a prediction. The
  /// accuracy of this backbone is not measured here (no SAM weights on this machine; see the README).
  func testViTBackboneTrainsAndPredicts() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = folder.appendingPathComponent("data")
    try writeGeneratedDataset(at: data, count: 3, prefix: "v")
    let weights = folder.appendingPathComponent("sam_vit_b_random.safetensors").path
    try Torch.manualSeed(5)
    let sam = try ModelRegistry.build(.vitB)
    try Safetensors.write(try sam.stateDict().map { ($0.name, try $0.tensor.to(.float16)) }, to: weights)
    let run = folder.appendingPathComponent("run").path
    let config = #"{"batchSize": 1, "cachedVariants": 1, "model": {"backbone": "vit_b", "promptedLevels": [4], "promptsPerLevel": 1}}"#
    let missingBase = try runHSPSAM(["train", "--config", config, "--data", data.path, "--out", run, "--max-steps", "1"])
    XCTAssertNotEqual(missingBase.status, 0)
    XCTAssertTrue(missingBase.stderr.contains("--base-checkpoint"), missingBase.stderr)
    let trained = try runHSPSAM(["train", "--config", config, "--data", data.path, "--out", run, "--max-steps", "1",
                                 "--val-fraction", "0.3", "--base-checkpoint", weights],
                                environment: ["HSPSAM_CACHE": folder.appendingPathComponent("cache").path])
    XCTAssertEqual(trained.status, 0, trained.stderr)
    let output = folder.appendingPathComponent("pred").path
    let predicted = try runHSPSAM(["predict", "--checkpoint", run, "--base-checkpoint", weights,
                                   data.appendingPathComponent("images/v1.png").path, "--output", output])
    XCTAssertEqual(predicted.status, 0, predicted.stderr)
    let mask = try ImageIO.read(output + "/v1.png")
    XCTAssertEqual([mask.width, mask.height], [40, 30])
    let wrongBase = try runHSPSAM(["predict", "--checkpoint", run, data.appendingPathComponent("images/v1.png").path,
                                   "--output", folder.appendingPathComponent("pred2").path])
    XCTAssertNotEqual(wrongBase.status, 0, "a vit_b checkpoint with the LiteMedSAM base is refused")
    XCTAssertTrue(wrongBase.stderr.contains("sam_vit_b_random.safetensors"), wrongBase.stderr)
    // evaluate takes the same --base-checkpoint (it used to hard-code LiteMedSAM's and refused this run).
    let evaluated = try runHSPSAM(["evaluate", "--checkpoint", run, "--base-checkpoint", weights, "--data", data.path, "--format", "csv"])
    XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
    XCTAssertTrue(evaluated.stdout.contains(",3,"), "three images scored: \(evaluated.stdout)")
  }
}

/// CRC-32 (IEEE 802.3, as PNG chunks use), bit by bit: enough for a test's few bytes.
func crc32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
  var crc: UInt32 = 0xFFFF_FFFF
  for byte in bytes {
    crc ^= UInt32(byte)
    for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
  }
  return ~crc
}

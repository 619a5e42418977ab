import Data
import Foundation
import Models
import Tensor
import TestSupport
@testable import Training
import XCTest

/// Training runs on generated images with the real LiteMedSAM base (from set-up), kept to a few steps.
final class TrainerTests: XCTestCase {
  static let weights = Fixtures.liteMedSAMWeights
  var folder: URL!

  override func setUpWithError() throws {
    guard FileManager.default.fileExists(atPath: Self.weights) else { throw XCTSkip("run scripts/setup.sh for lite_medsam.pth") }
    folder = try makeTemporaryFolder()
    let data = folder.appendingPathComponent("data")
    for sub in ["images", "masks"] {
      try FileManager.default.createDirectory(at: data.appendingPathComponent(sub), withIntermediateDirectories: true)
    }
    for i in 0..<5 {  // a bright ellipse, a different place per image
      let (w, h) = (64, 48)
      var rgb = [UInt8](repeating: 40, count: w * h * 3), mask = [UInt8](repeating: 0, count: w * h)
      for y in 0..<h {
        for x in 0..<w where pow(Double(x - 20 - 4 * i), 2) / 120 + pow(Double(y - 20), 2) / 60 <= 1 {
          mask[y * w + x] = 255
          rgb[(y * w + x) * 3] = 220; rgb[(y * w + x) * 3 + 1] = 120
        }
      }
      try ImageIO.writePNG(rgb, width: w, height: h, channels: 3, to: data.appendingPathComponent("images/\(i).png").path)
      try ImageIO.writePNG(mask, width: w, height: h, channels: 1, to: data.appendingPathComponent("masks/\(i).png").path)
    }
  }

  override func tearDown() { if let folder { try? FileManager.default.removeItem(at: folder) } }

  func options(_ run: String, maxSteps: Int?, resume: Bool = false) -> Trainer.Options {
    var o = Trainer.Options(data: folder.appendingPathComponent("data").path, output: folder.appendingPathComponent(run).path,
                            baseCheckpoint: Self.weights)
    o.validationFraction = 0.2
    o.maxSteps = maxSteps
    o.resume = resume
    o.cacheFolder = folder.appendingPathComponent("cache")  // shared by the runs of one test: the resumed run reads it
    return o
  }

  var config: TrainingConfig {
    var c = TrainingConfig()
    c.batchSize = 2
    c.epochs = 2
    c.cachedVariants = 1
    c.model.promptsPerLevel = 2
    return c
  }

  /// Interrupting after 1 step and resuming to 3 gives exactly the parameters of an uninterrupted 3-step run
  /// (2 steps per epoch, so the resume starts inside epoch 1 and crosses into epoch 2).
  func testResumeReproducesAnUninterruptedRun() throws {
    _ = try Trainer(config: config, options: options("straight", maxSteps: 3)).run()
    _ = try Trainer(config: config, options: options("split", maxSteps: 1)).run()
    XCTAssertThrowsError(try Trainer(config: config, options: options("split", maxSteps: 3)).run()) { error in
      XCTAssertTrue(error.localizedDescription.contains("already holds a run"), error.localizedDescription)
    }
    _ = try Trainer(config: config, options: options("split", maxSteps: 3, resume: true)).run()
    let a = try RunCheckpoint.read(folder.appendingPathComponent("straight/last.safetensors").path)
    let b = try RunCheckpoint.read(folder.appendingPathComponent("split/last.safetensors").path)
    XCTAssertEqual(a.metadata.step, 3)
    XCTAssertEqual(b.metadata.step, 3)
    XCTAssertEqual(Set(a.model.keys), Set(b.model.keys))
    for (name, tensor) in a.model {
      assertAllClose(try XCTUnwrap(b.model[name]), tensor, atol: 1e-6, "\(name) after resume")
    }
    let cached = try FileManager.default.subpathsOfDirectory(atPath: folder.appendingPathComponent("cache").path)
      .filter { $0.hasSuffix(".safetensors") }
    XCTAssertEqual(cached.count, 5, "4 training + 1 validation prefixes persisted once, reused by the later runs")
    // The log of the resumed run equals the uninterrupted one's but for the clock (epoch 1's loss is the mean over
    // its two steps, one taken before the interruption).
    func logLines(_ run: String) throws -> [[String: Double]] {
      try String(contentsOf: folder.appendingPathComponent("\(run)/log.jsonl"), encoding: .utf8).split(separator: "\n").map {
        var line = try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Double])
        for clock in ["seconds", "elapsed"] { XCTAssertNotNil(line.removeValue(forKey: clock), clock) }
        return line
      }
    }
    let (split, straight) = (try logLines("split"), try logLines("straight"))
    XCTAssertEqual(split.count, 1)
    XCTAssertEqual(split.map { $0.keys.sorted() }, straight.map { $0.keys.sorted() })
    for (a, b) in zip(split, straight) {
      for (key, value) in b { XCTAssertEqual(try XCTUnwrap(a[key]), value, accuracy: 1e-6 * Swift.max(1, Swift.abs(value)), key) }
    }
    XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("split/config.json").path))
    // validation.txt lists the held-out stems (20 % of the generated images) as a split file evaluate can read.
    let held = try String(contentsOf: folder.appendingPathComponent("split/validation.txt"), encoding: .utf8)
    let heldStems = held.split(separator: "\n").map(String.init)
    let dataset = try SegmentationDataset(root: folder.appendingPathComponent("data").path)
    XCTAssertEqual(heldStems, dataset.splitValidation(fraction: 0.2, seed: config.seed).validation.samples.map(\.stem))
    XCTAssertFalse(heldStems.isEmpty)
    let plot = try ImageIO.read(folder.appendingPathComponent("split/progress.png").path)
    XCTAssertEqual([plot.width, plot.height, plot.channels], [720, 600, 3], "progress.png: three panels")
    XCTAssertTrue(plot.samples.contains { $0 < 100 }, "something is drawn")
  }

  /// A disk without room for the prefix cache stops the run after its first copy, with one line saying what it
  /// needs and where, before any step (no `last`), and keeps the copy written.
  func testADiskTooSmallForTheCacheStopsBeforeTraining() throws {
    var o = options("full-disk", maxSteps: 1)
    o.freeDiskBytes = { _ in 80_000_000 }
    XCTAssertThrowsError(try Trainer(config: config, options: o).run()) { error in
      guard case TrainingError.prefixCacheDiskFull(let folder, let copies, let perCopy, let free) = error else {
        return XCTFail("\(error)")
      }
      XCTAssertTrue(folder.hasPrefix(self.folder.appendingPathComponent("cache").path), folder)
      XCTAssertEqual(copies, 3, "4 training copies, the first written")
      XCTAssertGreaterThan(perCopy, 1_000_000)
      XCTAssertEqual(free, 80_000_000)
      let line = error.localizedDescription
      XCTAssertFalse(line.contains("\n"), line)
      XCTAssertTrue(line.contains(folder) && line.contains("80 MB free") && line.contains("HSPSAM_CACHE"), line)
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("full-disk/last.safetensors").path))
    let cached = try FileManager.default.subpathsOfDirectory(atPath: folder.appendingPathComponent("cache").path)
      .filter { $0.hasSuffix(".safetensors") }
    XCTAssertEqual(cached.count, 1)
    // With room (the machine's real free space), the same run trains.
    o.freeDiskBytes = { PrefixCache.freeBytes($0) }
    o.output = folder.appendingPathComponent("roomy").path
    _ = try Trainer(config: config, options: o).run()
  }

  /// With `saveInterval` passed, `last` is saved within the epoch after the step: at every step's event it holds
  /// that step (interval 0), so a machine lost mid-epoch costs no more than the interval.
  func testLastIsSavedWithinAnEpochEveryInterval() throws {
    var o = options("periodic", maxSteps: 3)
    o.saveInterval = 0
    let last = folder.appendingPathComponent("periodic/last.safetensors").path
    var saved: [[Int]] = []  // [step of the event, step that last.safetensors holds then]
    o.progress = { event in
      if case .step(_, _, let step, _, _, _, _) = event, let held = try? RunCheckpoint.read(last).metadata.step {
        saved.append([step, held])
      }
    }
    _ = try Trainer(config: config, options: o).run()
    XCTAssertEqual(saved, [[2, 1], [3, 2]], "each step's event comes before its save and after the step before's")
    XCTAssertEqual(try RunCheckpoint.read(last).metadata.step, 3)
  }


  /// With `emaDecay` and the structure loss: the weight average travels in `last` (as `optimizer.ema.*`) and a
  /// resumed run ends with the average and weights of an uninterrupted one; `best` holds the average, not the
  /// weights; the loss's kind is part of the configuration a resume must match.
  func testWeightAverageIsKeptAndResumed() throws {
    var averaged = config
    averaged.emaDecay = 0.5
    averaged.loss = .structure
    averaged.validateEvery = 1
    _ = try Trainer(config: averaged, options: options("straight", maxSteps: 3)).run()
    _ = try Trainer(config: averaged, options: options("split", maxSteps: 1)).run()
    XCTAssertThrowsError(try Trainer(config: config, options: options("split", maxSteps: 3, resume: true)).run()) { error in
      XCTAssertTrue(error.localizedDescription.contains("differs from the configuration"), error.localizedDescription)
    }
    _ = try Trainer(config: averaged, options: options("split", maxSteps: 3, resume: true)).run()
    let a = try RunCheckpoint.read(folder.appendingPathComponent("straight/last.safetensors").path)
    let b = try RunCheckpoint.read(folder.appendingPathComponent("split/last.safetensors").path)
    let averages = a.optimizer.filter { $0.key.hasPrefix("ema.") }
    XCTAssertEqual(averages.count, a.model.count + 1, "one average per trained tensor, and the update count")
    XCTAssertEqual(try XCTUnwrap(averages["ema.updates"]).item(), 3)
    for (name, tensor) in a.model {
      assertAllClose(try XCTUnwrap(b.model[name]), tensor, atol: 1e-6, "\(name) after resume")
      assertAllClose(try XCTUnwrap(b.optimizer["ema." + name]), try XCTUnwrap(averages["ema." + name]), atol: 1e-6,
                     "the average of \(name) after resume")
    }
    // Epoch 1 (2 steps) was validated with the average: best holds it, which differs from the weights then.
    let best = try RunCheckpoint.read(folder.appendingPathComponent("straight/best.safetensors").path)
    XCTAssertEqual(best.metadata.step, 2)
    let name = "fusion_decoder.mask_tokens.weight"
    XCTAssertGreaterThan(try (XCTUnwrap(best.model[name]) - XCTUnwrap(a.model[name])).abs().max().item(), 0)
  }

  /// An 8-bit export: matrices and kernels of 4,096+ elements as uint8 codes with a float32 scale per row (read back
  /// within half a step of each row's scale), the rest float16; under 30 % of the float32 file.
  func testInt8ExportReadsBackWithinHalfAStep() throws {
    _ = try Trainer(config: config, options: options("run", maxSteps: 1)).run()
    let last = folder.appendingPathComponent("run/last.safetensors").path
    let (paths, precisions): ([String], [RunCheckpoint.Precision]) = (["f32", "int8"].map { folder.appendingPathComponent("\($0).safetensors").path }, [.float32, .int8])
    for (path, precision) in zip(paths, precisions) { try RunCheckpoint.export(from: last, to: path, precision: precision) }
    let exact = try RunCheckpoint.read(paths[0]).model
    let eight = try RunCheckpoint.read(paths[1])
    XCTAssertEqual(Set(eight.model.keys), Set(exact.keys))
    let raw = try Safetensors.read(path: paths[1]).tensors
    let codes = Dictionary(uniqueKeysWithValues: raw.map { ($0.name, $0.tensor.dtype) })
    XCTAssertEqual(codes["model.fusion_decoder.blocks.0.layers.0.mlp.lin1.weight"], .uint8)
    XCTAssertEqual(codes["scale.fusion_decoder.blocks.0.layers.0.mlp.lin1.weight"], .float32)
    XCTAssertEqual(codes["model.fusion_decoder.blocks.0.layers.0.mlp.lin1.bias"], .float16, "1-D tensors stay float16")
    for (name, value) in exact where value.rank >= 2 && value.count >= 4096 {
      let rows = try value.reshape([value.size(0), -1])
      let step = try rows.abs().max(dims: [1], keepDim: true) / 127
      let error = try (XCTUnwrap(eight.model[name]).reshape([value.size(0), -1]) - rows).abs()
      XCTAssertLessThanOrEqual(try (error - step * 0.5001).max().item(), 1e-7, name)
    }
    let sizes = try paths.map { try XCTUnwrap(FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) }
    XCTAssertLessThan(Double(sizes[1]), 0.3 * Double(sizes[0]), "\(sizes)")
    // The same 8-bit export .xz compressed (how models/ may store it) reads back to the same tensors, and smaller.
    let packed = folder.appendingPathComponent("int8.safetensors.xz").path
    try RunCheckpoint.export(from: last, to: packed, precision: .int8)
    let unpacked = try RunCheckpoint.read(packed)
    for (name, value) in eight.model { assertAllClose(try XCTUnwrap(unpacked.model[name]), value, atol: 0, name) }
    XCTAssertLessThan(try XCTUnwrap(FileManager.default.attributesOfItem(atPath: packed)[.size] as? Int), sizes[1])
  }

  /// A loss that is no longer finite says whether `last` holds anything, from which step, and what to change.
  func testNonFiniteLossMessagesSayWhatWasKept() throws {
    let last = "run/last.safetensors"
    XCTAssertEqual(Trainer.nonFiniteLoss(.nan, epoch: 1, step: 7, last: last, saved: nil, config: config).message(naming: \.rawValue),
                   "loss became nan at epoch 1, step 7: stopped; nothing was saved (the first run/last.safetensors is written at " +
                   "the end of epoch 1): start again with a lower learningRate (now 0.0005) or gradientClip (now 1)")
    let diverged = Trainer.nonFiniteLoss(.infinity, epoch: 3, step: 300, last: last, saved: (248, 2, 2.1e30), config: config).message(naming: \.rawValue)
    XCTAssertTrue(diverged.contains("run/last.safetensors holds step 248 (epoch 2), but its largest trained weight is 2.1e+30, " +
                                    "so it would diverge again: start again"), diverged)
    let kept = Trainer.nonFiniteLoss(.nan, epoch: 3, step: 300, last: last, saved: (248, 2, 3.5), config: config).message(naming: \.rawValue)
    XCTAssertTrue(kept.contains("holds step 248 (epoch 2): start a new run from it with a lower learningRate"), kept)
    XCTAssertTrue(kept.contains(#"initialWeights run/last.safetensors with this run's data and configuration plus configuration '{"learningRate": 0.00025}'"#), kept)
  }

  /// Copies past the memory budget are read from their files for each batch: with a budget of 0 bytes every copy
  /// (4 training, 1 validation) is, and 2 steps end at the parameters of a run that held them all (atol 1e-6:
  /// the same float16 bytes either way). A budget takes what fits and refuses the rest.
  func testCopiesPastTheMemoryBudgetTrainFromTheirFiles() throws {
    XCTAssertEqual(try Trainer(config: config, options: options("held", maxSteps: 2)).run().storedCopies, 0)
    var onDisk = options("disk", maxSteps: 2)
    onDisk.prefixMemoryBytes = 0
    XCTAssertEqual(try Trainer(config: config, options: onDisk).run().storedCopies, 5)
    let a = try RunCheckpoint.read(folder.appendingPathComponent("held/last.safetensors").path)
    let b = try RunCheckpoint.read(folder.appendingPathComponent("disk/last.safetensors").path)
    XCTAssertEqual(Set(a.model.keys), Set(b.model.keys))
    for (name, tensor) in a.model { assertAllClose(try XCTUnwrap(b.model[name]), tensor, atol: 1e-6, name) }
    let budget = PrefixMemoryBudget(bytes: 10)
    XCTAssertEqual([6, 6, 4, 1].map { budget.take($0) }, [true, false, true, false])
    XCTAssertEqual(budget.remaining, 0)
  }

  /// Copy 0 and the validation images are un-augmented, so two runs that differ only in augmentation share them:
  /// the second computes just its 4 augmented copies (13 files in all; 18 if each run kept its own plain copies).
  func testPlainCopiesAreSharedAcrossAugmentations() throws {
    var first = config
    first.cachedVariants = 2
    _ = try Trainer(config: first, options: options("first", maxSteps: 1)).run()
    var second = first
    second.augmentation.gamma = 0.3
    _ = try Trainer(config: second, options: options("second", maxSteps: 1)).run()
    let cache = folder.appendingPathComponent("cache")
    var files: [String: [String]] = [:]
    for path in try FileManager.default.subpathsOfDirectory(atPath: cache.path) where path.hasSuffix(".safetensors") {
      let parts = path.split(separator: "/")
      files[String(parts[0]), default: []].append(String(parts[1]))
    }
    let counts = files.values.map { ($0.filter { $0.hasSuffix("_v0.safetensors") }.count, $0.count) }.sorted { $0.1 < $1.1 }
    XCTAssertEqual(counts.map(\.0), [0, 0, 5], "one folder of plain copies (4 training + 1 validation): \(files)")
    XCTAssertEqual(counts.map(\.1), [4, 4, 5], "two folders of augmented copies, one per augmentation: \(files)")
  }

  /// `--init`: a run starts from another run's trained tensors (fresh optimiser and schedule). At a learning rate
  /// of 1e-12 one step leaves them where they started, so the new run's weights equal the source's (atol 1e-6),
  /// while the source's differ from a fresh start (by more than 1e-4 somewhere, so the check can fail).
  func testInitStartsFromAnotherRunsWeights() throws {
    _ = try Trainer(config: config, options: options("source", maxSteps: 2)).run()
    let sourcePath = folder.appendingPathComponent("source/last.safetensors").path
    var still = config
    still.learningRate = 1e-12
    var tuned = options("tuned", maxSteps: 1)
    tuned.initialWeights = sourcePath
    _ = try Trainer(config: still, options: tuned).run()
    _ = try Trainer(config: still, options: options("fresh", maxSteps: 1)).run()
    let source = try RunCheckpoint.read(sourcePath)
    let started = try RunCheckpoint.read(folder.appendingPathComponent("tuned/last.safetensors").path)
    let fresh = try RunCheckpoint.read(folder.appendingPathComponent("fresh/last.safetensors").path)
    XCTAssertEqual(started.metadata.initializedFrom, sourcePath)
    XCTAssertEqual(started.metadata.step, 1, "a fresh schedule: step counting restarts")
    var moved = 0.0
    for (name, tensor) in source.model {
      assertAllClose(try XCTUnwrap(started.model[name]), tensor, atol: 1e-6, "\(name) starts from the source")
      moved = Swift.max(moved, try (tensor - XCTUnwrap(fresh.model[name])).abs().max().item())
    }
    XCTAssertGreaterThan(moved, 1e-4, "two steps of training moved the source away from a fresh start")

    var other = config
    other.model.promptsPerLevel = 3
    var mismatched = options("mismatched", maxSteps: 1)
    mismatched.initialWeights = folder.appendingPathComponent("source").path  // a run folder: its best.safetensors
    XCTAssertThrowsError(try Trainer(config: other, options: mismatched).run()) {
      XCTAssertTrue($0.localizedDescription.contains("source/best.safetensors: its \"model\" configuration differs"), $0.localizedDescription)
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("mismatched").path), "nothing written")
    var missing = options("missing", maxSteps: 1)
    missing.initialWeights = folder.appendingPathComponent("nothing.safetensors").path
    XCTAssertThrowsError(try Trainer(config: config, options: missing).run()) {
      XCTAssertTrue($0.localizedDescription.hasPrefix("Trainer.Options.initialWeights "), $0.localizedDescription)
      XCTAssertTrue($0.localizedDescription.hasSuffix("nothing.safetensors: no such file or folder"), $0.localizedDescription)
    }
  }

  func testBadConfigsAndData() throws {
    XCTAssertThrowsError(try TrainingConfig.decode(Data(#"{"epochs": 3, "learningrate": 0.1}"#.utf8), source: "c.json")) {
      XCTAssertEqual($0.localizedDescription, "c.json: unknown key 'learningrate'")
    }
    XCTAssertThrowsError(try TrainingConfig.decode(Data(#"{"model": {"promptsPerLevl": 2}}"#.utf8), source: "c.json")) {
      XCTAssertEqual($0.localizedDescription, "c.json: unknown key 'model.promptsPerLevl'")
    }
    XCTAssertThrowsError(try TrainingConfig.decode(Data(#"{"augmentation": {"channelGains": 0.2}}"#.utf8), source: "c.json")) {
      XCTAssertEqual($0.localizedDescription, "c.json: unknown key 'augmentation.channelGains'")
    }
    XCTAssertThrowsError(try TrainingConfig.decode(Data(#"{"augmentation": {"channelGain": 1.5}}"#.utf8), source: "c.json")) {
      XCTAssertEqual($0.localizedDescription, "c.json: augmentation.channelGain must be in [0, 1), got 1.5")
    }
    XCTAssertThrowsError(try TrainingConfig.decode(Data(#"{"augmentation": {"scaleRange": [1.2, 0.8]}}"#.utf8), source: "c.json")) {
      XCTAssertTrue($0.localizedDescription.contains("augmentation.scaleRange must be"), $0.localizedDescription)
    }
    XCTAssertThrowsError(try TrainingConfig.decode(Data(#"{"tverskyBeta": 1.5}"#.utf8), source: "c.json")) {
      XCTAssertEqual($0.localizedDescription, "c.json: tverskyBeta must be in [0, 1] or null, got 1.5")
    }
    XCTAssertEqual(try TrainingConfig.decode(Data(#"{"loss": "ce-dice", "tverskyBeta": 0.7}"#.utf8), source: "c.json").tverskyBeta, 0.7)
    XCTAssertThrowsError(try TrainingConfig.decode(Data(#"{"tverskyBeta": 0.7}"#.utf8), source: "c.json")) {
      XCTAssertEqual($0.localizedDescription, "c.json: tverskyBeta applies to the \"ce-dice\" loss only; set \"loss\": \"ce-dice\" with it")
    }
    XCTAssertThrowsError(try TrainingConfig.decode(Data(#"{"batchSize": 0}"#.utf8), source: "c.json")) {
      XCTAssertTrue($0.localizedDescription.contains("batchSize must be"), $0.localizedDescription)
    }
    XCTAssertThrowsError(try TrainingConfig.decode(Data(#"{"model": {"backbone": "vit_t"}}"#.utf8), source: "c.json")) {
      XCTAssertTrue($0.localizedDescription.contains("HSP-SAM runs on"), $0.localizedDescription)
    }
    XCTAssertThrowsError(try TrainingConfig.decode(Data(#"{"inputSize": 1000, "model": {"backbone": "vit_b"}}"#.utf8), source: "c.json")) {
      XCTAssertTrue($0.localizedDescription.contains("multiple of 16"), $0.localizedDescription)
    }
    XCTAssertThrowsError(try TrainingConfig.decode(Data(#"{"normalization": "zscore"}"#.utf8), source: "c.json")) {
      XCTAssertEqual($0.localizedDescription, "c.json: normalization: must be backbone, minmax01 or imagenet, got zscore")
    }
    XCTAssertThrowsError(try TrainingConfig.decode(Data(#"{"resize": "crop"}"#.utf8), source: "c.json")) {
      XCTAssertEqual($0.localizedDescription, "c.json: resize: must be longest-side+pad or square, got crop")
    }
    XCTAssertEqual(try TrainingConfig.decode(Data(#"{"resize": "square"}"#.utf8), source: "c.json").resize, .square)
    // The shipped presets decode and validate; hsp-code sets the [code] values of docs/model.md.
    let presets = Fixtures.repository.appendingPathComponent("configs")
    let names = try FileManager.default.contentsOfDirectory(atPath: presets.path).filter { $0.hasSuffix(".json") }
    XCTAssertTrue(Set(names).isSuperset(of: ["clinicdb-cpu.json", "hsp-code.json", "hsp-code-vit_h.json"]), "\(names)")
    for name in names {
      XCTAssertNoThrow(try TrainingConfig.decode(Data(contentsOf: presets.appendingPathComponent(name)), source: name), name)
    }
    let code = try TrainingConfig.decode(Data(contentsOf: presets.appendingPathComponent("hsp-code.json")), source: "hsp-code.json")
    XCTAssertEqual([code.model.neckInit, code.model.levelDecoderInit, code.model.fusionInit], [.random, .random, .random])
    XCTAssertEqual([code.lambdaAux, code.lrPower, code.learningRate], [0, 7, 8e-4])
    XCTAssertEqual(code.resize, .square)
    // decayNormsAndPrompts false: the prompts and 1-D tensors (norms, biases) are exempt from weight decay.
    var noDecay = try TrainingConfig.decode(Data(#"{"decayNormsAndPrompts": false}"#.utf8), source: "c.json")
    let trained: [(name: String, tensor: Tensor)] = [("abstract_prompts.1", try Tensor.zeros([4, 160])),
      ("level_necks.1.1.weight", try Tensor.zeros([256])), ("level_necks.1.0.weight", try Tensor.zeros([256, 320, 1, 1]))]
    XCTAssertEqual(noDecay.weightDecayExempt(trained), ["abstract_prompts.1", "level_necks.1.1.weight"])
    noDecay.decayNormsAndPrompts = true
    XCTAssertEqual(noDecay.weightDecayExempt(trained), [], "the default decays every trained tensor ([code])")
    let vit = try TrainingConfig.decode(Data(#"{"inputSize": 512, "model": {"backbone": "vit_b", "promptedLevels": [1, 2, 3, 4]}}"#.utf8), source: "c.json")
    XCTAssertEqual(vit.inputNormalization, .imagenet, "normalization backbone: SAM's ImageNet mean/std")
    // A checkpoint's configuration written before `normalization` existed still decodes (defaults fill it).
    XCTAssertEqual(try JSONDecoder().decode(TrainingConfig.self, from: Data(#"{"epochs": 6}"#.utf8)).inputNormalization, .minmax01)
    let partial = try TrainingConfig.decode(Data(#"{"epochs": 3, "model": {"promptsPerLevel": 8}}"#.utf8), source: "c.json")
    XCTAssertEqual(partial.epochs, 3)
    XCTAssertEqual(partial.model.promptsPerLevel, 8)
    XCTAssertEqual(partial.batchSize, TrainingConfig().batchSize, "missing keys keep their defaults")
    // Repeated --config: later layers are merged key by key over earlier ones; errors name the layer.
    let layered = try TrainingConfig.decode(layers: [(Data(#"{"epochs": 3, "model": {"promptsPerLevel": 8}}"#.utf8), "a.json"),
                                                      (Data(#"{"model": {"architecture": "single-level", "promptedLevels": [3]}}"#.utf8), "--config")])
    XCTAssertEqual([layered.epochs, layered.model.promptsPerLevel], [3, 8], "the first layer's keys survive")
    XCTAssertEqual(layered.model.architecture, .singleLevel)
    XCTAssertThrowsError(try TrainingConfig.decode(layers: [(Data("{}".utf8), "a.json"), (Data(#"{"model": {"levels": 1}}"#.utf8), "--config")])) {
      XCTAssertEqual($0.localizedDescription, "--config: unknown key 'model.levels'")
    }

    try FileManager.default.removeItem(at: folder.appendingPathComponent("data/masks"))
    XCTAssertThrowsError(try Trainer(config: config, options: options("nomask", maxSteps: 1)).run()) {
      XCTAssertTrue($0.localizedDescription.contains("no masks/ folder"), $0.localizedDescription)
    }
  }

  /// A tiny run overfits its two training images: Dice@0.5 > 0.95 on each, through the real predictor (resize,
  /// crop, softmax at the input size). 96x72 images with one ellipse each; 40 steps of batch 2 at a raised
  /// learning rate, no augmentation.
  func testOverfitsAHandfulOfImages() throws {
    let data = folder.appendingPathComponent("overfit-data")
    for sub in ["images", "masks"] {
      try FileManager.default.createDirectory(at: data.appendingPathComponent(sub), withIntermediateDirectories: true)
    }
    let (w, h) = (96, 72)
    for i in 0..<3 {
      var rgb = [UInt8](repeating: 40, count: w * h * 3), mask = [UInt8](repeating: 0, count: w * h)
      for y in 0..<h {
        for x in 0..<w where pow(Double(x - 35 - 8 * i), 2) / 400 + pow(Double(y - 34 + 3 * i), 2) / 200 <= 1 {
          mask[y * w + x] = 255
          rgb[(y * w + x) * 3] = 220; rgb[(y * w + x) * 3 + 1] = 120
        }
      }
      try ImageIO.writePNG(rgb, width: w, height: h, channels: 3, to: data.appendingPathComponent("images/\(i).png").path)
      try ImageIO.writePNG(mask, width: w, height: h, channels: 1, to: data.appendingPathComponent("masks/\(i).png").path)
    }
    // 20 steps of batch 2 over the 2 training images, as 2 epochs of 10 draws each (weight 10), without writing
    // `last` (144 MB with the optimiser state) after every step. 20 steps reach Dice 0.985 / 0.989 on the two
    // images (2026-12-07); 10 steps do not leave the all-background start.
    var c = config
    c.epochs = 2
    c.learningRate = 2e-3
    c.warmupIters = 0
    c.validateEvery = 1000
    var o = options("overfit", maxSteps: nil)
    o.datasets = [Trainer.DataSource(folder: data.path, weight: 10)]
    o.validationFraction = 0.34
    _ = try Trainer(config: c, options: o).run()
    let predictor = try PromptFreePredictor(checkpoint: folder.appendingPathComponent("overfit/last.safetensors").path,
                                            baseCheckpoint: Self.weights)
    let (train, _) = try SegmentationDataset(root: data.path).splitValidation(fraction: 0.34, seed: c.seed)
    XCTAssertEqual(train.samples.count, 2)
    for sample in train.samples {
      let truth = try ImageIO.read(sample.maskPath).binaryMask()
      let (_, classes) = try predictor.predict(try ImageIO.read(sample.imagePath))
      let both = zip(classes, truth).filter { $0.0 != 0 && $0.1 != 0 }.count
      let dice = 2 * Double(both) / Double(classes.filter { $0 != 0 }.count + truth.filter { $0 != 0 }.count)
      XCTAssertGreaterThan(dice, 0.95, "training image \(sample.stem)")
    }
  }
}

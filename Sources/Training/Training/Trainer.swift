import Data
import Foundation
import Models
import NN
import Tensor

/// What a training run reports as it goes.
public enum TrainingEvent {
  /// A line for the user: the data checks, the cache, validation results, checkpoints kept, warnings.
  case message(String)
  /// The frozen-prefix cache's copies computed (or read back) so far.
  case cacheProgress(ProgressMeter)
  /// One optimiser step done (epoch and step count from 1; `meter` counts this invocation's images).
  case step(epoch: Int, epochs: Int, step: Int, steps: Int, loss: Double, learningRate: Double, meter: ProgressMeter)
}

/// Trains HSP-SAM on a folder dataset (docs/model.md 4): frozen prefix cached once, AdamW, linear warm-up then polynomial
/// decay, gradient clipping, deep supervision, validation Dice@0.5 every few epochs, `best` and `last` checkpoints,
/// JSONL log, resumable.
public final class Trainer {
  /// One training dataset: a folder (with its own `split` file and validation split), a row name, how many
  /// draws per epoch relative to its size (weight 1: each image once; 2: twice; 0.5: a seeded half), and how its
  /// mask values become classes (its classes must be the model's `numClasses`).
  public struct DataSource: Equatable {
    public var folder: String
    public var name: String?
    public var weight: Double
    public var encoding: MaskEncoding
    public init(folder: String, name: String? = nil, weight: Double = 1, encoding: MaskEncoding = .binary) {
      self.folder = folder
      self.name = name
      self.weight = weight
      self.encoding = encoding
    }
  }

  public struct Options {
    /// The datasets trained on together (their union, weighted); validation is reported per dataset.
    public var datasets: [DataSource]
    public var data: String { datasets[0].folder }
    public var split: String?
    public var validationFraction = 0.1
    public var output: String
    public var baseCheckpoint: String
    public var resume = false
    /// A trained checkpoint (run folder or file) whose weights start this run; fresh optimiser and schedule.
    public var initialWeights: String?
    /// Stop after this many optimiser steps (benchmarks and tests); nil runs the schedule.
    public var maxSteps: Int?
    /// Where the run reports as it goes (the command prints it); nil: silently.
    public var progress: ((TrainingEvent) -> Void)?
    /// Also keep the model at every validation as `epoch-N.safetensors` (no optimiser state), e.g. to average
    /// the run's later checkpoints with `hspsam average`. Off by default: a 60-epoch run would keep 12 x 61 MB.
    public var keepCheckpoints = false
    /// Where frozen-prefix caches persist across runs (nil: memory only).
    public var cacheFolder: URL? = Trainer.defaultCacheFolder
    /// Host memory the cached copies may hold; the rest are read from `cacheFolder` per batch.
    public var prefixMemoryBytes = Trainer.defaultPrefixMemoryBytes
    /// Where the model runs (the cache stays in host memory; each batch is moved there).
    public var device: Device = .cpu
    /// Leave out the image/mask pairs that cannot be read (each named on stderr and listed in the run folder's
    /// `skipped.txt`) instead of stopping at the first; every pair is decoded once before the run to find them.
    public var skipInvalid = false
    /// Intra-op threads of libtorch; nil: one per core.
    public var threads: Int?
    /// Within an epoch `last` is also saved once this many seconds have passed since it was (nil: at epoch ends and
    /// on a signal only), so a machine lost mid-epoch costs at most this much training.
    public var saveInterval: TimeInterval? = 300
    public init(data: String, output: String, baseCheckpoint: String) {
      self.init(datasets: [DataSource(folder: data)], output: output, baseCheckpoint: baseCheckpoint)
    }
    public init(datasets: [DataSource], output: String, baseCheckpoint: String) {
      self.datasets = datasets
      self.output = output
      self.baseCheckpoint = baseCheckpoint
    }
  }

  public struct Summary {
    public var steps: Int
    public var epochs: Int
    public var bestValidationDice: Double
    public var seconds: Double
    public var cacheSeconds: Double
    public var imagesPerSecond: Double
    /// Cached copies kept only in their files (past `Options.prefixMemoryBytes`).
    public var storedCopies: Int
  }

  let config: TrainingConfig
  let options: Options

  /// `HSPSAM_CACHE` or ~/.cache/hspsam, then `prefix/`.
  public static var defaultCacheFolder: URL {
    let environment = ProcessInfo.processInfo.environment
    let root = environment["HSPSAM_CACHE"] ?? ((environment["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/hspsam")
    return URL(fileURLWithPath: root).appendingPathComponent("prefix")
  }

  /// `HSPSAM_PREFIX_MEMORY_MB`, else half the machine's memory: the step itself needs 3-4 GB beside the cache
  /// (`hspsam bench hsp`), and the page cache keeps copies read from disk when memory is free.
  public static var defaultPrefixMemoryBytes: Int {
    if let text = ProcessInfo.processInfo.environment["HSPSAM_PREFIX_MEMORY_MB"], let megabytes = Int(text), megabytes >= 0 {
      return megabytes << 20
    }
    return Int(ProcessInfo.processInfo.physicalMemory / 2)
  }

  public init(config: TrainingConfig, options: Options) {
    self.config = config
    self.options = options
  }

  func say(_ text: String) { options.progress?(.message(text)) }

  public func run() throws -> Summary {
    let started = Date()
    let out = URL(fileURLWithPath: options.output)
    let lastPath = out.appendingPathComponent("last.safetensors").path
    let bestPath = out.appendingPathComponent("best.safetensors").path
    let configPath = out.appendingPathComponent("config.json").path
    let fm = FileManager.default
    if !options.resume && fm.fileExists(atPath: lastPath) {
      throw TrainingError("\(options.output) already holds a run (last.safetensors): use --resume or another --out")
    }
    guard !(options.resume && options.initialWeights != nil) else {
      throw TrainingError("--init and --resume together: a resumed run continues from its own last.safetensors")
    }
    let resumeState = try options.resume ? resumedState(lastPath: lastPath, configPath: configPath) : nil
    let initial = try options.initialWeights.map(initialWeights)
    let (parts, skipped) = try trainingParts()
    Torch.threadCount = options.threads ?? ProcessInfo.processInfo.activeProcessorCount
    try Torch.manualSeed(config.seed)
    let base = try config.loadBase(checkpoint: options.baseCheckpoint)
    let model = try HSPSAM(config: config.model, base: base)
    try model.to(options.device)
    let baseBytes = (try fm.attributesOfItem(atPath: options.baseCheckpoint)[.size] as? Int) ?? 0
    if let initial {
      try RunCheckpoint.restore(initial.tensors, into: model, source: initial.path)
      say("starting from the weights of \(initial.path)")
    }
    // The run folder is made only once the data and the weights opened: a bad --data, --base-checkpoint or --init
    // leaves nothing behind.
    do {
      try fm.createDirectory(at: out, withIntermediateDirectories: true)
    } catch {
      throw TrainingError("--out \(options.output): cannot make the run folder (\((error as? CocoaError)?.reason ?? error.localizedDescription))")
    }
    // A run killed during a checkpoint write (kill -9) left its hidden temporary behind: cleared here.
    for name in TemporaryFiles.removeStale(in: out) { say("removed \(name), left by an interrupted write") }
    try writeAtomically(try config.json(), to: configPath)
    // The pairs left out change the validation split: the run folder lists them (empty: none), rewritten by each
    // --skip-invalid start, so a resumed run whose files were mended since does not keep a stale list.
    if options.skipInvalid {
      try writeAtomically(Data(skipped.map { "\($0.path): \($0.reason)\n" }.joined().utf8),
                          to: out.appendingPathComponent("skipped.txt").path)
    }

    // The held-out stems, as a split file `evaluate --split RUN/validation.txt` reads (one per dataset when several),
    // so that choices made on validation can be checked on exactly these images.
    for part in parts where !part.validation.samples.isEmpty {
      let name = parts.count == 1 ? "validation.txt" : "validation-\(part.name).txt"
      try writeAtomically(Data(part.validation.samples.map { $0.stem + "\n" }.joined().utf8), to: out.appendingPathComponent(name).path)
    }

    let transform = SampleTransform(size: config.inputSize, geometry: config.resize, normalization: config.inputNormalization,
                                    augmentation: config.augmentation)
    // Ctrl-C or SIGTERM from here on: during the prefix cache it stops after the batch under way (every copy
    // computed so far is already in its file, so running the same command again goes on from there); during
    // training after the step under way, with `last` saved.
    let stopRequest = StopRequest()
    defer { stopRequest.restore() }
    func stopDuringCache(done: Int, total: Int) throws {
      guard let name = StopRequest.received else { return }
      say("")
      let kept = options.cacheFolder.map { "the \(done) of \(total) copies computed so far are kept under \($0.path), so the same command goes on from them" }
        ?? "nothing is kept (no cache folder)"
      throw TrainingError("interrupted by \(name) during the prefix cache: \(kept)")
    }
    let (trainCaches, validationCaches, cacheSeconds, stored) = try cachePrefixes(
      parts: parts, model: model, transform: transform, baseBytes: baseBytes, stopDuringCache: stopDuringCache)
    let trainCache = PrefixCache(concatenating: trainCaches)
    // Draws per epoch: each dataset contributes round(weight x size) samples (at least one).
    var offsets: [Int] = [], offset = 0
    for cache in trainCaches { offsets.append(offset); offset += cache.examples.count }
    let draws = zip(trainCaches, parts).map { Swift.max(1, Int((Double($0.0.examples.count) * $0.1.source.weight).rounded())) }
    let samplesPerEpoch = draws.reduce(0, +)

    let stepsPerEpoch = (samplesPerEpoch + config.batchSize - 1) / config.batchSize
    let totalSteps = stepsPerEpoch * config.epochs
    let warmup = config.warmupIters ?? Swift.min(250, totalSteps / 20)
    let schedule = WarmupPolynomialSchedule(baseLearningRate: config.learningRate, warmupSteps: warmup,
                                            totalSteps: totalSteps, power: config.lrPower)
    let optimizer = AdamW(model.trainableParameters(), learningRate: config.learningRate, weightDecay: config.weightDecay)
    optimizer.decayExempt = config.weightDecayExempt(optimizer.parameters)
    let average = try config.emaDecay.map { try ExponentialMovingAverage(optimizer.parameters, decay: $0) }
    /// Validation, `best` and kept checkpoints see the averaged weights when `emaDecay` is set.
    func withEvaluatedWeights<R>(_ body: () throws -> R) throws -> R {
      if let average { return try average.withAveragedWeights(body) }
      return try body()
    }
    var step = 0, firstEpoch = 0, bestDice = -1.0
    var elapsedBefore = 0.0  // a resumed run's time before this invocation
    /// Wall time of the whole run so far (every invocation, prefix cache included).
    func elapsed() -> Double { elapsedBefore + Date().timeIntervalSince(started) }
    if let state = resumeState {
      try RunCheckpoint.restore(state.model, into: model, source: lastPath)
      try optimizer.loadState(state.optimizer)
      if let average {
        let prefix = RunCheckpoint.averagePrefix
        try average.loadState(state.optimizer.filter { $0.key.hasPrefix(prefix) }
          .reduce(into: [:]) { $0[String($1.key.dropFirst(prefix.count))] = $1.value }, source: lastPath)
      }
      step = state.metadata.step
      firstEpoch = state.metadata.epoch
      elapsedBefore = state.metadata.elapsedSeconds ?? 0
      bestDice = state.metadata.bestValidationDice
      say("resuming at epoch \(firstEpoch + 1), step \(step)")
    }
    let logURL = out.appendingPathComponent("log.jsonl")
    if !fm.fileExists(atPath: logURL.path) { _ = fm.createFile(atPath: logURL.path, contents: nil) }
    let log = try FileHandle(forWritingTo: logURL)
    defer { try? log.close() }
    try log.seekToEnd()

    var metadata = RunCheckpoint.Metadata(epoch: firstEpoch, step: step, bestValidationDice: bestDice, validationDice: nil,
                                          config: config, baseCheckpoint: URL(fileURLWithPath: options.baseCheckpoint).lastPathComponent,
                                          baseCheckpointBytes: baseBytes,
                                          initializedFrom: initial?.path ?? resumeState?.metadata.initializedFrom)
    /// What `last` holds now (step, epoch, largest trained weight), for the message of a loss that stops being finite.
    var savedLast: (step: Int, epoch: Int, largestWeight: Double)?
    if let state = resumeState { savedLast = (state.metadata.step, state.metadata.epoch, try largestWeight(optimizer.parameters)) }
    var lastSaveTime = Date()
    func saveLast() throws {
      try RunCheckpoint.save(model: model, optimizer: optimizer, average: average, metadata: metadata, to: lastPath)
      savedLast = (metadata.step, metadata.epoch, try largestWeight(optimizer.parameters))
      lastSaveTime = Date()
    }
    /// The metadata of a state inside `epoch` (0-based): resuming it skips the batches taken and goes on from their losses.
    func recordMidEpoch(_ epoch: Int, epochLoss: Double, batches: Int) {
      metadata.epoch = epoch
      metadata.step = step
      metadata.elapsedSeconds = elapsed()
      (metadata.epochLossSum, metadata.epochSteps) = (epochLoss, batches)
    }
    /// Saves `last` (already saved at an epoch's end: `save` false) and stops with a line saying how to continue.
    func stopOnSignal(save: Bool) throws {
      guard let name = StopRequest.received else { return }
      if save { try saveLast() }
      say("")  // ends the progress line
      throw TrainingError("interrupted by \(name) at step \(step): \(lastPath) holds the run, continue with --resume")
    }
    var history: [ProgressPlot.Point] = readHistory(logURL)
    // Images per second over the last 20 steps (ProgressMeter: a pause stops counting once it is 20 steps old).
    var meter = ProgressMeter(total: ((options.maxSteps ?? totalSteps) - step) * config.batchSize)
    let trainStart = Date()
    model.train()
    epochs: for epoch in firstEpoch..<config.epochs {
      var generator = SplitMix64(seed: config.seed &+ UInt64(epoch) &* 1_000_003)
      let order = Self.epochOrder(sizes: trainCaches.map(\.examples.count), offsets: offsets, draws: draws, using: &generator)
      let picks = order.map { (sample: $0, variant: Int.random(in: 0..<config.cachedVariants, using: &generator)) }
      // Resuming inside an epoch: its order is a function of (seed, epoch), so skip the batches already taken, and
      // go on from the losses of those steps (kept in `last`).
      let alreadyDone = Swift.max(0, step - epoch * stepsPerEpoch)
      var epochLoss = 0.0, batches = 0
      if alreadyDone > 0, let state = resumeState, state.metadata.epoch == epoch {
        (epochLoss, batches) = (state.metadata.epochLossSum ?? 0, state.metadata.epochSteps ?? 0)
      }
      for (batchIndex, start) in stride(from: 0, to: picks.count, by: config.batchSize).enumerated() {
        if batchIndex < alreadyDone { continue }
        if let maxSteps = options.maxSteps, step >= maxSteps {
          recordMidEpoch(epoch, epochLoss: epochLoss, batches: batches)
          try saveLast()
          break epochs
        }
        let chunk = Array(picks[start..<Swift.min(start + config.batchSize, picks.count)])
        let (prefix, masks) = try trainCache.batch(chunk, on: options.device)
        optimizer.learningRate = schedule.learningRate(atStep: step)
        try optimizer.zeroGrad()
        let (logits, levelLogits) = try model.decode(features: model.encodeLevels(from: prefix))
        let loss = try config.trainingLoss(logits: logits, levelLogits: levelLogits, target: masks)
        let value = try loss.item()
        guard value.isFinite else {
          throw Self.nonFiniteLoss(value, epoch: epoch + 1, step: step + 1, last: lastPath, saved: savedLast, config: config)
        }
        try loss.backward()
        try clipGradNorm(optimizer.parameters.map(\.tensor), maxNorm: config.gradientClip)
        try optimizer.step()
        try average?.update()
        step += 1
        batches += 1
        epochLoss += value
        meter.update(done: meter.done + chunk.count)  // images trained on in this invocation
        options.progress?(.step(epoch: epoch + 1, epochs: config.epochs, step: step, steps: totalSteps, loss: value,
                                learningRate: optimizer.learningRate, meter: meter))
        if StopRequest.received != nil {
          recordMidEpoch(epoch, epochLoss: epochLoss, batches: batches)
          try stopOnSignal(save: true)
        } else if let interval = options.saveInterval, Date().timeIntervalSince(lastSaveTime) >= interval {
          recordMidEpoch(epoch, epochLoss: epochLoss, batches: batches)
          try saveLast()
        }
      }
      metadata.epoch = epoch + 1
      metadata.step = step
      metadata.elapsedSeconds = elapsed()
      (metadata.epochLossSum, metadata.epochSteps) = (nil, nil)
      var validationDice: Double?
      var perDataset: [String: Double] = [:]
      if !validationCaches.isEmpty, (epoch + 1) % config.validateEvery == 0 || epoch + 1 == config.epochs {
        // Validation, `best` and kept checkpoints see the averaged weights when `emaDecay` is set.
        try withEvaluatedWeights {
          // Best is chosen by the mean over every validation image (datasets weighted by their size).
          var total = 0.0, count = 0
          for entry in validationCaches {
            let dice = try validate(model: model, cache: entry.cache, count: entry.count)
            perDataset[entry.name] = dice
            total += dice * Double(entry.count)
            count += entry.count
          }
          model.train()
          let dice = total / Double(count)
          validationDice = dice
          metadata.validationDice = dice
          if dice > bestDice {
            bestDice = dice
            metadata.bestValidationDice = dice
            try RunCheckpoint.save(model: model, optimizer: nil, metadata: metadata, to: bestPath)
          }
          if options.keepCheckpoints {
            try RunCheckpoint.save(model: model, optimizer: nil, metadata: metadata,
                                   to: out.appendingPathComponent("epoch-\(epoch + 1).safetensors").path)
          }
        }
      } else {
        metadata.validationDice = nil
      }
      try saveLast()
      // The rate of the epoch's last step: a run resumed at the end of an epoch takes no step in it before logging.
      let epochLearningRate = schedule.learningRate(atStep: Swift.max(step - 1, 0))
      var line: [String: Any] = ["epoch": epoch + 1, "step": step, "loss": epochLoss / Double(Swift.max(batches, 1)),
                                 "lr": epochLearningRate, "seconds": Date().timeIntervalSince(started),
                                 "elapsed": elapsed()]
      if let validationDice { line["validationDice"] = validationDice }
      if perDataset.count > 1 { for (name, dice) in perDataset { line["validationDice.\(name)"] = dice } }
      log.write(try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) + Data("\n".utf8))
      history.append(.init(epoch: epoch + 1, loss: epochLoss / Double(Swift.max(batches, 1)), learningRate: epochLearningRate,
                           validationDice: validationDice))
      let plot = ProgressPlot.render(history)
      try ImageIO.writePNG(plot.rgb, width: plot.width, height: plot.height, channels: 3,
                           to: out.appendingPathComponent("progress.png").path)
      if let validationDice {
        let rows = perDataset.count > 1 ? " [" + perDataset.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }
          .joined(separator: ", ") + "]" : ""
        say(String(format: "\nepoch %d: validation Dice@0.5 %.4f%@ (best %.4f)", epoch + 1, validationDice, rows, bestDice))
      }
      try stopOnSignal(save: false)  // a signal during the validation: the epoch's `last` is already written
    }
    if !fm.fileExists(atPath: bestPath) {  // no validation ran (tiny runs): last is the best we know
      try withEvaluatedWeights { try RunCheckpoint.save(model: model, optimizer: nil, metadata: metadata, to: bestPath) }
    }
    say("")
    let trainSeconds = Date().timeIntervalSince(trainStart)
    return Summary(steps: step, epochs: metadata.epoch, bestValidationDice: bestDice, seconds: Date().timeIntervalSince(started),
                   cacheSeconds: cacheSeconds, imagesPerSecond: Double(meter.done) / Swift.max(trainSeconds, 1e-9),
                   storedCopies: stored)
  }

  /// What `last` holds, for `resume`: the run's metadata, weights and optimiser state, refused when its
  /// configuration is not this run's.
  func resumedState(lastPath: String, configPath: String) throws
    -> (metadata: RunCheckpoint.Metadata, model: [String: Tensor], optimizer: [String: Tensor]) {
    guard FileManager.default.fileExists(atPath: lastPath) else { throw TrainingError("--resume: \(lastPath) does not exist") }
    let state = try RunCheckpoint.read(lastPath)
    guard state.metadata.config == config else {
      throw TrainingError("--resume: \(configPath) differs from the configuration the run was started with")
    }
    return state
  }

  /// The trained weights `initialWeights` names, refused when their base or "model" configuration is not this run's.
  func initialWeights(_ weights: String) throws -> (path: String, tensors: [String: Tensor]) {
    let path = try RunCheckpoint.resolve(weights, option: "--init")
    let (metadata, tensors, _) = try RunCheckpoint.read(path)
    try RunCheckpoint.checkBase(metadata, of: path, against: options.baseCheckpoint)
    guard metadata.config.model == config.model else {
      throw TrainingError("--init \(path): its \"model\" configuration differs from this run's (omit --config to take the checkpoint's own)")
    }
    return (path, tensors)
  }

  /// One training dataset, split: its training samples, its own seeded validation samples, where it came from.
  typealias TrainingPart = (name: String, train: SegmentationDataset, validation: SegmentationDataset, source: DataSource)

  /// Each dataset's training split minus its own seeded validation split, every file checked (or, with
  /// `skipInvalid`, the unreadable pairs left out and returned) before anything is written.
  func trainingParts() throws -> (parts: [TrainingPart], skipped: [FileError]) {
    guard !options.datasets.isEmpty else { throw TrainingError("no --data given") }
    var parts: [TrainingPart] = []
    var skipped: [FileError] = []
    for source in options.datasets {
      guard source.weight > 0, source.weight.isFinite else { throw TrainingError("\(source.folder): weight must be > 0, got \(source.weight)") }
      var full = try SegmentationDataset(root: source.folder, name: source.name, split: options.split, encoding: source.encoding)
      if options.skipInvalid {
        let listed = full.samples.count, checkStart = Date()
        let (readable, bad) = full.withoutUnreadablePairs(decoding: true)
        for error in bad { say("skipped \(error.path): \(error.reason)") }
        say(String(format: "\(full.name): %d image/mask pairs decoded to check them in %.0f s", listed, Date().timeIntervalSince(checkStart)))
        guard !readable.samples.isEmpty else {
          throw SegmentationDataset.nothingReadable(full.name, listed: listed)
        }
        if !bad.isEmpty { say("\(full.name): \(bad.count) of \(listed) image/mask pairs left out (--skip-invalid; named above)") }
        full = readable
        skipped += bad
      } else {
        try full.checkFiles()  // a bad file is named now, not during the prefix cache
      }
      // A rule with other classes than the model's would train on masks the model cannot express (or never see
      // some of its classes): refused before anything is written.
      guard source.encoding.classCount - 1 == config.model.numClasses else {
        throw TrainingError("\(full.name): mask rule \(source.encoding.rule) gives \(source.encoding.classCount - 1) " +
                            "foreground class(es), the model has numClasses \(config.model.numClasses)")
      }
      guard !parts.contains(where: { $0.name == full.name }) else {
        throw TrainingError("two --data are named \(full.name): name them with NAME=DIR")
      }
      let (train, validation) = full.splitValidation(fraction: options.validationFraction, seed: config.seed)
      guard !train.samples.isEmpty else {
        throw TrainingError("\(source.folder): its \(full.samples.count) sample(s) all went to the validation split, none is " +
                            "left to train on (--val-fraction 0 trains on every sample, with no validation)")
      }
      parts.append((full.name, train, validation, source))
    }
    return (parts, skipped)
  }

  /// The frozen encoder prefix of every training copy and validation image, computed once (or read back from
  /// `cacheFolder`): per dataset, its training cache and, if it has a validation split, its validation cache.
  func cachePrefixes(parts: [TrainingPart], model: HSPSAM, transform: SampleTransform, baseBytes: Int,
                     stopDuringCache: @escaping (Int, Int) throws -> Void)
    throws -> (train: [PrefixCache], validation: [(name: String, cache: PrefixCache, count: Int)], seconds: Double, stored: Int) {
    let cacheStart = Date()
    // Everything the cached prefix depends on: the base weights, where the adapted blocks start, the input transform.
    let keyEncoder = JSONEncoder()
    keyEncoder.outputFormatting = [.sortedKeys]  // a stable text: the key must not depend on dictionary order
    let augmentationJSON = String(decoding: try keyEncoder.encode(config.augmentation), as: UTF8.self)
    let memoryBudget = PrefixMemoryBudget(bytes: options.prefixMemoryBytes)
    var trainCaches: [PrefixCache] = []
    var validationCaches: [(name: String, cache: PrefixCache, count: Int)] = []
    let cacheBatch = 8  // images per prefix forward while caching
    for part in parts {
      say("caching the frozen encoder prefix of \(part.name): \(part.train.samples.count) images x \(config.cachedVariants) copies, " +
          "\(part.validation.samples.count) validation images" + (part.train.maskSummary.map { " (\($0))" } ?? ""))
      func cacheKey(random: String) -> String {
        "base=\(baseBytes) start=\(model.adaptedStart) backbone=\(config.model.backbone.rawValue) " +
          "levels=\(config.model.decodedLevels) size=\(config.inputSize) norm=\(config.inputNormalization.rawValue) " +
          "\(random)data=\(URL(fileURLWithPath: part.source.folder).standardizedFileURL.path)" +
          (config.resize == .longestSidePad ? "" : " resize=\(config.resize.rawValue)") +  // default: keys of earlier caches
          (part.source.encoding == .binary ? "" : " masks=\(part.source.encoding.rule)")  // the cache holds the class masks
      }
      // The augmented copies keep the key text of earlier caches; the plain copies, which draw nothing at random,
      // drop the seed and the augmentation from it.
      let plainKey = cacheKey(random: ""), augmentedKey = cacheKey(random: "seed=\(config.seed) aug=\(augmentationJSON) ")
      var meter: ProgressMeter?
      trainCaches.append(try PrefixCache(model: model, dataset: part.train, transform: transform, variants: config.cachedVariants,
                                         seed: config.seed, batchSize: cacheBatch, folder: options.cacheFolder, key: plainKey,
                                         augmentedKey: augmentedKey, budget: memoryBudget) { done, total in
        // Copies read from disk arrive in one jump; the rate and ETA count the computed ones (one batch a call).
        if let last = meter?.done, done - last <= cacheBatch { meter!.update(done: done) } else { meter = ProgressMeter(total: total, done: done) }
        self.options.progress?(.cacheProgress(meter!))
        try stopDuringCache(done, total)
      })
      if !part.validation.samples.isEmpty {
        validationCaches.append((part.name, try PrefixCache(
          model: model, dataset: part.validation, transform: transform, variants: 1, seed: config.seed, batchSize: cacheBatch,
          folder: options.cacheFolder, key: plainKey, augmentedKey: augmentedKey, budget: memoryBudget, progress: stopDuringCache),
          part.validation.samples.count))
      }
      say("")
    }
    let cacheSeconds = Date().timeIntervalSince(cacheStart)
    let stored = (trainCaches + validationCaches.map(\.cache)).reduce(0) { $0 + $1.storedCount }
    let inMemory = trainCaches.reduce(0) { $0 + $1.byteCount }
    say(String(format: "  cached in %.0f s (%.0f MB in memory)", cacheSeconds, Double(inMemory) / 1e6) +
        (stored == 0 ? "" : String(format: "; %d copies past the %.0f MB memory budget (HSPSAM_PREFIX_MEMORY_MB) are read from %@ per batch",
                                   stored, Double(options.prefixMemoryBytes) / 1e6, options.cacheFolder?.path ?? "")))
    return (trainCaches, validationCaches, cacheSeconds, stored)
  }

  /// The line for a loss that is no longer finite: whether `last` holds an earlier state, from which step, whether
  /// its weights still look trainable, and what to change (a resume keeps the configuration, so a new run is needed).
  static func nonFiniteLoss(_ value: Double, epoch: Int, step: Int, last: String,
                            saved: (step: Int, epoch: Int, largestWeight: Double)?, config: TrainingConfig) -> TrainingError {
    let what = "loss became \(value) at epoch \(epoch), step \(step): stopped"
    let change = String(format: "learningRate (now %g) or gradientClip (now %g)", config.learningRate, config.gradientClip)
    guard let saved else {
      return TrainingError("\(what); nothing was saved (the first \(last) is written at the end of epoch 1): start again with a lower \(change)")
    }
    let from = "\(last) holds step \(saved.step) (epoch \(saved.epoch))"
    if !saved.largestWeight.isFinite || saved.largestWeight > 1e4 {
      return TrainingError(String(format: "%@; %@, but its largest trained weight is %.1e, so it would diverge again: start again " +
                                  "with a lower %@", what, from, saved.largestWeight, change))
    }
    return TrainingError("\(what); \(from): start a new run from it with a lower \(change) (--resume keeps the configuration), " +
                         "e.g. hspsam train --init \(last) with this run's data and --config files plus --config '{\"learningRate\": " +
                         "\(config.learningRate / 2)}'")
  }

  /// One epoch's sample order over the union of datasets: dataset d contributes `draws[d]` of its `sizes[d]`
  /// samples (whole shuffled passes, then a seeded subset), everything shuffled together. With one dataset of
  /// weight 1 this is a plain shuffle of all samples.
  static func epochOrder(sizes: [Int], offsets: [Int], draws: [Int], using generator: inout SplitMix64) -> [Int] {
    var order: [Int] = []
    for (d, size) in sizes.enumerated() {
      var remaining = draws[d]
      while remaining > 0 {
        var pass = Array(offsets[d]..<(offsets[d] + size))
        if sizes.count > 1 || remaining < size { pass.shuffle(using: &generator) }
        order += pass.prefix(remaining)
        remaining -= Swift.min(remaining, size)
      }
    }
    order.shuffle(using: &generator)
    return order
  }

  /// Mean per-image Dice@0.5 in the 256 frame (padding excluded by the mask's zeros). One class: its Dice (1 where
  /// neither map has it). Several: the mean Dice of the classes either map has (`ClassDiceAccumulator`), so `best`
  /// is a model that tells its classes apart, not one that only finds foreground.
  func validate(model: HSPSAM, cache: PrefixCache, count: Int) throws -> Double {
    model.eval()
    var total = 0.0
    try Torch.withNoGrad {
      for start in stride(from: 0, to: count, by: 8) {
        let picks = (start..<Swift.min(start + 8, count)).map { (sample: $0, variant: 0) }
        let (prefix, masks) = try cache.batch(picks, on: options.device)
        let (logits, _) = try model.decode(features: model.encodeLevels(from: prefix))
        let prediction = try logits.argmax(dim: 1)
        for i in 0..<picks.count {
          let dice = ClassDiceAccumulator.perClass(prediction: try prediction[i].toArray(UInt8.self),
                                                   truth: try masks[i].toArray(UInt8.self), classCount: model.outputs)
            .compactMap { $0 }
          total += dice.isEmpty ? 1 : dice.reduce(0, +) / Double(dice.count)
        }
      }
    }
    return total / Double(count)
  }
}

extension Tensor {
  /// Class-index masks (B, H, W) resized (nearest) to the spatial size of `logits` (B, C, h, w): the level
  /// decoders' targets when their output is smaller than the input (SAM at 1024: 256).
  func resizedNearest(like logits: Tensor) throws -> Tensor {
    let size = (logits.size(2), logits.size(3))
    if size == (self.size(1), self.size(2)) { return self }
    return try unsqueeze(1).to(.float32).interpolate(size: size, mode: .nearest).squeeze(1).to(.int64)
  }
}

/// The epochs already logged (a resumed run's plot continues them).
func readHistory(_ log: URL) -> [ProgressPlot.Point] {
  guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
  return text.split(separator: "\n").compactMap { line in
    guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
          let epoch = object["epoch"] as? Int, let loss = object["loss"] as? Double, let lr = object["lr"] as? Double
    else { return nil }
    return ProgressPlot.Point(epoch: epoch, loss: loss, learningRate: lr, validationDice: object["validationDice"] as? Double)
  }
}

/// The largest absolute value among trained tensors: how far a state has drifted before a loss turned non-finite.
func largestWeight(_ parameters: [(name: String, tensor: Tensor)]) throws -> Double {
  try Torch.withNoGrad { try parameters.map { try $0.tensor.abs().max().item() }.max() ?? 0 }
}

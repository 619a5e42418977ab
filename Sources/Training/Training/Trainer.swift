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
    /// Bytes free on the disk holding a folder (nil: unknown): the cache checks, after its first copy is written,
    /// that the disk holds the rest. Tests pass their own.
    public var freeDiskBytes: @Sendable (URL) -> Int? = { PrefixCache.freeBytes($0) }
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
    /// The ranks of a data-parallel run (`ProcessGroup`): each takes its share of every epoch and of the validation,
    /// gradients are averaged after each backward, rank 0 alone writes the run folder. nil: this process alone.
    public var processGroup: ProcessGroup?
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

  /// How long the ranks of a data-parallel run wait for each other's share of the prefix cache.
  static let cacheBarrierTimeout: Double = 4 * 3600

  public init(config: TrainingConfig, options: Options) {
    self.config = config
    self.options = options
  }

  func say(_ text: String) { options.progress?(.message(text)) }

  public func run() throws -> Summary {
    let started = Date()
    let out = URL(fileURLWithPath: options.output)
    let lastPath = out.appendingPathComponent("last.safetensors").path
    let configPath = out.appendingPathComponent("config.json").path
    if !options.resume && FileManager.default.fileExists(atPath: lastPath) { throw TrainingError.runExists(folder: options.output) }
    guard !(options.resume && options.initialWeights != nil) else { throw TrainingError.initialWeightsWithResume }
    let resumeState = try options.resume ? resumedState(lastPath: lastPath, configPath: configPath) : nil
    let initial = try options.initialWeights.map(initialWeights)
    let (parts, skipped) = try trainingParts()
    Torch.threadCount = options.threads ?? ProcessInfo.processInfo.activeProcessorCount
    try Torch.manualSeed(config.seed)
    let model = try HSPSAM(config: config.model, base: config.loadBase(checkpoint: options.baseCheckpoint))
    try model.to(options.device)
    let baseBytes = try TrainingConfig.baseBytes(options.baseCheckpoint)
    if let initial {
      try RunCheckpoint.restore(initial.tensors, into: model, source: initial.path)
      say("starting from the weights of \(initial.path)")
    }
    // The run folder is made only once the data and the weights opened: a bad dataset, base checkpoint or initial
    // weights leave nothing behind.
    if (options.processGroup?.rank ?? 0) == 0 { try prepareRunFolder(out, configPath: configPath, parts: parts, skipped: skipped) }

    // Ctrl-C or SIGTERM from here on: during the prefix cache it stops after the batch under way (every copy
    // computed so far is already in its file, so running the same command again goes on from there); during
    // training after the step under way, with `last` saved.
    let stopRequest = StopRequest()
    defer { stopRequest.restore() }
    let transform = HSPSAMInput(config).transform(augmentation: config.augmentation)
    let (trainCaches, validationCaches, cacheSeconds, stored) = try cachePrefixes(
      parts: parts, model: model, transform: transform, baseBytes: baseBytes) { done, total in
      guard let name = StopRequest.received else { return }
      self.say("")
      throw TrainingError.interruptedDuringCache(signal: name, done: done, total: total, cacheFolder: self.options.cacheFolder?.path)
    }
    // Draws per epoch: each dataset contributes round(weight x size) samples (at least one).
    var offsets: [Int] = [], offset = 0
    for cache in trainCaches { offsets.append(offset); offset += cache.examples.count }
    let draws = TrainingLoop.Draws(
      cache: PrefixCache(concatenating: trainCaches), sizes: trainCaches.map(\.examples.count), offsets: offsets,
      perEpoch: zip(trainCaches, parts).map { Swift.max(1, Int((Double($0.0.examples.count) * $0.1.source.weight).rounded())) })

    let step = try TrainingStep(model: model, config: config, processGroup: options.processGroup)
    var metadata = RunCheckpoint.Metadata(epoch: 0, step: 0, bestValidationDice: -1, validationDice: nil, config: config,
                                          baseCheckpoint: URL(fileURLWithPath: options.baseCheckpoint).lastPathComponent,
                                          baseCheckpointBytes: baseBytes,
                                          initializedFrom: initial?.path ?? resumeState?.metadata.initializedFrom)
    if let state = resumeState {
      try restore(state, into: step, from: lastPath)
      (metadata.epoch, metadata.step, metadata.bestValidationDice) = (state.metadata.epoch, state.metadata.step, state.metadata.bestValidationDice)
    }
    // Every rank starts from rank 0's weights (seeded alike already; this makes it so whatever the seed did).
    if let group = step.processGroup {
      try group.broadcast(try model.trainableParameters().map { try $0.tensor.detach() })
    }
    let loop = try TrainingLoop(config: config, options: options, trainingStep: step, draws: draws, validationCaches: validationCaches,
                                folder: out, metadata: metadata, started: started, resumed: resumeState?.metadata)
    if let saved = resumeState?.metadata {
      let ranks = (saved.worldSize ?? 1) == loop.worldSize ? ""
        : " (saved by \(saved.worldSize ?? 1) process(es) at step \(saved.step), continued by \(loop.worldSize))"
      say("resuming at epoch \(loop.metadata.epoch + 1), step \(loop.step)" + ranks)
    }
    let trainSeconds = try loop.run()
    return Summary(steps: loop.step, epochs: loop.metadata.epoch, bestValidationDice: loop.bestDice,
                   seconds: Date().timeIntervalSince(started), cacheSeconds: cacheSeconds,
                   imagesPerSecond: Double(loop.meter.done) / Swift.max(trainSeconds, 1e-9), storedCopies: stored)
  }

  /// Makes the run folder and writes what describes the run before its first step: the configuration, the pairs
  /// left out (`skipped.txt` with `skipInvalid`) and each dataset's held-out stems. A checkpoint write killed
  /// (kill -9) left its hidden temporary behind: cleared here.
  func prepareRunFolder(_ out: URL, configPath: String, parts: [TrainingPart], skipped: [FileError]) throws {
    do {
      try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    } catch {
      throw TrainingError.cannotMakeRunFolder(options.output, reason: (error as? CocoaError)?.reason ?? error.localizedDescription)
    }
    for name in TemporaryFiles.removeStale(in: out) { say("removed \(name), left by an interrupted write") }
    try writeAtomically(try config.json(), to: configPath)
    // The pairs left out change the validation split: the run folder lists them (empty: none), rewritten by each
    // skipInvalid start, so a resumed run whose files were mended since does not keep a stale list.
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
  }

  /// A resumed run's weights, optimiser state and weight average, from `last`.
  func restore(_ state: (metadata: RunCheckpoint.Metadata, model: [String: Tensor], optimizer: [String: Tensor]),
               into step: TrainingStep, from lastPath: String) throws {
    try RunCheckpoint.restore(state.model, into: step.model, source: lastPath)
    try step.optimizer.loadState(state.optimizer)
    if let average = step.average {
      let prefix = RunCheckpoint.averagePrefix
      try average.loadState(state.optimizer.filter { $0.key.hasPrefix(prefix) }
        .reduce(into: [:]) { $0[String($1.key.dropFirst(prefix.count))] = $1.value }, source: lastPath)
    }
  }

  /// What `last` holds, for `resume`: the run's metadata, weights and optimiser state, refused when its
  /// configuration is not this run's.
  func resumedState(lastPath: String, configPath: String) throws
    -> (metadata: RunCheckpoint.Metadata, model: [String: Tensor], optimizer: [String: Tensor]) {
    guard FileManager.default.fileExists(atPath: lastPath) else { throw TrainingError.resumeWithoutLast(lastPath) }
    let state = try RunCheckpoint.read(lastPath)
    guard state.metadata.config == config else {
      throw TrainingError.resumeConfigurationDiffers(configFile: configPath)
    }
    return state
  }

  /// The trained weights `initialWeights` names, refused when their base or "model" configuration is not this run's.
  func initialWeights(_ weights: String) throws -> (path: String, tensors: [String: Tensor]) {
    let path = try RunCheckpoint.resolve(weights, parameter: .initialWeights)
    let (metadata, tensors, _) = try RunCheckpoint.read(path)
    try RunCheckpoint.checkBase(metadata, of: path, against: options.baseCheckpoint)
    guard metadata.config.model == config.model else {
      throw TrainingError.initialModelDiffers(checkpoint: path)
    }
    return (path, tensors)
  }
}

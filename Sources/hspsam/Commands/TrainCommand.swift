import ArgumentParser
import Data
import Foundation
import Training

/// `hspsam train`: prompt-free HSP-SAM on a folder dataset.
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train HSP-SAM (LiteMedSAM, or SAM ViT-B/L/H with --base-checkpoint) on images/ + masks/, with a seeded validation split.",
    discussion: """
      The run folder gets config.json, log.jsonl (one line per epoch), best.safetensors (best validation \
      Dice@0.5), last.safetensors (with the optimiser state, for --resume) and validation.txt (the held-out stems, \
      for evaluate --split RUN/validation.txt). Checkpoints hold only the trained \
      tensors; the LiteMedSAM base comes from set-up. Ctrl-C or SIGTERM saves last.safetensors and stops (a \
      second one quits without saving).
      """
  )

  @Option(help: ArgumentHelp("Training configuration: a JSON file, or inline JSON starting with '{'. Missing keys take the defaults; unknown keys are errors.",
                             discussion: "Repeatable: each one is merged key by key over the ones before it, e.g. --config configs/clinicdb-cpu.json --config '{\"model\": {\"promptsPerLevel\": 8}}'."))
  var config: [String] = []
  @Option(name: .customLong("data"), help: "Dataset folder with images/ and masks/, or NAME=DIR; repeat to train on several (their union).")
  var datasets: [String]
  @Option(name: .customLong("weight"), help: "NAME=W: draw W x that dataset's size per epoch (default 1; repeatable).")
  var weights: [String] = []
  @OptionGroup var maskRules: MaskRuleOptions
  @Option(help: "Split file inside each dataset folder (e.g. train.txt).") var split: String?
  @Option(help: "Fraction of the training samples held out for validation.") var valFraction = 0.1
  @Option(help: "Run folder.") var out: String
  @Flag(help: "Continue the run in --out from last.safetensors.") var resume = false
  @Option(name: .customLong("init"), help: ArgumentHelp(
    "Start from a trained checkpoint's weights (run folder or .safetensors), with a fresh optimiser and schedule.",
    discussion: "Fine-tuning, e.g. the shipped model on a new centre's images. Without --config the checkpoint's own training configuration is used; with --config its \"model\" section must equal the checkpoint's. Keep the checkpoint's --seed and --split on its own data, or its training images may land in this run's validation split."))
  var initFrom: String?
  @Option(help: "Override the configuration's seed.") var seed: UInt64?
  @Option(help: "Override the configuration's epochs.") var epochs: Int?
  @Option(help: "Stop after this many optimiser steps (for benchmarks).") var maxSteps: Int?
  @Option(help: "Intra-op threads (default: every core; 1 for each of two runs sharing a 2-core machine).") var threads: Int?
  @Option(help: ArgumentHelp("Train as N data-parallel processes on this machine (libtorch's c10d, Gloo), each with its share of the cores.",
                             discussion: "Each process takes every N-th sample of an epoch and the gradients are averaged after each step, so N processes with --config's batchSize b train as one with batch N x b. torchrun --no-python --nproc-per-node N hspsam train ... and Slurm work too: the ranks read RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT."))
  var nprocPerNode: Int?
  @Option(help: "Also save last.safetensors within an epoch once this many minutes have passed since it was saved (0: at epoch ends only).")
  var saveMinutes: Double = 5
  @Flag(help: ArgumentHelp("Leave out image/mask pairs that cannot be read (named on stderr and in --out's skipped.txt) instead of stopping at the first.",
                           discussion: "Every pair is decoded once before the run to find them (a file cut short after its header too). The validation split is drawn from the pairs left."))
  var skipInvalid = false
  @Flag(help: "Also keep the model at every validation as epoch-N.safetensors in --out (to average them with hspsam average).")
  var keepCheckpoints = false
  @Option(help: "Base weights: LiteMedSAM (default: the set-up copy), SAM's for a vit_b/l/h backbone, or 'random' (seeded random weights, for checks of the arithmetic).")
  var baseCheckpoint: String?
  @OptionGroup var deviceOptions: DeviceOptions
  @OptionGroup var pixelLimit: PixelLimitOptions

  func validate() throws {
    guard !datasets.isEmpty else { throw ValidationError("give at least one --data") }
    for entry in weights {
      let (name, value) = DatasetArgument.parse(entry)
      guard name != nil, let w = Double(value), w > 0, w.isFinite else {
        throw ValidationError("--weight '\(entry)': expected NAME=W with W > 0")
      }
    }
    guard (0..<1).contains(valFraction) else { throw ValidationError("--val-fraction must be in [0, 1)") }
    if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
    if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps must be at least 1") }
    if let threads, !(1...1024).contains(threads) { throw ValidationError("--threads must be 1...1024, got \(threads)") }
    guard saveMinutes >= 0, saveMinutes.isFinite else { throw ValidationError("--save-minutes must be 0 or more, got \(saveMinutes)") }
    if isFile(out) { throw ValidationError("--out \(out) is a file, not a run folder") }
    if let nprocPerNode, !(1...256).contains(nprocPerNode) { throw ValidationError("--nproc-per-node must be 1...256, got \(nprocPerNode)") }
  }

  func run() throws {
    let launch = try DistributedLaunch.fromEnvironment()
    if let nprocPerNode, nprocPerNode > 1, launch == nil {
      // This process only starts the ranks: the same command without --nproc-per-node, in their environment.
      var arguments = Array(CommandLine.arguments.dropFirst())
      if let index = arguments.firstIndex(of: "--nproc-per-node") { arguments.removeSubrange(index...index + 1) }
      arguments.removeAll { $0.hasPrefix("--nproc-per-node=") }
      let cores = ProcessInfo.processInfo.activeProcessorCount
      let status = try LocalLauncher.run(processes: nprocPerNode, arguments: arguments, threadsPerProcess: Swift.max(1, cores / nprocPerNode))
      if status != 0 { throw ExitCode(status) }
      return
    }
    pixelLimit.apply()
    var settings = TrainingConfig()
    if !config.isEmpty {
      let layers = try config.map { entry -> (data: Data, source: String) in
        if entry.trimmingCharacters(in: .whitespaces).hasPrefix("{") { return (Data(entry.utf8), "--config") }
        guard let data = FileManager.default.contents(atPath: entry) else { throw CommandError.option("--config", reason: "\(entry): cannot be read") }
        return (data, entry)
      }
      settings = try TrainingConfig.decode(layers: layers)
    } else if resume, let saved = FileManager.default.contents(atPath: URL(fileURLWithPath: out).appendingPathComponent("config.json").path) {
      settings = try TrainingConfig.decode(saved, source: out + "/config.json")
    } else if let initFrom {
      settings = try RunCheckpoint.read(RunCheckpoint.resolve(initFrom, parameter: .initialWeights)).metadata.config
    }
    if let seed { settings.seed = seed }
    if let epochs { settings.epochs = epochs }
    try settings.validate()
    guard let base = baseCheckpoint ?? (settings.model.backbone == .litemedsam ? Paths.liteMedSAMWeights : nil) else {
      let file = settings.model.backbone.checkpointName
      throw CommandError.baseWeightsRequired(backbone: settings.model.backbone.rawValue, example: file)
    }
    guard base == TrainingConfig.randomBase || FileManager.default.fileExists(atPath: base) else {
      throw CommandError.missingWeights(base)
    }
    let named = DatasetArgument.resolve(datasets), names = named.map(\.name)
    let encodings = try maskRules.encodings(names: names, default: .binary)
    var sources = zip(named, encodings).map { Trainer.DataSource(folder: $0.0.folder, name: $0.0.name, encoding: $0.1) }
    for entry in weights {
      let (name, weight) = DatasetArgument.parse(entry)  // validate() checked NAME=W
      sources[try DatasetArgument.index(of: name ?? "", in: names, option: "--weight \(entry)")].weight = Double(weight)!
    }
    var options = Trainer.Options(datasets: sources, output: out, baseCheckpoint: base)
    options.split = split
    options.validationFraction = valFraction
    options.resume = resume
    options.initialWeights = initFrom
    options.maxSteps = maxSteps
    options.keepCheckpoints = keepCheckpoints
    options.skipInvalid = skipInvalid
    options.threads = threads
    options.saveInterval = saveMinutes > 0 ? saveMinutes * 60 : nil
    options.device = try deviceOptions.resolve(localRank: launch?.localRank)
    options.progress = Self.show
    if let launch {
      options.processGroup = try launch.join()
      // Ranks on one machine read every cached copy from its file: the system's page cache then holds one copy of
      // each for all of them, where copies held in memory are held once per rank (two ranks on ClinicDB: 14.4 GB
      // against 17.4; docs/distributed.md). Reading a copy per batch costs no speed (docs/usage.md). A budget set
      // with HSPSAM_PREFIX_MEMORY_MB is shared by the ranks instead.
      if launch.localWorldSize > 1 {
        let budgetSet = ProcessInfo.processInfo.environment["HSPSAM_PREFIX_MEMORY_MB"] != nil
        options.prefixMemoryBytes = budgetSet ? options.prefixMemoryBytes / launch.localWorldSize : 0
      }
      if options.threads == nil { options.threads = Swift.max(1, ProcessInfo.processInfo.activeProcessorCount / launch.localWorldSize) }
      if launch.rank != 0 { options.progress = nil }  // rank 0 speaks for the run; the others' errors still print
    }
    let summary = try Trainer(config: settings, options: options).run()
    guard (launch?.rank ?? 0) == 0 else { return }
    // A run stopped before its first validation (--max-steps, an early Ctrl-C) has no validation Dice to show.
    let validation = summary.bestValidationDice >= 0 ? String(format: "best validation Dice@0.5 %.4f", summary.bestValidationDice)
      : "not validated yet (stopped before the first validation)"
    print(String(format: "trained %d steps (%d epochs) in %.0f s (prefix cache %.0f s); %.2f images/s; ",
                 summary.steps, summary.epochs, summary.seconds, summary.cacheSeconds, summary.imagesPerSecond) + validation)
    print("checkpoints: \(out)/best.safetensors, \(out)/last.safetensors")
  }

  /// The run's events on stderr: messages as lines, the cache's and the steps' progress on one line each.
  static func show(_ event: TrainingEvent) {
    let text: String
    switch event {
    case .message(let line): text = line + "\n"
    case .cacheProgress(let meter): text = "\r  prefix \(meter.line())   "
    case .step(let epoch, let epochs, let step, let steps, let loss, let learningRate, let meter):
      text = String(format: "\repoch %d/%d step %d/%d loss %.4f lr %.2e %.2f img/s ETA %@   ", epoch, epochs, step, steps, loss,
                    learningRate, meter.itemsPerSecond ?? 0, formatDuration(meter.secondsLeft ?? .infinity))
    }
    FileHandle.standardError.write(Data(text.utf8))
  }
}

import Data
import Foundation
import Models
import NN
import Tensor

/// The epochs of a run whose model, data and caches `Trainer` has set up: per epoch a seeded order over the
/// weighted union of datasets, the steps (`TrainingStep`), then validation, `best`, `last`, the log line and the
/// plot. `last` is also saved every `Options.saveInterval` and on a signal, with what a resume needs to go on
/// inside the epoch. With a process group, each rank takes its interleaved share of the epoch's order (padded to a
/// multiple of the ranks by repeating its start, as PyTorch's `DistributedSampler`), validation images are shared
/// out and their Dice summed over the ranks, and rank 0 alone writes.
final class TrainingLoop {
  /// The run's training data as the loop draws it: the cached copies of every dataset, concatenated.
  struct Draws {
    var cache: PrefixCache
    /// Each dataset's sample count, where its samples start in `cache`, and how many it contributes per epoch.
    var sizes: [Int], offsets: [Int], perEpoch: [Int]
    var samplesPerEpoch: Int { perEpoch.reduce(0, +) }
  }

  typealias ValidationCache = (name: String, cache: PrefixCache, count: Int)
  typealias SavedState = (step: Int, epoch: Int, largestWeight: Double)

  let config: TrainingConfig
  let options: Trainer.Options
  let trainingStep: TrainingStep
  let draws: Draws
  let validationCaches: [ValidationCache]
  let stepsPerEpoch: Int, totalSteps: Int
  let schedule: WarmupPolynomialSchedule
  let folder: URL, lastPath: String, bestPath: String
  /// The run's log (rank 0 only: the other ranks write nothing).
  let log: FileHandle?
  let rank: Int, worldSize: Int
  var isWriter: Bool { rank == 0 }
  let started: Date
  /// A resumed run's time before this invocation.
  let elapsedBefore: Double
  /// A resumed state saved inside an epoch: that epoch and the sum and count of its step losses so far.
  let resumedInside: (epoch: Int, lossSum: Double, steps: Int)?

  var metadata: RunCheckpoint.Metadata
  var step: Int
  var bestDice: Double
  /// What `last` holds now, for the message of a loss that stops being finite.
  var savedLast: SavedState?
  var lastSaveTime = Date()
  var history: [ProgressPlot.Point]
  /// Images per second over the last 20 steps (a pause stops counting once it is 20 steps old).
  var meter: ProgressMeter

  var model: HSPSAM { trainingStep.model }

  init(config: TrainingConfig, options: Trainer.Options, trainingStep: TrainingStep, draws: Draws,
       validationCaches: [ValidationCache], folder: URL, metadata: RunCheckpoint.Metadata, started: Date,
       resumed: RunCheckpoint.Metadata?) throws {
    self.config = config
    self.options = options
    self.trainingStep = trainingStep
    self.draws = draws
    self.validationCaches = validationCaches
    rank = trainingStep.processGroup?.rank ?? 0
    worldSize = trainingStep.processGroup?.worldSize ?? 1
    stepsPerEpoch = Self.stepsPerEpoch(samples: draws.samplesPerEpoch, batchSize: config.batchSize, worldSize: worldSize)
    totalSteps = stepsPerEpoch * config.epochs
    schedule = WarmupPolynomialSchedule(baseLearningRate: config.learningRate,
                                        warmupSteps: config.warmupIters ?? Swift.min(250, totalSteps / 20),
                                        totalSteps: totalSteps, power: config.lrPower)
    self.folder = folder
    lastPath = folder.appendingPathComponent("last.safetensors").path
    bestPath = folder.appendingPathComponent("best.safetensors").path
    self.started = started
    var metadata = metadata
    var inside = resumed.flatMap { state in state.epochSteps.map { (epoch: state.epoch, lossSum: state.epochLossSum ?? 0, steps: $0) } }
    let savedWorld = resumed?.worldSize ?? 1
    if let resumed, savedWorld != worldSize {
      // Resumed with another number of ranks: the images taken in the epoch under way, in this number's batches
      // (a partial batch is taken again), and the schedule's step at the same place.
      let savedSteps = Self.stepsPerEpoch(samples: draws.samplesPerEpoch, batchSize: config.batchSize, worldSize: savedWorld)
      let taken = Swift.max(0, resumed.step - resumed.epoch * savedSteps)
      let batches = taken * savedWorld / worldSize
      metadata.step = resumed.epoch * stepsPerEpoch + batches
      if let old = inside, old.steps > 0 { inside = (old.epoch, old.lossSum * Double(batches) / Double(old.steps), batches) }
    }
    metadata.worldSize = worldSize > 1 ? worldSize : nil
    resumedInside = inside
    self.metadata = metadata
    step = metadata.step
    bestDice = metadata.bestValidationDice
    elapsedBefore = resumed?.elapsedSeconds ?? 0
    if let resumed { savedLast = (resumed.step, resumed.epoch, try largestWeight(trainingStep.optimizer.parameters)) }
    let logURL = folder.appendingPathComponent("log.jsonl")
    if rank == 0 {
      if !FileManager.default.fileExists(atPath: logURL.path) { _ = FileManager.default.createFile(atPath: logURL.path, contents: nil) }
      log = try FileHandle(forWritingTo: logURL)
      try log?.seekToEnd()
    } else {
      log = nil
    }
    history = readHistory(logURL)
    meter = ProgressMeter(total: ((options.maxSteps ?? totalSteps) - metadata.step) * config.batchSize * worldSize)
  }

  deinit { try? log?.close() }

  /// Optimiser steps per epoch: each rank's share of the epoch's samples (padded to a multiple of the ranks), in
  /// batches.
  static func stepsPerEpoch(samples: Int, batchSize: Int, worldSize: Int) -> Int {
    let share = (samples + worldSize - 1) / worldSize
    return (share + batchSize - 1) / batchSize
  }

  func say(_ text: String) { options.progress?(.message(text)) }

  /// Wall time of the whole run so far (every invocation, prefix cache included).
  func elapsed() -> Double { elapsedBefore + Date().timeIntervalSince(started) }

  /// The epochs left; returns the seconds spent training in this invocation.
  func run() throws -> Double {
    let trainStart = Date()
    model.train()
    for epoch in metadata.epoch..<config.epochs {
      guard let epochLoss = try trainEpoch(epoch) else { break }
      try finishEpoch(epoch, loss: epochLoss)
    }
    if isWriter, !FileManager.default.fileExists(atPath: bestPath) {  // no validation ran (tiny runs): last is the best we know
      try trainingStep.withEvaluatedWeights { try RunCheckpoint.save(model: model, optimizer: nil, metadata: metadata, to: bestPath) }
    }
    say("")
    return Date().timeIntervalSince(trainStart)
  }

  /// The steps of `epoch` (0-based) and their mean loss; nil when `Options.maxSteps` ended the run inside it
  /// (`last` saved).
  func trainEpoch(_ epoch: Int) throws -> Double? {
    var generator = SplitMix64(seed: config.seed &+ UInt64(epoch) &* 1_000_003)
    let order = Trainer.epochOrder(sizes: draws.sizes, offsets: draws.offsets, draws: draws.perEpoch, using: &generator)
    var picks = order.map { (sample: $0, variant: Int.random(in: 0..<config.cachedVariants, using: &generator)) }
    if worldSize > 1 {  // this rank's share: every worldSize-th pick from `rank`, the order padded by its start
      let padded = picks + picks.prefix((worldSize - picks.count % worldSize) % worldSize)
      picks = stride(from: rank, to: padded.count, by: worldSize).map { padded[$0] }
    }
    // Resuming inside an epoch: its order is a function of (seed, epoch), so skip the batches already taken, and
    // go on from the losses of those steps (kept in `last`).
    let alreadyDone = Swift.max(0, step - epoch * stepsPerEpoch)
    var epochLoss = 0.0, batches = 0
    if alreadyDone > 0, let inside = resumedInside, inside.epoch == epoch { (epochLoss, batches) = (inside.lossSum, inside.steps) }
    for (batchIndex, start) in stride(from: 0, to: picks.count, by: config.batchSize).enumerated() where batchIndex >= alreadyDone {
      if let maxSteps = options.maxSteps, step >= maxSteps {
        recordMidEpoch(epoch, epochLoss: epochLoss, batches: batches)
        try saveLast()
        return nil
      }
      let chunk = Array(picks[start..<Swift.min(start + config.batchSize, picks.count)])
      let (prefix, masks) = try draws.cache.batch(chunk, on: options.device)
      let value = try trainingStep.take(prefix: prefix, masks: masks, learningRate: schedule.learningRate(atStep: step))
      guard value.isFinite else {
        throw Trainer.nonFiniteLoss(value, epoch: epoch + 1, step: step + 1, last: lastPath, saved: savedLast, config: config)
      }
      step += 1
      batches += 1
      epochLoss += value
      meter.update(done: meter.done + chunk.count * worldSize)  // images trained on in this invocation, all ranks
      options.progress?(.step(epoch: epoch + 1, epochs: config.epochs, step: step, steps: totalSteps, loss: value,
                              learningRate: trainingStep.optimizer.learningRate, meter: meter))
      if try stopRequested() {
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
    return epochLoss / Double(Swift.max(batches, 1))
  }

  /// After an epoch's steps: validation when due (`best`, kept checkpoints), `last`, the log line, the plot, the
  /// message; then stops if a signal came meanwhile.
  func finishEpoch(_ epoch: Int, loss epochLoss: Double) throws {
    let validation = try validateIfDue(epoch)
    metadata.validationDice = validation?.dice
    try saveLast()
    // The rate of the epoch's last step: a run resumed at the end of an epoch takes no step in it before logging.
    let epochLearningRate = schedule.learningRate(atStep: Swift.max(step - 1, 0))
    var line: [String: Any] = ["epoch": epoch + 1, "step": step, "loss": epochLoss, "lr": epochLearningRate,
                               "seconds": Date().timeIntervalSince(started), "elapsed": elapsed()]
    if let validation {
      line["validationDice"] = validation.dice
      if validation.perDataset.count > 1 { for (name, dice) in validation.perDataset { line["validationDice.\(name)"] = dice } }
    }
    history.append(.init(epoch: epoch + 1, loss: epochLoss, learningRate: epochLearningRate, validationDice: validation?.dice))
    if let log {
      log.write(try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) + Data("\n".utf8))
      let plot = ProgressPlot.render(history)
      try ImageIO.writePNG(plot.rgb, width: plot.width, height: plot.height, channels: 3,
                           to: folder.appendingPathComponent("progress.png").path)
    }
    if let validation {
      let rows = validation.perDataset.count > 1
        ? " [" + validation.perDataset.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }.joined(separator: ", ") + "]"
        : ""
      say(String(format: "\nepoch %d: validation Dice@0.5 %.4f%@ (best %.4f)", epoch + 1, validation.dice, rows, bestDice))
    }
    try stopOnSignal(save: false)  // a signal during the validation: the epoch's `last` is already written
  }

  /// Validation after `epoch` when it is due (every `validateEvery` epochs and after the last), with the averaged
  /// weights when `emaDecay` is set; saves `best` when it improved and `epoch-N` when checkpoints are kept.
  func validateIfDue(_ epoch: Int) throws -> (dice: Double, perDataset: [String: Double])? {
    guard !validationCaches.isEmpty, (epoch + 1) % config.validateEvery == 0 || epoch + 1 == config.epochs else { return nil }
    return try trainingStep.withEvaluatedWeights {
      // Best is chosen by the mean over every validation image (datasets weighted by their size).
      var total = 0.0, count = 0
      var perDataset: [String: Double] = [:]
      for entry in validationCaches {
        let dice = try validate(cache: entry.cache, count: entry.count)
        perDataset[entry.name] = dice
        total += dice * Double(entry.count)
        count += entry.count
      }
      model.train()
      let dice = total / Double(count)
      metadata.validationDice = dice
      if dice > bestDice {
        bestDice = dice
        metadata.bestValidationDice = dice
        if isWriter { try RunCheckpoint.save(model: model, optimizer: nil, metadata: metadata, to: bestPath) }
      }
      if options.keepCheckpoints, isWriter {
        try RunCheckpoint.save(model: model, optimizer: nil, metadata: metadata,
                               to: folder.appendingPathComponent("epoch-\(epoch + 1).safetensors").path)
      }
      return (dice, perDataset)
    }
  }

  /// Whether a signal asked this run to stop; with a process group, whether it reached any rank, so that every
  /// rank stops after the same step.
  func stopRequested() throws -> Bool {
    let here = StopRequest.received != nil
    guard let group = trainingStep.processGroup else { return here }
    return try group.sum([here ? 1 : 0])[0] > 0
  }

  func saveLast() throws {
    if isWriter {
      try RunCheckpoint.save(model: model, optimizer: trainingStep.optimizer, average: trainingStep.average, metadata: metadata, to: lastPath)
    }
    savedLast = (metadata.step, metadata.epoch, try largestWeight(trainingStep.optimizer.parameters))
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
    guard try stopRequested() else { return }
    let name = StopRequest.received ?? "a signal to another rank"
    if save { try saveLast() }
    say("")  // ends the progress line
    throw TrainingError.interrupted(signal: name, step: step, last: lastPath)
  }

  /// Mean per-image Dice@0.5 in the 256 frame (padding excluded by the mask's zeros). One class: its Dice (1 where
  /// neither map has it). Several: the mean Dice of the classes either map has (`ClassDiceAccumulator`), so `best`
  /// is a model that tells its classes apart, not one that only finds foreground.
  /// With a process group each rank scores every worldSize-th image and the sums meet in one all-reduce.
  func validate(cache: PrefixCache, count: Int) throws -> Double {
    model.eval()
    var total = 0.0
    let mine = Array(stride(from: rank, to: count, by: worldSize))
    try Torch.withNoGrad {
      for start in stride(from: 0, to: mine.count, by: 8) {
        let picks = mine[start..<Swift.min(start + 8, mine.count)].map { (sample: $0, variant: 0) }
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
    if let group = trainingStep.processGroup { total = try group.sum([total])[0] }
    return total / Double(count)
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

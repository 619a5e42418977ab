import ArgumentParser
import Foundation
import Models
import NN
import Tensor
import Training

/// `hspsam bench hsp`: where an HSP-SAM training step and a prediction spend their time (LiteMedSAM base).
struct HSPBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "hsp",
    abstract: "HSP-SAM: prefix cost, training step (forward + backward + AdamW) by part, prediction time, peak memory."
  )

  @Option(help: "Batch size of the training step.") var batchSize = 8
  @Option(help: "Timed runs per workload.") var runs = 3
  @Option(help: "Intra-op threads.") var threads = 2
  @Option(parsing: .upToNextOption, help: "Levels whose prompts enter the encoder (1...3; default: the model default, [3]).")
  var promptedLevels: [Int] = HSPSAMConfig().promptedLevels
  @Option(help: "LoRA placement: \(HSPSAMConfig.LoRABlocks.choices).") var loraBlocks = HSPSAMConfig().loraBlocks
  @Option(help: "Two-way layers of each level decoder (1 or 2; default: the model default, 1).")
  var levelDecoderDepth: Int = HSPSAMConfig().levelDecoderLayers
  @Option(help: "Training loss: structure (the default) or ce-dice.") var loss = TrainingConfig().loss
  @Flag(help: "After the timings, time one more whole training step op by op (self time per libtorch op).")
  var profile = false
  @Flag(help: "Print JSON lines instead of a table (scripts/bench.sh hsp sets it and runs the PyTorch reference beside).")
  var json = false
  @OptionGroup var deviceOptions: DeviceOptions
  @Option(help: "Base weights: LiteMedSAM's (default: the set-up copy) or 'random' (seeded random weights: the same arithmetic, no file needed).")
  var baseCheckpoint: String?
  @Flag(help: "Also run one prediction on the CPU and report the largest difference of the device's logits from it.")
  var compareCPU = false

  func run() throws {
    Torch.threadCount = threads
    try Torch.manualSeed(0)
    let weights = baseCheckpoint ?? Paths.liteMedSAMWeights
    guard weights == TrainingConfig.randomBase || FileManager.default.fileExists(atPath: weights) else {
      throw CommandError.missingWeights(weights)
    }
    let device = try deviceOptions.resolve()
    var config = HSPSAMConfig()
    config.promptedLevels = promptedLevels
    config.loraBlocks = loraBlocks
    config.levelDecoderDepth = levelDecoderDepth
    var training = TrainingConfig()  // the trainer's defaults: its loss, deep supervision, AdamW, gradient clipping
    training.model = config
    training.loss = loss
    let model = try HSPSAM(config: config, base: training.loadBase(checkpoint: weights))
    try model.to(device)
    // Results are read back to the host after each timed call (`item`), so a device's queued work is in the time.
    let timer = BenchTimer(warmup: 1)
    let b = batchSize
    let images = try Tensor.rand([b, 3, 256, 256]).to(device)
    let target = try Tensor.rand([b, 256, 256]).gt(0.7).to(.int64).to(device)
    var rows: [BenchResult] = []
    let prefix = try model.encodePrefix(images)
    rows.append(try timer.measure("prefix (frozen, cached once) per image", flop: 0, runs: runs, perItem: b) {
      _ = try model.encodePrefix(images).tokens.sum().item()
    })
    model.train()
    let trainingStep = try TrainingStep(model: model, config: training)  // what `hspsam train` runs per batch
    rows.append(try timer.measure("encoder tail fwd+bwd per image", flop: 0, runs: runs, perItem: b) {
      try model.encodeLevels(from: prefix).map { try $0.sum() }.reduce(try Tensor.zeros([]).to(device), +).backward()
      _ = try model.trainableParameters()[0].tensor.grad?.sum().item()
    })
    let features = try model.encodeLevels(from: prefix).map { try $0.detach() }
    rows.append(try timer.measure("decoders fwd+bwd per image", flop: 0, runs: runs, perItem: b) {
      let (logits, levels) = try model.decode(features: features)
      try training.trainingLoss(logits: logits, levelLogits: levels, target: target).backward()
      _ = try model.trainableParameters().last?.tensor.grad?.sum().item()
    })
    func step() throws { try trainingStep.take(prefix: prefix, masks: target, learningRate: training.learningRate) }
    rows.append(try timer.measure("whole training step per image", flop: 0, runs: runs, perItem: b) { try step() })
    if profile {
      let (_, table) = try OpProfiler.profile(rows: 40) { try step() }
      FileHandle.standardError.write(Data("one whole training step, batch \(b), op by op:\n\(table)".utf8))
    }
    model.eval()
    let one = try Tensor.rand([1, 3, 256, 256]), oneOnDevice = try one.to(device)  // copied once, not in the timing
    rows.append(try timer.measure("prediction, one image", flop: 0, runs: runs) {
      _ = try Torch.withNoGrad { try model(oneOnDevice).logits.sum().item() }
    })
    if b > 1 {
      let batch = try Tensor.rand([b, 3, 256, 256]).to(device)
      rows.append(try timer.measure("prediction per image, batch \(b)", flop: 0, runs: runs, perItem: b) {
        _ = try Torch.withNoGrad { try model(batch).logits.sum().item() }
      })
    }
    var cpuDifference: Double?
    if compareCPU {
      // The same weights and input on the CPU: the device's arithmetic against libtorch's CPU kernels.
      let onDevice = try Torch.withNoGrad { try model(oneOnDevice).logits.to(.cpu) }
      try model.to(.cpu)
      let onCPU = try Torch.withNoGrad { try model(one).logits }
      cpuDifference = try (onDevice - onCPU).abs().max().item()
      try model.to(device)
    }
    let trained = model.trainableParameters().reduce(0) { $0 + $1.tensor.count }
    let peak = peakResidentMegabytes()
    if json {
      for r in rows { print(r.json) }
      print("{\"name\": \"trained parameters\", \"value\": \(trained)}")
      print("{\"name\": \"peak RSS MB\", \"value\": \(peak)}")
      if let cpuDifference { print("{\"name\": \"largest logit difference from the CPU\", \"value\": \(cpuDifference)}") }
      return
    }
    print("hspsam bench hsp: device \(deviceOptions.device), base \(weights == TrainingConfig.randomBase ? "random" : "LiteMedSAM"), prompted levels \(promptedLevels), LoRA \(loraBlocks.rawValue), level decoder depth \(levelDecoderDepth), loss \(loss.rawValue), batch \(b), \(threads) threads, \(trained) trained parameters")
    for r in rows { print(r.row) }
    print(String(format: "training images/s (whole step): %.2f; peak resident memory: %.0f MB", 1 / rows[3].seconds, peak))
    if let cpuDifference { print(String(format: "device %@: largest logit difference from the CPU %.2e", deviceOptions.device, cpuDifference)) }
  }
}

extension HSPSAMConfig.LoRABlocks: ExpressibleByArgument {}
extension TrainingConfig.LossKind: ExpressibleByArgument {}

import Models
import NN
import Tensor

/// One optimiser step of HSP-SAM from a batch of cached prefixes: the trainable encoder tail and decoders forward,
/// the configured loss (deep supervision over the level decoders), backward, gradient clipping, AdamW, and the
/// weight average when the configuration keeps one. `Trainer` takes its steps here and `hspsam bench hsp` times
/// this same step, so the benchmark measures what training runs.
public final class TrainingStep {
  public let model: HSPSAM
  public let config: TrainingConfig
  public let optimizer: AdamW
  /// The exponential moving average of the trained weights (`TrainingConfig.emaDecay`), nil when none is kept.
  public let average: ExponentialMovingAverage?
  /// The ranks training together (data parallel): the loss and the gradients are averaged over them, so every
  /// rank takes the same step; nil: this process alone.
  public let processGroup: ProcessGroup?
  /// With a process group, DDP's bucketed all-reduce of the gradients, overlapped with the backward.
  let reducer: GradientReducer?

  public init(model: HSPSAM, config: TrainingConfig, processGroup: ProcessGroup? = nil) throws {
    self.model = model
    self.config = config
    self.processGroup = processGroup.flatMap { $0.worldSize > 1 ? $0 : nil }
    let optimizer = AdamW(model.trainableParameters(), learningRate: config.learningRate, weightDecay: config.weightDecay)
    optimizer.decayExempt = config.weightDecayExempt(optimizer.parameters)
    self.optimizer = optimizer
    // `findUnused`: a parameter the loss does not reach in some configuration keeps no gradient, as alone.
    reducer = try self.processGroup.map { try GradientReducer(optimizer.parameters.map(\.tensor), group: $0, findUnused: true) }
    average = try config.emaDecay.map { try ExponentialMovingAverage(optimizer.parameters, decay: $0) }
  }

  /// Takes one step at `learningRate` on `prefix` (the frozen encoder's cached output) against class-index `masks`
  /// and returns the loss (with a process group, its mean over the ranks, so every rank sees the same value). A
  /// loss that is not finite is returned with nothing updated (the caller stops the run).
  @discardableResult
  public func take(prefix: EncoderPrefix, masks: Tensor, learningRate: Double) throws -> Double {
    optimizer.learningRate = learningRate
    try optimizer.zeroGrad()
    let (logits, levelLogits) = try model.decode(features: model.encodeLevels(from: prefix))
    let loss = try config.trainingLoss(logits: logits, levelLogits: levelLogits, target: masks)
    var value = try loss.item()
    if let processGroup { value = try processGroup.sum([value])[0] / Double(processGroup.worldSize) }
    guard value.isFinite else { return value }
    // With a process group the backward returns the mean of the ranks' batch-mean gradients (with equal shards,
    // the gradient of the whole global batch), reduced in buckets while it ran.
    try reducer?.prepare(outputs: [loss])
    try loss.backward()
    try clipGradNorm(optimizer.parameters.map(\.tensor), maxNorm: config.gradientClip)
    try optimizer.step()
    try average?.update()
    return value
  }

  /// Runs `body` with the averaged weights in the model when an average is kept (validation, `best`, kept
  /// checkpoints), else with the trained weights.
  public func withEvaluatedWeights<R>(_ body: () throws -> R) throws -> R {
    if let average { return try average.withAveragedWeights(body) }
    return try body()
  }
}

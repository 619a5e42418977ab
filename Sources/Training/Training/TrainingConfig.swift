import Data
import Foundation
import NN
import Models
import Tensor

/// Everything a training run depends on, saved as `config.json` in the run folder. Defaults are our
/// LiteMedSAM-on-CPU choices (docs/model.md 4). Unknown keys are rejected so a typo never silently trains the default.
public struct TrainingConfig: Codable, Equatable, Sendable {
  public var model = HSPSAMConfig()
  /// The square model input: 256 for LiteMedSAM; a multiple of 16 up to 1024 for SAM ViT (1024 native; 512 is the
  /// paper code's; positional tables are resized on load as SAMed does).
  public var inputSize = 256
  /// "backbone" (LiteMedSAM: per-image min-max to [0, 1]; SAM: ImageNet mean/std on 0..255), "minmax01" (the
  /// paper code's choice for SAM too) or "imagenet" (docs/model.md 6).
  public enum NormalizationSetting: String, Codable, Sendable, CaseIterable { case backbone, minmax01, imagenet }
  public var normalization = NormalizationSetting.backbone
  /// How an image reaches the square input (docs/model.md 6): "longest-side+pad" (default, native to both backbones;
  /// predictions are cropped to the content and resized back) or "square" (the paper code's and PraNet's
  /// straight resize, aspect not kept; predictions are resized back).
  public var resize = Geometry.longestSidePad
  /// 4 [choice]: `hspsam bench hsp` measured 1.34 / 1.24 / 1.51 s per image per training step at batch 1 / 4 / 8
  /// on 2 cores (batch 8 was assumed to help; here it does not).
  public var batchSize = 4
  public var epochs = 60
  public var learningRate = 5e-4
  /// Polynomial decay power after warm-up (0.9, SAMed/H-SAM).
  public var lrPower = 0.9
  /// Warm-up iterations; nil means min(250, 5% of all iterations).
  public var warmupIters: Int?
  public var weightDecay = 0.1
  /// Weight decay on every trained tensor ([code], true), or not on the abstract prompts and 1-D tensors (norm
  /// scales and shifts, biases) when false (docs/model.md 4).
  public var decayNormsAndPrompts = true
  public var diceWeight = 0.8
  /// When set, the Dice term of the loss is a Tversky loss on the foreground whose missed pixels weigh this much
  /// (false ones 1 - this); nil keeps the paper's soft Dice. 0.7 is the usual choice against under-segmentation.
  public var tverskyBeta: Double?
  /// The loss of the fused output and of each level decoder: "structure" (default: PraNet's boundary-weighted
  /// cross-entropy + weighted IoU, `Losses.structure`; `diceWeight` and `tverskyBeta` are then unused), chosen over
  /// the paper code's "ce-dice" on validation Dice (docs/recipes.md).
  public var loss = LossKind.structure
  public enum LossKind: String, Codable, Sendable { case ceDice = "ce-dice", structure }
  /// When set, validation, `best` and exports use an exponential moving average of the trained weights with this
  /// decay (e.g. 0.999), warmed up as min(decay, (1 + step) / (10 + step)) so early averages do not hold the
  /// random initialisation; `last` keeps both the weights and their average. nil (default): no average.
  public var emaDecay: Double?
  /// Weight of the level decoders' deep supervision (0 is the [code] setting).
  public var lambdaAux = 0.5
  public var gradientClip = 1.0
  /// Validate (Dice@0.5 on the validation split) every N epochs and at the end.
  public var validateEvery = 5
  public var seed: UInt64 = 1234
  public var augmentation = Augmentation()
  /// Augmented copies per image whose frozen encoder prefix is cached (copy 0 is the image itself). Each epoch
  /// draws one copy per image; rotations, flips and scale act before the frozen prefix, so only these fixed
  /// copies can be cached.
  public var cachedVariants = 4

  public init() {}

  enum CodingKeys: String, CodingKey, CaseIterable {
    case model, inputSize, normalization, resize, batchSize, epochs, learningRate, lrPower, warmupIters, weightDecay,
         decayNormsAndPrompts, diceWeight, tverskyBeta, loss, emaDecay, lambdaAux, gradientClip, validateEvery, seed, augmentation, cachedVariants
  }

  /// Missing keys take their defaults: checkpoints written before a key existed still load.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = TrainingConfig()
    model = try c.decode(.model, default: d.model)
    inputSize = try c.decode(.inputSize, default: d.inputSize)
    let normalizationName = try c.decode(.normalization, default: d.normalization.rawValue)
    guard let setting = NormalizationSetting(rawValue: normalizationName) else {
      throw DecodingError.dataCorruptedError(forKey: .normalization, in: c,
                                             debugDescription: "must be backbone, minmax01 or imagenet, got \(normalizationName)")
    }
    normalization = setting
    let resizeName = try c.decode(.resize, default: d.resize.rawValue)
    guard let geometry = Geometry(rawValue: resizeName) else {
      throw DecodingError.dataCorruptedError(forKey: .resize, in: c, debugDescription: "must be longest-side+pad or square, got \(resizeName)")
    }
    resize = geometry
    batchSize = try c.decode(.batchSize, default: d.batchSize)
    epochs = try c.decode(.epochs, default: d.epochs)
    learningRate = try c.decode(.learningRate, default: d.learningRate)
    lrPower = try c.decode(.lrPower, default: d.lrPower)
    warmupIters = try c.decodeIfPresent(Int.self, forKey: .warmupIters)
    weightDecay = try c.decode(.weightDecay, default: d.weightDecay)
    decayNormsAndPrompts = try c.decode(.decayNormsAndPrompts, default: d.decayNormsAndPrompts)
    diceWeight = try c.decode(.diceWeight, default: d.diceWeight)
    tverskyBeta = try c.decodeIfPresent(Double.self, forKey: .tverskyBeta)
    loss = try c.decode(.loss, default: d.loss)
    emaDecay = try c.decodeIfPresent(Double.self, forKey: .emaDecay)
    lambdaAux = try c.decode(.lambdaAux, default: d.lambdaAux)
    gradientClip = try c.decode(.gradientClip, default: d.gradientClip)
    validateEvery = try c.decode(.validateEvery, default: d.validateEvery)
    seed = try c.decode(.seed, default: d.seed)
    augmentation = try c.decode(.augmentation, default: d.augmentation)
    cachedVariants = try c.decode(.cachedVariants, default: d.cachedVariants)
  }

  /// Decodes JSON, rejecting unknown keys (at any level of `model` too) with a message naming them.
  public static func decode(_ data: Data, source: String) throws -> TrainingConfig {
    try decode(layers: [(data, source)])
  }

  /// Decodes several JSON objects, each merged key by key over the ones before it (and all over the defaults):
  /// `--config base.json --config '{"model": {...}}'`. Unknown keys are rejected naming the layer they are in.
  public static func decode(layers: [(data: Data, source: String)]) throws -> TrainingConfig {
    // The keys each level may hold: the top level, and the two nested sections.
    let sections: [(prefix: String, path: String?, known: Set<String>)] = [
      ("", nil, Set(CodingKeys.allCases.map(\.stringValue))),
      ("model.", "model", Set(HSPSAMConfig.CodingKeys.allCases.map(\.stringValue))),
      ("augmentation.", "augmentation", Set(Augmentation.CodingKeys.allCases.map(\.stringValue))),
    ]
    let source = layers.map(\.source).joined(separator: " + ")
    // Missing keys take their defaults: the user's JSON is merged over the default configuration's.
    var merged: [String: Any]
    do { merged = try JSONSerialization.jsonObject(with: TrainingConfig().json()) as? [String: Any] ?? [:] } catch {
      throw TrainingError.configuration(source: "default configuration", problem: describe(error))
    }
    for layer in layers {
      guard let object = try? JSONSerialization.jsonObject(with: layer.data) as? [String: Any] else {
        throw TrainingError.configuration(source: layer.source, problem: "not a JSON object")
      }
      for section in sections {
        let keys: [String: Any]? = if let path = section.path { object[path] as? [String: Any] } else { object }
        if let unknown = (keys ?? [:]).keys.filter({ !section.known.contains($0) }).sorted().first {
          throw TrainingError.configuration(source: layer.source, problem: "unknown key '\(section.prefix)\(unknown)'")
        }
      }
      merged = deepMerge(merged, object)
    }
    do {
      let config = try JSONDecoder().decode(TrainingConfig.self, from: JSONSerialization.data(withJSONObject: merged))
      try config.validate(source: source)
      return config
    } catch let error as TrainingError {
      throw error
    } catch let error as HSPSAMConfigError {
      throw TrainingError.configuration(source: source, problem: error.message)
    } catch {
      throw TrainingError.configuration(source: source, problem: describe(error))
    }
  }

  public func validate(source: String = "config") throws {
    do { try model.validate() } catch let error as HSPSAMConfigError { throw TrainingError.configuration(source: source, problem: error.message) }
    func check(_ ok: Bool, _ text: String) throws { if !ok { throw TrainingError.configuration(source: source, problem: text) } }
    if model.backbone == .litemedsam {
      try check(inputSize == 256, "inputSize must be 256 for litemedsam, got \(inputSize)")
    } else {
      try check(inputSize % 16 == 0 && (256...1024).contains(inputSize),
                "inputSize must be a multiple of 16 in 256...1024 for \(model.backbone.rawValue), got \(inputSize)")
    }
    try check((1...512).contains(batchSize), "batchSize must be 1...512, got \(batchSize)")
    try check((1...10_000).contains(epochs), "epochs must be 1...10000, got \(epochs)")
    try check(learningRate > 0 && learningRate < 1, "learningRate must be in (0, 1), got \(learningRate)")
    try check(lrPower >= 0, "lrPower must be >= 0")
    try check((warmupIters ?? 0) >= 0, "warmupIters must be >= 0")
    try check(weightDecay >= 0, "weightDecay must be >= 0")
    try check((0...1).contains(diceWeight), "diceWeight must be in [0, 1]")
    if let beta = tverskyBeta { try check((0...1).contains(beta), "tverskyBeta must be in [0, 1] or null, got \(beta)") }
    try check(tverskyBeta == nil || loss == .ceDice, "tverskyBeta applies to the \"ce-dice\" loss only; set \"loss\": \"ce-dice\" with it")
    try check(lambdaAux >= 0, "lambdaAux must be >= 0")
    if let decay = emaDecay { try check(decay > 0 && decay < 1, "emaDecay must be in (0, 1) or null, got \(decay)") }
    try check(gradientClip > 0, "gradientClip must be > 0")
    try check(validateEvery >= 1, "validateEvery must be >= 1")
    try check((1...64).contains(cachedVariants), "cachedVariants must be 1...64")
    let a = augmentation
    for (name, p) in [("horizontalFlip", a.horizontalFlip), ("verticalFlip", a.verticalFlip)] {
      try check((0...1).contains(p), "augmentation.\(name) must be a probability in [0, 1], got \(p)")
    }
    try check((0...180).contains(a.rotationDegrees), "augmentation.rotationDegrees must be in [0, 180], got \(a.rotationDegrees)")
    try check(a.scaleRange.count == 2 && a.scaleRange[0] > 0 && a.scaleRange[0] <= a.scaleRange[1],
              "augmentation.scaleRange must be [low, high] with 0 < low <= high, got \(a.scaleRange)")
    for (name, j) in [("colourJitter", a.colourJitter), ("channelGain", a.channelGain)] {
      try check((0..<1).contains(j), "augmentation.\(name) must be in [0, 1), got \(j)")
    }
    try check((0...2).contains(a.gamma), "augmentation.gamma must be in [0, 2], got \(a.gamma)")
  }

  /// The configured loss of logits (B, K+1, H, W) against class indices (B, H, W).
  public func segmentationLoss(logits: Tensor, target: Tensor) throws -> Tensor {
    switch loss {
    case .ceDice: return try Losses.segmentation(logits: logits, target: target, diceWeight: diceWeight, tverskyBeta: tverskyBeta)
    case .structure: return try Losses.structure(logits: logits, target: target)
    }
  }

  /// The training objective: the fused output's loss plus `lambdaAux` times the mean of the level decoders'
  /// (their targets resized to their outputs).
  public func trainingLoss(logits: Tensor, levelLogits: [Tensor], target: Tensor) throws -> Tensor {
    var total = try segmentationLoss(logits: logits, target: target)
    guard lambdaAux > 0 else { return total }
    for level in levelLogits {
      total = try total + segmentationLoss(logits: level, target: target.resizedNearest(like: level)) * (lambdaAux / Double(levelLogits.count))
    }
    return total
  }

  /// The trained tensors that get no weight decay: none by default; with `decayNormsAndPrompts` false, the
  /// abstract prompts and every 1-D tensor.
  public func weightDecayExempt(_ trained: [(name: String, tensor: Tensor)]) -> Set<String> {
    guard !decayNormsAndPrompts else { return [] }
    return Set(trained.filter { $0.name.hasPrefix("abstract_prompts.") || $0.tensor.rank <= 1 }.map(\.name))
  }

  /// The input normalisation `normalization` names for this backbone.
  public var inputNormalization: Normalization {
    switch normalization {
    case .minmax01: return .minmax01
    case .imagenet: return .imagenet
    case .backbone: return model.backbone == .litemedsam ? .minmax01 : .imagenet
    }
  }

  /// The base-checkpoint name of a base with seeded random weights instead of a file: for checks that need the
  /// model's arithmetic, not its accuracy (a GPU machine without the weights, quick tests).
  public static let randomBase = "random"

  /// The frozen base model this configuration trains on, loaded at the configured input size; `randomBase`: built
  /// with PyTorch-default initialisation from `seed`, so a run and its predictions rebuild the same base.
  public func loadBase(checkpoint: String) throws -> Sam {
    let size = model.backbone == .litemedsam ? nil : inputSize
    guard checkpoint == Self.randomBase else { return try ModelRegistry.load(model.backbone, checkpoint: checkpoint, imageSize: size) }
    try Torch.manualSeed(seed)
    let base = try ModelRegistry.build(model.backbone, imageSize: size)
    base.eval()
    return base
  }

  /// The size in bytes of a base checkpoint file, what checkpoints record to refuse other base weights (0 for
  /// `randomBase`).
  public static func baseBytes(_ checkpoint: String) throws -> Int {
    guard checkpoint != randomBase else { return 0 }
    return (try FileManager.default.attributesOfItem(atPath: checkpoint)[.size] as? Int) ?? 0
  }

  public func json() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(self)
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

/// A decoding error in words a person can act on.
func describe(_ error: Error) -> String {
  switch error {
  case DecodingError.typeMismatch(let type, let context), DecodingError.valueNotFound(let type, let context):
    return "\(context.codingPath.map(\.stringValue).joined(separator: ".")): expected \(type)"
  case DecodingError.keyNotFound(let key, _): return "missing key \(key.stringValue)"
  case DecodingError.dataCorrupted(let context):
    let path = context.codingPath.map(\.stringValue).joined(separator: ".")
    return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
  default: return error.localizedDescription
  }
}

/// `overlay` wins; nested objects are merged key by key.
func deepMerge(_ base: [String: Any], _ overlay: [String: Any]) -> [String: Any] {
  var result = base
  for (key, value) in overlay {
    if let inner = value as? [String: Any], let existing = base[key] as? [String: Any] {
      result[key] = deepMerge(existing, inner)
    } else {
      result[key] = value
    }
  }
  return result
}

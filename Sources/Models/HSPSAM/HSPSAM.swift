// HSP-SAM (Hierarchical Self-Prompting SAM) on LiteMedSAM or SAM ViT, as docs/model.md
// describes it: abstract prompts per level inside the frozen encoder's attention, LoRA on q/v, per-level necks, prompt
// projections, level decoders with mask downscaling, and a deep-to-shallow fusion decoder with K+1 softmax outputs.
// Levels are 1-based in the config (as in docs/model.md) and 0-based in the state-dict keys (`abstract_prompts.0`).
import Foundation
import NN
import Tensor

/// The fusion decoder (docs/model.md 3): one depth-1 two-way block per level, run from the deepest level to the
/// shallowest, each after adding that level's downscaled mask; then the upscaling (`fusionUpscale`) and hypernetworks.
/// Keys `blocks.{j}` (block j handles level L - j), `mask_tokens`, `output_upscaling`, `output_hypernetworks_mlps`.
public final class FusionDecoder: Module {
  let blocks: [TwoWayTransformer]
  let head: MaskHead

  init(levels: Int, outputs: Int, upscalingStages: Int) throws {
    blocks = try (0..<levels).map { _ in try TwoWayTransformer(depth: 1, embeddingDim: 256, numHeads: 8, mlpDim: 2048) }
    head = try MaskHead(outputs: outputs, upscalingStages: upscalingStages)
    super.init()
    let list = registerChild("blocks", Module())
    for (j, b) in blocks.enumerated() { list.registerChild(String(j), b) }
    head.register(on: self)
  }
}

/// Where the encoder stops being frozen and prompt-independent: everything before `start` (stage, block) is the
/// cacheable prefix. `tokens` enter that block; `features` holds the level features completed before it.
public struct EncoderPrefix {
  public var tokens: Tensor
  public var features: [Int: Tensor]
  public init(tokens: Tensor, features: [Int: Tensor]) {
    self.tokens = tokens
    self.features = features
  }
}

public final class HSPSAM: Module {
  public let config: HSPSAMConfig
  public let base: Sam
  let encoder: any LevelEncoder
  /// Per level of `config.promptLevels`: P_l, Neck_l, the projection of P_l.
  public let abstractPrompts: [Tensor]
  let levelNecks: [Sequential]
  let promptProjections: [PromptProjection]
  /// Hierarchical only: L-1 level decoders and mask downscalers, and the fusion decoder.
  let levelDecoders: [LevelDecoder]
  let maskDownscalers: [Sequential]
  let fusionDecoder: FusionDecoder?
  /// single-level and decoder-only: the one decoder (a copy of the pretrained mask decoder), key `decoder`.
  let decoder: LevelDecoder?
  /// positional: the pixel classifier on the frozen embedding (1x1 conv 256 -> 1), key `pixel_classifier`.
  public let pixelClassifier: Conv2d?
  /// First adapted block (flat index, `LevelEncoder`): the prefix before it is frozen and cacheable; `blockCount`
  /// when the whole encoder is frozen.
  public let adaptedStart: Int
  /// The level (1-based) each level-ending block ends: looked up on every block of every step.
  let levelOfBlock: [Int: Int]
  /// Block -> index into `abstractPrompts` of the prompts it receives (`promptedLevels`, `promptBlocks`).
  let promptOfBlock: [Int: Int]

  public var outputs: Int { config.numClasses + 1 }
  var architecture: HSPSAMConfig.Architecture { config.architecture }

  /// Builds HSP-SAM (or one of the baselines of docs/model.md 5, `config.architecture`) around a LiteMedSAM or SAM ViT model
  /// (its weights are the frozen base; load them before).
  public init(config: HSPSAMConfig, base: Sam) throws {
    try config.validate()
    guard base.kind == config.backbone, let encoder = base.imageEncoder as? any LevelEncoder,
          encoder.levelBlocks.count == config.levelCount else {
      throw HSPSAMConfigError(message: "the base model is \(base.kind.rawValue), the configuration's backbone is \(config.backbone.rawValue)")
    }
    self.config = config
    self.base = base
    self.encoder = encoder
    try base.freeze()
    let t = config.promptsPerLevel, k1 = config.numClasses + 1
    let hierarchical = config.architecture == .hierarchical
    let promptLevels = config.promptLevels
    abstractPrompts = try promptLevels.map { level in
      let p = try Tensor.empty([t, encoder.promptWidths[level - 1]])
      try Torch.withNoGrad { try p.normalInPlace(mean: 0, std: 0.02) }
      return p
    }
    levelNecks = try promptLevels.map { try makeSAMNeck(inChannels: encoder.levelWidths[$0 - 1]) }
    promptProjections = try promptLevels.map { try PromptProjection(promptWidth: encoder.promptWidths[$0 - 1], tokens: t) }
    let levelCount = promptLevels.count
    levelDecoders = hierarchical ? try (0..<(levelCount - 1)).map { _ in try LevelDecoder(outputs: k1, depth: config.levelDecoderLayers) } : []
    maskDownscalers = hierarchical ? try (0..<(levelCount - 1)).map { _ in try makeMaskDownscaler(outputs: k1) } : []
    // Learned: as many 2x2/2 stages as take the grid to the input (2 for LiteMedSAM, 4 for SAM ViT).
    let fusionStages = config.fusionUpscale == .learned ? (encoder.imageSize / encoder.gridSize).trailingZeroBitCount : 2
    fusionDecoder = hierarchical ? try FusionDecoder(levels: levelCount, outputs: k1, upscalingStages: fusionStages) : nil
    decoder = [.singleLevel, .decoderOnly].contains(config.architecture) ? try LevelDecoder(outputs: k1, depth: 2) : nil
    pixelClassifier = config.architecture == .positional ? try Conv2d(256, config.numClasses, kernelSize: 1) : nil

    // Adapters inside the encoder: prompts at the block that ends each prompted level (or at all its blocks),
    // LoRA per `loraBlocks`.
    let promptIndex = Dictionary(uniqueKeysWithValues: promptLevels.enumerated().map { ($1, $0) })
    var promptOfBlock: [Int: Int] = [:]
    for level in config.promptedLevels {
      let end = encoder.levelBlocks[level - 1]
      let start = config.promptBlocks == .allOfStage ? (level > 1 ? encoder.levelBlocks[level - 2] + 1 : 0) : end
      for block in start...end { promptOfBlock[block] = promptIndex[level] }
    }
    self.promptOfBlock = promptOfBlock
    let prompted = Set(promptOfBlock.keys)
    let order = Array(0..<encoder.blockCount)
    let loraPositions: [Int]
    switch config.loraBlocks {
    case .all: loraPositions = order
    case .promptedOnly: loraPositions = order.filter { prompted.contains($0) }
    case .fromFirstPrompt: loraPositions = prompted.min().map { Array($0..<encoder.blockCount) } ?? []
    case .none: loraPositions = []
    }
    for index in loraPositions { try encoder.attachLoRA(block: index, rank: config.loraRank) }
    adaptedStart = (prompted.union(loraPositions)).min() ?? encoder.blockCount
    levelOfBlock = Dictionary(uniqueKeysWithValues: encoder.levelBlocks.enumerated().map { ($1, $0 + 1) })
    super.init()

    // The base model's parts keep their LiteMedSAM keys, so a checkpoint is "LiteMedSAM keys + new keys".
    // Per-level keys are 0-based level indices (`abstract_prompts.2` is level 3), whatever levels exist.
    for (key, child) in base.children { registerChild(key, child) }
    if !promptLevels.isEmpty {
      let prompts = registerChild("abstract_prompts", Module())
      let necks = registerChild("level_necks", Module())
      let projections = registerChild("prompt_projections", Module())
      for (i, level) in promptLevels.enumerated() {
        prompts.registerParameter(String(level - 1), abstractPrompts[i])
        necks.registerChild(String(level - 1), levelNecks[i])
        projections.registerChild(String(level - 1), promptProjections[i])
      }
    }
    if let fusionDecoder {
      let decoders = registerChild("level_decoders", Module())
      for (l, d) in levelDecoders.enumerated() { decoders.registerChild(String(l), d) }
      let downscalers = registerChild("mask_downscalers", Module())
      for (l, d) in maskDownscalers.enumerated() { downscalers.registerChild(String(l), d) }
      registerChild("fusion_decoder", fusionDecoder)
    }
    if let decoder { registerChild("decoder", decoder) }
    if let pixelClassifier { registerChild("pixel_classifier", pixelClassifier) }
    try initialiseFromPretrained()
    train(false)
  }

  /// Copies the pretrained parts our [choice] defaults (docs/model.md 3) start from (necks, decoders, fusion blocks).
  func initialiseFromPretrained() throws {
    let pretrainedNeck = encoder.neck
    if config.neckInit == .pretrained {
      for (neck, level) in zip(levelNecks, config.promptLevels) {
        if encoder.levelWidths[level - 1] == encoder.levelWidths.last! {
          try copyState(from: pretrainedNeck, to: neck)
        } else {  // width differs: keep the random 1x1 conv, copy the 3x3 conv and both norms
          for index in [1, 2, 3] { try copyState(from: pretrainedNeck[index], to: neck[index]) }
        }
      }
    }
    let decoder = base.maskDecoder
    if config.levelDecoderInit == .pretrained {
      for level in levelDecoders {
        try copyState(from: decoder.transformer, to: level.transformer, skipMissing: true)  // depth 1: the first layer
        try level.head.copyPretrained(from: decoder)
      }
    }
    if let single = self.decoder {  // single-level and decoder-only always start from the pretrained decoder
      try copyState(from: decoder.transformer, to: single.transformer)
      try single.head.copyPretrained(from: decoder)
    }
    if let fusionDecoder, config.fusionInit == .pretrained {
      for block in fusionDecoder.blocks { try copyState(from: decoder.transformer, to: block, skipMissing: true) }
      try fusionDecoder.head.copyPretrained(from: decoder)
    }
  }

  /// The frozen encoder always runs in eval mode (BatchNorm statistics stay fixed); the rest follows `isOn`.
  public override func train(_ isOn: Bool = true) {
    super.train(isOn)
    base.eval()
  }

  // MARK: - Encoder

  /// The level that block `index` ends (1-based), if any.
  func level(endingAt index: Int) -> Int? { levelOfBlock[index] }

  /// Runs the frozen, prompt-independent prefix: (B, 3, S, S) -> tokens entering block `adaptedStart` and the
  /// decoded levels' features completed before it. Pure function of the image and the base weights: cacheable.
  /// A level feature equal to the tokens (the level ending just before the first adapted block, or the deepest
  /// level of a frozen encoder) is not kept twice: `encodeLevels` takes it from the tokens.
  public func encodePrefix(_ image: Tensor) throws -> EncoderPrefix {
    let keep = Set(config.decodedLevels)
    return try Torch.withNoGrad {
      var x = try encoder.stem(image)
      var features: [Int: Tensor] = [:]
      for index in 0..<adaptedStart {
        x = try encoder.block(index, x, prompts: nil)
        if let l = level(endingAt: index), keep.contains(l), index + 1 < adaptedStart { features[l] = x }
      }
      return EncoderPrefix(tokens: x, features: features)
    }
  }

  /// Continues from a prefix through the adapted blocks (prompts and LoRA) -> the decoded levels' features,
  /// (B, C_l, g, g) each, shallowest first.
  public func encodeLevels(from prefix: EncoderPrefix) throws -> [Tensor] {
    var x = prefix.tokens
    var features = prefix.features
    if adaptedStart > 0, let l = level(endingAt: adaptedStart - 1), features[l] == nil { features[l] = x }
    for index in adaptedStart..<encoder.blockCount {
      x = try encoder.block(index, x, prompts: promptOfBlock[index].map { abstractPrompts[$0] })
      if let l = level(endingAt: index) { features[l] = x }
    }
    return try config.decodedLevels.map { l in
      guard let tokens = features[l] else { throw HSPSAMConfigError(message: "level \(l) feature missing") }
      return try encoder.featureMap(tokens)
    }
  }

  // MARK: - Decoding

  /// Training-time logits (B, K+1, S, S) and the level decoders' logits (L-1 of them, hierarchical only) from the
  /// decoded levels' features. For `positional` these are the pixel classifier's (background 0, foreground z),
  /// upsampled bilinearly from the 64 grid; its prediction goes through SAM (`PositionalPrompting`).
  public func decode(features: [Tensor]) throws -> (logits: Tensor, levelLogits: [Tensor]) {
    let b = features[0].size(0)
    let positional = try base.promptEncoder.densePositionalEncoding().expand([b, -1, -1, -1])
    let noMask = try base.promptEncoder.noMaskDenseEmbedding(batch: b)
    switch architecture {
    case .hierarchical:
      let (logits, levelLogits) = try decodeHierarchy(features: features, positional: positional, noMask: noMask)
      return (try inputSized(logits), levelLogits)
    case .singleLevel:
      let tokens = try promptProjections[0](abstractPrompts[0])
      return (try inputSized(decoder!(embedding: levelNecks[0](features[0]) + noMask, positional: positional, prompts: tokens)), [])
    case .decoderOnly:
      let embedding = try frozenEmbedding(features[0])
      return (try inputSized(decoder!(embedding: embedding + noMask, positional: positional, prompts: Tensor.empty([0, 256], device: embedding.device))), [])
    case .positional:
      let foreground = try pixelClassifier!(frozenEmbedding(features[0]))
      return (try inputSized(Self.binaryLogits(foreground: foreground)), [])
    }
  }

  /// Logits at the input resolution: SAM's x4 heads give 4x the embedding grid (the input for LiteMedSAM; a
  /// quarter of it for SAM ViT, bilinearly upsampled: the baselines and `fusionUpscale = x4+bilinear`).
  func inputSized(_ logits: Tensor) throws -> Tensor {
    let size = encoder.imageSize
    return logits.size(2) == size && logits.size(3) == size ? logits : try logits.interpolate(size: (size, size), mode: .bilinear)
  }

  /// Two-class logits (B, 2, h, w) from foreground logits (B, 1, h, w): background 0, so softmax = sigmoid.
  public static func binaryLogits(foreground: Tensor) throws -> Tensor {
    try Tensor.cat([Tensor.zeros(foreground.shape, device: foreground.device), foreground], dim: 1)
  }

  /// The pretrained neck on the deepest feature: LiteMedSAM's own image embedding (no gradient reaches the encoder).
  public func frozenEmbedding(_ deepest: Tensor) throws -> Tensor {
    try Torch.withNoGrad { try encoder.neck(deepest) }
  }

  func decodeHierarchy(features: [Tensor], positional: Tensor, noMask: Tensor) throws -> (logits: Tensor, levelLogits: [Tensor]) {
    let b = features[0].size(0)
    guard let fusionDecoder else { throw HSPSAMConfigError(message: "no fusion decoder") }
    let embeddings = try zip(levelNecks, features).map { try $0.0($0.1) }
    let tokens = try zip(promptProjections, abstractPrompts).map { try $0.0($0.1) }
    let levelLogits = try levelDecoders.enumerated().map { l, decoder in
      try decoder(embedding: embeddings[l] + noMask, positional: positional, prompts: tokens[l])
    }
    let last = embeddings.count - 1
    var fusionTokens = fusionDecoder.head.maskTokens.weight
    if config.fusionUsesPrompts { fusionTokens = try Tensor.cat([fusionTokens, tokens[last]], dim: 0) }
    var queries = try fusionTokens.unsqueeze(0).expand([b, -1, -1])
    var image = embeddings[last]
    var keys = try image.flatten(start: 2).transpose(1, 2)
    let (h, w) = (image.size(2), image.size(3))
    for (j, block) in fusionDecoder.blocks.enumerated() {
      let level = last - j
      if j > 0 {
        image = try keys.transpose(1, 2).reshape([b, 256, h, w]) + maskDownscalers[level](levelLogits[level].softmax(dim: 1))
      }
      (queries, keys) = try block(image: image, imagePE: positional, tokens: queries)
    }
    let logits = try fusionDecoder.head.masks(tokens: queries, image: keys, size: (h, w))
    return (logits, levelLogits)
  }

  /// Whole training-time forward from images (B, 3, S, S) normalised as LiteMedSAM expects.
  public func callAsFunction(_ images: Tensor) throws -> (logits: Tensor, levelLogits: [Tensor]) {
    try decode(features: encodeLevels(from: encodePrefix(images)))
  }
}

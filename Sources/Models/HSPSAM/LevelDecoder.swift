// HSP-SAM's per-level decoders, mask downscalers and prompt projections (docs/model.md 3).
import Foundation
import NN
import Tensor

/// Projects one level's abstract prompts P_l (T, C_l) to decoder tokens S_l (T, 256): Reduce (Linear C->C/4, ReLU,
/// Linear C/4->256), then one 3-layer MLP per token index. Keys `reduce.{0,2}`, `token_mlps.{t}.layers.{0,1,2}`.
public final class PromptProjection: Module {
  let reduce: Sequential
  let tokenMLPs: [MLP]

  public init(promptWidth: Int, tokens: Int) throws {
    reduce = Sequential([try Linear(promptWidth, promptWidth / 4), ReLU(), try Linear(promptWidth / 4, 256)])
    tokenMLPs = try (0..<tokens).map { _ in try MLP(inputDim: 256, hiddenDim: 64, outputDim: 256, numLayers: 3) }
    super.init()
    registerChild("reduce", reduce)
    let list = registerChild("token_mlps", Module())
    for (t, m) in tokenMLPs.enumerated() { list.registerChild(String(t), m) }
  }

  public func callAsFunction(_ prompts: Tensor) throws -> Tensor {
    let reduced = try reduce(prompts)  // (T, 256)
    return try Tensor.stack(tokenMLPs.enumerated().map { t, mlp in try mlp(reduced.select(dim: 0, index: t)) }, dim: 0)
  }
}

/// SAM's mask-decoder head without the IoU token: transformer, K+1 mask tokens, upscaling, hypernetworks.
/// Used for the level decoders and, with depth-1 blocks run level by level, by the fusion decoder.
/// Keys `transformer.*`, `mask_tokens.weight`, `output_upscaling.{0,1,3,...}`, `output_hypernetworks_mlps.{c}`.
public final class MaskHead: Module {
  let maskTokens: Embedding
  let outputUpscaling: Sequential
  let hypernetworks: [MLP]
  public let outputs: Int
  /// Transposed 2x2/2 convolutions: 2 is SAM's own x4 (256 -> 64 -> 32 channels); 4 is the learned x16 of docs/model.md 3
  /// for SAM ViT (256 -> 64 -> 32 -> 16 -> 8), LayerNorm2d + GELU between stages, GELU after the last.
  public let upscalingStages: Int

  public init(outputs: Int, upscalingStages: Int = 2) throws {
    precondition((2...4).contains(upscalingStages), "2 to 4 upscaling stages")
    self.outputs = outputs
    self.upscalingStages = upscalingStages
    maskTokens = try Embedding(outputs, 256)
    let widths = Array([256, 64, 32, 16, 8].prefix(upscalingStages + 1))
    var layers: [any UnaryLayer] = []
    for stage in 0..<upscalingStages {
      layers.append(try ConvTranspose2d(widths[stage], widths[stage + 1], kernelSize: 2, stride: 2))
      if stage < upscalingStages - 1 { layers.append(try LayerNorm2d(widths[stage + 1])) }
      layers.append(GELU())
    }
    outputUpscaling = Sequential(layers)
    hypernetworks = try (0..<outputs).map { _ in try MLP(inputDim: 256, hiddenDim: 256, outputDim: widths.last!, numLayers: 3) }
    super.init()
  }

  /// Registers the head's parts on `owner` (so their keys sit next to the owner's transformer).
  func register(on owner: Module) {
    owner.registerChild("mask_tokens", maskTokens)
    owner.registerChild("output_upscaling", outputUpscaling)
    let list = owner.registerChild("output_hypernetworks_mlps", Module())
    for (c, m) in hypernetworks.enumerated() { list.registerChild(String(c), m) }
  }

  /// Copies the first `outputs` pretrained mask tokens and, where the head has SAM's own x4 upscaling, that
  /// upscaling and the hypernetworks (extra tokens and a learned x16 upscaling with its hypernetworks stay random).
  func copyPretrained(from decoder: MaskDecoder) throws {
    try Torch.withNoGrad {
      let count = Swift.min(outputs, decoder.numMaskTokens)
      try maskTokens.weight.narrow(dim: 0, start: 0, length: count)
        .copyFrom(decoder.maskTokens.weight.narrow(dim: 0, start: 0, length: count))
      guard upscalingStages == 2 else { return }
      try copyState(from: decoder.outputUpscaling, to: outputUpscaling)
      for c in 0..<count { try copyState(from: decoder.outputHypernetworksMLPs[c], to: hypernetworks[c]) }
    }
  }

  /// tokens (B, K+1+..., 256) after the transformer and image tokens (B, hw, 256) -> logits (B, K+1, 4h, 4w).
  func masks(tokens: Tensor, image: Tensor, size: (Int, Int)) throws -> Tensor {
    let (b, c) = (image.size(0), image.size(2))
    let upscaled = try outputUpscaling(image.transpose(1, 2).reshape([b, c, size.0, size.1]))
    let hyper = try Tensor.stack((0..<outputs).map { try hypernetworks[$0](tokens.select(dim: 1, index: $0)) }, dim: 1)
    let (ub, uc, uh, uw) = (upscaled.size(0), upscaled.size(1), upscaled.size(2), upscaled.size(3))
    // The upscaling runs channels-last (its input is a view of the token sequence), so the product is taken over
    // the (B, hw, C) layout that memory already has: the gradient then reaches the GELUs and transposed convolutions
    // in their own layout. Over a (B, C, hw) view it arrived contiguous, and libtorch's GELU backward on mixed
    // layouts is ~16x slower (2.6 vs 42 ms on a 4x64x128x128 tensor).
    if upscaled.isChannelsLastContiguous {
      let pixels = try upscaled.permute([0, 2, 3, 1]).reshape([ub, uh * uw, uc])
      return try pixels.matmul(hyper.transpose(1, 2)).view([ub, uh, uw, -1]).permute([0, 3, 1, 2])
    }
    return try hyper.matmul(upscaled.view([ub, uc, uh * uw])).view([ub, -1, uh, uw])
  }
}

/// Copies every state tensor of `target` from `source`'s tensor of the same key. A key `source` lacks is an error,
/// or with `skipMissing` left as it is (a shallower transformer takes the first layers and the final attention of
/// a deeper one).
func copyState(from source: Module, to target: Module, skipMissing: Bool = false) throws {
  let values = Dictionary(uniqueKeysWithValues: source.stateDict().map { ($0.name, $0.tensor) })
  try Torch.withNoGrad {
    for (name, tensor) in target.stateDict() {
      guard let value = values[name] else {
        if skipMissing { continue }
        throw TorchError.invalidArgument("copyState: \(name) missing in source")
      }
      try tensor.copyFrom(value)
    }
  }
}

/// A level decoder (docs/model.md 3): tokens [M_l, S_l], image E_l + no-mask embedding, SAM's dense positional encoding.
public final class LevelDecoder: Module {
  let transformer: TwoWayTransformer
  let head: MaskHead

  public init(outputs: Int, depth: Int) throws {
    transformer = try TwoWayTransformer(depth: depth, embeddingDim: 256, numHeads: 8, mlpDim: 2048)
    head = try MaskHead(outputs: outputs)
    super.init()
    registerChild("transformer", transformer)
    head.register(on: self)
  }

  /// embedding (B, 256, h, w) already including the no-mask embedding; prompts S_l (T, 256) -> (B, K+1, 4h, 4w).
  public func callAsFunction(embedding: Tensor, positional: Tensor, prompts: Tensor) throws -> Tensor {
    let b = embedding.size(0)
    let tokens = try Tensor.cat([head.maskTokens.weight, prompts], dim: 0).unsqueeze(0).expand([b, -1, -1])
    let (hs, keys) = try transformer(image: embedding, imagePE: positional.expand([b, -1, -1, -1]), tokens: tokens)
    return try head.masks(tokens: hs, image: keys, size: (embedding.size(2), embedding.size(3)))
  }
}

/// D_l (docs/model.md 3): softmax over the K+1 channels, conv 2x2/2 to 8, LN2d, GELU, conv 2x2/2 to 32, LN2d, GELU,
/// conv 1x1 to 256: a dense self-prompt on the embedding grid. Keys `0`..`6`.
public func makeMaskDownscaler(outputs: Int) throws -> Sequential {
  Sequential([
    try Conv2d(outputs, 8, kernelSize: 2, stride: 2), try LayerNorm2d(8), GELU(),
    try Conv2d(8, 32, kernelSize: 2, stride: 2), try LayerNorm2d(32), GELU(),
    try Conv2d(32, 256, kernelSize: 1),
  ])
}

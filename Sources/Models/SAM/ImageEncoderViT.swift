// Port of segment_anything/modeling/image_encoder.py (facebookresearch/segment-anything, v1.0): SAM's ViT
// encoder with windowed and global attention and decomposed relative positions. Any input size that is a
// multiple of the patch size works; checkpoints made at another size are adapted on load as SAMed does
// (`adaptPositionalParameters`).
import Foundation
import NN
import Tensor

/// Hyper-parameters of `ImageEncoderViT`; keys equal the Python builder's arguments.
public struct ImageEncoderViTConfig: Codable, Equatable, Sendable {
  public var imgSize = 1024
  public var patchSize = 16
  public var inChans = 3
  public var embedDim = 768
  public var depth = 12
  public var numHeads = 12
  public var mlpRatio = 4.0
  public var outChans = 256
  public var windowSize = 14
  public var globalAttnIndexes = [2, 5, 8, 11]

  enum CodingKeys: String, CodingKey {
    case imgSize = "img_size", patchSize = "patch_size", inChans = "in_chans", embedDim = "embed_dim", depth
    case numHeads = "num_heads", mlpRatio = "mlp_ratio", outChans = "out_chans", windowSize = "window_size"
    case globalAttnIndexes = "global_attn_indexes"
  }

  public init(imgSize: Int = 1024, embedDim: Int, depth: Int, numHeads: Int, globalAttnIndexes: [Int],
              patchSize: Int = 16, windowSize: Int = 14, outChans: Int = 256) {
    self.imgSize = imgSize
    self.embedDim = embedDim
    self.depth = depth
    self.numHeads = numHeads
    self.globalAttnIndexes = globalAttnIndexes
    self.patchSize = patchSize
    self.windowSize = windowSize
    self.outChans = outChans
  }

  /// Tokens per side of the embedding grid.
  public var gridSize: Int { imgSize / patchSize }
}

/// SAM ViT attention with decomposed relative positions. Keys `qkv`, `proj`, `rel_pos_h`, `rel_pos_w`.
final class ViTAttention: Module {
  let qkv: Linear
  let proj: Linear
  let relPosH: Tensor
  let relPosW: Tensor
  let numHeads: Int
  let scale: Double

  /// `inputSize`: the token grid this attention sees (the window, or the whole grid for global blocks).
  init(dim: Int, numHeads: Int, inputSize: Int) throws {
    qkv = try Linear(dim, 3 * dim)
    proj = try Linear(dim, dim)
    let headDim = dim / numHeads
    relPosH = try Tensor.zeros([2 * inputSize - 1, headDim])
    relPosW = try Tensor.zeros([2 * inputSize - 1, headDim])
    self.numHeads = numHeads
    scale = 1 / Double(headDim).squareRoot()
    super.init()
    registerChild("qkv", qkv)
    registerChild("proj", proj)
    registerParameter("rel_pos_h", relPosH)
    registerParameter("rel_pos_w", relPosW)
  }

  /// HSP-SAM's low-rank adapter on q and v (nil for the plain model).
  public private(set) var lora: LoRAQV?

  /// Adds LoRA factors of rank `rank` to q and v (keys `qkv.lora_*`), in SAM's [q | k | v] layout.
  public func attachLoRA(rank: Int) throws {
    let adapter = try LoRAQV(dim: qkv.weight.size(1), rank: rank)
    adapter.register(under: qkv)
    lora = adapter
  }

  /// x: (B, H, W, C) -> (B, H, W, C). `prompts` (T, C): HSP-SAM's abstract prompts, appended after `norm1` as T
  /// extra keys and values (zero relative-position bias on their columns; their query rows are not computed).
  func callAsFunction(_ x: Tensor, prompts: Tensor? = nil) throws -> Tensor {
    let (b, h, w, c) = (x.size(0), x.size(1), x.size(2), x.size(3))
    let n = h * w
    var tokens = try x.reshape([b, n, c])
    if let prompts { tokens = try Tensor.cat([tokens, prompts.unsqueeze(0).expand([b, -1, -1])], dim: 1) }
    let m = tokens.size(1)
    // SAM's [all q | all k | all v] layout; each part to (B * heads, M, head_dim).
    let packed = try qkv(tokens)
    var q = try packed.narrow(dim: 2, start: 0, length: c), v = try packed.narrow(dim: 2, start: 2 * c, length: c)
    if let lora {
      let (dq, dv) = try lora.deltas(tokens)
      (q, v) = (try q + dq, try v + dv)
    }
    func heads(_ t: Tensor) throws -> Tensor { try t.reshape([b, m, numHeads, -1]).permute([0, 2, 1, 3]).reshape([b * numHeads, m, -1]) }
    q = try heads(q)
    let k = try heads(packed.narrow(dim: 2, start: c, length: c))
    v = try heads(v)
    if m > n { q = try q.narrow(dim: 1, start: 0, length: n) }
    // softmax((q * scale) k^T + rel_h + rel_w) v, the reference's steps, in libtorch's fused attention kernel.
    var bias = try decomposedRelativePositionBias(q: q, size: (h, w))
    if m > n { bias = try bias.pad([0, m - n]) }
    let attended = try Tensor.scaledDotProductAttention(query: q, key: k, value: v, bias: bias, scale: scale)
    let out = try attended.view([b, numHeads, h, w, -1]).permute([0, 2, 3, 1, 4]).reshape([b, h, w, c])
    return try proj(out)
  }

  /// rel_h[..., :, None] + rel_w[..., None, :] as (B*heads, HW, HW): the term `add_decomposed_rel_pos` adds.
  func decomposedRelativePositionBias(q: Tensor, size: (Int, Int)) throws -> Tensor {
    let (h, w) = size
    let rh = try relativePositions(h, h, relPosH)  // (h, h, d)
    let rw = try relativePositions(w, w, relPosW)  // (w, w, d)
    let bh = q.size(0), d = q.size(2)
    let rq = try q.reshape([bh, h, w, d])
    // einsum("bhwc,hkc->bhwk") as a batched matmul over h; and "bhwc,wkc->bhwk" over w.
    let relH = try rq.permute([1, 0, 2, 3]).reshape([h, bh * w, d]).matmul(rh.transpose(1, 2))
      .reshape([h, bh, w, h]).permute([1, 0, 2, 3])
    let relW = try rq.permute([2, 0, 1, 3]).reshape([w, bh * h, d]).matmul(rw.transpose(1, 2))
      .reshape([w, bh, h, w]).permute([1, 2, 0, 3])
    return try (relH.unsqueeze(4) + relW.unsqueeze(3)).reshape([bh, h * w, h * w])
  }
}

/// `get_rel_pos`: relative positional embeddings for query size q and key size k, (q, k, d).
func relativePositions(_ qSize: Int, _ kSize: Int, _ table: Tensor) throws -> Tensor {
  let maxDistance = 2 * Swift.max(qSize, kSize) - 1
  var resized = table
  if table.size(0) != maxDistance {
    // Linear interpolation along the table, as F.interpolate(mode="linear") (= bilinear on a 1-pixel-high image).
    resized = try table.transpose(0, 1).unsqueeze(0).unsqueeze(2)
      .interpolate(size: (1, maxDistance), mode: .bilinear).squeeze(2).squeeze(0).transpose(0, 1)
  }
  let qScale = Swift.max(Double(kSize) / Double(qSize), 1), kScale = Swift.max(Double(qSize) / Double(kSize), 1)
  let qCoords = try Tensor.arange(0, Double(qSize), dtype: .float32, device: table.device).unsqueeze(1) * qScale
  let kCoords = try Tensor.arange(0, Double(kSize), dtype: .float32, device: table.device).unsqueeze(0) * kScale
  let relative = try (qCoords - kCoords + Double(kSize - 1) * kScale).to(.int64)
  return try resized.indexSelect(dim: 0, index: relative.flatten()).view([qSize, kSize, -1])
}

/// One transformer block of SAM's ViT; window attention when `windowSize > 0`.
final class ViTBlock: Module {
  let norm1: LayerNorm, norm2: LayerNorm
  let attn: ViTAttention
  let mlp: MLPBlock
  let windowSize: Int

  init(dim: Int, numHeads: Int, mlpRatio: Double, windowSize: Int, gridSize: Int) throws {
    norm1 = try LayerNorm(dim, eps: 1e-6)
    attn = try ViTAttention(dim: dim, numHeads: numHeads, inputSize: windowSize == 0 ? gridSize : windowSize)
    norm2 = try LayerNorm(dim, eps: 1e-6)
    mlp = try MLPBlock(embeddingDim: dim, mlpDim: Int(Double(dim) * mlpRatio))
    self.windowSize = windowSize
    super.init()
    registerChild("norm1", norm1)
    registerChild("attn", attn)
    registerChild("norm2", norm2)
    registerChild("mlp", mlp)
  }

  var isGlobal: Bool { windowSize == 0 }

  /// x: (B, H, W, C); `prompts` (T, C) join the attention (of every window, for a windowed block).
  func callAsFunction(_ x: Tensor, prompts: Tensor? = nil) throws -> Tensor {
    var y = try norm1(x)
    if windowSize > 0 {
      let (h, w) = (x.size(1), x.size(2))
      let (windows, padded) = try partitionWindows(y, windowSize)
      y = try unpartitionWindows(attn(windows, prompts: prompts), windowSize, padded: padded, original: (h, w))
    } else {
      y = try attn(y, prompts: prompts)
    }
    let z = try x + y
    return try z + mlp(norm2(z))
  }
}

/// (B, H, W, C) -> (B * nWindows, ws, ws, C), zero-padding H and W up to multiples of ws.
func partitionWindows(_ x: Tensor, _ ws: Int) throws -> (Tensor, (Int, Int)) {
  let (b, h, w, c) = (x.size(0), x.size(1), x.size(2), x.size(3))
  let padH = (ws - h % ws) % ws, padW = (ws - w % ws) % ws
  let padded = padH > 0 || padW > 0 ? try x.pad([0, 0, 0, padW, 0, padH]) : x
  let (hp, wp) = (h + padH, w + padW)
  let windows = try padded.view([b, hp / ws, ws, wp / ws, ws, c]).permute([0, 1, 3, 2, 4, 5]).contiguous()
    .view([-1, ws, ws, c])
  return (windows, (hp, wp))
}

/// Inverse of `partitionWindows`, removing the padding.
func unpartitionWindows(_ windows: Tensor, _ ws: Int, padded: (Int, Int), original: (Int, Int)) throws -> Tensor {
  let (hp, wp) = padded
  let b = windows.size(0) / (hp * wp / ws / ws)
  var x = try windows.view([b, hp / ws, wp / ws, ws, ws, -1]).permute([0, 1, 3, 2, 4, 5]).contiguous().view([b, hp, wp, -1])
  if hp > original.0 || wp > original.1 {
    x = try x.slice(dim: 1, end: original.0).slice(dim: 2, end: original.1).contiguous()
  }
  return x
}

/// SAM's image encoder. Keys `patch_embed.proj`, `pos_embed`, `blocks.{i}`, `neck.{0,1,2,3}`.
public final class ImageEncoderViT: Module, ImageEncoder {
  public let config: ImageEncoderViTConfig
  let patchEmbed: Conv2d
  let posEmbed: Tensor
  let blocks: [ViTBlock]
  public let neck: Sequential

  public init(_ config: ImageEncoderViTConfig) throws {
    precondition(config.imgSize % config.patchSize == 0, "image size must be a multiple of the patch size")
    self.config = config
    let g = config.gridSize, dim = config.embedDim
    patchEmbed = try Conv2d(config.inChans, dim, kernelSize: config.patchSize, stride: config.patchSize)
    posEmbed = try Tensor.zeros([1, g, g, dim])
    blocks = try (0..<config.depth).map { i in
      try ViTBlock(dim: dim, numHeads: config.numHeads, mlpRatio: config.mlpRatio,
                   windowSize: config.globalAttnIndexes.contains(i) ? 0 : config.windowSize, gridSize: g)
    }
    neck = try makeSAMNeck(inChannels: dim, outChannels: config.outChans)
    super.init()
    registerChild("patch_embed", Module()).registerChild("proj", patchEmbed)
    registerParameter("pos_embed", posEmbed)
    let list = registerChild("blocks", Module())
    for (i, block) in blocks.enumerated() { list.registerChild(String(i), block) }
    registerChild("neck", neck)
  }

  public var imageSize: Int { config.imgSize }

  /// x: (B, 3, S, S) normalised -> (B, 256, S/16, S/16).
  public func callAsFunction(_ x: Tensor) throws -> Tensor {
    var y = try patchEmbed(x).permute([0, 2, 3, 1]) + posEmbed
    for block in blocks { y = try block(y) }
    return try neck(y.permute([0, 3, 1, 2]))
  }

  /// Adapts a checkpoint made at another input size, as SAMed does: `pos_embed` resized bilinearly to this grid,
  /// and the global blocks' `rel_pos_*` tables resized to 2 * grid - 1 rows. Other keys are returned unchanged.
  public func adaptPositionalParameters(_ state: [String: Tensor]) throws -> [String: Tensor] {
    var adapted = state
    let g = config.gridSize
    if let pos = state["image_encoder.pos_embed"] ?? state["pos_embed"], pos.size(1) != g {
      let key = state["image_encoder.pos_embed"] != nil ? "image_encoder.pos_embed" : "pos_embed"
      adapted[key] = try pos.permute([0, 3, 1, 2]).interpolate(size: (g, g), mode: .bilinear).permute([0, 2, 3, 1]).contiguous()
    }
    for index in config.globalAttnIndexes {
      for axis in ["h", "w"] {
        for prefix in ["image_encoder.", ""] {
          let key = "\(prefix)blocks.\(index).attn.rel_pos_\(axis)"
          guard let table = state[key], table.size(0) != 2 * g - 1 else { continue }
          adapted[key] = try table.unsqueeze(0).unsqueeze(0).interpolate(size: (2 * g - 1, table.size(1)), mode: .bilinear)
            .squeeze(0).squeeze(0).contiguous()
        }
      }
    }
    return adapted
  }
}

/// SAM's neck: 1x1 conv (no bias), LayerNorm2d, 3x3 conv (no bias), LayerNorm2d. Keys `0`..`3`.
public func makeSAMNeck(inChannels: Int, outChannels: Int = 256) throws -> Sequential {
  Sequential([
    try Conv2d(inChannels, outChannels, kernelSize: 1, bias: false), try LayerNorm2d(outChannels),
    try Conv2d(outChannels, outChannels, kernelSize: 3, padding: 1, bias: false), try LayerNorm2d(outChannels),
  ])
}

/// An image encoder of the SAM family: (B, 3, S, S) -> (B, 256, h, w).
public protocol ImageEncoder: Module {
  var imageSize: Int { get }
  func callAsFunction(_ x: Tensor) throws -> Tensor
}

// Port of segment_anything/modeling/transformer.py (segment-anything v1.0).
import Foundation
import NN
import Tensor

/// SAM's attention with optional downscaled internal width. Keys `q_proj`, `k_proj`, `v_proj`, `out_proj`.
public final class SAMAttention: Module {
  let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
  let numHeads: Int

  public init(embeddingDim: Int, numHeads: Int, downsampleRate: Int = 1) throws {
    let internalDim = embeddingDim / downsampleRate
    precondition(internalDim % numHeads == 0, "num_heads must divide embedding_dim / downsample_rate")
    qProj = try Linear(embeddingDim, internalDim)
    kProj = try Linear(embeddingDim, internalDim)
    vProj = try Linear(embeddingDim, internalDim)
    outProj = try Linear(internalDim, embeddingDim)
    self.numHeads = numHeads
    super.init()
    registerChild("q_proj", qProj)
    registerChild("k_proj", kProj)
    registerChild("v_proj", vProj)
    registerChild("out_proj", outProj)
  }

  /// (B, N, C) -> (B, heads, N, C/heads)
  func separateHeads(_ x: Tensor) throws -> Tensor {
    try x.reshape([x.size(0), x.size(1), numHeads, x.size(2) / numHeads]).transpose(1, 2)
  }

  public func callAsFunction(q: Tensor, k: Tensor, v: Tensor) throws -> Tensor {
    let qh = try separateHeads(qProj(q)), kh = try separateHeads(kProj(k)), vh = try separateHeads(vProj(v))
    // softmax(q k^T / sqrt(d)) v in libtorch's fused kernel.
    let out = try Tensor.scaledDotProductAttention(query: qh, key: kh, value: vh).transpose(1, 2)
    return try outProj(out.reshape([out.size(0), out.size(1), -1]))
  }
}

/// Sparse-to-dense and dense-to-sparse attention block.
public final class TwoWayAttentionBlock: Module {
  let selfAttn: SAMAttention
  let norm1: LayerNorm
  let crossAttnTokenToImage: SAMAttention
  let norm2: LayerNorm
  let mlp: MLPBlock
  let norm3: LayerNorm
  let norm4: LayerNorm
  let crossAttnImageToToken: SAMAttention
  let skipFirstLayerPE: Bool

  public init(embeddingDim: Int, numHeads: Int, mlpDim: Int, attentionDownsampleRate: Int = 2,
              skipFirstLayerPE: Bool) throws {
    selfAttn = try SAMAttention(embeddingDim: embeddingDim, numHeads: numHeads)
    norm1 = try LayerNorm(embeddingDim)
    crossAttnTokenToImage = try SAMAttention(embeddingDim: embeddingDim, numHeads: numHeads,
                                             downsampleRate: attentionDownsampleRate)
    norm2 = try LayerNorm(embeddingDim)
    mlp = try MLPBlock(embeddingDim: embeddingDim, mlpDim: mlpDim, activation: .relu)
    norm3 = try LayerNorm(embeddingDim)
    norm4 = try LayerNorm(embeddingDim)
    crossAttnImageToToken = try SAMAttention(embeddingDim: embeddingDim, numHeads: numHeads,
                                             downsampleRate: attentionDownsampleRate)
    self.skipFirstLayerPE = skipFirstLayerPE
    super.init()
    registerChild("self_attn", selfAttn)
    registerChild("norm1", norm1)
    registerChild("cross_attn_token_to_image", crossAttnTokenToImage)
    registerChild("norm2", norm2)
    registerChild("mlp", mlp)
    registerChild("norm3", norm3)
    registerChild("norm4", norm4)
    registerChild("cross_attn_image_to_token", crossAttnImageToToken)
  }

  /// queries (B, Nq, C), keys (B, Nk, C) with their positional encodings -> updated (queries, keys).
  public func callAsFunction(queries: Tensor, keys: Tensor, queryPE: Tensor, keyPE: Tensor) throws -> (Tensor, Tensor) {
    var q: Tensor
    if skipFirstLayerPE {
      q = try selfAttn(q: queries, k: queries, v: queries)
    } else {
      let withPE = try queries + queryPE
      q = try queries + selfAttn(q: withPE, k: withPE, v: queries)
    }
    q = try norm1(q)
    let keysWithPE = try keys + keyPE
    q = try norm2(q + crossAttnTokenToImage(q: q + queryPE, k: keysWithPE, v: keys))
    q = try norm3(q + mlp(q))
    let k = try norm4(keys + crossAttnImageToToken(q: keysWithPE, k: q + queryPE, v: q))
    return (q, k)
  }
}

/// SAM's two-way transformer. Keys `layers.{i}`, `final_attn_token_to_image`, `norm_final_attn`.
public final class TwoWayTransformer: Module {
  public let layers: [TwoWayAttentionBlock]
  let finalAttnTokenToImage: SAMAttention
  let normFinalAttn: LayerNorm

  public init(depth: Int, embeddingDim: Int, numHeads: Int, mlpDim: Int, attentionDownsampleRate: Int = 2) throws {
    layers = try (0..<depth).map { i in
      try TwoWayAttentionBlock(embeddingDim: embeddingDim, numHeads: numHeads, mlpDim: mlpDim,
                               attentionDownsampleRate: attentionDownsampleRate, skipFirstLayerPE: i == 0)
    }
    finalAttnTokenToImage = try SAMAttention(embeddingDim: embeddingDim, numHeads: numHeads,
                                             downsampleRate: attentionDownsampleRate)
    normFinalAttn = try LayerNorm(embeddingDim)
    super.init()
    let list = registerChild("layers", Module())
    for (i, layer) in layers.enumerated() { list.registerChild(String(i), layer) }
    registerChild("final_attn_token_to_image", finalAttnTokenToImage)
    registerChild("norm_final_attn", normFinalAttn)
  }

  /// image (B, C, h, w), imagePE (B, C, h, w), tokens (B, N, C) -> (tokens (B, N, C), image tokens (B, hw, C)).
  public func callAsFunction(image: Tensor, imagePE: Tensor, tokens: Tensor) throws -> (Tensor, Tensor) {
    var keys = try image.flatten(start: 2).permute([0, 2, 1])
    let keyPE = try imagePE.flatten(start: 2).permute([0, 2, 1])
    var queries = tokens
    for layer in layers { (queries, keys) = try layer(queries: queries, keys: keys, queryPE: tokens, keyPE: keyPE) }
    let attended = try finalAttnTokenToImage(q: queries + tokens, k: keys + keyPE, v: keys)
    return (try normFinalAttn(queries + attended), keys)
  }
}

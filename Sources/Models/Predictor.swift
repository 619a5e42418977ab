// As segment_anything/predictor.py: set an image once (the expensive encoder pass), then decode many prompts.
import Foundation
import Tensor

/// A prompt in original-image pixels.
public struct Prompt {
  /// Points (x, y, label): label 1 foreground, 0 background.
  public var points: [(x: Double, y: Double, label: Int)] = []
  /// Boxes XYXY; several boxes are decoded as a batch, one mask set per box.
  public var boxes: [[Double]] = []
  /// Optional low-resolution mask logits (1 or B, 1, 4h, 4w) from an earlier prediction.
  public var maskInput: Tensor?

  public init(points: [(x: Double, y: Double, label: Int)] = [], boxes: [[Double]] = [], maskInput: Tensor? = nil) {
    self.points = points
    self.boxes = boxes
    self.maskInput = maskInput
  }
}

public struct Prediction {
  /// Logits at the original image size, (B, M, H, W); a pixel is foreground where the logit > 0 (sigmoid > 0.5).
  public let masks: Tensor
  /// Predicted IoU per mask, (B, M).
  public let iou: Tensor
  /// Low-resolution logits (B, M, 4h, 4w), usable as the next `maskInput`.
  public let lowResMasks: Tensor
}

public final class SamPredictor {
  public let model: Sam
  public private(set) var embedding: Tensor?
  public private(set) var originalSize: (Int, Int) = (0, 0)

  public init(model: Sam) {
    self.model = model
    model.eval()
  }

  /// Encodes an (H, W, 3) uint8 image once.
  public func setImage(_ image: Tensor) throws {
    let input = try model.contract.preprocess(image).to(model.device)  // the model's device (CPU or CUDA)
    embedding = try Torch.withNoGrad { try model.imageEncoder(input) }
    originalSize = (image.size(0), image.size(1))
  }

  public func predict(_ prompt: Prompt, multimaskOutput: Bool) throws -> Prediction {
    guard let embedding else { throw TorchError.invalidArgument("call setImage before predict") }
    let contract = model.contract
    let batch = Swift.max(1, prompt.boxes.count)
    var points: (coords: Tensor, labels: Tensor)?
    if !prompt.points.isEmpty {
      let xy = contract.transformPoints(prompt.points.flatMap { [$0.x, $0.y] }, original: originalSize)
      let coords = try Tensor(xy.map(Float.init), shape: [1, prompt.points.count, 2]).to(embedding.device).expand([batch, -1, -1])
      let labels = try Tensor(prompt.points.map { Int64($0.label) }, shape: [1, prompt.points.count]).to(embedding.device)
        .expand([batch, -1])
      points = (coords, labels)
    }
    let boxes = prompt.boxes.isEmpty ? nil : try Tensor(
      prompt.boxes.flatMap { contract.transformBox($0, original: originalSize) }.map(Float.init), shape: [batch, 1, 4]).to(embedding.device)
    return try Torch.withNoGrad {
      let (low, iou) = try model.decode(embedding: embedding, points: points, boxes: boxes, maskInput: prompt.maskInput,
                                        multimaskOutput: multimaskOutput)
      return Prediction(masks: try contract.postprocess(low, original: originalSize), iou: iou, lowResMasks: low)
    }
  }
}

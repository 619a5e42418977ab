import Data
import Foundation
import Models
import NN
import Tensor

/// Prompt-free segmentation with a trained HSP-SAM checkpoint: no box, no point, no click.
public final class PromptFreePredictor {
  public let model: HSPSAM
  public let metadata: RunCheckpoint.Metadata
  let transform: SampleTransform
  /// Test-time augmentation: the model also sees the input flipped horizontally, vertically and both (one batch of
  /// four), and the four logit maps, flipped back, are averaged before the resize and softmax. 4x the compute.
  public var flipTTA = false

  /// `checkpoint`: a run folder (uses best.safetensors) or a .safetensors file written by `hspsam train`;
  /// `device`: where the model runs (images go there, probabilities come back to the host).
  public init(checkpoint: String, baseCheckpoint: String, device: Device = .cpu) throws {
    let path = try RunCheckpoint.resolve(checkpoint, option: "--checkpoint")
    let (metadata, tensors, _) = try RunCheckpoint.read(path)
    try RunCheckpoint.checkBase(metadata, of: path, against: baseCheckpoint)
    let base = try metadata.config.loadBase(checkpoint: baseCheckpoint)
    model = try HSPSAM(config: metadata.config.model, base: base)
    try RunCheckpoint.restore(tensors, into: model, source: path)
    try model.to(device)
    model.eval()
    self.metadata = metadata
    transform = SampleTransform(size: metadata.config.inputSize, geometry: metadata.config.resize,
                                normalization: metadata.config.inputNormalization)
  }

  /// Prediction-time logits (B, K+1, S, S): the model's own output, or for `positional` SAM's mask from the
  /// prompts its classifier derives.
  public static func logits(model: HSPSAM, images: Tensor) throws -> Tensor {
    if model.config.architecture == .positional { return try PositionalPrompting.logits(model: model, images: images) }
    return try model(images).logits
  }

  /// Logits of one image (1, C, S, S) averaged over it and its three flips, each flipped back.
  static func flipAveragedLogits(model: HSPSAM, images: Tensor) throws -> Tensor {
    let flips: [[Int]] = [[], [3], [2], [2, 3]]
    let batch = try Tensor.cat(flips.map { $0.isEmpty ? images : try images.flip($0) }, dim: 0)
    let logits = try Self.logits(model: model, images: batch)
    var sum = try logits.slice(dim: 0, end: 1)
    for (i, dims) in flips.enumerated().dropFirst() { sum = try sum + logits.slice(dim: 0, start: i, end: i + 1).flip(dims) }
    return try sum / Double(flips.count)
  }

  /// Class probabilities (K+1, H, W) at the image's size, and the class map (argmax; binary: foreground p > 0.5).
  public func predict(_ image: Image) throws -> (probabilities: Tensor, classes: [UInt8]) {
    var generator = SplitMix64(seed: 0)
    let prepared = try transform.apply(rgb: image.rgb8(), classes: [UInt8](repeating: 0, count: image.width * image.height),
                                       height: image.height, width: image.width, using: &generator)
    return try Torch.withNoGrad {
      let input = try prepared.image.unsqueeze(0).to(model.device)
      let logits = flipTTA ? try Self.flipAveragedLogits(model: model, images: input) : try Self.logits(model: model, images: input)
      let (h, w) = prepared.contentSize
      let cropped = try logits.slice(dim: 2, end: h).slice(dim: 3, end: w)
      // Logits resized bilinearly to the original size, then softmax (PraNet-style: resize before the activation).
      let probabilities = try cropped.interpolate(size: (image.height, image.width), mode: .bilinear).softmax(dim: 1).squeeze(0).to(.cpu)
      let classes = try probabilities.argmax(dim: 0).to(.uint8).toArray(UInt8.self)
      return (probabilities, classes)
    }
  }
}

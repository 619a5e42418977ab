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
  /// Test-time augmentation: the model also sees transformed copies of the input, and their logit maps, transformed
  /// back, are averaged before the resize and softmax.
  public var testTimeAugmentation = TestTimeAugmentation.none

  /// `checkpoint`: a run folder (uses best.safetensors) or a .safetensors file written by `hspsam train`;
  /// `device`: where the model runs (images go there, probabilities come back to the host).
  public init(checkpoint: String, baseCheckpoint: String, device: Device = .cpu) throws {
    let path = try RunCheckpoint.resolve(checkpoint, parameter: .checkpoint)
    let (metadata, tensors, _) = try RunCheckpoint.read(path)
    try RunCheckpoint.checkBase(metadata, of: path, against: baseCheckpoint)
    let base = try metadata.config.loadBase(checkpoint: baseCheckpoint)
    model = try HSPSAM(config: metadata.config.model, base: base)
    try RunCheckpoint.restore(tensors, into: model, source: path)
    try model.to(device)
    model.eval()
    self.metadata = metadata
    transform = HSPSAMInput(metadata.config).transform()
  }

  /// Images of more pixels than this are predicted from a reduced copy (`readingFactor`): the model sees 256 pixels
  /// a side, and a full-size copy of a 400-megapixel image and its maps would take tens of GB.
  public static let largeImagePixels = 16_000_000
  /// The most pixels of that reduced copy (e.g. 2000 x 2000, still 8 times the model's input a side).
  public static let reducedImagePixels = 4_000_000

  /// The factor to read an image of this size by (`ImageIO.read(_:reducedBy:)`): 1 up to `largeImagePixels`.
  public static func readingFactor(width: Int, height: Int) -> Int {
    width * height > largeImagePixels ? ImageIO.reductionFactor(width: width, height: height, toAtMost: reducedImagePixels) : 1
  }

  /// Prediction-time logits (B, K+1, S, S): the model's own output, or for `positional` SAM's mask from the
  /// prompts its classifier derives.
  public static func logits(model: HSPSAM, images: Tensor) throws -> Tensor {
    if model.config.architecture == .positional { return try PositionalPrompting.logits(model: model, images: images) }
    return try model(images).logits
  }

  /// Logits of one image (1, C, S, S) averaged over its test-time copies, each mapped back. The copies of one
  /// transposition run as one batch of four (the flips), so the dihedral group's peak memory is the flips' own.
  static func augmentedLogits(model: HSPSAM, images: Tensor, augmentation: TestTimeAugmentation) throws -> Tensor {
    guard augmentation != .none else { return try logits(model: model, images: images) }
    let flips: [[Int]] = [[], [3], [2], [2, 3]]
    let mappedBack = try augmentation.transpositions.flatMap { transposed -> [Tensor] in
      // Transposing the padded S x S square keeps the content in its top-left corner (h x w becomes w x h).
      let base = transposed ? try images.transpose(2, 3) : images
      let batchLogits = try logits(model: model, images: Tensor.cat(flips.map { $0.isEmpty ? base : try base.flip($0) }, dim: 0))
      return try flips.enumerated().map { i, dims in
        var back = try batchLogits.slice(dim: 0, start: i, end: i + 1)
        if !dims.isEmpty { back = try back.flip(dims) }
        return transposed ? try back.transpose(2, 3) : back
      }
    }
    return try Tensor.cat(mappedBack, dim: 0).mean(dims: [0], keepDim: true)
  }

  /// Class probabilities (K+1, H, W) at the image's size, and the class map (argmax; binary: foreground p > 0.5).
  public func predict(_ image: Image) throws -> (probabilities: Tensor, classes: [UInt8]) {
    var generator = SplitMix64(seed: 0)
    let prepared = try transform.apply(rgb: image.rgb8(), classes: [UInt8](repeating: 0, count: image.width * image.height),
                                       height: image.height, width: image.width, using: &generator)
    return try Torch.withNoGrad {
      let input = try prepared.image.unsqueeze(0).to(model.device)
      let logits = try Self.augmentedLogits(model: model, images: input, augmentation: testTimeAugmentation)
      let (h, w) = prepared.contentSize
      let cropped = try logits.slice(dim: 2, end: h).slice(dim: 3, end: w)
      // Logits resized bilinearly to the original size, then softmax (PraNet-style: resize before the activation).
      let probabilities = try cropped.interpolate(size: (image.height, image.width), mode: .bilinear).softmax(dim: 1).squeeze(0).to(.cpu)
      let classes = try probabilities.argmax(dim: 0).to(.uint8).toArray(UInt8.self)
      return (probabilities, classes)
    }
  }
}

/// Which copies of the input a prediction averages over (`--tta`, `--tta-dihedral`).
public enum TestTimeAugmentation: Sendable {
  /// The image alone.
  case none
  /// The image and its horizontal, vertical and double flips: 4x the compute.
  case flips
  /// The flips of the image and of its transpose, i.e. all 8 rotations and reflections of the square: 8x the compute.
  case dihedral

  /// Whether the flips run on the image alone or on the image and its transpose.
  var transpositions: [Bool] { self == .dihedral ? [false, true] : [false] }

  /// How a results row's source names it (nil: no TTA).
  public var label: String? {
    switch self {
    case .none: return nil
    case .flips: return "flip TTA"
    case .dihedral: return "dihedral TTA"
    }
  }
}

// The input contracts of the two model families, as their reference inference code applies them:
// - SAM (segment_anything/utils/transforms.py ResizeLongestSide + Sam.preprocess/postprocess_masks):
//   bilinear antialiased resize of the longest side to S (PIL's filter), ImageNet mean/std on 0..255,
//   zero padding to S x S; coordinates scaled by new/old per axis; masks upsampled to S, cropped, resized back.
// - LiteMedSAM (bowang-lab/MedSAM branch LiteMedSAM, CVPR24_LiteMedSAM_infer.py): OpenCV INTER_AREA resize of the
//   longest side to 256, min-max to [0,1] over the whole image, zero padding; boxes scaled by 256/max(H,W) and
//   truncated to integers; low-res logits cropped to the resized size and resized bilinearly to the original.
import Foundation
import Tensor

public enum InputContract: Equatable, Sendable {
  case sam(size: Int)
  case liteMedSAM

  public var inputSize: Int {
    switch self {
    case .sam(let size): return size
    case .liteMedSAM: return 256
    }
  }

  /// The resized size (h, w) of an original (H, W): longest side = input size, rounded as the references round.
  public func resizedSize(original: (Int, Int)) -> (Int, Int) { longestSideResize(original, to: inputSize) }

  /// image: (H, W, 3) uint8 -> model input (1, 3, S, S) float32.
  public func preprocess(_ image: Tensor) throws -> Tensor {
    guard image.rank == 3, image.size(2) == 3 else {
      throw TorchError.invalidArgument("expected an H x W x 3 image, got shape \(image.shape)")
    }
    let original = (image.size(0), image.size(1))
    let (h, w) = resizedSize(original: original)
    let chw = try image.permute([2, 0, 1]).unsqueeze(0).to(.float32)  // (1, 3, H, W), 0..255
    let s = inputSize
    switch self {
    case .liteMedSAM:
      let resized = try areaResize(chw, to: (h, w)).round().clamp(min: 0, max: 255)
      let low = try resized.min(), high = try resized.max()
      let normalised = try (resized - low) / (high - low).clamp(min: 1e-8)
      return try normalised.pad([0, s - w, 0, s - h])
    case .sam:
      // PIL resizes in two passes (horizontal, then vertical), rounding to 8 bits after each: do the same.
      let horizontal = try chw.interpolate(size: (original.0, w), mode: .bilinear, antialias: true).round().clamp(min: 0, max: 255)
      let resized = try horizontal.interpolate(size: (h, w), mode: .bilinear, antialias: true).round().clamp(min: 0, max: 255)
      return try ImageNetNormalization.apply(resized).pad([0, s - w, 0, s - h])
    }
  }

  /// A box XYXY in original pixels -> the input frame.
  public func transformBox(_ box: [Double], original: (Int, Int)) -> [Double] {
    switch self {
    case .liteMedSAM:
      let ratio = 256 / Double(Swift.max(original.0, original.1))
      return box.map { Double(Int($0 * ratio)) }  // int() truncation, as resize_box_to_256
    case .sam:
      return transformPoints(box, original: original)
    }
  }

  /// Flat XY pairs in original pixels -> the input frame (scaled per axis, as ResizeLongestSide.apply_coords).
  public func transformPoints(_ xy: [Double], original: (Int, Int)) -> [Double] {
    let (h, w) = resizedSize(original: original)
    let sx = Double(w) / Double(original.1), sy = Double(h) / Double(original.0)
    return xy.enumerated().map { $0.offset % 2 == 0 ? $0.element * sx : $0.element * sy }
  }

  /// Mask logits (B, M, 4h, 4w) from the decoder -> logits at the original size (B, M, H, W).
  public func postprocess(_ lowRes: Tensor, original: (Int, Int)) throws -> Tensor {
    let (h, w) = resizedSize(original: original)
    var masks = lowRes
    if case .sam(let size) = self {
      masks = try masks.interpolate(size: (size, size), mode: .bilinear)
    }
    masks = try masks.slice(dim: 2, end: h).slice(dim: 3, end: w)
    return try masks.interpolate(size: original, mode: .bilinear)
  }
}


import Foundation
import Tensor

/// How an image reaches the model's square input.
public enum Geometry: String, Codable, Sendable {
  /// Longest side to the input size (aspect kept), zero padding bottom/right (SAM and LiteMedSAM).
  case longestSidePad = "longest-side+pad"
  /// Straight resize to a square (PraNet-style squashing).
  case square
}

/// Intensity normalisation per backbone.
public enum Normalization: String, Codable, Sendable {
  /// Per-image min-max to [0, 1] (LiteMedSAM; HSP-SAM's code for SAM too).
  case minmax01
  /// SAM's ImageNet mean/std on 0..255.
  case imagenet
}

/// Seeded augmentations, applied identically to image and mask. Rotation and scale use one affine warp
/// (bilinear image, nearest mask, zeros outside). Colour changes act on the resized 0...255 image, before
/// normalisation.
public struct Augmentation: Codable, Equatable, Sendable {
  public var horizontalFlip = 0.5
  public var verticalFlip = 0.5
  /// Random multiples of 90 degrees.
  public var rotate90 = true
  /// Free rotation uniform in [-degrees, degrees].
  public var rotationDegrees = 20.0
  /// Scale uniform in this range (1...1 disables); > 1 zooms in (a random crop), < 1 zooms out.
  public var scaleRange: [Double] = [1, 1]
  /// Brightness / contrast / saturation factors uniform in [1 - j, 1 + j]. Per-image min-max normalisation
  /// (LiteMedSAM's) undoes most of brightness and contrast; `channelGain` and `gamma` survive it.
  public var colourJitter = 0.0
  /// Red, green and blue each scaled by its own factor uniform in [1 - g, 1 + g]: another endoscope's white
  /// balance. Min-max normalisation is over all channels together, so the colour shift stays.
  public var channelGain = 0.0
  /// Intensities 255 * (x / 255)^gamma with ln(gamma) uniform in [-g, g]: another camera's tone curve.
  public var gamma = 0.0

  public init() {}

  public enum CodingKeys: String, CodingKey, CaseIterable {
    case horizontalFlip, verticalFlip, rotate90, rotationDegrees, scaleRange, colourJitter, channelGain, gamma
  }

  /// Missing keys take their defaults (configurations saved before a key existed).
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = Augmentation()
    horizontalFlip = try c.decode(.horizontalFlip, default: d.horizontalFlip)
    verticalFlip = try c.decode(.verticalFlip, default: d.verticalFlip)
    rotate90 = try c.decode(.rotate90, default: d.rotate90)
    rotationDegrees = try c.decode(.rotationDegrees, default: d.rotationDegrees)
    scaleRange = try c.decode(.scaleRange, default: d.scaleRange)
    colourJitter = try c.decode(.colourJitter, default: d.colourJitter)
    channelGain = try c.decode(.channelGain, default: d.channelGain)
    gamma = try c.decode(.gamma, default: d.gamma)
  }

  /// `channelGain` and `gamma` are written only when in use, so the text of an augmentation without them (part
  /// of the prefix cache's key) is what it was before they existed and earlier caches stay valid.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(horizontalFlip, forKey: .horizontalFlip)
    try c.encode(verticalFlip, forKey: .verticalFlip)
    try c.encode(rotate90, forKey: .rotate90)
    try c.encode(rotationDegrees, forKey: .rotationDegrees)
    try c.encode(scaleRange, forKey: .scaleRange)
    try c.encode(colourJitter, forKey: .colourJitter)
    if channelGain != 0 { try c.encode(channelGain, forKey: .channelGain) }
    if gamma != 0 { try c.encode(gamma, forKey: .gamma) }
  }
  public static let none: Augmentation = {
    var a = Augmentation()
    a.horizontalFlip = 0
    a.verticalFlip = 0
    a.rotate90 = false
    a.rotationDegrees = 0
    return a
  }()
}

/// A sample ready for the model.
public struct PreparedSample {
  /// (3, S, S) float32, normalised, padded.
  public let image: Tensor
  /// (S, S) int64 class indices (0 outside the image).
  public let mask: Tensor
  /// The resized image's size inside the square, before augmentation (h, w).
  public let contentSize: (Int, Int)
  public let originalSize: (Int, Int)
}

public struct SampleTransform: Sendable {
  public var size: Int
  public var geometry: Geometry
  public var normalization: Normalization
  public var augmentation: Augmentation?

  public init(size: Int, geometry: Geometry = .longestSidePad, normalization: Normalization = .minmax01,
              augmentation: Augmentation? = nil) {
    self.size = size
    self.geometry = geometry
    self.normalization = normalization
    self.augmentation = augmentation
  }

  public func contentSize(original: (Int, Int)) -> (Int, Int) {
    switch geometry {
    case .square: return (size, size)
    case .longestSidePad: return longestSideResize(original, to: size)
    }
  }

  /// image: RGB bytes (H, W, 3); classes: (H, W) class indices.
  public func apply<G: RandomNumberGenerator>(rgb: [UInt8], classes: [UInt8], height: Int, width: Int,
                                              using generator: inout G) throws -> PreparedSample {
    let (h, w) = contentSize(original: (height, width))
    // Image: area resize when shrinking (as LiteMedSAM's INTER_AREA), bilinear when enlarging; mask: nearest.
    var image = try Tensor(rgb, shape: [height, width, 3]).permute([2, 0, 1]).unsqueeze(0).to(.float32)
    image = try areaResize(image, to: (h, w)).clamp(min: 0, max: 255)
    var mask = try Tensor(classes, shape: [1, 1, height, width]).to(.float32).interpolate(size: (h, w), mode: .nearest)
    if let augmentation { image = try recolour(image, augmentation, using: &generator) }
    image = try normalise(image)
    image = try image.pad([0, size - w, 0, size - h])
    mask = try mask.pad([0, size - w, 0, size - h])
    if let augmentation { (image, mask) = try augment(image, mask, augmentation, using: &generator) }
    return PreparedSample(image: try image.squeeze(0).contiguous(), mask: try mask.squeeze(0).squeeze(0).to(.int64),
                          contentSize: (h, w), originalSize: (height, width))
  }

  func normalise(_ image: Tensor) throws -> Tensor {
    switch normalization {
    case .minmax01:
      let low = try image.min(), high = try image.max()
      return try (image - low) / (high - low).clamp(min: 1e-8)
    case .imagenet:
      return try ImageNetNormalization.apply(image)
    }
  }

  /// The colour changes on a 0...255 image, in a fixed order; one that is off draws no random number, so turning
  /// one on leaves the others' draws (and earlier runs) as they were.
  func recolour<G: RandomNumberGenerator>(_ image: Tensor, _ a: Augmentation, using g: inout G) throws -> Tensor {
    var x = image
    if a.colourJitter > 0 {
      let j = a.colourJitter
      let brightness = Double.random(in: (1 - j)...(1 + j), using: &g)
      let contrast = Double.random(in: (1 - j)...(1 + j), using: &g)
      let saturation = Double.random(in: (1 - j)...(1 + j), using: &g)
      x = try x * brightness
      let grey = try x.mean(dims: [1], keepDim: true)
      x = try (x - grey) * saturation + grey
      let mean = try x.mean()
      x = try ((x - mean) * contrast + mean).clamp(min: 0, max: 255)
    }
    if a.channelGain > 0 {
      let gains = (0..<3).map { _ in Float(Double.random(in: (1 - a.channelGain)...(1 + a.channelGain), using: &g)) }
      x = try (x * Tensor(gains, shape: [1, 3, 1, 1])).clamp(min: 0, max: 255)
    }
    if a.gamma > 0 {
      let exponent = Foundation.exp(Double.random(in: -a.gamma...a.gamma, using: &g))
      x = try (x / 255).pow(exponent) * 255
    }
    return x
  }

  func augment<G: RandomNumberGenerator>(_ image: Tensor, _ mask: Tensor, _ a: Augmentation,
                                         using g: inout G) throws -> (Tensor, Tensor) {
    var x = image, m = mask
    if Double.random(in: 0..<1, using: &g) < a.horizontalFlip { x = try x.flip([3]); m = try m.flip([3]) }
    if Double.random(in: 0..<1, using: &g) < a.verticalFlip { x = try x.flip([2]); m = try m.flip([2]) }
    if a.rotate90 {
      let k = Int.random(in: 0..<4, using: &g)
      if k > 0 { x = try x.rot90(k, dims: (2, 3)); m = try m.rot90(k, dims: (2, 3)) }
    }
    let degrees = a.rotationDegrees > 0 ? Double.random(in: -a.rotationDegrees...a.rotationDegrees, using: &g) : 0
    let scale = a.scaleRange.count == 2 && a.scaleRange[0] < a.scaleRange[1]
      ? Double.random(in: a.scaleRange[0]...a.scaleRange[1], using: &g) : 1
    if degrees != 0 || scale != 1 {
      // theta maps output coordinates to input coordinates: rotation by -angle, scaled by 1 / scale.
      let angle = degrees * Double.pi / 180
      let c = Foundation.cos(angle) / scale, s = Foundation.sin(angle) / scale
      let theta = try Tensor([Float(c), Float(-s), 0, Float(s), Float(c), 0], shape: [1, 2, 3])
      x = try x.affineWarp(theta: theta)
      m = try m.affineWarp(theta: theta, nearest: true)
    }
    return (x, m)
  }
}

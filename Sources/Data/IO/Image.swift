import Foundation
import Tensor

/// A decoded raster image: `height` x `width` x `channels` samples, row-major, 8 or 16 bits per sample.
public struct Image: Equatable, Sendable {
  public let width: Int
  public let height: Int
  /// 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA.
  public let channels: Int
  /// 8 or 16.
  public let bitDepth: Int
  /// Samples widened to UInt16 where the file holds 16 bits; 8-bit images keep values 0...255.
  public let samples: [UInt16]

  public init(width: Int, height: Int, channels: Int, bitDepth: Int = 8, samples: [UInt16]) {
    precondition(samples.count == width * height * channels, "sample count does not match the size")
    self.width = width
    self.height = height
    self.channels = channels
    self.bitDepth = bitDepth
    self.samples = samples
  }

  /// An 8-bit image from bytes.
  public init(width: Int, height: Int, channels: Int, bytes: [UInt8]) {
    self.init(width: width, height: height, channels: channels, bitDepth: 8, samples: bytes.map(UInt16.init))
  }

  /// 8-bit RGB: grey is replicated, alpha dropped, 16-bit samples scaled to 8 bits (v * 255 / 65535, rounded).
  public func rgb8() -> [UInt8] {
    let to8: (UInt16) -> UInt8 = bitDepth == 16 ? { UInt8((UInt32($0) * 255 + 32767) / 65535) } : { UInt8($0) }
    var out = [UInt8](repeating: 0, count: width * height * 3)
    for p in 0..<(width * height) {
      let base = p * channels
      if channels >= 3 {
        out[p * 3] = to8(samples[base]); out[p * 3 + 1] = to8(samples[base + 1]); out[p * 3 + 2] = to8(samples[base + 2])
      } else {
        let v = to8(samples[base])
        out[p * 3] = v; out[p * 3 + 1] = v; out[p * 3 + 2] = v
      }
    }
    return out
  }

  /// The first channel as values (for masks and label maps), 8- or 16-bit as stored.
  public func firstChannel() -> [UInt16] {
    channels == 1 ? samples : stride(from: 0, to: samples.count, by: channels).map { samples[$0] }
  }

  /// A binary mask: first channel > threshold (for colour masks: any of R, G, B > threshold).
  public func binaryMask(threshold: Int = 127) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: width * height)
    let colour = channels >= 3
    for p in 0..<(width * height) {
      let base = p * channels
      let value = colour ? Swift.max(samples[base], samples[base + 1], samples[base + 2]) : samples[base]
      out[p] = Int(value) > threshold ? 1 : 0
    }
    return out
  }

  /// (H, W, 3) uint8 tensor of `rgb8()`.
  public func rgbTensor() throws -> Tensor { try Tensor(rgb8(), shape: [height, width, 3]) }
}

extension Image {
  /// 8-bit grey as OpenCV's IMREAD_GRAYSCALE makes it: colour with its fixed-point 0.299 R + 0.587 G + 0.114 B,
  /// alpha ignored, 16-bit scaled to 8 bits.
  public func grey8() -> [UInt8] {
    if channels < 3 {
      let first = firstChannel()
      return bitDepth == 16 ? first.map { UInt8((UInt32($0) * 255 + 32767) / 65535) } : first.map { UInt8($0) }
    }
    let rgb = rgb8()
    return (0..<(width * height)).map { p in
      let r = UInt32(rgb[p * 3]), g = UInt32(rgb[p * 3 + 1]), b = UInt32(rgb[p * 3 + 2])
      return UInt8((r * 4899 + g * 9617 + b * 1868 + 8192) >> 14)
    }
  }
}

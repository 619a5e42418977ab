import Data
import Foundation
import Tensor
import XCTest

final class AugmentationTests: XCTestCase {
  /// A grey horizontal ramp (R = G = B), 32 x 32.
  let ramp: [UInt8] = (0..<32 * 32).flatMap { (i: Int) -> [UInt8] in
    let value = UInt8(40 + (i % 32) * 5)
    return [value, value, value]
  }
  let classes = [UInt8](repeating: 0, count: 32 * 32)

  func prepared(_ configure: (inout Augmentation) -> Void, seed: UInt64 = 3) throws -> Tensor {
    var augmentation = Augmentation.none
    configure(&augmentation)
    var generator = SplitMix64(seed: seed)
    let transform = SampleTransform(size: 32, normalization: .minmax01, augmentation: augmentation)
    return try transform.apply(rgb: ramp, classes: classes, height: 32, width: 32, using: &generator).image
  }

  func maxChannelSpread(_ image: Tensor) throws -> Double {
    try (image.max(dims: [0]) - image.min(dims: [0])).max().item()
  }

  /// A strip far wider than tall (1000 x 1) keeps one row at the input size instead of a 0-pixel resize, which
  /// the references' rounding would ask for (and libtorch refuse); its pixels land in row 0, the rest is padding.
  func testAStripKeepsAtLeastOneRow() throws {
    XCTAssertEqual(longestSideResize((1, 1000), to: 256).0, 1)
    XCTAssertEqual(longestSideResize((1, 1000), to: 256).1, 256)
    XCTAssertEqual(longestSideResize((288, 384), to: 256).0, 192, "ordinary sizes round as before")
    var generator = SplitMix64(seed: 0)
    let strip = (0..<1000).flatMap { (i: Int) -> [UInt8] in [UInt8(i % 200), 90, 30] }
    let transform = SampleTransform(size: 256, normalization: .minmax01)
    let sample = try transform.apply(rgb: strip, classes: [UInt8](repeating: 1, count: 1000), height: 1, width: 1000, using: &generator)
    XCTAssertEqual(sample.contentSize.0, 1)
    XCTAssertEqual(sample.contentSize.1, 256)
    XCTAssertEqual(sample.image.shape, [3, 256, 256])
    XCTAssertGreaterThan(try sample.image.slice(dim: 1, end: 1).max().item(), 0.5, "the strip is in row 0")
  }

  /// Per-channel gains change the colour balance, which per-image min-max normalisation keeps (tolerance: the
  /// channels of a grey image differ by > 0.01 with gains of +-30%, by < 1e-6 without).
  func testChannelGainSurvivesMinMaxNormalisation() throws {
    XCTAssertLessThan(try maxChannelSpread(prepared { _ in }), 1e-6)
    XCTAssertGreaterThan(try maxChannelSpread(prepared { $0.channelGain = 0.3 }), 0.01)
  }

  /// Gamma bends the ramp: the normalised mid-point moves by > 0.01 for some seed, and stays within [0, 1].
  func testGammaChangesMidTones() throws {
    let plain = try prepared { _ in }
    var moved = 0.0
    for seed in 1...4 as ClosedRange<UInt64> {
      let curved = try prepared({ $0.gamma = 0.5 }, seed: seed)
      XCTAssertGreaterThanOrEqual(try curved.min().item(), 0)
      XCTAssertLessThanOrEqual(try curved.max().item(), 1 + 1e-6)
      moved = max(moved, try (curved - plain).abs().max().item())
    }
    XCTAssertGreaterThan(moved, 0.01)
  }

  /// The text of an augmentation without the colour keys is the one written before they existed: it is part of
  /// the prefix cache's key, so earlier caches stay valid; and text without them decodes to the defaults.
  func testTextWithoutColourKeysIsUnchanged() throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let old = #"{"colourJitter":0,"horizontalFlip":0.5,"rotate90":true,"rotationDegrees":20,"scaleRange":[1,1],"verticalFlip":0.5}"#
    XCTAssertEqual(String(decoding: try encoder.encode(Augmentation()), as: UTF8.self), old)
    XCTAssertEqual(try JSONDecoder().decode(Augmentation.self, from: Data(old.utf8)), Augmentation())
    var coloured = Augmentation()
    coloured.gamma = 0.4
    let text = try encoder.encode(coloured)
    XCTAssertTrue(String(decoding: text, as: UTF8.self).contains(#""gamma":0.4"#))
    XCTAssertEqual(try JSONDecoder().decode(Augmentation.self, from: text), coloured)
  }
}

import Data
import Foundation
import Tensor
import TestSupport
import Training
import XCTest

/// Test-time flips with the shipped model on a square image (no padding, so flipping the image flips the input).
final class FlipTTATests: XCTestCase {
  static let weights = Fixtures.repository.appendingPathComponent("vendor/weights/lite_medsam.pth").path
  static let shipped = Fixtures.repository.appendingPathComponent("models/hsp-clinicdb.safetensors").path

  /// A 64x64 image: a reddish ellipse off centre on a graded background (neither axis symmetric).
  func image(mirrored: Bool) -> Image {
    let n = 64
    var rgb = [UInt8](repeating: 0, count: n * n * 3)
    for y in 0..<n {
      for x in 0..<n {
        let u = mirrored ? n - 1 - x : x
        let inside = pow(Double(u - 22), 2) / 150 + pow(Double(y - 26), 2) / 80 <= 1
        let p = (y * n + x) * 3
        rgb[p] = inside ? 210 : UInt8(60 + u)
        rgb[p + 1] = inside ? 110 : UInt8(40 + y)
        rgb[p + 2] = inside ? 90 : 70
      }
    }
    return Image(width: n, height: n, channels: 3, bytes: rgb)
  }

  /// With the flips averaged, predicting the mirrored image gives the mirrored probabilities (to float rounding,
  /// atol 1e-4); the model alone is not mirror-equivariant (it differs by more than 1e-3 somewhere).
  func testFlipAveragingMakesPredictionMirrorEquivariant() throws {
    guard FileManager.default.fileExists(atPath: Self.weights) else { throw XCTSkip("run scripts/setup.sh for lite_medsam.pth") }
    let predictor = try PromptFreePredictor(checkpoint: Self.shipped, baseCheckpoint: Self.weights)
    func foreground(_ mirrored: Bool) throws -> Tensor {
      let p = try predictor.predict(image(mirrored: mirrored)).probabilities.slice(dim: 0, start: 1, end: 2)
      return mirrored ? try p.flip([2]) : p
    }
    let plain = try (foreground(false) - foreground(true)).abs().max().item()
    XCTAssertGreaterThan(plain, 1e-3, "without TTA the two predictions differ")
    predictor.flipTTA = true
    assertAllClose(try foreground(true), try foreground(false), atol: 1e-4, "with TTA they mirror each other")
  }
}

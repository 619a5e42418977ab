import Data
import Foundation
import Tensor
import TestSupport
import Training
import XCTest

/// Test-time flips and rotations with the shipped model on a square image (no padding, so flipping or transposing
/// the image flips or transposes the input).
final class TestTimeAugmentationTests: XCTestCase {
  static let weights = Fixtures.liteMedSAMWeights
  static let shipped = Fixtures.repository.appendingPathComponent("models/hsp-clinicdb.safetensors").path

  /// A 64x64 image: a reddish ellipse off centre on a graded background (no axis or diagonal symmetric),
  /// optionally mirrored left-right or transposed.
  func image(mirrored: Bool, transposed: Bool = false) -> Image {
    let n = 64
    var rgb = [UInt8](repeating: 0, count: n * n * 3)
    for y in 0..<n {
      for x in 0..<n {
        let (column, row) = transposed ? (y, x) : (x, y)
        let u = mirrored ? n - 1 - column : column
        let inside = pow(Double(u - 22), 2) / 150 + pow(Double(row - 26), 2) / 80 <= 1
        let p = (y * n + x) * 3
        rgb[p] = inside ? 210 : UInt8(60 + u)
        rgb[p + 1] = inside ? 110 : UInt8(40 + row)
        rgb[p + 2] = inside ? 90 : 70
      }
    }
    return Image(width: n, height: n, channels: 3, bytes: rgb)
  }

  /// Predicting the mirrored and/or transposed image with `augmentation` gives the prediction mapped the same way
  /// (to float rounding, atol 1e-4), while without TTA the two differ by more than 1e-3 somewhere (the model alone
  /// is not equivariant, so the check can fail).
  func assertEquivariant(_ augmentation: TestTimeAugmentation, mirrored: Bool, transposed: Bool,
                         file: StaticString = #filePath, line: UInt = #line) throws {
    guard FileManager.default.fileExists(atPath: Self.weights) else { throw XCTSkip("run scripts/setup.sh for lite_medsam.pth") }
    let predictor = try PromptFreePredictor(checkpoint: Self.shipped, baseCheckpoint: Self.weights)
    func foreground(_ transformed: Bool) throws -> Tensor {
      var p = try predictor.predict(image(mirrored: transformed && mirrored, transposed: transformed && transposed))
        .probabilities.slice(dim: 0, start: 1, end: 2)
      if transformed && transposed { p = try p.transpose(1, 2) }
      return transformed && mirrored ? try p.flip([2]) : p
    }
    let plain = try (foreground(false) - foreground(true)).abs().max().item()
    XCTAssertGreaterThan(plain, 1e-3, "without TTA the two predictions differ", file: file, line: line)
    predictor.testTimeAugmentation = augmentation
    assertAllClose(try foreground(true), try foreground(false), atol: 1e-4, "with \(augmentation) TTA they map onto each other",
                   file: file, line: line)
  }

  /// With the flips averaged, predicting the mirrored image gives the mirrored probabilities.
  func testFlipAveragingMakesPredictionMirrorEquivariant() throws {
    try assertEquivariant(.flips, mirrored: true, transposed: false)
  }

  /// With all eight rotations and reflections averaged, the prediction of the image rotated by 90 degrees (mirrored
  /// and transposed) is the rotated prediction.
  func testDihedralAveragingMakesPredictionRotationEquivariant() throws {
    try assertEquivariant(.dihedral, mirrored: true, transposed: true)
  }
}

import Data
import Foundation
import TestSupport
import XCTest

/// CVC-ClinicDB frame 14 (one polyp) and its 0/1 mask, for the tests that run LiteMedSAM on a real image; skips
/// when the weights or the shared data are absent.
enum RealFrame {
  static let weights = Fixtures.liteMedSAMWeights

  static func clinicDB14() throws -> (image: Image, truth: [UInt8]) {
    guard FileManager.default.fileExists(atPath: weights) else { throw XCTSkip("run scripts/setup.sh for lite_medsam.pth") }
    let folder = Fixtures.sharedData.appendingPathComponent("CVC-ClinicDB")
    guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("images/14.tif").path) else {
      throw XCTSkip("../shared/data/CVC-ClinicDB absent: LiteMedSAM not run on a real frame")
    }
    let image = try ImageIO.read(folder.appendingPathComponent("images/14.tif").path)
    let truth = try ImageIO.read(folder.appendingPathComponent("masks/14.tif").path).binaryMask().map { $0 > 0 ? UInt8(1) : 0 }
    return (image, truth)
  }

  /// Dice of the probability map thresholded at 0.5 against a 0/1 mask.
  static func dice(_ probability: [Float], _ truth: [UInt8]) -> Double {
    let predicted = probability.map { $0 > 0.5 }
    let both = zip(predicted, truth).filter { $0.0 && $0.1 != 0 }.count
    return 2 * Double(both) / Double(predicted.filter { $0 }.count + truth.filter { $0 != 0 }.count)
  }
}

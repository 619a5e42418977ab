import Data
import Foundation
import TestSupport
import Training
import XCTest

/// The untrained LiteMedSAM baselines on a real CVC-ClinicDB frame (frame 14, one polyp).
final class BaselineTests: XCTestCase {
  static let weights = Fixtures.repository.appendingPathComponent("vendor/weights/lite_medsam.pth").path

  func testBoxOracleSegmentsAndNoPromptDoesNot() throws {
    guard FileManager.default.fileExists(atPath: Self.weights) else { throw XCTSkip("run scripts/setup.sh for lite_medsam.pth") }
    let frame = Fixtures.sharedData.appendingPathComponent("CVC-ClinicDB")
    guard FileManager.default.fileExists(atPath: frame.appendingPathComponent("images/14.tif").path) else {
      throw XCTSkip("../shared/data/CVC-ClinicDB absent: baselines not run on a real frame")
    }
    let image = try ImageIO.read(frame.appendingPathComponent("images/14.tif").path)
    let truth = try ImageIO.read(frame.appendingPathComponent("masks/14.tif").path).binaryMask().map { $0 > 0 ? UInt8(1) : 0 }
    func dice(_ p: [Float]) -> Double {
      let predicted = p.map { $0 > 0.5 }
      let both = zip(predicted, truth).filter { $0.0 && $0.1 != 0 }.count
      return 2 * Double(both) / Double(predicted.filter { $0 }.count + truth.filter { $0 != 0 }.count)
    }
    let oracle = try LiteMedSAMBaseline(mode: .boxOracle, weights: Self.weights)
    let boxed = try oracle.foreground(image, truth: truth)
    XCTAssertEqual(boxed.count, image.width * image.height)
    XCTAssertGreaterThan(dice(boxed), 0.9, "LiteMedSAM with the ground-truth box segments the polyp")
    let empty = try oracle.foreground(image, truth: [UInt8](repeating: 0, count: truth.count))
    XCTAssertEqual(empty.max(), 0, "no foreground: no box, empty prediction")
    let unprompted = try LiteMedSAMBaseline(mode: .noPrompt, weights: Self.weights).foreground(image, truth: truth)
    XCTAssertLessThan(dice(unprompted), 0.5, "without a prompt LiteMedSAM does not find the polyp")
  }
}

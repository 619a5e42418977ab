import NN
import Tensor
import TestSupport
import XCTest

/// The Tversky loss on a 4-pixel map whose foreground probabilities are set through the logits, against the
/// counts worked out by hand: TP = 0.9 + 0.6 + 0.1 = 1.6, FP = 0.2, FN = 3 - 1.6 = 1.4. Tolerance 1e-6 (float32).
final class LossTests: XCTestCase {
  let foreground: [Double] = [0.9, 0.2, 0.6, 0.1]

  func logits() throws -> Tensor {
    let fg = foreground.map { Float(log($0 / (1 - $0))) }
    return try Tensor([0, 0, 0, 0] + fg, shape: [1, 2, 1, 4])
  }

  func target() throws -> Tensor { try Tensor([1, 0, 1, 1] as [Int64], shape: [1, 1, 4]) }

  func testTverskyMatchesHandCounts() throws {
    let weighted = try Losses.tversky(logits: logits(), target: target(), falseNegativeWeight: 0.7).item()
    XCTAssertEqual(weighted, 1 - (1.6 + 1e-5) / (1.6 + 0.3 * 0.2 + 0.7 * 1.4 + 1e-5), accuracy: 1e-6)
    let even = try Losses.tversky(logits: logits(), target: target(), falseNegativeWeight: 0.5).item()
    XCTAssertEqual(even, 1 - (1.6 + 1e-5) / ((1.8 + 3) / 2 + 1e-5), accuracy: 1e-6, "beta 0.5 is the linear soft Dice")
  }

  func testMissedForegroundCostsMoreThanFalseForeground() throws {
    // The same map scored against a target where it misses one pixel, and one where it adds one.
    let map = try Tensor([0, 0, 0, 0, 5, 5, -5, -5] as [Float], shape: [1, 2, 1, 4])
    let misses = try Losses.tversky(logits: map, target: Tensor([1, 1, 1, 0] as [Int64], shape: [1, 1, 4]),
                                    falseNegativeWeight: 0.7).item()
    let adds = try Losses.tversky(logits: map, target: Tensor([1, 0, 0, 0] as [Int64], shape: [1, 1, 4]),
                                  falseNegativeWeight: 0.7).item()
    XCTAssertGreaterThan(misses, adds)
  }

  func testSegmentationLossKeepsSoftDiceWithoutBeta() throws {
    let plain = try Losses.segmentation(logits: logits(), target: target(), diceWeight: 0.8).item()
    let expected = try Losses.crossEntropy(logits: logits(), target: target()).item() * 0.2
      + Losses.softDice(logits: logits(), target: target()).item() * 0.8
    XCTAssertEqual(plain, expected, accuracy: 1e-6)
    let tversky = try Losses.segmentation(logits: logits(), target: target(), diceWeight: 0.8, tverskyBeta: 0.7).item()
    XCTAssertEqual(tversky, try Losses.crossEntropy(logits: logits(), target: target()).item() * 0.2
      + Losses.tversky(logits: logits(), target: target(), falseNegativeWeight: 0.7).item() * 0.8, accuracy: 1e-6)
  }

  /// PraNet's structure loss written in PyTorch (scripts/fixtures/make_losses.py) on the foreground logit l1 - l0 of
  /// two 48x48 maps with a disc each: the value and the gradient of both channels' logits, to float32 rounding.
  func testStructureLossMatchesPraNetsFormula() throws {
    let f = try Fixtures.tensors("foundation/structure_loss.safetensors")
    let logits = try f.fixture("logits").detach().requiresGrad(true)
    let loss = try Losses.structure(logits: logits, target: f.fixture("target"))
    XCTAssertEqual(try loss.item(), try f.fixture("loss").item(), accuracy: 1e-5)
    try loss.backward()
    assertAllClose(try XCTUnwrap(try logits.grad), try f.fixture("grad"), atol: 1e-6, "gradient")
  }
}

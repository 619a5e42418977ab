import NN
import Tensor
import TestSupport
import XCTest

/// The average's update rule and the swap in and out of the averaged weights, worked out by hand.
final class ExponentialMovingAverageTests: XCTestCase {
  func testUpdatesFollowTheWarmedUpDecayAndSwapBack() throws {
    let p = try Tensor([0, 0] as [Float], shape: [2])
    let average = try ExponentialMovingAverage([("p", p)], decay: 0.99)
    XCTAssertEqual(average.currentDecay, 0.1, accuracy: 1e-12, "min(0.99, 1/10) at the first update")
    try Torch.withNoGrad { try p.copyFrom(Tensor([10, 20] as [Float], shape: [2])) }
    try average.update()  // 0.1 * 0 + 0.9 * (10, 20)
    XCTAssertEqual(average.currentDecay, 2.0 / 11.0, accuracy: 1e-12)
    try average.update()  // (2/11) * (9, 18) + (9/11) * (10, 20)
    let expected: [Float] = [(2 * 9 + 9 * 10) / 11, (2 * 18 + 9 * 20) / 11]
    let seen = try average.withAveragedWeights { try p.toArray(Float.self) }
    XCTAssertEqual(seen[0], expected[0], accuracy: 1e-5)
    XCTAssertEqual(seen[1], expected[1], accuracy: 1e-5)
    XCTAssertEqual(try p.toArray(Float.self), [10, 20], "the trained weights are back")
    let restored = try ExponentialMovingAverage([("p", p)], decay: 0.99)
    try restored.loadState(Dictionary(uniqueKeysWithValues: try average.stateTensors().map { ($0.name, $0.tensor) }), source: "s")
    XCTAssertEqual(restored.updates, 2)
    XCTAssertThrowsError(try restored.loadState([:], source: "last.safetensors")) {
      XCTAssertEqual($0.localizedDescription, "last.safetensors: no weight average for p")
    }
  }
}

import NN
import Tensor
import TestSupport
import XCTest

/// AdamW and SGD against torch.optim on the same problem, 12 steps, gradients from autograd:
/// max abs diff <= 1e-6 in float32 at every step.
final class OptimizerTests: XCTestCase {
  var f: [String: Tensor] = [:]
  override func setUpWithError() throws { f = try Fixtures.tensors("foundation/optim.safetensors") }

  func runTrajectory(_ name: String, clip: Bool = false,
                     make: ([(name: String, tensor: Tensor)]) -> any Optimizer) throws {
    let x = try f.fixture("data.x"), y = try f.fixture("data.y")
    let w = try f.fixture("init.w").clone().requiresGrad(true)
    let b = try f.fixture("init.b").clone().requiresGrad(true)
    let optimizer = make([("w", w), ("b", b)])
    for step in 0..<12 {
      try optimizer.zeroGrad()
      let prediction = try x.matmul(w.transpose(0, 1)) + b
      let loss = try (prediction - y).square().mean()
      try loss.backward()
      if clip {
        let norm = try clipGradNorm([w, b], maxNorm: 0.5)
        XCTAssertEqual(norm, try f.fixture("\(name).norm.\(step)").item(), accuracy: 1e-6, "grad norm at step \(step)")
      }
      try optimizer.step()
      assertAllClose(w, try f.fixture("\(name).w.\(step)"), atol: 1e-6, "\(name) w after step \(step)")
      assertAllClose(b, try f.fixture("\(name).b.\(step)"), atol: 1e-6, "\(name) b after step \(step)")
    }
  }

  func testAdamWMatchesTorchOptim() throws {
    try runTrajectory("adamw", clip: true) { AdamW($0, learningRate: 0.05, weightDecay: 0.1) }
    try runTrajectory("adamw_wd0") { AdamW($0, learningRate: 0.01, weightDecay: 0) }
  }

  func testSGDMatchesTorchOptim() throws {
    try runTrajectory("sgd_momentum") { SGD($0, learningRate: 0.05, momentum: 0.9, weightDecay: 0.01) }
    try runTrajectory("sgd_nesterov") { SGD($0, learningRate: 0.05, momentum: 0.9, nesterov: true) }
    try runTrajectory("sgd_dampening") { SGD($0, learningRate: 0.1, momentum: 0.5, dampening: 0.3) }
  }

  func testOptimizerStateRoundTripContinuesIdentically() throws {
    func makeProblem() throws -> (Tensor, AdamW) {
      try Torch.manualSeed(1)
      let p = try Tensor.randn([4]).requiresGrad(true)
      return (p, AdamW([("p", p)], learningRate: 0.1))
    }
    func step(_ p: Tensor, _ opt: AdamW) throws {
      try opt.zeroGrad()
      try (p * p * p).sum().backward()
      try opt.step()
    }
    let (p1, o1) = try makeProblem()
    for _ in 0..<6 { try step(p1, o1) }
    let (p2, o2) = try makeProblem()
    for _ in 0..<3 { try step(p2, o2) }
    let saved = Dictionary(uniqueKeysWithValues: try o2.stateTensors().map { ($0.name, try $0.tensor.clone()) })
    let values = try p2.clone()
    let (p3, o3) = try makeProblem()
    try Torch.withNoGrad { try p3.copyFrom(values) }
    try o3.loadState(saved)
    for _ in 0..<3 { try step(p3, o3) }
    assertAllClose(p3, p1, atol: 0, "resumed optimiser reproduces the uninterrupted run exactly")
  }

  /// A decay-exempt parameter follows AdamW with weight_decay 0 exactly (torch's per-group setting); the others
  /// still decay. With zero gradients the only change is the decay: p * (1 - lr * wd).
  func testDecayExemptParametersAreNotDecayed() throws {
    let kept = try Tensor.ones([3]).requiresGrad(true), decayed = try Tensor.ones([3]).requiresGrad(true)
    let optimizer = AdamW([("kept", kept), ("decayed", decayed)], learningRate: 0.1, weightDecay: 0.5)
    optimizer.decayExempt = ["kept"]
    try (kept * 0 + decayed * 0).sum().backward()
    try optimizer.step()
    XCTAssertEqual(try kept.floats(), [1, 1, 1])
    XCTAssertEqual(try decayed.floats(), [0.95, 0.95, 0.95])
  }

  func testSchedules() {
    let poly = WarmupPolynomialSchedule(baseLearningRate: 1e-3, warmupSteps: 10, totalSteps: 110, power: 0.9)
    XCTAssertEqual(poly.learningRate(atStep: 0), 1e-4, accuracy: 1e-12)
    XCTAssertEqual(poly.learningRate(atStep: 9), 1e-3, accuracy: 1e-12)
    XCTAssertEqual(poly.learningRate(atStep: 10), 1e-3, accuracy: 1e-12)
    XCTAssertEqual(poly.learningRate(atStep: 60), 1e-3 * pow(0.5, 0.9), accuracy: 1e-12)
    XCTAssertEqual(poly.learningRate(atStep: 110), 0, accuracy: 1e-12)
    let cosine = WarmupCosineSchedule(baseLearningRate: 1, warmupSteps: 0, totalSteps: 100, minLearningRate: 0.1)
    XCTAssertEqual(cosine.learningRate(atStep: 0), 1, accuracy: 1e-12)
    XCTAssertEqual(cosine.learningRate(atStep: 50), 0.55, accuracy: 1e-12)
    XCTAssertEqual(cosine.learningRate(atStep: 100), 0.1, accuracy: 1e-12)
  }
}

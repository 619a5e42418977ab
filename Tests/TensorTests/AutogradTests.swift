import Tensor
import TestSupport
import XCTest

/// Gradients: libtorch's autograd against central finite differences (float64, step 1e-6, tolerance 1e-6
/// relative to the gradient's scale) and against PyTorch's gradients in the fixtures (float32, 1e-4).
final class AutogradTests: XCTestCase {
  /// Central differences of sum(fn(x) * weight) with respect to every element of x, in float64.
  func numericalGradient(_ x: Tensor, weight: Tensor, _ fn: (Tensor) throws -> Tensor) throws -> Tensor {
    let values = try x.toArray(Double.self)
    let h = 1e-6
    var grad = [Double](repeating: 0, count: values.count)
    for i in values.indices {
      var plus = values, minus = values
      plus[i] += h
      minus[i] -= h
      let fp = try (fn(Tensor(plus, shape: x.shape)) * weight).sum().item()
      let fm = try (fn(Tensor(minus, shape: x.shape)) * weight).sum().item()
      grad[i] = (fp - fm) / (2 * h)
    }
    return try Tensor(grad, shape: x.shape)
  }

  func checkGradient(_ shape: [Int], file: StaticString = #filePath, line: UInt = #line,
                     _ fn: (Tensor) throws -> Tensor) throws {
    let x = try Tensor.randn(shape, dtype: .float64)
    let out = try fn(x)
    let weight = try Tensor.randn(out.shape, dtype: .float64)
    let leaf = try x.clone().requiresGrad(true)
    try (fn(leaf) * weight).sum().backward()
    let analytic = try XCTUnwrap(try leaf.grad, file: file, line: line)
    let numeric = try numericalGradient(x, weight: weight, fn)
    let scale = max(1, try numeric.abs().max().item())
    assertAllClose(analytic, numeric, atol: 1e-6 * scale, file: file, line: line)
  }

  func testFiniteDifferences() throws {
    try Torch.manualSeed(42)
    let w = try Tensor.randn([3, 2, 3, 3], dtype: .float64)
    try checkGradient([1, 2, 5, 5]) { try $0.conv2d(weight: w, padding: (1, 1)) }
    let tw = try Tensor.randn([2, 3, 2, 2], dtype: .float64)
    try checkGradient([1, 2, 3, 3]) { try $0.convTranspose2d(weight: tw, stride: (2, 2)) }
    try checkGradient([2, 6]) { try $0.layerNorm([6], weight: nil, bias: nil) }
    try checkGradient([3, 4]) { try $0.softmax(dim: 1) }
    try checkGradient([3, 4]) { try $0.logSoftmax(dim: 0) }
    try checkGradient([5]) { try $0.gelu() }
    try checkGradient([5]) { try $0.gelu(approximate: true) }
    try checkGradient([2, 3]) { try $0.sigmoid() * $0.tanh() }
    let m = try Tensor.randn([4, 2], dtype: .float64)
    try checkGradient([3, 4]) { try $0.matmul(m) }
    try checkGradient([1, 1, 4, 4]) { try $0.interpolate(size: (6, 7), mode: .bilinear) }
    try checkGradient([2, 3]) { try $0.pad([1, 1], mode: .reflect).mean(dims: [1]) }
    try checkGradient([2, 3, 4]) { try $0.permute([2, 0, 1]).reshape([4, 6]).variance(dims: [1]) }
    let k = try Tensor.randn([1, 3, 4], dtype: .float64), v = try Tensor.randn([1, 3, 4], dtype: .float64)
    let bias = try Tensor.randn([1, 2, 3], dtype: .float64)
    try checkGradient([1, 2, 4]) { try Tensor.scaledDotProductAttention(query: $0, key: k, value: v, bias: bias) }
  }

  func testGradientsMatchPyTorch() throws {
    let f = try Fixtures.tensors("foundation/ops.safetensors")
    let x = try f.fixture("conv.x").requiresGrad(true), w = try f.fixture("conv.w").requiresGrad(true)
    let b = try f.fixture("conv.b").requiresGrad(true)
    let out = try x.conv2d(weight: w, bias: b, stride: (2, 1), padding: (1, 2), dilation: (1, 2), groups: 2)
    try (out * f.fixture("conv.gw")).sum().backward()
    assertAllClose(try XCTUnwrap(try x.grad), try f.fixture("conv.grad_x"), atol: 1e-4)
    assertAllClose(try XCTUnwrap(try w.grad), try f.fixture("conv.grad_w"), atol: 1e-4)
    assertAllClose(try XCTUnwrap(try b.grad), try f.fixture("conv.grad_b"), atol: 1e-4)

    let q = try f.fixture("sdpa.q").requiresGrad(true), k = try f.fixture("sdpa.k").requiresGrad(true)
    let v = try f.fixture("sdpa.v").requiresGrad(true)
    let att = try Tensor.scaledDotProductAttention(query: q, key: k, value: v, bias: try f.fixture("sdpa.bias"))
    try (att * f.fixture("sdpa.gw")).sum().backward()
    assertAllClose(try XCTUnwrap(try q.grad), try f.fixture("sdpa.grad_q"), atol: 1e-4)
    assertAllClose(try XCTUnwrap(try k.grad), try f.fixture("sdpa.grad_k"), atol: 1e-4)
    assertAllClose(try XCTUnwrap(try v.grad), try f.fixture("sdpa.grad_v"), atol: 1e-4)

    let lx = try f.fixture("ln.x").requiresGrad(true), lw = try f.fixture("ln.w").requiresGrad(true)
    let lb = try f.fixture("ln.b").requiresGrad(true)
    try (lx.layerNorm([8], weight: lw, bias: lb) * f.fixture("ln.gw")).sum().backward()
    assertAllClose(try XCTUnwrap(try lx.grad), try f.fixture("ln.grad_x"), atol: 1e-4)
    assertAllClose(try XCTUnwrap(try lw.grad), try f.fixture("ln.grad_w"), atol: 1e-4)
    assertAllClose(try XCTUnwrap(try lb.grad), try f.fixture("ln.grad_b"), atol: 1e-4)
  }

  func testNoGradScopeDetachAndZeroing() throws {
    let x = try Tensor([1.0, 2.0, 3.0] as [Float]).requiresGrad(true)
    let y = try Torch.withNoGrad { try x * 2 }
    XCTAssertFalse(y.requiresGrad, "no graph is recorded inside withNoGrad")
    XCTAssertTrue(Torch.isGradEnabled, "grad mode is restored after the scope")
    XCTAssertFalse(try (x * 2).detach().requiresGrad)
    try (x * x).sum().backward()
    XCTAssertEqual(try XCTUnwrap(try x.grad).floats(), [2, 4, 6])
    try (x * x).sum().backward()
    XCTAssertEqual(try XCTUnwrap(try x.grad).floats(), [4, 8, 12], "gradients accumulate as in PyTorch")
    try x.zeroGrad()
    XCTAssertNil(try x.grad)
    let frozen = try Tensor([1.0] as [Float])
    let z = try (frozen * x[0]).sum()
    try z.backward()
    XCTAssertNil(try frozen.grad, "a tensor that does not require grad gets no gradient")
  }

  func testInPlaceOnLeafNeedsNoGrad() throws {
    let p = try Tensor.ones([2]).requiresGrad(true)
    XCTAssertThrowsError(try p.mulInPlace(2.0)) { error in
      XCTAssertTrue("\(error)".contains("leaf Variable"), "libtorch's own message arrives: \(error)")
    }
    try Torch.withNoGrad { try p.mulInPlace(2.0) }
    XCTAssertEqual(try p.floats(), [2, 2])
  }
}

import Tensor
import TestSupport
import XCTest

/// Forward values against PyTorch 2.15 (scripts/fixtures/make_foundation.py, float32).
/// Tolerance: atol 1e-5 (float32 rounding of sums of up to ~50 terms), 1e-4 where a softmax or a
/// convolution over many products is involved.
final class OpsParityTests: XCTestCase {
  var f: [String: Tensor] = [:]

  override func setUpWithError() throws { f = try Fixtures.tensors("foundation/ops.safetensors") }

  func testConvolutions() throws {
    let x = try f.fixture("conv.x"), w = try f.fixture("conv.w"), b = try f.fixture("conv.b")
    let out = try x.conv2d(weight: w, bias: b, stride: (2, 1), padding: (1, 2), dilation: (1, 2), groups: 2)
    assertAllClose(out, try f.fixture("conv.out"), atol: 1e-4)
    let tx = try f.fixture("convt.x"), tw = try f.fixture("convt.w"), tb = try f.fixture("convt.b")
    assertAllClose(try tx.convTranspose2d(weight: tw, bias: tb, stride: (2, 2)), try f.fixture("convt.out"), atol: 1e-5)
    assertAllClose(try tx.convTranspose2d(weight: tw, bias: tb, stride: (2, 2), padding: (1, 1), outputPadding: (1, 1)),
                   try f.fixture("convt.out_pad"), atol: 1e-5)
  }

  func testInterpolation() throws {
    let x = try f.fixture("interp.x")
    assertAllClose(try x.interpolate(size: (11, 13), mode: .bilinear), try f.fixture("interp.bilinear"), atol: 1e-5)
    assertAllClose(try x.interpolate(size: (11, 13), mode: .bilinear, alignCorners: true),
                   try f.fixture("interp.bilinear_ac"), atol: 1e-5)
    assertAllClose(try x.interpolate(size: (4, 3), mode: .bilinear, antialias: true), try f.fixture("interp.bilinear_aa"),
                   atol: 1e-5)
    assertAllClose(try x.interpolate(size: (11, 13), mode: .nearest), try f.fixture("interp.nearest"), atol: 0)
    assertAllClose(try x.interpolate(size: (11, 13), mode: .bicubic), try f.fixture("interp.bicubic"), atol: 1e-5)
    assertAllClose(try x.interpolate(size: (3, 2), mode: .area), try f.fixture("interp.area"), atol: 1e-5)
  }

  func testNormalisation() throws {
    let x = try f.fixture("ln.x")
    let out = try x.layerNorm([8], weight: try f.fixture("ln.w"), bias: try f.fixture("ln.b"), eps: 1e-5)
    assertAllClose(out, try f.fixture("ln.out"), atol: 1e-5)

    let bx = try f.fixture("bn.x")
    let mean = try Tensor.zeros([4]), variance = try Tensor.ones([4])
    let w = try f.fixture("bn.weight"), b = try f.fixture("bn.bias")
    let train1 = try bx.batchNorm(weight: w, bias: b, runningMean: mean, runningVar: variance, training: true)
    let train2 = try (bx * 0.5).batchNorm(weight: w, bias: b, runningMean: mean, runningVar: variance, training: true)
    assertAllClose(train1, try f.fixture("bn.train_out"), atol: 1e-5)
    assertAllClose(train2, try f.fixture("bn.train_out2"), atol: 1e-5)
    assertAllClose(mean, try f.fixture("bn.running_mean"), atol: 1e-6, "running mean after two training batches")
    assertAllClose(variance, try f.fixture("bn.running_var"), atol: 1e-6, "running var (unbiased) after two batches")
    let eval = try bx.batchNorm(weight: w, bias: b, runningMean: mean, runningVar: variance, training: false)
    assertAllClose(eval, try f.fixture("bn.eval_out"), atol: 1e-5)
  }

  func testActivations() throws {
    let x = try f.fixture("act.x")
    assertAllClose(try x.gelu(), try f.fixture("act.gelu"), atol: 1e-6)
    assertAllClose(try x.gelu(approximate: true), try f.fixture("act.gelu_tanh"), atol: 1e-6)
    assertAllClose(try x.sigmoid(), try f.fixture("act.sigmoid"), atol: 1e-6)
    assertAllClose(try x.softmax(dim: 1), try f.fixture("act.softmax1"), atol: 1e-6)
    assertAllClose(try x.logSoftmax(dim: 0), try f.fixture("act.log_softmax0"), atol: 1e-5)
    assertAllClose(try x.relu(), try f.fixture("act.relu"), atol: 0)
  }

  func testAttentionWithBias() throws {
    let out = try Tensor.scaledDotProductAttention(query: try f.fixture("sdpa.q"), key: try f.fixture("sdpa.k"),
                                                   value: try f.fixture("sdpa.v"), bias: try f.fixture("sdpa.bias"))
    assertAllClose(out, try f.fixture("sdpa.out"), atol: 1e-5)
  }

  func testMatmulAndReductions() throws {
    assertAllClose(try f.fixture("mm.a").matmul(try f.fixture("mm.b")), try f.fixture("mm.out"), atol: 1e-5)
    let x = try f.fixture("red.x")
    assertAllClose(try x.sum(dims: [1, 2]), try f.fixture("red.sum12"), atol: 1e-5)
    assertAllClose(try x.mean(dims: [1], keepDim: true), try f.fixture("red.mean_keep"), atol: 1e-6)
    assertAllClose(try x.max(dims: [2]), try f.fixture("red.amax2"), atol: 0)
    assertAllClose(try x.min(dims: [0]), try f.fixture("red.amin0"), atol: 0)
    XCTAssertEqual(try x.argmax(dim: 1).toArray(Int64.self), try f.fixture("red.argmax1").toArray(Int64.self))
    assertAllClose(try x.variance(dims: [1]), try f.fixture("red.var1"), atol: 1e-5)
    assertAllClose(try x.variance(dims: [1], correction: 0), try f.fixture("red.var1_pop"), atol: 1e-5)
    assertAllClose(try x.norm(), try f.fixture("red.norm"), atol: 1e-5)
    assertAllClose(try x.logsumexp(dims: [2]), try f.fixture("red.logsumexp2"), atol: 1e-5)
  }

  func testPadding() throws {
    let x = try f.fixture("pad.x")
    assertAllClose(try x.pad([1, 2, 3, 0], value: 0.5), try f.fixture("pad.constant"), atol: 0)
    assertAllClose(try x.pad([2, 1, 1, 2], mode: .reflect), try f.fixture("pad.reflect"), atol: 0)
    assertAllClose(try x.pad([2, 1, 1, 2], mode: .replicate), try f.fixture("pad.replicate"), atol: 0)
  }

  func testSeededRandomMatchesPyTorch() throws {
    let f = try Fixtures.tensors("foundation/init.safetensors")
    try Torch.manualSeed(11)
    assertAllClose(try Tensor.rand([3, 4]), try f.fixture("rand"), atol: 0, "torch.rand after manual_seed(11)")
    assertAllClose(try Tensor.randn([2, 5]), try f.fixture("randn"), atol: 0, "torch.randn continues the stream")
  }
}

import NN
import Tensor
import TestSupport
import XCTest

/// A small model whose keys mirror a PyTorch module tree.
final class TinyNet: Module, UnaryLayer {
  let conv: Conv2d
  let bn: BatchNorm2d
  let head: Linear

  init(channels: Int = 4) throws {
    conv = try Conv2d(3, channels, kernelSize: 3)
    bn = try BatchNorm2d(channels)
    head = try Linear(channels, 2)
    super.init()
    registerChild("conv", conv)
    registerChild("bn", bn)
    registerChild("head", head)
  }

  func callAsFunction(_ x: Tensor) throws -> Tensor { try head(bn(conv(x)).mean(dims: [2, 3])) }
}

final class ModuleTests: XCTestCase {
  func testStateDictKeysMatchPyTorch() throws {
    let net = try TinyNet()
    XCTAssertEqual(net.stateDict().map(\.name), ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                                 "bn.running_var", "bn.num_batches_tracked", "head.weight", "head.bias"])
    XCTAssertEqual(net.namedParameters().count, 6)
    let mlp = try MLP(inputDim: 4, hiddenDim: 8, outputDim: 2, numLayers: 3)
    XCTAssertEqual(mlp.stateDict().map(\.name), ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
                                                 "layers.2.weight", "layers.2.bias"])
    let seq = Sequential([try Conv2d(2, 4, kernelSize: 1), GELU(), try LayerNorm2d(4)])
    XCTAssertEqual(seq.stateDict().map(\.name), ["0.weight", "0.bias", "2.weight", "2.bias"],
                   "parameterless layers still take an index")
  }

  func testLoadsAPyTorchCheckpointStrictly() throws {
    let net = try TinyNet()
    let state = try TorchCheckpoint.loadStateDict(path: Fixtures.path("foundation/ordered_state_dict.pt"))
    try net.load(stateDict: Dictionary(uniqueKeysWithValues: state.map { ($0.name, $0.tensor) }))
    for (name, tensor) in net.stateDict() {
      let source = try XCTUnwrap(state.first { $0.name == name }?.tensor)
      assertAllClose(tensor, source, atol: 0, name)
    }
  }

  func testStrictLoadingReportsMissingUnexpectedAndWrongShape() throws {
    let net = try TinyNet()
    let before = try net.head.weight.floats()
    var state = Dictionary(uniqueKeysWithValues: net.stateDict().map { ($0.name, $0.tensor) })
    state["head.bias"] = nil
    state["extra.weight"] = try Tensor.zeros([1])
    XCTAssertThrowsError(try net.load(stateDict: state, source: "x.pth")) { error in
      let mismatch = error as? StateDictMismatch
      XCTAssertEqual(mismatch?.missingKeys, ["head.bias"])
      XCTAssertEqual(mismatch?.unexpectedKeys, ["extra.weight"])
      XCTAssertTrue(error.localizedDescription.hasPrefix("x.pth: checkpoint does not fit the model"), error.localizedDescription)
    }
    state["head.bias"] = try Tensor.zeros([2])
    state["extra.weight"] = nil
    state["head.weight"] = try Tensor.zeros([3, 4])
    XCTAssertThrowsError(try net.load(stateDict: state)) { error in
      XCTAssertTrue(error.localizedDescription.contains("wrong shape for head.weight: model [2, 4], checkpoint [3, 4]"),
                    error.localizedDescription)
    }
    XCTAssertEqual(try net.head.weight.floats(), before, "a failed load changes nothing")
    state["head.weight"] = nil
    let report = try net.load(stateDict: state, strict: false)
    XCTAssertEqual(report.missingKeys, ["head.weight"], "non-strict loading returns what it skipped")
  }

  func testFreezeAndModes() throws {
    let net = try TinyNet()
    try net.conv.freeze()
    XCTAssertEqual(net.trainableParameters().map(\.name), ["bn.weight", "bn.bias", "head.weight", "head.bias"])
    let x = try Tensor.randn([2, 3, 5, 5])
    try net(x).sum().backward()
    XCTAssertNil(try net.conv.weight.grad, "frozen weights receive no gradient")
    XCTAssertNotNil(try net.head.weight.grad)
    net.eval()
    XCTAssertFalse(net.bn.isTraining)
    let mean = try net.bn.runningMean.floats()
    _ = try net(x)
    XCTAssertEqual(try net.bn.runningMean.floats(), mean, "eval mode leaves BatchNorm statistics alone")
    net.train()
    _ = try net(x)
    XCTAssertNotEqual(try net.bn.runningMean.floats(), mean)
    XCTAssertEqual(try net.bn.numBatchesTracked.item(), 2, "two training-mode forwards, none in eval")
  }

  func testSeededInitialisationMatchesPyTorch() throws {
    let f = try Fixtures.tensors("foundation/init.safetensors")
    try Torch.manualSeed(7)
    let linear = try Linear(5, 3)
    let conv = try Conv2d(4, 6, kernelSize: 3, groups: 2)
    let convT = try ConvTranspose2d(4, 2, kernelSize: 2, stride: 2)
    let embedding = try Embedding(4, 3)
    assertAllClose(linear.weight, try f.fixture("linear.weight"), atol: 0)
    assertAllClose(try XCTUnwrap(linear.bias), try f.fixture("linear.bias"), atol: 0)
    assertAllClose(conv.weight, try f.fixture("conv.weight"), atol: 0)
    assertAllClose(try XCTUnwrap(conv.bias), try f.fixture("conv.bias"), atol: 0)
    assertAllClose(convT.weight, try f.fixture("convt.weight"), atol: 0)
    assertAllClose(try XCTUnwrap(convT.bias), try f.fixture("convt.bias"), atol: 0)
    assertAllClose(embedding.weight, try f.fixture("embedding.weight"), atol: 0)
  }

  /// A trained transposed convolution adds its bias after the convolution (a faster bias gradient on the CPU): the
  /// output and every gradient equal libtorch's fused convolution-with-bias, on the channels-last input the mask
  /// heads feed it.
  func testTransposedConvolutionWithTrainedBiasMatchesTheFusedOne() throws {
    try Torch.manualSeed(3)
    let convT = try ConvTranspose2d(8, 4, kernelSize: 2, stride: 2)
    let x = try Tensor.randn([2, 8, 5, 6]).channelsLast().requiresGrad(true)
    let upstream = try Tensor.randn([2, 4, 10, 12])
    try (convT(x) * upstream).sum().backward()
    let split = (out: try Torch.withNoGrad { try convT(x) }, x: try XCTUnwrap(x.grad), w: try XCTUnwrap(convT.weight.grad),
                 b: try XCTUnwrap(convT.bias?.grad))
    let x2 = try x.detach().requiresGrad(true)
    let w2 = try convT.weight.detach().requiresGrad(true), b2 = try XCTUnwrap(convT.bias).detach().requiresGrad(true)
    let fused = try x2.convTranspose2d(weight: w2, bias: b2, stride: (2, 2), padding: (0, 0), outputPadding: (0, 0), groups: 1)
    try (fused * upstream).sum().backward()
    assertAllClose(split.out, try fused.detach(), atol: 1e-5, "output")
    assertAllClose(split.x, try XCTUnwrap(x2.grad), atol: 1e-5, "input gradient")
    assertAllClose(split.w, try XCTUnwrap(w2.grad), atol: 1e-4, "weight gradient")
    assertAllClose(split.b, try XCTUnwrap(b2.grad), atol: 1e-4, "bias gradient")
  }

  func testLayerNorm2dMatchesChannelLayerNorm() throws {
    let norm = try LayerNorm2d(4)
    try Torch.withNoGrad {
      try norm.weight.normalInPlace()
      try norm.bias.normalInPlace()
    }
    let x = try Tensor.randn([2, 4, 3, 5])
    // SAM's own formula: u = mean_c, s = mean_c (x - u)^2, (x - u) / sqrt(s + eps) * w + b.
    let u = try x.mean(dims: [1], keepDim: true)
    let s = try (x - u).square().mean(dims: [1], keepDim: true)
    let reference = try (x - u) / (s + 1e-6).sqrt() * norm.weight.view([4, 1, 1]) + norm.bias.view([4, 1, 1])
    assertAllClose(try norm(x), reference, atol: 1e-5, "fused LayerNorm2d == SAM's LayerNorm2d")
  }
}

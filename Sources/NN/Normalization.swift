import Tensor

/// `torch.nn.LayerNorm` over the trailing `normalizedShape` dimensions. Keys `weight`, `bias`.
public final class LayerNorm: Module, UnaryLayer {
  public let normalizedShape: [Int]
  public let eps: Double
  public let weight: Tensor?
  public let bias: Tensor?

  public init(_ normalizedShape: [Int], eps: Double = 1e-5, elementwiseAffine: Bool = true) throws {
    self.normalizedShape = normalizedShape
    self.eps = eps
    weight = elementwiseAffine ? try Tensor.ones(normalizedShape) : nil
    bias = elementwiseAffine ? try Tensor.zeros(normalizedShape) : nil
    super.init()
    if let weight, let bias {
      registerParameter("weight", weight)
      registerParameter("bias", bias)
    }
  }

  public convenience init(_ dim: Int, eps: Double = 1e-5) throws { try self.init([dim], eps: eps) }

  public func callAsFunction(_ x: Tensor) throws -> Tensor {
    try x.layerNorm(normalizedShape, weight: weight, bias: bias, eps: eps)
  }
}

/// SAM's `LayerNorm2d`: layer norm over the channel dimension of NCHW input (eps 1e-6).
public final class LayerNorm2d: Module, UnaryLayer {
  public let weight: Tensor
  public let bias: Tensor
  public let eps: Double

  public init(_ channels: Int, eps: Double = 1e-6) throws {
    weight = try Tensor.ones([channels])
    bias = try Tensor.zeros([channels])
    self.eps = eps
    super.init()
    registerParameter("weight", weight)
    registerParameter("bias", bias)
  }

  public func callAsFunction(_ x: Tensor) throws -> Tensor {
    // SAM computes mean, biased variance and the affine map in six elementwise passes; libtorch's fused layer_norm
    // over the channel axis of an NHWC view is the same function (equal to ~1e-6, tested) in one pass, with a
    // cheaper backward.
    let c = weight.shape[0]
    return try x.permute([0, 2, 3, 1]).layerNorm([c], weight: weight, bias: bias, eps: eps).permute([0, 3, 1, 2])
  }
}

/// `torch.nn.BatchNorm2d`. Keys `weight`, `bias`, buffers `running_mean`, `running_var`, `num_batches_tracked`.
/// In training mode it uses batch statistics and updates the running ones; in eval mode the running ones.
public final class BatchNorm2d: Module, UnaryLayer {
  public let weight: Tensor
  public let bias: Tensor
  public let runningMean: Tensor
  public let runningVar: Tensor
  public let numBatchesTracked: Tensor
  public let eps: Double
  public let momentum: Double

  public init(_ channels: Int, eps: Double = 1e-5, momentum: Double = 0.1) throws {
    weight = try Tensor.ones([channels])
    bias = try Tensor.zeros([channels])
    runningMean = try Tensor.zeros([channels])
    runningVar = try Tensor.ones([channels])
    numBatchesTracked = try Tensor.zeros([], dtype: .int64)
    self.eps = eps
    self.momentum = momentum
    super.init()
    registerParameter("weight", weight)
    registerParameter("bias", bias)
    registerBuffer("running_mean", runningMean)
    registerBuffer("running_var", runningVar)
    registerBuffer("num_batches_tracked", numBatchesTracked)
  }

  public func callAsFunction(_ x: Tensor) throws -> Tensor {
    if isTraining { try Torch.withNoGrad { try numBatchesTracked.addInPlace(1) } }
    return try x.batchNorm(weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                           training: isTraining, momentum: momentum, eps: eps)
  }
}

import CTorch

// The `torch.nn.functional` operations the models need. Tensor layouts follow PyTorch (NCHW).

public enum InterpolationMode: Int32, Sendable {
  case nearest = 0, bilinear, bicubic
  /// `mode="area"` (adaptive average pooling).
  case area
  case nearestExact
}

extension Tensor {
  public func softmax(dim: Int) throws -> Tensor { try makeTensor { hst_softmax(handle, Int64(dim), 0, $0) } }
  public func logSoftmax(dim: Int) throws -> Tensor { try makeTensor { hst_softmax(handle, Int64(dim), 1, $0) } }

  /// x @ weight^T + bias; weight (out, in).
  public func linear(weight: Tensor, bias: Tensor?) throws -> Tensor {
    try makeTensor { hst_linear(handle, weight.handle, bias?.handle, $0) }
  }

  /// Layer norm over the trailing `normalizedShape` dimensions.
  public func layerNorm(_ normalizedShape: [Int], weight: Tensor?, bias: Tensor?, eps: Double = 1e-5) throws -> Tensor {
    let dims = normalizedShape.map(Int64.init)
    return try makeTensor {
      hst_layer_norm(handle, dims, Int64(dims.count), weight?.handle, bias?.handle, eps, $0)
    }
  }

  /// Batch norm over dim 1. In training mode it normalises with batch statistics and updates the running ones.
  public func batchNorm(weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?, training: Bool,
                        momentum: Double = 0.1, eps: Double = 1e-5) throws -> Tensor {
    try makeTensor {
      hst_batch_norm(handle, weight?.handle, bias?.handle, runningMean?.handle, runningVar?.handle, training ? 1 : 0,
                     momentum, eps, $0)
    }
  }

  /// 2-D convolution; input (N, C, H, W), weight (O, C/groups, kH, kW).
  public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                     dilation: (Int, Int) = (1, 1), groups: Int = 1) throws -> Tensor {
    let s = [Int64(stride.0), Int64(stride.1)]
    let p = [Int64(padding.0), Int64(padding.1)]
    let d = [Int64(dilation.0), Int64(dilation.1)]
    return try makeTensor { hst_conv2d(handle, weight.handle, bias?.handle, s, p, d, Int64(groups), $0) }
  }

  /// Transposed 2-D convolution; weight (C, O/groups, kH, kW).
  public func convTranspose2d(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1),
                              padding: (Int, Int) = (0, 0), outputPadding: (Int, Int) = (0, 0),
                              dilation: (Int, Int) = (1, 1), groups: Int = 1) throws -> Tensor {
    let s = [Int64(stride.0), Int64(stride.1)]
    let p = [Int64(padding.0), Int64(padding.1)]
    let op = [Int64(outputPadding.0), Int64(outputPadding.1)]
    let d = [Int64(dilation.0), Int64(dilation.1)]
    return try makeTensor { hst_conv_transpose2d(handle, weight.handle, bias?.handle, s, p, op, d, Int64(groups), $0) }
  }

  /// Resizes the last two dimensions of (N, C, H, W) to `size` (height, width), as `F.interpolate(size=...)`.
  public func interpolate(size: (Int, Int), mode: InterpolationMode, alignCorners: Bool = false,
                          antialias: Bool = false) throws -> Tensor {
    try makeTensor {
      hst_interpolate(handle, Int64(size.0), Int64(size.1), mode.rawValue, alignCorners ? 1 : 0, antialias ? 1 : 0, $0)
    }
  }

  /// softmax(q k^T * scale + bias) v. q (..., L, E), k and v (..., S, E); bias broadcastable to (..., L, S).
  /// `scale` nil means 1/sqrt(E).
  public static func scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, bias: Tensor? = nil,
                                               scale: Double? = nil) throws -> Tensor {
    try makeTensor { hst_sdpa(query.handle, key.handle, value.handle, bias?.handle, scale ?? -1, $0) }
  }

  /// Resamples (N, C, H, W) through the affine maps `theta` (N, 2, 3) of normalised coordinates
  /// (`F.affine_grid` + `F.grid_sample`, zeros outside, align_corners false).
  public func affineWarp(theta: Tensor, nearest: Bool = false) throws -> Tensor {
    try makeTensor { hst_affine_warp(handle, theta.handle, nearest ? 1 : 0, $0) }
  }

  public func dropout(probability: Double, training: Bool) throws -> Tensor {
    try makeTensor { hst_dropout(handle, probability, training ? 1 : 0, $0) }
  }

  /// Rows of `self` (an embedding table) at the int64 `indices`.
  public func embedding(_ indices: Tensor) throws -> Tensor { try makeTensor { hst_embedding(handle, indices.handle, $0) } }

  public func maxPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) throws -> Tensor {
    let k = [Int64(kernel.0), Int64(kernel.1)]
    let st = stride ?? kernel
    let s = [Int64(st.0), Int64(st.1)]
    let p = [Int64(padding.0), Int64(padding.1)]
    return try makeTensor { hst_max_pool2d(handle, k, s, p, $0) }
  }
  public func avgPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) throws -> Tensor {
    let k = [Int64(kernel.0), Int64(kernel.1)]
    let st = stride ?? kernel
    let s = [Int64(st.0), Int64(st.1)]
    let p = [Int64(padding.0), Int64(padding.1)]
    return try makeTensor { hst_avg_pool2d(handle, k, s, p, $0) }
  }
}

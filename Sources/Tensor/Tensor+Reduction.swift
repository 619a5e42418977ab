import CTorch

// Reductions. `dims: []` reduces every dimension.

enum ReduceOp: Int32 { case sum, mean, amax, amin, argmax, argmin, variance, std, norm2, logsumexp, prod, any, all }

extension Tensor {
  func reduce(_ op: ReduceOp, _ dims: [Int], keepDim: Bool, correction: Int = 1) throws -> Tensor {
    let d = dims.map(Int64.init)
    return try makeTensor { hst_reduce(op.rawValue, handle, d, Int64(d.count), keepDim ? 1 : 0, Int64(correction), $0) }
  }

  public func sum(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.sum, dims, keepDim: keepDim) }
  public func mean(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.mean, dims, keepDim: keepDim) }
  /// Largest values (PyTorch `amax`).
  public func max(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.amax, dims, keepDim: keepDim) }
  public func min(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.amin, dims, keepDim: keepDim) }
  /// Index of the largest value along `dim`, or in the flattened tensor when `dim` is nil.
  public func argmax(dim: Int? = nil, keepDim: Bool = false) throws -> Tensor {
    try reduce(.argmax, dim.map { [$0] } ?? [], keepDim: keepDim)
  }
  public func argmin(dim: Int? = nil, keepDim: Bool = false) throws -> Tensor {
    try reduce(.argmin, dim.map { [$0] } ?? [], keepDim: keepDim)
  }
  /// Variance with Bessel's correction by default (`correction: 0` is the population variance).
  public func variance(dims: [Int] = [], correction: Int = 1, keepDim: Bool = false) throws -> Tensor {
    try reduce(.variance, dims, keepDim: keepDim, correction: correction)
  }
  public func std(dims: [Int] = [], correction: Int = 1, keepDim: Bool = false) throws -> Tensor {
    try reduce(.std, dims, keepDim: keepDim, correction: correction)
  }
  /// Euclidean (L2) norm.
  public func norm(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.norm2, dims, keepDim: keepDim) }
  public func logsumexp(dims: [Int], keepDim: Bool = false) throws -> Tensor {
    try reduce(.logsumexp, dims, keepDim: keepDim)
  }
  public func prod(dim: Int? = nil, keepDim: Bool = false) throws -> Tensor {
    try reduce(.prod, dim.map { [$0] } ?? [], keepDim: keepDim)
  }
  public func any() throws -> Tensor { try reduce(.any, [], keepDim: false) }
  public func all() throws -> Tensor { try reduce(.all, [], keepDim: false) }
}

import CTorch

// In-place updates, for optimisers, initialisation and checkpoint loading. On a leaf that requires grad they
// must run inside `Torch.withNoGrad` (libtorch refuses otherwise, with its own message).

enum InPlaceOp: Int32 { case add, sub, mul, div, copy }
enum InPlaceScalarOp: Int32 { case addScalar, mulScalar, fill, uniform, normal, zero, sqrt, clampMin, clampMax }

extension Tensor {
  func inPlace(_ op: InPlaceOp, _ other: Tensor, alpha: Double = 1) throws {
    try check(hst_inplace(op.rawValue, handle, other.handle, alpha))
  }
  func inPlace(_ op: InPlaceScalarOp, _ a: Double = 0, _ b: Double = 0) throws {
    try check(hst_inplace_scalar(op.rawValue, handle, a, b))
  }

  /// self += alpha * other
  public func addInPlace(_ other: Tensor, alpha: Double = 1) throws { try inPlace(.add, other, alpha: alpha) }
  public func subInPlace(_ other: Tensor, alpha: Double = 1) throws { try inPlace(.sub, other, alpha: alpha) }
  public func mulInPlace(_ other: Tensor) throws { try inPlace(.mul, other) }
  public func divInPlace(_ other: Tensor) throws { try inPlace(.div, other) }
  public func addInPlace(_ value: Double) throws { try inPlace(.addScalar, value) }
  public func mulInPlace(_ value: Double) throws { try inPlace(.mulScalar, value) }
  public func sqrtInPlace() throws { try inPlace(.sqrt) }
  public func clampInPlace(min: Double) throws { try inPlace(.clampMin, min) }
  public func clampInPlace(max: Double) throws { try inPlace(.clampMax, max) }
  /// Copies `source` (broadcast, converted) into self.
  public func copyFrom(_ source: Tensor) throws { try inPlace(.copy, source) }
  public func fill(_ value: Double) throws { try inPlace(.fill, value) }
  public func zero() throws { try inPlace(.zero) }
  /// Fills with U(low, high) from the default generator (PyTorch's `uniform_`, same stream for the same seed).
  public func uniformInPlace(low: Double, high: Double) throws { try inPlace(.uniform, low, high) }
  /// Fills with N(mean, std) (PyTorch's `normal_`).
  public func normalInPlace(mean: Double = 0, std: Double = 1) throws { try inPlace(.normal, mean, std) }
  /// self += value * t1 * t2
  public func addcmulInPlace(_ t1: Tensor, _ t2: Tensor, value: Double) throws {
    try check(hst_addcmul_(handle, t1.handle, t2.handle, value))
  }
  /// self += value * t1 / t2
  public func addcdivInPlace(_ t1: Tensor, _ t2: Tensor, value: Double) throws {
    try check(hst_addcdiv_(handle, t1.handle, t2.handle, value))
  }
  /// self += weight * (end - self)
  public func lerpInPlace(_ end: Tensor, weight: Double) throws { try check(hst_lerp_(handle, end.handle, weight)) }
}

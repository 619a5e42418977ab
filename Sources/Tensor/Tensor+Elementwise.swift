import CTorch

// Elementwise maths with PyTorch broadcasting and type promotion, and the Swift operators over it.

enum UnaryOp: Int32 {
  case neg, exp, log, sqrt, rsqrt, abs, relu, sigmoid, tanh, gelu, geluTanh, sin, cos, floor, ceil, round,
    logicalNot, sign, square, reciprocal, isnan, isinf, log1p, erf, silu
}

enum BinaryOp: Int32 {
  case add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge, logicalAnd, logicalOr, matmul, bmm,
    remainder, atan2
}

extension Tensor {
  func unary(_ op: UnaryOp) throws -> Tensor { try makeTensor { hst_unary(op.rawValue, handle, $0) } }
  func binary(_ op: BinaryOp, _ other: Tensor) throws -> Tensor {
    try makeTensor { hst_binary(op.rawValue, handle, other.handle, $0) }
  }
  func binary(_ op: BinaryOp, _ scalar: Double, reversed: Bool = false) throws -> Tensor {
    try makeTensor { hst_binary_scalar(op.rawValue, handle, scalar, reversed ? 1 : 0, $0) }
  }

  public func exp() throws -> Tensor { try unary(.exp) }
  public func log() throws -> Tensor { try unary(.log) }
  public func log1p() throws -> Tensor { try unary(.log1p) }
  public func sqrt() throws -> Tensor { try unary(.sqrt) }
  public func rsqrt() throws -> Tensor { try unary(.rsqrt) }
  public func abs() throws -> Tensor { try unary(.abs) }
  public func relu() throws -> Tensor { try unary(.relu) }
  public func sigmoid() throws -> Tensor { try unary(.sigmoid) }
  public func tanh() throws -> Tensor { try unary(.tanh) }
  /// GELU; `approximate: true` is PyTorch's `approximate="tanh"`.
  public func gelu(approximate: Bool = false) throws -> Tensor { try unary(approximate ? .geluTanh : .gelu) }
  public func silu() throws -> Tensor { try unary(.silu) }
  public func sin() throws -> Tensor { try unary(.sin) }
  public func cos() throws -> Tensor { try unary(.cos) }
  public func floor() throws -> Tensor { try unary(.floor) }
  public func ceil() throws -> Tensor { try unary(.ceil) }
  public func round() throws -> Tensor { try unary(.round) }
  public func sign() throws -> Tensor { try unary(.sign) }
  public func square() throws -> Tensor { try unary(.square) }
  public func reciprocal() throws -> Tensor { try unary(.reciprocal) }
  public func erf() throws -> Tensor { try unary(.erf) }
  public func logicalNot() throws -> Tensor { try unary(.logicalNot) }
  public func isNaN() throws -> Tensor { try unary(.isnan) }
  public func isInfinite() throws -> Tensor { try unary(.isinf) }

  public func pow(_ exponent: Double) throws -> Tensor { try binary(.pow, exponent) }
  public func pow(_ exponent: Tensor) throws -> Tensor { try binary(.pow, exponent) }
  public func maximum(_ other: Tensor) throws -> Tensor { try binary(.maximum, other) }
  public func minimum(_ other: Tensor) throws -> Tensor { try binary(.minimum, other) }
  public func remainder(_ other: Double) throws -> Tensor { try binary(.remainder, other) }
  public func atan2(_ other: Tensor) throws -> Tensor { try binary(.atan2, other) }
  public func logicalAnd(_ other: Tensor) throws -> Tensor { try binary(.logicalAnd, other) }
  public func logicalOr(_ other: Tensor) throws -> Tensor { try binary(.logicalOr, other) }

  /// Matrix product with PyTorch's `matmul` broadcasting rules.
  public func matmul(_ other: Tensor) throws -> Tensor { try binary(.matmul, other) }
  /// Batched matrix product of (B, n, m) and (B, m, p).
  public func bmm(_ other: Tensor) throws -> Tensor { try binary(.bmm, other) }

  // Comparisons return bool tensors.
  public func eq(_ other: Tensor) throws -> Tensor { try binary(.eq, other) }
  public func ne(_ other: Tensor) throws -> Tensor { try binary(.ne, other) }
  public func lt(_ other: Tensor) throws -> Tensor { try binary(.lt, other) }
  public func le(_ other: Tensor) throws -> Tensor { try binary(.le, other) }
  public func gt(_ other: Tensor) throws -> Tensor { try binary(.gt, other) }
  public func ge(_ other: Tensor) throws -> Tensor { try binary(.ge, other) }
  public func eq(_ value: Double) throws -> Tensor { try binary(.eq, value) }
  public func ne(_ value: Double) throws -> Tensor { try binary(.ne, value) }
  public func lt(_ value: Double) throws -> Tensor { try binary(.lt, value) }
  public func le(_ value: Double) throws -> Tensor { try binary(.le, value) }
  public func gt(_ value: Double) throws -> Tensor { try binary(.gt, value) }
  public func ge(_ value: Double) throws -> Tensor { try binary(.ge, value) }

  /// Elementwise `condition ? self : other`.
  public func `where`(_ condition: Tensor, else other: Tensor) throws -> Tensor {
    try makeTensor { hst_where(condition.handle, handle, other.handle, $0) }
  }
  public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
    try makeTensor { hst_where(condition.handle, a.handle, b.handle, $0) }
  }
  /// Clamps to [min, max]; nil leaves that side open.
  public func clamp(min: Double? = nil, max: Double? = nil) throws -> Tensor {
    try makeTensor { hst_clamp(handle, min ?? .nan, max ?? .nan, $0) }
  }
  public func maskedFill(_ mask: Tensor, _ value: Double) throws -> Tensor {
    try makeTensor { hst_masked_fill(handle, mask.handle, value, $0) }
  }

  // MARK: - Operators

  public static prefix func - (x: Tensor) throws -> Tensor { try x.unary(.neg) }
  public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.add, b) }
  public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.sub, b) }
  public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.mul, b) }
  public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.div, b) }
  public static func + (a: Tensor, b: Double) throws -> Tensor { try a.binary(.add, b) }
  public static func - (a: Tensor, b: Double) throws -> Tensor { try a.binary(.sub, b) }
  public static func * (a: Tensor, b: Double) throws -> Tensor { try a.binary(.mul, b) }
  public static func / (a: Tensor, b: Double) throws -> Tensor { try a.binary(.div, b) }
  public static func + (a: Double, b: Tensor) throws -> Tensor { try b.binary(.add, a) }
  public static func - (a: Double, b: Tensor) throws -> Tensor { try b.binary(.sub, a, reversed: true) }
  public static func * (a: Double, b: Tensor) throws -> Tensor { try b.binary(.mul, a) }
  public static func / (a: Double, b: Tensor) throws -> Tensor { try b.binary(.div, a, reversed: true) }
}

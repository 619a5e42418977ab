import CTorch

/// An n-dimensional array owned by libtorch. One Swift object owns one handle, released in `deinit`.
/// Operations are value-like: they return new tensors (sharing storage for views, as in PyTorch),
/// except the `*_`-style in-place methods in `Tensor+InPlace.swift`.
public final class Tensor {
  let handle: hst_tensor

  init(handle: hst_tensor) { self.handle = handle }
  deinit { hst_free(handle) }

  // MARK: - Properties

  /// The sizes of each dimension.
  public var shape: [Int] {
    let n = Int(hst_dim(handle))
    var sizes = [Int64](repeating: 0, count: n)
    _ = hst_sizes(handle, &sizes, Int64(n))
    return sizes.map(Int.init)
  }

  /// Element strides of each dimension.
  public var strides: [Int] {
    let n = Int(hst_dim(handle))
    var values = [Int64](repeating: 0, count: n)
    _ = hst_strides(handle, &values, Int64(n))
    return values.map(Int.init)
  }

  public var rank: Int { Int(hst_dim(handle)) }
  public var count: Int { Int(hst_numel(handle)) }

  public var dtype: DType {
    guard let dtype = DType(rawValue: hst_dtype(handle)) else { preconditionFailure("tensor of a dtype hspsam does not use") }
    return dtype
  }

  public var device: Device {
    var type: Int32 = 0
    var index: Int64 = 0
    _ = hst_device(handle, &type, &index)
    switch type {
    case Int32(HST_CUDA): return .cuda(Int(index))
    case Int32(HST_META): return .meta
    default: return .cpu
    }
  }

  public var isContiguous: Bool { hst_is_contiguous(handle, 0) != 0 }
  public var isChannelsLastContiguous: Bool { hst_is_contiguous(handle, 1) != 0 }

  /// Size of dimension `dim` (negative counts from the end).
  public func size(_ dim: Int) -> Int {
    let s = shape
    return s[dim < 0 ? dim + s.count : dim]
  }

  // MARK: - Creation

  /// A tensor holding a copy of `values`, shaped `shape` (defaults to 1-D).
  public convenience init<S: TensorScalar>(_ values: [S], shape: [Int]? = nil) throws {
    let dims = (shape ?? [values.count]).map(Int64.init)
    let handle = try values.withUnsafeBytes { raw in
      try makeTensor { hst_from_data(raw.baseAddress, Int64(raw.count), S.dtype.rawValue, dims, Int64(dims.count), $0) }
    }
    self.init(sharing: handle)
  }

  /// A 0-dimensional tensor.
  public convenience init(scalar: Double, dtype: DType = .float32) throws {
    let t = try makeTensor { hst_scalar_tensor(scalar, dtype.rawValue, $0) }
    self.init(sharing: t)
  }

  /// A new handle to the same tensor (shares storage and autograd identity).
  convenience init(sharing other: Tensor) {
    var out: hst_tensor? = nil
    _ = hst_share(other.handle, &out)
    self.init(handle: out!)
  }

  /// Raw bytes reinterpreted as `dtype` and `shape` (copied).
  public static func fromBytes(_ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) throws -> Tensor {
    let dims = shape.map(Int64.init)
    return try makeTensor { hst_from_data(bytes.baseAddress, Int64(bytes.count), dtype.rawValue, dims, Int64(dims.count), $0) }
  }

  private static func factory(_ kind: Int32, _ shape: [Int], _ dtype: DType, _ device: Device) throws -> Tensor {
    let dims = shape.map(Int64.init)
    let (type, index) = device.code
    return try makeTensor { hst_factory(kind, dims, Int64(dims.count), dtype.rawValue, type, index, $0) }
  }

  public static func zeros(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
    try factory(0, shape, dtype, device)
  }
  public static func ones(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
    try factory(1, shape, dtype, device)
  }
  /// Uninitialised memory: only for tensors that are written before they are read.
  public static func empty(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
    try factory(2, shape, dtype, device)
  }
  /// Uniform on [0, 1), from libtorch's default generator (seed with `Torch.manualSeed`).
  public static func rand(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
    try factory(3, shape, dtype, device)
  }
  /// Standard normal, from libtorch's default generator.
  public static func randn(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
    try factory(4, shape, dtype, device)
  }
  public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
    let dims = shape.map(Int64.init)
    let (type, index) = device.code
    return try makeTensor { hst_full(dims, Int64(dims.count), value, dtype.rawValue, type, index, $0) }
  }
  /// Values start, start+step, ... below end (as `torch.arange`).
  public static func arange(_ start: Double = 0, _ end: Double, step: Double = 1, dtype: DType = .int64,
                            device: Device = .cpu) throws -> Tensor {
    let (type, index) = device.code
    return try makeTensor { hst_arange(start, end, step, dtype.rawValue, type, index, $0) }
  }
  /// Integers uniform in [low, high).
  public static func randint(_ low: Int, _ high: Int, _ shape: [Int]) throws -> Tensor {
    let dims = shape.map(Int64.init)
    return try makeTensor { hst_randint(Int64(low), Int64(high), dims, Int64(dims.count), $0) }
  }

  // MARK: - Data out

  /// The elements in row-major order, converted to `S`.
  public func toArray<S: TensorScalar>(_ type: S.Type = S.self) throws -> [S] {
    let n = count
    var result = [S](repeating: S.zero, count: n)
    try result.withUnsafeMutableBytes { raw in
      try check(hst_copy_out(handle, S.dtype.rawValue, raw.baseAddress, Int64(raw.count)))
    }
    return result
  }

  /// The elements as raw bytes of `dtype` (its own dtype by default), contiguous, row-major.
  public func bytes(as dtype: DType? = nil) throws -> [UInt8] {
    let target = dtype ?? self.dtype
    var result = [UInt8](repeating: 0, count: count * target.byteSize)
    try result.withUnsafeMutableBytes { raw in
      try check(hst_copy_out(handle, target.rawValue, raw.baseAddress, Int64(raw.count)))
    }
    return result
  }

  /// The value of a one-element tensor.
  public func item() throws -> Double {
    var value = 0.0
    try check(hst_item(handle, &value))
    return value
  }

  public func floats() throws -> [Float] { try toArray(Float.self) }

  // MARK: - Conversion

  public func to(_ dtype: DType) throws -> Tensor { try to(dtype, device) }
  public func to(_ device: Device) throws -> Tensor { try to(dtype, device) }
  /// Both at once: one copy where `.to(dtype).to(device)` would make two.
  public func to(_ dtype: DType, _ device: Device) throws -> Tensor {
    let (type, index) = device.code
    return try makeTensor { hst_to(handle, dtype.rawValue, type, index, $0) }
  }
  /// Moves this tensor itself to `device` (a new leaf keeping `requiresGrad`): every holder of this object sees
  /// the move. For parameters and buffers (`Module.to`); views made before the move stay where they were.
  public func move(to device: Device) throws {
    let (type, index) = device.code
    try check(hst_move(handle, type, index))
  }
  public func contiguous() throws -> Tensor { try makeTensor { hst_contiguous(handle, 0, $0) } }
  /// NHWC memory layout for 4-D tensors (same logical shape).
  public func channelsLast() throws -> Tensor { try makeTensor { hst_contiguous(handle, 1, $0) } }
  public func clone() throws -> Tensor { try makeTensor { hst_clone(handle, $0) } }
}

/// A tensor may be handed to another thread (libtorch's reference counts are atomic); concurrent in-place writes
/// to one tensor from several threads are, as in PyTorch, the caller's responsibility.
extension Tensor: @unchecked Sendable {}

extension Tensor: CustomStringConvertible {
  public var description: String { "Tensor(shape: \(shape), dtype: \(dtype), device: \(device))" }
}

/// Swift element types that map to a tensor dtype.
public protocol TensorScalar {
  static var dtype: DType { get }
  static var zero: Self { get }
}
extension Float: TensorScalar { public static var dtype: DType { .float32 } }
extension Double: TensorScalar { public static var dtype: DType { .float64 } }
extension Int64: TensorScalar { public static var dtype: DType { .int64 } }
extension Int32: TensorScalar { public static var dtype: DType { .int32 } }
extension UInt8: TensorScalar { public static var dtype: DType { .uint8 } }
extension Bool: TensorScalar {
  public static var dtype: DType { .bool }
  public static var zero: Bool { false }
}
extension Float16: TensorScalar { public static var dtype: DType { .float16 } }

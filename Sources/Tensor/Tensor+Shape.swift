import CTorch

// Views and reshaping. Negative dimensions count from the end, as in PyTorch.

extension Tensor {
  public func reshape(_ shape: [Int]) throws -> Tensor {
    let dims = shape.map(Int64.init)
    return try makeTensor { hst_reshape(handle, dims, Int64(dims.count), $0) }
  }
  /// A view with a new shape; fails (like PyTorch) where the strides do not allow one.
  public func view(_ shape: [Int]) throws -> Tensor {
    let dims = shape.map(Int64.init)
    return try makeTensor { hst_view(handle, dims, Int64(dims.count), $0) }
  }
  public func permute(_ dims: [Int]) throws -> Tensor {
    let d = dims.map(Int64.init)
    return try makeTensor { hst_permute(handle, d, Int64(d.count), $0) }
  }
  public func transpose(_ dim0: Int, _ dim1: Int) throws -> Tensor {
    try makeTensor { hst_transpose(handle, Int64(dim0), Int64(dim1), $0) }
  }
  /// Broadcasts to `shape` without copying (-1 keeps a size).
  public func expand(_ shape: [Int]) throws -> Tensor {
    let dims = shape.map(Int64.init)
    return try makeTensor { hst_expand(handle, dims, Int64(dims.count), $0) }
  }
  public func repeated(_ repeats: [Int]) throws -> Tensor {
    let r = repeats.map(Int64.init)
    return try makeTensor { hst_repeat(handle, r, Int64(r.count), $0) }
  }
  public static func cat(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
    let handles: [hst_tensor?] = tensors.map { $0.handle }
    return try makeTensor { hst_cat(handles, Int64(handles.count), Int64(dim), $0) }
  }
  public static func stack(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
    let handles: [hst_tensor?] = tensors.map { $0.handle }
    return try makeTensor { hst_stack(handles, Int64(handles.count), Int64(dim), $0) }
  }
  /// Splits into pieces of the given sizes along `dim` (views).
  public func split(sizes: [Int], dim: Int = 0) throws -> [Tensor] {
    let s = sizes.map(Int64.init)
    var out = [hst_tensor?](repeating: nil, count: s.count)
    try check(hst_split_with_sizes(handle, s, Int64(s.count), Int64(dim), &out))
    return out.map { Tensor(handle: $0!) }
  }
  /// Splits into pieces of `size` (the last may be smaller), as `torch.split(t, size)`.
  public func split(size: Int, dim: Int = 0) throws -> [Tensor] {
    guard size > 0 else { throw TorchError.invalidArgument("split size must be positive, got \(size)") }
    let n = self.size(dim)
    var sizes = [Int](repeating: size, count: n / size)
    if n % size != 0 { sizes.append(n % size) }
    return try split(sizes: sizes, dim: dim)
  }
  /// `chunks` pieces as `torch.chunk` makes them.
  public func chunk(_ chunks: Int, dim: Int = 0) throws -> [Tensor] {
    guard chunks > 0 else { throw TorchError.invalidArgument("chunk count must be positive, got \(chunks)") }
    let n = self.size(dim)
    return try split(size: Swift.max(1, (n + chunks - 1) / chunks), dim: dim)
  }
  /// Elements start..<end step `step` of `dim` (a view). Negative indices count from the end.
  public func slice(dim: Int, start: Int = 0, end: Int = Int.max, step: Int = 1) throws -> Tensor {
    try makeTensor { hst_slice(handle, Int64(dim), Int64(start), Int64(end == Int.max ? Int64.max : Int64(end)), Int64(step), $0) }
  }
  /// `length` elements of `dim` from `start` (a view), as `torch.narrow`.
  public func narrow(dim: Int, start: Int, length: Int) throws -> Tensor {
    guard length >= 0 else { throw TorchError.invalidArgument("narrow length must be >= 0, got \(length)") }
    let n = size(dim)
    let s = start < 0 ? start + n : start
    guard s >= 0, s + length <= n else {
      throw TorchError.invalidArgument("narrow(dim: \(dim), start: \(start), length: \(length)) outside size \(n)")
    }
    return try slice(dim: dim, start: s, end: s + length)
  }
  /// Index `index` of `dim`, removing that dimension (a view).
  public func select(dim: Int, index: Int) throws -> Tensor {
    try makeTensor { hst_select(handle, Int64(dim), Int64(index), $0) }
  }
  public subscript(index: Int) -> Tensor {
    get throws { try select(dim: 0, index: index) }
  }
  public func indexSelect(dim: Int, index: Tensor) throws -> Tensor {
    try makeTensor { hst_index_select(handle, Int64(dim), index.handle, $0) }
  }
  public func gather(dim: Int, index: Tensor) throws -> Tensor {
    try makeTensor { hst_gather(handle, Int64(dim), index.handle, $0) }
  }

  public enum PadMode: Int32, Sendable { case constant = 0, reflect, replicate, circular }
  /// Pads as `F.pad`: `padding` lists (before, after) pairs starting from the last dimension.
  public func pad(_ padding: [Int], mode: PadMode = .constant, value: Double = 0) throws -> Tensor {
    let p = padding.map(Int64.init)
    return try makeTensor { hst_pad(handle, p, Int64(p.count), mode.rawValue, value, $0) }
  }
  public func flatten(start: Int = 0, end: Int = -1) throws -> Tensor {
    try makeTensor { hst_flatten(handle, Int64(start), Int64(end), $0) }
  }
  public func squeeze(_ dim: Int) throws -> Tensor { try makeTensor { hst_squeeze(handle, Int64(dim), $0) } }
  public func unsqueeze(_ dim: Int) throws -> Tensor { try makeTensor { hst_unsqueeze(handle, Int64(dim), $0) } }
  public func flip(_ dims: [Int]) throws -> Tensor {
    let d = dims.map(Int64.init)
    return try makeTensor { hst_flip(handle, d, Int64(d.count), $0) }
  }
  /// Rotates by 90 degrees `k` times in the plane of `dims`, as `torch.rot90`.
  public func rot90(_ k: Int, dims: (Int, Int) = (0, 1)) throws -> Tensor {
    try makeTensor { hst_rot90(handle, Int64(k), Int64(dims.0), Int64(dims.1), $0) }
  }
  /// int64 class indices to a one-hot int64 tensor with a new last dimension.
  public func oneHot(classes: Int) throws -> Tensor { try makeTensor { hst_one_hot(handle, Int64(classes), $0) } }
}

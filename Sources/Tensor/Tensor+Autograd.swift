import CTorch

// Reverse-mode autograd, backed by libtorch's engine.

extension Tensor {
  /// Whether operations on this tensor are recorded for gradients.
  public var requiresGrad: Bool { hst_requires_grad(handle) != 0 }

  /// Marks a leaf tensor as trainable (true) or frozen (false). Returns self for chaining.
  @discardableResult
  public func requiresGrad(_ flag: Bool) throws -> Tensor {
    try check(hst_set_requires_grad(handle, flag ? 1 : 0))
    return self
  }

  public var isLeaf: Bool { hst_is_leaf(handle) != 0 }

  /// Accumulates d(self)/d(leaf) into every leaf's `grad`. `gradient` is required for non-scalar outputs.
  public func backward(gradient: Tensor? = nil, retainGraph: Bool = false) throws {
    try check(hst_backward(handle, gradient?.handle, retainGraph ? 1 : 0))
  }

  /// The accumulated gradient, or nil before any backward pass (or after `zeroGrad`).
  public var grad: Tensor? {
    get throws {
      var out: hst_tensor? = nil
      try check(hst_grad(handle, &out))
      return out.map { Tensor(handle: $0) }
    }
  }

  /// Drops the stored gradient (PyTorch's `zero_grad(set_to_none=True)`).
  public func zeroGrad() throws { try check(hst_set_grad(handle, nil)) }

  /// Replaces the stored gradient (e.g. after clipping into a new tensor).
  public func setGrad(_ gradient: Tensor?) throws { try check(hst_set_grad(handle, gradient?.handle)) }

  /// The same data, cut from the graph.
  public func detach() throws -> Tensor { try makeTensor { hst_detach(handle, $0) } }
}

/// Process-wide libtorch settings.
public enum Torch {
  /// libtorch's version (e.g. "2.15.0").
  public static var version: String { String(cString: hst_version()) }

  /// Intra-op threads (set it explicitly: libtorch's own default may oversubscribe a small machine).
  public static var threadCount: Int {
    get { Int(hst_get_num_threads()) }
    set { _ = hst_set_num_threads(Int64(newValue)) }
  }

  /// Keeps freed CPU blocks of 256 KB and more for reuse, up to `limitBytes` held free at once, instead of
  /// returning each to the kernel (which pages it in and zeroes it again at the next step). Install it before
  /// the first large tensor; once per process.
  ///
  /// It also fixes glibc's mmap threshold at 256 KB (unless `MALLOC_MMAP_THRESHOLD_` sets it): glibc otherwise
  /// raises the threshold after each large free, so the cache's blocks land on the heap among long-lived tensors
  /// and freed ones are never returned (docs/speed.md, "CPU block cache", has the prefix-cache memory it saved).
  public static func enableCPUBlockCache(limitBytes: Int) {
    _ = hst_enable_cpu_block_cache(Int64(limitBytes))
  }

  /// Bytes of freed blocks the CPU block cache holds now.
  public static var cpuBlockCacheBytes: Int { Int(hst_cpu_block_cache_bytes()) }

  /// Seeds libtorch's default CPU generator (and CUDA's where present), as `torch.manual_seed`.
  public static func manualSeed(_ seed: UInt64) throws { try check(hst_manual_seed(seed)) }

  public static var isGradEnabled: Bool { hst_is_grad_enabled() != 0 }

  /// Loads libtorch's CUDA backend from `path` (libtorch_cuda.so, installed by `HSPSAM_CUDA=1 scripts/setup.sh`
  /// beside the CPU libraries). The default link is CPU-only, so a CPU machine never needs the CUDA libraries.
  public static func loadCUDA(path: String) throws {
    try path.withCString { try check(hst_load_cuda($0)) }
  }

  /// Runs `body` with gradient recording off on this thread (PyTorch's `torch.no_grad()`).
  public static func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = hst_set_grad_enabled(0)
    defer { _ = hst_set_grad_enabled(previous) }
    return try body()
  }

  /// Runs `body` with gradient recording on.
  public static func withGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = hst_set_grad_enabled(1)
    defer { _ = hst_set_grad_enabled(previous) }
    return try body()
  }
}

import CTorch

/// Element types a tensor can hold (the subset this project uses).
public enum DType: Int32, CaseIterable, Sendable, CustomStringConvertible {
  case float32 = 0, float16 = 1, bfloat16 = 2, int64 = 3, bool = 4, uint8 = 5, int32 = 6, float64 = 7

  /// Bytes per element.
  public var byteSize: Int {
    switch self {
    case .float32, .int32: return 4
    case .float16, .bfloat16: return 2
    case .int64, .float64: return 8
    case .bool, .uint8: return 1
    }
  }

  public var isFloatingPoint: Bool { [.float32, .float16, .bfloat16, .float64].contains(self) }

  /// The name PyTorch prints (`torch.float32` without the prefix).
  public var description: String {
    switch self {
    case .float32: return "float32"
    case .float16: return "float16"
    case .bfloat16: return "bfloat16"
    case .int64: return "int64"
    case .bool: return "bool"
    case .uint8: return "uint8"
    case .int32: return "int32"
    case .float64: return "float64"
    }
  }

  /// The safetensors dtype tag.
  public var safetensorsName: String {
    switch self {
    case .float32: return "F32"
    case .float16: return "F16"
    case .bfloat16: return "BF16"
    case .int64: return "I64"
    case .bool: return "BOOL"
    case .uint8: return "U8"
    case .int32: return "I32"
    case .float64: return "F64"
    }
  }

  public init?(safetensorsName: String) {
    guard let match = DType.allCases.first(where: { $0.safetensorsName == safetensorsName }) else { return nil }
    self = match
  }
}

/// Where a tensor lives. CUDA works once libtorch's CUDA backend is loaded (`Torch.loadCUDA`; set-up installs it
/// with HSPSAM_CUDA=1). `meta` holds shapes without data; libtorch's C++ build lacks meta kernels for convolution
/// and layer norm, so models do not run there, but `Module.to` can be tested on it without a GPU.
public enum Device: Equatable, Sendable, CustomStringConvertible {
  case cpu
  case cuda(Int)
  case meta

  var code: (Int32, Int64) {
    switch self {
    case .cpu: return (Int32(HST_CPU), 0)
    case .cuda(let index): return (Int32(HST_CUDA), Int64(index))
    case .meta: return (Int32(HST_META), 0)
    }
  }

  public var description: String {
    switch self {
    case .cpu: return "cpu"
    case .cuda(let index): return "cuda:\(index)"
    case .meta: return "meta"
    }
  }

  /// Parses "cpu", "cuda", "cuda:N" or "meta".
  public init?(_ text: String) {
    if text == "cpu" { self = .cpu; return }
    if text == "meta" { self = .meta; return }
    if text == "cuda" { self = .cuda(0); return }
    if text.hasPrefix("cuda:"), let index = Int(text.dropFirst(5)), index >= 0 { self = .cuda(index); return }
    return nil
  }

  public static var isCUDAAvailable: Bool { hst_cuda_is_available() != 0 }
  /// CUDA devices libtorch sees (0 without the CUDA backend or a GPU).
  public static var cudaDeviceCount: Int { Int(hst_cuda_device_count()) }
}

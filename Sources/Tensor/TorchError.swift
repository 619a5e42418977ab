import CTorch
import Foundation

/// An error raised inside libtorch (or the shim), carrying libtorch's own message.
public enum TorchError: Error, CustomStringConvertible, Equatable {
  case libtorch(message: String)
  case invalidArgument(String)

  public var description: String {
    switch self {
    case .libtorch(let message): return message
    case .invalidArgument(let message): return message
    }
  }
}

extension TorchError: LocalizedError {
  public var errorDescription: String? { description }
}

/// Turns a shim status into a Swift throw with the message libtorch gave.
@inline(__always)
func check(_ status: Int32) throws {
  if status != 0 { throw TorchError.libtorch(message: takeError()) }
}

func takeError() -> String {
  guard let raw = hst_take_error() else { return "unknown libtorch error" }
  defer { hst_free_string(raw) }
  return String(cString: raw)
}

/// Calls a shim function that writes one tensor handle to its out-parameter.
@inline(__always)
func makeTensor(_ body: (UnsafeMutablePointer<hst_tensor?>) -> Int32) throws -> Tensor {
  var out: hst_tensor? = nil
  try check(body(&out))
  guard let handle = out else { throw TorchError.libtorch(message: "libtorch returned no tensor") }
  return Tensor(handle: handle)
}

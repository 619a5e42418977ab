import Foundation

/// An error whose message names parameters, which the command line shows as its flags (`--checkpoint`) and the
/// library by their Swift names.
public protocol ParameterNamingError: LocalizedError {
  func message(naming name: (TrainingParameter) -> String) -> String
}

extension TrainingError: ParameterNamingError {}

/// A checkpoint that cannot be read, resolved, averaged or used with these base weights; each case names the file.
public enum RunCheckpointError: Error, ParameterNamingError, Equatable {
  case noSuchCheckpoint(String, parameter: TrainingParameter)
  case notACheckpointFile(String)
  case notARunCheckpoint(String)
  case scaleMismatch(String, tensor: String)
  case trainedOnOtherBase(String, base: String, bytes: Int, given: String, givenBytes: Int)
  case exists(String)
  case tooFewToAverage(Int)
  case otherModel(String, first: String)
  case otherBaseThanFirst(String, base: String, first: String, firstBase: String)
  case tensorNamesDiffer(String, first: String)
  case shapeDiffers(String, tensor: String, shape: [Int], first: String, firstShape: [Int])
  case reservedMetadataKey(String)

  public var errorDescription: String? { message(naming: \.swiftName) }

  public func message(naming name: (TrainingParameter) -> String) -> String {
    switch self {
    case .noSuchCheckpoint(let path, let parameter): return "\(name(parameter)) \(path): no such file or folder"
    case .notACheckpointFile(let path):
      return "\(path): not an hspsam checkpoint (expected a run folder or a .safetensors file from hspsam train)"
    case .notARunCheckpoint(let path): return "\(path): not an hspsam run checkpoint (no hspsam metadata)"
    case .scaleMismatch(let path, let tensor): return "\(path): scale.\(tensor) does not match an 8-bit model.\(tensor)"
    case .trainedOnOtherBase(let path, let base, let bytes, let given, let givenBytes):
      return "\(path) was trained on \(base) (\(bytes) bytes); \(given) differs (\(givenBytes) bytes)"
    case .exists(let path): return "\(path) exists: not overwritten"
    case .tooFewToAverage(let count): return "averaging needs at least two checkpoints, got \(count)"
    case .otherModel(let path, let first):
      return "\(path): another model than \(first) (configuration's model, inputSize, normalization or resize differ)"
    case .otherBaseThanFirst(let path, let base, let first, let firstBase):
      return "\(path) was trained on \(base), \(first) on \(firstBase)"
    case .tensorNamesDiffer(let path, let first): return "\(path): its tensor names differ from those of \(first)"
    case .shapeDiffers(let path, let tensor, let shape, let first, let firstShape):
      return "\(path): \(tensor) has shape \(shape), \(first) has \(firstShape)"
    case .reservedMetadataKey(let key): return "metadata key \(key) is hspsam's own; name the note otherwise"
    }
  }
}

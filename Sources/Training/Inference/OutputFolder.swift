import Foundation
import Tensor

/// Output folders made before a verb's work, so that a bad path fails at once instead of after every image.
public enum OutputFolder {
  /// Makes `path` and its parents (nothing when it exists as a folder).
  public static func create(_ path: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
      throw OutputFolderError.isAFile(path)
    }
    do {
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch let error as CocoaError {
      // The part of the path that failed, when it is not the folder itself (a parent that is a file).
      let failed = error.path.flatMap { URL(fileURLWithPath: $0).standardizedFileURL != URL(fileURLWithPath: path).standardizedFileURL ? $0 : nil }
      throw OutputFolderError.cannotMake(path, reason: "\(failed.map { "\($0): " } ?? "")\(error.reason)")
    }
  }
}

public enum OutputFolderError: Error, LocalizedError, Equatable {
  case isAFile(String)
  case cannotMake(String, reason: String)

  public var errorDescription: String? {
    switch self {
    case .isAFile(let path): return "\(path) is a file, not a folder"
    case .cannotMake(let path, let reason): return "\(path): cannot make the folder (\(reason))"
    }
  }
}

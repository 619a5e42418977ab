import Foundation

/// A problem with a file (checkpoint, image, dataset entry); the message starts with the file's path.
public struct FileError: Error, LocalizedError, Equatable {
  public let path: String
  public let reason: String
  public init(path: String, reason: String) {
    self.path = path
    self.reason = reason
  }
  public var errorDescription: String? { "\(path): \(reason)" }
}

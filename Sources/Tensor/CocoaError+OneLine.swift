import Foundation

/// Foundation's file errors in one line naming the file and the system's reason, for the commands' messages
/// (Foundation's own description spans several fields).
public extension CocoaError {
  /// The file the error is about, where Foundation names one.
  var path: String? { filePath ?? url?.path }
  /// The system's reason ("Not a directory") where there is one, else Foundation's description.
  var reason: String {
    let posix = (underlying as NSError?).flatMap { $0.domain == NSPOSIXErrorDomain ? Int32($0.code) : nil }
    return posix.map { String(cString: strerror($0)) } ?? localizedDescription
  }
  /// "PATH: reason", instead of Foundation's multi-field description.
  var oneLine: String { path.map { "\($0): \(reason)" } ?? reason }
}

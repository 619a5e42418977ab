import Foundation

/// Where set-up put the shared files. `HSPSAM_HOME` overrides the repository folder this binary was built from.
enum Paths {
  static var repository: URL {
    if let home = ProcessInfo.processInfo.environment["HSPSAM_HOME"] { return URL(fileURLWithPath: home) }
    // Sources/hspsam/Paths.swift -> repository root.
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  }

  static var liteMedSAMWeights: String { repository.appendingPathComponent("vendor/weights/lite_medsam.pth").path }
}

/// A user-facing failure: printed as one line, exit status 1.
struct CommandError: Error, LocalizedError {
  let message: String
  init(_ message: String) { self.message = message }
  var errorDescription: String? { message }
}

/// Refuses to write into a folder that does not exist, naming the option.
func checkWritable(_ path: String, option: String) throws {
  let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
  var isDirectory: ObjCBool = false
  guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
    throw CommandError("\(option) \(path): folder \(folder) does not exist")
  }
}

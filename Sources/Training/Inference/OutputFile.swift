import Foundation

/// Output files checked before a verb's work: the folder they go into exists, and none is a file the verb reads
/// or another of its outputs.
public enum OutputFile {
  public static func checkWritable(_ path: String, others: [String] = []) throws {
    let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    if let other = others.first(where: { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path == target }) {
      throw OutputFileError.wouldOverwrite(path, other)
    }
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw OutputFileError.noFolder(path, folder: folder)
    }
  }
}

public enum OutputFileError: Error, LocalizedError, Equatable {
  case wouldOverwrite(String, String)
  case noFolder(String, folder: String)

  public var errorDescription: String? {
    switch self {
    case .wouldOverwrite(let path, let other): return "\(path) would overwrite \(other), which this command also uses: choose another file"
    case .noFolder(let path, let folder): return "\(path): folder \(folder) does not exist"
    }
  }
}

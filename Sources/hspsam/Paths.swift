import Data
import Foundation
import Training

/// Where set-up put the shared files (the library's `ModelSources`, one place for every verb).
enum Paths {
  static var repository: URL { ModelSources.repository }
  static var liteMedSAMWeights: String { ModelSources.liteMedSAMWeights }
}

/// A user-facing failure: printed as one line, exit status 1.
struct CommandError: Error, LocalizedError {
  let message: String
  init(_ message: String) { self.message = message }
  var errorDescription: String? { message }
}

/// Refuses to write into a folder that does not exist, or over one of `others` (the files the command reads, and
/// those it writes besides this one), naming the option.
func checkWritable(_ path: String, option: String, others: [String] = []) throws {
  do { try OutputFile.checkWritable(path, others: others) } catch let error as OutputFileError {
    throw CommandError("\(option) \(error.localizedDescription)")
  }
}

/// Whether `path` exists and is not a folder (an output folder that cannot be one).
func isFile(_ path: String) -> Bool {
  var isDirectory: ObjCBool = false
  return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
}

/// Makes an output folder (and its parents) before the command's work, so that a bad path fails at once, in one
/// line naming the option, instead of after an evaluation of every image.
func createFolder(_ path: String, option: String) throws {
  do { try OutputFolder.create(path) } catch let error as OutputFolderError { throw CommandError("\(option) \(error.localizedDescription)") }
}

/// Trained models shipped in the repository's `models/` folder (`ModelSources.builtinModels`).
enum BuiltinModels {
  static var all: [String] { ModelSources.builtinModels }
  static var names: String { all.joined(separator: ", ") }
}

extension Paths {
  /// A run folder, a checkpoint file, a built-in model name, or nil for the default built-in model.
  static func resolveCheckpoint(_ checkpoint: String?) throws -> String {
    do { return try ModelSources.checkpoint(checkpoint) } catch let error as ModelSourceError {
      throw CommandError("\(error.localizedDescription) or pass --checkpoint RUN")
    }
  }
}

/// `--data` values, `DIR` (named by its folder) or `NAME=DIR`, and the `NAME=VALUE` options that refer to them
/// (`--weight`, `--masks`).
enum DatasetArgument {
  /// `NAME=VALUE` split at the first `=`; no name where there is none (or it is empty).
  static func parse(_ entry: String) -> (name: String?, value: String) {
    let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
    return parts.count == 2 && !parts[0].isEmpty ? (parts[0], parts[1]) : (nil, entry)
  }

  /// Each `--data` entry with its row name: the given NAME, else the folder's name (as `SegmentationDataset` names it).
  static func resolve(_ entries: [String]) -> [(name: String, folder: String)] {
    entries.map(parse).map { ($0.name ?? SegmentationDataset.defaultName(root: $0.value), $0.value) }
  }

  /// Where `name` is among the `--data` names; `option` (the argument that named it) is in the error otherwise.
  static func index(of name: String, in names: [String], option: String) throws -> Int {
    guard let index = names.firstIndex(of: name) else {
      throw CommandError("\(option): no --data is named \(name) (names: \(names.joined(separator: ", ")))")
    }
    return index
  }
}

import ArgumentParser
import Data
import Foundation
import Tensor
import Training

/// Where set-up put the shared files (the library's `ModelSources`, one place for every verb).
enum Paths {
  static var repository: URL { ModelSources.repository }
  static var liteMedSAMWeights: String { ModelSources.liteMedSAMWeights }
}

/// A user-facing failure of the command line, printed as one line (exit status 1). Each case names what it is
/// about: an option and its value, an environment variable, a file set-up provides. The library's typed errors
/// reach the user through `library` once the command has put its own option names into their message.
enum CommandError: Error, LocalizedError {
  /// An option's value refused: the option as typed (with its value where that helps), then why.
  case option(String, reason: String)
  /// An environment variable's value refused, or missing where another one needs it.
  case environment(String, reason: String)
  /// Weights that set-up downloads are not where it puts them.
  case missingWeights(String)
  /// A backbone without bundled weights was asked for without `--base-checkpoint`.
  case baseWeightsRequired(backbone: String, example: String)
  /// A rank of a distributed run could not reach the group's rendezvous in time.
  case cannotJoin(rank: Int, worldSize: Int, address: String, timeoutSeconds: Int, reason: String)
  /// A signal stopped the work part-way; `notWritten` lists the outputs left unwritten so no partial file replaces
  /// a complete one.
  case interrupted(String, notWritten: [String])
  /// A library error's message, already in the command's terms.
  case library(String)

  var errorDescription: String? {
    switch self {
    case .option(let option, let reason): return "\(option) \(reason)"
    case .environment(let name, let reason): return "\(name) \(reason)"
    case .missingWeights(let path): return "\(path) is missing: run scripts/setup.sh"
    case .baseWeightsRequired(let backbone, let example):
      return "backbone \(backbone): give its SAM weights with --base-checkpoint (e.g. \(example))"
    case .cannotJoin(let rank, let worldSize, let address, let timeout, let reason):
      return "rank \(rank) of \(worldSize): cannot join the group at \(address) within \(timeout) s: \(reason)"
    case .interrupted(let what, let notWritten):
      return "\(what): the table covers the images done" + (notWritten.isEmpty ? "" : "; not written: \(notWritten.joined(separator: ", "))")
    case .library(let message): return message
    }
  }
}

/// Refuses to write into a folder that does not exist, or over one of `others` (the files the command reads, and
/// those it writes besides this one), naming the option.
func checkWritable(_ path: String, option: String, others: [String] = []) throws {
  do { try OutputFile.checkWritable(path, others: others) } catch let error as OutputFileError {
    throw CommandError.option(option, reason: error.localizedDescription)
  }
}

/// A checkpoint `--output` names a safetensors file, plain or .xz compressed (`export`, `average`).
func checkCheckpointOutput(_ output: String) throws {
  guard Safetensors.isSafetensorsPath(output) else {
    throw ValidationError("--output must end in .safetensors (or .safetensors.xz, compressed)")
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
  do { try OutputFolder.create(path) } catch let error as OutputFolderError {
    throw CommandError.option(option, reason: error.localizedDescription)
  }
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
      throw CommandError.library("\(error.localizedDescription) or pass --checkpoint RUN")
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
      throw CommandError.option(option + ":", reason: "no --data is named \(name) (names: \(names.joined(separator: ", ")))")
    }
    return index
  }
}

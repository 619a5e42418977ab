import ArgumentParser
import Foundation
import Training

/// `hspsam export`: a small, shippable copy of a trained model (what models/ holds).
struct ExportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Copy a run's best checkpoint without optimiser state, in float16 by default (half the size) or 8-bit.",
    discussion: "The copy keeps the configuration and the base checkpoint's identity; predict and evaluate accept it as --checkpoint."
  )

  @Option(help: "A training run folder (its best.safetensors) or a checkpoint file.") var checkpoint: String
  @Option(help: "File to write (.safetensors); an existing file is never overwritten.") var output: String
  @Flag(help: "Keep float32 instead of float16.") var float32 = false
  @Flag(help: "8-bit matrices and kernels with a float32 scale per row, the rest float16 (about half the float16 size).")
  var int8 = false
  @Option(name: .customLong("note"), help: "KEY=TEXT: a text entry of the file's metadata, e.g. trainingCommand=... (repeatable).")
  var notes: [String] = []

  func validate() throws {
    guard !(float32 && int8) else { throw ValidationError("--float32 and --int8 exclude each other") }
  }

  func run() throws {
    let source = try RunCheckpoint.resolve(checkpoint, parameter: .checkpoint)
    try checkCheckpointOutput(output)
    try checkWritable(output, option: "--output")
    let precision: RunCheckpoint.Precision = float32 ? .float32 : int8 ? .int8 : .float16
    var entries: [String: String] = [:]
    for note in notes {
      let parts = note.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--note '\(note)': expected KEY=TEXT") }
      entries[parts[0]] = parts[1]
    }
    try RunCheckpoint.export(from: source, to: output, precision: precision, notes: entries)
    let bytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
    print(String(format: "%@: %.1f MB (%@)", output, Double(bytes) / 1e6, precision.rawValue))
  }
}

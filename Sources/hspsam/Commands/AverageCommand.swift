import ArgumentParser
import Foundation
import Training

/// `hspsam average`: one model whose trained weights are the mean of several runs' (a uniform model soup).
struct AverageCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "average",
    abstract: "Average the trained weights of several checkpoints of one model into one checkpoint (a uniform model soup).",
    discussion: """
      Meant for fine-tunes that share a starting point (hspsam train --init from one model): their mean is one \
      model, as fast as each of them. The checkpoints must have the same model configuration and base weights. \
      The result is float32; predict and evaluate accept it as --checkpoint, export makes a float16 copy.
      """
  )

  @Option(name: .customLong("checkpoint"), help: "A run folder (its best.safetensors) or a checkpoint file; give two or more.")
  var checkpoints: [String] = []
  @Option(help: "File to write (.safetensors); an existing file is never overwritten.") var output: String

  func validate() throws {
    guard checkpoints.count >= 2 else { throw ValidationError("give --checkpoint at least twice (got \(checkpoints.count))") }
    try checkCheckpointOutput(output)
  }

  func run() throws {
    let sources = try checkpoints.map { try RunCheckpoint.resolve($0, parameter: .checkpoint) }
    try checkWritable(output, option: "--output")
    try RunCheckpoint.average(sources, to: output)
    print("\(output): the mean of \(sources.count) checkpoints (\(sources.joined(separator: ", ")))")
  }
}

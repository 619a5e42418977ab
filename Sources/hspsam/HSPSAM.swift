import ArgumentParser
import Foundation
import Tensor

@main
struct HSPSAM: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "hspsam",
    abstract: "Prompt-free medical image segmentation (HSP-SAM) on libtorch.",
    subcommands: [TrainCommand.self, PredictCommand.self, SegmentCommand.self, EvaluateCommand.self, ExportCommand.self, InspectCommand.self,
                  BenchCommand.self]
  )

  /// Runs the command; any failure prints one line naming what failed and exits non-zero.
  static func main() {
    Torch.threadCount = ProcessInfo.processInfo.activeProcessorCount
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      exit(withError: error)
    }
  }
}

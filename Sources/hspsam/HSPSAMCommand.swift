import ArgumentParser
import Foundation
import Tensor
import Training

@main
struct HSPSAMCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "hspsam",
    abstract: "Prompt-free medical image segmentation (HSP-SAM) on libtorch.",
    subcommands: [TrainCommand.self, PredictCommand.self, SegmentCommand.self, EvaluateCommand.self, ExportCommand.self, AverageCommand.self,
                  CurvesCommand.self, InspectCommand.self, BenchCommand.self]
  )

  /// Runs the command; any failure prints one line naming what failed and exits non-zero.
  static func main() {
    Torch.threadCount = ProcessInfo.processInfo.activeProcessorCount
    do {
      try enableCPUBlockCache(environment: ProcessInfo.processInfo.environment)
      var command = try parseAsRoot()
      try command.run()
    } catch let error as CocoaError {
      exit(withError: CommandError.library(error.oneLine))
    } catch let error as ParameterNamingError {
      exit(withError: CommandError.library(error.message(naming: \.flag)))
    } catch {
      exit(withError: error)
    }
  }
}

/// The CPU block cache's limit in MB, `HSPSAM_CPU_CACHE_MB` (0 turns it off). The default, 4096 or a quarter of
/// the memory where that is less, holds a whole training step's freed activations at batch 4 so the next step
/// reuses them (`hspsam bench hsp`: 1 GB still paged in part of every step again).
func enableCPUBlockCache(environment: [String: String]) throws {
  var megabytes = min(4096, Int(ProcessInfo.processInfo.physicalMemory >> 20) / 4)
  if let text = environment["HSPSAM_CPU_CACHE_MB"] {
    guard let value = Int(text), value >= 0 else {
      throw CommandError.environment("HSPSAM_CPU_CACHE_MB", reason: "must be a whole number of megabytes (0 turns the cache off), not '\(text)'")
    }
    megabytes = value
  }
  if megabytes > 0 { Torch.enableCPUBlockCache(limitBytes: megabytes << 20) }
}

extension TrainingParameter {
  /// The command-line spelling of a parameter the library's errors name.
  var flag: String {
    switch self {
    case .output: return "--out"
    case .resume: return "--resume"
    case .initialWeights: return "--init"
    case .datasets: return "--data"
    case .datasetName: return "NAME=DIR"
    case .validationFraction: return "--val-fraction"
    case .configuration: return "--config"
    case .checkpoint: return "--checkpoint"
    }
  }
}

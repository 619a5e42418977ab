import ArgumentParser
import Foundation
import Training

/// `hspsam curves`: validation Dice against training hours for several runs, as a plot and a table.
struct CurvesCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "curves",
    abstract: "Plot validation Dice against training hours (or epochs) for several runs, one curve each, and print their table.",
    discussion: """
      Compares recipes by what they buy per hour: each run's log.jsonl gives its validated epochs and the wall \
      time spent to reach them (every invocation of a resumed run, its prefix cache included). Runs measured on \
      different machines or beside other work are not comparable in hours: `--x-axis epochs` plots them by epoch.
      """
  )

  @Argument(help: "Runs as NAME=RUN_FOLDER (or a run folder, named by its last path component).") var runs: [String]
  @Option(help: "PNG to write (replaced if it exists).") var output: String
  @Option(help: "What the x axis counts: hours (wall time, every invocation and the prefix cache included) or epochs.")
  var xAxis: RunCurves.Axis = .hours

  func validate() throws {
    guard !runs.isEmpty else { throw ValidationError("name at least one run folder") }
    guard output.hasSuffix(".png") else { throw ValidationError("--output must end in .png") }
  }

  func run() throws {
    let named = runs.map { run -> (name: String, folder: String) in
      if let equals = run.firstIndex(of: "="), !FileManager.default.fileExists(atPath: run) {
        return (String(run[..<equals]), String(run[run.index(after: equals)...]))
      }
      return (URL(fileURLWithPath: run).lastPathComponent, run)
    }
    try checkWritable(output, option: "--output")
    print(try RunCurves.write(runs: named, to: output, axis: xAxis))
  }
}

extension RunCurves.Axis: ExpressibleByArgument {}

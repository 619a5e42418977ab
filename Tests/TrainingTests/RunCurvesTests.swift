import Foundation
import TestSupport
@testable import Training
import XCTest

/// `hspsam curves` reads hours from `elapsed` (or, in older logs, `seconds`), keeps validated epochs only, and
/// names a log it cannot read.
final class RunCurvesTests: XCTestCase {
  func testReadsValidatedEpochsAndRendersALegendPerRun() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let run = folder.appendingPathComponent("run")
    try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
    try """
    {"epoch":1,"loss":0.5,"lr":0.1,"seconds":600,"elapsed":1800,"validationDice":0.7}
    {"epoch":2,"loss":0.4,"lr":0.1,"seconds":1200,"elapsed":2400}
    {"epoch":3,"loss":0.3,"lr":0.1,"seconds":1800,"validationDice":0.8}

    """.write(to: run.appendingPathComponent("log.jsonl"), atomically: true, encoding: .utf8)
    let series = try RunCurves.read(run: run.path, name: "a")
    XCTAssertEqual(series.points.map(\.epoch), [1, 3], "epoch 2 was not validated")
    XCTAssertEqual(series.points.map(\.hours), [0.5, 0.5], "elapsed where logged, else seconds")
    XCTAssertTrue(RunCurves.table([series]).contains("| a | 0.8000 | 0.50 | 3 |"), RunCurves.table([series]))
    let plot = RunCurves.render([series, series])
    XCTAssertEqual(plot.rgb.count, plot.width * plot.height * 3)
    // Both points are at 0.5 h, so by hours the curve is one vertical segment at the right edge; by epochs (1 and
    // 3) it starts a third of the way across. Count the curve's colour in the plot's left half, above the legend.
    func curvePixelsOnTheLeft(_ axis: RunCurves.Axis) -> Int {
      let plot = RunCurves.render([series], axis: axis), colour = RunCurves.palette[0]
      var count = 0
      for y in 40..<(plot.height / 2 + 150) {
        for x in 80..<(plot.width / 2) {
          let i = (y * plot.width + x) * 3
          if (plot.rgb[i], plot.rgb[i + 1], plot.rgb[i + 2]) == colour { count += 1 }
        }
      }
      return count
    }
    XCTAssertEqual(curvePixelsOnTheLeft(.hours), 0)
    XCTAssertGreaterThan(curvePixelsOnTheLeft(.epochs), 20)
    try "not json\n".write(to: run.appendingPathComponent("log.jsonl"), atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try RunCurves.read(run: run.path, name: "a")) {
      XCTAssertTrue($0.localizedDescription.hasSuffix("log.jsonl: line 1 is not a log line of hspsam train"), $0.localizedDescription)
    }
  }
}

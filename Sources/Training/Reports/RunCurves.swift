import Data
import Foundation

/// Validation Dice against training hours (or epochs) for several runs, one curve each, read from their
/// `log.jsonl`: the plot and table a recipe comparison is decided on (`hspsam curves`).
public enum RunCurves {
  /// What the plot's x axis counts: wall-clock hours (what a recipe costs), or epochs (for runs whose hours are not
  /// comparable: other machines, other work beside them, a prefix cache one run computed and another reused).
  public enum Axis: String, CaseIterable, Sendable {
    case hours, epochs
  }

  public struct Series {
    public var name: String
    /// (hours since the run started, validation Dice@0.5) per validated epoch, oldest first.
    public var points: [(hours: Double, epoch: Int, dice: Double)]
  }

  /// A run folder's validated epochs. Hours come from `elapsed` (all invocations, prefix cache included) or, in
  /// logs written before it existed, `seconds` (since the last start: exact only for a run never resumed).
  public static func read(run folder: String, name: String) throws -> Series {
    let path = URL(fileURLWithPath: folder).appendingPathComponent("log.jsonl").path
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw TrainingError.notARunFolder(log: path, folder: folder)
    }
    var points: [(hours: Double, epoch: Int, dice: Double)] = []
    for (index, line) in text.split(separator: "\n").enumerated() {
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let epoch = object["epoch"] as? Int else {
        throw TrainingError.badLogLine(log: path, line: index + 1)
      }
      guard let dice = object["validationDice"] as? Double,
            let seconds = (object["elapsed"] as? Double) ?? (object["seconds"] as? Double) else { continue }
      points.append((seconds / 3600, epoch, dice))
    }
    return Series(name: name, points: points)
  }

  static let palette: [(UInt8, UInt8, UInt8)] = [(40, 120, 200), (200, 60, 40), (60, 160, 60), (150, 80, 180),
                                                  (220, 150, 30), (40, 170, 170), (120, 120, 120), (200, 80, 150)]

  /// RGB bytes of the plot: Dice against hours or epochs (`axis`), a legend naming each curve in its colour.
  public static func render(_ series: [Series], axis: Axis = .hours) -> (rgb: [UInt8], width: Int, height: Int) {
    let title = "validation dice against training " + axis.rawValue
    let (width, height, margin) = (900, 560, 70)
    var canvas = Canvas(width: width, height: height)
    let legendHeight = 16 * series.count + 10
    let (x0, x1, y0, y1) = (margin, width - 30, 40, height - 40 - legendHeight)
    canvas.text(title, x: margin, y: 12, scale: 2)
    canvas.rectangle(x0, y0, x1, y1, colour: (160, 160, 160))
    let all = series.flatMap(\.points)
    func x(_ point: (hours: Double, epoch: Int, dice: Double)) -> Double { axis == .hours ? point.hours : Double(point.epoch) }
    guard let lowDice = all.map(\.dice).min(), let highDice = all.map(\.dice).max(), let lastX = all.map(x).max() else {
      return (canvas.pixels, width, height)
    }
    let xSpan = Swift.max(lastX, 1e-6), span = Swift.max(highDice - lowDice, 1e-3)
    canvas.text(String(format: "%.3f", highDice), x: 4, y: y0, scale: 2)
    canvas.text(String(format: "%.3f", lowDice), x: 4, y: y1 - 10, scale: 2)
    canvas.text(axis == .hours ? "0 h" : "epoch 0", x: x0, y: y1 + 8, scale: 2)
    let lastLabel = axis == .hours ? String(format: "%.2f h", xSpan) : "epoch \(Int(xSpan))"
    canvas.text(lastLabel, x: x1 - 12 * lastLabel.count, y: y1 + 8, scale: 2)
    func position(_ point: (hours: Double, epoch: Int, dice: Double)) -> (Int, Int) {
      (x0 + Int(Double(x1 - x0) * x(point) / xSpan), y1 - Int(Double(y1 - y0) * (point.dice - lowDice) / span))
    }
    for (index, s) in series.enumerated() {
      let colour = palette[index % palette.count]
      for (a, b) in zip(s.points, s.points.dropFirst()) {
        let p = position(a), q = position(b)
        canvas.line(p.0, p.1, q.0, q.1, colour: colour)
      }
      for point in s.points {
        let p = position(point)
        canvas.fill(p.0 - 2, p.1 - 2, p.0 + 2, p.1 + 2, colour: colour)
      }
      let y = y1 + 30 + 16 * index
      canvas.fill(x0, y + 2, x0 + 24, y + 6, colour: colour)
      canvas.text(s.name, x: x0 + 34, y: y, scale: 2)
    }
    return (canvas.pixels, width, height)
  }

  /// A Markdown table: per run its best validation Dice, the hours and epoch it was reached, and its last point.
  public static func table(_ series: [Series]) -> String {
    var lines = ["| run | best validation Dice@0.5 | at hours | at epoch | last (hours, Dice) |", "|---|---|---|---|---|"]
    for s in series {
      guard let best = s.points.max(by: { $0.dice < $1.dice }), let last = s.points.last else {
        lines.append("| \(s.name) | no validated epoch yet | | | |")
        continue
      }
      lines.append(String(format: "| %@ | %.4f | %.2f | %d | %.2f, %.4f |", s.name, best.dice, best.hours, best.epoch, last.hours, last.dice))
    }
    return lines.joined(separator: "\n")
  }

  /// Reads every run, writes the PNG at `path` (replacing it: it is derived from the logs), returns the table.
  public static func write(runs: [(name: String, folder: String)], to path: String, axis: Axis = .hours) throws -> String {
    let series = try runs.map { try read(run: $0.folder, name: $0.name) }
    let plot = render(series, axis: axis)
    try ImageIO.writePNG(plot.rgb, width: plot.width, height: plot.height, channels: 3, to: path)
    return table(series)
  }
}

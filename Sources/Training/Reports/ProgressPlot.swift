import Foundation

/// `progress.png`: training loss, validation Dice and learning rate per epoch, three stacked panels with their
/// value ranges written in a small built-in bitmap font (no font library needed for digits and a few words).
public enum ProgressPlot {
  public struct Point {
    public let epoch: Int
    public let loss: Double
    public let learningRate: Double
    public let validationDice: Double?
  }

  static let width = 720, panelHeight = 200, margin = 70

  /// RGB bytes (width x 3 panels) of the plot.
  public static func render(_ points: [Point]) -> (rgb: [UInt8], width: Int, height: Int) {
    let height = 3 * panelHeight
    var canvas = Canvas(width: width, height: height)
    let panels: [(String, [(Int, Double)], (UInt8, UInt8, UInt8))] = [
      ("training loss", points.map { ($0.epoch, $0.loss) }, (200, 60, 40)),
      ("validation dice", points.compactMap { p in p.validationDice.map { (p.epoch, $0) } }, (40, 120, 200)),
      ("learning rate", points.map { ($0.epoch, $0.learningRate) }, (60, 160, 60)),
    ]
    let lastEpoch = Swift.max(1, points.map(\.epoch).max() ?? 1)
    for (index, (title, series, colour)) in panels.enumerated() {
      let top = index * panelHeight
      let (x0, x1, y0, y1) = (margin, width - 20, top + 30, top + panelHeight - 30)
      canvas.text(title, x: margin, y: top + 10, scale: 2)
      canvas.rectangle(x0, y0, x1, y1, colour: (160, 160, 160))
      canvas.text("epoch \(lastEpoch)", x: x1 - 90, y: y1 + 8, scale: 2)
      guard let low = series.map(\.1).min(), let high = series.map(\.1).max() else { continue }
      let span = high > low ? high - low : Swift.max(Swift.abs(high), 1e-12)
      canvas.text(format(high), x: 4, y: y0, scale: 2)
      canvas.text(format(low), x: 4, y: y1 - 10, scale: 2)
      func position(_ e: Int, _ v: Double) -> (Int, Int) {
        (x0 + Int(Double(x1 - x0) * Double(e) / Double(lastEpoch)),
         y1 - Int(Double(y1 - y0) * (high > low ? (v - low) / span : 0.5)))
      }
      for (a, b) in zip(series, series.dropFirst()) {
        let p = position(a.0, a.1), q = position(b.0, b.1)
        canvas.line(p.0, p.1, q.0, q.1, colour: colour)
      }
      for s in series {
        let p = position(s.0, s.1)
        canvas.fill(p.0 - 2, p.1 - 2, p.0 + 2, p.1 + 2, colour: colour)
      }
    }
    return (canvas.pixels, width, height)
  }

  static func format(_ v: Double) -> String {
    v != 0 && (Swift.abs(v) < 0.01 || Swift.abs(v) >= 1000) ? String(format: "%.1e", v) : String(format: "%.3f", v)
  }
}

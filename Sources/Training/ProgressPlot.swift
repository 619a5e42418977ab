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

/// A white RGB raster with lines, boxes and 3x5 bitmap text.
struct Canvas {
  let width: Int, height: Int
  var pixels: [UInt8]

  init(width: Int, height: Int) {
    self.width = width
    self.height = height
    pixels = [UInt8](repeating: 255, count: width * height * 3)
  }

  mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
    guard x >= 0, y >= 0, x < width, y < height else { return }
    let p = (y * width + x) * 3
    pixels[p] = c.0; pixels[p + 1] = c.1; pixels[p + 2] = c.2
  }

  mutating func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, colour: (UInt8, UInt8, UInt8)) {
    for y in y0...y1 { for x in x0...x1 { set(x, y, colour) } }
  }

  mutating func rectangle(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, colour: (UInt8, UInt8, UInt8)) {
    line(x0, y0, x1, y0, colour: colour); line(x0, y1, x1, y1, colour: colour)
    line(x0, y0, x0, y1, colour: colour); line(x1, y0, x1, y1, colour: colour)
  }

  /// Bresenham, two pixels thick.
  mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, colour: (UInt8, UInt8, UInt8)) {
    var (x, y) = (x0, y0)
    let dx = Swift.abs(x1 - x0), dy = -Swift.abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
    var error = dx + dy
    while true {
      set(x, y, colour); set(x, y + 1, colour)
      if x == x1 && y == y1 { break }
      let e2 = 2 * error
      if e2 >= dy { error += dy; x += sx }
      if e2 <= dx { error += dx; y += sy }
    }
  }

  /// 3x5 glyphs, rows top to bottom, 3 bits each (unknown characters draw as blanks).
  static let glyphs: [Character: [UInt8]] = [
    "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
    "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
    ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0], "+": [0, 2, 7, 2, 0], "a": [0, 7, 1, 7, 7], "c": [0, 7, 4, 4, 7],
    "d": [1, 1, 7, 5, 7], "e": [7, 5, 7, 4, 7], "g": [7, 5, 7, 1, 7], "h": [4, 4, 7, 5, 5], "i": [2, 0, 2, 2, 2],
    "l": [6, 2, 2, 2, 7], "n": [0, 6, 5, 5, 5], "o": [0, 7, 5, 5, 7], "p": [7, 5, 7, 4, 4], "r": [0, 7, 4, 4, 4],
    "s": [7, 4, 7, 1, 7], "t": [4, 7, 4, 4, 3], "v": [0, 5, 5, 5, 2], "k": [5, 6, 4, 6, 5], "u": [0, 5, 5, 5, 7],
  ]

  mutating func text(_ string: String, x: Int, y: Int, scale: Int) {
    for (i, character) in string.lowercased().enumerated() {
      guard let rows = Canvas.glyphs[character] else { continue }
      for (r, bits) in rows.enumerated() {
        for c in 0..<3 where bits & (4 >> UInt8(c)) != 0 {
          fill(x + (i * 4 + c) * scale, y + r * scale, x + (i * 4 + c) * scale + scale - 1, y + r * scale + scale - 1,
               colour: (30, 30, 30))
        }
      }
    }
  }
}

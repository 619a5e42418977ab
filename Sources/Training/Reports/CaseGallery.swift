import Data
import Foundation

/// The best and worst cases of an evaluation as one PNG grid: a row per case with the image, the ground truth
/// and the prediction (each tinted over the image) and a caption with the stem and Dice@0.5. Only small
/// thumbnails of the current k best and k worst are kept, so memory does not grow with the dataset.
public struct CaseGallery {
  public struct Case {
    public let stem: String
    public let dice: Double
    /// Thumbnails, cellWidth x cellHeight RGB each.
    let image: [UInt8], truth: [UInt8], prediction: [UInt8]
  }

  public let keep: Int
  public private(set) var best: [Case] = []
  public private(set) var worst: [Case] = []
  static let cellWidth = 200, cellHeight = 160, caption = 16, gap = 6

  public init(keep: Int = 4) { self.keep = keep }

  /// Offers one evaluated image: truth and prediction are H*W, non-zero = foreground. The image is converted to
  /// RGB only when the case enters the gallery (most do not).
  public mutating func offer(stem: String, dice: Double, image: Image, truth: [UInt8], prediction: [UInt8]) {
    guard keep > 0 else { return }
    let qualifiesBest = best.count < keep || dice > best.last!.dice
    let qualifiesWorst = worst.count < keep || dice < worst.last!.dice
    guard qualifiesBest || qualifiesWorst else { return }
    let (width, height) = (image.width, image.height)
    let thumbnail = Self.thumbnail(rgb: image.rgb8(), width: width, height: height)
    let item = Case(stem: stem, dice: dice, image: thumbnail,
                    truth: Self.tinted(thumbnail, mask: Self.thumbnail(mask: truth, width: width, height: height), colour: (40, 200, 80)),
                    prediction: Self.tinted(thumbnail, mask: Self.thumbnail(mask: prediction, width: width, height: height), colour: (255, 128, 0)))
    if qualifiesBest { best = Array((best + [item]).sorted { $0.dice > $1.dice }.prefix(keep)) }
    if qualifiesWorst { worst = Array((worst + [item]).sorted { $0.dice < $1.dice }.prefix(keep)) }
  }

  /// RGB bytes of the grid: the worst cases first (the ones a user needs to see), then the best; with fewer than
  /// twice `keep` images a case that is both is shown once, as a worst one.
  public func render(title: String) -> (rgb: [UInt8], width: Int, height: Int) {
    let shown = Set(worst.map(\.stem))
    let rows = worst.map { ("worst", $0) } + best.filter { !shown.contains($0.stem) }.map { ("best", $0) }
    let rowHeight = Self.caption + Self.cellHeight + Self.gap
    let width = 3 * (Self.cellWidth + Self.gap) + Self.gap
    let height = 24 + Swift.max(1, rows.count) * rowHeight
    var canvas = Canvas(width: width, height: height)
    canvas.text("\(title): image / ground truth / prediction", x: Self.gap, y: 6, scale: 2)
    for (index, (kind, item)) in rows.enumerated() {
      let top = 24 + index * rowHeight
      canvas.text("\(kind) \(item.stem) dice \(String(format: "%.3f", item.dice))", x: Self.gap, y: top + 2, scale: 2)
      for (column, cell) in [item.image, item.truth, item.prediction].enumerated() {
        canvas.paste(cell, width: Self.cellWidth, height: Self.cellHeight,
                     x: Self.gap + column * (Self.cellWidth + Self.gap), y: top + Self.caption)
      }
    }
    return (canvas.pixels, width, height)
  }

  /// Fits the image into the cell (nearest sampling, aspect kept, white margins).
  static func thumbnail(rgb: [UInt8], width: Int, height: Int) -> [UInt8] {
    var out = [UInt8](repeating: 255, count: cellWidth * cellHeight * 3)
    forEachCellPixel(width: width, height: height) { cell, source in
      for k in 0..<3 { out[cell * 3 + k] = rgb[source * 3 + k] }
    }
    return out
  }

  static func thumbnail(mask: [UInt8], width: Int, height: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: cellWidth * cellHeight)
    forEachCellPixel(width: width, height: height) { cell, source in out[cell] = mask[source] != 0 ? 1 : 0 }
    return out
  }

  static func forEachCellPixel(width: Int, height: Int, _ body: (Int, Int) -> Void) {
    let scale = Swift.min(Double(cellWidth) / Double(width), Double(cellHeight) / Double(height))
    let (w, h) = (Swift.max(1, Int(Double(width) * scale)), Swift.max(1, Int(Double(height) * scale)))
    let (left, top) = ((cellWidth - w) / 2, (cellHeight - h) / 2)
    for y in 0..<h {
      let sy = Swift.min(height - 1, Int((Double(y) + 0.5) / scale))
      for x in 0..<w {
        let sx = Swift.min(width - 1, Int((Double(x) + 0.5) / scale))
        body((top + y) * cellWidth + left + x, sy * width + sx)
      }
    }
  }

  static func tinted(_ thumbnail: [UInt8], mask: [UInt8], colour: (UInt8, UInt8, UInt8)) -> [UInt8] {
    Overlay.draw(rgb: thumbnail, width: cellWidth, height: cellHeight, mask: mask, colour: colour)
  }
}

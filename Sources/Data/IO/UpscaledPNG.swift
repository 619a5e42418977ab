import CImageCodecs
import Foundation
import Tensor

/// Writes a map computed at a reduced size (an image read with `ImageIO.read(_:reducedBy:)`) as a PNG at the
/// image's full size, one row at a time, so a mask for a 20000 x 20000 image costs a row of memory, not 400 MB.
public enum UpscaledPNG {
  /// A one-channel float map (`values`: height x width, e.g. a foreground probability) resized bilinearly to
  /// `fullWidth` x `fullHeight` (half-pixel centres, edges clamped: PyTorch's `interpolate(mode: "bilinear",
  /// align_corners: false)`), each value turned into a byte by `byte`.
  public static func write(_ values: [Float], width: Int, height: Int, fullWidth: Int, fullHeight: Int, to path: String,
                           byte: (Float) -> UInt8) throws {
    precondition(values.count == width * height, "value count does not match the size")
    func taps(_ out: Int, _ count: Int, _ full: Int) -> (Int, Int, Float) {
      let source = Swift.max(0, (Float(out) + 0.5) * Float(count) / Float(full) - 0.5)
      let low = Swift.min(Int(source), count - 1)
      return (low, Swift.min(low + 1, count - 1), source - Float(low))
    }
    let columns = (0..<fullWidth).map { taps($0, width, fullWidth) }
    try writeRows(width: fullWidth, height: fullHeight, channels: 1, to: path) { y, row in
      let (y0, y1, wy) = taps(y, height, fullHeight)
      for (x, (x0, x1, wx)) in columns.enumerated() {
        let top = values[y0 * width + x0] * (1 - wx) + values[y0 * width + x1] * wx
        let bottom = values[y1 * width + x0] * (1 - wx) + values[y1 * width + x1] * wx
        row[x] = byte(top * (1 - wy) + bottom * wy)
      }
    }
  }

  /// A byte map (`bytes`: height x width x channels, e.g. class indices or an overlay) resized by nearest neighbour
  /// (the source pixel whose block holds the output pixel's centre).
  public static func write(_ bytes: [UInt8], width: Int, height: Int, channels: Int, fullWidth: Int, fullHeight: Int,
                           to path: String) throws {
    precondition(bytes.count == width * height * channels, "byte count does not match the size")
    let columns = (0..<fullWidth).map { Swift.min(width - 1, (2 * $0 + 1) * width / (2 * fullWidth)) }
    try writeRows(width: fullWidth, height: fullHeight, channels: channels, to: path) { y, row in
      let sourceRow = Swift.min(height - 1, (2 * y + 1) * height / (2 * fullHeight)) * width
      for (x, column) in columns.enumerated() {
        for c in 0..<channels { row[x * channels + c] = bytes[(sourceRow + column) * channels + c] }
      }
    }
  }

  /// Streams rows from `fill` into a PNG, written to a temporary sibling and renamed into place, as `writePNG`.
  static func writeRows(width: Int, height: Int, channels: Int, to path: String,
                        fill: (Int, inout [UInt8]) -> Void) throws {
    let url = URL(fileURLWithPath: path)
    let temporary = TemporaryFiles.sibling(of: url)
    var message = [CChar](repeating: 0, count: 512)
    guard let writer = ic_png_writer_open(temporary.path, Int32(width), Int32(height), Int32(channels), &message, message.count) else {
      throw ImageIOError(path: path, reason: cString(message))
    }
    var row = [UInt8](repeating: 0, count: width * channels)
    var failed = false
    for y in 0..<height where !failed {
      fill(y, &row)
      failed = ic_png_writer_row(writer, row, &message, message.count) != 0
    }
    let closed = ic_png_writer_close(writer, failed ? 0 : 1, &message, message.count) == 0
    guard !failed, closed, rename(temporary.path, url.path) == 0 else {
      let reason = failed || !closed ? cString(message) : "rename failed (errno \(errno))"
      try? FileManager.default.removeItem(at: temporary)
      throw ImageIOError(path: path, reason: reason)
    }
  }
}

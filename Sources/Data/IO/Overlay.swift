/// Draws a binary mask over an RGB image (tinted fill and outline) and optional boxes, for people to look at.
public enum Overlay {
  /// rgb: H*W*3 bytes; mask: H*W values, non-zero = foreground. Returns H*W*3 bytes.
  public static func draw(rgb: [UInt8], width: Int, height: Int, mask: [UInt8], boxes: [[Double]] = [],
                          colour: (UInt8, UInt8, UInt8) = (255, 128, 0), alpha: Double = 0.4) -> [UInt8] {
    var out = rgb
    let c = [Double(colour.0), Double(colour.1), Double(colour.2)]
    for y in 0..<height {
      for x in 0..<width where mask[y * width + x] != 0 {
        let p = (y * width + x) * 3
        let isEdge = x == 0 || y == 0 || x == width - 1 || y == height - 1 || mask[y * width + x - 1] == 0
          || mask[y * width + x + 1] == 0 || mask[(y - 1) * width + x] == 0 || mask[(y + 1) * width + x] == 0
        let a = isEdge ? 1.0 : alpha
        for k in 0..<3 { out[p + k] = UInt8((1 - a) * Double(out[p + k]) + a * c[k] + 0.5) }
      }
    }
    for box in boxes where box.count == 4 {
      let x0 = Swift.max(0, Swift.min(width - 1, Int(box[0]))), x1 = Swift.max(0, Swift.min(width - 1, Int(box[2])))
      let y0 = Swift.max(0, Swift.min(height - 1, Int(box[1]))), y1 = Swift.max(0, Swift.min(height - 1, Int(box[3])))
      let paint = { (x: Int, y: Int) in let p = (y * width + x) * 3; out[p] = 0; out[p + 1] = 160; out[p + 2] = 255 }
      for x in x0...Swift.max(x0, x1) { paint(x, y0); paint(x, y1) }
      for y in y0...Swift.max(y0, y1) { paint(x0, y); paint(x1, y) }
    }
    return out
  }
}

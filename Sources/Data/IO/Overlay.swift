/// Draws a class mask over an RGB image (tinted fill and outline) and optional boxes, for people to look at.
public enum Overlay {
  /// Classes 2, 3, ... of a multi-class mask (cycled), chosen apart from class 1's orange and the boxes' blue.
  public static let otherClassColours: [(UInt8, UInt8, UInt8)] = [(60, 220, 60), (230, 60, 230), (255, 230, 0), (0, 230, 230)]

  /// rgb: H*W*3 bytes; mask: H*W class indices, 0 = background, 1 in `colour`, 2... in `otherClassColours`; each
  /// region is outlined where it meets another class. Returns H*W*3 bytes.
  public static func draw(rgb: [UInt8], width: Int, height: Int, mask: [UInt8], boxes: [[Double]] = [],
                          colour: (UInt8, UInt8, UInt8) = (255, 128, 0), alpha: Double = 0.4) -> [UInt8] {
    var out = rgb
    let palette = ([colour] + otherClassColours).map { [Double($0.0), Double($0.1), Double($0.2)] }
    for y in 0..<height {
      for x in 0..<width where mask[y * width + x] != 0 {
        let (i, value) = (y * width + x, mask[y * width + x])
        let isEdge = x == 0 || y == 0 || x == width - 1 || y == height - 1 || mask[i - 1] != value
          || mask[i + 1] != value || mask[i - width] != value || mask[i + width] != value
        let a = isEdge ? 1.0 : alpha
        let c = value == 1 ? palette[0] : palette[1 + (Int(value) - 2) % otherClassColours.count]
        for k in 0..<3 { out[i * 3 + k] = UInt8((1 - a) * Double(out[i * 3 + k]) + a * c[k] + 0.5) }
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

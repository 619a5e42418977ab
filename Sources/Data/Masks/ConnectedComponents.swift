/// Connected foreground regions of a binary mask (8-connectivity), for the box-oracle baseline and reports.
public enum ConnectedComponents {
  public struct Component: Equatable, Sendable {
    /// Tight bounds in pixels, inclusive: x0...x1, y0...y1.
    public var x0: Int, y0: Int, x1: Int, y1: Int
    public var area: Int
    public init(x0: Int, y0: Int, x1: Int, y1: Int, area: Int) {
      (self.x0, self.y0, self.x1, self.y1, self.area) = (x0, y0, x1, y1, area)
    }
    /// XYXY box as MedSAM derives boxes from masks (min and max foreground coordinates, inclusive).
    public var box: [Double] { [Double(x0), Double(y0), Double(x1), Double(y1)] }
  }

  /// Components of `mask` (H*W, non-zero = foreground) with at least `minimumArea` pixels, largest first
  /// (ties by position). Iterative flood fill: no recursion depth to overflow on large masks.
  public static func find(_ mask: [UInt8], width: Int, height: Int, minimumArea: Int = 1) -> [Component] {
    precondition(mask.count == width * height, "mask has \(mask.count) values for \(width)x\(height)")
    var seen = [Bool](repeating: false, count: mask.count)
    var stack: [Int] = []
    var found: [Component] = []
    for start in 0..<mask.count where mask[start] != 0 && !seen[start] {
      var c = Component(x0: width, y0: height, x1: -1, y1: -1, area: 0)
      seen[start] = true
      stack.append(start)
      while let p = stack.popLast() {
        let (x, y) = (p % width, p / width)
        c.area += 1
        c.x0 = Swift.min(c.x0, x); c.x1 = Swift.max(c.x1, x)
        c.y0 = Swift.min(c.y0, y); c.y1 = Swift.max(c.y1, y)
        for dy in -1...1 {
          let ny = y + dy
          guard ny >= 0, ny < height else { continue }
          for dx in -1...1 {
            let nx = x + dx
            guard nx >= 0, nx < width else { continue }
            let q = ny * width + nx
            if mask[q] != 0 && !seen[q] { seen[q] = true; stack.append(q) }
          }
        }
      }
      if c.area >= minimumArea { found.append(c) }
    }
    return found.enumerated().sorted { ($0.element.area, -$0.offset) > ($1.element.area, -$1.offset) }.map(\.element)
  }
}

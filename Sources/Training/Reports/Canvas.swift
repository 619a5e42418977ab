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
    "b": [4, 4, 7, 5, 7], "f": [3, 4, 6, 4, 4], "j": [1, 0, 1, 5, 7], "m": [0, 5, 7, 5, 5], "q": [7, 5, 7, 1, 1],
    "w": [0, 5, 5, 7, 5], "x": [0, 5, 2, 2, 5], "y": [5, 5, 7, 1, 7], "z": [7, 1, 2, 4, 7], "_": [0, 0, 0, 0, 7],
    ":": [0, 2, 0, 2, 0], "=": [0, 7, 0, 7, 0], "@": [7, 5, 7, 4, 7], "/": [1, 1, 2, 4, 4], " ": [0, 0, 0, 0, 0],
  ]

  /// Pastes an RGB raster with its top-left corner at (x, y), clipped to the canvas.
  mutating func paste(_ rgb: [UInt8], width w: Int, height h: Int, x: Int, y: Int) {
    for row in 0..<h {
      for column in 0..<w {
        let p = (row * w + column) * 3
        set(x + column, y + row, (rgb[p], rgb[p + 1], rgb[p + 2]))
      }
    }
  }

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

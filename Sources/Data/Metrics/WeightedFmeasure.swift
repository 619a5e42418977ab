// Weighted F-measure (Margolin et al., CVPR 2014) as pysodmetrics computes it (docs/metrics.md), with
// scipy's nearest-foreground choice among equidistant pixels reproduced exactly.
import Foundation

enum WeightedFmeasure {
  /// 7x7 Gaussian, sigma 5, normalised (MATLAB fspecial('gaussian', 7, 5)); separable.
  static let gaussian1D: [Double] = {
    let raw = (-3...3).map { Foundation.exp(-Double($0 * $0) / 50) }
    let total = raw.reduce(0, +)
    return raw.map { $0 / total }
  }()

  static func compute(q: [Double], g: [Bool], width: Int, height: Int) -> Double {
    let n = width * height
    let gCount = g.reduce(0) { $0 + ($1 ? 1 : 0) }
    if gCount == 0 { return 0 }
    let (squaredDistance, nearest) = nearestForeground(g: g, width: width, height: height)
    var e = [Double](repeating: 0, count: n)
    for i in 0..<n { e[i] = Swift.abs(q[i] - (g[i] ? 1 : 0)) }
    var et = e
    for i in 0..<n where !g[i] { et[i] = e[nearest[i]] }
    let ea = convolveZeroPadded(et, width: width, height: height)
    let ln05over5 = Foundation.log(0.5) / 5
    var fgErrorSum = 0.0, bgErrorSum = 0.0
    for i in 0..<n {
      if g[i] {
        fgErrorSum += ea[i] < e[i] ? ea[i] : e[i]
      } else {
        let weight = 2 - Foundation.exp(ln05over5 * Double(squaredDistance[i]).squareRoot())
        bgErrorSum += e[i] * weight
      }
    }
    let tpw = Double(gCount) - fgErrorSum
    let recall = 1 - fgErrorSum / Double(gCount)
    let precision = tpw / (tpw + bgErrorSum + eps)
    return 2 * recall * precision / (recall + precision + eps)
  }

  /// For every pixel, the squared Euclidean distance to the nearest foreground pixel and that pixel's index,
  /// choosing among equidistant ones as scipy.ndimage.distance_transform_edt does: per column the nearest
  /// foreground row (the smaller row on a tie), then the column at the smallest distance (the smaller column on
  /// a tie). Exact integer lower-envelope search (Felzenszwalb-Huttenlocher), O(H W).
  static func nearestForeground(g: [Bool], width: Int, height: Int) -> (distance: [Int], index: [Int]) {
    // Per column, nearest foreground row for every row (smaller row on ties): a downward and an upward pass.
    var nearestRow = [Int](repeating: -1, count: width * height)
    for c in 0..<width {
      var last = -1
      for r in 0..<height {
        if g[r * width + c] { last = r }
        nearestRow[r * width + c] = last
      }
      var next = -1
      for r in stride(from: height - 1, through: 0, by: -1) {
        if g[r * width + c] { next = r }
        let above = nearestRow[r * width + c]
        if next >= 0 && (above < 0 || next - r < r - above) { nearestRow[r * width + c] = next }
      }
    }
    var distance = [Int](repeating: 0, count: width * height)
    var index = [Int](repeating: 0, count: width * height)
    var columns = [Int](repeating: 0, count: width)  // envelope's columns
    var starts = [Int](repeating: 0, count: width)  // first x each envelope column owns
    var f = [Int](repeating: 0, count: width)
    for r in 0..<height {
      var count = 0
      for c in 0..<width {
        let row = nearestRow[r * width + c]
        guard row >= 0 else { continue }
        f[c] = (r - row) * (r - row)
        // First x at which c is strictly better than column v (ties stay with the smaller column v).
        func start(over v: Int) -> Int {
          let numerator = (c * c + f[c]) - (v * v + f[v]), denominator = 2 * (c - v)
          let floorDivision = numerator >= 0 ? numerator / denominator : -((-numerator + denominator - 1) / denominator)
          return floorDivision + 1
        }
        var s = 0
        while count > 0 {
          s = start(over: columns[count - 1])
          if s <= starts[count - 1] { count -= 1 } else { break }
        }
        if count == 0 { s = 0 }
        if s < width {
          columns[count] = c
          starts[count] = s
          count += 1
        }
      }
      var k = 0
      for x in 0..<width {
        while k + 1 < count && starts[k + 1] <= x { k += 1 }
        let c = columns[k]
        let dx = x - c
        distance[r * width + x] = dx * dx + f[c]
        index[r * width + x] = nearestRow[r * width + c] * width + c
      }
    }
    return (distance, index)
  }

  /// 7x7 Gaussian filtering with zero padding, same size output (scipy.ndimage.convolve, mode="constant").
  static func convolveZeroPadded(_ x: [Double], width: Int, height: Int) -> [Double] {
    let k = gaussian1D
    var horizontal = [Double](repeating: 0, count: x.count)
    for r in 0..<height {
      for c in 0..<width {
        var sum = 0.0
        for j in -3...3 where c + j >= 0 && c + j < width { sum += k[j + 3] * x[r * width + c + j] }
        horizontal[r * width + c] = sum
      }
    }
    var out = [Double](repeating: 0, count: x.count)
    for r in 0..<height {
      for c in 0..<width {
        var sum = 0.0
        for i in -3...3 where r + i >= 0 && r + i < height { sum += k[i + 3] * horizontal[(r + i) * width + c] }
        out[r * width + c] = sum
      }
    }
    return out
  }
}

import Foundation

/// OpenCV's INTER_AREA resize of (N, C, H, W): for shrinking, each output pixel averages the input area it covers
/// with fractional weights at the edges (separable: out = A_h x A_w^T); for enlarging, OpenCV's INTER_AREA
/// is bilinear interpolation, so is this.
public func areaResize(_ x: Tensor, to size: (Int, Int)) throws -> Tensor {
  let (inH, inW) = (x.size(2), x.size(3))
  if size.0 >= inH && size.1 >= inW { return try x.interpolate(size: size, mode: .bilinear) }
  func weights(_ n: Int, _ m: Int) throws -> Tensor {
    if m >= n { return try Tensor.eye(n) }  // this axis is not shrunk: handled by the bilinear fallback above
    let scale = Double(n) / Double(m)
    var values = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
      let start = Double(i) * scale, end = start + scale
      var j = Int(start.rounded(.down))
      while Double(j) < end && j < n {
        let overlap = Swift.min(end, Double(j + 1)) - Swift.max(start, Double(j))
        if overlap > 0 { values[i * n + j] = Float(overlap / scale) }
        j += 1
      }
    }
    return try Tensor(values, shape: [m, n])
  }
  let ah = try weights(inH, size.0), aw = try weights(inW, size.1)
  return try ah.matmul(x).matmul(aw.transpose(0, 1))
}

extension Tensor {
  /// The n x n identity matrix (float32).
  public static func eye(_ n: Int) throws -> Tensor {
    try Tensor.arange(0, Double(n)).unsqueeze(1).eq(Tensor.arange(0, Double(n)).unsqueeze(0)).to(.float32)
  }
}

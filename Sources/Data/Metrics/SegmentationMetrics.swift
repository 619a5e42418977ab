// The polyp-benchmark metrics, defined in docs/metrics.md and matched to pysodmetrics 1.6.2
// (tools/metrics_reference.py): threshold-swept Dice/IoU (PraNet's meanDic/meanIoU/maxDic), S-measure,
// weighted F-measure, E-measure (curve and adaptive), MAE, and Dice/IoU/precision/recall at probability 0.5
// (per image and pooled). Everything is float64 and follows the reference's order of operations.
import Foundation

/// numpy `spacing(1)` = MATLAB `eps`.
let eps = 2.220446049250313e-16

/// Metrics of one (prediction, ground truth) pair.
public struct ImageMetrics: Sendable {
  /// Dice, IoU and E-measure at thresholds k = 0...255 (index k).
  public var diceCurve: [Double]
  public var iouCurve: [Double]
  public var emCurve: [Double]
  public var sMeasure: Double
  public var wFmeasure: Double
  public var adpEmeasure: Double
  public var mae: Double
  /// Counts of the map thresholded at 0.5 (x > 127).
  public var tp: Int, fp: Int, fn: Int
  public var isEmptyGT: Bool

  public var mDice: Double { diceCurve.reduce(0, +) / 256 }
  public var mIoU: Double { iouCurve.reduce(0, +) / 256 }
  public var meanEmeasure: Double { emCurve.reduce(0, +) / 256 }
  public var dice05: Double { ratioAtHalf(2 * tp, 2 * tp + fp + fn) }
  public var iou05: Double { ratioAtHalf(tp, tp + fp + fn) }
  public var precision05: Double { ratioAtHalf(tp, tp + fp) }
  public var recall05: Double { ratioAtHalf(tp, tp + fn) }

  /// Empty prediction on empty ground truth scores 1 on every @0.5 metric; any other 0/0 scores 0.
  func ratioAtHalf(_ numerator: Int, _ denominator: Int) -> Double {
    if tp + fp + fn == 0 { return 1 }
    return denominator == 0 ? 0 : Double(numerator) / Double(denominator)
  }
}

public enum SegmentationMetrics {
  /// prediction: 8-bit map (255 x probability), ground truth: 0/1 (or any non-zero = foreground), both H*W row-major.
  public static func evaluate(prediction: [UInt8], groundTruth: [UInt8], width: Int, height: Int) -> ImageMetrics {
    precondition(prediction.count == width * height && groundTruth.count == width * height, "size mismatch")
    let n = width * height
    let g = groundTruth.map { $0 != 0 }
    // Min-max normalisation of x / 255 (pysodmetrics prepare_data); a constant map is left as x / 255.
    var q = prediction.map { Double($0) / 255.0 }
    let lo = q.min() ?? 0, hi = q.max() ?? 0
    if hi != lo {
      let range = hi - lo
      for i in 0..<n { q[i] = (q[i] - lo) / range }
    }
    // Threshold bins and per-bin counts on foreground and background.
    var fgHist = [Int](repeating: 0, count: 256), bgHist = [Int](repeating: 0, count: 256)
    var gCount = 0
    var maeSum = 0.0
    for i in 0..<n {
      let b = Int(q[i] * 255.0)
      if g[i] { fgHist[b] += 1; gCount += 1 } else { bgHist[b] += 1 }
      maeSum += Swift.abs(q[i] - (g[i] ? 1 : 0))
    }
    var dice = [Double](repeating: 0, count: 256), iou = [Double](repeating: 0, count: 256)
    var em = [Double](repeating: 0, count: 256)
    var tpK = 0, fpK = 0
    for k in stride(from: 255, through: 0, by: -1) {
      tpK += fgHist[k]
      fpK += bgHist[k]
      let fnK = gCount - tpK
      let d = 2 * tpK + fpK + fnK, u = tpK + fpK + fnK
      dice[k] = d == 0 ? 0 : Double(2 * tpK) / Double(d)
      iou[k] = u == 0 ? 0 : Double(tpK) / Double(u)
      em[k] = enhancedAlignment(predicted: tpK + fpK, truePositive: tpK, foreground: gCount, total: n)
    }
    // Adaptive E-measure: q >= min(2 mean(q), 1) on the continuous map.
    let meanQ = q.reduce(0, +) / Double(n)
    let threshold = Swift.min(2 * meanQ, 1)
    var adpPredicted = 0, adpTP = 0
    for i in 0..<n where q[i] >= threshold {
      adpPredicted += 1
      if g[i] { adpTP += 1 }
    }
    var tp = 0, fp = 0, fn = 0
    for i in 0..<n {
      let p = prediction[i] > 127
      if p && g[i] { tp += 1 } else if p { fp += 1 } else if g[i] { fn += 1 }
    }
    return ImageMetrics(
      diceCurve: dice, iouCurve: iou, emCurve: em,
      sMeasure: structureMeasure(q: q, g: g, width: width, height: height, foreground: gCount),
      wFmeasure: WeightedFmeasure.compute(q: q, g: g, width: width, height: height),
      adpEmeasure: enhancedAlignment(predicted: adpPredicted, truePositive: adpTP, foreground: gCount, total: n),
      mae: maeSum / Double(n), tp: tp, fp: fp, fn: fn, isEmptyGT: gCount == 0)
  }

  /// E-measure of a binary prediction from its counts (section 6): the alignment term only depends on the
  /// (prediction, truth) value pair, so four terms weighted by their counts.
  static func enhancedAlignment(predicted p: Int, truePositive tp: Int, foreground gCount: Int, total n: Int) -> Double {
    let sum: Double
    if gCount == 0 {
      sum = Double(n - p)
    } else if gCount == n {
      sum = Double(p)
    } else {
      let mb = Double(p) / Double(n), mg = Double(gCount) / Double(n)
      let fp = p - tp, fn = gCount - tp, tn = n - p - fn
      var total = 0.0
      for (pv, gv, count) in [(1.0, 1.0, tp), (1.0, 0.0, fp), (0.0, 1.0, fn), (0.0, 0.0, tn)] {
        let a = pv - mb, c = gv - mg
        let xi = 2 * a * c / (a * a + c * c + eps)
        total += (xi + 1) * (xi + 1) / 4 * Double(count)
      }
      sum = total
    }
    return sum / (Double(n - 1) + eps)
  }

  // MARK: - S-measure (section 5)

  static func structureMeasure(q: [Double], g: [Bool], width: Int, height: Int, foreground gCount: Int) -> Double {
    let n = q.count
    let y = Double(gCount) / Double(n)
    if gCount == 0 { return 1 - q.reduce(0, +) / Double(n) }
    if gCount == n { return q.reduce(0, +) / Double(n) }
    var fgValues: [Double] = [], bgValues: [Double] = []
    fgValues.reserveCapacity(gCount)
    bgValues.reserveCapacity(n - gCount)
    var rowSum = 0.0, colSum = 0.0
    for i in 0..<n {
      if g[i] {
        fgValues.append(q[i])
        rowSum += Double(i / width)
        colSum += Double(i % width)
      } else {
        bgValues.append(1 - q[i])
      }
    }
    let objectScore = y * objectSimilarity(fgValues) + (1 - y) * objectSimilarity(bgValues)
    let cy = rowSum / Double(gCount), cx = colSum / Double(gCount)
    let rows = Int(cy.rounded(.toNearestOrEven)) + 1, cols = Int(cx.rounded(.toNearestOrEven)) + 1
    let total = Double(n)
    let wLT = Double(cols * rows) / total
    let wRT = Double((width - cols) * rows) / total
    let wLB = Double((height - rows) * cols) / total
    let wRB = 1 - wLT - wRT - wLB
    func block(_ r0: Int, _ r1: Int, _ c0: Int, _ c1: Int) -> Double {
      ssim(q: q, g: g, width: width, rows: r0..<r1, cols: c0..<c1)
    }
    let region = wLT * block(0, rows, 0, cols) + wRT * block(0, rows, cols, width)
      + wLB * block(rows, height, 0, cols) + wRB * block(rows, height, cols, width)
    let score = 0.5 * objectScore + 0.5 * region
    return score.isNaN ? .nan : Swift.max(0, score)
  }

  /// 2m / (m^2 + 1 + s + eps) with the sample standard deviation s (0 for a single value).
  static func objectSimilarity(_ v: [Double]) -> Double {
    let m = v.reduce(0, +) / Double(v.count)
    var s = 0.0
    if v.count > 1 {
      let squares = v.reduce(0) { $0 + ($1 - m) * ($1 - m) }
      s = (squares / Double(v.count - 1)).squareRoot()
    }
    return 2 * m / (m * m + 1 + s + eps)
  }

  static func ssim(q: [Double], g: [Bool], width: Int, rows: Range<Int>, cols: Range<Int>) -> Double {
    let count = rows.count * cols.count
    if count == 0 { return .nan }  // numpy's mean of an empty block
    var sumP = 0.0, sumT = 0.0
    for r in rows { for c in cols { sumP += q[r * width + c]; sumT += g[r * width + c] ? 1 : 0 } }
    let mx = sumP / Double(count), my = sumT / Double(count)
    var sxx = 0.0, syy = 0.0, sxy = 0.0
    for r in rows {
      for c in cols {
        let dp = q[r * width + c] - mx, dt = (g[r * width + c] ? 1.0 : 0.0) - my
        sxx += dp * dp; syy += dt * dt; sxy += dp * dt
      }
    }
    let denominator = Double(count - 1) + eps
    sxx /= denominator; syy /= denominator; sxy /= denominator
    let a = 4 * mx * my * sxy, b = (mx * mx + my * my) * (sxx + syy)
    if a != 0 { return a / (b + eps) }
    return b == 0 ? 1 : 0
  }
}

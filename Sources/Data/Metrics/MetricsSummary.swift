import Foundation

/// Dataset-level metrics: plain means over images (each image weight 1), except the pooled @0.5 pair.
/// Accumulates one image at a time in constant memory.
public struct MetricsAccumulator: Sendable {
  public private(set) var count = 0
  public private(set) var emptyGT = 0
  var diceCurve = [Double](repeating: 0, count: 256)
  var iouCurve = [Double](repeating: 0, count: 256)
  var emCurve = [Double](repeating: 0, count: 256)
  var sums: [String: Double] = [:]
  var pooledTP = 0, pooledFP = 0, pooledFN = 0

  public init() {}

  public mutating func add(_ m: ImageMetrics) {
    count += 1
    if m.isEmptyGT { emptyGT += 1 }
    for k in 0..<256 {
      diceCurve[k] += m.diceCurve[k]
      iouCurve[k] += m.iouCurve[k]
      emCurve[k] += m.emCurve[k]
    }
    for (name, value) in [("Smeasure", m.sMeasure), ("wFmeasure", m.wFmeasure), ("adpEmeasure", m.adpEmeasure),
                          ("MAE", m.mae), ("Dice@0.5", m.dice05), ("IoU@0.5", m.iou05),
                          ("Precision@0.5", m.precision05), ("Recall@0.5", m.recall05)] {
      sums[name, default: 0] += value
    }
    pooledTP += m.tp
    pooledFP += m.fp
    pooledFN += m.fn
  }

  /// Metric name -> value, names as docs/metrics.md gives them (NaN where the reference gives NaN).
  public func summary() -> [String: Double] {
    guard count > 0 else { return ["count": 0] }
    let n = Double(count)
    let dice = diceCurve.map { $0 / n }, iou = iouCurve.map { $0 / n }, em = emCurve.map { $0 / n }
    var result: [String: Double] = sums.mapValues { $0 / n }
    result["mDice"] = dice.reduce(0, +) / 256
    result["maxDice"] = dice.max()
    result["mIoU"] = iou.reduce(0, +) / 256
    result["meanEmeasure"] = em.reduce(0, +) / 256
    result["maxEmeasure"] = em.max()
    let both = pooledTP + pooledFP + pooledFN
    result["pooledDice@0.5"] = both == 0 ? 1 : Double(2 * pooledTP) / Double(2 * pooledTP + pooledFP + pooledFN)
    result["pooledIoU@0.5"] = both == 0 ? 1 : Double(pooledTP) / Double(both)
    result["count"] = n
    result["emptyGT"] = Double(emptyGT)
    return result
  }

  /// The order rows and JSON list the metrics in.
  public static let metricNames = ["mDice", "mIoU", "maxDice", "Smeasure", "wFmeasure", "meanEmeasure", "maxEmeasure",
                                   "adpEmeasure", "MAE", "Dice@0.5", "IoU@0.5", "Precision@0.5", "Recall@0.5",
                                   "pooledDice@0.5", "pooledIoU@0.5", "count", "emptyGT"]
}

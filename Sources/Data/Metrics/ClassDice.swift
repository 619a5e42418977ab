/// Per-class Dice of a multi-class prediction: each foreground class c of a class-index map (0 background, the
/// model's argmax) against the ground truth's class map. A class absent from both maps of an image has no Dice
/// there (nil) and is left out of that class's mean, so a class seen in few images is averaged over those images
/// only (the convention of nnU-Net and the Medical Segmentation Decathlon, not "1 for both empty").
public struct ClassDiceAccumulator: Sendable {
  /// Number of classes including background.
  public let classCount: Int
  private var sums: [Double], counts: [Int]

  public init(classCount: Int) {
    self.classCount = classCount
    sums = [Double](repeating: 0, count: classCount)
    counts = [Int](repeating: 0, count: classCount)
  }

  /// Dice of classes 1..<classCount for one image (index c; index 0, the background, is nil).
  public static func perClass(prediction: [UInt8], truth: [UInt8], classCount: Int) -> [Double?] {
    var inPrediction = [Int](repeating: 0, count: classCount), inTruth = inPrediction, both = inPrediction
    for (p, t) in zip(prediction, truth) {
      let (p, t) = (Int(p), Int(t))
      if p < classCount { inPrediction[p] += 1 }
      if t < classCount { inTruth[t] += 1 }
      if p == t && p < classCount { both[p] += 1 }
    }
    return (0..<classCount).map { c in
      c == 0 || inPrediction[c] + inTruth[c] == 0 ? nil : 2 * Double(both[c]) / Double(inPrediction[c] + inTruth[c])
    }
  }

  public mutating func add(prediction: [UInt8], truth: [UInt8]) {
    for (c, dice) in Self.perClass(prediction: prediction, truth: truth, classCount: classCount).enumerated() {
      guard let dice else { continue }
      sums[c] += dice
      counts[c] += 1
    }
  }

  /// `Dice.class<c>`: the mean over the images where class c appears (NaN where it never did).
  public func summary() -> [String: Double] {
    Dictionary(uniqueKeysWithValues: (1..<classCount).map { c in
      ("Dice.class\(c)", counts[c] == 0 ? Double.nan : sums[c] / Double(counts[c]))
    })
  }
}

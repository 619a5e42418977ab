import Data
import Foundation
import Tensor

/// Runs a model or baseline over a dataset and scores it with every metric, one image at a time.
public enum ModelEvaluation {
  public struct Row {
    public let name: String
    public let summary: [String: Double]
    /// (stem, Dice@0.5) per image, in dataset order, for listings and the Dice histogram.
    public let perImage: [(stem: String, dice: Double)]
    public let gallery: CaseGallery
    public let secondsPerImage: Double
  }

  /// `savePredictions`: a folder for `<stem>.png` probability maps (255 x p, the maps `hspsam evaluate --pred`
  /// reads), nil to keep nothing. Each image is read, predicted and scored at its own size, then dropped.
  /// `shouldStop` is asked after each image: once it says so, the row covers the images done (`perImage.count`).
  public static func run(segmenter: ForegroundSegmenter, dataset: SegmentationDataset, savePredictions: String?,
                         galleryCases: Int = 4, progress: (Int, Int) -> Void = { _, _ in },
                         shouldStop: () -> Bool = { false }) throws -> Row {
    var accumulator = MetricsAccumulator()
    var perImage: [(stem: String, dice: Double)] = []
    var gallery = CaseGallery(keep: galleryCases)
    let classModel = classSegmenter(segmenter, for: dataset.encoding)
    var classDice = classModel.map { ClassDiceAccumulator(classCount: $0.classCount) }
    if let savePredictions { try FileManager.default.createDirectory(atPath: savePredictions, withIntermediateDirectories: true) }
    let start = Date()
    for (index, sample) in dataset.samples.enumerated() {
      let image = try ImageIO.read(sample.imagePath)
      let mask = try ImageIO.read(sample.maskPath)
      guard mask.width == image.width, mask.height == image.height else {
        throw DatasetError(path: sample.maskPath, reason: "mask is \(mask.width)x\(mask.height), image is \(image.width)x\(image.height)")
      }
      let truthClasses = try dataset.encoding.classIndices(mask, path: sample.maskPath)
      let truth = truthClasses.map { $0 > 0 ? UInt8(1) : 0 }
      let probability: [Float]
      if let classModel {
        let (foreground, classes) = try classModel.segment(image)
        probability = foreground
        classDice?.add(prediction: classes, truth: truthClasses)
      } else {
        probability = try segmenter.foreground(image, truth: truth)
      }
      let foreground = eightBit(probability)
      let metrics = SegmentationMetrics.evaluate(prediction: foreground, groundTruth: truth, width: image.width, height: image.height)
      accumulator.add(metrics)
      perImage.append((sample.stem, metrics.dice05))
      gallery.offer(stem: sample.stem, dice: metrics.dice05, image: image, truth: truth, prediction: probability.foregroundMask)
      if let savePredictions {
        try ImageIO.writePNG(foreground, width: image.width, height: image.height, channels: 1,
                             to: URL(fileURLWithPath: savePredictions).appendingPathComponent("\(sample.stem).png").path)
      }
      progress(index + 1, dataset.samples.count)
      if shouldStop() { break }
    }
    let seconds = Date().timeIntervalSince(start) / Double(Swift.max(1, perImage.count))
    let summary = accumulator.summary().merging(classDice?.summary() ?? [:]) { first, _ in first }
    return Row(name: dataset.name, summary: summary, perImage: perImage, gallery: gallery, secondsPerImage: seconds)
  }

  /// The segmenter as one whose per-class Dice is scored: where it and the mask rule have the same several
  /// foreground classes; nil otherwise (scored as any class against background only).
  public static func classSegmenter(_ segmenter: ForegroundSegmenter, for encoding: MaskEncoding) -> ClassSegmenter? {
    guard let classes = segmenter as? ClassSegmenter, classes.classCount > 2, classes.classCount == encoding.classCount else { return nil }
    return classes
  }

  /// A probability map as 8 bits, round(255 p): what a saved prediction (and `predict --prob`) holds, and what
  /// the metrics score, so a saved map re-scored with `--pred` gives the same numbers.
  public static func eightBit(_ probability: [Float]) -> [UInt8] {
    probability.map { UInt8(Swift.max(0, Swift.min(255, ($0 * 255).rounded()))) }
  }
}

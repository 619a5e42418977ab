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
    /// The pairs left out because a file could not be read (only when the run skips them), in dataset order.
    public var skipped: [FileError] = []
  }

  /// `savePredictions`: a folder for `<stem>.png` probability maps (255 x p, the maps `hspsam evaluate --pred`
  /// reads), nil to keep nothing. Each image is read, predicted and scored at its own size, then dropped.
  /// `shouldStop` is asked after each image: once it says so, the row covers the images done (`perImage.count`).
  /// `skip`: nil stops at the first image or mask that cannot be read (or mask of another size, or value outside
  /// the mask rule), with its error; given, such a pair is handed to it and left out, and the row lists it.
  public static func run(segmenter: ForegroundSegmenter, dataset: SegmentationDataset, savePredictions: String?,
                         galleryCases: Int = 4, progress: (Int, Int) -> Void = { _, _ in },
                         shouldStop: () -> Bool = { false }, skip: ((FileError) -> Void)? = nil) throws -> Row {
    var accumulator = MetricsAccumulator()
    var perImage: [(stem: String, dice: Double)] = []
    var gallery = CaseGallery(keep: galleryCases)
    let classModel = classSegmenter(segmenter, for: dataset.encoding)
    var classDice = classModel.map { ClassDiceAccumulator(classCount: $0.classCount) }
    if let savePredictions { try FileManager.default.createDirectory(atPath: savePredictions, withIntermediateDirectories: true) }
    var skipped: [FileError] = []
    let start = Date()
    for (index, sample) in dataset.samples.enumerated() {
      let image: Image, truthClasses: [UInt8]
      do {
        (image, truthClasses) = try dataset.read(sample)
      } catch let error as FileError where skip != nil {
        skipped.append(error)
        skip?(error)
        progress(index + 1, dataset.samples.count)
        if shouldStop() { break }
        continue
      }
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
    return Row(name: dataset.name, summary: summary, perImage: perImage, gallery: gallery, secondsPerImage: seconds,
               skipped: skipped)
  }

  /// The segmenter as one whose per-class Dice is scored: where it and the mask rule have the same several
  /// foreground classes; nil otherwise (scored as any class against background only).
  public static func classSegmenter(_ segmenter: ForegroundSegmenter, for encoding: MaskEncoding) -> ClassSegmenter? {
    guard let classes = segmenter as? ClassSegmenter, classes.classCount > 2, classes.classCount == encoding.classCount else { return nil }
    return classes
  }

  /// A probability map as 8 bits, round(255 p): what a saved prediction (and `predict --prob`) holds, and what
  /// the metrics score, so a saved map re-scored with `--pred` gives the same numbers.
  public static func eightBit(_ probability: [Float]) -> [UInt8] { probability.map(eightBit) }
  public static func eightBit(_ probability: Float) -> UInt8 { UInt8(Swift.max(0, Swift.min(255, (probability * 255).rounded()))) }
}

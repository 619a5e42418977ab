import Data
import Foundation
import Tensor

/// Runs a prompt-free model over a dataset and scores it with every metric, one image at a time.
public enum ModelEvaluation {
  public struct Row {
    public let name: String
    public let summary: [String: Double]
    /// (stem, Dice@0.5) per image, for best/worst listings.
    public let perImage: [(stem: String, dice: Double)]
  }

  /// `savePredictions`: a folder for `<stem>.png` probability maps (255 x p, the maps `hspsam evaluate --pred`
  /// reads), nil to keep nothing.
  public static func run(predictor: PromptFreePredictor, dataset: SegmentationDataset, savePredictions: String?,
                         progress: (Int, Int) -> Void = { _, _ in }) throws -> Row {
    var accumulator = MetricsAccumulator()
    var perImage: [(stem: String, dice: Double)] = []
    if let savePredictions { try FileManager.default.createDirectory(atPath: savePredictions, withIntermediateDirectories: true) }
    for (index, sample) in dataset.samples.enumerated() {
      let image = try ImageIO.read(sample.imagePath)
      let mask = try ImageIO.read(sample.maskPath)
      guard mask.width == image.width, mask.height == image.height else {
        throw DatasetError(path: sample.maskPath, reason: "mask is \(mask.width)x\(mask.height), image is \(image.width)x\(image.height)")
      }
      let truth = try dataset.encoding.classIndices(mask, path: sample.maskPath).map { $0 > 0 ? UInt8(1) : 0 }
      let (probabilities, _) = try predictor.predict(image)
      // The foreground probability as an 8-bit map, round(255 p), exactly what a saved prediction holds.
      let foreground = try (1 - probabilities[0]).floats().map { UInt8(Swift.max(0, Swift.min(255, ($0 * 255).rounded()))) }
      let metrics = SegmentationMetrics.evaluate(prediction: foreground, groundTruth: truth, width: image.width, height: image.height)
      accumulator.add(metrics)
      perImage.append((sample.stem, metrics.dice05))
      if let savePredictions {
        try ImageIO.writePNG(foreground, width: image.width, height: image.height, channels: 1,
                             to: URL(fileURLWithPath: savePredictions).appendingPathComponent("\(sample.stem).png").path)
      }
      progress(index + 1, dataset.samples.count)
    }
    return Row(name: dataset.name, summary: accumulator.summary(), perImage: perImage)
  }
}

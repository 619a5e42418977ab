import Foundation
import Tensor

/// Evaluates a folder of predicted maps against a folder of ground-truth masks, pairing files by stem.
/// Images are processed a few at a time on all cores; only the running sums stay in memory.
public struct FolderEvaluation {
  public struct Result {
    public let summary: [String: Double]
    /// (stem, metrics) in stem order.
    public let perImage: [(stem: String, metrics: ImageMetrics)]
    /// Files that could not be evaluated, with the reason (only with `skipInvalid`).
    public let skipped: [String]
  }

  /// stem -> path of the image files directly inside `folder`.
  public static func listImages(_ folder: String, option: String) throws -> [String: String] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw ImageIOError(path: folder, reason: "\(option): not a folder")
    }
    return try SegmentationDataset.listByStem(URL(fileURLWithPath: folder))
  }

  /// The 8-bit map resized to (height, width) with bilinear interpolation (half-pixel centres), rounded.
  public static func resizeMap(_ map: [UInt8], from: (Int, Int), to: (Int, Int)) throws -> [UInt8] {
    let t = try Tensor(map, shape: [1, 1, from.0, from.1]).to(.float32)
    let resized = try t.interpolate(size: to, mode: .bilinear).round().clamp(min: 0, max: 255)
    return try resized.to(.uint8).toArray(UInt8.self)
  }

  public static func run(predictions: String, groundTruth: String, gtThreshold: Int = 127, skipInvalid: Bool = false,
                         keepPerImage: Bool = true) throws -> Result {
    let gtFiles = try listImages(groundTruth, option: "--gt")
    let predFiles = try listImages(predictions, option: "--pred")
    guard !gtFiles.isEmpty else { throw ImageIOError(path: groundTruth, reason: "--gt: no image files") }
    var skipped: [String] = []
    var pairs: [(stem: String, pred: String, gt: String)] = []
    let gtStems = gtFiles.keys.sorted(by: SegmentationDataset.naturalOrder)
    // Ground truth named otherwise than the predictions (ISIC's `_segmentation`): the one consistent prefix/suffix.
    var naming = MaskNaming.sameStem
    if gtStems.contains(where: { predFiles[$0] == nil }),
       let inferred = MaskNaming.infer(maskStems: gtStems, imageStems: Set(predFiles.keys)) {
      naming = inferred
    }
    for stem in gtStems {
      if let pred = naming.imageStem(forMask: stem).flatMap({ predFiles[$0] }) {
        pairs.append((stem, pred, gtFiles[stem]!))
      } else if skipInvalid {
        skipped.append("\(gtFiles[stem]!): no prediction with stem '\(stem)' in \(predictions)")
      } else {
        throw ImageIOError(path: gtFiles[stem]!, reason: "no prediction with stem '\(stem)' in \(predictions)")
      }
    }
    var accumulator = MetricsAccumulator()
    var perImage: [(stem: String, metrics: ImageMetrics)] = []
    let chunk = 16
    for start in stride(from: 0, to: pairs.count, by: chunk) {
      let batch = Array(pairs[start..<Swift.min(start + chunk, pairs.count)])
      let outcomes = ConcurrentSlots<Result_>(count: batch.count)
      DispatchQueue.concurrentPerform(iterations: batch.count) { i in
        do {
          outcomes[i] = .ok(try evaluatePair(pred: batch[i].pred, gt: batch[i].gt, gtThreshold: gtThreshold))
        } catch {
          outcomes[i] = .failed(error)
        }
      }
      for (pair, outcome) in zip(batch, outcomes.values) {
        switch outcome! {
        case .ok(let metrics):
          accumulator.add(metrics)
          if keepPerImage { perImage.append((pair.stem, metrics)) }
        case .failed(let error):
          if !skipInvalid { throw error }
          skipped.append(error.localizedDescription)
        }
      }
    }
    return Result(summary: accumulator.summary(), perImage: perImage, skipped: skipped)
  }

  enum Result_ { case ok(ImageMetrics), failed(Error) }

  static func evaluatePair(pred: String, gt: String, gtThreshold: Int) throws -> ImageMetrics {
    let mask = try ImageIO.read(gt)
    let map = try ImageIO.read(pred)
    let truth = mask.grey8().map { Int($0) > gtThreshold ? UInt8(1) : 0 }
    var values = map.grey8()
    if map.width != mask.width || map.height != mask.height {
      values = try resizeMap(values, from: (map.height, map.width), to: (mask.height, mask.width))
    }
    return SegmentationMetrics.evaluate(prediction: values, groundTruth: truth, width: mask.width, height: mask.height)
  }

}

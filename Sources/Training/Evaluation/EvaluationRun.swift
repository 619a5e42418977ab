import Data
import Foundation
import Tensor

/// `hspsam evaluate --data` as a library call: a model (trained or a LiteMedSAM baseline) run over one or more
/// datasets, one row of the polyp literature's metrics per dataset (`ModelEvaluation.Row`).
public struct EvaluationRun {
  /// A dataset to score: its row name, folder (with images/ and masks/) and mask rule.
  public struct Source: Sendable {
    public var name: String
    public var folder: String
    public var encoding: MaskEncoding
    public init(name: String, folder: String, encoding: MaskEncoding = .threshold(127)) {
      self.name = name
      self.folder = folder
      self.encoding = encoding
    }
  }

  public struct Options: Sendable {
    public var datasets: [Source]
    /// Split file inside each dataset folder (e.g. test.txt); nil: every image.
    public var split: String?
    /// Where the probability maps go, one folder per dataset; nil: nowhere.
    public var savePredictions: String?
    /// Best and worst cases kept for the report's grid, each.
    public var galleryCases = 4
    /// Leave unreadable image/mask pairs out of their row (reported as `.skipped`) instead of stopping.
    public var skipInvalid = false
    public init(datasets: [Source]) { self.datasets = datasets }
  }

  /// What the run reports as it goes.
  public enum Event {
    /// A line worth showing (a dataset's mask values, a class mismatch).
    case note(String)
    /// `count` of a dataset's `listed` pairs were left out (`skipInvalid`): its row covers `covered` images.
    case leftOut(dataset: String, count: Int, listed: Int, covered: Int)
    /// A pair left out (with `skipInvalid`), as it is met.
    case skipped(FileError)
    /// One more image of a dataset done.
    case progress(dataset: String, ProgressMeter)
    /// A dataset's row is complete.
    case finished(ModelEvaluation.Row)
  }

  public struct Result {
    /// One row per dataset scored (the last one partial when interrupted).
    public var rows: [ModelEvaluation.Row]
    /// Set when `shouldStop` ended the run early: what was done.
    public var interrupted: String?
  }

  public let options: Options
  /// Each dataset, checked, with the pairs left out by the header check.
  let datasets: [(dataset: SegmentationDataset, leftOut: [FileError])]

  /// Lists and checks every dataset before any model loads: every image and mask opens, with the mask at its
  /// image's size (with `skipInvalid` the pairs that do not are reported and left out).
  public init(_ options: Options, progress: (Event) -> Void = { _ in }) throws {
    self.options = options
    datasets = try options.datasets.map { source in
      let listed = try SegmentationDataset(root: source.folder, name: source.name, split: options.split, encoding: source.encoding)
      guard options.skipInvalid else {
        try listed.checkFiles()
        return (listed, [])
      }
      let (readable, skipped) = listed.withoutUnreadablePairs()
      for error in skipped { progress(.skipped(error)) }
      guard !readable.samples.isEmpty else { throw SegmentationDataset.nothingReadable(source.name, listed: listed.samples.count) }
      return (readable, skipped)
    }
  }

  /// Runs `segmenter` over every dataset. `shouldStop` is asked after each image: a signal's name stops the run
  /// there (the rows then cover the images done).
  public func run(_ segmenter: ForegroundSegmenter, progress: (Event) -> Void = { _ in },
                  shouldStop: () -> String? = { nil }) throws -> Result {
    var rows: [ModelEvaluation.Row] = []
    for (index, (dataset, leftOutByHeader)) in datasets.enumerated() {
      if let masks = dataset.maskSummary { progress(.note("\(dataset.name): \(masks)")) }
      let encoding = dataset.encoding
      if encoding.classCount > 2, ModelEvaluation.classSegmenter(segmenter, for: encoding) == nil {
        progress(.note("\(dataset.name): the model's classes are not the \(encoding.classCount - 1) of \(encoding.rule): " +
                       "scored as any class against background, no per-class Dice"))
      }
      var meter = ProgressMeter(total: dataset.samples.count)
      // `skip` is an optional closure, so escaping by type; it does not outlive the call.
      let row = try withoutActuallyEscaping(progress) { progress in
        try ModelEvaluation.run(segmenter: segmenter, dataset: dataset, savePredictions: options.savePredictions.map {
          URL(fileURLWithPath: $0).appendingPathComponent(dataset.name).path
        }, galleryCases: options.galleryCases, progress: { done, _ in
          meter.update(done: done)
          progress(.progress(dataset: dataset.name, meter))
        }, shouldStop: { shouldStop() != nil }, skip: options.skipInvalid ? { progress(.skipped($0)) } : nil)
      }
      let (done, listed) = (row.perImage.count + row.skipped.count, dataset.samples.count + leftOutByHeader.count)
      guard !row.perImage.isEmpty || done < dataset.samples.count else {
        throw SegmentationDataset.nothingReadable(dataset.name, listed: listed)
      }
      var scored = row
      scored.skipped = leftOutByHeader + row.skipped
      progress(.finished(scored))
      if !scored.skipped.isEmpty {
        progress(.leftOut(dataset: dataset.name, count: scored.skipped.count, listed: listed, covered: row.perImage.count))
      }
      rows.append(scored)
      // A signal during the very last image leaves nothing undone: the run completes as usual.
      if let signal = shouldStop(), done < dataset.samples.count || index < datasets.count - 1 {
        return Result(rows: rows, interrupted: "interrupted by \(signal) after \(done) of \(dataset.samples.count) images of \(dataset.name)")
      }
    }
    return Result(rows: rows, interrupted: nil)
  }
}

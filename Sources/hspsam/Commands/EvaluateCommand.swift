import ArgumentParser
import Data
import Foundation
import Tensor
import Training

/// `hspsam evaluate --pred DIR --gt DIR`: the polyp-benchmark metrics of saved prediction maps.
struct EvaluateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract: "Score 8-bit prediction maps against ground-truth masks (files paired by stem).",
    discussion: """
      Predictions are 8-bit grey maps (255 x foreground probability), any size: resized to the mask's size with \
      bilinear interpolation. A mask pixel is foreground when its value > --gt-threshold. Definitions: \
      mDice/mIoU/maxDice average Dice/IoU over 256 thresholds of the min-max normalised map (PraNet toolbox), \
      Dice@0.5/IoU@0.5 threshold the raw probability at 0.5 per image (SAM-style), pooled* sum pixels over the \
      dataset. Every value matches pysodmetrics 1.6.2 (see README).
      """
  )

  enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, csv, json }

  @Option(help: "Folder of predicted maps (with --gt).") var pred: String?
  @Option(help: "Folder of ground-truth masks (with --pred).") var gt: String?
  @Option(help: "A training run folder or checkpoint: run the model instead of reading --pred maps.") var checkpoint: String?
  @Option(name: .customLong("data"), help: "With --checkpoint: a dataset folder, or NAME=DIR (repeatable, one row each).")
  var datasets: [String] = []
  @Option(help: "With --checkpoint: split file inside each dataset folder (e.g. test.txt).") var split: String?
  @Option(help: "With --checkpoint: write the probability maps here, one folder per dataset.") var savePred: String?
  @Option(help: "With --checkpoint: also write this JSON summary file.") var summary: String?
  @Option(help: "Mask pixels with a value above this are foreground.") var gtThreshold = 127
  @Option(help: "table, csv or json.") var format: OutputFormat = .table
  @Option(help: "Row name (default: the ground-truth folder's parent name).") var name: String?
  @Flag(help: "Skip unreadable or unmatched files (listed on stderr) instead of failing.") var skipInvalid = false
  @Flag(help: "With --format json, add per-image values.") var perImage = false

  func validate() throws {
    guard (0...254).contains(gtThreshold) else { throw ValidationError("--gt-threshold must be in 0...254") }
    if checkpoint == nil {
      guard pred != nil, gt != nil else { throw ValidationError("give --pred and --gt, or --checkpoint with --data") }
    } else {
      guard !datasets.isEmpty else { throw ValidationError("--checkpoint needs at least one --data") }
      guard pred == nil, gt == nil else { throw ValidationError("--pred/--gt and --checkpoint exclude each other") }
    }
  }

  func run() throws {
    if let checkpoint { return try runModel(checkpoint) }
    guard let pred, let gt else { return }
    let result = try FolderEvaluation.run(predictions: pred, groundTruth: gt, gtThreshold: gtThreshold,
                                          skipInvalid: skipInvalid, keepPerImage: perImage)
    for line in result.skipped { FileHandle.standardError.write(Data("skipped: \(line)\n".utf8)) }
    let rowName = name ?? URL(fileURLWithPath: gt).standardizedFileURL.deletingLastPathComponent().lastPathComponent
    print(MetricsReport.render([(rowName, result.summary)], format: format.rawValue,
                               perImage: perImage ? [rowName: result.perImage] : [:]))
  }
}

extension EvaluateCommand {
  /// Runs a trained model over each --data set and reports one row per set (means first in the JSON summary).
  func runModel(_ checkpoint: String) throws {
    let predictor = try PromptFreePredictor(checkpoint: checkpoint, baseCheckpoint: Paths.liteMedSAMWeights)
    var rows: [(name: String, summary: [String: Double])] = []
    var details: [[String: Any]] = []
    for entry in datasets {
      let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
      let (name, folder) = parts.count == 2 ? (Optional(parts[0]), parts[1]) : (nil, entry)
      let dataset = try SegmentationDataset(root: folder, name: name, split: split, encoding: .threshold(gtThreshold))
      let start = Date()
      let row = try ModelEvaluation.run(predictor: predictor, dataset: dataset,
                                        savePredictions: savePred.map { URL(fileURLWithPath: $0).appendingPathComponent(dataset.name).path }) { done, total in
        FileHandle.standardError.write(Data("\r\(dataset.name): \(done)/\(total)".utf8))
      }
      let seconds = Date().timeIntervalSince(start)
      FileHandle.standardError.write(Data(String(format: " (%.2f s per image)\n", seconds / Double(dataset.samples.count)).utf8))
      rows.append((row.name, row.summary))
      let ranked = row.perImage.sorted { $0.dice < $1.dice }
      details.append(["dataset": row.name, "worst": ranked.prefix(5).map { ["stem": $0.stem, "Dice@0.5": $0.dice] },
                      "best": ranked.suffix(5).reversed().map { ["stem": $0.stem, "Dice@0.5": $0.dice] },
                      "secondsPerImage": seconds / Double(dataset.samples.count)])
    }
    print(MetricsReport.render(rows, format: format.rawValue))
    if let summary {
      let means = rows.map { row -> [String: Any] in
        var object: [String: Any] = ["dataset": row.name]
        for (k, v) in row.summary { object[k] = v.isNaN ? NSNull() : v }
        return object
      }
      let document: [String: Any] = ["means": means, "details": details, "checkpoint": checkpoint,
                                     "metricDefinitions": "../shared/notes/evaluation.md (pysodmetrics 1.6.2)"]
      try writeAtomically(try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys]), to: summary)
    }
  }
}

/// Tables, CSV and JSON of metric rows (one per dataset).
enum MetricsReport {
  static func number(_ value: Double?) -> String {
    guard let value else { return "" }
    if value.isNaN { return "nan" }
    return value == value.rounded() && Swift.abs(value) < 1e9 ? String(Int(value)) : String(format: "%.4f", value)
  }

  static func render(_ rows: [(name: String, summary: [String: Double])], format: String,
                     perImage: [String: [(stem: String, metrics: ImageMetrics)]] = [:]) -> String {
    let names = MetricsAccumulator.metricNames
    switch format {
    case "csv":
      return (["dataset," + names.joined(separator: ",")]
        + rows.map { row in ([row.name] + names.map { number(row.summary[$0]) }).joined(separator: ",") })
        .joined(separator: "\n")
    case "json":
      func jsonValue(_ v: Double?) -> Any { guard let v, !v.isNaN else { return NSNull() }; return v }
      let objects: [[String: Any]] = rows.map { row in
        var object: [String: Any] = ["dataset": row.name]
        for name in names { object[name] = name == "count" || name == "emptyGT" ? Int(row.summary[name] ?? 0) : jsonValue(row.summary[name]) }
        if let images = perImage[row.name] {
          object["perImage"] = images.map { item -> [String: Any] in
            ["name": item.stem, "mDice": jsonValue(item.metrics.mDice), "mIoU": jsonValue(item.metrics.mIoU),
             "Smeasure": jsonValue(item.metrics.sMeasure), "wFmeasure": jsonValue(item.metrics.wFmeasure),
             "meanEmeasure": jsonValue(item.metrics.meanEmeasure), "adpEmeasure": jsonValue(item.metrics.adpEmeasure),
             "MAE": jsonValue(item.metrics.mae), "Dice@0.5": item.metrics.dice05, "IoU@0.5": item.metrics.iou05]
          }
        }
        return object
      }
      let data = (try? JSONSerialization.data(withJSONObject: objects.count == 1 ? objects[0] as Any : objects,
                                              options: [.prettyPrinted, .sortedKeys])) ?? Data()
      return String(decoding: data, as: UTF8.self)
    default:
      let widths = names.map { Swift.max($0.count, 6) }
      let nameWidth = Swift.max(8, rows.map(\.name.count).max() ?? 0)
      var lines = ["dataset".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
        + zip(names, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: " ")]
      for row in rows {
        lines.append(row.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
          + zip(names, widths).map { number(row.summary[$0.0]).padding(toLength: $0.1, withPad: " ", startingAt: 0) }
          .joined(separator: " "))
      }
      return lines.joined(separator: "\n")
    }
  }
}

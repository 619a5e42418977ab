import ArgumentParser
import Data
import Foundation
import Tensor
import Training

/// `hspsam evaluate --pred DIR --gt DIR`: the polyp-benchmark metrics of saved prediction maps.
struct EvaluateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract: "Score a model (--data, with --checkpoint, --baseline or the built-in model) or saved maps (--pred/--gt).",
    discussion: """
      With --data the model runs on each dataset (one row each); --report writes an HTML page with the metrics, \
      a per-image Dice histogram and the best and worst cases. \
      Predictions are 8-bit grey maps (255 x foreground probability), any size: resized to the mask's size with \
      bilinear interpolation. A mask pixel is foreground when its value > --gt-threshold (with --data: its --masks \
      rule; a multi-class rule and model are scored as any class against background). Definitions: \
      mDice/mIoU/maxDice average Dice/IoU over 256 thresholds of the min-max normalised map (PraNet toolbox), \
      Dice@0.5/IoU@0.5 threshold the raw probability at 0.5 per image (SAM-style), pooled* sum pixels over the \
      dataset. Every value matches pysodmetrics 1.6.2 (docs/metrics.md).
      """
  )

  enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, csv, json, markdown }

  @Option(help: "Folder of predicted maps (with --gt).") var pred: String?
  @Option(help: "Folder of ground-truth masks (with --pred).") var gt: String?
  @Option(help: "A training run folder, a checkpoint file or a built-in model name (\(BuiltinModels.names)): run the model instead of reading --pred maps.")
  var checkpoint: String?
  @Option(help: "Run an untrained LiteMedSAM baseline instead: box-oracle (ground-truth box per component) or no-prompt.")
  var baseline: LiteMedSAMBaseline.Mode?
  @Option(help: "With --data: write an HTML report (metrics table, Dice histogram, best/worst grid) into this folder.")
  var report: String?
  @Option(help: "Best and worst cases shown in the report's grid, each.") var cases = 4
  @Option(name: .customLong("data"), help: "Run a model (--checkpoint, --baseline, or the built-in one) on a dataset folder, or NAME=DIR (repeatable, one row each).")
  var datasets: [String] = []
  @Option(help: "With --data: split file inside each dataset folder (e.g. test.txt).") var split: String?
  @Option(help: "With --data: write the probability maps here, one folder per dataset.") var savePred: String?
  @Option(help: "With --data: also write this JSON summary file.") var summary: String?
  @Option(help: "Mask pixels with a value above this are foreground (--gt; with --data, the default --masks rule).") var gtThreshold = 127
  @OptionGroup var maskRules: MaskRuleOptions
  @Option(help: "table, csv, json or markdown (the rows of docs/results.md).") var format: OutputFormat = .table
  @Option(help: "Method column of --format markdown rows (default: the checkpoint or baseline).") var method: String?
  @Option(help: "Row name (default: the ground-truth folder's parent name).") var name: String?
  @Flag(help: "Skip unreadable or unmatched files (listed on stderr) instead of failing. With --data: an image/mask pair that cannot be read is left out of its row (listed on stderr, in --summary and in the report).")
  var skipInvalid = false
  @Flag(help: "With --format json, add per-image values.") var perImage = false
  @OptionGroup var testTime: TestTimeAugmentationOptions
  @OptionGroup var refinement: BoxRefinementOptions
  @OptionGroup var deviceOptions: DeviceOptions
  @OptionGroup var pixelLimit: PixelLimitOptions
  @OptionGroup var base: BaseCheckpointOptions

  func validate() throws {
    guard (0...254).contains(gtThreshold) else { throw ValidationError("--gt-threshold must be in 0...254") }
    guard checkpoint == nil || baseline == nil else { throw ValidationError("--checkpoint and --baseline exclude each other") }
    guard (0...50).contains(cases) else { throw ValidationError("--cases must be 0...50") }
    guard testTime.augmentation == .none || (runsModel && baseline == nil) else {
      throw ValidationError("--tta and --tta-dihedral apply to a trained model's run (--checkpoint or the built-in model), not to --baseline or --pred")
    }
    guard !refinement.boxRefine || (runsModel && baseline == nil) else {
      throw ValidationError("--box-refine applies to a trained model's run (--checkpoint or the built-in model), not to --baseline or --pred")
    }
    if !runsModel {
      guard pred != nil, gt != nil else { throw ValidationError("give --pred and --gt, or --data (with --checkpoint, --baseline or the built-in model)") }
      guard maskRules.rules.isEmpty else { throw ValidationError("--masks applies to --data folders; with --gt use --gt-threshold") }
      guard report == nil, savePred == nil, summary == nil else {
        throw ValidationError("--report, --save-pred and --summary need --data (a model run)")
      }
    } else {
      guard !datasets.isEmpty else { throw ValidationError("--checkpoint/--baseline need at least one --data") }
      guard pred == nil, gt == nil else { throw ValidationError("--pred/--gt and --checkpoint/--baseline/--data exclude each other") }
    }
  }

  /// A model run (a checkpoint, a baseline, or the built-in model when only --data is given) rather than scoring saved maps.
  var runsModel: Bool { checkpoint != nil || baseline != nil || (!datasets.isEmpty && pred == nil && gt == nil) }

  func run() throws {
    pixelLimit.apply()
    if runsModel { return try runModel() }
    guard let pred, let gt else { return }
    let result = try FolderEvaluation.run(predictions: pred, groundTruth: gt, gtThreshold: gtThreshold,
                                          skipInvalid: skipInvalid, keepPerImage: perImage)
    for line in result.skipped { FileHandle.standardError.write(Data("skipped: \(line)\n".utf8)) }
    let rowName = name ?? URL(fileURLWithPath: gt).standardizedFileURL.deletingLastPathComponent().lastPathComponent
    print(MetricsReport.render([(rowName, result.summary)], format: format.rawValue, method: method ?? pred,
                               perImage: perImage ? [rowName: result.perImage] : [:]))
  }
}

extension EvaluateCommand {
  /// Runs a trained model or a baseline over each --data set and reports one row per set.
  func runModel() throws {
    // Where the results go is checked first: a bad path fails now, not after every image has been evaluated.
    if let summary { try checkWritable(summary, option: "--summary") }
    if let report { try createFolder(report, option: "--report") }
    if let savePred { try createFolder(savePred, option: "--save-pred") }
    // A checkpoint that names nothing fails before the data are read.
    let checkpointPath = try baseline == nil ? RunCheckpoint.resolve(Paths.resolveCheckpoint(checkpoint), parameter: .checkpoint) : nil
    // So are the data: every image and mask opens before the model loads.
    let named = DatasetArgument.resolve(datasets)
    let encodings = try maskRules.encodings(names: named.map(\.name), default: .threshold(gtThreshold))
    var options = EvaluationRun.Options(datasets: zip(named, encodings).map { EvaluationRun.Source(name: $0.name, folder: $0.folder, encoding: $1) })
    options.split = split
    options.savePredictions = savePred
    options.galleryCases = cases
    options.skipInvalid = skipInvalid
    let evaluation = try EvaluationRun(options, progress: Self.show)
    let device = try deviceOptions.resolve()
    let segmenter: ForegroundSegmenter, source: String
    if let baseline {
      segmenter = try LiteMedSAMBaseline(mode: baseline, weights: Paths.liteMedSAMWeights, device: device)
      source = "baseline \(baseline.rawValue) (frozen LiteMedSAM, \(Paths.liteMedSAMWeights))"
    } else {
      let path = checkpointPath ?? ""
      segmenter = try TrainedModel(checkpoint: path, base: base, device: device, testTime: testTime, refinement: refinement).segmenter
      source = "checkpoint \(path)" + (testTime.augmentation.label.map { ", \($0)" } ?? "")
        + (refinement.boxRefine ? ", box refinement" : "")
    }
    // Ctrl-C or SIGTERM stops after the image under way; the table then covers the images done (a second one quits).
    let stopRequest = StopRequest()
    defer { stopRequest.restore() }
    let result = try evaluation.run(segmenter, progress: Self.show, shouldStop: { StopRequest.received })
    let rows = result.rows
    print(MetricsReport.render(rows.map { ($0.name, $0.summary) }, format: format.rawValue,
                               method: method ?? baseline?.rawValue ?? checkpoint ?? BuiltinModels.all[0]))
    if let interrupted = result.interrupted {
      // A partial summary or report would replace a complete one from an earlier run: neither is written.
      let skipped = [summary.map { "--summary \($0)" }, report.map { "--report \($0)" }].compactMap { $0 }
      throw CommandError.interrupted(interrupted, notWritten: skipped)
    }
    if let summary { try writeAtomically(EvaluationReport.summaryJSON(rows, source: source), to: summary) }
    if let report {
      let page = try EvaluationReport.write(rows, title: "hspsam evaluate: \(source)", source: source, to: report)
      FileHandle.standardError.write(Data("report: \(page)\n".utf8))
    }
  }

  /// The run's events on stderr: a progress line per dataset, one line per pair left out (after the progress
  /// line's carriage return) and per note.
  static func show(_ event: EvaluationRun.Event) {
    let line: String
    switch event {
    case .note(let note): line = "\(note)\n"
    case .skipped(let error): line = "\rskipped \(error.localizedDescription)\n"
    case .progress(let dataset, let meter): line = "\r\(dataset): \(meter.line())   "
    case .finished(let row): line = String(format: " (%.2f s per image)\n", row.secondsPerImage)
    case .leftOut(let dataset, let count, let listed, let covered):
      line = "\(dataset): \(count) of \(listed) image/mask pairs left out (--skip-invalid; named above): its row covers \(covered)\n"
    }
    FileHandle.standardError.write(Data(line.utf8))
  }
}

import ArgumentParser
import Data
import Foundation
import Training

/// `hspsam predict`: prompt-free masks for images or folders of images.
struct PredictCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict",
    abstract: "Segment images with a trained HSP-SAM model: no prompt of any kind.",
    discussion: """
      Writes <stem>.png per image at the image's size: 0/255 for one class, class indices for several; with \
      --overlay also <stem>_overlay.png (images over 16 megapixels: at the reduced size they are predicted at, at \
      most 4 megapixels; their masks are at full size). --prob also writes <stem>_prob.png, 255 x foreground probability (the map \
      `hspsam evaluate` scores). --box-refine replaces a one-class model's mask with the frozen LiteMedSAM's \
      outline of each object it found, from the object's box (docs/usage.md, "HSP-SAM: \
      prompt-free training, prediction and evaluation").
      """
  )

  @Option(help: "A training run folder, its .safetensors checkpoint, or a built-in model (\(BuiltinModels.names); the default).")
  var checkpoint: String?
  @Argument(help: "Images, or folders of images.") var inputs: [String]
  @Option(help: "Output folder (created if missing).") var output: String
  @Flag(help: "Also write overlays.") var overlay = false
  @Flag(help: "Also write the foreground probability map, 255 x p (several classes: 1 - p(background)).") var prob = false
  @OptionGroup var testTime: TestTimeAugmentationOptions
  @OptionGroup var refinement: BoxRefinementOptions
  @OptionGroup var base: BaseCheckpointOptions
  @OptionGroup var deviceOptions: DeviceOptions
  @OptionGroup var pixelLimit: PixelLimitOptions

  func run() throws {
    pixelLimit.apply()
    var options = PredictionRun.Options(inputs: inputs, output: output)
    options.writeOverlays = overlay
    options.writeProbabilities = prob
    // Ctrl-C or SIGTERM stops after the image under way, whose files are then complete (a second one quits).
    let stopRequest = StopRequest()
    defer { stopRequest.restore() }
    do {
      let run = try PredictionRun(options)
      let device = try deviceOptions.resolve()
      let summary = try run.run(model: {
        try TrainedModel(checkpoint: checkpoint, base: base, device: device, testTime: testTime, refinement: refinement)
      }, progress: { event in
        switch event {
        case .skipped(let error): FileHandle.standardError.write(Data("\rskipped \(error.localizedDescription)\n".utf8))
        case .progress(let meter): if run.files.count > 1 { FileHandle.standardError.write(Data("\r\(meter.line())   ".utf8)) }
        }
      }, shouldStop: { StopRequest.received })
      if run.files.count > 1 { FileHandle.standardError.write(Data("\n".utf8)) }
      let written = summary.written
      print(String(format: "%d mask%@ in %@ (%.2f s per image)", written, written == 1 ? "" : "s", output,
                   summary.seconds / Double(Swift.max(1, written))))
      if !summary.unreadable.isEmpty { throw PredictionError.unreadable(summary.unreadable, total: run.files.count) }
    } catch let error as PredictionError {
      if case .interrupted = error { FileHandle.standardError.write(Data("\n".utf8)) }
      throw CommandError.library(Self.message(error))
    } catch let error as OutputFolderError {
      throw CommandError.option("--output", reason: error.localizedDescription)
    }
  }

  /// The library's message with this command's option names.
  static func message(_ error: PredictionError) -> String {
    switch error {
    case .sameOutput(let first, let second, let path): return "\(first) and \(second) would both write \(path): predict them into different --output folders"
    case .wouldOverwriteInput(let path): return "\(path) would overwrite an input image: choose another --output"
    default: return error.localizedDescription
    }
  }
}

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
    let checkpoint = try Paths.resolveCheckpoint(checkpoint)
    let device = try deviceOptions.resolve()
    let files = try inputs.flatMap { input -> [String] in
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
        throw CommandError("\(input): no such file or folder")
      }
      guard isDirectory.boolValue else { return [input] }
      return try FileManager.default.contentsOfDirectory(atPath: input).sorted()
        .filter { SegmentationDataset.imageExtensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }
        .map { URL(fileURLWithPath: input).appendingPathComponent($0).path }
    }
    guard !files.isEmpty else { throw CommandError("no images in \(inputs.joined(separator: ", "))") }
    try Self.checkOutputs(of: files, in: output, overlay: overlay, prob: prob)
    // A folder this run makes is removed again if nothing ends up in it (every image unreadable, an early error).
    let madeOutput = !FileManager.default.fileExists(atPath: output)
    try createFolder(output, option: "--output")
    defer {
      if madeOutput, (try? FileManager.default.contentsOfDirectory(atPath: output))?.isEmpty == true {
        try? FileManager.default.removeItem(atPath: output)
      }
    }
    let predictor = try PromptFreePredictor(checkpoint: checkpoint, baseCheckpoint: base.path, device: device)
    predictor.testTimeAugmentation = testTime.augmentation
    let binary = predictor.metadata.config.model.numClasses == 1
    // One-class models go through the same foreground map `evaluate` scores (refined with --box-refine; p > 0.5 is
    // the mask); models with several classes keep the class map of the softmax.
    let segmenter = try refinement.apply(to: predictor, device: device)
    let start = Date()
    var meter = ProgressMeter(total: files.count, start: start)
    // Ctrl-C or SIGTERM stops after the image under way, whose files are then complete (a second one quits).
    let stopRequest = StopRequest()
    defer { stopRequest.restore() }
    // An image that cannot be read (not an image, truncated, unreadable) is skipped and named at once; the run
    // goes on, so one bad file among a thousand costs its own mask only, and exits non-zero at the end.
    var unreadable: [String] = []
    for file in files {
      let image: Image, fullSize: (width: Int, height: Int)
      do {
        // Large images are read reduced, predicted at that size, and their masks written back at full size row by
        // row (PromptFreePredictor.largeImagePixels): memory stays bounded whatever the image's size.
        fullSize = try ImageIO.size(of: file)
        image = try ImageIO.read(file, reducedBy: PromptFreePredictor.readingFactor(width: fullSize.width, height: fullSize.height))
      } catch let error as ImageIOError {
        unreadable.append(file)
        FileHandle.standardError.write(Data("\rskipped \(error.localizedDescription)\n".utf8))
        meter.update(done: meter.done + 1)
        continue
      }
      let foreground: [Float], classes: [UInt8]
      if binary {
        foreground = try segmenter.foreground(image, truth: [])
        classes = foreground.foregroundMask
      } else {
        (foreground, classes) = try predictor.segment(image)
      }
      let stem = Self.stem(of: file)
      let out = URL(fileURLWithPath: output)
      let maskPath = out.appendingPathComponent("\(stem).png").path, probPath = out.appendingPathComponent("\(stem)_prob.png").path
      if (image.width, image.height) == fullSize {
        try ImageIO.writePNG(binary ? classes.map { $0 * 255 } : classes, width: image.width, height: image.height, channels: 1,
                             to: maskPath)
        if prob {
          try ImageIO.writePNG(ModelEvaluation.eightBit(foreground), width: image.width, height: image.height, channels: 1, to: probPath)
        }
      } else {
        // Reduced: the probability is resized bilinearly (as the model's logits are) and thresholded per pixel;
        // several classes' indices by nearest neighbour. The overlay below stays at the reduced size.
        let (width, height) = fullSize
        if binary {
          try UpscaledPNG.write(foreground, width: image.width, height: image.height, fullWidth: width, fullHeight: height,
                                to: maskPath) { $0 > 0.5 ? 255 : 0 }
        } else {
          try UpscaledPNG.write(classes, width: image.width, height: image.height, channels: 1, fullWidth: width,
                                fullHeight: height, to: maskPath)
        }
        if prob {
          try UpscaledPNG.write(foreground, width: image.width, height: image.height, fullWidth: width, fullHeight: height,
                                to: probPath) { ModelEvaluation.eightBit($0) }
        }
      }
      if overlay {
        let drawn = Overlay.draw(rgb: image.rgb8(), width: image.width, height: image.height, mask: classes)
        try ImageIO.writePNG(drawn, width: image.width, height: image.height, channels: 3,
                             to: out.appendingPathComponent("\(stem)_overlay.png").path)
      }
      meter.update(done: meter.done + 1)
      if files.count > 1 { FileHandle.standardError.write(Data("\r\(meter.line())   ".utf8)) }
      if let signal = StopRequest.received, meter.done < files.count {
        FileHandle.standardError.write(Data("\n".utf8))
        throw CommandError("interrupted by \(signal) after \(meter.done) of \(files.count) images: their masks are in \(output)" +
                           (unreadable.isEmpty ? "" : " (\(unreadable.count) of them could not be read: reasons above)"))
      }
    }
    if files.count > 1 { FileHandle.standardError.write(Data("\n".utf8)) }
    let seconds = Date().timeIntervalSince(start)
    let written = files.count - unreadable.count
    print(String(format: "%d mask%@ in %@ (%.2f s per image)", written, written == 1 ? "" : "s", output, seconds / Double(Swift.max(1, written))))
    if !unreadable.isEmpty {
      let named = unreadable.prefix(3).joined(separator: ", ") + (unreadable.count > 3 ? " and \(unreadable.count - 3) more" : "")
      throw CommandError("\(unreadable.count) of \(files.count) images could not be read and have no mask (reasons above): \(named)")
    }
  }

  static func stem(of file: String) -> String { URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent }

  /// Refuses, before anything is written, a run that would lose data: two inputs with one stem (the second mask
  /// would replace the first) or an output file that is one of the inputs (`--output` the images' own folder,
  /// with PNG images).
  static func checkOutputs(of files: [String], in output: String, overlay: Bool, prob: Bool) throws {
    let inputs = Set(files.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path })
    var writer: [String: String] = [:]
    for file in files {
      let stem = stem(of: file)
      let names = [stem + ".png"] + (prob ? [stem + "_prob.png"] : []) + (overlay ? [stem + "_overlay.png"] : [])
      for name in names {
        let path = URL(fileURLWithPath: output).appendingPathComponent(name).resolvingSymlinksInPath().path
        if let earlier = writer[path] {
          throw CommandError("\(earlier) and \(file) would both write \(path): predict them into different --output folders")
        }
        guard !inputs.contains(path) else {
          throw CommandError("\(path) would overwrite an input image: choose another --output")
        }
        writer[path] = file
      }
    }
  }
}

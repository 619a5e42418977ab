import Data
import Foundation
import Tensor

/// `hspsam predict` as a library call: prompt-free masks for images or folders of images, written as
/// `<stem>.png` (0/255 for one class, class indices for several) at each image's size, with optional probability
/// maps (`<stem>_prob.png`, 255 x p) and overlays (`<stem>_overlay.png`).
public struct PredictionRun {
  public struct Options: Sendable {
    /// Images, or folders of images (their JPEG, PNG and TIFF files, sorted by name).
    public var inputs: [String]
    /// Output folder (created if missing; removed again if nothing ends up in it).
    public var output: String
    public var writeOverlays = false
    public var writeProbabilities = false
    public init(inputs: [String], output: String) {
      self.inputs = inputs
      self.output = output
    }
  }

  /// What the run reports as it goes.
  public enum Event {
    /// An image that could not be read (it has no mask; the run goes on).
    case skipped(FileError)
    /// One more image done (skipped ones included).
    case progress(ProgressMeter)
  }

  public struct Summary: Sendable {
    public var written: Int
    /// Images that could not be read (they have no mask; `PredictionError.unreadable` says so in one line).
    public var unreadable: [String]
    public var seconds: Double
  }

  public let options: Options
  /// The image files the inputs name, in order.
  public let files: [String]

  /// Lists the inputs' images and checks the plan: a missing input, no images, an output that would replace an
  /// input or two inputs writing one file are refused here, before any model loads.
  public init(_ options: Options) throws {
    self.options = options
    files = try Self.imageFiles(options.inputs)
    try Self.checkOutputs(of: files, in: options.output, overlay: options.writeOverlays, prob: options.writeProbabilities)
  }

  /// Makes the output folder, loads the model (`model`, called once the plan and the folder are good) and runs it
  /// over every image. `shouldStop` is asked after each image: a signal's name stops the run there, the images
  /// done keeping complete files. A folder this run made is removed again if nothing ends up in it.
  public func run(model: () throws -> TrainedModel, progress: (Event) -> Void = { _ in },
                  shouldStop: () -> String? = { nil }) throws -> Summary {
    let output = options.output
    let madeOutput = !FileManager.default.fileExists(atPath: output)
    try OutputFolder.create(output)
    defer {
      if madeOutput, (try? FileManager.default.contentsOfDirectory(atPath: output))?.isEmpty == true {
        try? FileManager.default.removeItem(atPath: output)
      }
    }
    let model = try model()
    let binary = model.predictor.metadata.config.model.numClasses == 1
    let start = Date()
    var meter = ProgressMeter(total: files.count, start: start)
    var unreadable: [String] = []
    for file in files {
      let image: Image, fullSize: (width: Int, height: Int)
      do {
        // Large images are read reduced, predicted at that size, and their masks written back at full size row by
        // row (PromptFreePredictor.largeImagePixels): memory stays bounded whatever the image's size.
        fullSize = try ImageIO.size(of: file)
        image = try ImageIO.read(file, reducedBy: PromptFreePredictor.readingFactor(width: fullSize.width, height: fullSize.height))
      } catch let error as FileError {
        unreadable.append(file)
        progress(.skipped(error))
        meter.update(done: meter.done + 1)
        continue
      }
      // One-class models go through the same foreground map `evaluate` scores (refined with box refinement; p > 0.5
      // is the mask); models with several classes keep the class map of the softmax.
      let foreground: [Float], classes: [UInt8]
      if binary {
        foreground = try model.segmenter.foreground(image, truth: [])
        classes = foreground.foregroundMask
      } else {
        (foreground, classes) = try model.predictor.segment(image)
      }
      try write(image, fullSize: fullSize, foreground: foreground, classes: classes, binary: binary, stem: Self.stem(of: file))
      meter.update(done: meter.done + 1)
      progress(.progress(meter))
      if let signal = shouldStop(), meter.done < files.count {
        throw PredictionError.interrupted(signal: signal, done: meter.done, total: files.count, output: output,
                                          unreadable: unreadable.count)
      }
    }
    return Summary(written: files.count - unreadable.count, unreadable: unreadable, seconds: Date().timeIntervalSince(start))
  }

  /// The mask, and as asked the probability map and overlay, of one image.
  func write(_ image: Image, fullSize: (width: Int, height: Int), foreground: [Float], classes: [UInt8], binary: Bool,
             stem: String) throws {
    let out = URL(fileURLWithPath: options.output)
    let maskPath = out.appendingPathComponent("\(stem).png").path, probPath = out.appendingPathComponent("\(stem)_prob.png").path
    // At full size (or from a reduced read, PromptFreePredictor.largeImagePixels) row by row: the probability is
    // resized bilinearly (as the model's logits are; the identity at full size) and thresholded per pixel, several
    // classes' indices by nearest neighbour. The overlay stays at the size the image was read.
    let (width, height) = fullSize
    if binary {
      try UpscaledPNG.write(foreground, width: image.width, height: image.height, fullWidth: width, fullHeight: height,
                            to: maskPath) { $0 > 0.5 ? 255 : 0 }
    } else {
      try UpscaledPNG.write(classes, width: image.width, height: image.height, channels: 1, fullWidth: width,
                            fullHeight: height, to: maskPath)
    }
    if options.writeProbabilities {
      try UpscaledPNG.write(foreground, width: image.width, height: image.height, fullWidth: width, fullHeight: height,
                            to: probPath) { ModelEvaluation.eightBit($0) }
    }
    if options.writeOverlays {
      let drawn = Overlay.draw(rgb: image.rgb8(), width: image.width, height: image.height, mask: classes)
      try ImageIO.writePNG(drawn, width: image.width, height: image.height, channels: 3,
                           to: out.appendingPathComponent("\(stem)_overlay.png").path)
    }
  }

  static func stem(of file: String) -> String { URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent }

  /// Each input file itself, each input folder's images sorted by name.
  static func imageFiles(_ inputs: [String]) throws -> [String] {
    let files = try inputs.flatMap { input -> [String] in
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else { throw PredictionError.noSuchInput(input) }
      guard isDirectory.boolValue else { return [input] }
      return try FileManager.default.contentsOfDirectory(atPath: input).sorted()
        .filter { SegmentationDataset.imageExtensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }
        .map { URL(fileURLWithPath: input).appendingPathComponent($0).path }
    }
    guard !files.isEmpty else { throw PredictionError.noImages(inputs) }
    return files
  }

  /// Refuses, before anything is written, a run that would lose data: two inputs with one stem (the second mask
  /// would replace the first) or an output file that is one of the inputs (the output folder is the images' own,
  /// with PNG images).
  static func checkOutputs(of files: [String], in output: String, overlay: Bool, prob: Bool) throws {
    let inputs = Set(files.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path })
    var writer: [String: String] = [:]
    for file in files {
      let stem = stem(of: file)
      let names = [stem + ".png"] + (prob ? [stem + "_prob.png"] : []) + (overlay ? [stem + "_overlay.png"] : [])
      for name in names {
        let path = URL(fileURLWithPath: output).appendingPathComponent(name).resolvingSymlinksInPath().path
        if let earlier = writer[path] { throw PredictionError.sameOutput(earlier, file, path: path) }
        guard !inputs.contains(path) else { throw PredictionError.wouldOverwriteInput(path) }
        writer[path] = file
      }
    }
  }
}

/// Why a prediction run stopped or refused; the message names the files (the command adds its option names).
public enum PredictionError: Error, LocalizedError, Equatable {
  case noSuchInput(String)
  case noImages([String])
  case sameOutput(String, String, path: String)
  case wouldOverwriteInput(String)
  case interrupted(signal: String, done: Int, total: Int, output: String, unreadable: Int)
  case unreadable([String], total: Int)

  public var errorDescription: String? {
    switch self {
    case .noSuchInput(let input): return "\(input): no such file or folder"
    case .noImages(let inputs): return "no images in \(inputs.joined(separator: ", "))"
    case .sameOutput(let first, let second, let path): return "\(first) and \(second) would both write \(path): predict them into different output folders"
    case .wouldOverwriteInput(let path): return "\(path) would overwrite an input image: choose another output folder"
    case .interrupted(let signal, let done, let total, let output, let unreadable):
      return "interrupted by \(signal) after \(done) of \(total) images: their masks are in \(output)" +
        (unreadable == 0 ? "" : " (\(unreadable) of them could not be read: reasons above)")
    case .unreadable(let files, let total):
      let named = files.prefix(3).joined(separator: ", ") + (files.count > 3 ? " and \(files.count - 3) more" : "")
      return "\(files.count) of \(total) images could not be read and have no mask (reasons above): \(named)"
    }
  }
}

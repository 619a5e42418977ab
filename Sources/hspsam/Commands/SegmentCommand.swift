import ArgumentParser
import Data
import Foundation
import Models
import Tensor
import Training

extension ModelKind: ExpressibleByArgument {}

/// `hspsam segment`: prompted segmentation with SAM or LiteMedSAM, as the reference predictors do it.
struct SegmentCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "segment",
    abstract: "Segment an image from a box or points with SAM / LiteMedSAM.",
    discussion: """
      Coordinates are pixels of the original image, XYXY for boxes. Several --box options are decoded as a batch \
      and their masks united. Points without a box use the multimask output and keep the mask with the highest \
      predicted IoU, as SAM's predictor recommends for single clicks.
      """
  )

  @Option(help: "Model: \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")).")
  var model: ModelKind = .litemedsam

  @Option(help: "Checkpoint (.pth or .safetensors). Default for litemedsam: the weights fetched by set-up.")
  var checkpoint: String?

  @Option(name: .customLong("box"), help: "X0,Y0,X1,Y1 in image pixels (repeatable).")
  var boxes: [String] = []

  @Option(name: .customLong("point"), help: "X,Y[,LABEL] in image pixels; LABEL 1 foreground (default), 0 background.")
  var points: [String] = []

  @Option(help: "Mask PNG to write (0/255, the input image's size).")
  var output: String

  @Option(help: "Overlay PNG to write (image, tinted mask, boxes).")
  var overlay: String?

  @Option(help: "Float32 mask logits at the input image's size, as a NumPy .npy file.")
  var logits: String?

  @Option(help: "Input size for vit_b/l/h (a multiple of 16; default 1024).")
  var imageSize: Int?

  @Argument(help: "The image (PNG, JPEG or TIFF).")
  var image: String

  func validate() throws {
    guard !boxes.isEmpty || !points.isEmpty else { throw ValidationError("give --box or --point: segment needs a prompt") }
    for box in boxes { _ = try Self.parseBox(box) }
    for point in points { _ = try Self.parsePoint(point) }
    if let imageSize, imageSize <= 0 || imageSize % 16 != 0 {
      throw ValidationError("--image-size \(imageSize) is not a positive multiple of 16")
    }
  }

  static func numbers(_ text: String, option: String) throws -> [Double] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    let values = parts.compactMap(Double.init)
    guard values.count == parts.count, values.allSatisfy(\.isFinite) else {
      throw ValidationError("\(option) '\(text)': expected comma-separated numbers")
    }
    return values
  }

  static func parseBox(_ text: String) throws -> [Double] {
    let v = try numbers(text, option: "--box")
    guard v.count == 4 else { throw ValidationError("--box '\(text)': expected X0,Y0,X1,Y1 (4 numbers), got \(v.count)") }
    guard v[0] < v[2], v[1] < v[3] else { throw ValidationError("--box '\(text)': needs X0 < X1 and Y0 < Y1") }
    return v
  }

  static func parsePoint(_ text: String) throws -> (x: Double, y: Double, label: Int) {
    let v = try numbers(text, option: "--point")
    guard v.count == 2 || v.count == 3 else {
      throw ValidationError("--point '\(text)': expected X,Y or X,Y,LABEL, got \(v.count) numbers")
    }
    let label = v.count == 3 ? v[2] : 1
    guard label == 0 || label == 1 else { throw ValidationError("--point '\(text)': LABEL must be 0 or 1") }
    return (v[0], v[1], Int(label))
  }

  @OptionGroup var pixelLimit: PixelLimitOptions

  func run() throws {
    pixelLimit.apply()
    var options = SegmentationRun.Options(image: image, output: output)
    (options.overlay, options.logits, options.model, options.checkpoint, options.imageSize) = (overlay, logits, model, checkpoint, imageSize)
    options.boxes = try boxes.map(Self.parseBox)
    options.points = try points.map(Self.parsePoint)
    let result: SegmentationRun.Result
    do {
      result = try SegmentationRun(options).run()
    } catch let error as SegmentationError {
      switch error {
      case .badOutput(let file, let reason):
        let option = switch file { case .mask: "--output"; case .overlay: "--overlay"; case .logits: "--logits" }
        throw CommandError.option(option, reason: reason.localizedDescription)
      case .boxOutside(let index, let width, let height, let image):
        throw CommandError.option("--box \(boxes[index])", reason: "lies outside the \(width)x\(height) image \(image)")
      case .pointOutside(let index, let width, let height, let image):
        throw CommandError.option("--point \(points[index])", reason: "lies outside the \(width)x\(height) image \(image)")
      case .checkpointRequired(let model):
        throw ValidationError("--checkpoint is required for \(model.rawValue) (e.g. \(model.checkpointName))")
      case .weightsMissing: throw CommandError.library(error.localizedDescription)
      }
    }
    let iouText = result.predictedIoU.map { String(format: "%.3f", $0) }.joined(separator: ", ")
    print("\(output): \(result.foregroundPixels) foreground pixels of \(result.width * result.height); predicted IoU \(iouText)")
  }
}

import ArgumentParser
import Data
import Foundation
import Models
import Tensor

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
    // Each file written must be neither a file read (image, weights) nor another of the outputs.
    let read = [image] + (checkpoint.map { [$0] } ?? [])
    try checkWritable(output, option: "--output", others: read)
    if let overlay { try checkWritable(overlay, option: "--overlay", others: read + [output]) }
    if let logits { try checkWritable(logits, option: "--logits", others: read + [output] + (overlay.map { [$0] } ?? [])) }
    let picture = try ImageIO.read(image)
    let (w, h) = (Double(picture.width), Double(picture.height))
    let boxList = try boxes.map(Self.parseBox)
    for (text, b) in zip(boxes, boxList) where b[0] < 0 || b[1] < 0 || b[2] > w || b[3] > h {
      throw CommandError("--box \(text) lies outside the \(picture.width)x\(picture.height) image \(image)")
    }
    let pointList = try points.map(Self.parsePoint)
    for (text, p) in zip(points, pointList) where p.x < 0 || p.y < 0 || p.x >= w || p.y >= h {
      throw CommandError("--point \(text) lies outside the \(picture.width)x\(picture.height) image \(image)")
    }
    guard let weights = checkpoint ?? (model == .litemedsam ? Paths.liteMedSAMWeights : nil) else {
      throw ValidationError("--checkpoint is required for \(model.rawValue) (e.g. \(model.checkpointName))")
    }
    if checkpoint == nil && !FileManager.default.fileExists(atPath: weights) {
      throw CommandError("\(weights) is missing: run scripts/setup.sh first")
    }
    let sam = try ModelRegistry.load(model, checkpoint: weights, imageSize: imageSize)
    let predictor = SamPredictor(model: sam)
    try predictor.setImage(picture.rgbTensor())
    let multimask = boxList.isEmpty
    let prediction = try predictor.predict(Prompt(points: pointList, boxes: boxList), multimaskOutput: multimask)
    // (B, M, H, W): pick the best mask per prompt (M = 1 unless multimask), then unite the batch by max.
    let best = try prediction.iou.argmax(dim: 1).toArray(Int64.self)
    let chosen = try best.enumerated().map { try prediction.masks[$0.offset].select(dim: 0, index: Int($0.element)) }
    let logitMap = try Tensor.stack(chosen).max(dims: [0])
    let mask = try logitMap.gt(0).to(.uint8).toArray(UInt8.self)
    try ImageIO.writePNG(mask.map { $0 * 255 }, width: picture.width, height: picture.height, channels: 1, to: output)
    if let logits {
      try NPY.writeFloat32(logitMap.floats(), shape: [picture.height, picture.width], to: logits)
    }
    if let overlay {
      let drawn = Overlay.draw(rgb: picture.rgb8(), width: picture.width, height: picture.height, mask: mask, boxes: boxList)
      try ImageIO.writePNG(drawn, width: picture.width, height: picture.height, channels: 3, to: overlay)
    }
    let area = mask.reduce(0) { $0 + Int($1) }
    let iouText = try prediction.iou.floats().map { String(format: "%.3f", $0) }.joined(separator: ", ")
    print("\(output): \(area) foreground pixels of \(picture.width * picture.height); predicted IoU \(iouText)")
  }
}

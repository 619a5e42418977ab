import Data
import Foundation
import Models
import Tensor

/// `hspsam segment` as a library call: prompted segmentation of one image with SAM or LiteMedSAM from boxes and
/// points, as the reference predictors do it. Several boxes are decoded as a batch and their masks united; points
/// without a box use the multimask output and keep the mask with the highest predicted IoU.
public struct SegmentationRun {
  public struct Options: Sendable {
    public var image: String
    /// Mask PNG (0/255, the image's size).
    public var output: String
    /// Overlay PNG (image, tinted mask, boxes); nil: none.
    public var overlay: String?
    /// Float32 mask logits at the image's size as a NumPy .npy file; nil: none.
    public var logits: String?
    public var model = ModelKind.litemedsam
    /// Weights (.pth or .safetensors); nil: set-up's LiteMedSAM (required for the SAM backbones).
    public var checkpoint: String?
    /// Input size for vit_b/l/h (nil: 1024).
    public var imageSize: Int?
    /// X0, Y0, X1, Y1 in image pixels.
    public var boxes: [[Double]] = []
    public var points: [(x: Double, y: Double, label: Int)] = []
    public init(image: String, output: String) {
      self.image = image
      self.output = output
    }
  }

  public struct Result {
    public let width: Int, height: Int
    public let foregroundPixels: Int
    /// The decoder's predicted IoU of each mask it returned.
    public let predictedIoU: [Float]
  }

  public let options: Options
  public init(_ options: Options) { self.options = options }

  /// Checks the outputs, reads the image, checks the prompts against it, loads the model, segments and writes.
  public func run() throws -> Result {
    // Each file written must be neither a file read (image, weights) nor another of the outputs.
    let read = [options.image] + (options.checkpoint.map { [$0] } ?? [])
    func check(_ path: String, _ output: SegmentationError.Output, others: [String]) throws {
      do { try OutputFile.checkWritable(path, others: others) } catch let error as OutputFileError { throw SegmentationError.badOutput(output, error) }
    }
    try check(options.output, .mask, others: read)
    if let overlay = options.overlay { try check(overlay, .overlay, others: read + [options.output]) }
    if let logits = options.logits { try check(logits, .logits, others: read + [options.output] + (options.overlay.map { [$0] } ?? [])) }
    let picture = try ImageIO.read(options.image)
    let (w, h) = (Double(picture.width), Double(picture.height))
    for (index, b) in options.boxes.enumerated() where b[0] < 0 || b[1] < 0 || b[2] > w || b[3] > h {
      throw SegmentationError.boxOutside(index: index, width: picture.width, height: picture.height, image: options.image)
    }
    for (index, p) in options.points.enumerated() where p.x < 0 || p.y < 0 || p.x >= w || p.y >= h {
      throw SegmentationError.pointOutside(index: index, width: picture.width, height: picture.height, image: options.image)
    }
    guard let weights = options.checkpoint ?? (options.model == .litemedsam ? ModelSources.liteMedSAMWeights : nil) else {
      throw SegmentationError.checkpointRequired(options.model)
    }
    if options.checkpoint == nil && !FileManager.default.fileExists(atPath: weights) { throw SegmentationError.weightsMissing(weights) }
    let sam = try ModelRegistry.load(options.model, checkpoint: weights, imageSize: options.imageSize)
    let predictor = SamPredictor(model: sam)
    try predictor.setImage(picture.rgbTensor())
    let prediction = try predictor.predict(Prompt(points: options.points, boxes: options.boxes), multimaskOutput: options.boxes.isEmpty)
    // (B, M, H, W): the best mask per prompt (M = 1 unless multimask), then the batch united by max.
    let best = try prediction.iou.argmax(dim: 1).toArray(Int64.self)
    let chosen = try best.enumerated().map { try prediction.masks[$0.offset].select(dim: 0, index: Int($0.element)) }
    let logitMap = try Tensor.stack(chosen).max(dims: [0])
    let mask = try logitMap.gt(0).to(.uint8).toArray(UInt8.self)
    try ImageIO.writePNG(mask.map { $0 * 255 }, width: picture.width, height: picture.height, channels: 1, to: options.output)
    if let logits = options.logits {
      try NPY.writeFloat32(logitMap.floats(), shape: [picture.height, picture.width], to: logits)
    }
    if let overlay = options.overlay {
      let drawn = Overlay.draw(rgb: picture.rgb8(), width: picture.width, height: picture.height, mask: mask, boxes: options.boxes)
      try ImageIO.writePNG(drawn, width: picture.width, height: picture.height, channels: 3, to: overlay)
    }
    return Result(width: picture.width, height: picture.height, foregroundPixels: mask.reduce(0) { $0 + Int($1) },
                  predictedIoU: try prediction.iou.floats())
  }
}

public enum SegmentationError: Error, LocalizedError, Equatable {
  /// Prompt `index` (of the boxes or points, in order) lies outside the image.
  case boxOutside(index: Int, width: Int, height: Int, image: String)
  case pointOutside(index: Int, width: Int, height: Int, image: String)
  case checkpointRequired(ModelKind)
  case weightsMissing(String)
  /// An output file that cannot be written (`Options.output`, `.overlay` or `.logits`).
  case badOutput(Output, OutputFileError)
  public enum Output: Sendable { case mask, overlay, logits }

  public var errorDescription: String? {
    switch self {
    case .badOutput(_, let error): return error.localizedDescription
    case .boxOutside(let index, let width, let height, let image): return "box \(index + 1) lies outside the \(width)x\(height) image \(image)"
    case .pointOutside(let index, let width, let height, let image): return "point \(index + 1) lies outside the \(width)x\(height) image \(image)"
    case .checkpointRequired(let model): return "a checkpoint is required for \(model.rawValue) (e.g. \(model.checkpointName))"
    case .weightsMissing(let path): return "\(path) is missing: run scripts/setup.sh first"
    }
  }
}

import Data
import Foundation
import Models
import Tensor

/// The two untrained baselines of docs/model.md 5, on the frozen LiteMedSAM with its own
/// pre/post-processing (`SamPredictor`): single-mask output (mask token 0), sigmoid.
public final class LiteMedSAMBaseline: ForegroundSegmenter {
  public enum Mode: String, CaseIterable, Sendable {
    /// One tight ground-truth box per 8-connected foreground component; the masks are united (maximum probability).
    case boxOracle = "box-oracle"
    /// No prompt at all: empty sparse tokens and the no-mask dense embedding.
    case noPrompt = "no-prompt"
  }

  public let mode: Mode
  let predictor: SamPredictor
  /// Components smaller than this many pixels get no box [choice: 10 px, so single stray mask pixels do not
  /// prompt; ClinicDB and Kvasir-SEG polyps are thousands of pixels].
  public var minimumComponentArea = 10

  public init(mode: Mode, weights: String, device: Device = .cpu) throws {
    self.mode = mode
    let model = try ModelRegistry.load(.litemedsam, checkpoint: weights)
    try model.to(device)
    predictor = SamPredictor(model: model)
  }

  public func foreground(_ image: Image, truth: [UInt8]) throws -> [Float] {
    guard mode == .boxOracle else { return try decode(image, prompt: Prompt()) }
    let components = ConnectedComponents.find(truth, width: image.width, height: image.height, minimumArea: minimumComponentArea)
    // No foreground: nothing to box, so the oracle predicts an empty mask.
    guard !components.isEmpty else { return [Float](repeating: 0, count: image.width * image.height) }
    return try boxPrompted(image, boxes: components.map(\.box))
  }

  /// Foreground probability from XYXY boxes in image pixels (one decode each, united by the maximum): the oracle's
  /// decode, also used with boxes the prompt-free model found itself (`BoxRefinement`).
  public func boxPrompted(_ image: Image, boxes: [[Double]]) throws -> [Float] {
    var prompt = Prompt()
    prompt.boxes = boxes
    return try decode(image, prompt: prompt)
  }

  func decode(_ image: Image, prompt: Prompt) throws -> [Float] {
    try predictor.setImage(image.rgbTensor())
    let prediction = try predictor.predict(prompt, multimaskOutput: false)
    return try Torch.withNoGrad {
      try prediction.masks.select(dim: 1, index: 0).max(dims: [0]).sigmoid().floats()
    }
  }
}

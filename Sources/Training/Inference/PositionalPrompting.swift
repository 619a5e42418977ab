import Data
import Foundation
import Models
import Tensor

/// Prediction of the `positional` baseline (docs/model.md 5; the self-prompting scheme of
/// Wu et al. 2023): the trained pixel classifier's probability map on the 64x64 embedding grid becomes positional
/// prompts (a box and one positive point per component), which the frozen LiteMedSAM prompt encoder and mask
/// decoder turn into the mask. Nothing predicted: an empty mask.
public enum PositionalPrompting {
  public struct Prompt: Equatable, Sendable {
    /// XYXY in input-frame pixels, inclusive.
    public var box: [Double]
    /// (x, y) in input-frame pixels: the centre of the most probable grid cell inside the box.
    public var point: [Double]
  }

  /// At most this many components prompt SAM: the largest, then others covering >= 1 % of the grid (docs/model.md 5).
  public static let maximumPrompts = 3
  public static let minimumAreaFraction = 0.01
  /// The foreground logit of an image where nothing is predicted (p ~ 2e-9).
  static let emptyLogit = -20.0

  /// Prompts from a foreground probability map of `grid` x `grid` cells, each cell `scale` input pixels wide.
  public static func prompts(probabilities: [Float], grid: Int, scale: Int) -> [Prompt] {
    let binary = probabilities.foregroundMask
    let components = ConnectedComponents.find(binary, width: grid, height: grid)
    let minimumArea = Int((minimumAreaFraction * Double(grid * grid)).rounded(.up))
    let kept = components.enumerated().filter { $0.offset == 0 || $0.element.area >= minimumArea }.prefix(maximumPrompts)
    return kept.map { _, c in
      var best = (x: c.x0, y: c.y0, p: -Float.infinity)
      for y in c.y0...c.y1 {
        for x in c.x0...c.x1 where probabilities[y * grid + x] > best.p { best = (x, y, probabilities[y * grid + x]) }
      }
      let s = Double(scale), half = Double(scale - 1) / 2
      return Prompt(box: [Double(c.x0) * s, Double(c.y0) * s, Double(c.x1 + 1) * s - 1, Double(c.y1 + 1) * s - 1],
                    point: [Double(best.x) * s + half, Double(best.y) * s + half])
    }
  }

  /// Logits (B, 2, S, S) for images (B, 3, S, S): background 0, foreground the union (maximum) of SAM's single-mask
  /// logits over the image's prompts.
  public static func logits(model: HSPSAM, images: Tensor) throws -> Tensor {
    guard let classifier = model.pixelClassifier else {
      throw ModelCapabilityError.positionalPromptingNeedsPixelClassifier(architecture: model.config.architecture.rawValue)
    }
    return try Torch.withNoGrad {
      let features = try model.encodeLevels(from: model.encodePrefix(images))
      let embedding = try model.frozenEmbedding(features[features.count - 1])
      let probabilities = try classifier(embedding).sigmoid()
      let (grid, size) = (embedding.size(2), images.size(2))
      let device = images.device
      let perImage = try (0..<images.size(0)).map { i -> Tensor in
        let found = prompts(probabilities: try probabilities[i].floats(), grid: grid, scale: size / grid)
        guard !found.isEmpty else { return try Tensor.full([1, 1, size, size], emptyLogit, device: device) }
        let n = found.count
        let boxes = try Tensor(found.flatMap(\.box).map(Float.init), shape: [n, 4]).to(device)
        let points = try Tensor(found.flatMap(\.point).map(Float.init), shape: [n, 1, 2]).to(device)
        let labels = try Tensor.ones([n, 1], device: device)
        let masks = try model.base.decode(embedding: embedding.narrow(dim: 0, start: i, length: 1), points: (points, labels),
                                          boxes: boxes, multimaskOutput: false).masks  // (N, 1, S, S)
        return try masks.max(dims: [0], keepDim: true)
      }
      return try HSPSAM.binaryLogits(foreground: Tensor.cat(perImage, dim: 0))
    }
  }
}

import Data
import Foundation
import Tensor

/// Anything `ModelEvaluation` can score: a foreground probability per pixel at the image's size.
/// `truth` (0/1 per pixel) exists only for oracle baselines; prompt-free models must ignore it.
public protocol ForegroundSegmenter {
  func foreground(_ image: Image, truth: [UInt8]) throws -> [Float]
}

extension PromptFreePredictor: ForegroundSegmenter {
  /// 1 - p(background): for K > 1 this is "any foreground class".
  public func foreground(_ image: Image, truth: [UInt8]) throws -> [Float] {
    try (1 - predict(image).probabilities[0]).floats()
  }
}

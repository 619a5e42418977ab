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
    try segment(image).foreground
  }
}

/// A segmenter with several foreground classes: its class map too, from the same forward pass, so `ModelEvaluation`
/// can add per-class Dice to the foreground metrics.
public protocol ClassSegmenter: ForegroundSegmenter {
  /// Classes including background.
  var classCount: Int { get }
  /// The foreground probability (1 - p(background)) and the class map (argmax), at the image's size.
  func segment(_ image: Image) throws -> (foreground: [Float], classes: [UInt8])
}

extension PromptFreePredictor: ClassSegmenter {
  public var classCount: Int { metadata.config.model.numClasses + 1 }

  public func segment(_ image: Image) throws -> (foreground: [Float], classes: [UInt8]) {
    let (probabilities, classes) = try predict(image)
    return (try (1 - probabilities[0]).floats(), classes)
  }
}

extension Array where Element == Float {
  /// The mask (0/1) of a foreground probability map: p > 0.5, the threshold of Dice@0.5, of `predict`'s one-class
  /// masks and of the objects the box refinement and positional prompting box.
  public var foregroundMask: [UInt8] { map { $0 > 0.5 ? 1 : 0 } }
}

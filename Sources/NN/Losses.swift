import Foundation
import Tensor

public enum Losses {
  /// Mean cross-entropy of logits (B, C, H, W) against class indices (B, H, W) int64.
  public static func crossEntropy(logits: Tensor, target: Tensor) throws -> Tensor {
    let logProbabilities = try logits.logSoftmax(dim: 1)
    return try -logProbabilities.gather(dim: 1, index: target.unsqueeze(1)).mean()
  }

  /// SAMed/TransUNet soft Dice over softmax channels: per class c, 1 - (2 sum(p g) + 1e-5) / (sum p^2 + sum g^2 + 1e-5)
  /// over the whole batch, averaged over all C classes (background included).
  public static func softDice(logits: Tensor, target: Tensor) throws -> Tensor {
    let classes = logits.size(1)
    let probabilities = try logits.softmax(dim: 1)
    let oneHot = try target.oneHot(classes: classes).permute([0, 3, 1, 2]).to(probabilities.dtype)
    let intersection = try (probabilities * oneHot).sum(dims: [0, 2, 3])
    let denominator = try probabilities.square().sum(dims: [0, 2, 3]) + oneHot.square().sum(dims: [0, 2, 3])
    return try (1 - (intersection * 2 + 1e-5) / (denominator + 1e-5)).mean()
  }

  /// (1 - w) * CE + w * Dice (HSP-SAM's loss, w = 0.8 by default).
  public static func segmentation(logits: Tensor, target: Tensor, diceWeight: Double = 0.8) throws -> Tensor {
    try crossEntropy(logits: logits, target: target) * (1 - diceWeight) + softDice(logits: logits, target: target) * diceWeight
  }
}

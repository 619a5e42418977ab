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
    let oneHot = try channelsOneHot(target, classes: classes, dtype: probabilities.dtype)
    let intersection = try (probabilities * oneHot).sum(dims: [0, 2, 3])
    let denominator = try probabilities.square().sum(dims: [0, 2, 3]) + oneHot.square().sum(dims: [0, 2, 3])
    return try (1 - (intersection * 2 + 1e-5) / (denominator + 1e-5)).mean()
  }

  /// Tversky loss over the foreground classes 1..<C: per class 1 - (TP + 1e-5) / (TP + (1 - beta) FP + beta FN + 1e-5)
  /// over the whole batch (soft counts from the softmax), averaged over the classes. beta > 0.5 makes a missed
  /// foreground pixel cost more than a false one, for a model that under-segments; beta = 0.5 is the linear soft Dice.
  /// Background is left out: its missed pixels are the foreground's false ones and would undo the weighting.
  public static func tversky(logits: Tensor, target: Tensor, falseNegativeWeight beta: Double) throws -> Tensor {
    let classes = logits.size(1)
    let probabilities = try logits.softmax(dim: 1).narrow(dim: 1, start: 1, length: classes - 1)
    let oneHot = try channelsOneHot(target, classes: classes, dtype: probabilities.dtype).narrow(dim: 1, start: 1, length: classes - 1)
    let truePositive = try (probabilities * oneHot).sum(dims: [0, 2, 3])
    let falsePositive = try probabilities.sum(dims: [0, 2, 3]) - truePositive
    let falseNegative = try oneHot.sum(dims: [0, 2, 3]) - truePositive
    let denominator = try truePositive + falsePositive * (1 - beta) + falseNegative * beta
    return try (1 - (truePositive + 1e-5) / (denominator + 1e-5)).mean()
  }

  /// PraNet's structure loss (Fan et al., MICCAI 2020), over softmax channels: a boundary-weighted cross-entropy
  /// plus a boundary-weighted soft IoU of the foreground classes, each per image, then averaged. The weight
  /// 1 + 5 |avgpool31(g) - g| (g: any foreground) is about 6 at a lesion's edge and 1 far from it. With two
  /// channels this is PraNet's own loss: softmax over (background, foreground) logits is the sigmoid of their
  /// difference, and its cross-entropy that difference's binary cross-entropy.
  public static func structure(logits: Tensor, target: Tensor) throws -> Tensor {
    let classes = logits.size(1)
    let foreground = try target.gt(0).unsqueeze(1).to(logits.dtype)
    // The 31 x 31 mean (zero padding counted, as PyTorch's default) taken as a 31 x 1 mean then a 1 x 31 one: the
    // same box filter in 62 adds per pixel instead of 961 (the 2-D pool was ~6 % of a CPU training step).
    let boxMean = try foreground.avgPool2d(kernel: (31, 1), stride: (1, 1), padding: (15, 0))
      .avgPool2d(kernel: (1, 31), stride: (1, 1), padding: (0, 15))
    let weight = try (boxMean - foreground).abs() * 5 + 1
    let logProbabilities = try logits.logSoftmax(dim: 1)
    let pixelCE = try -logProbabilities.gather(dim: 1, index: target.unsqueeze(1))  // (B, 1, H, W)
    let weightedCE = try (pixelCE * weight).sum(dims: [1, 2, 3]) / weight.sum(dims: [1, 2, 3])
    let probabilities = try logProbabilities.exp().narrow(dim: 1, start: 1, length: classes - 1)
    let oneHot = try channelsOneHot(target, classes: classes, dtype: logits.dtype).narrow(dim: 1, start: 1, length: classes - 1)
    let intersection = try (probabilities * oneHot * weight).sum(dims: [2, 3])
    let union = try ((probabilities + oneHot) * weight).sum(dims: [2, 3])
    let weightedIoU = try (1 - (intersection + 1) / (union - intersection + 1)).mean(dims: [1])
    return try (weightedCE + weightedIoU).mean()
  }

  /// Class indices (B, H, W) as a one-hot map (B, C, H, W) laid out like the logits.
  /// A comparison with the class indices rather than `one_hot`, whose range checks (a min and a max over the whole
  /// batch, each a pass and a sync) took about 1 % of a training step; the masks' values are checked when read.
  private static func channelsOneHot(_ target: Tensor, classes: Int, dtype: DType) throws -> Tensor {
    let indices = try Tensor.arange(0, Double(classes), device: target.device).view([1, classes, 1, 1])
    return try target.unsqueeze(1).eq(indices).to(dtype)
  }

  /// (1 - w) * CE + w * Dice (HSP-SAM's loss, w = 0.8 by default). With `tverskyBeta` the Dice term is the Tversky
  /// loss above instead of the paper's squared soft Dice.
  public static func segmentation(logits: Tensor, target: Tensor, diceWeight: Double = 0.8, tverskyBeta: Double? = nil) throws -> Tensor {
    let overlap = try tverskyBeta.map { try tversky(logits: logits, target: target, falseNegativeWeight: $0) }
      ?? softDice(logits: logits, target: target)
    return try crossEntropy(logits: logits, target: target) * (1 - diceWeight) + overlap * diceWeight
  }
}

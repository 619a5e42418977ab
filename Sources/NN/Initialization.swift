import Foundation
import Tensor

/// PyTorch's default initialisers, drawing from libtorch's generator in the same order as `torch.nn`,
/// so a seeded Swift layer starts with the same values as the seeded PyTorch layer.
public enum Initialization {
  /// fan_in of a weight as `torch.nn.init._calculate_fan_in_and_fan_out`: size(1) * receptive field.
  public static func fanIn(_ shape: [Int]) -> Int {
    precondition(shape.count >= 2, "fan_in needs a weight of rank >= 2")
    return shape[1] * shape.dropFirst(2).reduce(1, *)
  }

  /// `kaiming_uniform_(w, a=sqrt(5))`, the default of Linear and Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  public static func defaultWeight(_ weight: Tensor) throws {
    let gain = (2.0 / (1.0 + 5.0)).squareRoot()
    let bound = gain * (3.0 / Double(fanIn(weight.shape))).squareRoot()
    try weight.uniformInPlace(low: -bound, high: bound)
  }

  /// The default bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the weight's fan_in.
  public static func defaultBias(_ bias: Tensor, fanIn: Int) throws {
    let bound = fanIn > 0 ? 1.0 / Double(fanIn).squareRoot() : 0
    try bias.uniformInPlace(low: -bound, high: bound)
  }

  /// `kaiming_uniform_(w, a, mode="fan_in", nonlinearity="leaky_relu")`.
  public static func kaimingUniform(_ weight: Tensor, a: Double = 0) throws {
    let gain = (2.0 / (1.0 + a * a)).squareRoot()
    let bound = gain * (3.0 / Double(fanIn(weight.shape))).squareRoot()
    try weight.uniformInPlace(low: -bound, high: bound)
  }

  /// `trunc_normal_`-free helper: N(0, std).
  public static func normal(_ tensor: Tensor, std: Double) throws { try tensor.normalInPlace(mean: 0, std: std) }
}

/// Creates a tensor and initialises it without recording gradients.
func makeParameter(_ shape: [Int], _ initialise: (Tensor) throws -> Void) throws -> Tensor {
  let t = try Tensor.empty(shape)
  try Torch.withNoGrad { try initialise(t) }
  return t
}

import Tensor

/// `torch.nn.Linear`: y = x W^T + b. Keys `weight` (out, in) and `bias` (out).
public final class Linear: Module, UnaryLayer {
  public let weight: Tensor
  public let bias: Tensor?

  public init(_ inFeatures: Int, _ outFeatures: Int, bias hasBias: Bool = true) throws {
    weight = try makeParameter([outFeatures, inFeatures], Initialization.defaultWeight)
    bias = hasBias ? try makeParameter([outFeatures]) { try Initialization.defaultBias($0, fanIn: inFeatures) } : nil
    super.init()
    registerParameter("weight", weight)
    if let bias { registerParameter("bias", bias) }
  }

  public func callAsFunction(_ x: Tensor) throws -> Tensor { try x.linear(weight: weight, bias: bias) }
}

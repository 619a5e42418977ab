import Tensor

/// `torch.nn.Embedding`: rows of `weight` (num, dim), initialised N(0, 1).
public final class Embedding: Module {
  public let weight: Tensor

  public init(_ count: Int, _ dim: Int) throws {
    weight = try makeParameter([count, dim]) { try $0.normalInPlace(mean: 0, std: 1) }
    super.init()
    registerParameter("weight", weight)
  }

  public func callAsFunction(_ indices: Tensor) throws -> Tensor { try weight.embedding(indices) }
}

/// `torch.nn.GELU` (exact by default; `approximate: true` is the tanh form).
public final class GELU: Module, UnaryLayer {
  public let approximate: Bool
  public init(approximate: Bool = false) {
    self.approximate = approximate
    super.init()
  }
  public func callAsFunction(_ x: Tensor) throws -> Tensor { try x.gelu(approximate: approximate) }
}

public final class ReLU: Module, UnaryLayer {
  public override init() { super.init() }
  public func callAsFunction(_ x: Tensor) throws -> Tensor { try x.relu() }
}

/// `torch.nn.Sequential`: children keyed "0", "1", ... in order; parameterless layers still take an index.
public final class Sequential: Module, UnaryLayer {
  public let layers: [any UnaryLayer]
  /// The layer at `index` as a module (for copying state between parts).
  public subscript(index: Int) -> Module { layers[index] }

  public init(_ layers: [any UnaryLayer]) {
    self.layers = layers
    super.init()
    for (index, layer) in layers.enumerated() { registerChild(String(index), layer) }
  }

  public func callAsFunction(_ x: Tensor) throws -> Tensor {
    var y = x
    for layer in layers { y = try layer(y) }
    return y
  }
}

/// SAM's `MLP`: `numLayers` Linear layers (keys `layers.{i}`) with ReLU between, optional sigmoid at the end.
public final class MLP: Module, UnaryLayer {
  public let layers: [Linear]
  public let sigmoidOutput: Bool

  public init(inputDim: Int, hiddenDim: Int, outputDim: Int, numLayers: Int, sigmoidOutput: Bool = false) throws {
    let dims = [inputDim] + Array(repeating: hiddenDim, count: numLayers - 1) + [outputDim]
    layers = try (0..<numLayers).map { try Linear(dims[$0], dims[$0 + 1]) }
    self.sigmoidOutput = sigmoidOutput
    super.init()
    let list = registerChild("layers", Module())
    for (index, layer) in layers.enumerated() { list.registerChild(String(index), layer) }
  }

  public func callAsFunction(_ x: Tensor) throws -> Tensor {
    var y = x
    for (index, layer) in layers.enumerated() {
      y = try layer(y)
      if index < layers.count - 1 { y = try y.relu() }
    }
    return sigmoidOutput ? try y.sigmoid() : y
  }
}

/// Activation functions chosen by configuration.
public enum Activation: String, Codable, Sendable {
  case gelu, relu
  public func callAsFunction(_ x: Tensor) throws -> Tensor {
    switch self {
    case .gelu: return try x.gelu()
    case .relu: return try x.relu()
    }
  }
}

/// SAM's `MLPBlock`: lin1 -> activation (GELU in the image encoder, ReLU in the two-way transformer) -> lin2.
public final class MLPBlock: Module, UnaryLayer {
  public let lin1: Linear
  public let lin2: Linear
  public let activation: Activation

  public init(embeddingDim: Int, mlpDim: Int, activation: Activation = .gelu) throws {
    lin1 = try Linear(embeddingDim, mlpDim)
    lin2 = try Linear(mlpDim, embeddingDim)
    self.activation = activation
    super.init()
    registerChild("lin1", lin1)
    registerChild("lin2", lin2)
  }

  public func callAsFunction(_ x: Tensor) throws -> Tensor { try lin2(activation(lin1(x))) }
}

import Foundation
import Tensor

/// An exponential moving average of trained parameters (Polyak averaging, as timm's `ModelEmaV2`): after each
/// optimiser step, average <- average + (1 - d) (parameter - average) with d = min(decay, (1 + n) / (10 + n)) at
/// update n, so the first averages follow the weights instead of holding their random start.
public final class ExponentialMovingAverage {
  public let decay: Double
  public let parameters: [(name: String, tensor: Tensor)]
  private var averages: [Tensor]
  public private(set) var updates = 0

  public init(_ parameters: [(name: String, tensor: Tensor)], decay: Double) throws {
    self.parameters = parameters
    self.decay = decay
    averages = try Torch.withNoGrad { try parameters.map { try $0.tensor.detach().clone() } }
  }

  /// The decay used at the next update.
  public var currentDecay: Double { Swift.min(decay, Double(1 + updates) / Double(10 + updates)) }

  public func update() throws {
    let weight = 1 - currentDecay
    try Torch.withNoGrad { for (average, p) in zip(averages, parameters) { try average.lerpInPlace(p.tensor, weight: weight) } }
    updates += 1
  }

  /// Runs `body` with the averaged weights in the parameters, then puts the trained weights back (also on error).
  public func withAveragedWeights<R>(_ body: () throws -> R) throws -> R {
    let trained = try Torch.withNoGrad { try parameters.map { try $0.tensor.detach().clone() } }
    try Torch.withNoGrad { for (average, p) in zip(averages, parameters) { try p.tensor.copyFrom(average) } }
    defer { _ = try? Torch.withNoGrad { for (saved, p) in zip(trained, parameters) { try p.tensor.copyFrom(saved) } } }
    return try body()
  }

  /// The averages by parameter name, and the update count as `updates`.
  public func stateTensors() throws -> [(name: String, tensor: Tensor)] {
    try zip(parameters, averages).map { ($0.0.name, $0.1) } + [("updates", Tensor([Int64(updates)]))]
  }

  /// Restores `stateTensors()`; a parameter missing from `state` is an error naming it.
  public func loadState(_ state: [String: Tensor], source: String) throws {
    for (index, (name, p)) in parameters.enumerated() {
      guard let value = state[name] else { throw TorchError.invalidArgument("\(source): no weight average for \(name)") }
      guard value.shape == p.shape else {
        throw TorchError.invalidArgument("\(source): the weight average of \(name) has shape \(value.shape), the parameter \(p.shape)")
      }
      averages[index] = try value.to(p.dtype, p.device).clone()
    }
    updates = Int(try state["updates"]?.item() ?? 0)
  }
}

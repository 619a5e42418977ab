import Foundation
import Tensor

/// An optimiser over named parameters. `step()` applies one update from the stored gradients;
/// parameters without a gradient are skipped (as in `torch.optim`).
public protocol Optimizer: AnyObject {
  var learningRate: Double { get set }
  var parameters: [(name: String, tensor: Tensor)] { get }
  func step() throws
  /// Optimiser state as named tensors (for checkpoints and resume); keys `<param name>.<slot>`.
  func stateTensors() throws -> [(name: String, tensor: Tensor)]
  func loadState(_ state: [String: Tensor]) throws
}

extension Optimizer {
  public func zeroGrad() throws { for (_, p) in parameters { try p.zeroGrad() } }
}

/// `torch.optim.AdamW` (single-tensor path, decoupled weight decay), matching PyTorch step for step.
public final class AdamW: Optimizer {
  public var learningRate: Double
  public let beta1: Double, beta2: Double, eps: Double, weightDecay: Double
  public let parameters: [(name: String, tensor: Tensor)]
  /// Parameters trained without weight decay (PyTorch: a parameter group with `weight_decay = 0`).
  public var decayExempt: Set<String> = []
  private var expAvg: [Tensor?]
  private var expAvgSq: [Tensor?]
  private var steps: [Int]

  public init(_ parameters: [(name: String, tensor: Tensor)], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
              eps: Double = 1e-8, weightDecay: Double = 1e-2) {
    self.parameters = parameters
    self.learningRate = learningRate
    (beta1, beta2) = betas
    self.eps = eps
    self.weightDecay = weightDecay
    expAvg = Array(repeating: nil, count: parameters.count)
    expAvgSq = Array(repeating: nil, count: parameters.count)
    steps = Array(repeating: 0, count: parameters.count)
  }

  public func step() throws {
    try Torch.withNoGrad {
      for (index, (name, param)) in parameters.enumerated() {
        guard let grad = try param.grad else { continue }
        if expAvg[index] == nil {
          expAvg[index] = try Tensor.zeros(param.shape, dtype: param.dtype, device: param.device)
          expAvgSq[index] = try Tensor.zeros(param.shape, dtype: param.dtype, device: param.device)
        }
        let m = expAvg[index]!, v = expAvgSq[index]!
        steps[index] += 1
        let t = Double(steps[index])
        // Same operations, in the same order, as torch/optim/adam.py `_single_tensor_adam` (decoupled decay).
        if !decayExempt.contains(name) { try param.mulInPlace(1 - learningRate * weightDecay) }
        try m.lerpInPlace(grad, weight: 1 - beta1)
        try v.mulInPlace(beta2)
        try v.addcmulInPlace(grad, grad, value: 1 - beta2)
        let biasCorrection1 = 1 - Foundation.pow(beta1, t)
        let biasCorrection2 = 1 - Foundation.pow(beta2, t)
        let stepSize = learningRate / biasCorrection1
        let denom = try v.sqrt() / biasCorrection2.squareRoot()
        try denom.addInPlace(eps)
        try param.addcdivInPlace(m, denom, value: -stepSize)
      }
    }
  }

  public func stateTensors() throws -> [(name: String, tensor: Tensor)] {
    var result: [(name: String, tensor: Tensor)] = []
    for (index, (name, _)) in parameters.enumerated() {
      guard let m = expAvg[index], let v = expAvgSq[index] else { continue }
      result.append(("\(name).exp_avg", m))
      result.append(("\(name).exp_avg_sq", v))
      result.append(("\(name).step", try Tensor([Int64(steps[index])])))
    }
    return result
  }

  public func loadState(_ state: [String: Tensor]) throws {
    for (index, (name, param)) in parameters.enumerated() {
      guard let m = state["\(name).exp_avg"], let v = state["\(name).exp_avg_sq"], let s = state["\(name).step"] else {
        continue
      }
      guard m.shape == param.shape, v.shape == param.shape else {
        throw TorchError.invalidArgument("optimizer state for \(name) has shape \(m.shape), parameter \(param.shape)")
      }
      expAvg[index] = try m.to(param.dtype, param.device).clone()
      expAvgSq[index] = try v.to(param.dtype, param.device).clone()
      steps[index] = Int(try s.item())
    }
  }
}

/// `torch.optim.SGD` with momentum, dampening, Nesterov and (coupled) weight decay.
public final class SGD: Optimizer {
  public var learningRate: Double
  public let momentum: Double, dampening: Double, weightDecay: Double, nesterov: Bool
  public let parameters: [(name: String, tensor: Tensor)]
  private var buffers: [Tensor?]

  public init(_ parameters: [(name: String, tensor: Tensor)], learningRate: Double, momentum: Double = 0, dampening: Double = 0,
              weightDecay: Double = 0, nesterov: Bool = false) {
    precondition(!nesterov || (momentum > 0 && dampening == 0), "Nesterov needs momentum and zero dampening")
    self.parameters = parameters
    self.learningRate = learningRate
    self.momentum = momentum
    self.dampening = dampening
    self.weightDecay = weightDecay
    self.nesterov = nesterov
    buffers = Array(repeating: nil, count: parameters.count)
  }

  public func step() throws {
    try Torch.withNoGrad {
      for (index, (_, param)) in parameters.enumerated() {
        guard let grad = try param.grad else { continue }
        var d = grad
        if weightDecay != 0 {
          d = try grad.clone()
          try d.addInPlace(param, alpha: weightDecay)
        }
        if momentum != 0 {
          if let buffer = buffers[index] {
            try buffer.mulInPlace(momentum)
            try buffer.addInPlace(d, alpha: 1 - dampening)
          } else {
            buffers[index] = try d.clone()
          }
          let buffer = buffers[index]!
          if nesterov {
            let next = try d.clone()
            try next.addInPlace(buffer, alpha: momentum)
            d = next
          } else {
            d = buffer
          }
        }
        try param.addInPlace(d, alpha: -learningRate)
      }
    }
  }

  public func stateTensors() throws -> [(name: String, tensor: Tensor)] {
    parameters.indices.compactMap { i in buffers[i].map { ("\(parameters[i].name).momentum_buffer", $0) } }
  }

  public func loadState(_ state: [String: Tensor]) throws {
    for (index, (name, _)) in parameters.enumerated() {
      if let b = state["\(name).momentum_buffer"] { buffers[index] = try b.clone() }
    }
  }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm`, as `torch.nn.utils.clip_grad_norm_`.
/// Returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Double) throws -> Double {
  try Torch.withNoGrad {
    let grads = try parameters.compactMap { try $0.grad }
    guard !grads.isEmpty else { return 0 }
    let norms = try grads.map { try $0.norm() }
    let total = try Tensor.stack(norms).norm()
    let coefficient = try (1.0 / (total + 1e-6) * maxNorm).clamp(max: 1.0)
    for g in grads { try g.mulInPlace(coefficient) }
    return try total.item()
  }
}

// LoRA on the query and value projections (docs/model.md 2): q += B_q A_q x, v += B_v A_v x, scale 1
// (alpha = r), A Kaiming-uniform (a = sqrt 5, the Linear default), B zeros, no dropout. With B = 0 the frozen
// projection is reproduced exactly.
import Foundation
import NN
import Tensor

/// The four low-rank factors of one attention's qkv. Registered as children of that `qkv` Linear, so their keys are
/// `...attn.qkv.lora_a_q.weight`, `lora_b_q`, `lora_a_v`, `lora_b_v`.
public final class LoRAQV: Module {
  let aQ: Linear, bQ: Linear, aV: Linear, bV: Linear
  public let rank: Int

  public init(dim: Int, rank: Int) throws {
    self.rank = rank
    let (aQ, bQ) = (try Linear(dim, rank, bias: false), try Linear(rank, dim, bias: false))
    let (aV, bV) = (try Linear(dim, rank, bias: false), try Linear(rank, dim, bias: false))
    try Torch.withNoGrad {
      try bQ.weight.zero()
      try bV.weight.zero()
    }
    (self.aQ, self.bQ, self.aV, self.bV) = (aQ, bQ, aV, bV)
    super.init()
  }

  /// Attaches the factors under `qkv`'s key path.
  func register(under qkv: Module) {
    qkv.registerChild("lora_a_q", aQ)
    qkv.registerChild("lora_b_q", bQ)
    qkv.registerChild("lora_a_v", aV)
    qkv.registerChild("lora_b_v", bV)
  }

  /// (delta q, delta v) for tokens x (..., C).
  func deltas(_ x: Tensor) throws -> (Tensor, Tensor) { (try bQ(aQ(x)), try bV(aV(x))) }

  public var trainable: [Tensor] { [aQ.weight, bQ.weight, aV.weight, bV.weight] }
}

import NN
import Tensor

/// Fills every state-dict tensor as scripts/fixtures/make_sam.py `seeded_weights` does: sorted keys,
/// randn * 0.2 (rand + 0.5 for BatchNorm running_var), num_batches_tracked left alone; then eval mode.
func fillSeededWeights(_ module: Module, seed: UInt64) throws {
  try Torch.manualSeed(seed)
  try Torch.withNoGrad {
    for (key, tensor) in module.stateDict().sorted(by: { $0.name < $1.name }) {
      if key.hasSuffix("num_batches_tracked") { continue }
      if key.hasSuffix("running_var") {
        try tensor.copyFrom(Tensor.rand(tensor.shape) + 0.5)
      } else {
        try tensor.copyFrom(Tensor.randn(tensor.shape) * 0.2)
      }
    }
  }
  module.eval()
}

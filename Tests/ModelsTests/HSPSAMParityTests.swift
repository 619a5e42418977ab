import Foundation
import Models
import NN
import Tensor
import TestSupport
import XCTest

/// HSP-SAM against our PyTorch reference written from docs/model.md (scripts/reference/hsp_sam.py), every
/// tensor seeded (LoRA B non-zero, so the LoRA path is exercised). Tolerance: fused logits and level logits 1e-3
/// (the mask-logit bound), after a 10-block encoder tail, three necks and five two-way blocks in float32.
final class HSPSAMParityTests: XCTestCase {
  /// The default until 2026-12-06: prompted levels [2, 3] (a three-block adapted tail), depth-2 level decoders.
  func testMatchesTheReference() throws {
    var config = HSPSAMConfig()
    (config.promptedLevels, config.levelDecoderDepth) = ([2, 3], 2)
    try checkParity(config: config, fixture: "hsp_sam/hsp_sam.safetensors", keys: "hsp_sam/keys.json")
  }

  /// Today's default: prompted level [3] (the last block adapted), depth-1 level decoders.
  func testTheDefaultMatchesTheReference() throws {
    try checkParity(config: HSPSAMConfig(), fixture: "hsp_sam/cpu_default.safetensors", keys: "hsp_sam/cpu_default_keys.json")
  }

  func checkParity(config: HSPSAMConfig, fixture: String, keys: String) throws {
    let f = try Fixtures.tensors(fixture)
    let model = try HSPSAM(config: config, base: ModelRegistry.build(.litemedsam))
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(keys)))
    let reference = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[Any]]).map { "\($0[0]) \($0[1] as? [Int] ?? [])" }
    let ours = model.stateDict().map { "\($0.name) \($0.tensor.shape)" }.sorted()
    XCTAssertEqual(Set(ours).subtracting(reference).sorted(), [], "keys the reference does not have")
    XCTAssertEqual(Set(reference).subtracting(ours).sorted(), [], "reference keys we lack")
    try fillSeededWeights(model, seed: 500)
    try Torch.manualSeed(501)
    let x = try Tensor.rand([1, 3, 256, 256])
    let (logits, levels) = try Torch.withNoGrad { try model(x) }
    let sub = { (t: Tensor) in try t.slice(dim: 2, step: 4).slice(dim: 3, step: 4) }
    assertAllClose(try sub(logits), try f.fixture("logits_sub"), atol: 1e-3, "fused logits")
    for (l, level) in levels.enumerated() {
      assertAllClose(try sub(level), try f.fixture("level\(l)_sub"), atol: 1e-3, "level \(l) logits")
    }
    let expectedSum = try f.fixture("logits_sum").item()
    XCTAssertEqual(try logits.sum().item(), expectedSum, accuracy: 2e-5 * Swift.abs(expectedSum), "sum of 131072 logits (float32 sums)")
  }
}

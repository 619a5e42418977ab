import Foundation
@testable import Models
import NN
import Tensor
import TestSupport
import XCTest

/// HSP-SAM's prompts and LoRA inside SAM ViT blocks against our PyTorch reference on segment-anything 1.0
/// (scripts/reference/hsp_sam_vit.py, fixture made by scripts/fixtures/make_hsp_sam_vit.py), and the ViT backbone
/// of the whole model on random weights.
final class ViTPromptedBlockTests: XCTestCase {
  func testPromptedBlocksMatchTheReference() throws {
    let fixture = Dictionary(uniqueKeysWithValues: try Safetensors.read(path: Fixtures.path("hsp_sam/vit_prompted_blocks.safetensors"))
      .tensors.map { ($0.name, $0.tensor) })
    for (name, window, grid) in [("global", 0, 8), ("windowed", 4, 10)] {
      let block = try ViTBlock(dim: 32, numHeads: 4, mlpRatio: 4, windowSize: window, gridSize: grid)
      try block.attn.attachLoRA(rank: 4)
      let prefix = name + ".state."
      let state = Dictionary(uniqueKeysWithValues: fixture.filter { $0.key.hasPrefix(prefix) }.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
      try block.load(stateDict: state, strict: true, source: name)
      let x = try XCTUnwrap(fixture[name + ".x"]), prompts = try XCTUnwrap(fixture[name + ".prompts"])
      let withPrompts = try XCTUnwrap(fixture[name + ".out"]), without = try XCTUnwrap(fixture[name + ".out_no_prompts"])
      XCTAssertGreaterThan(try (withPrompts - without).abs().max().item(), 0.01, "the prompts change the reference output")
      try Torch.withNoGrad {
        // Tolerance 1e-4: float32, same kernels, different summation order (fused attention vs explicit softmax).
        assertAllClose(try block(x, prompts: prompts), try XCTUnwrap(fixture[name + ".out"]), atol: 1e-4, "\(name) with prompts")
        assertAllClose(try block(x, prompts: nil), try XCTUnwrap(fixture[name + ".out_no_prompts"]), atol: 1e-4, "\(name) LoRA only")
      }
    }
  }

  /// The fusion decoder's learned x16 upscaling for SAM ViT (docs/model.md 3) against `output_upscaling(4)` of
  /// scripts/reference/hsp_sam.py (weights stored as float16, converted to float32 on load).
  func testLearnedUpscalingMatchesTheReference() throws {
    let fixture = try Safetensors.read(path: Fixtures.path("hsp_sam/vit_prompted_blocks.safetensors")).tensors
    let prefix = "upscaling.state."
    let state = Dictionary(uniqueKeysWithValues: try fixture.filter { $0.name.hasPrefix(prefix) }
      .map { (String($0.name.dropFirst(prefix.count)), try $0.tensor.to(.float32)) })
    let head = try MaskHead(outputs: 1, upscalingStages: 4)
    try head.outputUpscaling.load(stateDict: state, strict: true, source: "upscaling")
    let x = try XCTUnwrap(fixture.first { $0.name == "upscaling.x" }?.tensor)
    let expected = try XCTUnwrap(fixture.first { $0.name == "upscaling.out" }?.tensor)
    XCTAssertEqual(expected.shape, [1, 8, 32, 32])
    // Tolerance 1e-4: float32, four transposed convs and three LayerNorm2d in the same order.
    try Torch.withNoGrad { assertAllClose(try head.outputUpscaling(x), expected, atol: 1e-4, "learned x16 upscaling") }
  }

  func testHSPSAMOnAViTBackbone() throws {
    try Torch.manualSeed(3)
    let base = try ModelRegistry.build(.vitB, imageSize: 256)  // 16x16 grid: small enough for a test
    var config = HSPSAMConfig()
    config.backbone = .vitB
    config.promptedLevels = [1, 2, 3, 4]
    config.loraBlocks = .all
    config.promptsPerLevel = 2
    let model = try HSPSAM(config: config, base: base)
    let keys = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.name, $0.tensor.shape) })
    XCTAssertEqual(keys["abstract_prompts.3"], [2, 768])
    XCTAssertEqual(keys["image_encoder.blocks.0.attn.qkv.lora_a_q.weight"], [8, 768])
    XCTAssertEqual(keys["level_necks.0.0.weight"], [256, 768, 1, 1])
    XCTAssertNotNil(keys["level_decoders.2.transformer.layers.0.norm4.weight"], "three level decoders for four levels")
    XCTAssertNotNil(keys["fusion_decoder.blocks.3.norm_final_attn.weight"])
    XCTAssertEqual(model.adaptedStart, 0)
    // fusionUpscale "learned": four 2x2/2 stages 256 -> 64 -> 32 -> 16 -> 8 take the 16x16 grid to the input.
    XCTAssertEqual(keys["fusion_decoder.output_upscaling.9.weight"], [16, 8, 2, 2])
    XCTAssertEqual(keys["fusion_decoder.output_hypernetworks_mlps.1.layers.2.weight"], [8, 256])
    XCTAssertEqual(keys["level_decoders.0.output_upscaling.3.weight"], [64, 32, 2, 2], "level decoders keep SAM's x4")
    let x = try Tensor.rand([1, 3, 256, 256])
    let out = try Torch.withNoGrad { try model(x) }
    XCTAssertEqual(out.logits.shape, [1, 2, 256, 256], "16x the 16x16 grid: the input size")
    XCTAssertEqual(out.levelLogits.map(\.shape), Array(repeating: [1, 2, 64, 64], count: 3))
    XCTAssertGreaterThan(try out.logits.std().item(), 0, "the learned upscaling gives a non-constant map")

    var bilinear = config
    bilinear.fusionUpscale = .x4Bilinear
    let upsampled = try HSPSAM(config: bilinear, base: base)
    let upsampledKeys = Set(upsampled.stateDict().map(\.name))
    XCTAssertTrue(upsampledKeys.contains("fusion_decoder.output_upscaling.3.weight"))
    XCTAssertFalse(upsampledKeys.contains("fusion_decoder.output_upscaling.6.weight"), "x4+bilinear has SAM's two stages")
    XCTAssertEqual(try Torch.withNoGrad { try upsampled(x) }.logits.shape, [1, 2, 256, 256], "x4, then bilinear to the input")

    // LoRA B = 0 and no prompts: the deepest level through the copied neck is SAM's own embedding.
    config.promptedLevels = []
    let plain = try HSPSAM(config: config, base: base)
    try Torch.withNoGrad {
      let features = try plain.encodeLevels(from: plain.encodePrefix(x))
      let neck = try XCTUnwrap(plain.module(at: "level_necks.3") as? Sequential)
      assertAllClose(try neck(features[3]), try base.imageEncoder(x), atol: 1e-4, "deepest level == pretrained embedding")
    }
    config.promptedLevels = [4]
    config.loraBlocks = .fromFirstPrompt
    XCTAssertEqual(try HSPSAM(config: config, base: ModelRegistry.build(.vitB, imageSize: 256)).adaptedStart, 11,
                   "prompts at the last global block only: blocks 0-10 are the cacheable prefix")
  }
}

import Foundation
@testable import Models
import NN
import Tensor
import TestSupport
import XCTest

/// HSP-SAM on the real LiteMedSAM weights (from set-up): keys, the frozen-backbone identities, gradients. Most
/// tests build the default until 2026-12-06 (prompted levels [2, 3], depth-2 level decoders), which exercises a
/// longer adapted tail; `testTheDefaultAdaptsTheLastBlockOnly` checks today's default.
final class HSPSAMTests: XCTestCase {
  static let weights = Fixtures.liteMedSAMWeights

  func makeModel(_ configure: (inout HSPSAMConfig) -> Void = { _ in }) throws -> HSPSAM {
    guard FileManager.default.fileExists(atPath: Self.weights) else { throw XCTSkip("run scripts/setup.sh for lite_medsam.pth") }
    var config = HSPSAMConfig()
    (config.promptedLevels, config.levelDecoderDepth) = ([2, 3], 2)
    configure(&config)
    try Torch.manualSeed(0)
    return try HSPSAM(config: config, base: ModelRegistry.load(.litemedsam, checkpoint: Self.weights))
  }

  func testKeysShapesAndOutputs() throws {
    let model = try makeModel()
    let keys = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.name, $0.tensor.shape) })
    XCTAssertEqual(keys["abstract_prompts.0"], [4, 128])
    XCTAssertEqual(keys["abstract_prompts.2"], [4, 320])
    XCTAssertEqual(keys["level_necks.0.0.weight"], [256, 160, 1, 1])
    XCTAssertEqual(keys["image_encoder.layers.2.blocks.5.attn.qkv.lora_a_q.weight"], [8, 160])
    XCTAssertEqual(keys["image_encoder.layers.3.blocks.1.attn.qkv.lora_b_v.weight"], [320, 8])
    XCTAssertNil(keys["image_encoder.layers.2.blocks.4.attn.qkv.lora_a_q.weight"], "no LoRA before the first prompted block")
    XCTAssertEqual(keys["prompt_projections.1.token_mlps.3.layers.2.weight"], [256, 64])
    XCTAssertEqual(keys["level_decoders.1.transformer.layers.1.norm4.weight"], [256])
    XCTAssertEqual(keys["mask_downscalers.0.6.weight"], [256, 32, 1, 1])
    XCTAssertEqual(keys["fusion_decoder.blocks.2.final_attn_token_to_image.q_proj.weight"], [128, 256])
    XCTAssertEqual(keys["mask_decoder.iou_token.weight"], [1, 256], "the LiteMedSAM keys are kept")
    XCTAssertEqual(model.adaptedStart, 7, "stage 2 block 5: flat block 7 (stage 1 has 2 blocks)")
    let trainable = Set(model.trainableParameters().map(\.name))
    XCTAssertFalse(trainable.contains("image_encoder.layers.2.blocks.5.attn.qkv.weight"), "pretrained weights are frozen")
    XCTAssertTrue(trainable.contains("image_encoder.layers.2.blocks.5.attn.qkv.lora_b_q.weight"))
    XCTAssertTrue(trainable.contains("abstract_prompts.1"))
    let out = try Torch.withNoGrad { try model(Tensor.rand([1, 3, 256, 256])) }
    XCTAssertEqual(out.logits.shape, [1, 2, 256, 256])
    XCTAssertEqual(out.levelLogits.map(\.shape), [[1, 2, 256, 256], [1, 2, 256, 256]])
  }

  /// Today's default: prompts at the last block of stage 3 only, LoRA there only, depth-1 level decoders; the
  /// cached prefix holds everything before flat block 9, and levels 1 and 2 are completed inside it.
  func testTheDefaultAdaptsTheLastBlockOnly() throws {
    let model = try makeModel { $0 = HSPSAMConfig() }
    XCTAssertEqual(model.adaptedStart, 9, "stage 3 block 1: flat block 9 of 10")
    let keys = Set(model.stateDict().map(\.name))
    XCTAssertTrue(keys.contains("image_encoder.layers.3.blocks.1.attn.qkv.lora_a_q.weight"))
    XCTAssertFalse(keys.contains("image_encoder.layers.3.blocks.0.attn.qkv.lora_a_q.weight"), "no LoRA before the prompted block")
    XCTAssertFalse(keys.contains("level_decoders.0.transformer.layers.1.norm4.weight"), "depth-1 level decoders")
    XCTAssertTrue(keys.contains("abstract_prompts.1"), "level 2's prompts still reach its level decoder as tokens")
    let prefix = try Torch.withNoGrad { try model.encodePrefix(Tensor.rand([1, 3, 256, 256])) }
    XCTAssertEqual(prefix.features.keys.sorted(), [1, 2], "levels 1 and 2 come from the cached prefix")
  }

  /// promptBlocks all-of-stage: every block of a prompted level gets its prompts, so the cacheable prefix ends
  /// where the first prompted stage starts; with the same weights the prompted levels' features change and the
  /// level before them does not.
  func testPromptBlocksAllOfStage() throws {
    let last = try makeModel()
    let all = try makeModel { $0.promptBlocks = .allOfStage }
    XCTAssertEqual(all.promptOfBlock.keys.sorted(), Array(2...9), "stage 2 (flat 2-7) and stage 3 (8-9)")
    XCTAssertEqual(last.promptOfBlock.keys.sorted(), [7, 9])
    XCTAssertEqual(all.adaptedStart, 2)
    let state = Dictionary(uniqueKeysWithValues: last.stateDict().map { ($0.name, $0.tensor) })
    let keys = Set(all.stateDict().map(\.name))
    try all.load(stateDict: state.filter { keys.contains($0.key) }, strict: false, source: "last-of-stage")
    let x = try Tensor.rand([1, 3, 256, 256])
    try Torch.withNoGrad {
      let a = try all.encodeLevels(from: all.encodePrefix(x)), b = try last.encodeLevels(from: last.encodePrefix(x))
      assertAllClose(a[0], b[0], atol: 1e-5, "level 1 is before every prompt")
      XCTAssertGreaterThan(try (a[1] - b[1]).abs().max().item(), 1e-3, "stage 2's first blocks now see the prompts")
    }
  }

  /// levelDecoderDepth 1 with pretrained init: one layer, SAM's first layer and final attention copied.
  func testPretrainedDepthOneLevelDecoders() throws {
    let model = try makeModel { $0.levelDecoderDepth = 1 }
    let state = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.name, $0.tensor) })
    XCTAssertNil(state["level_decoders.0.transformer.layers.1.norm4.weight"])
    for key in ["layers.0.cross_attn_token_to_image.q_proj.weight", "final_attn_token_to_image.v_proj.weight"] {
      let copied = try XCTUnwrap(state["level_decoders.1.transformer." + key]), pretrained = try XCTUnwrap(state["mask_decoder.transformer." + key])
      XCTAssertEqual(try copied.bytes(), try pretrained.bytes(), key)
    }
    XCTAssertEqual(try makeModel { $0.levelDecoderInit = .random; $0.levelDecoderDepth = nil }.config.levelDecoderLayers, 1,
                   "random, depth following the init: [code] depth 1")
  }

  func testWithoutPromptsAndZeroLoRAItIsTheFrozenBackbone() throws {
    let model = try makeModel { $0.promptedLevels = []; $0.loraBlocks = .all }
    XCTAssertEqual(model.adaptedStart, 0, "LoRA everywhere: nothing is cacheable beyond stage 0")
    let x = try Tensor.rand([1, 3, 256, 256])
    try Torch.withNoGrad {
      let features = try model.encodeLevels(from: model.encodePrefix(x))
      let embedding = try model.base.imageEncoder(x)
      // Level 3 through the copied pretrained neck must be LiteMedSAM's own embedding: LoRA B = 0 changes nothing.
      let neck = try XCTUnwrap(model.module(at: "level_necks.2") as? Sequential)
      assertAllClose(try neck(features[2]), embedding, atol: 1e-5, "deepest level == pretrained embedding")
    }
  }

  func testGradientsReachOnlyTrainedParameters() throws {
    let model = try makeModel { $0.promptsPerLevel = 2 }
    model.train()
    let x = try Tensor.rand([1, 3, 256, 256])
    let target = try Tensor.rand([1, 256, 256]).gt(0.7).to(.int64)
    let frozenBefore = try model.base.imageEncoder.namedParameters().filter { !$0.name.contains("lora") }
      .prefix(50).map { ("image_encoder." + $0.name, try $0.tensor.clone()) }
    let (logits, levels) = try model(x)
    var loss = try Losses.segmentation(logits: logits, target: target)
    for level in levels { loss = try loss + Losses.segmentation(logits: level, target: target) * (0.5 / Double(levels.count)) }
    try loss.backward()
    for name in ["abstract_prompts.1", "abstract_prompts.2", "image_encoder.layers.3.blocks.0.attn.qkv.lora_b_v.weight",
                 "level_necks.0.0.weight", "fusion_decoder.mask_tokens.weight"] {
      let p = try XCTUnwrap(model.namedParameters().first { $0.name == name }?.tensor, name)
      XCTAssertGreaterThan(try XCTUnwrap(try p.grad, name).abs().sum().item(), 0, "\(name) receives a gradient")
    }
    XCTAssertNil(try model.base.maskDecoder.parameters()[0].grad, "SAM's own decoder is frozen")
    let optimizer = AdamW(model.trainableParameters(), learningRate: 1e-3)
    try optimizer.step()
    for (name, before) in frozenBefore {
      let now = try XCTUnwrap(model.namedParameters().first { $0.name == name }?.tensor)
      XCTAssertEqual(try now.bytes(), try before.bytes(), "\(name) is not updated")
    }
  }

  func testConfigValidation() throws {
    var config = HSPSAMConfig()
    config.promptedLevels = [4]
    XCTAssertThrowsError(try config.validate()) { XCTAssertTrue($0.localizedDescription.contains("promptedLevels")) }
    config = HSPSAMConfig()
    config.backbone = .vitT
    XCTAssertThrowsError(try config.validate()) { XCTAssertTrue($0.localizedDescription.contains("HSP-SAM runs on litemedsam, vit_b")) }
    config.backbone = .vitB
    config.promptedLevels = [4]
    XCTAssertNoThrow(try config.validate(), "SAM ViT has four levels")
    config.levelDecoderDepth = 3
    XCTAssertThrowsError(try config.validate()) { XCTAssertTrue($0.localizedDescription.contains("levelDecoderDepth must be 1 or 2")) }
    config.levelDecoderDepth = nil
    XCTAssertEqual(config.levelDecoderLayers, 2, "nil follows the init: pretrained is SAM's two layers")
    let old = try JSONDecoder().decode(HSPSAMConfig.self, from: Data(#"{"promptedLevels": [2, 3]}"#.utf8))
    XCTAssertNil(old.levelDecoderDepth, "a configuration written before the key existed keeps the depth its init gave")
    XCTAssertEqual(HSPSAMConfig().levelDecoderLayers, 1)
    // The closed sets are enums: a value outside one is refused when the JSON is read, naming the ones allowed.
    for (json, expected) in [(#"{"promptBlocks": "every"}"#, "must be last-of-stage or all-of-stage, got every"),
                             (#"{"fusionUpscale": "x16"}"#, "must be learned or x4+bilinear, got x16"),
                             (#"{"loraBlocks": "some"}"#, "must be from-first-prompt, all, prompted-only or none, got some")] {
      XCTAssertThrowsError(try JSONDecoder().decode(HSPSAMConfig.self, from: Data(json.utf8))) { error in
        guard case DecodingError.dataCorrupted(let context) = error else { return XCTFail("\(error)") }
        XCTAssertEqual(context.debugDescription, expected)
      }
    }
    XCTAssertEqual(String(decoding: try JSONEncoder().encode(HSPSAMConfig.FusionUpscale.x4Bilinear), as: UTF8.self), #""x4+bilinear""#)
  }
}

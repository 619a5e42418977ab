import Foundation
import Models
import NN
import Tensor
import TestSupport
import XCTest

/// The trained baselines of docs/model.md 5 (`model.architecture`), on the real LiteMedSAM
/// weights: what exists, what is trained, what stays the frozen LiteMedSAM.
final class BaselineArchitectureTests: XCTestCase {
  func makeModel(_ architecture: HSPSAMConfig.Architecture) throws -> HSPSAM {
    guard FileManager.default.fileExists(atPath: HSPSAMTests.weights) else { throw XCTSkip("run scripts/setup.sh for lite_medsam.pth") }
    var config = HSPSAMConfig()
    config.architecture = architecture
    switch architecture {
    case .singleLevel: config.promptedLevels = [3]
    case .decoderOnly, .positional: (config.promptedLevels, config.loraBlocks) = ([], .none)
    case .hierarchical: break
    }
    try Torch.manualSeed(0)
    return try HSPSAM(config: config, base: ModelRegistry.load(.litemedsam, checkpoint: HSPSAMTests.weights))
  }

  /// Names of trained tensors, with the block-level prefixes collapsed (`decoder.transformer...` -> `decoder`).
  func trainedGroups(_ model: HSPSAM) -> Set<String> {
    Set(model.trainableParameters().map { name in
      name.name.contains(".lora_") ? "lora" : String(name.name.split(separator: ".").prefix(2).joined(separator: "."))
    })
  }

  func testSingleLevelHasOnePromptedLevelAndOneDecoder() throws {
    let model = try makeModel(.singleLevel)
    XCTAssertEqual(model.adaptedStart, 9, "prompts and LoRA from the last block of stage 3 (flat block 9 of 10) on")
    XCTAssertEqual(trainedGroups(model), ["abstract_prompts.2", "level_necks.2", "prompt_projections.2", "decoder.transformer",
                                          "decoder.mask_tokens", "decoder.output_upscaling", "decoder.output_hypernetworks_mlps", "lora"])
    let x = try Tensor.rand([1, 3, 256, 256])
    let prefix = try model.encodePrefix(x)
    XCTAssertTrue(prefix.features.isEmpty, "no shallower level is decoded, so none is cached")
    XCTAssertEqual(prefix.tokens.shape, [1, 64 * 64, 320])
    let out = try Torch.withNoGrad { try model.decode(features: model.encodeLevels(from: prefix)) }
    XCTAssertEqual(out.logits.shape, [1, 2, 256, 256])
    XCTAssertTrue(out.levelLogits.isEmpty)
    // The one decoder starts as the pretrained mask decoder.
    let pretrained = try XCTUnwrap(model.module(at: "mask_decoder.transformer.layers.1.mlp.lin1") as? Linear)
    let copied = try XCTUnwrap(model.module(at: "decoder.transformer.layers.1.mlp.lin1") as? Linear)
    assertAllClose(copied.weight, pretrained.weight, atol: 0, "decoder copied from LiteMedSAM")
  }

  func testDecoderOnlyTrainsTheDecoderOnLiteMedSAMsOwnEmbedding() throws {
    let model = try makeModel(.decoderOnly)
    XCTAssertEqual(model.adaptedStart, 10, "the whole encoder (10 blocks) is frozen and cacheable")
    XCTAssertEqual(trainedGroups(model), ["decoder.transformer", "decoder.mask_tokens", "decoder.output_upscaling",
                                          "decoder.output_hypernetworks_mlps"])
    let x = try Tensor.rand([1, 3, 256, 256])
    let prefix = try model.encodePrefix(x)
    XCTAssertTrue(prefix.features.isEmpty, "the deepest feature is the cached tokens themselves, not stored twice")
    try Torch.withNoGrad {
      let features = try model.encodeLevels(from: prefix)
      assertAllClose(try model.frozenEmbedding(features[0]), try model.base.imageEncoder(x), atol: 1e-5,
                     "decoder-only decodes LiteMedSAM's own image embedding")
    }
    model.train()
    let (logits, _) = try model.decode(features: model.encodeLevels(from: prefix))
    XCTAssertEqual(logits.shape, [1, 2, 256, 256])
    try (logits.select(dim: 1, index: 1).mean()).backward()
    for (name, tensor) in model.trainableParameters() where name.hasPrefix("decoder.transformer.layers.0") {
      XCTAssertNotNil(try tensor.grad, "\(name) gets a gradient")
    }
  }

  func testPositionalTrainsAPixelClassifierOnly() throws {
    let model = try makeModel(.positional)
    XCTAssertEqual(Set(model.trainableParameters().map(\.name)), ["pixel_classifier.weight", "pixel_classifier.bias"])
    let (logits, levels) = try Torch.withNoGrad { try model(Tensor.rand([2, 3, 256, 256])) }
    XCTAssertEqual(logits.shape, [2, 2, 256, 256], "the 64x64 classifier map, upsampled to the input frame")
    XCTAssertEqual(try logits.select(dim: 1, index: 0).abs().max().item(), 0, "background logit 0: softmax = sigmoid")
    XCTAssertTrue(levels.isEmpty)
  }

  func testArchitectureConfigRules() throws {
    var config = HSPSAMConfig()
    config.architecture = .decoderOnly
    XCTAssertThrowsError(try config.validate()) { XCTAssertTrue("\($0)".contains("promptedLevels []"), "\($0)") }
    config.architecture = .singleLevel
    config.promptedLevels = [2, 3]
    XCTAssertThrowsError(try config.validate()) { XCTAssertTrue("\($0)".contains("promptedLevels must be [3]"), "\($0)") }
    config.promptedLevels = [3]
    XCTAssertNoThrow(try config.validate())
    // Checkpoints written before `architecture` existed decode as hierarchical.
    let old = try JSONDecoder().decode(HSPSAMConfig.self, from: Data(#"{"promptsPerLevel": 2}"#.utf8))
    XCTAssertEqual(old.architecture, .hierarchical)
    XCTAssertEqual(old.promptsPerLevel, 2)
    XCTAssertThrowsError(try JSONDecoder().decode(HSPSAMConfig.self, from: Data(#"{"architecture": "cascade"}"#.utf8)))
  }
}

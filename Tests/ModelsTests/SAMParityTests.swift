import Foundation
import Models
import NN
import Tensor
import TestSupport
import XCTest

/// SAM components against segment-anything 1.0 on a tiny random-weight configuration (2 ViT blocks, one of them
/// global, window 3 on an 8x8 grid so padding is exercised; transformer width 32). Fixture:
/// scripts/fixtures/make_sam.py. Tolerances (float32): embeddings and prompt embeddings 1e-4; mask logits 1e-3
/// and IoU predictions 1e-4, the issue's parity bounds.
final class SAMParityTests: XCTestCase {
  static func tinySam() throws -> Sam {
    var config = ImageEncoderViTConfig(imgSize: 64, embedDim: 32, depth: 2, numHeads: 2, globalAttnIndexes: [1],
                                       patchSize: 8, windowSize: 3, outChans: 32)
    config.mlpRatio = 2
    let encoder = try ImageEncoderViT(config)
    let prompt = try PromptEncoder(embedDim: 32, imageEmbeddingSize: (8, 8), inputImageSize: (64, 64), maskInChans: 16)
    let decoder = try MaskDecoder(transformerDim: 32,
                                  transformer: TwoWayTransformer(depth: 2, embeddingDim: 32, numHeads: 2, mlpDim: 64),
                                  iouHeadHiddenDim: 32)
    let sam = Sam(kind: .vitB, imageEncoder: encoder, promptEncoder: prompt, maskDecoder: decoder, contract: .sam(size: 64))
    try fillSeededWeights(sam, seed: 100)
    return sam
  }

  func testTinySamMatchesReference() throws {
    let f = try Fixtures.tensors("sam/tiny_sam.safetensors")
    let sam = try Self.tinySam()
    try Torch.withNoGrad {
      let embedding = try sam.imageEncoder(f.fixture("image"))
      assertAllClose(embedding, try f.fixture("embedding"), atol: 1e-4, "image embedding")
      assertAllClose(try sam.promptEncoder.densePositionalEncoding(), try f.fixture("dense_pe"), atol: 1e-5, "dense PE")
      let points = (coords: try f.fixture("points"), labels: try f.fixture("labels"))
      let cases: [(String, (coords: Tensor, labels: Tensor)?, Tensor?, Tensor?, Bool)] = [
        ("points", points, nil, nil, true),
        ("box", nil, try f.fixture("box"), nil, false),
        ("points_box", points, try f.fixture("box"), nil, true),
        ("mask", points, nil, try f.fixture("mask_input"), false),
        ("boxes2", nil, try f.fixture("boxes2"), nil, true),
        ("none", nil, nil, nil, false),
      ]
      for (name, p, box, mask, multi) in cases {
        let (sparse, dense) = try sam.promptEncoder(points: p, boxes: box, masks: mask)
        assertAllClose(sparse, try f.fixture("\(name).sparse"), atol: 1e-4, "\(name) sparse embeddings")
        assertAllClose(dense, try f.fixture("\(name).dense"), atol: 1e-4, "\(name) dense embeddings")
        let out = try sam.decode(embedding: embedding, points: p, boxes: box, maskInput: mask, multimaskOutput: multi)
        assertAllClose(out.masks, try f.fixture("\(name).masks"), atol: 1e-3, "\(name) mask logits")
        assertAllClose(out.iou, try f.fixture("\(name).iou"), atol: 1e-4, "\(name) IoU predictions")
      }
    }
  }

  func testTinyTinyViTMatchesReference() throws {
    let f = try Fixtures.tensors("sam/tiny_tinyvit.safetensors")
    var config = TinyViTConfig()
    config.embedDims = [16, 32, 40, 320]
    config.depths = [1, 1, 2, 1]
    config.numHeads = [1, 2, 2, 10]
    let encoder = try TinyViT(config)
    try fillSeededWeights(encoder, seed: 200)
    try Torch.manualSeed(201)
    let x = try Tensor.rand([1, 3, 256, 256])
    // Folded BatchNorm + channels-last (no-grad inference) and the plain path (grad enabled) both match.
    let unfolded = try encoder(x)
    let out = try Torch.withNoGrad { try encoder(x) }
    XCTAssertEqual(out.shape, [1, 256, 64, 64])
    assertAllClose(out, unfolded, atol: 1e-4, "BN folded into convolutions vs BN applied")
    let sub = try out.slice(dim: 1, step: 8).slice(dim: 2, step: 4).slice(dim: 3, step: 4)
    assertAllClose(sub, try f.fixture("tinyvit.out_sub"), atol: 1e-4, "embedding (every 8th channel, 4th pixel)")
    XCTAssertEqual(try out.sum().item(), try f.fixture("tinyvit.out_sum").item(), accuracy: 0.05, "sum of 1M values")
    XCTAssertEqual(try out.abs().sum().item(), try f.fixture("tinyvit.out_abs_sum").item(), accuracy: 0.05)
  }

  /// MobileSAM's vit_t (the same TinyViT code with stride-2 patch embedding and the unused classification head)
  /// against mobilesam-mirror 1.0.0 at 1024, seeded weights. Tolerance 1e-4 on the embedding.
  func testVitTMatchesMobileSAM() throws {
    let f = try Fixtures.tensors("sam/tiny_tinyvit.safetensors")
    let sam = try ModelRegistry.build(.vitT)
    try fillSeededWeights(sam, seed: 400)
    try Torch.manualSeed(401)
    let x = try Tensor.rand([1, 3, 1024, 1024])
    let out = try Torch.withNoGrad { try sam.imageEncoder(x) }
    XCTAssertEqual(out.shape, [1, 256, 64, 64])
    assertAllClose(try out.slice(dim: 1, step: 8).slice(dim: 2, step: 4).slice(dim: 3, step: 4), try f.fixture("vit_t.out_sub"),
                   atol: 1e-4, "vit_t embedding")
    XCTAssertEqual(try out.sum().item(), try f.fixture("vit_t.out_sum").item(), accuracy: 0.05)
  }

  func testRegistryKeysAndShapesEqualReference() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("sam/manifests.json")))
    let manifests = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [[Any]]])
    for kind in [ModelKind.litemedsam, .vitB, .vitL, .vitH, .vitT] {
      let expected = try XCTUnwrap(manifests[kind.rawValue]).map { "\($0[0]) \($0[1] as? [Int] ?? [])" }
      let model = try ModelRegistry.build(kind)
      let actual = model.stateDict().map { "\($0.name) \($0.tensor.shape)" }
      XCTAssertEqual(Set(actual).subtracting(expected).sorted(), [], "\(kind) keys the reference does not have")
      XCTAssertEqual(Set(expected).subtracting(actual).sorted(), [], "\(kind) reference keys we lack")
      let firstDifference = actual.indices.first { $0 >= expected.count || actual[$0] != expected[$0] }
      XCTAssertNil(firstDifference, "\(kind) state_dict order differs at \(firstDifference.map { actual[$0] } ?? "")")
    }
  }
}

/// SAM ViT at another input size: a checkpoint made at one size loads into a model built for another, with
/// `pos_embed` resized bilinearly and the global blocks' rel-pos tables resized to 2 * grid - 1 rows (SAMed).
final class ViTInputSizeTests: XCTestCase {
  func testCheckpointAdaptsToAnotherInputSize() throws {
    func encoder(_ size: Int) throws -> ImageEncoderViT {
      try ImageEncoderViT(ImageEncoderViTConfig(imgSize: size, embedDim: 32, depth: 2, numHeads: 2, globalAttnIndexes: [1],
                                                patchSize: 8, windowSize: 3, outChans: 32))
    }
    let large = try encoder(128), small = try encoder(64)
    try fillSeededWeights(large, seed: 9)
    let state = Dictionary(uniqueKeysWithValues: large.stateDict().map { ($0.name, $0.tensor) })
    XCTAssertThrowsError(try small.load(stateDict: state), "shapes differ before adaptation")
    try small.load(stateDict: small.adaptPositionalParameters(state))
    let positional = try XCTUnwrap(small.stateDict().first { $0.name == "pos_embed" }?.tensor)
    XCTAssertEqual(positional.shape, [1, 8, 8, 32])
    let expected = try XCTUnwrap(state["pos_embed"]).permute([0, 3, 1, 2]).interpolate(size: (8, 8), mode: .bilinear).permute([0, 2, 3, 1])
    assertAllClose(positional, expected, atol: 1e-6)
    XCTAssertEqual(small.stateDict().first { $0.name == "blocks.1.attn.rel_pos_h" }?.tensor.shape, [15, 16])
    XCTAssertEqual(small.stateDict().first { $0.name == "blocks.0.attn.rel_pos_h" }?.tensor.shape, [5, 16], "windowed tables keep their size")
    let out = try Torch.withNoGrad { try small(Tensor.rand([1, 3, 64, 64])) }
    XCTAssertEqual(out.shape, [1, 32, 8, 8])
  }
}

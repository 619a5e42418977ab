import Foundation
import Tensor
import TestSupport
@testable import Training
import XCTest

/// `RunCheckpoint.average` (`hspsam average`) on small hand-made checkpoints: no base weights needed.
final class CheckpointAverageTests: XCTestCase {
  var folder: URL!

  override func setUpWithError() throws { folder = try makeTemporaryFolder() }
  override func tearDown() { if let folder { try? FileManager.default.removeItem(at: folder) } }

  /// A checkpoint holding `tensors` (names without the `model.` prefix) and an optimiser tensor that must not be
  /// averaged into the result.
  func write(_ name: String, _ tensors: [(String, Tensor)], config: TrainingConfig = TrainingConfig(), baseBytes: Int = 100) throws -> String {
    let metadata = RunCheckpoint.Metadata(epoch: 3, step: 30, bestValidationDice: 0.5, validationDice: 0.5, config: config,
                                          baseCheckpoint: "lite_medsam.pth", baseCheckpointBytes: baseBytes)
    let json = String(decoding: try JSONEncoder().encode(metadata), as: UTF8.self)
    let path = folder.appendingPathComponent(name).path
    try Safetensors.write(tensors.map { (RunCheckpoint.modelPrefix + $0.0, $0.1) } + [("optimizer.step", try Tensor([Float(7)]))],
                          metadata: ["hspsam": json, "format": "hspsam-run-1"], to: path)
    return path
  }

  /// The mean is element-wise and exact for these values (tolerance 1e-7); a float16 source (what `export` writes)
  /// is averaged in float32; the metadata is the first source's with the sources listed.
  func testMeanOfThreeCheckpoints() throws {
    let a = try write("a.safetensors", [("prompts", try Tensor([Float(1), 2, 3, 4]).reshape([2, 2])), ("bias", try Tensor([Float(0.5)]))])
    let b = try write("b.safetensors", [("prompts", try Tensor([Float(3), 2, 1, 0]).reshape([2, 2])), ("bias", try Tensor([Float(1.5)]))])
    let c = try write("c.safetensors", [("prompts", try Tensor([Float(2), 5, 2, -1]).reshape([2, 2]).to(.float16)),
                                         ("bias", try Tensor([Float(-0.5)]).to(.float16))])
    let output = folder.appendingPathComponent("soup.safetensors").path
    try RunCheckpoint.average([a, b, c], to: output)
    let soup = try RunCheckpoint.read(output)
    XCTAssertEqual(Set(soup.model.keys), ["prompts", "bias"])
    XCTAssertTrue(soup.optimizer.isEmpty, "no optimiser state in an average")
    assertAllClose(try XCTUnwrap(soup.model["prompts"]), try Tensor([Float(2), 3, 2, 1]).reshape([2, 2]), atol: 1e-7, "prompts")
    assertAllClose(try XCTUnwrap(soup.model["bias"]), try Tensor([Float(0.5)]), atol: 1e-7, "bias")
    XCTAssertEqual(soup.model["prompts"]?.dtype, .float32)
    XCTAssertEqual(soup.metadata.averagedFrom, [a, b, c])
    XCTAssertEqual(soup.metadata.config, TrainingConfig())
  }

  /// Checkpoints of different models are refused with the file named, and nothing is written; an existing
  /// output is never overwritten.
  func testRefusesMismatchesAndKeepsExistingFiles() throws {
    let a = try write("a.safetensors", [("prompts", try Tensor([Float(1), 2]))])
    let shape = try write("shape.safetensors", [("prompts", try Tensor([Float(1), 2, 3]))])
    let names = try write("names.safetensors", [("other", try Tensor([Float(1), 2]))])
    var otherModel = TrainingConfig()
    otherModel.model.promptsPerLevel += 1
    let config = try write("config.safetensors", [("prompts", try Tensor([Float(1), 2]))], config: otherModel)
    let base = try write("base.safetensors", [("prompts", try Tensor([Float(1), 2]))], baseBytes: 101)
    let output = folder.appendingPathComponent("soup.safetensors").path
    let expected = [(shape, "prompts has shape [3]"), (names, "tensor names differ"), (config, "another model"), (base, "was trained on")]
    for (other, reason) in expected {
      XCTAssertThrowsError(try RunCheckpoint.average([a, other], to: output)) {
        XCTAssertTrue($0.localizedDescription.hasPrefix(other), $0.localizedDescription)
        XCTAssertTrue($0.localizedDescription.contains(reason), $0.localizedDescription)
      }
      XCTAssertFalse(FileManager.default.fileExists(atPath: output), "nothing written after: \(reason)")
    }
    XCTAssertThrowsError(try RunCheckpoint.average([a], to: output))
    try Data("keep".utf8).write(to: URL(fileURLWithPath: output))
    XCTAssertThrowsError(try RunCheckpoint.average([a, a], to: output)) {
      XCTAssertTrue($0.localizedDescription.contains("exists: not overwritten"), $0.localizedDescription)
    }
    XCTAssertEqual(try String(contentsOfFile: output, encoding: .utf8), "keep")
  }
}

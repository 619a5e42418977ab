import Foundation
import Tensor
import TestSupport
import XCTest

/// .pth files written by torch.save (fixtures) and safetensors round trips. Exact equality: loading copies bits.
final class CheckpointTests: XCTestCase {
  func testOrderedDictWithMetadata() throws {
    let tensors = try TorchCheckpoint.loadStateDict(path: Fixtures.path("foundation/ordered_state_dict.pt"))
    let expected = try Fixtures.tensors("foundation/checkpoint_expected.safetensors")
    XCTAssertEqual(tensors.map(\.name), ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                          "bn.running_var", "bn.num_batches_tracked", "head.weight", "head.bias"],
                   "state_dict order is kept")
    for (name, tensor) in tensors { assertAllClose(tensor, try expected.fixture("model." + name), atol: 0, name) }
  }

  func testNestedDictMixedDTypesViewsAndSharedStorage() throws {
    let path = Fixtures.path("foundation/nested_checkpoint.pt")
    let all = Dictionary(uniqueKeysWithValues: try TorchCheckpoint.loadTensors(path: path).map { ($0.name, $0.tensor) })
    let expected = try Fixtures.tensors("foundation/checkpoint_expected.safetensors")
    XCTAssertEqual(Set(all.keys), Set(expected.keys))
    for (name, tensor) in all {
      XCTAssertEqual(tensor.dtype, try expected.fixture(name).dtype, name)
      XCTAssertEqual(try tensor.bytes(), try expected.fixture(name).bytes(), "\(name) loads bit-exact")
    }
    XCTAssertEqual(try all.fixture("extra.odd.half").dtype, .float16)
    XCTAssertEqual(try all.fixture("extra.odd.bf16").dtype, .bfloat16)
    XCTAssertEqual(try all.fixture("extra.odd.transposed").strides, [1, 6], "non-contiguous layout is kept")
    // Shared storage: writing through `base` is visible in the `row` view, as in PyTorch.
    try all.fixture("extra.odd.base").fill(-1)
    XCTAssertEqual(try all.fixture("extra.odd.row").floats(), [Float](repeating: -1, count: 6))
    let model = try TorchCheckpoint.loadStateDict(path: path)
    XCTAssertEqual(model.count, 9, "the state dict under 'model' is found")
  }

  func testSafetensorsRoundTrip() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hspsam-st-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("x.safetensors").path
    let tensors: [(name: String, tensor: Tensor)] = [
      ("a.weight", try Tensor.randn([3, 4])), ("b", try Tensor([1, 2] as [Int64])),
      ("c", try Tensor.randn([2, 3]).to(.bfloat16)), ("d", try Tensor.randn([5]).to(.float16)),
      ("e", try Tensor([true, false])), ("t", try Tensor.randn([4, 3]).transpose(0, 1)),
    ]
    try Safetensors.write(tensors, metadata: ["format": "pt"], to: path)
    let (back, metadata) = try Safetensors.read(path: path)
    XCTAssertEqual(metadata, ["format": "pt"])
    let byName = Dictionary(uniqueKeysWithValues: back.map { ($0.name, $0.tensor) })
    for (name, tensor) in tensors {
      XCTAssertEqual(try byName.fixture(name).bytes(), try tensor.bytes(), name)
      XCTAssertEqual(try byName.fixture(name).shape, tensor.shape, name)
    }
    // PyTorch's safetensors writer made this file; we read its header the same way.
    XCTAssertNoThrow(try Safetensors.read(path: Fixtures.path("foundation/init.safetensors")))
  }

  /// A `.safetensors.xz` path is written and read as one .xz stream (liblzma): the same tensors back, fewer bytes
  /// for compressible data, and a damaged or foreign file is refused in one line naming it.
  func testCompressedSafetensorsRoundTripAndRefuseDamage() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hspsam-xz-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let plain = dir.appendingPathComponent("x.safetensors").path, packed = plain + ".xz"
    let tensors: [(name: String, tensor: Tensor)] = [
      ("codes", try (Tensor.randn([256, 512]) * 8 + 128).round().clamp(min: 100, max: 156).to(.uint8)),
      ("scale", try Tensor.randn([256]).to(.float16)),
    ]
    try Safetensors.write(tensors, metadata: ["note": "8-bit"], to: plain)
    try Safetensors.write(tensors, metadata: ["note": "8-bit"], to: packed)
    let (back, metadata) = try Safetensors.read(path: packed)
    XCTAssertEqual(metadata, ["note": "8-bit"])
    XCTAssertEqual(try back.map { try $0.tensor.bytes() }, try tensors.map { try $0.tensor.bytes() })
    let size = { (path: String) in try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) }
    XCTAssertLessThan(try size(packed), try size(plain) * 3 / 4, "small integer codes compress")
    XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: packed)).prefix(6)), [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00],
                   "an .xz stream (xz-utils reads it)")
    // Truncated, and a plain safetensors file named .xz: one line each, naming the file.
    let whole = try Data(contentsOf: URL(fileURLWithPath: packed))
    let truncated = dir.appendingPathComponent("truncated.safetensors.xz").path
    try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: truncated))
    let foreign = dir.appendingPathComponent("foreign.safetensors.xz").path
    try FileManager.default.copyItem(atPath: plain, toPath: foreign)
    for (path, reason) in [(truncated, "truncated .xz data"), (foreign, "not an .xz stream")] {
      XCTAssertThrowsError(try Safetensors.read(path: path)) { error in
        let line = error.localizedDescription
        XCTAssertTrue(line.contains(path) && line.contains(reason) && !line.contains("\n"), line)
      }
    }
    // A stream that expands past the bound is refused, not allocated: 4 MB of zeros (a few hundred bytes as .xz)
    // against a 1 MB bound; under the bound it decodes whole.
    let zeros = try XZ.encode(Data(count: 4 << 20), destination: "zeros.xz")
    XCTAssertLessThan(zeros.count, 4096)
    XCTAssertThrowsError(try XZ.decode(zeros, source: "zeros.xz", limit: 1 << 20)) { error in
      XCTAssertTrue(error.localizedDescription.contains("more than the allowed size"), error.localizedDescription)
    }
    XCTAssertEqual(try XZ.decode(zeros, source: "zeros.xz", limit: 8 << 20), Data(count: 4 << 20))
  }

  func testCorruptAndTruncatedFilesGiveClearErrors() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hspsam-bad-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let good = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("foundation/nested_checkpoint.pt")))
    let truncated = dir.appendingPathComponent("truncated.pt").path
    try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: truncated))
    XCTAssertThrowsError(try TorchCheckpoint.loadTensors(path: truncated)) { error in
      XCTAssertEqual(error.localizedDescription, "\(truncated): a damaged or truncated zip archive, not a readable PyTorch "
                     + "checkpoint (PytorchStreamReader failed reading zip archive: failed finding central directory)",
                     "one line, without libtorch's advice")
    }
    let garbage = dir.appendingPathComponent("garbage.pth").path
    try Data("not a checkpoint at all".utf8).write(to: URL(fileURLWithPath: garbage))
    XCTAssertThrowsError(try TorchCheckpoint.loadTensors(path: garbage)) { error in
      XCTAssertEqual(error.localizedDescription, "\(garbage): not a zip archive: expected a PyTorch checkpoint (the zip archive torch.save writes)")
    }
    XCTAssertThrowsError(try TorchCheckpoint.loadTensors(path: dir.path)) { error in
      XCTAssertEqual(error.localizedDescription, "\(dir.path): a folder, not a checkpoint file (expected a .pth/.pt file written by torch.save)")
    }
    // A zip of a text file (what unzip, not torch.save, makes): libtorch's reader would say "[enforce fail at ...]".
    let plainZip = dir.appendingPathComponent("plain.pth")
    try Data(base64Encoded: "UEsDBBQAAAAAAAcrhl16em/tAwAAAAMAAAAFAAAAYS50eHRoaQpQSwECFAMUAAAAAAAHK4Zdenpv7QMAAAADAAAABQAAAAAAAAAAAAAAgAEAAAAAYS50eHRQSwUGAAAAAAEAAQAzAAAAJgAAAAAA")!
      .write(to: plainZip)
    XCTAssertThrowsError(try TorchCheckpoint.loadTensors(path: plainZip.path)) { error in
      XCTAssertEqual(error.localizedDescription, "\(plainZip.path): a zip archive, but not a PyTorch checkpoint: torch.save writes one "
                     + "folder holding data.pkl and its tensor records")
    }
    XCTAssertThrowsError(try TorchCheckpoint.loadTensors(path: dir.appendingPathComponent("missing.pth").path)) { error in
      XCTAssertTrue(error.localizedDescription.contains("no such file"))
    }
    let st = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("foundation/init.safetensors")))
    let cut = dir.appendingPathComponent("cut.safetensors").path
    try st.prefix(st.count - 10).write(to: URL(fileURLWithPath: cut))
    XCTAssertThrowsError(try Safetensors.read(path: cut)) { error in
      XCTAssertTrue(error.localizedDescription.contains("past the end"), error.localizedDescription)
    }
    // Every prefix and a set of byte flips of a real .pt must fail cleanly or load, never crash.
    for length in stride(from: 0, to: good.count, by: 97) {
      try good.prefix(length).write(to: URL(fileURLWithPath: truncated))
      _ = try? TorchCheckpoint.loadTensors(path: truncated)
    }
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<100 {
      var mutated = good
      for _ in 0..<4 { mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
      try mutated.write(to: URL(fileURLWithPath: truncated))
      _ = try? TorchCheckpoint.loadTensors(path: truncated)
    }
  }

  func testShippedLiteMedSAMWeights() throws {
    let path = Fixtures.liteMedSAMWeights
    guard FileManager.default.fileExists(atPath: path) else {
      throw XCTSkip("vendor/weights/lite_medsam.pth is absent: run scripts/setup.sh")
    }
    let tensors = try TorchCheckpoint.loadStateDict(path: path)
    XCTAssertEqual(tensors.count, 435)
    XCTAssertEqual(tensors.reduce(0) { $0 + $1.tensor.count }, 9_801_439)
    XCTAssertEqual(tensors.filter { $0.tensor.dtype == .int64 }.count, 27)
  }
}

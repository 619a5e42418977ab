import CTorch
import Foundation
@testable import Tensor
import TestSupport
import XCTest

/// Fuzzing our own readers of untrusted files (`TestSupport/Fuzzing.swift`): the pickle reader behind `.pth`
/// checkpoints (with torch's storage and tensor rebuilding, against a 256-byte storage) and the safetensors parser.
/// Every mutated input must be read or refused with an error; 6 s each by default, longer with
/// `HSPSAM_FUZZ_SECONDS` (`scripts/fuzz.sh`). Peak memory stays under 2 GB: no header is trusted for a size.
final class ParserFuzzTests: XCTestCase {
  func corpus(_ folder: String) throws -> [[UInt8]] {
    let url = URL(fileURLWithPath: Fixtures.path("fuzz/\(folder)"))
    return try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
      .map { [UInt8](try Data(contentsOf: url.appendingPathComponent($0))) }
  }

  func testPickleReaderNeverCrashes() throws {
    let storage = try Tensor.zeros([256], dtype: .uint8)
    let seeds = try corpus("pickle")
    // The seeds themselves read: tensors come out of their storages.
    let first = try TorchCheckpoint.unpickle(seeds[0], source: "seed", record: { _ in storage })
    XCTAssertFalse(TorchCheckpoint.flattenTensors(first).isEmpty)
    let report = Fuzzing.run("pickle", corpus: seeds, seconds: 6) { bytes in
      let value = try TorchCheckpoint.unpickle(bytes, source: "fuzz", record: { _ in storage })
      _ = TorchCheckpoint.flattenTensors(value)
    }
    print(report)
    XCTAssertGreaterThan(report.executions, 1000)
    XCTAssertLessThan(report.peakGrowthMegabytes, 2048)
  }

  func testSafetensorsParserNeverCrashes() throws {
    let report = Fuzzing.run("safetensors", corpus: try corpus("safetensors"), seconds: 6) { bytes in
      _ = try Safetensors.parse(Data(bytes), source: "fuzz")
    }
    print(report)
    XCTAssertGreaterThan(report.executions, 1000)
    XCTAssertLessThan(report.peakGrowthMegabytes, 2048)
  }

  /// Inputs the fuzzer's mutations reach, kept as regression tests: each is refused with one line, never trapped on.
  func testHostileSizesAreRefused() throws {
    let storage = try Tensor.zeros([256], dtype: .uint8)
    // BINUNICODE8 with a length past Int.max.
    let hugeLength: [UInt8] = [0x80, 0x02, 0x8D] + [UInt8](repeating: 0xFF, count: 8) + [0x2E]
    XCTAssertThrowsError(try TorchCheckpoint.unpickle(hugeLength, source: "s", record: { _ in storage })) {
      XCTAssertTrue("\($0)".contains("length past the end of data"), "\($0)")
    }
    // A list appended to itself through the memo: flattening terminates.
    let cycle: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E]  // [] PUT0 GET0 APPEND STOP
    XCTAssertTrue(TorchCheckpoint.flattenTensors(try TorchCheckpoint.unpickle(cycle, source: "s", record: { _ in storage })).isEmpty)
    // 200,000 nested 1-tuples: refused instead of overflowing the stack when freed.
    let deep: [UInt8] = [0x80, 0x02, 0x4E] + [UInt8](repeating: 0x85, count: 200_000) + [0x2E]
    XCTAssertThrowsError(try TorchCheckpoint.unpickle(deep, source: "s", record: { _ in storage })) {
      XCTAssertTrue("\($0)".contains("nested deeper than"), "\($0)")
    }
    // A safetensors entry whose shape overflows when multiplied.
    let header = #"{"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#
    var file = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { [UInt8]($0) }
    file += Array(header.utf8)
    XCTAssertThrowsError(try Safetensors.parse(Data(file), source: "t.safetensors")) {
      XCTAssertTrue("\($0)".contains("do not match shape"), "\($0)")
    }
    // A tensor record whose size x stride overflows int64 (it used to wrap past the bounds check).
    let sizes: [Int64] = [1 << 40, 1 << 40], strides: [Int64] = [1 << 30, 1 << 30]
    XCTAssertThrowsError(try makeTensor { hst_from_storage(storage.handle, DType.uint8.rawValue, sizes, strides, 2, 0, $0) })
  }
}

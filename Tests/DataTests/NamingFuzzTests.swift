import Data
import Foundation
import TestSupport
import XCTest

/// Fuzzing the dataset naming rules: mutated lists of image and mask stems (`image<TAB>mask` lines, seeds in
/// Tests/Fixtures/fuzz/names) through the mask-naming inference, the stem round trip and the natural sort order.
/// Any input must give an answer, never a crash or a hang. 4 s by default (`HSPSAM_FUZZ_SECONDS`).
final class NamingFuzzTests: XCTestCase {
  func testNamingRulesNeverCrash() throws {
    let url = URL(fileURLWithPath: Fixtures.path("fuzz/names"))
    let seeds = try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
      .map { [UInt8](try Data(contentsOf: url.appendingPathComponent($0))) }
    var inferred = 0
    let report = Fuzzing.run("names", corpus: seeds, seconds: 4, maxLength: 4096) { bytes in
      let pairs = String(decoding: bytes, as: UTF8.self).split(separator: "\n").prefix(200).map { line in
        let fields = line.split(separator: "\t", maxSplits: 1).map(String.init)
        return (image: fields.first ?? "", mask: fields.count > 1 ? fields[1] : "")
      }
      let images = pairs.map(\.image), masks = pairs.map(\.mask)
      if let naming = MaskNaming.infer(imageStems: images, maskStems: Set(masks)) {
        inferred += 1
        for image in images { _ = naming.imageStem(forMask: naming.maskStem(for: image)) }
      }
      _ = MaskNaming.infer(maskStems: masks, imageStems: Set(images))
      _ = (images + masks).sorted(by: SegmentationDataset.naturalOrder)
    }
    print(report)
    XCTAssertGreaterThan(report.executions, 500)
    XCTAssertGreaterThan(inferred, 0, "some inputs pair up")
  }

  /// The input the fuzzer found (stems with NUL characters trapped inside Foundation's `range(of:)`).
  func testStemsWithNulCharactersPairUp() {
    let image = "1\u{0}\u{0}\u{0}\u{0}", mask = "caf\u{e9} 1"
    XCTAssertNil(MaskNaming.infer(imageStems: [image], maskStems: [mask]))
    XCTAssertEqual(MaskNaming.infer(imageStems: [image], maskStems: ["m_" + image]), .prefix("m_"))
  }
}

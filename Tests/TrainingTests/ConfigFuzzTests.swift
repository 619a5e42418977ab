import Foundation
import TestSupport
import Training
import XCTest

/// Fuzzing the configuration merger: mutated JSON (seeds: Tests/Fixtures/fuzz/config and configs/*.json) decoded
/// alone and layered over a preset, as `--config A --config B` does. Every input must decode or be refused with an
/// error; 4 s by default (`HSPSAM_FUZZ_SECONDS`).
final class ConfigFuzzTests: XCTestCase {
  func testConfigMergerNeverCrashes() throws {
    let fixtures = URL(fileURLWithPath: Fixtures.path("fuzz/config"))
    let presets = URL(fileURLWithPath: Fixtures.path("../../configs"))
    var seeds: [[UInt8]] = []
    for folder in [fixtures, presets] {
      for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() where name.hasSuffix(".json") {
        seeds.append([UInt8](try Data(contentsOf: folder.appendingPathComponent(name))))
      }
    }
    let preset = Data(seeds[0])
    var accepted = 0
    let report = Fuzzing.run("config", corpus: seeds, seconds: 4, maxLength: 8192) { bytes in
      let data = Data(bytes)
      defer { _ = try? TrainingConfig.decode(layers: [(preset, "a.json"), (data, "b.json")]) }
      let config = try TrainingConfig.decode(data, source: "fuzz.json")
      accepted += 1
      _ = try config.json()  // what a run folder's config.json holds
    }
    print(report)
    XCTAssertGreaterThan(report.executions, 500)
    XCTAssertGreaterThan(accepted, 0, "the seeds decode")
  }
}

import Foundation
import TestSupport
import XCTest

/// Runs the built `hspsam` executable as a user would.
final class InspectCommandTests: XCTestCase {
  func testInspectLiteMedSAM() throws {
    let path = try Fixtures.requireLiteMedSAMWeights()
    let text = try runHSPSAM(["inspect", path])
    XCTAssertEqual(text.status, 0, text.stderr)
    XCTAssertTrue(text.stdout.contains("tensors: 435\n"), text.stdout)
    XCTAssertTrue(text.stdout.contains("elements: 9801439\n"), text.stdout)
    XCTAssertTrue(text.stdout.contains("parameters: 9791300 "), text.stdout)
    let json = try runHSPSAM(["inspect", "--json", path])
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(object["tensors"] as? Int, 435)
    XCTAssertEqual(object["elements"] as? Int, 9_801_439)
  }

  func testInspectFixtureAndBadFiles() throws {
    let fixture = try runHSPSAM(["inspect", Fixtures.path("foundation/nested_checkpoint.pt"), "--depth", "1"])
    XCTAssertEqual(fixture.status, 0, fixture.stderr)
    XCTAssertTrue(fixture.stdout.contains("tensors: 18\n"), fixture.stdout)
    let missing = try runHSPSAM(["inspect", "/nonexistent/model.pth"])
    XCTAssertNotEqual(missing.status, 0)
    XCTAssertEqual(missing.stderr.trimmingCharacters(in: .whitespacesAndNewlines), "Error: /nonexistent/model.pth: no such file")
    let notACheckpoint = try runHSPSAM(["inspect", Fixtures.path("foundation/README.json")])
    XCTAssertNotEqual(notACheckpoint.status, 0)
    XCTAssertEqual(notACheckpoint.stderr.split(separator: "\n").count, 1, "one line: \(notACheckpoint.stderr)")
    XCTAssertTrue(notACheckpoint.stderr.contains("README.json"))
  }

  /// HSPSAM_CPU_CACHE_MB (the CPU block cache's limit) is read before any command: a bad value is one line naming
  /// it, 0 turns the cache off and the command runs as usual.
  func testCPUBlockCacheSetting() throws {
    let path = Fixtures.repository.appendingPathComponent("Tests/Fixtures/foundation").path
    let bad = try runHSPSAM(["inspect", "/nonexistent"], environment: ["HSPSAM_CPU_CACHE_MB": "lots"])
    XCTAssertNotEqual(bad.status, 0)
    XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
    XCTAssertTrue(bad.stderr.contains("HSPSAM_CPU_CACHE_MB") && bad.stderr.contains("'lots'"), bad.stderr)
    let negative = try runHSPSAM(["inspect", "/nonexistent"], environment: ["HSPSAM_CPU_CACHE_MB": "-1"])
    XCTAssertTrue(negative.stderr.contains("HSPSAM_CPU_CACHE_MB"), negative.stderr)
    let fixture = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: path).first { $0.hasSuffix(".safetensors") })
    for megabytes in ["0", "16"] {
      let run = try runHSPSAM(["inspect", "\(path)/\(fixture)"], environment: ["HSPSAM_CPU_CACHE_MB": megabytes])
      XCTAssertEqual(run.status, 0, "HSPSAM_CPU_CACHE_MB=\(megabytes): \(run.stderr)")
    }
  }
}

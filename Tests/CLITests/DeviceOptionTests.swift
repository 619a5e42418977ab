import Foundation
import TestSupport
import XCTest

/// `--device`: a bad name, and CUDA where this machine cannot run it, fail before any model is loaded, in one
/// line naming the option, and write nothing. (CUDA itself is exercised only on a machine with an NVIDIA GPU.)
final class DeviceOptionTests: XCTestCase {
  func testDeviceOptionFailsCleanly() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let output = folder.appendingPathComponent("out").path
    let image = Fixtures.repository.appendingPathComponent("samples/images/synthetic_polyp.png").path

    let bad = try runHSPSAM(["predict", "--device", "gpu", image, "--output", output])
    XCTAssertNotEqual(bad.status, 0)
    XCTAssertEqual(bad.stderr.trimmingCharacters(in: .whitespacesAndNewlines), "Error: --device gpu: expected cpu, cuda or cuda:N")
    XCTAssertFalse(FileManager.default.fileExists(atPath: output), "nothing written")

    let library = Fixtures.repository.appendingPathComponent("vendor/libtorch/lib/libtorch_cuda.so").path
    for command in [["predict", "--device", "cuda", image, "--output", output],
                    ["train", "--device", "cuda:0", "--data", folder.path, "--out", folder.appendingPathComponent("run").path]] {
      let cuda = try runHSPSAM(command)
      let message = cuda.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
      if !FileManager.default.fileExists(atPath: library) {
        XCTAssertNotEqual(cuda.status, 0)
        XCTAssertTrue(message.hasPrefix("Error: --device cuda") && message.hasSuffix("is missing: run HSPSAM_CUDA=1 bash scripts/setup.sh"), message)
      } else if cuda.status != 0 {  // CUDA set up, but (as on the machines this runs on) no GPU
        XCTAssertTrue(message.hasPrefix("Error: --device cuda") && message.contains("sees 0 CUDA devices"), message)
      }
      if cuda.status != 0 {
        XCTAssertFalse(message.contains("\n"), "one line: \(message)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), "nothing written")
      }
    }
  }
}

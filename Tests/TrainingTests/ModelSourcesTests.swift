import Tensor
import Training
import XCTest

/// Which GPU a data-parallel rank trains on when `--device cuda` names none (the CPU is everyone's).
final class ModelSourcesTests: XCTestCase {
  func testEachLocalRankGetsItsOwnGPURoundRobin() throws {
    XCTAssertEqual((0..<6).map { ModelSources.rankGPU(localRank: $0, gpus: 2) }, [0, 1, 0, 1, 0, 1])
    XCTAssertEqual((0..<4).map { ModelSources.rankGPU(localRank: $0, gpus: 8) }, [0, 1, 2, 3])
    XCTAssertEqual(ModelSources.rankGPU(localRank: 3, gpus: 0), 0, "no GPU: no division by zero")
    XCTAssertEqual(try ModelSources.device("cpu", localRank: 3), .cpu)
  }
}

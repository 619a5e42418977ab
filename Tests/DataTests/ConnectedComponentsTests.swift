import Data
import XCTest

final class ConnectedComponentsTests: XCTestCase {
  /// Diagonal neighbours join (8-connectivity); regions below the minimum area are dropped; largest first.
  func testEightConnectivityAreaFilterAndOrder() {
    let rows = [
      "x.....xx",
      ".x....xx",
      "..x.....",
      "........",
      "...x....",
    ]
    let mask = rows.joined().map { $0 == "x" ? UInt8(255) : 0 }
    let all = ConnectedComponents.find(mask, width: 8, height: 5)
    XCTAssertEqual(all.count, 3)
    XCTAssertEqual(all[0], .init(x0: 6, y0: 0, x1: 7, y1: 1, area: 4))
    XCTAssertEqual(all[1], .init(x0: 0, y0: 0, x1: 2, y1: 2, area: 3), "the diagonal is one component")
    XCTAssertEqual(all[1].box, [0, 0, 2, 2], "inclusive max coordinates, as MedSAM derives boxes")
    XCTAssertEqual(all[2].area, 1)
    XCTAssertEqual(ConnectedComponents.find(mask, width: 8, height: 5, minimumArea: 2).count, 2)
    XCTAssertEqual(ConnectedComponents.find([UInt8](repeating: 0, count: 40), width: 8, height: 5), [])
  }

  /// A large filled mask does not overflow (iterative fill).
  func testLargeComponent() {
    let mask = [UInt8](repeating: 1, count: 1000 * 1000)
    let found = ConnectedComponents.find(mask, width: 1000, height: 1000)
    XCTAssertEqual(found, [.init(x0: 0, y0: 0, x1: 999, y1: 999, area: 1_000_000)])
  }
}

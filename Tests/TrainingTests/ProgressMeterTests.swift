import Foundation
import Training
import XCTest

final class ProgressMeterTests: XCTestCase {
  /// The rate is measured over the last `window` updates: a long pause weighs on it only while it is in the window.
  func testRateAndTimeLeftForgetAPauseOnceItLeavesTheWindow() {
    let start = Date(timeIntervalSinceReferenceDate: 0)
    var meter = ProgressMeter(total: 100, window: 3, start: start)
    XCTAssertNil(meter.itemsPerSecond, "no rate before the first update")
    XCTAssertEqual(meter.line(), "0/100")
    // One image every 2 s: 0.5 images/s, 96 left after 4 -> 192 s.
    for i in 1...4 { meter.update(done: i, at: start.addingTimeInterval(2 * Double(i))) }
    XCTAssertEqual(meter.itemsPerSecond!, 0.5, accuracy: 1e-12)
    XCTAssertEqual(meter.secondsLeft!, 192, accuracy: 1e-9)
    XCTAssertEqual(meter.line(), "4/100, 2.00 s per image, ETA 03:12")
    // A 1,000 s pause before image 5: in the window (images 2..5), the rate falls to 3 / 1004 s.
    meter.update(done: 5, at: start.addingTimeInterval(1008))
    XCTAssertEqual(meter.itemsPerSecond!, 3.0 / 1004, accuracy: 1e-12)
    // Three more images 2 s apart push the pause out of the window: back to 0.5 images/s.
    for i in 6...8 { meter.update(done: i, at: start.addingTimeInterval(1008 + 2 * Double(i - 5))) }
    XCTAssertEqual(meter.itemsPerSecond!, 0.5, accuracy: 1e-12)
    XCTAssertEqual(meter.line(unit: "sample"), "8/100, 2.00 s per sample, ETA 03:04")
  }

  func testFastRatesAndLongDurationsRead() {
    let start = Date(timeIntervalSinceReferenceDate: 0)
    var meter = ProgressMeter(total: 100_000, start: start)
    meter.update(done: 10, at: start.addingTimeInterval(4))
    XCTAssertEqual(meter.line(), "10/100000, 2.50 images/s, ETA 11:06:36")
    meter.update(done: 100_000, at: start.addingTimeInterval(40_000))
    XCTAssertEqual(meter.secondsLeft, 0)
    XCTAssertEqual(formatDuration(.infinity), "--:--")
    XCTAssertEqual(formatDuration(59.9), "00:59")
  }
}

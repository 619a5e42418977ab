import Data
import Foundation
import TestSupport
import Training
import XCTest

/// The untrained LiteMedSAM baselines on a real CVC-ClinicDB frame (frame 14, one polyp).
final class BaselineTests: XCTestCase {
  func testBoxOracleSegmentsAndNoPromptDoesNot() throws {
    let (image, truth) = try RealFrame.clinicDB14()
    func dice(_ p: [Float]) -> Double { RealFrame.dice(p, truth) }
    let oracle = try LiteMedSAMBaseline(mode: .boxOracle, weights: RealFrame.weights)
    let boxed = try oracle.foreground(image, truth: truth)
    XCTAssertEqual(boxed.count, image.width * image.height)
    XCTAssertGreaterThan(dice(boxed), 0.9, "LiteMedSAM with the ground-truth box segments the polyp")
    let empty = try oracle.foreground(image, truth: [UInt8](repeating: 0, count: truth.count))
    XCTAssertEqual(empty.max(), 0, "no foreground: no box, empty prediction")
    let unprompted = try LiteMedSAMBaseline(mode: .noPrompt, weights: RealFrame.weights).foreground(image, truth: truth)
    XCTAssertLessThan(dice(unprompted), 0.5, "without a prompt LiteMedSAM does not find the polyp")
  }
}

/// How the `positional` baseline turns its classifier's map into SAM prompts (docs/model.md 5).
final class PositionalPromptingTests: XCTestCase {
  func testPromptsFromAProbabilityMap() {
    let grid = 20  // 400 cells: 1 % is 4 cells
    var map = [Float](repeating: 0.1, count: grid * grid)
    func blob(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ p: Float) {
      for y in y0...y1 { for x in x0...x1 { map[y * grid + x] = p } }
    }
    blob(2, 3, 7, 8, 0.8)      // 36 cells: the largest
    map[5 * grid + 6] = 0.99   // its most probable cell
    blob(12, 12, 13, 13, 0.7)  // 4 cells: >= 1 %, kept
    blob(17, 2, 17, 2, 0.9)    // 1 cell: < 1 %, dropped
    let prompts = PositionalPrompting.prompts(probabilities: map, grid: grid, scale: 4)
    XCTAssertEqual(prompts.count, 2)
    XCTAssertEqual(prompts[0].box, [8, 12, 31, 35], "cells 2...7 x 3...8, four pixels each, inclusive")
    XCTAssertEqual(prompts[0].point, [25.5, 21.5], "centre of cell (6, 5)")
    XCTAssertEqual(prompts[1].box, [48, 48, 55, 55])
    XCTAssertTrue(PositionalPrompting.prompts(probabilities: [Float](repeating: 0.2, count: 16), grid: 4, scale: 4).isEmpty,
                  "nothing above 0.5: no prompt, an empty mask")
    // A lone small component is still used: the largest one is always kept.
    var single = [Float](repeating: 0, count: 100)
    single[55] = 0.9
    XCTAssertEqual(PositionalPrompting.prompts(probabilities: single, grid: 10, scale: 2).map(\.box), [[10, 10, 11, 11]])
  }
}

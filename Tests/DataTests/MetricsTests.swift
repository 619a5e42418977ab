import Data
import Foundation
import TestSupport
import XCTest

/// Metrics against pysodmetrics 1.6.2 through ../shared/tools/metrics_reference.py (fixture script:
/// scripts/fixtures/make_metrics.py). Tolerance 1e-9: the float64 recipe of docs/metrics.md reproduces the reference to
/// rounding (numpy sums pairwise, we sum in order); the bound is 1e-4.
final class MetricsTests: XCTestCase {
  static let tolerance = 1e-9

  func compare(_ ours: [String: Double], _ reference: [String: Any], _ label: String,
               file: StaticString = #filePath, line: UInt = #line) {
    for name in MetricsAccumulator.metricNames {
      guard let value = ours[name] else { XCTFail("\(label): we do not report \(name)", file: file, line: line); continue }
      if reference[name] is NSNull {
        XCTAssertTrue(value.isNaN, "\(label) \(name): reference NaN, ours \(value)", file: file, line: line)
      } else if let expected = (reference[name] as? NSNumber)?.doubleValue {
        XCTAssertEqual(value, expected, accuracy: Self.tolerance, "\(label) \(name)", file: file, line: line)
      } else {
        XCTFail("\(label): reference lacks \(name)", file: file, line: line)
      }
    }
  }

  func summary(_ pairs: [(pred: [UInt8], gt: [UInt8], width: Int, height: Int)]) -> [String: Double] {
    var accumulator = MetricsAccumulator()
    for p in pairs {
      accumulator.add(SegmentationMetrics.evaluate(prediction: p.pred, groundTruth: p.gt.map { $0 > 128 ? 1 : 0 },
                                                   width: p.width, height: p.height))
    }
    return accumulator.summary()
  }

  func testWorkedExampleAndEdgeCases() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("metrics/worked_example.json")))
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    let inputs = try XCTUnwrap(json["inputs"] as? [String: [[Int]]])
    func flat(_ key: String) throws -> [UInt8] { try XCTUnwrap(inputs[key]).flatMap { $0.map(UInt8.init) } }
    let a = (pred: try flat("PRED_A"), gt: try flat("GT_A"), width: 8, height: 8)
    let b = (pred: try flat("PRED_B"), gt: try flat("GT_B"), width: 8, height: 8)
    compare(summary([a]), try XCTUnwrap(json["A"] as? [String: Any]), "A")
    compare(summary([b]), try XCTUnwrap(json["B"] as? [String: Any]), "B")
    compare(summary([a, b]), try XCTUnwrap(json["AB"] as? [String: Any]), "{A, B}")
    // Hand-checked intermediate values of the worked example (scripts/fixtures/make_metrics.py).
    let metricsA = SegmentationMetrics.evaluate(prediction: a.pred, groundTruth: a.gt.map { $0 > 128 ? 1 : 0 }, width: 8, height: 8)
    XCTAssertEqual(metricsA.diceCurve[128], 0.9411764706, accuracy: 1e-10)
    XCTAssertEqual(metricsA.diceCurve[0], 0.4, accuracy: 1e-12, "k = 0 counts every pixel as foreground")
    XCTAssertEqual([metricsA.tp, metricsA.fp, metricsA.fn], [16, 2, 0])

    let square = [UInt8](repeating: 0, count: 16).enumerated().map { i, _ in (1...2).contains(i / 4) && (1...2).contains(i % 4) ? UInt8(255) : 0 }
    let cases: [String: (gt: [UInt8], pred: [UInt8])] = [
      "emptyGT_map0": ([UInt8](repeating: 0, count: 16), [UInt8](repeating: 0, count: 16)),
      "emptyGT_map255": ([UInt8](repeating: 0, count: 16), [UInt8](repeating: 255, count: 16)),
      "fullGT_map255": ([UInt8](repeating: 255, count: 16), [UInt8](repeating: 255, count: 16)),
      "gt2x2_map0": (square, [UInt8](repeating: 0, count: 16)),
      "gt2x2_map100": (square, [UInt8](repeating: 100, count: 16)),
      "gt2x2_mapGT": (square, square),
    ]
    let edge = try XCTUnwrap(json["edge"] as? [String: [String: Any]])
    for (name, c) in cases {
      compare(summary([(c.pred, c.gt, 4, 4)]), try XCTUnwrap(edge[name]), name)
    }
  }

  /// The integer recipes of make_metrics.py, applied to a 0/1 mask.
  static func generatedVariants(_ mask: [UInt8], width w: Int, height h: Int) -> [String: [UInt8]] {
    let m255 = mask.map { Int($0) * 255 }
    var shift = [Int](repeating: 0, count: w * h)
    for y in 6..<h { for x in 0..<(w - 9) { shift[y * w + x] = m255[(y - 6) * w + x + 9] } }
    var blur = [Int](repeating: 0, count: w * h)
    for y in 0..<h {
      for x in 0..<w {
        var sum = 0
        for dy in -4...4 where y + dy >= 0 && y + dy < h {
          for dx in -4...4 where x + dx >= 0 && x + dx < w { sum += m255[(y + dy) * w + x + dx] }
        }
        blur[y * w + x] = sum / 81
      }
    }
    var state = 42
    let noisy = blur.map { value -> Int in
      state = (state &* 1103515245 &+ 12345) & ((1 << 31) - 1)
      return Swift.min(255, Swift.max(0, value + (state >> 16) % 81 - 40))
    }
    let u8 = { (v: [Int]) in v.map { UInt8($0) } }
    return ["shift": u8(shift), "blur": u8(blur), "noisy": u8(noisy), "dim": u8(blur.map { $0 * 3 / 5 }),
            "empty": [UInt8](repeating: 0, count: w * h), "full": [UInt8](repeating: 255, count: w * h)]
  }

  func testRealClinicDBMasksWithGeneratedPredictions() throws {
    let folder = Fixtures.sharedData.appendingPathComponent("CVC-ClinicDB/masks")
    guard FileManager.default.fileExists(atPath: folder.path) else {
      throw XCTSkip("CVC-ClinicDB is not at \(folder.path): the real-mask metric parity test needs it")
    }
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("metrics/clinicdb_generated.json")))
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    let stems = try XCTUnwrap(json["stems"] as? [String]), variants = try XCTUnwrap(json["variants"] as? [String])
    var accumulators = Dictionary(uniqueKeysWithValues: variants.map { ($0, MetricsAccumulator()) })
    for (index, stem) in stems.enumerated() {
      let mask = try ImageIO.read(folder.appendingPathComponent("\(stem).tif").path)
      let truth = mask.grey8().map { $0 > 127 ? UInt8(1) : 0 }
      let generated = Self.generatedVariants(truth, width: mask.width, height: mask.height)
      for variant in variants {
        let metrics = SegmentationMetrics.evaluate(prediction: try XCTUnwrap(generated[variant]), groundTruth: truth,
                                                   width: mask.width, height: mask.height)
        accumulators[variant]!.add(metrics)
        let reference = try XCTUnwrap(((json[variant] as? [String: Any])?["perImage"] as? [[String: Any]])?[index])
        XCTAssertEqual(reference["name"] as? String, stem)
        for (name, value) in [("mDice", metrics.mDice), ("Smeasure", metrics.sMeasure), ("wFmeasure", metrics.wFmeasure),
                              ("meanEmeasure", metrics.meanEmeasure), ("adpEmeasure", metrics.adpEmeasure), ("MAE", metrics.mae)] {
          XCTAssertEqual(value, (reference[name] as? NSNumber)?.doubleValue ?? .nan, accuracy: Self.tolerance,
                         "\(stem) \(variant) \(name)")
        }
      }
    }
    for variant in variants {
      compare(accumulators[variant]!.summary(), try XCTUnwrap(json[variant] as? [String: Any]), "ClinicDB \(variant)")
    }
  }

  /// Per-class Dice by hand: 4x2 maps, classes 0-2 (+3, absent from both).
  func testPerClassDiceWorkedExample() {
    let truth: [UInt8] = [0, 1, 1, 1, 2, 2, 0, 0]
    let prediction: [UInt8] = [1, 1, 1, 0, 2, 0, 0, 0]
    let dice = ClassDiceAccumulator.perClass(prediction: prediction, truth: truth, classCount: 4)
    XCTAssertNil(dice[0], "the background has none")
    XCTAssertEqual(dice[1]!, 2.0 * 2 / (3 + 3), accuracy: 1e-12)  // 2 shared pixels, 3 predicted, 3 true
    XCTAssertEqual(dice[2]!, 2.0 * 1 / (1 + 2), accuracy: 1e-12)
    XCTAssertNil(dice[3], "absent from both: no Dice")
    var accumulator = ClassDiceAccumulator(classCount: 4)
    accumulator.add(prediction: prediction, truth: truth)
    accumulator.add(prediction: [0, 0, 0, 0, 0, 0, 0, 3], truth: [UInt8](repeating: 0, count: 8))  // class 3 predicted, absent
    let summary = accumulator.summary()
    XCTAssertEqual(summary["Dice.class1"]!, 2.0 / 3, accuracy: 1e-12, "the second image has no class 1: left out of the mean")
    XCTAssertEqual(summary["Dice.class2"]!, 2.0 / 3, accuracy: 1e-12)
    XCTAssertEqual(summary["Dice.class3"], 0, "predicted where absent: Dice 0")
    XCTAssertTrue(ClassDiceAccumulator(classCount: 3).summary()["Dice.class1"]!.isNaN, "never seen: NaN")
  }
}

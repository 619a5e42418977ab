import Data
import Foundation
import TestSupport
@testable import Training
import XCTest

/// The best/worst grid, the JSON summary and the HTML report, on synthetic rows (no model needed).
final class EvaluationReportTests: XCTestCase {
  func row(name: String, dices: [Double]) -> ModelEvaluation.Row {
    var gallery = CaseGallery(keep: 2)
    for (i, d) in dices.enumerated() {
      let (w, h) = (30, 20)
      let truth = (0..<(w * h)).map { UInt8($0 % w < 15 ? 1 : 0) }
      let image = Image(width: w, height: h, channels: 3, bitDepth: 8, samples: [UInt16](repeating: UInt16(40 + 20 * i), count: w * h * 3))
      gallery.offer(stem: "s\(i)", dice: d, image: image, truth: truth, prediction: truth)
    }
    return ModelEvaluation.Row(name: name, summary: ["Dice@0.5": dices.reduce(0, +) / Double(dices.count), "count": Double(dices.count)],
                               perImage: dices.enumerated().map { ("s\($0.offset)", $0.element) }, gallery: gallery, secondsPerImage: 0.5)
  }

  func testGalleryKeepsTheExtremes() {
    let r = row(name: "a", dices: [0.5, 0.9, 0.1, 0.7, 0.95])
    XCTAssertEqual(r.gallery.worst.map(\.stem), ["s2", "s0"])
    XCTAssertEqual(r.gallery.best.map(\.stem), ["s4", "s1"])
    let grid = r.gallery.render(title: "a")
    XCTAssertEqual(grid.rgb.count, grid.width * grid.height * 3)
    XCTAssertEqual(grid.height, 24 + 4 * (CaseGallery.caption + CaseGallery.cellHeight + CaseGallery.gap))
    // Three images, two kept each way: s1 is among the worst and the best, and shown once.
    let few = row(name: "b", dices: [0.5, 0.9, 0.1])
    XCTAssertEqual(few.gallery.worst.map(\.stem), ["s2", "s0"])
    XCTAssertEqual(few.gallery.best.map(\.stem), ["s1", "s0"])
    XCTAssertEqual(few.gallery.render(title: "b").height, 24 + 3 * (CaseGallery.caption + CaseGallery.cellHeight + CaseGallery.gap))
  }

  func testSummaryPutsMeansFirstAndReportIsSelfContained() throws {
    let rows = [row(name: "Clinic<DB>", dices: [0.2, 0.8, 0.6]), row(name: "Kvasir", dices: [0.9])]
    let json = String(decoding: try EvaluationReport.summaryJSON(rows, source: "test"), as: UTF8.self)
    XCTAssertTrue(json.hasPrefix("{\n\"means\""), json)
    let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    XCTAssertEqual((parsed["means"] as? [[String: Any]])?.count, 2)

    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let page = try EvaluationReport.write(rows, title: "test report", source: "test", to: folder.path)
    let html = try String(contentsOfFile: page, encoding: .utf8)
    XCTAssertTrue(html.contains("<table id=\"metrics\">"))
    XCTAssertTrue(html.contains("Clinic&lt;DB&gt;"), "names are escaped")
    XCTAssertEqual(html.components(separatedBy: "data:image/png;base64,").count - 1, 2, "one embedded grid per dataset")
    XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 2, "one histogram per dataset")
    XCTAssertFalse(html.contains("src=\"http"), "no external resources")
    XCTAssertTrue(html.contains("<summary>Every image, worst Dice@0.5 first (3)</summary>"), "a per-image list per dataset")
    XCTAssertTrue(html.contains("<tr><td>1</td><td>s0</td><td>0.2000</td></tr>\n<tr><td>2</td><td>s2</td><td>0.6000</td></tr>\n"
                                + "<tr><td>3</td><td>s1</td><td>0.8000</td></tr>"), "ranked worst first")
    XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("Kvasir_cases.png").path))
    try assertRendersInChromium(page, expectText: "Kvasir")
  }
}

/// Renders the page in headless Chromium: the screenshot must exist and not be blank, and the DOM must hold
/// the metrics table. Chromium comes from scripts/test.sh (Debian's `chromium`).
func assertRendersInChromium(_ page: String, expectText: String, file: StaticString = #filePath, line: UInt = #line) throws {
  guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
    throw XCTSkip("chromium is not installed (scripts/test.sh installs it): the report is not rendered")
  }
  let folder = try makeTemporaryFolder()
  defer { try? FileManager.default.removeItem(at: folder) }
  let shot = folder.appendingPathComponent("shot.png").path
  func run(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: chromium)
    process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                         "--user-data-dir=" + folder.appendingPathComponent("profile").path] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
  }
  let url = URL(fileURLWithPath: page).absoluteString
  _ = try run(["--screenshot=" + shot, "--window-size=1200,1600", url])
  let image = try ImageIO.read(shot)
  XCTAssertEqual([image.width, image.height], [1200, 1600], file: file, line: line)
  let grey = image.grey8()
  let dark = grey.filter { $0 < 128 }.count
  XCTAssertGreaterThan(dark, 2000, "the screenshot shows text and pictures, not a blank page", file: file, line: line)
  XCTAssertGreaterThan(Set(grey).count, 50, "many grey levels: the embedded images rendered", file: file, line: line)
  let dom = try run(["--dump-dom", url])
  XCTAssertTrue(dom.contains("<table id=\"metrics\">"), "the rendered DOM holds the metrics table", file: file, line: line)
  XCTAssertTrue(dom.contains(expectText), file: file, line: line)
}

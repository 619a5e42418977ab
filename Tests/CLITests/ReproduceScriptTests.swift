import Foundation
import TestSupport
import XCTest

/// scripts/reproduce.sh's table bookkeeping (`--table-only` trains and evaluates nothing, so this runs in a second):
/// `--keep-readme-rows` must map every kind of README row back to the row file its evaluation writes, so that a
/// table rewritten on another machine keeps rows measured earlier, in the same order, and never overwrites a
/// row measured since.
final class ReproduceScriptTests: XCTestCase {
  /// Rows as reproduce.sh's evaluations write them, in the table's order (row files sorted by `sort -V`).
  let rows = [
    "| hsp (T=4) | CVC-ClinicDB test | 62 | 0.791 | 0.715 | 0.753 | 0.667 | 0.851 | 0.683 | 0.864 | 0.040 |",
    "| hsp (T=4) | Kvasir-SEG all 1000 | 1000 | 0.809 | 0.717 | 0.769 | 0.669 | 0.850 | 0.700 | 0.860 | 0.060 |",
    "| hsp-single | Kvasir-SEG test | 100 | 0.793 | 0.699 | 0.754 | 0.653 | 0.830 | 0.678 | 0.846 | 0.072 |",
    "| decoder-only | CVC-ClinicDB test | 62 | 0.752 | 0.653 | 0.698 | 0.596 | 0.824 | 0.633 | 0.837 | 0.044 |",
    "| positional | Kvasir-SEG test | 100 | 0.494 | 0.373 | 0.487 | 0.370 | 0.653 | 0.500 | 0.631 | 0.108 |",
    "| hsp (T=4), box refine | Kvasir-SEG test | 100 | 0.824 | 0.756 | 0.812 | 0.738 | 0.866 | 0.789 | 0.887 | 0.053 |",
    "| hsp (T=4), box refine | Kvasir-SEG all 1000 | 1000 | 0.830 | 0.760 | 0.810 | 0.740 | 0.870 | 0.790 | 0.890 | 0.050 |",
    "| box-oracle | CVC-ClinicDB test | 62 | 0.939 | 0.888 | 0.924 | 0.866 | 0.952 | 0.930 | 0.975 | 0.010 |",
    "| box-oracle | Kvasir-SEG all 1000 | 1000 | 0.950 | 0.910 | 0.940 | 0.900 | 0.960 | 0.940 | 0.980 | 0.012 |",
    "| no-prompt | Kvasir-SEG all 1000 | 1000 | 0 | 0 | 0.001 | 0.001 | 0.429 | 0.001 | 0.250 | 0.150 |",
    "| hsp T=2 (2 epochs) | CVC-ClinicDB test | 62 | 0.738 | 0.645 | 0.690 | 0.591 | 0.798 | 0.558 | 0.824 | 0.051 |",
    "| hsp T=16 (2 epochs) | CVC-ClinicDB test | 62 | 0.730 | 0.640 | 0.680 | 0.580 | 0.790 | 0.550 | 0.820 | 0.052 |",
    "| hsp T=4 (2 epochs) | Kvasir-SEG test | 100 | 0.750 | 0.650 | 0.700 | 0.600 | 0.800 | 0.600 | 0.800 | 0.080 |",
  ]

  func readme(table: [String]) -> String {
    """
    # project

    Text before the table.

    <!-- results:begin -->
    Made by an earlier invocation.

    | method | dataset | n | Dice@0.5 | IoU@0.5 | mDice | mIoU | Smeasure | wFmeasure | meanEmeasure | MAE |
    |---|---|---|---|---|---|---|---|---|---|---|
    \(table.joined(separator: "\n"))
    <!-- results:end -->

    Text after the table.

    """
  }

  /// Runs `reproduce.sh ARGS` on a README and runs folder in `folder`, with stand-in split files for its checks.
  func reproduce(_ arguments: [String], in folder: URL) throws -> (status: Int32, output: String) {
    for split in ["CVC-ClinicDB/train.txt", "CVC-ClinicDB/test.txt", "Kvasir-SEG/test.txt"] {
      let file = folder.appendingPathComponent("data/\(split)")
      try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
      _ = FileManager.default.createFile(atPath: file.path, contents: Data())
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [Fixtures.repository.appendingPathComponent("scripts/reproduce.sh").path] + arguments
    process.environment = ProcessInfo.processInfo.environment.merging([
      "HSPSAM_DATA": folder.appendingPathComponent("data").path,
      "HSPSAM_RUNS": folder.appendingPathComponent("runs").path,
      "HSPSAM_README": folder.appendingPathComponent("README.md").path,
    ]) { _, new in new }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
  }

  func tableRows(_ text: String) -> [String] {
    text.split(separator: "\n").map(String.init).filter { $0.hasPrefix("| ") && !$0.hasPrefix("| method |") }
  }

  func testKeptReadmeRowsComeBackInTheirPlaces() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let readmeFile = folder.appendingPathComponent("README.md")
    // Shuffled in the README: the rewritten table must put them back in the order of their row files.
    try readme(table: rows.reversed()).write(to: readmeFile, atomically: true, encoding: .utf8)

    let run = try reproduce(["--keep-readme-rows", "--table-only"], in: folder)
    XCTAssertEqual(run.status, 0, run.output)
    let rewritten = try String(contentsOf: readmeFile, encoding: .utf8)
    XCTAssertEqual(tableRows(rewritten), rows)
    XCTAssertTrue(rewritten.contains("\(rows.count) rows kept from the README's earlier table"), rewritten)
    XCTAssertTrue(rewritten.hasPrefix("# project\n\nText before the table.\n"))
    XCTAssertTrue(rewritten.hasSuffix("<!-- results:end -->\n\nText after the table.\n"))

    // A row measured since (its row file rewritten) is not replaced by the README's older copy.
    let remeasured = "| decoder-only | CVC-ClinicDB test | 62 | 0.800 | 0.700 | 0.750 | 0.650 | 0.850 | 0.700 | 0.850 | 0.040 |"
    try (remeasured + "\n").write(to: folder.appendingPathComponent("runs/rows/14_decoder_CVC-ClinicDB_test"),
                                  atomically: true, encoding: .utf8)
    let again = try reproduce(["--keep-readme-rows", "--table-only"], in: folder)
    XCTAssertEqual(again.status, 0, again.output)
    var expected = rows
    expected[3] = remeasured
    XCTAssertEqual(tableRows(try String(contentsOf: readmeFile, encoding: .utf8)), expected)
  }

  func testWithoutKeptRowsTheTableHoldsOnlyTheRowFiles() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let readmeFile = folder.appendingPathComponent("README.md")
    try readme(table: rows).write(to: readmeFile, atomically: true, encoding: .utf8)
    let rowsFolder = folder.appendingPathComponent("runs/rows")
    try FileManager.default.createDirectory(at: rowsFolder, withIntermediateDirectories: true)
    try (rows[7] + "\n").write(to: rowsFolder.appendingPathComponent("20_box_CVC-ClinicDB_test"), atomically: true, encoding: .utf8)
    let run = try reproduce(["--table-only"], in: folder)
    XCTAssertEqual(run.status, 0, run.output)
    let rewritten = try String(contentsOf: readmeFile, encoding: .utf8)
    XCTAssertEqual(tableRows(rewritten), [rows[7]])
    XCTAssertFalse(rewritten.contains("rows kept"), rewritten)
  }

  func testAnUnknownReadmeRowIsReportedNotKept() throws {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let readmeFile = folder.appendingPathComponent("README.md")
    let unknown = "| nnU-Net (Isensee's) | CVC-ClinicDB test | 62 | 0.9 | 0.8 | 0.9 | 0.8 | 0.9 | 0.9 | 0.9 | 0.01 |"
    try readme(table: [rows[0], unknown]).write(to: readmeFile, atomically: true, encoding: .utf8)
    let run = try reproduce(["--keep-readme-rows", "--table-only"], in: folder)
    XCTAssertEqual(run.status, 0, run.output)
    XCTAssertTrue(run.output.contains("README row 'nnU-Net (Isensee's) | CVC-ClinicDB test' has no row file; not kept"), run.output)
    XCTAssertEqual(tableRows(try String(contentsOf: readmeFile, encoding: .utf8)), [rows[0]])
  }
}

import Foundation
import TestSupport
import Training
import XCTest

/// The README's Swift example is the library's public API as a user's package calls it: this test holds the same
/// lines (checked against the README's block) and runs them on a generated dataset with the shipped model.
final class PublicAPIExampleTests: XCTestCase {
  func testTheReadmeExampleRuns() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let datasetFolder = folder.appendingPathComponent("data").path
    try writeGeneratedDataset(at: URL(fileURLWithPath: datasetFolder), count: 2, prefix: "e")
    let imagesFolder = datasetFolder + "/images", masksFolder = folder.appendingPathComponent("masks").path

    // README example start
    // The shipped model (trained tensors from models/, LiteMedSAM's base from set-up), prompt-free.
    let model = try TrainedModel(checkpoint: "hsp-clinicdb")
    var prediction = PredictionRun.Options(inputs: [imagesFolder], output: masksFolder)
    prediction.writeProbabilities = true
    let predicted = try PredictionRun(prediction).run(model: { model })
    print("\(predicted.written) masks in \(masksFolder)")
    // The polyp literature's metrics on a dataset folder (images/ and masks/, paired by stem).
    let evaluation = try EvaluationRun(.init(datasets: [.init(name: "mine", folder: datasetFolder)]))
    let row = try evaluation.run(model.segmenter).rows[0]
    print("Dice@0.5", row.summary["Dice@0.5"]!, "mDice", row.summary["mDice"]!)
    // README example end

    XCTAssertEqual(predicted.written, 2)
    for name in ["e0.png", "e0_prob.png", "e1.png", "e1_prob.png"] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: masksFolder + "/" + name), name)
    }
    XCTAssertEqual(row.perImage.count, 2)

    let readme = try String(contentsOf: Fixtures.repository.appendingPathComponent("README.md"), encoding: .utf8)
    let block = try XCTUnwrap(readme.firstMatch(of: /```swift\nimport Training\n\n((?s).*?)```/)).1
    let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
    let here = try XCTUnwrap(source.firstMatch(of: /\/\/ README example start\n((?s).*?)    \/\/ README example end/)).1
    let unindented = here.split(separator: "\n", omittingEmptySubsequences: false).map { $0.dropFirst(4) }.joined(separator: "\n")
    XCTAssertEqual(String(block), unindented, "the README's example and this test's lines are the same")
  }
}

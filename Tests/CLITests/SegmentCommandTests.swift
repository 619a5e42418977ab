import Data
import Foundation
import TestSupport
import XCTest

/// `hspsam segment` end to end on a generated image (a bright disc on a dark, noisy background) with the real
/// LiteMedSAM weights from set-up.
final class SegmentCommandTests: XCTestCase {
  var folder: URL!
  var imagePath: String!

  override func setUpWithError() throws {
    _ = try Fixtures.requireLiteMedSAMWeights()
    folder = try makeTemporaryFolder()
    let (w, h) = (160, 120)
    var generator = SystemRandomNumberGenerator()
    var rgb = [UInt8](repeating: 0, count: w * h * 3)
    for y in 0..<h {
      for x in 0..<w {
        let inside = pow(Double(x - 70), 2) / 900 + pow(Double(y - 60), 2) / 625 <= 1
        let base: UInt8 = inside ? 200 : 40
        for c in 0..<3 { rgb[(y * w + x) * 3 + c] = base &+ UInt8.random(in: 0...20, using: &generator) }
      }
    }
    imagePath = folder.appendingPathComponent("disc.png").path
    try ImageIO.writePNG(rgb, width: w, height: h, channels: 3, to: imagePath)
  }

  override func tearDown() { if let folder { try? FileManager.default.removeItem(at: folder) } }

  func testBoxPromptWritesMaskOverlayAndLogits() throws {
    let mask = folder.appendingPathComponent("mask.png").path
    let overlay = folder.appendingPathComponent("overlay.png").path
    let logits = folder.appendingPathComponent("logits.npy").path
    let result = try runHSPSAM(["segment", "--box", "35,30,105,90", "--output", mask, "--overlay", overlay,
                                "--logits", logits, imagePath])
    XCTAssertEqual(result.status, 0, result.stderr)
    let written = try ImageIO.read(mask)
    XCTAssertEqual([written.width, written.height, written.channels], [160, 120, 1])
    XCTAssertEqual(Set(written.samples).subtracting([0, 255]), [], "mask is 0/255")
    // The disc covers pi * 30 * 25 = 2356 pixels; LiteMedSAM with its box should find most of it and little else.
    let foreground = written.samples.filter { $0 == 255 }.count
    XCTAssertGreaterThan(foreground, 1500)
    XCTAssertLessThan(foreground, 4200)
    XCTAssertEqual(try ImageIO.read(overlay).channels, 3)
    let (values, shape) = try NPY.readFloat32(logits)
    XCTAssertEqual(shape, [120, 160])
    XCTAssertEqual(values.count, 160 * 120)
    XCTAssertEqual(values.filter { $0 > 0 }.count, foreground, "mask = logits > 0")
  }

  func testPointPrompt() throws {
    let mask = folder.appendingPathComponent("point.png").path
    let result = try runHSPSAM(["segment", "--point", "70,60", "--point", "5,5,0", "--output", mask, imagePath])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertEqual(try ImageIO.read(mask).width, 160)
  }

  func testBadInputGivesOneLineErrors() throws {
    let out = folder.appendingPathComponent("x.png").path
    let cases: [([String], String)] = [
      (["--box", "1,2,3"], "--box '1,2,3': expected X0,Y0,X1,Y1 (4 numbers), got 3"),
      (["--box", "10,10,500,20"], "--box 10,10,500,20 lies outside the 160x120 image"),
      (["--point", "1,2,3,4"], "--point '1,2,3,4': expected X,Y or X,Y,LABEL, got 4 numbers"),
      (["--point", "1,2,7"], "LABEL must be 0 or 1"),
      (["--model", "vit_b", "--box", "1,2,30,40"], "--checkpoint is required for vit_b"),
    ]
    for (arguments, expected) in cases {
      let result = try runHSPSAM(["segment"] + arguments + ["--output", out, imagePath])
      XCTAssertNotEqual(result.status, 0, "\(arguments)")
      XCTAssertTrue(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
    }
    let missing = try runHSPSAM(["segment", "--box", "1,2,30,40", "--output", out, folder.appendingPathComponent("none.png").path])
    XCTAssertTrue(missing.stderr.hasPrefix("Error: ") && missing.stderr.contains("none.png: no such file"), missing.stderr)
    XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1)
    let wrongCheckpoint = try runHSPSAM(["segment", "--model", "vit_b", "--checkpoint",
                                         Fixtures.liteMedSAMWeights,
                                         "--box", "1,2,30,40", "--output", out, imagePath])
    XCTAssertTrue(wrongCheckpoint.stderr.contains("(for --model vit_b): checkpoint does not fit the model"), wrongCheckpoint.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written on failure")
    // A file written that is the image, or another output, is refused before anything runs; the image is untouched.
    let image = try Data(contentsOf: URL(fileURLWithPath: imagePath))
    let overImage = try runHSPSAM(["segment", "--box", "1,2,30,40", "--output", imagePath, imagePath])
    XCTAssertTrue(overImage.stderr.contains("--output \(imagePath!) would overwrite \(imagePath!), which this command also uses"), overImage.stderr)
    let twice = try runHSPSAM(["segment", "--box", "1,2,30,40", "--output", out, "--overlay", out, imagePath])
    XCTAssertTrue(twice.stderr.contains("--overlay \(out) would overwrite \(out), which this command also uses"), twice.stderr)
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: imagePath)), image, "the image is untouched")
    XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written")
  }
}

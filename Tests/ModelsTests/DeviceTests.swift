import Foundation
@testable import Models
import NN
import Tensor
import XCTest

/// `Module.to` moves parameters and buffers in place, so a model and an optimiser built on it follow the device.
/// Moves go to PyTorch's `meta` device (shapes, no data), the one device besides the CPU that exists here.
/// Whether CUDA kernels run is only checked on a machine with a GPU (see the README).
final class DeviceTests: XCTestCase {
  func testModuleMovesParametersAndBuffersInPlace() throws {
    var config = HSPSAMConfig()
    config.promptsPerLevel = 2
    let model = try HSPSAM(config: config, base: ModelRegistry.build(.litemedsam))
    let frozen = try XCTUnwrap(model.namedParameters().first { $0.name.hasSuffix("layers.1.blocks.0.attn.qkv.weight") }?.tensor)
    let trained = model.trainableParameters().map(\.tensor)
    XCTAssertFalse(trained.isEmpty)
    try model.to(.meta)
    XCTAssertEqual(frozen.device, .meta, "a layer's stored tensor is the moved one")
    XCTAssertEqual(model.device, .meta)
    XCTAssertTrue((model.namedParameters() + model.namedBuffers()).allSatisfy { $0.tensor.device == .meta },
                  "every parameter and buffer, persistent or not")
    XCTAssertFalse(frozen.requiresGrad, "frozen stays frozen")
    XCTAssertTrue(trained.allSatisfy { $0.requiresGrad && $0.device == .meta }, "trained tensors stay trainable leaves")
    XCTAssertEqual(Device("meta"), .meta)
    XCTAssertEqual(Device("cuda:1"), .cuda(1))
    XCTAssertNil(Device("gpu"))
  }
}

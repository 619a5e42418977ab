import Tensor
import TestSupport
import XCTest

final class TensorBasicsTests: XCTestCase {
  func testCreationAndProperties() throws {
    let t = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
    XCTAssertEqual(t.shape, [2, 3])
    XCTAssertEqual(t.dtype, .float32)
    XCTAssertEqual(t.device, .cpu)
    XCTAssertEqual(try Tensor.zeros([2, 2]).floats(), [0, 0, 0, 0])
    XCTAssertEqual(try Tensor.ones([3], dtype: .int64).toArray(Int64.self), [1, 1, 1])
    XCTAssertEqual(try Tensor.full([2], 2.5).floats(), [2.5, 2.5])
    XCTAssertEqual(try Tensor.arange(0, 5).toArray(Int64.self), [0, 1, 2, 3, 4])
    XCTAssertEqual(try Tensor.arange(0, 1, step: 0.25, dtype: .float32).floats(), [0, 0.25, 0.5, 0.75])
    XCTAssertEqual(try Tensor([true, false]).dtype, .bool)
    XCTAssertThrowsError(try Tensor([1, 2, 3] as [Float], shape: [2, 2])) { error in
      XCTAssertTrue("\(error)".contains("bytes"), "\(error)")
    }
  }

  func testDTypes() throws {
    let x = try Tensor([1.5, -2.25, 3.0] as [Float])
    for dtype in [DType.float16, .bfloat16, .float64] {
      let y = try x.to(dtype)
      XCTAssertEqual(y.dtype, dtype)
      XCTAssertEqual(try y.to(.float32).floats(), [1.5, -2.25, 3.0], "\(dtype) round trip of exactly representable values")
    }
    XCTAssertEqual(try x.to(.int64).toArray(Int64.self), [1, -2, 3])
    XCTAssertEqual(try x.gt(0).toArray(Bool.self), [true, false, true])
    XCTAssertEqual(try Tensor([1, 2] as [Float16]).to(.float32).floats(), [1, 2])
  }

  func testBroadcastingOperators() throws {
    let a = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
    let row = try Tensor([10, 20, 30] as [Float])
    XCTAssertEqual(try (a + row).floats(), [11, 22, 33, 14, 25, 36])
    XCTAssertEqual(try (a * 2 - 1).floats(), [1, 3, 5, 7, 9, 11])
    XCTAssertEqual(try (1 - a).floats(), [0, -1, -2, -3, -4, -5])
    XCTAssertEqual(try (6 / a).floats(), [6, 3, 2, 1.5, 1.2, 1])
    XCTAssertEqual(try (-a).floats(), [-1, -2, -3, -4, -5, -6])
    XCTAssertEqual(try a.clamp(min: 2, max: 4).floats(), [2, 2, 3, 4, 4, 4])
    XCTAssertEqual(try Tensor.where(a.gt(3), a, a * 0).floats(), [0, 0, 0, 4, 5, 6])
    XCTAssertEqual(try a.maskedFill(a.lt(3), -1).floats(), [-1, -1, 3, 4, 5, 6])
  }

  func testShapeOperations() throws {
    let t = try Tensor.arange(0, 24, dtype: .float32).reshape([2, 3, 4])
    XCTAssertEqual(try t.permute([2, 0, 1]).shape, [4, 2, 3])
    XCTAssertEqual(try t.transpose(0, 2).shape, [4, 3, 2])
    XCTAssertFalse(try t.transpose(0, 2).isContiguous)
    XCTAssertThrowsError(try t.transpose(0, 2).view([24]), "view of a non-contiguous tensor fails as in PyTorch")
    XCTAssertEqual(try t.flatten(start: 1).shape, [2, 12])
    XCTAssertEqual(try t.unsqueeze(0).squeeze(0).shape, [2, 3, 4])
    XCTAssertEqual(try t[1].shape, [3, 4])
    XCTAssertEqual(try t.narrow(dim: 2, start: 1, length: 2).shape, [2, 3, 2])
    XCTAssertEqual(try t.slice(dim: 2, start: 0, step: 2).floats().prefix(4), [0, 2, 4, 6])
    XCTAssertEqual(try Tensor.cat([t, t], dim: 1).shape, [2, 6, 4])
    XCTAssertEqual(try Tensor.stack([t, t], dim: 0).shape, [2, 2, 3, 4])
    XCTAssertEqual(try t.split(sizes: [1, 3], dim: 2).map(\.shape), [[2, 3, 1], [2, 3, 3]])
    XCTAssertEqual(try t.chunk(3, dim: 2).map(\.shape), [[2, 3, 2], [2, 3, 2]])
    XCTAssertEqual(try t.split(size: 2, dim: 1).map(\.shape), [[2, 2, 4], [2, 1, 4]])
    XCTAssertEqual(try t.expand([3, 2, 3, 4]).shape, [3, 2, 3, 4])
    XCTAssertEqual(try t.repeated([1, 2, 1]).shape, [2, 6, 4])
    let index = try Tensor([2, 0] as [Int64])
    XCTAssertEqual(try t.indexSelect(dim: 1, index: index).select(dim: 0, index: 0).select(dim: 1, index: 0).floats(), [8, 0])
    XCTAssertEqual(try t.flip([2])[0][0].floats(), [3, 2, 1, 0])
    XCTAssertEqual(try Tensor([0, 2] as [Int64]).oneHot(classes: 3).toArray(Int64.self), [1, 0, 0, 0, 0, 1])
    XCTAssertThrowsError(try t.narrow(dim: 0, start: 1, length: 5))
  }

  func testLibtorchErrorsArriveAsSwiftErrors() throws {
    let a = try Tensor.ones([2, 3]), b = try Tensor.ones([2, 3])
    XCTAssertThrowsError(try a.matmul(b)) { error in
      XCTAssertEqual("\(error)".split(separator: "\n").first.map(String.init),
                     "mm: mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)")
    }
    XCTAssertThrowsError(try a.reshape([7]))
    XCTAssertThrowsError(try a.conv2d(weight: Tensor.ones([1, 1, 3, 3])))
  }

  func testDropout() throws {
    let x = try Tensor.ones([10_000])
    XCTAssertEqual(try x.dropout(probability: 0.5, training: false).floats(), try x.floats(), "identity in eval mode")
    let y = try x.dropout(probability: 0.5, training: true).floats()
    XCTAssertEqual(Set(y), [0, 2], "kept values are scaled by 1 / (1 - p)")
    XCTAssertEqual(Double(y.filter { $0 == 0 }.count) / 10_000, 0.5, accuracy: 0.03)
  }

  func testCUDADeviceValue() throws {
    XCTAssertEqual(Device("cuda:1"), .cuda(1))
    XCTAssertNil(Device("gpu"))
    if !Device.isCUDAAvailable {
      XCTAssertThrowsError(try Tensor.zeros([1], device: .cuda(0)), "the CPU build of libtorch refuses CUDA tensors")
    } else {
      XCTAssertEqual(try Tensor.zeros([1], device: .cuda(0)).device, .cuda(0))
    }
  }
}

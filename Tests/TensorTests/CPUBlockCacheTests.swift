import Tensor
import XCTest

/// The CPU block cache (Sources/CTorch/cpu_block_cache.cpp) is process-wide and installed once, so every check is
/// in one test: tensors made before it are freed by their own allocator, a freed large block is reused, values are
/// never stale, a miss keeps live + cached blocks within 1.25x their peak, the limit releases blocks, and oneDNN's
/// raw allocate/deallocate (convolution) goes through it.
final class CPUBlockCacheTests: XCTestCase {
  func testLargeBlocksAreReusedWithinTheLimit() throws {
    let input = try Tensor.randn([2, 8, 64, 64])
    let weight = try Tensor.randn([16, 8, 3, 3])
    let before = try input.conv2d(weight: weight, padding: (1, 1)).floats()
    do {
      let madeBefore = try Tensor.ones([1 << 20])  // 4 MB from libtorch's default allocator
      Torch.enableCPUBlockCache(limitBytes: 64 << 20)
      Torch.enableCPUBlockCache(limitBytes: 1 << 40)  // a second call changes nothing
      XCTAssertEqual(try madeBefore.sum().item(), Double(1 << 20))
    }  // freed here by its own allocator, not the cache

    let cachedAtStart = Torch.cpuBlockCacheBytes
    do {
      let block = try Tensor.full([1 << 20], 3)  // 4 MB: cached when freed
      XCTAssertEqual(try block.sum().item(), 3 * Double(1 << 20))
    }
    XCTAssertGreaterThanOrEqual(Torch.cpuBlockCacheBytes - cachedAtStart, 4 << 20, "the freed 4 MB block is kept")
    let cachedAfterFree = Torch.cpuBlockCacheBytes
    do {
      let reused = try Tensor.zeros([1 << 20])  // takes the cached block and must not see its old values
      XCTAssertEqual(Torch.cpuBlockCacheBytes, cachedAfterFree - (4 << 20), "the cached block is handed out again")
      XCTAssertEqual(try reused.abs().sum().item(), 0)
    }

    do {  // 12 x 4 MB live at once: the peak of live large blocks becomes ~48 MB; all of them are then cached
      let blocks = try (0..<12).map { _ in try Tensor.full([1 << 20], 1) }
      XCTAssertEqual(blocks.count, 12)
    }
    XCTAssertGreaterThanOrEqual(Torch.cpuBlockCacheBytes, 48 << 20)
    do {
      // 20 MB fits no cached block, and live + cached + 20 MB would pass 1.25x the peak of live blocks (~49 MB with
      // `input`), so the miss first releases the oldest cached blocks: without that the cache would hold ~52 MB.
      let missed = try Tensor.zeros([5 << 20])
      XCTAssertLessThanOrEqual(Torch.cpuBlockCacheBytes, (49 << 20) * 5 / 4 - (20 << 20),
                               "a miss keeps live + cached within 1.25x the peak of live blocks")
      XCTAssertEqual(try missed.abs().sum().item(), 0)
    }

    do { _ = try Tensor.zeros([32 << 20]) }  // 128 MB freed: over the 64 MB limit, released at once
    XCTAssertLessThanOrEqual(Torch.cpuBlockCacheBytes, 64 << 20, "the cache never holds more than its limit")

    for _ in 0..<3 {  // oneDNN allocates its own buffers through the raw interface
      XCTAssertEqual(try input.conv2d(weight: weight, padding: (1, 1)).floats(), before)
    }
  }
}

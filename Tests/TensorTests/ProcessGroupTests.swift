import Foundation
import Tensor
import TestSupport
import XCTest

/// libtorch's c10d through the shim: two ranks (threads of this process) rendezvous over a TCPStore on 127.0.0.1
/// and run Gloo's collectives.
final class ProcessGroupTests: XCTestCase {
  /// Runs `body` as ranks 0 and 1 at once and returns what each threw, if anything.
  func twoRanks(timeout: Double = 20, _ body: @escaping @Sendable (ProcessGroup) throws -> Void) throws -> [String?] {
    let port = try ProcessGroup.freePort()
    let errors = LockedArray(count: 2)
    DispatchQueue.concurrentPerform(iterations: 2) { rank in
      do {
        let group = try ProcessGroup(host: "127.0.0.1", port: port, rank: rank, worldSize: 2, timeout: timeout)
        try body(group)
      } catch {
        errors.set(rank, "\(error)")
      }
    }
    return errors.values
  }

  func testAllReduceSumsAndBroadcastCopiesRankZeros() throws {
    let errors = try twoRanks { group in
      let r = Float(group.rank + 1)
      let a = try Tensor([1 * r, 2 * r, 3 * r], shape: [3]), b = try Tensor([Float](repeating: r, count: 4), shape: [2, 2])
      try group.allReduceSum([a, b])
      XCTAssertEqual(try a.toArray(Float.self), [3, 6, 9], "rank \(group.rank)")
      XCTAssertEqual(try b.toArray(Float.self), [3, 3, 3, 3], "rank \(group.rank)")
      let c = try Tensor([Float(group.rank * 10 + 7)], shape: [1])
      try group.broadcast([c], from: 0)
      XCTAssertEqual(try c.toArray(Float.self), [7], "rank \(group.rank)")
      try group.barrier()
    }
    XCTAssertEqual(errors, [nil, nil])
  }

  /// c10d's Reducer (DDP's) averages the gradients during the backward: a parameter large enough for buckets of
  /// its own and a small one end with the ranks' mean, and one the loss does not reach keeps no gradient.
  func testGradientReducerAveragesDuringTheBackward() throws {
    let errors = try twoRanks { group in
      let r = Float(group.rank + 1)
      let small = try Tensor.zeros([3]).requiresGrad(true)
      let large = try Tensor.zeros([400_000]).requiresGrad(true)  // 1.6 MB: past the 1 MiB first bucket
      let unused = try Tensor.zeros([2]).requiresGrad(true)
      let reducer = try GradientReducer([small, large, unused], group: group, findUnused: true)
      for step in 1...2 {  // the second step runs on the buckets rebuilt in the first one's order
        try small.zeroGrad(); try large.zeroGrad()
        let s = Float(step)
        let loss = try (small * Tensor([r, 2 * r, 3 * r], shape: [3])).sum() + (large * Tensor.full([400_000], Double(r * s))).sum()
        try reducer.prepare(outputs: [loss])
        try loss.backward()
        // The mean over ranks 1 and 2 of r * (1, 2, 3) and r * s.
        XCTAssertEqual(try XCTUnwrap(small.grad).toArray(Float.self), [1.5, 3, 4.5], "rank \(group.rank) step \(step)")
        let largeGrad = try XCTUnwrap(large.grad)
        XCTAssertEqual(try largeGrad.min().item(), Double(1.5 * s), "rank \(group.rank) step \(step)")
        XCTAssertEqual(try largeGrad.max().item(), Double(1.5 * s), "rank \(group.rank) step \(step)")
        XCTAssertNil(try unused.grad, "rank \(group.rank) step \(step)")
      }
    }
    XCTAssertEqual(errors, [nil, nil])
  }

  /// A rank that never joins, or never arrives at a collective, makes the other fail within the timeout, not hang.
  func testAMissingRankFailsWithinTheTimeout() throws {
    let start = Date()
    XCTAssertThrowsError(try ProcessGroup(host: "127.0.0.1", port: try ProcessGroup.freePort(), rank: 0, worldSize: 2, timeout: 2))
    XCTAssertLessThan(Date().timeIntervalSince(start), 15)
    let collective = Date()
    let errors = try twoRanks(timeout: 2) { group in
      guard group.rank == 0 else { return }  // rank 1 joins, then leaves without the all-reduce
      try group.allReduceSum([try Tensor([Float(1)], shape: [1])])
    }
    XCTAssertNotNil(errors[0], "rank 0's all-reduce must fail")
    XCTAssertNil(errors[1])
    XCTAssertLessThan(Date().timeIntervalSince(collective), 20)
  }
}

/// What each rank's thread reports, written under a lock.
final class LockedArray: @unchecked Sendable {
  private let lock = NSLock()
  private var storage: [String?]
  init(count: Int) { storage = Array(repeating: nil, count: count) }
  func set(_ index: Int, _ value: String) { lock.lock(); storage[index] = value; lock.unlock() }
  var values: [String?] { lock.lock(); defer { lock.unlock() }; return storage }
}

import CTorch
import Foundation

/// A group of processes that train together (data parallel), over libtorch's c10d: a TCPStore rendezvous served
/// by rank 0 and the Gloo backend's collectives on CPU tensors. Every rank makes the same calls in the same order;
/// a rank that dies makes the others' next collective fail within `timeout` instead of hanging.
public final class ProcessGroup {
  public let rank: Int
  public let worldSize: Int
  let handle: hst_process_group

  /// Joins the group: blocks until all `worldSize` ranks have joined through `host`:`port` (rank 0 listens there),
  /// or fails after `timeout` seconds.
  public init(host: String, port: Int, rank: Int, worldSize: Int, timeout: Double = 60) throws {
    var out: hst_process_group?
    try check(hst_process_group_create(host, Int32(port), Int32(rank), Int32(worldSize), Int64(timeout * 1000), &out))
    handle = out!
    self.rank = rank
    self.worldSize = worldSize
  }

  deinit { hst_process_group_free(handle) }

  /// A TCP port of 127.0.0.1 that was free a moment ago (bound to port 0, read back, closed): for a rendezvous
  /// whose ranks are all on this machine.
  public static func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TorchError.invalidArgument("cannot open a socket to find a free port") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw TorchError.invalidArgument("cannot find a free port on 127.0.0.1") }
    return Int(UInt16(bigEndian: address.sin_port))
  }

  /// Sums each tensor over the ranks, in place.
  public func allReduceSum(_ tensors: [Tensor]) throws {
    var handles: [hst_tensor?] = tensors.map(\.handle)
    try check(hst_process_group_allreduce_sum(handle, &handles, Int64(handles.count)))
  }

  /// Copies rank `root`'s values of each tensor into every rank's, in place.
  public func broadcast(_ tensors: [Tensor], from root: Int = 0) throws {
    var handles: [hst_tensor?] = tensors.map(\.handle)
    try check(hst_process_group_broadcast(handle, &handles, Int64(handles.count), Int32(root)))
  }

  /// Returns once every rank has reached it; fails after `timeout` seconds (nil: the group's), e.g. a long one
  /// where ranks wait for each other's share of a long computation.
  public func barrier(timeout: Double? = nil) throws {
    try check(hst_process_group_barrier(handle, Int64((timeout ?? 0) * 1000)))
  }

  /// The sums over the ranks of a few numbers (float64).
  public func sum(_ values: [Double]) throws -> [Double] {
    let tensor = try Tensor(values, shape: [values.count])
    try allReduceSum([tensor])
    return try tensor.toArray(Double.self)
  }
}

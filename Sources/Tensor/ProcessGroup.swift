import CTorch

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

  /// Returns once every rank has reached it.
  public func barrier() throws { try check(hst_process_group_barrier(handle)) }
}

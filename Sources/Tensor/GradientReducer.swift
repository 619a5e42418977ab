import CTorch

/// Data-parallel gradient averaging as PyTorch's DistributedDataParallel does it, with its own machinery (c10d's
/// `Reducer`): the parameters' gradients are all-reduced in buckets while the backward is still running, each
/// bucket as soon as all its gradients exist, so communication overlaps computation; when `backward()` returns
/// every gradient is the mean over the ranks. Call `prepare(outputs:)` between each forward and its backward.
public final class GradientReducer {
  let handle: hst_gradient_reducer
  let group: ProcessGroup  // the reducer's collectives run on this group: it is freed after the reducer

  /// `bucketBytes` and `firstBucketBytes` are DDP's defaults (25 MiB, 1 MiB: the first bucket small, so the last
  /// gradients of the backward do not wait for a large one). With `findUnused`, parameters that the outputs do not
  /// reach are found each step and count as ready at once.
  public init(_ parameters: [Tensor], group: ProcessGroup, bucketBytes: Int = 25 << 20, firstBucketBytes: Int = 1 << 20,
              findUnused: Bool = false) throws {
    var handles: [hst_tensor?] = parameters.map(\.handle)
    var out: hst_gradient_reducer?
    try check(hst_gradient_reducer_create(group.handle, &handles, Int64(handles.count), Int64(bucketBytes),
                                          Int64(firstBucketBytes), findUnused ? 1 : 0, &out))
    handle = out!
    self.group = group
  }

  deinit { hst_gradient_reducer_free(handle) }

  /// Arms the reducer for the next backward, from the tensors that backward starts from.
  public func prepare(outputs: [Tensor]) throws {
    var handles: [hst_tensor?] = outputs.map(\.handle)
    try check(hst_gradient_reducer_prepare(handle, &handles, Int64(handles.count)))
  }
}

// Data-parallel collectives through libtorch's own c10d: a TCPStore for the rendezvous (rank 0 serves it) and
// ProcessGroupGloo for all-reduce, broadcast and barrier on CPU tensors. The wheel ships c10d's headers and
// exports these classes from libtorch_cpu.so, but not gloo's headers, which ProcessGroupGloo.hpp includes: those
// come from Debian's libgloo-dev (scripts/setup.sh); only declarations are taken from them, every gloo call
// runs inside libtorch's own gloo. docs/distributed.md says how this is built.
#define USE_C10D_GLOO 1
#include "shim_internal.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

struct hst_process_group_s {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
  // The same Gloo backend behind a c10d::ProcessGroup, the type DDP's Reducer takes (as Python's
  // init_process_group builds it: a ProcessGroup with its CPU backend registered and made the default).
  c10::intrusive_ptr<c10d::ProcessGroup> processGroup;
  std::chrono::milliseconds timeout;
};

struct hst_gradient_reducer_s {
  std::unique_ptr<c10d::Reducer> reducer;
};

namespace {
std::vector<at::Tensor> tensors(hst_tensor *handles, int64_t count) {
  std::vector<at::Tensor> list;
  list.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) list.push_back(hst::tensor(handles[i]));
  return list;
}

/// Waits for a collective; a peer that died or stalled surfaces as an exception within the group's timeout.
void finish(const c10::intrusive_ptr<c10d::Work> &work, std::chrono::milliseconds timeout) {
  if (!work->wait(timeout)) throw std::runtime_error("collective did not finish within the timeout");
}
}  // namespace

extern "C" {

int hst_process_group_create(const char *host, int port, int rank, int world_size, int64_t timeout_ms,
                             hst_process_group *out) {
  HST_GUARD({
    if (world_size < 1 || rank < 0 || rank >= world_size)
      throw std::invalid_argument("rank " + std::to_string(rank) + " is not in a world of " + std::to_string(world_size));
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(port);
    options.isServer = rank == 0;
    options.numWorkers = static_cast<size_t>(world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(std::string(host), options);
    auto groupOptions = c10d::ProcessGroupGloo::Options::create(timeout);
    groupOptions->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, groupOptions);
    auto processGroup = c10::make_intrusive<c10d::ProcessGroup>(store, rank, world_size);
    processGroup->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, group);
    processGroup->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
    *out = new hst_process_group_s{store, group, processGroup, timeout};
  })
}

void hst_process_group_free(hst_process_group group) { delete group; }

int hst_process_group_allreduce_sum(hst_process_group group, hst_tensor *handles, int64_t count) {
  HST_GUARD({
    // One bucket: the tensors flattened into one buffer, one all-reduce, the sums copied back (Gloo's allreduce
    // takes one tensor per device, all of one size, so a list of different tensors cannot go as it is).
    auto list = tensors(handles, count);
    if (list.empty()) return 0;
    std::vector<at::Tensor> flat;
    flat.reserve(list.size());
    for (auto &tensor : list) {
      if (tensor.scalar_type() != list[0].scalar_type()) throw std::invalid_argument("all-reduce of tensors of different dtypes");
      flat.push_back(tensor.reshape({-1}));
    }
    std::vector<at::Tensor> bucket{at::cat(flat)};
    finish(group->group->allreduce(bucket, c10d::AllreduceOptions{}), group->timeout);
    int64_t offset = 0;
    for (auto &tensor : list) {
      tensor.copy_(bucket[0].narrow(0, offset, tensor.numel()).view(tensor.sizes()));
      offset += tensor.numel();
    }
  })
}

int hst_process_group_broadcast(hst_process_group group, hst_tensor *handles, int64_t count, int root) {
  HST_GUARD({
    auto list = tensors(handles, count);
    // One tensor per call: Gloo's broadcast takes a list of one tensor per device.
    for (auto &tensor : list) {
      std::vector<at::Tensor> one{tensor};
      c10d::BroadcastOptions options;
      options.rootRank = root;
      finish(group->group->broadcast(one, options), group->timeout);
    }
  })
}

int hst_process_group_barrier(hst_process_group group, int64_t timeout_ms) {
  HST_GUARD({
    auto timeout = timeout_ms > 0 ? std::chrono::milliseconds(timeout_ms) : group->timeout;
    c10d::BarrierOptions options;
    options.timeout = timeout;
    finish(group->group->barrier(options), timeout);
  })
}

int hst_gradient_reducer_create(hst_process_group group, hst_tensor *parameters, int64_t count, int64_t bucket_bytes,
                                int64_t first_bucket_bytes, int find_unused, hst_gradient_reducer *out) {
  HST_GUARD({
    auto list = tensors(parameters, count);
    std::vector<bool> sparse(list.size(), false);
    // DDP's first assignment: buckets filled in the parameters' order, then reversed, since gradients arrive
    // roughly in the reverse of the forward's order. After the first backward the Reducer rebuilds them in the
    // order the gradients actually arrived (rebuild_buckets, below).
    auto assignment = c10d::compute_bucket_assignment_by_size(
        list, {static_cast<size_t>(first_bucket_bytes), static_cast<size_t>(bucket_bytes)}, sparse);
    auto buckets = std::get<0>(assignment);
    std::reverse(buckets.begin(), buckets.end());
    auto reducer = std::make_unique<c10d::Reducer>(
        list, buckets, group->processGroup, sparse, bucket_bytes, find_unused != 0,
        /*gradient_as_bucket_view=*/false, std::unordered_map<size_t, std::string>{}, first_bucket_bytes,
        /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false, std::vector<int64_t>{});
    *out = new hst_gradient_reducer_s{std::move(reducer)};
  })
}

void hst_gradient_reducer_free(hst_gradient_reducer reducer) { delete reducer; }

int hst_gradient_reducer_prepare(hst_gradient_reducer reducer, hst_tensor *outputs, int64_t count) {
  HST_GUARD({
    // What DDP's forward does: rebuild the buckets once the first backward has shown the gradients' order (a no-op
    // otherwise), then arm the reducer's autograd hooks for the coming backward.
    reducer->reducer->rebuild_buckets();
    reducer->reducer->prepare_for_backward(tensors(outputs, count));
  })
}

}  // extern "C"

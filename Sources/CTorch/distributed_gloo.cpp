// Data-parallel collectives through libtorch's own c10d: a TCPStore for the rendezvous (rank 0 serves it) and
// ProcessGroupGloo for all-reduce, broadcast and barrier on CPU tensors. The wheel ships c10d's headers and
// exports these classes from libtorch_cpu.so, but not gloo's headers, which ProcessGroupGloo.hpp includes: those
// come from Debian's libgloo-dev (scripts/setup.sh); only declarations are taken from them, every gloo call
// runs inside libtorch's own gloo. docs/distributed.md says how this is built.
#define USE_C10D_GLOO 1
#include "shim_internal.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <vector>

struct hst_process_group_s {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
  std::chrono::milliseconds timeout;
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
    *out = new hst_process_group_s{store, group, timeout};
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

}  // extern "C"

// A caching CPU allocator for large tensors, installed over libtorch's default one by hst_enable_cpu_block_cache.
//
// Why: libtorch's CPU allocator is posix_memalign/free. glibc serves every block above its mmap threshold (at most
// 32 MB) with a fresh mmap and returns it with munmap, so each large activation of each training step is paged in
// again and zeroed by the kernel (clear_page was 11 % of all samples of `hspsam bench hsp` under perf, with 7.6 M
// page faults in 80 s). Training repeats the same shapes step after step, so freed large blocks are kept and handed
// out again: best fit among cached blocks no more than 1/8 larger than asked. Small blocks go to the default
// allocator unchanged. Two bounds, each kept by releasing the least recently freed blocks first: a miss may not
// take live + cached large blocks past 1.25x the peak of live ones, so the cache adds at most a quarter to peak
// memory (bounded only by `limit`, it took `hspsam bench sam` from 2.5 GB to 6.2 GB: LiteMedSAM's freed blocks sat
// beside SAM ViT-B's, whose own were released at the limit and paged in again); and at most `limit` bytes are
// cached. A training step's blocks come back step after step, so neither releases much there. A block not reused
// within the next 8,192 large allocations is released too. Blocks of 2 MB and more are aligned to 2 MB and advised
// as transparent huge pages.
#include "hspsam_torch.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace {

constexpr size_t kSmallBlock = 256 * 1024;       // below this the default allocator (glibc's heap) is already cheap
constexpr size_t kHugePage = 2 * 1024 * 1024;
constexpr size_t kRound = 64 * 1024;             // sizes rounded up so near-equal requests share blocks
constexpr uint64_t kMaxIdle = 8192;               // large allocations a free block may sit unused before release
constexpr uint64_t kSweepEvery = 1024;            // large allocations between sweeps for idle blocks

// A large block's context is its own pointer and its deleter is `release`, as oneDNN's raw_allocate /
// raw_deallocate require; its size is looked up by pointer. Small blocks keep the default allocator's DataPtr, so
// their frees never take this cache's lock; only a small block that oneDNN frees through raw_deallocate reaches
// `release`, which hands it back to the default allocator.
class CPUBlockCache final : public c10::Allocator {
 public:
  CPUBlockCache(c10::Allocator *fallback, size_t limit)
      : fallback_(fallback), fallback_deleter_(fallback->raw_deleter()), limit_(limit) {}

  c10::DataPtr allocate(size_t n) override {
    if (n < kSmallBlock) return fallback_->allocate(n);
    size_t size = (n + kRound - 1) / kRound * kRound;
    void *ptr = take(size);
    if (ptr == nullptr) ptr = fresh(size);
    return {ptr, ptr, &CPUBlockCache::release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &CPUBlockCache::release; }

  void copy_data(void *dest, const void *src, std::size_t count) const override { default_copy_data(dest, src, count); }

  int64_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int64_t>(cached_);
  }

  static CPUBlockCache *instance;

 private:
  struct FreeBlock {
    void *ptr;
    uint64_t freed_at;  // the value of `tick_` when it was freed
  };

  void *take(size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (++tick_ % kSweepEvery == 0) release_idle();
    auto it = free_.lower_bound(size);
    if (it == free_.end() || it->first > size + size / 8) {
      make_room(size);
      return nullptr;
    }
    void *ptr = it->second.ptr;
    live_.emplace(ptr, it->first);
    live_bytes_ += it->first;
    cached_ -= it->first;
    free_.erase(it);
    return ptr;
  }

  void *fresh(size_t size) {
    size_t alignment = size >= kHugePage ? kHugePage : 64;
    void *ptr = nullptr;
    TORCH_CHECK_WITH(OutOfMemoryError, posix_memalign(&ptr, alignment, size) == 0,
                     "CPU block cache: not enough memory for ", size, " bytes");
    if (size >= kHugePage) madvise(ptr, size, MADV_HUGEPAGE);  // advice only: failure changes nothing
    std::lock_guard<std::mutex> lock(mutex_);
    live_.emplace(ptr, size);
    live_bytes_ += size;
    return ptr;
  }

  static void release(void *ptr) { instance->give_back(ptr); }

  void give_back(void *ptr) {
    if (ptr == nullptr) return;
    std::unique_lock<std::mutex> lock(mutex_);
    auto live = live_.find(ptr);
    if (live == live_.end()) {  // a small block freed through raw_deallocate: the default allocator's
      lock.unlock();
      fallback_deleter_(ptr);
      return;
    }
    size_t size = live->second;
    live_.erase(live);
    live_bytes_ -= size;
    if (size > limit_) {  // could never be cached without emptying the cache: released at once
      std::free(ptr);
      return;
    }
    free_.emplace(size, FreeBlock{ptr, tick_});
    cached_ += size;
    release_oldest_while([this] { return cached_ > limit_; });
  }

  // Before a miss allocates `size` bytes: keeps live + cached + size within 1.25x the peak of live bytes (this
  // allocation included).
  void make_room(size_t size) {
    peak_live_ = std::max(peak_live_, live_bytes_ + size);
    size_t allowed = peak_live_ + peak_live_ / 4;
    release_oldest_while([&] { return live_bytes_ + cached_ + size > allowed; });
  }

  // Releases cached blocks, least recently freed first, while `over()` holds and any are left.
  template <typename Over>
  void release_oldest_while(Over over) {
    if (!over() || free_.empty()) return;
    std::vector<std::multimap<size_t, FreeBlock>::iterator> oldest_first;
    oldest_first.reserve(free_.size());
    for (auto it = free_.begin(); it != free_.end(); ++it) oldest_first.push_back(it);
    std::sort(oldest_first.begin(), oldest_first.end(),
              [](auto a, auto b) { return a->second.freed_at < b->second.freed_at; });
    for (auto it : oldest_first) {
      if (!over()) break;
      erase(it);
    }
  }

  // Blocks of a shape that stopped coming back (evaluation at each image's own size, a finished phase) are
  // returned to the system, so the cache follows the current working set rather than every shape ever seen.
  void release_idle() {
    for (auto it = free_.begin(); it != free_.end();) {
      it = tick_ - it->second.freed_at > kMaxIdle ? erase(it) : std::next(it);
    }
  }

  std::multimap<size_t, FreeBlock>::iterator erase(std::multimap<size_t, FreeBlock>::iterator it) {
    cached_ -= it->first;
    std::free(it->second.ptr);
    return free_.erase(it);
  }

  c10::Allocator *fallback_;
  c10::DeleterFnPtr fallback_deleter_;
  size_t limit_;
  std::mutex mutex_;
  std::unordered_map<void *, size_t> live_;
  std::multimap<size_t, FreeBlock> free_;
  size_t cached_ = 0;      // bytes in free_
  size_t live_bytes_ = 0;  // bytes in live_
  size_t peak_live_ = 0;   // the most live_bytes_ has been, counting a miss's block before it is allocated
  uint64_t tick_ = 0;  // large allocations so far
};

CPUBlockCache *CPUBlockCache::instance = nullptr;

}  // namespace

// Installs the cache once (the first call wins; later calls return 0 and change nothing). It is never uninstalled:
// tensors allocated by it may outlive any scope. Priority 1 outranks libtorch's default allocator (priority 0).
int hst_enable_cpu_block_cache(int64_t limit_bytes) {
  static std::once_flag once;
  std::call_once(once, [limit_bytes] {
    // glibc raises its mmap threshold after each large free, so this cache's blocks would later come from the heap,
    // between long-lived tensors, and freed ones could not be returned; fixed at kSmallBlock, every block the cache
    // allocates is its own mapping (see enableCPUBlockCache). A threshold set by the user's environment is kept.
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, static_cast<int>(kSmallBlock));
    CPUBlockCache::instance = new CPUBlockCache(c10::GetDefaultCPUAllocator(), static_cast<size_t>(limit_bytes));
    c10::SetCPUAllocator(CPUBlockCache::instance, 1);
  });
  return 0;
}

int64_t hst_cpu_block_cache_bytes(void) {
  return CPUBlockCache::instance == nullptr ? 0 : CPUBlockCache::instance->cached_bytes();
}

// Op-level timing through libtorch's RecordFunction callbacks: total and self wall time per op name (forward
// aten ops and autograd's backward functions), so `hspsam bench hsp --profile` can say where a step goes.
// Times are taken on the thread that calls the op; intra-op worker threads run inside it and are not separate.
#include "hspsam_torch.h"

#include <ATen/record_function.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {
using Clock = std::chrono::steady_clock;

struct Totals { double total = 0, self = 0; int64_t calls = 0; };

struct Frame : at::ObserverContext {
  Clock::time_point start;
  double children = 0;
};

std::mutex totals_lock;
std::map<std::string, Totals> totals;
at::CallbackHandle handle = 0;
bool installed = false;
thread_local std::vector<Frame *> stack;

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction &) {
  auto frame = std::make_unique<Frame>();
  frame->start = Clock::now();
  stack.push_back(frame.get());
  return frame;
}

void on_end(const at::RecordFunction &fn, at::ObserverContext *context) {
  auto *frame = static_cast<Frame *>(context);
  double total = std::chrono::duration<double>(Clock::now() - frame->start).count();
  if (!stack.empty() && stack.back() == frame) stack.pop_back();
  if (!stack.empty()) stack.back()->children += total;
  std::lock_guard<std::mutex> guard(totals_lock);
  auto &t = totals[fn.name()];
  t.total += total;
  t.self += total - frame->children;
  t.calls += 1;
}
}  // namespace

extern "C" int hst_profiler_start(void) {
  std::lock_guard<std::mutex> guard(totals_lock);
  totals.clear();
  if (!installed) {
    handle = at::addGlobalCallback(at::RecordFunctionCallback(on_start, on_end)
                                       .needsInputs(false)
                                       .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
    installed = true;
  }
  return 0;
}

extern "C" int hst_profiler_stop(int64_t rows, char **out) {
  if (installed) {
    at::removeCallback(handle);
    installed = false;
  }
  std::vector<std::pair<std::string, Totals>> sorted;
  double all = 0;
  {
    std::lock_guard<std::mutex> guard(totals_lock);
    sorted.assign(totals.begin(), totals.end());
  }
  for (auto &e : sorted) all += e.second.self;
  std::sort(sorted.begin(), sorted.end(), [](auto &a, auto &b) { return a.second.self > b.second.self; });
  std::string text;
  char line[512];
  std::snprintf(line, sizeof line, "%-60s %10s %6s %10s %8s\n", "op", "self ms", "self%", "total ms", "calls");
  text += line;
  for (int64_t i = 0; i < static_cast<int64_t>(sorted.size()) && i < rows; ++i) {
    auto &[name, t] = sorted[i];
    std::snprintf(line, sizeof line, "%-60.60s %10.1f %5.1f%% %10.1f %8lld\n", name.c_str(), t.self * 1e3,
                  all > 0 ? 100 * t.self / all : 0.0, t.total * 1e3, static_cast<long long>(t.calls));
    text += line;
  }
  std::snprintf(line, sizeof line, "%-60s %10.1f\n", "all ops (self)", all * 1e3);
  text += line;
  *out = static_cast<char *>(std::malloc(text.size() + 1));
  std::memcpy(*out, text.c_str(), text.size() + 1);
  return 0;
}

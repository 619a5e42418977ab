// What the shim's translation units share (not part of the C ABI Swift sees): the tensor handle's layout and the
// guard that turns C++ exceptions into a status code and a thread-local message.
#ifndef HSPSAM_SHIM_INTERNAL_H
#define HSPSAM_SHIM_INTERNAL_H

#include "hspsam_torch.h"

#include <ATen/ATen.h>

#include <string>

struct hst_tensor_s { at::Tensor t; };

namespace hst {
/// Records the failure text that hst_take_error() returns.
void set_error(const std::string &message);

inline at::Tensor &tensor(hst_tensor h) {
  if (h == nullptr) throw std::invalid_argument("null tensor handle");
  return h->t;
}
}  // namespace hst

#define HST_GUARD(...)                                                     \
  try {                                                                    \
    __VA_ARGS__;                                                           \
    return 0;                                                              \
  } catch (const c10::Error &e) {                                          \
    hst::set_error(e.what_without_backtrace());                            \
  } catch (const std::exception &e) {                                      \
    hst::set_error(e.what());                                              \
  } catch (...) {                                                          \
    hst::set_error("unknown C++ exception");                               \
  }                                                                        \
  return 1;

#endif

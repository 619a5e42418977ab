// The C ABI of include/hspsam_torch.h over ATen. The only translation unit that includes torch headers:
// every entry point runs its body inside HST_GUARD, which turns any C++ exception into a status code and a
// thread-local message, so no exception ever crosses into Swift.
#include "shim_internal.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/headeronly/version.h>

#include <dlfcn.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

struct hst_archive_s { std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader; };

namespace {
thread_local std::string last_error;
}  // namespace

void hst::set_error(const std::string &message) { last_error = message.empty() ? "unknown libtorch error" : message; }

namespace {
using hst::set_error;

hst_tensor wrap(at::Tensor t) { return new hst_tensor_s{std::move(t)}; }
at::Tensor &T(hst_tensor h) { return hst::tensor(h); }
at::Tensor opt(hst_tensor h) { return h == nullptr ? at::Tensor() : h->t; }

at::ScalarType scalar_type(int code) {
  switch (code) {
    case HST_FLOAT32: return at::kFloat;
    case HST_FLOAT16: return at::kHalf;
    case HST_BFLOAT16: return at::kBFloat16;
    case HST_INT64: return at::kLong;
    case HST_BOOL: return at::kBool;
    case HST_UINT8: return at::kByte;
    case HST_INT32: return at::kInt;
    case HST_FLOAT64: return at::kDouble;
  }
  throw std::invalid_argument("unknown dtype code " + std::to_string(code));
}

int dtype_code(at::ScalarType s) {
  switch (s) {
    case at::kFloat: return HST_FLOAT32;
    case at::kHalf: return HST_FLOAT16;
    case at::kBFloat16: return HST_BFLOAT16;
    case at::kLong: return HST_INT64;
    case at::kBool: return HST_BOOL;
    case at::kByte: return HST_UINT8;
    case at::kInt: return HST_INT32;
    case at::kDouble: return HST_FLOAT64;
    default: return -1;
  }
}

at::Device device(int type, int64_t index) {
  if (type == HST_CPU) return at::Device(at::kCPU);
  if (type == HST_CUDA) return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  if (type == HST_META) return at::Device(at::kMeta);
  throw std::invalid_argument("unknown device type " + std::to_string(type));
}

// A Swift Double as the Scalar PyTorch would use: integral values stay integral for integer tensors, so
// `counter += 1` on an int64 tensor works as in Python.
at::Scalar scalar_for(const at::Tensor &x, double v) {
  if (!at::isFloatingType(x.scalar_type()) && std::floor(v) == v && std::fabs(v) < 9.0e15)
    return at::Scalar(static_cast<int64_t>(v));
  return at::Scalar(v);
}

at::IntArrayRef dims(const int64_t *p, int64_t n) { return at::IntArrayRef(p, static_cast<size_t>(n)); }
}  // namespace

#define HST_OUT(...) HST_GUARD(*out = wrap(__VA_ARGS__))

extern "C" {

char *hst_take_error(void) {
  char *copy = strdup(last_error.c_str());
  last_error.clear();
  return copy;
}
void hst_free_string(char *s) { free(s); }

// MARK: runtime
int hst_set_num_threads(int64_t n) { HST_GUARD(at::set_num_threads(static_cast<int>(n))) }
int64_t hst_get_num_threads(void) { return at::get_num_threads(); }
int hst_manual_seed(uint64_t seed) { HST_GUARD(at::manual_seed(seed)) }
int hst_cuda_is_available(void) { return at::hasCUDA() ? 1 : 0; }
int64_t hst_cuda_device_count(void) {
  try { return at::hasCUDA() ? static_cast<int64_t>(at::getNumGPUs()) : 0; } catch (...) { return 0; }
}
// libtorch_cuda.so registers the CUDA kernels and hooks from its static initialisers, so loading it with
// RTLD_GLOBAL is all that enabling CUDA takes; the CPU-only link stays the default.
int hst_load_cuda(const char *path) {
  HST_GUARD({
    if (dlopen(path, RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      const char *reason = dlerror();
      throw std::runtime_error(reason ? reason : "dlopen failed");
    }
  })
}
int hst_set_grad_enabled(int enabled) {
  bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(enabled != 0);
  return previous ? 1 : 0;
}
int hst_is_grad_enabled(void) { return c10::GradMode::is_enabled() ? 1 : 0; }
const char *hst_version(void) { return TORCH_VERSION; }

// MARK: lifecycle and properties
void hst_free(hst_tensor t) { delete t; }
int hst_share(hst_tensor t, hst_tensor *out) { HST_OUT(T(t)) }
int64_t hst_dim(hst_tensor t) { return t->t.dim(); }
int64_t hst_sizes(hst_tensor t, int64_t *sizes, int64_t capacity) {
  int64_t n = t->t.dim();
  for (int64_t i = 0; i < n && i < capacity; ++i) sizes[i] = t->t.size(i);
  return n;
}
int64_t hst_strides(hst_tensor t, int64_t *strides, int64_t capacity) {
  int64_t n = t->t.dim();
  for (int64_t i = 0; i < n && i < capacity; ++i) strides[i] = t->t.stride(i);
  return n;
}
int hst_dtype(hst_tensor t) { return dtype_code(t->t.scalar_type()); }
int hst_device(hst_tensor t, int *type, int64_t *index) {
  HST_GUARD({
    auto d = T(t).device();
    *type = d.is_cuda() ? HST_CUDA : d.is_meta() ? HST_META : HST_CPU;
    *index = d.has_index() ? d.index() : 0;
  })
}
int64_t hst_numel(hst_tensor t) { return t->t.numel(); }
int hst_is_contiguous(hst_tensor t, int channels_last) {
  return t->t.is_contiguous(channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous) ? 1 : 0;
}
int hst_defined(hst_tensor t) { return t != nullptr && t->t.defined() ? 1 : 0; }

// MARK: creation
int hst_from_data(const void *data, int64_t nbytes, int dtype, const int64_t *sizes, int64_t ndim, hst_tensor *out) {
  HST_GUARD({
    auto result = at::empty(dims(sizes, ndim), at::TensorOptions().dtype(scalar_type(dtype)));
    int64_t expected = result.numel() * static_cast<int64_t>(result.element_size());
    if (expected != nbytes)
      throw std::invalid_argument("from_data: " + std::to_string(nbytes) + " bytes given, shape needs " +
                                  std::to_string(expected));
    if (nbytes > 0) std::memcpy(result.data_ptr(), data, static_cast<size_t>(nbytes));
    *out = wrap(result);
  })
}
int hst_from_storage(hst_tensor storage, int dtype, const int64_t *sizes, const int64_t *strides, int64_t ndim,
                     int64_t offset, hst_tensor *out) {
  HST_GUARD({
    auto &bytes = T(storage);
    if (bytes.scalar_type() != at::kByte || bytes.dim() != 1) throw std::invalid_argument("storage must be 1-D uint8");
    auto type = scalar_type(dtype);
    int64_t element = static_cast<int64_t>(c10::elementSize(type));
    if (bytes.numel() % element != 0) throw std::invalid_argument("storage size is not a multiple of the element size");
    // Bounds check before as_strided: the farthest element must lie inside the storage.
    // Overflow-checked: sizes and strides come from a file, and a wrapped product would pass the check.
    int64_t last = offset;
    for (int64_t i = 0; i < ndim; ++i) {
      if (sizes[i] < 0 || strides[i] < 0) throw std::invalid_argument("negative size or stride");
      if (sizes[i] == 0) { last = -1; break; }
      int64_t span = 0;
      if (__builtin_mul_overflow(sizes[i] - 1, strides[i], &span) || __builtin_add_overflow(last, span, &last))
        throw std::invalid_argument("tensor size or stride overflows");
    }
    // A stride-0 view may name more elements than its storage holds (an expanded tensor), but not without bound:
    // anything that copies it would allocate them all.
    int64_t count = 1;
    for (int64_t i = 0; i < ndim; ++i)
      if (__builtin_mul_overflow(count, sizes[i], &count) || count > (int64_t(1) << 34))
        throw std::invalid_argument("tensor has more than 2^34 elements");
    if (offset < 0 || last >= bytes.numel() / element)
      throw std::invalid_argument("tensor extends past its storage (offset " + std::to_string(offset) + ")");
    auto typed = bytes.view(type);
    *out = wrap(typed.as_strided(dims(sizes, ndim), dims(strides, ndim), offset));
  })
}
int hst_factory(int kind, const int64_t *sizes, int64_t ndim, int dtype, int device_type, int64_t device_index,
                hst_tensor *out) {
  HST_GUARD({
    auto options = at::TensorOptions().dtype(scalar_type(dtype)).device(device(device_type, device_index));
    auto shape = dims(sizes, ndim);
    switch (kind) {
      case 0: *out = wrap(at::zeros(shape, options)); break;
      case 1: *out = wrap(at::ones(shape, options)); break;
      case 2: *out = wrap(at::empty(shape, options)); break;
      case 3: *out = wrap(at::rand(shape, options)); break;
      case 4: *out = wrap(at::randn(shape, options)); break;
      default: throw std::invalid_argument("unknown factory kind");
    }
  })
}
int hst_full(const int64_t *sizes, int64_t ndim, double value, int dtype, int device_type, int64_t device_index,
             hst_tensor *out) {
  HST_OUT(at::full(dims(sizes, ndim), value,
                   at::TensorOptions().dtype(scalar_type(dtype)).device(device(device_type, device_index))))
}
int hst_arange(double start, double end, double step, int dtype, int device_type, int64_t device_index, hst_tensor *out) {
  HST_OUT(at::arange(start, end, step,
                     at::TensorOptions().dtype(scalar_type(dtype)).device(device(device_type, device_index))))
}
int hst_randint(int64_t low, int64_t high, const int64_t *sizes, int64_t ndim, hst_tensor *out) {
  HST_OUT(at::randint(low, high, dims(sizes, ndim), at::TensorOptions().dtype(at::kLong)))
}
int hst_scalar_tensor(double value, int dtype, hst_tensor *out) {
  HST_OUT(at::scalar_tensor(value, at::TensorOptions().dtype(scalar_type(dtype))))
}

// MARK: data out
int hst_copy_out(hst_tensor t, int dtype, void *dst, int64_t nbytes) {
  HST_GUARD({
    auto c = T(t).detach().to(at::kCPU, scalar_type(dtype)).contiguous();
    int64_t have = c.numel() * static_cast<int64_t>(c.element_size());
    if (have != nbytes)
      throw std::invalid_argument("copy_out: buffer of " + std::to_string(nbytes) + " bytes, tensor has " +
                                  std::to_string(have));
    if (nbytes > 0) std::memcpy(dst, c.data_ptr(), static_cast<size_t>(nbytes));
  })
}
int hst_item(hst_tensor t, double *out) { HST_GUARD(*out = T(t).item<double>()) }

// MARK: conversion
int hst_to(hst_tensor t, int dtype, int device_type, int64_t device_index, hst_tensor *out) {
  HST_OUT(T(t).to(device(device_type, device_index), scalar_type(dtype)))
}
int hst_move(hst_tensor t, int device_type, int64_t device_index) {
  HST_GUARD({
    bool grad = t->t.requires_grad();
    t->t = t->t.detach().to(device(device_type, device_index)).requires_grad_(grad);
  })
}
int hst_contiguous(hst_tensor t, int memory_format, hst_tensor *out) {
  HST_OUT(T(t).contiguous(memory_format == 1 ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous))
}
int hst_clone(hst_tensor t, hst_tensor *out) { HST_OUT(T(t).clone()) }

// MARK: elementwise
int hst_unary(int op, hst_tensor a, hst_tensor *out) {
  HST_GUARD({
    auto &x = T(a);
    at::Tensor r;
    switch (op) {
      case HST_NEG: r = at::neg(x); break;
      case HST_EXP: r = at::exp(x); break;
      case HST_LOG: r = at::log(x); break;
      case HST_SQRT: r = at::sqrt(x); break;
      case HST_RSQRT: r = at::rsqrt(x); break;
      case HST_ABS: r = at::abs(x); break;
      case HST_RELU: r = at::relu(x); break;
      case HST_SIGMOID: r = at::sigmoid(x); break;
      case HST_TANH: r = at::tanh(x); break;
      case HST_GELU: r = at::gelu(x); break;
      case HST_GELU_TANH: r = at::gelu(x, "tanh"); break;
      case HST_SIN: r = at::sin(x); break;
      case HST_COS: r = at::cos(x); break;
      case HST_FLOOR: r = at::floor(x); break;
      case HST_CEIL: r = at::ceil(x); break;
      case HST_ROUND: r = at::round(x); break;
      case HST_LOGICAL_NOT: r = at::logical_not(x); break;
      case HST_SIGN: r = at::sign(x); break;
      case HST_SQUARE: r = at::square(x); break;
      case HST_RECIPROCAL: r = at::reciprocal(x); break;
      case HST_ISNAN: r = at::isnan(x); break;
      case HST_ISINF: r = at::isinf(x); break;
      case HST_LOG1P: r = at::log1p(x); break;
      case HST_ERF: r = at::erf(x); break;
      case HST_SILU: r = at::silu(x); break;
      default: throw std::invalid_argument("unknown unary op " + std::to_string(op));
    }
    *out = wrap(r);
  })
}

int hst_binary(int op, hst_tensor a, hst_tensor b, hst_tensor *out) {
  HST_GUARD({
    auto &x = T(a);
    auto &y = T(b);
    at::Tensor r;
    switch (op) {
      case HST_ADD: r = at::add(x, y); break;
      case HST_SUB: r = at::sub(x, y); break;
      case HST_MUL: r = at::mul(x, y); break;
      case HST_DIV: r = at::div(x, y); break;
      case HST_POW: r = at::pow(x, y); break;
      case HST_MAXIMUM: r = at::maximum(x, y); break;
      case HST_MINIMUM: r = at::minimum(x, y); break;
      case HST_EQ: r = at::eq(x, y); break;
      case HST_NE: r = at::ne(x, y); break;
      case HST_LT: r = at::lt(x, y); break;
      case HST_LE: r = at::le(x, y); break;
      case HST_GT: r = at::gt(x, y); break;
      case HST_GE: r = at::ge(x, y); break;
      case HST_LOGICAL_AND: r = at::logical_and(x, y); break;
      case HST_LOGICAL_OR: r = at::logical_or(x, y); break;
      case HST_MATMUL: r = at::matmul(x, y); break;
      case HST_BMM: r = at::bmm(x, y); break;
      case HST_REMAINDER: r = at::remainder(x, y); break;
      case HST_ATAN2: r = at::atan2(x, y); break;
      default: throw std::invalid_argument("unknown binary op " + std::to_string(op));
    }
    *out = wrap(r);
  })
}

int hst_binary_scalar(int op, hst_tensor a, double s, int reversed, hst_tensor *out) {
  HST_GUARD({
    auto &x = T(a);
    at::Scalar v = scalar_for(x, s);
    at::Tensor r;
    switch (op) {
      case HST_ADD: r = at::add(x, v); break;
      case HST_SUB: r = reversed ? at::rsub(x, v) : at::sub(x, v); break;
      case HST_MUL: r = at::mul(x, v); break;
      case HST_DIV: r = reversed ? at::mul(at::reciprocal(x), v) : at::div(x, v); break;
      case HST_POW: r = reversed ? at::pow(v, x) : at::pow(x, v); break;
      case HST_MAXIMUM: r = at::clamp_min(x, v); break;
      case HST_MINIMUM: r = at::clamp_max(x, v); break;
      case HST_EQ: r = at::eq(x, v); break;
      case HST_NE: r = at::ne(x, v); break;
      case HST_LT: r = at::lt(x, v); break;
      case HST_LE: r = at::le(x, v); break;
      case HST_GT: r = at::gt(x, v); break;
      case HST_GE: r = at::ge(x, v); break;
      case HST_REMAINDER: r = at::remainder(x, v); break;
      default: throw std::invalid_argument("unsupported scalar op " + std::to_string(op));
    }
    *out = wrap(r);
  })
}

int hst_where(hst_tensor cond, hst_tensor a, hst_tensor b, hst_tensor *out) { HST_OUT(at::where(T(cond), T(a), T(b))) }
int hst_clamp(hst_tensor a, double lo, double hi, hst_tensor *out) {
  HST_GUARD({
    std::optional<at::Scalar> l, h;
    if (!std::isnan(lo)) l = lo;
    if (!std::isnan(hi)) h = hi;
    *out = wrap(at::clamp(T(a), l, h));
  })
}
int hst_masked_fill(hst_tensor a, hst_tensor mask, double value, hst_tensor *out) {
  HST_OUT(at::masked_fill(T(a), T(mask), value))
}

// MARK: in place
int hst_inplace(int op, hst_tensor self, hst_tensor other, double alpha) {
  HST_GUARD({
    auto &x = T(self);
    auto &y = T(other);
    switch (op) {
      case HST_IADD: x.add_(y, alpha); break;
      case HST_ISUB: x.sub_(y, alpha); break;
      case HST_IMUL: x.mul_(y); break;
      case HST_IDIV: x.div_(y); break;
      case HST_ICOPY: x.copy_(y); break;
      default: throw std::invalid_argument("unknown in-place op " + std::to_string(op));
    }
  })
}
int hst_inplace_scalar(int op, hst_tensor self, double a, double b) {
  HST_GUARD({
    auto &x = T(self);
    switch (op) {
      case HST_IADD_SCALAR: x.add_(scalar_for(x, a)); break;
      case HST_IMUL_SCALAR: x.mul_(scalar_for(x, a)); break;
      case HST_IFILL: x.fill_(scalar_for(x, a)); break;
      case HST_IUNIFORM: x.uniform_(a, b); break;
      case HST_INORMAL: x.normal_(a, b); break;
      case HST_IZERO: x.zero_(); break;
      case HST_ISQRT: x.sqrt_(); break;
      case HST_ICLAMP_MIN: x.clamp_min_(a); break;
      case HST_ICLAMP_MAX: x.clamp_max_(a); break;
      default: throw std::invalid_argument("unknown in-place scalar op " + std::to_string(op));
    }
  })
}
int hst_addcmul_(hst_tensor self, hst_tensor t1, hst_tensor t2, double value) {
  HST_GUARD(T(self).addcmul_(T(t1), T(t2), value))
}
int hst_addcdiv_(hst_tensor self, hst_tensor t1, hst_tensor t2, double value) {
  HST_GUARD(T(self).addcdiv_(T(t1), T(t2), value))
}
int hst_lerp_(hst_tensor self, hst_tensor end, double weight) { HST_GUARD(T(self).lerp_(T(end), weight)) }

// MARK: reductions
int hst_reduce(int op, hst_tensor a, const int64_t *d, int64_t ndims, int keepdim, int64_t correction,
               hst_tensor *out) {
  HST_GUARD({
    auto &x = T(a);
    bool all = ndims == 0;
    std::optional<std::vector<int64_t>> dimList;
    if (!all) dimList = std::vector<int64_t>(d, d + ndims);
    at::OptionalIntArrayRef dimsOpt = dimList ? at::OptionalIntArrayRef(*dimList) : at::OptionalIntArrayRef();
    bool k = keepdim != 0;
    at::Tensor r;
    auto single = [&](const char *name) -> int64_t {
      if (ndims > 1) throw std::invalid_argument(std::string(name) + " takes at most one dimension");
      return d[0];
    };
    switch (op) {
      case HST_SUM: r = all ? x.sum() : x.sum(dims(d, ndims), k); break;
      case HST_MEAN: r = all ? x.mean() : x.mean(dims(d, ndims), k); break;
      case HST_AMAX: r = x.amax(all ? at::IntArrayRef() : dims(d, ndims), k); break;
      case HST_AMIN: r = x.amin(all ? at::IntArrayRef() : dims(d, ndims), k); break;
      case HST_ARGMAX: r = all ? x.argmax() : x.argmax(single("argmax"), k); break;
      case HST_ARGMIN: r = all ? x.argmin() : x.argmin(single("argmin"), k); break;
      case HST_VAR: r = at::var(x, dimsOpt, at::Scalar(correction), k); break;
      case HST_STD: r = at::std(x, dimsOpt, at::Scalar(correction), k); break;
      case HST_NORM2: r = all ? at::linalg_vector_norm(x, 2) : at::linalg_vector_norm(x, 2, dims(d, ndims), k); break;
      case HST_LOGSUMEXP: r = at::logsumexp(x, all ? at::IntArrayRef() : dims(d, ndims), k); break;
      case HST_PROD: r = all ? x.prod() : x.prod(single("prod"), k); break;
      case HST_ANY: r = all ? x.any() : x.any(single("any"), k); break;
      case HST_ALL: r = all ? x.all() : x.all(single("all"), k); break;
      default: throw std::invalid_argument("unknown reduction " + std::to_string(op));
    }
    *out = wrap(r);
  })
}

// MARK: shape
int hst_reshape(hst_tensor a, const int64_t *s, int64_t n, hst_tensor *out) { HST_OUT(T(a).reshape(dims(s, n))) }
int hst_view(hst_tensor a, const int64_t *s, int64_t n, hst_tensor *out) { HST_OUT(T(a).view(dims(s, n))) }
int hst_permute(hst_tensor a, const int64_t *d, int64_t n, hst_tensor *out) { HST_OUT(T(a).permute(dims(d, n))) }
int hst_transpose(hst_tensor a, int64_t d0, int64_t d1, hst_tensor *out) { HST_OUT(T(a).transpose(d0, d1)) }
int hst_expand(hst_tensor a, const int64_t *s, int64_t n, hst_tensor *out) { HST_OUT(T(a).expand(dims(s, n))) }
int hst_repeat(hst_tensor a, const int64_t *r, int64_t n, hst_tensor *out) { HST_OUT(T(a).repeat(dims(r, n))) }
static std::vector<at::Tensor> list(const hst_tensor *ts, int64_t n) {
  std::vector<at::Tensor> v;
  v.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v.push_back(T(ts[i]));
  return v;
}
int hst_cat(const hst_tensor *ts, int64_t n, int64_t dim, hst_tensor *out) { HST_OUT(at::cat(list(ts, n), dim)) }
int hst_stack(const hst_tensor *ts, int64_t n, int64_t dim, hst_tensor *out) { HST_OUT(at::stack(list(ts, n), dim)) }
int hst_split_with_sizes(hst_tensor a, const int64_t *s, int64_t n, int64_t dim, hst_tensor *out) {
  HST_GUARD({
    auto parts = T(a).split_with_sizes(dims(s, n), dim);
    for (size_t i = 0; i < parts.size(); ++i) out[i] = wrap(parts[i]);
  })
}
int hst_slice(hst_tensor a, int64_t dim, int64_t start, int64_t end, int64_t step, hst_tensor *out) {
  HST_OUT(T(a).slice(dim, start, end, step))
}
int hst_select(hst_tensor a, int64_t dim, int64_t index, hst_tensor *out) { HST_OUT(T(a).select(dim, index)) }
int hst_index_select(hst_tensor a, int64_t dim, hst_tensor index, hst_tensor *out) {
  HST_OUT(T(a).index_select(dim, T(index)))
}
int hst_gather(hst_tensor a, int64_t dim, hst_tensor index, hst_tensor *out) { HST_OUT(at::gather(T(a), dim, T(index))) }
int hst_pad(hst_tensor a, const int64_t *p, int64_t n, int mode, double value, hst_tensor *out) {
  HST_GUARD({
    static const char *modes[] = {"constant", "reflect", "replicate", "circular"};
    if (mode < 0 || mode > 3) throw std::invalid_argument("unknown pad mode");
    std::optional<double> v;
    if (mode == 0) v = value;
    *out = wrap(at::pad(T(a), dims(p, n), modes[mode], v));
  })
}
int hst_flatten(hst_tensor a, int64_t start, int64_t end, hst_tensor *out) { HST_OUT(T(a).flatten(start, end)) }
int hst_squeeze(hst_tensor a, int64_t dim, hst_tensor *out) { HST_OUT(T(a).squeeze(dim)) }
int hst_unsqueeze(hst_tensor a, int64_t dim, hst_tensor *out) { HST_OUT(T(a).unsqueeze(dim)) }
int hst_flip(hst_tensor a, const int64_t *d, int64_t n, hst_tensor *out) { HST_OUT(T(a).flip(dims(d, n))) }
int hst_rot90(hst_tensor a, int64_t k, int64_t d0, int64_t d1, hst_tensor *out) { HST_OUT(T(a).rot90(k, {d0, d1})) }
int hst_one_hot(hst_tensor a, int64_t num_classes, hst_tensor *out) { HST_OUT(at::one_hot(T(a), num_classes)) }

// MARK: neural network functions
int hst_softmax(hst_tensor a, int64_t dim, int log, hst_tensor *out) {
  HST_OUT(log ? at::log_softmax(T(a), dim) : at::softmax(T(a), dim))
}
int hst_linear(hst_tensor x, hst_tensor w, hst_tensor b, hst_tensor *out) { HST_OUT(at::linear(T(x), T(w), opt(b))) }
int hst_layer_norm(hst_tensor x, const int64_t *shape, int64_t ndim, hst_tensor w, hst_tensor b, double eps,
                   hst_tensor *out) {
  HST_OUT(at::layer_norm(T(x), dims(shape, ndim), opt(w), opt(b), eps))
}
int hst_batch_norm(hst_tensor x, hst_tensor w, hst_tensor b, hst_tensor rm, hst_tensor rv, int training,
                   double momentum, double eps, hst_tensor *out) {
  HST_OUT(at::batch_norm(T(x), opt(w), opt(b), opt(rm), opt(rv), training != 0, momentum, eps, false))
}
int hst_conv2d(hst_tensor x, hst_tensor w, hst_tensor b, const int64_t stride[2], const int64_t padding[2],
               const int64_t dilation[2], int64_t groups, hst_tensor *out) {
  HST_OUT(at::conv2d(T(x), T(w), opt(b), dims(stride, 2), dims(padding, 2), dims(dilation, 2), groups))
}
int hst_conv_transpose2d(hst_tensor x, hst_tensor w, hst_tensor b, const int64_t stride[2], const int64_t padding[2],
                         const int64_t output_padding[2], const int64_t dilation[2], int64_t groups, hst_tensor *out) {
  HST_OUT(at::conv_transpose2d(T(x), T(w), opt(b), dims(stride, 2), dims(padding, 2), dims(output_padding, 2), groups,
                               dims(dilation, 2)))
}
int hst_interpolate(hst_tensor x, int64_t h, int64_t w, int mode, int align_corners, int antialias, hst_tensor *out) {
  HST_GUARD({
    std::vector<int64_t> size{h, w};
    bool ac = align_corners != 0;
    at::Tensor r;
    switch (mode) {
      case 0: r = at::upsample_nearest2d(T(x), size); break;
      case 1: r = antialias ? at::_upsample_bilinear2d_aa(T(x), size, ac) : at::upsample_bilinear2d(T(x), size, ac); break;
      case 2: r = antialias ? at::_upsample_bicubic2d_aa(T(x), size, ac) : at::upsample_bicubic2d(T(x), size, ac); break;
      case 3: r = at::adaptive_avg_pool2d(T(x), size); break;
      case 4: r = at::_upsample_nearest_exact2d(T(x), size); break;
      default: throw std::invalid_argument("unknown interpolation mode");
    }
    *out = wrap(r);
  })
}
int hst_sdpa(hst_tensor q, hst_tensor k, hst_tensor v, hst_tensor bias, double scale, hst_tensor *out) {
  HST_GUARD({
    std::optional<double> s;
    if (scale > 0) s = scale;
    std::optional<at::Tensor> mask;
    if (bias != nullptr) mask = T(bias);
    *out = wrap(at::scaled_dot_product_attention(T(q), T(k), T(v), mask, 0.0, false, s));
  })
}
int hst_affine_warp(hst_tensor x, hst_tensor theta, int mode, hst_tensor *out) {
  HST_GUARD({
    auto &input = T(x);
    auto grid = at::affine_grid_generator(T(theta), input.sizes(), false);
    *out = wrap(at::grid_sampler(input, grid, mode == 1 ? 1 : 0, 0, false));
  })
}
int hst_dropout(hst_tensor x, double p, int train, hst_tensor *out) { HST_OUT(at::dropout(T(x), p, train != 0)) }
int hst_embedding(hst_tensor weight, hst_tensor indices, hst_tensor *out) { HST_OUT(at::embedding(T(weight), T(indices))) }
int hst_max_pool2d(hst_tensor x, const int64_t k[2], const int64_t s[2], const int64_t p[2], hst_tensor *out) {
  HST_OUT(at::max_pool2d(T(x), dims(k, 2), dims(s, 2), dims(p, 2)))
}
int hst_avg_pool2d(hst_tensor x, const int64_t k[2], const int64_t s[2], const int64_t p[2], hst_tensor *out) {
  HST_OUT(at::avg_pool2d(T(x), dims(k, 2), dims(s, 2), dims(p, 2)))
}

// MARK: autograd
int hst_set_requires_grad(hst_tensor t, int flag) { HST_GUARD(T(t).set_requires_grad(flag != 0)) }
int hst_requires_grad(hst_tensor t) { return t->t.requires_grad() ? 1 : 0; }
int hst_backward(hst_tensor t, hst_tensor grad, int retain_graph) {
  HST_GUARD(T(t).backward(opt(grad), retain_graph ? std::optional<bool>(true) : std::nullopt))
}
int hst_grad(hst_tensor t, hst_tensor *out) {
  HST_GUARD({
    const auto &g = T(t).grad();
    *out = g.defined() ? wrap(g) : nullptr;
  })
}
int hst_set_grad(hst_tensor t, hst_tensor grad) {
  HST_GUARD(T(t).mutable_grad() = grad == nullptr ? at::Tensor() : grad->t)
}
int hst_detach(hst_tensor t, hst_tensor *out) { HST_OUT(T(t).detach()) }
int hst_is_leaf(hst_tensor t) { return t->t.is_leaf() ? 1 : 0; }

// MARK: archives
int hst_archive_open(const char *path, hst_archive *out) {
  HST_GUARD(*out = new hst_archive_s{std::make_unique<caffe2::serialize::PyTorchStreamReader>(std::string(path))})
}
void hst_archive_free(hst_archive a) { delete a; }
int hst_archive_records(hst_archive a, char **out) {
  HST_GUARD({
    std::string joined;
    for (const auto &name : a->reader->getAllRecords()) {
      joined += name;
      joined += '\n';
    }
    *out = strdup(joined.c_str());
  })
}
int hst_archive_read(hst_archive a, const char *name, hst_tensor *out) {
  HST_GUARD({
    size_t n = a->reader->getRecordSize(name);
    auto bytes = at::empty({static_cast<int64_t>(n)}, at::TensorOptions().dtype(at::kByte));
    if (n > 0) a->reader->getRecord(name, bytes.data_ptr(), n);
    *out = wrap(bytes);
  })
}

}  // extern "C"

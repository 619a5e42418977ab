// Plain C interface over libtorch (ATen). The only header Swift sees; torch headers stay in the .cpp.
// Conventions: every function returns 0 on success and non-zero on failure; results come back through
// out-parameters; the failure text is taken (and cleared) with hst_take_error(). Tensor handles are
// opaque, owned by the caller, and released with hst_free.
#ifndef HSPSAM_TORCH_H
#define HSPSAM_TORCH_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hst_tensor_s *hst_tensor;

/// dtype codes (stable, ours; mapped to at::ScalarType in the shim).
enum { HST_FLOAT32 = 0, HST_FLOAT16 = 1, HST_BFLOAT16 = 2, HST_INT64 = 3, HST_BOOL = 4, HST_UINT8 = 5,
       HST_INT32 = 6, HST_FLOAT64 = 7 };
/// device types; a device is (type, index).
enum { HST_CPU = 0, HST_CUDA = 1, HST_META = 2 };

/// Returns the last error message of this thread (malloc'd; free with hst_free_string) and clears it.
char *hst_take_error(void);
void hst_free_string(char *s);

// MARK: runtime
int hst_set_num_threads(int64_t n);
int64_t hst_get_num_threads(void);
/// Installs a caching allocator for CPU blocks of 256 KB and more (cpu_block_cache.cpp), keeping at most
/// `limit_bytes` of freed blocks for reuse. Once per process; later calls change nothing.
int hst_enable_cpu_block_cache(int64_t limit_bytes);
/// Bytes of freed blocks the cache holds now (0 when it is not installed).
int64_t hst_cpu_block_cache_bytes(void);
int hst_manual_seed(uint64_t seed);
int hst_cuda_is_available(void);
int64_t hst_cuda_device_count(void);
/// Loads libtorch's CUDA backend (`path`: libtorch_cuda.so) so CUDA tensors work; 0 on success.
int hst_load_cuda(const char *path);
/// Enables or disables gradient recording on this thread; returns the previous state.
int hst_set_grad_enabled(int enabled);
int hst_is_grad_enabled(void);
const char *hst_version(void);
/// Starts timing every op (op_profiler.cpp), clearing earlier totals.
int hst_profiler_start(void);
/// Stops timing; writes a table of the `rows` ops with the most self time (malloc'd; free with hst_free_string).
int hst_profiler_stop(int64_t rows, char **out);

// MARK: lifecycle and properties
void hst_free(hst_tensor t);
/// A second handle to the same tensor (shares storage and autograd identity).
int hst_share(hst_tensor t, hst_tensor *out);
int64_t hst_dim(hst_tensor t);
/// Writes up to `capacity` sizes; returns dim.
int64_t hst_sizes(hst_tensor t, int64_t *sizes, int64_t capacity);
int64_t hst_strides(hst_tensor t, int64_t *strides, int64_t capacity);
int hst_dtype(hst_tensor t);
int hst_device(hst_tensor t, int *type, int64_t *index);
int64_t hst_numel(hst_tensor t);
int hst_is_contiguous(hst_tensor t, int channels_last);
int hst_defined(hst_tensor t);

// MARK: creation
/// Copies `nbytes` of host data into a new contiguous tensor of the given dtype and shape.
int hst_from_data(const void *data, int64_t nbytes, int dtype, const int64_t *sizes, int64_t ndim, hst_tensor *out);
/// A view of `storage` (a 1-D uint8 tensor of raw bytes) reinterpreted as dtype with sizes/strides/offset (elements).
int hst_from_storage(hst_tensor storage, int dtype, const int64_t *sizes, const int64_t *strides, int64_t ndim,
                     int64_t offset, hst_tensor *out);
/// kind: 0 zeros, 1 ones, 2 empty, 3 rand (uniform [0,1)), 4 randn.
int hst_factory(int kind, const int64_t *sizes, int64_t ndim, int dtype, int device_type, int64_t device_index,
                hst_tensor *out);
int hst_full(const int64_t *sizes, int64_t ndim, double value, int dtype, int device_type, int64_t device_index,
             hst_tensor *out);
int hst_arange(double start, double end, double step, int dtype, int device_type, int64_t device_index, hst_tensor *out);
int hst_randint(int64_t low, int64_t high, const int64_t *sizes, int64_t ndim, hst_tensor *out);
int hst_scalar_tensor(double value, int dtype, hst_tensor *out);

// MARK: data out
/// Copies the tensor (converted to `dtype`, made contiguous, on CPU) into `dst` (exactly nbytes).
int hst_copy_out(hst_tensor t, int dtype, void *dst, int64_t nbytes);
int hst_item(hst_tensor t, double *out);

// MARK: conversion
int hst_to(hst_tensor t, int dtype, int device_type, int64_t device_index, hst_tensor *out);
/// Moves `t` itself to a device (a new leaf with the same requires_grad): every holder of this handle sees it.
int hst_move(hst_tensor t, int device_type, int64_t device_index);
/// memory_format: 0 contiguous, 1 channels_last.
int hst_contiguous(hst_tensor t, int memory_format, hst_tensor *out);
int hst_clone(hst_tensor t, hst_tensor *out);

// MARK: elementwise
enum { HST_NEG, HST_EXP, HST_LOG, HST_SQRT, HST_RSQRT, HST_ABS, HST_RELU, HST_SIGMOID, HST_TANH, HST_GELU,
       HST_GELU_TANH, HST_SIN, HST_COS, HST_FLOOR, HST_CEIL, HST_ROUND, HST_LOGICAL_NOT, HST_SIGN, HST_SQUARE,
       HST_RECIPROCAL, HST_ISNAN, HST_ISINF, HST_LOG1P, HST_ERF, HST_SILU };
int hst_unary(int op, hst_tensor a, hst_tensor *out);

enum { HST_ADD, HST_SUB, HST_MUL, HST_DIV, HST_POW, HST_MAXIMUM, HST_MINIMUM, HST_EQ, HST_NE, HST_LT, HST_LE,
       HST_GT, HST_GE, HST_LOGICAL_AND, HST_LOGICAL_OR, HST_MATMUL, HST_BMM, HST_REMAINDER, HST_ATAN2 };
int hst_binary(int op, hst_tensor a, hst_tensor b, hst_tensor *out);
/// a (op) scalar; for HST_SUB/HST_DIV `reversed` computes scalar (op) a.
int hst_binary_scalar(int op, hst_tensor a, double s, int reversed, hst_tensor *out);
int hst_where(hst_tensor cond, hst_tensor a, hst_tensor b, hst_tensor *out);
/// NaN bounds mean "no bound".
int hst_clamp(hst_tensor a, double lo, double hi, hst_tensor *out);
int hst_masked_fill(hst_tensor a, hst_tensor mask, double value, hst_tensor *out);

// MARK: in place (optimisers, initialisation); these bypass autograd checks only when grad mode is off.
enum { HST_IADD, HST_ISUB, HST_IMUL, HST_IDIV, HST_ICOPY };
/// self (op)= alpha * other   (alpha used by HST_IADD/HST_ISUB only).
int hst_inplace(int op, hst_tensor self, hst_tensor other, double alpha);
enum { HST_IADD_SCALAR, HST_IMUL_SCALAR, HST_IFILL, HST_IUNIFORM, HST_INORMAL, HST_IZERO, HST_ISQRT,
       HST_ICLAMP_MIN, HST_ICLAMP_MAX };
/// self (op)= a (b): uniform (a, b), normal (mean a, std b), fill a.
int hst_inplace_scalar(int op, hst_tensor self, double a, double b);
/// self += value * t1 * t2 (addcmul) or self += value * t1 / t2 (addcdiv).
int hst_addcmul_(hst_tensor self, hst_tensor t1, hst_tensor t2, double value);
int hst_addcdiv_(hst_tensor self, hst_tensor t1, hst_tensor t2, double value);
int hst_lerp_(hst_tensor self, hst_tensor end, double weight);

// MARK: reductions
enum { HST_SUM, HST_MEAN, HST_AMAX, HST_AMIN, HST_ARGMAX, HST_ARGMIN, HST_VAR, HST_STD, HST_NORM2,
       HST_LOGSUMEXP, HST_PROD, HST_ANY, HST_ALL };
/// ndims = 0 reduces every dimension. var/std use `correction` (1 = unbiased).
int hst_reduce(int op, hst_tensor a, const int64_t *dims, int64_t ndims, int keepdim, int64_t correction,
               hst_tensor *out);

// MARK: shape
int hst_reshape(hst_tensor a, const int64_t *sizes, int64_t ndim, hst_tensor *out);
int hst_view(hst_tensor a, const int64_t *sizes, int64_t ndim, hst_tensor *out);
int hst_permute(hst_tensor a, const int64_t *dims, int64_t ndim, hst_tensor *out);
int hst_transpose(hst_tensor a, int64_t d0, int64_t d1, hst_tensor *out);
int hst_expand(hst_tensor a, const int64_t *sizes, int64_t ndim, hst_tensor *out);
int hst_repeat(hst_tensor a, const int64_t *repeats, int64_t ndim, hst_tensor *out);
int hst_cat(const hst_tensor *ts, int64_t n, int64_t dim, hst_tensor *out);
int hst_stack(const hst_tensor *ts, int64_t n, int64_t dim, hst_tensor *out);
/// Splits into pieces of the given sizes along dim; writes n handles into out.
int hst_split_with_sizes(hst_tensor a, const int64_t *sizes, int64_t n, int64_t dim, hst_tensor *out);
int hst_slice(hst_tensor a, int64_t dim, int64_t start, int64_t end, int64_t step, hst_tensor *out);
int hst_select(hst_tensor a, int64_t dim, int64_t index, hst_tensor *out);
int hst_index_select(hst_tensor a, int64_t dim, hst_tensor index, hst_tensor *out);
int hst_gather(hst_tensor a, int64_t dim, hst_tensor index, hst_tensor *out);
/// mode: 0 constant, 1 reflect, 2 replicate, 3 circular; pad as in F.pad (last dim first).
int hst_pad(hst_tensor a, const int64_t *pad, int64_t npad, int mode, double value, hst_tensor *out);
int hst_flatten(hst_tensor a, int64_t start, int64_t end, hst_tensor *out);
int hst_squeeze(hst_tensor a, int64_t dim, hst_tensor *out);
int hst_unsqueeze(hst_tensor a, int64_t dim, hst_tensor *out);
int hst_flip(hst_tensor a, const int64_t *dims, int64_t ndim, hst_tensor *out);
int hst_rot90(hst_tensor a, int64_t k, int64_t d0, int64_t d1, hst_tensor *out);
int hst_one_hot(hst_tensor a, int64_t num_classes, hst_tensor *out);

// MARK: neural network functions
int hst_softmax(hst_tensor a, int64_t dim, int log, hst_tensor *out);
int hst_linear(hst_tensor x, hst_tensor w, hst_tensor b /* nullable */, hst_tensor *out);
int hst_layer_norm(hst_tensor x, const int64_t *shape, int64_t ndim, hst_tensor w, hst_tensor b, double eps,
                   hst_tensor *out);
int hst_batch_norm(hst_tensor x, hst_tensor w, hst_tensor b, hst_tensor running_mean, hst_tensor running_var,
                   int training, double momentum, double eps, hst_tensor *out);
int hst_conv2d(hst_tensor x, hst_tensor w, hst_tensor b, const int64_t stride[2], const int64_t padding[2],
               const int64_t dilation[2], int64_t groups, hst_tensor *out);
int hst_conv_transpose2d(hst_tensor x, hst_tensor w, hst_tensor b, const int64_t stride[2],
                         const int64_t padding[2], const int64_t output_padding[2], const int64_t dilation[2],
                         int64_t groups, hst_tensor *out);
/// mode: 0 nearest, 1 bilinear, 2 bicubic, 3 area (adaptive average), 4 nearest-exact.
int hst_interpolate(hst_tensor x, int64_t out_h, int64_t out_w, int mode, int align_corners, int antialias,
                    hst_tensor *out);
/// q,k,v: (..., L, E); bias: additive float mask broadcastable to (..., L, S) or null. scale <= 0: 1/sqrt(E).
int hst_sdpa(hst_tensor q, hst_tensor k, hst_tensor v, hst_tensor bias, double scale, hst_tensor *out);
/// Warps (N, C, H, W) by the affine maps theta (N, 2, 3) in normalised coordinates (affine_grid + grid_sample,
/// zero padding, align_corners false); mode 0 bilinear, 1 nearest.
int hst_affine_warp(hst_tensor x, hst_tensor theta, int mode, hst_tensor *out);
int hst_dropout(hst_tensor x, double p, int train, hst_tensor *out);
int hst_embedding(hst_tensor weight, hst_tensor indices, hst_tensor *out);
int hst_max_pool2d(hst_tensor x, const int64_t k[2], const int64_t stride[2], const int64_t padding[2],
                   hst_tensor *out);
int hst_avg_pool2d(hst_tensor x, const int64_t k[2], const int64_t stride[2], const int64_t padding[2],
                   hst_tensor *out);

// MARK: autograd
int hst_set_requires_grad(hst_tensor t, int flag);
int hst_requires_grad(hst_tensor t);
/// grad may be null for a scalar output.
int hst_backward(hst_tensor t, hst_tensor grad, int retain_graph);
/// *out is null when no gradient is stored.
int hst_grad(hst_tensor t, hst_tensor *out);
int hst_set_grad(hst_tensor t, hst_tensor grad /* nullable: clears */);
int hst_detach(hst_tensor t, hst_tensor *out);
int hst_is_leaf(hst_tensor t);

// MARK: PyTorch zip archives (torch.save), read with libtorch's own zip reader.
typedef struct hst_archive_s *hst_archive;
int hst_archive_open(const char *path, hst_archive *out);
void hst_archive_free(hst_archive a);
/// Writes the record names, '\n'-separated, as a malloc'd string (free with hst_free_string).
int hst_archive_records(hst_archive a, char **out);
/// Reads a record into a new 1-D uint8 tensor.
int hst_archive_read(hst_archive a, const char *name, hst_tensor *out);

// MARK: distributed (distributed_gloo.cpp)
typedef struct hst_process_group_s *hst_process_group;
/// Joins a Gloo process group of `world_size` ranks whose rendezvous is a TCPStore at host:port, served by rank 0.
/// `timeout_ms` bounds the rendezvous and each collective: a rank that died makes the others fail within it.
int hst_process_group_create(const char *host, int port, int rank, int world_size, int64_t timeout_ms,
                             hst_process_group *out);
void hst_process_group_free(hst_process_group group);
/// Sums each tensor over the ranks, in place, as one bucket (CPU tensors of one dtype, the same list on every rank).
int hst_process_group_allreduce_sum(hst_process_group group, hst_tensor *tensors, int64_t count);
/// Copies each tensor of rank `root` into the same tensor of every other rank, in place.
int hst_process_group_broadcast(hst_process_group group, hst_tensor *tensors, int64_t count, int root);
/// Returns once every rank has called it, or fails after `timeout_ms` (0: the group's timeout).
int hst_process_group_barrier(hst_process_group group, int64_t timeout_ms);

typedef struct hst_gradient_reducer_s *hst_gradient_reducer;
/// DistributedDataParallel's gradient reducer (c10d::Reducer) over `parameters`: during each backward that follows
/// hst_gradient_reducer_prepare, it all-reduces the gradients in buckets of about `bucket_bytes` (the first of
/// `first_bucket_bytes`) as soon as a bucket's gradients are ready, overlapping the backward, and leaves every
/// parameter's gradient averaged over the ranks when the backward returns. With `find_unused` a parameter the
/// loss does not reach counts as ready at once (and keeps no gradient where no rank reached it).
int hst_gradient_reducer_create(hst_process_group group, hst_tensor *parameters, int64_t count, int64_t bucket_bytes,
                                int64_t first_bucket_bytes, int find_unused, hst_gradient_reducer *out);
void hst_gradient_reducer_free(hst_gradient_reducer reducer);
/// Arms the reducer for the next backward from `outputs` (searched for unused parameters with `find_unused`).
int hst_gradient_reducer_prepare(hst_gradient_reducer reducer, hst_tensor *outputs, int64_t count);

#ifdef __cplusplus
}
#endif
#endif

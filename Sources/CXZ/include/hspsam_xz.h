// Whole-buffer .xz compression through Debian's liblzma (xz-utils' library), for shipped model files.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Decodes a whole .xz stream into a malloc'd buffer (`hxz_free` it). Output past `max_out` bytes is refused
/// rather than allocated. Returns 0, or non-zero with `*message` saying why (a static string).
int hxz_decode(const uint8_t *in, size_t in_size, size_t max_out, uint8_t **out, size_t *out_size, const char **message);

/// Encodes `in` as one .xz stream (preset 9: a dictionary larger than a model file) into a malloc'd buffer.
int hxz_encode(const uint8_t *in, size_t in_size, uint8_t **out, size_t *out_size, const char **message);

void hxz_free(void *buffer);

#ifdef __cplusplus
}
#endif

// Whole-buffer .xz encode/decode on liblzma's stream API.
#include "hspsam_xz.h"

#include <lzma.h>
#include <stdlib.h>

static const char *describe(lzma_ret r) {
  switch (r) {
    case LZMA_MEM_ERROR: return "out of memory";
    case LZMA_MEMLIMIT_ERROR: return "needs more memory than allowed";
    case LZMA_FORMAT_ERROR: return "not an .xz stream";
    case LZMA_OPTIONS_ERROR: return "unsupported .xz options";
    case LZMA_DATA_ERROR: return "corrupt .xz data";
    case LZMA_BUF_ERROR: return "truncated .xz data";
    default: return "liblzma error";
  }
}

int hxz_decode(const uint8_t *in, size_t in_size, size_t max_out, uint8_t **out, size_t *out_size, const char **message) {
  lzma_stream s = LZMA_STREAM_INIT;
  lzma_ret r = lzma_stream_decoder(&s, UINT64_MAX, 0);
  if (r != LZMA_OK) { *message = describe(r); return 1; }
  size_t capacity = in_size > max_out / 2 ? max_out : in_size * 2 + 4096, size = 0;
  if (capacity > max_out) capacity = max_out;
  if (capacity == 0) capacity = 1;
  uint8_t *buffer = malloc(capacity);
  if (!buffer) { lzma_end(&s); *message = "out of memory"; return 1; }
  s.next_in = in;
  s.avail_in = in_size;
  for (;;) {
    if (size == capacity) {
      if (capacity >= max_out) { free(buffer); lzma_end(&s); *message = "decompresses to more than the allowed size"; return 1; }
      size_t grown = capacity * 2 > max_out ? max_out : capacity * 2;
      uint8_t *bigger = realloc(buffer, grown);
      if (!bigger) { free(buffer); lzma_end(&s); *message = "out of memory"; return 1; }
      buffer = bigger;
      capacity = grown;
    }
    s.next_out = buffer + size;
    s.avail_out = capacity - size;
    r = lzma_code(&s, LZMA_FINISH);
    size = capacity - s.avail_out;
    if (r == LZMA_STREAM_END) break;
    if (r != LZMA_OK) { free(buffer); lzma_end(&s); *message = describe(r); return 1; }
  }
  lzma_end(&s);
  *out = buffer;
  *out_size = size;
  return 0;
}

int hxz_encode(const uint8_t *in, size_t in_size, uint8_t **out, size_t *out_size, const char **message) {
  size_t capacity = lzma_stream_buffer_bound(in_size), size = 0;
  uint8_t *buffer = malloc(capacity ? capacity : 1);
  if (!buffer) { *message = "out of memory"; return 1; }
  lzma_ret r = lzma_easy_buffer_encode(9, LZMA_CHECK_CRC64, NULL, in, in_size, buffer, &size, capacity);
  if (r != LZMA_OK) { free(buffer); *message = describe(r); return 1; }
  *out = buffer;
  *out_size = size;
  return 0;
}

void hxz_free(void *buffer) { free(buffer); }

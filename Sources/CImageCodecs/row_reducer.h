// Shrinks an image by an integer factor while its rows stream in from a decoder, so a large image is never held
// whole: each factor x factor block of samples becomes its rounded mean (blocks at the right and bottom edges
// average the samples they have). Factor 1 copies rows unchanged. Internal to the codecs.
#ifndef HSPSAM_ROW_REDUCER_H
#define HSPSAM_ROW_REDUCER_H

#include <stddef.h>
#include <stdint.h>

#include "image_codecs.h"

typedef struct {
  int32_t width, height, channels, bits, factor;
  int32_t out_width, out_height;
  int32_t rows_in_block;  // input rows summed into `sums` so far
  int32_t out_row;        // next output row to write
  uint64_t *sums;         // out_width x channels running sums of the current block
  uint8_t *pixels;        // out_height x out_width x channels samples of bits / 8 bytes
} ic_row_reducer;

/// 0 on success; 1 when memory runs out.
int ic_row_reducer_init(ic_row_reducer *r, int32_t width, int32_t height, int32_t channels, int32_t bits, int32_t factor);
/// Adds the next input row (width x channels samples, native endian).
void ic_row_reducer_add(ic_row_reducer *r, const uint8_t *row);
/// Moves the reduced pixels into `out` (every input row must have been added) and frees the rest.
void ic_row_reducer_finish(ic_row_reducer *r, ic_image *out);
/// Frees everything (after an error).
void ic_row_reducer_free(ic_row_reducer *r);

#endif

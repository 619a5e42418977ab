#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "row_reducer.h"

static int32_t divide_up(int32_t a, int32_t b) { return (a + b - 1) / b; }

int ic_row_reducer_init(ic_row_reducer *r, int32_t width, int32_t height, int32_t channels, int32_t bits, int32_t factor) {
  memset(r, 0, sizeof(*r));
  r->width = width, r->height = height, r->channels = channels, r->bits = bits, r->factor = factor < 1 ? 1 : factor;
  r->out_width = divide_up(width, r->factor);
  r->out_height = divide_up(height, r->factor);
  size_t out_samples = (size_t)r->out_width * (size_t)channels;
  r->pixels = malloc(out_samples * (size_t)r->out_height * (size_t)(bits / 8));
  r->sums = r->factor > 1 ? calloc(out_samples, sizeof(uint64_t)) : NULL;
  if (r->pixels == NULL || (r->factor > 1 && r->sums == NULL)) {
    ic_row_reducer_free(r);
    return 1;
  }
  return 0;
}

// Writes the current block's means as the next output row and starts a new block.
static void emit_row(ic_row_reducer *r) {
  size_t samples = (size_t)r->out_width * (size_t)r->channels;
  for (int32_t ox = 0; ox < r->out_width; ++ox) {
    int32_t block_width = r->width - ox * r->factor < r->factor ? r->width - ox * r->factor : r->factor;
    uint64_t count = (uint64_t)block_width * (uint64_t)r->rows_in_block;
    for (int32_t c = 0; c < r->channels; ++c) {
      size_t i = (size_t)ox * (size_t)r->channels + (size_t)c;
      uint64_t mean = (r->sums[i] + count / 2) / count;
      if (r->bits == 16) ((uint16_t *)r->pixels)[(size_t)r->out_row * samples + i] = (uint16_t)mean;
      else r->pixels[(size_t)r->out_row * samples + i] = (uint8_t)mean;
    }
  }
  memset(r->sums, 0, samples * sizeof(uint64_t));
  r->rows_in_block = 0;
  r->out_row += 1;
}

void ic_row_reducer_add(ic_row_reducer *r, const uint8_t *row) {
  size_t row_bytes = (size_t)r->width * (size_t)r->channels * (size_t)(r->bits / 8);
  if (r->factor == 1) {
    memcpy(r->pixels + (size_t)r->out_row * row_bytes, row, row_bytes);
    r->out_row += 1;
    return;
  }
  const uint16_t *wide = (const uint16_t *)row;
  for (int32_t x = 0, ox = 0; x < r->width; ox += 1)
    for (int32_t end = x + r->factor < r->width ? x + r->factor : r->width; x < end; ++x)
      for (int32_t c = 0; c < r->channels; ++c) {
        size_t i = (size_t)x * (size_t)r->channels + (size_t)c;
        r->sums[(size_t)ox * (size_t)r->channels + (size_t)c] += r->bits == 16 ? wide[i] : row[i];
      }
  r->rows_in_block += 1;
  int32_t rows_added = r->out_row * r->factor + r->rows_in_block;
  if (r->rows_in_block == r->factor || rows_added == r->height) emit_row(r);
}

void ic_row_reducer_finish(ic_row_reducer *r, ic_image *out) {
  memset(out, 0, sizeof(*out));
  out->width = r->out_width;
  out->height = r->out_height;
  out->channels = r->channels;
  out->bits = r->bits;
  out->pixels = r->pixels;
  r->pixels = NULL;
  ic_row_reducer_free(r);
}

void ic_row_reducer_free(ic_row_reducer *r) {
  free(r->sums);
  free(r->pixels);
  r->sums = NULL;
  r->pixels = NULL;
}

int ic_reduce(const ic_image *image, int32_t factor, ic_image *out, char *error, size_t error_size) {
  ic_row_reducer r;
  if (ic_row_reducer_init(&r, image->width, image->height, image->channels, image->bits, factor)) {
    snprintf(error, error_size, "out of memory");
    return 1;
  }
  size_t row_bytes = (size_t)image->width * (size_t)image->channels * (size_t)(image->bits / 8);
  for (int32_t y = 0; y < image->height; ++y) ic_row_reducer_add(&r, image->pixels + (size_t)y * row_bytes);
  ic_row_reducer_finish(&r, out);
  out->has_palette = image->has_palette;
  return 0;
}

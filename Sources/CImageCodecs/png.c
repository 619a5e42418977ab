#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "image_codecs.h"

// libpng's simplified API: it catches its own errors (no longjmp reaches us) and converts any colour type.
int ic_decode_png(const uint8_t *data, size_t size, ic_image *out, char *error, size_t error_size) {
  png_image image;
  memset(&image, 0, sizeof(image));
  memset(out, 0, sizeof(*out));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, data, size)) {
    snprintf(error, error_size, "PNG: %s", image.message);
    return 1;
  }
  // Keep 16-bit data 16-bit and linear (no gamma conversion), 8-bit data 8-bit; expand palettes to colours.
  int sixteen = (image.format & PNG_FORMAT_FLAG_LINEAR) != 0;
  int colour = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  int alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  out->has_palette = (image.format & PNG_FORMAT_FLAG_COLORMAP) != 0;
  image.format = (colour ? PNG_FORMAT_FLAG_COLOR : 0) | (alpha ? PNG_FORMAT_FLAG_ALPHA : 0) |
                 (sixteen ? PNG_FORMAT_FLAG_LINEAR : 0);
  size_t bytes = PNG_IMAGE_SIZE(image);
  uint8_t *pixels = malloc(bytes);
  if (pixels == NULL) {
    png_image_free(&image);
    snprintf(error, error_size, "PNG: out of memory");
    return 1;
  }
  if (!png_image_finish_read(&image, NULL, pixels, 0, NULL)) {
    snprintf(error, error_size, "PNG: %s", image.message);
    free(pixels);
    png_image_free(&image);
    return 1;
  }
  out->width = (int32_t)image.width;
  out->height = (int32_t)image.height;
  out->channels = (int32_t)PNG_IMAGE_SAMPLE_CHANNELS(image.format);
  out->bits = sixteen ? 16 : 8;
  out->pixels = pixels;
  return 0;
}

int ic_size_png(const uint8_t *data, size_t size, int32_t *width, int32_t *height, char *error, size_t error_size) {
  png_image image;
  memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, data, size)) {
    snprintf(error, error_size, "PNG: %s", image.message);
    return 1;
  }
  *width = (int32_t)image.width;
  *height = (int32_t)image.height;
  png_image_free(&image);
  return 0;
}

int ic_encode_png(const char *path, const uint8_t *pixels, int32_t width, int32_t height, int32_t channels,
                  char *error, size_t error_size) {
  png_image image;
  memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = (png_uint_32)width;
  image.height = (png_uint_32)height;
  switch (channels) {
    case 1: image.format = PNG_FORMAT_GRAY; break;
    case 2: image.format = PNG_FORMAT_GA; break;
    case 3: image.format = PNG_FORMAT_RGB; break;
    case 4: image.format = PNG_FORMAT_RGBA; break;
    default: snprintf(error, error_size, "PNG: cannot write %d channels", channels); return 1;
  }
  if (!png_image_write_to_file(&image, path, 0, pixels, 0, NULL)) {
    snprintf(error, error_size, "PNG: %s", image.message);
    return 1;
  }
  return 0;
}

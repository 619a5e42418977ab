// Decoding and encoding through libjpeg-turbo, libpng and libtiff, behind a C interface Swift can call safely:
// libjpeg and libpng report errors by longjmp, which must not cross Swift frames, so every call is wrapped here.
// All functions return 0 on success; on failure they write a message into `error` (at most error_size bytes).
#ifndef HSPSAM_IMAGE_CODECS_H
#define HSPSAM_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A decoded image: height x width x channels samples, row-major, 8 or 16 bits per sample (native endian).
typedef struct {
  int32_t width;
  int32_t height;
  int32_t channels;      // 1 (grey), 2 (grey+alpha), 3 (RGB), 4 (RGBA)
  int32_t bits;          // 8 or 16
  uint8_t *pixels;       // malloc'd; free with ic_free
  int32_t has_palette;   // the file stored palette indices (PNG); pixels are the expanded colours
} ic_image;

void ic_free(ic_image *image);

/// JPEG (baseline and progressive; grey or colour; CMYK rejected) to 8-bit grey or RGB.
int ic_decode_jpeg(const uint8_t *data, size_t size, ic_image *out, char *error, size_t error_size);
/// PNG of any bit depth and colour type: 8-bit files to 8 bits, 16-bit files to 16 bits; palette expanded.
int ic_decode_png(const uint8_t *data, size_t size, ic_image *out, char *error, size_t error_size);
/// TIFF (first directory), strips or tiles, any compression libtiff supports, 8/16-bit, 1-4 samples per pixel,
/// contiguous or separate planes. Samples are returned as stored, whatever Photometric says.
int ic_decode_tiff(const char *path, ic_image *out, char *error, size_t error_size);
/// The pixel size from the header alone (nothing decoded), for checking a dataset before a long run.
int ic_size_jpeg(const uint8_t *data, size_t size, int32_t *width, int32_t *height, char *error, size_t error_size);
int ic_size_png(const uint8_t *data, size_t size, int32_t *width, int32_t *height, char *error, size_t error_size);
int ic_size_tiff(const char *path, int32_t *width, int32_t *height, char *error, size_t error_size);
/// PNG to a file, 8-bit grey/grey+alpha/RGB/RGBA.
int ic_encode_png(const char *path, const uint8_t *pixels, int32_t width, int32_t height, int32_t channels,
                  char *error, size_t error_size);

#ifdef __cplusplus
}
#endif
#endif

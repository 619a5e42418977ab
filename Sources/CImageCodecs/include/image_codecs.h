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

/// Every decoder takes `factor` (>= 1): each side is divided by it (rounded up), factor x factor blocks averaged as
/// the rows stream in, so only the reduced image is ever held. Where a file's layout cannot stream (16-bit or
/// interlaced PNG, TIFF with separate planes) a factor above 1 returns IC_CANNOT_STREAM and writes nothing: the
/// caller decodes whole (factor 1) and calls ic_reduce.
enum { IC_CANNOT_STREAM = 2 };

/// JPEG (baseline and progressive; grey or colour; CMYK rejected) to 8-bit grey or RGB. A factor's largest power of
/// two up to 8 is done by libjpeg's scaled inverse DCT, which never computes the full-size pixels.
int ic_decode_jpeg(const uint8_t *data, size_t size, int32_t factor, ic_image *out, char *error, size_t error_size);
/// PNG of any bit depth and colour type: 8-bit files to 8 bits, 16-bit files to 16 bits; palette expanded.
int ic_decode_png(const uint8_t *data, size_t size, int32_t factor, ic_image *out, char *error, size_t error_size);
/// TIFF (first directory), strips or tiles, any compression libtiff supports, 8/16-bit, 1-4 samples per pixel,
/// contiguous or separate planes. Samples are returned as stored, whatever Photometric says.
int ic_decode_tiff(const char *path, int32_t factor, ic_image *out, char *error, size_t error_size);
/// A decoded image divided by `factor` as above (for the layouts that cannot stream).
int ic_reduce(const ic_image *image, int32_t factor, ic_image *out, char *error, size_t error_size);
/// The pixel size from the header alone (nothing decoded), for checking a dataset before a long run.
int ic_size_jpeg(const uint8_t *data, size_t size, int32_t *width, int32_t *height, char *error, size_t error_size);
int ic_size_png(const uint8_t *data, size_t size, int32_t *width, int32_t *height, char *error, size_t error_size);
int ic_size_tiff(const char *path, int32_t *width, int32_t *height, char *error, size_t error_size);
/// A PNG written row by row (8-bit grey/grey+alpha/RGB/RGBA), for outputs too large to hold whole.
typedef struct ic_png_writer ic_png_writer;
/// NULL (and the message in `error`) when the file cannot be created.
ic_png_writer *ic_png_writer_open(const char *path, int32_t width, int32_t height, int32_t channels, char *error,
                                  size_t error_size);
/// Writes the next row (width x channels bytes).
int ic_png_writer_row(ic_png_writer *writer, const uint8_t *row, char *error, size_t error_size);
/// Finishes the file when `finish` is non-zero (every row written) and frees the writer; with 0 (after an error)
/// frees it without finishing (the caller removes the file).
int ic_png_writer_close(ic_png_writer *writer, int finish, char *error, size_t error_size);
/// PNG to a file, 8-bit grey/grey+alpha/RGB/RGBA.
int ic_encode_png(const char *path, const uint8_t *pixels, int32_t width, int32_t height, int32_t channels,
                  char *error, size_t error_size);

#ifdef __cplusplus
}
#endif
#endif

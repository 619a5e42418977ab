#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "image_codecs.h"
#include "row_reducer.h"

// libtiff reports errors through a handler and return codes (no longjmp). The handler records the message in a
// thread-local buffer so the caller can return it.
static _Thread_local char tiff_message[512];

static int on_tiff_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif;
  (void)user;
  (void)module;
  vsnprintf(tiff_message, sizeof(tiff_message), fmt, ap);
  return 1;
}

static int on_tiff_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
  return 1;  // unknown tags and the like: not our business
}

// Opens `path` with our handlers; NULL (and the message in `error`) when libtiff cannot.
static TIFF *open_tiff(const char *path, char *error, size_t error_size) {
  tiff_message[0] = 0;
  TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(options, on_tiff_error, NULL);
  TIFFOpenOptionsSetWarningHandlerExtR(options, on_tiff_warning, NULL);
  TIFF *tif = TIFFOpenExt(path, "r", options);
  TIFFOpenOptionsFree(options);
  if (tif == NULL) snprintf(error, error_size, "TIFF: %s", tiff_message[0] ? tiff_message : "cannot open");
  return tif;
}

int ic_size_tiff(const char *path, int32_t *width, int32_t *height, char *error, size_t error_size) {
  TIFF *tif = open_tiff(path, error, error_size);
  if (tif == NULL) return 1;
  uint32_t w = 0, h = 0;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
  TIFFClose(tif);
  *width = (int32_t)w;
  *height = (int32_t)h;
  return 0;
}

// MinIsWhite grey: stored values are inverted so that 0 is black, as everywhere else.
static void invert(uint8_t *samples, size_t count, uint16_t bits) {
  if (bits == 8) for (size_t i = 0; i < count; ++i) samples[i] = (uint8_t)(255 - samples[i]);
  else for (size_t i = 0; i < count; ++i) ((uint16_t *)samples)[i] = (uint16_t)(65535 - ((uint16_t *)samples)[i]);
}

// Separate planes (one plane after another): decoded whole, then reduced by the caller (IC_CANNOT_STREAM).
static int read_separate_planes(TIFF *tif, uint32_t width, uint32_t height, uint16_t samples, size_t bytes_per_sample,
                                uint8_t *pixels) {
  int ok = 1;
  if (TIFFIsTiled(tif)) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    tmsize_t tile_size = TIFFTileSize(tif);
    uint8_t *tile = tile_size > 0 ? malloc((size_t)tile_size) : NULL;
    if (tile == NULL || tw == 0 || th == 0) ok = 0;
    for (uint16_t p = 0; ok && p < samples; ++p)
      for (uint32_t y = 0; ok && y < height; y += th)
        for (uint32_t x = 0; ok && x < width; x += tw) {
          if (TIFFReadTile(tif, tile, x, y, 0, p) < 0) { ok = 0; break; }
          for (uint32_t ty = 0; ty < th && y + ty < height; ++ty)
            for (uint32_t tx = 0; tx < tw && x + tx < width; ++tx)
              memcpy(pixels + (((size_t)(y + ty) * width + x + tx) * samples + p) * bytes_per_sample,
                     tile + ((size_t)ty * tw + tx) * bytes_per_sample, bytes_per_sample);
        }
    free(tile);
    return ok;
  }
  uint8_t *line = malloc((size_t)width * bytes_per_sample);
  if (line == NULL) return 0;
  for (uint16_t p = 0; ok && p < samples; ++p)
    for (uint32_t y = 0; y < height; ++y) {
      if (TIFFReadScanline(tif, line, y, p) < 0) { ok = 0; break; }
      for (uint32_t x = 0; x < width; ++x)
        memcpy(pixels + ((size_t)y * width + x) * samples * bytes_per_sample + p * bytes_per_sample,
               line + (size_t)x * bytes_per_sample, bytes_per_sample);
    }
  free(line);
  return ok;
}

// Contiguous samples, strips or tiles, streamed into the reducer one row (strips) or one row of tiles at a time.
// Scanlines hold `samples` interleaved values per pixel whatever Photometric claims (CVC-ClinicDB's colour frames
// are tagged BlackIsZero): they are read as stored.
static int stream_contiguous(TIFF *tif, uint32_t width, uint32_t height, size_t row_bytes, size_t pixel_bytes,
                             int invert_grey, uint16_t bits, ic_row_reducer *reducer) {
  uint32_t tw = 0, th = 1;
  int tiled = TIFFIsTiled(tif);
  if (tiled) {
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    if (tw == 0 || th == 0) return 0;
  } else if (TIFFScanlineSize(tif) < (tmsize_t)row_bytes) {
    return 0;
  }
  tmsize_t tile_size = tiled ? TIFFTileSize(tif) : 0;
  uint8_t *tile = tiled && tile_size > 0 ? malloc((size_t)tile_size) : NULL;
  // A strip's scanline is read whole into the band (libtiff writes TIFFScanlineSize bytes).
  size_t band_bytes = tiled ? (size_t)th * row_bytes : (size_t)TIFFScanlineSize(tif);
  uint8_t *band = malloc(band_bytes);
  int ok = band != NULL && (!tiled || tile != NULL);
  for (uint32_t y = 0; ok && y < height; y += th) {
    uint32_t rows = height - y < th ? height - y : th;
    if (tiled) {
      for (uint32_t x = 0; ok && x < width; x += tw) {
        if (TIFFReadTile(tif, tile, x, y, 0, 0) < 0) { ok = 0; break; }
        size_t columns = width - x < tw ? width - x : tw;
        for (uint32_t ty = 0; ty < rows; ++ty)
          memcpy(band + ty * row_bytes + x * pixel_bytes, tile + (size_t)ty * tw * pixel_bytes, columns * pixel_bytes);
      }
    } else if (TIFFReadScanline(tif, band, y, 0) < 0) {
      ok = 0;
    }
    for (uint32_t r = 0; ok && r < rows; ++r) {
      if (invert_grey) invert(band + r * row_bytes, width, bits);
      ic_row_reducer_add(reducer, band + r * row_bytes);
    }
  }
  free(tile);
  free(band);
  return ok;
}

int ic_decode_tiff(const char *path, int32_t factor, ic_image *out, char *error, size_t error_size) {
  memset(out, 0, sizeof(*out));
  TIFF *tif = open_tiff(path, error, error_size);
  if (tif == NULL) return 1;
  uint32_t width = 0, height = 0;
  uint16_t samples = 1, bits = 8, planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT;
  uint16_t photometric = PHOTOMETRIC_MINISBLACK;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &samples);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PHOTOMETRIC, &photometric);
  const char *problem = NULL;
  if (width == 0 || height == 0 || width > 65535 || height > 65535) problem = "bad image size";
  else if (bits != 8 && bits != 16) problem = "only 8- and 16-bit samples are supported";
  else if (samples < 1 || samples > 4) problem = "only 1 to 4 samples per pixel are supported";
  else if (format != SAMPLEFORMAT_UINT) problem = "only unsigned integer samples are supported";
  if (problem != NULL) {
    snprintf(error, error_size, "TIFF: %s (%ux%u, %u samples of %u bits)", problem, width, height, samples, bits);
    TIFFClose(tif);
    return 1;
  }
  int separate = planar == PLANARCONFIG_SEPARATE && samples > 1;
  if (separate && factor > 1) {
    TIFFClose(tif);
    return IC_CANNOT_STREAM;
  }
  size_t bytes_per_sample = bits / 8;
  size_t row_bytes = (size_t)width * samples * bytes_per_sample;
  int invert_grey = photometric == PHOTOMETRIC_MINISWHITE && samples == 1;
  ic_row_reducer reducer;
  int ok = 1;
  if (ic_row_reducer_init(&reducer, (int32_t)width, (int32_t)height, samples, bits, separate ? 1 : factor)) {
    snprintf(error, error_size, "TIFF: out of memory");
    TIFFClose(tif);
    return 1;
  }
  if (separate) {
    ok = read_separate_planes(tif, width, height, samples, bytes_per_sample, reducer.pixels);
  } else {
    ok = stream_contiguous(tif, width, height, row_bytes, samples * bytes_per_sample, invert_grey, bits, &reducer);
  }
  if (!ok) {
    snprintf(error, error_size, "TIFF: %s", tiff_message[0] ? tiff_message : "cannot decode the image data");
    ic_row_reducer_free(&reducer);
    TIFFClose(tif);
    return 1;
  }
  TIFFClose(tif);
  ic_row_reducer_finish(&reducer, out);
  return 0;
}

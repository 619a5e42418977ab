#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "image_codecs.h"

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

int ic_decode_tiff(const char *path, ic_image *out, char *error, size_t error_size) {
  memset(out, 0, sizeof(*out));
  TIFF *tif = open_tiff(path, error, error_size);
  if (tif == NULL) return 1;
  uint32_t width = 0, height = 0;
  uint16_t samples = 1, bits = 8, planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &samples);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
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
  size_t bytes_per_sample = bits / 8;
  size_t row_bytes = (size_t)width * samples * bytes_per_sample;
  uint8_t *pixels = calloc((size_t)height, row_bytes);
  if (pixels == NULL) {
    snprintf(error, error_size, "TIFF: out of memory");
    TIFFClose(tif);
    return 1;
  }
  int ok = 1;
  if (TIFFIsTiled(tif)) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    tmsize_t tile_size = TIFFTileSize(tif);
    uint8_t *tile = tile_size > 0 ? malloc((size_t)tile_size) : NULL;
    uint16_t planes = planar == PLANARCONFIG_SEPARATE ? samples : 1;
    size_t spp = planar == PLANARCONFIG_SEPARATE ? 1 : samples;
    if (tile == NULL || tw == 0 || th == 0) ok = 0;
    for (uint16_t p = 0; ok && p < planes; ++p)
      for (uint32_t y = 0; ok && y < height; y += th)
        for (uint32_t x = 0; ok && x < width; x += tw) {
          if (TIFFReadTile(tif, tile, x, y, 0, p) < 0) { ok = 0; break; }
          for (uint32_t ty = 0; ty < th && y + ty < height; ++ty)
            for (uint32_t tx = 0; tx < tw && x + tx < width; ++tx)
              for (size_t s = 0; s < spp; ++s)
                memcpy(pixels + ((size_t)(y + ty) * width + x + tx) * samples * bytes_per_sample +
                           (planes > 1 ? p : s) * bytes_per_sample,
                       tile + (((size_t)ty * tw + tx) * spp + s) * bytes_per_sample, bytes_per_sample);
        }
    free(tile);
  } else if (planar == PLANARCONFIG_SEPARATE) {
    uint8_t *line = malloc((size_t)width * bytes_per_sample);
    if (line == NULL) ok = 0;
    for (uint16_t p = 0; ok && p < samples; ++p)
      for (uint32_t y = 0; y < height; ++y) {
        if (TIFFReadScanline(tif, line, y, p) < 0) { ok = 0; break; }
        for (uint32_t x = 0; x < width; ++x)
          memcpy(pixels + ((size_t)y * width + x) * samples * bytes_per_sample + p * bytes_per_sample,
                 line + (size_t)x * bytes_per_sample, bytes_per_sample);
      }
    free(line);
  } else {
    // Scanlines hold `samples` interleaved values per pixel whatever Photometric claims (CVC-ClinicDB's
    // colour frames are tagged BlackIsZero): read them as stored.
    if (TIFFScanlineSize(tif) < (tmsize_t)row_bytes) ok = 0;
    for (uint32_t y = 0; ok && y < height; ++y)
      if (TIFFReadScanline(tif, pixels + (size_t)y * row_bytes, y, 0) < 0) ok = 0;
  }
  if (!ok) {
    snprintf(error, error_size, "TIFF: %s", tiff_message[0] ? tiff_message : "cannot decode the image data");
    free(pixels);
    TIFFClose(tif);
    return 1;
  }
  uint16_t photometric = PHOTOMETRIC_MINISBLACK;
  TIFFGetFieldDefaulted(tif, TIFFTAG_PHOTOMETRIC, &photometric);
  if (photometric == PHOTOMETRIC_MINISWHITE && samples == 1) {
    size_t n = (size_t)width * height;
    if (bits == 8) for (size_t i = 0; i < n; ++i) pixels[i] = (uint8_t)(255 - pixels[i]);
    else for (size_t i = 0; i < n; ++i) ((uint16_t *)pixels)[i] = (uint16_t)(65535 - ((uint16_t *)pixels)[i]);
  }
  TIFFClose(tif);
  out->width = (int32_t)width;
  out->height = (int32_t)height;
  out->channels = samples;
  out->bits = bits;
  out->pixels = pixels;
  return 0;
}

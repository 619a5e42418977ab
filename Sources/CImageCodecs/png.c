#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "image_codecs.h"
#include "row_reducer.h"

static int decode_png_streaming(const uint8_t *data, size_t size, int32_t factor, ic_image *out, char *error,
                                size_t error_size);

// Whole images: libpng's simplified API, which catches its own errors (no longjmp reaches us) and converts any
// colour type; reduced ones stream through the row reducer.
int ic_decode_png(const uint8_t *data, size_t size, int32_t factor, ic_image *out, char *error, size_t error_size) {
  if (factor > 1) return decode_png_streaming(data, size, factor, out, error, error_size);
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

// The low-level API reads one row at a time; its errors longjmp to png_jmpbuf, set in each function below.
struct memory_source {
  const uint8_t *data;
  size_t size, offset;
};

static void read_memory(png_structp png, png_bytep into, png_size_t count) {
  struct memory_source *source = png_get_io_ptr(png);
  if (count > source->size - source->offset) png_error(png, "premature end of file (truncated)");
  memcpy(into, source->data + source->offset, count);
  source->offset += count;
}

static void on_png_error(png_structp png, png_const_charp message) {
  char *buffer = png_get_error_ptr(png);
  snprintf(buffer, 256, "%s", message);
  png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp message) { (void)png, (void)message; }

// 8-bit (or fewer bits) non-interlaced files, with the simplified API's expansions: palette to RGB(A), low-bit
// grey to 8 bits, a tRNS chunk to alpha. 16-bit and interlaced files return IC_CANNOT_STREAM.
static int decode_png_streaming(const uint8_t *data, size_t size, int32_t factor, ic_image *out, char *error,
                                size_t error_size) {
  memset(out, 0, sizeof(*out));
  char message[256] = "cannot decode";
  struct memory_source source = {data, size, 0};
  ic_row_reducer reducer;
  memset(&reducer, 0, sizeof(reducer));
  uint8_t *volatile row = NULL;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, message, on_png_error, on_png_warning);
  png_infop info = png == NULL ? NULL : png_create_info_struct(png);
  if (info == NULL) {
    png_destroy_read_struct(&png, NULL, NULL);
    snprintf(error, error_size, "PNG: out of memory");
    return 1;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, NULL);
    ic_row_reducer_free(&reducer);
    free(row);
    snprintf(error, error_size, "PNG: %s", message);
    return 1;
  }
  png_set_read_fn(png, &source, read_memory);
  png_read_info(png, info);
  int colour_type = png_get_color_type(png, info);
  if (png_get_bit_depth(png, info) == 16 || png_get_interlace_type(png, info) != PNG_INTERLACE_NONE) {
    png_destroy_read_struct(&png, &info, NULL);
    return IC_CANNOT_STREAM;
  }
  png_set_expand(png);
  png_read_update_info(png, info);
  uint32_t width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  int channels = png_get_channels(png, info);
  row = malloc(png_get_rowbytes(png, info));
  if (row == NULL || ic_row_reducer_init(&reducer, (int32_t)width, (int32_t)height, channels, 8, factor)) {
    png_destroy_read_struct(&png, &info, NULL);
    free(row);
    snprintf(error, error_size, "PNG: out of memory");
    return 1;
  }
  for (uint32_t y = 0; y < height; ++y) {
    png_read_row(png, row, NULL);
    ic_row_reducer_add(&reducer, row);
  }
  png_destroy_read_struct(&png, &info, NULL);
  free(row);
  ic_row_reducer_finish(&reducer, out);
  out->has_palette = colour_type == PNG_COLOR_TYPE_PALETTE;
  return 0;
}

struct ic_png_writer {
  png_structp png;
  png_infop info;
  FILE *file;
  char message[256];
};

ic_png_writer *ic_png_writer_open(const char *path, int32_t width, int32_t height, int32_t channels, char *error,
                                  size_t error_size) {
  static const int types[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGBA};
  if (channels < 1 || channels > 4) {
    snprintf(error, error_size, "PNG: cannot write %d channels", channels);
    return NULL;
  }
  ic_png_writer *writer = calloc(1, sizeof(ic_png_writer));
  if (writer == NULL) {
    snprintf(error, error_size, "PNG: out of memory");
    return NULL;
  }
  writer->file = fopen(path, "wb");
  if (writer->file == NULL) {
    snprintf(error, error_size, "PNG: cannot create the file");
    free(writer);
    return NULL;
  }
  writer->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, writer->message, on_png_error, on_png_warning);
  writer->info = writer->png == NULL ? NULL : png_create_info_struct(writer->png);
  if (writer->info == NULL || setjmp(png_jmpbuf(writer->png))) {
    snprintf(error, error_size, "PNG: %s", writer->info == NULL ? "out of memory" : writer->message);
    png_destroy_write_struct(&writer->png, &writer->info);
    fclose(writer->file);
    free(writer);
    return NULL;
  }
  png_init_io(writer->png, writer->file);
  png_set_IHDR(writer->png, writer->info, (png_uint_32)width, (png_uint_32)height, 8, types[channels - 1],
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(writer->png, writer->info);
  return writer;
}

int ic_png_writer_row(ic_png_writer *writer, const uint8_t *row, char *error, size_t error_size) {
  if (setjmp(png_jmpbuf(writer->png))) {
    snprintf(error, error_size, "PNG: %s", writer->message);
    return 1;
  }
  png_write_row(writer->png, row);
  return 0;
}

int ic_png_writer_close(ic_png_writer *writer, int finish, char *error, size_t error_size) {
  volatile int status = 0;
  if (!finish) {
    status = 1;
  } else if (setjmp(png_jmpbuf(writer->png))) {
    snprintf(error, error_size, "PNG: %s", writer->message);
    status = 1;
  } else {
    png_write_end(writer->png, NULL);
  }
  png_destroy_write_struct(&writer->png, &writer->info);
  if (fclose(writer->file) != 0 && status == 0) {
    snprintf(error, error_size, "PNG: cannot write the file");
    status = 1;
  }
  free(writer);
  return status;
}

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "image_codecs.h"
#include "row_reducer.h"

void ic_free(ic_image *image) {
  if (image != NULL) {
    free(image->pixels);
    image->pixels = NULL;
  }
}

struct error_manager {
  struct jpeg_error_mgr base;
  jmp_buf escape;
  char message[JMSG_LENGTH_MAX];
  int truncated;
};

static void on_error(j_common_ptr info) {
  struct error_manager *manager = (struct error_manager *)info->err;
  (*info->err->format_message)(info, manager->message);
  longjmp(manager->escape, 1);
}

// Corrupt-data warnings (extraneous bytes before a marker and the like) keep the decoded pixels, as most viewers
// do; a file that ends early is an error, as it is for PNG and for PIL: libjpeg would fill the rest with grey.
static void on_warning(j_common_ptr info, int level) {
  if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) ((struct error_manager *)info->err)->truncated = 1;
}

// Errors longjmp to manager->escape, which the caller sets with setjmp (it must be in the caller's own frame).
static void use_error_manager(struct jpeg_decompress_struct *info, struct error_manager *manager) {
  info->err = jpeg_std_error(&manager->base);
  manager->base.error_exit = on_error;
  manager->base.emit_message = on_warning;
  manager->truncated = 0;
}

int ic_decode_jpeg(const uint8_t *data, size_t size, int32_t factor, ic_image *out, char *error, size_t error_size) {
  struct jpeg_decompress_struct info;
  struct error_manager manager;
  ic_row_reducer reducer;
  uint8_t *volatile row = NULL;
  memset(out, 0, sizeof(*out));
  memset(&reducer, 0, sizeof(reducer));
  use_error_manager(&info, &manager);
  if (setjmp(manager.escape)) {
    snprintf(error, error_size, "JPEG: %s", manager.message);
    jpeg_destroy_decompress(&info);
    ic_row_reducer_free(&reducer);
    free(row);
    return 1;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, (unsigned long)size);
  jpeg_read_header(&info, TRUE);
  if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
    snprintf(error, error_size, "JPEG: CMYK images are not supported");
    jpeg_destroy_decompress(&info);
    return 1;
  }
  info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  // libjpeg-turbo scales by M/8 in the inverse DCT; 1/2, 1/4 and 1/8 are its fast paths. The rest of the factor
  // is averaged by the row reducer (ceil(ceil(w / a) / b) = ceil(w / ab), so sizes agree with a plain reduction).
  if (factor < 1) factor = 1;
  int32_t scale = factor % 8 == 0 ? 8 : factor % 4 == 0 ? 4 : factor % 2 == 0 ? 2 : 1;
  info.scale_num = 1;
  info.scale_denom = (unsigned int)scale;
  jpeg_start_decompress(&info);
  size_t stride = (size_t)info.output_width * (size_t)info.output_components;
  row = malloc(stride);
  if (row == NULL || ic_row_reducer_init(&reducer, (int32_t)info.output_width, (int32_t)info.output_height,
                                         info.output_components, 8, factor / scale)) {
    snprintf(error, error_size, "JPEG: out of memory");
    jpeg_destroy_decompress(&info);
    free(row);
    return 1;
  }
  while (info.output_scanline < info.output_height) {
    JSAMPROW rows[1] = {row};
    jpeg_read_scanlines(&info, rows, 1);
    ic_row_reducer_add(&reducer, row);
  }
  free(row);
  row = NULL;
  if (manager.truncated) {
    snprintf(error, error_size, "JPEG: premature end of file (truncated)");
    jpeg_destroy_decompress(&info);
    ic_row_reducer_free(&reducer);
    return 1;
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  ic_row_reducer_finish(&reducer, out);
  return 0;
}

int ic_size_jpeg(const uint8_t *data, size_t size, int32_t *width, int32_t *height, char *error, size_t error_size) {
  struct jpeg_decompress_struct info;
  struct error_manager manager;
  use_error_manager(&info, &manager);
  if (setjmp(manager.escape)) {
    snprintf(error, error_size, "JPEG: %s", manager.message);
    jpeg_destroy_decompress(&info);
    return 1;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, (unsigned long)size);
  jpeg_read_header(&info, TRUE);
  *width = (int32_t)info.image_width;
  *height = (int32_t)info.image_height;
  jpeg_destroy_decompress(&info);
  return 0;
}

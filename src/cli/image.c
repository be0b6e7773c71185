/* image.c - PNG (libpng simplified API) and JPEG (libjpeg) decoding to 8-bit RGB for the
 * CLI. Formats are recognised by their magic bytes, not the file name. Files are read whole
 * and decoded from memory, so that the decoder (and its fuzzer) never depends on the file. */
#include "cli/image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef DYNRT_HAVE_PNG
#include <png.h>
#endif
#ifdef DYNRT_HAVE_JPEG
#include <jpeglib.h>
#endif

#if defined(DYNRT_HAVE_PNG) || defined(DYNRT_HAVE_JPEG)
/* Checks the declared size before anything is allocated: a 30-byte header may claim
 * 1,000,000 x 1,000,000 pixels. */
static int size_ok(const char *name, unsigned long w, unsigned long h, char *err, size_t n) {
  if (w == 0 || h == 0 || w > CLI_IMAGE_MAX_SIDE || h > CLI_IMAGE_MAX_SIDE ||
      w * h > CLI_IMAGE_MAX_PIXELS) {
    snprintf(err, n, "%s: %lu x %lu pixels, limit %d per side and %d pixels", name, w, h,
             CLI_IMAGE_MAX_SIDE, CLI_IMAGE_MAX_PIXELS);
    return 0;
  }
  return 1;
}
#endif

#ifdef DYNRT_HAVE_PNG
static int decode_png(const uint8_t *data, size_t size, const char *name, cli_image *out, char *err,
                      size_t n) {
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, data, size)) {
    snprintf(err, n, "%s: %s", name, img.message);
    return 1;
  }
  if (!size_ok(name, img.width, img.height, err, n)) {
    png_image_free(&img);
    return 1;
  }
  /* With alpha, libpng's RGB output would composite onto the (uninitialised) buffer: read
   * RGBA and drop the alpha instead, as PIL's convert("RGB") of the Python side does. */
  int alpha = (img.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  img.format = alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
  size_t bytes = PNG_IMAGE_SIZE(img);
  out->rgb = malloc(bytes);
  if (!out->rgb) {
    png_image_free(&img);
    snprintf(err, n, "%s: no memory for %zu bytes", name, bytes);
    return 1;
  }
  if (!png_image_finish_read(&img, NULL, out->rgb, 0, NULL)) {
    snprintf(err, n, "%s: %s", name, img.message);
    free(out->rgb);
    out->rgb = NULL;
    return 1;
  }
  if (alpha) {
    size_t pixels = (size_t)img.width * img.height;
    for (size_t p = 0; p < pixels; p++) memmove(out->rgb + 3 * p, out->rgb + 4 * p, 3);
  }
  out->width = (int)img.width;
  out->height = (int)img.height;
  return 0;
}
#endif

#ifdef DYNRT_HAVE_JPEG
typedef struct jerr {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
} jerr;

static void jpeg_fail(j_common_ptr cinfo) { longjmp(((jerr *)cinfo->err)->jump, 1); }

static int decode_jpeg(const uint8_t *data, size_t size, const char *name, cli_image *out,
                       char *err, size_t n) {
  struct jpeg_decompress_struct cinfo;
  jerr je;
  /* volatile: modified between setjmp and a possible longjmp */
  uint8_t *volatile rgb = NULL;
  cinfo.err = jpeg_std_error(&je.mgr);
  je.mgr.error_exit = jpeg_fail;
  if (setjmp(je.jump)) {
    char msg[JMSG_LENGTH_MAX];
    je.mgr.format_message((j_common_ptr)&cinfo, msg);
    snprintf(err, n, "%s: %s", name, msg);
    jpeg_destroy_decompress(&cinfo);
    free(rgb);
    return 1;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, (unsigned long)size);
  jpeg_read_header(&cinfo, TRUE);
  if (!size_ok(name, cinfo.image_width, cinfo.image_height, err, n)) {
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  size_t stride = (size_t)cinfo.output_width * 3;
  rgb = malloc(stride * cinfo.output_height);
  if (!rgb) {
    snprintf(err, n, "%s: no memory", name);
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = rgb + (size_t)cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  out->width = (int)cinfo.output_width;
  out->height = (int)cinfo.output_height;
  out->rgb = rgb;
  jpeg_destroy_decompress(&cinfo);
  return 0;
}
#endif

int cli_image_decode(const uint8_t *data, size_t size, const char *name, cli_image *out, char *err,
                     size_t n) {
  memset(out, 0, sizeof *out);
  if (size >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8)) {
#ifdef DYNRT_HAVE_PNG
    return decode_png(data, size, name, out, err, n);
#else
    snprintf(err, n, "%s: PNG support was not built (libpng not found)", name);
    return 1;
#endif
  }
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) {
#ifdef DYNRT_HAVE_JPEG
    return decode_jpeg(data, size, name, out, err, n);
#else
    snprintf(err, n, "%s: JPEG support was not built (libjpeg not found)", name);
    return 1;
#endif
  }
  snprintf(err, n, "%s: neither PNG nor JPEG", name);
  return 1;
}

int cli_image_read(const char *path, cli_image *out, char *err, size_t n) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, n, "%s: cannot open: %s", path, strerror(errno));
    return 1;
  }
  uint8_t *buf = NULL;
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  int rc = 1;
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
    snprintf(err, n, "%s: cannot determine the size", path);
  else if ((unsigned long)size > CLI_IMAGE_MAX_FILE)
    snprintf(err, n, "%s: %ld bytes, limit %d", path, size, CLI_IMAGE_MAX_FILE);
  else if (!(buf = malloc(size ? (size_t)size : 1)))
    snprintf(err, n, "%s: no memory for %ld bytes", path, size);
  else if (fread(buf, 1, (size_t)size, f) != (size_t)size)
    snprintf(err, n, "%s: short read", path);
  else
    rc = cli_image_decode(buf, (size_t)size, path, out, err, n);
  fclose(f);
  free(buf);
  return rc;
}

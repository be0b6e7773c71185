/* image.c - PNG (libpng simplified API) and JPEG (libjpeg) decoding to 8-bit RGB for the
 * CLI. Formats are recognised by their magic bytes, not the file name. */
#include "cli/image.h"

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

#ifdef DYNRT_HAVE_PNG
static int read_png(const char *path, cli_image *out, char *err, size_t n) {
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path)) {
    snprintf(err, n, "%s: %s", path, img.message);
    return 1;
  }
  img.format = PNG_FORMAT_RGB;
  size_t size = PNG_IMAGE_SIZE(img);
  out->rgb = malloc(size);
  if (!out->rgb) {
    png_image_free(&img);
    snprintf(err, n, "%s: no memory for %zu bytes", path, size);
    return 1;
  }
  if (!png_image_finish_read(&img, NULL, out->rgb, 0, NULL)) {
    snprintf(err, n, "%s: %s", path, img.message);
    free(out->rgb);
    out->rgb = NULL;
    return 1;
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

static int read_jpeg(const char *path, cli_image *out, char *err, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, n, "%s: cannot open", path);
    return 1;
  }
  struct jpeg_decompress_struct cinfo;
  jerr je;
  /* volatile: modified between setjmp and a possible longjmp */
  uint8_t *volatile rgb = NULL;
  cinfo.err = jpeg_std_error(&je.mgr);
  je.mgr.error_exit = jpeg_fail;
  if (setjmp(je.jump)) {
    char msg[JMSG_LENGTH_MAX];
    je.mgr.format_message((j_common_ptr)&cinfo, msg);
    snprintf(err, n, "%s: %s", path, msg);
    jpeg_destroy_decompress(&cinfo);
    fclose(f);
    free(rgb);
    return 1;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  size_t stride = (size_t)cinfo.output_width * 3;
  rgb = malloc(stride * cinfo.output_height);
  if (!rgb) {
    snprintf(err, n, "%s: no memory", path);
    jpeg_destroy_decompress(&cinfo);
    fclose(f);
    return 1;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = rgb + (size_t)cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  out->width = (int)cinfo.output_width;
  out->height = (int)cinfo.output_height;
  out->rgb = rgb;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  fclose(f);
  return 0;
}
#endif

int cli_image_read(const char *path, cli_image *out, char *err, size_t n) {
  memset(out, 0, sizeof *out);
  unsigned char magic[8] = {0};
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, n, "%s: cannot open", path);
    return 1;
  }
  size_t got = fread(magic, 1, sizeof magic, f);
  fclose(f);
  if (got >= 8 && !memcmp(magic, "\x89PNG\r\n\x1a\n", 8)) {
#ifdef DYNRT_HAVE_PNG
    return read_png(path, out, err, n);
#else
    snprintf(err, n, "%s: PNG support was not built (libpng not found)", path);
    return 1;
#endif
  }
  if (got >= 3 && magic[0] == 0xff && magic[1] == 0xd8 && magic[2] == 0xff) {
#ifdef DYNRT_HAVE_JPEG
    return read_jpeg(path, out, err, n);
#else
    snprintf(err, n, "%s: JPEG support was not built (libjpeg not found)", path);
    return 1;
#endif
  }
  snprintf(err, n, "%s: neither PNG nor JPEG", path);
  return 1;
}

/* fuzz_image.c - libFuzzer target: arbitrary bytes as an image file for the CLI's decoder
 * (src/cli/image.c: PNG through libpng, JPEG through libjpeg, chosen by magic bytes). A
 * rejected file says why; an accepted one gives width x height x 3 readable bytes within
 * the size limits. */
#include "cli/image.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cli_image img;
  char msg[256];
  msg[0] = '\0';
  if (cli_image_decode(data, size, "fuzz", &img, msg, sizeof msg)) {
    if (img.rgb || !msg[0]) abort();
    return 0;
  }
  if (!img.rgb || img.width < 1 || img.height < 1 || img.width > CLI_IMAGE_MAX_SIDE ||
      img.height > CLI_IMAGE_MAX_SIDE)
    abort();
  size_t n = (size_t)img.width * (size_t)img.height * 3;
  volatile uint8_t a = img.rgb[0], b = img.rgb[n - 1]; /* both ends are ours */
  (void)a;
  (void)b;
  free(img.rgb);
  return 0;
}

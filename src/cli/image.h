/* image.h - decodes PNG and JPEG files into 8-bit RGB for `dynrt infer` (libpng / libjpeg,
 * when the build found them). CLI only: the library takes pixels, never files. */
#ifndef DYNRT_CLI_IMAGE_H
#define DYNRT_CLI_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cli_image {
  int width, height;
  uint8_t *rgb; /* width*height*3, row stride width*3; free() it */
} cli_image;

/* Limits: larger images are refused before any pixel memory is allocated. */
#define CLI_IMAGE_MAX_SIDE 16384
#define CLI_IMAGE_MAX_PIXELS (64 * 1024 * 1024)
#define CLI_IMAGE_MAX_FILE (256 * 1024 * 1024)

/* Reads PNG or JPEG (by content). On failure returns nonzero and writes a message naming
 * the file into err. */
int cli_image_read(const char *path, cli_image *out, char *err, size_t err_size);
/* The same on the bytes of a file; `name` names it in messages. */
int cli_image_decode(const uint8_t *data, size_t size, const char *name, cli_image *out, char *err,
                     size_t err_size);

#endif

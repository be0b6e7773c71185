/* fuzz_cifar.c - libFuzzer target: the CIFAR-10 binary reader (dataset.c). The first three
 * bytes choose num_classes, the first record and the record count; the rest is the file,
 * read through a memory stream. Every image of an accepted file is 32 x 32 with a label
 * below num_classes. */
#include "dynrt/offline.h"
#include "fuzz_util.h"
#include "offline/offline_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  /* 0 = the default (10); 255 stands for an invalid 300 */
  int classes = data[0] == 255 ? 300 : data[0];
  size_t first = data[1] % 8, count = data[2] % 8;
  data += 3;
  size -= 3;
  FILE *f = fmemopen(size ? (void *)data : (void *)"", size ? size : 1, "rb");
  if (!f) return 0;
  dynrt_dataset *ds = (dynrt_dataset *)1;
  dynrt_error err;
  err.msg[0] = '\0';
  if (dynrt__dataset_read_cifar(f, size, "fuzz.bin", first, count, classes, &ds, &err)) {
    if (ds || !err.msg[0]) abort();
  } else {
    int limit = classes ? classes : 10;
    if (!dynrt_dataset_count(ds) || (count && dynrt_dataset_count(ds) > count)) abort();
    for (size_t i = 0; i < dynrt_dataset_count(ds); i++) {
      dynrt_image img;
      dynrt_dataset_get(ds, i, &img);
      if (img.width != 32 || img.height != 32 || img.label < 0 || img.label >= limit) abort();
      volatile uint8_t last = img.rgb[32 * 32 * 3 - 1]; /* the pixels are readable */
      (void)last;
    }
    dynrt_dataset_destroy(ds);
  }
  fclose(f);
  return 0;
}

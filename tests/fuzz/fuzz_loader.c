/* fuzz_loader.c - libFuzzer target: arbitrary bytes as a model file. Loading must fail
 * cleanly or give a model that runs; small accepted models are also run once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dynrt/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dynrt_model *m = NULL;
  dynrt_error err;
  if (dynrt_model_load_memory(data, size, "fuzz", &m, &err)) {
    if (m || !err.msg[0]) abort(); /* a failure must leave no model and say why */
    return 0;
  }
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  dynrt_subnet c;
  dynrt_subnet_largest(m, &c);
  /* Keep runs short: the arena grows with the resolution and the widths. */
  if (info.resolutions[info.n_resolutions - 1] <= 64 && dynrt_subnet_macs(m, &c) < 50000000) {
    dynrt_session *s = NULL;
    if (!dynrt_session_create(m, NULL, &s, NULL)) {
      int r = c.r;
      float *in = calloc((size_t)(r * r * 3), sizeof *in);
      if (in && dynrt_session_run_tensor(s, in, r)) abort();
      dynrt_subnet_smallest(m, &c);
      if (dynrt_session_set_subnet(s, &c, NULL)) abort();
      uint8_t px[12] = {0, 50, 100, 150, 200, 250, 1, 2, 3, 4, 5, 6};
      if (dynrt_session_run_image(s, px, 2, 2, 6)) abort();
      free(in);
      dynrt_session_destroy(s);
    }
  }
  dynrt_model_destroy(m);
  return 0;
}

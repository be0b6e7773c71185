/* fuzz_lut.c - libFuzzer target: arbitrary bytes as a per-block latency table
 * (`MODEL.lut.json`, lut.c) of the shipped smoke model. A rejected table leaves no object
 * and says why; an accepted one must predict a positive, finite latency for the largest,
 * the smallest and a few random sub-networks. */
#include <math.h>

#include "dynrt/offline.h"
#include "fuzz_util.h"
#include "offline/offline_int.h"

static dynrt_model *g_model;
static dynrt_subnet g_cfg[6];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  dynrt_error err;
  if (dynrt_model_load(DYNRT_SOURCE_DIR "/models/cifar10-smoke.safetensors", &g_model, &err)) {
    fprintf(stderr, "fuzz_lut: %s\n", err.msg);
    abort();
  }
  dynrt_subnet_largest(g_model, &g_cfg[0]);
  dynrt_subnet_smallest(g_model, &g_cfg[1]);
  uint64_t rng = 1;
  for (int i = 2; i < 6; i++) dynrt_subnet_sample(g_model, &rng, &g_cfg[i]);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dynrt_block_lut *l = (dynrt_block_lut *)1;
  dynrt_error err;
  err.msg[0] = '\0';
  if (dynrt__block_lut_parse(g_model, (const char *)data, size, "fuzz.lut.json", &l, &err)) {
    if (l || !err.msg[0]) abort();
    return 0;
  }
  for (int i = 0; i < 6; i++) {
    double ns = dynrt_block_lut_predict(l, &g_cfg[i]);
    if (!(ns > 0) || !isfinite(ns)) abort();
  }
  dynrt_block_lut_destroy(l);
  return 0;
}

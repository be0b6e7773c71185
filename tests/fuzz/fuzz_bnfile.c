/* fuzz_bnfile.c - libFuzzer target: arbitrary bytes as a BN-table sidecar
 * (`MODEL.bn.safetensors`, bnfile.c) of the shipped smoke model. A rejected file leaves no
 * object and says why; every table of an accepted one must be found by its config. */
#include "dynrt/offline.h"
#include "fuzz_util.h"
#include "offline/offline_int.h"

static dynrt_model *g_model;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  dynrt_error err;
  if (dynrt_model_load(DYNRT_SOURCE_DIR "/models/cifar10-smoke.safetensors", &g_model, &err)) {
    fprintf(stderr, "fuzz_bnfile: %s\n", err.msg);
    abort();
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dynrt_bn_file *f = (dynrt_bn_file *)1;
  dynrt_error err;
  err.msg[0] = '\0';
  if (dynrt__bn_file_parse(g_model, data, size, "fuzz.bn.safetensors", &f, &err)) {
    if (f || !err.msg[0]) abort();
    return 0;
  }
  for (size_t i = 0; i < dynrt_bn_file_count(f); i++) {
    const dynrt_bn_table *t = dynrt_bn_file_at(f, i);
    if (!t) abort();
    if (dynrt_bn_file_find(f, dynrt_bn_table_subnet(t)) != t) abort();
  }
  dynrt_bn_file_destroy(f);
  return 0;
}

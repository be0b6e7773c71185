/* fuzz_arch.c - libFuzzer target: arbitrary bytes as the architecture JSON (`dynrt.arch`
 * metadata of a model file, arch.c). A rejected text must say why; an accepted one must
 * satisfy what the engine relies on: blocks within limits, derived sizes positive and the
 * active width of every layer under every width multiplier inside the file's width. */
#include <math.h>

#include "engine/engine_int.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  return 0;
}

static void check(const dynrt__arch *a) {
  if (a->n_stages < 1 || a->n_stages > DYNRT_MAX_STAGES) abort();
  if (a->n_blocks < 1 || a->n_blocks > DYNRT_MAX_BLOCKS) abort();
  if (a->n_res < 1 || a->n_ks < 1 || a->n_es < 1 || a->n_ws < 1) abort();
  if (a->kmax != a->ks[a->n_ks - 1] || !(a->kmax & 1)) abort();
  if (a->divisor < 1 || a->se_reduction < 1) abort();
  for (int b = 0; b < a->n_blocks; b++) {
    const dynrt__block *bl = &a->blocks[b];
    if (bl->cin_max < 1 || bl->cout_max < 1 || bl->mid_max < 1) abort();
    if (bl->stride != 1 && bl->stride != 2) abort();
    if (bl->se && bl->se_max < 1) abort();
    if (bl->stage < 0 || bl->stage >= a->n_stages) abort();
  }
  for (int s = 0; s < a->n_stages; s++) {
    const dynrt__stage *sg = &a->stages[s];
    if (sg->dmin < 1 || sg->dmax < sg->dmin || sg->first_block + sg->dmax > a->n_blocks) abort();
  }
  for (int w = 0; w < a->n_ws; w++) {
    if (!(a->ws[w] > 0 && a->ws[w] <= 1)) abort();
    if (dynrt__active_width(a, a->feature_mix, a->ws[w]) > a->feature_mix) abort();
  }
  for (int i = 0; i < 3; i++)
    if (!isfinite(a->mean[i]) || !(a->std[i] > 0)) abort();
  if (a->class_names)
    for (int i = 0; i < a->num_classes; i++)
      if (!a->class_names[i]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static dynrt__arch a; /* ~20 KiB: keep it off the stack */
  dynrt_err err;
  dynrt__clearerr(&err);
  if (dynrt__arch_parse(&a, (const char *)data, size, "fuzz", &err)) {
    if (!err.msg[0] || a.class_names) abort(); /* a failure says why and frees everything */
    return 0;
  }
  check(&a);
  dynrt__arch_free(&a);
  return 0;
}

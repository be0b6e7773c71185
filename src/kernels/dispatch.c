/*
 * dispatch.c - chooses the kernel table once per process from the CPU features, or from
 * DYNRT_KERNELS=scalar|avx2|avx512|neon. It must never pick a table the CPU cannot run.
 */
#include <pthread.h>
#include <string.h>

#include "kernels/kernels_int.h"

/* AVX-512 files are also compiled with -mavx2 -mfma, so the table needs all of them. */
#define NEED_AVX2 (DYNRT_CPU_AVX2 | DYNRT_CPU_FMA)
#define NEED_AVX512                                                                                \
  (NEED_AVX2 | DYNRT_CPU_AVX512F | DYNRT_CPU_AVX512BW | DYNRT_CPU_AVX512VL | DYNRT_CPU_AVX512DQ)

const dynrt_kernels *dynrt__kernels_by_name(const char *name) {
  if (!name) return NULL;
  if (!strcmp(name, "scalar")) return &dynrt__kernels_scalar;
#ifdef DYNRT_KERNELS_X86
  unsigned f = dynrt_cpu_features();
  if (!strcmp(name, "avx2")) return (f & NEED_AVX2) == NEED_AVX2 ? &dynrt__kernels_avx2 : NULL;
  if (!strcmp(name, "avx512"))
    return (f & NEED_AVX512) == NEED_AVX512 ? &dynrt__kernels_avx512 : NULL;
#endif
#ifdef DYNRT_KERNELS_ARM64
  if (!strcmp(name, "neon"))
    return dynrt_cpu_features() & DYNRT_CPU_NEON ? &dynrt__kernels_neon : NULL;
#endif
  return NULL;
}

static const dynrt_kernels *best_table(void) {
  static const char *const order[] = {"avx512", "avx2", "neon"};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    const dynrt_kernels *t = dynrt__kernels_by_name(order[i]);
    if (t) return t;
  }
  return &dynrt__kernels_scalar;
}

static const dynrt_kernels *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void) {
  const dynrt_kernels *best = best_table();
  const char *env = getenv("DYNRT_KERNELS");
  chosen = best;
  if (env && *env) {
    const dynrt_kernels *t = dynrt__kernels_by_name(env);
    if (t)
      chosen = t;
    else
      DYNRT_LOGW("kernels",
                 "DYNRT_KERNELS=%s: unknown or not supported by this CPU "
                 "(scalar, avx2, avx512, neon); using %s",
                 env, best->name);
  }
  DYNRT_LOGD("kernels", "using %s kernels", chosen->name);
}

const dynrt_kernels *dynrt__kernels(void) {
  pthread_once(&chosen_once, choose);
  return chosen;
}

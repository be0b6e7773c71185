/* cpu.c - monotonic clock and CPU feature detection (cpuid + XCR0 on x86, hwcaps on
 * AArch64). Detection runs once; the result never changes during a process. */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

uint64_t dynrt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__) || defined(__i386__)
static uint64_t xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

static unsigned detect(void) {
  unsigned a, b, c, d, f = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  int osxsave = (c >> 27) & 1;
  int fma = (c >> 12) & 1;
  if (!osxsave) return 0;
  uint64_t xcr0 = xgetbv0();
  int ymm_ok = (xcr0 & 0x6) == 0x6;             /* SSE and AVX state saved by the OS */
  int zmm_ok = ymm_ok && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  if (ymm_ok && ((b >> 5) & 1)) f |= DYNRT_CPU_AVX2;
  if (ymm_ok && fma) f |= DYNRT_CPU_FMA;
  if (zmm_ok) {
    if ((b >> 16) & 1) f |= DYNRT_CPU_AVX512F;
    if ((b >> 17) & 1) f |= DYNRT_CPU_AVX512DQ;
    if ((b >> 30) & 1) f |= DYNRT_CPU_AVX512BW;
    if ((b >> 31) & 1) f |= DYNRT_CPU_AVX512VL;
  }
  return f;
}
#elif defined(__aarch64__)
static unsigned detect(void) { return DYNRT_CPU_NEON; /* ASIMD is mandatory on AArch64 */ }
#else
static unsigned detect(void) { return 0; }
#endif

unsigned dynrt_cpu_features(void) {
  static _Atomic unsigned cached = 0x80000000u;
  unsigned f = atomic_load(&cached);
  if (f & 0x80000000u) {
    f = detect();
    atomic_store(&cached, f);
  }
  return f;
}

char *dynrt_cpu_features_str(unsigned features, char *buf, size_t size) {
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = {{DYNRT_CPU_AVX2, "avx2"},         {DYNRT_CPU_FMA, "fma"},
               {DYNRT_CPU_AVX512F, "avx512f"},   {DYNRT_CPU_AVX512BW, "avx512bw"},
               {DYNRT_CPU_AVX512VL, "avx512vl"}, {DYNRT_CPU_AVX512DQ, "avx512dq"},
               {DYNRT_CPU_NEON, "neon"}};
  if (!buf || !size) return buf;
  buf[0] = '\0';
  size_t used = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (!(features & names[i].bit)) continue;
    int n = snprintf(buf + used, size - used, "%s%s", used ? " " : "", names[i].name);
    if (n < 0 || (size_t)n >= size - used) {
      buf[used] = '\0'; /* drop a partly written name */
      break;
    }
    used += (size_t)n;
  }
  if (!used) snprintf(buf, size, "none");
  return buf;
}

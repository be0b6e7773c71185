/*
 * simd_tmpl.h - helpers shared by the SIMD kernel templates (gemm_tmpl.h, dw_tmpl.h,
 * conv_tmpl.h, eltwise_tmpl.h). Each template is compiled once per ISA: a *_avx2.c or
 * *_avx512.c file includes its vec_<isa>.h (VW, vf, vmask and the v* operations) first.
 * Shapes that must be compile-time constants (tile rows, kernel size, stride) are passed
 * as `const int` arguments of always-inline functions, so every instantiation is fully
 * unrolled and its accumulators live in registers.
 */
#ifndef DYNRT_SIMD_TMPL_H
#define DYNRT_SIMD_TMPL_H

#ifndef VW
#error "include a vec_<isa>.h before the kernel templates"
#endif

#include "kernels/kernels_int.h"

#define DYNRT_INLINE static inline __attribute__((always_inline))

/* cnt lanes at p; a full vector avoids the masked form (slow stores on some AVX2 cores). */
DYNRT_INLINE vf vload_n(const float *p, size_t cnt, vmask m) {
  return cnt == VW ? vload(p) : vloadm(p, m);
}
DYNRT_INLINE void vstore_n(float *p, size_t cnt, vmask m, vf v) {
  if (cnt == VW)
    vstore(p, v);
  else
    vstorem(p, m, v);
}

/* Same formulas and operation order as dynrt__act1; data is the second operand of max/min
 * so that NaN propagates. */
DYNRT_INLINE vf vact(dynrt_act act, vf y) {
  const vf zero = vzero(), six = vset1(6.0f);
  switch (act) {
  case DYNRT_ACT_NONE: return y;
  case DYNRT_ACT_RELU: return vmax(zero, y);
  case DYNRT_ACT_RELU6: return vmin(six, vmax(zero, y));
  case DYNRT_ACT_HSWISH:
    return vmul(vmul(y, vmin(six, vmax(zero, vadd(y, vset1(3.0f))))), vset1(1.0f / 6.0f));
  case DYNRT_ACT_HSIGMOID:
    return vmul(vmin(six, vmax(zero, vadd(y, vset1(3.0f)))), vset1(1.0f / 6.0f));
  }
  return y;
}

/* Per-channel scale (NULL = 1) and shift (NULL = 0) of the lanes starting at channel c0. */
DYNRT_INLINE vf vscale(const float *scale, size_t c0, size_t cnt, vmask m) {
  return scale ? vload_n(scale + c0, cnt, m) : vset1(1.0f);
}
DYNRT_INLINE vf vshift(const float *shift, size_t c0, size_t cnt, vmask m) {
  return shift ? vload_n(shift + c0, cnt, m) : vzero();
}

#endif /* DYNRT_SIMD_TMPL_H */

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

/* cnt lanes at p. With AVX-512 the masked form costs the same as the plain one, so there is
 * no branch; AVX2's vmaskmovps store is slow on some cores, so full vectors avoid it. */
DYNRT_INLINE vf vload_n(const float *p, size_t cnt, vmask m) {
#if VEC_MASK_FREE
  (void)cnt;
  return vloadm(p, m);
#else
  return cnt == VW ? vload(p) : vloadm(p, m);
#endif
}
DYNRT_INLINE void vstore_n(float *p, size_t cnt, vmask m, vf v) {
#if VEC_MASK_FREE
  (void)cnt;
  vstorem(p, m, v);
#else
  if (cnt == VW)
    vstore(p, v);
  else
    vstorem(p, m, v);
#endif
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

/* Runs BODY with ACT_C bound to the activation as a compile-time constant, so that an
 * epilogue inlined into BODY has no per-vector switch. */
#define DYNRT_ACT_SWITCH(act, BODY)                                                                \
  switch (act) {                                                                                   \
  case DYNRT_ACT_NONE: {                                                                           \
    const dynrt_act ACT_C = DYNRT_ACT_NONE;                                                        \
    BODY;                                                                                          \
  } break;                                                                                         \
  case DYNRT_ACT_RELU: {                                                                           \
    const dynrt_act ACT_C = DYNRT_ACT_RELU;                                                        \
    BODY;                                                                                          \
  } break;                                                                                         \
  case DYNRT_ACT_RELU6: {                                                                          \
    const dynrt_act ACT_C = DYNRT_ACT_RELU6;                                                       \
    BODY;                                                                                          \
  } break;                                                                                         \
  case DYNRT_ACT_HSWISH: {                                                                         \
    const dynrt_act ACT_C = DYNRT_ACT_HSWISH;                                                      \
    BODY;                                                                                          \
  } break;                                                                                         \
  case DYNRT_ACT_HSIGMOID: {                                                                       \
    const dynrt_act ACT_C = DYNRT_ACT_HSIGMOID;                                                    \
    BODY;                                                                                          \
  } break;                                                                                         \
  }

/* Per-channel scale (NULL = 1) and shift (NULL = 0) of the lanes starting at channel c0. */
DYNRT_INLINE vf vscale(const float *scale, size_t c0, size_t cnt, vmask m) {
  return scale ? vload_n(scale + c0, cnt, m) : vset1(1.0f);
}
DYNRT_INLINE vf vshift(const float *shift, size_t c0, size_t cnt, vmask m) {
  return shift ? vload_n(shift + c0, cnt, m) : vzero();
}

#endif /* DYNRT_SIMD_TMPL_H */

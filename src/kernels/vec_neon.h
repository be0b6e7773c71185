/*
 * vec_neon.h - the vector vocabulary of the SIMD kernel templates for AArch64 ASIMD (NEON,
 * FP32 FMA). Included only by *_neon.c files, which exist only in AArch64 builds.
 *
 * Two widths, chosen per translation unit before the include:
 *  - default: VW 4, one q-register per vector. Depthwise, pooling and activations use it:
 *    a 4-channel vector per pixel leaves room for 8-pixel blocks (k=7: 7 weights + 8
 *    accumulators + 1 input of the 32 q-registers) and channel counts that are multiples of
 *    8 never take the tail path.
 *  - DYNRT_NEON_X2 defined: VW 8, a pair of q-registers per vector. The GEMM and dense
 *    convolution templates keep two vectors per tile row, so a row covers one whole 16-float
 *    panel row (4 q-registers, one 64-byte line per k) and a 6-row tile holds 24 accumulators.
 *
 * NEON has no masked loads: a vmask is the lane count, and vloadm/vstorem touch exactly that
 * many floats (lane by lane), never a byte past the tail. Masked-off lanes load as zero, as
 * vmaskmovps does. vmax/vmin are FMAX/FMIN, which return NaN when either operand is NaN, so
 * NaN data propagates exactly as with the x86 "data second" convention.
 */
#ifndef DYNRT_VEC_NEON_H
#define DYNRT_VEC_NEON_H

#include <arm_neon.h>
#include <stddef.h>

#include "kernels/kernels.h"

#define ISA_NAME(name) name##_neon
#define VEC_MASK_FREE 0

/* The NEON table and its functions; the templates define them in the *_neon.c files. */
extern const dynrt_kernels dynrt__kernels_neon;
void dynrt__gemm_neon(const dynrt_gemm_args *args);
void dynrt__dwconv_neon(const dynrt_dw_args *args);
void dynrt__conv_neon(const dynrt_conv_args *args);
void dynrt__gap_neon(size_t n, size_t channels, const float *in, size_t in_cs, float *out);
void dynrt__act_neon(dynrt_act act, float *x, size_t n);

/* Lane count of a tail: at most VW. */
typedef size_t vmask;

/* n < 4 floats at p into the low lanes, zero above; reads exactly n floats. */
static inline float32x4_t vq_load_part(const float *p, size_t n) {
  float32x4_t v = vdupq_n_f32(0.0f);
  if (n > 0) v = vld1q_lane_f32(p, v, 0);
  if (n > 1) v = vld1q_lane_f32(p + 1, v, 1);
  if (n > 2) v = vld1q_lane_f32(p + 2, v, 2);
  return v;
}
/* The low n < 4 lanes of v to p; writes exactly n floats. */
static inline void vq_store_part(float *p, size_t n, float32x4_t v) {
  if (n > 0) vst1q_lane_f32(p, v, 0);
  if (n > 1) vst1q_lane_f32(p + 1, v, 1);
  if (n > 2) vst1q_lane_f32(p + 2, v, 2);
}

#ifdef DYNRT_NEON_X2

#define VW 8
/* 32 q-registers. GEMM and conv: 6 rows x 16 columns = 24 accumulators + 4 B + the A
 * broadcast (8x16 would need all 32 for accumulators). GEMV (M = 1): 4 vectors (32 columns)
 * x 2 k-chains = 16 accumulators. */
#define GEMM_MR 6
#define CONV_MR 6
#define GEMV_NV 4
#define GEMV_CH 2
/* Unused by the GEMM and conv templates; the depthwise file uses the 4-lane vocabulary. */
#define DW_BW_BIG 4
#define DW_BW_MID 2

/* A plain struct (not float32x4x2_t) so that GCC scalarises arrays of it into registers. */
typedef struct vf {
  float32x4_t lo, hi;
} vf;

static inline vmask vmask_n(size_t n) { return n < VW ? n : VW; }
static inline vf vzero(void) {
  vf r = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
  return r;
}
static inline vf vset1(float x) {
  vf r = {vdupq_n_f32(x), vdupq_n_f32(x)};
  return r;
}
static inline vf vload(const float *p) {
  vf r = {vld1q_f32(p), vld1q_f32(p + 4)};
  return r;
}
static inline vf vloadm(const float *p, vmask m) {
  vf r;
  if (m >= 4) {
    r.lo = vld1q_f32(p);
    r.hi = m >= 8 ? vld1q_f32(p + 4) : vq_load_part(p + 4, m - 4);
  } else {
    r.lo = vq_load_part(p, m);
    r.hi = vdupq_n_f32(0.0f);
  }
  return r;
}
static inline void vstore(float *p, vf v) {
  vst1q_f32(p, v.lo);
  vst1q_f32(p + 4, v.hi);
}
static inline void vstorem(float *p, vmask m, vf v) {
  if (m >= 4) {
    vst1q_f32(p, v.lo);
    if (m >= 8)
      vst1q_f32(p + 4, v.hi);
    else
      vq_store_part(p + 4, m - 4, v.hi);
  } else {
    vq_store_part(p, m, v.lo);
  }
}
/* a*b + c, fused. */
static inline vf vfma(vf a, vf b, vf c) {
  vf r = {vfmaq_f32(c.lo, a.lo, b.lo), vfmaq_f32(c.hi, a.hi, b.hi)};
  return r;
}
static inline vf vmul(vf a, vf b) {
  vf r = {vmulq_f32(a.lo, b.lo), vmulq_f32(a.hi, b.hi)};
  return r;
}
static inline vf vadd(vf a, vf b) {
  vf r = {vaddq_f32(a.lo, b.lo), vaddq_f32(a.hi, b.hi)};
  return r;
}
static inline vf vdiv(vf a, vf b) {
  vf r = {vdivq_f32(a.lo, b.lo), vdivq_f32(a.hi, b.hi)};
  return r;
}
static inline vf vmax(vf a, vf b) {
  vf r = {vmaxq_f32(a.lo, b.lo), vmaxq_f32(a.hi, b.hi)};
  return r;
}
static inline vf vmin(vf a, vf b) {
  vf r = {vminq_f32(a.lo, b.lo), vminq_f32(a.hi, b.hi)};
  return r;
}

#else /* one q-register per vector */

#define VW 4
/* Depthwise: blocks of 8 and 4 output pixels (k=7: 7 weights + 8 accumulators + 1 input
 * of 32 q-registers). GEMM/conv/GEMV values for completeness (their files use the pair). */
#define DW_BW_BIG 8
#define DW_BW_MID 4
#define GEMM_MR 8
#define CONV_MR 8
#define GEMV_NV 4
#define GEMV_CH 2

typedef float32x4_t vf;

static inline vmask vmask_n(size_t n) { return n < VW ? n : VW; }
static inline vf vzero(void) { return vdupq_n_f32(0.0f); }
static inline vf vset1(float x) { return vdupq_n_f32(x); }
static inline vf vload(const float *p) { return vld1q_f32(p); }
static inline vf vloadm(const float *p, vmask m) {
  return m >= VW ? vld1q_f32(p) : vq_load_part(p, m);
}
static inline void vstore(float *p, vf v) { vst1q_f32(p, v); }
static inline void vstorem(float *p, vmask m, vf v) {
  if (m >= VW)
    vst1q_f32(p, v);
  else
    vq_store_part(p, m, v);
}
/* a*b + c, fused. */
static inline vf vfma(vf a, vf b, vf c) { return vfmaq_f32(c, a, b); }
static inline vf vmul(vf a, vf b) { return vmulq_f32(a, b); }
static inline vf vadd(vf a, vf b) { return vaddq_f32(a, b); }
static inline vf vdiv(vf a, vf b) { return vdivq_f32(a, b); }
static inline vf vmax(vf a, vf b) { return vmaxq_f32(a, b); }
static inline vf vmin(vf a, vf b) { return vminq_f32(a, b); }

#endif /* DYNRT_NEON_X2 */

#endif /* DYNRT_VEC_NEON_H */

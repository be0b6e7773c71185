/*
 * vec_avx2.h - the vector vocabulary of the SIMD kernel templates for AVX2+FMA: 8 float
 * lanes per ymm, tails through vmaskmovps (which does not fault on masked-off lanes).
 * Included only by *_avx2.c files, which are compiled with -mavx2 -mfma.
 */
#ifndef DYNRT_VEC_AVX2_H
#define DYNRT_VEC_AVX2_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define VW 8
#define ISA_NAME(name) name##_avx2
/* 16 ymm registers: GEMM 6 rows x 16 columns (12 accumulators), GEMV 4 vectors x 2
 * k-chains, depthwise blocks of 4 and 2 output pixels, conv 6 pixels x 16 channels. */
#define GEMM_MR 6
#define CONV_MR 6
#define GEMV_NV 4
#define GEMV_CH 2
#define DW_BW_BIG 4
#define DW_BW_MID 2

#define VEC_MASK_FREE 0

typedef __m256 vf;
typedef __m256i vmask;

static inline vmask vmask_n(size_t n) {
  static const int32_t lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256((const __m256i *)(lanes + VW - (n < VW ? n : VW)));
}
static inline vf vzero(void) { return _mm256_setzero_ps(); }
static inline vf vset1(float x) { return _mm256_set1_ps(x); }
static inline vf vload(const float *p) { return _mm256_loadu_ps(p); }
static inline vf vloadm(const float *p, vmask m) { return _mm256_maskload_ps(p, m); }
static inline void vstore(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline void vstorem(float *p, vmask m, vf v) { _mm256_maskstore_ps(p, m, v); }
static inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
/* max/min return their second operand when either is NaN (see vec_avx512.h). */
static inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }

#endif /* DYNRT_VEC_AVX2_H */

/*
 * vec_avx512.h - the vector vocabulary of the SIMD kernel templates for AVX-512: 16 float
 * lanes per zmm, tails through __mmask16 (masked loads never fault past the tail).
 * Included only by *_avx512.c files, which are compiled with the AVX-512 flags.
 */
#ifndef DYNRT_VEC_AVX512_H
#define DYNRT_VEC_AVX512_H

#include <immintrin.h>
#include <stddef.h>

#define VW 16
#define ISA_NAME(name) name##_avx512
/* Register tiles: GEMM 8 rows x 32 columns (16 accumulators of 32 zmm; 8 rows x 16 + 8 with
 * a half vector), GEMV 4 vectors x 2 k-chains, depthwise blocks of 8 and 4 output pixels,
 * conv 8 pixels x 32 channels. */
#define GEMM_MR 8
#define CONV_MR 8
#define GEMV_NV 4
#define GEMV_CH 2
#define DW_BW_BIG 8
#define DW_BW_MID 4

#define VEC_MASK_FREE 1

typedef __m512 vf;
typedef __mmask16 vmask;

static inline vmask vmask_n(size_t n) { return n >= VW ? (vmask)0xFFFF : (vmask)((1u << n) - 1u); }
static inline vf vzero(void) { return _mm512_setzero_ps(); }
static inline vf vset1(float x) { return _mm512_set1_ps(x); }
static inline vf vload(const float *p) { return _mm512_loadu_ps(p); }
static inline vf vloadm(const float *p, vmask m) { return _mm512_maskz_loadu_ps(m, p); }
static inline void vstore(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline void vstorem(float *p, vmask m, vf v) { _mm512_mask_storeu_ps(p, m, v); }
static inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vdiv(vf a, vf b) { return _mm512_div_ps(a, b); }
/* max/min return their second operand when either is NaN: callers pass the data second
 * so that NaN propagates like the scalar reference. */
static inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vmin(vf a, vf b) { return _mm512_min_ps(a, b); }

/* c + broadcast(*a) * b with the broadcast in the FMA's memory operand ({1to16}). A GEMM
 * row uses one A value for several B vectors, so the compiler emits one vbroadcastss for
 * all of them, which takes an FP pipe on AMD cores; the embedded broadcast is done by the
 * load unit. Inline assembly because no intrinsic spells it for a reused operand. */
#define VEC_FMA_BCAST 1
static inline vf vfma_bcast(const float *a, vf b, vf c) {
  __asm__("vfmadd231ps %[a]%{1to16%}, %[b], %[c]" : [c] "+v"(c) : [a] "m"(*a), [b] "v"(b));
  return c;
}

/* Both FMAs of a two-vector GEMM row in one statement, so that the compiler addresses the
 * A value once, in the instructions' own memory operands (base + index * scale). */
#define VEC_FMA2_BCAST 1
static inline void vfma2_bcast(const float *a, vf b0, vf b1, vf *c0, vf *c1) {
  __asm__("vfmadd231ps %[a]%{1to16%}, %[b0], %[c0]\n\t"
          "vfmadd231ps %[a]%{1to16%}, %[b1], %[c1]"
          : [c0] "+v"(*c0), [c1] "+v"(*c1)
          : [a] "m"(*a), [b0] "v"(b0), [b1] "v"(b1));
}

/* Half vectors (8 lanes in a ymm) for a GEMM column tail of at most 8 (24 = 16 + 8 columns):
 * cores that execute a 512-bit FMA as two 256-bit halves spend a whole zmm FMA on a masked
 * half, a ymm FMA costs half of it. Accumulated in ymm, widened for the zmm epilogue. */
#define VEC_HALF 1
typedef __m256 vh;
static inline vh vhzero(void) { return _mm256_setzero_ps(); }
static inline vh vhset1(float x) { return _mm256_set1_ps(x); }
static inline vh vhload(const float *p) { return _mm256_loadu_ps(p); }
static inline vh vhmul(vh a, vh b) { return _mm256_mul_ps(a, b); }
static inline vh vhfma_bcast(const float *a, vh b, vh c) {
  __asm__("vfmadd231ps %[a]%{1to8%}, %[b], %[c]" : [c] "+v"(c) : [a] "m"(*a), [b] "v"(b));
  return c;
}
static inline vf vh_widen(vh v) { return _mm512_zextps256_ps512(v); }
/* A full and a half vector of one GEMM row in one statement (see vfma2_bcast). */
static inline void vfma_fh_bcast(const float *a, vf b0, vh b1, vf *c0, vh *c1) {
  __asm__("vfmadd231ps %[a]%{1to16%}, %[b0], %[c0]\n\t"
          "vfmadd231ps %[a]%{1to8%}, %[b1], %[c1]"
          : [c0] "+v"(*c0), [c1] "+v"(*c1)
          : [a] "m"(*a), [b0] "v"(b0), [b1] "v"(b1));
}

#endif /* DYNRT_VEC_AVX512_H */

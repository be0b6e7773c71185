/*
 * kernels_int.h - private to src/kernels/: the per-ISA tables and the shared epilogue
 * semantics. Nothing outside src/kernels/ includes this file; the engine uses kernels.h.
 */
#ifndef DYNRT_KERNELS_INT_H
#define DYNRT_KERNELS_INT_H

#include "kernels/kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#define DYNRT_KERNELS_X86 1
/* Defined in the *_avx2.c / *_avx512.c files, which exist only in x86 builds. */
extern const dynrt_kernels dynrt__kernels_avx2;
extern const dynrt_kernels dynrt__kernels_avx512;

void dynrt__gemm_avx2(const dynrt_gemm_args *args);
void dynrt__dwconv_avx2(const dynrt_dw_args *args);
void dynrt__conv_avx2(const dynrt_conv_args *args);
void dynrt__gap_avx2(size_t n, size_t channels, const float *in, size_t in_cs, float *out);
void dynrt__act_avx2(dynrt_act act, float *x, size_t n);

void dynrt__gemm_avx512(const dynrt_gemm_args *args);
void dynrt__dwconv_avx512(const dynrt_dw_args *args);
void dynrt__conv_avx512(const dynrt_conv_args *args);
void dynrt__gap_avx512(size_t n, size_t channels, const float *in, size_t in_cs, float *out);
void dynrt__act_avx512(dynrt_act act, float *x, size_t n);
#endif

#if defined(__aarch64__)
#define DYNRT_KERNELS_ARM64 1
/* Defined in the *_neon.c files, which exist only in AArch64 builds. */
extern const dynrt_kernels dynrt__kernels_neon;

void dynrt__gemm_neon(const dynrt_gemm_args *args);
void dynrt__dwconv_neon(const dynrt_dw_args *args);
void dynrt__conv_neon(const dynrt_conv_args *args);
void dynrt__gap_neon(size_t n, size_t channels, const float *in, size_t in_cs, float *out);
void dynrt__act_neon(dynrt_act act, float *x, size_t n);
#endif

/* Argument invariants shared by every implementation (programmer errors abort). */
void dynrt__gemm_check(const dynrt_gemm_args *g);
void dynrt__dw_check(const dynrt_dw_args *d);
void dynrt__conv_check(const dynrt_conv_args *c);

#endif /* DYNRT_KERNELS_INT_H */

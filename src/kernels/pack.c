/*
 * pack.c - converts PyTorch weight layouts into the kernel layouts of kernels.h, once at
 * load time. Packing allocates nothing (the caller owns dst) and is not on the hot path.
 */
#include <string.h>

#include "kernels/kernels.h"

size_t dynrt__gemm_packed_size(size_t nmax, size_t kmax) {
  return DYNRT_DIV_UP(nmax, DYNRT_NR) * kmax * DYNRT_NR;
}

/* dst[(n/16)][k][n%16] = src[n][k]; the lanes of the last panel past nmax are zero so that
 * a kernel computing a full vector never multiplies garbage. */
void dynrt__gemm_pack(const float *src, size_t nmax, size_t kmax, float *dst) {
  DYNRT_ASSERT(src != NULL && dst != NULL);
  size_t panels = DYNRT_DIV_UP(nmax, DYNRT_NR);
  memset(dst, 0, panels * kmax * DYNRT_NR * sizeof(float));
  for (size_t n = 0; n < nmax; n++) {
    float *p = dst + (n / DYNRT_NR) * kmax * DYNRT_NR + n % DYNRT_NR;
    for (size_t k = 0; k < kmax; k++) p[k * DYNRT_NR] = src[n * kmax + k];
  }
}

size_t dynrt__conv_packed_size(size_t nmax, size_t kmax, size_t k) {
  return DYNRT_DIV_UP(nmax, DYNRT_NR) * k * k * kmax * DYNRT_NR;
}

/* dst[(n/16)][ky*k+kx][ci][n%16] = src[n][ci][ky][kx]. */
void dynrt__conv_pack(const float *src, size_t nmax, size_t kmax, size_t k, float *dst) {
  DYNRT_ASSERT(src != NULL && dst != NULL && k >= 1);
  size_t taps = k * k, ps = taps * kmax * DYNRT_NR;
  memset(dst, 0, DYNRT_DIV_UP(nmax, DYNRT_NR) * ps * sizeof(float));
  for (size_t n = 0; n < nmax; n++) {
    float *p = dst + (n / DYNRT_NR) * ps + n % DYNRT_NR;
    for (size_t ci = 0; ci < kmax; ci++)
      for (size_t t = 0; t < taps; t++)
        p[(t * kmax + ci) * DYNRT_NR] = src[(n * kmax + ci) * taps + t];
  }
}

/* dst[t][ch] = src[ch][0][t]; lanes c..dst_cs-1 are zeroed. */
void dynrt__dw_pack(const float *src, size_t c, size_t k, float *dst, size_t dst_cs) {
  DYNRT_ASSERT(src != NULL && dst != NULL && dst_cs >= c);
  size_t taps = k * k;
  for (size_t t = 0; t < taps; t++) {
    float *row = dst + t * dst_cs;
    for (size_t ch = 0; ch < c; ch++) row[ch] = src[ch * taps + t];
    for (size_t ch = c; ch < dst_cs; ch++) row[ch] = 0.0f;
  }
}

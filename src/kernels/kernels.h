/*
 * kernels.h - the float32 compute kernels and their packed weight layouts.
 *
 * Every kernel family has a scalar reference (the oracle for tests) and AVX2 / AVX-512
 * (x86-64) and NEON (AArch64) versions with identical semantics. One table is chosen once per
 * process by CPU features; DYNRT_KERNELS=scalar|avx2|avx512|neon forces one (tests, benchmarks).
 *
 * The layouts exist for zero-copy sub-network slicing: a sub-network uses a prefix of the
 * output channels (N) and of the input channels (K) of the largest layer, straight from the
 * one packed weight set, with no copy and no repack.
 *
 * Activations are NHWC with a per-tensor channel stride (`*_cs`, in floats) that may exceed
 * the active channel count; lanes past the active count are "don't care" and never read as
 * data. Kernels run on the calling thread only; parallel splitting is done by the caller
 * (engine) by calling a kernel on disjoint sub-ranges (offset pointers / row ranges).
 * Kernels never allocate. Arguments are checked with DYNRT_ASSERT (programmer errors);
 * public entry points validate user input before reaching here.
 */
#ifndef DYNRT_KERNELS_H
#define DYNRT_KERNELS_H

#include <stddef.h>

#include "core/core.h"

/* Output-channel panel width of every packed weight layout, on every ISA. */
#define DYNRT_NR 16

typedef enum dynrt_act {
  DYNRT_ACT_NONE = 0,
  DYNRT_ACT_RELU,
  DYNRT_ACT_RELU6,
  DYNRT_ACT_HSWISH,  /* x * relu6(x + 3) / 6 */
  DYNRT_ACT_HSIGMOID /* relu6(x + 3) / 6 */
} dynrt_act;

/*
 * 1x1 convolution / fully connected as GEMM: C[m][n] = epilogue(sum_k A[m][k]*s[k]*B[k][n]).
 *   w: packed [ceil(Nmax/16)][Kmax][16]: element (k, n) at w[(n/16)*panel_stride + k*16 + n%16],
 *      zero for n >= Nmax; panel_stride >= Kmax*16 (floats), explicit so that any prefix
 *      n <= Nmax, k <= Kmax of the largest layer is used as-is.
 *   a_kscale: optional [k], multiplies A's columns (squeeze-and-excitation channel scale).
 *   epilogue, per output channel n: y = acc*scale[n] + shift[n] (scale NULL = 1, shift NULL
 *      = 0; a conv bias is folded into shift), then act, then + res[m*ldr + n] if res.
 *   Stores only columns [0, n) (masked tails); c may alias res (in-place residual).
 *   m = 0 or n = 0 is a no-op; k = 0 gives the epilogue of a zero sum (a, w unused).
 */
typedef struct dynrt_gemm_args {
  size_t m, n, k;
  const float *a;
  size_t lda;
  const float *a_kscale;
  const float *w;
  size_t panel_stride;
  const float *scale, *shift;
  dynrt_act act;
  const float *res;
  size_t ldr;
  float *c;
  size_t ldc;
} dynrt_gemm_args;

/*
 * Depthwise k x k convolution, k in {3,5,7}, stride 1 or 2, pad k/2, NHWC.
 *   in: points at pixel (0,0) of the interior of a buffer whose zero border is at least
 *       k/2 pixels on every side (so no padding branches): pixel (y,x), channel c at
 *       in[y*in_rs + x*in_cs + c] for -k/2 <= y < h + k/2.
 *   wt: [k*k][wt_cs]: tap t = ky*k + kx of channel c at wt[t*wt_cs + c].
 *   Output size oh = (h - 1)/stride + 1, ow likewise. Rows [oy0, oy1) are computed.
 *   epilogue: acc*scale[c] + shift[c], act, store; if sum != NULL also sum[c] += y for every
 *   stored output (SE pooling; the caller zeroes sum and splits work by channel, not row,
 *   when it uses sum from several threads).
 *   scale NULL = 1 and shift NULL = 0, as in GEMM. The border must hold zeros (not just
 *   finite values): kernel rows that lie entirely in it may be skipped.
 */
typedef struct dynrt_dw_args {
  size_t h, w, c, k, stride;
  const float *in;
  size_t in_rs, in_cs;
  const float *wt;
  size_t wt_cs;
  const float *scale, *shift;
  dynrt_act act;
  float *out;
  size_t out_rs, out_cs;
  size_t oy0, oy1;
  float *sum;
} dynrt_dw_args;

/*
 * Dense k x k convolution (groups = 1), stride 1 or 2, pad k/2, NHWC, any k in 1..7.
 * Covers the 3-channel stem (cin = 3) and ResNet-style layers.
 *   in: zero-bordered like dynrt_dw_args (border >= k/2).
 *   w: packed [ceil(Nmax/16)][k*k][Kmax][16]: (tap t, input channel ci, output n) at
 *      w[(n/16)*panel_stride + (t*kmax_in + ci)*16 + n%16]; panel_stride >= k*k*Kmax*16.
 *      A prefix cin <= Kmax, cout <= Nmax is used as-is.
 *   Rows [oy0, oy1) of the output; epilogue as GEMM (scale, shift, act, optional res;
 *   scale NULL = 1, shift NULL = 0). out may alias res (in-place residual), never in.
 */
typedef struct dynrt_conv_args {
  size_t h, w, cin, cout, k, stride;
  const float *in;
  size_t in_rs, in_cs;
  const float *w_packed;
  size_t kmax_in, panel_stride;
  const float *scale, *shift;
  dynrt_act act;
  const float *res;
  size_t res_rs, res_cs;
  float *out;
  size_t out_rs, out_cs;
  size_t oy0, oy1;
} dynrt_conv_args;

typedef struct dynrt_kernels {
  const char *name; /* "scalar", "avx2", "avx512", "neon" */
  void (*gemm)(const dynrt_gemm_args *args);
  void (*dwconv)(const dynrt_dw_args *args);
  void (*conv)(const dynrt_conv_args *args);
  /* out[c] = mean over n pixels of in[p*in_cs + c], c < channels. */
  void (*gap)(size_t n, size_t channels, const float *in, size_t in_cs, float *out);
  /* x[i] = act(x[i]) in place, i < n. */
  void (*act)(dynrt_act act, float *x, size_t n);
} dynrt_kernels;

/* The table chosen for this process (CPU features, or DYNRT_KERNELS). Never NULL. */
const dynrt_kernels *dynrt__kernels(void);
/* A table by name, or NULL if unknown or not supported by this CPU. */
const dynrt_kernels *dynrt__kernels_by_name(const char *name);

extern const dynrt_kernels dynrt__kernels_scalar;

/* ---- packing (at load time; never on the inference path) ---- */
/* Floats needed by the packed GEMM layout of an Nmax x Kmax layer (panel_stride Kmax*16). */
size_t dynrt__gemm_packed_size(size_t nmax, size_t kmax);
/* src: row-major [Nmax][Kmax] (PyTorch OIHW with 1x1 spatial). */
void dynrt__gemm_pack(const float *src, size_t nmax, size_t kmax, float *dst);
size_t dynrt__conv_packed_size(size_t nmax, size_t kmax, size_t k);
/* src: PyTorch OIHW [Nmax][Kmax][k][k]. */
void dynrt__conv_pack(const float *src, size_t nmax, size_t kmax, size_t k, float *dst);
/* src: PyTorch [C][1][k][k] -> dst [k*k][dst_cs], dst_cs >= C (extra lanes zeroed). */
void dynrt__dw_pack(const float *src, size_t c, size_t k, float *dst, size_t dst_cs);

/* ---- small helpers built on the table ---- */
/* Numerically stable softmax over n logits. */
void dynrt__softmax(const float *logits, size_t n, float *probs);
/* Indices of the k largest values, descending, ties by lower index; k <= n. */
void dynrt__topk(const float *x, size_t n, size_t k, size_t *idx);
/* Scalar activation of one value (reference semantics). */
float dynrt__act1(dynrt_act act, float x);

#endif /* DYNRT_KERNELS_H */

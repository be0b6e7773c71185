/*
 * dw_tmpl.h - the SIMD depthwise convolution template, compiled once per ISA (see
 * simd_tmpl.h). Semantics are those of dynrt_dw_args in kernels.h.
 *
 * Direct NHWC: VW channels per vector, a block of BW output pixels along a row. For each
 * kernel row, the k weight vectors are loaded once and every input vector of the row span
 * is loaded once and fed to all the outputs that use it, so a stride-1 3x3 block of 8
 * pixels costs 3 x (10 + 3) loads for 72 FMAs. Kernel size, stride and block width are
 * compile-time constants of each instantiation (full unrolling, no tap branches); narrow
 * blocks (tiny maps, row tails) split their sums into several chains. The zero
 * border of the input removes all padding tests. Channel tails use masked loads/stores;
 * the SE pooling sums (args->sum) are accumulated in registers and added to memory once
 * per channel vector.
 */
#include "kernels/simd_tmpl.h"

/* Epilogue of a block of BW output pixels: BN, activation, store, SE sum in registers. */
DYNRT_INLINE void dw_store(float *o, size_t out_cs, const int BW, const int TAIL, const vf *acc,
                           vmask msk, vf sc, vf sh, vf *ssum, const dynrt_act ACT) {
#pragma GCC unroll 8
  for (int i = 0; i < BW; i++) {
    vf y = vact(ACT, vfma(acc[i], sc, sh));
    if (TAIL)
      vstorem(o + (size_t)i * out_cs, msk, y);
    else
      vstore(o + (size_t)i * out_cs, y);
    *ssum = vadd(*ssum, y);
  }
}

DYNRT_INLINE void dw_block(const dynrt_dw_args *d, const int K, const int S, const int BW,
                           const int TAIL, size_t oy, size_t ox0, size_t c0, vmask msk, vf sc,
                           vf sh, vf *ssum) {
  /* FMA latency x throughput needs about 8 independent accumulators: narrow blocks split
   * each pixel's sum into NCH chains by kernel row, added at the end. */
  const int NCH = BW >= 8 ? 1 : BW >= 4 ? 2 : 4;
  const ptrdiff_t P = K / 2, cs = (ptrdiff_t)d->in_cs, rs = (ptrdiff_t)d->in_rs;
  const size_t wcs = d->wt_cs;
  const float *x0 =
      d->in + ((ptrdiff_t)(oy * S) - P) * rs + ((ptrdiff_t)(ox0 * S) - P) * cs + (ptrdiff_t)c0;
  vf acc[4][DW_BW_BIG];
#pragma GCC unroll 4
  for (int ch = 0; ch < NCH; ch++)
#pragma GCC unroll 8
    for (int i = 0; i < BW; i++) acc[ch][i] = vzero();
  /* Kernel rows that fall entirely in the zero border add nothing: skip them (on a 4x4 map
   * a 7x7 kernel has 3 such rows out of 7 for every output row). */
  const ptrdiff_t iy0 = (ptrdiff_t)(oy * S) - P;
  const int ky_lo = iy0 < 0 ? (int)-iy0 : 0;
  const int ky_hi = (ptrdiff_t)d->h - iy0 < K ? (int)((ptrdiff_t)d->h - iy0) : K;
#pragma GCC unroll 7
  for (int ky = 0; ky < K; ky++) {
    if (ky < ky_lo || ky >= ky_hi) continue;
    const int ch = ky % NCH;
    const float *xr = x0 + ky * rs, *wr = d->wt + (size_t)(ky * K) * wcs + c0;
    vf w[7];
#pragma GCC unroll 7
    for (int kx = 0; kx < K; kx++) w[kx] = TAIL ? vloadm(wr + kx * wcs, msk) : vload(wr + kx * wcs);
#pragma GCC unroll 24
    for (int j = 0; j < (BW - 1) * S + K; j++) {
      vf x = TAIL ? vloadm(xr + j * cs, msk) : vload(xr + j * cs);
#pragma GCC unroll 8
      for (int i = 0; i < BW; i++) {
        int kx = j - i * S;
        if (kx >= 0 && kx < K) acc[ch][i] = vfma(x, w[kx], acc[ch][i]);
      }
    }
  }
#pragma GCC unroll 4
  for (int ch = 1; ch < NCH; ch++)
#pragma GCC unroll 8
    for (int i = 0; i < BW; i++) acc[0][i] = vadd(acc[0][i], acc[ch][i]);
  float *o = d->out + oy * d->out_rs + ox0 * d->out_cs + c0;
  DYNRT_ACT_SWITCH(d->act, dw_store(o, d->out_cs, BW, TAIL, acc[0], msk, sc, sh, ssum, ACT_C));
}

/* One output row segment [0, ow) of one channel vector: big blocks, one mid block, singles. */
DYNRT_INLINE void dw_span(const dynrt_dw_args *d, const int K, const int S, const int TAIL,
                          size_t oy, size_t ow, size_t c0, vmask msk, vf sc, vf sh, vf *ssum) {
  size_t ox = 0;
  for (; ox + DW_BW_BIG <= ow; ox += DW_BW_BIG)
    dw_block(d, K, S, DW_BW_BIG, TAIL, oy, ox, c0, msk, sc, sh, ssum);
  if (ow - ox >= DW_BW_MID) {
    dw_block(d, K, S, DW_BW_MID, TAIL, oy, ox, c0, msk, sc, sh, ssum);
    ox += DW_BW_MID;
  }
  for (; ox < ow; ox++) dw_block(d, K, S, 1, TAIL, oy, ox, c0, msk, sc, sh, ssum);
}

/* Channel vectors outside rows: a 16-channel vector of a pixel is one cache line, and the
 * k input rows of one channel vector (a few KB) stay in L1 from one output row to the
 * next, so each input line is read from L2 once instead of about k/stride times. */
DYNRT_INLINE void dw_rows(const dynrt_dw_args *d, const int K, const int S) {
  const size_t ow = (d->w - 1) / (size_t)S + 1;
  for (size_t c0 = 0; c0 < d->c; c0 += VW) {
    size_t cnt = DYNRT_MIN((size_t)VW, d->c - c0);
    vmask msk = vmask_n(cnt);
    vf sc = vscale(d->scale, c0, cnt, msk), sh = vshift(d->shift, c0, cnt, msk);
    vf ssum = vzero();
    for (size_t oy = d->oy0; oy < d->oy1; oy++) {
      if (cnt == VW)
        dw_span(d, K, S, 0, oy, ow, c0, msk, sc, sh, &ssum);
      else
        dw_span(d, K, S, 1, oy, ow, c0, msk, sc, sh, &ssum);
    }
    if (d->sum) vstore_n(d->sum + c0, cnt, msk, vadd(vload_n(d->sum + c0, cnt, msk), ssum));
  }
}

static void dw_k3s1(const dynrt_dw_args *d) { dw_rows(d, 3, 1); }
static void dw_k3s2(const dynrt_dw_args *d) { dw_rows(d, 3, 2); }
static void dw_k5s1(const dynrt_dw_args *d) { dw_rows(d, 5, 1); }
static void dw_k5s2(const dynrt_dw_args *d) { dw_rows(d, 5, 2); }
static void dw_k7s1(const dynrt_dw_args *d) { dw_rows(d, 7, 1); }
static void dw_k7s2(const dynrt_dw_args *d) { dw_rows(d, 7, 2); }

void ISA_NAME(dynrt__dwconv)(const dynrt_dw_args *d) {
  dynrt__dw_check(d);
  if (!d->c || d->oy0 == d->oy1) return;
  switch (d->k * 2 + d->stride - 1) {
  case 6: dw_k3s1(d); break;
  case 7: dw_k3s2(d); break;
  case 10: dw_k5s1(d); break;
  case 11: dw_k5s2(d); break;
  case 14: dw_k7s1(d); break;
  default: dw_k7s2(d); break;
  }
}

/*
 * gemm_tmpl.h - the SIMD GEMM (1x1 convolution / fully connected) template, compiled once
 * per ISA (see simd_tmpl.h). Semantics are those of dynrt_gemm_args in kernels.h.
 *
 * Loop order: row blocks, then column blocks of 2*VW (two panels with AVX-512, one with
 * AVX2), then row tiles of GEMM_MR. When the used weights do not fit in L2 there is one row
 * block, so each weight panel is streamed from memory once per call and the row tiles reuse
 * it from L1/L2; smaller weights are re-read from L2 per row block (gemm_row_block). Each tile
 * keeps GEMM_MR x 2 accumulators in registers and broadcasts one A value per row and k. M = 1 (FC
 * heads, SE) takes a GEMV path with GEMV_NV column vectors x GEMV_CH k-chains, enough independent
 * FMAs to stream weights. 8-row tiles of one or two full vectors, or one full vector and a
 * half one, without the SE scale, address their rows from two bases and the row stride when
 * the ISA has the two-vector embedded-broadcast FMA (VEC_FMA2_BCAST, AVX-512): a step of a
 * two-vector tile is then 2 loads, 16 FMAs and 4 integer instructions. The SE channel scale is
 * folded into the B vectors (2 multiplies per k instead of MR). Panels past ceil(n/16) are never
 * read, so any prefix n <= Nmax works on the same blob.
 *
 * Column tails: a block with at most VW/2 columns past its full vectors (24 = 16 + 8 with
 * AVX-512) uses a half-width vector when the ISA has one (VEC_HALF), so the last 8 columns cost
 * a ymm FMA instead of a masked zmm one; otherwise the last vector is a full one with masked
 * lanes. With VEC_FMA_BCAST the A value is broadcast inside each FMA's memory operand instead
 * of by a separate broadcast instruction.
 */
#include "kernels/simd_tmpl.h"

/* Optional parts of a vec_<isa>.h: a half-width vector type vh with vhzero/vhset1/vhload/
 * vhmul/vhfma_bcast/vh_widen (VEC_HALF), vfma_bcast(const float *a, vf b, vf c) = c +
 * broadcast(*a) * b (VEC_FMA_BCAST), and the same for two vectors of a row in one statement,
 * vfma2_bcast (two full) and vfma_fh_bcast (a full and a half) (VEC_FMA2_BCAST). */
#ifndef VEC_HALF
#define VEC_HALF 0
#endif
#ifndef VEC_FMA_BCAST
#define VEC_FMA_BCAST 0
#endif
#ifndef VEC_FMA2_BCAST
#define VEC_FMA2_BCAST 0
#endif

#ifndef GEMM_L2_WEIGHTS
#define GEMM_L2_WEIGHTS (256 * 1024)
#endif
#ifndef GEMM_L1_A
#define GEMM_L1_A (8 * 1024)
#endif

/* B vector starting at column col, row 0. */
DYNRT_INLINE const float *gemm_bcol(const dynrt_gemm_args *g, size_t col) {
  return g->w + (col / DYNRT_NR) * g->panel_stride + col % DYNRT_NR;
}

/* Epilogue of one row's vector at column col: scale/shift, act, residual, masked store. */
DYNRT_INLINE void gemm_store(const dynrt_gemm_args *g, size_t row, size_t col, vf acc, vf sc, vf sh,
                             size_t cnt, vmask msk, const dynrt_act ACT, const int RES) {
  vf y = vact(ACT, vfma(acc, sc, sh));
  if (RES) y = vadd(y, vload_n(g->res + row * g->ldr + col, cnt, msk));
  vstore_n(g->c + row * g->ldc + col, cnt, msk, y);
}

/* The epilogue of a tile of NV vectors (a widened half vector counts as one: its lanes past
 * the tail are masked like any tail), for one compile-time activation and residual flag. */
DYNRT_INLINE void gemm_epilogue(const dynrt_gemm_args *g, size_t m0, size_t j0, const int MR,
                                const int NV, vf acc[][2], const dynrt_act ACT, const int RES) {
#pragma GCC unroll 2
  for (int v = 0; v < NV; v++) {
    size_t col = j0 + (size_t)v * VW, cnt = DYNRT_MIN((size_t)VW, g->n - col);
    vmask msk = vmask_n(cnt);
    vf sc = vscale(g->scale, col, cnt, msk), sh = vshift(g->shift, col, cnt, msk);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
      gemm_store(g, m0 + (size_t)i, col, acc[i][v], sc, sh, cnt, msk, ACT, RES);
  }
}

/* One row's A value at step k times the step's B vectors, added to the row's sums. */
DYNRT_INLINE void gemm_row_fma(const float *a, const vf *b, vf *acc, const int NV) {
#if VEC_FMA_BCAST
#pragma GCC unroll 2
  for (int v = 0; v < NV; v++) acc[v] = vfma_bcast(a, b[v], acc[v]);
#else
  vf av = vset1(*a);
#pragma GCC unroll 2
  for (int v = 0; v < NV; v++) acc[v] = vfma(av, b[v], acc[v]);
#endif
}

/* The sums of a tile: MR rows x (NV vectors + HALF half vector) from column j0, NV + HALF <= 2;
 * the half vector's sums come back widened in acc[i][NV]. */
DYNRT_INLINE void gemm_accum(const dynrt_gemm_args *g, size_t m0, size_t j0, const int MR,
                             const int NV, const int HALF, const int KS, vf acc[][2]) {
  const float *ap[GEMM_MR], *bp[2];
  const float *s = g->a_kscale;
#if VEC_HALF
  vh acch[GEMM_MR];
#endif
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) {
    ap[i] = g->a + (m0 + (size_t)i) * g->lda;
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) acc[i][v] = vzero();
#if VEC_HALF
    if (HALF) acch[i] = vhzero();
#endif
  }
#pragma GCC unroll 2
  for (int v = 0; v < NV + HALF; v++) bp[v] = gemm_bcol(g, j0 + (size_t)v * VW);
#if VEC_FMA2_BCAST && VEC_HALF
  if (MR == 8 && !KS && (!HALF || NV == 1)) {
    /* Rows addressed from two bases with the row stride in registers: the 8 row pointers of
     * the loop below make GCC keep row offsets on the stack and reload them every step. */
    const float *a0 = ap[0], *a3 = ap[3], *b0 = bp[0], *b1 = bp[NV + HALF - 1];
    const size_t l = g->lda;
    static const size_t off[8] = {0, 1, 2, 0, 4, 2, 3, 4};
    for (size_t k = 0; k < g->k; k++) {
      vf x = vload(b0), y = NV == 2 ? vload(b1) : x;
      vh xh = HALF ? vhload(b1) : vhzero();
#pragma GCC unroll 8
      for (int i = 0; i < 8; i++) {
        const float *a = (i == 0 || i == 1 || i == 2 || i == 4 ? a0 : a3) + off[i] * l;
        if (HALF)
          vfma_fh_bcast(a, x, xh, &acc[i][0], &acch[i]);
        else if (NV == 2)
          vfma2_bcast(a, x, y, &acc[i][0], &acc[i][1]);
        else
          acc[i][0] = vfma_bcast(a, x, acc[i][0]);
      }
      a0++, a3++, b0 += DYNRT_NR, b1 += DYNRT_NR;
    }
    if (HALF) {
#pragma GCC unroll 8
      for (int i = 0; i < 8; i++) acc[i][1] = vh_widen(acch[i]);
    }
    return;
  }
#endif
  for (size_t k = 0; k < g->k; k++) {
    vf b[2];
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
      b[v] = vload(bp[v] + k * DYNRT_NR);
      if (KS) b[v] = vmul(b[v], vset1(s[k]));
    }
#if VEC_HALF
    vh bh = vhzero();
    if (HALF) {
      bh = vhload(bp[NV] + k * DYNRT_NR);
      if (KS) bh = vhmul(bh, vhset1(s[k]));
    }
#endif
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      gemm_row_fma(ap[i] + k, b, acc[i], NV);
#if VEC_HALF
      if (HALF) acch[i] = vhfma_bcast(ap[i] + k, bh, acch[i]);
#endif
    }
  }
#if VEC_HALF
  if (HALF) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) acc[i][NV] = vh_widen(acch[i]);
  }
#endif
}

/* One tile: the sums (with or without the SE scale), then the epilogue with the call's
 * activation and residual flag as compile-time constants. */
DYNRT_INLINE void gemm_tile(const dynrt_gemm_args *g, size_t m0, size_t j0, const int MR,
                            const int NV, const int HALF) {
  vf acc[GEMM_MR][2];
  if (g->a_kscale)
    gemm_accum(g, m0, j0, MR, NV, HALF, 1, acc);
  else
    gemm_accum(g, m0, j0, MR, NV, HALF, 0, acc);
  if (g->res) {
    DYNRT_ACT_SWITCH(g->act, gemm_epilogue(g, m0, j0, MR, NV + HALF, acc, ACT_C, 1));
  } else {
    DYNRT_ACT_SWITCH(g->act, gemm_epilogue(g, m0, j0, MR, NV + HALF, acc, ACT_C, 0));
  }
}

/* One row, up to GEMV_NV column vectors, GEMV_CH k-chains each: 8 independent
 * accumulators, which the FMA latency needs when there is only one row. */
DYNRT_INLINE void gemv_tile(const dynrt_gemm_args *g, size_t j0, const int NV, const int KS) {
  vf acc[GEMV_CH][4];
  const float *bp[4];
  const float *a = g->a, *s = g->a_kscale;
#pragma GCC unroll 4
  for (int v = 0; v < NV; v++) {
#pragma GCC unroll 4
    for (int ch = 0; ch < GEMV_CH; ch++) acc[ch][v] = vzero();
    bp[v] = gemm_bcol(g, j0 + (size_t)v * VW);
  }
  size_t k = 0;
  for (; k + GEMV_CH <= g->k; k += GEMV_CH) {
#pragma GCC unroll 4
    for (int ch = 0; ch < GEMV_CH; ch++) {
      size_t kk = k + (size_t)ch;
      vf av = vset1(KS ? a[kk] * s[kk] : a[kk]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[ch][v] = vfma(av, vload(bp[v] + kk * DYNRT_NR), acc[ch][v]);
    }
  }
  for (; k < g->k; k++) {
    vf av = vset1(KS ? a[k] * s[k] : a[k]);
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[0][v] = vfma(av, vload(bp[v] + k * DYNRT_NR), acc[0][v]);
  }
#pragma GCC unroll 4
  for (int v = 0; v < NV; v++) {
    size_t col = j0 + (size_t)v * VW, cnt = DYNRT_MIN((size_t)VW, g->n - col);
    vmask msk = vmask_n(cnt);
    vf sc = vscale(g->scale, col, cnt, msk), sh = vshift(g->shift, col, cnt, msk);
    vf sum = acc[0][v];
#pragma GCC unroll 4
    for (int ch = 1; ch < GEMV_CH; ch++) sum = vadd(sum, acc[ch][v]);
    gemm_store(g, 0, col, sum, sc, sh, cnt, msk, g->act, g->res != NULL);
  }
}

typedef void (*gemm_tile_fn)(const dynrt_gemm_args *g, size_t m0, size_t j0);

/* gemm_tile_<rows>_<full vectors>_<half vector>: one compile-time tile shape. */
#define GEMM_TILE_FN(MR, NV, HALF)                                                                 \
  static void gemm_tile_##MR##_##NV##_##HALF(const dynrt_gemm_args *g, size_t m0, size_t j0) {     \
    gemm_tile(g, m0, j0, MR, NV, HALF);                                                            \
  }
#if VEC_HALF
#define GEMM_TILE_FNS(MR)                                                                          \
  GEMM_TILE_FN(MR, 1, 0)                                                                           \
  GEMM_TILE_FN(MR, 2, 0)                                                                           \
  GEMM_TILE_FN(MR, 0, 1)                                                                           \
  GEMM_TILE_FN(MR, 1, 1)
#define GEMM_TILE_ROW(MR)                                                                          \
  {                                                                                                \
    {NULL, gemm_tile_##MR##_0_1}, {gemm_tile_##MR##_1_0, gemm_tile_##MR##_1_1},                    \
        {gemm_tile_##MR##_2_0, NULL},                                                              \
  }
#else
#define GEMM_TILE_FNS(MR)                                                                          \
  GEMM_TILE_FN(MR, 1, 0)                                                                           \
  GEMM_TILE_FN(MR, 2, 0)
#define GEMM_TILE_ROW(MR)                                                                          \
  { {NULL}, {gemm_tile_##MR##_1_0}, {gemm_tile_##MR##_2_0}, }
#endif
GEMM_TILE_FNS(1)
GEMM_TILE_FNS(2)
GEMM_TILE_FNS(3)
GEMM_TILE_FNS(4)
GEMM_TILE_FNS(5)
GEMM_TILE_FNS(6)
#if GEMM_MR > 6
GEMM_TILE_FNS(7)
GEMM_TILE_FNS(8)
#endif

/* [rows][full vectors][half vector] */
static const gemm_tile_fn gemm_tiles[GEMM_MR + 1][3][1 + VEC_HALF] = {
    [1] = GEMM_TILE_ROW(1), [2] = GEMM_TILE_ROW(2), [3] = GEMM_TILE_ROW(3),
    [4] = GEMM_TILE_ROW(4), [5] = GEMM_TILE_ROW(5), [6] = GEMM_TILE_ROW(6),
#if GEMM_MR > 6
    [7] = GEMM_TILE_ROW(7), [8] = GEMM_TILE_ROW(8),
#endif
};

#define GEMV_FN(NV)                                                                                \
  static void gemv_##NV(const dynrt_gemm_args *g, size_t j0) {                                     \
    if (g->a_kscale)                                                                               \
      gemv_tile(g, j0, NV, 1);                                                                     \
    else                                                                                           \
      gemv_tile(g, j0, NV, 0);                                                                     \
  }
GEMV_FN(1)
GEMV_FN(2)
GEMV_FN(3)
GEMV_FN(4)
static void (*const gemv_fns[5])(const dynrt_gemm_args *g, size_t j0) = {NULL, gemv_1, gemv_2,
                                                                         gemv_3, gemv_4};

/*
 * Rows per block of the loop nest "row blocks, column blocks, row tiles". When the used
 * weights fit in L2 they are re-read from there for each row block while the block's A rows
 * and C rows stay in L1; larger weights are streamed from memory once (one block, panels
 * outside).
 */
static size_t gemm_row_block(const dynrt_gemm_args *g) {
  size_t wbytes = DYNRT_ROUND_UP(g->n, 2 * VW) * g->k * sizeof(float);
  if (wbytes > GEMM_L2_WEIGHTS) return g->m;
  size_t rows = GEMM_L1_A / (g->k * sizeof(float) + 1);
  rows = DYNRT_MAX(rows / GEMM_MR, 1) * GEMM_MR;
  return rows;
}

void ISA_NAME(dynrt__gemm)(const dynrt_gemm_args *g) {
  dynrt__gemm_check(g);
  if (!g->m || !g->n) return;
  if (g->m == 1) {
    for (size_t j0 = 0; j0 < g->n; j0 += GEMV_NV * VW) {
      size_t nv = DYNRT_MIN((size_t)GEMV_NV, DYNRT_DIV_UP(g->n - j0, (size_t)VW));
      gemv_fns[nv](g, j0);
    }
    return;
  }
  size_t mb = gemm_row_block(g);
  for (size_t mb0 = 0; mb0 < g->m; mb0 += mb) {
    size_t mb1 = DYNRT_MIN(g->m, mb0 + mb);
    for (size_t j0 = 0; j0 < g->n; j0 += 2 * VW) {
      /* Full vectors of the block, then its tail: a half vector if it fits in one. */
      size_t cols = DYNRT_MIN(2 * (size_t)VW, g->n - j0), nv = cols / VW, half = 0;
      if (cols % VW) {
        if (VEC_HALF && cols % VW <= VW / 2)
          half = 1;
        else
          nv++;
      }
      size_t m0 = mb0;
      for (; m0 + GEMM_MR <= mb1; m0 += GEMM_MR) gemm_tiles[GEMM_MR][nv][half](g, m0, j0);
      if (m0 < mb1) gemm_tiles[mb1 - m0][nv][half](g, m0, j0);
    }
  }
}

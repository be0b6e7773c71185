/*
 * conv_tmpl.h - the SIMD dense k x k convolution template (stem and general layers),
 * compiled once per ISA (see simd_tmpl.h). Semantics are those of dynrt_conv_args.
 *
 * Implicit GEMM straight from the zero-bordered NHWC input: a tile is CONV_MR consecutive
 * output pixels of a row x 2 output vectors; its "A row" for pixel i is the input pixel
 * under tap (ky, kx), read in place (no im2col buffer), and the packed weights
 * [panel][tap][ci][16] are the B panel. Column blocks are the outer loop so a panel is
 * streamed once per call, as in the GEMM.
 */
#include "kernels/simd_tmpl.h"

/* Epilogue of a tile for one compile-time activation: BN, act, residual, masked store. */
DYNRT_INLINE void conv_epilogue(const dynrt_conv_args *c, const int MR, const int NV, size_t oy,
                                size_t ox0, size_t j0, vf acc[][2], const dynrt_act ACT) {
#pragma GCC unroll 2
  for (int v = 0; v < NV; v++) {
    size_t col = j0 + (size_t)v * VW, cnt = DYNRT_MIN((size_t)VW, c->cout - col);
    vmask msk = vmask_n(cnt);
    vf sc = vscale(c->scale, col, cnt, msk), sh = vshift(c->shift, col, cnt, msk);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      size_t ox = ox0 + (size_t)i;
      vf y = vact(ACT, vfma(acc[i][v], sc, sh));
      if (c->res) y = vadd(y, vload_n(c->res + oy * c->res_rs + ox * c->res_cs + col, cnt, msk));
      vstore_n(c->out + oy * c->out_rs + ox * c->out_cs + col, cnt, msk, y);
    }
  }
}

DYNRT_INLINE void conv_tile(const dynrt_conv_args *c, const int MR, const int NV, size_t oy,
                            size_t ox0, size_t j0) {
  const ptrdiff_t P = (ptrdiff_t)(c->k / 2), S = (ptrdiff_t)c->stride;
  const ptrdiff_t rs = (ptrdiff_t)c->in_rs, cs = (ptrdiff_t)c->in_cs, xs = S * cs;
  const size_t k = c->k, cin = c->cin;
  const float *x0 = c->in + ((ptrdiff_t)oy * S - P) * rs + ((ptrdiff_t)ox0 * S - P) * cs;
  const float *bp[2];
  vf acc[CONV_MR][2];
#pragma GCC unroll 2
  for (int v = 0; v < NV; v++) {
    size_t col = j0 + (size_t)v * VW;
    bp[v] = c->w_packed + (col / DYNRT_NR) * c->panel_stride + col % DYNRT_NR;
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) acc[i][v] = vzero();
  }
  for (size_t ky = 0; ky < k; ky++)
    for (size_t kx = 0; kx < k; kx++) {
      const float *xt = x0 + (ptrdiff_t)ky * rs + (ptrdiff_t)kx * cs;
      size_t wofs = (ky * k + kx) * c->kmax_in * DYNRT_NR;
      for (size_t ci = 0; ci < cin; ci++) {
        vf b[2];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) b[v] = vload(bp[v] + wofs + ci * DYNRT_NR);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
          vf a = vset1(xt[i * xs + (ptrdiff_t)ci]);
#pragma GCC unroll 2
          for (int v = 0; v < NV; v++) acc[i][v] = vfma(a, b[v], acc[i][v]);
        }
      }
    }
  DYNRT_ACT_SWITCH(c->act, conv_epilogue(c, MR, NV, oy, ox0, j0, acc, ACT_C));
}

typedef void (*conv_tile_fn)(const dynrt_conv_args *c, size_t oy, size_t ox0, size_t j0);

#define CONV_TILE_FNS(MR)                                                                          \
  static void conv_tile_##MR##_1(const dynrt_conv_args *c, size_t oy, size_t ox0, size_t j0) {     \
    conv_tile(c, MR, 1, oy, ox0, j0);                                                              \
  }                                                                                                \
  static void conv_tile_##MR##_2(const dynrt_conv_args *c, size_t oy, size_t ox0, size_t j0) {     \
    conv_tile(c, MR, 2, oy, ox0, j0);                                                              \
  }
CONV_TILE_FNS(1)
CONV_TILE_FNS(2)
CONV_TILE_FNS(3)
CONV_TILE_FNS(4)
CONV_TILE_FNS(5)
CONV_TILE_FNS(6)
#if CONV_MR > 6
CONV_TILE_FNS(7)
CONV_TILE_FNS(8)
#endif

static const conv_tile_fn conv_tiles[CONV_MR + 1][2] = {
    {NULL, NULL},
    {conv_tile_1_1, conv_tile_1_2},
    {conv_tile_2_1, conv_tile_2_2},
    {conv_tile_3_1, conv_tile_3_2},
    {conv_tile_4_1, conv_tile_4_2},
    {conv_tile_5_1, conv_tile_5_2},
    {conv_tile_6_1, conv_tile_6_2},
#if CONV_MR > 6
    {conv_tile_7_1, conv_tile_7_2},
    {conv_tile_8_1, conv_tile_8_2},
#endif
};

void ISA_NAME(dynrt__conv)(const dynrt_conv_args *c) {
  dynrt__conv_check(c);
  if (!c->cout || c->oy0 == c->oy1) return;
  const size_t ow = (c->w - 1) / c->stride + 1;
  for (size_t j0 = 0; j0 < c->cout; j0 += 2 * VW) {
    size_t nv = c->cout - j0 > VW ? 2 : 1;
    for (size_t oy = c->oy0; oy < c->oy1; oy++) {
      size_t ox = 0;
      for (; ox + CONV_MR <= ow; ox += CONV_MR) conv_tiles[CONV_MR][nv - 1](c, oy, ox, j0);
      if (ox < ow) conv_tiles[ow - ox][nv - 1](c, oy, ox, j0);
    }
  }
}

/*
 * tiles.c - how one kernel call is split over the thread pool. The session runs every layer
 * through these; bench/kernels.c times the same tiles, so its 2-thread table measures the
 * split the engine uses.
 */

#include "engine/engine_int.h"

void dynrt__split_gemm(int threads, size_t ni, size_t nj, size_t pixels, int flat, size_t *ti,
                       size_t *tj) {
  size_t t = threads > 1 ? (size_t)threads : 1;
  *ti = ni;
  *tj = nj;
  if (t <= 1) return;
  size_t pi = DYNRT_DIV_UP(ni, t); /* tile of a split over i */
  if (flat) pi = DYNRT_ROUND_UP(pi, 8);
  if (pixels >= 64 * t && ni >= t) {
    *ti = pi;
    return;
  }
  /* Small M: panels, unless they split worse than the pixels do (80 columns = 5 panels go
   * 3 + 2 over 2 threads, 64 pixels go 32 + 32): the larger share sets the time. */
  size_t pj = DYNRT_DIV_UP(nj, t);
  if (ni >= t && pi < ni && pi * nj < pj * ni)
    *ti = pi;
  else
    *tj = pj;
}

void dynrt__split_dw(int threads, size_t oh, size_t groups, int se_sums, size_t *ti, size_t *tj) {
  size_t t = threads > 1 ? (size_t)threads : 1;
  *ti = oh;
  *tj = groups;
  if (t <= 1) return;
  if (se_sums || oh < t)
    *tj = DYNRT_DIV_UP(groups, t);
  else
    *ti = DYNRT_DIV_UP(oh, t);
}

void dynrt__gemm_tile(const dynrt_kernels *kern, const dynrt_gemm_args *o, size_t i0, size_t i1,
                      size_t j0, size_t j1) {
  size_t n0 = j0 * DYNRT_NR, n1 = DYNRT_MIN(j1 * DYNRT_NR, o->n);
  if (n0 >= n1 || i0 >= i1) return;
  dynrt_gemm_args g = *o;
  g.m = i1 - i0;
  g.n = n1 - n0;
  g.a = o->a + i0 * o->lda;
  g.w = o->w + (n0 / DYNRT_NR) * o->panel_stride;
  g.scale = o->scale ? o->scale + n0 : NULL;
  g.shift = o->shift ? o->shift + n0 : NULL;
  g.res = o->res ? o->res + i0 * o->ldr + n0 : NULL;
  g.c = o->c + i0 * o->ldc + n0;
  kern->gemm(&g);
}

void dynrt__dw_tile(const dynrt_kernels *kern, const dynrt_dw_args *o, size_t i0, size_t i1,
                    size_t j0, size_t j1) {
  size_t c0 = j0 * 16, c1 = DYNRT_MIN(j1 * 16, o->c);
  if (c0 >= c1 || i0 >= i1) return;
  dynrt_dw_args d = *o;
  d.c = c1 - c0;
  d.in += c0;
  d.wt += c0;
  d.scale += c0;
  d.shift += c0;
  d.out += c0;
  if (d.sum) d.sum += c0;
  d.oy0 = i0;
  d.oy1 = i1;
  kern->dwconv(&d);
}

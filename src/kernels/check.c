/*
 * check.c - argument invariants shared by every kernel implementation. A failure is a
 * programmer error in the caller (the engine validates user input first), so it aborts.
 */
#include "kernels/kernels_int.h"

void dynrt__gemm_check(const dynrt_gemm_args *g) {
  DYNRT_ASSERT(g != NULL);
  if (!g->m || !g->n) return;
  DYNRT_ASSERT(g->c != NULL && g->ldc >= g->n);
  DYNRT_ASSERT(g->k == 0 || (g->a != NULL && g->lda >= g->k && g->w != NULL));
  DYNRT_ASSERT(g->panel_stride >= g->k * DYNRT_NR);
  DYNRT_ASSERT(g->res == NULL || g->ldr >= g->n);
  DYNRT_ASSERT((unsigned)g->act <= (unsigned)DYNRT_ACT_HSIGMOID);
}

void dynrt__dw_check(const dynrt_dw_args *d) {
  DYNRT_ASSERT(d != NULL);
  DYNRT_ASSERT(d->k == 3 || d->k == 5 || d->k == 7);
  DYNRT_ASSERT(d->stride == 1 || d->stride == 2);
  DYNRT_ASSERT(d->h >= 1 && d->w >= 1);
  DYNRT_ASSERT(d->oy0 <= d->oy1 && d->oy1 <= (d->h - 1) / d->stride + 1);
  if (!d->c || d->oy0 == d->oy1) return;
  DYNRT_ASSERT(d->in != NULL && d->wt != NULL && d->out != NULL);
  DYNRT_ASSERT(d->in_cs >= d->c && d->wt_cs >= d->c && d->out_cs >= d->c);
  DYNRT_ASSERT(d->in_rs >= d->w * d->in_cs &&
               d->out_rs >= ((d->w - 1) / d->stride + 1) * d->out_cs);
  DYNRT_ASSERT((unsigned)d->act <= (unsigned)DYNRT_ACT_HSIGMOID);
}

void dynrt__conv_check(const dynrt_conv_args *c) {
  DYNRT_ASSERT(c != NULL);
  DYNRT_ASSERT(c->k >= 1 && c->k <= 7);
  DYNRT_ASSERT(c->stride == 1 || c->stride == 2);
  DYNRT_ASSERT(c->h >= 1 && c->w >= 1);
  DYNRT_ASSERT(c->oy0 <= c->oy1 && c->oy1 <= (c->h - 1) / c->stride + 1);
  if (!c->cout || c->oy0 == c->oy1) return;
  DYNRT_ASSERT(c->out != NULL && c->out_cs >= c->cout);
  DYNRT_ASSERT(c->out_rs >= ((c->w - 1) / c->stride + 1) * c->out_cs);
  DYNRT_ASSERT(c->cin <= c->kmax_in);
  DYNRT_ASSERT(c->cin == 0 || (c->in != NULL && c->in_cs >= c->cin && c->w_packed != NULL));
  DYNRT_ASSERT(c->in_rs >= c->w * c->in_cs);
  DYNRT_ASSERT(c->panel_stride >= c->k * c->k * c->kmax_in * DYNRT_NR);
  DYNRT_ASSERT(c->res == NULL || c->res_cs >= c->cout);
  DYNRT_ASSERT((unsigned)c->act <= (unsigned)DYNRT_ACT_HSIGMOID);
}

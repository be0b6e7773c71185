/*
 * scalar.c - the reference kernels: plain C with the exact semantics of kernels.h. They are
 * the oracle of the SIMD tests, so clarity wins over speed; loops are only ordered so that
 * the test sizes run in milliseconds. No intrinsics here.
 */
#include "kernels/kernels_int.h"

/* Channels accumulated per pass of the depthwise reference (a stack array, no allocation). */
#define DW_CHUNK 64

static float epilogue(float acc, const float *scale, const float *shift, size_t n, dynrt_act act) {
  float y = acc * (scale ? scale[n] : 1.0f) + (shift ? shift[n] : 0.0f);
  return dynrt__act1(act, y);
}

static void gemm_scalar(const dynrt_gemm_args *g) {
  dynrt__gemm_check(g);
  for (size_t m = 0; m < g->m; m++) {
    const float *a = g->a + m * g->lda;
    for (size_t n0 = 0; n0 < g->n; n0 += DYNRT_NR) {
      const float *w = g->w + (n0 / DYNRT_NR) * g->panel_stride;
      float acc[DYNRT_NR] = {0};
      for (size_t k = 0; k < g->k; k++) {
        float av = g->a_kscale ? a[k] * g->a_kscale[k] : a[k];
        for (size_t j = 0; j < DYNRT_NR; j++) acc[j] += av * w[k * DYNRT_NR + j];
      }
      size_t nn = DYNRT_MIN(DYNRT_NR, g->n - n0);
      for (size_t j = 0; j < nn; j++) {
        size_t n = n0 + j;
        float y = epilogue(acc[j], g->scale, g->shift, n, g->act);
        if (g->res) y += g->res[m * g->ldr + n];
        g->c[m * g->ldc + n] = y;
      }
    }
  }
}

static void dwconv_scalar(const dynrt_dw_args *d) {
  dynrt__dw_check(d);
  const ptrdiff_t p = (ptrdiff_t)(d->k / 2), s = (ptrdiff_t)d->stride, k = (ptrdiff_t)d->k;
  const ptrdiff_t rs = (ptrdiff_t)d->in_rs, cs = (ptrdiff_t)d->in_cs;
  const size_t ow = (d->w - 1) / d->stride + 1;
  for (size_t oy = d->oy0; oy < d->oy1; oy++) {
    for (size_t ox = 0; ox < ow; ox++) {
      float *out = d->out + oy * d->out_rs + ox * d->out_cs;
      for (size_t c0 = 0; c0 < d->c; c0 += DW_CHUNK) {
        size_t cc = DYNRT_MIN(DW_CHUNK, d->c - c0);
        float acc[DW_CHUNK] = {0};
        for (ptrdiff_t ky = 0; ky < k; ky++)
          for (ptrdiff_t kx = 0; kx < k; kx++) {
            const float *x = d->in + ((ptrdiff_t)oy * s - p + ky) * rs +
                             ((ptrdiff_t)ox * s - p + kx) * cs + (ptrdiff_t)c0;
            const float *wt = d->wt + (size_t)(ky * k + kx) * d->wt_cs + c0;
            for (size_t j = 0; j < cc; j++) acc[j] += x[j] * wt[j];
          }
        for (size_t j = 0; j < cc; j++) {
          float y = epilogue(acc[j], d->scale, d->shift, c0 + j, d->act);
          out[c0 + j] = y;
          if (d->sum) d->sum[c0 + j] += y;
        }
      }
    }
  }
}

static void conv_scalar(const dynrt_conv_args *c) {
  dynrt__conv_check(c);
  const ptrdiff_t p = (ptrdiff_t)(c->k / 2), s = (ptrdiff_t)c->stride;
  const size_t taps = c->k * c->k, ow = (c->w - 1) / c->stride + 1;
  for (size_t oy = c->oy0; oy < c->oy1; oy++)
    for (size_t ox = 0; ox < ow; ox++)
      for (size_t n0 = 0; n0 < c->cout; n0 += DYNRT_NR) {
        const float *w = c->w_packed + (n0 / DYNRT_NR) * c->panel_stride;
        float acc[DYNRT_NR] = {0};
        for (size_t t = 0; t < taps; t++) {
          ptrdiff_t iy = (ptrdiff_t)oy * s - p + (ptrdiff_t)(t / c->k);
          ptrdiff_t ix = (ptrdiff_t)ox * s - p + (ptrdiff_t)(t % c->k);
          const float *x = c->in + iy * (ptrdiff_t)c->in_rs + ix * (ptrdiff_t)c->in_cs;
          for (size_t ci = 0; ci < c->cin; ci++) {
            const float *wr = w + (t * c->kmax_in + ci) * DYNRT_NR;
            for (size_t j = 0; j < DYNRT_NR; j++) acc[j] += x[ci] * wr[j];
          }
        }
        size_t nn = DYNRT_MIN(DYNRT_NR, c->cout - n0);
        for (size_t j = 0; j < nn; j++) {
          size_t n = n0 + j;
          float y = epilogue(acc[j], c->scale, c->shift, n, c->act);
          if (c->res) y += c->res[oy * c->res_rs + ox * c->res_cs + n];
          c->out[oy * c->out_rs + ox * c->out_cs + n] = y;
        }
      }
}

static void gap_scalar(size_t n, size_t channels, const float *in, size_t in_cs, float *out) {
  DYNRT_ASSERT(n >= 1 && in_cs >= channels);
  for (size_t c = 0; c < channels; c++) {
    float s = 0.0f;
    for (size_t p = 0; p < n; p++) s += in[p * in_cs + c];
    out[c] = s / (float)n;
  }
}

static void act_scalar(dynrt_act act, float *x, size_t n) {
  if (act == DYNRT_ACT_NONE) return;
  for (size_t i = 0; i < n; i++) x[i] = dynrt__act1(act, x[i]);
}

const dynrt_kernels dynrt__kernels_scalar = {
    "scalar", gemm_scalar, dwconv_scalar, conv_scalar, gap_scalar, act_scalar,
};

/*
 * test_kernels.c - every kernel table this CPU supports against the scalar reference, and
 * the scalar reference against direct formulas on unpacked PyTorch layouts, on generated
 * edge cases (unit sizes, vector tails, prefixes of one packed layer, channel strides wider
 * than the channels, row ranges, residuals in place, SE scales and sums, NaN). Inputs are
 * fresh each run: the seed comes from the clock unless DYNRT_TEST_SEED is set, and every
 * failure prints it.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "kernels/kernels.h"

#define SENTINEL -7777.0f
#define NACT 5

static uint64_t seed, rng_state;

static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1DULL;
}
static size_t rndu(size_t lo, size_t hi) { return lo + (size_t)(rnd() % (hi - lo + 1)); }
static float rndf(float lo, float hi) {
  return lo + (hi - lo) * (float)((rnd() >> 40) * (1.0 / 16777216.0));
}

static float *falloc(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof(float));
  assert_non_null(p);
  return p;
}
static float *frand(size_t n, float lo, float hi) {
  float *p = falloc(n);
  for (size_t i = 0; i < n; i++) p[i] = rndf(lo, hi);
  return p;
}
static float *fdup(const float *src, size_t n) {
  float *p = falloc(n);
  memcpy(p, src, (n ? n : 1) * sizeof(float));
  return p;
}
static float *fabsdup(const float *src, size_t n) {
  if (!src) return NULL;
  float *p = falloc(n);
  for (size_t i = 0; i < n; i++) p[i] = fabsf(src[i]);
  return p;
}
static void ffill(float *p, size_t n, float v) {
  for (size_t i = 0; i < n; i++) p[i] = v;
}

/* Tables to check against the scalar reference: those this CPU runs. */
static const char *const simd_names[] = {"avx2", "avx512", "neon"};
#define NSIMD (sizeof simd_names / sizeof simd_names[0])

/*
 * got vs ref over n values. mag[i] bounds the magnitude of the terms summed for ref[i]
 * (the same kernel on absolute values), so the tolerance scales with the cancellation the
 * sum went through: FMA contraction and reassociation change the rounding, nothing else.
 * A NaN must match a NaN; sentinels (never-written lanes) must match exactly.
 */
static void check_close(const char *what, const char *table, const float *got, const float *ref,
                        const float *mag, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float g = got[i], r = ref[i];
    int ok;
    if (isnan(r) || isnan(g))
      ok = isnan(r) && isnan(g);
    else if (r == SENTINEL || g == SENTINEL)
      ok = r == g;
    else
      ok = fabsf(g - r) <= 2e-5f * (fabsf(r) + (mag ? mag[i] : 0.0f)) + 1e-30f;
    if (!ok)
      fail_msg("%s [%s]: element %zu: got %.9g, reference %.9g (magnitude %.3g); "
               "rerun with DYNRT_TEST_SEED=%llu",
               what, table, i, (double)g, (double)r, mag ? (double)mag[i] : 0.0,
               (unsigned long long)seed);
  }
}

/* ------------------------------------------------------------------------------------ */
/* GEMM                                                                                  */

typedef struct gemm_case {
  size_t m, n, k, lda, ldc;
  int kscale, res, inplace, scale, shift, nan_a;
  dynrt_act act;
} gemm_case;

/* Runs one case on every SIMD table and on the reference, with w packed for nmax x kmax
 * (wsrc [nmax][kmax]) and reused as-is for the n x k prefix. */
static void gemm_run(const gemm_case *gc, const float *wp, size_t nmax, size_t kmax,
                     const char *what) {
  size_t m = gc->m, n = gc->n, k = gc->k, lda = gc->lda, ldc = gc->ldc;
  float *a = frand(m * lda, -1.0f, 1.0f);
  for (size_t i = 0; i < m; i++) ffill(a + i * lda + k, lda - k, NAN); /* don't-care lanes */
  if (gc->nan_a && k) a[rndu(0, m - 1) * lda + rndu(0, k - 1)] = NAN;
  float *ks = gc->kscale ? frand(k, -2.0f, 2.0f) : NULL;
  float *sc = gc->scale ? frand(nmax, -1.5f, 1.5f) : NULL;
  float *sh = gc->shift ? frand(nmax, -1.0f, 1.0f) : NULL;
  float *res = gc->res ? frand(m * ldc, -1.0f, 1.0f) : NULL;
  if (res)
    for (size_t i = 0; i < m; i++) ffill(res + i * ldc + n, ldc - n, SENTINEL);
  float *ref = falloc(m * ldc), *mag = falloc(m * ldc), *got = falloc(m * ldc);
  ffill(ref, m * ldc, SENTINEL);
  ffill(mag, m * ldc, 0.0f);

  dynrt_gemm_args g = {m,  n,  k,       a,   lda, ks,  wp, kmax * DYNRT_NR,
                       sc, sh, gc->act, res, ldc, ref, ldc};
  if (gc->inplace) {
    memcpy(ref, res, m * ldc * sizeof(float));
    g.res = ref;
  }
  dynrt__kernels_scalar.gemm(&g);

  /* Magnitude bound: the reference on absolute values, no activation. */
  float *aa = fabsdup(a, m * lda), *ak = fabsdup(ks, k), *asc = fabsdup(sc, nmax);
  float *ash = fabsdup(sh, nmax), *ares = fabsdup(res, m * ldc);
  float *awp = fabsdup(wp, dynrt__gemm_packed_size(nmax, kmax));
  dynrt_gemm_args gm = {m,    n,   k,   aa, lda, ak, awp, kmax * DYNRT_NR, asc, ash, DYNRT_ACT_NONE,
                        ares, ldc, mag, ldc};
  dynrt__kernels_scalar.gemm(&gm);

  for (size_t t = 0; t < NSIMD; t++) {
    const dynrt_kernels *tab = dynrt__kernels_by_name(simd_names[t]);
    if (!tab) continue;
    ffill(got, m * ldc, SENTINEL);
    dynrt_gemm_args g2 = g;
    g2.c = got;
    if (gc->inplace) {
      memcpy(got, res, m * ldc * sizeof(float));
      g2.res = got;
    }
    tab->gemm(&g2);
    check_close(what, tab->name, got, ref, mag, m * ldc);
  }
  free(a), free(ks), free(sc), free(sh), free(res), free(ref), free(mag), free(got);
  free(aa), free(ak), free(asc), free(ash), free(ares), free(awp);
}

static void gemm_random_case(gemm_case *gc, size_t m, size_t n, size_t k) {
  gc->m = m, gc->n = n, gc->k = k;
  gc->lda = k + (rnd() & 1 ? 0 : rndu(1, 20));
  gc->ldc = n + (rnd() & 1 ? 0 : rndu(1, 20));
  gc->kscale = rnd() % 3 == 0;
  gc->res = rnd() % 3 == 0;
  gc->inplace = gc->res && rnd() % 2;
  gc->scale = rnd() % 4 != 0;
  gc->shift = rnd() % 4 != 0;
  gc->nan_a = rnd() % 8 == 0;
  gc->act = (dynrt_act)rndu(0, NACT - 1);
}

static float *gemm_packed_random(size_t nmax, size_t kmax) {
  float *src = frand(nmax * kmax, -1.0f, 1.0f);
  float *wp = falloc(dynrt__gemm_packed_size(nmax, kmax));
  dynrt__gemm_pack(src, nmax, kmax, wp);
  free(src);
  return wp;
}

/* Unit sizes, vector tails, every tile remainder, and the layer shapes of the benchmark. */
static void test_gemm_shapes(void **state) {
  (void)state;
  static const size_t shapes[][3] = {
      {1, 1, 1},    {1, 16, 1},   {1, 17, 3},    {1, 33, 7},    {1, 64, 0},    {1, 200, 97},
      {2, 1, 1},    {3, 15, 2},   {4, 31, 5},    {5, 32, 1},    {6, 48, 9},    {7, 49, 4},
      {8, 8, 8},    {9, 65, 17},  {13, 1, 30},   {16, 160, 96}, {17, 40, 24},  {24, 24, 144},
      {33, 70, 33}, {64, 96, 80}, {100, 24, 72}, {256, 40, 48}, {1, 1280, 960}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    size_t m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
    float *wp = gemm_packed_random(n, k);
    for (int act = 0; act < NACT; act++) {
      gemm_case gc;
      gemm_random_case(&gc, m, n, k);
      gc.act = (dynrt_act)act;
      char what[96];
      snprintf(what, sizeof what, "gemm m=%zu n=%zu k=%zu act=%d", m, n, k, act);
      gemm_run(&gc, wp, n, k, what);
    }
    free(wp);
  }
}

/* Every n x k prefix of one packed 48 x 20 layer, straight from the same buffer. */
static void test_gemm_prefixes(void **state) {
  (void)state;
  const size_t nmax = 48, kmax = 20;
  float *wp = gemm_packed_random(nmax, kmax);
  for (size_t n = 1; n <= nmax; n++)
    for (size_t k = 1; k <= kmax; k++) {
      gemm_case gc;
      gemm_random_case(&gc, rndu(1, 19), n, k);
      char what[96];
      snprintf(what, sizeof what, "gemm prefix m=%zu n=%zu/%zu k=%zu/%zu", gc.m, n, nmax, k, kmax);
      gemm_run(&gc, wp, nmax, kmax, what);
    }
  free(wp);
}

/* Weights past the used prefix are never read: poison them with NaN. */
static void test_gemm_prefix_poison(void **state) {
  (void)state;
  const size_t nmax = 70, kmax = 40;
  for (int rep = 0; rep < 20; rep++) {
    size_t n = rndu(1, nmax), k = rndu(1, kmax);
    float *wp = gemm_packed_random(nmax, kmax);
    for (size_t p = 0; p < DYNRT_DIV_UP(nmax, DYNRT_NR); p++)
      for (size_t kk = 0; kk < kmax; kk++)
        if (kk >= k || p >= DYNRT_DIV_UP(n, DYNRT_NR)) ffill(wp + (p * kmax + kk) * 16, 16, NAN);
    gemm_case gc;
    gemm_random_case(&gc, rndu(1, 20), n, k);
    gc.nan_a = 0;
    gemm_run(&gc, wp, nmax, kmax, "gemm poisoned prefix");
    /* The reference output must be finite, or the poison leaked into it. */
    free(wp);
  }
}

/* A NaN in A poisons exactly its output row, under every activation, on every table. */
static void test_gemm_nan_rows(void **state) {
  (void)state;
  const size_t m = 11, n = 37, k = 13;
  float *wp = gemm_packed_random(n, k);
  float *a = frand(m * k, -1.0f, 1.0f), *c = falloc(m * n);
  a[5 * k + 7] = NAN;
  const dynrt_kernels *tabs[] = {&dynrt__kernels_scalar, dynrt__kernels_by_name("avx2"),
                                 dynrt__kernels_by_name("avx512"), dynrt__kernels_by_name("neon")};
  for (size_t t = 0; t < sizeof tabs / sizeof tabs[0]; t++) {
    if (!tabs[t]) continue;
    for (int act = 0; act < NACT; act++) {
      dynrt_gemm_args g = {m,    n, k, a, k, NULL, wp, k * 16, NULL, NULL, (dynrt_act)act,
                           NULL, 0, c, n};
      tabs[t]->gemm(&g);
      for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
          if (!!isnan(c[i * n + j]) != (i == 5))
            fail_msg("gemm NaN [%s] act %d: c[%zu][%zu] = %g", tabs[t]->name, act, i, j,
                     (double)c[i * n + j]);
    }
  }
  free(wp), free(a), free(c);
}

/* The scalar reference against C = A diag(s) W^T from the unpacked [N][K] weights. */
static void test_gemm_scalar_direct(void **state) {
  (void)state;
  const size_t m = 7, n = 35, k = 19;
  float *src = frand(n * k, -1.0f, 1.0f), *a = frand(m * k, -1.0f, 1.0f);
  float *s = frand(k, -1.0f, 1.0f), *sc = frand(n, -1.0f, 1.0f), *sh = frand(n, -1.0f, 1.0f);
  float *res = frand(m * n, -1.0f, 1.0f), *c = falloc(m * n);
  float *wp = falloc(dynrt__gemm_packed_size(n, k));
  dynrt__gemm_pack(src, n, k, wp);
  for (int act = 0; act < NACT; act++) {
    dynrt_gemm_args g = {m, n, k, a, k, s, wp, k * 16, sc, sh, (dynrt_act)act, res, n, c, n};
    dynrt__kernels_scalar.gemm(&g);
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < n; j++) {
        double acc = 0.0, mag = 0.0;
        for (size_t kk = 0; kk < k; kk++) {
          acc += (double)a[i * k + kk] * s[kk] * src[j * k + kk];
          mag += fabs((double)a[i * k + kk] * s[kk] * src[j * k + kk]);
        }
        double y = dynrt__act1((dynrt_act)act, (float)(acc * sc[j] + sh[j])) + res[i * n + j];
        assert_float_equal(c[i * n + j], y, 1e-5 * (mag + 2.0));
      }
  }
  free(src), free(a), free(s), free(sc), free(sh), free(res), free(c), free(wp);
}

/* ------------------------------------------------------------------------------------ */
/* Depthwise                                                                             */

/* A zero-bordered NHWC buffer: interior random, border zero, lanes past c NaN. */
typedef struct img {
  float *base, *in;
  size_t h, w, c, cs, border, rs, total;
} img;

static img img_make(size_t h, size_t w, size_t c, size_t cs, size_t border) {
  img im = {0};
  im.h = h, im.w = w, im.c = c, im.cs = cs, im.border = border;
  im.rs = (w + 2 * border) * cs;
  im.total = (h + 2 * border) * im.rs;
  im.base = falloc(im.total);
  for (size_t y = 0; y < h + 2 * border; y++)
    for (size_t x = 0; x < w + 2 * border; x++) {
      float *px = im.base + y * im.rs + x * cs;
      int inside = y >= border && y < h + border && x >= border && x < w + border;
      for (size_t ch = 0; ch < cs; ch++) px[ch] = ch >= c ? NAN : inside ? rndf(-1, 1) : 0.0f;
    }
  im.in = im.base + border * im.rs + border * cs;
  return im;
}

static void dw_run(size_t h, size_t w, size_t c, size_t k, size_t stride, int nan_in,
                   const char *what) {
  size_t in_cs = c + (rnd() & 1 ? 0 : rndu(1, 19)), wt_cs = c + (rnd() & 1 ? 0 : rndu(1, 17));
  size_t out_cs = c + (rnd() & 1 ? 0 : rndu(1, 21));
  img im = img_make(h, w, c, in_cs, k / 2);
  if (nan_in) im.in[rndu(0, h - 1) * im.rs + rndu(0, w - 1) * in_cs + rndu(0, c - 1)] = NAN;
  float *src = frand(c * k * k, -1.0f, 1.0f), *wt = falloc(k * k * wt_cs);
  dynrt__dw_pack(src, c, k, wt, wt_cs);
  size_t oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1, out_rs = ow * out_cs;
  size_t oy0 = rnd() % 3 ? 0 : rndu(0, oh - 1), oy1 = rnd() % 3 ? oh : rndu(oy0, oh);
  float *sc = rnd() % 4 ? frand(c, -1.5f, 1.5f) : NULL, *sh = rnd() % 4 ? frand(c, -1, 1) : NULL;
  int use_sum = rnd() % 2;
  float *sum0 = frand(c, -1.0f, 1.0f);
  float *ref = falloc(oh * out_rs), *got = falloc(oh * out_rs), *mag = falloc(oh * out_rs);
  float *sref = fdup(sum0, c), *sgot = falloc(c), *smag = falloc(c);
  dynrt_act act = (dynrt_act)rndu(0, NACT - 1);
  ffill(ref, oh * out_rs, SENTINEL);
  dynrt_dw_args d = {h,
                     w,
                     c,
                     k,
                     stride,
                     im.in,
                     im.rs,
                     in_cs,
                     wt,
                     wt_cs,
                     sc,
                     sh,
                     act,
                     ref,
                     out_rs,
                     out_cs,
                     oy0,
                     oy1,
                     use_sum ? sref : NULL};
  dynrt__kernels_scalar.dwconv(&d);

  /* Magnitudes: absolute inputs, weights, scale and shift; the sum's bound is their sum. */
  float *abase = fabsdup(im.base, im.total), *awt = fabsdup(wt, k * k * wt_cs);
  float *asc = fabsdup(sc, c), *ash = fabsdup(sh, c);
  ffill(mag, oh * out_rs, 0.0f);
  ffill(smag, c, 0.0f);
  dynrt_dw_args dm = d;
  dm.in = abase + (im.in - im.base), dm.wt = awt, dm.scale = asc, dm.shift = ash;
  dm.act = DYNRT_ACT_NONE, dm.out = mag, dm.sum = smag;
  dynrt__kernels_scalar.dwconv(&dm);
  for (size_t ch = 0; ch < c; ch++) smag[ch] = 2.0f * smag[ch] + fabsf(sum0[ch]);

  for (size_t t = 0; t < NSIMD; t++) {
    const dynrt_kernels *tab = dynrt__kernels_by_name(simd_names[t]);
    if (!tab) continue;
    ffill(got, oh * out_rs, SENTINEL);
    memcpy(sgot, sum0, c * sizeof(float));
    dynrt_dw_args d2 = d;
    d2.out = got, d2.sum = use_sum ? sgot : NULL;
    tab->dwconv(&d2);
    check_close(what, tab->name, got, ref, mag, oh * out_rs);
    if (use_sum) check_close(what, tab->name, sgot, sref, smag, c);
  }
  free(im.base), free(src), free(wt), free(sc), free(sh), free(sum0), free(ref), free(got);
  free(mag), free(sref), free(sgot), free(smag), free(abase), free(awt), free(asc), free(ash);
}

static void test_dw_shapes(void **state) {
  (void)state;
  static const size_t hw[][2] = {{1, 1}, {1, 5}, {2, 2},  {3, 7},   {4, 4},   {5, 3},
                                 {7, 7}, {8, 8}, {9, 13}, {12, 17}, {16, 16}, {32, 32}};
  static const size_t cs[] = {1, 3, 8, 15, 16, 17, 24, 33, 48};
  for (size_t k = 3; k <= 7; k += 2)
    for (size_t s = 1; s <= 2; s++) {
      for (size_t i = 0; i < sizeof hw / sizeof hw[0]; i++) {
        size_t c = cs[rnd() % (sizeof cs / sizeof cs[0])];
        char what[96];
        snprintf(what, sizeof what, "dw k=%zu s=%zu %zux%zux%zu", k, s, hw[i][0], hw[i][1], c);
        dw_run(hw[i][0], hw[i][1], c, k, s, rnd() % 6 == 0, what);
      }
      char what[96];
      snprintf(what, sizeof what, "dw k=%zu s=%zu 112x112x16", k, s);
      dw_run(112, 112, 16, k, s, 0, what);
      snprintf(what, sizeof what, "dw k=%zu s=%zu 4x4x480", k, s);
      dw_run(4, 4, 480, k, s, 1, what);
    }
}

/* The scalar reference against the PyTorch formula on the unpacked [C][1][k][k] weights. */
static void test_dw_scalar_direct(void **state) {
  (void)state;
  for (size_t k = 3; k <= 7; k += 2)
    for (size_t s = 1; s <= 2; s++) {
      size_t h = 6, w = 5, c = 5, p = k / 2;
      img im = img_make(h, w, c, c, p);
      float *src = frand(c * k * k, -1, 1), *wt = falloc(k * k * c), *out = falloc(h * w * c);
      dynrt__dw_pack(src, c, k, wt, c);
      size_t oh = (h - 1) / s + 1, ow = (w - 1) / s + 1;
      dynrt_dw_args d = {h,   w,      c, k, s,  im.in, im.rs, c, wt, c, NULL, NULL, DYNRT_ACT_NONE,
                         out, ow * c, c, 0, oh, NULL};
      dynrt__kernels_scalar.dwconv(&d);
      for (size_t oy = 0; oy < oh; oy++)
        for (size_t ox = 0; ox < ow; ox++)
          for (size_t ch = 0; ch < c; ch++) {
            double acc = 0.0;
            for (size_t ky = 0; ky < k; ky++)
              for (size_t kx = 0; kx < k; kx++) {
                ptrdiff_t iy = (ptrdiff_t)(oy * s + ky) - (ptrdiff_t)p;
                ptrdiff_t ix = (ptrdiff_t)(ox * s + kx) - (ptrdiff_t)p;
                if (iy < 0 || ix < 0 || iy >= (ptrdiff_t)h || ix >= (ptrdiff_t)w) continue;
                acc += (double)im.in[iy * (ptrdiff_t)im.rs + ix * (ptrdiff_t)c + (ptrdiff_t)ch] *
                       src[(ch * k + ky) * k + kx];
              }
            assert_float_equal(out[(oy * ow + ox) * c + ch], acc, 1e-5);
          }
      free(im.base), free(src), free(wt), free(out);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Dense convolution                                                                     */

static void conv_run(size_t h, size_t w, size_t cin, size_t kmax_in, size_t cout, size_t nmax,
                     size_t k, size_t stride, const char *what) {
  size_t in_cs = cin + (rnd() & 1 ? 0 : rndu(1, 9)), out_cs = cout + (rnd() & 1 ? 0 : rndu(1, 9));
  img im = img_make(h, w, cin, in_cs, k / 2);
  if (rnd() % 6 == 0)
    im.in[rndu(0, h - 1) * im.rs + rndu(0, w - 1) * in_cs + rndu(0, cin - 1)] = NAN;
  float *src = frand(nmax * kmax_in * k * k, -1.0f, 1.0f);
  size_t psize = dynrt__conv_packed_size(nmax, kmax_in, k);
  float *wp = falloc(psize);
  dynrt__conv_pack(src, nmax, kmax_in, k, wp);
  size_t oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1, out_rs = ow * out_cs;
  size_t oy0 = rnd() % 3 ? 0 : rndu(0, oh - 1), oy1 = rnd() % 3 ? oh : rndu(oy0, oh);
  float *sc = rnd() % 4 ? frand(nmax, -1.5f, 1.5f) : NULL,
        *sh = rnd() % 4 ? frand(nmax, -1, 1) : NULL;
  float *res = rnd() % 2 ? frand(oh * out_rs, -1.0f, 1.0f) : NULL;
  float *ref = falloc(oh * out_rs), *got = falloc(oh * out_rs), *mag = falloc(oh * out_rs);
  dynrt_act act = (dynrt_act)rndu(0, NACT - 1);
  int inplace = res && rnd() % 2;
  ffill(ref, oh * out_rs, SENTINEL);
  if (inplace) memcpy(ref, res, oh * out_rs * sizeof(float));
  dynrt_conv_args cv = {
      h,  w,  cin, cout, k,      stride, im.in, im.rs,  in_cs,  wp,  kmax_in, k * k * kmax_in * 16,
      sc, sh, act, res,  out_rs, out_cs, ref,   out_rs, out_cs, oy0, oy1};
  if (inplace) cv.res = ref;
  dynrt__kernels_scalar.conv(&cv);
  cv.res = res;

  float *abase = fabsdup(im.base, im.total), *awp = fabsdup(wp, psize);
  float *asc = fabsdup(sc, nmax), *ash = fabsdup(sh, nmax), *ares = fabsdup(res, oh * out_rs);
  ffill(mag, oh * out_rs, 0.0f);
  dynrt_conv_args cm = cv;
  cm.in = abase + (im.in - im.base), cm.w_packed = awp, cm.scale = asc, cm.shift = ash;
  cm.res = ares, cm.act = DYNRT_ACT_NONE, cm.out = mag;
  dynrt__kernels_scalar.conv(&cm);

  for (size_t t = 0; t < NSIMD; t++) {
    const dynrt_kernels *tab = dynrt__kernels_by_name(simd_names[t]);
    if (!tab) continue;
    ffill(got, oh * out_rs, SENTINEL);
    dynrt_conv_args c2 = cv;
    c2.out = got;
    if (inplace) {
      memcpy(got, res, oh * out_rs * sizeof(float));
      c2.res = got;
    }
    tab->conv(&c2);
    check_close(what, tab->name, got, ref, mag, oh * out_rs);
  }
  free(im.base), free(src), free(wp), free(sc), free(sh), free(res), free(ref), free(got);
  free(mag), free(abase), free(awp), free(asc), free(ash), free(ares);
}

static void test_conv_stem(void **state) {
  (void)state;
  static const size_t hw[][2] = {{1, 1}, {3, 5}, {8, 8}, {9, 11}, {32, 32}, {33, 17}};
  static const size_t couts[] = {1, 8, 16, 24, 32, 40};
  for (size_t s = 1; s <= 2; s++)
    for (size_t i = 0; i < sizeof hw / sizeof hw[0]; i++)
      for (size_t j = 0; j < sizeof couts / sizeof couts[0]; j++) {
        size_t nmax = couts[j] + (rnd() & 1 ? 0 : rndu(1, 24)); /* a prefix of a wider stem */
        char what[96];
        snprintf(what, sizeof what, "conv stem s=%zu %zux%zu cout=%zu/%zu", s, hw[i][0], hw[i][1],
                 couts[j], nmax);
        conv_run(hw[i][0], hw[i][1], 3, 3, couts[j], nmax, 3, s, what);
      }
}

static void test_conv_general(void **state) {
  (void)state;
  static const size_t ks[] = {1, 3, 5, 1, 3, 5, 2, 4, 7};
  for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
    for (int rep = 0; rep < 6; rep++) {
      size_t k = ks[i], s = rndu(1, 2), h = rndu(1, 14), w = rndu(1, 14);
      size_t kmax = rndu(1, 40), cin = rndu(1, kmax), nmax = rndu(1, 50), cout = rndu(1, nmax);
      char what[128];
      snprintf(what, sizeof what, "conv k=%zu s=%zu %zux%zu cin=%zu/%zu cout=%zu/%zu", k, s, h, w,
               cin, kmax, cout, nmax);
      conv_run(h, w, cin, kmax, cout, nmax, k, s, what);
    }
}

/* The scalar reference against the PyTorch formula on the unpacked OIHW weights. */
static void test_conv_scalar_direct(void **state) {
  (void)state;
  const size_t h = 5, w = 6, cin = 3, cout = 18;
  for (size_t k = 1; k <= 5; k += 2)
    for (size_t s = 1; s <= 2; s++) {
      size_t p = k / 2, oh = (h - 1) / s + 1, ow = (w - 1) / s + 1;
      img im = img_make(h, w, cin, cin, p);
      float *src = frand(cout * cin * k * k, -1, 1), *out = falloc(oh * ow * cout);
      float *wp = falloc(dynrt__conv_packed_size(cout, cin, k));
      dynrt__conv_pack(src, cout, cin, k, wp);
      dynrt_conv_args cv = {h,     w,         cin,
                            cout,  k,         s,
                            im.in, im.rs,     cin,
                            wp,    cin,       k * k * cin * 16,
                            NULL,  NULL,      DYNRT_ACT_NONE,
                            NULL,  0,         0,
                            out,   ow * cout, cout,
                            0,     oh};
      dynrt__kernels_scalar.conv(&cv);
      for (size_t oy = 0; oy < oh; oy++)
        for (size_t ox = 0; ox < ow; ox++)
          for (size_t n = 0; n < cout; n++) {
            double acc = 0.0;
            for (size_t ci = 0; ci < cin; ci++)
              for (size_t ky = 0; ky < k; ky++)
                for (size_t kx = 0; kx < k; kx++) {
                  ptrdiff_t iy = (ptrdiff_t)(oy * s + ky) - (ptrdiff_t)p;
                  ptrdiff_t ix = (ptrdiff_t)(ox * s + kx) - (ptrdiff_t)p;
                  if (iy < 0 || ix < 0 || iy >= (ptrdiff_t)h || ix >= (ptrdiff_t)w) continue;
                  acc +=
                      (double)im.in[iy * (ptrdiff_t)im.rs + ix * (ptrdiff_t)cin + (ptrdiff_t)ci] *
                      src[((n * cin + ci) * k + ky) * k + kx];
                }
            assert_float_equal(out[(oy * ow + ox) * cout + n], acc, 1e-5);
          }
      free(im.base), free(src), free(out), free(wp);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Pooling, activation, packing layout, helpers                                          */

static void test_gap_act(void **state) {
  (void)state;
  static const size_t chans[] = {1, 7, 16, 17, 63, 64, 65, 960};
  const dynrt_kernels *tabs[] = {dynrt__kernels_by_name("avx2"), dynrt__kernels_by_name("avx512"),
                                 dynrt__kernels_by_name("neon")};
  for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
    size_t c = chans[i], cs = c + rndu(0, 5), n = rndu(1, 70);
    float *in = frand(n * cs, -1.0f, 1.0f), *ref = falloc(c), *got = falloc(c);
    float *ain = fabsdup(in, n * cs), *mag = falloc(c);
    for (size_t p = 0; p < n; p++) ffill(in + p * cs + c, cs - c, NAN);
    if (rnd() % 3 == 0) in[rndu(0, n - 1) * cs + rndu(0, c - 1)] = NAN;
    dynrt__kernels_scalar.gap(n, c, in, cs, ref);
    dynrt__kernels_scalar.gap(n, c, ain, cs, mag);
    for (size_t t = 0; t < sizeof tabs / sizeof tabs[0]; t++) {
      if (!tabs[t]) continue;
      tabs[t]->gap(n, c, in, cs, got);
      check_close("gap", tabs[t]->name, got, ref, mag, c);
    }
    for (int act = 0; act < NACT; act++) {
      float *x = frand(c, -8.0f, 8.0f);
      x[rndu(0, c - 1)] = NAN;
      float *xr = fdup(x, c);
      dynrt__kernels_scalar.act((dynrt_act)act, xr, c);
      for (size_t j = 0; j < c; j++) {
        float want = dynrt__act1((dynrt_act)act, x[j]);
        assert_true(isnan(want) ? isnan(xr[j]) : xr[j] == want);
      }
      for (size_t t = 0; t < sizeof tabs / sizeof tabs[0]; t++) {
        if (!tabs[t]) continue;
        float *xs = falloc(c + 1);
        memcpy(xs, x, c * sizeof(float));
        xs[c] = SENTINEL; /* one past n: never written */
        tabs[t]->act((dynrt_act)act, xs, c);
        check_close("act", tabs[t]->name, xs, xr, NULL, c);
        assert_true(xs[c] == SENTINEL);
        free(xs);
      }
      free(x), free(xr);
    }
    free(in), free(ref), free(got), free(ain), free(mag);
  }
}

static void test_act1(void **state) {
  (void)state;
  assert_true(dynrt__act1(DYNRT_ACT_RELU, -2.0f) == 0.0f);
  assert_true(dynrt__act1(DYNRT_ACT_RELU, 2.5f) == 2.5f);
  assert_true(dynrt__act1(DYNRT_ACT_RELU6, 7.0f) == 6.0f);
  assert_true(dynrt__act1(DYNRT_ACT_RELU6, -1.0f) == 0.0f);
  assert_true(dynrt__act1(DYNRT_ACT_HSWISH, -3.0f) == 0.0f);
  assert_true(dynrt__act1(DYNRT_ACT_HSWISH, 3.0f) == 3.0f);
  assert_float_equal(dynrt__act1(DYNRT_ACT_HSWISH, 1.0f), 4.0 / 6.0, 1e-7);
  assert_float_equal(dynrt__act1(DYNRT_ACT_HSIGMOID, 0.0f), 0.5, 1e-7);
  assert_true(dynrt__act1(DYNRT_ACT_HSIGMOID, 10.0f) == 1.0f);
  assert_true(dynrt__act1(DYNRT_ACT_NONE, -5.0f) == -5.0f);
  for (int act = 0; act < NACT; act++) assert_true(isnan(dynrt__act1((dynrt_act)act, NAN)));
}

static void test_pack_layouts(void **state) {
  (void)state;
  const size_t nmax = 21, kmax = 3, k = 3, c = 5, dcs = 8;
  float src[21 * 3 * 9];
  for (size_t i = 0; i < sizeof src / sizeof src[0]; i++) src[i] = (float)(i + 1);
  /* GEMM: element (k, n) at w[(n/16)*Kmax*16 + k*16 + n%16], zero past Nmax. */
  assert_int_equal(dynrt__gemm_packed_size(nmax, kmax), 2 * kmax * 16);
  float g[2 * 3 * 16];
  dynrt__gemm_pack(src, nmax, kmax, g);
  for (size_t n = 0; n < 32; n++)
    for (size_t kk = 0; kk < kmax; kk++) {
      float want = n < nmax ? src[n * kmax + kk] : 0.0f;
      assert_true(g[(n / 16) * kmax * 16 + kk * 16 + n % 16] == want);
    }
  /* Conv: (tap t, ci, n) at w[(n/16)*k*k*Kmax*16 + (t*Kmax + ci)*16 + n%16]. */
  assert_int_equal(dynrt__conv_packed_size(nmax, kmax, k), 2 * 9 * kmax * 16);
  float cw[2 * 9 * 3 * 16];
  dynrt__conv_pack(src, nmax, kmax, k, cw);
  for (size_t n = 0; n < 32; n++)
    for (size_t ci = 0; ci < kmax; ci++)
      for (size_t t = 0; t < 9; t++) {
        float want = n < nmax ? src[(n * kmax + ci) * 9 + t] : 0.0f;
        assert_true(cw[(n / 16) * 9 * kmax * 16 + (t * kmax + ci) * 16 + n % 16] == want);
      }
  /* Depthwise: tap t of channel ch at dst[t*dst_cs + ch], lanes past c zero. */
  float dw[9 * 8];
  ffill(dw, 72, NAN);
  dynrt__dw_pack(src, c, k, dw, dcs);
  for (size_t t = 0; t < 9; t++)
    for (size_t ch = 0; ch < dcs; ch++)
      assert_true(dw[t * dcs + ch] == (ch < c ? src[ch * 9 + t] : 0.0f));
}

static void test_softmax_topk(void **state) {
  (void)state;
  float logits[6] = {1.0f, 3.0f, 3.0f, -1000.0f, 1000.0f, 2.0f}, p[6];
  dynrt__softmax(logits, 6, p);
  double sum = 0;
  for (int i = 0; i < 6; i++) {
    assert_true(p[i] >= 0.0f && p[i] <= 1.0f);
    sum += p[i];
  }
  assert_float_equal(sum, 1.0, 1e-6);
  assert_float_equal(p[4], 1.0, 1e-6); /* no overflow at 1000 */
  float small[3] = {0.0f, (float)log(2.0), (float)log(3.0)};
  dynrt__softmax(small, 3, p);
  assert_float_equal(p[0], 1.0 / 6, 1e-6);
  assert_float_equal(p[2], 3.0 / 6, 1e-6);

  size_t idx[6];
  dynrt__topk(logits, 6, 4, idx);
  assert_int_equal(idx[0], 4);
  assert_int_equal(idx[1], 1); /* tie 3.0 at 1 and 2: lower index first */
  assert_int_equal(idx[2], 2);
  assert_int_equal(idx[3], 5);
  float withnan[5] = {NAN, 0.5f, NAN, -1.0f, 0.5f};
  dynrt__topk(withnan, 5, 5, idx);
  assert_int_equal(idx[0], 1);
  assert_int_equal(idx[1], 4);
  assert_int_equal(idx[2], 3);
  assert_true(isnan(withnan[idx[3]]) && isnan(withnan[idx[4]]));
  dynrt__topk(withnan, 5, 1, idx);
  assert_int_equal(idx[0], 1);
}

/* Which tables run here: the selection picks one the CPU supports, and scalar is forced by
 * name. */
static void test_tables(void **state) {
  (void)state;
  const dynrt_kernels *t = dynrt__kernels();
  assert_non_null(t);
  assert_ptr_equal(dynrt__kernels_by_name(t->name), t);
  assert_ptr_equal(dynrt__kernels_by_name("scalar"), &dynrt__kernels_scalar);
  assert_null(dynrt__kernels_by_name("sse9"));
  assert_null(dynrt__kernels_by_name(NULL));
  for (size_t i = 0; i < NSIMD; i++)
    print_message("kernels: %s %s\n", simd_names[i],
                  dynrt__kernels_by_name(simd_names[i]) ? "tested" : "not supported here");
}

int main(void) {
  const char *env = getenv("DYNRT_TEST_SEED");
  seed = env && *env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)clock();
  rng_state = seed ? seed : 0x9E3779B97F4A7C15ULL;
  print_message("test_kernels: DYNRT_TEST_SEED=%llu\n", (unsigned long long)seed);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tables),
      cmocka_unit_test(test_act1),
      cmocka_unit_test(test_pack_layouts),
      cmocka_unit_test(test_softmax_topk),
      cmocka_unit_test(test_gemm_scalar_direct),
      cmocka_unit_test(test_gemm_shapes),
      cmocka_unit_test(test_gemm_prefixes),
      cmocka_unit_test(test_gemm_prefix_poison),
      cmocka_unit_test(test_gemm_nan_rows),
      cmocka_unit_test(test_dw_scalar_direct),
      cmocka_unit_test(test_dw_shapes),
      cmocka_unit_test(test_conv_scalar_direct),
      cmocka_unit_test(test_conv_stem),
      cmocka_unit_test(test_conv_general),
      cmocka_unit_test(test_gap_act),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

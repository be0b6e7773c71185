/*
 * calib.c - a batch executor of the super-network for the offline stage: BatchNorm
 * recalibration (training-mode statistics per sub-network, as Once-for-All's
 * set_running_statistics) and single-block runs for the latency table. It reads the
 * engine's packed weights and calls the same kernel table as the engine, with the same
 * layouts (NHWC, 16-rounded channel strides, zero-bordered depthwise inputs), so a block
 * timed here costs what it costs inside a session. It must not be used for inference
 * (the engine does that) and never touches a session.
 */
#include <math.h>
#include <string.h>

#include "engine/engine_int.h"
#include "offline/offline_int.h"

#define BORDER 3

struct dynrt__exec {
  const dynrt_model *m;
  const dynrt_kernels *kern;
  size_t batch, cap; /* images; floats per image slot of every activation buffer */
  float *in, *s, *x, *y, *e, *d;
  float *act;             /* the one block in, s, x, y, e, d are carved from */
  float *pool, *hid, *sc; /* [batch][mid_max rounded] */
  size_t se_cap;
  float *gap, *mix, *logits;
  float *tmp; /* one preprocessed image [rmax][rmax][3] */
  /* training mode (calibration) */
  int train;
  double *sum_mean, *sum_var; /* [DYNRT__BN_MAX * cmax] by running channel offset */
  size_t acc_cap, off;
  double *bmean, *bvar;
  /* inference mode (timing): geometry whose border is zero in e / s, as the engine zeroes
   * borders only when the resolution changes */
  size_t e_geom, s_geom, in_geom;
};

/* Zeroes a bordered buffer's border unless inference mode already did for this geometry. */
static int need_zero(dynrt__exec *x, size_t *geom, int h, size_t cs) {
  size_t g = (size_t)h * 100000u + cs;
  if (!x->train && *geom == g) return 0;
  *geom = x->train ? 0 : g;
  return 1;
}

static size_t cs16(int c) { return DYNRT_ROUND_UP((size_t)c, 16); }
static size_t sq(int h) { return (size_t)h * (size_t)h; }
static size_t bsq(int h) { return sq(h + 2 * BORDER); }

static void zero_border(float *base, int h, size_t cs) {
  size_t side = (size_t)(h + 2 * BORDER), rs = side * cs;
  memset(base, 0, BORDER * rs * sizeof(float));
  memset(base + (size_t)(BORDER + h) * rs, 0, BORDER * rs * sizeof(float));
  for (int yy = BORDER; yy < BORDER + h; yy++) {
    float *row = base + (size_t)yy * rs;
    memset(row, 0, BORDER * cs * sizeof(float));
    memset(row + (size_t)(BORDER + h) * cs, 0, BORDER * cs * sizeof(float));
  }
}

static float *interior(float *base, int h, size_t cs) {
  return base + (size_t)BORDER * (size_t)(h + 2 * BORDER) * cs + BORDER * cs;
}

void dynrt__exec_destroy(dynrt__exec *x) {
  if (!x) return;
  float *bufs[] = {x->act, x->pool, x->hid, x->sc, x->gap, x->mix, x->logits, x->tmp};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) dynrt__free(bufs[i]);
  dynrt__free(x->sum_mean);
  dynrt__free(x->sum_var);
  dynrt__free(x->bmean);
  dynrt__free(x->bvar);
  dynrt__free(x);
}

dynrt_status dynrt__exec_create(const dynrt_model *m, size_t batch, dynrt__exec **out) {
  *out = NULL;
  const dynrt__arch *a = &m->arch;
  dynrt__exec *x = dynrt__calloc(1, sizeof *x);
  if (!x) return DYNRT_ERR_NOMEM;
  x->m = m;
  x->kern = dynrt__kernels();
  x->batch = batch ? batch : 1;
  /* the largest tensor of any sub-network, at the largest resolution and widths */
  int r = a->res[a->n_res - 1];
  size_t cap = bsq(r) * 3;
  int h = dynrt__conv_out(r, a->stem_kernel, a->stem_stride);
  cap = DYNRT_MAX(cap, bsq(h) * cs16(a->stem_out));
  h = dynrt__conv_out(h, a->first_kernel, a->first_stride);
  cap = DYNRT_MAX(cap, sq(h) * cs16(DYNRT_MAX(a->stem_out, a->first_out)));
  size_t se = 16, cmax = (size_t)DYNRT_MAX(a->stem_out, a->final_expand);
  for (int b = 0; b < a->n_blocks; b++) {
    const dynrt__block *bl = &a->blocks[b];
    cap = DYNRT_MAX(cap, bsq(h) * cs16(bl->mid_max));
    h = dynrt__conv_out(h, 3, bl->stride);
    cap = DYNRT_MAX(cap, sq(h) * cs16(DYNRT_MAX(bl->mid_max, bl->cout_max)));
    se = DYNRT_MAX(se, cs16(bl->mid_max));
    cmax = DYNRT_MAX(cmax, (size_t)bl->mid_max);
  }
  cap = DYNRT_MAX(cap, sq(h) * cs16(a->final_expand));
  x->cap = cap;
  x->se_cap = se;
  size_t n = x->batch * cap;
  /* One block, the six buffers starting at different offsets modulo 4 KiB (0, 512, ...,
   * 2560 bytes): separately allocated large buffers all start at the same page offset,
   * and a kernel reading one while writing another then stalls on 4K aliasing - it made
   * this executor ~15 % slower than the engine's arena. */
  size_t start[6], at = 0;
  for (int i = 0; i < 6; i++) {
    size_t want = (size_t)i * 128u; /* floats: 512 bytes apart modulo 4096 */
    at = DYNRT_ROUND_UP(at, 16);
    at += (want + 1024u - at % 1024u) % 1024u;
    start[i] = at;
    at += n;
  }
  x->act = dynrt__aligned_alloc(at * sizeof(float), 4096);
  if (x->act) {
    memset(x->act, 0, at * sizeof(float));
    x->in = x->act + start[0];
    x->s = x->act + start[1];
    x->x = x->act + start[2];
    x->y = x->act + start[3];
    x->e = x->act + start[4];
    x->d = x->act + start[5];
  }
  x->pool = dynrt__calloc(x->batch * se, sizeof(float));
  x->hid = dynrt__calloc(x->batch * se, sizeof(float));
  x->sc = dynrt__calloc(x->batch * se, sizeof(float));
  x->gap = dynrt__calloc(cs16(a->final_expand), sizeof(float));
  x->mix = dynrt__calloc(cs16(a->feature_mix), sizeof(float));
  x->logits = dynrt__calloc(cs16(a->num_classes), sizeof(float));
  x->tmp = dynrt__calloc(sq(r) * 3, sizeof(float));
  x->acc_cap = (size_t)DYNRT__BN_MAX * cmax;
  x->sum_mean = dynrt__calloc(x->acc_cap, sizeof(double));
  x->sum_var = dynrt__calloc(x->acc_cap, sizeof(double));
  x->bmean = dynrt__calloc(cmax, sizeof(double));
  x->bvar = dynrt__calloc(cmax, sizeof(double));
  if (!x->act || !x->pool || !x->hid || !x->sc || !x->gap || !x->mix || !x->logits || !x->tmp ||
      !x->sum_mean || !x->sum_var || !x->bmean || !x->bvar) {
    dynrt__exec_destroy(x);
    return DYNRT_ERR_NOMEM;
  }
  /* arbitrary fixed contents for timing runs */
  for (size_t i = 0; i < cap; i++) x->x[i] = 0.5f * sinf(0.37f * (float)i);
  *out = x;
  return DYNRT_OK;
}

/* A tensor of the batch: image b's pixel (yy, xx) channel c at
 * base + b*cap + yy*rs + xx*cs + c. */
typedef struct tview {
  float *base;
  size_t rs, cs;
  int h, w, c;
} tview;

/*
 * One BN layer in training mode on the first nb images of t: batch mean and biased
 * variance over images x pixels (two passes, double), normalise with them, apply gamma /
 * beta and the activation in place; accumulate mean and unbiased variance (PyTorch's
 * running_var) for the layer at the running channel offset. No-op in inference mode
 * (the kernels applied the folded BN in their epilogue).
 */
static void bn_train(dynrt__exec *x, const tview *t, size_t nb, int bn_id, dynrt_act act) {
  if (!x->train) return;
  const dynrt__bn_default *bn = &x->m->bn[bn_id];
  int c = t->c;
  DYNRT_ASSERT(c <= bn->cmax && x->off + (size_t)c <= x->acc_cap);
  double cnt = (double)nb * t->h * t->w;
  for (int ch = 0; ch < c; ch++) x->bmean[ch] = x->bvar[ch] = 0;
  for (size_t b = 0; b < nb; b++)
    for (int yy = 0; yy < t->h; yy++)
      for (int xx = 0; xx < t->w; xx++) {
        const float *p = t->base + b * x->cap + (size_t)yy * t->rs + (size_t)xx * t->cs;
        for (int ch = 0; ch < c; ch++) x->bmean[ch] += p[ch];
      }
  for (int ch = 0; ch < c; ch++) x->bmean[ch] /= cnt;
  for (size_t b = 0; b < nb; b++)
    for (int yy = 0; yy < t->h; yy++)
      for (int xx = 0; xx < t->w; xx++) {
        const float *p = t->base + b * x->cap + (size_t)yy * t->rs + (size_t)xx * t->cs;
        for (int ch = 0; ch < c; ch++) {
          double dv = p[ch] - x->bmean[ch];
          x->bvar[ch] += dv * dv;
        }
      }
  float scale[4096], shift[4096];
  DYNRT_ASSERT(c <= 4096);
  double eps = x->m->arch.bn_eps;
  for (int ch = 0; ch < c; ch++) {
    double var = x->bvar[ch] / cnt;
    x->sum_mean[x->off + (size_t)ch] += x->bmean[ch];
    x->sum_var[x->off + (size_t)ch] += cnt > 1 ? var * cnt / (cnt - 1) : var;
    double s = bn->gamma[ch] / sqrt(var + eps);
    scale[ch] = (float)s;
    shift[ch] = (float)(bn->beta[ch] - x->bmean[ch] * s);
  }
  x->off += (size_t)c;
  for (size_t b = 0; b < nb; b++)
    for (int yy = 0; yy < t->h; yy++)
      for (int xx = 0; xx < t->w; xx++) {
        float *p = t->base + b * x->cap + (size_t)yy * t->rs + (size_t)xx * t->cs;
        for (int ch = 0; ch < c; ch++) p[ch] = p[ch] * scale[ch] + shift[ch];
        if (act != DYNRT_ACT_NONE) x->kern->act(act, p, (size_t)c);
      }
}

/* Folded BN of the file for inference mode, NULL in training mode. */
static const float *bn_scale(const dynrt__exec *x, int id) {
  return x->train ? NULL : x->m->bn[id].scale;
}
static const float *bn_shift(const dynrt__exec *x, int id) {
  return x->train ? NULL : x->m->bn[id].shift;
}
static dynrt_act eact(const dynrt__exec *x, dynrt_act act) {
  return x->train ? DYNRT_ACT_NONE : act;
}

/* dst[b] += src[b] over a tensor of the batch (residual after a training-mode BN). */
static void add_into(const dynrt__exec *x, const tview *dst, const tview *src, size_t nb) {
  for (size_t b = 0; b < nb; b++)
    for (int yy = 0; yy < dst->h; yy++)
      for (int xx = 0; xx < dst->w; xx++) {
        float *p = dst->base + b * x->cap + (size_t)yy * dst->rs + (size_t)xx * dst->cs;
        const float *q = src->base + b * x->cap + (size_t)yy * src->rs + (size_t)xx * src->cs;
        for (int ch = 0; ch < dst->c; ch++) p[ch] += q[ch];
      }
}

/* Stem and first block on the first nb bordered input images at resolution r; leaves the
 * first block's output in x->x (cs16(c1)) and returns its size. */
static int run_stem(dynrt__exec *x, int r, double w, size_t nb, int *c1_out) {
  const dynrt_model *m = x->m;
  const dynrt__arch *a = &m->arch;
  int c0 = dynrt__active_width(a, a->stem_out, w), c1 = dynrt__active_width(a, a->first_out, w);
  int hs = dynrt__conv_out(r, a->stem_kernel, a->stem_stride);
  int h1 = dynrt__conv_out(hs, a->first_kernel, a->first_stride);
  size_t scs = cs16(c0), s_rs = (size_t)(hs + 2 * BORDER) * scs, xcs = cs16(c1);
  for (size_t b = 0; b < nb; b++) {
    float *sb = x->s + b * x->cap;
    if (nb > 1 || need_zero(x, &x->s_geom, hs, scs)) zero_border(sb, hs, scs);
    dynrt_conv_args cv;
    memset(&cv, 0, sizeof cv);
    cv.h = cv.w = (size_t)r;
    cv.cin = 3;
    cv.cout = (size_t)c0;
    cv.k = (size_t)a->stem_kernel;
    cv.stride = (size_t)a->stem_stride;
    cv.in = interior(x->in + b * x->cap, r, 3);
    cv.in_rs = (size_t)(r + 2 * BORDER) * 3;
    cv.in_cs = 3;
    cv.w_packed = m->stem_w;
    cv.kmax_in = 3;
    cv.panel_stride = m->stem_panel_stride;
    cv.scale = bn_scale(x, DYNRT__BN_STEM);
    cv.shift = bn_shift(x, DYNRT__BN_STEM);
    cv.act = eact(x, a->stem_act);
    cv.out = interior(sb, hs, scs);
    cv.out_rs = s_rs;
    cv.out_cs = scs;
    cv.oy0 = 0;
    cv.oy1 = (size_t)hs;
    x->kern->conv(&cv);
  }
  tview ts = {interior(x->s, hs, scs), s_rs, scs, hs, hs, c0};
  bn_train(x, &ts, nb, DYNRT__BN_STEM, a->stem_act);
  for (size_t b = 0; b < nb; b++) {
    dynrt_dw_args dw;
    memset(&dw, 0, sizeof dw);
    dw.h = dw.w = (size_t)hs;
    dw.c = (size_t)c0;
    dw.k = (size_t)a->first_kernel;
    dw.stride = (size_t)a->first_stride;
    dw.in = interior(x->s + b * x->cap, hs, scs);
    dw.in_rs = s_rs;
    dw.in_cs = scs;
    dw.wt = m->first_dw;
    dw.wt_cs = m->first_dw_cs;
    dw.scale = bn_scale(x, DYNRT__BN_FIRST_DW);
    dw.shift = bn_shift(x, DYNRT__BN_FIRST_DW);
    dw.act = eact(x, a->first_act);
    dw.out = x->d + b * x->cap;
    dw.out_cs = scs;
    dw.out_rs = (size_t)h1 * scs;
    dw.oy0 = 0;
    dw.oy1 = (size_t)h1;
    x->kern->dwconv(&dw);
  }
  tview td = {x->d, (size_t)h1 * scs, scs, h1, h1, c0};
  bn_train(x, &td, nb, DYNRT__BN_FIRST_DW, a->first_act);
  int res_inline = a->first_residual && !x->train;
  for (size_t b = 0; b < nb; b++) {
    dynrt_gemm_args g;
    memset(&g, 0, sizeof g);
    g.n = (size_t)c1;
    g.k = (size_t)c0;
    g.lda = scs;
    g.w = m->first_proj.w;
    g.panel_stride = m->first_proj.panel_stride;
    g.scale = bn_scale(x, DYNRT__BN_FIRST_PROJ);
    g.shift = bn_shift(x, DYNRT__BN_FIRST_PROJ);
    g.ldc = xcs;
    if (res_inline) {
      /* the shortcut reads the bordered stem output: one call per row, as the engine */
      g.m = (size_t)h1;
      g.ldr = scs;
      for (int yy = 0; yy < h1; yy++) {
        g.a = x->d + b * x->cap + (size_t)yy * (size_t)h1 * scs;
        g.res = interior(x->s + b * x->cap, hs, scs) + (size_t)yy * s_rs;
        g.c = x->x + b * x->cap + (size_t)yy * (size_t)h1 * xcs;
        x->kern->gemm(&g);
      }
    } else {
      g.m = sq(h1);
      g.a = x->d + b * x->cap;
      g.c = x->x + b * x->cap;
      x->kern->gemm(&g);
    }
  }
  tview tx = {x->x, (size_t)h1 * xcs, xcs, h1, h1, c1};
  bn_train(x, &tx, nb, DYNRT__BN_FIRST_PROJ, DYNRT_ACT_NONE);
  if (a->first_residual && x->train) add_into(x, &tx, &ts, nb);
  *c1_out = c1;
  return h1;
}

/* One MBConv block on the first nb images of x->x; the output replaces x->x. */
static void run_block(dynrt__exec *x, const dynrt__blockcfg *bc, size_t nb) {
  const dynrt_model *m = x->m;
  const dynrt__block_w *bw = &m->blocks[bc->j];
  int h = bc->h, ho = dynrt__conv_out(h, bc->k, bc->stride);
  size_t ics = cs16(bc->cin), mcs = cs16(bc->mid), ocs = cs16(bc->cout);
  size_t e_rs = (size_t)(h + 2 * BORDER) * mcs;
  dynrt_act act = (dynrt_act)bc->act;
  int id0 = DYNRT__BN_BLOCK(bc->j, 0), id1 = DYNRT__BN_BLOCK(bc->j, 1),
      id2 = DYNRT__BN_BLOCK(bc->j, 2);
  dynrt_gemm_args g;
  for (size_t b = 0; b < nb; b++) {
    float *eb = x->e + b * x->cap;
    if (nb > 1 || need_zero(x, &x->e_geom, h, mcs)) zero_border(eb, h, mcs);
    memset(&g, 0, sizeof g);
    g.m = (size_t)h;
    g.n = (size_t)bc->mid;
    g.k = (size_t)bc->cin;
    g.lda = ics;
    g.w = bw->expand.w;
    g.panel_stride = bw->expand.panel_stride;
    g.scale = bn_scale(x, id0);
    g.shift = bn_shift(x, id0);
    g.act = eact(x, act);
    g.ldc = mcs;
    float *ei = interior(eb, h, mcs);
    for (int yy = 0; yy < h; yy++) {
      g.a = x->x + b * x->cap + (size_t)yy * (size_t)h * ics;
      g.c = ei + (size_t)yy * e_rs;
      x->kern->gemm(&g);
    }
  }
  tview te = {interior(x->e, h, mcs), e_rs, mcs, h, h, bc->mid};
  bn_train(x, &te, nb, id0, act);
  int fused_sum = bc->se && !x->train;
  for (size_t b = 0; b < nb; b++) {
    dynrt_dw_args dw;
    memset(&dw, 0, sizeof dw);
    dw.h = dw.w = (size_t)h;
    dw.c = (size_t)bc->mid;
    dw.k = (size_t)bc->k;
    dw.stride = (size_t)bc->stride;
    dw.in = interior(x->e + b * x->cap, h, mcs);
    dw.in_rs = e_rs;
    dw.in_cs = mcs;
    dw.wt = bw->dw[bc->k];
    dw.wt_cs = bw->dw_cs;
    dw.scale = bn_scale(x, id1);
    dw.shift = bn_shift(x, id1);
    dw.act = eact(x, act);
    dw.out = x->d + b * x->cap;
    dw.out_cs = mcs;
    dw.out_rs = (size_t)ho * mcs;
    dw.oy0 = 0;
    dw.oy1 = (size_t)ho;
    if (fused_sum) {
      memset(x->pool + b * x->se_cap, 0, (size_t)bc->mid * sizeof(float));
      dw.sum = x->pool + b * x->se_cap;
    }
    x->kern->dwconv(&dw);
  }
  tview td = {x->d, (size_t)ho * mcs, mcs, ho, ho, bc->mid};
  bn_train(x, &td, nb, id1, act);
  if (bc->se) {
    int se_mid = dynrt__se_channels(&m->arch, bc->mid);
    for (size_t b = 0; b < nb; b++) {
      float *pool = x->pool + b * x->se_cap;
      if (fused_sum) {
        float inv = 1.0f / (float)sq(ho);
        for (int c = 0; c < bc->mid; c++) pool[c] *= inv;
      } else {
        x->kern->gap(sq(ho), (size_t)bc->mid, x->d + b * x->cap, mcs, pool);
      }
      memset(&g, 0, sizeof g);
      g.m = 1;
      g.n = (size_t)se_mid;
      g.k = (size_t)bc->mid;
      g.a = pool;
      g.lda = (size_t)bc->mid;
      g.w = bw->se_reduce.w;
      g.panel_stride = bw->se_reduce.panel_stride;
      g.shift = bw->se_reduce_bias;
      g.act = DYNRT_ACT_RELU;
      g.c = x->hid + b * x->se_cap;
      g.ldc = (size_t)se_mid;
      x->kern->gemm(&g);
      memset(&g, 0, sizeof g);
      g.m = 1;
      g.n = (size_t)bc->mid;
      g.k = (size_t)se_mid;
      g.a = x->hid + b * x->se_cap;
      g.lda = (size_t)se_mid;
      g.w = bw->se_expand.w;
      g.panel_stride = bw->se_expand.panel_stride;
      g.shift = bw->se_expand_bias;
      g.act = DYNRT_ACT_HSIGMOID;
      g.c = x->sc + b * x->se_cap;
      g.ldc = (size_t)bc->mid;
      x->kern->gemm(&g);
    }
  }
  for (size_t b = 0; b < nb; b++) {
    memset(&g, 0, sizeof g);
    g.m = sq(ho);
    g.n = (size_t)bc->cout;
    g.k = (size_t)bc->mid;
    g.a = x->d + b * x->cap;
    g.lda = mcs;
    g.a_kscale = bc->se ? x->sc + b * x->se_cap : NULL;
    g.w = bw->proj.w;
    g.panel_stride = bw->proj.panel_stride;
    g.scale = bn_scale(x, id2);
    g.shift = bn_shift(x, id2);
    g.ldc = ocs;
    if (bc->residual && !x->train) {
      g.res = x->x + b * x->cap;
      g.ldr = ics;
    }
    g.c = x->y + b * x->cap;
    x->kern->gemm(&g);
  }
  tview ty = {x->y, (size_t)ho * ocs, ocs, ho, ho, bc->cout};
  bn_train(x, &ty, nb, id2, DYNRT_ACT_NONE);
  if (bc->residual && x->train) {
    tview tx = {x->x, (size_t)h * ics, ics, h, h, bc->cin};
    add_into(x, &ty, &tx, nb);
  }
  float *t = x->x;
  x->x = x->y;
  x->y = t;
}

/* Head expand (+ BN) on the first nb images of x->x; in inference mode also the pooling,
 * feature mix and classifier (batch 1). */
static void run_head(dynrt__exec *x, int h, int cin, double w, size_t nb) {
  const dynrt_model *m = x->m;
  const dynrt__arch *a = &m->arch;
  int fe = dynrt__active_width(a, a->final_expand, w),
      fm = dynrt__active_width(a, a->feature_mix, w);
  int id = DYNRT__BN_BLOCK(a->n_blocks, 0);
  size_t ics = cs16(cin), fcs = cs16(fe);
  dynrt_gemm_args g;
  for (size_t b = 0; b < nb; b++) {
    memset(&g, 0, sizeof g);
    g.m = sq(h);
    g.n = (size_t)fe;
    g.k = (size_t)cin;
    g.a = x->x + b * x->cap;
    g.lda = ics;
    g.w = m->head_expand.w;
    g.panel_stride = m->head_expand.panel_stride;
    g.scale = bn_scale(x, id);
    g.shift = bn_shift(x, id);
    g.act = eact(x, a->head_act);
    g.c = x->d + b * x->cap;
    g.ldc = fcs;
    x->kern->gemm(&g);
  }
  tview td = {x->d, (size_t)h * fcs, fcs, h, h, fe};
  bn_train(x, &td, nb, id, a->head_act);
  if (x->train) return;
  x->kern->gap(sq(h), (size_t)fe, x->d, fcs, x->gap);
  memset(&g, 0, sizeof g);
  g.m = 1;
  g.n = (size_t)fm;
  g.k = (size_t)fe;
  g.a = x->gap;
  g.lda = (size_t)fe;
  g.w = m->head_mix.w;
  g.panel_stride = m->head_mix.panel_stride;
  g.act = a->head_act;
  g.c = x->mix;
  g.ldc = (size_t)fm;
  x->kern->gemm(&g);
  memset(&g, 0, sizeof g);
  g.m = 1;
  g.n = (size_t)a->num_classes;
  g.k = (size_t)fm;
  g.a = x->mix;
  g.lda = (size_t)fm;
  g.w = m->classifier.w;
  g.panel_stride = m->classifier.panel_stride;
  g.shift = m->classifier_bias;
  g.c = x->logits;
  g.ldc = (size_t)a->num_classes;
  x->kern->gemm(&g);
}

/* The active blocks of a resolved sub-network, in order. */
static int subnet_blocks(const dynrt_model *m, const dynrt__subnet_ix *ix, int h, int cin,
                         dynrt__blockcfg *out) {
  const dynrt__arch *a = &m->arch;
  int n = 0;
  for (int si = 0; si < a->n_stages; si++) {
    const dynrt__stage *sg = &a->stages[si];
    int cout = dynrt__active_width(a, sg->width, ix->w);
    for (int i = 0; i < ix->d[si]; i++) {
      int j = sg->first_block + i;
      const dynrt__block *bl = &a->blocks[j];
      dynrt__blockcfg *b = &out[n++];
      b->j = j;
      b->cin = cin;
      b->mid = dynrt__mid_channels(a, cin, ix->e[j]);
      b->cout = cout;
      b->k = ix->k[j];
      b->stride = bl->stride;
      b->se = bl->se;
      b->residual = bl->residual;
      b->act = (int)bl->act;
      b->h = h;
      h = dynrt__conv_out(h, b->k, bl->stride);
      cin = cout;
    }
  }
  return n;
}

int dynrt__subnet_blocks(const dynrt_model *m, const dynrt_subnet *cfg, dynrt__blockcfg *out,
                         int *h_out, int *c_out) {
  dynrt__subnet_ix ix;
  if (dynrt__subnet_resolve(&m->arch, cfg, NULL, &ix, NULL)) return -1;
  const dynrt__arch *a = &m->arch;
  int h = dynrt__conv_out(ix.r, a->stem_kernel, a->stem_stride);
  h = dynrt__conv_out(h, a->first_kernel, a->first_stride);
  int n = subnet_blocks(m, &ix, h, dynrt__active_width(a, a->first_out, ix.w), out);
  *h_out = n ? dynrt__conv_out(out[n - 1].h, out[n - 1].k, out[n - 1].stride) : h;
  *c_out = n ? out[n - 1].cout : dynrt__active_width(a, a->first_out, ix.w);
  return n;
}

void dynrt__exec_block(dynrt__exec *x, const dynrt__blockcfg *b) {
  x->train = 0;
  run_block(x, b, 1);
  /* keep the input fixed for the next timing run */
  float *t = x->x;
  x->x = x->y;
  x->y = t;
}

void dynrt__exec_stem(dynrt__exec *x, int r, double w) {
  x->train = 0;
  int c1;
  /* the engine copies the input rows and zeroes the border once per resolution */
  if (need_zero(x, &x->in_geom, r, 3)) zero_border(x->in, r, 3);
  float *dst = interior(x->in, r, 3);
  size_t rs = (size_t)(r + 2 * BORDER) * 3;
  for (int yy = 0; yy < r; yy++)
    memcpy(dst + (size_t)yy * rs, x->tmp + (size_t)yy * (size_t)r * 3,
           (size_t)r * 3 * sizeof(float));
  run_stem(x, r, w, 1, &c1);
}

void dynrt__exec_head(dynrt__exec *x, int h, int cin, double w) {
  x->train = 0;
  run_head(x, h, cin, w, 1);
}

/* ---- calibration ---- */

dynrt_status dynrt_calibrate_stats(const dynrt_model *m, const dynrt_subnet *cfg,
                                   const dynrt_dataset *ds, const dynrt_calib_options *opts,
                                   float *mean, float *var, dynrt_error *err) {
  if (!m || !cfg || !ds || !mean || !var)
    return dynrt__offline_fail(err, DYNRT_ERR_INVALID_ARG, "calibrate: NULL argument");
  dynrt_calib_options o = {0, 0, 0, NULL, NULL};
  if (opts) o = *opts;
  size_t total = dynrt_dataset_count(ds);
  if (o.first >= total)
    return dynrt__offline_fail(err, DYNRT_ERR_INVALID_ARG,
                               "calibrate: first image %zu, data set %s has %zu", o.first,
                               dynrt_dataset_name(ds), total);
  size_t count = o.count && o.count <= total - o.first ? o.count : total - o.first;
  size_t batch = o.batch ? o.batch : 250;
  if (batch > count) batch = count;
  dynrt__subnet_ix ix;
  dynrt_err e;
  dynrt__clearerr(&e);
  if (dynrt__subnet_resolve(&m->arch, cfg, NULL, &ix, &e))
    return dynrt__offline_fail(err, e.status, "calibrate: %s", dynrt__errmsg(&e));
  size_t n_layers, n_ch;
  dynrt_bn_layout(m, cfg, NULL, 0, &n_layers, &n_ch, NULL);
  dynrt__exec *x;
  if (dynrt__exec_create(m, batch, &x))
    return dynrt__offline_fail(err, DYNRT_ERR_NOMEM,
                               "calibrate: no memory for a batch of %zu images", batch);
  DYNRT_ASSERT(n_ch <= x->acc_cap);
  x->train = 1;
  dynrt__blockcfg *bl = dynrt__malloc(sizeof(dynrt__blockcfg) * DYNRT_MAX_BLOCKS);
  if (!bl) {
    dynrt__exec_destroy(x);
    return dynrt__offline_fail(err, DYNRT_ERR_NOMEM, "calibrate: no memory");
  }
  int r = ix.r;
  size_t nbatches = 0;
  dynrt_status st = DYNRT_OK;
  for (size_t i0 = 0; i0 < count; i0 += batch) {
    size_t nb = DYNRT_MIN(batch, count - i0);
    for (size_t b = 0; b < nb; b++) {
      dynrt_image img;
      dynrt_dataset_get(ds, o.first + i0 + b, &img);
      dynrt_preprocess(m, r, &img, x->tmp);
      float *in = x->in + b * x->cap;
      zero_border(in, r, 3);
      float *dst = interior(in, r, 3);
      size_t rs = (size_t)(r + 2 * BORDER) * 3;
      for (int yy = 0; yy < r; yy++)
        memcpy(dst + (size_t)yy * rs, x->tmp + (size_t)yy * (size_t)r * 3,
               (size_t)r * 3 * sizeof(float));
    }
    x->off = 0;
    int c1;
    int h = run_stem(x, r, ix.w, nb, &c1);
    int n = subnet_blocks(m, &ix, h, c1, bl);
    int cin = c1;
    for (int i = 0; i < n; i++) {
      run_block(x, &bl[i], nb);
      h = dynrt__conv_out(h, bl[i].k, bl[i].stride);
      cin = bl[i].cout;
    }
    run_head(x, h, cin, ix.w, nb);
    DYNRT_ASSERT(x->off == n_ch);
    nbatches++;
    if (o.progress && o.progress(o.user, i0 + nb, count)) {
      st = dynrt__offline_fail(err, DYNRT_ERR_STATE, "calibrate: cancelled");
      break;
    }
  }
  if (!st)
    for (size_t c = 0; c < n_ch; c++) {
      mean[c] = (float)(x->sum_mean[c] / (double)nbatches);
      var[c] = (float)(x->sum_var[c] / (double)nbatches);
    }
  dynrt__free(bl);
  dynrt__exec_destroy(x);
  return st;
}

dynrt_status dynrt_calibrate(const dynrt_model *m, const dynrt_subnet *cfg, const dynrt_dataset *ds,
                             const dynrt_calib_options *opts, dynrt_bn_table **out,
                             dynrt_error *err) {
  if (out) *out = NULL;
  if (!m || !cfg || !out)
    return dynrt__offline_fail(err, DYNRT_ERR_INVALID_ARG, "calibrate: NULL argument");
  size_t n_ch = 0;
  dynrt_status st = dynrt_bn_layout(m, cfg, NULL, 0, NULL, &n_ch, err);
  if (st) return st;
  float *mean = dynrt__malloc(n_ch * sizeof(float)), *var = dynrt__malloc(n_ch * sizeof(float));
  if (!mean || !var) {
    st = dynrt__offline_fail(err, DYNRT_ERR_NOMEM, "calibrate: no memory");
  } else if (!(st = dynrt_calibrate_stats(m, cfg, ds, opts, mean, var, err))) {
    st = dynrt_bn_table_from_stats(m, cfg, mean, var, out, err);
  }
  dynrt__free(mean);
  dynrt__free(var);
  return st;
}

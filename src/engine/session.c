/*
 * session.c - the executor: one arena planned at creation for the largest sub-network at
 * the largest resolution, an O(blocks) allocation-free switch that fills a layer plan of
 * pointers into the shared packed weights, and the inference loop over the kernel table.
 * Nothing on the switch or inference path allocates, copies weights or repacks.
 *
 * Activation layout (engine-notes §3): NHWC. Weights are shared, activations are not, so each
 * activation's channel stride is the active width rounded to 16 (a sub-network's layout is
 * the one its stand-alone model would have) while the arena is sized with the file widths.
 * Depthwise inputs live in zero-bordered buffers (border 3), one per spatial level; a level's
 * border is re-zeroed only when its geometry (resolution, stride) changes.
 *
 * An opt-in per-layer profile (dynrt_session_set_profiling) closes each layer with a clock
 * read into a table allocated when it is first turned on; off, it costs one branch per layer.
 */
#include <math.h>
#include <string.h>

#include "engine/engine_int.h"

#define BORDER 3 /* max kernel 7: k/2 */
#define MAX_LEVELS (2 + DYNRT_MAX_STAGES)

typedef struct pblock {
  int j, cin, mid, cout, se_mid, k, stride, residual, se;
  dynrt_act act;
  int h, w, ho, wo; /* input and output spatial size */
  int lvl;          /* bordered buffer of the depthwise input */
  const float *dw_w;
  const float *bn[3][2]; /* expand, dw, proj: scale, shift */
} pblock;

typedef struct plan {
  dynrt_subnet cfg; /* canonical */
  int r, c0, c1, fe, fm;
  int h_stem, h_first;
  /* Bordered level buffers at this config: spatial size and channel stride (the widest
   * active depthwise input of the level, rounded to 16); 0 = level unused. */
  int lvl_h[MAX_LEVELS];
  size_t lvl_cs[MAX_LEVELS];
  const float *bn_stem[2], *bn_fdw[2], *bn_fproj[2], *bn_head[2];
  int n;
  pblock b[DYNRT_MAX_BLOCKS];
} plan;

typedef struct level {
  float *base; /* (hmax + 2*BORDER)^2 * cs floats */
  size_t cs;
  int hmax;
} level;

struct dynrt_session {
  const dynrt_model *model;
  const dynrt_kernels *kern;
  dynrt_pool *pool;
  int own_pool, threads;
  dynrt_err err;
  plan plans[2];
  plan *cur;
  dynrt_arena arena;
  level lv[MAX_LEVELS];
  int n_levels, lvl_stem;
  int lvl_block[DYNRT_MAX_BLOCKS];
  float *in;   /* (rmax + 2*BORDER)^2 * 3 */
  float *x[2]; /* compact block inputs/outputs */
  float *d;    /* compact depthwise / head-expand output */
  float *se_sum, *se_hidden, *se_scale, *gap, *mix, *logits;
  int zeroed_r;        /* resolution whose input border is zero, 0 = none */
  int z_h[MAX_LEVELS]; /* geometry whose border is zero, per level */
  size_t z_cs[MAX_LEVELS];
  int have_logits;
  dynrt_session_stats stats;
  /* per-layer profile (dynrt_session_set_profiling); prof is NULL until first turned on */
  int prof_on, prof_valid;
  uint64_t prof_t0, prof_last, prof_total;
  size_t prof_n;
  dynrt_layer_time *prof; /* [PROF_MAX] */
  unsigned char *prof_role;
};

static void copy_err(dynrt_error *out, const dynrt_err *in) {
  if (!out) return;
  out->status = in->status;
  snprintf(out->msg, sizeof out->msg, "%s", dynrt__errmsg(in));
}

/* ---- planning ---- */

static size_t cs16(int c) { return DYNRT_ROUND_UP((size_t)c, 16); }

/* Walks the architecture at the largest resolution: levels of the bordered buffers and
 * sizes of the compact ones. */
static void plan_memory(dynrt_session *s, size_t *x_floats, size_t *d_floats) {
  const dynrt__arch *a = &s->model->arch;
  int h = dynrt__conv_out(a->res[a->n_res - 1], a->stem_kernel, a->stem_stride);
  int lvl = 0;
  memset(s->lv, 0, sizeof s->lv);
  s->lvl_stem = 0;
  s->lv[0].hmax = h;
  s->lv[0].cs = cs16(a->stem_out);
  h = dynrt__conv_out(h, a->first_kernel, a->first_stride);
  size_t xf = (size_t)(h * h) * cs16(a->first_out);
  size_t df = (size_t)(h * h) * cs16(a->stem_out);
  if (a->first_stride == 2) lvl++;
  s->lv[lvl].hmax = h;
  for (int b = 0; b < a->n_blocks; b++) {
    const dynrt__block *bl = &a->blocks[b];
    s->lvl_block[b] = lvl;
    s->lv[lvl].hmax = h;
    if (cs16(bl->mid_max) > s->lv[lvl].cs) s->lv[lvl].cs = cs16(bl->mid_max);
    int ho = dynrt__conv_out(h, 3, bl->stride);
    if ((size_t)(ho * ho) * cs16(bl->mid_max) > df) df = (size_t)(ho * ho) * cs16(bl->mid_max);
    if ((size_t)(ho * ho) * cs16(bl->cout_max) > xf) xf = (size_t)(ho * ho) * cs16(bl->cout_max);
    if (bl->stride == 2) lvl++;
    h = ho;
  }
  if ((size_t)(h * h) * cs16(a->final_expand) > df) df = (size_t)(h * h) * cs16(a->final_expand);
  s->n_levels = lvl + 1;
  *x_floats = xf;
  *d_floats = df;
}

static size_t level_floats(const level *l) {
  size_t side = (size_t)(l->hmax + 2 * BORDER);
  return side * side * l->cs;
}

/* Fills p for cfg; touches nothing else, so a failed switch leaves the session as it was. */
static dynrt_status plan_build(const dynrt_session *s, const dynrt_subnet *cfg,
                               const dynrt_bn_table *bn, plan *p, dynrt_err *err) {
  const dynrt_model *m = s->model;
  const dynrt__arch *a = &m->arch;
  dynrt__subnet_ix x;
  dynrt_status st = dynrt__subnet_resolve(a, cfg, &p->cfg, &x, err);
  if (st) return st;
  if (bn && (bn->model != m || memcmp(&bn->cfg, &p->cfg, sizeof p->cfg)))
    return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG,
                         "session: BN table belongs to another %s than the requested one",
                         bn->model != m ? "model" : "sub-network");
  int li = 0;
#define BN(dst, id)                                                                                \
  do {                                                                                             \
    if (bn) {                                                                                      \
      (dst)[0] = bn->scale + bn->offset[li];                                                       \
      (dst)[1] = bn->shift + bn->offset[li];                                                       \
    } else {                                                                                       \
      (dst)[0] = m->bn[id].scale;                                                                  \
      (dst)[1] = m->bn[id].shift;                                                                  \
    }                                                                                              \
    li++;                                                                                          \
  } while (0)
  p->r = x.r;
  p->c0 = dynrt__active_width(a, a->stem_out, x.w);
  p->c1 = dynrt__active_width(a, a->first_out, x.w);
  p->fe = dynrt__active_width(a, a->final_expand, x.w);
  p->fm = dynrt__active_width(a, a->feature_mix, x.w);
  BN(p->bn_stem, DYNRT__BN_STEM);
  BN(p->bn_fdw, DYNRT__BN_FIRST_DW);
  BN(p->bn_fproj, DYNRT__BN_FIRST_PROJ);
  int h = dynrt__conv_out(x.r, a->stem_kernel, a->stem_stride);
  p->h_stem = h;
  memset(p->lvl_h, 0, sizeof p->lvl_h);
  memset(p->lvl_cs, 0, sizeof p->lvl_cs);
  p->lvl_h[s->lvl_stem] = h;
  p->lvl_cs[s->lvl_stem] = cs16(p->c0);
  h = dynrt__conv_out(h, a->first_kernel, a->first_stride);
  p->h_first = h;
  int cin = p->c1, n = 0;
  for (int si = 0; si < a->n_stages; si++) {
    const dynrt__stage *sg = &a->stages[si];
    int cout = dynrt__active_width(a, sg->width, x.w);
    for (int i = 0; i < x.d[si]; i++) {
      int j = sg->first_block + i;
      const dynrt__block *bl = &a->blocks[j];
      pblock *pb = &p->b[n++];
      pb->j = j;
      pb->cin = cin;
      pb->cout = cout;
      pb->mid = dynrt__mid_channels(a, cin, x.e[j]);
      pb->se = bl->se;
      pb->se_mid = bl->se ? dynrt__se_channels(a, pb->mid) : 0;
      pb->k = x.k[j];
      pb->stride = bl->stride;
      pb->residual = bl->residual;
      pb->act = bl->act;
      pb->h = pb->w = h;
      h = dynrt__conv_out(h, pb->k, bl->stride);
      pb->ho = pb->wo = h;
      pb->lvl = s->lvl_block[j];
      p->lvl_h[pb->lvl] = pb->h;
      if (cs16(pb->mid) > p->lvl_cs[pb->lvl]) p->lvl_cs[pb->lvl] = cs16(pb->mid);
      pb->dw_w = m->blocks[j].dw[pb->k];
      BN(pb->bn[0], DYNRT__BN_BLOCK(j, 0));
      BN(pb->bn[1], DYNRT__BN_BLOCK(j, 1));
      BN(pb->bn[2], DYNRT__BN_BLOCK(j, 2));
      cin = cout;
    }
  }
  BN(p->bn_head, DYNRT__BN_BLOCK(a->n_blocks, 0));
#undef BN
  p->n = n;
  return DYNRT_OK;
}

/* ---- parallel kernel calls ---- */

typedef struct gemm_op {
  const dynrt_kernels *kern;
  int rows;     /* 1: one call per image row (bordered or strided tensors) */
  size_t m, rw; /* flat: m pixels; rows: m rows of rw pixels */
  size_t n, k;
  const float *a, *kscale;
  size_t lda, a_rs;
  const dynrt__gemm_w *wt;
  const float *scale, *shift;
  dynrt_act act;
  const float *res;
  size_t ldr, r_rs;
  float *c;
  size_t ldc, c_rs;
} gemm_op;

/* Tile (i0..i1) x (j0..j1): i = pixels (flat) or image rows, j = 16-wide panels. */
static void gemm_task(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1) {
  (void)thread;
  const gemm_op *op = ctx;
  dynrt_gemm_args g;
  memset(&g, 0, sizeof g);
  g.m = op->rows ? op->rw : op->m;
  g.n = op->n;
  g.k = op->k;
  g.lda = op->lda;
  g.a_kscale = op->kscale;
  g.w = op->wt->w;
  g.panel_stride = op->wt->panel_stride;
  g.scale = op->scale;
  g.shift = op->shift;
  g.act = op->act;
  g.ldr = op->ldr;
  g.ldc = op->ldc;
  if (!op->rows) {
    g.a = op->a;
    g.res = op->res;
    g.c = op->c;
    dynrt__gemm_tile(op->kern, &g, i0, i1, j0, j1);
    return;
  }
  for (size_t y = i0; y < i1; y++) {
    g.a = op->a + y * op->a_rs;
    g.res = op->res ? op->res + y * op->r_rs : NULL;
    g.c = op->c + y * op->c_rs;
    dynrt__gemm_tile(op->kern, &g, 0, op->rw, j0, j1);
  }
}

static void par(dynrt_session *s, size_t ni, size_t nj, size_t ti, size_t tj, dynrt_pool_fn fn,
                void *ctx) {
  if (s->threads <= 1 || (ti >= ni && tj >= nj)) {
    fn(ctx, 0, 0, ni, 0, nj);
    return;
  }
  dynrt_pool_parallel_2d(s->pool, ni, nj, ti, tj, fn, ctx);
}

static void run_gemm(dynrt_session *s, gemm_op *op) {
  op->kern = s->kern;
  size_t ni = op->m, nj = DYNRT_DIV_UP(op->n, DYNRT_NR), ti, tj;
  dynrt__split_gemm(s->threads, ni, nj, op->rows ? op->m * op->rw : op->m, !op->rows, &ti, &tj);
  par(s, ni, nj, ti, tj, gemm_task, op);
}

typedef struct dw_op {
  const dynrt_kernels *kern;
  dynrt_dw_args a;
} dw_op;

/* Tile: output rows (i0..i1) x 16-channel groups (j0..j1). */
static void dw_task(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1) {
  (void)thread;
  const dw_op *op = ctx;
  dynrt__dw_tile(op->kern, &op->a, i0, i1, j0, j1);
}

static void run_dw(dynrt_session *s, dw_op *op) {
  op->kern = s->kern;
  size_t oh = (op->a.h - 1) / op->a.stride + 1, groups = DYNRT_DIV_UP(op->a.c, 16), ti, tj;
  dynrt__split_dw(s->threads, oh, groups, op->a.sum != NULL, &ti, &tj);
  par(s, oh, groups, ti, tj, dw_task, op);
}

typedef struct conv_op {
  const dynrt_kernels *kern;
  dynrt_conv_args a;
} conv_op;

static void conv_task(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1) {
  (void)thread;
  (void)j0;
  (void)j1;
  const conv_op *op = ctx;
  if (i0 >= i1) return;
  dynrt_conv_args c = op->a;
  c.oy0 = i0;
  c.oy1 = i1;
  op->kern->conv(&c);
}

/* ---- borders ---- */

static void zero_border(float *base, int h, size_t cs, int border) {
  size_t side = (size_t)(h + 2 * border), rs = side * cs;
  memset(base, 0, (size_t)border * rs * sizeof(float));
  memset(base + (size_t)(border + h) * rs, 0, (size_t)border * rs * sizeof(float));
  for (int y = border; y < border + h; y++) {
    float *row = base + (size_t)y * rs;
    memset(row, 0, (size_t)border * cs * sizeof(float));
    memset(row + (size_t)(border + h) * cs, 0, (size_t)border * cs * sizeof(float));
  }
}

/* Zeroes the borders whose geometry (resolution, channel stride) differs from the last
 * zeroed one: after a resolution change or a switch that changes a level's width. */
static void prepare_borders(dynrt_session *s, const plan *p) {
  if (s->zeroed_r != p->r) {
    zero_border(s->in, p->r, 3, BORDER);
    s->zeroed_r = p->r;
  }
  for (int l = 0; l < s->n_levels; l++)
    if (p->lvl_h[l] && (s->z_h[l] != p->lvl_h[l] || s->z_cs[l] != p->lvl_cs[l])) {
      zero_border(s->lv[l].base, p->lvl_h[l], p->lvl_cs[l], BORDER);
      s->z_h[l] = p->lvl_h[l];
      s->z_cs[l] = p->lvl_cs[l];
    }
}

static float *interior(const level *l, int h, size_t cs) {
  size_t rs = (size_t)(h + 2 * BORDER) * cs;
  return l->base + BORDER * rs + BORDER * cs;
}

/* ---- per-layer profile ---- */

/* Layers in execution order: input, stem, first dw + proj, per block expand, dw, [se], proj,
 * head expand, pool, mix, classifier. */
#define PROF_MAX (8 + 4 * DYNRT_MAX_BLOCKS)

enum {
  PROF_INPUT,
  PROF_STEM,
  PROF_FIRST_DW,
  PROF_FIRST_PROJ,
  PROF_EXPAND,
  PROF_DW,
  PROF_SE,
  PROF_PROJ,
  PROF_HEAD_EXPAND,
  PROF_POOL,
  PROF_MIX,
  PROF_CLASSIFIER
};

/* Closes the layer that has just run (role; plan block i for block layers): when profiling
 * is off this is the only cost, one branch per layer. */
#define PROF(s, role, i)                                                                           \
  do {                                                                                             \
    if ((s)->prof_on) prof_lap((s), (role), (i));                                                  \
  } while (0)

static void prof_set(dynrt_layer_time *t, dynrt_layer_kind kind, int block, int cin, int cout,
                     int k, int stride, int h_out, uint64_t macs) {
  t->kind = kind;
  t->block = block;
  t->cin = cin;
  t->cout = cout;
  t->k = k;
  t->stride = stride;
  t->h_out = h_out;
  t->macs = macs;
}

/* Records the time since the previous lap and the layer's geometry from the running plan
 * (the same counts as cost() in subnet.c, so the MACs sum to dynrt_subnet_macs). */
static void prof_lap(dynrt_session *s, int role, int i) {
  uint64_t now = dynrt_now_ns();
  if (s->prof_n >= PROF_MAX) return;
  const dynrt__arch *a = &s->model->arch;
  const plan *p = s->cur;
  const pblock *pb = role >= PROF_EXPAND && role <= PROF_PROJ ? &p->b[i] : NULL;
  int hh = p->n ? p->b[p->n - 1].ho : p->h_first, last = p->n ? p->b[p->n - 1].cout : p->c1;
  uint64_t h2;
  dynrt_layer_time *t = &s->prof[s->prof_n];
  s->prof_role[s->prof_n++] = (unsigned char)role;
  t->ns = now - s->prof_last;
  s->prof_last = now;
  switch (role) {
  case PROF_INPUT: prof_set(t, DYNRT_LAYER_INPUT, -1, 3, 3, 1, 1, p->r, 0); break;
  case PROF_STEM:
    h2 = (uint64_t)p->h_stem * (uint64_t)p->h_stem;
    prof_set(t, DYNRT_LAYER_CONV, -1, 3, p->c0, a->stem_kernel, a->stem_stride, p->h_stem,
             (uint64_t)p->c0 * 3u * (uint64_t)(a->stem_kernel * a->stem_kernel) * h2);
    break;
  case PROF_FIRST_DW:
    h2 = (uint64_t)p->h_first * (uint64_t)p->h_first;
    prof_set(t, DYNRT_LAYER_DEPTHWISE, -1, p->c0, p->c0, a->first_kernel, a->first_stride,
             p->h_first, (uint64_t)p->c0 * (uint64_t)(a->first_kernel * a->first_kernel) * h2);
    break;
  case PROF_FIRST_PROJ:
    h2 = (uint64_t)p->h_first * (uint64_t)p->h_first;
    prof_set(t, DYNRT_LAYER_POINTWISE, -1, p->c0, p->c1, 1, 1, p->h_first,
             (uint64_t)p->c0 * (uint64_t)p->c1 * h2);
    break;
  case PROF_EXPAND:
    prof_set(t, DYNRT_LAYER_POINTWISE, pb->j, pb->cin, pb->mid, 1, 1, pb->h,
             (uint64_t)pb->cin * (uint64_t)pb->mid * (uint64_t)pb->h * (uint64_t)pb->w);
    break;
  case PROF_DW:
    prof_set(t, DYNRT_LAYER_DEPTHWISE, pb->j, pb->mid, pb->mid, pb->k, pb->stride, pb->ho,
             (uint64_t)pb->mid * (uint64_t)(pb->k * pb->k) * (uint64_t)pb->ho * (uint64_t)pb->wo);
    break;
  case PROF_SE:
    prof_set(t, DYNRT_LAYER_SE, pb->j, pb->mid, pb->se_mid, 1, 1, 1,
             2u * (uint64_t)pb->mid * (uint64_t)pb->se_mid);
    break;
  case PROF_PROJ:
    prof_set(t, DYNRT_LAYER_POINTWISE, pb->j, pb->mid, pb->cout, 1, 1, pb->ho,
             (uint64_t)pb->mid * (uint64_t)pb->cout * (uint64_t)pb->ho * (uint64_t)pb->wo);
    break;
  case PROF_HEAD_EXPAND:
    prof_set(t, DYNRT_LAYER_POINTWISE, -1, last, p->fe, 1, 1, hh,
             (uint64_t)last * (uint64_t)p->fe * (uint64_t)hh * (uint64_t)hh);
    break;
  case PROF_POOL: prof_set(t, DYNRT_LAYER_POOL, -1, p->fe, p->fe, 1, 1, 1, 0); break;
  case PROF_MIX:
    prof_set(t, DYNRT_LAYER_FC, -1, p->fe, p->fm, 1, 1, 1, (uint64_t)p->fe * (uint64_t)p->fm);
    break;
  default: /* PROF_CLASSIFIER */
    prof_set(t, DYNRT_LAYER_FC, -1, p->fm, a->num_classes, 1, 1, 1,
             (uint64_t)p->fm * (uint64_t)a->num_classes);
    break;
  }
}

/* Starts a profiled run (at the run call's entry). */
static void prof_start(dynrt_session *s) {
  s->prof_n = 0;
  s->prof_t0 = s->prof_last = dynrt_now_ns();
}

/* ---- the network ---- */

static void forward(dynrt_session *s) {
  const dynrt_model *m = s->model;
  const dynrt__arch *a = &m->arch;
  const plan *p = s->cur;
  prepare_borders(s, p);
  int cur = 0;

  /* stem: bordered input -> bordered level buffer (the first block's depthwise input) */
  level *ls = &s->lv[s->lvl_stem];
  int hs = p->h_stem;
  size_t stem_cs = p->lvl_cs[s->lvl_stem];
  float *stem_out = interior(ls, hs, stem_cs);
  size_t stem_rs = (size_t)(hs + 2 * BORDER) * stem_cs;
  conv_op co;
  memset(&co, 0, sizeof co);
  co.kern = s->kern;
  co.a.h = co.a.w = (size_t)p->r;
  co.a.cin = 3;
  co.a.cout = (size_t)p->c0;
  co.a.k = (size_t)a->stem_kernel;
  co.a.stride = (size_t)a->stem_stride;
  co.a.in = s->in + (size_t)BORDER * (size_t)(p->r + 2 * BORDER) * 3 + BORDER * 3;
  co.a.in_rs = (size_t)(p->r + 2 * BORDER) * 3;
  co.a.in_cs = 3;
  co.a.w_packed = m->stem_w;
  co.a.kmax_in = 3;
  co.a.panel_stride = m->stem_panel_stride;
  co.a.scale = p->bn_stem[0];
  co.a.shift = p->bn_stem[1];
  co.a.act = a->stem_act;
  co.a.out = stem_out;
  co.a.out_rs = stem_rs;
  co.a.out_cs = stem_cs;
  size_t t = (size_t)s->threads;
  par(s, (size_t)hs, 1, t > 1 ? DYNRT_DIV_UP((size_t)hs, t) : (size_t)hs, 1, conv_task, &co);
  PROF(s, PROF_STEM, 0);

  /* first block: depthwise -> d, project (+ stem output) -> x[0] */
  int h1 = p->h_first;
  dw_op dw;
  memset(&dw, 0, sizeof dw);
  dw.a.h = dw.a.w = (size_t)hs;
  dw.a.c = (size_t)p->c0;
  dw.a.k = (size_t)a->first_kernel;
  dw.a.stride = (size_t)a->first_stride;
  dw.a.in = stem_out;
  dw.a.in_rs = stem_rs;
  dw.a.in_cs = stem_cs;
  dw.a.wt = m->first_dw;
  dw.a.wt_cs = m->first_dw_cs;
  dw.a.scale = p->bn_fdw[0];
  dw.a.shift = p->bn_fdw[1];
  dw.a.act = a->first_act;
  dw.a.out = s->d;
  dw.a.out_cs = cs16(p->c0);
  dw.a.out_rs = (size_t)h1 * dw.a.out_cs;
  run_dw(s, &dw);
  PROF(s, PROF_FIRST_DW, 0);
  gemm_op g;
  memset(&g, 0, sizeof g);
  size_t x_cs = cs16(p->c1);
  g.n = (size_t)p->c1;
  g.k = (size_t)p->c0;
  g.a = s->d;
  g.lda = cs16(p->c0);
  g.wt = &m->first_proj;
  g.scale = p->bn_fproj[0];
  g.shift = p->bn_fproj[1];
  g.act = DYNRT_ACT_NONE;
  g.c = s->x[0];
  g.ldc = x_cs;
  if (a->first_residual) {
    /* the shortcut reads the bordered stem output: one call per image row */
    g.rows = 1;
    g.m = (size_t)h1;
    g.rw = (size_t)h1;
    g.a_rs = (size_t)h1 * g.lda;
    g.c_rs = (size_t)h1 * x_cs;
    g.res = stem_out;
    g.ldr = stem_cs;
    g.r_rs = stem_rs;
  } else {
    g.m = (size_t)(h1 * h1);
  }
  run_gemm(s, &g);
  PROF(s, PROF_FIRST_PROJ, 0);

  for (int i = 0; i < p->n; i++) {
    const pblock *pb = &p->b[i];
    const dynrt__block_w *bw = &m->blocks[pb->j];
    level *lv = &s->lv[pb->lvl];
    /* compact tensors: channel stride = active width rounded to 16, as a static model */
    size_t in_cs = cs16(pb->cin), out_cs = cs16(pb->cout), d_cs = cs16(pb->mid);
    size_t e_cs = p->lvl_cs[pb->lvl];
    size_t e_rs = (size_t)(pb->h + 2 * BORDER) * e_cs;
    float *e_in = interior(lv, pb->h, e_cs);
    /* expand 1x1: x[cur] -> bordered level buffer, one call per image row */
    memset(&g, 0, sizeof g);
    g.rows = 1;
    g.m = (size_t)pb->h;
    g.rw = (size_t)pb->w;
    g.n = (size_t)pb->mid;
    g.k = (size_t)pb->cin;
    g.a = s->x[cur];
    g.lda = in_cs;
    g.a_rs = (size_t)pb->w * in_cs;
    g.wt = &bw->expand;
    g.scale = pb->bn[0][0];
    g.shift = pb->bn[0][1];
    g.act = pb->act;
    g.c = e_in;
    g.ldc = e_cs;
    g.c_rs = e_rs;
    run_gemm(s, &g);
    PROF(s, PROF_EXPAND, i);
    /* depthwise k x k (+ SE pooling sums) -> d */
    memset(&dw, 0, sizeof dw);
    dw.a.h = (size_t)pb->h;
    dw.a.w = (size_t)pb->w;
    dw.a.c = (size_t)pb->mid;
    dw.a.k = (size_t)pb->k;
    dw.a.stride = (size_t)pb->stride;
    dw.a.in = e_in;
    dw.a.in_rs = e_rs;
    dw.a.in_cs = e_cs;
    dw.a.wt = pb->dw_w;
    dw.a.wt_cs = bw->dw_cs;
    dw.a.scale = pb->bn[1][0];
    dw.a.shift = pb->bn[1][1];
    dw.a.act = pb->act;
    dw.a.out = s->d;
    dw.a.out_cs = d_cs;
    dw.a.out_rs = (size_t)pb->wo * d_cs;
    if (pb->se) {
      memset(s->se_sum, 0, (size_t)pb->mid * sizeof(float));
      dw.a.sum = s->se_sum;
    }
    run_dw(s, &dw);
    PROF(s, PROF_DW, i);
    const float *kscale = NULL;
    if (pb->se) {
      float inv = 1.0f / (float)(pb->ho * pb->wo);
      for (int c = 0; c < pb->mid; c++) s->se_sum[c] *= inv;
      memset(&g, 0, sizeof g);
      g.m = 1;
      g.n = (size_t)pb->se_mid;
      g.k = (size_t)pb->mid;
      g.a = s->se_sum;
      g.lda = (size_t)pb->mid;
      g.wt = &bw->se_reduce;
      g.shift = bw->se_reduce_bias;
      g.act = DYNRT_ACT_RELU;
      g.c = s->se_hidden;
      g.ldc = (size_t)pb->se_mid;
      run_gemm(s, &g);
      memset(&g, 0, sizeof g);
      g.m = 1;
      g.n = (size_t)pb->mid;
      g.k = (size_t)pb->se_mid;
      g.a = s->se_hidden;
      g.lda = (size_t)pb->se_mid;
      g.wt = &bw->se_expand;
      g.shift = bw->se_expand_bias;
      g.act = DYNRT_ACT_HSIGMOID;
      g.c = s->se_scale;
      g.ldc = (size_t)pb->mid;
      run_gemm(s, &g);
      kscale = s->se_scale;
      PROF(s, PROF_SE, i);
    }
    /* project 1x1 (x SE scale on A) (+ shortcut, in place) -> x */
    memset(&g, 0, sizeof g);
    g.m = (size_t)(pb->ho * pb->wo);
    g.n = (size_t)pb->cout;
    g.k = (size_t)pb->mid;
    g.a = s->d;
    g.lda = d_cs;
    g.kscale = kscale;
    g.wt = &bw->proj;
    g.scale = pb->bn[2][0];
    g.shift = pb->bn[2][1];
    g.act = DYNRT_ACT_NONE;
    g.ldc = out_cs;
    if (pb->residual) {
      g.res = s->x[cur];
      g.ldr = in_cs;
      g.c = s->x[cur];
    } else {
      g.c = s->x[1 - cur];
    }
    run_gemm(s, &g);
    PROF(s, PROF_PROJ, i);
    if (!pb->residual) cur = 1 - cur;
  }

  /* head: expand 1x1 -> d, global average pool, feature mix, classifier */
  int hh = p->n ? p->b[p->n - 1].ho : p->h_first;
  int last_cin = p->n ? p->b[p->n - 1].cout : p->c1;
  size_t last_cs = cs16(last_cin);
  size_t fe_cs = cs16(p->fe);
  memset(&g, 0, sizeof g);
  g.m = (size_t)(hh * hh);
  g.n = (size_t)p->fe;
  g.k = (size_t)last_cin;
  g.a = s->x[cur];
  g.lda = last_cs;
  g.wt = &m->head_expand;
  g.scale = p->bn_head[0];
  g.shift = p->bn_head[1];
  g.act = a->head_act;
  g.c = s->d;
  g.ldc = fe_cs;
  run_gemm(s, &g);
  PROF(s, PROF_HEAD_EXPAND, 0);
  s->kern->gap((size_t)(hh * hh), (size_t)p->fe, s->d, fe_cs, s->gap);
  PROF(s, PROF_POOL, 0);
  memset(&g, 0, sizeof g);
  g.m = 1;
  g.n = (size_t)p->fm;
  g.k = (size_t)p->fe;
  g.a = s->gap;
  g.lda = (size_t)p->fe;
  g.wt = &m->head_mix;
  g.act = a->head_act;
  g.c = s->mix;
  g.ldc = (size_t)p->fm;
  run_gemm(s, &g);
  PROF(s, PROF_MIX, 0);
  memset(&g, 0, sizeof g);
  g.m = 1;
  g.n = (size_t)a->num_classes;
  g.k = (size_t)p->fm;
  g.a = s->mix;
  g.lda = (size_t)p->fm;
  g.wt = &m->classifier;
  g.shift = m->classifier_bias;
  g.act = DYNRT_ACT_NONE;
  g.c = s->logits;
  g.ldc = (size_t)a->num_classes;
  run_gemm(s, &g);
  PROF(s, PROF_CLASSIFIER, 0);
  s->have_logits = 1;
  s->stats.runs++;
  if (s->prof_on) {
    s->prof_total = dynrt_now_ns() - s->prof_t0;
    s->prof_valid = 1;
  }
}

/* ---- public API ---- */

dynrt_status dynrt_session_create(const dynrt_model *model, const dynrt_session_options *opts,
                                  dynrt_session **out, dynrt_error *err) {
  dynrt_err e;
  dynrt__clearerr(&e);
  dynrt_status st = DYNRT_OK;
  dynrt_session *s = NULL;
  if (out) *out = NULL;
  if (!model || !out) {
    st = dynrt__seterr(&e, DYNRT_ERR_INVALID_ARG, "session: NULL argument");
    goto fail;
  }
  dynrt_session_options o = {NULL, 1, 0};
  if (opts) o = *opts;
  if (!o.pool && (o.max_threads < 0 || o.max_threads > 1024 || o.threads < 0 ||
                  o.threads > (o.max_threads ? o.max_threads : 1))) {
    st = dynrt__seterr(&e, DYNRT_ERR_INVALID_ARG,
                       "session: threads = %d, max_threads = %d (need 0 <= threads <= "
                       "max_threads <= 1024)",
                       o.threads, o.max_threads);
    goto fail;
  }
  s = dynrt__calloc(1, sizeof *s);
  if (!s) {
    st = dynrt__seterr(&e, DYNRT_ERR_NOMEM, "session: no memory");
    goto fail;
  }
  s->model = model;
  s->kern = dynrt__kernels();
  const dynrt__arch *a = &model->arch;
  size_t xf, df;
  plan_memory(s, &xf, &df);
  int rmax = a->res[a->n_res - 1];
  size_t mid_max = 0, se_max = 0;
  for (int b = 0; b < a->n_blocks; b++) {
    mid_max = DYNRT_MAX(mid_max, cs16(a->blocks[b].mid_max));
    se_max = DYNRT_MAX(se_max, cs16(a->blocks[b].se_max));
  }
  size_t in_side = (size_t)(rmax + 2 * BORDER);
  size_t sizes[16], n = 0, total = 0;
  sizes[n++] = in_side * in_side * 3;
  for (int l = 0; l < s->n_levels; l++) sizes[n++] = level_floats(&s->lv[l]);
  sizes[n++] = xf;
  sizes[n++] = xf;
  sizes[n++] = df;
  sizes[n++] = mid_max; /* se_sum */
  sizes[n++] = se_max;
  sizes[n++] = mid_max; /* se_scale */
  sizes[n++] = cs16(a->final_expand);
  sizes[n++] = cs16(a->feature_mix);
  sizes[n++] = cs16(a->num_classes);
  for (size_t i = 0; i < n; i++) total += DYNRT_ROUND_UP(sizes[i] * sizeof(float), 64);
  if ((st = dynrt__arena_init(&s->arena, total, 64))) {
    st = dynrt__seterr(&e, DYNRT_ERR_NOMEM, "session: no memory for a %zu-byte arena", total);
    goto fail;
  }
  size_t i = 0;
#define TAKE() ((float *)dynrt__arena_alloc(&s->arena, sizes[i++] * sizeof(float)))
  s->in = TAKE();
  for (int l = 0; l < s->n_levels; l++) s->lv[l].base = TAKE();
  s->x[0] = TAKE();
  s->x[1] = TAKE();
  s->d = TAKE();
  s->se_sum = TAKE();
  s->se_hidden = TAKE();
  s->se_scale = TAKE();
  s->gap = TAKE();
  s->mix = TAKE();
  s->logits = TAKE();
#undef TAKE
  DYNRT_ASSERT(s->logits != NULL);
  /* Lanes past the active channels are never read as data, but start them defined. */
  memset(s->arena.base, 0, total);
  s->stats.arena_bytes = total;
  if (o.pool) {
    s->pool = o.pool;
  } else {
    int maxt = o.max_threads ? o.max_threads : 1;
    if ((st = dynrt_pool_create(maxt, &s->pool))) {
      dynrt__seterr(&e, st, "session: cannot create a pool of %d threads", maxt);
      goto fail;
    }
    s->own_pool = 1;
    if (o.threads && o.threads != maxt) dynrt_pool_set_cpus(s->pool, NULL, o.threads);
  }
  s->threads = dynrt_pool_threads(s->pool);
  dynrt_subnet big;
  dynrt_subnet_largest(model, &big);
  if ((st = plan_build(s, &big, NULL, &s->plans[0], &e))) goto fail;
  s->cur = &s->plans[0];
  *out = s;
  return DYNRT_OK;
fail:
  dynrt_session_destroy(s);
  copy_err(err, &e);
  return st;
}

void dynrt_session_destroy(dynrt_session *s) {
  if (!s) return;
  if (s->own_pool) dynrt_pool_destroy(s->pool);
  dynrt__arena_free(&s->arena);
  dynrt__free(s->prof);
  dynrt__free(s->prof_role);
  dynrt__free(s);
}

dynrt_status dynrt_session_set_subnet(dynrt_session *s, const dynrt_subnet *cfg,
                                      const dynrt_bn_table *bn) {
  if (!s) return DYNRT_ERR_INVALID_ARG;
  if (!cfg) return dynrt__seterr(&s->err, DYNRT_ERR_INVALID_ARG, "session: NULL config");
  plan *next = s->cur == &s->plans[0] ? &s->plans[1] : &s->plans[0];
  dynrt_status st = plan_build(s, cfg, bn, next, &s->err);
  if (st) return st;
  s->cur = next;
  s->stats.switches++;
  s->stats.switch_plan_bytes = offsetof(plan, b) + (size_t)next->n * sizeof(pblock);
  return DYNRT_OK;
}

void dynrt_session_get_subnet(const dynrt_session *s, dynrt_subnet *out) {
  memcpy(out, &s->cur->cfg, sizeof *out);
}

dynrt_status dynrt_session_set_threads(dynrt_session *s, int n, const int *cpus) {
  if (!s) return DYNRT_ERR_INVALID_ARG;
  if (!s->own_pool)
    return dynrt__seterr(&s->err, DYNRT_ERR_STATE,
                         "session: the pool is borrowed; its owner sets threads and cores");
  if (n < 1 || n > dynrt_pool_max_threads(s->pool))
    return dynrt__seterr(&s->err, DYNRT_ERR_INVALID_ARG, "session: threads = %d not in 1..%d", n,
                         dynrt_pool_max_threads(s->pool));
  dynrt_status st = dynrt_pool_set_cpus(s->pool, cpus, n);
  s->threads = dynrt_pool_threads(s->pool);
  if (st) return dynrt__seterr(&s->err, st, "session: %s", dynrt_pool_errmsg(s->pool));
  return DYNRT_OK;
}

int dynrt_session_threads(const dynrt_session *s) { return s ? s->threads : 0; }

dynrt_status dynrt_session_run_tensor(dynrt_session *s, const float *nhwc, int r) {
  if (!s) return DYNRT_ERR_INVALID_ARG;
  if (!nhwc) return dynrt__seterr(&s->err, DYNRT_ERR_INVALID_ARG, "session: NULL input");
  if (r != s->cur->r)
    return dynrt__seterr(&s->err, DYNRT_ERR_INVALID_ARG,
                         "session: input is %dx%d, the active sub-network runs at r = %d", r, r,
                         s->cur->r);
  if (s->prof_on) prof_start(s);
  if (!s->own_pool) s->threads = dynrt_pool_threads(s->pool);
  prepare_borders(s, s->cur);
  size_t rs = (size_t)(r + 2 * BORDER) * 3;
  float *dst = s->in + BORDER * rs + BORDER * 3;
  for (int y = 0; y < r; y++)
    memcpy(dst + (size_t)y * rs, nhwc + (size_t)y * (size_t)r * 3, (size_t)r * 3 * sizeof *dst);
  PROF(s, PROF_INPUT, 0);
  forward(s);
  return DYNRT_OK;
}

dynrt_status dynrt_session_run_image(dynrt_session *s, const uint8_t *rgb, int width, int height,
                                     size_t row_stride) {
  if (!s) return DYNRT_ERR_INVALID_ARG;
  if (!rgb || width < 1 || height < 1 || row_stride < (size_t)width * 3)
    return dynrt__seterr(&s->err, DYNRT_ERR_INVALID_ARG,
                         "session: image %dx%d with row stride %zu is not a valid RGB image", width,
                         height, row_stride);
  if (s->prof_on) prof_start(s);
  if (!s->own_pool) s->threads = dynrt_pool_threads(s->pool);
  const dynrt__arch *a = &s->model->arch;
  int r = s->cur->r;
  prepare_borders(s, s->cur);
  size_t rs = (size_t)(r + 2 * BORDER) * 3;
  dynrt__preprocess_rgb(a, r, rgb, width, height, row_stride, s->in + BORDER * rs + BORDER * 3, rs);
  PROF(s, PROF_INPUT, 0);
  forward(s);
  return DYNRT_OK;
}

const float *dynrt_session_logits(const dynrt_session *s, size_t *n) {
  if (n) *n = s ? (size_t)s->model->arch.num_classes : 0;
  return s && s->have_logits ? s->logits : NULL;
}

dynrt_status dynrt_session_probs(const dynrt_session *s, float *probs, size_t n) {
  if (!s || !probs || n < (size_t)s->model->arch.num_classes) return DYNRT_ERR_INVALID_ARG;
  if (!s->have_logits) return DYNRT_ERR_STATE;
  dynrt__softmax(s->logits, (size_t)s->model->arch.num_classes, probs);
  return DYNRT_OK;
}

dynrt_status dynrt_session_topk(const dynrt_session *s, size_t k, int *classes, float *prob) {
  if (!s || !classes || k == 0 || k > (size_t)s->model->arch.num_classes || k > 64)
    return DYNRT_ERR_INVALID_ARG;
  if (!s->have_logits) return DYNRT_ERR_STATE;
  size_t nc = (size_t)s->model->arch.num_classes, idx[64];
  dynrt__topk(s->logits, nc, k, idx);
  /* softmax of the chosen logits against the whole set, without a scratch array */
  float mx = s->logits[idx[0]];
  double sum = 0;
  for (size_t i = 0; i < nc; i++) sum += exp((double)(s->logits[i] - mx));
  for (size_t i = 0; i < k; i++) {
    classes[i] = (int)idx[i];
    if (prob) prob[i] = (float)(exp((double)(s->logits[idx[i]] - mx)) / sum);
  }
  return DYNRT_OK;
}

void dynrt_session_get_stats(const dynrt_session *s, dynrt_session_stats *out) { *out = s->stats; }

dynrt_status dynrt_session_set_profiling(dynrt_session *s, int on) {
  if (!s) return DYNRT_ERR_INVALID_ARG;
  if (on && !s->prof) {
    s->prof = dynrt__calloc(PROF_MAX, sizeof *s->prof);
    s->prof_role = dynrt__calloc(PROF_MAX, 1);
    if (!s->prof || !s->prof_role) {
      dynrt__free(s->prof);
      dynrt__free(s->prof_role);
      s->prof = NULL;
      s->prof_role = NULL;
      return dynrt__seterr(&s->err, DYNRT_ERR_NOMEM, "session: no memory for a %d-layer profile",
                           PROF_MAX);
    }
  }
  if (on && !s->prof_on) s->prof_valid = 0;
  s->prof_on = on != 0;
  return DYNRT_OK;
}

dynrt_status dynrt_session_get_layer_times(const dynrt_session *s, dynrt_layer_time *out,
                                           size_t cap, size_t *n_layers, uint64_t *total_ns) {
  static const char *const role_name[] = {
      "input", "stem", "first.dw",    "first.proj", "expand",   "dw",
      "se",    "proj", "head.expand", "head.pool",  "head.mix", "head.classifier"};
  if (!s || !n_layers || (cap && !out)) return DYNRT_ERR_INVALID_ARG;
  if (!s->prof_valid) return DYNRT_ERR_STATE;
  *n_layers = s->prof_n;
  if (total_ns) *total_ns = s->prof_total;
  for (size_t i = 0; i < s->prof_n && i < cap; i++) {
    out[i] = s->prof[i];
    int role = s->prof_role[i];
    if (role >= PROF_EXPAND && role <= PROF_PROJ)
      snprintf(out[i].name, sizeof out[i].name, "blocks.%d.%s", out[i].block, role_name[role]);
    else
      snprintf(out[i].name, sizeof out[i].name, "%s", role_name[role]);
  }
  return DYNRT_OK;
}

const char *dynrt_session_errmsg(const dynrt_session *s) {
  return s ? dynrt__errmsg(&s->err) : "no session";
}

/*
 * lut.c - latency measurement helpers and the per-block latency table: every block
 * configuration a sub-network of the model can contain, timed alone with the engine's
 * kernels and layouts (calib.c's executor, one thread), plus stem and head per resolution
 * and width. Whole sub-networks are predicted as the sum of their entries. It predicts
 * one-thread latency only; scaling to more threads is the caller's (documented) model.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine/engine_int.h"
#include "offline/offline_int.h"

#define fail dynrt__offline_fail

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, int n, double p) {
  int i = (int)ceil(p / 100.0 * n);
  return (double)v[i ? i - 1 : 0];
}

void dynrt_latency_summary(uint64_t *ns, int n, dynrt_latency *out) {
  memset(out, 0, sizeof *out);
  if (n <= 0) return;
  qsort(ns, (size_t)n, sizeof *ns, cmp_u64);
  double sum = 0;
  for (int i = 0; i < n; i++) sum += (double)ns[i];
  out->runs = n;
  out->median_ms = pct(ns, n, 50) * 1e-6;
  out->p95_ms = pct(ns, n, 95) * 1e-6;
  out->mean_ms = sum / n * 1e-6;
  out->min_ms = (double)ns[0] * 1e-6;
  out->max_ms = (double)ns[n - 1] * 1e-6;
  out->spread = out->median_ms > 0 ? (out->p95_ms - pct(ns, n, 5) * 1e-6) / out->median_ms : 0;
}

/* A fixed input for timing at resolution r (any values do, the kernels' time does not depend
 * on them); any r' <= r uses its prefix. */
static float *synthetic_input(int r) {
  float *in = dynrt__malloc(sizeof(float) * (size_t)(r * r * 3));
  for (int i = 0; in && i < r * r * 3; i++) in[i] = sinf(0.37f * (float)i);
  return in;
}

static float *timing_input(dynrt_session *s, int *r) {
  dynrt_subnet cfg;
  dynrt_session_get_subnet(s, &cfg);
  *r = cfg.r;
  return synthetic_input(cfg.r);
}

dynrt_status dynrt_profile_session_raw(dynrt_session *s, int runs, uint64_t *ns) {
  if (!s || !ns || runs < 1) return DYNRT_ERR_INVALID_ARG;
  int r;
  float *in = timing_input(s, &r);
  if (!in) return DYNRT_ERR_NOMEM;
  dynrt_status st = DYNRT_OK;
  for (int i = 0; i < runs && !st; i++) {
    uint64_t t0 = dynrt_now_ns();
    st = dynrt_session_run_tensor(s, in, r);
    ns[i] = dynrt_now_ns() - t0;
  }
  dynrt__free(in);
  return st;
}

dynrt_status dynrt_profile_session(dynrt_session *s, int warmup, int runs, dynrt_latency *out) {
  if (!s || !out || runs < 1 || warmup < 0) return DYNRT_ERR_INVALID_ARG;
  int r;
  float *in = timing_input(s, &r);
  uint64_t *t = dynrt__malloc(sizeof(uint64_t) * (size_t)runs);
  if (!in || !t) {
    dynrt__free(in);
    dynrt__free(t);
    return DYNRT_ERR_NOMEM;
  }
  dynrt_status st = DYNRT_OK;
  for (int i = 0; i < warmup && !st; i++) st = dynrt_session_run_tensor(s, in, r);
  dynrt__free(in);
  if (!st) st = dynrt_profile_session_raw(s, runs, t);
  if (!st) dynrt_latency_summary(t, runs, out);
  dynrt__free(t);
  return st;
}

dynrt_status dynrt_profile_interleaved(dynrt_session *s, const dynrt_subnet *cfg, int n, int rounds,
                                       int runs, int warmup, uint64_t *const *ns,
                                       dynrt_round_hook hook, void *user) {
  if (!s || !cfg || !ns || n < 1 || rounds < 1 || runs < rounds || warmup < 1)
    return DYNRT_ERR_INVALID_ARG;
  float *in = NULL; /* the synthetic input at the largest resolution set so far */
  int rmax = 0;
  dynrt_status st = DYNRT_OK;
  for (int rd = 0; rd < rounds && !st; rd++)
    for (int i = 0; i < n && !st; i++) {
      int k = runs * (rd + 1) / rounds - runs * rd / rounds;
      int done = runs * rd / rounds;
      if ((st = dynrt_session_set_subnet(s, &cfg[i], NULL))) break; /* validates cfg[i].r */
      if (cfg[i].r > rmax) {
        dynrt__free(in);
        if (!(in = synthetic_input(rmax = cfg[i].r))) st = DYNRT_ERR_NOMEM;
      }
      for (int w = 0; w < (rd == 0 ? warmup : 1) && !st; w++)
        st = dynrt_session_run_tensor(s, in, cfg[i].r);
      if (st || k == 0) continue;
      if (hook) hook(user, i, k, 0);
      for (int j = 0; j < k && !st; j++) {
        uint64_t t0 = dynrt_now_ns();
        st = dynrt_session_run_tensor(s, in, cfg[i].r);
        ns[i][done + j] = dynrt_now_ns() - t0;
      }
      if (hook && !st) hook(user, i, k, 1);
    }
  dynrt__free(in);
  return st;
}

/* ---- the memory term ---- */

double dynrt_latency_fit_predict(const dynrt_latency_fit *f, double table_ns, double bytes) {
  double over = bytes > f->c ? bytes - f->c : 0;
  return f->a * table_ns + f->b * over;
}

/* Sum of the squared relative errors of (a, b, c) over the points except skip. */
static double sse_of(const double *t, const double *w, const double *y, int n, int skip, double c,
                     double a, double b) {
  double sse = 0;
  for (int i = 0; i < n; i++) {
    if (i == skip) continue;
    double e = (a * t[i] + b * (w[i] > c ? w[i] - c : 0) - y[i]) / y[i];
    sse += e * e;
  }
  return sse;
}

/* Least squares of the relative error for fixed c: minimise sum ((a t + b o - y) / y)^2 with
 * b >= 0; the memory term is kept only where it lowers the error by more than rounding.
 * Returns the sum of squares, or -1 when no a > 0 fits. */
static double fit_at(const double *t, const double *w, const double *y, int n, int skip, double c,
                     double *a, double *b) {
  double stt = 0, sto = 0, soo = 0, st = 0, so = 0;
  for (int i = 0; i < n; i++) {
    if (i == skip) continue;
    double u = t[i] / y[i], v = (w[i] > c ? w[i] - c : 0) / y[i];
    stt += u * u, sto += u * v, soo += v * v, st += u, so += v;
  }
  *b = 0;
  *a = stt > 0 ? st / stt : 0;
  if (!(*a > 0)) return -1;
  double sse = sse_of(t, w, y, n, skip, c, *a, 0);
  double det = stt * soo - sto * sto;
  if (soo > 0 && det > 1e-12 * stt * soo) {
    double aa = (st * soo - so * sto) / det, bb = (stt * so - sto * st) / det;
    double s2 = aa > 0 && bb > 0 ? sse_of(t, w, y, n, skip, c, aa, bb) : sse;
    if (s2 < sse * (1 - 1e-6) - 1e-12) *a = aa, *b = bb, sse = s2;
  }
  return sse;
}

dynrt_status dynrt_latency_fit_solve(const double *table_ns, const double *bytes,
                                     const double *measured_ns, int n, int skip,
                                     dynrt_latency_fit *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!table_ns || !bytes || !measured_ns || !out || skip >= n || n - (skip >= 0) < 3)
    return DYNRT_ERR_INVALID_ARG;
  double wmax = 0;
  for (int i = 0; i < n; i++) {
    if (!(table_ns[i] > 0 && measured_ns[i] > 0 && bytes[i] >= 0)) return DYNRT_ERR_INVALID_ARG;
    if (i != skip && bytes[i] > wmax) wmax = bytes[i];
  }
  /* c on a grid of 256 steps from 0 to the largest W (the sum of squares is piecewise smooth
   * in c, with kinks at the W values; the grid is fine enough for a cache-size estimate) */
  double best = -1;
  for (int g = 0; g <= 256; g++) {
    double c = wmax * g / 256.0, a, b;
    double sse = fit_at(table_ns, bytes, measured_ns, n, skip, c, &a, &b);
    if (sse >= 0 && (best < 0 || sse < best * (1 - 1e-9) - 1e-15)) {
      best = sse;
      out->a = a, out->b = b, out->c = b > 0 ? c : 0;
    }
  }
  if (best < 0) return DYNRT_ERR_INVALID_ARG;
  out->rms_pct = 100 * sqrt(best / (n - (skip >= 0)));
  return DYNRT_OK;
}

/* ---- the table ---- */

enum { KIND_BLOCK = 0, KIND_STEM = 1, KIND_HEAD = 2 };

typedef struct lut_entry {
  int kind;
  dynrt__blockcfg b; /* KIND_BLOCK; for stem/head: h = r or head input, cin, w in wq */
  int wq;            /* width multiplier x 1000 (stem / head) */
  double ns;         /* median */
} lut_entry;

struct dynrt_block_lut {
  const dynrt_model *m;
  size_t n, cap;
  lut_entry *e;
  int has_fit;
  dynrt_latency_fit fit; /* the memory term (has_fit) */
};

void dynrt_block_lut_set_fit(dynrt_block_lut *l, const dynrt_latency_fit *f) {
  if (!l) return;
  l->has_fit = f != NULL;
  if (f) l->fit = *f;
}

int dynrt_block_lut_get_fit(const dynrt_block_lut *l, dynrt_latency_fit *out) {
  if (!l || !l->has_fit) return 0;
  if (out) *out = l->fit;
  return 1;
}

static int same_block(const dynrt__blockcfg *a, const dynrt__blockcfg *b) {
  return a->cin == b->cin && a->mid == b->mid && a->cout == b->cout && a->k == b->k &&
         a->stride == b->stride && a->se == b->se && a->act == b->act && a->h == b->h &&
         a->residual == b->residual;
}

static const lut_entry *find(const dynrt_block_lut *l, int kind, const dynrt__blockcfg *b, int wq) {
  for (size_t i = 0; i < l->n; i++) {
    const lut_entry *e = &l->e[i];
    if (e->kind != kind) continue;
    if (kind == KIND_BLOCK ? same_block(&e->b, b)
                           : (e->b.h == b->h && e->b.cin == b->cin && e->wq == wq))
      return e;
  }
  return NULL;
}

static int add(dynrt_block_lut *l, int kind, const dynrt__blockcfg *b, int wq) {
  if (find(l, kind, b, wq)) return 0;
  if (l->n == l->cap) {
    size_t nc = l->cap ? 2 * l->cap : 64;
    lut_entry *ne = dynrt__realloc(l->e, l->cap * sizeof *ne, nc * sizeof *ne);
    if (!ne) return -1;
    l->e = ne;
    l->cap = nc;
  }
  lut_entry *e = &l->e[l->n++];
  memset(e, 0, sizeof *e);
  e->kind = kind;
  e->b = *b;
  e->wq = wq;
  return 0;
}

static const char *act_name(int act) { return dynrt__act_name((dynrt_act)act); }

void dynrt_block_lut_destroy(dynrt_block_lut *l) {
  if (!l) return;
  dynrt__free(l->e);
  dynrt__free(l);
}

size_t dynrt_block_lut_entries(const dynrt_block_lut *l) { return l ? l->n : 0; }

/* Head input (size, channels) of resolution r and width w: the last stage's output. */
static void head_input(const dynrt__arch *a, int r, double w, int *h, int *c) {
  int hh = dynrt__conv_out(r, a->stem_kernel, a->stem_stride);
  hh = dynrt__conv_out(hh, a->first_kernel, a->first_stride);
  for (int b = 0; b < a->n_blocks; b++) hh = dynrt__conv_out(hh, 3, a->blocks[b].stride);
  *h = hh;
  *c = dynrt__active_width(a, a->stages[a->n_stages - 1].width, w);
}

/* Every entry any sub-network can reach: per block, each resolution, width, expand ratio
 * and kernel size (the block's input channels follow from the width alone). */
static int enumerate(dynrt_block_lut *l) {
  const dynrt__arch *a = &l->m->arch;
  for (int ri = 0; ri < a->n_res; ri++)
    for (int wi = 0; wi < a->n_ws; wi++) {
      int r = a->res[ri];
      double w = a->ws[wi];
      int wq = (int)lround(w * 1000);
      dynrt__blockcfg sb = {0};
      sb.h = r;
      if (add(l, KIND_STEM, &sb, wq)) return -1;
      int h = dynrt__conv_out(r, a->stem_kernel, a->stem_stride);
      h = dynrt__conv_out(h, a->first_kernel, a->first_stride);
      int cin = dynrt__active_width(a, a->first_out, w);
      for (int si = 0; si < a->n_stages; si++) {
        const dynrt__stage *sg = &a->stages[si];
        int cout = dynrt__active_width(a, sg->width, w);
        for (int i = 0; i < sg->dmax; i++) {
          int j = sg->first_block + i;
          const dynrt__block *bl = &a->blocks[j];
          for (int ei = 0; ei < a->n_es; ei++)
            for (int ki = 0; ki < a->n_ks; ki++) {
              dynrt__blockcfg b = {j,      cin,          dynrt__mid_channels(a, cin, a->es[ei]),
                                   cout,   a->ks[ki],    bl->stride,
                                   bl->se, bl->residual, (int)bl->act,
                                   h};
              if (add(l, KIND_BLOCK, &b, 0)) return -1;
            }
          h = dynrt__conv_out(h, 3, bl->stride);
          cin = cout;
        }
      }
      dynrt__blockcfg hb = {0};
      head_input(a, r, w, &hb.h, &hb.cin);
      if (add(l, KIND_HEAD, &hb, wq)) return -1;
    }
  return 0;
}

dynrt_status dynrt_block_lut_build(const dynrt_model *m, int warmup, int runs,
                                   dynrt_progress_fn progress, void *user, dynrt_block_lut **out,
                                   dynrt_error *err) {
  if (out) *out = NULL;
  if (!m || !out || runs < 1 || warmup < 0)
    return fail(err, DYNRT_ERR_INVALID_ARG, "lut: NULL argument or runs < 1");
  dynrt_block_lut *l = dynrt__calloc(1, sizeof *l);
  dynrt__exec *x = NULL;
  uint64_t *t = dynrt__malloc(sizeof(uint64_t) * (size_t)runs);
  if (!l || !t || dynrt__exec_create(m, 1, &x)) goto nomem;
  l->m = m;
  if (enumerate(l)) goto nomem;
  /* Entries are timed in interleaved rounds so that a change of machine load (other
   * programs, frequency) spreads over all entries instead of biasing a few. */
  int rounds = runs < 5 ? runs : 5;
  uint64_t *samples = dynrt__malloc(sizeof(uint64_t) * l->n * (size_t)runs);
  if (!samples) goto nomem;
  int done_runs = 0;
  for (int rd = 0; rd < rounds; rd++) {
    int nr = runs / rounds + (rd < runs % rounds);
    for (size_t i = 0; i < l->n; i++) {
      lut_entry *e = &l->e[i];
      double w = e->wq / 1000.0;
      for (int k = 0; k < (rd == 0 ? warmup : 0) + nr; k++) {
        uint64_t t0 = dynrt_now_ns();
        if (e->kind == KIND_BLOCK)
          dynrt__exec_block(x, &e->b);
        else if (e->kind == KIND_STEM)
          dynrt__exec_stem(x, e->b.h, w);
        else
          dynrt__exec_head(x, e->b.h, e->b.cin, w);
        int j = k - (rd == 0 ? warmup : 0);
        if (j >= 0) samples[i * (size_t)runs + (size_t)(done_runs + j)] = dynrt_now_ns() - t0;
      }
    }
    done_runs += nr;
    if (progress && progress(user, (size_t)rd + 1, (size_t)rounds)) {
      dynrt__free(samples);
      dynrt__exec_destroy(x);
      dynrt__free(t);
      dynrt_block_lut_destroy(l);
      return fail(err, DYNRT_ERR_STATE, "lut: cancelled");
    }
  }
  /* Each sample includes one clock read; a sub-network measurement includes one for all
   * its entries, so the clock's own cost is taken off every entry (on virtual machines a
   * clock read can cost a few percent of a small block). */
  uint64_t clk[257];
  for (int k = 0; k < 257; k++) clk[k] = dynrt_now_ns();
  for (int k = 0; k < 256; k++) clk[k] = clk[k + 1] - clk[k];
  qsort(clk, 256, sizeof *clk, cmp_u64);
  double clock_ns = (double)clk[128];
  for (size_t i = 0; i < l->n; i++) {
    memcpy(t, samples + i * (size_t)runs, sizeof(uint64_t) * (size_t)runs);
    qsort(t, (size_t)runs, sizeof *t, cmp_u64);
    double v = pct(t, runs, 50) - clock_ns;
    l->e[i].ns = v > 1.0 ? v : 1.0;
  }
  dynrt__free(samples);
  dynrt__exec_destroy(x);
  dynrt__free(t);
  *out = l;
  return DYNRT_OK;
nomem:
  dynrt__exec_destroy(x);
  dynrt__free(t);
  dynrt_block_lut_destroy(l);
  return fail(err, DYNRT_ERR_NOMEM, "lut: no memory");
}

static int get_int(const cJSON *o, const char *k, int *v) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
  if (cJSON_IsBool(x)) {
    *v = cJSON_IsTrue(x);
    return 0;
  }
  if (!cJSON_IsNumber(x)) return -1;
  *v = x->valueint;
  return 0;
}

dynrt_status dynrt__block_lut_parse(const dynrt_model *m, const char *text, size_t len,
                                    const char *path, dynrt_block_lut **out, dynrt_error *err) {
  if (out) *out = NULL;
  if (!m || !text || !path || !out) return fail(err, DYNRT_ERR_INVALID_ARG, "lut: NULL argument");
  cJSON *root = cJSON_ParseWithLength(text, len);
  dynrt_block_lut *l = dynrt__calloc(1, sizeof *l);
  dynrt_status st = DYNRT_OK;
  if (!l || (l->m = m, enumerate(l))) {
    st = fail(err, DYNRT_ERR_NOMEM, "lut: no memory");
    goto done;
  }
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "entries");
  if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "dynrt-block-lut") || !cJSON_IsArray(arr)) {
    st = fail(err, DYNRT_ERR_FORMAT, "%s: not a dynrt-block-lut file", path);
    goto done;
  }
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "memory_term");
  if (mt) { /* optional: written when the table has a fitted memory term */
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(mt, "a");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(mt, "b_ns_per_byte");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(mt, "c_bytes");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(mt, "rms_pct");
    if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b) || !cJSON_IsNumber(c) ||
        !(a->valuedouble > 0 && a->valuedouble < 1e3) ||
        !(b->valuedouble >= 0 && b->valuedouble < 1e6) ||
        !(c->valuedouble >= 0 && c->valuedouble < 1e15)) {
      st = fail(err, DYNRT_ERR_FORMAT,
                "%s: memory_term needs a in (0, 1000), b_ns_per_byte >= 0 and c_bytes >= 0", path);
      goto done;
    }
    dynrt_latency_fit f = {a->valuedouble, b->valuedouble, c->valuedouble,
                           cJSON_IsNumber(r) ? r->valuedouble : 0};
    dynrt_block_lut_set_fit(l, &f);
  }
  for (size_t i = 0; i < l->n; i++) l->e[i].ns = -1;
  int idx = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(e, "kind");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(e, "ns");
    dynrt__blockcfg b = {0};
    int k = -1, wq = 0;
    if (!cJSON_IsString(kind) || !cJSON_IsNumber(ns) || !(ns->valuedouble > 0)) goto bad;
    if (!strcmp(kind->valuestring, "block")) {
      const cJSON *act = cJSON_GetObjectItemCaseSensitive(e, "act");
      k = KIND_BLOCK;
      if (get_int(e, "cin", &b.cin) || get_int(e, "mid", &b.mid) || get_int(e, "cout", &b.cout) ||
          get_int(e, "k", &b.k) || get_int(e, "stride", &b.stride) || get_int(e, "se", &b.se) ||
          get_int(e, "residual", &b.residual) || get_int(e, "input", &b.h) || !cJSON_IsString(act))
        goto bad;
      b.act = -1;
      for (int a = 0; a <= (int)DYNRT_ACT_HSIGMOID; a++)
        if (!strcmp(act_name(a), act->valuestring)) b.act = a;
    } else {
      const cJSON *w = cJSON_GetObjectItemCaseSensitive(e, "w");
      k = !strcmp(kind->valuestring, "head") ? KIND_HEAD : KIND_STEM;
      if (get_int(e, "input", &b.h) || !cJSON_IsNumber(w)) goto bad;
      if (k == KIND_HEAD && get_int(e, "cin", &b.cin)) goto bad;
      wq = (int)lround(w->valuedouble * 1000);
    }
    lut_entry *t = (lut_entry *)find(l, k, &b, wq);
    if (t) t->ns = ns->valuedouble;
    idx++;
    continue;
  bad:
    st = fail(err, DYNRT_ERR_FORMAT, "%s: entries[%d] malformed", path, idx);
    goto done;
  }
  for (size_t i = 0; i < l->n; i++)
    if (l->e[i].ns < 0) {
      st = fail(err, DYNRT_ERR_FORMAT,
                "%s: no entry for a %s of the model (input %d, cin %d, mid %d, k %d): the table "
                "was made for another model",
                path, l->e[i].kind == KIND_BLOCK ? "block" : "stem/head", l->e[i].b.h,
                l->e[i].b.cin, l->e[i].b.mid, l->e[i].b.k);
      goto done;
    }
done:
  cJSON_Delete(root);
  if (st) {
    dynrt_block_lut_destroy(l);
    return st;
  }
  *out = l;
  return DYNRT_OK;
}

dynrt_status dynrt_block_lut_load(const dynrt_model *m, const char *path, dynrt_block_lut **out,
                                  dynrt_error *err) {
  if (out) *out = NULL;
  if (!m || !path || !out) return fail(err, DYNRT_ERR_INVALID_ARG, "lut: NULL argument");
  FILE *fp = fopen(path, "rb");
  if (!fp) return fail(err, DYNRT_ERR_IO, "%s: cannot open", path);
  fseek(fp, 0, SEEK_END);
  long size = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  if (!(size > 0 && size < (64l << 20))) {
    fclose(fp);
    return fail(err, DYNRT_ERR_FORMAT, "%s: size %ld is not that of a block table", path, size);
  }
  char *text = dynrt__malloc((size_t)size);
  if (!text) {
    fclose(fp);
    return fail(err, DYNRT_ERR_NOMEM, "%s: out of memory for %ld bytes", path, size);
  }
  if (fread(text, 1, (size_t)size, fp) != (size_t)size) {
    fclose(fp);
    dynrt__free(text);
    return fail(err, DYNRT_ERR_IO, "%s: cannot read", path);
  }
  fclose(fp);
  dynrt_status st = dynrt__block_lut_parse(m, text, (size_t)size, path, out, err);
  dynrt__free(text);
  return st;
}

double dynrt_block_lut_predict(const dynrt_block_lut *l, const dynrt_subnet *cfg) {
  if (!l || !cfg) return -1;
  dynrt__blockcfg b[DYNRT_MAX_BLOCKS];
  int h, c;
  int n = dynrt__subnet_blocks(l->m, cfg, b, &h, &c);
  if (n < 0) return -1;
  int wq = (int)lround(cfg->w * 1000);
  dynrt__blockcfg key = {0};
  key.h = cfg->r;
  const lut_entry *e = find(l, KIND_STEM, &key, wq);
  if (!e) return -1;
  double ns = e->ns;
  for (int i = 0; i < n; i++) {
    if (!(e = find(l, KIND_BLOCK, &b[i], 0))) return -1;
    ns += e->ns;
  }
  key.h = h;
  key.cin = c;
  if (!(e = find(l, KIND_HEAD, &key, wq))) return -1;
  return ns + e->ns;
}

double dynrt_block_lut_predict_fitted(const dynrt_block_lut *l, const dynrt_subnet *cfg) {
  double t = dynrt_block_lut_predict(l, cfg);
  if (t < 0 || !l->has_fit) return t;
  double w = (double)dynrt_subnet_params(l->m, cfg) * sizeof(float);
  return dynrt_latency_fit_predict(&l->fit, t, w);
}

dynrt_status dynrt_block_lut_save(const dynrt_block_lut *l, const char *path, dynrt_error *err) {
  if (!l || !path) return fail(err, DYNRT_ERR_INVALID_ARG, "lut: NULL argument");
  dynrt_model_info info;
  dynrt_model_get_info(l->m, &info);
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "format", "dynrt-block-lut");
  cJSON_AddNumberToObject(root, "version", 1);
  cJSON_AddStringToObject(root, "model", info.name);
  cJSON_AddStringToObject(root, "kernels", dynrt__kernels()->name);
  cJSON_AddStringToObject(root, "measured", "one thread, median per entry, this machine");
  if (l->has_fit) {
    cJSON *mt = cJSON_AddObjectToObject(root, "memory_term");
    cJSON_AddStringToObject(mt, "form", "a * sum + b_ns_per_byte * max(0, weight bytes - c_bytes)");
    cJSON_AddNumberToObject(mt, "a", l->fit.a);
    cJSON_AddNumberToObject(mt, "b_ns_per_byte", l->fit.b);
    cJSON_AddNumberToObject(mt, "c_bytes", l->fit.c);
    cJSON_AddNumberToObject(mt, "rms_pct", l->fit.rms_pct);
  }
  cJSON *arr = cJSON_AddArrayToObject(root, "entries");
  for (size_t i = 0; i < l->n; i++) {
    const lut_entry *e = &l->e[i];
    cJSON *o = cJSON_CreateObject();
    if (e->kind == KIND_BLOCK) {
      cJSON_AddStringToObject(o, "kind", "block");
      cJSON_AddNumberToObject(o, "cin", e->b.cin);
      cJSON_AddNumberToObject(o, "mid", e->b.mid);
      cJSON_AddNumberToObject(o, "cout", e->b.cout);
      cJSON_AddNumberToObject(o, "k", e->b.k);
      cJSON_AddNumberToObject(o, "stride", e->b.stride);
      cJSON_AddBoolToObject(o, "se", e->b.se);
      cJSON_AddStringToObject(o, "act", act_name(e->b.act));
      cJSON_AddBoolToObject(o, "residual", e->b.residual);
      cJSON_AddNumberToObject(o, "input", e->b.h);
    } else {
      cJSON_AddStringToObject(o, "kind", e->kind == KIND_STEM ? "stem+first" : "head");
      cJSON_AddNumberToObject(o, "input", e->b.h);
      if (e->kind == KIND_HEAD) cJSON_AddNumberToObject(o, "cin", e->b.cin);
      cJSON_AddNumberToObject(o, "w", e->wq / 1000.0);
    }
    cJSON_AddNumberToObject(o, "ns", e->ns);
    cJSON_AddItemToArray(arr, o);
  }
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) return fail(err, DYNRT_ERR_NOMEM, "lut: no memory");
  FILE *fp = fopen(path, "w");
  dynrt_status st = DYNRT_OK;
  if (!fp || fputs(text, fp) < 0 || fputc('\n', fp) < 0)
    st = fail(err, DYNRT_ERR_IO, "%s: cannot write", path);
  if (fp && fclose(fp) != 0 && !st) st = fail(err, DYNRT_ERR_IO, "%s: cannot write", path);
  cJSON_free(text);
  return st;
}

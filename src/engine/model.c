/*
 * model.c - builds a dynrt_model from a validated safetensors file: checks the tensor table
 * against the architecture (missing, extra, mis-shaped), packs every weight once into the
 * kernel layouts (all depthwise kernel sizes precomputed), folds the file's BN statistics
 * into default scale/shift tables, then drops the mapping. Also the BN-table objects.
 * Nothing here runs at inference time.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"

#define ALIGN_FLOATS 16 /* every packed array starts on a 64-byte boundary */

static void copy_err(dynrt_error *out, const dynrt_err *in) {
  if (!out) return;
  out->status = in->status;
  snprintf(out->msg, sizeof out->msg, "%s", dynrt__errmsg(in));
}

/* ---- the expected tensor table (docs/formats.md §1.2) ---- */

typedef struct spec {
  char name[64];
  int ndim;
  int64_t shape[4];
} spec;

typedef struct loader {
  dynrt_model *m;
  dynrt__st_file *f;
  dynrt_err *err;
  float *scratch; /* aligned copy of a tensor whose bytes are not 4-byte aligned */
  size_t scratch_floats;
  float *tmp[2]; /* kernel-transform work buffers */
  size_t next;   /* bump offset into m->blob, in floats */
} loader;

static float *bump(loader *l, size_t floats) {
  float *p = l->m->blob + l->next;
  l->next += DYNRT_ROUND_UP(floats, ALIGN_FLOATS);
  DYNRT_ASSERT(l->next <= l->m->blob_floats);
  return p;
}

/* Looks a tensor up, checks its shape, marks it used and returns its floats. */
static dynrt_status get(loader *l, const char *name, int ndim, const int64_t *shape,
                        const float **out) {
  dynrt__tensor *t = dynrt__st_find(l->f, name);
  if (!t)
    return dynrt__seterr(l->err, DYNRT_ERR_FORMAT, "%s: tensor '%s' is missing", l->f->path, name);
  int same = t->ndim == ndim;
  for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
  if (!same) {
    char got[96], want[96];
    size_t u = 0;
    u += (size_t)snprintf(got + u, sizeof got - u, "[");
    for (int i = 0; i < t->ndim && u < sizeof got; i++)
      u += (size_t)snprintf(got + u, sizeof got - u, "%s%lld", i ? ", " : "",
                            (long long)t->shape[i]);
    if (u < sizeof got) snprintf(got + u, sizeof got - u, "]");
    u = (size_t)snprintf(want, sizeof want, "[");
    for (int i = 0; i < ndim && u < sizeof want; i++)
      u +=
          (size_t)snprintf(want + u, sizeof want - u, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (u < sizeof want) snprintf(want + u, sizeof want - u, "]");
    return dynrt__seterr(l->err, DYNRT_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s",
                         l->f->path, name, got, want);
  }
  t->used = 1;
  if (((uintptr_t)t->data & 3) == 0) {
    *out = (const float *)(const void *)t->data;
  } else {
    /* Allocated on first need: files written by the reference are aligned and never pay. */
    size_t n = (size_t)(t->end - t->begin) / 4;
    DYNRT_ASSERT(n <= l->scratch_floats);
    if (!l->scratch && !(l->scratch = dynrt__aligned_alloc(l->scratch_floats * 4, 64)))
      return dynrt__seterr(l->err, DYNRT_ERR_NOMEM, "%s: no memory to align tensor '%s'",
                           l->f->path, name);
    memcpy(l->scratch, t->data, n * 4);
    *out = l->scratch;
  }
  return DYNRT_OK;
}

static dynrt_status get4(loader *l, const char *name, int64_t a, int64_t b, int64_t c, int64_t d,
                         const float **out) {
  int64_t s[4] = {a, b, c, d};
  return get(l, name, 4, s, out);
}

static dynrt_status get1(loader *l, const char *name, int64_t a, const float **out) {
  return get(l, name, 1, &a, out);
}

static dynrt_status pack_gemm(loader *l, const char *name, int nmax, int kmax, int ndim,
                              dynrt__gemm_w *g) {
  const float *src;
  int64_t s4[4] = {nmax, kmax, 1, 1};
  dynrt_status st = get(l, name, ndim, s4, &src);
  if (st) return st;
  g->nmax = nmax;
  g->kmax = kmax;
  g->panel_stride = (size_t)kmax * DYNRT_NR;
  float *dst = bump(l, dynrt__gemm_packed_size((size_t)nmax, (size_t)kmax));
  dynrt__gemm_pack(src, (size_t)nmax, (size_t)kmax, dst);
  g->w = dst;
  return DYNRT_OK;
}

/* A vector copied into the tables (biases); the copy keeps 16-float padding zeroed. */
static dynrt_status copy_vec(loader *l, const char *name, int n, const float **out) {
  const float *src;
  dynrt_status st = get1(l, name, n, &src);
  if (st) return st;
  float *dst = bump(l, (size_t)n);
  memcpy(dst, src, (size_t)n * sizeof *dst);
  *out = dst;
  return DYNRT_OK;
}

static dynrt_status load_bn(loader *l, const char *prefix, int c, int id) {
  static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
  const float *v[4];
  for (int i = 0; i < 4; i++) {
    char name[160];
    snprintf(name, sizeof name, "%s.%s", prefix, parts[i]);
    dynrt_status st = get1(l, name, c, &v[i]);
    if (st) return st;
    /* The scratch copy is reused by the next get(); keep this one. */
    if (v[i] == l->scratch) {
      float *keep = bump(l, (size_t)c);
      memcpy(keep, v[i], (size_t)c * sizeof *keep);
      v[i] = keep;
    }
  }
  dynrt__bn_default *bn = &l->m->bn[id];
  float *scale = bump(l, (size_t)c), *shift = bump(l, (size_t)c);
  float *gamma = bump(l, (size_t)c), *beta = bump(l, (size_t)c);
  double eps = l->m->arch.bn_eps;
  for (int i = 0; i < c; i++) {
    if (!(v[3][i] >= 0) || !isfinite(v[3][i]) || !isfinite(v[2][i]))
      return dynrt__seterr(l->err, DYNRT_ERR_FORMAT,
                           "%s: tensor '%s.%s'[%d] = %g is not a valid statistic", l->f->path,
                           prefix, isfinite(v[2][i]) ? "running_var" : "running_mean", i,
                           (double)(isfinite(v[2][i]) ? v[3][i] : v[2][i]));
    double s = v[0][i] / sqrt((double)v[3][i] + eps);
    scale[i] = (float)s;
    shift[i] = (float)(v[1][i] - v[2][i] * s);
    gamma[i] = v[0][i];
    beta[i] = v[1][i];
  }
  bn->scale = scale;
  bn->shift = shift;
  bn->gamma = gamma;
  bn->beta = beta;
  bn->cmax = c;
  if (id + 1 > l->m->n_bn) l->m->n_bn = id + 1;
  return DYNRT_OK;
}

/* Depthwise kernels of every size for one layer of c channels. */
static dynrt_status load_dw(loader *l, const char *prefix, int c, dynrt__block_w *bw) {
  const dynrt__arch *a = &l->m->arch;
  char name[160];
  const float *src;
  int kmax = a->kmax;
  snprintf(name, sizeof name, "%s.weight", prefix);
  dynrt_status st = get4(l, name, c, 1, kmax, kmax, &src);
  if (st) return st;
  size_t cs = DYNRT_ROUND_UP((size_t)c, 16);
  bw->dw_cs = cs;
  /* cur holds the current (larger) kernel in PyTorch layout [c][k*k]. */
  float *cur = l->tmp[0], *nxt = l->tmp[1];
  memcpy(cur, src, (size_t)c * (size_t)(kmax * kmax) * sizeof *cur);
  int kc = kmax;
  float *dst = bump(l, (size_t)(kc * kc) * cs);
  dynrt__dw_pack(cur, (size_t)c, (size_t)kc, dst, cs);
  bw->dw[kc] = dst;
  for (int i = a->n_ks - 2; i >= 0; i--) {
    int kb = a->ks[i], off = (kc - kb) / 2, tb = kb * kb;
    const float *mat = NULL;
    if (a->kernel_transform) {
      snprintf(name, sizeof name, "%s.%dto%d_matrix", prefix, kc, kb);
      int64_t s2[2] = {tb, tb};
      if ((st = get(l, name, 2, s2, &mat))) return st;
    }
    for (int ch = 0; ch < c; ch++) {
      float crop[49];
      const float *w = cur + (size_t)ch * (size_t)(kc * kc);
      for (int y = 0; y < kb; y++)
        for (int x = 0; x < kb; x++) crop[y * kb + x] = w[(y + off) * kc + x + off];
      float *o = nxt + (size_t)ch * (size_t)tb;
      if (!mat) {
        memcpy(o, crop, (size_t)tb * sizeof *o);
        continue;
      }
      /* F.linear(crop, M): o[i] = sum_j crop[j] * M[i][j] */
      for (int r = 0; r < tb; r++) {
        double acc = 0;
        for (int j = 0; j < tb; j++) acc += (double)crop[j] * mat[r * tb + j];
        o[r] = (float)acc;
      }
    }
    dst = bump(l, (size_t)tb * cs);
    dynrt__dw_pack(nxt, (size_t)c, (size_t)kb, dst, cs);
    bw->dw[kb] = dst;
    float *t = cur;
    cur = nxt;
    nxt = t;
    kc = kb;
  }
  return DYNRT_OK;
}

/* Floats of the blob, computed before allocating it once: packed weights into *weights,
 * and the total with every table (BN: scale, shift, gamma, beta and up to four aligned
 * copies of unaligned inputs, 8 vectors per layer; SE and classifier biases). */
static size_t blob_plan(const dynrt__arch *a, size_t *weights) {
  size_t w = 0, t = 0;
#define R(x) DYNRT_ROUND_UP((size_t)(x), ALIGN_FLOATS)
  size_t ks = (size_t)a->stem_kernel, kf = (size_t)a->first_kernel;
  w += R(dynrt__conv_packed_size((size_t)a->stem_out, 3, ks));
  w += R(kf * kf * DYNRT_ROUND_UP((size_t)a->stem_out, 16));
  w += R(dynrt__gemm_packed_size((size_t)a->first_out, (size_t)a->stem_out));
  t += 8 * (2 * R(a->stem_out) + R(a->first_out));
  for (int b = 0; b < a->n_blocks; b++) {
    const dynrt__block *bl = &a->blocks[b];
    size_t mid = (size_t)bl->mid_max, se = (size_t)bl->se_max;
    w += R(dynrt__gemm_packed_size(mid, (size_t)bl->cin_max));
    for (int i = 0; i < a->n_ks; i++)
      w += R((size_t)(a->ks[i] * a->ks[i]) * DYNRT_ROUND_UP(mid, 16));
    if (bl->se) {
      w += R(dynrt__gemm_packed_size(se, mid)) + R(dynrt__gemm_packed_size(mid, se));
      t += R(se) + R(mid);
    }
    w += R(dynrt__gemm_packed_size((size_t)bl->cout_max, mid));
    t += 8 * (2 * R(mid) + R(bl->cout_max));
  }
  size_t last = (size_t)a->stages[a->n_stages - 1].width;
  w += R(dynrt__gemm_packed_size((size_t)a->final_expand, last));
  w += R(dynrt__gemm_packed_size((size_t)a->feature_mix, (size_t)a->final_expand));
  w += R(dynrt__gemm_packed_size((size_t)a->num_classes, (size_t)a->feature_mix));
  t += 8 * R(a->final_expand) + R(a->num_classes);
#undef R
  *weights = w;
  return w + t;
}

/* Floats the largest sub-network reads from the packed set. */
static size_t largest_reads(const dynrt_model *m) {
  const dynrt__arch *a = &m->arch;
  double w = a->ws[a->n_ws - 1], e = a->es[a->n_es - 1];
#define G(n, k) (DYNRT_DIV_UP((size_t)(n), DYNRT_NR) * DYNRT_NR * (size_t)(k))
  size_t c0 = (size_t)dynrt__active_width(a, a->stem_out, w);
  size_t c1 = (size_t)dynrt__active_width(a, a->first_out, w);
  size_t ks = (size_t)a->stem_kernel, kf = (size_t)a->first_kernel;
  size_t n = G(c0, ks * ks * 3) + kf * kf * c0 + G(c1, c0);
  size_t cin = c1;
  for (int b = 0; b < a->n_blocks; b++) {
    const dynrt__block *bl = &a->blocks[b];
    size_t cout = (size_t)dynrt__active_width(a, bl->cout_max, w);
    size_t mid = (size_t)dynrt__mid_channels(a, (int)cin, e);
    n += G(mid, cin) + (size_t)(a->kmax * a->kmax) * mid + G(cout, mid);
    if (bl->se) {
      size_t se = (size_t)dynrt__se_channels(a, (int)mid);
      n += G(se, mid) + G(mid, se);
    }
    cin = cout;
  }
  size_t fe = (size_t)dynrt__active_width(a, a->final_expand, w);
  size_t fm = (size_t)dynrt__active_width(a, a->feature_mix, w);
  n += G(fe, cin) + G(fm, fe) + G(a->num_classes, fm);
#undef G
  return n * sizeof(float);
}

static double count_subnets(const dynrt__arch *a) {
  double n = (double)a->n_res * a->n_ws, per_block = (double)a->n_ks * a->n_es;
  for (int s = 0; s < a->n_stages; s++) {
    double sum = 0;
    for (int i = 0; i < a->stages[s].n_depths; i++) sum += pow(per_block, a->stages[s].depths[i]);
    n *= sum;
  }
  return n;
}

static dynrt_status build(dynrt_model *m, dynrt__st_file *f, dynrt_err *err) {
  dynrt__arch *a = &m->arch;
  dynrt_status st = dynrt__arch_parse(a, f->arch_json, strlen(f->arch_json), f->path, err);
  if (st) return st;
  loader L = {m, f, err, NULL, 0, {NULL, NULL}, 0};
  loader *l = &L;
  size_t weights;
  m->blob_floats = blob_plan(a, &weights);
  for (int i = 0; i < a->n_es; i++) m->es_f[i] = (float)a->es[i];
  for (int i = 0; i < a->n_ws; i++) m->ws_f[i] = (float)a->ws[i];
  /* Kernel-transform buffers: the widest depthwise layer at kmax. */
  size_t cmax = (size_t)a->stem_out;
  for (int b = 0; b < a->n_blocks; b++)
    if ((size_t)a->blocks[b].mid_max > cmax) cmax = (size_t)a->blocks[b].mid_max;
  size_t kk = (size_t)(a->kmax * a->kmax);
  size_t big = 0;
  for (size_t i = 0; i < f->n_tensors; i++)
    if ((f->tensors[i].end - f->tensors[i].begin) / 4 > big)
      big = (size_t)(f->tensors[i].end - f->tensors[i].begin) / 4;
  l->scratch_floats = big ? big : 1;
  /* The packed weights are streamed once per inference: a large model's weights on 4 KiB
   * pages cost a TLB miss every few kilobytes. Huge-page aligned and advised, so that the
   * kernel can back them with 2 MiB pages (the BN-table area after them is left alone: its
   * untouched pages stay non-resident). */
  size_t blob_bytes = m->blob_floats * sizeof(float), wbytes = weights * sizeof(float);
  int huge = wbytes >= 2 * DYNRT_HUGE_PAGE;
  m->blob = dynrt__aligned_alloc(blob_bytes, huge ? DYNRT_HUGE_PAGE : 64);
  if (m->blob && huge) dynrt__advise_huge(m->blob, wbytes);
  l->tmp[0] = dynrt__aligned_alloc(cmax * kk * sizeof(float), 64);
  l->tmp[1] = dynrt__aligned_alloc(cmax * kk * sizeof(float), 64);
  if (!m->blob || !l->tmp[0] || !l->tmp[1]) {
    st = dynrt__seterr(err, DYNRT_ERR_NOMEM, "%s: no memory for %zu packed floats", f->path,
                       m->blob_floats);
    goto done;
  }
  /* No blanket memset: every array is fully written by its packer, padding between arrays
   * is never read, and untouched pages of the over-planned table area stay non-resident. */
  char name[96];
  const float *src;
  int ks = a->stem_kernel, kf = a->first_kernel;
  if ((st = get4(l, "stem.conv.weight", a->stem_out, 3, ks, ks, &src))) goto done;
  m->stem_panel_stride = (size_t)(ks * ks) * 3 * DYNRT_NR;
  float *dst = bump(l, dynrt__conv_packed_size((size_t)a->stem_out, 3, (size_t)ks));
  dynrt__conv_pack(src, (size_t)a->stem_out, 3, (size_t)ks, dst);
  m->stem_w = dst;
  if ((st = load_bn(l, "stem.bn", a->stem_out, DYNRT__BN_STEM))) goto done;
  if ((st = get4(l, "first.dw.weight", a->stem_out, 1, kf, kf, &src))) goto done;
  m->first_dw_cs = DYNRT_ROUND_UP((size_t)a->stem_out, 16);
  dst = bump(l, (size_t)(kf * kf) * m->first_dw_cs);
  dynrt__dw_pack(src, (size_t)a->stem_out, (size_t)kf, dst, m->first_dw_cs);
  m->first_dw = dst;
  if ((st = load_bn(l, "first.dw_bn", a->stem_out, DYNRT__BN_FIRST_DW))) goto done;
  if ((st = pack_gemm(l, "first.proj.weight", a->first_out, a->stem_out, 4, &m->first_proj)))
    goto done;
  if ((st = load_bn(l, "first.proj_bn", a->first_out, DYNRT__BN_FIRST_PROJ))) goto done;
  for (int b = 0; b < a->n_blocks; b++) {
    const dynrt__block *bl = &a->blocks[b];
    dynrt__block_w *bw = &m->blocks[b];
    char p[48];
    snprintf(p, sizeof p, "blocks.%d", b);
    snprintf(name, sizeof name, "%s.expand.weight", p);
    if ((st = pack_gemm(l, name, bl->mid_max, bl->cin_max, 4, &bw->expand))) goto done;
    snprintf(name, sizeof name, "%s.expand_bn", p);
    if ((st = load_bn(l, name, bl->mid_max, DYNRT__BN_BLOCK(b, 0)))) goto done;
    snprintf(name, sizeof name, "%s.dw", p);
    if ((st = load_dw(l, name, bl->mid_max, bw))) goto done;
    snprintf(name, sizeof name, "%s.dw_bn", p);
    if ((st = load_bn(l, name, bl->mid_max, DYNRT__BN_BLOCK(b, 1)))) goto done;
    if (bl->se) {
      snprintf(name, sizeof name, "%s.se.reduce.weight", p);
      if ((st = pack_gemm(l, name, bl->se_max, bl->mid_max, 4, &bw->se_reduce))) goto done;
      snprintf(name, sizeof name, "%s.se.reduce.bias", p);
      if ((st = copy_vec(l, name, bl->se_max, &bw->se_reduce_bias))) goto done;
      snprintf(name, sizeof name, "%s.se.expand.weight", p);
      if ((st = pack_gemm(l, name, bl->mid_max, bl->se_max, 4, &bw->se_expand))) goto done;
      snprintf(name, sizeof name, "%s.se.expand.bias", p);
      if ((st = copy_vec(l, name, bl->mid_max, &bw->se_expand_bias))) goto done;
    }
    snprintf(name, sizeof name, "%s.proj.weight", p);
    if ((st = pack_gemm(l, name, bl->cout_max, bl->mid_max, 4, &bw->proj))) goto done;
    snprintf(name, sizeof name, "%s.proj_bn", p);
    if ((st = load_bn(l, name, bl->cout_max, DYNRT__BN_BLOCK(b, 2)))) goto done;
  }
  int last = a->stages[a->n_stages - 1].width;
  if ((st = pack_gemm(l, "head.expand.weight", a->final_expand, last, 4, &m->head_expand)))
    goto done;
  if ((st = load_bn(l, "head.expand_bn", a->final_expand, DYNRT__BN_BLOCK(a->n_blocks, 0))))
    goto done;
  if ((st = pack_gemm(l, "head.mix.weight", a->feature_mix, a->final_expand, 4, &m->head_mix)))
    goto done;
  if ((st = pack_gemm(l, "head.classifier.weight", a->num_classes, a->feature_mix, 2,
                      &m->classifier)))
    goto done;
  if ((st = copy_vec(l, "head.classifier.bias", a->num_classes, &m->classifier_bias))) goto done;
  for (size_t i = 0; i < f->n_tensors; i++)
    if (!f->tensors[i].used) {
      st = dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: tensor '%s' is not part of architecture '%s'",
                         f->path, f->tensors[i].name, a->name);
      goto done;
    }
  m->packed_bytes = weights * sizeof(float);
  m->table_bytes = (l->next - weights) * sizeof(float);
  m->largest_packed_bytes = largest_reads(m);
  m->file_bytes = f->size;
  m->n_subnets = count_subnets(a);
  if (!a->class_names) {
    a->class_names = dynrt__calloc((size_t)a->num_classes, sizeof *a->class_names);
    if (!a->class_names) {
      st = dynrt__seterr(err, DYNRT_ERR_NOMEM, "%s: no memory for class names", f->path);
      goto done;
    }
    for (int i = 0; i < a->num_classes; i++) {
      char cn[32];
      snprintf(cn, sizeof cn, "class_%d", i);
      if (!(a->class_names[i] = dynrt__strdup(cn))) {
        st = dynrt__seterr(err, DYNRT_ERR_NOMEM, "%s: no memory for class names", f->path);
        goto done;
      }
    }
  }
done:
  dynrt__free(l->scratch);
  dynrt__free(l->tmp[0]);
  dynrt__free(l->tmp[1]);
  return st;
}

static dynrt_status finish_load(dynrt__st_file *f, const char *path, dynrt_model **out,
                                dynrt_err *e) {
  dynrt_model *m = dynrt__calloc(1, sizeof *m);
  dynrt_status st = DYNRT_OK;
  if (!m || !(m->path = dynrt__strdup(path))) {
    st = dynrt__seterr(e, DYNRT_ERR_NOMEM, "%s: no memory for the model", path);
  } else {
    st = build(m, f, e);
  }
  dynrt__st_close(f); /* the packed copy is all the model keeps */
  if (st) {
    dynrt_model_destroy(m);
    return st;
  }
  *out = m;
  return DYNRT_OK;
}

dynrt_status dynrt_model_load(const char *path, dynrt_model **out, dynrt_error *err) {
  dynrt_err e;
  dynrt__clearerr(&e);
  dynrt_status st;
  if (out) *out = NULL;
  if (!path || !out) {
    st = dynrt__seterr(&e, DYNRT_ERR_INVALID_ARG, "model: NULL argument");
  } else {
    dynrt__st_file f;
    st = dynrt__st_open(&f, path, &e);
    if (!st) st = finish_load(&f, path, out, &e);
  }
  if (st) copy_err(err, &e);
  return st;
}

dynrt_status dynrt_model_load_memory(const void *data, size_t size, const char *name,
                                     dynrt_model **out, dynrt_error *err) {
  dynrt_err e;
  dynrt__clearerr(&e);
  dynrt_status st;
  if (out) *out = NULL;
  if (!out) {
    st = dynrt__seterr(&e, DYNRT_ERR_INVALID_ARG, "model: NULL argument");
  } else {
    dynrt__st_file f;
    st = dynrt__st_open_memory(&f, data, size, name, &e);
    if (!st) st = finish_load(&f, name ? name : "<memory>", out, &e);
  }
  if (st) copy_err(err, &e);
  return st;
}

void dynrt_model_destroy(dynrt_model *m) {
  if (!m) return;
  dynrt__arch_free(&m->arch);
  dynrt__free(m->blob);
  dynrt__free(m->path);
  dynrt__free(m);
}

void dynrt_model_get_info(const dynrt_model *m, dynrt_model_info *out) {
  const dynrt__arch *a = &m->arch;
  memset(out, 0, sizeof *out);
  out->name = a->name;
  out->family = "ofa-mbv3";
  out->num_classes = a->num_classes;
  out->n_stages = a->n_stages;
  out->n_blocks = a->n_blocks;
  for (int s = 0; s < a->n_stages; s++) {
    dynrt_stage_info *si = &out->stages[s];
    si->width = a->stages[s].width;
    si->stride = a->stages[s].stride;
    si->se = a->stages[s].se;
    si->n_depths = a->stages[s].n_depths;
    memcpy(si->depths, a->stages[s].depths, sizeof si->depths);
    si->act = dynrt__act_name(a->stages[s].act);
  }
  out->n_resolutions = a->n_res;
  out->resolutions = a->res;
  out->n_kernel_sizes = a->n_ks;
  out->kernel_sizes = a->ks;
  out->n_expand_ratios = a->n_es;
  out->expand_ratios = m->es_f;
  out->n_width_mults = a->n_ws;
  out->width_mults = m->ws_f;
  out->kernel_transform = a->kernel_transform;
  out->resize_ratio = a->resize_ratio;
  memcpy(out->mean, a->mean, sizeof out->mean);
  memcpy(out->std, a->std, sizeof out->std);
  out->n_subnets = m->n_subnets;
  out->packed_bytes = m->packed_bytes;
  out->largest_packed_bytes = m->largest_packed_bytes;
  out->table_bytes = m->table_bytes;
  out->file_bytes = m->file_bytes;
}

const char *dynrt_model_class_name(const dynrt_model *m, int i) {
  if (!m || i < 0 || i >= m->arch.num_classes) return NULL;
  return m->arch.class_names[i];
}

/* ---- BN tables ---- */

int dynrt__bn_active(const dynrt_model *m, const dynrt__subnet_ix *x, int *ids, int *ch) {
  const dynrt__arch *a = &m->arch;
  int n = 0;
  int c0 = dynrt__active_width(a, a->stem_out, x->w);
  int c1 = dynrt__active_width(a, a->first_out, x->w);
  ids[n] = DYNRT__BN_STEM, ch[n++] = c0;
  ids[n] = DYNRT__BN_FIRST_DW, ch[n++] = c0;
  ids[n] = DYNRT__BN_FIRST_PROJ, ch[n++] = c1;
  int cin = c1;
  for (int s = 0; s < a->n_stages; s++) {
    int cout = dynrt__active_width(a, a->stages[s].width, x->w);
    for (int i = 0; i < x->d[s]; i++) {
      int b = a->stages[s].first_block + i;
      int mid = dynrt__mid_channels(a, cin, x->e[b]);
      ids[n] = DYNRT__BN_BLOCK(b, 0), ch[n++] = mid;
      ids[n] = DYNRT__BN_BLOCK(b, 1), ch[n++] = mid;
      ids[n] = DYNRT__BN_BLOCK(b, 2), ch[n++] = cout;
      cin = cout;
    }
  }
  ids[n] = DYNRT__BN_BLOCK(a->n_blocks, 0), ch[n++] = dynrt__active_width(a, a->final_expand, x->w);
  return n;
}

dynrt_status dynrt_bn_layout(const dynrt_model *m, const dynrt_subnet *cfg, size_t *channels,
                             size_t cap, size_t *n_layers, size_t *total, dynrt_error *err) {
  dynrt_err e;
  dynrt__clearerr(&e);
  dynrt__subnet_ix x;
  dynrt_status st;
  if (!m || !cfg) {
    st = dynrt__seterr(&e, DYNRT_ERR_INVALID_ARG, "bn: NULL argument");
  } else if (!(st = dynrt__subnet_resolve(&m->arch, cfg, NULL, &x, &e))) {
    int ids[DYNRT__BN_MAX], ch[DYNRT__BN_MAX];
    int n = dynrt__bn_active(m, &x, ids, ch);
    size_t t = 0;
    for (int i = 0; i < n; i++) {
      if (channels && (size_t)i < cap) channels[i] = (size_t)ch[i];
      t += (size_t)ch[i];
    }
    if (n_layers) *n_layers = (size_t)n;
    if (total) *total = t;
    return DYNRT_OK;
  }
  copy_err(err, &e);
  return st;
}

static dynrt_status table_alloc(const dynrt_model *m, const dynrt_subnet *cfg, dynrt_bn_table **out,
                                size_t *total, dynrt__subnet_ix *x, dynrt_err *e) {
  *out = NULL;
  if (!m || !cfg) return dynrt__seterr(e, DYNRT_ERR_INVALID_ARG, "bn: NULL argument");
  dynrt_subnet canon;
  dynrt_status st = dynrt__subnet_resolve(&m->arch, cfg, &canon, x, e);
  if (st) return st;
  dynrt_bn_table *t = dynrt__calloc(1, sizeof *t);
  if (!t) return dynrt__seterr(e, DYNRT_ERR_NOMEM, "bn: no memory");
  int ch[DYNRT__BN_MAX];
  t->model = m;
  memcpy(&t->cfg, &canon, sizeof canon); /* padding included: tables compare with memcmp */
  t->n_layers = dynrt__bn_active(m, x, t->layer_id, ch);
  size_t n = 0;
  for (int i = 0; i < t->n_layers; i++) {
    t->offset[i] = n;
    n += (size_t)ch[i];
  }
  t->scale = dynrt__aligned_alloc(n * sizeof(float), 64);
  t->shift = dynrt__aligned_alloc(n * sizeof(float), 64);
  if (!t->scale || !t->shift) {
    dynrt_bn_table_destroy(t);
    return dynrt__seterr(e, DYNRT_ERR_NOMEM, "bn: no memory for %zu channels", n);
  }
  *total = n;
  *out = t;
  return DYNRT_OK;
}

dynrt_status dynrt_bn_table_create(const dynrt_model *m, const dynrt_subnet *cfg,
                                   const float *scale, const float *shift, dynrt_bn_table **out,
                                   dynrt_error *err) {
  dynrt_err e;
  dynrt__clearerr(&e);
  size_t n;
  dynrt__subnet_ix x;
  dynrt_status st;
  if (!out || !scale || !shift) {
    st = dynrt__seterr(&e, DYNRT_ERR_INVALID_ARG, "bn: NULL argument");
  } else if (!(st = table_alloc(m, cfg, out, &n, &x, &e))) {
    memcpy((*out)->scale, scale, n * sizeof(float));
    memcpy((*out)->shift, shift, n * sizeof(float));
    return DYNRT_OK;
  }
  copy_err(err, &e);
  return st;
}

dynrt_status dynrt_bn_table_from_stats(const dynrt_model *m, const dynrt_subnet *cfg,
                                       const float *mean, const float *var, dynrt_bn_table **out,
                                       dynrt_error *err) {
  dynrt_err e;
  dynrt__clearerr(&e);
  size_t n;
  dynrt__subnet_ix x;
  dynrt_status st;
  if (!out || !mean || !var) {
    st = dynrt__seterr(&e, DYNRT_ERR_INVALID_ARG, "bn: NULL argument");
  } else if (!(st = table_alloc(m, cfg, out, &n, &x, &e))) {
    dynrt_bn_table *t = *out;
    for (int l = 0; l < t->n_layers && !st; l++) {
      const dynrt__bn_default *bn = &m->bn[t->layer_id[l]];
      size_t c = (l + 1 < t->n_layers ? t->offset[l + 1] : n) - t->offset[l];
      for (size_t i = 0; i < c; i++) {
        size_t o = t->offset[l] + i;
        if (!(var[o] >= 0) || !isfinite(var[o]) || !isfinite(mean[o])) {
          st = dynrt__seterr(&e, DYNRT_ERR_INVALID_ARG,
                             "bn: layer %d channel %zu: mean %g var %g is not a valid statistic", l,
                             i, (double)mean[o], (double)var[o]);
          break;
        }
        double s = bn->gamma[i] / sqrt((double)var[o] + m->arch.bn_eps);
        t->scale[o] = (float)s;
        t->shift[o] = (float)(bn->beta[i] - mean[o] * s);
      }
    }
    if (!st) return DYNRT_OK;
    dynrt_bn_table_destroy(t);
    *out = NULL;
  }
  copy_err(err, &e);
  return st;
}

const dynrt_subnet *dynrt_bn_table_subnet(const dynrt_bn_table *t) { return t ? &t->cfg : NULL; }

void dynrt_bn_table_destroy(dynrt_bn_table *t) {
  if (!t) return;
  dynrt__free(t->scale);
  dynrt__free(t->shift);
  dynrt__free(t);
}

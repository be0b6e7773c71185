/*
 * subnet.c - sub-network configurations (docs/formats.md §2): parse, validate, canonical
 * print, 64-bit id, MACs and parameter counts, sampling and enumeration. Pure functions of
 * the architecture: nothing here allocates or touches weights, so the session's switch can
 * call dynrt__subnet_resolve() on its hot path.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

#define MSG_CHOICES 128

uint64_t dynrt__fnv1a64(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* "%g", with ".0" added to whole numbers ("1.0", "0.5"), as the reference prints w. */
static int fmt_w(char *buf, size_t n, double w) {
  int len = snprintf(buf, n, "%g", w);
  if (len > 0 && (size_t)len + 2 < n && !strpbrk(buf, ".en")) {
    strcat(buf, ".0");
    len += 2;
  }
  return len;
}

/* Expand ratios print as integers when whole, else %g (the reference's _fmt_choice). */
static int fmt_e(char *buf, size_t n, double e) {
  if (e == floor(e) && fabs(e) < 1e9) return snprintf(buf, n, "%d", (int)e);
  return snprintf(buf, n, "%g", e);
}

static void int_set(char *buf, size_t n, const int *v, int count) {
  size_t used = (size_t)snprintf(buf, n, "{");
  for (int i = 0; i < count && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, "%s%d", i ? "," : "", v[i]);
  if (used < n) snprintf(buf + used, n - used, "}");
}

static void dbl_set(char *buf, size_t n, const double *v, int count, int is_w) {
  size_t used = (size_t)snprintf(buf, n, "{");
  for (int i = 0; i < count && used < n; i++) {
    char x[32];
    if (is_w)
      fmt_w(x, sizeof x, v[i]);
    else
      fmt_e(x, sizeof x, v[i]);
    used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? "," : "", x);
  }
  if (used < n) snprintf(buf + used, n - used, "}");
}

static int find_dbl(const double *v, int n, double x) {
  for (int i = 0; i < n; i++)
    if (fabs(v[i] - x) <= 1e-6 * (fabs(v[i]) > 1 ? fabs(v[i]) : 1)) return i;
  return -1;
}

static int find_int(const int *v, int n, int x) {
  for (int i = 0; i < n; i++)
    if (v[i] == x) return i;
  return -1;
}

dynrt_status dynrt__subnet_resolve(const dynrt__arch *a, const dynrt_subnet *cfg,
                                   dynrt_subnet *canon, dynrt__subnet_ix *ix, dynrt_err *err) {
  char set[MSG_CHOICES];
  if (find_int(a->res, a->n_res, cfg->r) < 0) {
    int_set(set, sizeof set, a->res, a->n_res);
    return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG, "subnet: r = %d not in %s", cfg->r, set);
  }
  int wi = find_dbl(a->ws, a->n_ws, cfg->w);
  if (wi < 0) {
    dbl_set(set, sizeof set, a->ws, a->n_ws, 1);
    return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG, "subnet: w = %g not in %s", (double)cfg->w,
                         set);
  }
  if (cfg->n_stages != a->n_stages)
    return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG, "subnet: d has %d entries, expected %d",
                         cfg->n_stages, a->n_stages);
  if (cfg->n_blocks != a->n_blocks)
    return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG, "subnet: k and e have %d entries, expected %d",
                         cfg->n_blocks, a->n_blocks);
  dynrt__subnet_ix tmp;
  dynrt__subnet_ix *x = ix ? ix : &tmp;
  x->r = cfg->r;
  x->wi = wi;
  x->w = a->ws[wi];
  for (int s = 0; s < a->n_stages; s++) {
    const dynrt__stage *sg = &a->stages[s];
    if (find_int(sg->depths, sg->n_depths, cfg->d[s]) < 0) {
      int_set(set, sizeof set, sg->depths, sg->n_depths);
      return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG, "subnet: d[%d] = %d not in %s", s, cfg->d[s],
                           set);
    }
    x->d[s] = cfg->d[s];
  }
  for (int b = 0; b < a->n_blocks; b++) {
    if (find_int(a->ks, a->n_ks, cfg->k[b]) < 0) {
      int_set(set, sizeof set, a->ks, a->n_ks);
      return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG, "subnet: k[%d] = %d not in %s", b, cfg->k[b],
                           set);
    }
    int ei = find_dbl(a->es, a->n_es, cfg->e[b]);
    if (ei < 0) {
      dbl_set(set, sizeof set, a->es, a->n_es, 0);
      return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG, "subnet: e[%d] = %g not in %s", b,
                           (double)cfg->e[b], set);
    }
    const dynrt__block *bl = &a->blocks[b];
    int active = bl->index < x->d[bl->stage];
    x->k[b] = active ? cfg->k[b] : a->kmax;
    x->e[b] = active ? a->es[ei] : a->es[a->n_es - 1];
  }
  if (canon) {
    memset(canon, 0, sizeof *canon);
    canon->r = x->r;
    canon->w = (float)x->w;
    canon->n_stages = (uint8_t)a->n_stages;
    canon->n_blocks = (uint8_t)a->n_blocks;
    for (int s = 0; s < a->n_stages && s < DYNRT_MAX_STAGES; s++) canon->d[s] = (uint8_t)x->d[s];
    for (int b = 0; b < a->n_blocks && b < DYNRT_MAX_BLOCKS; b++) {
      canon->k[b] = (uint8_t)x->k[b];
      canon->e[b] = (float)x->e[b];
    }
  }
  return DYNRT_OK;
}

static void copy_err(dynrt_error *out, const dynrt_err *in) {
  if (!out) return;
  out->status = in->status;
  memcpy(out->msg, in->msg, sizeof out->msg < sizeof in->msg ? sizeof out->msg : sizeof in->msg);
  out->msg[sizeof out->msg - 1] = '\0';
}

/* Prints the canonical string of a resolved config; returns the length (may exceed n). */
static size_t format_ix(const dynrt__arch *a, const dynrt__subnet_ix *x, char *buf, size_t n) {
  char tmp[DYNRT_SUBNET_STR_MAX + 64];
  size_t u = 0, cap = sizeof tmp;
  char w[32];
  fmt_w(w, sizeof w, x->w);
  u += (size_t)snprintf(tmp + u, cap - u, "r=%d w=%s d=", x->r, w);
  for (int s = 0; s < a->n_stages; s++)
    u += (size_t)snprintf(tmp + u, cap - u, "%s%d", s ? "," : "", x->d[s]);
  u += (size_t)snprintf(tmp + u, cap - u, " k=");
  for (int b = 0; b < a->n_blocks; b++)
    u += (size_t)snprintf(tmp + u, cap - u, "%s%d", b ? "," : "", x->k[b]);
  u += (size_t)snprintf(tmp + u, cap - u, " e=");
  for (int b = 0; b < a->n_blocks; b++) {
    char e[32];
    fmt_e(e, sizeof e, x->e[b]);
    u += (size_t)snprintf(tmp + u, cap - u, "%s%s", b ? "," : "", e);
  }
  if (buf && n) snprintf(buf, n, "%s", tmp);
  return u;
}

dynrt_status dynrt_subnet_canonicalize(const dynrt_model *model, dynrt_subnet *cfg,
                                       dynrt_error *err) {
  dynrt_err e;
  dynrt__clearerr(&e);
  if (!model || !cfg) {
    dynrt__seterr(&e, DYNRT_ERR_INVALID_ARG, "subnet: NULL argument");
    copy_err(err, &e);
    return DYNRT_ERR_INVALID_ARG;
  }
  dynrt_status st = dynrt__subnet_resolve(&model->arch, cfg, cfg, NULL, &e);
  if (st) copy_err(err, &e);
  return st;
}

dynrt_status dynrt_subnet_format(const dynrt_model *model, const dynrt_subnet *cfg, char *buf,
                                 size_t size, dynrt_error *err) {
  dynrt_err e;
  dynrt__clearerr(&e);
  dynrt__subnet_ix x;
  dynrt_status st;
  if (!model || !cfg || !buf) {
    st = dynrt__seterr(&e, DYNRT_ERR_INVALID_ARG, "subnet: NULL argument");
  } else if (!(st = dynrt__subnet_resolve(&model->arch, cfg, NULL, &x, &e))) {
    size_t len = format_ix(&model->arch, &x, buf, size);
    if (len >= size)
      st = dynrt__seterr(&e, DYNRT_ERR_INVALID_ARG,
                         "subnet: string needs %zu bytes, buffer has %zu", len + 1, size);
  }
  if (st) copy_err(err, &e);
  return st;
}

uint64_t dynrt_subnet_id(const dynrt_model *model, const dynrt_subnet *cfg) {
  dynrt__subnet_ix x;
  if (!model || !cfg || dynrt__subnet_resolve(&model->arch, cfg, NULL, &x, NULL)) return 0;
  char buf[DYNRT_SUBNET_STR_MAX];
  size_t len = format_ix(&model->arch, &x, buf, sizeof buf);
  return dynrt__fnv1a64(buf, len < sizeof buf ? len : sizeof buf - 1);
}

int dynrt_subnet_equal(const dynrt_model *model, const dynrt_subnet *a, const dynrt_subnet *b) {
  dynrt_subnet ca, cb;
  if (!model || !a || !b || dynrt__subnet_resolve(&model->arch, a, &ca, NULL, NULL) ||
      dynrt__subnet_resolve(&model->arch, b, &cb, NULL, NULL))
    return 0;
  return memcmp(&ca, &cb, sizeof ca) == 0;
}

/* Splits a string field list "a,b,c" into numbers; returns count or -1 (bad entry at *bad). */
static int parse_list(const char *s, size_t len, double *out, int max, int integer, int *bad) {
  int n = 0;
  size_t i = 0;
  while (1) {
    size_t j = i;
    while (j < len && s[j] != ',') j++;
    char item[32];
    *bad = n;
    if (j == i || j - i >= sizeof item || n >= max) return -1;
    memcpy(item, s + i, j - i);
    item[j - i] = '\0';
    char *end;
    double v = integer ? (double)strtol(item, &end, 10) : strtod(item, &end);
    if (*end || !isfinite(v) || (integer && (v < -1e6 || v > 1e6))) return -1;
    out[n++] = v;
    if (j == len) return n;
    i = j + 1;
  }
}

dynrt_status dynrt_subnet_parse(const dynrt_model *model, const char *str, dynrt_subnet *out,
                                dynrt_error *err) {
  dynrt_err e;
  dynrt__clearerr(&e);
  dynrt_status st = DYNRT_OK;
  if (!model || !str || !out) {
    st = dynrt__seterr(&e, DYNRT_ERR_INVALID_ARG, "subnet: NULL argument");
    copy_err(err, &e);
    return st;
  }
  const dynrt__arch *a = &model->arch;
  static const char keys[] = "rwdke";
  const char *val[5] = {0};
  size_t vlen[5] = {0};
  const char *p = str;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    if (!*p) break;
    const char *tok = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n') p++;
    size_t tl = (size_t)(p - tok);
    const char *eq = memchr(tok, '=', tl);
    if (!eq) {
      st = dynrt__seterr(&e, DYNRT_ERR_FORMAT, "subnet: field '%.*s' has no '='",
                         (int)(tl > 40 ? 40 : tl), tok);
      goto fail;
    }
    const char *kp = (eq - tok == 1) ? strchr(keys, tok[0]) : NULL;
    if (!kp || !*kp) {
      st = dynrt__seterr(&e, DYNRT_ERR_FORMAT, "subnet: unknown field '%.*s' (r, w, d, k, e)",
                         (int)((eq - tok) > 40 ? 40 : (eq - tok)), tok);
      goto fail;
    }
    int ki = (int)(kp - keys);
    if (val[ki]) {
      st = dynrt__seterr(&e, DYNRT_ERR_FORMAT, "subnet: field '%c' given twice", keys[ki]);
      goto fail;
    }
    val[ki] = eq + 1;
    vlen[ki] = (size_t)(p - eq - 1);
  }
  for (int i = 0; i < 5; i++)
    if (!val[i]) {
      st = dynrt__seterr(&e, DYNRT_ERR_FORMAT, "subnet: field '%c' missing", keys[i]);
      goto fail;
    }
  dynrt_subnet c;
  memset(&c, 0, sizeof c);
  double list[DYNRT_MAX_BLOCKS + 1];
  int bad, n;
  static const char *const names[5] = {"r", "w", "d", "k", "e"};
  static const int integer[5] = {1, 0, 1, 1, 0};
  static const int maxn[5] = {1, 1, DYNRT_MAX_STAGES, DYNRT_MAX_BLOCKS, DYNRT_MAX_BLOCKS};
  for (int i = 0; i < 5; i++) {
    n = parse_list(val[i], vlen[i], list, maxn[i] + 1, integer[i], &bad);
    if (n < 0) {
      st = dynrt__seterr(&e, DYNRT_ERR_FORMAT, "subnet: %s = '%.*s': entry %d is not a%s number",
                         names[i], (int)(vlen[i] > 200 ? 200 : vlen[i]), val[i], bad,
                         integer[i] ? "n integer" : "");
      goto fail;
    }
    if (i < 2 && n != 1) {
      st =
          dynrt__seterr(&e, DYNRT_ERR_FORMAT, "subnet: %s has %d entries, expected 1", names[i], n);
      goto fail;
    }
    if (i == 2 && n != a->n_stages) {
      st = dynrt__seterr(&e, DYNRT_ERR_FORMAT, "subnet: d has %d entries, expected %d", n,
                         a->n_stages);
      goto fail;
    }
    if (i >= 3 && n != a->n_blocks) {
      st = dynrt__seterr(&e, DYNRT_ERR_FORMAT, "subnet: %s has %d entries, expected %d", names[i],
                         n, a->n_blocks);
      goto fail;
    }
    for (int j = 0; j < n; j++) {
      double v = list[j];
      if (integer[i] && (v < 0 || v > (i == 0 ? 1e5 : 255))) {
        /* Too large for the struct: report it here with the allowed set. */
        char set[MSG_CHOICES];
        if (i == 0)
          int_set(set, sizeof set, a->res, a->n_res);
        else if (i == 2)
          int_set(set, sizeof set, a->stages[j].depths, a->stages[j].n_depths);
        else
          int_set(set, sizeof set, a->ks, a->n_ks);
        if (i == 0)
          st = dynrt__seterr(&e, DYNRT_ERR_FORMAT, "subnet: r = %g not in %s", v, set);
        else
          st = dynrt__seterr(&e, DYNRT_ERR_FORMAT, "subnet: %s[%d] = %g not in %s", names[i], j, v,
                             set);
        goto fail;
      }
      switch (i) {
      case 0: c.r = (int)v; break;
      case 1: c.w = (float)v; break;
      case 2: c.d[j] = (uint8_t)v; break;
      case 3: c.k[j] = (uint8_t)v; break;
      default: c.e[j] = (float)v; break;
      }
    }
  }
  c.n_stages = (uint8_t)a->n_stages;
  c.n_blocks = (uint8_t)a->n_blocks;
  if ((st = dynrt__subnet_resolve(a, &c, &c, NULL, &e))) {
    e.status = st = DYNRT_ERR_FORMAT;
    goto fail;
  }
  memcpy(out, &c, sizeof c); /* padding included: configs compare with memcmp */
  return DYNRT_OK;
fail:
  copy_err(err, &e);
  return st;
}

void dynrt_subnet_largest(const dynrt_model *model, dynrt_subnet *out) {
  const dynrt__arch *a = &model->arch;
  memset(out, 0, sizeof *out);
  out->r = a->res[a->n_res - 1];
  out->w = (float)a->ws[a->n_ws - 1];
  out->n_stages = (uint8_t)a->n_stages;
  out->n_blocks = (uint8_t)a->n_blocks;
  for (int s = 0; s < a->n_stages; s++) out->d[s] = (uint8_t)a->stages[s].dmax;
  for (int b = 0; b < a->n_blocks; b++) {
    out->k[b] = (uint8_t)a->kmax;
    out->e[b] = (float)a->es[a->n_es - 1];
  }
}

void dynrt_subnet_smallest(const dynrt_model *model, dynrt_subnet *out) {
  const dynrt__arch *a = &model->arch;
  dynrt_subnet_largest(model, out);
  out->r = a->res[0];
  out->w = (float)a->ws[0];
  for (int s = 0; s < a->n_stages; s++) out->d[s] = (uint8_t)a->stages[s].dmin;
  for (int b = 0; b < a->n_blocks; b++) {
    if (a->blocks[b].index >= out->d[a->blocks[b].stage]) continue; /* stays canonical */
    out->k[b] = (uint8_t)a->ks[0];
    out->e[b] = (float)a->es[0];
  }
}

/* splitmix64: small, seedable, good enough for sampling configurations. */
static uint64_t next_rand(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void dynrt_subnet_sample(const dynrt_model *model, uint64_t *rng, dynrt_subnet *out) {
  const dynrt__arch *a = &model->arch;
  dynrt_subnet_largest(model, out);
  out->r = a->res[next_rand(rng) % (uint64_t)a->n_res];
  out->w = (float)a->ws[next_rand(rng) % (uint64_t)a->n_ws];
  for (int s = 0; s < a->n_stages; s++)
    out->d[s] = (uint8_t)a->stages[s].depths[next_rand(rng) % (uint64_t)a->stages[s].n_depths];
  for (int b = 0; b < a->n_blocks; b++) {
    out->k[b] = (uint8_t)a->ks[next_rand(rng) % (uint64_t)a->n_ks];
    out->e[b] = (float)a->es[next_rand(rng) % (uint64_t)a->n_es];
  }
  dynrt__subnet_resolve(a, out, out, NULL, NULL);
}

int dynrt_subnet_next(const dynrt_model *model, dynrt_subnet *cfg) {
  const dynrt__arch *a = &model->arch;
  /* Odometer: the last block's e turns fastest, then its k, then earlier blocks of the
   * stage, then the stage's depth, then earlier stages, then w, then r. */
  for (int s = a->n_stages - 1; s >= 0; s--) {
    const dynrt__stage *sg = &a->stages[s];
    for (int b = sg->first_block + cfg->d[s] - 1; b >= sg->first_block; b--) {
      int ei = find_dbl(a->es, a->n_es, cfg->e[b]);
      if (ei + 1 < a->n_es) {
        cfg->e[b] = (float)a->es[ei + 1];
        return 1;
      }
      cfg->e[b] = (float)a->es[0];
      int ki = find_int(a->ks, a->n_ks, cfg->k[b]);
      if (ki + 1 < a->n_ks) {
        cfg->k[b] = (uint8_t)a->ks[ki + 1];
        return 1;
      }
      cfg->k[b] = (uint8_t)a->ks[0];
    }
    int di = find_int(sg->depths, sg->n_depths, cfg->d[s]);
    int carry = di + 1 >= sg->n_depths;
    cfg->d[s] = (uint8_t)sg->depths[carry ? 0 : di + 1];
    for (int j = 0; j < sg->dmax; j++) {
      int b = sg->first_block + j;
      int active = j < cfg->d[s];
      cfg->k[b] = (uint8_t)(active ? a->ks[0] : a->kmax);
      cfg->e[b] = (float)(active ? a->es[0] : a->es[a->n_es - 1]);
    }
    if (!carry) return 1;
  }
  int wi = find_dbl(a->ws, a->n_ws, cfg->w);
  if (wi + 1 < a->n_ws) {
    cfg->w = (float)a->ws[wi + 1];
    return 1;
  }
  cfg->w = (float)a->ws[0];
  int ri = find_int(a->res, a->n_res, cfg->r);
  if (ri + 1 < a->n_res) {
    cfg->r = a->res[ri + 1];
    return 1;
  }
  cfg->r = a->res[0];
  return 0;
}

/* Shared walk of MACs and parameters, mirroring the reference's count_macs. */
static void cost(const dynrt__arch *a, const dynrt__subnet_ix *x, uint64_t *macs_out,
                 uint64_t *params_out) {
  uint64_t macs = 0, params = 0;
  uint64_t h = (uint64_t)x->r;
  uint64_t c0 = (uint64_t)dynrt__active_width(a, a->stem_out, x->w);
  uint64_t ks = (uint64_t)a->stem_kernel, kf = (uint64_t)a->first_kernel;
  h = (uint64_t)dynrt__conv_out((int)h, a->stem_kernel, a->stem_stride);
  macs += c0 * 3 * ks * ks * h * h;
  params += c0 * 3 * ks * ks + 2 * c0;
  h = (uint64_t)dynrt__conv_out((int)h, a->first_kernel, a->first_stride);
  uint64_t c1 = (uint64_t)dynrt__active_width(a, a->first_out, x->w);
  macs += c0 * kf * kf * h * h + c1 * c0 * h * h;
  params += c0 * kf * kf + 2 * c0 + c1 * c0 + 2 * c1;
  uint64_t cin = c1;
  for (int s = 0; s < a->n_stages; s++) {
    const dynrt__stage *sg = &a->stages[s];
    uint64_t cout = (uint64_t)dynrt__active_width(a, sg->width, x->w);
    for (int i = 0; i < x->d[s]; i++) {
      int b = sg->first_block + i;
      const dynrt__block *bl = &a->blocks[b];
      uint64_t k = (uint64_t)x->k[b];
      uint64_t mid = (uint64_t)dynrt__mid_channels(a, (int)cin, x->e[b]);
      macs += cin * mid * h * h;
      params += cin * mid + 2 * mid;
      h = (uint64_t)dynrt__conv_out((int)h, (int)k, bl->stride);
      macs += mid * k * k * h * h;
      params += mid * k * k + 2 * mid;
      if (bl->se) {
        uint64_t sm = (uint64_t)dynrt__se_channels(a, (int)mid);
        macs += 2 * mid * sm;
        params += 2 * mid * sm + sm + mid;
      }
      macs += mid * cout * h * h;
      params += mid * cout + 2 * cout;
      cin = cout;
    }
  }
  uint64_t fe = (uint64_t)dynrt__active_width(a, a->final_expand, x->w);
  uint64_t fm = (uint64_t)dynrt__active_width(a, a->feature_mix, x->w);
  uint64_t nc = (uint64_t)a->num_classes;
  macs += cin * fe * h * h + fe * fm + fm * nc;
  params += cin * fe + 2 * fe + fe * fm + fm * nc + nc;
  if (macs_out) *macs_out = macs;
  if (params_out) *params_out = params;
}

uint64_t dynrt_subnet_macs(const dynrt_model *model, const dynrt_subnet *cfg) {
  dynrt__subnet_ix x;
  if (!model || !cfg || dynrt__subnet_resolve(&model->arch, cfg, NULL, &x, NULL)) return 0;
  uint64_t m;
  cost(&model->arch, &x, &m, NULL);
  return m;
}

uint64_t dynrt_subnet_params(const dynrt_model *model, const dynrt_subnet *cfg) {
  dynrt__subnet_ix x;
  if (!model || !cfg || dynrt__subnet_resolve(&model->arch, cfg, NULL, &x, NULL)) return 0;
  uint64_t p;
  cost(&model->arch, &x, NULL, &p);
  return p;
}

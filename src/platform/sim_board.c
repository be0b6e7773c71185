/*
 * sim_board.c - loads a board description (platforms/NAME.json, docs/formats.md
 * "Platform description") into the simulator. Validates every field and names the file,
 * the field and the bad value; never trusts the file. Knows nothing about time or jobs.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "platform/sim_int.h"

#define BOARD_MAX_BYTES (1u << 20)

typedef struct loader {
  dynrt__sim *s;
  const char *path;
  dynrt_err *err;
} loader;

static dynrt_status bad(loader *L, const char *field, const char *why) {
  return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: %s: %s", L->path, field, why);
}

/* Optional number in [lo, hi]; missing -> def. */
static dynrt_status get_num(loader *L, const cJSON *obj, const char *key, const char *ctx,
                            double lo, double hi, double def, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v) {
    *out = def;
    return DYNRT_OK;
  }
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: %s.%s: not a number", L->path, ctx, key);
  if (v->valuedouble < lo || v->valuedouble > hi)
    return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: %s.%s: %g outside [%g, %g]", L->path, ctx,
                         key, v->valuedouble, lo, hi);
  *out = v->valuedouble;
  return DYNRT_OK;
}

static dynrt_status need_num(loader *L, const cJSON *obj, const char *key, const char *ctx,
                             double lo, double hi, double *out) {
  if (!cJSON_GetObjectItemCaseSensitive(obj, key))
    return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: %s.%s: missing", L->path, ctx, key);
  return get_num(L, obj, key, ctx, lo, hi, 0, out);
}

static dynrt_status get_str(loader *L, const cJSON *obj, const char *key, const char *ctx,
                            char *buf, size_t size, const char *def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v) {
    if (!def)
      return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: %s.%s: missing", L->path, ctx, key);
    snprintf(buf, size, "%s", def);
    return DYNRT_OK;
  }
  if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= size)
    return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: %s.%s: not a string of 1..%zu chars",
                         L->path, ctx, key, size - 1);
  snprintf(buf, size, "%s", v->valuestring);
  return DYNRT_OK;
}

#define TRY(x)                                                                                     \
  do {                                                                                             \
    dynrt_status st_ = (x);                                                                        \
    if (st_ != DYNRT_OK) return st_;                                                               \
  } while (0)

/* Array of integers in [lo, hi] into out[max]; returns the count through *n. */
static dynrt_status get_uint_array(loader *L, const cJSON *arr, const char *ctx, double lo,
                                   double hi, uint64_t *out, int max, int *n) {
  if (!cJSON_IsArray(arr))
    return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: %s: not an array", L->path, ctx);
  int k = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    if (k >= max)
      return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: %s: more than %d entries", L->path, ctx,
                           max);
    if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < lo ||
        e->valuedouble > hi)
      return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: %s[%d]: not an integer in [%g, %g]",
                           L->path, ctx, k, lo, hi);
    out[k++] = (uint64_t)e->valuedouble;
  }
  *n = k;
  return DYNRT_OK;
}

static dynrt_status load_opps(loader *L, const cJSON *jd, const char *ctx, dynrt_domain_info *di) {
  uint64_t khz[DYNRT_MAX_OPPS];
  int n = 0;
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(jd, "opps_khz");
  const cJSON *grid = cJSON_GetObjectItemCaseSensitive(jd, "opp_grid");
  char c2[96];
  if (!!list == !!grid) return bad(L, ctx, "needs exactly one of opps_khz and opp_grid");
  if (list) {
    snprintf(c2, sizeof c2, "%s.opps_khz", ctx);
    TRY(get_uint_array(L, list, c2, 1, 4e9, khz, DYNRT_MAX_OPPS, &n));
  } else {
    snprintf(c2, sizeof c2, "%s.opp_grid", ctx);
    double start, step, count;
    TRY(need_num(L, grid, "start_khz", c2, 1, 4e9, &start));
    TRY(need_num(L, grid, "step_khz", c2, 1, 4e9, &step));
    TRY(need_num(L, grid, "count", c2, 1, DYNRT_MAX_OPPS, &count));
    for (int k = 0; k < (int)count; k++) khz[n++] = (uint64_t)(start + k * step);
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(grid, "extra_khz");
    if (extra) {
      uint64_t ex[DYNRT_MAX_OPPS];
      int ne = 0;
      snprintf(c2, sizeof c2, "%s.opp_grid.extra_khz", ctx);
      TRY(get_uint_array(L, extra, c2, 1, 4e9, ex, DYNRT_MAX_OPPS, &ne));
      if (n + ne > DYNRT_MAX_OPPS) return bad(L, c2, "too many OPPs");
      for (int k = 0; k < ne; k++) khz[n++] = ex[k];
    }
  }
  if (n < 1) return bad(L, ctx, "no OPPs");
  for (int k = 1; k < n; k++)
    if (khz[k] <= khz[k - 1]) {
      snprintf(c2, sizeof c2, "%s OPP %d (%llu kHz)", ctx, k, (unsigned long long)khz[k]);
      return bad(L, c2, "frequencies must be strictly ascending");
    }
  di->nopps = n;
  for (int k = 0; k < n; k++) di->opps[k].khz = (uint32_t)khz[k];

  const cJSON *uv = cJSON_GetObjectItemCaseSensitive(jd, "opps_uv");
  const cJSON *line = cJSON_GetObjectItemCaseSensitive(jd, "voltage_line");
  if (!!uv == !!line) return bad(L, ctx, "needs exactly one of opps_uv and voltage_line");
  if (uv) {
    uint64_t v[DYNRT_MAX_OPPS];
    int nv = 0;
    snprintf(c2, sizeof c2, "%s.opps_uv", ctx);
    TRY(get_uint_array(L, uv, c2, 1e5, 3e6, v, DYNRT_MAX_OPPS, &nv));
    if (nv != n) return bad(L, c2, "needs one voltage per OPP");
    for (int k = 0; k < n; k++) di->opps[k].microvolts = (uint32_t)v[k];
  } else {
    /* Assumed V-f line: v0 at and below f0, linear to v1 at f1 (and beyond). */
    snprintf(c2, sizeof c2, "%s.voltage_line", ctx);
    double f0, v0, f1, v1;
    TRY(need_num(L, line, "f0_khz", c2, 1, 4e9, &f0));
    TRY(need_num(L, line, "v0_uv", c2, 1e5, 3e6, &v0));
    TRY(need_num(L, line, "f1_khz", c2, 1, 4e9, &f1));
    TRY(need_num(L, line, "v1_uv", c2, 1e5, 3e6, &v1));
    if (f1 <= f0) return bad(L, c2, "f1_khz must exceed f0_khz");
    for (int k = 0; k < n; k++) {
      double f = di->opps[k].khz;
      double v = f <= f0 ? v0 : v0 + (v1 - v0) * (f - f0) / (f1 - f0);
      di->opps[k].microvolts = (uint32_t)lround(v);
    }
  }
  return DYNRT_OK;
}

static dynrt_status load_domain(loader *L, const cJSON *jd, int d, uint64_t *seen_cpus) {
  dynrt__sim *s = L->s;
  dynrt_domain_info *di = &s->p->domains[d];
  sim_domain *sd = &s->dom[d];
  char ctx[64], c2[96];
  snprintf(ctx, sizeof ctx, "domains[%d]", d);
  if (!cJSON_IsObject(jd)) return bad(L, ctx, "not an object");
  TRY(get_str(L, jd, "name", ctx, di->name, sizeof di->name, NULL));
  snprintf(ctx, sizeof ctx, "domain '%s'", di->name);
  char kind[8];
  TRY(get_str(L, jd, "kind", ctx, kind, sizeof kind, NULL));
  if (!strcmp(kind, "cpu"))
    di->kind = DYNRT_DOMAIN_CPU;
  else if (!strcmp(kind, "gpu"))
    di->kind = DYNRT_DOMAIN_GPU;
  else
    return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: %s.kind: '%s' is not cpu or gpu", L->path,
                         ctx, kind);
  const cJSON *cpus = cJSON_GetObjectItemCaseSensitive(jd, "cpus");
  if (di->kind == DYNRT_DOMAIN_CPU) {
    uint64_t c[DYNRT_MAX_CPUS];
    int n = 0;
    snprintf(c2, sizeof c2, "%s.cpus", ctx);
    if (!cpus) return bad(L, c2, "missing");
    TRY(get_uint_array(L, cpus, c2, 0, DYNRT_MAX_CPUS - 1, c, DYNRT_MAX_CPUS, &n));
    if (n < 1) return bad(L, c2, "empty");
    di->ncpus = n;
    for (int k = 0; k < n; k++) {
      if (*seen_cpus & (1ull << c[k])) {
        snprintf(c2, sizeof c2, "%s.cpus[%d] = %llu", ctx, k, (unsigned long long)c[k]);
        return bad(L, c2, "CPU listed twice");
      }
      *seen_cpus |= 1ull << c[k];
      di->cpus[k] = (int)c[k];
    }
  } else if (cpus) {
    return bad(L, ctx, "a gpu domain has no cpus");
  }
  TRY(load_opps(L, jd, ctx, di));
  double v;
  TRY(need_num(L, jd, "capacity", ctx, 1e-6, 1e6, &di->capacity));
  TRY(get_num(L, jd, "transition_latency_ns", ctx, 0, 1e9, 0, &v));
  di->transition_us = (uint32_t)((v + 999) / 1000); /* rounded up, as the linux backend does */
  di->can_set_freq = 1;
  sim_domain_model *m = &sd->m;
  TRY(get_num(L, jd, "sched_capacity", ctx, 1, 1024, 1024, &v));
  m->sched_capacity = (uint32_t)v;
  const cJSON *pw = cJSON_GetObjectItemCaseSensitive(jd, "power");
  snprintf(c2, sizeof c2, "%s.power", ctx);
  if (!cJSON_IsObject(pw)) return bad(L, c2, "missing or not an object");
  TRY(need_num(L, pw, "dyn_coeff", c2, 0, 1e4, &m->dyn_coeff));
  TRY(get_num(L, pw, "static_w_per_v", c2, 0, 1e4, 0, &m->static_w_per_v));
  TRY(get_num(L, pw, "idle_w", c2, 0, 1e4, 0, &m->idle_w));
  char scope[16];
  TRY(get_str(L, pw, "static_scope", c2, scope, sizeof scope,
              di->kind == DYNRT_DOMAIN_CPU ? "core" : "domain"));
  if (!strcmp(scope, "core"))
    m->static_per_core = di->kind == DYNRT_DOMAIN_CPU;
  else if (!strcmp(scope, "domain"))
    m->static_per_core = 0;
  else
    return dynrt__seterr(L->err, DYNRT_ERR_FORMAT,
                         "%s: %s.static_scope: '%s' is not core or domain", L->path, c2, scope);
  const cJSON *mem = cJSON_GetObjectItemCaseSensitive(jd, "memory");
  snprintf(c2, sizeof c2, "%s.memory", ctx);
  if (mem && !cJSON_IsObject(mem)) return bad(L, c2, "not an object");
  TRY(get_num(L, mem, "fraction", c2, 0, 1, 0, &m->mem_fraction));
  TRY(get_num(L, mem, "freq_exponent", c2, 0, 1, 0, &m->mem_freq_exp));
  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(jd, "contention");
  snprintf(c2, sizeof c2, "%s.contention", ctx);
  if (ct && !cJSON_IsObject(ct)) return bad(L, c2, "not an object");
  char model[16];
  TRY(get_str(L, ct, "model", c2, model, sizeof model,
              di->kind == DYNRT_DOMAIN_CPU ? "timeslice" : "overlap"));
  if (!strcmp(model, "timeslice")) {
    if (di->kind != DYNRT_DOMAIN_CPU) return bad(L, c2, "timeslice is for cpu domains");
    m->timeslice = 1;
  } else if (!strcmp(model, "overlap")) {
    if (di->kind != DYNRT_DOMAIN_GPU) return bad(L, c2, "overlap is for gpu domains");
    m->timeslice = 0;
    TRY(get_num(L, ct, "compute_slowdown_per_job", c2, 0, 10, 1, &m->share_kappa));
  } else {
    return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: %s.model: '%s' is not timeslice or overlap",
                         L->path, c2, model);
  }
  TRY(get_str(L, jd, "governor", ctx, m->governor, sizeof m->governor,
              di->kind == DYNRT_DOMAIN_CPU ? "schedutil" : "simple_ondemand"));
  dynrt__gov_kind gk;
  if (dynrt__gov_parse(m->governor, di->kind == DYNRT_DOMAIN_GPU, &gk) != DYNRT_OK)
    return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: %s.governor: unknown governor '%s'",
                         L->path, ctx, m->governor);
  return DYNRT_OK;
}

static int domain_by_name(const dynrt__sim *s, const char *name) {
  for (int d = 0; d < s->ndom; d++)
    if (!strcmp(s->p->domains[d].name, name)) return d;
  return -1;
}

static dynrt_status load_mode_limits(loader *L, const cJSON *obj, const char *ctx, uint32_t *out) {
  if (!obj) return DYNRT_OK;
  if (!cJSON_IsObject(obj)) return bad(L, ctx, "not an object");
  const cJSON *e;
  cJSON_ArrayForEach(e, obj) {
    int d = domain_by_name(L->s, e->string);
    char c2[128];
    snprintf(c2, sizeof c2, "%s.%s", ctx, e->string);
    if (d < 0) return bad(L, c2, "no such domain");
    if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 4e9)
      return bad(L, c2, "not a frequency in kHz");
    out[d] = (uint32_t)e->valuedouble;
  }
  return DYNRT_OK;
}

static dynrt_status load_modes(loader *L, const cJSON *root) {
  dynrt__sim *s = L->s;
  const cJSON *modes = cJSON_GetObjectItemCaseSensitive(root, "modes");
  s->cur_mode = -1;
  if (!modes) return DYNRT_OK;
  if (!cJSON_IsArray(modes)) return bad(L, "modes", "not an array");
  const cJSON *jm;
  cJSON_ArrayForEach(jm, modes) {
    char ctx[64];
    snprintf(ctx, sizeof ctx, "modes[%d]", s->nmodes);
    if (s->nmodes >= SIM_MAX_MODES) return bad(L, "modes", "too many modes");
    if (!cJSON_IsObject(jm)) return bad(L, ctx, "not an object");
    sim_mode *md = &s->modes[s->nmodes];
    memset(md, 0, sizeof *md);
    TRY(get_str(L, jm, "name", ctx, md->name, sizeof md->name, NULL));
    const cJSON *on = cJSON_GetObjectItemCaseSensitive(jm, "online_cpus");
    char c2[96];
    snprintf(c2, sizeof c2, "%s.online_cpus", ctx);
    if (on) {
      uint64_t c[DYNRT_MAX_CPUS];
      int n = 0;
      TRY(get_uint_array(L, on, c2, 0, s->ncpus - 1, c, DYNRT_MAX_CPUS, &n));
      if (n < 1) return bad(L, c2, "empty");
      for (int k = 0; k < n; k++) md->online_mask |= 1ull << c[k];
    } else {
      md->online_mask = s->ncpus >= 64 ? ~0ull : (1ull << s->ncpus) - 1;
    }
    snprintf(c2, sizeof c2, "%s.max_khz", ctx);
    TRY(load_mode_limits(L, cJSON_GetObjectItemCaseSensitive(jm, "max_khz"), c2, md->max_khz));
    snprintf(c2, sizeof c2, "%s.min_khz", ctx);
    TRY(load_mode_limits(L, cJSON_GetObjectItemCaseSensitive(jm, "min_khz"), c2, md->min_khz));
    s->nmodes++;
  }
  return DYNRT_OK;
}

static dynrt_status parse(loader *L, const cJSON *root) {
  dynrt__sim *s = L->s;
  dynrt_platform *p = s->p;
  if (!cJSON_IsObject(root)) return bad(L, "(top)", "not a JSON object");
  char fmt[32];
  TRY(get_str(L, root, "format", "(top)", fmt, sizeof fmt, NULL));
  if (strcmp(fmt, "dynrt-platform"))
    return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: format: '%s' is not dynrt-platform",
                         L->path, fmt);
  double v;
  TRY(need_num(L, root, "version", "(top)", 1, 1, &v));
  char name[40];
  TRY(get_str(L, root, "name", "(top)", name, sizeof name, NULL));
  snprintf(p->info.name, sizeof p->info.name, "%s (simulated)", name);
  snprintf(p->info.backend, sizeof p->info.backend, "sim");
  p->info.energy_modelled = 1;
  p->info.simulated = 1;
  p->info.can_control = 1;

  const cJSON *kern = cJSON_GetObjectItemCaseSensitive(root, "kernel");
  if (kern && !cJSON_IsObject(kern)) return bad(L, "kernel", "not an object");
  TRY(get_num(L, kern, "hz", "kernel", 10, 10000, 250, &v));
  s->tick_ns = (uint64_t)(1e9 / v);
  const cJSON *inv = cJSON_GetObjectItemCaseSensitive(kern, "freq_invariant");
  if (inv && !cJSON_IsBool(inv)) return bad(L, "kernel.freq_invariant", "not a boolean");
  s->freq_invariant = inv ? cJSON_IsTrue(inv) : 1;

  const cJSON *board = cJSON_GetObjectItemCaseSensitive(root, "board");
  if (board && !cJSON_IsObject(board)) return bad(L, "board", "not an object");
  TRY(get_num(L, board, "base_w", "board", 0, 1e4, 0, &s->base_w));
  TRY(get_num(L, board, "parallel_fraction", "board", 0, 1, 0.9, &s->parallel_fraction));

  const cJSON *noise = cJSON_GetObjectItemCaseSensitive(root, "noise");
  if (noise && !cJSON_IsObject(noise)) return bad(L, "noise", "not an object");
  TRY(get_num(L, noise, "latency_rel_sigma", "noise", 0, 1, 0, &s->lat_sigma));
  TRY(get_num(L, noise, "power_rel_sigma", "noise", 0, 1, 0, &s->power_sigma));
  TRY(get_num(L, noise, "seed", "noise", 0, 9007199254740992.0, 1, &v));
  s->seed = (uint64_t)v;

  const cJSON *doms = cJSON_GetObjectItemCaseSensitive(root, "domains");
  if (!cJSON_IsArray(doms)) return bad(L, "domains", "missing or not an array");
  int nd = cJSON_GetArraySize(doms);
  if (nd < 1 || nd > DYNRT_MAX_DOMAINS) return bad(L, "domains", "needs 1..8 domains");
  uint64_t seen = 0;
  for (int d = 0; d < nd; d++) {
    s->ndom = d;
    TRY(load_domain(L, cJSON_GetArrayItem(doms, d), d, &seen));
    for (int e = 0; e < d; e++)
      if (!strcmp(p->domains[e].name, p->domains[d].name))
        return dynrt__seterr(L->err, DYNRT_ERR_FORMAT, "%s: domains[%d].name: '%s' used twice",
                             L->path, d, p->domains[d].name);
  }
  s->ndom = nd;
  p->info.ndomains = nd;
  /* CPUs must be numbered 0..n-1 without holes. */
  int ncpus = 0;
  while (ncpus < DYNRT_MAX_CPUS && (seen >> ncpus & 1)) ncpus++;
  if (ncpus < DYNRT_MAX_CPUS && (seen >> ncpus) != 0)
    return bad(L, "domains[].cpus", "CPU numbers must be 0..n-1 without holes");
  s->ncpus = ncpus;
  p->info.ncpus = ncpus;
  for (int d = 0; d < nd; d++)
    for (int k = 0; k < p->domains[d].ncpus; k++) s->cpu[p->domains[d].cpus[k]].domain = d;
  return load_modes(L, root);
}

dynrt_status dynrt__sim_board_parse(dynrt__sim *s, const char *text, size_t len, const char *path) {
  loader L = {s, path, &s->p->err};
  if (len > BOARD_MAX_BYTES)
    return dynrt__seterr(L.err, DYNRT_ERR_FORMAT, "%s: larger than %u bytes", path,
                         BOARD_MAX_BYTES);
  cJSON *root = cJSON_ParseWithLength(text, len);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    long off = (at && at >= text && at <= text + len) ? (long)(at - text) : -1;
    return dynrt__seterr(L.err, DYNRT_ERR_FORMAT, "%s: invalid JSON near byte %ld", path, off);
  }
  dynrt_status st = parse(&L, root);
  cJSON_Delete(root);
  return st;
}

dynrt_status dynrt__sim_board_load(dynrt__sim *s, const char *path) {
  dynrt_err *err = &s->p->err;
  FILE *f = fopen(path, "rb");
  if (!f) return dynrt__seterr(err, DYNRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  char *buf = dynrt__malloc(BOARD_MAX_BYTES + 1);
  if (!buf) {
    fclose(f);
    return dynrt__seterr(err, DYNRT_ERR_NOMEM, "%s: out of memory", path);
  }
  size_t n = fread(buf, 1, BOARD_MAX_BYTES + 1, f);
  int rerr = ferror(f);
  fclose(f);
  dynrt_status st = rerr ? dynrt__seterr(err, DYNRT_ERR_IO, "%s: read error", path)
                         : dynrt__sim_board_parse(s, buf, n, path);
  dynrt__free(buf);
  return st;
}

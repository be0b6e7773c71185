/* oplib.c - operating-point library: the in-memory form, the builder, validation, Pareto sets
 * and queries. The JSON reader and writer are in oplib_json.c. It checks what the profiling
 * and search tools measured; it never measures or searches itself. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "offline/oplib_int.h"

/* ---- small helpers ---- */

dynrt_status dynrt__oplib_grow(void **arr, int *cap, int n, size_t elem) {
  if (n < *cap) return DYNRT_OK;
  int ncap = *cap ? *cap * 2 : 16;
  void *p = dynrt__realloc(*arr, (size_t)*cap * elem, (size_t)ncap * elem);
  if (!p) return DYNRT_ERR_NOMEM;
  *arr = p;
  *cap = ncap;
  return DYNRT_OK;
}

const char *dynrt__oplib_pfx(const dynrt_oplib *lib) { return lib->name ? lib->name : "oplib"; }

static int finite_pos(double v) { return isfinite(v) && v > 0; }

/* ---- building ---- */

dynrt_status dynrt_oplib_create(const char *model_name, const char *model_file,
                                const char *platform, dynrt_oplib **out) {
  if (!out) return DYNRT_ERR_INVALID_ARG;
  *out = NULL;
  if (!model_name || !*model_name) return DYNRT_ERR_INVALID_ARG;
  dynrt_oplib *lib = dynrt__calloc(1, sizeof *lib);
  if (!lib) return DYNRT_ERR_NOMEM;
  lib->model_name = dynrt__strdup(model_name);
  lib->model_file = dynrt__strdup(model_file ? model_file : "");
  lib->platform = dynrt__strdup(platform ? platform : "");
  if (!lib->model_name || !lib->model_file || !lib->platform) {
    dynrt_oplib_destroy(lib);
    return DYNRT_ERR_NOMEM;
  }
  *out = lib;
  return DYNRT_OK;
}

static void free_fpareto(dynrt_oplib *lib) {
  for (int i = 0; i < lib->nfpareto; i++) dynrt__free(lib->fpareto[i].subnets);
  dynrt__free(lib->fpareto);
  lib->fpareto = NULL;
  lib->nfpareto = lib->cap_fpareto = 0;
}

void dynrt_oplib_destroy(dynrt_oplib *lib) {
  if (!lib) return;
  for (int i = 0; i < lib->nsubnets; i++) {
    dynrt__free((void *)lib->subnets[i].config);
    dynrt__free((void *)lib->subnets[i].bn_table);
  }
  dynrt__free(lib->subnets);
  dynrt__free(lib->settings);
  dynrt__free(lib->points);
  dynrt__free(lib->idle);
  free_fpareto(lib);
  dynrt__free(lib->lookup);
  dynrt__free(lib->pareto);
  dynrt__free(lib->pareto_off);
  dynrt__free(lib->model_name);
  dynrt__free(lib->model_file);
  dynrt__free(lib->model_sha256);
  dynrt__free(lib->platform);
  dynrt__free(lib);
}

const char *dynrt_oplib_errmsg(const dynrt_oplib *lib) {
  return lib ? dynrt__errmsg(&lib->err) : "oplib: NULL object";
}

#define CHECK_OPEN(lib)                                                                            \
  do {                                                                                             \
    if (!(lib)) return DYNRT_ERR_INVALID_ARG;                                                      \
    if ((lib)->finalized)                                                                          \
      return dynrt__seterr(&(lib)->err, DYNRT_ERR_STATE, "%s: %s on a finalized library",          \
                           dynrt__oplib_pfx(lib), __func__);                                       \
  } while (0)

int dynrt__oplib_is_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return 0;
  }
  return 1;
}

dynrt_status dynrt_oplib_set_model_sha256(dynrt_oplib *lib, const char *sha256) {
  CHECK_OPEN(lib);
  if (sha256 && (strlen(sha256) != 64 || !dynrt__oplib_is_hex(sha256, 64)))
    return dynrt__seterr(&lib->err, DYNRT_ERR_INVALID_ARG,
                         "%s: model.sha256 '%.80s' is not 64 hex digits", dynrt__oplib_pfx(lib),
                         sha256);
  char *copy = sha256 ? dynrt__strdup(sha256) : NULL;
  if (sha256 && !copy)
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", dynrt__oplib_pfx(lib));
  dynrt__free(lib->model_sha256);
  lib->model_sha256 = copy;
  return DYNRT_OK;
}

dynrt_status dynrt_oplib_add_subnet(dynrt_oplib *lib, const dynrt_oplib_subnet *sn, int *index) {
  CHECK_OPEN(lib);
  if (!sn || !sn->config)
    return dynrt__seterr(&lib->err, DYNRT_ERR_INVALID_ARG,
                         "%s: add_subnet: NULL sub-network "
                         "or config",
                         dynrt__oplib_pfx(lib));
  if (lib->nsubnets >= OPLIB_MAX_SUBNETS)
    return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: more than %d sub-networks",
                         dynrt__oplib_pfx(lib), OPLIB_MAX_SUBNETS);
  if (dynrt__oplib_grow((void **)&lib->subnets, &lib->cap_subnets, lib->nsubnets,
                        sizeof *lib->subnets))
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", dynrt__oplib_pfx(lib));
  dynrt_oplib_subnet c = *sn;
  c.config = dynrt__strdup(sn->config);
  c.bn_table = sn->bn_table ? dynrt__strdup(sn->bn_table) : NULL;
  if (!c.config || (sn->bn_table && !c.bn_table)) {
    dynrt__free((void *)c.config);
    dynrt__free((void *)c.bn_table);
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", dynrt__oplib_pfx(lib));
  }
  if (index) *index = lib->nsubnets;
  lib->subnets[lib->nsubnets++] = c;
  return DYNRT_OK;
}

dynrt_status dynrt_oplib_add_setting(dynrt_oplib *lib, const dynrt_oplib_setting *s, int *index) {
  CHECK_OPEN(lib);
  if (!s)
    return dynrt__seterr(&lib->err, DYNRT_ERR_INVALID_ARG, "%s: add_setting: NULL",
                         dynrt__oplib_pfx(lib));
  if (lib->nsettings >= OPLIB_MAX_SETTINGS)
    return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: more than %d settings",
                         dynrt__oplib_pfx(lib), OPLIB_MAX_SETTINGS);
  if (dynrt__oplib_grow((void **)&lib->settings, &lib->cap_settings, lib->nsettings,
                        sizeof *lib->settings))
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", dynrt__oplib_pfx(lib));
  if (index) *index = lib->nsettings;
  lib->settings[lib->nsettings] = *s;
  lib->settings[lib->nsettings].domain[sizeof s->domain - 1] = '\0';
  lib->nsettings++;
  return DYNRT_OK;
}

dynrt_status dynrt_oplib_add_point(dynrt_oplib *lib, const dynrt_oplib_point *pt) {
  CHECK_OPEN(lib);
  if (!pt)
    return dynrt__seterr(&lib->err, DYNRT_ERR_INVALID_ARG, "%s: add_point: NULL",
                         dynrt__oplib_pfx(lib));
  if (lib->npoints >= (int)OPLIB_MAX_LOOKUP)
    return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: too many points", dynrt__oplib_pfx(lib));
  if (dynrt__oplib_grow((void **)&lib->points, &lib->cap_points, lib->npoints, sizeof *lib->points))
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", dynrt__oplib_pfx(lib));
  lib->points[lib->npoints++] = *pt;
  return DYNRT_OK;
}

dynrt_status dynrt_oplib_add_idle(dynrt_oplib *lib, const dynrt_oplib_idle *idle) {
  CHECK_OPEN(lib);
  if (!idle)
    return dynrt__seterr(&lib->err, DYNRT_ERR_INVALID_ARG, "%s: add_idle: NULL",
                         dynrt__oplib_pfx(lib));
  if (dynrt__oplib_grow((void **)&lib->idle, &lib->cap_idle, lib->nidle, sizeof *lib->idle))
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", dynrt__oplib_pfx(lib));
  lib->idle[lib->nidle] = *idle;
  lib->idle[lib->nidle].domain[sizeof idle->domain - 1] = '\0';
  lib->nidle++;
  return DYNRT_OK;
}

/* ---- validation and Pareto sets ---- */

typedef struct id_ref {
  uint64_t id;
  int index;
} id_ref;

static int cmp_id(const void *a, const void *b) {
  const id_ref *x = a, *y = b;
  if (x->id != y->id) return x->id < y->id ? -1 : 1;
  return x->index - y->index;
}

typedef struct str_ref {
  const char *s;
  int index;
} str_ref;

static int cmp_str(const void *a, const void *b) {
  const str_ref *x = a, *y = b;
  int c = strcmp(x->s, y->s);
  return c ? c : x->index - y->index;
}

static dynrt_status check_subnets(dynrt_oplib *lib) {
  for (int i = 0; i < lib->nsubnets; i++) {
    const dynrt_oplib_subnet *s = &lib->subnets[i];
    if (!s->config[0] || strlen(s->config) > OPLIB_MAX_STR)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: subnets[%d].config is empty or longer than %d",
                           dynrt__oplib_pfx(lib), i, OPLIB_MAX_STR);
    if (!(isfinite(s->val_top1) && s->val_top1 >= 0 && s->val_top1 <= 1))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: subnets[%d].val.top1 = %g (must be in [0,1])",
                           dynrt__oplib_pfx(lib), i, s->val_top1);
    if (s->val_images == 0)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: subnets[%d].val.images = 0 (must be > 0)", dynrt__oplib_pfx(lib),
                           i);
    if (s->test_top1 >= 0) {
      if (!(isfinite(s->test_top1) && s->test_top1 <= 1))
        return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                             "%s: subnets[%d].test.top1 = %g (must be in [0,1])",
                             dynrt__oplib_pfx(lib), i, s->test_top1);
      if (s->test_images == 0)
        return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                             "%s: subnets[%d].test.images = 0 (must be > 0)", dynrt__oplib_pfx(lib),
                             i);
    } else if (isnan(s->test_top1)) {
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: subnets[%d].test.top1 is NaN",
                           dynrt__oplib_pfx(lib), i);
    }
    if ((s->compute_ns >= 0) != (s->memory_ns >= 0))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: subnets[%d].work needs both compute_ns and memory_ns",
                           dynrt__oplib_pfx(lib), i);
    if (s->compute_ns >= 0 &&
        (!isfinite(s->compute_ns) || !isfinite(s->memory_ns) || s->compute_ns + s->memory_ns <= 0))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: subnets[%d].work = {compute_ns %g, memory_ns %g} (must be finite, "
                           "sum > 0)",
                           dynrt__oplib_pfx(lib), i, s->compute_ns, s->memory_ns);
  }
  if (lib->nsubnets < 2) return DYNRT_OK;
  /* Unique ids and configs: sort copies, compare neighbours. */
  size_t n = (size_t)lib->nsubnets;
  id_ref *ids = dynrt__malloc(n * sizeof *ids);
  str_ref *strs = dynrt__malloc(n * sizeof *strs);
  if (!ids || !strs) {
    dynrt__free(ids);
    dynrt__free(strs);
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", dynrt__oplib_pfx(lib));
  }
  for (size_t i = 0; i < n; i++) {
    ids[i] = (id_ref){lib->subnets[i].id, (int)i};
    strs[i] = (str_ref){lib->subnets[i].config, (int)i};
  }
  qsort(ids, n, sizeof *ids, cmp_id);
  qsort(strs, n, sizeof *strs, cmp_str);
  dynrt_status st = DYNRT_OK;
  for (size_t i = 1; i < n && st == DYNRT_OK; i++) {
    if (ids[i].id == ids[i - 1].id)
      st = dynrt__seterr(
          &lib->err, DYNRT_ERR_FORMAT, "%s: subnets[%d].id = %016llx duplicates subnets[%d].id",
          dynrt__oplib_pfx(lib), ids[i].index, (unsigned long long)ids[i].id, ids[i - 1].index);
    else if (!strcmp(strs[i].s, strs[i - 1].s))
      st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                         "%s: subnets[%d].config '%.200s' duplicates subnets[%d].config",
                         dynrt__oplib_pfx(lib), strs[i].index, strs[i].s, strs[i - 1].index);
  }
  dynrt__free(ids);
  dynrt__free(strs);
  return st;
}

static dynrt_status check_settings(dynrt_oplib *lib) {
  for (int i = 0; i < lib->nsettings; i++) {
    const dynrt_oplib_setting *s = &lib->settings[i];
    if (!s->domain[0])
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: settings[%d].domain is empty",
                           dynrt__oplib_pfx(lib), i);
    if (s->khz == 0)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: settings[%d].khz = 0 (must be > 0)",
                           dynrt__oplib_pfx(lib), i);
    if (s->cores < 0 || s->cores > 64)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: settings[%d].cores = %d (must be in 0..64)", dynrt__oplib_pfx(lib),
                           i, s->cores);
    /* Quadratic, but settings are few and this runs once per load. */
    for (int j = 0; j < i; j++) {
      const dynrt_oplib_setting *t = &lib->settings[j];
      if (t->khz == s->khz && t->cores == s->cores && !strcmp(t->domain, s->domain))
        return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                             "%s: settings[%d] (%s, %u kHz, %d cores) duplicates settings[%d]",
                             dynrt__oplib_pfx(lib), i, s->domain, s->khz, s->cores, j);
    }
  }
  for (int i = 0; i < lib->nidle; i++) {
    const dynrt_oplib_idle *d = &lib->idle[i];
    if (!d->domain[0] || d->khz == 0 || !(isfinite(d->watts) && d->watts >= 0))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: idle[%d] = {domain '%s', khz %u, watts %g} (need a domain, khz > "
                           "0, watts >= 0)",
                           dynrt__oplib_pfx(lib), i, d->domain, d->khz, d->watts);
    for (int j = 0; j < i; j++)
      if (lib->idle[j].khz == d->khz && !strcmp(lib->idle[j].domain, d->domain))
        return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                             "%s: idle[%d] (%s, %u kHz) duplicates idle[%d]", dynrt__oplib_pfx(lib),
                             i, d->domain, d->khz, j);
  }
  return DYNRT_OK;
}

static dynrt_status check_points(dynrt_oplib *lib) {
  for (int i = 0; i < lib->npoints; i++) {
    dynrt_oplib_point *p = &lib->points[i];
    if (p->subnet < 0 || p->subnet >= lib->nsubnets)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].subnet = %d (unknown sub-network; have 0..%d)",
                           dynrt__oplib_pfx(lib), i, p->subnet, lib->nsubnets - 1);
    if (p->setting < 0 || p->setting >= lib->nsettings)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].setting = %d (unknown setting index; have 0..%d)",
                           dynrt__oplib_pfx(lib), i, p->setting, lib->nsettings - 1);
    if (!finite_pos(p->latency_mean_ms))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].latency_ms.mean = %g (must be > 0)",
                           dynrt__oplib_pfx(lib), i, p->latency_mean_ms);
    /* Absent percentiles default to the mean. */
    if (p->latency_p50_ms == 0) p->latency_p50_ms = p->latency_mean_ms;
    if (p->latency_p95_ms == 0)
      p->latency_p95_ms = DYNRT_MAX(p->latency_mean_ms, p->latency_p50_ms);
    if (!finite_pos(p->latency_p50_ms))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].latency_ms.p50 = %g (must be > 0)",
                           dynrt__oplib_pfx(lib), i, p->latency_p50_ms);
    if (!finite_pos(p->latency_p95_ms) || p->latency_p95_ms < p->latency_p50_ms)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].latency_ms.p95 = %g (must be > 0 and >= p50 %g)",
                           dynrt__oplib_pfx(lib), i, p->latency_p95_ms, p->latency_p50_ms);
    int has_e = p->energy_mj != 0, has_p = p->power_w != 0;
    if (!has_e && !has_p)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d] has neither energy_mj nor power_w",
                           dynrt__oplib_pfx(lib), i);
    if (has_e && !finite_pos(p->energy_mj))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].energy_mj = %g (must be > 0)", dynrt__oplib_pfx(lib), i,
                           p->energy_mj);
    if (has_p && !finite_pos(p->power_w))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: points[%d].power_w = %g (must be > 0)",
                           dynrt__oplib_pfx(lib), i, p->power_w);
    double from_power = p->power_w * p->latency_mean_ms; /* W x ms = mJ */
    if (has_e && has_p && fabs(p->energy_mj - from_power) > OPLIB_ENERGY_POWER_TOL * p->energy_mj)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].energy_mj = %g disagrees with power_w %g x latency %g "
                           "ms = %g mJ (more than %.0f%%)",
                           dynrt__oplib_pfx(lib), i, p->energy_mj, p->power_w, p->latency_mean_ms,
                           from_power, OPLIB_ENERGY_POWER_TOL * 100);
    if (!has_e) p->energy_mj = from_power;
    if (!has_p) p->power_w = p->energy_mj / p->latency_mean_ms;
    p->modelled = p->modelled != 0;
  }
  return DYNRT_OK;
}

/* a dominates b: at least as accurate and as fast, strictly better in one. */
static int dominates(const dynrt_oplib *lib, int a, int b, int setting) {
  double acc_a = lib->subnets[a].val_top1, acc_b = lib->subnets[b].val_top1;
  double lat_a = lib->points[lib->lookup[a * lib->nsettings + setting]].latency_mean_ms;
  double lat_b = lib->points[lib->lookup[b * lib->nsettings + setting]].latency_mean_ms;
  return acc_a >= acc_b && lat_a <= lat_b && (acc_a > acc_b || lat_a < lat_b);
}

typedef struct sort_ctx_item {
  double lat, acc;
  int subnet;
} sort_item;

/* By latency, and at equal latency the most accurate first: the sweep below keeps a point
 * only when it beats every one before it, so a slower-or-equal, less accurate point must
 * come after the one that dominates it. */
static int cmp_lat(const void *x, const void *y) {
  const sort_item *a = x, *b = y;
  if (a->lat != b->lat) return a->lat < b->lat ? -1 : 1;
  if (a->acc != b->acc) return a->acc > b->acc ? -1 : 1;
  return a->subnet - b->subnet;
}

/* Pareto set of every setting: sort by latency, keep each point strictly more accurate than
 * every faster one (equal latency and accuracy: both kept, neither dominates). */
static dynrt_status build_pareto(dynrt_oplib *lib) {
  int ns = lib->nsettings;
  lib->pareto_off = dynrt__calloc((size_t)ns + 1, sizeof(int));
  lib->pareto = dynrt__malloc(((size_t)lib->npoints + 1) * sizeof(int));
  sort_item *items = dynrt__malloc(((size_t)lib->nsubnets + 1) * sizeof *items);
  if (!lib->pareto_off || !lib->pareto || !items) {
    dynrt__free(items);
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", dynrt__oplib_pfx(lib));
  }
  int total = 0;
  for (int s = 0; s < ns; s++) {
    int n = 0;
    for (int k = 0; k < lib->nsubnets; k++) {
      int pi = lib->lookup[k * ns + s];
      if (pi < 0) continue;
      items[n++] = (sort_item){lib->points[pi].latency_mean_ms, lib->subnets[k].val_top1, k};
    }
    qsort(items, (size_t)n, sizeof *items, cmp_lat);
    lib->pareto_off[s] = total;
    double best_acc = -1, best_lat = -1;
    for (int i = 0; i < n; i++) {
      int keep = items[i].acc > best_acc ||
                 (items[i].acc == best_acc && items[i].lat == best_lat); /* exact tie */
      if (!keep) continue;
      lib->pareto[total++] = items[i].subnet;
      best_acc = items[i].acc;
      best_lat = items[i].lat;
    }
  }
  lib->pareto_off[ns] = total;
  dynrt__free(items);
  return DYNRT_OK;
}

/* The file's Pareto lists must name exactly the computed sets (order free). */
static dynrt_status check_file_pareto(dynrt_oplib *lib) {
  int ns = lib->nsettings;
  unsigned char *seen_setting = dynrt__calloc((size_t)ns + 1, 1);
  unsigned char *mark = dynrt__calloc((size_t)lib->nsubnets + 1, 1);
  dynrt_status st = DYNRT_OK;
  if (!seen_setting || !mark) {
    st = dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", dynrt__oplib_pfx(lib));
    goto done;
  }
  for (int f = 0; f < lib->nfpareto && st == DYNRT_OK; f++) {
    const file_pareto *fp = &lib->fpareto[f];
    int s = fp->setting;
    if (s < 0 || s >= ns) {
      st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                         "%s: pareto[%d].setting = %d (unknown setting index; have 0..%d)",
                         dynrt__oplib_pfx(lib), fp->index, s, ns - 1);
      break;
    }
    if (seen_setting[s]) {
      st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: pareto[%d].setting = %d appears twice",
                         dynrt__oplib_pfx(lib), fp->index, s);
      break;
    }
    seen_setting[s] = 1;
    memset(mark, 0, (size_t)lib->nsubnets);
    for (int i = 0; i < fp->count; i++) {
      int k = fp->subnets[i];
      if (k < 0 || k >= lib->nsubnets) {
        st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: pareto[%d].subnets[%d] = %d (unknown sub-network; have 0..%d)",
                           dynrt__oplib_pfx(lib), fp->index, i, k, lib->nsubnets - 1);
        break;
      }
      if (lib->lookup[k * ns + s] < 0) {
        st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: pareto[%d].subnets[%d] = %d has no point at setting %d",
                           dynrt__oplib_pfx(lib), fp->index, i, k, s);
        break;
      }
      if (mark[k]) {
        st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: pareto[%d].subnets[%d] = %d listed twice", dynrt__oplib_pfx(lib),
                           fp->index, i, k);
        break;
      }
      mark[k] = 1;
      for (int o = 0; o < lib->nsubnets; o++) {
        if (o != k && lib->lookup[o * ns + s] >= 0 && dominates(lib, o, k, s)) {
          st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                             "%s: pareto[%d].subnets[%d] = %d is dominated at setting %d by "
                             "sub-network %d (top-1 %g >= %g, latency %g <= %g ms)",
                             dynrt__oplib_pfx(lib), fp->index, i, k, s, o, lib->subnets[o].val_top1,
                             lib->subnets[k].val_top1,
                             lib->points[lib->lookup[o * ns + s]].latency_mean_ms,
                             lib->points[lib->lookup[k * ns + s]].latency_mean_ms);
          break;
        }
      }
    }
    for (int j = lib->pareto_off[s]; j < lib->pareto_off[s + 1] && st == DYNRT_OK; j++)
      if (!mark[lib->pareto[j]])
        st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: pareto[%d] (setting %d) lacks sub-network %d, which nothing "
                           "dominates",
                           dynrt__oplib_pfx(lib), fp->index, s, lib->pareto[j]);
  }
done:
  dynrt__free(seen_setting);
  dynrt__free(mark);
  return st;
}

dynrt_status dynrt_oplib_finalize(dynrt_oplib *lib) {
  CHECK_OPEN(lib);
  dynrt_status st;
  if ((st = check_subnets(lib)) || (st = check_settings(lib)) || (st = check_points(lib)))
    return st;
  size_t cells = (size_t)lib->nsubnets * (size_t)lib->nsettings;
  if (cells > OPLIB_MAX_LOOKUP)
    return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                         "%s: %d sub-networks x %d settings exceed %u points",
                         dynrt__oplib_pfx(lib), lib->nsubnets, lib->nsettings, OPLIB_MAX_LOOKUP);
  dynrt__free(lib->lookup);
  lib->lookup = dynrt__malloc((cells + 1) * sizeof(int));
  if (!lib->lookup)
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", dynrt__oplib_pfx(lib));
  for (size_t i = 0; i < cells; i++) lib->lookup[i] = -1;
  for (int i = 0; i < lib->npoints; i++) {
    int *cell = &lib->lookup[lib->points[i].subnet * lib->nsettings + lib->points[i].setting];
    if (*cell >= 0)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d] (subnet %d, setting %d) duplicates points[%d]",
                           dynrt__oplib_pfx(lib), i, lib->points[i].subnet, lib->points[i].setting,
                           *cell);
    *cell = i;
  }
  dynrt__free(lib->pareto);
  dynrt__free(lib->pareto_off);
  lib->pareto = lib->pareto_off = NULL;
  if ((st = build_pareto(lib))) return st;
  if (lib->nfpareto && (st = check_file_pareto(lib))) return st;
  free_fpareto(lib);
  lib->finalized = 1;
  dynrt__clearerr(&lib->err);
  return DYNRT_OK;
}

/* ---- queries ---- */

const char *dynrt_oplib_model_name(const dynrt_oplib *lib) { return lib ? lib->model_name : NULL; }
const char *dynrt_oplib_model_file(const dynrt_oplib *lib) { return lib ? lib->model_file : NULL; }
const char *dynrt_oplib_model_sha256(const dynrt_oplib *lib) {
  return lib ? lib->model_sha256 : NULL;
}
const char *dynrt_oplib_platform(const dynrt_oplib *lib) { return lib ? lib->platform : NULL; }
int dynrt_oplib_num_subnets(const dynrt_oplib *lib) { return lib ? lib->nsubnets : 0; }
int dynrt_oplib_num_settings(const dynrt_oplib *lib) { return lib ? lib->nsettings : 0; }
int dynrt_oplib_num_points(const dynrt_oplib *lib) { return lib ? lib->npoints : 0; }
int dynrt_oplib_num_idle(const dynrt_oplib *lib) { return lib ? lib->nidle : 0; }

const dynrt_oplib_subnet *dynrt_oplib_subnet_at(const dynrt_oplib *lib, int i) {
  return lib && i >= 0 && i < lib->nsubnets ? &lib->subnets[i] : NULL;
}
const dynrt_oplib_setting *dynrt_oplib_setting_at(const dynrt_oplib *lib, int i) {
  return lib && i >= 0 && i < lib->nsettings ? &lib->settings[i] : NULL;
}
const dynrt_oplib_point *dynrt_oplib_point_at(const dynrt_oplib *lib, int i) {
  return lib && i >= 0 && i < lib->npoints ? &lib->points[i] : NULL;
}
const dynrt_oplib_idle *dynrt_oplib_idle_at(const dynrt_oplib *lib, int i) {
  return lib && i >= 0 && i < lib->nidle ? &lib->idle[i] : NULL;
}

int dynrt_oplib_find_subnet(const dynrt_oplib *lib, uint64_t id) {
  if (!lib) return -1;
  for (int i = 0; i < lib->nsubnets; i++)
    if (lib->subnets[i].id == id) return i;
  return -1;
}

const dynrt_oplib_point *dynrt_oplib_lookup(const dynrt_oplib *lib, int subnet, int setting) {
  if (!lib || !lib->finalized || subnet < 0 || subnet >= lib->nsubnets || setting < 0 ||
      setting >= lib->nsettings)
    return NULL;
  int i = lib->lookup[subnet * lib->nsettings + setting];
  return i >= 0 ? &lib->points[i] : NULL;
}

const int *dynrt_oplib_pareto(const dynrt_oplib *lib, int setting, int *count) {
  if (count) *count = 0;
  if (!lib || !lib->finalized || setting < 0 || setting >= lib->nsettings) return NULL;
  if (count) *count = lib->pareto_off[setting + 1] - lib->pareto_off[setting];
  return lib->pareto + lib->pareto_off[setting];
}

int dynrt_oplib_idle_power(const dynrt_oplib *lib, const char *domain, uint32_t khz,
                           double *watts) {
  if (!lib || !domain || !watts) return 0;
  const dynrt_oplib_idle *lo = NULL, *hi = NULL;
  for (int i = 0; i < lib->nidle; i++) {
    const dynrt_oplib_idle *d = &lib->idle[i];
    if (strcmp(d->domain, domain)) continue;
    if (d->khz == khz) {
      *watts = d->watts;
      return 1;
    }
    if (d->khz < khz && (!lo || d->khz > lo->khz)) lo = d;
    if (d->khz > khz && (!hi || d->khz < hi->khz)) hi = d;
  }
  if (!lo && !hi) return 0;
  if (!lo)
    *watts = hi->watts;
  else if (!hi)
    *watts = lo->watts;
  else
    *watts = lo->watts + (hi->watts - lo->watts) * (double)(khz - lo->khz) / (hi->khz - lo->khz);
  return 1;
}

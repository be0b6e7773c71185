/* oplib.c - operating-point library: in-memory form, JSON reader and writer, validation and
 * Pareto sets. It reads and checks what the profiling and search tools measured; it never
 * measures or searches itself. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "dynrt/oplib.h"

/* Bounds that keep the lookup table and the messages sane; far above any real library
 * (Dynamic-OFA keeps ~20 sub-networks and a board has a few hundred settings). */
#define MAX_SUBNETS 65536
#define MAX_SETTINGS 65536
#define MAX_LOOKUP (1u << 26)
#define MAX_FILE (256u << 20)
#define MAX_STR 4096

/* energy_mj and power_w x latency may disagree this much (relative) before the file is
 * rejected: power is often averaged over a window slightly longer than one inference. */
#define ENERGY_POWER_TOL 0.25

typedef struct file_pareto {
  int setting;
  int count;
  int *subnets;
  int index; /* position in the file's "pareto" array, for messages */
} file_pareto;

struct dynrt_oplib {
  char *model_name;
  char *model_file;
  char *model_sha256; /* NULL when absent */
  char *platform;
  dynrt_oplib_subnet *subnets;
  int nsubnets, cap_subnets;
  dynrt_oplib_setting *settings;
  int nsettings, cap_settings;
  dynrt_oplib_point *points;
  int npoints, cap_points;
  dynrt_oplib_idle *idle;
  int nidle, cap_idle;
  /* Pareto sets as given in a file (checked by finalize), then freed. */
  file_pareto *fpareto;
  int nfpareto, cap_fpareto;
  int finalized;
  int *lookup;      /* [subnet * nsettings + setting] -> point index or -1 */
  int *pareto;      /* all Pareto lists back to back */
  int *pareto_off;  /* [nsettings + 1] offsets into pareto */
  const char *name; /* file name for messages during load; NULL otherwise */
  dynrt_err err;
};

/* ---- small helpers ---- */

static dynrt_status grow(void **arr, int *cap, int n, size_t elem) {
  if (n < *cap) return DYNRT_OK;
  int ncap = *cap ? *cap * 2 : 16;
  void *p = dynrt__realloc(*arr, (size_t)*cap * elem, (size_t)ncap * elem);
  if (!p) return DYNRT_ERR_NOMEM;
  *arr = p;
  *cap = ncap;
  return DYNRT_OK;
}

static const char *pfx(const dynrt_oplib *lib) { return lib->name ? lib->name : "oplib"; }

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
                           pfx(lib), __func__);                                                    \
  } while (0)

static int is_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return 0;
  }
  return 1;
}

dynrt_status dynrt_oplib_set_model_sha256(dynrt_oplib *lib, const char *sha256) {
  CHECK_OPEN(lib);
  if (sha256 && (strlen(sha256) != 64 || !is_hex(sha256, 64)))
    return dynrt__seterr(&lib->err, DYNRT_ERR_INVALID_ARG,
                         "%s: model.sha256 '%.80s' is not 64 hex digits", pfx(lib), sha256);
  char *copy = sha256 ? dynrt__strdup(sha256) : NULL;
  if (sha256 && !copy)
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", pfx(lib));
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
                         pfx(lib));
  if (lib->nsubnets >= MAX_SUBNETS)
    return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: more than %d sub-networks", pfx(lib),
                         MAX_SUBNETS);
  if (grow((void **)&lib->subnets, &lib->cap_subnets, lib->nsubnets, sizeof *lib->subnets))
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", pfx(lib));
  dynrt_oplib_subnet c = *sn;
  c.config = dynrt__strdup(sn->config);
  c.bn_table = sn->bn_table ? dynrt__strdup(sn->bn_table) : NULL;
  if (!c.config || (sn->bn_table && !c.bn_table)) {
    dynrt__free((void *)c.config);
    dynrt__free((void *)c.bn_table);
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", pfx(lib));
  }
  if (index) *index = lib->nsubnets;
  lib->subnets[lib->nsubnets++] = c;
  return DYNRT_OK;
}

dynrt_status dynrt_oplib_add_setting(dynrt_oplib *lib, const dynrt_oplib_setting *s, int *index) {
  CHECK_OPEN(lib);
  if (!s) return dynrt__seterr(&lib->err, DYNRT_ERR_INVALID_ARG, "%s: add_setting: NULL", pfx(lib));
  if (lib->nsettings >= MAX_SETTINGS)
    return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: more than %d settings", pfx(lib),
                         MAX_SETTINGS);
  if (grow((void **)&lib->settings, &lib->cap_settings, lib->nsettings, sizeof *lib->settings))
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", pfx(lib));
  if (index) *index = lib->nsettings;
  lib->settings[lib->nsettings] = *s;
  lib->settings[lib->nsettings].domain[sizeof s->domain - 1] = '\0';
  lib->nsettings++;
  return DYNRT_OK;
}

dynrt_status dynrt_oplib_add_point(dynrt_oplib *lib, const dynrt_oplib_point *pt) {
  CHECK_OPEN(lib);
  if (!pt) return dynrt__seterr(&lib->err, DYNRT_ERR_INVALID_ARG, "%s: add_point: NULL", pfx(lib));
  if (lib->npoints >= (int)MAX_LOOKUP)
    return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: too many points", pfx(lib));
  if (grow((void **)&lib->points, &lib->cap_points, lib->npoints, sizeof *lib->points))
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", pfx(lib));
  lib->points[lib->npoints++] = *pt;
  return DYNRT_OK;
}

dynrt_status dynrt_oplib_add_idle(dynrt_oplib *lib, const dynrt_oplib_idle *idle) {
  CHECK_OPEN(lib);
  if (!idle) return dynrt__seterr(&lib->err, DYNRT_ERR_INVALID_ARG, "%s: add_idle: NULL", pfx(lib));
  if (grow((void **)&lib->idle, &lib->cap_idle, lib->nidle, sizeof *lib->idle))
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", pfx(lib));
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
    if (!s->config[0] || strlen(s->config) > MAX_STR)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: subnets[%d].config is empty or longer than %d", pfx(lib), i,
                           MAX_STR);
    if (!(isfinite(s->val_top1) && s->val_top1 >= 0 && s->val_top1 <= 1))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: subnets[%d].val.top1 = %g (must be in [0,1])", pfx(lib), i,
                           s->val_top1);
    if (s->val_images == 0)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: subnets[%d].val.images = 0 (must be > 0)", pfx(lib), i);
    if (s->test_top1 >= 0) {
      if (!(isfinite(s->test_top1) && s->test_top1 <= 1))
        return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                             "%s: subnets[%d].test.top1 = %g (must be in [0,1])", pfx(lib), i,
                             s->test_top1);
      if (s->test_images == 0)
        return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                             "%s: subnets[%d].test.images = 0 (must be > 0)", pfx(lib), i);
    } else if (isnan(s->test_top1)) {
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: subnets[%d].test.top1 is NaN",
                           pfx(lib), i);
    }
    if ((s->compute_ns >= 0) != (s->memory_ns >= 0))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: subnets[%d].work needs both compute_ns and memory_ns", pfx(lib), i);
    if (s->compute_ns >= 0 &&
        (!isfinite(s->compute_ns) || !isfinite(s->memory_ns) || s->compute_ns + s->memory_ns <= 0))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: subnets[%d].work = {compute_ns %g, memory_ns %g} (must be finite, "
                           "sum > 0)",
                           pfx(lib), i, s->compute_ns, s->memory_ns);
  }
  if (lib->nsubnets < 2) return DYNRT_OK;
  /* Unique ids and configs: sort copies, compare neighbours. */
  size_t n = (size_t)lib->nsubnets;
  id_ref *ids = dynrt__malloc(n * sizeof *ids);
  str_ref *strs = dynrt__malloc(n * sizeof *strs);
  if (!ids || !strs) {
    dynrt__free(ids);
    dynrt__free(strs);
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", pfx(lib));
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
      st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                         "%s: subnets[%d].id = %016llx duplicates subnets[%d].id", pfx(lib),
                         ids[i].index, (unsigned long long)ids[i].id, ids[i - 1].index);
    else if (!strcmp(strs[i].s, strs[i - 1].s))
      st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                         "%s: subnets[%d].config '%.200s' duplicates subnets[%d].config", pfx(lib),
                         strs[i].index, strs[i].s, strs[i - 1].index);
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
                           pfx(lib), i);
    if (s->khz == 0)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: settings[%d].khz = 0 (must be > 0)",
                           pfx(lib), i);
    if (s->cores < 0 || s->cores > 64)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: settings[%d].cores = %d (must be in 0..64)", pfx(lib), i, s->cores);
    /* Quadratic, but settings are few and this runs once per load. */
    for (int j = 0; j < i; j++) {
      const dynrt_oplib_setting *t = &lib->settings[j];
      if (t->khz == s->khz && t->cores == s->cores && !strcmp(t->domain, s->domain))
        return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                             "%s: settings[%d] (%s, %u kHz, %d cores) duplicates settings[%d]",
                             pfx(lib), i, s->domain, s->khz, s->cores, j);
    }
  }
  for (int i = 0; i < lib->nidle; i++) {
    const dynrt_oplib_idle *d = &lib->idle[i];
    if (!d->domain[0] || d->khz == 0 || !(isfinite(d->watts) && d->watts >= 0))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: idle[%d] = {domain '%s', khz %u, watts %g} (need a domain, khz > "
                           "0, watts >= 0)",
                           pfx(lib), i, d->domain, d->khz, d->watts);
    for (int j = 0; j < i; j++)
      if (lib->idle[j].khz == d->khz && !strcmp(lib->idle[j].domain, d->domain))
        return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                             "%s: idle[%d] (%s, %u kHz) duplicates idle[%d]", pfx(lib), i,
                             d->domain, d->khz, j);
  }
  return DYNRT_OK;
}

static dynrt_status check_points(dynrt_oplib *lib) {
  for (int i = 0; i < lib->npoints; i++) {
    dynrt_oplib_point *p = &lib->points[i];
    if (p->subnet < 0 || p->subnet >= lib->nsubnets)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].subnet = %d (unknown sub-network; have 0..%d)", pfx(lib),
                           i, p->subnet, lib->nsubnets - 1);
    if (p->setting < 0 || p->setting >= lib->nsettings)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].setting = %d (unknown setting index; have 0..%d)",
                           pfx(lib), i, p->setting, lib->nsettings - 1);
    if (!finite_pos(p->latency_mean_ms))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].latency_ms.mean = %g (must be > 0)", pfx(lib), i,
                           p->latency_mean_ms);
    /* Absent percentiles default to the mean. */
    if (p->latency_p50_ms == 0) p->latency_p50_ms = p->latency_mean_ms;
    if (p->latency_p95_ms == 0)
      p->latency_p95_ms = DYNRT_MAX(p->latency_mean_ms, p->latency_p50_ms);
    if (!finite_pos(p->latency_p50_ms))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].latency_ms.p50 = %g (must be > 0)", pfx(lib), i,
                           p->latency_p50_ms);
    if (!finite_pos(p->latency_p95_ms) || p->latency_p95_ms < p->latency_p50_ms)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].latency_ms.p95 = %g (must be > 0 and >= p50 %g)",
                           pfx(lib), i, p->latency_p95_ms, p->latency_p50_ms);
    int has_e = p->energy_mj != 0, has_p = p->power_w != 0;
    if (!has_e && !has_p)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d] has neither energy_mj nor power_w", pfx(lib), i);
    if (has_e && !finite_pos(p->energy_mj))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].energy_mj = %g (must be > 0)", pfx(lib), i,
                           p->energy_mj);
    if (has_p && !finite_pos(p->power_w))
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: points[%d].power_w = %g (must be > 0)",
                           pfx(lib), i, p->power_w);
    double from_power = p->power_w * p->latency_mean_ms; /* W x ms = mJ */
    if (has_e && has_p && fabs(p->energy_mj - from_power) > ENERGY_POWER_TOL * p->energy_mj)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d].energy_mj = %g disagrees with power_w %g x latency %g "
                           "ms = %g mJ (more than %.0f%%)",
                           pfx(lib), i, p->energy_mj, p->power_w, p->latency_mean_ms, from_power,
                           ENERGY_POWER_TOL * 100);
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

static int cmp_lat(const void *x, const void *y) {
  const sort_item *a = x, *b = y;
  if (a->lat != b->lat) return a->lat < b->lat ? -1 : 1;
  if (a->acc != b->acc) return a->acc < b->acc ? -1 : 1;
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
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", pfx(lib));
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
    st = dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", pfx(lib));
    goto done;
  }
  for (int f = 0; f < lib->nfpareto && st == DYNRT_OK; f++) {
    const file_pareto *fp = &lib->fpareto[f];
    int s = fp->setting;
    if (s < 0 || s >= ns) {
      st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                         "%s: pareto[%d].setting = %d (unknown setting index; have 0..%d)",
                         pfx(lib), fp->index, s, ns - 1);
      break;
    }
    if (seen_setting[s]) {
      st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: pareto[%d].setting = %d appears twice",
                         pfx(lib), fp->index, s);
      break;
    }
    seen_setting[s] = 1;
    memset(mark, 0, (size_t)lib->nsubnets);
    for (int i = 0; i < fp->count; i++) {
      int k = fp->subnets[i];
      if (k < 0 || k >= lib->nsubnets) {
        st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: pareto[%d].subnets[%d] = %d (unknown sub-network; have 0..%d)",
                           pfx(lib), fp->index, i, k, lib->nsubnets - 1);
        break;
      }
      if (lib->lookup[k * ns + s] < 0) {
        st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: pareto[%d].subnets[%d] = %d has no point at setting %d", pfx(lib),
                           fp->index, i, k, s);
        break;
      }
      if (mark[k]) {
        st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: pareto[%d].subnets[%d] = %d listed twice", pfx(lib), fp->index, i,
                           k);
        break;
      }
      mark[k] = 1;
      for (int o = 0; o < lib->nsubnets; o++) {
        if (o != k && lib->lookup[o * ns + s] >= 0 && dominates(lib, o, k, s)) {
          st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                             "%s: pareto[%d].subnets[%d] = %d is dominated at setting %d by "
                             "sub-network %d (top-1 %g >= %g, latency %g <= %g ms)",
                             pfx(lib), fp->index, i, k, s, o, lib->subnets[o].val_top1,
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
                           pfx(lib), fp->index, s, lib->pareto[j]);
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
  if (cells > MAX_LOOKUP)
    return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                         "%s: %d sub-networks x %d settings exceed %u points", pfx(lib),
                         lib->nsubnets, lib->nsettings, MAX_LOOKUP);
  dynrt__free(lib->lookup);
  lib->lookup = dynrt__malloc((cells + 1) * sizeof(int));
  if (!lib->lookup) return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", pfx(lib));
  for (size_t i = 0; i < cells; i++) lib->lookup[i] = -1;
  for (int i = 0; i < lib->npoints; i++) {
    int *cell = &lib->lookup[lib->points[i].subnet * lib->nsettings + lib->points[i].setting];
    if (*cell >= 0)
      return dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT,
                           "%s: points[%d] (subnet %d, setting %d) duplicates points[%d]", pfx(lib),
                           i, lib->points[i].subnet, lib->points[i].setting, *cell);
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

/* ---- JSON reader ---- */

typedef struct reader {
  dynrt_oplib *lib;
  char path[160]; /* field path being read, for messages */
} reader;

static dynrt_status rerr(reader *r, const char *what) {
  return dynrt__seterr(&r->lib->err, DYNRT_ERR_FORMAT, "%s: %s %s", pfx(r->lib), r->path, what);
}

/* Number field. required: missing is an error; otherwise *out keeps its default. */
static dynrt_status get_num(reader *r, const cJSON *obj, const char *key, int required,
                            double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  size_t n = strlen(r->path);
  snprintf(r->path + n, sizeof r->path - n, ".%s", key);
  dynrt_status st = DYNRT_OK;
  if (!v) {
    if (required) st = rerr(r, "is missing");
  } else if (!cJSON_IsNumber(v)) {
    st = rerr(r, "must be a number");
  } else {
    *out = v->valuedouble;
  }
  r->path[n] = '\0';
  return st;
}

/* Non-negative integer field below 2^53 (exact in a double). */
static dynrt_status get_uint(reader *r, const cJSON *obj, const char *key, int required,
                             uint64_t *out) {
  double d = -1;
  dynrt_status st = get_num(r, obj, key, required, &d);
  if (st || d == -1) return st;
  if (!(d >= 0 && d <= 9007199254740992.0 && d == floor(d))) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, ".%s = %g", key, d);
    return rerr(r, "(must be a non-negative integer)");
  }
  *out = (uint64_t)d;
  return DYNRT_OK;
}

static dynrt_status get_str(reader *r, const cJSON *obj, const char *key, int required,
                            const char **out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  size_t n = strlen(r->path);
  snprintf(r->path + n, sizeof r->path - n, ".%s", key);
  dynrt_status st = DYNRT_OK;
  if (!v) {
    if (required) st = rerr(r, "is missing");
  } else if (!cJSON_IsString(v) || strlen(v->valuestring) > MAX_STR) {
    st = rerr(r, "must be a string (at most 4096 bytes)");
  } else {
    *out = v->valuestring;
  }
  r->path[n] = '\0';
  return st;
}

static const cJSON *get_obj(reader *r, const cJSON *obj, const char *key, int required,
                            dynrt_status *st) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  *st = DYNRT_OK;
  if (!v) {
    if (required) {
      size_t n = strlen(r->path);
      snprintf(r->path + n, sizeof r->path - n, ".%s", key);
      *st = rerr(r, "is missing");
    }
    return NULL;
  }
  if (!cJSON_IsObject(v)) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, ".%s", key);
    *st = rerr(r, "must be an object");
    return NULL;
  }
  return v;
}

static const cJSON *get_arr(reader *r, const cJSON *root, const char *key, int required,
                            dynrt_status *st) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  *st = DYNRT_OK;
  snprintf(r->path, sizeof r->path, "%s", key);
  if (!v) {
    if (required) *st = rerr(r, "is missing");
    return NULL;
  }
  if (!cJSON_IsArray(v)) {
    *st = rerr(r, "must be an array");
    return NULL;
  }
  return v;
}

static dynrt_status set_domain(reader *r, const char *src, char dst[32]) {
  if (strlen(src) >= 32) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, ".domain '%.40s'", src);
    return rerr(r, "is longer than 31 bytes");
  }
  strcpy(dst, src);
  return DYNRT_OK;
}

static dynrt_status read_subnet(reader *r, const cJSON *o) {
  dynrt_oplib_subnet s = {.test_top1 = -1, .compute_ns = -1, .memory_ns = -1};
  const char *id = NULL;
  dynrt_status st;
  if (!cJSON_IsObject(o)) return rerr(r, "must be an object");
  if ((st = get_str(r, o, "config", 1, &s.config)) || (st = get_str(r, o, "id", 1, &id)) ||
      (st = get_uint(r, o, "macs", 1, &s.macs)) || (st = get_uint(r, o, "params", 1, &s.params)) ||
      (st = get_str(r, o, "bn_table", 0, &s.bn_table)))
    return st;
  size_t idlen = strlen(id);
  if (idlen == 0 || idlen > 16 || !is_hex(id, idlen)) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, ".id = '%.40s'", id);
    return rerr(r, "(must be 1 to 16 hex digits)");
  }
  s.id = strtoull(id, NULL, 16);
  size_t n = strlen(r->path);
  const cJSON *val = get_obj(r, o, "val", 1, &st);
  if (st) return st;
  strcat(r->path, ".val");
  if ((st = get_num(r, val, "top1", 1, &s.val_top1)) ||
      (st = get_uint(r, val, "images", 1, &s.val_images)))
    return st;
  r->path[n] = '\0';
  const cJSON *test = get_obj(r, o, "test", 0, &st);
  if (st) return st;
  if (test) {
    strcat(r->path, ".test");
    if ((st = get_num(r, test, "top1", 1, &s.test_top1)) ||
        (st = get_uint(r, test, "images", 1, &s.test_images)))
      return st;
    r->path[n] = '\0';
    /* Checked here: a negative value would otherwise read as "absent". */
    if (!(s.test_top1 >= 0 && s.test_top1 <= 1)) {
      snprintf(r->path + n, sizeof r->path - n, ".test.top1 = %g", s.test_top1);
      return rerr(r, "(must be in [0,1])");
    }
  }
  const cJSON *work = get_obj(r, o, "work", 0, &st);
  if (st) return st;
  if (work) {
    strcat(r->path, ".work");
    if ((st = get_num(r, work, "compute_ns", 1, &s.compute_ns)) ||
        (st = get_num(r, work, "memory_ns", 1, &s.memory_ns)))
      return st;
    r->path[n] = '\0';
    if (s.compute_ns < 0 || s.memory_ns < 0) {
      snprintf(r->path + n, sizeof r->path - n, ".work = {compute_ns %g, memory_ns %g}",
               s.compute_ns, s.memory_ns);
      return rerr(r, "(must be >= 0)");
    }
  }
  return dynrt_oplib_add_subnet(r->lib, &s, NULL);
}

static dynrt_status read_setting(reader *r, const cJSON *o) {
  dynrt_oplib_setting s = {{0}, 0, 0};
  const char *dom = NULL;
  uint64_t khz = 0, cores = 0;
  dynrt_status st;
  if (!cJSON_IsObject(o)) return rerr(r, "must be an object");
  if ((st = get_str(r, o, "domain", 1, &dom)) || (st = get_uint(r, o, "khz", 1, &khz)) ||
      (st = get_uint(r, o, "cores", 1, &cores)) || (st = set_domain(r, dom, s.domain)))
    return st;
  if (khz > UINT32_MAX || cores > 64) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, " {khz %llu, cores %llu}", (unsigned long long)khz,
             (unsigned long long)cores);
    return rerr(r, "out of range (khz < 2^32, cores <= 64)");
  }
  s.khz = (uint32_t)khz;
  s.cores = (int)cores;
  return dynrt_oplib_add_setting(r->lib, &s, NULL);
}

static dynrt_status read_index(reader *r, const cJSON *o, const char *key, int *out) {
  double d = 0;
  dynrt_status st = get_num(r, o, key, 1, &d);
  if (st) return st;
  if (!(d == floor(d) && fabs(d) < 1e9)) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, ".%s = %g", key, d);
    return rerr(r, "(must be an integer index)");
  }
  *out = (int)d;
  return DYNRT_OK;
}

static dynrt_status read_point(reader *r, const cJSON *o) {
  dynrt_oplib_point p = {0};
  dynrt_status st;
  if (!cJSON_IsObject(o)) return rerr(r, "must be an object");
  if ((st = read_index(r, o, "subnet", &p.subnet)) ||
      (st = read_index(r, o, "setting", &p.setting)))
    return st;
  size_t n = strlen(r->path);
  const cJSON *lat = get_obj(r, o, "latency_ms", 1, &st);
  if (st) return st;
  strcat(r->path, ".latency_ms");
  if ((st = get_num(r, lat, "mean", 1, &p.latency_mean_ms)) ||
      (st = get_num(r, lat, "p50", 0, &p.latency_p50_ms)) ||
      (st = get_num(r, lat, "p95", 0, &p.latency_p95_ms)))
    return st;
  r->path[n] = '\0';
  /* Zero means "absent" in the struct; a zero written in the file is a bad value. */
  const char *zero_key = NULL;
  if (cJSON_GetObjectItemCaseSensitive(lat, "p50") && p.latency_p50_ms == 0) zero_key = "p50";
  if (cJSON_GetObjectItemCaseSensitive(lat, "p95") && p.latency_p95_ms == 0) zero_key = "p95";
  if (zero_key) {
    snprintf(r->path + n, sizeof r->path - n, ".latency_ms.%s = 0", zero_key);
    return rerr(r, "(must be > 0)");
  }
  if ((st = get_num(r, o, "energy_mj", 0, &p.energy_mj)) ||
      (st = get_num(r, o, "power_w", 0, &p.power_w)))
    return st;
  const char *bad = NULL;
  if (cJSON_GetObjectItemCaseSensitive(o, "energy_mj") && p.energy_mj <= 0) bad = "energy_mj";
  if (cJSON_GetObjectItemCaseSensitive(o, "power_w") && p.power_w <= 0) bad = "power_w";
  if (bad) {
    snprintf(r->path + n, sizeof r->path - n, ".%s = %g", bad,
             bad[0] == 'e' ? p.energy_mj : p.power_w);
    return rerr(r, "(must be > 0)");
  }
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "modelled");
  if (m && !cJSON_IsBool(m)) {
    strcat(r->path, ".modelled");
    return rerr(r, "must be true or false");
  }
  p.modelled = m && cJSON_IsTrue(m);
  return dynrt_oplib_add_point(r->lib, &p);
}

static dynrt_status read_idle(reader *r, const cJSON *o) {
  dynrt_oplib_idle d = {{0}, 0, 0};
  const char *dom = NULL;
  uint64_t khz = 0;
  dynrt_status st;
  if (!cJSON_IsObject(o)) return rerr(r, "must be an object");
  if ((st = get_str(r, o, "domain", 1, &dom)) || (st = get_uint(r, o, "khz", 1, &khz)) ||
      (st = get_num(r, o, "watts", 1, &d.watts)) || (st = set_domain(r, dom, d.domain)))
    return st;
  if (khz > UINT32_MAX) return rerr(r, "khz out of range");
  d.khz = (uint32_t)khz;
  if (d.watts < 0) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, ".watts = %g", d.watts);
    return rerr(r, "(must be >= 0)");
  }
  return dynrt_oplib_add_idle(r->lib, &d);
}

static dynrt_status read_pareto(reader *r, const cJSON *o, int index) {
  dynrt_oplib *lib = r->lib;
  dynrt_status st;
  int setting = 0;
  if (!cJSON_IsObject(o)) return rerr(r, "must be an object");
  if ((st = read_index(r, o, "setting", &setting))) return st;
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "subnets");
  if (!cJSON_IsArray(arr)) {
    strcat(r->path, ".subnets");
    return rerr(r, "must be an array of sub-network indices");
  }
  if (grow((void **)&lib->fpareto, &lib->cap_fpareto, lib->nfpareto, sizeof *lib->fpareto))
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", pfx(lib));
  file_pareto *fp = &lib->fpareto[lib->nfpareto];
  int count = cJSON_GetArraySize(arr);
  *fp = (file_pareto){setting, 0, dynrt__malloc(((size_t)count + 1) * sizeof(int)), index};
  if (!fp->subnets) return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", pfx(lib));
  lib->nfpareto++;
  const cJSON *x;
  cJSON_ArrayForEach(x, arr) {
    if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) ||
        fabs(x->valuedouble) > 1e9) {
      size_t n = strlen(r->path);
      snprintf(r->path + n, sizeof r->path - n, ".subnets[%d]", fp->count);
      return rerr(r, "must be an integer index");
    }
    fp->subnets[fp->count++] = (int)x->valuedouble;
  }
  return DYNRT_OK;
}

typedef dynrt_status (*item_fn)(reader *r, const cJSON *o);

static dynrt_status read_array(reader *r, const cJSON *root, const char *key, int required,
                               item_fn fn) {
  dynrt_status st;
  const cJSON *arr = get_arr(r, root, key, required, &st);
  if (!arr) return st;
  int i = 0;
  const cJSON *x;
  cJSON_ArrayForEach(x, arr) {
    snprintf(r->path, sizeof r->path, "%s[%d]", key, i);
    if ((st = fn(r, x))) return st;
    i++;
  }
  return DYNRT_OK;
}

static dynrt_status read_root(reader *r, const cJSON *root, dynrt_oplib **libp) {
  dynrt_oplib *lib = *libp;
  dynrt_status st;
  const char *format = NULL, *name = NULL, *file = "", *sha = NULL, *platform = "";
  double version = 0;
  snprintf(r->path, sizeof r->path, "(root)");
  if (!cJSON_IsObject(root)) return rerr(r, "must be a JSON object");
  if ((st = get_str(r, root, "format", 1, &format))) return st;
  if (strcmp(format, DYNRT_OPLIB_FORMAT)) {
    snprintf(r->path, sizeof r->path, "format = '%.60s'", format);
    return rerr(r, "(expected '" DYNRT_OPLIB_FORMAT "')");
  }
  if ((st = get_num(r, root, "version", 1, &version))) return st;
  if (version != DYNRT_OPLIB_VERSION) {
    snprintf(r->path, sizeof r->path, "version = %g", version);
    return dynrt__seterr(&lib->err, DYNRT_ERR_UNSUPPORTED, "%s: %s (this reader knows %d)",
                         pfx(lib), r->path, DYNRT_OPLIB_VERSION);
  }
  const cJSON *model = get_obj(r, root, "model", 1, &st);
  if (st) return st;
  snprintf(r->path, sizeof r->path, "model");
  if ((st = get_str(r, model, "name", 1, &name)) || (st = get_str(r, model, "file", 0, &file)) ||
      (st = get_str(r, model, "sha256", 0, &sha)))
    return st;
  snprintf(r->path, sizeof r->path, "(root)");
  if ((st = get_str(r, root, "platform", 0, &platform))) return st;
  if (!*name) {
    snprintf(r->path, sizeof r->path, "model.name");
    return rerr(r, "is empty");
  }
  /* The object was created with placeholders so that messages have a home; fill it now. */
  char *n1 = dynrt__strdup(name), *n2 = dynrt__strdup(file), *n3 = dynrt__strdup(platform);
  if (!n1 || !n2 || !n3) {
    dynrt__free(n1);
    dynrt__free(n2);
    dynrt__free(n3);
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", pfx(lib));
  }
  dynrt__free(lib->model_name);
  dynrt__free(lib->model_file);
  dynrt__free(lib->platform);
  lib->model_name = n1;
  lib->model_file = n2;
  lib->platform = n3;
  if (sha && (st = dynrt_oplib_set_model_sha256(lib, sha))) return st;
  if ((st = read_array(r, root, "subnets", 1, read_subnet)) ||
      (st = read_array(r, root, "settings", 1, read_setting)) ||
      (st = read_array(r, root, "points", 1, read_point)) ||
      (st = read_array(r, root, "idle", 0, read_idle)))
    return st;
  const cJSON *par = get_arr(r, root, "pareto", 0, &st);
  if (st) return st;
  if (par) {
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, par) {
      snprintf(r->path, sizeof r->path, "pareto[%d]", i);
      if ((st = read_pareto(r, x, i))) return st;
      i++;
    }
  }
  return dynrt_oplib_finalize(lib);
}

static void copy_err(char *errbuf, size_t errlen, const char *msg) {
  if (errbuf && errlen) snprintf(errbuf, errlen, "%s", msg);
}

dynrt_status dynrt_oplib_parse(const char *json, size_t len, const char *name, dynrt_oplib **out,
                               char *errbuf, size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!out) return DYNRT_ERR_INVALID_ARG;
  *out = NULL;
  const char *nm = name ? name : "oplib";
  if (!json) {
    copy_err(errbuf, errlen, "oplib: NULL text");
    return DYNRT_ERR_INVALID_ARG;
  }
  dynrt_oplib *lib = NULL;
  dynrt_status st = dynrt_oplib_create("?", NULL, NULL, &lib);
  if (st) {
    copy_err(errbuf, errlen, "oplib: out of memory");
    return st;
  }
  lib->name = nm;
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    long off = at && at >= json && at <= json + len ? (long)(at - json) : -1;
    st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: not valid JSON (near byte %ld)", nm, off);
  } else {
    reader r = {lib, {0}};
    st = read_root(&r, root, &lib);
    cJSON_Delete(root);
  }
  if (st) {
    copy_err(errbuf, errlen, dynrt__errmsg(&lib->err));
    dynrt_oplib_destroy(lib);
    return st;
  }
  lib->name = NULL;
  *out = lib;
  return DYNRT_OK;
}

dynrt_status dynrt_oplib_load(const char *path, dynrt_oplib **out, char *errbuf, size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!out) return DYNRT_ERR_INVALID_ARG;
  *out = NULL;
  if (!path) {
    copy_err(errbuf, errlen, "oplib: NULL path");
    return DYNRT_ERR_INVALID_ARG;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errbuf) snprintf(errbuf, errlen, "%s: cannot open (%s)", path, strerror(errno));
    return DYNRT_ERR_IO;
  }
  char *buf = NULL;
  dynrt_status st = DYNRT_OK;
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
    if (errbuf) snprintf(errbuf, errlen, "%s: cannot determine the size", path);
    st = DYNRT_ERR_IO;
  } else if ((unsigned long)size > MAX_FILE) {
    if (errbuf) snprintf(errbuf, errlen, "%s: %ld bytes, more than %u", path, size, MAX_FILE);
    st = DYNRT_ERR_FORMAT;
  } else if (!(buf = dynrt__malloc((size_t)size + 1))) {
    copy_err(errbuf, errlen, "oplib: out of memory");
    st = DYNRT_ERR_NOMEM;
  } else if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
    if (errbuf) snprintf(errbuf, errlen, "%s: short read", path);
    st = DYNRT_ERR_IO;
  }
  fclose(f);
  if (st == DYNRT_OK) {
    const char *base = strrchr(path, '/');
    st = dynrt_oplib_parse(buf, (size_t)size, base ? base + 1 : path, out, errbuf, errlen);
  }
  dynrt__free(buf);
  return st;
}

/* ---- JSON writer ---- */

static cJSON *add_obj(cJSON *parent, const char *key) {
  cJSON *o = cJSON_CreateObject();
  if (o && !cJSON_AddItemToObject(parent, key, o)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* cJSON prints 15 significant digits when its approximate comparison says that is enough,
 * which can lose the last bit; the shortest of 15..17 digits that reads back exactly
 * keeps save/load a true round trip. */
static cJSON *num_exact(cJSON *obj, const char *key, double v) {
  char buf[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  return cJSON_AddRawToObject(obj, key, buf);
}

static int build_json(const dynrt_oplib *lib, cJSON *root) {
  char hex[24];
  if (!cJSON_AddStringToObject(root, "format", DYNRT_OPLIB_FORMAT) ||
      !num_exact(root, "version", DYNRT_OPLIB_VERSION))
    return 0;
  cJSON *model = add_obj(root, "model");
  if (!model || !cJSON_AddStringToObject(model, "name", lib->model_name)) return 0;
  if (lib->model_file[0] && !cJSON_AddStringToObject(model, "file", lib->model_file)) return 0;
  if (lib->model_sha256 && !cJSON_AddStringToObject(model, "sha256", lib->model_sha256)) return 0;
  if (!cJSON_AddStringToObject(root, "platform", lib->platform)) return 0;
  cJSON *arr = cJSON_AddArrayToObject(root, "subnets");
  if (!arr) return 0;
  for (int i = 0; i < lib->nsubnets; i++) {
    const dynrt_oplib_subnet *s = &lib->subnets[i];
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o)) return 0;
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)s->id);
    if (!cJSON_AddStringToObject(o, "config", s->config) ||
        !cJSON_AddStringToObject(o, "id", hex) || !num_exact(o, "macs", (double)s->macs) ||
        !num_exact(o, "params", (double)s->params))
      return 0;
    cJSON *v = add_obj(o, "val");
    if (!v || !num_exact(v, "top1", s->val_top1) || !num_exact(v, "images", (double)s->val_images))
      return 0;
    if (s->test_top1 >= 0) {
      cJSON *t = add_obj(o, "test");
      if (!t || !num_exact(t, "top1", s->test_top1) ||
          !num_exact(t, "images", (double)s->test_images))
        return 0;
    }
    if (s->bn_table && !cJSON_AddStringToObject(o, "bn_table", s->bn_table)) return 0;
    if (s->compute_ns >= 0) {
      cJSON *w = add_obj(o, "work");
      if (!w || !num_exact(w, "compute_ns", s->compute_ns) ||
          !num_exact(w, "memory_ns", s->memory_ns))
        return 0;
    }
  }
  if (!(arr = cJSON_AddArrayToObject(root, "settings"))) return 0;
  for (int i = 0; i < lib->nsettings; i++) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o) ||
        !cJSON_AddStringToObject(o, "domain", lib->settings[i].domain) ||
        !num_exact(o, "khz", lib->settings[i].khz) ||
        !num_exact(o, "cores", lib->settings[i].cores))
      return 0;
  }
  if (lib->nidle) {
    if (!(arr = cJSON_AddArrayToObject(root, "idle"))) return 0;
    for (int i = 0; i < lib->nidle; i++) {
      cJSON *o = cJSON_CreateObject();
      if (!o || !cJSON_AddItemToArray(arr, o) ||
          !cJSON_AddStringToObject(o, "domain", lib->idle[i].domain) ||
          !num_exact(o, "khz", lib->idle[i].khz) || !num_exact(o, "watts", lib->idle[i].watts))
        return 0;
    }
  }
  if (!(arr = cJSON_AddArrayToObject(root, "points"))) return 0;
  for (int i = 0; i < lib->npoints; i++) {
    const dynrt_oplib_point *p = &lib->points[i];
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o) || !num_exact(o, "subnet", p->subnet) ||
        !num_exact(o, "setting", p->setting))
      return 0;
    cJSON *l = add_obj(o, "latency_ms");
    if (!l || !num_exact(l, "mean", p->latency_mean_ms) ||
        !num_exact(l, "p50", p->latency_p50_ms) || !num_exact(l, "p95", p->latency_p95_ms) ||
        !num_exact(o, "energy_mj", p->energy_mj) || !num_exact(o, "power_w", p->power_w) ||
        !cJSON_AddBoolToObject(o, "modelled", p->modelled))
      return 0;
  }
  if (!(arr = cJSON_AddArrayToObject(root, "pareto"))) return 0;
  for (int s = 0; s < lib->nsettings; s++) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o) || !num_exact(o, "setting", s)) return 0;
    cJSON *list = cJSON_AddArrayToObject(o, "subnets");
    if (!list) return 0;
    for (int j = lib->pareto_off[s]; j < lib->pareto_off[s + 1]; j++) {
      cJSON *n = cJSON_CreateNumber(lib->pareto[j]); /* small integer: exact */
      if (!n || !cJSON_AddItemToArray(list, n)) return 0;
    }
  }
  return 1;
}

dynrt_status dynrt_oplib_save(const dynrt_oplib *lib_c, const char *path) {
  dynrt_oplib *lib = (dynrt_oplib *)lib_c; /* only the message changes */
  if (!lib) return DYNRT_ERR_INVALID_ARG;
  if (!path) return dynrt__seterr(&lib->err, DYNRT_ERR_INVALID_ARG, "oplib: save: NULL path");
  if (!lib->finalized)
    return dynrt__seterr(&lib->err, DYNRT_ERR_STATE, "%s: save before finalize", path);
  cJSON *root = cJSON_CreateObject();
  char *text = NULL;
  if (!root || !build_json(lib, root) || !(text = cJSON_Print(root))) {
    cJSON_Delete(root);
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory building JSON", path);
  }
  cJSON_Delete(root);
  dynrt_status st = DYNRT_OK;
  FILE *f = fopen(path, "wb");
  if (!f) {
    st = dynrt__seterr(&lib->err, DYNRT_ERR_IO, "%s: cannot create (%s)", path, strerror(errno));
  } else {
    size_t n = strlen(text);
    int bad = fwrite(text, 1, n, f) != n || fputc('\n', f) == EOF;
    if (fclose(f) != 0 || bad)
      st = dynrt__seterr(&lib->err, DYNRT_ERR_IO, "%s: write failed (%s)", path, strerror(errno));
  }
  cJSON_free(text);
  return st;
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

/* metrics.c - what a scenario run records (one record per inference, one per trace period),
 * the summary per policy and per app (energy, latency percentiles, deadline misses,
 * accuracy, switches, manager overhead), and its outputs: CSV traces, summary.json and the
 * comparison table. It computes from records only; it runs nothing. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "scenario/scenario.h"

static dynrt_status grow(void **arr, size_t *cap, size_t n, size_t elem) {
  if (n < *cap) return DYNRT_OK;
  size_t ncap = *cap ? 2 * *cap : 1024;
  void *p = dynrt__realloc(*arr, *cap * elem, ncap * elem);
  if (!p) return DYNRT_ERR_NOMEM;
  *arr = p;
  *cap = ncap;
  return DYNRT_OK;
}

dynrt_status dynrt_scn_result_add_inf(dynrt_scn_result *r, const dynrt_scn_infer_rec *rec) {
  size_t cap = r->capinf;
  dynrt_status st = grow((void **)&r->inf, &r->capinf, r->ninf, sizeof *r->inf);
  if (st) return st;
  if (r->capinf != cap || !r->lat_scratch) {
    /* The percentile scratch follows inf's capacity; its content needs no copy. */
    double *s = dynrt__malloc(r->capinf * sizeof *s);
    dynrt__free(r->lat_scratch);
    r->lat_scratch = s; /* NULL or capinf entries, never fewer: the next add retries */
    if (!s) return DYNRT_ERR_NOMEM;
  }
  r->inf[r->ninf++] = *rec;
  return DYNRT_OK;
}

dynrt_status dynrt_scn_result_add_period(dynrt_scn_result *r, const dynrt_scn_period_rec *rec) {
  dynrt_status st = grow((void **)&r->per, &r->capper, r->nper, sizeof *r->per);
  if (st) return st;
  r->per[r->nper++] = *rec;
  return DYNRT_OK;
}

void dynrt_scn_result_free(dynrt_scn_result *r) {
  if (!r) return;
  dynrt__free(r->inf);
  dynrt__free(r->per);
  dynrt__free(r->lat_scratch);
  r->inf = NULL;
  r->per = NULL;
  r->lat_scratch = NULL;
  r->ninf = r->capinf = r->nper = r->capper = 0;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* Nearest-rank percentile of sorted values. */
static double pct(const double *v, size_t n, double q) {
  if (!n) return 0;
  size_t k = (size_t)ceil(q * (double)n);
  if (k < 1) k = 1;
  if (k > n) k = n;
  return v[k - 1];
}

/* Summary of the records of app `app` (-1: all). */
static void summarise_one(const dynrt_scn_result *r, int app, dynrt_scn_summary *s) {
  dynrt_scn_summary keep = *s;
  memset(s, 0, sizeof *s);
  s->energy_j = keep.energy_j;
  s->decide_ns = keep.decide_ns;
  s->plan_us = keep.plan_us;
  s->plans = keep.plans;
  s->infeasible_plans = keep.infeasible_plans;
  /* Records that bypassed dynrt_scn_result_add_inf have no scratch: allocate one then. */
  int own = !(r->lat_scratch && r->ninf <= r->capinf);
  double *lat = own ? dynrt__malloc((r->ninf + 1) * sizeof *lat) : r->lat_scratch;
  int last[DYNRT_SCN_MAX_APPS];
  for (int i = 0; i < DYNRT_SCN_MAX_APPS; i++) last[i] = -1;
  double lat_sum = 0, acc_sum = 0, e_sum = 0;
  size_t n = 0;
  for (size_t i = 0; i < r->ninf; i++) {
    const dynrt_scn_infer_rec *x = &r->inf[i];
    if (app >= 0 && x->app != app) continue;
    s->frames++;
    if (x->dropped) {
      s->dropped++;
      s->misses++;
      continue;
    }
    s->inferences++;
    if (x->latency_ms > x->target_ms) s->misses++;
    if (!x->floor_feasible)
      s->floor_infeasible++;
    else if (x->accuracy + 1e-9 < x->floor)
      s->floor_violations++;
    if (x->app >= 0 && x->app < DYNRT_SCN_MAX_APPS) {
      if (last[x->app] >= 0 && last[x->app] != x->subnet) s->switches++;
      last[x->app] = x->subnet;
    }
    lat_sum += x->latency_ms;
    acc_sum += x->accuracy;
    e_sum += x->energy_mj;
    if (lat) lat[n++] = x->latency_ms;
  }
  if (s->inferences) {
    s->lat_mean_ms = lat_sum / (double)s->inferences;
    s->accuracy_mean = acc_sum / (double)s->inferences;
    s->infer_energy_mj = e_sum / (double)s->inferences;
    uint64_t feasible = s->inferences - s->floor_infeasible;
    s->floor_met_rate = feasible ? 1.0 - (double)s->floor_violations / (double)feasible : 1.0;
  }
  if (s->frames) s->miss_rate = (double)s->misses / (double)s->frames;
  if (lat && n) {
    qsort(lat, n, sizeof *lat, cmp_double);
    s->lat_p50_ms = pct(lat, n, 0.50);
    s->lat_p95_ms = pct(lat, n, 0.95);
    s->lat_p99_ms = pct(lat, n, 0.99);
  }
  if (own) dynrt__free(lat);
}

void dynrt_scn_summarise(dynrt_scn_result *r) {
  summarise_one(r, -1, &r->sum);
  for (int a = 0; a < r->napps && a < DYNRT_SCN_MAX_APPS; a++) summarise_one(r, a, &r->app_sum[a]);
}

dynrt_status dynrt_scn_mkdirs(const char *dir, char *errbuf, size_t errlen) {
  char buf[DYNRT_SCN_PATH_MAX];
  if (strlen(dir) >= sizeof buf) {
    if (errbuf) snprintf(errbuf, errlen, "%s: path too long", dir);
    return DYNRT_ERR_INVALID_ARG;
  }
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || !*p) {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0777) && errno != EEXIST) {
        if (errbuf) snprintf(errbuf, errlen, "%s: cannot create: %s", buf, strerror(errno));
        return DYNRT_ERR_IO;
      }
      *p = c;
      if (!c) break;
    }
  }
  return DYNRT_OK;
}

static FILE *open_out(const char *dir, const char *slug, const char *suffix, char *errbuf,
                      size_t errlen) {
  char path[DYNRT_SCN_PATH_MAX * 2];
  snprintf(path, sizeof path, "%s/%s%s", dir, slug, suffix);
  FILE *f = fopen(path, "w");
  if (!f && errbuf) snprintf(errbuf, errlen, "%s: cannot write: %s", path, strerror(errno));
  return f;
}

dynrt_status dynrt_scn_write_traces(const dynrt_scn_result *r, const char *dir, char *errbuf,
                                    size_t errlen) {
  char slug[64];
  dynrt_scn_policy_slug(r->policy, slug, sizeof slug);
  FILE *f = open_out(dir, slug, ".inferences.csv", errbuf, errlen);
  if (!f) return DYNRT_ERR_IO;
  fprintf(f, "# %s, policy %s, %s%s\n", r->platform, r->policy,
          r->simulated ? "simulated" : "real run",
          r->energy_modelled ? ", energy modelled" : ", energy measured");
  fprintf(f, "t_s,app,subnet,level,accuracy,latency_ms,service_ms,target_ms,floor,energy_mj,"
             "domain,khz,cores,dropped\n");
  for (size_t i = 0; i < r->ninf; i++) {
    const dynrt_scn_infer_rec *x = &r->inf[i];
    const char *dom = x->domain >= 0 && x->domain < r->ndomains ? r->domain_names[x->domain] : "";
    fprintf(f, "%.6f,%s,%d,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.5f,%s,%u,%d,%d\n",
            (double)x->end_ns * 1e-9, r->app_names[x->app], x->subnet, x->level, x->accuracy,
            x->latency_ms, x->service_ms, x->target_ms, x->floor, x->energy_mj, dom, x->khz,
            x->ncores, x->dropped);
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) return DYNRT_ERR_IO;
  f = open_out(dir, slug, ".periods.csv", errbuf, errlen);
  if (!f) return DYNRT_ERR_IO;
  fprintf(f, "# %s, policy %s, %s%s\n", r->platform, r->policy,
          r->simulated ? "simulated" : "real run",
          r->energy_modelled ? ", power modelled" : ", power measured");
  fprintf(f, "t_s,power_w,loads");
  for (int d = 0; d < r->ndomains; d++) fprintf(f, ",mhz_%s", r->domain_names[d]);
  fprintf(f, "\n");
  for (size_t i = 0; i < r->nper; i++) {
    const dynrt_scn_period_rec *x = &r->per[i];
    fprintf(f, "%.6f,%.5f,%d", (double)x->t_ns * 1e-9, x->power_w, x->loads);
    for (int d = 0; d < r->ndomains; d++) fprintf(f, ",%.2f", x->khz[d] * 1e-3);
    fprintf(f, "\n");
  }
  bad = ferror(f);
  fclose(f);
  return bad ? DYNRT_ERR_IO : DYNRT_OK;
}

static cJSON *summary_json(const dynrt_scn_summary *s) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "inferences", (double)s->inferences);
  cJSON_AddNumberToObject(o, "frames", (double)s->frames);
  cJSON_AddNumberToObject(o, "misses", (double)s->misses);
  cJSON_AddNumberToObject(o, "dropped", (double)s->dropped);
  cJSON_AddNumberToObject(o, "miss_rate", s->miss_rate);
  cJSON_AddNumberToObject(o, "energy_j", s->energy_j);
  cJSON_AddNumberToObject(o, "infer_energy_mj", s->infer_energy_mj);
  cJSON_AddNumberToObject(o, "latency_mean_ms", s->lat_mean_ms);
  cJSON_AddNumberToObject(o, "latency_p50_ms", s->lat_p50_ms);
  cJSON_AddNumberToObject(o, "latency_p95_ms", s->lat_p95_ms);
  cJSON_AddNumberToObject(o, "latency_p99_ms", s->lat_p99_ms);
  cJSON_AddNumberToObject(o, "accuracy_mean", s->accuracy_mean);
  cJSON_AddNumberToObject(o, "floor_violations", (double)s->floor_violations);
  cJSON_AddNumberToObject(o, "floor_infeasible", (double)s->floor_infeasible);
  cJSON_AddNumberToObject(o, "floor_met_rate", s->floor_met_rate);
  cJSON_AddNumberToObject(o, "switches", (double)s->switches);
  cJSON_AddNumberToObject(o, "decide_ns", s->decide_ns);
  cJSON_AddNumberToObject(o, "plan_us", s->plan_us);
  cJSON_AddNumberToObject(o, "plans", (double)s->plans);
  cJSON_AddNumberToObject(o, "infeasible_plans", (double)s->infeasible_plans);
  return o;
}

dynrt_status dynrt_scn_write_summary(const dynrt_scn *scn, const dynrt_scn_result *res, int n,
                                     const char *dir, const char *machine, char *errbuf,
                                     size_t errlen) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return DYNRT_ERR_NOMEM;
  cJSON_AddStringToObject(root, "format", "dynrt-results");
  cJSON_AddNumberToObject(root, "version", 1);
  cJSON_AddStringToObject(root, "scenario", scn->name);
  cJSON_AddStringToObject(root, "scenario_file", scn->path);
  cJSON_AddStringToObject(root, "description", scn->description);
  cJSON_AddStringToObject(root, "platform", n ? res[0].platform : "");
  cJSON_AddBoolToObject(root, "simulated", n && res[0].simulated);
  cJSON_AddBoolToObject(root, "energy_modelled", n && res[0].energy_modelled);
  cJSON_AddStringToObject(root, "machine", machine ? machine : "");
  cJSON_AddNumberToObject(root, "seed", n ? (double)res[0].seed : 0);
  cJSON_AddNumberToObject(root, "duration_s", n ? (double)res[0].duration_ns * 1e-9 : 0);
  cJSON *apps = cJSON_AddArrayToObject(root, "apps");
  for (int a = 0; n && a < res[0].napps; a++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", res[0].app_names[a]);
    cJSON_AddNumberToObject(o, "latency_ms", (double)scn->apps[a].latency_ns * 1e-6);
    cJSON_AddNumberToObject(o, "period_ms", (double)scn->apps[a].period_ns * 1e-6);
    cJSON_AddNumberToObject(o, "accuracy_floor", scn->apps[a].accuracy_floor);
    cJSON_AddItemToArray(apps, o);
  }
  cJSON *doms = cJSON_AddArrayToObject(root, "domains");
  for (int d = 0; n && d < res[0].ndomains; d++)
    cJSON_AddItemToArray(doms, cJSON_CreateString(res[0].domain_names[d]));
  cJSON *pols = cJSON_AddArrayToObject(root, "policies");
  for (int i = 0; i < n; i++) {
    const dynrt_scn_result *r = &res[i];
    char slug[64], file[96];
    dynrt_scn_policy_slug(r->policy, slug, sizeof slug);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "policy", r->policy);
    cJSON_AddStringToObject(o, "slug", slug);
    snprintf(file, sizeof file, "%s.inferences.csv", slug);
    cJSON_AddStringToObject(o, "inferences_csv", file);
    snprintf(file, sizeof file, "%s.periods.csv", slug);
    cJSON_AddStringToObject(o, "periods_csv", file);
    cJSON_AddItemToObject(o, "summary", summary_json(&r->sum));
    cJSON *pa = cJSON_AddArrayToObject(o, "apps");
    for (int a = 0; a < r->napps; a++) {
      cJSON *s = summary_json(&r->app_sum[a]);
      cJSON_AddStringToObject(s, "name", r->app_names[a]);
      cJSON_AddItemToArray(pa, s);
    }
    cJSON_AddStringToObject(o, "violations", r->violations);
    cJSON_AddItemToArray(pols, o);
  }
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) return DYNRT_ERR_NOMEM;
  char path[DYNRT_SCN_PATH_MAX * 2];
  snprintf(path, sizeof path, "%s/summary.json", dir);
  FILE *f = fopen(path, "w");
  if (!f) {
    if (errbuf) snprintf(errbuf, errlen, "%s: cannot write: %s", path, strerror(errno));
    cJSON_free(text);
    return DYNRT_ERR_IO;
  }
  fputs(text, f);
  fputc('\n', f);
  cJSON_free(text);
  int bad = ferror(f);
  fclose(f);
  return bad ? DYNRT_ERR_IO : DYNRT_OK;
}

void dynrt_scn_print_table(FILE *f, const dynrt_scn *scn, const dynrt_scn_result *res, int n,
                           const char *machine) {
  if (!n) return;
  const dynrt_scn_result *r0 = &res[0];
  if (r0->simulated)
    fprintf(f,
            "== %s: SIMULATED %s, seed %llu, %.1f s (virtual time; energy from the board's power "
            "model) ==\n",
            scn->name, r0->platform, (unsigned long long)r0->seed, (double)r0->duration_ns * 1e-9);
  else
    fprintf(f, "== %s: REAL run on %s (%s), seed %llu, %.1f s%s ==\n", scn->name,
            machine ? machine : "this machine", r0->platform, (unsigned long long)r0->seed,
            (double)r0->duration_ns * 1e-9,
            r0->energy_modelled ? "; energy MODELLED, not measured" : "; energy measured");
  fprintf(f, "%-24s %9s %8s %8s %8s %8s %7s %6s %7s %6s %9s %8s\n", "policy", "energy J", "mJ/inf",
          "lat ms", "p95 ms", "p99 ms", "miss %", "acc %", "floor %", "switch", "L1 ns/dec",
          "L2 us/pl");
  for (int i = 0; i < n; i++) {
    const dynrt_scn_summary *s = &res[i].sum;
    fprintf(f, "%-24s %9.3f %8.3f %8.2f %8.2f %8.2f %7.2f %6.2f %7.2f %6llu %9.0f %8.1f\n",
            res[i].policy, s->energy_j, s->infer_energy_mj, s->lat_mean_ms, s->lat_p95_ms,
            s->lat_p99_ms, 100 * s->miss_rate, 100 * s->accuracy_mean, 100 * s->floor_met_rate,
            (unsigned long long)s->switches, s->decide_ns, s->plan_us);
  }
  for (int i = 0; i < n; i++)
    if (res[i].violations[0])
      fprintf(f, "  %s: manager reported: %s\n", res[i].policy, res[i].violations);
}

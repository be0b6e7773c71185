/* cmd_profile.c - `dynrt profile`: measured latency (warm-up, median, p95, spread) of
 * sub-networks per thread count on this machine, energy per inference from the platform
 * (sensor, or its model - said so), and the per-block latency table with its prediction
 * error against the measurements. Writes a JSON report (docs/offline.md "Profile"). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/cmd_oplib_util.h"
#include "dynrt/engine.h"
#include "dynrt/offline.h"
#include "dynrt/platform.h"

/* Energy over the timed runs of each round (dynrt_round_hook): every round with both
 * readings counts, a zero difference included, so that a sensor that updates less often
 * than a round puts each update into some round and the sum over the rounds stays the
 * energy of their runs. */
typedef struct energy_acc {
  dynrt_platform *p;
  double *mj; /* mj[i * stride]: sum over the rounds, mJ */
  int stride;
  int *runs;   /* runs[i]: the runs that sum covers */
  uint64_t e0; /* reading before the current share, or UINT64_MAX when it failed */
} energy_acc;

static void energy_hook(void *user, int i, int runs, int after) {
  energy_acc *a = user;
  uint64_t e;
  int bad = dynrt_platform_read_energy(a->p, &e) != 0;
  if (!after) {
    a->e0 = bad ? UINT64_MAX : e;
  } else if (!bad && a->e0 != UINT64_MAX && e >= a->e0) {
    a->mj[i * a->stride] += (double)(e - a->e0) * 1e-3;
    a->runs[i] += runs;
  }
}

#define MAX_THREADS_LIST 16

static int usage(int code) {
  printf("usage: dynrt profile MODEL.safetensors [--platform host|linux] [--threads 1,2]\n"
         "                     [--subnets LIST|FILE] [--runs 50] [--warmup 5]\n"
         "                     [--lut-runs 30] [-o PROFILE.json] [--lut LUT.json]\n"
         "  times each sub-network (default: largest;smallest;random:8:1) per thread count\n"
         "  on this machine, in 5 interleaved rounds, builds the per-block latency table (one\n"
         "  thread) and reports its prediction error: the table's sum, the table x a ratio\n"
         "  and the table + a memory term, both fitted on the other sub-networks (leave-one-\n"
         "  out; pred ms = the last). Energy: sensor or platform model.\n");
  return code;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  if (n <= 0) return NAN;
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int dynrt_cmd_profile(int argc, char **argv) {
  const char *model = NULL, *plat = "host", *subnets = "largest;smallest;random:8:1", *out = NULL,
             *lut_out = NULL, *threads_s = "1";
  int runs = 50, warmup = 5, lut_runs = 30;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help")) return usage(0);
    if (!strcmp(argv[i], "--platform") && i + 1 < argc)
      plat = argv[++i];
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads_s = argv[++i];
    else if (!strcmp(argv[i], "--subnets") && i + 1 < argc)
      subnets = argv[++i];
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
      warmup = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--lut-runs") && i + 1 < argc)
      lut_runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-o") && i + 1 < argc)
      out = argv[++i];
    else if (!strcmp(argv[i], "--lut") && i + 1 < argc)
      lut_out = argv[++i];
    else if (argv[i][0] == '-')
      return dynrt_cli_fail("profile", "unknown option '%s'", argv[i]);
    else if (!model)
      model = argv[i];
    else
      return dynrt_cli_fail("profile", "unexpected argument '%s'", argv[i]);
  }
  if (!model) return usage(1);
  int th[MAX_THREADS_LIST];
  int nth = cli_parse_ints(threads_s, th, MAX_THREADS_LIST);
  if (nth < 1 || runs < 3 || warmup < 0 || lut_runs < 1)
    return dynrt_cli_fail("profile", "bad --threads (e.g. 1,2), --runs (>= 3), --warmup or "
                                     "--lut-runs");
  if (strcmp(plat, "host") && strncmp(plat, "linux", 5))
    return dynrt_cli_fail("profile",
                          "--platform %s: profile measures this machine (host or linux); "
                          "simulated boards are derived by `dynrt search` (modelled)",
                          plat);
  dynrt_model *m = NULL;
  dynrt_platform *p = NULL;
  dynrt_block_lut *lut = NULL;
  dynrt_subnet *cfg = NULL;
  dynrt_latency *lat = NULL;
  double *energy = NULL, *pred1 = NULL;
  cJSON *root = NULL;
  dynrt_error err;
  char msg[1024];
  int n = 0, rc = 1;
  if (dynrt_model_load(model, &m, &err)) {
    dynrt_cli_fail("profile", "%s", err.msg);
    goto done;
  }
  if (cli_parse_subnets(m, subnets, &cfg, &n, msg, sizeof msg)) {
    dynrt_cli_fail("profile", "%s", msg);
    goto done;
  }
  if (dynrt_platform_open(plat, &p, msg, sizeof msg)) {
    fprintf(stderr, "dynrt profile: platform %s: %s (no energy)\n", plat, msg);
    p = NULL;
  }
  int modelled = p ? dynrt_platform_get_info(p)->energy_modelled : 1;
  lat = calloc((size_t)(n * nth), sizeof *lat);
  energy = calloc((size_t)(n * nth), sizeof *energy);
  pred1 = calloc((size_t)n, sizeof *pred1);
  if (!lat || !energy || !pred1) goto done;
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  uint64_t t0 = dynrt_now_ns();
  if (dynrt_block_lut_build(m, 3, lut_runs, cli_progress, "block table", &lut, &err)) {
    dynrt_cli_fail("profile", "%s", err.msg);
    goto done;
  }
  double lut_s = (double)(dynrt_now_ns() - t0) * 1e-9;
  printf("model %s; per-block table: %zu entries, %.1f s to build (one thread, %d runs each)\n",
         info.name, dynrt_block_lut_entries(lut), lut_s, lut_runs);
  printf("energy: %s\n", !p         ? "none (platform unavailable)"
                         : modelled ? "MODELLED (platform power model; whole machine, includes "
                                      "other load)"
                                    : "measured (sensor)");
  /* Whole sub-networks are timed in ROUNDS interleaved rounds (dynrt_profile_interleaved),
   * so that a change in machine load during the profile falls on all of them alike; the
   * median is over all of a sub-network's runs. Energy accumulates over its runs the same
   * way (energy_hook). */
  enum { ROUNDS = 5 };
  uint64_t **all = calloc((size_t)n, sizeof *all);
  int *e_runs = calloc((size_t)n, sizeof *e_runs);
  int ok = e_runs && all;
  for (int i = 0; ok && i < n; i++) ok = (all[i] = calloc((size_t)runs, sizeof **all)) != NULL;
  for (int t = 0; ok && t < nth; t++) {
    dynrt_session *s = NULL;
    dynrt_session_options o = {NULL, th[t], th[t]};
    if (dynrt_session_create(m, &o, &s, &err)) {
      dynrt_cli_fail("profile", "%s", err.msg);
      ok = 0;
      break;
    }
    memset(e_runs, 0, sizeof *e_runs * (size_t)n);
    energy_acc ea = {p, energy + t, nth, e_runs, 0};
    dynrt_status st = dynrt_profile_interleaved(s, cfg, n, runs < ROUNDS ? runs : ROUNDS, runs,
                                                warmup + 1, all, p ? energy_hook : NULL, &ea);
    if (st) {
      dynrt_cli_fail("profile", "run failed: %s (%s)", dynrt_session_errmsg(s),
                     dynrt_status_str(st));
      ok = 0;
    }
    for (int i = 0; ok && i < n; i++) {
      dynrt_latency_summary(all[i], runs, &lat[i * nth + t]);
      energy[i * nth + t] = e_runs[i] ? energy[i * nth + t] / e_runs[i] : 0; /* per inference */
    }
    dynrt_session_destroy(s);
  }
  for (int i = 0; all && i < n; i++) free(all[i]);
  free(all);
  free(e_runs);
  if (!ok) goto done;
  for (int i = 0; i < n; i++) pred1[i] = dynrt_block_lut_predict(lut, &cfg[i]) * 1e-6;
  root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "format", "dynrt-profile");
  cJSON_AddNumberToObject(root, "version", 1);
  cJSON_AddStringToObject(root, "model", info.name);
  cJSON_AddStringToObject(root, "model_file", model);
  cJSON_AddStringToObject(root, "platform", plat);
  cJSON_AddStringToObject(root, "latency", "measured on this machine, run_tensor wall time");
  cJSON_AddStringToObject(root, "energy", !p ? "none" : modelled ? "modelled" : "measured");
  cJSON_AddNumberToObject(root, "runs", runs);
  cJSON_AddNumberToObject(root, "warmup", warmup);
  cJSON *lj = cJSON_AddObjectToObject(root, "block_table");
  cJSON_AddNumberToObject(lj, "entries", (double)dynrt_block_lut_entries(lut));
  cJSON_AddNumberToObject(lj, "runs_per_entry", lut_runs);
  cJSON_AddNumberToObject(lj, "build_s", lut_s);
  cJSON *pe = cJSON_AddArrayToObject(root, "prediction");
  cJSON *arr = cJSON_AddArrayToObject(root, "subnets");
  double *errs = calloc((size_t)n, sizeof *errs), *ratios = calloc((size_t)n, sizeof *ratios);
  double *pred = calloc((size_t)(n * nth), sizeof *pred);
  if (!errs || !ratios || !pred) {
    free(errs);
    free(ratios);
    free(pred);
    goto done;
  }
  double *tab = calloc((size_t)n, sizeof *tab), *wb = calloc((size_t)n, sizeof *wb),
         *meas = calloc((size_t)n, sizeof *meas);
  if (!tab || !wb || !meas) {
    free(tab), free(wb), free(meas), free(errs), free(ratios), free(pred);
    goto done;
  }
  for (int i = 0; i < n; i++) {
    tab[i] = pred1[i] * 1e6;
    wb[i] = (double)dynrt_subnet_params(m, &cfg[i]) * sizeof(float);
  }
  for (int t = 0; t < nth; t++) {
    /* Methods: 0 the table's sum (one thread only, no fitting); 1 the table x the median
     * measured/predicted ratio of the other sub-networks; 2 the table plus the memory term
     * (dynrt_latency_fit_solve) fitted on the other sub-networks. 1 and 2 are leave-one-out:
     * no sub-network's own measurement enters its prediction. The last one available is
     * the predicted_ms column. */
    for (int i = 0; i < n; i++) meas[i] = lat[i * nth + t].median_ms * 1e6;
    int last = n >= 4 ? 2 : 1;
    for (int meth = th[t] == 1 ? 0 : 1; meth <= last; meth++) {
      for (int i = 0; i < n; i++) {
        double pv = pred1[i];
        if (meth == 1) {
          int c = 0;
          for (int j = 0; j < n; j++)
            if (j != i) ratios[c++] = lat[j * nth + t].median_ms / pred1[j];
          pv = pred1[i] * (c ? median(ratios, c) : 1.0);
        } else if (meth == 2) {
          dynrt_latency_fit f;
          if (dynrt_latency_fit_solve(tab, wb, meas, n, i, &f))
            pv = pred[i * nth + t]; /* no fit: method 1's prediction, made just before */
          else
            pv = dynrt_latency_fit_predict(&f, tab[i], wb[i]) * 1e-6;
        }
        pred[i * nth + t] = pv; /* each method in turn: the last one stays */
        errs[i] = fabs(pv - lat[i * nth + t].median_ms) / lat[i * nth + t].median_ms;
      }
      double mx = 0;
      for (int i = 0; i < n; i++) mx = errs[i] > mx ? errs[i] : mx;
      double md = median(errs, n);
      static const char *const methods[] = {
          "sum of block-table entries (no fitting)",
          "block table x leave-one-out median measured/predicted ratio (fitted)",
          "block table + memory term a*table + b*max(0, weight bytes - c), leave-one-out "
          "(fitted)"};
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "threads", th[t]);
      cJSON_AddStringToObject(o, "method", methods[meth]);
      cJSON_AddNumberToObject(o, "median_abs_error_pct", 100 * md);
      cJSON_AddNumberToObject(o, "max_abs_error_pct", 100 * mx);
      dynrt_latency_fit f = {0};
      if (meth == 2 && !dynrt_latency_fit_solve(tab, wb, meas, n, -1, &f)) {
        /* the fit on all of them, for the record (not used for the errors above); the
         * one-thread one goes with the table (--lut) */
        if (th[t] == 1) dynrt_block_lut_set_fit(lut, &f);
        cJSON *fj = cJSON_AddObjectToObject(o, "fit_all");
        cJSON_AddNumberToObject(fj, "a", f.a);
        cJSON_AddNumberToObject(fj, "b_ms_per_mb", f.b); /* ns per byte = ms per MB */
        cJSON_AddNumberToObject(fj, "c_mb", f.c * 1e-6);
        cJSON_AddNumberToObject(fj, "rms_pct", f.rms_pct);
      }
      cJSON_AddItemToArray(pe, o);
      printf("prediction, %d thread(s), %s: median |error| %.2f%%, max %.2f%% over %d "
             "sub-networks\n",
             th[t], methods[meth], 100 * md, 100 * mx, n);
      if (meth == 2 && f.a > 0)
        printf("  fit on all %d: a %.3f, b %.4f ms per MB beyond c %.2f MB (rms %.1f%%)\n", n, f.a,
               f.b, f.c * 1e-6, f.rms_pct);
    }
  }
  free(tab), free(wb), free(meas);
  printf("%-18s %8s %3s %9s %9s %8s %8s %10s %9s\n", "sub-network id", "MMACs", "thr", "median ms",
         "p95 ms", "spread", "pred ms", "energy mJ", "");
  for (int i = 0; i < n; i++) {
    char cs[DYNRT_SUBNET_STR_MAX], key[17];
    dynrt_subnet_format(m, &cfg[i], cs, sizeof cs, NULL);
    dynrt_bn_key(m, &cfg[i], key);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "config", cs);
    cJSON_AddStringToObject(o, "id", key);
    cJSON_AddNumberToObject(o, "macs", (double)dynrt_subnet_macs(m, &cfg[i]));
    cJSON_AddNumberToObject(o, "params", (double)dynrt_subnet_params(m, &cfg[i]));
    cJSON_AddNumberToObject(o, "predicted_1t_ms", pred1[i]);
    cJSON *ta = cJSON_AddArrayToObject(o, "threads");
    for (int t = 0; t < nth; t++) {
      const dynrt_latency *l = &lat[i * nth + t];
      cJSON *x = cJSON_CreateObject();
      cJSON_AddNumberToObject(x, "threads", th[t]);
      cJSON_AddNumberToObject(x, "median_ms", l->median_ms);
      cJSON_AddNumberToObject(x, "p95_ms", l->p95_ms);
      cJSON_AddNumberToObject(x, "mean_ms", l->mean_ms);
      cJSON_AddNumberToObject(x, "min_ms", l->min_ms);
      cJSON_AddNumberToObject(x, "max_ms", l->max_ms);
      cJSON_AddNumberToObject(x, "spread", l->spread);
      cJSON_AddNumberToObject(x, "predicted_ms", pred[i * nth + t]);
      if (energy[i * nth + t] > 0) {
        cJSON_AddNumberToObject(x, "energy_mj", energy[i * nth + t]);
        cJSON_AddBoolToObject(x, "energy_modelled", modelled);
      }
      cJSON_AddItemToArray(ta, x);
      char es[32] = "         -";
      if (energy[i * nth + t] > 0)
        snprintf(es, sizeof es, "%10.3f %s", energy[i * nth + t],
                 modelled ? "modelled" : "measured");
      printf("%-18s %8.2f %3d %9.3f %9.3f %8.2f %8.3f %s\n", key,
             (double)dynrt_subnet_macs(m, &cfg[i]) * 1e-6, th[t], l->median_ms, l->p95_ms,
             l->spread, pred[i * nth + t], es);
    }
    cJSON_AddItemToArray(arr, o);
  }
  free(errs);
  free(ratios);
  free(pred);
  if (out) {
    char *text = cJSON_Print(root);
    FILE *f = text ? fopen(out, "w") : NULL;
    if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0) {
      if (f) fclose(f);
      cJSON_free(text);
      dynrt_cli_fail("profile", "%s: cannot write", out);
      goto done;
    }
    fclose(f);
    cJSON_free(text);
    printf("wrote %s\n", out);
  }
  if (lut_out && dynrt_block_lut_save(lut, lut_out, &err)) {
    dynrt_cli_fail("profile", "%s", err.msg);
    goto done;
  }
  rc = 0;
done:
  cJSON_Delete(root);
  free(lat);
  free(energy);
  free(pred1);
  free(cfg);
  dynrt_block_lut_destroy(lut);
  dynrt_platform_close(p);
  dynrt_model_destroy(m);
  return rc;
}

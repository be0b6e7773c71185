/* cmd_search.c - `dynrt search`: NSGA-II over the sub-network space for validation top-1
 * (recalibrated BN, a validation subset) against latency predicted by the per-block table;
 * then the finalists are recalibrated on more images, measured on the whole validation
 * split and the test split (test is reported only, never used to select), re-timed on
 * this machine, and only the re-measured Pareto front is kept. Writes the host op library,
 * its BN-table sidecar, one op library per simulated board (modelled, derived by the
 * simulator from the host work split), and a search report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/cmd_oplib_util.h"
#include "dynrt/engine.h"
#include "dynrt/offline.h"
#include "dynrt/oplib.h"
#include "dynrt/platform.h"
#include "dynrt/sim.h"

#define MAX_TH 8
#define MAX_BOARDS 8

static int usage(int code) {
  printf("usage: dynrt search MODEL.safetensors [--platform host] [--seed 1]\n"
         "         [--population 16] [--generations 8] [--threads 1,2] [--eval-threads 2]\n"
         "         [--train cifar10-train] [--val cifar10-val] [--test cifar10-test]\n"
         "         [--calib-images 500] [--val-images 1000] [--final-calib-images 2000]\n"
         "         [--final-val-images 0] [--test-images 0] [--max-finalists 16] [--runs 30]\n"
         "         [--boards xavier-nx,odroid-xu3,rpi4] [--lut TABLE.json] [-o OUT.oplib.json]\n"
         "  search: accuracy = top-1 on the first --val-images validation images after BN\n"
         "  recalibration on --calib-images training images; latency = per-block table (one\n"
         "  thread) + a memory term fitted on 10 sub-networks measured first (stored with the\n"
         "  table; a table without one ranks by its sum). Finalists (the search's Pareto front): "
         "recalibrated on\n"
         "  --final-calib-images, top-1 on the validation split (0 = all) and the test split\n"
         "  (0 = all; reported only), latency re-measured per thread count; the library keeps\n"
         "  the sub-networks on the re-measured front of at least one setting.\n"
         "  Writes OUT (default MODEL.oplib.json), its .bn.safetensors and .search.json, and\n"
         "  MODEL.<board>.oplib.json per board (latency and energy MODELLED by the simulator).\n"
         "  --lut: read the per-block table from TABLE (else build it and write it there, or\n"
         "  to OUT's .lut.json): the search is deterministic for a seed and a table.\n");
  return code;
}

typedef struct sctx {
  const dynrt_model *m;
  const dynrt_dataset *train, *val;
  size_t calib_n, val_n;
  int eval_threads, evals;
  const dynrt_block_lut *lut;
  FILE *log;
} sctx;

/* Objectives: 1 - top-1 on the validation subset, predicted one-thread latency (ms): the
 * table with its memory term when it has one. */
static int eval_fn(void *user, const dynrt_subnet *cfg, double *obj) {
  sctx *c = user;
  dynrt_error err;
  dynrt_bn_table *t = NULL;
  dynrt_calib_options o = {0, c->calib_n, 250, NULL, NULL};
  dynrt_eval_result r;
  if (dynrt_calibrate(c->m, cfg, c->train, &o, &t, &err) ||
      dynrt_evaluate(c->m, cfg, t, c->val, 0, c->val_n, c->eval_threads, &r, &err)) {
    fprintf(stderr, "dynrt search: %s\n", err.msg);
    dynrt_bn_table_destroy(t);
    return 1;
  }
  dynrt_bn_table_destroy(t);
  obj[0] = 1.0 - (double)r.top1 / (double)r.images;
  obj[1] = dynrt_block_lut_predict_fitted(c->lut, cfg) * 1e-6;
  c->evals++;
  if (c->log) {
    char key[17];
    dynrt_bn_key(c->m, cfg, key);
    fprintf(c->log, "\reval %d: %s top-1 %.2f%% predicted %.3f ms   ", c->evals, key,
            100 * (1 - obj[0]), obj[1]);
    fflush(c->log);
  }
  return 0;
}

/* The memory term for a table just built: the largest, the smallest and 8 random
 * sub-networks (from the seed) timed at one thread in 5 interleaved rounds of 4 runs, the
 * fit on all of them set on the table. 0 on success; the reason in msg otherwise (the
 * search then ranks by the table's sum). */
static int fit_memory_term(const dynrt_model *m, dynrt_block_lut *lut, long seed, cJSON *cal,
                           char *msg, size_t msglen) {
  enum { ROUNDS = 5, PER_ROUND = 4 };
  char spec[64];
  snprintf(spec, sizeof spec, "largest;smallest;random:8:%ld", seed);
  dynrt_subnet *cfg = NULL;
  int n = 0, rc = 1;
  if (cli_parse_subnets(m, spec, &cfg, &n, msg, msglen)) return 1;
  dynrt_session *s = NULL;
  dynrt_session_options o = {NULL, 1, 1};
  dynrt_error err;
  enum { RUNS = ROUNDS * PER_ROUND };
  uint64_t *ns = calloc((size_t)n * RUNS, sizeof *ns), **row = calloc((size_t)n, sizeof *row);
  double *t = calloc((size_t)n, sizeof *t), *w = calloc((size_t)n, sizeof *w),
         *y = calloc((size_t)n, sizeof *y);
  if (!ns || !row || !t || !w || !y || dynrt_session_create(m, &o, &s, &err)) {
    snprintf(msg, msglen, "no memory or no session for the calibration runs");
    goto out;
  }
  for (int i = 0; i < n; i++) row[i] = ns + (size_t)i * RUNS;
  dynrt_status st = dynrt_profile_interleaved(s, cfg, n, ROUNDS, RUNS, 4, row, NULL, NULL);
  if (st) {
    snprintf(msg, msglen, "calibration run failed: %s (%s)", dynrt_session_errmsg(s),
             dynrt_status_str(st));
    goto out;
  }
  for (int i = 0; i < n; i++) {
    dynrt_latency l;
    dynrt_latency_summary(row[i], RUNS, &l);
    t[i] = dynrt_block_lut_predict(lut, &cfg[i]);
    w[i] = (double)dynrt_subnet_params(m, &cfg[i]) * sizeof(float);
    y[i] = l.median_ms * 1e6;
    char cs[DYNRT_SUBNET_STR_MAX];
    dynrt_subnet_format(m, &cfg[i], cs, sizeof cs, NULL);
    cJSON *o2 = cJSON_CreateObject();
    cJSON_AddStringToObject(o2, "config", cs);
    cJSON_AddNumberToObject(o2, "table_ms", t[i] * 1e-6);
    cJSON_AddNumberToObject(o2, "weight_bytes", w[i]);
    cJSON_AddNumberToObject(o2, "measured_ms", y[i] * 1e-6);
    if (!cJSON_AddItemToArray(cal, o2)) cJSON_Delete(o2);
  }
  dynrt_latency_fit f;
  if (dynrt_latency_fit_solve(t, w, y, n, -1, &f)) {
    snprintf(msg, msglen, "the memory term does not fit these %d measurements", n);
    goto out;
  }
  dynrt_block_lut_set_fit(lut, &f);
  rc = 0;
out:
  dynrt_session_destroy(s);
  free(cfg), free(ns), free(row), free(t), free(w), free(y);
  return rc;
}

/* Sorts v[0..n-1] (n >= 1) in place and returns its median: v[n-1] is then the max. */
static double sorted_median(double *v, int n) {
  for (int a = 1; a < n; a++) /* insertion sort: n is the finalists' count */
    for (int b = a; b > 0 && v[b - 1] > v[b]; b--) {
      double t = v[b];
      v[b] = v[b - 1], v[b - 1] = t;
    }
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void strip_ext(const char *path, const char *ext, char *buf, size_t n) {
  size_t l = strlen(path), el = strlen(ext);
  if (l > el && !strcmp(path + l - el, ext))
    snprintf(buf, n, "%.*s", (int)(l - el), path);
  else
    snprintf(buf, n, "%s", path);
}

typedef struct finalist {
  dynrt_subnet cfg;
  double search_err, pred_ms;
  dynrt_eval_result val, test;
  dynrt_latency lat[MAX_TH];
  double energy_mj[MAX_TH];
  int keep;
} finalist;

/* The host op library of the kept finalists: one setting per thread count on the host's
 * CPU domain (platforms/host.json), the work split of the one-thread median for the
 * simulator, and - with points - measured latency and either measured energy or the given
 * modelled power. */
static int host_lib(const dynrt_model *m, const char *model_path, const finalist *fin, int nf,
                    const int *th, int nth, const char *bn_name, const double *power,
                    int with_points, dynrt_oplib **out, char *msg, size_t ms) {
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  dynrt_platform *hsim = NULL;
  dynrt_oplib *lib = NULL;
  *out = NULL;
  if (dynrt_sim_open("host", &hsim, msg, ms)) return 1;
  const dynrt_domain_info *hd = dynrt_platform_domain(hsim, 0);
  int set_ix[MAX_TH], k1 = -1;
  for (int k = 0; k < nth; k++)
    if (th[k] == 1) k1 = k;
  if (k1 < 0 || dynrt_oplib_create(info.name, model_path, "host", &lib)) {
    snprintf(msg, ms, "the host library needs a one-thread measurement (--threads 1,...)");
    goto fail;
  }
  if (with_points)
    for (int k = 0; k < nth; k++) {
      dynrt_oplib_setting s = {{0}, hd->opps[hd->nopps - 1].khz, th[k]};
      snprintf(s.domain, sizeof s.domain, "%s", hd->name);
      if (dynrt_oplib_add_setting(lib, &s, &set_ix[k])) goto libfail;
    }
  for (int i = 0; i < nf; i++) {
    if (!fin[i].keep) continue;
    char cs[DYNRT_SUBNET_STR_MAX], key[17], ref[4400];
    dynrt_subnet_format(m, &fin[i].cfg, cs, sizeof cs, NULL);
    dynrt_bn_key(m, &fin[i].cfg, key);
    snprintf(ref, sizeof ref, "%s#%s", bn_name, key);
    double c = -1, mem = -1;
    dynrt_sim_split_latency(hsim, 0, fin[i].lat[k1].median_ms * 1e6, &c, &mem);
    dynrt_oplib_subnet sn = {cs,
                             dynrt_subnet_id(m, &fin[i].cfg),
                             dynrt_subnet_macs(m, &fin[i].cfg),
                             dynrt_subnet_params(m, &fin[i].cfg),
                             (double)fin[i].val.top1 / (double)fin[i].val.images,
                             fin[i].val.images,
                             (double)fin[i].test.top1 / (double)fin[i].test.images,
                             fin[i].test.images,
                             ref,
                             c,
                             mem};
    int si;
    if (dynrt_oplib_add_subnet(lib, &sn, &si)) goto libfail;
    for (int k = 0; with_points && k < nth; k++) {
      const dynrt_latency *l = &fin[i].lat[k];
      dynrt_oplib_point pt = {si, set_ix[k], l->mean_ms, l->median_ms, l->p95_ms, 0, 0, 0};
      if (power) {
        pt.power_w = power[i * nth + k];
        pt.modelled = 1;
      } else {
        pt.energy_mj = fin[i].energy_mj[k];
      }
      if (!(pt.power_w > 0) && !(pt.energy_mj > 0)) {
        snprintf(msg, ms, "no energy or power for %s at %d thread(s)", key, th[k]);
        goto fail;
      }
      if (dynrt_oplib_add_point(lib, &pt)) goto libfail;
    }
  }
  if (dynrt_oplib_finalize(lib)) goto libfail;
  dynrt_platform_close(hsim);
  *out = lib;
  return 0;
libfail:
  snprintf(msg, ms, "host library: %s", dynrt_oplib_errmsg(lib));
fail:
  dynrt_oplib_destroy(lib);
  dynrt_platform_close(hsim);
  return 1;
}

int dynrt_cmd_search(int argc, char **argv) {
  const char *model = NULL, *plat = "host", *train_s = "cifar10-train", *val_s = "cifar10-val",
             *test_s = "cifar10-test", *out = NULL, *threads_s = "1,2",
             *boards_s = "xavier-nx,odroid-xu3,rpi4", *lut_s = NULL;
  long seed = 1, pop = 16, gens = 8, calib_n = 500, val_n = 1000, fcalib_n = 2000, fval_n = 0,
       test_n = 0, max_fin = 16, runs = 30, eval_threads = 2;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has = i + 1 < argc;
    if (!strcmp(a, "--help")) return usage(0);
#define OPT_S(name, var)                                                                           \
  if (!strcmp(a, name) && has) {                                                                   \
    var = argv[++i];                                                                               \
    continue;                                                                                      \
  }
#define OPT_L(name, var)                                                                           \
  if (!strcmp(a, name) && has) {                                                                   \
    var = atol(argv[++i]);                                                                         \
    continue;                                                                                      \
  }
    OPT_S("--platform", plat)
    OPT_S("--train", train_s)
    OPT_S("--val", val_s)
    OPT_S("--test", test_s)
    OPT_S("--threads", threads_s)
    OPT_S("--boards", boards_s)
    OPT_S("--lut", lut_s)
    OPT_S("-o", out)
    OPT_L("--seed", seed)
    OPT_L("--population", pop)
    OPT_L("--generations", gens)
    OPT_L("--calib-images", calib_n)
    OPT_L("--val-images", val_n)
    OPT_L("--final-calib-images", fcalib_n)
    OPT_L("--final-val-images", fval_n)
    OPT_L("--test-images", test_n)
    OPT_L("--max-finalists", max_fin)
    OPT_L("--runs", runs)
    OPT_L("--eval-threads", eval_threads)
#undef OPT_S
#undef OPT_L
    if (a[0] == '-') return dynrt_cli_fail("search", "unknown option '%s'", a);
    if (model) return dynrt_cli_fail("search", "unexpected argument '%s'", a);
    model = a;
  }
  if (!model) return usage(1);
  int th[MAX_TH];
  int nth = cli_parse_ints(threads_s, th, MAX_TH);
  if (nth < 1 || pop < 4 || gens < 0 || calib_n < 1 || val_n < 1 || fcalib_n < 1 || fval_n < 0 ||
      test_n < 0 || max_fin < 1 || runs < 3 || eval_threads < 1 || seed < 0)
    return dynrt_cli_fail("search", "bad option value (see dynrt search --help)");
  if (strcmp(plat, "host"))
    return dynrt_cli_fail("search",
                          "--platform %s: the search measures this machine (host); "
                          "boards are derived with --boards",
                          plat);
  char base[4096], path[4200], msg[1024];
  strip_ext(out ? out : model, out ? ".oplib.json" : ".safetensors", base, sizeof base);
  dynrt_model *m = NULL;
  dynrt_dataset *train = NULL, *val = NULL, *test = NULL;
  dynrt_block_lut *lut = NULL;
  dynrt_platform *host = NULL;
  dynrt_subnet *arch = NULL;
  double *objs = NULL;
  finalist *fin = NULL;
  dynrt_bn_file *bf = NULL;
  dynrt_oplib *lib = NULL;
  cJSON *rep = NULL, *lfit = cJSON_CreateObject(); /* lfit: the memory term, for the report */
  dynrt_error err;
  int na = 0, nf = 0, rc = 1;
  uint64_t t_start = dynrt_now_ns();
  if (dynrt_model_load(model, &m, &err)) {
    dynrt_cli_fail("search", "%s", err.msg);
    goto done;
  }
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  size_t ntrain = (size_t)(calib_n > fcalib_n ? calib_n : fcalib_n);
  if (cli_open_dataset(train_s, info.num_classes, 0, ntrain, &train, msg, sizeof msg) ||
      cli_open_dataset(val_s, info.num_classes, 0, (size_t)fval_n, &val, msg, sizeof msg) ||
      cli_open_dataset(test_s, info.num_classes, 0, (size_t)test_n, &test, msg, sizeof msg)) {
    dynrt_cli_fail("search", "%s", msg);
    goto done;
  }
  if ((size_t)val_n > dynrt_dataset_count(val)) val_n = (long)dynrt_dataset_count(val);
  if (dynrt_platform_open("host", &host, msg, sizeof msg)) {
    fprintf(stderr, "dynrt search: host platform: %s (energy will be modelled)\n", msg);
    host = NULL;
  }
  /* only a sensor's energy is used as measured; a platform model is replaced by the
   * board model below (it would charge this inference for the whole machine's load) */
  int e_modelled = host ? dynrt_platform_get_info(host)->energy_modelled : 1;
  printf("search %s (%s): %.3g sub-networks; NSGA-II population %ld, generations %ld, seed "
         "%ld\n  accuracy: top-1 on validation images 0..%ld of %s after BN recalibration "
         "on training images 0..%ld of %s (a subset, for speed)\n",
         info.name, model, info.n_subnets, pop, gens, seed, val_n - 1, val_s, calib_n - 1, train_s);
  {
    char lp[4300];
    snprintf(lp, sizeof lp, "%s.lut.json", base);
    FILE *lf = lut_s ? fopen(lut_s, "rb") : NULL;
    if (lf) {
      fclose(lf);
      if (dynrt_block_lut_load(m, lut_s, &lut, &err)) {
        dynrt_cli_fail("search", "%s", err.msg);
        goto done;
      }
      printf("  latency: per-block table read from %s (%zu entries)\n", lut_s,
             dynrt_block_lut_entries(lut));
    } else {
      if (dynrt_block_lut_build(m, 3, 20, cli_progress, "block table", &lut, &err)) {
        dynrt_cli_fail("search", "%s", err.msg);
        goto done;
      }
      if (fit_memory_term(m, lut, seed, cJSON_AddArrayToObject(lfit, "subnets"), msg, sizeof msg))
        fprintf(stderr, "dynrt search: no memory term (%s): ranking by the table's sum\n", msg);
      if (dynrt_block_lut_save(lut, lut_s ? lut_s : lp, &err)) {
        dynrt_cli_fail("search", "%s", err.msg);
        goto done;
      }
      printf("  latency: per-block table, %zu entries (one thread, measured here) -> %s\n",
             dynrt_block_lut_entries(lut), lut_s ? lut_s : lp);
    }
    dynrt_latency_fit f;
    if (dynrt_block_lut_get_fit(lut, &f)) {
      printf("  latency: table + memory term %.3f x sum + %.4f ms per MB beyond %.2f MB of "
             "weights (fitted on 10 sub-networks measured here, rms %.1f%%)\n",
             f.a, f.b, f.c * 1e-6, f.rms_pct);
      cJSON_AddNumberToObject(lfit, "a", f.a);
      cJSON_AddNumberToObject(lfit, "b_ns_per_byte", f.b);
      cJSON_AddNumberToObject(lfit, "c_bytes", f.c);
      cJSON_AddNumberToObject(lfit, "rms_pct", f.rms_pct);
    } else {
      printf("  latency: the table's sum (the table has no memory term)\n");
    }
  }
  sctx sc = {m, train, val, (size_t)calib_n, (size_t)val_n, (int)eval_threads, 0, lut, stderr};
  dynrt_search_options so = {(int)pop, (int)gens, 2, (uint64_t)seed, 0, NULL, NULL};
  if (dynrt_search_nsga2(m, &so, eval_fn, &sc, &arch, &objs, &na, &err)) {
    dynrt_cli_fail("search", "%s", err.msg);
    goto done;
  }
  fprintf(stderr, "\n");
  int *front = malloc(sizeof(int) * (size_t)na);
  if (!front) goto done;
  int nfront = dynrt_pareto_front(objs, na, 2, front);
  /* sort the front by predicted latency; thin it evenly to max_fin */
  for (int a = 1; a < nfront; a++) {
    int v = front[a], b = a - 1;
    while (b >= 0 && objs[front[b] * 2 + 1] > objs[v * 2 + 1]) {
      front[b + 1] = front[b];
      b--;
    }
    front[b + 1] = v;
  }
  nf = nfront < max_fin ? nfront : (int)max_fin;
  fin = calloc((size_t)nf + 2, sizeof *fin);
  if (!fin) {
    free(front);
    goto done;
  }
  for (int i = 0; i < nf; i++) {
    int k = nf == nfront ? i : (int)lround((double)i * (nfront - 1) / (nf > 1 ? nf - 1 : 1));
    fin[i].cfg = arch[front[k]];
    fin[i].search_err = objs[front[k] * 2];
    fin[i].pred_ms = objs[front[k] * 2 + 1];
  }
  free(front);
  /* The ends of the space are always finalists: on the search's small validation subset
   * the largest sub-network can look dominated by one within the subset's noise, and a
   * library without it caps the accuracy a manager can ask for. The re-measured front
   * (all validation images) decides whether they are kept. */
  for (int e = 0; e < 2; e++) {
    dynrt_subnet end;
    if (e == 0)
      dynrt_subnet_largest(m, &end);
    else
      dynrt_subnet_smallest(m, &end);
    int have = 0;
    for (int i = 0; i < nf && !have; i++) have = dynrt_subnet_equal(m, &fin[i].cfg, &end);
    for (int a = 0; a < na && !have; a++) {
      if (!dynrt_subnet_equal(m, &arch[a], &end)) continue;
      fin[nf].cfg = arch[a];
      fin[nf].search_err = objs[a * 2];
      fin[nf].pred_ms = objs[a * 2 + 1];
      nf++;
      have = 1;
    }
  }
  printf("  %d sub-networks evaluated; search front %d, finalists %d\n", na, nfront, nf);
  /* finalists: recalibrate, full accuracy, re-measure latency and energy */
  snprintf(path, sizeof path, "%s.bn.safetensors", base);
  snprintf(msg, sizeof msg,
           "dynrt search finalists: calibrated on %s images 0..%ld (training-mode batch "
           "statistics, batch 250)",
           train_s, fcalib_n - 1);
  if (dynrt_bn_file_create(m, msg, &bf, &err)) {
    dynrt_cli_fail("search", "%s", err.msg);
    goto done;
  }
  for (int i = 0; i < nf; i++) {
    dynrt_bn_table *t = NULL;
    dynrt_calib_options o = {0, (size_t)fcalib_n, 250, NULL, NULL};
    if (dynrt_calibrate(m, &fin[i].cfg, train, &o, &t, &err) ||
        dynrt_evaluate(m, &fin[i].cfg, t, val, 0, 0, (int)eval_threads, &fin[i].val, &err) ||
        dynrt_evaluate(m, &fin[i].cfg, t, test, 0, 0, (int)eval_threads, &fin[i].test, &err) ||
        dynrt_bn_file_put(bf, t,
                          (uint64_t)dynrt_dataset_count(train) < (uint64_t)fcalib_n
                              ? dynrt_dataset_count(train)
                              : (uint64_t)fcalib_n,
                          &err)) {
      dynrt_bn_table_destroy(t);
      dynrt_cli_fail("search", "%s", err.msg);
      goto done;
    }
    for (int k = 0; k < nth; k++) {
      dynrt_session *s = NULL;
      dynrt_session_options so2 = {NULL, th[k], th[k]};
      uint64_t e0 = 0, e1 = 0;
      if (dynrt_session_create(m, &so2, &s, &err) || dynrt_session_set_subnet(s, &fin[i].cfg, t)) {
        dynrt_cli_fail("search", "%s", s ? dynrt_session_errmsg(s) : err.msg);
        dynrt_session_destroy(s);
        goto done;
      }
      dynrt_profile_session(s, 5, 3, &fin[i].lat[k]);
      int he = host && !e_modelled && !dynrt_platform_read_energy(host, &e0);
      dynrt_profile_session(s, 0, (int)runs, &fin[i].lat[k]);
      if (he && !dynrt_platform_read_energy(host, &e1) && e1 > e0)
        fin[i].energy_mj[k] = (double)(e1 - e0) * 1e-3 / (double)runs;
      dynrt_session_destroy(s);
    }
    fprintf(stderr, "\rfinalist %d/%d measured   ", i + 1, nf);
  }
  fprintf(stderr, "\n");
  if (dynrt_bn_file_save(bf, path, &err)) {
    dynrt_cli_fail("search", "%s", err.msg);
    goto done;
  }
  /* the re-measured front per setting: keep a finalist if it is on any */
  {
    double *o2 = malloc(sizeof(double) * 2 * (size_t)nf);
    int *ix = malloc(sizeof(int) * (size_t)nf);
    if (!o2 || !ix) {
      free(o2);
      free(ix);
      goto done;
    }
    for (int k = 0; k < nth; k++) {
      for (int i = 0; i < nf; i++) {
        o2[2 * i] = 1.0 - (double)fin[i].val.top1 / (double)fin[i].val.images;
        o2[2 * i + 1] = fin[i].lat[k].mean_ms;
      }
      int c = dynrt_pareto_front(o2, nf, 2, ix);
      for (int i = 0; i < c; i++) fin[ix[i]].keep = 1;
    }
    free(o2);
    free(ix);
  }
  /* host library: latency measured here; energy from a sensor, else the host board model
   * (platforms/host.json, power at the measured latency) - modelled and marked so */
  snprintf(path, sizeof path, "%s.bn.safetensors", base);
  const char *bn_name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  char bn_ref_base[4300];
  snprintf(bn_ref_base, sizeof bn_ref_base, "%s", bn_name);
  double *power = calloc((size_t)(nf * nth), sizeof *power);
  if (!power) goto done;
  if (e_modelled) {
    dynrt_oplib *work = NULL, *hl = NULL;
    if (host_lib(m, model, fin, nf, th, nth, bn_ref_base, NULL, 0, &work, msg, sizeof msg)) {
      free(power);
      dynrt_cli_fail("search", "%s", msg);
      goto done;
    }
    if (dynrt_oplib_derive_board("host", work, 1, &hl, &err)) {
      dynrt_oplib_destroy(work);
      free(power);
      dynrt_cli_fail("search", "host power model: %s", err.msg);
      goto done;
    }
    int ns = 0;
    for (int i = 0; i < nf; i++) {
      if (!fin[i].keep) continue;
      for (int k = 0; k < nth; k++)
        for (int t = 0; t < dynrt_oplib_num_settings(hl); t++)
          if (dynrt_oplib_setting_at(hl, t)->cores == th[k]) {
            const dynrt_oplib_point *pt = dynrt_oplib_lookup(hl, ns, t);
            if (pt) power[i * nth + k] = pt->power_w;
          }
      ns++;
    }
    dynrt_oplib_destroy(work);
    dynrt_oplib_destroy(hl);
  }
  if (host_lib(m, model, fin, nf, th, nth, bn_ref_base, e_modelled ? power : NULL, 1, &lib, msg,
               sizeof msg)) {
    free(power);
    dynrt_cli_fail("search", "%s", msg);
    goto done;
  }
  free(power);
  int kept = dynrt_oplib_num_subnets(lib);
  snprintf(path, sizeof path, "%s.oplib.json", base);
  if (dynrt_oplib_save(lib, path)) {
    dynrt_cli_fail("search", "%s: %s", path, dynrt_oplib_errmsg(lib));
    goto done;
  }
  printf("  re-measured front: %d of %d finalists kept -> %s (latency measured here; energy "
         "%s)\n",
         kept, nf, path,
         e_modelled ? "MODELLED: host board model platforms/host.json at the measured latency"
                    : "measured by the host sensor");
  /* simulated boards: every number modelled */
  char boards[MAX_BOARDS][64];
  int nb = 0;
  {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", boards_s);
    char *save = NULL;
    for (char *b = strtok_r(tmp, ",", &save); b && nb < MAX_BOARDS; b = strtok_r(NULL, ",", &save))
      snprintf(boards[nb++], sizeof boards[0], "%s", b);
  }
  for (int b = 0; b < nb; b++) {
    char bp[4300];
    dynrt_oplib *bl = NULL;
    if (dynrt_oplib_derive_board(boards[b], lib, 1, &bl, &err)) {
      dynrt_cli_fail("search", "board %s: %s", boards[b], err.msg);
      goto done;
    }
    snprintf(bp, sizeof bp, "%s.%.63s.oplib.json", base, boards[b]); /* boards[b]: < 64 */
    if (dynrt_oplib_save(bl, bp)) {
      dynrt_cli_fail("search", "%s: %s", bp, dynrt_oplib_errmsg(bl));
      dynrt_oplib_destroy(bl);
      goto done;
    }
    printf("  %s: %d settings x %d sub-networks, MODELLED (simulator: host work split, board "
           "capacity, OPPs, power model) -> %s\n",
           boards[b], dynrt_oplib_num_settings(bl), dynrt_oplib_num_subnets(bl), bp);
    dynrt_oplib_destroy(bl);
  }
  /* report: everything evaluated, the finalists, the settings of the run */
  rep = cJSON_CreateObject();
  cJSON_AddStringToObject(rep, "format", "dynrt-search");
  cJSON_AddNumberToObject(rep, "version", 1);
  cJSON_AddStringToObject(rep, "model", info.name);
  cJSON_AddStringToObject(rep, "model_file", model);
  if (lfit) { /* the table's memory term (and, when fitted in this run, what it was fitted on) */
    cJSON_AddItemToObject(rep, "latency_fit", lfit);
    lfit = NULL;
  }
  {
    char cmd[4096] = "dynrt";
    for (int i = 0; i < argc; i++) {
      size_t l = strlen(cmd);
      snprintf(cmd + l, sizeof cmd - l, " %s", argv[i]);
    }
    cJSON_AddStringToObject(rep, "command", cmd);
  }
  cJSON *sj = cJSON_AddObjectToObject(rep, "search");
  cJSON_AddNumberToObject(sj, "seed", (double)seed);
  cJSON_AddNumberToObject(sj, "population", (double)pop);
  cJSON_AddNumberToObject(sj, "generations", (double)gens);
  cJSON_AddStringToObject(sj, "accuracy", "top-1 on a validation subset after BN recalibration");
  cJSON_AddStringToObject(sj, "train", train_s);
  cJSON_AddNumberToObject(sj, "calib_images", (double)calib_n);
  cJSON_AddStringToObject(sj, "val", val_s);
  cJSON_AddNumberToObject(sj, "val_images", (double)val_n);
  cJSON_AddStringToObject(sj, "latency",
                          dynrt_block_lut_get_fit(lut, NULL)
                              ? "per-block table + memory term (latency_fit), one thread, ms"
                              : "per-block table sum, one thread, ms");
  cJSON_AddNumberToObject(sj, "evaluated", na);
  cJSON_AddNumberToObject(sj, "seconds", (double)(dynrt_now_ns() - t_start) * 1e-9);
  cJSON *aj = cJSON_AddArrayToObject(sj, "archive");
  for (int i = 0; i < na; i++) {
    char cs[DYNRT_SUBNET_STR_MAX];
    dynrt_subnet_format(m, &arch[i], cs, sizeof cs, NULL);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "config", cs);
    cJSON_AddNumberToObject(o, "val_subset_top1", 1 - objs[2 * i]);
    cJSON_AddNumberToObject(o, "predicted_ms", objs[2 * i + 1]);
    cJSON_AddNumberToObject(o, "macs", (double)dynrt_subnet_macs(m, &arch[i]));
    cJSON_AddItemToArray(aj, o);
  }
  cJSON *fj = cJSON_AddArrayToObject(rep, "finalists");
  double *perr = malloc(sizeof(double) * (size_t)nf);
  int k1 = -1;
  for (int k = 0; k < nth; k++)
    if (th[k] == 1) k1 = k;
  for (int i = 0; i < nf; i++) {
    char cs[DYNRT_SUBNET_STR_MAX];
    dynrt_subnet_format(m, &fin[i].cfg, cs, sizeof cs, NULL);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "config", cs);
    cJSON_AddBoolToObject(o, "kept", fin[i].keep);
    cJSON_AddNumberToObject(o, "val_top1", (double)fin[i].val.top1 / (double)fin[i].val.images);
    cJSON_AddNumberToObject(o, "val_images", (double)fin[i].val.images);
    cJSON_AddNumberToObject(o, "test_top1", (double)fin[i].test.top1 / (double)fin[i].test.images);
    cJSON_AddNumberToObject(o, "test_images", (double)fin[i].test.images);
    cJSON_AddNumberToObject(o, "predicted_1t_ms", fin[i].pred_ms);
    cJSON *lj = cJSON_AddArrayToObject(o, "measured");
    for (int k = 0; k < nth; k++) {
      cJSON *x = cJSON_CreateObject();
      cJSON_AddNumberToObject(x, "threads", th[k]);
      cJSON_AddNumberToObject(x, "median_ms", fin[i].lat[k].median_ms);
      cJSON_AddNumberToObject(x, "p95_ms", fin[i].lat[k].p95_ms);
      cJSON_AddNumberToObject(x, "spread", fin[i].lat[k].spread);
      cJSON_AddItemToArray(lj, x);
    }
    if (perr && k1 >= 0)
      perr[i] = fabs(fin[i].pred_ms - fin[i].lat[k1].median_ms) / fin[i].lat[k1].median_ms;
    cJSON_AddItemToArray(fj, o);
  }
  if (perr && k1 >= 0 && nf > 0) {
    double md = sorted_median(perr, nf);
    cJSON_AddNumberToObject(rep, "prediction_median_abs_error_pct_1t", 100 * md);
    printf("  the search's latency prediction (%s) vs re-measured finalists (1 thread): "
           "median |error| %.2f%%, max %.2f%%\n",
           dynrt_block_lut_get_fit(lut, NULL) ? "table + memory term" : "the table's sum", 100 * md,
           100 * perr[nf - 1]);
  }
  free(perr);
  if (k1 >= 0 && nf >= 4) {
    /* the table + memory term (dynrt_latency_fit_solve), leave-one-out over the finalists */
    double *tv = calloc((size_t)nf, sizeof *tv), *wv = calloc((size_t)nf, sizeof *wv),
           *yv = calloc((size_t)nf, sizeof *yv), *ev = calloc((size_t)nf, sizeof *ev);
    int ok = tv && wv && yv && ev;
    for (int i = 0; ok && i < nf; i++) {
      tv[i] = dynrt_block_lut_predict(lut, &fin[i].cfg); /* the table's sum, not the fit */
      wv[i] = (double)dynrt_subnet_params(m, &fin[i].cfg) * sizeof(float);
      yv[i] = fin[i].lat[k1].median_ms * 1e6;
    }
    for (int i = 0; ok && i < nf; i++) {
      dynrt_latency_fit f;
      ok = !dynrt_latency_fit_solve(tv, wv, yv, nf, i, &f);
      if (ok) ev[i] = fabs(dynrt_latency_fit_predict(&f, tv[i], wv[i]) - yv[i]) / yv[i];
    }
    if (ok) {
      double md = sorted_median(ev, nf), mx = ev[nf - 1];
      cJSON_AddNumberToObject(rep, "prediction_memory_term_loo_median_abs_error_pct_1t", 100 * md);
      printf("  block table + memory term, leave-one-out over the finalists (1 thread): median "
             "|error| %.2f%%, max %.2f%%\n",
             100 * md, 100 * mx);
    }
    free(tv), free(wv), free(yv), free(ev);
  }
  snprintf(path, sizeof path, "%s.search.json", base);
  {
    char *text = cJSON_Print(rep);
    FILE *f = text ? fopen(path, "w") : NULL;
    if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0) {
      if (f) fclose(f);
      cJSON_free(text);
      dynrt_cli_fail("search", "%s: cannot write", path);
      goto done;
    }
    fclose(f);
    cJSON_free(text);
  }
  printf("  report -> %s; %.1f s in all\n", path, (double)(dynrt_now_ns() - t_start) * 1e-9);
  printf("%-18s %9s %9s %9s", "kept sub-network", "MMACs", "val top1", "test top1");
  for (int k = 0; k < nth; k++) printf("  %dt med ms", th[k]);
  printf("\n");
  for (int i = 0; i < nf; i++) {
    if (!fin[i].keep) continue;
    char key[17];
    dynrt_bn_key(m, &fin[i].cfg, key);
    printf("%-18s %9.2f %8.2f%% %8.2f%%", key, (double)dynrt_subnet_macs(m, &fin[i].cfg) * 1e-6,
           100.0 * (double)fin[i].val.top1 / (double)fin[i].val.images,
           100.0 * (double)fin[i].test.top1 / (double)fin[i].test.images);
    for (int k = 0; k < nth; k++) printf("  %10.3f", fin[i].lat[k].median_ms);
    printf("\n");
  }
  rc = 0;
done:
  cJSON_Delete(rep);
  cJSON_Delete(lfit);
  dynrt_oplib_destroy(lib);
  dynrt_bn_file_destroy(bf);
  free(fin);
  dynrt_search_free(arch, objs);
  dynrt_platform_close(host);
  dynrt_block_lut_destroy(lut);
  dynrt_dataset_destroy(train);
  dynrt_dataset_destroy(val);
  dynrt_dataset_destroy(test);
  dynrt_model_destroy(m);
  return rc;
}

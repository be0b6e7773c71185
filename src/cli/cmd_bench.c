/* cmd_bench.c - `dynrt bench` (latency of one sub-network: median / p95, GFLOP/s; with
 * --per-layer the session's per-layer profile: where the time goes) and
 * `dynrt bench-switch` (time per sub-network switch, allocations, plan bytes written).
 * Measurements only; results are printed, never compared against fixed numbers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "dynrt/engine.h"

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* p-th percentile (0..100) of n sorted values, nearest rank. */
static uint64_t pct(const uint64_t *v, size_t n, double p) {
  size_t i = (size_t)ceil(p / 100.0 * (double)n);
  return v[i ? i - 1 : 0];
}

static int bench_usage(int code) {
  printf("usage: dynrt bench MODEL.safetensors [--subnet \"...\" | --largest | --smallest]\n"
         "                   [--threads N] [--runs N] [--warmup N] [--per-layer]\n"
         "  runs one sub-network on a synthetic input; prints median and p95 latency and\n"
         "  GFLOP/s (2 x MACs / median). --per-layer: then as many runs again with the\n"
         "  session's per-layer profile on, and per layer the median time, MACs, GFLOP/s\n"
         "  and share of the summed layer medians\n");
  return code;
}

static const char *layer_kind_name(dynrt_layer_kind k) {
  static const char *const names[] = {"input", "conv", "dw", "1x1", "se", "pool", "fc"};
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

/* `runs` profiled runs; per layer the median time over them. 0 on success. */
static int bench_per_layer(dynrt_session *s, const float *in, int r, int runs, uint64_t med_plain) {
  size_t n = 0;
  uint64_t total = 0;
  dynrt_layer_time *lt = NULL;
  uint64_t *ns = NULL, *tot = NULL;
  int rc = 1;
  if (dynrt_session_set_profiling(s, 1) || dynrt_session_run_tensor(s, in, r) ||
      dynrt_session_get_layer_times(s, NULL, 0, &n, NULL)) {
    dynrt_cli_fail("bench", "%s", dynrt_session_errmsg(s));
    goto done;
  }
  lt = malloc(sizeof *lt * n);
  ns = malloc(sizeof *ns * n * (size_t)runs);
  tot = malloc(sizeof *tot * (size_t)runs);
  if (!lt || !ns || !tot) {
    dynrt_cli_fail("bench", "no memory");
    goto done;
  }
  for (int i = 0; i < runs; i++) {
    size_t got;
    if (dynrt_session_run_tensor(s, in, r) ||
        dynrt_session_get_layer_times(s, lt, n, &got, &tot[i]) || got != n) {
      dynrt_cli_fail("bench", "profiled run: %s", dynrt_session_errmsg(s));
      goto done;
    }
    for (size_t l = 0; l < n; l++) ns[l * (size_t)runs + (size_t)i] = lt[l].ns;
  }
  uint64_t sum = 0;
  for (size_t l = 0; l < n; l++) {
    qsort(ns + l * (size_t)runs, (size_t)runs, sizeof *ns, cmp_u64);
    sum += pct(ns + l * (size_t)runs, (size_t)runs, 50);
  }
  qsort(tot, (size_t)runs, sizeof *tot, cmp_u64);
  total = pct(tot, (size_t)runs, 50);
  printf("\nper layer (median of %d profiled runs; share of the summed layer medians):\n", runs);
  printf("%3s  %-22s %-5s %5s %5s %2s %1s %4s %9s %9s %8s %6s\n", "#", "layer", "kind", "cin",
         "cout", "k", "s", "h", "MMAC", "ms", "GFLOP/s", "share");
  for (size_t l = 0; l < n; l++) {
    uint64_t t = pct(ns + l * (size_t)runs, (size_t)runs, 50);
    const dynrt_layer_time *x = &lt[l];
    printf("%3zu  %-22s %-5s %5d %5d %2d %1d %4d %9.3f %9.4f %8.1f %5.1f%%\n", l, x->name,
           layer_kind_name(x->kind), x->cin, x->cout, x->k, x->stride, x->h_out, x->macs / 1e6,
           t / 1e6, t ? 2.0 * (double)x->macs / (double)t : 0.0, sum ? 100.0 * t / sum : 0.0);
  }
  /* the same layers summed by kind: which kind of layer the time goes to */
  printf("by kind:\n");
  for (int k = DYNRT_LAYER_INPUT; k <= DYNRT_LAYER_FC; k++) {
    uint64_t t = 0, macs = 0;
    int cnt = 0;
    for (size_t l = 0; l < n; l++)
      if ((int)lt[l].kind == k) {
        t += pct(ns + l * (size_t)runs, (size_t)runs, 50);
        macs += lt[l].macs;
        cnt++;
      }
    if (cnt)
      printf("  %-5s %3d layers %9.3f MMAC %9.4f ms %8.1f GFLOP/s %5.1f%%\n",
             layer_kind_name((dynrt_layer_kind)k), cnt, macs / 1e6, t / 1e6,
             t ? 2.0 * (double)macs / (double)t : 0.0, sum ? 100.0 * t / sum : 0.0);
  }
  printf("sum of layer medians %.3f ms; profiled run median %.3f ms; unprofiled median %.3f ms\n",
         sum / 1e6, total / 1e6, med_plain / 1e6);
  rc = 0;
done:
  dynrt_session_set_profiling(s, 0);
  free(lt);
  free(ns);
  free(tot);
  return rc;
}

int dynrt_cmd_bench(int argc, char **argv) {
  const char *model = NULL, *subnet = NULL;
  int threads = 1, runs = 50, warmup = 5, smallest = 0, per_layer = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help")) return bench_usage(0);
    if (!strcmp(argv[i], "--subnet") && i + 1 < argc)
      subnet = argv[++i];
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
      warmup = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--largest"))
      smallest = 0;
    else if (!strcmp(argv[i], "--smallest"))
      smallest = 1;
    else if (!strcmp(argv[i], "--per-layer"))
      per_layer = 1;
    else if (argv[i][0] == '-')
      return dynrt_cli_fail("bench", "unknown option '%s'", argv[i]);
    else if (!model)
      model = argv[i];
    else
      return dynrt_cli_fail("bench", "unexpected argument '%s'", argv[i]);
  }
  if (!model) return bench_usage(1);
  if (runs < 1 || threads < 1 || threads > 256 || warmup < 0)
    return dynrt_cli_fail("bench", "bad --runs, --warmup or --threads");
  dynrt_model *m = NULL;
  dynrt_session *s = NULL;
  dynrt_error err;
  uint64_t *t = NULL;
  float *in = NULL;
  int rc = 1;
  dynrt_subnet cfg;
  if (dynrt_model_load(model, &m, &err)) {
    dynrt_cli_fail("bench", "%s", err.msg);
    goto done;
  }
  if (subnet) {
    if (dynrt_subnet_parse(m, subnet, &cfg, &err)) {
      dynrt_cli_fail("bench", "%s", err.msg);
      goto done;
    }
  } else if (smallest) {
    dynrt_subnet_smallest(m, &cfg);
  } else {
    dynrt_subnet_largest(m, &cfg);
  }
  dynrt_session_options o = {NULL, threads, threads};
  if (dynrt_session_create(m, &o, &s, &err)) {
    dynrt_cli_fail("bench", "%s", err.msg);
    goto done;
  }
  if (dynrt_session_set_subnet(s, &cfg, NULL)) {
    dynrt_cli_fail("bench", "%s", dynrt_session_errmsg(s));
    goto done;
  }
  int r = cfg.r;
  in = malloc(sizeof(float) * (size_t)(r * r * 3));
  t = malloc(sizeof(uint64_t) * (size_t)runs);
  if (!in || !t) {
    dynrt_cli_fail("bench", "no memory");
    goto done;
  }
  for (int i = 0; i < r * r * 3; i++) in[i] = sinf(0.37f * (float)i);
  for (int i = 0; i < warmup; i++) dynrt_session_run_tensor(s, in, r);
  for (int i = 0; i < runs; i++) {
    uint64_t t0 = dynrt_now_ns();
    dynrt_session_run_tensor(s, in, r);
    t[i] = dynrt_now_ns() - t0;
  }
  qsort(t, (size_t)runs, sizeof *t, cmp_u64);
  uint64_t macs = dynrt_subnet_macs(m, &cfg), med = pct(t, (size_t)runs, 50);
  char buf[DYNRT_SUBNET_STR_MAX];
  dynrt_subnet_format(m, &cfg, buf, sizeof buf, NULL);
  printf("sub-network: %s\n", buf);
  printf("threads %d, runs %d: median %.3f ms, p95 %.3f ms, min %.3f ms, %.2f MMACs, %.1f "
         "GFLOP/s\n",
         dynrt_session_threads(s), runs, med / 1e6, pct(t, (size_t)runs, 95) / 1e6, t[0] / 1e6,
         macs / 1e6, 2.0 * (double)macs / (double)med);
  if (per_layer && bench_per_layer(s, in, r, runs, med)) goto done;
  rc = 0;
done:
  free(t);
  free(in);
  dynrt_session_destroy(s);
  dynrt_model_destroy(m);
  return rc;
}

int dynrt_cmd_bench_switch(int argc, char **argv) {
  const char *model = NULL;
  int configs = 256, batches = 200, per = 1000;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help")) {
      printf("usage: dynrt bench-switch MODEL.safetensors [--configs N] [--batches N]\n"
             "  switches a session among N random sub-networks (seed 1), in batches of %d\n"
             "  switches; prints the median and p95 time per switch over batches, the\n"
             "  allocations made and the plan bytes written per switch\n",
             per);
      return 0;
    }
    if (!strcmp(argv[i], "--configs") && i + 1 < argc)
      configs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--batches") && i + 1 < argc)
      batches = atoi(argv[++i]);
    else if (argv[i][0] == '-')
      return dynrt_cli_fail("bench-switch", "unknown option '%s'", argv[i]);
    else if (!model)
      model = argv[i];
    else
      return dynrt_cli_fail("bench-switch", "unexpected argument '%s'", argv[i]);
  }
  if (!model || configs < 2 || batches < 1)
    return dynrt_cli_fail("bench-switch", "usage: dynrt bench-switch MODEL [--configs N >= 2]");
  dynrt_model *m = NULL;
  dynrt_session *s = NULL;
  dynrt_error err;
  dynrt_subnet *cfg = NULL;
  uint64_t *t = NULL;
  int rc = 1;
  if (dynrt_model_load(model, &m, &err) || dynrt_session_create(m, NULL, &s, &err)) {
    dynrt_cli_fail("bench-switch", "%s", err.msg);
    goto done;
  }
  cfg = malloc(sizeof *cfg * (size_t)configs);
  t = malloc(sizeof *t * (size_t)batches);
  if (!cfg || !t) goto done;
  uint64_t rng = 1;
  for (int i = 0; i < configs; i++) dynrt_subnet_sample(m, &rng, &cfg[i]);
  uint64_t allocs0 = dynrt__alloc_count(), plan_bytes = 0;
  for (int b = 0; b < batches; b++) {
    uint64_t t0 = dynrt_now_ns();
    for (int i = 0; i < per; i++)
      if (dynrt_session_set_subnet(s, &cfg[(b * per + i) % configs], NULL)) {
        dynrt_cli_fail("bench-switch", "%s", dynrt_session_errmsg(s));
        goto done;
      }
    t[b] = dynrt_now_ns() - t0;
    dynrt_session_stats st;
    dynrt_session_get_stats(s, &st);
    plan_bytes += st.switch_plan_bytes;
  }
  uint64_t allocs = dynrt__alloc_count() - allocs0;
  qsort(t, (size_t)batches, sizeof *t, cmp_u64);
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  printf("model %s: %d random sub-networks, %d switches\n", info.name, configs, batches * per);
  printf("switch: median %.1f ns, p95 %.1f ns per switch (batch means)\n",
         (double)pct(t, (size_t)batches, 50) / per, (double)pct(t, (size_t)batches, 95) / per);
  printf("allocations during switches: %llu\n", (unsigned long long)allocs);
  printf("plan bytes written per switch: %.0f (pointers and sizes; weight bytes copied: none "
         "- every layer points into the one packed set)\n",
         (double)plan_bytes / batches);
  rc = 0;
done:
  free(cfg);
  free(t);
  dynrt_session_destroy(s);
  dynrt_model_destroy(m);
  return rc;
}

/* rtm_bench.c - runtime-manager overhead: level-1 decision time (dynrt_app_decide, and
 * decide + report) and level-2 plan time (dynrt_rtm_step forced to plan) for 4 apps on a
 * synthetic big.LITTLE + GPU board (3 domains; 19, 13 and 7 OPPs; 4 + 4 cores + a
 * time-shared GPU), each app with a 10-point Pareto library on every (OPP, cores) setting.
 * Medians over batches; the fake board costs nothing, so the numbers are the manager's.
 *
 *   build/bench/bench_rtm [batches]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynrt/rtm.h"
#include "../tests/test_rtm_fake.h"

#define MS 1000000ull
#define NAPPS 4
#define NSUB 10

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_u64);
  return v[n / 2];
}

static dynrt_platform *board(void) {
  static const uint32_t big[19] = {200000,  300000,  400000,  500000,  600000,  700000,  800000,
                                   900000,  1000000, 1100000, 1200000, 1300000, 1400000, 1500000,
                                   1600000, 1700000, 1800000, 1900000, 2000000};
  static const uint32_t little[13] = {200000, 300000,  400000,  500000,  600000,  700000, 800000,
                                      900000, 1000000, 1100000, 1200000, 1300000, 1400000};
  static const uint32_t gpu[7] = {177000, 266000, 350000, 420000, 480000, 543000, 600000};
  dynrt_platform *p = fake_open("bench-board");
  fake_add_domain(p, "big", 4, 4, big, 19);
  fake_add_domain(p, "little", 4, 0, little, 13);
  fake_add_domain(p, "gpu", 0, 0, gpu, 7);
  return p;
}

/* Latency ~ work / (f * speedup(cores)), power ~ cores * f^3 + static: a plausible board. */
static dynrt_oplib *library(dynrt_platform *p, int seed) {
  dynrt_oplib *lib = NULL;
  if (dynrt_oplib_create("bench-net", NULL, "bench-board", &lib)) abort();
  for (int i = 0; i < NSUB; i++) {
    char cfg[32];
    snprintf(cfg, sizeof cfg, "net%d.%d", seed, i);
    dynrt_oplib_subnet sn = {.config = cfg,
                             .id = (uint64_t)(seed * 100 + i + 1),
                             .macs = (uint64_t)(100 + 60 * i) * 1000000,
                             .params = 1,
                             .val_top1 = 0.68 + 0.012 * i,
                             .val_images = 10000,
                             .test_top1 = -1,
                             .compute_ns = -1,
                             .memory_ns = -1};
    if (dynrt_oplib_add_subnet(lib, &sn, NULL)) abort();
  }
  static const double speed[3] = {1.0, 0.35, 4.0}, watts[3] = {1.2, 0.25, 3.0};
  for (int d = 0; d < p->info.ndomains; d++) {
    const dynrt_domain_info *di = &p->domains[d];
    for (int f = 0; f < di->nopps; f++) {
      double fr = (double)di->opps[f].khz / di->opps[di->nopps - 1].khz;
      dynrt_oplib_idle idle = {{0}, di->opps[f].khz, 0.05 + 0.1 * fr};
      snprintf(idle.domain, sizeof idle.domain, "%s", di->name);
      if (dynrt_oplib_add_idle(lib, &idle)) abort();
      int cmax = di->ncpus ? di->ncpus : 0;
      for (int c = di->ncpus ? 1 : 0; c <= cmax; c++) {
        dynrt_oplib_setting s = {{0}, di->opps[f].khz, c};
        snprintf(s.domain, sizeof s.domain, "%s", di->name);
        int si = 0;
        if (dynrt_oplib_add_setting(lib, &s, &si)) abort();
        double sp = c ? 1 / (0.1 + 0.9 / c) : 1;
        for (int i = 0; i < NSUB; i++) {
          double lat = (8 + 6 * i) / (speed[d] * fr * sp);
          double pw = watts[d] * (c ? c : 1) * (0.3 + 0.7 * fr * fr * fr);
          dynrt_oplib_point pt = {
              .subnet = i, .setting = si, .latency_mean_ms = lat, .energy_mj = pw * lat};
          if (dynrt_oplib_add_point(lib, &pt)) abort();
        }
      }
    }
  }
  if (dynrt_oplib_finalize(lib)) abort();
  return lib;
}

int main(int argc, char **argv) {
  int batches = argc > 1 ? atoi(argv[1]) : 21;
  if (batches < 1) batches = 21;
  dynrt_log_set_level(DYNRT_LOG_ERROR);
  dynrt_platform *p = board();
  dynrt_oplib *libs[NAPPS];
  dynrt_rtm *rtm = NULL;
  char err[256];
  if (dynrt_rtm_create(p, NULL, &rtm, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  dynrt_app *apps[NAPPS];
  static const uint64_t targets[NAPPS] = {30, 50, 80, 120};
  for (int a = 0; a < NAPPS; a++) {
    libs[a] = library(p, a);
    dynrt_app_spec spec = {.oplib = libs[a], .req = {targets[a] * MS, 0, 0.70, a, 0}};
    if (dynrt_rtm_add_app(rtm, &spec, &apps[a])) {
      fprintf(stderr, "%s\n", dynrt_rtm_errmsg(rtm));
      return 1;
    }
  }
  int nsettings = dynrt_oplib_num_settings(libs[0]);

  /* Level 1: decide alone, and decide + report (the estimator), per call. */
  enum { CALLS = 20000 };
  uint64_t *dec = calloc((size_t)batches, sizeof *dec), *dr = calloc((size_t)batches, sizeof *dr);
  uint64_t *plan = calloc((size_t)batches * 10, sizeof *plan);
  uint64_t *plan_inf = calloc((size_t)batches * 10, sizeof *plan_inf);
  dynrt_decision d;
  for (int b = 0; b < batches; b++) {
    uint64_t t0 = dynrt_now_ns();
    for (int i = 0; i < CALLS; i++) dynrt_app_decide(apps[i % NAPPS], &d);
    uint64_t t1 = dynrt_now_ns();
    for (int i = 0; i < CALLS; i++) {
      dynrt_app *app = apps[i % NAPPS];
      dynrt_app_decide(app, &d);
      dynrt_app_report(app, (uint64_t)(d.predicted_latency_ms * 1e6 * (1 + 0.02 * (i % 5))), 0);
    }
    uint64_t t2 = dynrt_now_ns();
    dec[b] = (t1 - t0) / CALLS;
    dr[b] = (t2 - t1) / CALLS;
  }
  /* Level 2: every step one period later plans (and actuates only on change). */
  uint64_t now = 1000 * MS;
  for (int i = 0; i < batches * 10; i++) {
    now += 100 * MS;
    uint64_t t0 = dynrt_now_ns();
    int planned = 0;
    dynrt_rtm_step(rtm, now, &planned);
    plan[i] = dynrt_now_ns() - t0;
    if (!planned) abort();
  }
  /* Infeasible: app 0 wants 3 ms at 90 %: the degradation stages re-run the search. */
  dynrt_requirements hard = {3 * MS, 0, 0.90, 0, 0};
  dynrt_app_set_requirements(apps[0], &hard);
  for (int i = 0; i < batches * 10; i++) {
    now += 100 * MS;
    uint64_t t0 = dynrt_now_ns();
    dynrt_rtm_step(rtm, now, NULL);
    plan_inf[i] = dynrt_now_ns() - t0;
  }
  dynrt_rtm_stats st;
  dynrt_rtm_get_stats(rtm, &st);
  printf("runtime manager: %d apps, 3 domains (19/13/7 OPPs, 4+4 cores + GPU), %d settings x "
         "%d sub-networks per app\n",
         NAPPS, nsettings, NSUB);
  printf("level 1 decide            median %6llu ns/call (%d batches of %d)\n",
         (unsigned long long)median(dec, batches), batches, CALLS);
  printf("level 1 decide + report   median %6llu ns/call\n",
         (unsigned long long)median(dr, batches));
  printf("level 2 plan (feasible)   median %6llu ns   (%d plans)\n",
         (unsigned long long)median(plan, batches * 10), batches * 10);
  printf("level 2 plan (infeasible) median %6llu ns   (degradation by priority)\n",
         (unsigned long long)median(plan_inf, batches * 10));
  printf("plans %llu, frequency writes %llu, assign writes %llu\n", (unsigned long long)st.plans,
         (unsigned long long)st.freq_writes, (unsigned long long)st.assign_writes);
  free(dec);
  free(dr);
  free(plan);
  free(plan_inf);
  dynrt_rtm_destroy(rtm);
  for (int a = 0; a < NAPPS; a++) dynrt_oplib_destroy(libs[a]);
  dynrt_platform_close(p);
  return 0;
}

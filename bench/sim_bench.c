/*
 * sim_bench.c - simulator throughput: simulated inferences per second of wall time with a
 * governor active. Two apps run back-to-back jobs on the two cores of one Xavier NX
 * cluster under schedutil (latency noise on, a background load on one core for part of
 * the run), so every completion goes through PELT, the governor hook and energy
 * attribution. Prints the median rate of several repetitions.
 *
 * Usage: sim_bench [board (default xavier-nx)] [jobs per repetition (default 2000000)]
 */
#include <stdio.h>
#include <stdlib.h>

#include "dynrt/common.h"
#include "dynrt/platform.h"
#include "dynrt/sim.h"

#define REPS 5

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Returns simulated inferences per wall second; *virt_s gets the virtual time covered. */
static double run_once(const char *board, long njobs, double *virt_s, double *energy_j,
                       double *mean_ms) {
  dynrt_platform *p;
  char err[512];
  if (dynrt_sim_open(board, &p, err, sizeof err) != DYNRT_OK) {
    fprintf(stderr, "sim_bench: %s\n", err);
    exit(1);
  }
  const int dom = 0;
  if (dynrt_platform_set_governor(p, dom, "schedutil") != DYNRT_OK) {
    fprintf(stderr, "sim_bench: %s\n", dynrt_platform_errmsg(p));
    exit(1);
  }
  int cpu0 = dynrt_platform_domain(p, dom)->cpus[0];
  int cpu1 =
      dynrt_platform_domain(p, dom)->ncpus > 1 ? dynrt_platform_domain(p, dom)->cpus[1] : cpu0;
  uint64_t mask[2] = {1ull << cpu0, 1ull << cpu1};
  uint32_t bg;
  dynrt_sim_add_background(p, 200000000ull, 600000000ull, mask[1], 0.3, 10000000ull, &bg);
  const double compute_ns = 400e3, memory_ns = 100e3; /* a 0.5 ms inference at the top OPP */
  dynrt_sim_job job;
  for (int a = 0; a < 2; a++) dynrt_sim_job_start(p, a, -1, mask[a], compute_ns, memory_ns, &job);
  uint64_t t0 = dynrt_now_ns();
  double sum_lat = 0;
  long done = 0;
  dynrt_sim_completion c;
  while (done < njobs) {
    if (dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &c) != 1) break;
    done++;
    sum_lat += (double)(c.end_ns - c.start_ns);
    dynrt_sim_job_start(p, c.app, -1, mask[c.app], compute_ns, memory_ns, &job);
  }
  uint64_t t1 = dynrt_now_ns();
  *virt_s = dynrt_platform_now(p) * 1e-9;
  double e;
  dynrt_sim_power(p, NULL, &e);
  *energy_j = e * 1e-6;
  *mean_ms = sum_lat / (double)done * 1e-6;
  dynrt_platform_close(p);
  return (double)done / ((double)(t1 - t0) * 1e-9);
}

int main(int argc, char **argv) {
  const char *board = argc > 1 ? argv[1] : "xavier-nx";
  long njobs = argc > 2 ? atol(argv[2]) : 2000000;
  if (njobs < 1) njobs = 1;
  double rates[REPS], virt = 0, energy = 0, mean = 0;
  for (int r = 0; r < REPS; r++) rates[r] = run_once(board, njobs, &virt, &energy, &mean);
  qsort(rates, REPS, sizeof rates[0], cmp_double);
  printf("sim_bench: board %s, 2 apps back-to-back on 2 cores, schedutil, %ld jobs per run\n",
         board, njobs);
  printf("  virtual time %.1f s, energy %.1f J (modelled), mean latency %.3f ms\n", virt, energy,
         mean);
  printf("  simulated inferences per second: median %.0f (min %.0f, max %.0f, %d runs)\n",
         rates[REPS / 2], rates[0], rates[REPS - 1], REPS);
  return 0;
}

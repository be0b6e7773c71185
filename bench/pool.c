/* bench/pool.c - fork/join latency of dynrt_pool_parallel_2d: one tiny tile per thread,
 * medians over batches, for 1 and 2 threads, spinning and sleeping waits, unpinned and
 * pinned. Prints a table; records nothing. Usage: bench_pool [batches] [jobs per batch] */
#include <stdio.h>
#include <stdlib.h>

#include "dynrt/pool.h"

#define MAX_BATCHES 101

static void tiny_fn(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1) {
  volatile size_t *sink = ctx;
  sink[thread * 16] += i1 - i0 + j1 - j0; /* one line per thread: no false sharing */
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median over batches of the mean microseconds per job. */
static double median_us(dynrt_pool *pool, int n, int batches, int jobs) {
  static size_t sink[16 * 2];
  double per[MAX_BATCHES];
  for (int k = 0; k < jobs; k++) /* warm-up: threads awake, caches and pinning settled */
    dynrt_pool_parallel_2d(pool, (size_t)n, 1, 1, 1, tiny_fn, sink);
  for (int b = 0; b < batches; b++) {
    uint64_t t0 = dynrt_now_ns();
    for (int k = 0; k < jobs; k++) dynrt_pool_parallel_2d(pool, (size_t)n, 1, 1, 1, tiny_fn, sink);
    per[b] = (double)(dynrt_now_ns() - t0) / 1e3 / jobs;
  }
  qsort(per, (size_t)batches, sizeof *per, cmp_double);
  return per[batches / 2];
}

int main(int argc, char **argv) {
  int batches = argc > 1 ? atoi(argv[1]) : 21;
  int jobs = argc > 2 ? atoi(argv[2]) : 2000;
  if (batches < 1 || batches > MAX_BATCHES || jobs < 1) {
    fprintf(stderr, "usage: %s [batches 1..%d] [jobs per batch]\n", argv[0], MAX_BATCHES);
    return 2;
  }
  dynrt_pool *pool;
  if (dynrt_pool_create(2, &pool) != DYNRT_OK) return 1;
  static const int cpus[] = {0, 1};
  printf("%-8s %-8s %-10s %s\n", "threads", "pinned", "spin_us", "median us per fork/join");
  for (int pinned = 0; pinned <= 1; pinned++)
    for (int spin = 0; spin <= 1; spin++)
      for (int n = 1; n <= 2; n++) {
        unsigned spin_us = spin ? 30 : 0;
        dynrt_pool_set_spin_us(pool, spin_us);
        if (dynrt_pool_set_cpus(pool, pinned ? cpus : NULL, n) != DYNRT_OK) {
          printf("%-8d %-8s %-10u (pinning refused: %s)\n", n, "yes", spin_us,
                 dynrt_pool_errmsg(pool));
          continue;
        }
        printf("%-8d %-8s %-10u %.3f\n", n, pinned ? "yes" : "no", spin_us,
               median_us(pool, n, batches, jobs));
      }
  dynrt_pool_destroy(pool);
  return 0;
}

/* test_pool.c - thread pool: tile coverage and the deterministic split, many short jobs,
 * core-set changes under load (pinning checked from inside jobs), reported pinning failures,
 * nesting, bad input, thread leaks and allocation failures. Never asserts on timing. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/core.h"
#include "core/pool_hooks.h"
#include "dynrt/pool.h"

#define MAX_THREADS 4

/* ---- helpers ---- */

static cpu_set_t own_mask(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof set, &set), 0);
  return set;
}

/* The cores this process may use, in increasing order; returns how many. */
static int allowed_cpus(int *cpus, int max) {
  cpu_set_t set = own_mask();
  int n = 0;
  for (int c = 0; c < CPU_SETSIZE && n < max; c++)
    if (CPU_ISSET(c, &set)) cpus[n++] = c;
  assert_true(n >= 1);
  return n;
}

static int count_tasks(void) {
  DIR *d = opendir("/proc/self/task");
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* A joined thread can stay listed for an instant after pthread_join returns (the kernel
 * reaps it after it wakes the joiner; under qemu-user the emulator wakes the joiner before
 * its host thread exits, for a millisecond or more), so wait for the count instead of
 * reading it once. */
static int wait_tasks(int want) {
  int n = count_tasks();
  for (int i = 0; i < 2000 && n != want; i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    n = count_tasks();
  }
  return n;
}

/* The baseline for the leak checks: the count once the threads of the pools destroyed just
 * before are gone, i.e. once it has held still for 100 ms (a sanitizer's helper thread, or
 * the emulator's, stays and is part of the baseline). */
static int settled_tasks(void) {
  int n = count_tasks();
  for (int i = 0, still = 0; i < 2000 && still < 100; i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    int m = count_tasks();
    still = m == n ? still + 1 : 0;
    n = m;
  }
  return n;
}

/* ---- a job that records every tile ---- */

#define GRID_MAX 40
typedef struct coverage {
  size_t ni, nj, tile_i, tile_j, tiles_j;
  int n;                          /* active threads */
  int hits[GRID_MAX * GRID_MAX];  /* per element */
  int owner[GRID_MAX * GRID_MAX]; /* per tile: thread that ran it, -1 = none */
  _Atomic int calls;
} coverage;

static void coverage_fn(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1) {
  coverage *c = ctx;
  atomic_fetch_add_explicit(&c->calls, 1, memory_order_relaxed);
  /* Each tile is owned by one thread, so its elements and slot are written by one thread;
   * a tile run twice at once would be a data race ThreadSanitizer reports. */
  if (thread < 0 || thread >= c->n || i0 % c->tile_i || j0 % c->tile_j || i1 <= i0 || j1 <= j0 ||
      i1 - i0 != DYNRT_MIN(c->tile_i, c->ni - i0) || j1 - j0 != DYNRT_MIN(c->tile_j, c->nj - j0)) {
    atomic_fetch_add(&c->calls, 1000000); /* fails the call count without a race */
    return;
  }
  c->owner[(i0 / c->tile_i) * c->tiles_j + j0 / c->tile_j] = thread;
  for (size_t i = i0; i < i1; i++)
    for (size_t j = j0; j < j1; j++) c->hits[i * c->nj + j]++;
}

/* Expected thread of tile k of T among m = min(n, T) threads: the first r = T % m threads
 * hold q + 1 = T / m + 1 tiles each, the others q. */
static int expected_owner(size_t k, size_t tiles, int n) {
  size_t m = DYNRT_MIN((size_t)n, tiles), q = tiles / m, r = tiles % m;
  if (k < r * (q + 1)) return (int)(k / (q + 1));
  return (int)(r + (k - r * (q + 1)) / q);
}

/* Runs one job over ni x nj and checks coverage and the split; returns the tile count. */
static size_t run_checked(dynrt_pool *pool, coverage *c, size_t ni, size_t nj, size_t ti,
                          size_t tj) {
  memset(c, 0, sizeof *c);
  c->ni = ni;
  c->nj = nj;
  c->tile_i = ti;
  c->tile_j = tj;
  c->tiles_j = (nj + tj - 1) / tj;
  c->n = dynrt_pool_threads(pool);
  size_t tiles = ((ni + ti - 1) / ti) * c->tiles_j;
  for (size_t k = 0; k < tiles; k++) c->owner[k] = -1;
  dynrt_pool_parallel_2d(pool, ni, nj, ti, tj, coverage_fn, c);
  assert_int_equal(atomic_load(&c->calls), (int)tiles);
  for (size_t e = 0; e < ni * nj; e++) assert_int_equal(c->hits[e], 1);
  for (size_t k = 0; k < tiles; k++) assert_int_equal(c->owner[k], expected_owner(k, tiles, c->n));
  return tiles;
}

/* ---- tests ---- */

static void test_bad_input(void **state) {
  (void)state;
  dynrt_pool *pool = (dynrt_pool *)1;
  assert_int_equal(dynrt_pool_create(0, &pool), DYNRT_ERR_INVALID_ARG);
  assert_null(pool);
  assert_int_equal(dynrt_pool_create(DYNRT_POOL_MAX_THREADS + 1, &pool), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_pool_create(-3, &pool), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_pool_create(2, NULL), DYNRT_ERR_INVALID_ARG);
  dynrt_pool_destroy(NULL);
  assert_int_equal(dynrt_pool_set_cpus(NULL, NULL, 1), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_pool_set_spin_us(NULL, 1), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_pool_threads(NULL), 0);
  assert_int_equal(dynrt_pool_max_threads(NULL), 0);
  assert_non_null(dynrt_pool_errmsg(NULL));
  coverage c;
  memset(&c, 0, sizeof c);
  dynrt_pool_parallel_2d(NULL, 4, 4, 1, 1, coverage_fn, &c);
  assert_int_equal(atomic_load(&c.calls), 0);

  assert_int_equal(dynrt_pool_create(3, &pool), DYNRT_OK);
  assert_int_equal(dynrt_pool_threads(pool), 3);
  assert_int_equal(dynrt_pool_max_threads(pool), 3);
  assert_string_equal(dynrt_pool_errmsg(pool), "ok");
  assert_int_equal(dynrt_pool_set_cpus(pool, NULL, 0), DYNRT_ERR_INVALID_ARG);
  assert_non_null(strstr(dynrt_pool_errmsg(pool), "0 threads"));
  assert_int_equal(dynrt_pool_set_cpus(pool, NULL, 4), DYNRT_ERR_INVALID_ARG);
  assert_non_null(strstr(dynrt_pool_errmsg(pool), "1..3"));
  assert_int_equal(dynrt_pool_threads(pool), 3); /* unchanged */
  assert_int_equal(dynrt_pool_set_spin_us(pool, 2000000), DYNRT_ERR_INVALID_ARG);

  dynrt_pool_parallel_2d(pool, 4, 4, 1, 1, NULL, &c);
  assert_non_null(strstr(dynrt_pool_errmsg(pool), "NULL"));
  dynrt_pool_parallel_2d(pool, 4, 4, 0, 1, coverage_fn, &c);
  assert_non_null(strstr(dynrt_pool_errmsg(pool), "tile 0 x 1"));
  dynrt_pool_parallel_2d(pool, 4, 4, 2, 0, coverage_fn, &c);
  dynrt_pool_parallel_2d(pool, 0, 4, 1, 1, coverage_fn, &c);
  dynrt_pool_parallel_2d(pool, 4, 0, 1, 1, coverage_fn, &c);
  dynrt_pool_parallel_2d(pool, SIZE_MAX, SIZE_MAX, 1, 1, coverage_fn, &c);
  assert_non_null(strstr(dynrt_pool_errmsg(pool), "overflows"));
  assert_int_equal(atomic_load(&c.calls), 0);
  dynrt_pool_destroy(pool);
}

/* Every tile exactly once, the exact static split, for many shapes and thread counts, run
 * twice so a split that depended on timing would show. */
static void test_coverage_and_split(void **state) {
  (void)state;
  static coverage c;
  static const size_t dims[] = {1, 2, 3, 7, 16, 33, 40};
  static const size_t tiles[] = {1, 2, 3, 5, 8, 64};
  const size_t nd = sizeof dims / sizeof *dims, nt = sizeof tiles / sizeof *tiles;
  for (int max = 1; max <= MAX_THREADS; max++) {
    dynrt_pool *pool;
    assert_int_equal(dynrt_pool_create(max, &pool), DYNRT_OK);
    for (int n = 1; n <= max; n++) {
      assert_int_equal(dynrt_pool_set_cpus(pool, NULL, n), DYNRT_OK);
      assert_int_equal(dynrt_pool_threads(pool), n);
      for (size_t a = 0; a < nd; a++)
        for (size_t b = 0; b < nd; b += 2)
          for (size_t x = 0; x < nt; x++)
            for (size_t y = 0; y < nt; y += 2) {
              run_checked(pool, &c, dims[a], dims[b], tiles[x], tiles[y]);
              run_checked(pool, &c, dims[a], dims[b], tiles[x], tiles[y]);
            }
    }
    dynrt_pool_destroy(pool);
  }
}

/* With at least n tiles every thread index 0..n-1 takes part, and none beyond. */
typedef struct seen_threads {
  _Atomic int mask;
} seen_threads;

static void seen_fn(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1) {
  seen_threads *s = ctx;
  atomic_fetch_or(&s->mask, 1 << thread);
}

static void test_thread_count_visible(void **state) {
  (void)state;
  dynrt_pool *pool;
  assert_int_equal(dynrt_pool_create(MAX_THREADS, &pool), DYNRT_OK);
  for (int round = 0; round < 3; round++)
    for (int n = 1; n <= MAX_THREADS; n++) {
      assert_int_equal(dynrt_pool_set_cpus(pool, NULL, n), DYNRT_OK);
      seen_threads s = {0};
      dynrt_pool_parallel_2d(pool, 7, 13, 2, 3, seen_fn, &s);
      assert_int_equal(atomic_load(&s.mask), (1 << n) - 1);
      atomic_store(&s.mask, 0);
      dynrt_pool_parallel_2d(pool, 1, 2, 1, 1, seen_fn, &s); /* 2 tiles: 2 threads at most */
      assert_int_equal(atomic_load(&s.mask), n >= 2 ? 3 : 1);
    }
  dynrt_pool_destroy(pool);
}

/* Thousands of short jobs, with spinning and with sleeping waits; no allocation. */
typedef struct sum_job {
  long part[MAX_THREADS];
} sum_job;

static void sum_fn(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1) {
  sum_job *s = ctx;
  for (size_t i = i0; i < i1; i++)
    for (size_t j = j0; j < j1; j++) s->part[thread] += (long)(i * 100 + j);
}

static void test_many_short_jobs(void **state) {
  (void)state;
  dynrt_pool *pool;
  assert_int_equal(dynrt_pool_create(MAX_THREADS, &pool), DYNRT_OK);
  uint64_t allocs = dynrt__alloc_count();
  for (int k = 0; k < 6000; k++) {
    if (k % 1500 == 0) {
      assert_int_equal(dynrt_pool_set_spin_us(pool, (k / 1500) % 2 ? 0 : 50), DYNRT_OK);
      assert_int_equal(dynrt_pool_set_cpus(pool, NULL, 1 + (k / 1500) % MAX_THREADS), DYNRT_OK);
    }
    size_t ni = 1 + (size_t)k % 5, nj = 1 + (size_t)k % 7;
    sum_job s;
    memset(&s, 0, sizeof s);
    dynrt_pool_parallel_2d(pool, ni, nj, 1, 2, sum_fn, &s);
    long got = 0, want = 0;
    for (int t = 0; t < MAX_THREADS; t++) got += s.part[t];
    for (size_t i = 0; i < ni; i++)
      for (size_t j = 0; j < nj; j++) want += (long)(i * 100 + j);
    assert_int_equal(got, want);
  }
  assert_int_equal(dynrt__alloc_count(), allocs); /* nothing allocated on the job path */
  dynrt_pool_destroy(pool);
}

/* Records, from inside a job, the affinity of each thread index. */
typedef struct mask_job {
  cpu_set_t mask[MAX_THREADS];
  int ran[MAX_THREADS];
} mask_job;

static void mask_fn(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1) {
  mask_job *m = ctx;
  if (m->ran[thread]++) return;
  pthread_getaffinity_np(pthread_self(), sizeof m->mask[thread], &m->mask[thread]);
}

/* Runs a job with one tile per active thread and checks thread t runs on want[t] (-1: on
 * the unpinned mask `all`). */
static void check_masks(dynrt_pool *pool, const int *want, const cpu_set_t *all) {
  int n = dynrt_pool_threads(pool);
  static mask_job m;
  memset(&m, 0, sizeof m);
  dynrt_pool_parallel_2d(pool, (size_t)n, 1, 1, 1, mask_fn, &m);
  for (int t = 0; t < n; t++) {
    assert_int_equal(m.ran[t], 1);
    cpu_set_t expect;
    if (want[t] >= 0) {
      CPU_ZERO(&expect);
      CPU_SET(want[t], &expect);
    } else {
      expect = *all;
    }
    assert_true(CPU_EQUAL(&m.mask[t], &expect));
  }
}

static void test_set_cpus_pinning(void **state) {
  (void)state;
  int ok[CPU_SETSIZE];
  int nok = allowed_cpus(ok, CPU_SETSIZE);
  cpu_set_t orig = own_mask();
  int a = ok[0], b = ok[nok - 1];
  dynrt_pool *pool;
  assert_int_equal(dynrt_pool_create(3, &pool), DYNRT_OK);

  int cpus2[] = {b, a};
  assert_int_equal(dynrt_pool_set_cpus(pool, cpus2, 2), DYNRT_OK);
  assert_int_equal(dynrt_pool_threads(pool), 2);
  check_masks(pool, cpus2, &orig);
  int cpus3[] = {a, b, a};
  assert_int_equal(dynrt_pool_set_cpus(pool, cpus3, 3), DYNRT_OK);
  check_masks(pool, cpus3, &orig);

  /* Unpinned: every thread, the caller included, back on the original mask. */
  int none[] = {-1, -1, -1};
  assert_int_equal(dynrt_pool_set_cpus(pool, NULL, 3), DYNRT_OK);
  cpu_set_t now = own_mask();
  assert_true(CPU_EQUAL(&now, &orig));
  check_masks(pool, none, &orig);

  /* n = 1 runs inline on the pinned caller. */
  int one[] = {b};
  assert_int_equal(dynrt_pool_set_cpus(pool, one, 1), DYNRT_OK);
  check_masks(pool, one, &orig);

  /* Out of range: INVALID_ARG naming the core; the count changes, the thread is unpinned. */
  int beyond[] = {a, CPU_SETSIZE};
  assert_int_equal(dynrt_pool_set_cpus(pool, beyond, 2), DYNRT_ERR_INVALID_ARG);
  assert_non_null(strstr(dynrt_pool_errmsg(pool), "cpus[1]"));
  char num[32];
  snprintf(num, sizeof num, "%d", CPU_SETSIZE);
  assert_non_null(strstr(dynrt_pool_errmsg(pool), num));
  assert_int_equal(dynrt_pool_threads(pool), 2);
  int want_beyond[] = {a, -1};
  check_masks(pool, want_beyond, &orig);
  int negative[] = {-5, a, -7};
  assert_int_equal(dynrt_pool_set_cpus(pool, negative, 3), DYNRT_ERR_INVALID_ARG);
  assert_non_null(strstr(dynrt_pool_errmsg(pool), "cpus[0] = -5"));
  assert_non_null(strstr(dynrt_pool_errmsg(pool), "2 cores in all"));
  now = own_mask();
  assert_true(CPU_EQUAL(&now, &orig)); /* an unusable cpus[0] leaves the caller unpinned */
  int want_negative[] = {-1, a, -1};
  check_masks(pool, want_negative, &orig);

  /* A core the process may not use: PERMISSION naming it and the allowed set. */
  int forbidden = -1;
  for (int c = CPU_SETSIZE - 1; c >= 0 && forbidden < 0; c--)
    if (!CPU_ISSET(c, &orig)) forbidden = c;
  if (forbidden >= 0) {
    int cpus[] = {a, forbidden};
    assert_int_equal(dynrt_pool_set_cpus(pool, cpus, 2), DYNRT_ERR_PERMISSION);
    snprintf(num, sizeof num, "= %d", forbidden);
    assert_non_null(strstr(dynrt_pool_errmsg(pool), num));
    int want[] = {a, -1};
    check_masks(pool, want, &orig);
    assert_int_equal(dynrt_pool_set_cpus(pool, cpus, 2), DYNRT_ERR_PERMISSION);
    assert_int_equal(dynrt_pool_set_cpus(pool, cpus2, 2), DYNRT_OK); /* recovers */
    assert_string_equal(dynrt_pool_errmsg(pool), "ok");
    check_masks(pool, cpus2, &orig);
  }

  /* Destroying the pool gives the caller its original mask back. */
  assert_int_equal(dynrt_pool_set_cpus(pool, one, 1), DYNRT_OK);
  dynrt_pool_destroy(pool);
  now = own_mask();
  assert_true(CPU_EQUAL(&now, &orig));
}

/* Core-set and thread-count changes between jobs while another thread loads the cores. */
static _Atomic int load_stop;
static void *load_main(void *arg) {
  (void)arg;
  unsigned x = 0;
  while (!atomic_load_explicit(&load_stop, memory_order_relaxed))
    for (int i = 0; i < 1000; i++) x = x * 31u + (unsigned)i;
  return (void *)(uintptr_t)x; /* used, so the loop is not optimised away */
}

static void test_set_cpus_under_load(void **state) {
  (void)state;
  int ok[CPU_SETSIZE];
  int nok = allowed_cpus(ok, CPU_SETSIZE);
  cpu_set_t orig = own_mask();
  static coverage c;
  pthread_t load;
  atomic_store(&load_stop, 0);
  assert_int_equal(pthread_create(&load, NULL, load_main, NULL), 0);
  dynrt_pool *pool;
  assert_int_equal(dynrt_pool_create(MAX_THREADS, &pool), DYNRT_OK);
  for (int k = 0; k < 300; k++) {
    int n = 1 + k % 2 + (k % 5 == 0); /* 1, 2, and now and then 3 */
    int cpus[MAX_THREADS];
    for (int t = 0; t < n; t++) cpus[t] = ok[(k + t) % nok];
    bool unpinned = k % 11 == 10;
    dynrt_status want = DYNRT_OK;
    if (k % 7 == 3 && !unpinned) {
      cpus[n - 1] = CPU_SETSIZE - 1 + (k % 2); /* 1023: not allowed here; 1024: out of range */
      want = CPU_ISSET(CPU_SETSIZE - 1, &orig) && k % 2 == 0 ? DYNRT_OK
             : k % 2                                         ? DYNRT_ERR_INVALID_ARG
                                                             : DYNRT_ERR_PERMISSION;
    }
    dynrt_pool_set_spin_us(pool, k % 3 == 0 ? 0 : 20);
    assert_int_equal(dynrt_pool_set_cpus(pool, unpinned ? NULL : cpus, n), want);
    assert_int_equal(dynrt_pool_threads(pool), n);
    run_checked(pool, &c, 9 + (size_t)k % 4, 5, 2, 1 + (size_t)k % 3);
  }
  dynrt_pool_destroy(pool);
  atomic_store(&load_stop, 1);
  pthread_join(load, NULL);
  cpu_set_t now = own_mask();
  assert_true(CPU_EQUAL(&now, &orig));
}

/* A worker whose own pinning fails (as when a cpuset shrinks) is reported, runs unpinned
 * and the job is still complete. The hook fails single-core masks on non-caller threads. */
static pthread_t hook_owner;
static _Atomic int hook_fail_owner;
static _Atomic int hook_calls;

static int failing_affinity(pthread_t thread, size_t size, const cpu_set_t *set) {
  atomic_fetch_add(&hook_calls, 1);
  bool owner = pthread_equal(pthread_self(), hook_owner);
  if (CPU_COUNT_S(size, set) == 1 && (owner ? atomic_load(&hook_fail_owner) : 1)) return EINVAL;
  return pthread_setaffinity_np(thread, size, set);
}

static void test_pin_failure_reported(void **state) {
  (void)state;
  int ok[CPU_SETSIZE];
  int nok = allowed_cpus(ok, CPU_SETSIZE);
  cpu_set_t orig = own_mask();
  static coverage c;
  hook_owner = pthread_self();
  atomic_store(&hook_fail_owner, 0);
  dynrt_pool *pool;
  assert_int_equal(dynrt_pool_create(3, &pool), DYNRT_OK);
  dynrt__pool_set_affinity_fn(pool, failing_affinity);

  int cpus[] = {ok[0], ok[nok - 1], ok[0]};
  assert_int_equal(dynrt_pool_set_cpus(pool, cpus, 3), DYNRT_OK); /* found out at the job */
  assert_string_equal(dynrt_pool_errmsg(pool), "ok");
  int want[] = {ok[0], -1, -1};
  check_masks(pool, want, &orig); /* the failed workers fell back to the unpinned mask */
  char text[64];
  snprintf(text, sizeof text, "could not pin itself to cpu %d", ok[nok - 1]);
  assert_non_null(strstr(dynrt_pool_errmsg(pool), text));
  assert_non_null(strstr(dynrt_pool_errmsg(pool), "thread 1"));
  assert_non_null(strstr(dynrt_pool_errmsg(pool), "2 threads in all"));
  run_checked(pool, &c, 11, 3, 1, 1);

  /* The next set_cpus returns it, once. (Real pinning again: with a single allowed core
   * the hook would also fail the unpinned mask.) */
  dynrt__pool_set_affinity_fn(pool, NULL);
  assert_int_equal(dynrt_pool_set_cpus(pool, NULL, 2), DYNRT_ERR_PERMISSION);
  assert_non_null(strstr(dynrt_pool_errmsg(pool), text));
  run_checked(pool, &c, 11, 3, 1, 1);
  assert_int_equal(dynrt_pool_set_cpus(pool, NULL, 2), DYNRT_OK);
  assert_string_equal(dynrt_pool_errmsg(pool), "ok");

  /* The caller's own pinning failure is known at once; it stays unpinned. */
  atomic_store(&hook_fail_owner, 1);
  dynrt__pool_set_affinity_fn(pool, failing_affinity);
  int one[] = {ok[0]};
  assert_int_equal(dynrt_pool_set_cpus(pool, one, 1), DYNRT_ERR_PERMISSION);
  assert_non_null(strstr(dynrt_pool_errmsg(pool), "calling thread"));
  cpu_set_t now = own_mask();
  assert_true(CPU_EQUAL(&now, &orig));
  run_checked(pool, &c, 4, 4, 3, 3);
  assert_true(atomic_load(&hook_calls) > 0);
  dynrt_pool_destroy(pool);
}

/* fn calling back into its own pool runs the inner range inline with its thread index;
 * set_cpus from inside a job is refused. */
typedef struct nest_job {
  dynrt_pool *pool;
  long inner[MAX_THREADS];
  int bad;
} nest_job;

static void inner_fn(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1) {
  nest_job *n = ctx;
  n->inner[thread] += (long)((i1 - i0) * (j1 - j0));
}

static void outer_fn(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1) {
  nest_job *n = ctx;
  if (dynrt_pool_set_cpus(n->pool, NULL, 1) != DYNRT_ERR_STATE) n->inner[thread] -= 1000000;
  dynrt_pool_parallel_2d(n->pool, 3, 5, 2, 2, inner_fn, n);
}

static void test_nested(void **state) {
  (void)state;
  dynrt_pool *pool;
  assert_int_equal(dynrt_pool_create(3, &pool), DYNRT_OK);
  nest_job n;
  memset(&n, 0, sizeof n);
  n.pool = pool;
  dynrt_pool_parallel_2d(pool, 6, 1, 1, 1, outer_fn, &n);
  for (int t = 0; t < 3; t++) assert_int_equal(n.inner[t], 2 * 15); /* 2 outer tiles each */
  assert_int_equal(dynrt_pool_threads(pool), 3);
  dynrt_pool_destroy(pool);
}

static void test_no_thread_leak(void **state) {
  (void)state;
  dynrt_pool *pool;
  /* Warm-up: a sanitizer runtime may start a helper thread at the first pthread_create. */
  assert_int_equal(dynrt_pool_create(2, &pool), DYNRT_OK);
  dynrt_pool_destroy(pool);
  int before = settled_tasks();
  for (int round = 0; round < 3; round++) {
    assert_int_equal(dynrt_pool_create(MAX_THREADS, &pool), DYNRT_OK);
    assert_int_equal(count_tasks(), before + MAX_THREADS - 1);
    assert_int_equal(dynrt_pool_set_cpus(pool, NULL, 2), DYNRT_OK); /* surplus ones sleep */
    sum_job s;
    memset(&s, 0, sizeof s);
    dynrt_pool_parallel_2d(pool, 8, 8, 1, 1, sum_fn, &s);
    assert_int_equal(count_tasks(), before + MAX_THREADS - 1); /* nothing created by jobs */
    dynrt_pool_destroy(pool);
    assert_int_equal(wait_tasks(before), before);
  }
  assert_int_equal(dynrt_pool_create(1, &pool), DYNRT_OK); /* caller only: no thread */
  assert_int_equal(count_tasks(), before);
  dynrt_pool_destroy(pool);
}

/* Every allocation of create fails in turn (once, then from there on): a clean status, no
 * pool, no thread and (under AddressSanitizer) no leak. */
static void test_alloc_failure_sweep(void **state) {
  (void)state;
  int before = settled_tasks();
  for (int sticky = 0; sticky <= 1; sticky++) {
    int failures = 0;
    for (uint64_t n = 1;; n++) {
      assert_true(n < 100);
      dynrt_alloc_fail_after(n, sticky);
      dynrt_pool *pool = (dynrt_pool *)1;
      dynrt_status st = dynrt_pool_create(MAX_THREADS, &pool);
      dynrt_alloc_fail_after(0, 0);
      if (st == DYNRT_OK) {
        assert_non_null(pool);
        static coverage c;
        run_checked(pool, &c, 5, 5, 2, 2);
        dynrt_pool_destroy(pool);
        break;
      }
      failures++;
      assert_int_equal(st, DYNRT_ERR_NOMEM);
      assert_null(pool);
      assert_int_equal(wait_tasks(before), before);
    }
    assert_true(failures >= 1);
  }
  assert_int_equal(wait_tasks(before), before);
}

/* Thread-count and core-set changes between thousands of short jobs, also with spin 0 so
 * every idle thread sleeps: a lost wake-up would hang a job, so a watchdog thread fails the
 * test with a message if one job takes more than 10 s instead of letting it hang. */
static _Atomic int watchdog_stop;
static _Atomic uint64_t watchdog_jobs; /* jobs completed so far */
static _Atomic int watchdog_phase;
static pthread_mutex_t watchdog_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watchdog_cond = PTHREAD_COND_INITIALIZER;

static void *watchdog_main(void *arg) {
  (void)arg;
  uint64_t last = UINT64_MAX;
  pthread_mutex_lock(&watchdog_mutex);
  while (!atomic_load(&watchdog_stop)) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    int rc = 0;
    while (!atomic_load(&watchdog_stop) && rc != ETIMEDOUT)
      rc = pthread_cond_timedwait(&watchdog_cond, &watchdog_mutex, &until);
    if (atomic_load(&watchdog_stop)) break;
    uint64_t now = atomic_load(&watchdog_jobs);
    if (now == last) {
      fprintf(stderr,
              "test_pool: watchdog: no job completed in 10 s (phase %d, %llu jobs done): "
              "a lost wake-up or deadlock in the pool\n",
              atomic_load(&watchdog_phase), (unsigned long long)now);
      fflush(stderr);
      abort();
    }
    last = now;
  }
  pthread_mutex_unlock(&watchdog_mutex);
  return NULL;
}

static void stress_fn(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1) {
  (void)thread;
  _Atomic long *sum = ctx;
  long s = 0;
  for (size_t i = i0; i < i1; i++)
    for (size_t j = j0; j < j1; j++) s += (long)(i * 16 + j);
  atomic_fetch_add_explicit(sum, s, memory_order_relaxed);
}

static void stress_job(dynrt_pool *pool, size_t ni, size_t nj) {
  _Atomic long sum = 0;
  dynrt_pool_parallel_2d(pool, ni, nj, 1, 1, stress_fn, &sum);
  long want = 0;
  for (size_t i = 0; i < ni; i++)
    for (size_t j = 0; j < nj; j++) want += (long)(i * 16 + j);
  assert_int_equal(atomic_load(&sum), want);
  atomic_fetch_add(&watchdog_jobs, 1);
}

static void test_set_threads_stress(void **state) {
  (void)state;
  int ok[CPU_SETSIZE];
  int nok = allowed_cpus(ok, CPU_SETSIZE);
  pthread_t dog;
  atomic_store(&watchdog_stop, 0);
  atomic_store(&watchdog_jobs, 0);
  assert_int_equal(pthread_create(&dog, NULL, watchdog_main, NULL), 0);
  for (int max = 2; max <= 3; max++) {
    dynrt_pool *pool;
    assert_int_equal(dynrt_pool_create(max, &pool), DYNRT_OK);
    for (int phase = 0; phase < 4; phase++) {
      atomic_store(&watchdog_phase, max * 10 + phase);
      /* phases: spin 0 / spin 30 us, unpinned / pinned lists */
      assert_int_equal(dynrt_pool_set_spin_us(pool, phase % 2 ? 30 : 0), DYNRT_OK);
      for (int k = 0; k < 3000; k++) {
        int n = 1 + (k + (k / 7)) % max;
        if (phase < 2) {
          assert_int_equal(dynrt_pool_set_cpus(pool, NULL, n), DYNRT_OK);
        } else {
          int cpus[MAX_THREADS];
          for (int t = 0; t < n; t++) cpus[t] = ok[(k + t) % nok];
          assert_int_equal(dynrt_pool_set_cpus(pool, cpus, n), DYNRT_OK);
        }
        int jobs = 1 + k % 3;
        for (int j = 0; j < jobs; j++) stress_job(pool, 1 + (size_t)(k + j) % 4, 1 + (size_t)k % 3);
      }
    }
    dynrt_pool_destroy(pool);
  }
  pthread_mutex_lock(&watchdog_mutex);
  atomic_store(&watchdog_stop, 1);
  pthread_cond_signal(&watchdog_cond);
  pthread_mutex_unlock(&watchdog_mutex);
  pthread_join(dog, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_coverage_and_split),
      cmocka_unit_test(test_thread_count_visible),
      cmocka_unit_test(test_many_short_jobs),
      cmocka_unit_test(test_set_cpus_pinning),
      cmocka_unit_test(test_set_cpus_under_load),
      cmocka_unit_test(test_set_threads_stress),
      cmocka_unit_test(test_pin_failure_reported),
      cmocka_unit_test(test_nested),
      cmocka_unit_test(test_no_thread_leak),
      cmocka_unit_test(test_alloc_failure_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

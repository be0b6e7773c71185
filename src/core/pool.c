/* pool.c - thread pool with run-time core sets: workers created once, re-pinned by
 * themselves after dynrt_pool_set_cpus, fork/join of statically split 2-D tile jobs. The
 * dispatch path must not allocate, take a lock or make a system call unless a thread
 * sleeps. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "core/pool_hooks.h"
#include "dynrt/pool.h"

#define POOL_CACHE_LINE 64
#define POOL_DEFAULT_SPIN_NS 30000u /* ~ a small op's time; see pool.h "Waiting" */
#define POOL_MAX_SPIN_US 1000000u

/* One job, written by the owner before it publishes the job to the workers and read by
 * them only after they acquired it. */
typedef struct pool_job {
  dynrt_pool_fn fn;
  void *ctx;
  size_t ni, nj, tile_i, tile_j;
  size_t tiles_j; /* tiles per row of the tile grid */
  size_t tiles;   /* tiles in all */
  int threads;    /* threads taking part: min(active threads, tiles) */
} pool_job;

typedef struct pool_worker {
  /* Generation of the last job (or stop request) posted to this worker, and whether it
   * sleeps. A line of its own: the owner writes it while other workers spin on theirs. */
  _Alignas(POOL_CACHE_LINE) _Atomic uint64_t go;
  _Atomic int sleeping;
  pthread_mutex_t mutex;
  pthread_cond_t cond;

  /* Written by the owner between jobs, read by the worker after it acquired `go`. */
  int cpu; /* core for this thread, -1 = unpinned */

  /* Written by the worker during a job, read by the owner once the job is complete. */
  int pin_errno; /* 0 or the error of the last failed pinning */
  int pin_cpu;   /* the core it failed on, -1 = while unpinning */

  /* The worker's own. */
  uint64_t seen_go;
  uint64_t seen_config;
  int applied_cpu; /* -1 = unpinned mask applied, -2 = unknown (inherited or failed) */

  int index; /* thread index, 1..max_threads-1 */
  dynrt_pool *pool;
  pthread_t thread;
  bool sync_ready; /* mutex and cond initialised */
  bool started;
} pool_worker;

struct dynrt_pool {
  /* Threads (other than the owner) still running the current job. Its own line: every
   * worker writes it once per job. */
  _Alignas(POOL_CACHE_LINE) _Atomic uint64_t pending;
  _Atomic int owner_sleeping;
  pthread_mutex_t done_mutex;
  pthread_cond_t done_cond;

  _Alignas(POOL_CACHE_LINE) pool_job job;
  /* Written by the owner between jobs, read by workers after they acquired a job. */
  uint64_t config_gen;
  cpu_set_t unpinned; /* what "unpinned" means: the owner's original mask */
  dynrt__pool_affinity_fn set_affinity;
  bool stop;

  _Atomic uint64_t spin_ns; /* read by spinning workers while the owner may set it */
  _Atomic int pin_failures; /* workers whose pinning failed since the owner last looked */
  _Atomic int busy;         /* a multi-threaded job is running (catches misuse) */

  /* The owner's. */
  uint64_t job_gen;
  int max_threads;
  int threads;
  bool sync_ready;
  bool owner_saved; /* owner_mask holds the owner's mask from before it was pinned */
  pthread_t owner_thread;
  cpu_set_t owner_mask;
  dynrt_err pin_report; /* worker pinning failures not yet returned by set_cpus */
  dynrt_err err;
  pool_worker *workers; /* [max_threads - 1]; thread i is workers[i - 1] */
};

/* Which pool and thread index the current thread is running a job for, so that a call
 * from inside fn (nesting) runs inline instead of waiting for itself forever. */
static _Thread_local const dynrt_pool *tls_pool;
static _Thread_local int tls_thread;

static int default_set_affinity(pthread_t thread, size_t size, const cpu_set_t *set) {
  return pthread_setaffinity_np(thread, size, set);
}

void dynrt__pool_set_affinity_fn(dynrt_pool *pool, dynrt__pool_affinity_fn fn) {
  if (pool) pool->set_affinity = fn ? fn : default_set_affinity;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__ __volatile__("pause");
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

/* Spins until (*word == value) == equal, for at most spin_ns; returns whether it became
 * so. The clock is read every 32 rounds only: a pause is ~10-140 cycles, a clock read more. */
static bool spin_until(const _Atomic uint64_t *word, uint64_t value, bool equal, uint64_t spin_ns) {
  if ((atomic_load_explicit(word, memory_order_acquire) == value) == equal) return true;
  if (spin_ns == 0) return false;
  uint64_t deadline = dynrt_now_ns() + spin_ns;
  for (unsigned i = 1;; i++) {
    cpu_relax();
    if ((atomic_load_explicit(word, memory_order_acquire) == value) == equal) return true;
    if ((i & 31) == 0 && dynrt_now_ns() >= deadline) return false;
  }
}

/* ---- partition ---- */

/* Thread t's contiguous share [*begin, *end) of the row-major tile sequence. */
static void share_of(const pool_job *job, int thread, size_t *begin, size_t *end) {
  size_t m = (size_t)job->threads, t = (size_t)thread;
  size_t q = job->tiles / m, r = job->tiles % m;
  *begin = t * q + (t < r ? t : r);
  *end = *begin + q + (t < r ? 1 : 0);
}

/* Runs share `share` of the job, telling fn it runs as `thread` (they differ only when a
 * nested call runs the whole range inline on a worker). */
static void run_share(const pool_job *job, int share, int thread) {
  size_t begin, end;
  share_of(job, share, &begin, &end);
  if (begin == end) return;
  size_t ti = begin / job->tiles_j, tj = begin % job->tiles_j;
  for (size_t k = begin; k < end; k++) {
    size_t i0 = ti * job->tile_i, j0 = tj * job->tile_j;
    size_t i1 = i0 + DYNRT_MIN(job->tile_i, job->ni - i0);
    size_t j1 = j0 + DYNRT_MIN(job->tile_j, job->nj - j0);
    job->fn(job->ctx, thread, i0, i1, j0, j1);
    if (++tj == job->tiles_j) {
      tj = 0;
      ti++;
    }
  }
}

/* ---- workers ---- */

/* Posts generation gen to worker w. The write of `go` and the load of `sleeping` are
 * seq_cst, as are the worker's write of `sleeping` and its load of `go`: of the two, at
 * least one sees the other, so a worker never sleeps through a job (no lost wake-up). The
 * writes are exchanges, not stores: C11 needs no more, but qemu-user (7.2, x86 host)
 * translates AArch64's STLR as a store with no barrier after it, so a following LDAR can
 * pass it, which the architecture forbids; the exchange is a locked instruction there. The
 * same holds for owner_sleeping against pending. */
static void post(pool_worker *w, uint64_t gen) {
  atomic_exchange(&w->go, gen);
  if (atomic_load(&w->sleeping)) {
    pthread_mutex_lock(&w->mutex);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
  }
}

static void worker_wait(pool_worker *w) {
  uint64_t seen = w->seen_go;
  uint64_t spin = atomic_load_explicit(&w->pool->spin_ns, memory_order_relaxed);
  if (!spin_until(&w->go, seen, false, spin)) {
    pthread_mutex_lock(&w->mutex);
    atomic_exchange(&w->sleeping, 1); /* see post() */
    while (atomic_load(&w->go) == seen) pthread_cond_wait(&w->cond, &w->mutex);
    atomic_store(&w->sleeping, 0);
    pthread_mutex_unlock(&w->mutex);
  }
  w->seen_go = atomic_load_explicit(&w->go, memory_order_acquire);
}

/* Re-pins the worker after a configuration change. Done by the worker itself because a
 * thread can always set its own affinity (on Android only its own). A failure is recorded
 * for the owner, never fatal; the worker then falls back to the unpinned mask rather than
 * stay on a core of the previous configuration that may now belong to someone else. */
static void worker_apply_config(pool_worker *w) {
  dynrt_pool *pool = w->pool;
  if (w->seen_config == pool->config_gen) return;
  w->seen_config = pool->config_gen;
  int cpu = w->cpu;
  if (cpu >= 0 && cpu == w->applied_cpu) return;
  cpu_set_t set;
  if (cpu >= 0) {
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
  } else {
    set = pool->unpinned;
  }
  int rc = pool->set_affinity(pthread_self(), sizeof set, &set);
  if (rc == 0) {
    w->applied_cpu = cpu;
    return;
  }
  w->pin_errno = rc;
  w->pin_cpu = cpu;
  atomic_fetch_add_explicit(&pool->pin_failures, 1, memory_order_relaxed);
  w->applied_cpu = -2;
  if (cpu >= 0 && pool->set_affinity(pthread_self(), sizeof pool->unpinned, &pool->unpinned) == 0)
    w->applied_cpu = -1;
}

static void *worker_main(void *arg) {
  pool_worker *w = arg;
  dynrt_pool *pool = w->pool;
  char name[16];
  snprintf(name, sizeof name, "dynrt-pool-%d", w->index);
  pthread_setname_np(pthread_self(), name); /* for top/perf/gdb; failure is harmless */
  tls_pool = pool;
  tls_thread = w->index;
  for (;;) {
    worker_wait(w);
    if (pool->stop) break;
    worker_apply_config(w);
    run_share(&pool->job, w->index, w->index);
    /* seq_cst: releases this share's writes to the owner and orders the load below
     * against the owner's store of owner_sleeping (see post()). */
    if (atomic_fetch_sub(&pool->pending, 1) == 1 && atomic_load(&pool->owner_sleeping)) {
      pthread_mutex_lock(&pool->done_mutex);
      pthread_cond_signal(&pool->done_cond);
      pthread_mutex_unlock(&pool->done_mutex);
    }
  }
  return NULL;
}

static void owner_wait(dynrt_pool *pool) {
  uint64_t spin = atomic_load_explicit(&pool->spin_ns, memory_order_relaxed);
  if (spin_until(&pool->pending, 0, true, spin)) return;
  pthread_mutex_lock(&pool->done_mutex);
  atomic_exchange(&pool->owner_sleeping, 1); /* see post() */
  while (atomic_load(&pool->pending) != 0) pthread_cond_wait(&pool->done_cond, &pool->done_mutex);
  atomic_store(&pool->owner_sleeping, 0);
  pthread_mutex_unlock(&pool->done_mutex);
}

/* ---- messages ---- */

static const char *errno_name(int e) {
  switch (e) {
  case EINVAL: return "EINVAL";
  case EPERM: return "EPERM";
  case ESRCH: return "ESRCH";
  case EFAULT: return "EFAULT";
  default: return "an error";
  }
}

/* "0-3,6" for a mask; truncated with "..." when buf is short. */
static void format_cpuset(const cpu_set_t *set, char *buf, size_t size) {
  size_t len = 0;
  buf[0] = '\0';
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (!CPU_ISSET(c, set)) continue;
    int last = c;
    while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set)) last++;
    int n = last > c ? snprintf(buf + len, size - len, "%s%d-%d", len ? "," : "", c, last)
                     : snprintf(buf + len, size - len, "%s%d", len ? "," : "", c);
    if (n < 0 || (size_t)n >= size - len) {
      if (size >= 4) memcpy(buf + size - 4, "...", 4);
      return;
    }
    len += (size_t)n;
    c = last;
  }
  if (!len) snprintf(buf, size, "none");
}

/* Turns the pinning failures workers recorded during the last job into a message, kept
 * both for dynrt_pool_errmsg now and for the status of the next set_cpus. */
static void collect_pin_failures(dynrt_pool *pool) {
  atomic_store_explicit(&pool->pin_failures, 0, memory_order_relaxed);
  int failed = 0;
  for (int i = 1; i < pool->max_threads; i++) {
    pool_worker *w = &pool->workers[i - 1];
    if (!w->pin_errno) continue;
    if (failed++) { /* the first failure names its core; the others are counted */
      w->pin_errno = 0;
      continue;
    }
    if (w->pin_cpu >= 0)
      dynrt__seterr(&pool->pin_report, DYNRT_ERR_PERMISSION,
                    "pool: thread %d could not pin itself to cpu %d (pthread_setaffinity_np: "
                    "%s); it runs unpinned",
                    i, w->pin_cpu, errno_name(w->pin_errno));
    else
      dynrt__seterr(&pool->pin_report, DYNRT_ERR_PERMISSION,
                    "pool: thread %d could not unpin itself (pthread_setaffinity_np: %s)", i,
                    errno_name(w->pin_errno));
    w->pin_errno = 0;
  }
  if (failed > 1) {
    size_t len = strlen(pool->pin_report.msg);
    snprintf(pool->pin_report.msg + len, sizeof pool->pin_report.msg - len,
             " (%d threads in all failed)", failed);
  }
  pool->err = pool->pin_report;
}

/* ---- create / destroy ---- */

static void owner_restore(dynrt_pool *pool) {
  if (pool->owner_saved && pthread_equal(pool->owner_thread, pthread_self())) {
    pool->set_affinity(pthread_self(), sizeof pool->owner_mask, &pool->owner_mask);
    pool->owner_saved = false;
  }
}

/* Stops and joins the started workers, frees everything. Also the failure path of create. */
static void pool_free(dynrt_pool *pool) {
  int n = pool->max_threads - 1;
  if (pool->workers) {
    pool->stop = true;
    pool->job_gen++;
    for (int i = 0; i < n; i++)
      if (pool->workers[i].started) post(&pool->workers[i], pool->job_gen);
    for (int i = 0; i < n; i++) {
      pool_worker *w = &pool->workers[i];
      if (w->started) pthread_join(w->thread, NULL);
      if (w->sync_ready) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->mutex);
      }
    }
    dynrt__free(pool->workers);
  }
  if (pool->sync_ready) {
    pthread_cond_destroy(&pool->done_cond);
    pthread_mutex_destroy(&pool->done_mutex);
  }
  dynrt__free(pool);
}

static bool sync_init(pthread_mutex_t *m, pthread_cond_t *c) {
  if (pthread_mutex_init(m, NULL) != 0) return false;
  if (pthread_cond_init(c, NULL) == 0) return true;
  pthread_mutex_destroy(m);
  return false;
}

/* Workers block every signal: a process-directed SIGINT/SIGTERM then reaches a thread of the
 * application, whose handler (the platform layer restores governors there) expects it. */
static dynrt_status start_workers(dynrt_pool *pool) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  dynrt_status st = DYNRT_OK;
  for (int i = 1; i < pool->max_threads && st == DYNRT_OK; i++) {
    pool_worker *w = &pool->workers[i - 1];
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc == 0)
      w->started = true;
    else
      st = dynrt__seterr(NULL, DYNRT_ERR_NOMEM, "pool: creating thread %d of %d failed (%s)", i,
                         pool->max_threads, errno_name(rc));
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return st;
}

dynrt_status dynrt_pool_create(int max_threads, dynrt_pool **out) {
  if (!out) return dynrt__seterr(NULL, DYNRT_ERR_INVALID_ARG, "pool: out is NULL");
  *out = NULL;
  if (max_threads < 1 || max_threads > DYNRT_POOL_MAX_THREADS)
    return dynrt__seterr(NULL, DYNRT_ERR_INVALID_ARG, "pool: max_threads %d is outside 1..%d",
                         max_threads, DYNRT_POOL_MAX_THREADS);
  dynrt_pool *pool = dynrt__aligned_alloc(sizeof *pool, POOL_CACHE_LINE);
  if (!pool) return dynrt__seterr(NULL, DYNRT_ERR_NOMEM, "pool: no memory for the pool");
  memset(pool, 0, sizeof *pool);
  pool->max_threads = max_threads;
  pool->threads = max_threads;
  pool->set_affinity = default_set_affinity;
  atomic_init(&pool->pending, 0);
  atomic_init(&pool->owner_sleeping, 0);
  atomic_init(&pool->spin_ns, POOL_DEFAULT_SPIN_NS);
  atomic_init(&pool->pin_failures, 0);
  atomic_init(&pool->busy, 0);
  if (pthread_getaffinity_np(pthread_self(), sizeof pool->unpinned, &pool->unpinned) != 0)
    for (int c = 0; c < CPU_SETSIZE; c++) CPU_SET(c, &pool->unpinned);
  dynrt_status st = DYNRT_ERR_NOMEM;
  if (!sync_init(&pool->done_mutex, &pool->done_cond)) {
    dynrt__seterr(NULL, st, "pool: initialising a mutex failed");
    goto error;
  }
  pool->sync_ready = true;
  if (max_threads > 1) {
    size_t n = (size_t)max_threads - 1;
    pool->workers = dynrt__aligned_alloc(n * sizeof *pool->workers, POOL_CACHE_LINE);
    if (!pool->workers) {
      dynrt__seterr(NULL, st, "pool: no memory for %zu workers", n);
      goto error;
    }
    memset(pool->workers, 0, n * sizeof *pool->workers);
    for (size_t i = 0; i < n; i++) {
      pool_worker *w = &pool->workers[i];
      atomic_init(&w->go, 0);
      atomic_init(&w->sleeping, 0);
      w->index = (int)i + 1;
      w->pool = pool;
      w->cpu = -1;
      w->applied_cpu = -2;
      if (!sync_init(&w->mutex, &w->cond)) {
        dynrt__seterr(NULL, st, "pool: initialising the mutex of thread %zu failed", i + 1);
        goto error;
      }
      w->sync_ready = true;
    }
    st = start_workers(pool);
    if (st != DYNRT_OK) goto error;
  }
  *out = pool;
  return DYNRT_OK;
error:
  pool_free(pool);
  return st;
}

void dynrt_pool_destroy(dynrt_pool *pool) {
  if (!pool) return;
  DYNRT_ASSERT(tls_pool != pool); /* destroying the pool from inside one of its jobs */
  owner_restore(pool);
  pool_free(pool);
}

/* ---- configuration ---- */

int dynrt_pool_threads(const dynrt_pool *pool) { return pool ? pool->threads : 0; }
int dynrt_pool_max_threads(const dynrt_pool *pool) { return pool ? pool->max_threads : 0; }

const char *dynrt_pool_errmsg(const dynrt_pool *pool) {
  return pool ? dynrt__errmsg(&pool->err) : "pool is NULL";
}

dynrt_status dynrt_pool_set_spin_us(dynrt_pool *pool, unsigned us) {
  if (!pool) return DYNRT_ERR_INVALID_ARG;
  if (us > POOL_MAX_SPIN_US)
    return dynrt__seterr(&pool->err, DYNRT_ERR_INVALID_ARG, "pool: spin of %u us is over %u us", us,
                         POOL_MAX_SPIN_US);
  atomic_store_explicit(&pool->spin_ns, (uint64_t)us * 1000u, memory_order_relaxed);
  return DYNRT_OK;
}

/* Checks cpus[i] against the mask; returns the core to pin to or -1, with *st and the
 * message of the first bad core. */
static int checked_cpu(dynrt_pool *pool, const int *cpus, int i, const cpu_set_t *allowed,
                       dynrt_status *st, int *bad) {
  if (!cpus) return -1;
  int c = cpus[i];
  dynrt_status s = DYNRT_OK;
  if (c < 0 || c >= CPU_SETSIZE)
    s = DYNRT_ERR_INVALID_ARG;
  else if (!CPU_ISSET(c, allowed))
    s = DYNRT_ERR_PERMISSION;
  if (s == DYNRT_OK) return c;
  if ((*bad)++ == 0) {
    *st = s;
    if (s == DYNRT_ERR_INVALID_ARG) {
      dynrt__seterr(&pool->err, s, "pool: cpus[%d] = %d is outside 0..%d; thread %d runs unpinned",
                    i, c, CPU_SETSIZE - 1, i);
    } else {
      char list[128];
      format_cpuset(allowed, list, sizeof list);
      dynrt__seterr(&pool->err, s,
                    "pool: cpus[%d] = %d is not among the cores this process may use (%s); "
                    "thread %d runs unpinned",
                    i, c, list, i);
    }
  }
  return -1;
}

/* Pins the owner to cpu (saving its mask the first time) or, cpu < 0, restores it. */
static dynrt_status pin_owner(dynrt_pool *pool, int cpu, dynrt_status st) {
  if (cpu < 0) {
    owner_restore(pool);
    return st;
  }
  pthread_t self = pthread_self();
  if (!pool->owner_saved || !pthread_equal(pool->owner_thread, self)) {
    if (pthread_getaffinity_np(self, sizeof pool->owner_mask, &pool->owner_mask) != 0)
      return st; /* cannot restore later, so do not pin */
    pool->owner_saved = true;
    pool->owner_thread = self;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  int rc = pool->set_affinity(self, sizeof set, &set);
  if (rc == 0) return st;
  owner_restore(pool);
  if (st != DYNRT_OK) return st;
  return dynrt__seterr(&pool->err, DYNRT_ERR_PERMISSION,
                       "pool: the calling thread could not be pinned to cpu %d "
                       "(pthread_setaffinity_np: %s); it runs unpinned",
                       cpu, errno_name(rc));
}

dynrt_status dynrt_pool_set_cpus(dynrt_pool *pool, const int *cpus, int n) {
  if (!pool) return DYNRT_ERR_INVALID_ARG;
  if (tls_pool == pool) return DYNRT_ERR_STATE;
  if (n < 1 || n > pool->max_threads)
    return dynrt__seterr(&pool->err, DYNRT_ERR_INVALID_ARG,
                         "pool: %d threads requested, this pool has 1..%d", n, pool->max_threads);
  dynrt__clearerr(&pool->err);

  /* The cores this process may use: the owner's mask from before the pool pinned it. */
  cpu_set_t allowed;
  if (pool->owner_saved && pthread_equal(pool->owner_thread, pthread_self()))
    allowed = pool->owner_mask;
  else if (pthread_getaffinity_np(pthread_self(), sizeof allowed, &allowed) != 0)
    allowed = pool->unpinned;

  dynrt_status st = DYNRT_OK;
  int bad = 0;
  int owner_cpu = checked_cpu(pool, cpus, 0, &allowed, &st, &bad);
  for (int i = 1; i < n; i++)
    pool->workers[i - 1].cpu = checked_cpu(pool, cpus, i, &allowed, &st, &bad);
  if (bad > 1) {
    size_t len = strlen(pool->err.msg);
    snprintf(pool->err.msg + len, sizeof pool->err.msg - len, " (%d cores in all cannot be used)",
             bad);
  }
  pool->unpinned = allowed;
  pool->config_gen++;
  pool->threads = n;
  st = pin_owner(pool, owner_cpu, st);

  if (pool->pin_report.status != DYNRT_OK) {
    if (st == DYNRT_OK) {
      pool->err = pool->pin_report;
      st = pool->pin_report.status;
    } else {
      size_t len = strlen(pool->err.msg);
      snprintf(pool->err.msg + len, sizeof pool->err.msg - len, "; earlier: %s",
               pool->pin_report.msg);
    }
    dynrt__clearerr(&pool->pin_report);
  }
  return st;
}

/* ---- jobs ---- */

void dynrt_pool_parallel_2d(dynrt_pool *pool, size_t ni, size_t nj, size_t tile_i, size_t tile_j,
                            dynrt_pool_fn fn, void *ctx) {
  if (!pool) return;
  bool nested = tls_pool == pool;
  if (!fn || !tile_i || !tile_j) {
    /* A nested call runs on a worker while the owner may write err: leave no message. */
    if (!nested)
      dynrt__seterr(&pool->err, DYNRT_ERR_INVALID_ARG,
                    "pool: parallel_2d with fn %s, tile %zu x %zu; nothing was run",
                    fn ? "set" : "NULL", tile_i, tile_j);
    return;
  }
  if (!ni || !nj) return;
  size_t tiles_i = ni / tile_i + (ni % tile_i != 0);
  size_t tiles_j = nj / tile_j + (nj % tile_j != 0);
  if (tiles_i > SIZE_MAX / tiles_j) {
    if (!nested)
      dynrt__seterr(&pool->err, DYNRT_ERR_INVALID_ARG,
                    "pool: parallel_2d over %zu x %zu tiles overflows; nothing was run", tiles_i,
                    tiles_j);
    return;
  }
  size_t tiles = tiles_i * tiles_j;
  int threads = nested ? 1 : (int)DYNRT_MIN((size_t)pool->threads, tiles);
  pool_job inline_job = {fn, ctx, ni, nj, tile_i, tile_j, tiles_j, tiles, 1};
  if (threads == 1) {
    int thread = nested ? tls_thread : 0;
    const dynrt_pool *outer_pool = tls_pool;
    int outer_thread = tls_thread;
    tls_pool = pool;
    tls_thread = thread;
    run_share(&inline_job, 0, thread);
    tls_pool = outer_pool;
    tls_thread = outer_thread;
    return;
  }
  /* Aborts instead of corrupting a running job: two owners is a bug in the caller. */
  DYNRT_ASSERT(!atomic_exchange_explicit(&pool->busy, 1, memory_order_acquire));
  pool->job = inline_job;
  pool->job.threads = threads;
  atomic_store_explicit(&pool->pending, (uint64_t)threads - 1, memory_order_relaxed);
  pool->job_gen++;
  for (int t = 1; t < threads; t++) post(&pool->workers[t - 1], pool->job_gen);

  const dynrt_pool *outer_pool = tls_pool;
  int outer_thread = tls_thread;
  tls_pool = pool;
  tls_thread = 0;
  run_share(&pool->job, 0, 0);
  tls_pool = outer_pool;
  tls_thread = outer_thread;

  owner_wait(pool);
  if (atomic_load_explicit(&pool->pin_failures, memory_order_relaxed)) collect_pin_failures(pool);
  atomic_store_explicit(&pool->busy, 0, memory_order_release);
}

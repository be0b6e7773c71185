/*
 * dynrt/pool.h - thread pool with run-time core sets.
 *
 * Threads are created once, up to max_threads (the caller counts as thread 0).
 * dynrt_pool_set_cpus() changes which cores and how many threads take part in the next
 * job without creating or destroying threads: surplus workers sleep; each active worker
 * re-pins itself (pthread_setaffinity_np) at its next wake-up. Idle workers spin for a
 * bounded time and then sleep on a condition variable, so they do not burn a core that a
 * runtime manager just gave to another application.
 *
 * Thread-safety: one job at a time per pool; dynrt_pool_parallel_2d and
 * dynrt_pool_set_cpus must be called from one thread at a time (the owner of the pool).
 * Failure to pin (a cpuset that forbids the core) is reported by dynrt_pool_set_cpus's
 * status and message, and the pool keeps working unpinned.
 *
 * Pinning policy. The thread that calls dynrt_pool_set_cpus (the owner) is pinned to cpus[0]
 * there and stays pinned between jobs, so a job costs no affinity system call. Its mask from
 * before the first pinning is saved and restored by dynrt_pool_set_cpus(pool, NULL, n) and by
 * dynrt_pool_destroy when they are called from that same thread. Workers re-pin themselves
 * at the first job after a change; "unpinned" means the owner's saved (original) mask. The
 * cores a process may use are taken from that saved mask (or the owner's current mask when
 * it was never pinned), so a cpuset widened after the first pinning is not seen until the
 * owner is unpinned again.
 *
 * Waiting. A worker spins for a bounded time after a job (30 us by default, see
 * dynrt_pool_set_spin_us), then sleeps on a condition variable; a worker beyond the active
 * thread count is never woken by jobs. The owner waits for the other threads the same way.
 *
 * State after create: max_threads threads take part, nobody is pinned.
 */
#ifndef DYNRT_POOL_H
#define DYNRT_POOL_H

#include "dynrt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dynrt_pool dynrt_pool;

/* Upper bound of max_threads (addition to the first contract). */
#define DYNRT_POOL_MAX_THREADS 256

/* Creates max_threads - 1 workers (max_threads >= 1; 1 = caller only). Errors:
 * DYNRT_ERR_INVALID_ARG (out NULL, max_threads outside 1..DYNRT_POOL_MAX_THREADS),
 * DYNRT_ERR_NOMEM (memory or threads could not be had); *out is NULL on failure. */
DYNRT_API dynrt_status dynrt_pool_create(int max_threads, dynrt_pool **out);
/* Joins the workers. NULL is a no-op. */
DYNRT_API void dynrt_pool_destroy(dynrt_pool *pool);

/*
 * Next jobs run on n threads (1 <= n <= max_threads), thread i pinned to cpus[i] (the
 * caller is pinned to cpus[0]). cpus == NULL: n threads, unpinned (inherit the process
 * mask). Returns DYNRT_ERR_PERMISSION / DYNRT_ERR_INVALID_ARG with a message when a core
 * cannot be used; the thread count still changes and unpinnable threads stay unpinned.
 * A core outside 0..CPU_SETSIZE-1 gives DYNRT_ERR_INVALID_ARG, one the process may not use
 * DYNRT_ERR_PERMISSION. A worker whose own pinning failed at a job (the cpuset changed
 * since) is reported by dynrt_pool_errmsg right after that job and by the status of the next
 * call. n out of range: DYNRT_ERR_INVALID_ARG and nothing changes. Called from inside a job:
 * DYNRT_ERR_STATE, nothing changes, no message.
 */
DYNRT_API dynrt_status dynrt_pool_set_cpus(dynrt_pool *pool, const int *cpus, int n);
/* Active / created thread counts; 0 for NULL. */
DYNRT_API int dynrt_pool_threads(const dynrt_pool *pool);
DYNRT_API int dynrt_pool_max_threads(const dynrt_pool *pool);

/*
 * How long (microseconds) an idle thread spins before it sleeps; 0 = sleep at once, which
 * suits a core shared with other programs. Owner only, between jobs (addition to the first
 * contract). Errors: DYNRT_ERR_INVALID_ARG for NULL or more than 1000000 us.
 */
DYNRT_API dynrt_status dynrt_pool_set_spin_us(dynrt_pool *pool, unsigned us);

/*
 * fn(ctx, thread, i0, i1, j0, j1) on tiles of the range [0, ni) x [0, nj): tiles of
 * tile_i x tile_j (the last ones clipped). The split of tiles to threads is deterministic
 * (a static contiguous partition of the tile sequence, row-major over i then j) so results
 * never depend on timing. Returns when every tile is done. The calling thread takes part.
 *
 * With T tiles and n active threads, min(n, T) threads take part and thread t gets tiles
 * [t*q + min(t, r), (t+1)*q + min(t+1, r)) with q = T / m, r = T % m, m = min(n, T).
 * One taking part (n == 1 or T == 1): fn runs inline on the caller, no synchronisation.
 * Nothing is allocated. Documented no-ops: pool NULL; ni or nj 0; fn NULL, a tile size 0 or
 * more than SIZE_MAX tiles (these three leave a DYNRT_ERR_INVALID_ARG message for
 * dynrt_pool_errmsg). Called from inside fn on the same pool (nesting), the inner range runs
 * inline on the calling thread with its own thread index. Two threads calling it at once on
 * one pool is a programmer error and aborts.
 */
typedef void (*dynrt_pool_fn)(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1);
DYNRT_API void dynrt_pool_parallel_2d(dynrt_pool *pool, size_t ni, size_t nj, size_t tile_i,
                                      size_t tile_j, dynrt_pool_fn fn, void *ctx);

/* The message of the last failure (a set_cpus, a bad parallel_2d call, a worker that could
 * not pin itself); the status text when none. Never NULL; owned by the pool. */
DYNRT_API const char *dynrt_pool_errmsg(const dynrt_pool *pool);

#ifdef __cplusplus
}
#endif
#endif /* DYNRT_POOL_H */

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
 */
#ifndef DYNRT_POOL_H
#define DYNRT_POOL_H

#include "dynrt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dynrt_pool dynrt_pool;

/* Creates max_threads - 1 workers (max_threads >= 1; 1 = caller only). */
DYNRT_API dynrt_status dynrt_pool_create(int max_threads, dynrt_pool **out);
/* Joins the workers. NULL is a no-op. */
DYNRT_API void dynrt_pool_destroy(dynrt_pool *pool);

/*
 * Next jobs run on n threads (1 <= n <= max_threads), thread i pinned to cpus[i] (the
 * caller is pinned to cpus[0]). cpus == NULL: n threads, unpinned (inherit the process
 * mask). Returns DYNRT_ERR_PERMISSION / DYNRT_ERR_INVALID_ARG with a message when a core
 * cannot be used; the thread count still changes and unpinnable threads stay unpinned.
 */
DYNRT_API dynrt_status dynrt_pool_set_cpus(dynrt_pool *pool, const int *cpus, int n);
DYNRT_API int dynrt_pool_threads(const dynrt_pool *pool);
DYNRT_API int dynrt_pool_max_threads(const dynrt_pool *pool);

/*
 * fn(ctx, thread, i0, i1, j0, j1) on tiles of the range [0, ni) x [0, nj): tiles of
 * tile_i x tile_j (the last ones clipped). The split of tiles to threads is deterministic
 * (a static contiguous partition of the tile sequence, row-major over i then j) so results
 * never depend on timing. Returns when every tile is done. The calling thread takes part.
 */
typedef void (*dynrt_pool_fn)(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1);
DYNRT_API void dynrt_pool_parallel_2d(dynrt_pool *pool, size_t ni, size_t nj, size_t tile_i,
                                      size_t tile_j, dynrt_pool_fn fn, void *ctx);

DYNRT_API const char *dynrt_pool_errmsg(const dynrt_pool *pool);

#ifdef __cplusplus
}
#endif
#endif /* DYNRT_POOL_H */

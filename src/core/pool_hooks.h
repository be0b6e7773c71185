/*
 * pool_hooks.h - test seam of the thread pool: replaces the affinity system call so tests
 * can make a worker's own pinning fail, which a real process can only see when a cgroup
 * cpuset shrinks under it. Not for production code.
 */
#ifndef DYNRT_POOL_HOOKS_H
#define DYNRT_POOL_HOOKS_H

#include <pthread.h>
#include <sched.h>

#include "dynrt/pool.h"

/* Same contract as pthread_setaffinity_np: 0 or an errno value. Called from the owner and
 * from workers at once, so it must be thread-safe. */
typedef int (*dynrt__pool_affinity_fn)(pthread_t thread, size_t size, const cpu_set_t *set);

/* fn NULL restores pthread_setaffinity_np. Owner only, between jobs. */
void dynrt__pool_set_affinity_fn(dynrt_pool *pool, dynrt__pool_affinity_fn fn);

#endif /* DYNRT_POOL_HOOKS_H */

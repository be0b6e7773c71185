/*
 * pelt.h - the Linux scheduler's Per-Entity Load Tracking (PELT) signal of one CPU run
 * queue, in the kernel's own integer arithmetic (kernel/sched/pelt.c, v6.8), so that the
 * simulated schedutil sees the very numbers the kernel would compute. It knows nothing
 * about governors, jobs or boards.
 *
 * Time inside PELT is the run queue's "clock_pelt" in ns; one period is 1024 "µs"
 * (1024 * 1024 ns). Callers scale the clock for frequency and CPU invariance (see
 * dynrt__pelt_rq_advance) exactly as update_rq_clock_pelt() does.
 */
#ifndef DYNRT_PELT_H
#define DYNRT_PELT_H

#include <stdint.h>

#define DYNRT_PELT_LOAD_AVG_PERIOD 32
#define DYNRT_PELT_LOAD_AVG_MAX 47742
#define DYNRT_PELT_MIN_DIVIDER (DYNRT_PELT_LOAD_AVG_MAX - 1024)
#define DYNRT_PELT_CAPACITY_SHIFT 10
#define DYNRT_PELT_CAPACITY_SCALE 1024u
#define DYNRT_PELT_UTIL_EST_MARGIN (1024u / 100u)

/* struct sched_avg of a cfs_rq, without the load (weight) part, which schedutil ignores. */
typedef struct dynrt__pelt_avg {
  uint64_t last_update_time; /* clock_pelt ns of the last accumulation (multiple of 1024) */
  uint64_t util_sum;         /* running contribution << 10 */
  uint64_t runnable_sum;     /* nr_running * contribution << 10 */
  uint32_t period_contrib;   /* part of the current period already accounted, 0..1023 */
  uint32_t util_avg;         /* 0..1024 */
  uint32_t runnable_avg;     /* 0..1024 * nr_running */
} dynrt__pelt_avg;

/*
 * One CPU run queue: clock_task (the virtual time), clock_pelt (scaled while busy, synced
 * to clock_task when idle), lost_idle_time, the cfs average and the aggregated util_est.
 */
typedef struct dynrt__pelt_rq {
  uint64_t clock_task;
  uint64_t clock_pelt;
  uint64_t lost_idle_time;
  dynrt__pelt_avg avg;
  uint32_t util_est_ewma; /* util_est of the (aggregated) task, UTIL_EST_WEIGHT_SHIFT 2 */
  unsigned nr_running;    /* runnable entities on the rq (0 = idle) */
  int avg_changed;        /* util_avg recomputed since the last enqueue (!UTIL_AVG_UNCHANGED) */
} dynrt__pelt_rq;

/* val * y^n with y^32 = 1/2, as decay_load(). */
uint64_t dynrt__pelt_decay(uint64_t val, uint64_t n);

/*
 * ___update_load_sum + ___update_load_avg: accumulates from avg->last_update_time to
 * `now` (clock_pelt ns) with the given runnable count and running flag. Returns 1 when at
 * least one period boundary was crossed (the kernel's "decayed": averages recomputed).
 */
int dynrt__pelt_update(dynrt__pelt_avg *avg, uint64_t now, unsigned runnable, int running);

/*
 * Advances the run queue to clock_task = now with its current state and accumulates PELT.
 * While busy, clock_pelt advances by cap_scale(cap_scale(delta, cpu_cap), freq_cap) as in
 * update_rq_clock_pelt() (both 0..1024; pass 1024, 1024 for no invariance). Returns the
 * "decayed" flag of dynrt__pelt_update.
 */
int dynrt__pelt_rq_advance(dynrt__pelt_rq *rq, uint64_t now, uint32_t cpu_cap, uint32_t freq_cap);

/*
 * Changes nr_running at clock_task (call dynrt__pelt_rq_advance to the same time first).
 * Going idle does the kernel's update_idle_rq_clock_pelt(): unless util_sum is saturated,
 * the lag of clock_pelt behind clock_task becomes idle time; when saturated it is lost.
 * Going idle also runs util_est_update() for the aggregated task.
 */
void dynrt__pelt_rq_set_running(dynrt__pelt_rq *rq, unsigned nr_running);

/* cpu_util_cfs_boost() with util_est, clamped to the CPU's capacity (0..1024). */
uint32_t dynrt__pelt_rq_util(const dynrt__pelt_rq *rq, uint32_t capacity);

#endif /* DYNRT_PELT_H */

/*
 * pelt.c - PELT of a CPU run queue in the kernel's integer arithmetic (v6.8
 * kernel/sched/pelt.c, pelt.h, fair.c util_est). Pure computation: no time source, no
 * governor. The comments name the kernel function each piece mirrors.
 */
#include "platform/pelt.h"

/* runnable_avg_yN_inv[n] = (2^32 - 1) * y^n truncated, y^32 = 1/2 (sched-pelt.h; generated
 * by the kernel's Documentation/scheduler/sched-pelt.c and checked against its endpoints). */
static const uint32_t pelt_yn_inv[DYNRT_PELT_LOAD_AVG_PERIOD] = {
    0xffffffff, 0xfa83b2da, 0xf5257d14, 0xefe4b99a, 0xeac0c6e6, 0xe5b906e6, 0xe0ccdeeb, 0xdbfbb796,
    0xd744fcc9, 0xd2a81d91, 0xce248c14, 0xc9b9bd85, 0xc5672a10, 0xc12c4cc9, 0xbd08a39e, 0xb8fbaf46,
    0xb504f333, 0xb123f581, 0xad583ee9, 0xa9a15ab4, 0xa5fed6a9, 0xa2704302, 0x9ef5325f, 0x9b8d39b9,
    0x9837f050, 0x94f4efa8, 0x91c3d373, 0x8ea4398a, 0x8b95c1e3, 0x88980e80, 0x85aac367, 0x82cd8698};

/* mul_u64_u32_shr(a, mul, 32) without 128-bit types. */
static uint64_t mul_u64_u32_shr32(uint64_t a, uint32_t mul) {
  uint64_t lo = (a & 0xffffffffu) * mul;
  uint64_t hi = (a >> 32) * mul;
  return hi + (lo >> 32);
}

uint64_t dynrt__pelt_decay(uint64_t val, uint64_t n) {
  if (n > (uint64_t)DYNRT_PELT_LOAD_AVG_PERIOD * 63) return 0;
  unsigned local_n = (unsigned)n;
  if (local_n >= DYNRT_PELT_LOAD_AVG_PERIOD) {
    val >>= local_n / DYNRT_PELT_LOAD_AVG_PERIOD;
    local_n %= DYNRT_PELT_LOAD_AVG_PERIOD;
  }
  return mul_u64_u32_shr32(val, pelt_yn_inv[local_n]);
}

/* __accumulate_pelt_segments: d1 y^p + 1024 sum_{n=1}^{p-1} y^n + d3. */
static uint32_t accumulate_segments(uint64_t periods, uint32_t d1, uint32_t d3) {
  uint32_t c1 = (uint32_t)dynrt__pelt_decay(d1, periods);
  uint32_t c2 = DYNRT_PELT_LOAD_AVG_MAX -
                (uint32_t)dynrt__pelt_decay(DYNRT_PELT_LOAD_AVG_MAX, periods) - 1024;
  return c1 + c2 + d3;
}

/* accumulate_sum: delta in 1024-ns units. Returns the number of periods crossed. */
static uint64_t accumulate_sum(uint64_t delta, dynrt__pelt_avg *sa, unsigned runnable,
                               int running) {
  uint32_t contrib = (uint32_t)delta; /* periods == 0 -> delta < 1024 */
  delta += sa->period_contrib;
  uint64_t periods = delta / 1024;
  if (periods) {
    sa->runnable_sum = dynrt__pelt_decay(sa->runnable_sum, periods);
    sa->util_sum = dynrt__pelt_decay(sa->util_sum, periods);
    delta %= 1024;
    /* The kernel computes contrib only when the load weight is nonzero, i.e. runnable. */
    if (runnable)
      contrib = accumulate_segments(periods, 1024 - sa->period_contrib, (uint32_t)delta);
  }
  sa->period_contrib = (uint32_t)delta;
  if (runnable) sa->runnable_sum += ((uint64_t)runnable * contrib) << DYNRT_PELT_CAPACITY_SHIFT;
  if (running) sa->util_sum += (uint64_t)contrib << DYNRT_PELT_CAPACITY_SHIFT;
  return periods;
}

int dynrt__pelt_update(dynrt__pelt_avg *sa, uint64_t now, unsigned runnable, int running) {
  if (now < sa->last_update_time) { /* clock went backwards: resync, as the kernel does */
    sa->last_update_time = now;
    return 0;
  }
  uint64_t delta = (now - sa->last_update_time) >> 10;
  if (!delta) return 0;
  sa->last_update_time += delta << 10;
  if (!runnable) running = 0;
  if (!accumulate_sum(delta, sa, runnable, running)) return 0;
  /* ___update_load_avg */
  uint32_t divider = DYNRT_PELT_MIN_DIVIDER + sa->period_contrib;
  sa->runnable_avg = (uint32_t)(sa->runnable_sum / divider);
  sa->util_avg = (uint32_t)(sa->util_sum / divider);
  return 1;
}

static uint64_t cap_scale(uint64_t v, uint32_t s) { return (v * s) >> DYNRT_PELT_CAPACITY_SHIFT; }

int dynrt__pelt_rq_advance(dynrt__pelt_rq *rq, uint64_t now, uint32_t cpu_cap, uint32_t freq_cap) {
  if (now < rq->clock_task) now = rq->clock_task;
  uint64_t delta = now - rq->clock_task;
  rq->clock_task = now;
  if (rq->nr_running)
    rq->clock_pelt += cap_scale(cap_scale(delta, cpu_cap), freq_cap); /* update_rq_clock_pelt */
  else
    rq->clock_pelt = rq->clock_task; /* _update_idle_rq_clock_pelt */
  int decayed = dynrt__pelt_update(&rq->avg, rq->clock_pelt - rq->lost_idle_time, rq->nr_running,
                                   rq->nr_running > 0);
  if (decayed) rq->avg_changed = 1;
  return decayed;
}

/* util_est_update() at a task's sleep, for the aggregated task of the rq (v6.8). */
static void util_est_update(dynrt__pelt_rq *rq) {
  if (!rq->avg_changed) return; /* UTIL_AVG_UNCHANGED still set */
  uint32_t ewma = rq->util_est_ewma;
  uint32_t dequeued = rq->avg.util_avg;
  if (ewma <= dequeued) {
    rq->util_est_ewma = dequeued;
    return;
  }
  uint32_t diff = ewma - dequeued;
  if (diff < DYNRT_PELT_UTIL_EST_MARGIN) return;
  /* It did not get all the CPU time it wanted: do not learn a low value. */
  if (dequeued + DYNRT_PELT_UTIL_EST_MARGIN < rq->avg.runnable_avg) return;
  ewma <<= 2;
  ewma -= diff;
  ewma >>= 2;
  rq->util_est_ewma = ewma;
}

void dynrt__pelt_rq_set_running(dynrt__pelt_rq *rq, unsigned nr_running) {
  if (rq->nr_running && !nr_running) {
    util_est_update(rq);
    /* update_idle_rq_clock_pelt(): saturated util_sum means the lag is lost idle time. */
    uint64_t divider = ((uint64_t)(DYNRT_PELT_LOAD_AVG_MAX - 1024) << DYNRT_PELT_CAPACITY_SHIFT) -
                       DYNRT_PELT_LOAD_AVG_MAX;
    if (rq->avg.util_sum >= divider) rq->lost_idle_time += rq->clock_task - rq->clock_pelt;
    rq->clock_pelt = rq->clock_task;
  } else if (!rq->nr_running && nr_running) {
    rq->avg_changed = 0; /* enqueue sets UTIL_AVG_UNCHANGED */
  }
  rq->nr_running = nr_running;
}

uint32_t dynrt__pelt_rq_util(const dynrt__pelt_rq *rq, uint32_t capacity) {
  uint32_t util = rq->avg.util_avg;
  if (rq->avg.runnable_avg > util) util = rq->avg.runnable_avg; /* runnable boost */
  if (rq->nr_running && rq->util_est_ewma > util) util = rq->util_est_ewma;
  return util < capacity ? util : capacity;
}

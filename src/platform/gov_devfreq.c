/*
 * gov_devfreq.c - the devfreq simple_ondemand governor
 * (drivers/devfreq/governor_simpleondemand.c) on a GPU domain, polled every
 * polling_interval ms: busy above upthreshold -> maximum; within downdifferential below
 * it -> keep; else busy * cur / (upthreshold - downdifferential/2). The device reports
 * busy and total time in µs (windows below 2^24 µs need no overflow shift).
 */
#include "platform/sim_int.h"

void dynrt__devfreq_start(dynrt__sim *s, int d) {
  dynrt__gov *g = &s->dom[d].gov;
  g->prev_busy_ns = dynrt__sim_gpu_busy(s, d);
  g->prev_poll_ns = s->now;
  g->next_poll = s->now + (uint64_t)g->polling_ms * 1000000u; /* devfreq_monitor_start */
}

void dynrt__devfreq_poll(dynrt__sim *s, int d) {
  sim_domain *sd = &s->dom[d];
  dynrt__gov *g = &sd->gov;
  uint64_t busy_ns = dynrt__sim_gpu_busy(s, d);
  uint64_t busy = (busy_ns - g->prev_busy_ns) / 1000u;
  uint64_t total = (s->now - g->prev_poll_ns) / 1000u;
  g->prev_busy_ns = busy_ns;
  g->prev_poll_ns = s->now;
  uint64_t up = g->dfso_upthreshold, down = g->dfso_downdifferential;
  uint64_t cur_hz = (uint64_t)sd->cur_khz * 1000u;
  uint64_t target_hz;
  if (total == 0) {
    target_hz = UINT64_MAX;
  } else {
    if (busy >= (1u << 24) || total >= (1u << 24)) {
      busy >>= 7;
      total >>= 7;
    }
    if (busy * 100 > total * up)
      target_hz = UINT64_MAX;
    else if (busy * 100 > total * (up - down))
      target_hz = cur_hz;
    else
      target_hz = (busy * cur_hz / total) * 100 / (up - down / 2);
  }
  /* update_devfreq: clamp to [min, max], then the lowest OPP >= target (devfreq
   * recommended_opp ceil); frequencies in kHz rounded up so a Hz target keeps its OPP. */
  uint64_t khz = target_hz == UINT64_MAX ? sd->pol_max : (target_hz + 999u) / 1000u;
  if (khz > sd->pol_max) khz = sd->pol_max;
  dynrt__sim_set_cur(s, d, dynrt__gov_resolve(s, d, (uint32_t)khz, DYNRT__REL_L));
}

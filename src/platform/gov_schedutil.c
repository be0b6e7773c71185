/*
 * gov_schedutil.c - the schedutil cpufreq governor (kernel/sched/cpufreq_schedutil.c,
 * v6.8 semantics): per-CPU util from PELT (max of util_avg, runnable_avg and util_est,
 * capped at the CPU capacity), 1.25 headroom in the util domain, next frequency =
 * ref * util / capacity resolved to the lowest OPP >= it within the policy limits, rate
 * limit on committed changes, max over the CPUs of a shared policy, the busy hold of
 * single-CPU policies. IO-wait boost, RT/DL and uclamp are not modelled (no such tasks).
 */
#include "platform/sim_int.h"

#define SUGOV_NEVER UINT64_MAX

uint32_t dynrt__sugov_rate_limit_us(uint32_t transition_latency_ns) {
  /* cpufreq_policy_transition_delay_us() since v6.8 (LATENCY_MULTIPLIER 1000, cap 2 ms) */
  uint32_t latency_us = transition_latency_ns / 1000u;
  if (!latency_us) return 1000u;
  if (latency_us > 2000u) return latency_us;
  uint64_t us = (uint64_t)latency_us * 1000u;
  return us < 2000u ? (uint32_t)us : 2000u;
}

void dynrt__sugov_start(dynrt__sim *s, int d) {
  dynrt__gov *g = &s->dom[d].gov;
  g->last_freq_update_time = SUGOV_NEVER; /* the kernel starts at 0 with time >> delay */
  g->next_freq = 0;
  g->cached_raw_freq = 0;
  g->need_freq_update = 0;
  g->limits_changed = 0;
  const dynrt_domain_info *di = &s->p->domains[d];
  g->saved_idle_calls = di->ncpus == 1 ? s->cpu[di->cpus[0]].idle_calls : 0;
}

void dynrt__sugov_limits(dynrt__sim *s, int d) {
  /* Slow-switch drivers (cpufreq-dt, tegra194): cpufreq_policy_apply_limits() now. */
  sim_domain *sd = &s->dom[d];
  uint32_t cur = dynrt__sim_target_khz(s, d); /* a change in flight counts as done */
  if (cur > sd->pol_max)
    dynrt__sim_set_cur(s, d, dynrt__gov_resolve(s, d, sd->pol_max, DYNRT__REL_H));
  else if (cur < sd->pol_min)
    dynrt__sim_set_cur(s, d, dynrt__gov_resolve(s, d, sd->pol_min, DYNRT__REL_L));
  sd->gov.limits_changed = 1;
}

void dynrt__sugov_update(dynrt__sim *s, int d) {
  sim_domain *sd = &s->dom[d];
  dynrt__gov *g = &sd->gov;
  const dynrt_domain_info *di = &s->p->domains[d];
  /* sugov_should_update_freq */
  if (g->limits_changed) {
    g->limits_changed = 0;
    g->need_freq_update = 1;
  } else if (g->last_freq_update_time != SUGOV_NEVER &&
             s->now - g->last_freq_update_time < (uint64_t)g->rate_limit_us * 1000u) {
    return;
  }
  dynrt__sim_sync_domain(s, d);
  uint32_t cap = sd->m.sched_capacity;
  uint32_t util = 0;
  for (int k = 0; k < di->ncpus; k++) {
    const sim_cpu *c = &s->cpu[di->cpus[k]];
    if (!c->online) continue;
    uint32_t u = dynrt__pelt_rq_util(&c->rq, cap);
    u = u + (u >> 2); /* sugov_effective_cpu_perf: map_util_perf, capped at max */
    if (u > cap) u = cap;
    if (u > util) util = u;
  }
  /* get_next_freq: get_capacity_ref_freq() then map_util_freq() */
  uint64_t ref =
      s->freq_invariant ? di->opps[di->nopps - 1].khz : (uint64_t)sd->cur_khz + (sd->cur_khz >> 2);
  uint32_t raw = (uint32_t)(ref * util / cap);
  uint32_t cached = g->cached_raw_freq;
  uint32_t next;
  if (raw == g->cached_raw_freq && !g->need_freq_update) {
    next = g->next_freq;
  } else {
    g->cached_raw_freq = raw;
    next = dynrt__gov_resolve(s, d, raw, DYNRT__REL_L);
  }
  if (di->ncpus == 1) { /* sugov_update_single_freq: sugov_hold_freq() */
    uint64_t calls = s->cpu[di->cpus[0]].idle_calls;
    int hold = calls == g->saved_idle_calls;
    g->saved_idle_calls = calls;
    if (hold && next < g->next_freq && !g->need_freq_update) {
      next = g->next_freq;
      g->cached_raw_freq = cached;
    }
  }
  /* sugov_update_next_freq */
  if (g->need_freq_update)
    g->need_freq_update = 0;
  else if (g->next_freq == next)
    return;
  g->next_freq = next;
  g->last_freq_update_time = s->now;
  dynrt__sim_set_cur(s, d, next); /* __cpufreq_driver_target: no-op when equal to cur */
}

/*
 * gov_dbs.c - the common part of the ondemand and conservative governors
 * (drivers/cpufreq/cpufreq_governor.c): load per sample from the idle time of each CPU
 * of the policy, samples taken at scheduler events once the sample delay has passed
 * (dbs_update_util_handler), start and limit handling. The decisions are in
 * gov_ondemand.c and gov_conservative.c.
 */
#include "platform/sim_int.h"

#define DBS_NEVER UINT64_MAX

/* get_cpu_idle_time(): idle µs and wall µs (io_is_busy = 0: iowait counts as idle). */
static uint64_t idle_us(const dynrt__sim *s, int cpu, uint64_t *wall_us) {
  *wall_us = s->now / 1000u;
  return (s->now - dynrt__sim_cpu_busy(s, cpu)) / 1000u;
}

void dynrt__dbs_start(dynrt__sim *s, int d) {
  dynrt__gov *g = &s->dom[d].gov;
  const dynrt_domain_info *di = &s->p->domains[d];
  if (g->kind == DYNRT__GOV_ONDEMAND) {
    /* od_init: MICRO_FREQUENCY_UP_THRESHOLD with NO_HZ idle accounting */
    g->up_threshold = 95;
    g->sampling_down_factor = 1;
  } else {
    g->up_threshold = 80; /* DEF_FREQUENCY_UP_THRESHOLD */
    g->down_threshold = 20;
    g->freq_step = 5;
    g->sampling_down_factor = 1;
    g->down_skip = 0;
    g->requested_freq = dynrt__sim_target_khz(s, d);
  }
  g->rate_mult = 1;
  for (int k = 0; k < di->ncpus; k++) {
    g->prev_idle_us[k] = idle_us(s, di->cpus[k], &g->prev_update_us[k]);
    g->prev_load[k] = 0;
  }
  g->idle_periods = UINT32_MAX;
  g->sample_delay_ns = (uint64_t)g->sampling_rate_us * 1000u; /* gov_set_update_util */
  g->last_sample_time = DBS_NEVER;                            /* last_sample_time = 0 */
}

void dynrt__dbs_limits(dynrt__sim *s, int d) {
  sim_domain *sd = &s->dom[d];
  uint32_t cur = dynrt__sim_target_khz(s, d); /* a change in flight counts as done */
  if (cur > sd->pol_max)
    dynrt__sim_set_cur(s, d, dynrt__gov_resolve(s, d, sd->pol_max, DYNRT__REL_H));
  else if (cur < sd->pol_min)
    dynrt__sim_set_cur(s, d, dynrt__gov_resolve(s, d, sd->pol_min, DYNRT__REL_L));
  sd->gov.sample_delay_ns = 0; /* gov_update_sample_delay(policy_dbs, 0) */
}

uint32_t dynrt__dbs_update(dynrt__sim *s, int d) {
  dynrt__gov *g = &s->dom[d].gov;
  const dynrt_domain_info *di = &s->p->domains[d];
  uint32_t sampling_rate = g->sampling_rate_us * g->rate_mult;
  uint32_t max_load = 0, idle_periods = UINT32_MAX;
  for (int k = 0; k < di->ncpus; k++) {
    if (!s->cpu[di->cpus[k]].online) continue;
    uint64_t update_time;
    uint64_t cur_idle = idle_us(s, di->cpus[k], &update_time);
    uint32_t time_elapsed = (uint32_t)(update_time - g->prev_update_us[k]);
    g->prev_update_us[k] = update_time;
    uint32_t idle_time = (uint32_t)(cur_idle - g->prev_idle_us[k]);
    g->prev_idle_us[k] = cur_idle;
    uint32_t load;
    if (!time_elapsed) {
      load = g->prev_load[k];
    } else if ((int32_t)idle_time > 2 * (int32_t)sampling_rate && g->prev_load[k]) {
      /* woken from a long idle: reuse the previous window's load once */
      load = g->prev_load[k];
      g->prev_load[k] = 0;
    } else {
      if (time_elapsed >= idle_time)
        load = (uint32_t)(100ull * (time_elapsed - idle_time) / time_elapsed);
      else
        load = (int32_t)idle_time < 0 ? 100 : 0;
      g->prev_load[k] = load;
    }
    if ((int32_t)idle_time > 2 * (int32_t)sampling_rate) {
      uint32_t periods = idle_time / sampling_rate;
      if (periods < idle_periods) idle_periods = periods;
    }
    if (load > max_load) max_load = load;
  }
  g->idle_periods = idle_periods;
  return max_load;
}

void dynrt__dbs_update_hook(dynrt__sim *s, int d) {
  dynrt__gov *g = &s->dom[d].gov;
  if (g->last_sample_time != DBS_NEVER && s->now - g->last_sample_time < g->sample_delay_ns) return;
  g->last_sample_time = s->now;
  uint32_t delay_us =
      g->kind == DYNRT__GOV_ONDEMAND ? dynrt__od_update(s, d) : dynrt__cs_update(s, d);
  g->sample_delay_ns = (uint64_t)delay_us * 1000u;
}

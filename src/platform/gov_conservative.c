/*
 * gov_conservative.c - the conservative governor's decision
 * (drivers/cpufreq/cpufreq_conservative.c, cs_dbs_update): step the requested frequency by
 * freq_step % of the policy maximum up above up_threshold, down below down_threshold
 * (after sampling_down_factor samples), and down once per idle period it missed.
 */
#include "platform/sim_int.h"

uint32_t dynrt__cs_update(dynrt__sim *s, int d) {
  sim_domain *sd = &s->dom[d];
  dynrt__gov *g = &sd->gov;
  uint32_t requested = g->requested_freq;
  uint32_t load = dynrt__dbs_update(s, d);
  if (g->freq_step == 0) goto out;
  if (requested > sd->pol_max || requested < sd->pol_min) {
    requested = sd->cur_khz;
    g->requested_freq = requested;
  }
  uint32_t step = (uint32_t)((uint64_t)g->freq_step * sd->pol_max / 100u); /* get_freq_step */
  if (!step) step = 5;
  if (g->idle_periods < UINT32_MAX) {
    uint64_t steps = (uint64_t)g->idle_periods * step;
    if (requested > sd->pol_min + steps)
      requested -= (uint32_t)steps;
    else
      requested = sd->pol_min;
    g->idle_periods = UINT32_MAX;
  }
  if (load > g->up_threshold) {
    g->down_skip = 0;
    if (requested == sd->pol_max) goto out;
    requested += step;
    if (requested > sd->pol_max) requested = sd->pol_max;
    dynrt__sim_set_cur(s, d, dynrt__gov_resolve(s, d, requested, DYNRT__REL_H));
    g->requested_freq = requested;
    goto out;
  }
  if (++g->down_skip < g->sampling_down_factor) goto out;
  g->down_skip = 0;
  if (load < g->down_threshold) {
    if (requested == sd->pol_min) goto out;
    if (requested > step)
      requested -= step;
    else
      requested = sd->pol_min;
    dynrt__sim_set_cur(s, d, dynrt__gov_resolve(s, d, requested, DYNRT__REL_L));
    g->requested_freq = requested;
  }
out:
  return g->sampling_rate_us;
}

/*
 * gov_ondemand.c - the ondemand governor's decision (drivers/cpufreq/cpufreq_ondemand.c,
 * od_update/od_dbs_update): above up_threshold jump to the policy maximum, otherwise
 * the frequency proportional to the load over the hardware range, closest OPP.
 * powersave_bias (0 by default) is not modelled.
 */
#include "platform/sim_int.h"

uint32_t dynrt__od_update(dynrt__sim *s, int d) {
  sim_domain *sd = &s->dom[d];
  dynrt__gov *g = &sd->gov;
  const dynrt_domain_info *di = &s->p->domains[d];
  uint32_t load = dynrt__dbs_update(s, d);
  if (load > g->up_threshold) {
    if (sd->cur_khz < sd->pol_max) g->rate_mult = g->sampling_down_factor;
    dynrt__sim_set_cur(s, d, dynrt__gov_resolve(s, d, sd->pol_max, DYNRT__REL_H));
  } else {
    /* cpuinfo (hardware) range on purpose; the limits clamp in the driver call */
    uint32_t min_f = di->opps[0].khz, max_f = di->opps[di->nopps - 1].khz;
    uint32_t freq_next = min_f + (uint32_t)((uint64_t)load * (max_f - min_f) / 100u);
    g->rate_mult = 1;
    dynrt__sim_set_cur(s, d, dynrt__gov_resolve(s, d, freq_next, DYNRT__REL_C));
  }
  return g->sampling_rate_us * g->rate_mult;
}

/*
 * gov_core.c - governor dispatch for the simulated platform: names, OPP resolution
 * (CPUFREQ_RELATION_L/H/C), default tunables, attach and limit handling, and the three
 * governors without an algorithm of their own (performance, powersave, userspace:
 * drivers/cpufreq/cpufreq_{performance,powersave,userspace}.c). Never advances time.
 */
#include <string.h>

#include "platform/sim_int.h"

static const char *const gov_names[] = {[DYNRT__GOV_USERSPACE] = "userspace",
                                        [DYNRT__GOV_PERFORMANCE] = "performance",
                                        [DYNRT__GOV_POWERSAVE] = "powersave",
                                        [DYNRT__GOV_SCHEDUTIL] = "schedutil",
                                        [DYNRT__GOV_ONDEMAND] = "ondemand",
                                        [DYNRT__GOV_CONSERVATIVE] = "conservative",
                                        [DYNRT__GOV_SIMPLE_ONDEMAND] = "simple_ondemand"};

dynrt_status dynrt__gov_parse(const char *name, int gpu, dynrt__gov_kind *kind) {
  for (int k = 0; k <= DYNRT__GOV_SIMPLE_ONDEMAND; k++) {
    if (strcmp(name, gov_names[k])) continue;
    dynrt__gov_kind g = (dynrt__gov_kind)k;
    if (gpu &&
        (g == DYNRT__GOV_SCHEDUTIL || g == DYNRT__GOV_ONDEMAND || g == DYNRT__GOV_CONSERVATIVE))
      g = DYNRT__GOV_SIMPLE_ONDEMAND;
    if (!gpu && g == DYNRT__GOV_SIMPLE_ONDEMAND) return DYNRT_ERR_UNSUPPORTED;
    *kind = g;
    return DYNRT_OK;
  }
  return DYNRT_ERR_NOT_FOUND;
}

const char *dynrt__gov_name(dynrt__gov_kind kind) {
  return (unsigned)kind <= DYNRT__GOV_SIMPLE_ONDEMAND ? gov_names[kind] : "?";
}

uint32_t dynrt__gov_resolve(const dynrt__sim *s, int d, uint32_t target, dynrt__relation rel) {
  const dynrt_domain_info *di = &s->p->domains[d];
  const sim_domain *sd = &s->dom[d];
  if (target < sd->pol_min) target = sd->pol_min;
  if (target > sd->pol_max) target = sd->pol_max;
  /* Limits are OPPs, so every relation finds an OPP inside them. */
  int lo = 0, hi = di->nopps - 1;
  while (di->opps[lo].khz < sd->pol_min) lo++;
  while (di->opps[hi].khz > sd->pol_max) hi--;
  int i = lo;
  while (i < hi && di->opps[i].khz < target) i++; /* lowest >= target */
  switch (rel) {
  case DYNRT__REL_L: return di->opps[i].khz;
  case DYNRT__REL_H:
    return di->opps[i].khz > target && i > lo ? di->opps[i - 1].khz : di->opps[i].khz;
  case DYNRT__REL_C:
    if (di->opps[i].khz == target || i == lo) return di->opps[i].khz;
    /* cpufreq_table_find_index_ac: the higher wins only when strictly closer */
    return target - di->opps[i - 1].khz > di->opps[i].khz - target ? di->opps[i].khz
                                                                   : di->opps[i - 1].khz;
  }
  return di->opps[i].khz;
}

void dynrt__gov_defaults(dynrt__sim *s, int d) {
  dynrt__gov *g = &s->dom[d].gov;
  uint32_t delay_us = dynrt__sugov_rate_limit_us(s->p->domains[d].transition_us * 1000u);
  g->rate_limit_us = delay_us;
  /* CPUFREQ_DBS_MIN_SAMPLING_INTERVAL = 2 ticks, or the transition delay if larger. */
  uint32_t two_ticks_us = (uint32_t)(2 * s->tick_ns / 1000);
  g->sampling_rate_us = two_ticks_us > delay_us ? two_ticks_us : delay_us;
  g->polling_ms = 50;
  g->dfso_upthreshold = 90;
  g->dfso_downdifferential = 5;
}

void dynrt__gov_start(dynrt__sim *s, int d, dynrt__gov_kind kind) {
  sim_domain *sd = &s->dom[d];
  dynrt__gov *g = &sd->gov;
  g->kind = kind;
  switch (kind) {
  case DYNRT__GOV_PERFORMANCE: dynrt__sim_set_cur(s, d, sd->pol_max); break;
  case DYNRT__GOV_POWERSAVE: dynrt__sim_set_cur(s, d, sd->pol_min); break;
  case DYNRT__GOV_USERSPACE: g->setspeed = dynrt__sim_target_khz(s, d); break;
  case DYNRT__GOV_SCHEDUTIL: dynrt__sugov_start(s, d); break;
  case DYNRT__GOV_ONDEMAND:
  case DYNRT__GOV_CONSERVATIVE: dynrt__dbs_start(s, d); break;
  case DYNRT__GOV_SIMPLE_ONDEMAND: dynrt__devfreq_start(s, d); break;
  }
}

void dynrt__gov_limits(dynrt__sim *s, int d) {
  sim_domain *sd = &s->dom[d];
  dynrt__gov *g = &sd->gov;
  switch (g->kind) {
  case DYNRT__GOV_PERFORMANCE: dynrt__sim_set_cur(s, d, sd->pol_max); break;
  case DYNRT__GOV_POWERSAVE: dynrt__sim_set_cur(s, d, sd->pol_min); break;
  case DYNRT__GOV_USERSPACE:
    /* cpufreq_userspace_policy_limits: go back to the request when the limits allow it. */
    if (sd->pol_max < g->setspeed)
      dynrt__sim_set_cur(s, d, dynrt__gov_resolve(s, d, sd->pol_max, DYNRT__REL_H));
    else if (sd->pol_min > g->setspeed)
      dynrt__sim_set_cur(s, d, dynrt__gov_resolve(s, d, sd->pol_min, DYNRT__REL_L));
    else
      dynrt__sim_set_cur(s, d, dynrt__gov_resolve(s, d, g->setspeed, DYNRT__REL_L));
    break;
  case DYNRT__GOV_SCHEDUTIL: dynrt__sugov_limits(s, d); break;
  case DYNRT__GOV_ONDEMAND:
  case DYNRT__GOV_CONSERVATIVE: dynrt__dbs_limits(s, d); break;
  case DYNRT__GOV_SIMPLE_ONDEMAND: dynrt__devfreq_poll(s, d); break;
  }
}

void dynrt__gov_hook(dynrt__sim *s, int d) {
  switch (s->dom[d].gov.kind) {
  case DYNRT__GOV_SCHEDUTIL: dynrt__sugov_update(s, d); break;
  case DYNRT__GOV_ONDEMAND:
  case DYNRT__GOV_CONSERVATIVE: dynrt__dbs_update_hook(s, d); break;
  default: break;
  }
}

uint64_t dynrt__gov_next_timer(const dynrt__sim *s, int d) {
  return s->dom[d].gov.kind == DYNRT__GOV_SIMPLE_ONDEMAND ? s->dom[d].gov.next_poll : UINT64_MAX;
}

void dynrt__gov_timer(dynrt__sim *s, int d) {
  if (s->dom[d].gov.kind != DYNRT__GOV_SIMPLE_ONDEMAND) return;
  dynrt__devfreq_poll(s, d);
  s->dom[d].gov.next_poll = s->now + (uint64_t)s->dom[d].gov.polling_ms * 1000000u;
}

typedef struct tunable {
  const char *name;
  dynrt__gov_kind k1, k2;
  size_t off;
  uint64_t lo, hi;
} tunable;

#define T(name, k1, k2, field, lo, hi)                                                             \
  { name, k1, k2, offsetof(dynrt__gov, field), lo, hi }
static const tunable tunables[] = {
    T("rate_limit_us", DYNRT__GOV_SCHEDUTIL, DYNRT__GOV_SCHEDUTIL, rate_limit_us, 0, 10000000),
    T("sampling_rate", DYNRT__GOV_ONDEMAND, DYNRT__GOV_CONSERVATIVE, sampling_rate_us, 1, 10000000),
    /* ondemand: MIN/MAX_FREQUENCY_UP_THRESHOLD 11..100 */
    T("up_threshold", DYNRT__GOV_ONDEMAND, DYNRT__GOV_ONDEMAND, up_threshold, 11, 100),
    T("up_threshold", DYNRT__GOV_CONSERVATIVE, DYNRT__GOV_CONSERVATIVE, up_threshold, 1, 100),
    T("down_threshold", DYNRT__GOV_CONSERVATIVE, DYNRT__GOV_CONSERVATIVE, down_threshold, 1, 99),
    T("freq_step", DYNRT__GOV_CONSERVATIVE, DYNRT__GOV_CONSERVATIVE, freq_step, 0, 100),
    T("sampling_down_factor", DYNRT__GOV_ONDEMAND, DYNRT__GOV_ONDEMAND, sampling_down_factor, 1,
      100000),
    T("sampling_down_factor", DYNRT__GOV_CONSERVATIVE, DYNRT__GOV_CONSERVATIVE,
      sampling_down_factor, 1, 10),
    T("polling_interval", DYNRT__GOV_SIMPLE_ONDEMAND, DYNRT__GOV_SIMPLE_ONDEMAND, polling_ms, 1,
      100000),
    T("upthreshold", DYNRT__GOV_SIMPLE_ONDEMAND, DYNRT__GOV_SIMPLE_ONDEMAND, dfso_upthreshold, 1,
      100),
    T("downdifferential", DYNRT__GOV_SIMPLE_ONDEMAND, DYNRT__GOV_SIMPLE_ONDEMAND,
      dfso_downdifferential, 0, 100),
};
#undef T

static const tunable *find_tunable(dynrt__gov_kind kind, const char *name) {
  for (size_t i = 0; i < sizeof tunables / sizeof tunables[0]; i++)
    if ((tunables[i].k1 == kind || tunables[i].k2 == kind) && !strcmp(tunables[i].name, name))
      return &tunables[i];
  return NULL;
}

dynrt_status dynrt__gov_set_tunable(dynrt__sim *s, int d, const char *name, uint64_t value) {
  dynrt__gov *g = &s->dom[d].gov;
  const tunable *t = find_tunable(g->kind, name);
  if (!t)
    return dynrt__seterr(&s->p->err, DYNRT_ERR_NOT_FOUND,
                         "sim: governor %s of domain %s has no "
                         "tunable '%s'",
                         dynrt__gov_name(g->kind), s->p->domains[d].name, name);
  if (value < t->lo || value > t->hi)
    return dynrt__seterr(&s->p->err, DYNRT_ERR_INVALID_ARG,
                         "sim: %s/%s = %llu outside [%llu, %llu]", dynrt__gov_name(g->kind), name,
                         (unsigned long long)value, (unsigned long long)t->lo,
                         (unsigned long long)t->hi);
  if (g->kind == DYNRT__GOV_SIMPLE_ONDEMAND) {
    uint32_t up = !strcmp(name, "upthreshold") ? (uint32_t)value : g->dfso_upthreshold;
    uint32_t dd = !strcmp(name, "downdifferential") ? (uint32_t)value : g->dfso_downdifferential;
    if (up < dd) /* the kernel's func returns -EINVAL then */
      return dynrt__seterr(&s->p->err, DYNRT_ERR_INVALID_ARG,
                           "sim: simple_ondemand upthreshold %u < downdifferential %u", up, dd);
  }
  if (g->kind == DYNRT__GOV_CONSERVATIVE) {
    uint32_t up = !strcmp(name, "up_threshold") ? (uint32_t)value : g->up_threshold;
    uint32_t dn = !strcmp(name, "down_threshold") ? (uint32_t)value : g->down_threshold;
    if (dn >= up) /* cs_dbs: down_threshold must stay below up_threshold */
      return dynrt__seterr(&s->p->err, DYNRT_ERR_INVALID_ARG,
                           "sim: conservative down_threshold %u >= up_threshold %u", dn, up);
  }
  *(uint32_t *)((char *)g + t->off) = (uint32_t)value;
  if (!strcmp(name, "sampling_rate")) g->sample_delay_ns = value * 1000u; /* store_sampling_rate */
  return DYNRT_OK;
}

dynrt_status dynrt__gov_get_tunable(const dynrt__sim *s, int d, const char *name, uint64_t *value) {
  const dynrt__gov *g = &s->dom[d].gov;
  const tunable *t = find_tunable(g->kind, name);
  if (!t) return DYNRT_ERR_NOT_FOUND;
  *value = *(const uint32_t *)((const char *)g + t->off);
  return DYNRT_OK;
}

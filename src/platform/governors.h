/*
 * governors.h - models of the Linux frequency governors acting on a simulated domain:
 * cpufreq schedutil, ondemand, conservative, performance, powersave, userspace and devfreq
 * simple_ondemand. Each mirrors the kernel algorithm named in its file (v6.8 semantics,
 * see docs/platforms.md). Governors read the simulated CPUs through sim_int.h and change
 * the frequency only through dynrt__sim_set_cur(); they never advance time.
 */
#ifndef DYNRT_GOVERNORS_H
#define DYNRT_GOVERNORS_H

#include <stdint.h>

#include "dynrt/common.h"
#include "dynrt/platform.h"

struct dynrt__sim;

typedef enum dynrt__gov_kind {
  DYNRT__GOV_USERSPACE = 0,
  DYNRT__GOV_PERFORMANCE,
  DYNRT__GOV_POWERSAVE,
  DYNRT__GOV_SCHEDUTIL,
  DYNRT__GOV_ONDEMAND,
  DYNRT__GOV_CONSERVATIVE,
  DYNRT__GOV_SIMPLE_ONDEMAND
} dynrt__gov_kind;

/* CPUFREQ_RELATION_L / H / C on an ascending OPP table, inside [lo, hi] (OPPs). */
typedef enum dynrt__relation {
  DYNRT__REL_L = 0, /* lowest OPP >= target */
  DYNRT__REL_H,     /* highest OPP <= target */
  DYNRT__REL_C      /* closest OPP; a tie picks the lower */
} dynrt__relation;

/* Governor state and tunables of one domain (one cpufreq policy or devfreq device). */
typedef struct dynrt__gov {
  dynrt__gov_kind kind;
  uint32_t setspeed; /* userspace: the last requested frequency (kHz) */
  /* schedutil (struct sugov_policy) */
  uint32_t rate_limit_us;
  uint64_t last_freq_update_time;
  uint32_t next_freq, cached_raw_freq;
  int need_freq_update, limits_changed;
  uint64_t saved_idle_calls; /* single-CPU policies: sugov_hold_freq */
  /* ondemand / conservative (struct dbs_data, policy_dbs_info, cpu_dbs_info) */
  uint32_t sampling_rate_us;
  uint32_t up_threshold;
  uint32_t down_threshold;
  uint32_t freq_step;
  uint32_t sampling_down_factor;
  uint64_t last_sample_time;
  uint64_t sample_delay_ns;
  uint32_t rate_mult;
  uint32_t idle_periods;
  uint32_t requested_freq;
  uint32_t down_skip;
  uint64_t prev_update_us[DYNRT_MAX_CPUS]; /* indexed by position in the domain */
  uint64_t prev_idle_us[DYNRT_MAX_CPUS];
  uint32_t prev_load[DYNRT_MAX_CPUS];
  /* devfreq simple_ondemand */
  uint32_t polling_ms;
  uint32_t dfso_upthreshold, dfso_downdifferential;
  uint64_t next_poll;
  uint64_t prev_busy_ns, prev_poll_ns;
} dynrt__gov;

/* Name <-> kind. For a GPU domain the CPU-only names "schedutil", "ondemand" and
 * "conservative" select simple_ondemand (the devfreq governor of the same intent). */
dynrt_status dynrt__gov_parse(const char *name, int gpu, dynrt__gov_kind *kind);
const char *dynrt__gov_name(dynrt__gov_kind kind);

/* Resolves target to an OPP of domain d inside its policy limits. */
uint32_t dynrt__gov_resolve(const struct dynrt__sim *s, int d, uint32_t target,
                            dynrt__relation rel);

/* Default tunables from the domain's transition latency and the tick (called at open). */
void dynrt__gov_defaults(struct dynrt__sim *s, int d);
/* Attaches governor `kind` to domain d at s->now (cpufreq_start / devfreq start). */
void dynrt__gov_start(struct dynrt__sim *s, int d, dynrt__gov_kind kind);
/* The policy limits of d changed (cap, mode, user limits): ->limits(). */
void dynrt__gov_limits(struct dynrt__sim *s, int d);
/* cpufreq_update_util(): a scheduler event (enqueue, dequeue, tick) on a CPU of d. */
void dynrt__gov_hook(struct dynrt__sim *s, int d);
/* Timer-driven governors (devfreq polling): the next expiry, UINT64_MAX if none. */
uint64_t dynrt__gov_next_timer(const struct dynrt__sim *s, int d);
void dynrt__gov_timer(struct dynrt__sim *s, int d);
/* Tunables by their sysfs names; DYNRT_ERR_NOT_FOUND for a name the governor lacks. */
dynrt_status dynrt__gov_set_tunable(struct dynrt__sim *s, int d, const char *name, uint64_t value);
dynrt_status dynrt__gov_get_tunable(const struct dynrt__sim *s, int d, const char *name,
                                    uint64_t *value);

/* Per-governor entry points (gov_schedutil.c, gov_ondemand.c, gov_conservative.c,
 * gov_devfreq.c); the dispatch in gov_core.c calls them. */
void dynrt__sugov_start(struct dynrt__sim *s, int d);
void dynrt__sugov_limits(struct dynrt__sim *s, int d);
void dynrt__sugov_update(struct dynrt__sim *s, int d);
uint32_t dynrt__sugov_rate_limit_us(uint32_t transition_latency_ns);
void dynrt__dbs_start(struct dynrt__sim *s, int d);
void dynrt__dbs_limits(struct dynrt__sim *s, int d);
void dynrt__dbs_update_hook(struct dynrt__sim *s, int d);
uint32_t dynrt__dbs_update(struct dynrt__sim *s, int d); /* load in %, as dbs_update() */
uint32_t dynrt__od_update(struct dynrt__sim *s, int d);  /* returns the next delay, us */
uint32_t dynrt__cs_update(struct dynrt__sim *s, int d);
void dynrt__devfreq_start(struct dynrt__sim *s, int d);
void dynrt__devfreq_poll(struct dynrt__sim *s, int d);

#endif /* DYNRT_GOVERNORS_H */

/*
 * platform_int.h - what a platform backend implements. platform.c owns the object, the
 * argument checks and the error message; a backend fills the info and the vtable.
 */
#ifndef DYNRT_PLATFORM_INT_H
#define DYNRT_PLATFORM_INT_H

#include "core/core.h"
#include "dynrt/platform.h"

typedef struct dynrt_platform_ops {
  void (*close)(dynrt_platform *p);
  dynrt_status (*get_freq)(dynrt_platform *p, int domain, uint32_t *khz);
  dynrt_status (*set_freq)(dynrt_platform *p, int domain, uint32_t khz, uint32_t *actual);
  dynrt_status (*get_limits)(dynrt_platform *p, int domain, uint32_t *min_khz, uint32_t *max_khz);
  dynrt_status (*set_governor)(dynrt_platform *p, int domain, const char *governor);
  dynrt_status (*get_governor)(dynrt_platform *p, int domain, char *buf, size_t size);
  dynrt_status (*available_cpus)(dynrt_platform *p, uint64_t *mask);
  dynrt_status (*assign)(dynrt_platform *p, int app, uint64_t cpu_mask);
  dynrt_status (*read_energy)(dynrt_platform *p, uint64_t *uj);
  dynrt_status (*read_power)(dynrt_platform *p, double *watts);
  dynrt_status (*read_util)(dynrt_platform *p, double *util, int ncpus);
  dynrt_status (*read_temp)(dynrt_platform *p, double *celsius);
  uint64_t (*now)(dynrt_platform *p);
  int (*poll_event)(dynrt_platform *p, dynrt_event *ev);
} dynrt_platform_ops;

struct dynrt_platform {
  const dynrt_platform_ops *ops;
  dynrt_platform_info info;
  dynrt_domain_info domains[DYNRT_MAX_DOMAINS];
  dynrt_err err;
  void *backend; /* the backend's own state */
};

/* Backend constructors: fill p->info, p->domains, p->ops, p->backend from `arg` (the part
 * of the spec after "name:", or NULL). On failure set p->err and return its status. */
dynrt_status dynrt__platform_linux_open(dynrt_platform *p, const char *arg);
dynrt_status dynrt__platform_host_open(dynrt_platform *p, const char *arg);
dynrt_status dynrt__platform_sim_open(dynrt_platform *p, const char *arg);

/* Lowest OPP >= khz, clamped to [lo, hi] (the kernel's CPUFREQ_RELATION_L). */
uint32_t dynrt__opp_resolve(const dynrt_domain_info *d, uint32_t khz, uint32_t lo, uint32_t hi);

#endif

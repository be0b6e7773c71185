/*
 * dynrt/platform.h - the hardware a runtime manager controls: frequency domains (CPU
 * clusters, GPU) with their operating points, cores, energy sensors, utilisation,
 * temperature, and the events the platform imposes (frequency caps, cores taken away).
 *
 * One interface, three backends, chosen by a spec string:
 *   "linux"                 the running Linux system's sysfs/procfs (real boards)
 *   "linux:/path/to/root"   the same with every path under a root (tests use fake trees)
 *   "host"                  this machine without DVFS: real core allocation, one fixed
 *                           frequency, energy from a sensor or a documented model
 *   "sim:platforms/NAME.json"  a simulated board in virtual time (see dynrt/sim.h)
 *
 * Units: frequencies in kHz for every domain (devfreq Hz are converted), energy in µJ
 * (monotonic, 64-bit), power in W, temperature in °C, times in ns.
 *
 * Errors: every call returns a dynrt_status; dynrt_platform_errmsg() gives the message of
 * the last failure of that platform object. No call crashes on a missing, unreadable or
 * garbage sysfs file. Whether energy is measured or modelled is always reported
 * (dynrt_platform_info.energy_modelled), and every output built on it must say so.
 *
 * Leaving the device as found (linux backend): the first change of a domain saves its
 * governor and limits (in memory and in a state file); close, SIGINT/SIGTERM, and the
 * next open after a crash restore them.
 *
 * Thread-safety: a platform object is used by one thread at a time (the runtime manager
 * serialises its calls), except dynrt_platform_read_energy, which is safe to call
 * concurrently with the others.
 */
#ifndef DYNRT_PLATFORM_H
#define DYNRT_PLATFORM_H

#include <stdint.h>

#include "dynrt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DYNRT_MAX_CPUS 64
#define DYNRT_MAX_DOMAINS 8
#define DYNRT_MAX_OPPS 64

typedef struct dynrt_platform dynrt_platform;

typedef enum dynrt_domain_kind { DYNRT_DOMAIN_CPU = 0, DYNRT_DOMAIN_GPU = 1 } dynrt_domain_kind;

typedef struct dynrt_opp {
  uint32_t khz;        /* frequency */
  uint32_t microvolts; /* 0 when unknown */
} dynrt_opp;

typedef struct dynrt_domain_info {
  char name[32]; /* "cpu0", "big", "little", "gpu" */
  dynrt_domain_kind kind;
  int ncpus; /* CPU domains: the cores of the cluster */
  int cpus[DYNRT_MAX_CPUS];
  int nopps; /* ascending frequency */
  dynrt_opp opps[DYNRT_MAX_OPPS];
  double capacity;        /* per-core speed at the top OPP relative to the host core = 1 */
  uint32_t transition_us; /* frequency transition latency */
  int can_set_freq;       /* 0 when the backend can only monitor this domain */
} dynrt_domain_info;

typedef struct dynrt_platform_info {
  char name[64];    /* board name, e.g. "xavier-nx (simulated)" */
  char backend[16]; /* "linux", "host", "sim" */
  int ndomains;
  int ncpus;           /* CPUs the platform knows (possible) */
  int energy_modelled; /* 1: energy comes from a model, not a sensor */
  int simulated;       /* 1: virtual time, simulated hardware */
  int can_control;     /* 0: monitoring only (no permission), and said why in errmsg */
} dynrt_platform_info;

/* Event the platform imposes on the manager. */
typedef enum dynrt_event_kind {
  DYNRT_EVENT_NONE = 0,
  DYNRT_EVENT_FREQ_CAP,     /* domain's maximum frequency changed (thermal, battery) */
  DYNRT_EVENT_CPUS_CHANGED, /* the set of cores available to dynrt changed */
  DYNRT_EVENT_LOAD_CHANGED  /* foreign load on some cores appeared or went */
} dynrt_event_kind;

typedef struct dynrt_event {
  dynrt_event_kind kind;
  uint64_t time_ns;
  int domain;        /* FREQ_CAP */
  uint32_t max_khz;  /* FREQ_CAP: new cap */
  uint64_t cpu_mask; /* CPUS_CHANGED: available cores; LOAD_CHANGED: loaded cores */
} dynrt_event;

/*
 * Opens a platform. On failure returns a status, sets *out to NULL and writes a message
 * to errbuf (if not NULL). The returned object is destroyed with dynrt_platform_close(),
 * which restores everything the platform changed.
 */
DYNRT_API dynrt_status dynrt_platform_open(const char *spec, dynrt_platform **out, char *errbuf,
                                           size_t errlen);
DYNRT_API void dynrt_platform_close(dynrt_platform *p);
DYNRT_API const char *dynrt_platform_errmsg(const dynrt_platform *p);

DYNRT_API const dynrt_platform_info *dynrt_platform_get_info(const dynrt_platform *p);
DYNRT_API const dynrt_domain_info *dynrt_platform_domain(const dynrt_platform *p, int domain);
/* The domain a CPU belongs to, or -1. */
DYNRT_API int dynrt_platform_cpu_domain(const dynrt_platform *p, int cpu);

/* Current frequency (what the hardware runs, as far as the backend can tell). */
DYNRT_API dynrt_status dynrt_platform_get_freq(dynrt_platform *p, int domain, uint32_t *khz);
/* Pins the domain to the lowest OPP >= khz within its current limits; *actual (may be
 * NULL) receives the frequency set. Writes only when it changes. */
DYNRT_API dynrt_status dynrt_platform_set_freq(dynrt_platform *p, int domain, uint32_t khz,
                                               uint32_t *actual);
/* Current limits (caps) of a domain: what the platform allows right now. */
DYNRT_API dynrt_status dynrt_platform_get_limits(dynrt_platform *p, int domain, uint32_t *min_khz,
                                                 uint32_t *max_khz);
/* Hands the domain to a governor ("schedutil", "ondemand", "conservative", "performance",
 * "powersave"): the Linux one on real boards, a faithful model in the simulator. */
DYNRT_API dynrt_status dynrt_platform_set_governor(dynrt_platform *p, int domain,
                                                   const char *governor);
DYNRT_API dynrt_status dynrt_platform_get_governor(dynrt_platform *p, int domain, char *buf,
                                                   size_t size);

/* Cores available to dynrt now (online, allowed by the cpuset, not taken by the platform). */
DYNRT_API dynrt_status dynrt_platform_available_cpus(dynrt_platform *p, uint64_t *mask);
/* Tells the platform which cores an app's threads use (the app's pool pins them). The
 * simulator uses it for utilisation and power; real backends record it. */
DYNRT_API dynrt_status dynrt_platform_assign(dynrt_platform *p, int app, uint64_t cpu_mask);

/* Total energy since open, µJ, monotonic (wrap-around handled). */
DYNRT_API dynrt_status dynrt_platform_read_energy(dynrt_platform *p, uint64_t *uj);
/* Average power over the interval since the previous call (W). */
DYNRT_API dynrt_status dynrt_platform_read_power(dynrt_platform *p, double *watts);
/* Per-CPU utilisation in [0,1] since the previous call; util has room for ncpus entries. */
DYNRT_API dynrt_status dynrt_platform_read_util(dynrt_platform *p, double *util, int ncpus);
/* Hottest thermal zone in °C. */
DYNRT_API dynrt_status dynrt_platform_read_temp(dynrt_platform *p, double *celsius);

/* Platform time in ns: monotonic clock, or virtual time in the simulator. */
DYNRT_API uint64_t dynrt_platform_now(dynrt_platform *p);
/* Next pending event; returns 1 and fills *ev, or 0 when none. */
DYNRT_API int dynrt_platform_poll_event(dynrt_platform *p, dynrt_event *ev);

#ifdef __cplusplus
}
#endif
#endif /* DYNRT_PLATFORM_H */

/*
 * dynrt/sim.h - driving a simulated board ("sim:platforms/NAME.json" platform) in virtual
 * time. The generic interface (dynrt/platform.h) works on a simulated platform as on a real
 * one; this header adds what only a simulation has: a clock the caller advances, inference
 * jobs whose duration follows frequency, cores and contention, background load, timed
 * platform events (caps, cores taken, named power modes) and exact energy.
 *
 * Model (docs/platforms.md has the equations and which numbers are published):
 *  - A job's work is compute_ns (scales with 1/f) + memory_ns (does not; optionally
 *    (f_max/f)^exp), both measured on ONE core of the job's domain at its top OPP.
 *    On n cores the time divides by the Amdahl speedup 1/((1-p) + p/n), p = the board's
 *    "parallel_fraction"; threads are split statically, so the slowest thread sets the pace.
 *  - CPUs are time-shared fairly (CFS): a core with k runnable entities (job threads and
 *    busy background loads) gives each 1/k. On a GPU domain n jobs overlap: compute slows
 *    by 1 + (n-1)*kappa (board "contention.compute_slowdown_per_job").
 *  - Progress is integrated exactly over piecewise-constant segments (frequency, sharing);
 *    nothing is stepped per µs. Energy: P = base + sum over powered domains of (idle +
 *    static(V) + sum over busy cores C*V^2*f), integrated exactly; each job is attributed
 *    its share of the cores it runs on (dynamic plus the domain's static and idle power per
 *    online core); the board base power is not attributed.
 *  - Governors run as the kernel runs them: at scheduler events (job or background start
 *    and end, ticks of busy CPUs) and at their rate limits / sampling periods.
 *  - Noise: job durations (log-normal, relative sigma) and read_power (Gaussian) from a
 *    seeded xoshiro256** generator; the same seed gives identical traces.
 *
 * Every function takes the platform returned by dynrt_platform_open("sim:..."); any other
 * backend gives DYNRT_ERR_UNSUPPORTED. Times are ns of virtual time since open (t = 0).
 * Thread-safety: none; one thread drives a simulation.
 */
#ifndef DYNRT_SIM_H
#define DYNRT_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "dynrt/common.h"
#include "dynrt/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DYNRT_SIM_MAX_JOBS 256
#define DYNRT_SIM_FOREVER UINT64_MAX
/* The share of a job's work whose time its completion reports as tail_ns: what an engine's
 * per-layer times give for the last layers of an inference. */
#define DYNRT_SIM_TAIL_FRACTION 0.0625

/* A running job; 0 is never a valid handle. Handles are not reused for 2^32 starts. */
typedef uint64_t dynrt_sim_job;

typedef struct dynrt_sim_completion {
  dynrt_sim_job job;
  int app;
  int domain; /* GPU domain, or the CPU domain of the job's lowest CPU */
  uint64_t start_ns;
  uint64_t end_ns;
  double energy_uj; /* attributed to this job (see the model above) */
  int cancelled;    /* 1 when ended by dynrt_sim_job_cancel */
  uint64_t tail_ns; /* time the last DYNRT_SIM_TAIL_FRACTION of the work took (0: cancelled) */
} dynrt_sim_completion;

/* Opens a simulated board: the same as dynrt_platform_open("sim:" board, ...). board is a
 * path to a description or a preset name ("xavier-nx" -> platforms/xavier-nx.json, looked
 * up from the working directory, then under $DYNRT_SOURCE_DIR). Close with
 * dynrt_platform_close(). */
DYNRT_API dynrt_status dynrt_sim_open(const char *board, dynrt_platform **out, char *errbuf,
                                      size_t errlen);

/* ---- clock ---- */

/* Advances virtual time to t (>= now), processing every event on the way: governors,
 * PELT, timed events, background phases, job completions (queued for
 * dynrt_sim_poll_completion). t < now is DYNRT_ERR_INVALID_ARG. */
DYNRT_API dynrt_status dynrt_sim_advance_to(dynrt_platform *p, uint64_t t);

/* Advances virtual time until no frequency change is in flight (a change takes effect the
 * domain's transition_latency_ns after it is requested; docs/platforms.md), so that what
 * follows runs at the frequencies just set. No time passes when none is pending; a
 * governor that keeps requesting as its changes land is followed for 16 changes at most. */
DYNRT_API dynrt_status dynrt_sim_settle(dynrt_platform *p);

/* Advances until the next job completes or t_limit is reached, whichever comes first.
 * Returns 1 and fills *done (clock = completion time), or 0 (clock = t_limit), or a
 * negative dynrt_status. Completions queued by dynrt_sim_advance_to come out first. */
DYNRT_API int dynrt_sim_run_until(dynrt_platform *p, uint64_t t_limit, dynrt_sim_completion *done);

/* Takes one queued completion: 1 and *done filled, or 0 when none. */
DYNRT_API int dynrt_sim_poll_completion(dynrt_platform *p, dynrt_sim_completion *done);

/* Predicted time of the next completion at the current rates (it moves when frequency or
 * sharing changes). DYNRT_ERR_NOT_FOUND when no job runs. */
DYNRT_API dynrt_status dynrt_sim_next_completion(dynrt_platform *p, uint64_t *t);

/* ---- jobs ---- */

/*
 * Starts a job at the current time. domain < 0: a CPU job on cpu_mask (one thread per CPU
 * in the mask; 0 means the mask given to dynrt_platform_assign for app); the CPUs must be
 * online. domain = a GPU domain index: a GPU job (cpu_mask ignored). compute_ns and
 * memory_ns >= 0, not both 0. The board's latency noise is applied once, here.
 */
DYNRT_API dynrt_status dynrt_sim_job_start(dynrt_platform *p, int app, int domain,
                                           uint64_t cpu_mask, double compute_ns, double memory_ns,
                                           dynrt_sim_job *job);
/* Ends a running job now; *partial (may be NULL) gets its record with cancelled = 1. */
DYNRT_API dynrt_status dynrt_sim_job_cancel(dynrt_platform *p, dynrt_sim_job job,
                                            dynrt_sim_completion *partial);
/* Fraction of the work still to do (1 at start, 0 at the end) and energy so far. */
DYNRT_API dynrt_status dynrt_sim_job_progress(dynrt_platform *p, dynrt_sim_job job,
                                              double *remaining, double *energy_uj);

/* Splits a latency measured at the top OPP on one core of `domain` into compute and
 * memory parts with the domain's memory fraction. */
DYNRT_API dynrt_status dynrt_sim_split_latency(dynrt_platform *p, int domain, double latency_ns,
                                               double *compute_ns, double *memory_ns);
/* Time a job would take alone (no noise, no sharing) on `ncores` cores of `domain` at khz. */
DYNRT_API dynrt_status dynrt_sim_predict_ns(dynrt_platform *p, int domain, uint32_t khz, int ncores,
                                            double compute_ns, double memory_ns, double *ns);

/* ---- background load and timed events (all may be scheduled in the future) ---- */

/* A foreign process (like `stress`) on every CPU of cpu_mask from t_start to t_end
 * (DYNRT_SIM_FOREVER: never ends), busy for duty*period_ns at the start of every period.
 * duty in (0, 1]; period_ns > 0. Raises DYNRT_EVENT_LOAD_CHANGED when it starts and ends. */
DYNRT_API dynrt_status dynrt_sim_add_background(dynrt_platform *p, uint64_t t_start, uint64_t t_end,
                                                uint64_t cpu_mask, double duty, uint64_t period_ns,
                                                uint32_t *id);
/* Ends background `id` at time t (>= now). */
DYNRT_API dynrt_status dynrt_sim_stop_background(dynrt_platform *p, uint32_t id, uint64_t t);
/* At time t the domain's maximum becomes max_khz (thermal or battery cap; 0 lifts it).
 * Raises DYNRT_EVENT_FREQ_CAP. */
DYNRT_API dynrt_status dynrt_sim_schedule_cap(dynrt_platform *p, uint64_t t, int domain,
                                              uint32_t max_khz);
/* At time t the cores in taken_mask are taken from dynrt (unavailable; jobs already there
 * keep running); the others are given back. Raises DYNRT_EVENT_CPUS_CHANGED. */
DYNRT_API dynrt_status dynrt_sim_schedule_take(dynrt_platform *p, uint64_t t, uint64_t taken_mask);
/* At time t the named mode (nvpmodel-like: online cores, per-domain min/max) applies.
 * Threads on cores going offline migrate to the lowest online core of their job's domain. */
DYNRT_API dynrt_status dynrt_sim_schedule_mode(dynrt_platform *p, uint64_t t, const char *mode);
/* Named modes of the board: count, and name of mode i (NULL when out of range). */
DYNRT_API int dynrt_sim_mode_count(dynrt_platform *p);
DYNRT_API const char *dynrt_sim_mode_name(dynrt_platform *p, int i);

/* ---- governors and limits ---- */

/* scaling_min_freq / scaling_max_freq (devfreq min_freq / max_freq) of a domain, kHz;
 * 0 = the hardware limit. Takes effect now. */
DYNRT_API dynrt_status dynrt_sim_set_limits(dynrt_platform *p, int domain, uint32_t min_khz,
                                            uint32_t max_khz);
/* Governor tunables by their sysfs names: schedutil "rate_limit_us"; ondemand
 * "sampling_rate", "up_threshold", "sampling_down_factor"; conservative "sampling_rate",
 * "up_threshold", "down_threshold", "freq_step", "sampling_down_factor"; simple_ondemand
 * "polling_interval" (ms), "upthreshold", "downdifferential". */
DYNRT_API dynrt_status dynrt_sim_set_tunable(dynrt_platform *p, int domain, const char *name,
                                             uint64_t value);
DYNRT_API dynrt_status dynrt_sim_get_tunable(dynrt_platform *p, int domain, const char *name,
                                             uint64_t *value);

/* ---- observation ---- */

typedef struct dynrt_sim_cpu_state {
  int online;
  int taken;
  unsigned nr_running; /* job threads + busy background entities */
  uint32_t util_avg;   /* PELT, 0..1024 */
  uint32_t runnable_avg;
  uint32_t util_est;
  uint32_t util;    /* what schedutil uses: max(util, runnable, util_est) capped */
  uint64_t busy_ns; /* busy time since open */
} dynrt_sim_cpu_state;
DYNRT_API dynrt_status dynrt_sim_cpu_state_get(dynrt_platform *p, int cpu, dynrt_sim_cpu_state *st);
/* Modelled power now (W, no sensor noise) and exact energy since open (µJ). */
DYNRT_API dynrt_status dynrt_sim_power(dynrt_platform *p, double *watts, double *energy_uj);

/* Seeds the noise generator (the board's "seed" at open, else 1). */
DYNRT_API dynrt_status dynrt_sim_set_seed(dynrt_platform *p, uint64_t seed);
/* Relative sigmas of job-duration noise and read_power noise (0 disables). */
DYNRT_API dynrt_status dynrt_sim_set_noise(dynrt_platform *p, double latency_sigma,
                                           double power_sigma);

typedef enum dynrt_sim_trace_kind {
  DYNRT_SIM_TRACE_FREQ = 1, /* a domain changed frequency: domain, khz */
  DYNRT_SIM_TRACE_JOB_START,
  DYNRT_SIM_TRACE_JOB_END,
  DYNRT_SIM_TRACE_EVENT /* a platform event fired: event */
} dynrt_sim_trace_kind;
typedef struct dynrt_sim_trace_rec {
  dynrt_sim_trace_kind kind;
  uint64_t t;
  int domain;
  uint32_t khz;
  dynrt_sim_job job;
  int app;
  dynrt_event event;
} dynrt_sim_trace_rec;
typedef void (*dynrt_sim_trace_fn)(void *user, const dynrt_sim_trace_rec *rec);
/* Calls fn for every frequency change, job start and end, and event (NULL stops). */
DYNRT_API dynrt_status dynrt_sim_set_trace(dynrt_platform *p, dynrt_sim_trace_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif /* DYNRT_SIM_H */

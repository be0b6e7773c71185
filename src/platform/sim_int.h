/*
 * sim_int.h - internals of the simulated platform shared by sim.c (engine), sim_board.c
 * (board description loader) and the governor models (gov_*.c). Nothing outside
 * src/platform/ includes it; the public surface is dynrt/platform.h and dynrt/sim.h.
 */
#ifndef DYNRT_SIM_INT_H
#define DYNRT_SIM_INT_H

#include <stdint.h>

#include "dynrt/sim.h"
#include "platform/governors.h"
#include "platform/pelt.h"
#include "platform/platform_int.h"

#define SIM_MAX_JOBS DYNRT_SIM_MAX_JOBS
#define SIM_MAX_BG 32
#define SIM_MAX_TIMED 256
#define SIM_MAX_MODES 16
#define SIM_EVQ 64
#define SIM_MAX_APPS 64

/* Power and speed model of one domain, from the board description (immutable). */
typedef struct sim_domain_model {
  double dyn_coeff;        /* C: W per (V^2 * GHz) per busy core (GPU: per busy GPU) */
  double static_w_per_v;   /* leakage k_s: P_static = k_s * V */
  int static_per_core;     /* 1: k_s * V per online core; 0: once per powered domain */
  double idle_w;           /* constant while the domain is powered */
  uint32_t sched_capacity; /* arch_scale_cpu_capacity (1024 for the biggest CPU type) */
  double mem_fraction;     /* default memory (frequency-independent) share at top OPP */
  double mem_freq_exp;     /* memory part time scales by (f_max/f)^exp; 0 = independent */
  double share_kappa;      /* GPU: compute slows by 1 + (n-1)*kappa with n jobs */
  int timeslice;           /* 1: CFS time sharing (CPUs); 0: overlap model (GPU) */
  char governor[16];       /* governor at open */
} sim_domain_model;

/* Live state of a domain. */
typedef struct sim_domain {
  sim_domain_model m;
  uint32_t cur_khz;
  int cur_idx;
  double volts;                /* at cur */
  double fscale;               /* f_max / f_cur */
  double mscale;               /* fscale ^ mem_freq_exp */
  uint32_t freq_cap;           /* arch_scale_freq_capacity: 1024 * cur / max */
  uint32_t user_min, user_max; /* scaling_min/max_freq (or devfreq min/max) */
  uint32_t cap_max;            /* thermal / battery cap (events) */
  uint32_t mode_min, mode_max; /* named mode limits */
  uint32_t pol_min, pol_max;   /* effective policy limits */
  uint32_t pend_khz;           /* frequency being switched to (0: none), applied at pend_at */
  uint64_t pend_at;            /* = request time + the domain's transition latency */
  dynrt__gov gov;
  /* GPU bookkeeping (CPU domains use the per-CPU counters) */
  int gpu_jobs;
  uint64_t busy_ns; /* accumulated busy time (GPU) */
  uint64_t busy_since;
} sim_domain;

typedef struct sim_cpu {
  int domain;
  int online;       /* hotplug (named modes) */
  int taken;        /* taken from dynrt by the platform (event) */
  int jobs;         /* job threads placed here */
  int bg;           /* background entities in their busy phase */
  uint64_t busy_ns; /* accumulated busy time up to busy_since or now */
  uint64_t busy_since;
  uint64_t idle_calls; /* times the CPU entered idle (tick_nohz idle_calls) */
  dynrt__pelt_rq rq;
  uint64_t util_prev_busy, util_prev_t; /* for dynrt_platform_read_util */
} sim_cpu;

typedef struct sim_job {
  uint32_t gen; /* generation; 0 = free slot */
  int app;
  int domain; /* GPU domain, or the CPU domain of the lowest CPU */
  int gpu;    /* 1 = runs on a GPU domain */
  int nthreads;
  int8_t thread_cpu[DYNRT_MAX_CPUS];
  double compute_ns, memory_ns; /* after noise */
  double speedup;
  double remaining; /* fraction of the work left, 1 -> 0 */
  double rate;      /* fraction per ns in the current segment */
  double power_w;   /* attributed power in the current segment */
  double energy_uj;
  uint64_t start_ns;
  uint64_t done_ns;  /* predicted completion at the current rate */
  double tail_start; /* when remaining fell to DYNRT_SIM_TAIL_FRACTION (ns; 0: not yet) */
} sim_job;

typedef struct sim_bg {
  int active;  /* slot in use */
  int present; /* between t_start and t_end */
  int on;      /* in its busy phase */
  uint64_t cpu_mask;
  double duty;
  uint64_t period_ns, on_ns;
  uint64_t t_start, t_end;
  uint64_t next_toggle;
  uint32_t id;
} sim_bg;

typedef enum sim_timed_kind {
  SIM_T_CAP = 1,
  SIM_T_TAKE,
  SIM_T_MODE,
  SIM_T_BG_START,
  SIM_T_BG_END
} sim_timed_kind;

typedef struct sim_timed {
  uint64_t t;
  uint64_t seq; /* insertion order: equal times fire in the order scheduled */
  sim_timed_kind kind;
  int domain;
  uint32_t khz;
  uint64_t mask;
  int index; /* mode index or background slot */
} sim_timed;

typedef struct sim_mode {
  char name[48];
  uint64_t online_mask;
  uint32_t min_khz[DYNRT_MAX_DOMAINS]; /* 0 = unchanged (hardware min) */
  uint32_t max_khz[DYNRT_MAX_DOMAINS]; /* 0 = unchanged (hardware max) */
} sim_mode;

typedef struct dynrt__sim {
  dynrt_platform *p;
  int started; /* open done: frequency changes take the transition latency from now on */
  int ndom;
  int ncpus;
  sim_domain dom[DYNRT_MAX_DOMAINS];
  sim_cpu cpu[DYNRT_MAX_CPUS];
  /* board */
  double base_w;
  double parallel_fraction;
  double lat_sigma, power_sigma;
  uint64_t tick_ns;
  int freq_invariant;
  int nmodes;
  sim_mode modes[SIM_MAX_MODES];
  int cur_mode;
  /* clock and integration */
  uint64_t now;
  double energy_uj;
  double power_w;     /* in the current segment */
  int dirty;          /* rates and power must be recomputed */
  uint64_t last_tick; /* time of the last tick processed (UINT64_MAX: none yet) */
  int free_slots[SIM_MAX_JOBS];
  int nfree;
  /* jobs */
  sim_job jobs[SIM_MAX_JOBS];
  int active[SIM_MAX_JOBS]; /* slot indices of running jobs */
  int nactive;
  uint32_t gen_counter;
  dynrt_sim_completion done[SIM_MAX_JOBS];
  int done_head, done_count;
  uint64_t next_done; /* earliest done_ns among active jobs */
  uint64_t app_mask[SIM_MAX_APPS];
  /* background and timed events */
  sim_bg bg[SIM_MAX_BG];
  int bg_hi; /* slots in use are below this index */
  uint32_t bg_counter;
  sim_timed timed[SIM_MAX_TIMED];
  int ntimed;
  uint64_t timed_seq;
  dynrt_event evq[SIM_EVQ];
  int evq_head, evq_count;
  /* sensors */
  uint64_t rng[4];
  uint64_t seed;
  double spare; /* second normal value of the last polar pair */
  int has_spare;
  uint64_t pow_prev_t;
  double pow_prev_e;
  /* trace */
  dynrt_sim_trace_fn trace_fn;
  void *trace_user;
} dynrt__sim;

/* sim_board.c: parses a board description into s and p (info, domains). */
dynrt_status dynrt__sim_board_load(dynrt__sim *s, const char *path);
/* The same from a JSON text of len bytes; `path` names it in messages. */
dynrt_status dynrt__sim_board_parse(dynrt__sim *s, const char *text, size_t len, const char *path);

/* sim.c: dynrt__platform_sim_open on a board description given as text (fuzzing, tests);
 * `name` names it in messages. Close p's backend with p->ops->close, as after a failed open. */
dynrt_status dynrt__platform_sim_open_text(dynrt_platform *p, const char *text, size_t len,
                                           const char *name);

/* sim.c, for the governors: switches a domain to khz (an OPP inside the policy limits). */
void dynrt__sim_set_cur(dynrt__sim *s, int d, uint32_t khz);
/* The target of a frequency request in flight, else the frequency in effect. */
uint32_t dynrt__sim_target_khz(const dynrt__sim *s, int d);
/* Brings the PELT of every CPU of domain d up to s->now. Returns 1 if any decayed. */
int dynrt__sim_sync_domain(dynrt__sim *s, int d);
/* Cumulative busy time of a CPU (or the GPU domain when cpu < 0) at s->now, ns. */
uint64_t dynrt__sim_cpu_busy(const dynrt__sim *s, int cpu);
uint64_t dynrt__sim_gpu_busy(const dynrt__sim *s, int d);

#endif /* DYNRT_SIM_INT_H */

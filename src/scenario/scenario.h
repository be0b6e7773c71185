/*
 * scenario.h - scenarios (scenarios/NAME.json, docs/formats.md "Scenario"): what runs, on
 * which platform, with which requirements, what happens over time, and which policies are
 * compared; the simulated and real runners; the metrics they produce and the HTML report.
 *
 * Module prefix: dynrt_scn_ (internal to the dynrt command and the tests, not installed).
 * Ownership: a dynrt_scn is one allocation owned by the caller (dynrt_scn_free). Results
 * (dynrt_scn_result) own their record arrays (dynrt_scn_result_free).
 * Errors: functions return dynrt_status and write a message naming the file, the field and
 * the bad value into errbuf ("two.json: apps[1].latency_ms = -3 (must be > 0)").
 * Thread-safety: none; one thread drives a run (the real runner makes its own threads).
 */
#ifndef DYNRT_SCENARIO_H
#define DYNRT_SCENARIO_H

#include <stdint.h>
#include <stdio.h>

#include "dynrt/offline.h"
#include "dynrt/oplib.h"
#include "dynrt/platform.h"

#define DYNRT_SCN_MAX_APPS 8
#define DYNRT_SCN_MAX_EVENTS 128
#define DYNRT_SCN_MAX_POLICIES 16
#define DYNRT_SCN_PATH_MAX 512
#define DYNRT_SCN_NEVER UINT64_MAX
#define DYNRT_SCN_FORMAT "dynrt-scenario"
#define DYNRT_SCN_VERSION 1

typedef enum dynrt_scn_event_kind {
  DYNRT_SCN_EV_TARGET = 1, /* app's latency target (latency_ms) */
  DYNRT_SCN_EV_FLOOR,      /* app's accuracy floor */
  DYNRT_SCN_EV_PERIOD,     /* app's frame period (0 = back-to-back) */
  DYNRT_SCN_EV_PRIORITY,   /* app's priority */
  DYNRT_SCN_EV_LOAD,       /* foreign load: busy loop on cpus (duty cycle) or a GPU job */
  DYNRT_SCN_EV_CAP,        /* a domain's maximum frequency (thermal/battery); 0 lifts it */
  DYNRT_SCN_EV_MODE,       /* a named power mode of the board (nvpmodel-like) */
  DYNRT_SCN_EV_TAKE        /* cores taken from dynrt (the others given back) */
} dynrt_scn_event_kind;

typedef struct dynrt_scn_event {
  dynrt_scn_event_kind kind;
  uint64_t at_ns;
  uint64_t until_ns; /* LOAD: end, DYNRT_SCN_NEVER = to the end of the run */
  int app;           /* TARGET, FLOOR, PERIOD, PRIORITY: index into apps */
  double value;      /* TARGET: ms; FLOOR: [0,1]; PERIOD: ms; PRIORITY */
  uint64_t cpu_mask; /* LOAD on CPUs, TAKE */
  char domain[32];   /* LOAD on a GPU domain, CAP */
  double duty;       /* LOAD on CPUs: busy fraction of every load period, (0,1] */
  uint64_t load_period_ns;
  uint32_t max_khz; /* CAP */
  char mode[48];    /* MODE */
} dynrt_scn_event;

enum { DYNRT_SCN_DERIVE_NO = 0, DYNRT_SCN_DERIVE_ALL, DYNRT_SCN_DERIVE_GPU, DYNRT_SCN_DERIVE_CPU };

typedef struct dynrt_scn_app {
  char name[64];
  /* Resolved path of a model file, "" = none (simulated), "auto" = the real runner picks
   * models/cifar10-smoke.safetensors if present, else tests/fixtures/tiny.safetensors. */
  char model[DYNRT_SCN_PATH_MAX];
  /* Resolved path of its op library; "auto" (with model "auto"): the model's host library
   * (MODEL.oplib.json for platform "host") if present, else profiled at start. */
  char oplib[DYNRT_SCN_PATH_MAX];
  /* Not DYNRT_SCN_DERIVE_NO: the op library's points are derived for the scenario's
   * platform from its per-sub-network work split (derive.c), on all its domains or only
   * its GPU or CPU domains; every such point is labelled modelled. */
  int derive;
  /* Where the library's work split was measured ("work_ref": a domain of a board file, at
   * its top frequency, on one core): its capacity relative to the host core, which makes
   * work portable across boards. 1 = on the host reference core (no work_ref). */
  double work_capacity;
  char work_ref[DYNRT_SCN_PATH_MAX + 40]; /* "platforms/x.json:gpu" for messages, "" */
  uint64_t period_ns;                     /* frame period, 0 = back-to-back */
  uint64_t latency_ns;                    /* latency target */
  double accuracy_floor;                  /* [0,1] */
  int priority;
  uint64_t start_ns, stop_ns; /* stop DYNRT_SCN_NEVER = runs to the end */
} dynrt_scn_app;

typedef struct dynrt_scn {
  char path[DYNRT_SCN_PATH_MAX]; /* the file as given (for messages) */
  char name[64];
  char description[512];
  char platform[DYNRT_SCN_PATH_MAX + 8]; /* spec with a resolved path: "sim:/abs/x.json" */
  int simulated;                         /* platform spec is "sim:..." */
  uint64_t duration_ns;
  uint64_t seed;
  uint64_t rtm_period_ns;   /* level-2 period, 0 = the manager's default */
  uint64_t trace_period_ns; /* per-period trace sampling */
  int napps;
  dynrt_scn_app apps[DYNRT_SCN_MAX_APPS];
  int nevents; /* sorted by at_ns (stable) */
  dynrt_scn_event events[DYNRT_SCN_MAX_EVENTS];
  int npolicies;
  char policies[DYNRT_SCN_MAX_POLICIES][48];
} dynrt_scn;

/* ---- scenario.c ---- */

/* Reads and validates a scenario file. Relative paths inside it (platform file, models, op
 * libraries) are resolved against the scenario's folder, then its parent (the repository
 * root for scenarios/x.json), then the current directory. *out is NULL on failure. */
dynrt_status dynrt_scn_load(const char *path, dynrt_scn **out, char *errbuf, size_t errlen);
/* Same from a JSON text; `path` names it in messages and anchors relative paths. */
dynrt_status dynrt_scn_parse(const char *json, size_t len, const char *path, dynrt_scn **out,
                             char *errbuf, size_t errlen);
void dynrt_scn_free(dynrt_scn *scn);
/* dynrt_platform_open, but "sim:FILE" through dynrt_sim_open; never DYNRT_OK without an
 * object. */
dynrt_status dynrt_scn_platform_open(const char *spec, dynrt_platform **out, char *errbuf,
                                     size_t errlen);
/* Checks what needs the platform: CPU numbers, domain names, mode names, that each event's
 * cores exist. Messages name the scenario, the field and the value. */
dynrt_status dynrt_scn_check_platform(const dynrt_scn *scn, dynrt_platform *p, char *errbuf,
                                      size_t errlen);
/* Expands a policy list: "all" or comma-separated names (validated); NULL = the
 * scenario's list. Writes up to DYNRT_SCN_MAX_POLICIES names into scn->policies. */
dynrt_status dynrt_scn_set_policies(dynrt_scn *scn, const char *list, char *errbuf, size_t errlen);
/* The policies "all" stands for, NULL-terminated. */
const char *const *dynrt_scn_all_policies(void);
/* "static-max:schedutil" -> "static-max_schedutil" (file names). */
void dynrt_scn_policy_slug(const char *policy, char *buf, size_t size);

/* ---- derive.c ---- */

/* How dynrt_scn_derive_oplib builds a library for a simulated board (dynrt/offline.h). */
typedef dynrt_derive_opts dynrt_scn_derive_opts;

/* The sub-network work (compute, memory ns) for one job on `domain` of the simulated
 * platform, from the library's per-sub-network work split: the total scales with
 * work_capacity (of the core it was measured on; 0 = 1) over the capacity of `domain`, and
 * is split with `domain`'s memory fraction (dynrt_sim_split_latency). DYNRT_ERR_FORMAT when
 * the sub-network has no work split. */
dynrt_status dynrt_scn_job_work(dynrt_platform *sim, const dynrt_oplib *lib, int subnet, int domain,
                                double work_capacity, double *compute_ns, double *memory_ns);

/* Derives an op library for the simulated platform `sim` (any state; it is not changed) from
 * a library with per-sub-network work splits: one setting per (domain, OPP, cores), latency
 * from dynrt_sim_predict_ns, energy per inference from a noise-free simulated run of the job
 * alone on a fresh instance of the board (`spec`), idle power per (domain, OPP) above its
 * lowest OPP. Every point is marked modelled; the platform is the board's name. */
dynrt_status dynrt_scn_derive_oplib(const char *spec, const dynrt_oplib *src,
                                    const dynrt_scn_derive_opts *opts, dynrt_oplib **out,
                                    char *errbuf, size_t errlen);

/* ---- metrics.c: what a run records and how it is summarised ---- */

typedef struct dynrt_scn_infer_rec {
  uint64_t arrival_ns, start_ns, end_ns;
  int app;
  int subnet, level; /* op-library index; accuracy rank (0 = least accurate) */
  double accuracy;
  double latency_ms; /* response: arrival to end (queueing included) */
  double service_ms; /* start to end */
  double target_ms, floor;
  double energy_mj; /* attributed to the inference (simulated) or modelled (real) */
  int domain, ncores;
  uint32_t khz;
  int dropped;        /* frame replaced while waiting: counted as a miss, no inference */
  int floor_feasible; /* the floor is at most the best accuracy the app's library offers */
} dynrt_scn_infer_rec;

typedef struct dynrt_scn_period_rec {
  uint64_t t_ns;
  double power_w;
  uint32_t khz[DYNRT_MAX_DOMAINS];
  int loads; /* foreign loads active */
} dynrt_scn_period_rec;

typedef struct dynrt_scn_summary {
  uint64_t inferences, frames, misses, dropped, switches;
  uint64_t floor_violations; /* inferences below a feasible floor */
  uint64_t floor_infeasible; /* inferences whose floor no sub-network reaches */
  double energy_j;           /* whole board over the run */
  double infer_energy_mj;    /* mean energy attributed to one inference */
  double lat_mean_ms, lat_p50_ms, lat_p95_ms, lat_p99_ms;
  double miss_rate;      /* misses (late or dropped) / frames */
  double accuracy_mean;  /* of the sub-networks used */
  double floor_met_rate; /* inferences at or above the floor */
  double decide_ns;      /* level 1, real ns per decision */
  double plan_us;        /* level 2, real µs per plan */
  uint64_t plans;
  uint64_t infeasible_plans; /* plans where the manager reported a requirement it cannot meet */
} dynrt_scn_summary;

typedef struct dynrt_scn_result {
  char policy[48];
  char platform[64];
  int simulated, energy_modelled;
  uint64_t duration_ns, seed;
  int ndomains;
  char domain_names[DYNRT_MAX_DOMAINS][32];
  int napps;
  char app_names[DYNRT_SCN_MAX_APPS][64];
  dynrt_scn_infer_rec *inf;
  size_t ninf, capinf;
  /* Scratch for the latency percentiles, grown with inf (capinf entries) so that
   * summarising allocates nothing and cannot fail. */
  double *lat_scratch;
  dynrt_scn_period_rec *per;
  size_t nper, capper;
  dynrt_scn_summary sum;                         /* all apps */
  dynrt_scn_summary app_sum[DYNRT_SCN_MAX_APPS]; /* per app */
  char violations[1024]; /* what the manager reported it could not meet, "" = nothing */
} dynrt_scn_result;

dynrt_status dynrt_scn_result_add_inf(dynrt_scn_result *r, const dynrt_scn_infer_rec *rec);
dynrt_status dynrt_scn_result_add_period(dynrt_scn_result *r, const dynrt_scn_period_rec *rec);
/* Fills sum and app_sum from the records (energy_j, decide/plan times and infeasible plans
 * are set by the runner and kept). Allocates nothing for records added with
 * dynrt_scn_result_add_inf. */
void dynrt_scn_summarise(dynrt_scn_result *r);
void dynrt_scn_result_free(dynrt_scn_result *r);
/* Writes DIR/<slug>.inferences.csv and DIR/<slug>.periods.csv. */
dynrt_status dynrt_scn_write_traces(const dynrt_scn_result *r, const char *dir, char *errbuf,
                                    size_t errlen);
/* Writes DIR/summary.json: scenario, platform, seed, simulated/real, every policy's summary
 * and per-app summaries, the trace file names. */
dynrt_status dynrt_scn_write_summary(const dynrt_scn *scn, const dynrt_scn_result *res, int n,
                                     const char *dir, const char *machine, char *errbuf,
                                     size_t errlen);
/* The comparison table (one row per policy) with a title that says simulated or real. */
void dynrt_scn_print_table(FILE *f, const dynrt_scn *scn, const dynrt_scn_result *res, int n,
                           const char *machine);
/* mkdir -p. */
dynrt_status dynrt_scn_mkdirs(const char *dir, char *errbuf, size_t errlen);

/* ---- simrun.c ---- */

typedef struct dynrt_scn_run_opts {
  uint64_t seed; /* 0 = the scenario's */
  int verbose;   /* manager warnings on stderr */
} dynrt_scn_run_opts;

/* Runs one policy on the simulated platform of the scenario, event-driven in virtual time.
 * libs[i] is app i's op library (derived already when the app asks for it). A requirement
 * the manager cannot meet is not an error: the run completes and r->violations says what
 * was reported. */
dynrt_status dynrt_scn_run_sim(const dynrt_scn *scn, const char *policy, dynrt_oplib *const *libs,
                               const dynrt_scn_run_opts *opts, dynrt_scn_result *r, char *errbuf,
                               size_t errlen);
/* Loads (and derives where asked) the op library of every app for the scenario's platform.
 * libs has room for scn->napps entries; free each with dynrt_oplib_destroy. */
dynrt_status dynrt_scn_load_libs(const dynrt_scn *scn, dynrt_oplib **libs, char *errbuf,
                                 size_t errlen);
/* Destroys the libraries of dynrt_scn_load_libs (apps may share one) and clears libs. */
void dynrt_scn_free_libs(dynrt_oplib **libs, int n);

/* ---- realrun.c ---- */

/* Runs every policy of a scenario on this machine for real (platform "host"): one thread
 * per app running real inferences through dynrt_app_infer, a busy-loop child process pinned
 * to the loaded cores for each load event (killed at its end, at the end of the run and on
 * SIGINT/SIGTERM), requirement events applied on time. Energy is what the host platform
 * reports (modelled when it has no sensor: said in the result). `machine` receives a
 * description of this machine. res has room for scn->npolicies results; *n gets how many
 * completed. duration_s > 0 overrides the scenario's duration. */
dynrt_status dynrt_scn_run_real(const dynrt_scn *scn, double duration_s, dynrt_scn_result *res,
                                int *n, char *machine, size_t machine_len, char *errbuf,
                                size_t errlen);

/* ---- report.c ---- */

/* Reads DIR/summary.json and the traces it names, for each of the ndirs folders, and
 * writes one self-contained HTML page with a section per folder and inline SVG plots (no
 * script, no network). */
dynrt_status dynrt_scn_report(const char *const *dirs, int ndirs, const char *html_path,
                              char *errbuf, size_t errlen);

#endif /* DYNRT_SCENARIO_H */

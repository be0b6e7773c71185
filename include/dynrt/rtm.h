/*
 * dynrt/rtm.h - the hierarchical runtime manager. For every running DNN app it picks the
 * sub-network of the app's super-network and the hardware setting (frequency per domain,
 * domain and cores per app) that meet each app's latency target and accuracy floor at the
 * least predicted energy, and follows changes of requirements and of the hardware.
 *
 *   level 1 (per app, every inference, O(Pareto points)): dynrt_app_decide picks, from the
 *            Pareto set of the setting the app holds, the sub-network whose predicted
 *            latency x slowdown estimate fits the target with a margin; hysteresis; the
 *            slowdown estimate is a scalar Kalman filter over measured / predicted latency
 *            fed by dynrt_app_report.
 *   level 2 (system, dynrt_rtm_step: every period and on events): exact search over OPPs x
 *            core splits x Pareto points minimising predicted energy under all
 *            requirements; degrades by priority when infeasible; actuates through the
 *            platform only on change.
 * Predictions come only from the op libraries (dynrt/oplib.h) and the platform's domain
 * information. Details, equations and constants: docs/rtm.md.
 *
 * Policies (dynrt_rtm_options.policy), all in this framework:
 *   "rtm"                 ours (level 2 energy-optimal grant, level 1 within it)
 *   "rtm:max-accuracy"    ours, but level 1 may rise above the planned sub-network up to
 *                         the most accurate one that fits the target
 *   "static-max:GOV", "static-min:GOV"  largest / smallest sub-network (by MACs), every
 *                         domain under governor GOV (schedutil, ondemand, performance,
 *                         powersave, conservative; default schedutil)
 *   "dynamic-ofa[:GOV]"   sub-network switching only, Dynamic-OFA's rule (20-inference
 *                         moving average, outliers dropped, one Pareto level per step,
 *                         settle rule), under GOV (default schedutil)
 *   "dvfs-only"           largest sub-network, our level 2 picks frequencies and cores
 *   "oracle"              knows the future (dynrt_rtm_oracle_add): true slowdowns and
 *                         requirement changes applied at their exact time (same latency
 *                         margin against per-inference noise); the bound the others are
 *                         compared against
 *
 * Time: every time is in ns of the platform's clock (dynrt_platform_now: monotonic on real
 * platforms, virtual in the simulator). Energy in µJ like the platform.
 *
 * Thread-safety: dynrt_app_decide, dynrt_app_report, dynrt_app_infer,
 * dynrt_app_set_requirements and the dynrt_app_get_* queries may be called concurrently
 * from any threads (typically each app from its own thread) while another thread runs
 * dynrt_rtm_step; an app's level-1 state is behind its own mutex, held for microseconds,
 * and level 2 holds the manager lock but takes an app's mutex only to copy its inputs and
 * to publish its new grant. The platform is touched only under the manager lock.
 * dynrt_rtm_add_app / dynrt_rtm_remove_app / dynrt_rtm_oracle_add take the manager lock;
 * an app must not be used by any thread during or after its removal.
 *
 * Errors: calls return dynrt_status; the manager keeps the message of its last failure
 * (dynrt_rtm_errmsg), each app its own (dynrt_app_errmsg).
 */
#ifndef DYNRT_RTM_H
#define DYNRT_RTM_H

#include <stdint.h>

#include "dynrt/common.h"
#include "dynrt/engine.h"
#include "dynrt/oplib.h"
#include "dynrt/platform.h"
#include "dynrt/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dynrt_rtm dynrt_rtm;
typedef struct dynrt_app dynrt_app;

/* Apps one manager can hold: level 2 searches subsets of apps exactly (2^n). */
#define DYNRT_RTM_MAX_APPS 8

typedef struct dynrt_rtm_options {
  const char *policy;    /* see above; NULL = "rtm" */
  uint64_t period_ns;    /* level-2 period; 0 = 100 ms */
  double margin;         /* latency margin: plan and pick for target x (1 - margin); 0.05 */
  double step_up_margin; /* extra margin a better point needs to be stepped up to; 0.05 */
  int step_up_count;     /* consecutive inferences it must fit first; 3 */
  int violation_count;   /* consecutive misses that call level 2; 3 */
  double replan_drift;   /* relative change of a slowdown estimate that calls level 2; 0.15 */
  double kalman_q;       /* process noise of the slowdown filter (per inference); 0.005 */
  double kalman_r;       /* measurement noise of measured/predicted latency; 0.02 */
  /* Idle power (W) of a domain for which neither the platform nor the op library gives
   * one (platform.h has no idle power; op libraries may carry an "idle" table). */
  double idle_w_default;
  /* Time-shared domains (no cores, e.g. a GPU): utilisation is planned in units of
   * 1/share_units of the domain; 20 (5 % steps). */
  int share_units;
  /* 1: an op library whose "platform" differs from the platform's name is accepted. */
  int allow_platform_mismatch;
  /* Level 2 keeps the current grants while they meet every requirement and cost at most
   * this fraction more than the new optimum (no churn on estimator noise); 0.03. 0: off. */
  double plan_hysteresis;
  /* Plans and level-1 fits use slowdown estimate + this many standard deviations of the
   * measured scatter around it (noise, periodic contention); 1.5. 0: the estimate alone. */
  double slowdown_sigmas;
  /* 1: a time-shared domain the manager controls per inference (a GPU shared by apps)
   * runs its lowest allowed OPP while no inference is in flight on it; each decision
   * raises it again (one frequency write each way). 1. 0: it holds the planned OPP. */
  int idle_drop;
} dynrt_rtm_options;

/* Fills the defaults above. */
DYNRT_API void dynrt_rtm_options_init(dynrt_rtm_options *opts);

/* What an app needs. Changed at any time with dynrt_app_set_requirements. */
typedef struct dynrt_requirements {
  uint64_t latency_target_ns; /* per-inference deadline; 0 = the period */
  uint64_t period_ns;         /* one inference per period (frame rate); 0 = back-to-back */
  double accuracy_floor;      /* minimum top-1 in [0,1]; 0 = none */
  int priority;               /* larger = more important; who keeps its requirements */
  uint64_t energy_budget_uj;  /* per inference; 0 = none */
} dynrt_requirements;

typedef struct dynrt_app_spec {
  const char *name;         /* for messages and logs; copied; NULL = "app<N>" */
  const dynrt_oplib *oplib; /* borrowed; must outlive the app */
  dynrt_requirements req;
  /* Real inference (dynrt_app_infer): the model the op library belongs to and a session of
   * it. NULL for apps driven by decide/report (simulator). With a model, every op-library
   * sub-network is parsed against it and its id checked. */
  const dynrt_model *model;
  dynrt_session *session; /* borrowed; used only by dynrt_app_infer */
  dynrt_pool *pool;       /* the session's borrowed pool, if it has one (cores are set
                             on it); NULL: dynrt_session_set_threads */
  /* Optional per-sub-network BN tables, indexed like the op library's sub-networks (NULL
   * entries: the super-network's statistics). Borrowed. */
  const dynrt_bn_table *const *bn_tables;
  /* Without a model: the model name the app expects; checked against the op library.
   * NULL skips the check. */
  const char *model_name;
} dynrt_app_spec;

/* The answer of level 1 for the next inference. */
typedef struct dynrt_decision {
  int subnet;         /* index in the app's op library */
  const char *config; /* its config string (owned by the op library) */
  uint64_t subnet_id;
  double accuracy;   /* its validation top-1 */
  int setting;       /* op-library setting index; -1 under a governor policy */
  int domain;        /* platform domain index */
  uint64_t cpu_mask; /* cores granted (0 on a domain without cores) */
  int ncores;
  uint32_t khz;                /* frequency planned for the domain; 0 = left to a governor */
  double predicted_latency_ms; /* op-library latency x slowdown estimate (0 if unknown) */
  double predicted_energy_mj;
  uint64_t plan_epoch; /* changes whenever level 2 changes this app's grant */
  /* -1: start now. Otherwise the app id (dynrt_app_id) of a more important app whose
   * inference is running on the same time-shared domain (a GPU): start this one when that
   * one has reported, then decide again (nothing of this decision is in flight). The
   * manager asks for the wait only when its prediction says this inference still meets
   * its own deadline after it, so that the more important one runs alone. dynrt_app_infer
   * waits by itself. */
  int wait_for;
} dynrt_decision;

/* Whether the app's requirements hold in the current plan (predicted), and by how much
 * they are missed. Updated by level 2 and by level 1. */
typedef struct dynrt_app_status {
  int latency_met, accuracy_met, energy_met;
  double latency_shortfall_ms; /* predicted latency - target, > 0 when missed */
  double accuracy_shortfall;   /* floor - accuracy, > 0 when missed */
  double energy_shortfall_mj;  /* predicted energy - budget, > 0 when missed */
  int degraded;                /* level 2 relaxed some requirement of this app */
  int starved;                 /* no resources could be given at all */
  double slowdown;             /* current estimate on the granted domain */
  dynrt_decision decision;     /* the last decision */
} dynrt_app_status;

typedef struct dynrt_app_stats {
  uint64_t inferences; /* reports */
  uint64_t misses;     /* reports with latency above the target */
  uint64_t switches;   /* sub-network changes decided by level 1 */
  uint64_t waits;      /* decisions that asked to wait for a more important inference */
  double latency_ms_sum;
  double energy_mj_sum;   /* as reported */
  double accuracy_sum;    /* sum of the decided sub-networks' accuracy per report */
  uint64_t decide_ns_sum; /* time spent in level 1 (manager overhead per decision) */
  uint64_t decisions;
  uint64_t load_steps; /* tails taken as a step in foreign load (dynrt_app_report_ex) */
} dynrt_app_stats;

typedef struct dynrt_rtm_stats {
  uint64_t plans;       /* level-2 runs */
  uint64_t plan_ns_sum; /* time spent in them */
  uint64_t plan_ns_last;
  uint64_t freq_writes;       /* successful dynrt_platform_set_freq calls */
  uint64_t freq_write_errors; /* failed ones (the domain is read back and left as it is) */
  uint64_t assign_writes;     /* dynrt_platform_assign calls */
  uint64_t events;            /* platform events consumed */
  int infeasible;             /* the last plan degraded some app */
} dynrt_rtm_stats;

/*
 * Creates a manager on a platform (borrowed: it must outlive the manager; the manager
 * becomes its only user for control calls). opts may be NULL (defaults). Governor
 * policies hand every controllable domain to their governor here. On failure *out is NULL
 * and errbuf says why (unknown policy, options out of range).
 */
DYNRT_API dynrt_status dynrt_rtm_create(dynrt_platform *platform, const dynrt_rtm_options *opts,
                                        dynrt_rtm **out, char *errbuf, size_t errlen);
/* Removes every app. NULL is a no-op. The platform is left as it is (close restores it). */
DYNRT_API void dynrt_rtm_destroy(dynrt_rtm *rtm);
DYNRT_API const char *dynrt_rtm_errmsg(const dynrt_rtm *rtm);
/* The policy name as given (canonical form, e.g. "static-max:schedutil"). */
DYNRT_API const char *dynrt_rtm_policy(const dynrt_rtm *rtm);

/*
 * Adds an app and plans at once (level 2 runs and actuates), so dynrt_app_decide works
 * immediately. Errors: DYNRT_ERR_INVALID_ARG (requirements out of range, NULL op library,
 * too many apps), DYNRT_ERR_NOT_FOUND (op library for another model, or none of its
 * settings exists on this platform), DYNRT_ERR_FORMAT (a sub-network the model cannot
 * parse, or whose id differs). Messages name the app, the field and the value.
 */
DYNRT_API dynrt_status dynrt_rtm_add_app(dynrt_rtm *rtm, const dynrt_app_spec *spec,
                                         dynrt_app **out);
/* Removes and frees the app, then plans for the others. NULL app is a no-op. */
DYNRT_API dynrt_status dynrt_rtm_remove_app(dynrt_rtm *rtm, dynrt_app *app);

/*
 * Level 2 when due: at least one period since the last plan, or an event (app added or
 * removed, requirements changed, persistent violation or slowdown drift flagged by level 1,
 * a platform event from dynrt_platform_poll_event, an oracle timeline entry). now_ns = 0
 * reads dynrt_platform_now. Cheap when nothing is due. *planned (may be NULL) is set to 1
 * when level 2 ran.
 */
DYNRT_API dynrt_status dynrt_rtm_step(dynrt_rtm *rtm, uint64_t now_ns, int *planned);
/* When dynrt_rtm_step should be called next at the latest (next period or oracle entry).
 * Events flagged by level 1 make it due earlier: dynrt_rtm_replan_pending tells. */
DYNRT_API uint64_t dynrt_rtm_next_due_ns(dynrt_rtm *rtm);
DYNRT_API int dynrt_rtm_replan_pending(const dynrt_rtm *rtm);
DYNRT_API void dynrt_rtm_get_stats(dynrt_rtm *rtm, dynrt_rtm_stats *out);

/* Oracle timeline: what will happen, given in advance (policy "oracle" only). */
typedef enum dynrt_oracle_kind {
  DYNRT_ORACLE_SLOWDOWN = 1, /* from time_ns, the app's true slowdown on `domain` (-1: all) */
  DYNRT_ORACLE_REQUIREMENTS  /* from time_ns, the app's requirements are `req` */
} dynrt_oracle_kind;
typedef struct dynrt_oracle_event {
  dynrt_oracle_kind kind;
  uint64_t time_ns;
  dynrt_app *app;
  int domain;
  double slowdown;
  dynrt_requirements req;
} dynrt_oracle_event;
/* Adds an entry (any order of times). DYNRT_ERR_STATE for other policies. */
DYNRT_API dynrt_status dynrt_rtm_oracle_add(dynrt_rtm *rtm, const dynrt_oracle_event *ev);

/* ---- per app (callable from the app's thread) ---- */

/* Validates and applies new requirements: level 1 uses them from the next decision and
 * level 2 is flagged. DYNRT_ERR_INVALID_ARG with a message naming the field. */
DYNRT_API dynrt_status dynrt_app_set_requirements(dynrt_app *app, const dynrt_requirements *req);
DYNRT_API void dynrt_app_get_requirements(dynrt_app *app, dynrt_requirements *out);

/* Level 1: the sub-network and hardware grant for the next inference. Never blocks on
 * level 2 beyond the few instructions it takes to publish a grant; allocates nothing. */
DYNRT_API dynrt_status dynrt_app_decide(dynrt_app *app, dynrt_decision *out);
/* Feeds back the inference just run with the last decision: its latency (ns) and energy
 * (µJ; 0 when unknown). Updates the slowdown estimate, the statistics and the flags. */
DYNRT_API dynrt_status dynrt_app_report(dynrt_app *app, uint64_t latency_ns, uint64_t energy_uj);

/* The same with what the caller knows of the inference's last part: tail_ns, the time the
 * last tail_fraction of its work took (from an engine's per-layer times, or the
 * simulator's DYNRT_SIM_TAIL_FRACTION). A foreign load that arrives late in an inference
 * on a time-shared domain (a GPU, where no utilisation counter tells foreign work from
 * the app's own) shows there at full strength while the whole latency hardly moves: on a
 * time-shared domain whose frequency it sets, the manager (policy rtm) takes a tail much
 * slower than its estimate (see docs/rtm.md, "Load steps") as a step in slowdown and
 * re-plans before the next inference; elsewhere the tail is ignored. tail_fraction 0 or
 * tail_ns 0: unknown, as dynrt_app_report. */
typedef struct dynrt_report {
  uint64_t latency_ns;
  uint64_t energy_uj;
  double tail_fraction; /* in (0, 1), or 0 */
  uint64_t tail_ns;
} dynrt_report;
DYNRT_API dynrt_status dynrt_app_report_ex(dynrt_app *app, const dynrt_report *r);

/* Result of a real inference. */
typedef struct dynrt_infer_result {
  dynrt_decision decision;
  uint64_t latency_ns;
  int top1_class;
  float top1_prob;
} dynrt_infer_result;
/*
 * decide + run + report on the app's session: switches the session's sub-network (and BN
 * table) when the decision changes it, moves the session's threads to the granted cores
 * when they change, runs the image (8-bit RGB, HWC, see dynrt_session_run_image), times
 * it, reports it, and runs level 2 if it is due and no other thread is running it (never
 * waits for it). DYNRT_ERR_STATE when the app has no model/session.
 */
DYNRT_API dynrt_status dynrt_app_infer(dynrt_app *app, const uint8_t *rgb, int width, int height,
                                       size_t row_stride, dynrt_infer_result *out);

DYNRT_API void dynrt_app_get_status(dynrt_app *app, dynrt_app_status *out);
DYNRT_API void dynrt_app_get_stats(dynrt_app *app, dynrt_app_stats *out);
/* The app's id for dynrt_platform_assign (dense, from 0, reused after removal). */
DYNRT_API int dynrt_app_id(const dynrt_app *app);
DYNRT_API const char *dynrt_app_name(const dynrt_app *app);
DYNRT_API const char *dynrt_app_errmsg(const dynrt_app *app);

#ifdef __cplusplus
}
#endif
#endif /* DYNRT_RTM_H */

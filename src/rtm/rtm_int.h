/*
 * rtm_int.h - internals of the runtime manager shared by rtm.c (manager, apps, oracle
 * timeline), cycle.c (events, level-2 cycle, actuation), planner.c (level-2 search) and
 * controller.c (level 1, estimator, baseline rules, infer). Only rtm.c and cycle.c touch the
 * platform.
 */
#ifndef DYNRT_RTM_INT_H
#define DYNRT_RTM_INT_H

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/core.h"
#include "dynrt/rtm.h"

typedef enum rtm_policy {
  RTM_POLICY_RTM = 0,
  RTM_POLICY_STATIC_MAX,
  RTM_POLICY_STATIC_MIN,
  RTM_POLICY_DYNAMIC_OFA,
  RTM_POLICY_DVFS_ONLY,
  RTM_POLICY_ORACLE
} rtm_policy;

/* Level 2 picks the sub-network of a grant by one of these rules. */
typedef enum rtm_pick {
  RTM_PICK_ENERGY = 0, /* least predicted energy meeting the requirements */
  RTM_PICK_MAXACC      /* most accurate meeting the requirements */
} rtm_pick;

/* Requirements a degraded plan no longer enforces (soft, penalised by the shortfall). */
enum { RTM_RELAX_ENERGY = 1, RTM_RELAX_FLOOR = 2, RTM_RELAX_LATENCY = 4 };

/* One Pareto point of one usable setting, copied from the op library at add time so that
 * level 1 reads one contiguous array. */
typedef struct rtm_pt {
  double lat_ms, e_mj, acc;
  int subnet;
} rtm_pt;

/* One op-library setting usable on this platform. */
typedef struct rtm_opt {
  int setting; /* op-library index */
  int domain;  /* platform domain */
  int opp;     /* index into the manager's OPP list of that domain */
  int cores;   /* 0 on time-shared domains */
  /* Its points in app->pts, by ascending latency: the Pareto set, or only the app's fixed
   * sub-network for policies that do not switch (static-*, dvfs-only). */
  int pt_off, npts;
} rtm_opt;

/* A domain as the planner sees it. */
typedef struct rtm_dom {
  char name[32];
  int shared;    /* no cores (GPU): apps time-share it */
  int ncpus;     /* cores of the domain (all, for the idle share) */
  uint64_t cpus; /* their mask */
  int can_set;   /* at create (read by level 1 without the manager lock: never changes) */
  int writable;  /* now: refreshed by every plan (a domain may become monitoring-only) */
  int nopps;
  uint32_t khz[DYNRT_MAX_OPPS];
  double idle_w[DYNRT_MAX_OPPS];
  int idle_from_lib; /* idle_w came from an op library (else the option's default) */
  /* Per plan: */
  int allowed[DYNRT_MAX_OPPS];
  int capacity;         /* cores available, or share units */
  uint64_t avail;       /* available cores of the domain */
  uint32_t applied_khz; /* last frequency written (0 = never) */
} rtm_dom;

/* Kalman filter of the slowdown (measured / predicted latency) on one domain, with the
 * exponentially weighted variance v of its innovations (how much single inferences
 * scatter around the estimate: noise, periodic contention). */
typedef struct rtm_kf {
  double s, p, v;
} rtm_kf;

/* Weight of the newest innovation in v: about the last ten inferences. */
#define RTM_KF_VAR_WEIGHT 0.1

/* What level 2 gives an app. */
typedef struct rtm_grant {
  int opt;   /* index into app->opts, -1 = none yet */
  int level; /* planned Pareto level within the opt (the level-1 ceiling) */
  uint64_t mask;
  int ncores;
  uint32_t khz;
  uint64_t epoch;
} rtm_grant;

#define RTM_DOFA_WINDOW 20

/* An inference in flight on a time-shared domain, as level 1 of every app sees it
 * (contention-aware control, docs/rtm.md "Per-inference contention control"). Progress is
 * integrated over segments of constant (frequency, overlap): a = sum of alone segment time
 * / op-library latency at its OPP, b the same over overlapped segments; with slowdowns
 * s_alone and s_ovl the inference is done when a / s_alone + b / s_ovl = 1. */
typedef struct rtm_fly {
  int dom;                 /* -1: none */
  int req_opp;             /* OPP it asked the domain for (the domain runs the max of these) */
  int ovl;                 /* overlapped another inference at some point */
  uint64_t t0;             /* decide time (platform clock) */
  uint64_t seg_t;          /* start of the current segment */
  double a, b;             /* integrated progress, see above */
  double fit_ms;           /* its deadline from t0: target x (1 - margin) */
  double s_alone, s_ovl;   /* planning slowdowns alone and overlapped */
  double s_alone0, s_ovl0; /* the estimates themselves (best-effort check) */
  double target_ms;
  int prio;                  /* the app's priority when it decided */
  float lat[DYNRT_MAX_OPPS]; /* op-library latency (ms) of its sub-network per OPP, 0 none */
} rtm_fly;

struct dynrt_app {
  dynrt_rtm *rtm;
  int id;
  char name[64];
  const dynrt_oplib *lib;
  const dynrt_model *model;
  dynrt_session *session;
  dynrt_pool *pool;
  const dynrt_bn_table *const *bn_tables;
  dynrt_subnet *cfgs; /* parsed sub-networks when a model is given */
  rtm_opt *opts;      /* sorted by (domain, opp, cores) */
  int nopts;
  /* opts of (domain d, OPP f) are opts[ostart[k] .. ostart[k + 1]), k = d * MAX_OPPS + f */
  uint16_t ostart[DYNRT_MAX_DOMAINS * DYNRT_MAX_OPPS + 1];
  rtm_pt *pts;
  int npts;
  int base_opt;     /* governor policies: the setting used for predictions and placement */
  int fixed_subnet; /* static-max/min, dvfs-only: the one sub-network; -1 otherwise */

  pthread_mutex_t mu; /* everything below */
  dynrt_requirements req;
  rtm_grant grant;
  int level; /* level-1 choice within grant.opt */
  int up_count, miss_count, floor_count;
  uint64_t flagged_epoch; /* level 2 already called for this epoch */
  rtm_kf kf[DYNRT_MAX_DOMAINS];
  /* Measurements each domain's filter holds since it was last reset (0: never ran there
   * under the current foreign load; its estimate comes from kf_kind). */
  int kf_n[DYNRT_MAX_DOMAINS];
  /* Per kind of domain (0: CPU, 1: time-shared), fed by every measurement on a domain
   * without foreign load: what the app's slowdown is where it has not run yet (the op
   * library's error for this app carries over between domains of one kind). */
  rtm_kf kf_kind[2];
  /* Slowdown while overlapped by another managed inference on a time-shared domain
   * (contention-aware policies only; kf then holds the alone slowdown). */
  rtm_kf kf_ovl[DYNRT_MAX_DOMAINS];
  int kf_ovl_n[DYNRT_MAX_DOMAINS];
  /* Cores with foreign load (the last DYNRT_EVENT_LOAD_CHANGED), copied under mu. */
  uint64_t loaded;
  double slow_at_plan[DYNRT_MAX_DOMAINS];
  double true_slow[DYNRT_MAX_DOMAINS]; /* oracle */
  /* Inference in flight (between decide and report): its domain (-1: none) and the
   * frequency it was decided for; hold: a plan kept that frequency for it. */
  int inflight_dom;
  uint32_t inflight_khz;
  int hold;
  int contend;       /* the last decision went through the contention-aware path */
  uint64_t wait_t0;  /* when the current inference started waiting (wait_for), 0: none */
  int wait_skip;     /* dynrt_app_infer gave up waiting: the next decision starts now */
  int floor_relaxed; /* the last plan relaxed this app's accuracy floor (level 1 may go below) */
  /* the last decision, for report */
  int last_opt, last_level, last_subnet;
  double last_pred_ms;
  /* Dynamic-OFA rule */
  double win[RTM_DOFA_WINDOW];
  int win_n, win_pos;
  int dofa_up_from; /* level it last stepped up from, -1 */
  int dofa_settled; /* level it settled at, -1 */
  dynrt_app_status status;
  dynrt_app_stats stats;
  /* infer (app thread only) */
  int cur_subnet;
  uint64_t cur_mask;
  /* manager lock only */
  uint64_t applied_mask;
  int applied;
  dynrt_err err;
};

typedef struct rtm_oracle_entry {
  dynrt_oracle_event ev;
  int app_id;
} rtm_oracle_entry;

/* Planner workspace: preallocated so that a plan allocates nothing. */
typedef struct rtm_choice {
  double cost;
  int units, opt, level;
} rtm_choice;

typedef struct rtm_plan_app {
  /* inputs (snapshot) */
  dynrt_app *app;
  double budget_ms; /* target x (1 - margin) */
  double target_ms;
  double rate_hz;
  double floor;
  double energy_mj; /* budget per inference, 0 = none */
  int priority;
  double slow[DYNRT_MAX_DOMAINS];
  int relax;
  /* outputs */
  int opt, level;
  double lat_ms, e_mj, acc;
} rtm_plan_app;

struct dynrt_rtm {
  dynrt_platform *p;
  dynrt_rtm_options opt;
  char policy_name[64];
  rtm_policy policy;
  rtm_pick pick;
  char governor[24];
  pthread_mutex_t mu; /* level 2, the app list, the platform, the fields below */
  dynrt_app *apps[DYNRT_RTM_MAX_APPS];
  int napps;
  uint64_t loaded; /* cores with foreign load (last DYNRT_EVENT_LOAD_CHANGED) */
  int ndom;
  rtm_dom dom[DYNRT_MAX_DOMAINS];
  uint64_t last_plan_ns;
  int planned_once;
  atomic_int replan;             /* an event asks for level 2 */
  atomic_uint_fast64_t next_due; /* next periodic plan (also read without the lock) */
  rtm_oracle_entry *oracle;
  int noracle, cap_oracle, oracle_next;
  /* planner workspace */
  rtm_plan_app plan[DYNRT_RTM_MAX_APPS];
  rtm_choice *choices;
  int cap_choices;
  int kmax;     /* largest capacity the DP tables hold, + 1 */
  double *best; /* [1 << MAX_APPS][kmax] */
  int *back;    /* choice index per cell */
  double dcost[DYNRT_MAX_DOMAINS][1 << DYNRT_RTM_MAX_APPS];
  int dopp[DYNRT_MAX_DOMAINS][1 << DYNRT_RTM_MAX_APPS];
  /* cost and subset of domain i of the best split of the apps U over domains 0..i */
  double gcost[DYNRT_MAX_DOMAINS][1 << DYNRT_RTM_MAX_APPS];
  int gsel[DYNRT_MAX_DOMAINS][1 << DYNRT_RTM_MAX_APPS];
  dynrt_rtm_stats stats;
  /* Contention-aware control: innermost lock (nothing is locked while holding it). */
  pthread_mutex_t fly_mu;
  pthread_cond_t fly_cv;           /* broadcast when an inference leaves the in-flight table */
  rtm_fly fly[DYNRT_RTM_MAX_APPS]; /* by app id */
  int plan_opp[DYNRT_MAX_DOMAINS]; /* level 2's OPP per domain (-1: none yet) */
  int cur_opp[DYNRT_MAX_DOMAINS];  /* OPP the domain runs now (-1: unknown) */
  int top_opp[DYNRT_MAX_DOMAINS];  /* highest OPP its limits allow (last plan) */
  uint64_t boosts;                 /* per-inference frequency changes (statistic) */
  dynrt_err err;
};

/* ---- planner.c ---- */
/* Runs level 2 on rtm->plan[0..napps) (inputs filled) over rtm->dom (allowed, capacity
 * filled). Degrades by priority when needed. On return every plan[i] has opt/level (opt -1:
 * starved) and *dom_opp[d] the OPP index for every domain. Returns the number of apps
 * degraded or starved. Caller holds rtm->mu. */
int rtm__plan(dynrt_rtm *rtm, int napps, int *dom_opp);
/* Predicted cost (mJ over the period) the planner gives app a on opt o at level l; +inf
 * when a hard requirement fails. Exposed for tests of the model. */
double rtm__point_cost(const dynrt_rtm *rtm, const rtm_plan_app *a, const rtm_opt *o, int level,
                       double *penalty);
/* Level level 2 gives app a on opt o under the manager's pick rule, -1 if none; *cost its
 * cost (penalties included). */
int rtm__pick_level(const dynrt_rtm *rtm, const rtm_plan_app *a, const rtm_opt *o, double *cost);

/* ---- controller.c ---- */
void rtm__kf_init(rtm_kf *kf, double r);
void rtm__kf_update(rtm_kf *kf, double z, double q, double r);
/* The slowdown plans and fits are made for: the estimate plus k standard deviations of the
 * innovations, so that scattered latencies still meet the target (ALERT-style). */
static inline double rtm__kf_plan(const rtm_kf *kf, double k) { return kf->s + k * sqrt(kf->v); }
/* Slowdown of app on domain d for plans and fits (k = slowdown_sigmas) or the estimate
 * itself (k = 0): the domain's own filter when it has measurements, else the app's
 * estimate for that kind of domain, times RTM_LOAD_PRIOR when foreign load sits on the
 * domain's cores (one busy foreign thread per core halves a core under fair sharing).
 * The oracle's filters hold only what its true slowdowns leave unexplained (contention
 * among the managed apps, noise), so it plans for true x residual. Caller holds app->mu. */
double rtm__slow(const dynrt_app *app, int d, double k);
#define RTM_LOAD_PRIOR 2.0
/* Load steps (dynrt_app_report_ex): a tail counts as a step when its slowdown exceeds the
 * estimate by RTM_STEP_SIGMAS innovation deviations, a deviation being at least
 * RTM_STEP_SD_MIN of the estimate (so a step is never below 18 %: a filter that has seen
 * little scatter yet is not trusted to the last percent). */
#define RTM_STEP_SIGMAS 6.0
#define RTM_STEP_SD_MIN 0.03
/* Effective deadline (ms) of requirements: min of target and period, whichever given. */
double rtm__target_ms(const dynrt_requirements *req);
/* Level-1 state reset after a new grant (caller holds app->mu). */
void rtm__app_grant_reset(dynrt_app *app);

/* Baseline policies that leave frequency to a governor. */
static inline int rtm__governed(const dynrt_rtm *rtm) { return rtm->governor[0] != '\0'; }

/* Contention-aware per-inference control applies to app's policy on domain d. */
static inline int rtm__contends(const dynrt_rtm *rtm, int d) {
  return (rtm->policy == RTM_POLICY_RTM || rtm->policy == RTM_POLICY_ORACLE) &&
         rtm->dom[d].shared && rtm->dom[d].can_set;
}
/* Overlapped planning slowdown (k deviations) of app on d; the alone one until measured. */
double rtm__slow_ovl(const dynrt_app *app, int d, double k);
/* Closes the current progress segment of every inference in flight on d (caller holds
 * fly_mu). */
void rtm__fly_segment(dynrt_rtm *rtm, int d, uint64_t now);

/* ---- cycle.c ---- */
/* Sets domain d to the max of level 2's OPP and the requests of the inferences in flight
 * (only on change). Never waits: when level 2 is running it flags it to do this. */
void rtm__fly_apply(dynrt_rtm *rtm, int d);
/* Level 2 now (caller holds rtm->mu). */
dynrt_status rtm__replan(dynrt_rtm *rtm, uint64_t now);
/* Steps only if the manager lock is free (infer). */
void rtm__try_step(dynrt_rtm *rtm);

#endif

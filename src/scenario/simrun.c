/* simrun.c - runs a scenario with one policy on a simulated board, event-driven in virtual
 * time: frame arrivals, inference jobs and their completions, manager steps (periodic and
 * on events), requirement changes, foreign loads, caps and modes. Every inference is one
 * simulated job whose work comes from the op library's work split; the manager sees only
 * what a real deployment sees (decide, report, platform events), except the oracle, which
 * is given the future. It records metrics and traces; it prints nothing. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "core/core.h"
#include "dynrt/rtm.h"
#include "dynrt/sim.h"
#include "scenario/scenario.h"

#define NEVER DYNRT_SCN_NEVER
/* Platform app id of foreign GPU jobs (co-running programs), beyond any manager app. */
#define FOREIGN_APP 63
/* Work of a foreign GPU job: restarted when it ends, so its size only bounds restarts. */
#define FOREIGN_WORK_NS 1e9

typedef struct app_rt {
  dynrt_app *app; /* NULL while not started or after stop */
  int started, stopped;
  int pid; /* platform app id */
  dynrt_requirements req;
  int busy;
  int waiting; /* busy, waiting for app index wait_ai's inference (decision.wait_for) */
  int wait_ai;
  dynrt_sim_job job;
  uint64_t arrival, start;
  dynrt_decision dec;
  double target_ms, floor;
  int pending;
  uint64_t pending_arrival;
  uint64_t next_arrival;
  int *rank;       /* accuracy rank of each sub-network */
  double best_acc; /* of the app's library */
  int reported[3]; /* violation kinds already reported: latency, accuracy, starved */
} app_rt;

typedef struct corun {
  int active, domain;
  dynrt_sim_job job;
  uint64_t until;
} corun;

typedef struct run {
  const dynrt_scn *scn;
  dynrt_oplib *const *libs;
  dynrt_platform *p;
  dynrt_rtm *rtm;
  dynrt_scn_result *r;
  int oracle;
  app_rt apps[DYNRT_SCN_MAX_APPS];
  corun co[DYNRT_SCN_MAX_EVENTS];
  uint64_t decide_ns, decisions;
  /* true slowdown per domain from slow_t[k] on (load_timeline) */
  uint64_t slow_t[2 * DYNRT_SCN_MAX_EVENTS + 1];
  double slow[2 * DYNRT_SCN_MAX_EVENTS + 1][DYNRT_MAX_DOMAINS];
  int nslow;
  double last_e_uj;
  uint64_t last_sample;
  char *errbuf;
  size_t errlen;
} run;

static dynrt_status rfail(run *R, dynrt_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static dynrt_status rfail(run *R, dynrt_status st, const char *fmt, ...) {
  if (R->errbuf && R->errlen) {
    int n = snprintf(R->errbuf, R->errlen, "%s [%s]: ", R->scn->path, R->r->policy);
    if (n < 0) n = 0;
    if ((size_t)n < R->errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(R->errbuf + n, R->errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return st ? st : DYNRT_ERR_INTERNAL;
}

static void note_violation(run *R, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void note_violation(run *R, const char *fmt, ...) {
  char *v = R->r->violations;
  size_t n = strlen(v), cap = sizeof R->r->violations;
  if (n + 8 >= cap) return;
  if (n) n += (size_t)snprintf(v + n, cap - n, "; ");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v + n, cap - n, fmt, ap);
  va_end(ap);
}

/* Accuracy rank of every sub-network (0 = least accurate; ties by MACs). */
static int *accuracy_ranks(const dynrt_oplib *lib) {
  int n = dynrt_oplib_num_subnets(lib);
  int *rank = dynrt__calloc((size_t)n + 1, sizeof *rank);
  if (!rank) return NULL;
  for (int i = 0; i < n; i++) {
    const dynrt_oplib_subnet *a = dynrt_oplib_subnet_at(lib, i);
    for (int j = 0; j < n; j++) {
      const dynrt_oplib_subnet *b = dynrt_oplib_subnet_at(lib, j);
      if (b->val_top1 < a->val_top1 || (b->val_top1 == a->val_top1 && b->macs < a->macs) ||
          (b->val_top1 == a->val_top1 && b->macs == a->macs && j < i))
        rank[i]++;
    }
  }
  return rank;
}

static uint64_t domain_cpus(dynrt_platform *p, int d) {
  const dynrt_domain_info *di = dynrt_platform_domain(p, d);
  uint64_t m = 0;
  for (int i = 0; i < di->ncpus; i++) m |= 1ull << di->cpus[i];
  return m;
}

static int domain_by_name(dynrt_platform *p, const char *name) {
  const dynrt_platform_info *in = dynrt_platform_get_info(p);
  for (int d = 0; d < in->ndomains; d++)
    if (!strcmp(dynrt_platform_domain(p, d)->name, name)) return d;
  return -1;
}

/* ---- oracle: the true slowdown of each domain under each combination of loads ---- */

/* Slowdown of a reference inference on all cores of domain d (top OPP) under the loads
 * whose bits are set in `active`, measured on a fresh, noise-free instance of the board. */
static dynrt_status measure_slowdown(run *R, uint64_t active, int d, double *slow) {
  dynrt_platform *q = NULL;
  *slow = 1;
  dynrt_status st = dynrt_scn_platform_open(R->scn->platform, &q, NULL, 0);
  if (st) return st;
  dynrt_sim_set_noise(q, 0, 0);
  const dynrt_platform_info *in = dynrt_platform_get_info(q);
  for (int k = 0; k < in->ndomains; k++) {
    const dynrt_domain_info *dk = dynrt_platform_domain(q, k);
    uint32_t got;
    if (dk->nopps) dynrt_platform_set_freq(q, k, dk->opps[dk->nopps - 1].khz, &got);
  }
  for (int i = 0; i < R->scn->nevents && st == DYNRT_OK; i++) {
    const dynrt_scn_event *e = &R->scn->events[i];
    if (!(active >> i & 1)) continue;
    if (e->cpu_mask) {
      uint32_t id;
      st = dynrt_sim_add_background(q, 0, DYNRT_SIM_FOREVER, e->cpu_mask, e->duty,
                                    e->load_period_ns, &id);
    } else {
      dynrt_sim_job job;
      st = dynrt_sim_job_start(q, FOREIGN_APP, domain_by_name(q, e->domain), 0,
                               FOREIGN_WORK_NS * 100, 0, &job);
    }
  }
  const dynrt_domain_info *di = dynrt_platform_domain(q, d);
  double c = 0, m = 0, alone = 0;
  int gpu = di->kind == DYNRT_DOMAIN_GPU;
  dynrt_sim_job job = 0;
  if (st == DYNRT_OK) st = dynrt_sim_settle(q); /* the reference runs at the top OPPs */
  if (st == DYNRT_OK) st = dynrt_sim_split_latency(q, d, 200e6, &c, &m);
  if (st == DYNRT_OK)
    st = dynrt_sim_predict_ns(q, d, di->opps[di->nopps - 1].khz, gpu ? 1 : di->ncpus, c, m, &alone);
  if (st == DYNRT_OK)
    st = gpu ? dynrt_sim_job_start(q, 0, d, 0, c, m, &job)
             : dynrt_sim_job_start(q, 0, -1, domain_cpus(q, d), c, m, &job);
  while (st == DYNRT_OK) {
    dynrt_sim_completion done;
    int r = dynrt_sim_run_until(q, DYNRT_SIM_FOREVER, &done);
    if (r != 1) {
      st = r < 0 ? (dynrt_status)r : DYNRT_ERR_INTERNAL;
      break;
    }
    if (done.job == job) {
      *slow = (double)(done.end_ns - done.start_ns) / alone;
      break;
    }
  }
  dynrt_platform_close(q);
  return st;
}

/* The true slowdown of every domain between load boundaries (every load start and end),
 * measured once per run: what the oracle is given and what decides whether an accuracy
 * floor was feasible at a time (floor_feasible). */
static dynrt_status load_timeline(run *R) {
  const dynrt_scn *scn = R->scn;
  const dynrt_platform_info *in = dynrt_platform_get_info(R->p);
  int nt = 0;
  R->slow_t[nt++] = 0;
  for (int i = 0; i < scn->nevents; i++) {
    const dynrt_scn_event *e = &scn->events[i];
    if (e->kind != DYNRT_SCN_EV_LOAD) continue;
    R->slow_t[nt++] = e->at_ns;
    if (e->until_ns != NEVER) R->slow_t[nt++] = e->until_ns;
  }
  for (int k = 0; k < nt; k++) {
    uint64_t t = R->slow_t[k];
    uint64_t active = 0;
    for (int i = 0; i < scn->nevents; i++) {
      const dynrt_scn_event *e = &scn->events[i];
      if (e->kind == DYNRT_SCN_EV_LOAD && e->at_ns <= t && t < e->until_ns) active |= 1ull << i;
    }
    for (int d = 0; d < DYNRT_MAX_DOMAINS; d++) R->slow[k][d] = 1;
    for (int d = 0; d < in->ndomains && d < DYNRT_MAX_DOMAINS; d++) {
      uint64_t touch = 0;
      for (int i = 0; i < scn->nevents; i++) {
        const dynrt_scn_event *e = &scn->events[i];
        if (!(active >> i & 1)) continue;
        if (e->cpu_mask ? (e->cpu_mask & domain_cpus(R->p, d)) != 0
                        : domain_by_name(R->p, e->domain) == d)
          touch |= 1ull << i;
      }
      if (!touch) continue;
      dynrt_status st = measure_slowdown(R, touch, d, &R->slow[k][d]);
      if (st) return rfail(R, st, "measuring the slowdown of domain %d under load failed", d);
    }
  }
  R->nslow = nt;
  return DYNRT_OK;
}

/* True slowdown of domain d at time t (the latest boundary at or before t). */
static double slow_at(const run *R, int d, uint64_t t) {
  double s = 1;
  uint64_t best = 0;
  for (int k = 0; k < R->nslow; k++)
    if (R->slow_t[k] <= t && R->slow_t[k] >= best) best = R->slow_t[k], s = R->slow[k][d];
  return s;
}

/* Whether app ai's accuracy floor can be met at time t at all: some sub-network reaching
 * it has an op-library point whose latency, under the true slowdown of its domain and
 * within the domain's current frequency limits, meets the app's target. What the
 * floor-met rate counts against (a floor that only an impossible latency reaches is
 * reported as infeasible, not as missed). */
static int floor_feasible(run *R, int ai, double floor, double target_ms, uint64_t t) {
  const app_rt *a = &R->apps[ai];
  const dynrt_oplib *lib = R->libs[ai];
  if (floor <= 0) return 1;
  if (floor > a->best_acc + 1e-9) return 0;
  if (target_ms <= 0) return 1;
  for (int i = 0; i < dynrt_oplib_num_points(lib); i++) {
    const dynrt_oplib_point *pt = dynrt_oplib_point_at(lib, i);
    if (dynrt_oplib_subnet_at(lib, pt->subnet)->val_top1 + 1e-9 < floor) continue;
    const dynrt_oplib_setting *se = dynrt_oplib_setting_at(lib, pt->setting);
    int d = domain_by_name(R->p, se->domain);
    if (d < 0) continue;
    uint32_t lo = 0, hi = UINT32_MAX;
    if (dynrt_platform_get_limits(R->p, d, &lo, &hi) == DYNRT_OK && se->khz > hi) continue;
    if (pt->latency_mean_ms * slow_at(R, d, t) <= target_ms) return 1;
  }
  return 0;
}

/* Gives the oracle every future slowdown of every app (called after an app is added). */
static dynrt_status oracle_slowdowns(run *R, app_rt *a) {
  const dynrt_platform_info *in = dynrt_platform_get_info(R->p);
  for (int d = 0; d < in->ndomains && d < DYNRT_MAX_DOMAINS; d++) {
    for (int k = 0; k < R->nslow; k++) {
      double s = R->slow[k][d];
      if (k && fabs(s - slow_at(R, d, R->slow_t[k] - 1)) < 1e-9) continue;
      dynrt_oracle_event ev = {.kind = DYNRT_ORACLE_SLOWDOWN,
                               .time_ns = R->slow_t[k],
                               .app = a->app,
                               .domain = d,
                               .slowdown = s};
      dynrt_status st = dynrt_rtm_oracle_add(R->rtm, &ev);
      if (st) return rfail(R, st, "oracle: %s", dynrt_rtm_errmsg(R->rtm));
    }
  }
  return DYNRT_OK;
}

/* Gives the oracle the app's future requirement changes. */
static dynrt_status oracle_requirements(run *R, int ai) {
  app_rt *a = &R->apps[ai];
  dynrt_requirements req = a->req;
  for (int i = 0; i < R->scn->nevents; i++) {
    const dynrt_scn_event *e = &R->scn->events[i];
    if (e->app != ai || e->at_ns < R->scn->apps[ai].start_ns) continue;
    switch (e->kind) {
    case DYNRT_SCN_EV_TARGET: req.latency_target_ns = (uint64_t)llround(e->value * 1e6); break;
    case DYNRT_SCN_EV_FLOOR: req.accuracy_floor = e->value; break;
    case DYNRT_SCN_EV_PERIOD: req.period_ns = (uint64_t)llround(e->value * 1e6); break;
    case DYNRT_SCN_EV_PRIORITY: req.priority = (int)e->value; break;
    default: continue;
    }
    if (!req.latency_target_ns && !req.period_ns) continue;
    dynrt_oracle_event ev = {
        .kind = DYNRT_ORACLE_REQUIREMENTS, .time_ns = e->at_ns, .app = a->app, .req = req};
    dynrt_status st = dynrt_rtm_oracle_add(R->rtm, &ev);
    if (st) return rfail(R, st, "oracle: %s", dynrt_rtm_errmsg(R->rtm));
  }
  return DYNRT_OK;
}

/* ---- apps ---- */

static void collect_overhead(run *R, app_rt *a) {
  dynrt_app_stats s;
  dynrt_app_get_stats(a->app, &s);
  R->decide_ns += s.decide_ns_sum;
  R->decisions += s.decisions;
}

/* What the manager says it cannot meet, once per app and kind. */
static void check_status(run *R, uint64_t now) {
  for (int i = 0; i < R->scn->napps; i++) {
    app_rt *a = &R->apps[i];
    if (!a->app) continue;
    dynrt_app_status st;
    dynrt_app_get_status(a->app, &st);
    if (!st.latency_met && !a->reported[0]) {
      a->reported[0] = 1;
      note_violation(R, "'%s' at %.2f s: latency target %.1f ms infeasible (predicted +%.2f ms)",
                     R->scn->apps[i].name, (double)now * 1e-9,
                     (double)a->req.latency_target_ns * 1e-6, st.latency_shortfall_ms);
    }
    if (!st.accuracy_met && !a->reported[1]) {
      a->reported[1] = 1;
      note_violation(R, "'%s' at %.2f s: accuracy floor %.4f infeasible (short by %.4f)",
                     R->scn->apps[i].name, (double)now * 1e-9, a->req.accuracy_floor,
                     st.accuracy_shortfall);
    }
    if (st.starved && !a->reported[2]) {
      a->reported[2] = 1;
      note_violation(R, "'%s' at %.2f s: starved (no resources left by priority)",
                     R->scn->apps[i].name, (double)now * 1e-9);
    }
  }
}

static dynrt_status step(run *R, uint64_t now) {
  int planned = 0;
  dynrt_status st = dynrt_rtm_step(R->rtm, now, &planned);
  if (st)
    return rfail(R, st, "manager step at %.3f s: %s", (double)now * 1e-9, dynrt_rtm_errmsg(R->rtm));
  if (planned) {
    dynrt_rtm_stats rs;
    dynrt_rtm_get_stats(R->rtm, &rs);
    if (rs.infeasible) R->r->sum.infeasible_plans++;
    check_status(R, now);
  }
  return DYNRT_OK;
}

static dynrt_status record_drop(run *R, int ai, uint64_t arrival, uint64_t now) {
  app_rt *a = &R->apps[ai];
  dynrt_scn_infer_rec rec = {.arrival_ns = arrival,
                             .start_ns = now,
                             .end_ns = now,
                             .app = ai,
                             .subnet = -1,
                             .level = -1,
                             .target_ms = (double)a->req.latency_target_ns * 1e-6,
                             .floor = a->req.accuracy_floor,
                             .domain = -1,
                             .dropped = 1,
                             .floor_feasible = 0};
  rec.floor_feasible = floor_feasible(R, ai, rec.floor, rec.target_ms, arrival);
  return dynrt_scn_result_add_inf(R->r, &rec);
}

static dynrt_status start_inference(run *R, int ai, uint64_t arrival, uint64_t now) {
  app_rt *a = &R->apps[ai];
  dynrt_status st = dynrt_app_decide(a->app, &a->dec);
  if (st) return record_drop(R, ai, arrival, now); /* no grant at all: the frame is lost */
  if (a->dec.wait_for >= 0) {
    /* A more important inference runs on the domain: start when it has reported. */
    int w = -1;
    for (int j = 0; j < R->scn->napps && w < 0; j++)
      if (R->apps[j].app && R->apps[j].pid == a->dec.wait_for) w = j;
    if (w < 0 || !R->apps[w].busy || R->apps[w].waiting)
      return rfail(R, DYNRT_ERR_INTERNAL,
                   "app '%s' at %.6f s: the manager asked to wait for app id %d, which has no "
                   "inference running",
                   R->scn->apps[ai].name, (double)now * 1e-9, a->dec.wait_for);
    a->busy = a->waiting = 1;
    a->wait_ai = w;
    a->arrival = arrival;
    return DYNRT_OK;
  }
  int d = a->dec.domain;
  const dynrt_domain_info *di = dynrt_platform_domain(R->p, d);
  double c = 0, m = 0;
  st = dynrt_scn_job_work(R->p, R->libs[ai], a->dec.subnet, d, R->scn->apps[ai].work_capacity, &c,
                          &m);
  if (st)
    return rfail(R, st, "app '%s': sub-network %d has no work split for the simulator",
                 R->scn->apps[ai].name, a->dec.subnet);
  if (di->kind == DYNRT_DOMAIN_GPU) {
    st = dynrt_sim_job_start(R->p, a->pid, d, 0, c, m, &a->job);
  } else {
    uint64_t avail = 0;
    dynrt_platform_available_cpus(R->p, &avail);
    uint64_t mask = a->dec.cpu_mask ? a->dec.cpu_mask : domain_cpus(R->p, d) & avail;
    st = dynrt_sim_job_start(R->p, a->pid, -1, mask, c, m, &a->job);
    if (st == DYNRT_ERR_STATE) /* a core went offline since the grant: what is left */
      st = dynrt_sim_job_start(R->p, a->pid, -1, domain_cpus(R->p, d) & avail, c, m, &a->job);
  }
  if (st) return record_drop(R, ai, arrival, now);
  a->busy = 1;
  a->arrival = arrival;
  a->start = now;
  a->target_ms =
      (double)(a->req.latency_target_ns ? a->req.latency_target_ns : a->req.period_ns) * 1e-6;
  if (a->req.period_ns && a->req.period_ns < a->req.latency_target_ns)
    a->target_ms = (double)a->req.period_ns * 1e-6;
  a->floor = a->req.accuracy_floor;
  return DYNRT_OK;
}

/* Starts the inferences that waited for app wi's (ended or cancelled) inference. */
static dynrt_status release_waiters(run *R, int wi, uint64_t now) {
  for (int j = 0; j < R->scn->napps; j++) {
    app_rt *b = &R->apps[j];
    if (!b->waiting || b->wait_ai != wi) continue;
    b->busy = b->waiting = 0;
    dynrt_status st = start_inference(R, j, b->arrival, now);
    if (st) return st;
  }
  return DYNRT_OK;
}

static dynrt_status complete_inference(run *R, int ai, const dynrt_sim_completion *done) {
  app_rt *a = &R->apps[ai];
  const dynrt_domain_info *di = dynrt_platform_domain(R->p, a->dec.domain);
  uint32_t khz = 0;
  dynrt_platform_get_freq(R->p, a->dec.domain, &khz);
  dynrt_scn_infer_rec rec = {
      .arrival_ns = a->arrival,
      .start_ns = done->start_ns,
      .end_ns = done->end_ns,
      .app = ai,
      .subnet = a->dec.subnet,
      .level = a->rank[a->dec.subnet],
      .accuracy = a->dec.accuracy,
      .latency_ms = (double)(done->end_ns - a->arrival) * 1e-6,
      .service_ms = (double)(done->end_ns - done->start_ns) * 1e-6,
      .target_ms = a->target_ms,
      .floor = a->floor,
      .energy_mj = done->energy_uj * 1e-3,
      .domain = a->dec.domain,
      .ncores = di->kind == DYNRT_DOMAIN_GPU ? 0 : __builtin_popcountll(a->dec.cpu_mask),
      .khz = khz,
      .floor_feasible = floor_feasible(R, ai, a->floor, a->target_ms, a->arrival),
  };
  a->busy = 0;
  dynrt_status st = dynrt_scn_result_add_inf(R->r, &rec);
  if (st) return st;
  dynrt_report rep = {done->end_ns - done->start_ns, (uint64_t)llround(done->energy_uj),
                      DYNRT_SIM_TAIL_FRACTION, done->tail_ns};
  st = dynrt_app_report_ex(a->app, &rep);
  if (st) return rfail(R, st, "report: %s", dynrt_app_errmsg(a->app));
  if (dynrt_rtm_replan_pending(R->rtm) && (st = step(R, done->end_ns))) return st;
  if ((st = release_waiters(R, ai, done->end_ns))) return st;
  if (a->pending) {
    a->pending = 0;
    return start_inference(R, ai, a->pending_arrival, done->end_ns);
  }
  if (!R->scn->apps[ai].period_ns || !a->req.period_ns)
    return start_inference(R, ai, done->end_ns, done->end_ns);
  return DYNRT_OK;
}

static dynrt_status app_start(run *R, int ai, uint64_t now) {
  app_rt *a = &R->apps[ai];
  const dynrt_scn_app *s = &R->scn->apps[ai];
  a->started = 1;
  dynrt_app_spec spec = {.name = s->name, .oplib = R->libs[ai], .req = a->req};
  dynrt_status st = dynrt_rtm_add_app(R->rtm, &spec, &a->app);
  if (st) return rfail(R, st, "adding app '%s': %s", s->name, dynrt_rtm_errmsg(R->rtm));
  a->pid = dynrt_app_id(a->app);
  check_status(R, now);
  if (R->oracle && ((st = oracle_slowdowns(R, a)) || (st = oracle_requirements(R, ai)))) return st;
  a->next_arrival = a->req.period_ns ? now : NEVER;
  if (!a->req.period_ns) return start_inference(R, ai, now, now);
  return DYNRT_OK;
}

static dynrt_status app_stop(run *R, int ai) {
  app_rt *a = &R->apps[ai];
  a->stopped = 1;
  if (a->busy && !a->waiting) dynrt_sim_job_cancel(R->p, a->job, NULL);
  a->busy = a->pending = a->waiting = 0;
  a->next_arrival = NEVER;
  collect_overhead(R, a);
  dynrt_status st = dynrt_rtm_remove_app(R->rtm, a->app);
  a->app = NULL;
  if (st)
    return rfail(R, st, "removing app '%s': %s", R->scn->apps[ai].name, dynrt_rtm_errmsg(R->rtm));
  return release_waiters(R, ai, dynrt_platform_now(R->p));
}

static dynrt_status arrival(run *R, int ai, uint64_t now) {
  app_rt *a = &R->apps[ai];
  a->next_arrival = now + a->req.period_ns;
  if (!a->busy) return start_inference(R, ai, now, now);
  if (a->pending) {
    /* The camera delivers a newer frame: the waiting one is lost (a miss). */
    dynrt_status st = record_drop(R, ai, a->pending_arrival, now);
    if (st) return st;
  }
  a->pending = 1;
  a->pending_arrival = now;
  return DYNRT_OK;
}

/* A requirement event of the scenario (the oracle was told in advance as well). */
static dynrt_status requirement_event(run *R, const dynrt_scn_event *e, uint64_t now) {
  app_rt *a = &R->apps[e->app];
  dynrt_requirements req = a->req;
  switch (e->kind) {
  case DYNRT_SCN_EV_TARGET: req.latency_target_ns = (uint64_t)llround(e->value * 1e6); break;
  case DYNRT_SCN_EV_FLOOR: req.accuracy_floor = e->value; break;
  case DYNRT_SCN_EV_PERIOD: req.period_ns = (uint64_t)llround(e->value * 1e6); break;
  case DYNRT_SCN_EV_PRIORITY: req.priority = (int)e->value; break;
  default: return DYNRT_OK;
  }
  if (!req.latency_target_ns && !req.period_ns)
    return rfail(R, DYNRT_ERR_INVALID_ARG,
                 "event at %.3f s: app '%s' would have neither a latency target nor a period",
                 (double)e->at_ns * 1e-9, R->scn->apps[e->app].name);
  uint64_t old_period = a->req.period_ns;
  a->req = req;
  a->reported[0] = a->reported[1] = 0;
  if (!a->app) return DYNRT_OK;
  dynrt_status st = dynrt_app_set_requirements(a->app, &req);
  if (st)
    return rfail(R, st, "event at %.3f s: %s", (double)e->at_ns * 1e-9, dynrt_app_errmsg(a->app));
  if (old_period != req.period_ns) {
    a->next_arrival = req.period_ns ? now : NEVER;
    if (!req.period_ns && !a->busy) return start_inference(R, e->app, now, now);
  }
  return DYNRT_OK;
}

static dynrt_status schedule_platform_events(run *R) {
  for (int i = 0; i < R->scn->nevents; i++) {
    const dynrt_scn_event *e = &R->scn->events[i];
    dynrt_status st = DYNRT_OK;
    uint32_t id;
    switch (e->kind) {
    case DYNRT_SCN_EV_CAP:
      st = dynrt_sim_schedule_cap(R->p, e->at_ns, domain_by_name(R->p, e->domain), e->max_khz);
      break;
    case DYNRT_SCN_EV_MODE: st = dynrt_sim_schedule_mode(R->p, e->at_ns, e->mode); break;
    case DYNRT_SCN_EV_TAKE: st = dynrt_sim_schedule_take(R->p, e->at_ns, e->cpu_mask); break;
    case DYNRT_SCN_EV_LOAD:
      if (e->cpu_mask)
        st = dynrt_sim_add_background(R->p, e->at_ns,
                                      e->until_ns == NEVER ? DYNRT_SIM_FOREVER : e->until_ns,
                                      e->cpu_mask, e->duty, e->load_period_ns, &id);
      break;
    default: break;
    }
    if (st)
      return rfail(R, st, "event at %.3f s: %s", (double)e->at_ns * 1e-9,
                   dynrt_platform_errmsg(R->p));
  }
  return DYNRT_OK;
}

static int loads_active(const dynrt_scn *scn, uint64_t t) {
  int n = 0;
  for (int i = 0; i < scn->nevents; i++) {
    const dynrt_scn_event *e = &scn->events[i];
    n += e->kind == DYNRT_SCN_EV_LOAD && e->at_ns <= t && t < e->until_ns;
  }
  return n;
}

static dynrt_status sample(run *R, uint64_t now) {
  double w = 0, e = 0;
  dynrt_sim_power(R->p, &w, &e);
  dynrt_scn_period_rec rec = {.t_ns = now, .loads = loads_active(R->scn, now)};
  if (now > R->last_sample)
    rec.power_w = (e - R->last_e_uj) * 1e3 / (double)(now - R->last_sample);
  else
    rec.power_w = w;
  R->last_e_uj = e;
  R->last_sample = now;
  for (int d = 0; d < R->r->ndomains; d++) dynrt_platform_get_freq(R->p, d, &rec.khz[d]);
  return dynrt_scn_result_add_period(R->r, &rec);
}

static dynrt_status handle_completion(run *R, const dynrt_sim_completion *done) {
  for (int i = 0; i < R->scn->nevents; i++) {
    corun *c = &R->co[i];
    if (!c->active || c->job != done->job) continue;
    if (done->end_ns < c->until)
      return dynrt_sim_job_start(R->p, FOREIGN_APP, c->domain, 0, FOREIGN_WORK_NS, 0, &c->job);
    c->active = 0;
    return DYNRT_OK;
  }
  for (int ai = 0; ai < R->scn->napps; ai++) {
    app_rt *a = &R->apps[ai];
    if (a->app && a->busy && !a->waiting && a->job == done->job)
      return complete_inference(R, ai, done);
  }
  return DYNRT_OK; /* a cancelled job's late record */
}

/* Everything scheduled at exactly `now`, in scenario order. */
static dynrt_status handle_time(run *R, uint64_t now, int *ev_next) {
  const dynrt_scn *scn = R->scn;
  dynrt_status st;
  int platform_event = 0;
  while (*ev_next < scn->nevents && scn->events[*ev_next].at_ns <= now) {
    int i = (*ev_next)++;
    const dynrt_scn_event *e = &scn->events[i];
    if (e->kind == DYNRT_SCN_EV_LOAD && e->domain[0]) {
      corun *c = &R->co[i];
      c->active = 1;
      c->domain = domain_by_name(R->p, e->domain);
      c->until = e->until_ns;
      if ((st = dynrt_sim_job_start(R->p, FOREIGN_APP, c->domain, 0, FOREIGN_WORK_NS, 0, &c->job)))
        return rfail(R, st, "co-running job on %s: %s", e->domain, dynrt_platform_errmsg(R->p));
    } else if (e->kind >= DYNRT_SCN_EV_LOAD) {
      platform_event = 1;
    } else if ((st = requirement_event(R, e, now))) {
      return st;
    }
  }
  for (int i = 0; i < scn->nevents; i++) {
    corun *c = &R->co[i];
    if (c->active && c->until <= now) {
      dynrt_sim_job_cancel(R->p, c->job, NULL);
      c->active = 0;
    }
  }
  for (int ai = 0; ai < scn->napps; ai++) {
    app_rt *a = &R->apps[ai];
    if (!a->started && scn->apps[ai].start_ns <= now && (st = app_start(R, ai, now))) return st;
    if (a->app && !a->stopped && scn->apps[ai].stop_ns <= now && (st = app_stop(R, ai))) return st;
  }
  if (platform_event || dynrt_rtm_replan_pending(R->rtm) || dynrt_rtm_next_due_ns(R->rtm) <= now)
    if ((st = step(R, now))) return st;
  for (int ai = 0; ai < scn->napps; ai++) {
    app_rt *a = &R->apps[ai];
    if (a->app && a->req.period_ns && a->next_arrival <= now && (st = arrival(R, ai, now)))
      return st;
  }
  if (R->last_sample + scn->trace_period_ns <= now && (st = sample(R, now))) return st;
  return DYNRT_OK;
}

static uint64_t next_time(run *R, int ev_next) {
  const dynrt_scn *scn = R->scn;
  uint64_t t = scn->duration_ns;
  if (ev_next < scn->nevents && scn->events[ev_next].at_ns < t) t = scn->events[ev_next].at_ns;
  for (int i = 0; i < scn->nevents; i++)
    if (R->co[i].active && R->co[i].until < t) t = R->co[i].until;
  for (int ai = 0; ai < scn->napps; ai++) {
    const app_rt *a = &R->apps[ai];
    if (!a->started && scn->apps[ai].start_ns < t) t = scn->apps[ai].start_ns;
    if (a->app && !a->stopped && scn->apps[ai].stop_ns < t) t = scn->apps[ai].stop_ns;
    if (a->app && a->req.period_ns && a->next_arrival < t) t = a->next_arrival;
  }
  uint64_t due = dynrt_rtm_next_due_ns(R->rtm);
  if (due < t) t = due;
  uint64_t s = R->last_sample + scn->trace_period_ns;
  if (s < t) t = s;
  return t;
}

static dynrt_status drive(run *R) {
  const dynrt_scn *scn = R->scn;
  dynrt_status st;
  int ev_next = 0;
  uint64_t now = 0;
  if ((st = load_timeline(R)) || (st = schedule_platform_events(R)) ||
      (st = handle_time(R, 0, &ev_next)))
    return st;
  while (now < scn->duration_ns) {
    uint64_t t = next_time(R, ev_next);
    if (t < now) t = now;
    dynrt_sim_completion done;
    int r = dynrt_sim_run_until(R->p, t, &done);
    if (r < 0) return rfail(R, (dynrt_status)r, "simulator: %s", dynrt_platform_errmsg(R->p));
    if (r == 1) {
      now = done.end_ns;
      if ((st = handle_completion(R, &done))) return st;
      continue;
    }
    now = t;
    if (now >= scn->duration_ns) break;
    if ((st = handle_time(R, now, &ev_next))) return st;
  }
  return sample(R, scn->duration_ns);
}

dynrt_status dynrt_scn_run_sim(const dynrt_scn *scn, const char *policy, dynrt_oplib *const *libs,
                               const dynrt_scn_run_opts *opts, dynrt_scn_result *r, char *errbuf,
                               size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!scn || !policy || !libs || !r) return DYNRT_ERR_INVALID_ARG;
  memset(r, 0, sizeof *r);
  snprintf(r->policy, sizeof r->policy, "%s", policy);
  run *R = dynrt__calloc(1, sizeof *R);
  if (!R) {
    if (errbuf) snprintf(errbuf, errlen, "%s [%s]: out of memory", scn->path, policy);
    return DYNRT_ERR_NOMEM;
  }
  R->scn = scn;
  R->libs = libs;
  R->r = r;
  R->errbuf = errbuf;
  R->errlen = errlen;
  dynrt_log_level old_level = dynrt_log_get_level();
  if (!(opts && opts->verbose) && old_level > DYNRT_LOG_ERROR) dynrt_log_set_level(DYNRT_LOG_ERROR);
  dynrt_status st = dynrt_scn_platform_open(scn->platform, &R->p, errbuf, errlen);
  if (st) goto out;
  const dynrt_platform_info *in = dynrt_platform_get_info(R->p);
  if (!in->simulated) {
    st = rfail(R, DYNRT_ERR_UNSUPPORTED, "platform '%s' is not simulated (use dynrt run)",
               scn->platform);
    goto out;
  }
  if ((st = dynrt_scn_check_platform(scn, R->p, errbuf, errlen))) goto out;
  r->seed = opts && opts->seed ? opts->seed : scn->seed;
  dynrt_sim_set_seed(R->p, r->seed);
  snprintf(r->platform, sizeof r->platform, "%s", in->name);
  r->simulated = 1;
  r->energy_modelled = 1;
  r->duration_ns = scn->duration_ns;
  r->ndomains = DYNRT_MIN(in->ndomains, DYNRT_MAX_DOMAINS);
  for (int d = 0; d < r->ndomains; d++)
    snprintf(r->domain_names[d], sizeof r->domain_names[d], "%s",
             dynrt_platform_domain(R->p, d)->name);
  r->napps = scn->napps;
  for (int i = 0; i < scn->napps; i++) {
    snprintf(r->app_names[i], sizeof r->app_names[i], "%s", scn->apps[i].name);
    app_rt *a = &R->apps[i];
    a->req = (dynrt_requirements){.latency_target_ns = scn->apps[i].latency_ns,
                                  .period_ns = scn->apps[i].period_ns,
                                  .accuracy_floor = scn->apps[i].accuracy_floor,
                                  .priority = scn->apps[i].priority};
    a->next_arrival = NEVER;
    for (int k = 0; k < dynrt_oplib_num_subnets(libs[i]); k++)
      a->best_acc = fmax(a->best_acc, dynrt_oplib_subnet_at(libs[i], k)->val_top1);
    if (!(a->rank = accuracy_ranks(libs[i]))) {
      st = rfail(R, DYNRT_ERR_NOMEM, "out of memory");
      goto out;
    }
  }
  dynrt_rtm_options ro;
  dynrt_rtm_options_init(&ro);
  ro.policy = policy;
  if (scn->rtm_period_ns) ro.period_ns = scn->rtm_period_ns;
  if ((st = dynrt_rtm_create(R->p, &ro, &R->rtm, errbuf, errlen))) goto out;
  R->oracle = !strcmp(policy, "oracle");
  if ((st = drive(R))) goto out;
  double w = 0, e = 0;
  dynrt_sim_power(R->p, &w, &e);
  r->sum.energy_j = e * 1e-6;
  for (int i = 0; i < scn->napps; i++)
    if (R->apps[i].app) collect_overhead(R, &R->apps[i]);
  dynrt_rtm_stats rs;
  dynrt_rtm_get_stats(R->rtm, &rs);
  r->sum.plans = rs.plans;
  r->sum.plan_us = rs.plans ? (double)rs.plan_ns_sum * 1e-3 / (double)rs.plans : 0;
  r->sum.decide_ns = R->decisions ? (double)R->decide_ns / (double)R->decisions : 0;
  dynrt_scn_summarise(r);
out:
  /* A failed run leaves no records behind: callers free completed results only. */
  if (st) dynrt_scn_result_free(r);
  dynrt_rtm_destroy(R->rtm);
  dynrt_platform_close(R->p);
  for (int i = 0; i < scn->napps; i++) dynrt__free(R->apps[i].rank);
  dynrt__free(R);
  dynrt_log_set_level(old_level);
  return st;
}

void dynrt_scn_free_libs(dynrt_oplib **libs, int n) {
  for (int i = 0; i < n; i++) {
    int dup = 0;
    for (int j = 0; j < i && !dup; j++) dup = libs[j] == libs[i];
    if (!dup) dynrt_oplib_destroy(libs[i]);
  }
  for (int i = 0; i < n; i++) libs[i] = NULL;
}

dynrt_status dynrt_scn_load_libs(const dynrt_scn *scn, dynrt_oplib **libs, char *errbuf,
                                 size_t errlen) {
  for (int i = 0; i < scn->napps; i++) libs[i] = NULL;
  for (int i = 0; i < scn->napps; i++) {
    const dynrt_scn_app *a = &scn->apps[i];
    /* Apps with the same library and derivation share one (immutable) library. */
    int same = -1;
    for (int j = 0; j < i && same < 0; j++)
      if (!strcmp(scn->apps[j].oplib, a->oplib) && scn->apps[j].derive == a->derive &&
          scn->apps[j].work_capacity == a->work_capacity)
        same = j;
    if (same >= 0) {
      libs[i] = libs[same];
      continue;
    }
    dynrt_oplib *src = NULL;
    char msg[512];
    dynrt_status st = dynrt_oplib_load(a->oplib, &src, msg, sizeof msg);
    if (st == DYNRT_OK && a->derive != DYNRT_SCN_DERIVE_NO) {
      dynrt_scn_derive_opts o = {.work_capacity = a->work_capacity,
                                 .gpu_only = a->derive == DYNRT_SCN_DERIVE_GPU,
                                 .cpu_only = a->derive == DYNRT_SCN_DERIVE_CPU};
      st = dynrt_scn_derive_oplib(scn->platform, src, &o, &libs[i], msg, sizeof msg);
      dynrt_oplib_destroy(src);
    } else {
      libs[i] = src;
    }
    if (st) {
      if (errbuf) snprintf(errbuf, errlen, "%s: apps[%d] '%s': %s", scn->path, i, a->name, msg);
      dynrt_scn_free_libs(libs, i);
      return st;
    }
  }
  return DYNRT_OK;
}

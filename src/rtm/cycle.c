/* cycle.c - the level-2 cycle of the runtime manager: platform events and the oracle's
 * timeline decide when; a plan snapshots every app, runs the search (planner.c), actuates
 * through dynrt/platform.h only what changed, and publishes each app's grant and status.
 * Everything here runs under the manager lock; an app's lock is taken only to copy. */
#include <math.h>
#include <string.h>

#include "rtm/rtm_int.h"

#define MOD "rtm"

/* ---- level 2 cycle ---- */

/* The lowest OPP a cap leaves (idle drop), -1 if none. */
static int lowest_allowed(const rtm_dom *dom) {
  for (int f = 0; f < dom->nopps; f++)
    if (dom->allowed[f]) return f;
  return -1;
}

/* A frequency write failed (a read-only or vanished sysfs file, a firmware refusal): the
 * domain stays where it is. Its frequency is read back, so that the next plan does not take
 * the write for done and the in-flight predictions of a time-shared domain use the OPP it
 * really runs at. Caller holds rtm->mu, not fly_mu. */
static void freq_write_failed(dynrt_rtm *rtm, int d, uint32_t khz, uint64_t now) {
  rtm_dom *dom = &rtm->dom[d];
  DYNRT_LOGW(MOD, "set_freq %s %u kHz: %s", dom->name, khz, dynrt_platform_errmsg(rtm->p));
  rtm->stats.freq_write_errors++;
  uint32_t cur = 0;
  int idx = -1;
  if (dynrt_platform_get_freq(rtm->p, d, &cur) == DYNRT_OK && cur > 0) {
    dom->applied_khz = cur;
    for (int f = 0; f < dom->nopps; f++)
      if (dom->khz[f] <= cur) idx = f; /* the OPP at or below what it runs at */
  } else {
    dom->applied_khz = 0; /* unknown: the next plan writes again */
  }
  if (rtm__contends(rtm, d)) {
    pthread_mutex_lock(&rtm->fly_mu);
    rtm__fly_segment(rtm, d, now);
    rtm->cur_opp[d] = idx;
    pthread_mutex_unlock(&rtm->fly_mu);
  }
}

/* Cores each domain offers now and the OPPs its limits allow. */
static void refresh_domains(dynrt_rtm *rtm) {
  uint64_t avail = ~0ull;
  if (dynrt_platform_available_cpus(rtm->p, &avail) != DYNRT_OK) avail = ~0ull;
  for (int d = 0; d < rtm->ndom; d++) {
    rtm_dom *dom = &rtm->dom[d];
    dom->avail = dom->cpus & avail;
    dom->writable = dom->can_set && dynrt_platform_domain(rtm->p, d)->can_set_freq;
    dom->capacity = dom->shared ? rtm->opt.share_units : __builtin_popcountll(dom->avail);
    uint32_t lo = 0, hi = UINT32_MAX, cur = 0;
    if (dynrt_platform_get_limits(rtm->p, d, &lo, &hi) != DYNRT_OK) lo = 0, hi = UINT32_MAX;
    int any = 0;
    for (int f = 0; f < dom->nopps; f++)
      any |= dom->allowed[f] = dom->khz[f] >= lo && dom->khz[f] <= hi;
    if (!dom->writable || !any) {
      /* Not ours to set (or nothing within limits): plan at what it runs now. */
      int pick = dom->nopps - 1;
      if (dynrt_platform_get_freq(rtm->p, d, &cur) == DYNRT_OK)
        for (int f = 0; f < dom->nopps; f++)
          if (llabs((long long)dom->khz[f] - cur) < llabs((long long)dom->khz[pick] - cur))
            pick = f;
      for (int f = 0; f < dom->nopps; f++) dom->allowed[f] = f == pick;
    }
  }
}

/* Disjoint cores on CPU domains; an app keeps its cores when it can, to spare migrations. */
static void place_cores(dynrt_rtm *rtm, int n, uint64_t *masks) {
  uint64_t taken[DYNRT_MAX_DOMAINS] = {0};
  for (int i = 0; i < n; i++) masks[i] = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < n; i++) {
      const rtm_plan_app *a = &rtm->plan[i];
      if (a->opt < 0 || masks[i]) continue;
      const rtm_opt *o = &a->app->opts[a->opt];
      const rtm_dom *dom = &rtm->dom[o->domain];
      if (dom->shared) continue;
      uint64_t free_ = dom->avail & ~taken[o->domain];
      uint64_t prev = a->app->applied_mask;
      /* Cores without foreign load first: the slowdown estimate is per domain, the load
       * may sit on only some of its cores. */
      uint64_t clean = free_ & ~rtm->loaded;
      int enough = __builtin_popcountll(clean) >= o->cores;
      if (pass == 0) {
        if (__builtin_popcountll(prev) == o->cores && (prev & free_) == prev &&
            (!enough || !(prev & rtm->loaded)))
          masks[i] = prev;
      } else {
        int got = 0;
        for (int c = 0; c < 64 && got < o->cores; c++)
          if (clean >> c & 1) {
            masks[i] |= 1ull << c;
            got++;
          }
        for (int c = 0; c < 64 && got < o->cores; c++)
          if ((free_ & ~clean) >> c & 1) {
            masks[i] |= 1ull << c;
            got++;
          }
      }
      taken[o->domain] |= masks[i];
    }
  }
}

static void log_status_change(const dynrt_app *app, const dynrt_app_status *old,
                              const dynrt_app_status *st) {
  if (st->starved && !old->starved) {
    DYNRT_LOGW(MOD, "app '%s' (priority %d): no resources left, time-sharing without a grant",
               app->name, app->req.priority);
    return;
  }
  double target = rtm__target_ms(&app->req);
  if (!st->latency_met && (old->latency_met || fabs(old->latency_shortfall_ms -
                                                    st->latency_shortfall_ms) > 0.01 * target))
    DYNRT_LOGW(MOD,
               "app '%s' (priority %d): latency target %.2f ms not met, predicted %.2f ms "
               "(+%.2f ms)",
               app->name, app->req.priority, target, target + st->latency_shortfall_ms,
               st->latency_shortfall_ms);
  if (!st->accuracy_met && (old->accuracy_met || old->accuracy_shortfall != st->accuracy_shortfall))
    DYNRT_LOGW(MOD,
               "app '%s' (priority %d): accuracy floor %.4f not met, best possible %.4f "
               "(-%.4f)",
               app->name, app->req.priority, app->req.accuracy_floor,
               app->req.accuracy_floor - st->accuracy_shortfall, st->accuracy_shortfall);
  if (!st->energy_met && old->energy_met)
    DYNRT_LOGW(MOD, "app '%s' (priority %d): energy budget %.3f mJ not met (+%.3f mJ)", app->name,
               app->req.priority, (double)app->req.energy_budget_uj * 1e-3,
               st->energy_shortfall_mj);
  if (st->latency_met && st->accuracy_met && st->energy_met && old->degraded)
    DYNRT_LOGI(MOD, "app '%s': requirements met again", app->name);
}

/* Governor policies: each app on the domain of its base setting, on all its cores (the
 * kernel schedules; frequency is the governor's). */
static void plan_governed(dynrt_rtm *rtm, int n) {
  for (int i = 0; i < n; i++) {
    rtm_plan_app *a = &rtm->plan[i];
    a->opt = a->app->base_opt;
    a->level = -1; /* kept by the app */
    a->relax = 0;
  }
}

dynrt_status rtm__replan(dynrt_rtm *rtm, uint64_t now) {
  uint64_t t0 = dynrt_now_ns();
  int n = rtm->napps;
  refresh_domains(rtm);
  for (int i = 0; i < n; i++) {
    dynrt_app *app = rtm->apps[i];
    rtm_plan_app *a = &rtm->plan[i];
    pthread_mutex_lock(&app->mu);
    double target = rtm__target_ms(&app->req);
    *a = (rtm_plan_app){
        .app = app,
        .target_ms = target,
        .budget_ms = target * (1 - rtm->opt.margin),
        .rate_hz = app->req.period_ns ? 1e9 / (double)app->req.period_ns : 1e3 / target,
        .floor = app->req.accuracy_floor,
        .energy_mj = (double)app->req.energy_budget_uj * 1e-3,
        .priority = app->req.priority,
    };
    for (int d = 0; d < rtm->ndom; d++) a->slow[d] = rtm__slow(app, d, rtm->opt.slowdown_sigmas);
    pthread_mutex_unlock(&app->mu);
  }
  int dom_opp[DYNRT_MAX_DOMAINS];
  int degraded = 0;
  if (rtm__governed(rtm)) {
    plan_governed(rtm, n);
    for (int d = 0; d < rtm->ndom; d++) dom_opp[d] = -1;
  } else {
    degraded = rtm__plan(rtm, n, dom_opp);
  }
  int planned_opp[DYNRT_MAX_DOMAINS];
  for (int d = 0; d < DYNRT_MAX_DOMAINS; d++) planned_opp[d] = d < rtm->ndom ? dom_opp[d] : -1;
  /* An inference in flight keeps the frequency it was decided for: lowering it under a
   * running job (an app moved away, a cheaper plan) would stretch that job past its
   * deadline. The app re-plans when it reports. */
  for (int i = 0; i < n && !rtm__governed(rtm); i++) {
    dynrt_app *app = rtm->apps[i];
    pthread_mutex_lock(&app->mu);
    int d = app->inflight_dom;
    if (d >= 0 && d < rtm->ndom && dom_opp[d] >= 0 && rtm->dom[d].writable &&
        rtm->dom[d].khz[dom_opp[d]] < app->inflight_khz) {
      const rtm_dom *dom = &rtm->dom[d];
      int f = dom_opp[d];
      while (f + 1 < dom->nopps && dom->khz[f] < app->inflight_khz && dom->allowed[f + 1]) f++;
      if (f != dom_opp[d]) {
        dom_opp[d] = f;
        app->hold = 1;
      }
    }
    pthread_mutex_unlock(&app->mu);
  }
  /* Contention-aware domains: level 2's OPP is the base that level 1 raises per inference;
   * the domain runs the max of it and the requests of the inferences in flight. */
  int fly_now = 0;
  uint64_t cnow = 0;
  for (int d = 0; d < rtm->ndom; d++) fly_now |= rtm__contends(rtm, d);
  if (fly_now) {
    cnow = dynrt_platform_now(rtm->p);
    pthread_mutex_lock(&rtm->fly_mu);
    for (int d = 0; d < rtm->ndom; d++) {
      if (!rtm__contends(rtm, d)) continue;
      rtm->plan_opp[d] = planned_opp[d];
      int top = -1;
      for (int f = 0; f < rtm->dom[d].nopps; f++)
        if (rtm->dom[d].allowed[f]) top = f;
      rtm->top_opp[d] = top;
      int busy = 0;
      for (int i = 0; i < DYNRT_RTM_MAX_APPS; i++) {
        busy |= rtm->fly[i].dom == d;
        if (rtm->fly[i].dom == d && rtm->fly[i].req_opp > dom_opp[d])
          dom_opp[d] = DYNRT_MIN(rtm->fly[i].req_opp, top);
      }
      if (!busy && rtm->opt.idle_drop && dom_opp[d] >= 0) dom_opp[d] = lowest_allowed(&rtm->dom[d]);
    }
    pthread_mutex_unlock(&rtm->fly_mu);
  }
  /* Frequencies: written only when they change. */
  for (int d = 0; d < rtm->ndom; d++) {
    rtm_dom *dom = &rtm->dom[d];
    if (dom_opp[d] < 0 || !dom->writable) continue;
    uint32_t khz = dom->khz[dom_opp[d]], actual = 0;
    if (khz == dom->applied_khz) continue;
    if (rtm__contends(rtm, d)) {
      pthread_mutex_lock(&rtm->fly_mu);
      rtm__fly_segment(rtm, d, cnow);
      rtm->cur_opp[d] = dom_opp[d];
      pthread_mutex_unlock(&rtm->fly_mu);
    }
    if (dynrt_platform_set_freq(rtm->p, d, khz, &actual) == DYNRT_OK) {
      dom->applied_khz = actual;
      rtm->stats.freq_writes++;
    } else {
      freq_write_failed(rtm, d, khz, cnow);
    }
  }
  uint64_t masks[DYNRT_RTM_MAX_APPS];
  place_cores(rtm, n, masks);
  for (int i = 0; i < n; i++) {
    rtm_plan_app *a = &rtm->plan[i];
    dynrt_app *app = a->app;
    int starved = a->opt < 0;
    int opt = starved ? (app->grant.opt >= 0 ? app->grant.opt : 0) : a->opt;
    if ((rtm__governed(rtm) || starved) && !rtm->dom[app->opts[opt].domain].shared &&
        !rtm->dom[app->opts[opt].domain].avail) {
      /* Every core of that domain went offline: time-share a domain that has cores left
       * (the first setting of one; its planned level below is the least accurate). */
      for (int k = 0; k < app->nopts; k++) {
        const rtm_dom *dk = &rtm->dom[app->opts[k].domain];
        if (dk->shared || dk->avail) {
          opt = k;
          break;
        }
      }
    }
    const rtm_opt *o = &app->opts[opt];
    const rtm_dom *dom = &rtm->dom[o->domain];
    uint64_t mask = masks[i];
    if (rtm__governed(rtm) || starved) mask = dom->shared ? 0 : dom->avail; /* time-shared */
    /* Contention-aware domains: the grant carries the planned (base) frequency. */
    uint32_t khz = rtm__governed(rtm)              ? 0
                   : rtm__contends(rtm, o->domain) ? dom->khz[o->opp]
                   : dom->applied_khz              ? dom->applied_khz
                                                   : dom->khz[o->opp];
    pthread_mutex_lock(&app->mu);
    int level = rtm__governed(rtm) ? app->level : starved ? 0 : a->level;
    rtm_grant *g = &app->grant;
    if (g->opt != opt || g->level != level || g->mask != mask || g->khz != khz) {
      *g = (rtm_grant){opt, level, mask, __builtin_popcountll(mask), khz, g->epoch + 1};
      if (!rtm__governed(rtm)) rtm__app_grant_reset(app);
    }
    for (int d = 0; d < rtm->ndom; d++) app->slow_at_plan[d] = a->slow[d];
    dynrt_app_status old = app->status, *st = &app->status;
    /* Governor policies: predicted at their base setting (top OPP), the governor decides. */
    const rtm_pt *pt = &app->pts[o->pt_off + level];
    double lat = pt->lat_ms * a->slow[o->domain], e = pt->e_mj * a->slow[o->domain];
    st->latency_shortfall_ms = lat - a->target_ms;
    st->accuracy_shortfall = a->floor - pt->acc;
    st->energy_shortfall_mj = a->energy_mj > 0 ? e - a->energy_mj : 0;
    st->latency_met = st->latency_shortfall_ms <= 0;
    st->accuracy_met = st->accuracy_shortfall <= 1e-12;
    st->energy_met = st->energy_shortfall_mj <= 0;
    st->degraded = a->relax != 0 || starved;
    app->floor_relaxed = (a->relax & RTM_RELAX_FLOOR) != 0 || starved;
    st->starved = starved;
    st->slowdown = a->slow[o->domain];
    log_status_change(app, &old, st);
    pthread_mutex_unlock(&app->mu);
    /* Apps on a time-shared domain (GPU) hold no cores: the platform learns that as 0. */
    if (mask != app->applied_mask || !app->applied) {
      if (dynrt_platform_assign(rtm->p, app->id, mask) == DYNRT_OK) {
        app->applied_mask = mask;
        app->applied = 1;
        rtm->stats.assign_writes++;
      } else {
        DYNRT_LOGW(MOD, "assign app %d: %s", app->id, dynrt_platform_errmsg(rtm->p));
      }
    }
  }
  rtm->stats.infeasible = degraded > 0;
  rtm->stats.plans++;
  rtm->stats.plan_ns_last = dynrt_now_ns() - t0;
  rtm->stats.plan_ns_sum += rtm->stats.plan_ns_last;
  rtm->last_plan_ns = now;
  rtm->planned_once = 1;
  atomic_store(&rtm->next_due, now + rtm->opt.period_ns);
  return DYNRT_OK;
}

void rtm__fly_apply(dynrt_rtm *rtm, int d) {
  if (pthread_mutex_trylock(&rtm->mu) != 0) {
    atomic_store(&rtm->replan, 1); /* level 2 is running: it applies the requests */
    return;
  }
  rtm_dom *dom = &rtm->dom[d];
  uint64_t now = dynrt_platform_now(rtm->p);
  pthread_mutex_lock(&rtm->fly_mu);
  int f = rtm->plan_opp[d], busy = 0;
  for (int i = 0; i < DYNRT_RTM_MAX_APPS; i++) {
    busy |= rtm->fly[i].dom == d;
    if (rtm->fly[i].dom == d && rtm->fly[i].req_opp > f) f = rtm->fly[i].req_opp;
  }
  if (!busy && rtm->opt.idle_drop && f >= 0) f = lowest_allowed(dom);
  int change = f >= 0 && f < dom->nopps && dom->khz[f] != dom->applied_khz && dom->writable;
  if (change) {
    rtm__fly_segment(rtm, d, now);
    rtm->cur_opp[d] = f;
  }
  pthread_mutex_unlock(&rtm->fly_mu);
  if (change) {
    uint32_t actual = 0;
    if (dynrt_platform_set_freq(rtm->p, d, dom->khz[f], &actual) == DYNRT_OK) {
      dom->applied_khz = actual;
      rtm->stats.freq_writes++;
      rtm->boosts++;
    } else {
      freq_write_failed(rtm, d, dom->khz[f], now);
    }
  }
  pthread_mutex_unlock(&rtm->mu);
}

/* Applies the oracle's timeline up to now; 1 if anything changed. */
static int oracle_apply(dynrt_rtm *rtm, uint64_t now) {
  int changed = 0;
  while (rtm->oracle_next < rtm->noracle && rtm->oracle[rtm->oracle_next].ev.time_ns <= now) {
    const dynrt_oracle_event *ev = &rtm->oracle[rtm->oracle_next++].ev;
    dynrt_app *app = ev->app;
    pthread_mutex_lock(&app->mu);
    if (ev->kind == DYNRT_ORACLE_SLOWDOWN) {
      for (int d = 0; d < DYNRT_MAX_DOMAINS; d++)
        if (ev->domain < 0 || ev->domain == d) app->true_slow[d] = ev->slowdown;
    } else {
      app->req = ev->req;
    }
    pthread_mutex_unlock(&app->mu);
    changed = 1;
  }
  return changed;
}

/* Platform events; 1 if any asks for a plan. */
static int poll_events(dynrt_rtm *rtm) {
  dynrt_event ev;
  int any = 0;
  while (dynrt_platform_poll_event(rtm->p, &ev)) {
    rtm->stats.events++;
    any = 1;
    if (ev.kind != DYNRT_EVENT_LOAD_CHANGED) continue;
    /* Foreign load appeared on or left some cores: what each app learnt on a domain whose
     * load changed is stale. Its filter restarts from the app's estimate for that kind of
     * domain (times RTM_LOAD_PRIOR where load now sits) and trusts the next measurement,
     * so a plan made now already avoids the loaded cores, and the estimate settles within
     * one or two inferences where the app runs. */
    for (int i = 0; i < rtm->napps; i++) {
      dynrt_app *app = rtm->apps[i];
      pthread_mutex_lock(&app->mu);
      for (int d = 0; d < rtm->ndom; d++) {
        const rtm_dom *dom = &rtm->dom[d];
        if (dom->shared || !((app->loaded ^ ev.cpu_mask) & dom->cpus)) continue;
        rtm__kf_init(&app->kf[d], rtm->opt.kalman_r);
        app->kf_n[d] = 0;
      }
      app->loaded = ev.cpu_mask;
      pthread_mutex_unlock(&app->mu);
    }
    rtm->loaded = ev.cpu_mask;
  }
  return any;
}

static dynrt_status step_locked(dynrt_rtm *rtm, uint64_t now, int *planned) {
  if (!now) now = dynrt_platform_now(rtm->p);
  int due = poll_events(rtm);
  if (rtm->policy == RTM_POLICY_ORACLE) due |= oracle_apply(rtm, now);
  due |= atomic_exchange(&rtm->replan, 0);
  due |= !rtm->planned_once || now >= atomic_load(&rtm->next_due);
  if (!due) return DYNRT_OK;
  if (planned) *planned = 1;
  return rtm__replan(rtm, now);
}

dynrt_status dynrt_rtm_step(dynrt_rtm *rtm, uint64_t now_ns, int *planned) {
  if (planned) *planned = 0;
  if (!rtm) return DYNRT_ERR_INVALID_ARG;
  pthread_mutex_lock(&rtm->mu);
  dynrt_status st = step_locked(rtm, now_ns, planned);
  pthread_mutex_unlock(&rtm->mu);
  return st;
}

void rtm__try_step(dynrt_rtm *rtm) {
  if (pthread_mutex_trylock(&rtm->mu) != 0) return; /* someone is planning: never wait */
  step_locked(rtm, 0, NULL);
  pthread_mutex_unlock(&rtm->mu);
}

uint64_t dynrt_rtm_next_due_ns(dynrt_rtm *rtm) {
  if (!rtm) return 0;
  pthread_mutex_lock(&rtm->mu);
  uint64_t t = atomic_load(&rtm->next_due);
  if (rtm->oracle_next < rtm->noracle && rtm->oracle[rtm->oracle_next].ev.time_ns < t)
    t = rtm->oracle[rtm->oracle_next].ev.time_ns;
  pthread_mutex_unlock(&rtm->mu);
  return t;
}

int dynrt_rtm_replan_pending(const dynrt_rtm *rtm) {
  return rtm ? atomic_load(&((dynrt_rtm *)rtm)->replan) : 0;
}

void dynrt_rtm_get_stats(dynrt_rtm *rtm, dynrt_rtm_stats *out) {
  if (!rtm || !out) return;
  pthread_mutex_lock(&rtm->mu);
  *out = rtm->stats;
  pthread_mutex_unlock(&rtm->mu);
}

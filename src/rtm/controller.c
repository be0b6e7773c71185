/* controller.c - level 1 of the runtime manager, per app and per inference: the slowdown
 * estimator (scalar Kalman filter), the pick of a sub-network within the app's grant with
 * hysteresis, the baseline rules (static, Dynamic-OFA), and real inference on an engine
 * session. It only reads the grant level 2 published; it never plans and never touches the
 * platform, so it cannot block on level 2 beyond an app's own short critical sections. */
#include <math.h>
#include <string.h>

#include "rtm/rtm_int.h"

/* ---- slowdown estimator ----
 * State s = measured / predicted latency, random walk with process noise q per inference;
 * each report measures z = s + noise of variance r. With q/r = 0.25 (defaults) the
 * steady-state gain is K = 0.39: after a step in slowdown the remaining error shrinks by
 * 0.61 per inference, i.e. 90 % of the step is seen after 5 inferences (docs/rtm.md). */

void rtm__kf_init(rtm_kf *kf, double r) {
  kf->s = 1.0;
  kf->p = r; /* as unsure as one measurement: the first report moves s about half-way */
  kf->v = 0;
}

void rtm__kf_update(rtm_kf *kf, double z, double q, double r) {
  /* A wild measurement (clock glitch, a stall) must not throw the filter out of range. */
  if (!(z > 0.02)) z = 0.02;
  if (z > 50) z = 50;
  double p = kf->p + q;
  double k = p / (p + r);
  double innov = z - kf->s;
  kf->v += RTM_KF_VAR_WEIGHT * (innov * innov - kf->v);
  kf->s += k * innov;
  kf->p = (1 - k) * p;
}

double rtm__slow(const dynrt_app *app, int d, double k) {
  const dynrt_rtm *rtm = app->rtm;
  const rtm_dom *dom = &rtm->dom[d];
  int oracle = rtm->policy == RTM_POLICY_ORACLE;
  double s;
  if (app->kf_n[d] > 0) {
    s = app->kf[d].s + k * sqrt(app->kf[d].v);
  } else {
    const rtm_kf *g = &app->kf_kind[dom->shared];
    s = g->s + k * sqrt(g->v);
    if (!oracle && !dom->shared && (dom->cpus & app->loaded)) s *= RTM_LOAD_PRIOR;
  }
  return oracle ? s * app->true_slow[d] : s;
}

double rtm__target_ms(const dynrt_requirements *req) {
  uint64_t t = req->latency_target_ns;
  if (req->period_ns && (!t || req->period_ns < t)) t = req->period_ns;
  return (double)t * 1e-6;
}

void rtm__app_grant_reset(dynrt_app *app) {
  app->level = app->grant.level;
  app->up_count = 0;
  app->miss_count = 0;
  app->floor_count = 0;
}

static int uses_governor(const dynrt_rtm *rtm) {
  return rtm->policy == RTM_POLICY_STATIC_MAX || rtm->policy == RTM_POLICY_STATIC_MIN ||
         rtm->policy == RTM_POLICY_DYNAMIC_OFA;
}

/* Level 1 of our policy (caller holds app->mu). Returns the chosen level. */
static int level1(dynrt_app *app, const rtm_opt *o) {
  const dynrt_rtm *rtm = app->rtm;
  const rtm_pt *pts = &app->pts[o->pt_off];
  int n = o->npts;
  if (rtm->policy == RTM_POLICY_DVFS_ONLY) return app->grant.level;
  double s = rtm__slow(app, o->domain, rtm->opt.slowdown_sigmas);
  double target = rtm__target_ms(&app->req);
  double fit = target * (1 - rtm->opt.margin);
  double fit_up = target * (1 - rtm->opt.margin - rtm->opt.step_up_margin);
  int ceil = rtm->pick == RTM_PICK_MAXACC ? n - 1 : app->grant.level;
  int cur = DYNRT_MIN(app->level, ceil);
  if (cur < 0) cur = 0;
  if (pts[cur].lat_ms * s > fit) {
    /* Violation predicted: step down at once to the best point that fits. On a domain
     * whose frequency level 1 raises per inference (contend()), not below the accuracy
     * floor while level 2 holds it: the boost buys the latency instead. Elsewhere the
     * floor may be missed until level 2 (flagged below) buys a faster setting. */
    int boostable = rtm__contends(rtm, o->domain);
    int keep = app->floor_relaxed || !boostable ? 0 : cur;
    if (keep)
      while (keep > 0 && pts[keep - 1].acc >= app->req.accuracy_floor) keep--;
    while (cur > keep && pts[cur].lat_ms * s > fit) cur--;
    app->up_count = 0;
  } else if (cur < ceil) {
    int cand = cur;
    for (int l = ceil; l > cur; l--)
      if (pts[l].lat_ms * s <= fit_up) {
        cand = l;
        break;
      }
    if (cand > cur) {
      if (++app->up_count >= rtm->opt.step_up_count) {
        cur = cand;
        app->up_count = 0;
      }
    } else {
      app->up_count = 0;
    }
  }
  /* The grant cannot hold the requirements any more: call level 2, once per grant. */
  int short_acc = pts[cur].acc < app->req.accuracy_floor;
  int short_lat = pts[cur].lat_ms * s > fit;
  app->floor_count = short_acc || short_lat ? app->floor_count + 1 : 0;
  if (app->floor_count >= rtm->opt.violation_count && app->flagged_epoch != app->grant.epoch) {
    app->flagged_epoch = app->grant.epoch;
    atomic_store(&app->rtm->replan, 1);
  }
  return cur;
}

/* ---- contention-aware per-inference control (docs/rtm.md) ---- */

/* Until an overlap has been measured, co-running inferences on a time-shared domain are
 * assumed to share it fully (each runs at half speed): the safe prior. */
#define RTM_OVL_PRIOR 2.0

double rtm__slow_ovl(const dynrt_app *app, int d, double k) {
  if (app->kf_ovl_n[d] <= 0) return RTM_OVL_PRIOR * rtm__slow(app, d, k);
  double s = app->kf_ovl[d].s + k * sqrt(app->kf_ovl[d].v);
  return app->rtm->policy == RTM_POLICY_ORACLE ? s * app->true_slow[d] : s;
}

void rtm__fly_segment(dynrt_rtm *rtm, int d, uint64_t now) {
  int n = 0;
  for (int i = 0; i < DYNRT_RTM_MAX_APPS; i++) n += rtm->fly[i].dom == d;
  for (int i = 0; i < DYNRT_RTM_MAX_APPS; i++) {
    rtm_fly *f = &rtm->fly[i];
    if (f->dom != d) continue;
    if (now > f->seg_t) {
      int opp = rtm->cur_opp[d] >= 0 ? rtm->cur_opp[d] : f->req_opp;
      double L = f->lat[opp], dt = (double)(now - f->seg_t) * 1e-6;
      if (L > 0) {
        if (n >= 2)
          f->b += dt / L;
        else
          f->a += dt / L;
      }
      f->seg_t = now;
    }
  }
}

/* Time job a needs from now when it co-runs with jobs of which the longest has b_ovl left
 * (overlapped): overlapped until that one ends, then alone at the rest of its work. */
static double finish(double a_ovl, double a_alone, double b_ovl) {
  if (a_ovl <= b_ovl || a_ovl <= 0) return a_ovl;
  return b_ovl + (1 - b_ovl / a_ovl) * a_alone;
}

/* The lowest OPP in [lo, hi] at which each job j meets its deadline while all of them run
 * together at that OPP; firm[j]: with margin and planning slowdowns; else hi when the
 * estimates meet the bare target there (best effort), else -1 (lost anyway: no boost). */
static void fly_needs(const rtm_fly *const *job, const double *rho, const double *el, int nj,
                      int lo, int hi, int *need, int *firm) {
  double ro[DYNRT_RTM_MAX_APPS], ra[DYNRT_RTM_MAX_APPS];
  int left = nj;
  for (int j = 0; j < nj; j++) need[j] = -2, firm[j] = 0;
  for (int f = lo; f <= hi && left > 0; f++) {
    int last = f == hi;
    for (int pass = 0; pass < 1 + last; pass++) {
      for (int j = 0; j < nj; j++) {
        /* The contention excess learnt (mostly against one co-runner) grows with the
         * number of co-runners, as time-shared compute does. */
        double L = rho[j] * job[j]->lat[f];
        double sa = pass ? job[j]->s_alone0 : job[j]->s_alone;
        double so = pass ? job[j]->s_ovl0 : job[j]->s_ovl;
        ro[j] = L * (sa + (nj - 1) * (so - sa));
        ra[j] = L * sa;
      }
      for (int j = 0; j < nj; j++) {
        if (need[j] != -2) continue;
        double b = 0;
        for (int i = 0; i < nj; i++)
          if (i != j && ro[i] > b) b = ro[i];
        double t = el[j] + (nj > 1 ? finish(ro[j], ra[j], b) : ra[j]);
        if (!pass && t <= job[j]->fit_ms) {
          need[j] = f;
          firm[j] = 1;
          left--;
        } else if (pass) {
          need[j] = t <= job[j]->target_ms ? hi : -1;
          left--;
        }
      }
    }
  }
}

/* Fills f->lat with the op-library latency of sub-network `subnet` at every OPP of d (the
 * nearest OPP with a point where it has none). */
static void fly_lat(const dynrt_app *app, int d, int subnet, int lo, int hi, rtm_fly *f) {
  double last = 0;
  int first = -1;
  for (int k = 0; k < lo; k++) f->lat[k] = 0;
  for (int k = lo; k <= hi; k++) {
    int key = d * DYNRT_MAX_OPPS + k;
    f->lat[k] = 0;
    if (app->ostart[key] < app->ostart[key + 1]) {
      const dynrt_oplib_point *p =
          dynrt_oplib_lookup(app->lib, subnet, app->opts[app->ostart[key]].setting);
      if (p) f->lat[k] = (float)p->latency_mean_ms;
    }
    if (f->lat[k] > 0) {
      last = f->lat[k];
      if (first < 0) first = k;
    } else {
      f->lat[k] = (float)last;
    }
  }
  for (int k = 0; k < first; k++) f->lat[k] = f->lat[first];
  for (int k = hi + 1; k < DYNRT_MAX_OPPS; k++) f->lat[k] = f->lat[hi];
}

/* Level 1 on a time-shared domain (caller holds app->mu): registers this inference in the
 * in-flight table, predicts its latency and that of every other inference in flight on the
 * domain under their overlap, and returns the OPP this inference asks for: the lowest at or
 * above the grant's where every one of them still meets its deadline (raising the others'
 * requests where they need it). When even the top OPP cannot save this inference at its
 * level, a less accurate point above the floor is tried for this inference only (*level). */
#define RTM_FLY_LEVELS 1
static int contend(dynrt_app *app, const rtm_opt *o, int *level, uint64_t now) {
  dynrt_rtm *rtm = app->rtm;
  int d = o->domain;
  double k = rtm->opt.slowdown_sigmas;
  double target = rtm__target_ms(&app->req);
  rtm_fly me = {.dom = d,
                .t0 = now,
                .seg_t = now,
                .fit_ms = target * (1 - rtm->opt.margin),
                .target_ms = target,
                .s_alone = rtm__slow(app, d, k),
                .s_ovl = rtm__slow_ovl(app, d, k),
                .s_alone0 = rtm__slow(app, d, 0),
                .s_ovl0 = rtm__slow_ovl(app, d, 0),
                .prio = app->req.priority};
  /* Time it waited for a more important inference (wait_for) counts against its deadline. */
  double waited = app->wait_t0 && now > app->wait_t0 ? (double)(now - app->wait_t0) * 1e-6 : 0;
  if (app->wait_t0) me.t0 = app->wait_t0;
  if (me.s_ovl < me.s_alone) me.s_ovl = me.s_alone;
  if (me.s_ovl0 < me.s_alone0) me.s_ovl0 = me.s_alone0;
  const rtm_pt *pts = &app->pts[o->pt_off];
  const rtm_fly *job[DYNRT_RTM_MAX_APPS];
  int jid[DYNRT_RTM_MAX_APPS];
  double rho[DYNRT_RTM_MAX_APPS], el[DYNRT_RTM_MAX_APPS];
  int need[DYNRT_RTM_MAX_APPS], firm[DYNRT_RTM_MAX_APPS];
  pthread_mutex_lock(&rtm->fly_mu);
  rtm__fly_segment(rtm, d, now);
  int lo = o->opp, hi = rtm->top_opp[d] >= lo ? rtm->top_opp[d] : lo;
  int nj = 1;
  job[0] = &me;
  rho[0] = 1;
  el[0] = waited;
  for (int i = 0; i < DYNRT_RTM_MAX_APPS; i++) {
    rtm_fly *f = &rtm->fly[i];
    if (i == app->id || f->dom != d) continue;
    double done = f->a / f->s_alone0 + f->b / f->s_ovl0;
    rho[nj] = DYNRT_MIN(1.0, DYNRT_MAX(0.02, 1 - done));
    el[nj] = now > f->t0 ? (double)(now - f->t0) * 1e-6 : 0;
    f->ovl = 1;
    jid[nj] = i;
    job[nj++] = f;
  }
  me.ovl = nj > 1;
  int lvl = *level, req = lo;
  if (nj == 1) {
    fly_lat(app, d, pts[lvl].subnet, lo, hi, &me);
  } else {
    int best = -1, bneed[DYNRT_RTM_MAX_APPS], bfirm[DYNRT_RTM_MAX_APPS];
    /* At most RTM_FLY_LEVELS less accurate points are tried (level-1 cost bound). */
    for (int l = lvl; l >= 0 && l >= lvl - RTM_FLY_LEVELS; l--) {
      if (l < lvl && pts[l].acc < app->req.accuracy_floor) break;
      fly_lat(app, d, pts[l].subnet, lo, hi, &me);
      fly_needs(job, rho, el, nj, lo, hi, need, firm);
      if (best < 0 || firm[0]) {
        best = l;
        memcpy(bneed, need, sizeof need);
        memcpy(bfirm, firm, sizeof firm);
      }
      if (firm[0]) break;
    }
    if (best != lvl) fly_lat(app, d, pts[best].subnet, lo, hi, &me);
    if (!bfirm[0]) best = lvl, fly_lat(app, d, pts[lvl].subnet, lo, hi, &me);
    *level = best;
    if (!bfirm[0]) fly_needs(job, rho, el, nj, lo, hi, bneed, bfirm);
    if (bneed[0] > req) req = bneed[0];
    for (int j = 1; j < nj; j++)
      if (bneed[j] > rtm->fly[jid[j]].req_opp) rtm->fly[jid[j]].req_opp = bneed[j];
  }
  me.req_opp = req;
  rtm->fly[app->id] = me;
  pthread_mutex_unlock(&rtm->fly_mu);
  return req;
}

/* Remaining time (ms, alone, at the domain's OPP) of an inference in flight (fly_mu held). */
static double fly_left_ms(const dynrt_rtm *rtm, const rtm_fly *f, int d) {
  int opp = rtm->cur_opp[d] >= 0 ? rtm->cur_opp[d] : f->req_opp;
  double done = f->a / f->s_alone0 + f->b / f->s_ovl0;
  return DYNRT_MAX(0.0, 1 - done) * f->lat[opp] * f->s_alone;
}

/* On a time-shared domain, an inference of a less important app waits for the more
 * important inferences in flight instead of slowing them down, when its own deadline
 * still holds after the wait (caller holds app->mu). Returns the app id to wait for (the
 * one predicted to end last), or -1 to start now. */
static int wait_for(dynrt_app *app, const rtm_opt *o, uint64_t now) {
  dynrt_rtm *rtm = app->rtm;
  int d = o->domain;
  if (!rtm__contends(rtm, d)) return -1;
  double k = rtm->opt.slowdown_sigmas;
  double fit = rtm__target_ms(&app->req) * (1 - rtm->opt.margin);
  double waited = app->wait_t0 && now > app->wait_t0 ? (double)(now - app->wait_t0) * 1e-6 : 0;
  const rtm_pt *pt = &app->pts[o->pt_off + DYNRT_MAX(app->level, 0)];
  double mine = pt->lat_ms * rtm__slow(app, d, k);
  int who = -1;
  double left = 0;
  pthread_mutex_lock(&rtm->fly_mu);
  rtm__fly_segment(rtm, d, now);
  for (int i = 0; i < DYNRT_RTM_MAX_APPS; i++) {
    const rtm_fly *f = &rtm->fly[i];
    if (i == app->id || f->dom != d || f->prio <= app->req.priority) continue;
    double l = fly_left_ms(rtm, f, d);
    if (who < 0 || l > left) who = i, left = l;
  }
  pthread_mutex_unlock(&rtm->fly_mu);
  return who >= 0 && waited + left + mine <= fit ? who : -1;
}

dynrt_status dynrt_app_decide(dynrt_app *app, dynrt_decision *out) {
  if (!app || !out) return DYNRT_ERR_INVALID_ARG;
  uint64_t t0 = dynrt_now_ns();
  pthread_mutex_lock(&app->mu);
  dynrt_rtm *rtm = app->rtm;
  if (app->grant.opt < 0) {
    dynrt_status st = dynrt__seterr(&app->err, DYNRT_ERR_STATE,
                                    "app '%s': decide before any grant (no resources)", app->name);
    pthread_mutex_unlock(&app->mu);
    return st;
  }
  const rtm_opt *o = &app->opts[app->grant.opt];
  if (!uses_governor(rtm) && !app->wait_skip) {
    uint64_t now = dynrt_platform_now(rtm->p);
    int w = wait_for(app, o, now);
    if (w >= 0) {
      if (!app->wait_t0) app->wait_t0 = now ? now : 1;
      *out = (dynrt_decision){.subnet = -1, .setting = -1, .domain = o->domain, .wait_for = w};
      app->stats.waits++;
      app->stats.decisions++;
      app->stats.decide_ns_sum += dynrt_now_ns() - t0;
      pthread_mutex_unlock(&app->mu);
      return DYNRT_OK;
    }
  }
  int level;
  if (uses_governor(rtm)) {
    level = app->level; /* fixed (static) or moved by report (Dynamic-OFA) */
  } else {
    level = level1(app, o);
  }
  if (level != app->level) app->stats.switches++;
  app->level = level;
  uint32_t khz = app->grant.khz;
  int d = o->domain, boost = 0;
  app->contend = rtm__contends(rtm, d);
  if (app->contend) {
    uint64_t now = dynrt_platform_now(rtm->p);
    int opp = contend(app, o, &level, now); /* level: for this inference only */
    khz = rtm->dom[d].khz[opp];
    boost = 1;
  }
  const rtm_pt *pt = &app->pts[o->pt_off + level];
  const dynrt_oplib_subnet *sn = dynrt_oplib_subnet_at(app->lib, pt->subnet);
  double s = rtm__slow(app, o->domain, 0);
  *out = (dynrt_decision){
      .subnet = pt->subnet,
      .config = sn->config,
      .subnet_id = sn->id,
      .accuracy = pt->acc,
      .setting = uses_governor(rtm) ? -1 : o->setting,
      .domain = o->domain,
      .cpu_mask = app->grant.mask,
      .ncores = app->grant.ncores,
      .khz = khz,
      .predicted_latency_ms = pt->lat_ms * s,
      .predicted_energy_mj = pt->e_mj * s,
      .plan_epoch = app->grant.epoch,
      .wait_for = -1,
  };
  app->wait_t0 = 0;
  app->wait_skip = 0;
  app->last_opt = app->grant.opt;
  app->inflight_dom = o->domain;
  app->inflight_khz = khz;
  app->last_level = level;
  app->last_subnet = pt->subnet;
  app->last_pred_ms = pt->lat_ms;
  app->status.decision = *out;
  app->stats.decisions++;
  app->stats.decide_ns_sum += dynrt_now_ns() - t0;
  pthread_mutex_unlock(&app->mu);
  /* Actuation outside the app's lock (the manager lock nests outside app locks). */
  if (boost) rtm__fly_apply(rtm, d);
  return DYNRT_OK;
}

/* Mean of the window without outliers: samples more than two standard deviations from the
 * mean are dropped (a page fault, a one-off preemption) before the rule compares. */
static double robust_mean(const double *x, int n) {
  double m = 0, v = 0;
  for (int i = 0; i < n; i++) m += x[i];
  m /= n;
  for (int i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
  double sd = sqrt(v / n), sum = 0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (fabs(x[i] - m) <= 2 * sd) {
      sum += x[i];
      k++;
    }
  return k ? sum / k : m;
}

/* Dynamic-OFA's published rule on the Pareto levels of the app's setting (caller holds
 * app->mu): after 20 inferences, step down one level when the robust mean exceeds the
 * latency limit; step up one when the level is below the accuracy floor; a step down right
 * after a step up from that level settles there. The window restarts after every step. */
static void dofa_rule(dynrt_app *app, double lat_ms) {
  app->win[app->win_pos] = lat_ms;
  app->win_pos = (app->win_pos + 1) % RTM_DOFA_WINDOW;
  if (++app->win_n < RTM_DOFA_WINDOW) return;
  const rtm_opt *o = &app->opts[app->grant.opt];
  const rtm_pt *pts = &app->pts[o->pt_off];
  double mean = robust_mean(app->win, RTM_DOFA_WINDOW);
  int l = app->level, moved = 0;
  if (mean > rtm__target_ms(&app->req) && l > 0) {
    if (app->dofa_up_from == l - 1) app->dofa_settled = l - 1;
    app->dofa_up_from = -1;
    app->level = l - 1;
    moved = 1;
  } else if (pts[l].acc < app->req.accuracy_floor && l + 1 < o->npts && app->dofa_settled != l) {
    app->dofa_up_from = l;
    app->level = l + 1;
    moved = 1;
  }
  if (moved) {
    app->stats.switches++;
    app->win_n = app->win_pos = 0;
  }
}

dynrt_status dynrt_app_report(dynrt_app *app, uint64_t latency_ns, uint64_t energy_uj) {
  dynrt_report r = {latency_ns, energy_uj, 0, 0};
  return dynrt_app_report_ex(app, &r);
}

dynrt_status dynrt_app_report_ex(dynrt_app *app, const dynrt_report *r) {
  if (!app || !r) return DYNRT_ERR_INVALID_ARG;
  if (!(r->tail_fraction >= 0 && r->tail_fraction < 1)) {
    pthread_mutex_lock(&app->mu);
    dynrt_status st = dynrt__seterr(&app->err, DYNRT_ERR_INVALID_ARG,
                                    "app '%s': report tail_fraction %g not in [0, 1)", app->name,
                                    r->tail_fraction);
    pthread_mutex_unlock(&app->mu);
    return st;
  }
  uint64_t latency_ns = r->latency_ns, energy_uj = r->energy_uj;
  pthread_mutex_lock(&app->mu);
  dynrt_rtm *rtm = app->rtm;
  if (app->last_opt < 0) {
    dynrt_status st =
        dynrt__seterr(&app->err, DYNRT_ERR_STATE, "app '%s': report without a decision", app->name);
    pthread_mutex_unlock(&app->mu);
    return st;
  }
  const rtm_opt *o = &app->opts[app->last_opt];
  double lat_ms = (double)latency_ns * 1e-6;
  app->inflight_dom = -1;
  /* Contention-aware: leave the in-flight table; its progress segments tell the alone and
   * the overlapped share of this inference. */
  int fly_d = -1;
  rtm_fly me = {.dom = -1};
  if (app->contend) {
    app->contend = 0;
    uint64_t now = dynrt_platform_now(rtm->p);
    pthread_mutex_lock(&rtm->fly_mu);
    if (rtm->fly[app->id].dom >= 0) {
      fly_d = rtm->fly[app->id].dom;
      rtm__fly_segment(rtm, fly_d, now);
      me = rtm->fly[app->id];
      rtm->fly[app->id].dom = -1;
      pthread_cond_broadcast(&rtm->fly_cv);
    }
    pthread_mutex_unlock(&rtm->fly_mu);
    if (fly_d >= 0 && now > me.t0) {
      /* Scale the manager clock's segments to the reported latency. */
      double scale = lat_ms / ((double)(now - me.t0) * 1e-6);
      me.a *= scale;
      me.b *= scale;
    } else {
      me.dom = -1;
    }
  }
  if (app->hold) { /* a plan kept a domain's frequency up for this inference: re-plan */
    app->hold = 0;
    atomic_store(&rtm->replan, 1);
  }
  double target = rtm__target_ms(&app->req);
  app->stats.inferences++;
  app->stats.latency_ms_sum += lat_ms;
  app->stats.energy_mj_sum += (double)energy_uj * 1e-3;
  app->stats.accuracy_sum += app->pts[o->pt_off + app->last_level].acc;
  int miss = lat_ms > target;
  if (miss) app->stats.misses++;
  if (rtm->policy == RTM_POLICY_DYNAMIC_OFA) {
    dofa_rule(app, lat_ms);
  } else if (!uses_governor(rtm) && latency_ns > 0) {
    int d = o->domain;
    const rtm_dom *dom = &rtm->dom[d];
    /* The oracle knows the foreign slowdown: its filter learns only the rest. */
    double z = lat_ms / app->last_pred_ms;
    int ovl_done = 0;
    if (me.dom >= 0 && me.a + me.b > 0) {
      if (me.b <= 1e-9) {
        z = me.a; /* alone: slowdown = sum of segment time / predicted latency */
      } else {
        /* Overlapped: a / s_alone + b / s_ovl = 1 gives the overlapped slowdown, when the
         * overlap was a large enough part of the inference to tell. */
        double sa = app->kf_n[d] > 0 ? app->kf[d].s : app->kf_kind[dom->shared].s;
        if (rtm->policy == RTM_POLICY_ORACLE) sa *= app->true_slow[d];
        double den = 1 - me.a / sa;
        if (den > 0.25) {
          double zo = me.b / den;
          if (rtm->policy == RTM_POLICY_ORACLE) zo /= app->true_slow[d];
          if (app->kf_ovl_n[d] == 0) {
            app->kf_ovl[d].s = DYNRT_MIN(DYNRT_MAX(zo, 0.02), 50.0);
            app->kf_ovl[d].p = rtm->opt.kalman_r;
          } else {
            rtm__kf_update(&app->kf_ovl[d], zo, rtm->opt.kalman_q, rtm->opt.kalman_r);
          }
          app->kf_ovl_n[d]++;
        }
        ovl_done = 1;
      }
    }
    if (rtm->policy == RTM_POLICY_ORACLE) z /= app->true_slow[d];
    if (ovl_done) goto flags;
    if (rtm->policy == RTM_POLICY_RTM && dom->shared && me.dom >= 0 && r->tail_fraction > 0 &&
        r->tail_ns > 0 && r->tail_ns < latency_ns) {
      /* Load step: the tail's slowdown is the whole inference's times the tail's share of
       * the time over its share of the work (the prediction's frequency cancels). */
      double zt = z * ((double)r->tail_ns / (double)latency_ns) / r->tail_fraction;
      const rtm_kf *kf = app->kf_n[d] > 0 ? &app->kf[d] : &app->kf_kind[dom->shared];
      double sd = DYNRT_MAX(sqrt(kf->v), RTM_STEP_SD_MIN * kf->s);
      if (zt - kf->s > RTM_STEP_SIGMAS * sd) {
        if (app->kf_n[d] == 0) app->kf[d] = app->kf_kind[dom->shared];
        app->kf[d].s = DYNRT_MIN(zt, 50.0);
        app->kf[d].p = rtm->opt.kalman_r;
        app->kf_n[d]++;
        app->stats.load_steps++;
        goto flags; /* the drift against the plan's slowdown re-plans */
      }
    }
    if (app->kf_n[d] == 0) {
      /* First measurement here under this load: start from the app's estimate for this
       * kind of domain, so an untried domain never looks better than a tried one of the
       * same kind (no hopping between equal clusters). Under foreign load that estimate
       * was only a guess (RTM_LOAD_PRIOR): the measurement replaces it, and the scatter
       * keeps what the app showed elsewhere (the guess's error is not scatter). */
      app->kf[d] = app->kf_kind[dom->shared];
    }
    if (app->kf_n[d] == 0 && rtm->policy != RTM_POLICY_ORACLE && !dom->shared &&
        (dom->cpus & app->loaded)) {
      app->kf[d].s = DYNRT_MIN(DYNRT_MAX(z, 0.02), 50.0);
      app->kf[d].p = rtm->opt.kalman_r;
    } else {
      rtm__kf_update(&app->kf[d], z, rtm->opt.kalman_q, rtm->opt.kalman_r);
    }
    app->kf_n[d]++;
    if (dom->shared || !(dom->cpus & app->loaded))
      rtm__kf_update(&app->kf_kind[dom->shared], z, rtm->opt.kalman_q, rtm->opt.kalman_r);
  flags:
    if (rtm->policy != RTM_POLICY_ORACLE) {
      app->miss_count = miss ? app->miss_count + 1 : 0;
      double ref = app->slow_at_plan[d];
      double now_s = rtm__slow(app, d, rtm->opt.slowdown_sigmas);
      int drift = fabs(now_s - ref) > rtm->opt.replan_drift * ref;
      if ((drift || app->miss_count >= rtm->opt.violation_count) &&
          app->flagged_epoch != app->grant.epoch) {
        app->flagged_epoch = app->grant.epoch;
        atomic_store(&rtm->replan, 1);
      }
    }
  }
  pthread_mutex_unlock(&app->mu);
  if (fly_d >= 0) rtm__fly_apply(rtm, fly_d); /* restore the domain when the overlap ends */
  return DYNRT_OK;
}

/* ---- real inference ---- */

/* Sets the app's message under its lock: other threads may query or decide meanwhile. */
static dynrt_status app_fail(dynrt_app *app, dynrt_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static dynrt_status app_fail(dynrt_app *app, dynrt_status st, const char *fmt, ...) {
  char buf[DYNRT_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&app->mu);
  dynrt__seterr(&app->err, st, "%s", buf);
  pthread_mutex_unlock(&app->mu);
  return st;
}

/* The grant's cores as a list, lowest first. */
static int mask_to_cpus(uint64_t mask, int *cpus, int max) {
  int n = 0;
  for (int c = 0; c < 64 && n < max; c++)
    if (mask >> c & 1) cpus[n++] = c;
  return n;
}

dynrt_status dynrt_app_infer(dynrt_app *app, const uint8_t *rgb, int width, int height,
                             size_t row_stride, dynrt_infer_result *out) {
  if (!app || !rgb || !out) return DYNRT_ERR_INVALID_ARG;
  if (!app->session || !app->cfgs)
    return app_fail(app, DYNRT_ERR_STATE,
                    "app '%s': infer needs a model and a session (simulated app?)", app->name);
  dynrt_decision dec;
  dynrt_status st;
  /* Wait for a more important inference on a time-shared domain when asked, then decide
   * again; bounded by the app's own target (the inference waited for may never report). */
  uint64_t wait_until = 0;
  for (;;) {
    if ((st = dynrt_app_decide(app, &dec))) return st;
    if (dec.wait_for < 0) break;
    dynrt_rtm *rtm = app->rtm;
    uint64_t now = dynrt_now_ns();
    if (!wait_until) wait_until = now + (uint64_t)(DYNRT_MAX(rtm__target_ms(&app->req), 1.0) * 1e6);
    if (now >= wait_until) {
      pthread_mutex_lock(&app->mu);
      app->wait_skip = 1; /* give up waiting: the next decision starts now */
      pthread_mutex_unlock(&app->mu);
      continue;
    }
    struct timespec ts = {.tv_sec = (time_t)(wait_until / 1000000000u),
                          .tv_nsec = (long)(wait_until % 1000000000u)};
    pthread_mutex_lock(&rtm->fly_mu);
    while (rtm->fly[dec.wait_for].dom >= 0 &&
           pthread_cond_timedwait(&rtm->fly_cv, &rtm->fly_mu, &ts) == 0) {
    }
    pthread_mutex_unlock(&rtm->fly_mu);
  }
  /* The session and pool belong to this app's thread: no lock needed for them. */
  if (dec.subnet != app->cur_subnet) {
    const dynrt_bn_table *bn = app->bn_tables ? app->bn_tables[dec.subnet] : NULL;
    st = dynrt_session_set_subnet(app->session, &app->cfgs[dec.subnet], bn);
    if (st)
      return app_fail(app, st, "app '%s': set_subnet %d ('%s'): %s", app->name, dec.subnet,
                      dec.config, dynrt_session_errmsg(app->session));
    app->cur_subnet = dec.subnet;
  }
  if (dec.cpu_mask && dec.cpu_mask != app->cur_mask) {
    int cpus[DYNRT_MAX_CPUS];
    int n = mask_to_cpus(dec.cpu_mask, cpus, DYNRT_MAX_CPUS);
    if (app->pool) {
      n = DYNRT_MIN(n, dynrt_pool_max_threads(app->pool));
      st = dynrt_pool_set_cpus(app->pool, cpus, n);
      if (st && st != DYNRT_ERR_PERMISSION)
        return app_fail(app, st, "app '%s': pool_set_cpus: %s", app->name,
                        dynrt_pool_errmsg(app->pool));
    } else {
      st = dynrt_session_set_threads(app->session, n, cpus);
      /* A session whose own pool is smaller than the grant runs on its first cores. */
      while (st == DYNRT_ERR_INVALID_ARG && n > 1)
        st = dynrt_session_set_threads(app->session, --n, cpus);
      if (st && st != DYNRT_ERR_PERMISSION)
        return app_fail(app, st, "app '%s': set_threads: %s", app->name,
                        dynrt_session_errmsg(app->session));
    }
    /* Pinning refused by the cpuset (PERMISSION): the threads run unpinned, still counted. */
    app->cur_mask = dec.cpu_mask;
  }
  uint64_t t0 = dynrt_now_ns();
  st = dynrt_session_run_image(app->session, rgb, width, height, row_stride);
  uint64_t t1 = dynrt_now_ns();
  if (st)
    return app_fail(app, st, "app '%s': run: %s", app->name, dynrt_session_errmsg(app->session));
  dynrt_app_report(app, t1 - t0, 0);
  out->decision = dec;
  out->latency_ns = t1 - t0;
  out->top1_class = -1;
  out->top1_prob = 0;
  int cls = -1;
  float prob = 0;
  if (dynrt_session_topk(app->session, 1, &cls, &prob) == DYNRT_OK) {
    out->top1_class = cls;
    out->top1_prob = prob;
  }
  rtm__try_step(app->rtm);
  return DYNRT_OK;
}

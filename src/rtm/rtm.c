/* rtm.c - the runtime manager object: policies and options, apps (mapping their op libraries
 * onto the platform), requirements, the oracle's timeline and the queries. The level-2 cycle
 * is in cycle.c, the search in planner.c, level 1 in controller.c. */
#include <math.h>
#include <string.h>

#include "rtm/rtm_int.h"

#define MOD "rtm"
/* Requirements beyond an hour per inference are certainly a unit mistake. */
#define MAX_TIME_NS 3600000000000ull

void dynrt_rtm_options_init(dynrt_rtm_options *o) {
  if (!o) return;
  *o = (dynrt_rtm_options){
      .policy = "rtm",
      .period_ns = 100000000ull,
      .margin = 0.05,
      .step_up_margin = 0.05,
      .step_up_count = 3,
      .violation_count = 3,
      .replan_drift = 0.15,
      .kalman_q = 0.005,
      .kalman_r = 0.02,
      .idle_w_default = 0,
      .share_units = 20,
      .allow_platform_mismatch = 0,
      .plan_hysteresis = 0.03,
      .slowdown_sigmas = 1.5,
      .idle_drop = 1,
  };
}

static const char *const governors[] = {"schedutil", "ondemand", "performance", "powersave",
                                        "conservative"};

/* Parses "name[:governor]" into the policy, its level-2 pick rule and its governor. */
static dynrt_status parse_policy(dynrt_rtm *rtm, const char *spec, char *errbuf, size_t errlen) {
  static const struct {
    const char *name;
    rtm_policy policy;
    rtm_pick pick;
    int governed;
  } table[] = {
      {"rtm", RTM_POLICY_RTM, RTM_PICK_ENERGY, 0},
      {"rtm:max-accuracy", RTM_POLICY_RTM, RTM_PICK_MAXACC, 0},
      {"static-max", RTM_POLICY_STATIC_MAX, RTM_PICK_ENERGY, 1},
      {"static-min", RTM_POLICY_STATIC_MIN, RTM_PICK_ENERGY, 1},
      {"dynamic-ofa", RTM_POLICY_DYNAMIC_OFA, RTM_PICK_ENERGY, 1},
      {"dvfs-only", RTM_POLICY_DVFS_ONLY, RTM_PICK_ENERGY, 0},
      {"oracle", RTM_POLICY_ORACLE, RTM_PICK_ENERGY, 0},
  };
  if (strlen(spec) >= 40) goto unknown;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    size_t n = strlen(table[i].name);
    if (strncmp(spec, table[i].name, n) || (spec[n] && (spec[n] != ':' || !table[i].governed)))
      continue;
    if (!table[i].governed && spec[n]) continue;
    rtm->policy = table[i].policy;
    rtm->pick = table[i].pick;
    if (table[i].governed) {
      const char *gov = spec[n] ? spec + n + 1 : "schedutil";
      size_t g = 0;
      while (g < sizeof governors / sizeof governors[0] && strcmp(gov, governors[g])) g++;
      if (g == sizeof governors / sizeof governors[0]) {
        if (errbuf)
          snprintf(errbuf, errlen,
                   "rtm: policy '%s': unknown governor '%s' (schedutil, ondemand, performance, "
                   "powersave, conservative)",
                   spec, gov);
        return DYNRT_ERR_INVALID_ARG;
      }
      snprintf(rtm->governor, sizeof rtm->governor, "%s", gov);
      snprintf(rtm->policy_name, sizeof rtm->policy_name, "%s:%s", table[i].name, gov);
    } else {
      snprintf(rtm->policy_name, sizeof rtm->policy_name, "%s", spec);
    }
    return DYNRT_OK;
  }
unknown:
  if (errbuf)
    snprintf(errbuf, errlen,
             "rtm: unknown policy '%.60s' (rtm, rtm:max-accuracy, static-max[:GOV], "
             "static-min[:GOV], dynamic-ofa[:GOV], dvfs-only, oracle)",
             spec);
  return DYNRT_ERR_INVALID_ARG;
}

static dynrt_status check_options(const dynrt_rtm_options *o, char *errbuf, size_t errlen) {
  const char *bad = NULL;
  double v = 0;
  if (o->period_ns < 1000000ull || o->period_ns > 60000000000ull)
    bad = "period_ns", v = (double)o->period_ns;
  else if (!(o->margin >= 0 && o->margin < 0.9))
    bad = "margin", v = o->margin;
  else if (!(o->step_up_margin >= 0 && o->margin + o->step_up_margin < 0.95))
    bad = "step_up_margin", v = o->step_up_margin;
  else if (o->step_up_count < 1 || o->step_up_count > 1000)
    bad = "step_up_count", v = o->step_up_count;
  else if (o->violation_count < 1 || o->violation_count > 1000)
    bad = "violation_count", v = o->violation_count;
  else if (!(o->replan_drift > 0 && o->replan_drift < 10))
    bad = "replan_drift", v = o->replan_drift;
  else if (!(o->kalman_q > 0 && o->kalman_q < 10))
    bad = "kalman_q", v = o->kalman_q;
  else if (!(o->kalman_r > 0 && o->kalman_r < 10))
    bad = "kalman_r", v = o->kalman_r;
  else if (!(o->idle_w_default >= 0 && o->idle_w_default < 1000))
    bad = "idle_w_default", v = o->idle_w_default;
  else if (o->share_units < 1 || o->share_units > 64)
    bad = "share_units", v = o->share_units;
  else if (!(o->plan_hysteresis >= 0 && o->plan_hysteresis < 1))
    bad = "plan_hysteresis", v = o->plan_hysteresis;
  else if (!(o->slowdown_sigmas >= 0 && o->slowdown_sigmas <= 10))
    bad = "slowdown_sigmas", v = o->slowdown_sigmas;
  else if (o->idle_drop != 0 && o->idle_drop != 1)
    bad = "idle_drop", v = o->idle_drop;
  if (!bad) return DYNRT_OK;
  if (errbuf) snprintf(errbuf, errlen, "rtm: option %s = %g out of range", bad, v);
  return DYNRT_ERR_INVALID_ARG;
}

dynrt_status dynrt_rtm_create(dynrt_platform *platform, const dynrt_rtm_options *opts,
                              dynrt_rtm **out, char *errbuf, size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!out) return DYNRT_ERR_INVALID_ARG;
  *out = NULL;
  if (!platform) {
    if (errbuf) snprintf(errbuf, errlen, "rtm: NULL platform");
    return DYNRT_ERR_INVALID_ARG;
  }
  dynrt_rtm_options o;
  dynrt_rtm_options_init(&o);
  if (opts) {
    o = *opts;
    if (!o.policy) o.policy = "rtm";
    if (!o.period_ns) o.period_ns = 100000000ull;
  }
  dynrt_status st = check_options(&o, errbuf, errlen);
  if (st) return st;
  dynrt_rtm *rtm = dynrt__calloc(1, sizeof *rtm);
  if (!rtm) {
    if (errbuf) snprintf(errbuf, errlen, "rtm: out of memory");
    return DYNRT_ERR_NOMEM;
  }
  rtm->p = platform;
  rtm->opt = o;
  if ((st = parse_policy(rtm, o.policy, errbuf, errlen))) {
    dynrt__free(rtm);
    return st;
  }
  rtm->opt.policy = rtm->policy_name;
  const dynrt_platform_info *info = dynrt_platform_get_info(platform);
  rtm->ndom = DYNRT_MIN(info->ndomains, DYNRT_MAX_DOMAINS);
  int kmax = rtm->opt.share_units;
  for (int d = 0; d < rtm->ndom; d++) {
    const dynrt_domain_info *di = dynrt_platform_domain(platform, d);
    rtm_dom *dom = &rtm->dom[d];
    snprintf(dom->name, sizeof dom->name, "%s", di->name);
    dom->shared = di->ncpus == 0;
    dom->ncpus = di->ncpus;
    for (int i = 0; i < di->ncpus; i++)
      if (di->cpus[i] >= 0 && di->cpus[i] < 64) dom->cpus |= 1ull << di->cpus[i];
    dom->can_set = dom->writable = di->can_set_freq;
    /* A domain without an OPP table is planned at its current frequency. */
    dom->nopps = di->nopps ? DYNRT_MIN(di->nopps, DYNRT_MAX_OPPS) : 1;
    uint32_t cur = 0;
    if (!di->nopps && dynrt_platform_get_freq(platform, d, &cur) != DYNRT_OK) cur = 0;
    for (int f = 0; f < dom->nopps; f++) {
      dom->khz[f] = di->nopps ? di->opps[f].khz : cur;
      dom->idle_w[f] = o.idle_w_default;
    }
    kmax = DYNRT_MAX(kmax, di->ncpus);
  }
  rtm->kmax = kmax + 1;
  size_t cells = ((size_t)1 << DYNRT_RTM_MAX_APPS) * (size_t)rtm->kmax;
  rtm->best = dynrt__malloc(cells * sizeof *rtm->best);
  rtm->back = dynrt__malloc(cells * sizeof *rtm->back);
  /* Locks and the in-flight condition variable (it waits against dynrt_now_ns, which is
   * CLOCK_MONOTONIC); `made` counts what to undo on failure. */
  int made = 0;
  pthread_condattr_t ca;
  if (rtm->best && rtm->back && !pthread_mutex_init(&rtm->mu, NULL) && ++made &&
      !pthread_mutex_init(&rtm->fly_mu, NULL) && ++made && !pthread_condattr_init(&ca)) {
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    made += !pthread_cond_init(&rtm->fly_cv, &ca);
    pthread_condattr_destroy(&ca);
  }
  if (made < 3) {
    if (made >= 2) pthread_mutex_destroy(&rtm->fly_mu);
    if (made >= 1) pthread_mutex_destroy(&rtm->mu);
    dynrt__free(rtm->best);
    dynrt__free(rtm->back);
    dynrt__free(rtm);
    if (errbuf) snprintf(errbuf, errlen, "rtm: out of memory");
    return DYNRT_ERR_NOMEM;
  }
  atomic_init(&rtm->replan, 1);
  atomic_init(&rtm->next_due, 0);
  for (int i = 0; i < DYNRT_RTM_MAX_APPS; i++) rtm->fly[i].dom = -1;
  for (int d = 0; d < DYNRT_MAX_DOMAINS; d++)
    rtm->plan_opp[d] = rtm->cur_opp[d] = rtm->top_opp[d] = -1;
  if (rtm__governed(rtm)) {
    /* Baselines leave frequency to the governor they are named after. */
    for (int d = 0; d < rtm->ndom; d++) {
      if (!rtm->dom[d].can_set) continue;
      dynrt_status gs = dynrt_platform_set_governor(platform, d, rtm->governor);
      if (gs)
        DYNRT_LOGW(MOD, "policy %s: domain %s keeps its governor: %s", rtm->policy_name,
                   rtm->dom[d].name, dynrt_platform_errmsg(platform));
    }
  }
  *out = rtm;
  return DYNRT_OK;
}

static void app_free(dynrt_app *app) {
  if (!app) return;
  pthread_mutex_destroy(&app->mu);
  dynrt__free(app->cfgs);
  dynrt__free(app->opts);
  dynrt__free(app->pts);
  dynrt__free(app);
}

void dynrt_rtm_destroy(dynrt_rtm *rtm) {
  if (!rtm) return;
  for (int i = 0; i < rtm->napps; i++) app_free(rtm->apps[i]);
  dynrt__free(rtm->choices);
  dynrt__free(rtm->best);
  dynrt__free(rtm->back);
  dynrt__free(rtm->oracle);
  pthread_cond_destroy(&rtm->fly_cv);
  pthread_mutex_destroy(&rtm->fly_mu);
  pthread_mutex_destroy(&rtm->mu);
  dynrt__free(rtm);
}

const char *dynrt_rtm_errmsg(const dynrt_rtm *rtm) {
  return rtm ? dynrt__errmsg(&rtm->err) : "rtm: NULL object";
}
const char *dynrt_rtm_policy(const dynrt_rtm *rtm) { return rtm ? rtm->policy_name : NULL; }

/* ---- requirements ---- */

static dynrt_status check_req(const dynrt_requirements *r, const char *app, dynrt_err *err) {
  if (!r->latency_target_ns && !r->period_ns)
    return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG,
                         "app '%s': requirements need a latency target or a period (both 0)", app);
  if (r->latency_target_ns > MAX_TIME_NS)
    return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG,
                         "app '%s': latency_target_ns = %llu out of range (at most one hour)", app,
                         (unsigned long long)r->latency_target_ns);
  if (r->period_ns > MAX_TIME_NS)
    return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG,
                         "app '%s': period_ns = %llu out of range (at most one hour)", app,
                         (unsigned long long)r->period_ns);
  if (!(r->accuracy_floor >= 0 && r->accuracy_floor <= 1))
    return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG,
                         "app '%s': accuracy_floor = %g out of range [0,1] (a fraction, not %%)",
                         app, r->accuracy_floor);
  if (r->priority < -1000000 || r->priority > 1000000)
    return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG, "app '%s': priority = %d out of range", app,
                         r->priority);
  return DYNRT_OK;
}

dynrt_status dynrt_app_set_requirements(dynrt_app *app, const dynrt_requirements *req) {
  if (!app || !req) return DYNRT_ERR_INVALID_ARG;
  pthread_mutex_lock(&app->mu);
  dynrt_status st = check_req(req, app->name, &app->err);
  if (st == DYNRT_OK) {
    app->req = *req;
    app->floor_count = app->miss_count = 0;
    app->dofa_settled = app->dofa_up_from = -1;
    atomic_store(&app->rtm->replan, 1);
  }
  pthread_mutex_unlock(&app->mu);
  return st;
}

void dynrt_app_get_requirements(dynrt_app *app, dynrt_requirements *out) {
  if (!app || !out) return;
  pthread_mutex_lock(&app->mu);
  *out = app->req;
  pthread_mutex_unlock(&app->mu);
}

/* ---- adding apps ---- */

static int cmp_opt(const void *x, const void *y) {
  const rtm_opt *a = x, *b = y;
  if (a->domain != b->domain) return a->domain - b->domain;
  if (a->opp != b->opp) return a->opp - b->opp;
  if (a->cores != b->cores) return a->cores - b->cores;
  return a->setting - b->setting;
}

/* The sub-network a non-switching policy runs: static-min the fewest MACs, the others the
 * most accurate (ties: more MACs), which in a super-network is the largest. */
static int pick_fixed_subnet(const dynrt_rtm *rtm, const dynrt_oplib *lib) {
  int best = -1;
  for (int i = 0; i < dynrt_oplib_num_subnets(lib); i++) {
    const dynrt_oplib_subnet *s = dynrt_oplib_subnet_at(lib, i);
    if (best < 0) {
      best = i;
      continue;
    }
    const dynrt_oplib_subnet *b = dynrt_oplib_subnet_at(lib, best);
    if (rtm->policy == RTM_POLICY_STATIC_MIN) {
      if (s->macs < b->macs) best = i;
    } else if (s->val_top1 > b->val_top1 || (s->val_top1 == b->val_top1 && s->macs > b->macs)) {
      best = i;
    }
  }
  return best;
}

/* Maps the op library's settings onto the platform's domains and OPPs and copies the points
 * each usable setting offers. Settings of unknown domains or frequencies are skipped. */
static dynrt_status build_opts(dynrt_rtm *rtm, dynrt_app *app) {
  const dynrt_oplib *lib = app->lib;
  int ns = dynrt_oplib_num_settings(lib);
  app->opts = dynrt__calloc((size_t)ns + 1, sizeof *app->opts);
  size_t npts = 0;
  for (int s = 0; s < ns; s++) {
    int n = 0;
    dynrt_oplib_pareto(lib, s, &n);
    npts += (size_t)n + 1;
  }
  app->pts = dynrt__calloc(npts + 1, sizeof *app->pts);
  if (!app->opts || !app->pts) return DYNRT_ERR_NOMEM;
  int fixed = app->fixed_subnet;
  for (int s = 0; s < ns && app->nopts < UINT16_MAX; s++) { /* ostart holds 16 bits */
    const dynrt_oplib_setting *set = dynrt_oplib_setting_at(lib, s);
    int d = 0;
    while (d < rtm->ndom && strcmp(rtm->dom[d].name, set->domain)) d++;
    if (d == rtm->ndom) continue;
    const rtm_dom *dom = &rtm->dom[d];
    int f = 0;
    while (f < dom->nopps && dom->khz[f] != set->khz) f++;
    if (f == dom->nopps) {
      if (dom->can_set && dynrt_platform_domain(rtm->p, d)->nopps) continue;
      /* Uncontrollable domain: the nearest frequency stands for what it runs. */
      f = 0;
      for (int g = 1; g < dom->nopps; g++)
        if (llabs((long long)dom->khz[g] - set->khz) < llabs((long long)dom->khz[f] - set->khz))
          f = g;
    }
    int cores = dom->shared ? 0 : set->cores;
    if (!dom->shared && (cores < 1 || cores > dom->ncpus)) continue;
    int n = 0;
    const int *par = dynrt_oplib_pareto(lib, s, &n);
    if (fixed >= 0 ? !dynrt_oplib_lookup(lib, fixed, s) : n == 0) continue;
    rtm_opt *o = &app->opts[app->nopts];
    /* One setting per (domain, OPP, cores): the exact frequency wins over a nearest one. */
    int dup = -1;
    for (int i = 0; i < app->nopts; i++)
      if (app->opts[i].domain == d && app->opts[i].opp == f && app->opts[i].cores == cores) dup = i;
    if (dup >= 0) {
      const dynrt_oplib_setting *old = dynrt_oplib_setting_at(lib, app->opts[dup].setting);
      if (llabs((long long)old->khz - dom->khz[f]) <= llabs((long long)set->khz - dom->khz[f]))
        continue;
      o = &app->opts[dup];
    }
    *o = (rtm_opt){.setting = s, .domain = d, .opp = f, .cores = cores, .pt_off = app->npts};
    if (fixed >= 0) {
      const dynrt_oplib_point *p = dynrt_oplib_lookup(lib, fixed, s);
      app->pts[app->npts++] = (rtm_pt){p->latency_mean_ms, p->energy_mj,
                                       dynrt_oplib_subnet_at(lib, fixed)->val_top1, fixed};
    } else {
      for (int i = 0; i < n; i++) {
        const dynrt_oplib_point *p = dynrt_oplib_lookup(lib, par[i], s);
        app->pts[app->npts++] = (rtm_pt){p->latency_mean_ms, p->energy_mj,
                                         dynrt_oplib_subnet_at(lib, par[i])->val_top1, par[i]};
      }
    }
    o->npts = app->npts - o->pt_off;
    if (dup < 0) app->nopts++;
  }
  qsort(app->opts, (size_t)app->nopts, sizeof *app->opts, cmp_opt);
  int k = 0;
  for (int key = 0; key <= DYNRT_MAX_DOMAINS * DYNRT_MAX_OPPS; key++) {
    while (k < app->nopts && app->opts[k].domain * DYNRT_MAX_OPPS + app->opts[k].opp < key) k++;
    app->ostart[key] = (uint16_t)k;
  }
  /* Governor policies: the setting they are predicted on is the fastest for their
   * sub-network (the top level for Dynamic-OFA), i.e. top frequency and most cores. */
  app->base_opt = -1;
  double best = HUGE_VAL;
  for (int i = 0; i < app->nopts; i++) {
    const rtm_opt *o = &app->opts[i];
    double lat = app->pts[o->pt_off + o->npts - 1].lat_ms;
    if (lat < best) {
      best = lat;
      app->base_opt = i;
    }
  }
  return DYNRT_OK;
}

/* Idle power of every domain from the first op library that has an idle table for it. */
static void take_idle(dynrt_rtm *rtm, const dynrt_oplib *lib) {
  for (int d = 0; d < rtm->ndom; d++) {
    rtm_dom *dom = &rtm->dom[d];
    if (dom->idle_from_lib) continue;
    double w = 0;
    if (!dynrt_oplib_idle_power(lib, dom->name, dom->khz[0], &w)) continue;
    for (int f = 0; f < dom->nopps; f++)
      if (dynrt_oplib_idle_power(lib, dom->name, dom->khz[f], &w)) dom->idle_w[f] = w;
    dom->idle_from_lib = 1;
  }
}

static int platform_matches(const char *lib_platform, const char *name) {
  size_t n = 0;
  while (name[n] && name[n] != ' ' && name[n] != '(') n++;
  return !lib_platform[0] || (strlen(lib_platform) == n && !strncmp(lib_platform, name, n));
}

/* With a model: the op library must be this model's, and each sub-network must parse and
 * hash to its id. */
static dynrt_status check_model(dynrt_rtm *rtm, dynrt_app *app) {
  dynrt_model_info info;
  dynrt_model_get_info(app->model, &info);
  const char *want = dynrt_oplib_model_name(app->lib);
  if (strcmp(info.name, want))
    return dynrt__seterr(&rtm->err, DYNRT_ERR_NOT_FOUND,
                         "app '%s': op library is for model '%s', the model is '%s'", app->name,
                         want, info.name);
  int n = dynrt_oplib_num_subnets(app->lib);
  app->cfgs = dynrt__calloc((size_t)n + 1, sizeof *app->cfgs);
  if (!app->cfgs) return dynrt__seterr(&rtm->err, DYNRT_ERR_NOMEM, "rtm: out of memory");
  for (int i = 0; i < n; i++) {
    const dynrt_oplib_subnet *s = dynrt_oplib_subnet_at(app->lib, i);
    dynrt_error e = {0};
    if (dynrt_subnet_parse(app->model, s->config, &app->cfgs[i], &e) != DYNRT_OK)
      return dynrt__seterr(&rtm->err, DYNRT_ERR_FORMAT,
                           "app '%s': op-library sub-network %d '%.200s' does not fit model "
                           "'%s': %s",
                           app->name, i, s->config, info.name, e.msg);
    uint64_t id = dynrt_subnet_id(app->model, &app->cfgs[i]);
    if (id != s->id)
      return dynrt__seterr(&rtm->err, DYNRT_ERR_FORMAT,
                           "app '%s': op-library sub-network %d has id %016llx, the model gives "
                           "%016llx for '%.200s'",
                           app->name, i, (unsigned long long)s->id, (unsigned long long)id,
                           s->config);
  }
  return DYNRT_OK;
}

static void app_init_state(dynrt_app *app) {
  const dynrt_rtm *rtm = app->rtm;
  for (int d = 0; d < DYNRT_MAX_DOMAINS; d++) {
    rtm__kf_init(&app->kf[d], rtm->opt.kalman_r);
    app->kf_n[d] = 0;
    rtm__kf_init(&app->kf_ovl[d], rtm->opt.kalman_r);
    app->kf_ovl_n[d] = 0;
    app->slow_at_plan[d] = 1;
    app->true_slow[d] = 1;
  }
  for (int k = 0; k < 2; k++) rtm__kf_init(&app->kf_kind[k], rtm->opt.kalman_r);
  app->grant = (rtm_grant){.opt = -1, .level = 0};
  app->last_opt = -1;
  app->inflight_dom = -1;
  app->loaded = rtm->loaded;
  app->dofa_up_from = app->dofa_settled = -1;
  app->cur_subnet = -1;
  if (rtm->policy == RTM_POLICY_DYNAMIC_OFA && app->base_opt >= 0) {
    /* Start at the most accurate level whose profiled latency fits the limit. */
    const rtm_opt *o = &app->opts[app->base_opt];
    double target = rtm__target_ms(&app->req);
    app->level = 0;
    for (int l = 0; l < o->npts; l++)
      if (app->pts[o->pt_off + l].lat_ms <= target) app->level = l;
  }
}

static dynrt_status grow_choices(dynrt_rtm *rtm) {
  int need = 1;
  for (int i = 0; i < rtm->napps; i++) need += rtm->apps[i]->nopts + rtm->apps[i]->npts;
  if (need <= rtm->cap_choices) return DYNRT_OK;
  rtm_choice *c = dynrt__malloc((size_t)need * sizeof *c);
  if (!c) return DYNRT_ERR_NOMEM;
  dynrt__free(rtm->choices);
  rtm->choices = c;
  rtm->cap_choices = need;
  return DYNRT_OK;
}

dynrt_status dynrt_rtm_add_app(dynrt_rtm *rtm, const dynrt_app_spec *spec, dynrt_app **out) {
  if (!rtm) return DYNRT_ERR_INVALID_ARG;
  if (out) *out = NULL;
  pthread_mutex_lock(&rtm->mu);
  dynrt_status st = DYNRT_OK;
  dynrt_app *app = NULL;
  if (!spec || !out) {
    st = dynrt__seterr(&rtm->err, DYNRT_ERR_INVALID_ARG, "add_app: NULL spec or out");
    goto fail;
  }
  if (rtm->napps >= DYNRT_RTM_MAX_APPS) {
    st = dynrt__seterr(&rtm->err, DYNRT_ERR_INVALID_ARG, "add_app: already %d apps (the most)",
                       DYNRT_RTM_MAX_APPS);
    goto fail;
  }
  app = dynrt__calloc(1, sizeof *app);
  if (!app || pthread_mutex_init(&app->mu, NULL)) {
    dynrt__free(app);
    app = NULL;
    st = dynrt__seterr(&rtm->err, DYNRT_ERR_NOMEM, "add_app: out of memory");
    goto fail;
  }
  app->rtm = rtm;
  /* Lowest free id, so platform app ids stay dense. */
  for (int used = 1; used;) {
    used = 0;
    for (int i = 0; i < rtm->napps; i++)
      if (rtm->apps[i]->id == app->id) used = 1;
    if (used) app->id++;
  }
  if (spec->name)
    snprintf(app->name, sizeof app->name, "%s", spec->name);
  else
    snprintf(app->name, sizeof app->name, "app%d", app->id);
  if (!spec->oplib) {
    st = dynrt__seterr(&rtm->err, DYNRT_ERR_INVALID_ARG, "app '%s': no op library", app->name);
    goto fail;
  }
  if ((st = check_req(&spec->req, app->name, &rtm->err))) goto fail;
  app->lib = spec->oplib;
  app->model = spec->model;
  app->session = spec->session;
  app->pool = spec->pool;
  app->bn_tables = spec->bn_tables;
  app->req = spec->req;
  const char *libmodel = dynrt_oplib_model_name(app->lib);
  if (spec->model_name && strcmp(spec->model_name, libmodel)) {
    st = dynrt__seterr(&rtm->err, DYNRT_ERR_NOT_FOUND,
                       "app '%s': unknown model '%s' for this op library (it is for '%s')",
                       app->name, spec->model_name, libmodel);
    goto fail;
  }
  if (spec->session && !spec->model) {
    st = dynrt__seterr(&rtm->err, DYNRT_ERR_INVALID_ARG,
                       "app '%s': a session needs its model in the spec", app->name);
    goto fail;
  }
  if (app->model && (st = check_model(rtm, app))) goto fail;
  const dynrt_platform_info *pi = dynrt_platform_get_info(rtm->p);
  if (!rtm->opt.allow_platform_mismatch &&
      !platform_matches(dynrt_oplib_platform(app->lib), pi->name)) {
    st = dynrt__seterr(&rtm->err, DYNRT_ERR_NOT_FOUND,
                       "app '%s': op library was profiled on '%s', this platform is '%s' (set "
                       "allow_platform_mismatch to use it anyway)",
                       app->name, dynrt_oplib_platform(app->lib), pi->name);
    goto fail;
  }
  app->fixed_subnet = -1;
  if (rtm->policy == RTM_POLICY_STATIC_MAX || rtm->policy == RTM_POLICY_STATIC_MIN ||
      rtm->policy == RTM_POLICY_DVFS_ONLY)
    app->fixed_subnet = pick_fixed_subnet(rtm, app->lib);
  if ((st = build_opts(rtm, app))) {
    st = dynrt__seterr(&rtm->err, st, "add_app: out of memory");
    goto fail;
  }
  if (app->nopts == 0) {
    char doms[160] = "";
    for (int d = 0; d < rtm->ndom; d++) {
      size_t n = strlen(doms);
      snprintf(doms + n, sizeof doms - n, "%s%s", d ? ", " : "", rtm->dom[d].name);
    }
    st = dynrt__seterr(&rtm->err, DYNRT_ERR_NOT_FOUND,
                       "app '%s': none of the %d settings of its op library (model '%s') "
                       "matches a domain and OPP of platform '%s' (domains: %s)",
                       app->name, dynrt_oplib_num_settings(app->lib), libmodel, pi->name, doms);
    goto fail;
  }
  app_init_state(app);
  take_idle(rtm, app->lib);
  rtm->apps[rtm->napps++] = app;
  if ((st = grow_choices(rtm))) {
    rtm->napps--;
    st = dynrt__seterr(&rtm->err, st, "add_app: out of memory");
    goto fail;
  }
  if ((st = rtm__replan(rtm, dynrt_platform_now(rtm->p)))) {
    rtm->napps--;
    goto fail;
  }
  DYNRT_LOGI(MOD, "app '%s' (id %d) added: %d settings usable, %d points", app->name, app->id,
             app->nopts, app->npts);
  *out = app;
  pthread_mutex_unlock(&rtm->mu);
  return DYNRT_OK;
fail:
  app_free(app);
  pthread_mutex_unlock(&rtm->mu);
  return st;
}

dynrt_status dynrt_rtm_remove_app(dynrt_rtm *rtm, dynrt_app *app) {
  if (!rtm) return DYNRT_ERR_INVALID_ARG;
  if (!app) return DYNRT_OK;
  pthread_mutex_lock(&rtm->mu);
  int i = 0;
  while (i < rtm->napps && rtm->apps[i] != app) i++;
  if (i == rtm->napps) {
    dynrt_status st =
        dynrt__seterr(&rtm->err, DYNRT_ERR_NOT_FOUND, "remove_app: app not in this manager");
    pthread_mutex_unlock(&rtm->mu);
    return st;
  }
  rtm->apps[i] = rtm->apps[--rtm->napps];
  /* Its future in the oracle's timeline goes with it. */
  int k = 0;
  for (int j = 0; j < rtm->noracle; j++) {
    if (rtm->oracle[j].ev.app == app) {
      if (j < rtm->oracle_next) rtm->oracle_next--;
      continue;
    }
    rtm->oracle[k++] = rtm->oracle[j];
  }
  rtm->noracle = k;
  if (app->applied) dynrt_platform_assign(rtm->p, app->id, 0);
  pthread_mutex_lock(&rtm->fly_mu);
  int fd = rtm->fly[app->id].dom;
  if (fd >= 0) rtm__fly_segment(rtm, fd, dynrt_platform_now(rtm->p));
  rtm->fly[app->id].dom = -1;
  pthread_cond_broadcast(&rtm->fly_cv);
  pthread_mutex_unlock(&rtm->fly_mu);
  DYNRT_LOGI(MOD, "app '%s' (id %d) removed", app->name, app->id);
  app_free(app);
  dynrt_status st = rtm__replan(rtm, dynrt_platform_now(rtm->p));
  pthread_mutex_unlock(&rtm->mu);
  return st;
}

dynrt_status dynrt_rtm_oracle_add(dynrt_rtm *rtm, const dynrt_oracle_event *ev) {
  if (!rtm) return DYNRT_ERR_INVALID_ARG;
  pthread_mutex_lock(&rtm->mu);
  dynrt_status st = DYNRT_OK;
  int found = 0;
  for (int i = 0; ev && i < rtm->napps; i++) found |= rtm->apps[i] == ev->app;
  if (rtm->policy != RTM_POLICY_ORACLE) {
    st = dynrt__seterr(&rtm->err, DYNRT_ERR_STATE, "oracle_add: policy is '%s', not 'oracle'",
                       rtm->policy_name);
  } else if (!ev || !found) {
    st = dynrt__seterr(&rtm->err, DYNRT_ERR_INVALID_ARG, "oracle_add: NULL event or unknown app");
  } else if (ev->kind == DYNRT_ORACLE_SLOWDOWN &&
             (!(ev->slowdown > 0 && ev->slowdown < 100) || ev->domain >= rtm->ndom)) {
    st = dynrt__seterr(&rtm->err, DYNRT_ERR_INVALID_ARG,
                       "oracle_add: slowdown %g on domain %d out of range", ev->slowdown,
                       ev->domain);
  } else if (ev->kind == DYNRT_ORACLE_REQUIREMENTS) {
    st = check_req(&ev->req, ev->app->name, &rtm->err);
  } else if (ev->kind != DYNRT_ORACLE_SLOWDOWN) {
    st = dynrt__seterr(&rtm->err, DYNRT_ERR_INVALID_ARG, "oracle_add: unknown kind %d", ev->kind);
  }
  if (st == DYNRT_OK && rtm->noracle == rtm->cap_oracle) {
    int cap = rtm->cap_oracle ? 2 * rtm->cap_oracle : 64;
    void *p = dynrt__realloc(rtm->oracle, (size_t)rtm->cap_oracle * sizeof *rtm->oracle,
                             (size_t)cap * sizeof *rtm->oracle);
    if (!p)
      st = dynrt__seterr(&rtm->err, DYNRT_ERR_NOMEM, "oracle_add: out of memory");
    else {
      rtm->oracle = p;
      rtm->cap_oracle = cap;
    }
  }
  if (st == DYNRT_OK) {
    /* Insert in time order after the entries already applied (equal times: in call order). */
    int i = rtm->noracle;
    while (i > rtm->oracle_next && rtm->oracle[i - 1].ev.time_ns > ev->time_ns) {
      rtm->oracle[i] = rtm->oracle[i - 1];
      i--;
    }
    rtm->oracle[i] = (rtm_oracle_entry){*ev, ev->app->id};
    rtm->noracle++;
  }
  pthread_mutex_unlock(&rtm->mu);
  return st;
}

/* ---- app queries ---- */

void dynrt_app_get_status(dynrt_app *app, dynrt_app_status *out) {
  if (!app || !out) return;
  pthread_mutex_lock(&app->mu);
  *out = app->status;
  if (app->grant.opt >= 0) out->slowdown = rtm__slow(app, app->opts[app->grant.opt].domain, 0);
  pthread_mutex_unlock(&app->mu);
}

void dynrt_app_get_stats(dynrt_app *app, dynrt_app_stats *out) {
  if (!app || !out) return;
  pthread_mutex_lock(&app->mu);
  *out = app->stats;
  pthread_mutex_unlock(&app->mu);
}

int dynrt_app_id(const dynrt_app *app) { return app ? app->id : -1; }
const char *dynrt_app_name(const dynrt_app *app) { return app ? app->name : NULL; }
const char *dynrt_app_errmsg(const dynrt_app *app) {
  return app ? dynrt__errmsg(&app->err) : "app: NULL object";
}

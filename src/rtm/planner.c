/* planner.c - level 2 of the runtime manager: the exact search for the energy-optimal
 * frequencies, placements, core splits and sub-networks of all apps, and the degradation by
 * priority when the requirements cannot all be met. Pure computation on the manager's
 * snapshot: it never touches the platform or an app's lock.
 *
 * Model (docs/rtm.md): over a period T the predicted energy is
 *   sum over apps   rate * T * E(p) * s                               active energy
 * + sum over domains idle(d, f_d) * T * (1 - busy_d)                   idle energy
 * with busy_d = sum over apps on d of min(1, rate * L(p) * s) * cores / ncpus (time-shared
 * domains: cores / ncpus = 1), E and L the op-library energy and latency of the chosen Pareto
 * point p at the app's setting, s the app's slowdown estimate on d. The idle term splits into
 * a per-domain constant idle * T and a per-app credit, so the objective is a sum of per-app
 * terms plus one term per (domain, frequency). Constraints: L*s <= target*(1-margin),
 * top-1 >= floor, E*s <= energy budget; cores on a CPU domain are disjoint and at most the
 * available ones; on a time-shared domain the utilisations, in units of 1/share_units,
 * add up to at most 1.
 *
 * Search: per (domain, OPP), a subset DP over apps x capacity units (exact knapsack);
 * per domain the best OPP for every subset; then a subset-partition DP across domains.
 * With n apps, m domains, F OPPs, K units and C choices per app: O(m F 2^n K C + m 3^n).
 */
#include <math.h>
#include <string.h>

#include "rtm/rtm_int.h"

#define INF HUGE_VAL
/* Cost (mJ) of the shortfall of a relaxed requirement, far above any energy over a period
 * so that a degraded plan minimises shortfalls first, and ordered so that a relative latency
 * shortfall outweighs any accuracy shortfall, which outweighs an energy overrun: an app that
 * lost its floor still keeps its deadline when it can. */
#define PENALTY_LATENCY 1e12  /* per unit of latency / target - 1 */
#define PENALTY_ACCURACY 1e10 /* per unit of top-1 below the floor (1e8 per point) */
#define PENALTY_ENERGY 1e6    /* per unit of energy / budget - 1 */

double rtm__point_cost(const dynrt_rtm *rtm, const rtm_plan_app *a, const rtm_opt *o, int level,
                       double *penalty) {
  const rtm_pt *pt = &a->app->pts[o->pt_off + level];
  const rtm_dom *d = &rtm->dom[o->domain];
  double s = a->slow[o->domain];
  double lat = pt->lat_ms * s, e = pt->e_mj * s, pen = 0;
  if (lat > a->budget_ms) {
    if (!(a->relax & RTM_RELAX_LATENCY)) return INF;
    pen += PENALTY_LATENCY * (lat / a->budget_ms - 1);
  }
  if (pt->acc < a->floor) {
    if (!(a->relax & RTM_RELAX_FLOOR)) return INF;
    pen += PENALTY_ACCURACY * (a->floor - pt->acc);
  }
  if (a->energy_mj > 0 && e > a->energy_mj) {
    if (!(a->relax & RTM_RELAX_ENERGY)) return INF;
    pen += PENALTY_ENERGY * (e / a->energy_mj - 1);
  }
  if (penalty) *penalty = pen;
  double T = (double)rtm->opt.period_ns * 1e-9;
  double util = DYNRT_MIN(1.0, a->rate_hz * lat * 1e-3);
  double share = d->shared ? 1.0 : (double)o->cores / d->ncpus;
  return a->rate_hz * T * e - d->idle_w[o->opp] * T * 1e3 * util * share + pen;
}

int rtm__pick_level(const dynrt_rtm *rtm, const rtm_plan_app *a, const rtm_opt *o, double *cost) {
  *cost = INF;
  int best = -1;
  double best_pen = INF;
  for (int l = o->npts - 1; l >= 0; l--) {
    double pen = 0, c = rtm__point_cost(rtm, a, o, l, &pen);
    if (isinf(c)) continue;
    if (rtm->pick == RTM_PICK_MAXACC) {
      /* Most accurate without shortfall; among points with shortfall, the least. */
      if (pen < best_pen || (pen == best_pen && best_pen > 0 && c < *cost)) {
        best = l;
        best_pen = pen;
        *cost = c;
      }
      if (pen == 0) break;
    } else if (c < *cost) { /* energy: strict, so ties keep the more accurate */
      best = l;
      *cost = c;
    }
  }
  return best;
}

/* Capacity units an app uses at (opt, level). */
static int units_of(const dynrt_rtm *rtm, const rtm_plan_app *a, const rtm_opt *o, int level) {
  const rtm_dom *d = &rtm->dom[o->domain];
  if (!d->shared) return o->cores;
  double lat = a->app->pts[o->pt_off + level].lat_ms * a->slow[o->domain];
  double util = DYNRT_MIN(1.0, a->rate_hz * lat * 1e-3);
  int u = (int)ceil(util * rtm->opt.share_units - 1e-9);
  return u < 1 ? 1 : u;
}

/* Choices of every app at (d, f): coff[a]..coff[a+1] in rtm->choices. */
static void build_choices(dynrt_rtm *rtm, int n, int d, int f, int *coff) {
  int nc = 0;
  for (int ai = 0; ai < n; ai++) {
    coff[ai] = nc;
    const rtm_plan_app *a = &rtm->plan[ai];
    const dynrt_app *app = a->app;
    int key = d * DYNRT_MAX_OPPS + f;
    for (int oi = app->ostart[key]; oi < app->ostart[key + 1]; oi++) {
      const rtm_opt *o = &app->opts[oi];
      if (!rtm->dom[d].shared && o->cores > rtm->dom[d].capacity) continue;
      if (rtm->dom[d].shared && rtm->pick == RTM_PICK_ENERGY) {
        /* Each level uses different capacity: every one is a choice. */
        for (int l = 0; l < o->npts; l++) {
          double c = rtm__point_cost(rtm, a, o, l, NULL);
          if (isinf(c)) continue;
          DYNRT_ASSERT(nc < rtm->cap_choices);
          rtm->choices[nc++] = (rtm_choice){c, units_of(rtm, a, o, l), oi, l};
        }
      } else {
        double c;
        int l = rtm__pick_level(rtm, a, o, &c);
        if (l < 0) continue;
        DYNRT_ASSERT(nc < rtm->cap_choices);
        rtm->choices[nc++] = (rtm_choice){c, units_of(rtm, a, o, l), oi, l};
      }
    }
  }
  coff[n] = nc;
}

/* Subset DP at (d, f): best[S][k] = least cost of placing the apps of S with exactly k units. */
static void dp_domain(dynrt_rtm *rtm, int n, int cap, const int *coff) {
  int K = rtm->kmax, nS = 1 << n;
  double *best = rtm->best;
  int *back = rtm->back;
  for (int k = 0; k <= cap; k++) best[k] = k ? INF : 0;
  for (int S = 1; S < nS; S++) {
    int a = __builtin_ctz((unsigned)S), R = S & (S - 1);
    double *row = best + (size_t)S * K;
    const double *prev = best + (size_t)R * K;
    int *brow = back + (size_t)S * K;
    for (int k = 0; k <= cap; k++) row[k] = INF;
    for (int ci = coff[a]; ci < coff[a + 1]; ci++) {
      const rtm_choice *c = &rtm->choices[ci];
      for (int k = c->units; k <= cap; k++) {
        double v = prev[k - c->units] + c->cost;
        if (v < row[k]) {
          row[k] = v;
          brow[k] = ci;
        }
      }
    }
  }
}

static double idle_cost(const dynrt_rtm *rtm, int d, int f) {
  return rtm->dom[d].idle_w[f] * ((double)rtm->opt.period_ns * 1e-9) * 1e3;
}

/* Fills rtm->dcost / dopp for every domain and subset. */
static void domain_costs(dynrt_rtm *rtm, int n, int *coff) {
  int nS = 1 << n, K = rtm->kmax;
  for (int d = 0; d < rtm->ndom; d++) {
    const rtm_dom *dom = &rtm->dom[d];
    for (int S = 0; S < nS; S++) {
      rtm->dcost[d][S] = INF;
      rtm->dopp[d][S] = -1;
    }
    for (int f = 0; f < dom->nopps; f++) {
      if (!dom->allowed[f]) continue;
      double idle = idle_cost(rtm, d, f);
      /* Empty domain: idles at its cheapest allowed OPP (ties: the lowest). */
      if (idle < rtm->dcost[d][0]) {
        rtm->dcost[d][0] = idle;
        rtm->dopp[d][0] = f;
      }
      build_choices(rtm, n, d, f, coff);
      if (coff[n] == 0) continue;
      dp_domain(rtm, n, dom->capacity, coff);
      for (int S = 1; S < nS; S++) {
        const double *row = rtm->best + (size_t)S * K;
        double m = INF;
        for (int k = 0; k <= dom->capacity; k++) m = DYNRT_MIN(m, row[k]);
        if (idle + m < rtm->dcost[d][S]) {
          rtm->dcost[d][S] = idle + m;
          rtm->dopp[d][S] = f;
        }
      }
    }
    if (rtm->dopp[d][0] < 0) { /* no allowed OPP: leave the domain as it is */
      rtm->dcost[d][0] = 0;
      rtm->dopp[d][0] = -1;
    }
  }
}

/* Best split of the apps in `active` over the domains; fills plan[].opt/level and dom_opp.
 * Returns the total cost (INF when infeasible). */
static double solve(dynrt_rtm *rtm, int n, int active, int *dom_opp) {
  int nS = 1 << n, m = rtm->ndom;
  int coff[DYNRT_RTM_MAX_APPS + 1];
  double(*g)[1 << DYNRT_RTM_MAX_APPS] = rtm->gcost;
  int(*gsel)[1 << DYNRT_RTM_MAX_APPS] = rtm->gsel;
  for (int ai = 0; ai < n; ai++) rtm->plan[ai].opt = rtm->plan[ai].level = -1;
  if (m == 0) return active ? INF : 0;
  domain_costs(rtm, n, coff);
  for (int U = 0; U < nS; U++) {
    g[0][U] = rtm->dcost[0][U];
    gsel[0][U] = U;
  }
  for (int i = 1; i < m; i++) {
    for (int U = 0; U < nS; U++) {
      g[i][U] = INF;
      gsel[i][U] = 0;
      if ((U & active) != U) continue;
      /* All subsets S of U, including U and the empty set. */
      for (int S = U;; S = (S - 1) & U) {
        double v = rtm->dcost[i][S] + g[i - 1][U ^ S];
        if (v < g[i][U]) {
          g[i][U] = v;
          gsel[i][U] = S;
        }
        if (S == 0) break;
      }
    }
  }
  double total = g[m - 1][active];
  if (isinf(total)) return total;
  int U = active;
  for (int i = m - 1; i >= 0; i--) {
    int S = gsel[i][U];
    U ^= S;
    int f = rtm->dopp[i][S];
    dom_opp[i] = f;
    if (!S) continue;
    /* Recompute the DP at the chosen OPP and walk its back pointers. */
    build_choices(rtm, n, i, f, coff);
    dp_domain(rtm, n, rtm->dom[i].capacity, coff);
    const double *row = rtm->best + (size_t)S * rtm->kmax;
    int k = 0;
    for (int kk = 1; kk <= rtm->dom[i].capacity; kk++)
      if (row[kk] < row[k]) k = kk;
    for (int R = S; R;) {
      const rtm_choice *c = &rtm->choices[rtm->back[(size_t)R * rtm->kmax + k]];
      int a = __builtin_ctz((unsigned)R);
      rtm->plan[a].opt = c->opt;
      rtm->plan[a].level = c->level;
      k -= c->units;
      R &= R - 1;
    }
  }
  return total;
}

/* Requirement r of app a exists (can be relaxed). */
static int has_req(const rtm_plan_app *a, int r) {
  if (r == RTM_RELAX_ENERGY) return a->energy_mj > 0;
  if (r == RTM_RELAX_FLOOR) return a->floor > 0;
  return 1;
}

/* Cost of every app keeping its current grant (setting; its level re-picked) under the new
 * inputs, with the domains' OPPs in cur_opp; +inf when that no longer fits. */
static double current_cost(dynrt_rtm *rtm, int n, const int *dom_opp, int *cur_opp, int *levels) {
  int units[DYNRT_MAX_DOMAINS] = {0};
  for (int d = 0; d < rtm->ndom; d++) cur_opp[d] = -1;
  double total = 0;
  for (int i = 0; i < n; i++) {
    const rtm_plan_app *a = &rtm->plan[i];
    /* Grants change only under the manager lock, which the caller holds. */
    const rtm_grant *g = &a->app->grant;
    if (g->opt < 0) return INF;
    const rtm_opt *o = &a->app->opts[g->opt];
    const rtm_dom *dom = &rtm->dom[o->domain];
    if ((cur_opp[o->domain] >= 0 && cur_opp[o->domain] != o->opp) || !dom->allowed[o->opp])
      return INF;
    if (!dom->shared && (g->mask & ~dom->avail)) return INF;
    cur_opp[o->domain] = o->opp;
    double c;
    int l = rtm__pick_level(rtm, a, o, &c);
    if (l < 0) return INF;
    units[o->domain] += units_of(rtm, a, o, l);
    if (units[o->domain] > dom->capacity) return INF;
    levels[i] = l;
    total += c;
  }
  for (int d = 0; d < rtm->ndom; d++) {
    if (cur_opp[d] < 0) cur_opp[d] = dom_opp[d];
    if (cur_opp[d] >= 0) total += idle_cost(rtm, d, cur_opp[d]);
  }
  return total;
}

int rtm__plan(dynrt_rtm *rtm, int n, int *dom_opp) {
  for (int d = 0; d < rtm->ndom; d++) dom_opp[d] = -1;
  if (n == 0) {
    solve(rtm, 0, 0, dom_opp);
    return 0;
  }
  /* Who loses first: lowest priority, then the most recently added (highest id). */
  int order[DYNRT_RTM_MAX_APPS];
  for (int i = 0; i < n; i++) order[i] = i;
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0; j--) {
      const rtm_plan_app *x = &rtm->plan[order[j]], *y = &rtm->plan[order[j - 1]];
      if (x->priority < y->priority || (x->priority == y->priority && x->app->id > y->app->id)) {
        int t = order[j];
        order[j] = order[j - 1];
        order[j - 1] = t;
      } else {
        break;
      }
    }
  static const int steps[3] = {RTM_RELAX_ENERGY, RTM_RELAX_FLOOR, RTM_RELAX_LATENCY};
  int active = (1 << n) - 1, degraded = 0;
  for (int i = 0; i < n; i++) rtm->plan[i].relax = 0;
  double total = solve(rtm, n, active, dom_opp);
  for (int i = 0; i < n && isinf(total); i++) {
    rtm_plan_app *a = &rtm->plan[order[i]];
    for (int r = 0; r < 3 && isinf(total); r++) {
      if (!has_req(a, steps[r])) continue;
      a->relax |= steps[r];
      total = solve(rtm, n, active, dom_opp);
    }
  }
  /* Still nothing: not enough cores for everyone. Starve apps in the same order. */
  for (int i = 0; i < n && isinf(total); i++) {
    active &= ~(1 << order[i]);
    total = solve(rtm, n, active, dom_opp);
  }
  /* Plan hysteresis: noise in the slowdown estimates must not flip frequencies and grants
   * between plans of nearly equal cost; the current grants stay while they still meet every
   * requirement and cost at most plan_hysteresis more than the optimum. */
  int relaxed = 0;
  for (int i = 0; i < n; i++) relaxed |= rtm->plan[i].relax;
  if (!relaxed && active == (1 << n) - 1 && rtm->opt.plan_hysteresis > 0) {
    int cur_opp[DYNRT_MAX_DOMAINS], levels[DYNRT_RTM_MAX_APPS];
    double cur = current_cost(rtm, n, dom_opp, cur_opp, levels);
    if (cur <= total + rtm->opt.plan_hysteresis * fabs(total)) {
      for (int i = 0; i < n; i++) {
        rtm->plan[i].opt = rtm->plan[i].app->grant.opt;
        rtm->plan[i].level = levels[i];
      }
      for (int d = 0; d < rtm->ndom; d++) dom_opp[d] = cur_opp[d];
    }
  }
  for (int i = 0; i < n; i++) {
    rtm_plan_app *a = &rtm->plan[i];
    if (a->opt < 0) {
      degraded++;
      continue;
    }
    const rtm_opt *o = &a->app->opts[a->opt];
    const rtm_pt *pt = &a->app->pts[o->pt_off + a->level];
    a->lat_ms = pt->lat_ms * a->slow[o->domain];
    a->e_mj = pt->e_mj * a->slow[o->domain];
    a->acc = pt->acc;
    if (a->relax) degraded++;
  }
  return degraded;
}

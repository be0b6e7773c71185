/*
 * nsga.c - NSGA-II (Deb et al. 2002) over the sub-network space: fast non-dominated
 * sorting, crowding distance, Pareto extraction, and the evolutionary loop with an
 * evaluation cache. Objectives are opaque numbers to minimise; what they mean (accuracy,
 * predicted latency per hardware setting) is the caller's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "offline/offline_int.h"

#define fail dynrt__offline_fail

static int dominates(const double *a, const double *b, int m) {
  int better = 0;
  for (int j = 0; j < m; j++) {
    if (a[j] > b[j]) return 0;
    if (a[j] < b[j]) better = 1;
  }
  return better;
}

int dynrt_pareto_front(const double *obj, int n, int m, int *idx) {
  int c = 0;
  for (int i = 0; i < n; i++) {
    int dom = 0;
    for (int k = 0; k < n && !dom; k++) dom = k != i && dominates(obj + k * m, obj + i * m, m);
    if (!dom) idx[c++] = i;
  }
  return c;
}

/* Insertion sort of a front by objective j (fronts are small; stable and reentrant). */
static void sort_by(int *ix, int n, const double *obj, int m, int j) {
  for (int a = 1; a < n; a++) {
    int v = ix[a], b = a - 1;
    while (b >= 0 && obj[ix[b] * m + j] > obj[v * m + j]) {
      ix[b + 1] = ix[b];
      b--;
    }
    ix[b + 1] = v;
  }
}

int dynrt_nsga_sort(const double *obj, int n, int m, int *rank, double *crowd) {
  if (n <= 0) return 0;
  int *cnt = dynrt__calloc((size_t)n, sizeof *cnt);             /* how many dominate i */
  int *dom = dynrt__calloc((size_t)n * (size_t)n, sizeof *dom); /* lists of dominated */
  int *ndom = dynrt__calloc((size_t)n, sizeof *ndom);
  int *front = dynrt__calloc((size_t)n, sizeof *front),
      *next = dynrt__calloc((size_t)n, sizeof *next);
  if (!cnt || !dom || !ndom || !front || !next) {
    dynrt__free(cnt);
    dynrt__free(dom);
    dynrt__free(ndom);
    dynrt__free(front);
    dynrt__free(next);
    return -1;
  }
  int nf = 0;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < n; k++) {
      if (i == k) continue;
      if (dominates(obj + i * m, obj + k * m, m))
        dom[(size_t)i * (size_t)n + (size_t)ndom[i]++] = k;
      else if (dominates(obj + k * m, obj + i * m, m))
        cnt[i]++;
    }
  for (int i = 0; i < n; i++)
    if (!cnt[i]) front[nf++] = i;
  int r = 0;
  while (nf) {
    for (int a = 0; a < nf; a++) {
      rank[front[a]] = r;
      crowd[front[a]] = 0;
    }
    /* crowding distance within this front */
    for (int j = 0; j < m; j++) {
      sort_by(front, nf, obj, m, j);
      double lo = obj[front[0] * m + j], hi = obj[front[nf - 1] * m + j];
      crowd[front[0]] = crowd[front[nf - 1]] = INFINITY;
      if (hi > lo)
        for (int a = 1; a < nf - 1; a++)
          crowd[front[a]] += (obj[front[a + 1] * m + j] - obj[front[a - 1] * m + j]) / (hi - lo);
    }
    int nn = 0;
    for (int a = 0; a < nf; a++) {
      int i = front[a];
      for (int b = 0; b < ndom[i]; b++) {
        int k = dom[(size_t)i * (size_t)n + (size_t)b];
        if (--cnt[k] == 0) next[nn++] = k;
      }
    }
    memcpy(front, next, (size_t)nn * sizeof *front);
    nf = nn;
    r++;
  }
  dynrt__free(cnt);
  dynrt__free(dom);
  dynrt__free(ndom);
  dynrt__free(front);
  dynrt__free(next);
  return r;
}

/* ---- the evolutionary loop ---- */

static uint64_t rnd(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static int rnd_int(uint64_t *s, int n) { return (int)(rnd(s) % (uint64_t)n); }
static double rnd_unit(uint64_t *s) { return (double)(rnd(s) >> 11) * 0x1.0p-53; }

typedef struct archive {
  dynrt_subnet *cfg;
  uint64_t *id;
  double *obj;
  int n, cap, m;
} archive;

static int arch_find(const archive *a, uint64_t id) {
  for (int i = 0; i < a->n; i++)
    if (a->id[i] == id) return i;
  return -1;
}

/* Index of cfg in the archive, evaluating it first if new; -1 on failure. */
static int arch_eval(archive *a, const dynrt_model *model, const dynrt_subnet *cfg,
                     dynrt_search_eval_fn eval, void *user, dynrt_error *err) {
  uint64_t id = dynrt_subnet_id(model, cfg);
  int i = arch_find(a, id);
  if (i >= 0) return i;
  if (a->n == a->cap) {
    int nc = a->cap ? 2 * a->cap : 64;
    dynrt_subnet *c = dynrt__realloc(a->cfg, (size_t)a->cap * sizeof *c, (size_t)nc * sizeof *c);
    if (c) a->cfg = c;
    uint64_t *d = dynrt__realloc(a->id, (size_t)a->cap * sizeof *d, (size_t)nc * sizeof *d);
    if (d) a->id = d;
    double *o = dynrt__realloc(a->obj, (size_t)a->cap * (size_t)a->m * sizeof *o,
                               (size_t)nc * (size_t)a->m * sizeof *o);
    if (o) a->obj = o;
    if (!c || !d || !o) {
      fail(err, DYNRT_ERR_NOMEM, "search: no memory");
      return -1;
    }
    a->cap = nc;
  }
  if (eval(user, cfg, a->obj + (size_t)a->n * (size_t)a->m)) {
    char buf[DYNRT_SUBNET_STR_MAX];
    dynrt_subnet_format(model, cfg, buf, sizeof buf, NULL);
    fail(err, DYNRT_ERR_STATE, "search: evaluation failed for %s", buf);
    return -1;
  }
  a->cfg[a->n] = *cfg;
  a->id[a->n] = id;
  return a->n++;
}

/* Uniform crossover per gene, then per-gene mutation; canonical result. */
static void breed(const dynrt_model *model, const dynrt_model_info *info, const dynrt_subnet *pa,
                  const dynrt_subnet *pb, double pm, uint64_t *rng, dynrt_subnet *child) {
  *child = *pa;
  if (rnd(rng) & 1) child->r = pb->r;
  if (rnd(rng) & 1) child->w = pb->w;
  for (int s = 0; s < pa->n_stages; s++)
    if (rnd(rng) & 1) child->d[s] = pb->d[s];
  for (int b = 0; b < pa->n_blocks; b++) {
    if (rnd(rng) & 1) child->k[b] = pb->k[b];
    if (rnd(rng) & 1) child->e[b] = pb->e[b];
  }
  if (rnd_unit(rng) < pm) child->r = info->resolutions[rnd_int(rng, info->n_resolutions)];
  if (rnd_unit(rng) < pm) child->w = info->width_mults[rnd_int(rng, info->n_width_mults)];
  for (int s = 0; s < pa->n_stages; s++)
    if (rnd_unit(rng) < pm) {
      const dynrt_stage_info *si = &info->stages[s];
      child->d[s] = (uint8_t)si->depths[rnd_int(rng, si->n_depths)];
    }
  for (int b = 0; b < pa->n_blocks; b++) {
    if (rnd_unit(rng) < pm)
      child->k[b] = (uint8_t)info->kernel_sizes[rnd_int(rng, info->n_kernel_sizes)];
    if (rnd_unit(rng) < pm) child->e[b] = info->expand_ratios[rnd_int(rng, info->n_expand_ratios)];
  }
  dynrt_subnet_canonicalize(model, child, NULL);
}

/* Better of two by (rank, crowding). */
static int tournament(const int *pop, int n, const int *rank, const double *crowd, uint64_t *rng) {
  int a = rnd_int(rng, n), b = rnd_int(rng, n);
  if (rank[a] != rank[b]) return rank[a] < rank[b] ? pop[a] : pop[b];
  return crowd[a] >= crowd[b] ? pop[a] : pop[b];
}

dynrt_status dynrt_search_nsga2(const dynrt_model *model, const dynrt_search_options *opts,
                                dynrt_search_eval_fn eval, void *user, dynrt_subnet **out_cfg,
                                double **out_obj, int *n_out, dynrt_error *err) {
  if (!model || !opts || !eval || !out_cfg || !out_obj || !n_out)
    return fail(err, DYNRT_ERR_INVALID_ARG, "search: NULL argument");
  *out_cfg = NULL;
  *out_obj = NULL;
  *n_out = 0;
  int P = opts->population ? opts->population : 32, G = opts->generations ? opts->generations : 10;
  int m = opts->n_obj;
  double pm = opts->p_mutate > 0 ? opts->p_mutate : 0.1;
  if (P < 4 || P > 100000 || G < 0 || m < 2 || m > DYNRT_NSGA_MAX_OBJ)
    return fail(err, DYNRT_ERR_INVALID_ARG,
                "search: population %d (>= 4), generations %d, objectives %d (2..%d)", P, G, m,
                DYNRT_NSGA_MAX_OBJ);
  dynrt_model_info info;
  dynrt_model_get_info(model, &info);
  uint64_t rng = opts->seed ^ 0x5eed5eed5eedull;
  archive ar = {NULL, NULL, NULL, 0, 0, m};
  int *pop = dynrt__malloc(sizeof(int) * 2 * (size_t)P);
  int *rank = dynrt__malloc(sizeof(int) * 2 * (size_t)P);
  double *crowd = dynrt__malloc(sizeof(double) * 2 * (size_t)P);
  double *o = dynrt__malloc(sizeof(double) * 2 * (size_t)P * (size_t)m);
  int *order = dynrt__malloc(sizeof(int) * 2 * (size_t)P);
  dynrt_status st = DYNRT_OK;
  if (!pop || !rank || !crowd || !o || !order) {
    st = fail(err, DYNRT_ERR_NOMEM, "search: no memory");
    goto done;
  }
  /* initial population: the two extremes, then distinct random samples */
  int np = 0;
  dynrt_subnet c;
  dynrt_subnet_largest(model, &c);
  if ((pop[np++] = arch_eval(&ar, model, &c, eval, user, err)) < 0) goto evalfail;
  dynrt_subnet_smallest(model, &c);
  int i0 = arch_eval(&ar, model, &c, eval, user, err);
  if (i0 < 0) goto evalfail;
  if (i0 != pop[0]) pop[np++] = i0;
  for (int tries = 0; np < P && tries < 100 * P; tries++) {
    dynrt_subnet_sample(model, &rng, &c);
    if (arch_find(&ar, dynrt_subnet_id(model, &c)) >= 0) continue;
    if ((pop[np++] = arch_eval(&ar, model, &c, eval, user, err)) < 0) goto evalfail;
  }
  for (int g = 0; g < G; g++) {
    for (int i = 0; i < np; i++)
      memcpy(o + i * m, ar.obj + (size_t)pop[i] * (size_t)m, sizeof(double) * (size_t)m);
    if (dynrt_nsga_sort(o, np, m, rank, crowd) < 0) {
      st = fail(err, DYNRT_ERR_NOMEM, "search: no memory");
      goto done;
    }
    int nq = np;
    for (int tries = 0; nq < 2 * np && tries < 100 * P; tries++) {
      int a = tournament(pop, np, rank, crowd, &rng), b = tournament(pop, np, rank, crowd, &rng);
      breed(model, &info, &ar.cfg[a], &ar.cfg[b], pm, &rng, &c);
      uint64_t id = dynrt_subnet_id(model, &c);
      int dup = 0;
      for (int i = 0; i < nq && !dup; i++) dup = ar.id[pop[i]] == id;
      if (dup) continue;
      if ((pop[nq++] = arch_eval(&ar, model, &c, eval, user, err)) < 0) goto evalfail;
    }
    /* survival: fronts in order, the last one cut by crowding distance */
    for (int i = 0; i < nq; i++)
      memcpy(o + i * m, ar.obj + (size_t)pop[i] * (size_t)m, sizeof(double) * (size_t)m);
    if (dynrt_nsga_sort(o, nq, m, rank, crowd) < 0) {
      st = fail(err, DYNRT_ERR_NOMEM, "search: no memory");
      goto done;
    }
    for (int i = 0; i < nq; i++) order[i] = i;
    /* sort by (rank asc, crowd desc, index asc): deterministic */
    for (int a = 1; a < nq; a++) {
      int v = order[a], b = a - 1;
      while (b >= 0 && (rank[order[b]] > rank[v] ||
                        (rank[order[b]] == rank[v] && crowd[order[b]] < crowd[v]))) {
        order[b + 1] = order[b];
        b--;
      }
      order[b + 1] = v;
    }
    int keep = DYNRT_MIN(P, nq), *tmp = rank; /* rank is no longer needed */
    for (int i = 0; i < keep; i++) tmp[i] = pop[order[i]];
    memcpy(pop, tmp, sizeof(int) * (size_t)keep);
    np = keep;
    if (opts->progress && opts->progress(opts->user_progress, (size_t)g + 1, (size_t)G)) {
      st = fail(err, DYNRT_ERR_STATE, "search: cancelled");
      goto done;
    }
  }
  *out_cfg = ar.cfg;
  *out_obj = ar.obj;
  *n_out = ar.n;
  ar.cfg = NULL;
  ar.obj = NULL;
  goto done;
evalfail:
  st = err ? err->status : DYNRT_ERR_STATE;
  if (!st) st = DYNRT_ERR_STATE;
done:
  dynrt__free(ar.cfg);
  dynrt__free(ar.obj);
  dynrt__free(ar.id);
  dynrt__free(pop);
  dynrt__free(rank);
  dynrt__free(crowd);
  dynrt__free(o);
  dynrt__free(order);
  return st;
}

void dynrt_search_free(dynrt_subnet *cfg, double *obj) {
  dynrt__free(cfg);
  dynrt__free(obj);
}

/* test_search.c - NSGA-II pieces on hand-made points (non-dominated sorting, crowding
 * distance, Pareto extraction), determinism of the search for a seed, and an end-to-end
 * search on the tiny fixture with a few synthetic images that ends in an op library. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dynrt/engine.h"
#include "dynrt/offline.h"
#include "dynrt/oplib.h"

#define TINY DYNRT_SOURCE_DIR "/tests/fixtures/tiny.safetensors"

/*
 * Points (minimise both):          rank  crowding
 *  0 (1, 5)  front 0 extreme          0   inf
 *  1 (2, 3)  front 0 middle           0   (4-1)/(4-1) + (5-2)/(5-2) = 2
 *  2 (4, 2)  front 0 extreme          0   inf
 *  3 (3, 4)  dominated by 1           1   inf (2-point front)
 *  4 (5, 3)  dominated by 1, 2        1   inf
 *  5 (5, 5)  dominated by 3, 4...     2   inf
 *  6 (2, 3)  duplicate of 1           0   (ties: both middle or an extreme)
 */
static void test_sort_and_crowding(void **state) {
  (void)state;
  double p[] = {1, 5, 2, 3, 4, 2, 3, 4, 5, 3, 5, 5};
  int rank[6];
  double crowd[6];
  assert_int_equal(dynrt_nsga_sort(p, 6, 2, rank, crowd), 3);
  int want[] = {0, 0, 0, 1, 1, 2};
  for (int i = 0; i < 6; i++) assert_int_equal(rank[i], want[i]);
  assert_true(isinf(crowd[0]) && isinf(crowd[2]));
  assert_true(fabs(crowd[1] - 2.0) < 1e-12);
  assert_true(isinf(crowd[3]) && isinf(crowd[4]) && isinf(crowd[5]));
  int idx[6];
  assert_int_equal(dynrt_pareto_front(p, 6, 2, idx), 3);
  assert_int_equal(idx[0], 0);
  assert_int_equal(idx[1], 1);
  assert_int_equal(idx[2], 2);
  /* duplicates are both non-dominated; a 4-point front: crowding of the middle ones */
  double q[] = {0, 4, 1, 3, 1, 3, 3, 0};
  int r2[4];
  double c2[4];
  assert_int_equal(dynrt_nsga_sort(q, 4, 2, r2, c2), 1);
  assert_int_equal(dynrt_pareto_front(q, 4, 2, idx), 4);
  /* middles (1,3) and (1,3): sorted neighbours give (1-0)/3 + ... each finite, >= 0 */
  assert_true(isfinite(c2[1]) && isfinite(c2[2]) && c2[1] >= 0 && c2[2] >= 0);
  assert_true(isinf(c2[0]) && isinf(c2[3]));
  /* three objectives */
  double t[] = {1, 1, 1, 0, 2, 2, 2, 2, 2};
  int r3[3];
  double c3[3];
  assert_int_equal(dynrt_nsga_sort(t, 3, 3, r3, c3), 2);
  assert_int_equal(r3[0], 0);
  assert_int_equal(r3[1], 0);
  assert_int_equal(r3[2], 1);
}

typedef struct synth {
  const dynrt_model *m;
  int calls;
} synth;

/* A cheap deterministic objective pair: MACs against a "quality" that grows with depth,
 * kernel and expansion but saturates. */
static int synth_eval(void *user, const dynrt_subnet *cfg, double *obj) {
  synth *s = user;
  s->calls++;
  double q = 0;
  for (int i = 0; i < cfg->n_stages; i++) q += cfg->d[i];
  for (int b = 0; b < cfg->n_blocks; b++) q += 0.1 * cfg->k[b] + 0.05 * cfg->e[b];
  q += 0.05 * cfg->r;
  obj[0] = -log(1 + q);
  obj[1] = (double)dynrt_subnet_macs(s->m, cfg) * 1e-6;
  return 0;
}

static void test_search_deterministic(void **state) {
  (void)state;
  dynrt_model *m;
  assert_int_equal(dynrt_model_load(TINY, &m, NULL), DYNRT_OK);
  dynrt_subnet *a1, *a2, *a3;
  double *o1, *o2, *o3;
  int n1, n2, n3;
  synth s = {m, 0};
  dynrt_search_options so = {12, 5, 2, 42, 0, NULL, NULL};
  assert_int_equal(dynrt_search_nsga2(m, &so, synth_eval, &s, &a1, &o1, &n1, NULL), DYNRT_OK);
  assert_int_equal(s.calls, n1); /* each distinct sub-network evaluated once */
  assert_int_equal(dynrt_search_nsga2(m, &so, synth_eval, &s, &a2, &o2, &n2, NULL), DYNRT_OK);
  assert_int_equal(n1, n2);
  for (int i = 0; i < n1; i++) assert_true(dynrt_subnet_equal(m, &a1[i], &a2[i]));
  assert_memory_equal(o1, o2, sizeof(double) * 2 * (size_t)n1);
  so.seed = 43;
  assert_int_equal(dynrt_search_nsga2(m, &so, synth_eval, &s, &a3, &o3, &n3, NULL), DYNRT_OK);
  int same = n3 == n1;
  for (int i = 0; same && i < n1; i++) same = dynrt_subnet_equal(m, &a1[i], &a3[i]);
  assert_false(same);
  /* the largest and the smallest are always evaluated; ids are distinct */
  dynrt_subnet big, small;
  dynrt_subnet_largest(m, &big);
  dynrt_subnet_smallest(m, &small);
  assert_true(dynrt_subnet_equal(m, &a1[0], &big));
  assert_true(dynrt_subnet_equal(m, &a1[1], &small));
  for (int i = 0; i < n1; i++)
    for (int j = i + 1; j < n1; j++) assert_false(dynrt_subnet_equal(m, &a1[i], &a1[j]));
  /* evolution improves the front: its best quality at most the largest's cost */
  assert_true(n1 > 12);
  dynrt_search_free(a1, o1);
  dynrt_search_free(a2, o2);
  dynrt_search_free(a3, o3);
  dynrt_search_free(NULL, NULL);
  dynrt_search_options bad = {2, 1, 2, 1, 0, NULL, NULL};
  dynrt_error err;
  assert_int_equal(dynrt_search_nsga2(m, &bad, synth_eval, &s, &a1, &o1, &n1, &err),
                   DYNRT_ERR_INVALID_ARG);
  dynrt_model_destroy(m);
}

typedef struct real {
  const dynrt_model *m;
  const dynrt_dataset *train, *val;
  const dynrt_block_lut *lut;
} real;

static int real_eval(void *user, const dynrt_subnet *cfg, double *obj) {
  real *r = user;
  dynrt_bn_table *t = NULL;
  dynrt_calib_options o = {0, 20, 10, NULL, NULL};
  dynrt_eval_result e;
  if (dynrt_calibrate(r->m, cfg, r->train, &o, &t, NULL) ||
      dynrt_evaluate(r->m, cfg, t, r->val, 0, 0, 2, &e, NULL))
    return 1;
  dynrt_bn_table_destroy(t);
  obj[0] = 1.0 - (double)e.top1 / (double)e.images;
  obj[1] = dynrt_block_lut_predict(r->lut, cfg) * 1e-6;
  return obj[1] > 0 ? 0 : 1;
}

/* Calibrate + evaluate + table-predicted latency inside NSGA-II, then the front becomes an
 * op library that validates, saves and loads. */
static void test_search_end_to_end(void **state) {
  (void)state;
  dynrt_model *m;
  dynrt_dataset *train, *val;
  dynrt_block_lut *lut;
  dynrt_error err;
  assert_int_equal(dynrt_model_load(TINY, &m, NULL), DYNRT_OK);
  assert_int_equal(dynrt_dataset_synthetic(20, 32, 7, 1, &train, NULL), DYNRT_OK);
  assert_int_equal(dynrt_dataset_synthetic(30, 32, 7, 2, &val, NULL), DYNRT_OK);
  assert_int_equal(dynrt_block_lut_build(m, 0, 1, NULL, NULL, &lut, &err), DYNRT_OK);
  real r = {m, train, val, lut};
  dynrt_subnet *a;
  double *o;
  int n;
  dynrt_search_options so = {6, 2, 2, 7, 0, NULL, NULL};
  assert_int_equal(dynrt_search_nsga2(m, &so, real_eval, &r, &a, &o, &n, &err), DYNRT_OK);
  int *front = malloc(sizeof(int) * (size_t)n);
  int nf = dynrt_pareto_front(o, n, 2, front);
  assert_true(nf >= 1);
  dynrt_oplib *lib;
  assert_int_equal(dynrt_oplib_create("dynrt-tiny", TINY, "host", &lib), DYNRT_OK);
  dynrt_oplib_setting set = {"cpu", 2600000, 1};
  int si;
  assert_int_equal(dynrt_oplib_add_setting(lib, &set, &si), DYNRT_OK);
  for (int i = 0; i < nf; i++) {
    const dynrt_subnet *c = &a[front[i]];
    char cs[DYNRT_SUBNET_STR_MAX];
    dynrt_subnet_format(m, c, cs, sizeof cs, NULL);
    dynrt_oplib_subnet sn = {cs,
                             dynrt_subnet_id(m, c),
                             dynrt_subnet_macs(m, c),
                             dynrt_subnet_params(m, c),
                             1 - o[2 * front[i]],
                             30,
                             -1,
                             0,
                             NULL,
                             -1,
                             -1};
    int ix;
    assert_int_equal(dynrt_oplib_add_subnet(lib, &sn, &ix), DYNRT_OK);
    dynrt_oplib_point pt = {ix, si, o[2 * front[i] + 1], 0, 0, 0.01, 0, 1};
    assert_int_equal(dynrt_oplib_add_point(lib, &pt), DYNRT_OK);
  }
  assert_int_equal(dynrt_oplib_finalize(lib), DYNRT_OK);
  int np;
  dynrt_oplib_pareto(lib, 0, &np);
  assert_true(np >= 1 && np <= nf);
  char path[] = "/tmp/dynrt_test_search_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(dynrt_oplib_save(lib, path), DYNRT_OK);
  dynrt_oplib *back;
  char eb[256];
  assert_int_equal(dynrt_oplib_load(path, &back, eb, sizeof eb), DYNRT_OK);
  assert_int_equal(dynrt_oplib_num_subnets(back), nf);
  unlink(path);
  dynrt_oplib_destroy(back);
  dynrt_oplib_destroy(lib);
  free(front);
  dynrt_search_free(a, o);
  dynrt_block_lut_destroy(lut);
  dynrt_dataset_destroy(train);
  dynrt_dataset_destroy(val);
  dynrt_model_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sort_and_crowding),
      cmocka_unit_test(test_search_deterministic),
      cmocka_unit_test(test_search_end_to_end),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

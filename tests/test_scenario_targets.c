/* test_scenario_targets.c - the manager's targets on every shipped simulated scenario
 * (docs/results.md): with all policies on the same seed, `rtm` uses less energy than every
 * baseline, meets every feasible accuracy floor, stays within 10% of the oracle's energy,
 * misses no more deadlines than any baseline that also meets the floors, and misses at most
 * 1% of its frames. A regression guard for the manager: any change that loses one of these
 * on one scenario fails here with the numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scenario/scenario.h"

static const char *const shipped[] = {
    "xavier-gpu-two-models",      "xavier-gpu-target-change",   "xavier-gpu-dynamic-ofa-replication",
    "xavier-gpu-thermal-cap",     "xavier-gpu-accuracy-floor",  "xavier-four-models",
    "xavier-cpu-background-load", "odroid-xu3-background-load", NULL};

static void check_one(const char *name) {
  char path[1024], err[1024];
  snprintf(path, sizeof path, "%s/scenarios/%s.json", DYNRT_SOURCE_DIR, name);
  dynrt_scn *scn = NULL;
  dynrt_status st = dynrt_scn_load(path, &scn, err, sizeof err);
  if (st) fail_msg("%s", err);
  assert_int_equal(dynrt_scn_set_policies(scn, "all", err, sizeof err), DYNRT_OK);
  dynrt_oplib *libs[DYNRT_SCN_MAX_APPS];
  assert_int_equal(dynrt_scn_load_libs(scn, libs, err, sizeof err), DYNRT_OK);
  int n = scn->npolicies;
  dynrt_scn_result *res = calloc((size_t)n, sizeof *res);
  assert_non_null(res);
  int rtm = -1, oracle = -1;
  for (int i = 0; i < n; i++) {
    st = dynrt_scn_run_sim(scn, scn->policies[i], libs, NULL, &res[i], err, sizeof err);
    if (st) fail_msg("%s: %s", name, err);
    if (!strcmp(scn->policies[i], "rtm")) rtm = i;
    if (!strcmp(scn->policies[i], "oracle")) oracle = i;
  }
  assert_true(rtm >= 0 && oracle >= 0);
  const dynrt_scn_summary *r = &res[rtm].sum;
  int bad = 0;
  if (r->floor_met_rate < 1.0) {
    print_error("%s: rtm meets a feasible floor on %.2f%% of inferences\n", name,
                100 * r->floor_met_rate);
    bad = 1;
  }
  if (r->energy_j > 1.10 * res[oracle].sum.energy_j) {
    print_error("%s: rtm %.3f J > 1.10 x oracle %.3f J\n", name, r->energy_j,
                res[oracle].sum.energy_j);
    bad = 1;
  }
  if (r->miss_rate > 0.01) {
    print_error("%s: rtm misses %.2f%% of frames\n", name, 100 * r->miss_rate);
    bad = 1;
  }
  for (int i = 0; i < n; i++) {
    if (i == rtm || i == oracle) continue;
    const dynrt_scn_summary *b = &res[i].sum;
    if (!(r->energy_j < b->energy_j)) {
      print_error("%s: rtm %.3f J, %s %.3f J\n", name, r->energy_j, res[i].policy, b->energy_j);
      bad = 1;
    }
    if (b->floor_met_rate >= 1.0 && r->miss_rate > b->miss_rate) {
      print_error("%s: rtm misses %.2f%%, %s (floors met) %.2f%%\n", name, 100 * r->miss_rate,
                  res[i].policy, 100 * b->miss_rate);
      bad = 1;
    }
  }
  for (int i = 0; i < n; i++) dynrt_scn_result_free(&res[i]);
  free(res);
  dynrt_scn_free_libs(libs, scn->napps);
  dynrt_scn_free(scn);
  if (bad) fail_msg("%s: targets not met (above)", name);
}

static void test_shipped_targets(void **state) {
  (void)state;
  for (int i = 0; shipped[i]; i++) check_one(shipped[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_shipped_targets)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

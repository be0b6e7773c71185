/* test_scenario.c - scenario files (every validation names the file, field and value), the
 * op-library derivation for a simulated board, and the simulated runner: a tiny scenario
 * gives the same table for the same seed, impossible requirements give a completed run that
 * reports the violation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dynrt/sim.h"
#include "scenario/scenario.h"

/* Scenarios are parsed as if they were in scenarios/ of the source tree, so that relative
 * paths resolve like those of the shipped files. */
#define SCN_PATH DYNRT_SOURCE_DIR "/scenarios/test-inline.json"
#define PUB "models/ofa-xavier-gpu-published.oplib.json"

static const char *const tiny_fmt =
    "{\"format\": \"dynrt-scenario\", \"version\": 1, \"name\": \"tiny\","
    " \"platform\": \"sim:platforms/xavier-nx.json\", \"duration_s\": 3, \"seed\": 7,"
    " \"apps\": [{\"name\": \"cam\", \"oplib\": \"" PUB "\", \"derive\": \"gpu\","
    "   \"work_ref\": {\"platform\": \"platforms/xavier-nx.json\", \"domain\": \"gpu\"},"
    "   \"arrival\": {\"period_ms\": 100}, \"latency_ms\": %g, \"accuracy_floor\": %g}],"
    " \"events\": [{\"at_s\": 1, \"kind\": \"target\", \"app\": \"cam\", \"latency_ms\": 55},"
    "   {\"at_s\": 1.5, \"kind\": \"load\", \"domain\": \"gpu\", \"until_s\": 2.5},"
    "   {\"at_s\": 2, \"kind\": \"cap\", \"domain\": \"gpu\", \"max_mhz\": 803.25}],"
    " \"policies\": [\"rtm\", \"static-max\", \"oracle\"]}";

static dynrt_scn *parse_ok(const char *json) {
  char err[1024];
  dynrt_scn *scn = NULL;
  dynrt_status st = dynrt_scn_parse(json, strlen(json), SCN_PATH, &scn, err, sizeof err);
  if (st) print_error("unexpected failure: %s\n", err);
  assert_int_equal(st, DYNRT_OK);
  assert_non_null(scn);
  return scn;
}

static dynrt_scn *tiny(double latency_ms, double floor) {
  char json[4096];
  snprintf(json, sizeof json, tiny_fmt, latency_ms, floor);
  return parse_ok(json);
}

static void test_parse_valid(void **state) {
  (void)state;
  dynrt_scn *scn = tiny(70, 0.74);
  assert_string_equal(scn->name, "tiny");
  assert_true(scn->simulated);
  assert_non_null(strstr(scn->platform, "platforms/xavier-nx.json"));
  assert_int_equal(scn->duration_ns, 3000000000ull);
  assert_int_equal(scn->seed, 7);
  assert_int_equal(scn->napps, 1);
  assert_int_equal(scn->apps[0].period_ns, 100000000ull);
  assert_int_equal(scn->apps[0].latency_ns, 70000000ull);
  assert_int_equal(scn->apps[0].derive, DYNRT_SCN_DERIVE_GPU);
  assert_true(scn->apps[0].work_capacity > 1); /* the Xavier NX GPU, relative to the host */
  assert_int_equal(scn->nevents, 3);
  assert_int_equal(scn->events[1].kind, DYNRT_SCN_EV_LOAD);
  assert_int_equal(scn->events[1].until_ns, 2500000000ull);
  assert_int_equal(scn->events[2].max_khz, 803250);
  assert_int_equal(scn->npolicies, 3);
  assert_string_equal(scn->policies[1], "static-max:schedutil"); /* canonical name */
  assert_int_equal(dynrt_scn_set_policies(scn, "all", NULL, 0), DYNRT_OK);
  assert_true(scn->npolicies >= 6);
  char err[256];
  assert_int_equal(dynrt_scn_set_policies(scn, "rtm,bogus", err, sizeof err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err, "'bogus'"));
  dynrt_scn_free(scn);
}

/* Each bad file: a replacement in the tiny scenario and words the message must contain. */
static void expect_bad(const char *from, const char *to, const char *w1, const char *w2) {
  char json[4096], bad[4096];
  snprintf(json, sizeof json, tiny_fmt, 70.0, 0.74);
  const char *at = strstr(json, from);
  assert_non_null(at);
  snprintf(bad, sizeof bad, "%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
  char err[1024] = "";
  dynrt_scn *scn = NULL;
  dynrt_status st = dynrt_scn_parse(bad, strlen(bad), SCN_PATH, &scn, err, sizeof err);
  if (st == DYNRT_OK || !strstr(err, w1) || (w2 && !strstr(err, w2)) || !strstr(err, "test-inline"))
    print_error("for '%s': status %d, message '%s'\n", to, st, err);
  assert_int_not_equal(st, DYNRT_OK);
  assert_null(scn);
  assert_non_null(strstr(err, "test-inline.json"));
  assert_non_null(strstr(err, w1));
  if (w2) assert_non_null(strstr(err, w2));
}

static void test_parse_errors(void **state) {
  (void)state;
  expect_bad("\"version\": 1", "\"version\": 2", "version = 2", NULL);
  expect_bad("\"duration_s\": 3", "\"duration_s\": -3", "duration_s = -3", "out of range");
  expect_bad("\"latency_ms\": 70", "\"latency_ms\": -1", "apps[0].latency_ms = -1", NULL);
  expect_bad("\"accuracy_floor\": 0.74", "\"accuracy_floor\": 74", "accuracy_floor = 74", NULL);
  expect_bad("\"seed\": 7", "\"sed\": 7", "unknown field 'sed'", NULL);
  expect_bad("\"rtm\", \"static-max\"", "\"rtm\", \"static-maxx\"", "policies[1]", "'static-maxx'");
  expect_bad("\"static-max\"", "\"static-max:turbo\"", "'static-max:turbo'", "unknown policy");
  expect_bad("\"kind\": \"target\"", "\"kind\": \"teleport\"", "events[0].kind = 'teleport'", NULL);
  expect_bad("\"app\": \"cam\"", "\"app\": \"dog\"", "events[0].app = 'dog'", NULL);
  expect_bad("{\"period_ms\": 100}", "\"sometimes\"", "apps[0].arrival = 'sometimes'", NULL);
  expect_bad(PUB, "models/nope.oplib.json", "apps[0].oplib = 'models/nope.oplib.json'",
             "no such file");
  expect_bad("sim:platforms/xavier-nx.json", "sim:platforms/nope.json", "platform", "nope.json");
  expect_bad("\"at_s\": 1,", "\"at_s\": 9,", "events[0].at_s = 9", "after the end");
  expect_bad("\"domain\": \"gpu\", \"until_s\"", "\"domain\": \"gpu\", \"cpus\": [1], \"until_s\"",
             "events[1]", "not both");
  expect_bad("\"until_s\": 2.5", "\"until_s\": 1.0", "until_s = 1", "after at_s");
  expect_bad("\"domain\": \"gpu\"}", "\"domain\": \"dsp\"}", "work_ref.domain = 'dsp'", NULL);
  expect_bad("\"name\": \"tiny\",", "\"name\": \"tiny\",,", "not valid JSON", NULL);
  expect_bad("\"derive\": \"gpu\"", "\"derive\": \"tpu\"", "apps[0].derive", NULL);
}

static void test_check_platform(void **state) {
  (void)state;
  char json[4096], err[1024];
  snprintf(json, sizeof json, tiny_fmt, 70.0, 0.74);
  char *cap = strstr(json, "\"domain\": \"gpu\", \"max_mhz\"");
  assert_non_null(cap);
  memcpy(cap, "\"domain\": \"npu\"", 15);
  dynrt_scn *scn = parse_ok(json); /* domain names need the platform: checked later */
  dynrt_platform *p = NULL;
  assert_int_equal(dynrt_scn_platform_open(scn->platform, &p, err, sizeof err), DYNRT_OK);
  assert_int_not_equal(dynrt_scn_check_platform(scn, p, err, sizeof err), DYNRT_OK);
  assert_non_null(strstr(err, "domain = 'npu'"));
  assert_non_null(strstr(err, "cpu0, cpu2, cpu4, gpu"));
  dynrt_platform_close(p);
  dynrt_scn_free(scn);
}

static void test_derive(void **state) {
  (void)state;
  dynrt_scn *scn = tiny(70, 0.74);
  dynrt_oplib *libs[DYNRT_SCN_MAX_APPS];
  char err[1024];
  assert_int_equal(dynrt_scn_load_libs(scn, libs, err, sizeof err), DYNRT_OK);
  const dynrt_oplib *lib = libs[0];
  assert_string_equal(dynrt_oplib_platform(lib), "xavier-nx");
  assert_int_equal(dynrt_oplib_num_subnets(lib), 6);
  assert_int_equal(dynrt_oplib_num_settings(lib), 15); /* the GPU OPPs */
  int top = -1;
  for (int s = 0; s < dynrt_oplib_num_settings(lib); s++)
    if (dynrt_oplib_setting_at(lib, s)->khz == 1109250) top = s;
  assert_true(top >= 0);
  /* Work measured on this GPU at its top OPP: the derived latency there is the published
   * one (41.2 ms for level 0, 61.7 ms for level 5). */
  assert_float_equal(dynrt_oplib_lookup(lib, 0, top)->latency_mean_ms, 41.2, 1e-3);
  assert_float_equal(dynrt_oplib_lookup(lib, 5, top)->latency_mean_ms, 61.7, 1e-3);
  for (int i = 0; i < dynrt_oplib_num_points(lib); i++) {
    const dynrt_oplib_point *pt = dynrt_oplib_point_at(lib, i);
    assert_true(pt->modelled);
    assert_true(pt->energy_mj > 0);
  }
  /* The lowest OPP is slower. */
  const dynrt_oplib_point *lo = dynrt_oplib_lookup(lib, 0, 0);
  assert_true(lo->latency_mean_ms > 41.2);
  dynrt_scn_free_libs(libs, scn->napps);
  dynrt_scn_free(scn);
}

static void run_all(dynrt_scn *scn, dynrt_scn_result *res, uint64_t seed) {
  dynrt_oplib *libs[DYNRT_SCN_MAX_APPS];
  char err[1024];
  assert_int_equal(dynrt_scn_load_libs(scn, libs, err, sizeof err), DYNRT_OK);
  dynrt_scn_run_opts o = {.seed = seed};
  for (int i = 0; i < scn->npolicies; i++) {
    dynrt_status st = dynrt_scn_run_sim(scn, scn->policies[i], libs, &o, &res[i], err, sizeof err);
    if (st) print_error("%s\n", err);
    assert_int_equal(st, DYNRT_OK);
  }
  dynrt_scn_free_libs(libs, scn->napps);
}

/* Everything but the real-time overheads must be bit-identical. */
static void assert_same(const dynrt_scn_summary *a, const dynrt_scn_summary *b) {
  assert_int_equal(a->inferences, b->inferences);
  assert_int_equal(a->misses, b->misses);
  assert_int_equal(a->switches, b->switches);
  assert_true(a->energy_j == b->energy_j);
  assert_true(a->lat_mean_ms == b->lat_mean_ms);
  assert_true(a->lat_p99_ms == b->lat_p99_ms);
  assert_true(a->accuracy_mean == b->accuracy_mean);
  assert_true(a->infer_energy_mj == b->infer_energy_mj);
}

static void test_run_deterministic(void **state) {
  (void)state;
  dynrt_scn *scn = tiny(70, 0.74);
  dynrt_scn_result a[3], b[3], c[3];
  run_all(scn, a, 0);
  run_all(scn, b, 0);
  run_all(scn, c, 12345);
  for (int i = 0; i < scn->npolicies; i++) {
    assert_string_equal(a[i].policy, scn->policies[i]);
    assert_true(a[i].simulated);
    assert_int_equal(a[i].seed, 7);
    assert_true(a[i].sum.inferences >= 25);
    assert_true(a[i].sum.energy_j > 0);
    assert_int_equal(a[i].ninf, b[i].ninf);
    assert_same(&a[i].sum, &b[i].sum);
    assert_true(a[i].nper > 50);
    /* another seed: another noise sequence */
    assert_true(a[i].sum.lat_mean_ms != c[i].sum.lat_mean_ms);
  }
  /* The manager plans, the baseline does not switch. */
  assert_true(a[0].sum.plans > 0);
  assert_int_equal(a[1].sum.switches, 0);
  FILE *f = tmpfile();
  assert_non_null(f);
  dynrt_scn_print_table(f, scn, a, 3, NULL);
  rewind(f);
  char line[512];
  assert_non_null(fgets(line, sizeof line, f));
  assert_non_null(strstr(line, "SIMULATED"));
  fclose(f);
  for (int i = 0; i < 3; i++) {
    dynrt_scn_result_free(&a[i]);
    dynrt_scn_result_free(&b[i]);
    dynrt_scn_result_free(&c[i]);
  }
  dynrt_scn_free(scn);
}

static void test_run_impossible(void **state) {
  (void)state;
  /* No sub-network reaches 0.95 and none runs in 5 ms: the run completes and says so. */
  dynrt_scn *scn = tiny(5, 0.95);
  scn->nevents = 0;
  dynrt_scn_result r[3];
  run_all(scn, r, 0);
  assert_non_null(strstr(r[0].violations, "accuracy floor 0.9500 infeasible"));
  assert_non_null(strstr(r[0].violations, "latency target 5.0 ms infeasible"));
  assert_true(r[0].sum.inferences > 0);
  assert_true(r[0].sum.miss_rate > 0.9);
  assert_int_equal(r[0].sum.floor_infeasible, r[0].sum.inferences);
  assert_true(r[0].sum.infeasible_plans > 0);
  for (int i = 0; i < 3; i++) dynrt_scn_result_free(&r[i]);
  dynrt_scn_free(scn);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_valid),       cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_check_platform),    cmocka_unit_test(test_derive),
      cmocka_unit_test(test_run_deterministic), cmocka_unit_test(test_run_impossible),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_rtm_infer.c - dynrt_app_infer on the engine: decide, switch the session's
 * sub-network and cores, run, report; and the checks that an op library belongs to the model
 * (name, every config parses, every id matches). Uses tests/fixtures/tiny.safetensors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rtm/rtm_int.h"
#include "test_rtm_fake.h"

#define MS 1000000ull

typedef struct fx {
  dynrt_model *model;
  dynrt_subnet small, large;
  char small_cfg[DYNRT_SUBNET_STR_MAX], large_cfg[DYNRT_SUBNET_STR_MAX];
} fx;

static void fx_load(fx *f) {
  dynrt_error e = {0};
  if (dynrt_model_load(DYNRT_TEST_DIR "/fixtures/tiny.safetensors", &f->model, &e))
    fail_msg("%s", e.msg);
  dynrt_subnet_smallest(f->model, &f->small);
  dynrt_subnet_largest(f->model, &f->large);
  assert_int_equal(dynrt_subnet_format(f->model, &f->small, f->small_cfg, sizeof f->small_cfg, &e),
                   DYNRT_OK);
  assert_int_equal(dynrt_subnet_format(f->model, &f->large, f->large_cfg, sizeof f->large_cfg, &e),
                   DYNRT_OK);
}

/* Two sub-networks (60 %, 1 ms / 80 %, 3 ms on one core; half on two) on "cpu" at 1 GHz. */
static dynrt_oplib *fx_lib(const fx *f, const char *model_name, uint64_t large_id,
                           const char *large_cfg) {
  dynrt_model_info info;
  dynrt_model_get_info(f->model, &info);
  dynrt_oplib *lib = NULL;
  assert_int_equal(
      dynrt_oplib_create(model_name ? model_name : info.name, NULL, "line-board", &lib), DYNRT_OK);
  dynrt_oplib_subnet s = {.config = f->small_cfg,
                          .id = dynrt_subnet_id(f->model, &f->small),
                          .macs = dynrt_subnet_macs(f->model, &f->small),
                          .params = 1,
                          .val_top1 = 0.6,
                          .val_images = 10,
                          .test_top1 = -1,
                          .compute_ns = -1,
                          .memory_ns = -1};
  assert_int_equal(dynrt_oplib_add_subnet(lib, &s, NULL), DYNRT_OK);
  s.config = large_cfg ? large_cfg : f->large_cfg;
  s.id = large_id ? large_id : dynrt_subnet_id(f->model, &f->large);
  s.macs = dynrt_subnet_macs(f->model, &f->large);
  s.val_top1 = 0.8;
  assert_int_equal(dynrt_oplib_add_subnet(lib, &s, NULL), DYNRT_OK);
  for (int c = 1; c <= 2; c++) {
    dynrt_oplib_setting st = {"cpu", 1000000, c};
    int si = 0;
    assert_int_equal(dynrt_oplib_add_setting(lib, &st, &si), DYNRT_OK);
    for (int k = 0; k < 2; k++) {
      double lat = (k ? 3.0 : 1.0) / c;
      dynrt_oplib_point p = {
          .subnet = k, .setting = si, .latency_mean_ms = lat, .energy_mj = lat * c};
      assert_int_equal(dynrt_oplib_add_point(lib, &p), DYNRT_OK);
    }
  }
  assert_int_equal(dynrt_oplib_finalize(lib), DYNRT_OK);
  return lib;
}

static dynrt_platform *two_core_board(void) {
  dynrt_platform *p = fake_open("line-board");
  fake_add_domain(p, "cpu", 2, 0, (const uint32_t[]){1000000}, 1);
  return p;
}

static void test_infer_switches(void **state) {
  (void)state;
  dynrt_log_set_level(DYNRT_LOG_ERROR);
  fx f;
  fx_load(&f);
  dynrt_oplib *lib = fx_lib(&f, NULL, 0, NULL);
  dynrt_platform *p = two_core_board();
  dynrt_rtm *rtm = NULL;
  char err[256];
  assert_int_equal(dynrt_rtm_create(p, NULL, &rtm, err, sizeof err), DYNRT_OK);
  dynrt_session *sess = NULL;
  dynrt_error e = {0};
  dynrt_session_options so = {.max_threads = 2};
  assert_int_equal(dynrt_session_create(f.model, &so, &sess, &e), DYNRT_OK);
  /* 80 % needed: the large sub-network; the cheapest way within the deadline is one core.
   * The deadline is far above the measured latency on any machine (the library says 3 ms, an
   * inference under qemu-user or a sanitizer takes 100-200 ms), so that the manager's
   * feedback never adds a core here. */
  dynrt_app_spec spec = {.name = "cam",
                         .oplib = lib,
                         .model = f.model,
                         .session = sess,
                         .req = {10000 * MS, 0, 0.7, 0, 0}};
  dynrt_app *app = NULL;
  assert_int_equal(dynrt_rtm_add_app(rtm, &spec, &app), DYNRT_OK);
  uint8_t img[16 * 16 * 3];
  for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 37);
  dynrt_infer_result r;
  dynrt_subnet cur;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(dynrt_app_infer(app, img, 16, 16, 48, &r), DYNRT_OK);
    assert_int_equal(r.decision.subnet, 1);
    assert_int_equal(r.decision.ncores, 1);
    assert_true(r.latency_ns > 0);
    assert_true(r.top1_class >= 0);
    dynrt_session_get_subnet(sess, &cur);
    assert_true(dynrt_subnet_equal(f.model, &cur, &f.large));
  }
  /* Floor gone: after the next plan the small one runs. */
  dynrt_requirements req = {10000 * MS, 0, 0, 0, 0};
  assert_int_equal(dynrt_app_set_requirements(app, &req), DYNRT_OK);
  assert_int_equal(dynrt_rtm_step(rtm, 0, NULL), DYNRT_OK);
  assert_int_equal(dynrt_app_infer(app, img, 16, 16, 48, &r), DYNRT_OK);
  assert_int_equal(r.decision.subnet, 0);
  dynrt_session_get_subnet(sess, &cur);
  assert_true(dynrt_subnet_equal(f.model, &cur, &f.small));
  dynrt_app_stats s;
  dynrt_app_get_stats(app, &s);
  assert_int_equal(s.inferences, 4);
  dynrt_rtm_destroy(rtm);
  dynrt_session_destroy(sess);
  dynrt_oplib_destroy(lib);
  dynrt_platform_close(p);
  dynrt_model_destroy(f.model);
}

static void expect_error(dynrt_rtm *rtm, const fx *f, dynrt_oplib *lib, dynrt_status want,
                         const char *needle) {
  dynrt_app_spec spec = {
      .name = "x", .oplib = lib, .model = f->model, .req = {100 * MS, 0, 0, 0, 0}};
  dynrt_app *app = NULL;
  dynrt_status st = dynrt_rtm_add_app(rtm, &spec, &app);
  if (st != want || !strstr(dynrt_rtm_errmsg(rtm), needle))
    fail_msg("expected %d '%s', got %d '%s'", want, needle, st, dynrt_rtm_errmsg(rtm));
  dynrt_oplib_destroy(lib);
}

static void test_library_must_match_model(void **state) {
  (void)state;
  fx f;
  fx_load(&f);
  dynrt_platform *p = two_core_board();
  dynrt_rtm *rtm = NULL;
  char err[256];
  assert_int_equal(dynrt_rtm_create(p, NULL, &rtm, err, sizeof err), DYNRT_OK);
  expect_error(rtm, &f, fx_lib(&f, "another-model", 0, NULL), DYNRT_ERR_NOT_FOUND,
               "op library is for model 'another-model'");
  expect_error(rtm, &f, fx_lib(&f, NULL, 0x1234, NULL), DYNRT_ERR_FORMAT,
               "sub-network 1 has id 0000000000001234");
  expect_error(rtm, &f, fx_lib(&f, NULL, 0x99, "r=1 garbage"), DYNRT_ERR_FORMAT,
               "sub-network 1 'r=1 garbage' does not fit model");
  dynrt_rtm_destroy(rtm);
  dynrt_platform_close(p);
  dynrt_model_destroy(f.model);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_infer_switches),
                                     cmocka_unit_test(test_library_must_match_model)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_derive_board.c - the one op-library derivation for simulated boards
 * (dynrt_oplib_derive_board_ex): domain filters, the work-capacity scaling, modelled points,
 * and clear errors on bad options and on a library without work split. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dynrt/offline.h"
#include "dynrt/oplib.h"
#include "dynrt/platform.h"
#include "dynrt/sim.h"

#define HOST_LIB DYNRT_SOURCE_DIR "/models/cifar10-smoke.oplib.json"
#define BOARD DYNRT_SOURCE_DIR "/platforms/xavier-nx.json"

static dynrt_oplib *load(const char *path) {
  char msg[512];
  dynrt_oplib *lib = NULL;
  if (dynrt_oplib_load(path, &lib, msg, sizeof msg)) fail_msg("%s", msg);
  return lib;
}

static dynrt_oplib *derive(const dynrt_oplib *src, double cap, int cpu_only, int gpu_only) {
  dynrt_derive_opts o = {cap, cpu_only, gpu_only};
  dynrt_error err = {0};
  dynrt_oplib *out = NULL;
  if (dynrt_oplib_derive_board_ex(BOARD, src, &o, &out, &err)) fail_msg("%s", err.msg);
  assert_non_null(out);
  return out;
}

static int count_gpu_settings(const dynrt_oplib *lib) {
  int n = 0;
  for (int s = 0; s < dynrt_oplib_num_settings(lib); s++)
    n += !strcmp(dynrt_oplib_setting_at(lib, s)->domain, "gpu");
  return n;
}

static void test_filters_and_points(void **state) {
  (void)state;
  dynrt_oplib *host = load(HOST_LIB);
  dynrt_oplib *cpu = derive(host, 0, 1, 0), *gpu = derive(host, 0, 0, 1),
              *all = derive(host, 0, 0, 0);
  assert_int_equal(count_gpu_settings(cpu), 0);
  assert_true(dynrt_oplib_num_settings(cpu) > 0);
  assert_int_equal(count_gpu_settings(gpu), dynrt_oplib_num_settings(gpu));
  assert_true(dynrt_oplib_num_settings(gpu) > 0);
  assert_int_equal(dynrt_oplib_num_settings(all),
                   dynrt_oplib_num_settings(cpu) + dynrt_oplib_num_settings(gpu));
  assert_string_equal(dynrt_oplib_platform(all), "xavier-nx");
  assert_int_equal(dynrt_oplib_num_subnets(all), dynrt_oplib_num_subnets(host));
  for (int i = 0; i < dynrt_oplib_num_points(all); i++) {
    const dynrt_oplib_point *p = dynrt_oplib_point_at(all, i);
    assert_true(p->modelled);
    assert_true(p->latency_mean_ms > 0 && p->energy_mj > 0);
    assert_true(p->latency_p95_ms >= p->latency_mean_ms);
  }
  /* A faster GPU OPP is never slower for the same sub-network. */
  int s_lo = -1, s_hi = -1;
  for (int s = 0; s < dynrt_oplib_num_settings(gpu); s++) {
    uint32_t khz = dynrt_oplib_setting_at(gpu, s)->khz;
    if (s_lo < 0 || khz < dynrt_oplib_setting_at(gpu, s_lo)->khz) s_lo = s;
    if (s_hi < 0 || khz > dynrt_oplib_setting_at(gpu, s_hi)->khz) s_hi = s;
  }
  for (int i = 0; i < dynrt_oplib_num_subnets(gpu); i++)
    assert_true(dynrt_oplib_lookup(gpu, i, s_hi)->latency_mean_ms <
                dynrt_oplib_lookup(gpu, i, s_lo)->latency_mean_ms);
  /* Work measured on a core twice as fast is twice the work here: twice the latency. */
  dynrt_oplib *gpu2 = derive(host, 2.0, 0, 1);
  for (int i = 0; i < dynrt_oplib_num_points(gpu); i++) {
    const dynrt_oplib_point *a = dynrt_oplib_point_at(gpu, i);
    const dynrt_oplib_point *b = dynrt_oplib_lookup(gpu2, a->subnet, a->setting);
    assert_non_null(b);
    assert_float_equal(b->latency_mean_ms, 2 * a->latency_mean_ms, 1e-6 * a->latency_mean_ms);
  }
  /* Idle power above the lowest OPP at the top CPU OPP: what the board draws there once
   * the frequency change has landed, less what it draws at the lowest. */
  dynrt_platform *b = NULL;
  char msg[256];
  assert_int_equal(dynrt_sim_open(BOARD, &b, msg, sizeof msg), DYNRT_OK);
  dynrt_sim_set_noise(b, 0, 0);
  const dynrt_domain_info *c0 = dynrt_platform_domain(b, 0);
  uint32_t got, top = c0->opps[c0->nopps - 1].khz;
  double w0, wt, e;
  assert_int_equal(dynrt_platform_set_freq(b, 0, c0->opps[0].khz, &got), DYNRT_OK);
  assert_int_equal(dynrt_sim_settle(b), DYNRT_OK);
  dynrt_sim_power(b, &w0, &e);
  assert_int_equal(dynrt_platform_set_freq(b, 0, top, &got), DYNRT_OK);
  assert_int_equal(dynrt_sim_settle(b), DYNRT_OK);
  dynrt_sim_power(b, &wt, &e);
  double idle_top = -1;
  assert_int_equal(dynrt_oplib_idle_power(cpu, c0->name, top, &idle_top), 1);
  assert_true(wt > w0);
  if (fabs(idle_top - (wt - w0)) > 1e-9 * wt)
    fail_msg("idle at %u kHz %.9f W, board %.9f W", top, idle_top, wt - w0);
  dynrt_platform_close(b);
  dynrt_oplib_destroy(gpu2);
  dynrt_oplib_destroy(all);
  dynrt_oplib_destroy(gpu);
  dynrt_oplib_destroy(cpu);
  dynrt_oplib_destroy(host);
}

static void test_errors(void **state) {
  (void)state;
  dynrt_oplib *host = load(HOST_LIB), *out = NULL;
  dynrt_error err = {0};
  dynrt_derive_opts both = {0, 1, 1}, neg = {-1, 0, 0};
  assert_int_equal(dynrt_oplib_derive_board_ex(BOARD, host, &both, &out, &err),
                   DYNRT_ERR_INVALID_ARG);
  assert_non_null(strstr(err.msg, "options out of range"));
  assert_int_equal(dynrt_oplib_derive_board_ex(BOARD, host, &neg, &out, &err),
                   DYNRT_ERR_INVALID_ARG);
  assert_null(out);
  assert_int_not_equal(dynrt_oplib_derive_board_ex("no-such-board", host, NULL, &out, &err),
                       DYNRT_OK);
  assert_non_null(strstr(err.msg, "no-such-board"));
  /* A library without work split (the published library has it; build one without). */
  dynrt_oplib *bare = NULL;
  assert_int_equal(dynrt_oplib_create("m", NULL, "host", &bare), DYNRT_OK);
  dynrt_oplib_setting s = {"cpu", 1000000, 1};
  assert_int_equal(dynrt_oplib_add_setting(bare, &s, NULL), DYNRT_OK);
  dynrt_oplib_subnet sn = {.config = "net0",
                           .id = 1,
                           .macs = 10,
                           .params = 1,
                           .val_top1 = 0.5,
                           .val_images = 10,
                           .test_top1 = -1,
                           .compute_ns = -1,
                           .memory_ns = -1};
  assert_int_equal(dynrt_oplib_add_subnet(bare, &sn, NULL), DYNRT_OK);
  dynrt_oplib_point p = {.subnet = 0, .setting = 0, .latency_mean_ms = 1, .energy_mj = 1};
  assert_int_equal(dynrt_oplib_add_point(bare, &p), DYNRT_OK);
  assert_int_equal(dynrt_oplib_finalize(bare), DYNRT_OK);
  assert_int_equal(dynrt_oplib_derive_board_ex(BOARD, bare, NULL, &out, &err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "no work split"));
  assert_null(out);
  dynrt_oplib_destroy(bare);
  dynrt_oplib_destroy(host);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_filters_and_points),
                                     cmocka_unit_test(test_errors)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_engine_profile.c - the session's per-layer profile (dynrt_session_set_profiling,
 * dynrt_session_get_layer_times): one entry per executed layer in execution order, times > 0
 * that add up to the whole run, MACs that add up to dynrt_subnet_macs, results bit-identical
 * with profiling on and off, the state rules of the two calls and an allocation failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_engine_util.h"

#define MAX_LAYERS 400

/* Layers a run of cfg executes: input, stem, first dw + proj, per active block expand, dw,
 * [se], proj, then head expand, pool, mix, classifier. */
static size_t expected_layers(const dynrt_model *m, const dynrt_subnet *cfg) {
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  size_t n = 4 + 4;
  for (int s = 0; s < info.n_stages; s++) n += (size_t)cfg->d[s] * (3u + (info.stages[s].se != 0));
  return n;
}

static void fill_input(float *x, int r) {
  for (int i = 0; i < r * r * 3; i++) x[i] = (float)((i * 7919) % 255) / 64.0f - 2.0f;
}

/* Runs cfg with profiling off, then on, and checks the profile against the run. */
static void check_subnet(dynrt_session *s, const dynrt_model *m, const dynrt_subnet *cfg) {
  char str[DYNRT_SUBNET_STR_MAX];
  dynrt_subnet_format(m, cfg, str, sizeof str, NULL);
  assert_int_equal(dynrt_session_set_subnet(s, cfg, NULL), DYNRT_OK);
  float *x = malloc(sizeof(float) * (size_t)(cfg->r * cfg->r * 3));
  assert_non_null(x);
  fill_input(x, cfg->r);
  size_t nc;
  assert_int_equal(dynrt_session_set_profiling(s, 0), DYNRT_OK);
  assert_int_equal(dynrt_session_run_tensor(s, x, cfg->r), DYNRT_OK);
  const float *y = dynrt_session_logits(s, &nc);
  float *off = malloc(sizeof(float) * nc);
  assert_non_null(off);
  memcpy(off, y, sizeof(float) * nc);

  assert_int_equal(dynrt_session_set_profiling(s, 1), DYNRT_OK);
  static dynrt_layer_time lt[MAX_LAYERS];
  size_t n = 0, want = expected_layers(m, cfg);
  uint64_t total = 0;
  int close = 0;
  for (int rep = 0; rep < 5; rep++) {
    assert_int_equal(dynrt_session_run_tensor(s, x, cfg->r), DYNRT_OK);
    y = dynrt_session_logits(s, &nc);
    if (memcmp(off, y, sizeof(float) * nc)) fail_msg("%s: logits differ with profiling on", str);
    assert_int_equal(dynrt_session_get_layer_times(s, lt, MAX_LAYERS, &n, &total), DYNRT_OK);
    if (n != want) fail_msg("%s: %zu layers profiled, %zu executed", str, n, want);
    uint64_t sum = 0, macs = 0;
    for (size_t i = 0; i < n; i++) {
      if (lt[i].ns == 0) fail_msg("%s: layer %zu (%s) took 0 ns", str, i, lt[i].name);
      sum += lt[i].ns;
      macs += lt[i].macs;
    }
    assert_true(sum <= total);
    if (macs != dynrt_subnet_macs(m, cfg))
      fail_msg("%s: layer MACs sum to %llu, the sub-network has %llu", str,
               (unsigned long long)macs, (unsigned long long)dynrt_subnet_macs(m, cfg));
    /* the layers cover the run; one of five runs must show it (a preemption between the last
     * layer and the end of the run is the only gap) */
    if ((double)sum >= 0.9 * (double)total) close = 1;
  }
  if (!close) fail_msg("%s: layers sum to less than 90%% of the run in 5 of 5 runs", str);

  /* order, names and geometry */
  assert_string_equal(lt[0].name, "input");
  assert_int_equal(lt[0].kind, DYNRT_LAYER_INPUT);
  assert_int_equal(lt[0].h_out, cfg->r);
  assert_string_equal(lt[1].name, "stem");
  assert_int_equal(lt[1].kind, DYNRT_LAYER_CONV);
  assert_int_equal(lt[1].cin, 3);
  assert_string_equal(lt[2].name, "first.dw");
  assert_string_equal(lt[3].name, "first.proj");
  assert_int_equal(lt[2].cout, lt[3].cin);
  assert_string_equal(lt[n - 4].name, "head.expand");
  assert_string_equal(lt[n - 3].name, "head.pool");
  assert_string_equal(lt[n - 2].name, "head.mix");
  assert_string_equal(lt[n - 1].name, "head.classifier");
  assert_int_equal(lt[n - 1].kind, DYNRT_LAYER_FC);
  assert_int_equal(lt[n - 1].cout, (int)nc);
  int prev_block = -1;
  for (size_t i = 4; i < n - 4; i++) {
    const dynrt_layer_time *t = &lt[i];
    char want_name[32];
    assert_true(t->block >= 0);
    if (strstr(t->name, ".expand")) {
      assert_true(t->block > prev_block); /* a new block starts with its expand */
      prev_block = t->block;
      assert_int_equal(t->kind, DYNRT_LAYER_POINTWISE);
      snprintf(want_name, sizeof want_name, "blocks.%d.expand", t->block);
    } else if (strstr(t->name, ".dw")) {
      assert_int_equal(t->kind, DYNRT_LAYER_DEPTHWISE);
      assert_int_equal(t->k, cfg->k[t->block]);
      snprintf(want_name, sizeof want_name, "blocks.%d.dw", t->block);
    } else if (strstr(t->name, ".se")) {
      assert_int_equal(t->kind, DYNRT_LAYER_SE);
      snprintf(want_name, sizeof want_name, "blocks.%d.se", t->block);
    } else {
      assert_int_equal(t->kind, DYNRT_LAYER_POINTWISE);
      snprintf(want_name, sizeof want_name, "blocks.%d.proj", t->block);
    }
    assert_string_equal(t->name, want_name);
    assert_int_equal(t->block, prev_block);
  }

  /* a cap below the count copies that many and still reports the count */
  size_t n2 = 0;
  memset(lt, 0, sizeof lt);
  assert_int_equal(dynrt_session_get_layer_times(s, lt, 2, &n2, NULL), DYNRT_OK);
  assert_int_equal(n2, n);
  assert_string_equal(lt[1].name, "stem");
  assert_int_equal(lt[2].name[0], 0);

  /* off again: results unchanged, the last profile stays readable */
  assert_int_equal(dynrt_session_set_profiling(s, 0), DYNRT_OK);
  assert_int_equal(dynrt_session_run_tensor(s, x, cfg->r), DYNRT_OK);
  y = dynrt_session_logits(s, &nc);
  assert_memory_equal(off, y, sizeof(float) * nc);
  assert_int_equal(dynrt_session_get_layer_times(s, NULL, 0, &n2, NULL), DYNRT_OK);
  assert_int_equal(n2, n);
  free(off);
  free(x);
}

static void run_model(const char *name, int threads) {
  dynrt_model *m = load_fixture(name);
  assert_non_null(m);
  dynrt_session *s = NULL;
  dynrt_session_options o = {NULL, threads, threads};
  dynrt_error err;
  if (dynrt_session_create(m, &o, &s, &err)) fail_msg("%s", err.msg);
  dynrt_subnet cfg;
  dynrt_subnet_largest(m, &cfg);
  check_subnet(s, m, &cfg);
  dynrt_subnet_smallest(m, &cfg);
  check_subnet(s, m, &cfg);
  uint64_t rng = 42;
  for (int i = 0; i < 6; i++) {
    dynrt_subnet_sample(m, &rng, &cfg);
    check_subnet(s, m, &cfg);
  }
  dynrt_session_destroy(s);
  dynrt_model_destroy(m);
}

static void test_profile_tiny(void **state) {
  (void)state;
  run_model("tiny.safetensors", 1);
  run_model("tiny.safetensors", 2);
}

static void test_profile_tiny_w(void **state) {
  (void)state;
  run_model("tiny_w.safetensors", 1);
  run_model("tiny_w.safetensors", 3);
}

/* Image input: the first entry is the preprocessing, the rest as for a tensor. */
static void test_profile_image(void **state) {
  (void)state;
  dynrt_model *m = load_fixture("tiny.safetensors");
  assert_non_null(m);
  dynrt_session *s = NULL;
  assert_int_equal(dynrt_session_create(m, NULL, &s, NULL), DYNRT_OK);
  uint8_t img[37 * 29 * 3];
  for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 31);
  assert_int_equal(dynrt_session_set_profiling(s, 1), DYNRT_OK);
  assert_int_equal(dynrt_session_run_image(s, img, 37, 29, 37 * 3), DYNRT_OK);
  size_t n = 0;
  dynrt_layer_time lt[MAX_LAYERS];
  assert_int_equal(dynrt_session_get_layer_times(s, lt, MAX_LAYERS, &n, NULL), DYNRT_OK);
  dynrt_subnet cfg;
  dynrt_session_get_subnet(s, &cfg);
  assert_int_equal(n, expected_layers(m, &cfg));
  assert_string_equal(lt[0].name, "input");
  assert_true(lt[0].ns > 0);
  dynrt_session_destroy(s);
  dynrt_model_destroy(m);
}

static void test_profile_state(void **state) {
  (void)state;
  dynrt_model *m = load_fixture("tiny.safetensors");
  assert_non_null(m);
  dynrt_session *s = NULL;
  assert_int_equal(dynrt_session_create(m, NULL, &s, NULL), DYNRT_OK);
  size_t n = 99;
  dynrt_layer_time lt[4];
  assert_int_equal(dynrt_session_set_profiling(NULL, 1), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_session_get_layer_times(NULL, NULL, 0, &n, NULL), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_session_get_layer_times(s, NULL, 0, NULL, NULL), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_session_get_layer_times(s, NULL, 4, &n, NULL), DYNRT_ERR_INVALID_ARG);
  /* nothing profiled yet: off, then on without a run */
  assert_int_equal(dynrt_session_get_layer_times(s, lt, 4, &n, NULL), DYNRT_ERR_STATE);
  dynrt_subnet cfg;
  dynrt_session_get_subnet(s, &cfg);
  float *x = calloc((size_t)(cfg.r * cfg.r * 3), sizeof(float));
  assert_non_null(x);
  assert_int_equal(dynrt_session_run_tensor(s, x, cfg.r), DYNRT_OK);
  assert_int_equal(dynrt_session_get_layer_times(s, lt, 4, &n, NULL), DYNRT_ERR_STATE);
  assert_int_equal(dynrt_session_set_profiling(s, 1), DYNRT_OK);
  assert_int_equal(dynrt_session_get_layer_times(s, lt, 4, &n, NULL), DYNRT_ERR_STATE);
  /* a failed run (wrong resolution) profiles nothing */
  assert_int_equal(dynrt_session_run_tensor(s, x, cfg.r + 1), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_session_get_layer_times(s, lt, 4, &n, NULL), DYNRT_ERR_STATE);
  assert_int_equal(dynrt_session_run_tensor(s, x, cfg.r), DYNRT_OK);
  assert_int_equal(dynrt_session_get_layer_times(s, lt, 4, &n, NULL), DYNRT_OK);
  assert_int_equal(n, expected_layers(m, &cfg));
  /* turning it on again (off in between) forgets the last profile */
  assert_int_equal(dynrt_session_set_profiling(s, 0), DYNRT_OK);
  assert_int_equal(dynrt_session_set_profiling(s, 1), DYNRT_OK);
  assert_int_equal(dynrt_session_get_layer_times(s, lt, 4, &n, NULL), DYNRT_ERR_STATE);
  /* on while on: the profile stays */
  assert_int_equal(dynrt_session_run_tensor(s, x, cfg.r), DYNRT_OK);
  assert_int_equal(dynrt_session_set_profiling(s, 1), DYNRT_OK);
  assert_int_equal(dynrt_session_get_layer_times(s, lt, 4, &n, NULL), DYNRT_OK);
  /* profiled runs never allocate */
  dynrt_alloc_fail_after(0, 0); /* resets the count */
  for (int i = 0; i < 3; i++) assert_int_equal(dynrt_session_run_tensor(s, x, cfg.r), DYNRT_OK);
  assert_int_equal(dynrt_alloc_fail_after(0, 0), 0);
  free(x);
  dynrt_session_destroy(s);
  dynrt_model_destroy(m);
}

/* The profile table is the only allocation: its failure is DYNRT_ERR_NOMEM, profiling stays
 * off and the session keeps working. */
static void test_profile_alloc_failure(void **state) {
  (void)state;
  dynrt_model *m = load_fixture("tiny.safetensors");
  assert_non_null(m);
  dynrt_session *s = NULL;
  assert_int_equal(dynrt_session_create(m, NULL, &s, NULL), DYNRT_OK);
  dynrt_subnet cfg;
  dynrt_session_get_subnet(s, &cfg);
  float *x = calloc((size_t)(cfg.r * cfg.r * 3), sizeof(float));
  assert_non_null(x);
  for (uint64_t k = 1;; k++) {
    dynrt_alloc_fail_after(k, 1);
    dynrt_status st = dynrt_session_set_profiling(s, 1);
    dynrt_alloc_fail_after(0, 0);
    if (st == DYNRT_OK) break;
    assert_int_equal(st, DYNRT_ERR_NOMEM);
    assert_true(k < 10);
    assert_int_equal(dynrt_session_run_tensor(s, x, cfg.r), DYNRT_OK);
    size_t n;
    assert_int_equal(dynrt_session_get_layer_times(s, NULL, 0, &n, NULL), DYNRT_ERR_STATE);
  }
  assert_int_equal(dynrt_session_run_tensor(s, x, cfg.r), DYNRT_OK);
  size_t n;
  assert_int_equal(dynrt_session_get_layer_times(s, NULL, 0, &n, NULL), DYNRT_OK);
  free(x);
  dynrt_session_destroy(s);
  dynrt_model_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_profile_tiny),          cmocka_unit_test(test_profile_tiny_w),
      cmocka_unit_test(test_profile_image),         cmocka_unit_test(test_profile_state),
      cmocka_unit_test(test_profile_alloc_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_offline_profile.c - latency summaries on known samples, timing a session, the
 * per-block latency table (coverage of every sub-network, prediction = sum of entries,
 * its JSON output format), the memory-term fit on synthetic data. No timing is compared
 * against a number: only structure. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "dynrt/engine.h"
#include "dynrt/offline.h"
#include "offline/offline_int.h"

#define TINY DYNRT_SOURCE_DIR "/tests/fixtures/tiny.safetensors"

static void test_summary(void **state) {
  (void)state;
  uint64_t ns[20];
  for (int i = 0; i < 20; i++) ns[i] = (uint64_t)(20 - i) * 1000000u; /* 1..20 ms, reversed */
  dynrt_latency l;
  dynrt_latency_summary(ns, 20, &l);
  assert_int_equal(l.runs, 20);
  assert_true(fabs(l.median_ms - 10) < 1e-9); /* nearest rank: 10th of 20 */
  assert_true(fabs(l.p95_ms - 19) < 1e-9);
  assert_true(fabs(l.min_ms - 1) < 1e-9 && fabs(l.max_ms - 20) < 1e-9);
  assert_true(fabs(l.mean_ms - 10.5) < 1e-9);
  assert_true(fabs(l.spread - (19.0 - 1.0) / 10.0) < 1e-9);
  dynrt_latency_summary(ns, 0, &l);
  assert_int_equal(l.runs, 0);
}

static void test_profile_session(void **state) {
  (void)state;
  dynrt_model *m;
  dynrt_session *s;
  assert_int_equal(dynrt_model_load(TINY, &m, NULL), DYNRT_OK);
  assert_int_equal(dynrt_session_create(m, NULL, &s, NULL), DYNRT_OK);
  dynrt_latency l;
  assert_int_equal(dynrt_profile_session(s, 1, 5, &l), DYNRT_OK);
  assert_int_equal(l.runs, 5);
  assert_true(l.min_ms > 0 && l.min_ms <= l.median_ms && l.median_ms <= l.p95_ms &&
              l.p95_ms <= l.max_ms);
  assert_int_equal(dynrt_profile_session(s, 0, 0, &l), DYNRT_ERR_INVALID_ARG);
  dynrt_session_destroy(s);
  dynrt_model_destroy(m);
}

typedef struct hook_log {
  int calls, open, runs[2];
} hook_log;

static void count_hook(void *user, int i, int runs, int after) {
  hook_log *h = user;
  assert_true(i >= 0 && i < 2 && runs >= 1);
  assert_int_equal(h->open, !after ? 0 : 1); /* before and after alternate */
  h->open = !after;
  h->calls++;
  if (after) h->runs[i] += runs;
}

static void test_profile_interleaved(void **state) {
  (void)state;
  dynrt_model *m;
  dynrt_session *s;
  assert_int_equal(dynrt_model_load(TINY, &m, NULL), DYNRT_OK);
  assert_int_equal(dynrt_session_create(m, NULL, &s, NULL), DYNRT_OK);
  dynrt_subnet cfg[2];
  dynrt_subnet_largest(m, &cfg[0]);
  dynrt_subnet_smallest(m, &cfg[1]);
  uint64_t a[7], b[7], *ns[2] = {a, b};
  memset(a, 0, sizeof a), memset(b, 0, sizeof b);
  hook_log h = {0, 0, {0, 0}};
  /* 7 runs in 3 rounds: shares 2, 2, 3; every entry filled, the hook around each share */
  assert_int_equal(dynrt_profile_interleaved(s, cfg, 2, 3, 7, 1, ns, count_hook, &h), DYNRT_OK);
  assert_int_equal(h.calls, 2 * 2 * 3);
  assert_int_equal(h.runs[0], 7);
  assert_int_equal(h.runs[1], 7);
  for (int i = 0; i < 7; i++) assert_true(a[i] > 0 && b[i] > 0);
  dynrt_subnet now;
  dynrt_session_get_subnet(s, &now);
  assert_true(dynrt_subnet_equal(m, &now, &cfg[1])); /* the last one set */
  assert_int_equal(dynrt_profile_interleaved(s, cfg, 2, 3, 7, 1, ns, NULL, NULL), DYNRT_OK);
  /* bad arguments */
  assert_int_equal(dynrt_profile_interleaved(NULL, cfg, 2, 3, 7, 1, ns, NULL, NULL),
                   DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_profile_interleaved(s, cfg, 0, 3, 7, 1, ns, NULL, NULL),
                   DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_profile_interleaved(s, cfg, 2, 8, 7, 1, ns, NULL, NULL),
                   DYNRT_ERR_INVALID_ARG); /* fewer runs than rounds */
  assert_int_equal(dynrt_profile_interleaved(s, cfg, 2, 3, 7, 0, ns, NULL, NULL),
                   DYNRT_ERR_INVALID_ARG);
  /* an invalid sub-network: its switch fails with a message, nothing is timed after it */
  dynrt_subnet bad[2] = {cfg[0], cfg[1]};
  bad[1].r = 1000;
  memset(&h, 0, sizeof h);
  assert_int_not_equal(dynrt_profile_interleaved(s, bad, 2, 3, 7, 1, ns, count_hook, &h), DYNRT_OK);
  assert_true(strlen(dynrt_session_errmsg(s)) > 0);
  assert_int_equal(h.calls, 2); /* the first one's first share only */
  dynrt_session_destroy(s);
  dynrt_model_destroy(m);
}

static void test_block_table(void **state) {
  (void)state;
  dynrt_model *m;
  dynrt_block_lut *lut;
  dynrt_error err;
  assert_int_equal(dynrt_model_load(TINY, &m, NULL), DYNRT_OK);
  assert_int_equal(dynrt_block_lut_build(m, 0, 2, NULL, NULL, &lut, &err), DYNRT_OK);
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  /* at most blocks x r x w x e x k block entries plus stem and head per (r, w) */
  size_t cap = (size_t)(info.n_blocks * info.n_resolutions * info.n_width_mults *
                        info.n_expand_ratios * info.n_kernel_sizes) +
               2u * (size_t)(info.n_resolutions * info.n_width_mults);
  assert_true(dynrt_block_lut_entries(lut) > 0 && dynrt_block_lut_entries(lut) <= cap);
  /* every sub-network is covered: 200 random ones and the extremes */
  dynrt_subnet c;
  uint64_t rng = 5;
  for (int i = 0; i < 200; i++) {
    dynrt_subnet_sample(m, &rng, &c);
    assert_true(dynrt_block_lut_predict(lut, &c) > 0);
  }
  dynrt_subnet big, small;
  dynrt_subnet_largest(m, &big);
  dynrt_subnet_smallest(m, &small);
  assert_true(dynrt_block_lut_predict(lut, &big) > 0);
  assert_true(dynrt_block_lut_predict(lut, &small) > 0);
  c = big;
  c.r = 17;
  assert_true(dynrt_block_lut_predict(lut, &c) < 0);
  /* JSON format */
  char path[] = "/tmp/dynrt_test_lut_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  assert_int_equal(dynrt_block_lut_save(lut, path, &err), DYNRT_OK);
  FILE *f = fopen(path, "rb");
  char *text = calloc(1, 1 << 20);
  size_t n = fread(text, 1, (1 << 20) - 1, f);
  fclose(f);
  unlink(path);
  assert_true(n > 0);
  cJSON *root = cJSON_Parse(text);
  assert_non_null(root);
  assert_string_equal(cJSON_GetObjectItem(root, "format")->valuestring, "dynrt-block-lut");
  const cJSON *arr = cJSON_GetObjectItem(root, "entries");
  assert_int_equal((size_t)cJSON_GetArraySize(arr), dynrt_block_lut_entries(lut));
  int blocks = 0, stems = 0, heads = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    const char *kind = cJSON_GetObjectItem(e, "kind")->valuestring;
    assert_true(cJSON_GetObjectItem(e, "ns")->valuedouble > 0);
    if (!strcmp(kind, "block")) {
      blocks++;
      assert_non_null(cJSON_GetObjectItem(e, "cin"));
      assert_non_null(cJSON_GetObjectItem(e, "mid"));
      assert_non_null(cJSON_GetObjectItem(e, "cout"));
      assert_non_null(cJSON_GetObjectItem(e, "k"));
      assert_non_null(cJSON_GetObjectItem(e, "stride"));
      assert_non_null(cJSON_GetObjectItem(e, "se"));
      assert_non_null(cJSON_GetObjectItem(e, "act"));
      assert_non_null(cJSON_GetObjectItem(e, "input"));
    } else if (!strcmp(kind, "stem+first")) {
      stems++;
    } else {
      assert_string_equal(kind, "head");
      heads++;
    }
  }
  assert_int_equal(stems, info.n_resolutions * info.n_width_mults);
  assert_int_equal(heads, info.n_resolutions * info.n_width_mults);
  assert_true(blocks > 0);
  cJSON_Delete(root);
  /* load it back: identical predictions; a table of another model is refused */
  char p2[] = "/tmp/dynrt_test_lut2_XXXXXX";
  fd = mkstemp(p2);
  close(fd);
  assert_int_equal(dynrt_block_lut_save(lut, p2, &err), DYNRT_OK);
  dynrt_block_lut *back = NULL;
  assert_int_equal(dynrt_block_lut_load(m, p2, &back, &err), DYNRT_OK);
  rng = 11;
  for (int i = 0; i < 50; i++) {
    dynrt_subnet_sample(m, &rng, &c);
    assert_true(fabs(dynrt_block_lut_predict(lut, &c) - dynrt_block_lut_predict(back, &c)) <=
                1e-6 * dynrt_block_lut_predict(lut, &c));
  }
  /* no memory term: the fitted prediction is the sum; with one, a * sum + b * over, and it
   * survives save and load */
  dynrt_latency_fit fit = {0}, got;
  assert_int_equal(dynrt_block_lut_get_fit(back, &got), 0);
  dynrt_subnet_sample(m, &rng, &c);
  assert_true(dynrt_block_lut_predict_fitted(back, &c) == dynrt_block_lut_predict(back, &c));
  dynrt_block_lut_destroy(back);
  fit.a = 1.25, fit.b = 0.5, fit.c = 1000, fit.rms_pct = 3;
  dynrt_block_lut_set_fit(lut, &fit);
  assert_int_equal(dynrt_block_lut_save(lut, p2, &err), DYNRT_OK);
  assert_int_equal(dynrt_block_lut_load(m, p2, &back, &err), DYNRT_OK);
  assert_int_equal(dynrt_block_lut_get_fit(back, &got), 1);
  assert_true(got.a == 1.25 && got.b == 0.5 && got.c == 1000 && got.rms_pct == 3);
  double wb = (double)dynrt_subnet_params(m, &c) * sizeof(float);
  double want = 1.25 * dynrt_block_lut_predict(lut, &c) + 0.5 * (wb > 1000 ? wb - 1000 : 0);
  assert_true(fabs(dynrt_block_lut_predict_fitted(back, &c) - want) <= 1e-6 * want);
  dynrt_block_lut_set_fit(lut, NULL);
  assert_int_equal(dynrt_block_lut_get_fit(lut, NULL), 0);
  dynrt_block_lut_destroy(back);
  /* a memory term out of range is refused, naming it */
  char *bad = malloc(strlen(text) + 256);
  snprintf(bad, strlen(text) + 256,
           "{\"memory_term\": {\"a\": -1, \"b_ns_per_byte\": 0, "
           "\"c_bytes\": 0}, %s",
           strchr(text, '{') + 1);
  assert_int_equal(dynrt__block_lut_parse(m, bad, strlen(bad), "x.lut.json", &back, &err),
                   DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "memory_term"));
  assert_null(back);
  free(bad);
  f = fopen(p2, "w");
  fputs("{\"format\": \"dynrt-block-lut\", \"entries\": []}", f);
  fclose(f);
  assert_int_equal(dynrt_block_lut_load(m, p2, &back, &err), DYNRT_ERR_FORMAT);
  assert_null(back);
  unlink(p2);
  free(text);
  dynrt_block_lut_destroy(lut);
  dynrt_block_lut_destroy(NULL);
  dynrt_model_destroy(m);
}

/* The memory term: data made from a known (a, b, c) is fitted back; a machine whose
 * latency is a plain multiple of the table gives b = 0; bad input is refused. */
static void test_latency_fit(void **state) {
  (void)state;
  enum { N = 12 };
  double t[N], w[N], y[N];
  for (int i = 0; i < N; i++) {
    t[i] = 2e5 + 5e4 * i;             /* table: 0.2 .. 0.75 ms */
    w[i] = 8e6 + 1e6 * ((i * 5) % N); /* 8 .. 19 MB of weights, not sorted with t */
    double over = w[i] > 12e6 ? w[i] - 12e6 : 0;
    y[i] = 1.2 * t[i] + 0.04 * over; /* 0.04 ns per byte = 40 us per MB */
  }
  dynrt_latency_fit f;
  assert_int_equal(dynrt_latency_fit_solve(t, w, y, N, -1, &f), DYNRT_OK);
  assert_true(fabs(f.a - 1.2) < 0.01);
  assert_true(fabs(f.b - 0.04) < 0.002);
  assert_true(fabs(f.c - 12e6) < 0.2e6);
  assert_true(f.rms_pct < 0.5);
  for (int i = 0; i < N; i++) { /* leave-one-out predicts the left-out point */
    assert_int_equal(dynrt_latency_fit_solve(t, w, y, N, i, &f), DYNRT_OK);
    assert_true(fabs(dynrt_latency_fit_predict(&f, t[i], w[i]) - y[i]) / y[i] < 0.02);
  }
  assert_int_equal(dynrt_latency_fit_solve(t, w, y, N, N, &f), DYNRT_ERR_INVALID_ARG);
  assert_true(f.a == 0 && f.b == 0 && f.c == 0); /* zeroed on error */
  for (int i = 0; i < N; i++) y[i] = 1.5 * t[i];
  assert_int_equal(dynrt_latency_fit_solve(t, w, y, N, -1, &f), DYNRT_OK);
  assert_true(fabs(f.a - 1.5) < 1e-9 && f.b == 0 && f.c == 0);
  assert_true(fabs(dynrt_latency_fit_predict(&f, 1e5, 30e6) - 1.5e5) < 1e-6);
  assert_int_equal(dynrt_latency_fit_solve(t, w, y, 3, 0, &f), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_latency_fit_solve(t, w, y, 3, -1, &f), DYNRT_OK);
  y[1] = -1;
  assert_int_equal(dynrt_latency_fit_solve(t, w, y, N, -1, &f), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_latency_fit_solve(NULL, w, y, N, -1, &f), DYNRT_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_latency_fit),     cmocka_unit_test(test_summary),
      cmocka_unit_test(test_profile_session), cmocka_unit_test(test_profile_interleaved),
      cmocka_unit_test(test_block_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

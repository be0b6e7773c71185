/* test_calib.c - BN recalibration against the PyTorch reference's statistics on the tiny
 * fixture (tests/fixtures/offline/tiny_calib.json, tests/python/eval_parity_fixture.py),
 * batch independence of inference-mode results, the BN-table sidecar (save / load round
 * trip, replacement, malformed files), and evaluation's per-image logits. */
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

#define TINY DYNRT_SOURCE_DIR "/tests/fixtures/tiny.safetensors"

static dynrt_model *model;
static dynrt_dataset *data;
static char dir[256];

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *t = malloc((size_t)n + 1);
  assert_int_equal(fread(t, 1, (size_t)n, f), (size_t)n);
  t[n] = 0;
  fclose(f);
  return t;
}

static void test_stats_match_reference(void **state) {
  (void)state;
  char *text = slurp(DYNRT_SOURCE_DIR "/tests/fixtures/offline/tiny_calib.json");
  cJSON *root = cJSON_Parse(text);
  assert_non_null(root);
  int batch = cJSON_GetObjectItem(root, "batch")->valueint;
  int images = cJSON_GetObjectItem(root, "images")->valueint;
  const cJSON *sn;
  int checked = 0;
  cJSON_ArrayForEach(sn, cJSON_GetObjectItem(root, "subnets")) {
    dynrt_subnet cfg;
    dynrt_error err;
    assert_int_equal(
        dynrt_subnet_parse(model, cJSON_GetObjectItem(sn, "config")->valuestring, &cfg, &err),
        DYNRT_OK);
    size_t total = 0;
    assert_int_equal(dynrt_bn_layout(model, &cfg, NULL, 0, NULL, &total, &err), DYNRT_OK);
    const cJSON *jm = cJSON_GetObjectItem(sn, "mean"), *jv = cJSON_GetObjectItem(sn, "var");
    assert_int_equal((size_t)cJSON_GetArraySize(jm), total);
    float *mean = malloc(total * sizeof(float)), *var = malloc(total * sizeof(float));
    dynrt_calib_options o = {0, (size_t)images, (size_t)batch, NULL, NULL};
    assert_int_equal(dynrt_calibrate_stats(model, &cfg, data, &o, mean, var, &err), DYNRT_OK);
    double worst = 0;
    for (size_t c = 0; c < total; c++) {
      double em = cJSON_GetArrayItem(jm, (int)c)->valuedouble;
      double ev = cJSON_GetArrayItem(jv, (int)c)->valuedouble;
      double dm = fabs(mean[c] - em) / (fabs(em) + 1e-2);
      double dv = fabs(var[c] - ev) / (fabs(ev) + 1e-2);
      worst = fmax(worst, fmax(dm, dv));
    }
    print_message("%s: %zu channels, worst relative error %.2e\n",
                  cJSON_GetObjectItem(sn, "config")->valuestring, total, worst);
    assert_true(worst < 1e-4);
    /* a table from the stats is what dynrt_calibrate makes */
    dynrt_bn_table *t1 = NULL, *t2 = NULL;
    assert_int_equal(dynrt_bn_table_from_stats(model, &cfg, mean, var, &t1, &err), DYNRT_OK);
    assert_int_equal(dynrt_calibrate(model, &cfg, data, &o, &t2, &err), DYNRT_OK);
    dynrt_session *s = NULL;
    assert_int_equal(dynrt_session_create(model, NULL, &s, &err), DYNRT_OK);
    dynrt_image im;
    dynrt_dataset_get(data, 0, &im);
    float l1[7], l2[7];
    size_t n;
    assert_int_equal(dynrt_session_set_subnet(s, &cfg, t1), DYNRT_OK);
    assert_int_equal(dynrt_session_run_image(s, im.rgb, 32, 32, 96), DYNRT_OK);
    memcpy(l1, dynrt_session_logits(s, &n), sizeof l1);
    assert_int_equal(dynrt_session_set_subnet(s, &cfg, t2), DYNRT_OK);
    assert_int_equal(dynrt_session_run_image(s, im.rgb, 32, 32, 96), DYNRT_OK);
    memcpy(l2, dynrt_session_logits(s, &n), sizeof l2);
    assert_memory_equal(l1, l2, sizeof l1);
    dynrt_session_destroy(s);
    dynrt_bn_table_destroy(t1);
    dynrt_bn_table_destroy(t2);
    free(mean);
    free(var);
    checked++;
  }
  assert_int_equal(checked, 3);
  cJSON_Delete(root);
  free(text);
}

/* One batch holding every image equals the statistics of that single batch computed by
 * hand for the first layer (stem BN input = the stem convolution of the images): the
 * mean of the stem BN must not depend on how many images a batch holds when the stem is
 * the first layer. */
static void test_first_layer_mean_batch_invariant(void **state) {
  (void)state;
  dynrt_subnet cfg;
  dynrt_subnet_largest(model, &cfg);
  size_t total;
  dynrt_bn_layout(model, &cfg, NULL, 0, NULL, &total, NULL);
  float *m1 = malloc(total * 4), *v1 = malloc(total * 4), *m2 = malloc(total * 4),
        *v2 = malloc(total * 4);
  dynrt_calib_options a = {0, 40, 40, NULL, NULL}, b = {0, 40, 10, NULL, NULL};
  assert_int_equal(dynrt_calibrate_stats(model, &cfg, data, &a, m1, v1, NULL), DYNRT_OK);
  assert_int_equal(dynrt_calibrate_stats(model, &cfg, data, &b, m2, v2, NULL), DYNRT_OK);
  size_t ch[64], nl;
  dynrt_bn_layout(model, &cfg, ch, 64, &nl, NULL, NULL);
  for (size_t c = 0; c < ch[0]; c++) assert_true(fabsf(m1[c] - m2[c]) < 1e-4f * (1 + fabsf(m1[c])));
  for (size_t c = 0; c < total; c++) assert_true(v1[c] >= 0 && v2[c] >= 0);
  free(m1);
  free(v1);
  free(m2);
  free(v2);
}

static void test_bad_arguments(void **state) {
  (void)state;
  dynrt_subnet cfg;
  dynrt_subnet_largest(model, &cfg);
  float m[4096], v[4096];
  dynrt_error err;
  dynrt_calib_options o = {40, 0, 0, NULL, NULL};
  assert_int_equal(dynrt_calibrate_stats(model, &cfg, data, &o, m, v, &err), DYNRT_ERR_INVALID_ARG);
  cfg.r = 17;
  o.first = 0;
  assert_int_equal(dynrt_calibrate_stats(model, &cfg, data, &o, m, v, &err), DYNRT_ERR_INVALID_ARG);
  assert_non_null(strstr(err.msg, "r = 17"));
}

static void test_bn_file_round_trip(void **state) {
  (void)state;
  char path[512];
  snprintf(path, sizeof path, "%s/t.bn.safetensors", dir);
  dynrt_bn_file *f = NULL, *g = NULL;
  dynrt_error err;
  assert_int_equal(dynrt_bn_file_create(model, "test note", &f, &err), DYNRT_OK);
  dynrt_subnet c[3];
  dynrt_subnet_largest(model, &c[0]);
  dynrt_subnet_smallest(model, &c[1]);
  uint64_t rng = 9;
  dynrt_subnet_sample(model, &rng, &c[2]);
  dynrt_calib_options o = {0, 20, 10, NULL, NULL};
  for (int i = 0; i < 3; i++) {
    dynrt_bn_table *t;
    assert_int_equal(dynrt_calibrate(model, &c[i], data, &o, &t, &err), DYNRT_OK);
    assert_int_equal(dynrt_bn_file_put(f, t, 20, &err), DYNRT_OK);
  }
  /* replacing a table keeps the count */
  dynrt_bn_table *t;
  assert_int_equal(dynrt_calibrate(model, &c[0], data, &o, &t, &err), DYNRT_OK);
  assert_int_equal(dynrt_bn_file_put(f, t, 20, &err), DYNRT_OK);
  assert_int_equal(dynrt_bn_file_count(f), 3);
  assert_int_equal(dynrt_bn_file_save(f, path, &err), DYNRT_OK);
  assert_int_equal(dynrt_bn_file_load(model, path, &g, &err), DYNRT_OK);
  assert_int_equal(dynrt_bn_file_count(g), 3);
  for (int i = 0; i < 3; i++) {
    const dynrt_bn_table *a = dynrt_bn_file_find(f, &c[i]), *b = dynrt_bn_file_find(g, &c[i]);
    assert_non_null(a);
    assert_non_null(b);
    /* same results in a session */
    dynrt_session *s;
    assert_int_equal(dynrt_session_create(model, NULL, &s, &err), DYNRT_OK);
    dynrt_image im;
    dynrt_dataset_get(data, 1, &im);
    float l1[7], l2[7];
    size_t n;
    dynrt_session_set_subnet(s, &c[i], a);
    dynrt_session_run_image(s, im.rgb, 32, 32, 96);
    memcpy(l1, dynrt_session_logits(s, &n), sizeof l1);
    dynrt_session_set_subnet(s, &c[i], b);
    dynrt_session_run_image(s, im.rgb, 32, 32, 96);
    memcpy(l2, dynrt_session_logits(s, &n), sizeof l2);
    assert_memory_equal(l1, l2, sizeof l1);
    dynrt_session_destroy(s);
  }
  char key[17];
  dynrt_bn_key(model, &c[0], key);
  assert_int_equal(strlen(key), 16);
  dynrt_bn_file_destroy(f);
  dynrt_bn_file_destroy(g);
  dynrt_bn_file_destroy(NULL);

  /* malformed: truncated data section, wrong format tag, not a file */
  char *text = slurp(path);
  FILE *fp = fopen(path, "rb");
  fseek(fp, 0, SEEK_END);
  long size = ftell(fp);
  fclose(fp);
  char bad[600];
  snprintf(bad, sizeof bad, "%s/trunc.bn.safetensors", dir);
  fp = fopen(bad, "wb");
  fwrite(text, 1, (size_t)size - 8, fp);
  fclose(fp);
  assert_int_equal(dynrt_bn_file_load(model, bad, &g, &err), DYNRT_ERR_FORMAT);
  assert_null(g);
  assert_non_null(strstr(err.msg, "trunc.bn.safetensors"));
  char *tag = strstr(text + 8, "\"dynrt.bn_format\":\"1\"");
  assert_non_null(tag);
  tag[19] = '9';
  fp = fopen(bad, "wb");
  fwrite(text, 1, (size_t)size, fp);
  fclose(fp);
  assert_int_equal(dynrt_bn_file_load(model, bad, &g, &err), DYNRT_ERR_FORMAT);
  free(text);
  snprintf(bad, sizeof bad, "%s/none.bn.safetensors", dir);
  assert_int_equal(dynrt_bn_file_load(model, bad, &g, &err), DYNRT_ERR_IO);
}

/* Writes a copy of the BN file src to dst with tables[0].images replaced by `images`. */
static void write_with_images(const char *src, const char *dst, double images) {
  FILE *fp = fopen(src, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  size_t size = (size_t)ftell(fp);
  fseek(fp, 0, SEEK_SET);
  unsigned char *b = malloc(size);
  assert_int_equal(fread(b, 1, size, fp), size);
  fclose(fp);
  uint64_t hl = 0;
  for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
  cJSON *hdr = cJSON_ParseWithLength((const char *)b + 8, (size_t)hl);
  cJSON *meta = cJSON_GetObjectItem(hdr, "__metadata__");
  cJSON *list = cJSON_Parse(cJSON_GetObjectItem(meta, "dynrt.tables")->valuestring);
  cJSON_ReplaceItemInObject(cJSON_GetArrayItem(list, 0), "images", cJSON_CreateNumber(images));
  char *lt = cJSON_PrintUnformatted(list);
  cJSON_ReplaceItemInObject(meta, "dynrt.tables", cJSON_CreateString(lt));
  char *ht = cJSON_PrintUnformatted(hdr);
  uint64_t nl = strlen(ht);
  unsigned char len[8];
  for (int i = 0; i < 8; i++) len[i] = (unsigned char)(nl >> (8 * i));
  fp = fopen(dst, "wb");
  assert_non_null(fp);
  fwrite(len, 1, 8, fp);
  fwrite(ht, 1, nl, fp);
  fwrite(b + 8 + hl, 1, size - 8 - hl, fp);
  fclose(fp);
  cJSON_free(lt);
  cJSON_free(ht);
  cJSON_Delete(list);
  cJSON_Delete(hdr);
  free(b);
}

/* Regression (fuzzing, UBSan): an image count beyond 2^64 was converted to uint64_t, which
 * is undefined; a count that is not an integer in 0..2^53 is now a format error. */
static void test_bn_file_bad_images(void **state) {
  (void)state;
  char path[512], bad[600];
  snprintf(path, sizeof path, "%s/img.bn.safetensors", dir);
  snprintf(bad, sizeof bad, "%s/img_bad.bn.safetensors", dir);
  dynrt_error err;
  dynrt_bn_file *f = NULL, *g = NULL;
  dynrt_subnet c;
  dynrt_subnet_largest(model, &c);
  size_t total = 0;
  assert_int_equal(dynrt_bn_layout(model, &c, NULL, 0, NULL, &total, &err), DYNRT_OK);
  float *scale = calloc(total, sizeof *scale), *shift = calloc(total, sizeof *shift);
  for (size_t i = 0; i < total; i++) scale[i] = 1;
  dynrt_bn_table *t;
  assert_int_equal(dynrt_bn_table_create(model, &c, scale, shift, &t, &err), DYNRT_OK);
  assert_int_equal(dynrt_bn_file_create(model, NULL, &f, &err), DYNRT_OK);
  assert_int_equal(dynrt_bn_file_put(f, t, 20, &err), DYNRT_OK);
  assert_int_equal(dynrt_bn_file_save(f, path, &err), DYNRT_OK);
  dynrt_bn_file_destroy(f);
  static const double rejected[] = {1e300, -3, 2.5, 18446744073709551616.0};
  for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
    write_with_images(path, bad, rejected[i]);
    assert_int_equal(dynrt_bn_file_load(model, bad, &g, &err), DYNRT_ERR_FORMAT);
    assert_null(g);
    assert_non_null(strstr(err.msg, "tables[0].images"));
  }
  write_with_images(path, bad, 7);
  assert_int_equal(dynrt_bn_file_load(model, bad, &g, &err), DYNRT_OK);
  assert_int_equal(dynrt_bn_file_count(g), 1);
  dynrt_bn_file_destroy(g);
  free(scale);
  free(shift);
}

/* dynrt_evaluate_logits: each image's logits equal a session's on that image, whatever the
 * thread count; the counts equal dynrt_evaluate's; a range past the start clamps; NULL
 * logits is refused. */
static void test_evaluate_logits(void **state) {
  (void)state;
  dynrt_subnet cfg;
  dynrt_subnet_smallest(model, &cfg);
  dynrt_model_info info;
  dynrt_model_get_info(model, &info);
  size_t nc = (size_t)info.num_classes, n = 11;
  float *l1 = calloc(n * nc, sizeof *l1), *l3 = calloc(n * nc, sizeof *l3);
  assert_non_null(l1);
  assert_non_null(l3);
  dynrt_eval_result r1, r3, r;
  dynrt_error err;
  assert_int_equal(dynrt_evaluate_logits(model, &cfg, NULL, data, 5, n, 1, l1, &r1, &err),
                   DYNRT_OK);
  assert_int_equal(dynrt_evaluate_logits(model, &cfg, NULL, data, 5, n, 3, l3, &r3, &err),
                   DYNRT_OK);
  assert_int_equal(dynrt_evaluate(model, &cfg, NULL, data, 5, n, 2, &r, &err), DYNRT_OK);
  assert_int_equal(r1.images, n);
  assert_int_equal(r1.top1, r.top1);
  assert_int_equal(r3.top5, r.top5);
  assert_memory_equal(l1, l3, n * nc * sizeof *l1);
  dynrt_session *s;
  assert_int_equal(dynrt_session_create(model, NULL, &s, NULL), DYNRT_OK);
  assert_int_equal(dynrt_session_set_subnet(s, &cfg, NULL), DYNRT_OK);
  for (size_t i = 0; i < n; i++) {
    dynrt_image img;
    dynrt_dataset_get(data, 5 + i, &img);
    assert_int_equal(
        dynrt_session_run_image(s, img.rgb, img.width, img.height, (size_t)img.width * 3),
        DYNRT_OK);
    assert_memory_equal(dynrt_session_logits(s, NULL), l1 + i * nc, nc * sizeof *l1);
  }
  dynrt_session_destroy(s);
  /* 100 images from 35 of 40: the last 5 */
  assert_int_equal(dynrt_evaluate_logits(model, &cfg, NULL, data, 35, 100, 2, l1, &r, &err),
                   DYNRT_OK);
  assert_int_equal(r.images, 5);
  assert_int_equal(dynrt_evaluate_logits(model, &cfg, NULL, data, 0, 0, 1, NULL, &r, &err),
                   DYNRT_ERR_INVALID_ARG);
  assert_non_null(strstr(err.msg, "logits"));
  free(l1);
  free(l3);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/dynrt_test_calib_XXXXXX");
  if (!mkdtemp(dir)) return -1;
  if (dynrt_model_load(TINY, &model, NULL)) return -1;
  return dynrt_dataset_synthetic(40, 32, 7, 1, &data, NULL) ? -1 : 0;
}

static int teardown(void **state) {
  (void)state;
  dynrt_dataset_destroy(data);
  dynrt_model_destroy(model);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stats_match_reference),
      cmocka_unit_test(test_first_layer_mean_batch_invariant),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_bn_file_round_trip),
      cmocka_unit_test(test_bn_file_bad_images),
      cmocka_unit_test(test_evaluate_logits),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

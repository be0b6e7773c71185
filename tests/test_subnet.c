/* test_subnet.c - sub-network configs: parse/print round trip and canonical form against
 * the reference's golden strings and ids, errors naming the field, MACs of the ImageNet
 * super-network against the reference, counting, enumeration and sampling. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/engine_int.h"
#include "test_engine_util.h"

/* The ImageNet super-network of docs/formats.md §1.1 (class names left out: optional). */
static const char IMAGENET[] =
    "{\"version\":1,\"family\":\"ofa-mbv3\",\"name\":\"ofa_mbv3_d234_e346_k357_w1.2\","
    "\"num_classes\":1000,\"input\":{\"resolutions\":[160,164,168,172,176,180,184,188,192,196,"
    "200,204,208,212,216,220,224],\"resize_ratio\":0.875,\"mean\":[0.485,0.456,0.406],\"std\":"
    "[0.229,0.224,0.225]},\"bn_eps\":1e-05,\"channel_divisor\":8,\"se_reduction\":4,\"stem\":{"
    "\"out\":24,\"kernel\":3,\"stride\":2,\"act\":\"hswish\"},\"first_block\":{\"out\":24,"
    "\"kernel\":3,\"stride\":1,\"act\":\"relu\"},\"stages\":[{\"width\":32,\"depths\":[2,3,4],"
    "\"stride\":2,\"act\":\"relu\",\"se\":false},{\"width\":48,\"depths\":[2,3,4],\"stride\":2,"
    "\"act\":\"relu\",\"se\":true},{\"width\":96,\"depths\":[2,3,4],\"stride\":2,\"act\":"
    "\"hswish\",\"se\":false},{\"width\":136,\"depths\":[2,3,4],\"stride\":1,\"act\":\"hswish\","
    "\"se\":true},{\"width\":192,\"depths\":[2,3,4],\"stride\":2,\"act\":\"hswish\",\"se\":true}],"
    "\"kernel_sizes\":[3,5,7],\"expand_ratios\":[3,4,6],\"width_mults\":[1.0],"
    "\"kernel_transform\":true,\"head\":{\"final_expand\":1152,\"feature_mix\":1536,\"act\":"
    "\"hswish\"}}";

/* A model holding only an architecture: enough for every dynrt_subnet_* function. */
static dynrt_model *arch_model(const char *json) {
  dynrt_model *m = calloc(1, sizeof *m);
  dynrt_err e;
  if (dynrt__arch_parse(&m->arch, json, strlen(json), "test", &e)) {
    fprintf(stderr, "%s\n", e.msg);
    free(m);
    return NULL;
  }
  return m;
}

static void arch_model_free(dynrt_model *m) {
  dynrt__arch_free(&m->arch);
  free(m);
}

static void test_imagenet_arch(void **state) {
  (void)state;
  dynrt_model *m = arch_model(IMAGENET);
  assert_non_null(m);
  const dynrt__arch *a = &m->arch;
  assert_int_equal(a->n_blocks, 20);
  /* (cin, cout, mid_max, se_max, stride, residual) of the reference's Arch.blocks() */
  static const int want[20][6] = {
      {24, 32, 144, 0, 2, 0},      {32, 32, 192, 0, 1, 1},     {32, 32, 192, 0, 1, 1},
      {32, 32, 192, 0, 1, 1},      {32, 48, 192, 48, 2, 0},    {48, 48, 288, 72, 1, 1},
      {48, 48, 288, 72, 1, 1},     {48, 48, 288, 72, 1, 1},    {48, 96, 288, 0, 2, 0},
      {96, 96, 576, 0, 1, 1},      {96, 96, 576, 0, 1, 1},     {96, 96, 576, 0, 1, 1},
      {96, 136, 576, 144, 1, 0},   {136, 136, 816, 208, 1, 1}, {136, 136, 816, 208, 1, 1},
      {136, 136, 816, 208, 1, 1},  {136, 192, 816, 208, 2, 0}, {192, 192, 1152, 288, 1, 1},
      {192, 192, 1152, 288, 1, 1}, {192, 192, 1152, 288, 1, 1}};
  for (int b = 0; b < 20; b++) {
    const dynrt__block *bl = &a->blocks[b];
    int got[6] = {bl->cin_max, bl->cout_max, bl->mid_max, bl->se_max, bl->stride, bl->residual};
    for (int i = 0; i < 6; i++)
      if (got[i] != want[b][i]) fail_msg("block %d field %d: %d != %d", b, i, got[i], want[b][i]);
  }
  assert_int_equal(a->first_residual, 1);
  /* MACs and ids from python/dynrt_ref (count_macs, SubnetConfig.id) */
  dynrt_subnet c;
  char buf[DYNRT_SUBNET_STR_MAX];
  dynrt_subnet_largest(m, &c);
  assert_true(dynrt_subnet_macs(m, &c) == 843101040ull);
  assert_true(dynrt_subnet_id(m, &c) == 2872304506151697302ull);
  dynrt_subnet_smallest(m, &c);
  assert_true(dynrt_subnet_macs(m, &c) == 100320888ull);
  assert_true(dynrt_subnet_id(m, &c) == 7620464503796005685ull);
  /* Dynamic-OFA's published GPU level 0, canonicalised by the reference */
  assert_int_equal(dynrt_subnet_parse(m,
                                      "r=176 w=1.0 d=3,2,3,2,2 "
                                      "k=5,7,7,7,3,5,5,7,7,7,5,3,5,3,3,7,3,3,7,7 "
                                      "e=6,4,4,6,4,3,6,4,6,4,4,6,4,6,4,6,4,3,3,4",
                                      &c, NULL),
                   0);
  assert_int_equal(dynrt_subnet_format(m, &c, buf, sizeof buf, NULL), 0);
  assert_string_equal(buf, "r=176 w=1.0 d=3,2,3,2,2 k=5,7,7,7,3,5,7,7,7,7,5,7,5,3,7,7,3,3,7,7 "
                           "e=6,4,4,6,4,3,6,6,6,4,4,6,4,6,6,6,4,3,6,6");
  assert_true(dynrt_subnet_macs(m, &c) == 235467152ull);
  assert_true(dynrt_subnet_id(m, &c) == 2670434404296519556ull);
  arch_model_free(m);
}

static void test_golden_strings(void **state) {
  (void)state;
  static const char *const files[2][2] = {{"tiny.safetensors", "tiny_golden.json"},
                                          {"tiny_w.safetensors", "tiny_w_golden.json"}};
  for (int fi = 0; fi < 2; fi++) {
    dynrt_model *m = load_fixture(files[fi][0]);
    assert_non_null(m);
    cJSON *g = load_golden(files[fi][1]);
    assert_non_null(g);
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g, "parse_cases")) {
      dynrt_subnet cfg, again;
      dynrt_error err;
      const char *in = cJSON_GetObjectItem(c, "input")->valuestring;
      if (dynrt_subnet_parse(m, in, &cfg, &err)) fail_msg("%s: %s", in, err.msg);
      char buf[DYNRT_SUBNET_STR_MAX];
      assert_int_equal(dynrt_subnet_format(m, &cfg, buf, sizeof buf, NULL), 0);
      assert_string_equal(buf, cJSON_GetObjectItem(c, "canonical")->valuestring);
      assert_true(dynrt_subnet_id(m, &cfg) ==
                  strtoull(cJSON_GetObjectItem(c, "id_dec")->valuestring, NULL, 10));
      assert_int_equal(dynrt_subnet_parse(m, buf, &again, NULL), 0); /* round trip */
      assert_memory_equal(&cfg, &again, sizeof cfg);
      n++;
    }
    assert_true(n >= 3);
    n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g, "bad_configs")) {
      dynrt_subnet cfg;
      dynrt_error err;
      memset(&err, 0, sizeof err);
      if (dynrt_subnet_parse(m, c->valuestring, &cfg, &err) != DYNRT_ERR_FORMAT)
        fail_msg("accepted: %s", c->valuestring);
      assert_true(strncmp(err.msg, "subnet: ", 8) == 0);
      n++;
    }
    assert_true(n >= 9);
    /* tiny: 2 resolutions x (9 + 81) x (81 + 729) x (9 + 81) sub-networks */
    dynrt_model_info info;
    dynrt_model_get_info(m, &info);
    if (fi == 0) assert_true(info.n_subnets == 2.0 * 90 * 810 * 90);
    cJSON_Delete(g);
    dynrt_model_destroy(m);
  }
}

static void expect_error(const dynrt_model *m, const char *s, const char *msg) {
  dynrt_subnet cfg;
  dynrt_error err;
  memset(&err, 0, sizeof err);
  assert_int_equal(dynrt_subnet_parse(m, s, &cfg, &err), DYNRT_ERR_FORMAT);
  if (strcmp(err.msg, msg)) fail_msg("'%s': got '%s', want '%s'", s, err.msg, msg);
}

static void test_errors_name_field(void **state) {
  (void)state;
  dynrt_model *m = load_fixture("tiny.safetensors");
  assert_non_null(m);
  const char *ok = "r=20 w=1.0 d=2,3,2 k=7,7,7,7,7,7,7 e=6,6,6,6,6,6,6";
  dynrt_subnet cfg;
  assert_int_equal(dynrt_subnet_parse(m, ok, &cfg, NULL), 0);
  expect_error(m, "r=20 w=1.0 d=2,3,2 k=7,7,7,7,7,7,4 e=6,6,6,6,6,6,6",
               "subnet: k[6] = 4 not in {3,5,7}");
  expect_error(m, "r=20 w=1.0 d=2,3,2 k=7,7,7,7,7,7,7 e=6,6,6,5,6,6,6",
               "subnet: e[3] = 5 not in {3,4,6}");
  expect_error(m, "r=18 w=1.0 d=2,3,2 k=7,7,7,7,7,7,7 e=6,6,6,6,6,6,6",
               "subnet: r = 18 not in {16,20}");
  expect_error(m, "r=20 w=0.5 d=2,3,2 k=7,7,7,7,7,7,7 e=6,6,6,6,6,6,6",
               "subnet: w = 0.5 not in {1.0}");
  expect_error(m, "r=20 w=1.0 d=2,1,2 k=7,7,7,7,7,7,7 e=6,6,6,6,6,6,6",
               "subnet: d[1] = 1 not in {2,3}");
  expect_error(m, "r=20 w=1.0 d=2,3 k=7,7,7,7,7,7,7 e=6,6,6,6,6,6,6",
               "subnet: d has 2 entries, expected 3");
  expect_error(m, "r=20 w=1.0 d=2,3,2 k=7,7,7,7,7,7,7", "subnet: field 'e' missing");
  expect_error(m, "r=20 r=20 w=1.0 d=2,3,2 k=7,7,7,7,7,7,7 e=6,6,6,6,6,6,6",
               "subnet: field 'r' given twice");
  expect_error(m, "r=20 w=1.0 d=2,3,2 k=7,7,7,7,7,7,7 e=6,6,6,6,6,6,6 q=1",
               "subnet: unknown field 'q' (r, w, d, k, e)");
  expect_error(m, "r=20 w=1.0 d=2,3,2 k=7,7,,7,7,7,7 e=6,6,6,6,6,6,6",
               "subnet: k = '7,7,,7,7,7,7': entry 2 is not an integer number");
  expect_error(m, "r=20 w=1.0 d=2,3,2 k=7,7,7,7,7,7,99999999999 e=6,6,6,6,6,6,6",
               "subnet: k = '7,7,7,7,7,7,99999999999': entry 6 is not an integer number");
  expect_error(m, "r=20 w=1.0 d=2,3,2 k=7,7,7,7,7,7,300 e=6,6,6,6,6,6,6",
               "subnet: k[6] = 300 not in {3,5,7}");
  expect_error(m, "hello", "subnet: field 'hello' has no '='");
  expect_error(m, "", "subnet: field 'r' missing");
  /* struct-level validation (dynrt_subnet_canonicalize) names the field too */
  dynrt_error err;
  cfg.k[2] = 9;
  assert_int_equal(dynrt_subnet_canonicalize(m, &cfg, &err), DYNRT_ERR_INVALID_ARG);
  assert_string_equal(err.msg, "subnet: k[2] = 9 not in {3,5,7}");
  assert_true(dynrt_subnet_id(m, &cfg) == 0 && dynrt_subnet_macs(m, &cfg) == 0);
  char small[8];
  assert_int_equal(dynrt_subnet_parse(m, ok, &cfg, NULL), 0);
  assert_int_equal(dynrt_subnet_format(m, &cfg, small, sizeof small, &err), DYNRT_ERR_INVALID_ARG);
  dynrt_model_destroy(m);
}

/* Small family: enumeration visits every distinct sub-network exactly once. */
static void test_enumerate_and_sample(void **state) {
  (void)state;
  const char *json =
      "{\"version\":1,\"family\":\"ofa-mbv3\",\"name\":\"e\",\"num_classes\":2,"
      "\"input\":{\"resolutions\":[8,12],\"resize_ratio\":1,\"mean\":[0,0,0],\"std\":[1,1,1]},"
      "\"bn_eps\":1e-5,\"stem\":{\"out\":8,\"kernel\":3,\"stride\":1,\"act\":\"relu\"},"
      "\"first_block\":{\"out\":8,\"kernel\":3,\"stride\":1,\"act\":\"relu\"},"
      "\"stages\":[{\"width\":8,\"depths\":[1,2],\"stride\":1,\"act\":\"relu\",\"se\":true},"
      "{\"width\":16,\"depths\":[1],\"stride\":2,\"act\":\"none\",\"se\":false}],"
      "\"kernel_sizes\":[3,5],\"expand_ratios\":[3,6],\"width_mults\":[0.5,1.0],"
      "\"head\":{\"final_expand\":16,\"feature_mix\":16,\"act\":\"hswish\"}}";
  dynrt_model *m = arch_model(json);
  assert_non_null(m);
  /* 2 resolutions x 2 widths x (4 + 16) x 4 */
  const int total = 2 * 2 * 20 * 4;
  uint64_t *ids = malloc(sizeof(uint64_t) * (size_t)total);
  dynrt_subnet c, first;
  dynrt_subnet_smallest(m, &c);
  first = c;
  int n = 0;
  do {
    assert_true(n < total);
    ids[n] = dynrt_subnet_id(m, &c);
    assert_true(ids[n] != 0);
    for (int i = 0; i < n; i++) assert_true(ids[i] != ids[n]);
    n++;
  } while (dynrt_subnet_next(m, &c));
  assert_int_equal(n, total);
  assert_memory_equal(&c, &first, sizeof c);
  /* sampling: deterministic per seed, always valid, reaches many sub-networks */
  uint64_t s1 = 99, s2 = 99;
  int hit = 0;
  for (int i = 0; i < 1000; i++) {
    dynrt_subnet a, b;
    dynrt_subnet_sample(m, &s1, &a);
    dynrt_subnet_sample(m, &s2, &b);
    assert_memory_equal(&a, &b, sizeof a);
    uint64_t id = dynrt_subnet_id(m, &a);
    for (int j = 0; j < total; j++)
      if (ids[j] == id) {
        ids[j] = 0;
        hit++;
      }
  }
  assert_true(hit > total / 2);
  /* width multiplier 0.5: make_divisible(8 * 0.5) = 8, so 8-wide layers keep 8 channels */
  dynrt_subnet_smallest(m, &c);
  assert_true(c.w == 0.5f);
  assert_int_equal(dynrt__active_width(&m->arch, 16, 0.5), 8);
  assert_int_equal(dynrt__active_width(&m->arch, 8, 0.5), 8);
  free(ids);
  arch_model_free(m);
}

static void test_make_divisible(void **state) {
  (void)state;
  /* values from the reference make_divisible(v, 8) */
  assert_int_equal(dynrt__make_divisible(144, 8), 144);
  assert_int_equal(dynrt__make_divisible(3.9, 8), 8);
  assert_int_equal(dynrt__make_divisible(28.8, 8), 32);
  assert_int_equal(dynrt__make_divisible(12, 8), 16);
  assert_int_equal(dynrt__make_divisible(11.9, 8), 16);
  assert_int_equal(dynrt__make_divisible(19.2, 8), 24);
  assert_int_equal(dynrt__make_divisible(52, 8), 56);
  assert_int_equal(dynrt__make_divisible(50, 8), 48);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_imagenet_arch),     cmocka_unit_test(test_golden_strings),
      cmocka_unit_test(test_errors_name_field), cmocka_unit_test(test_enumerate_and_sample),
      cmocka_unit_test(test_make_divisible),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_oplib.c - operating-point library: loading the synthetic fixtures, Pareto sets,
 * round trip through save, the builder, and every kind of inconsistent file rejected with a
 * message naming the field and the value. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "core/core.h"
#include "dynrt/oplib.h"

#define FIX DYNRT_TEST_DIR "/fixtures/oplib/"

static char *read_text(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void test_load_tiny(void **state) {
  (void)state;
  char err[512];
  dynrt_oplib *lib = NULL;
  assert_int_equal(dynrt_oplib_load(FIX "tiny.oplib.json", &lib, err, sizeof err), DYNRT_OK);
  assert_string_equal(dynrt_oplib_model_name(lib), "synthetic-4");
  assert_string_equal(dynrt_oplib_model_file(lib), "models/synthetic-4.safetensors");
  assert_null(dynrt_oplib_model_sha256(lib));
  assert_string_equal(dynrt_oplib_platform(lib), "synthetic-board");
  assert_int_equal(dynrt_oplib_num_subnets(lib), 4);
  assert_int_equal(dynrt_oplib_num_settings(lib), 4);
  assert_int_equal(dynrt_oplib_num_points(lib), 16);
  const dynrt_oplib_subnet *s1 = dynrt_oplib_subnet_at(lib, 1);
  assert_string_equal(s1->config, "r=176 w=1.0 d=2,2,2,2,3 k=3 e=3");
  assert_true(s1->id == 0x2d7fe896230f5c8dull);
  assert_int_equal(dynrt_oplib_find_subnet(lib, 0x2d7fe896230f5c8dull), 1);
  assert_int_equal(dynrt_oplib_find_subnet(lib, 42), -1);
  assert_true(s1->macs == 200000000u);
  assert_true(fabs(s1->val_top1 - 0.75) < 1e-12);
  assert_true(s1->val_images == 10000);
  assert_true(fabs(s1->test_top1 - 0.748) < 1e-12);
  assert_string_equal(s1->bn_table, "bn/2d7fe896230f5c8d.bin");
  assert_true(fabs(s1->compute_ns - 16e6) < 1e-3);
  /* setting 1 = (big, 1 GHz, 2 cores): sub-network 1 runs 20 ms x 2 / 2 = 20 ms at 1 W. */
  const dynrt_oplib_setting *st = dynrt_oplib_setting_at(lib, 1);
  assert_string_equal(st->domain, "big");
  assert_int_equal(st->khz, 1000000);
  assert_int_equal(st->cores, 2);
  const dynrt_oplib_point *p = dynrt_oplib_lookup(lib, 1, 1);
  assert_non_null(p);
  assert_true(fabs(p->latency_mean_ms - 20) < 1e-9);
  assert_true(fabs(p->energy_mj - 20) < 1e-9);
  assert_true(fabs(p->power_w - 1.0) < 1e-9); /* derived: energy / latency */
  assert_true(p->modelled);
  assert_null(dynrt_oplib_lookup(lib, 4, 0));
  assert_null(dynrt_oplib_lookup(lib, 0, 4));
  /* Sub-network 3 (72%, slowest) is dominated everywhere; the others form the front. */
  for (int s = 0; s < 4; s++) {
    int n = 0;
    const int *par = dynrt_oplib_pareto(lib, s, &n);
    assert_int_equal(n, 3);
    assert_int_equal(par[0], 0);
    assert_int_equal(par[1], 1);
    assert_int_equal(par[2], 2);
  }
  int n = 7;
  assert_null(dynrt_oplib_pareto(lib, 4, &n));
  assert_int_equal(n, 0);
  double w = -1;
  assert_int_equal(dynrt_oplib_idle_power(lib, "big", 1500000, &w), 1);
  assert_true(fabs(w - 0.2) < 1e-12); /* halfway between 0.1 W and 0.3 W */
  assert_int_equal(dynrt_oplib_idle_power(lib, "big", 3000000, &w), 1);
  assert_true(fabs(w - 0.3) < 1e-12); /* clamped */
  w = -1;
  assert_int_equal(dynrt_oplib_idle_power(lib, "gpu", 1000000, &w), 0);
  assert_true(w == -1);
  dynrt_oplib_destroy(lib);
  dynrt_oplib_destroy(NULL);
}

static void test_load_multi_with_pareto(void **state) {
  (void)state;
  char err[512];
  dynrt_oplib *lib = NULL;
  assert_int_equal(dynrt_oplib_load(FIX "multi.oplib.json", &lib, err, sizeof err), DYNRT_OK);
  assert_int_equal(dynrt_oplib_num_settings(lib), 10);
  assert_non_null(dynrt_oplib_model_sha256(lib));
  assert_int_equal(strlen(dynrt_oplib_model_sha256(lib)), 64);
  int n = 0;
  const int *par = dynrt_oplib_pareto(lib, 9, &n); /* gpu 1 GHz */
  assert_int_equal(n, 3);
  assert_int_equal(par[2], 2);
  assert_string_equal(dynrt_oplib_setting_at(lib, 9)->domain, "gpu");
  assert_int_equal(dynrt_oplib_setting_at(lib, 9)->cores, 0);
  dynrt_oplib_destroy(lib);
}

static void test_round_trip(void **state) {
  (void)state;
  char err[512], path[] = "/tmp/dynrt_oplib_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  dynrt_oplib *a = NULL, *b = NULL;
  assert_int_equal(dynrt_oplib_load(FIX "multi.oplib.json", &a, err, sizeof err), DYNRT_OK);
  assert_int_equal(dynrt_oplib_save(a, path), DYNRT_OK);
  assert_int_equal(dynrt_oplib_load(path, &b, err, sizeof err), DYNRT_OK);
  assert_string_equal(dynrt_oplib_model_name(a), dynrt_oplib_model_name(b));
  assert_string_equal(dynrt_oplib_model_sha256(a), dynrt_oplib_model_sha256(b));
  assert_string_equal(dynrt_oplib_platform(a), dynrt_oplib_platform(b));
  assert_int_equal(dynrt_oplib_num_subnets(a), dynrt_oplib_num_subnets(b));
  assert_int_equal(dynrt_oplib_num_points(a), dynrt_oplib_num_points(b));
  assert_int_equal(dynrt_oplib_num_idle(a), dynrt_oplib_num_idle(b));
  for (int i = 0; i < dynrt_oplib_num_subnets(a); i++) {
    const dynrt_oplib_subnet *x = dynrt_oplib_subnet_at(a, i), *y = dynrt_oplib_subnet_at(b, i);
    assert_string_equal(x->config, y->config);
    assert_true(x->id == y->id && x->macs == y->macs && x->params == y->params);
    assert_true(x->val_top1 == y->val_top1 && x->test_top1 == y->test_top1);
    assert_true(x->compute_ns == y->compute_ns && x->memory_ns == y->memory_ns);
    assert_string_equal(x->bn_table, y->bn_table);
  }
  for (int i = 0; i < dynrt_oplib_num_points(a); i++) {
    const dynrt_oplib_point *x = dynrt_oplib_point_at(a, i), *y = dynrt_oplib_point_at(b, i);
    assert_true(x->subnet == y->subnet && x->setting == y->setting);
    assert_true(x->latency_mean_ms == y->latency_mean_ms && x->latency_p95_ms == y->latency_p95_ms);
    assert_true(x->energy_mj == y->energy_mj && x->power_w == y->power_w);
    assert_int_equal(x->modelled, y->modelled);
  }
  for (int s = 0; s < dynrt_oplib_num_settings(a); s++) {
    int na = 0, nb = 0;
    const int *pa = dynrt_oplib_pareto(a, s, &na), *pb = dynrt_oplib_pareto(b, s, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, (size_t)na * sizeof(int));
  }
  dynrt_oplib_destroy(a);
  dynrt_oplib_destroy(b);
  unlink(path);
}

static void test_builder(void **state) {
  (void)state;
  dynrt_oplib *lib = NULL;
  assert_int_equal(dynrt_oplib_create(NULL, NULL, NULL, &lib), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_oplib_create("m", NULL, "board", &lib), DYNRT_OK);
  dynrt_oplib_subnet sn = {.config = "a",
                           .id = 1,
                           .macs = 10,
                           .params = 5,
                           .val_top1 = 0.5,
                           .val_images = 100,
                           .test_top1 = -1,
                           .compute_ns = -1,
                           .memory_ns = -1};
  int idx = -1;
  assert_int_equal(dynrt_oplib_add_subnet(lib, &sn, &idx), DYNRT_OK);
  assert_int_equal(idx, 0);
  sn.config = "b";
  sn.id = 2;
  sn.val_top1 = 0.6;
  assert_int_equal(dynrt_oplib_add_subnet(lib, &sn, &idx), DYNRT_OK);
  dynrt_oplib_setting s = {"cpu0", 1000, 1};
  assert_int_equal(dynrt_oplib_add_setting(lib, &s, &idx), DYNRT_OK);
  /* b is faster and more accurate: a is dominated. Only power given: energy derived. */
  dynrt_oplib_point p = {.subnet = 0, .setting = 0, .latency_mean_ms = 10, .power_w = 2};
  assert_int_equal(dynrt_oplib_add_point(lib, &p), DYNRT_OK);
  p.subnet = 1;
  p.latency_mean_ms = 5;
  assert_int_equal(dynrt_oplib_add_point(lib, &p), DYNRT_OK);
  assert_int_equal(dynrt_oplib_set_model_sha256(lib, "xyz"), DYNRT_ERR_INVALID_ARG);
  assert_non_null(strstr(dynrt_oplib_errmsg(lib), "xyz"));
  assert_int_equal(dynrt_oplib_finalize(lib), DYNRT_OK);
  assert_true(fabs(dynrt_oplib_lookup(lib, 0, 0)->energy_mj - 20) < 1e-12);
  int n = 0;
  const int *par = dynrt_oplib_pareto(lib, 0, &n);
  assert_int_equal(n, 1);
  assert_int_equal(par[0], 1);
  assert_int_equal(dynrt_oplib_add_point(lib, &p), DYNRT_ERR_STATE);
  assert_non_null(strstr(dynrt_oplib_errmsg(lib), "finalized"));
  dynrt_oplib_destroy(lib);
}

/* Regression (fuzz_oplib): at equal latency the less accurate sub-network is dominated and
 * must not enter the Pareto set; it did (sorted in ascending accuracy), so a saved library
 * listed a dominated sub-network and did not load back. */
static void test_pareto_equal_latency(void **state) {
  (void)state;
  dynrt_oplib *lib = NULL;
  assert_int_equal(dynrt_oplib_create("m", NULL, NULL, &lib), DYNRT_OK);
  dynrt_oplib_subnet sn = {.config = "a",
                           .id = 1,
                           .macs = 10,
                           .params = 5,
                           .val_top1 = 0.75,
                           .val_images = 100,
                           .test_top1 = -1,
                           .compute_ns = -1,
                           .memory_ns = -1};
  assert_int_equal(dynrt_oplib_add_subnet(lib, &sn, NULL), DYNRT_OK);
  sn.config = "b";
  sn.id = 2;
  sn.val_top1 = 0.78;
  assert_int_equal(dynrt_oplib_add_subnet(lib, &sn, NULL), DYNRT_OK);
  sn.config = "c";
  sn.id = 3;
  assert_int_equal(dynrt_oplib_add_subnet(lib, &sn, NULL), DYNRT_OK); /* exact tie with b */
  dynrt_oplib_setting s = {"cpu0", 1000, 1};
  assert_int_equal(dynrt_oplib_add_setting(lib, &s, NULL), DYNRT_OK);
  for (int k = 0; k < 3; k++) {
    dynrt_oplib_point p = {.subnet = k, .setting = 0, .latency_mean_ms = 80, .power_w = 2};
    assert_int_equal(dynrt_oplib_add_point(lib, &p), DYNRT_OK);
  }
  assert_int_equal(dynrt_oplib_finalize(lib), DYNRT_OK);
  int n = 0;
  const int *par = dynrt_oplib_pareto(lib, 0, &n);
  assert_int_equal(n, 2);
  assert_int_equal(par[0], 1);
  assert_int_equal(par[1], 2);
  char path[64], err[512];
  snprintf(path, sizeof path, "/tmp/test_oplib_eqlat_%ld.json", (long)getpid());
  assert_int_equal(dynrt_oplib_save(lib, path), DYNRT_OK);
  dynrt_oplib *again = NULL;
  assert_int_equal(dynrt_oplib_load(path, &again, err, sizeof err), DYNRT_OK);
  assert_int_equal(dynrt_oplib_pareto(again, 0, &n)[0], 1);
  assert_int_equal(n, 2);
  dynrt_oplib_destroy(again);
  dynrt_oplib_destroy(lib);
  unlink(path);
}

/* Loads tiny.oplib.json, lets `edit` change the parsed JSON, parses the result and
 * expects `status` with a message containing `needle`. */
typedef void (*edit_fn)(cJSON *root);

static void expect_reject(edit_fn edit, dynrt_status status, const char *needle) {
  size_t len = 0;
  char *text = read_text(FIX "tiny.oplib.json", &len);
  cJSON *root = cJSON_Parse(text);
  assert_non_null(root);
  edit(root);
  char *mod = cJSON_PrintUnformatted(root);
  char err[512];
  dynrt_oplib *lib = (dynrt_oplib *)1;
  dynrt_status st = dynrt_oplib_parse(mod, strlen(mod), "tiny.oplib.json", &lib, err, sizeof err);
  if (st != status || !strstr(err, needle))
    fail_msg("expected status %d with '%s', got %d: '%s'", status, needle, st, err);
  assert_null(lib);
  assert_non_null(strstr(err, "tiny.oplib.json"));
  cJSON_free(mod);
  cJSON_Delete(root);
  free(text);
}

static cJSON *at(cJSON *root, const char *arr, int i) {
  return cJSON_GetArrayItem(cJSON_GetObjectItem(root, arr), i);
}
static void setnum(cJSON *o, const char *key, double v) {
  cJSON_ReplaceItemInObject(o, key, cJSON_CreateNumber(v));
}

static void e_setting(cJSON *r) { setnum(at(r, "points", 3), "setting", 99); }
static void e_neg_lat(cJSON *r) {
  setnum(cJSON_GetObjectItem(at(r, "points", 0), "latency_ms"), "mean", -1);
}
static void e_acc(cJSON *r) {
  setnum(cJSON_GetObjectItem(at(r, "subnets", 1), "val"), "top1", 1.5);
}
static void e_test_acc(cJSON *r) {
  setnum(cJSON_GetObjectItem(at(r, "subnets", 2), "test"), "top1", -0.5);
}
static void e_dup_id(cJSON *r) {
  cJSON_ReplaceItemInObject(at(r, "subnets", 2), "id", cJSON_CreateString("e8326a00fe7660ad"));
}
static void e_dup_config(cJSON *r) {
  cJSON_ReplaceItemInObject(at(r, "subnets", 3), "config",
                            cJSON_CreateString("r=160 w=1.0 d=2,2,2,2,2 k=3 e=3"));
}
static void e_bad_id(cJSON *r) {
  cJSON_ReplaceItemInObject(at(r, "subnets", 0), "id", cJSON_CreateString("xyz"));
}
static void add_pareto(cJSON *r, const int *subnets, int n) {
  cJSON *arr = cJSON_AddArrayToObject(r, "pareto");
  for (int s = 0; s < 4; s++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "setting", s);
    cJSON_AddItemToObject(o, "subnets", cJSON_CreateIntArray(subnets, n));
    cJSON_AddItemToArray(arr, o);
  }
}
static void e_pareto_dominated(cJSON *r) { add_pareto(r, (const int[]){0, 1, 2, 3}, 4); }
static void e_pareto_missing(cJSON *r) { add_pareto(r, (const int[]){0, 2}, 2); }
static void e_pareto_ok(cJSON *r) { add_pareto(r, (const int[]){2, 0, 1}, 3); }
static void e_format(cJSON *r) {
  cJSON_ReplaceItemInObject(r, "format", cJSON_CreateString("something-else"));
}
static void e_version(cJSON *r) { setnum(r, "version", 2); }
static void e_no_model_name(cJSON *r) {
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(r, "model"), "name");
}
static void e_energy_power(cJSON *r) {
  cJSON_AddNumberToObject(at(r, "points", 5), "power_w", 100);
}
static void e_no_energy(cJSON *r) { cJSON_DeleteItemFromObject(at(r, "points", 6), "energy_mj"); }
static void e_p95(cJSON *r) {
  setnum(cJSON_GetObjectItem(at(r, "points", 2), "latency_ms"), "p95", 1e-3);
}
static void e_dup_point(cJSON *r) {
  cJSON_AddItemToArray(cJSON_GetObjectItem(r, "points"), cJSON_Duplicate(at(r, "points", 7), 1));
}
static void e_dup_setting(cJSON *r) {
  cJSON_AddItemToArray(cJSON_GetObjectItem(r, "settings"),
                       cJSON_Duplicate(at(r, "settings", 0), 1));
}
static void e_idle(cJSON *r) { setnum(at(r, "idle", 1), "watts", -2); }
static void e_cores(cJSON *r) { setnum(at(r, "settings", 2), "cores", 1.5); }
static void e_type(cJSON *r) {
  cJSON_ReplaceItemInObject(at(r, "subnets", 0), "macs", cJSON_CreateString("many"));
}

static void test_rejects(void **state) {
  (void)state;
  expect_reject(e_setting, DYNRT_ERR_FORMAT, "points[3].setting = 99 (unknown setting index");
  expect_reject(e_neg_lat, DYNRT_ERR_FORMAT, "points[0].latency_ms.mean = -1 (must be > 0)");
  expect_reject(e_acc, DYNRT_ERR_FORMAT, "subnets[1].val.top1 = 1.5 (must be in [0,1])");
  expect_reject(e_test_acc, DYNRT_ERR_FORMAT, "subnets[2].test.top1 = -0.5");
  expect_reject(e_dup_id, DYNRT_ERR_FORMAT,
                "subnets[2].id = e8326a00fe7660ad duplicates subnets[0]");
  expect_reject(e_dup_config, DYNRT_ERR_FORMAT, "subnets[3].config");
  expect_reject(e_bad_id, DYNRT_ERR_FORMAT, "subnets[0].id = 'xyz'");
  expect_reject(e_pareto_dominated, DYNRT_ERR_FORMAT,
                "pareto[0].subnets[3] = 3 is dominated at setting 0 by sub-network");
  expect_reject(e_pareto_missing, DYNRT_ERR_FORMAT, "pareto[0] (setting 0) lacks sub-network 1");
  expect_reject(e_format, DYNRT_ERR_FORMAT, "format = 'something-else'");
  expect_reject(e_version, DYNRT_ERR_UNSUPPORTED, "version = 2");
  expect_reject(e_no_model_name, DYNRT_ERR_FORMAT, "model.name is missing");
  expect_reject(e_energy_power, DYNRT_ERR_FORMAT, "points[5].energy_mj");
  expect_reject(e_no_energy, DYNRT_ERR_FORMAT, "points[6] has neither energy_mj nor power_w");
  expect_reject(e_p95, DYNRT_ERR_FORMAT, "points[2].latency_ms.p95 = 0.001");
  expect_reject(e_dup_point, DYNRT_ERR_FORMAT,
                "points[16] (subnet 3, setting 1) duplicates points[7]");
  expect_reject(e_dup_setting, DYNRT_ERR_FORMAT,
                "settings[4] (big, 1000000 kHz, 1 cores) duplicates");
  expect_reject(e_idle, DYNRT_ERR_FORMAT, "idle[1].watts = -2");
  expect_reject(e_cores, DYNRT_ERR_FORMAT, "settings[2].cores = 1.5");
  expect_reject(e_type, DYNRT_ERR_FORMAT, "subnets[0].macs must be a number");

  /* A correct Pareto list in any order is accepted. */
  size_t len = 0;
  char *text = read_text(FIX "tiny.oplib.json", &len);
  cJSON *root = cJSON_Parse(text);
  e_pareto_ok(root);
  char *mod = cJSON_PrintUnformatted(root);
  dynrt_oplib *lib = NULL;
  char err[512];
  assert_int_equal(dynrt_oplib_parse(mod, strlen(mod), NULL, &lib, err, sizeof err), DYNRT_OK);
  dynrt_oplib_destroy(lib);
  cJSON_free(mod);
  cJSON_Delete(root);
  free(text);

  assert_int_equal(dynrt_oplib_parse("{\"format\":", 10, "x.json", &lib, err, sizeof err),
                   DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err, "x.json: not valid JSON"));
  assert_int_equal(dynrt_oplib_load("/nonexistent/m.oplib.json", &lib, err, sizeof err),
                   DYNRT_ERR_IO);
  assert_non_null(strstr(err, "/nonexistent/m.oplib.json: cannot open"));
  assert_int_equal(dynrt_oplib_load(NULL, &lib, err, sizeof err), DYNRT_ERR_INVALID_ARG);
}

/* Every allocation of a load may fail: the result is NOMEM (or success), never a crash or a
 * leak (the sanitizer build checks leaks). */
static void test_alloc_failures(void **state) {
  (void)state;
  char err[512];
  int failures = 0;
  for (uint64_t n = 1; n < 400; n++) {
    dynrt_oplib *lib = NULL;
    dynrt_alloc_fail_after(n, 0);
    dynrt_status st = dynrt_oplib_load(FIX "multi.oplib.json", &lib, err, sizeof err);
    dynrt_alloc_fail_after(0, 0);
    if (st == DYNRT_OK) {
      dynrt_oplib_destroy(lib);
      break;
    }
    assert_int_equal(st, DYNRT_ERR_NOMEM);
    assert_null(lib);
    failures++;
  }
  assert_true(failures > 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load_tiny),
      cmocka_unit_test(test_load_multi_with_pareto),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_builder),
      cmocka_unit_test(test_rejects),
      cmocka_unit_test(test_alloc_failures),
      cmocka_unit_test(test_pareto_equal_latency),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

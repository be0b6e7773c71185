/* test_loader.c - malformed model files: every variant is generated here from the tiny
 * fixture (truncation, header length, JSON, tensor table, dtype, shapes, offsets, limits,
 * architecture values) and must fail with a specific message, without crash or leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <unistd.h>

#include "engine/engine_int.h"
#include "test_engine_util.h"

static unsigned char *g_file;
static size_t g_size, g_hlen;

static int setup(void **state) {
  (void)state;
  char path[1024];
  fixture_path(path, sizeof path, "tiny.safetensors");
  g_file = read_all(path, &g_size);
  if (!g_file) return -1;
  g_hlen = 0;
  for (int i = 7; i >= 0; i--) g_hlen = g_hlen << 8 | g_file[i];
  return 0;
}

static int teardown(void **state) {
  (void)state;
  free(g_file);
  return 0;
}

/* Loads from memory; expects `status` and a message containing `want`. */
static void expect(const void *data, size_t size, dynrt_status status, const char *want) {
  dynrt_model *m = (dynrt_model *)1;
  dynrt_error err;
  memset(&err, 0, sizeof err);
  dynrt_status st = dynrt_model_load_memory(data, size, "bad.safetensors", &m, &err);
  if (st != status || !strstr(err.msg, want))
    fail_msg("status %d (want %d), message '%s' (want '%s')", st, status, err.msg, want);
  assert_null(m);
  assert_non_null(strstr(err.msg, "bad.safetensors"));
}

/* File with a new header (JSON text) and the fixture's data section plus `extra` bytes. */
static unsigned char *rebuild(const char *header, size_t extra, size_t *size) {
  size_t hl = strlen(header), dl = g_size - 8 - g_hlen;
  *size = 8 + hl + dl + extra;
  unsigned char *p = calloc(1, *size);
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(p + 8, header, hl);
  memcpy(p + 8 + hl, g_file + 8 + g_hlen, dl);
  return p;
}

static cJSON *header(void) { return cJSON_ParseWithLength((const char *)g_file + 8, g_hlen); }

/* Applies an edit to the header JSON, rebuilds and expects the error. */
static void expect_edit(cJSON *h, size_t extra, dynrt_status status, const char *want) {
  char *text = cJSON_PrintUnformatted(h);
  size_t n;
  unsigned char *p = rebuild(text, extra, &n);
  expect(p, n, status, want);
  free(p);
  cJSON_free(text);
  cJSON_Delete(h);
}

static void test_good_file(void **state) {
  (void)state;
  dynrt_model *m = NULL;
  dynrt_error err;
  assert_int_equal(dynrt_model_load_memory(g_file, g_size, "tiny", &m, &err), 0);
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  assert_string_equal(info.name, "dynrt-tiny");
  assert_int_equal(info.num_classes, 7);
  assert_string_equal(dynrt_model_class_name(m, 6), "c6");
  assert_null(dynrt_model_class_name(m, 7));
  assert_true(info.file_bytes == g_size);
  assert_true(info.packed_bytes > 0 && info.largest_packed_bytes <= info.packed_bytes);
  dynrt_model_destroy(m);
  /* a rebuilt file with the same header is accepted (the helpers are sound) */
  cJSON *h = header();
  char *t2 = cJSON_PrintUnformatted(h);
  size_t n;
  unsigned char *p = rebuild(t2, 0, &n);
  assert_int_equal(dynrt_model_load_memory(p, n, "x", &m, NULL), 0);
  dynrt_model_destroy(m);
  free(p);
  cJSON_free(t2);
  cJSON_Delete(h);
}

static void test_io_errors(void **state) {
  (void)state;
  dynrt_model *m = NULL;
  dynrt_error err;
  assert_int_equal(dynrt_model_load("/nonexistent/model.safetensors", &m, &err), DYNRT_ERR_IO);
  assert_non_null(strstr(err.msg, "/nonexistent/model.safetensors: cannot open"));
  assert_int_equal(dynrt_model_load(DYNRT_TEST_DIR, &m, &err), DYNRT_ERR_IO);
  assert_non_null(strstr(err.msg, "not a regular file"));
  assert_int_equal(dynrt_model_load(NULL, &m, NULL), DYNRT_ERR_INVALID_ARG);
}

static void test_truncated(void **state) {
  (void)state;
  expect(g_file, 0, DYNRT_ERR_FORMAT, "fewer than the 8-byte header length");
  expect(g_file, 5, DYNRT_ERR_FORMAT, "has 5 bytes, fewer than the 8-byte header length");
  expect(g_file, 100, DYNRT_ERR_FORMAT, "goes past the end of the file (100 bytes)");
  expect(g_file, 8 + g_hlen, DYNRT_ERR_FORMAT, "ends at data byte");
  expect(g_file, g_size - 1, DYNRT_ERR_FORMAT, "ends at data byte");
  /* through the file path too (mmap) */
  char path[] = "/tmp/dynrt_test_loader_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_true(write(fd, g_file, g_size / 2) == (ssize_t)(g_size / 2));
  close(fd);
  dynrt_model *m;
  dynrt_error err;
  assert_int_equal(dynrt_model_load(path, &m, &err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, path));
  assert_non_null(strstr(err.msg, "ends at data byte"));
  unlink(path);
}

static void test_header_length(void **state) {
  (void)state;
  unsigned char *p = malloc(g_size);
  memcpy(p, g_file, g_size);
  uint64_t big = (uint64_t)1 << 40;
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(big >> (8 * i));
  expect(p, g_size, DYNRT_ERR_FORMAT, "header length 1099511627776 goes past the end");
  uint64_t exact = g_size - 7;
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(exact >> (8 * i));
  expect(p, g_size, DYNRT_ERR_FORMAT, "goes past the end");
  free(p);
  /* over the 16 MiB limit but inside the file */
  size_t n = 8 + (17u << 20);
  p = calloc(1, n);
  uint64_t hl = 17u << 20;
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(hl >> (8 * i));
  expect(p, n, DYNRT_ERR_UNSUPPORTED, "exceeds the limit of 16777216 bytes");
  free(p);
}

static void test_not_json(void **state) {
  (void)state;
  size_t n;
  unsigned char *p = rebuild("this is not JSON at all", 0, &n);
  expect(p, n, DYNRT_ERR_FORMAT, "header is not valid JSON");
  free(p);
  p = rebuild("[1, 2, 3]", 0, &n);
  expect(p, n, DYNRT_ERR_FORMAT, "header is not a JSON object");
  free(p);
  p = rebuild("{\"__metadata__\": {}} trailing", 0, &n);
  expect(p, n, DYNRT_ERR_FORMAT, "trailing bytes after the JSON object");
  free(p);
  char deep[200];
  memset(deep, '[', 40);
  memset(deep + 40, ']', 40);
  deep[80] = 0;
  p = rebuild(deep, 0, &n);
  expect(p, n, DYNRT_ERR_FORMAT, "nests deeper than 32");
  free(p);
  p = rebuild("{\"__metadata__\": {\"dynrt.format\": \"1\"}}", 0, &n);
  expect(p, n, DYNRT_ERR_FORMAT, "__metadata__ has no 'dynrt.arch'");
  free(p);
  p = rebuild("{\"__metadata__\": {\"dynrt.format\": \"2\"}}", 0, &n);
  expect(p, n, DYNRT_ERR_UNSUPPORTED, "'dynrt.format' = '2'");
  free(p);
  p = rebuild("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 0, &n);
  expect(p, n, DYNRT_ERR_FORMAT, "header has no '__metadata__'");
  free(p);
  p = rebuild("{\"__metadata__\": {\"dynrt.format\": 1}}", 0, &n);
  expect(p, n, DYNRT_ERR_FORMAT, "__metadata__ 'dynrt.format' is not a string");
  free(p);
}

static void test_tensor_table(void **state) {
  (void)state;
  cJSON *h = header();
  cJSON_DeleteItemFromObjectCaseSensitive(h, "blocks.3.dw.5to3_matrix");
  expect_edit(h, 0, DYNRT_ERR_FORMAT, "tensor 'blocks.3.dw.5to3_matrix' is missing");

  /* an extra tensor in 4 bytes appended to the data section */
  h = header();
  size_t dl = g_size - 8 - g_hlen;
  char extra[200];
  snprintf(extra, sizeof extra, "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%zu,%zu]}", dl,
           dl + 4);
  cJSON_AddItemToObject(h, "blocks.0.bogus", cJSON_Parse(extra));
  expect_edit(h, 4, DYNRT_ERR_FORMAT,
              "tensor 'blocks.0.bogus' is not part of architecture 'dynrt-tiny'");

  h = header();
  cJSON *t = cJSON_GetObjectItemCaseSensitive(h, "head.mix.weight");
  cJSON_ReplaceItemInObjectCaseSensitive(t, "dtype", cJSON_CreateString("F16"));
  expect_edit(h, 0, DYNRT_ERR_UNSUPPORTED,
              "tensor 'head.mix.weight': dtype 'F16', dynrt reads only F32");

  /* same byte count, wrong shape */
  h = header();
  t = cJSON_GetObjectItemCaseSensitive(h, "stem.conv.weight");
  int dims[4] = {3, 8, 3, 3};
  cJSON_ReplaceItemInObjectCaseSensitive(t, "shape", cJSON_CreateIntArray(dims, 4));
  expect_edit(h, 0, DYNRT_ERR_FORMAT,
              "tensor 'stem.conv.weight' has shape [3, 8, 3, 3], expected [8, 3, 3, 3]");

  /* shape and byte range disagree */
  h = header();
  t = cJSON_GetObjectItemCaseSensitive(h, "stem.bn.weight");
  int d1[1] = {9};
  cJSON_ReplaceItemInObjectCaseSensitive(t, "shape", cJSON_CreateIntArray(d1, 1));
  expect_edit(h, 0, DYNRT_ERR_FORMAT,
              "tensor 'stem.bn.weight': data_offsets span 32 bytes, shape needs 36");

  /* overlap: one tensor's range moved onto another's */
  h = header();
  cJSON *a = cJSON_GetObjectItemCaseSensitive(h, "stem.bn.bias");
  cJSON *b = cJSON_GetObjectItemCaseSensitive(h, "stem.bn.weight");
  cJSON_ReplaceItemInObjectCaseSensitive(
      a, "data_offsets", cJSON_Duplicate(cJSON_GetObjectItem(b, "data_offsets"), 1));
  expect_edit(h, 0, DYNRT_ERR_FORMAT, "overlaps tensor 'stem.bn.");

  /* out of range */
  h = header();
  a = cJSON_GetObjectItemCaseSensitive(h, "stem.bn.bias");
  double offs[2] = {(double)dl, (double)dl + 32};
  cJSON_ReplaceItemInObjectCaseSensitive(a, "data_offsets", cJSON_CreateDoubleArray(offs, 2));
  char want[128];
  snprintf(want, sizeof want, "tensor 'stem.bn.bias' ends at data byte %zu, data section has %zu",
           dl + 32, dl);
  expect_edit(h, 0, DYNRT_ERR_FORMAT, want);

  h = header();
  a = cJSON_GetObjectItemCaseSensitive(h, "stem.bn.bias");
  double rev[2] = {64, 32};
  cJSON_ReplaceItemInObjectCaseSensitive(a, "data_offsets", cJSON_CreateDoubleArray(rev, 2));
  expect_edit(h, 0, DYNRT_ERR_FORMAT, "data_offsets [64, 32] end before begin");

  /* huge dimensions */
  h = header();
  a = cJSON_GetObjectItemCaseSensitive(h, "stem.bn.bias");
  int huge[1] = {(1 << 20) + 1};
  cJSON_ReplaceItemInObjectCaseSensitive(a, "shape", cJSON_CreateIntArray(huge, 1));
  expect_edit(h, 0, DYNRT_ERR_UNSUPPORTED, "tensor 'stem.bn.bias': shape[0] = 1048577 exceeds");
  h = header();
  a = cJSON_GetObjectItemCaseSensitive(h, "stem.bn.bias");
  int big2[3] = {1 << 20, 1 << 20, 1 << 20};
  cJSON_ReplaceItemInObjectCaseSensitive(a, "shape", cJSON_CreateIntArray(big2, 3));
  expect_edit(h, 0, DYNRT_ERR_UNSUPPORTED, "more than 2147483648 bytes");
  h = header();
  a = cJSON_GetObjectItemCaseSensitive(h, "stem.bn.bias");
  cJSON_ReplaceItemInObjectCaseSensitive(a, "shape", cJSON_Parse("[-1]"));
  expect_edit(h, 0, DYNRT_ERR_FORMAT, "shape[0] is not a non-negative integer");
  h = header();
  a = cJSON_GetObjectItemCaseSensitive(h, "stem.bn.bias");
  cJSON_AddItemToObject(a, "extra", cJSON_CreateNumber(1));
  expect_edit(h, 0, DYNRT_ERR_FORMAT, "tensor 'stem.bn.bias': unexpected or repeated field");

  /* a tensor name given twice */
  h = header();
  cJSON_AddItemToObject(h, "stem.bn.bias",
                        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, "stem.bn.bias"), 1));
  expect_edit(h, 0, DYNRT_ERR_FORMAT, "tensor 'stem.bn.bias' appears twice");
}

/* Rewrites one field of the architecture JSON and expects the error naming it. */
static void expect_arch(const char *path, cJSON *value, const char *want) {
  cJSON *h = header();
  cJSON *meta = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
  cJSON *arch = cJSON_Parse(cJSON_GetObjectItem(meta, "dynrt.arch")->valuestring);
  /* path: "a.b" or "stages.1.width" */
  char buf[128];
  snprintf(buf, sizeof buf, "%s", path);
  cJSON *obj = arch;
  char *save, *tok = strtok_r(buf, ".", &save), *next;
  while ((next = strtok_r(NULL, ".", &save))) {
    obj = cJSON_IsArray(obj) ? cJSON_GetArrayItem(obj, atoi(tok))
                             : cJSON_GetObjectItemCaseSensitive(obj, tok);
    tok = next;
  }
  if (value) {
    if (cJSON_IsArray(obj))
      cJSON_ReplaceItemInArray(obj, atoi(tok), value);
    else if (cJSON_GetObjectItemCaseSensitive(obj, tok))
      cJSON_ReplaceItemInObjectCaseSensitive(obj, tok, value);
    else
      cJSON_AddItemToObject(obj, tok, value);
  } else {
    cJSON_DeleteItemFromObjectCaseSensitive(obj, tok);
  }
  char *text = cJSON_PrintUnformatted(arch);
  cJSON_ReplaceItemInObjectCaseSensitive(meta, "dynrt.arch", cJSON_CreateString(text));
  cJSON_free(text);
  cJSON_Delete(arch);
  expect_edit(h, 0, DYNRT_ERR_FORMAT, want);
}

static void test_bad_arch(void **state) {
  (void)state;
  expect_arch("stages.1.width", cJSON_CreateNumber(-3),
              "dynrt.arch: field 'stages[1].width' = -3, expected an integer in 1..16384");
  expect_arch("stages.0.act", cJSON_CreateString("gelu"),
              "field 'stages[0].act' = 'gelu', expected relu, relu6, hswish or none");
  expect_arch("kernel_sizes", cJSON_Parse("[3,4]"), "field 'kernel_sizes' has 4");
  expect_arch("kernel_sizes", cJSON_Parse("[3,3]"), "'kernel_sizes[1]' = 3 repeats");
  expect_arch("family", cJSON_CreateString("resnet"), "field 'family' = 'resnet'");
  expect_arch("head", NULL, "field 'head' = (missing), expected an object");
  expect_arch("stem.stride", cJSON_CreateNumber(3),
              "field 'stem.stride' = 3, expected an integer in 1..2");
  expect_arch("first_block.kernel", cJSON_CreateNumber(1),
              "field 'first_block.kernel' = 1, expected 3, 5 or 7");
  expect_arch("input.resolutions", cJSON_Parse("[]"), "field 'input.resolutions'");
  expect_arch("input.std.1", cJSON_CreateNumber(0), "field 'input.std[1]' = 0");
  expect_arch("bn_eps", cJSON_CreateString("small"), "field 'bn_eps' = 'small'");
  expect_arch("stages.2.se", cJSON_CreateNumber(1), "field 'stages[2].se' = 1");
  expect_arch("width_mults", cJSON_Parse("[1.5]"), "field 'width_mults[0]' = 1.5");
  expect_arch("num_classes", cJSON_CreateNumber(8), "field 'class_names' = (array of 7)");
  expect_arch("stages.0.depths", cJSON_Parse("[1,2,17]"), "field 'stages[0].depths[2]' = 17");
  expect_arch("version", cJSON_CreateNumber(2), "field 'version' = 2");
  /* a valid architecture that does not match the tensors */
  expect_arch("head.feature_mix", cJSON_CreateNumber(48),
              "tensor 'head.mix.weight' has shape [40, 32, 1, 1], expected [48, 32, 1, 1]");
  expect_arch("kernel_transform", cJSON_CreateFalse(),
              "tensor 'blocks.0.dw.5to3_matrix' is not part of architecture");
}

/* Tensors at unaligned addresses (header length not a multiple of 4) load and run. */
static void test_unaligned_data(void **state) {
  (void)state;
  cJSON *h = header();
  char *text = cJSON_PrintUnformatted(h);
  size_t tl = strlen(text);
  char *padded = malloc(tl + 4);
  memcpy(padded, text, tl);
  size_t pad = (4 - (8 + tl) % 4) % 4 + 1; /* data starts 1 byte past alignment */
  memset(padded + tl, ' ', pad);
  padded[tl + pad] = 0;
  size_t n;
  unsigned char *p = rebuild(padded, 0, &n);
  dynrt_model *m1, *m2;
  assert_int_equal(dynrt_model_load_memory(p, n, "unaligned", &m1, NULL), 0);
  assert_int_equal(dynrt_model_load_memory(g_file, g_size, "aligned", &m2, NULL), 0);
  /* both give bit-identical logits */
  float in[20 * 20 * 3], out[2][7];
  for (int i = 0; i < 20 * 20 * 3; i++) in[i] = (float)((i * 7) % 13) / 6.0f - 1.0f;
  dynrt_model *ms[2] = {m1, m2};
  for (int k = 0; k < 2; k++) {
    dynrt_session *s;
    assert_int_equal(dynrt_session_create(ms[k], NULL, &s, NULL), 0);
    assert_int_equal(dynrt_session_run_tensor(s, in, 20), 0);
    memcpy(out[k], dynrt_session_logits(s, NULL), sizeof out[k]);
    dynrt_session_destroy(s);
  }
  assert_memory_equal(out[0], out[1], sizeof out[0]);
  dynrt_model_destroy(m1);
  dynrt_model_destroy(m2);
  free(p);
  free(padded);
  cJSON_free(text);
  cJSON_Delete(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_file), cmocka_unit_test(test_io_errors),
      cmocka_unit_test(test_truncated), cmocka_unit_test(test_header_length),
      cmocka_unit_test(test_not_json),  cmocka_unit_test(test_tensor_table),
      cmocka_unit_test(test_bad_arch),  cmocka_unit_test(test_unaligned_data),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_dataset.c - data set readers: CIFAR-10 binary files (good, truncated, bad label,
 * ranges), name resolution, synthetic and in-memory sets, the preprocessing function. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dynrt/engine.h"
#include "dynrt/offline.h"

static char dir[256];

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

/* n records: label i % 10 (or bad_label at record bad_at), pixel R/G/B planes = i, 100+c, y. */
static void write_cifar(const char *path, int n, int bad_at, int bad_label, int extra) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (int i = 0; i < n; i++) {
    unsigned char rec[3073];
    rec[0] = (unsigned char)(i == bad_at ? bad_label : i % 10);
    for (int c = 0; c < 3; c++)
      for (int p = 0; p < 1024; p++)
        rec[1 + c * 1024 + p] = (unsigned char)(c == 0 ? i : c == 1 ? 100 + p % 7 : p / 32);
    assert_int_equal(fwrite(rec, 1, sizeof rec, f), sizeof rec);
  }
  for (int i = 0; i < extra; i++) fputc(0, f);
  fclose(f);
}

static void test_cifar_good(void **state) {
  (void)state;
  char p[512];
  path_in(p, sizeof p, "good.bin");
  write_cifar(p, 5, -1, 0, 0);
  dynrt_dataset *ds = NULL;
  dynrt_error err;
  assert_int_equal(dynrt_dataset_open_cifar(p, 0, 0, 10, &ds, &err), DYNRT_OK);
  assert_int_equal(dynrt_dataset_count(ds), 5);
  dynrt_image im;
  dynrt_dataset_get(ds, 3, &im);
  assert_int_equal(im.label, 3);
  assert_int_equal(im.width, 32);
  assert_int_equal(im.height, 32);
  /* planar -> HWC: pixel (y=2, x=5) */
  const uint8_t *px = im.rgb + (2 * 32 + 5) * 3;
  assert_int_equal(px[0], 3);
  assert_int_equal(px[1], 100 + (2 * 32 + 5) % 7);
  assert_int_equal(px[2], 2);
  dynrt_dataset_destroy(ds);
  /* a range */
  assert_int_equal(dynrt_dataset_open_cifar(p, 2, 2, 10, &ds, &err), DYNRT_OK);
  assert_int_equal(dynrt_dataset_count(ds), 2);
  dynrt_dataset_get(ds, 0, &im);
  assert_int_equal(im.label, 2);
  dynrt_dataset_destroy(ds);
  /* count past the end is clamped; first past the end is an error */
  assert_int_equal(dynrt_dataset_open_cifar(p, 4, 100, 10, &ds, &err), DYNRT_OK);
  assert_int_equal(dynrt_dataset_count(ds), 1);
  dynrt_dataset_destroy(ds);
  assert_int_equal(dynrt_dataset_open_cifar(p, 5, 0, 10, &ds, &err), DYNRT_ERR_INVALID_ARG);
  assert_null(ds);
  dynrt_dataset_destroy(NULL);
}

static void test_cifar_malformed(void **state) {
  (void)state;
  char p[512];
  dynrt_dataset *ds = (dynrt_dataset *)1;
  dynrt_error err;
  path_in(p, sizeof p, "short.bin");
  write_cifar(p, 2, -1, 0, 100);
  assert_int_equal(dynrt_dataset_open_cifar(p, 0, 0, 10, &ds, &err), DYNRT_ERR_FORMAT);
  assert_null(ds);
  assert_non_null(strstr(err.msg, "short.bin"));
  assert_non_null(strstr(err.msg, "3073"));
  path_in(p, sizeof p, "label.bin");
  write_cifar(p, 4, 2, 12, 0);
  assert_int_equal(dynrt_dataset_open_cifar(p, 0, 0, 10, &ds, &err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "label.bin"));
  assert_non_null(strstr(err.msg, "record 2"));
  assert_non_null(strstr(err.msg, "label 12"));
  /* the same label is fine for a 16-class set; a 3-class set rejects record 3 (label 3) */
  assert_int_equal(dynrt_dataset_open_cifar(p, 0, 0, 16, &ds, &err), DYNRT_OK);
  dynrt_dataset_destroy(ds);
  /* a model with more classes than a label byte holds (ImageNet's 1000) reads it too */
  assert_int_equal(dynrt_dataset_open_cifar(p, 0, 0, 1000, &ds, &err), DYNRT_OK);
  assert_int_equal(dynrt_dataset_count(ds), 4);
  dynrt_dataset_destroy(ds);
  path_in(p, sizeof p, "empty.bin");
  write_cifar(p, 0, -1, 0, 0);
  assert_int_equal(dynrt_dataset_open_cifar(p, 0, 0, 10, &ds, &err), DYNRT_ERR_FORMAT);
  path_in(p, sizeof p, "missing.bin");
  assert_int_equal(dynrt_dataset_open_cifar(p, 0, 0, 10, &ds, &err), DYNRT_ERR_IO);
  assert_non_null(strstr(err.msg, "missing.bin"));
}

static void test_resolve(void **state) {
  (void)state;
  char p[1024], out[1024];
  dynrt_error err;
  char sub[512];
  snprintf(sub, sizeof sub, "%s/cifar10", dir);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "mkdir -p %s", sub);
  assert_int_equal(system(cmd), 0);
  snprintf(p, sizeof p, "%s/val.bin", sub);
  write_cifar(p, 1, -1, 0, 0);
  setenv("DYNRT_DATA", dir, 1);
  assert_int_equal(dynrt_dataset_resolve("cifar10-val", out, sizeof out, &err), DYNRT_OK);
  assert_string_equal(out, p);
  setenv("DYNRT_DATA", sub, 1); /* a path ending in cifar10 is used as is */
  assert_int_equal(dynrt_dataset_resolve("cifar10-val", out, sizeof out, &err), DYNRT_OK);
  assert_string_equal(out, p);
  unsetenv("DYNRT_SOURCE_DIR");
  assert_int_equal(dynrt_dataset_resolve("cifar10-test", out, sizeof out, &err),
                   DYNRT_ERR_NOT_FOUND);
  assert_non_null(strstr(err.msg, "cifar10-test"));
  assert_int_equal(dynrt_dataset_resolve("some/file.bin", out, sizeof out, &err), DYNRT_OK);
  assert_string_equal(out, "some/file.bin");
  unsetenv("DYNRT_DATA");
}

static void test_synthetic_and_memory(void **state) {
  (void)state;
  dynrt_dataset *a = NULL, *b = NULL, *c = NULL;
  dynrt_error err;
  assert_int_equal(dynrt_dataset_synthetic(10, 16, 7, 3, &a, &err), DYNRT_OK);
  assert_int_equal(dynrt_dataset_synthetic(10, 16, 7, 3, &b, &err), DYNRT_OK);
  dynrt_image x, y;
  for (size_t i = 0; i < 10; i++) {
    dynrt_dataset_get(a, i, &x);
    dynrt_dataset_get(b, i, &y);
    assert_memory_equal(x.rgb, y.rgb, 16 * 16 * 3);
    assert_int_equal(x.label, (int)((i * 3 + 1) % 7));
  }
  assert_int_equal(dynrt_dataset_create(2, "mem", &c, &err), DYNRT_OK);
  uint8_t img[4 * 2 * 3 + 6]; /* 4x2 image with a row stride of 15 bytes */
  for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)i;
  assert_int_equal(dynrt_dataset_add(c, img, 4, 2, 15, 1, &err), DYNRT_OK);
  assert_int_equal(dynrt_dataset_add(c, img, 4, 2, 15, 2, &err), DYNRT_OK);
  assert_int_equal(dynrt_dataset_add(c, img, 4, 2, 15, 3, &err), DYNRT_ERR_STATE);
  assert_int_equal(dynrt_dataset_add(c, img, 4, 2, 11, 3, &err), DYNRT_ERR_INVALID_ARG);
  dynrt_dataset_get(c, 1, &x);
  assert_int_equal(x.label, 2);
  assert_int_equal(x.rgb[12], 15); /* second row starts at the stride */
  dynrt_dataset_destroy(a);
  dynrt_dataset_destroy(b);
  dynrt_dataset_destroy(c);
}

/* dynrt_preprocess equals what a session computes on the same image: same logits. */
static void test_preprocess_matches_session(void **state) {
  (void)state;
  dynrt_model *m = NULL;
  dynrt_error err;
  assert_int_equal(dynrt_model_load(DYNRT_SOURCE_DIR "/tests/fixtures/tiny.safetensors", &m, &err),
                   DYNRT_OK);
  dynrt_dataset *ds = NULL;
  assert_int_equal(dynrt_dataset_synthetic(2, 32, 7, 1, &ds, &err), DYNRT_OK);
  dynrt_session *s = NULL;
  assert_int_equal(dynrt_session_create(m, NULL, &s, &err), DYNRT_OK);
  dynrt_subnet cfg;
  dynrt_subnet_smallest(m, &cfg); /* r = 16: a real resize from 32 */
  assert_int_equal(dynrt_session_set_subnet(s, &cfg, NULL), DYNRT_OK);
  dynrt_image im;
  dynrt_dataset_get(ds, 1, &im);
  float in[16 * 16 * 3], a[16], b[16];
  size_t n;
  dynrt_preprocess(m, 16, &im, in);
  assert_int_equal(dynrt_session_run_tensor(s, in, 16), DYNRT_OK);
  const float *lg = dynrt_session_logits(s, &n);
  assert_true(lg && n == 7);
  memcpy(a, lg, n * sizeof(float));
  assert_int_equal(dynrt_session_run_image(s, im.rgb, 32, 32, 96), DYNRT_OK);
  lg = dynrt_session_logits(s, &n);
  memcpy(b, lg, n * sizeof(float));
  assert_memory_equal(a, b, n * sizeof(float));
  dynrt_session_destroy(s);
  dynrt_dataset_destroy(ds);
  dynrt_model_destroy(m);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/dynrt_test_dataset_XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cifar_good),
      cmocka_unit_test(test_cifar_malformed),
      cmocka_unit_test(test_resolve),
      cmocka_unit_test(test_synthetic_and_memory),
      cmocka_unit_test(test_preprocess_matches_session),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

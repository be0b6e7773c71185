/* test_core.c - status strings, errors, allocator fault injection, arena, CPU features. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static void test_status_strings(void **state) {
  (void)state;
  assert_string_equal(dynrt_status_str(DYNRT_OK), "ok");
  assert_string_equal(dynrt_status_str(DYNRT_ERR_NOMEM), "out of memory");
  assert_string_equal(dynrt_status_str((dynrt_status)12345), "unknown status");
  for (int s = 0; s >= DYNRT_ERR_INTERNAL; s--)
    assert_string_not_equal(dynrt_status_str((dynrt_status)s), "unknown status");
}

static void test_errmsg(void **state) {
  (void)state;
  dynrt_err e;
  dynrt__clearerr(&e);
  assert_string_equal(dynrt__errmsg(&e), "ok");
  assert_int_equal(dynrt__seterr(&e, DYNRT_ERR_FORMAT, "file %s: bad %d", "x.bin", 7),
                   DYNRT_ERR_FORMAT);
  assert_string_equal(dynrt__errmsg(&e), "file x.bin: bad 7");
  assert_int_equal(e.status, DYNRT_ERR_FORMAT);
  /* Long messages are truncated, never overflow. */
  char big[2000];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  dynrt__seterr(&e, DYNRT_ERR_IO, "%s", big);
  assert_int_equal(strlen(dynrt__errmsg(&e)), DYNRT_ERRMSG_MAX - 1);
}

static void test_alloc_fail(void **state) {
  (void)state;
  dynrt_alloc_fail_after(2, 0);
  void *a = dynrt__malloc(10);
  void *b = dynrt__malloc(10);
  void *c = dynrt__malloc(10);
  assert_non_null(a);
  assert_null(b);
  assert_non_null(c);
  dynrt__free(a);
  dynrt__free(c);
  dynrt_alloc_fail_after(1, 1);
  assert_null(dynrt__malloc(1));
  assert_null(dynrt__calloc(2, 2));
  assert_int_equal(dynrt_alloc_fail_after(0, 0), 2);
  void *d = dynrt__aligned_alloc(100, 64);
  assert_non_null(d);
  assert_int_equal((uintptr_t)d % 64, 0);
  dynrt__free(d);
  dynrt__free(NULL);
  assert_null(dynrt__calloc(SIZE_MAX / 2, 4));
}

static void test_arena(void **state) {
  (void)state;
  dynrt_arena a;
  assert_int_equal(dynrt__arena_init(&a, 1000, 64), DYNRT_OK);
  float *x = dynrt__arena_alloc(&a, 100);
  float *y = dynrt__arena_alloc(&a, 100);
  assert_non_null(x);
  assert_non_null(y);
  assert_int_equal((uintptr_t)y % 64, 0);
  assert_true((char *)y >= (char *)x + 100);
  assert_null(dynrt__arena_alloc(&a, 1000));
  dynrt__arena_reset(&a);
  assert_ptr_equal(dynrt__arena_alloc(&a, 8), x);
  dynrt__arena_free(&a);
  assert_int_equal(dynrt__arena_init(&a, 10, 3), DYNRT_ERR_INVALID_ARG);
  dynrt_alloc_fail_after(1, 0);
  assert_int_equal(dynrt__arena_init(&a, 10, 64), DYNRT_ERR_NOMEM);
  dynrt_alloc_fail_after(0, 0);
}

static void test_cpu_and_clock(void **state) {
  (void)state;
  char buf[128];
  unsigned f = dynrt_cpu_features();
  assert_int_equal(f, dynrt_cpu_features());
  dynrt_cpu_features_str(f, buf, sizeof buf);
  assert_true(strlen(buf) > 0);
  dynrt_cpu_features_str(DYNRT_CPU_AVX2 | DYNRT_CPU_FMA, buf, sizeof buf);
  assert_string_equal(buf, "avx2 fma");
  dynrt_cpu_features_str(DYNRT_CPU_AVX2 | DYNRT_CPU_FMA, buf, 6);
  assert_string_equal(buf, "avx2");
  if (f & DYNRT_CPU_AVX512F) assert_true(f & DYNRT_CPU_AVX2);
  uint64_t t0 = dynrt_now_ns(), t1 = dynrt_now_ns();
  assert_true(t1 >= t0);
}

static void test_log_level(void **state) {
  (void)state;
  dynrt_log_level old = dynrt_log_get_level();
  dynrt_log_set_level(DYNRT_LOG_DEBUG);
  assert_int_equal(dynrt_log_get_level(), DYNRT_LOG_DEBUG);
  dynrt_log_set_level(old);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_strings), cmocka_unit_test(test_errmsg),
      cmocka_unit_test(test_alloc_fail),     cmocka_unit_test(test_arena),
      cmocka_unit_test(test_cpu_and_clock),  cmocka_unit_test(test_log_level),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

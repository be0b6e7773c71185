/*
 * test_kernels_dispatch.c - DYNRT_KERNELS selection, which is read once per process: each
 * run sets the variable before the first use. Usage: test_kernels_dispatch [VALUE EXPECT]
 * where EXPECT is a table name or "best" (the table the CPU features choose). Without
 * arguments it forces "scalar". tests/cmake/kernels.cmake registers the other runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernels/kernels.h"

static const char *value = "scalar", *expect = "scalar";

/* The rule of dispatch.c, restated: AVX-512 F+BW+VL+DQ (with AVX2+FMA) > AVX2+FMA > scalar on
 * x86-64; NEON > scalar on AArch64. */
static const char *best_name(void) {
  unsigned f = dynrt_cpu_features();
  unsigned avx2 = DYNRT_CPU_AVX2 | DYNRT_CPU_FMA;
  unsigned avx512 =
      avx2 | DYNRT_CPU_AVX512F | DYNRT_CPU_AVX512BW | DYNRT_CPU_AVX512VL | DYNRT_CPU_AVX512DQ;
#if defined(__x86_64__)
  if ((f & avx512) == avx512) return "avx512";
  if ((f & avx2) == avx2) return "avx2";
#endif
#if defined(__aarch64__)
  if (f & DYNRT_CPU_NEON) return "neon";
#endif
  (void)f, (void)avx2, (void)avx512;
  return "scalar";
}

static void test_selection(void **state) {
  (void)state;
  const char *want = strcmp(expect, "best") ? expect : best_name();
  if (!dynrt__kernels_by_name(want)) {
    print_message("%s is not supported by this CPU\n", want);
    skip();
  }
  /* Capture stderr around the first use to see the warning for a bad value. */
  fflush(stderr);
  FILE *cap = tmpfile();
  assert_non_null(cap);
  int saved = dup(2);
  assert_true(saved >= 0);
  assert_true(dup2(fileno(cap), 2) >= 0);
  const dynrt_kernels *t = dynrt__kernels();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  char log[1024] = {0};
  rewind(cap);
  size_t got = fread(log, 1, sizeof log - 1, cap);
  fclose(cap);
  (void)got;

  assert_non_null(t);
  assert_string_equal(t->name, want);
  assert_ptr_equal(dynrt__kernels(), t);                            /* chosen once */
  int forced_ok = !*value || dynrt__kernels_by_name(value) != NULL; /* "" = unset */
  if (forced_ok)
    assert_null(strstr(log, "DYNRT_KERNELS"));
  else
    assert_non_null(strstr(log, "DYNRT_KERNELS"));
}

int main(int argc, char **argv) {
  if (argc == 3) value = argv[1], expect = argv[2];
  if (*value)
    setenv("DYNRT_KERNELS", value, 1);
  else
    unsetenv("DYNRT_KERNELS");
  setenv("DYNRT_LOG", "warn", 1);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_selection)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_sysfs.c - value parsers (CPU lists, frequency lists, integers, decimals), path joins
 * under a root, whole-file reads, the write path and its errors, directory listing order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fixtures/sysfs/fake_tree.h"

static void test_parse_cpulist(void **state) {
  (void)state;
  uint64_t m = 123;
  assert_int_equal(dynrt__parse_cpulist("0-3,5", &m), 0);
  assert_int_equal(m, 0x2f);
  assert_int_equal(dynrt__parse_cpulist("0 1 2 3", &m), 0); /* affected_cpus style */
  assert_int_equal(m, 0xf);
  assert_int_equal(dynrt__parse_cpulist("4\n", &m), 0);
  assert_int_equal(m, 0x10);
  assert_int_equal(dynrt__parse_cpulist("0-1,4-5,63", &m), 0);
  assert_int_equal(m, 0x33 | (1ull << 63));
  assert_int_equal(dynrt__parse_cpulist("", &m), 0); /* offline list of a full system */
  assert_int_equal(m, 0);
  m = 77;
  const char *bad[] = {"3-1", "0-", "-1", "a", "0,,1", "0,", "64", "0-64", "1;2", "0 x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(dynrt__parse_cpulist(bad[i], &m), -1);
    assert_int_equal(m, 77);
  }
}

static void test_parse_numbers(void **state) {
  (void)state;
  uint64_t u;
  int64_t i;
  double d;
  assert_int_equal(dynrt__parse_u64(" 1907200\n", &u), 0);
  assert_int_equal(u, 1907200);
  assert_int_equal(dynrt__parse_u64("18446744073709551615", &u), 0);
  assert_int_equal(dynrt__parse_u64("18446744073709551616", &u), -1);
  assert_int_equal(dynrt__parse_u64("-1", &u), -1);
  assert_int_equal(dynrt__parse_u64("12 34", &u), -1);
  assert_int_equal(dynrt__parse_u64("", &u), -1);
  assert_int_equal(dynrt__parse_u64("<unsupported>", &u), -1);
  assert_int_equal(dynrt__parse_i64("-1", &i), 0); /* CPUFREQ_ETERNAL as some drivers print */
  assert_int_equal(i, -1);
  assert_int_equal(dynrt__parse_i64("-9223372036854775808", &i), 0);
  assert_true(i == INT64_MIN);
  assert_int_equal(dynrt__parse_i64("9223372036854775808", &i), -1);
  assert_int_equal(dynrt__parse_i64("-", &i), -1);
  assert_int_equal(dynrt__parse_double("1.250000\n", &d), 0);
  assert_true(d == 1.25);
  assert_int_equal(dynrt__parse_double("3", &d), 0);
  assert_true(d == 3.0);
  const char *bad[] = {"nan", "inf", "0x10", "1e3", "1.2.3", ".", "-", "", "1,5"};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
    assert_int_equal(dynrt__parse_double(bad[k], &d), -1);
  /* Regression (fuzz_sysfs): 400 digits were accepted as +infinity. */
  char huge[402];
  memset(huge, '9', 400);
  huge[0] = '-';
  huge[400] = '\n';
  huge[401] = '\0';
  d = 5;
  assert_int_equal(dynrt__parse_double(huge, &d), -1);
  assert_true(d == 5);
  assert_int_equal(dynrt__parse_double(huge + 1, &d), -1);
}

/* Regression (fuzz_procfs): a file with a NUL byte came back with trailing whitespace before
 * the NUL ("0-3\n" for "0-3\n\0x"). The value ends at the NUL, trimmed, as a device-tree
 * model string ("Raspberry Pi 4 Model B\0") must read. */
static void test_read_nul(void **state) {
  (void)state;
  char root[64], path[FK_PATH], buf[64];
  fk_mkroot(root);
  static const struct {
    const char *bytes;
    size_t n;
    const char *want;
  } cases[] = {{"0-3\n\0x 5", 9, "0-3"},
               {"Raspberry Pi 4 Model B\0", 23, "Raspberry Pi 4 Model B"},
               {"\0 12", 4, ""}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fk_write(root, "v", "x");
    snprintf(path, sizeof path, "%s/v", root);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(cases[i].bytes, 1, cases[i].n, f), cases[i].n);
    fclose(f);
    assert_int_equal(dynrt__sysfs_read(path, buf, sizeof buf, NULL), DYNRT_OK);
    assert_string_equal(buf, cases[i].want);
  }
  fk_rmtree(root);
}

static void test_parse_u32_list(void **state) {
  (void)state;
  uint32_t v[4];
  assert_int_equal(dynrt__parse_u32_list("600000 700000 800000 \n", v, 4, 1), 3);
  assert_int_equal(v[2], 800000);
  /* devfreq Hz to kHz. */
  assert_int_equal(dynrt__parse_u32_list("114750000 1109250000", v, 4, 1000), 2);
  assert_int_equal(v[0], 114750);
  assert_int_equal(v[1], 1109250);
  assert_int_equal(dynrt__parse_u32_list("", v, 4, 1), 0);
  assert_int_equal(dynrt__parse_u32_list("1 2 3 4 5", v, 4, 1), -1);
  assert_int_equal(dynrt__parse_u32_list("1 x", v, 4, 1), -1);
  assert_int_equal(dynrt__parse_u32_list("4294967296", v, 4, 1), -1);
  assert_int_equal(dynrt__parse_u32_list("4294967296000", v, 4, 1000), -1);
  assert_int_equal(dynrt__parse_u32_list("4294967295000", v, 4, 1000), 1);
}

static void test_paths(void **state) {
  (void)state;
  char b[64];
  assert_int_equal(dynrt__sysfs_path(b, sizeof b, "/tmp/r/", "sys/%s", "x"), 0);
  assert_string_equal(b, "/tmp/r/sys/x");
  assert_int_equal(dynrt__sysfs_path(b, sizeof b, "", "sys/x"), 0);
  assert_string_equal(b, "/sys/x");
  assert_int_equal(dynrt__sysfs_path(b, sizeof b, "/", "/proc/stat"), 0);
  assert_string_equal(b, "/proc/stat");
  char small[8];
  assert_int_equal(dynrt__sysfs_path(small, sizeof small, "/tmp", "sys/x"), -1);
  assert_string_equal(small, "");
  char q[48];
  assert_string_equal(dynrt__sysfs_quote("ab\x01"
                                         "c",
                                         q, sizeof q),
                      "ab?c");
  dynrt__sysfs_quote("0123456789012345678901234567890123456789ABCDEF", q, sizeof q);
  assert_string_equal(q, "0123456789012345678901234567890123456789...");
  char c[4];
  assert_string_equal(dynrt__sysfs_copy(c, sizeof c, "abcdef"), "abc");
}

static void test_read_write_list(void **state) {
  (void)state;
  char root[64], path[FK_PATH], buf[32];
  fk_mkroot(root);
  dynrt_err err;
  dynrt__clearerr(&err);
  fk_write(root, "a/value", "  42 \n\n");
  snprintf(path, sizeof path, "%s/a/value", root);
  assert_int_equal(dynrt__sysfs_read(path, buf, sizeof buf, &err), DYNRT_OK);
  assert_string_equal(buf, "  42");
  uint64_t u;
  assert_int_equal(dynrt__sysfs_read_u64(path, &u, &err), DYNRT_OK);
  assert_int_equal(u, 42);
  /* Too long for the buffer. */
  fk_write(root, "a/long", "%s", "0123456789012345678901234567890123456789");
  snprintf(path, sizeof path, "%s/a/long", root);
  assert_int_equal(dynrt__sysfs_read(path, buf, sizeof buf, &err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "a/long"));
  /* Missing, and a directory. */
  snprintf(path, sizeof path, "%s/a/missing", root);
  assert_int_equal(dynrt__sysfs_read(path, buf, sizeof buf, &err), DYNRT_ERR_NOT_FOUND);
  snprintf(path, sizeof path, "%s/a", root);
  assert_int_equal(dynrt__sysfs_read(path, buf, sizeof buf, &err), DYNRT_ERR_IO);
  /* Garbage content is quoted. */
  fk_write(root, "a/garbage", "12kHz\n");
  snprintf(path, sizeof path, "%s/a/garbage", root);
  assert_int_equal(dynrt__sysfs_read_u64(path, &u, &err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "'12kHz'"));
  uint64_t m;
  assert_int_equal(dynrt__sysfs_read_cpulist(path, &m, &err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "CPU list"));
  /* Writes replace the whole content; missing files are not created. */
  fk_write(root, "a/w", "1907200\n");
  snprintf(path, sizeof path, "%s/a/w", root);
  assert_int_equal(dynrt__sysfs_write(path, "115200", &err), DYNRT_OK);
  assert_string_equal(fk_read(root, "a/w", buf, sizeof buf), "115200");
  assert_int_equal(dynrt__sysfs_probe_write(path), 0);
  snprintf(path, sizeof path, "%s/a/nofile", root);
  assert_int_equal(dynrt__sysfs_write(path, "1", &err), DYNRT_ERR_NOT_FOUND);
  assert_non_null(strstr(err.msg, "write '1' to"));
  assert_false(dynrt__sysfs_exists(path));
  assert_int_equal(dynrt__sysfs_probe_write(path), ENOENT);
  /* A path under a regular file fails for root too. */
  snprintf(path, sizeof path, "%s/a/w/x", root);
  assert_int_equal(dynrt__sysfs_write(path, "1", &err), DYNRT_ERR_NOT_FOUND);
  assert_int_equal(dynrt__sysfs_write("/dev/full", "1", &err), DYNRT_ERR_IO);
  assert_non_null(strstr(err.msg, "/dev/full"));
  /* errno mapping. */
  assert_int_equal(dynrt__sysfs_errno_status(EACCES), DYNRT_ERR_PERMISSION);
  assert_int_equal(dynrt__sysfs_errno_status(EROFS), DYNRT_ERR_PERMISSION);
  assert_int_equal(dynrt__sysfs_errno_status(EPERM), DYNRT_ERR_PERMISSION);
  assert_int_equal(dynrt__sysfs_errno_status(EBUSY), DYNRT_ERR_BUSY);
  assert_int_equal(dynrt__sysfs_errno_status(EINVAL), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt__sysfs_errno_status(EIO), DYNRT_ERR_IO);
  /* Natural order: policy2 before policy10. */
  fk_write(root, "d/policy10/x", "1");
  fk_write(root, "d/policy2/x", "1");
  fk_write(root, "d/policy0/x", "1");
  fk_write(root, "d/other/x", "1");
  char names[4][DYNRT_SYSFS_NAME_MAX];
  snprintf(path, sizeof path, "%s/d", root);
  assert_int_equal(dynrt__sysfs_list(path, "policy", names, 4), 3);
  assert_string_equal(names[0], "policy0");
  assert_string_equal(names[1], "policy2");
  assert_string_equal(names[2], "policy10");
  assert_int_equal(dynrt__sysfs_list(path, "policy", names, 2), 2);
  snprintf(path, sizeof path, "%s/nodir", root);
  assert_int_equal(dynrt__sysfs_list(path, "", names, 4), -1);
  fk_rmtree(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_cpulist),   cmocka_unit_test(test_parse_numbers),
      cmocka_unit_test(test_parse_u32_list),  cmocka_unit_test(test_paths),
      cmocka_unit_test(test_read_write_list), cmocka_unit_test(test_read_nul),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_platform_linux_energy.c - the energy sensor layer on fake trees: RAPL counters and
 * their wrap-around, Jetson INA3221 in the JetPack 4 (iio) and JetPack 5 (hwmon) layouts,
 * Odroid INA231, generic hwmon, trapezoid integration on a given clock, zero and garbage
 * readings, and no sensor at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fixtures/sysfs/fake_tree.h"
#include "platform/energy.h"

#define SEC 1000000000ull

static int setup(void **state) {
  static char root[64];
  fk_mkroot(root);
  *state = root;
  return 0;
}

static int teardown(void **state) {
  fk_rmtree(*state);
  return 0;
}

static dynrt__energy *open_at(const char *root, uint64_t t) {
  dynrt__energy *e = NULL;
  dynrt_err err;
  dynrt__clearerr(&err);
  dynrt_status st = dynrt__energy_open(root, t, &e, &err);
  if (st != DYNRT_OK) fprintf(stderr, "energy open: %s\n", err.msg);
  assert_int_equal(st, DYNRT_OK);
  return e;
}

static uint64_t read_at(dynrt__energy *e, uint64_t t) {
  uint64_t uj = 0;
  dynrt_err err;
  dynrt__clearerr(&err);
  dynrt_status st = dynrt__energy_read(e, t, &uj, &err);
  if (st != DYNRT_OK) fprintf(stderr, "energy read: %s\n", err.msg);
  assert_int_equal(st, DYNRT_OK);
  return uj;
}

static void test_rapl_counter_and_wrap(void **state) {
  const char *root = *state;
  fk_write(root, "sys/class/powercap/intel-rapl:0/name", "package-0\n");
  fk_write(root, "sys/class/powercap/intel-rapl:0/max_energy_range_uj", "1000000\n");
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "900000\n");
  /* Sub-zones (core, dram) are inside the package: not counted. */
  fk_write(root, "sys/class/powercap/intel-rapl:0:0/name", "core\n");
  fk_write(root, "sys/class/powercap/intel-rapl:0:0/max_energy_range_uj", "1000000\n");
  fk_write(root, "sys/class/powercap/intel-rapl:0:0/energy_uj", "10\n");
  dynrt__energy *e = open_at(root, 0);
  assert_string_equal(dynrt__energy_kind(e), "rapl");
  assert_string_equal(dynrt__energy_rails(e), "package-0");
  assert_int_equal(read_at(e, SEC), 0);
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "950000\n");
  assert_int_equal(read_at(e, 2 * SEC), 50000);
  /* Wrapped: 950000 -> range -> 0 -> 30000 is 50000 + 30000. */
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "30000\n");
  assert_int_equal(read_at(e, 3 * SEC), 130000);
  assert_true(dynrt__energy_last_power(e) > 0.0799 && dynrt__energy_last_power(e) < 0.0801);
  /* Garbage and out-of-range counters: errors naming the file and content; total kept. */
  dynrt_err err;
  uint64_t uj = 7;
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "12x\n");
  assert_int_equal(dynrt__energy_read(e, 4 * SEC, &uj, &err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "intel-rapl:0/energy_uj"));
  assert_non_null(strstr(err.msg, "'12x'"));
  assert_int_equal(uj, 7);
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "2000000\n");
  assert_int_equal(dynrt__energy_read(e, 4 * SEC, &uj, &err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "max_energy_range_uj"));
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "40000\n");
  assert_int_equal(read_at(e, 5 * SEC), 140000);
  dynrt__energy_close(e);
}

static void test_rapl_psys_and_packages(void **state) {
  const char *root = *state;
  for (int z = 0; z < 2; z++) {
    char f[96];
    snprintf(f, sizeof f, "sys/class/powercap/intel-rapl:%d/name", z);
    fk_write(root, f, "package-%d\n", z);
    snprintf(f, sizeof f, "sys/class/powercap/intel-rapl:%d/max_energy_range_uj", z);
    fk_write(root, f, "262143328850\n");
    snprintf(f, sizeof f, "sys/class/powercap/intel-rapl:%d/energy_uj", z);
    fk_write(root, f, "100\n");
  }
  dynrt__energy *e = open_at(root, 0);
  assert_string_equal(dynrt__energy_rails(e), "package-0+package-1");
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "200\n");
  fk_write(root, "sys/class/powercap/intel-rapl:1/energy_uj", "400\n");
  assert_int_equal(read_at(e, SEC), 400);
  dynrt__energy_close(e);
  /* psys covers the platform (packages included): it alone is counted. */
  fk_write(root, "sys/class/powercap/intel-rapl:2/name", "psys\n");
  fk_write(root, "sys/class/powercap/intel-rapl:2/max_energy_range_uj", "262143328850\n");
  fk_write(root, "sys/class/powercap/intel-rapl:2/energy_uj", "1000\n");
  e = open_at(root, 0);
  assert_string_equal(dynrt__energy_rails(e), "psys");
  fk_write(root, "sys/class/powercap/intel-rapl:2/energy_uj", "1600\n");
  assert_int_equal(read_at(e, SEC), 600);
  dynrt__energy_close(e);
}

static void test_jetson_iio_trapezoid(void **state) {
  const char *root = *state;
  fk_board_xavier_nx(root, 4); /* VDD_IN 4500 mW */
  dynrt__energy *e = open_at(root, 10 * SEC);
  assert_string_equal(dynrt__energy_kind(e), "ina3221-iio");
  assert_string_equal(dynrt__energy_rails(e), "VDD_IN");
  const char *f = "sys/bus/i2c/drivers/ina3221x/7-0040/iio:device0/in_power0_input";
  /* 4.5 W for 1 s, then a ramp 4.5 W -> 6.5 W over 2 s (trapezoid: 11 J). */
  assert_int_equal(read_at(e, 11 * SEC), 4500000);
  fk_write(root, f, "6500\n");
  assert_int_equal(read_at(e, 13 * SEC), 4500000 + 11000000);
  /* A read at the same time adds nothing. */
  assert_int_equal(read_at(e, 13 * SEC), 15500000);
  assert_true(dynrt__energy_last_power(e) == 6.5);
  /* Zero power is a sensor fault, named with its file and content. */
  fk_write(root, f, "0\n");
  dynrt_err err;
  uint64_t uj;
  assert_int_equal(dynrt__energy_read(e, 14 * SEC, &uj, &err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "in_power0_input"));
  assert_non_null(strstr(err.msg, "'0'"));
  fk_write(root, f, "fff\n");
  assert_int_equal(dynrt__energy_read(e, 14 * SEC, &uj, &err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "'fff'"));
  /* Recovery integrates from the last good sample (6.5 W at 13 s) to 15 s at 6.5 W. */
  fk_write(root, f, "6500\n");
  assert_int_equal(read_at(e, 15 * SEC), 15500000 + 13000000);
  dynrt__energy_close(e);
}

static void test_jetson_iio_without_vdd_in(void **state) {
  const char *root = *state;
  fk_board_xavier_nx(root, 4);
  const char *d = "sys/bus/i2c/drivers/ina3221x/7-0040/iio:device0/";
  char f[128];
  snprintf(f, sizeof f, "%srail_name_0", d);
  fk_write(root, f, "VDD_SYS_GPU\n");
  dynrt__energy *e = open_at(root, 0);
  /* No module input rail: the sum of rails (4500 + 900 + 1200 mW). */
  assert_string_equal(dynrt__energy_rails(e), "VDD_SYS_GPU+VDD_CPU_GPU_CV+VDD_SOC");
  assert_int_equal(read_at(e, SEC), 6600000);
  dynrt__energy_close(e);
}

static void test_jetson_hwmon_vi(void **state) {
  const char *root = *state;
  fk_board_xavier_nx(root, 5); /* VDD_IN 5000 mV x 1000 mA */
  dynrt__energy *e = open_at(root, 0);
  assert_string_equal(dynrt__energy_kind(e), "ina3221-hwmon");
  assert_string_equal(dynrt__energy_rails(e), "VDD_IN");
  assert_int_equal(read_at(e, 2 * SEC), 10000000);
  const char *cur = "sys/bus/i2c/drivers/ina3221/7-0040/hwmon/hwmon3/curr1_input";
  fk_write(root, cur, "-5\n");
  dynrt_err err;
  uint64_t uj;
  assert_int_equal(dynrt__energy_read(e, 3 * SEC, &uj, &err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "curr1_input"));
  fk_write(root, cur, "1400\n");
  /* 5 W at 2 s, 7 W at 3 s: +6 J. */
  assert_int_equal(read_at(e, 3 * SEC), 16000000);
  dynrt__energy_close(e);
}

static void test_odroid_ina231(void **state) {
  const char *root = *state;
  fk_board_odroid_xu3(root); /* 1.25 + 0.3 + 0.05 + 0.4 W */
  fk_write(root, "sys/bus/i2c/drivers/INA231/0-0045/enable", "0\n");
  dynrt__energy *e = open_at(root, 0);
  assert_string_equal(dynrt__energy_kind(e), "ina231");
  assert_string_equal(dynrt__energy_rails(e), "A15+MEM+GPU+A7");
  /* The disabled sensor was enabled, and is disabled again on close. */
  assert_int_equal(fk_read_ll(root, "sys/bus/i2c/drivers/INA231/0-0045/enable"), 1);
  assert_int_equal(read_at(e, SEC), 2000000);
  fk_write(root, "sys/bus/i2c/drivers/INA231/0-0040/sensor_W", "nan\n");
  dynrt_err err;
  uint64_t uj;
  assert_int_equal(dynrt__energy_read(e, 2 * SEC, &uj, &err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "0-0040/sensor_W"));
  assert_non_null(strstr(err.msg, "'nan'"));
  dynrt__energy_close(e);
  assert_int_equal(fk_read_ll(root, "sys/bus/i2c/drivers/INA231/0-0045/enable"), 0);
  /* All rails at 0.000000 W: the sensors are off. */
  const char *addr[4] = {"0-0040", "0-0041", "0-0044", "0-0045"};
  for (int i = 0; i < 4; i++) {
    char f[96];
    snprintf(f, sizeof f, "sys/bus/i2c/drivers/INA231/%s/sensor_W", addr[i]);
    fk_write(root, f, "0.000000\n");
  }
  e = open_at(root, 0);
  assert_int_equal(dynrt__energy_read(e, SEC, &uj, &err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "zero power"));
  assert_non_null(strstr(err.msg, "'0.000000'"));
  dynrt__energy_close(e);
}

static void test_generic_hwmon(void **state) {
  const char *root = *state;
  fk_write(root, "sys/class/hwmon/hwmon0/name", "acpitz\n");
  fk_write(root, "sys/class/hwmon/hwmon0/temp1_input", "40000\n");
  fk_write(root, "sys/class/hwmon/hwmon1/name", "ina226\n");
  fk_write(root, "sys/class/hwmon/hwmon1/power1_input", "2500000\n"); /* µW */
  fk_write(root, "sys/class/hwmon/hwmon2/name", "ina219\n");
  fk_write(root, "sys/class/hwmon/hwmon2/in1_input", "5000\n");  /* mV */
  fk_write(root, "sys/class/hwmon/hwmon2/curr1_input", "100\n"); /* mA */
  dynrt__energy *e = open_at(root, 0);
  assert_string_equal(dynrt__energy_kind(e), "hwmon");
  assert_string_equal(dynrt__energy_rails(e), "hwmon1:ina226+hwmon2:ina219");
  assert_int_equal(read_at(e, SEC), 3000000);
  dynrt__energy_close(e);
}

static void test_no_sensor(void **state) {
  const char *root = *state;
  fk_board_rpi4(root);
  dynrt__energy *e = (dynrt__energy *)1;
  dynrt_err err;
  assert_int_equal(dynrt__energy_open(root, 0, &e, &err), DYNRT_ERR_UNSUPPORTED);
  assert_null(e);
  assert_non_null(strstr(err.msg, "no energy sensor"));
  /* RAPL zone with an unusable range is reported in the message. */
  fk_write(root, "sys/class/powercap/intel-rapl:0/name", "package-0\n");
  fk_write(root, "sys/class/powercap/intel-rapl:0/max_energy_range_uj", "0\n");
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "5\n");
  assert_int_equal(dynrt__energy_open(root, 0, &e, &err), DYNRT_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "max_energy_range_uj is 0"));
  dynrt__energy_close(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rapl_counter_and_wrap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rapl_psys_and_packages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_jetson_iio_trapezoid, setup, teardown),
      cmocka_unit_test_setup_teardown(test_jetson_iio_without_vdd_in, setup, teardown),
      cmocka_unit_test_setup_teardown(test_jetson_hwmon_vi, setup, teardown),
      cmocka_unit_test_setup_teardown(test_odroid_ina231, setup, teardown),
      cmocka_unit_test_setup_teardown(test_generic_hwmon, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_sensor, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

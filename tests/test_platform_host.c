/* test_platform_host.c - the host backend on this machine (no cpufreq, no energy sensor
 * expected) and on fake roots: one domain of the cores this process may use, one fixed
 * frequency, the CPU power model, a sensor when there is one. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fixtures/sysfs/fake_tree.h"

static uint64_t affinity(void) {
  cpu_set_t set;
  uint64_t m = 0;
  assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
  for (int c = 0; c < 64; c++)
    if (CPU_ISSET(c, &set)) m |= 1ull << c;
  return m;
}

/* What the backend should find: cpuinfo_max_freq, else the first "cpu MHz" of /proc/cpuinfo
 * rounded to 50 MHz (the reading drifts on virtual machines). */
static uint32_t expected_khz(void) {
  FILE *f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "r");
  unsigned khz = 0;
  if (f) {
    if (fscanf(f, "%u", &khz) != 1) khz = 0;
    fclose(f);
  }
  if (khz) return khz;
  f = fopen("/proc/cpuinfo", "r");
  char line[256];
  double mhz = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "cpu MHz : %lf", &mhz) == 1) break;
  if (f) fclose(f);
  if (mhz > 0) return (uint32_t)(mhz / 50.0 + 0.5) * 50000u;
  return 0;
}

static dynrt_platform *open_host(const char *spec) {
  dynrt_platform *p = NULL;
  char err[256];
  dynrt_status st = fk_platform_open(spec, &p, err, sizeof err);
  if (st != DYNRT_OK) fprintf(stderr, "open %s: %s\n", spec, err);
  assert_int_equal(st, DYNRT_OK);
  return p;
}

static void test_host_this_machine(void **state) {
  (void)state;
  dynrt_platform *p = open_host("host");
  const dynrt_platform_info *info = dynrt_platform_get_info(p);
  assert_string_equal(info->backend, "host");
  assert_int_equal(info->ndomains, 1);
  assert_int_equal(info->simulated, 0);
  const dynrt_domain_info *d = dynrt_platform_domain(p, 0);
  uint64_t aff = affinity(), mask = 0;
  assert_int_equal(d->ncpus, __builtin_popcountll(aff));
  for (int i = 0; i < d->ncpus; i++) assert_true(aff >> d->cpus[i] & 1);
  assert_int_equal(d->nopps, 1);
  uint32_t f = expected_khz(), got, a, lo, hi;
  assert_int_equal(d->opps[0].khz, f);
  assert_int_equal(dynrt_platform_get_freq(p, 0, &got), DYNRT_OK);
  assert_int_equal(got, f);
  assert_int_equal(dynrt_platform_set_freq(p, 0, f, &a), DYNRT_OK);
  assert_int_equal(a, f);
  assert_int_equal(dynrt_platform_set_freq(p, 0, f + 100000, &a), DYNRT_ERR_UNSUPPORTED);
  assert_non_null(strstr(dynrt_platform_errmsg(p), "fixed"));
  assert_int_equal(dynrt_platform_get_limits(p, 0, &lo, &hi), DYNRT_OK);
  assert_true(lo == f && hi == f);
  assert_int_equal(dynrt_platform_set_governor(p, 0, "schedutil"), DYNRT_ERR_UNSUPPORTED);
  char gov[16];
  assert_int_equal(dynrt_platform_get_governor(p, 0, gov, sizeof gov), DYNRT_OK);
  assert_string_equal(gov, "none");
  assert_int_equal(dynrt_platform_available_cpus(p, &mask), DYNRT_OK);
  assert_true(mask != 0 && (mask & ~aff) == 0);
  assert_int_equal(dynrt_platform_assign(p, 0, mask), DYNRT_OK);
  double u[64];
  assert_int_equal(dynrt_platform_read_util(p, u, 64), DYNRT_OK);
  for (int c = 0; c < 64; c++) assert_true(u[c] >= 0.0 && u[c] <= 1.0);
  uint64_t e1, e2;
  double w;
  assert_int_equal(dynrt_platform_read_energy(p, &e1), DYNRT_OK);
  assert_int_equal(dynrt_platform_read_energy(p, &e2), DYNRT_OK);
  assert_true(e2 >= e1);
  assert_int_equal(dynrt_platform_read_power(p, &w), DYNRT_OK);
  if (info->energy_modelled) {
    /* The model never goes below idle nor above idle + every core busy. */
    assert_true(w >= 2.1 - 1e-9 && w <= 2.1 + 1.0775 * d->ncpus + 1e-9);
  } else {
    print_message("  (energy from a sensor on this machine)\n");
    assert_true(w >= 0.0);
  }
  assert_true(dynrt_platform_now(p) > 0);
  dynrt_platform_close(p);
}

/* proc/stat for the CPUs up to the highest of mask: base busy and base idle ticks each, plus
 * (pct not NULL) 1000 ticks more of which pct[c % 4] % were busy. */
static void write_stat(const char *root, uint64_t mask, const int *pct, unsigned long long base) {
  unsigned long long busy[64] = {0}, idle[64] = {0};
  int n = 64 - __builtin_clzll(mask);
  for (int c = 0; c < n; c++) {
    busy[c] = base + (pct ? (unsigned long long)pct[c % 4] * 10 : 0);
    idle[c] = base + (pct ? (unsigned long long)(100 - pct[c % 4]) * 10 : 0);
  }
  fk_proc_stat(root, n, busy, idle);
}

static void test_host_power_model(void **state) {
  (void)state;
  char root[64], spec[80];
  fk_mkroot(root);
  snprintf(spec, sizeof spec, "host:%s", root);
  uint64_t aff = affinity();
  int load[4] = {50, 100, 0, 25};
  write_stat(root, aff, NULL, 1000);
  fk_write(root, "proc/cpuinfo", "processor\t: 0\nmodel name\t: Fake\ncpu MHz\t\t: 1812.300\n");
  setenv("DYNRT_HOST_IDLE_W", "3", 1);
  setenv("DYNRT_HOST_CORE_W", "2", 1);
  dynrt_platform *p = open_host(spec);
  assert_int_equal(dynrt_platform_get_info(p)->energy_modelled, 1);
  assert_int_equal(dynrt_platform_domain(p, 0)->opps[0].khz, 1800000);
  write_stat(root, aff, load, 1000);
  double expect = 3, w;
  for (int c = 0; c < 64; c++)
    if (aff >> c & 1) expect += 2 * load[c % 4] / 100.0;
  assert_int_equal(dynrt_platform_read_power(p, &w), DYNRT_OK);
  assert_true(w > expect - 1e-9 && w < expect + 1e-9);
  /* Nothing ran since: idle power. */
  assert_int_equal(dynrt_platform_read_power(p, &w), DYNRT_OK);
  assert_true(w > 3 - 1e-9 && w < 3 + 1e-9);
  uint64_t e1, e2;
  assert_int_equal(dynrt_platform_read_energy(p, &e1), DYNRT_OK);
  assert_int_equal(dynrt_platform_read_energy(p, &e2), DYNRT_OK);
  assert_true(e2 >= e1);
  double u[4];
  assert_int_equal(dynrt_platform_read_util(p, u, 1), DYNRT_OK);
  assert_true(u[0] > 0.4999 && u[0] < 0.5001);
  dynrt_platform_close(p);
  /* Garbage in the environment: documented defaults. */
  setenv("DYNRT_HOST_IDLE_W", "lots", 1);
  unsetenv("DYNRT_HOST_CORE_W");
  write_stat(root, aff, NULL, 2000);
  p = open_host(spec);
  assert_int_equal(dynrt_platform_read_power(p, &w), DYNRT_OK);
  assert_true(w > 2.1 - 1e-9 && w < 2.1 + 1e-9);
  dynrt_platform_close(p);
  unsetenv("DYNRT_HOST_IDLE_W");
  /* proc/stat unreadable: open fails naming it (the model needs it). */
  char path[FK_PATH];
  snprintf(path, sizeof path, "%s/proc/stat", root);
  unlink(path);
  char err[256];
  assert_int_equal(fk_platform_open(spec, &p, err, sizeof err), DYNRT_ERR_NOT_FOUND);
  assert_non_null(strstr(err, "proc/stat"));
  fk_rmtree(root);
}

static void test_host_freq_fallbacks_and_sensor(void **state) {
  (void)state;
  char root[64], spec[80];
  fk_mkroot(root);
  snprintf(spec, sizeof spec, "host:%s", root);
  write_stat(root, affinity(), NULL, 10);
  fk_write(root, "proc/cpuinfo", "processor\t: 0\ncpu MHz\t\t: fast\n");
  fk_write(root, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "2400000\n");
  dynrt_platform *p = open_host(spec);
  assert_int_equal(dynrt_platform_domain(p, 0)->opps[0].khz, 2400000);
  dynrt_platform_close(p);
  /* Neither: frequency 0 (unknown), and 0 is the one frequency set_freq accepts. */
  char path[FK_PATH];
  snprintf(path, sizeof path, "%s/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", root);
  unlink(path);
  p = open_host(spec);
  uint32_t a;
  assert_int_equal(dynrt_platform_domain(p, 0)->opps[0].khz, 0);
  assert_int_equal(dynrt_platform_set_freq(p, 0, 0, &a), DYNRT_OK);
  dynrt_platform_close(p);
  /* Online list restricts the available cores. */
  fk_write(root, "sys/devices/system/cpu/online", "0\n");
  p = open_host(spec);
  uint64_t mask;
  assert_int_equal(dynrt_platform_available_cpus(p, &mask), DYNRT_OK);
  assert_int_equal(mask, affinity() & 1);
  dynrt_platform_close(p);
  /* A RAPL sensor replaces the model. */
  fk_write(root, "sys/class/powercap/intel-rapl:0/name", "package-0\n");
  fk_write(root, "sys/class/powercap/intel-rapl:0/max_energy_range_uj", "262143328850\n");
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "1000\n");
  p = open_host(spec);
  assert_int_equal(dynrt_platform_get_info(p)->energy_modelled, 0);
  uint64_t uj;
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "5000\n");
  assert_int_equal(dynrt_platform_read_energy(p, &uj), DYNRT_OK);
  assert_int_equal(uj, 4000);
  dynrt_platform_close(p);
  fk_rmtree(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_host_this_machine),
      cmocka_unit_test(test_host_power_model),
      cmocka_unit_test(test_host_freq_fallbacks_and_sensor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

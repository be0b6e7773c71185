/* test_platform_linux.c - the linux backend on fake sysfs trees of real boards: discovery,
 * frequency control (userspace, min/max pinning and its write order, a rounding kernel,
 * devfreq), limits and governors, online CPUs, utilisation, thermal, permissions, errors,
 * and leaving the device as found (close, crash recovery, signals). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "fixtures/sysfs/fake_tree.h"
#include "platform/platform_int.h"

#define CPUFREQ "sys/devices/system/cpu/cpufreq/"
#define GV11B "sys/class/devfreq/17000000.gv11b/"

typedef struct fixture {
  char root[64];
  char spec[80];
} fixture;

static int setup(void **state) {
  static fixture fx;
  unsetenv("DYNRT_STATE_FILE");
  fk_mkroot(fx.root);
  snprintf(fx.spec, sizeof fx.spec, "linux:%s", fx.root);
  fk_kernel_start(fx.root);
  *state = &fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  fk_kernel_stop();
  fk_rmtree(fx->root);
  return 0;
}

static dynrt_platform *open_ok(const fixture *fx) {
  dynrt_platform *p = NULL;
  char err[256];
  dynrt_status st = fk_platform_open(fx->spec, &p, err, sizeof err);
  if (st != DYNRT_OK) fprintf(stderr, "open %s: %s\n", fx->spec, err);
  assert_int_equal(st, DYNRT_OK);
  assert_non_null(p);
  return p;
}

/* The control files of a domain directory, as one comparable string. */
static void snapshot(const char *root, const char *dir, int devfreq, char *out, size_t size) {
  static const char *const cpu_files[] = {"scaling_governor", "scaling_min_freq",
                                          "scaling_max_freq", "scaling_setspeed"};
  static const char *const dev_files[] = {"governor", "min_freq", "max_freq"};
  const char *const *files = devfreq ? dev_files : cpu_files;
  int n = devfreq ? 3 : 4;
  size_t len = 0;
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    char rel[FK_PATH], buf[64];
    snprintf(rel, sizeof rel, "%s%s", dir, files[i]);
    len += (size_t)snprintf(out + len, size - len, "%s=%s;", files[i],
                            fk_read(root, rel, buf, sizeof buf));
  }
}

/* ---- discovery ---- */

static void test_discover_xavier_nx(void **state) {
  fixture *fx = *state;
  fk_board_xavier_nx(fx->root, 4);
  dynrt_platform *p = open_ok(fx);
  const dynrt_platform_info *info = dynrt_platform_get_info(p);
  assert_string_equal(info->backend, "linux");
  assert_string_equal(info->name, "NVIDIA Jetson Xavier NX Developer Kit");
  assert_int_equal(info->ndomains, 4);
  assert_int_equal(info->ncpus, 6);
  assert_int_equal(info->can_control, 1);
  assert_int_equal(info->energy_modelled, 0);
  assert_int_equal(info->simulated, 0);
  for (int k = 0; k < 3; k++) {
    const dynrt_domain_info *d = dynrt_platform_domain(p, k);
    char name[8];
    snprintf(name, sizeof name, "cpu%d", 2 * k);
    assert_string_equal(d->name, name);
    assert_int_equal(d->kind, DYNRT_DOMAIN_CPU);
    assert_int_equal(d->ncpus, 2);
    assert_int_equal(d->cpus[0], 2 * k);
    assert_int_equal(d->cpus[1], 2 * k + 1);
    assert_int_equal(d->nopps, 25);
    assert_int_equal(d->opps[0].khz, 115200);
    assert_int_equal(d->opps[1].khz, 192000);
    assert_int_equal(d->opps[23].khz, 1881600);
    assert_int_equal(d->opps[24].khz, 1907200);
    assert_int_equal(d->transition_us, 500);
    assert_int_equal(d->can_set_freq, 1);
    assert_int_equal(dynrt_platform_cpu_domain(p, 2 * k + 1), k);
  }
  const dynrt_domain_info *g = dynrt_platform_domain(p, 3);
  assert_string_equal(g->name, "gpu");
  assert_int_equal(g->kind, DYNRT_DOMAIN_GPU);
  assert_int_equal(g->ncpus, 0);
  assert_int_equal(g->nopps, 15);
  assert_int_equal(g->opps[0].khz, 114750); /* Hz in the file, kHz in dynrt */
  assert_int_equal(g->opps[14].khz, 1109250);
  uint32_t lo, hi, f;
  assert_int_equal(dynrt_platform_get_limits(p, 0, &lo, &hi), DYNRT_OK);
  assert_int_equal(lo, 115200);
  assert_int_equal(hi, 1420800); /* nvpmodel's cap, not the hardware maximum */
  assert_int_equal(dynrt_platform_get_limits(p, 3, &lo, &hi), DYNRT_OK);
  assert_int_equal(lo, 114750);
  assert_int_equal(hi, 1109250);
  assert_int_equal(dynrt_platform_get_freq(p, 0, &f), DYNRT_OK);
  assert_int_equal(f, 1420800);
  assert_int_equal(dynrt_platform_get_freq(p, 3, &f), DYNRT_OK);
  assert_int_equal(f, 1109250);
  char gov[32];
  assert_int_equal(dynrt_platform_get_governor(p, 3, gov, sizeof gov), DYNRT_OK);
  assert_string_equal(gov, "nvhost_podgov");
  uint64_t mask;
  assert_int_equal(dynrt_platform_available_cpus(p, &mask), DYNRT_OK);
  assert_int_equal(mask, 0x3f);
  double c;
  assert_int_equal(dynrt_platform_read_temp(p, &c), DYNRT_OK);
  assert_true(c > 41.49 && c < 41.51);
  /* Discovery writes nothing. */
  assert_int_equal(fk_k.nlog, 0);
  dynrt_platform_close(p);
}

static void test_discover_odroid_xu3(void **state) {
  fixture *fx = *state;
  fk_board_odroid_xu3(fx->root);
  dynrt_platform *p = open_ok(fx);
  const dynrt_platform_info *info = dynrt_platform_get_info(p);
  assert_string_equal(info->name, "Hardkernel Odroid XU3");
  assert_int_equal(info->ndomains, 3);
  assert_int_equal(info->ncpus, 8);
  const dynrt_domain_info *a7 = dynrt_platform_domain(p, 0), *a15 = dynrt_platform_domain(p, 1);
  assert_string_equal(a7->name, "cpu0");
  assert_string_equal(a15->name, "cpu4");
  assert_int_equal(a7->ncpus, 4);
  assert_int_equal(a15->ncpus, 4);
  assert_int_equal(a15->cpus[0], 4);
  assert_int_equal(a7->nopps, 13);
  assert_int_equal(a15->nopps, 19);
  assert_int_equal(a7->opps[12].khz, 1400000);
  assert_int_equal(a15->opps[18].khz, 2000000);
  assert_int_equal(a7->transition_us, 140);
  /* cpu_capacity 539 of 1024 for the A7 cores. */
  assert_true(a7->capacity > 0.526 && a7->capacity < 0.527);
  assert_true(a15->capacity == 1.0);
  const dynrt_domain_info *mali = dynrt_platform_domain(p, 2);
  assert_int_equal(mali->kind, DYNRT_DOMAIN_GPU);
  assert_int_equal(mali->nopps, 7);
  assert_int_equal(mali->opps[0].khz, 177000);
  assert_int_equal(dynrt_platform_cpu_domain(p, 5), 1);
  assert_int_equal(dynrt_platform_cpu_domain(p, 9), -1);
  uint64_t uj;
  assert_int_equal(dynrt_platform_read_energy(p, &uj), DYNRT_OK);
  dynrt_platform_close(p);
}

static void test_discover_rpi4_no_sensor(void **state) {
  fixture *fx = *state;
  fk_board_rpi4(fx->root);
  dynrt_platform *p = open_ok(fx);
  const dynrt_platform_info *info = dynrt_platform_get_info(p);
  assert_string_equal(info->name, "Raspberry Pi 4 Model B Rev 1.4");
  assert_int_equal(info->ndomains, 1);
  const dynrt_domain_info *d = dynrt_platform_domain(p, 0);
  assert_int_equal(d->ncpus, 4);
  assert_int_equal(d->nopps, 10);
  assert_int_equal(d->opps[0].khz, 600000);
  assert_int_equal(d->opps[9].khz, 1500000);
  assert_int_equal(d->transition_us, 355);
  uint64_t uj;
  double w;
  assert_int_equal(dynrt_platform_read_energy(p, &uj), DYNRT_ERR_UNSUPPORTED);
  assert_non_null(strstr(dynrt_platform_errmsg(p), "no energy sensor"));
  assert_int_equal(dynrt_platform_read_power(p, &w), DYNRT_ERR_UNSUPPORTED);
  assert_int_equal(info->energy_modelled, 0);
  double c;
  assert_int_equal(dynrt_platform_read_temp(p, &c), DYNRT_ERR_NOT_FOUND);
  dynrt_platform_close(p);
}

static void test_discover_x86_pstate(void **state) {
  fixture *fx = *state;
  fk_board_x86(fx->root);
  dynrt_platform *p = open_ok(fx);
  const dynrt_platform_info *info = dynrt_platform_get_info(p);
  assert_string_equal(info->name, "ThinkPad X1 Carbon Gen 9");
  assert_int_equal(info->ndomains, 4);
  for (int k = 0; k < 4; k++) {
    const dynrt_domain_info *d = dynrt_platform_domain(p, k);
    /* No scaling_available_frequencies: cpuinfo_min/max are the only OPPs. */
    assert_int_equal(d->nopps, 2);
    assert_int_equal(d->opps[0].khz, 400000);
    assert_int_equal(d->opps[1].khz, 4700000);
    assert_int_equal(d->ncpus, 1);
    assert_int_equal(d->transition_us, 0);
  }
  uint64_t uj;
  assert_int_equal(dynrt_platform_read_energy(p, &uj), DYNRT_OK);
  assert_int_equal(uj, 0);
  fk_write(fx->root, "sys/class/powercap/intel-rapl:0/energy_uj", "3500000\n");
  assert_int_equal(dynrt_platform_read_energy(p, &uj), DYNRT_OK);
  assert_int_equal(uj, 2500000);
  dynrt_platform_close(p);
}

static void test_no_cpufreq_is_not_found(void **state) {
  fixture *fx = *state;
  fk_write(fx->root, "sys/devices/system/cpu/online", "0-1\n");
  dynrt_platform *p = NULL;
  char err[256];
  assert_int_equal(dynrt_platform_open(fx->spec, &p, err, sizeof err), DYNRT_ERR_NOT_FOUND);
  assert_null(p);
  assert_non_null(strstr(err, "host backend"));
  assert_int_equal(dynrt_platform_open("linux:/nonexistent/dynrt/root", &p, err, sizeof err),
                   DYNRT_ERR_NOT_FOUND);
  assert_non_null(strstr(err, "/nonexistent/dynrt/root"));
}

/* ---- frequency control ---- */

static void test_set_freq_userspace(void **state) {
  fixture *fx = *state;
  fk_board_xavier_nx(fx->root, 4);
  dynrt_platform *p = open_ok(fx);
  uint32_t actual = 0, f;
  /* 1000000 kHz resolves to the lowest OPP above: 115200 + 12 * 76800. */
  assert_int_equal(dynrt_platform_set_freq(p, 0, 1000000, &actual), DYNRT_OK);
  assert_int_equal(actual, 1036800);
  char buf[64];
  assert_string_equal(fk_read(fx->root, CPUFREQ "policy0/scaling_governor", buf, sizeof buf),
                      "userspace");
  assert_int_equal(fk_read_ll(fx->root, CPUFREQ "policy0/scaling_setspeed"), 1036800);
  assert_int_equal(fk_read_ll(fx->root, CPUFREQ "policy0/scaling_cur_freq"), 1036800);
  /* nvpmodel's min 1190400 would clamp the request: it was lowered before setspeed. */
  int g = fk_log_find("policy0/scaling_governor=userspace", 0);
  int m = fk_log_find("policy0/scaling_min_freq=115200", 0);
  int s = fk_log_find("policy0/scaling_setspeed=1036800", 0);
  if (g < 0 || m < 0 || s < 0) fk_log_print();
  assert_true(g >= 0 && m > g && s > m);
  assert_int_equal(dynrt_platform_get_freq(p, 0, &f), DYNRT_OK);
  assert_int_equal(f, 1036800);
  /* Same request again: nothing written. */
  int n = fk_k.nlog;
  assert_int_equal(dynrt_platform_set_freq(p, 0, 1036800, &actual), DYNRT_OK);
  assert_int_equal(fk_k.nlog, n);
  /* Above the cap (nvpmodel max 1420800): clamped to the cap. */
  assert_int_equal(dynrt_platform_set_freq(p, 0, 1907200, &actual), DYNRT_OK);
  assert_int_equal(actual, 1420800);
  /* Other domains untouched. */
  assert_string_equal(fk_read(fx->root, CPUFREQ "policy2/scaling_governor", buf, sizeof buf),
                      "schedutil");
  dynrt_platform_close(p);
}

static void test_set_freq_minmax_order(void **state) {
  fixture *fx = *state;
  fk_board_x86(fx->root);
  dynrt_platform *p = open_ok(fx);
  uint32_t actual;
  /* Down from [400000, 4700000] to 400000: only max moves. */
  assert_int_equal(dynrt_platform_set_freq(p, 1, 400000, &actual), DYNRT_OK);
  assert_int_equal(actual, 400000);
  assert_int_equal(fk_log_find("policy1/scaling_max_freq=400000", 0), 0);
  assert_int_equal(fk_k.nlog, 1);
  /* Up: max must be raised before min (the fake kernel refuses min > max). */
  fk_k.nlog = 0;
  assert_int_equal(dynrt_platform_set_freq(p, 1, 4700000, &actual), DYNRT_OK);
  assert_int_equal(actual, 4700000);
  assert_int_equal(fk_k.nlog, 2);
  assert_string_equal(fk_k.log[0], "policy1/scaling_max_freq=4700000");
  assert_string_equal(fk_k.log[1], "policy1/scaling_min_freq=4700000");
  /* Down again: min first. */
  fk_k.nlog = 0;
  assert_int_equal(dynrt_platform_set_freq(p, 1, 1, &actual), DYNRT_OK);
  assert_int_equal(actual, 400000);
  assert_int_equal(fk_k.nlog, 2);
  assert_string_equal(fk_k.log[0], "policy1/scaling_min_freq=400000");
  assert_string_equal(fk_k.log[1], "policy1/scaling_max_freq=400000");
  /* A cap set by someone else (thermal, battery) is never lifted by pinning. */
  fk_write(fx->root, CPUFREQ "policy2/scaling_max_freq", "2000000\n");
  assert_int_equal(dynrt_platform_set_freq(p, 2, 4700000, &actual), DYNRT_OK);
  assert_int_equal(actual, 400000); /* the highest OPP under the cap */
  assert_true(fk_read_ll(fx->root, CPUFREQ "policy2/scaling_max_freq") <= 2000000);
  /* The governor was never touched (no userspace governor on intel_pstate). */
  char buf[32];
  assert_string_equal(fk_read(fx->root, CPUFREQ "policy1/scaling_governor", buf, sizeof buf),
                      "powersave");
  dynrt_platform_close(p);
}

static void test_set_freq_rounding_kernel(void **state) {
  fixture *fx = *state;
  fk_board_rpi4(fx->root);
  /* The driver runs 1300 MHz when asked 1200 MHz (firmware rounding). */
  fk_k.round_from = 1200000;
  fk_k.round_to = 1300000;
  dynrt_platform *p = open_ok(fx);
  uint32_t actual = 0, f;
  assert_int_equal(dynrt_platform_set_freq(p, 0, 1150000, &actual), DYNRT_OK);
  assert_int_equal(fk_read_ll(fx->root, CPUFREQ "policy0/scaling_setspeed"), 1200000);
  assert_int_equal(actual, 1300000);
  assert_int_equal(dynrt_platform_get_freq(p, 0, &f), DYNRT_OK);
  assert_int_equal(f, 1300000);
  dynrt_platform_close(p);
}

static void test_devfreq_gpu_pin(void **state) {
  fixture *fx = *state;
  fk_board_xavier_nx(fx->root, 5);
  dynrt_platform *p = open_ok(fx);
  uint32_t actual;
  /* Lowering from [114750000, 1109250000] Hz: min first, then max. */
  assert_int_equal(dynrt_platform_set_freq(p, 3, 600000, &actual), DYNRT_OK);
  assert_int_equal(actual, 701250);
  assert_int_equal(fk_k.nlog, 2);
  assert_string_equal(fk_k.log[0], "17000000.gv11b/min_freq=701250000");
  assert_string_equal(fk_k.log[1], "17000000.gv11b/max_freq=701250000");
  assert_int_equal(fk_read_ll(fx->root, GV11B "cur_freq"), 701250000);
  /* Raising: max first. */
  fk_k.nlog = 0;
  assert_int_equal(dynrt_platform_set_freq(p, 3, 1109250, &actual), DYNRT_OK);
  assert_int_equal(actual, 1109250);
  assert_string_equal(fk_k.log[0], "17000000.gv11b/max_freq=1109250000");
  assert_string_equal(fk_k.log[1], "17000000.gv11b/min_freq=1109250000");
  /* The devfreq governor stays: pinning uses the limits only. */
  char buf[32];
  assert_string_equal(fk_read(fx->root, GV11B "governor", buf, sizeof buf), "nvhost_podgov");
  uint32_t lo, hi;
  assert_int_equal(dynrt_platform_get_limits(p, 3, &lo, &hi), DYNRT_OK);
  assert_int_equal(hi, 1109250);
  dynrt_platform_close(p);
  assert_int_equal(fk_read_ll(fx->root, GV11B "min_freq"), 114750000);
  assert_int_equal(fk_read_ll(fx->root, GV11B "max_freq"), 1109250000);
}

static void test_governors(void **state) {
  fixture *fx = *state;
  fk_board_odroid_xu3(fx->root);
  dynrt_platform *p = open_ok(fx);
  uint32_t actual;
  char gov[32];
  assert_int_equal(dynrt_platform_set_freq(p, 1, 800000, &actual), DYNRT_OK);
  assert_int_equal(dynrt_platform_get_governor(p, 1, gov, sizeof gov), DYNRT_OK);
  assert_string_equal(gov, "userspace");
  /* Handing back to a governor restores the limits the device had. */
  assert_int_equal(dynrt_platform_set_governor(p, 1, "performance"), DYNRT_OK);
  assert_int_equal(dynrt_platform_get_governor(p, 1, gov, sizeof gov), DYNRT_OK);
  assert_string_equal(gov, "performance");
  assert_int_equal(fk_read_ll(fx->root, CPUFREQ "policy4/scaling_cur_freq"), 2000000);
  assert_int_equal(dynrt_platform_set_governor(p, 0, "turbo"), DYNRT_ERR_UNSUPPORTED);
  assert_non_null(strstr(dynrt_platform_errmsg(p), "'turbo' not available"));
  assert_non_null(strstr(dynrt_platform_errmsg(p), "schedutil"));
  /* devfreq calls ondemand simple_ondemand; schedutil does not exist there. */
  assert_int_equal(dynrt_platform_set_governor(p, 2, "powersave"), DYNRT_OK);
  assert_int_equal(dynrt_platform_set_governor(p, 2, "ondemand"), DYNRT_OK);
  assert_int_equal(dynrt_platform_get_governor(p, 2, gov, sizeof gov), DYNRT_OK);
  assert_string_equal(gov, "simple_ondemand");
  assert_int_equal(dynrt_platform_set_governor(p, 2, "schedutil"), DYNRT_ERR_UNSUPPORTED);
  /* Setting after a governor pins again. */
  assert_int_equal(dynrt_platform_set_freq(p, 1, 800000, &actual), DYNRT_OK);
  assert_int_equal(actual, 800000);
  dynrt_platform_close(p);
  char buf[32];
  assert_string_equal(fk_read(fx->root, CPUFREQ "policy4/scaling_governor", buf, sizeof buf),
                      "schedutil");
}

/* ---- leaving the device as found ---- */

static void snapshot_all(const fixture *fx, char *out, size_t size) {
  size_t len = 0;
  static const char *const dirs[] = {CPUFREQ "policy0/", CPUFREQ "policy2/", CPUFREQ "policy4/"};
  for (int i = 0; i < 3; i++) {
    snapshot(fx->root, dirs[i], 0, out + len, size - len);
    len = strlen(out);
  }
  snapshot(fx->root, GV11B, 1, out + len, size - len);
}

static void change_everything(dynrt_platform *p) {
  uint32_t actual;
  assert_int_equal(dynrt_platform_set_freq(p, 0, 115200, &actual), DYNRT_OK);
  assert_int_equal(dynrt_platform_set_freq(p, 1, 1907200, &actual), DYNRT_OK);
  assert_int_equal(dynrt_platform_set_governor(p, 2, "performance"), DYNRT_OK);
  assert_int_equal(dynrt_platform_set_freq(p, 3, 306000, &actual), DYNRT_OK);
}

static void test_restore_on_close(void **state) {
  fixture *fx = *state;
  fk_board_xavier_nx(fx->root, 4);
  char before[2048], during[2048], after[2048], path[FK_PATH];
  snapshot_all(fx, before, sizeof before);
  dynrt_platform *p = open_ok(fx);
  change_everything(p);
  snapshot_all(fx, during, sizeof during);
  assert_string_not_equal(before, during);
  snprintf(path, sizeof path, "%s/.dynrt-state", fx->root);
  assert_true(dynrt__sysfs_exists(path));
  dynrt_platform_close(p);
  snapshot_all(fx, after, sizeof after);
  assert_string_equal(before, after);
  assert_false(dynrt__sysfs_exists(path));
}

static void test_restore_after_crash(void **state) {
  fixture *fx = *state;
  fk_board_xavier_nx(fx->root, 4);
  char before[2048], after[2048], path[FK_PATH];
  snapshot_all(fx, before, sizeof before);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dynrt_platform *p = NULL;
    if (fk_platform_open(fx->spec, &p, NULL, 0) != DYNRT_OK) _exit(2);
    uint32_t a;
    if (dynrt_platform_set_freq(p, 0, 115200, &a) != DYNRT_OK) _exit(3);
    if (dynrt_platform_set_freq(p, 3, 306000, &a) != DYNRT_OK) _exit(4);
    _exit(0); /* a crash: no close */
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  snprintf(path, sizeof path, "%s/.dynrt-state", fx->root);
  assert_true(dynrt__sysfs_exists(path));
  assert_int_equal(fk_read_ll(fx->root, CPUFREQ "policy0/scaling_setspeed"), 115200);
  /* The next open replays the state of the dead process, then controls the device. */
  dynrt_platform *p = open_ok(fx);
  snapshot_all(fx, after, sizeof after);
  assert_string_equal(before, after);
  assert_false(dynrt__sysfs_exists(path));
  assert_int_equal(dynrt_platform_get_info(p)->can_control, 1);
  dynrt_platform_close(p);
}

static void test_state_file_of_live_process(void **state) {
  fixture *fx = *state;
  fk_board_rpi4(fx->root);
  char path[FK_PATH];
  snprintf(path, sizeof path, "%s/.dynrt-state", fx->root);
  /* Held by a live process (this one, standing for another dynrt): monitoring only. */
  fk_write(fx->root, ".dynrt-state",
           "dynrt-state 1\npid %ld\nroot %s\nw %s/" CPUFREQ "policy0/scaling_max_freq\t1500000\n",
           (long)getpid(), fx->root, fx->root);
  dynrt_platform *p = open_ok(fx);
  assert_int_equal(dynrt_platform_get_info(p)->can_control, 0);
  assert_int_equal(dynrt_platform_domain(p, 0)->can_set_freq, 0);
  assert_non_null(strstr(dynrt_platform_errmsg(p), "controls this device"));
  uint32_t a;
  assert_int_equal(dynrt_platform_set_freq(p, 0, 600000, &a), DYNRT_ERR_PERMISSION);
  dynrt_platform_close(p);
  assert_true(dynrt__sysfs_exists(path));
  assert_int_equal(fk_k.nlog, 0);
  /* A state file that writes outside the root is never replayed. */
  fk_write(fx->root, ".dynrt-state", "dynrt-state 1\npid 999999999\nroot %s\nw /etc/passwd\tx\n",
           fx->root);
  p = open_ok(fx);
  assert_int_equal(dynrt_platform_get_info(p)->can_control, 0);
  assert_non_null(strstr(dynrt_platform_errmsg(p), "malformed"));
  dynrt_platform_close(p);
  assert_int_equal(fk_k.nlog, 0);
  /* Garbage. */
  fk_write(fx->root, ".dynrt-state", "\x01\x02garbage\n");
  p = open_ok(fx);
  assert_int_equal(dynrt_platform_get_info(p)->can_control, 0);
  dynrt_platform_close(p);
}

static void test_restore_on_signal(void **state) {
  fixture *fx = *state;
  fk_board_xavier_nx(fx->root, 4);
  char path[FK_PATH], buf[32];
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* The handler writes the files directly (no hook): compare governor and limits only. */
    fk_kernel_stop();
    dynrt_platform *p = NULL;
    if (fk_platform_open(fx->spec, &p, NULL, 0) != DYNRT_OK) _exit(2);
    uint32_t a;
    if (dynrt_platform_set_freq(p, 0, 1907200, &a) != DYNRT_OK) _exit(3);
    if (dynrt_platform_set_freq(p, 3, 204000, &a) != DYNRT_OK) _exit(4);
    raise(SIGTERM);
    _exit(5);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGTERM);
  snprintf(path, sizeof path, "%s/.dynrt-state", fx->root);
  assert_false(dynrt__sysfs_exists(path));
  assert_string_equal(fk_read(fx->root, CPUFREQ "policy0/scaling_governor", buf, sizeof buf),
                      "schedutil");
  assert_int_equal(fk_read_ll(fx->root, CPUFREQ "policy0/scaling_min_freq"), 1190400);
  assert_int_equal(fk_read_ll(fx->root, CPUFREQ "policy0/scaling_max_freq"), 1420800);
  assert_int_equal(fk_read_ll(fx->root, GV11B "min_freq"), 114750000);
  assert_int_equal(fk_read_ll(fx->root, GV11B "max_freq"), 1109250000);
}

/* ---- permissions and errors ---- */

static void test_monitoring_only(void **state) {
  fixture *fx = *state;
  fk_board_rpi4(fx->root);
  /* A read-only attribute: open for writing fails with EACCES, for root too. */
  fk_k.probe_deny_suffix = "/scaling_max_freq";
  fk_k.probe_deny_errno = EACCES;
  dynrt_platform *p = open_ok(fx);
  const dynrt_platform_info *info = dynrt_platform_get_info(p);
  assert_int_equal(info->can_control, 0);
  assert_int_equal(dynrt_platform_domain(p, 0)->can_set_freq, 0);
  assert_non_null(strstr(dynrt_platform_errmsg(p), "monitoring only"));
  assert_non_null(strstr(dynrt_platform_errmsg(p), "scaling_max_freq"));
  assert_non_null(strstr(dynrt_platform_errmsg(p), "Permission denied"));
  uint32_t a, f;
  assert_int_equal(dynrt_platform_set_freq(p, 0, 600000, &a), DYNRT_ERR_PERMISSION);
  assert_int_equal(dynrt_platform_set_governor(p, 0, "performance"), DYNRT_ERR_PERMISSION);
  assert_int_equal(dynrt_platform_get_freq(p, 0, &f), DYNRT_OK);
  assert_int_equal(f, 600000);
  double u[4];
  assert_int_equal(dynrt_platform_read_util(p, u, 4), DYNRT_OK);
  dynrt_platform_close(p);
  assert_int_equal(fk_k.nlog, 0);

  /* Read-only file system. */
  fk_k.probe_deny_errno = EROFS;
  p = open_ok(fx);
  assert_int_equal(dynrt_platform_get_info(p)->can_control, 0);
  assert_non_null(strstr(dynrt_platform_errmsg(p), "Read-only file system"));
  dynrt_platform_close(p);

  /* Without the hook: file modes only stop a process without CAP_DAC_OVERRIDE. */
  fk_k.probe_deny_suffix = NULL;
  if (geteuid() != 0) {
    char path[FK_PATH];
    snprintf(path, sizeof path, "%s/" CPUFREQ "policy0/scaling_min_freq", fx->root);
    chmod(path, 0444);
    p = open_ok(fx);
    assert_int_equal(dynrt_platform_get_info(p)->can_control, 0);
    dynrt_platform_close(p);
    chmod(path, 0644);
  } else {
    print_message("  (running as root: the chmod 0444 case is covered by the EACCES probe)\n");
  }
}

static void test_write_errors(void **state) {
  fixture *fx = *state;
  fk_board_rpi4(fx->root);
  dynrt_platform *p = open_ok(fx);
  uint32_t a;
  fk_k.write_fail_suffix = "/scaling_setspeed";
  fk_k.write_fail_errno = EBUSY;
  assert_int_equal(dynrt_platform_set_freq(p, 0, 900000, &a), DYNRT_ERR_BUSY);
  const char *m = dynrt_platform_errmsg(p);
  assert_non_null(strstr(m, "'900000'"));
  assert_non_null(strstr(m, "policy0/scaling_setspeed"));
  assert_non_null(strstr(m, "busy"));
  fk_k.write_fail_errno = EINVAL;
  assert_int_equal(dynrt_platform_set_freq(p, 0, 900000, &a), DYNRT_ERR_INVALID_ARG);
  assert_non_null(strstr(dynrt_platform_errmsg(p), "Invalid argument"));
  /* A permission failure at run time turns the domain to monitoring. */
  fk_k.write_fail_errno = EPERM;
  assert_int_equal(dynrt_platform_set_freq(p, 0, 900000, &a), DYNRT_ERR_PERMISSION);
  assert_int_equal(dynrt_platform_domain(p, 0)->can_set_freq, 0);
  fk_k.write_fail_suffix = NULL;
  dynrt_platform_close(p);
  /* A real failing write, for root too: the attribute is a link to /dev/full. */
  char path[FK_PATH];
  snprintf(path, sizeof path, "%s/" CPUFREQ "policy0/scaling_setspeed", fx->root);
  unlink(path);
  assert_int_equal(symlink("/dev/full", path), 0);
  fk_kernel_stop();
  p = open_ok(fx);
  assert_int_equal(dynrt_platform_set_freq(p, 0, 700000, &a), DYNRT_ERR_IO);
  assert_non_null(strstr(dynrt_platform_errmsg(p), "scaling_setspeed"));
  assert_non_null(strstr(dynrt_platform_errmsg(p), "'700000'"));
  dynrt_platform_close(p);
}

static void expect_open_error(const fixture *fx, dynrt_status want, const char *needle1,
                              const char *needle2) {
  dynrt_platform *p = NULL;
  char err[512];
  assert_int_equal(dynrt_platform_open(fx->spec, &p, err, sizeof err), want);
  assert_null(p);
  if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
    fprintf(stderr, "message: %s\n", err);
  assert_non_null(strstr(err, needle1));
  if (needle2) assert_non_null(strstr(err, needle2));
}

static void test_garbage_and_missing(void **state) {
  fixture *fx = *state;
  fk_board_rpi4(fx->root);
  fk_write(fx->root, CPUFREQ "policy0/related_cpus", "zero one\n");
  expect_open_error(fx, DYNRT_ERR_FORMAT, "related_cpus", "'zero one'");
  fk_write(fx->root, CPUFREQ "policy0/related_cpus", "0-3\n");
  fk_write(fx->root, CPUFREQ "policy0/cpuinfo_max_freq", "12abc\n");
  expect_open_error(fx, DYNRT_ERR_FORMAT, "cpuinfo_max_freq", "'12abc'");
  char path[FK_PATH];
  snprintf(path, sizeof path, "%s/" CPUFREQ "policy0/cpuinfo_max_freq", fx->root);
  unlink(path);
  expect_open_error(fx, DYNRT_ERR_NOT_FOUND, "cpuinfo_max_freq", NULL);
  /* A directory where a file is expected (unreadable for root too). */
  mkdir(path, 0755);
  expect_open_error(fx, DYNRT_ERR_IO, "cpuinfo_max_freq", NULL);
  rmdir(path);
  fk_write(fx->root, CPUFREQ "policy0/cpuinfo_max_freq", "1500000\n");
  /* Garbage frequency table: falls back to cpuinfo_min/max. */
  fk_write(fx->root, CPUFREQ "policy0/scaling_available_frequencies", "600000 fast\n");
  dynrt_platform *p = open_ok(fx);
  assert_int_equal(dynrt_platform_domain(p, 0)->nopps, 2);
  /* Files that go bad after open give errors, not crashes. */
  snprintf(path, sizeof path, "%s/" CPUFREQ "policy0/scaling_cur_freq", fx->root);
  unlink(path);
  mkdir(path, 0755);
  uint32_t f;
  assert_int_equal(dynrt_platform_get_freq(p, 0, &f), DYNRT_ERR_IO);
  assert_non_null(strstr(dynrt_platform_errmsg(p), "scaling_cur_freq"));
  fk_write(fx->root, "proc/stat", "cpu0 1 2\n");
  double u[4];
  assert_int_equal(dynrt_platform_read_util(p, u, 4), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(dynrt_platform_errmsg(p), "proc/stat:1"));
  snprintf(path, sizeof path, "%s/proc/stat", fx->root);
  unlink(path);
  assert_int_equal(dynrt_platform_read_util(p, u, 4), DYNRT_ERR_NOT_FOUND);
  snprintf(path, sizeof path, "%s/" CPUFREQ "policy0/scaling_governor", fx->root);
  unlink(path);
  char gov[16];
  assert_int_equal(dynrt_platform_get_governor(p, 0, gov, sizeof gov), DYNRT_ERR_NOT_FOUND);
  uint32_t a;
  /* Saving the state needs the governor: no change without it. */
  assert_int_equal(dynrt_platform_set_freq(p, 0, 700000, &a), DYNRT_ERR_NOT_FOUND);
  assert_int_equal(fk_k.nlog, 0);
  dynrt_platform_close(p);
}

/* ---- cores, utilisation, thermal, events ---- */

static void test_online_cpus_and_events(void **state) {
  fixture *fx = *state;
  fk_board_xavier_nx(fx->root, 4);
  fk_write(fx->root, "sys/devices/system/cpu/online", "0-3,5\n");
  dynrt_platform *p = open_ok(fx);
  uint64_t mask;
  dynrt_event ev;
  assert_int_equal(dynrt_platform_available_cpus(p, &mask), DYNRT_OK);
  assert_int_equal(mask, 0x2f);
  assert_int_equal(dynrt_platform_poll_event(p, &ev), 0);
  /* nvpmodel's 2-core mode takes cores away. */
  fk_write(fx->root, "sys/devices/system/cpu/online", "0-1\n");
  assert_int_equal(dynrt_platform_poll_event(p, &ev), 1);
  assert_int_equal(ev.kind, DYNRT_EVENT_CPUS_CHANGED);
  assert_int_equal(ev.cpu_mask, 0x3);
  assert_int_equal(dynrt_platform_poll_event(p, &ev), 0);
  /* A thermal or battery cap lowers scaling_max_freq of a governed domain. */
  fk_write(fx->root, CPUFREQ "policy2/scaling_max_freq", "1190400\n");
  assert_int_equal(dynrt_platform_poll_event(p, &ev), 1);
  assert_int_equal(ev.kind, DYNRT_EVENT_FREQ_CAP);
  assert_int_equal(ev.domain, 1);
  assert_int_equal(ev.max_khz, 1190400);
  uint32_t lo, hi;
  assert_int_equal(dynrt_platform_get_limits(p, 1, &lo, &hi), DYNRT_OK);
  assert_int_equal(hi, 1190400);
  /* Without the list, cpuN/online files decide (cpu0 has none: always online). */
  char path[FK_PATH];
  snprintf(path, sizeof path, "%s/sys/devices/system/cpu/online", fx->root);
  unlink(path);
  for (int c = 1; c < 6; c++) {
    char rel[64];
    snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/online", c);
    fk_write(fx->root, rel, "%d\n", c == 3 ? 0 : 1);
  }
  assert_int_equal(dynrt_platform_available_cpus(p, &mask), DYNRT_OK);
  assert_int_equal(mask, 0x37);
  assert_int_equal(dynrt_platform_assign(p, 0, 0x3), DYNRT_OK);
  assert_int_equal(dynrt_platform_assign(p, 99, 0x3), DYNRT_ERR_INVALID_ARG);
  dynrt_platform_close(p);
}

static void test_util_from_proc_stat(void **state) {
  fixture *fx = *state;
  fk_board_rpi4(fx->root);
  unsigned long long b0[4] = {100, 100, 100, 100}, i0[4] = {900, 900, 900, 900};
  fk_proc_stat(fx->root, 4, b0, i0);
  dynrt_platform *p = open_ok(fx);
  /* Deltas: cpu0 50 busy/50 idle, cpu1 all busy, cpu2 all idle, cpu3 no ticks. */
  unsigned long long b1[4] = {150, 300, 100, 100}, i1[4] = {950, 900, 1100, 900};
  fk_proc_stat(fx->root, 4, b1, i1);
  double u[6] = {-1, -1, -1, -1, -1, -1};
  assert_int_equal(dynrt_platform_read_util(p, u, 6), DYNRT_OK);
  assert_true(u[0] > 0.4999 && u[0] < 0.5001);
  assert_true(u[1] > 0.9999 && u[1] <= 1.0);
  assert_true(u[2] == 0.0);
  assert_true(u[3] == 0.0);
  assert_true(u[4] == 0.0 && u[5] == 0.0); /* CPUs the file does not list */
  /* Since the previous read: nothing moved. */
  assert_int_equal(dynrt_platform_read_util(p, u, 4), DYNRT_OK);
  assert_true(u[0] == 0.0 && u[1] == 0.0);
  /* cpu1 went offline: its line disappears. */
  unsigned long long b2[4] = {250, 300, 100, 100}, i2[4] = {950, 900, 1100, 900};
  fk_proc_stat(fx->root, 1, b2, i2);
  assert_int_equal(dynrt_platform_read_util(p, u, 4), DYNRT_OK);
  assert_true(u[0] == 1.0 && u[1] == 0.0);
  dynrt_platform_close(p);
}

static void test_thermal_garbage_zones(void **state) {
  fixture *fx = *state;
  fk_board_xavier_nx(fx->root, 4);
  fk_write(fx->root, "sys/class/thermal/thermal_zone2/temp", "abc\n");
  fk_write(fx->root, "sys/class/thermal/thermal_zone3/temp", "-273000\n");
  fk_write(fx->root, "sys/class/thermal/thermal_zone4/temp", "61500\n");
  char path[FK_PATH];
  snprintf(path, sizeof path, "%s/sys/class/thermal/thermal_zone10/temp", fx->root);
  fk_mkdirs(path); /* a directory where temp is expected */
  dynrt_platform *p = open_ok(fx);
  double c;
  assert_int_equal(dynrt_platform_read_temp(p, &c), DYNRT_OK);
  assert_true(c > 61.49 && c < 61.51);
  assert_int_equal(dynrt_platform_read_temp(p, &c), DYNRT_OK);
  dynrt_platform_close(p);
}

static void test_allocation_failures(void **state) {
  fixture *fx = *state;
  fk_board_xavier_nx(fx->root, 4);
  /* Every allocation of open in turn fails: a clean error or a working object, no leak. */
  for (uint64_t n = 1; n <= 6; n++) {
    dynrt_platform *p = NULL;
    dynrt_alloc_fail_after(n, 0);
    dynrt_status st = fk_platform_open(fx->spec, &p, NULL, 0);
    dynrt_alloc_fail_after(0, 0);
    if (st == DYNRT_OK) {
      uint64_t uj;
      dynrt_status e = dynrt_platform_read_energy(p, &uj);
      assert_true(e == DYNRT_OK || e == DYNRT_ERR_NOMEM);
      dynrt_platform_close(p);
    } else {
      assert_int_equal(st, DYNRT_ERR_NOMEM);
      assert_null(p);
    }
  }
}

/* The running system, read only: either no cpufreq (this VM: the host backend is the one to
 * use) or domains that open and close without a single write. */
static void test_this_machine_read_only(void **state) {
  (void)state;
  fk_kernel_stop();
  if (!dynrt__sysfs_exists("/sys/devices/system/cpu/cpufreq/policy0")) {
    dynrt_platform *p = NULL;
    char err[256];
    assert_int_equal(dynrt_platform_open("linux", &p, err, sizeof err), DYNRT_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "host backend"));
    return;
  }
  dynrt_platform *p = NULL;
  assert_int_equal(fk_platform_open("linux", &p, NULL, 0), DYNRT_OK);
  assert_true(dynrt_platform_get_info(p)->ndomains >= 1);
  uint32_t f;
  (void)dynrt_platform_get_freq(p, 0, &f);
  dynrt_platform_close(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_discover_xavier_nx, setup, teardown),
      cmocka_unit_test_setup_teardown(test_discover_odroid_xu3, setup, teardown),
      cmocka_unit_test_setup_teardown(test_discover_rpi4_no_sensor, setup, teardown),
      cmocka_unit_test_setup_teardown(test_discover_x86_pstate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_cpufreq_is_not_found, setup, teardown),
      cmocka_unit_test_setup_teardown(test_set_freq_userspace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_set_freq_minmax_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_set_freq_rounding_kernel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_devfreq_gpu_pin, setup, teardown),
      cmocka_unit_test_setup_teardown(test_governors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restore_on_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restore_after_crash, setup, teardown),
      cmocka_unit_test_setup_teardown(test_state_file_of_live_process, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restore_on_signal, setup, teardown),
      cmocka_unit_test_setup_teardown(test_monitoring_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_and_missing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_online_cpus_and_events, setup, teardown),
      cmocka_unit_test_setup_teardown(test_util_from_proc_stat, setup, teardown),
      cmocka_unit_test_setup_teardown(test_thermal_garbage_zones, setup, teardown),
      cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(test_this_machine_read_only, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_platform_linux_faults.c - the linux backend with a runtime manager on top, on a fake
 * Jetson Xavier NX tree that goes wrong while the manager runs: writes refused (EBUSY,
 * EINVAL, EACCES through the fake kernel; a file replaced by a directory and a link to
 * /dev/full, which fail for root too), control files and whole cpufreq policies vanishing,
 * CPUs going offline, power sensors reading zero or garbage, an energy counter wrapping,
 * thermal zones going bad. Under each fault the manager keeps deciding (every decision
 * valid, never on an offline core), the platform names the file in its error, the manager's
 * log names it too, and close puts back every file that still exists as it was found. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dynrt/rtm.h"
#include "fixtures/sysfs/fake_tree.h"

#define CPUFREQ "sys/devices/system/cpu/cpufreq/"
#define GV11B "sys/class/devfreq/17000000.gv11b/"
#define IIO "sys/bus/i2c/drivers/ina3221x/7-0040/iio:device0/"
#define LIB DYNRT_SOURCE_DIR "/models/cifar10-smoke.xavier-nx.oplib.json"
#define MS 1000000ull

typedef struct fixture {
  char root[64];
  char spec[80];
  char before[4][512]; /* control files of policy0/2/4 and the GPU at the start */
  dynrt_platform *p;
  dynrt_oplib *lib;
  dynrt_rtm *rtm;
  dynrt_app *app[2];
  uint64_t now;
  uint64_t decisions;
  int starved_no_cores;     /* decisions of a starved app with no core at all */
  int log_fd, saved_stderr; /* stderr captured while the manager runs */
  char log_path[96];
} fixture;

static const char *const dom_dir[4] = {CPUFREQ "policy0/", CPUFREQ "policy2/", CPUFREQ "policy4/",
                                       GV11B};

static void snapshot(const char *root, int k, char *out, size_t size) {
  static const char *const cpu[] = {"scaling_governor", "scaling_min_freq", "scaling_max_freq",
                                    "scaling_setspeed"};
  static const char *const gpu[] = {"governor", "min_freq", "max_freq"};
  size_t len = 0;
  out[0] = '\0';
  for (int i = 0; i < (k == 3 ? 3 : 4); i++) {
    char rel[FK_PATH], buf[64];
    snprintf(rel, sizeof rel, "%s%s", dom_dir[k], k == 3 ? gpu[i] : cpu[i]);
    len += (size_t)snprintf(out + len, size - len, "%s=%s;", k == 3 ? gpu[i] : cpu[i],
                            fk_read(root, rel, buf, sizeof buf));
  }
}

/* ---- stderr capture: the manager reports actuation failures in its log ---- */

static void capture_begin(fixture *fx) {
  fflush(stderr);
  snprintf(fx->log_path, sizeof fx->log_path, "%s/.log", fx->root);
  fx->log_fd = open(fx->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fx->log_fd >= 0);
  fx->saved_stderr = dup(2);
  dup2(fx->log_fd, 2);
}

/* Ends the capture; returns the captured text (static buffer) and echoes nothing. */
static const char *capture_end(fixture *fx) {
  static char text[1 << 16];
  fflush(stderr);
  dup2(fx->saved_stderr, 2);
  close(fx->saved_stderr);
  close(fx->log_fd);
  FILE *f = fopen(fx->log_path, "r");
  size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
  if (f) fclose(f);
  text[n] = '\0';
  unlink(fx->log_path);
  return text;
}

static int count_lines(const char *text, const char *needle) {
  int n = 0;
  for (const char *s = text; (s = strstr(s, needle)) != NULL; s++) n++;
  return n;
}

/* ---- the manager on the fake board ---- */

static int setup(void **state) {
  static fixture fx;
  memset(&fx, 0, sizeof fx);
  unsetenv("DYNRT_STATE_FILE");
  fk_mkroot(fx.root);
  snprintf(fx.spec, sizeof fx.spec, "linux:%s", fx.root);
  fk_board_xavier_nx(fx.root, 4);
  for (int k = 0; k < 4; k++) snapshot(fx.root, k, fx.before[k], sizeof fx.before[k]);
  fk_kernel_start(fx.root);
  char err[512];
  assert_int_equal(dynrt_platform_open(fx.spec, &fx.p, err, sizeof err), DYNRT_OK);
  assert_int_equal(dynrt_platform_get_info(fx.p)->can_control, 1);
  assert_int_equal(dynrt_oplib_load(LIB, &fx.lib, err, sizeof err), DYNRT_OK);
  dynrt_rtm_options o;
  dynrt_rtm_options_init(&o);
  o.allow_platform_mismatch = 1; /* the library says "xavier-nx", the tree's model string more */
  assert_int_equal(dynrt_rtm_create(fx.p, &o, &fx.rtm, err, sizeof err), DYNRT_OK);
  static const uint64_t target[2] = {300 * MS, 900 * MS};
  for (int i = 0; i < 2; i++) {
    dynrt_app_spec spec = {.name = i ? "slow" : "fast", .oplib = fx.lib};
    spec.req = (dynrt_requirements){target[i], target[i], 0, 2 - i, 0};
    assert_int_equal(dynrt_rtm_add_app(fx.rtm, &spec, &fx.app[i]), DYNRT_OK);
  }
  fx.now = dynrt_now_ns();
  *state = &fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  dynrt_rtm_destroy(fx->rtm);
  dynrt_platform_close(fx->p);
  dynrt_oplib_destroy(fx->lib);
  fk_kernel_stop();
  fk_rmtree(fx->root);
  return 0;
}

/* n manager periods: a plan each (the clock moves past the period), and one decision and
 * report per app. Every decision must be valid and keep off the cores in `offline`. */
static void run(fixture *fx, int n, uint64_t offline) {
  for (int k = 0; k < n; k++) {
    fx->now += 150 * MS;
    assert_int_equal(dynrt_rtm_step(fx->rtm, fx->now, NULL), DYNRT_OK);
    for (int i = 0; i < 2; i++) {
      dynrt_decision d;
      assert_int_equal(dynrt_app_decide(fx->app[i], &d), DYNRT_OK);
      assert_true(d.domain >= 0 && d.domain < 3);
      if (d.ncores < 1 || !d.cpu_mask) {
        /* A starved app time-shares a domain with online cores; never none (counted and
         * checked to be 0 by the callers). */
        dynrt_app_status as;
        dynrt_app_get_status(fx->app[i], &as);
        if (!as.starved) fail_msg("app %d: decision without cores", i);
        fx->starved_no_cores++;
      }
      if (d.cpu_mask & offline)
        fail_msg("app %d granted cores 0x%llx, 0x%llx are offline", i,
                 (unsigned long long)d.cpu_mask, (unsigned long long)offline);
      if (getenv("FAULTS_VERBOSE"))
        printf("  app %d: domain %d cores 0x%llx %u kHz subnet %d pred %.1f ms\n", i, d.domain,
               (unsigned long long)d.cpu_mask, d.khz, d.subnet, d.predicted_latency_ms);
      /* The inference takes 5 % longer than the op library says. */
      const dynrt_oplib_point *pt = dynrt_oplib_lookup(fx->lib, d.subnet, d.setting);
      assert_non_null(pt);
      uint64_t ns = (uint64_t)(pt->latency_mean_ms * 1.05e6);
      assert_int_equal(dynrt_app_report(fx->app[i], ns, 1000), DYNRT_OK);
      fx->decisions++;
    }
  }
}

/* The domain app i is planned on and the frequency its grant names. */
static int app_domain(fixture *fx, int i, uint32_t *khz) {
  dynrt_app_status s;
  dynrt_app_get_status(fx->app[i], &s);
  if (khz) *khz = s.decision.khz;
  return s.decision.domain;
}

/* Alternates app 0's latency target between tight (the op library's sub-networks take 0.1
 * to 1 ms) and loose: level 2 moves it between its fastest and its most frugal setting, a
 * new frequency to write each time. */
static void new_target(fixture *fx) {
  static int flip;
  uint64_t t = (flip ^= 1) ? 150000 : 300 * MS;
  dynrt_requirements r = {t, 0, 0, 2, 0};
  assert_int_equal(dynrt_app_set_requirements(fx->app[0], &r), DYNRT_OK);
}

static long long setspeed_of(fixture *fx, int dom) {
  char rel[128];
  snprintf(rel, sizeof rel, "%sscaling_setspeed", dom_dir[dom]);
  return fk_read_ll(fx->root, rel);
}

/* Everything that still exists is back as found, and the state file is gone. */
static void close_and_check(fixture *fx, int skip_dom) {
  dynrt_rtm_destroy(fx->rtm);
  fx->rtm = NULL;
  dynrt_platform_close(fx->p);
  fx->p = NULL;
  for (int k = 0; k < 4; k++) {
    if (k == skip_dom) continue;
    char now[512];
    snapshot(fx->root, k, now, sizeof now);
    if (strcmp(now, fx->before[k]))
      fail_msg("%s not restored:\n  before %s\n  after  %s", dom_dir[k], fx->before[k], now);
  }
  char path[FK_PATH];
  snprintf(path, sizeof path, "%s/.dynrt-state", fx->root);
  assert_false(dynrt__sysfs_exists(path));
}

/* ---- faults ---- */

/* The kernel refuses writes for a while (EBUSY, then EINVAL): the manager keeps deciding,
 * reports the file, retries every plan and applies the frequency once writes work again. */
static void test_refused_writes_then_recovery(void **state) {
  fixture *fx = *state;
  run(fx, 4, 0);
  dynrt_rtm_stats s0, s1;
  dynrt_rtm_get_stats(fx->rtm, &s0);
  static const int errs[2] = {EBUSY, EINVAL};
  for (int e = 0; e < 2; e++) {
    fk_k.write_fail_suffix = "/scaling_setspeed";
    fk_k.write_fail_errno = errs[e];
    capture_begin(fx);
    new_target(fx);
    run(fx, 6, 0);
    const char *log = capture_end(fx);
    dynrt_rtm_get_stats(fx->rtm, &s1);
    /* Failed writes are not counted as writes; the failure names file and value. */
    assert_int_equal(s1.freq_writes, s0.freq_writes);
    assert_true(s1.freq_write_errors > s0.freq_write_errors); /* counted as errors */
    const char *m = dynrt_platform_errmsg(fx->p);
    if (!strstr(m, "scaling_setspeed")) fail_msg("platform message: %s", m);
    assert_non_null(strstr(m, e ? "Invalid argument" : "busy"));
    if (!strstr(log, "scaling_setspeed")) fail_msg("manager log:\n%s", log);
    fk_k.write_fail_suffix = NULL;
    run(fx, 2, 0);
    dynrt_rtm_get_stats(fx->rtm, &s1);
    assert_true(s1.freq_writes > s0.freq_writes); /* retried and applied */
    uint32_t khz;
    int d = app_domain(fx, 0, &khz);
    assert_true(d >= 0);
    assert_int_equal(setspeed_of(fx, d), khz);
    s0 = s1;
  }
  close_and_check(fx, -1);
}

/* Permission taken away at run time (EACCES): the domain turns monitoring-only; the manager
 * keeps deciding and the other domains keep working. */
static void test_permission_lost(void **state) {
  fixture *fx = *state;
  run(fx, 4, 0);
  fk_k.write_fail_suffix = "policy0/scaling_setspeed";
  fk_k.write_fail_errno = EACCES;
  fk_k.probe_deny_suffix = "policy0/scaling_setspeed";
  fk_k.probe_deny_errno = EACCES;
  capture_begin(fx);
  for (int k = 0; k < 6; k++) {
    new_target(fx);
    run(fx, 3, 0);
  }
  /* The app on policy0 may sit there: its frequency write fails. Force one to be sure. */
  uint32_t a;
  dynrt_status st = dynrt_platform_set_freq(fx->p, 0, 1036800, &a);
  char m[DYNRT_ERRMSG_MAX];
  snprintf(m, sizeof m, "%s", dynrt_platform_errmsg(fx->p));
  /* Other domains are still controlled, and the manager goes on after the fault. */
  dynrt_status other = dynrt_platform_set_freq(fx->p, 1, 1420800, &a);
  fk_k.write_fail_suffix = NULL;
  fk_k.probe_deny_suffix = NULL;
  run(fx, 2, 0);
  const char *log = capture_end(fx);
  assert_int_equal(st, DYNRT_ERR_PERMISSION);
  assert_int_equal(dynrt_platform_domain(fx->p, 0)->can_set_freq, 0);
  assert_int_equal(other, DYNRT_OK);
  /* The first refused write named the file (in the manager's log, or here). */
  if (!strstr(log, "policy0/scaling_setspeed: Permission denied") &&
      !strstr(m, "policy0/scaling_setspeed: Permission denied"))
    fail_msg("no message names the file:\n%s\n%s", m, log);
  /* The manager stops writing a domain it can no longer control (refreshed every plan):
   * at most the write that failed is warned about, not one per plan. */
  int warned = count_lines(log, "[rtm] set_freq cpu0");
  if (warned > 1) fail_msg("%d manager warnings about cpu0 in 20 plans:\n%s", warned, log);
  close_and_check(fx, -1);
}

/* Real failures for root, without the fake kernel: scaling_setspeed replaced by a directory
 * (EISDIR) on one domain, by a link to /dev/full (ENOSPC) on another. */
static void test_file_replaced(void **state) {
  fixture *fx = *state;
  run(fx, 3, 0);
  fk_kernel_stop();
  char path[FK_PATH];
  for (int k = 0; k < 2; k++) {
    snprintf(path, sizeof path, "%s/%sscaling_setspeed", fx->root, dom_dir[k]);
    unlink(path);
    if (k == 0)
      assert_int_equal(mkdir(path, 0755), 0);
    else
      assert_int_equal(symlink("/dev/full", path), 0);
  }
  capture_begin(fx);
  for (int k = 0; k < 4; k++) {
    new_target(fx);
    run(fx, 3, 0);
  }
  uint32_t a;
  dynrt_status st0 = dynrt_platform_set_freq(fx->p, 0, 268800, &a);
  char m0[DYNRT_ERRMSG_MAX];
  snprintf(m0, sizeof m0, "%s", dynrt_platform_errmsg(fx->p));
  dynrt_status st1 = dynrt_platform_set_freq(fx->p, 1, 268800, &a);
  char m1[DYNRT_ERRMSG_MAX];
  snprintf(m1, sizeof m1, "%s", dynrt_platform_errmsg(fx->p));
  capture_end(fx);
  assert_int_equal(st0, DYNRT_ERR_IO);
  assert_non_null(strstr(m0, "policy0/scaling_setspeed"));
  assert_int_equal(st1, DYNRT_ERR_IO);
  assert_non_null(strstr(m1, "policy2/scaling_setspeed"));
  /* Governor and limits of every domain still come back; setspeed cannot. */
  for (int k = 0; k < 2; k++) {
    snprintf(path, sizeof path, "%s/%sscaling_setspeed", fx->root, dom_dir[k]);
    if (k == 0)
      rmdir(path);
    else
      unlink(path);
  }
  capture_begin(fx);
  dynrt_rtm_destroy(fx->rtm);
  fx->rtm = NULL;
  dynrt_platform_close(fx->p);
  fx->p = NULL;
  capture_end(fx);
  for (int k = 0; k < 4; k++) {
    char now[512], want[512];
    snapshot(fx->root, k, now, sizeof now);
    snprintf(want, sizeof want, "%s", fx->before[k]);
    /* setspeed is gone on two domains; on the third only a real kernel resets it to
     * <unsupported> when the governor leaves userspace: compare the rest. */
    if (k < 3) {
      *strstr(now, "scaling_setspeed=") = '\0';
      *strstr(want, "scaling_setspeed=") = '\0';
    }
    if (strcmp(now, want)) fail_msg("%s: before %s after %s", dom_dir[k], want, now);
  }
  fk_kernel_start(fx->root); /* for teardown */
}

/* A whole cpufreq policy disappears mid-run (its cluster hot-unplugged with the driver) and
 * the GPU's max_freq vanishes: the manager keeps deciding on what is left. */
static void test_files_vanish(void **state) {
  fixture *fx = *state;
  run(fx, 3, 0);
  /* Make sure policy4 was changed (saved) before it goes. */
  uint32_t a;
  assert_int_equal(dynrt_platform_set_freq(fx->p, 2, 806400, &a), DYNRT_OK);
  char path[FK_PATH];
  snprintf(path, sizeof path, "%s/" CPUFREQ "policy4", fx->root);
  fk_rmtree(path);
  snprintf(path, sizeof path, "%s/" GV11B "max_freq", fx->root);
  unlink(path);
  fk_write(fx->root, "sys/devices/system/cpu/online", "0-3\n");
  capture_begin(fx);
  for (int k = 0; k < 4; k++) {
    new_target(fx);
    run(fx, 3, 0x30);
  }
  dynrt_status st = dynrt_platform_set_freq(fx->p, 2, 1036800, &a);
  char m[DYNRT_ERRMSG_MAX];
  snprintf(m, sizeof m, "%s", dynrt_platform_errmsg(fx->p));
  /* The GPU (pinned min = max at its lowest OPP while idle) cannot be moved without max_freq. */
  dynrt_status gst = dynrt_platform_set_freq(fx->p, 3, 1109250, &a);
  char mg[DYNRT_ERRMSG_MAX];
  snprintf(mg, sizeof mg, "%s", dynrt_platform_errmsg(fx->p));
  capture_end(fx);
  assert_int_equal(st, DYNRT_ERR_NOT_FOUND);
  assert_non_null(strstr(m, "policy4/"));
  assert_int_equal(gst, DYNRT_ERR_NOT_FOUND);
  if (!strstr(mg, "gv11b/max_freq")) fail_msg("GPU message: %s", mg);
  /* Close restores what is still there (the log names the files that are not). */
  fk_write(fx->root, GV11B "max_freq", "1109250000\n");
  capture_begin(fx);
  dynrt_rtm_destroy(fx->rtm);
  fx->rtm = NULL;
  dynrt_platform_close(fx->p);
  fx->p = NULL;
  const char *log = capture_end(fx);
  if (!strstr(log, "policy4/")) fail_msg("close log:\n%s", log);
  for (int k = 0; k < 4; k++) {
    if (k == 2) continue;
    char now[512];
    snapshot(fx->root, k, now, sizeof now);
    if (strcmp(now, fx->before[k]))
      fail_msg("%s: before %s after %s", dom_dir[k], fx->before[k], now);
  }
}

/* CPUs go offline and come back (nvpmodel, hotplug): the manager is told by an event and
 * never grants an offline core; when every core of the apps' cluster goes, they move. */
static void test_cpus_offline(void **state) {
  fixture *fx = *state;
  run(fx, 3, 0);
  dynrt_app_status s;
  dynrt_app_get_status(fx->app[0], &s);
  uint64_t used = s.decision.cpu_mask;
  dynrt_app_get_status(fx->app[1], &s);
  used |= s.decision.cpu_mask;
  /* Take the cores in use away (keep cpu0: the kernel never offlines it here). */
  uint64_t offline = used & ~1ull;
  uint64_t online = 0x3f & ~offline;
  char list[64] = "";
  size_t n = 0;
  for (int c = 0; c < 6; c++)
    if (online >> c & 1) n += (size_t)snprintf(list + n, sizeof list - n, "%s%d", n ? "," : "", c);
  fk_write(fx->root, "sys/devices/system/cpu/online", "%s\n", list);
  dynrt_rtm_stats s0, s1;
  dynrt_rtm_get_stats(fx->rtm, &s0);
  run(fx, 5, offline);
  dynrt_rtm_get_stats(fx->rtm, &s1);
  assert_true(s1.events > s0.events);
  assert_int_equal(fx->starved_no_cores, 0);
  /* Everything but cpu0 offline: one app gets it, the other is starved and time-shares a
   * domain that still has a core (never a decision naming no core). */
  fk_write(fx->root, "sys/devices/system/cpu/online", "0\n");
  run(fx, 4, 0x3e);
  assert_int_equal(fx->starved_no_cores, 0);
  fk_write(fx->root, "sys/devices/system/cpu/online", "0-5\n");
  run(fx, 3, 0);
  close_and_check(fx, -1);
}

/* Power sensors read zero, garbage or vanish; the energy counter stays monotonic and
 * resumes; thermal zones go bad. The manager runs in between. */
static void test_sensors(void **state) {
  fixture *fx = *state;
  uint64_t e0, e1, e2;
  double w, c;
  run(fx, 2, 0);
  assert_int_equal(dynrt_platform_read_energy(fx->p, &e0), DYNRT_OK);
  capture_begin(fx);
  fk_write(fx->root, IIO "in_power0_input", "0\n");
  dynrt_status zero = dynrt_platform_read_power(fx->p, &w);
  char mz[DYNRT_ERRMSG_MAX];
  snprintf(mz, sizeof mz, "%s", dynrt_platform_errmsg(fx->p));
  run(fx, 2, 0);
  fk_write(fx->root, IIO "in_power0_input", "4x5\n");
  dynrt_status garbage = dynrt_platform_read_energy(fx->p, &e1);
  char mg[DYNRT_ERRMSG_MAX];
  snprintf(mg, sizeof mg, "%s", dynrt_platform_errmsg(fx->p));
  char path[FK_PATH];
  snprintf(path, sizeof path, "%s/" IIO "in_power0_input", fx->root);
  unlink(path);
  dynrt_status gone = dynrt_platform_read_energy(fx->p, &e1);
  run(fx, 2, 0);
  fk_write(fx->root, IIO "in_power0_input", "6000\n");
  dynrt_status back = dynrt_platform_read_energy(fx->p, &e1);
  usleep(20000);
  dynrt_status later = dynrt_platform_read_energy(fx->p, &e2);
  /* Thermal: one zone garbage, the other vanishes, then both. */
  fk_write(fx->root, "sys/class/thermal/thermal_zone0/temp", "hot\n");
  dynrt_status t1 = dynrt_platform_read_temp(fx->p, &c);
  double c1 = c;
  snprintf(path, sizeof path, "%s/sys/class/thermal/thermal_zone1/temp", fx->root);
  unlink(path);
  dynrt_status t2 = dynrt_platform_read_temp(fx->p, &c);
  capture_end(fx);
  assert_int_equal(zero, DYNRT_ERR_FORMAT);
  if (!strstr(mz, "in_power0_input")) fail_msg("zero power: %s", mz);
  assert_int_equal(garbage, DYNRT_ERR_FORMAT);
  if (!strstr(mg, "'4x5'")) fail_msg("garbage power: %s", mg);
  assert_true(gone != DYNRT_OK);
  assert_int_equal(back, DYNRT_OK);
  assert_int_equal(later, DYNRT_OK);
  assert_true(e1 >= e0 && e2 > e1); /* monotonic, and 6 W integrate again */
  assert_int_equal(t1, DYNRT_OK);
  assert_true(c1 > 39.9 && c1 < 40.1); /* the GPU zone */
  assert_int_equal(t2, DYNRT_ERR_NOT_FOUND);
  run(fx, 2, 0);
  close_and_check(fx, -1);
}

/* An x86 laptop's RAPL counter wraps and then reads above its range while the host runs. */
static void test_rapl_wrap_in_run(void **state) {
  fixture *fx = *state;
  char root[64], spec[80], err[256];
  fk_mkroot(root);
  fk_board_x86(root);
  fk_write(root, "sys/class/powercap/intel-rapl:0/max_energy_range_uj", "1000000\n");
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "990000\n");
  snprintf(spec, sizeof spec, "linux:%s", root);
  fk_kernel_stop();
  dynrt_platform *p = NULL;
  capture_begin(fx); /* intel_pstate has no frequency table: a warning per policy */
  dynrt_status st = dynrt_platform_open(spec, &p, err, sizeof err);
  capture_end(fx);
  assert_int_equal(st, DYNRT_OK);
  uint64_t e[4];
  assert_int_equal(dynrt_platform_read_energy(p, &e[0]), DYNRT_OK);
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "5000\n"); /* wrapped */
  assert_int_equal(dynrt_platform_read_energy(p, &e[1]), DYNRT_OK);
  assert_int_equal(e[1] - e[0], 15000);
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "1000001\n");
  capture_begin(fx);
  dynrt_status bad = dynrt_platform_read_energy(p, &e[2]);
  capture_end(fx);
  assert_int_equal(bad, DYNRT_ERR_FORMAT);
  assert_non_null(strstr(dynrt_platform_errmsg(p), "energy_uj"));
  fk_write(root, "sys/class/powercap/intel-rapl:0/energy_uj", "6000\n");
  assert_int_equal(dynrt_platform_read_energy(p, &e[3]), DYNRT_OK);
  assert_int_equal(e[3] - e[1], 1000);
  dynrt_platform_close(p);
  fk_rmtree(root);
  fk_kernel_start(fx->root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_refused_writes_then_recovery, setup, teardown),
      cmocka_unit_test_setup_teardown(test_permission_lost, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file_replaced, setup, teardown),
      cmocka_unit_test_setup_teardown(test_files_vanish, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cpus_offline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sensors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rapl_wrap_in_run, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

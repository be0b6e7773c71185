/* test_platform_linux_signals.c - leaving the device as found, at system level: the real
 * `dynrt run` command, as its own process, runs a scenario whose platform is "linux:ROOT"
 * on a fake Xavier NX tree; its manager pins governors and limits (rtm policy: the app's
 * cluster at its planned frequency, idle domains at their lowest). Mid-run, from outside:
 *  - SIGTERM: the process ends and every governor and limit is back, the state file gone;
 *  - SIGKILL: nothing can run in the process, so the tree stays changed and the state file
 *    stays; the next `dynrt run` on the tree restores it at open (and says so) before it
 *    changes anything, and leaves the tree as found when it ends.
 * The binary comes from $DYNRT_BIN (tests/cmake/reliability.cmake); without it the test is
 * skipped. No fake kernel runs in the child: its writes are plain file writes. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "dynrt/oplib.h"
#include "fixtures/sysfs/fake_tree.h"

#define CPUFREQ "sys/devices/system/cpu/cpufreq/"
#define GV11B "sys/class/devfreq/17000000.gv11b/"
#define MODEL DYNRT_SOURCE_DIR "/models/cifar10-smoke.safetensors"
#define HOSTLIB DYNRT_SOURCE_DIR "/models/cifar10-smoke.oplib.json"

typedef struct fixture {
  char root[64];
  char scn[96];
  char state[96];
  char before[2048];
  const char *bin;
} fixture;

/* Governor and limits of every domain: what must come back. setspeed is left out: only a
 * real kernel resets it when the governor leaves userspace. */
static void snapshot(const char *root, char *out, size_t size) {
  static const char *const files[] = {CPUFREQ "policy0/scaling_governor",
                                      CPUFREQ "policy0/scaling_min_freq",
                                      CPUFREQ "policy0/scaling_max_freq",
                                      CPUFREQ "policy2/scaling_governor",
                                      CPUFREQ "policy2/scaling_min_freq",
                                      CPUFREQ "policy2/scaling_max_freq",
                                      CPUFREQ "policy4/scaling_governor",
                                      CPUFREQ "policy4/scaling_min_freq",
                                      CPUFREQ "policy4/scaling_max_freq",
                                      GV11B "governor",
                                      GV11B "min_freq",
                                      GV11B "max_freq"};
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char buf[64];
    len += (size_t)snprintf(out + len, size - len, "%s=%s\n", files[i],
                            fk_read(root, files[i], buf, sizeof buf));
  }
}

/* The shipped host library of cifar10-smoke, moved onto the fake board's first cluster at
 * its lowest OPP so that `dynrt run` uses it instead of profiling at start. */
static void write_oplib(const char *path) {
  char err[512];
  dynrt_oplib *host = NULL, *lib = NULL;
  assert_int_equal(dynrt_oplib_load(HOSTLIB, &host, err, sizeof err), DYNRT_OK);
  assert_int_equal(
      dynrt_oplib_create(dynrt_oplib_model_name(host), dynrt_oplib_model_file(host), "host", &lib),
      DYNRT_OK);
  for (int s = 0; s < dynrt_oplib_num_settings(host); s++) {
    dynrt_oplib_setting set = *dynrt_oplib_setting_at(host, s);
    snprintf(set.domain, sizeof set.domain, "cpu0");
    set.khz = 115200;
    assert_int_equal(dynrt_oplib_add_setting(lib, &set, NULL), DYNRT_OK);
  }
  for (int i = 0; i < dynrt_oplib_num_subnets(host); i++)
    assert_int_equal(dynrt_oplib_add_subnet(lib, dynrt_oplib_subnet_at(host, i), NULL), DYNRT_OK);
  for (int i = 0; i < dynrt_oplib_num_points(host); i++)
    assert_int_equal(dynrt_oplib_add_point(lib, dynrt_oplib_point_at(host, i)), DYNRT_OK);
  assert_int_equal(dynrt_oplib_finalize(lib), DYNRT_OK);
  assert_int_equal(dynrt_oplib_save(lib, path), DYNRT_OK);
  dynrt_oplib_destroy(lib);
  dynrt_oplib_destroy(host);
}

static int setup(void **state) {
  static fixture fx;
  memset(&fx, 0, sizeof fx);
  unsetenv("DYNRT_STATE_FILE");
  fx.bin = getenv("DYNRT_BIN");
  fk_mkroot(fx.root);
  fk_board_xavier_nx(fx.root, 4);
  snapshot(fx.root, fx.before, sizeof fx.before);
  char lib[128];
  snprintf(lib, sizeof lib, "%s/smoke.oplib.json", fx.root);
  write_oplib(lib);
  snprintf(fx.scn, sizeof fx.scn, "%s/run.json", fx.root);
  snprintf(fx.state, sizeof fx.state, "%s/.dynrt-state", fx.root);
  fk_write(fx.root, "run.json",
           "{\"format\": \"dynrt-scenario\", \"version\": 1, \"name\": \"signals\",\n"
           " \"platform\": \"linux:%s\", \"duration_s\": 60, \"seed\": 1,\n"
           " \"apps\": [{\"name\": \"cam\", \"model\": \"%s\", \"oplib\": \"%s\",\n"
           "   \"arrival\": {\"period_ms\": 20}, \"latency_ms\": 50, \"priority\": 1}],\n"
           " \"policies\": [\"rtm\"]}\n",
           fx.root, MODEL, lib);
  *state = &fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  fk_rmtree(fx->root);
  return 0;
}

/* Starts `dynrt run SCN [--duration S]` with stdout and stderr to ROOT/NAME.log. */
static pid_t start(const fixture *fx, const char *name, const char *duration) {
  char log[128], out[128];
  snprintf(log, sizeof log, "%s/%s.log", fx->root, name);
  snprintf(out, sizeof out, "%s/out-%s", fx->root, name);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) _exit(126);
    dup2(fd, 1);
    dup2(fd, 2);
    setenv("DYNRT_LOG", "warn", 1);
    if (duration)
      execl(fx->bin, fx->bin, "run", fx->scn, "--out", out, "--duration", duration, (char *)NULL);
    else
      execl(fx->bin, fx->bin, "run", fx->scn, "--out", out, (char *)NULL);
    _exit(127);
  }
  return pid;
}

static const char *read_log(const fixture *fx, const char *name) {
  static char buf[16384];
  char rel[64];
  snprintf(rel, sizeof rel, "%s.log", name);
  return fk_read(fx->root, rel, buf, sizeof buf);
}

/* Waits until the run has changed the device (its state file exists and names the
 * cluster), at most `secs`. */
static int wait_changed(const fixture *fx, pid_t pid, double secs) {
  for (int i = 0; i < (int)(secs * 100); i++) {
    char buf[4096], cur[2048];
    fk_read("", fx->state, buf, sizeof buf);
    snapshot(fx->root, cur, sizeof cur);
    if (strstr(buf, "policy0/scaling_governor") && strcmp(cur, fx->before)) return 1;
    if (waitpid(pid, NULL, WNOHANG) == pid) return 0;
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

static int wait_exit(pid_t pid, double secs, int *status) {
  for (int i = 0; i < (int)(secs * 100); i++) {
    if (waitpid(pid, status, WNOHANG) == pid) return 1;
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

static void expect_as_found(const fixture *fx) {
  char now[2048];
  snapshot(fx->root, now, sizeof now);
  if (strcmp(now, fx->before)) fail_msg("not restored:\nbefore:\n%s\nafter:\n%s", fx->before, now);
  assert_false(dynrt__sysfs_exists(fx->state));
}

static void test_sigterm_restores(void **state) {
  fixture *fx = *state;
  if (!fx->bin) skip();
  pid_t pid = start(fx, "term", NULL);
  if (!wait_changed(fx, pid, 60)) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("dynrt run did not change the device:\n%s", read_log(fx, "term"));
  }
  /* Let the manager run a little under the pins, then stop it from outside. */
  struct timespec ts = {0, 300000000};
  nanosleep(&ts, NULL);
  assert_int_equal(kill(pid, SIGTERM), 0);
  int status = 0;
  if (!wait_exit(pid, 30, &status)) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("dynrt run did not end on SIGTERM:\n%s", read_log(fx, "term"));
  }
  /* It stops its run (and says it was interrupted) or dies of the signal: either way the
   * device is as found. */
  if (getenv("SIGNALS_VERBOSE")) printf("status %#x\n%s", status, read_log(fx, "term"));
  assert_true((WIFEXITED(status) && WEXITSTATUS(status) != 0) ||
              (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM));
  expect_as_found(fx);
}

static void test_sigkill_then_next_start_restores(void **state) {
  fixture *fx = *state;
  if (!fx->bin) skip();
  pid_t pid = start(fx, "kill", NULL);
  if (!wait_changed(fx, pid, 60)) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("dynrt run did not change the device:\n%s", read_log(fx, "kill"));
  }
  struct timespec ts = {0, 300000000};
  nanosleep(&ts, NULL);
  assert_int_equal(kill(pid, SIGKILL), 0);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid); /* reaped: the pid in the file is dead */
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  char now[2048];
  snapshot(fx->root, now, sizeof now);
  assert_string_not_equal(now, fx->before); /* nothing could restore */
  assert_true(dynrt__sysfs_exists(fx->state));
  /* The next start replays the dead run's state file first, then runs and restores. */
  pid = start(fx, "next", "0.5");
  if (!wait_exit(pid, 60, &status)) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("the next dynrt run did not end:\n%s", read_log(fx, "next"));
  }
  const char *log = read_log(fx, "next");
  if (getenv("SIGNALS_VERBOSE")) printf("%s\n", log);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail_msg("next run failed:\n%s", log);
  if (!strstr(log, "left by a crashed run")) fail_msg("no recovery reported:\n%s", log);
  expect_as_found(fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sigterm_restores, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sigkill_then_next_start_restores, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

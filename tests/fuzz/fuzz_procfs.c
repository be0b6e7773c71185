/* fuzz_procfs.c - libFuzzer target: arbitrary bytes as the files the linux and host
 * backends read: a sysfs attribute (sysfs.c: whole-file read with trimming and the typed
 * readers), /proc/stat (linux_proc.c) and the crash-recovery state file (linux_state.c).
 * These readers only take paths, so the input goes to a per-process folder under $TMPDIR
 * or /tmp, also the scratch root of the state file, whose restore writes go to a hook that
 * performs none of them. In the state file, "@ROOT@" stands for the scratch root (its name
 * has the process id), so that seeds can name paths the reader accepts. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "platform/linux_int.h"

static char g_root[FUZZ_PATH_MAX], g_file[FUZZ_PATH_MAX + 16], g_state[FUZZ_PATH_MAX + 16];

/* Restore writes of an accepted state file: pretend each one worked, touch nothing. */
static int no_write(void *user, int op, const char *path, const char *value) { return 0; }

static void cleanup(void) {
  unlink(g_file);
  unlink(g_state);
  rmdir(g_root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  unsetenv("DYNRT_STATE_FILE");
  fuzz_tmp_path(g_root, sizeof g_root, "procfs");
  if (mkdir(g_root, 0700) && errno != EEXIST) abort();
  snprintf(g_file, sizeof g_file, "%s/value", g_root);
  snprintf(g_state, sizeof g_state, "%s/.dynrt-state", g_root);
  dynrt__sysfs_set_hook(no_write, NULL);
  atexit(cleanup);
  return 0;
}

/* data with every "@ROOT@" replaced by g_root, written to g_state. */
static int write_state(const uint8_t *data, size_t size) {
  static const char key[] = "@ROOT@";
  size_t kl = sizeof key - 1, rl = strlen(g_root);
  uint8_t *buf = malloc(size / kl * rl + size + 1), *o = buf;
  if (!buf) return -1;
  for (size_t i = 0; i < size;) {
    if (size - i >= kl && !memcmp(data + i, key, kl)) {
      memcpy(o, g_root, rl);
      o += rl;
      i += kl;
    } else {
      *o++ = data[i++];
    }
  }
  int rc = fuzz_write_file(g_state, buf, (size_t)(o - buf));
  free(buf);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fuzz_write_file(g_file, data, size)) abort();
  dynrt_err err;
  static const size_t sizes[] = {2, 8, 64, DYNRT_SYSFS_VALUE_MAX};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    char buf[DYNRT_SYSFS_VALUE_MAX];
    if (dynrt__sysfs_read(g_file, buf, sizes[k], &err) == DYNRT_OK) {
      size_t n = strlen(buf);
      if (n >= sizes[k] || (n && isspace((unsigned char)buf[n - 1]))) abort();
    } else if (buf[0]) {
      abort(); /* a failed read leaves an empty string */
    }
  }
  uint64_t u;
  int64_t i;
  double d;
  uint64_t mask;
  dynrt__sysfs_read_u64(g_file, &u, &err);
  dynrt__sysfs_read_i64(g_file, &i, &err);
  if (dynrt__sysfs_read_double(g_file, &d, &err) == DYNRT_OK && !isfinite(d)) abort();
  dynrt__sysfs_read_cpulist(g_file, &mask, &err);

  static dynrt__cpustat prev, cur; /* 1 KiB each */
  if (dynrt__procstat_read(g_file, &cur, &err) == DYNRT_OK) {
    double util[DYNRT_MAX_CPUS];
    dynrt__procstat_util(&prev, &cur, util, DYNRT_MAX_CPUS);
    for (int c = 0; c < DYNRT_MAX_CPUS; c++)
      if (!(util[c] >= 0 && util[c] <= 1)) abort();
    prev = cur;
  }

  if (write_state(data, size)) abort();
  static dynrt__restore r; /* 40 KiB */
  dynrt__restore_init(&r, g_root);
  if (strcmp(r.state_path, g_state)) abort();
  dynrt__restore_recover(&r, &err);
  unlink(g_state);
  return 0;
}

/* linux_state.c - leaves the device as found: the restore list of the linux backend, its
 * state file (for recovery after a crash), and the SIGINT/SIGTERM handlers that replay it.
 * The signal handler only calls open, write, close, unlink, sigaction and raise on paths and
 * values prepared before the signal; it must never allocate, lock or format. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/linux_int.h"

#define STATE_MAGIC "dynrt-state 1"
#define MAX_REGISTERED 16

static const int g_signals[2] = {SIGINT, SIGTERM};
static struct sigaction g_old[2];
static int g_installed[2];
static dynrt__restore *_Atomic g_slots[MAX_REGISTERED];
static int g_nregistered;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

/* Async-signal-safe replay of one restore list. */
static void replay_raw(dynrt__restore *r) {
  int n = atomic_load(&r->n);
  for (int i = 0; i < n; i++) {
    int fd = open(r->e[i].path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) continue;
    (void)!write(fd, r->e[i].value, r->e[i].value_len);
    close(fd);
  }
  unlink(r->state_path);
}

static void on_signal(int sig) {
  int saved = errno;
  for (int i = 0; i < MAX_REGISTERED; i++) {
    dynrt__restore *r = atomic_load(&g_slots[i]);
    if (r) replay_raw(r);
  }
  /* Hand the signal to whoever had it before (the default action terminates). */
  for (int k = 0; k < 2; k++)
    if (g_signals[k] == sig) sigaction(sig, &g_old[k], NULL);
  raise(sig);
  errno = saved;
}

static void register_restore(dynrt__restore *r) {
  pthread_mutex_lock(&g_mu);
  for (int i = 0; i < MAX_REGISTERED; i++)
    if (!atomic_load(&g_slots[i])) {
      atomic_store(&g_slots[i], r);
      r->registered = 1;
      g_nregistered++;
      break;
    }
  if (!r->registered)
    DYNRT_LOGW("linux", "more than %d platforms control devices; signals will not restore %s",
               MAX_REGISTERED, r->root);
  for (int k = 0; k < 2 && g_nregistered == 1 && r->registered; k++) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    struct sigaction old;
    if (sigaction(g_signals[k], NULL, &old) != 0) continue;
    /* A signal the program ignores (nohup) stays ignored. */
    if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN) continue;
    if (sigaction(g_signals[k], &sa, &g_old[k]) == 0) g_installed[k] = 1;
  }
  pthread_mutex_unlock(&g_mu);
}

static void unregister_restore(dynrt__restore *r) {
  if (!r->registered) return;
  pthread_mutex_lock(&g_mu);
  for (int i = 0; i < MAX_REGISTERED; i++)
    if (atomic_load(&g_slots[i]) == r) atomic_store(&g_slots[i], NULL);
  r->registered = 0;
  if (--g_nregistered == 0)
    for (int k = 0; k < 2; k++)
      if (g_installed[k]) {
        sigaction(g_signals[k], &g_old[k], NULL);
        g_installed[k] = 0;
      }
  pthread_mutex_unlock(&g_mu);
}

static int dir_writable(const char *dir) { return access(dir, W_OK | X_OK) == 0; }

void dynrt__restore_init(dynrt__restore *r, const char *root) {
  memset(r, 0, sizeof *r);
  dynrt__sysfs_copy(r->root, sizeof r->root, root);
  const char *env = getenv("DYNRT_STATE_FILE");
  if (env && *env) {
    dynrt__sysfs_copy(r->state_path, sizeof r->state_path, env);
  } else if (root[0]) {
    dynrt__sysfs_path(r->state_path, sizeof r->state_path, root, ".dynrt-state");
  } else {
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    (void)mkdir("/var/lib/dynrt", 0755);
    if (dir_writable("/var/lib/dynrt"))
      snprintf(r->state_path, sizeof r->state_path, "/var/lib/dynrt/state");
    else if (xdg && *xdg && dir_writable(xdg))
      snprintf(r->state_path, sizeof r->state_path, "%s/dynrt-state", xdg);
    else
      snprintf(r->state_path, sizeof r->state_path, "/tmp/dynrt-state-%u", (unsigned)geteuid());
  }
}

/* A restore path must lie under ROOT/sys/ and never climb out of it. */
static int path_allowed(const dynrt__restore *r, const char *path) {
  char prefix[DYNRT_SYSFS_PATH_MAX];
  if (dynrt__sysfs_path(prefix, sizeof prefix, r->root, "sys/") != 0) return 0;
  return !strncmp(path, prefix, strlen(prefix)) && !strstr(path, "/../");
}

static int pid_alive(long pid) {
  if (pid <= 0) return 0;
  if (pid == (long)getpid()) return 1;
  return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

dynrt_status dynrt__restore_recover(dynrt__restore *r, dynrt_err *err) {
  struct stat st;
  if (lstat(r->state_path, &st) != 0) return DYNRT_OK;
  if (!S_ISREG(st.st_mode))
    return dynrt__seterr(err, DYNRT_ERR_FORMAT, "state file %s is not a regular file",
                         r->state_path);
  /* Outside a test root the file decides what root writes where: trust only our own. */
  if (!r->root[0] && (st.st_uid != geteuid() || (st.st_mode & 022)))
    return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                         "state file %s is not owned by uid %u or is writable by others; "
                         "not replaying it (check and remove it)",
                         r->state_path, (unsigned)geteuid());
  FILE *f = fopen(r->state_path, "re");
  if (!f)
    return dynrt__seterr(err, DYNRT_ERR_IO, "state file %s: cannot open: %s", r->state_path,
                         strerror(errno));
  dynrt__restore tmp;
  memset(&tmp, 0, sizeof tmp);
  dynrt__sysfs_copy(tmp.root, sizeof tmp.root, r->root);
  char line[DYNRT_SYSFS_PATH_MAX + DYNRT_RESTORE_VALUE_MAX + 8];
  long pid = 0;
  int lineno = 0, n = 0, root_ok = 0;
  dynrt_status status = DYNRT_OK;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    line[strcspn(line, "\n")] = '\0';
    if (lineno == 1 && strcmp(line, STATE_MAGIC) != 0) {
      status = DYNRT_ERR_FORMAT;
      break;
    }
    if (lineno == 1) continue;
    if (!strncmp(line, "pid ", 4)) {
      pid = strtol(line + 4, NULL, 10);
    } else if (!strncmp(line, "root ", 5)) {
      root_ok = !strcmp(line + 5, r->root[0] ? r->root : "/");
    } else if (!strncmp(line, "w ", 2)) {
      char *tab = strchr(line + 2, '\t');
      if (!tab || n == DYNRT_RESTORE_MAX || strlen(tab + 1) >= DYNRT_RESTORE_VALUE_MAX) {
        status = DYNRT_ERR_FORMAT;
        break;
      }
      *tab = '\0';
      if (!path_allowed(&tmp, line + 2)) {
        status = DYNRT_ERR_FORMAT;
        break;
      }
      dynrt__sysfs_copy(tmp.e[n].path, sizeof tmp.e[n].path, line + 2);
      dynrt__sysfs_copy(tmp.e[n].value, sizeof tmp.e[n].value, tab + 1);
      n++;
    } else if (line[0]) {
      status = DYNRT_ERR_FORMAT;
      break;
    }
  }
  fclose(f);
  if (status != DYNRT_OK || !root_ok)
    return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                         "state file %s: %s at line %d; not replaying it (check and remove it)",
                         r->state_path, status != DYNRT_OK ? "malformed" : "another root", lineno);
  if (pid_alive(pid))
    return dynrt__seterr(err, DYNRT_ERR_BUSY,
                         "process %ld (state file %s) controls this device; monitoring only", pid,
                         r->state_path);
  int failed = 0;
  for (int i = 0; i < n; i++) {
    dynrt_err e;
    if (dynrt__sysfs_write(tmp.e[i].path, tmp.e[i].value, &e) != DYNRT_OK) {
      DYNRT_LOGW("linux", "crash recovery: %s", e.msg);
      failed++;
    }
  }
  DYNRT_LOGW("linux", "restored %d setting(s) left by a crashed run (pid %ld, state file %s)%s",
             n - failed, pid, r->state_path, failed ? "; some writes failed" : "");
  if (unlink(r->state_path) != 0)
    DYNRT_LOGW("linux", "cannot remove state file %s: %s", r->state_path, strerror(errno));
  return DYNRT_OK;
}

/* Writes the whole list to STATE.tmp and renames it over the state file. */
static int write_state_file(const dynrt__restore *r) {
  char tmp[DYNRT_SYSFS_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", r->state_path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  FILE *f = fdopen(fd, "w");
  if (!f) {
    int e = errno;
    close(fd);
    unlink(tmp);
    return e;
  }
  fprintf(f, "%s\npid %ld\nroot %s\n", STATE_MAGIC, (long)getpid(), r->root[0] ? r->root : "/");
  int n = atomic_load(&r->n);
  for (int i = 0; i < n; i++) fprintf(f, "w %s\t%s\n", r->e[i].path, r->e[i].value);
  int e = fflush(f) != 0 ? errno : 0;
  if (!e && fsync(fileno(f)) != 0 && errno != EINVAL) e = errno;
  if (fclose(f) != 0 && !e) e = errno;
  if (!e && rename(tmp, r->state_path) != 0) e = errno;
  if (e) unlink(tmp);
  return e;
}

dynrt_status dynrt__restore_add(dynrt__restore *r, const dynrt__restore_entry *entries, int k,
                                dynrt_err *err) {
  int n = atomic_load(&r->n);
  if (n + k > DYNRT_RESTORE_MAX)
    return dynrt__seterr(err, DYNRT_ERR_INTERNAL, "restore list full (%d entries)",
                         DYNRT_RESTORE_MAX);
  memcpy(&r->e[n], entries, (size_t)k * sizeof *entries);
  for (int i = n; i < n + k; i++) r->e[i].value_len = strlen(r->e[i].value);
  atomic_store(&r->n, n + k);
  int e = write_state_file(r);
  r->state_ok = e == 0;
  if (e)
    DYNRT_LOGW("linux",
               "cannot write state file %s (%s): a crash will not be recovered on the next "
               "start (close and SIGINT/SIGTERM still restore)",
               r->state_path, strerror(e));
  if (!r->registered) register_restore(r);
  return DYNRT_OK;
}

dynrt_status dynrt__restore_run(dynrt__restore *r, dynrt_err *err) {
  dynrt_status first = DYNRT_OK;
  int n = atomic_load(&r->n);
  for (int i = 0; i < n; i++) {
    dynrt_err e;
    dynrt_status st = dynrt__sysfs_write(r->e[i].path, r->e[i].value, &e);
    if (st != DYNRT_OK) {
      DYNRT_LOGW("linux", "restore: %s", e.msg);
      if (first == DYNRT_OK) first = dynrt__seterr(err, st, "restore: %s", e.msg);
    }
  }
  if (n > 0 && unlink(r->state_path) != 0 && errno != ENOENT)
    DYNRT_LOGW("linux", "cannot remove state file %s: %s", r->state_path, strerror(errno));
  unregister_restore(r);
  atomic_store(&r->n, 0);
  return first;
}

/*
 * linux_int.h - internals of the linux and host backends: /proc/stat and thermal readers
 * (linux_proc.c), the "leave the device as found" machinery (linux_state.c) and the linux
 * backend state (linux.c). Not a public interface.
 */
#ifndef DYNRT_LINUX_INT_H
#define DYNRT_LINUX_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "platform/platform_int.h"
#include "platform/sysfs.h"

/* ---- /proc/stat (linux_proc.c) ---- */

/* Cumulative ticks per CPU; present has bit c set when line "cpuC" was there. */
typedef struct dynrt__cpustat {
  uint64_t present;
  uint64_t busy[DYNRT_MAX_CPUS];
  uint64_t total[DYNRT_MAX_CPUS];
} dynrt__cpustat;

/* Parses a /proc/stat file. busy = user+nice+system+irq+softirq+steal, total = busy + idle +
 * iowait (guest time is already inside user and nice). Lines of CPUs >= DYNRT_MAX_CPUS are
 * skipped. A cpuN line with fewer than 4 numbers is a DYNRT_ERR_FORMAT naming the line. */
dynrt_status dynrt__procstat_read(const char *path, dynrt__cpustat *s, dynrt_err *err);
/* util[c] = Δbusy/Δtotal for c < n; 0 for CPUs absent in either sample or with no ticks. */
void dynrt__procstat_util(const dynrt__cpustat *prev, const dynrt__cpustat *cur, double *util,
                          int n);

/* Hottest sys/class/thermal/thermal_zone* /temp under root, in °C. Zones with garbage are
 * skipped with a warning logged once per zone (bit z of *warned). DYNRT_ERR_NOT_FOUND when
 * no zone gives a valid temperature. */
dynrt_status dynrt__thermal_max(const char *root, double *celsius, uint64_t *warned,
                                dynrt_err *err);

/* ---- leaving the device as found (linux_state.c) ---- */

#define DYNRT_RESTORE_MAX 64
#define DYNRT_RESTORE_VALUE_MAX 48

typedef struct dynrt__restore_entry {
  char path[DYNRT_SYSFS_PATH_MAX];
  char value[DYNRT_RESTORE_VALUE_MAX];
  size_t value_len; /* set by dynrt__restore_add, so the signal handler needs no strlen */
} dynrt__restore_entry;

/*
 * The writes that put the device back as found, in order. Append-only while open, so the
 * signal handler (which only reads paths and values prepared here, and calls open, write,
 * close, unlink) never sees a half-written entry: an entry is filled before n grows.
 */
typedef struct dynrt__restore {
  char root[DYNRT_SYSFS_PATH_MAX];
  char state_path[DYNRT_SYSFS_PATH_MAX];
  _Atomic int n;
  dynrt__restore_entry e[DYNRT_RESTORE_MAX];
  int registered; /* in the signal handler's table */
  int state_ok;   /* the state file reflects e[0..n) */
} dynrt__restore;

/* Chooses the state file: $DYNRT_STATE_FILE; for a root other than "/", ROOT/.dynrt-state;
 * else /var/lib/dynrt/state, $XDG_RUNTIME_DIR/dynrt-state, /tmp/dynrt-state-UID (the first
 * whose directory is writable). */
void dynrt__restore_init(dynrt__restore *r, const char *root);
/* On open: when the state file exists and its process is gone, replays it (logged) and
 * removes it. Returns DYNRT_OK, or DYNRT_ERR_BUSY with a message when a live process
 * (another dynrt, or another platform object of this process) holds the device, or
 * DYNRT_ERR_FORMAT for a state file that is not ours to trust (it is left in place). */
dynrt_status dynrt__restore_recover(dynrt__restore *r, dynrt_err *err);
/* Appends restore writes (k entries) and rewrites the state file; the first call registers
 * the SIGINT/SIGTERM handlers. A state file that cannot be written is logged, not fatal:
 * close and signals still restore. */
dynrt_status dynrt__restore_add(dynrt__restore *r, const dynrt__restore_entry *entries, int k,
                                dynrt_err *err);
/* Replays every entry (through dynrt__sysfs_write, so tests see it), removes the state file
 * and unregisters. Continues past failed writes; returns the first failure. */
dynrt_status dynrt__restore_run(dynrt__restore *r, dynrt_err *err);

/* ---- linux backend state (linux.c) ---- */

typedef struct dynrt__linux_domain {
  int devfreq;                    /* 1: devfreq device (files in Hz) */
  char dir[DYNRT_SYSFS_PATH_MAX]; /* policy or devfreq directory */
  char avail_gov[256];            /* available governors, space-separated */
  int use_setspeed;               /* cpufreq: userspace + scaling_setspeed */
  uint32_t lo_khz;                /* lowest frequency the hardware allows */
  uint32_t cap_khz;               /* the cap found at open (the original max limit) */
  uint32_t pinned_khz;            /* frequency dynrt pinned, 0 when governed */
  int pinned_minmax;              /* the pin is scaling_min = scaling_max (not setspeed) */
  int saved;                      /* original state saved for restore */
  uint64_t orig_min, orig_max;    /* original limits, in the files' unit */
  uint32_t seen_max_khz;          /* last max limit seen (for FREQ_CAP events) */
} dynrt__linux_domain;

typedef struct dynrt__linux {
  char root[DYNRT_SYSFS_PATH_MAX]; /* "" for the running system */
  int real_root;                   /* 1: root is "/" (affinity applies) */
  dynrt__linux_domain dom[DYNRT_MAX_DOMAINS];
  dynrt__restore restore;
  struct dynrt__energy *energy;
  dynrt_err energy_err;     /* why there is no sensor */
  dynrt__cpustat stat_prev; /* last /proc/stat sample for read_util */
  uint64_t warned_zones;
  uint64_t power_last_uj, power_last_ns;
  uint64_t seen_cpus;    /* last available-CPU mask (events) */
  uint64_t assigned[16]; /* cores per app (recorded only) */
} dynrt__linux;

#endif /* DYNRT_LINUX_INT_H */

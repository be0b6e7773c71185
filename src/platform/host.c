/* host.c - the host backend: this machine (or any Linux box without usable cpufreq) as one
 * CPU domain of the cores this process may use, at one fixed frequency. Real core
 * availability and /proc/stat utilisation; energy from a sensor when one is readable, else
 * from the documented CPU power model below. It never changes the system.
 *
 * Spec: "host", or "host:ROOT" to read proc/ and sys/ under ROOT (tests); affinity is
 * always the real one. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "platform/energy.h"
#include "platform/linux_int.h"

#define MOD "host"

/* CPU power model P = idle + core × Σ util (docs/platform-linux.md, "host power model"):
 * whole-board figures measured with an external meter on a Raspberry Pi 4 (2.1 W idle,
 * 6.41 W with 4 cores busy => (6.41 - 2.1) / 4 W per busy core). Override with
 * DYNRT_HOST_IDLE_W and DYNRT_HOST_CORE_W for the machine at hand. */
#define HOST_IDLE_W 2.1
#define HOST_CORE_W 1.0775

typedef struct host {
  char root[DYNRT_SYSFS_PATH_MAX]; /* "" for the running system */
  uint32_t khz;                    /* the one frequency; 0 when unknown */
  uint64_t domain_mask;            /* cores of the domain */
  struct dynrt__energy *energy;    /* a sensor, or NULL: model */
  pthread_mutex_t lock;            /* model state (read_energy may run concurrently) */
  double idle_w, core_w;
  dynrt__cpustat model_prev;
  uint64_t model_prev_ns;
  double model_uj, model_w;
  dynrt__cpustat stat_prev; /* read_util */
  uint64_t warned_zones;
  uint64_t power_last_uj, power_last_ns;
  uint64_t assigned[16];
} host;

static host *H(dynrt_platform *p) { return p->backend; }

static void host_path(const host *h, char *buf, const char *rel) {
  dynrt__sysfs_path(buf, DYNRT_SYSFS_PATH_MAX, h->root, "%s", rel);
}

/* The one frequency of the host: cpuinfo_max_freq of cpu0 when cpufreq exists, else "cpu MHz"
 * of /proc/cpuinfo (first CPU) rounded to 50 MHz, else 0. The rounding matters: "cpu MHz"
 * drifts by a few MHz between reads and boots on virtual machines, and operating-point
 * libraries match hardware settings by exact frequency, so a host library profiled once
 * must keep matching. */
static uint32_t host_freq(const host *h, char *note, size_t notelen) {
  char path[DYNRT_SYSFS_PATH_MAX], line[256];
  uint64_t khz;
  host_path(h, path, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  if (dynrt__sysfs_read_u64(path, &khz, NULL) == DYNRT_OK && khz > 0 && khz <= UINT32_MAX)
    return (uint32_t)khz;
  host_path(h, path, "proc/cpuinfo");
  FILE *f = fopen(path, "re");
  if (f) {
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "cpu MHz", 7) != 0) continue;
      char *colon = strchr(line, ':');
      double mhz;
      if (colon && dynrt__parse_double(colon + 1, &mhz) == 0 && mhz > 0 && mhz < 1e6) {
        fclose(f);
        uint32_t r = (uint32_t)(mhz / 50.0 + 0.5) * 50u;
        return (r ? r : 50u) * 1000u;
      }
      break;
    }
    fclose(f);
  }
  snprintf(note, notelen, "frequency unknown (no cpuinfo_max_freq, no 'cpu MHz' in proc/cpuinfo)");
  return 0;
}

static uint64_t affinity_mask(void) {
  cpu_set_t set;
  uint64_t m = 0;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  for (int c = 0; c < DYNRT_MAX_CPUS; c++)
    if (CPU_ISSET(c, &set)) m |= 1ull << c;
  return m;
}

static dynrt_status host_get_freq(dynrt_platform *p, int k, uint32_t *khz) {
  *khz = H(p)->khz;
  return DYNRT_OK;
}

static dynrt_status host_set_freq(dynrt_platform *p, int k, uint32_t khz, uint32_t *actual) {
  if (khz != H(p)->khz)
    return dynrt__seterr(&p->err, DYNRT_ERR_UNSUPPORTED,
                         "host: no DVFS; the frequency is fixed at %u kHz, cannot set %u kHz",
                         H(p)->khz, khz);
  *actual = khz;
  return DYNRT_OK;
}

static dynrt_status host_get_limits(dynrt_platform *p, int k, uint32_t *lo, uint32_t *hi) {
  *lo = *hi = H(p)->khz;
  return DYNRT_OK;
}

static dynrt_status host_get_governor(dynrt_platform *p, int k, char *buf, size_t size) {
  snprintf(buf, size, "none");
  return DYNRT_OK;
}

static dynrt_status host_set_governor(dynrt_platform *p, int k, const char *governor) {
  return dynrt__seterr(&p->err, DYNRT_ERR_UNSUPPORTED,
                       "host: no cpufreq governors (asked for '%s')", governor);
}

static dynrt_status host_available_cpus(dynrt_platform *p, uint64_t *mask) {
  char path[DYNRT_SYSFS_PATH_MAX];
  uint64_t online = ~0ull;
  host_path(H(p), path, "sys/devices/system/cpu/online");
  if (dynrt__sysfs_read_cpulist(path, &online, NULL) != DYNRT_OK) online = ~0ull;
  *mask = affinity_mask() & online;
  return DYNRT_OK;
}

static dynrt_status host_assign(dynrt_platform *p, int app, uint64_t cpu_mask) {
  host *h = H(p);
  if (app >= (int)(sizeof h->assigned / sizeof h->assigned[0]))
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "assign: app id %d >= %zu", app,
                         sizeof h->assigned / sizeof h->assigned[0]);
  h->assigned[app] = cpu_mask;
  return DYNRT_OK;
}

/* Advances the model to now: power of the interval from its utilisation, energy += P dt. */
static dynrt_status model_sample(dynrt_platform *p, uint64_t now) {
  host *h = H(p);
  char path[DYNRT_SYSFS_PATH_MAX];
  host_path(h, path, "proc/stat");
  dynrt__cpustat cur;
  dynrt_status st = dynrt__procstat_read(path, &cur, &p->err);
  if (st != DYNRT_OK) return st;
  double util[DYNRT_MAX_CPUS], busy = 0;
  dynrt__procstat_util(&h->model_prev, &cur, util, DYNRT_MAX_CPUS);
  for (int c = 0; c < DYNRT_MAX_CPUS; c++)
    if (h->domain_mask >> c & 1) busy += util[c];
  h->model_w = h->idle_w + h->core_w * busy;
  if (now > h->model_prev_ns) h->model_uj += h->model_w * (double)(now - h->model_prev_ns) * 1e-3;
  h->model_prev = cur;
  h->model_prev_ns = now;
  return DYNRT_OK;
}

static dynrt_status host_read_energy(dynrt_platform *p, uint64_t *uj) {
  host *h = H(p);
  uint64_t now = dynrt_now_ns();
  if (h->energy) return dynrt__energy_read(h->energy, now, uj, &p->err);
  pthread_mutex_lock(&h->lock);
  dynrt_status st = model_sample(p, now);
  if (st == DYNRT_OK) *uj = (uint64_t)(h->model_uj + 0.5);
  pthread_mutex_unlock(&h->lock);
  return st;
}

static dynrt_status host_read_power(dynrt_platform *p, double *watts) {
  host *h = H(p);
  if (!h->energy) {
    /* The model's power over the interval since the previous energy or power read. */
    pthread_mutex_lock(&h->lock);
    dynrt_status st = model_sample(p, dynrt_now_ns());
    if (st == DYNRT_OK) *watts = h->model_w;
    pthread_mutex_unlock(&h->lock);
    return st;
  }
  uint64_t now = dynrt_now_ns(), uj;
  dynrt_status st = dynrt__energy_read(h->energy, now, &uj, &p->err);
  if (st != DYNRT_OK) return st;
  if (now > h->power_last_ns && uj >= h->power_last_uj)
    *watts = (double)(uj - h->power_last_uj) * 1e-6 / ((double)(now - h->power_last_ns) * 1e-9);
  else
    *watts = dynrt__energy_last_power(h->energy);
  h->power_last_uj = uj;
  h->power_last_ns = now;
  return DYNRT_OK;
}

static dynrt_status host_read_util(dynrt_platform *p, double *util, int ncpus) {
  host *h = H(p);
  char path[DYNRT_SYSFS_PATH_MAX];
  host_path(h, path, "proc/stat");
  dynrt__cpustat cur;
  dynrt_status st = dynrt__procstat_read(path, &cur, &p->err);
  if (st != DYNRT_OK) return st;
  dynrt__procstat_util(&h->stat_prev, &cur, util, ncpus);
  h->stat_prev = cur;
  return DYNRT_OK;
}

static dynrt_status host_read_temp(dynrt_platform *p, double *celsius) {
  host *h = H(p);
  return dynrt__thermal_max(h->root[0] ? h->root : "/", celsius, &h->warned_zones, &p->err);
}

static uint64_t host_now(dynrt_platform *p) { return dynrt_now_ns(); }

static void host_close(dynrt_platform *p) {
  host *h = H(p);
  if (!h) return;
  dynrt__energy_close(h->energy);
  pthread_mutex_destroy(&h->lock);
  dynrt__free(h);
  p->backend = NULL;
}

static const dynrt_platform_ops host_ops = {
    .close = host_close,
    .get_freq = host_get_freq,
    .set_freq = host_set_freq,
    .get_limits = host_get_limits,
    .set_governor = host_set_governor,
    .get_governor = host_get_governor,
    .available_cpus = host_available_cpus,
    .assign = host_assign,
    .read_energy = host_read_energy,
    .read_power = host_read_power,
    .read_util = host_read_util,
    .read_temp = host_read_temp,
    .now = host_now,
    .poll_event = NULL,
};

/* A positive number of watts from the environment, else the default. */
static double env_watts(const char *name, double def) {
  const char *s = getenv(name);
  double v;
  if (!s) return def;
  if (dynrt__parse_double(s, &v) != 0 || v < 0 || v > 10000) {
    DYNRT_LOGW(MOD, "%s='%s' is not a power in W; using %g", name, s, def);
    return def;
  }
  return v;
}

dynrt_status dynrt__platform_host_open(dynrt_platform *p, const char *arg) {
  host *h = dynrt__calloc(1, sizeof *h);
  if (!h) return dynrt__seterr(&p->err, DYNRT_ERR_NOMEM, "host: out of memory");
  pthread_mutex_init(&h->lock, NULL);
  p->backend = h;
  p->ops = &host_ops;
  if (arg && *arg) {
    size_t rl = strlen(arg);
    while (rl > 0 && arg[rl - 1] == '/') rl--;
    if (rl >= sizeof h->root - 64)
      return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "host: root '%s' too long", arg);
    memcpy(h->root, arg, rl);
    if (rl && !dynrt__sysfs_is_dir(h->root))
      return dynrt__seterr(&p->err, DYNRT_ERR_NOT_FOUND, "host: root %s is not a directory",
                           h->root);
  }
  snprintf(p->info.backend, sizeof p->info.backend, "host");
  snprintf(p->info.name, sizeof p->info.name, "host");
  uint64_t cpus;
  host_available_cpus(p, &cpus);
  if (!cpus) return dynrt__seterr(&p->err, DYNRT_ERR_INTERNAL, "host: no CPU in the affinity");
  h->domain_mask = cpus;
  char note[160] = "";
  h->khz = host_freq(h, note, sizeof note);
  if (note[0]) DYNRT_LOGW(MOD, "%s", note);

  dynrt_domain_info *d = &p->domains[0];
  snprintf(d->name, sizeof d->name, "cpu");
  d->kind = DYNRT_DOMAIN_CPU;
  for (int c = 0; c < DYNRT_MAX_CPUS; c++)
    if (cpus >> c & 1) d->cpus[d->ncpus++] = c;
  d->nopps = 1;
  d->opps[0].khz = h->khz;
  d->capacity = 1.0;
  d->can_set_freq = 1; /* the one frequency: set_freq accepts exactly it */
  p->info.ndomains = 1;
  p->info.ncpus = 64 - __builtin_clzll(cpus);
  p->info.can_control = 1; /* core allocation; no DVFS */
  p->info.simulated = 0;

  dynrt_err err;
  dynrt__clearerr(&err);
  uint64_t now = dynrt_now_ns();
  dynrt_status est = dynrt__energy_open(h->root[0] ? h->root : "/", now, &h->energy, &err);
  /* Out of memory is not "no sensor": falling back to the model would mislabel energy. */
  if (est == DYNRT_ERR_NOMEM) return dynrt__seterr(&p->err, est, "host: %s", err.msg);
  if (est == DYNRT_OK) {
    p->info.energy_modelled = 0;
    h->power_last_ns = now;
    DYNRT_LOGI(MOD, "energy from sensor %s (%s)", dynrt__energy_kind(h->energy),
               dynrt__energy_rails(h->energy));
  } else {
    p->info.energy_modelled = 1;
    h->idle_w = env_watts("DYNRT_HOST_IDLE_W", HOST_IDLE_W);
    h->core_w = env_watts("DYNRT_HOST_CORE_W", HOST_CORE_W);
    char path[DYNRT_SYSFS_PATH_MAX];
    host_path(h, path, "proc/stat");
    dynrt_status st = dynrt__procstat_read(path, &h->model_prev, &p->err);
    if (st != DYNRT_OK) return st;
    h->model_prev_ns = now;
    DYNRT_LOGI(MOD, "energy modelled: %.3g W + %.3g W per busy core (%s)", h->idle_w, h->core_w,
               err.msg);
  }
  char path[DYNRT_SYSFS_PATH_MAX];
  host_path(h, path, "proc/stat");
  if (dynrt__procstat_read(path, &h->stat_prev, &err) != DYNRT_OK)
    DYNRT_LOGW(MOD, "utilisation unavailable until readable: %s", err.msg);
  dynrt__clearerr(&p->err);
  return DYNRT_OK;
}

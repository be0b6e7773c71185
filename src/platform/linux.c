/* linux.c - the linux backend: cpufreq policies and devfreq GPUs as frequency domains, online
 * cores, /proc/stat utilisation, thermal zones and energy sensors, every path under a root.
 * It must leave the device as found (linux_state.c) and degrade to monitoring without
 * permission; it never crashes on a missing, unreadable or garbage file. */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <strings.h>

#include "platform/energy.h"
#include "platform/linux_int.h"

#define MOD "linux"

static dynrt__linux *L(dynrt_platform *p) { return p->backend; }

/* dom->dir + "/" + file. */
static void dpath(char *buf, const dynrt__linux_domain *d, const char *file) {
  dynrt__sysfs_path(buf, DYNRT_SYSFS_PATH_MAX, d->dir, "%s", file);
}

static const char *f_min(const dynrt__linux_domain *d) {
  return d->devfreq ? "min_freq" : "scaling_min_freq";
}
static const char *f_max(const dynrt__linux_domain *d) {
  return d->devfreq ? "max_freq" : "scaling_max_freq";
}
static const char *f_cur(const dynrt__linux_domain *d) {
  return d->devfreq ? "cur_freq" : "scaling_cur_freq";
}
static const char *f_gov(const dynrt__linux_domain *d) {
  return d->devfreq ? "governor" : "scaling_governor";
}
/* Files hold kHz (cpufreq) or Hz (devfreq). */
static uint64_t unit(const dynrt__linux_domain *d) { return d->devfreq ? 1000 : 1; }

static dynrt_status read_file_u64(dynrt_platform *p, const dynrt__linux_domain *d, const char *file,
                                  uint64_t *v) {
  char path[DYNRT_SYSFS_PATH_MAX];
  dpath(path, d, file);
  return dynrt__sysfs_read_u64(path, v, &p->err);
}

static dynrt_status read_khz(dynrt_platform *p, const dynrt__linux_domain *d, const char *file,
                             uint32_t *khz) {
  uint64_t v;
  dynrt_status st = read_file_u64(p, d, file, &v);
  if (st == DYNRT_OK) *khz = (uint32_t)DYNRT_MIN(v / unit(d), UINT32_MAX);
  return st;
}

/* Writes a frequency (kHz) to a min/max/setspeed file in the file's unit. */
static dynrt_status write_khz(dynrt_platform *p, int di, const char *file, uint32_t khz) {
  dynrt__linux_domain *d = &L(p)->dom[di];
  char path[DYNRT_SYSFS_PATH_MAX], val[24];
  dpath(path, d, file);
  snprintf(val, sizeof val, "%llu", (unsigned long long)khz * unit(d));
  dynrt_status st = dynrt__sysfs_write(path, val, &p->err);
  if (st == DYNRT_ERR_PERMISSION) p->domains[di].can_set_freq = 0;
  return st;
}

static int has_word(const char *list, const char *w) {
  size_t n = strlen(w);
  for (const char *s = list; (s = strstr(s, w)) != NULL; s += n)
    if ((s == list || s[-1] == ' ') && (s[n] == '\0' || s[n] == ' ')) return 1;
  return 0;
}

/* ---- discovery ---- */

static void set_opps(dynrt_domain_info *di, const uint32_t *khz, int n) {
  /* Ascending and unique, whatever order the kernel printed. */
  int m = 0;
  for (int i = 0; i < n; i++) {
    int j = m;
    while (j > 0 && di->opps[j - 1].khz > khz[i]) j--;
    if (j > 0 && di->opps[j - 1].khz == khz[i]) continue;
    memmove(&di->opps[j + 1], &di->opps[j], (size_t)(m - j) * sizeof di->opps[0]);
    di->opps[j].khz = khz[i];
    di->opps[j].microvolts = 0;
    m++;
  }
  di->nopps = m;
}

static dynrt_status add_policy(dynrt_platform *p, const char *dir, const char *name) {
  dynrt__linux *lx = L(p);
  int k = p->info.ndomains;
  if (k == DYNRT_MAX_DOMAINS) {
    DYNRT_LOGW(MOD, "more than %d domains; ignoring %s", DYNRT_MAX_DOMAINS, dir);
    return DYNRT_OK;
  }
  dynrt__linux_domain *d = &lx->dom[k];
  dynrt_domain_info *di = &p->domains[k];
  memset(d, 0, sizeof *d);
  memset(di, 0, sizeof *di);
  dynrt__sysfs_copy(d->dir, sizeof d->dir, dir);
  char path[DYNRT_SYSFS_PATH_MAX], buf[DYNRT_SYSFS_VALUE_MAX];
  uint64_t mask = 0;
  dpath(path, d, "related_cpus");
  dynrt_status st = dynrt__sysfs_read_cpulist(path, &mask, &p->err);
  if (st == DYNRT_ERR_NOT_FOUND) {
    dpath(path, d, "affected_cpus");
    st = dynrt__sysfs_read_cpulist(path, &mask, &p->err);
  }
  if (st != DYNRT_OK) return st;
  if (!mask) return dynrt__seterr(&p->err, DYNRT_ERR_FORMAT, "%s: policy with no CPUs", dir);
  for (int c = 0; c < DYNRT_MAX_CPUS; c++)
    if (mask >> c & 1) di->cpus[di->ncpus++] = c;
  uint32_t lo, hi;
  if ((st = read_khz(p, d, "cpuinfo_min_freq", &lo)) != DYNRT_OK ||
      (st = read_khz(p, d, "cpuinfo_max_freq", &hi)) != DYNRT_OK)
    return st;
  if (lo == 0 || lo > hi)
    return dynrt__seterr(&p->err, DYNRT_ERR_FORMAT,
                         "%s: cpuinfo_min_freq %u kHz / cpuinfo_max_freq %u kHz are not a range",
                         dir, lo, hi);
  uint32_t opps[DYNRT_MAX_OPPS];
  int n = -1;
  dpath(path, d, "scaling_available_frequencies");
  if (dynrt__sysfs_read(path, buf, sizeof buf, NULL) == DYNRT_OK) {
    n = dynrt__parse_u32_list(buf, opps, DYNRT_MAX_OPPS, 1);
    if (n <= 0) {
      char q[48];
      DYNRT_LOGW(MOD, "%s: content '%s' is not a frequency list; using cpuinfo_min/max", path,
                 dynrt__sysfs_quote(buf, q, sizeof q));
    }
  } else {
    /* intel_pstate, amd-pstate and some cpufreq-dt setups have no table. */
    DYNRT_LOGW(MOD, "%s: no scaling_available_frequencies; using cpuinfo_min/max only (2 OPPs)",
               name);
  }
  if (n <= 0) {
    opps[0] = lo;
    opps[1] = hi;
    n = lo == hi ? 1 : 2;
  }
  set_opps(di, opps, n);
  d->lo_khz = di->opps[0].khz;
  dpath(path, d, "scaling_available_governors");
  if (dynrt__sysfs_read(path, d->avail_gov, sizeof d->avail_gov, NULL) != DYNRT_OK)
    d->avail_gov[0] = '\0';
  dpath(path, d, "scaling_setspeed");
  d->use_setspeed = has_word(d->avail_gov, "userspace") && dynrt__sysfs_exists(path);
  if ((st = read_khz(p, d, "scaling_max_freq", &d->cap_khz)) != DYNRT_OK) return st;
  d->seen_max_khz = d->cap_khz;
  int64_t lat_ns = -1;
  dpath(path, d, "cpuinfo_transition_latency");
  /* -1 or 4294967295 (CPUFREQ_ETERNAL) means unknown. */
  if (dynrt__sysfs_read_i64(path, &lat_ns, NULL) == DYNRT_OK && lat_ns > 0 && lat_ns < 4294967295ll)
    di->transition_us = (uint32_t)((lat_ns + 999) / 1000);
  dynrt__sysfs_copy(di->name, sizeof di->name, name);
  di->kind = DYNRT_DOMAIN_CPU;
  di->capacity = 1.0;
  uint64_t cap;
  /* cpu_capacity (arm64, 0..1024) says how fast this core type is against the biggest. */
  if (dynrt__sysfs_path(path, sizeof path, lx->root, "sys/devices/system/cpu/cpu%d/cpu_capacity",
                        di->cpus[0]) == 0 &&
      dynrt__sysfs_read_u64(path, &cap, NULL) == DYNRT_OK && cap > 0 && cap <= 1024)
    di->capacity = (double)cap / 1024.0;
  p->info.ndomains++;
  return DYNRT_OK;
}

static int is_gpu_name(const char *name) {
  static const char *const pats[] = {"gpu",   "gv11b", "ga10b", "gp10b", "gm20b",
                                     "gk20a", "mali",  "g3d",   "kgsl"};
  for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++)
    if (strcasestr(name, pats[i])) return 1;
  return 0;
}

static dynrt_status add_devfreq(dynrt_platform *p, const char *dir, const char *dev, int gpu_no) {
  dynrt__linux *lx = L(p);
  int k = p->info.ndomains;
  if (k == DYNRT_MAX_DOMAINS) {
    DYNRT_LOGW(MOD, "more than %d domains; ignoring %s", DYNRT_MAX_DOMAINS, dir);
    return DYNRT_OK;
  }
  dynrt__linux_domain *d = &lx->dom[k];
  dynrt_domain_info *di = &p->domains[k];
  memset(d, 0, sizeof *d);
  memset(di, 0, sizeof *di);
  d->devfreq = 1;
  dynrt__sysfs_copy(d->dir, sizeof d->dir, dir);
  char path[DYNRT_SYSFS_PATH_MAX], buf[DYNRT_SYSFS_VALUE_MAX];
  uint32_t opps[DYNRT_MAX_OPPS];
  int n = -1;
  dpath(path, d, "available_frequencies");
  if (dynrt__sysfs_read(path, buf, sizeof buf, NULL) == DYNRT_OK)
    n = dynrt__parse_u32_list(buf, opps, DYNRT_MAX_OPPS, 1000);
  dynrt_status st;
  if (n <= 0) {
    DYNRT_LOGW(MOD, "%s: no usable available_frequencies; using min_freq/max_freq only", dev);
    if ((st = read_khz(p, d, "min_freq", &opps[0])) != DYNRT_OK ||
        (st = read_khz(p, d, "max_freq", &opps[1])) != DYNRT_OK)
      return st;
    n = opps[0] == opps[1] ? 1 : 2;
  }
  set_opps(di, opps, n);
  if (di->opps[0].khz == 0)
    return dynrt__seterr(&p->err, DYNRT_ERR_FORMAT, "%s: frequency 0 Hz in its table", dir);
  d->lo_khz = di->opps[0].khz;
  dpath(path, d, "available_governors");
  if (dynrt__sysfs_read(path, d->avail_gov, sizeof d->avail_gov, NULL) != DYNRT_OK)
    d->avail_gov[0] = '\0';
  if ((st = read_khz(p, d, "max_freq", &d->cap_khz)) != DYNRT_OK) return st;
  d->seen_max_khz = d->cap_khz;
  if (gpu_no)
    snprintf(di->name, sizeof di->name, "gpu%d", gpu_no);
  else
    snprintf(di->name, sizeof di->name, "gpu");
  di->kind = DYNRT_DOMAIN_GPU;
  di->capacity = 1.0;
  p->info.ndomains++;
  DYNRT_LOGI(MOD, "GPU domain %s = devfreq %s, %d OPPs", di->name, dev, di->nopps);
  return DYNRT_OK;
}

static dynrt_status discover(dynrt_platform *p) {
  dynrt__linux *lx = L(p);
  char dir[DYNRT_SYSFS_PATH_MAX], sub[DYNRT_SYSFS_PATH_MAX];
  char names[DYNRT_MAX_CPUS][DYNRT_SYSFS_NAME_MAX];
  if (dynrt__sysfs_path(dir, sizeof dir, lx->root, "sys/devices/system/cpu/cpufreq") != 0)
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "linux: root path too long");
  int n = dynrt__sysfs_list(dir, "policy", names, DYNRT_MAX_CPUS);
  for (int i = 0; i < n; i++) {
    char name[40];
    snprintf(name, sizeof name, "cpu%s", names[i] + strlen("policy"));
    dynrt__sysfs_path(sub, sizeof sub, dir, "%s", names[i]);
    dynrt_status st = add_policy(p, sub, name);
    if (st != DYNRT_OK) return st;
  }
  if (p->info.ndomains == 0)
    return dynrt__seterr(&p->err, DYNRT_ERR_NOT_FOUND,
                         "linux: no cpufreq policy under %s (no DVFS here: use the host backend)",
                         dir);
  dynrt__sysfs_path(dir, sizeof dir, lx->root, "sys/class/devfreq");
  n = dynrt__sysfs_list(dir, "", names, DYNRT_MAX_CPUS);
  int gpus = 0;
  for (int i = 0; i < n; i++) {
    if (!is_gpu_name(names[i])) continue;
    dynrt__sysfs_path(sub, sizeof sub, dir, "%s", names[i]);
    dynrt_status st = add_devfreq(p, sub, names[i], gpus);
    if (st != DYNRT_OK) return st;
    gpus++;
  }
  return DYNRT_OK;
}

/* Files the backend writes to control domain k; the first one refused decides. */
static void probe_permission(dynrt_platform *p, int k, char *why, size_t whylen) {
  dynrt__linux_domain *d = &L(p)->dom[k];
  const char *files[4] = {f_min(d), f_max(d), NULL, NULL};
  if (d->use_setspeed) {
    files[2] = "scaling_governor";
    files[3] = "scaling_setspeed";
  }
  p->domains[k].can_set_freq = 1;
  for (int i = 0; i < 4 && files[i]; i++) {
    char path[DYNRT_SYSFS_PATH_MAX];
    dpath(path, d, files[i]);
    int e = dynrt__sysfs_probe_write(path);
    if (e == 0) continue;
    p->domains[k].can_set_freq = 0;
    if (!why[0])
      snprintf(why, whylen, "cannot write %.320s (%s)%s", path, strerror(e),
               e == EACCES || e == EPERM ? "; run as root or grant write access" : "");
    return;
  }
}

static void read_board_name(dynrt_platform *p) {
  static const char *const files[] = {"proc/device-tree/model",
                                      "sys/firmware/devicetree/base/model",
                                      "sys/class/dmi/id/product_name"};
  char path[DYNRT_SYSFS_PATH_MAX], buf[128];
  snprintf(p->info.name, sizeof p->info.name, "linux");
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    if (dynrt__sysfs_path(path, sizeof path, L(p)->root, "%s", files[i]) == 0 &&
        dynrt__sysfs_read(path, buf, sizeof buf, NULL) == DYNRT_OK && buf[0]) {
      dynrt__sysfs_copy(p->info.name, sizeof p->info.name, buf);
      return;
    }
}

/* ---- saving a domain before its first change ---- */

static dynrt_status save_domain(dynrt_platform *p, int k) {
  dynrt__linux *lx = L(p);
  dynrt__linux_domain *d = &lx->dom[k];
  if (d->saved) return DYNRT_OK;
  char gov[64] = "", setspeed[32] = "", path[DYNRT_SYSFS_PATH_MAX];
  dynrt_status st;
  if ((st = read_file_u64(p, d, f_min(d), &d->orig_min)) != DYNRT_OK ||
      (st = read_file_u64(p, d, f_max(d), &d->orig_max)) != DYNRT_OK)
    return st;
  dpath(path, d, f_gov(d));
  if ((st = dynrt__sysfs_read(path, gov, sizeof gov, &p->err)) != DYNRT_OK) return st;
  if (!d->devfreq && !strcmp(gov, "userspace")) {
    dpath(path, d, "scaling_setspeed");
    dynrt__sysfs_read(path, setspeed, sizeof setspeed, NULL);
  }
  /* min = lowest first, so max = original is valid whatever dynrt left, then min = original
   * (<= max), then the governor: three limit writes valid in any state. */
  dynrt__restore_entry e[5];
  int n = 0;
  memset(e, 0, sizeof e);
  dpath(e[n].path, d, f_min(d));
  snprintf(e[n++].value, DYNRT_RESTORE_VALUE_MAX, "%llu", (unsigned long long)d->lo_khz * unit(d));
  dpath(e[n].path, d, f_max(d));
  snprintf(e[n++].value, DYNRT_RESTORE_VALUE_MAX, "%llu", (unsigned long long)d->orig_max);
  dpath(e[n].path, d, f_min(d));
  snprintf(e[n++].value, DYNRT_RESTORE_VALUE_MAX, "%llu", (unsigned long long)d->orig_min);
  dpath(e[n].path, d, f_gov(d));
  dynrt__sysfs_copy(e[n++].value, DYNRT_RESTORE_VALUE_MAX, gov);
  if (setspeed[0] && strspn(setspeed, "0123456789") == strlen(setspeed)) {
    dpath(e[n].path, d, "scaling_setspeed");
    dynrt__sysfs_copy(e[n++].value, DYNRT_RESTORE_VALUE_MAX, setspeed);
  }
  if ((st = dynrt__restore_add(&lx->restore, e, n, &p->err)) != DYNRT_OK) return st;
  d->saved = 1;
  DYNRT_LOGI(MOD, "%s: saved governor %s, limits %llu..%llu", p->domains[k].name, gov,
             (unsigned long long)d->orig_min, (unsigned long long)d->orig_max);
  return DYNRT_OK;
}

/* Sets min = max = khz, in the order the kernel accepts (min <= max at every step). */
static dynrt_status pin_minmax(dynrt_platform *p, int k, uint32_t khz) {
  dynrt__linux_domain *d = &L(p)->dom[k];
  uint32_t cmin, cmax;
  dynrt_status st;
  if ((st = read_khz(p, d, f_min(d), &cmin)) != DYNRT_OK ||
      (st = read_khz(p, d, f_max(d), &cmax)) != DYNRT_OK)
    return st;
  if (khz > cmax) {
    if ((st = write_khz(p, k, f_max(d), khz)) != DYNRT_OK) return st;
    if (cmin != khz) st = write_khz(p, k, f_min(d), khz);
  } else {
    if (cmin != khz && (st = write_khz(p, k, f_min(d), khz)) != DYNRT_OK) return st;
    if (cmax != khz) st = write_khz(p, k, f_max(d), khz);
  }
  return st;
}

/* Writes min then max (or max then min) so that [lo, hi] is reached through valid states. */
static dynrt_status set_range(dynrt_platform *p, int k, uint32_t lo, uint32_t hi) {
  dynrt__linux_domain *d = &L(p)->dom[k];
  uint32_t cmax;
  dynrt_status st = read_khz(p, d, f_max(d), &cmax);
  if (st != DYNRT_OK) return st;
  if (lo > cmax) {
    if ((st = write_khz(p, k, f_max(d), hi)) != DYNRT_OK) return st;
    return write_khz(p, k, f_min(d), lo);
  }
  if ((st = write_khz(p, k, f_min(d), lo)) != DYNRT_OK) return st;
  return write_khz(p, k, f_max(d), hi);
}

static dynrt_status write_governor(dynrt_platform *p, int k, const char *gov) {
  dynrt__linux_domain *d = &L(p)->dom[k];
  char path[DYNRT_SYSFS_PATH_MAX], cur[64];
  dpath(path, d, f_gov(d));
  if (dynrt__sysfs_read(path, cur, sizeof cur, NULL) == DYNRT_OK && !strcmp(cur, gov))
    return DYNRT_OK;
  return dynrt__sysfs_write(path, gov, &p->err);
}

/* ---- ops ---- */

static dynrt_status linux_get_freq(dynrt_platform *p, int k, uint32_t *khz) {
  return read_khz(p, &L(p)->dom[k], f_cur(&L(p)->dom[k]), khz);
}

static dynrt_status linux_get_limits(dynrt_platform *p, int k, uint32_t *lo, uint32_t *hi);

static dynrt_status linux_set_freq(dynrt_platform *p, int k, uint32_t khz, uint32_t *actual) {
  dynrt__linux_domain *d = &L(p)->dom[k];
  const dynrt_domain_info *di = &p->domains[k];
  uint32_t lo, hi;
  /* A cap set by someone else since the last look (thermal, battery, nvpmodel) is respected:
   * pinning min = max must never lift it. */
  (void)linux_get_limits(p, k, &lo, &hi);
  uint32_t target = dynrt__opp_resolve(di, khz, d->lo_khz, d->cap_khz);
  dynrt_status st = DYNRT_OK;
  if (d->pinned_khz != target) {
    if ((st = save_domain(p, k)) != DYNRT_OK) return st;
    if (d->use_setspeed) {
      uint32_t cmin;
      if ((st = write_governor(p, k, "userspace")) == DYNRT_OK &&
          (st = read_khz(p, d, "scaling_min_freq", &cmin)) == DYNRT_OK && cmin > target)
        /* The kernel clamps setspeed into [min, max]; open the range downwards once. */
        st = write_khz(p, k, "scaling_min_freq", d->lo_khz);
      if (st == DYNRT_OK) st = write_khz(p, k, "scaling_setspeed", target);
    } else {
      st = pin_minmax(p, k, target);
      d->pinned_minmax = 1;
    }
    if (st != DYNRT_OK) {
      d->pinned_khz = 0;
      char msg[DYNRT_ERRMSG_MAX];
      dynrt__sysfs_copy(msg, sizeof msg, p->err.msg);
      return dynrt__seterr(&p->err, st, "set_freq %s to %u kHz: %s", di->name, target, msg);
    }
    d->pinned_khz = target;
  }
  /* Report what the kernel chose (it may round or clamp the request). */
  if (read_khz(p, d, f_cur(d), actual) != DYNRT_OK) *actual = target;
  if (*actual != target)
    DYNRT_LOGI(MOD, "%s: asked %u kHz, kernel runs %u kHz", di->name, target, *actual);
  return DYNRT_OK;
}

static dynrt_status linux_get_limits(dynrt_platform *p, int k, uint32_t *lo, uint32_t *hi) {
  dynrt__linux_domain *d = &L(p)->dom[k];
  *lo = d->lo_khz;
  /* While dynrt pins min = max the file holds the pin; the cap is the one found before. */
  if (!(d->pinned_khz && d->pinned_minmax)) {
    uint32_t m;
    dynrt_status st = read_khz(p, d, f_max(d), &m);
    if (st != DYNRT_OK) return st;
    d->cap_khz = m;
  }
  *hi = d->cap_khz;
  return DYNRT_OK;
}

static dynrt_status linux_set_governor(dynrt_platform *p, int k, const char *governor) {
  dynrt__linux_domain *d = &L(p)->dom[k];
  const char *gov = governor;
  /* devfreq's ondemand is called simple_ondemand. */
  if (d->devfreq && !strcmp(gov, "ondemand") && !has_word(d->avail_gov, gov))
    gov = "simple_ondemand";
  if (!has_word(d->avail_gov, gov))
    return dynrt__seterr(&p->err, DYNRT_ERR_UNSUPPORTED,
                         "set_governor %s: '%s' not available (available: %s)", p->domains[k].name,
                         governor, d->avail_gov[0] ? d->avail_gov : "none");
  if (!p->domains[k].can_set_freq)
    return dynrt__seterr(&p->err, DYNRT_ERR_PERMISSION, "set_governor %s: monitoring only",
                         p->domains[k].name);
  dynrt_status st = save_domain(p, k);
  /* The governor gets the limits the device had, not dynrt's pin. */
  if (st == DYNRT_OK)
    st = set_range(p, k, (uint32_t)(d->orig_min / unit(d)), (uint32_t)(d->orig_max / unit(d)));
  if (st == DYNRT_OK) st = write_governor(p, k, gov);
  if (st != DYNRT_OK) return st;
  d->pinned_khz = 0;
  d->pinned_minmax = 0;
  return DYNRT_OK;
}

static dynrt_status linux_get_governor(dynrt_platform *p, int k, char *buf, size_t size) {
  char path[DYNRT_SYSFS_PATH_MAX], tmp[64];
  dpath(path, &L(p)->dom[k], f_gov(&L(p)->dom[k]));
  dynrt_status st = dynrt__sysfs_read(path, tmp, sizeof tmp, &p->err);
  if (st == DYNRT_OK) dynrt__sysfs_copy(buf, size, tmp);
  return st;
}

static dynrt_status linux_available_cpus(dynrt_platform *p, uint64_t *mask) {
  dynrt__linux *lx = L(p);
  char path[DYNRT_SYSFS_PATH_MAX];
  uint64_t m = 0;
  dynrt__sysfs_path(path, sizeof path, lx->root, "sys/devices/system/cpu/online");
  dynrt_err e;
  if (dynrt__sysfs_read_cpulist(path, &m, &e) != DYNRT_OK) {
    /* No list: every known CPU whose cpuN/online is absent (cpu0) or 1. */
    m = 0;
    for (int k = 0; k < p->info.ndomains; k++)
      for (int i = 0; i < p->domains[k].ncpus; i++) {
        int c = p->domains[k].cpus[i];
        uint64_t on = 1;
        dynrt__sysfs_path(path, sizeof path, lx->root, "sys/devices/system/cpu/cpu%d/online", c);
        if (dynrt__sysfs_read_u64(path, &on, NULL) == DYNRT_ERR_FORMAT) on = 0;
        if (on) m |= 1ull << c;
      }
  }
  if (lx->real_root) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
      uint64_t a = 0;
      for (int c = 0; c < DYNRT_MAX_CPUS; c++)
        if (CPU_ISSET(c, &set)) a |= 1ull << c;
      m &= a;
    }
  }
  *mask = m;
  return DYNRT_OK;
}

static dynrt_status linux_assign(dynrt_platform *p, int app, uint64_t cpu_mask) {
  dynrt__linux *lx = L(p);
  if (app >= (int)(sizeof lx->assigned / sizeof lx->assigned[0]))
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "assign: app id %d >= %zu", app,
                         sizeof lx->assigned / sizeof lx->assigned[0]);
  lx->assigned[app] = cpu_mask;
  return DYNRT_OK;
}

static dynrt_status linux_read_energy(dynrt_platform *p, uint64_t *uj) {
  dynrt__linux *lx = L(p);
  if (!lx->energy)
    return dynrt__seterr(&p->err, lx->energy_err.status, "read_energy: %s", lx->energy_err.msg);
  return dynrt__energy_read(lx->energy, dynrt_now_ns(), uj, &p->err);
}

static dynrt_status linux_read_power(dynrt_platform *p, double *watts) {
  dynrt__linux *lx = L(p);
  uint64_t now = dynrt_now_ns(), uj;
  dynrt_status st = linux_read_energy(p, &uj);
  if (st != DYNRT_OK) return st;
  if (now > lx->power_last_ns && uj >= lx->power_last_uj)
    *watts = (double)(uj - lx->power_last_uj) * 1e-6 / ((double)(now - lx->power_last_ns) * 1e-9);
  else
    *watts = dynrt__energy_last_power(lx->energy);
  lx->power_last_uj = uj;
  lx->power_last_ns = now;
  return DYNRT_OK;
}

static dynrt_status linux_read_util(dynrt_platform *p, double *util, int ncpus) {
  dynrt__linux *lx = L(p);
  char path[DYNRT_SYSFS_PATH_MAX];
  dynrt__sysfs_path(path, sizeof path, lx->root, "proc/stat");
  dynrt__cpustat cur;
  dynrt_status st = dynrt__procstat_read(path, &cur, &p->err);
  if (st != DYNRT_OK) return st;
  dynrt__procstat_util(&lx->stat_prev, &cur, util, ncpus);
  lx->stat_prev = cur;
  return DYNRT_OK;
}

static dynrt_status linux_read_temp(dynrt_platform *p, double *celsius) {
  return dynrt__thermal_max(L(p)->root, celsius, &L(p)->warned_zones, &p->err);
}

static uint64_t linux_now(dynrt_platform *p) { return dynrt_now_ns(); }

static int linux_poll_event(dynrt_platform *p, dynrt_event *ev) {
  dynrt__linux *lx = L(p);
  uint64_t m;
  memset(ev, 0, sizeof *ev);
  if (linux_available_cpus(p, &m) == DYNRT_OK && m != lx->seen_cpus) {
    lx->seen_cpus = m;
    ev->kind = DYNRT_EVENT_CPUS_CHANGED;
    ev->time_ns = dynrt_now_ns();
    ev->cpu_mask = m;
    return 1;
  }
  for (int k = 0; k < p->info.ndomains; k++) {
    dynrt__linux_domain *d = &lx->dom[k];
    uint32_t lo, hi;
    if (d->pinned_khz && d->pinned_minmax) continue;
    if (linux_get_limits(p, k, &lo, &hi) != DYNRT_OK || hi == d->seen_max_khz) continue;
    d->seen_max_khz = hi;
    ev->kind = DYNRT_EVENT_FREQ_CAP;
    ev->time_ns = dynrt_now_ns();
    ev->domain = k;
    ev->max_khz = hi;
    return 1;
  }
  return 0;
}

static void linux_close(dynrt_platform *p) {
  dynrt__linux *lx = L(p);
  if (!lx) return;
  dynrt_err e;
  if (dynrt__restore_run(&lx->restore, &e) != DYNRT_OK)
    DYNRT_LOGE(MOD, "device not fully restored: %s", e.msg);
  dynrt__energy_close(lx->energy);
  dynrt__free(lx);
  p->backend = NULL;
}

static const dynrt_platform_ops linux_ops = {
    .close = linux_close,
    .get_freq = linux_get_freq,
    .set_freq = linux_set_freq,
    .get_limits = linux_get_limits,
    .set_governor = linux_set_governor,
    .get_governor = linux_get_governor,
    .available_cpus = linux_available_cpus,
    .assign = linux_assign,
    .read_energy = linux_read_energy,
    .read_power = linux_read_power,
    .read_util = linux_read_util,
    .read_temp = linux_read_temp,
    .now = linux_now,
    .poll_event = linux_poll_event,
};

dynrt_status dynrt__platform_linux_open(dynrt_platform *p, const char *arg) {
  dynrt__linux *lx = dynrt__calloc(1, sizeof *lx);
  if (!lx) return dynrt__seterr(&p->err, DYNRT_ERR_NOMEM, "linux: out of memory");
  p->backend = lx;
  p->ops = &linux_ops;
  const char *root = arg && *arg ? arg : "/";
  size_t rl = strlen(root);
  while (rl > 0 && root[rl - 1] == '/') rl--;
  if (rl >= sizeof lx->root - 64)
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "linux: root '%s' too long", root);
  memcpy(lx->root, root, rl);
  lx->root[rl] = '\0';
  lx->real_root = rl == 0;
  if (!lx->real_root && !dynrt__sysfs_is_dir(lx->root))
    return dynrt__seterr(&p->err, DYNRT_ERR_NOT_FOUND, "linux: root %s is not a directory",
                         lx->root);
  snprintf(p->info.backend, sizeof p->info.backend, "linux");
  dynrt_status st = discover(p);
  if (st != DYNRT_OK) return st;
  read_board_name(p);

  char path[DYNRT_SYSFS_PATH_MAX];
  uint64_t possible = 0;
  dynrt__sysfs_path(path, sizeof path, lx->root, "sys/devices/system/cpu/possible");
  if (dynrt__sysfs_read_cpulist(path, &possible, NULL) != DYNRT_OK || !possible)
    for (int k = 0; k < p->info.ndomains; k++)
      for (int i = 0; i < p->domains[k].ncpus; i++) possible |= 1ull << p->domains[k].cpus[i];
  p->info.ncpus = 64 - __builtin_clzll(possible);

  char why[DYNRT_ERRMSG_MAX - 64] = "";
  for (int k = 0; k < p->info.ndomains; k++) probe_permission(p, k, why, sizeof why);
  dynrt__restore_init(&lx->restore, lx->root);
  dynrt_err rec;
  dynrt__clearerr(&rec);
  if (dynrt__restore_recover(&lx->restore, &rec) != DYNRT_OK) {
    /* Someone else's saved state: changing the device now could lose it. */
    dynrt__sysfs_copy(why, sizeof why, rec.msg);
    for (int k = 0; k < p->info.ndomains; k++) p->domains[k].can_set_freq = 0;
  }
  for (int k = 0; k < p->info.ndomains; k++)
    if (p->domains[k].can_set_freq) p->info.can_control = 1;

  dynrt__clearerr(&lx->energy_err);
  st = dynrt__energy_open(lx->root[0] ? lx->root : "/", dynrt_now_ns(), &lx->energy,
                          &lx->energy_err);
  if (st == DYNRT_OK)
    lx->power_last_ns = dynrt_now_ns();
  else if (st == DYNRT_ERR_NOMEM) /* a sensor lost to a transient failure is no "no sensor" */
    return dynrt__seterr(&p->err, st, "linux: %s", lx->energy_err.msg);
  p->info.energy_modelled = 0;
  p->info.simulated = 0;

  dynrt__sysfs_path(path, sizeof path, lx->root, "proc/stat");
  dynrt_err e;
  if (dynrt__procstat_read(path, &lx->stat_prev, &e) != DYNRT_OK)
    DYNRT_LOGW(MOD, "utilisation unavailable until readable: %s", e.msg);
  linux_available_cpus(p, &lx->seen_cpus);

  dynrt__clearerr(&p->err);
  if (why[0]) {
    dynrt__seterr(&p->err, DYNRT_ERR_PERMISSION, "linux: %s: %s",
                  p->info.can_control ? "some domains monitoring only" : "monitoring only", why);
    DYNRT_LOGW(MOD, "%s", p->err.msg);
  }
  return DYNRT_OK;
}

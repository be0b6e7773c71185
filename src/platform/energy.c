/* energy.c - energy sensors under a root: RAPL counters, Jetson INA3221 (iio and hwmon),
 * Odroid INA231 and generic hwmon power rails, turned into one µJ total. It must not model
 * power: with no sensor it says so and the caller decides. */
#include <pthread.h>
#include <string.h>

#include "platform/energy.h"
#include "platform/sysfs.h"

typedef enum rail_kind {
  RAIL_COUNTER_UJ, /* energy counter, µJ, wraps at range */
  RAIL_POWER,      /* power file; value × scale = W */
  RAIL_VI          /* voltage (mV) × current (mA) files */
} rail_kind;

typedef struct rail {
  rail_kind kind;
  char name[32];
  char path[DYNRT_SYSFS_PATH_MAX];  /* counter or power or voltage */
  char path2[DYNRT_SYSFS_PATH_MAX]; /* current (RAIL_VI) */
  double scale;                     /* RAIL_POWER: units to W */
  uint64_t range;                   /* RAIL_COUNTER_UJ: max_energy_range_uj */
  uint64_t last;                    /* RAIL_COUNTER_UJ: last raw value */
} rail;

struct dynrt__energy {
  pthread_mutex_t lock;
  const char *kind;
  char rails_desc[128];
  int nrails;
  rail rails[DYNRT_ENERGY_MAX_RAILS];
  int have_sample;  /* a good first sample exists */
  uint64_t last_ns; /* time of the last good sample */
  double last_w;    /* power at the last sample (power sensors) */
  double total_uj;  /* integrated energy since the first sample */
  /* INA231 sensors this layer enabled (restored to "0" on close). */
  int nenabled;
  char enabled[4][DYNRT_SYSFS_PATH_MAX];
};

static rail *add_rail(dynrt__energy *e, rail_kind kind, const char *name) {
  if (e->nrails == DYNRT_ENERGY_MAX_RAILS) {
    DYNRT_LOGW("energy", "more than %d rails; ignoring %s", DYNRT_ENERGY_MAX_RAILS, name);
    return NULL;
  }
  rail *r = &e->rails[e->nrails++];
  memset(r, 0, sizeof *r);
  r->kind = kind;
  dynrt__sysfs_copy(r->name, sizeof r->name, name);
  return r;
}

/* Keeps only the rail called VDD_IN (or its other names) when present: the module input is
 * the total, the other rails are parts of it. */
static void keep_total_rail(dynrt__energy *e) {
  static const char *const total_names[] = {"VDD_IN", "POM_5V_IN", "5V_IN"};
  for (size_t k = 0; k < sizeof total_names / sizeof total_names[0]; k++)
    for (int i = 0; i < e->nrails; i++)
      if (!strcmp(e->rails[i].name, total_names[k])) {
        if (i) e->rails[0] = e->rails[i];
        e->nrails = 1;
        return;
      }
}

/* ---- discovery, one function per layout; each returns 1 when it found rails ---- */

static int find_rapl(dynrt__energy *e, const char *root, char *note, size_t notelen) {
  char dir[DYNRT_SYSFS_PATH_MAX], path[DYNRT_SYSFS_PATH_MAX], name[64];
  char names[16][DYNRT_SYSFS_NAME_MAX];
  if (dynrt__sysfs_path(dir, sizeof dir, root, "sys/class/powercap") != 0) return 0;
  int n = dynrt__sysfs_list(dir, "intel-rapl:", names, 16);
  int psys = -1;
  for (int i = 0; i < n; i++) {
    if (strchr(names[i] + strlen("intel-rapl:"), ':')) continue; /* sub-zone */
    dynrt__sysfs_path(path, sizeof path, dir, "%s/name", names[i]);
    if (dynrt__sysfs_read(path, name, sizeof name, NULL) != DYNRT_OK) continue;
    dynrt__sysfs_path(path, sizeof path, dir, "%s/energy_uj", names[i]);
    uint64_t range = 0, v;
    char rpath[DYNRT_SYSFS_PATH_MAX];
    dynrt__sysfs_path(rpath, sizeof rpath, dir, "%s/max_energy_range_uj", names[i]);
    dynrt_err err;
    dynrt__clearerr(&err);
    if (dynrt__sysfs_read_u64(rpath, &range, &err) != DYNRT_OK || range == 0) {
      snprintf(note, notelen, "RAPL zone %.64s unusable: %.400s", names[i],
               range == 0 && err.status == DYNRT_OK ? "max_energy_range_uj is 0" : err.msg);
      continue;
    }
    dynrt_status st = dynrt__sysfs_read_u64(path, &v, &err);
    if (st == DYNRT_ERR_PERMISSION) {
      /* Since Linux 5.10 energy_uj is root-only (CVE-2020-8694). */
      snprintf(note, notelen, "RAPL present but %s is not readable (root only since Linux 5.10)",
               path);
      continue;
    }
    rail *r = add_rail(e, RAIL_COUNTER_UJ, name);
    if (!r) break;
    dynrt__sysfs_copy(r->path, sizeof r->path, path);
    r->range = range;
    if (!strcmp(name, "psys")) psys = e->nrails - 1;
  }
  if (psys >= 0) {
    /* psys covers the whole platform, packages included: counting both would double. */
    e->rails[0] = e->rails[psys];
    e->nrails = 1;
  }
  return e->nrails > 0;
}

static int find_ina3221_iio(dynrt__energy *e, const char *root) {
  char drv[DYNRT_SYSFS_PATH_MAX], dev[DYNRT_SYSFS_PATH_MAX], path[DYNRT_SYSFS_PATH_MAX];
  char devs[8][DYNRT_SYSFS_NAME_MAX], iios[4][DYNRT_SYSFS_NAME_MAX], label[32];
  if (dynrt__sysfs_path(drv, sizeof drv, root, "sys/bus/i2c/drivers/ina3221x") != 0) return 0;
  int nd = dynrt__sysfs_list(drv, "", devs, 8);
  for (int i = 0; i < nd; i++) {
    dynrt__sysfs_path(dev, sizeof dev, drv, "%s", devs[i]);
    int ni = dynrt__sysfs_list(dev, "iio:device", iios, 4);
    for (int j = 0; j < ni; j++)
      for (int k = 0; k < 8; k++) {
        dynrt__sysfs_path(path, sizeof path, dev, "%s/rail_name_%d", iios[j], k);
        if (dynrt__sysfs_read(path, label, sizeof label, NULL) != DYNRT_OK) continue;
        rail *r = add_rail(e, RAIL_POWER, label);
        if (!r) return e->nrails > 0;
        dynrt__sysfs_path(r->path, sizeof r->path, dev, "%s/in_power%d_input", iios[j], k);
        r->scale = 1e-3; /* mW */
      }
  }
  keep_total_rail(e);
  return e->nrails > 0;
}

static int find_ina3221_hwmon(dynrt__energy *e, const char *root) {
  char drv[DYNRT_SYSFS_PATH_MAX], dir[DYNRT_SYSFS_PATH_MAX], path[DYNRT_SYSFS_PATH_MAX];
  char devs[8][DYNRT_SYSFS_NAME_MAX], hws[4][DYNRT_SYSFS_NAME_MAX], label[32];
  if (dynrt__sysfs_path(drv, sizeof drv, root, "sys/bus/i2c/drivers/ina3221") != 0) return 0;
  int nd = dynrt__sysfs_list(drv, "", devs, 8);
  for (int i = 0; i < nd; i++) {
    dynrt__sysfs_path(dir, sizeof dir, drv, "%s/hwmon", devs[i]);
    int nh = dynrt__sysfs_list(dir, "hwmon", hws, 4);
    for (int j = 0; j < nh; j++)
      for (int k = 1; k <= 8; k++) {
        dynrt__sysfs_path(path, sizeof path, dir, "%s/in%d_label", hws[j], k);
        if (dynrt__sysfs_read(path, label, sizeof label, NULL) != DYNRT_OK) continue;
        rail *r = add_rail(e, RAIL_VI, label);
        if (!r) return e->nrails > 0;
        dynrt__sysfs_path(r->path, sizeof r->path, dir, "%s/in%d_input", hws[j], k);
        dynrt__sysfs_path(r->path2, sizeof r->path2, dir, "%s/curr%d_input", hws[j], k);
      }
  }
  keep_total_rail(e);
  return e->nrails > 0;
}

static int find_ina231(dynrt__energy *e, const char *root) {
  /* Addresses and rails from the Odroid-XU3 device tree. */
  static const struct {
    const char *suffix, *name;
  } map[] = {{"-0040", "A15"}, {"-0041", "MEM"}, {"-0044", "GPU"}, {"-0045", "A7"}};
  char drv[DYNRT_SYSFS_PATH_MAX], path[DYNRT_SYSFS_PATH_MAX], val[32];
  char devs[8][DYNRT_SYSFS_NAME_MAX];
  if (dynrt__sysfs_path(drv, sizeof drv, root, "sys/bus/i2c/drivers/INA231") != 0) return 0;
  int nd = dynrt__sysfs_list(drv, "", devs, 8);
  for (size_t m = 0; m < sizeof map / sizeof map[0]; m++)
    for (int i = 0; i < nd; i++) {
      size_t l = strlen(devs[i]);
      if (l < 5 || strcmp(devs[i] + l - 5, map[m].suffix)) continue;
      dynrt__sysfs_path(path, sizeof path, drv, "%s/sensor_W", devs[i]);
      if (!dynrt__sysfs_exists(path)) continue;
      rail *r = add_rail(e, RAIL_POWER, map[m].name);
      if (!r) return e->nrails > 0;
      dynrt__sysfs_copy(r->path, sizeof r->path, path);
      r->scale = 1.0; /* W */
      dynrt__sysfs_path(path, sizeof path, drv, "%s/enable", devs[i]);
      if (dynrt__sysfs_read(path, val, sizeof val, NULL) == DYNRT_OK && !strcmp(val, "0")) {
        dynrt_err err;
        dynrt__clearerr(&err);
        if (dynrt__sysfs_write(path, "1", &err) == DYNRT_OK && e->nenabled < 4)
          dynrt__sysfs_copy(e->enabled[e->nenabled++], DYNRT_SYSFS_PATH_MAX, path);
        else
          DYNRT_LOGW("energy", "INA231 %s is disabled and cannot be enabled: %s", devs[i], err.msg);
      }
    }
  return e->nrails > 0;
}

static int find_hwmon(dynrt__energy *e, const char *root) {
  char dir[DYNRT_SYSFS_PATH_MAX], path[DYNRT_SYSFS_PATH_MAX], name[64];
  char hws[16][DYNRT_SYSFS_NAME_MAX];
  if (dynrt__sysfs_path(dir, sizeof dir, root, "sys/class/hwmon") != 0) return 0;
  int n = dynrt__sysfs_list(dir, "hwmon", hws, 16);
  for (int i = 0; i < n; i++) {
    dynrt__sysfs_path(path, sizeof path, dir, "%s/name", hws[i]);
    if (dynrt__sysfs_read(path, name, sizeof name, NULL) != DYNRT_OK) snprintf(name, 64, "?");
    char label[32];
    snprintf(label, sizeof label, "%.12s:%.18s", hws[i], name);
    dynrt__sysfs_path(path, sizeof path, dir, "%s/power1_input", hws[i]);
    if (dynrt__sysfs_exists(path)) {
      rail *r = add_rail(e, RAIL_POWER, label);
      if (!r) break;
      dynrt__sysfs_copy(r->path, sizeof r->path, path);
      r->scale = 1e-6; /* µW */
      continue;
    }
    /* Voltage × current only for current monitors, where in1 is the bus voltage. */
    if (strncmp(name, "ina", 3) != 0) continue;
    char cpath[DYNRT_SYSFS_PATH_MAX];
    dynrt__sysfs_path(path, sizeof path, dir, "%s/in1_input", hws[i]);
    dynrt__sysfs_path(cpath, sizeof cpath, dir, "%s/curr1_input", hws[i]);
    if (!dynrt__sysfs_exists(path) || !dynrt__sysfs_exists(cpath)) continue;
    rail *r = add_rail(e, RAIL_VI, label);
    if (!r) break;
    dynrt__sysfs_copy(r->path, sizeof r->path, path);
    dynrt__sysfs_copy(r->path2, sizeof r->path2, cpath);
  }
  return e->nrails > 0;
}

/* ---- sampling ---- */

/* Power of one rail in W; garbage is an error naming the file and the content. */
static dynrt_status rail_power(const rail *r, double *w, dynrt_err *err) {
  if (r->kind == RAIL_POWER) {
    double v;
    dynrt_status st = dynrt__sysfs_read_double(r->path, &v, err);
    if (st != DYNRT_OK) return st;
    if (v < 0) return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: negative power '%g'", r->path, v);
    *w = v * r->scale;
    return DYNRT_OK;
  }
  int64_t mv, ma;
  dynrt_status st = dynrt__sysfs_read_i64(r->path, &mv, err);
  if (st == DYNRT_OK) st = dynrt__sysfs_read_i64(r->path2, &ma, err);
  if (st != DYNRT_OK) return st;
  if (mv < 0 || ma < 0)
    return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s = %lld mV, %s = %lld mA: negative reading",
                         r->path, (long long)mv, r->path2, (long long)ma);
  *w = (double)mv * (double)ma * 1e-6;
  return DYNRT_OK;
}

/* Takes one sample; on success updates the total (unless first) and the last sample. */
static dynrt_status sample(dynrt__energy *e, uint64_t now_ns, dynrt_err *err) {
  if (e->rails[0].kind == RAIL_COUNTER_UJ) {
    uint64_t raw[DYNRT_ENERGY_MAX_RAILS];
    double delta = 0;
    for (int i = 0; i < e->nrails; i++) {
      rail *r = &e->rails[i];
      dynrt_status st = dynrt__sysfs_read_u64(r->path, &raw[i], err);
      if (st != DYNRT_OK) return st;
      if (raw[i] > r->range)
        return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                             "%s: counter '%llu' above max_energy_range_uj %llu", r->path,
                             (unsigned long long)raw[i], (unsigned long long)r->range);
      if (e->have_sample)
        /* Wrapped counters restart from 0 after range (most tools use range - last + now). */
        delta +=
            raw[i] >= r->last ? (double)(raw[i] - r->last) : (double)(r->range - r->last + raw[i]);
    }
    for (int i = 0; i < e->nrails; i++) e->rails[i].last = raw[i];
    if (e->have_sample) {
      double dt = (double)(now_ns - e->last_ns) * 1e-9;
      e->total_uj += delta;
      e->last_w = dt > 0 ? delta * 1e-6 / dt : e->last_w;
    }
  } else {
    double w = 0;
    for (int i = 0; i < e->nrails; i++) {
      double rw = 0;
      dynrt_status st = rail_power(&e->rails[i], &rw, err);
      if (st != DYNRT_OK) return st;
      w += rw;
    }
    if (w <= 0) {
      /* A board drawing no power is a sensor that is off or broken, never a measurement. */
      char content[64] = "";
      dynrt__sysfs_read(e->rails[0].path, content, sizeof content, NULL);
      char q[48];
      return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                           "%s sensor reads zero power (%s: '%s'%s); is the sensor enabled?",
                           e->kind, e->rails[0].path, dynrt__sysfs_quote(content, q, sizeof q),
                           e->nrails > 1 ? " and the other rails" : "");
    }
    if (e->have_sample && now_ns > e->last_ns)
      e->total_uj += (e->last_w + w) * 0.5 * (double)(now_ns - e->last_ns) * 1e-3;
    e->last_w = w;
  }
  e->last_ns = now_ns;
  e->have_sample = 1;
  return DYNRT_OK;
}

dynrt_status dynrt__energy_open(const char *root, uint64_t now_ns, dynrt__energy **out,
                                dynrt_err *err) {
  *out = NULL;
  dynrt__energy *e = dynrt__calloc(1, sizeof *e);
  if (!e) return dynrt__seterr(err, DYNRT_ERR_NOMEM, "energy: out of memory");
  char note[DYNRT_SYSFS_PATH_MAX + 96] = "";
  if (find_rapl(e, root, note, sizeof note))
    e->kind = "rapl";
  else if (find_ina3221_iio(e, root))
    e->kind = "ina3221-iio";
  else if (find_ina3221_hwmon(e, root))
    e->kind = "ina3221-hwmon";
  else if (find_ina231(e, root))
    e->kind = "ina231";
  else if (find_hwmon(e, root))
    e->kind = "hwmon";
  if (!e->kind) {
    dynrt__free(e);
    return dynrt__seterr(err, DYNRT_ERR_UNSUPPORTED,
                         "no energy sensor under %s (looked for RAPL powercap, INA3221 iio and "
                         "hwmon, INA231, hwmon power)%s%s",
                         root, note[0] ? "; " : "", note);
  }
  size_t len = 0;
  for (int i = 0; i < e->nrails && len + 1 < sizeof e->rails_desc; i++)
    len += (size_t)snprintf(e->rails_desc + len, sizeof e->rails_desc - len, "%s%s", i ? "+" : "",
                            e->rails[i].name);
  pthread_mutex_init(&e->lock, NULL);
  dynrt_err first;
  if (sample(e, now_ns, &first) != DYNRT_OK)
    DYNRT_LOGW("energy", "first sample of %s failed (retried on read): %s", e->kind, first.msg);
  DYNRT_LOGI("energy", "sensor %s, rails %s", e->kind, e->rails_desc);
  *out = e;
  return DYNRT_OK;
}

dynrt_status dynrt__energy_read(dynrt__energy *e, uint64_t now_ns, uint64_t *uj, dynrt_err *err) {
  pthread_mutex_lock(&e->lock);
  dynrt_status st = sample(e, now_ns, err);
  if (st == DYNRT_OK) *uj = (uint64_t)(e->total_uj + 0.5);
  pthread_mutex_unlock(&e->lock);
  return st;
}

double dynrt__energy_last_power(dynrt__energy *e) {
  pthread_mutex_lock(&e->lock);
  double w = e->last_w;
  pthread_mutex_unlock(&e->lock);
  return w;
}

const char *dynrt__energy_kind(const dynrt__energy *e) { return e->kind; }
const char *dynrt__energy_rails(const dynrt__energy *e) { return e->rails_desc; }

void dynrt__energy_close(dynrt__energy *e) {
  if (!e) return;
  for (int i = 0; i < e->nenabled; i++) {
    dynrt_err err;
    if (dynrt__sysfs_write(e->enabled[i], "0", &err) != DYNRT_OK)
      DYNRT_LOGW("energy", "cannot disable INA231 again: %s", err.msg);
  }
  pthread_mutex_destroy(&e->lock);
  dynrt__free(e);
}

/* linux_proc.c - CPU utilisation from /proc/stat and the hottest thermal zone, for the linux
 * and host backends. Reads only; never changes the system. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "platform/linux_int.h"

dynrt_status dynrt__procstat_read(const char *path, dynrt__cpustat *s, dynrt_err *err) {
  memset(s, 0, sizeof *s);
  FILE *f = fopen(path, "re");
  if (!f) return dynrt__seterr(err, DYNRT_ERR_NOT_FOUND, "%s: cannot open", path);
  char line[512];
  int lineno = 0;
  dynrt_status st = DYNRT_OK;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    if (strncmp(line, "cpu", 3) != 0 || !isdigit((unsigned char)line[3])) continue;
    char *p = line + 3;
    unsigned long cpu = strtoul(p, &p, 10);
    uint64_t v[10] = {0};
    int n = 0;
    while (n < 10) {
      while (*p == ' ' || *p == '\t') p++;
      if (!isdigit((unsigned char)*p)) break;
      v[n++] = strtoull(p, &p, 10);
    }
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    if (n < 4 || *p) {
      char q[48];
      line[strcspn(line, "\n")] = '\0';
      st = dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s:%d: bad cpu line '%s'", path, lineno,
                         dynrt__sysfs_quote(line, q, sizeof q));
      break;
    }
    if (cpu >= DYNRT_MAX_CPUS) continue;
    /* user nice system idle iowait irq softirq steal guest guest_nice */
    uint64_t busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    s->busy[cpu] = busy;
    s->total[cpu] = busy + v[3] + v[4];
    s->present |= 1ull << cpu;
  }
  fclose(f);
  return st;
}

void dynrt__procstat_util(const dynrt__cpustat *prev, const dynrt__cpustat *cur, double *util,
                          int n) {
  for (int c = 0; c < n; c++) {
    util[c] = 0;
    if (c >= DYNRT_MAX_CPUS || !((prev->present & cur->present) >> c & 1)) continue;
    /* Counters go backwards when a CPU went offline and came back: no data then. */
    if (cur->total[c] <= prev->total[c] || cur->busy[c] < prev->busy[c]) continue;
    double u = (double)(cur->busy[c] - prev->busy[c]) / (double)(cur->total[c] - prev->total[c]);
    util[c] = u > 1 ? 1 : u;
  }
}

dynrt_status dynrt__thermal_max(const char *root, double *celsius, uint64_t *warned,
                                dynrt_err *err) {
  char dir[DYNRT_SYSFS_PATH_MAX], path[DYNRT_SYSFS_PATH_MAX];
  char zones[64][DYNRT_SYSFS_NAME_MAX];
  if (dynrt__sysfs_path(dir, sizeof dir, root, "sys/class/thermal") != 0)
    return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG, "thermal: root path too long");
  int n = dynrt__sysfs_list(dir, "thermal_zone", zones, 64);
  int found = 0;
  double best = 0;
  for (int z = 0; z < n; z++) {
    dynrt__sysfs_path(path, sizeof path, dir, "%s/temp", zones[z]);
    int64_t mc;
    dynrt_err e;
    dynrt__clearerr(&e);
    dynrt_status st = dynrt__sysfs_read_i64(path, &mc, &e);
    /* Disabled sensors read errors or absurd values (e.g. -273000 or 1000000+): skip. */
    if (st == DYNRT_OK && (mc < -60000 || mc > 250000)) {
      st = DYNRT_ERR_FORMAT;
      dynrt__seterr(&e, DYNRT_ERR_FORMAT, "%s: %lld m°C is outside -60..250 °C", path,
                    (long long)mc);
    }
    if (st != DYNRT_OK) {
      if (z < 64 && !(*warned >> z & 1)) {
        DYNRT_LOGW("thermal", "ignoring zone %s: %s", zones[z], e.msg);
        *warned |= 1ull << z;
      }
      continue;
    }
    double c = (double)mc / 1000.0;
    if (!found || c > best) best = c;
    found = 1;
  }
  if (!found)
    return dynrt__seterr(err, DYNRT_ERR_NOT_FOUND, "thermal: no zone with a valid temp under %s",
                         dir);
  *celsius = best;
  return DYNRT_OK;
}

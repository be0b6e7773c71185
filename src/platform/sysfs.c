/* sysfs.c - strict readers, parsers and the one write path for sysfs/procfs files under a
 * root. It must not interpret what a file means, and never abort on file content. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/sysfs.h"

static dynrt__sysfs_hook_fn g_hook;
static void *g_hook_user;

void dynrt__sysfs_set_hook(dynrt__sysfs_hook_fn fn, void *user) {
  g_hook = fn;
  g_hook_user = user;
}

int dynrt__sysfs_path(char *buf, size_t size, const char *root, const char *fmt, ...) {
  DYNRT_ASSERT(buf && size);
  size_t rl = root ? strlen(root) : 0;
  while (rl > 0 && root[rl - 1] == '/') rl--;
  if (rl + 1 >= size) {
    buf[0] = '\0';
    return -1;
  }
  memcpy(buf, root, rl);
  buf[rl] = '/';
  va_list ap;
  va_start(ap, fmt);
  /* The relative part never starts with '/' in callers, but tolerate it. */
  char *rel = buf + rl + 1;
  int n = vsnprintf(rel, size - rl - 1, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= size - rl - 1) {
    buf[0] = '\0';
    return -1;
  }
  if (rel[0] == '/') memmove(rel, rel + 1, (size_t)n);
  return 0;
}

int dynrt__sysfs_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int dynrt__sysfs_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *dynrt__sysfs_copy(char *dst, size_t size, const char *src) {
  DYNRT_ASSERT(size > 0);
  size_t n = strnlen(src, size - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
  return dst;
}

const char *dynrt__sysfs_quote(const char *s, char *out, size_t size) {
  DYNRT_ASSERT(size >= 48);
  size_t i = 0;
  for (; s[i] && i < 40; i++) out[i] = (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
  if (s[i]) {
    memcpy(out + i, "...", 4);
  } else {
    out[i] = '\0';
  }
  return out;
}

dynrt_status dynrt__sysfs_read(const char *path, char *buf, size_t size, dynrt_err *err) {
  DYNRT_ASSERT(buf && size > 1);
  buf[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    dynrt_status st = e == ENOENT || e == ENOTDIR ? DYNRT_ERR_NOT_FOUND
                      : e == EACCES || e == EPERM ? DYNRT_ERR_PERMISSION
                                                  : DYNRT_ERR_IO;
    return dynrt__seterr(err, st, "%s: cannot open: %s", path, strerror(e));
  }
  size_t len = 0;
  for (;;) {
    ssize_t r = read(fd, buf + len, size - 1 - len);
    if (r < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      buf[0] = '\0';
      return dynrt__seterr(err, e == EACCES || e == EPERM ? DYNRT_ERR_PERMISSION : DYNRT_ERR_IO,
                           "%s: cannot read: %s", path, strerror(e));
    }
    if (r == 0) break;
    len += (size_t)r;
    if (len == size - 1) {
      char extra;
      ssize_t more = read(fd, &extra, 1);
      if (more > 0) {
        close(fd);
        buf[0] = '\0';
        return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: longer than %zu bytes", path, size - 1);
      }
      break;
    }
  }
  close(fd);
  buf[len] = '\0';
  /* The value ends at the first NUL (device-tree strings carry one); trim what callers
   * see, not what follows it. */
  len = strlen(buf);
  while (len > 0 && isspace((unsigned char)buf[len - 1])) buf[--len] = '\0';
  return DYNRT_OK;
}

static const char *skip_ws(const char *s) {
  while (isspace((unsigned char)*s)) s++;
  return s;
}

int dynrt__parse_u64(const char *s, uint64_t *out) {
  s = skip_ws(s);
  if (!isdigit((unsigned char)*s)) return -1;
  uint64_t v = 0;
  for (; isdigit((unsigned char)*s); s++) {
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  if (*skip_ws(s)) return -1;
  *out = v;
  return 0;
}

int dynrt__parse_i64(const char *s, int64_t *out) {
  s = skip_ws(s);
  int neg = 0;
  if (*s == '-' || *s == '+') neg = *s++ == '-';
  uint64_t u;
  if (!isdigit((unsigned char)*s) || dynrt__parse_u64(s, &u) != 0) return -1;
  if (u > (uint64_t)INT64_MAX + (uint64_t)neg) return -1;
  *out = neg ? (int64_t)(0 - u) : (int64_t)u;
  return 0;
}

int dynrt__parse_double(const char *s, double *out) {
  s = skip_ws(s);
  if (!*s) return -1;
  /* Decimal text only: strtod would also take "nan", "inf" and hex floats. */
  const char *q = s;
  if (*q == '-' || *q == '+') q++;
  int digits = 0, dot = 0;
  for (; *q && !isspace((unsigned char)*q); q++) {
    if (isdigit((unsigned char)*q))
      digits++;
    else if (*q == '.' && !dot)
      dot = 1;
    else
      return -1;
  }
  if (!digits || *skip_ws(q)) return -1;
  /* 310 digits overflow to infinity, which no sysfs value means. */
  double v = strtod(s, NULL);
  if (!isfinite(v)) return -1;
  *out = v;
  return 0;
}

int dynrt__parse_cpulist(const char *s, uint64_t *mask) {
  uint64_t m = 0;
  s = skip_ws(s);
  while (*s) {
    if (!isdigit((unsigned char)*s)) return -1;
    char *end;
    unsigned long a = strtoul(s, &end, 10), b = a;
    s = end;
    if (*s == '-') {
      s++;
      if (!isdigit((unsigned char)*s)) return -1;
      b = strtoul(s, &end, 10);
      s = end;
    }
    if (a > b || b >= 64) return -1;
    for (unsigned long c = a; c <= b; c++) m |= 1ull << c;
    if (*s == ',') {
      s++;
      if (!*s) return -1;
    } else if (isspace((unsigned char)*s)) {
      s = skip_ws(s);
    } else if (*s) {
      return -1;
    }
  }
  *mask = m;
  return 0;
}

int dynrt__parse_u32_list(const char *s, uint32_t *vals, int max, uint32_t div) {
  int n = 0;
  DYNRT_ASSERT(div > 0);
  s = skip_ws(s);
  while (*s) {
    if (!isdigit((unsigned char)*s)) return -1;
    char tok[32];
    size_t k = 0;
    while (*s && !isspace((unsigned char)*s)) {
      if (k + 1 >= sizeof tok) return -1;
      tok[k++] = *s++;
    }
    tok[k] = '\0';
    uint64_t v;
    if (dynrt__parse_u64(tok, &v) != 0 || v / div > UINT32_MAX || n >= max) return -1;
    vals[n++] = (uint32_t)(v / div);
    s = skip_ws(s);
  }
  return n;
}

/* Reads path and reports garbage with the content quoted. */
static dynrt_status read_parse(const char *path, dynrt_err *err, const char *what,
                               int (*parse)(const char *, void *), void *out) {
  char buf[256];
  dynrt_status st = dynrt__sysfs_read(path, buf, sizeof buf, err);
  if (st != DYNRT_OK) return st;
  if (parse(buf, out) != 0) {
    char q[48];
    return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: content '%s' is not %s", path,
                         dynrt__sysfs_quote(buf, q, sizeof q), what);
  }
  return DYNRT_OK;
}

static int parse_u64_v(const char *s, void *o) { return dynrt__parse_u64(s, o); }
static int parse_i64_v(const char *s, void *o) { return dynrt__parse_i64(s, o); }
static int parse_double_v(const char *s, void *o) { return dynrt__parse_double(s, o); }
static int parse_cpulist_v(const char *s, void *o) { return dynrt__parse_cpulist(s, o); }

dynrt_status dynrt__sysfs_read_u64(const char *path, uint64_t *out, dynrt_err *err) {
  return read_parse(path, err, "an unsigned integer", parse_u64_v, out);
}
dynrt_status dynrt__sysfs_read_i64(const char *path, int64_t *out, dynrt_err *err) {
  return read_parse(path, err, "an integer", parse_i64_v, out);
}
dynrt_status dynrt__sysfs_read_double(const char *path, double *out, dynrt_err *err) {
  return read_parse(path, err, "a decimal number", parse_double_v, out);
}
dynrt_status dynrt__sysfs_read_cpulist(const char *path, uint64_t *mask, dynrt_err *err) {
  return read_parse(path, err, "a CPU list (like 0-3,5)", parse_cpulist_v, mask);
}

dynrt_status dynrt__sysfs_errno_status(int e) {
  switch (e) {
  case EACCES:
  case EPERM:
  case EROFS: return DYNRT_ERR_PERMISSION;
  case EBUSY: return DYNRT_ERR_BUSY;
  case EINVAL:
  case ERANGE: return DYNRT_ERR_INVALID_ARG;
  case ENOENT:
  case ENOTDIR: return DYNRT_ERR_NOT_FOUND;
  default: return DYNRT_ERR_IO;
  }
}

static int raw_write(const char *path, const char *value) {
  /* No O_CREAT: a sysfs attribute that does not exist must not be invented. */
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  size_t len = strlen(value);
  ssize_t w;
  do w = write(fd, value, len);
  while (w < 0 && errno == EINTR);
  int e = w < 0 ? errno : (size_t)w != len ? EIO : 0;
  /* Regular files (fake trees) keep old bytes past the new value: cut them. */
  if (!e) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > (off_t)len)
      (void)!ftruncate(fd, (off_t)len);
  }
  if (close(fd) != 0 && !e) e = errno;
  return e;
}

dynrt_status dynrt__sysfs_write(const char *path, const char *value, dynrt_err *err) {
  int e = -1;
  if (g_hook) e = g_hook(g_hook_user, DYNRT__SYSFS_WRITE, path, value);
  if (e < 0) e = raw_write(path, value);
  if (e == 0) {
    DYNRT_LOGD("sysfs", "wrote '%s' to %s", value, path);
    return DYNRT_OK;
  }
  return dynrt__seterr(err, dynrt__sysfs_errno_status(e), "write '%s' to %s: %s", value, path,
                       strerror(e));
}

int dynrt__sysfs_probe_write(const char *path) {
  int e = -1;
  if (g_hook) e = g_hook(g_hook_user, DYNRT__SYSFS_PROBE, path, NULL);
  if (e >= 0) return e;
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

/* Natural order: digit runs compare by value. */
static int natcmp(const char *a, const char *b) {
  while (*a && *b) {
    if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
      unsigned long x = strtoul(a, (char **)&a, 10), y = strtoul(b, (char **)&b, 10);
      if (x != y) return x < y ? -1 : 1;
    } else {
      if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
      a++;
      b++;
    }
  }
  return (unsigned char)*a - (unsigned char)*b;
}

static int natcmp_v(const void *a, const void *b) { return natcmp(a, b); }

int dynrt__sysfs_list(const char *dir, const char *prefix, char (*names)[DYNRT_SYSFS_NAME_MAX],
                      int max) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  size_t pl = strlen(prefix);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, pl) != 0) continue;
    if (strlen(e->d_name) >= DYNRT_SYSFS_NAME_MAX) continue;
    if (n == max) {
      DYNRT_LOGW("sysfs", "%s: more than %d entries '%s*'; ignoring %s", dir, max, prefix,
                 e->d_name);
      continue;
    }
    strcpy(names[n++], e->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], natcmp_v);
  return n;
}

/* status.c - status code strings, version, per-object error messages and logging. */
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"

const char *dynrt_status_str(dynrt_status status) {
  switch (status) {
  case DYNRT_OK: return "ok";
  case DYNRT_ERR_INVALID_ARG: return "invalid argument";
  case DYNRT_ERR_NOMEM: return "out of memory";
  case DYNRT_ERR_IO: return "input/output error";
  case DYNRT_ERR_FORMAT: return "malformed input";
  case DYNRT_ERR_UNSUPPORTED: return "not supported";
  case DYNRT_ERR_STATE: return "invalid state";
  case DYNRT_ERR_PERMISSION: return "permission denied";
  case DYNRT_ERR_NOT_FOUND: return "not found";
  case DYNRT_ERR_BUSY: return "busy";
  case DYNRT_ERR_INFEASIBLE: return "infeasible requirements";
  case DYNRT_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const char *dynrt_version(void) { return DYNRT_VERSION; }

dynrt_status dynrt__seterr(dynrt_err *err, dynrt_status status, const char *fmt, ...) {
  char buf[DYNRT_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (err) {
    err->status = status;
    memcpy(err->msg, buf, sizeof buf);
  }
  dynrt__log(DYNRT_LOG_DEBUG, "error", "%s: %s", dynrt_status_str(status), buf);
  return status;
}

void dynrt__clearerr(dynrt_err *err) {
  if (err) {
    err->status = DYNRT_OK;
    err->msg[0] = '\0';
  }
}

const char *dynrt__errmsg(const dynrt_err *err) {
  if (!err) return "no object";
  if (err->msg[0]) return err->msg;
  return dynrt_status_str(err->status);
}

/* -1: not yet read from the environment. */
static _Atomic int log_level = -1;

static int log_level_from_env(void) {
  const char *s = getenv("DYNRT_LOG");
  if (!s) return DYNRT_LOG_WARN;
  if (!strcasecmp(s, "error")) return DYNRT_LOG_ERROR;
  if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning")) return DYNRT_LOG_WARN;
  if (!strcasecmp(s, "info")) return DYNRT_LOG_INFO;
  if (!strcasecmp(s, "debug")) return DYNRT_LOG_DEBUG;
  return DYNRT_LOG_WARN;
}

void dynrt_log_set_level(dynrt_log_level level) { atomic_store(&log_level, (int)level); }

dynrt_log_level dynrt_log_get_level(void) {
  int l = atomic_load(&log_level);
  if (l < 0) {
    l = log_level_from_env();
    atomic_store(&log_level, l);
  }
  return (dynrt_log_level)l;
}

void dynrt__log(dynrt_log_level level, const char *module, const char *fmt, ...) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  if ((int)level > (int)dynrt_log_get_level()) return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  /* One fprintf per line so concurrent threads do not interleave within a line. */
  fprintf(stderr, "dynrt %s [%s] %s\n", names[level], module ? module : "-", buf);
}

void dynrt__assert_fail(const char *expr, const char *file, int line) {
  fprintf(stderr, "dynrt: assertion failed: %s (%s:%d)\n", expr, file, line);
  abort();
}

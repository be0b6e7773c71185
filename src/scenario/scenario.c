/* scenario.c - reads and validates scenario files (docs/formats.md "Scenario"): every field
 * is checked and every message names the file, the field and the bad value. It resolves
 * paths and checks names against a platform; it runs nothing. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "dynrt/sim.h"
#include "scenario/scenario.h"

/* Bounds that catch unit mistakes: a day of scenario, an hour per inference. */
#define MAX_DURATION_S 86400.0
#define MAX_LATENCY_MS 3600000.0

typedef struct reader {
  const char *file;
  char *errbuf;
  size_t errlen;
} reader;

static dynrt_status fail(reader *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static dynrt_status fail(reader *r, const char *fmt, ...) {
  if (r->errbuf && r->errlen) {
    int n = snprintf(r->errbuf, r->errlen, "%s: ", r->file);
    if (n < 0) n = 0;
    if ((size_t)n < r->errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(r->errbuf + n, r->errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return DYNRT_ERR_FORMAT;
}

/* Every key of object o must be in the NULL-terminated list: a typo is an error, not a
 * silently ignored setting. */
static dynrt_status check_keys(reader *r, const cJSON *o, const char *where,
                               const char *const *keys) {
  const cJSON *it;
  cJSON_ArrayForEach(it, o) {
    int ok = 0;
    for (int i = 0; keys[i] && !ok; i++) ok = !strcmp(it->string, keys[i]);
    if (!ok) {
      char list[256] = "";
      for (int i = 0; keys[i]; i++) {
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", keys[i]);
      }
      return fail(r, "%s: unknown field '%.60s' (known: %s)", where, it->string, list);
    }
  }
  return DYNRT_OK;
}

/* Number field: *out untouched when absent and not required. */
static dynrt_status get_num(reader *r, const cJSON *o, const char *where, const char *key,
                            int required, double lo, double hi, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!v || cJSON_IsNull(v)) {
    if (required) return fail(r, "%s.%s is missing", where, key);
    return DYNRT_OK;
  }
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return fail(r, "%s.%s must be a number", where, key);
  if (!(v->valuedouble >= lo && v->valuedouble <= hi))
    return fail(r, "%s.%s = %g out of range [%g, %g]", where, key, v->valuedouble, lo, hi);
  *out = v->valuedouble;
  return DYNRT_OK;
}

static dynrt_status get_str(reader *r, const cJSON *o, const char *where, const char *key,
                            int required, char *out, size_t size) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!v || cJSON_IsNull(v)) {
    if (required) return fail(r, "%s.%s is missing", where, key);
    return DYNRT_OK;
  }
  if (!cJSON_IsString(v)) return fail(r, "%s.%s must be a string", where, key);
  if (strlen(v->valuestring) >= size)
    return fail(r, "%s.%s = '%.40s...' is longer than %zu bytes", where, key, v->valuestring,
                size - 1);
  memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
  return DYNRT_OK;
}

static uint64_t s_to_ns(double s) { return (uint64_t)llround(s * 1e9); }
static uint64_t ms_to_ns(double ms) { return (uint64_t)llround(ms * 1e6); }

static void dirname_of(const char *path, char *out, size_t size) {
  snprintf(out, size, "%s", path);
  char *slash = strrchr(out, '/');
  if (!slash)
    snprintf(out, size, ".");
  else if (slash == out)
    out[1] = '\0';
  else
    *slash = '\0';
}

/* Resolves a path given in the scenario: absolute as is; else the first that exists of
 * <scenario dir>/p, <scenario dir>/../p, ./p. */
static dynrt_status resolve(reader *r, const char *where, const char *p, char *out, size_t size) {
  if (p[0] == '/') {
    if (access(p, R_OK)) return fail(r, "%s = '%s': %s", where, p, strerror(errno));
    snprintf(out, size, "%s", p);
    return DYNRT_OK;
  }
  char dir[DYNRT_SCN_PATH_MAX], cand[3][DYNRT_SCN_PATH_MAX * 2 + 8];
  dirname_of(r->file, dir, sizeof dir);
  snprintf(cand[0], sizeof cand[0], "%s/%s", dir, p);
  snprintf(cand[1], sizeof cand[1], "%s/../%s", dir, p);
  snprintf(cand[2], sizeof cand[2], "%s", p);
  for (int i = 0; i < 3; i++) {
    if (access(cand[i], R_OK)) continue;
    char real[PATH_MAX];
    const char *use = realpath(cand[i], real) ? real : cand[i];
    if (strlen(use) >= size) return fail(r, "%s = '%s': resolved path too long", where, p);
    snprintf(out, size, "%s", use);
    return DYNRT_OK;
  }
  return fail(r, "%s = '%s': no such file (looked in %s, %s/.. and the current directory)", where,
              p, dir, dir);
}

static const char *const all_policies[] = {"rtm",
                                           "oracle",
                                           "static-max:schedutil",
                                           "static-max:ondemand",
                                           "static-max:performance",
                                           "static-min:schedutil",
                                           "static-min:ondemand",
                                           "static-min:performance",
                                           "dynamic-ofa:schedutil",
                                           "dvfs-only",
                                           NULL};

const char *const *dynrt_scn_all_policies(void) { return all_policies; }

/* Same grammar as dynrt_rtm_create's policy names, checked here so that a typo in a
 * scenario fails before anything runs. */
static int policy_valid(const char *p) {
  static const char *const plain[] = {"rtm", "rtm:max-accuracy", "dvfs-only", "oracle", NULL};
  static const char *const governed[] = {"static-max", "static-min", "dynamic-ofa", NULL};
  static const char *const govs[] = {"schedutil", "ondemand",     "performance",
                                     "powersave", "conservative", NULL};
  for (int i = 0; plain[i]; i++)
    if (!strcmp(p, plain[i])) return 1;
  for (int i = 0; governed[i]; i++) {
    size_t n = strlen(governed[i]);
    if (strncmp(p, governed[i], n)) continue;
    if (!p[n]) return 1;
    if (p[n] != ':') continue;
    for (int g = 0; govs[g]; g++)
      if (!strcmp(p + n + 1, govs[g])) return 1;
  }
  return 0;
}

static dynrt_status add_policy(dynrt_scn *scn, reader *r, const char *where, const char *name) {
  if (!policy_valid(name))
    return fail(r,
                "%s = '%.60s': unknown policy (rtm, rtm:max-accuracy, oracle, dvfs-only, "
                "static-max[:GOV], static-min[:GOV], dynamic-ofa[:GOV], all; GOV = schedutil, "
                "ondemand, performance, powersave, conservative)",
                where, name);
  char canon[48];
  /* Governed names without a governor mean schedutil, as in the manager. */
  if (strchr(name, ':') || !strcmp(name, "rtm") || !strcmp(name, "dvfs-only") ||
      !strcmp(name, "oracle"))
    snprintf(canon, sizeof canon, "%s", name);
  else
    snprintf(canon, sizeof canon, "%s:schedutil", name);
  for (int i = 0; i < scn->npolicies; i++)
    if (!strcmp(scn->policies[i], canon)) return DYNRT_OK;
  if (scn->npolicies == DYNRT_SCN_MAX_POLICIES)
    return fail(r, "%s: more than %d policies", where, DYNRT_SCN_MAX_POLICIES);
  snprintf(scn->policies[scn->npolicies++], sizeof scn->policies[0], "%s", canon);
  return DYNRT_OK;
}

static dynrt_status policies_from_list(dynrt_scn *scn, reader *r, const char *where,
                                       const char *list) {
  scn->npolicies = 0;
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", list);
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (isspace((unsigned char)*tok)) tok++;
    size_t n = strlen(tok);
    while (n && isspace((unsigned char)tok[n - 1])) tok[--n] = '\0';
    dynrt_status st;
    if (!strcmp(tok, "all")) {
      for (int i = 0; all_policies[i]; i++)
        if ((st = add_policy(scn, r, where, all_policies[i]))) return st;
    } else if ((st = add_policy(scn, r, where, tok))) {
      return st;
    }
  }
  if (!scn->npolicies) return fail(r, "%s = '%s': no policy", where, list);
  return DYNRT_OK;
}

dynrt_status dynrt_scn_set_policies(dynrt_scn *scn, const char *list, char *errbuf, size_t errlen) {
  reader r = {"--policy", errbuf, errlen};
  if (!scn || !list) return DYNRT_ERR_INVALID_ARG;
  return policies_from_list(scn, &r, "policy list", list);
}

void dynrt_scn_policy_slug(const char *policy, char *buf, size_t size) {
  snprintf(buf, size, "%s", policy);
  for (char *c = buf; *c; c++)
    if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.') *c = '_';
}

/* A CPU list [0, 1, 5] as a mask. */
static dynrt_status get_cpus(reader *r, const cJSON *o, const char *where, const char *key,
                             int allow_empty, uint64_t *mask) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!v || !cJSON_IsArray(v)) return fail(r, "%s.%s must be an array of CPU numbers", where, key);
  *mask = 0;
  int i = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, v) {
    if (!cJSON_IsNumber(c) || c->valuedouble != floor(c->valuedouble) || c->valuedouble < 0 ||
        c->valuedouble >= DYNRT_MAX_CPUS)
      return fail(r, "%s.%s[%d] must be a CPU number in 0..%d", where, key, i, DYNRT_MAX_CPUS - 1);
    *mask |= 1ull << (int)c->valuedouble;
    i++;
  }
  if (!*mask && !allow_empty) return fail(r, "%s.%s is empty", where, key);
  return DYNRT_OK;
}

static int find_app(const dynrt_scn *scn, const char *name) {
  for (int i = 0; i < scn->napps; i++)
    if (!strcmp(scn->apps[i].name, name)) return i;
  return -1;
}

dynrt_status dynrt_scn_platform_open(const char *spec, dynrt_platform **out, char *errbuf,
                                     size_t errlen) {
  if (!strncmp(spec, "sim:", 4)) return dynrt_sim_open(spec + 4, out, errbuf, errlen);
  return dynrt_platform_open(spec, out, errbuf, errlen);
}

/* Capacity (relative to the host core) of domain `dom` of the board file `path`. */
static dynrt_status work_capacity(reader *r, const char *where, const char *path, const char *dom,
                                  double *cap) {
  char spec[DYNRT_SCN_PATH_MAX + 8], msg[256];
  snprintf(spec, sizeof spec, "sim:%s", path);
  dynrt_platform *p = NULL;
  dynrt_status st = dynrt_scn_platform_open(spec, &p, msg, sizeof msg);
  if (st) {
    fail(r, "%s.platform: %s", where, msg);
    return st == DYNRT_ERR_NOMEM ? st : DYNRT_ERR_FORMAT; /* out of memory is not bad input */
  }
  const dynrt_platform_info *in = dynrt_platform_get_info(p);
  int d = 0;
  while (d < in->ndomains && strcmp(dynrt_platform_domain(p, d)->name, dom)) d++;
  if (d == in->ndomains) {
    char board[64];
    snprintf(board, sizeof board, "%s", in->name);
    dynrt_platform_close(p);
    return fail(r, "%s.domain = '%s': board '%s' has no such domain", where, dom, board);
  }
  *cap = dynrt_platform_domain(p, d)->capacity;
  dynrt_platform_close(p);
  if (!(*cap > 0)) return fail(r, "%s: domain '%s' has capacity %g", where, dom, *cap);
  return DYNRT_OK;
}

static dynrt_status read_app(dynrt_scn *scn, reader *r, const cJSON *o, int i) {
  static const char *const keys[] = {
      "name",           "model",    "oplib",   "derive", "work_ref", "arrival", "latency_ms",
      "accuracy_floor", "priority", "start_s", "stop_s", "comment",  NULL};
  char where[32];
  snprintf(where, sizeof where, "apps[%d]", i);
  if (!cJSON_IsObject(o)) return fail(r, "%s must be an object", where);
  dynrt_status st = check_keys(r, o, where, keys);
  if (st) return st;
  dynrt_scn_app *a = &scn->apps[i];
  memset(a, 0, sizeof *a);
  a->stop_ns = DYNRT_SCN_NEVER;
  if ((st = get_str(r, o, where, "name", 1, a->name, sizeof a->name))) return st;
  if (!a->name[0]) return fail(r, "%s.name is empty", where);
  if (find_app(scn, a->name) >= 0)
    return fail(r, "%s.name = '%s' duplicates another app", where, a->name);
  char tmp[DYNRT_SCN_PATH_MAX];
  char fw[64];
  tmp[0] = '\0';
  if ((st = get_str(r, o, where, "model", 0, tmp, sizeof tmp))) return st;
  if (!strcmp(tmp, "auto")) {
    snprintf(a->model, sizeof a->model, "auto");
  } else if (tmp[0]) {
    snprintf(fw, sizeof fw, "%s.model", where);
    if ((st = resolve(r, fw, tmp, a->model, sizeof a->model))) return st;
  }
  tmp[0] = '\0';
  if ((st = get_str(r, o, where, "oplib", 1, tmp, sizeof tmp))) return st;
  snprintf(fw, sizeof fw, "%s.oplib", where);
  if (!strcmp(tmp, "auto")) {
    if (strcmp(a->model, "auto"))
      return fail(r, "%s = 'auto' needs \"model\": \"auto\" (a real run)", fw);
    snprintf(a->oplib, sizeof a->oplib, "auto");
  } else if ((st = resolve(r, fw, tmp, a->oplib, sizeof a->oplib))) {
    return st;
  }
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "derive");
  if (d && cJSON_IsBool(d)) {
    a->derive = cJSON_IsTrue(d) ? DYNRT_SCN_DERIVE_ALL : DYNRT_SCN_DERIVE_NO;
  } else if (d && cJSON_IsString(d) && !strcmp(d->valuestring, "gpu")) {
    a->derive = DYNRT_SCN_DERIVE_GPU;
  } else if (d && cJSON_IsString(d) && !strcmp(d->valuestring, "cpu")) {
    a->derive = DYNRT_SCN_DERIVE_CPU;
  } else if (d) {
    return fail(r, "%s.derive must be true, false, \"gpu\" or \"cpu\"", where);
  }
  a->work_capacity = 1;
  const cJSON *wr = cJSON_GetObjectItemCaseSensitive(o, "work_ref");
  if (wr) {
    static const char *const wkeys[] = {"platform", "domain", NULL};
    char w2[48], wp[DYNRT_SCN_PATH_MAX] = "", wd[32] = "", res[DYNRT_SCN_PATH_MAX];
    snprintf(w2, sizeof w2, "%s.work_ref", where);
    if (!cJSON_IsObject(wr))
      return fail(r, "%s must be {\"platform\": \"platforms/NAME.json\", \"domain\": NAME}", w2);
    if ((st = check_keys(r, wr, w2, wkeys)) ||
        (st = get_str(r, wr, w2, "platform", 1, wp, sizeof wp)) ||
        (st = get_str(r, wr, w2, "domain", 1, wd, sizeof wd)))
      return st;
    snprintf(fw, sizeof fw, "%s.platform", w2);
    if ((st = resolve(r, fw, wp, res, sizeof res))) return st;
    if ((st = work_capacity(r, w2, res, wd, &a->work_capacity))) return st;
    snprintf(a->work_ref, sizeof a->work_ref, "%s:%s", wp, wd);
  }
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "arrival");
  if (!arr) return fail(r, "%s.arrival is missing ({\"period_ms\": N} or \"back-to-back\")", where);
  if (cJSON_IsString(arr)) {
    if (strcmp(arr->valuestring, "back-to-back"))
      return fail(r, "%s.arrival = '%.40s' (expected \"back-to-back\" or {\"period_ms\": N})",
                  where, arr->valuestring);
  } else if (cJSON_IsObject(arr)) {
    char w2[48];
    snprintf(w2, sizeof w2, "%s.arrival", where);
    static const char *const akeys[] = {"period_ms", NULL};
    if ((st = check_keys(r, arr, w2, akeys))) return st;
    double pm = 0;
    if ((st = get_num(r, arr, w2, "period_ms", 1, 0.001, MAX_LATENCY_MS, &pm))) return st;
    a->period_ns = ms_to_ns(pm);
  } else {
    return fail(r, "%s.arrival must be \"back-to-back\" or {\"period_ms\": N}", where);
  }
  double lat = 0, fl = 0, pr = 0, start = 0, stop = -1;
  if ((st = get_num(r, o, where, "latency_ms", 1, 0.001, MAX_LATENCY_MS, &lat)) ||
      (st = get_num(r, o, where, "accuracy_floor", 0, 0, 1, &fl)) ||
      (st = get_num(r, o, where, "priority", 0, -1000000, 1000000, &pr)) ||
      (st = get_num(r, o, where, "start_s", 0, 0, MAX_DURATION_S, &start)) ||
      (st = get_num(r, o, where, "stop_s", 0, 0, MAX_DURATION_S, &stop)))
    return st;
  if (pr != floor(pr)) return fail(r, "%s.priority = %g must be an integer", where, pr);
  a->latency_ns = ms_to_ns(lat);
  a->accuracy_floor = fl;
  a->priority = (int)pr;
  a->start_ns = s_to_ns(start);
  if (stop >= 0) {
    if (stop <= start)
      return fail(r, "%s.stop_s = %g must be after start_s = %g", where, stop, start);
    a->stop_ns = s_to_ns(stop);
  }
  return DYNRT_OK;
}

static dynrt_status event_app(dynrt_scn *scn, reader *r, const cJSON *o, const char *where,
                              int *app) {
  char name[64] = "";
  dynrt_status st = get_str(r, o, where, "app", 1, name, sizeof name);
  if (st) return st;
  *app = find_app(scn, name);
  if (*app < 0) return fail(r, "%s.app = '%s': no app of that name", where, name);
  return DYNRT_OK;
}

static dynrt_status read_event(dynrt_scn *scn, reader *r, const cJSON *o, int i) {
  char where[32];
  snprintf(where, sizeof where, "events[%d]", i);
  if (!cJSON_IsObject(o)) return fail(r, "%s must be an object", where);
  dynrt_scn_event *e = &scn->events[i];
  memset(e, 0, sizeof *e);
  e->until_ns = DYNRT_SCN_NEVER;
  char kind[32] = "";
  double at = 0;
  dynrt_status st;
  if ((st = get_str(r, o, where, "kind", 1, kind, sizeof kind)) ||
      (st = get_num(r, o, where, "at_s", 1, 0, MAX_DURATION_S, &at)))
    return st;
  e->at_ns = s_to_ns(at);
  if (e->at_ns > scn->duration_ns)
    return fail(r, "%s.at_s = %g is after the end of the scenario (duration_s %g)", where, at,
                (double)scn->duration_ns * 1e-9);
  if (!strcmp(kind, "target")) {
    static const char *const k[] = {"kind", "at_s", "app", "latency_ms", "comment", NULL};
    e->kind = DYNRT_SCN_EV_TARGET;
    if ((st = check_keys(r, o, where, k)) || (st = event_app(scn, r, o, where, &e->app)) ||
        (st = get_num(r, o, where, "latency_ms", 1, 0.001, MAX_LATENCY_MS, &e->value)))
      return st;
  } else if (!strcmp(kind, "accuracy_floor")) {
    static const char *const k[] = {"kind", "at_s", "app", "floor", "comment", NULL};
    e->kind = DYNRT_SCN_EV_FLOOR;
    if ((st = check_keys(r, o, where, k)) || (st = event_app(scn, r, o, where, &e->app)) ||
        (st = get_num(r, o, where, "floor", 1, 0, 1, &e->value)))
      return st;
  } else if (!strcmp(kind, "period")) {
    static const char *const k[] = {"kind", "at_s", "app", "period_ms", "comment", NULL};
    e->kind = DYNRT_SCN_EV_PERIOD;
    if ((st = check_keys(r, o, where, k)) || (st = event_app(scn, r, o, where, &e->app)) ||
        (st = get_num(r, o, where, "period_ms", 1, 0, MAX_LATENCY_MS, &e->value)))
      return st;
  } else if (!strcmp(kind, "priority")) {
    static const char *const k[] = {"kind", "at_s", "app", "priority", "comment", NULL};
    e->kind = DYNRT_SCN_EV_PRIORITY;
    if ((st = check_keys(r, o, where, k)) || (st = event_app(scn, r, o, where, &e->app)) ||
        (st = get_num(r, o, where, "priority", 1, -1000000, 1000000, &e->value)))
      return st;
    if (e->value != floor(e->value))
      return fail(r, "%s.priority = %g must be an integer", where, e->value);
  } else if (!strcmp(kind, "load")) {
    static const char *const k[] = {"kind",      "at_s",   "until_s", "cpus", "duty",
                                    "period_ms", "domain", "comment", NULL};
    e->kind = DYNRT_SCN_EV_LOAD;
    if ((st = check_keys(r, o, where, k))) return st;
    double until = -1, duty = 1, pm = 10;
    if ((st = get_num(r, o, where, "until_s", 0, 0, MAX_DURATION_S, &until))) return st;
    if (until >= 0) {
      if (until <= at) return fail(r, "%s.until_s = %g must be after at_s = %g", where, until, at);
      e->until_ns = s_to_ns(until);
    }
    int has_cpus = cJSON_HasObjectItem(o, "cpus"), has_dom = cJSON_HasObjectItem(o, "domain");
    if (has_cpus == has_dom)
      return fail(r,
                  "%s: a load needs either \"cpus\" (a busy loop) or \"domain\" (a job on a "
                  "GPU), not %s",
                  where, has_cpus ? "both" : "neither");
    if (has_cpus) {
      if ((st = get_cpus(r, o, where, "cpus", 0, &e->cpu_mask)) ||
          (st = get_num(r, o, where, "duty", 0, 1e-6, 1, &duty)) ||
          (st = get_num(r, o, where, "period_ms", 0, 0.1, 60000, &pm)))
        return st;
      e->duty = duty;
      e->load_period_ns = ms_to_ns(pm);
    } else if ((st = get_str(r, o, where, "domain", 1, e->domain, sizeof e->domain))) {
      return st;
    }
  } else if (!strcmp(kind, "cap")) {
    static const char *const k[] = {"kind", "at_s", "domain", "max_mhz", "comment", NULL};
    e->kind = DYNRT_SCN_EV_CAP;
    double mhz = 0;
    if ((st = check_keys(r, o, where, k)) ||
        (st = get_str(r, o, where, "domain", 1, e->domain, sizeof e->domain)) ||
        (st = get_num(r, o, where, "max_mhz", 1, 0, 1e6, &mhz)))
      return st;
    e->max_khz = (uint32_t)llround(mhz * 1000);
  } else if (!strcmp(kind, "mode")) {
    static const char *const k[] = {"kind", "at_s", "mode", "comment", NULL};
    e->kind = DYNRT_SCN_EV_MODE;
    if ((st = check_keys(r, o, where, k)) ||
        (st = get_str(r, o, where, "mode", 1, e->mode, sizeof e->mode)))
      return st;
  } else if (!strcmp(kind, "take")) {
    static const char *const k[] = {"kind", "at_s", "cpus", "comment", NULL};
    e->kind = DYNRT_SCN_EV_TAKE;
    if ((st = check_keys(r, o, where, k)) || (st = get_cpus(r, o, where, "cpus", 1, &e->cpu_mask)))
      return st;
  } else {
    return fail(r,
                "%s.kind = '%s': unknown event (target, accuracy_floor, period, priority, load, "
                "cap, mode, take)",
                where, kind);
  }
  return DYNRT_OK;
}

/* Stable insertion sort by time: events at the same instant keep their file order. */
static void sort_events(dynrt_scn_event *ev, int n) {
  for (int i = 1; i < n; i++) {
    dynrt_scn_event x = ev[i];
    int j = i;
    while (j > 0 && ev[j - 1].at_ns > x.at_ns) {
      ev[j] = ev[j - 1];
      j--;
    }
    ev[j] = x;
  }
}

static dynrt_status read_root(dynrt_scn *scn, reader *r, const cJSON *root) {
  static const char *const keys[] = {"format",          "version",    "name",   "description",
                                     "platform",        "duration_s", "seed",   "manager_period_ms",
                                     "trace_period_ms", "apps",       "events", "policies",
                                     "comment",         NULL};
  if (!cJSON_IsObject(root)) return fail(r, "(root) must be a JSON object");
  dynrt_status st = check_keys(r, root, "(root)", keys);
  if (st) return st;
  char fmt[32] = "";
  double version = 0;
  if ((st = get_str(r, root, "(root)", "format", 1, fmt, sizeof fmt))) return st;
  if (strcmp(fmt, DYNRT_SCN_FORMAT))
    return fail(r, "format = '%s' (expected '" DYNRT_SCN_FORMAT "')", fmt);
  if ((st = get_num(r, root, "(root)", "version", 1, 0, 1e9, &version))) return st;
  if (version != DYNRT_SCN_VERSION)
    return fail(r, "version = %g (this reader knows %d)", version, DYNRT_SCN_VERSION);
  if ((st = get_str(r, root, "(root)", "name", 1, scn->name, sizeof scn->name)) ||
      (st =
           get_str(r, root, "(root)", "description", 0, scn->description, sizeof scn->description)))
    return st;
  char plat[DYNRT_SCN_PATH_MAX] = "";
  if ((st = get_str(r, root, "(root)", "platform", 1, plat, sizeof plat))) return st;
  if (!strncmp(plat, "sim:", 4)) {
    char res[DYNRT_SCN_PATH_MAX];
    if ((st = resolve(r, "platform", plat + 4, res, sizeof res))) return st;
    snprintf(scn->platform, sizeof scn->platform, "sim:%s", res);
    scn->simulated = 1;
  } else if (!strcmp(plat, "host") || !strcmp(plat, "linux") || !strncmp(plat, "linux:", 6)) {
    snprintf(scn->platform, sizeof scn->platform, "%s", plat);
  } else {
    return fail(r, "platform = '%s' (expected sim:platforms/NAME.json, host, linux or linux:ROOT)",
                plat);
  }
  double dur = 0, seed = 1, mp = 0, tp = 50;
  if ((st = get_num(r, root, "(root)", "duration_s", 1, 0.001, MAX_DURATION_S, &dur)) ||
      (st = get_num(r, root, "(root)", "seed", 0, 0, 9007199254740992.0, &seed)) ||
      (st = get_num(r, root, "(root)", "manager_period_ms", 0, 1, 60000, &mp)) ||
      (st = get_num(r, root, "(root)", "trace_period_ms", 0, 1, 60000, &tp)))
    return st;
  if (seed != floor(seed)) return fail(r, "seed = %g must be an integer", seed);
  scn->duration_ns = s_to_ns(dur);
  scn->seed = (uint64_t)seed;
  scn->rtm_period_ns = ms_to_ns(mp);
  scn->trace_period_ns = ms_to_ns(tp);
  const cJSON *apps = cJSON_GetObjectItemCaseSensitive(root, "apps");
  if (!cJSON_IsArray(apps)) return fail(r, "apps must be an array of apps");
  int n = cJSON_GetArraySize(apps);
  if (n < 1 || n > DYNRT_SCN_MAX_APPS)
    return fail(r, "apps has %d entries (must be 1..%d)", n, DYNRT_SCN_MAX_APPS);
  for (int i = 0; i < n; i++) {
    scn->napps = i;
    if ((st = read_app(scn, r, cJSON_GetArrayItem(apps, i), i))) return st;
    if (scn->apps[i].start_ns >= scn->duration_ns)
      return fail(r, "apps[%d].start_s = %g is not before the end (duration_s %g)", i,
                  (double)scn->apps[i].start_ns * 1e-9, dur);
  }
  scn->napps = n;
  const cJSON *evs = cJSON_GetObjectItemCaseSensitive(root, "events");
  if (evs) {
    if (!cJSON_IsArray(evs)) return fail(r, "events must be an array");
    n = cJSON_GetArraySize(evs);
    if (n > DYNRT_SCN_MAX_EVENTS)
      return fail(r, "events has %d entries (at most %d)", n, DYNRT_SCN_MAX_EVENTS);
    for (int i = 0; i < n; i++)
      if ((st = read_event(scn, r, cJSON_GetArrayItem(evs, i), i))) return st;
    scn->nevents = n;
    sort_events(scn->events, n);
  }
  const cJSON *pol = cJSON_GetObjectItemCaseSensitive(root, "policies");
  if (!pol) return policies_from_list(scn, r, "policies", "all");
  if (cJSON_IsString(pol)) return policies_from_list(scn, r, "policies", pol->valuestring);
  if (!cJSON_IsArray(pol)) return fail(r, "policies must be \"all\" or an array of names");
  int i = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, pol) {
    char where[32];
    snprintf(where, sizeof where, "policies[%d]", i++);
    if (!cJSON_IsString(p)) return fail(r, "%s must be a string", where);
    if (!strcmp(p->valuestring, "all")) {
      for (int k = 0; all_policies[k]; k++)
        if ((st = add_policy(scn, r, where, all_policies[k]))) return st;
    } else if ((st = add_policy(scn, r, where, p->valuestring))) {
      return st;
    }
  }
  if (!scn->npolicies) return fail(r, "policies is empty");
  return DYNRT_OK;
}

dynrt_status dynrt_scn_parse(const char *json, size_t len, const char *path, dynrt_scn **out,
                             char *errbuf, size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!out) return DYNRT_ERR_INVALID_ARG;
  *out = NULL;
  reader r = {path ? path : "(scenario)", errbuf, errlen};
  if (!json) return fail(&r, "no text");
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  if (!root) {
    size_t off = end && end >= json ? (size_t)(end - json) : 0;
    size_t line = 1;
    for (size_t i = 0; i < off && i < len; i++) line += json[i] == '\n';
    return fail(&r, "not valid JSON (near byte %zu, line %zu)", off, line);
  }
  dynrt_scn *scn = dynrt__calloc(1, sizeof *scn);
  if (!scn) {
    cJSON_Delete(root);
    fail(&r, "out of memory");
    return DYNRT_ERR_NOMEM;
  }
  snprintf(scn->path, sizeof scn->path, "%s", r.file);
  dynrt_status st = read_root(scn, &r, root);
  cJSON_Delete(root);
  if (st) {
    dynrt__free(scn);
    return st;
  }
  *out = scn;
  return DYNRT_OK;
}

dynrt_status dynrt_scn_load(const char *path, dynrt_scn **out, char *errbuf, size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!out || !path) return DYNRT_ERR_INVALID_ARG;
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errbuf) snprintf(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
    return DYNRT_ERR_IO;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      size_t ncap = cap ? 2 * cap : 65536;
      if (ncap > ((size_t)16 << 20)) {
        fclose(f);
        dynrt__free(buf);
        if (errbuf) snprintf(errbuf, errlen, "%s: larger than 16 MiB", path);
        return DYNRT_ERR_FORMAT;
      }
      char *nb = dynrt__realloc(buf, cap, ncap);
      if (!nb) {
        fclose(f);
        dynrt__free(buf);
        if (errbuf) snprintf(errbuf, errlen, "%s: out of memory reading it", path);
        return DYNRT_ERR_NOMEM;
      }
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    dynrt__free(buf);
    if (errbuf) snprintf(errbuf, errlen, "%s: read error", path);
    return DYNRT_ERR_IO;
  }
  dynrt_status st = dynrt_scn_parse(buf, len, path, out, errbuf, errlen);
  dynrt__free(buf);
  return st;
}

void dynrt_scn_free(dynrt_scn *scn) { dynrt__free(scn); }

static int domain_index(dynrt_platform *p, const char *name) {
  const dynrt_platform_info *in = dynrt_platform_get_info(p);
  for (int d = 0; d < in->ndomains; d++)
    if (!strcmp(dynrt_platform_domain(p, d)->name, name)) return d;
  return -1;
}

static void domain_list(dynrt_platform *p, char *buf, size_t size) {
  const dynrt_platform_info *in = dynrt_platform_get_info(p);
  buf[0] = '\0';
  for (int d = 0; d < in->ndomains; d++) {
    size_t n = strlen(buf);
    snprintf(buf + n, size - n, "%s%s", d ? ", " : "", dynrt_platform_domain(p, d)->name);
  }
}

dynrt_status dynrt_scn_check_platform(const dynrt_scn *scn, dynrt_platform *p, char *errbuf,
                                      size_t errlen) {
  reader r = {scn->path, errbuf, errlen};
  const dynrt_platform_info *in = dynrt_platform_get_info(p);
  uint64_t all = in->ncpus >= 64 ? ~0ull : (1ull << in->ncpus) - 1;
  char doms[256];
  domain_list(p, doms, sizeof doms);
  for (int i = 0; i < scn->nevents; i++) {
    const dynrt_scn_event *e = &scn->events[i];
    if ((e->kind == DYNRT_SCN_EV_LOAD || e->kind == DYNRT_SCN_EV_TAKE) && (e->cpu_mask & ~all))
      return fail(&r, "event at %.3f s: cpus 0x%llx name CPUs beyond %d of platform '%s'",
                  (double)e->at_ns * 1e-9, (unsigned long long)e->cpu_mask, in->ncpus - 1,
                  in->name);
    if ((e->kind == DYNRT_SCN_EV_LOAD && e->domain[0]) || e->kind == DYNRT_SCN_EV_CAP) {
      int d = domain_index(p, e->domain);
      if (d < 0)
        return fail(&r, "event at %.3f s: domain = '%s': platform '%s' has no such domain (%s)",
                    (double)e->at_ns * 1e-9, e->domain, in->name, doms);
      if (e->kind == DYNRT_SCN_EV_LOAD && dynrt_platform_domain(p, d)->kind != DYNRT_DOMAIN_GPU)
        return fail(&r,
                    "event at %.3f s: load on domain '%s': only GPU domains take a job load; "
                    "load CPUs with \"cpus\"",
                    (double)e->at_ns * 1e-9, e->domain);
    }
    if (e->kind == DYNRT_SCN_EV_MODE) {
      if (!in->simulated)
        return fail(&r, "event at %.3f s: mode '%s' needs a simulated board",
                    (double)e->at_ns * 1e-9, e->mode);
      int found = 0;
      for (int m = 0; m < dynrt_sim_mode_count(p) && !found; m++)
        found = !strcmp(dynrt_sim_mode_name(p, m), e->mode);
      if (!found)
        return fail(&r, "event at %.3f s: mode = '%s': platform '%s' has no such mode",
                    (double)e->at_ns * 1e-9, e->mode, in->name);
    }
  }
  return DYNRT_OK;
}

/* oplib_json.c - the JSON form of an operating-point library (docs/formats.md,
 * "Operating-point library"): reading with a message naming the field path and the value of
 * anything malformed, and writing with exact numbers. Consistency checks are finalize's
 * (oplib.c), so a file and a library built in memory are validated the same way. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "offline/oplib_int.h"

/* ---- JSON reader ---- */

typedef struct reader {
  dynrt_oplib *lib;
  char path[160]; /* field path being read, for messages */
} reader;

static dynrt_status rerr(reader *r, const char *what) {
  return dynrt__seterr(&r->lib->err, DYNRT_ERR_FORMAT, "%s: %s %s", dynrt__oplib_pfx(r->lib),
                       r->path, what);
}

/* Number field. required: missing is an error; otherwise *out keeps its default. */
static dynrt_status get_num(reader *r, const cJSON *obj, const char *key, int required,
                            double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  size_t n = strlen(r->path);
  snprintf(r->path + n, sizeof r->path - n, ".%s", key);
  dynrt_status st = DYNRT_OK;
  if (!v) {
    if (required) st = rerr(r, "is missing");
  } else if (!cJSON_IsNumber(v)) {
    st = rerr(r, "must be a number");
  } else {
    *out = v->valuedouble;
  }
  r->path[n] = '\0';
  return st;
}

/* Non-negative integer field below 2^53 (exact in a double). */
static dynrt_status get_uint(reader *r, const cJSON *obj, const char *key, int required,
                             uint64_t *out) {
  double d = -1;
  dynrt_status st = get_num(r, obj, key, required, &d);
  if (st || d == -1) return st;
  if (!(d >= 0 && d <= 9007199254740992.0 && d == floor(d))) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, ".%s = %g", key, d);
    return rerr(r, "(must be a non-negative integer)");
  }
  *out = (uint64_t)d;
  return DYNRT_OK;
}

static dynrt_status get_str(reader *r, const cJSON *obj, const char *key, int required,
                            const char **out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  size_t n = strlen(r->path);
  snprintf(r->path + n, sizeof r->path - n, ".%s", key);
  dynrt_status st = DYNRT_OK;
  if (!v) {
    if (required) st = rerr(r, "is missing");
  } else if (!cJSON_IsString(v) || strlen(v->valuestring) > OPLIB_MAX_STR) {
    st = rerr(r, "must be a string (at most 4096 bytes)");
  } else {
    *out = v->valuestring;
  }
  r->path[n] = '\0';
  return st;
}

static const cJSON *get_obj(reader *r, const cJSON *obj, const char *key, int required,
                            dynrt_status *st) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  *st = DYNRT_OK;
  if (!v) {
    if (required) {
      size_t n = strlen(r->path);
      snprintf(r->path + n, sizeof r->path - n, ".%s", key);
      *st = rerr(r, "is missing");
    }
    return NULL;
  }
  if (!cJSON_IsObject(v)) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, ".%s", key);
    *st = rerr(r, "must be an object");
    return NULL;
  }
  return v;
}

static const cJSON *get_arr(reader *r, const cJSON *root, const char *key, int required,
                            dynrt_status *st) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  *st = DYNRT_OK;
  snprintf(r->path, sizeof r->path, "%s", key);
  if (!v) {
    if (required) *st = rerr(r, "is missing");
    return NULL;
  }
  if (!cJSON_IsArray(v)) {
    *st = rerr(r, "must be an array");
    return NULL;
  }
  return v;
}

static dynrt_status set_domain(reader *r, const char *src, char dst[32]) {
  if (strlen(src) >= 32) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, ".domain '%.40s'", src);
    return rerr(r, "is longer than 31 bytes");
  }
  strcpy(dst, src);
  return DYNRT_OK;
}

static dynrt_status read_subnet(reader *r, const cJSON *o) {
  dynrt_oplib_subnet s = {.test_top1 = -1, .compute_ns = -1, .memory_ns = -1};
  const char *id = NULL;
  dynrt_status st;
  if (!cJSON_IsObject(o)) return rerr(r, "must be an object");
  if ((st = get_str(r, o, "config", 1, &s.config)) || (st = get_str(r, o, "id", 1, &id)) ||
      (st = get_uint(r, o, "macs", 1, &s.macs)) || (st = get_uint(r, o, "params", 1, &s.params)) ||
      (st = get_str(r, o, "bn_table", 0, &s.bn_table)))
    return st;
  size_t idlen = strlen(id);
  if (idlen == 0 || idlen > 16 || !dynrt__oplib_is_hex(id, idlen)) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, ".id = '%.40s'", id);
    return rerr(r, "(must be 1 to 16 hex digits)");
  }
  s.id = strtoull(id, NULL, 16);
  size_t n = strlen(r->path);
  const cJSON *val = get_obj(r, o, "val", 1, &st);
  if (st) return st;
  strcat(r->path, ".val");
  if ((st = get_num(r, val, "top1", 1, &s.val_top1)) ||
      (st = get_uint(r, val, "images", 1, &s.val_images)))
    return st;
  r->path[n] = '\0';
  const cJSON *test = get_obj(r, o, "test", 0, &st);
  if (st) return st;
  if (test) {
    strcat(r->path, ".test");
    if ((st = get_num(r, test, "top1", 1, &s.test_top1)) ||
        (st = get_uint(r, test, "images", 1, &s.test_images)))
      return st;
    r->path[n] = '\0';
    /* Checked here: a negative value would otherwise read as "absent". */
    if (!(s.test_top1 >= 0 && s.test_top1 <= 1)) {
      snprintf(r->path + n, sizeof r->path - n, ".test.top1 = %g", s.test_top1);
      return rerr(r, "(must be in [0,1])");
    }
  }
  const cJSON *work = get_obj(r, o, "work", 0, &st);
  if (st) return st;
  if (work) {
    strcat(r->path, ".work");
    if ((st = get_num(r, work, "compute_ns", 1, &s.compute_ns)) ||
        (st = get_num(r, work, "memory_ns", 1, &s.memory_ns)))
      return st;
    r->path[n] = '\0';
    if (s.compute_ns < 0 || s.memory_ns < 0) {
      snprintf(r->path + n, sizeof r->path - n, ".work = {compute_ns %g, memory_ns %g}",
               s.compute_ns, s.memory_ns);
      return rerr(r, "(must be >= 0)");
    }
  }
  return dynrt_oplib_add_subnet(r->lib, &s, NULL);
}

static dynrt_status read_setting(reader *r, const cJSON *o) {
  dynrt_oplib_setting s = {{0}, 0, 0};
  const char *dom = NULL;
  uint64_t khz = 0, cores = 0;
  dynrt_status st;
  if (!cJSON_IsObject(o)) return rerr(r, "must be an object");
  if ((st = get_str(r, o, "domain", 1, &dom)) || (st = get_uint(r, o, "khz", 1, &khz)) ||
      (st = get_uint(r, o, "cores", 1, &cores)) || (st = set_domain(r, dom, s.domain)))
    return st;
  if (khz > UINT32_MAX || cores > 64) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, " {khz %llu, cores %llu}", (unsigned long long)khz,
             (unsigned long long)cores);
    return rerr(r, "out of range (khz < 2^32, cores <= 64)");
  }
  s.khz = (uint32_t)khz;
  s.cores = (int)cores;
  return dynrt_oplib_add_setting(r->lib, &s, NULL);
}

static dynrt_status read_index(reader *r, const cJSON *o, const char *key, int *out) {
  double d = 0;
  dynrt_status st = get_num(r, o, key, 1, &d);
  if (st) return st;
  if (!(d == floor(d) && fabs(d) < 1e9)) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, ".%s = %g", key, d);
    return rerr(r, "(must be an integer index)");
  }
  *out = (int)d;
  return DYNRT_OK;
}

static dynrt_status read_point(reader *r, const cJSON *o) {
  dynrt_oplib_point p = {0};
  dynrt_status st;
  if (!cJSON_IsObject(o)) return rerr(r, "must be an object");
  if ((st = read_index(r, o, "subnet", &p.subnet)) ||
      (st = read_index(r, o, "setting", &p.setting)))
    return st;
  size_t n = strlen(r->path);
  const cJSON *lat = get_obj(r, o, "latency_ms", 1, &st);
  if (st) return st;
  strcat(r->path, ".latency_ms");
  if ((st = get_num(r, lat, "mean", 1, &p.latency_mean_ms)) ||
      (st = get_num(r, lat, "p50", 0, &p.latency_p50_ms)) ||
      (st = get_num(r, lat, "p95", 0, &p.latency_p95_ms)))
    return st;
  r->path[n] = '\0';
  /* Zero means "absent" in the struct; a zero written in the file is a bad value. */
  const char *zero_key = NULL;
  if (cJSON_GetObjectItemCaseSensitive(lat, "p50") && p.latency_p50_ms == 0) zero_key = "p50";
  if (cJSON_GetObjectItemCaseSensitive(lat, "p95") && p.latency_p95_ms == 0) zero_key = "p95";
  if (zero_key) {
    snprintf(r->path + n, sizeof r->path - n, ".latency_ms.%s = 0", zero_key);
    return rerr(r, "(must be > 0)");
  }
  if ((st = get_num(r, o, "energy_mj", 0, &p.energy_mj)) ||
      (st = get_num(r, o, "power_w", 0, &p.power_w)))
    return st;
  const char *bad = NULL;
  if (cJSON_GetObjectItemCaseSensitive(o, "energy_mj") && p.energy_mj <= 0) bad = "energy_mj";
  if (cJSON_GetObjectItemCaseSensitive(o, "power_w") && p.power_w <= 0) bad = "power_w";
  if (bad) {
    snprintf(r->path + n, sizeof r->path - n, ".%s = %g", bad,
             bad[0] == 'e' ? p.energy_mj : p.power_w);
    return rerr(r, "(must be > 0)");
  }
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "modelled");
  if (m && !cJSON_IsBool(m)) {
    strcat(r->path, ".modelled");
    return rerr(r, "must be true or false");
  }
  p.modelled = m && cJSON_IsTrue(m);
  return dynrt_oplib_add_point(r->lib, &p);
}

static dynrt_status read_idle(reader *r, const cJSON *o) {
  dynrt_oplib_idle d = {{0}, 0, 0};
  const char *dom = NULL;
  uint64_t khz = 0;
  dynrt_status st;
  if (!cJSON_IsObject(o)) return rerr(r, "must be an object");
  if ((st = get_str(r, o, "domain", 1, &dom)) || (st = get_uint(r, o, "khz", 1, &khz)) ||
      (st = get_num(r, o, "watts", 1, &d.watts)) || (st = set_domain(r, dom, d.domain)))
    return st;
  if (khz > UINT32_MAX) return rerr(r, "khz out of range");
  d.khz = (uint32_t)khz;
  if (d.watts < 0) {
    size_t n = strlen(r->path);
    snprintf(r->path + n, sizeof r->path - n, ".watts = %g", d.watts);
    return rerr(r, "(must be >= 0)");
  }
  return dynrt_oplib_add_idle(r->lib, &d);
}

static dynrt_status read_pareto(reader *r, const cJSON *o, int index) {
  dynrt_oplib *lib = r->lib;
  dynrt_status st;
  int setting = 0;
  if (!cJSON_IsObject(o)) return rerr(r, "must be an object");
  if ((st = read_index(r, o, "setting", &setting))) return st;
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "subnets");
  if (!cJSON_IsArray(arr)) {
    strcat(r->path, ".subnets");
    return rerr(r, "must be an array of sub-network indices");
  }
  if (dynrt__oplib_grow((void **)&lib->fpareto, &lib->cap_fpareto, lib->nfpareto,
                        sizeof *lib->fpareto))
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", dynrt__oplib_pfx(lib));
  file_pareto *fp = &lib->fpareto[lib->nfpareto];
  int count = cJSON_GetArraySize(arr);
  *fp = (file_pareto){setting, 0, dynrt__malloc(((size_t)count + 1) * sizeof(int)), index};
  if (!fp->subnets)
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", dynrt__oplib_pfx(lib));
  lib->nfpareto++;
  const cJSON *x;
  cJSON_ArrayForEach(x, arr) {
    if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) ||
        fabs(x->valuedouble) > 1e9) {
      size_t n = strlen(r->path);
      snprintf(r->path + n, sizeof r->path - n, ".subnets[%d]", fp->count);
      return rerr(r, "must be an integer index");
    }
    fp->subnets[fp->count++] = (int)x->valuedouble;
  }
  return DYNRT_OK;
}

typedef dynrt_status (*item_fn)(reader *r, const cJSON *o);

static dynrt_status read_array(reader *r, const cJSON *root, const char *key, int required,
                               item_fn fn) {
  dynrt_status st;
  const cJSON *arr = get_arr(r, root, key, required, &st);
  if (!arr) return st;
  int i = 0;
  const cJSON *x;
  cJSON_ArrayForEach(x, arr) {
    snprintf(r->path, sizeof r->path, "%s[%d]", key, i);
    if ((st = fn(r, x))) return st;
    i++;
  }
  return DYNRT_OK;
}

static dynrt_status read_root(reader *r, const cJSON *root, dynrt_oplib **libp) {
  dynrt_oplib *lib = *libp;
  dynrt_status st;
  const char *format = NULL, *name = NULL, *file = "", *sha = NULL, *platform = "";
  double version = 0;
  snprintf(r->path, sizeof r->path, "(root)");
  if (!cJSON_IsObject(root)) return rerr(r, "must be a JSON object");
  if ((st = get_str(r, root, "format", 1, &format))) return st;
  if (strcmp(format, DYNRT_OPLIB_FORMAT)) {
    snprintf(r->path, sizeof r->path, "format = '%.60s'", format);
    return rerr(r, "(expected '" DYNRT_OPLIB_FORMAT "')");
  }
  if ((st = get_num(r, root, "version", 1, &version))) return st;
  if (version != DYNRT_OPLIB_VERSION) {
    snprintf(r->path, sizeof r->path, "version = %g", version);
    return dynrt__seterr(&lib->err, DYNRT_ERR_UNSUPPORTED, "%s: %s (this reader knows %d)",
                         dynrt__oplib_pfx(lib), r->path, DYNRT_OPLIB_VERSION);
  }
  const cJSON *model = get_obj(r, root, "model", 1, &st);
  if (st) return st;
  snprintf(r->path, sizeof r->path, "model");
  if ((st = get_str(r, model, "name", 1, &name)) || (st = get_str(r, model, "file", 0, &file)) ||
      (st = get_str(r, model, "sha256", 0, &sha)))
    return st;
  snprintf(r->path, sizeof r->path, "(root)");
  if ((st = get_str(r, root, "platform", 0, &platform))) return st;
  if (!*name) {
    snprintf(r->path, sizeof r->path, "model.name");
    return rerr(r, "is empty");
  }
  /* The object was created with placeholders so that messages have a home; fill it now. */
  char *n1 = dynrt__strdup(name), *n2 = dynrt__strdup(file), *n3 = dynrt__strdup(platform);
  if (!n1 || !n2 || !n3) {
    dynrt__free(n1);
    dynrt__free(n2);
    dynrt__free(n3);
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory", dynrt__oplib_pfx(lib));
  }
  dynrt__free(lib->model_name);
  dynrt__free(lib->model_file);
  dynrt__free(lib->platform);
  lib->model_name = n1;
  lib->model_file = n2;
  lib->platform = n3;
  if (sha && (st = dynrt_oplib_set_model_sha256(lib, sha))) return st;
  if ((st = read_array(r, root, "subnets", 1, read_subnet)) ||
      (st = read_array(r, root, "settings", 1, read_setting)) ||
      (st = read_array(r, root, "points", 1, read_point)) ||
      (st = read_array(r, root, "idle", 0, read_idle)))
    return st;
  const cJSON *par = get_arr(r, root, "pareto", 0, &st);
  if (st) return st;
  if (par) {
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, par) {
      snprintf(r->path, sizeof r->path, "pareto[%d]", i);
      if ((st = read_pareto(r, x, i))) return st;
      i++;
    }
  }
  return dynrt_oplib_finalize(lib);
}

static void copy_err(char *errbuf, size_t errlen, const char *msg) {
  if (errbuf && errlen) snprintf(errbuf, errlen, "%s", msg);
}

dynrt_status dynrt_oplib_parse(const char *json, size_t len, const char *name, dynrt_oplib **out,
                               char *errbuf, size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!out) return DYNRT_ERR_INVALID_ARG;
  *out = NULL;
  const char *nm = name ? name : "oplib";
  if (!json) {
    copy_err(errbuf, errlen, "oplib: NULL text");
    return DYNRT_ERR_INVALID_ARG;
  }
  dynrt_oplib *lib = NULL;
  dynrt_status st = dynrt_oplib_create("?", NULL, NULL, &lib);
  if (st) {
    copy_err(errbuf, errlen, "oplib: out of memory");
    return st;
  }
  lib->name = nm;
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    long off = at && at >= json && at <= json + len ? (long)(at - json) : -1;
    st = dynrt__seterr(&lib->err, DYNRT_ERR_FORMAT, "%s: not valid JSON (near byte %ld)", nm, off);
  } else {
    reader r = {lib, {0}};
    st = read_root(&r, root, &lib);
    cJSON_Delete(root);
  }
  if (st) {
    copy_err(errbuf, errlen, dynrt__errmsg(&lib->err));
    dynrt_oplib_destroy(lib);
    return st;
  }
  lib->name = NULL;
  *out = lib;
  return DYNRT_OK;
}

dynrt_status dynrt_oplib_load(const char *path, dynrt_oplib **out, char *errbuf, size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!out) return DYNRT_ERR_INVALID_ARG;
  *out = NULL;
  if (!path) {
    copy_err(errbuf, errlen, "oplib: NULL path");
    return DYNRT_ERR_INVALID_ARG;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errbuf) snprintf(errbuf, errlen, "%s: cannot open (%s)", path, strerror(errno));
    return DYNRT_ERR_IO;
  }
  char *buf = NULL;
  dynrt_status st = DYNRT_OK;
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
    if (errbuf) snprintf(errbuf, errlen, "%s: cannot determine the size", path);
    st = DYNRT_ERR_IO;
  } else if ((unsigned long)size > OPLIB_MAX_FILE) {
    if (errbuf) snprintf(errbuf, errlen, "%s: %ld bytes, more than %u", path, size, OPLIB_MAX_FILE);
    st = DYNRT_ERR_FORMAT;
  } else if (!(buf = dynrt__malloc((size_t)size + 1))) {
    copy_err(errbuf, errlen, "oplib: out of memory");
    st = DYNRT_ERR_NOMEM;
  } else if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
    if (errbuf) snprintf(errbuf, errlen, "%s: short read", path);
    st = DYNRT_ERR_IO;
  }
  fclose(f);
  if (st == DYNRT_OK) {
    const char *base = strrchr(path, '/');
    st = dynrt_oplib_parse(buf, (size_t)size, base ? base + 1 : path, out, errbuf, errlen);
  }
  dynrt__free(buf);
  return st;
}

/* ---- JSON writer ---- */

static cJSON *add_obj(cJSON *parent, const char *key) {
  cJSON *o = cJSON_CreateObject();
  if (o && !cJSON_AddItemToObject(parent, key, o)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* cJSON prints 15 significant digits when its approximate comparison says that is enough,
 * which can lose the last bit; the shortest of 15..17 digits that reads back exactly
 * keeps save/load a true round trip. */
static cJSON *num_exact(cJSON *obj, const char *key, double v) {
  char buf[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  return cJSON_AddRawToObject(obj, key, buf);
}

static int build_json(const dynrt_oplib *lib, cJSON *root) {
  char hex[24];
  if (!cJSON_AddStringToObject(root, "format", DYNRT_OPLIB_FORMAT) ||
      !num_exact(root, "version", DYNRT_OPLIB_VERSION))
    return 0;
  cJSON *model = add_obj(root, "model");
  if (!model || !cJSON_AddStringToObject(model, "name", lib->model_name)) return 0;
  if (lib->model_file[0] && !cJSON_AddStringToObject(model, "file", lib->model_file)) return 0;
  if (lib->model_sha256 && !cJSON_AddStringToObject(model, "sha256", lib->model_sha256)) return 0;
  if (!cJSON_AddStringToObject(root, "platform", lib->platform)) return 0;
  cJSON *arr = cJSON_AddArrayToObject(root, "subnets");
  if (!arr) return 0;
  for (int i = 0; i < lib->nsubnets; i++) {
    const dynrt_oplib_subnet *s = &lib->subnets[i];
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o)) return 0;
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)s->id);
    if (!cJSON_AddStringToObject(o, "config", s->config) ||
        !cJSON_AddStringToObject(o, "id", hex) || !num_exact(o, "macs", (double)s->macs) ||
        !num_exact(o, "params", (double)s->params))
      return 0;
    cJSON *v = add_obj(o, "val");
    if (!v || !num_exact(v, "top1", s->val_top1) || !num_exact(v, "images", (double)s->val_images))
      return 0;
    if (s->test_top1 >= 0) {
      cJSON *t = add_obj(o, "test");
      if (!t || !num_exact(t, "top1", s->test_top1) ||
          !num_exact(t, "images", (double)s->test_images))
        return 0;
    }
    if (s->bn_table && !cJSON_AddStringToObject(o, "bn_table", s->bn_table)) return 0;
    if (s->compute_ns >= 0) {
      cJSON *w = add_obj(o, "work");
      if (!w || !num_exact(w, "compute_ns", s->compute_ns) ||
          !num_exact(w, "memory_ns", s->memory_ns))
        return 0;
    }
  }
  if (!(arr = cJSON_AddArrayToObject(root, "settings"))) return 0;
  for (int i = 0; i < lib->nsettings; i++) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o) ||
        !cJSON_AddStringToObject(o, "domain", lib->settings[i].domain) ||
        !num_exact(o, "khz", lib->settings[i].khz) ||
        !num_exact(o, "cores", lib->settings[i].cores))
      return 0;
  }
  if (lib->nidle) {
    if (!(arr = cJSON_AddArrayToObject(root, "idle"))) return 0;
    for (int i = 0; i < lib->nidle; i++) {
      cJSON *o = cJSON_CreateObject();
      if (!o || !cJSON_AddItemToArray(arr, o) ||
          !cJSON_AddStringToObject(o, "domain", lib->idle[i].domain) ||
          !num_exact(o, "khz", lib->idle[i].khz) || !num_exact(o, "watts", lib->idle[i].watts))
        return 0;
    }
  }
  if (!(arr = cJSON_AddArrayToObject(root, "points"))) return 0;
  for (int i = 0; i < lib->npoints; i++) {
    const dynrt_oplib_point *p = &lib->points[i];
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o) || !num_exact(o, "subnet", p->subnet) ||
        !num_exact(o, "setting", p->setting))
      return 0;
    cJSON *l = add_obj(o, "latency_ms");
    if (!l || !num_exact(l, "mean", p->latency_mean_ms) ||
        !num_exact(l, "p50", p->latency_p50_ms) || !num_exact(l, "p95", p->latency_p95_ms) ||
        !num_exact(o, "energy_mj", p->energy_mj) || !num_exact(o, "power_w", p->power_w) ||
        !cJSON_AddBoolToObject(o, "modelled", p->modelled))
      return 0;
  }
  if (!(arr = cJSON_AddArrayToObject(root, "pareto"))) return 0;
  for (int s = 0; s < lib->nsettings; s++) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o) || !num_exact(o, "setting", s)) return 0;
    cJSON *list = cJSON_AddArrayToObject(o, "subnets");
    if (!list) return 0;
    for (int j = lib->pareto_off[s]; j < lib->pareto_off[s + 1]; j++) {
      cJSON *n = cJSON_CreateNumber(lib->pareto[j]); /* small integer: exact */
      if (!n || !cJSON_AddItemToArray(list, n)) return 0;
    }
  }
  return 1;
}

dynrt_status dynrt_oplib_save(const dynrt_oplib *lib_c, const char *path) {
  dynrt_oplib *lib = (dynrt_oplib *)lib_c; /* only the message changes */
  if (!lib) return DYNRT_ERR_INVALID_ARG;
  if (!path) return dynrt__seterr(&lib->err, DYNRT_ERR_INVALID_ARG, "oplib: save: NULL path");
  if (!lib->finalized)
    return dynrt__seterr(&lib->err, DYNRT_ERR_STATE, "%s: save before finalize", path);
  cJSON *root = cJSON_CreateObject();
  char *text = NULL;
  if (!root || !build_json(lib, root) || !(text = cJSON_Print(root))) {
    cJSON_Delete(root);
    return dynrt__seterr(&lib->err, DYNRT_ERR_NOMEM, "%s: out of memory building JSON", path);
  }
  cJSON_Delete(root);
  dynrt_status st = DYNRT_OK;
  FILE *f = fopen(path, "wb");
  if (!f) {
    st = dynrt__seterr(&lib->err, DYNRT_ERR_IO, "%s: cannot create (%s)", path, strerror(errno));
  } else {
    size_t n = strlen(text);
    int bad = fwrite(text, 1, n, f) != n || fputc('\n', f) == EOF;
    if (fclose(f) != 0 || bad)
      st = dynrt__seterr(&lib->err, DYNRT_ERR_IO, "%s: write failed (%s)", path, strerror(errno));
  }
  cJSON_free(text);
  return st;
}

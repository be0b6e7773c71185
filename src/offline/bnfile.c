/*
 * bnfile.c - the BN-table sidecar (`MODEL.bn.safetensors`, docs/formats.md "BN tables"):
 * per-sub-network BatchNorm scale/shift arrays in a safetensors file whose metadata lists
 * the sub-networks. Reads validate everything against the model; writes are atomic.
 * It stores tables; it does not compute them (calib.c does).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "engine/engine_int.h"
#include "offline/offline_int.h"

#define fail dynrt__offline_fail
#define BN_FORMAT "1"
#define HEADER_MAX (16u << 20)

typedef struct entry {
  dynrt_bn_table *table;
  uint64_t images;
} entry;

struct dynrt_bn_file {
  const dynrt_model *model;
  char *note;
  size_t n, cap;
  entry *e;
};

void dynrt_bn_key(const dynrt_model *model, const dynrt_subnet *cfg, char key[17]) {
  snprintf(key, 17, "%016llx", (unsigned long long)dynrt_subnet_id(model, cfg));
}

dynrt_status dynrt_bn_file_create(const dynrt_model *model, const char *note, dynrt_bn_file **out,
                                  dynrt_error *err) {
  if (out) *out = NULL;
  if (!model || !out) return fail(err, DYNRT_ERR_INVALID_ARG, "bn file: NULL argument");
  dynrt_bn_file *f = dynrt__calloc(1, sizeof *f);
  if (!f || (note && !(f->note = dynrt__strdup(note)))) {
    dynrt__free(f);
    return fail(err, DYNRT_ERR_NOMEM, "bn file: no memory");
  }
  f->model = model;
  *out = f;
  return DYNRT_OK;
}

void dynrt_bn_file_destroy(dynrt_bn_file *f) {
  if (!f) return;
  for (size_t i = 0; i < f->n; i++) dynrt_bn_table_destroy(f->e[i].table);
  dynrt__free(f->e);
  dynrt__free(f->note);
  dynrt__free(f);
}

size_t dynrt_bn_file_count(const dynrt_bn_file *f) { return f ? f->n : 0; }

const dynrt_bn_table *dynrt_bn_file_at(const dynrt_bn_file *f, size_t i) {
  return f && i < f->n ? f->e[i].table : NULL;
}

const dynrt_bn_table *dynrt_bn_file_find(const dynrt_bn_file *f, const dynrt_subnet *cfg) {
  if (!f || !cfg) return NULL;
  for (size_t i = 0; i < f->n; i++)
    if (dynrt_subnet_equal(f->model, dynrt_bn_table_subnet(f->e[i].table), cfg))
      return f->e[i].table;
  return NULL;
}

dynrt_status dynrt_bn_file_put(dynrt_bn_file *f, dynrt_bn_table *table, uint64_t images,
                               dynrt_error *err) {
  if (!f || !table) return fail(err, DYNRT_ERR_INVALID_ARG, "bn file: NULL argument");
  const dynrt_subnet *cfg = dynrt_bn_table_subnet(table);
  for (size_t i = 0; i < f->n; i++)
    if (dynrt_subnet_equal(f->model, dynrt_bn_table_subnet(f->e[i].table), cfg)) {
      dynrt_bn_table_destroy(f->e[i].table);
      f->e[i].table = table;
      f->e[i].images = images;
      return DYNRT_OK;
    }
  if (f->n == f->cap) {
    size_t nc = f->cap ? 2 * f->cap : 16;
    entry *ne = dynrt__realloc(f->e, f->cap * sizeof *ne, nc * sizeof *ne);
    if (!ne) return fail(err, DYNRT_ERR_NOMEM, "bn file: no memory");
    f->e = ne;
    f->cap = nc;
  }
  f->e[f->n].table = table;
  f->e[f->n].images = images;
  f->n++;
  return DYNRT_OK;
}

/* Writes n bytes or fails. */
static int put(FILE *fp, const void *p, size_t n) { return fwrite(p, 1, n, fp) == n ? 0 : -1; }

dynrt_status dynrt_bn_file_save(const dynrt_bn_file *f, const char *path, dynrt_error *err) {
  if (!f || !path) return fail(err, DYNRT_ERR_INVALID_ARG, "bn file: NULL argument");
  const dynrt_model *m = f->model;
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  cJSON *hdr = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(hdr, "__metadata__");
  cJSON *list = cJSON_CreateArray();
  char *list_text = NULL, *text = NULL, *tmp = NULL;
  FILE *fp = NULL;
  dynrt_status st = DYNRT_OK;
  cJSON_AddStringToObject(meta, "dynrt.bn_format", BN_FORMAT);
  cJSON_AddStringToObject(meta, "dynrt.model", info.name);
  if (f->note) cJSON_AddStringToObject(meta, "dynrt.note", f->note);
  uint64_t off = 0;
  for (size_t i = 0; i < f->n; i++) {
    const dynrt_subnet *cfg = dynrt_bn_table_subnet(f->e[i].table);
    char key[17], cs[DYNRT_SUBNET_STR_MAX], name[40];
    size_t layers, total;
    dynrt_bn_key(m, cfg, key);
    dynrt_subnet_format(m, cfg, cs, sizeof cs, NULL);
    dynrt_bn_layout(m, cfg, NULL, 0, &layers, &total, NULL);
    cJSON *it = cJSON_CreateObject();
    cJSON_AddStringToObject(it, "key", key);
    cJSON_AddStringToObject(it, "config", cs);
    cJSON_AddNumberToObject(it, "images", (double)f->e[i].images);
    cJSON_AddNumberToObject(it, "layers", (double)layers);
    cJSON_AddNumberToObject(it, "channels", (double)total);
    cJSON_AddItemToArray(list, it);
    for (int part = 0; part < 2; part++) {
      snprintf(name, sizeof name, "%s.%s", key, part ? "shift" : "scale");
      cJSON *t = cJSON_AddObjectToObject(hdr, name);
      cJSON_AddStringToObject(t, "dtype", "F32");
      cJSON *shape = cJSON_AddArrayToObject(t, "shape");
      cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)total));
      cJSON *offs = cJSON_AddArrayToObject(t, "data_offsets");
      cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
      off += 4 * (uint64_t)total;
      cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
    }
  }
  list_text = cJSON_PrintUnformatted(list);
  if (!list_text) {
    st = fail(err, DYNRT_ERR_NOMEM, "bn file: no memory");
    goto done;
  }
  cJSON_AddStringToObject(meta, "dynrt.tables", list_text);
  text = cJSON_PrintUnformatted(hdr);
  tmp = dynrt__malloc(strlen(path) + 8);
  if (!text || !tmp) {
    st = fail(err, DYNRT_ERR_NOMEM, "bn file: no memory");
    goto done;
  }
  sprintf(tmp, "%s.tmp", path);
  size_t hl = strlen(text), padded = DYNRT_ROUND_UP(hl, 8);
  fp = fopen(tmp, "wb");
  if (!fp) {
    st = fail(err, DYNRT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    goto done;
  }
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
  int bad = put(fp, len8, 8) || put(fp, text, hl) || put(fp, "        ", padded - hl);
  for (size_t i = 0; i < f->n && !bad; i++) {
    const dynrt_bn_table *t = f->e[i].table;
    size_t total;
    dynrt_bn_layout(m, dynrt_bn_table_subnet(t), NULL, 0, NULL, &total, NULL);
    /* little-endian hosts only write raw floats (dynrt targets x86-64 and AArch64) */
    bad = put(fp, t->scale, total * sizeof(float)) || put(fp, t->shift, total * sizeof(float));
  }
  if (fclose(fp) != 0) bad = 1;
  fp = NULL;
  if (bad) {
    remove(tmp);
    st = fail(err, DYNRT_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    goto done;
  }
  if (rename(tmp, path) != 0) {
    remove(tmp);
    st = fail(err, DYNRT_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
  }
done:
  if (fp) fclose(fp);
  dynrt__free(tmp);
  cJSON_free(text);
  cJSON_free(list_text);
  cJSON_Delete(list);
  cJSON_Delete(hdr);
  return st;
}

/* The [begin, end) byte range of a named F32 tensor of `count` elements, checked. */
static dynrt_status tensor_range(const char *path, const cJSON *hdr, const char *name, size_t count,
                                 size_t data_size, size_t *begin, dynrt_error *err) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(hdr, name);
  if (!cJSON_IsObject(t)) return fail(err, DYNRT_ERR_FORMAT, "%s: tensor '%s' missing", path, name);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(t, "shape");
  const cJSON *of = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
  if (!cJSON_IsString(dt) || strcmp(dt->valuestring, "F32"))
    return fail(err, DYNRT_ERR_FORMAT, "%s: tensor '%s': dtype is not F32", path, name);
  if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) != 1 ||
      !cJSON_IsNumber(cJSON_GetArrayItem(sh, 0)) ||
      cJSON_GetArrayItem(sh, 0)->valuedouble != (double)count)
    return fail(err, DYNRT_ERR_FORMAT, "%s: tensor '%s': shape is not [%zu] (the model's layout)",
                path, name, count);
  if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 ||
      !cJSON_IsNumber(cJSON_GetArrayItem(of, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(of, 1)))
    return fail(err, DYNRT_ERR_FORMAT, "%s: tensor '%s': bad data_offsets", path, name);
  double b = cJSON_GetArrayItem(of, 0)->valuedouble, e = cJSON_GetArrayItem(of, 1)->valuedouble;
  if (b < 0 || e < b || b != floor(b) || e != floor(e) || e > (double)data_size ||
      e - b != 4.0 * (double)count)
    return fail(err, DYNRT_ERR_FORMAT,
                "%s: tensor '%s': data_offsets [%.0f, %.0f] invalid (data section %zu bytes, "
                "need %zu bytes)",
                path, name, b, e, data_size, 4 * count);
  *begin = (size_t)b;
  return DYNRT_OK;
}

dynrt_status dynrt__bn_file_parse(const dynrt_model *model, const unsigned char *buf, size_t size,
                                  const char *path, dynrt_bn_file **out, dynrt_error *err) {
  if (out) *out = NULL;
  if (!model || !buf || !path || !out)
    return fail(err, DYNRT_ERR_INVALID_ARG, "bn file: NULL argument");
  char *htext = NULL;
  float *sc = NULL, *sh = NULL;
  cJSON *hdr = NULL, *list = NULL;
  dynrt_bn_file *f = NULL;
  dynrt_status st = DYNRT_OK;
  if (size < 8) {
    st = fail(err, DYNRT_ERR_FORMAT, "%s: too short for a safetensors file", path);
    goto done;
  }
  uint64_t hl = 0;
  for (int i = 7; i >= 0; i--) hl = hl << 8 | buf[i];
  if (hl > HEADER_MAX || hl > size - 8) {
    st = fail(err, DYNRT_ERR_FORMAT, "%s: header length %llu exceeds the file (%zu bytes)", path,
              (unsigned long long)hl, size);
    goto done;
  }
  htext = dynrt__malloc((size_t)hl + 1);
  if (!htext) {
    st = fail(err, DYNRT_ERR_NOMEM, "%s: no memory", path);
    goto done;
  }
  memcpy(htext, buf + 8, (size_t)hl);
  htext[hl] = 0;
  hdr = cJSON_Parse(htext);
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(hdr, "__metadata__");
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(meta, "dynrt.bn_format");
  const cJSON *mname = cJSON_GetObjectItemCaseSensitive(meta, "dynrt.model");
  const cJSON *tabs = cJSON_GetObjectItemCaseSensitive(meta, "dynrt.tables");
  const cJSON *note = cJSON_GetObjectItemCaseSensitive(meta, "dynrt.note");
  if (!hdr || !cJSON_IsObject(meta) || !cJSON_IsString(fmt) ||
      strcmp(fmt->valuestring, BN_FORMAT) || !cJSON_IsString(tabs)) {
    st = fail(err, DYNRT_ERR_FORMAT,
              "%s: not a dynrt BN-table file (needs JSON header with __metadata__ "
              "'dynrt.bn_format' = '" BN_FORMAT "' and 'dynrt.tables')",
              path);
    goto done;
  }
  dynrt_model_info info;
  dynrt_model_get_info(model, &info);
  if (cJSON_IsString(mname) && strcmp(mname->valuestring, info.name)) {
    st = fail(err, DYNRT_ERR_INVALID_ARG, "%s: tables of model '%s', the model is '%s'", path,
              mname->valuestring, info.name);
    goto done;
  }
  list = cJSON_Parse(tabs->valuestring);
  if (!cJSON_IsArray(list)) {
    st = fail(err, DYNRT_ERR_FORMAT, "%s: 'dynrt.tables' is not a JSON array", path);
    goto done;
  }
  if ((st = dynrt_bn_file_create(model, cJSON_IsString(note) ? note->valuestring : NULL, &f, err)))
    goto done;
  const unsigned char *data = buf + 8 + hl;
  size_t data_size = size - 8 - (size_t)hl;
  int idx = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, list) {
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(it, "key");
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(it, "config");
    const cJSON *im = cJSON_GetObjectItemCaseSensitive(it, "images");
    if (!cJSON_IsString(key) || !cJSON_IsString(cs)) {
      st =
          fail(err, DYNRT_ERR_FORMAT, "%s: tables[%d]: needs string 'key' and 'config'", path, idx);
      goto done;
    }
    dynrt_subnet cfg;
    dynrt_error e2;
    if (dynrt_subnet_parse(model, cs->valuestring, &cfg, &e2)) {
      st = fail(err, DYNRT_ERR_FORMAT, "%s: tables[%d].config: %s", path, idx, e2.msg);
      goto done;
    }
    char want[17];
    dynrt_bn_key(model, &cfg, want);
    if (strcmp(want, key->valuestring)) {
      st = fail(err, DYNRT_ERR_FORMAT, "%s: tables[%d].key = '%s', the config's id is %s", path,
                idx, key->valuestring, want);
      goto done;
    }
    size_t total = 0, bs = 0, bh = 0;
    dynrt_bn_layout(model, &cfg, NULL, 0, NULL, &total, NULL);
    char name[40];
    snprintf(name, sizeof name, "%s.scale", want);
    if ((st = tensor_range(path, hdr, name, total, data_size, &bs, err))) goto done;
    snprintf(name, sizeof name, "%s.shift", want);
    if ((st = tensor_range(path, hdr, name, total, data_size, &bh, err))) goto done;
    sc = dynrt__malloc(total * sizeof(float));
    sh = dynrt__malloc(total * sizeof(float));
    if (!sc || !sh) {
      st = fail(err, DYNRT_ERR_NOMEM, "%s: no memory", path);
      goto done;
    }
    memcpy(sc, data + bs, total * sizeof(float));
    memcpy(sh, data + bh, total * sizeof(float));
    for (size_t c = 0; c < total; c++)
      if (!isfinite(sc[c]) || !isfinite(sh[c])) {
        st = fail(err, DYNRT_ERR_FORMAT, "%s: table %s: entry %zu is not finite", path, want, c);
        goto done;
      }
    dynrt_bn_table *t;
    if ((st = dynrt_bn_table_create(model, &cfg, sc, sh, &t, err))) goto done;
    dynrt__free(sc);
    dynrt__free(sh);
    sc = sh = NULL;
    /* Checked before the conversion: a double beyond 2^64 does not convert (UB). */
    double imgs = im ? (cJSON_IsNumber(im) ? im->valuedouble : -1) : 0;
    if (!(imgs >= 0 && imgs <= 9007199254740992.0 && imgs == floor(imgs))) {
      dynrt_bn_table_destroy(t);
      st = fail(err, DYNRT_ERR_FORMAT,
                "%s: tables[%d].images is not an integer in 0..2^53 (an image count)", path, idx);
      goto done;
    }
    if ((st = dynrt_bn_file_put(f, t, (uint64_t)imgs, err))) {
      dynrt_bn_table_destroy(t);
      goto done;
    }
    idx++;
  }
done:
  dynrt__free(sc);
  dynrt__free(sh);
  dynrt__free(htext);
  cJSON_Delete(hdr);
  cJSON_Delete(list);
  if (st) {
    dynrt_bn_file_destroy(f);
    return st;
  }
  *out = f;
  return DYNRT_OK;
}

dynrt_status dynrt_bn_file_load(const dynrt_model *model, const char *path, dynrt_bn_file **out,
                                dynrt_error *err) {
  if (out) *out = NULL;
  if (!model || !path || !out) return fail(err, DYNRT_ERR_INVALID_ARG, "bn file: NULL argument");
  FILE *fp = fopen(path, "rb");
  if (!fp) return fail(err, DYNRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  unsigned char *buf = NULL;
  dynrt_status st = DYNRT_OK;
  struct stat sb;
  if (fstat(fileno(fp), &sb) != 0 || sb.st_size < 8) {
    st = fail(err, DYNRT_ERR_FORMAT, "%s: too short for a safetensors file", path);
    goto done;
  }
  size_t size = (size_t)sb.st_size;
  buf = dynrt__malloc(size);
  if (!buf) {
    st = fail(err, DYNRT_ERR_NOMEM, "%s: no memory for %zu bytes", path, size);
    goto done;
  }
  if (fread(buf, 1, size, fp) != size) {
    st = fail(err, DYNRT_ERR_IO, "%s: short read", path);
    goto done;
  }
  st = dynrt__bn_file_parse(model, buf, size, path, out, err);
done:
  fclose(fp);
  dynrt__free(buf);
  return st;
}

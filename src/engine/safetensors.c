/*
 * safetensors.c - maps a model file and validates its safetensors header: length, JSON
 * bounds, every tensor's dtype, shape and byte range, and overlaps. It trusts nothing in
 * the file and never interprets tensor values (that is model.c's job). The JSON is parsed by
 * cJSON, which allocates with malloc (its hooks are process-wide, so dynrt leaves them alone);
 * only the nesting pre-check keeps its recursion bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "engine/engine_int.h"

int dynrt__json_depth_ok(const char *text, size_t len, int max_depth) {
  int depth = 0, in_str = 0;
  for (size_t i = 0; i < len; i++) {
    char ch = text[i];
    if (in_str) {
      if (ch == '\\')
        i++; /* skip the escaped character */
      else if (ch == '"')
        in_str = 0;
    } else if (ch == '"') {
      in_str = 1;
    } else if (ch == '{' || ch == '[') {
      if (++depth > max_depth) return 0;
    } else if (ch == '}' || ch == ']') {
      depth--;
    }
  }
  return 1;
}

static int tensor_cmp(const void *a, const void *b) {
  return strcmp(((const dynrt__tensor *)a)->name, ((const dynrt__tensor *)b)->name);
}

static int range_cmp(const void *a, const void *b) {
  const dynrt__tensor *x = *(const dynrt__tensor *const *)a;
  const dynrt__tensor *y = *(const dynrt__tensor *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

dynrt__tensor *dynrt__st_find(const dynrt__st_file *f, const char *name) {
  dynrt__tensor key;
  key.name = (char *)name;
  return bsearch(&key, f->tensors, f->n_tensors, sizeof key, tensor_cmp);
}

void dynrt__st_close(dynrt__st_file *f) {
  if (!f) return;
  for (size_t i = 0; i < f->n_tensors; i++) dynrt__free(f->tensors[i].name);
  dynrt__free(f->tensors);
  dynrt__free(f->arch_json);
  if (f->mapped && f->map) munmap((void *)f->map, f->size);
  memset(f, 0, sizeof *f);
}

/* A JSON number that is a non-negative integer no larger than max; 0 on failure. */
static int json_uint(const cJSON *v, uint64_t max, uint64_t *out) {
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  if (!(d >= 0) || d > (double)max || d != floor(d)) return 0;
  *out = (uint64_t)d;
  return 1;
}

/* Parses one tensor entry {"dtype", "shape", "data_offsets"}; data_size bounds offsets. */
static dynrt_status parse_tensor(const dynrt__st_file *f, const cJSON *item, uint64_t data_size,
                                 dynrt__tensor *t, dynrt_err *err) {
  const char *nm = item->string;
  if (!cJSON_IsObject(item))
    return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object",
                         f->path, nm);
  const cJSON *dtype = NULL, *shape = NULL, *offs = NULL, *x;
  cJSON_ArrayForEach(x, item) {
    if (!strcmp(x->string, "dtype") && !dtype)
      dtype = x;
    else if (!strcmp(x->string, "shape") && !shape)
      shape = x;
    else if (!strcmp(x->string, "data_offsets") && !offs)
      offs = x;
    else
      return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                           "%s: tensor '%s': unexpected or repeated field '%s'", f->path, nm,
                           x->string);
  }
  if (!cJSON_IsString(dtype))
    return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: tensor '%s': field 'dtype' missing", f->path,
                         nm);
  if (strcmp(dtype->valuestring, "F32"))
    return dynrt__seterr(err, DYNRT_ERR_UNSUPPORTED,
                         "%s: tensor '%s': dtype '%.32s', dynrt reads only F32", f->path, nm,
                         dtype->valuestring);
  if (!cJSON_IsArray(shape))
    return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: tensor '%s': field 'shape' missing", f->path,
                         nm);
  int nd = cJSON_GetArraySize(shape);
  if (nd > 8)
    return dynrt__seterr(err, DYNRT_ERR_UNSUPPORTED, "%s: tensor '%s': %d dimensions (max 8)",
                         f->path, nm, nd);
  uint64_t elems = 1;
  t->ndim = 0;
  cJSON_ArrayForEach(x, shape) {
    uint64_t dim;
    if (!json_uint(x, UINT32_MAX, &dim))
      return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                           "%s: tensor '%s': shape[%d] is not a non-negative integer", f->path, nm,
                           t->ndim);
    if (dim > DYNRT__DIM_MAX)
      return dynrt__seterr(err, DYNRT_ERR_UNSUPPORTED,
                           "%s: tensor '%s': shape[%d] = %llu exceeds %u", f->path, nm, t->ndim,
                           (unsigned long long)dim, DYNRT__DIM_MAX);
    t->shape[t->ndim++] = (int64_t)dim;
    elems *= dim; /* dims <= 2^20, 8 of them may overflow: checked right below */
    if (dim && elems > DYNRT__TENSOR_BYTES_MAX / 4)
      return dynrt__seterr(err, DYNRT_ERR_UNSUPPORTED, "%s: tensor '%s': more than %llu bytes",
                           f->path, nm, (unsigned long long)DYNRT__TENSOR_BYTES_MAX);
  }
  uint64_t b, e;
  if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
      !json_uint(cJSON_GetArrayItem(offs, 0), UINT64_MAX / 2, &b) ||
      !json_uint(cJSON_GetArrayItem(offs, 1), UINT64_MAX / 2, &e))
    return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                         "%s: tensor '%s': 'data_offsets' is not [begin, end] of integers", f->path,
                         nm);
  if (e < b)
    return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] end before begin", f->path, nm,
                         (unsigned long long)b, (unsigned long long)e);
  if (e > data_size)
    return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                         "%s: tensor '%s' ends at data byte %llu, data section has %llu", f->path,
                         nm, (unsigned long long)e, (unsigned long long)data_size);
  if (e - b != elems * 4)
    return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets span %llu bytes, shape needs %llu", f->path,
                         nm, (unsigned long long)(e - b), (unsigned long long)(elems * 4));
  t->begin = b;
  t->end = e;
  return DYNRT_OK;
}

static dynrt_status parse_metadata(dynrt__st_file *f, const cJSON *meta, dynrt_err *err) {
  if (!cJSON_IsObject(meta))
    return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: '__metadata__' is not a JSON object", f->path);
  const cJSON *x;
  const char *format = NULL, *arch = NULL;
  cJSON_ArrayForEach(x, meta) {
    if (!cJSON_IsString(x))
      return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                           "%s: __metadata__ '%s' is not a string (safetensors rule)", f->path,
                           x->string);
    if (!strcmp(x->string, "dynrt.format")) format = x->valuestring;
    if (!strcmp(x->string, "dynrt.arch")) arch = x->valuestring;
  }
  if (!format)
    return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: __metadata__ has no 'dynrt.format'", f->path);
  if (strcmp(format, "1"))
    return dynrt__seterr(err, DYNRT_ERR_UNSUPPORTED,
                         "%s: __metadata__ 'dynrt.format' = '%.32s', dynrt reads '1'", f->path,
                         format);
  if (!arch)
    return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: __metadata__ has no 'dynrt.arch'", f->path);
  f->arch_json = dynrt__strdup(arch);
  if (!f->arch_json)
    return dynrt__seterr(err, DYNRT_ERR_NOMEM, "%s: no memory for the architecture", f->path);
  return DYNRT_OK;
}

static dynrt_status parse_header(dynrt__st_file *f, dynrt_err *err) {
  if (f->size < 8)
    return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                         "%s: file has %zu bytes, fewer than the 8-byte header length", f->path,
                         f->size);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | f->map[i];
  if (n > f->size - 8)
    return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                         "%s: header length %llu goes past the end of the file (%zu bytes)",
                         f->path, (unsigned long long)n, f->size);
  if (n > DYNRT__HEADER_MAX)
    return dynrt__seterr(err, DYNRT_ERR_UNSUPPORTED,
                         "%s: header length %llu exceeds the limit of %u bytes", f->path,
                         (unsigned long long)n, DYNRT__HEADER_MAX);
  const char *text = (const char *)f->map + 8;
  if (!dynrt__json_depth_ok(text, (size_t)n, DYNRT__JSON_DEPTH_MAX))
    return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: header JSON nests deeper than %d", f->path,
                         DYNRT__JSON_DEPTH_MAX);
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)n, &end, 0);
  if (!root) {
    /* cJSON sets `end` to the error position; cJSON_GetErrorPtr() is a process-global and
     * would race between threads loading models. */
    size_t at = end && end >= text && end <= text + n ? (size_t)(end - text) : 0;
    return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: header is not valid JSON (at byte %zu)",
                         f->path, at);
  }
  dynrt_status st = DYNRT_OK;
  /* Only spaces may follow the JSON value (safetensors pads the header with them). */
  for (const char *p = end; p && p < text + n; p++)
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\0') {
      st = dynrt__seterr(err, DYNRT_ERR_FORMAT,
                         "%s: header has trailing bytes after the JSON object (byte %zu)", f->path,
                         (size_t)(p - text));
      goto done;
    }
  if (!cJSON_IsObject(root)) {
    st = dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: header is not a JSON object", f->path);
    goto done;
  }
  size_t count = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, root) count++;
  if (count > DYNRT__TENSORS_MAX + 1) {
    st = dynrt__seterr(err, DYNRT_ERR_UNSUPPORTED, "%s: %zu header entries, limit %d tensors",
                       f->path, count, DYNRT__TENSORS_MAX);
    goto done;
  }
  f->tensors = dynrt__calloc(count ? count : 1, sizeof *f->tensors);
  if (!f->tensors) {
    st = dynrt__seterr(err, DYNRT_ERR_NOMEM, "%s: no memory for %zu tensors", f->path, count);
    goto done;
  }
  uint64_t data_size = f->size - 8 - n;
  const unsigned char *data = f->map + 8 + n;
  int have_meta = 0;
  cJSON_ArrayForEach(item, root) {
    if (!strcmp(item->string, "__metadata__")) {
      if (have_meta++) {
        st = dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: '__metadata__' given twice", f->path);
        goto done;
      }
      if ((st = parse_metadata(f, item, err))) goto done;
      continue;
    }
    dynrt__tensor *t = &f->tensors[f->n_tensors];
    if ((st = parse_tensor(f, item, data_size, t, err))) goto done;
    t->name = dynrt__strdup(item->string);
    if (!t->name) {
      st = dynrt__seterr(err, DYNRT_ERR_NOMEM, "%s: no memory", f->path);
      goto done;
    }
    t->data = data + t->begin;
    f->n_tensors++;
  }
  if (!have_meta) {
    st = dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: header has no '__metadata__'", f->path);
    goto done;
  }
  qsort(f->tensors, f->n_tensors, sizeof *f->tensors, tensor_cmp);
  for (size_t i = 1; i < f->n_tensors; i++)
    if (!strcmp(f->tensors[i - 1].name, f->tensors[i].name)) {
      st = dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: tensor '%s' appears twice", f->path,
                         f->tensors[i].name);
      goto done;
    }
  /* Overlap check on byte ranges; empty tensors occupy nothing. */
  if (f->n_tensors > 1) {
    dynrt__tensor **order = dynrt__malloc(f->n_tensors * sizeof *order);
    if (!order) {
      st = dynrt__seterr(err, DYNRT_ERR_NOMEM, "%s: no memory", f->path);
      goto done;
    }
    size_t m = 0;
    for (size_t i = 0; i < f->n_tensors; i++)
      if (f->tensors[i].end > f->tensors[i].begin) order[m++] = &f->tensors[i];
    qsort(order, m, sizeof *order, range_cmp);
    for (size_t i = 1; i < m; i++)
      if (order[i]->begin < order[i - 1]->end) {
        st = dynrt__seterr(
            err, DYNRT_ERR_FORMAT, "%s: tensor '%s' [%llu, %llu) overlaps tensor '%s' [%llu, %llu)",
            f->path, order[i]->name, (unsigned long long)order[i]->begin,
            (unsigned long long)order[i]->end, order[i - 1]->name,
            (unsigned long long)order[i - 1]->begin, (unsigned long long)order[i - 1]->end);
        break;
      }
    dynrt__free(order);
  }
done:
  cJSON_Delete(root);
  return st;
}

dynrt_status dynrt__st_open_memory(dynrt__st_file *f, const void *data, size_t size,
                                   const char *name, dynrt_err *err) {
  memset(f, 0, sizeof *f);
  f->path = name ? name : "<memory>";
  f->map = data;
  f->size = size;
  if (!data && size) return dynrt__seterr(err, DYNRT_ERR_INVALID_ARG, "%s: NULL data", f->path);
  dynrt_status st = parse_header(f, err);
  if (st) dynrt__st_close(f);
  return st;
}

dynrt_status dynrt__st_open(dynrt__st_file *f, const char *path, dynrt_err *err) {
  memset(f, 0, sizeof *f);
  f->path = path;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return dynrt__seterr(err, DYNRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return dynrt__seterr(err, DYNRT_ERR_IO, "%s: not a regular file", path);
  }
  f->size = (size_t)sb.st_size;
  if (f->size == 0) {
    close(fd);
    return dynrt__seterr(err, DYNRT_ERR_FORMAT,
                         "%s: file has 0 bytes, fewer than the 8-byte header length", path);
  }
  void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED)
    return dynrt__seterr(err, DYNRT_ERR_IO, "%s: cannot map %zu bytes: %s", path, f->size,
                         strerror(errno));
  f->map = p;
  f->mapped = 1;
  dynrt_status st = parse_header(f, err);
  if (st) dynrt__st_close(f);
  return st;
}

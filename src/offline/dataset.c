/*
 * dataset.c - labelled image data sets in memory: the classic CIFAR-10 binary format read
 * and validated here, or images decoded elsewhere (the CLI decodes PNG/JPEG folders) and
 * added one by one; plus the engine's input pipeline as a plain function. The library
 * decodes no image file format: it must stay free of image libraries.
 */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/engine_int.h"
#include "offline/offline_int.h"

#define fail dynrt__offline_fail

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + 3 * CIFAR_PIXELS)

struct dynrt_dataset {
  char name[256];
  size_t n, cap;
  dynrt_image *img;
  /* Fixed-size data sets (CIFAR) keep all pixels in one block; added images own theirs. */
  uint8_t *block;
  int owns_each;
};

dynrt_status dynrt__offline_fail(dynrt_error *err, dynrt_status st, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->status = st;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return st;
}

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

dynrt_status dynrt_dataset_resolve(const char *name, char *path, size_t size, dynrt_error *err) {
  if (!name || !path || size == 0) return fail(err, DYNRT_ERR_INVALID_ARG, "dataset: NULL name");
  const char *split = NULL;
  if (!strcmp(name, "cifar10-train"))
    split = "train";
  else if (!strcmp(name, "cifar10-val"))
    split = "val";
  else if (!strcmp(name, "cifar10-test"))
    split = "test";
  if (!split) {
    if ((size_t)snprintf(path, size, "%s", name) >= size)
      return fail(err, DYNRT_ERR_INVALID_ARG, "dataset: path too long: %s", name);
    return DYNRT_OK;
  }
  char tried[3][1024];
  int nt = 0;
  const char *env = getenv("DYNRT_DATA");
  if (env && *env) {
    size_t l = strlen(env);
    while (l > 1 && env[l - 1] == '/') l--;
    int ends = l >= 7 && !strncmp(env + l - 7, "cifar10", 7);
    snprintf(tried[nt++], sizeof tried[0], "%.*s%s/%s.bin", (int)l, env, ends ? "" : "/cifar10",
             split);
  }
  snprintf(tried[nt++], sizeof tried[0], "data/cifar10/%s.bin", split);
  const char *src = getenv("DYNRT_SOURCE_DIR");
  if (src && *src) snprintf(tried[nt++], sizeof tried[0], "%s/data/cifar10/%s.bin", src, split);
  for (int i = 0; i < nt; i++)
    if (file_exists(tried[i])) {
      if ((size_t)snprintf(path, size, "%s", tried[i]) >= size)
        return fail(err, DYNRT_ERR_INVALID_ARG, "dataset: path too long: %s", tried[i]);
      return DYNRT_OK;
    }
  return fail(err, DYNRT_ERR_NOT_FOUND,
              "dataset %s: no file at %s%s%s%s%s (set DYNRT_DATA or run scripts/get-cifar10)", name,
              tried[0], nt > 1 ? ", " : "", nt > 1 ? tried[1] : "", nt > 2 ? ", " : "",
              nt > 2 ? tried[2] : "");
}

static dynrt_dataset *ds_new(const char *name, size_t cap) {
  dynrt_dataset *ds = dynrt__calloc(1, sizeof *ds);
  if (!ds) return NULL;
  snprintf(ds->name, sizeof ds->name, "%s", name ? name : "images");
  ds->cap = cap;
  ds->img = dynrt__calloc(cap ? cap : 1, sizeof *ds->img);
  if (!ds->img) {
    dynrt__free(ds);
    return NULL;
  }
  return ds;
}

dynrt_status dynrt_dataset_open_cifar(const char *path, size_t first, size_t count, int num_classes,
                                      dynrt_dataset **out, dynrt_error *err) {
  if (out) *out = NULL;
  if (!path || !out) return fail(err, DYNRT_ERR_INVALID_ARG, "dataset: NULL argument");
  FILE *f = fopen(path, "rb");
  if (!f) return fail(err, DYNRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  dynrt_status st;
  if (fstat(fileno(f), &sb) != 0)
    st = fail(err, DYNRT_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
  else
    st =
        dynrt__dataset_read_cifar(f, (size_t)sb.st_size, path, first, count, num_classes, out, err);
  fclose(f);
  return st;
}

dynrt_status dynrt__dataset_read_cifar(FILE *f, size_t bytes, const char *path, size_t first,
                                       size_t count, int num_classes, dynrt_dataset **out,
                                       dynrt_error *err) {
  if (out) *out = NULL;
  if (!f || !path || !out) return fail(err, DYNRT_ERR_INVALID_ARG, "dataset: NULL argument");
  if (num_classes <= 0) num_classes = 10;
  dynrt_dataset *ds = NULL;
  uint8_t *rec = NULL;
  dynrt_status st = DYNRT_OK;
  if (bytes == 0 || bytes % CIFAR_RECORD) {
    st = fail(err, DYNRT_ERR_FORMAT,
              "%s: size %zu bytes is not a positive multiple of the %d-byte CIFAR record "
              "(1 label + 3072 pixel bytes); %zu whole records, %zu bytes left over",
              path, bytes, CIFAR_RECORD, bytes / CIFAR_RECORD, bytes % CIFAR_RECORD);
    goto done;
  }
  size_t total = bytes / CIFAR_RECORD;
  if (first >= total) {
    st = fail(err, DYNRT_ERR_INVALID_ARG, "%s: first image %zu, file has %zu", path, first, total);
    goto done;
  }
  if (count == 0 || count > total - first) count = total - first;
  ds = ds_new(path, count);
  rec = dynrt__malloc(CIFAR_RECORD);
  if (!ds || !rec) {
    st = fail(err, DYNRT_ERR_NOMEM, "%s: no memory for %zu images", path, count);
    goto done;
  }
  ds->block = dynrt__malloc(count * 3 * CIFAR_PIXELS);
  if (!ds->block) {
    st = fail(err, DYNRT_ERR_NOMEM, "%s: no memory for %zu images", path, count);
    goto done;
  }
  if (fseeko(f, (off_t)(first * CIFAR_RECORD), SEEK_SET) != 0) {
    st = fail(err, DYNRT_ERR_IO, "%s: cannot seek to record %zu", path, first);
    goto done;
  }
  for (size_t i = 0; i < count; i++) {
    if (fread(rec, 1, CIFAR_RECORD, f) != CIFAR_RECORD) {
      st = fail(err, DYNRT_ERR_IO, "%s: record %zu: short read", path, first + i);
      goto done;
    }
    if (rec[0] >= num_classes) {
      st = fail(err, DYNRT_ERR_FORMAT, "%s: record %zu (byte offset %zu): label %d not in 0..%d",
                path, first + i, (first + i) * CIFAR_RECORD, rec[0], num_classes - 1);
      goto done;
    }
    uint8_t *px = ds->block + i * 3 * CIFAR_PIXELS;
    /* planar R, G, B -> interleaved HWC */
    for (int p = 0; p < CIFAR_PIXELS; p++)
      for (int c = 0; c < 3; c++) px[p * 3 + c] = rec[1 + c * CIFAR_PIXELS + p];
    ds->img[i].rgb = px;
    ds->img[i].width = ds->img[i].height = CIFAR_SIDE;
    ds->img[i].label = rec[0];
  }
  ds->n = count;
done:
  dynrt__free(rec);
  if (st) {
    dynrt_dataset_destroy(ds);
    return st;
  }
  *out = ds;
  return DYNRT_OK;
}

dynrt_status dynrt_dataset_synthetic(size_t n, int side, int num_classes, uint64_t seed,
                                     dynrt_dataset **out, dynrt_error *err) {
  if (out) *out = NULL;
  if (!out || n == 0 || side < 1 || side > 4096 || num_classes < 1)
    return fail(err, DYNRT_ERR_INVALID_ARG, "synthetic: n %zu, side %d, classes %d", n, side,
                num_classes);
  char name[64];
  snprintf(name, sizeof name, "synthetic:%zu", n);
  dynrt_dataset *ds = ds_new(name, n);
  size_t px = (size_t)side * (size_t)side * 3;
  if (!ds || !(ds->block = dynrt__malloc(n * px))) {
    dynrt_dataset_destroy(ds);
    return fail(err, DYNRT_ERR_NOMEM, "synthetic: no memory for %zu images", n);
  }
  for (size_t i = 0; i < n; i++) {
    uint8_t *p = ds->block + i * px;
    for (size_t q = 0; q < px; q++) {
      uint32_t h = (uint32_t)(seed * 0x9e3779b9u) + (uint32_t)i * 1103515245u +
                   (uint32_t)(q / 3) * 12345u + (uint32_t)(q % 3) * 2654435761u;
      h ^= h >> 13;
      h *= 0x5bd1e995u;
      uint32_t ramp = (uint32_t)((q / 3) % (size_t)side * 3 + (q / 3) / (size_t)side * 5 +
                                 (q % 3) * 40 + i * 7) %
                      256u;
      p[q] = (uint8_t)((h >> 24) / 2 + ramp / 2);
    }
    ds->img[i].rgb = p;
    ds->img[i].width = ds->img[i].height = side;
    ds->img[i].label = (int)((i * 3 + 1) % (size_t)num_classes);
  }
  ds->n = n;
  *out = ds;
  return DYNRT_OK;
}

dynrt_status dynrt_dataset_create(size_t cap, const char *name, dynrt_dataset **out,
                                  dynrt_error *err) {
  if (out) *out = NULL;
  if (!out || cap == 0) return fail(err, DYNRT_ERR_INVALID_ARG, "dataset: NULL out or cap 0");
  dynrt_dataset *ds = ds_new(name, cap);
  if (!ds) return fail(err, DYNRT_ERR_NOMEM, "dataset: no memory for %zu images", cap);
  ds->owns_each = 1;
  *out = ds;
  return DYNRT_OK;
}

dynrt_status dynrt_dataset_add(dynrt_dataset *ds, const uint8_t *rgb, int width, int height,
                               size_t row_stride, int label, dynrt_error *err) {
  if (!ds || !rgb || width < 1 || height < 1 || row_stride < (size_t)width * 3 || label < 0)
    return fail(err, DYNRT_ERR_INVALID_ARG, "dataset: bad image (%dx%d, stride %zu, label %d)",
                width, height, row_stride, label);
  if (!ds->owns_each || ds->n >= ds->cap)
    return fail(err, DYNRT_ERR_STATE, "dataset %s: full (%zu images)", ds->name, ds->cap);
  size_t row = (size_t)width * 3;
  uint8_t *px = dynrt__malloc(row * (size_t)height);
  if (!px) return fail(err, DYNRT_ERR_NOMEM, "dataset %s: no memory for an image", ds->name);
  for (int y = 0; y < height; y++) memcpy(px + (size_t)y * row, rgb + (size_t)y * row_stride, row);
  ds->img[ds->n].rgb = px;
  ds->img[ds->n].width = width;
  ds->img[ds->n].height = height;
  ds->img[ds->n].label = label;
  ds->n++;
  return DYNRT_OK;
}

void dynrt_dataset_destroy(dynrt_dataset *ds) {
  if (!ds) return;
  if (ds->owns_each)
    for (size_t i = 0; i < ds->n; i++) dynrt__free((void *)ds->img[i].rgb);
  dynrt__free(ds->block);
  dynrt__free(ds->img);
  dynrt__free(ds);
}

size_t dynrt_dataset_count(const dynrt_dataset *ds) { return ds ? ds->n : 0; }

const char *dynrt_dataset_name(const dynrt_dataset *ds) { return ds ? ds->name : ""; }

void dynrt_dataset_get(const dynrt_dataset *ds, size_t i, dynrt_image *out) {
  DYNRT_ASSERT(ds && i < ds->n);
  *out = ds->img[i];
}

/* The engine's own preprocessing (what dynrt_session_run_image does), so calibration and
 * evaluation see exactly the tensors inference sees: dst is r x r x 3, NHWC. */
void dynrt_preprocess(const dynrt_model *model, int r, const dynrt_image *img, float *dst) {
  dynrt__preprocess_rgb(&model->arch, r, img->rgb, img->width, img->height, (size_t)img->width * 3,
                        dst, (size_t)r * 3);
}

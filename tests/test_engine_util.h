/* test_engine_util.h - shared by the engine tests: fixture paths, file reading and the
 * golden JSON of python/make_fixture.py. Header-only (static functions). */
#ifndef DYNRT_TEST_ENGINE_UTIL_H
#define DYNRT_TEST_ENGINE_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dynrt/engine.h"

static inline void fixture_path(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/fixtures/%s", DYNRT_TEST_DIR, name);
}

/* Whole file into a malloc'd buffer (NUL-terminated); NULL if unreadable. */
static inline unsigned char *read_all(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc((size_t)n + 1);
  if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  fclose(f);
  if (p) {
    p[n] = 0;
    *size = (size_t)n;
  }
  return p;
}

static inline cJSON *load_golden(const char *name) {
  char path[1024];
  fixture_path(path, sizeof path, name);
  size_t n;
  unsigned char *text = read_all(path, &n);
  if (!text) return NULL;
  cJSON *j = cJSON_ParseWithLength((const char *)text, n);
  free(text);
  return j;
}

static inline dynrt_model *load_fixture(const char *name) {
  char path[1024];
  fixture_path(path, sizeof path, name);
  dynrt_model *m = NULL;
  dynrt_error err;
  if (dynrt_model_load(path, &m, &err)) {
    fprintf(stderr, "load %s: %s\n", path, err.msg);
    return NULL;
  }
  return m;
}

/* max |a - b| / max |b| */
static inline double rel_err(const float *a, const double *b, size_t n) {
  double num = 0, den = 1e-12;
  for (size_t i = 0; i < n; i++) {
    double d = a[i] - b[i];
    if (d < 0) d = -d;
    if (d > num) num = d;
    double m = b[i] < 0 ? -b[i] : b[i];
    if (m > den) den = m;
  }
  return num / den;
}

#endif

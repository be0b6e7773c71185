/* fuzz_util.h - helpers shared by the libFuzzer targets: the input as a C string, and a
 * per-process scratch file in /tmp for readers that only take a path. Targets include it
 * once; everything is static inline so that unused helpers cost nothing. */
#ifndef DYNRT_FUZZ_UTIL_H
#define DYNRT_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dynrt/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input with a terminating NUL (free() it); NULL when out of memory. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return NULL;
  if (size) memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

/* "$TMPDIR/dynrt-fuzz-TAG-PID" ($TMPDIR defaults to /tmp): one name per process and tag,
 * so that parallel fuzzers (-jobs, -workers) never share a file. TMPDIR=/dev/shm keeps the
 * targets that write files off a busy disk. */
#define FUZZ_PATH_MAX 512
static inline void fuzz_tmp_path(char *buf, size_t size, const char *tag) {
  const char *dir = getenv("TMPDIR");
  snprintf(buf, size, "%s/dynrt-fuzz-%s-%ld", dir && *dir ? dir : "/tmp", tag, (long)getpid());
}

/* Writes data to path (truncating). 0 on success. */
static inline int fuzz_write_file(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int bad = size && fwrite(data, 1, size, f) != size;
  if (fclose(f) != 0) bad = 1;
  return bad ? -1 : 0;
}

/* Warnings about bad input are expected by the thousand: keep only errors. */
static inline void fuzz_quiet(void) { dynrt_log_set_level(DYNRT_LOG_ERROR); }

#endif /* DYNRT_FUZZ_UTIL_H */

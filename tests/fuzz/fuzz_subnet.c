/* fuzz_subnet.c - libFuzzer target: arbitrary text as a sub-network string for the tiny
 * fixture. A string that parses must print canonically, parse back to the same config and
 * have a non-zero id and MACs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynrt/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dynrt_model *model(void) {
  static dynrt_model *m;
  if (!m) {
    dynrt_error err;
    if (dynrt_model_load(DYNRT_TEST_DIR "/fixtures/tiny.safetensors", &m, &err)) {
      fprintf(stderr, "fuzz_subnet: %s\n", err.msg);
      abort();
    }
  }
  return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dynrt_model *m = model();
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  dynrt_subnet c, again;
  dynrt_error err;
  if (!dynrt_subnet_parse(m, s, &c, &err)) {
    char buf[DYNRT_SUBNET_STR_MAX];
    if (dynrt_subnet_format(m, &c, buf, sizeof buf, NULL)) abort();
    if (dynrt_subnet_parse(m, buf, &again, NULL) || memcmp(&c, &again, sizeof c)) abort();
    if (!dynrt_subnet_id(m, &c) || !dynrt_subnet_macs(m, &c)) abort();
  } else if (strncmp(err.msg, "subnet: ", 8)) {
    abort();
  }
  free(s);
  return 0;
}

/* fuzz_sysfs.c - libFuzzer target: arbitrary text through the sysfs/procfs value parsers
 * (sysfs.c: integers, decimal text, CPU lists, frequency lists, message quoting). Parsers
 * must agree with the C library where they overlap and give finite values only. */
#include <errno.h>
#include <math.h>

#include "dynrt/platform.h"
#include "fuzz_util.h"
#include "platform/sysfs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = fuzz_cstr(data, size);
  if (!s) return 0;
  uint64_t u;
  if (!dynrt__parse_u64(s, &u)) {
    errno = 0;
    unsigned long long ref = strtoull(s, NULL, 10);
    if (errno || ref != u) abort();
  }
  int64_t i;
  if (!dynrt__parse_i64(s, &i)) {
    errno = 0;
    long long ref = strtoll(s, NULL, 10);
    if (errno || ref != i) abort();
  }
  double d;
  if (!dynrt__parse_double(s, &d) && !isfinite(d)) abort();
  uint64_t mask;
  dynrt__parse_cpulist(s, &mask);
  uint32_t vals[DYNRT_MAX_OPPS];
  int n = dynrt__parse_u32_list(s, vals, DYNRT_MAX_OPPS, 1);
  if (n < -1 || n > DYNRT_MAX_OPPS) abort();
  n = dynrt__parse_u32_list(s, vals, DYNRT_MAX_OPPS, 1000);
  if (n < -1 || n > DYNRT_MAX_OPPS) abort();
  char q[48];
  dynrt__sysfs_quote(s, q, sizeof q);
  if (strlen(q) > 43) abort();
  char small[8];
  dynrt__sysfs_copy(small, sizeof small, s);
  free(s);
  return 0;
}

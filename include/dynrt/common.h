/*
 * dynrt/common.h - status codes, version, allocator hook and logging shared by every
 * part of the public API.
 *
 * Errors: every fallible call returns a dynrt_status (0 = DYNRT_OK). The static text of a
 * code comes from dynrt_status_str(); the detailed message of the last failure is kept by
 * the object that failed (dynrt_model_errmsg(), dynrt_pool_errmsg(), ...), never globally.
 */
#ifndef DYNRT_COMMON_H
#define DYNRT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DYNRT_API __attribute__((visibility("default")))
#else
#define DYNRT_API
#endif

typedef enum dynrt_status {
  DYNRT_OK = 0,
  DYNRT_ERR_INVALID_ARG = -1, /* a NULL pointer, a zero size, a value out of range */
  DYNRT_ERR_NOMEM = -2,       /* an allocation failed */
  DYNRT_ERR_IO = -3,          /* a file could not be opened, read or written */
  DYNRT_ERR_FORMAT = -4,      /* a file or string is malformed */
  DYNRT_ERR_UNSUPPORTED = -5, /* valid but not supported (kernel size, dtype, ISA) */
  DYNRT_ERR_STATE = -6,       /* the object is not in a state that allows the call */
  DYNRT_ERR_PERMISSION = -7,  /* no permission (read-only sysfs, not root) */
  DYNRT_ERR_NOT_FOUND = -8,   /* a named thing does not exist */
  DYNRT_ERR_BUSY = -9,        /* the resource is busy; try again */
  DYNRT_ERR_INFEASIBLE = -10, /* requirements cannot all be met */
  DYNRT_ERR_INTERNAL = -11    /* a bug: an invariant did not hold */
} dynrt_status;

/* Static, never NULL, for any value (unknown codes give "unknown status"). */
DYNRT_API const char *dynrt_status_str(dynrt_status status);

/* "MAJOR.MINOR.PATCH" of the library. */
DYNRT_API const char *dynrt_version(void);

/*
 * Allocator hook. All memory dynrt allocates goes through these functions (a Lua-style
 * contract: alloc(size) returns NULL or memory aligned to at least `align`, a power of two
 * >= sizeof(void *); release(NULL) is a no-op). Set it before creating any object and never
 * change it while objects exist. Passing NULL restores the default (posix_memalign/free).
 * One exception: reading or writing a JSON file (operating-point libraries, latency tables,
 * scenarios, board files, reports) builds a transient document with libcjson, which uses the
 * C library's malloc/free (its hooks are process-wide, so dynrt leaves them to the
 * application); that document is freed before the call returns. The inference core and
 * everything it keeps use the hook.
 */
typedef struct dynrt_allocator {
  void *(*alloc)(void *user, size_t size, size_t align);
  void (*release)(void *user, void *ptr);
  void *user;
} dynrt_allocator;
DYNRT_API void dynrt_set_allocator(const dynrt_allocator *allocator);

/*
 * Fault injection for tests: make the n-th allocation from now fail (n = 1 is the next
 * one), and every later one too when `sticky` is nonzero. n = 0 disables it. Returns the
 * number of allocations performed since the last call.
 */
DYNRT_API uint64_t dynrt_alloc_fail_after(uint64_t n, int sticky);

/* Logging. The level starts from the environment variable DYNRT_LOG
 * (error, warn, info, debug; default warn). Messages go to stderr. */
typedef enum dynrt_log_level {
  DYNRT_LOG_ERROR = 0,
  DYNRT_LOG_WARN = 1,
  DYNRT_LOG_INFO = 2,
  DYNRT_LOG_DEBUG = 3
} dynrt_log_level;
DYNRT_API void dynrt_log_set_level(dynrt_log_level level);
DYNRT_API dynrt_log_level dynrt_log_get_level(void);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
DYNRT_API uint64_t dynrt_now_ns(void);

/* CPU features of the machine running the code, detected once. */
enum {
  DYNRT_CPU_AVX2 = 1u << 0,
  DYNRT_CPU_FMA = 1u << 1,
  DYNRT_CPU_AVX512F = 1u << 2,
  DYNRT_CPU_AVX512BW = 1u << 3,
  DYNRT_CPU_AVX512VL = 1u << 4,
  DYNRT_CPU_AVX512DQ = 1u << 5,
  DYNRT_CPU_NEON = 1u << 6
};
DYNRT_API unsigned dynrt_cpu_features(void);
/* Writes a space-separated list like "avx2 fma avx512f" into buf; returns buf. */
DYNRT_API char *dynrt_cpu_features_str(unsigned features, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* DYNRT_COMMON_H */

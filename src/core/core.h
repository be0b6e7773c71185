/*
 * core.h - internal services every layer uses: allocation through the hook, per-object
 * error messages, logging, asserts and an arena. Nothing here knows about DNNs.
 */
#ifndef DYNRT_CORE_H
#define DYNRT_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dynrt/common.h"

/* ---- allocation (all through the user hook; counts for fault injection) ---- */
void *dynrt__malloc(size_t size);
void *dynrt__calloc(size_t n, size_t size);
void *dynrt__aligned_alloc(size_t size, size_t align); /* align: power of two */
void *dynrt__realloc(void *ptr, size_t old_size, size_t new_size);
char *dynrt__strdup(const char *s);
void dynrt__free(void *ptr);
/* Asks the OS to back [p, p + bytes) with huge pages where it can (Linux transparent huge
 * pages in "madvise" mode); only whole 2 MiB pages inside the range; advisory, no effect
 * elsewhere. Call before the memory is first written. */
void dynrt__advise_huge(void *p, size_t bytes);
#define DYNRT_HUGE_PAGE ((size_t)2 << 20)
/* Allocations performed so far (for "no allocation on the hot path" checks). */
uint64_t dynrt__alloc_count(void);

/* ---- per-object error messages ---- */
#define DYNRT_ERRMSG_MAX 512
typedef struct dynrt_err {
  dynrt_status status;
  char msg[DYNRT_ERRMSG_MAX];
} dynrt_err;

/* Formats the message into *err (if err != NULL), logs it at debug level, returns status. */
dynrt_status dynrt__seterr(dynrt_err *err, dynrt_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void dynrt__clearerr(dynrt_err *err);
/* The message, or the status text when no message was set; never NULL. */
const char *dynrt__errmsg(const dynrt_err *err);

/* ---- logging ---- */
void dynrt__log(dynrt_log_level level, const char *module, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
#define DYNRT_LOGE(mod, ...) dynrt__log(DYNRT_LOG_ERROR, mod, __VA_ARGS__)
#define DYNRT_LOGW(mod, ...) dynrt__log(DYNRT_LOG_WARN, mod, __VA_ARGS__)
#define DYNRT_LOGI(mod, ...) dynrt__log(DYNRT_LOG_INFO, mod, __VA_ARGS__)
#define DYNRT_LOGD(mod, ...) dynrt__log(DYNRT_LOG_DEBUG, mod, __VA_ARGS__)

/* ---- invariants: programmer errors abort with the expression; bad input never asserts ---- */
void dynrt__assert_fail(const char *expr, const char *file, int line);
#define DYNRT_ASSERT(x) ((x) ? (void)0 : dynrt__assert_fail(#x, __FILE__, __LINE__))

#define DYNRT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DYNRT_MAX(a, b) ((a) > (b) ? (a) : (b))
#define DYNRT_ROUND_UP(x, m) (((x) + (m)-1) / (m) * (m))
#define DYNRT_DIV_UP(x, m) (((x) + (m)-1) / (m))

/* ---- arena: planned once, bump allocation, no free of single blocks ---- */
typedef struct dynrt_arena {
  unsigned char *base;
  size_t size;
  size_t used;
  size_t align;
} dynrt_arena;
/* Allocates `size` bytes aligned to `align` (power of two, >= 16). */
dynrt_status dynrt__arena_init(dynrt_arena *arena, size_t size, size_t align);
/* Returns NULL (never allocates) when the plan was too small. */
void *dynrt__arena_alloc(dynrt_arena *arena, size_t size);
void dynrt__arena_reset(dynrt_arena *arena);
void dynrt__arena_free(dynrt_arena *arena);

#endif /* DYNRT_CORE_H */

/* alloc.c - the one allocator every dynrt allocation goes through, with fault injection.
 * It must stay cheap: a counter increment and a compare on each call. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core/core.h"

static void *default_alloc(void *user, size_t size, size_t align) {
  (void)user;
  void *p = NULL;
  if (align < sizeof(void *)) align = sizeof(void *);
  if (posix_memalign(&p, align, size ? size : 1) != 0) return NULL;
  return p;
}

static void default_release(void *user, void *ptr) {
  (void)user;
  free(ptr);
}

static dynrt_allocator g_alloc = {default_alloc, default_release, NULL};
static _Atomic uint64_t g_count;   /* allocations performed */
static _Atomic uint64_t g_fail_at; /* fail when count reaches this (0 = never) */
static _Atomic int g_fail_sticky;

void dynrt_set_allocator(const dynrt_allocator *allocator) {
  if (allocator && allocator->alloc && allocator->release)
    g_alloc = *allocator;
  else {
    g_alloc.alloc = default_alloc;
    g_alloc.release = default_release;
    g_alloc.user = NULL;
  }
}

uint64_t dynrt_alloc_fail_after(uint64_t n, int sticky) {
  uint64_t done = atomic_exchange(&g_count, 0);
  atomic_store(&g_fail_sticky, sticky != 0);
  atomic_store(&g_fail_at, n);
  return done;
}

uint64_t dynrt__alloc_count(void) { return atomic_load(&g_count); }

/* Returns nonzero when this allocation must fail (fault injection). */
static int should_fail(void) {
  uint64_t n = atomic_fetch_add(&g_count, 1) + 1;
  uint64_t at = atomic_load(&g_fail_at);
  if (at == 0) return 0;
  if (n == at) return 1;
  return n > at && atomic_load(&g_fail_sticky);
}

void *dynrt__aligned_alloc(size_t size, size_t align) {
  if (should_fail()) return NULL;
  if (align < 16) align = 16;
  return g_alloc.alloc(g_alloc.user, size, align);
}

void *dynrt__malloc(size_t size) { return dynrt__aligned_alloc(size, 16); }

void *dynrt__calloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  void *p = dynrt__malloc(n * size);
  if (p) memset(p, 0, n * size);
  return p;
}

void *dynrt__realloc(void *ptr, size_t old_size, size_t new_size) {
  void *p = dynrt__malloc(new_size);
  if (!p) return NULL;
  if (ptr) {
    memcpy(p, ptr, old_size < new_size ? old_size : new_size);
    dynrt__free(ptr);
  }
  return p;
}

char *dynrt__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = dynrt__malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

void dynrt__free(void *ptr) {
  if (ptr) g_alloc.release(g_alloc.user, ptr);
}

dynrt_status dynrt__arena_init(dynrt_arena *arena, size_t size, size_t align) {
  if (!arena || align < 16 || (align & (align - 1))) return DYNRT_ERR_INVALID_ARG;
  memset(arena, 0, sizeof *arena);
  arena->base = dynrt__aligned_alloc(size ? size : align, align);
  if (!arena->base) return DYNRT_ERR_NOMEM;
  arena->size = size;
  arena->align = align;
  return DYNRT_OK;
}

void *dynrt__arena_alloc(dynrt_arena *arena, size_t size) {
  size_t off = DYNRT_ROUND_UP(arena->used, arena->align);
  if (off > arena->size || size > arena->size - off) return NULL;
  arena->used = off + size;
  return arena->base + off;
}

void dynrt__arena_reset(dynrt_arena *arena) { arena->used = 0; }

void dynrt__arena_free(dynrt_arena *arena) {
  if (!arena) return;
  dynrt__free(arena->base);
  memset(arena, 0, sizeof *arena);
}

void dynrt__advise_huge(void *p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  uintptr_t a = DYNRT_ROUND_UP((uintptr_t)p, (uintptr_t)DYNRT_HUGE_PAGE);
  uintptr_t e = ((uintptr_t)p + bytes) & ~((uintptr_t)DYNRT_HUGE_PAGE - 1);
  if (e > a) (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

/* test_rtm_fake.h - a tiny synthetic board for the runtime-manager tests and benchmark,
 * filled through the backend vtable (src/platform/platform_int.h) so that the tests depend
 * on no real backend. It records every control call and lets a test set limits, available
 * cores, virtual time and pending events. */
#ifndef DYNRT_TEST_RTM_FAKE_H
#define DYNRT_TEST_RTM_FAKE_H

#include <string.h>

#include "platform/platform_int.h"

typedef struct fake_board {
  uint32_t cur[DYNRT_MAX_DOMAINS], max[DYNRT_MAX_DOMAINS];
  char gov[DYNRT_MAX_DOMAINS][24];
  uint64_t avail;
  uint64_t assigned[64];
  int freq_writes, assign_writes;
  uint64_t now;
  dynrt_event ev[16];
  int nev;
} fake_board;

static inline fake_board *fake_of(dynrt_platform *p) { return (fake_board *)p->backend; }

static inline void fake_close(dynrt_platform *p) { dynrt__free(p->backend); }
static inline dynrt_status fake_get_freq(dynrt_platform *p, int d, uint32_t *khz) {
  *khz = fake_of(p)->cur[d];
  return DYNRT_OK;
}
static inline dynrt_status fake_set_freq(dynrt_platform *p, int d, uint32_t khz, uint32_t *actual) {
  fake_board *b = fake_of(p);
  const dynrt_domain_info *di = &p->domains[d];
  *actual = dynrt__opp_resolve(di, khz, di->opps[0].khz, b->max[d]);
  if (*actual != b->cur[d]) b->freq_writes++;
  b->cur[d] = *actual;
  snprintf(b->gov[d], sizeof b->gov[d], "userspace");
  return DYNRT_OK;
}
static inline dynrt_status fake_get_limits(dynrt_platform *p, int d, uint32_t *lo, uint32_t *hi) {
  *lo = p->domains[d].opps[0].khz;
  *hi = fake_of(p)->max[d];
  return DYNRT_OK;
}
static inline dynrt_status fake_set_governor(dynrt_platform *p, int d, const char *g) {
  snprintf(fake_of(p)->gov[d], sizeof fake_of(p)->gov[d], "%s", g);
  return DYNRT_OK;
}
static inline dynrt_status fake_available(dynrt_platform *p, uint64_t *mask) {
  *mask = fake_of(p)->avail;
  return DYNRT_OK;
}
static inline dynrt_status fake_assign(dynrt_platform *p, int app, uint64_t mask) {
  if (app >= 64) return DYNRT_ERR_INVALID_ARG;
  fake_of(p)->assigned[app] = mask;
  fake_of(p)->assign_writes++;
  return DYNRT_OK;
}
static inline uint64_t fake_now(dynrt_platform *p) { return fake_of(p)->now; }
static inline int fake_poll(dynrt_platform *p, dynrt_event *ev) {
  fake_board *b = fake_of(p);
  if (!b->nev) return 0;
  *ev = b->ev[0];
  memmove(b->ev, b->ev + 1, (size_t)(--b->nev) * sizeof *ev);
  return 1;
}

static const dynrt_platform_ops fake_ops = {
    .close = fake_close,
    .get_freq = fake_get_freq,
    .set_freq = fake_set_freq,
    .get_limits = fake_get_limits,
    .set_governor = fake_set_governor,
    .available_cpus = fake_available,
    .assign = fake_assign,
    .now = fake_now,
    .poll_event = fake_poll,
};

/* An empty board named `name`; add domains with fake_add_domain. */
static inline dynrt_platform *fake_open(const char *name) {
  dynrt_platform *p = dynrt__calloc(1, sizeof *p);
  fake_board *b = dynrt__calloc(1, sizeof *b);
  if (!p || !b) abort();
  p->ops = &fake_ops;
  p->backend = b;
  snprintf(p->info.name, sizeof p->info.name, "%s", name);
  snprintf(p->info.backend, sizeof p->info.backend, "fake");
  p->info.simulated = 1;
  p->info.energy_modelled = 1;
  p->info.can_control = 1;
  return p;
}

/* A domain with ncpus cores starting at first_cpu (ncpus 0: a GPU) and ascending OPPs;
 * it starts at its top OPP. Returns its index. */
static inline int fake_add_domain(dynrt_platform *p, const char *name, int ncpus, int first_cpu,
                                  const uint32_t *khz, int nopps) {
  int d = p->info.ndomains++;
  dynrt_domain_info *di = &p->domains[d];
  memset(di, 0, sizeof *di);
  snprintf(di->name, sizeof di->name, "%s", name);
  di->kind = ncpus ? DYNRT_DOMAIN_CPU : DYNRT_DOMAIN_GPU;
  di->ncpus = ncpus;
  for (int i = 0; i < ncpus; i++) {
    di->cpus[i] = first_cpu + i;
    fake_of(p)->avail |= 1ull << (first_cpu + i);
  }
  di->nopps = nopps;
  for (int i = 0; i < nopps; i++) di->opps[i].khz = khz[i];
  di->capacity = 1;
  di->can_set_freq = 1;
  p->info.ncpus += ncpus;
  fake_of(p)->cur[d] = fake_of(p)->max[d] = khz[nopps - 1];
  return d;
}

static inline void fake_push_event(dynrt_platform *p, dynrt_event ev) {
  fake_board *b = fake_of(p);
  if (b->nev < 16) b->ev[b->nev++] = ev;
}

/* The boards of the fixtures in tests/fixtures/oplib: "big" = cpus 0-3 at 1 and 2 GHz;
 * multi adds "little" = cpus 4-7 at 0.5 and 1 GHz and "gpu" at 0.5 and 1 GHz. */
static inline dynrt_platform *fake_tiny_board(void) {
  dynrt_platform *p = fake_open("synthetic-board (fake)");
  fake_add_domain(p, "big", 4, 0, (const uint32_t[]){1000000, 2000000}, 2);
  return p;
}

static inline dynrt_platform *fake_multi_board(void) {
  dynrt_platform *p = fake_tiny_board();
  fake_add_domain(p, "little", 4, 4, (const uint32_t[]){500000, 1000000}, 2);
  fake_add_domain(p, "gpu", 0, 0, (const uint32_t[]){500000, 1000000}, 2);
  return p;
}

#endif

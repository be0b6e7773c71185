/* test_sim_util.h - helpers shared by the simulator tests: small boards written to
 * temporary files and frequency traces recorded through dynrt_sim_set_trace. */
#ifndef DYNRT_SIM_TEST_UTIL_H
#define DYNRT_SIM_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dynrt/platform.h"
#include "dynrt/sim.h"

#define MS 1000000ull
#define US 1000ull

/* Opens a board given as JSON text; fails the test on error. */
static inline dynrt_platform *open_json(const char *json) {
  char path[] = "/tmp/dynrt_simtest_XXXXXX.json";
  int fd = mkstemps(path, 5);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  assert_non_null(f);
  fputs(json, f);
  fclose(f);
  dynrt_platform *p = NULL;
  char err[512];
  dynrt_status st = dynrt_sim_open(path, &p, err, sizeof err);
  unlink(path);
  if (st != DYNRT_OK) fprintf(stderr, "open_json: %s\n", err);
  assert_int_equal(st, DYNRT_OK);
  return p;
}

/* Opens a board JSON and returns the status and message instead of failing. */
static inline dynrt_status try_json(const char *json, char *err, size_t errlen) {
  char path[] = "/tmp/dynrt_simtest_XXXXXX.json";
  int fd = mkstemps(path, 5);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fputs(json, f);
  fclose(f);
  dynrt_platform *p = NULL;
  dynrt_status st = dynrt_sim_open(path, &p, err, errlen);
  unlink(path);
  dynrt_platform_close(p);
  return st;
}

/*
 * A one-domain test board: 2 CPUs, OPPs start + k*step kHz (count of them), V from 0.8 V at
 * 200 MHz to 1.0 V at 1 GHz, no noise, no memory part, base 1 W.
 */
static inline dynrt_platform *open_test_board(const char *governor, int invariant,
                                              unsigned start_khz, unsigned step_khz, int count,
                                              unsigned latency_ns) {
  char json[2048];
  snprintf(json, sizeof json,
           "{\"format\":\"dynrt-platform\",\"version\":1,\"name\":\"test\","
           "\"kernel\":{\"hz\":250,\"freq_invariant\":%s},"
           "\"board\":{\"base_w\":1.0,\"parallel_fraction\":0.8},"
           "\"noise\":{\"latency_rel_sigma\":0,\"power_rel_sigma\":0,\"seed\":7},"
           "\"domains\":[{\"name\":\"c\",\"kind\":\"cpu\",\"cpus\":[0,1],"
           "\"opp_grid\":{\"start_khz\":%u,\"step_khz\":%u,\"count\":%d},"
           "\"voltage_line\":{\"f0_khz\":200000,\"v0_uv\":800000,\"f1_khz\":1000000,"
           "\"v1_uv\":1000000},"
           "\"capacity\":1.0,\"power\":{\"dyn_coeff\":0.5,\"static_w_per_v\":0.1,\"idle_w\":0.05},"
           "\"transition_latency_ns\":%u,\"governor\":\"%s\"}]}",
           invariant ? "true" : "false", start_khz, step_khz, count, latency_ns, governor);
  return open_json(json);
}

typedef struct freq_trace {
  int n;
  uint64_t t[4096];
  uint32_t khz[4096];
  int domain[4096];
} freq_trace;

static inline void record_freq(void *user, const dynrt_sim_trace_rec *r) {
  freq_trace *tr = user;
  if (r->kind != DYNRT_SIM_TRACE_FREQ || tr->n >= 4096) return;
  tr->t[tr->n] = r->t;
  tr->khz[tr->n] = r->khz;
  tr->domain[tr->n] = r->domain;
  tr->n++;
}

#endif

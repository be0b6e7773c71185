/* fuzz_board.c - libFuzzer target: arbitrary bytes as a board description
 * (platforms/NAME.json, sim_board.c) opened as a simulated platform. A rejected text must
 * leave a message; an accepted board is driven briefly: every OPP of every domain, a job
 * per domain, every named mode, 50 ms of virtual time. Nothing may divide by zero, go
 * non-finite or move the clock backwards. */
#include <math.h>

#include "dynrt/sim.h"
#include "fuzz_util.h"
#include "platform/sim_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  return 0;
}

static void drive(dynrt_platform *p) {
  const dynrt_platform_info *in = dynrt_platform_get_info(p);
  if (in->ndomains < 1 || in->ndomains > DYNRT_MAX_DOMAINS || in->ncpus > DYNRT_MAX_CPUS) abort();
  for (int d = 0; d < in->ndomains; d++) {
    const dynrt_domain_info *di = dynrt_platform_domain(p, d);
    if (!di || di->nopps < 1 || di->nopps > DYNRT_MAX_OPPS) abort();
    for (int k = 1; k < di->nopps; k++)
      if (di->opps[k].khz <= di->opps[k - 1].khz) abort();
    for (int k = 0; k < di->nopps; k++) {
      uint32_t got = 0;
      dynrt_platform_set_freq(p, d, di->opps[k].khz, &got);
    }
    uint32_t lo = 0, hi = 0;
    if (dynrt_platform_get_limits(p, d, &lo, &hi) || lo > hi) abort();
    double c = 0, m = 0, ns = 0;
    if (!dynrt_sim_split_latency(p, d, 1e6, &c, &m) &&
        !dynrt_sim_predict_ns(p, d, di->opps[di->nopps - 1].khz, di->ncpus > 0 ? 1 : 0, c, m,
                              &ns) &&
        !(isfinite(ns) && ns >= 0))
      abort();
    dynrt_sim_job job;
    uint64_t mask = di->kind == DYNRT_DOMAIN_GPU || di->ncpus < 1 ? 0 : 1ull << di->cpus[0];
    dynrt_sim_job_start(p, 0, di->kind == DYNRT_DOMAIN_GPU ? d : -1, mask, 1e6, 1e5, &job);
  }
  for (int i = 0; i < dynrt_sim_mode_count(p); i++)
    dynrt_sim_schedule_mode(p, 1000000ull * (uint64_t)(i + 1), dynrt_sim_mode_name(p, i));
  dynrt_sim_completion done;
  uint64_t last = dynrt_platform_now(p);
  while (dynrt_sim_run_until(p, 50000000ull, &done) == 1) {
    if (dynrt_platform_now(p) < last) abort();
    last = dynrt_platform_now(p);
  }
  double w = 0, e = 0;
  if (dynrt_sim_power(p, &w, &e) || !isfinite(w) || !isfinite(e) || w < 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dynrt_platform *p = calloc(1, sizeof *p);
  if (!p) return 0;
  if (dynrt__platform_sim_open_text(p, (const char *)data, size, "fuzz.json") == DYNRT_OK)
    drive(p);
  else if (!dynrt_platform_errmsg(p)[0])
    abort();
  if (p->ops && p->ops->close) p->ops->close(p);
  free(p);
  return 0;
}

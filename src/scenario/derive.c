/* derive.c - the work of one simulated job from a library's per-sub-network work split, and
 * the scenario runner's entry to the op-library derivation for a simulated board (the one
 * implementation is dynrt_oplib_derive_board_ex, src/offline/boards.c: latency from the
 * simulator's prediction, energy from a noise-free simulated run of the inference alone,
 * everything modelled and marked so; it opens its own instance of the board). */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "dynrt/offline.h"
#include "dynrt/sim.h"
#include "scenario/scenario.h"

dynrt_status dynrt_scn_job_work(dynrt_platform *sim, const dynrt_oplib *lib, int subnet, int domain,
                                double work_capacity, double *compute_ns, double *memory_ns) {
  const dynrt_oplib_subnet *sn = dynrt_oplib_subnet_at(lib, subnet);
  if (!sn || sn->compute_ns < 0 || sn->memory_ns < 0) return DYNRT_ERR_FORMAT;
  const dynrt_domain_info *di = dynrt_platform_domain(sim, domain);
  if (!di || !(di->capacity > 0)) return DYNRT_ERR_INVALID_ARG;
  double cap_ref = work_capacity > 0 ? work_capacity : 1.0;
  double total = (sn->compute_ns + sn->memory_ns) * cap_ref / di->capacity;
  return dynrt_sim_split_latency(sim, domain, total, compute_ns, memory_ns);
}

dynrt_status dynrt_scn_derive_oplib(const char *spec, const dynrt_oplib *src,
                                    const dynrt_scn_derive_opts *opts, dynrt_oplib **out,
                                    char *errbuf, size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!spec || !src || !out) return DYNRT_ERR_INVALID_ARG;
  *out = NULL;
  if (strncmp(spec, "sim:", 4)) {
    if (errbuf)
      snprintf(errbuf, errlen, "derive: platform '%s': derivation needs a simulated board (sim:...)",
               spec);
    return DYNRT_ERR_UNSUPPORTED;
  }
  dynrt_error err = {0};
  dynrt_status st = dynrt_oplib_derive_board_ex(spec + 4, src, opts, out, &err);
  if (st && errbuf) snprintf(errbuf, errlen, "%s", err.msg);
  return st;
}

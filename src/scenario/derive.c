/* derive.c - operating-point libraries for a simulated board derived from a library's
 * per-sub-network work split (compute and memory ns on a reference core): latency from the
 * simulator's prediction (dynrt_sim_predict_ns), energy from a noise-free simulated run of
 * the inference alone. Everything it produces is modelled and marked so; it never measures
 * real hardware and never changes the caller's platform (it opens its own instance). */
#include <math.h>
#include <string.h>

#include "core/core.h"
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

/* Board name without the " (simulated)" suffix: what op libraries and the manager match. */
static void board_name(const dynrt_platform_info *in, char *buf, size_t size) {
  size_t n = 0;
  while (in->name[n] && in->name[n] != ' ' && in->name[n] != '(') n++;
  snprintf(buf, size, "%.*s", (int)n, in->name);
}

/* Energy (µJ) attributed to one inference run alone at the pinned frequency. */
static dynrt_status run_alone(dynrt_platform *p, int domain, uint64_t mask, double c, double m,
                              double *energy_uj, double *ns) {
  const dynrt_domain_info *di = dynrt_platform_domain(p, domain);
  dynrt_sim_job job;
  dynrt_status st = di->kind == DYNRT_DOMAIN_GPU ? dynrt_sim_job_start(p, 0, domain, 0, c, m, &job)
                                                 : dynrt_sim_job_start(p, 0, -1, mask, c, m, &job);
  if (st) return st;
  dynrt_sim_completion done;
  int r = dynrt_sim_run_until(p, DYNRT_SIM_FOREVER, &done);
  if (r != 1) return r < 0 ? (dynrt_status)r : DYNRT_ERR_INTERNAL;
  *energy_uj = done.energy_uj;
  *ns = (double)(done.end_ns - done.start_ns);
  return DYNRT_OK;
}

dynrt_status dynrt_scn_derive_oplib(const char *spec, const dynrt_oplib *src,
                                    const dynrt_scn_derive_opts *opts, dynrt_oplib **out,
                                    char *errbuf, size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!spec || !src || !out) return DYNRT_ERR_INVALID_ARG;
  *out = NULL;
  dynrt_scn_derive_opts o = {0};
  if (opts) o = *opts;
  dynrt_platform *p = NULL;
  dynrt_oplib *lib = NULL;
  dynrt_status st = dynrt_scn_platform_open(spec, &p, errbuf, errlen);
  if (st) return st;
  const dynrt_platform_info *in = dynrt_platform_get_info(p);
  const char *what = "";
  if (!in->simulated) {
    st = DYNRT_ERR_UNSUPPORTED;
    what = "derivation needs a simulated board (sim:...)";
    goto fail;
  }
  int nsub = dynrt_oplib_num_subnets(src);
  for (int i = 0; i < nsub; i++) {
    const dynrt_oplib_subnet *sn = dynrt_oplib_subnet_at(src, i);
    if (sn->compute_ns < 0 || sn->memory_ns < 0) {
      if (errbuf)
        snprintf(errbuf, errlen,
                 "derive: op library of '%s': sub-network %d ('%.80s') has no work split "
                 "(work.compute_ns / work.memory_ns); the simulator needs it",
                 dynrt_oplib_model_name(src), i, sn->config);
      dynrt_platform_close(p);
      return DYNRT_ERR_FORMAT;
    }
  }
  char board[64];
  board_name(in, board, sizeof board);
  if ((st = dynrt_oplib_create(dynrt_oplib_model_name(src), dynrt_oplib_model_file(src), board,
                               &lib)) ||
      (st = dynrt_sim_set_noise(p, 0, 0))) {
    what = "create";
    goto fail;
  }
  if (dynrt_oplib_model_sha256(src))
    dynrt_oplib_set_model_sha256(lib, dynrt_oplib_model_sha256(src));
  for (int i = 0; i < nsub; i++)
    if ((st = dynrt_oplib_add_subnet(lib, dynrt_oplib_subnet_at(src, i), NULL))) {
      what = "add_subnet";
      goto fail;
    }
  for (int d = 0; d < in->ndomains; d++) {
    const dynrt_domain_info *di = dynrt_platform_domain(p, d);
    int gpu = di->kind == DYNRT_DOMAIN_GPU;
    if ((o.gpu_only && !gpu) || (o.cpu_only && gpu) || !di->nopps) continue;
    double w0 = 0;
    for (int f = 0; f < di->nopps; f++) {
      uint32_t khz = di->opps[f].khz, actual = 0;
      if ((st = dynrt_platform_set_freq(p, d, khz, &actual))) {
        what = dynrt_platform_errmsg(p);
        goto fail;
      }
      /* Idle power of the domain above its lowest OPP: the constant rest is the same in
       * every plan, so the manager's choice does not depend on it. */
      double w = 0, e = 0;
      if ((st = dynrt_sim_power(p, &w, &e))) goto fail;
      if (f == 0) w0 = w;
      dynrt_oplib_idle idle = {{0}, khz, w - w0 > 0 ? w - w0 : 0};
      snprintf(idle.domain, sizeof idle.domain, "%s", di->name);
      if ((st = dynrt_oplib_add_idle(lib, &idle))) {
        what = "add_idle";
        goto fail;
      }
      int cmax = gpu ? 0 : di->ncpus;
      for (int cores = gpu ? 0 : 1; cores <= cmax; cores++) {
        dynrt_oplib_setting set = {{0}, khz, cores};
        snprintf(set.domain, sizeof set.domain, "%s", di->name);
        int si = 0;
        if ((st = dynrt_oplib_add_setting(lib, &set, &si))) {
          what = "add_setting";
          goto fail;
        }
        uint64_t mask = 0;
        for (int k = 0; k < cores; k++) mask |= 1ull << di->cpus[k];
        for (int i = 0; i < nsub; i++) {
          double c = 0, m = 0, pred = 0, ej = 0, ns = 0;
          if ((st = dynrt_scn_job_work(p, src, i, d, o.work_capacity, &c, &m)) ||
              (st = dynrt_sim_predict_ns(p, d, khz, gpu ? 1 : cores, c, m, &pred)) ||
              (st = run_alone(p, d, mask, c, m, &ej, &ns))) {
            what = dynrt_platform_errmsg(p);
            goto fail;
          }
          dynrt_oplib_point pt = {.subnet = i,
                                  .setting = si,
                                  .latency_mean_ms = pred * 1e-6,
                                  .energy_mj = ej * 1e-3,
                                  .modelled = 1};
          if ((st = dynrt_oplib_add_point(lib, &pt))) {
            what = "add_point";
            goto fail;
          }
        }
      }
    }
  }
  if ((st = dynrt_oplib_finalize(lib))) {
    what = dynrt_oplib_errmsg(lib);
    goto fail;
  }
  dynrt_platform_close(p);
  *out = lib;
  return DYNRT_OK;
fail:
  if (errbuf && errlen && !errbuf[0])
    snprintf(errbuf, errlen, "derive: op library of '%s' on '%s': %s (%s)",
             dynrt_oplib_model_name(src), spec, what, dynrt_status_str(st));
  dynrt_oplib_destroy(lib);
  dynrt_platform_close(p);
  return st ? st : DYNRT_ERR_INTERNAL;
}

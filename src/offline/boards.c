/*
 * boards.c - op libraries for simulated boards derived from a host library: each
 * sub-network's work split (measured on a core of capacity work_capacity; 1 = a host core)
 * is scaled by the board domain's capacity, split into a compute part that scales with frequency
 * and a memory part that does not (the domain's memory fraction, dynrt_sim_split_latency), and
 * predicted per (domain, OPP, cores) with dynrt_sim_predict_ns; energy per inference comes from a
 * noise-free simulated run of the inference alone on the board model. Every point is
 * modelled and marked so. It never measures anything.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "dynrt/oplib.h"
#include "dynrt/sim.h"
#include "offline/offline_int.h"

#define fail dynrt__offline_fail

/* Energy (µJ) of one inference run alone at the current (pinned) frequency. */
static dynrt_status run_alone(dynrt_platform *p, uint64_t mask, int gpu_domain, double c, double m,
                              double *uj) {
  dynrt_sim_job job;
  dynrt_status st = gpu_domain >= 0 ? dynrt_sim_job_start(p, 0, gpu_domain, 0, c, m, &job)
                                    : dynrt_sim_job_start(p, 0, -1, mask, c, m, &job);
  if (st) return st;
  dynrt_sim_completion done;
  int r = dynrt_sim_run_until(p, DYNRT_SIM_FOREVER, &done);
  if (r != 1) return r < 0 ? (dynrt_status)r : DYNRT_ERR_INTERNAL;
  *uj = done.energy_uj;
  return DYNRT_OK;
}

/* p95/p50 of the host's one-core point of sub-network i (1 when unknown). */
static double tail_ratio(const dynrt_oplib *host, int i) {
  double best = 1.0;
  for (int s = 0; s < dynrt_oplib_num_settings(host); s++) {
    const dynrt_oplib_point *pt = dynrt_oplib_lookup(host, i, s);
    if (pt && dynrt_oplib_setting_at(host, s)->cores == 1 && pt->latency_p50_ms > 0)
      best = pt->latency_p95_ms / pt->latency_p50_ms;
  }
  return best >= 1.0 ? best : 1.0;
}

dynrt_status dynrt_oplib_derive_board(const char *board, const dynrt_oplib *host, int cpu_only,
                                      dynrt_oplib **out, dynrt_error *err) {
  dynrt_derive_opts o = {.cpu_only = cpu_only};
  return dynrt_oplib_derive_board_ex(board, host, &o, out, err);
}

dynrt_status dynrt_oplib_derive_board_ex(const char *board, const dynrt_oplib *host,
                                         const dynrt_derive_opts *opts, dynrt_oplib **out,
                                         dynrt_error *err) {
  if (out) *out = NULL;
  if (!board || !host || !out) return fail(err, DYNRT_ERR_INVALID_ARG, "derive: NULL argument");
  dynrt_derive_opts o = {0};
  if (opts) o = *opts;
  if (!(o.work_capacity >= 0) || o.work_capacity > 1e6 || (o.cpu_only && o.gpu_only))
    return fail(
        err, DYNRT_ERR_INVALID_ARG,
        "derive: options out of range (work_capacity %g, cpu_only and gpu_only both set: %d)",
        o.work_capacity, o.cpu_only && o.gpu_only);
  double cap_ref = o.work_capacity > 0 ? o.work_capacity : 1.0;
  char msg[512];
  dynrt_platform *p = NULL;
  dynrt_oplib *lib = NULL;
  dynrt_status st = dynrt_sim_open(board, &p, msg, sizeof msg);
  if (st) return fail(err, st, "derive: board %s: %s", board, msg);
  int nsub = dynrt_oplib_num_subnets(host);
  for (int i = 0; i < nsub; i++) {
    const dynrt_oplib_subnet *sn = dynrt_oplib_subnet_at(host, i);
    if (!(sn->compute_ns >= 0) || !(sn->memory_ns >= 0) || sn->compute_ns + sn->memory_ns <= 0) {
      st = fail(err, DYNRT_ERR_FORMAT,
                "derive: op library of '%s': sub-network %d ('%.60s') has no work split "
                "(work.compute_ns / work.memory_ns); the simulator needs it",
                dynrt_oplib_model_name(host), i, sn->config);
      goto out;
    }
  }
  const dynrt_platform_info *in = dynrt_platform_get_info(p);
  char name[64];
  size_t nl = 0;
  while (in->name[nl] && in->name[nl] != ' ' && in->name[nl] != '(' && nl < sizeof name - 1) nl++;
  snprintf(name, sizeof name, "%.*s", (int)nl, in->name);
  if ((st = dynrt_oplib_create(dynrt_oplib_model_name(host), dynrt_oplib_model_file(host), name,
                               &lib)) ||
      (st = dynrt_sim_set_noise(p, 0, 0))) {
    fail(err, st, "derive: %s: cannot start", board);
    goto out;
  }
  if (dynrt_oplib_model_sha256(host))
    dynrt_oplib_set_model_sha256(lib, dynrt_oplib_model_sha256(host));
  for (int i = 0; i < nsub; i++)
    if ((st = dynrt_oplib_add_subnet(lib, dynrt_oplib_subnet_at(host, i), NULL))) goto liberr;
  for (int d = 0; d < in->ndomains; d++) {
    const dynrt_domain_info *di = dynrt_platform_domain(p, d);
    int gpu = di->kind == DYNRT_DOMAIN_GPU;
    if ((gpu && o.cpu_only) || (!gpu && o.gpu_only) || !di->nopps || !(di->capacity > 0)) continue;
    double w0 = 0;
    for (int f = 0; f < di->nopps; f++) {
      uint32_t khz = di->opps[f].khz, actual = 0;
      double w = 0, e = 0;
      if ((st = dynrt_platform_set_freq(p, d, khz, &actual)) || (st = dynrt_sim_settle(p)) ||
          (st = dynrt_sim_power(p, &w, &e))) {
        fail(err, st, "derive: %s: %s", board, dynrt_platform_errmsg(p));
        goto out;
      }
      /* idle power above the lowest OPP (the constant rest does not change any choice) */
      if (f == 0) w0 = w;
      dynrt_oplib_idle idle = {{0}, khz, w - w0 > 0 ? w - w0 : 0};
      snprintf(idle.domain, sizeof idle.domain, "%s", di->name);
      if ((st = dynrt_oplib_add_idle(lib, &idle))) goto liberr;
      for (int cores = gpu ? 0 : 1; cores <= (gpu ? 0 : di->ncpus); cores++) {
        dynrt_oplib_setting set = {{0}, khz, cores};
        snprintf(set.domain, sizeof set.domain, "%s", di->name);
        int si;
        if ((st = dynrt_oplib_add_setting(lib, &set, &si))) goto liberr;
        uint64_t mask = 0;
        for (int k = 0; k < cores; k++) mask |= 1ull << di->cpus[k];
        for (int i = 0; i < nsub; i++) {
          const dynrt_oplib_subnet *sn = dynrt_oplib_subnet_at(host, i);
          double total = (sn->compute_ns + sn->memory_ns) * cap_ref / di->capacity, c, m, ns, uj;
          if ((st = dynrt_sim_split_latency(p, d, total, &c, &m)) ||
              (st = dynrt_sim_predict_ns(p, d, khz, gpu ? 1 : cores, c, m, &ns)) ||
              (st = run_alone(p, mask, gpu ? d : -1, c, m, &uj))) {
            fail(err, st, "derive: %s: %s", board, dynrt_platform_errmsg(p));
            goto out;
          }
          double ms = ns * 1e-6;
          dynrt_oplib_point pt = {i, si, ms, ms, ms * tail_ratio(host, i), uj * 1e-3, 0, 1};
          if ((st = dynrt_oplib_add_point(lib, &pt))) goto liberr;
        }
      }
    }
  }
  if ((st = dynrt_oplib_finalize(lib))) goto liberr;
  *out = lib;
  lib = NULL;
  goto out;
liberr:
  fail(err, st, "derive: %s: %s", board, dynrt_oplib_errmsg(lib));
out:
  dynrt_oplib_destroy(lib);
  dynrt_platform_close(p);
  return st;
}

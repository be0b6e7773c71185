/* platform.c - the platform object: backend selection by spec string, argument checks and
 * error messages common to every backend. Backends live in linux.c, host.c and sim*.c. */
#include <string.h>

#include "platform/platform_int.h"

dynrt_status dynrt_platform_open(const char *spec, dynrt_platform **out, char *errbuf,
                                 size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!out) return DYNRT_ERR_INVALID_ARG;
  *out = NULL;
  if (!spec || !*spec) {
    if (errbuf) snprintf(errbuf, errlen, "platform: empty spec (use linux, host or sim:FILE)");
    return DYNRT_ERR_INVALID_ARG;
  }
  dynrt_platform *p = dynrt__calloc(1, sizeof *p);
  if (!p) {
    if (errbuf) snprintf(errbuf, errlen, "platform: out of memory");
    return DYNRT_ERR_NOMEM;
  }
  const char *colon = strchr(spec, ':');
  size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
  const char *arg = colon ? colon + 1 : NULL;
  dynrt_status (*open_fn)(dynrt_platform *, const char *) = NULL;
  if (nlen == 5 && !strncmp(spec, "linux", 5))
    open_fn = dynrt__platform_linux_open;
  else if (nlen == 4 && !strncmp(spec, "host", 4))
    open_fn = dynrt__platform_host_open;
  else if (nlen == 3 && !strncmp(spec, "sim", 3))
    open_fn = dynrt__platform_sim_open;
  else {
    if (errbuf)
      snprintf(errbuf, errlen,
               "platform: unknown backend '%.*s' in spec '%s' (use linux, host "
               "or sim:FILE)",
               (int)nlen, spec, spec);
    dynrt__free(p);
    return DYNRT_ERR_INVALID_ARG;
  }
  dynrt_status st = open_fn(p, arg);
  if (st != DYNRT_OK) {
    if (errbuf) snprintf(errbuf, errlen, "%s", dynrt__errmsg(&p->err));
    if (p->ops && p->ops->close) p->ops->close(p);
    dynrt__free(p);
    return st;
  }
  DYNRT_ASSERT(p->ops);
  *out = p;
  return DYNRT_OK;
}

void dynrt_platform_close(dynrt_platform *p) {
  if (!p) return;
  if (p->ops && p->ops->close) p->ops->close(p);
  dynrt__free(p);
}

const char *dynrt_platform_errmsg(const dynrt_platform *p) {
  return p ? dynrt__errmsg(&p->err) : "platform: NULL object";
}

const dynrt_platform_info *dynrt_platform_get_info(const dynrt_platform *p) {
  return p ? &p->info : NULL;
}

const dynrt_domain_info *dynrt_platform_domain(const dynrt_platform *p, int domain) {
  if (!p || domain < 0 || domain >= p->info.ndomains) return NULL;
  return &p->domains[domain];
}

int dynrt_platform_cpu_domain(const dynrt_platform *p, int cpu) {
  if (!p) return -1;
  for (int d = 0; d < p->info.ndomains; d++)
    for (int i = 0; i < p->domains[d].ncpus; i++)
      if (p->domains[d].cpus[i] == cpu) return d;
  return -1;
}

uint32_t dynrt__opp_resolve(const dynrt_domain_info *d, uint32_t khz, uint32_t lo, uint32_t hi) {
  if (d->nopps == 0) return khz;
  if (khz < lo) khz = lo;
  if (khz > hi) khz = hi;
  uint32_t best = 0;
  for (int i = 0; i < d->nopps; i++) {
    uint32_t f = d->opps[i].khz;
    if (f >= khz && f <= hi) return f; /* ascending: the first is the lowest >= khz */
    if (f <= hi) best = f;
  }
  return best ? best : d->opps[0].khz;
}

/* Checks shared by every entry point: the object and, where given, the domain. */
static dynrt_status check(dynrt_platform *p, int domain, int need_domain, const char *fn) {
  if (!p) return DYNRT_ERR_INVALID_ARG;
  if (need_domain && (domain < 0 || domain >= p->info.ndomains))
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "%s: domain %d out of range (0..%d)", fn,
                         domain, p->info.ndomains - 1);
  return DYNRT_OK;
}

#define CHECK(dom, need, ptr)                                                                      \
  do {                                                                                             \
    dynrt_status st_ = check(p, dom, need, __func__);                                              \
    if (st_ != DYNRT_OK) return st_;                                                               \
    if (!(ptr))                                                                                    \
      return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "%s: NULL argument", __func__);         \
  } while (0)

#define UNSUPPORTED(op)                                                                            \
  do {                                                                                             \
    if (!p->ops->op)                                                                               \
      return dynrt__seterr(&p->err, DYNRT_ERR_UNSUPPORTED, "%s: not supported by backend %s",      \
                           __func__, p->info.backend);                                             \
  } while (0)

dynrt_status dynrt_platform_get_freq(dynrt_platform *p, int domain, uint32_t *khz) {
  CHECK(domain, 1, khz);
  UNSUPPORTED(get_freq);
  return p->ops->get_freq(p, domain, khz);
}

dynrt_status dynrt_platform_set_freq(dynrt_platform *p, int domain, uint32_t khz,
                                     uint32_t *actual) {
  CHECK(domain, 1, 1);
  UNSUPPORTED(set_freq);
  if (!p->domains[domain].can_set_freq)
    return dynrt__seterr(&p->err, DYNRT_ERR_PERMISSION,
                         "set_freq: domain %s cannot be controlled (monitoring only)",
                         p->domains[domain].name);
  uint32_t tmp;
  return p->ops->set_freq(p, domain, khz, actual ? actual : &tmp);
}

dynrt_status dynrt_platform_get_limits(dynrt_platform *p, int domain, uint32_t *min_khz,
                                       uint32_t *max_khz) {
  CHECK(domain, 1, min_khz && max_khz);
  UNSUPPORTED(get_limits);
  return p->ops->get_limits(p, domain, min_khz, max_khz);
}

dynrt_status dynrt_platform_set_governor(dynrt_platform *p, int domain, const char *governor) {
  CHECK(domain, 1, governor);
  UNSUPPORTED(set_governor);
  return p->ops->set_governor(p, domain, governor);
}

dynrt_status dynrt_platform_get_governor(dynrt_platform *p, int domain, char *buf, size_t size) {
  CHECK(domain, 1, buf && size);
  UNSUPPORTED(get_governor);
  return p->ops->get_governor(p, domain, buf, size);
}

dynrt_status dynrt_platform_available_cpus(dynrt_platform *p, uint64_t *mask) {
  CHECK(0, 0, mask);
  UNSUPPORTED(available_cpus);
  return p->ops->available_cpus(p, mask);
}

dynrt_status dynrt_platform_assign(dynrt_platform *p, int app, uint64_t cpu_mask) {
  CHECK(0, 0, 1);
  UNSUPPORTED(assign);
  if (app < 0) return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "assign: app id %d < 0", app);
  return p->ops->assign(p, app, cpu_mask);
}

dynrt_status dynrt_platform_read_energy(dynrt_platform *p, uint64_t *uj) {
  CHECK(0, 0, uj);
  UNSUPPORTED(read_energy);
  return p->ops->read_energy(p, uj);
}

dynrt_status dynrt_platform_read_power(dynrt_platform *p, double *watts) {
  CHECK(0, 0, watts);
  UNSUPPORTED(read_power);
  return p->ops->read_power(p, watts);
}

dynrt_status dynrt_platform_read_util(dynrt_platform *p, double *util, int ncpus) {
  CHECK(0, 0, util);
  UNSUPPORTED(read_util);
  if (ncpus < 1)
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "read_util: ncpus %d < 1", ncpus);
  return p->ops->read_util(p, util, ncpus);
}

dynrt_status dynrt_platform_read_temp(dynrt_platform *p, double *celsius) {
  CHECK(0, 0, celsius);
  UNSUPPORTED(read_temp);
  return p->ops->read_temp(p, celsius);
}

uint64_t dynrt_platform_now(dynrt_platform *p) {
  if (!p || !p->ops->now) return dynrt_now_ns();
  return p->ops->now(p);
}

int dynrt_platform_poll_event(dynrt_platform *p, dynrt_event *ev) {
  if (!p || !ev || !p->ops->poll_event) return 0;
  return p->ops->poll_event(p, ev);
}

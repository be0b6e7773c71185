/*
 * sim.c - the simulated platform backend: virtual clock, event loop, jobs, background
 * load, timed platform events, CFS-like sharing, PELT per CPU, power and energy, sensor
 * noise, and the dynrt/sim.h API. State is piecewise constant between events; progress
 * and energy are integrated exactly over each segment and nothing is stepped per µs.
 * Board descriptions are parsed in sim_board.c, governors live in gov_*.c.
 */
#include <math.h>
#include <string.h>

#include "platform/sim_int.h"

#define NEVER UINT64_MAX

static const dynrt_platform_ops sim_ops;

static dynrt__sim *sim_of(dynrt_platform *p) {
  return (p && p->ops == &sim_ops) ? (dynrt__sim *)p->backend : NULL;
}

/* ---- noise: xoshiro256** seeded with splitmix64 (deterministic for a seed) ---- */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void rng_seed(dynrt__sim *s, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
  s->seed = seed;
  s->has_spare = 0;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(dynrt__sim *s) {
  uint64_t *r = s->rng;
  uint64_t result = rotl(r[1] * 5, 7) * 9;
  uint64_t t = r[1] << 17;
  r[2] ^= r[0];
  r[3] ^= r[1];
  r[1] ^= r[2];
  r[0] ^= r[3];
  r[2] ^= t;
  r[3] = rotl(r[3], 45);
  return result;
}

/* Standard normal by Marsaglia's polar method; the second value of each pair is kept for
 * the next call (reset with the seed). */
static double rng_gauss(dynrt__sim *s) {
  if (s->has_spare) {
    s->has_spare = 0;
    return s->spare;
  }
  double u, v, q;
  do {
    u = ((rng_next(s) >> 11) * 0x1.0p-53) * 2.0 - 1.0;
    v = ((rng_next(s) >> 11) * 0x1.0p-53) * 2.0 - 1.0;
    q = u * u + v * v;
  } while (q >= 1.0 || q == 0.0);
  double k = sqrt(-2.0 * log(q) / q);
  s->spare = v * k;
  s->has_spare = 1;
  return u * k;
}

/* ---- tracing and the platform event queue ---- */

static void trace(dynrt__sim *s, dynrt_sim_trace_kind kind, int domain, uint32_t khz,
                  dynrt_sim_job job, int app, const dynrt_event *ev) {
  if (!s->trace_fn) return;
  dynrt_sim_trace_rec r;
  memset(&r, 0, sizeof r);
  r.kind = kind;
  r.t = s->now;
  r.domain = domain;
  r.khz = khz;
  r.job = job;
  r.app = app;
  if (ev) r.event = *ev;
  s->trace_fn(s->trace_user, &r);
}

static void push_event(dynrt__sim *s, dynrt_event_kind kind, int domain, uint32_t khz,
                       uint64_t mask) {
  dynrt_event ev = {kind, s->now, domain, khz, mask};
  if (s->evq_count == SIM_EVQ) { /* keep the newest: drop the oldest */
    s->evq_head = (s->evq_head + 1) % SIM_EVQ;
    s->evq_count--;
    DYNRT_LOGW("sim", "platform event queue full: oldest event dropped (poll events)");
  }
  s->evq[(s->evq_head + s->evq_count) % SIM_EVQ] = ev;
  s->evq_count++;
  trace(s, DYNRT_SIM_TRACE_EVENT, domain, khz, 0, -1, &ev);
}

/* ---- domains, CPUs and PELT ---- */

static void dom_apply_idx(dynrt__sim *s, int d, int idx) {
  const dynrt_domain_info *di = &s->p->domains[d];
  sim_domain *sd = &s->dom[d];
  uint32_t fmax = di->opps[di->nopps - 1].khz;
  sd->cur_idx = idx;
  sd->cur_khz = di->opps[idx].khz;
  sd->volts = di->opps[idx].microvolts * 1e-6;
  sd->fscale = (double)fmax / sd->cur_khz;
  sd->mscale = sd->m.mem_freq_exp > 0 ? pow(sd->fscale, sd->m.mem_freq_exp) : 1.0;
  /* arch_set_freq_scale(): (cur << SCHED_CAPACITY_SHIFT) / cpuinfo.max_freq */
  sd->freq_cap = s->freq_invariant ? (uint32_t)(((uint64_t)sd->cur_khz << 10) / fmax) : 1024u;
}

static int cpu_sync(dynrt__sim *s, int c) {
  sim_cpu *cpu = &s->cpu[c];
  const sim_domain *sd = &s->dom[cpu->domain];
  return dynrt__pelt_rq_advance(&cpu->rq, s->now, sd->m.sched_capacity, sd->freq_cap);
}

int dynrt__sim_sync_domain(dynrt__sim *s, int d) {
  const dynrt_domain_info *di = &s->p->domains[d];
  int dec = 0;
  for (int k = 0; k < di->ncpus; k++) dec |= cpu_sync(s, di->cpus[k]);
  return dec;
}

/* The domain runs khz from now on. */
static void dom_switch(dynrt__sim *s, int d, uint32_t khz) {
  const dynrt_domain_info *di = &s->p->domains[d];
  int idx = 0;
  while (idx < di->nopps - 1 && di->opps[idx].khz < khz) idx++;
  DYNRT_ASSERT(di->opps[idx].khz == khz);
  dynrt__sim_sync_domain(s, d); /* PELT up to now at the old frequency scale */
  dom_apply_idx(s, d, idx);
  s->dirty = 1;
  trace(s, DYNRT_SIM_TRACE_FREQ, d, khz, 0, -1, NULL);
}

/* A frequency request. The new OPP takes effect the domain's transition latency later
 * (cpuinfo_transition_latency); until then the old one runs and is what cur reads, as
 * policy->cur is updated only when a transition completes. A request while one is in flight
 * retargets it (its completion time stays); a request for the frequency in effect cancels it.
 * At open (s->started == 0) and with a latency of 0 the change is immediate. */
void dynrt__sim_set_cur(dynrt__sim *s, int d, uint32_t khz) {
  sim_domain *sd = &s->dom[d];
  uint32_t lat_us = s->p->domains[d].transition_us;
  if (!s->started || lat_us == 0) {
    sd->pend_khz = 0;
    if (khz != sd->cur_khz) dom_switch(s, d, khz);
    return;
  }
  if (khz == sd->cur_khz) {
    sd->pend_khz = 0;
    return;
  }
  if (!sd->pend_khz) sd->pend_at = s->now + (uint64_t)lat_us * 1000u;
  sd->pend_khz = khz;
}

/* The target of a request in flight, else the frequency in effect. */
uint32_t dynrt__sim_target_khz(const dynrt__sim *s, int d) {
  return s->dom[d].pend_khz ? s->dom[d].pend_khz : s->dom[d].cur_khz;
}

uint64_t dynrt__sim_cpu_busy(const dynrt__sim *s, int c) {
  const sim_cpu *cpu = &s->cpu[c];
  return cpu->busy_ns + (cpu->rq.nr_running ? s->now - cpu->busy_since : 0);
}

uint64_t dynrt__sim_gpu_busy(const dynrt__sim *s, int d) {
  const sim_domain *sd = &s->dom[d];
  return sd->busy_ns + (sd->gpu_jobs ? s->now - sd->busy_since : 0);
}

/* Changes the runnable entities of CPU c; returns PELT's "decayed" flag. */
static int cpu_change(dynrt__sim *s, int c, int djobs, int dbg) {
  sim_cpu *cpu = &s->cpu[c];
  int dec = cpu_sync(s, c);
  unsigned old = cpu->rq.nr_running;
  cpu->jobs += djobs;
  cpu->bg += dbg;
  DYNRT_ASSERT(cpu->jobs >= 0 && cpu->bg >= 0);
  unsigned nr = (unsigned)(cpu->jobs + cpu->bg);
  if (!old && nr) {
    cpu->busy_since = s->now;
  } else if (old && !nr) {
    cpu->busy_ns += s->now - cpu->busy_since;
    cpu->idle_calls++;
  }
  dynrt__pelt_rq_set_running(&cpu->rq, nr);
  s->dirty = 1;
  return dec;
}

static void gpu_change(dynrt__sim *s, int d, int delta) {
  sim_domain *sd = &s->dom[d];
  int old = sd->gpu_jobs;
  sd->gpu_jobs += delta;
  DYNRT_ASSERT(sd->gpu_jobs >= 0);
  if (!old && sd->gpu_jobs)
    sd->busy_since = s->now;
  else if (old && !sd->gpu_jobs)
    sd->busy_ns += s->now - sd->busy_since;
  s->dirty = 1;
}

/* Calls the governor hook (cpufreq_update_util) of every domain in the bit mask. */
static void run_hooks(dynrt__sim *s, unsigned dom_mask) {
  for (int d = 0; dom_mask; d++, dom_mask >>= 1)
    if (dom_mask & 1) dynrt__gov_hook(s, d);
}

static int hook_governed(const sim_domain *sd) {
  return sd->gov.kind == DYNRT__GOV_SCHEDUTIL || sd->gov.kind == DYNRT__GOV_ONDEMAND ||
         sd->gov.kind == DYNRT__GOV_CONSERVATIVE;
}

/* Recomputes the effective policy limits of d from hardware, user, cap and mode limits;
 * they are snapped to OPPs. Returns 1 when they changed (and tells the governor). */
static int update_limits(dynrt__sim *s, int d, int notify) {
  const dynrt_domain_info *di = &s->p->domains[d];
  sim_domain *sd = &s->dom[d];
  uint32_t mx = di->opps[di->nopps - 1].khz, mn = di->opps[0].khz;
  if (sd->user_max && sd->user_max < mx) mx = sd->user_max;
  if (sd->cap_max && sd->cap_max < mx) mx = sd->cap_max;
  if (sd->mode_max && sd->mode_max < mx) mx = sd->mode_max;
  if (sd->user_min > mn) mn = sd->user_min;
  if (sd->mode_min > mn) mn = sd->mode_min;
  int hi = di->nopps - 1, lo = 0;
  while (hi > 0 && di->opps[hi].khz > mx) hi--;
  while (lo < di->nopps - 1 && di->opps[lo].khz < mn) lo++;
  if (lo > hi) lo = hi; /* the maximum wins, as cpufreq and devfreq do */
  int changed = sd->pol_min != di->opps[lo].khz || sd->pol_max != di->opps[hi].khz;
  sd->pol_min = di->opps[lo].khz;
  sd->pol_max = di->opps[hi].khz;
  if (changed && notify) dynrt__gov_limits(s, d);
  /* Whatever the governor did, a change in flight never lands outside the new limits. */
  if (changed && sd->pend_khz && (sd->pend_khz > sd->pol_max || sd->pend_khz < sd->pol_min))
    dynrt__sim_set_cur(s, d, sd->pend_khz > sd->pol_max ? sd->pol_max : sd->pol_min);
  return changed;
}

/* ---- rates and power (recomputed only when something changed) ---- */

static void recompute(dynrt__sim *s) {
  double dyn_core[DYNRT_MAX_DOMAINS], over_core[DYNRT_MAX_DOMAINS];
  double P = s->base_w;
  for (int d = 0; d < s->ndom; d++) {
    const dynrt_domain_info *di = &s->p->domains[d];
    const sim_domain *sd = &s->dom[d];
    double v = sd->volts;
    dyn_core[d] = sd->m.dyn_coeff * v * v * (sd->cur_khz * 1e-6);
    over_core[d] = 0;
    if (di->kind == DYNRT_DOMAIN_GPU) {
      double fixed = sd->m.idle_w + sd->m.static_w_per_v * v;
      P += fixed + (sd->gpu_jobs ? dyn_core[d] : 0);
      over_core[d] = fixed;
      continue;
    }
    int online = 0, busy = 0;
    for (int k = 0; k < di->ncpus; k++) {
      const sim_cpu *c = &s->cpu[di->cpus[k]];
      if (!c->online) continue;
      online++;
      busy += c->rq.nr_running > 0;
    }
    if (!online) continue; /* domain powered off */
    double stat = sd->m.static_w_per_v * v * (sd->m.static_per_core ? online : 1);
    P += sd->m.idle_w + stat + busy * dyn_core[d];
    over_core[d] = (sd->m.idle_w + stat) / online;
  }
  s->power_w = P;
  uint64_t next = NEVER;
  for (int a = 0; a < s->nactive; a++) {
    sim_job *j = &s->jobs[s->active[a]];
    double t_eff; /* ns for the whole job at the current state */
    if (j->gpu) {
      const sim_domain *sd = &s->dom[j->domain];
      int n = sd->gpu_jobs;
      t_eff = j->compute_ns * sd->fscale * (1.0 + (n - 1) * sd->m.share_kappa) +
              j->memory_ns * sd->mscale;
      j->power_w = (dyn_core[j->domain] + over_core[j->domain]) / n;
    } else {
      double worst = 0, pw = 0;
      double cap_ref = s->p->domains[j->domain].capacity;
      for (int t = 0; t < j->nthreads; t++) {
        const sim_cpu *c = &s->cpu[j->thread_cpu[t]];
        const sim_domain *sd = &s->dom[c->domain];
        unsigned nr = c->rq.nr_running;
        double ti = j->compute_ns * sd->fscale;
        if (c->domain != j->domain) ti *= cap_ref / s->p->domains[c->domain].capacity;
        ti += j->memory_ns * sd->mscale;
        ti *= nr; /* a 1/nr share of the core */
        if (ti > worst) worst = ti;
        pw += (dyn_core[c->domain] + over_core[c->domain]) / nr;
      }
      t_eff = worst / j->speedup;
      j->power_w = pw;
    }
    j->rate = 1.0 / t_eff;
    double left = j->remaining > 0 ? ceil(j->remaining * t_eff) : 0;
    j->done_ns = left >= 9e18 ? NEVER : s->now + (uint64_t)left;
    if (j->done_ns < next) next = j->done_ns;
  }
  s->next_done = next;
  s->dirty = 0;
}

static void integrate(dynrt__sim *s, uint64_t t) {
  DYNRT_ASSERT(t >= s->now && !s->dirty);
  if (t == s->now) return;
  double dt = (double)(t - s->now);
  s->energy_uj += s->power_w * dt * 1e-3; /* W * ns = 1e-3 µJ */
  for (int a = 0; a < s->nactive; a++) {
    sim_job *j = &s->jobs[s->active[a]];
    double before = j->remaining;
    j->remaining -= j->rate * dt;
    if (before > DYNRT_SIM_TAIL_FRACTION && j->remaining <= DYNRT_SIM_TAIL_FRACTION && j->rate > 0)
      j->tail_start = (double)s->now + (before - DYNRT_SIM_TAIL_FRACTION) / j->rate;
    j->energy_uj += j->power_w * dt * 1e-3;
  }
  s->now = t;
}

/* ---- jobs ---- */

static dynrt_sim_job job_handle(const dynrt__sim *s, int slot) {
  return ((uint64_t)s->jobs[slot].gen << 8) | (uint64_t)slot;
}

static sim_job *job_lookup(dynrt__sim *s, dynrt_sim_job h, int *slot) {
  int sl = (int)(h & 0xff);
  uint32_t gen = (uint32_t)(h >> 8);
  if (sl >= SIM_MAX_JOBS || !gen || s->jobs[sl].gen != gen) return NULL;
  if (slot) *slot = sl;
  return &s->jobs[sl];
}

/* Removes a running job: frees its cores, runs the governor hooks, fills *rec. */
static void job_end(dynrt__sim *s, int slot, int cancelled, dynrt_sim_completion *rec) {
  sim_job *j = &s->jobs[slot];
  rec->job = job_handle(s, slot);
  rec->app = j->app;
  rec->domain = j->domain;
  rec->start_ns = j->start_ns;
  rec->end_ns = s->now;
  rec->energy_uj = j->energy_uj;
  rec->cancelled = cancelled;
  rec->tail_ns = 0;
  if (!cancelled) {
    /* the crossing can fall in the last step before the completion (done_ns is rounded up) */
    double t0 = j->tail_start > 0
                    ? j->tail_start
                    : (double)s->now - DYNRT_SIM_TAIL_FRACTION / (j->rate > 0 ? j->rate : 1);
    rec->tail_ns = (double)s->now > t0 ? (uint64_t)llround((double)s->now - t0) : 0;
  }
  for (int a = 0; a < s->nactive; a++)
    if (s->active[a] == slot) {
      s->active[a] = s->active[--s->nactive];
      break;
    }
  unsigned dec = 0;
  if (j->gpu) {
    gpu_change(s, j->domain, -1);
  } else {
    for (int t = 0; t < j->nthreads; t++) {
      int c = j->thread_cpu[t];
      if (cpu_change(s, c, -1, 0)) dec |= 1u << s->cpu[c].domain;
    }
  }
  j->gen = 0;
  s->free_slots[s->nfree++] = slot;
  trace(s, DYNRT_SIM_TRACE_JOB_END, rec->domain, 0, rec->job, rec->app, NULL);
  run_hooks(s, dec);
}

static void queue_done(dynrt__sim *s, const dynrt_sim_completion *rec) {
  if (s->done_count == SIM_MAX_JOBS) {
    s->done_head = (s->done_head + 1) % SIM_MAX_JOBS;
    s->done_count--;
    DYNRT_LOGW("sim", "completion queue full: oldest completion dropped (poll completions)");
  }
  s->done[(s->done_head + s->done_count) % SIM_MAX_JOBS] = *rec;
  s->done_count++;
}

/* ---- background load ---- */

static unsigned bg_apply(dynrt__sim *s, sim_bg *b, int on) {
  unsigned dec = 0;
  for (int c = 0; c < s->ncpus; c++) {
    if (!(b->cpu_mask >> c & 1) || !s->cpu[c].online) continue;
    if (cpu_change(s, c, 0, on ? 1 : -1)) dec |= 1u << s->cpu[c].domain;
  }
  b->on = on;
  return dec;
}

static uint64_t loaded_mask(const dynrt__sim *s) {
  uint64_t m = 0;
  for (int i = 0; i < SIM_MAX_BG; i++)
    if (s->bg[i].active && s->bg[i].present) m |= s->bg[i].cpu_mask;
  return m;
}

static void bg_toggle(dynrt__sim *s, sim_bg *b) {
  unsigned dec;
  if (b->on) {
    dec = bg_apply(s, b, 0);
    b->next_toggle += b->period_ns - b->on_ns;
  } else {
    dec = bg_apply(s, b, 1);
    b->next_toggle += b->on_ns;
  }
  run_hooks(s, dec);
}

/* ---- timed events ---- */

static dynrt_status timed_add(dynrt__sim *s, const sim_timed *ev) {
  if (s->ntimed == SIM_MAX_TIMED)
    return dynrt__seterr(&s->p->err, DYNRT_ERR_BUSY, "sim: more than %d pending timed events",
                         SIM_MAX_TIMED);
  int i = s->ntimed;
  while (i > 0 && s->timed[i - 1].t > ev->t) {
    s->timed[i] = s->timed[i - 1];
    i--;
  }
  s->timed[i] = *ev;
  s->timed[i].seq = s->timed_seq++;
  s->ntimed++;
  return DYNRT_OK;
}

static uint64_t available_mask(const dynrt__sim *s) {
  uint64_t m = 0;
  for (int c = 0; c < s->ncpus; c++)
    if (s->cpu[c].online && !s->cpu[c].taken) m |= 1ull << c;
  return m;
}

static void set_online(dynrt__sim *s, uint64_t online) {
  unsigned dec = 0;
  for (int c = 0; c < s->ncpus; c++) {
    int want = (int)(online >> c & 1);
    sim_cpu *cpu = &s->cpu[c];
    if (want == cpu->online) continue;
    if (want) {
      cpu->online = 1;
      for (int i = 0; i < SIM_MAX_BG; i++) {
        sim_bg *b = &s->bg[i];
        if (b->active && b->present && b->on && (b->cpu_mask >> c & 1))
          if (cpu_change(s, c, 0, 1)) dec |= 1u << cpu->domain;
      }
      continue;
    }
    /* Going offline: the background entities stop, job threads migrate to the lowest
     * online core of the same domain, else the lowest online core. */
    int dst = -1;
    for (int k = 0; k < s->ncpus && dst < 0; k++)
      if (k != c && (online >> k & 1) && s->cpu[k].domain == cpu->domain) dst = k;
    for (int k = 0; k < s->ncpus && dst < 0; k++)
      if (k != c && (online >> k & 1)) dst = k;
    DYNRT_ASSERT(dst >= 0);
    for (int a = 0; a < s->nactive; a++) {
      sim_job *j = &s->jobs[s->active[a]];
      if (j->gpu) continue;
      for (int t = 0; t < j->nthreads; t++)
        if (j->thread_cpu[t] == c) {
          j->thread_cpu[t] = (int8_t)dst;
          cpu_change(s, c, -1, 0);
          if (cpu_change(s, dst, 1, 0)) dec |= 1u << s->cpu[dst].domain;
        }
    }
    if (cpu->bg) cpu_change(s, c, 0, -cpu->bg);
    cpu->online = 0;
    dec |= 1u << cpu->domain;
  }
  s->dirty = 1;
  run_hooks(s, dec);
}

static void fire_timed(dynrt__sim *s, const sim_timed *ev) {
  switch (ev->kind) {
  case SIM_T_CAP: {
    sim_domain *sd = &s->dom[ev->domain];
    sd->cap_max = ev->khz;
    update_limits(s, ev->domain, 1);
    push_event(s, DYNRT_EVENT_FREQ_CAP, ev->domain, sd->pol_max, 0);
    break;
  }
  case SIM_T_TAKE: {
    for (int c = 0; c < s->ncpus; c++) s->cpu[c].taken = (int)(ev->mask >> c & 1);
    push_event(s, DYNRT_EVENT_CPUS_CHANGED, -1, 0, available_mask(s));
    break;
  }
  case SIM_T_MODE: {
    const sim_mode *md = &s->modes[ev->index];
    uint64_t before = available_mask(s);
    uint32_t old_max[DYNRT_MAX_DOMAINS];
    s->cur_mode = ev->index;
    set_online(s, md->online_mask);
    for (int d = 0; d < s->ndom; d++) {
      old_max[d] = s->dom[d].pol_max;
      s->dom[d].mode_min = md->min_khz[d];
      s->dom[d].mode_max = md->max_khz[d];
      update_limits(s, d, 1);
    }
    if (available_mask(s) != before)
      push_event(s, DYNRT_EVENT_CPUS_CHANGED, -1, 0, available_mask(s));
    for (int d = 0; d < s->ndom; d++)
      if (s->dom[d].pol_max != old_max[d])
        push_event(s, DYNRT_EVENT_FREQ_CAP, d, s->dom[d].pol_max, 0);
    break;
  }
  case SIM_T_BG_START: {
    sim_bg *b = &s->bg[ev->index];
    if (!b->active || b->id != ev->khz || b->present) break;
    b->present = 1;
    b->next_toggle = b->on_ns >= b->period_ns ? NEVER : s->now + b->on_ns;
    run_hooks(s, bg_apply(s, b, 1));
    push_event(s, DYNRT_EVENT_LOAD_CHANGED, -1, 0, loaded_mask(s));
    break;
  }
  case SIM_T_BG_END: {
    sim_bg *b = &s->bg[ev->index];
    if (!b->active || b->id != ev->khz) break;
    int was = b->present;
    if (b->on) run_hooks(s, bg_apply(s, b, 0));
    b->present = 0;
    b->active = 0;
    if (was) push_event(s, DYNRT_EVENT_LOAD_CHANGED, -1, 0, loaded_mask(s));
    break;
  }
  }
}

/* ---- the event loop ---- */

static int tick_needed(const dynrt__sim *s) {
  for (int c = 0; c < s->ncpus; c++)
    if (s->cpu[c].rq.nr_running && s->cpu[c].online && hook_governed(&s->dom[s->cpu[c].domain]))
      return 1;
  return 0;
}

static uint64_t next_tick_time(const dynrt__sim *s) {
  uint64_t t = (s->now + s->tick_ns - 1) / s->tick_ns * s->tick_ns;
  if (s->last_tick != NEVER && t <= s->last_tick) t = s->last_tick + s->tick_ns;
  return t;
}

static uint64_t next_event_time(dynrt__sim *s) {
  if (s->dirty) recompute(s);
  uint64_t t = s->next_done;
  for (int d = 0; d < s->ndom; d++)
    if (s->dom[d].pend_khz && s->dom[d].pend_at < t) t = s->dom[d].pend_at;
  if (s->ntimed && s->timed[0].t < t) t = s->timed[0].t;
  for (int i = 0; i < s->bg_hi; i++)
    if (s->bg[i].active && s->bg[i].present && s->bg[i].next_toggle < t) t = s->bg[i].next_toggle;
  for (int d = 0; d < s->ndom; d++) {
    if (s->dom[d].gov.kind != DYNRT__GOV_SIMPLE_ONDEMAND) continue;
    uint64_t g = dynrt__gov_next_timer(s, d);
    if (g < t) t = g;
  }
  if (tick_needed(s)) {
    uint64_t tk = next_tick_time(s);
    if (tk < t) t = tk;
  }
  return t;
}

static void tick(dynrt__sim *s) {
  s->last_tick = s->now;
  unsigned dec = 0;
  for (int c = 0; c < s->ncpus; c++) {
    sim_cpu *cpu = &s->cpu[c];
    if (!cpu->online || !cpu->rq.nr_running || !hook_governed(&s->dom[cpu->domain])) continue;
    if (cpu_sync(s, c)) dec |= 1u << cpu->domain;
  }
  run_hooks(s, dec);
}

/* Processes everything due at s->now (frequency changes landing, timed events, background
 * phases, completions, governor timers, the tick), in that order. */
static void process_due(dynrt__sim *s) {
  for (int d = 0; d < s->ndom; d++) {
    sim_domain *sd = &s->dom[d];
    if (sd->pend_khz && sd->pend_at <= s->now) {
      uint32_t khz = sd->pend_khz;
      sd->pend_khz = 0;
      dom_switch(s, d, khz);
    }
  }
  if (s->dirty) recompute(s);
  while (s->ntimed && s->timed[0].t <= s->now) {
    sim_timed ev = s->timed[0];
    memmove(&s->timed[0], &s->timed[1], (size_t)(s->ntimed - 1) * sizeof s->timed[0]);
    s->ntimed--;
    fire_timed(s, &ev);
  }
  for (int i = 0; i < s->bg_hi; i++) {
    sim_bg *b = &s->bg[i];
    while (b->active && b->present && b->next_toggle <= s->now) bg_toggle(s, b);
  }
  for (int a = 0; a < s->nactive;) {
    int slot = s->active[a];
    if (s->jobs[slot].done_ns <= s->now) {
      dynrt_sim_completion rec;
      s->jobs[slot].remaining = 0;
      job_end(s, slot, 0, &rec);
      queue_done(s, &rec);
    } else {
      a++;
    }
  }
  for (int d = 0; d < s->ndom; d++)
    if (s->dom[d].gov.kind == DYNRT__GOV_SIMPLE_ONDEMAND && dynrt__gov_next_timer(s, d) <= s->now)
      dynrt__gov_timer(s, d);
  if (tick_needed(s) && next_tick_time(s) <= s->now) tick(s);
}

/* Advances to t_limit; with stop_on_done, returns 1 as soon as a completion is queued. */
static int advance(dynrt__sim *s, uint64_t t_limit, int stop_on_done) {
  for (;;) {
    if (stop_on_done && s->done_count) return 1;
    uint64_t te = next_event_time(s);
    if (te > t_limit) {
      integrate(s, t_limit);
      return 0;
    }
    integrate(s, te);
    process_due(s);
  }
}

/* Applies what is due now (after scheduling something at the current time). */
static void run_due(dynrt__sim *s) {
  if (s->dirty) recompute(s);
  process_due(s);
}

/* ---- dynrt/sim.h ---- */

#define GET_SIM(p)                                                                                 \
  dynrt__sim *s = sim_of(p);                                                                       \
  if (!s) {                                                                                        \
    if (p)                                                                                         \
      dynrt__seterr(&(p)->err, DYNRT_ERR_UNSUPPORTED, "%s: platform backend is not sim",           \
                    __func__);                                                                     \
    return p ? DYNRT_ERR_UNSUPPORTED : DYNRT_ERR_INVALID_ARG;                                      \
  }

static dynrt_status einval(dynrt__sim *s, const char *fn, const char *what) {
  return dynrt__seterr(&s->p->err, DYNRT_ERR_INVALID_ARG, "%s: %s", fn, what);
}

static int domain_ok(const dynrt__sim *s, int d) { return d >= 0 && d < s->ndom; }

dynrt_status dynrt_sim_advance_to(dynrt_platform *p, uint64_t t) {
  GET_SIM(p);
  if (t < s->now)
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG,
                         "dynrt_sim_advance_to: t = %llu ns is before now = %llu ns",
                         (unsigned long long)t, (unsigned long long)s->now);
  advance(s, t, 0);
  return DYNRT_OK;
}

dynrt_status dynrt_sim_settle(dynrt_platform *p) {
  GET_SIM(p);
  for (int round = 0; round < 16; round++) { /* a governor may ask again as a change lands */
    uint64_t t = 0;
    for (int d = 0; d < s->ndom; d++)
      if (s->dom[d].pend_khz && s->dom[d].pend_at > t) t = s->dom[d].pend_at;
    if (!t) return DYNRT_OK;
    advance(s, t, 0);
  }
  return DYNRT_OK; /* a governor still changing frequency: it is running, not settling */
}

int dynrt_sim_poll_completion(dynrt_platform *p, dynrt_sim_completion *done) {
  dynrt__sim *s = sim_of(p);
  if (!s || !done || !s->done_count) return 0;
  *done = s->done[s->done_head];
  s->done_head = (s->done_head + 1) % SIM_MAX_JOBS;
  s->done_count--;
  return 1;
}

int dynrt_sim_run_until(dynrt_platform *p, uint64_t t_limit, dynrt_sim_completion *done) {
  GET_SIM(p);
  if (!done) return einval(s, __func__, "NULL completion");
  if (!s->done_count) {
    if (t_limit < s->now) return einval(s, __func__, "t_limit before now");
    if (!advance(s, t_limit, 1)) return 0;
  }
  return dynrt_sim_poll_completion(p, done);
}

dynrt_status dynrt_sim_next_completion(dynrt_platform *p, uint64_t *t) {
  GET_SIM(p);
  if (!t) return einval(s, __func__, "NULL argument");
  if (s->dirty) recompute(s);
  if (!s->nactive || s->next_done == NEVER)
    return dynrt__seterr(&p->err, DYNRT_ERR_NOT_FOUND, "%s: no running job", __func__);
  *t = s->next_done;
  return DYNRT_OK;
}

dynrt_status dynrt_sim_job_start(dynrt_platform *p, int app, int domain, uint64_t cpu_mask,
                                 double compute_ns, double memory_ns, dynrt_sim_job *job) {
  GET_SIM(p);
  if (!job) return einval(s, __func__, "NULL job");
  *job = 0;
  if (!(compute_ns >= 0) || !(memory_ns >= 0) || !isfinite(compute_ns) || !isfinite(memory_ns) ||
      compute_ns + memory_ns <= 0)
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG,
                         "%s: compute_ns %g and memory_ns %g must be >= 0, finite, not both 0",
                         __func__, compute_ns, memory_ns);
  int gpu = domain >= 0;
  if (gpu) {
    if (!domain_ok(s, domain) || p->domains[domain].kind != DYNRT_DOMAIN_GPU)
      return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG,
                           "%s: domain %d is not a GPU domain (CPU jobs pass -1 and a CPU mask)",
                           __func__, domain);
  } else {
    if (!cpu_mask && app >= 0 && app < SIM_MAX_APPS) cpu_mask = s->app_mask[app];
    if (!cpu_mask)
      return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG,
                           "%s: app %d: empty CPU mask and none assigned", __func__, app);
    if (s->ncpus < 64 && (cpu_mask >> s->ncpus))
      return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG,
                           "%s: CPU mask 0x%llx names CPUs beyond %d", __func__,
                           (unsigned long long)cpu_mask, s->ncpus - 1);
    for (int c = 0; c < s->ncpus; c++)
      if ((cpu_mask >> c & 1) && !s->cpu[c].online)
        return dynrt__seterr(&p->err, DYNRT_ERR_STATE, "%s: CPU %d is offline", __func__, c);
  }
  if (!s->nfree)
    return dynrt__seterr(&p->err, DYNRT_ERR_BUSY, "%s: %d jobs already running", __func__,
                         SIM_MAX_JOBS);
  int slot = s->free_slots[--s->nfree];
  sim_job *j = &s->jobs[slot];
  memset(j, 0, sizeof *j);
  if (++s->gen_counter == 0 || s->gen_counter > 0xffffffffu) s->gen_counter = 1;
  j->gen = s->gen_counter;
  j->app = app;
  j->gpu = gpu;
  double noise = 1.0;
  if (s->lat_sigma > 0)
    noise = exp(s->lat_sigma * rng_gauss(s) - 0.5 * s->lat_sigma * s->lat_sigma);
  j->compute_ns = compute_ns * noise;
  j->memory_ns = memory_ns * noise;
  j->remaining = 1.0;
  j->start_ns = s->now;
  s->active[s->nactive++] = slot;
  unsigned dec = 0;
  if (gpu) {
    j->domain = domain;
    j->speedup = 1.0;
    gpu_change(s, domain, 1);
  } else {
    for (int c = 0; c < s->ncpus; c++)
      if (cpu_mask >> c & 1) j->thread_cpu[j->nthreads++] = (int8_t)c;
    j->domain = s->cpu[j->thread_cpu[0]].domain;
    double pf = s->parallel_fraction;
    j->speedup = 1.0 / ((1.0 - pf) + pf / j->nthreads);
    for (int t = 0; t < j->nthreads; t++)
      if (cpu_change(s, j->thread_cpu[t], 1, 0)) dec |= 1u << s->cpu[j->thread_cpu[t]].domain;
  }
  *job = job_handle(s, slot);
  trace(s, DYNRT_SIM_TRACE_JOB_START, j->domain, 0, *job, app, NULL);
  run_hooks(s, dec);
  return DYNRT_OK;
}

dynrt_status dynrt_sim_job_cancel(dynrt_platform *p, dynrt_sim_job job,
                                  dynrt_sim_completion *partial) {
  GET_SIM(p);
  int slot;
  if (!job_lookup(s, job, &slot))
    return dynrt__seterr(&p->err, DYNRT_ERR_NOT_FOUND, "%s: job 0x%llx is not running", __func__,
                         (unsigned long long)job);
  dynrt_sim_completion rec;
  job_end(s, slot, 1, &rec);
  if (partial) *partial = rec;
  return DYNRT_OK;
}

dynrt_status dynrt_sim_job_progress(dynrt_platform *p, dynrt_sim_job job, double *remaining,
                                    double *energy_uj) {
  GET_SIM(p);
  sim_job *j = job_lookup(s, job, NULL);
  if (!j)
    return dynrt__seterr(&p->err, DYNRT_ERR_NOT_FOUND, "%s: job 0x%llx is not running", __func__,
                         (unsigned long long)job);
  if (remaining) *remaining = j->remaining > 0 ? j->remaining : 0;
  if (energy_uj) *energy_uj = j->energy_uj;
  return DYNRT_OK;
}

dynrt_status dynrt_sim_split_latency(dynrt_platform *p, int domain, double latency_ns,
                                     double *compute_ns, double *memory_ns) {
  GET_SIM(p);
  if (!domain_ok(s, domain) || !compute_ns || !memory_ns || !(latency_ns >= 0) ||
      !isfinite(latency_ns))
    return einval(s, __func__, "bad domain, latency or NULL output");
  double mf = s->dom[domain].m.mem_fraction;
  *memory_ns = latency_ns * mf;
  *compute_ns = latency_ns - *memory_ns;
  return DYNRT_OK;
}

dynrt_status dynrt_sim_predict_ns(dynrt_platform *p, int domain, uint32_t khz, int ncores,
                                  double compute_ns, double memory_ns, double *ns) {
  GET_SIM(p);
  if (!domain_ok(s, domain) || !ns || !(compute_ns >= 0) || !(memory_ns >= 0))
    return einval(s, __func__, "bad domain, times or NULL output");
  const dynrt_domain_info *di = &p->domains[domain];
  if (di->kind == DYNRT_DOMAIN_CPU && (ncores < 1 || ncores > di->ncpus))
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "%s: %d cores, domain %s has %d", __func__,
                         ncores, di->name, di->ncpus);
  int i = 0;
  while (i < di->nopps - 1 && di->opps[i].khz < khz) i++;
  double fs = (double)di->opps[di->nopps - 1].khz / di->opps[i].khz;
  double ms = s->dom[domain].m.mem_freq_exp > 0 ? pow(fs, s->dom[domain].m.mem_freq_exp) : 1.0;
  double t = compute_ns * fs + memory_ns * ms;
  if (di->kind == DYNRT_DOMAIN_CPU) {
    double pf = s->parallel_fraction;
    t *= (1.0 - pf) + pf / ncores;
  }
  *ns = t;
  return DYNRT_OK;
}

dynrt_status dynrt_sim_add_background(dynrt_platform *p, uint64_t t_start, uint64_t t_end,
                                      uint64_t cpu_mask, double duty, uint64_t period_ns,
                                      uint32_t *id) {
  GET_SIM(p);
  if (!id) return einval(s, __func__, "NULL id");
  if (t_start < s->now || t_end <= t_start)
    return einval(s, __func__, "needs now <= t_start < t_end");
  if (!cpu_mask || (s->ncpus < 64 && (cpu_mask >> s->ncpus)))
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "%s: bad CPU mask 0x%llx", __func__,
                         (unsigned long long)cpu_mask);
  if (!(duty > 0 && duty <= 1) || !period_ns)
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG,
                         "%s: duty %g must be in (0, 1] and period > 0", __func__, duty);
  int slot = -1;
  for (int i = 0; i < SIM_MAX_BG && slot < 0; i++)
    if (!s->bg[i].active) slot = i;
  if (slot < 0)
    return dynrt__seterr(&p->err, DYNRT_ERR_BUSY, "%s: more than %d background loads", __func__,
                         SIM_MAX_BG);
  if (s->ntimed + 2 > SIM_MAX_TIMED)
    return dynrt__seterr(&p->err, DYNRT_ERR_BUSY, "%s: timed event list full", __func__);
  sim_bg *b = &s->bg[slot];
  memset(b, 0, sizeof *b);
  if (slot >= s->bg_hi) s->bg_hi = slot + 1;
  b->active = 1;
  b->cpu_mask = cpu_mask;
  b->duty = duty;
  b->period_ns = period_ns;
  b->on_ns = duty >= 1 ? period_ns : (uint64_t)llround(duty * (double)period_ns);
  if (!b->on_ns) b->on_ns = 1;
  b->t_start = t_start;
  b->t_end = t_end;
  if (++s->bg_counter == 0) s->bg_counter = 1;
  b->id = s->bg_counter;
  sim_timed ev = {.t = t_start, .kind = SIM_T_BG_START, .index = slot, .khz = b->id};
  timed_add(s, &ev);
  if (t_end != DYNRT_SIM_FOREVER) {
    sim_timed ev2 = {.t = t_end, .kind = SIM_T_BG_END, .index = slot, .khz = b->id};
    timed_add(s, &ev2);
  }
  *id = b->id;
  run_due(s);
  return DYNRT_OK;
}

dynrt_status dynrt_sim_stop_background(dynrt_platform *p, uint32_t id, uint64_t t) {
  GET_SIM(p);
  for (int i = 0; i < SIM_MAX_BG; i++) {
    if (!s->bg[i].active || s->bg[i].id != id) continue;
    if (t < s->now) return einval(s, __func__, "t before now");
    sim_timed ev = {.t = t, .kind = SIM_T_BG_END, .index = i, .khz = id};
    dynrt_status st = timed_add(s, &ev);
    if (st == DYNRT_OK) run_due(s);
    return st;
  }
  return dynrt__seterr(&p->err, DYNRT_ERR_NOT_FOUND, "%s: no background load %u", __func__, id);
}

dynrt_status dynrt_sim_schedule_cap(dynrt_platform *p, uint64_t t, int domain, uint32_t max_khz) {
  GET_SIM(p);
  if (!domain_ok(s, domain) || t < s->now) return einval(s, __func__, "bad domain or time");
  sim_timed ev = {.t = t, .kind = SIM_T_CAP, .domain = domain, .khz = max_khz};
  dynrt_status st = timed_add(s, &ev);
  if (st == DYNRT_OK) run_due(s);
  return st;
}

dynrt_status dynrt_sim_schedule_take(dynrt_platform *p, uint64_t t, uint64_t taken_mask) {
  GET_SIM(p);
  if (t < s->now) return einval(s, __func__, "time before now");
  sim_timed ev = {.t = t, .kind = SIM_T_TAKE, .mask = taken_mask};
  dynrt_status st = timed_add(s, &ev);
  if (st == DYNRT_OK) run_due(s);
  return st;
}

dynrt_status dynrt_sim_schedule_mode(dynrt_platform *p, uint64_t t, const char *mode) {
  GET_SIM(p);
  if (!mode || t < s->now) return einval(s, __func__, "NULL mode or time before now");
  for (int i = 0; i < s->nmodes; i++) {
    if (strcmp(s->modes[i].name, mode)) continue;
    sim_timed ev = {.t = t, .kind = SIM_T_MODE, .index = i};
    dynrt_status st = timed_add(s, &ev);
    if (st == DYNRT_OK) run_due(s);
    return st;
  }
  return dynrt__seterr(&p->err, DYNRT_ERR_NOT_FOUND, "%s: board has no mode '%s'", __func__, mode);
}

int dynrt_sim_mode_count(dynrt_platform *p) {
  dynrt__sim *s = sim_of(p);
  return s ? s->nmodes : 0;
}

const char *dynrt_sim_mode_name(dynrt_platform *p, int i) {
  dynrt__sim *s = sim_of(p);
  return (s && i >= 0 && i < s->nmodes) ? s->modes[i].name : NULL;
}

dynrt_status dynrt_sim_set_limits(dynrt_platform *p, int domain, uint32_t min_khz,
                                  uint32_t max_khz) {
  GET_SIM(p);
  if (!domain_ok(s, domain)) return einval(s, __func__, "bad domain");
  if (min_khz && max_khz && min_khz > max_khz)
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "%s: min %u kHz > max %u kHz", __func__,
                         min_khz, max_khz);
  if (s->dirty) recompute(s);
  s->dom[domain].user_min = min_khz;
  s->dom[domain].user_max = max_khz;
  update_limits(s, domain, 1);
  return DYNRT_OK;
}

dynrt_status dynrt_sim_set_tunable(dynrt_platform *p, int domain, const char *name,
                                   uint64_t value) {
  GET_SIM(p);
  if (!domain_ok(s, domain) || !name) return einval(s, __func__, "bad domain or NULL name");
  return dynrt__gov_set_tunable(s, domain, name, value);
}

dynrt_status dynrt_sim_get_tunable(dynrt_platform *p, int domain, const char *name,
                                   uint64_t *value) {
  GET_SIM(p);
  if (!domain_ok(s, domain) || !name || !value)
    return einval(s, __func__, "bad domain or NULL argument");
  dynrt_status st = dynrt__gov_get_tunable(s, domain, name, value);
  if (st != DYNRT_OK)
    return dynrt__seterr(&p->err, st, "%s: governor %s has no tunable '%s'", __func__,
                         dynrt__gov_name(s->dom[domain].gov.kind), name);
  return DYNRT_OK;
}

dynrt_status dynrt_sim_cpu_state_get(dynrt_platform *p, int cpu, dynrt_sim_cpu_state *st) {
  GET_SIM(p);
  if (cpu < 0 || cpu >= s->ncpus || !st) return einval(s, __func__, "bad CPU or NULL output");
  const sim_cpu *c = &s->cpu[cpu];
  const sim_domain *sd = &s->dom[c->domain];
  /* Read PELT on a copy: observing must not change the rounding of later updates. */
  dynrt__pelt_rq rq = c->rq;
  dynrt__pelt_rq_advance(&rq, s->now, sd->m.sched_capacity, sd->freq_cap);
  st->online = c->online;
  st->taken = c->taken;
  st->nr_running = rq.nr_running;
  st->util_avg = rq.avg.util_avg;
  st->runnable_avg = rq.avg.runnable_avg;
  st->util_est = rq.util_est_ewma;
  st->util = dynrt__pelt_rq_util(&rq, sd->m.sched_capacity);
  st->busy_ns = dynrt__sim_cpu_busy(s, cpu);
  return DYNRT_OK;
}

dynrt_status dynrt_sim_power(dynrt_platform *p, double *watts, double *energy_uj) {
  GET_SIM(p);
  if (s->dirty) recompute(s);
  if (watts) *watts = s->power_w;
  if (energy_uj) *energy_uj = s->energy_uj;
  return DYNRT_OK;
}

dynrt_status dynrt_sim_set_seed(dynrt_platform *p, uint64_t seed) {
  GET_SIM(p);
  rng_seed(s, seed);
  return DYNRT_OK;
}

dynrt_status dynrt_sim_set_noise(dynrt_platform *p, double latency_sigma, double power_sigma) {
  GET_SIM(p);
  if (!(latency_sigma >= 0 && latency_sigma <= 1) || !(power_sigma >= 0 && power_sigma <= 1))
    return einval(s, __func__, "sigmas must be in [0, 1]");
  s->lat_sigma = latency_sigma;
  s->power_sigma = power_sigma;
  return DYNRT_OK;
}

dynrt_status dynrt_sim_set_trace(dynrt_platform *p, dynrt_sim_trace_fn fn, void *user) {
  GET_SIM(p);
  s->trace_fn = fn;
  s->trace_user = user;
  return DYNRT_OK;
}

dynrt_status dynrt_sim_open(const char *board, dynrt_platform **out, char *errbuf, size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!out) return DYNRT_ERR_INVALID_ARG;
  *out = NULL;
  dynrt_platform *p = dynrt__calloc(1, sizeof *p);
  if (!p) {
    if (errbuf) snprintf(errbuf, errlen, "sim: out of memory");
    return DYNRT_ERR_NOMEM;
  }
  dynrt_status st = dynrt__platform_sim_open(p, board);
  if (st != DYNRT_OK) {
    if (errbuf) snprintf(errbuf, errlen, "%s", dynrt__errmsg(&p->err));
    if (p->ops && p->ops->close) p->ops->close(p);
    dynrt__free(p);
    return st;
  }
  *out = p;
  return DYNRT_OK;
}

/* ---- the platform backend (platform_int.h) ---- */

static void sim_close(dynrt_platform *p) {
  dynrt__free(p->backend);
  p->backend = NULL;
}

static dynrt_status sim_get_freq(dynrt_platform *p, int d, uint32_t *khz) {
  *khz = sim_of(p)->dom[d].cur_khz;
  return DYNRT_OK;
}

static dynrt_status sim_set_freq(dynrt_platform *p, int d, uint32_t khz, uint32_t *actual) {
  dynrt__sim *s = sim_of(p);
  if (s->dirty) recompute(s);
  if (s->dom[d].gov.kind != DYNRT__GOV_USERSPACE) dynrt__gov_start(s, d, DYNRT__GOV_USERSPACE);
  s->dom[d].gov.setspeed = khz;
  uint32_t f = dynrt__gov_resolve(s, d, khz, DYNRT__REL_L);
  dynrt__sim_set_cur(s, d, f);
  *actual = f;
  return DYNRT_OK;
}

static dynrt_status sim_get_limits(dynrt_platform *p, int d, uint32_t *mn, uint32_t *mx) {
  dynrt__sim *s = sim_of(p);
  *mn = s->dom[d].pol_min;
  *mx = s->dom[d].pol_max;
  return DYNRT_OK;
}

static dynrt_status sim_set_governor(dynrt_platform *p, int d, const char *name) {
  dynrt__sim *s = sim_of(p);
  dynrt__gov_kind kind;
  int gpu = p->domains[d].kind == DYNRT_DOMAIN_GPU;
  if (dynrt__gov_parse(name, gpu, &kind) != DYNRT_OK)
    return dynrt__seterr(&p->err, DYNRT_ERR_NOT_FOUND,
                         "set_governor: domain %s: unknown governor '%s' (%s)", p->domains[d].name,
                         name,
                         gpu ? "simple_ondemand, performance, powersave, userspace"
                             : "schedutil, ondemand, conservative, performance, powersave, "
                               "userspace");
  if (s->dirty) recompute(s);
  dynrt__gov_start(s, d, kind);
  return DYNRT_OK;
}

static dynrt_status sim_get_governor(dynrt_platform *p, int d, char *buf, size_t size) {
  const char *name = dynrt__gov_name(sim_of(p)->dom[d].gov.kind);
  if (strlen(name) >= size)
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "get_governor: buffer of %zu too small",
                         size);
  memcpy(buf, name, strlen(name) + 1);
  return DYNRT_OK;
}

static dynrt_status sim_available_cpus(dynrt_platform *p, uint64_t *mask) {
  *mask = available_mask(sim_of(p));
  return DYNRT_OK;
}

static dynrt_status sim_assign(dynrt_platform *p, int app, uint64_t cpu_mask) {
  dynrt__sim *s = sim_of(p);
  if (app >= SIM_MAX_APPS)
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "assign: app %d >= %d", app, SIM_MAX_APPS);
  if (s->ncpus < 64 && (cpu_mask >> s->ncpus))
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG, "assign: mask 0x%llx beyond CPU %d",
                         (unsigned long long)cpu_mask, s->ncpus - 1);
  s->app_mask[app] = cpu_mask;
  return DYNRT_OK;
}

static dynrt_status sim_read_energy(dynrt_platform *p, uint64_t *uj) {
  *uj = (uint64_t)sim_of(p)->energy_uj;
  return DYNRT_OK;
}

static dynrt_status sim_read_power(dynrt_platform *p, double *watts) {
  dynrt__sim *s = sim_of(p);
  if (s->dirty) recompute(s);
  double w = s->power_w;
  if (s->now > s->pow_prev_t)
    w = (s->energy_uj - s->pow_prev_e) * 1e3 / (double)(s->now - s->pow_prev_t);
  s->pow_prev_t = s->now;
  s->pow_prev_e = s->energy_uj;
  if (s->power_sigma > 0) w *= 1.0 + s->power_sigma * rng_gauss(s);
  *watts = w > 0 ? w : 0;
  return DYNRT_OK;
}

static dynrt_status sim_read_util(dynrt_platform *p, double *util, int ncpus) {
  dynrt__sim *s = sim_of(p);
  for (int c = 0; c < ncpus; c++) {
    if (c >= s->ncpus) {
      util[c] = 0;
      continue;
    }
    sim_cpu *cpu = &s->cpu[c];
    uint64_t busy = dynrt__sim_cpu_busy(s, c);
    uint64_t dt = s->now - cpu->util_prev_t;
    util[c] = dt ? (double)(busy - cpu->util_prev_busy) / (double)dt : (cpu->rq.nr_running > 0);
    cpu->util_prev_busy = busy;
    cpu->util_prev_t = s->now;
  }
  return DYNRT_OK;
}

static uint64_t sim_now(dynrt_platform *p) { return sim_of(p)->now; }

static int sim_poll_event(dynrt_platform *p, dynrt_event *ev) {
  dynrt__sim *s = sim_of(p);
  if (!s->evq_count) return 0;
  *ev = s->evq[s->evq_head];
  s->evq_head = (s->evq_head + 1) % SIM_EVQ;
  s->evq_count--;
  return 1;
}

static const dynrt_platform_ops sim_ops = {
    .close = sim_close,
    .get_freq = sim_get_freq,
    .set_freq = sim_set_freq,
    .get_limits = sim_get_limits,
    .set_governor = sim_set_governor,
    .get_governor = sim_get_governor,
    .available_cpus = sim_available_cpus,
    .assign = sim_assign,
    .read_energy = sim_read_energy,
    .read_power = sim_read_power,
    .read_util = sim_read_util,
    .read_temp = NULL, /* no thermal model: caps come as timed events */
    .now = sim_now,
    .poll_event = sim_poll_event,
};

/* Finds the board file: the path as given, then under $DYNRT_SOURCE_DIR; a bare name
 * ("xavier-nx") means platforms/NAME.json. */
static int find_board(const char *arg, char *out, size_t size) {
  char cand[2][1024];
  int nc = 0;
  size_t len = strlen(arg);
  if (!strchr(arg, '/') && (len < 5 || strcmp(arg + len - 5, ".json")))
    snprintf(cand[nc++], sizeof cand[0], "platforms/%s.json", arg);
  else
    snprintf(cand[nc++], sizeof cand[0], "%s", arg);
  const char *root = getenv("DYNRT_SOURCE_DIR");
  for (int i = 0; i < nc; i++) {
    FILE *f = fopen(cand[i], "rb");
    if (f) {
      fclose(f);
      snprintf(out, size, "%s", cand[i]);
      return 1;
    }
    if (root && cand[i][0] != '/') {
      char alt[2048];
      int n = snprintf(alt, sizeof alt, "%.1000s/%.1000s", root, cand[i]);
      if (n < 0 || (size_t)n >= sizeof alt) continue;
      f = fopen(alt, "rb");
      if (f) {
        fclose(f);
        snprintf(out, size, "%s", alt);
        return 1;
      }
    }
  }
  snprintf(out, size, "%s", cand[0]);
  return 0;
}

/* Everything of an open after the board description is loaded into s. */
static void sim_start(dynrt__sim *s) {
  dynrt_platform *p = s->p;
  rng_seed(s, s->seed);
  s->last_tick = NEVER;
  s->next_done = NEVER;
  for (int i = 0; i < SIM_MAX_JOBS; i++) s->free_slots[i] = SIM_MAX_JOBS - 1 - i;
  s->nfree = SIM_MAX_JOBS;
  for (int c = 0; c < s->ncpus; c++) s->cpu[c].online = 1;
  for (int d = 0; d < s->ndom; d++) {
    dom_apply_idx(s, d, 0);
    update_limits(s, d, 0);
    dynrt__gov_defaults(s, d);
    dynrt__gov_kind kind;
    dynrt__gov_parse(s->dom[d].m.governor, p->domains[d].kind == DYNRT_DOMAIN_GPU, &kind);
    dynrt__gov_start(s, d, kind);
  }
  s->started = 1;
  s->dirty = 1;
}

/* Attaches a fresh simulator to p (p->ops set, so that p->ops->close frees it). */
static dynrt__sim *sim_attach(dynrt_platform *p) {
  dynrt__sim *s = dynrt__calloc(1, sizeof *s);
  if (!s) return NULL;
  p->backend = s;
  p->ops = &sim_ops;
  s->p = p;
  return s;
}

dynrt_status dynrt__platform_sim_open(dynrt_platform *p, const char *arg) {
  if (!arg || !*arg)
    return dynrt__seterr(&p->err, DYNRT_ERR_INVALID_ARG,
                         "sim: needs a board description, e.g. sim:platforms/xavier-nx.json");
  dynrt__sim *s = sim_attach(p);
  if (!s) return dynrt__seterr(&p->err, DYNRT_ERR_NOMEM, "sim: out of memory");
  char path[4096];
  find_board(arg, path, sizeof path);
  dynrt_status st = dynrt__sim_board_load(s, path);
  if (st != DYNRT_OK) return st;
  sim_start(s);
  return DYNRT_OK;
}

dynrt_status dynrt__platform_sim_open_text(dynrt_platform *p, const char *text, size_t len,
                                           const char *name) {
  dynrt__sim *s = sim_attach(p);
  if (!s) return dynrt__seterr(&p->err, DYNRT_ERR_NOMEM, "sim: out of memory");
  dynrt_status st = dynrt__sim_board_parse(s, text, len, name ? name : "(board)");
  if (st != DYNRT_OK) return st;
  sim_start(s);
  return DYNRT_OK;
}

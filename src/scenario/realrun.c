/* realrun.c - runs a scenario for real on this machine (platform "host"): real inference
 * threads on engine sessions through the manager (dynrt_app_infer), real core allocation,
 * a real busy-loop child process pinned to the loaded cores for each load event, and the
 * manager's level 2 stepped by the main thread. The host has no DVFS; energy is what the
 * host platform reports and is labelled modelled when it has no sensor. Without a host op
 * library it profiles the model first (latency measured per candidate and core count). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "dynrt/engine.h"
#include "dynrt/offline.h"
#include "dynrt/rtm.h"
#include "scenario/scenario.h"

#define NEVER DYNRT_SCN_NEVER
#define STEP_NS 5000000ull /* main loop tick: manager step, events, trace */

static volatile sig_atomic_t g_stop;
static pid_t g_children[DYNRT_SCN_MAX_EVENTS];
static volatile sig_atomic_t g_nchildren;

/* On SIGINT/SIGTERM: kill the load children at once and ask the run to stop. */
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
  for (int i = 0; i < g_nchildren; i++)
    if (g_children[i] > 0) kill(g_children[i], SIGKILL);
}

/* A busy loop pinned to the cores of mask, busy duty x period of every period. It dies with
 * its parent (PR_SET_PDEATHSIG). */
static pid_t spawn_load(uint64_t mask, double duty, uint64_t period_ns) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c = 0; c < 64; c++)
    if (mask >> c & 1) CPU_SET(c, &set);
  sched_setaffinity(0, sizeof set, &set);
  /* One busy thread per core: fork more children of this child, each on its own core. */
  int ncores = __builtin_popcountll(mask), me = 0;
  for (int k = 1; k < ncores; k++) {
    if (fork() == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      me = k;
      break;
    }
  }
  int seen = 0;
  for (int c = 0; c < 64; c++)
    if (mask >> c & 1) {
      if (seen++ == me) {
        CPU_ZERO(&set);
        CPU_SET(c, &set);
        sched_setaffinity(0, sizeof set, &set);
      }
    }
  volatile uint64_t x = 0;
  for (;;) {
    uint64_t t0 = dynrt_now_ns(), busy = (uint64_t)(duty * (double)period_ns);
    while (dynrt_now_ns() - t0 < busy) x++;
    if (busy < period_ns) {
      struct timespec ts = {0, (long)(period_ns - busy)};
      nanosleep(&ts, NULL);
    }
  }
}

typedef struct real_app {
  int index;
  dynrt_app *app;
  dynrt_model *model;
  dynrt_session *session;
  const dynrt_oplib *lib;
  dynrt_requirements req;
  pthread_mutex_t mu; /* req and records */
  dynrt_scn_infer_rec *rec;
  size_t nrec, caprec;
  int *rank;
  double best_acc;
  pthread_t thread;
  int running;
  uint64_t t0, stop_ns;
  atomic_int quit;
  uint8_t *img;
  int side;
  char err[256];
} real_app;

static void *app_thread(void *arg) {
  real_app *a = arg;
  uint64_t next = dynrt_now_ns();
  while (!atomic_load(&a->quit) && !g_stop) {
    pthread_mutex_lock(&a->mu);
    dynrt_requirements req = a->req;
    pthread_mutex_unlock(&a->mu);
    uint64_t now = dynrt_now_ns();
    if (req.period_ns && now < next) {
      uint64_t wait = next - now;
      if (wait > 2000000) wait = 2000000; /* stay responsive to quit */
      struct timespec ts = {0, (long)wait};
      nanosleep(&ts, NULL);
      continue;
    }
    uint64_t arrival = req.period_ns ? next : now;
    if (req.period_ns) {
      next += req.period_ns;
      if (next < now) next = now; /* overran: no backlog of frames */
    }
    dynrt_infer_result res;
    uint64_t start = dynrt_now_ns();
    dynrt_status st = dynrt_app_infer(a->app, a->img, a->side, a->side, (size_t)a->side * 3, &res);
    uint64_t end = dynrt_now_ns();
    if (st) {
      snprintf(a->err, sizeof a->err, "%s", dynrt_app_errmsg(a->app));
      break;
    }
    double target = (double)(req.latency_target_ns ? req.latency_target_ns : req.period_ns);
    if (req.period_ns && req.period_ns < req.latency_target_ns) target = (double)req.period_ns;
    double pred = res.decision.predicted_latency_ms;
    dynrt_scn_infer_rec r = {
        .arrival_ns = arrival - a->t0,
        .start_ns = start - a->t0,
        .end_ns = end - a->t0,
        .app = a->index,
        .subnet = res.decision.subnet,
        .level = a->rank[res.decision.subnet],
        .accuracy = res.decision.accuracy,
        .latency_ms = (double)(end - arrival) * 1e-6,
        .service_ms = (double)res.latency_ns * 1e-6,
        .target_ms = target * 1e-6,
        .floor = req.accuracy_floor,
        /* modelled: the op library's energy of the point, scaled by the measured time */
        .energy_mj =
            pred > 0 ? res.decision.predicted_energy_mj * (double)res.latency_ns * 1e-6 / pred : 0,
        .domain = res.decision.domain,
        .ncores = res.decision.ncores,
        .khz = res.decision.khz,
        .floor_feasible = req.accuracy_floor <= a->best_acc + 1e-9,
    };
    pthread_mutex_lock(&a->mu);
    if (a->nrec == a->caprec) {
      size_t nc = a->caprec ? 2 * a->caprec : 1024;
      void *p = dynrt__realloc(a->rec, a->caprec * sizeof *a->rec, nc * sizeof *a->rec);
      if (p) {
        a->rec = p;
        a->caprec = nc;
      }
    }
    if (a->nrec < a->caprec) a->rec[a->nrec++] = r;
    pthread_mutex_unlock(&a->mu);
  }
  return NULL;
}

/* ---- host op library: load it, or profile the model now ---- */

/* Latency per candidate sub-network and core count, measured with the engine; accuracy on
 * CIFAR-10 validation images for a 10-class model when the data set is present, else on
 * synthetic images (meaningless, said in the model file name of the library). */
static dynrt_status profile_host(dynrt_platform *p, const dynrt_model *m, const char *model_path,
                                 dynrt_oplib **out, char *errbuf, size_t errlen) {
  dynrt_model_info mi;
  dynrt_model_get_info(m, &mi);
  const dynrt_domain_info *di = dynrt_platform_domain(p, 0);
  int maxc = di->ncpus < 4 ? di->ncpus : 4; /* at most 8: the session array below */
  dynrt_dataset *ds = NULL;
  dynrt_error e = {0};
  char dpath[1024];
  int real_data = 0;
  if (mi.num_classes == 10 &&
      dynrt_dataset_resolve("cifar10-val", dpath, sizeof dpath, &e) == DYNRT_OK &&
      dynrt_dataset_open_cifar(dpath, 0, 500, 10, &ds, &e) == DYNRT_OK)
    real_data = 1;
  else if (dynrt_dataset_synthetic(64, mi.resolutions[mi.n_resolutions - 1], mi.num_classes, 1, &ds,
                                   &e) != DYNRT_OK) {
    if (errbuf) snprintf(errbuf, errlen, "profile: %s", e.msg);
    return e.status ? e.status : DYNRT_ERR_INTERNAL;
  }
  char note[DYNRT_SCN_PATH_MAX + 128];
  snprintf(note, sizeof note, "%s [profiled at start by dynrt run; accuracy on %s]", model_path,
           real_data ? "500 CIFAR-10 validation images" : "SYNTHETIC images: meaningless");
  dynrt_oplib *lib = NULL;
  dynrt_status st = dynrt_oplib_create(mi.name, note, "host", &lib);
  dynrt_subnet cands[4];
  dynrt_subnet_smallest(m, &cands[0]);
  dynrt_subnet_largest(m, &cands[1]);
  uint64_t rng = 12345;
  dynrt_subnet_sample(m, &rng, &cands[2]);
  dynrt_subnet_sample(m, &rng, &cands[3]);
  int nc = 4;
  for (int i = 0; i < nc && st == DYNRT_OK; i++)
    for (int j = 0; j < i; j++)
      if (dynrt_subnet_equal(m, &cands[i], &cands[j])) {
        cands[i--] = cands[--nc];
        break;
      }
  /* One session per core count: thread counts are fixed at creation (switching them on one
   * session stalled in the pool on this machine; see docs/results.md). */
  dynrt_session *ss[8] = {0};
  for (int c = 1; c <= maxc && st == DYNRT_OK; c++) {
    dynrt_session_options so = {.max_threads = c, .threads = c};
    st = dynrt_session_create(m, &so, &ss[c - 1], &e);
  }
  int settings[8];
  for (int c = 1; c <= maxc && st == DYNRT_OK; c++) {
    dynrt_oplib_setting set = {{0}, di->opps[0].khz, c};
    snprintf(set.domain, sizeof set.domain, "%s", di->name);
    st = dynrt_oplib_add_setting(lib, &set, &settings[c - 1]);
  }
  for (int i = 0; i < nc && st == DYNRT_OK; i++) {
    char cfg[DYNRT_SUBNET_STR_MAX];
    dynrt_subnet_format(m, &cands[i], cfg, sizeof cfg, NULL);
    dynrt_eval_result ev = {0};
    if ((st = dynrt_evaluate(m, &cands[i], NULL, ds, 0, 0, 1, &ev, &e))) break;
    dynrt_oplib_subnet sn = {.config = cfg,
                             .id = dynrt_subnet_id(m, &cands[i]),
                             .macs = dynrt_subnet_macs(m, &cands[i]),
                             .params = dynrt_subnet_params(m, &cands[i]),
                             .val_top1 = ev.images ? (double)ev.top1 / (double)ev.images : 0,
                             .val_images = ev.images,
                             .test_top1 = -1,
                             .compute_ns = -1,
                             .memory_ns = -1};
    int si = 0;
    if ((st = dynrt_oplib_add_subnet(lib, &sn, &si))) break;
    for (int c = 1; c <= maxc && st == DYNRT_OK; c++) {
      dynrt_session *s = ss[c - 1];
      int cpus[8];
      for (int k = 0; k < c; k++) cpus[k] = di->cpus[k];
      if ((st = dynrt_session_set_subnet(s, &cands[i], NULL))) break;
      if ((st = dynrt_session_set_threads(s, c, cpus)) && st != DYNRT_ERR_PERMISSION) break;
      st = DYNRT_OK;
      uint64_t e0 = 0, e1 = 0;
      dynrt_latency lat = {0}, longer = {0};
      if ((st = dynrt_profile_session(s, 3, 21, &lat))) break;
      /* Energy over at least ~0.3 s of inferences: the host's energy (a sensor or its
       * /proc/stat model) is too coarse for one inference. */
      double want = lat.mean_ms > 0 ? 200.0 / lat.mean_ms : 21;
      int runs = want < 21 ? 21 : want > 5000 ? 5000 : (int)want;
      dynrt_platform_read_energy(p, &e0);
      st = dynrt_profile_session(s, 0, runs, &longer);
      dynrt_platform_read_energy(p, &e1);
      if (st) break;
      dynrt_oplib_point pt = {.subnet = si,
                              .setting = settings[c - 1],
                              .latency_mean_ms = lat.mean_ms,
                              .latency_p50_ms = lat.median_ms,
                              .latency_p95_ms = lat.p95_ms,
                              .energy_mj = e1 > e0 ? (double)(e1 - e0) * 1e-3 / runs : 0,
                              .power_w = 0,
                              .modelled = dynrt_platform_get_info(p)->energy_modelled};
      if (!(pt.energy_mj > 0)) pt.energy_mj = 1e-6; /* no energy reading at all */
      st = dynrt_oplib_add_point(lib, &pt);
    }
  }
  if (st == DYNRT_OK) st = dynrt_oplib_finalize(lib);
  if (st && errbuf)
    snprintf(errbuf, errlen, "profiling %s on the host: %s %s", model_path, e.msg,
             lib ? dynrt_oplib_errmsg(lib) : "");
  for (int c = 0; c < 8; c++) dynrt_session_destroy(ss[c]);
  dynrt_dataset_destroy(ds);
  if (st) {
    dynrt_oplib_destroy(lib);
    return st;
  }
  *out = lib;
  return DYNRT_OK;
}

static void pick_model(const dynrt_scn *scn, const dynrt_scn_app *a, char *path, size_t size) {
  if (strcmp(a->model, "auto")) {
    snprintf(path, size, "%s", a->model);
    return;
  }
  /* The repository root of scenarios/x.json, the current directory, $DYNRT_SOURCE_DIR. */
  char dir[DYNRT_SCN_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", scn->path);
  char *slash = strrchr(dir, '/');
  if (slash)
    snprintf(slash, sizeof dir - (size_t)(slash - dir), "/..");
  else
    snprintf(dir, sizeof dir, "..");
  const char *roots[] = {dir, ".", getenv("DYNRT_SOURCE_DIR")};
  /* The trained super-network, else the pipeline smoke model, else the test fixture. */
  const char *cands[] = {"models/cifar10-ofa-cpu.safetensors", "models/cifar10-smoke.safetensors",
                         "tests/fixtures/tiny.safetensors"};
  for (int i = 0; i < 3; i++)
    for (int r = 0; r < 3; r++) {
      if (!roots[r]) continue;
      snprintf(path, size, "%s/%s", roots[r], cands[i]);
      if (!access(path, R_OK)) return;
    }
  snprintf(path, size, "%s", cands[2]);
}

/* Host op library of a model: given, or MODEL.oplib.json when its platform is "host", else
 * profiled now. */
static dynrt_status host_lib(dynrt_platform *p, const dynrt_scn_app *a, const dynrt_model *m,
                             const char *model_path, dynrt_oplib **out, char *errbuf,
                             size_t errlen) {
  char path[DYNRT_SCN_PATH_MAX + 32];
  if (strcmp(a->oplib, "auto")) {
    snprintf(path, sizeof path, "%s", a->oplib);
  } else {
    snprintf(path, sizeof path, "%s", model_path);
    char *dot = strstr(path, ".safetensors");
    if (dot) snprintf(dot, sizeof path - (size_t)(dot - path), ".oplib.json");
  }
  dynrt_oplib *lib = NULL;
  if (!access(path, R_OK) && dynrt_oplib_load(path, &lib, errbuf, errlen) == DYNRT_OK) {
    dynrt_model_info mi;
    dynrt_model_get_info(m, &mi);
    /* Usable only if profiled at a frequency this host runs (the manager matches OPPs). */
    const dynrt_domain_info *di = dynrt_platform_domain(p, 0);
    int usable = 0;
    for (int i = 0; i < dynrt_oplib_num_settings(lib); i++) {
      const dynrt_oplib_setting *set = dynrt_oplib_setting_at(lib, i);
      usable |= !strcmp(set->domain, di->name) && set->khz == di->opps[0].khz;
    }
    if (!strcmp(dynrt_oplib_platform(lib), "host") &&
        !strcmp(dynrt_oplib_model_name(lib), mi.name) && usable) {
      *out = lib;
      return DYNRT_OK;
    }
    fprintf(stderr,
            "dynrt run: %s is not usable here (platform '%s', model '%s', no setting at %s %u "
            "kHz)\n",
            path, dynrt_oplib_platform(lib), dynrt_oplib_model_name(lib), di->name,
            di->opps[0].khz);
    dynrt_oplib_destroy(lib);
  }
  fprintf(stderr, "dynrt run: no host op library for %s: profiling it now (measured)...\n",
          model_path);
  return profile_host(p, m, model_path, out, errbuf, errlen);
}

static void describe_machine(dynrt_platform *p, char *buf, size_t size) {
  char model[128] = "unknown CPU";
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[256];
    while (fgets(line, sizeof line, f))
      if (!strncmp(line, "model name", 10)) {
        char *c = strchr(line, ':');
        if (c) {
          c++;
          while (*c == ' ') c++;
          c[strcspn(c, "\n")] = '\0';
          snprintf(model, sizeof model, "%s", c);
        }
        break;
      }
    fclose(f);
  }
  const dynrt_domain_info *d = dynrt_platform_domain(p, 0);
  snprintf(buf, size, "this machine: %s, %d cores available, no DVFS", model, d ? d->ncpus : 0);
}

static dynrt_status app_begin(real_app *a, dynrt_rtm *rtm, const dynrt_scn_app *s, uint64_t t0,
                              char *errbuf, size_t errlen) {
  dynrt_app_spec spec = {
      .name = s->name, .oplib = a->lib, .req = a->req, .model = a->model, .session = a->session};
  dynrt_status st = dynrt_rtm_add_app(rtm, &spec, &a->app);
  if (st) {
    if (errbuf) snprintf(errbuf, errlen, "adding app '%s': %s", s->name, dynrt_rtm_errmsg(rtm));
    return st;
  }
  a->t0 = t0;
  atomic_store(&a->quit, 0);
  if (pthread_create(&a->thread, NULL, app_thread, a)) {
    dynrt_rtm_remove_app(rtm, a->app);
    a->app = NULL;
    if (errbuf) snprintf(errbuf, errlen, "app '%s': cannot create its thread", s->name);
    return DYNRT_ERR_INTERNAL;
  }
  a->running = 1;
  return DYNRT_OK;
}

static void app_end(real_app *a, dynrt_rtm *rtm, uint64_t *decide_ns, uint64_t *decisions) {
  if (!a->running) return;
  atomic_store(&a->quit, 1);
  pthread_join(a->thread, NULL);
  dynrt_app_stats s;
  dynrt_app_get_stats(a->app, &s);
  *decide_ns += s.decide_ns_sum;
  *decisions += s.decisions;
  dynrt_rtm_remove_app(rtm, a->app);
  a->app = NULL;
  a->running = 0;
}

static void kill_loads(void) {
  for (int i = 0; i < g_nchildren; i++)
    if (g_children[i] > 0) {
      kill(g_children[i], SIGKILL);
      waitpid(g_children[i], NULL, 0);
      g_children[i] = 0;
    }
}

static int cmp_rec(const void *x, const void *y) {
  const dynrt_scn_infer_rec *a = x, *b = y;
  return a->end_ns < b->end_ns ? -1 : a->end_ns > b->end_ns;
}

/* One policy for the scenario's duration. */
static dynrt_status run_policy(const dynrt_scn *scn, dynrt_platform *p, real_app *apps,
                               const char *policy, uint64_t dur, dynrt_scn_result *r, char *errbuf,
                               size_t errlen) {
  const dynrt_platform_info *in = dynrt_platform_get_info(p);
  memset(r, 0, sizeof *r);
  snprintf(r->policy, sizeof r->policy, "%s", policy);
  snprintf(r->platform, sizeof r->platform, "%s", in->name);
  r->energy_modelled = in->energy_modelled;
  r->duration_ns = dur;
  r->seed = scn->seed;
  r->ndomains = DYNRT_MIN(in->ndomains, DYNRT_MAX_DOMAINS);
  for (int d = 0; d < r->ndomains; d++)
    snprintf(r->domain_names[d], sizeof r->domain_names[d], "%s",
             dynrt_platform_domain(p, d)->name);
  r->napps = scn->napps;
  for (int i = 0; i < scn->napps; i++)
    snprintf(r->app_names[i], sizeof r->app_names[i], "%s", scn->apps[i].name);
  dynrt_rtm_options ro;
  dynrt_rtm_options_init(&ro);
  ro.policy = policy;
  if (scn->rtm_period_ns) ro.period_ns = scn->rtm_period_ns;
  /* host_lib checked every library against this platform (model, domain, OPP) or profiled
   * it here; its "host" label need not match a linux board's name. */
  ro.allow_platform_mismatch = 1;
  dynrt_rtm *rtm = NULL;
  dynrt_status st = dynrt_rtm_create(p, &ro, &rtm, errbuf, errlen);
  if (st) return st;
  uint64_t t0 = dynrt_now_ns(), e0 = 0, e1 = 0, last_sample = 0, decide = 0, decisions = 0;
  dynrt_platform_read_energy(p, &e0);
  double w;
  dynrt_platform_read_power(p, &w);
  for (int i = 0; i < scn->napps; i++) {
    apps[i].req = (dynrt_requirements){.latency_target_ns = scn->apps[i].latency_ns,
                                       .period_ns = scn->apps[i].period_ns,
                                       .accuracy_floor = scn->apps[i].accuracy_floor,
                                       .priority = scn->apps[i].priority};
    apps[i].nrec = 0;
  }
  int ev_next = 0, started[DYNRT_SCN_MAX_APPS] = {0};
  uint64_t load_until[DYNRT_SCN_MAX_EVENTS];
  int reported[DYNRT_SCN_MAX_APPS][2] = {{0}};
  g_nchildren = 0;
  while (st == DYNRT_OK && !g_stop) {
    uint64_t now = dynrt_now_ns() - t0;
    if (now >= dur) break;
    for (; ev_next < scn->nevents && scn->events[ev_next].at_ns <= now; ev_next++) {
      const dynrt_scn_event *e = &scn->events[ev_next];
      if (e->kind == DYNRT_SCN_EV_LOAD) {
        g_children[g_nchildren] = spawn_load(e->cpu_mask, e->duty, e->load_period_ns);
        load_until[g_nchildren++] = e->until_ns;
        continue;
      }
      if (e->kind > DYNRT_SCN_EV_PRIORITY) continue; /* caps/modes: rejected at load */
      real_app *a = &apps[e->app];
      pthread_mutex_lock(&a->mu);
      if (e->kind == DYNRT_SCN_EV_TARGET)
        a->req.latency_target_ns = (uint64_t)llround(e->value * 1e6);
      if (e->kind == DYNRT_SCN_EV_FLOOR) a->req.accuracy_floor = e->value;
      if (e->kind == DYNRT_SCN_EV_PERIOD) a->req.period_ns = (uint64_t)llround(e->value * 1e6);
      if (e->kind == DYNRT_SCN_EV_PRIORITY) a->req.priority = (int)e->value;
      dynrt_requirements req = a->req;
      pthread_mutex_unlock(&a->mu);
      reported[e->app][0] = reported[e->app][1] = 0;
      if (a->app) dynrt_app_set_requirements(a->app, &req);
    }
    for (int i = 0; i < g_nchildren; i++)
      if (g_children[i] > 0 && load_until[i] <= now) {
        kill(g_children[i], SIGKILL);
        waitpid(g_children[i], NULL, 0);
        g_children[i] = 0;
      }
    for (int i = 0; i < scn->napps && st == DYNRT_OK; i++) {
      if (!started[i] && scn->apps[i].start_ns <= now) {
        started[i] = 1;
        st = app_begin(&apps[i], rtm, &scn->apps[i], t0, errbuf, errlen);
      }
      if (apps[i].running && scn->apps[i].stop_ns <= now)
        app_end(&apps[i], rtm, &decide, &decisions);
    }
    int planned = 0;
    if (st == DYNRT_OK) dynrt_rtm_step(rtm, 0, &planned);
    for (int i = 0; planned && i < scn->napps; i++) {
      if (!apps[i].app) continue;
      dynrt_app_status as;
      dynrt_app_get_status(apps[i].app, &as);
      size_t L = strlen(r->violations);
      if (!as.latency_met && !reported[i][0] && L + 100 < sizeof r->violations) {
        reported[i][0] = 1;
        snprintf(r->violations + L, sizeof r->violations - L,
                 "%s'%s' at %.2f s: latency target infeasible (predicted +%.2f ms)", L ? "; " : "",
                 scn->apps[i].name, (double)now * 1e-9, as.latency_shortfall_ms);
      }
      L = strlen(r->violations);
      if (!as.accuracy_met && !reported[i][1] && L + 100 < sizeof r->violations) {
        reported[i][1] = 1;
        snprintf(r->violations + L, sizeof r->violations - L,
                 "%s'%s' at %.2f s: accuracy floor %.4f infeasible (short by %.4f)", L ? "; " : "",
                 scn->apps[i].name, (double)now * 1e-9, apps[i].req.accuracy_floor,
                 as.accuracy_shortfall);
      }
    }
    if (now >= last_sample + scn->trace_period_ns) {
      dynrt_scn_period_rec pr = {.t_ns = now};
      dynrt_platform_read_power(p, &pr.power_w);
      for (int d = 0; d < r->ndomains; d++) dynrt_platform_get_freq(p, d, &pr.khz[d]);
      for (int i = 0; i < g_nchildren; i++) pr.loads += g_children[i] > 0;
      dynrt_scn_result_add_period(r, &pr);
      last_sample = now;
    }
    struct timespec ts = {0, (long)STEP_NS};
    nanosleep(&ts, NULL);
  }
  for (int i = 0; i < scn->napps; i++) app_end(&apps[i], rtm, &decide, &decisions);
  kill_loads();
  g_nchildren = 0;
  uint64_t ran = dynrt_now_ns() - t0;
  if (ran < dur) r->duration_ns = ran; /* interrupted: the results cover what ran */
  dynrt_platform_read_energy(p, &e1);
  r->sum.energy_j = (double)(e1 - e0) * 1e-6;
  dynrt_rtm_stats rs;
  dynrt_rtm_get_stats(rtm, &rs);
  r->sum.plans = rs.plans;
  r->sum.plan_us = rs.plans ? (double)rs.plan_ns_sum * 1e-3 / (double)rs.plans : 0;
  r->sum.decide_ns = decisions ? (double)decide / (double)decisions : 0;
  dynrt_rtm_destroy(rtm);
  for (int i = 0; i < scn->napps && st == DYNRT_OK; i++) {
    if (apps[i].err[0]) {
      if (errbuf) snprintf(errbuf, errlen, "app '%s': %s", scn->apps[i].name, apps[i].err);
      st = DYNRT_ERR_INTERNAL;
    }
    for (size_t k = 0; k < apps[i].nrec && st == DYNRT_OK; k++)
      st = dynrt_scn_result_add_inf(r, &apps[i].rec[k]);
  }
  if (r->ninf) qsort(r->inf, r->ninf, sizeof *r->inf, cmp_rec);
  dynrt_scn_summarise(r);
  return st;
}

dynrt_status dynrt_scn_run_real(const dynrt_scn *scn, double duration_s, dynrt_scn_result *res,
                                int *n, char *machine, size_t machine_len, char *errbuf,
                                size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  *n = 0;
  if (scn->simulated) {
    if (errbuf) snprintf(errbuf, errlen, "%s: platform is simulated; use dynrt sim", scn->path);
    return DYNRT_ERR_INVALID_ARG;
  }
  for (int i = 0; i < scn->nevents; i++)
    if (scn->events[i].kind >= DYNRT_SCN_EV_CAP || scn->events[i].domain[0]) {
      if (errbuf)
        snprintf(errbuf, errlen,
                 "%s: events[%d]: caps, modes, core takeovers and GPU loads need a simulated "
                 "board or a real one with DVFS; a host run takes CPU loads and requirement "
                 "changes",
                 scn->path, i);
      return DYNRT_ERR_UNSUPPORTED;
    }
  dynrt_platform *p = NULL;
  dynrt_status st = dynrt_scn_platform_open(scn->platform, &p, errbuf, errlen);
  if (st) return st;
  if ((st = dynrt_scn_check_platform(scn, p, errbuf, errlen))) {
    dynrt_platform_close(p);
    return st;
  }
  describe_machine(p, machine, machine_len);
  real_app *apps = dynrt__calloc(DYNRT_SCN_MAX_APPS, sizeof *apps);
  if (!apps) {
    dynrt_platform_close(p);
    return DYNRT_ERR_NOMEM;
  }
  const dynrt_domain_info *di = dynrt_platform_domain(p, 0);
  for (int i = 0; i < scn->napps && st == DYNRT_OK; i++) {
    real_app *a = &apps[i];
    a->index = i;
    pthread_mutex_init(&a->mu, NULL);
    char mpath[DYNRT_SCN_PATH_MAX];
    pick_model(scn, &scn->apps[i], mpath, sizeof mpath);
    dynrt_error e = {0};
    if ((st = dynrt_model_load(mpath, &a->model, &e))) {
      if (errbuf) snprintf(errbuf, errlen, "apps[%d] '%s': %s", i, scn->apps[i].name, e.msg);
      break;
    }
    dynrt_oplib *lib = NULL;
    if ((st = host_lib(p, &scn->apps[i], a->model, mpath, &lib, errbuf, errlen))) break;
    a->lib = lib;
    for (int k = 0; k < dynrt_oplib_num_subnets(lib); k++)
      a->best_acc = fmax(a->best_acc, dynrt_oplib_subnet_at(lib, k)->val_top1);
    int ns = dynrt_oplib_num_subnets(lib);
    a->rank = dynrt__calloc((size_t)ns + 1, sizeof *a->rank);
    for (int k = 0; a->rank && k < ns; k++)
      for (int j = 0; j < ns; j++) {
        const dynrt_oplib_subnet *x = dynrt_oplib_subnet_at(lib, k),
                                 *y = dynrt_oplib_subnet_at(lib, j);
        if (y->val_top1 < x->val_top1 || (y->val_top1 == x->val_top1 && y->macs < x->macs) ||
            (y->val_top1 == x->val_top1 && y->macs == x->macs && j < k))
          a->rank[k]++;
      }
    dynrt_session_options so = {.max_threads = di->ncpus < 8 ? di->ncpus : 8, .threads = 1};
    if (!a->rank || (st = dynrt_session_create(a->model, &so, &a->session, &e))) {
      if (errbuf) snprintf(errbuf, errlen, "apps[%d]: session: %s", i, e.msg);
      st = st ? st : DYNRT_ERR_NOMEM;
      break;
    }
    dynrt_model_info mi;
    dynrt_model_get_info(a->model, &mi);
    a->side = mi.resolutions[mi.n_resolutions - 1];
    a->img = dynrt__malloc((size_t)a->side * (size_t)a->side * 3);
    if (!a->img) {
      st = DYNRT_ERR_NOMEM;
      break;
    }
    for (int y = 0; y < a->side; y++) /* a smooth synthetic frame */
      for (int x = 0; x < a->side * 3; x++)
        a->img[(size_t)y * (size_t)a->side * 3 + (size_t)x] = (uint8_t)((x * 7 + y * 13) & 255);
  }
  struct sigaction sa = {0}, old_int, old_term;
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  g_stop = 0;
  uint64_t dur = duration_s > 0 ? (uint64_t)(duration_s * 1e9) : scn->duration_ns;
  dynrt_log_level old_level = dynrt_log_get_level();
  if (old_level > DYNRT_LOG_ERROR) dynrt_log_set_level(DYNRT_LOG_ERROR);
  for (int k = 0; k < scn->npolicies && st == DYNRT_OK && !g_stop; k++) {
    fprintf(stderr, "dynrt run: %s: policy %s (real, %.1f s)...\n", scn->name, scn->policies[k],
            (double)dur * 1e-9);
    st = run_policy(scn, p, apps, scn->policies[k], dur, &res[k], errbuf, errlen);
    if (st == DYNRT_OK)
      (*n)++;
    else
      dynrt_scn_result_free(&res[k]);
  }
  dynrt_log_set_level(old_level);
  kill_loads();
  if (g_stop && st == DYNRT_OK) {
    if (errbuf) snprintf(errbuf, errlen, "interrupted (loads stopped, results so far kept)");
    st = DYNRT_ERR_STATE;
  }
  for (int i = 0; i < scn->napps; i++) {
    real_app *a = &apps[i];
    dynrt_session_destroy(a->session);
    dynrt_oplib_destroy((dynrt_oplib *)a->lib);
    dynrt_model_destroy(a->model);
    dynrt__free(a->rec);
    dynrt__free(a->rank);
    dynrt__free(a->img);
    if (a->index == i) pthread_mutex_destroy(&a->mu);
  }
  dynrt__free(apps);
  /* The linux backend installed its restoring handlers over ours (when it first changed the
   * device) and puts ours back when it closes: close first, then put back the caller's. */
  dynrt_platform_close(p);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  return st;
}

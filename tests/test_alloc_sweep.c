/* test_alloc_sweep.c - the failing-allocator sweep: every public entry point that allocates
 * is run once to count its allocations, then again with the k-th allocation failing, for
 * every k, once only and then from there on (sticky). Each failure must give a clean status
 * (DYNRT_ERR_NOMEM unless the case says otherwise), no crash, no leak (the sanitizer build
 * checks leaks at exit), no half-made object, and the next run without failures must work.
 * Paths that must not allocate at all (sub-network switch, inference, a plan) are checked
 * for zero allocations instead. docs/reliability.md lists what is covered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dynrt/dynrt.h"
#include "dynrt/offline.h"
#include "dynrt/oplib.h"
#include "dynrt/platform.h"
#include "dynrt/rtm.h"
#include "dynrt/sim.h"
#include "fixtures/sysfs/fake_tree.h"
#include "scenario/scenario.h"

#define FIX DYNRT_TEST_DIR "/fixtures/"
#define SRC DYNRT_SOURCE_DIR "/"
#define XAVIER_LIB SRC "models/cifar10-smoke.xavier-nx.oplib.json"
#define MS 1000000ull

/* ---- the sweep ---- */

typedef dynrt_status (*sweep_op)(void *ctx);

typedef struct sweep_stats {
  uint64_t allocs;   /* allocations of one successful run */
  uint64_t failures; /* runs that returned an error */
  uint64_t absorbed; /* runs that succeeded although an allocation failed (degraded) */
} sweep_stats;

/* Statuses a case accepts for a failed allocation besides DYNRT_ERR_NOMEM (0 = none). */
typedef struct sweep_case {
  const char *name;
  sweep_op op;
  dynrt_status also_ok;
} sweep_case;

static void report(const char *name, const sweep_stats *s) {
  printf("[ sweep    ] %-34s %5llu allocations, %5llu failed runs -> error, %4llu absorbed\n", name,
         (unsigned long long)s->allocs, (unsigned long long)s->failures,
         (unsigned long long)s->absorbed);
  fflush(stdout);
}

/* Runs op once counting, then with each allocation failing (once, then sticky), then once
 * more without failures. op must leave nothing allocated behind when it returns. */
static sweep_stats sweep(const sweep_case *c, void *ctx) {
  sweep_stats s = {0, 0, 0};
  dynrt_alloc_fail_after(0, 0);
  dynrt_status st = c->op(ctx);
  s.allocs = dynrt_alloc_fail_after(0, 0);
  if (st != DYNRT_OK) fail_msg("%s: the counting run failed: %s", c->name, dynrt_status_str(st));
  for (int sticky = 0; sticky <= 1; sticky++)
    for (uint64_t k = 1; k <= s.allocs; k++) {
      dynrt_alloc_fail_after(k, sticky);
      st = c->op(ctx);
      uint64_t done = dynrt_alloc_fail_after(0, 0);
      if (st == DYNRT_OK) {
        /* Fewer allocations than counted (a buffer grown by the counting run) is no
         * failure; one that failed and was survived must have been meant to be. */
        if (done >= k) {
          s.absorbed++;
          if (getenv("DYNRT_SWEEP_VERBOSE"))
            printf("[ sweep    ] %s: allocation %llu (%s) failed, run succeeded\n", c->name,
                   (unsigned long long)k, sticky ? "sticky" : "once");
        }
        continue;
      }
      s.failures++;
      if (st != DYNRT_ERR_NOMEM && st != c->also_ok)
        fail_msg("%s: allocation %llu of %llu failed (%s): status %s, expected %s", c->name,
                 (unsigned long long)k, (unsigned long long)s.allocs, sticky ? "sticky" : "once",
                 dynrt_status_str(st), dynrt_status_str(DYNRT_ERR_NOMEM));
    }
  st = c->op(ctx);
  if (st != DYNRT_OK)
    fail_msg("%s: the run after the sweep failed: %s", c->name, dynrt_status_str(st));
  report(c->name, &s);
  return s;
}

/* Paths documented as allocation-free. */
static void expect_no_alloc(const char *name, sweep_op op, void *ctx) {
  dynrt_alloc_fail_after(0, 0);
  dynrt_status st = op(ctx);
  uint64_t n = dynrt_alloc_fail_after(0, 0);
  assert_int_equal(st, DYNRT_OK);
  if (n)
    fail_msg("%s: %llu allocations on a path that must not allocate", name, (unsigned long long)n);
  printf("[ sweep    ] %-34s     0 allocations (allocation-free path)\n", name);
}

/* ---- engine ---- */

typedef struct engine_ctx {
  char path[1024];
  unsigned char *bytes;
  size_t size;
  dynrt_model *model;
  dynrt_session *session;
  uint8_t *img;
  int side;
} engine_ctx;

static dynrt_status op_model_load(void *v) {
  engine_ctx *c = v;
  dynrt_model *m = (dynrt_model *)1;
  dynrt_error e;
  dynrt_status st = dynrt_model_load(c->path, &m, &e);
  if (st) {
    assert_null(m);
    assert_int_equal(e.status, st);
    assert_true(e.msg[0] != '\0');
  }
  dynrt_model_destroy(m);
  return st;
}

static dynrt_status op_model_load_memory(void *v) {
  engine_ctx *c = v;
  dynrt_model *m = (dynrt_model *)1;
  dynrt_error e;
  dynrt_status st = dynrt_model_load_memory(c->bytes, c->size, "tiny", &m, &e);
  if (st) assert_null(m);
  dynrt_model_destroy(m);
  return st;
}

static dynrt_status op_session_create(void *v) {
  engine_ctx *c = v;
  dynrt_session_options so = {.max_threads = 2, .threads = 2};
  dynrt_session *s = (dynrt_session *)1;
  dynrt_error e;
  dynrt_status st = dynrt_session_create(c->model, &so, &s, &e);
  if (st) assert_null(s);
  if (!st) st = dynrt_session_run_image(s, c->img, c->side, c->side, (size_t)c->side * 3);
  dynrt_session_destroy(s);
  return st;
}

static dynrt_status op_bn_table(void *v) {
  engine_ctx *c = v;
  dynrt_subnet cfg;
  dynrt_subnet_smallest(c->model, &cfg);
  size_t total = 0;
  dynrt_status st = dynrt_bn_layout(c->model, &cfg, NULL, 0, NULL, &total, NULL);
  if (st) return st;
  float *ones = malloc(total * sizeof *ones);
  for (size_t i = 0; i < total; i++) ones[i] = 1.0f;
  dynrt_bn_table *t = (dynrt_bn_table *)1;
  st = dynrt_bn_table_create(c->model, &cfg, ones, ones, &t, NULL);
  if (st) assert_null(t);
  dynrt_bn_table_destroy(t);
  free(ones);
  return st;
}

/* Switching sub-networks and running allocate nothing (docs/formats.md, engine.h). */
static dynrt_status op_switch_and_run(void *v) {
  engine_ctx *c = v;
  dynrt_subnet a, b;
  dynrt_subnet_smallest(c->model, &a);
  dynrt_subnet_largest(c->model, &b);
  dynrt_status st = DYNRT_OK;
  for (int i = 0; i < 4 && !st; i++) {
    st = dynrt_session_set_subnet(c->session, i & 1 ? &b : &a, NULL);
    if (!st)
      st = dynrt_session_run_image(c->session, c->img, c->side, c->side, (size_t)c->side * 3);
  }
  return st;
}

static dynrt_status op_set_threads(void *v) {
  engine_ctx *c = v;
  dynrt_status st = dynrt_session_set_threads(c->session, 1, NULL);
  if (!st) st = dynrt_session_set_threads(c->session, 2, NULL);
  return st == DYNRT_ERR_PERMISSION ? DYNRT_OK : st;
}

static dynrt_status op_dataset_evaluate(void *v) {
  engine_ctx *c = v;
  dynrt_dataset *ds = (dynrt_dataset *)1;
  dynrt_error e;
  dynrt_status st = dynrt_dataset_synthetic(8, c->side, 7, 1, &ds, &e);
  if (st) {
    assert_null(ds);
    return st;
  }
  dynrt_subnet cfg;
  dynrt_subnet_smallest(c->model, &cfg);
  dynrt_eval_result r;
  st = dynrt_evaluate(c->model, &cfg, NULL, ds, 0, 0, 1, &r, &e);
  dynrt_dataset_destroy(ds);
  return st;
}

static void test_engine(void **state) {
  (void)state;
  engine_ctx c;
  memset(&c, 0, sizeof c);
  snprintf(c.path, sizeof c.path, FIX "tiny.safetensors");
  FILE *f = fopen(c.path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  c.size = (size_t)ftell(f);
  rewind(f);
  c.bytes = malloc(c.size);
  assert_int_equal(fread(c.bytes, 1, c.size, f), c.size);
  fclose(f);
  dynrt_error e;
  assert_int_equal(dynrt_model_load(c.path, &c.model, &e), DYNRT_OK);
  dynrt_model_info mi;
  dynrt_model_get_info(c.model, &mi);
  c.side = mi.resolutions[mi.n_resolutions - 1];
  c.img = malloc((size_t)c.side * (size_t)c.side * 3);
  for (size_t i = 0; i < (size_t)c.side * (size_t)c.side * 3; i++) c.img[i] = (uint8_t)(i * 7);
  dynrt_session_options so = {.max_threads = 2, .threads = 2};
  assert_int_equal(dynrt_session_create(c.model, &so, &c.session, &e), DYNRT_OK);

  static const sweep_case cases[] = {
      {"dynrt_model_load", op_model_load, 0},
      {"dynrt_model_load_memory", op_model_load_memory, 0},
      {"dynrt_session_create (+run)", op_session_create, 0},
      {"dynrt_bn_table_create", op_bn_table, 0},
      {"dynrt_session_set_threads", op_set_threads, 0},
      {"dynrt_dataset_synthetic+evaluate", op_dataset_evaluate, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) sweep(&cases[i], &c);
  expect_no_alloc("set_subnet + run_image", op_switch_and_run, &c);

  dynrt_session_destroy(c.session);
  dynrt_model_destroy(c.model);
  free(c.img);
  free(c.bytes);
}

/* ---- op libraries ---- */

static dynrt_status op_oplib_load(void *v) {
  const char *path = v;
  dynrt_oplib *lib = (dynrt_oplib *)1;
  char err[512];
  dynrt_status st = dynrt_oplib_load(path, &lib, err, sizeof err);
  if (st) {
    assert_null(lib);
    assert_true(err[0] != '\0');
  }
  dynrt_oplib_destroy(lib);
  return st;
}

static dynrt_status op_oplib_build_save(void *v) {
  const char *out = v;
  dynrt_oplib *lib = NULL;
  dynrt_status st = dynrt_oplib_create("m", "m.safetensors", "board", &lib);
  if (st) {
    assert_null(lib);
    return st;
  }
  for (int s = 0; s < 3 && !st; s++) {
    dynrt_oplib_setting set = {"cpu", 1000000u * (uint32_t)(s + 1), 2};
    st = dynrt_oplib_add_setting(lib, &set, NULL);
  }
  for (int i = 0; i < 5 && !st; i++) {
    char cfg[16];
    snprintf(cfg, sizeof cfg, "net%d", i);
    dynrt_oplib_subnet sn = {.config = cfg,
                             .id = (uint64_t)i + 1,
                             .macs = 1000u * (uint64_t)(i + 1),
                             .params = 10,
                             .val_top1 = 0.5 + 0.05 * i,
                             .val_images = 100,
                             .test_top1 = -1,
                             .compute_ns = -1,
                             .memory_ns = -1};
    int idx;
    st = dynrt_oplib_add_subnet(lib, &sn, &idx);
    for (int s = 0; s < 3 && !st; s++) {
      dynrt_oplib_point pt = {.subnet = idx,
                              .setting = s,
                              .latency_mean_ms = (i + 1) * 10.0 / (s + 1),
                              .latency_p50_ms = (i + 1) * 10.0 / (s + 1),
                              .latency_p95_ms = (i + 1) * 11.0 / (s + 1),
                              .energy_mj = (i + 1) * (s + 1) * 1.0};
      st = dynrt_oplib_add_point(lib, &pt);
    }
  }
  if (!st) {
    dynrt_oplib_idle idle = {"cpu", 1000000, 0.2};
    st = dynrt_oplib_add_idle(lib, &idle);
  }
  if (!st) st = dynrt_oplib_finalize(lib);
  if (!st) st = dynrt_oplib_save(lib, out);
  dynrt_oplib_destroy(lib);
  return st;
}

static void test_oplib(void **state) {
  (void)state;
  char out[] = "/tmp/dynrt-sweep-XXXXXX";
  assert_non_null(mkdtemp(out));
  char file[64];
  snprintf(file, sizeof file, "%s/lib.oplib.json", out);
  static const char *const paths[] = {FIX "oplib/multi.oplib.json", XAVIER_LIB};
  sweep_case load = {"dynrt_oplib_load (multi)", op_oplib_load, 0};
  sweep(&load, (void *)paths[0]);
  load.name = "dynrt_oplib_load (xavier-nx, 150 settings)";
  sweep(&load, (void *)paths[1]);
  sweep_case build = {"dynrt_oplib_create..finalize+save", op_oplib_build_save, DYNRT_ERR_IO};
  sweep(&build, file);
  load.name = "dynrt_oplib_load (saved)";
  sweep(&load, file);
  unlink(file);
  rmdir(out);
}

/* ---- platforms ---- */

typedef struct plat_ctx {
  char spec[FK_PATH + 16];
  char root[FK_PATH];
} plat_ctx;

/* Opens, changes every domain (linux: saves, writes the state file, installs the signal
 * handlers), reads the sensors, closes (restores). */
static dynrt_status op_platform(void *v) {
  plat_ctx *c = v;
  dynrt_platform *p = (dynrt_platform *)1;
  char err[512];
  dynrt_status st = dynrt_platform_open(c->spec, &p, err, sizeof err);
  if (st) {
    assert_null(p);
    assert_true(err[0] != '\0');
    return st;
  }
  const dynrt_platform_info *in = dynrt_platform_get_info(p);
  for (int d = 0; d < in->ndomains && !st; d++) {
    const dynrt_domain_info *di = dynrt_platform_domain(p, d);
    uint32_t a;
    if (di->can_set_freq && di->nopps > 1)
      st = dynrt_platform_set_freq(p, d, di->opps[di->nopps / 2].khz, &a);
  }
  double w, util[8], temp;
  uint64_t uj;
  dynrt_platform_read_energy(p, &uj);
  dynrt_platform_read_power(p, &w);
  dynrt_platform_read_util(p, util, 8);
  dynrt_platform_read_temp(p, &temp);
  dynrt_event ev;
  while (dynrt_platform_poll_event(p, &ev)) {
  }
  dynrt_platform_close(p);
  return st;
}

/* The linux backend saved and restored a fake Xavier NX in every run. */
static void check_restored(const char *root) {
  char buf[64], path[FK_PATH];
  assert_string_equal(
      fk_read(root, "sys/devices/system/cpu/cpufreq/policy0/scaling_governor", buf, sizeof buf),
      "schedutil");
  assert_int_equal(fk_read_ll(root, "sys/devices/system/cpu/cpufreq/policy2/scaling_min_freq"),
                   1190400);
  assert_int_equal(fk_read_ll(root, "sys/class/devfreq/17000000.gv11b/max_freq"), 1109250000);
  snprintf(path, sizeof path, "%s/.dynrt-state", root);
  assert_false(dynrt__sysfs_exists(path));
}

static void test_platforms(void **state) {
  (void)state;
  plat_ctx c;
  snprintf(c.spec, sizeof c.spec, "sim:" SRC "platforms/xavier-nx.json");
  sweep_case sim = {"dynrt_platform_open (sim xavier-nx)", op_platform, 0};
  sweep(&sim, &c);
  snprintf(c.spec, sizeof c.spec, "sim:" SRC "platforms/odroid-xu3.json");
  sim.name = "dynrt_platform_open (sim odroid-xu3)";
  sweep(&sim, &c);

  unsetenv("DYNRT_STATE_FILE");
  fk_mkroot(c.root);
  fk_board_xavier_nx(c.root, 5);
  fk_kernel_start(c.root);
  snprintf(c.spec, sizeof c.spec, "linux:%s", c.root);
  sweep_case lx = {"dynrt_platform_open (linux, fake NX)", op_platform, 0};
  sweep(&lx, &c);
  check_restored(c.root);
  fk_kernel_stop();
  fk_rmtree(c.root);

  fk_mkroot(c.root);
  fk_board_odroid_xu3(c.root);
  fk_kernel_start(c.root);
  snprintf(c.spec, sizeof c.spec, "linux:%s", c.root);
  lx.name = "dynrt_platform_open (linux, fake XU3)";
  sweep(&lx, &c);
  fk_kernel_stop();
  fk_rmtree(c.root);

  fk_mkroot(c.root);
  fk_board_x86(c.root);
  snprintf(c.spec, sizeof c.spec, "host:%s", c.root);
  sweep_case host = {"dynrt_platform_open (host, fake x86)", op_platform, 0};
  sweep(&host, &c);
  fk_rmtree(c.root);
}

/* ---- thread pool ---- */

static dynrt_status op_pool(void *v) {
  (void)v;
  dynrt_pool *pool = (dynrt_pool *)1;
  dynrt_status st = dynrt_pool_create(3, &pool);
  if (st) {
    assert_null(pool);
    return st;
  }
  dynrt_pool_destroy(pool);
  return DYNRT_OK;
}

static void test_pool(void **state) {
  (void)state;
  sweep_case c = {"dynrt_pool_create (3 threads)", op_pool, 0};
  sweep(&c, NULL);
}

/* ---- runtime manager ---- */

typedef struct rtm_ctx {
  dynrt_platform *p;
  dynrt_oplib *lib;
  dynrt_rtm *rtm; /* for the add_app and cycle cases */
  dynrt_app *apps[2];
  const char *policy;
  uint64_t now;
} rtm_ctx;

static dynrt_status make_rtm(rtm_ctx *c, const char *policy, dynrt_rtm **out) {
  dynrt_rtm_options o;
  dynrt_rtm_options_init(&o);
  o.policy = policy;
  o.allow_platform_mismatch = 1;
  char err[512];
  *out = (dynrt_rtm *)1;
  dynrt_status st = dynrt_rtm_create(c->p, &o, out, err, sizeof err);
  if (st) {
    assert_null(*out);
    assert_true(err[0] != '\0');
  }
  return st;
}

static dynrt_status add_app(dynrt_rtm *rtm, const dynrt_oplib *lib, const char *name,
                            uint64_t target, int prio, dynrt_app **out) {
  dynrt_app_spec spec = {.name = name, .oplib = lib};
  spec.req = (dynrt_requirements){target, target, 0.0, prio, 0};
  *out = (dynrt_app *)1;
  dynrt_status st = dynrt_rtm_add_app(rtm, &spec, out);
  if (st) {
    assert_null(*out);
    assert_true(dynrt_rtm_errmsg(rtm)[0] != '\0');
  }
  return st;
}

/* Decides and reports n inferences per app at the predicted latency. */
static dynrt_status cycle(rtm_ctx *c, dynrt_rtm *rtm, dynrt_app **apps, int napps, int n) {
  dynrt_status st = DYNRT_OK;
  for (int k = 0; k < n && !st; k++) {
    c->now += 20 * MS;
    st = dynrt_rtm_step(rtm, c->now, NULL);
    for (int i = 0; i < napps && !st; i++) {
      dynrt_decision d;
      st = dynrt_app_decide(apps[i], &d);
      if (!st) {
        double ms = d.predicted_latency_ms > 0 ? d.predicted_latency_ms : 10;
        st = dynrt_app_report(apps[i], (uint64_t)(ms * (k % 3 ? 1.2 : 0.9) * 1e6), 1000);
      }
    }
  }
  return st;
}

static dynrt_status op_rtm_create(void *v) {
  rtm_ctx *c = v;
  dynrt_rtm *rtm;
  dynrt_status st = make_rtm(c, c->policy, &rtm);
  dynrt_rtm_destroy(rtm == (dynrt_rtm *)1 ? NULL : rtm);
  return st;
}

/* The whole life of a manager: create, two apps, a few cycles, remove, destroy. */
static dynrt_status op_rtm_life(void *v) {
  rtm_ctx *c = v;
  dynrt_rtm *rtm;
  dynrt_status st = make_rtm(c, c->policy, &rtm);
  if (st) return st;
  dynrt_app *apps[2] = {NULL, NULL};
  st = add_app(rtm, c->lib, "a", 400 * MS, 2, &apps[0]);
  if (!st) st = add_app(rtm, c->lib, "b", 900 * MS, 1, &apps[1]);
  if (!st) st = cycle(c, rtm, apps, 2, 6);
  if (!st) st = dynrt_rtm_remove_app(rtm, apps[0]);
  dynrt_rtm_destroy(rtm);
  return st;
}

static dynrt_status op_add_app(void *v) {
  rtm_ctx *c = v;
  dynrt_app *app;
  dynrt_status st = add_app(c->rtm, c->lib, "late", 500 * MS, 3, &app);
  if (st) return st;
  dynrt_app *all[3] = {c->apps[0], c->apps[1], app};
  st = cycle(c, c->rtm, all, 3, 2);
  dynrt_status rs = dynrt_rtm_remove_app(c->rtm, app);
  return st ? st : rs;
}

/* A plan and level 1 allocate nothing: the planner's workspace is sized by add_app. */
static dynrt_status op_cycle(void *v) {
  rtm_ctx *c = v;
  dynrt_requirements r = {300 * MS, 300 * MS, 0, 2, 0};
  dynrt_status st = dynrt_app_set_requirements(c->apps[0], &r);
  if (!st) st = cycle(c, c->rtm, c->apps, 2, 8);
  r.latency_target_ns = r.period_ns = 400 * MS;
  if (!st) st = dynrt_app_set_requirements(c->apps[0], &r);
  return st;
}

static dynrt_status op_oracle(void *v) {
  rtm_ctx *c = v;
  dynrt_rtm *rtm;
  dynrt_status st = make_rtm(c, "oracle", &rtm);
  if (st) return st;
  dynrt_app *app = NULL;
  st = add_app(rtm, c->lib, "o", 400 * MS, 1, &app);
  for (int i = 0; i < 100 && !st; i++) {
    dynrt_oracle_event ev = {.kind = DYNRT_ORACLE_SLOWDOWN,
                             .time_ns = c->now + (uint64_t)i * 10 * MS,
                             .app = app,
                             .domain = -1,
                             .slowdown = 1 + (i % 5) * 0.1};
    st = dynrt_rtm_oracle_add(rtm, &ev);
  }
  if (!st) st = cycle(c, rtm, &app, 1, 4);
  dynrt_rtm_destroy(rtm);
  return st;
}

static void rtm_sweeps(rtm_ctx *c, const char *what) {
  static const char *const policies[] = {"rtm", "static-max:schedutil", "dynamic-ofa:ondemand",
                                         "dvfs-only"};
  char name[96];
  for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
    c->policy = policies[i];
    snprintf(name, sizeof name, "rtm life %s (%s)", what, policies[i]);
    sweep_case life = {name, op_rtm_life, 0};
    sweep(&life, c);
  }
  c->policy = "rtm";
  snprintf(name, sizeof name, "dynrt_rtm_create %s", what);
  sweep_case create = {name, op_rtm_create, 0};
  sweep(&create, c);

  assert_int_equal(make_rtm(c, "rtm", &c->rtm), DYNRT_OK);
  assert_int_equal(add_app(c->rtm, c->lib, "a", 400 * MS, 2, &c->apps[0]), DYNRT_OK);
  assert_int_equal(add_app(c->rtm, c->lib, "b", 900 * MS, 1, &c->apps[1]), DYNRT_OK);
  snprintf(name, sizeof name, "dynrt_rtm_add_app %s", what);
  sweep_case add = {name, op_add_app, 0};
  sweep(&add, c);
  snprintf(name, sizeof name, "step+decide+report %s", what);
  expect_no_alloc(name, op_cycle, c);
  dynrt_rtm_destroy(c->rtm);
  c->rtm = NULL;
}

static void test_rtm_sim(void **state) {
  (void)state;
  rtm_ctx c;
  memset(&c, 0, sizeof c);
  char err[512];
  assert_int_equal(
      dynrt_platform_open("sim:" SRC "platforms/xavier-nx.json", &c.p, err, sizeof err), DYNRT_OK);
  assert_int_equal(dynrt_oplib_load(XAVIER_LIB, &c.lib, err, sizeof err), DYNRT_OK);
  rtm_sweeps(&c, "(sim NX)");
  sweep_case oracle = {"dynrt_rtm_oracle_add (sim NX)", op_oracle, 0};
  sweep(&oracle, &c);
  dynrt_oplib_destroy(c.lib);
  dynrt_platform_close(c.p);
}

static void test_rtm_linux(void **state) {
  (void)state;
  rtm_ctx c;
  memset(&c, 0, sizeof c);
  char root[FK_PATH], spec[FK_PATH + 8], err[512];
  unsetenv("DYNRT_STATE_FILE");
  fk_mkroot(root);
  fk_board_xavier_nx(root, 4);
  fk_kernel_start(root);
  snprintf(spec, sizeof spec, "linux:%s", root);
  assert_int_equal(dynrt_platform_open(spec, &c.p, err, sizeof err), DYNRT_OK);
  assert_int_equal(dynrt_oplib_load(XAVIER_LIB, &c.lib, err, sizeof err), DYNRT_OK);
  rtm_sweeps(&c, "(linux fake NX)");
  dynrt_oplib_destroy(c.lib);
  dynrt_platform_close(c.p);
  check_restored(root);
  fk_kernel_stop();
  fk_rmtree(root);
}

/* ---- real inference through the manager, offline tools (cifar10-smoke on a fake host) ---- */

typedef struct infer_ctx {
  dynrt_platform *p;
  dynrt_model *model;
  dynrt_session *session;
  dynrt_oplib *lib;
  dynrt_rtm *rtm;
  dynrt_app *app;
  uint8_t *img;
  int side;
  char dir[64];
} infer_ctx;

static dynrt_status infer_n(infer_ctx *c, dynrt_app *app, int n) {
  dynrt_status st = DYNRT_OK;
  for (int i = 0; i < n && !st; i++) {
    dynrt_infer_result r;
    st = dynrt_app_infer(app, c->img, c->side, c->side, (size_t)c->side * 3, &r);
    if (!st) st = dynrt_rtm_step(c->rtm ? c->rtm : NULL, 0, NULL);
  }
  return st;
}

/* A manager with one app that runs real inferences of its model. */
static dynrt_status op_rtm_infer(void *v) {
  infer_ctx *c = v;
  dynrt_rtm_options o;
  dynrt_rtm_options_init(&o);
  dynrt_rtm *rtm = (dynrt_rtm *)1;
  char err[512];
  dynrt_status st = dynrt_rtm_create(c->p, &o, &rtm, err, sizeof err);
  if (st) {
    assert_null(rtm);
    return st;
  }
  dynrt_app_spec spec = {.name = "real", .oplib = c->lib, .model = c->model, .session = c->session};
  spec.req = (dynrt_requirements){50 * MS, 0, 0, 1, 0};
  dynrt_app *app = (dynrt_app *)1;
  st = dynrt_rtm_add_app(rtm, &spec, &app);
  if (st) assert_null(app);
  c->rtm = rtm;
  if (!st) st = infer_n(c, app, 3);
  c->rtm = NULL;
  dynrt_rtm_destroy(rtm);
  return st;
}

static dynrt_status op_infer_steady(void *v) {
  infer_ctx *c = v;
  return infer_n(c, c->app, 5);
}

/* BN tables of two sub-networks into a sidecar file, saved and loaded again. */
static dynrt_status op_bn_file(void *v) {
  infer_ctx *c = v;
  dynrt_error e;
  dynrt_bn_file *f = (dynrt_bn_file *)1;
  dynrt_status st = dynrt_bn_file_create(c->model, "sweep", &f, &e);
  if (st) {
    assert_null(f);
    return st;
  }
  for (int k = 0; k < 2 && !st; k++) {
    dynrt_subnet cfg;
    if (k)
      dynrt_subnet_largest(c->model, &cfg);
    else
      dynrt_subnet_smallest(c->model, &cfg);
    size_t total = 0;
    st = dynrt_bn_layout(c->model, &cfg, NULL, 0, NULL, &total, NULL);
    float *ones = malloc(total * sizeof *ones);
    for (size_t i = 0; i < total; i++) ones[i] = 1.0f + 0.5f * (float)k;
    dynrt_bn_table *t = NULL;
    if (!st) st = dynrt_bn_table_create(c->model, &cfg, ones, ones, &t, &e);
    free(ones);
    if (!st && (st = dynrt_bn_file_put(f, t, 100, &e))) dynrt_bn_table_destroy(t); /* not taken */
  }
  char path[96];
  snprintf(path, sizeof path, "%s/sweep.bn.safetensors", c->dir);
  if (!st) st = dynrt_bn_file_save(f, path, &e);
  dynrt_bn_file_destroy(f);
  dynrt_bn_file *g = NULL;
  if (!st) st = dynrt_bn_file_load(c->model, path, &g, &e);
  if (!st) assert_int_equal(dynrt_bn_file_count(g), 2);
  dynrt_bn_file_destroy(g);
  return st;
}

static dynrt_status op_lut_load(void *v) {
  infer_ctx *c = v;
  dynrt_error e;
  dynrt_block_lut *l = (dynrt_block_lut *)1;
  dynrt_status st = dynrt_block_lut_load(c->model, SRC "models/cifar10-smoke.lut.json", &l, &e);
  if (st) assert_null(l);
  dynrt_block_lut_destroy(l);
  return st;
}

static dynrt_status op_calibrate(void *v) {
  infer_ctx *c = v;
  dynrt_error e;
  dynrt_dataset *ds = NULL;
  dynrt_status st = dynrt_dataset_synthetic(4, c->side, 10, 2, &ds, &e);
  if (st) return st;
  dynrt_subnet cfg;
  dynrt_subnet_smallest(c->model, &cfg);
  dynrt_calib_options o = {.batch = 2};
  dynrt_bn_table *t = (dynrt_bn_table *)1;
  st = dynrt_calibrate(c->model, &cfg, ds, &o, &t, &e);
  if (st) assert_null(t);
  dynrt_bn_table_destroy(t);
  dynrt_dataset_destroy(ds);
  return st;
}

static void test_infer_offline(void **state) {
  (void)state;
  infer_ctx c;
  memset(&c, 0, sizeof c);
  char root[FK_PATH], spec[FK_PATH + 8], err[512];
  fk_mkroot(root);
  /* One host domain at 2.6 GHz, the frequency the shipped host op library was made at. */
  fk_write(root, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "2600000\n");
  unsigned long long busy[2] = {10, 20}, idle[2] = {90, 80};
  fk_proc_stat(root, 2, busy, idle);
  snprintf(spec, sizeof spec, "host:%s", root);
  assert_int_equal(dynrt_platform_open(spec, &c.p, err, sizeof err), DYNRT_OK);
  dynrt_error e;
  assert_int_equal(dynrt_model_load(SRC "models/cifar10-smoke.safetensors", &c.model, &e),
                   DYNRT_OK);
  dynrt_session_options so = {.max_threads = 2, .threads = 1};
  assert_int_equal(dynrt_session_create(c.model, &so, &c.session, &e), DYNRT_OK);
  assert_int_equal(dynrt_oplib_load(SRC "models/cifar10-smoke.oplib.json", &c.lib, err, sizeof err),
                   DYNRT_OK);
  dynrt_model_info mi;
  dynrt_model_get_info(c.model, &mi);
  c.side = mi.resolutions[mi.n_resolutions - 1];
  c.img = malloc((size_t)c.side * (size_t)c.side * 3);
  for (size_t i = 0; i < (size_t)c.side * (size_t)c.side * 3; i++) c.img[i] = (uint8_t)(i * 13);
  snprintf(c.dir, sizeof c.dir, "/tmp/dynrt-sweep-XXXXXX");
  assert_non_null(mkdtemp(c.dir));

  sweep_case infer = {"rtm+add_app(model)+dynrt_app_infer", op_rtm_infer, 0};
  sweep(&infer, &c);
  dynrt_rtm_options o;
  dynrt_rtm_options_init(&o);
  assert_int_equal(dynrt_rtm_create(c.p, &o, &c.rtm, err, sizeof err), DYNRT_OK);
  dynrt_app_spec sp = {.name = "real", .oplib = c.lib, .model = c.model, .session = c.session};
  sp.req = (dynrt_requirements){50 * MS, 0, 0, 1, 0};
  assert_int_equal(dynrt_rtm_add_app(c.rtm, &sp, &c.app), DYNRT_OK);
  assert_int_equal(infer_n(&c, c.app, 2), DYNRT_OK);
  expect_no_alloc("dynrt_app_infer (steady state)", op_infer_steady, &c);
  dynrt_rtm_destroy(c.rtm);
  c.rtm = NULL;

  sweep_case bn = {"dynrt_bn_file create/put/save/load", op_bn_file, DYNRT_ERR_IO};
  sweep(&bn, &c);
  sweep_case lut = {"dynrt_block_lut_load", op_lut_load, 0};
  sweep(&lut, &c);
  sweep_case cal = {"dynrt_calibrate (synthetic)", op_calibrate, 0};
  sweep(&cal, &c);

  char cmd[96];
  snprintf(cmd, sizeof cmd, "rm -rf %s", c.dir);
  assert_int_equal(system(cmd), 0);
  free(c.img);
  dynrt_oplib_destroy(c.lib);
  dynrt_session_destroy(c.session);
  dynrt_model_destroy(c.model);
  dynrt_platform_close(c.p);
  fk_rmtree(root);
}

/* ---- scenarios ---- */

#define SCN_PATH SRC "scenarios/test-sweep.json"
static const char *const scn_json =
    "{\"format\": \"dynrt-scenario\", \"version\": 1, \"name\": \"sweep\","
    " \"platform\": \"sim:platforms/xavier-nx.json\", \"duration_s\": 2, \"seed\": 3,"
    " \"trace_period_ms\": 100,"
    " \"apps\": [{\"name\": \"cam\", \"oplib\": \"models/ofa-xavier-gpu-published.oplib.json\","
    "   \"derive\": \"gpu\", \"work_ref\": {\"platform\": \"platforms/xavier-nx.json\","
    "   \"domain\": \"gpu\"}, \"arrival\": {\"period_ms\": 100}, \"latency_ms\": 70,"
    "   \"accuracy_floor\": 0.74, \"priority\": 2},"
    "  {\"name\": \"cls\", \"oplib\": \"models/ofa-xavier-gpu-published.oplib.json\","
    "   \"derive\": \"gpu\", \"work_ref\": {\"platform\": \"platforms/xavier-nx.json\","
    "   \"domain\": \"gpu\"}, \"arrival\": {\"period_ms\": 400}, \"latency_ms\": 300,"
    "   \"priority\": 1, \"start_s\": 0.5}],"
    " \"events\": [{\"at_s\": 0.8, \"kind\": \"target\", \"app\": \"cam\", \"latency_ms\": 55},"
    "   {\"at_s\": 1.0, \"kind\": \"load\", \"domain\": \"gpu\", \"until_s\": 1.5},"
    "   {\"at_s\": 1.2, \"kind\": \"cap\", \"domain\": \"gpu\", \"max_mhz\": 803.25}],"
    " \"policies\": [\"rtm\", \"static-max\", \"dynamic-ofa\", \"oracle\"]}";

typedef struct scn_ctx {
  dynrt_scn *scn;
  dynrt_oplib *libs[DYNRT_SCN_MAX_APPS];
  const char *policy;
  dynrt_scn_result res[2];
  char dir[64];
} scn_ctx;

static dynrt_status op_scn_load(void *v) {
  (void)v;
  dynrt_scn *scn = (dynrt_scn *)1;
  char err[1024];
  dynrt_status st = dynrt_scn_load(SRC "scenarios/xavier-four-models.json", &scn, err, sizeof err);
  if (st) {
    assert_null(scn);
    assert_true(err[0] != '\0');
  }
  dynrt_scn_free(scn);
  return st;
}

/* Traces, summary.json and the HTML report of two finished runs. */
static dynrt_status op_scn_outputs(void *v) {
  scn_ctx *c = v;
  char err[1024], html[96];
  dynrt_status st = DYNRT_OK;
  for (int i = 0; i < 2 && !st; i++)
    st = dynrt_scn_write_traces(&c->res[i], c->dir, err, sizeof err);
  if (!st) st = dynrt_scn_write_summary(c->scn, c->res, 2, c->dir, NULL, err, sizeof err);
  snprintf(html, sizeof html, "%s/report.html", c->dir);
  const char *dirs[1] = {c->dir};
  if (!st) st = dynrt_scn_report(dirs, 1, html, err, sizeof err);
  if (st) assert_true(err[0] != '\0');
  return st;
}

static dynrt_status op_scn_parse(void *v) {
  (void)v;
  dynrt_scn *scn = (dynrt_scn *)1;
  char err[1024];
  dynrt_status st = dynrt_scn_parse(scn_json, strlen(scn_json), SCN_PATH, &scn, err, sizeof err);
  if (st) {
    assert_null(scn);
    assert_true(err[0] != '\0');
  }
  dynrt_scn_free(scn);
  return st;
}

static dynrt_status op_scn_libs(void *v) {
  scn_ctx *c = v;
  dynrt_oplib *libs[DYNRT_SCN_MAX_APPS];
  char err[1024];
  dynrt_status st = dynrt_scn_load_libs(c->scn, libs, err, sizeof err);
  if (!st) dynrt_scn_free_libs(libs, c->scn->napps);
  return st;
}

static dynrt_status op_scn_run(void *v) {
  scn_ctx *c = v;
  dynrt_scn_result r;
  char err[1024];
  dynrt_scn_run_opts o = {.seed = 0};
  dynrt_status st = dynrt_scn_run_sim(c->scn, c->policy, c->libs, &o, &r, err, sizeof err);
  if (!st) assert_true(r.sum.inferences > 5);
  /* A failed run may still hold records (simrun.c keeps them, reported in
   * docs/reliability.md): freeing a result is always safe. */
  dynrt_scn_result_free(&r);
  return st;
}

static void test_scenario(void **state) {
  (void)state;
  scn_ctx c;
  memset(&c, 0, sizeof c);
  char err[1024];
  sweep_case parse = {"dynrt_scn_parse", op_scn_parse, 0};
  sweep(&parse, &c);
  assert_int_equal(dynrt_scn_parse(scn_json, strlen(scn_json), SCN_PATH, &c.scn, err, sizeof err),
                   DYNRT_OK);
  sweep_case libs = {"dynrt_scn_load_libs (derive gpu)", op_scn_libs, 0};
  sweep(&libs, &c);
  assert_int_equal(dynrt_scn_load_libs(c.scn, c.libs, err, sizeof err), DYNRT_OK);
  for (int i = 0; i < c.scn->npolicies; i++) {
    char name[96];
    c.policy = c.scn->policies[i];
    snprintf(name, sizeof name, "dynrt_scn_run_sim 2 s (%s)", c.policy);
    sweep_case run = {name, op_scn_run, 0};
    sweep(&run, &c);
  }
  sweep_case load = {"dynrt_scn_load (xavier-four-models)", op_scn_load, 0};
  sweep(&load, &c);

  /* Outputs of two runs. */
  dynrt_scn_run_opts o = {.seed = 0};
  for (int i = 0; i < 2; i++)
    assert_int_equal(
        dynrt_scn_run_sim(c.scn, c.scn->policies[i], c.libs, &o, &c.res[i], err, sizeof err),
        DYNRT_OK);
  snprintf(c.dir, sizeof c.dir, "/tmp/dynrt-sweep-XXXXXX");
  assert_non_null(mkdtemp(c.dir));
  sweep_case out = {"write_traces+summary+dynrt_scn_report", op_scn_outputs, 0};
  sweep(&out, &c);
  for (int i = 0; i < 2; i++) dynrt_scn_result_free(&c.res[i]);
  char cmd[96];
  snprintf(cmd, sizeof cmd, "rm -rf %s", c.dir);
  assert_int_equal(system(cmd), 0);

  dynrt_scn_free_libs(c.libs, c.scn->napps);
  dynrt_scn_free(c.scn);
}

int main(void) {
  /* Failed allocations are expected here by the thousand: keep the log to errors. */
  dynrt_log_set_level(DYNRT_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_engine),        cmocka_unit_test(test_oplib),
      cmocka_unit_test(test_platforms),     cmocka_unit_test(test_pool),
      cmocka_unit_test(test_rtm_sim),       cmocka_unit_test(test_rtm_linux),
      cmocka_unit_test(test_infer_offline), cmocka_unit_test(test_scenario),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

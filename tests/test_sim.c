/* test_sim.c - the simulated platform: board descriptions, jobs (frequency, cores,
 * sharing, GPU overlap), exact energy, background load, timed events and named modes,
 * utilisation, sensor noise and determinism. Expected values are computed here from the
 * model equations in docs/platforms.md. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_sim_util.h"

static dynrt_platform *open_preset(const char *name) {
  dynrt_platform *p = NULL;
  char err[512];
  dynrt_status st = dynrt_sim_open(name, &p, err, sizeof err);
  if (st != DYNRT_OK) fail_msg("open %s: %s", name, err);
  return p;
}

static void assert_near(double got, double want, double tol) {
  if (fabs(got - want) > tol) fail_msg("got %.9g, want %.9g (tol %.3g)", got, want, tol);
}

static void test_presets(void **state) {
  (void)state;
  dynrt_platform *p = open_preset("xavier-nx");
  const dynrt_platform_info *in = dynrt_platform_get_info(p);
  assert_string_equal(in->name, "xavier-nx (simulated)");
  assert_string_equal(in->backend, "sim");
  assert_int_equal(in->ndomains, 4);
  assert_int_equal(in->ncpus, 6);
  assert_true(in->energy_modelled && in->simulated);
  for (int d = 0; d < 3; d++) {
    const dynrt_domain_info *di = dynrt_platform_domain(p, d);
    assert_int_equal(di->kind, DYNRT_DOMAIN_CPU);
    assert_int_equal(di->ncpus, 2);
    assert_int_equal(di->cpus[0], 2 * d);
    assert_int_equal(di->nopps, 25);
    for (int k = 0; k < 24; k++) assert_int_equal(di->opps[k].khz, 115200 + 76800 * k);
    assert_int_equal(di->opps[24].khz, 1907200);
    for (int k = 1; k < 25; k++) assert_true(di->opps[k].microvolts >= di->opps[k - 1].microvolts);
    assert_int_equal(dynrt_platform_cpu_domain(p, 2 * d + 1), d);
  }
  const dynrt_domain_info *g = dynrt_platform_domain(p, 3);
  assert_int_equal(g->kind, DYNRT_DOMAIN_GPU);
  assert_int_equal(g->nopps, 15);
  assert_int_equal(g->opps[0].khz, 114750);
  assert_int_equal(g->opps[14].khz, 1109250);
  assert_int_equal(dynrt_sim_mode_count(p), 9);
  assert_string_equal(dynrt_sim_mode_name(p, 2), "MODE_15W_6CORE");
  assert_null(dynrt_sim_mode_name(p, 9));
  dynrt_platform_close(p);

  p = open_preset("odroid-xu3");
  assert_int_equal(dynrt_platform_get_info(p)->ncpus, 8);
  const dynrt_domain_info *big = dynrt_platform_domain(p, 1);
  assert_string_equal(big->name, "big");
  assert_int_equal(big->nopps, 19);
  assert_int_equal(big->opps[18].khz, 2000000);
  assert_int_equal(big->opps[18].microvolts, 1312500);
  assert_int_equal(big->transition_us, 140);
  assert_int_equal(dynrt_platform_domain(p, 0)->opps[12].khz, 1400000);
  dynrt_platform_close(p);

  p = open_preset("rpi4");
  const dynrt_domain_info *r = dynrt_platform_domain(p, 0);
  assert_int_equal(r->nopps, 10);
  assert_int_equal(r->opps[0].khz, 600000);
  assert_int_equal(r->opps[9].khz, 1500000);
  char gov[32];
  dynrt_platform_get_governor(p, 0, gov, sizeof gov);
  assert_string_equal(gov, "ondemand");
  dynrt_platform_close(p);

  p = open_preset("host");
  assert_int_equal(dynrt_platform_get_info(p)->ncpus, 2);
  assert_int_equal(dynrt_platform_domain(p, 0)->nopps, 1);
  assert_near(dynrt_platform_domain(p, 0)->capacity, 1.0, 0);
  dynrt_platform_close(p);
}

static void test_bad_boards(void **state) {
  (void)state;
  char err[512];
  dynrt_platform *p = (dynrt_platform *)1;
  assert_int_equal(dynrt_sim_open("/nonexistent/board.json", &p, err, sizeof err), DYNRT_ERR_IO);
  assert_null(p);
  assert_non_null(strstr(err, "/nonexistent/board.json"));
  assert_int_equal(try_json("{\"format\":\"dynrt-platform\"", err, sizeof err), DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err, "invalid JSON"));
  assert_int_equal(try_json("{\"format\":\"x\",\"version\":1}", err, sizeof err), DYNRT_ERR_FORMAT);
  const char *base = "{\"format\":\"dynrt-platform\",\"version\":1,\"name\":\"b\",\"domains\":[{"
                     "\"name\":\"c\",\"kind\":\"cpu\",\"cpus\":[0,1],\"capacity\":1,"
                     "\"power\":{\"dyn_coeff\":1},%s}]}";
  struct {
    const char *frag, *needle;
  } cases[] = {
      {"\"opps_khz\":[300,200],\"opps_uv\":[1,1]", "ascending"},
      {"\"opps_khz\":[200,300],\"opps_uv\":[900000]", "one voltage per OPP"},
      {"\"opps_khz\":[200,300]", "opps_uv and voltage_line"},
      {"\"opps_khz\":[200,300],\"opps_uv\":[900000,900000],\"governor\":\"turbo\"", "turbo"},
      {"\"opps_khz\":[200,-5],\"opps_uv\":[900000,900000]", "opps_khz[1]"},
      {"\"opp_grid\":{\"start_khz\":1,\"step_khz\":1},\"opps_uv\":[1]", "count"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char json[1024];
    snprintf(json, sizeof json, base, cases[i].frag);
    assert_int_equal(try_json(json, err, sizeof err), DYNRT_ERR_FORMAT);
    if (!strstr(err, cases[i].needle))
      fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
  }
  /* A hole in the CPU numbering. */
  assert_int_equal(
      try_json("{\"format\":\"dynrt-platform\",\"version\":1,\"name\":\"b\",\"domains\":[{"
               "\"name\":\"c\",\"kind\":\"cpu\",\"cpus\":[0,2],\"capacity\":1,\"power\":{"
               "\"dyn_coeff\":1},\"opps_khz\":[200],\"opps_uv\":[900000]}]}",
               err, sizeof err),
      DYNRT_ERR_FORMAT);
  assert_non_null(strstr(err, "without holes"));
}

/* The GPU calibration: 43 ms at 1109.25 MHz alone, 50 ms at 803.25 MHz. */
static void test_xavier_gpu_calibration(void **state) {
  (void)state;
  dynrt_platform *p = open_preset("xavier-nx");
  dynrt_sim_set_noise(p, 0, 0);
  double c, m, ns;
  assert_int_equal(dynrt_sim_split_latency(p, 3, 43e6, &c, &m), DYNRT_OK);
  assert_near(c + m, 43e6, 1e-6);
  assert_int_equal(dynrt_sim_predict_ns(p, 3, 803250, 1, c, m, &ns), DYNRT_OK);
  assert_near(ns, 50e6, 0.01e6);
  uint32_t khz;
  dynrt_platform_set_freq(p, 3, 1109250, &khz);
  dynrt_sim_job job;
  dynrt_sim_completion done;
  assert_int_equal(dynrt_sim_job_start(p, 0, 3, 0, c, m, &job), DYNRT_OK);
  assert_int_equal(dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &done), 1);
  assert_near((double)(done.end_ns - done.start_ns), 43e6, 1);
  dynrt_platform_set_freq(p, 3, 803250, &khz);
  uint64_t t0 = dynrt_platform_now(p);
  dynrt_sim_job_start(p, 0, 3, 0, c, m, &job);
  dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &done);
  assert_near((double)(done.end_ns - t0), ns, 1);
  /* two apps sharing the GPU at 1109.25 MHz: m + c (1 + kappa) each */
  dynrt_platform_set_freq(p, 3, 1109250, &khz);
  t0 = dynrt_platform_now(p);
  dynrt_sim_job a, b;
  dynrt_sim_job_start(p, 0, 3, 0, c, m, &a);
  dynrt_sim_job_start(p, 1, 3, 0, c, m, &b);
  dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &done);
  assert_near((double)(done.end_ns - t0), m + c * 1.565, 2);
  assert_true(done.end_ns - t0 > 50e6 && done.end_ns - t0 < 55e6);
  dynrt_platform_close(p);
}

/* Progress integrates exactly across a frequency change; Amdahl speedup on 2 cores. */
static void test_job_frequency_and_cores(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("userspace", 1, 500000, 500000, 2, 0);
  uint32_t khz;
  dynrt_platform_set_freq(p, 0, 1000000, &khz);
  dynrt_sim_job job;
  dynrt_sim_completion done;
  assert_int_equal(dynrt_sim_job_start(p, 7, -1, 1, 10.0 * MS, 0, &job), DYNRT_OK);
  uint64_t t;
  assert_int_equal(dynrt_sim_next_completion(p, &t), DYNRT_OK);
  assert_int_equal(t, 10 * MS);
  dynrt_sim_advance_to(p, 5 * MS);
  double rem;
  assert_int_equal(dynrt_sim_job_progress(p, job, &rem, NULL), DYNRT_OK);
  assert_near(rem, 0.5, 1e-12);
  dynrt_platform_set_freq(p, 0, 500000, &khz);
  assert_int_equal(dynrt_sim_next_completion(p, &t), DYNRT_OK);
  assert_int_equal(t, 15 * MS);
  assert_int_equal(dynrt_sim_run_until(p, 100 * MS, &done), 1);
  assert_int_equal(done.end_ns, 15 * MS);
  assert_int_equal(done.app, 7);
  assert_int_equal(done.job, job);
  assert_int_equal(dynrt_sim_job_progress(p, job, &rem, NULL), DYNRT_ERR_NOT_FOUND);
  /* memory part does not scale: 4 ms compute + 6 ms memory at half frequency = 14 ms */
  uint64_t t0 = dynrt_platform_now(p);
  dynrt_sim_job_start(p, 0, -1, 1, 4.0 * MS, 6.0 * MS, &job);
  dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &done);
  assert_int_equal(done.end_ns - t0, 14 * MS);
  /* 2 cores, parallel fraction 0.8: 10 ms * (0.2 + 0.8 / 2) = 6 ms at top */
  dynrt_platform_set_freq(p, 0, 1000000, &khz);
  t0 = dynrt_platform_now(p);
  dynrt_sim_job_start(p, 0, -1, 3, 10.0 * MS, 0, &job);
  dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &done);
  assert_int_equal(done.end_ns - t0, 6 * MS);
  /* nothing left: run_until stops at the limit */
  assert_int_equal(dynrt_sim_run_until(p, t0 + 100 * MS, &done), 0);
  assert_int_equal(dynrt_platform_now(p), t0 + 100 * MS);
  assert_int_equal(dynrt_sim_next_completion(p, &t), DYNRT_ERR_NOT_FOUND);
  dynrt_platform_close(p);
}

/* CFS-like sharing: two jobs on one core take twice as long; a 100 % background load
 * halves a job; a 50 % duty background (1 ms period) gives 3/4 of the core on average. */
static void test_sharing(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("performance", 1, 500000, 500000, 2, 0);
  dynrt_sim_job a, b;
  dynrt_sim_completion done;
  dynrt_sim_job_start(p, 0, -1, 1, 10.0 * MS, 0, &a);
  dynrt_sim_job_start(p, 1, -1, 1, 10.0 * MS, 0, &b);
  assert_int_equal(dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &done), 1);
  assert_int_equal(done.end_ns, 20 * MS);
  assert_int_equal(done.tail_ns, 1250000); /* the last 1/16 of the work, at half speed */
  assert_int_equal(dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &done), 1);
  assert_int_equal(done.end_ns, 20 * MS);
  uint32_t id;
  assert_int_equal(dynrt_sim_add_background(p, 20 * MS, 100 * MS, 1, 1.0, MS, &id), DYNRT_OK);
  dynrt_sim_job_start(p, 0, -1, 1, 10.0 * MS, 0, &a);
  dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &done);
  assert_int_equal(done.end_ns - done.start_ns, 20 * MS);
  dynrt_event ev;
  assert_int_equal(dynrt_platform_poll_event(p, &ev), 1);
  assert_int_equal(ev.kind, DYNRT_EVENT_LOAD_CHANGED);
  assert_int_equal(ev.cpu_mask, 1);
  dynrt_sim_advance_to(p, 100 * MS);
  assert_int_equal(dynrt_platform_poll_event(p, &ev), 1);
  assert_int_equal(ev.kind, DYNRT_EVENT_LOAD_CHANGED);
  assert_int_equal(ev.cpu_mask, 0);
  assert_int_equal(ev.time_ns, 100 * MS);
  /* 50 % duty, 1 ms period, starting with the job at 100 ms: a period gives 0.5 ms * 1/2
   * + 0.5 ms = 0.75 ms of progress; 13 periods give 9.75 ms, the last 0.25 ms runs at half
   * speed in the next busy phase -> 13.5 ms */
  assert_int_equal(dynrt_sim_add_background(p, 100 * MS, DYNRT_SIM_FOREVER, 1, 0.5, MS, &id),
                   DYNRT_OK);
  dynrt_sim_job_start(p, 0, -1, 1, 10.0 * MS, 0, &a);
  dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &done);
  assert_int_equal(done.end_ns - done.start_ns, 13 * MS + MS / 2);
  /* a job on the other, unloaded CPU is not slowed */
  dynrt_sim_job_start(p, 0, -1, 2, 10.0 * MS, 0, &a);
  dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &done);
  assert_int_equal(done.end_ns - done.start_ns, 10 * MS);
  assert_int_equal(dynrt_sim_stop_background(p, id, dynrt_platform_now(p)), DYNRT_OK);
  assert_int_equal(dynrt_sim_stop_background(p, id, dynrt_platform_now(p)), DYNRT_ERR_NOT_FOUND);
  /* A second job arrives 0.5 ms of work before the end of the first: its tail (0.625 ms of
   * work) ran 0.125 ms alone and 0.5 ms at half speed: 1.125 ms; the whole 10.5 ms. */
  uint64_t t0 = dynrt_platform_now(p);
  dynrt_sim_job_start(p, 0, -1, 1, 10.0 * MS, 0, &a);
  dynrt_sim_advance_to(p, t0 + 9 * MS + MS / 2);
  dynrt_sim_job_start(p, 1, -1, 1, 10.0 * MS, 0, &b);
  assert_int_equal(dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &done), 1);
  assert_int_equal(done.job, a);
  assert_near((double)(done.end_ns - done.start_ns), 10 * MS + MS / 2, 2); /* ns rounding */
  assert_near((double)done.tail_ns, MS + MS / 8, 2);
  assert_int_equal(dynrt_sim_job_cancel(p, b, &done), DYNRT_OK);
  assert_int_equal(done.tail_ns, 0);
  dynrt_platform_close(p);
}

/* P = base + idle + static(V) per online core + C V^2 f per busy core, integrated exactly;
 * the job is attributed dynamic plus its core's share of static and idle. */
static void test_energy(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("performance", 1, 500000, 500000, 2, 0);
  const double v = 1.0, f_ghz = 1.0, base = 1.0, idle = 0.05, ks = 0.1, c = 0.5;
  double w, e;
  assert_int_equal(dynrt_sim_power(p, &w, &e), DYNRT_OK);
  assert_near(w, base + idle + 2 * ks * v, 1e-12);
  assert_near(e, 0, 0);
  dynrt_sim_advance_to(p, 10 * MS);
  dynrt_sim_power(p, &w, &e);
  assert_near(e, (base + idle + 2 * ks * v) * 10e-3 * 1e6, 1e-6);
  double e0 = e;
  dynrt_sim_job job;
  dynrt_sim_completion done;
  dynrt_sim_job_start(p, 0, -1, 1, 4.0 * MS, 0, &job);
  dynrt_sim_power(p, &w, NULL);
  double p_busy = base + idle + 2 * ks * v + c * v * v * f_ghz;
  assert_near(w, p_busy, 1e-12);
  dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &done);
  double job_w = c * v * v * f_ghz + (idle + 2 * ks * v) / 2;
  assert_near(done.energy_uj, job_w * 4e-3 * 1e6, 1e-6);
  dynrt_sim_power(p, NULL, &e);
  assert_near(e - e0, p_busy * 4e-3 * 1e6, 1e-6);
  uint64_t uj, uj2;
  assert_int_equal(dynrt_platform_read_energy(p, &uj), DYNRT_OK);
  assert_int_equal(uj, (uint64_t)e);
  /* average power since the previous read (first read: since open) */
  double pw;
  assert_int_equal(dynrt_platform_read_power(p, &pw), DYNRT_OK);
  assert_near(pw, e / 14e-3 / 1e6, 1e-9);
  dynrt_sim_advance_to(p, 30 * MS);
  dynrt_platform_read_energy(p, &uj2);
  assert_true(uj2 > uj);
  dynrt_platform_close(p);
}

/* Same seed -> identical traces; different seed -> different noise. */
typedef struct run_out {
  uint64_t end[64];
  double energy;
  freq_trace tr;
} run_out;

static void run_scenario(uint64_t seed, run_out *o) {
  dynrt_platform *p = open_preset("xavier-nx");
  dynrt_sim_set_seed(p, seed);
  dynrt_sim_set_trace(p, record_freq, &o->tr);
  uint32_t id;
  dynrt_sim_add_background(p, 100 * MS, 300 * MS, 0x3, 0.4, 10 * MS, &id);
  dynrt_sim_schedule_cap(p, 200 * MS, 0, 1190400);
  for (int i = 0; i < 64; i++) {
    dynrt_sim_job job;
    dynrt_sim_completion done;
    assert_int_equal(dynrt_sim_job_start(p, 0, -1, 0x3, 3.0 * MS, 1.0 * MS, &job), DYNRT_OK);
    assert_int_equal(dynrt_sim_run_until(p, DYNRT_SIM_FOREVER - 1, &done), 1);
    o->end[i] = done.end_ns;
    dynrt_sim_advance_to(p, done.end_ns + 2 * MS);
  }
  dynrt_sim_power(p, NULL, &o->energy);
  dynrt_platform_close(p);
}

static void test_determinism(void **state) {
  (void)state;
  run_out *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b), *c = calloc(1, sizeof *c);
  assert_true(a && b && c);
  run_scenario(42, a);
  run_scenario(42, b);
  run_scenario(43, c);
  assert_memory_equal(a->end, b->end, sizeof a->end);
  assert_true(a->energy == b->energy);
  assert_int_equal(a->tr.n, b->tr.n);
  assert_memory_equal(a->tr.t, b->tr.t, sizeof(uint64_t) * (size_t)a->tr.n);
  assert_memory_equal(a->tr.khz, b->tr.khz, sizeof(uint32_t) * (size_t)a->tr.n);
  assert_true(a->tr.n > 3); /* schedutil moved */
  assert_true(memcmp(a->end, c->end, sizeof a->end) != 0);
  free(a);
  free(b);
  free(c);
}

/* Named modes: cores go offline (threads migrate), limits follow; cores taken. */
static void test_modes_and_take(void **state) {
  (void)state;
  dynrt_platform *p = open_preset("xavier-nx");
  dynrt_sim_set_noise(p, 0, 0);
  uint64_t mask;
  dynrt_platform_available_cpus(p, &mask);
  assert_int_equal(mask, 0x3f);
  dynrt_sim_job job;
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 0x30, 1e9, 0, &job), DYNRT_OK);
  assert_int_equal(dynrt_sim_schedule_mode(p, 10 * MS, "MODE_10W_2CORE"), DYNRT_OK);
  assert_int_equal(dynrt_sim_schedule_mode(p, 10 * MS, "nope"), DYNRT_ERR_NOT_FOUND);
  dynrt_sim_advance_to(p, 10 * MS);
  dynrt_platform_available_cpus(p, &mask);
  assert_int_equal(mask, 0x3);
  dynrt_sim_cpu_state st;
  dynrt_sim_cpu_state_get(p, 0, &st);
  assert_int_equal(st.nr_running, 2); /* both threads of cpu4/cpu5 moved to cpu0 */
  dynrt_sim_cpu_state_get(p, 4, &st);
  assert_int_equal(st.online, 0);
  assert_int_equal(st.nr_running, 0);
  uint32_t mn, mx;
  dynrt_platform_get_limits(p, 0, &mn, &mx);
  assert_int_equal(mn, 1190400);
  assert_int_equal(mx, 1497600);
  dynrt_platform_get_limits(p, 3, &mn, &mx);
  assert_int_equal(mx, 803250);
  int ncpu_ev = 0, ncap = 0;
  dynrt_event ev;
  while (dynrt_platform_poll_event(p, &ev)) {
    ncpu_ev += ev.kind == DYNRT_EVENT_CPUS_CHANGED;
    ncap += ev.kind == DYNRT_EVENT_FREQ_CAP;
    if (ev.kind == DYNRT_EVENT_CPUS_CHANGED) assert_int_equal(ev.cpu_mask, 0x3);
  }
  assert_int_equal(ncpu_ev, 1);
  assert_int_equal(ncap, 4);
  /* starting a job on an offline core is refused */
  dynrt_sim_job j2;
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 0x4, 1e6, 0, &j2), DYNRT_ERR_STATE);
  assert_int_equal(dynrt_sim_schedule_take(p, 20 * MS, 0x2), DYNRT_OK);
  dynrt_sim_advance_to(p, 20 * MS);
  dynrt_platform_available_cpus(p, &mask);
  assert_int_equal(mask, 0x1);
  assert_int_equal(dynrt_platform_poll_event(p, &ev), 1);
  assert_int_equal(ev.kind, DYNRT_EVENT_CPUS_CHANGED);
  assert_int_equal(ev.cpu_mask, 0x1);
  /* an app's assigned mask is used when the job gives none */
  assert_int_equal(dynrt_platform_assign(p, 3, 0x1), DYNRT_OK);
  assert_int_equal(dynrt_sim_job_start(p, 3, -1, 0, 1e6, 0, &j2), DYNRT_OK);
  dynrt_platform_close(p);
}

static void test_util_and_noise(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("performance", 1, 500000, 500000, 2, 0);
  uint32_t id;
  dynrt_sim_add_background(p, 0, DYNRT_SIM_FOREVER, 2, 0.25, 4 * MS, &id);
  dynrt_sim_advance_to(p, 100 * MS);
  double u[3];
  assert_int_equal(dynrt_platform_read_util(p, u, 3), DYNRT_OK);
  assert_near(u[0], 0, 0);
  assert_near(u[1], 0.25, 1e-12);
  assert_near(u[2], 0, 0);
  /* power noise: mean stays, values differ, same seed repeats */
  assert_int_equal(dynrt_sim_set_noise(p, 0.0, 0.05), DYNRT_OK);
  assert_int_equal(dynrt_sim_set_noise(p, 2.0, 0.05), DYNRT_ERR_INVALID_ARG);
  double first;
  dynrt_platform_read_power(p, &first); /* the window since open; later reads have dt 0 */
  dynrt_sim_set_seed(p, 5);
  double r1[8], r2[8], sum = 0;
  for (int i = 0; i < 8; i++) {
    dynrt_platform_read_power(p, &r1[i]);
    sum += r1[i];
  }
  dynrt_sim_set_seed(p, 5);
  for (int i = 0; i < 8; i++) dynrt_platform_read_power(p, &r2[i]);
  assert_memory_equal(r1, r2, sizeof r1);
  assert_true(r1[0] != r1[1]);
  double w;
  dynrt_sim_power(p, &w, NULL);
  assert_near(sum / 8, w, 0.1 * w);
  dynrt_platform_close(p);
}

static void test_api_errors(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("performance", 1, 500000, 500000, 2, 0);
  dynrt_sim_job job;
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 1, -1, 0, &job), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 1, 0, 0, &job), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 0x4, 1, 0, &job), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_sim_job_start(p, 0, 0, 0, 1, 0, &job), DYNRT_ERR_INVALID_ARG);
  assert_non_null(strstr(dynrt_platform_errmsg(p), "not a GPU domain"));
  assert_int_equal(dynrt_sim_job_start(p, 5, -1, 0, 1, 0, &job), DYNRT_ERR_INVALID_ARG);
  dynrt_sim_advance_to(p, 10 * MS);
  assert_int_equal(dynrt_sim_advance_to(p, 5 * MS), DYNRT_ERR_INVALID_ARG);
  uint32_t id;
  assert_int_equal(dynrt_sim_add_background(p, 0, 20 * MS, 1, 0.5, MS, &id), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_sim_add_background(p, 20 * MS, 30 * MS, 1, 1.5, MS, &id),
                   DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_sim_job_cancel(p, 12345, NULL), DYNRT_ERR_NOT_FOUND);
  assert_int_equal(dynrt_sim_set_limits(p, 0, 900000, 600000), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_sim_set_limits(p, 0, 0, 600000), DYNRT_OK);
  uint32_t mn, mx, khz;
  dynrt_platform_get_limits(p, 0, &mn, &mx);
  assert_int_equal(mx, 500000);
  dynrt_platform_get_freq(p, 0, &khz);
  assert_int_equal(khz, 500000);
  /* 256 running jobs at most */
  int started = 0;
  while (dynrt_sim_job_start(p, 0, -1, 1, 1e9, 0, &job) == DYNRT_OK) started++;
  assert_int_equal(started, DYNRT_SIM_MAX_JOBS);
  assert_int_equal(dynrt_platform_read_temp(p, &(double){0}), DYNRT_ERR_UNSUPPORTED);
  dynrt_platform_close(p);
  dynrt_platform_close(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_presets),
      cmocka_unit_test(test_bad_boards),
      cmocka_unit_test(test_xavier_gpu_calibration),
      cmocka_unit_test(test_job_frequency_and_cores),
      cmocka_unit_test(test_sharing),
      cmocka_unit_test(test_energy),
      cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_modes_and_take),
      cmocka_unit_test(test_util_and_noise),
      cmocka_unit_test(test_api_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

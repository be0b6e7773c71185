/* test_gov.c - PELT and the simulated Linux governors checked against expectations
 * computed here by hand from the kernel formulas (reference/linux-power.md part A),
 * independently of the implementation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "platform/governors.h"
#include "platform/pelt.h"
#include "test_sim_util.h"

/* One PELT period: 1024 units of 1024 ns (delta >>= 10), i.e. 1.048576 ms. */
static const double PERIOD_MS = 1.048576;

static double y_pow(double periods) { return pow(0.5, periods / 32.0); }

static uint32_t util_of(dynrt_platform *p, int cpu) {
  dynrt_sim_cpu_state st;
  assert_int_equal(dynrt_sim_cpu_state_get(p, cpu, &st), DYNRT_OK);
  return st.util_avg;
}

static void test_pelt_decay_table(void **state) {
  (void)state;
  /* y^32 = 1/2 (the table's y^0 is 0xffffffff / 2^32, so one unit is lost) and y^n for
   * n = 63*32 + 1 underflows to 0, as decay_load(). */
  assert_int_equal(dynrt__pelt_decay(1u << 20, 32), (1u << 19) - 1);
  assert_int_equal(dynrt__pelt_decay(1024, 64), 255);
  assert_int_equal(dynrt__pelt_decay(UINT64_MAX, 32 * 63 + 1), 0);
  for (int n = 1; n < 32; n++) {
    double want = 1e6 * y_pow(n);
    assert_true(fabs((double)dynrt__pelt_decay(1000000, (uint64_t)n) - want) <= 1.0);
  }
}

/* A 100 %-busy CPU from idle, no frequency invariance: util = 1024 (1 - y^n), n = t / 1.048576 ms.
 */
static void test_pelt_step_no_invariance(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("userspace", 0, 200000, 200000, 5, 0);
  uint32_t khz;
  assert_int_equal(dynrt_platform_set_freq(p, 0, 200000, &khz), DYNRT_OK);
  dynrt_sim_job job;
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 1, 1e12, 0, &job), DYNRT_OK);
  const double at_ms[] = {8, 16, 33.554432, 67.108864, 110, 200};
  for (size_t i = 0; i < sizeof at_ms / sizeof at_ms[0]; i++) {
    assert_int_equal(dynrt_sim_advance_to(p, (uint64_t)(at_ms[i] * MS)), DYNRT_OK);
    double want = 1024.0 * (1.0 - y_pow(at_ms[i] / PERIOD_MS));
    uint32_t got = util_of(p, 0);
    if (fabs(got - want) > 6) fail_msg("t=%g ms util %u, want %.1f", at_ms[i], got, want);
  }
  /* 50 % at one half-life, 75 % at two */
  assert_true(abs((int)util_of(p, 0) - 1024) < 30);
  assert_int_equal(util_of(p, 1), 0); /* the other CPU stayed idle */
  dynrt_platform_close(p);
}

/* With invariance the PELT clock runs at f/f_max while busy: at half the top frequency the
 * same utilisation takes twice as long. */
static void test_pelt_step_invariant_half_freq(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("userspace", 1, 200000, 200000, 5, 0);
  uint32_t khz;
  assert_int_equal(dynrt_platform_set_freq(p, 0, 500000, &khz), DYNRT_OK);
  assert_int_equal(khz, 600000); /* lowest OPP >= 500 MHz */
  assert_int_equal(dynrt_platform_set_freq(p, 0, 400000, &khz), DYNRT_OK);
  assert_int_equal(khz, 400000);
  /* 1000 MHz top: freq_capacity = 1024 * 400000 / 1000000 = 409 (integer, as the kernel) */
  double scale = floor(1024.0 * 400000 / 1000000) / 1024.0;
  dynrt_sim_job job;
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 1, 1e12, 0, &job), DYNRT_OK);
  const double at_ms[] = {20, 40, 80, 160};
  for (size_t i = 0; i < sizeof at_ms / sizeof at_ms[0]; i++) {
    assert_int_equal(dynrt_sim_advance_to(p, (uint64_t)(at_ms[i] * MS)), DYNRT_OK);
    double want = 1024.0 * (1.0 - y_pow(at_ms[i] * scale / PERIOD_MS));
    double raw = 1024.0 * (1.0 - y_pow(at_ms[i] / PERIOD_MS));
    uint32_t got = util_of(p, 0);
    if (fabs(got - want) > 6) fail_msg("t=%g ms util %u, want %.1f", at_ms[i], got, want);
    assert_true(got < raw - 20); /* slower than without invariance */
  }
  dynrt_platform_close(p);
}

/* An idle CPU decays with a half-life of 32 periods. */
static void test_pelt_idle_decay(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("performance", 1, 200000, 200000, 5, 0);
  dynrt_sim_job job;
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 1, 400.0 * MS, 0, &job), DYNRT_OK);
  dynrt_sim_completion c;
  assert_int_equal(dynrt_sim_run_until(p, 1000 * MS, &c), 1);
  assert_int_equal(c.end_ns, 400 * MS);
  uint32_t u0 = util_of(p, 0);
  assert_true(u0 > 1000);
  const double after_ms[] = {33.554432, 67.108864, 100};
  for (size_t i = 0; i < sizeof after_ms / sizeof after_ms[0]; i++) {
    assert_int_equal(dynrt_sim_advance_to(p, 400 * MS + (uint64_t)(after_ms[i] * MS)), DYNRT_OK);
    double want = u0 * y_pow(after_ms[i] / PERIOD_MS);
    uint32_t got = util_of(p, 0);
    if (fabs(got - want) > 6) fail_msg("idle %g ms util %u, want %.1f", after_ms[i], got, want);
  }
  dynrt_platform_close(p);
}

static void test_rate_limit_rule(void **state) {
  (void)state;
  /* cpufreq_policy_transition_delay_us (>= 6.8): 1000 * latency_us capped at 2 ms, a
   * latency above 2 ms used as is, 1000 us when the latency is unknown (0). */
  assert_int_equal(dynrt__sugov_rate_limit_us(0), 1000);
  assert_int_equal(dynrt__sugov_rate_limit_us(999), 1000);
  assert_int_equal(dynrt__sugov_rate_limit_us(1000), 1000);
  assert_int_equal(dynrt__sugov_rate_limit_us(140000), 2000);
  assert_int_equal(dynrt__sugov_rate_limit_us(2000000), 2000);
  assert_int_equal(dynrt__sugov_rate_limit_us(3000000), 3000);
  dynrt_platform *p = open_test_board("schedutil", 1, 200000, 100000, 9, 140000);
  uint64_t v;
  assert_int_equal(dynrt_sim_get_tunable(p, 0, "rate_limit_us", &v), DYNRT_OK);
  assert_int_equal(v, 2000);
  assert_int_equal(dynrt_sim_get_tunable(p, 0, "up_threshold", &v), DYNRT_ERR_NOT_FOUND);
  dynrt_platform_close(p);
}

/* Lowest OPP >= target inside the limits (grid 200..1000 MHz step 100). */
static uint32_t lowest_opp_ge(double target_khz) {
  for (uint32_t f = 200000; f < 1000000; f += 100000)
    if (f >= target_khz) return f;
  return 1000000;
}

/*
 * Step load from idle at f_min under schedutil on a frequency-invariant board, HZ = 250,
 * transition latency 140 us. By hand: at every tick t_k = 4k ms the PELT clock has advanced
 * by the time at each frequency * fcap(f)/1024 (fcap = 1024 f / f_max, integer), util =
 * 1024 (1 - y^(tau / 1.048576 ms)), the target is 1.25 * f_max * util / 1024, and the
 * frequency becomes the lowest OPP >= target 140 us after the tick (the old one runs until
 * then).
 */
static void test_schedutil_step_timing(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("schedutil", 1, 200000, 100000, 9, 140000);
  freq_trace *tr = calloc(1, sizeof *tr);
  assert_non_null(tr);
  assert_int_equal(dynrt_sim_set_trace(p, record_freq, tr), DYNRT_OK);
  uint32_t khz;
  assert_int_equal(dynrt_platform_get_freq(p, 0, &khz), DYNRT_OK);
  assert_int_equal(khz, 200000);
  dynrt_sim_job job;
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 1, 1e12, 0, &job), DYNRT_OK);
  assert_int_equal(dynrt_sim_advance_to(p, 400 * MS), DYNRT_OK);

  uint64_t want_t[16];
  uint32_t want_f[16];
  int nwant = 0;
  const double lat_ms = 0.140;
  double tau_ms = 0;
  uint32_t f = 200000, f_before = 200000; /* f_before: what ran until lat_ms into the tick */
  for (int k = 1; k <= 100 && nwant < 16; k++) {
    tau_ms += (lat_ms * floor(1024.0 * f_before / 1000000) +
               (4.0 - lat_ms) * floor(1024.0 * f / 1000000)) /
              1024.0;
    f_before = f;
    double util = floor(1024.0 * (1.0 - y_pow(tau_ms / PERIOD_MS)));
    double u = util + floor(util / 4);
    if (u > 1024) u = 1024;
    uint32_t next = lowest_opp_ge(floor(1000000.0 * u / 1024));
    if (next != f) {
      want_t[nwant] = (uint64_t)k * 4 * MS + (uint64_t)(lat_ms * MS);
      want_f[nwant++] = next;
      f = next;
    }
  }
  assert_true(nwant >= 8); /* reaches the top through the whole table */
  assert_int_equal(want_f[nwant - 1], 1000000);
  if (tr->n != nwant) fail_msg("trace has %d changes, hand computation %d", tr->n, nwant);
  for (int i = 0; i < nwant; i++) {
    if (tr->t[i] != want_t[i] || tr->khz[i] != want_f[i])
      fail_msg("change %d: sim %u kHz at %.0f ms, hand %u kHz at %.0f ms", i, tr->khz[i],
               tr->t[i] / 1e6, want_f[i], want_t[i] / 1e6);
  }
  free(tr);
  dynrt_platform_close(p);
}

/* The rate limit: committed changes are at least rate_limit_us apart. */
static void test_schedutil_rate_limit(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("schedutil", 1, 200000, 100000, 9, 140000);
  assert_int_equal(dynrt_sim_set_tunable(p, 0, "rate_limit_us", 10000), DYNRT_OK);
  freq_trace *tr = calloc(1, sizeof *tr);
  assert_non_null(tr);
  dynrt_sim_set_trace(p, record_freq, tr);
  dynrt_sim_job job;
  /* bursty load: 3 ms busy every 7 ms on both CPUs, plus a long job later */
  uint32_t id;
  assert_int_equal(dynrt_sim_add_background(p, 0, 300 * MS, 3, 3.0 / 7, 7 * MS, &id), DYNRT_OK);
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 1, 1e12, 0, &job), DYNRT_OK);
  assert_int_equal(dynrt_sim_advance_to(p, 200 * MS), DYNRT_OK);
  assert_int_equal(dynrt_sim_job_cancel(p, job, NULL), DYNRT_OK);
  assert_int_equal(dynrt_sim_advance_to(p, 600 * MS), DYNRT_OK);
  assert_true(tr->n >= 4);
  for (int i = 1; i < tr->n; i++)
    if (tr->t[i] - tr->t[i - 1] < 10 * MS)
      fail_msg("changes %d and %d only %.3f ms apart", i - 1, i, (tr->t[i] - tr->t[i - 1]) / 1e6);
  free(tr);
  dynrt_platform_close(p);
}

/* ondemand jumps to the maximum at the first sample whose window is loaded: the load
 * starts at t0 = 50 ms (a sample at t0 sees the idle window), the next sample is at the
 * first tick >= t0 + sampling_rate (8 ms = 2 ticks at HZ 250). */
static void test_ondemand_jump(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("ondemand", 1, 200000, 100000, 9, 0);
  uint64_t rate, thr;
  assert_int_equal(dynrt_sim_get_tunable(p, 0, "sampling_rate", &rate), DYNRT_OK);
  assert_int_equal(rate, 8000);
  assert_int_equal(dynrt_sim_get_tunable(p, 0, "up_threshold", &thr), DYNRT_OK);
  assert_int_equal(thr, 95);
  freq_trace *tr = calloc(1, sizeof *tr);
  assert_non_null(tr);
  dynrt_sim_set_trace(p, record_freq, tr);
  assert_int_equal(dynrt_sim_advance_to(p, 50 * MS), DYNRT_OK);
  dynrt_sim_job job;
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 2, 1e12, 0, &job), DYNRT_OK);
  assert_int_equal(dynrt_sim_advance_to(p, 100 * MS), DYNRT_OK);
  uint64_t tick = 4 * MS, t0 = 50 * MS;
  uint64_t want = (t0 + rate * 1000 + tick - 1) / tick * tick;
  assert_int_equal(tr->n, 1);
  assert_int_equal(tr->t[0], want);
  assert_int_equal(tr->khz[0], 1000000);
  /* load stops: the next sample with an idle window goes proportional -> minimum */
  assert_int_equal(dynrt_sim_job_cancel(p, job, NULL), DYNRT_OK);
  assert_int_equal(dynrt_sim_advance_to(p, 200 * MS), DYNRT_OK);
  uint32_t khz;
  dynrt_platform_get_freq(p, 0, &khz);
  assert_int_equal(khz, 1000000); /* no scheduler event on an idle CPU: no sample */
  free(tr);
  dynrt_platform_close(p);
}

/* ondemand below the threshold: freq_next = min + load (max - min) / 100, closest OPP. A
 * 50 % duty load gives 600 MHz on 200..1000 MHz. */
static void test_ondemand_proportional(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("ondemand", 1, 200000, 100000, 9, 0);
  uint32_t id;
  assert_int_equal(dynrt_sim_add_background(p, 0, DYNRT_SIM_FOREVER, 1, 0.5, 1 * MS, &id),
                   DYNRT_OK);
  assert_int_equal(dynrt_sim_advance_to(p, 500 * MS), DYNRT_OK);
  uint32_t khz;
  dynrt_platform_get_freq(p, 0, &khz);
  assert_int_equal(khz, 600000);
  double util[2];
  assert_int_equal(dynrt_platform_read_util(p, util, 2), DYNRT_OK);
  assert_true(fabs(util[0] - 0.5) < 0.01);
  assert_true(util[1] == 0.0);
  dynrt_platform_close(p);
}

/* conservative: +freq_step % of the policy maximum per loaded sample (RELATION_H on a
 * 50 MHz grid makes each step visible), first loaded sample as for ondemand. */
static void test_conservative_steps(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("conservative", 1, 200000, 50000, 17, 0);
  freq_trace *tr = calloc(1, sizeof *tr);
  assert_non_null(tr);
  dynrt_sim_set_trace(p, record_freq, tr);
  assert_int_equal(dynrt_sim_advance_to(p, 50 * MS), DYNRT_OK);
  dynrt_sim_job job;
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 1, 1e12, 0, &job), DYNRT_OK);
  assert_int_equal(dynrt_sim_advance_to(p, 300 * MS), DYNRT_OK);
  /* step = 5 % of 1000 MHz = 50 MHz; samples at 60, 68, 76, ... ms */
  assert_int_equal(tr->n, 16);
  for (int i = 0; i < tr->n; i++) {
    assert_int_equal(tr->khz[i], 250000 + 50000u * (uint32_t)i);
    assert_int_equal(tr->t[i], (60 + 8 * (uint64_t)i) * MS);
  }
  /* load below down_threshold: steps back down, one per sample */
  assert_int_equal(dynrt_sim_job_cancel(p, job, NULL), DYNRT_OK);
  uint32_t bg;
  assert_int_equal(dynrt_sim_add_background(p, 300 * MS, DYNRT_SIM_FOREVER, 1, 0.1, 1 * MS, &bg),
                   DYNRT_OK);
  int n0 = tr->n;
  assert_int_equal(dynrt_sim_advance_to(p, 340 * MS), DYNRT_OK);
  assert_true(tr->n > n0);
  for (int i = n0; i < tr->n; i++) assert_int_equal(tr->khz[i - 1] - tr->khz[i], 50000);
  free(tr);
  dynrt_platform_close(p);
}

static void test_performance_powersave(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("performance", 1, 200000, 100000, 9, 0);
  uint32_t khz;
  dynrt_platform_get_freq(p, 0, &khz);
  assert_int_equal(khz, 1000000);
  dynrt_sim_job job;
  dynrt_sim_job_start(p, 0, -1, 3, 1e12, 0, &job);
  dynrt_sim_advance_to(p, 100 * MS);
  dynrt_platform_get_freq(p, 0, &khz);
  assert_int_equal(khz, 1000000);
  assert_int_equal(dynrt_platform_set_governor(p, 0, "powersave"), DYNRT_OK);
  dynrt_sim_advance_to(p, 200 * MS);
  dynrt_platform_get_freq(p, 0, &khz);
  assert_int_equal(khz, 200000);
  char name[32];
  assert_int_equal(dynrt_platform_get_governor(p, 0, name, sizeof name), DYNRT_OK);
  assert_string_equal(name, "powersave");
  /* set_freq switches to userspace */
  assert_int_equal(dynrt_platform_set_freq(p, 0, 650000, &khz), DYNRT_OK);
  assert_int_equal(khz, 700000);
  dynrt_platform_get_governor(p, 0, name, sizeof name);
  assert_string_equal(name, "userspace");
  assert_int_equal(dynrt_platform_set_governor(p, 0, "nonsense"), DYNRT_ERR_NOT_FOUND);
  dynrt_platform_close(p);
}

/* Every governor stays within a cap from the moment it applies, and the userspace
 * request comes back when the cap lifts. */
static void test_caps_respected(void **state) {
  (void)state;
  const char *govs[] = {"schedutil",   "ondemand",  "conservative",
                        "performance", "powersave", "userspace"};
  for (size_t g = 0; g < sizeof govs / sizeof govs[0]; g++) {
    dynrt_platform *p = open_test_board(govs[g], 1, 200000, 100000, 9, 0);
    freq_trace *tr = calloc(1, sizeof *tr);
    assert_non_null(tr);
    dynrt_sim_set_trace(p, record_freq, tr);
    uint32_t khz;
    if (!strcmp(govs[g], "userspace")) dynrt_platform_set_freq(p, 0, 900000, &khz);
    dynrt_sim_job job;
    dynrt_sim_job_start(p, 0, -1, 1, 1e12, 0, &job);
    assert_int_equal(dynrt_sim_schedule_cap(p, 150 * MS, 0, 550000), DYNRT_OK);
    assert_int_equal(dynrt_sim_schedule_cap(p, 400 * MS, 0, 0), DYNRT_OK);
    dynrt_sim_advance_to(p, 399 * MS);
    for (int i = 0; i < tr->n; i++)
      if (tr->t[i] >= 150 * MS && tr->khz[i] > 500000)
        fail_msg("%s: %u kHz at %.1f ms above the 500 MHz cap", govs[g], tr->khz[i],
                 tr->t[i] / 1e6);
    dynrt_platform_get_freq(p, 0, &khz);
    assert_true(khz <= 500000);
    uint32_t mn, mx;
    dynrt_platform_get_limits(p, 0, &mn, &mx);
    assert_int_equal(mx, 500000);
    dynrt_event ev;
    assert_int_equal(dynrt_platform_poll_event(p, &ev), 1);
    assert_int_equal(ev.kind, DYNRT_EVENT_FREQ_CAP);
    assert_int_equal(ev.max_khz, 500000);
    assert_int_equal(ev.time_ns, 150 * MS);
    dynrt_sim_advance_to(p, 600 * MS);
    dynrt_platform_get_freq(p, 0, &khz);
    if (!strcmp(govs[g], "userspace")) assert_int_equal(khz, 900000);
    if (!strcmp(govs[g], "performance")) assert_int_equal(khz, 1000000);
    if (!strcmp(govs[g], "powersave")) assert_int_equal(khz, 200000);
    free(tr);
    dynrt_platform_close(p);
  }
}

/* Domain 0 asked for f1 at t1 and f2 at t2, then the clock run to t3. */
static void two_requests(dynrt_platform *p, uint64_t t1, uint32_t f1, uint64_t t2, uint32_t f2,
                         uint64_t t3) {
  uint32_t got;
  assert_int_equal(dynrt_sim_advance_to(p, t1), DYNRT_OK);
  assert_int_equal(dynrt_platform_set_freq(p, 0, f1, &got), DYNRT_OK);
  assert_int_equal(dynrt_sim_advance_to(p, t2), DYNRT_OK);
  assert_int_equal(dynrt_platform_set_freq(p, 0, f2, &got), DYNRT_OK);
  assert_int_equal(dynrt_sim_advance_to(p, t3), DYNRT_OK);
}

/* A frequency write takes the domain's transition latency (0.5 ms here) to take effect: the
 * old OPP runs, and reads back, until then; a job across the switch runs at each frequency
 * for its part; a second request in flight retargets it, one for the frequency in effect
 * cancels it. */
static void test_transition_latency(void **state) {
  (void)state;
  dynrt_platform *p = open_test_board("userspace", 0, 200000, 100000, 9, 500000);
  freq_trace *tr = calloc(1, sizeof *tr);
  assert_non_null(tr);
  assert_int_equal(dynrt_sim_set_trace(p, record_freq, tr), DYNRT_OK);
  uint32_t khz, got;
  assert_int_equal(dynrt_platform_get_freq(p, 0, &khz), DYNRT_OK);
  assert_int_equal(khz, 200000);
  assert_int_equal(dynrt_platform_set_freq(p, 0, 1000000, &got), DYNRT_OK);
  assert_int_equal(got, 1000000); /* the frequency requested */
  dynrt_platform_get_freq(p, 0, &khz);
  assert_int_equal(khz, 200000); /* not yet in effect */
  assert_int_equal(dynrt_sim_advance_to(p, 500 * US - 1), DYNRT_OK);
  dynrt_platform_get_freq(p, 0, &khz);
  assert_int_equal(khz, 200000);
  assert_int_equal(dynrt_sim_advance_to(p, 500 * US), DYNRT_OK);
  dynrt_platform_get_freq(p, 0, &khz);
  assert_int_equal(khz, 1000000);
  assert_int_equal(tr->n, 1);
  assert_true(tr->t[0] == 500 * US && tr->khz[0] == 1000000);

  /* 10 ms of work at 1 GHz from 10 ms; 500 MHz requested at 12 ms, in effect at 12.5 ms:
   * 2.5 ms done at 1 GHz, the other 7.5 ms take 15 ms at 500 MHz -> ends at 27.5 ms */
  assert_int_equal(dynrt_sim_advance_to(p, 10 * MS), DYNRT_OK);
  dynrt_sim_job job;
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 1, 10e6, 0, &job), DYNRT_OK);
  assert_int_equal(dynrt_sim_advance_to(p, 12 * MS), DYNRT_OK);
  assert_int_equal(dynrt_platform_set_freq(p, 0, 500000, &got), DYNRT_OK);
  dynrt_sim_completion done;
  assert_int_equal(dynrt_sim_run_until(p, 100 * MS, &done), 1);
  if (llabs((long long)done.end_ns - (long long)(27500 * US)) > 1000)
    fail_msg("job ended at %.4f ms, want 27.5", done.end_ns / 1e6);

  /* retarget: 1 GHz asked at 30 ms, 800 MHz at 30.2 ms -> 800 MHz at 30.5 ms */
  two_requests(p, 30 * MS, 1000000, 30 * MS + 200 * US, 800000, 31 * MS);
  dynrt_platform_get_freq(p, 0, &khz);
  assert_int_equal(khz, 800000);
  assert_true(tr->t[tr->n - 1] == 30 * MS + 500 * US && tr->khz[tr->n - 1] == 800000);
  /* cancel: 1 GHz asked at 40 ms, then 800 MHz (in effect) at 40.1 ms: no change */
  int n = tr->n;
  two_requests(p, 40 * MS, 1000000, 40 * MS + 100 * US, 800000, 45 * MS);
  dynrt_platform_get_freq(p, 0, &khz);
  assert_int_equal(khz, 800000);
  assert_int_equal(tr->n, n);
  /* settle: runs until the change lands */
  dynrt_platform_set_freq(p, 0, 300000, &got);
  assert_int_equal(dynrt_sim_settle(p), DYNRT_OK);
  dynrt_platform_get_freq(p, 0, &khz);
  assert_int_equal(khz, 300000);
  assert_true(tr->t[tr->n - 1] == 45 * MS + 500 * US);
  assert_int_equal(dynrt_sim_settle(p), DYNRT_OK); /* nothing pending: no time passes */
  free(tr);
  dynrt_platform_close(p);

  /* schedutil: a cap that arrives while a raise is in flight retargets it, and no OPP above
   * the cap ever runs (the first raise of test_schedutil_step_timing: asked at 44 ms) */
  p = open_test_board("schedutil", 1, 200000, 100000, 9, 140000);
  tr = calloc(1, sizeof *tr);
  assert_non_null(tr);
  assert_int_equal(dynrt_sim_set_trace(p, record_freq, tr), DYNRT_OK);
  assert_int_equal(dynrt_sim_job_start(p, 0, -1, 1, 1e12, 0, &job), DYNRT_OK);
  assert_int_equal(dynrt_sim_advance_to(p, 44 * MS + 50 * US), DYNRT_OK);
  assert_int_equal(tr->n, 0); /* 300 MHz asked at 44 ms, not yet in effect */
  assert_int_equal(dynrt_sim_set_limits(p, 0, 0, 200000), DYNRT_OK);
  assert_int_equal(dynrt_sim_advance_to(p, 100 * MS), DYNRT_OK);
  for (int i = 0; i < tr->n; i++)
    if (tr->khz[i] > 200000)
      fail_msg("%u kHz at %.3f ms above the cap", tr->khz[i], tr->t[i] / 1e6);
  dynrt_platform_get_freq(p, 0, &khz);
  assert_int_equal(khz, 200000);
  free(tr);
  dynrt_platform_close(p);
}

/* devfreq simple_ondemand on the Xavier NX GPU: busy > 90 % of a 50 ms window -> max;
 * a 50 % busy window -> busy * cur / (90 - 5/2) percent, lowest OPP >= it. */
static void test_simple_ondemand(void **state) {
  (void)state;
  dynrt_platform *p;
  char err[256];
  assert_int_equal(dynrt_sim_open("xavier-nx", &p, err, sizeof err), DYNRT_OK);
  dynrt_sim_set_noise(p, 0, 0);
  const int gpu = 3;
  char name[32];
  dynrt_platform_get_governor(p, gpu, name, sizeof name);
  assert_string_equal(name, "simple_ondemand");
  assert_int_equal(dynrt_platform_set_governor(p, gpu, "schedutil"), DYNRT_OK);
  dynrt_platform_get_governor(p, gpu, name, sizeof name);
  assert_string_equal(name, "simple_ondemand");
  uint32_t khz;
  dynrt_platform_get_freq(p, gpu, &khz);
  assert_int_equal(khz, 114750);
  dynrt_sim_job job;
  assert_int_equal(dynrt_sim_job_start(p, 0, gpu, 0, 1e12, 0, &job), DYNRT_OK);
  dynrt_sim_advance_to(p, 50 * MS - 1);
  dynrt_platform_get_freq(p, gpu, &khz);
  assert_int_equal(khz, 114750);
  dynrt_sim_advance_to(p, 50 * MS);
  dynrt_platform_get_freq(p, gpu, &khz);
  assert_int_equal(khz, 1109250);
  dynrt_sim_job_cancel(p, job, NULL);
  /* 25 ms busy of the next 50 ms window: 0.5 * 1109250000 Hz * 100 / 88 = 630.3 MHz */
  dynrt_sim_advance_to(p, 75 * MS);
  dynrt_sim_job_start(p, 0, gpu, 0, 1e12, 0, &job);
  dynrt_sim_advance_to(p, 100 * MS);
  dynrt_platform_get_freq(p, gpu, &khz);
  uint64_t hz = (25000ull * 1109250000ull / 50000ull) * 100 / 88;
  uint32_t want = 0;
  const uint32_t opps[] = {114750, 204000, 306000, 408000, 510000, 599250, 701250, 752250};
  for (size_t i = 0; i < sizeof opps / sizeof opps[0] && !want; i++)
    if ((uint64_t)opps[i] * 1000 >= hz) want = opps[i];
  assert_int_equal(khz, want);
  assert_int_equal(khz, 701250);
  dynrt_platform_close(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pelt_decay_table),
      cmocka_unit_test(test_pelt_step_no_invariance),
      cmocka_unit_test(test_pelt_step_invariant_half_freq),
      cmocka_unit_test(test_pelt_idle_decay),
      cmocka_unit_test(test_rate_limit_rule),
      cmocka_unit_test(test_schedutil_step_timing),
      cmocka_unit_test(test_schedutil_rate_limit),
      cmocka_unit_test(test_ondemand_jump),
      cmocka_unit_test(test_ondemand_proportional),
      cmocka_unit_test(test_conservative_steps),
      cmocka_unit_test(test_performance_powersave),
      cmocka_unit_test(test_caps_respected),
      cmocka_unit_test(test_simple_ondemand),
      cmocka_unit_test(test_transition_latency),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_rtm_threads.c - the runtime manager under concurrency: apps deciding and reporting
 * from their own threads while requirements change, level 2 runs periodically, and another
 * thread adds and removes an app. Run under ThreadSanitizer (label "threads"). */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rtm/rtm_int.h"
#include "test_rtm_fake.h"

#define MS 1000000ull
#define NAPPS 3
#define LOOPS 3000

typedef struct worker {
  dynrt_rtm *rtm;
  dynrt_app *app;
  const dynrt_oplib *lib;
  int errors;
  atomic_int *stop;
  atomic_int *done;
} worker;

/* decide, and while the decision says to wait for a more important inference in flight
 * on a time-shared domain (wait_for), yield and decide again, as a caller must. */
static dynrt_status decide_after_waits(dynrt_app *app, dynrt_decision *d) {
  for (long tries = 0; tries < 100000000L; tries++) {
    dynrt_status st = dynrt_app_decide(app, d);
    if (st || d->wait_for < 0) return st;
    sched_yield();
  }
  return DYNRT_ERR_INTERNAL;
}

static void *app_thread(void *arg) {
  worker *w = arg;
  uint64_t seed = (uint64_t)(uintptr_t)w | 1;
  for (int i = 0; i < LOOPS; i++) {
    dynrt_decision d;
    if (decide_after_waits(w->app, &d) != DYNRT_OK) {
      w->errors++;
      continue;
    }
    const dynrt_oplib_point *pt = dynrt_oplib_lookup(w->lib, d.subnet, d.setting);
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    /* Interference comes and goes every 500 inferences. */
    double slow = (i / 500) % 2 ? 1.6 : 1.0;
    slow *= 0.95 + 0.1 * (double)(seed % 1000) / 1000;
    if (!pt || dynrt_app_report(w->app, (uint64_t)(pt->latency_mean_ms * slow * 1e6), 100))
      w->errors++;
    if (i % 97 == 0) {
      dynrt_requirements r = {(uint64_t)(20 + i % 30) * MS, 0, i % 2 ? 0.70 : 0.75, 0, 0};
      if (dynrt_app_set_requirements(w->app, &r)) w->errors++;
    }
    if (i % 50 == 0) {
      dynrt_app_status st;
      dynrt_app_get_status(w->app, &st);
    }
  }
  atomic_fetch_add(w->done, 1);
  return NULL;
}

static void *churn_thread(void *arg) {
  worker *w = arg;
  while (!atomic_load(w->stop)) {
    dynrt_app_spec spec = {.name = "transient", .oplib = w->lib, .req = {40 * MS, 0, 0.7, -1, 0}};
    dynrt_app *app = NULL;
    if (dynrt_rtm_add_app(w->rtm, &spec, &app)) {
      w->errors++;
      break;
    }
    for (int i = 0; i < 20; i++) {
      dynrt_decision d;
      if (decide_after_waits(app, &d) || dynrt_app_report(app, 10 * MS, 0)) w->errors++;
    }
    if (dynrt_rtm_remove_app(w->rtm, app)) w->errors++;
  }
  return NULL;
}

static void test_concurrent(void **state) {
  (void)state;
  dynrt_log_set_level(DYNRT_LOG_ERROR);
  dynrt_platform *p = fake_multi_board();
  char err[512];
  dynrt_oplib *lib = NULL;
  assert_int_equal(
      dynrt_oplib_load(DYNRT_TEST_DIR "/fixtures/oplib/multi.oplib.json", &lib, err, sizeof err),
      DYNRT_OK);
  dynrt_rtm *rtm = NULL;
  assert_int_equal(dynrt_rtm_create(p, NULL, &rtm, err, sizeof err), DYNRT_OK);
  atomic_int stop, done;
  atomic_init(&stop, 0);
  atomic_init(&done, 0);
  worker w[NAPPS + 1];
  pthread_t th[NAPPS + 1];
  for (int i = 0; i < NAPPS + 1; i++) {
    w[i] = (worker){rtm, NULL, lib, 0, &stop, &done};
    if (i < NAPPS) {
      dynrt_app_spec spec = {.oplib = lib, .req = {30 * MS, 0, 0.75, i, 0}};
      assert_int_equal(dynrt_rtm_add_app(rtm, &spec, &w[i].app), DYNRT_OK);
    }
  }
  for (int i = 0; i < NAPPS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, app_thread, &w[i]), 0);
  assert_int_equal(pthread_create(&th[NAPPS], NULL, churn_thread, &w[NAPPS]), 0);
  /* The manager thread: a step every 10 ms of fake time (level 2 every 100 ms or on
   * events), as fast as it can, until every app thread is done. */
  uint64_t now = 0;
  int plans = 0;
  for (int i = 0; i < 2000 || atomic_load(&done) < NAPPS; i++) {
    int planned = 0;
    now += 10 * MS;
    assert_int_equal(dynrt_rtm_step(rtm, now, &planned), DYNRT_OK);
    plans += planned;
    if (i % 100 == 0) {
      dynrt_requirements r = {25 * MS, 50 * MS, 0.72, 3, 0};
      assert_int_equal(dynrt_app_set_requirements(w[i / 100 % NAPPS].app, &r), DYNRT_OK);
    }
  }
  for (int i = 0; i < NAPPS; i++) pthread_join(th[i], NULL);
  atomic_store(&stop, 1);
  pthread_join(th[NAPPS], NULL);
  assert_true(plans >= 200);
  for (int i = 0; i < NAPPS + 1; i++) assert_int_equal(w[i].errors, 0);
  for (int i = 0; i < NAPPS; i++) {
    dynrt_app_stats s;
    dynrt_app_get_stats(w[i].app, &s);
    assert_int_equal(s.inferences, LOOPS);
    assert_int_equal(s.decisions, LOOPS + s.waits); /* a wait is a decision too */
  }
  dynrt_rtm_destroy(rtm);
  dynrt_oplib_destroy(lib);
  dynrt_platform_close(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_concurrent)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

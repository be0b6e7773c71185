/* test_engine.c - the executor against the PyTorch reference (tests/fixtures/tiny*_golden.json
 * from python/make_fixture.py), switching back and forth, allocation-free switches, BN
 * tables, threads and image input. Run by ctest with the default and the scalar kernels. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "core/core.h"
#include "engine/engine_int.h"
#include "test_engine_util.h"

#define TOL 1e-4

typedef struct golden_case {
  dynrt_subnet cfg;
  int r;
  float *input;
  double *logits;
  size_t n_logits;
  char config[DYNRT_SUBNET_STR_MAX];
} golden_case;

typedef struct fixture {
  dynrt_model *m;
  golden_case cases[32];
  int n;
} fixture;

static void fixture_free(fixture *f) {
  for (int i = 0; i < f->n; i++) {
    free(f->cases[i].input);
    free(f->cases[i].logits);
  }
  dynrt_model_destroy(f->m);
  memset(f, 0, sizeof *f);
}

/* Loads the model and the golden cases, checking config, id and MACs on the way. */
static void fixture_load(fixture *f, const char *model, const char *golden) {
  memset(f, 0, sizeof *f);
  f->m = load_fixture(model);
  assert_non_null(f->m);
  cJSON *g = load_golden(golden);
  assert_non_null(g);
  const cJSON *cases = cJSON_GetObjectItem(g, "cases"), *c;
  assert_true(cJSON_GetArraySize(cases) >= 10);
  cJSON_ArrayForEach(c, cases) {
    assert_true(f->n < 32);
    golden_case *gc = &f->cases[f->n++];
    const char *cfg = cJSON_GetObjectItem(c, "config")->valuestring;
    dynrt_error err;
    if (dynrt_subnet_parse(f->m, cfg, &gc->cfg, &err)) fail_msg("%s: %s", cfg, err.msg);
    assert_int_equal(dynrt_subnet_format(f->m, &gc->cfg, gc->config, sizeof gc->config, NULL), 0);
    assert_string_equal(gc->config, cfg);
    uint64_t id = strtoull(cJSON_GetObjectItem(c, "id_dec")->valuestring, NULL, 10);
    assert_true(dynrt_subnet_id(f->m, &gc->cfg) == id);
    assert_true(dynrt_subnet_macs(f->m, &gc->cfg) ==
                (uint64_t)cJSON_GetObjectItem(c, "macs")->valuedouble);
    gc->r = cJSON_GetObjectItem(c, "r")->valueint;
    const cJSON *in = cJSON_GetObjectItem(c, "input"), *lg = cJSON_GetObjectItem(c, "logits"), *v;
    assert_int_equal(cJSON_GetArraySize(in), gc->r * gc->r * 3);
    gc->input = malloc(sizeof(float) * (size_t)cJSON_GetArraySize(in));
    gc->n_logits = (size_t)cJSON_GetArraySize(lg);
    gc->logits = malloc(sizeof(double) * gc->n_logits);
    size_t i = 0;
    cJSON_ArrayForEach(v, in) gc->input[i++] = (float)v->valuedouble;
    i = 0;
    cJSON_ArrayForEach(v, lg) gc->logits[i++] = v->valuedouble;
  }
  cJSON_Delete(g);
}

static double run_case(dynrt_session *s, const golden_case *gc) {
  assert_int_equal(dynrt_session_set_subnet(s, &gc->cfg, NULL), 0);
  dynrt_status st = dynrt_session_run_tensor(s, gc->input, gc->r);
  if (st) fail_msg("%s: %s", gc->config, dynrt_session_errmsg(s));
  size_t n;
  const float *lo = dynrt_session_logits(s, &n);
  assert_int_equal(n, gc->n_logits);
  return rel_err(lo, gc->logits, n);
}

static void parity(const char *model, const char *golden, int threads) {
  fixture f;
  fixture_load(&f, model, golden);
  dynrt_session *s;
  dynrt_session_options o = {NULL, threads, threads};
  dynrt_error err;
  if (dynrt_session_create(f.m, &o, &s, &err)) fail_msg("%s", err.msg);
  int ks[8] = {0}, res_seen[2] = {0};
  for (int i = 0; i < f.n; i++) {
    double e = run_case(s, &f.cases[i]);
    if (e > TOL) fail_msg("%s [%s]: relative error %.3g", model, f.cases[i].config, e);
    for (int b = 0; b < f.cases[i].cfg.n_blocks; b++) ks[f.cases[i].cfg.k[b]] = 1;
    res_seen[f.cases[i].r == f.m->arch.res[0]] = 1;
  }
  /* the golden set must cover the largest and smallest sub-networks, every kernel size,
   * every depth of every stage and two resolutions */
  assert_true(ks[3] && ks[5] && ks[7]);
  assert_true(res_seen[0] && res_seen[1]);
  dynrt_subnet big, small;
  dynrt_subnet_largest(f.m, &big);
  dynrt_subnet_smallest(f.m, &small);
  int have_big = 0, have_small = 0;
  for (int i = 0; i < f.n; i++) {
    have_big |= dynrt_subnet_equal(f.m, &f.cases[i].cfg, &big);
    have_small |= dynrt_subnet_equal(f.m, &f.cases[i].cfg, &small);
  }
  assert_true(have_big && have_small);
  for (int st = 0; st < f.m->arch.n_stages; st++)
    for (int di = 0; di < f.m->arch.stages[st].n_depths; di++) {
      int seen = 0;
      for (int i = 0; i < f.n; i++) seen |= f.cases[i].cfg.d[st] == f.m->arch.stages[st].depths[di];
      if (!seen)
        fail_msg("%s: no case with d[%d] = %d", model, st, f.m->arch.stages[st].depths[di]);
    }
  dynrt_session_destroy(s);
  fixture_free(&f);
}

static void test_parity_tiny(void **state) {
  (void)state;
  parity("tiny.safetensors", "tiny_golden.json", 1);
}

static void test_parity_tiny_w(void **state) {
  (void)state;
  parity("tiny_w.safetensors", "tiny_w_golden.json", 1);
}

static void test_parity_threads(void **state) {
  (void)state;
  parity("tiny.safetensors", "tiny_golden.json", 2);
  parity("tiny_w.safetensors", "tiny_w_golden.json", 2);
}

/* Back and forth between sub-networks: each output equals a fresh session's, and no
 * switch allocates. */
static void test_switching(void **state) {
  (void)state;
  fixture f;
  fixture_load(&f, "tiny_w.safetensors", "tiny_w_golden.json");
  dynrt_session *s, *fresh;
  assert_int_equal(dynrt_session_create(f.m, NULL, &s, NULL), 0);
  uint64_t rng = 42;
  float *ref = malloc(sizeof(float) * 64 * 7);
  dynrt_subnet cfgs[64];
  /* inputs at either resolution, made deterministic per sub-network */
  float *in = malloc(sizeof(float) * 20 * 20 * 3);
  for (int i = 0; i < 20 * 20 * 3; i++) in[i] = sinf(0.13f * (float)i);
  for (int i = 0; i < 16; i++) {
    dynrt_subnet_sample(f.m, &rng, &cfgs[i]);
    assert_int_equal(dynrt_session_create(f.m, NULL, &fresh, NULL), 0);
    assert_int_equal(dynrt_session_set_subnet(fresh, &cfgs[i], NULL), 0);
    assert_int_equal(dynrt_session_run_tensor(fresh, in, cfgs[i].r), 0);
    memcpy(ref + i * 7, dynrt_session_logits(fresh, NULL), 7 * sizeof(float));
    dynrt_session_destroy(fresh);
  }
  uint64_t r2 = 7;
  for (int it = 0; it < 200; it++) {
    int i = (int)(r2 % 16);
    r2 = r2 * 6364136223846793005ull + 1442695040888963407ull;
    i = (int)((r2 >> 33) % 16);
    uint64_t a0 = dynrt__alloc_count();
    assert_int_equal(dynrt_session_set_subnet(s, &cfgs[i], NULL), 0);
    assert_true(dynrt__alloc_count() == a0);
    assert_int_equal(dynrt_session_run_tensor(s, in, cfgs[i].r), 0);
    assert_true(dynrt__alloc_count() == a0);
    const float *lo = dynrt_session_logits(s, NULL);
    for (int c = 0; c < 7; c++)
      if (lo[c] != ref[i * 7 + c])
        fail_msg("iteration %d, sub-network %d: logit %d %.9g != fresh %.9g", it, i, c,
                 (double)lo[c], (double)ref[i * 7 + c]);
  }
  dynrt_session_stats st;
  dynrt_session_get_stats(s, &st);
  assert_true(st.switches == 200 && st.runs == 200);
  assert_true(st.switch_plan_bytes > 0);
  free(in);
  free(ref);
  dynrt_session_destroy(s);
  fixture_free(&f);
}

/* A BN table holding the file's own statistics reproduces the default; a different table
 * changes the output; a table of another sub-network is refused. */
static void test_bn_table(void **state) {
  (void)state;
  fixture f;
  fixture_load(&f, "tiny.safetensors", "tiny_golden.json");
  const golden_case *gc = &f.cases[3];
  size_t nl, total, ch[DYNRT__BN_MAX];
  assert_int_equal(dynrt_bn_layout(f.m, &gc->cfg, ch, DYNRT__BN_MAX, &nl, &total, NULL), 0);
  float *mean = malloc(total * sizeof(float)), *var = malloc(total * sizeof(float));
  float *scale = malloc(total * sizeof(float)), *shift = malloc(total * sizeof(float));
  dynrt__subnet_ix x;
  assert_int_equal(dynrt__subnet_resolve(&f.m->arch, &gc->cfg, NULL, &x, NULL), 0);
  int ids[DYNRT__BN_MAX], chs[DYNRT__BN_MAX];
  assert_int_equal(dynrt__bn_active(f.m, &x, ids, chs), (int)nl);
  size_t o = 0;
  for (size_t l = 0; l < nl; l++)
    for (size_t c = 0; c < ch[l]; c++, o++) {
      scale[o] = f.m->bn[ids[l]].scale[c];
      shift[o] = f.m->bn[ids[l]].shift[c];
    }
  dynrt_bn_table *t, *t2;
  assert_int_equal(dynrt_bn_table_create(f.m, &gc->cfg, scale, shift, &t, NULL), 0);
  dynrt_session *s;
  assert_int_equal(dynrt_session_create(f.m, NULL, &s, NULL), 0);
  assert_int_equal(dynrt_session_set_subnet(s, &gc->cfg, t), 0);
  assert_int_equal(dynrt_session_run_tensor(s, gc->input, gc->r), 0);
  assert_true(rel_err(dynrt_session_logits(s, NULL), gc->logits, gc->n_logits) <= TOL);
  /* statistics with a shifted mean: a different answer */
  for (size_t i = 0; i < total; i++) {
    mean[i] = 0.5f;
    var[i] = 2.0f;
  }
  assert_int_equal(dynrt_bn_table_from_stats(f.m, &gc->cfg, mean, var, &t2, NULL), 0);
  assert_int_equal(dynrt_session_set_subnet(s, &gc->cfg, t2), 0);
  assert_int_equal(dynrt_session_run_tensor(s, gc->input, gc->r), 0);
  assert_true(rel_err(dynrt_session_logits(s, NULL), gc->logits, gc->n_logits) > 1e-3);
  /* a table of another sub-network is refused and the active one stays */
  assert_int_equal(dynrt_session_set_subnet(s, &f.cases[0].cfg, t2), DYNRT_ERR_INVALID_ARG);
  assert_non_null(strstr(dynrt_session_errmsg(s), "BN table"));
  dynrt_subnet cur;
  dynrt_session_get_subnet(s, &cur);
  assert_true(dynrt_subnet_equal(f.m, &cur, &gc->cfg));
  var[5] = -1.0f;
  dynrt_error err;
  dynrt_bn_table *t3 = t;
  assert_int_equal(dynrt_bn_table_from_stats(f.m, &gc->cfg, mean, var, &t3, &err),
                   DYNRT_ERR_INVALID_ARG);
  assert_null(t3);
  assert_non_null(strstr(err.msg, "var -1"));
  dynrt_session_destroy(s);
  dynrt_bn_table_destroy(t);
  assert_true(dynrt_subnet_equal(f.m, dynrt_bn_table_subnet(t2), &gc->cfg));
  dynrt_bn_table_destroy(t2);
  free(mean);
  free(var);
  free(scale);
  free(shift);
  fixture_free(&f);
}

/* An 8-bit image whose pixels map exactly onto the golden input after normalisation
 * (resize_ratio 1, same size: bilinear is the identity) gives the same logits. */
static void test_image_input(void **state) {
  (void)state;
  fixture f;
  fixture_load(&f, "tiny.safetensors", "tiny_golden.json");
  const golden_case *gc = &f.cases[0];
  int r = gc->r;
  uint8_t *img = malloc((size_t)(r * r * 3));
  float *in = malloc(sizeof(float) * (size_t)(r * r * 3));
  for (int i = 0; i < r * r * 3; i++) {
    img[i] = (uint8_t)((i * 37) % 256);
    in[i] = (img[i] / 255.0f - 0.5f) / 0.25f; /* the fixture's mean and std */
  }
  dynrt_session *s;
  assert_int_equal(dynrt_session_create(f.m, NULL, &s, NULL), 0);
  assert_int_equal(dynrt_session_set_subnet(s, &gc->cfg, NULL), 0);
  assert_int_equal(dynrt_session_run_tensor(s, in, r), 0);
  float a[7], b[7];
  memcpy(a, dynrt_session_logits(s, NULL), sizeof a);
  assert_int_equal(dynrt_session_run_image(s, img, r, r, (size_t)r * 3), 0);
  memcpy(b, dynrt_session_logits(s, NULL), sizeof b);
  for (int c = 0; c < 7; c++) assert_true(fabsf(a[c] - b[c]) <= 1e-4f * (1 + fabsf(a[c])));
  /* any size works; wrong arguments are refused */
  assert_int_equal(dynrt_session_run_image(s, img, 5, 9, 15), 0);
  assert_int_equal(dynrt_session_run_image(s, img, 0, 9, 15), DYNRT_ERR_INVALID_ARG);
  assert_int_equal(dynrt_session_run_tensor(s, in, r == 16 ? 20 : 16), DYNRT_ERR_INVALID_ARG);
  int cls[3];
  float pr[3], probs[7];
  assert_int_equal(dynrt_session_topk(s, 3, cls, pr), 0);
  assert_int_equal(dynrt_session_probs(s, probs, 7), 0);
  assert_true(pr[0] >= pr[1] && pr[1] >= pr[2]);
  assert_true(fabsf(probs[cls[0]] - pr[0]) < 1e-6f);
  dynrt_session_destroy(s);
  free(img);
  free(in);
  fixture_free(&f);
}

/* Every allocation of model load and session creation can fail cleanly. */
static void test_alloc_failures(void **state) {
  (void)state;
  char path[1024];
  fixture_path(path, sizeof path, "tiny.safetensors");
  for (uint64_t n = 1; n < 400; n++) {
    dynrt_alloc_fail_after(n, 1);
    dynrt_model *m = NULL;
    dynrt_session *s = NULL;
    dynrt_status st = dynrt_model_load(path, &m, NULL);
    if (!st) st = dynrt_session_create(m, NULL, &s, NULL);
    dynrt_alloc_fail_after(0, 0);
    dynrt_session_destroy(s);
    dynrt_model_destroy(m);
    if (!st) break; /* n exceeded the allocations needed: every earlier one was covered */
    assert_int_equal(st, DYNRT_ERR_NOMEM);
    assert_true(n < 399);
  }
  /* BN tables: every allocation of create / from_stats may fail, leaving *out NULL */
  dynrt_model *m = load_fixture("tiny.safetensors");
  assert_non_null(m);
  dynrt_subnet c;
  dynrt_subnet_largest(m, &c);
  size_t total;
  assert_int_equal(dynrt_bn_layout(m, &c, NULL, 0, NULL, &total, NULL), 0);
  float *ones = malloc(total * sizeof(float));
  for (size_t i = 0; i < total; i++) ones[i] = 1.0f;
  for (int which = 0; which < 2; which++)
    for (uint64_t n = 1;; n++) {
      dynrt_bn_table *t = (dynrt_bn_table *)1;
      dynrt_alloc_fail_after(n, 1);
      dynrt_status st = which ? dynrt_bn_table_from_stats(m, &c, ones, ones, &t, NULL)
                              : dynrt_bn_table_create(m, &c, ones, ones, &t, NULL);
      dynrt_alloc_fail_after(0, 0);
      if (!st) {
        dynrt_bn_table_destroy(t);
        break;
      }
      assert_int_equal(st, DYNRT_ERR_NOMEM);
      assert_null(t);
      assert_true(n < 10);
    }
  free(ones);
  dynrt_model_destroy(m);
}

/* kernel_transform false: the 3x3 kernels are the centre of the 5x5 ones, bit for bit
 * (micro_crop.safetensors: kernel sizes 3 and 5, widths 0.5 and 1.0). */
static void test_centre_crop(void **state) {
  (void)state;
  dynrt_model *m;
  dynrt_error err;
  if (dynrt_model_load(DYNRT_TEST_DIR "/fuzz/corpus/loader/micro_crop.safetensors", &m, &err))
    fail_msg("%s", err.msg);
  assert_int_equal(m->arch.kernel_transform, 0);
  for (int j = 0; j < m->arch.n_blocks; j++) {
    const dynrt__block_w *bw = &m->blocks[j];
    for (int c = 0; c < m->arch.blocks[j].mid_max; c++)
      for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++)
          assert_true(bw->dw[3][(size_t)(y * 3 + x) * bw->dw_cs + (size_t)c] ==
                      bw->dw[5][(size_t)((y + 1) * 5 + x + 1) * bw->dw_cs + (size_t)c]);
  }
  /* every sub-network of this small family runs */
  dynrt_session *s;
  assert_int_equal(dynrt_session_create(m, NULL, &s, NULL), 0);
  dynrt_subnet c;
  dynrt_subnet_smallest(m, &c);
  float in[12 * 12 * 3];
  for (int i = 0; i < 12 * 12 * 3; i++) in[i] = cosf(0.2f * (float)i);
  int n = 0;
  do {
    assert_int_equal(dynrt_session_set_subnet(s, &c, NULL), 0);
    assert_int_equal(dynrt_session_run_tensor(s, in, c.r), 0);
    const float *lo = dynrt_session_logits(s, NULL);
    for (int k = 0; k < 3; k++) assert_true(isfinite(lo[k]));
    n++;
  } while (dynrt_subnet_next(m, &c));
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  assert_true((double)n == info.n_subnets);
  dynrt_session_destroy(s);
  dynrt_model_destroy(m);
}

/* Bilinear with half-pixel centres reproduces a linear ramp exactly; the crop is centred. */
static void test_preprocess(void **state) {
  (void)state;
  dynrt__arch a;
  memset(&a, 0, sizeof a);
  a.resize_ratio = 1.0;
  for (int c = 0; c < 3; c++) a.mean[c] = 0.0f, a.std[c] = 1.0f / 255.0f; /* output = pixel */
  /* 40x20 image, value 2x (+ channel): resized straight to 20x20, x scale 2 */
  static uint8_t img[20 * 40 * 3];
  for (int y = 0; y < 20; y++)
    for (int x = 0; x < 40; x++)
      for (int c = 0; c < 3; c++) img[(y * 40 + x) * 3 + c] = (uint8_t)(2 * x + c);
  float out[20 * 20 * 3];
  dynrt__preprocess_rgb(&a, 20, img, 40, 20, 40 * 3, out, 20 * 3);
  for (int x = 0; x < 20; x++) {
    /* source x = (x + 0.5) * 2 - 0.5 = 2x + 0.5, value 2 * (2x + 0.5) = 4x + 1 */
    float want = 4.0f * x + 1.0f;
    for (int c = 0; c < 3; c++)
      if (fabsf(out[(7 * 20 + x) * 3 + c] - (want + c)) > 1e-4f)
        fail_msg("x %d c %d: %g != %g", x, c, (double)out[(7 * 20 + x) * 3 + c],
                 (double)(want + c));
  }
  /* resize_ratio 0.8 at r 16: shorter side 20 (the image's), longer 40: no scaling; the
   * crop takes rows 2..17 and columns 12..27 */
  a.resize_ratio = 0.8;
  float crop[16 * 16 * 3];
  dynrt__preprocess_rgb(&a, 16, img, 40, 20, 40 * 3, crop, 16 * 3);
  for (int x = 0; x < 16; x++) assert_true(fabsf(crop[(5 * 16 + x) * 3] - 2.0f * (x + 12)) < 1e-4f);
  /* a 1x1 image gives a constant */
  uint8_t one[3] = {10, 20, 30};
  dynrt__preprocess_rgb(&a, 16, one, 1, 1, 3, crop, 16 * 3);
  for (int i = 0; i < 16 * 16; i++) assert_true(crop[i * 3 + 2] == 30.0f);
}

/* One model shared by threads, each with its own session; plus concurrent loads. */
typedef struct shared_job {
  const fixture *f;
  int first;
  double worst;
  int load_ok;
} shared_job;

static void *shared_worker(void *arg) {
  shared_job *j = arg;
  dynrt_session *s;
  if (dynrt_session_create(j->f->m, NULL, &s, NULL)) return NULL;
  for (int rep = 0; rep < 3; rep++)
    for (int i = j->first; i < j->f->n; i += 2) {
      const golden_case *gc = &j->f->cases[i];
      if (dynrt_session_set_subnet(s, &gc->cfg, NULL) ||
          dynrt_session_run_tensor(s, gc->input, gc->r))
        j->worst = 1e9;
      double e = rel_err(dynrt_session_logits(s, NULL), gc->logits, gc->n_logits);
      if (e > j->worst) j->worst = e;
    }
  dynrt_session_destroy(s);
  dynrt_model *m = load_fixture("tiny_w.safetensors");
  j->load_ok = m != NULL;
  dynrt_model_destroy(m);
  return NULL;
}

static void test_shared_model(void **state) {
  (void)state;
  fixture f;
  fixture_load(&f, "tiny.safetensors", "tiny_golden.json");
  shared_job jobs[2] = {{&f, 0, 0, 0}, {&f, 1, 0, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&th[i], NULL, shared_worker, &jobs[i]), 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 2; i++) {
    assert_true(jobs[i].worst <= TOL);
    assert_true(jobs[i].load_ok);
  }
  fixture_free(&f);
}

/* Thread count changes between inferences without changing results; a borrowed pool is
 * left to its owner. */
static void test_threads(void **state) {
  (void)state;
  fixture f;
  fixture_load(&f, "tiny_w.safetensors", "tiny_w_golden.json");
  dynrt_session *s;
  dynrt_session_options o = {NULL, 2, 2};
  assert_int_equal(dynrt_session_create(f.m, &o, &s, NULL), 0);
  assert_int_equal(dynrt_session_threads(s), 2);
  for (int i = 0; i < f.n; i++) {
    int n = 1 + (i & 1);
    assert_int_equal(dynrt_session_set_threads(s, n, NULL), 0);
    assert_int_equal(dynrt_session_threads(s), n);
    assert_true(run_case(s, &f.cases[i]) <= TOL);
  }
  assert_int_equal(dynrt_session_set_threads(s, 3, NULL), DYNRT_ERR_INVALID_ARG);
  assert_non_null(strstr(dynrt_session_errmsg(s), "threads = 3 not in 1..2"));
  dynrt_session_destroy(s);
  dynrt_pool *pool;
  assert_int_equal(dynrt_pool_create(2, &pool), 0);
  dynrt_session_options b = {pool, 0, 0};
  assert_int_equal(dynrt_session_create(f.m, &b, &s, NULL), 0);
  assert_int_equal(dynrt_session_set_threads(s, 1, NULL), DYNRT_ERR_STATE);
  assert_true(run_case(s, &f.cases[0]) <= TOL);
  dynrt_session_destroy(s);
  dynrt_pool_destroy(pool);
  fixture_free(&f);
}

static void test_destroy_null(void **state) {
  (void)state;
  dynrt_model_destroy(NULL);
  dynrt_session_destroy(NULL);
  dynrt_bn_table_destroy(NULL);
}

/* The split of one kernel call over the pool (src/engine/tiles.c): tiles cover the whole
 * call, and the larger share is as small as the unit allows. */
static void test_split(void **state) {
  (void)state;
  size_t ti, tj;
  /* one thread: one tile */
  dynrt__split_gemm(1, 1024, 9, 1024, 1, &ti, &tj);
  assert_int_equal(ti, 1024);
  assert_int_equal(tj, 9);
  /* big M (32x32 pixels): pixels, in multiples of 8 */
  dynrt__split_gemm(2, 1024, 9, 1024, 1, &ti, &tj);
  assert_int_equal(ti, 512);
  assert_int_equal(tj, 9);
  dynrt__split_gemm(2, 100, 9, 100 * 16, 0, &ti, &tj); /* row mode: rows, no rounding */
  assert_int_equal(ti, 50);
  /* small M, even panels (8x8, 480 columns = 30 panels): panels, 15 + 15 */
  dynrt__split_gemm(2, 64, 30, 64, 1, &ti, &tj);
  assert_int_equal(ti, 64);
  assert_int_equal(tj, 15);
  /* small M, 80 columns = 5 panels (3 + 2): 64 pixels split 32 + 32 instead */
  dynrt__split_gemm(2, 64, 5, 64, 1, &ti, &tj);
  assert_int_equal(ti, 32);
  assert_int_equal(tj, 5);
  /* one pixel (the FC head): panels */
  dynrt__split_gemm(2, 1, 80, 1, 1, &ti, &tj);
  assert_int_equal(ti, 1);
  assert_int_equal(tj, 40);
  /* depthwise: rows; channels with SE sums or fewer rows than threads */
  dynrt__split_dw(2, 32, 9, 0, &ti, &tj);
  assert_int_equal(ti, 16);
  assert_int_equal(tj, 9);
  dynrt__split_dw(2, 32, 9, 1, &ti, &tj);
  assert_int_equal(ti, 32);
  assert_int_equal(tj, 5);
  dynrt__split_dw(4, 2, 30, 0, &ti, &tj);
  assert_int_equal(ti, 2);
  assert_int_equal(tj, 8);
}

/* Packed weights of >= 4 MiB sit on 2 MiB boundaries and are advised MADV_HUGEPAGE (the
 * shipped CIFAR super-network: about 20 MB of them). On x86-64 Linux with transparent huge
 * pages the advice shows as the "hg" flag of the blob's mapping in /proc/self/smaps. The
 * flag is checked on x86-64 only: the suite's AArch64 run is user-mode emulation, which
 * does not pass madvise advice to the host kernel. */
static void test_huge_pages(void **state) {
  (void)state;
  dynrt_model *m = NULL;
  dynrt_error err;
  const char *path = DYNRT_SOURCE_DIR "/models/cifar10-ofa-cpu.safetensors";
  if (dynrt_model_load(path, &m, &err)) fail_msg("%s", err.msg);
  assert_true(m->blob_floats * sizeof(float) >= 2 * DYNRT_HUGE_PAGE);
  assert_int_equal((uintptr_t)m->blob % DYNRT_HUGE_PAGE, 0);
#if defined(__linux__) && defined(__x86_64__)
  FILE *thp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  FILE *f = thp ? fopen("/proc/self/smaps", "r") : NULL;
  if (f) {
    char line[512];
    uintptr_t b = (uintptr_t)m->blob;
    int in = 0, found = 0, hg = 0;
    while (fgets(line, sizeof line, f)) {
      unsigned long lo, hi;
      const char *dash = strchr(line, '-'), *sp = strchr(line, ' ');
      if (dash && sp && dash < sp && sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
        in = b >= lo && b < hi;
        found |= in;
      } else if (in && !strncmp(line, "VmFlags:", 8)) {
        hg = strstr(line, " hg") != NULL;
      }
    }
    fclose(f);
    assert_true(found);
    assert_true(hg);
  }
  if (thp) fclose(thp);
#endif
  dynrt_model_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split),         cmocka_unit_test(test_parity_tiny),
      cmocka_unit_test(test_parity_tiny_w), cmocka_unit_test(test_parity_threads),
      cmocka_unit_test(test_switching),     cmocka_unit_test(test_bn_table),
      cmocka_unit_test(test_image_input),   cmocka_unit_test(test_alloc_failures),
      cmocka_unit_test(test_centre_crop),   cmocka_unit_test(test_preprocess),
      cmocka_unit_test(test_threads),       cmocka_unit_test(test_shared_model),
      cmocka_unit_test(test_destroy_null),  cmocka_unit_test(test_huge_pages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

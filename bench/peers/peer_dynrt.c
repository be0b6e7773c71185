/*
 * peer_dynrt.c - dynrt side of the peer benchmark: one sub-network of a dynrt model on an
 * NHWC float input, through the public API only (bench/peers/peer_common.h output).
 *   peer_dynrt MODEL.safetensors --subnet "r=.." --input in_nhwc.f32 [--threads T] ...
 * create_ms = model load + pack + session create + subnet switch.
 * --per-layer: a->runs more runs with the session's per-layer profile on
 * (dynrt_session_set_profiling); per layer the median over them.
 * DYNRT_PEER_SPIN_US=N (diagnostic): lend the session a pool whose workers spin N us before
 * sleeping (dynrt_pool_set_spin_us) instead of the default.
 */
#include "dynrt/engine.h"
#include "peer_common.h"

typedef struct ctx {
  dynrt_session *s;
  const float *x;
  int r;
} ctx;

static void run(void *p) {
  ctx *c = p;
  if (dynrt_session_run_tensor(c->s, c->x, c->r) != DYNRT_OK)
    peer_die("dynrt", "run failed", dynrt_session_errmsg(c->s));
}

static void per_layer(const peer_args *a, ctx *c) {
  static const char *const kinds[] = {"input", "conv", "dw", "pw", "se", "gap", "fc"};
  size_t n = 0;
  if (dynrt_session_set_profiling(c->s, 1) != DYNRT_OK) peer_die("dynrt", "profiling", NULL);
  run(c);
  dynrt_session_get_layer_times(c->s, NULL, 0, &n, NULL);
  int R = a->runs;
  dynrt_layer_time *lt = calloc(n, sizeof *lt);
  peer_layer *pl = calloc(n, sizeof *pl);
  double *t = calloc(n * (size_t)R, sizeof(double)), *tot = calloc((size_t)R, sizeof(double));
  if (!lt || !pl || !t || !tot) peer_die("dynrt", "out of memory", NULL);
  for (int r = 0; r < R; r++) {
    uint64_t total;
    size_t got;
    run(c);
    dynrt_session_get_layer_times(c->s, lt, n, &got, &total);
    for (size_t l = 0; l < n; l++) t[l * (size_t)R + (size_t)r] = (double)lt[l].ns / 1e3;
    tot[r] = (double)total / 1e3;
  }
  for (size_t l = 0; l < n; l++) {
    snprintf(pl[l].name, sizeof pl[l].name, "%s", lt[l].name);
    snprintf(pl[l].kind, sizeof pl[l].kind, "%s", kinds[lt[l].kind]);
    pl[l].macs = (unsigned long long)lt[l].macs;
    pl[l].us = peer_median(t + l * (size_t)R, R);
  }
  peer_print_layers("dynrt", a, pl, (int)n, peer_median(tot, R));
  dynrt_session_set_profiling(c->s, 0);
  free(lt);
  free(pl);
  free(t);
  free(tot);
}

int main(int argc, char **argv) {
  peer_args a;
  peer_parse("dynrt", argc, argv, &a);
  if (!a.subnet) peer_die("dynrt", "--subnet is required", NULL);
  dynrt_error err;
  dynrt_model *m = NULL;
  dynrt_session *s = NULL;
  dynrt_subnet cfg;
  size_t n;
  float *x = peer_read_f32("dynrt", a.input, &n);
  peer_mark_base();
  double t0 = peer_now_us();
  if (dynrt_model_load(a.model, &m, &err) != DYNRT_OK) peer_die("dynrt", "load", err.msg);
  if (dynrt_subnet_parse(m, a.subnet, &cfg, &err) != DYNRT_OK) peer_die("dynrt", "subnet", err.msg);
  dynrt_session_options o = {.pool = NULL, .max_threads = a.threads, .threads = a.threads};
  dynrt_pool *pool = NULL;
  const char *spin = getenv("DYNRT_PEER_SPIN_US");
  if (spin) {
    if (dynrt_pool_create(a.threads, &pool) != DYNRT_OK ||
        dynrt_pool_set_spin_us(pool, (unsigned)atoi(spin)) != DYNRT_OK)
      peer_die("dynrt", "pool", pool ? dynrt_pool_errmsg(pool) : NULL);
    o.pool = pool;
  }
  if (dynrt_session_create(m, &o, &s, &err) != DYNRT_OK) peer_die("dynrt", "session", err.msg);
  if (dynrt_session_set_subnet(s, &cfg, NULL) != DYNRT_OK)
    peer_die("dynrt", "set_subnet", dynrt_session_errmsg(s));
  double create_ms = (peer_now_us() - t0) / 1e3;
  if (n != (size_t)cfg.r * (size_t)cfg.r * 3) peer_die("dynrt", "input size is not r*r*3", a.input);
  ctx c = {s, x, cfg.r};
  run(&c);
  size_t nl;
  const float *logits = dynrt_session_logits(s, &nl);
  peer_write_f32("dynrt", a.out, logits, nl);
  if (a.per_layer) per_layer(&a, &c);
  peer_time("dynrt", &a, run, &c, create_ms);
  dynrt_session_destroy(s);
  dynrt_model_destroy(m);
  dynrt_pool_destroy(pool);
  free(x);
  return 0;
}

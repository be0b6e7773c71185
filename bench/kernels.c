/*
 * kernels.c - bench_kernels: GFLOP/s of dynrt's kernels on the MBConv layer shapes of a CIFAR
 * OFA-MobileNetV3 super-network, as a fraction of this machine's FMA peak (measured in the
 * same run), side by side with XNNPACK and oneDNN when they were found at build time.
 * Implementations are run interleaved, medians are reported.
 *
 * Usage: bench_kernels [--reps N] [--only gemm|dw|fc|slice] [--stat median|min] [--threads T]
 *                      [--pin]
 *
 * Threads (T = 1 by default, 2 on a 2-core machine): dynrt runs on a dynrt_pool of T threads
 * with the tile split of src/engine/session.c (run_gemm / run_dw, see engine_split_*), XNNPACK
 * on a pthreadpool of T threads, oneDNN on T OpenMP threads; the FMA peak is T times one
 * core's. --pin pins dynrt's pool to the first T usable cores during its batches, as the
 * runtime manager does (dynrt_pool_set_cpus); the other libraries stay unpinned. oneDNN threads
 * come from OpenMP, which reads OMP_NUM_THREADS before main(): the program re-executes itself with
 * OMP_NUM_THREADS=T when the variable differs.
 */
#include <immintrin.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dynrt/pool.h"
#include "engine/engine_int.h"
#include "kernels/kernels.h"

#ifdef DYNRT_BENCH_XNNPACK
#include <pthreadpool.h>
#include <xnnpack.h>
#endif
#ifdef DYNRT_BENCH_DNNL
#include <dnnl.h>
#endif

/* ---- FMA peak: independent register-only FMA chains, no memory traffic ---- */

#define PEAK_ITERS 8192u

#if defined(__x86_64__)
/* Named variables and an empty asm that takes them all in registers: an array would live
 * on the stack and the loop would time store-to-load forwarding instead of FMAs. */
#define FMA16(f, b, c)                                                                             \
  a0 = f(a0, b, c), a1 = f(a1, b, c), a2 = f(a2, b, c), a3 = f(a3, b, c), a4 = f(a4, b, c),        \
  a5 = f(a5, b, c), a6 = f(a6, b, c), a7 = f(a7, b, c), a8 = f(a8, b, c), a9 = f(a9, b, c),        \
  a10 = f(a10, b, c), a11 = f(a11, b, c)
#define PIN12(con)                                                                                 \
  __asm__ volatile(""                                                                              \
                   : "+" con(a0), "+" con(a1), "+" con(a2), "+" con(a3), "+" con(a4), "+" con(a5), \
                     "+" con(a6), "+" con(a7), "+" con(a8), "+" con(a9), "+" con(a10),             \
                     "+" con(a11))

/* 12 independent chains cover FMA latency (4) x throughput (2 per cycle) with margin. */
__attribute__((target("avx512f"), noinline)) static double peak_zmm_run(unsigned iters) {
  __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  __m512 a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b, a8 = b, a9 = b, a10 = b,
         a11 = b;
  uint64_t t0 = dynrt_now_ns();
  for (unsigned it = 0; it < iters; it++) {
    FMA16(_mm512_fmadd_ps, b, c);
    PIN12("v");
  }
  uint64_t t1 = dynrt_now_ns();
  volatile float sink = _mm512_reduce_add_ps(_mm512_add_ps(a0, a11));
  (void)sink;
  return 2.0 * 12 * 16 * iters / (double)(t1 - t0); /* GFLOP/s */
}

__attribute__((target("avx2,fma"), noinline)) static double peak_ymm_run(unsigned iters) {
  __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  __m256 a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b, a8 = b, a9 = b, a10 = b,
         a11 = b;
  uint64_t t0 = dynrt_now_ns();
  for (unsigned it = 0; it < iters; it++) {
    FMA16(_mm256_fmadd_ps, b, c);
    PIN12("x");
  }
  uint64_t t1 = dynrt_now_ns();
  float out[8];
  _mm256_storeu_ps(out, _mm256_add_ps(a0, a11));
  volatile float sink = out[0];
  (void)sink;
  return 2.0 * 12 * 8 * iters / (double)(t1 - t0);
}
#endif

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static int use_min; /* --stat min: the fastest sample instead of the median */

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  if (use_min) return v[0];
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Best of many short runs: the peak is an upper bound, and on a shared machine a long run
 * mostly measures time slices lost to other processes. */
static double peak(double (*fn)(unsigned)) {
  double best = 0.0;
  for (int i = 0; i < 200; i++) {
    double g = fn(PEAK_ITERS);
    if (g > best) best = g;
  }
  return best;
}

/* ---- cases ---- */

typedef enum { CASE_GEMM, CASE_DW, CASE_FC } case_kind;

typedef struct bcase {
  case_kind kind;
  const char *group;
  size_t h, w;       /* spatial size (GEMM: m = h*w; FC: 1x1) */
  size_t n, k;       /* used output / input channels (DW: channels in n) */
  size_t nmax, kmax; /* packed layer size (sliced when larger than n, k) */
  size_t ks, stride; /* DW */
} bcase;

static const bcase cases[] = {
    /* 1x1 convolutions of MBConv blocks: expand and project at each resolution. */
    {CASE_GEMM, "gemm", 32, 32, 144, 24, 144, 24, 0, 0},
    {CASE_GEMM, "gemm", 32, 32, 24, 144, 24, 144, 0, 0},
    {CASE_GEMM, "gemm", 16, 16, 240, 40, 240, 40, 0, 0},
    {CASE_GEMM, "gemm", 16, 16, 40, 240, 40, 240, 0, 0},
    {CASE_GEMM, "gemm", 8, 8, 480, 80, 480, 80, 0, 0},
    {CASE_GEMM, "gemm", 8, 8, 80, 480, 80, 480, 0, 0},
    {CASE_GEMM, "gemm", 4, 4, 960, 160, 960, 160, 0, 0},
    {CASE_GEMM, "gemm", 4, 4, 160, 960, 160, 960, 0, 0},
    /* Sliced prefixes of a larger packed layer, and the same sizes packed densely. */
    {CASE_GEMM, "slice", 32, 32, 96, 24, 144, 24, 0, 0},
    {CASE_GEMM, "slice", 32, 32, 96, 24, 96, 24, 0, 0},
    {CASE_GEMM, "slice", 32, 32, 24, 72, 24, 144, 0, 0},
    {CASE_GEMM, "slice", 32, 32, 24, 72, 24, 72, 0, 0},
    {CASE_GEMM, "slice", 4, 4, 640, 160, 960, 160, 0, 0},
    {CASE_GEMM, "slice", 4, 4, 640, 160, 640, 160, 0, 0},
    {CASE_GEMM, "slice", 8, 8, 320, 56, 480, 80, 0, 0},
    {CASE_GEMM, "slice", 8, 8, 320, 56, 320, 56, 0, 0},
    /* Depthwise, stride 1, at each resolution; and two stride-2 layers. */
    {CASE_DW, "dw", 32, 32, 144, 0, 144, 0, 3, 1},
    {CASE_DW, "dw", 32, 32, 144, 0, 144, 0, 5, 1},
    {CASE_DW, "dw", 32, 32, 144, 0, 144, 0, 7, 1},
    {CASE_DW, "dw", 16, 16, 240, 0, 240, 0, 3, 1},
    {CASE_DW, "dw", 16, 16, 240, 0, 240, 0, 5, 1},
    {CASE_DW, "dw", 16, 16, 240, 0, 240, 0, 7, 1},
    {CASE_DW, "dw", 8, 8, 480, 0, 480, 0, 3, 1},
    {CASE_DW, "dw", 8, 8, 480, 0, 480, 0, 5, 1},
    {CASE_DW, "dw", 8, 8, 480, 0, 480, 0, 7, 1},
    {CASE_DW, "dw", 4, 4, 480, 0, 480, 0, 3, 1},
    {CASE_DW, "dw", 4, 4, 480, 0, 480, 0, 5, 1},
    {CASE_DW, "dw", 4, 4, 480, 0, 480, 0, 7, 1},
    {CASE_DW, "dw", 32, 32, 144, 0, 144, 0, 5, 2},
    {CASE_DW, "dw", 16, 16, 240, 0, 240, 0, 7, 2},
    /* Classifier head. */
    {CASE_FC, "fc", 1, 1, 1280, 960, 1280, 960, 0, 0},
};
#define NCASES (sizeof cases / sizeof cases[0])

static double case_flops(const bcase *c) {
  if (c->kind == CASE_DW) {
    size_t oh = (c->h - 1) / c->stride + 1, ow = (c->w - 1) / c->stride + 1;
    return 2.0 * (double)(oh * ow * c->n * c->ks * c->ks);
  }
  return 2.0 * (double)(c->h * c->w * c->n * c->k);
}

static void case_label(const bcase *c, char *buf, size_t size) {
  if (c->kind == CASE_DW)
    snprintf(buf, size, "dw %zux%zu s%zu %zux%zux%zu", c->ks, c->ks, c->stride, c->h, c->w, c->n);
  else if (c->kind == CASE_FC)
    snprintf(buf, size, "FC %zu->%zu", c->k, c->n);
  else if (c->n != c->nmax || c->k != c->kmax)
    snprintf(buf, size, "1x1 %zux%zu %zu->%zu of %zu->%zu", c->h, c->w, c->k, c->n, c->kmax,
             c->nmax);
  else
    snprintf(buf, size, "1x1 %zux%zu %zu->%zu", c->h, c->w, c->k, c->n);
}

static float *rand_buf(size_t n) {
  /* Cache-line aligned, as the engine's arena and weight blobs are; 64 bytes of slack:
   * XNNPACK may read up to XNN_EXTRA_BYTES past a tensor. */
  float *p = aligned_alloc(64, DYNRT_ROUND_UP(n * sizeof(float) + 64, 64));
  if (!p) {
    fprintf(stderr, "bench_kernels: out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n + 16; i++) p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
  return p;
}

/* ---- implementations: one "runner" per library and case ---- */

static int nthreads = 1;  /* --threads */
static dynrt_pool *bpool; /* dynrt's pool (nthreads > 1) */
static int pin_cpus[64];  /* --pin: the first nthreads cores this process may use */
static int pin;
#ifdef DYNRT_BENCH_XNNPACK
static pthreadpool_t xpool; /* XNNPACK's pool (nthreads > 1) */
#endif

typedef struct runner {
  const char *name;
  void (*run)(struct runner *r);
  void *state;
  int ok;
  /* dynrt */
  const dynrt_kernels *tab;
  dynrt_gemm_args g;
  dynrt_dw_args d;
  size_t ti, tj; /* engine split: tile sizes over (rows, 16-column panels / 16-channel groups) */
  float *wcopy;  /* a runner's own weights: no runner finds another's in cache */
} runner;

/*
 * The engine's split of a layer over its pool (src/engine/tiles.c, the functions the session
 * calls), so that the benchmark times the tiles the engine runs. The benchmark's depthwise
 * cases have no SE sums.
 */
static void engine_split_gemm(runner *r) {
  size_t ni = r->g.m, nj = DYNRT_DIV_UP(r->g.n, DYNRT_NR);
  dynrt__split_gemm(nthreads, ni, nj, ni, 1, &r->ti, &r->tj);
}

static void engine_split_dw(runner *r) {
  size_t oh = (r->d.h - 1) / r->d.stride + 1, groups = DYNRT_DIV_UP(r->d.c, 16);
  dynrt__split_dw(nthreads, oh, groups, 0, &r->ti, &r->tj);
}

static void gemm_task(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1) {
  (void)thread;
  const runner *r = ctx;
  dynrt__gemm_tile(r->tab, &r->g, i0, i1, j0, j1);
}

static void dw_task(void *ctx, int thread, size_t i0, size_t i1, size_t j0, size_t j1) {
  (void)thread;
  const runner *r = ctx;
  dynrt__dw_tile(r->tab, &r->d, i0, i1, j0, j1);
}

/* One call: inline when the split has one tile (as the engine's par()), else on the pool. */
static void run_dynrt(runner *r) {
  int gemm = r->g.c != NULL;
  size_t ni = gemm ? r->g.m : (r->d.h - 1) / r->d.stride + 1;
  size_t nj = gemm ? DYNRT_DIV_UP(r->g.n, DYNRT_NR) : DYNRT_DIV_UP(r->d.c, 16);
  if (nthreads <= 1 || (r->ti >= ni && r->tj >= nj)) {
    if (gemm)
      r->tab->gemm(&r->g);
    else
      r->tab->dwconv(&r->d);
    return;
  }
  dynrt_pool_parallel_2d(bpool, ni, nj, r->ti, r->tj, gemm ? gemm_task : dw_task, r);
}

/* Buffers shared by all runners of a case (same input values for everyone). */
typedef struct bufs {
  float *in, *in_bordered, *wsrc, *wpacked, *bias, *scale, *out;
} bufs;

static void dynrt_setup(runner *r, const bcase *c, bufs *b) {
  size_t wn =
      c->kind == CASE_DW ? c->ks * c->ks * c->nmax : dynrt__gemm_packed_size(c->nmax, c->kmax);
  r->wcopy = rand_buf(wn);
  memcpy(r->wcopy, b->wpacked, wn * sizeof(float));
  if (c->kind == CASE_DW) {
    size_t p = 3, cs = c->nmax, rs = (c->w + 2 * p) * cs;
    size_t ow = (c->w - 1) / c->stride + 1, oh = (c->h - 1) / c->stride + 1;
    dynrt_dw_args d = {c->h,
                       c->w,
                       c->n,
                       c->ks,
                       c->stride,
                       b->in_bordered + p * rs + p * cs,
                       rs,
                       cs,
                       r->wcopy,
                       c->nmax,
                       b->scale,
                       b->bias,
                       DYNRT_ACT_RELU,
                       b->out,
                       ow * cs,
                       cs,
                       0,
                       oh,
                       NULL};
    r->d = d;
    engine_split_dw(r);
  } else {
    dynrt_gemm_args g = {
        c->h * c->w, c->n,    c->k,           b->in, c->kmax, NULL,   r->wcopy, c->kmax * DYNRT_NR,
        b->scale,    b->bias, DYNRT_ACT_RELU, NULL,  0,       b->out, c->nmax};
    r->g = g;
    engine_split_gemm(r);
  }
  r->run = run_dynrt;
  r->ok = 1;
}

#ifdef DYNRT_BENCH_XNNPACK
static void run_xnn(runner *r) { xnn_run_operator((xnn_operator_t)r->state, xpool); }

static void xnn_setup(runner *r, const bcase *c, bufs *b) {
  xnn_operator_t op = NULL;
  enum xnn_status st;
  const float lo = 0.0f, hi = INFINITY; /* ReLU, fused as the output clamp */
  if (c->kind == CASE_FC) {
    st =
        xnn_create_fully_connected_nc_f32(c->k, c->n, c->k, c->n, b->wsrc, b->bias, lo, hi, 0, &op);
    if (st == xnn_status_success)
      st = xnn_setup_fully_connected_nc_f32(op, 1, b->in, b->out, xpool);
  } else if (c->kind == CASE_GEMM) {
    st = xnn_create_convolution2d_nhwc_f32(0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, c->k, c->n, c->k, c->n,
                                           b->wsrc, b->bias, lo, hi, 0, &op);
    if (st == xnn_status_success)
      st = xnn_setup_convolution2d_nhwc_f32(op, 1, c->h, c->w, b->in, b->out, xpool);
  } else {
    uint32_t p = (uint32_t)(c->ks / 2), k = (uint32_t)c->ks, s = (uint32_t)c->stride;
    st = xnn_create_convolution2d_nhwc_f32(p, p, p, p, k, k, s, s, 1, 1, (uint32_t)c->n, 1, 1, c->n,
                                           c->n, b->wsrc, b->bias, lo, hi,
                                           XNN_FLAG_DEPTHWISE_CONVOLUTION, &op);
    if (st == xnn_status_success)
      st = xnn_setup_convolution2d_nhwc_f32(op, 1, c->h, c->w, b->in, b->out, xpool);
  }
  r->state = op;
  r->run = run_xnn;
  r->ok = st == xnn_status_success;
  if (!r->ok) fprintf(stderr, "bench_kernels: XNNPACK setup failed (status %d)\n", (int)st);
}
static void xnn_teardown(runner *r) {
  if (r->state) xnn_delete_operator((xnn_operator_t)r->state);
}
#endif

#ifdef DYNRT_BENCH_DNNL
typedef struct dnnl_state {
  dnnl_primitive_t prim;
  dnnl_stream_t stream;
  dnnl_memory_t src, wei, bia, dst;
  dnnl_exec_arg_t args[4];
} dnnl_state;

static dnnl_engine_t dnnl_eng;

static void run_dnnl(runner *r) {
  dnnl_state *s = r->state;
  dnnl_primitive_execute(s->prim, s->stream, 4, s->args);
  dnnl_stream_wait(s->stream);
}

/* Weights in whatever layout oneDNN picks (format any), filled with values directly:
 * timing does not depend on which values they are. */
static void dnnl_setup(runner *r, const bcase *c, bufs *b) {
  dnnl_state *s = calloc(1, sizeof *s);
  r->state = s;
  r->run = run_dnnl;
  r->ok = 0;
  if (!s) return;
  if (!dnnl_eng && dnnl_engine_create(&dnnl_eng, dnnl_cpu, 0) != dnnl_success) return;
  dnnl_memory_desc_t src_md, wei_md, bia_md, dst_md;
  dnnl_dims_t bias_dims = {(dnnl_dim_t)c->n};
  dnnl_memory_desc_init_by_tag(&bia_md, 1, bias_dims, dnnl_f32, dnnl_a);
  dnnl_primitive_desc_t pd = NULL;
  dnnl_post_ops_t po = NULL;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_primitive_attr_create(&attr);
  dnnl_post_ops_create(&po);
  dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
  dnnl_primitive_attr_set_post_ops(attr, po);
  dnnl_status_t st;
  if (c->kind == CASE_FC) {
    dnnl_dims_t sd = {1, (dnnl_dim_t)c->k}, wd = {(dnnl_dim_t)c->n, (dnnl_dim_t)c->k},
                dd = {1, (dnnl_dim_t)c->n};
    dnnl_memory_desc_init_by_tag(&src_md, 2, sd, dnnl_f32, dnnl_nc);
    dnnl_memory_desc_init_by_tag(&wei_md, 2, wd, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, dnnl_f32, dnnl_nc);
    dnnl_inner_product_desc_t ipd;
    st = dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &src_md, &wei_md,
                                              &bia_md, &dst_md);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &ipd, attr, dnnl_eng, NULL);
  } else {
    dnnl_dim_t kin = c->kind == CASE_DW ? (dnnl_dim_t)c->n : (dnnl_dim_t)c->k;
    dnnl_dim_t ks = c->kind == CASE_DW ? (dnnl_dim_t)c->ks : 1,
               st_ = (dnnl_dim_t)(c->stride ? c->stride : 1);
    dnnl_dim_t oh = ((dnnl_dim_t)c->h - 1) / st_ + 1, ow = ((dnnl_dim_t)c->w - 1) / st_ + 1;
    dnnl_dims_t sd = {1, kin, (dnnl_dim_t)c->h, (dnnl_dim_t)c->w};
    dnnl_dims_t dd = {1, (dnnl_dim_t)c->n, oh, ow};
    dnnl_memory_desc_init_by_tag(&src_md, 4, sd, dnnl_f32, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&dst_md, 4, dd, dnnl_f32, dnnl_nhwc);
    if (c->kind == CASE_DW) {
      dnnl_dims_t wd = {(dnnl_dim_t)c->n, 1, 1, ks, ks};
      dnnl_memory_desc_init_by_tag(&wei_md, 5, wd, dnnl_f32, dnnl_format_tag_any);
    } else {
      dnnl_dims_t wd = {(dnnl_dim_t)c->n, kin, 1, 1};
      dnnl_memory_desc_init_by_tag(&wei_md, 4, wd, dnnl_f32, dnnl_format_tag_any);
    }
    dnnl_dims_t strides = {st_, st_}, pad = {ks / 2, ks / 2};
    dnnl_convolution_desc_t cd;
    st = dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                            &src_md, &wei_md, &bia_md, &dst_md, strides, pad, pad);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &cd, attr, dnnl_eng, NULL);
  }
  dnnl_post_ops_destroy(po);
  dnnl_primitive_attr_destroy(attr);
  if (st != dnnl_success) {
    fprintf(stderr, "bench_kernels: oneDNN setup failed (status %d)\n", (int)st);
    return;
  }
  const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  dnnl_memory_create(&s->src, &src_md, dnnl_eng, b->in);
  dnnl_memory_create(&s->wei, wmd, dnnl_eng, DNNL_MEMORY_ALLOCATE);
  dnnl_memory_create(&s->bia, &bia_md, dnnl_eng, b->bias);
  dnnl_memory_create(&s->dst, &dst_md, dnnl_eng, b->out);
  void *wh = NULL;
  dnnl_memory_get_data_handle(s->wei, &wh);
  size_t wn = dnnl_memory_desc_get_size(wmd) / sizeof(float);
  for (size_t i = 0; i < wn; i++) ((float *)wh)[i] = (float)(i % 7) * 0.01f;
  st = dnnl_primitive_create(&s->prim, pd);
  dnnl_primitive_desc_destroy(pd);
  if (st != dnnl_success) return;
  dnnl_stream_create(&s->stream, dnnl_eng, dnnl_stream_default_flags);
  s->args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, s->src};
  s->args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, s->wei};
  s->args[2] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, s->bia};
  s->args[3] = (dnnl_exec_arg_t){DNNL_ARG_DST, s->dst};
  r->ok = 1;
}
static void dnnl_teardown(runner *r) {
  dnnl_state *s = r->state;
  if (!s) return;
  if (s->prim) dnnl_primitive_destroy(s->prim);
  if (s->stream) dnnl_stream_destroy(s->stream);
  if (s->src) dnnl_memory_destroy(s->src);
  if (s->wei) dnnl_memory_destroy(s->wei);
  if (s->bia) dnnl_memory_destroy(s->bia);
  if (s->dst) dnnl_memory_destroy(s->dst);
  free(s);
}
#endif

/* ---- driver ---- */

#define MAX_RUNNERS 5
/* FMA-loop iterations per peak sample: 24k zmm FMAs, a few microseconds. */
#define PEAK_CHUNK 2048u

/* The peak loop runs interleaved with the kernels, so that "fraction of peak" compares
 * samples taken under the same load from other processes (this is a shared machine). It runs
 * on the calling thread; with T threads the peak is T times its rate (see main). */
static double (*peak_fn)(unsigned);
static double peak_flops_per_call;
static void run_peak(runner *r) {
  (void)r;
  peak_fn(PEAK_CHUNK);
}

/*
 * Between two runners' batches with T > 1 threads. An idle worker spins before it sleeps:
 * dynrt's pool 30 us, libgomp GOMP_SPINCOUNT iterations (set to OMP_SPIN below, about 50 us,
 * instead of its default 300000, about 7 ms here), pthreadpool 10^6 iterations (about 25 ms)
 * unless its last job had PTHREADPOOL_FLAG_YIELD_WORKERS. A spinning worker of the previous
 * runner would take one of the cores from the next runner's batch, so XNNPACK's workers are
 * sent to sleep with an empty job carrying that flag, and every batch is followed by a pause
 * longer than the other spins. Each batch then starts with one untimed call that wakes the
 * runner's own workers, so the timed calls follow each other as layers do in an inference,
 * with each library's own waiting policy; waking a sleeping pool is bench_pool's subject.
 */
#define SETTLE_NS 100000L
#define OMP_SPIN "2000"

#ifdef DYNRT_BENCH_XNNPACK
static void noop_1d(void *ctx, size_t i) { (void)ctx, (void)i; }
#endif

static void settle(const runner *r) {
#ifdef DYNRT_BENCH_XNNPACK
  if (xpool && r->run == run_xnn)
    pthreadpool_parallelize_1d(xpool, noop_1d, NULL, (size_t)nthreads,
                               PTHREADPOOL_FLAG_YIELD_WORKERS);
#else
  (void)r;
#endif
  struct timespec ts = {0, SETTLE_NS};
  nanosleep(&ts, NULL);
}

/* The split must compute what one call computes: every output element comes from exactly
 * one tile and its sum runs over k in the same order, so the outputs are equal bit for bit. */
static void check_split(runner *rs, size_t nr, const bcase *c, bufs *b) {
  size_t oh = c->kind == CASE_DW ? (c->h - 1) / c->stride + 1 : c->h;
  size_t ow = c->kind == CASE_DW ? (c->w - 1) / c->stride + 1 : c->w;
  size_t nout = oh * ow * c->nmax;
  float *ref = malloc(nout * sizeof(float));
  if (!ref) return;
  for (size_t j = 0; j < nr; j++) {
    runner *r = &rs[j];
    memset(b->out, 0, nout * sizeof(float));
    if (r->g.c)
      r->tab->gemm(&r->g);
    else
      r->tab->dwconv(&r->d);
    memcpy(ref, b->out, nout * sizeof(float));
    memset(b->out, 0, nout * sizeof(float));
    r->run(r);
    if (memcmp(ref, b->out, nout * sizeof(float)))
      fprintf(stderr, "bench_kernels: %s with %d threads differs from one call\n", r->name,
              nthreads);
  }
  free(ref);
}

static void bench_case(const bcase *c, size_t reps, double peak_best, double peak_ymm) {
  bufs b;
  size_t m = c->h * c->w;
  size_t nmax = c->nmax, kmax = c->kind == CASE_DW ? 1 : c->kmax;
  if (c->kind == CASE_DW) {
    size_t p = 3;
    b.in = rand_buf(m * c->n);
    size_t nb = (c->h + 2 * p) * (c->w + 2 * p) * nmax + 16;
    b.in_bordered = aligned_alloc(64, DYNRT_ROUND_UP(nb * sizeof(float), 64));
    memset(b.in_bordered, 0, nb * sizeof(float));
    for (size_t y = 0; y < c->h; y++)
      for (size_t x = 0; x < c->w; x++)
        memcpy(b.in_bordered + ((y + p) * (c->w + 2 * p) + x + p) * nmax,
               b.in + (y * c->w + x) * c->n, c->n * sizeof(float));
    b.wsrc = rand_buf(c->ks * c->ks * nmax); /* XNNPACK: [k][k][C]; dynrt: [k*k][Cmax] */
    b.wpacked = rand_buf(c->ks * c->ks * nmax);
    dynrt__dw_pack(b.wsrc, c->n, c->ks, b.wpacked, nmax);
  } else {
    b.in = rand_buf(m * kmax);
    b.in_bordered = NULL;
    b.wsrc = rand_buf(nmax * kmax);
    b.wpacked = rand_buf(dynrt__gemm_packed_size(nmax, kmax));
    dynrt__gemm_pack(b.wsrc, nmax, kmax, b.wpacked);
  }
  b.bias = rand_buf(nmax);
  b.scale = rand_buf(nmax);
  b.out = rand_buf(m * nmax);

  runner rs[MAX_RUNNERS];
  size_t nr = 0;
  memset(rs, 0, sizeof rs);
  const dynrt_kernels *best = dynrt__kernels();
  rs[nr].name = "dynrt";
  rs[nr].tab = best;
  dynrt_setup(&rs[nr++], c, &b);
  const dynrt_kernels *avx2 = dynrt__kernels_by_name("avx2");
  if (avx2 && avx2 != best) {
    rs[nr].name = "dynrt-avx2";
    rs[nr].tab = avx2;
    dynrt_setup(&rs[nr++], c, &b);
  }
  if (nthreads > 1) check_split(rs, nr, c, &b);
  int peers = strcmp(c->group, "slice") != 0 || c->n == c->nmax;
#ifdef DYNRT_BENCH_XNNPACK
  size_t xi = nr;
  if (peers) {
    rs[nr].name = "XNNPACK";
    xnn_setup(&rs[nr++], c, &b);
  }
#endif
#ifdef DYNRT_BENCH_DNNL
  size_t di = nr;
  if (peers) {
    rs[nr].name = "oneDNN";
    dnnl_setup(&rs[nr++], c, &b);
  }
#endif
  (void)peers;
  size_t pi = nr;
  if (peak_fn) {
    rs[nr].name = "peak";
    rs[nr].run = run_peak;
    rs[nr++].ok = 1;
  }

  /* Batch calls so one sample lasts about 100 us (clock overhead and noise). */
  uint64_t t0 = dynrt_now_ns();
  rs[0].run(&rs[0]);
  double once = (double)(dynrt_now_ns() - t0);
  size_t batch = once > 100000.0 ? 1 : (size_t)(100000.0 / (once + 1.0)) + 1;
  double *samples = malloc(reps * MAX_RUNNERS * sizeof(double));
  size_t warm = reps / 10 + 2;
  uint32_t lcg = 12345u;
  for (size_t rep = 0; rep < warm + reps; rep++) {
    /* A fresh random order each repetition, so that no runner always follows the same
     * one (and finds the caches and clocks that runner left behind). */
    size_t order[MAX_RUNNERS];
    for (size_t j = 0; j < nr; j++) order[j] = j;
    for (size_t j = nr; j > 1; j--) {
      lcg = lcg * 1664525u + 1013904223u;
      size_t t = (lcg >> 8) % j, tmp = order[j - 1];
      order[j - 1] = order[t], order[t] = tmp;
    }
    for (size_t j = 0; j < nr; j++) {
      runner *r = &rs[order[j]];
      if (!r->ok) continue;
      /* --pin: dynrt's pool pinned during its own batches only (set_cpus NULL restores the
       * calling thread's mask, so the other libraries' threads never inherit a pinned one). */
      int pinned = pin && nthreads > 1 && r->run == run_dynrt;
      if (pinned) dynrt_pool_set_cpus(bpool, pin_cpus, nthreads);
      if (nthreads > 1) r->run(r); /* untimed: wakes the workers (see settle) */
      uint64_t s0 = dynrt_now_ns();
      for (size_t i = 0; i < batch; i++) r->run(r);
      uint64_t s1 = dynrt_now_ns();
      if (rep >= warm) samples[(size_t)(r - rs) * reps + rep - warm] = (double)(s1 - s0) / batch;
      if (pinned) dynrt_pool_set_cpus(bpool, NULL, nthreads);
      if (nthreads > 1) settle(r);
    }
  }

  char label[64];
  case_label(c, label, sizeof label);
  double flops = case_flops(c);
  double local_peak = 0.0;
  if (pi < nr) local_peak = peak_flops_per_call / median(samples + pi * reps, reps);
  printf("| %-30s |", label);
  for (size_t j = 0; j < MAX_RUNNERS - 1; j++) {
    if (j == pi || j >= nr || !rs[j].ok) {
      printf(" %18s |", "-");
      continue;
    }
    double ns = median(samples + j * reps, reps), gf = flops / ns;
    double pk = rs[j].name && !strcmp(rs[j].name, "dynrt-avx2") ? peak_ymm : peak_best;
    /* Local ymm peak: the zmm one scaled by the ratio measured at start. */
    if (local_peak > 0.0) pk = pk == peak_best ? local_peak : local_peak * peak_ymm / peak_best;
    if (j == 0 || (rs[j].name && !strcmp(rs[j].name, "dynrt-avx2")))
      printf(" %6.1f us %4.0f %3.0f%% |", ns / 1e3, gf, 100.0 * gf / pk);
    else
      printf(" %6.1f us %4.0f GF |", ns / 1e3, gf);
  }
  printf(" %5.0f |\n", local_peak);
  fflush(stdout);
#ifdef DYNRT_BENCH_XNNPACK
  if (peers) xnn_teardown(&rs[xi]);
#endif
#ifdef DYNRT_BENCH_DNNL
  if (peers) dnnl_teardown(&rs[di]);
#endif
  for (size_t j = 0; j < nr; j++) free(rs[j].wcopy);
  free(samples);
  free(b.in), free(b.in_bordered), free(b.wsrc), free(b.wpacked), free(b.bias), free(b.scale);
  free(b.out);
}

int main(int argc, char **argv) {
  size_t reps = 200;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = (size_t)strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--only") && i + 1 < argc)
      only = argv[++i];
    else if (!strcmp(argv[i], "--stat") && i + 1 < argc)
      use_min = !strcmp(argv[++i], "min");
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      nthreads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--pin"))
      pin = 1;
    else {
      fprintf(stderr,
              "usage: %s [--reps N] [--only gemm|slice|dw|fc] [--stat median|min] "
              "[--threads T] [--pin]\n",
              argv[0]);
      return 2;
    }
  }
  if (reps < 5) reps = 5;
  if (nthreads < 1 || nthreads > 64) {
    fprintf(stderr, "bench_kernels: --threads %d: expected 1..64\n", nthreads);
    return 2;
  }
#ifdef DYNRT_BENCH_DNNL
  char want[16];
  snprintf(want, sizeof want, "%d", nthreads);
  const char *omp = getenv("OMP_NUM_THREADS");
  if (!omp || strcmp(omp, want) || (nthreads > 1 && !getenv("GOMP_SPINCOUNT"))) {
    setenv("OMP_NUM_THREADS", want, 1);
    if (nthreads > 1 && !getenv("GOMP_SPINCOUNT")) setenv("GOMP_SPINCOUNT", OMP_SPIN, 1);
    execv("/proc/self/exe", argv);
    perror("bench_kernels: re-exec with OMP_NUM_THREADS");
  }
#endif
  if (pin && nthreads > 1) {
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
      for (int c = 0; c < CPU_SETSIZE && n < nthreads; c++)
        if (CPU_ISSET(c, &set)) pin_cpus[n++] = c;
    if (n < nthreads) {
      fprintf(stderr, "bench_kernels: --pin: %d usable cores for %d threads\n", n, nthreads);
      return 2;
    }
  }
  if (nthreads > 1) {
    dynrt_status st = dynrt_pool_create(nthreads, &bpool);
    if (st) {
      fprintf(stderr, "bench_kernels: dynrt_pool_create(%d): %s\n", nthreads, dynrt_status_str(st));
      return 1;
    }
#ifdef DYNRT_BENCH_XNNPACK
    xpool = pthreadpool_create((size_t)nthreads);
    if (!xpool) {
      fprintf(stderr, "bench_kernels: pthreadpool_create(%d) failed\n", nthreads);
      return 1;
    }
#endif
  }
#ifdef DYNRT_BENCH_XNNPACK
  if (xnn_initialize(NULL) != xnn_status_success) {
    fprintf(stderr, "bench_kernels: xnn_initialize failed\n");
    return 1;
  }
#endif
  const dynrt_kernels *best = dynrt__kernels();
  double pz = 0.0, py = 0.0;
#if defined(__x86_64__)
  unsigned f = dynrt_cpu_features();
  if (f & DYNRT_CPU_AVX512F) pz = peak(peak_zmm_run);
  if ((f & DYNRT_CPU_AVX2) && (f & DYNRT_CPU_FMA)) py = peak(peak_ymm_run);
#endif
  int zmm = !strcmp(best->name, "avx512");
  double pbest = zmm ? pz : py;
#if defined(__x86_64__)
  if (zmm || !strcmp(best->name, "avx2")) {
    peak_fn = zmm ? peak_zmm_run : peak_ymm_run;
    /* T threads: T times one core's rate. Measuring T loops at once would time the pool's
     * wake-ups as much as the FMA units on a shared machine. */
    peak_flops_per_call = 2.0 * 12 * (zmm ? 16 : 8) * PEAK_CHUNK * nthreads;
  }
#endif
  printf("single-core FMA peak: zmm %.1f GFLOP/s, ymm %.1f GFLOP/s; dynrt table: %s; "
         "%d thread%s, %s of %zu interleaved samples\n",
         pz, py, best->name, nthreads, nthreads > 1 ? "s" : "", use_min ? "fastest" : "median",
         reps);
  if (nthreads > 1)
    printf("%d threads: dynrt on a dynrt_pool%s with the engine's split, XNNPACK on a "
           "pthreadpool, oneDNN with OMP_NUM_THREADS=%d GOMP_SPINCOUNT=%s; peak = %d x the "
           "single-core FMA loop (%.1f GFLOP/s at start, column \"peak\" interleaved)\n",
           nthreads, pin ? " pinned to cores 0..T-1" : " (unpinned)", nthreads,
           getenv("GOMP_SPINCOUNT") ? getenv("GOMP_SPINCOUNT") : "default", nthreads,
           nthreads * pbest);
  printf("\n");
  printf("| %-30s | %-18s | %-18s | %-18s | %-18s | %-5s |\n", "case", "dynrt us GF %peak",
         "dynrt-avx2 us GF %ymm", "XNNPACK", "oneDNN", "peak");
  printf("|%s|%s|%s|%s|%s|%s|\n", "--------------------------------", "--------------------",
         "--------------------", "--------------------", "--------------------", "-------");
  for (size_t i = 0; i < NCASES; i++) {
    if (only && strcmp(only, cases[i].group)) continue;
    bench_case(&cases[i], reps, pbest > 0 ? nthreads * pbest : 1.0, py > 0 ? nthreads * py : 1.0);
  }
#ifdef DYNRT_BENCH_XNNPACK
  if (xpool) pthreadpool_destroy(xpool);
#endif
  dynrt_pool_destroy(bpool);
  return 0;
}

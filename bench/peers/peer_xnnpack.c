/*
 * peer_xnnpack.c - XNNPACK (Debian libxnnpack-dev, 2022 subgraph API) side of the peer
 * benchmark: the static sub-network of a layer list (python/export_onnx.py --layers) as one
 * subgraph and runtime, NHWC input.
 *   peer_xnnpack net.layers --input in_nhwc.f32 [--threads T] ...
 * ReLU / ReLU6 are the convolutions' output clamp; h-swish is a separate node (this version
 * fuses nothing else); SE's h-sigmoid uses the exact trick hsig(Wx+b) = clamp((W/6)x +
 * (b/6+1/2), 0, 1) on the second FC. create_ms = subgraph definition + runtime creation
 * (weight packing). Debian's XNNPACK has no 7x7 depthwise micro-kernel (primary tiles 3, 4, 9,
 * 25): k=7 depthwise falls back to the IGEMM path (reference/engine-notes.md §1.4).
 * The runtime packs every weight into its own buffers at creation, so the layer list and the
 * transposed copies are freed once it exists (rss_kb is then the runtime's, not the harness's).
 *   peer_xnnpack a.layers,b.layers,... --input x   (switching: one runtime per network, all
 *       kept resident in one process; creation time of each, resident set growth)
 */
#include <math.h>
#include <pthreadpool.h>
#include <xnnpack.h>

#include "peer_common.h"
#include "peer_layers.h"

static xnn_subgraph_t sg;

static void ck(enum xnn_status s, const char *what) {
  if (s != xnn_status_success) peer_die("xnnpack", what, "failed");
}

static uint32_t tensor(size_t nd, const size_t *dims, const void *data, uint32_t ext,
                       uint32_t flags) {
  uint32_t id;
  ck(xnn_define_tensor_value(sg, xnn_datatype_fp32, nd, dims, data, ext, flags, &id), "tensor");
  return id;
}

static uint32_t act4(uint32_t x, int act, size_t h, size_t c) {
  if (act != ACT_HSWISH) return x;
  size_t d[4] = {1, h, h, c};
  uint32_t y = tensor(4, d, NULL, XNN_INVALID_VALUE_ID, 0);
  ck(xnn_define_hardswish(sg, x, y, 0), "hardswish");
  return y;
}

static void lo_hi(int act, float *lo, float *hi) {
  *lo = act == ACT_RELU || act == ACT_RELU6 ? 0.0f : -INFINITY;
  *hi = act == ACT_RELU6 ? 6.0f : INFINITY;
}

typedef struct ctx {
  xnn_runtime_t rt;
  struct xnn_external_value ext[2];
} ctx;

static void run(void *p) {
  ctx *c = p;
  ck(xnn_invoke_runtime(c->rt), "invoke");
}

/* Defines the subgraph of L and creates its runtime on pool, bound to x (NHWC input) and y
 * (logits). L's data may be freed afterwards. */
static void build(const layers *L, pthreadpool_t pool, float *x, float *y, ctx *cx) {
  /* depthwise filters must be [1][k][k][C]: transposed copies, freed once packed */
  float *dw = layers_alloc(L->n_floats);
  if (!dw) peer_die("xnnpack", "out of memory", NULL);
  ck(xnn_create_subgraph(2, 0, &sg), "subgraph");
  size_t h = (size_t)L->r, c = 3;
  size_t din[4] = {1, h, h, 3};
  uint32_t cur = tensor(4, din, NULL, 0, XNN_VALUE_FLAG_EXTERNAL_INPUT);
  uint32_t stack[8];
  int sp = 0, pooled = 0;
  const float *d = L->data;
  for (int i = 0; i < L->n; i++) {
    const layer_op *o = &L->ops[i];
    float lo, hi;
    if (o->kind == OP_CONV) {
      size_t k = (size_t)o->k, ho = (h + 2 * (k / 2) - k) / (size_t)o->stride + 1;
      size_t dout[4] = {1, ho, ho, (size_t)o->cout}, db[1] = {(size_t)o->cout};
      uint32_t out = tensor(4, dout, NULL, XNN_INVALID_VALUE_ID, 0);
      uint32_t bias = tensor(1, db, d + o->b, XNN_INVALID_VALUE_ID, 0);
      uint32_t p = (uint32_t)(k / 2);
      lo_hi(o->act, &lo, &hi);
      if (o->groups > 1) {
        float *t = dw + o->w;
        for (size_t ch = 0; ch < (size_t)o->cout; ch++)
          for (size_t q = 0; q < k * k; q++)
            t[q * (size_t)o->cout + ch] = d[o->w + (long)(ch * k * k + q)];
        size_t df[4] = {1, k, k, (size_t)o->cout};
        uint32_t w = tensor(4, df, t, XNN_INVALID_VALUE_ID, 0);
        ck(xnn_define_depthwise_convolution_2d(sg, p, p, p, p, (uint32_t)k, (uint32_t)k,
                                               (uint32_t)o->stride, (uint32_t)o->stride, 1, 1, 1,
                                               (size_t)o->cin, lo, hi, cur, w, bias, out, 0),
           "depthwise");
      } else {
        size_t df[4] = {(size_t)o->cout, k, k, (size_t)o->cin};
        uint32_t w = tensor(4, df, d + o->w, XNN_INVALID_VALUE_ID, 0);
        ck(xnn_define_convolution_2d(sg, p, p, p, p, (uint32_t)k, (uint32_t)k, (uint32_t)o->stride,
                                     (uint32_t)o->stride, 1, 1, 1, (size_t)o->cin, (size_t)o->cout,
                                     lo, hi, cur, w, bias, out, 0),
           "conv");
      }
      h = ho, c = (size_t)o->cout;
      cur = act4(out, o->act, h, c);
    } else if (o->kind == OP_SE) {
      size_t cm = (size_t)o->cout;
      size_t dg[4] = {1, 1, 1, c}, dm[4] = {1, 1, 1, cm}, dx[4] = {1, h, h, c};
      size_t dw1[2] = {cm, c}, db1[1] = {cm}, dw2[2] = {c, cm}, db2[1] = {c};
      uint32_t g = tensor(4, dg, NULL, XNN_INVALID_VALUE_ID, 0);
      ck(xnn_define_global_average_pooling_2d(sg, -INFINITY, INFINITY, cur, g, 0), "se gap");
      uint32_t m = tensor(4, dm, NULL, XNN_INVALID_VALUE_ID, 0);
      ck(xnn_define_fully_connected(sg, 0.0f, INFINITY, g,
                                    tensor(2, dw1, d + o->w, XNN_INVALID_VALUE_ID, 0),
                                    tensor(1, db1, d + o->b, XNN_INVALID_VALUE_ID, 0), m, 0),
         "se fc1");
      float *w2 = dw + o->w2, *b2 = dw + o->b2; /* h-sigmoid trick */
      for (size_t q = 0; q < c * cm; q++) w2[q] = d[o->w2 + (long)q] / 6.0f;
      for (size_t q = 0; q < c; q++) b2[q] = d[o->b2 + (long)q] / 6.0f + 0.5f;
      uint32_t s = tensor(4, dg, NULL, XNN_INVALID_VALUE_ID, 0);
      ck(xnn_define_fully_connected(sg, 0.0f, 1.0f, m, tensor(2, dw2, w2, XNN_INVALID_VALUE_ID, 0),
                                    tensor(1, db2, b2, XNN_INVALID_VALUE_ID, 0), s, 0),
         "se fc2");
      uint32_t out = tensor(4, dx, NULL, XNN_INVALID_VALUE_ID, 0);
      ck(xnn_define_multiply2(sg, -INFINITY, INFINITY, cur, s, out, 0), "se mul");
      cur = out;
    } else if (o->kind == OP_SAVE) {
      stack[sp++] = cur;
    } else if (o->kind == OP_ADD) {
      size_t dx[4] = {1, h, h, c};
      uint32_t out = tensor(4, dx, NULL, XNN_INVALID_VALUE_ID, 0);
      ck(xnn_define_add2(sg, -INFINITY, INFINITY, cur, stack[--sp], out, 0), "add");
      cur = out;
    } else if (o->kind == OP_GAP) {
      size_t dg[4] = {1, 1, 1, c};
      uint32_t out = tensor(4, dg, NULL, XNN_INVALID_VALUE_ID, 0);
      ck(xnn_define_global_average_pooling_2d(sg, -INFINITY, INFINITY, cur, out, 0), "gap");
      cur = out, pooled = 1;
    } else { /* FC */
      int last = i == L->n - 1;
      size_t dwt[2] = {(size_t)o->cout, (size_t)o->cin}, db[1] = {(size_t)o->cout};
      size_t dout[2] = {1, (size_t)o->cout};
      uint32_t out = tensor(2, dout, NULL, last ? 1 : XNN_INVALID_VALUE_ID,
                            last ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : 0);
      ck(xnn_define_fully_connected(
             sg, -INFINITY, INFINITY, cur, tensor(2, dwt, d + o->w, XNN_INVALID_VALUE_ID, 0),
             o->b >= 0 ? tensor(1, db, d + o->b, XNN_INVALID_VALUE_ID, 0) : XNN_INVALID_VALUE_ID,
             out, 0),
         "fc");
      c = (size_t)o->cout;
      if (o->act == ACT_HSWISH) {
        uint32_t z = tensor(2, dout, NULL, XNN_INVALID_VALUE_ID, 0);
        ck(xnn_define_hardswish(sg, out, z, 0), "fc hardswish");
        out = z;
      }
      cur = out;
    }
  }
  if (!pooled) peer_die("xnnpack", "layer list has no gap", NULL);
  ck(xnn_create_runtime_v2(sg, pool, 0, &cx->rt), "runtime");
  cx->ext[0] = (struct xnn_external_value){0, x};
  cx->ext[1] = (struct xnn_external_value){1, y};
  ck(xnn_setup_runtime(cx->rt, 2, cx->ext), "setup");
  xnn_delete_subgraph(sg);
  layers_free(dw, L->n_floats);
}

/* Several comma-separated layer lists: one runtime each, all kept resident. */
static int resident(const peer_args *a, pthreadpool_t pool) {
  char *list = strdup(a->model), *save = NULL;
  ctx cx[64];
  float *xs[64], *ys[64];
  int n = 0;
  long rss0 = peer_rss_kb();
  printf("{\"peer\":\"xnnpack\",\"mode\":\"resident\",\"create_ms\":[");
  for (char *p = strtok_r(list, ",", &save); p && n < 64; p = strtok_r(NULL, ",", &save)) {
    layers L;
    if (layers_load(p, &L)) return 1;
    xs[n] = calloc((size_t)L.r * (size_t)L.r * 3 + 16, sizeof(float));
    ys[n] = calloc((size_t)L.classes + 16, sizeof(float));
    double t0 = peer_now_us();
    build(&L, pool, xs[n], ys[n], &cx[n]);
    printf("%s%.2f", n ? "," : "", (peer_now_us() - t0) / 1e3);
    layers_free_data(&L);
    free(L.ops);
    run(&cx[n]); /* activations touched, as a resident network that has run once */
    n++;
  }
  printf("],\"n\":%d,\"rss_kb_before\":%ld,\"rss_kb_after\":%ld,\"hwm_kb\":%ld}\n", n, rss0,
         peer_rss_kb(), peer_hwm_kb());
  for (int i = 0; i < n; i++) xnn_delete_runtime(cx[i].rt), free(xs[i]), free(ys[i]);
  free(list);
  return 0;
}

int main(int argc, char **argv) {
  peer_args a;
  peer_parse("xnnpack", argc, argv, &a);
  if (a.per_layer) peer_die("xnnpack", "--per-layer: this XNNPACK has no profiling API", NULL);
  ck(xnn_initialize(NULL), "initialize");
  pthreadpool_t pool = a.threads > 1 ? pthreadpool_create((size_t)a.threads) : NULL;
  if (strchr(a.model, ',')) return resident(&a, pool);
  size_t n;
  float *x = peer_read_f32("xnnpack", a.input, &n);
  layers L;
  peer_mark_base(); /* before the layer list: its data is freed once the network is built */
  if (layers_load(a.model, &L)) return 1;
  float *y = calloc((size_t)L.classes + 16, sizeof(float));
  ctx cx;
  double t0 = peer_now_us();
  build(&L, pool, x, y, &cx);
  double create_ms = (peer_now_us() - t0) / 1e3;
  layers_free_data(&L); /* packed into the runtime */
  if (n != (size_t)L.r * (size_t)L.r * 3) peer_die("xnnpack", "input size is not r*r*3", a.input);
  run(&cx);
  peer_write_f32("xnnpack", a.out, y, (size_t)L.classes);
  peer_time("xnnpack", &a, run, &cx, create_ms);
  xnn_delete_runtime(cx.rt);
  if (pool) pthreadpool_destroy(pool);
  free(L.ops);
  free(y);
  free(x);
  return 0;
}

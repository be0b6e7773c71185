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

int main(int argc, char **argv) {
  peer_args a;
  layers L;
  peer_parse("xnnpack", argc, argv, &a);
  if (layers_load(a.model, &L)) return 1;
  size_t n;
  float *x = peer_read_f32("xnnpack", a.input, &n);
  float *y = calloc((size_t)L.classes + 16, sizeof(float));
  ck(xnn_initialize(NULL), "initialize");
  double t0 = peer_now_us();
  /* depthwise filters must be [1][k][k][C]: transposed copies (outlive the runtime) */
  float *dw = calloc((size_t)L.n_floats + 64, sizeof(float));
  ck(xnn_create_subgraph(2, 0, &sg), "subgraph");
  size_t h = (size_t)L.r, c = 3;
  size_t din[4] = {1, h, h, 3};
  uint32_t cur = tensor(4, din, NULL, 0, XNN_VALUE_FLAG_EXTERNAL_INPUT);
  uint32_t stack[8];
  int sp = 0, pooled = 0;
  float *d = L.data;
  for (int i = 0; i < L.n; i++) {
    layer_op *o = &L.ops[i];
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
      int last = i == L.n - 1;
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
  if (!pooled) peer_die("xnnpack", "layer list has no gap", a.model);
  pthreadpool_t pool = a.threads > 1 ? pthreadpool_create((size_t)a.threads) : NULL;
  ctx cx;
  ck(xnn_create_runtime_v2(sg, pool, 0, &cx.rt), "runtime");
  cx.ext[0] = (struct xnn_external_value){0, x};
  cx.ext[1] = (struct xnn_external_value){1, y};
  ck(xnn_setup_runtime(cx.rt, 2, cx.ext), "setup");
  double create_ms = (peer_now_us() - t0) / 1e3;
  if (n != (size_t)L.r * (size_t)L.r * 3) peer_die("xnnpack", "input size is not r*r*3", a.input);
  run(&cx);
  peer_write_f32("xnnpack", a.out, y, (size_t)L.classes);
  peer_time("xnnpack", &a, run, &cx, create_ms);
  xnn_delete_runtime(cx.rt);
  xnn_delete_subgraph(sg);
  if (pool) pthreadpool_destroy(pool);
  return 0;
}

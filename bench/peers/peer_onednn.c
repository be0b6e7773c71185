/*
 * peer_onednn.c - oneDNN (Debian libdnnl-dev 2.6, C API) side of the peer benchmark: the
 * static sub-network of a layer list (python/export_onnx.py --layers) as a chain of oneDNN
 * primitives, built the way a user deploying a static network would:
 *   - weights with format_tag any: each primitive picks its layout, the weights are reordered
 *     into it once at setup (never on the run path);
 *   - activations with format_tag any as well (DYNRT_PEER_ONEDNN_LAYOUT=any, the default), or
 *     fixed NHWC (DYNRT_PEER_ONEDNN_LAYOUT=nhwc). The input is NHWC; a convolution that asks
 *     for another source layout gets a reorder step, part of every run (on AVX-512, oneDNN 2.6
 *     picks NHWC everywhere for its brgemm kernels, so none runs: DNNL_VERBOSE=1 shows it);
 *   - activations share a few buffers (slots), as the memory planners of ORT, XNNPACK and
 *     dynrt do;
 *   - fused post-ops: bias in the convolution / inner product, ReLU / ReLU6 (clip 0..6) /
 *     h-swish as eltwise post-ops, and the residual add as a sum post-op of the projection
 *     convolution, which writes in place into the block input;
 *   - SE: average pooling, inner product + ReLU, inner product + clip(0, 1) with the exact
 *     h-sigmoid trick hsig(Wx+b) = clamp((W/6)x + (b/6+1/2), 0, 1) (oneDNN 2.6 has no
 *     hardsigmoid eltwise), binary multiply with channel broadcast, in place.
 * Threading: Debian's oneDNN uses OpenMP (libgomp, DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP): the
 * thread count is set with omp_set_num_threads(T) (looked up in the process, i.e. in the
 * libgomp that libdnnl loaded, so no second OpenMP runtime is linked) *before* any primitive
 * is created, because oneDNN chooses its work split for the thread count at creation.
 * libgomp's idle threads spin for GOMP_SPINCOUNT before they sleep (OMP_WAIT_POLICY unset).
 *
 *   peer_onednn net.layers --input in_nhwc.f32 [--threads T] [--per-layer] ...
 *   peer_onednn a.layers,b.layers,... --input x   (switching: every network's primitives
 *       created and kept resident in one process; creation time of each, resident set growth)
 * create_ms = primitive descriptor + primitive creation + weight reorders for the whole
 * network (engine and stream creation excluded: once per process). --per-layer times every
 * primitive (a stream wait after each) and sums the primitives of one layer-list op.
 */
#include <dlfcn.h>
#include <dnnl.h>
#include <dnnl_debug.h>
#include <stdint.h>

#include "peer_common.h"
#include "peer_layers.h"

#if DNNL_CPU_RUNTIME != DNNL_RUNTIME_OMP
#error "peer_onednn sets the thread count through OpenMP; this oneDNN is not built with it"
#endif

#define PEER "onednn"
#define MAX_STEPS 2048

static dnnl_engine_t eng;
static dnnl_stream_t strm;
static int layout_any = 1;

/* One primitive of the chain, with the layer-list op it belongs to. */
typedef struct step {
  dnnl_primitive_t prim;
  int nargs, layer;
  dnnl_exec_arg_t args[6];
} step;

/* A tensor between primitives: its descriptor and memory (owned by the net); slot: the
 * activation buffer it lives in, -1 for memory of its own. */
typedef struct tens {
  dnnl_memory_desc_t md;
  dnnl_memory_t mem;
  int c, h, slot;
} tens;

/* Activations share a few buffers, as every runtime's memory planner does (ORT, XNNPACK,
 * dynrt): a new activation takes a slot that holds no live tensor (the current one or a
 * saved block input); slots are sized and allocated once the whole chain is known. */
#define SLOTS 5

/* A whole network: the steps, every memory object it owns, and the per-layer names. */
typedef struct net {
  step *st;
  int n;
  dnnl_memory_t *mems;
  int n_mems;
  peer_layer *layers; /* one per layer-list op that computes */
  int n_layers;
  dnnl_memory_t in, out;
  size_t slot_bytes[SLOTS];
  void *slot_buf[SLOTS];
  dnnl_memory_t *slot_mem; /* activation memories and their slots, bound after the build */
  int *slot_of, n_slot_mem;
  unsigned busy; /* slots holding live tensors at the op being built */
} net;

static void ck(dnnl_status_t s, const char *what) {
  if (s != dnnl_success) peer_die(PEER, what, dnnl_status2str(s));
}

static dnnl_memory_t mem_keep(net *N, dnnl_memory_t m) {
  if (N->n_mems >= MAX_STEPS * 4) peer_die(PEER, "too many memory objects", NULL);
  N->mems[N->n_mems++] = m;
  return m;
}

static dnnl_memory_t mem_new(net *N, const dnnl_memory_desc_t *md) {
  dnnl_memory_t m;
  ck(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE), "memory");
  return mem_keep(N, m);
}

/* Memory for an activation in a slot that is neither busy nor `avoid` (a slot number or -1);
 * its buffer is bound by slots_bind(). */
static tens act_new(net *N, const dnnl_memory_desc_t *md, int avoid) {
  int k = 0;
  while (k < SLOTS && ((N->busy >> k & 1u) || k == avoid)) k++;
  if (k == SLOTS) peer_die(PEER, "no free activation slot", NULL);
  if (N->n_slot_mem >= MAX_STEPS) peer_die(PEER, "too many activations", NULL);
  tens t;
  memset(&t, 0, sizeof t);
  t.md = *md;
  t.slot = k;
  ck(dnnl_memory_create(&t.mem, md, eng, DNNL_MEMORY_NONE), "activation memory");
  mem_keep(N, t.mem);
  size_t bytes = dnnl_memory_desc_get_size(md);
  if (bytes > N->slot_bytes[k]) N->slot_bytes[k] = bytes;
  N->slot_mem[N->n_slot_mem] = t.mem;
  N->slot_of[N->n_slot_mem++] = k;
  return t;
}

static void slots_bind(net *N) {
  for (int k = 0; k < SLOTS; k++) {
    if (!N->slot_bytes[k]) continue;
    N->slot_buf[k] = aligned_alloc(64, (N->slot_bytes[k] + 63) / 64 * 64);
    if (!N->slot_buf[k]) peer_die(PEER, "out of memory", NULL);
    memset(N->slot_buf[k], 0, N->slot_bytes[k]);
  }
  for (int i = 0; i < N->n_slot_mem; i++)
    ck(dnnl_memory_set_data_handle(N->slot_mem[i], N->slot_buf[N->slot_of[i]]), "bind slot");
}

/* Memory of md filled with n floats of src (plain layouts only: bias, vectors). */
static dnnl_memory_t mem_copy(net *N, const dnnl_memory_desc_t *md, const float *src, size_t n) {
  dnnl_memory_t m = mem_new(N, md);
  void *p;
  ck(dnnl_memory_get_data_handle(m, &p), "data handle");
  memcpy(p, src, n * sizeof(float));
  return m;
}

static void md_tag(dnnl_memory_desc_t *md, int nd, const dnnl_dim_t *dims, dnnl_format_tag_t tag) {
  dnnl_dims_t d;
  for (int i = 0; i < nd; i++) d[i] = dims[i];
  ck(dnnl_memory_desc_init_by_tag(md, nd, d, dnnl_f32, tag), "memory desc");
}

/* Runs src (user layout) -> dst (layout dst_md) once, at setup. */
static void reorder_once(const dnnl_memory_desc_t *src_md, const void *src, dnnl_memory_t dst,
                         const dnnl_memory_desc_t *dst_md) {
  dnnl_memory_t sm;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t p;
  ck(dnnl_memory_create(&sm, src_md, eng, (void *)src), "reorder source");
  ck(dnnl_reorder_primitive_desc_create(&pd, src_md, eng, dst_md, eng, NULL), "reorder pd");
  ck(dnnl_primitive_create(&p, pd), "reorder");
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, sm}, {DNNL_ARG_TO, dst}};
  ck(dnnl_primitive_execute(p, strm, 2, args), "reorder run");
  ck(dnnl_stream_wait(strm), "wait");
  dnnl_primitive_destroy(p);
  dnnl_primitive_desc_destroy(pd);
  dnnl_memory_destroy(sm);
}

/* Weights in the layout the primitive chose (pd's weights md), from user data in user_tag. */
static dnnl_memory_t weights(net *N, const_dnnl_primitive_desc_t pd, int nd, const dnnl_dim_t *dims,
                             dnnl_format_tag_t user_tag, const float *data) {
  dnnl_memory_desc_t umd;
  md_tag(&umd, nd, dims, user_tag);
  const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  dnnl_memory_t w = mem_new(N, wmd);
  reorder_once(&umd, data, w, wmd);
  return w;
}

/* Appends the primitive of pd (args filled by the caller), noting its implementation name
 * against the layer it belongs to. */
static step *add_step(net *N, const_dnnl_primitive_desc_t pd, int layer) {
  if (N->n >= MAX_STEPS) peer_die(PEER, "too many primitives", NULL);
  step *s = &N->st[N->n++];
  memset(s, 0, sizeof *s);
  s->layer = layer;
  ck(dnnl_primitive_create(&s->prim, pd), "primitive");
  const char *impl = NULL;
  if (layer >= 0 &&
      dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl) {
    peer_layer *l = &N->layers[layer];
    size_t used = strlen(l->impl);
    if (used + strlen(impl) + 2 < sizeof l->impl)
      snprintf(l->impl + used, sizeof l->impl - used, "%s%s", used ? "+" : "", impl);
  }
  return s;
}

static void arg(step *s, int kind, dnnl_memory_t m) {
  s->args[s->nargs].arg = kind;
  s->args[s->nargs].memory = m;
  s->nargs++;
}

/* Post-ops: optional in-place residual sum, then the activation (ACT_* or -1: clip to [0,1]). */
static dnnl_primitive_attr_t attr_for(int act, int sum) {
  dnnl_primitive_attr_t a;
  dnnl_post_ops_t po;
  ck(dnnl_primitive_attr_create(&a), "attr");
  ck(dnnl_post_ops_create(&po), "post-ops");
  if (sum) ck(dnnl_post_ops_append_sum(po, 1.0f), "sum post-op");
  if (act == ACT_RELU) ck(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0, 0), "relu");
  if (act == ACT_RELU6)
    ck(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip, 0, 6), "relu6");
  if (act == ACT_HSWISH)
    ck(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_hardswish, 0, 0), "hswish");
  if (act == -1) ck(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip, 0, 1), "hsigmoid");
  ck(dnnl_primitive_attr_set_post_ops(a, po), "set post-ops");
  dnnl_post_ops_destroy(po);
  return a;
}

/* Makes cur match want (a primitive's chosen source layout) with a reorder step if needed. */
static void conform(net *N, tens *cur, const dnnl_memory_desc_t *want, int layer) {
  if (dnnl_memory_desc_equal(&cur->md, want)) return;
  dnnl_primitive_desc_t pd;
  ck(dnnl_reorder_primitive_desc_create(&pd, &cur->md, eng, want, eng, NULL), "reorder pd");
  tens t = act_new(N, want, cur->slot);
  step *s = add_step(N, pd, layer);
  arg(s, DNNL_ARG_FROM, cur->mem);
  arg(s, DNNL_ARG_TO, t.mem);
  dnnl_primitive_desc_destroy(pd);
  t.c = cur->c;
  t.h = cur->h;
  *cur = t;
}

/* Opens the next layer of the per-layer profile (its name is filled by the caller). */
static peer_layer *new_layer(net *N, const char *kind, unsigned long long macs) {
  peer_layer *l = &N->layers[N->n_layers++];
  memset(l, 0, sizeof *l);
  snprintf(l->kind, sizeof l->kind, "%s", kind);
  l->macs = macs;
  return l;
}

/* Convolution op (dense or depthwise) of the layer list; res != NULL fuses the residual add
 * that follows (sum post-op, output written in place into *res). */
static void conv(net *N, tens *cur, const layer_op *o, const float *d, tens *res, int layer) {
  dnnl_dim_t k = o->k, s = o->stride, p = o->k / 2, g = o->groups;
  dnnl_dim_t ho = (cur->h + 2 * p - k) / s + 1;
  dnnl_dim_t sd[4] = {1, o->cin, cur->h, cur->h}, dd[4] = {1, o->cout, ho, ho}, bd[1] = {o->cout};
  dnnl_dim_t wd5[5] = {g, o->cout / g, o->cin / g, k, k}, wd4[4] = {o->cout, o->cin, k, k};
  dnnl_memory_desc_t src, wei, bia, dst;
  dnnl_format_tag_t act_tag = layout_any ? dnnl_format_tag_any : dnnl_nhwc;
  /* "any": the convolution picks its source layout too; conform() reorders when the tensor
   * is in another one (the NHWC input before the stem; nowhere else when all agree) */
  if (layout_any)
    md_tag(&src, 4, sd, dnnl_format_tag_any);
  else
    src = cur->md;
  md_tag(&wei, g > 1 ? 5 : 4, g > 1 ? wd5 : wd4, dnnl_format_tag_any);
  md_tag(&bia, 1, bd, dnnl_a);
  if (res)
    dst = res->md;
  else
    md_tag(&dst, 4, dd, act_tag);
  dnnl_convolution_desc_t cd;
  dnnl_dims_t strides = {s, s}, pad = {p, p};
  ck(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src,
                                        &wei, &bia, &dst, strides, pad, pad),
     "conv desc");
  dnnl_primitive_attr_t attr = attr_for(o->act, res != NULL);
  dnnl_primitive_desc_t pd;
  ck(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL), "conv pd");
  dnnl_primitive_attr_destroy(attr);
  conform(N, cur, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), layer);
  dnnl_memory_t w = g > 1 ? weights(N, pd, 5, wd5, dnnl_goihw, d + o->w)
                          : weights(N, pd, 4, wd4, dnnl_ohwi, d + o->w);
  dnnl_memory_t b = mem_copy(N, &bia, d + o->b, (size_t)o->cout);
  tens out =
      res ? *res : act_new(N, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), cur->slot);
  out.c = o->cout;
  out.h = (int)ho;
  step *st = add_step(N, pd, layer);
  arg(st, DNNL_ARG_SRC, cur->mem);
  arg(st, DNNL_ARG_WEIGHTS, w);
  arg(st, DNNL_ARG_BIAS, b);
  arg(st, DNNL_ARG_DST, out.mem);
  dnnl_primitive_desc_destroy(pd);
  *cur = out;
}

/* Global average pooling of cur to [1, C, 1, 1] (layout: the pooling's choice). */
static tens gap(net *N, const tens *cur, int layer) {
  dnnl_dim_t dd[4] = {1, cur->c, 1, 1};
  dnnl_memory_desc_t dst;
  md_tag(&dst, 4, dd, layout_any ? dnnl_format_tag_any : dnnl_nhwc);
  dnnl_pooling_desc_t pdsc;
  dnnl_dims_t strides = {1, 1}, kernel = {cur->h, cur->h}, pad = {0, 0};
  ck(dnnl_pooling_forward_desc_init(&pdsc, dnnl_forward_inference, dnnl_pooling_avg, &cur->md, &dst,
                                    strides, kernel, pad, pad),
     "pooling desc");
  dnnl_primitive_desc_t pd;
  ck(dnnl_primitive_desc_create(&pd, &pdsc, NULL, eng, NULL), "pooling pd");
  tens out = {*dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), NULL, cur->c, 1, -1};
  out.mem = mem_new(N, &out.md);
  step *s = add_step(N, pd, layer);
  arg(s, DNNL_ARG_SRC, cur->mem);
  arg(s, DNNL_ARG_DST, out.mem);
  dnnl_primitive_desc_destroy(pd);
  /* A plain [1, C, 1, 1] is [1, C] byte for byte: the inner products that read it get a 2-D
   * view, for which oneDNN 2.6 has its brgemm kernels (a 4-D source takes x64:gemm). */
  if (out.md.format_kind == dnnl_blocked && out.md.format_desc.blocking.inner_nblks == 0) {
    dnnl_dim_t vd[2] = {1, cur->c};
    void *h;
    ck(dnnl_memory_get_data_handle(out.mem, &h), "data handle");
    md_tag(&out.md, 2, vd, dnnl_nc);
    ck(dnnl_memory_create(&out.mem, &out.md, eng, h), "2-D view");
    mem_keep(N, out.mem);
  }
  return out;
}

/* Inner product src [1, cin(,1,1)] -> [1, cout] (nc; into dst_mem if given), weights [cout][cin]
 * (user), bias optional, post-op act. */
static tens fc(net *N, const tens *src, int cout, const float *w, const float *b, int act,
               dnnl_memory_t dst_mem, int layer) {
  int nd = src->md.ndims;
  dnnl_dim_t wd[4] = {cout, src->c, 1, 1}, dd[2] = {1, cout}, bd[1] = {cout};
  dnnl_memory_desc_t wei, bia, dst;
  md_tag(&wei, nd, wd, dnnl_format_tag_any);
  md_tag(&bia, 1, bd, dnnl_a);
  md_tag(&dst, 2, dd, dnnl_nc);
  dnnl_inner_product_desc_t ipd;
  ck(dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &src->md, &wei,
                                          b ? &bia : NULL, &dst),
     "inner product desc");
  dnnl_primitive_attr_t attr = attr_for(act, 0);
  dnnl_primitive_desc_t pd;
  ck(dnnl_primitive_desc_create(&pd, &ipd, attr, eng, NULL), "inner product pd");
  dnnl_primitive_attr_destroy(attr);
  dnnl_memory_t wm = weights(N, pd, nd, wd, nd == 4 ? dnnl_oihw : dnnl_oi, w);
  tens out = {dst, dst_mem ? dst_mem : mem_new(N, &dst), cout, 1, -1};
  step *s = add_step(N, pd, layer);
  arg(s, DNNL_ARG_SRC, src->mem);
  arg(s, DNNL_ARG_WEIGHTS, wm);
  if (b) arg(s, DNNL_ARG_BIAS, mem_copy(N, &bia, b, (size_t)cout));
  arg(s, DNNL_ARG_DST, out.mem);
  dnnl_primitive_desc_destroy(pd);
  return out;
}

/* dst = a (op) b, in place into a; b broadcast over space when it is [1, C, 1, 1]. */
static void binary(net *N, tens *a, const dnnl_memory_desc_t *b_md, dnnl_memory_t b,
                   dnnl_alg_kind_t alg, int layer) {
  dnnl_binary_desc_t bd;
  ck(dnnl_binary_desc_init(&bd, alg, &a->md, b_md, &a->md), "binary desc");
  dnnl_primitive_desc_t pd;
  ck(dnnl_primitive_desc_create(&pd, &bd, NULL, eng, NULL), "binary pd");
  step *s = add_step(N, pd, layer);
  arg(s, DNNL_ARG_SRC_0, a->mem);
  arg(s, DNNL_ARG_SRC_1, b);
  arg(s, DNNL_ARG_DST, a->mem);
  dnnl_primitive_desc_destroy(pd);
}

/* Builds the primitives of L for input x (NHWC [r][r][3]) and output y ([classes]). Every
 * weight is reordered into memory the net owns: L's data may be freed afterwards. */
static void net_build(net *N, const layers *L, float *x, float *y) {
  memset(N, 0, sizeof *N);
  N->st = calloc(MAX_STEPS, sizeof *N->st);
  N->mems = calloc(MAX_STEPS * 4, sizeof *N->mems);
  N->layers = calloc((size_t)L->n + 1, sizeof *N->layers);
  N->slot_mem = calloc(MAX_STEPS, sizeof *N->slot_mem);
  N->slot_of = calloc(MAX_STEPS, sizeof *N->slot_of);
  float *tmp = layers_alloc(L->n_floats); /* h-sigmoid scaled SE fc2 */
  if (!N->st || !N->mems || !N->layers || !N->slot_mem || !N->slot_of || !tmp)
    peer_die(PEER, "out of memory", NULL);
  dnnl_dim_t id[4] = {1, 3, L->r, L->r};
  tens cur;
  md_tag(&cur.md, 4, id, dnnl_nhwc);
  ck(dnnl_memory_create(&N->in, &cur.md, eng, x), "input memory");
  cur.mem = mem_keep(N, N->in);
  cur.c = 3;
  cur.h = L->r;
  cur.slot = -1;
  tens stack[8];
  int sp = 0, pooled = 0;
  const float *d = L->data;
  for (int i = 0; i < L->n; i++) {
    const layer_op *o = &L->ops[i];
    int li = N->n_layers;
    N->busy = cur.slot >= 0 ? 1u << cur.slot : 0;
    for (int q = 0; q < sp; q++)
      if (stack[q].slot >= 0) N->busy |= 1u << stack[q].slot;
    if (o->kind == OP_CONV) {
      int ho = (cur.h + 2 * (o->k / 2) - o->k) / o->stride + 1;
      unsigned long long macs = (unsigned long long)o->cout *
                                (unsigned long long)(o->cin / o->groups) *
                                (unsigned long long)(o->k * o->k) * (unsigned long long)(ho * ho);
      const char *kind = o->groups > 1 ? "dw" : o->k == 1 ? "pw" : "conv";
      peer_layer *l = new_layer(N, kind, macs);
      snprintf(l->name, sizeof l->name, "%s %dx%d %d->%d s%d h%d", kind, o->k, o->k, o->cin,
               o->cout, o->stride, ho);
      /* a residual add right after an activation-free convolution: sum post-op, in place */
      int fuse = i + 1 < L->n && L->ops[i + 1].kind == OP_ADD && o->act == ACT_NONE && sp > 0;
      conv(N, &cur, o, d, fuse ? &stack[sp - 1] : NULL, li);
      if (fuse) sp--, i++;
    } else if (o->kind == OP_SE) {
      int c = cur.c, cm = o->cout;
      peer_layer *l = new_layer(N, "se", 2ull * (unsigned long long)c * (unsigned long long)cm);
      snprintf(l->name, sizeof l->name, "se %d->%d h%d", c, cm, cur.h);
      tens g = gap(N, &cur, li);
      tens m = fc(N, &g, cm, d + o->w, d + o->b, ACT_RELU, NULL, li);
      float *w2 = tmp + o->w2, *b2 = tmp + o->b2; /* h-sigmoid trick */
      for (long q = 0; q < (long)c * cm; q++) w2[q] = d[o->w2 + q] / 6.0f;
      for (long q = 0; q < c; q++) b2[q] = d[o->b2 + q] / 6.0f + 0.5f;
      tens s = fc(N, &m, c, w2, b2, -1, NULL, li);
      /* the [1, C] scale read as [1, C, 1, 1] (same bytes) and broadcast over space */
      dnnl_dim_t sd[4] = {1, c, 1, 1};
      dnnl_memory_desc_t smd;
      md_tag(&smd, 4, sd, dnnl_nchw);
      binary(N, &cur, &smd, s.mem, dnnl_binary_mul, li);
    } else if (o->kind == OP_SAVE) {
      if (sp >= 8) peer_die(PEER, "save stack overflow", NULL);
      stack[sp++] = cur;
    } else if (o->kind == OP_ADD) { /* not fused: a separate binary add, in place */
      if (!sp) peer_die(PEER, "add without save", NULL);
      tens r = stack[--sp];
      binary(N, &cur, &r.md, r.mem, dnnl_binary_add, li - 1);
    } else if (o->kind == OP_GAP) {
      peer_layer *l = new_layer(N, "gap", 0);
      snprintf(l->name, sizeof l->name, "gap c%d h%d", cur.c, cur.h);
      cur = gap(N, &cur, li);
      pooled = 1;
    } else { /* FC */
      int last = i == L->n - 1;
      peer_layer *l = new_layer(N, "fc", (unsigned long long)o->cin * (unsigned long long)o->cout);
      snprintf(l->name, sizeof l->name, "fc %d->%d", o->cin, o->cout);
      if (last) {
        dnnl_dim_t od[2] = {1, o->cout};
        dnnl_memory_desc_t omd;
        md_tag(&omd, 2, od, dnnl_nc);
        ck(dnnl_memory_create(&N->out, &omd, eng, y), "output memory");
        mem_keep(N, N->out);
      }
      cur = fc(N, &cur, o->cout, d + o->w, o->b >= 0 ? d + o->b : NULL, o->act,
               last ? N->out : NULL, li);
    }
  }
  if (!pooled || !N->out) peer_die(PEER, "layer list has no gap or does not end with fc", NULL);
  slots_bind(N);
  layers_free(tmp, L->n_floats);
}

static void net_free(net *N) {
  for (int i = 0; i < N->n; i++) dnnl_primitive_destroy(N->st[i].prim);
  for (int i = 0; i < N->n_mems; i++) dnnl_memory_destroy(N->mems[i]);
  for (int k = 0; k < SLOTS; k++) free(N->slot_buf[k]);
  free(N->slot_mem);
  free(N->slot_of);
  free(N->st);
  free(N->mems);
  free(N->layers);
}

static void run(void *p) {
  net *N = p;
  for (int i = 0; i < N->n; i++)
    ck(dnnl_primitive_execute(N->st[i].prim, strm, N->st[i].nargs, N->st[i].args), "execute");
  ck(dnnl_stream_wait(strm), "wait");
}

/* --per-layer: a->runs more runs with a clock read after every primitive; per layer the
 * median over runs of the sum of its primitives. */
static void per_layer(const peer_args *a, net *N) {
  int R = a->runs;
  double *t = calloc((size_t)R * (size_t)N->n_layers, sizeof(double)), *tot = calloc((size_t)R, 8);
  if (!t || !tot) peer_die(PEER, "out of memory", NULL);
  for (int r = 0; r < R; r++) {
    double t0 = peer_now_us(), last = t0;
    for (int i = 0; i < N->n; i++) {
      ck(dnnl_primitive_execute(N->st[i].prim, strm, N->st[i].nargs, N->st[i].args), "execute");
      ck(dnnl_stream_wait(strm), "wait");
      double now = peer_now_us();
      t[(size_t)N->st[i].layer * (size_t)R + (size_t)r] += now - last;
      last = now;
    }
    tot[r] = last - t0;
  }
  for (int l = 0; l < N->n_layers; l++) N->layers[l].us = peer_median(t + (size_t)l * (size_t)R, R);
  peer_print_layers(PEER, a, N->layers, N->n_layers, peer_median(tot, R));
  free(t);
  free(tot);
}

/* Looks omp_set_num_threads up in the process: the OpenMP runtime libdnnl brought in. */
static void set_threads(int n) {
  void (*set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
  if (!set) peer_die(PEER, "omp_set_num_threads not found (oneDNN without OpenMP?)", NULL);
  set(n);
}

/* Several comma-separated layer lists: all built and kept resident (what a oneDNN user who
 * switches among them pays in memory), each one's creation time. */
static int resident(const peer_args *a) {
  char *list = strdup(a->model), *save = NULL;
  net nets[64];
  float *y[64], *xs[64];
  int n = 0;
  long rss0 = peer_rss_kb();
  printf("{\"peer\":\"" PEER "\",\"mode\":\"resident\",\"create_ms\":[");
  for (char *p = strtok_r(list, ",", &save); p && n < 64; p = strtok_r(NULL, ",", &save)) {
    layers L;
    if (layers_load(p, &L)) return 1;
    y[n] = calloc((size_t)L.classes + 16, sizeof(float));
    xs[n] = calloc((size_t)L.r * (size_t)L.r * 3 + 16, sizeof(float)); /* each net's own r */
    double t0 = peer_now_us();
    net_build(&nets[n], &L, xs[n], y[n]);
    printf("%s%.2f", n ? "," : "", (peer_now_us() - t0) / 1e3);
    layers_free_data(&L);
    free(L.ops);
    run(&nets[n]); /* activations touched, as a resident network that has run once */
    n++;
  }
  printf("],\"n\":%d,\"rss_kb_before\":%ld,\"rss_kb_after\":%ld,\"hwm_kb\":%ld}\n", n, rss0,
         peer_rss_kb(), peer_hwm_kb());
  for (int i = 0; i < n; i++) net_free(&nets[i]), free(y[i]), free(xs[i]);
  free(list);
  return 0;
}

int main(int argc, char **argv) {
  peer_args a;
  peer_parse(PEER, argc, argv, &a);
  const char *lay = getenv("DYNRT_PEER_ONEDNN_LAYOUT");
  if (lay && strcmp(lay, "any") && strcmp(lay, "nhwc"))
    peer_die(PEER, "DYNRT_PEER_ONEDNN_LAYOUT must be any or nhwc", lay);
  layout_any = !lay || !strcmp(lay, "any");
  set_threads(a.threads);
  ck(dnnl_engine_create(&eng, dnnl_cpu, 0), "engine");
  ck(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags), "stream");
  if (strchr(a.model, ',')) return resident(&a);
  size_t n;
  float *x = peer_read_f32(PEER, a.input, &n);
  layers L;
  peer_mark_base(); /* before the layer list: its data is freed once the network is built */
  if (layers_load(a.model, &L)) return 1;
  if (n != (size_t)L.r * (size_t)L.r * 3) peer_die(PEER, "input size is not r*r*3", a.input);
  float *y = calloc((size_t)L.classes + 16, sizeof(float));
  net N;
  double t0 = peer_now_us();
  net_build(&N, &L, x, y);
  double create_ms = (peer_now_us() - t0) / 1e3;
  layers_free_data(&L); /* the net owns reordered copies of every weight */
  run(&N);
  peer_write_f32(PEER, a.out, y, (size_t)L.classes);
  if (a.per_layer) per_layer(&a, &N);
  peer_time(PEER, &a, run, &N, create_ms);
  net_free(&N);
  dnnl_stream_destroy(strm);
  dnnl_engine_destroy(eng);
  free(L.ops);
  free(y);
  free(x);
  return 0;
}

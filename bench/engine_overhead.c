/* engine_overhead.c - the cost of being dynamic: a sub-network run from the shared
 * super-network weights against the same sub-network exported as a stand-alone static
 * dynrt model (sliced here in C: an architecture whose largest sub-network is exactly it,
 * with its weights cut out of the super-network file and its smaller depthwise kernels taken
 * from the super-network's precomputed ones). Both must give the same logits; their run
 * times are measured interleaved in one process and compared by medians.
 * usage: bench_engine_overhead MODEL.safetensors [runs] [threads]
 * The sub-networks are uniform in k and e (the static format has one choice of each).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine/engine_int.h"

typedef struct buf {
  unsigned char *p;
  size_t n, cap;
} bytes_buf;

static void put(bytes_buf *b, const void *src, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}

typedef struct builder {
  dynrt__st_file f; /* the super-network file, raw tensors */
  cJSON *header;
  bytes_buf data;
} builder;

/* Adds tensor `name` of shape [rows, cols (, k, k)]: the prefix [:rows, :cols] of `src`
 * whose rows hold cols_max (x k x k) floats; cols_max 0 means a vector [rows]. */
static void add(builder *b, const char *name, const float *src, int64_t rows, int64_t rows_max,
                int64_t cols, int64_t cols_max, int ndim_sp, int64_t k) {
  int64_t sp = ndim_sp ? k * k : 1;
  size_t begin = b->data.n;
  if (!cols_max) /* a vector [rows] */
    put(&b->data, src, (size_t)rows * sizeof(float));
  else
    for (int64_t r = 0; r < rows; r++)
      put(&b->data, src + (size_t)(r * cols_max * sp), (size_t)(cols * sp) * sizeof(float));
  (void)rows_max;
  cJSON *t = cJSON_CreateObject();
  cJSON_AddStringToObject(t, "dtype", "F32");
  cJSON *shape = cJSON_AddArrayToObject(t, "shape");
  cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)rows));
  if (cols_max) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)cols));
  if (ndim_sp) {
    cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)k));
    cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)k));
  }
  cJSON *offs = cJSON_AddArrayToObject(t, "data_offsets");
  cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)begin));
  cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)b->data.n));
  cJSON_AddItemToObject(b->header, name, t);
}

static const float *raw(builder *b, const char *name) {
  dynrt__tensor *t = dynrt__st_find(&b->f, name);
  if (!t || ((uintptr_t)t->data & 3)) {
    fprintf(stderr, "tensor %s missing or unaligned\n", name);
    exit(1);
  }
  return (const float *)(const void *)t->data;
}

static void add_bn(builder *b, const char *prefix, int c) {
  static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
  for (int i = 0; i < 4; i++) {
    char n[128];
    snprintf(n, sizeof n, "%s.%s", prefix, parts[i]);
    add(b, n, raw(b, n), c, c, 1, 0, 0, 0);
  }
}

/* 1x1 conv weight [rows, cols, 1, 1] sliced from [rows_max, cols_max, 1, 1]. */
static void add_1x1(builder *b, const char *name, int rows, int cols, int cols_max) {
  add(b, name, raw(b, name), rows, 0, cols, cols_max, 1, 1);
}

/* The static model of canonical config c (uniform k and e over active blocks). */
static dynrt_model *make_static(const char *path, const dynrt_model *dyn, const dynrt_subnet *c) {
  const dynrt__arch *a = &dyn->arch;
  builder B;
  memset(&B, 0, sizeof B);
  builder *b = &B;
  dynrt_err e;
  if (dynrt__st_open(&b->f, path, &e)) {
    fprintf(stderr, "%s\n", e.msg);
    exit(1);
  }
  dynrt__subnet_ix x;
  if (dynrt__subnet_resolve(a, c, NULL, &x, &e)) exit(1);
  int k = x.k[0];
  double ev = x.e[0];
  cJSON *arch = cJSON_Parse(b->f.arch_json);
  int c0 = dynrt__active_width(a, a->stem_out, x.w), c1 = dynrt__active_width(a, a->first_out, x.w);
  int fe = dynrt__active_width(a, a->final_expand, x.w);
  int fm = dynrt__active_width(a, a->feature_mix, x.w);
  char name[64];
  snprintf(name, sizeof name, "static-%016llx", (unsigned long long)dynrt_subnet_id(dyn, c));
  cJSON_ReplaceItemInObject(arch, "name", cJSON_CreateString(name));
  cJSON *in = cJSON_GetObjectItem(arch, "input");
  int res[1] = {x.r};
  cJSON_ReplaceItemInObject(in, "resolutions", cJSON_CreateIntArray(res, 1));
  int ks[1] = {k};
  cJSON_ReplaceItemInObject(arch, "kernel_sizes", cJSON_CreateIntArray(ks, 1));
  double es[1] = {ev}, ws[1] = {1.0};
  cJSON_ReplaceItemInObject(arch, "expand_ratios", cJSON_CreateDoubleArray(es, 1));
  cJSON_ReplaceItemInObject(arch, "width_mults", cJSON_CreateDoubleArray(ws, 1));
  cJSON_ReplaceItemInObject(arch, "kernel_transform", cJSON_CreateFalse());
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(arch, "stem"), "out", cJSON_CreateNumber(c0));
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(arch, "first_block"), "out",
                            cJSON_CreateNumber(c1));
  cJSON *head = cJSON_GetObjectItem(arch, "head");
  cJSON_ReplaceItemInObject(head, "final_expand", cJSON_CreateNumber(fe));
  cJSON_ReplaceItemInObject(head, "feature_mix", cJSON_CreateNumber(fm));
  cJSON *stages = cJSON_GetObjectItem(arch, "stages");
  for (int s = 0; s < a->n_stages; s++) {
    cJSON *st = cJSON_GetArrayItem(stages, s);
    cJSON_ReplaceItemInObject(st, "width",
                              cJSON_CreateNumber(dynrt__active_width(a, a->stages[s].width, x.w)));
    int d[1] = {x.d[s]};
    cJSON_ReplaceItemInObject(st, "depths", cJSON_CreateIntArray(d, 1));
  }
  b->header = cJSON_CreateObject();
  cJSON *meta = cJSON_AddObjectToObject(b->header, "__metadata__");
  cJSON_AddStringToObject(meta, "dynrt.format", "1");
  char *arch_text = cJSON_PrintUnformatted(arch);
  cJSON_AddStringToObject(meta, "dynrt.arch", arch_text);
  cJSON_free(arch_text);
  cJSON_Delete(arch);

  int sk = a->stem_kernel, fk = a->first_kernel;
  add(b, "stem.conv.weight", raw(b, "stem.conv.weight"), c0, 0, 3, 3, 1, sk);
  add_bn(b, "stem.bn", c0);
  add(b, "first.dw.weight", raw(b, "first.dw.weight"), c0, 0, 1, 1, 1, fk);
  add_bn(b, "first.dw_bn", c0);
  add_1x1(b, "first.proj.weight", c1, c0, a->stem_out);
  add_bn(b, "first.proj_bn", c1);
  int cin = c1, js = 0;
  float *dw = malloc(sizeof(float) * 49 * 4096);
  for (int s = 0; s < a->n_stages; s++) {
    int cout = dynrt__active_width(a, a->stages[s].width, x.w);
    for (int i = 0; i < x.d[s]; i++, js++) {
      int j = a->stages[s].first_block + i;
      const dynrt__block *bl = &a->blocks[j];
      int mid = dynrt__mid_channels(a, cin, ev);
      char p[32], q[32], n2[96];
      snprintf(p, sizeof p, "blocks.%d", j);
      snprintf(q, sizeof q, "blocks.%d", js);
#define NM(dst, pre, suf) snprintf(dst, sizeof dst, "%s.%s", pre, suf)
      char src[96];
      NM(src, p, "expand.weight");
      NM(n2, q, "expand.weight");
      add(b, n2, raw(b, src), mid, 0, cin, bl->cin_max, 1, 1);
      static const char *const bns[3] = {"expand_bn", "dw_bn", "proj_bn"};
      for (int t = 0; t < 3; t++) {
        static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
        for (int u = 0; u < 4; u++) {
          char sn[160], dn[160];
          snprintf(sn, sizeof sn, "%s.%s.%s", p, bns[t], parts[u]);
          snprintf(dn, sizeof dn, "%s.%s.%s", q, bns[t], parts[u]);
          add(b, dn, raw(b, sn), t == 2 ? cout : mid, 0, 1, 0, 0, 0);
        }
      }
      /* the super-network's precomputed k x k kernel, back to [mid][1][k][k] */
      const dynrt__block_w *bw = &dyn->blocks[j];
      for (int ch = 0; ch < mid; ch++)
        for (int tp = 0; tp < k * k; tp++)
          dw[(size_t)ch * (size_t)(k * k) + (size_t)tp] =
              bw->dw[k][(size_t)tp * bw->dw_cs + (size_t)ch];
      NM(n2, q, "dw.weight");
      add(b, n2, dw, mid, 0, 1, 1, 1, k);
      if (bl->se) {
        int se = dynrt__se_channels(a, mid);
        NM(src, p, "se.reduce.weight");
        NM(n2, q, "se.reduce.weight");
        add(b, n2, raw(b, src), se, 0, mid, bl->mid_max, 1, 1);
        NM(src, p, "se.reduce.bias");
        NM(n2, q, "se.reduce.bias");
        add(b, n2, raw(b, src), se, 0, 1, 0, 0, 0);
        NM(src, p, "se.expand.weight");
        NM(n2, q, "se.expand.weight");
        add(b, n2, raw(b, src), mid, 0, se, bl->se_max, 1, 1);
        NM(src, p, "se.expand.bias");
        NM(n2, q, "se.expand.bias");
        add(b, n2, raw(b, src), mid, 0, 1, 0, 0, 0);
      }
      NM(src, p, "proj.weight");
      NM(n2, q, "proj.weight");
      add(b, n2, raw(b, src), cout, 0, mid, bl->mid_max, 1, 1);
#undef NM
      cin = cout;
    }
  }
  free(dw);
  int last = a->stages[a->n_stages - 1].width;
  add_1x1(b, "head.expand.weight", fe, cin, last);
  add_bn(b, "head.expand_bn", fe);
  add_1x1(b, "head.mix.weight", fm, fe, a->final_expand);
  add(b, "head.classifier.weight", raw(b, "head.classifier.weight"), a->num_classes, 0, fm,
      a->feature_mix, 0, 0);
  add(b, "head.classifier.bias", raw(b, "head.classifier.bias"), a->num_classes, 0, 1, 0, 0, 0);
  char *text = cJSON_PrintUnformatted(b->header);
  size_t hl = strlen(text), pad = (8 - hl % 8) % 8;
  bytes_buf file = {0};
  uint64_t hlen = hl + pad;
  unsigned char le[8];
  for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hlen >> (8 * i));
  put(&file, le, 8);
  put(&file, text, hl);
  put(&file, "        ", pad);
  put(&file, b->data.p, b->data.n);
  dynrt_model *m;
  dynrt_error err;
  if (dynrt_model_load_memory(file.p, file.n, name, &m, &err)) {
    fprintf(stderr, "static model: %s\n", err.msg);
    exit(1);
  }
  cJSON_free(text);
  cJSON_Delete(b->header);
  free(b->data.p);
  free(file.p);
  dynrt__st_close(&b->f);
  return m;
}

static int cmp_u64(const void *p, const void *q) {
  uint64_t x = *(const uint64_t *)p, y = *(const uint64_t *)q;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.safetensors [runs] [threads]\n", argv[0]);
    return 1;
  }
  int runs = argc > 2 ? atoi(argv[2]) : 30, threads = argc > 3 ? atoi(argv[3]) : 1;
  dynrt_model *dyn;
  dynrt_error err;
  if (dynrt_model_load(argv[1], &dyn, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  const dynrt__arch *a = &dyn->arch;
  /* uniform sub-networks: largest, middle, smallest choices */
  int picks[3][3] = {{a->n_ks - 1, a->n_es - 1, 2}, {a->n_ks / 2, a->n_es / 2, 1}, {0, 0, 0}};
  dynrt_session_options o = {NULL, threads, threads};
  printf("dynamic (shared super-network weights) vs static (stand-alone sliced model), "
         "%d interleaved runs, %d thread(s), kernels %s\n",
         runs, threads, dynrt__kernels()->name);
  for (int pi = 0; pi < 3; pi++) {
    dynrt_subnet c;
    dynrt_subnet_largest(dyn, &c);
    int ri = picks[pi][2] == 2 ? a->n_res - 1 : picks[pi][2] == 1 ? a->n_res / 2 : 0;
    c.r = a->res[ri];
    for (int s = 0; s < a->n_stages; s++) {
      const dynrt__stage *sg = &a->stages[s];
      c.d[s] = (uint8_t)sg->depths[picks[pi][2] == 2   ? sg->n_depths - 1
                                   : picks[pi][2] == 1 ? sg->n_depths / 2
                                                       : 0];
    }
    for (int j = 0; j < a->n_blocks; j++) {
      c.k[j] = (uint8_t)a->ks[picks[pi][0]];
      c.e[j] = (float)a->es[picks[pi][1]];
    }
    dynrt_subnet_canonicalize(dyn, &c, NULL);
    dynrt_model *st = make_static(argv[1], dyn, &c);
    dynrt_subnet cs;
    dynrt_subnet_largest(st, &cs);
    dynrt_session *sd, *ss;
    if (dynrt_session_create(dyn, &o, &sd, &err) || dynrt_session_create(st, &o, &ss, &err)) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    dynrt_session_set_subnet(sd, &c, NULL);
    int r = c.r;
    float *in = malloc(sizeof(float) * (size_t)(r * r * 3));
    for (int i = 0; i < r * r * 3; i++) in[i] = sinf(0.37f * (float)i);
    dynrt_session_run_tensor(sd, in, r);
    dynrt_session_run_tensor(ss, in, r);
    size_t nc;
    const float *ld = dynrt_session_logits(sd, &nc), *ls = dynrt_session_logits(ss, NULL);
    double maxd = 0, maxv = 1e-12;
    for (size_t i = 0; i < nc; i++) {
      maxd = fmax(maxd, fabs((double)ld[i] - ls[i]));
      maxv = fmax(maxv, fabs((double)ls[i]));
    }
    uint64_t *td = malloc(sizeof(uint64_t) * (size_t)runs),
             *ts = malloc(sizeof(uint64_t) * (size_t)runs);
    for (int i = 0; i < runs; i++) {
      /* alternate the order so that neither always runs with the other's cache state */
      for (int w = 0; w < 2; w++) {
        int dyn_first = (i & 1) == w;
        dynrt_session *x = dyn_first ? sd : ss;
        uint64_t t0 = dynrt_now_ns();
        dynrt_session_run_tensor(x, in, r);
        (dyn_first ? td : ts)[i] = dynrt_now_ns() - t0;
      }
    }
    qsort(td, (size_t)runs, sizeof *td, cmp_u64);
    qsort(ts, (size_t)runs, sizeof *ts, cmp_u64);
    char buf[DYNRT_SUBNET_STR_MAX];
    dynrt_subnet_format(dyn, &c, buf, sizeof buf, NULL);
    dynrt_model_info si;
    dynrt_model_get_info(st, &si);
    printf("%s\n  %.1f MMACs; static packed %.2f MiB; logits max rel diff %.2g\n"
           "  dynamic median %.3f ms (min %.3f), static median %.3f ms (min %.3f): "
           "dynamic/static = %.3f (medians), %.3f (minima)\n",
           buf, dynrt_subnet_macs(dyn, &c) / 1e6, si.packed_bytes / 1048576.0, maxd / maxv,
           td[runs / 2] / 1e6, td[0] / 1e6, ts[runs / 2] / 1e6, ts[0] / 1e6,
           (double)td[runs / 2] / (double)ts[runs / 2], (double)td[0] / (double)ts[0]);
    free(td);
    free(ts);
    free(in);
    dynrt_session_destroy(sd);
    dynrt_session_destroy(ss);
    dynrt_model_destroy(st);
  }
  dynrt_model_destroy(dyn);
  return 0;
}

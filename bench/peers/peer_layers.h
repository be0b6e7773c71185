/*
 * peer_layers.h - reader of the flat layer list that python/export_onnx.py --layers writes
 * (format in that file's docstring): the static, BN-folded sub-network for the C peers.
 */
#ifndef DYNRT_PEER_LAYERS_H
#define DYNRT_PEER_LAYERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { OP_CONV, OP_SE, OP_SAVE, OP_ADD, OP_GAP, OP_FC };
enum { ACT_NONE, ACT_RELU, ACT_RELU6, ACT_HSWISH };

typedef struct layer_op {
  int kind, cin, cout, k, stride, groups, act, h; /* conv; fc uses cin, cout, act */
  long w, b, w2, b2;                              /* float offsets into layers.data; b -1: none */
} layer_op;

typedef struct layers {
  int r, classes, n;
  layer_op *ops;
  float *data; /* n_floats + slack, from layers_alloc: layers_free_data() gives it back */
  long n_floats;
} layers;

/* Zeroed float buffers for the weights and their transformed copies, mapped directly so that
 * freeing them returns the pages to the system at once (a large malloc'd block may stay in
 * the heap): the peers free them once the runtime holds its own packed weights, and their
 * resident-set figures must not include the harness's copies. */
static inline float *layers_alloc(long n_floats) {
  size_t bytes = (size_t)(n_floats + 64) * sizeof(float);
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static inline void layers_free(float *p, long n_floats) {
  if (p) munmap(p, (size_t)(n_floats + 64) * sizeof(float));
}

static inline void layers_free_data(layers *L) {
  layers_free(L->data, L->n_floats);
  L->data = NULL;
}

static int layers_act(const char *s) {
  if (!strcmp(s, "relu")) return ACT_RELU;
  if (!strcmp(s, "relu6")) return ACT_RELU6;
  if (!strcmp(s, "hswish")) return ACT_HSWISH;
  return ACT_NONE;
}

/* 0 on success; a message on stderr otherwise. */
static int layers_load(const char *path, layers *L) {
  FILE *f = fopen(path, "rb");
  char line[512], act[32];
  int ver;
  if (!f) return fprintf(stderr, "%s: cannot open\n", path), -1;
  if (!fgets(line, sizeof line, f) ||
      sscanf(line, "dynrt-layers %d %d %d %d %ld", &ver, &L->r, &L->classes, &L->n, &L->n_floats) !=
          5 ||
      ver != 1 || L->n < 1 || L->n_floats < 1)
    return fprintf(stderr, "%s: bad header\n", path), fclose(f), -1;
  L->ops = calloc((size_t)L->n, sizeof *L->ops);
  for (int i = 0; i < L->n; i++) {
    layer_op *o = &L->ops[i];
    if (!fgets(line, sizeof line, f))
      return fprintf(stderr, "%s: truncated\n", path), fclose(f), -1;
    if (sscanf(line, "conv %d %d %d %d %d %31s %d %ld %ld", &o->cin, &o->cout, &o->k, &o->stride,
               &o->groups, act, &o->h, &o->w, &o->b) == 9)
      o->kind = OP_CONV, o->act = layers_act(act);
    else if (sscanf(line, "se %d %d %ld %ld %ld %ld", &o->cin, &o->cout, &o->w, &o->b, &o->w2,
                    &o->b2) == 6)
      o->kind = OP_SE;
    else if (sscanf(line, "fc %d %d %31s %ld %ld", &o->cin, &o->cout, act, &o->w, &o->b) == 5)
      o->kind = OP_FC, o->act = layers_act(act);
    else if (!strncmp(line, "save", 4))
      o->kind = OP_SAVE;
    else if (!strncmp(line, "add", 3))
      o->kind = OP_ADD;
    else if (!strncmp(line, "gap", 3))
      o->kind = OP_GAP;
    else
      return fprintf(stderr, "%s: bad op line '%s'\n", path, line), fclose(f), -1;
  }
  if (!fgets(line, sizeof line, f) || strncmp(line, "end", 3))
    return fprintf(stderr, "%s: no end line\n", path), fclose(f), -1;
  L->data = layers_alloc(L->n_floats);
  if (!L->data || fread(L->data, sizeof(float), (size_t)L->n_floats, f) != (size_t)L->n_floats)
    return fprintf(stderr, "%s: short data\n", path), fclose(f), -1;
  fclose(f);
  return 0;
}

#endif /* DYNRT_PEER_LAYERS_H */

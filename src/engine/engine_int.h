/*
 * engine_int.h - private to src/engine/ (and tests): the parsed model file, the
 * architecture with its derived sizes, the packed model and sub-network helpers.
 * Nothing here is part of the public API.
 */
#ifndef DYNRT_ENGINE_INT_H
#define DYNRT_ENGINE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "dynrt/engine.h"
#include "kernels/kernels.h"

/* ---- safetensors (safetensors.c) ---- */

/* Loader limits of docs/formats.md §1. */
#define DYNRT__HEADER_MAX (16u << 20)
#define DYNRT__JSON_DEPTH_MAX 32
#define DYNRT__TENSORS_MAX 4096
#define DYNRT__DIM_MAX (1u << 20)
#define DYNRT__TENSOR_BYTES_MAX (1ull << 31)

typedef struct dynrt__tensor {
  char *name;
  int ndim;
  int64_t shape[8];
  uint64_t begin, end; /* relative to the data section */
  const unsigned char *data;
  int used; /* claimed by the architecture's tensor table */
} dynrt__tensor;

typedef struct dynrt__st_file {
  const char *path; /* for messages; not owned */
  const unsigned char *map;
  size_t size;
  int mapped; /* map came from mmap (else caller memory) */
  size_t n_tensors;
  dynrt__tensor *tensors; /* sorted by name */
  char *arch_json;        /* metadata dynrt.arch, owned */
} dynrt__st_file;

/* Opens (mmap) or wraps memory, parses and validates the header. On error the file is
 * closed and err says why. */
dynrt_status dynrt__st_open(dynrt__st_file *f, const char *path, dynrt_err *err);
dynrt_status dynrt__st_open_memory(dynrt__st_file *f, const void *data, size_t size,
                                   const char *name, dynrt_err *err);
void dynrt__st_close(dynrt__st_file *f);
/* Finds a tensor by name (binary search), NULL if absent. */
dynrt__tensor *dynrt__st_find(const dynrt__st_file *f, const char *name);
/* Checks the JSON nesting depth of text[0..len) without recursion (strings skipped). */
int dynrt__json_depth_ok(const char *text, size_t len, int max_depth);

/* ---- architecture (arch.c) ---- */

typedef struct dynrt__block {
  int stage, index; /* index within the stage */
  int cin_max, cout_max, stride;
  dynrt_act act;
  int se;
  int mid_max, se_max;
  int residual; /* decided on the file widths, as OFA */
} dynrt__block;

typedef struct dynrt__stage {
  int width, stride, se, n_depths, dmax, dmin;
  int depths[DYNRT_MAX_CHOICES]; /* ascending */
  dynrt_act act;
  int first_block; /* global index of the stage's first block */
} dynrt__stage;

typedef struct dynrt__arch {
  char name[128];
  int num_classes;
  char **class_names; /* [num_classes] or NULL, owned */
  int n_res;
  int res[DYNRT_MAX_RESOLUTIONS]; /* ascending */
  double resize_ratio;
  float mean[3], std[3];
  double bn_eps;
  int divisor, se_reduction;
  int stem_out, stem_kernel, stem_stride;
  dynrt_act stem_act;
  int first_out, first_kernel, first_stride;
  dynrt_act first_act;
  int first_residual;
  int n_stages;
  dynrt__stage stages[DYNRT_MAX_STAGES];
  int n_ks, ks[3]; /* ascending, subset of {3,5,7} */
  int n_es;
  double es[DYNRT_MAX_CHOICES]; /* ascending */
  int n_ws;
  double ws[DYNRT_MAX_CHOICES]; /* ascending */
  int kernel_transform;
  int final_expand, feature_mix;
  dynrt_act head_act;
  /* derived */
  int n_blocks, kmax;
  dynrt__block blocks[DYNRT_MAX_BLOCKS];
} dynrt__arch;

/* Parses and validates the architecture JSON; `where` prefixes messages (file name). */
dynrt_status dynrt__arch_parse(dynrt__arch *a, const char *json, size_t len, const char *where,
                               dynrt_err *err);
void dynrt__arch_free(dynrt__arch *a);
int dynrt__make_divisible(double v, int divisor);
/* Active width of a layer with file width c under multiplier w. */
int dynrt__active_width(const dynrt__arch *a, int c, double w);
int dynrt__mid_channels(const dynrt__arch *a, int cin, double e);
int dynrt__se_channels(const dynrt__arch *a, int mid);
const char *dynrt__act_name(dynrt_act act);
/* Output size of a k x k convolution with pad k/2. */
static inline int dynrt__conv_out(int size, int k, int stride) {
  return (size + 2 * (k / 2) - k) / stride + 1;
}

/* ---- sub-networks (subnet.c) ---- */

/* A validated config as indices into the architecture's choice lists. */
typedef struct dynrt__subnet_ix {
  int r, wi;
  double w;
  int d[DYNRT_MAX_STAGES];
  int k[DYNRT_MAX_BLOCKS];
  double e[DYNRT_MAX_BLOCKS];
} dynrt__subnet_ix;

/* Validates cfg, canonicalises it into *canon (may alias cfg) and resolves it. */
dynrt_status dynrt__subnet_resolve(const dynrt__arch *a, const dynrt_subnet *cfg,
                                   dynrt_subnet *canon, dynrt__subnet_ix *ix, dynrt_err *err);
uint64_t dynrt__fnv1a64(const char *s, size_t n);

/* ---- input (preprocess.c) ---- */

/* Resize/crop/normalise rgb (HWC, row_stride bytes) into dst: pixel (y, x) channel c at
 * dst[y*rs + x*3 + c], r x r. */
void dynrt__preprocess_rgb(const dynrt__arch *a, int r, const uint8_t *rgb, int width, int height,
                           size_t row_stride, float *dst, size_t rs);

/* ---- packed model (model.c) ---- */

/* Packed 1x1 / FC layer: w [ceil(nmax/16)][kmax][16]. */
typedef struct dynrt__gemm_w {
  const float *w;
  size_t panel_stride;
  int nmax, kmax;
} dynrt__gemm_w;

/* BN layer ids: stem 0, first dw 1, first proj 2, block j: 3+3j (expand), 4+3j (dw),
 * 5+3j (proj), head expand 3+3*n_blocks. */
#define DYNRT__BN_STEM 0
#define DYNRT__BN_FIRST_DW 1
#define DYNRT__BN_FIRST_PROJ 2
#define DYNRT__BN_BLOCK(j, i) (3 + 3 * (j) + (i))
#define DYNRT__BN_MAX (4 + 3 * DYNRT_MAX_BLOCKS)

typedef struct dynrt__bn_default {
  const float *scale, *shift; /* running statistics folded with gamma/beta, [cmax] */
  const float *gamma, *beta, *mean, *var;
  int cmax;
} dynrt__bn_default;

typedef struct dynrt__block_w {
  dynrt__gemm_w expand, proj, se_reduce, se_expand;
  const float *se_reduce_bias, *se_expand_bias;
  const float *dw[8]; /* by kernel size: dw[k] for k in {3,5,7}, [k*k][dw_cs] */
  size_t dw_cs;
} dynrt__block_w;

struct dynrt_model {
  char *path;
  dynrt__arch arch;
  float *blob; /* every packed weight and table, one allocation */
  size_t blob_floats;
  size_t packed_bytes, largest_packed_bytes, table_bytes, file_bytes;
  const float *stem_w; /* conv packed [ceil(out/16)][k*k][3][16] */
  size_t stem_panel_stride;
  const float *first_dw; /* [k*k][first_dw_cs] */
  size_t first_dw_cs;
  dynrt__gemm_w first_proj;
  dynrt__block_w blocks[DYNRT_MAX_BLOCKS];
  dynrt__gemm_w head_expand, head_mix, classifier;
  const float *classifier_bias;
  dynrt__bn_default bn[DYNRT__BN_MAX];
  int n_bn;
  double n_subnets;
  float es_f[DYNRT_MAX_CHOICES], ws_f[DYNRT_MAX_CHOICES]; /* for dynrt_model_info */
};

struct dynrt_bn_table {
  const dynrt_model *model;
  dynrt_subnet cfg; /* canonical */
  int n_layers;
  int layer_id[DYNRT__BN_MAX];  /* BN layer id of each active layer */
  size_t offset[DYNRT__BN_MAX]; /* into scale/shift */
  float *scale, *shift;         /* [total] each */
};

/* BN layers run by a resolved sub-network: ids and active channels, in execution order. */
int dynrt__bn_active(const dynrt_model *m, const dynrt__subnet_ix *ix, int *ids, int *channels);

/* ---- one kernel call split over a pool (tiles.c; bench/kernels.c times the same tiles) ---- */

/* GEMM tiles: i = pixels (flat) or image rows (row mode, rows of rw pixels), j = 16-wide
 * weight panels (DYNRT_NR). Big M splits i (weights stay in cache per tile; flat tiles are
 * multiples of 8 pixels); small M is weight-bound and splits j, each thread streaming its
 * share (single panels), unless the panels split less evenly than the pixels (80 columns
 * over 2 threads: 48 + 32; 64 pixels: 32 + 32). */
void dynrt__split_gemm(int threads, size_t ni, size_t nj, size_t pixels, int flat, size_t *ti,
                       size_t *tj);
/* Depthwise tiles: i = output rows, j = 16-channel groups; channels when SE sums are
 * accumulated (per channel) or there are fewer rows than threads, rows otherwise. */
void dynrt__split_dw(int threads, size_t oh, size_t groups, int se_sums, size_t *ti, size_t *tj);
/* One tile of a flat GEMM: pixels i0..i1 of g, panels j0..j1. */
void dynrt__gemm_tile(const dynrt_kernels *kern, const dynrt_gemm_args *g, size_t i0, size_t i1,
                      size_t j0, size_t j1);
/* One tile of a depthwise call: output rows i0..i1 of d, channel groups j0..j1. */
void dynrt__dw_tile(const dynrt_kernels *kern, const dynrt_dw_args *d, size_t i0, size_t i1,
                    size_t j0, size_t j1);

#endif /* DYNRT_ENGINE_INT_H */

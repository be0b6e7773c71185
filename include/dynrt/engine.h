/*
 * dynrt/engine.h - the dynamic super-network engine: load one model file holding an
 * Once-for-All MobileNetV3 super-network, describe and pick sub-networks, and run them.
 *
 * Objects and ownership
 *   dynrt_model     the packed super-network. Immutable after dynrt_model_load(); every
 *                   function taking a const dynrt_model * may be called from any number of
 *                   threads at once. It must outlive every session and BN table made from it.
 *   dynrt_bn_table  per-sub-network BatchNorm scale/shift (e.g. recalibrated statistics).
 *                   Immutable, shareable across sessions and threads; owns a copy of its data.
 *                   It must outlive every session whose current sub-network uses it.
 *   dynrt_session   one inference stream: an arena planned once for the largest sub-network
 *                   at the largest resolution, the active sub-network and a thread pool.
 *                   Not thread-safe: one thread at a time per session. Many sessions may
 *                   share one model.
 *   dynrt_subnet    a plain value (no pointers): copy it, store it, compare canonical ones
 *                   with dynrt_subnet_equal().
 *
 * Switching sub-networks (dynrt_session_set_subnet) allocates nothing and copies no weight:
 * every sub-network reads prefixes of the one packed weight set.
 *
 * Errors: fallible calls return dynrt_status. Calls on the shared model or on values take a
 * dynrt_error * (may be NULL) that receives the detailed message, so that threads sharing a
 * model never race on a message; sessions keep their last message (dynrt_session_errmsg).
 * Messages name the file, the tensor or field, and the bad value.
 */
#ifndef DYNRT_ENGINE_H
#define DYNRT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "dynrt/common.h"
#include "dynrt/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of the architecture family (checked by the loader). */
#define DYNRT_MAX_STAGES 8
#define DYNRT_MAX_BLOCKS 64
#define DYNRT_MAX_CHOICES 8
#define DYNRT_MAX_RESOLUTIONS 64
/* Bytes enough for any canonical sub-network string, with its terminating NUL. */
#define DYNRT_SUBNET_STR_MAX 1024
#define DYNRT_ERROR_MAX 512

/* Detailed error of a call on a shared object or a value. */
typedef struct dynrt_error {
  dynrt_status status;
  char msg[DYNRT_ERROR_MAX];
} dynrt_error;

typedef struct dynrt_model dynrt_model;
typedef struct dynrt_session dynrt_session;
typedef struct dynrt_bn_table dynrt_bn_table;

/*
 * One sub-network (docs/formats.md §2). Entries past n_stages / n_blocks are zero in a
 * canonical config. k[] and e[] cover all blocks, including those beyond a stage's active
 * depth (canonical form: the largest choice there).
 */
typedef struct dynrt_subnet {
  int r;   /* input resolution */
  float w; /* width multiplier */
  uint8_t n_stages, n_blocks;
  uint8_t d[DYNRT_MAX_STAGES];
  uint8_t k[DYNRT_MAX_BLOCKS];
  float e[DYNRT_MAX_BLOCKS];
} dynrt_subnet;

/* ------------------------------------------------------------------------------------ */
/* Model                                                                                 */

/*
 * Loads, validates and packs a model file (docs/formats.md §1). The file is mapped only
 * during the call; the model keeps nothing of it. On failure *out is NULL and err (if not
 * NULL) says what is wrong: DYNRT_ERR_IO (cannot open/map), DYNRT_ERR_FORMAT (malformed
 * file or architecture), DYNRT_ERR_UNSUPPORTED (valid but outside dynrt's limits),
 * DYNRT_ERR_NOMEM.
 */
DYNRT_API dynrt_status dynrt_model_load(const char *path, dynrt_model **out, dynrt_error *err);
/* Same from memory (data need only live during the call); name appears in messages.
 * Both may run in several threads at once (each load is independent; cJSON, used for the
 * header, resets a process-wide error record on every parse, which is harmless). */
DYNRT_API dynrt_status dynrt_model_load_memory(const void *data, size_t size, const char *name,
                                               dynrt_model **out, dynrt_error *err);
/* NULL is a no-op. No session or BN table of the model may be in use. */
DYNRT_API void dynrt_model_destroy(dynrt_model *model);

typedef struct dynrt_stage_info {
  int width, stride, se, n_depths;
  int depths[DYNRT_MAX_CHOICES];
  const char *act;
} dynrt_stage_info;

/* Description of a loaded model; pointers stay valid as long as the model. */
typedef struct dynrt_model_info {
  const char *name, *family;
  int num_classes;
  int n_stages, n_blocks;
  dynrt_stage_info stages[DYNRT_MAX_STAGES];
  int n_resolutions;
  const int *resolutions; /* ascending */
  int n_kernel_sizes;
  const int *kernel_sizes; /* ascending */
  int n_expand_ratios;
  const float *expand_ratios; /* ascending */
  int n_width_mults;
  const float *width_mults; /* ascending */
  int kernel_transform;
  double resize_ratio;
  float mean[3], std[3];
  double n_subnets;            /* distinct canonical sub-networks (may exceed 2^64) */
  size_t packed_bytes;         /* the one packed weight set, all kernel sizes */
  size_t largest_packed_bytes; /* packed weights the largest sub-network reads */
  size_t table_bytes;          /* default BN scale/shift, biases, BN gamma/beta */
  size_t file_bytes;
} dynrt_model_info;
DYNRT_API void dynrt_model_get_info(const dynrt_model *model, dynrt_model_info *out);
/* Class name i (from the file, or "class_<i>"), NULL if i is out of range. */
DYNRT_API const char *dynrt_model_class_name(const dynrt_model *model, int i);

/* ------------------------------------------------------------------------------------ */
/* Sub-network configurations (pure functions of the model's architecture; thread-safe)  */

/* Parses "r=.. w=.. d=.. k=.. e=.." (fields in any order, all required) and stores the
 * canonical config. DYNRT_ERR_FORMAT with a message naming the field and value. */
DYNRT_API dynrt_status dynrt_subnet_parse(const dynrt_model *model, const char *str,
                                          dynrt_subnet *out, dynrt_error *err);
/* Checks every field against the architecture and canonicalises *cfg in place. */
DYNRT_API dynrt_status dynrt_subnet_canonicalize(const dynrt_model *model, dynrt_subnet *cfg,
                                                 dynrt_error *err);
/* Canonical string into buf (size >= DYNRT_SUBNET_STR_MAX always suffices). */
DYNRT_API dynrt_status dynrt_subnet_format(const dynrt_model *model, const dynrt_subnet *cfg,
                                           char *buf, size_t size, dynrt_error *err);
/* FNV-1a 64 of the canonical string; 0 if cfg is not valid for the model. */
DYNRT_API uint64_t dynrt_subnet_id(const dynrt_model *model, const dynrt_subnet *cfg);
/* Nonzero when both are valid and canonically equal. */
DYNRT_API int dynrt_subnet_equal(const dynrt_model *model, const dynrt_subnet *a,
                                 const dynrt_subnet *b);
/* Multiply-accumulates of one inference (convolutions, SE, head); 0 if cfg is invalid. */
DYNRT_API uint64_t dynrt_subnet_macs(const dynrt_model *model, const dynrt_subnet *cfg);
/* Parameters of the stand-alone sub-network: conv/linear weights and biases, BN gamma and
 * beta of the active channels, the active kernel size only; 0 if cfg is invalid. */
DYNRT_API uint64_t dynrt_subnet_params(const dynrt_model *model, const dynrt_subnet *cfg);
DYNRT_API void dynrt_subnet_largest(const dynrt_model *model, dynrt_subnet *out);
DYNRT_API void dynrt_subnet_smallest(const dynrt_model *model, dynrt_subnet *out);
/* Uniform choice per field (r, w, each depth, each k and e), canonicalised. *rng is the
 * caller's state (any seed); the sequence depends only on the seed. */
DYNRT_API void dynrt_subnet_sample(const dynrt_model *model, uint64_t *rng, dynrt_subnet *out);
/* Enumeration of all distinct canonical sub-networks: start from dynrt_subnet_smallest(),
 * call until it returns 0 (then *cfg is back at the first). cfg must be canonical. */
DYNRT_API int dynrt_subnet_next(const dynrt_model *model, dynrt_subnet *cfg);

/* ------------------------------------------------------------------------------------ */
/* Per-sub-network BatchNorm tables                                                      */

/*
 * The BN layers a sub-network runs, in execution order: stem.bn, first.dw_bn,
 * first.proj_bn, then per active block expand_bn, dw_bn, proj_bn, then head.expand_bn.
 * Writes up to cap active channel counts into channels (may be NULL), sets *n_layers and
 * *total (sum of channels). Tables below take arrays of *total floats in that order.
 */
DYNRT_API dynrt_status dynrt_bn_layout(const dynrt_model *model, const dynrt_subnet *cfg,
                                       size_t *channels, size_t cap, size_t *n_layers,
                                       size_t *total, dynrt_error *err);
/* y = x*scale + shift per channel. Copies the arrays. */
DYNRT_API dynrt_status dynrt_bn_table_create(const dynrt_model *model, const dynrt_subnet *cfg,
                                             const float *scale, const float *shift,
                                             dynrt_bn_table **out, dynrt_error *err);
/* From running statistics, with the file's gamma, beta and bn_eps:
 * scale = gamma/sqrt(var+eps), shift = beta - mean*scale. var must be >= 0. */
DYNRT_API dynrt_status dynrt_bn_table_from_stats(const dynrt_model *model, const dynrt_subnet *cfg,
                                                 const float *mean, const float *var,
                                                 dynrt_bn_table **out, dynrt_error *err);
/* The config the table belongs to. */
DYNRT_API const dynrt_subnet *dynrt_bn_table_subnet(const dynrt_bn_table *table);
DYNRT_API void dynrt_bn_table_destroy(dynrt_bn_table *table);

/* ------------------------------------------------------------------------------------ */
/* Sessions                                                                              */

typedef struct dynrt_session_options {
  /* Borrowed pool (the caller owns it, sizes it and sets its cores; it must outlive the
   * session and must not run other jobs during dynrt_session_run_*). NULL: the session
   * creates and owns a pool of max_threads threads. */
  dynrt_pool *pool;
  int max_threads; /* own pool only; 0 = 1 */
  int threads;     /* own pool only: threads used at first; 0 = max_threads */
} dynrt_session_options;

/*
 * Creates a session with its arena planned for the largest sub-network at the largest
 * resolution (the only allocation it ever makes besides its own pool); the active
 * sub-network starts as the largest with the file's BN statistics. opts may be NULL (own
 * pool, one thread). Decision: a session owns its pool unless one is lent, so a runtime
 * manager can give each application its own cores and thread count; a lent pool lets several
 * sessions of one application share threads (one session runs at a time on it).
 */
DYNRT_API dynrt_status dynrt_session_create(const dynrt_model *model,
                                            const dynrt_session_options *opts, dynrt_session **out,
                                            dynrt_error *err);
/* NULL is a no-op. Joins the session's own pool. */
DYNRT_API void dynrt_session_destroy(dynrt_session *session);

/*
 * Makes cfg the active sub-network: O(number of blocks), no allocation, no weight copy.
 * bn NULL uses the super-network's BN statistics; otherwise bn must have been made for a
 * config canonically equal to cfg (DYNRT_ERR_INVALID_ARG otherwise). cfg need not be
 * canonical. On error the previous sub-network stays active.
 */
DYNRT_API dynrt_status dynrt_session_set_subnet(dynrt_session *session, const dynrt_subnet *cfg,
                                                const dynrt_bn_table *bn);
/* The active canonical config. */
DYNRT_API void dynrt_session_get_subnet(const dynrt_session *session, dynrt_subnet *out);

/* Own pool only (DYNRT_ERR_STATE with a borrowed one): use n threads from the next
 * inference, thread i on cpus[i] (cpus may be NULL: unpinned). No thread is created.
 * DYNRT_ERR_INVALID_ARG if n is not in 1..max_threads; a core that cannot be used gives the
 * pool's status and message, and the thread count still changes (see dynrt/pool.h). */
DYNRT_API dynrt_status dynrt_session_set_threads(dynrt_session *session, int n, const int *cpus);
DYNRT_API int dynrt_session_threads(const dynrt_session *session);

/*
 * Runs the active sub-network on an 8-bit RGB image (HWC, row_stride bytes per row,
 * any size >= 1x1): resize (bilinear, half-pixel centres, no antialiasing) so that the
 * shorter side is ceil(r / resize_ratio), centre crop r x r, scale to [0,1], normalise
 * (docs/formats.md §1.5). resize_ratio 1 resizes straight to r x r. DYNRT_ERR_INVALID_ARG for
 * a NULL image, a size below 1 or a row stride below width * 3.
 */
DYNRT_API dynrt_status dynrt_session_run_image(dynrt_session *session, const uint8_t *rgb,
                                               int width, int height, size_t row_stride);
/* Runs on an already preprocessed float NHWC tensor [r][r][3] (r = active resolution;
 * DYNRT_ERR_INVALID_ARG otherwise). Neither run allocates. The first run after a change of
 * resolution, or of a spatial level's width, re-zeroes the borders of the affected buffers. */
DYNRT_API dynrt_status dynrt_session_run_tensor(dynrt_session *session, const float *nhwc, int r);
/* Logits of the last run ([num_classes], owned by the session, valid until the next run or
 * destroy); NULL before the first run. */
DYNRT_API const float *dynrt_session_logits(const dynrt_session *session, size_t *n);
/* Softmax of the last logits into probs[num_classes] (n >= num_classes). DYNRT_ERR_STATE
 * before the first run. */
DYNRT_API dynrt_status dynrt_session_probs(const dynrt_session *session, float *probs, size_t n);
/* The k most probable classes (1 <= k <= min(num_classes, 64)), descending, with their
 * probabilities (prob may be NULL). DYNRT_ERR_STATE before the first run. */
DYNRT_API dynrt_status dynrt_session_topk(const dynrt_session *session, size_t k, int *classes,
                                          float *prob);

typedef struct dynrt_session_stats {
  uint64_t runs, switches;
  /* Bytes the last switch wrote into the session's layer plan (pointers and sizes; no
   * weight or BN value is ever copied by a switch). */
  uint64_t switch_plan_bytes;
  size_t arena_bytes; /* activation memory planned at creation */
} dynrt_session_stats;
DYNRT_API void dynrt_session_get_stats(const dynrt_session *session, dynrt_session_stats *out);
DYNRT_API const char *dynrt_session_errmsg(const dynrt_session *session);

/* ------------------------------------------------------------------------------------ */
/* Per-layer profile (opt-in)                                                            */

typedef enum dynrt_layer_kind {
  DYNRT_LAYER_INPUT,     /* the input copied (run_tensor) or preprocessed (run_image) */
  DYNRT_LAYER_CONV,      /* dense k x k convolution: the stem */
  DYNRT_LAYER_DEPTHWISE, /* depthwise k x k convolution */
  DYNRT_LAYER_POINTWISE, /* 1x1 convolution: expand, project (+ shortcut), head expand */
  DYNRT_LAYER_SE,        /* squeeze-excite: mean of the depthwise sums, reduce, expand */
  DYNRT_LAYER_POOL,      /* global average pooling of the head */
  DYNRT_LAYER_FC         /* feature mix, classifier */
} dynrt_layer_kind;

/* One executed layer of a profiled run, in execution order. */
typedef struct dynrt_layer_time {
  char name[32]; /* "stem", "first.dw", "first.proj", "blocks.<j>.expand" / ".dw" / ".se" /
                    ".proj", "head.expand", "head.pool", "head.mix", "head.classifier", "input" */
  dynrt_layer_kind kind;
  int block;     /* architecture block index for blocks.<j>.*, -1 otherwise */
  int cin, cout; /* channels in and out (SE: the block's mid and SE channels) */
  int k, stride; /* kernel size and stride (1 for 1x1, SE, pooling and FC) */
  int h_out;     /* output height = width (1 for SE, pooling and FC) */
  uint64_t macs; /* as dynrt_subnet_macs counts them: they sum to it */
  uint64_t ns;   /* wall time of the layer, on the calling thread (a layer spread over
                    the pool ends when its last task has joined) */
} dynrt_layer_time;

/*
 * Turns per-layer timing of the session's runs on (on != 0) or off. Off (the default) costs
 * one branch per layer. Turning it on the first time allocates the session's profile table
 * (DYNRT_ERR_NOMEM if it cannot); runs never allocate. Results are bit-identical either way.
 */
DYNRT_API dynrt_status dynrt_session_set_profiling(dynrt_session *session, int on);
/*
 * The layers of the last run made with profiling on: copies min(cap, *n_layers) entries into
 * out (may be NULL when cap is 0), sets *n_layers to the number of layers it ran and, if
 * total_ns is not NULL, *total_ns to the time of the whole run call. The entries' ns sum to
 * at most *total_ns (the rest is clock reads and argument checks). DYNRT_ERR_STATE if no run
 * has been profiled since profiling was last turned on; DYNRT_ERR_INVALID_ARG for NULL
 * session or n_layers.
 */
DYNRT_API dynrt_status dynrt_session_get_layer_times(const dynrt_session *session,
                                                     dynrt_layer_time *out, size_t cap,
                                                     size_t *n_layers, uint64_t *total_ns);

#ifdef __cplusplus
}
#endif
#endif /* DYNRT_ENGINE_H */

/*
 * dynrt/offline.h - the offline stage that turns a trained super-network into operating
 * points: labelled image data sets, BatchNorm recalibration per sub-network, accuracy
 * evaluation, latency profiling with a per-block latency table, and NSGA-II search.
 * The `dynrt calibrate | eval | profile | search` commands are thin shells over this.
 *
 * Objects and ownership
 *   dynrt_dataset   labelled 8-bit RGB images held in memory (a CIFAR-10 binary file read
 *                   by the library, or images the caller decoded and added). Immutable
 *                   after it is filled; any number of threads may read it.
 *   dynrt_bn_file   a set of per-sub-network BN tables (the sidecar `MODEL.bn.safetensors`,
 *                   docs/formats.md "BN tables"). Owns its tables; must outlive every
 *                   session using one of them; the model must outlive it.
 *
 * Errors: fallible calls return dynrt_status and fill a dynrt_error (may be NULL) whose
 * message names the file, the record or field and the bad value.
 */
#ifndef DYNRT_OFFLINE_H
#define DYNRT_OFFLINE_H

#include <stddef.h>
#include <stdint.h>

#include "dynrt/common.h"
#include "dynrt/engine.h"
#include "dynrt/oplib.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------ */
/* Data sets                                                                             */

typedef struct dynrt_dataset dynrt_dataset;

/* One image: HWC RGB, row stride width*3; pointer owned by the data set. */
typedef struct dynrt_image {
  const uint8_t *rgb;
  int width, height;
  int label;
} dynrt_image;

/* Resolves a data set name to a file: "cifar10-train|val|test" -> $DYNRT_DATA/cifar10/
 * NAME.bin ($DYNRT_DATA may itself end in "cifar10"), else data/cifar10/NAME.bin under the
 * working directory, else under $DYNRT_SOURCE_DIR. Any other string is returned as is (a
 * path). DYNRT_ERR_NOT_FOUND names every place tried. */
DYNRT_API dynrt_status dynrt_dataset_resolve(const char *name, char *path, size_t size,
                                             dynrt_error *err);

/* Reads records [first, first + count) of a classic CIFAR-10 binary file (1 label byte +
 * 3072 bytes planar R, G, B, 32x32); count 0 = to the end. The file size must be a multiple
 * of 3073 and every label in 0..num_classes-1 (num_classes 0 = 10). */
DYNRT_API dynrt_status dynrt_dataset_open_cifar(const char *path, size_t first, size_t count,
                                                int num_classes, dynrt_dataset **out,
                                                dynrt_error *err);
/* n deterministic synthetic side x side images (a hash of seed, index, pixel and channel
 * blended with a smooth ramp) with labels i*3+1 mod num_classes: for tests and smoke runs
 * only - accuracy on them means nothing. */
DYNRT_API dynrt_status dynrt_dataset_synthetic(size_t n, int side, int num_classes, uint64_t seed,
                                               dynrt_dataset **out, dynrt_error *err);
/* An empty in-memory data set for up to cap images (image folders decoded by the caller). */
DYNRT_API dynrt_status dynrt_dataset_create(size_t cap, const char *name, dynrt_dataset **out,
                                            dynrt_error *err);
/* Appends a copy of one image (row_stride bytes per row). */
DYNRT_API dynrt_status dynrt_dataset_add(dynrt_dataset *ds, const uint8_t *rgb, int width,
                                         int height, size_t row_stride, int label,
                                         dynrt_error *err);
DYNRT_API void dynrt_dataset_destroy(dynrt_dataset *ds);
DYNRT_API size_t dynrt_dataset_count(const dynrt_dataset *ds);
DYNRT_API const char *dynrt_dataset_name(const dynrt_dataset *ds);
/* Image i (i < count). */
DYNRT_API void dynrt_dataset_get(const dynrt_dataset *ds, size_t i, dynrt_image *out);

/* The engine's input pipeline as a function (dynrt_session_run_image's resize, crop and
 * normalisation): writes the [r][r][3] float NHWC tensor of one image. */
DYNRT_API void dynrt_preprocess(const dynrt_model *model, int r, const dynrt_image *img,
                                float *nhwc);

/* ------------------------------------------------------------------------------------ */
/* BatchNorm recalibration                                                               */

/* Progress callback: done of total units; return nonzero to cancel (DYNRT_ERR_STATE). */
typedef int (*dynrt_progress_fn)(void *user, size_t done, size_t total);

typedef struct dynrt_calib_options {
  size_t first, count; /* images [first, first + count) of the data set; count 0 = all */
  size_t batch;        /* images per statistics batch; 0 = 250 (python/train.py) */
  dynrt_progress_fn progress;
  void *user;
} dynrt_calib_options;

/*
 * Recomputes the BN statistics of one sub-network as Once-for-All's set_running_statistics
 * and dynrt_ref's DynamicMBV3.calibrate_bn do: the sub-network runs forward in training
 * mode (every BN layer normalises with the mean and biased variance of its input over the
 * batch: images x pixels), and each layer's statistics are the plain average over batches
 * of the batch mean and of the unbiased batch variance (PyTorch's running_var update).
 * mean and var receive the active channels of every BN layer in dynrt_bn_layout() order.
 * Single-threaded; uses the model's packed weights and the process's kernels.
 */
DYNRT_API dynrt_status dynrt_calibrate_stats(const dynrt_model *model, const dynrt_subnet *cfg,
                                             const dynrt_dataset *ds,
                                             const dynrt_calib_options *opts, float *mean,
                                             float *var, dynrt_error *err);
/* The same, folded into a table (scale = gamma/sqrt(var+eps), shift = beta - mean*scale). */
DYNRT_API dynrt_status dynrt_calibrate(const dynrt_model *model, const dynrt_subnet *cfg,
                                       const dynrt_dataset *ds, const dynrt_calib_options *opts,
                                       dynrt_bn_table **out, dynrt_error *err);

/* ---- BN table files (docs/formats.md "BN tables") ---- */

typedef struct dynrt_bn_file dynrt_bn_file;

/* An empty set for a model; calibration_note (may be NULL) is stored in the file. */
DYNRT_API dynrt_status dynrt_bn_file_create(const dynrt_model *model, const char *note,
                                            dynrt_bn_file **out, dynrt_error *err);
/* Loads a sidecar file and checks every table against the model (configs, lengths,
 * finite values). */
DYNRT_API dynrt_status dynrt_bn_file_load(const dynrt_model *model, const char *path,
                                          dynrt_bn_file **out, dynrt_error *err);
/* Takes ownership of table (replaces a table of the same sub-network). images: how many
 * images calibrated it (stored). On failure (DYNRT_ERR_NOMEM) the caller still owns it. */
DYNRT_API dynrt_status dynrt_bn_file_put(dynrt_bn_file *f, dynrt_bn_table *table, uint64_t images,
                                         dynrt_error *err);
/* Writes atomically (temporary file + rename). */
DYNRT_API dynrt_status dynrt_bn_file_save(const dynrt_bn_file *f, const char *path,
                                          dynrt_error *err);
DYNRT_API void dynrt_bn_file_destroy(dynrt_bn_file *f);
DYNRT_API size_t dynrt_bn_file_count(const dynrt_bn_file *f);
DYNRT_API const dynrt_bn_table *dynrt_bn_file_at(const dynrt_bn_file *f, size_t i);
/* The table of a sub-network (canonical comparison), or NULL. */
DYNRT_API const dynrt_bn_table *dynrt_bn_file_find(const dynrt_bn_file *f, const dynrt_subnet *cfg);
/* The key of a table in files and op libraries: 16 hex digits of dynrt_subnet_id. */
DYNRT_API void dynrt_bn_key(const dynrt_model *model, const dynrt_subnet *cfg, char key[17]);

/* ------------------------------------------------------------------------------------ */
/* Accuracy                                                                              */

typedef struct dynrt_eval_result {
  uint64_t images, top1, top5; /* counts of correct answers */
  double seconds;              /* wall time of the evaluation */
} dynrt_eval_result;

/*
 * Top-1 / top-5 of one sub-network (bn NULL: the file's statistics) on images [first,
 * first + count) of ds (count 0 = all): `threads` worker threads, each with its own
 * one-thread session over a contiguous shard. Deterministic counts for any thread count.
 */
DYNRT_API dynrt_status dynrt_evaluate(const dynrt_model *model, const dynrt_subnet *cfg,
                                      const dynrt_bn_table *bn, const dynrt_dataset *ds,
                                      size_t first, size_t count, int threads,
                                      dynrt_eval_result *out, dynrt_error *err);
/*
 * dynrt_evaluate that also keeps every image's logits: logits, owned by the caller, holds
 * count x num_classes floats (count after the same clamping: all images from first when 0),
 * image-major, in data-set order; its contents are unspecified after an error. NULL logits:
 * DYNRT_ERR_INVALID_ARG. For parity checks against another implementation.
 */
DYNRT_API dynrt_status dynrt_evaluate_logits(const dynrt_model *model, const dynrt_subnet *cfg,
                                             const dynrt_bn_table *bn, const dynrt_dataset *ds,
                                             size_t first, size_t count, int threads, float *logits,
                                             dynrt_eval_result *out, dynrt_error *err);

/* ------------------------------------------------------------------------------------ */
/* Latency                                                                               */

typedef struct dynrt_latency {
  int runs;
  double median_ms, p95_ms, mean_ms, min_ms, max_ms;
  double spread; /* (p95 - p5) / median */
} dynrt_latency;

/* Summary of n samples in ns (sorted in place). p-quantiles by nearest rank. */
DYNRT_API void dynrt_latency_summary(uint64_t *ns, int n, dynrt_latency *out);

/* Measures a sub-network on a session (its thread count as set): warmup runs, then runs
 * timed one by one on a fixed synthetic input. */
DYNRT_API dynrt_status dynrt_profile_session(dynrt_session *s, int warmup, int runs,
                                             dynrt_latency *out);

/*
 * Whole-network latency from the block table plus a memory term. The table times each
 * block with its weights warm in the cache; in a whole sub-network whose weights exceed what
 * the cache keeps from one inference to the next, the excess streams from memory:
 *
 *   predicted = a * table + b * max(0, W - C)
 *
 * with W the sub-network's weight bytes and a > 0, b >= 0, C >= 0 fitted (least squares of
 * the relative error) to measured sub-networks. skip in [0, n) leaves that one out of the
 * fit (leave-one-out evaluation), skip < 0 uses all; n - (skip >= 0) must be >= 3, every
 * table and measured time > 0. On a machine whose weights stay in cache b comes out 0 and
 * the fit is a plain scale of the table. *out is zeroed first, also on error.
 */
typedef struct dynrt_latency_fit {
  double a;       /* scale of the table's sum */
  double b;       /* ns per weight byte beyond c */
  double c;       /* weight bytes the cache keeps between inferences */
  double rms_pct; /* rms relative error of the fit over the points it used, % */
} dynrt_latency_fit;

DYNRT_API dynrt_status dynrt_latency_fit_solve(const double *table_ns, const double *bytes,
                                               const double *measured_ns, int n, int skip,
                                               dynrt_latency_fit *out);
/* f must be a fit from dynrt_latency_fit_solve (not NULL). */
DYNRT_API double dynrt_latency_fit_predict(const dynrt_latency_fit *f, double table_ns,
                                           double bytes);

/* The same without warm-up or summary: runs inferences timed one by one into ns[0..runs-1]
 * (ns has room for runs; on an error the entries after the failed run are unset). */
DYNRT_API dynrt_status dynrt_profile_session_raw(dynrt_session *s, int runs, uint64_t *ns);

/*
 * Times n sub-networks on one session in `rounds` interleaved rounds, so that a change of
 * machine load during the measurement falls on all of them alike: each round sets every
 * sub-network in turn, runs it untimed after the switch (`warmup` times in the first round,
 * once in the others), then times its share of `runs` (runs * (r + 1) / rounds - runs * r /
 * rounds in round r) into ns[i][...]; each ns[i] has room for runs. `hook`, when not NULL,
 * is called around every share of at least one run (after = 0 just before the timed runs,
 * after = 1 just after them, with their count), e.g. to read an energy counter. A failed
 * switch or run leaves its reason in the session's error message. 1 <= rounds <= runs,
 * warmup >= 1.
 */
typedef void (*dynrt_round_hook)(void *user, int subnet, int runs, int after);
DYNRT_API dynrt_status dynrt_profile_interleaved(dynrt_session *s, const dynrt_subnet *cfg, int n,
                                                 int rounds, int runs, int warmup,
                                                 uint64_t *const *ns, dynrt_round_hook hook,
                                                 void *user);

/*
 * Per-block latency table: every block configuration (stage position, cin, mid, cout,
 * kernel, stride, SE, activation, input size) a sub-network can contain, timed by running
 * that block alone with the process's kernels (one thread), plus the stem and head per
 * resolution / width. Predicts whole sub-networks by summing entries.
 */
typedef struct dynrt_block_lut dynrt_block_lut;

/* Times every entry reachable by the model's sub-networks (each: warmup, then the median
 * of `runs`). progress may be NULL. */
DYNRT_API dynrt_status dynrt_block_lut_build(const dynrt_model *model, int warmup, int runs,
                                             dynrt_progress_fn progress, void *user,
                                             dynrt_block_lut **out, dynrt_error *err);
/* Reads a table written by dynrt_block_lut_save for the same model (entries matched by
 * their configuration): a search given the same table and seed is deterministic. Every
 * entry the model's sub-networks need must be present. */
DYNRT_API dynrt_status dynrt_block_lut_load(const dynrt_model *model, const char *path,
                                            dynrt_block_lut **out, dynrt_error *err);
DYNRT_API void dynrt_block_lut_destroy(dynrt_block_lut *lut);
/* Predicted one-thread latency of a sub-network in ns (sum of its entries). */
DYNRT_API double dynrt_block_lut_predict(const dynrt_block_lut *lut, const dynrt_subnet *cfg);
DYNRT_API size_t dynrt_block_lut_entries(const dynrt_block_lut *lut);
/* Writes the table as JSON (entries with their configuration and median ns, and the memory
 * term when one is set). */
DYNRT_API dynrt_status dynrt_block_lut_save(const dynrt_block_lut *lut, const char *path,
                                            dynrt_error *err);
/* The table's memory term (dynrt_latency_fit_solve on measured sub-networks; NULL clears
 * it): saved and loaded with the table, so that a search given the table ranks by the same
 * prediction. get returns 1 and fills *out when the table has one, else 0. */
DYNRT_API void dynrt_block_lut_set_fit(dynrt_block_lut *lut, const dynrt_latency_fit *fit);
DYNRT_API int dynrt_block_lut_get_fit(const dynrt_block_lut *lut, dynrt_latency_fit *out);
/* One-thread latency in ns with the memory term when the table has one (a * sum + b *
 * max(0, weight bytes - c)), else the sum of the entries; < 0 on a bad configuration. */
DYNRT_API double dynrt_block_lut_predict_fitted(const dynrt_block_lut *lut,
                                                const dynrt_subnet *cfg);

/*
 * Op library of a simulated board (a preset name or a platforms/NAME.json path, as
 * dynrt_sim_open takes) derived from a host library whose sub-networks carry a work split
 * (one host core):
 * per (domain, OPP, cores) - CPU domains only with cpu_only - latency from
 * dynrt_sim_predict_ns on the work scaled by the domain's capacity and split by its memory
 * fraction, p95 = that x the host's one-core p95/p50, energy from a noise-free simulated
 * run of the inference alone, idle power per OPP above the lowest. Every point modelled.
 */
DYNRT_API dynrt_status dynrt_oplib_derive_board(const char *board, const dynrt_oplib *host,
                                                int cpu_only, dynrt_oplib **out, dynrt_error *err);

/* The same with every option: the one derivation of dynrt (the scenario runner derives the
 * libraries of its simulated boards with it too). */
typedef struct dynrt_derive_opts {
  double work_capacity; /* capacity of the core the work split was measured on; 0 = 1 (host) */
  int cpu_only;         /* only settings of CPU domains */
  int gpu_only;         /* only settings of GPU domains */
} dynrt_derive_opts;
DYNRT_API dynrt_status dynrt_oplib_derive_board_ex(const char *board, const dynrt_oplib *src,
                                                   const dynrt_derive_opts *opts, dynrt_oplib **out,
                                                   dynrt_error *err);

/* ------------------------------------------------------------------------------------ */
/* Multi-objective search (NSGA-II, minimisation of every objective)                     */

#define DYNRT_NSGA_MAX_OBJ 4

/* Non-dominated sorting of n points with m objectives (obj[i*m + j], minimised):
 * rank[i] = 0 for the first front, 1 for the next, ...; crowd[i] = crowding distance
 * within its front (infinite at the extremes). Returns the number of fronts, or -1 when
 * out of memory. */
DYNRT_API int dynrt_nsga_sort(const double *obj, int n, int m, int *rank, double *crowd);

/* Indices of the points not dominated by any other (first front), ascending; returns
 * their count (idx has room for n). */
DYNRT_API int dynrt_pareto_front(const double *obj, int n, int m, int *idx);

/* Evaluates one sub-network: writes m objective values (minimised). Nonzero = failure. */
typedef int (*dynrt_search_eval_fn)(void *user, const dynrt_subnet *cfg, double *obj);

typedef struct dynrt_search_options {
  int population;  /* 0 = 32 */
  int generations; /* 0 = 10 */
  int n_obj;       /* 2..DYNRT_NSGA_MAX_OBJ */
  uint64_t seed;
  double p_mutate;            /* per gene; 0 = 0.1 */
  dynrt_progress_fn progress; /* generations done of total */
  void *user_progress;
} dynrt_search_options;

/*
 * NSGA-II over the model's sub-network space: random initial population (plus the largest
 * and smallest sub-networks), binary tournament on (rank, crowding), uniform crossover per
 * gene (r, w, each depth, each kernel and expand ratio) and per-gene mutation, elitist
 * (mu + lambda) survival. Every distinct sub-network is evaluated once (cache by id).
 * Deterministic for a seed. On success *archive holds every evaluated sub-network and
 * *objs its objectives (n_archive x n_obj); free both with dynrt_search_free().
 */
DYNRT_API dynrt_status dynrt_search_nsga2(const dynrt_model *model,
                                          const dynrt_search_options *opts,
                                          dynrt_search_eval_fn eval, void *user,
                                          dynrt_subnet **archive, double **objs, int *n_archive,
                                          dynrt_error *err);
/* Frees the arrays of dynrt_search_nsga2 (NULL is a no-op). */
DYNRT_API void dynrt_search_free(dynrt_subnet *archive, double *objs);

#ifdef __cplusplus
}
#endif
#endif /* DYNRT_OFFLINE_H */

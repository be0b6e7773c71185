/*
 * offline_int.h - private to src/offline/ (and its tests): helpers shared by the offline
 * modules. Nothing here is part of the public API.
 */
#ifndef DYNRT_OFFLINE_INT_H
#define DYNRT_OFFLINE_INT_H

#include <stdio.h>

#include "dynrt/offline.h"

/* Fills err (may be NULL) with status and a formatted message; returns status. */
dynrt_status dynrt__offline_fail(dynrt_error *err, dynrt_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- from-memory readers (the file readers read the whole file, then call these) ---- */

/* dynrt_bn_file_load on a file's bytes; `path` names it in messages. */
dynrt_status dynrt__bn_file_parse(const dynrt_model *model, const unsigned char *buf, size_t size,
                                  const char *path, dynrt_bn_file **out, dynrt_error *err);
/* dynrt_block_lut_load on a JSON text of len bytes; `path` names it in messages. */
dynrt_status dynrt__block_lut_parse(const dynrt_model *model, const char *text, size_t len,
                                    const char *path, dynrt_block_lut **out, dynrt_error *err);
/* dynrt_dataset_open_cifar on an open stream of `bytes` bytes (read from its position 0);
 * `path` names it in messages and the data set. The stream stays open. */
dynrt_status dynrt__dataset_read_cifar(FILE *f, size_t bytes, const char *path, size_t first,
                                       size_t count, int num_classes, dynrt_dataset **out,
                                       dynrt_error *err);

/* ---- block executor (calib.c): the super-network layer by layer on a batch ---- */

/* One block configuration of the latency table (lut.c) and the executor. */
typedef struct dynrt__blockcfg {
  int j; /* global block index (its weights) */
  int cin, mid, cout, k, stride, se, residual, act;
  int h; /* input size (square) */
} dynrt__blockcfg;

typedef struct dynrt__exec dynrt__exec;

/* An executor for batches of up to `batch` images; stats NULL = inference mode (BN
 * folded from bn/ the file statistics), else training-mode BN whose statistics are
 * accumulated into the exec. */
dynrt_status dynrt__exec_create(const dynrt_model *m, size_t batch, dynrt__exec **out);
void dynrt__exec_destroy(dynrt__exec *x);
/* The active blocks of cfg in order (out has DYNRT_MAX_BLOCKS entries); *h_out, *c_out:
 * size and channels of the head's input. -1 if cfg is invalid. */
int dynrt__subnet_blocks(const dynrt_model *m, const dynrt_subnet *cfg, dynrt__blockcfg *out,
                         int *h_out, int *c_out);
/* Runs one block alone in inference mode with the file's BN on the exec's scratch input
 * (batch 1, contents arbitrary but fixed). */
void dynrt__exec_block(dynrt__exec *x, const dynrt__blockcfg *b);
/* Stem + first block at resolution r and width w (inference mode, batch 1). */
void dynrt__exec_stem(dynrt__exec *x, int r, double w);
/* Head on an h x h input of cin channels, width w (inference mode, batch 1). */
void dynrt__exec_head(dynrt__exec *x, int h, int cin, double w);

#endif /* DYNRT_OFFLINE_INT_H */

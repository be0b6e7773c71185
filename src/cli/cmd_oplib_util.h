/* cmd_oplib_util.h - helpers shared by the offline sub-commands (calibrate, eval, profile,
 * search): data sets by name or image folder, sub-network lists, a terminal progress bar. */
#ifndef DYNRT_CLI_OFFLINE_H
#define DYNRT_CLI_OFFLINE_H

#include <stddef.h>

#include "dynrt/engine.h"
#include "dynrt/offline.h"

/* Opens a data set: "cifar10-train|val|test", a CIFAR-10 .bin path, "synthetic:N[:SEED]"
 * (tests and smoke runs), or a folder holding
 * images and a `labels.txt` ("FILE LABEL" per line, '#' comments), decoded with the CLI's
 * PNG/JPEG code. Images [first, first + count) (count 0 = all). Message in err. */
int cli_open_dataset(const char *spec, int num_classes, size_t first, size_t count,
                     dynrt_dataset **out, char *err, size_t err_size);

/* Parses a sub-network list: a file (one config per line, '#' comments) or a list
 * separated by ';' or newlines of configs or the words "largest", "smallest",
 * "random:N[:SEED]". *out is malloc'ed. */
int cli_parse_subnets(const dynrt_model *m, const char *spec, dynrt_subnet **out, int *n, char *err,
                      size_t err_size);

/* Parses "1,2,4" into up to cap ints; returns the count or -1. */
int cli_parse_ints(const char *s, int *v, int cap);

/* Progress bar on stderr when it is a terminal (user: const char * label). */
int cli_progress(void *user, size_t done, size_t total);

#endif

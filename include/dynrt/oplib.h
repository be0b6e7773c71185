/*
 * dynrt/oplib.h - the operating-point library of a model (`MODEL.oplib.json`): its
 * sub-networks (config, id, MACs, parameters, measured top-1), the hardware settings they
 * were profiled on (domain, frequency, cores), one operating point per (sub-network,
 * setting) with latency and energy/power, and the Pareto set per setting. The offline tools
 * produce it (profile, search); the runtime manager reads it. Format: docs/formats.md,
 * section "Operating-point library".
 *
 * Two ways to obtain a library:
 *   - dynrt_oplib_load / dynrt_oplib_parse: read and validate a file or a JSON text;
 *   - dynrt_oplib_create + dynrt_oplib_add_* + dynrt_oplib_finalize: build one in memory
 *     (the offline tools, tests), then dynrt_oplib_save.
 * Both go through the same validation, so a library that exists in finalized state is
 * always consistent: every index is in range, every accuracy is in [0,1], every latency
 * and energy is positive and finite, ids and configs are unique, and the Pareto set of
 * every setting is exactly the set of sub-networks not dominated in (accuracy up, mean
 * latency down) among those with a point at that setting.
 *
 * Ownership: strings and arrays returned by getters are owned by the library and live
 * until dynrt_oplib_destroy. Thread-safety: a finalized library is immutable; any number
 * of threads may read it concurrently. Building and saving are single-threaded.
 *
 * Errors: load/parse have no object on failure, so they write the message to errbuf
 * ("tiny.oplib.json: points[3].latency_ms.mean = -1 (must be > 0)"). Every other call
 * keeps its last message in the object (dynrt_oplib_errmsg).
 */
#ifndef DYNRT_OPLIB_H
#define DYNRT_OPLIB_H

#include <stdint.h>

#include "dynrt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dynrt_oplib dynrt_oplib;

#define DYNRT_OPLIB_FORMAT "dynrt-oplib"
#define DYNRT_OPLIB_VERSION 1

/* One sub-network. Optional fields: test_top1 < 0, bn_table NULL, compute_ns and
 * memory_ns < 0 mean "absent". */
typedef struct dynrt_oplib_subnet {
  const char *config;   /* canonical sub-network config string (docs/formats.md §2) */
  uint64_t id;          /* stable 64-bit id; 16 hex digits in the file */
  uint64_t macs;        /* multiply-accumulates of one inference */
  uint64_t params;      /* parameters of the sub-network */
  double val_top1;      /* validation top-1 in [0,1] */
  uint64_t val_images;  /* images it was measured on (> 0) */
  double test_top1;     /* test top-1 in [0,1], or < 0 when absent */
  uint64_t test_images; /* 0 when absent */
  const char *bn_table; /* reference to its BN table (sidecar name or key), or NULL */
  double compute_ns;    /* work split for the simulator on the reference core, or < 0 */
  double memory_ns;
} dynrt_oplib_subnet;

/* One hardware setting: a frequency of a domain and a number of cores (0 for a domain
 * without CPU cores, such as a GPU). */
typedef struct dynrt_oplib_setting {
  char domain[32];
  uint32_t khz;
  int cores;
} dynrt_oplib_setting;

/* One operating point. energy_mj and power_w: at least one is present in the file; the
 * loader derives the other (energy = power x mean latency), so both are valid after
 * finalize. */
typedef struct dynrt_oplib_point {
  int subnet;
  int setting;
  double latency_mean_ms;
  double latency_p50_ms;
  double latency_p95_ms;
  double energy_mj; /* energy of one inference, everything the domain draws meanwhile */
  double power_w;   /* average power during the inference */
  int modelled;     /* 1: predicted by a model, not measured */
} dynrt_oplib_point;

/* Idle power of a domain at a frequency: what it draws when no inference runs. Optional;
 * the runtime manager uses it for the idle part of its energy objective. */
typedef struct dynrt_oplib_idle {
  char domain[32];
  uint32_t khz;
  double watts;
} dynrt_oplib_idle;

/* ---- reading ---- */

/* Reads and validates a file. On failure *out is NULL and errbuf (may be NULL) holds a
 * message naming the file, the field and the value. Errors: DYNRT_ERR_INVALID_ARG,
 * DYNRT_ERR_IO, DYNRT_ERR_FORMAT (malformed or inconsistent), DYNRT_ERR_NOMEM. */
DYNRT_API dynrt_status dynrt_oplib_load(const char *path, dynrt_oplib **out, char *errbuf,
                                        size_t errlen);
/* Same from a JSON text of `len` bytes; `name` (may be NULL) prefixes messages. */
DYNRT_API dynrt_status dynrt_oplib_parse(const char *json, size_t len, const char *name,
                                         dynrt_oplib **out, char *errbuf, size_t errlen);
/* NULL is a no-op. */
DYNRT_API void dynrt_oplib_destroy(dynrt_oplib *lib);
/* Message of the last failure on this object; never NULL. */
DYNRT_API const char *dynrt_oplib_errmsg(const dynrt_oplib *lib);

/* ---- building (offline tools, tests) ---- */

/* An empty, unfinalized library. model_file and platform may be NULL (empty). */
DYNRT_API dynrt_status dynrt_oplib_create(const char *model_name, const char *model_file,
                                          const char *platform, dynrt_oplib **out);
/* 64 hex digits, or NULL to clear. */
DYNRT_API dynrt_status dynrt_oplib_set_model_sha256(dynrt_oplib *lib, const char *sha256);
/* Appends a copy (strings are copied); *index (may be NULL) receives its index. */
DYNRT_API dynrt_status dynrt_oplib_add_subnet(dynrt_oplib *lib, const dynrt_oplib_subnet *sn,
                                              int *index);
DYNRT_API dynrt_status dynrt_oplib_add_setting(dynrt_oplib *lib, const dynrt_oplib_setting *s,
                                               int *index);
/* energy_mj or power_w may be <= 0 for "absent" (not both). */
DYNRT_API dynrt_status dynrt_oplib_add_point(dynrt_oplib *lib, const dynrt_oplib_point *pt);
DYNRT_API dynrt_status dynrt_oplib_add_idle(dynrt_oplib *lib, const dynrt_oplib_idle *idle);
/* Validates everything and computes the Pareto sets. After success the library is
 * immutable (add_* return DYNRT_ERR_STATE). */
DYNRT_API dynrt_status dynrt_oplib_finalize(dynrt_oplib *lib);
/* Writes a finalized library as JSON (Pareto sets included). */
DYNRT_API dynrt_status dynrt_oplib_save(const dynrt_oplib *lib, const char *path);

/* ---- queries (finalized library) ---- */

DYNRT_API const char *dynrt_oplib_model_name(const dynrt_oplib *lib);
DYNRT_API const char *dynrt_oplib_model_file(const dynrt_oplib *lib);   /* "" if absent */
DYNRT_API const char *dynrt_oplib_model_sha256(const dynrt_oplib *lib); /* NULL if absent */
DYNRT_API const char *dynrt_oplib_platform(const dynrt_oplib *lib);     /* "" if absent */
DYNRT_API int dynrt_oplib_num_subnets(const dynrt_oplib *lib);
DYNRT_API const dynrt_oplib_subnet *dynrt_oplib_subnet_at(const dynrt_oplib *lib, int i);
/* Index of the sub-network with this id, or -1. */
DYNRT_API int dynrt_oplib_find_subnet(const dynrt_oplib *lib, uint64_t id);
DYNRT_API int dynrt_oplib_num_settings(const dynrt_oplib *lib);
DYNRT_API const dynrt_oplib_setting *dynrt_oplib_setting_at(const dynrt_oplib *lib, int i);
DYNRT_API int dynrt_oplib_num_points(const dynrt_oplib *lib);
DYNRT_API const dynrt_oplib_point *dynrt_oplib_point_at(const dynrt_oplib *lib, int i);
/* The point of (subnet, setting), or NULL when not profiled. O(1). */
DYNRT_API const dynrt_oplib_point *dynrt_oplib_lookup(const dynrt_oplib *lib, int subnet,
                                                      int setting);
/* Pareto set of a setting: sub-network indices by ascending mean latency (and so ascending
 * accuracy). *count receives the length; NULL for a bad setting index. */
DYNRT_API const int *dynrt_oplib_pareto(const dynrt_oplib *lib, int setting, int *count);
DYNRT_API int dynrt_oplib_num_idle(const dynrt_oplib *lib);
DYNRT_API const dynrt_oplib_idle *dynrt_oplib_idle_at(const dynrt_oplib *lib, int i);
/* Idle power of a domain at khz: the entry at that exact frequency, else linear
 * interpolation between the neighbouring entries (clamped at the ends). Returns 0 and
 * leaves *watts untouched when the library has no entry for the domain, 1 otherwise. */
DYNRT_API int dynrt_oplib_idle_power(const dynrt_oplib *lib, const char *domain, uint32_t khz,
                                     double *watts);

#ifdef __cplusplus
}
#endif
#endif /* DYNRT_OPLIB_H */

/* oplib_int.h - internals of the operating-point library shared by oplib.c (model,
 * validation, queries) and oplib_json.c (JSON reader and writer). */
#ifndef DYNRT_OPLIB_INT_H
#define DYNRT_OPLIB_INT_H

#include "core/core.h"
#include "dynrt/oplib.h"

/* Bounds that keep the lookup table and the messages sane; far above any real library
 * (Dynamic-OFA keeps ~20 sub-networks and a board has a few hundred settings). */
#define OPLIB_MAX_SUBNETS 65536
#define OPLIB_MAX_SETTINGS 65536
#define OPLIB_MAX_LOOKUP (1u << 26)
#define OPLIB_MAX_FILE (256u << 20)
#define OPLIB_MAX_STR 4096

/* energy_mj and power_w x latency may disagree this much (relative) before the file is
 * rejected: power is often averaged over a window slightly longer than one inference. */
#define OPLIB_ENERGY_POWER_TOL 0.25

typedef struct file_pareto {
  int setting;
  int count;
  int *subnets;
  int index; /* position in the file's "pareto" array, for messages */
} file_pareto;

struct dynrt_oplib {
  char *model_name;
  char *model_file;
  char *model_sha256; /* NULL when absent */
  char *platform;
  dynrt_oplib_subnet *subnets;
  int nsubnets, cap_subnets;
  dynrt_oplib_setting *settings;
  int nsettings, cap_settings;
  dynrt_oplib_point *points;
  int npoints, cap_points;
  dynrt_oplib_idle *idle;
  int nidle, cap_idle;
  /* Pareto sets as given in a file (checked by finalize), then freed. */
  file_pareto *fpareto;
  int nfpareto, cap_fpareto;
  int finalized;
  int *lookup;      /* [subnet * nsettings + setting] -> point index or -1 */
  int *pareto;      /* all Pareto lists back to back */
  int *pareto_off;  /* [nsettings + 1] offsets into pareto */
  const char *name; /* file name for messages during load; NULL otherwise */
  dynrt_err err;
};

/* Makes room for element n of *arr (capacity *cap, doubling). */
dynrt_status dynrt__oplib_grow(void **arr, int *cap, int n, size_t elem);
/* The name messages start with: the file being read, else "oplib". */
const char *dynrt__oplib_pfx(const dynrt_oplib *lib);
int dynrt__oplib_is_hex(const char *s, size_t n);

#endif

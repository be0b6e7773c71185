/* cmd_sim.c - `dynrt sim SCENARIO`: runs every policy of a scenario on its simulated board
 * with the same seed, prints the comparison table (titled SIMULATED) and writes per-policy
 * traces and summary.json for `dynrt report`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "scenario/scenario.h"

static int usage(int code) {
  printf("usage: dynrt sim SCENARIO.json [--policy all|NAME[,NAME...]] [--out DIR] [--seed N]\n"
         "                 [--verbose]\n"
         "  runs each policy on the scenario's simulated board (virtual time, same seed for\n"
         "  all), prints the comparison table and writes DIR/summary.json and per-policy\n"
         "  traces (DIR/<policy>.inferences.csv, .periods.csv); default DIR results/<name>.\n"
         "  policies: rtm, rtm:max-accuracy, oracle, dvfs-only, static-max[:GOV],\n"
         "  static-min[:GOV], dynamic-ofa[:GOV] (GOV: schedutil, ondemand, performance,\n"
         "  powersave, conservative); all = ");
  for (const char *const *p = dynrt_scn_all_policies(); *p; p++)
    printf("%s%s", *p, p[1] ? ", " : "\n");
  return code;
}

int dynrt_cmd_sim(int argc, char **argv) {
  const char *path = NULL, *policy = NULL, *out = NULL;
  uint64_t seed = 0;
  int verbose = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(0);
    if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) {
      verbose = 1;
    } else if (!strcmp(argv[i], "--policy") && i + 1 < argc) {
      policy = argv[++i];
    } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
      out = argv[++i];
    } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
      char *end;
      seed = strtoull(argv[++i], &end, 10);
      if (*end || !seed)
        return dynrt_cli_fail("sim", "--seed '%s': expected an integer > 0", argv[i]);
    } else if (argv[i][0] == '-' || path) {
      dynrt_cli_fail("sim", "unexpected argument '%s'", argv[i]);
      return usage(1);
    } else {
      path = argv[i];
    }
  }
  if (!path) return usage(1);
  char err[1024];
  dynrt_scn *scn = NULL;
  if (dynrt_scn_load(path, &scn, err, sizeof err)) return dynrt_cli_fail("sim", "%s", err);
  if (!scn->simulated) {
    dynrt_cli_fail("sim", "%s: platform '%s' is not simulated; use 'dynrt run' for real runs", path,
                   scn->platform);
    dynrt_scn_free(scn);
    return 1;
  }
  if (policy && dynrt_scn_set_policies(scn, policy, err, sizeof err)) {
    dynrt_scn_free(scn);
    return dynrt_cli_fail("sim", "%s", err);
  }
  char dir[DYNRT_SCN_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", out ? out : "results");
  if (!out) {
    size_t n = strlen(dir);
    snprintf(dir + n, sizeof dir - n, "/%s", scn->name);
  }
  int rc = 1;
  dynrt_oplib *libs[DYNRT_SCN_MAX_APPS] = {0};
  dynrt_scn_result *res = calloc((size_t)scn->npolicies, sizeof *res);
  int done = 0;
  if (!res) goto out;
  if (dynrt_scn_mkdirs(dir, err, sizeof err) || dynrt_scn_load_libs(scn, libs, err, sizeof err)) {
    dynrt_cli_fail("sim", "%s", err);
    goto out;
  }
  dynrt_scn_run_opts opts = {.seed = seed, .verbose = verbose};
  for (int i = 0; i < scn->npolicies; i++) {
    fprintf(stderr, "dynrt sim: %s: policy %s (simulated)...\n", scn->name, scn->policies[i]);
    if (dynrt_scn_run_sim(scn, scn->policies[i], libs, &opts, &res[i], err, sizeof err)) {
      dynrt_cli_fail("sim", "%s", err);
      goto out;
    }
    done++;
    if (dynrt_scn_write_traces(&res[i], dir, err, sizeof err)) {
      dynrt_cli_fail("sim", "%s", err);
      goto out;
    }
  }
  if (dynrt_scn_write_summary(scn, res, done, dir, "simulated", err, sizeof err)) {
    dynrt_cli_fail("sim", "%s", err);
    goto out;
  }
  dynrt_scn_print_table(stdout, scn, res, done, NULL);
  printf("traces and summary.json in %s (dynrt report %s -o report.html)\n", dir, dir);
  rc = 0;
out:
  for (int i = 0; res && i < done; i++) dynrt_scn_result_free(&res[i]);
  free(res);
  dynrt_scn_free_libs(libs, scn->napps);
  dynrt_scn_free(scn);
  return rc;
}

/* cmd_run.c - `dynrt run SCENARIO`: the scenario's policies on this machine for real (host
 * platform: real inference threads, real core allocation, a real pinned busy-loop process
 * for each load), the comparison table titled with the machine, and results for
 * `dynrt report`. Energy is labelled modelled when the host has no sensor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "scenario/scenario.h"

static int usage(int code) {
  printf("usage: dynrt run SCENARIO.json [--policy NAME[,NAME...]] [--out DIR] [--duration S]\n"
         "  runs each policy for real on this machine (platform \"host\": no DVFS, real cores,\n"
         "  real inference, a real pinned background process for each load event); writes\n"
         "  DIR/summary.json and traces (default results/<name>); Ctrl-C stops the loads.\n");
  return code;
}

int dynrt_cmd_run(int argc, char **argv) {
  const char *path = NULL, *policy = NULL, *out = NULL;
  double duration = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(0);
    if (!strcmp(argv[i], "--policy") && i + 1 < argc) {
      policy = argv[++i];
    } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
      out = argv[++i];
    } else if (!strcmp(argv[i], "--duration") && i + 1 < argc) {
      char *end;
      duration = strtod(argv[++i], &end);
      if (*end || !(duration > 0 && duration <= 3600))
        return dynrt_cli_fail("run", "--duration '%s': expected seconds in (0, 3600]", argv[i]);
    } else if (argv[i][0] == '-' || path) {
      dynrt_cli_fail("run", "unexpected argument '%s'", argv[i]);
      return usage(1);
    } else {
      path = argv[i];
    }
  }
  if (!path) return usage(1);
  char err[1024], machine[256] = "";
  dynrt_scn *scn = NULL;
  if (dynrt_scn_load(path, &scn, err, sizeof err)) return dynrt_cli_fail("run", "%s", err);
  if (scn->simulated) {
    dynrt_cli_fail("run", "%s: platform '%s' is simulated; use 'dynrt sim'", path, scn->platform);
    dynrt_scn_free(scn);
    return 1;
  }
  if (policy && dynrt_scn_set_policies(scn, policy, err, sizeof err)) {
    dynrt_scn_free(scn);
    return dynrt_cli_fail("run", "%s", err);
  }
  char dir[DYNRT_SCN_PATH_MAX];
  if (out)
    snprintf(dir, sizeof dir, "%s", out);
  else
    snprintf(dir, sizeof dir, "results/%s", scn->name);
  int rc = 1, n = 0;
  dynrt_scn_result *res = calloc((size_t)scn->npolicies, sizeof *res);
  if (!res || dynrt_scn_mkdirs(dir, err, sizeof err)) {
    dynrt_cli_fail("run", "%s", res ? err : "out of memory");
    goto out;
  }
  dynrt_status st =
      dynrt_scn_run_real(scn, duration, res, &n, machine, sizeof machine, err, sizeof err);
  if (st) dynrt_cli_fail("run", "%s", err);
  for (int i = 0; i < n; i++)
    if (dynrt_scn_write_traces(&res[i], dir, err, sizeof err)) {
      dynrt_cli_fail("run", "%s", err);
      goto out;
    }
  if (n) {
    if (dynrt_scn_write_summary(scn, res, n, dir, machine, err, sizeof err)) {
      dynrt_cli_fail("run", "%s", err);
      goto out;
    }
    dynrt_scn_print_table(stdout, scn, res, n, machine);
    printf("traces and summary.json in %s (dynrt report %s -o report.html)\n", dir, dir);
  }
  rc = st ? 1 : 0;
out:
  for (int i = 0; res && i < n; i++) dynrt_scn_result_free(&res[i]);
  free(res);
  dynrt_scn_free(scn);
  return rc;
}

/* cmd_report.c - `dynrt report RESULTS_DIR -o report.html`: one self-contained HTML page with
 * inline SVG plots from the results of `dynrt sim` or `dynrt run`. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "scenario/scenario.h"

int dynrt_cmd_report(int argc, char **argv) {
  const char *dirs[16], *out = NULL;
  int ndirs = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: dynrt report RESULTS_DIR [RESULTS_DIR...] [-o report.html]\n"
             "  writes one self-contained HTML page (inline SVG, no script, no network) from\n"
             "  each RESULTS_DIR/summary.json and its traces (one section per folder);\n"
             "  default: FIRST_DIR/report.html\n");
      return 0;
    }
    if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--out")) && i + 1 < argc)
      out = argv[++i];
    else if (argv[i][0] != '-' && ndirs < 16)
      dirs[ndirs++] = argv[i];
    else
      return dynrt_cli_fail("report", "unexpected argument '%s' (see dynrt report --help)",
                            argv[i]);
  }
  if (!ndirs) return dynrt_cli_fail("report", "missing RESULTS_DIR (see dynrt report --help)");
  char def[1100], err[1024];
  if (!out) {
    snprintf(def, sizeof def, "%s/report.html", dirs[0]);
    out = def;
  }
  if (dynrt_scn_report(dirs, ndirs, out, err, sizeof err))
    return dynrt_cli_fail("report", "%s", err);
  printf("report: %s\n", out);
  return 0;
}

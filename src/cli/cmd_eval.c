/* cmd_eval.c - `dynrt eval`: top-1 / top-5 of sub-networks on a labelled data set, with
 * the file's or recalibrated BN statistics, multi-threaded over image shards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_oplib_util.h"
#include "dynrt/engine.h"
#include "dynrt/offline.h"

static int usage(int code) {
  printf("usage: dynrt eval MODEL.safetensors --data cifar10-test|cifar10-val|PATH\n"
         "                  [--subnet LIST|FILE] [--bn FILE.bn.safetensors] [--threads N]\n"
         "                  [--images N] [--first N] [--json] [--logits FILE]\n"
         "  top-1 / top-5 of each listed sub-network (default: largest). With --bn, each\n"
         "  sub-network uses its table from the file (an error if it has none); without,\n"
         "  the statistics stored in the model file. --logits writes every image's logits,\n"
         "  float32 in host byte order, [sub-network][image][class] in the order given.\n");
  return code;
}

int dynrt_cmd_eval(int argc, char **argv) {
  const char *model = NULL, *data = NULL, *subnets = "largest", *bn = NULL, *logits_path = NULL;
  long threads = 1, images = 0, first = 0;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help")) return usage(0);
    if (!strcmp(argv[i], "--data") && i + 1 < argc)
      data = argv[++i];
    else if ((!strcmp(argv[i], "--subnet") || !strcmp(argv[i], "--subnets")) && i + 1 < argc)
      subnets = argv[++i];
    else if (!strcmp(argv[i], "--bn") && i + 1 < argc)
      bn = argv[++i];
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atol(argv[++i]);
    else if (!strcmp(argv[i], "--images") && i + 1 < argc)
      images = atol(argv[++i]);
    else if (!strcmp(argv[i], "--first") && i + 1 < argc)
      first = atol(argv[++i]);
    else if (!strcmp(argv[i], "--json"))
      json = 1;
    else if (!strcmp(argv[i], "--logits") && i + 1 < argc)
      logits_path = argv[++i];
    else if (argv[i][0] == '-')
      return dynrt_cli_fail("eval", "unknown option '%s'", argv[i]);
    else if (!model)
      model = argv[i];
    else
      return dynrt_cli_fail("eval", "unexpected argument '%s'", argv[i]);
  }
  if (!model || !data) return usage(1);
  if (threads < 1 || threads > 256 || images < 0 || first < 0)
    return dynrt_cli_fail("eval", "bad --threads (1..256), --images or --first");
  dynrt_model *m = NULL;
  dynrt_dataset *ds = NULL;
  dynrt_bn_file *bf = NULL;
  dynrt_subnet *cfg = NULL;
  float *logits = NULL;
  FILE *lf = NULL;
  size_t n_logits = 0;
  int created = 0; /* the logits file was opened (created or truncated) by this run */
  dynrt_error err;
  char msg[1024];
  int n = 0, rc = 1;
  if (dynrt_model_load(model, &m, &err)) {
    dynrt_cli_fail("eval", "%s", err.msg);
    goto done;
  }
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  if (cli_parse_subnets(m, subnets, &cfg, &n, msg, sizeof msg) ||
      cli_open_dataset(data, info.num_classes, (size_t)first, (size_t)images, &ds, msg,
                       sizeof msg)) {
    dynrt_cli_fail("eval", "%s", msg);
    goto done;
  }
  if (bn && dynrt_bn_file_load(m, bn, &bf, &err)) {
    dynrt_cli_fail("eval", "%s", err.msg);
    goto done;
  }
  if (logits_path) {
    n_logits = dynrt_dataset_count(ds) * (size_t)info.num_classes;
    if (!(logits = malloc(n_logits * sizeof *logits))) {
      dynrt_cli_fail("eval", "no memory for %zu logits", n_logits);
      goto done;
    }
    if (!(lf = fopen(logits_path, "wb"))) {
      dynrt_cli_fail("eval", "%s: cannot open for writing", logits_path);
      goto done;
    }
    created = 1;
  }
  if (json) printf("[\n");
  for (int i = 0; i < n; i++) {
    const dynrt_bn_table *t = NULL;
    char cs[DYNRT_SUBNET_STR_MAX];
    dynrt_subnet_format(m, &cfg[i], cs, sizeof cs, NULL);
    if (bf && !(t = dynrt_bn_file_find(bf, &cfg[i]))) {
      dynrt_cli_fail("eval", "%s has no BN table for '%s' (run dynrt calibrate)", bn, cs);
      goto done;
    }
    dynrt_eval_result r;
    if (logits ? dynrt_evaluate_logits(m, &cfg[i], t, ds, 0, 0, (int)threads, logits, &r, &err)
               : dynrt_evaluate(m, &cfg[i], t, ds, 0, 0, (int)threads, &r, &err)) {
      dynrt_cli_fail("eval", "%s", err.msg);
      goto done;
    }
    if (lf && fwrite(logits, sizeof *logits, n_logits, lf) != n_logits) {
      dynrt_cli_fail("eval", "%s: write failed", logits_path);
      goto done;
    }
    double t1 = 100.0 * (double)r.top1 / (double)r.images;
    double t5 = 100.0 * (double)r.top5 / (double)r.images;
    if (json)
      printf("  {\"config\": \"%s\", \"data\": \"%s\", \"first\": %ld, \"images\": %llu, "
             "\"top1\": %llu, \"top5\": %llu, \"top1_pct\": %.4f, \"top5_pct\": %.4f, "
             "\"bn\": \"%s\", \"threads\": %ld, \"seconds\": %.3f}%s\n",
             cs, data, first, (unsigned long long)r.images, (unsigned long long)r.top1,
             (unsigned long long)r.top5, t1, t5, bn ? bn : "model file", threads, r.seconds,
             i + 1 < n ? "," : "");
    else
      printf("%s\n  %s images %ld..%llu: top-1 %.2f%% (%llu/%llu), top-5 %.2f%%, BN %s, "
             "%ld thread(s), %.2f s (%.0f img/s)\n",
             cs, data, first, (unsigned long long)(first + (long)r.images - 1), t1,
             (unsigned long long)r.top1, (unsigned long long)r.images, t5,
             bn ? "recalibrated" : "of the model file", threads, r.seconds,
             (double)r.images / (r.seconds > 0 ? r.seconds : 1e-9));
  }
  if (json) printf("]\n");
  if (lf) {
    int bad = fclose(lf) != 0;
    lf = NULL;
    if (bad) {
      dynrt_cli_fail("eval", "%s: write failed", logits_path);
      goto done;
    }
  }
  rc = 0;
done:
  if (lf) fclose(lf);
  if (rc && created) remove(logits_path); /* no partial file on failure */
  free(logits);
  free(cfg);
  dynrt_bn_file_destroy(bf);
  dynrt_dataset_destroy(ds);
  dynrt_model_destroy(m);
  return rc;
}

/* cmd_calibrate.c - `dynrt calibrate`: recomputes the BatchNorm statistics of each listed
 * sub-network on training images and writes the BN-table sidecar (docs/formats.md
 * "BN tables"). Resumable: sub-networks already in the output file are kept, and the
 * file is rewritten (atomically) after every sub-network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/cmd_oplib_util.h"
#include "dynrt/engine.h"
#include "dynrt/offline.h"

static int usage(int code) {
  printf(
      "usage: dynrt calibrate MODEL.safetensors --subnets LIST|FILE [--data cifar10-train]\n"
      "                       [--images 2000] [--first 0] [--batch 250] [-o OUT.bn.safetensors]\n"
      "  recomputes BN statistics per sub-network (training-mode batch statistics, as\n"
      "  Once-for-All's set_running_statistics) on the first --images images of --data.\n"
      "  LIST: configs, largest, smallest, random:N[:SEED], separated by ';' (or a file,\n"
      "  one per line). Default output: MODEL with .safetensors -> .bn.safetensors.\n"
      "  An existing output is resumed: tables already there are kept (remove the file to\n"
      "  recalibrate them).\n");
  return code;
}

static void default_out(const char *model, char *buf, size_t n) {
  size_t l = strlen(model);
  const char *ext = ".safetensors";
  size_t el = strlen(ext);
  if (l > el && !strcmp(model + l - el, ext))
    snprintf(buf, n, "%.*s.bn.safetensors", (int)(l - el), model);
  else
    snprintf(buf, n, "%s.bn.safetensors", model);
}

int dynrt_cmd_calibrate(int argc, char **argv) {
  const char *model = NULL, *data = "cifar10-train", *subnets = NULL, *out = NULL;
  long images = 2000, first = 0, batch = 250;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help")) return usage(0);
    if (!strcmp(argv[i], "--data") && i + 1 < argc)
      data = argv[++i];
    else if (!strcmp(argv[i], "--subnets") && i + 1 < argc)
      subnets = argv[++i];
    else if (!strcmp(argv[i], "--images") && i + 1 < argc)
      images = atol(argv[++i]);
    else if (!strcmp(argv[i], "--first") && i + 1 < argc)
      first = atol(argv[++i]);
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
      batch = atol(argv[++i]);
    else if (!strcmp(argv[i], "-o") && i + 1 < argc)
      out = argv[++i];
    else if (argv[i][0] == '-')
      return dynrt_cli_fail("calibrate", "unknown option '%s'", argv[i]);
    else if (!model)
      model = argv[i];
    else
      return dynrt_cli_fail("calibrate", "unexpected argument '%s'", argv[i]);
  }
  if (!model || !subnets) return usage(1);
  if (images < 1 || first < 0 || batch < 1)
    return dynrt_cli_fail("calibrate", "--images and --batch must be >= 1, --first >= 0");
  char outbuf[4096], msg[1024];
  if (!out) {
    default_out(model, outbuf, sizeof outbuf);
    out = outbuf;
  }
  dynrt_model *m = NULL;
  dynrt_dataset *ds = NULL;
  dynrt_bn_file *bf = NULL;
  dynrt_subnet *cfg = NULL;
  dynrt_error err;
  int n = 0, rc = 1;
  if (dynrt_model_load(model, &m, &err)) {
    dynrt_cli_fail("calibrate", "%s", err.msg);
    goto done;
  }
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  if (cli_parse_subnets(m, subnets, &cfg, &n, msg, sizeof msg) ||
      cli_open_dataset(data, info.num_classes, (size_t)first, (size_t)images, &ds, msg,
                       sizeof msg)) {
    dynrt_cli_fail("calibrate", "%s", msg);
    goto done;
  }
  size_t nimg = dynrt_dataset_count(ds);
  struct stat sb;
  if (stat(out, &sb) == 0) {
    if (dynrt_bn_file_load(m, out, &bf, &err)) {
      dynrt_cli_fail("calibrate", "cannot resume from %s: %s (remove it to start over)", out,
                     err.msg);
      goto done;
    }
  } else {
    snprintf(msg, sizeof msg,
             "dynrt calibrate --data %s --images %zu --first %ld --batch %ld: training-mode "
             "batch statistics per sub-network",
             data, nimg, first, batch);
    if (dynrt_bn_file_create(m, msg, &bf, &err)) {
      dynrt_cli_fail("calibrate", "%s", err.msg);
      goto done;
    }
  }
  printf("calibrating %d sub-network(s) of %s on %zu images of %s -> %s\n", n, info.name, nimg,
         data, out);
  uint64_t t0 = dynrt_now_ns();
  int done_n = 0, kept = 0;
  for (int i = 0; i < n; i++) {
    char key[17], label[64];
    dynrt_bn_key(m, &cfg[i], key);
    if (dynrt_bn_file_find(bf, &cfg[i])) {
      kept++;
      continue;
    }
    snprintf(label, sizeof label, "%d/%d %s", i + 1, n, key);
    dynrt_calib_options o = {0, 0, (size_t)batch, cli_progress, label};
    dynrt_bn_table *t;
    if (dynrt_calibrate(m, &cfg[i], ds, &o, &t, &err)) {
      dynrt_cli_fail("calibrate", "%s", err.msg);
      goto done;
    }
    if (dynrt_bn_file_put(bf, t, nimg, &err)) {
      dynrt_bn_table_destroy(t); /* not taken on failure */
      dynrt_cli_fail("calibrate", "%s", err.msg);
      goto done;
    }
    if (dynrt_bn_file_save(bf, out, &err)) {
      dynrt_cli_fail("calibrate", "%s", err.msg);
      goto done;
    }
    done_n++;
  }
  printf("calibrated %d, kept %d already in the file; %zu table(s) in %s; %.1f s\n", done_n, kept,
         dynrt_bn_file_count(bf), out, (double)(dynrt_now_ns() - t0) * 1e-9);
  if (done_n == 0 && dynrt_bn_file_save(bf, out, &err)) {
    dynrt_cli_fail("calibrate", "%s", err.msg);
    goto done;
  }
  rc = 0;
done:
  free(cfg);
  dynrt_bn_file_destroy(bf);
  dynrt_dataset_destroy(ds);
  dynrt_model_destroy(m);
  return rc;
}

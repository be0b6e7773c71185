/* cmd_infer.c - `dynrt infer MODEL IMAGE [--subnet S] [--threads N]`: top-5 classes of a
 * PNG or JPEG image with one sub-network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/image.h"
#include "dynrt/engine.h"

static int usage(int code) {
  printf("usage: dynrt infer MODEL.safetensors IMAGE.(png|jpg) [--subnet \"r=.. w=.. d=.. k=.. "
         "e=..\" | --largest | --smallest] [--threads N] [--top K]\n"
         "  classifies the image with the sub-network (default: the largest)\n");
  return code;
}

int dynrt_cmd_infer(int argc, char **argv) {
  const char *model = NULL, *image = NULL, *subnet = NULL;
  int threads = 1, top = 5, smallest = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help")) return usage(0);
    if (!strcmp(argv[i], "--subnet") && i + 1 < argc)
      subnet = argv[++i];
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--top") && i + 1 < argc)
      top = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--largest"))
      smallest = 0;
    else if (!strcmp(argv[i], "--smallest"))
      smallest = 1;
    else if (argv[i][0] == '-')
      return dynrt_cli_fail("infer", "unknown option '%s'", argv[i]);
    else if (!model)
      model = argv[i];
    else if (!image)
      image = argv[i];
    else
      return dynrt_cli_fail("infer", "unexpected argument '%s'", argv[i]);
  }
  if (!model || !image) return usage(1);
  if (threads < 1 || threads > 256) return dynrt_cli_fail("infer", "--threads %d", threads);
  char msg[512];
  cli_image img;
  if (cli_image_read(image, &img, msg, sizeof msg)) return dynrt_cli_fail("infer", "%s", msg);
  dynrt_model *m = NULL;
  dynrt_session *s = NULL;
  dynrt_error err;
  int rc = 1;
  dynrt_subnet cfg;
  if (dynrt_model_load(model, &m, &err)) {
    dynrt_cli_fail("infer", "%s", err.msg);
    goto done;
  }
  if (subnet) {
    if (dynrt_subnet_parse(m, subnet, &cfg, &err)) {
      dynrt_cli_fail("infer", "%s", err.msg);
      goto done;
    }
  } else if (smallest) {
    dynrt_subnet_smallest(m, &cfg);
  } else {
    dynrt_subnet_largest(m, &cfg);
  }
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  if (top < 1 || top > info.num_classes || top > 64)
    top = info.num_classes < 5 ? info.num_classes : 5;
  dynrt_session_options o = {NULL, threads, threads};
  if (dynrt_session_create(m, &o, &s, &err)) {
    dynrt_cli_fail("infer", "%s", err.msg);
    goto done;
  }
  if (dynrt_session_set_subnet(s, &cfg, NULL) ||
      dynrt_session_run_image(s, img.rgb, img.width, img.height, (size_t)img.width * 3)) {
    dynrt_cli_fail("infer", "%s", dynrt_session_errmsg(s));
    goto done;
  }
  int cls[64];
  float prob[64];
  dynrt_session_topk(s, (size_t)top, cls, prob);
  char buf[DYNRT_SUBNET_STR_MAX];
  dynrt_subnet_format(m, &cfg, buf, sizeof buf, NULL);
  printf("image %s (%dx%d), sub-network %s\n", image, img.width, img.height, buf);
  for (int i = 0; i < top; i++)
    printf("%2d. %6.2f%%  %4d  %s\n", i + 1, 100.0 * prob[i], cls[i],
           dynrt_model_class_name(m, cls[i]));
  rc = 0;
done:
  dynrt_session_destroy(s);
  dynrt_model_destroy(m);
  free(img.rgb);
  return rc;
}

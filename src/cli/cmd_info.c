/* cmd_info.c - `dynrt info MODEL`: architecture, number of sub-networks, memory sizes, MACs
 * and parameters of the largest and smallest sub-networks. Reads the model only. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "dynrt/engine.h"

int dynrt_cmd_info(int argc, char **argv) {
  if (argc != 2 || !strcmp(argv[1], "--help")) {
    printf("usage: dynrt info MODEL.safetensors\n"
           "  prints the architecture, the number of sub-networks, packed weight sizes and\n"
           "  the MACs / parameters of the largest and smallest sub-networks\n");
    return argc == 2 ? 0 : 1;
  }
  dynrt_model *m;
  dynrt_error err;
  if (dynrt_model_load(argv[1], &m, &err)) return dynrt_cli_fail("info", "%s", err.msg);
  dynrt_model_info in;
  dynrt_model_get_info(m, &in);
  printf("model:        %s (%s), %d classes\n", in.name, in.family, in.num_classes);
  printf("resolutions:  ");
  for (int i = 0; i < in.n_resolutions; i++) printf("%s%d", i ? "," : "", in.resolutions[i]);
  printf("  (resize ratio %g, mean %g,%g,%g, std %g,%g,%g)\n", in.resize_ratio, in.mean[0],
         in.mean[1], in.mean[2], in.std[0], in.std[1], in.std[2]);
  printf("kernels:      ");
  for (int i = 0; i < in.n_kernel_sizes; i++) printf("%s%d", i ? "," : "", in.kernel_sizes[i]);
  printf("  (smaller kernels by %s)\n",
         in.kernel_transform ? "learned transform matrices" : "centre crop");
  printf("expand:       ");
  for (int i = 0; i < in.n_expand_ratios; i++) printf("%s%g", i ? "," : "", in.expand_ratios[i]);
  printf("\nwidth mults:  ");
  for (int i = 0; i < in.n_width_mults; i++) printf("%s%g", i ? "," : "", in.width_mults[i]);
  printf("\nstages:       %d, %d blocks\n", in.n_stages, in.n_blocks);
  for (int s = 0; s < in.n_stages; s++) {
    const dynrt_stage_info *si = &in.stages[s];
    printf("  stage %d: width %4d stride %d act %-6s se %-3s depths ", s, si->width, si->stride,
           si->act, si->se ? "yes" : "no");
    for (int i = 0; i < si->n_depths; i++) printf("%s%d", i ? "," : "", si->depths[i]);
    printf("\n");
  }
  printf("sub-networks: %.6g\n", in.n_subnets);
  printf("file:         %zu bytes\n", in.file_bytes);
  printf("packed:       %zu bytes (all sub-networks, all kernel sizes)\n", in.packed_bytes);
  printf("largest uses: %zu bytes of packed weights (packed/largest = %.3f)\n",
         in.largest_packed_bytes, (double)in.packed_bytes / (double)in.largest_packed_bytes);
  printf("tables:       %zu bytes (BN scale/shift, gamma/beta, biases)\n", in.table_bytes);
  const char *names[2] = {"largest", "smallest"};
  for (int i = 0; i < 2; i++) {
    dynrt_subnet c;
    if (i == 0)
      dynrt_subnet_largest(m, &c);
    else
      dynrt_subnet_smallest(m, &c);
    char buf[DYNRT_SUBNET_STR_MAX];
    dynrt_subnet_format(m, &c, buf, sizeof buf, NULL);
    printf("%-9s     %.2f MMACs, %.3f M params, id %016llx\n  %s\n", names[i],
           (double)dynrt_subnet_macs(m, &c) / 1e6, (double)dynrt_subnet_params(m, &c) / 1e6,
           (unsigned long long)dynrt_subnet_id(m, &c), buf);
  }
  dynrt_model_destroy(m);
  return 0;
}

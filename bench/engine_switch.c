/* engine_switch.c - benchmark of sub-network switching and model memory:
 *   - time per dynrt_session_set_subnet over random sub-networks (median / p95 of batch
 *     means), with the default BN and with per-sub-network BN tables;
 *   - allocations during switches (dynrt__alloc_count) and plan bytes written per switch;
 *   - resident memory of the loaded model (all sub-networks usable) against the packed
 *     weights the largest sub-network reads.
 * usage: bench_engine_switch MODEL.safetensors [configs] [batches]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "dynrt/engine.h"

#define PER_BATCH 1000

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Resident set size in bytes (from /proc/self/statm), 0 if unavailable. */
static size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;
  if (!f) return 0;
  if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
  fclose(f);
  return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* Switch timing over `configs` sub-networks, with BN tables when bn != NULL. */
static void run(dynrt_session *s, const dynrt_subnet *cfg, dynrt_bn_table *const *bn, int configs,
                int batches, const char *label) {
  uint64_t *t = malloc(sizeof *t * (size_t)batches);
  uint64_t a0 = dynrt__alloc_count(), plan = 0;
  for (int b = 0; b < batches; b++) {
    uint64_t t0 = dynrt_now_ns();
    for (int i = 0; i < PER_BATCH; i++) {
      int k = (b * PER_BATCH + i) % configs;
      if (dynrt_session_set_subnet(s, &cfg[k], bn ? bn[k] : NULL)) {
        fprintf(stderr, "switch: %s\n", dynrt_session_errmsg(s));
        exit(1);
      }
    }
    t[b] = dynrt_now_ns() - t0;
    dynrt_session_stats st;
    dynrt_session_get_stats(s, &st);
    plan += st.switch_plan_bytes;
  }
  uint64_t allocs = dynrt__alloc_count() - a0;
  qsort(t, (size_t)batches, sizeof *t, cmp_u64);
  printf("%-22s median %7.1f ns  p95 %7.1f ns  per switch; allocations %llu; plan bytes/switch "
         "%.0f\n",
         label, (double)t[batches / 2] / PER_BATCH,
         (double)t[(size_t)(batches * 95 / 100)] / PER_BATCH, (unsigned long long)allocs,
         (double)plan / batches);
  free(t);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.safetensors [configs] [batches]\n", argv[0]);
    return 1;
  }
  int configs = argc > 2 ? atoi(argv[2]) : 256, batches = argc > 3 ? atoi(argv[3]) : 200;
  if (configs < 2 || batches < 20) {
    fprintf(stderr, "configs >= 2, batches >= 20\n");
    return 1;
  }
  /* A first load pages in the loader's code and warms the C heap; the RSS growth of the
   * second load is then what the model itself holds. */
  dynrt_model *m;
  dynrt_error err;
  if (dynrt_model_load(argv[1], &m, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  dynrt_model_destroy(m);
  size_t rss0 = rss_bytes();
  if (dynrt_model_load(argv[1], &m, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  size_t rss1 = rss_bytes();
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  printf("model %s: %.4g sub-networks, file %zu bytes\n", info.name, info.n_subnets,
         info.file_bytes);
  printf("memory: model RSS %.2f MiB (all sub-networks usable); packed set %.2f MiB + tables "
         "%.2f MiB;\n        largest sub-network reads %.2f MiB of packed weights; RSS / largest "
         "= %.3f, packed / largest = %.3f\n",
         (rss1 - rss0) / 1048576.0, info.packed_bytes / 1048576.0, info.table_bytes / 1048576.0,
         info.largest_packed_bytes / 1048576.0,
         (double)(rss1 - rss0) / (double)info.largest_packed_bytes,
         (double)info.packed_bytes / (double)info.largest_packed_bytes);

  dynrt_session *s;
  if (dynrt_session_create(m, NULL, &s, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  dynrt_session_stats st;
  dynrt_session_get_stats(s, &st);
  printf("session arena: %.2f MiB (largest sub-network at the largest resolution)\n",
         st.arena_bytes / 1048576.0);
  dynrt_subnet *cfg = malloc(sizeof *cfg * (size_t)configs);
  dynrt_bn_table **bn = malloc(sizeof *bn * (size_t)configs);
  uint64_t rng = 1;
  size_t bn_bytes = 0;
  for (int i = 0; i < configs; i++) {
    dynrt_subnet_sample(m, &rng, &cfg[i]);
    size_t total, nl;
    dynrt_bn_layout(m, &cfg[i], NULL, 0, &nl, &total, NULL);
    float *mean = calloc(total, sizeof *mean), *var = malloc(total * sizeof *var);
    for (size_t k = 0; k < total; k++) var[k] = 1.0f;
    if (dynrt_bn_table_from_stats(m, &cfg[i], mean, var, &bn[i], &err)) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    bn_bytes += 2 * total * sizeof(float);
    free(mean);
    free(var);
  }
  printf("BN tables: %.1f KiB per sub-network on average\n", bn_bytes / 1024.0 / configs);
  printf("%d random sub-networks (seed 1), %d batches of %d switches:\n", configs, batches,
         PER_BATCH);
  run(s, cfg, NULL, configs, batches, "default BN");
  run(s, cfg, bn, configs, batches, "per-sub-network BN");
  for (int i = 0; i < configs; i++) dynrt_bn_table_destroy(bn[i]);
  free(bn);
  free(cfg);
  dynrt_session_destroy(s);
  dynrt_model_destroy(m);
  return 0;
}

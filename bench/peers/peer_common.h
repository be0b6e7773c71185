/*
 * peer_common.h - the shared command line, timing and output of the bench/peers programs.
 * Every peer program runs one network on one input file and prints one JSON line:
 *   {"peer":..,"threads":T,"runs":N,"median_us":..,"p10_us":..,"p90_us":..,"min_us":..,
 *    "create_ms":..,"rss_kb":..}
 * and writes its logits (float32) to --out, so the driver (run_peers.py) checks outputs
 * before it trusts any time. Header-only: each peer is one .c file.
 */
#ifndef DYNRT_PEER_COMMON_H
#define DYNRT_PEER_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct peer_args {
  const char *model, *subnet, *input, *out, *lib;
  int threads, runs, warmup;
} peer_args;

static double peer_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static void peer_die(const char *peer, const char *msg, const char *detail) {
  fprintf(stderr, "peer_%s: %s%s%s\n", peer, msg, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

static void peer_parse(const char *peer, int argc, char **argv, peer_args *a) {
  memset(a, 0, sizeof *a);
  a->threads = 1;
  a->runs = 50;
  a->warmup = 5;
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (k[0] != '-') {
      a->model = k;
      continue;
    }
    if (!v) peer_die(peer, "missing value after", k);
    i++;
    if (!strcmp(k, "--subnet"))
      a->subnet = v;
    else if (!strcmp(k, "--input"))
      a->input = v;
    else if (!strcmp(k, "--out"))
      a->out = v;
    else if (!strcmp(k, "--lib"))
      a->lib = v;
    else if (!strcmp(k, "--threads"))
      a->threads = atoi(v);
    else if (!strcmp(k, "--runs"))
      a->runs = atoi(v);
    else if (!strcmp(k, "--warmup"))
      a->warmup = atoi(v);
    else
      peer_die(peer, "unknown option", k);
  }
  if (!a->model || !a->input || a->threads < 1 || a->runs < 1 || a->warmup < 0)
    peer_die(peer,
             "usage: MODEL --input IN.f32 [--subnet S] [--threads T] [--runs N] "
             "[--warmup W] [--out LOGITS.f32] [--lib PATH]",
             NULL);
}

/* Reads n float32 values (n = file size / 4) into a malloc'd buffer with 64 bytes of slack. */
static float *peer_read_f32(const char *peer, const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) peer_die(peer, "cannot open", path);
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  float *p = calloc((size_t)sz / 4 + 16, sizeof(float));
  if (!p || fread(p, 1, (size_t)sz, f) != (size_t)sz) peer_die(peer, "cannot read", path);
  fclose(f);
  *n = (size_t)sz / 4;
  return p;
}

static void peer_write_f32(const char *peer, const char *path, const float *p, size_t n) {
  if (!path) return;
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, sizeof(float), n, f) != n) peer_die(peer, "cannot write", path);
  fclose(f);
}

/* Resident set size of this process in KiB (from /proc/self/status). */
static long peer_rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
  fclose(f);
  return kb;
}

static int peer_cmp_d(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* Times a->runs calls of run(ctx) after a->warmup untimed ones and prints the JSON line. */
static void peer_time(const char *peer, const peer_args *a, void (*run)(void *), void *ctx,
                      double create_ms) {
  double *t = malloc(sizeof(double) * (size_t)a->runs);
  if (!t) peer_die(peer, "out of memory", NULL);
  for (int i = 0; i < a->warmup; i++) run(ctx);
  for (int i = 0; i < a->runs; i++) {
    double t0 = peer_now_us();
    run(ctx);
    t[i] = peer_now_us() - t0;
  }
  qsort(t, (size_t)a->runs, sizeof(double), peer_cmp_d);
  int n = a->runs;
  printf("{\"peer\":\"%s\",\"threads\":%d,\"runs\":%d,\"median_us\":%.1f,\"p10_us\":%.1f,"
         "\"p90_us\":%.1f,\"min_us\":%.1f,\"create_ms\":%.3f,\"rss_kb\":%ld}\n",
         peer, a->threads, n, n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), t[n / 10],
         t[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1], t[0], create_ms, peer_rss_kb());
  free(t);
}

#endif /* DYNRT_PEER_COMMON_H */

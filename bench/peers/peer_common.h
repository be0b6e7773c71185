/*
 * peer_common.h - the shared command line, timing and output of the bench/peers programs.
 * Every peer program runs one network on one input file and prints one JSON line:
 *   {"peer":..,"threads":T,"runs":N,"median_us":..,"p10_us":..,"p90_us":..,"min_us":..,
 *    "create_ms":..,"rss_kb":..,"rss_kb_base":..,"hwm_kb":..}
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
  int per_layer; /* --per-layer: also time each layer (peers that can; see peer_print_layers) */
} peer_args;

/* One layer of a per-layer profile: what it is, its MACs (as dynrt_subnet_macs counts them)
 * and the median of its time over the profiled runs. */
typedef struct peer_layer {
  char name[48], kind[16], impl[96];
  unsigned long long macs;
  double us;
} peer_layer;

/* Resident set before the network is made (peer_mark_base); printed as rss_kb_base so that
 * rss_kb - rss_kb_base is what the network costs, not the process and its libraries. */
static long peer_rss_base_kb = -1;

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
    if (!strcmp(k, "--per-layer")) {
      a->per_layer = 1;
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
             "[--warmup W] [--out LOGITS.f32] [--lib PATH] [--per-layer]",
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

/* A field of /proc/self/status in KiB ("VmRSS:" resident now, "VmHWM:" its peak), -1 if
 * unreadable. */
static long peer_status_kb(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  size_t n = strlen(field);
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, field, n)) kb = atol(line + n);
  fclose(f);
  return kb;
}

static long peer_rss_kb(void) { return peer_status_kb("VmRSS:"); }
static long peer_hwm_kb(void) { return peer_status_kb("VmHWM:"); }
static inline void peer_mark_base(void) { peer_rss_base_kb = peer_rss_kb(); }

static int peer_cmp_d(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

static inline double peer_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), peer_cmp_d);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The per-layer line (printed before the timing line, which stays the last one):
 *   {"peer":..,"threads":T,"runs":N,"total_us":..,"layers":[{"name":..,"kind":..,"macs":..,
 *    "us":..,"impl":..},..]}
 * total_us: median of the whole profiled run (with the per-layer clock reads in it). */
static inline void peer_print_layers(const char *peer, const peer_args *a, const peer_layer *l,
                                     int n, double total_us) {
  printf("{\"peer\":\"%s\",\"threads\":%d,\"runs\":%d,\"total_us\":%.1f,\"layers\":[", peer,
         a->threads, a->runs, total_us);
  for (int i = 0; i < n; i++)
    printf("%s{\"name\":\"%s\",\"kind\":\"%s\",\"macs\":%llu,\"us\":%.2f,\"impl\":\"%s\"}",
           i ? "," : "", l[i].name, l[i].kind, l[i].macs, l[i].us, l[i].impl);
  printf("]}\n");
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
         "\"p90_us\":%.1f,\"min_us\":%.1f,\"create_ms\":%.3f,\"rss_kb\":%ld,"
         "\"rss_kb_base\":%ld,\"hwm_kb\":%ld}\n",
         peer, a->threads, n, n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), t[n / 10],
         t[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1], t[0], create_ms, peer_rss_kb(),
         peer_rss_base_kb, peer_hwm_kb());
  free(t);
}

#endif /* DYNRT_PEER_COMMON_H */

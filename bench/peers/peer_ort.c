/*
 * peer_ort.c - ONNX Runtime side of the peer benchmark through its C API, loaded with dlopen
 * from the libonnxruntime.so.1 that the npm package onnxruntime-node ships (no header ships
 * with it, so the few entry points used are declared here by their index in the OrtApi table,
 * which ONNX Runtime only ever appends to; the order is that of OrtApi in the public
 * onnxruntime_c_api.h).
 *   peer_ort MODEL.onnx --input in_nchw.f32 --lib path/libonnxruntime.so.1 [--threads T] ...
 *   peer_ort A.onnx,B.onnx,... --input a.f32,b.f32,... --lib ...   (switching: one session
 *       per network, all kept resident and run once; prints the creation time of each and the
 *       resident set growth)
 * Session options: graph optimisation ORT_ENABLE_ALL, intra-op threads T, inter-op 1,
 * sequential execution (the default). create_ms = CreateSession (load, optimise, pre-pack).
 * --per-layer: ORT's session profiling (EnableProfiling) on; ORT writes its trace
 * (<prefix>_<date>.json, one event per node and run) when the session is released; the
 * prefix is printed as {"peer":"ort","profile_prefix":..} before the timing line and
 * run_peers.py --per-layer reads the trace.
 */
#include <dlfcn.h>
#include <stdint.h>

#include "peer_common.h"

typedef struct OrtStatus OrtStatus;
typedef void *(*ort_fn)(void);
/* Indices into OrtApi (version 1 layout, unchanged since). */
enum {
  ORT_GetErrorMessage = 2,
  ORT_CreateEnv = 3,
  ORT_CreateSession = 7,
  ORT_Run = 9,
  ORT_CreateSessionOptions = 10,
  ORT_EnableProfiling = 14,
  ORT_SetSessionGraphOptimizationLevel = 23,
  ORT_SetIntraOpNumThreads = 24,
  ORT_SetInterOpNumThreads = 25,
  ORT_CreateTensorWithDataAsOrtValue = 49,
  ORT_CreateCpuMemoryInfo = 69,
  ORT_ReleaseEnv = 92,
  ORT_ReleaseStatus = 93,
  ORT_ReleaseMemoryInfo = 94,
  ORT_ReleaseSession = 95,
  ORT_ReleaseValue = 96,
  ORT_ReleaseSessionOptions = 100
};
typedef struct OrtApiBase {
  const void *(*GetApi)(uint32_t version);
  const char *(*GetVersionString)(void);
} OrtApiBase;

static void *const *api;
#define F(i, type) ((type)api[i])

static void check(OrtStatus *st, const char *what) {
  if (st) peer_die("ort", what, F(ORT_GetErrorMessage, const char *(*)(const OrtStatus *))(st));
}

typedef struct ctx {
  void *sess, *in, *out;
} ctx;

static void run(void *p) {
  ctx *c = p;
  const char *in_names[] = {"input"}, *out_names[] = {"logits"};
  check(F(ORT_Run, OrtStatus * (*)(void *, const void *, const char *const *, const void *const *,
                                   size_t, const char *const *, size_t, void **))(
            c->sess, NULL, in_names, (const void *const *)&c->in, 1, out_names, 1, &c->out),
        "Run");
}

/* Side of the square input of n = 3*r*r floats, 0 if n is not of that form. */
static int64_t side_of(size_t n) {
  int64_t r = 1;
  while (3 * (r + 1) * (r + 1) <= (int64_t)n) r++;
  return (size_t)(3 * r * r) == n ? r : 0;
}

/* One session per comma-separated model (one comma-separated input each), all resident and
 * each run once (ORT allocates activations at the first run): what a switch costs an ORT user
 * who creates a session per sub-network (create_ms each) or keeps them all (rss growth). */
static int resident(const peer_args *a, void *env) {
  char *list = strdup(a->model), *ins = strdup(a->input), *save = NULL, *save_in = NULL;
  void *opt, *mem, *sess[64];
  float *xs[64];
  int n = 0;
  long rss0 = peer_rss_kb();
  check(F(ORT_CreateSessionOptions, OrtStatus * (*)(void **))(&opt), "CreateSessionOptions");
  check(F(ORT_SetSessionGraphOptimizationLevel, OrtStatus * (*)(void *, int))(opt, 99), "optlevel");
  check(F(ORT_SetIntraOpNumThreads, OrtStatus * (*)(void *, int))(opt, a->threads), "intra");
  check(F(ORT_SetInterOpNumThreads, OrtStatus * (*)(void *, int))(opt, 1), "inter");
  check(F(ORT_CreateCpuMemoryInfo, OrtStatus * (*)(int, int, void **))(1, 0, &mem), "MemoryInfo");
  printf("{\"peer\":\"ort\",\"mode\":\"resident\",\"create_ms\":[");
  for (char *p = strtok_r(list, ",", &save); p && n < 64; p = strtok_r(NULL, ",", &save)) {
    const char *in_path = strtok_r(n ? NULL : ins, ",", &save_in);
    if (!in_path) peer_die("ort", "resident mode needs one --input per model", a->input);
    size_t cnt;
    xs[n] = peer_read_f32("ort", in_path, &cnt);
    int64_t r = side_of(cnt), shape[4] = {1, 3, r, r};
    if (!r) peer_die("ort", "input size is not 3*r*r", in_path);
    double t0 = peer_now_us();
    check(F(ORT_CreateSession, OrtStatus * (*)(void *, const char *, void *, void **))(env, p, opt,
                                                                                       &sess[n]),
          "CreateSession");
    printf("%s%.2f", n ? "," : "", (peer_now_us() - t0) / 1e3);
    ctx c = {sess[n], NULL, NULL};
    check(F(ORT_CreateTensorWithDataAsOrtValue,
            OrtStatus * (*)(const void *, void *, size_t, const int64_t *, size_t, int, void **))(
              mem, xs[n], cnt * sizeof(float), shape, 4, 1, &c.in),
          "input tensor");
    run(&c);
    F(ORT_ReleaseValue, void (*)(void *))(c.out);
    F(ORT_ReleaseValue, void (*)(void *))(c.in);
    n++;
  }
  printf("],\"n\":%d,\"rss_kb_before\":%ld,\"rss_kb_after\":%ld,\"hwm_kb\":%ld}\n", n, rss0,
         peer_rss_kb(), peer_hwm_kb());
  for (int i = 0; i < n; i++) F(ORT_ReleaseSession, void (*)(void *))(sess[i]), free(xs[i]);
  F(ORT_ReleaseMemoryInfo, void (*)(void *))(mem);
  F(ORT_ReleaseSessionOptions, void (*)(void *))(opt);
  free(list);
  free(ins);
  return 0;
}

int main(int argc, char **argv) {
  peer_args a;
  peer_parse("ort", argc, argv, &a);
  if (!a.lib) a.lib = getenv("DYNRT_ORT_LIB");
  if (!a.lib) peer_die("ort", "--lib or DYNRT_ORT_LIB must name libonnxruntime.so.1", NULL);
  void *h = dlopen(a.lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) peer_die("ort", "dlopen", dlerror());
  const OrtApiBase *(*get_base)(void) = (const OrtApiBase *(*)(void))dlsym(h, "OrtGetApiBase");
  if (!get_base) peer_die("ort", "no OrtGetApiBase in", a.lib);
  api = get_base()->GetApi(16);
  if (!api) peer_die("ort", "OrtApi version 16 not available in", a.lib);

  static float logits[100000];
  void *env, *opt, *sess, *mem, *in = NULL, *out = NULL;
  check(F(ORT_CreateEnv, OrtStatus * (*)(int, const char *, void **))(3, "peer", &env),
        "CreateEnv");
  if (strchr(a.model, ',')) return resident(&a, env);
  size_t n;
  float *x = peer_read_f32("ort", a.input, &n);
  int64_t r = side_of(n);
  if (!r) peer_die("ort", "input size is not 3*r*r", a.input);
  peer_mark_base();
  double t0 = peer_now_us();
  check(F(ORT_CreateSessionOptions, OrtStatus * (*)(void **))(&opt), "CreateSessionOptions");
  check(F(ORT_SetSessionGraphOptimizationLevel, OrtStatus * (*)(void *, int))(opt, 99), "optlevel");
  check(F(ORT_SetIntraOpNumThreads, OrtStatus * (*)(void *, int))(opt, a.threads), "intra");
  check(F(ORT_SetInterOpNumThreads, OrtStatus * (*)(void *, int))(opt, 1), "inter");
  char prefix[4096];
  if (a.per_layer) {
    snprintf(prefix, sizeof prefix, "%s.ortprof", a.out ? a.out : "/tmp/peer_ort");
    check(F(ORT_EnableProfiling, OrtStatus * (*)(void *, const char *))(opt, prefix), "profiling");
  }
  check(F(ORT_CreateSession, OrtStatus * (*)(void *, const char *, void *, void **))(env, a.model,
                                                                                     opt, &sess),
        "CreateSession");
  double create_ms = (peer_now_us() - t0) / 1e3;
  check(F(ORT_CreateCpuMemoryInfo, OrtStatus * (*)(int, int, void **))(1, 0, &mem), "MemoryInfo");
  int64_t ishape[4] = {1, 3, r, r};
  check(F(ORT_CreateTensorWithDataAsOrtValue,
          OrtStatus * (*)(const void *, void *, size_t, const int64_t *, size_t, int, void **))(
            mem, x, n * sizeof(float), ishape, 4, 1, &in),
        "input tensor");
  /* The class count is not known before the first run: let ORT allocate that output, then
   * bind a caller-owned output buffer of the same size for the timed runs. */
  ctx c = {sess, in, NULL};
  run(&c);
  size_t ncls = 0;
  {
    /* GetTensorMutableData = 51, GetTensorTypeAndShape = 65, GetTensorShapeElementCount = 64,
     * ReleaseTensorTypeAndShapeInfo = 99 */
    void *info, *data;
    check(F(65, OrtStatus * (*)(const void *, void **))(c.out, &info), "shape");
    check(F(64, OrtStatus * (*)(const void *, size_t *))(info, &ncls), "count");
    F(99, void (*)(void *))(info);
    check(F(51, OrtStatus * (*)(void *, void **))(c.out, &data), "data");
    if (ncls > sizeof logits / sizeof logits[0]) peer_die("ort", "too many classes", NULL);
    memcpy(logits, data, ncls * sizeof(float));
    F(ORT_ReleaseValue, void (*)(void *))(c.out);
  }
  int64_t oshape[2] = {1, (int64_t)ncls};
  check(F(ORT_CreateTensorWithDataAsOrtValue,
          OrtStatus * (*)(const void *, void *, size_t, const int64_t *, size_t, int, void **))(
            mem, logits, ncls * sizeof(float), oshape, 2, 1, &out),
        "output tensor");
  c.out = out;
  peer_write_f32("ort", a.out, logits, ncls);
  if (a.per_layer) printf("{\"peer\":\"ort\",\"profile_prefix\":\"%s\"}\n", prefix);
  peer_time("ort", &a, run, &c, create_ms);
  F(ORT_ReleaseValue, void (*)(void *))(in);
  F(ORT_ReleaseValue, void (*)(void *))(out);
  F(ORT_ReleaseMemoryInfo, void (*)(void *))(mem);
  F(ORT_ReleaseSession, void (*)(void *))(sess);
  F(ORT_ReleaseSessionOptions, void (*)(void *))(opt);
  F(ORT_ReleaseEnv, void (*)(void *))(env);
  free(x);
  return 0;
}

/* fuzz_oplib.c - libFuzzer target: arbitrary bytes as an operating-point library JSON
 * (dynrt_oplib_parse, oplib_json.c + finalize in oplib.c). A rejected text must leave no
 * object and a message. An accepted library must answer every query consistently and
 * survive a save / load round trip with the same contents. */
#include "dynrt/oplib.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  return 0;
}

static void check(const dynrt_oplib *lib) {
  int ns = dynrt_oplib_num_subnets(lib), nset = dynrt_oplib_num_settings(lib);
  int np = dynrt_oplib_num_points(lib);
  for (int i = 0; i < ns; i++) {
    const dynrt_oplib_subnet *sn = dynrt_oplib_subnet_at(lib, i);
    if (!sn || !sn->config || dynrt_oplib_find_subnet(lib, sn->id) != i) abort();
    if (!(sn->val_top1 >= 0 && sn->val_top1 <= 1)) abort();
  }
  for (int i = 0; i < np; i++) {
    const dynrt_oplib_point *pt = dynrt_oplib_point_at(lib, i);
    if (!pt || pt->subnet < 0 || pt->subnet >= ns || pt->setting < 0 || pt->setting >= nset)
      abort();
    if (dynrt_oplib_lookup(lib, pt->subnet, pt->setting) != pt) abort();
    if (!(pt->latency_mean_ms > 0) || !(pt->energy_mj > 0) || !(pt->power_w > 0)) abort();
  }
  for (int s = 0; s < nset; s++) {
    int cnt = -1;
    const int *par = dynrt_oplib_pareto(lib, s, &cnt);
    if (cnt < 0 || cnt > ns || (cnt && !par)) abort();
    for (int k = 0; k < cnt; k++)
      if (par[k] < 0 || par[k] >= ns || !dynrt_oplib_lookup(lib, par[k], s)) abort();
  }
  if (dynrt_oplib_pareto(lib, nset, NULL) || dynrt_oplib_pareto(lib, -1, NULL)) abort();
  for (int i = 0; i < dynrt_oplib_num_idle(lib); i++) {
    const dynrt_oplib_idle *id = dynrt_oplib_idle_at(lib, i);
    double w = -1;
    if (!dynrt_oplib_idle_power(lib, id->domain, id->khz, &w) || !(w >= 0)) abort();
    dynrt_oplib_idle_power(lib, id->domain, id->khz / 2 + 1, &w);
    dynrt_oplib_idle_power(lib, id->domain, UINT32_MAX, &w);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dynrt_oplib *lib = NULL;
  char msg[512];
  if (dynrt_oplib_parse((const char *)data, size, "fuzz", &lib, msg, sizeof msg)) {
    if (lib || !msg[0]) abort();
    return 0;
  }
  check(lib);
  char path[FUZZ_PATH_MAX];
  fuzz_tmp_path(path, sizeof path, "oplib");
  if (dynrt_oplib_save(lib, path)) {
    fprintf(stderr, "fuzz_oplib: save failed: %s\n", dynrt_oplib_errmsg(lib));
    abort();
  }
  dynrt_oplib *again = NULL;
  if (dynrt_oplib_load(path, &again, msg, sizeof msg)) {
    fprintf(stderr, "fuzz_oplib: a saved library does not load back: %s\n", msg);
    abort();
  }
  unlink(path);
  if (dynrt_oplib_num_subnets(again) != dynrt_oplib_num_subnets(lib) ||
      dynrt_oplib_num_settings(again) != dynrt_oplib_num_settings(lib) ||
      dynrt_oplib_num_points(again) != dynrt_oplib_num_points(lib) ||
      dynrt_oplib_num_idle(again) != dynrt_oplib_num_idle(lib))
    abort();
  for (int i = 0; i < dynrt_oplib_num_points(lib); i++) {
    const dynrt_oplib_point *a = dynrt_oplib_point_at(lib, i), *b = dynrt_oplib_point_at(again, i);
    if (a->subnet != b->subnet || a->setting != b->setting ||
        a->latency_mean_ms != b->latency_mean_ms || a->energy_mj != b->energy_mj)
      abort();
  }
  dynrt_oplib_destroy(again);
  dynrt_oplib_destroy(lib);
  return 0;
}

/* fuzz_scenario.c - libFuzzer target: arbitrary bytes as a scenario file
 * (scenarios/NAME.json, scenario.c), named as if it lay in scenarios/ so that relative paths
 * resolve against the shipped platforms and models. A rejected text must say why; an
 * accepted scenario has its events sorted and in range, and, when simulated, is checked
 * against its board. */
#include "dynrt/platform.h"
#include "fuzz_util.h"
#include "scenario/scenario.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dynrt_scn *scn = NULL;
  char msg[1024];
  if (dynrt_scn_parse((const char *)data, size, DYNRT_SOURCE_DIR "/scenarios/fuzz.json", &scn, msg,
                      sizeof msg)) {
    if (scn || !msg[0]) abort();
    return 0;
  }
  if (scn->napps < 1 || scn->napps > DYNRT_SCN_MAX_APPS || scn->npolicies < 1) abort();
  if (scn->nevents < 0 || scn->nevents > DYNRT_SCN_MAX_EVENTS) abort();
  for (int i = 0; i < scn->nevents; i++) {
    const dynrt_scn_event *e = &scn->events[i];
    if (e->at_ns > scn->duration_ns || (i && e->at_ns < scn->events[i - 1].at_ns)) abort();
    if ((e->kind == DYNRT_SCN_EV_TARGET || e->kind == DYNRT_SCN_EV_FLOOR ||
         e->kind == DYNRT_SCN_EV_PERIOD || e->kind == DYNRT_SCN_EV_PRIORITY) &&
        (e->app < 0 || e->app >= scn->napps))
      abort();
  }
  for (int i = 0; i < scn->napps; i++)
    if (scn->apps[i].start_ns >= scn->duration_ns || !(scn->apps[i].work_capacity > 0)) abort();
  if (scn->simulated) {
    dynrt_platform *p = NULL;
    if (dynrt_scn_platform_open(scn->platform, &p, msg, sizeof msg) == DYNRT_OK) {
      dynrt_scn_check_platform(scn, p, msg, sizeof msg);
      dynrt_platform_close(p);
    }
  }
  dynrt_scn_free(scn);
  return 0;
}

/* test_report.c - `dynrt report`: a simulated run of a tiny scenario is written out
 * (traces, summary.json) and turned into one HTML page; every inline SVG must be well-formed
 * XML (checked by a small parser here; tests/cmake/scenario.cmake also runs python3's
 * xml.etree on the page) and carry data; the page needs no network and says "simulated". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scenario/scenario.h"

#define SCN_PATH DYNRT_SOURCE_DIR "/scenarios/test-report.json"

static const char *const scn_json =
    "{\"format\": \"dynrt-scenario\", \"version\": 1, \"name\": \"report-test\","
    " \"description\": \"tiny <scenario> & co\","
    " \"platform\": \"sim:platforms/xavier-nx.json\", \"duration_s\": 2, \"seed\": 3,"
    " \"apps\": [{\"name\": \"a\", \"oplib\": \"models/ofa-xavier-gpu-published.oplib.json\","
    "   \"derive\": \"gpu\","
    "   \"work_ref\": {\"platform\": \"platforms/xavier-nx.json\", \"domain\": \"gpu\"},"
    "   \"arrival\": {\"period_ms\": 100}, \"latency_ms\": 60, \"accuracy_floor\": 0.75},"
    "  {\"name\": \"b\", \"oplib\": \"models/ofa-xavier-gpu-published.oplib.json\","
    "   \"derive\": \"gpu\","
    "   \"work_ref\": {\"platform\": \"platforms/xavier-nx.json\", \"domain\": \"gpu\"},"
    "   \"arrival\": \"back-to-back\", \"latency_ms\": 200, \"start_s\": 0.5}],"
    " \"events\": [{\"at_s\": 1, \"kind\": \"target\", \"app\": \"a\", \"latency_ms\": 50}],"
    " \"policies\": [\"rtm\", \"static-max:schedutil\"]}";

/* ---- a minimal XML well-formedness checker (elements, attributes, text, entities) ---- */

typedef struct xml {
  const char *s, *end;
  int elements, data; /* elements seen; data-carrying shapes (polyline points, circle) */
} xml;

static int is_name(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == ':' || c == '.';
}

static int entity(xml *x) {
  static const char *const ok[] = {"&lt;", "&gt;", "&amp;", "&quot;", "&apos;", NULL};
  for (int i = 0; ok[i]; i++)
    if (!strncmp(x->s, ok[i], strlen(ok[i]))) {
      x->s += strlen(ok[i]);
      return 1;
    }
  if (x->s[1] == '#') {
    const char *p = x->s + 2;
    while (p < x->end && *p >= '0' && *p <= '9') p++;
    if (*p == ';' && p > x->s + 2) {
      x->s = p + 1;
      return 1;
    }
  }
  return 0;
}

/* Parses one element at x->s ('<'); returns 0 on any well-formedness error. */
static int element(xml *x, int depth) {
  if (depth > 64 || *x->s != '<') return 0;
  x->s++;
  const char *name = x->s;
  while (x->s < x->end && is_name(*x->s)) x->s++;
  size_t nlen = (size_t)(x->s - name);
  if (!nlen) return 0;
  x->elements++;
  int is_shape =
      (nlen == 8 && !strncmp(name, "polyline", 8)) || (nlen == 6 && !strncmp(name, "circle", 6));
  for (;;) {
    while (x->s < x->end && (*x->s == ' ' || *x->s == '\n' || *x->s == '\t')) x->s++;
    if (x->s >= x->end) return 0;
    if (*x->s == '/' && x->s[1] == '>') {
      x->s += 2;
      return 1;
    }
    if (*x->s == '>') {
      x->s++;
      break;
    }
    const char *an = x->s;
    while (x->s < x->end && is_name(*x->s)) x->s++;
    if (x->s == an || *x->s != '=' || (x->s[1] != '"' && x->s[1] != '\'')) return 0;
    int points = x->s - an == 6 && !strncmp(an, "points", 6);
    char q = x->s[1];
    x->s += 2;
    const char *v = x->s;
    while (x->s < x->end && *x->s != q) {
      if (*x->s == '<') return 0;
      if (*x->s == '&' && !entity(x)) return 0;
      if (*x->s != '&') x->s++;
    }
    if (x->s >= x->end) return 0;
    if (is_shape && (points ? x->s - v > 8 : 1)) x->data++;
    x->s++;
  }
  for (;;) {
    if (x->s >= x->end) return 0;
    if (*x->s == '<') {
      if (x->s[1] == '/') {
        x->s += 2;
        if ((size_t)(x->end - x->s) < nlen || strncmp(x->s, name, nlen)) return 0;
        x->s += nlen;
        while (*x->s == ' ') x->s++;
        if (*x->s != '>') return 0;
        x->s++;
        return 1;
      }
      if (!element(x, depth + 1)) return 0;
    } else if (*x->s == '&') {
      if (!entity(x)) return 0;
    } else if (*x->s == '>') {
      return 0;
    } else {
      x->s++;
    }
  }
}

static int svg_ok(const char *s, size_t n, int *data) {
  xml x = {s, s + n, 0, 0};
  if (!element(&x, 0)) return 0;
  *data = x.data;
  return x.s == x.end && x.elements >= 2;
}

static void test_checker_itself(void **state) {
  (void)state;
  int d;
  const char *good =
      "<svg a=\"1\"><title>x &amp; y</title><polyline points=\"1,2 3,4 5,6\"/></svg>";
  assert_true(svg_ok(good, strlen(good), &d));
  assert_int_equal(d, 1);
  const char *bad[] = {"<svg><g></svg>", "<svg a=1></svg>", "<svg>a & b</svg>",
                       "<svg><text>1 < 2</text></svg>", "<svg a=\"<\"></svg>"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_false(svg_ok(bad[i], strlen(bad[i]), &d));
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void test_report_page(void **state) {
  (void)state;
  char dir[] = "/tmp/dynrt-report-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char err[1024];
  dynrt_scn *scn = NULL;
  assert_int_equal(dynrt_scn_parse(scn_json, strlen(scn_json), SCN_PATH, &scn, err, sizeof err),
                   DYNRT_OK);
  dynrt_oplib *libs[DYNRT_SCN_MAX_APPS];
  assert_int_equal(dynrt_scn_load_libs(scn, libs, err, sizeof err), DYNRT_OK);
  dynrt_scn_result res[2];
  for (int i = 0; i < 2; i++) {
    assert_int_equal(dynrt_scn_run_sim(scn, scn->policies[i], libs, NULL, &res[i], err, sizeof err),
                     DYNRT_OK);
    assert_int_equal(dynrt_scn_write_traces(&res[i], dir, err, sizeof err), DYNRT_OK);
  }
  assert_int_equal(dynrt_scn_write_summary(scn, res, 2, dir, "simulated", err, sizeof err),
                   DYNRT_OK);
  /* A missing results folder is a clear error. */
  const char *none[] = {"/nonexistent-dir"};
  assert_int_not_equal(dynrt_scn_report(none, 1, "/tmp/x.html", err, sizeof err), DYNRT_OK);
  assert_non_null(strstr(err, "summary.json"));
  const char *out = getenv("DYNRT_REPORT_OUT");
  char html[1100];
  snprintf(html, sizeof html, "%s", out ? out : "");
  if (!out) snprintf(html, sizeof html, "%s/report.html", dir);
  const char *dirs[] = {dir};
  dynrt_status st = dynrt_scn_report(dirs, 1, html, err, sizeof err);
  if (st) print_error("%s\n", err);
  assert_int_equal(st, DYNRT_OK);
  size_t len;
  char *page = slurp(html, &len);
  assert_non_null(strstr(page, "SIMULATED"));
  assert_non_null(strstr(page, "tiny &lt;scenario&gt; &amp; co")); /* escaped */
  assert_null(strstr(page, "<script"));
  /* No external resource: the only URI is the SVG namespace. */
  int uris = 0, ns = 0;
  for (const char *p = strstr(page, "http://"); p; p = strstr(p + 1, "http://")) uris++;
  for (const char *p = strstr(page, "http://www.w3.org/2000/svg"); p;
       p = strstr(p + 1, "http://www.w3.org/2000/svg"))
    ns++;
  assert_int_equal(uris, ns);
  assert_null(strstr(page, "https://"));
  assert_null(strstr(page, "src="));
  int nsvg = 0, with_data = 0;
  for (const char *p = strstr(page, "<svg"); p; p = strstr(p + 1, "<svg")) {
    const char *e = strstr(p, "</svg>");
    assert_non_null(e);
    int data = 0;
    int ok = svg_ok(p, (size_t)(e + 6 - p), &data);
    if (!ok) print_error("SVG %d is not well-formed\n", nsvg);
    assert_true(ok);
    nsvg++;
    with_data += data > 0;
  }
  /* 4 bar charts + 5 plots per policy */
  assert_int_equal(nsvg, 4 + 5 * 2);
  assert_true(with_data >= 10);
  assert_non_null(strstr(page, "rect x=\"170.0\""));
  free(page);
  for (int i = 0; i < 2; i++) dynrt_scn_result_free(&res[i]);
  dynrt_scn_free_libs(libs, scn->napps);
  dynrt_scn_free(scn);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_checker_itself),
      cmocka_unit_test(test_report_page),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

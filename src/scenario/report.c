/* report.c - `dynrt report`: one self-contained HTML page from a results folder
 * (summary.json and the per-policy CSV traces): the comparison table, bar charts of energy,
 * misses and accuracy per policy, and per policy inline SVG plots over time (latency against
 * the target, sub-network level, frequency per domain, power). No script, no external
 * resource: the page opens in any browser without a network. It reads results only. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "scenario/scenario.h"

#define MAX_POL DYNRT_SCN_MAX_POLICIES
#define MAX_COLS 16
#define MAX_POINTS 1500 /* per series in a plot: more are thinned evenly */

/* A CSV file as columns of numbers (text columns kept as strings in `txt`). */
typedef struct table {
  int ncols;
  char names[MAX_COLS][32];
  size_t nrows, cap;
  double *v;  /* [row * MAX_COLS + col] */
  char **txt; /* app column text per row (column "app"), or NULL */
} table;

typedef struct pol {
  char name[48];
  cJSON *summary; /* borrowed from the root */
  table inf, per;
} pol;

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};

static void table_free(table *t) {
  for (size_t i = 0; t->txt && i < t->nrows; i++) dynrt__free(t->txt[i]);
  dynrt__free(t->txt);
  dynrt__free(t->v);
  memset(t, 0, sizeof *t);
}

static int col(const table *t, const char *name) {
  for (int i = 0; i < t->ncols; i++)
    if (!strcmp(t->names[i], name)) return i;
  return -1;
}

static double cell(const table *t, size_t r, int c) { return t->v[r * MAX_COLS + (size_t)c]; }

/* Reads a CSV written by dynrt_scn_write_traces ('#' lines are comments). */
static dynrt_status read_csv(const char *path, table *t, char *errbuf, size_t errlen) {
  memset(t, 0, sizeof *t);
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errbuf) snprintf(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
    return DYNRT_ERR_IO;
  }
  char line[4096];
  int app_col = -1;
  dynrt_status st = DYNRT_OK;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    line[strcspn(line, "\r\n")] = '\0';
    if (!t->ncols) {
      char *save = NULL;
      for (char *tok = strtok_r(line, ",", &save); tok && t->ncols < MAX_COLS;
           tok = strtok_r(NULL, ",", &save)) {
        snprintf(t->names[t->ncols], sizeof t->names[0], "%s", tok);
        if (!strcmp(tok, "app")) app_col = t->ncols;
        t->ncols++;
      }
      continue;
    }
    if (t->nrows == t->cap) {
      size_t nc = t->cap ? 2 * t->cap : 1024;
      double *nv = dynrt__realloc(t->v, t->cap * MAX_COLS * sizeof *nv, nc * MAX_COLS * sizeof *nv);
      if (nv) t->v = nv;
      char **nt = nv ? dynrt__realloc(t->txt, t->cap * sizeof *nt, nc * sizeof *nt) : NULL;
      if (nt) t->txt = nt;
      if (!nv || !nt) {
        if (errbuf) snprintf(errbuf, errlen, "%s: out of memory at row %zu", path, t->nrows + 1);
        st = DYNRT_ERR_NOMEM;
        break;
      }
      t->cap = nc;
    }
    double *row = &t->v[t->nrows * MAX_COLS];
    t->txt[t->nrows] = NULL;
    int c = 0, oom = 0;
    char *p = line;
    while (c < t->ncols) {
      char *comma = strchr(p, ',');
      if (comma) *comma = '\0';
      if (c == app_col) {
        if (!(t->txt[t->nrows] = dynrt__strdup(p))) {
          oom = 1;
          break;
        }
        row[c] = 0;
      } else {
        char *end;
        row[c] = strtod(p, &end);
      }
      c++;
      if (!comma) break;
      p = comma + 1;
    }
    if (oom) {
      if (errbuf) snprintf(errbuf, errlen, "%s: out of memory at row %zu", path, t->nrows + 1);
      st = DYNRT_ERR_NOMEM;
      break;
    }
    if (c != t->ncols) {
      if (errbuf)
        snprintf(errbuf, errlen, "%s: row %zu has %d of %d fields", path, t->nrows + 1, c,
                 t->ncols);
      dynrt__free(t->txt[t->nrows]);
      st = DYNRT_ERR_FORMAT;
      break;
    }
    t->nrows++;
  }
  fclose(f);
  if (st == DYNRT_OK && !t->ncols) {
    if (errbuf) snprintf(errbuf, errlen, "%s: no header line", path);
    st = DYNRT_ERR_FORMAT;
  }
  if (st) table_free(t);
  return st;
}

/* ---- HTML/SVG output ---- */

static void esc(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
    default: fputc(*s, f);
    }
  }
}

/* A plot frame: data ranges mapped into a w x h box with margins for the axes. */
typedef struct plot {
  FILE *f;
  double x0, x1, y0, y1;
  double w, h, ml, mr, mt, mb;
} plot;

static double px(const plot *p, double x) {
  return p->ml + (x - p->x0) / (p->x1 - p->x0) * (p->w - p->ml - p->mr);
}
static double py(const plot *p, double y) {
  return p->h - p->mb - (y - p->y0) / (p->y1 - p->y0) * (p->h - p->mt - p->mb);
}

/* A "nice" step for about n ticks over [a, b]. */
static double nice_step(double a, double b, int n) {
  double raw = (b - a) / n;
  if (!(raw > 0)) return 1;
  double e = pow(10, floor(log10(raw)));
  double m = raw / e;
  return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * e;
}

static void plot_begin(plot *p, FILE *f, const char *title, const char *xlabel, const char *ylabel,
                       double x0, double x1, double y0, double y1) {
  *p = (plot){f, x0, x1, y0, y1, 560, 240, 56, 14, 26, 36};
  if (!(p->x1 > p->x0)) p->x1 = p->x0 + 1;
  if (!(p->y1 > p->y0)) p->y1 = p->y0 + 1;
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"11\">\n",
          p->w, p->h, p->w, p->h);
  fprintf(f, "<title>");
  esc(f, title);
  fprintf(f, "</title>\n<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n",
          p->w, p->h);
  fprintf(f, "<text x=\"%.1f\" y=\"16\" font-size=\"12\" font-weight=\"bold\">", p->ml);
  esc(f, title);
  fprintf(f, "</text>\n");
  double sx = nice_step(p->x0, p->x1, 8), sy = nice_step(p->y0, p->y1, 5);
  for (double x = ceil(p->x0 / sx) * sx; x <= p->x1 + 1e-9; x += sx)
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
            px(p, x), py(p, p->y0), px(p, x), py(p, p->y1), px(p, x), p->h - p->mb + 14,
            fabs(x) < 1e-9 * sx ? 0.0 : x);
  for (double y = ceil(p->y0 / sy) * sy; y <= p->y1 + 1e-9; y += sy)
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
            px(p, p->x0), py(p, y), px(p, p->x1), py(p, y), p->ml - 4, py(p, y) + 4,
            fabs(y) < 1e-9 * sy ? 0.0 : y);
  fprintf(f,
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
          "stroke=\"#444\"/>\n",
          p->ml, p->mt, p->w - p->ml - p->mr, p->h - p->mt - p->mb);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (p->ml + p->w - p->mr) / 2,
          p->h - 4);
  esc(f, xlabel);
  fprintf(f,
          "</text>\n<text x=\"12\" y=\"%.1f\" text-anchor=\"middle\" "
          "transform=\"rotate(-90 12 %.1f)\">",
          (p->mt + p->h - p->mb) / 2, (p->mt + p->h - p->mb) / 2);
  esc(f, ylabel);
  fprintf(f, "</text>\n");
}

static void legend(plot *p, int i, const char *name, const char *color) {
  double x = p->ml + 8 + (double)(i % 4) * 125, y = p->mt + 12 + (double)(i / 4) * 13;
  fprintf(p->f,
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"3\" fill=\"%s\"/>"
          "<text x=\"%.1f\" y=\"%.1f\">",
          x, y - 4, color, x + 14, y);
  esc(p->f, name);
  fprintf(p->f, "</text>\n");
}

static void plot_end(plot *p) { fprintf(p->f, "</svg>\n"); }

/* Polyline of (x[i], y[i]); step = 1 draws a step function (targets). */
static void series(plot *p, const double *x, const double *y, size_t n, const char *color, int step,
                   int dots) {
  if (!n) return;
  size_t stride = n > MAX_POINTS ? (n + MAX_POINTS - 1) / MAX_POINTS : 1;
  if (dots) {
    for (size_t i = 0; i < n; i += stride)
      fprintf(p->f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.6\" fill=\"%s\"/>\n", px(p, x[i]),
              py(p, y[i]), color);
    return;
  }
  fprintf(p->f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.3\" points=\"", color);
  for (size_t i = 0; i < n; i += stride) {
    if (step && i) fprintf(p->f, "%.1f,%.1f ", px(p, x[i]), py(p, y[i - stride]));
    fprintf(p->f, "%.1f,%.1f ", px(p, x[i]), py(p, y[i]));
  }
  fprintf(p->f, "\"/>\n");
}

static double jnum(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}
static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* Horizontal bar chart of one summary field per policy. */
static void bars(FILE *f, const char *title, const char *unit, pol *pols, int n, const char *key,
                 double scale) {
  double vmax = 0;
  for (int i = 0; i < n; i++) vmax = fmax(vmax, jnum(pols[i].summary, key) * scale);
  if (!(vmax > 0)) vmax = 1;
  double w = 560, row = 20, top = 28, left = 170, h = top + row * n + 10;
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 "
          "0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"11\">\n<title>",
          w, h, w, h);
  esc(f, title);
  fprintf(f, "</title>\n<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", w,
          h);
  fprintf(f, "<text x=\"8\" y=\"16\" font-size=\"12\" font-weight=\"bold\">");
  esc(f, title);
  fprintf(f, " (");
  esc(f, unit);
  fprintf(f, ")</text>\n");
  for (int i = 0; i < n; i++) {
    double v = jnum(pols[i].summary, key) * scale;
    double y = top + row * i;
    double bw = v / vmax * (w - left - 70);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 6, y + 13);
    esc(f, pols[i].name);
    fprintf(f,
            "</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\" fill=\"%s\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">%.3g</text>\n",
            left, y + 2, bw > 0 ? bw : 0, palette[i % 8], left + bw + 4, y + 13, v);
  }
  fprintf(f, "</svg>\n");
}

/* Rows of table t of one app (NULL = all), as x (t_s) and y (column c) arrays. */
static size_t pick(const table *t, const char *app, int c, int skip_dropped, double *x, double *y) {
  int ct = col(t, "t_s"), cd = col(t, "dropped");
  size_t n = 0;
  for (size_t r = 0; r < t->nrows; r++) {
    if (app && (!t->txt || !t->txt[r] || strcmp(t->txt[r], app))) continue;
    if (skip_dropped && cd >= 0 && cell(t, r, cd) != 0) continue;
    x[n] = cell(t, r, ct);
    y[n] = cell(t, r, c);
    n++;
  }
  return n;
}

/* x, y: room for the rows of the larger of the policy's two tables. */
static void policy_plots(FILE *f, const pol *p, const cJSON *apps, const cJSON *doms, double dur,
                         double *x, double *y) {
  const table *ti = &p->inf, *tp = &p->per;
  int napps = cJSON_GetArraySize(apps);
  int clat = col(ti, "latency_ms"), ctar = col(ti, "target_ms"), clev = col(ti, "level");
  int cacc = col(ti, "accuracy");
  plot pl;
  char title[160];
  /* latency vs target */
  double ymax = 1;
  for (size_t r = 0; r < ti->nrows; r++)
    ymax = fmax(ymax, fmax(cell(ti, r, clat), cell(ti, r, ctar)));
  snprintf(title, sizeof title, "%s: latency (dots) vs target (line)", p->name);
  plot_begin(&pl, f, title, "time (s)", "ms", 0, dur, 0, ymax * 1.08);
  for (int a = 0; a < napps; a++) {
    const char *an = jstr(cJSON_GetArrayItem(apps, a), "name");
    const char *c = palette[a % 8];
    size_t n = pick(ti, an, clat, 1, x, y);
    series(&pl, x, y, n, c, 0, 1);
    n = pick(ti, an, ctar, 0, x, y);
    series(&pl, x, y, n, c, 1, 0);
    legend(&pl, a, an, c);
  }
  plot_end(&pl);
  /* sub-network level and accuracy */
  double lmax = 1;
  for (size_t r = 0; r < ti->nrows; r++) lmax = fmax(lmax, cell(ti, r, clev));
  snprintf(title, sizeof title, "%s: sub-network level (0 = least accurate)", p->name);
  plot_begin(&pl, f, title, "time (s)", "level", 0, dur, -0.2, lmax + 0.5);
  for (int a = 0; a < napps; a++) {
    const char *an = jstr(cJSON_GetArrayItem(apps, a), "name");
    size_t n = pick(ti, an, clev, 1, x, y);
    series(&pl, x, y, n, palette[a % 8], 1, 0);
    legend(&pl, a, an, palette[a % 8]);
  }
  plot_end(&pl);
  snprintf(title, sizeof title, "%s: top-1 accuracy of the sub-network used", p->name);
  double amin = 1, amax = 0;
  for (size_t r = 0; r < ti->nrows; r++)
    if (cell(ti, r, clev) >= 0) {
      amin = fmin(amin, cell(ti, r, cacc));
      amax = fmax(amax, cell(ti, r, cacc));
    }
  if (amin > amax) amin = 0, amax = 1;
  plot_begin(&pl, f, title, "time (s)", "top-1", 0, dur, amin - 0.01, amax + 0.01);
  for (int a = 0; a < napps; a++) {
    const char *an = jstr(cJSON_GetArrayItem(apps, a), "name");
    size_t n = pick(ti, an, cacc, 1, x, y);
    series(&pl, x, y, n, palette[a % 8], 1, 0);
    n = pick(ti, an, col(ti, "floor"), 0, x, y);
    series(&pl, x, y, n, "#999", 1, 0);
    legend(&pl, a, an, palette[a % 8]);
  }
  legend(&pl, napps, "floor", "#999");
  plot_end(&pl);
  /* frequency per domain */
  double fmaxv = 1;
  int nd = cJSON_GetArraySize(doms);
  for (int d = 0; d < nd; d++) {
    char cn[48];
    snprintf(cn, sizeof cn, "mhz_%s", cJSON_GetArrayItem(doms, d)->valuestring);
    int c = col(tp, cn);
    for (size_t r = 0; c >= 0 && r < tp->nrows; r++) fmaxv = fmax(fmaxv, cell(tp, r, c));
  }
  snprintf(title, sizeof title, "%s: frequency per domain", p->name);
  plot_begin(&pl, f, title, "time (s)", "MHz", 0, dur, 0, fmaxv * 1.05);
  for (int d = 0; d < nd; d++) {
    char cn[48];
    snprintf(cn, sizeof cn, "mhz_%s", cJSON_GetArrayItem(doms, d)->valuestring);
    int c = col(tp, cn);
    if (c < 0) continue;
    size_t n = pick(tp, NULL, c, 0, x, y);
    series(&pl, x, y, n, palette[d % 8], 1, 0);
    legend(&pl, d, cJSON_GetArrayItem(doms, d)->valuestring, palette[d % 8]);
  }
  plot_end(&pl);
  /* power */
  int cp = col(tp, "power_w");
  double pmax = 0.1;
  for (size_t r = 0; r < tp->nrows; r++) pmax = fmax(pmax, cell(tp, r, cp));
  snprintf(title, sizeof title, "%s: board power (average per trace period)", p->name);
  plot_begin(&pl, f, title, "time (s)", "W", 0, dur, 0, pmax * 1.1);
  size_t n = pick(tp, NULL, cp, 0, x, y);
  series(&pl, x, y, n, "#333", 1, 0);
  plot_end(&pl);
}

static void summary_table(FILE *f, pol *pols, int n) {
  fprintf(f, "<table>\n<tr><th>policy</th><th>energy J</th><th>mJ / inference</th>"
             "<th>latency mean ms</th><th>p95 ms</th><th>p99 ms</th><th>deadline misses %%</th>"
             "<th>mean top-1 %%</th><th>floor met %%</th><th>switches</th>"
             "<th>level 1 ns / decision</th><th>level 2 &#181;s / plan</th></tr>\n");
  for (int i = 0; i < n; i++) {
    const cJSON *s = pols[i].summary;
    fprintf(f, "<tr><td>");
    esc(f, pols[i].name);
    fprintf(f,
            "</td><td>%.3f</td><td>%.3f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>"
            "<td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.0f</td><td>%.0f</td><td>%.1f</td>"
            "</tr>\n",
            jnum(s, "energy_j"), jnum(s, "infer_energy_mj"), jnum(s, "latency_mean_ms"),
            jnum(s, "latency_p95_ms"), jnum(s, "latency_p99_ms"), 100 * jnum(s, "miss_rate"),
            100 * jnum(s, "accuracy_mean"), 100 * jnum(s, "floor_met_rate"), jnum(s, "switches"),
            jnum(s, "decide_ns"), jnum(s, "plan_us"));
  }
  fprintf(f, "</table>\n");
}

static void write_head(FILE *f) {
  fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<title>dynrt scenario report</title>\n");
  fprintf(f, "<style>body{font-family:sans-serif;margin:16px;max-width:1180px;color:#222}"
             "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #bbb;"
             "padding:3px 6px;text-align:right}td:first-child,th:first-child{text-align:left}"
             "th{background:#eee}.kind{font-weight:bold;color:#a00}svg{margin:4px;border:1px "
             "solid #ccc}.grid{display:flex;flex-wrap:wrap}.note{font-size:12px;color:#555}"
             "</style>\n</head>\n<body>\n<h1>dynrt scenario report</h1>\n");
}

/* One results folder: its comparison, bar charts and per-policy plots. */
static void write_section(FILE *f, const cJSON *root, pol *pols, int n, double *x, double *y) {
  int sim = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "simulated"));
  int modelled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "energy_modelled"));
  const char *name = jstr(root, "scenario");
  char kind[512];
  if (sim)
    snprintf(kind, sizeof kind, "SIMULATED on %s (virtual time, energy from the board model)",
             jstr(root, "platform"));
  else
    snprintf(kind, sizeof kind, "REAL run on %s (%s)%s", jstr(root, "machine"),
             jstr(root, "platform"), modelled ? ", energy MODELLED, not measured" : "");
  fprintf(f, "<h2>");
  esc(f, name);
  fprintf(f, " (%s)</h2>\n<p class=\"kind\">", sim ? "simulated" : "real run");
  esc(f, kind);
  fprintf(f, "</p>\n<p>");
  esc(f, jstr(root, "description"));
  fprintf(f, "</p>\n<p class=\"note\">Scenario file ");
  esc(f, jstr(root, "scenario_file"));
  fprintf(f,
          ", seed %.0f, %.1f s. Every policy ran on the same scenario and seed. Latency is "
          "from frame arrival to result; a frame replaced while waiting counts as a miss. "
          "Energy is the whole board's; mJ per inference is what the model attributes to "
          "the inference.</p>\n",
          jnum(root, "seed"), jnum(root, "duration_s"));
  summary_table(f, pols, n);
  const cJSON *pl = cJSON_GetObjectItemCaseSensitive(root, "policies");
  for (int i = 0; i < n; i++) {
    const char *v = jstr(cJSON_GetArrayItem(pl, i), "violations");
    if (!v[0]) continue;
    fprintf(f, "<p class=\"note\"><b>");
    esc(f, pols[i].name);
    fprintf(f, "</b> reported: ");
    esc(f, v);
    fprintf(f, "</p>\n");
  }
  fprintf(f, "<div class=\"grid\">\n");
  bars(f, "Energy per policy", "J, whole board", pols, n, "energy_j", 1);
  bars(f, "Energy per inference", "mJ", pols, n, "infer_energy_mj", 1);
  bars(f, "Deadline misses", "% of frames", pols, n, "miss_rate", 100);
  bars(f, "Mean top-1 of the sub-networks used", "%", pols, n, "accuracy_mean", 100);
  fprintf(f, "</div>\n");
  const cJSON *apps = cJSON_GetObjectItemCaseSensitive(root, "apps");
  const cJSON *doms = cJSON_GetObjectItemCaseSensitive(root, "domains");
  double dur = jnum(root, "duration_s");
  for (int i = 0; i < n; i++) {
    fprintf(f, "<h3>");
    esc(f, name);
    fprintf(f, ": policy ");
    esc(f, pols[i].name);
    fprintf(f, " (%s)</h3>\n<div class=\"grid\">\n", sim ? "simulated" : "real run");
    policy_plots(f, &pols[i], apps, doms, dur, x, y);
    fprintf(f, "</div>\n");
  }
}

/* The whole file, NUL-terminated, in *out (dynrt__free it). */
static dynrt_status read_text(const char *path, char **out, char *errbuf, size_t errlen) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errbuf)
      snprintf(errbuf, errlen, "%s: cannot read: %s (run dynrt sim or dynrt run first)", path,
               strerror(errno));
    return DYNRT_ERR_IO;
  }
  char *text = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 1 >= cap) {
      size_t ncap = cap ? 2 * cap : 65536;
      char *nt = dynrt__realloc(text, cap, ncap);
      if (!nt) {
        dynrt__free(text);
        fclose(f);
        if (errbuf) snprintf(errbuf, errlen, "%s: out of memory reading it", path);
        return DYNRT_ERR_NOMEM;
      }
      text = nt;
      cap = ncap;
    }
    size_t got = fread(text + len, 1, cap - len - 1, f);
    len += got;
    if (!got) break;
  }
  fclose(f);
  text[len] = '\0';
  *out = text;
  return DYNRT_OK;
}

/* Loads one results folder and writes its section. */
static dynrt_status section(FILE *out, const char *dir, char *errbuf, size_t errlen) {
  char path[DYNRT_SCN_PATH_MAX * 2];
  snprintf(path, sizeof path, "%s/summary.json", dir);
  char *text = NULL;
  dynrt_status st = read_text(path, &text, errbuf, errlen);
  if (st) return st;
  cJSON *root = cJSON_Parse(text);
  dynrt__free(text);
  if (!root || strcmp(jstr(root, "format"), "dynrt-results")) {
    if (errbuf) snprintf(errbuf, errlen, "%s: not a dynrt results summary", path);
    cJSON_Delete(root);
    return DYNRT_ERR_FORMAT;
  }
  pol pols[MAX_POL];
  memset(pols, 0, sizeof pols);
  int n = 0;
  const cJSON *pl = cJSON_GetObjectItemCaseSensitive(root, "policies"), *it;
  cJSON_ArrayForEach(it, pl) {
    if (n == MAX_POL) break;
    pol *p = &pols[n];
    snprintf(p->name, sizeof p->name, "%s", jstr(it, "policy"));
    p->summary = cJSON_GetObjectItemCaseSensitive(it, "summary");
    snprintf(path, sizeof path, "%s/%s", dir, jstr(it, "inferences_csv"));
    if ((st = read_csv(path, &p->inf, errbuf, errlen))) break;
    snprintf(path, sizeof path, "%s/%s", dir, jstr(it, "periods_csv"));
    if ((st = read_csv(path, &p->per, errbuf, errlen))) {
      table_free(&p->inf);
      break;
    }
    if (col(&p->inf, "t_s") < 0 || col(&p->inf, "latency_ms") < 0 || col(&p->per, "power_w") < 0) {
      if (errbuf) snprintf(errbuf, errlen, "%s: missing columns", path);
      st = DYNRT_ERR_FORMAT;
      table_free(&p->inf);
      table_free(&p->per);
      break;
    }
    n++;
  }
  if (st == DYNRT_OK && !n) {
    if (errbuf) snprintf(errbuf, errlen, "%s/summary.json: no policy results", dir);
    st = DYNRT_ERR_FORMAT;
  }
  /* The plots' coordinate buffers, for the longest table: writing then cannot fail. */
  size_t rows = 1;
  for (int i = 0; i < n; i++)
    rows = DYNRT_MAX(rows, DYNRT_MAX(pols[i].inf.nrows, pols[i].per.nrows) + 1);
  double *x = st ? NULL : dynrt__malloc(rows * sizeof *x);
  double *y = x ? dynrt__malloc(rows * sizeof *y) : NULL;
  if (st == DYNRT_OK && !y) {
    if (errbuf) snprintf(errbuf, errlen, "%s: out of memory for %zu plot points", dir, rows);
    st = DYNRT_ERR_NOMEM;
  }
  if (st == DYNRT_OK) write_section(out, root, pols, n, x, y);
  dynrt__free(x);
  dynrt__free(y);
  for (int i = 0; i < n; i++) {
    table_free(&pols[i].inf);
    table_free(&pols[i].per);
  }
  cJSON_Delete(root);
  return st;
}

dynrt_status dynrt_scn_report(const char *const *dirs, int ndirs, const char *html_path,
                              char *errbuf, size_t errlen) {
  if (errbuf && errlen) errbuf[0] = '\0';
  if (!dirs || ndirs < 1 || !html_path) return DYNRT_ERR_INVALID_ARG;
  for (int i = 0; i < ndirs; i++) {
    char sp[DYNRT_SCN_PATH_MAX * 2];
    snprintf(sp, sizeof sp, "%s/summary.json", dirs[i]);
    FILE *t = fopen(sp, "rb");
    if (!t) {
      if (errbuf)
        snprintf(errbuf, errlen, "%s: cannot read: %s (run dynrt sim or dynrt run first)", sp,
                 strerror(errno));
      return DYNRT_ERR_IO;
    }
    fclose(t);
  }
  /* Written to a temporary name first: a failed report never leaves half a page. */
  char tmp[DYNRT_SCN_PATH_MAX * 2];
  snprintf(tmp, sizeof tmp, "%s.tmp", html_path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    if (errbuf) snprintf(errbuf, errlen, "%s: cannot write: %s", tmp, strerror(errno));
    return DYNRT_ERR_IO;
  }
  write_head(f);
  dynrt_status st = DYNRT_OK;
  for (int i = 0; i < ndirs && st == DYNRT_OK; i++) st = section(f, dirs[i], errbuf, errlen);
  fprintf(f,
          "<p class=\"note\">Written by dynrt %s report. Simulated sections are "
          "simulated; real sections name the machine.</p>\n</body>\n</html>\n",
          dynrt_version());
  int bad = ferror(f);
  fclose(f);
  if (st == DYNRT_OK && bad) {
    if (errbuf) snprintf(errbuf, errlen, "%s: write error", tmp);
    st = DYNRT_ERR_IO;
  }
  if (st == DYNRT_OK && rename(tmp, html_path)) {
    if (errbuf) snprintf(errbuf, errlen, "%s: cannot rename: %s", html_path, strerror(errno));
    st = DYNRT_ERR_IO;
  }
  if (st) remove(tmp);
  return st;
}

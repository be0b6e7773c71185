/*
 * arch.c - parses the `dynrt.arch` JSON (docs/formats.md §1.1) into a dynrt__arch, checks
 * every field and derives the per-block sizes (cin/cout/stride, mid_max, se_max, residual).
 * It only describes shapes: it never touches tensor data.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine/engine_int.h"

#define WIDTH_MAX 16384

int dynrt__make_divisible(double v, int divisor) {
  /* OFA: max(divisor, int(v + divisor/2) // divisor * divisor), +divisor if below 0.9 v */
  long n = (long)(v + divisor / 2.0) / divisor * divisor;
  if (n < divisor) n = divisor;
  if ((double)n < 0.9 * v) n += divisor;
  return (int)n;
}

int dynrt__active_width(const dynrt__arch *a, int c, double w) {
  return w == 1.0 ? c : dynrt__make_divisible(c * w, a->divisor);
}

int dynrt__mid_channels(const dynrt__arch *a, int cin, double e) {
  /* Python's round() rounds half to even, as nearbyint does in the default mode. */
  return dynrt__make_divisible(nearbyint(cin * e), a->divisor);
}

int dynrt__se_channels(const dynrt__arch *a, int mid) {
  return dynrt__make_divisible(mid / a->se_reduction, a->divisor);
}

const char *dynrt__act_name(dynrt_act act) {
  switch (act) {
  case DYNRT_ACT_NONE: return "none";
  case DYNRT_ACT_RELU: return "relu";
  case DYNRT_ACT_RELU6: return "relu6";
  case DYNRT_ACT_HSWISH: return "hswish";
  case DYNRT_ACT_HSIGMOID: return "hsigmoid";
  }
  return "?";
}

void dynrt__arch_free(dynrt__arch *a) {
  if (!a) return;
  if (a->class_names)
    for (int i = 0; i < a->num_classes; i++) dynrt__free(a->class_names[i]);
  dynrt__free(a->class_names);
  a->class_names = NULL;
}

/* Parser context: every message starts with "<file>: dynrt.arch: ". */
typedef struct ctx {
  const char *where;
  dynrt_err *err;
} ctx;

static dynrt_status bad(const ctx *c, const char *field, const char *fmt, const char *value) {
  char msg[256];
  snprintf(msg, sizeof msg, fmt, value);
  return dynrt__seterr(c->err, DYNRT_ERR_FORMAT, "%s: dynrt.arch: field '%s' %s", c->where, field,
                       msg);
}

/* Short text of a JSON value for messages. */
static void value_text(const cJSON *v, char *buf, size_t n) {
  if (!v)
    snprintf(buf, n, "(missing)");
  else if (cJSON_IsNumber(v))
    snprintf(buf, n, "%.10g", v->valuedouble);
  else if (cJSON_IsString(v))
    snprintf(buf, n, "'%.40s'", v->valuestring);
  else if (cJSON_IsBool(v))
    snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
  else if (cJSON_IsArray(v))
    snprintf(buf, n, "(array of %d)", cJSON_GetArraySize(v));
  else if (cJSON_IsObject(v))
    snprintf(buf, n, "(object)");
  else
    snprintf(buf, n, "null");
}

static dynrt_status get_int(const ctx *c, const cJSON *obj, const char *key, const char *field,
                            int lo, int hi, int *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  char vt[64];
  value_text(v, vt, sizeof vt);
  if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
      v->valuedouble > hi) {
    char fmt[96];
    snprintf(fmt, sizeof fmt, "= %%s, expected an integer in %d..%d", lo, hi);
    return bad(c, field, fmt, vt);
  }
  *out = (int)v->valuedouble;
  return DYNRT_OK;
}

static dynrt_status get_num(const ctx *c, const cJSON *v, const char *field, double lo, double hi,
                            int lo_open, double *out) {
  char vt[64];
  value_text(v, vt, sizeof vt);
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble > hi ||
      v->valuedouble < lo || (lo_open && v->valuedouble == lo)) {
    char fmt[96];
    snprintf(fmt, sizeof fmt, "= %%s, expected a number in %s%g, %g]", lo_open ? "(" : "[", lo, hi);
    return bad(c, field, fmt, vt);
  }
  *out = v->valuedouble;
  return DYNRT_OK;
}

static dynrt_status get_act(const ctx *c, const cJSON *obj, const char *field, dynrt_act *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "act");
  char vt[64];
  value_text(v, vt, sizeof vt);
  if (cJSON_IsString(v)) {
    static const struct {
      const char *name;
      dynrt_act act;
    } acts[] = {{"relu", DYNRT_ACT_RELU},
                {"relu6", DYNRT_ACT_RELU6},
                {"hswish", DYNRT_ACT_HSWISH},
                {"none", DYNRT_ACT_NONE}};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
      if (!strcmp(v->valuestring, acts[i].name)) {
        *out = acts[i].act;
        return DYNRT_OK;
      }
  }
  return bad(c, field, "= %s, expected relu, relu6, hswish or none", vt);
}

static dynrt_status get_bool(const ctx *c, const cJSON *v, const char *field, int *out) {
  char vt[64];
  value_text(v, vt, sizeof vt);
  if (!cJSON_IsBool(v)) return bad(c, field, "= %s, expected true or false", vt);
  *out = cJSON_IsTrue(v);
  return DYNRT_OK;
}

static const cJSON *get_obj(const ctx *c, const cJSON *obj, const char *key, dynrt_status *st) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsObject(v)) {
    char vt[64];
    value_text(v, vt, sizeof vt);
    *st = bad(c, key, "= %s, expected an object", vt);
    return NULL;
  }
  return v;
}

/* A non-empty array of at most max numbers with distinct values, returned sorted
 * ascending. Integers only when `integer`. */
static dynrt_status get_list(const ctx *c, const cJSON *v, const char *field, int max, int integer,
                             double lo, double hi, double *out, int *n) {
  char vt[64];
  value_text(v, vt, sizeof vt);
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > max) {
    char fmt[96];
    snprintf(fmt, sizeof fmt, "= %%s, expected an array of 1..%d numbers", max);
    return bad(c, field, fmt, vt);
  }
  int i = 0;
  const cJSON *x;
  cJSON_ArrayForEach(x, v) {
    char f[64];
    snprintf(f, sizeof f, "%s[%d]", field, i);
    double d = 0;
    dynrt_status st = get_num(c, x, f, lo, hi, 0, &d);
    if (st) return st;
    if (integer && d != floor(d)) {
      value_text(x, vt, sizeof vt);
      return bad(c, f, "= %s, expected an integer", vt);
    }
    for (int j = 0; j < i; j++)
      if (out[j] == d) {
        value_text(x, vt, sizeof vt);
        return bad(c, f, "= %s repeats an earlier entry", vt);
      }
    out[i++] = d;
  }
  for (int a = 1; a < i; a++) /* insertion sort: at most 64 entries */
    for (int b = a; b > 0 && out[b - 1] > out[b]; b--) {
      double t = out[b];
      out[b] = out[b - 1];
      out[b - 1] = t;
    }
  *n = i;
  return DYNRT_OK;
}

static dynrt_status parse_layer(const ctx *c, const cJSON *root, const char *key, int *out,
                                int *kernel, int *stride, dynrt_act *act, int dw) {
  dynrt_status st = DYNRT_OK;
  const cJSON *o = get_obj(c, root, key, &st);
  if (!o) return st;
  char f[64];
  snprintf(f, sizeof f, "%s.out", key);
  if ((st = get_int(c, o, "out", f, 1, WIDTH_MAX, out))) return st;
  snprintf(f, sizeof f, "%s.kernel", key);
  if ((st = get_int(c, o, "kernel", f, 1, 7, kernel))) return st;
  if (!(*kernel & 1) || (dw && *kernel < 3)) {
    char vt[16];
    snprintf(vt, sizeof vt, "%d", *kernel);
    return bad(c, f, dw ? "= %s, expected 3, 5 or 7" : "= %s, expected an odd size", vt);
  }
  snprintf(f, sizeof f, "%s.stride", key);
  if ((st = get_int(c, o, "stride", f, 1, 2, stride))) return st;
  snprintf(f, sizeof f, "%s.act", key);
  return get_act(c, o, f, act);
}

/* Derives the blocks and checks that every width multiplier and expand ratio gives active
 * sizes inside the file's tensors. */
static dynrt_status derive(const ctx *c, dynrt__arch *a) {
  int cin = a->first_out, j = 0;
  double emax = a->es[a->n_es - 1];
  for (int s = 0; s < a->n_stages; s++) {
    dynrt__stage *sg = &a->stages[s];
    sg->first_block = j;
    for (int b = 0; b < sg->dmax; b++, j++) {
      dynrt__block *bl = &a->blocks[j];
      bl->stage = s;
      bl->index = b;
      bl->cin_max = cin;
      bl->cout_max = sg->width;
      bl->stride = b == 0 ? sg->stride : 1;
      bl->act = sg->act;
      bl->se = sg->se;
      bl->mid_max = dynrt__mid_channels(a, cin, emax);
      bl->se_max = sg->se ? dynrt__se_channels(a, bl->mid_max) : 0;
      bl->residual = bl->stride == 1 && bl->cin_max == bl->cout_max;
      if (bl->mid_max > WIDTH_MAX * 4) {
        char vt[32];
        snprintf(vt, sizeof vt, "%g", emax);
        return bad(c, "expand_ratios", "max %s gives more than 65536 channels", vt);
      }
      cin = sg->width;
    }
  }
  a->n_blocks = j;
  a->first_residual = a->first_stride == 1 && a->stem_out == a->first_out;
  a->kmax = a->ks[a->n_ks - 1];

  /* Every active size must be a prefix of the file's tensors, and a shortcut must not
   * appear or vanish with the width multiplier (the reference decides it on file widths). */
  for (int wi = 0; wi < a->n_ws; wi++) {
    double w = a->ws[wi];
    char wt[32];
    snprintf(wt, sizeof wt, "%g", w);
    int widths[2 + DYNRT_MAX_STAGES + 2] = {a->stem_out, a->first_out};
    const char *names[2 + DYNRT_MAX_STAGES + 2] = {"stem.out", "first_block.out"};
    int nw = 2;
    for (int s = 0; s < a->n_stages; s++) {
      widths[nw] = a->stages[s].width;
      names[nw++] = "stages[].width";
    }
    widths[nw] = a->final_expand;
    names[nw++] = "head.final_expand";
    widths[nw] = a->feature_mix;
    names[nw++] = "head.feature_mix";
    for (int i = 0; i < nw; i++)
      if (dynrt__active_width(a, widths[i], w) > widths[i])
        return dynrt__seterr(c->err, DYNRT_ERR_FORMAT,
                             "%s: dynrt.arch: field 'width_mults' entry %s makes %s = %d "
                             "active %d channels, more than the file holds",
                             c->where, wt, names[i], widths[i],
                             dynrt__active_width(a, widths[i], w));
    int sstride[1 + DYNRT_MAX_STAGES];
    sstride[0] = a->first_stride;
    for (int s = 0; s < a->n_stages; s++) sstride[s + 1] = a->stages[s].stride;
    for (int i = 0; i <= a->n_stages; i++) {
      int x = widths[i], y = widths[i + 1];
      if (sstride[i] == 1 &&
          (x == y) != (dynrt__active_width(a, x, w) == dynrt__active_width(a, y, w)))
        return bad(c, "width_mults",
                   "entry %s makes two stride-1 widths collide (shortcut would change)", wt);
    }
    int acin = dynrt__active_width(a, a->first_out, w);
    for (int b = 0; b < a->n_blocks; b++) {
      const dynrt__block *bl = &a->blocks[b];
      for (int ei = 0; ei < a->n_es; ei++) {
        int mid = dynrt__mid_channels(a, acin, a->es[ei]);
        if (mid > bl->mid_max || (bl->se && dynrt__se_channels(a, mid) > bl->se_max))
          return bad(c, "expand_ratios", "give a middle width above the largest (%s)", wt);
      }
      acin = dynrt__active_width(a, bl->cout_max, w);
    }
  }
  return DYNRT_OK;
}

dynrt_status dynrt__arch_parse(dynrt__arch *a, const char *json, size_t len, const char *where,
                               dynrt_err *err) {
  memset(a, 0, sizeof *a);
  ctx cx = {where, err};
  const ctx *c = &cx;
  if (len > DYNRT__HEADER_MAX)
    return dynrt__seterr(err, DYNRT_ERR_UNSUPPORTED, "%s: dynrt.arch has %zu bytes, limit %u",
                         where, len, DYNRT__HEADER_MAX);
  if (!dynrt__json_depth_ok(json, len, DYNRT__JSON_DEPTH_MAX))
    return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: dynrt.arch JSON nests deeper than %d", where,
                         DYNRT__JSON_DEPTH_MAX);
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  if (!root) return dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: dynrt.arch is not valid JSON", where);
  dynrt_status st = DYNRT_OK;
  const cJSON *v, *o;
  double list[DYNRT_MAX_RESOLUTIONS];
  int n;
  if (!cJSON_IsObject(root)) {
    st = dynrt__seterr(err, DYNRT_ERR_FORMAT, "%s: dynrt.arch is not a JSON object", where);
    goto done;
  }
  int version;
  if ((st = get_int(c, root, "version", "version", 1, 1, &version))) goto done;
  v = cJSON_GetObjectItemCaseSensitive(root, "family");
  if (!cJSON_IsString(v) || strcmp(v->valuestring, "ofa-mbv3")) {
    char vt[64];
    value_text(v, vt, sizeof vt);
    st = bad(c, "family", "= %s, expected 'ofa-mbv3'", vt);
    goto done;
  }
  v = cJSON_GetObjectItemCaseSensitive(root, "name");
  if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof a->name) {
    st = bad(c, "name", "%s", "is not a string of at most 127 bytes");
    goto done;
  }
  snprintf(a->name, sizeof a->name, "%s", v->valuestring);
  if ((st = get_int(c, root, "num_classes", "num_classes", 1, 100000, &a->num_classes))) goto done;
  v = cJSON_GetObjectItemCaseSensitive(root, "class_names");
  if (v) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != a->num_classes) {
      char vt[64];
      value_text(v, vt, sizeof vt);
      st = bad(c, "class_names", "= %s, expected num_classes strings", vt);
      goto done;
    }
    a->class_names = dynrt__calloc((size_t)a->num_classes, sizeof *a->class_names);
    if (!a->class_names) {
      st = dynrt__seterr(err, DYNRT_ERR_NOMEM, "%s: no memory for class names", where);
      goto done;
    }
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, v) {
      if (!cJSON_IsString(x)) {
        char f[48];
        snprintf(f, sizeof f, "class_names[%d]", i);
        st = bad(c, f, "%s", "is not a string");
        goto done;
      }
      if (!(a->class_names[i++] = dynrt__strdup(x->valuestring))) {
        st = dynrt__seterr(err, DYNRT_ERR_NOMEM, "%s: no memory for class names", where);
        goto done;
      }
    }
  }

  if (!(o = get_obj(c, root, "input", &st))) goto done;
  if ((st = get_list(c, cJSON_GetObjectItemCaseSensitive(o, "resolutions"), "input.resolutions",
                     DYNRT_MAX_RESOLUTIONS, 1, 8, 2048, list, &n)))
    goto done;
  a->n_res = n;
  for (int i = 0; i < n; i++) a->res[i] = (int)list[i];
  if ((st = get_num(c, cJSON_GetObjectItemCaseSensitive(o, "resize_ratio"), "input.resize_ratio", 0,
                    1, 1, &a->resize_ratio)))
    goto done;
  for (int which = 0; which < 2; which++) {
    const char *key = which ? "std" : "mean";
    char f[32];
    snprintf(f, sizeof f, "input.%s", key);
    v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3) {
      char vt[64];
      value_text(v, vt, sizeof vt);
      st = bad(c, f, "= %s, expected 3 numbers", vt);
      goto done;
    }
    for (int i = 0; i < 3; i++) {
      char fi[48];
      snprintf(fi, sizeof fi, "%s[%d]", f, i);
      double d;
      if ((st = get_num(c, cJSON_GetArrayItem(v, i), fi, which ? 0 : -1e3, 1e3, which, &d)))
        goto done;
      (which ? a->std : a->mean)[i] = (float)d;
    }
  }
  if ((st = get_num(c, cJSON_GetObjectItemCaseSensitive(root, "bn_eps"), "bn_eps", 0, 1, 1,
                    &a->bn_eps)))
    goto done;
  a->divisor = 8;
  a->se_reduction = 4;
  if (cJSON_GetObjectItemCaseSensitive(root, "channel_divisor") &&
      (st = get_int(c, root, "channel_divisor", "channel_divisor", 1, 64, &a->divisor)))
    goto done;
  if (cJSON_GetObjectItemCaseSensitive(root, "se_reduction") &&
      (st = get_int(c, root, "se_reduction", "se_reduction", 1, 64, &a->se_reduction)))
    goto done;
  if ((st = parse_layer(c, root, "stem", &a->stem_out, &a->stem_kernel, &a->stem_stride,
                        &a->stem_act, 0)))
    goto done;
  if ((st = parse_layer(c, root, "first_block", &a->first_out, &a->first_kernel, &a->first_stride,
                        &a->first_act, 1)))
    goto done;

  v = cJSON_GetObjectItemCaseSensitive(root, "stages");
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > DYNRT_MAX_STAGES) {
    char vt[64];
    value_text(v, vt, sizeof vt);
    st = bad(c, "stages", "= %s, expected an array of 1..8 stages", vt);
    goto done;
  }
  int nb = 0;
  const cJSON *so;
  cJSON_ArrayForEach(so, v) {
    dynrt__stage *sg = &a->stages[a->n_stages];
    char f[64];
    snprintf(f, sizeof f, "stages[%d]", a->n_stages);
    if (!cJSON_IsObject(so)) {
      st = bad(c, f, "%s", "is not an object");
      goto done;
    }
    char g[80];
    snprintf(g, sizeof g, "%s.width", f);
    if ((st = get_int(c, so, "width", g, 1, WIDTH_MAX, &sg->width))) goto done;
    snprintf(g, sizeof g, "%s.depths", f);
    if ((st = get_list(c, cJSON_GetObjectItemCaseSensitive(so, "depths"), g, DYNRT_MAX_CHOICES, 1,
                       1, 16, list, &n)))
      goto done;
    sg->n_depths = n;
    for (int i = 0; i < n; i++) sg->depths[i] = (int)list[i];
    sg->dmin = sg->depths[0];
    sg->dmax = sg->depths[n - 1];
    nb += sg->dmax;
    if (nb > DYNRT_MAX_BLOCKS) {
      st = dynrt__seterr(err, DYNRT_ERR_UNSUPPORTED,
                         "%s: dynrt.arch: field '%s' brings the blocks to %d, limit %d", where, g,
                         nb, DYNRT_MAX_BLOCKS);
      goto done;
    }
    snprintf(g, sizeof g, "%s.stride", f);
    if ((st = get_int(c, so, "stride", g, 1, 2, &sg->stride))) goto done;
    snprintf(g, sizeof g, "%s.act", f);
    if ((st = get_act(c, so, g, &sg->act))) goto done;
    snprintf(g, sizeof g, "%s.se", f);
    if ((st = get_bool(c, cJSON_GetObjectItemCaseSensitive(so, "se"), g, &sg->se))) goto done;
    a->n_stages++;
  }

  if ((st = get_list(c, cJSON_GetObjectItemCaseSensitive(root, "kernel_sizes"), "kernel_sizes", 3,
                     1, 3, 7, list, &n)))
    goto done;
  for (int i = 0; i < n; i++) {
    if (!((int)list[i] & 1)) {
      char vt[16];
      snprintf(vt, sizeof vt, "%d", (int)list[i]);
      st = bad(c, "kernel_sizes", "has %s, expected 3, 5 or 7", vt);
      goto done;
    }
    a->ks[i] = (int)list[i];
  }
  a->n_ks = n;
  if ((st = get_list(c, cJSON_GetObjectItemCaseSensitive(root, "expand_ratios"), "expand_ratios",
                     DYNRT_MAX_CHOICES, 0, 0.01, 16, list, &n)))
    goto done;
  a->n_es = n;
  memcpy(a->es, list, (size_t)n * sizeof *list);
  if ((st = get_list(c, cJSON_GetObjectItemCaseSensitive(root, "width_mults"), "width_mults",
                     DYNRT_MAX_CHOICES, 0, 0.01, 1, list, &n)))
    goto done;
  a->n_ws = n;
  memcpy(a->ws, list, (size_t)n * sizeof *list);
  v = cJSON_GetObjectItemCaseSensitive(root, "kernel_transform");
  if (v && (st = get_bool(c, v, "kernel_transform", &a->kernel_transform))) goto done;

  if (!(o = get_obj(c, root, "head", &st))) goto done;
  if ((st = get_int(c, o, "final_expand", "head.final_expand", 1, WIDTH_MAX, &a->final_expand)))
    goto done;
  if ((st = get_int(c, o, "feature_mix", "head.feature_mix", 1, WIDTH_MAX, &a->feature_mix)))
    goto done;
  if ((st = get_act(c, o, "head.act", &a->head_act))) goto done;
  st = derive(c, a);
done:
  cJSON_Delete(root);
  if (st) dynrt__arch_free(a);
  return st;
}

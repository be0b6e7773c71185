/* cmd_oplib_util.c - helpers of the offline sub-commands: data sets by name or image
 * folder (the library reads CIFAR binaries; image files are decoded here, in the CLI),
 * sub-network lists, and a progress bar that only draws on a terminal. */
#include "cli/cmd_oplib_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/image.h"

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int open_folder(const char *dir, int num_classes, size_t first, size_t count,
                       dynrt_dataset **out, char *err, size_t es) {
  char path[4096];
  snprintf(path, sizeof path, "%s/labels.txt", dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, es, "%s: cannot open (an image folder needs labels.txt: FILE LABEL per line)",
             path);
    return 1;
  }
  char line[4096];
  size_t n = 0, lineno = 0;
  while (fgets(line, sizeof line, f)) {
    char *p = line;
    while (isspace((unsigned char)*p)) p++;
    if (*p && *p != '#') n++;
  }
  rewind(f);
  if (first >= n) {
    fclose(f);
    snprintf(err, es, "%s: %zu images listed, first = %zu", path, n, first);
    return 1;
  }
  if (count == 0 || count > n - first) count = n - first;
  dynrt_error e;
  dynrt_dataset *ds = NULL;
  if (dynrt_dataset_create(count, dir, &ds, &e)) {
    fclose(f);
    snprintf(err, es, "%s", e.msg);
    return 1;
  }
  size_t idx = 0;
  int rc = 0;
  while (fgets(line, sizeof line, f) && dynrt_dataset_count(ds) < count) {
    lineno++;
    char *p = line;
    while (isspace((unsigned char)*p)) p++;
    if (!*p || *p == '#') continue;
    if (idx++ < first) continue;
    char name[2048];
    int label;
    if (sscanf(p, "%2047s %d", name, &label) != 2 || label < 0 ||
        (num_classes > 0 && label >= num_classes)) {
      snprintf(err, es, "%s:%zu: expected 'FILE LABEL' with LABEL in 0..%d", path, lineno,
               num_classes - 1);
      rc = 1;
      break;
    }
    char ip[4096];
    snprintf(ip, sizeof ip, "%s/%s", dir, name);
    cli_image img;
    if (cli_image_read(ip, &img, err, es)) {
      rc = 1;
      break;
    }
    int st =
        dynrt_dataset_add(ds, img.rgb, img.width, img.height, (size_t)img.width * 3, label, &e);
    free(img.rgb);
    if (st) {
      snprintf(err, es, "%s: %s", ip, e.msg);
      rc = 1;
      break;
    }
  }
  fclose(f);
  if (rc) {
    dynrt_dataset_destroy(ds);
    return 1;
  }
  *out = ds;
  return 0;
}

int cli_open_dataset(const char *spec, int num_classes, size_t first, size_t count,
                     dynrt_dataset **out, char *err, size_t es) {
  *out = NULL;
  if (is_dir(spec)) return open_folder(spec, num_classes, first, count, out, err, es);
  if (!strncmp(spec, "synthetic:", 10)) {
    unsigned long long n = 0, seed = 1;
    dynrt_error e;
    if (sscanf(spec + 10, "%llu:%llu", &n, &seed) < 1 || n == 0 || n > 10000000ull) {
      snprintf(err, es, "data set '%s': expected synthetic:N[:SEED]", spec);
      return 1;
    }
    if (first >= n) {
      snprintf(err, es, "data set '%s': first = %zu", spec, first);
      return 1;
    }
    size_t want = count && count < n - first ? count : (size_t)n - first;
    /* image i of the set is the same whatever first/count select */
    dynrt_dataset *all = NULL;
    if (dynrt_dataset_synthetic(first + want, 32, num_classes, seed, &all, &e) ||
        dynrt_dataset_create(want, spec, out, &e)) {
      dynrt_dataset_destroy(all);
      snprintf(err, es, "%s", e.msg);
      return 1;
    }
    for (size_t i = 0; i < want; i++) {
      dynrt_image im;
      dynrt_dataset_get(all, first + i, &im);
      dynrt_dataset_add(*out, im.rgb, im.width, im.height, (size_t)im.width * 3, im.label, &e);
    }
    dynrt_dataset_destroy(all);
    return 0;
  }
  char path[4096];
  dynrt_error e;
  if (dynrt_dataset_resolve(spec, path, sizeof path, &e) ||
      dynrt_dataset_open_cifar(path, first, count, num_classes, out, &e)) {
    snprintf(err, es, "%s", e.msg);
    return 1;
  }
  return 0;
}

static int push(dynrt_subnet **v, int *n, int *cap, const dynrt_subnet *c) {
  if (*n == *cap) {
    int nc = *cap ? 2 * *cap : 16;
    dynrt_subnet *nv = realloc(*v, sizeof **v * (size_t)nc);
    if (!nv) return 1;
    *v = nv;
    *cap = nc;
  }
  (*v)[(*n)++] = *c;
  return 0;
}

static int parse_item(const dynrt_model *m, char *item, dynrt_subnet **v, int *n, int *cap,
                      char *err, size_t es) {
  while (isspace((unsigned char)*item)) item++;
  size_t l = strlen(item);
  while (l && isspace((unsigned char)item[l - 1])) item[--l] = 0;
  if (!l || *item == '#') return 0;
  dynrt_subnet c;
  if (!strcmp(item, "largest")) {
    dynrt_subnet_largest(m, &c);
    return push(v, n, cap, &c);
  }
  if (!strcmp(item, "smallest")) {
    dynrt_subnet_smallest(m, &c);
    return push(v, n, cap, &c);
  }
  if (!strncmp(item, "random:", 7)) {
    unsigned long long cnt = 0, seed = 1;
    if (sscanf(item + 7, "%llu:%llu", &cnt, &seed) < 1 || cnt == 0 || cnt > 100000) {
      snprintf(err, es, "subnets: '%s': expected random:N[:SEED]", item);
      return 1;
    }
    uint64_t rng = seed;
    for (unsigned long long i = 0; i < cnt; i++) {
      dynrt_subnet_sample(m, &rng, &c);
      if (push(v, n, cap, &c)) return 1;
    }
    return 0;
  }
  dynrt_error e;
  if (dynrt_subnet_parse(m, item, &c, &e)) {
    snprintf(err, es, "subnets: %s", e.msg);
    return 1;
  }
  return push(v, n, cap, &c);
}

int cli_parse_subnets(const dynrt_model *m, const char *spec, dynrt_subnet **out, int *n, char *err,
                      size_t es) {
  *out = NULL;
  *n = 0;
  int cap = 0;
  char *text = NULL;
  struct stat st;
  if (stat(spec, &st) == 0 && S_ISREG(st.st_mode)) {
    FILE *f = fopen(spec, "r");
    text = f ? malloc((size_t)st.st_size + 1) : NULL;
    if (!f || !text || fread(text, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
      snprintf(err, es, "%s: cannot read", spec);
      if (f) fclose(f);
      free(text);
      return 1;
    }
    fclose(f);
    text[st.st_size] = 0;
  } else {
    text = strdup(spec);
    if (!text) return 1;
  }
  int rc = 0;
  char *save = NULL;
  for (char *it = strtok_r(text, ";\n", &save); it && !rc; it = strtok_r(NULL, ";\n", &save))
    rc = parse_item(m, it, out, n, &cap, err, es);
  free(text);
  if (!rc && *n == 0) {
    snprintf(err, es, "subnets: '%s' lists no sub-network", spec);
    rc = 1;
  }
  /* drop duplicates, keeping the first occurrence */
  int k = 0;
  for (int i = 0; i < *n && !rc; i++) {
    int dup = 0;
    for (int j = 0; j < k && !dup; j++) dup = dynrt_subnet_equal(m, &(*out)[j], &(*out)[i]);
    if (!dup) (*out)[k++] = (*out)[i];
  }
  if (!rc) *n = k;
  if (rc) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int cli_parse_ints(const char *s, int *v, int cap) {
  int n = 0;
  const char *p = s;
  while (*p) {
    char *end;
    long x = strtol(p, &end, 10);
    if (end == p || n >= cap || x < 1 || x > 4096) return -1;
    v[n++] = (int)x;
    p = end;
    if (*p == ',')
      p++;
    else if (*p)
      return -1;
  }
  return n ? n : -1;
}

int cli_progress(void *user, size_t done, size_t total) {
  static int tty = -1;
  if (tty < 0) tty = isatty(2);
  if (!tty || total == 0) return 0;
  const char *label = user ? (const char *)user : "";
  int width = 30, fill = (int)((double)done / (double)total * width);
  fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu", label, fill, "##############################",
          width - fill, "", done, total);
  if (done >= total) fputc('\n', stderr);
  fflush(stderr);
  return 0;
}

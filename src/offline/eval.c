/*
 * eval.c - accuracy of a sub-network on a labelled data set: worker threads, each with a
 * one-thread session of its own over a contiguous shard of the images, counting top-1 and
 * top-5 hits. Counts do not depend on the thread count. It measures; it never chooses
 * anything (selection on a split is the caller's business).
 */
#include <pthread.h>
#include <string.h>

#include "core/core.h"
#include "offline/offline_int.h"

typedef struct shard {
  const dynrt_model *m;
  const dynrt_subnet *cfg;
  const dynrt_bn_table *bn;
  const dynrt_dataset *ds;
  size_t first, count;
  float *logits; /* NULL, or count x num_classes floats for this shard's images */
  uint64_t top1, top5;
  dynrt_status st;
  dynrt_error err;
} shard;

static void *eval_shard(void *arg) {
  shard *s = arg;
  dynrt_session *ses = NULL;
  s->st = dynrt_session_create(s->m, NULL, &ses, &s->err);
  if (s->st) return NULL;
  if ((s->st = dynrt_session_set_subnet(ses, s->cfg, s->bn))) {
    dynrt__offline_fail(&s->err, s->st, "eval: %s", dynrt_session_errmsg(ses));
    goto done;
  }
  dynrt_model_info info;
  dynrt_model_get_info(s->m, &info);
  size_t k = info.num_classes < 5 ? (size_t)info.num_classes : 5;
  for (size_t i = 0; i < s->count; i++) {
    dynrt_image img;
    dynrt_dataset_get(s->ds, s->first + i, &img);
    if ((s->st =
             dynrt_session_run_image(ses, img.rgb, img.width, img.height, (size_t)img.width * 3))) {
      dynrt__offline_fail(&s->err, s->st, "eval: image %zu: %s", s->first + i,
                          dynrt_session_errmsg(ses));
      goto done;
    }
    if (s->logits) {
      size_t nc;
      const float *y = dynrt_session_logits(ses, &nc);
      memcpy(s->logits + i * nc, y, nc * sizeof *y);
    }
    int cls[5];
    dynrt_session_topk(ses, k, cls, NULL);
    if (cls[0] == img.label) s->top1++;
    for (size_t j = 0; j < k; j++)
      if (cls[j] == img.label) {
        s->top5++;
        break;
      }
  }
done:
  dynrt_session_destroy(ses);
  return NULL;
}

static dynrt_status evaluate(const dynrt_model *m, const dynrt_subnet *cfg,
                             const dynrt_bn_table *bn, const dynrt_dataset *ds, size_t first,
                             size_t count, int threads, float *logits, dynrt_eval_result *out,
                             dynrt_error *err) {
  if (!m || !cfg || !ds || !out)
    return dynrt__offline_fail(err, DYNRT_ERR_INVALID_ARG, "eval: NULL argument");
  memset(out, 0, sizeof *out);
  size_t total = dynrt_dataset_count(ds);
  if (first >= total)
    return dynrt__offline_fail(err, DYNRT_ERR_INVALID_ARG, "eval: first image %zu, %s has %zu",
                               first, dynrt_dataset_name(ds), total);
  if (count == 0 || count > total - first) count = total - first;
  if (threads < 1) threads = 1;
  if ((size_t)threads > count) threads = (int)count;
  if (threads > 256) threads = 256;
  shard *sh = dynrt__calloc((size_t)threads, sizeof *sh);
  pthread_t *tid = dynrt__calloc((size_t)threads, sizeof *tid);
  if (!sh || !tid) {
    dynrt__free(sh);
    dynrt__free(tid);
    return dynrt__offline_fail(err, DYNRT_ERR_NOMEM, "eval: no memory");
  }
  dynrt_model_info info;
  dynrt_model_get_info(m, &info);
  uint64_t t0 = dynrt_now_ns();
  size_t at = first;
  int started = 0;
  dynrt_status st = DYNRT_OK;
  for (int t = 0; t < threads; t++) {
    size_t n = count / (size_t)threads + ((size_t)t < count % (size_t)threads);
    float *lg = logits ? logits + (at - first) * (size_t)info.num_classes : NULL;
    sh[t] = (shard){m, cfg, bn, ds, at, n, lg, 0, 0, DYNRT_OK, {DYNRT_OK, ""}};
    at += n;
    if (t == threads - 1) break; /* the last shard runs on this thread */
    if (pthread_create(&tid[t], NULL, eval_shard, &sh[t]) != 0) {
      st = dynrt__offline_fail(err, DYNRT_ERR_NOMEM, "eval: cannot start thread %d", t);
      break;
    }
    started++;
  }
  if (!st) eval_shard(&sh[threads - 1]);
  for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
  if (!st)
    for (int t = 0; t < threads; t++) {
      if (sh[t].st && !st) {
        st = sh[t].st;
        if (err) *err = sh[t].err;
      }
      out->top1 += sh[t].top1;
      out->top5 += sh[t].top5;
    }
  out->images = count;
  out->seconds = (double)(dynrt_now_ns() - t0) * 1e-9;
  dynrt__free(sh);
  dynrt__free(tid);
  return st;
}

dynrt_status dynrt_evaluate(const dynrt_model *m, const dynrt_subnet *cfg, const dynrt_bn_table *bn,
                            const dynrt_dataset *ds, size_t first, size_t count, int threads,
                            dynrt_eval_result *out, dynrt_error *err) {
  return evaluate(m, cfg, bn, ds, first, count, threads, NULL, out, err);
}

dynrt_status dynrt_evaluate_logits(const dynrt_model *m, const dynrt_subnet *cfg,
                                   const dynrt_bn_table *bn, const dynrt_dataset *ds, size_t first,
                                   size_t count, int threads, float *logits, dynrt_eval_result *out,
                                   dynrt_error *err) {
  if (!logits) return dynrt__offline_fail(err, DYNRT_ERR_INVALID_ARG, "eval: NULL logits");
  return evaluate(m, cfg, bn, ds, first, count, threads, logits, out, err);
}

/*
 * util.c - small scalar helpers around the kernels: the reference activation, softmax and
 * top-k for classifier heads. They run once per inference on at most a few thousand values.
 */
#include <math.h>

#include "kernels/kernels.h"

/* Written with `x < 0 ? 0 : x` rather than fmaxf so that a NaN input stays NaN, as it does
 * in the SIMD kernels (max(0, NaN) returns its second operand there). */
static float relu6(float x) {
  float t = x < 0.0f ? 0.0f : x;
  return t > 6.0f ? 6.0f : t;
}

float dynrt__act1(dynrt_act act, float x) {
  switch (act) {
  case DYNRT_ACT_NONE: return x;
  case DYNRT_ACT_RELU: return x < 0.0f ? 0.0f : x;
  case DYNRT_ACT_RELU6: return relu6(x);
  case DYNRT_ACT_HSWISH: return x * relu6(x + 3.0f) * (1.0f / 6.0f);
  case DYNRT_ACT_HSIGMOID: return relu6(x + 3.0f) * (1.0f / 6.0f);
  }
  DYNRT_ASSERT(!"unknown activation");
  return x;
}

void dynrt__softmax(const float *logits, size_t n, float *probs) {
  if (!n) return;
  DYNRT_ASSERT(logits != NULL && probs != NULL);
  float mx = logits[0];
  for (size_t i = 1; i < n; i++)
    if (logits[i] > mx) mx = logits[i];
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    probs[i] = expf(logits[i] - mx);
    sum += probs[i];
  }
  float inv = (float)(1.0 / sum);
  for (size_t i = 0; i < n; i++) probs[i] *= inv;
}

/* a ranks before b: larger value first, NaN last, ties by the lower index (the caller
 * visits indices in increasing order and inserts after equals). */
static int ranks_before(const float *x, size_t a, size_t b) {
  if (isnan(x[a])) return 0;
  return isnan(x[b]) || x[a] > x[b];
}

void dynrt__topk(const float *x, size_t n, size_t k, size_t *idx) {
  DYNRT_ASSERT(k <= n);
  if (!k) return;
  DYNRT_ASSERT(x != NULL && idx != NULL);
  size_t have = 0;
  for (size_t i = 0; i < n; i++) {
    if (have == k && !ranks_before(x, i, idx[k - 1])) continue;
    size_t pos = have < k ? have++ : k - 1;
    while (pos > 0 && ranks_before(x, i, idx[pos - 1])) {
      idx[pos] = idx[pos - 1];
      pos--;
    }
    idx[pos] = i;
  }
}

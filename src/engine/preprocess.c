/*
 * preprocess.c - turns an 8-bit RGB image of any size into the normalised float input of a
 * sub-network (docs/formats.md §1.5): bilinear resize so the shorter side is
 * ceil(r / resize_ratio), centre crop r x r, scale, normalise. Writes straight into the
 * session's bordered input buffer; allocates nothing.
 */
#include <math.h>

#include "engine/engine_int.h"

void dynrt__preprocess_rgb(const dynrt__arch *a, int r, const uint8_t *rgb, int width, int height,
                           size_t row_stride, float *dst, size_t rs) {
  /* Resized size (shorter side ceil(r / ratio)) and centre-crop offsets. */
  double rw, rh;
  if (a->resize_ratio >= 1.0) {
    rw = rh = r;
  } else {
    double side = ceil((double)r / a->resize_ratio - 1e-9);
    if (width <= height) {
      rw = side;
      rh = floor(side * height / width);
    } else {
      rh = side;
      rw = floor(side * width / height);
    }
  }
  double top = nearbyint((rh - r) / 2.0), left = nearbyint((rw - r) / 2.0);
  double sy = height / rh, sx = width / rw;
  float scale[3], bias[3];
  for (int c = 0; c < 3; c++) {
    scale[c] = 1.0f / (255.0f * a->std[c]);
    bias[c] = -a->mean[c] / a->std[c];
  }
  for (int y = 0; y < r; y++) {
    /* bilinear with half-pixel centres, clamped at the edges */
    double fy = (y + top + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    int y0 = (int)fy;
    if (y0 > height - 1) y0 = height - 1;
    int y1 = y0 + 1 < height ? y0 + 1 : height - 1;
    float wy = (float)(fy - y0);
    if (wy > 1) wy = 1;
    const uint8_t *r0 = rgb + (size_t)y0 * row_stride, *r1 = rgb + (size_t)y1 * row_stride;
    for (int x = 0; x < r; x++) {
      double fx = (x + left + 0.5) * sx - 0.5;
      if (fx < 0) fx = 0;
      int x0 = (int)fx;
      if (x0 > width - 1) x0 = width - 1;
      int x1 = x0 + 1 < width ? x0 + 1 : width - 1;
      float wx = (float)(fx - x0);
      if (wx > 1) wx = 1;
      for (int c = 0; c < 3; c++) {
        float top_v = r0[x0 * 3 + c] + (r0[x1 * 3 + c] - r0[x0 * 3 + c]) * wx;
        float bot_v = r1[x0 * 3 + c] + (r1[x1 * 3 + c] - r1[x0 * 3 + c]) * wx;
        float v = top_v + (bot_v - top_v) * wy;
        dst[(size_t)y * rs + (size_t)x * 3 + (size_t)c] = v * scale[c] + bias[c];
      }
    }
  }
}

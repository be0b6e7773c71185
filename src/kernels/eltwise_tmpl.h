/*
 * eltwise_tmpl.h - global average pooling, in-place activation and the kernel table of one
 * ISA, compiled once per ISA (see simd_tmpl.h). The table names the functions that the
 * sibling gemm/dwconv/conv files of the same ISA export.
 */
#include "kernels/simd_tmpl.h"

/* Four channel vectors per pass give four independent add chains per pixel. */
void ISA_NAME(dynrt__gap)(size_t n, size_t channels, const float *in, size_t in_cs, float *out) {
  DYNRT_ASSERT(n >= 1 && in_cs >= channels);
  const vf fn = vset1((float)n);
  size_t c0 = 0;
  for (; c0 + 4 * VW <= channels; c0 += 4 * VW) {
    vf s0 = vzero(), s1 = vzero(), s2 = vzero(), s3 = vzero();
    for (size_t p = 0; p < n; p++) {
      const float *x = in + p * in_cs + c0;
      s0 = vadd(s0, vload(x));
      s1 = vadd(s1, vload(x + VW));
      s2 = vadd(s2, vload(x + 2 * VW));
      s3 = vadd(s3, vload(x + 3 * VW));
    }
    vstore(out + c0, vdiv(s0, fn));
    vstore(out + c0 + VW, vdiv(s1, fn));
    vstore(out + c0 + 2 * VW, vdiv(s2, fn));
    vstore(out + c0 + 3 * VW, vdiv(s3, fn));
  }
  for (; c0 < channels; c0 += VW) {
    size_t cnt = DYNRT_MIN((size_t)VW, channels - c0);
    vmask msk = vmask_n(cnt);
    vf s = vzero();
    for (size_t p = 0; p < n; p++) s = vadd(s, vload_n(in + p * in_cs + c0, cnt, msk));
    vstore_n(out + c0, cnt, msk, vdiv(s, fn));
  }
}

void ISA_NAME(dynrt__act)(dynrt_act act, float *x, size_t n) {
  if (act == DYNRT_ACT_NONE) return;
  size_t i = 0;
  for (; i + VW <= n; i += VW) vstore(x + i, vact(act, vload(x + i)));
  if (i < n) {
    vmask msk = vmask_n(n - i);
    vstorem(x + i, msk, vact(act, vloadm(x + i, msk)));
  }
}

const dynrt_kernels ISA_NAME(dynrt__kernels) = {
    ISA_STR,
    ISA_NAME(dynrt__gemm),
    ISA_NAME(dynrt__dwconv),
    ISA_NAME(dynrt__conv),
    ISA_NAME(dynrt__gap),
    ISA_NAME(dynrt__act),
};

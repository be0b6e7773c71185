/* dwconv_avx2.c - the depthwise template (dw_tmpl.h) compiled for AVX2+FMA: 8 channels x
 * 4-pixel blocks. */
#include "kernels/vec_avx2.h"
#include "kernels/dw_tmpl.h"

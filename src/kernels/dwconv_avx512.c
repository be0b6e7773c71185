/* dwconv_avx512.c - the depthwise template (dw_tmpl.h) compiled for AVX-512: 16 channels x
 * 8-pixel blocks. */
#include "kernels/vec_avx512.h"
#include "kernels/dw_tmpl.h"

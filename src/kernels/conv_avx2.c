/* conv_avx2.c - the dense convolution template (conv_tmpl.h) compiled for AVX2+FMA. */
#include "kernels/vec_avx2.h"
#include "kernels/conv_tmpl.h"

/* conv_avx512.c - the dense convolution template (conv_tmpl.h) compiled for AVX-512. */
#include "kernels/vec_avx512.h"
#include "kernels/conv_tmpl.h"

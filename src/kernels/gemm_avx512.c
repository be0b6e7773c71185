/* gemm_avx512.c - the GEMM template (gemm_tmpl.h) compiled for AVX-512: 8x32 tiles. */
#include "kernels/vec_avx512.h"
#include "kernels/gemm_tmpl.h"

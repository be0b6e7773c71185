/* gemm_avx2.c - the GEMM template (gemm_tmpl.h) compiled for AVX2+FMA: 6x16 tiles. */
#include "kernels/vec_avx2.h"
#include "kernels/gemm_tmpl.h"

/* eltwise_avx512.c - AVX-512 pooling, activation and the "avx512" kernel table. */
#define ISA_STR "avx512"
#include "kernels/vec_avx512.h"
#include "kernels/eltwise_tmpl.h"

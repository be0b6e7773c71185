/* eltwise_avx2.c - AVX2+FMA pooling, activation and the "avx2" kernel table. */
#define ISA_STR "avx2"
#include "kernels/vec_avx2.h"
#include "kernels/eltwise_tmpl.h"

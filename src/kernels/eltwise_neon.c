/* eltwise_neon.c - AArch64 NEON pooling, activation and the "neon" kernel table. */
#define ISA_STR "neon"
#include "kernels/vec_neon.h"
#include "kernels/eltwise_tmpl.h"

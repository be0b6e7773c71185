/* gemm_neon.c - the GEMM template (gemm_tmpl.h) compiled for AArch64 NEON: 6x16 tiles, each
 * row one 16-float panel row in 4 q-registers (vector = q-register pair). */
#define DYNRT_NEON_X2 1
#include "kernels/vec_neon.h"
#include "kernels/gemm_tmpl.h"

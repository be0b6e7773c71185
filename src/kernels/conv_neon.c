/* conv_neon.c - the dense convolution template (conv_tmpl.h) compiled for AArch64 NEON:
 * 6 output pixels x 16 output channels (vector = q-register pair). */
/* The same 6x16 register budget as gemm_neon.c (24 accumulators, 4 B vectors, 6 broadcast
 * input values): see there for why the pre-allocation scheduler is off (GCC only). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns")
#endif
#define DYNRT_NEON_X2 1
#include "kernels/vec_neon.h"
#include "kernels/conv_tmpl.h"

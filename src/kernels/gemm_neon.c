/* gemm_neon.c - the GEMM template (gemm_tmpl.h) compiled for AArch64 NEON: 6x16 tiles, each
 * row one 16-float panel row in 4 q-registers (vector = q-register pair). */
/* GCC 12 schedules the loads of all six A values of a k step ahead of the FMAs, which
 * needs 34 q-registers with the 24 accumulators and spills two accumulators per k; without
 * the pre-allocation scheduler the 6x16 loop runs from registers. It comes before every
 * include so that all inline functions of this file share the same options (GCC only). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-schedule-insns")
#endif
#define DYNRT_NEON_X2 1
#include "kernels/vec_neon.h"
#include "kernels/gemm_tmpl.h"

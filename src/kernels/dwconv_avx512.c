/* dwconv_avx512.c - the depthwise template (dw_tmpl.h) compiled for AVX-512: 16 channels x
 * 8-pixel blocks. */
/* GCC 12's generic tuning keeps integer values that do not fit in the general registers (row
 * pointers and offsets of the pixel block) in xmm16-31 and moves them back with vmovq where
 * loads and stores need them. On AMD cores such a move waits in the FP scheduler behind the
 * queued FMAs, so the addresses behind it, and the loads after those stores, wait for the
 * arithmetic. The Haswell cost model spills them to the stack instead (bench_kernels, this
 * file alone: 3x3 and stride-2 depthwise 11-37% faster, 5x5 and 7x7 unchanged). Only the cost
 * model changes; the instructions are still AVX-512. GCC only: clang spills to the stack. It
 * comes before every include so that all inline functions of this file share it. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("tune=haswell")
#endif
#include "kernels/vec_avx512.h"
#include "kernels/dw_tmpl.h"

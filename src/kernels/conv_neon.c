/* conv_neon.c - the dense convolution template (conv_tmpl.h) compiled for AArch64 NEON:
 * 6 output pixels x 16 output channels (vector = q-register pair). */
#define DYNRT_NEON_X2 1
#include "kernels/vec_neon.h"
#include "kernels/conv_tmpl.h"

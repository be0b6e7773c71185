/* dwconv_neon.c - the depthwise template (dw_tmpl.h) compiled for AArch64 NEON: 4 channels
 * (one q-register) x 8-pixel blocks. */
#include "kernels/vec_neon.h"
#include "kernels/dw_tmpl.h"

/* conv_avx512.c - the dense convolution template (conv_tmpl.h) compiled for AVX-512. */
/* Integer spills to the stack rather than to xmm16-31, as in dwconv_avx512.c (here: stem
 * 3->16 and 3->24 convolutions 8-15% faster, 40- and 64-channel layers 2-4%). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("tune=haswell")
#endif
#include "kernels/vec_avx512.h"
#include "kernels/conv_tmpl.h"

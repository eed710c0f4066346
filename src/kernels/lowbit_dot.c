/* lowbit_dot.c — int8 code dot products (see lowbit_dot.h). The plain loop
 * is the reference; compilers vectorize it. */
#include "kernels/lowbit_dot.h"

int32_t ap_dot_i8(const int8_t *a, const int8_t *b, int32_t n) {
    int32_t s = 0;
    for (int32_t c = 0; c < n; c++) s += (int32_t)a[c] * (int32_t)b[c];
    return s;
}

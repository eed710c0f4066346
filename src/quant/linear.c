/* linear.c — symmetric linear quantization (see linear.h). */
#include "quant/linear.h"

void ap_linear_quant_row(const float *x, double div, int32_t n, double gamma, int32_t bits, int8_t *out) {
#pragma omp simd
    for (int32_t c = 0; c < n; c++) out[c] = ap_linear_quant((double)x[c] / div, gamma, bits);
}

double ap_linear_absmax_row(const float *x, double div, int32_t n) {
    /* max |x| / div: the same value as the max of |x_c| / div (a correctly
     * rounded division by a positive div is monotone), one division */
    float m = 0.0f;
    for (int32_t c = 0; c < n; c++) {
        const float v = fabsf(x[c]);
        if (v > m) m = v;
    }
    return (double)m / div;
}

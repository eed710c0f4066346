/* linear.c — symmetric linear quantization (see linear.h). */
#include "quant/linear.h"

void ap_linear_quant_row(const float *x, double div, int32_t n, double gamma, int32_t bits, int8_t *out) {
    for (int32_t c = 0; c < n; c++) out[c] = ap_linear_quant((double)x[c] / div, gamma, bits);
}

double ap_linear_absmax_row(const float *x, double div, int32_t n) {
    double m = 0.0;
    for (int32_t c = 0; c < n; c++) {
        double v = fabs((double)x[c] / div);
        if (v > m) m = v;
    }
    return m;
}

/* pow2.c — HAMMER's 2-bit power-of-two quantizer (see pow2.h). */
#include "quant/pow2.h"

int32_t ap_pow2_quant_row(const float *x, const double *shift, int32_t n, double cut, int32_t factor, int8_t *out) {
    int32_t large = 0;
    for (int32_t c = 0; c < n; c++) {
        double v = (double)x[c] - (shift ? shift[c] : 0.0);
        out[c] = ap_pow2_quant(v, cut, factor);
        large += v >= cut || v <= -cut;
    }
    return large;
}

int ap_pow2_factor_ok(int64_t factor) {
    return factor >= 1 && factor <= AP_POW2_MAX_FACTOR && (factor & (factor - 1)) == 0;
}

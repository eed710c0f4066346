/* msb_lsb.c — symmetric linear quantization with an MSB/LSB split (see
 * msb_lsb.h for the definition).
 *
 * Legend: T = rows, d = row width. */
#include "quant/msb_lsb.h"

#include <math.h>

#include "core/error.h"

double ap_msb_lsb_scale(const float *x, int32_t T, int32_t d, int64_t stride, const uint8_t *row_valid, int32_t bits) {
    AP_ASSERT(bits >= 2 && bits <= AP_MSB_LSB_MAX_BITS);
    double amax = 0.0;
    for (int32_t r = 0; r < T; r++) {
        if (row_valid && !row_valid[r]) continue;
        const float *row = x + (int64_t)r * stride;
        for (int32_t c = 0; c < d; c++) amax = fmax(amax, fabs((double)row[c]));
    }
    return amax > 0.0 ? amax / (double)((1 << (bits - 1)) - 1) : 1.0;
}

void ap_msb_lsb_row(const float *x, int32_t d, double scale, int32_t bits, int32_t msb_bits, double *full,
                    double *msb) {
    AP_ASSERT(bits >= 2 && bits <= AP_MSB_LSB_MAX_BITS && msb_bits >= 1 && msb_bits <= bits);
    const double cmax = (double)((1 << (bits - 1)) - 1);
    const double step = (double)(1 << (bits - msb_bits)); /* 2^(B-M): codes per MSB value */
    const double mid = (step - 1.0) / 2.0;
    for (int32_t c = 0; c < d; c++) {
        double code = rint((double)x[c] / scale);
        code = fmin(cmax, fmax(-cmax, code));
        if (full) full[c] = code * scale;
        if (msb) msb[c] = (floor(code / step) * step + mid) * scale;
    }
}

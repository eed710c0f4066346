/* analog_output.c — b-bit output precision of an in-memory dot product (see
 * analog_output.h). */
#include "quant/analog_output.h"

#include "core/error.h"

int32_t ap_analog_output_levels(int32_t b) {
    AP_ASSERT(b >= 2 && b <= AP_ANALOG_MAX_BITS);
    return (int32_t)((1 << (b - 1)) - 1);
}

int32_t ap_analog_output_code(int64_t a, int64_t range, int32_t b) {
    const int64_t L = ap_analog_output_levels(b);
    if (range <= 0) return 0;
    const int64_t mag = a < 0 ? -a : a;
    AP_ASSERT(mag <= range && range < ((int64_t)1 << 40));
    /* floor(|a| L / R + 1/2) = floor((2 |a| L + R) / (2 R)) */
    int64_t c = (2 * mag * L + range) / (2 * range);
    if (c > L) c = L;
    return (int32_t)(a < 0 ? -c : c);
}

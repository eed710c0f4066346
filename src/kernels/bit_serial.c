/* bit_serial.c — LEOPARD's bit-serial dot product with the dynamic margin
 * (see bit_serial.h). A plain per-step loop: each step adds the next B
 * magnitude bits of every element (the 12 x B-bit MACs of a QK-DPU), then
 * compares P_t + M_t with the threshold (the thresholding module). */
#include "kernels/bit_serial.h"

#include "core/error.h"

int ap_bit_serial_dot(const int32_t *q, const int32_t *kmag, const uint8_t *kneg, int32_t d, int32_t n,
                      int32_t bits_per_step, int64_t th, struct ap_bs_result *res, struct ap_bs_step *steps) {
    AP_ASSERT(n >= 1 && n <= 16 && bits_per_step >= 1 && d >= 0 && d <= 512);
    /* S+: |q_i| over the elements whose product is positive (sign bits
     * equal: the XOR of figure 2.6-(b) is 0). Known after the sign bits. */
    int64_t splus = 0;
    for (int32_t i = 0; i < d; i++)
        if ((q[i] < 0) == (kneg[i] != 0)) splus += q[i] < 0 ? -(int64_t)q[i] : (int64_t)q[i];

    const int32_t total = n + 1; /* bits per key element, sign included */
    int32_t read = 0, t_prev = 0, step = 0;
    int64_t p = 0;
    for (;;) {
        read = read + bits_per_step < total ? read + bits_per_step : total;
        const int32_t t = read - 1, shift = n - t;
        if (t > t_prev) { /* magnitude bits t_prev+1 .. t of every element */
            const int32_t width_mask = (int32_t)((1u << (t - t_prev)) - 1u);
            int64_t acc = 0;
            for (int32_t i = 0; i < d; i++) {
                int64_t chunk = (kmag[i] >> shift) & width_mask;
                acc += kneg[i] ? -(int64_t)q[i] * chunk : (int64_t)q[i] * chunk;
            }
            p += acc * ((int64_t)1 << shift);
            t_prev = t;
        }
        const int64_t margin = splus * (((int64_t)1 << shift) - 1);
        if (steps) steps[step] = (struct ap_bs_step){.bits = read, .t = t, .partial = p, .margin = margin};
        step++;
        const int pruned = p + margin < th;
        if (pruned || read == total) {
            res->partial = p;
            res->margin = margin;
            res->bits = read;
            res->steps = step;
            return !pruned;
        }
    }
}

int64_t ap_sign_magnitude_dot(const int32_t *q, const int32_t *kmag, const uint8_t *kneg, int32_t d) {
    int64_t acc = 0;
    for (int32_t i = 0; i < d; i++) acc += kneg[i] ? -(int64_t)q[i] * kmag[i] : (int64_t)q[i] * kmag[i];
    return acc;
}

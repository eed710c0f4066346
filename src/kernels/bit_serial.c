/* bit_serial.c — LEOPARD's bit-serial dot product with the dynamic margin
 * (see bit_serial.h). A plain per-step loop: each step adds the next B
 * magnitude bits of every element (the 12 x B-bit MACs of a QK-DPU), then
 * compares P_t + M_t with the threshold (the thresholding module). */
#include "kernels/bit_serial.h"

#include <cblas.h>

#include "core/error.h"
#include "kernels/lowbit_dot.h"

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

int ap_bs_rows_exact(int32_t d, int64_t q_max, int32_t n, int32_t bits_per_step) {
    if (n < 1 || n > 16 || bits_per_step < 1) return 0;
    const int32_t w = bits_per_step < n ? bits_per_step : n;
    return ap_codes_exact_f32(d, q_max, ((int64_t)1 << w) - 1) && ap_codes_exact_f32(d, q_max, 1);
}

/* The step schedule of ap_bit_serial_dot: bits read, shift and whether new
 * magnitude bits arrive, step by step. */
static void bs_schedule(struct ap_bs_keys *kk) {
    const int32_t total = kk->n + 1;
    int32_t read = 0, t_prev = 0, c = 0;
    kk->n_chunks = 0;
    for (;;) {
        read = read + kk->B < total ? read + kk->B : total;
        const int32_t t = read - 1;
        kk->read[c] = read;
        kk->shift[c] = kk->n - t;
        kk->chunk[c] = t > t_prev ? kk->n_chunks++ : -1;
        if (t > t_prev) t_prev = t;
        c++;
        if (read == total) break;
    }
    kk->n_steps = c;
}

size_t ap_bs_keys_floats(int32_t T, int32_t d, int32_t n, int32_t bits_per_step) {
    struct ap_bs_keys kk = {.n = n, .B = bits_per_step};
    bs_schedule(&kk);
    return ((size_t)kk.n_chunks + 1) * (size_t)T * (size_t)d;
}

void ap_bs_keys_prepare(struct ap_bs_keys *kk, const int32_t *kmag, const uint8_t *kneg, int32_t T, int32_t d,
                        int32_t n, int32_t bits_per_step, float *buf) {
    AP_ASSERT(n >= 1 && n <= 16 && bits_per_step >= 1 && d >= 0 && d <= 512);
    *kk = (struct ap_bs_keys){.T = T, .d = d, .n = n, .B = bits_per_step};
    bs_schedule(kk);
    const int64_t td = (int64_t)T * d;
    float *signs = buf + (int64_t)kk->n_chunks * td;
    for (int64_t x = 0; x < td; x++) signs[x] = kneg[x] ? -1.0f : 1.0f;
    int32_t t_prev = 0;
    for (int32_t c = 0; c < kk->n_steps; c++) {
        if (kk->chunk[c] < 0) continue;
        const int32_t shift = kk->shift[c], t = n - shift;
        const int32_t width_mask = (int32_t)((1u << (t - t_prev)) - 1u);
        float *ch = buf + (int64_t)kk->chunk[c] * td;
        for (int64_t x = 0; x < td; x++) ch[x] = signs[x] * (float)((kmag[x] >> shift) & width_mask);
        t_prev = t;
    }
    kk->chunks = buf;
    kk->signs = signs;
}

size_t ap_bs_rows_floats(int32_t T, int32_t d, int32_t n, int32_t bits_per_step, int32_t n_rows) {
    struct ap_bs_keys kk = {.n = n, .B = bits_per_step};
    bs_schedule(&kk);
    return (size_t)n_rows * (size_t)d + ((size_t)kk.n_chunks + 1) * (size_t)n_rows * (size_t)T;
}

void ap_bit_serial_rows(const struct ap_bs_keys *kk, const int32_t *q, int32_t n_rows, int32_t n_keys, int64_t th,
                        float *scratch, uint8_t *keep, uint8_t *bits, int64_t ld) {
    const int32_t T = kk->T, d = kk->d;
    AP_ASSERT(n_keys <= T);
    if (n_rows <= 0 || n_keys <= 0) return;
    float *qf = scratch;                      /* (n_rows, d) */
    float *gs = qf + (int64_t)n_rows * d;     /* (n_rows, T): q . sgn(k) */
    float *gc = gs + (int64_t)n_rows * T;     /* (n_chunks, n_rows, T): q . chunk */
    for (int64_t x = 0; x < (int64_t)n_rows * d; x++) qf[x] = (float)q[x];
    ap_codes_gemm_f32(qf, n_rows, kk->signs, n_keys, d, gs, T);
    for (int32_t m = 0; m < kk->n_chunks; m++)
        ap_codes_gemm_f32(qf, n_rows, kk->chunks + (int64_t)m * T * d, n_keys, d, gc + (int64_t)m * n_rows * T, T);
    for (int32_t r = 0; r < n_rows; r++) {
        int64_t sum_abs = 0;
        for (int32_t i = 0; i < d; i++) sum_abs += q[(int64_t)r * d + i] < 0 ? -(int64_t)q[(int64_t)r * d + i]
                                                                            : (int64_t)q[(int64_t)r * d + i];
        for (int32_t j = 0; j < n_keys; j++) {
            const int64_t at = (int64_t)r * T + j;
            /* |q_i| + q_i sgn(k_i) is 2|q_i| where the signs agree, else 0 */
            const int64_t splus = (sum_abs + (int64_t)gs[at]) / 2;
            int64_t p = 0;
            for (int32_t c = 0;; c++) {
                const int32_t shift = kk->shift[c];
                if (kk->chunk[c] >= 0) p += (int64_t)gc[(int64_t)kk->chunk[c] * n_rows * T + at] * ((int64_t)1 << shift);
                const int64_t margin = splus * (((int64_t)1 << shift) - 1);
                const int pruned = p + margin < th;
                if (pruned || c == kk->n_steps - 1) {
                    keep[(int64_t)r * ld + j] = (uint8_t)!pruned;
                    bits[(int64_t)r * ld + j] = (uint8_t)kk->read[c];
                    break;
                }
            }
        }
    }
}

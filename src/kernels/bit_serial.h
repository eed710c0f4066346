/* bit_serial.h — LEOPARD's bit-serial Q·K dot product with early termination
 * (ISCA 2022, section 2.2.4, figure 2.4, table 2.1).
 *
 * Legend: d = head dimension, n = magnitude bits of a key element,
 * B = key bits read per step.
 *
 * The query is a vector of two's complement integer codes q_i (full
 * precision). The key is in sign-magnitude: sign bits s_i and n-bit
 * magnitudes m_i, read as one word [s, m_1 (MSB), m_2, ..., m_n] from the
 * top, B bits per step. After step c, min(c*B, n+1) bits of each element have
 * been read, t = that - 1 of them magnitude bits, and
 *
 *   P_t = sum_i q_i * (-1)^s_i * (m_i >> (n-t)) * 2^(n-t)      partial sum
 *   M_t = S+ * (2^(n-t) - 1),  S+ = sum_{i: sign q_i = s_i} |q_i|   margin
 *
 * both in units of (one q code) x (one key magnitude LSB). This is the
 * paper's M_t = S+ * (2^-t - 2^-n) with the key as a fraction 0.m_1..m_n,
 * multiplied by 2^n so everything is an integer. M_t bounds what the unread
 * bits can still add, so P_t + M_t >= q·k. The dot product stops, pruned, at
 * the first step with P_t + M_t < th; after the last step M_n = 0 and
 * P_n = q·k, so the decision is exactly "q·k >= th" whatever the steps:
 * early termination changes the work, never the outcome. */
#ifndef AP_KERNELS_BIT_SERIAL_H
#define AP_KERNELS_BIT_SERIAL_H

#include <stddef.h>
#include <stdint.h>

/* What one dot product did. */
struct ap_bs_result {
    int64_t partial; /* P_t when it stopped (q·k if it ran to the end) */
    int64_t margin;  /* M_t when it stopped */
    int32_t bits;    /* key bits read per element, sign included: 1..n+1 */
    int32_t steps;   /* steps (cycles of B bits) taken: ceil(bits / B) */
};

/* One step, for tests and traces. */
struct ap_bs_step {
    int32_t bits;    /* key bits read so far, sign included */
    int32_t t;       /* magnitude bits read so far */
    int64_t partial; /* P_t */
    int64_t margin;  /* M_t */
};

/* Contract: q (d) codes with |q_i| < 2^16; kmag (d) magnitudes in
 * 0..2^n-1; kneg (d) sign bits (1 = negative); n in 1..16; B >= 1; d <= 512
 * (so no sum overflows int64). th is the threshold in the integer units
 * above. Returns 1 (kept: q·k >= th) or 0 (pruned) and fills *res. If steps
 * is not NULL it receives one entry per step taken (at most ceil((n+1)/B)).
 * No allocation. */
int ap_bit_serial_dot(const int32_t *q, const int32_t *kmag, const uint8_t *kneg, int32_t d, int32_t n,
                      int32_t bits_per_step, int64_t th, struct ap_bs_result *res, struct ap_bs_step *steps);

/* The full-precision dot product sum_i q_i * (-1)^s_i * m_i, the reference
 * the bit-serial decision is tested against. */
int64_t ap_sign_magnitude_dot(const int32_t *q, const int32_t *kmag, const uint8_t *kneg, int32_t d);

/* The same decisions a block of queries at a time, without a loop per
 * pair and step: each step's partial product over every element is the
 * product of the query codes with that step's signed key chunks
 * (-1)^s_i * ((m_i >> (n-t)) & (2^(t-t_prev) - 1)), one sgemm per step for
 * a block of rows against all keys, and S+ = (sum_i |q_i| + q.sgn(k)) / 2 is
 * one more. All of them are integers below 2^24 when ap_bs_rows_exact()
 * says so, so fp32 sums them exactly in any order; the per-pair walk over
 * the steps then does the scalar's arithmetic in int64 and gives the same
 * decision, bits and steps as ap_bit_serial_dot for every pair. */
#define AP_BS_MAX_STEPS 17 /* n + 1 <= 17 bits, at least one per step */

struct ap_bs_keys {
    int32_t T, d, n, B;
    int32_t n_steps;                 /* steps to read all n + 1 bits */
    int32_t read[AP_BS_MAX_STEPS];   /* bits read after each step, sign included */
    int32_t shift[AP_BS_MAX_STEPS];  /* n - t after each step */
    int32_t chunk[AP_BS_MAX_STEPS];  /* index into chunks of the step's new bits, -1 if none */
    int32_t n_chunks;
    const float *chunks;             /* (n_chunks, T, d) signed key chunks */
    const float *signs;              /* (T, d): -1 or +1 */
};

/* 1 if a block with query codes |q_i| <= q_max, d elements, n magnitude
 * bits and B bits per step is exact in fp32 (d * q_max * (2^min(B, n) - 1)
 * <= 2^24, and d * q_max <= 2^24 for the signs). */
int ap_bs_rows_exact(int32_t d, int64_t q_max, int32_t n, int32_t bits_per_step);

/* Floats of key storage ap_bs_keys_prepare needs for T keys. */
size_t ap_bs_keys_floats(int32_t T, int32_t d, int32_t n, int32_t bits_per_step);

/* Fills *kk from the keys' magnitudes and signs (T, d), using buf
 * (ap_bs_keys_floats floats). Same contract on n, B, d as ap_bit_serial_dot. */
void ap_bs_keys_prepare(struct ap_bs_keys *kk, const int32_t *kmag, const uint8_t *kneg, int32_t T, int32_t d,
                        int32_t n, int32_t bits_per_step, float *buf);

/* Floats of scratch ap_bit_serial_rows needs for n_rows rows against T keys. */
size_t ap_bs_rows_floats(int32_t T, int32_t d, int32_t n, int32_t bits_per_step, int32_t n_rows);

/* Decisions of query rows q (n_rows, d) against keys 0 .. n_keys - 1: for
 * pair (r, j) keep[r * ld + j] = 1 or 0 and bits[r * ld + j] = the key bits
 * read (sign included), exactly as ap_bit_serial_dot. Pairs beyond n_keys
 * are not written. Requires ap_bs_rows_exact(d, max|q|, n, B). */
void ap_bit_serial_rows(const struct ap_bs_keys *kk, const int32_t *q, int32_t n_rows, int32_t n_keys, int64_t th,
                        float *scratch, uint8_t *keep, uint8_t *bits, int64_t ld);

#endif

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

#endif

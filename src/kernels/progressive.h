/* progressive.h — SpAtten's progressive quantization decision for one query
 * row (generation stage; slides "Progressive Quantization" and "Determine
 * Attention Error with Attention Probability").
 *
 * Legend: T = keys, d = head dimension.
 *
 * The keys' MSB parts are fetched first and the row's probabilities are
 * computed from them. A large maximum probability means a small error, so
 * the row is done; if the maximum is below the threshold, the LSBs are
 * fetched and the probabilities recomputed with full-width keys. The key
 * bits fetched for the row are msb_bits per key, or bits per key after a
 * requantization; the effective key width of many rows is the mean of that.
 *
 * The query stays in float (the artifact's traces use 16-bit queries). */
#ifndef AP_KERNELS_PROGRESSIVE_H
#define AP_KERNELS_PROGRESSIVE_H

#include <stdint.h>

struct ap_pq_row_result {
    int32_t requant;  /* 1 = the LSBs were fetched and the row recomputed */
    double max_prob;  /* maximum probability from the MSB-only keys */
    int32_t key_bits; /* bits fetched per key for this row: msb_bits, or bits if requant */
};

/* q (d); k_msb and k_full (T, d) dequantized MSB-only and full-width keys
 * (quant/msb_lsb.h), contiguous. Keys j <= last_key with key_valid[j] (or
 * key_valid NULL) are visible. p (T) receives the probabilities the row ends
 * with (from MSB-only keys, or from full keys after a requantization); 0 for
 * keys not visible. A row with no visible key is not requantized. */
struct ap_pq_row_result ap_pq_row(const float *q, const double *k_msb, const double *k_full, int32_t T, int32_t d,
                                  float scale, int32_t last_key, const uint8_t *key_valid, double threshold,
                                  int32_t bits, int32_t msb_bits, double *p);

#endif

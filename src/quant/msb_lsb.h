/* msb_lsb.h — symmetric linear quantization with an MSB/LSB split, for
 * SpAtten's progressive quantization.
 *
 * Legend: T = rows (keys or values), d = row width.
 *
 * A value x becomes the code c = clamp(rint(x / scale), -(2^(B-1) - 1),
 * 2^(B-1) - 1) of B = bits bits (two's complement, rint = round half to
 * even). Its MSB part is the top M = msb_bits bits: m = floor(c / 2^(B-M)),
 * what SpAtten fetches first from DRAM; the LSB part (the other B - M bits)
 * is fetched only when a row has to be recomputed. Dequantized:
 *     full = c * scale
 *     msb  = (m * 2^(B-M) + (2^(B-M) - 1) / 2) * scale
 * i.e. the MSB-only value is the middle of the range of codes it stands for
 * (the slides do not say how the missing LSBs are filled; the midpoint is
 * unbiased, zero-filling would bias every value down by half that range).
 * The artifact's traces use B = 12 and M = 8 for keys. */
#ifndef AP_QUANT_MSB_LSB_H
#define AP_QUANT_MSB_LSB_H

#include <stdint.h>

#define AP_MSB_LSB_MAX_BITS 24

/* The scale that maps max|x| over the rows with row_valid[r] != 0 (all if
 * NULL) of x (T, d; row stride stride) to the largest code 2^(bits-1) - 1;
 * 1.0 when they are all zero (or there are none). */
double ap_msb_lsb_scale(const float *x, int32_t T, int32_t d, int64_t stride, const uint8_t *row_valid, int32_t bits);

/* Dequantized full-width and MSB-only values of one row x (d); full and msb
 * are (d) and either may be NULL. 2 <= bits <= AP_MSB_LSB_MAX_BITS,
 * 1 <= msb_bits <= bits. */
void ap_msb_lsb_row(const float *x, int32_t d, double scale, int32_t bits, int32_t msb_bits, double *full,
                    double *msb);

#endif

/* analog_output.h — the limited output precision of an in-memory (analog)
 * dot product, modelled as a b-bit quantization of its result (SPRINT,
 * thesis chapter 3, section 3.3.5, equation 3.3: "Score_R^b ... when the
 * output has limited accuracy with a b-bit precision"; b = 5 from the
 * HP Lab measurement of a 64-tap ReRAM dot product).
 *
 * The paper does not say what full scale the b bits span. We take the
 * largest |a| over the head's valid pairs, R, as full scale (the noise is
 * then relative to the signal the crossbar actually produces, which is how
 * an SNR-equivalent bit count reads), and quantize symmetrically:
 *
 *   L = 2^(b-1) - 1 levels per sign,  step = R / L
 *   code(a) = sign(a) * floor(|a| * L / R + 1/2)    in -L..L   (halves away from 0)
 *   value(a) = code(a) * R / L
 *
 * computed in integers (a and R are integer dot products), so a reference
 * that follows the same formula agrees exactly. R = 0 gives code 0. */
#ifndef AP_QUANT_ANALOG_OUTPUT_H
#define AP_QUANT_ANALOG_OUTPUT_H

#include <stdint.h>

#define AP_ANALOG_MAX_BITS 16

/* code(a) for full scale range >= |a| >= 0, b in 2..AP_ANALOG_MAX_BITS.
 * |a| and range below 2^40. */
int32_t ap_analog_output_code(int64_t a, int64_t range, int32_t b);

/* L = 2^(b-1) - 1, the largest code. */
int32_t ap_analog_output_levels(int32_t b);

#endif

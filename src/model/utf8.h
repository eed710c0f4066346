/* utf8.h — strict UTF-8 decoding and encoding.
 *
 * "Strict" is RFC 3629 / Unicode chapter 3 well-formedness: no overlong
 * forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no
 * truncated sequences, no stray continuation bytes. These are exactly the
 * byte strings Rust's str (and so Hugging Face tokenizers) accepts. */
#ifndef AP_MODEL_UTF8_H
#define AP_MODEL_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define AP_UTF8_MAX 4 /* bytes in the longest encoded code point */

/* Decode the code point starting at s[*pos] (pos < len). On success store it
 * in *cp, advance *pos past it and return 1; on an ill-formed sequence return
 * 0 and leave *pos at the offending sequence's first byte. */
int ap_utf8_decode(const uint8_t *s, size_t len, size_t *pos, uint32_t *cp);

/* The offset of the first byte of s[0..len) that does not start a well-formed
 * sequence, or len if the whole buffer is valid UTF-8. For a truncated or
 * otherwise broken multi-byte sequence that is the sequence's lead byte. */
size_t ap_utf8_validate(const uint8_t *s, size_t len);

/* Encode cp into out; returns the byte count (1..4), or 0 if cp is a
 * surrogate or above U+10FFFF (nothing is written). */
size_t ap_utf8_encode(uint32_t cp, uint8_t out[AP_UTF8_MAX]);

#endif

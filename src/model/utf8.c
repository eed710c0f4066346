/* utf8.c — strict UTF-8 decoding and encoding (see utf8.h for the contract). */
#include "model/utf8.h"

/* The well-formed byte sequences (Unicode 14, table 3-7):
 *
 *   U+0000..U+007F      00..7F
 *   U+0080..U+07FF      C2..DF  80..BF
 *   U+0800..U+0FFF      E0      A0..BF  80..BF
 *   U+1000..U+CFFF      E1..EC  80..BF  80..BF
 *   U+D000..U+D7FF      ED      80..9F  80..BF
 *   U+E000..U+FFFF      EE..EF  80..BF  80..BF
 *   U+10000..U+3FFFF    F0      90..BF  80..BF  80..BF
 *   U+40000..U+FFFFF    F1..F3  80..BF  80..BF  80..BF
 *   U+100000..U+10FFFF  F4      80..8F  80..BF  80..BF
 *
 * Checking the second byte's range against the lead byte rejects overlongs
 * (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and values past U+10FFFF
 * (F4 90..BF) in one place. */
int ap_utf8_decode(const uint8_t *s, size_t len, size_t *pos, uint32_t *cp) {
    size_t i = *pos;
    uint32_t b0 = s[i];
    if (b0 < 0x80) {
        *cp = b0;
        *pos = i + 1;
        return 1;
    }
    size_t n;          /* continuation bytes */
    uint32_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    uint32_t c;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 1;
        c = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 2;
        c = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        else if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 3;
        c = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        else if (b0 == 0xF4) hi = 0x8F;
    } else {
        return 0; /* 80..C1 (continuation or overlong lead) or F5..FF */
    }
    if (len - i <= n) return 0; /* truncated */
    uint32_t b1 = s[i + 1];
    if (b1 < lo || b1 > hi) return 0;
    c = (c << 6) | (b1 & 0x3F);
    for (size_t k = 2; k <= n; k++) {
        uint32_t b = s[i + k];
        if ((b & 0xC0) != 0x80) return 0;
        c = (c << 6) | (b & 0x3F);
    }
    *cp = c;
    *pos = i + 1 + n;
    return 1;
}

size_t ap_utf8_validate(const uint8_t *s, size_t len) {
    size_t pos = 0;
    uint32_t cp;
    while (pos < len) {
        /* ASCII runs are the common case: skip eight bytes at a time. */
        while (len - pos >= 8) {
            uint64_t w = 0;
            for (int k = 0; k < 8; k++) w |= (uint64_t)s[pos + (size_t)k] << (8 * k);
            if (w & 0x8080808080808080ull) break;
            pos += 8;
        }
        if (pos >= len) break;
        if (!ap_utf8_decode(s, len, &pos, &cp)) return pos;
    }
    return len;
}

size_t ap_utf8_encode(uint32_t cp, uint8_t out[AP_UTF8_MAX]) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp <= 0x10FFFF) {
        out[0] = (uint8_t)(0xF0 | (cp >> 18));
        out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (uint8_t)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

/* dtype.c — element type sizes, names and the half-precision conversions. */
#include "io/dtype.h"

#include <stdio.h>
#include <string.h>

size_t ap_dtype_size(enum ap_dtype dtype) {
    switch (dtype) {
    case AP_DTYPE_F64:
    case AP_DTYPE_I64: return 8;
    case AP_DTYPE_F32:
    case AP_DTYPE_I32: return 4;
    case AP_DTYPE_F16:
    case AP_DTYPE_BF16:
    case AP_DTYPE_I16: return 2;
    case AP_DTYPE_I8:
    case AP_DTYPE_U8:
    case AP_DTYPE_BOOL: return 1;
    }
    return 0;
}

const char *ap_dtype_name(enum ap_dtype dtype) {
    switch (dtype) {
    case AP_DTYPE_F32: return "F32";
    case AP_DTYPE_F16: return "F16";
    case AP_DTYPE_BF16: return "BF16";
    case AP_DTYPE_F64: return "F64";
    case AP_DTYPE_I64: return "I64";
    case AP_DTYPE_I32: return "I32";
    case AP_DTYPE_I16: return "I16";
    case AP_DTYPE_I8: return "I8";
    case AP_DTYPE_U8: return "U8";
    case AP_DTYPE_BOOL: return "BOOL";
    }
    return "?";
}

static float bits_to_f32(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* binary16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
 * Normal numbers re-bias the exponent (15 -> 127) and widen the mantissa;
 * subnormals (exponent 0) are normalized by shifting the mantissa up until
 * its leading 1 reaches the implicit-bit position; exponent 31 is inf/NaN,
 * whose payload is kept in the top mantissa bits. */
float ap_f16_to_f32(uint16_t bits) {
    uint32_t sign = (uint32_t)(bits & 0x8000u) << 16;
    uint32_t exp = (bits >> 10) & 0x1fu;
    uint32_t man = bits & 0x3ffu;
    if (exp == 0x1fu) return bits_to_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0) return bits_to_f32(sign);
        uint32_t e = 127 - 15 + 1; /* the exponent a subnormal has before normalizing */
        while (!(man & 0x400u)) {
            man <<= 1;
            e--;
        }
        man &= 0x3ffu;
        return bits_to_f32(sign | (e << 23) | (man << 13));
    }
    return bits_to_f32(sign | ((exp + 127 - 15) << 23) | (man << 13));
}

/* bfloat16 is the top half of a float. */
float ap_bf16_to_f32(uint16_t bits) { return bits_to_f32((uint32_t)bits << 16); }

int ap_dtype_to_f32(enum ap_dtype dtype, const void *src, size_t n, float *dst) {
    const unsigned char *s = src;
    switch (dtype) {
    case AP_DTYPE_F32:
        memcpy(dst, s, n * sizeof(float));
        return 1;
    case AP_DTYPE_F16:
    case AP_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t b = (uint16_t)(s[2 * i] | (s[2 * i + 1] << 8));
            dst[i] = dtype == AP_DTYPE_F16 ? ap_f16_to_f32(b) : ap_bf16_to_f32(b);
        }
        return 1;
    case AP_DTYPE_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, s + 8 * i, sizeof d);
            dst[i] = (float)d;
        }
        return 1;
    default: return 0;
    }
}

/* ------------------------------------------------------------ shapes */

/* Append text at *at in buf (cap bytes); returns 0 once it no longer fits. */
static int shape_append(char *buf, size_t cap, size_t *at, const char *text) {
    size_t n = strlen(text);
    if (*at + n + 1 > cap) return 0;
    memcpy(buf + *at, text, n + 1);
    *at += n;
    return 1;
}

void ap_shape_format(char *buf, size_t cap, const int64_t *shape, int32_t ndim) {
    if (cap == 0) return;
    buf[0] = '\0';
    size_t at = 0;
    int fits = shape_append(buf, cap, &at, "[");
    for (int32_t i = 0; fits && i < ndim; i++) {
        char part[32];
        if (shape[i] < 0)
            snprintf(part, sizeof part, "%s*", i ? ", " : "");
        else
            snprintf(part, sizeof part, "%s%lld", i ? ", " : "", (long long)shape[i]);
        fits = shape_append(buf, cap, &at, part);
    }
    if (fits) fits = shape_append(buf, cap, &at, "]");
    if (!fits) {
        size_t keep = cap > 4 ? cap - 4 : 0; /* room for "..." and the NUL */
        if (at > keep) at = keep;
        snprintf(buf + at, cap - at, "...");
    }
}

int ap_shape_matches(const int64_t *shape, int32_t ndim, const int64_t *expected, int32_t expected_ndim) {
    if (ndim != expected_ndim) return 0;
    for (int32_t i = 0; i < ndim; i++)
        if (expected[i] >= 0 && expected[i] != shape[i]) return 0;
    return 1;
}

int ap_shape_numel(const int64_t *shape, int32_t ndim, size_t *numel) {
    size_t n = 1;
    int zero = 0;
    for (int32_t i = 0; i < ndim; i++) {
        if (shape[i] < 0) return 0;
        if (shape[i] == 0) zero = 1;
    }
    if (zero) {
        *numel = 0;
        return 1;
    }
    for (int32_t i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (d > SIZE_MAX || n > SIZE_MAX / (size_t)d) return 0;
        n *= (size_t)d;
    }
    *numel = n;
    return 1;
}

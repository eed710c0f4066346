/* gguf_dequant.c — ggml's tensor element types: their block sizes and names,
 * and the conversion of their blocks to float32.
 *
 * Each dequantizer is written from the block layout (docs/formats.md has the
 * table) and computes every element with the same float operations, in the
 * same order, as ggml's dequantize_row_* (ggml-quants.c) and the gguf Python
 * package's quants.py, so the results agree bit for bit; the unit tests check
 * that against gguf.quants.dequantize. Every operation is one rounding of a
 * float product or difference: nothing here may be fused into an FMA, which
 * is why contraction is turned off below (GCC in ISO C mode does not
 * contract; clang would).
 *
 * Legend: B = elements per block (32, or QK_K = 256 for the K-quants);
 * blocks are read with memcpy, so any alignment is fine. */
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "io/dtype.h"
#include "io/gguf.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define QK 32    /* elements in a Q4_0 .. Q8_0 block */
#define QK_K 256 /* elements in a K-quant super-block */

/* ---------------------------------------------------------- type table */

struct ggml_type_info {
    const char *name;
    int32_t block_elems;
    int32_t block_bytes;
};

static const struct ggml_type_info *type_info(enum ap_ggml_type type) {
    static const struct ggml_type_info f32 = {"F32", 1, 4}, f16 = {"F16", 1, 2}, bf16 = {"BF16", 1, 2},
                                       q4_0 = {"Q4_0", QK, 2 + QK / 2}, q4_1 = {"Q4_1", QK, 4 + QK / 2},
                                       q5_0 = {"Q5_0", QK, 2 + 4 + QK / 2}, q5_1 = {"Q5_1", QK, 4 + 4 + QK / 2},
                                       q8_0 = {"Q8_0", QK, 2 + QK},
                                       q4_k = {"Q4_K", QK_K, 4 + 12 + QK_K / 2},
                                       q5_k = {"Q5_K", QK_K, 4 + 12 + QK_K / 8 + QK_K / 2},
                                       q6_k = {"Q6_K", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2};
    switch (type) {
    case AP_GGML_F32: return &f32;
    case AP_GGML_F16: return &f16;
    case AP_GGML_BF16: return &bf16;
    case AP_GGML_Q4_0: return &q4_0;
    case AP_GGML_Q4_1: return &q4_1;
    case AP_GGML_Q5_0: return &q5_0;
    case AP_GGML_Q5_1: return &q5_1;
    case AP_GGML_Q8_0: return &q8_0;
    case AP_GGML_Q4_K: return &q4_k;
    case AP_GGML_Q5_K: return &q5_k;
    case AP_GGML_Q6_K: return &q6_k;
    }
    return NULL;
}

int32_t ap_ggml_block_elems(enum ap_ggml_type type) {
    const struct ggml_type_info *t = type_info(type);
    return t ? t->block_elems : 0;
}

int32_t ap_ggml_block_bytes(enum ap_ggml_type type) {
    const struct ggml_type_info *t = type_info(type);
    return t ? t->block_bytes : 0;
}

const char *ap_ggml_type_name(enum ap_ggml_type type) {
    const struct ggml_type_info *t = type_info(type);
    return t ? t->name : "?";
}

/* -------------------------------------------------------------- helpers */

static float rd_f16(const unsigned char *p) { return ap_f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

static uint32_t rd_u32le(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------- 32-element blocks */

/* Q4_0 (18 bytes): f16 d; u8 qs[16]. Element j < 16 is the low nibble of
 * qs[j], element j + 16 its high nibble; y = (q - 8) * d. */
static void deq_q4_0(const unsigned char *b, float *y) {
    const float d = rd_f16(b);
    const unsigned char *qs = b + 2;
    for (int j = 0; j < QK / 2; j++) {
        const int x0 = (qs[j] & 0x0f) - 8;
        const int x1 = (qs[j] >> 4) - 8;
        y[j] = (float)x0 * d;
        y[j + QK / 2] = (float)x1 * d;
    }
}

/* Q4_1 (20 bytes): f16 d, f16 m; u8 qs[16] as Q4_0; y = q * d + m. */
static void deq_q4_1(const unsigned char *b, float *y) {
    const float d = rd_f16(b), m = rd_f16(b + 2);
    const unsigned char *qs = b + 4;
    for (int j = 0; j < QK / 2; j++) {
        const int x0 = qs[j] & 0x0f;
        const int x1 = qs[j] >> 4;
        y[j] = (float)x0 * d + m;
        y[j + QK / 2] = (float)x1 * d + m;
    }
}

/* Q5_0 (22 bytes): f16 d; u32 qh (bit j is the fifth bit of element j);
 * u8 qs[16] as Q4_0; y = (q - 16) * d. */
static void deq_q5_0(const unsigned char *b, float *y) {
    const float d = rd_f16(b);
    const uint32_t qh = rd_u32le(b + 2);
    const unsigned char *qs = b + 6;
    for (int j = 0; j < QK / 2; j++) {
        const int h0 = (int)((qh >> j) & 1u) << 4;
        const int h1 = (int)((qh >> (j + QK / 2)) & 1u) << 4;
        const int x0 = ((qs[j] & 0x0f) | h0) - 16;
        const int x1 = ((qs[j] >> 4) | h1) - 16;
        y[j] = (float)x0 * d;
        y[j + QK / 2] = (float)x1 * d;
    }
}

/* Q5_1 (24 bytes): f16 d, f16 m; u32 qh; u8 qs[16]; y = q * d + m. */
static void deq_q5_1(const unsigned char *b, float *y) {
    const float d = rd_f16(b), m = rd_f16(b + 2);
    const uint32_t qh = rd_u32le(b + 4);
    const unsigned char *qs = b + 8;
    for (int j = 0; j < QK / 2; j++) {
        const int h0 = (int)((qh >> j) & 1u) << 4;
        const int h1 = (int)((qh >> (j + QK / 2)) & 1u) << 4;
        const int x0 = (qs[j] & 0x0f) | h0;
        const int x1 = (qs[j] >> 4) | h1;
        y[j] = (float)x0 * d + m;
        y[j + QK / 2] = (float)x1 * d + m;
    }
}

/* Q8_0 (34 bytes): f16 d; i8 qs[32]; y = q * d. */
static void deq_q8_0(const unsigned char *b, float *y) {
    const float d = rd_f16(b);
    for (int j = 0; j < QK; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

/* ------------------------------------------------------------- K-quants */

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block, from
 * its 12 packed bytes s (ggml's get_scale_min_k4): sub-blocks 0..3 keep
 * theirs in the low 6 bits of s[j] and s[j + 4]; 4..7 split theirs between
 * the nibbles of s[j + 4] and the top 2 bits of s[j - 4] and s[j]. */
static void scale_min_k4(int j, const unsigned char *s, int *sc, int *mn) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Q4_K (144 bytes): f16 d, f16 dmin; u8 scales[12]; u8 qs[128]. Eight
 * sub-blocks of 32; each 32 bytes of qs hold two sub-blocks (low nibbles,
 * then high nibbles); y = (d * sc) * q - (dmin * mn). */
static void deq_q4_k(const unsigned char *b, float *y) {
    const float d = rd_f16(b), dmin = rd_f16(b + 2);
    const unsigned char *scales = b + 4, *q = b + 16;
    for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
        int sc, mn;
        scale_min_k4(is, scales, &sc, &mn);
        const float d1 = d * (float)sc, m1 = dmin * (float)mn;
        scale_min_k4(is + 1, scales, &sc, &mn);
        const float d2 = d * (float)sc, m2 = dmin * (float)mn;
        for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0x0f) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
    }
}

/* Q5_K (176 bytes): f16 d, f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128].
 * As Q4_K, with the fifth bit of element l of sub-block k in bit k of
 * qh[l]. */
static void deq_q5_k(const unsigned char *b, float *y) {
    const float d = rd_f16(b), dmin = rd_f16(b + 2);
    const unsigned char *scales = b + 4, *qh = b + 16, *ql = b + 48;
    unsigned u1 = 1, u2 = 2;
    for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
        int sc, mn;
        scale_min_k4(is, scales, &sc, &mn);
        const float d1 = d * (float)sc, m1 = dmin * (float)mn;
        scale_min_k4(is + 1, scales, &sc, &mn);
        const float d2 = d * (float)sc, m2 = dmin * (float)mn;
        for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0x0f) + (qh[l] & u1 ? 16 : 0)) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
}

/* Q6_K (210 bytes): u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d. Two halves
 * of 128 elements, each from 64 bytes of ql (low 4 bits), 32 of qh (2 bits
 * each) and 8 scales (one per 16 elements); y = (d * sc) * (q - 32). */
static void deq_q6_k(const unsigned char *b, float *y) {
    const unsigned char *ql = b, *qh = b + QK_K / 2;
    const int8_t *sc = (const int8_t *)(const void *)(b + QK_K / 2 + QK_K / 4);
    const float d = rd_f16(b + QK_K / 2 + QK_K / 4 + QK_K / 16);
    for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int q1 = (int)(int8_t)((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = (int)(int8_t)((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = (int)(int8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = (int)(int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l + 0] = d * (float)sc[is + 0] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
    }
}

/* ------------------------------------------------------------------ API */

/* Convert n elements (a multiple of the type's block size) of raw blocks.
 * An unknown type or a ragged n is a programmer's error: open has checked
 * both for every tensor it hands out. */
void ap_ggml_dequantize_blocks(enum ap_ggml_type type, const void *blocks, int64_t n, float *out) {
    const struct ggml_type_info *t = type_info(type);
    AP_ASSERT(t != NULL && n >= 0 && n % t->block_elems == 0);
    const unsigned char *b = blocks;
    const int64_t nb = n / t->block_elems;
    void (*deq)(const unsigned char *, float *) = NULL;
    switch (type) {
    case AP_GGML_F32:
        if (n) memcpy(out, b, (size_t)n * sizeof(float));
        return;
    case AP_GGML_F16:
        for (int64_t i = 0; i < n; i++) out[i] = rd_f16(b + 2 * i);
        return;
    case AP_GGML_BF16:
        for (int64_t i = 0; i < n; i++) out[i] = ap_bf16_to_f32((uint16_t)(b[2 * i] | (b[2 * i + 1] << 8)));
        return;
    case AP_GGML_Q4_0: deq = deq_q4_0; break;
    case AP_GGML_Q4_1: deq = deq_q4_1; break;
    case AP_GGML_Q5_0: deq = deq_q5_0; break;
    case AP_GGML_Q5_1: deq = deq_q5_1; break;
    case AP_GGML_Q8_0: deq = deq_q8_0; break;
    case AP_GGML_Q4_K: deq = deq_q4_k; break;
    case AP_GGML_Q5_K: deq = deq_q5_k; break;
    case AP_GGML_Q6_K: deq = deq_q6_k; break;
    }
    for (int64_t i = 0; i < nb; i++) deq(b + i * t->block_bytes, out + i * t->block_elems);
}

void ap_gguf_dequantize(const struct ap_gguf_tensor *t, float *out) {
    AP_ASSERT(t != NULL && out != NULL);
    ap_ggml_dequantize_blocks(t->type, t->data, t->n_elements, out);
}

/* flash_f32.c — flash-style fp32 attention for one head: tiled, online
 * softmax, hand-written for AVX-512 and AVX2 (the body is flash_f32_isa.h,
 * compiled once per instruction set and picked at run time).
 *
 * Legend: S = queries, T = keys, d = head dimension, dp = d rounded up to
 * the vector width VW, BQ = query rows per block, BK = keys per tile,
 * MR = query rows per score micro-tile.
 *
 * Per head: K is packed once into panels of VW keys transposed (Kp, (T, d)
 * floats in all: O(T d), no S x T matrix anywhere). Per block of BQ query
 * rows, for each tile of BK keys the block can see, for each group of MR
 * rows:
 *   1. scores: MR x BK from the rows (pre-scaled by scale log2 e) and the
 *      tile's panels, MR x (NR VW) accumulators held in registers;
 *   2. online softmax per row: masks (causal limit, the method's mask,
 *      padding keys) as -inf, running max m and sum l, 2^(s - m) in place,
 *      the row's accumulated output rescaled when m grows;
 *   3. Oacc (MR, dp) += P (MR, BK) · V_tile (BK, d), PR rows x FL_DV
 *      vectors of accumulators in registers;
 * and at the end O = Oacc / l (exact zeros for rows with nothing kept).
 * The block's working set (Qs, Oacc, one MR x BK score tile) is BQ (d + dp)
 * + MR BK floats (36 KiB at d = 64); a tile of K and V (BK rows each,
 * 128 KiB at d = 64) stays in L2 while the block's row groups use it.
 *
 * Numerics: fp32 throughout (scores, probabilities, sums, accumulators);
 * 2^x by a degree-6 polynomial on the fraction and the exponent put in
 * directly (within 2 ulp of exp2 on [-126, 0]); probabilities of dropped
 * keys are exact zeros. The order of additions differs from the BLAS path
 * and from the double reference; tests/unit/test_attention_f32.c bounds the
 * difference. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attnprune.h"
#include "core/error.h"
#include "kernels/attention.h"

#define FL_BQ 64  /* query rows per block (a multiple of FL_MR) */
#define FL_BK 256 /* keys per tile (a multiple of 2 x 16) */
#define FL_MR 8   /* query rows per score micro-tile */
#define FL_PR 4   /* query rows per P·V micro-tile (divides FL_MR) */

/* 2^x, x <= 0, coefficients: Taylor series of e^(f ln 2) to degree 6 on
 * f in [-1/2, 1/2] (truncation error below 1.3e-7 relative). */
#define EXP2_C1 0.693147180559945f
#define EXP2_C2 0.240226506959101f
#define EXP2_C3 0.0555041086648216f
#define EXP2_C4 0.00961812910762848f
#define EXP2_C5 0.00133335581464284f
#define EXP2_C6 0.000154035303933816f

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AP_FLASH_X86 1

/* ----------------------------------------------------------------- AVX-512 */

#define FL_NAME(x) x##_avx512
#define FL_TARGET __attribute__((target("avx512f,fma")))
#define VW 16
#define FL_NR 2
#define FL_DV 4
#define vf __m512
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_LOADU(p) _mm512_loadu_ps(p)
#define V_STORE(p, x) _mm512_storeu_ps((p), (x))
#define V_SET1(x) _mm512_set1_ps(x)
#define V_ZERO() _mm512_setzero_ps()
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define V_MUL(a, b) _mm512_mul_ps((a), (b))
#define V_SUB(a, b) _mm512_sub_ps((a), (b))
#define V_ADD(a, b) _mm512_add_ps((a), (b))
#define V_MAX(a, b) _mm512_max_ps((a), (b))
#define V_HMAX(x) _mm512_reduce_max_ps(x)
#define V_HSUM(x) _mm512_reduce_add_ps(x)
#define V_LOADN(p, n) _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1u), (p))
#define V_KEEP_FIRST(x, n) _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), (__mmask16)((1u << (n)) - 1u), (x))
#define V_KEEP_BYTES(x, b, n) keep_bytes_avx512((x), (b), (n))
#define V_EXP2(x) exp2_avx512(x)
#define V_TSUM(v) tsum_avx512(v)
#define V_LOADI(p) _mm512_cvtepi32_ps(_mm512_loadu_si512((const void *)(p)))
#define V_LOADIN(p, n) _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32((__mmask16)((1u << (n)) - 1u), (const void *)(p)))
#define V_APPEND_GT(x, t, j0, out) append_gt_avx512((x), (t), (j0), (out))

FL_TARGET static inline __m512 exp2_avx512(__m512 x) {
    const __m512 xc = _mm512_max_ps(x, _mm512_set1_ps(-127.0f));
    const __m512 n = _mm512_roundscale_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(xc, n);
    __m512 p = _mm512_set1_ps(EXP2_C6);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_C5));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_C4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_C3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_C2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(EXP2_C1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    const __m512 y = _mm512_scalef_ps(p, n);
    const __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-126.0f), _CMP_LT_OQ);
    return _mm512_mask_mov_ps(y, under, _mm512_setzero_ps());
}

FL_TARGET static inline __m512 keep_bytes_avx512(__m512 x, const uint8_t *b, int32_t n) {
    uint8_t tmp[16] = {0};
    const uint8_t *src = b;
    if (n < 16) {
        memcpy(tmp, b, (size_t)n);
        memset(tmp + n, 1, (size_t)(16 - n)); /* lanes past n: unchanged */
        src = tmp;
    }
    const __m512i w = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)src));
    const __mmask16 keep = _mm512_test_epi32_mask(w, w);
    return _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), keep, x);
}

/* Writes j0 + lane for the lanes where x > t to out; returns their count. */
FL_TARGET static inline int32_t append_gt_avx512(__m512 x, __m512 t, int32_t j0, int32_t *out) {
    const __mmask16 k = _mm512_cmp_ps_mask(x, t, _CMP_GT_OQ); /* branch-free: hits are irregular */
    const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(j0),
                                         _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    /* compress in a register, then a masked store: a compressing store to
     * memory is microcoded and very slow on Zen 4 */
    const int n = __builtin_popcount((unsigned)k);
    _mm512_mask_storeu_epi32(out, (__mmask16)((1u << n) - 1u), _mm512_maskz_compress_epi32(k, idx));
    return n;
}

/* r[j] = sum of the lanes of v[j], j < 16: pairs interleaved and added
 * within 128-bit lanes, then quads, then the four 128-bit lanes. */
FL_TARGET static inline __m512 tsum_avx512(const __m512 *v) {
    __m512 b[8], c[4];
    for (int i = 0; i < 8; i++)
        b[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 4; i++) {
        const __m512d x = _mm512_castps_pd(b[2 * i]), y = _mm512_castps_pd(b[2 * i + 1]);
        c[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    const __m512 e01 = _mm512_add_ps(_mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512 e23 = _mm512_add_ps(_mm512_shuffle_f32x4(c[2], c[3], _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_f32x4(c[2], c[3], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(e01, e23, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(e01, e23, _MM_SHUFFLE(3, 1, 3, 1)));
}

#include "kernels/flash_f32_isa.h"

#undef FL_NAME
#undef FL_TARGET
#undef VW
#undef FL_NR
#undef FL_DV
#undef V_LOAD
#undef V_LOADU
#undef V_STORE
#undef V_SET1
#undef V_ZERO
#undef V_FMA
#undef V_MUL
#undef V_SUB
#undef V_ADD
#undef V_MAX
#undef V_HMAX
#undef V_HSUM
#undef V_LOADN
#undef V_KEEP_FIRST
#undef V_KEEP_BYTES
#undef V_EXP2
#undef V_TSUM
#undef V_APPEND_GT
#undef V_LOADI
#undef V_LOADIN
#undef vf

/* -------------------------------------------------------------------- AVX2 */

#define FL_NAME(x) x##_avx2
#define FL_TARGET __attribute__((target("avx2,fma")))
#define VW 8
#define FL_NR 1
#define FL_DV 2
#define vf __m256
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_LOADU(p) _mm256_loadu_ps(p)
#define V_STORE(p, x) _mm256_storeu_ps((p), (x))
#define V_SET1(x) _mm256_set1_ps(x)
#define V_ZERO() _mm256_setzero_ps()
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define V_MUL(a, b) _mm256_mul_ps((a), (b))
#define V_SUB(a, b) _mm256_sub_ps((a), (b))
#define V_ADD(a, b) _mm256_add_ps((a), (b))
#define V_MAX(a, b) _mm256_max_ps((a), (b))
#define V_HMAX(x) hmax_avx2(x)
#define V_HSUM(x) hsum_avx2(x)
#define V_LOADN(p, n) _mm256_maskload_ps((p), first_lanes_avx2(n))
#define V_KEEP_FIRST(x, n)                                                                                           \
    _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), (x), _mm256_castsi256_ps(first_lanes_avx2(n)))
#define V_KEEP_BYTES(x, b, n) keep_bytes_avx2((x), (b), (n))
#define V_EXP2(x) exp2_avx2(x)
#define V_TSUM(v) tsum_avx2(v)
#define V_LOADI(p) _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define V_LOADIN(p, n) _mm256_cvtepi32_ps(_mm256_maskload_epi32((const int *)(p), first_lanes_avx2(n)))
#define V_APPEND_GT(x, t, j0, out) append_gt_avx2((x), (t), (j0), (out))

/* All ones in lanes < n, zeros from n on. */
FL_TARGET static inline __m256i first_lanes_avx2(int32_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

FL_TARGET static inline float hmax_avx2(__m256 x) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

FL_TARGET static inline float hsum_avx2(__m256 x) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

FL_TARGET static inline __m256 exp2_avx2(__m256 x) {
    const __m256 xc = _mm256_max_ps(x, _mm256_set1_ps(-127.0f));
    const __m256 n = _mm256_round_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_sub_ps(xc, n);
    __m256 p = _mm256_set1_ps(EXP2_C6);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP2_C5));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP2_C4));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP2_C3));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP2_C2));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP2_C1));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    /* 2^n for n in [-127, 0]: (n + 127) << 23 in the exponent bits (0 at n = -127) */
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    const __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-126.0f), _CMP_LT_OQ);
    return _mm256_andnot_ps(under, y);
}

FL_TARGET static inline __m256 keep_bytes_avx2(__m256 x, const uint8_t *b, int32_t n) {
    uint8_t tmp[8];
    if (n < 8) {
        memcpy(tmp, b, (size_t)n);
        memset(tmp + n, 1, (size_t)(8 - n));
    } else {
        memcpy(tmp, b, 8);
    }
    int64_t bits;
    memcpy(&bits, tmp, sizeof bits);
    const __m256i w = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(bits));
    const __m256i drop = _mm256_cmpeq_epi32(w, _mm256_setzero_si256());
    return _mm256_blendv_ps(x, _mm256_set1_ps(-INFINITY), _mm256_castsi256_ps(drop));
}

/* As append_gt_avx512. */
FL_TARGET static inline int32_t append_gt_avx2(__m256 x, __m256 t, int32_t j0, int32_t *out) {
    unsigned k = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(x, t, _CMP_GT_OQ));
    int32_t n = 0;
    while (k) {
        out[n++] = j0 + __builtin_ctz(k);
        k &= k - 1;
    }
    return n;
}

/* r[j] = sum of the lanes of v[j], j < 8 (as tsum_avx512). */
FL_TARGET static inline __m256 tsum_avx2(const __m256 *v) {
    __m256 b[4], c[2];
    for (int i = 0; i < 4; i++)
        b[i] = _mm256_add_ps(_mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 2; i++) {
        const __m256d x = _mm256_castps_pd(b[2 * i]), y = _mm256_castps_pd(b[2 * i + 1]);
        c[i] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(x, y)), _mm256_castpd_ps(_mm256_unpackhi_pd(x, y)));
    }
    return _mm256_add_ps(_mm256_permute2f128_ps(c[0], c[1], 0x20), _mm256_permute2f128_ps(c[0], c[1], 0x31));
}

#include "kernels/flash_f32_isa.h"

#endif /* x86-64 */

/* ------------------------------------------------------------------ driver */

/* Floats of the per-block workspace (Qs, Oacc, one score tile, m, l),
 * each part a multiple of 16 floats. */
static size_t block_floats(int32_t d) {
    const size_t dp = ((size_t)d + 15) / 16 * 16, dq = ((size_t)FL_BQ * (size_t)d + 15) / 16 * 16;
    return dq + (size_t)FL_BQ * dp + (size_t)FL_MR * FL_BK + 2 * (size_t)FL_BQ;
}

/* Floats of packed K: panels of 16 keys (the widest VW). */
static size_t packed_k_floats(int32_t n_k, int32_t d) { return ((size_t)n_k + 15) / 16 * 16 * (size_t)d; }

size_t ap_attention_flash_scratch(int32_t n_q, int32_t n_k, int32_t d) {
    (void)n_q;
    if (n_k < 1) n_k = 1;
    if (d < 1) d = 1;
    return packed_k_floats(n_k, d) + block_floats(d);
}

int ap_attention_flash_isa(uint32_t features) {
#ifdef AP_FLASH_X86
    if ((features & AP_CPU_AVX512F) && (features & AP_CPU_FMA)) return 2;
    if ((features & AP_CPU_AVX2) && (features & AP_CPU_FMA)) return 1;
#endif
    (void)features;
    return 0;
}

int ap_attention_flash(const struct ap_attn_head *h, const uint8_t *mask, float *scratch, uint32_t features) {
    const int isa = ap_attention_flash_isa(features & ap_cpu_features());
    if (isa == 0) return 0;
    const int32_t S = h->n_q, T = h->n_k, d = h->d;
    AP_ASSERT(d >= 1 && d <= AP_ATTN_MAX_HEAD_DIM && S >= 0 && T >= 0);
    AP_ASSERT(h->q_stride >= d && h->k_stride >= d && h->v_stride >= d && h->o_stride >= d);
    if (S == 0) return 1;
    float *Kp = scratch;
    float *ws = scratch + packed_k_floats(T, d);
#ifdef AP_FLASH_X86
    if (isa == 2) {
        pack_k_avx512(h, T, Kp);
        for (int32_t i0 = 0; i0 < S; i0 += FL_BQ) rows_avx512(h, Kp, mask, i0, S - i0 < FL_BQ ? S - i0 : FL_BQ, ws);
    } else {
        pack_k_avx2(h, T, Kp);
        for (int32_t i0 = 0; i0 < S; i0 += FL_BQ) rows_avx2(h, Kp, mask, i0, S - i0 < FL_BQ ? S - i0 : FL_BQ, ws);
    }
#else
    (void)Kp, (void)ws, (void)mask;
#endif
    return 1;
}

size_t ap_attention_sparse_scratch(int32_t d) { return 2 * (((size_t)(d < 1 ? 1 : d) + 15) / 16 * 16); }

/* Portable path: the same arithmetic in plain C (double sums), one key
 * at a time. */
static void sparse_rows_c(const struct ap_attn_head *h, int32_t i0, int32_t nb, const int64_t *row_ptr,
                          const int32_t *cols, float *ws) {
    const int32_t d = h->d;
    for (int32_t r = 0; r < nb; r++) {
        const int32_t i = i0 + r;
        float *o = h->o + (int64_t)i * h->o_stride;
        const int64_t a = row_ptr[r], b = row_ptr[r + 1];
        if ((h->query_valid && !h->query_valid[i]) || a == b) {
            memset(o, 0, sizeof(float) * (size_t)d);
            continue;
        }
        const float *q = h->q + (int64_t)i * h->q_stride;
        double mx = -INFINITY;
        for (int64_t e = a; e < b; e++) {
            const float *k = h->k + (int64_t)cols[e] * h->k_stride;
            double s = 0.0;
            for (int32_t c = 0; c < d; c++) s += (double)q[c] * (double)k[c];
            s *= (double)h->scale;
            if (s > mx) mx = s;
        }
        double sum = 0.0;
        for (int32_t c = 0; c < d; c++) ws[c] = 0.0f;
        for (int64_t e = a; e < b; e++) {
            const float *k = h->k + (int64_t)cols[e] * h->k_stride;
            const float *v = h->v + (int64_t)cols[e] * h->v_stride;
            double s = 0.0;
            for (int32_t c = 0; c < d; c++) s += (double)q[c] * (double)k[c];
            const double p = exp(s * (double)h->scale - mx);
            sum += p;
            for (int32_t c = 0; c < d; c++) ws[c] += (float)(p * (double)v[c]);
        }
        for (int32_t c = 0; c < d; c++) o[c] = (float)((double)ws[c] / sum);
    }
}

void ap_attention_sparse_rows(const struct ap_attn_head *h, int32_t i0, int32_t nb, const int64_t *row_ptr,
                              const int32_t *cols, float *scratch, uint32_t features) {
    AP_ASSERT(h->d >= 1 && h->d <= AP_ATTN_MAX_HEAD_DIM && i0 >= 0 && nb >= 0 && i0 + nb <= h->n_q);
    const int isa = ap_attention_flash_isa(features & ap_cpu_features());
#ifdef AP_FLASH_X86
    if (isa == 2) {
        sparse_rows_avx512(h, i0, nb, row_ptr, cols, scratch);
        return;
    }
    if (isa == 1) {
        sparse_rows_avx2(h, i0, nb, row_ptr, cols, scratch);
        return;
    }
#endif
    (void)isa;
    sparse_rows_c(h, i0, nb, row_ptr, cols, scratch);
}

int32_t ap_softmax_threshold_row(const int32_t *dots, float *s, int32_t n, float c, const float *key_scale,
                                 const uint8_t *key_valid, double t, int keep_max, int32_t *cols, uint32_t features) {
    const int isa = ap_attention_flash_isa(features & ap_cpu_features());
#ifdef AP_FLASH_X86
    if (isa == 2) return threshold_row_avx512(dots, s, n, c, key_scale, key_valid, t, keep_max, cols);
    if (isa == 1) return threshold_row_avx2(dots, s, n, c, key_scale, key_valid, t, keep_max, cols);
#endif
    (void)isa;
    float m = -INFINITY;
    for (int32_t j = 0; j < n; j++) {
        s[j] = (float)dots[j] * c;
        if (key_scale) s[j] *= key_scale[j];
        if (key_valid && !key_valid[j]) s[j] = -INFINITY;
        if (s[j] > m) m = s[j];
    }
    if (m == -INFINITY) return 0;
    double sum = 0.0;
    for (int32_t j = 0; j < n; j++) sum += exp((double)s[j] - (double)m);
    const float thr = (float)((double)m + log(t * sum));
    int32_t kept = 0;
    for (int32_t j = 0; j < n; j++)
        if (s[j] > thr) cols[kept++] = j;
    if (!kept && keep_max)
        for (int32_t j = 0; j < n; j++)
            if (s[j] == m) cols[kept++] = j;
    return kept;
}

/* ------------------------------------------------------ integer selection */

#ifdef AP_FLASH_X86
__attribute__((target("avx512f"))) static int32_t append_ge_i32_avx512(const int32_t *a, int32_t n, int32_t lo,
                                                                       const uint8_t *kv, int32_t *cols) {
    const __m512i lov = _mm512_set1_epi32(lo);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int32_t kept = 0;
    for (int32_t j0 = 0; j0 < n; j0 += 16) {
        const int32_t left = n - j0;
        const __mmask16 live = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        const __m512i x = _mm512_maskz_loadu_epi32(live, a + j0);
        __mmask16 k = _mm512_mask_cmpge_epi32_mask(live, x, lov);
        if (kv && k) {
            uint8_t tmp[16] = {0};
            memcpy(tmp, kv + j0, (size_t)(left < 16 ? left : 16));
            const __m512i w = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)tmp));
            k &= _mm512_test_epi32_mask(w, w);
        }
        const int c = __builtin_popcount((unsigned)k);
        _mm512_mask_storeu_epi32(cols + kept, (__mmask16)((1u << c) - 1u),
                                 _mm512_maskz_compress_epi32(k, _mm512_add_epi32(_mm512_set1_epi32(j0), iota)));
        kept += c;
    }
    return kept;
}

__attribute__((target("avx2"))) static int32_t append_ge_i32_avx2(const int32_t *a, int32_t n, int32_t lo,
                                                                 const uint8_t *kv, int32_t *cols) {
    const __m256i lom1 = _mm256_set1_epi32(lo - 1); /* a >= lo <=> a > lo - 1 (lo > INT32_MIN here) */
    int32_t kept = 0, j0 = 0;
    for (; j0 + 8 <= n; j0 += 8) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(a + j0));
        unsigned k = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(x, lom1)));
        while (k) {
            const int32_t j = j0 + __builtin_ctz(k);
            cols[kept] = j;
            kept += !kv || kv[j];
            k &= k - 1;
        }
    }
    for (int32_t j = j0; j < n; j++) {
        cols[kept] = j;
        kept += a[j] >= lo && (!kv || kv[j]);
    }
    return kept;
}
#endif

int32_t ap_append_ge_i32(const int32_t *a, int32_t n, int64_t lo, const uint8_t *key_valid, int32_t *cols,
                         uint32_t features) {
    if (lo > INT32_MAX) return 0;
    const int32_t l = lo <= INT32_MIN ? INT32_MIN : (int32_t)lo;
#ifdef AP_FLASH_X86
    features &= ap_cpu_features();
    if (features & AP_CPU_AVX512F) return append_ge_i32_avx512(a, n, l, key_valid, cols);
    if ((features & AP_CPU_AVX2) && l > INT32_MIN) return append_ge_i32_avx2(a, n, l, key_valid, cols);
#endif
    (void)features;
    int32_t kept = 0;
    for (int32_t j = 0; j < n; j++) {
        cols[kept] = j;
        kept += a[j] >= l && (!key_valid || key_valid[j]);
    }
    return kept;
}

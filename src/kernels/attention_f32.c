/* attention_f32.c — fp32 attention for one head, blocked over query rows,
 * with the two products done by BLAS.
 *
 * Legend: S = queries, T = keys, d = head dimension, B = query rows per
 * block (AP_ATTN_F32_BLOCK), T_b = keys block b can see (T, or fewer when
 * causal), L = the scratch's row stride (T rounded up to 16 floats).
 *
 * Per block of B query rows:
 *   1. P (B, T_b) = scale * Q_blk · K[0:T_b]^T     cblas_sgemm (sgemv for one row)
 *   2. per row: mask, key_valid and the causal limit applied as -inf,
 *      exp(s - row max) written back into P (float exp, sum in double);
 *      zeros for keys the row cannot see and for rows not valid or with
 *      nothing kept
 *   3. O_blk (B, d) = P · V[0:T_b]                  cblas_sgemm (sgemv for one row)
 *      then each output row times 1 / its sum (B x d multiplies instead of
 *      normalizing B x T_b probabilities; the reference also divides last);
 *      rows with nothing kept are set to exact zeros.
 * key_prob, when asked for, adds each row's normalized probabilities.
 *
 * The causal limit is taken per block: the scores of a block's last row
 * bound the keys computed, so the block on the diagonal computes a B x B
 * triangle it then discards (B / S extra work: 3% at B = 128, S = T = 4096).
 * Nothing else is skipped: a sparse mask costs what a dense one does here;
 * exploiting it is the sparse kernels' job.
 *
 * The per-row softmax (step 2) is a third of the time or more at d = 64,
 * so it is plain C that the compiler vectorizes, compiled for the build's
 * baseline and again for AVX2 and AVX-512, picked at run time from
 * ap_cpu_features() (so AP_CPU=scalar|avx2 forces the fallbacks). The
 * variants do the same float operations element by element (no FMA
 * contraction in ISO C mode); only the order of the double row sum differs.
 *
 * This is the BLAS-blocked interim path; hand-written flash-style kernels
 * (online softmax, no (B, T) scratch) come later and are checked against
 * the same reference. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "attnprune.h"
#include "core/error.h"
#include "kernels/attention.h"

/* Query rows per block: 128 measured best or within 3% of the best of
 * 32, 64, 128, 256 on a Zen 4 core for S = T = 512..4096, d = 64, causal
 * or not, except short causal heads (S = 512: 10% behind B = 32), where
 * the block on the diagonal wastes the most (docs/performance.md). The
 * scores block (B, T) of a 4096-token context is 2 MiB. */
#ifndef AP_ATTN_F32_BLOCK
#define AP_ATTN_F32_BLOCK 128
#endif

/* Scratch row stride: T rounded up to 16 floats (64 bytes), so each row of
 * P starts on a cache line when the scratch does. */
static int64_t row_stride(int32_t T) { return ((int64_t)T + 15) / 16 * 16; }

size_t ap_attention_f32_scratch(int32_t n_q, int32_t n_k, int32_t d) {
    int32_t rows = n_q < AP_ATTN_F32_BLOCK ? n_q : AP_ATTN_F32_BLOCK;
    if (rows < 1) rows = 1;
    if (n_k < 1) n_k = 1;
    const size_t blas = (size_t)rows * (size_t)row_stride(n_k);
    const size_t flash = n_q > 1 ? ap_attention_flash_scratch(n_q, n_k, d) : 0;
    return blas > flash ? blas : flash;
}

/* ------------------------------------------------------------ softmax row */

/* exp(x) for x <= 0 in plain float arithmetic that the compiler can
 * vectorize (libm's expf is a call, which stops the loop from being
 * vectorized): Cephes' expf. x = n ln2 + r with |r| <= ln2/2, exp(r) by a
 * degree-6 polynomial, 2^n put into the exponent bits. Within 1 ulp of
 * the exact exp on [-87, 0] (0.99 ulp at worst on 10^8 samples; libm's
 * expf: 0.5); below -87 (exp < 1.7e-38) and for -inf it returns 0; NaN
 * gives NaN. */
static inline float exp_nonpositive(float x) {
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float xc = x >= -87.0f ? x : -87.0f; /* NaN too, so the conversion below stays defined */
    float t = xc * log2e + round_magic;
    float n = t - round_magic; /* round(x log2 e) in [-126, 0] */
    float r = xc - n * ln2_hi;
    r = r - n * ln2_lo;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23; /* 2^n, n + 127 in [1, 127] */
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    float y = p * two_n;
    y = x != x ? x : y; /* NaN stays NaN, as in the reference */
    return x < -87.0f ? 0.0f : y;
}

/* GCC vectorizes the row maximum as an `omp simd` max reduction; clang
 * (14) does not without -ffast-math and warns that it could not, so there
 * it is a plain loop (clang builds only the fuzz targets here). */
#if defined(__clang__)
#define OMP_SIMD_MAX_MX
#else
#define OMP_SIMD_MAX_MX _Pragma("omp simd reduction(max : mx)")
#endif

/* One row of P in place. s[0, n) holds scaled scores of the keys the row
 * may see (causal limit already applied by n); s[n, n_vis) is set to 0.
 * Masked and padding keys get 0. Writes exp(s - max) and returns
 * 1 / their sum, or zeros the row and returns 0 when nothing is kept.
 * The reductions are `omp simd` so they may be reordered and vectorized
 * without -ffast-math; the row sum is accumulated in double. Always
 * inlined into the per-ISA wrappers below, which compile it for each. */
static inline __attribute__((always_inline)) float softmax_row(float *s, int32_t n, int32_t n_vis,
                                                               const uint8_t *mrow, const uint8_t *key_valid) {
    if (mrow) {
#pragma omp simd
        for (int32_t j = 0; j < n; j++) s[j] = mrow[j] ? s[j] : -INFINITY;
    }
    if (key_valid) {
#pragma omp simd
        for (int32_t j = 0; j < n; j++) s[j] = key_valid[j] ? s[j] : -INFINITY;
    }
    float mx = -INFINITY;
    OMP_SIMD_MAX_MX
    for (int32_t j = 0; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    if (n_vis > n) memset(s + n, 0, sizeof(float) * (size_t)(n_vis - n));
    if (mx == -INFINITY) {
        memset(s, 0, sizeof(float) * (size_t)n);
        return 0.0f;
    }
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int32_t j = 0; j < n; j++) {
        float p = exp_nonpositive(s[j] - mx);
        s[j] = p;
        sum += (double)p;
    }
    return (float)(1.0 / sum);
}

typedef float (*softmax_row_fn)(float *s, int32_t n, int32_t n_vis, const uint8_t *mrow, const uint8_t *key_valid);

static float softmax_row_base(float *s, int32_t n, int32_t n_vis, const uint8_t *mrow, const uint8_t *key_valid) {
    return softmax_row(s, n, n_vis, mrow, key_valid);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define AP_ATTN_F32_X86 1
__attribute__((target("avx2"))) static float softmax_row_avx2(float *s, int32_t n, int32_t n_vis,
                                                              const uint8_t *mrow, const uint8_t *key_valid) {
    return softmax_row(s, n, n_vis, mrow, key_valid);
}

__attribute__((target("avx512f,avx512bw"))) static float
softmax_row_avx512(float *s, int32_t n, int32_t n_vis, const uint8_t *mrow, const uint8_t *key_valid) {
    return softmax_row(s, n, n_vis, mrow, key_valid);
}
#endif

/* The widest softmax variant the feature bits allow. */
static softmax_row_fn softmax_row_for(uint32_t features) {
#ifdef AP_ATTN_F32_X86
    if ((features & AP_CPU_AVX512F) && (features & AP_CPU_AVX512BW)) return softmax_row_avx512;
    if (features & AP_CPU_AVX2) return softmax_row_avx2;
#endif
    (void)features;
    return softmax_row_base;
}

/* ----------------------------------------------------------------- kernel */

/* Contract: see attention.h. */
void ap_attention_f32_isa(const struct ap_attn_head *h, const uint8_t *mask, float *scratch, double *key_prob,
                          uint32_t features) {
    const int32_t S = h->n_q, T = h->n_k, d = h->d;
    const int32_t offset = T - S; /* causal: query i is position i + offset among the keys */
    const int64_t L = row_stride(T);
    const softmax_row_fn softmax = softmax_row_for(features & ap_cpu_features());
    AP_ASSERT(d >= 1 && d <= AP_ATTN_MAX_HEAD_DIM);
    AP_ASSERT(S >= 0 && T >= 0);
    AP_ASSERT(h->q_stride >= d && h->k_stride >= d && h->v_stride >= d && h->o_stride >= d);
    AP_ASSERT(h->q_stride <= INT_MAX && h->k_stride <= INT_MAX && h->v_stride <= INT_MAX && h->o_stride <= INT_MAX);
    AP_ASSERT(L <= INT_MAX);
    AP_ASSERT(S == 0 || scratch != NULL);
    /* more than one row and no key_prob: the flash kernel, where the CPU has one */
    if (S > 1 && !key_prob && ap_attention_flash(h, mask, scratch, features)) return;

    for (int32_t i0 = 0; i0 < S; i0 += AP_ATTN_F32_BLOCK) {
        const int32_t nb = S - i0 < AP_ATTN_F32_BLOCK ? S - i0 : AP_ATTN_F32_BLOCK;
        const float *q = h->q + (int64_t)i0 * h->q_stride;
        float *o = h->o + (int64_t)i0 * h->o_stride;
        /* keys the block sees: causal stops at the block's last row, i0 + nb - 1 + offset */
        int64_t tv64 = h->causal ? (int64_t)i0 + nb + offset : T;
        const int32_t tv = tv64 > T ? T : tv64 < 0 ? 0 : (int32_t)tv64;
        if (tv == 0) {
            for (int32_t r = 0; r < nb; r++) memset(o + (int64_t)r * h->o_stride, 0, sizeof(float) * (size_t)d);
            continue;
        }

        /* 1. scores */
        if (nb == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, tv, d, h->scale, h->k, (int)h->k_stride, q, 1, 0.0f, scratch, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, tv, d, h->scale, q, (int)h->q_stride, h->k,
                        (int)h->k_stride, 0.0f, scratch, (int)L);

        /* 2. exp(s - max) per row; inv[r] = 1 / row sum, or 0 for a row with nothing kept */
        float inv[AP_ATTN_F32_BLOCK];
        for (int32_t r = 0; r < nb; r++) {
            const int32_t i = i0 + r;
            float *p = scratch + (int64_t)r * L;
            inv[r] = 0.0f;
            if (h->query_valid && !h->query_valid[i]) {
                memset(p, 0, sizeof(float) * (size_t)tv);
                continue;
            }
            int64_t n64 = h->causal ? (int64_t)i + offset + 1 : tv;
            const int32_t n = n64 > tv ? tv : n64 < 0 ? 0 : (int32_t)n64;
            inv[r] = softmax(p, n, tv, mask ? mask + (int64_t)i * T : NULL, h->key_valid);
            if (key_prob && inv[r] != 0.0f) {
                const float w = inv[r];
#pragma omp simd
                for (int32_t j = 0; j < n; j++) key_prob[j] += (double)(p[j] * w);
            }
        }

        /* 3. output, then each row times its 1 / sum */
        if (nb == 1)
            cblas_sgemv(CblasRowMajor, CblasTrans, tv, d, 1.0f, h->v, (int)h->v_stride, scratch, 1, 0.0f, o, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, d, tv, 1.0f, scratch, (int)L, h->v,
                        (int)h->v_stride, 0.0f, o, (int)h->o_stride);
        for (int32_t r = 0; r < nb; r++) {
            float *orow = o + (int64_t)r * h->o_stride;
            if (inv[r] == 0.0f) { /* not valid or nothing kept: exact zeros, as the reference */
                memset(orow, 0, sizeof(float) * (size_t)d);
                continue;
            }
            for (int32_t c = 0; c < d; c++) orow[c] *= inv[r];
        }
    }
}

void ap_attention_f32(const struct ap_attn_head *h, const uint8_t *mask, float *scratch, double *key_prob) {
    ap_attention_f32_isa(h, mask, scratch, key_prob, ap_cpu_features());
}

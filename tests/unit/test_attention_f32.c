/* test_attention_f32.c — the BLAS-blocked fp32 attention kernel
 * (kernels/attention_f32.c) against the double reference ap_attention_ref
 * on random heads: every shape of S, T in {1, 2, 63, 64, 65, 200, 513} and
 * d in {1, 7, 64, 128}, bidirectional and causal (T > S: queries at the end
 * of a longer context; T < S: early queries see nothing), one-row decode
 * steps, padding keys, query holes, random masks of several densities,
 * fully masked rows, strided inputs, SpAtten's key_prob accumulation, and
 * scores large enough to overflow exp without the maximum subtracted.
 *
 * Legend: S = queries, T = keys, d = head dimension. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "kernels/attention.h"
#include "test.h"

/* Tolerances, named once. The kernel computes scores with float dot
 * products, exp in float (within 1 ulp) and P·V with float accumulation
 * over up to T keys; the reference does all of it in double. A score's
 * float error grows with its magnitude and moves its probability by about
 * that much relatively, so the output tolerance scales with the scores'
 * standard deviation (amplitude^2 for q, k of standard deviation
 * `amplitude` and scale 1/sqrt(d)). Observed maxima: 3e-7 of max|V| at
 * amplitude 1, 2e-5 of max|V| at amplitude 10 (scores up to ~500);
 * key_prob within 1e-7 of S. */
#define TOL_OUT 1e-5      /* max |o - o_ref| / (max|V| * max(1, amplitude^2)) */
#define TOL_KEY_PROB 1e-5 /* max |key_prob - ref| / max(1, S) (each row adds probabilities summing to 1) */
#define SENTINEL 12345.0f /* written into stride padding, must survive */

/* The softmax variants to run: baseline, AVX2, AVX-512 (those the CPU has). */
static const uint32_t g_isas[] = {0, AP_CPU_AVX2 | AP_CPU_FMA, AP_CPU_AVX2 | AP_CPU_FMA | AP_CPU_AVX512F | AP_CPU_AVX512BW};
static const char *const g_isa_names[] = {"baseline", "avx2", "avx512"};
#define N_ISAS 3

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static double g_worst_key_prob; /* max key_prob error / max(1, S) seen so far */

static uint64_t rng_next(void) { /* xorshift64* */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545F4914F6CDD1Dull;
}
static double rng_unit(void) { return (double)(rng_next() >> 11) / 9007199254740992.0; } /* [0, 1) */
static float rng_normal(void) { /* Irwin-Hall: sum of 12 uniforms - 6, mean 0, variance 1 */
    double s = 0.0;
    for (int i = 0; i < 12; i++) s += rng_unit();
    return (float)(s - 6.0);
}

/* One test case: shapes, flags and the densities of its masks. */
struct attn_case {
    int32_t S, T, d;
    int causal;
    int strided;          /* rows padded to d + a few floats */
    double mask_density;  /* < 0: no mask (NULL) */
    double pad_frac;      /* fraction of keys marked padding (0: key_valid NULL) */
    double hole_frac;     /* fraction of queries marked not valid (0: query_valid NULL) */
    int empty_rows;       /* mask some rows out entirely */
    int key_prob;         /* accumulate key_prob too */
    float amplitude;      /* standard deviation of q and k */
};

/* Checks one run's output o (h->o) and key_prob kp against the
 * reference's; returns the max output error relative to the tolerance's
 * scale. got and want are (S, d) work arrays. */
static double compare(const struct attn_case *c, const struct ap_attn_head *h, const float *o_ref, const double *kp,
                      const double *kp_ref, const uint8_t *mask, float vmax, const char *isa, float *got,
                      float *want) {
    const int32_t S = c->S, T = c->T, d = c->d;
    const int64_t os = h->o_stride;
    const float *o = h->o;
    const uint8_t *query_valid = h->query_valid;
    char what[320];
    snprintf(what, sizeof what,
             "%s: S=%d T=%d d=%d causal=%d strided=%d mask=%.2f pad=%.2f holes=%.2f empty_rows=%d amplitude=%g", isa,
             S, T, d, c->causal, c->strided, c->mask_density, c->pad_frac, c->hole_frac, c->empty_rows,
             (double)c->amplitude);
    int32_t zero_rows = 0, bad_zero = 0, bad_pad = 0;
    for (int32_t i = 0; i < S; i++) {
        int ref_zero = 1;
        for (int32_t c2 = 0; c2 < d; c2++) {
            got[(int64_t)i * d + c2] = o[(int64_t)i * os + c2];
            want[(int64_t)i * d + c2] = o_ref[(int64_t)i * os + c2];
            ref_zero &= o_ref[(int64_t)i * os + c2] == 0.0f;
        }
        /* rows the reference leaves empty (not valid, nothing kept) must be exact zeros here too */
        int must_be_zero = (query_valid && !query_valid[i]) || (c->causal && i + (T - S) < 0) ||
                           (mask && c->empty_rows && i % 3 == 0) || (c->mask_density == 0.0);
        if (must_be_zero) {
            zero_rows++;
            if (!ref_zero) bad_zero++;
            for (int32_t c2 = 0; c2 < d; c2++) bad_zero += o[(int64_t)i * os + c2] != 0.0f;
        }
        for (int64_t c2 = d; c2 < os; c2++) bad_pad += o[(int64_t)i * os + c2] != SENTINEL;
    }
    if (bad_zero)
        ap_test_fail(__FILE__, __LINE__, "%s: %d values of %d rows that must be zero are not", what, bad_zero,
                     zero_rows);
    if (bad_pad) ap_test_fail(__FILE__, __LINE__, "%s: %d stride-padding values of o were written", what, bad_pad);
    const double amp2 = (double)c->amplitude * (double)c->amplitude;
    const double scale = (vmax > 0 ? vmax : 1.0) * (amp2 > 1.0 ? amp2 : 1.0);
    double err = CHECK_ARRAY_NEAR(what, got, want, (size_t)S * (size_t)d, TOL_OUT * scale) / scale;
    if (kp) {
        double kerr = 0.0;
        for (int32_t j = 0; j < T; j++) kerr = fmax(kerr, fabs(kp[j] - kp_ref[j]));
        double tol = TOL_KEY_PROB * (S > 1 ? S : 1);
        g_worst_key_prob = fmax(g_worst_key_prob, kerr / (S > 1 ? S : 1));
        if (!(kerr <= tol)) ap_test_fail(__FILE__, __LINE__, "%s: key_prob max diff %.3g > %.3g", what, kerr, tol);
    }
    return err;
}

/* Runs ap_attention_ref and each softmax variant of ap_attention_f32 on
 * one random head and checks outputs and key_prob against the tolerances;
 * rows that must be zero are checked for exact zeros, and stride padding
 * of o for the sentinel. Returns the max output error relative to the
 * tolerance's scale. */
static double check_case(const struct attn_case *c) {
    const int32_t S = c->S, T = c->T, d = c->d;
    const int64_t qs = c->strided ? d + 3 : d, ks = c->strided ? d + 5 : d, vs = c->strided ? d + 1 : d,
                  os = c->strided ? d + 2 : d;
    float *q = malloc(sizeof(float) * (size_t)(S * qs)), *k = malloc(sizeof(float) * (size_t)(T * ks));
    float *v = malloc(sizeof(float) * (size_t)(T * vs));
    float *o = malloc(sizeof(float) * (size_t)(S * os)), *o_ref = malloc(sizeof(float) * (size_t)(S * os));
    float *got = malloc(sizeof(float) * (size_t)(S * d)), *want = malloc(sizeof(float) * (size_t)(S * d));
    uint8_t *mask = c->mask_density >= 0 ? malloc((size_t)S * (size_t)T) : NULL;
    uint8_t *key_valid = c->pad_frac > 0 ? malloc((size_t)T) : NULL;
    uint8_t *query_valid = c->hole_frac > 0 ? malloc((size_t)S) : NULL;
    const size_t n_scratch = ap_attention_f32_scratch(S, T, d);
    float *scratch = malloc(sizeof(float) * n_scratch); /* exact size, so ASan sees an overrun */
    double *ref_scratch = malloc(sizeof(double) * (size_t)T);
    double *kp = c->key_prob ? malloc(sizeof(double) * (size_t)T) : NULL;
    double *kp_ref = c->key_prob ? malloc(sizeof(double) * (size_t)T) : NULL;
    double err = INFINITY;
    if (!q || !k || !v || !o || !o_ref || !got || !want || !scratch || !ref_scratch ||
        (c->mask_density >= 0 && !mask) || (c->pad_frac > 0 && !key_valid) || (c->hole_frac > 0 && !query_valid) ||
        (c->key_prob && (!kp || !kp_ref))) {
        ap_test_fail(__FILE__, __LINE__, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < S * qs; i++) q[i] = c->amplitude * rng_normal();
    for (int64_t i = 0; i < T * ks; i++) k[i] = c->amplitude * rng_normal();
    float vmax = 0.0f;
    for (int64_t i = 0; i < T * vs; i++) {
        v[i] = rng_normal();
        if (i % vs < d && fabsf(v[i]) > vmax) vmax = fabsf(v[i]);
    }
    for (int64_t i = 0; i < S * os; i++) o[i] = o_ref[i] = SENTINEL;
    if (mask) {
        for (int64_t i = 0; i < (int64_t)S * T; i++) mask[i] = rng_unit() < c->mask_density;
        if (c->empty_rows)
            for (int32_t i = 0; i < S; i += 3) memset(mask + (int64_t)i * T, 0, (size_t)T);
    }
    if (key_valid)
        for (int32_t j = 0; j < T; j++) key_valid[j] = j >= T - (int32_t)(c->pad_frac * T) ? 0 : rng_unit() > 0.05;
    if (query_valid)
        for (int32_t i = 0; i < S; i++) query_valid[i] = rng_unit() >= c->hole_frac;
    if (kp)
        for (int32_t j = 0; j < T; j++) kp[j] = kp_ref[j] = 0.25 * j; /* accumulated onto, not overwritten */

    struct ap_attn_head h = {
        .q = q, .k = k, .v = v, .o = o, .q_stride = qs, .k_stride = ks, .v_stride = vs, .o_stride = os,
        .n_q = S, .n_k = T, .d = d, .scale = 1.0f / sqrtf((float)d), .causal = c->causal,
        .key_valid = key_valid, .query_valid = query_valid,
    };
    h.o = o_ref;
    ap_attention_ref(&h, mask, ref_scratch, kp_ref);
    h.o = o;
    err = 0.0;
    for (int isa = 0; isa < N_ISAS; isa++) {
        if (isa > 0 && (g_isas[isa] & ap_cpu_features()) == (g_isas[isa - 1] & ap_cpu_features()))
            continue; /* the CPU lacks this variant: the same as the previous one */
        for (int64_t i = 0; i < S * os; i++) o[i] = SENTINEL;
        if (kp)
            for (int32_t j = 0; j < T; j++) kp[j] = 0.25 * j;
        ap_attention_f32_isa(&h, mask, scratch, kp, g_isas[isa]);
        err = fmax(err, compare(c, &h, o_ref, kp, kp_ref, mask, vmax, g_isa_names[isa], got, want));
    }
out:
    free(q), free(k), free(v), free(o), free(o_ref), free(got), free(want), free(mask), free(key_valid);
    free(query_valid), free(scratch), free(ref_scratch), free(kp), free(kp_ref);
    return err;
}

static const int32_t g_lengths[] = {1, 2, 63, 64, 65, 200, 513};
static const int32_t g_dims[] = {1, 7, 64, 128};
#define N_LENGTHS ((int)(sizeof g_lengths / sizeof g_lengths[0]))
#define N_DIMS ((int)(sizeof g_dims / sizeof g_dims[0]))

/* Every S x T x d, bidirectional and causal, half of them strided: no mask,
 * no padding. Causal with T > S puts the queries at the end of the keys
 * (decode and chunked prefill); with T < S the first S - T rows see
 * nothing and must come out zero. */
TEST(attention_f32_matches_ref_every_shape) {
    double worst = 0.0;
    int n = 0;
    for (int a = 0; a < N_LENGTHS; a++)
        for (int b = 0; b < N_LENGTHS; b++)
            for (int e = 0; e < N_DIMS; e++)
                for (int causal = 0; causal <= 1; causal++) {
                    struct attn_case c = {.S = g_lengths[a], .T = g_lengths[b], .d = g_dims[e], .causal = causal,
                                          .strided = (a + b + e) % 2, .mask_density = -1, .amplitude = 1.0f};
                    worst = fmax(worst, check_case(&c));
                    n++;
                }
    fprintf(stderr, "    %d shapes, max output error %.3g of max|V|\n", n, worst);
}

/* Masks of density 0, 0.1, 0.5 and 1 (with and without rows masked out
 * entirely), padding keys, query holes and key_prob, on shapes around the
 * block size, bidirectional and causal. */
TEST(attention_f32_matches_ref_masks_padding_key_prob) {
    static const int32_t lengths[] = {1, 63, 64, 65, 200};
    static const double densities[] = {0.0, 0.1, 0.5, 1.0};
    double worst = 0.0;
    int n = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++)
            for (int m = 0; m < 4; m++)
                for (int causal = 0; causal <= 1; causal++) {
                    struct attn_case c = {.S = lengths[a], .T = lengths[b], .d = (a + m) % 2 ? 64 : 7,
                                          .causal = causal, .strided = (a + b + m) % 2,
                                          .mask_density = densities[m], .pad_frac = (a + m) % 3 ? 0.1 : 0.0,
                                          .hole_frac = (b + m) % 3 ? 0.2 : 0.0, .empty_rows = (a + b) % 2,
                                          .key_prob = (a + b + causal) % 2, .amplitude = 1.0f};
                    worst = fmax(worst, check_case(&c));
                    n++;
                }
    fprintf(stderr, "    %d masked cases, max output error %.3g of max|V|, max key_prob error %.3g of S\n", n, worst,
            g_worst_key_prob);
}

/* One query row (a decode step), causal at the end of T keys, with and
 * without padding, mask and key_prob: the sgemv path. */
TEST(attention_f32_matches_ref_decode_step) {
    static const int32_t lengths[] = {1, 2, 63, 64, 65, 200, 513, 4096};
    for (int b = 0; b < 8; b++)
        for (int variant = 0; variant < 4; variant++) {
            struct attn_case c = {.S = 1, .T = lengths[b], .d = variant % 2 ? 64 : 128, .causal = variant < 3,
                                  .strided = variant % 2, .mask_density = variant == 2 ? 0.5 : -1,
                                  .pad_frac = variant == 1 ? 0.1 : 0.0, .key_prob = variant == 3, .amplitude = 1.0f};
            check_case(&c);
        }
}

/* Scores up to about +-700 (q and k of standard deviation 10 at d = 64,
 * scale 1/8): exp overflows without the row maximum subtracted, and most
 * probabilities underflow to 0. */
TEST(attention_f32_large_scores) {
    double worst = 0.0;
    for (int causal = 0; causal <= 1; causal++) {
        for (int kp = 0; kp <= 1; kp++) {
            struct attn_case c = {.S = 200, .T = 513, .d = 64, .causal = causal, .mask_density = 0.5,
                                  .pad_frac = 0.1, .key_prob = kp, .amplitude = 10.0f};
            worst = fmax(worst, check_case(&c));
        }
    }
    fprintf(stderr, "    max output error %.3g of max|V| * amplitude^2\n", worst);
}

/* The scratch size: at least one block of rows (at most S) times T
 * rounded up to whole cache lines for the BLAS path, room for the packed
 * keys (T d) of the flash path, linear in T, and never 0. */
TEST(attention_f32_scratch_size) {
    CHECK(ap_attention_f32_scratch(1, 1, 1) >= 16);
    CHECK(ap_attention_f32_scratch(1, 4096, 64) >= 4096);
    CHECK(ap_attention_f32_scratch(2, 17, 64) >= 2 * 32);
    CHECK(ap_attention_f32_scratch(2, 17, 64) >= 32 * 64);
    CHECK(ap_attention_f32_scratch(4096, 4096, 64) <= (size_t)256 * 4096);
    CHECK(2 * ap_attention_f32_scratch(4096, 4096, 64) >= ap_attention_f32_scratch(8192, 8192, 64));
    CHECK(ap_attention_f32_scratch(0, 0, 1) >= 1);
}

/* ------------------------------------------------------------ sparse rows */

/* ap_attention_sparse_rows on row lists made from a random mask (limited
 * to valid, visible keys, as a predictor makes them), in blocks of random
 * sizes, against ap_attention_ref on the same mask, for the portable path
 * and each SIMD variant the CPU has. Returns the max output error relative
 * to max|V|. */
static double check_sparse(int32_t S, int32_t T, int32_t d, int causal, double density, double pad, double holes,
                           int strided) {
    const int64_t qs = strided ? d + 3 : d, ks = strided ? d + 5 : d, vs = strided ? d + 1 : d, os = d;
    float *q = malloc(sizeof(float) * (size_t)(S * qs)), *k = malloc(sizeof(float) * (size_t)(T * ks));
    float *v = malloc(sizeof(float) * (size_t)(T * vs)), *o = malloc(sizeof(float) * (size_t)(S * os));
    float *o_ref = malloc(sizeof(float) * (size_t)(S * os));
    uint8_t *mask = malloc((size_t)S * (size_t)T + 1), *kv = malloc((size_t)T), *qv = malloc((size_t)S);
    int64_t *row_ptr = malloc(sizeof(int64_t) * (size_t)(S + 1));
    int32_t *cols = malloc(sizeof(int32_t) * ((size_t)S * (size_t)T + 1));
    float *scratch = malloc(sizeof(float) * ap_attention_sparse_scratch(d));
    double *ref_scratch = malloc(sizeof(double) * (size_t)T);
    double worst = 0.0;
    if (!q || !k || !v || !o || !o_ref || !mask || !kv || !qv || !row_ptr || !cols || !scratch || !ref_scratch) {
        ap_test_fail(__FILE__, __LINE__, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < S * qs; i++) q[i] = rng_normal();
    for (int64_t i = 0; i < T * ks; i++) k[i] = rng_normal();
    float vmax = 0.0f;
    for (int64_t i = 0; i < T * vs; i++) {
        v[i] = rng_normal();
        vmax = fmaxf(vmax, fabsf(v[i]));
    }
    for (int32_t j = 0; j < T; j++) kv[j] = rng_unit() >= pad;
    for (int32_t i = 0; i < S; i++) qv[i] = rng_unit() >= holes;
    struct ap_attn_head h = {
        .q = q, .k = k, .v = v, .o = o_ref, .q_stride = qs, .k_stride = ks, .v_stride = vs, .o_stride = os,
        .n_q = S, .n_k = T, .d = d, .scale = 1.0f / sqrtf((float)d), .causal = causal,
        .key_valid = pad > 0 ? kv : NULL, .query_valid = holes > 0 ? qv : NULL,
    };
    int64_t n = 0;
    row_ptr[0] = 0;
    for (int32_t i = 0; i < S; i++) {
        for (int32_t j = 0; j < T; j++) {
            int keep = rng_unit() < density && (!h.key_valid || kv[j]) && (!causal || j <= i + (T - S));
            mask[(int64_t)i * T + j] = (uint8_t)keep;
            if (keep) cols[n++] = j;
        }
        row_ptr[i + 1] = n;
    }
    ap_attention_ref(&h, mask, ref_scratch, NULL);
    h.o = o;
    for (int isa = 0; isa < N_ISAS; isa++) {
        if (isa > 0 && (g_isas[isa] & ap_cpu_features()) == (g_isas[isa - 1] & ap_cpu_features())) continue;
        for (int64_t i = 0; i < S * os; i++) o[i] = SENTINEL;
        for (int32_t i0 = 0; i0 < S;) { /* blocks of 1..40 rows, row_ptr relative to the block */
            int32_t nb = 1 + (int32_t)(rng_next() % 40);
            if (nb > S - i0) nb = S - i0;
            int64_t rel[41];
            for (int32_t r = 0; r <= nb; r++) rel[r] = row_ptr[i0 + r] - row_ptr[i0];
            ap_attention_sparse_rows(&h, i0, nb, rel, cols + row_ptr[i0], scratch, g_isas[isa]);
            i0 += nb;
        }
        char what[200];
        snprintf(what, sizeof what, "sparse %s: S=%d T=%d d=%d causal=%d density=%.2f pad=%.2f holes=%.2f",
                 g_isa_names[isa], S, T, d, causal, density, pad, holes);
        int bad_zero = 0;
        for (int32_t i = 0; i < S; i++) {
            int ref_zero = 1;
            for (int32_t c = 0; c < d; c++) ref_zero &= o_ref[(int64_t)i * os + c] == 0.0f;
            if ((h.query_valid && !qv[i]) || row_ptr[i + 1] == row_ptr[i])
                for (int32_t c = 0; c < d; c++) bad_zero += !ref_zero || o[(int64_t)i * os + c] != 0.0f;
        }
        if (bad_zero) ap_test_fail(__FILE__, __LINE__, "%s: %d values that must be zero are not", what, bad_zero);
        const double sc = vmax > 0 ? vmax : 1.0;
        worst = fmax(worst, CHECK_ARRAY_NEAR(what, o, o_ref, (size_t)S * (size_t)d, TOL_OUT * sc) / sc);
    }
out:
    free(q), free(k), free(v), free(o), free(o_ref), free(mask), free(kv), free(qv), free(row_ptr), free(cols);
    free(scratch), free(ref_scratch);
    return worst;
}

/* Odd and round sizes, S = 1, d not a multiple of the vector width,
 * densities from empty to full, causal, padding, query holes, strides. */
TEST(attention_sparse_rows_match_ref) {
    static const int32_t lengths[] = {1, 2, 17, 64, 200};
    static const int32_t dims[] = {1, 7, 16, 64, 65, 128};
    static const double densities[] = {0.0, 0.05, 0.3, 1.0};
    double worst = 0.0;
    int n = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++)
            for (int e = 0; e < 6; e++)
                for (int causal = 0; causal <= 1; causal++) {
                    const double dens = densities[(a + b + e) % 4];
                    worst = fmax(worst, check_sparse(lengths[a], lengths[b], dims[e], causal, dens,
                                                     (a + e) % 3 ? 0.1 : 0.0, (b + e) % 3 ? 0.2 : 0.0,
                                                     (a + b) % 2));
                    n++;
                }
    fprintf(stderr, "    %d cases, max output error %.3g of max|V|\n", n, worst);
}

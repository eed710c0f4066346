/* test_lowbit_gemm.c — the int8 predictor products (kernels/lowbit_gemm.h):
 * every kernel this CPU has, forced through the features mask, against a
 * plain int64 triple loop written here (not the library's ap_dot_i8), at odd
 * sizes, with n_k not a multiple of the key group, extreme codes, and
 * sentinels around the output block that must stay untouched.
 *
 * Legend: T = keys packed, n_k = keys computed, n_q = query rows, d = head
 * dimension. */
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "kernels/lowbit_gemm.h"
#include "test.h"

#define SENTINEL ((int32_t)0x5a5a5a5a)

/* The kernels and the feature masks that select them. */
static const struct {
    enum ap_i8_kernel kernel;
    uint32_t mask;
    int any_codes; /* 1: exact for all int8 codes; 0: only [-64, 63] */
} variants[] = {
    {AP_I8_SCALAR, 0, 1},
    {AP_I8_AVX2, AP_CPU_AVX2, 0},
    {AP_I8_AVX512BW, AP_CPU_AVX2 | AP_CPU_AVX512F | AP_CPU_AVX512BW, 0},
    {AP_I8_AVXVNNI, AP_CPU_AVX2 | AP_CPU_AVXVNNI, 1},
    {AP_I8_AVX512VNNI, AP_CPU_AVX2 | AP_CPU_AVX512F | AP_CPU_AVX512BW | AP_CPU_AVX512VNNI, 1},
};
#define N_VARIANTS ((int)(sizeof variants / sizeof variants[0]))

static int has(uint32_t mask) { return (ap_cpu_features() & mask) == mask; }

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* codes uniform in [lo, hi] */
static void fill(int8_t *x, int64_t n, int32_t lo, int32_t hi) {
    for (int64_t i = 0; i < n; i++) x[i] = (int8_t)(lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1)));
}

/* Runs variant v on (q, keys) and compares with the triple loop; the output
 * block has a border of sentinels (2 extra columns per row, 1 extra row).
 * Returns 0 when the variant is not available on this CPU. */
static int check_case(int v, const int8_t *q, int32_t n_q, const int8_t *kc, int32_t T, int32_t n_k, int32_t d,
                      int in_range) {
    if (!has(variants[v].mask)) return 0;
    struct ap_i8_keys keys;
    enum ap_status st = ap_i8_keys_pack(kc, T, d, &keys);
    CHECK_STATUS(st, AP_OK);
    if (st != AP_OK) return 0;
    const int64_t ldo = (int64_t)n_k + 2;
    const size_t n_out = (size_t)((n_q + 1) * ldo);
    int32_t *out = malloc(sizeof(int32_t) * n_out);
    if (!out) {
        ap_test_fail(__FILE__, __LINE__, "out of memory");
        ap_i8_keys_free(&keys);
        return 0;
    }
    for (size_t x = 0; x < n_out; x++) out[x] = SENTINEL;
    enum ap_i8_kernel got = ap_i8_dots_isa(q, n_q, &keys, n_k, out, ldo, variants[v].mask);
    /* the variant runs when the codes suit it; otherwise the scalar loop */
    const enum ap_i8_kernel want = (variants[v].any_codes || in_range) ? variants[v].kernel : AP_I8_SCALAR;
    if (got != want)
        ap_test_fail(__FILE__, __LINE__, "%s (n_q %d, n_k %d, d %d): took %s", ap_i8_kernel_name(variants[v].kernel),
                     n_q, n_k, d, ap_i8_kernel_name(got));
    int64_t bad = 0;
    for (int32_t i = 0; i <= n_q; i++)
        for (int64_t j = 0; j < ldo; j++) {
            int64_t want_v = SENTINEL;
            if (i < n_q && j < n_k) {
                want_v = 0;
                for (int32_t c = 0; c < d; c++) want_v += (int64_t)q[(int64_t)i * d + c] * kc[j * d + c];
            }
            const int32_t have = out[(int64_t)i * ldo + j];
            if (have != want_v && bad++ < 3)
                ap_test_fail(__FILE__, __LINE__, "%s n_q %d n_k %d T %d d %d: out[%d][%lld] = %d, expected %lld",
                             ap_i8_kernel_name(variants[v].kernel), n_q, n_k, T, d, i, (long long)j, have,
                             (long long)want_v);
        }
    free(out);
    ap_i8_keys_free(&keys);
    return 1;
}

/* Every variant at every size of the grid, codes in the maddubs range and
 * small 4-bit codes. */
TEST(lowbit_gemm_odd_sizes_every_kernel) {
    static const int32_t ds[] = {1, 3, 63, 64, 65, 127, 512};
    static const int32_t nqs[] = {1, 5, 64};
    static const int32_t nks[] = {1, 15, 17, 1000};
    int ran[N_VARIANTS] = {0};
    for (size_t a = 0; a < sizeof ds / sizeof ds[0]; a++)
        for (size_t b = 0; b < sizeof nqs / sizeof nqs[0]; b++)
            for (size_t c = 0; c < sizeof nks / sizeof nks[0]; c++) {
                const int32_t d = ds[a], n_q = nqs[b], n_k = nks[c];
                const int32_t T = n_k + (int32_t)(c % 2) * 3; /* n_k = T and n_k < T */
                int8_t *q = malloc((size_t)n_q * (size_t)d), *k = malloc((size_t)T * (size_t)d);
                REQUIRE(q && k);
                const int small = (a + b + c) % 2; /* 4-bit codes, else the whole maddubs range */
                fill(q, (int64_t)n_q * d, small ? -8 : AP_I8_MADDUBS_MIN, small ? 7 : AP_I8_MADDUBS_MAX);
                fill(k, (int64_t)T * d, small ? -8 : AP_I8_MADDUBS_MIN, small ? 7 : AP_I8_MADDUBS_MAX);
                for (int v = 0; v < N_VARIANTS; v++) ran[v] += check_case(v, q, n_q, k, T, n_k, d, 1);
                free(q);
                free(k);
                if (ap_test_failed()) return;
            }
    for (int v = 0; v < N_VARIANTS; v++)
        printf("  %s: %s\n", ap_i8_kernel_name(variants[v].kernel), ran[v] ? "checked" : "not on this CPU");
    CHECK(ran[0] > 0);
}

/* Extreme codes: the maddubs range's ends (-64 everywhere: 4 products of
 * 127 x -64 summed in int16), and the whole int8 range (-128, 127), which
 * the maddubs kernels must hand to the scalar loop and the VNNI kernels
 * take exactly. Also more than one block of query rows (n_q > 64). */
TEST(lowbit_gemm_extreme_codes) {
    const int32_t d = 512, n_q = 130, T = 33, n_k = 33;
    int8_t *q = malloc((size_t)n_q * d), *k = malloc((size_t)T * d);
    REQUIRE(q && k);
    static const int8_t qv[] = {-64, 63, -64, -128, 127, -128};
    static const int8_t kv[] = {-64, -64, 63, -128, -128, 127};
    for (size_t e = 0; e < sizeof qv / sizeof qv[0]; e++) {
        memset(q, (unsigned char)qv[e], (size_t)n_q * d);
        memset(k, (unsigned char)kv[e], (size_t)T * d);
        /* a few random rows among the constant ones */
        fill(q + 7 * d, d, qv[e] < -64 || qv[e] > 63 ? -128 : -64, qv[e] < -64 || qv[e] > 63 ? 127 : 63);
        fill(k + 20 * d, d, kv[e] < -64 || kv[e] > 63 ? -128 : -64, kv[e] < -64 || kv[e] > 63 ? 127 : 63);
        const int in_range = qv[e] >= -64 && qv[e] <= 63 && kv[e] >= -64 && kv[e] <= 63;
        for (int v = 0; v < N_VARIANTS; v++) check_case(v, q, n_q, k, T, n_k, d, in_range);
    }
    /* one out-of-range key code among in-range ones */
    fill(q, (int64_t)n_q * d, -64, 63);
    fill(k, (int64_t)T * d, -64, 63);
    k[5 * d + 17] = 64;
    for (int v = 0; v < N_VARIANTS; v++) check_case(v, q, n_q, k, T, n_k, d, 0);
    free(q);
    free(k);
}

TEST(lowbit_gemm_pack_arguments) {
    int8_t k[4] = {1, 2, 3, 4};
    struct ap_i8_keys keys;
    CHECK_STATUS(ap_i8_keys_pack(k, 1, 0, &keys), AP_ERR_INVALID_ARG);
    ap_i8_keys_free(&keys);
    CHECK_STATUS(ap_i8_keys_pack(k, 1, AP_I8_MAX_D + 1, &keys), AP_ERR_INVALID_ARG);
    ap_i8_keys_free(&keys);
    CHECK_STATUS(ap_i8_keys_pack(k, 0, 4, &keys), AP_OK);
    CHECK_EQ_INT(keys.groups, 0);
    int32_t out = SENTINEL;
    ap_i8_dots(k, 1, &keys, 0, &out, 0); /* nothing to compute, nothing written */
    CHECK_EQ_INT(out, SENTINEL);
    ap_i8_keys_free(&keys);
    CHECK_STATUS(ap_i8_keys_pack(k, 1, 4, &keys), AP_OK);
    CHECK_EQ_INT(keys.ksum[0], 10);
    CHECK_EQ_INT(keys.cmin, 1);
    CHECK_EQ_INT(keys.cmax, 4);
    const int8_t q[4] = {-1, 1, -1, 1};
    ap_i8_dots(q, 1, &keys, 1, &out, 1);
    CHECK_EQ_INT(out, 2); /* -1 + 2 - 3 + 4 */
    ap_i8_keys_free(&keys);
}

/* ap_i8_select_ge (products and threshold fused) against a loop written
 * here: every kernel the CPU has (forced through the feature mask), rows
 * seeing different numbers of keys (0 .. n_k), padding keys, thresholds
 * from "everything" to "nothing", odd sizes. */
TEST(lowbit_select_ge_matches_loop) {
    static const int32_t dims[] = {1, 7, 64, 65};
    static const int32_t keys[] = {1, 17, 300};
    const int32_t n_q = 37;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++) {
            const int32_t d = dims[a], T = keys[b];
            int8_t *q = malloc((size_t)n_q * (size_t)d), *kc = malloc((size_t)T * (size_t)d);
            uint8_t *kv = malloc((size_t)T);
            int32_t *cols = malloc(sizeof(int32_t) * (size_t)n_q * (size_t)T);
            int32_t *scratch = malloc(sizeof(int32_t) * (size_t)n_q * (size_t)T);
            int32_t n_vis[37], counts[37];
            REQUIRE(q && kc && kv && cols && scratch);
            fill(q, (int64_t)n_q * d, -8, 7);
            fill(kc, (int64_t)T * d, -8, 7);
            for (int32_t j = 0; j < T; j++) kv[j] = rnd() % 7 != 0;
            for (int32_t i = 0; i < n_q; i++) n_vis[i] = i == 0 ? 0 : (int32_t)(rnd() % (uint32_t)(T + 1));
            struct ap_i8_keys k;
            CHECK_STATUS(ap_i8_keys_pack(kc, T, d, &k), AP_OK);
            static const int64_t los[] = {-((int64_t)1 << 40), -3, 0, 5, 40, (int64_t)1 << 40};
            for (int v = 0; v < N_VARIANTS; v++) {
                if (!has(variants[v].mask)) continue;
                for (int li = 0; li < 6; li++)
                    for (int with_kv = 0; with_kv <= 1; with_kv++) {
                        ap_i8_select_ge(q, n_q, &k, T, n_vis, los[li], with_kv ? kv : NULL, cols, T, counts, scratch,
                                        variants[v].mask);
                        int bad = 0;
                        for (int32_t i = 0; i < n_q; i++) {
                            int32_t e = 0;
                            for (int32_t j = 0; j < n_vis[i]; j++) {
                                int32_t dot = 0;
                                for (int32_t c = 0; c < d; c++)
                                    dot += (int32_t)q[(int64_t)i * d + c] * kc[(int64_t)j * d + c];
                                if (dot >= los[li] && (!with_kv || kv[j])) {
                                    bad += e >= counts[i] || cols[(int64_t)i * T + e] != j;
                                    e++;
                                }
                            }
                            bad += e != counts[i];
                        }
                        if (bad)
                            ap_test_fail(__FILE__, __LINE__, "select: kernel mask %#x d=%d T=%d lo=%lld kv=%d: %d bad",
                                         variants[v].mask, d, T, (long long)los[li], with_kv, bad);
                    }
            }
            ap_i8_keys_free(&k);
            free(q), free(kc), free(kv), free(cols), free(scratch);
        }
}

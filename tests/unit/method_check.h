/* method_check.h — one helper for the methods' tests against their NumPy
 * references (tests/ref/method_*.py) on the Q/K/V fixtures
 * (tests/ref/qkv_fixture.py): opening fixtures with a message that says how
 * to make them, per-head inputs, small hand cases, and three checks that
 * differ in how the reference marks a tie (each documented below).
 *
 * Legend: L = layers, H = heads, S = queries, T = keys (= S), d = head dim.
 * A missing fixture is a test failure that says how to make it. Every
 * function takes the caller's file:line (the macros pass them) so that
 * failures point at the test. */
#ifndef AP_TEST_METHOD_CHECK_H
#define AP_TEST_METHOD_CHECK_H

#include <stdint.h>

#include "io/npy.h"
#include "methods/method.h"

/* ------------------------------------------------------------- plumbing */

/* Open BUILD/fixtures/NAME, made by tests/ref/MAKER (for the message). With
 * ndim >= 0 also require dtype and ndim dims of shape (a negative entry
 * matches any size); with ndim < 0 accept any array. NULL after a failure. */
struct ap_npy *ap_mc_ref_open(const char *file, int line, const char *name, const char *maker, enum ap_dtype dtype,
                              int32_t ndim, const int64_t *shape);
#define REF_OUTPUT_OPEN(name, maker, dtype, ndim, shape) \
    ap_mc_ref_open(__FILE__, __LINE__, name, maker, dtype, ndim, shape)
#define REF_OPEN_ANY(name, maker) ap_mc_ref_open(__FILE__, __LINE__, name, maker, AP_DTYPE_U8, -1, NULL)

/* Element i of an 8-byte reference array (F64 / I64), read without aliasing. */
double ap_mc_f64(const struct ap_npy *a, int64_t i);
int64_t ap_mc_i64(const struct ap_npy *a, int64_t i);

/* The Q/K/V fixture qkv_NAME_{q,k,v}.npy, float32 (L, H, S, d) each. */
struct ap_mc_qkv {
    struct ap_npy *npy[3];
    const float *q, *k, *v; /* (L, H, S, d) each */
    int32_t L, H, S, d;
};
/* Returns 1, or 0 after recording a failure (r is then closed). */
int ap_mc_qkv_open(const char *file, int line, const char *name, struct ap_mc_qkv *r);
void ap_mc_qkv_close(struct ap_mc_qkv *r);
#define QKV_REF_OPEN(name, r) ap_mc_qkv_open(__FILE__, __LINE__, name, r)

/* Head (l, h) as method inputs: S queries and keys, scale 1/sqrt(d) as the
 * model computes it (in float), no padding, not causal (callers set
 * .causal, .key_valid and .query_valid where they need them). */
struct ap_head_inputs ap_mc_qkv_head(const struct ap_mc_qkv *r, int32_t l, int32_t h);

/* ap_method_create that records a failure with the message; NULL then. */
struct ap_method *ap_mc_make(const char *file, int line, const char *spec);
#define MC_MAKE(spec) ap_mc_make(__FILE__, __LINE__, spec)

/* Index of the statistic NAME of m (a failure and 0 if it has none). */
int ap_mc_stat_index(const char *file, int line, const struct ap_method *m, const char *name);
#define MC_STAT_INDEX(m, name) ap_mc_stat_index(__FILE__, __LINE__, m, name)

/* A hand case: d = 1, scale 1, one head; row i's scores are q[i] * k[j]
 * (v = k). Creates SPEC, predicts into mask / *out (zeroed first), frees. */
void ap_mc_run_tiny(const char *file, int line, const char *spec, const float *q, const float *k, int32_t S, int32_t T,
                    int causal, const uint8_t *key_valid, const uint8_t *query_valid, uint8_t *mask,
                    struct ap_head_output *out);
#define RUN_TINY(spec, q, k, S, T, causal, kv, qv, mask, out) \
    ap_mc_run_tiny(__FILE__, __LINE__, spec, q, k, S, T, causal, kv, qv, mask, out)

/* Fail for every (i, j) where got (S x T) is nonzero and want[i*T + j] is
 * not '1', or the other way round. */
void ap_mc_check_mask(const char *file, int line, const uint8_t *got, const char *want, int32_t S, int32_t T);
#define CHECK_MASK_STR(got, want, S, T) ap_mc_check_mask(__FILE__, __LINE__, got, want, S, T)

/* Compare n mask bytes with the reference (as booleans); differences where
 * tie[i] is set are counted in *tie_diffs, any other difference is a failure
 * (the first few are printed with their index). Returns the number of
 * non-tie differences. */
int64_t ap_mc_compare_masks(const char *file, int line, const char *what, const uint8_t *got, const uint8_t *want,
                            const uint8_t *tie, int64_t n, int64_t *tie_diffs);

/* ------------------------------------------ check 1: ties at a row threshold
 *
 * The reference writes, into the fixture directory:
 *   PREFIX_settings.json    {"settings": [{"name", "fixture" ("real"|"rand"), "params" (a spec),
 *                             "key_len", "query_len" (-1 = all valid), "causal",
 *                             "stats": names of the stats columns}, ...]}
 *   PREFIX_NAME_mask.npy    uint8 (L, H, S, S)
 *   PREFIX_NAME_stats.npy   float64 (L, H, n_stats): "kept" and "valid" are
 *                           out->kept / out->valid, others ops->stat_names
 *   PREFIX_NAME_thr.npy     float64 (L, H, S): per row, the probability at which
 *                           the decision flips (NaN: the row has no keys)
 * A pair where the C and NumPy masks differ is a tie if its exact probability
 * is within tie_rel (relative) of its row's thr; ties are counted and
 * printed, any other difference fails the test. Heads with ties are exempt
 * from the statistics check (their kept counts may differ by the ties);
 * statistics are compared to a relative 1e-9. (oracle-topk,
 * oracle-threshold, spatten) */
struct ap_test_ref_totals {
    int64_t settings, heads, pairs, differing, ties;
};
void ap_test_method_ref_check(const char *file, int line, const char *method, const char *prefix, double tie_rel,
                              struct ap_test_ref_totals *totals);
#define CHECK_METHOD_AGAINST_REF(method, prefix, tie_rel, totals) \
    ap_test_method_ref_check(__FILE__, __LINE__, method, prefix, tie_rel, totals)

/* ------------------------------------- check 2: a list of ties, unstable heads
 *
 * The reference writes, into the fixture directory:
 *     NAME_SETTING_spec.txt       the parameter string to create the method with
 *     NAME_SET_set.txt            "SOURCE VALID_LEN CAUSAL": fixture qkv_SOURCE_*,
 *                                 tokens >= VALID_LEN padded (-1: none), causal
 *     NAME_stat_names.txt         stat names, one a line (must equal ops->stat_names)
 *     NAME_SETTING_SET_mask.npy   uint8 (L, H, S, S)
 *     NAME_SETTING_SET_stats.npy  float64 (L, H, n_stats)
 *     NAME_SETTING_SET_ties.npy   int64 (n, 4): (layer, head, i, j) within the
 *                                 reference's tie margin of the threshold
 *     NAME_SETTING_SET_unstable.npy  uint8 (L, H): heads where a last-bit difference
 *                                 could flip a quantizer code (every pair is then a tie)
 *
 * The method must write every mask byte as 0 or 1. A differing pair is
 * allowed only if it is a tie (or in an unstable head); every other
 * difference fails the test with its position. Stats must be exactly equal
 * in every head with no differing pair. Prints one summary line on stderr.
 * Returns 0 if the fixtures were found. (hammer, sanger) */
struct ap_mask_ref_result {
    int64_t heads, pairs;  /* heads and (S x T) entries compared */
    int64_t ties;          /* pairs the reference marks as ties */
    int64_t tie_diffs;     /* differing pairs that were ties (allowed) */
    int64_t unstable_heads;
    int64_t diffs;         /* differing pairs that were not ties (failures) */
    int64_t stat_heads;    /* heads whose stats were compared (no differing pair) */
    int64_t stat_diffs;    /* stats that differ in those heads (failures) */
};
int ap_mask_ref_check(const char *file, int line, const char *name, const char *setting, const char *set,
                      struct ap_mask_ref_result *res);
#define CHECK_MASK_REF(name, setting, set, res) ap_mask_ref_check(__FILE__, __LINE__, name, setting, set, res)

/* -------------------------- check 3: per-layer thresholds and a tie mask
 *
 * The reference writes METHOD_DATA_SETTING_{th,mask,tie,stats}.npy: th
 * float64 (L) the per-layer thresholds, mask and tie uint8 (L, H, S, S),
 * stats float64 (L, H, n_ref_stats) = kept, valid, then the method's stats.
 * The method is created as "METHOD:PARAMS,th=th0;th1;...". Mask differences
 * are allowed only where tie is set; the statistics must be exactly equal in
 * every head where no tie was decided differently. Fails the test on any
 * other difference (CHECK differ == 0 and stat_bad == 0). (leopard, sprint) */
struct ap_th_ref_result {
    int ran;                                /* 1 if the fixtures were found and every head ran */
    int32_t L, H, S;
    int64_t differ, tie_diffs, ties, stat_bad, kept, valid;
    double stat_sum[AP_METHOD_MAX_STATS];   /* out.stats summed over the heads */
};
void ap_th_ref_check(const char *file, int line, const char *method, const char *data, const char *setting,
                     const char *params, int32_t n_ref_stats, struct ap_th_ref_result *res);
#define CHECK_TH_REF(method, data, setting, params, n_ref_stats, res) \
    ap_th_ref_check(__FILE__, __LINE__, method, data, setting, params, n_ref_stats, res)

/* The method's fused path (rows_prepare + predict_rows, blocks of
 * AP_ROWS_BLOCK) against its predict on every head of the real Q/K/V
 * fixture, bidirectional, then causal with every 11th key padding: lists
 * ascending and inside the valid pairs, the same valid-pair counts, and at
 * most max_diff_frac of the valid pairs decided differently. */
void ap_mc_check_rows(const char *file, int line, const char *spec, double max_diff_frac);
#define CHECK_ROWS_MATCH_PREDICT(spec, frac) ap_mc_check_rows(__FILE__, __LINE__, spec, frac)

#endif

/* mask_ref.h — checks a method's masks and per-head stats against the
 * outputs of its NumPy reference (tests/ref/method_NAME.py), head by head,
 * over the Q/K/V fixtures of tests/ref/qkv_fixture.py.
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
 * A differing pair is allowed only if it is a tie (or in an unstable head);
 * every other difference fails the test with its position. Stats must be equal
 * in every head with no differing pair. Missing fixtures fail the test and
 * say how to make them. */
#ifndef AP_TEST_MASK_REF_H
#define AP_TEST_MASK_REF_H

#include <stdint.h>

struct ap_mask_ref_result {
    int64_t heads, pairs;  /* heads and (S x T) entries compared */
    int64_t ties;          /* pairs the reference marks as ties */
    int64_t tie_diffs;     /* differing pairs that were ties (allowed) */
    int64_t unstable_heads;
    int64_t diffs;         /* differing pairs that were not ties (failures) */
    int64_t stat_heads;    /* heads whose stats were compared (no differing pair) */
    int64_t stat_diffs;    /* stats that differ in those heads (failures) */
};

/* Compare method NAME at SETTING on SET; failures are reported at file:line.
 * Prints one summary line on stderr. Returns 0 if the fixtures were found. */
int ap_mask_ref_check(const char *file, int line, const char *name, const char *setting, const char *set,
                      struct ap_mask_ref_result *res);
#define CHECK_MASK_REF(name, setting, set, res) ap_mask_ref_check(__FILE__, __LINE__, name, setting, set, res)

#endif

/* method_ref_check.h — run a method over the Q/K/V fixtures with each
 * setting a NumPy reference (tests/ref/method_*.py) wrote, and compare masks
 * and per-head statistics with the reference's.
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
 * from the exact statistics check (their kept counts may differ by the ties). */
#ifndef AP_TEST_METHOD_REF_CHECK_H
#define AP_TEST_METHOD_REF_CHECK_H

#include <stdint.h>

struct ap_test_ref_totals {
    int64_t settings, heads, pairs, differing, ties;
};

/* Fails the running test (with how to make the fixtures) if they are missing. */
void ap_test_method_ref_check(const char *file, int line, const char *method, const char *prefix, double tie_rel,
                              struct ap_test_ref_totals *totals);
#define CHECK_METHOD_AGAINST_REF(method, prefix, tie_rel, totals) \
    ap_test_method_ref_check(__FILE__, __LINE__, method, prefix, tie_rel, totals)

#endif

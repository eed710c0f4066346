/* adjacent_reuse.h — SPRINT's data-movement statistics of a mask processed
 * one query row after another (thesis chapter 3: sections 3.2 "spatial
 * locality in adjacent queries", 3.4.3 equations 3.4 and 3.5, 3.5 "token
 * interleaving" and "two-dimensional sequence reduction").
 *
 * Legend: S = queries, T = keys, C = on-chip capacity in keys (K and V rows),
 * N = CORELETs.
 *
 * Queries are processed in order; padded (invalid) queries are skipped
 * entirely and padded keys are never fetched (2-D reduction). With P^t the
 * prune vector of the t-th computed query (1 = pruned) and U_t = popcount(~P^t):
 *   memory requests  P^{t-1} & ~P^t   (eq. 3.4)  -> adjacent_new, no capacity limit
 *   already on chip ~P^{t-1} & ~P^t   (eq. 3.5)
 * The on-chip buffer is modelled as holding, after query t, its unpruned keys
 * if U_t <= C, else the last C of them in key order (the ones streamed in
 * last); it starts empty. Then for query t
 *   reused_t  = unpruned keys of t found in the buffer
 *   fetched_t = U_t - reused_t
 * which is exactly eq. 3.4 / 3.5 whenever U_{t-1} <= C. Token interleaving:
 * key j is processed by CORELET j mod N; corelet[c] sums its keys over the
 * queries and corelet_max sums, per query, the largest CORELET's share (the
 * CORELETs finish a query together, so that is the query's critical path). */
#ifndef AP_MASK_ADJACENT_REUSE_H
#define AP_MASK_ADJACENT_REUSE_H

#include <stdint.h>

#define AP_REUSE_MAX_CORELETS 4

struct ap_reuse_stats {
    int64_t queries;        /* computed (valid) queries */
    int64_t pad_queries;    /* query rows skipped as padding */
    int64_t pad_keys;       /* key columns skipped as padding */
    int64_t unpruned;       /* sum of U_t */
    int64_t first_fetch;    /* U of the first computed query */
    int64_t fetched;        /* sum of fetched_t, the first query included */
    int64_t reused;         /* sum of reused_t */
    int64_t adjacent_new;   /* sum over t >= 2 of popcount(P^{t-1} & ~P^t) */
    int64_t adjacent_slots; /* sum over t >= 2 of the keys query t may see (valid, not future) */
    int64_t corelet_max;    /* sum over queries of the largest CORELET share */
    int64_t corelet[AP_REUSE_MAX_CORELETS]; /* keys processed by each CORELET */
};

/* Contract: mask (S, T) bytes, 1 = kept, 0 for every invalid pair;
 * query_valid (S) / key_valid (T) or NULL; causal: query i sees keys
 * j <= i + (T - S). capacity >= 1 keys, corelets in 1..AP_REUSE_MAX_CORELETS.
 * scratch holds 2*T bytes. Fills *out (zeroed first). */
void ap_reuse_stats_compute(const uint8_t *mask, int32_t S, int32_t T, const uint8_t *query_valid,
                            const uint8_t *key_valid, int32_t causal, int64_t capacity, int32_t corelets,
                            uint8_t *scratch, struct ap_reuse_stats *out);

#endif

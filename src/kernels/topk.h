/* topk.h — SpAtten's top-k engine: quick-select for the k-th largest value,
 * then a filter that keeps the elements at or above it.
 *
 * Legend: n = elements offered (e.g. T keys of a row, T tokens, H heads).
 *
 * The hardware (SpAtten, HPCA 2021, "Top-k Engine" and "Quick Select"
 * slides) compares every candidate with a pivot in parallel (16 '<' and 16
 * '>' comparators), keeps the side that holds the k-th largest, and repeats;
 * a final filter keeps the elements >= the k-th largest, in input order. The
 * slides' example: top 4 of [7, 2, 6, 4, 9, 1, 3, 5] -> the 4th largest is
 * 5 -> [7, 6, 9, 5].
 *
 * Choices the slides leave open (documented in docs/methods/spatten.md):
 *   - pivot: the middle element (index floor(m / 2)) of the current candidate
 *     list of m elements; the candidate lists keep input order, as the
 *     hardware's comparator/zero-eliminator filters do. (The public artifact's
 *     latency model draws the pivot at random; ours is deterministic so that
 *     round counts are reproducible.)
 *   - ties: the filter keeps every element > the k-th largest, then elements
 *     equal to it in index order (lower index first) until exactly k are
 *     kept. (A bare ">= k-th largest" filter would keep more than k when
 *     the k-th largest is tied.)
 *   - cycles: one quick-select round over m candidates costs
 *     ceil(m / parallelism) + 3 cycles (the artifact's TopKLatencyModel);
 *     the filter pass is not counted, as there. */
#ifndef AP_KERNELS_TOPK_H
#define AP_KERNELS_TOPK_H

#include <stdint.h>

#define AP_TOPK_PARALLELISM 16 /* comparators per side in SpAtten's quick-select */

struct ap_topk_result {
    double kth;     /* the k-th largest candidate (NAN when nothing was selected: k = 0 or no candidates) */
    int32_t kept;   /* elements kept: min(k, candidates) */
    int32_t rounds; /* quick-select rounds (0 when k = 0 or k >= candidates: nothing to select) */
    int64_t cycles; /* sum over rounds of ceil(m / parallelism) + 3 */
};

/* The k-th largest (1 <= k <= n) of v (n), quick-select as above. v is the
 * caller's scratch of 2n doubles whose first n hold the candidates in order;
 * it is overwritten. Values must not be NaN. */
double ap_topk_kth_largest(double *v, int32_t n, int32_t k, int32_t parallelism, int32_t *rounds,
                           int64_t *cycles);

/* Keep the k largest of x (n) among the candidates (active == NULL: all;
 * else those with active[i] != 0): keep (n) gets 1 for exactly min(k,
 * candidates) of them and 0 elsewhere, ties as above. scratch holds 2n
 * doubles. When k >= candidates every candidate is kept without a round. */
void ap_topk_select(const double *x, const uint8_t *active, int32_t n, int32_t k, int32_t parallelism,
                    double *scratch, uint8_t *keep, struct ap_topk_result *res);

/* Cycles of one quick-select round over m candidates. */
static inline int64_t ap_topk_round_cycles(int32_t m, int32_t parallelism) {
    return (int64_t)(m + parallelism - 1) / parallelism + 3;
}

#endif

/* topk.c — SpAtten's quick-select top-k engine (see topk.h for the choices).
 *
 * Legend: n = elements offered, m = candidates left in a quick-select round. */
#include "kernels/topk.h"

#include <math.h>

#include "core/error.h"

/* Contract: 1 <= k <= n; v holds 2n doubles, the n candidates first. Each
 * round splits the candidate list (order kept) into those greater than the
 * pivot, equal to it, and less; the k-th largest is the pivot when it falls
 * among the equal ones, otherwise the search goes on in the side holding it.
 * The two halves of v are used as ping-pong buffers. */
double ap_topk_kth_largest(double *v, int32_t n, int32_t k, int32_t parallelism, int32_t *rounds,
                           int64_t *cycles) {
    AP_ASSERT(k >= 1 && k <= n && parallelism >= 1);
    double *cur = v, *next = v + n;
    int32_t m = n;
    *rounds = 0;
    *cycles = 0;
    for (;;) {
        (*rounds)++;
        *cycles += ap_topk_round_cycles(m, parallelism);
        const double pivot = cur[m / 2];
        int32_t greater = 0, equal = 0;
        for (int32_t i = 0; i < m; i++) {
            greater += cur[i] > pivot;
            equal += cur[i] == pivot;
        }
        if (k > greater && k <= greater + equal) return pivot;
        int32_t m2 = 0;
        if (k <= greater) { /* the k-th largest is among the greater ones */
            for (int32_t i = 0; i < m; i++)
                if (cur[i] > pivot) next[m2++] = cur[i];
        } else { /* among the smaller ones, after greater + equal larger ones */
            for (int32_t i = 0; i < m; i++)
                if (cur[i] < pivot) next[m2++] = cur[i];
            k -= greater + equal;
        }
        AP_ASSERT(m2 >= k && m2 < m); /* NaN-free input always shrinks the list */
        double *t = cur;
        cur = next;
        next = t;
        m = m2;
    }
}

void ap_topk_select(const double *x, const uint8_t *active, int32_t n, int32_t k, int32_t parallelism,
                    double *scratch, uint8_t *keep, struct ap_topk_result *res) {
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++)
        if (!active || active[i]) scratch[m++] = x[i];
    res->rounds = 0;
    res->cycles = 0;
    res->kth = NAN;
    if (k <= 0 || m == 0) {
        for (int32_t i = 0; i < n; i++) keep[i] = 0;
        res->kept = 0;
        return;
    }
    if (k >= m) { /* nothing to select: every candidate stays */
        double lo = INFINITY;
        for (int32_t i = 0; i < n; i++) {
            keep[i] = !active || active[i];
            if (keep[i] && x[i] < lo) lo = x[i];
        }
        res->kth = lo;
        res->kept = m;
        return;
    }
    /* scratch's first m hold the candidates; the kth search uses 2m of the 2n. */
    const double kth = ap_topk_kth_largest(scratch, m, k, parallelism, &res->rounds, &res->cycles);
    int32_t above = 0;
    for (int32_t i = 0; i < n; i++) above += (!active || active[i]) && x[i] > kth;
    int32_t ties_left = k - above;
    for (int32_t i = 0; i < n; i++) {
        int cand = !active || active[i];
        int take = cand && (x[i] > kth || (x[i] == kth && ties_left > 0));
        if (cand && x[i] == kth && take) ties_left--;
        keep[i] = (uint8_t)take;
    }
    res->kth = kth;
    res->kept = k;
}

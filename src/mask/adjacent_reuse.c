/* adjacent_reuse.c — fetch / reuse / interleaving statistics of a mask
 * processed row by row (see adjacent_reuse.h). */
#include "mask/adjacent_reuse.h"

#include <string.h>

#include "core/error.h"

void ap_reuse_stats_compute(const uint8_t *mask, int32_t S, int32_t T, const uint8_t *query_valid,
                            const uint8_t *key_valid, int32_t causal, int64_t capacity, int32_t corelets,
                            uint8_t *scratch, struct ap_reuse_stats *out) {
    AP_ASSERT(capacity >= 1 && corelets >= 1 && corelets <= AP_REUSE_MAX_CORELETS);
    memset(out, 0, sizeof *out);
    uint8_t *prev = scratch;    /* (T) ~P^{t-1}: unpruned by the previous computed query */
    uint8_t *onchip = scratch + T; /* (T) keys in the on-chip buffer */
    memset(scratch, 0, 2 * (size_t)T);
    for (int32_t j = 0; j < T; j++) out->pad_keys += key_valid && !key_valid[j];
    int first = 1;
    for (int32_t i = 0; i < S; i++) {
        if (query_valid && !query_valid[i]) {
            out->pad_queries++;
            continue;
        }
        const uint8_t *row = mask + (int64_t)i * T;
        int64_t u = 0, reused = 0, fresh = 0, share[AP_REUSE_MAX_CORELETS] = {0};
        for (int32_t j = 0; j < T; j++) {
            if (!row[j]) continue;
            u++;
            reused += onchip[j];
            fresh += !prev[j];
            share[j % corelets]++;
        }
        out->queries++;
        out->unpruned += u;
        out->reused += reused;
        out->fetched += u - reused;
        if (first) {
            out->first_fetch = u;
        } else {
            out->adjacent_new += fresh;
            int32_t last = causal ? i + (T - S) : T - 1;
            if (last >= T) last = T - 1;
            for (int32_t j = 0; j <= last; j++) out->adjacent_slots += !key_valid || key_valid[j];
        }
        first = 0;
        int64_t mx = 0;
        for (int32_t c = 0; c < corelets; c++) {
            out->corelet[c] += share[c];
            if (share[c] > mx) mx = share[c];
        }
        out->corelet_max += mx;
        /* the buffer now holds this query's unpruned keys, the last `capacity` of them */
        int64_t skip = u > capacity ? u - capacity : 0;
        for (int32_t j = 0; j < T; j++) {
            prev[j] = row[j] != 0;
            onchip[j] = 0;
            if (row[j]) {
                if (skip > 0)
                    skip--;
                else
                    onchip[j] = 1;
            }
        }
    }
}

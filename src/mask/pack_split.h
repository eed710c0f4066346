/* pack_split.h — Sanger's encoding of an unstructured attention mask into
 * load-balanced blocks (MICRO 2021, §4.3 and fig. 3).
 *
 *   1. partition: cut the (S, T) mask into column groups as wide as the PE
 *      array's vertical ports (64); the last group may be narrower;
 *   2. pack: within a group, skip the sub-rows (one query's slice of the
 *      group) that hold no kept pair;
 *   3. split: a sub-row with more kept pairs than PEs per row (16) becomes
 *      ceil(nnz / pes) sub-rows, the first ones full.
 *
 * Each resulting sub-row occupies one row of the PE array; the rows of a
 * group are processed pe_rows at a time (one block).
 *
 * PE utilization = nnz / (sub-rows x pes). "Before" is the same array fed
 * without packing: every sub-row that holds a valid pair occupies a PE row,
 * the empty ones included, and overfull sub-rows are split all the same
 * (they could not be processed otherwise). This is what the artifact's
 * "no-skip" load balance means; the paper reports 0.36-0.56 before and
 * 0.56-0.72 after at 16 of 64 (25%). A sub-row whose pairs are all padding,
 * causal future or invalid queries exists in neither count.
 *
 * Legend: S = queries (rows), T = keys (columns). */
#ifndef AP_MASK_PACK_SPLIT_H
#define AP_MASK_PACK_SPLIT_H

#include <stdint.h>

/* A head's mask and which of its pairs exist. */
struct ap_mask_view {
    const uint8_t *mask;        /* (S, T), 1 = kept; entries at invalid pairs are ignored */
    int32_t n_q, n_k;           /* S, T */
    const uint8_t *query_valid; /* (S) or NULL = all valid */
    const uint8_t *key_valid;   /* (T) or NULL = all valid */
    int32_t causal;             /* query i sees keys j <= i + (T - S) */
};

struct ap_pack_split_params {
    int32_t ports;   /* column-group width: the array's vertical ports (64) */
    int32_t pes;     /* PEs per array row: most kept pairs per sub-row (16) */
    int32_t pe_rows; /* array rows: sub-rows processed together as one block (64) */
};

struct ap_pack_split_stats {
    int64_t nnz;              /* kept valid pairs */
    int64_t groups;           /* column groups holding at least one valid pair */
    int64_t subrows_nonempty; /* sub-rows holding a kept pair */
    int64_t subrows_empty;    /* sub-rows with valid pairs but none kept (what pack drops) */
    int64_t subrows_before;   /* PE rows without pack: subrows_empty + subrows_after */
    int64_t subrows_after;    /* PE rows after pack & split: sum of ceil(nnz / pes) */
    int64_t blocks_before;    /* sum over groups of ceil(group's rows before / pe_rows) */
    int64_t blocks_after;     /* the same after pack & split */
};

/* One sub-row after pack & split. */
struct ap_subrow {
    int32_t query;     /* row of the mask */
    int32_t group;     /* column group: columns [group * ports, (group + 1) * ports) */
    int32_t part;      /* 0 .. ceil(nnz / pes) - 1 for a split sub-row, else 0 */
    int32_t nnz;       /* kept pairs in this sub-row: pes, except the last part */
    int32_t col_first; /* mask column of its first and last kept pair */
    int32_t col_last;
};

/* 1 if the parameters are usable (all positive). */
int ap_pack_split_params_ok(struct ap_pack_split_params p);

/* Count the encoding of m into *out. */
void ap_pack_split_count(const struct ap_mask_view *m, struct ap_pack_split_params p, struct ap_pack_split_stats *out);

/* The sub-rows after pack & split, group by group and within a group in
 * query order: writes min(result, cap) of them to out (NULL if cap is 0) and
 * returns how many there are (stats.subrows_after). */
int64_t ap_pack_split_encode(const struct ap_mask_view *m, struct ap_pack_split_params p, struct ap_subrow *out,
                             int64_t cap);

#endif

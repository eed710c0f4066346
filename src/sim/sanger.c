/* sanger.c — cycle-level model of the Sanger accelerator (Lu et al., MICRO
 * 2021; SPEC §3; docs/sim/sanger.md) and of the dense systolic array it is
 * compared with.
 *
 * Legend: T = tokens per chunk (query rows of a head), d = head dimension,
 * G = column groups of a head (keys / ports), P = ports (vertical ports of
 * the array = column-group width), p = PEs per array row, R = array rows
 * (sub-rows per block), B = pre-process band (query rows predicted
 * together).
 *
 * Units and how their time is counted (one head after another, every
 * (chunk, layer, head) of the trace):
 *   HBM          loads Q, K, V of a head into one half of the double-buffered
 *                query/key/value buffers; the O of the head two places back
 *                is written in the same transfer. A load may start once the
 *                head two places back has left the array (its half is free).
 *   pre-process  two pipelined stages per band of B query rows: (A) the 4-bit
 *                multiplier array computes ceil(keys / cols) tiles of B x cols
 *                predicted scores, d cycles a tile; (B) softmax and threshold
 *                stream each row's keys through one lane per row, `passes`
 *                times (exp-and-sum, then compare), and the pack & split unit
 *                encodes the thresholded tiles as they go. A band's stage B
 *                starts when its stage A is done and the previous band's
 *                stage B has pushed its blocks.
 *   mask FIFO    holds finished blocks (R x P mask bits each); a full FIFO
 *                stalls stage B (ap_fifo of sized entries, entry by entry).
 *   array        R x p RePEs; one block = R sub-rows of one column group:
 *                SDDMM d cycles (iterative accumulation), SpMM d cycles
 *                (forward accumulation). The exps (one EXP module per array
 *                row) hide under the SpMM's skew; fewer modules add cycles.
 *                Consecutive blocks follow each other without a gap (the
 *                wavefronts pipeline); the fill and drain of the array,
 *                R + P cycles, is paid once per (head, column group), as the
 *                artifact's per-tile "+ 64" of each phase. Buffer-port or
 *                HBM cycles beyond a block's 2d stall it.
 * A column group needs ceil(S / R) blocks for its S expected sub-rows; each
 * band releases the group's blocks in proportion to the group's rows it
 * holds (the last band the rest), as FIFO entries of at most one block.
 *
 * Sub-rows. A row that keeps k of its v valid keys (its first v keys: padding
 * is at the end, the causal future after the row) has, in a group of w of
 * those keys, X ~ Hypergeometric(v, k, w) kept pairs when the kept keys are
 * spread uniformly at random. After pack & split the group's sub-rows of
 * the row are E[ceil(X / p)]; without pack (the artifact's "no-skip"
 * baseline of its utilization) E[ceil(X / p)] + P(X = 0). Exact sums over
 * the pmf, not a simulation. Sanger's own traces carry the exact counts
 * (subrows_after, subrows_before, blocks_after, blocks_before): the
 * per-band estimates are then rescaled to the head's exact totals and the
 * head's block count is the trace's (the difference from the estimate goes
 * to its last column group).
 *
 * The baseline (pruning = 0) is the same array with every mask bit set: the
 * paper's "dense systolic array" of the same size, memories and clock. Each
 * row's group of w valid keys takes ceil(w / p) sub-rows, every valid pair
 * is computed, there is no pre-process and no mask FIFO: a head's blocks
 * start as soon as its Q, K, V are loaded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "sim/sim.h"

/* ------------------------------------------------------------ configuration */

struct sg_cfg {
    int32_t pruning, pack_split;
    int32_t rows, pes, ports, exp_units, data_bits, acc_bits; /* [array] */
    int32_t pre_rows, pre_cols, pre_bits, pre_passes;       /* [preprocess] */
    double fifo_bytes;                                       /* [mask_fifo] */
    double buf_bytes;                                        /* [buffers] */
    int32_t buf_banks, buf_port_bits;
    int32_t hbm_channels, hbm_txn;                           /* [hbm] */
    double hbm_gbps;
};

/* Every key of every section is read here, for the accelerator and its
 * baseline alike, so that a configuration is checked whole (a misspelt key
 * fails as unknown; a value out of range names file, section and key). */
static enum ap_status sg_load(struct ap_sim_arch *a, struct sg_cfg *c) {
    enum ap_status st;
    memset(c, 0, sizeof *c);
    c->pruning = a->pruning;
#define I(sec, key, def, lo, hi, dst) \
    if ((st = ap_sim_param_int(a, sec, key, def, lo, hi, dst)) != AP_OK) return st
#define D(sec, key, def, lo, hi, dst) \
    if ((st = ap_sim_param(a, sec, key, def, lo, hi, dst)) != AP_OK) return st
    I("sanger", "pack_split", 1, 0, 1, &c->pack_split);
    I("array", "rows", 64, 1, 4096, &c->rows);
    I("array", "pes", 16, 1, 4096, &c->pes);
    I("array", "ports", 64, 1, 4096, &c->ports);
    I("array", "exp_units", 64, 1, 4096, &c->exp_units);
    I("array", "data_bits", 16, 2, 32, &c->data_bits);
    I("array", "acc_bits", 32, 2, 64, &c->acc_bits);
    I("preprocess", "rows", 64, 1, 4096, &c->pre_rows);
    I("preprocess", "cols", 64, 1, 4096, &c->pre_cols);
    I("preprocess", "bits", 4, 1, 16, &c->pre_bits);
    I("preprocess", "softmax_passes", 2, 1, 4, &c->pre_passes);
    D("mask_fifo", "bytes", 4096, 8, 1 << 30, &c->fifo_bytes);
    D("buffers", "bytes", 131072, 1024, 1 << 30, &c->buf_bytes);
    I("buffers", "banks", 64, 1, 4096, &c->buf_banks);
    I("buffers", "port_bits", 32, 1, 4096, &c->buf_port_bits);
    I("hbm", "channels", 8, 1, 1024, &c->hbm_channels);
    D("hbm", "gbytes_per_s", 16, 0.001, 1e6, &c->hbm_gbps);
    I("hbm", "transaction_bytes", 64, 1, 1 << 20, &c->hbm_txn);
#undef I
#undef D
    if (c->pes > c->ports)
        return ap_error(AP_ERR_FORMAT, "%s: [array] pes = %d exceeds ports = %d (a sub-row has at most ports keys)",
                        a->path, c->pes, c->ports);
    return AP_OK;
}

/* ------------------------------------------------------------ sub-row estimate */

/* Expected sub-rows of one row in one column group: X ~ Hypergeometric(N = v
 * valid keys, K = k kept, n = w keys in the group). *after = E[ceil(X/p)],
 * *empty = P(X = 0) (w > 0). The pmf is built from its mode outwards with
 * the ratio recurrence and normalized, so no term under- or overflows.
 * pmf: scratch of at least w + 1 doubles. */
static void sg_hyper(int32_t v, int32_t k, int32_t w, int32_t p, double *pmf, double *after, double *empty) {
    *after = 0, *empty = 0;
    if (w <= 0) return;
    if (k <= 0) {
        *empty = 1;
        return;
    }
    if (k >= v) {
        *after = (double)((w + p - 1) / p);
        return;
    }
    int32_t lo = w - (v - k) > 0 ? w - (v - k) : 0, hi = k < w ? k : w;
    int32_t mode = (int32_t)(((double)w + 1) * ((double)k + 1) / ((double)v + 2));
    if (mode < lo) mode = lo;
    if (mode > hi) mode = hi;
    pmf[mode] = 1.0;
    double sum = 1.0;
    /* P(x + 1) / P(x) = (K - x)(n - x) / ((x + 1)(N - K - n + x + 1)) */
    for (int32_t x = mode; x < hi; x++) {
        pmf[x + 1] = pmf[x] * ((double)(k - x) * (w - x)) / ((double)(x + 1) * ((double)v - k - w + x + 1));
        sum += pmf[x + 1];
    }
    for (int32_t x = mode; x > lo; x--) {
        pmf[x - 1] = pmf[x] * ((double)x * ((double)v - k - w + x)) / ((double)(k - x + 1) * (w - x + 1));
        sum += pmf[x - 1];
    }
    double e = 0;
    for (int32_t x = lo; x <= hi; x++) e += pmf[x] * (double)((x + p - 1) / p);
    *after = e / sum;
    *empty = lo == 0 ? pmf[0] / sum : 0.0;
}

/* A direct-mapped memo of sg_hyper on (v, k, w): the rows of a non-causal
 * head share v and their groups share w, so most rows cost one look-up. */
#define SG_MEMO 4096
struct sg_memo {
    int32_t v[SG_MEMO], k[SG_MEMO], w[SG_MEMO];
    double after[SG_MEMO], empty[SG_MEMO];
};

static void sg_subrows(struct sg_memo *m, double *pmf, int32_t v, int32_t k, int32_t w, int32_t p, double *after,
                       double *empty) {
    uint32_t hsh = ((uint32_t)v * 2654435761u) ^ ((uint32_t)k * 40503u) ^ ((uint32_t)w * 97u);
    uint32_t i = hsh % SG_MEMO;
    if (m->v[i] == v && m->k[i] == k && m->w[i] == w) {
        *after = m->after[i], *empty = m->empty[i];
        return;
    }
    sg_hyper(v, k, w, p, pmf, after, empty);
    m->v[i] = v, m->k[i] = k, m->w[i] = w, m->after[i] = *after, m->empty[i] = *empty;
}

/* ------------------------------------------------------------ the run */

struct sg_run {
    struct sg_cfg c;
    int32_t G;                      /* most column groups of a head */
    int32_t *kept, *valid;          /* (T) */
    double *acc;                    /* (T + 2) scratch of sg_used_keys */
    double *cum;                    /* (G) cumulative sub-rows of the head per group */
    double *grp_tot, *grp_blocks;   /* (G) the head's sub-rows and blocks per group */
    double *band_sub;               /* (T / B + 1, G) expected sub-rows per band and group */
    double *band_rows;              /* (T / B + 1, G) rows of a band that see keys of the group */
    double *grp_rows;               /* (G) rows of the head that see keys of the group */
    double *band_valid, *band_ps;   /* (T / B + 1) valid pairs and (row, group) pairs of a band */
    int32_t *band_maxv;             /* (T / B + 1) most valid keys of a band's rows */
    double *released;               /* (G) blocks released in the head so far (the last may be a fraction) */
    double *pmf;                    /* (P + 1) */
    struct sg_memo *memo;
};

static void sg_run_free(struct sg_run *s) {
    free(s->kept), free(s->valid), free(s->acc), free(s->cum), free(s->grp_tot), free(s->grp_blocks);
    free(s->band_sub), free(s->band_rows), free(s->grp_rows), free(s->band_valid), free(s->band_ps);
    free(s->band_maxv), free(s->released), free(s->pmf), free(s->memo);
}

/* Keys used by at least one kept pair (for V, fetched only when used), in
 * expectation under the uniform spread: key j is seen by the rows whose valid
 * prefix covers it; it is unused with probability prod_i (1 - k_i / v_i). */
static double sg_used_keys(const int32_t *kept, const int32_t *valid, int32_t q, int32_t keys, double *acc) {
    /* key j is seen by the rows with v > j: accumulate log(1 - k/v) per row
     * at index v, then suffix sums. acc: (keys + 2) scratch */
    memset(acc, 0, ((size_t)keys + 2) * sizeof *acc);
    for (int32_t r = 0; r < q; r++) {
        int32_t v = valid[r] > keys ? keys : valid[r];
        if (v <= 0 || kept[r] <= 0) continue;
        if (kept[r] >= v) {
            /* every key this row sees is used: mark with -inf */
            acc[v] = -INFINITY;
            continue;
        }
        if (acc[v] != -INFINITY) acc[v] += log1p(-(double)kept[r] / v);
    }
    double used = 0, s = 0;
    for (int32_t j = keys - 1; j >= 0; j--) {
        s += acc[j + 1]; /* rows with v >= j + 1 see key j */
        used += 1.0 - exp(s);
    }
    return used;
}

/* ------------------------------------------------------------ mask FIFO */

/* The mask FIFO between pack & split and the array, with back-pressure, is
 * an ap_fifo of sized entries: an entry is a band's share of a column
 * group's blocks (a fraction of a block, or one block), capacity counted in
 * blocks (bits / (R x P)). */
#define SG_FIFO_ENTRIES 4096

/* The timeline: when each unit is next free, and what it has done. */
struct sg_time {
    double pre_a, pre_b; /* when the pre-process stages are free */
    double array_free;   /* when the array finishes its last block */
    double array_busy, pre_a_busy, pre_b_busy;
    double array_idle;   /* array cycles waiting for a block while one was due */
    double dram_free, dram_busy;
    double mem_stall;    /* cycles a unit waited on buffer ports or HBM beyond its own work */
    double done[2];      /* array done of the two previous heads (buffer halves) */
};

enum ap_status ap_sim_sanger(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r) {
    struct sg_run s;
    memset(&s, 0, sizeof s);
    enum ap_status st = sg_load(a, &s.c);
    if (st != AP_OK) return st;
    const struct sg_cfg *c = &s.c;
    const int sparse = c->pruning != 0;
    const int32_t T = t->T > 0 ? t->T : 1, d = t->d > 0 ? t->d : 1;
    s.G = (T + c->ports - 1) / c->ports;
    s.kept = malloc((size_t)T * sizeof *s.kept);
    s.valid = malloc((size_t)T * sizeof *s.valid);
    s.acc = malloc(((size_t)T + 2) * sizeof *s.acc);
    s.cum = calloc((size_t)s.G, sizeof *s.cum);
    s.grp_tot = calloc((size_t)s.G, sizeof *s.grp_tot);
    s.grp_blocks = calloc((size_t)s.G, sizeof *s.grp_blocks);
    const size_t nbmax = (size_t)T / (size_t)s.c.pre_rows + 1;
    s.band_sub = calloc(nbmax * (size_t)s.G, sizeof *s.band_sub);
    s.band_rows = calloc(nbmax * (size_t)s.G, sizeof *s.band_rows);
    s.grp_rows = calloc((size_t)s.G, sizeof *s.grp_rows);
    s.band_valid = calloc(nbmax, sizeof *s.band_valid);
    s.band_ps = calloc(nbmax, sizeof *s.band_ps);
    s.band_maxv = calloc(nbmax, sizeof *s.band_maxv);
    s.released = calloc((size_t)s.G, sizeof *s.released);
    s.pmf = malloc(((size_t)c->ports + 1) * sizeof *s.pmf);
    s.memo = calloc(1, sizeof *s.memo);
    if (!s.kept || !s.valid || !s.acc || !s.cum || !s.grp_tot || !s.grp_blocks || !s.band_sub || !s.band_rows ||
        !s.grp_rows || !s.band_valid || !s.band_ps || !s.band_maxv || !s.released || !s.pmf || !s.memo) {
        sg_run_free(&s);
        return ap_error(AP_ERR_NOMEM, "%s: sanger simulator: out of memory", a->path);
    }
    for (int32_t i = 0; i < SG_MEMO; i++) s.memo->v[i] = -1;

    /* Sanger's own statistics, when the trace's pack & split geometry is
     * this array's (the method's defaults are 64 ports, 16 PEs, 64 rows) */
    int32_t ix_after = ap_trace_head_stat(t, "subrows_after"), ix_before = ap_trace_head_stat(t, "subrows_before");
    int32_t ix_blk_after = ap_trace_head_stat(t, "blocks_after");
    int32_t ix_blk_before = ap_trace_head_stat(t, "blocks_before");
    int own = sparse && ix_after >= 0 && ix_before >= 0 && ix_blk_after >= 0 && ix_blk_before >= 0;
    if (own) {
        const int32_t tp = (int32_t)ap_trace_param_num(t, "ports", 64), te = (int32_t)ap_trace_param_num(t, "pes", 16),
                      tr = (int32_t)ap_trace_param_num(t, "pe_rows", 64);
        if (tp != c->ports || te != c->pes || tr != c->rows) {
            own = 0;
            ap_sim_note(r, "trace's pack & split geometry (%d ports, %d PEs, %d rows) differs from the array's "
                           "(%d, %d, %d): sub-rows estimated from per-row kept counts (uniform spread)",
                        tp, te, tr, c->ports, c->pes, c->rows);
        }
    } else if (sparse) {
        ap_sim_note(r, "trace without Sanger's sub-row statistics: sub-rows per column group estimated from "
                       "per-row kept counts as the hypergeometric expectation of ceil(nnz / PEs) (kept keys "
                       "uniform in the row)");
    }
    if (sparse && !t->rows) ap_sim_note(r, "trace without rows.npy: kept pairs spread evenly over each head's rows");

    /* components */
    struct ap_sram qb, kb, vb, ob;
    ap_sram_init(&qb, "q_buffer", c->buf_bytes, c->buf_banks, c->buf_port_bits, &a->tech);
    ap_sram_init(&kb, "k_buffer", c->buf_bytes, c->buf_banks, c->buf_port_bits, &a->tech);
    ap_sram_init(&vb, "v_buffer", c->buf_bytes, c->buf_banks, c->buf_port_bits, &a->tech);
    ap_sram_init(&ob, "o_buffer", c->buf_bytes, c->buf_banks, c->buf_port_bits, &a->tech);
    struct ap_dram hbm;
    ap_dram_init(&hbm, "hbm", c->hbm_channels, c->hbm_gbps, c->hbm_txn, a->tech.hbm_pj_per_bit, a->clock_hz);
    const int32_t blk_bits = c->rows * c->ports;
    /* at least one block: a larger one never enters */
    double fifo_blocks = c->fifo_bytes * 8.0 / blk_bits;
    struct ap_fifo fifo_store, *fifo = &fifo_store;
    enum ap_status fst = ap_fifo_init_sized(fifo, "mask_fifo", fifo_blocks < 1 ? 1 : fifo_blocks, SG_FIFO_ENTRIES,
                                            blk_bits, &a->tech);
    if (fst != AP_OK) {
        sg_run_free(&s);
        return ap_error_prefix(fst, "%s: sanger simulator", a->path);
    }

    /* per-event energies, pJ */
    const double e_mac = ap_tech_mac_pj(&a->tech, c->data_bits, c->data_bits);    /* array MAC */
    const double e_pre_mac = ap_tech_mac_pj(&a->tech, c->pre_bits, c->pre_bits);  /* 4-bit predict MAC */
    const double e_quant = ap_tech_mac_pj(&a->tech, c->data_bits, 8);             /* x * gamma: a 16x8 multiply */
    const double e_cmp = ap_tech_cmp_pj(&a->tech, c->data_bits);                  /* threshold compare */
    const double e_acc = ap_tech_add_pj(&a->tech, c->acc_bits);                   /* partial-output add */
    /* pack & split per sub-row examined: the P mask bits written into the
     * mask register, a popcount (about P one-bit adds) and a compare with
     * p; composed from table entries, the paper gives only the unit's power */
    const double e_ps_subrow = c->ports * a->tech.reg_pj_per_bit + ap_tech_add_pj(&a->tech, c->ports) +
                               ap_tech_cmp_pj(&a->tech, 8);
    /* the data registers the RePEs select from: R x P for Q / scores and
     * P x R for K / V, data_bits each, written every array cycle */
    const double e_reg_cycle = 2.0 * c->rows * c->ports * c->data_bits * a->tech.reg_pj_per_bit;
    const double rowB = (double)d * c->data_bits / 8.0; /* bytes of a Q/K/V/O row */
    /* the exps of a block: each row's EXP modules convert its p scores in PE
     * order, one per module per cycle; the SpMM's forward accumulation reaches
     * PE j no earlier than j cycles after PE 0, so with one module per row
     * they hide under that skew (our reading; the paper gives no EXP timing).
     * Fewer modules than rows add the difference. */
    const double exp_per_row = (double)c->exp_units / c->rows;
    const double exp_extra = ceil(c->pes / exp_per_row) > c->pes ? ceil(c->pes / exp_per_row) - c->pes : 0;

    double e_pre = 0, e_ps = 0, e_arr = 0;
    double tot_kept = 0, tot_after = 0, tot_before = 0, tot_blocks = 0, useful_macs = 0;
    struct sg_time tm;
    memset(&tm, 0, sizeof tm);
    double prev_done = 0, last_out_bytes[2] = {0, 0};
    int refetch_noted = 0;
    const int64_t nheads = (int64_t)t->N * t->L * t->H;

    for (int64_t h = 0; h < nheads; h++) {
        int32_t q = ap_sim_head_rows(t, h, s.kept, s.valid);
        if (q <= 0) continue;
        int32_t keys = t->heads[h].keys < T ? t->heads[h].keys : T;
        if (keys <= 0) continue;
        if (!sparse)
            for (int32_t i = 0; i < q; i++) s.kept[i] = s.valid[i];
        const int32_t G = (keys + c->ports - 1) / c->ports;
        const int32_t nb = (q + c->pre_rows - 1) / c->pre_rows;
        double kept_h = 0, valid_h = 0;
        for (int32_t i = 0; i < q; i++) kept_h += s.kept[i], valid_h += s.valid[i];

        /* pass 1, per band and column group: the expected sub-rows (sums
         * over the band's rows; exact for the baseline) */
        double head_after = 0, head_before = 0;
        for (int32_t b = 0; b < nb; b++) {
            int32_t r0 = b * c->pre_rows, r1 = r0 + c->pre_rows < q ? r0 + c->pre_rows : q;
            double *bs = s.band_sub + (size_t)b * G;
            memset(bs, 0, (size_t)G * sizeof *bs);
            memset(s.band_rows + (size_t)b * G, 0, (size_t)G * sizeof *s.band_rows);
            s.band_maxv[b] = 0, s.band_valid[b] = 0, s.band_ps[b] = 0;
            for (int32_t i = r0; i < r1; i++) {
                int32_t v = s.valid[i];
                if (v > s.band_maxv[b]) s.band_maxv[b] = v;
                s.band_valid[b] += v;
                for (int32_t g = 0; g < G; g++) {
                    int32_t w = v - g * c->ports;
                    if (w <= 0) break;
                    if (w > c->ports) w = c->ports;
                    s.band_ps[b] += 1;
                    s.band_rows[(size_t)b * G + g] += 1;
                    if (sparse) {
                        double af, em;
                        sg_subrows(s.memo, s.pmf, v, s.kept[i], w, c->pes, &af, &em);
                        head_after += af, head_before += af + em;
                        /* without pack an empty sub-row keeps its PE row */
                        bs[g] += c->pack_split ? af : af + em;
                    } else {
                        double af = (double)((w + c->pes - 1) / c->pes);
                        head_after += af, head_before += af;
                        bs[g] += af;
                    }
                }
            }
        }
        /* group totals */
        memset(s.cum, 0, (size_t)G * sizeof *s.cum);
        memset(s.grp_rows, 0, (size_t)G * sizeof *s.grp_rows);
        for (int32_t b = 0; b < nb; b++)
            for (int32_t g = 0; g < G; g++)
                s.cum[g] += s.band_sub[(size_t)b * G + g], s.grp_rows[g] += s.band_rows[(size_t)b * G + g];
        double est = 0;
        for (int32_t g = 0; g < G; g++) est += s.cum[g];

        /* Sanger's own trace: the estimate rescaled to the head's exact
         * sub-rows, and its exact block count */
        double scale = 1.0, exact_after = -1, exact_before = -1;
        int64_t blocks_stat = -1;
        if (own) {
            const double *hs = t->head_stats + h * t->P;
            exact_after = hs[ix_after], exact_before = hs[ix_before];
            double exact = c->pack_split ? exact_after : exact_before;
            if (est > 0) scale = exact / est;
            blocks_stat = (int64_t)hs[c->pack_split ? ix_blk_after : ix_blk_before];
        }
        double blocks_sum = 0;
        for (int32_t g = 0; g < G; g++) {
            s.grp_tot[g] = s.cum[g] * scale;
            /* the blocks a group's expected sub-rows need: ceil(S / R).
             * Monotone in every row's kept count, exact for the baseline and
             * for rows that keep all or none of their keys. It rounds up
             * where a real mask would sometimes round down (384 rows with
             * a 0.3 % chance each of splitting: 385 expected sub-rows, 7
             * blocks, where a random mask has 6 in a third of the heads);
             * E[ceil(S / R)] from the sum's distribution would be closer,
             * but its usual approximations are not monotone in density. */
            s.grp_blocks[g] = ceil(s.grp_tot[g] / c->rows - 1e-9);
            blocks_sum += s.grp_blocks[g];
        }
        if (blocks_stat >= 0 && G > 0) {
            double want = s.grp_blocks[G - 1] + ((double)blocks_stat - blocks_sum);
            if (want >= 0) s.grp_blocks[G - 1] = want;
        }

        /* memory: the head's Q, K (all valid keys: the predictor reads them)
         * and V (only the keys some kept pair uses) into the free buffer
         * half, with the O of the head two places back in the same transfer */
        double used = sparse ? sg_used_keys(s.kept, s.valid, q, keys, s.acc) : (double)keys;
        int fits = (double)keys * rowB <= c->buf_bytes / 2 && (double)q * rowB <= c->buf_bytes / 2;
        double in_cyc = ap_dram_read(&hbm, q, rowB) + ap_dram_read(&hbm, keys, rowB) + ap_dram_read(&hbm, used, rowB);
        double out_cyc = last_out_bytes[0] > 0 ? ap_dram_write(&hbm, last_out_bytes[0], rowB) : 0;
        ap_sram_write(&qb, q * rowB), ap_sram_write(&kb, keys * rowB), ap_sram_write(&vb, used * rowB);
        double ld_start = tm.dram_free > tm.done[0] ? tm.dram_free : tm.done[0];
        double ld_done = ld_start + in_cyc + out_cyc;
        tm.dram_free = ld_done, tm.dram_busy += in_cyc + out_cyc;
        if (!fits && !refetch_noted) {
            ap_sim_note(r, "a head's Q or K/V exceeds half a %.0f-byte buffer: K (and V) re-fetched from HBM for "
                           "every pre-process band and every block (no reuse across them)",
                        c->buf_bytes);
            refetch_noted = 1;
        }

        /* pass 2: bands through the pre-process, blocks through the FIFO.
         * Without the mask, block boundaries are not known: each band
         * releases its share of the group's blocks, in entries of at most
         * one block (equal pieces; a fraction is the expected cost of a
         * block the band completes with that probability). */
        memset(s.cum, 0, (size_t)G * sizeof *s.cum);
        memset(s.released, 0, (size_t)G * sizeof *s.released);
        double blocks_h = 0, head_subrows = 0;
        for (int32_t b = 0; b < nb; b++) {
            int32_t r0 = b * c->pre_rows, r1 = r0 + c->pre_rows < q ? r0 + c->pre_rows : q;
            int32_t maxv = s.band_maxv[b];
            /* the band's producer time */
            double ready;
            if (sparse) {
                double A = ceil((double)maxv / c->pre_cols) * d;
                if (!fits) {
                    /* K streamed from HBM for the band: the stage waits on it */
                    double kc = ap_dram_read(&hbm, maxv, rowB);
                    tm.dram_busy += kc;
                    if (kc > A) tm.mem_stall += kc - A, A = kc;
                }
                double Bc = (double)c->pre_passes * maxv;
                double a_start = tm.pre_a > ld_done ? tm.pre_a : ld_done;
                tm.pre_a = a_start + A, tm.pre_a_busy += A;
                double b_start = tm.pre_b > tm.pre_a ? tm.pre_b : tm.pre_a;
                ready = b_start + Bc, tm.pre_b_busy += Bc;
                tm.pre_b = ready;
                /* energy: 4-bit MACs, quantizing the band's Q rows and every
                 * K row it meets, dequantizing, exp and compare per predicted
                 * score, the band's Q and all its K read from the buffers */
                e_pre += s.band_valid[b] * d * e_pre_mac + ((double)(r1 - r0) + maxv) * d * e_quant +
                         s.band_valid[b] * (e_quant + a->tech.exp_pj + e_cmp);
                ap_sram_read(&qb, (r1 - r0) * rowB);
                if (fits) ap_sram_read(&kb, maxv * rowB);
                e_ps += s.band_ps[b] * e_ps_subrow;
            } else {
                ready = ld_done;
            }
            for (int32_t g = 0; g < G; g++) {
                double add = s.band_sub[(size_t)b * G + g] * scale;
                s.cum[g] += add, head_subrows += add;
                /* the band's share of the group's blocks: its share of the
                 * group's rows (not of its sub-rows, which would move work
                 * to earlier bands as density grows and let a denser trace
                 * finish first); the last band takes the rest */
                double amount = b == nb - 1 || s.grp_rows[g] <= 0
                                    ? s.grp_blocks[g] - s.released[g]
                                    : s.grp_blocks[g] * s.band_rows[(size_t)b * G + g] / s.grp_rows[g];
                if (amount <= 1e-12) continue;
                /* FIFO entries: the amount in equal pieces of at most a block */
                int64_t entries = (int64_t)ceil(amount - 1e-9);
                if (entries < 1) entries = 1;
                /* a block's cost: 2d cycles (+ the group's fill for its first
                 * one); its buffer reads: R query rows, the group's w key and
                 * value rows; R partial outputs read and written. Port cycles
                 * beyond the block's 2d stall the array. */
                double w = keys - g * c->ports < c->ports ? keys - g * c->ports : c->ports;
                double need = ceil(8.0 * c->rows * rowB / ((double)c->buf_banks * c->buf_port_bits));
                double nkv = fits ? ceil(8.0 * w * rowB / ((double)c->buf_banks * c->buf_port_bits)) : 0;
                double no = 2.0 * ceil((double)c->rows * d * c->acc_bits / ((double)c->buf_banks * c->buf_port_bits));
                double nd = fits ? 0 : 2.0 * w * ceil(rowB / c->hbm_txn) * c->hbm_txn /
                                           (c->hbm_channels * c->hbm_gbps * 1e9 / a->clock_hz);
                if (nkv > need) need = nkv;
                if (no > need) need = no;
                if (nd > need) need = nd;
                double stall = need > 2.0 * d ? need - 2.0 * d : 0;
                for (int64_t e = 0; e < entries; e++) {
                    double f = amount / (double)entries;
                    double service = (2.0 * d + exp_extra + stall) * f;
                    /* the fill/drain of the group, with its first entry (times
                     * the chance the group has a block, when it has less than one) */
                    if (s.released[g] == 0 && e == 0)
                        service += (c->rows + c->ports) * (s.grp_blocks[g] < 1 ? s.grp_blocks[g] : 1);
                    tm.mem_stall += stall * f;
                    ap_sram_read(&qb, f * c->rows * rowB);
                    if (fits) ap_sram_read(&kb, f * w * rowB), ap_sram_read(&vb, f * w * rowB);
                    else tm.dram_busy += ap_dram_read(&hbm, f * 2.0 * w, rowB);
                    ap_sram_read(&ob, f * c->rows * d * c->acc_bits / 8.0);
                    ap_sram_write(&ob, f * c->rows * d * c->acc_bits / 8.0);
                    double done, enter;
                    if (sparse) {
                        double before = fifo->consumer_free;
                        int first = fifo->tail == 0;
                        enter = ap_fifo_push_sized(fifo, ready, f, service, &done);
                        double start = done - service;
                        if (!first && start > before) tm.array_idle += start - before;
                        ready = enter;
                    } else {
                        double start = ready > tm.array_free ? ready : tm.array_free;
                        if (tm.array_free > 0 && start > tm.array_free) tm.array_idle += start - tm.array_free;
                        done = start + service;
                    }
                    tm.array_free = done, tm.array_busy += service;
                    blocks_h += f, s.released[g] += f;
                }
            }
            if (sparse) tm.pre_b = ready; /* stage B resumes once its last block entered the FIFO */
        }
        /* the array's energy for the head: useful MACs (SDDMM and SpMM on
         * kept pairs; idle PEs are clock-gated), the data registers every
         * array cycle of the head's blocks, one exp per kept score, the
         * partial-output accumulation per sub-row and output element, one
         * division per output element */
        double blk_cycles = blocks_h * 2.0 * d;
        e_arr += 2.0 * kept_h * d * e_mac + blk_cycles * e_reg_cycle + kept_h * a->tech.exp_pj +
                 head_subrows * d * e_acc + (double)q * d * a->tech.div_pj;
        useful_macs += 2.0 * kept_h * d;
        ap_sram_read(&ob, q * rowB); /* the finished O rows leave for HBM */
        tot_kept += kept_h, tot_blocks += blocks_h;
        tot_after += exact_after >= 0 ? exact_after : head_after;
        tot_before += exact_before >= 0 ? exact_before : head_before;
        (void)valid_h;
        /* buffer halves: this head's is busy until its array work is done */
        tm.done[0] = tm.done[1], tm.done[1] = tm.array_free;
        last_out_bytes[0] = last_out_bytes[1], last_out_bytes[1] = q;
        prev_done = tm.array_free;
    }
    /* the last two heads' O go out after the array is done */
    double end = prev_done > tm.dram_free ? prev_done : tm.dram_free;
    for (int i = 0; i < 2; i++)
        if (last_out_bytes[i] > 0) {
            double cyc = ap_dram_write(&hbm, last_out_bytes[i], rowB);
            end += cyc, tm.dram_busy += cyc;
        }
    if (end < tm.pre_b) end = tm.pre_b;

    r->cycles = end;
    r->stall_cycles = fifo->stall_cycles + tm.array_idle + tm.mem_stall;
    r->utilization = end > 0 ? useful_macs / ((double)c->rows * c->pes * end) : 0;
    r->dram_bytes = hbm.bytes;
    r->sram_bytes = (qb.read_bits + qb.write_bits + kb.read_bits + kb.write_bits + vb.read_bits + vb.write_bits +
                     ob.read_bits + ob.write_bits) / 8.0;
    if (sparse) {
        ap_sim_energy(r, "pre_process", e_pre);
        ap_sim_energy(r, "pack_split", e_ps);
        ap_sim_energy(r, "mask_fifo", ap_fifo_energy_pj(fifo));
    }
    ap_sim_energy(r, "systolic_array", e_arr);
    ap_sim_energy(r, "q_buffer", ap_sram_energy_pj(&qb));
    ap_sim_energy(r, "k_buffer", ap_sram_energy_pj(&kb));
    ap_sim_energy(r, "v_buffer", ap_sram_energy_pj(&vb));
    ap_sim_energy(r, "o_buffer", ap_sram_energy_pj(&ob));
    ap_sim_energy(r, "hbm", ap_dram_energy_pj(&hbm));
    ap_sim_busy(r, "systolic_array", tm.array_busy);
    if (sparse) {
        ap_sim_busy(r, "pre_process_mult", tm.pre_a_busy);
        ap_sim_busy(r, "pre_process_softmax_pack", tm.pre_b_busy);
    }
    ap_sim_busy(r, "hbm", tm.dram_busy);
    ap_sim_stat(r, "util_before", tot_before > 0 ? tot_kept / (tot_before * c->pes) : 0);
    ap_sim_stat(r, "util_after", tot_after > 0 ? tot_kept / (tot_after * c->pes) : 0);
    ap_sim_stat(r, "subrows", c->pack_split || !sparse ? tot_after : tot_before);
    ap_sim_stat(r, "blocks", tot_blocks);
    ap_sim_stat(r, "fifo_stall_cycles", fifo->stall_cycles);
    ap_sim_stat(r, "array_idle_cycles", tm.array_idle);
    ap_fifo_free(fifo);
    sg_run_free(&s);
    return AP_OK;
}

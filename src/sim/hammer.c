/* hammer.c — cycle-level model of HAMMER (Lee et al., IEEE CAL 2022,
 * papers/000_fb701e1884623dbe.txt, fig. 6–8) and, with the same datapath,
 * of an ELSA-like accelerator (Ham et al., ISCA 2021) and of the dense
 * baseline. docs/sim/hammer.md has the timing rules, the energy events and
 * every choice the paper leaves open.
 *
 * Legend: N = chunks, L = layers, H = heads, T = tokens per chunk,
 * nq / nk = query rows / keys of a head, d = head dimension,
 * v_i / k_i = valid / kept keys of query row i, B = data bits.
 *
 * One head after another (a head is a barrier, see head_run): its Q, K, V
 * come from DRAM into double-buffered on-chip buffers; the predictor's pass
 * over K (HAMMER: mean, then centre-and-quantize; ELSA: key hashes and
 * norms) runs; then every query row flows through a three-stage pipeline
 *
 *     score (approximate score unit) → select (candidate selection unit)
 *         → compute (attention computation unit)
 *
 * with a score buffer of score_rows rows between the first two and a mask
 * FIFO of mask_rows rows between the last two. A slot is held from when its
 * writer starts the row until its reader finishes it, so a slow consumer
 * stalls its producer (back-pressure). The baseline (pruning = 0) has the
 * compute stage only, over every valid pair. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "sim/sim.h"

enum hm_predictor { HM_NONE = 0, HM_HAMMER = 1, HM_ELSA = 2 };

/* The configuration, read once: [hammer] the approximation unit, [elsa] the
 * ELSA-like approximation unit's own parameters, [compute] the attention
 * computation unit, [memory] DRAM and buffers. Every key is read whatever
 * the predictor, so one file can switch predictor with one line. */
struct hm_cfg {
    enum hm_predictor predictor;
    int32_t data_bits;                    /* Q, K, V, O in memory and in the computation unit */
    int32_t compute_pairs, compute_taps;  /* kept pairs per cycle; dot-product taps per pair */
    int32_t row_epilogue;                 /* cycles per row: reciprocal and output scaling */
    int32_t approx_pairs, approx_taps;    /* approximate scores per cycle; code taps per pair */
    int32_t select_pairs;                 /* comparisons per cycle in candidate selection */
    int32_t mean_lanes;                   /* key elements per cycle of the mean unit */
    int32_t score_bits;                   /* shifted-ReLU output width */
    int32_t score_rows, mask_rows;        /* buffer depths between the stages, in rows */
    int32_t approx_tokens;                /* keys the approximation buffers are sized for */
    int32_t elsa_hash_bits;               /* k: bits of an ELSA hash */
    int32_t elsa_cycles_per_key;      /* cycles per key of the ELSA hash/norm pass */
    double dram_gbps;                     /* per channel */
    int32_t dram_channels, transaction_bytes;
    double kv_buffer_bytes;               /* each of the Q, K, V, O buffers (one bank of two) */
    int32_t kv_banks, kv_port_bits;
};

/* Read the configuration. Errors name the file, section and key
 * (ap_sim_param does). */
static enum ap_status cfg_load(struct ap_sim_arch *a, struct hm_cfg *c) {
    enum ap_status st = AP_OK;
    double kb = 0;
    memset(c, 0, sizeof *c);
    const char *pred = ap_ini_string(&a->ini, "hammer", "predictor", "hammer");
    if (strcmp(pred, "hammer") == 0)
        c->predictor = HM_HAMMER;
    else if (strcmp(pred, "elsa") == 0)
        c->predictor = HM_ELSA;
    else
        return ap_error(AP_ERR_FORMAT, "%s: [hammer] predictor = '%s': expected hammer or elsa", a->path, pred);
    if (!a->pruning) c->predictor = HM_NONE;
#define P_INT(sec, key, def, lo, hi, dst) \
    if (st == AP_OK) st = ap_sim_param_int(a, sec, key, def, lo, hi, dst)
    P_INT("compute", "data_bits", 16, 2, 32, &c->data_bits);
    P_INT("compute", "pairs", 4, 1, 4096, &c->compute_pairs);
    P_INT("compute", "taps", 64, 1, 4096, &c->compute_taps);
    P_INT("compute", "row_epilogue", 1, 0, 1000, &c->row_epilogue);
    P_INT("hammer", "approx_pairs", 32, 1, 65536, &c->approx_pairs);
    P_INT("hammer", "approx_taps", 64, 1, 4096, &c->approx_taps);
    P_INT("hammer", "select_pairs", 32, 1, 65536, &c->select_pairs);
    P_INT("hammer", "mean_lanes", 64, 1, 4096, &c->mean_lanes);
    P_INT("hammer", "score_bits", 16, 2, 64, &c->score_bits);
    P_INT("hammer", "score_rows", 2, 1, 1024, &c->score_rows);
    P_INT("hammer", "mask_rows", 4, 1, 1024, &c->mask_rows);
    P_INT("hammer", "approx_tokens", 512, 1, 1 << 20, &c->approx_tokens);
    P_INT("elsa", "hash_bits", 64, 1, 4096, &c->elsa_hash_bits);
    P_INT("elsa", "cycles_per_key", 1, 1, 100000, &c->elsa_cycles_per_key);
    P_INT("memory", "dram_channels", 1, 1, 64, &c->dram_channels);
    P_INT("memory", "transaction_bytes", 64, 1, 4096, &c->transaction_bytes);
    P_INT("memory", "kv_banks", 4, 1, 1024, &c->kv_banks);
    P_INT("memory", "kv_port_bits", 1024, 8, 65536, &c->kv_port_bits);
#undef P_INT
    if (st == AP_OK) st = ap_sim_param(a, "memory", "dram_gbps", 45.6, 0.001, 1e6, &c->dram_gbps);
    if (st == AP_OK) st = ap_sim_param(a, "memory", "kv_buffer_kb", 64, 0.0625, 1 << 20, &kb);
    c->kv_buffer_bytes = kb * 1024.0;
    return st;
}

static double ceil_div(double a, double b) { return a > 0 ? ceil(a / b) : 0.0; }

/* Bits of an integer that can hold n distinct values (at least 1). */
static int32_t bits_for(double n) {
    int32_t b = 1;
    while ((double)((int64_t)1 << b) < n && b < 62) b++;
    return b;
}

/* ------------------------------------------------------------ energy events
 * Each composed from the technology table (tech.h) at the configured node;
 * the composition is our choice and is stated for each. Computed once. */
struct hm_energy {
    double mean_key;     /* HAMMER mean unit, per key: d accumulations (B + log2 T bits), d subtractions,
                            d quantizer compares (B bits) */
    double mean_head;    /* per head: d divisions by the key count */
    double key_quant;    /* per key with the mean off: d quantizer compares (B bits) */
    double q_quant;      /* per query row: d quantizer compares (B bits) */
    double approx_pair;  /* HAMMER, per pair: adder tree of d code products ((d−1) adds of 7 + log2 d bits; a
                            product of ±1/±8 codes is a sign and a shift, no multiplier), shifted ReLU (3
                            break-point compares + a shift-add, score_bits), the row-sum accumulation */
    double select_pair;  /* HAMMER, per pair: f > t·Σf compare (score_bits + log2 T bits) */
    double select_row;   /* HAMMER, per row: the t × Σf multiply (16 × (score_bits + log2 T)) */
    double elsa_key;     /* ELSA, per key: hash by a ±1 random projection (d·k adds of B + log2 d bits,
                            a guess: ELSA's projection is not in our papers) + norm (d MACs B×B + a
                            square root, costed as a division) */
    double elsa_query;   /* ELSA, per query row: its hash (d·k adds) */
    double elsa_pair;    /* ELSA, per pair: XOR + popcount of k bits (2k adder bits), cos table read (16-bit
                            register), |k|·cos multiply (16×16), threshold compare (16 bits) */
    double compute_pair; /* per kept pair: d MACs B×B for q·k, an exp, the fp16 add of the row sum, d MACs
                            B×B for p·v */
    double compute_row;  /* per row: reciprocal + d multiplies B×B */
    double mask_bit;     /* one mask bit written or read: a register bit */
};

static void energy_init(const struct ap_tech *t, const struct hm_cfg *c, int32_t d, int32_t T,
                        struct hm_energy *e) {
    const int32_t B = c->data_bits, lt = bits_for(T), ld = bits_for(d);
    e->mean_key = d * (ap_tech_add_pj(t, B + lt) + ap_tech_add_pj(t, B) + ap_tech_cmp_pj(t, B));
    e->mean_head = d * t->div_pj;
    e->key_quant = d * ap_tech_cmp_pj(t, B);
    e->q_quant = d * ap_tech_cmp_pj(t, B);
    e->approx_pair = (d - 1) * ap_tech_add_pj(t, 7 + ld) + 3 * ap_tech_cmp_pj(t, 7 + ld) +
                     ap_tech_add_pj(t, c->score_bits) + ap_tech_add_pj(t, c->score_bits + lt);
    e->select_pair = ap_tech_cmp_pj(t, c->score_bits + lt);
    e->select_row = ap_tech_mac_pj(t, 16, c->score_bits + lt);
    const int32_t k = c->elsa_hash_bits;
    e->elsa_key = (double)d * k * ap_tech_add_pj(t, B + ld) + d * ap_tech_mac_pj(t, B, B) + t->div_pj;
    e->elsa_query = (double)d * k * ap_tech_add_pj(t, B + ld);
    e->elsa_pair = ap_tech_add_pj(t, 2 * k) + 16 * t->reg_pj_per_bit + ap_tech_mac_pj(t, 16, 16) +
                   ap_tech_cmp_pj(t, 16);
    e->compute_pair = 2.0 * d * ap_tech_mac_pj(t, B, B) + t->exp_pj + t->fp16_add_pj;
    e->compute_row = t->div_pj + d * ap_tech_mac_pj(t, B, B);
    e->mask_bit = t->reg_pj_per_bit;
}

/* ------------------------------------------------------------ the model */

struct hm_sim {
    struct hm_cfg c;
    struct hm_energy e;
    struct ap_sram qbuf, kbuf, vbuf, obuf;    /* (T, d) each, double-buffered: capacity of one bank */
    struct ap_sram codebuf, scorebuf, maskbuf; /* approximation buffers: key codes / hashes, scores, mask */
    struct ap_dram dram;
    int32_t *kept, *valid;                    /* (T) rows of the head being simulated */
    double *cc, *ce;                          /* (T) select / compute finish times of the head's rows */
    /* counted */
    double busy_prep, busy_mean, busy_score, busy_select, busy_compute, busy_dram;
    double stall_mem, stall_score, stall_select;
    double pj_prep, pj_score, pj_select, pj_compute;
    double macs, kept_pairs, valid_pairs, mask_bits;
    double tiles_extra;                       /* heads whose K/V exceeded a buffer bank */
    int64_t heads_over_approx;                /* heads with more keys than approx_tokens */
};

/* Simulate one head's query rows from `t0` (its predictor pass done) and
 * return when its last row leaves the computation unit. Rows i = 0..n-1 with
 * per-stage times A_i (score), C_i (select), E_i (compute):
 *     SA_i = max(t0, CA_{i-1}, CC_{i-score_rows})   score slot free
 *     SC_i = max(CA_i, CC_{i-1}, CE_{i-mask_rows})   scores ready, mask slot free
 *     SE_i = max(CC_i, CE_{i-1})
 * (CX = SX + X). The baseline's rows go through the compute stage only.
 * Blocked cycles (a stage idle only because its output slot is taken) are
 * counted as stalls. */
static double rows_run(struct hm_sim *s, int32_t n, int32_t d, double t0) {
    const struct hm_cfg *c = &s->c;
    const double pa = ceil_div(d, c->approx_taps), pc = ceil_div(d, c->compute_taps);
    const double row_bytes = (double)d * c->data_bits / 8.0;
    double ca = t0, cc = t0, ce = t0;
    for (int32_t i = 0; i < n; i++) {
        const double v = s->valid[i], k = c->predictor == HM_NONE ? v : s->kept[i];
        /* compute: k pairs on compute_pairs pipelines, each taking ceil(d / taps)
         * cycles per pair; K rows come from the K buffer's ports (V rows from
         * the V buffer's, in parallel), so the slower of the two sets the pace */
        double e_mac = ceil_div(k, c->compute_pairs) * pc;
        double e_port = ap_sram_read(&s->kbuf, k * row_bytes);
        ap_sram_read(&s->vbuf, k * row_bytes);
        ap_sram_read(&s->qbuf, row_bytes);
        ap_sram_write(&s->obuf, row_bytes);
        double E = (e_mac > e_port ? e_mac : e_port) + c->row_epilogue;
        s->busy_compute += E;
        s->macs += 2.0 * k * d, s->kept_pairs += k, s->valid_pairs += v;
        s->pj_compute += k * s->e.compute_pair + s->e.compute_row;
        if (c->predictor == HM_NONE) {
            double se = ce > t0 ? ce : t0;
            ce = se + E;
            continue;
        }
        /* score: v approximate scores, approx_pairs per cycle, ceil(d / taps)
         * passes each; ELSA's estimate and compare are one fused stage, HAMMER's
         * compare must wait for the row's sum: a second pass over the score
         * buffer, after one cycle for t × Σf */
        double A = ceil_div(v, c->approx_pairs) * pa;
        double C = c->predictor == HM_HAMMER ? (v > 0 ? ceil_div(v, c->select_pairs) + 1 : 0) : 0;
        double free_a = ca > t0 ? ca : t0;
        double sa = free_a;
        if (i >= c->score_rows && s->cc[i - c->score_rows] > sa) sa = s->cc[i - c->score_rows];
        s->stall_score += sa - free_a;
        ca = sa + A;
        double ready_c = ca > cc ? ca : cc;
        double sc = ready_c;
        if (i >= c->mask_rows && s->ce[i - c->mask_rows] > sc) sc = s->ce[i - c->mask_rows];
        s->stall_select += sc - ready_c;
        cc = sc + C;
        double se = cc > ce ? cc : ce;
        ce = se + E;
        s->cc[i] = cc, s->ce[i] = ce;
        s->busy_score += A, s->busy_select += C;
        s->mask_bits += v;
        if (c->predictor == HM_HAMMER) {
            s->pj_score += s->e.q_quant + v * s->e.approx_pair;
            s->pj_select += s->e.select_row + v * s->e.select_pair;
            /* key codes: 2 bits per element, read for every pair; scores
             * written and read back by the selection */
            ap_sram_read(&s->codebuf, v * d * 2.0 / 8.0);
            ap_sram_write(&s->scorebuf, v * c->score_bits / 8.0);
            ap_sram_read(&s->scorebuf, v * c->score_bits / 8.0);
        } else {
            s->pj_score += s->e.elsa_query + v * s->e.elsa_pair;
            ap_sram_read(&s->codebuf, v * (c->elsa_hash_bits + 16.0) / 8.0);
        }
        ap_sram_write(&s->maskbuf, v / 8.0);
        ap_sram_read(&s->maskbuf, v / 8.0);
    }
    return ce;
}

/* The predictor's pass over the head's nk keys before its first row.
 * HAMMER with the mean: accumulate the keys (one pass of
 * nk·ceil(d / mean_lanes) cycles), divide, then subtract the mean while
 * quantizing the keys into the code buffer (a second pass). Without it (the
 * trace says mean_ops = 0) the codes are written as K streams in from DRAM,
 * so no pass: the codes do not wait for a mean of all the keys. Both passes
 * are therefore the mean's cost (sec. 5: "computing means and subtracting
 * them"). ELSA hashes and takes the norm of each key (cycles_per_key each).
 * Returns the cycles; *mean_part the mean's share of them. */
static double prep_cycles(struct hm_sim *s, int32_t nk, int32_t d, int mean_on, double *mean_part) {
    const struct hm_cfg *c = &s->c;
    *mean_part = 0;
    if (c->predictor == HM_HAMMER) {
        ap_sram_write(&s->codebuf, nk * d * 2.0 / 8.0);
        if (!mean_on) {
            s->pj_prep += nk * s->e.key_quant;
            return 0;
        }
        double passes = 2.0 * nk * ceil_div(d, c->mean_lanes);
        s->pj_prep += nk * s->e.mean_key + s->e.mean_head;
        ap_sram_read(&s->kbuf, 2.0 * nk * d * c->data_bits / 8.0);
        *mean_part = passes;
        return passes;
    }
    if (c->predictor == HM_ELSA) {
        s->pj_prep += nk * s->e.elsa_key;
        ap_sram_read(&s->kbuf, (double)nk * d * c->data_bits / 8.0);
        ap_sram_write(&s->codebuf, nk * (c->elsa_hash_bits + 16.0) / 8.0);
        return (double)nk * c->elsa_cycles_per_key;
    }
    return 0;
}

/* ------------------------------------------------------------ entry point */

static void sim_free(struct hm_sim *s) {
    free(s->kept), free(s->valid), free(s->cc), free(s->ce);
    s->kept = s->valid = NULL, s->cc = s->ce = NULL;
}

/* Simulate the trace on the configuration a (HAMMER, ELSA-like, or with
 * pruning = 0 the dense baseline) and fill r: cycles, energy by component,
 * busy cycles, stalls, traffic, utilization, and the stats named in
 * docs/sim/hammer.md. Heads run one after another: head h's Q, K, V load
 * into the second buffer bank while head h − 1 runs (the bank is free once
 * head h − 2 is done); head h starts when it is loaded and head h − 1 has
 * finished, because its keys are centred and coded in the one key-code
 * buffer (this barrier is what makes the mean pass cost what the paper
 * says: 8–16 %, not ~0 as it would hidden behind the previous head). The
 * output of head h − 1 is written back after the load of head h. */
enum ap_status ap_sim_hammer(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r) {
    struct hm_sim s;
    memset(&s, 0, sizeof s);
    enum ap_status st = cfg_load(a, &s.c);
    if (st != AP_OK) return st;
    const struct hm_cfg *c = &s.c;
    const int32_t d = t->d, T = t->T;
    if (d <= 0 || T <= 0) return ap_error(AP_ERR_INVALID_ARG, "%s: trace with d = %d, T = %d", a->path, d, T);
    energy_init(&a->tech, c, d, T, &s.e);
    ap_sram_init(&s.qbuf, "q_buffer", c->kv_buffer_bytes, c->kv_banks, c->kv_port_bits, &a->tech);
    ap_sram_init(&s.kbuf, "k_buffer", c->kv_buffer_bytes, c->kv_banks, c->kv_port_bits, &a->tech);
    ap_sram_init(&s.vbuf, "v_buffer", c->kv_buffer_bytes, c->kv_banks, c->kv_port_bits, &a->tech);
    ap_sram_init(&s.obuf, "o_buffer", c->kv_buffer_bytes, c->kv_banks, c->kv_port_bits, &a->tech);
    /* approximation buffers, sized for approx_tokens keys: one bank per
     * approximate-score lane for the key codes (each lane reads its own key) */
    double code_bits = c->predictor == HM_ELSA ? c->elsa_hash_bits + 16.0 : 2.0 * d;
    ap_sram_init(&s.codebuf, "code_buffer", c->approx_tokens * code_bits / 8.0, c->approx_pairs,
                 (int32_t)code_bits, &a->tech);
    ap_sram_init(&s.scorebuf, "score_buffer", (double)c->score_rows * c->approx_tokens * c->score_bits / 8.0, 1,
                 c->approx_pairs * c->score_bits, &a->tech);
    ap_sram_init(&s.maskbuf, "mask_buffer", (double)c->mask_rows * c->approx_tokens / 8.0, 1, c->approx_pairs,
                 &a->tech);
    ap_dram_init(&s.dram, "dram", c->dram_channels, c->dram_gbps, c->transaction_bytes, a->tech.dram_pj_per_bit,
                 a->clock_hz);
    s.kept = malloc((size_t)T * sizeof *s.kept);
    s.valid = malloc((size_t)T * sizeof *s.valid);
    s.cc = malloc((size_t)T * sizeof *s.cc);
    s.ce = malloc((size_t)T * sizeof *s.ce);
    if (!s.kept || !s.valid || !s.cc || !s.ce) {
        sim_free(&s);
        return ap_error(AP_ERR_NOMEM, "%s: out of memory for %d rows", a->path, T);
    }
    /* the method's own statistic says whether the mean pass ran */
    const int32_t mean_col = ap_trace_head_stat(t, "mean_ops");
    if (c->predictor == HM_HAMMER && mean_col < 0)
        ap_sim_note(r, "mean redistribution assumed on (the %s trace has no mean_ops)", t->method);
    if (c->predictor != HM_NONE && !t->rows)
        ap_sim_note(r, "kept keys spread evenly over each head's rows (no rows.npy)");

    const double row_bytes = (double)d * c->data_bits / 8.0;
    double dram_free = 0, end1 = 0, end2 = 0; /* end of heads h-1, h-2 */
    double prev_out_rows = 0;
    int any = 0;
    const int64_t n_heads = (int64_t)t->N * t->L * t->H;
    for (int64_t hi = 0; hi < n_heads; hi++) {
        const struct ap_trace_head *hd = &t->heads[hi];
        if (hd->queries <= 0 || hd->keys <= 0) continue; /* head pruned (SpAtten) */
        const int32_t nq = ap_sim_head_rows(t, hi, s.kept, s.valid), nk = hd->keys;
        /* K and V larger than a buffer bank: processed in key tiles, Q read
         * again for every tile (the rows' partial outputs stay on chip) */
        double tiles = ceil_div(nk * row_bytes, c->kv_buffer_bytes);
        if (tiles > 1) {
            s.tiles_extra++;
            ap_sim_note(r, "K/V of %d keys exceed a %.0f KB buffer bank: Q re-read per key tile", nk,
                        c->kv_buffer_bytes / 1024);
        }
        if (c->predictor != HM_NONE && nk > c->approx_tokens) s.heads_over_approx++;
        /* load Q, K, V into the free bank */
        double ls = dram_free > end2 ? dram_free : end2;
        double lc = ap_dram_read(&s.dram, nq * tiles, row_bytes) + ap_dram_read(&s.dram, 2.0 * nk, row_bytes);
        ap_sram_write(&s.qbuf, nq * tiles * row_bytes);
        ap_sram_write(&s.kbuf, nk * row_bytes);
        ap_sram_write(&s.vbuf, nk * row_bytes);
        dram_free = ls + lc;
        s.busy_dram += lc;
        double start = dram_free > end1 ? dram_free : end1;
        s.stall_mem += start - end1;
        /* then the previous head's output goes out */
        if (prev_out_rows > 0) {
            double ws = dram_free > end1 ? dram_free : end1;
            double wc = ap_dram_write(&s.dram, prev_out_rows, row_bytes);
            ap_sram_read(&s.obuf, prev_out_rows * row_bytes);
            dram_free = ws + wc;
            s.busy_dram += wc;
        }
        int mean_on = mean_col < 0 || ap_trace_head_value(t, hi, mean_col) > 0;
        double mean_part;
        double prep = prep_cycles(&s, nk, d, mean_on, &mean_part);
        s.busy_prep += prep, s.busy_mean += mean_part;
        double end = rows_run(&s, nq, d, start + prep);
        end2 = end1, end1 = end;
        prev_out_rows = nq;
        any = 1;
    }
    double total = 0;
    if (any) {
        double ws = dram_free > end1 ? dram_free : end1;
        double wc = ap_dram_write(&s.dram, prev_out_rows, row_bytes);
        ap_sram_read(&s.obuf, prev_out_rows * row_bytes);
        s.busy_dram += wc;
        total = ws + wc;
    }
    if (s.heads_over_approx)
        ap_sim_note(r, "%lld heads have more keys than the approximation buffers hold (%d); modelled as if they fit",
                    (long long)s.heads_over_approx, c->approx_tokens);

    /* ---- report */
    r->cycles = total;
    r->stall_cycles = s.stall_mem + s.stall_score + s.stall_select;
    const double lanes = 2.0 * c->compute_pairs * c->compute_taps;
    r->utilization = total > 0 ? s.macs / (lanes * total) : 0;
    r->dram_bytes = s.dram.bytes;
    const struct ap_sram *mems[] = {&s.qbuf, &s.kbuf, &s.vbuf, &s.obuf, &s.codebuf, &s.scorebuf, &s.maskbuf};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        r->sram_bytes += (mems[i]->read_bits + mems[i]->write_bits) / 8.0;
    ap_sim_energy(r, "dram", ap_dram_energy_pj(&s.dram));
    ap_sim_energy(r, "qkvo_buffers", ap_sram_energy_pj(&s.qbuf) + ap_sram_energy_pj(&s.kbuf) +
                                         ap_sram_energy_pj(&s.vbuf) + ap_sram_energy_pj(&s.obuf));
    ap_sim_energy(r, "compute", s.pj_compute);
    ap_sim_busy(r, "dram", s.busy_dram);
    ap_sim_busy(r, "compute", s.busy_compute);
    if (c->predictor != HM_NONE) {
        ap_sim_energy(r, c->predictor == HM_HAMMER ? "mean_unit" : "hash_unit", s.pj_prep);
        ap_sim_energy(r, "approx_score", s.pj_score);
        if (c->predictor == HM_HAMMER) ap_sim_energy(r, "candidate_select", s.pj_select);
        ap_sim_energy(r, "approx_buffers", ap_sram_energy_pj(&s.codebuf) + ap_sram_energy_pj(&s.scorebuf) +
                                               ap_sram_energy_pj(&s.maskbuf));
        ap_sim_busy(r, c->predictor == HM_HAMMER ? "mean" : "hash", s.busy_prep);
        ap_sim_busy(r, "approx_score", s.busy_score);
        if (c->predictor == HM_HAMMER) ap_sim_busy(r, "candidate_select", s.busy_select);
    }
    ap_sim_stat(r, "density", s.valid_pairs > 0 ? s.kept_pairs / s.valid_pairs : 0);
    ap_sim_stat(r, "prep_share", total > 0 ? s.busy_prep / total : 0);
    ap_sim_stat(r, "mean_share", total > 0 ? s.busy_mean / total : 0);
    ap_sim_stat(r, "compute_busy_share", total > 0 ? s.busy_compute / total : 0);
    ap_sim_stat(r, "memory_stall", s.stall_mem);
    ap_sim_stat(r, "pipeline_stall", s.stall_score + s.stall_select);
    sim_free(&s);
    return AP_OK;
}

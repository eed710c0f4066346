/* spatten.c — cycle-level model of SpAtten (Wang, Zhang, Han, HPCA 2021;
 * SPEC §6, docs/sim/spatten.md): cascade token and head pruning, local value
 * pruning through the top-k engine, progressive quantization of the keys,
 * on a row pipeline Q·K → softmax (+ requantization decision) → top-k → ×V
 * fed by HBM2. Token and head pruning act in every head; local value pruning
 * and progressive quantization only in generation steps (heads of one query
 * row), as the slides restrict them.
 *
 * Granularity: one query row per pipeline stage step (the trace gives per-row
 * kept counts, rows.npy), one DRAM transfer per head and phase, one top-k
 * decision per layer for tokens and heads.
 *
 * Legend: N = chunks, L = layers, H = heads, T = tokens per chunk, d = head
 * dimension; per head nq query rows, row i scores a_i keys (Q·K, softmax)
 * and multiplies b_i value rows (×V, after local value pruning). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "sim/sim.h"

#define SEC "spatten"
#define N_STAGES 4 /* Q·K, softmax (+ requantization decision), top-k, ×V */
#define MAX_FIFO 64

/* ------------------------------------------------------------ configuration */

struct sp_cfg {
    int32_t qk_mult, v_mult;                    /* multipliers of the Q·K and ×V arrays */
    int32_t key_bits, msb_bits, query_bits;     /* widths; keys may be overridden by the trace */
    int32_t value_bits, prob_bits, score_bits, out_bits, imp_bits;
    int32_t softmax_lanes;                      /* scores entering the softmax per cycle */
    int32_t topk_par, topk_overhead;            /* quick-select round: ceil(m / par) + overhead */
    int32_t lat[N_STAGES];                      /* pipeline depth of each stage, cycles */
    int32_t requant_latency;
    int32_t fifo_rows;                          /* rows buffered between two stages */
    double key_kb, value_kb;
    int32_t key_banks, value_banks, port_bits;
    int32_t dram_channels, tx_bytes;
    double dram_gbps;
};

/* Read every key of [spatten] (the baseline reads them too: a key nobody
 * reads is an error). Ranges refuse nonsense, not unusual designs. */
static enum ap_status read_cfg(struct ap_sim_arch *a, struct sp_cfg *c) {
    enum ap_status st = AP_OK;
#define PI(key, def, lo, hi, dst) \
    if (st == AP_OK) st = ap_sim_param_int(a, SEC, key, def, lo, hi, dst)
#define PD(key, def, lo, hi, dst) \
    if (st == AP_OK) st = ap_sim_param(a, SEC, key, def, lo, hi, dst)
    PI("qk_multipliers", 512, 1, 1 << 20, &c->qk_mult);
    PI("v_multipliers", 512, 1, 1 << 20, &c->v_mult);
    PI("key_bits", 12, 2, 32, &c->key_bits);
    PI("key_msb_bits", 8, 1, 32, &c->msb_bits);
    PI("query_bits", 16, 2, 32, &c->query_bits);
    PI("value_bits", 8, 2, 32, &c->value_bits);
    PI("prob_bits", 12, 2, 32, &c->prob_bits);
    PI("score_bits", 24, 2, 64, &c->score_bits);
    PI("output_bits", 16, 2, 32, &c->out_bits);
    PI("importance_bits", 16, 2, 64, &c->imp_bits);
    PI("softmax_lanes", 16, 1, 1 << 16, &c->softmax_lanes);
    PI("topk_parallelism", 16, 1, 1 << 16, &c->topk_par);
    PI("topk_round_overhead", 3, 0, 1000, &c->topk_overhead);
    PI("qk_latency", 11, 0, 100000, &c->lat[0]);
    PI("softmax_latency", 87, 0, 100000, &c->lat[1]);
    PI("topk_latency", 1, 0, 100000, &c->lat[2]);
    PI("v_latency", 3, 0, 100000, &c->lat[3]);
    PI("requant_latency", 1, 0, 100000, &c->requant_latency);
    PI("fifo_rows", 2, 1, MAX_FIFO, &c->fifo_rows);
    PD("key_sram_kb", 196, 1, 1e6, &c->key_kb);
    PD("value_sram_kb", 196, 1, 1e6, &c->value_kb);
    PI("key_sram_banks", 48, 1, 1 << 16, &c->key_banks);
    PI("value_sram_banks", 32, 1, 1 << 16, &c->value_banks);
    PI("sram_port_bits", 128, 8, 1 << 16, &c->port_bits);
    PI("dram_channels", 16, 1, 1024, &c->dram_channels);
    PD("dram_gbps_per_channel", 32, 0.001, 1e6, &c->dram_gbps);
    PI("dram_transaction_bytes", 32, 1, 1 << 16, &c->tx_bytes);
#undef PI
#undef PD
    if (st == AP_OK && c->msb_bits > c->key_bits)
        st = ap_error(AP_ERR_FORMAT, "%s: [" SEC "] key_msb_bits = %d: must not exceed key_bits = %d", a->path,
                      c->msb_bits, c->key_bits);
    return st;
}

/* ------------------------------------------------------------ helpers */

static double ceil_div(double n, double m) { return ceil(n / m); }

/* Cycles for n dot products of length d on an array of `mult` multipliers:
 * floor(mult / d) keys (value rows) per cycle when d fits, else ceil(d /
 * mult) cycles per key. The artifact's model uses the first form
 * (parallelism = multipliers / d). */
static double array_cycles(double n, int32_t d, int32_t mult) {
    if (n <= 0) return 0;
    if (d <= mult) return ceil_div(n, (double)(mult / d));
    return n * ceil_div(d, mult);
}

/* One quick-select over n candidates, as the hardware runs it: each round
 * compares every remaining candidate with the pivot on par '<' and par '>'
 * comparators (ceil(m / par) + overhead cycles, the artifact's
 * TopKLatencyModel). Traces that do not give the engine's work are estimated
 * with a median pivot: each round keeps half the candidates, so a selection
 * takes ceil(log2 n) rounds and compares about 2n candidates (the artifact
 * draws random pivots, which averages somewhat more). Returns the cycles;
 * *compared receives the candidates compared. */
static double topk_estimate(double n, const struct sp_cfg *c, double *compared) {
    double cyc = 0, cmp = 0;
    for (double m = n; m > 1; m = ceil(m / 2)) cyc += ceil_div(m, c->topk_par) + c->topk_overhead, cmp += m;
    if (compared) *compared = cmp;
    return cyc;
}

/* The top-k engine's cycles for one cascade decision after layer record li
 * (tokens or heads: n active, n_next kept for the next layer): the trace's
 * own cycle and round counts (columns col_cycles, col_rounds of layers.csv)
 * when it has them, else a quick-select estimate when anything is pruned.
 * Adds the candidates compared to *compared. */
static double cascade_topk(const struct ap_trace *t, int64_t li, int32_t col_cycles, int32_t col_rounds, int32_t n,
                           int32_t n_next, const struct sp_cfg *c, double *compared) {
    if (col_cycles >= 0) {
        const double cycles = t->layer_stats[li * t->Q + col_cycles];
        const double rounds = col_rounds >= 0 ? t->layer_stats[li * t->Q + col_rounds] : 0;
        *compared += fmax(0, cycles - rounds * c->topk_overhead) * c->topk_par;
        return cycles;
    }
    if (n_next >= n) return 0;
    double cm;
    const double cycles = topk_estimate(n, c, &cm);
    *compared += cm;
    return cycles;
}

/* ------------------------------------------------------------ the model */

/* Everything a run accumulates: the components, the event counts that
 * energy is booked from, and the timelines. */
struct sp_state {
    struct sp_cfg c;
    const struct ap_trace *t;
    int32_t pruning;
    int32_t key_bits, msb_bits;  /* resolved for this trace */
    struct ap_sram ksram, vsram;
    struct ap_dram dram;
    /* event counts */
    double qk_macs_msb, qk_macs_full, sm_scores, sm_rows, topk_cmp, topk_filter, imp_tok, imp_head;
    double rq_cmp, xv_macs, fifo_bits;
    double busy[N_STAGES], topk_layer_cycles, dram_cycles;
    double stall_fifo, stall_mem;
    int32_t summ_vp_ignored, summ_pq_ignored; /* for the notes */
    double rows_keybits, rows_pq;   /* Σ key bits fetched per key over rows, rows counted */
    double scored_pairs, v_pairs;
    /* timelines (cycles) */
    double dram_free;
    double stage_free[N_STAGES];
    double start_ring[N_STAGES][MAX_FIFO];
    int64_t row_no;                 /* rows issued in the current layer */
    /* scratch (T) */
    int32_t *kept, *valid, *ref_valid;
};

/* What one head asks of the machine, decided before its rows run. */
struct sp_head {
    int64_t idx;         /* trace head index */
    int32_t nq, nk;      /* query rows, keys */
    int32_t vprune;      /* local value pruning: ×V waits for the value rows chosen */
    int32_t pq;          /* progressive quantization: MSB keys first */
    int32_t requant;     /* rows that fetch the LSBs and recompute */
    double vfrac;        /* ×V pairs / kept pairs of the trace */
    double topk_cycles_stat, topk_rounds_stat; /* the method's count, or < 0 */
    int32_t fits;        /* K and V fit their half of the double-buffered SRAMs */
    double stream_rows[3]; /* without reuse: rows fetched for [1] K, [2] V over the head's query rows */
    int32_t gen;         /* one query row: the generation stage */
    int32_t ahead;       /* heads whose phase A may be in flight while this one computes */
    int32_t a_issued;
    double a_start, a_end;
};

/* Bytes of one row of d elements of `bits` bits. */
static double row_bytes(int32_t d, int32_t bits) { return ceil(d * (double)bits / 8.0); }

/* Decide one head's shape (pruning run: the trace's head; baseline: the
 * chunk's unpruned reference head, every valid pair, no predictor). */
static void plan_head(struct sp_state *s, int64_t idx, int64_t ref, struct sp_head *p) {
    const struct ap_trace *t = s->t;
    memset(p, 0, sizeof *p);
    p->idx = idx;
    const struct ap_trace_head *hd = &t->heads[s->pruning ? idx : ref];
    p->nq = hd->queries < t->T ? hd->queries : t->T;
    p->nk = hd->keys;
    p->vfrac = 1.0;
    p->topk_cycles_stat = p->topk_rounds_stat = -1;
    /* local value pruning and progressive quantization are generation-stage
     * techniques (slides: "only for generation stage"; SPEC §6): they act on
     * heads of one query row. A summarization head multiplies every valid
     * pair by V with full-width keys (the slides: its small probabilities
     * lie in different places in different rows, so every value row is
     * fetched anyway). */
    p->gen = hd->queries == 1;
    if (s->pruning && !p->gen) {
        int32_t c_pq = ap_trace_head_stat(t, "pq_rows");
        if (hd->kept < hd->valid) s->summ_vp_ignored = 1;
        if (c_pq >= 0 && ap_trace_head_value(t, idx, c_pq) > 0 && s->msb_bits < s->key_bits) s->summ_pq_ignored = 1;
    }
    if (s->pruning && p->gen) {
        int32_t c_vp = ap_trace_head_stat(t, "v_pruned"), c_pq = ap_trace_head_stat(t, "pq_rows"),
                c_rq = ap_trace_head_stat(t, "pq_requant_rows"), c_tc = ap_trace_head_stat(t, "v_topk_cycles"),
                c_tr = ap_trace_head_stat(t, "v_topk_rounds");
        /* synthetic traces count v_pruned among the kept pairs (synth.h:
         * "fraction of kept pairs whose value row is pruned"); SpAtten's own
         * traces have already removed them from kept */
        if (strcmp(t->method, "synthetic") == 0 && c_vp >= 0 && hd->kept > 0) {
            double vp = ap_trace_head_value(t, idx, c_vp);
            p->vfrac = vp >= (double)hd->kept ? 0.0 : 1.0 - vp / (double)hd->kept;
        }
        p->vprune = (double)hd->kept * p->vfrac < (double)hd->valid;
        double pq_rows = ap_trace_head_value(t, idx, c_pq);
        if (pq_rows > 0 && (s->msb_bits < s->key_bits)) {
            p->pq = 1;
            double f = ap_trace_head_value(t, idx, c_rq) / pq_rows;
            p->requant = (int32_t)floor(f * p->nq + 0.5);
            if (p->requant > p->nq) p->requant = p->nq;
        }
        if (c_tc >= 0) p->topk_cycles_stat = ap_trace_head_value(t, idx, c_tc);
        if (c_tr >= 0) p->topk_rounds_stat = ap_trace_head_value(t, idx, c_tr);
    }
    int32_t kbits_first = p->pq ? s->msb_bits : s->key_bits;
    double kb = p->nk * row_bytes(t->d, kbits_first), vb = p->nk * row_bytes(t->d, s->c.value_bits);
    if (p->requant > 0) kb += p->nk * row_bytes(t->d, s->key_bits - s->msb_bits);
    p->fits = kb <= s->c.key_kb * 1024 / 2 && vb <= s->c.value_kb * 1024 / 2;
    /* prefetch depth: as many later heads as the SRAMs hold beside this
     * one (at least one: double buffering) */
    double hold = fmin(s->c.key_kb * 1024 / fmax(kb, 1), s->c.value_kb * 1024 / fmax(vb, 1));
    p->ahead = p->fits && hold - 1 > 1 ? (int32_t)fmin(floor(hold) - 1, 1 << 20) : 1;
}

/* DRAM cycles of n requests of `bytes` each, booked on the HBM. */
static double dram_rd(struct sp_state *s, double n, double bytes) {
    double c = ap_dram_read(&s->dram, n, bytes);
    s->dram_cycles += c;
    return c;
}

/* Phase A of a head: what can be fetched before its scores exist (queries,
 * keys in their first width, values when no value is pruned). Issued at
 * `issue`, served after everything issued before (one FCFS queue over all
 * channels). Returns when it ends; *start when it begins. */
static double fetch_a(struct sp_state *s, const struct sp_head *p, double issue, double *start) {
    const struct ap_trace *t = s->t;
    int32_t kbits = p->pq ? s->msb_bits : s->key_bits;
    double kr = row_bytes(t->d, kbits), vr = row_bytes(t->d, s->c.value_bits);
    double b0 = issue > s->dram_free ? issue : s->dram_free, cyc = 0;
    cyc += dram_rd(s, p->nq, row_bytes(t->d, s->c.query_bits));
    /* keys (and values) once per head when they fit on chip, else once per
     * row that needs them: the rows were counted by the caller in stream_rows */
    cyc += dram_rd(s, p->fits ? p->nk : p->stream_rows[1], kr);
    ap_sram_write(&s->ksram, (p->fits ? p->nk : p->stream_rows[1]) * kr);
    if (!p->vprune) {
        cyc += dram_rd(s, p->fits ? p->nk : p->stream_rows[2], vr);
        ap_sram_write(&s->vsram, (p->fits ? p->nk : p->stream_rows[2]) * vr);
    }
    *start = b0;
    s->dram_free = b0 + cyc;
    return s->dram_free;
}

/* Phase B of a head, what depends on its probabilities, in two requests:
 * the key LSBs (issued when the first row's requantization decision leaves
 * the softmax; once per head when the keys stay on chip) and the value rows
 * local value pruning kept with the output rows written back (issued when
 * the first row leaves the top-k stage). Each is served after everything
 * issued before it; returns when it ends. */
static double fetch_lsb(struct sp_state *s, const struct sp_head *p, double issue) {
    double b0 = issue > s->dram_free ? issue : s->dram_free;
    double lr = row_bytes(s->t->d, s->key_bits - s->msb_bits);
    double n = p->fits ? p->nk : p->stream_rows[1];
    ap_sram_write(&s->ksram, n * lr);
    s->dram_free = b0 + dram_rd(s, n, lr);
    return s->dram_free;
}

static double fetch_v(struct sp_state *s, const struct sp_head *p, double issue, double v_rows) {
    const struct ap_trace *t = s->t;
    double b0 = issue > s->dram_free ? issue : s->dram_free, cyc = 0;
    if (p->vprune) {
        double vr = row_bytes(t->d, s->c.value_bits);
        cyc += dram_rd(s, v_rows, vr);
        ap_sram_write(&s->vsram, v_rows * vr);
    }
    double wc = ap_dram_write(&s->dram, p->nq, row_bytes(t->d, s->c.out_bits));
    s->dram_cycles += wc;
    s->dram_free = b0 + cyc + wc;
    return s->dram_free;
}

/* Run one head's rows through the four-stage pipeline, continuing the
 * layer's timelines. Overlap rules: a stage takes row i when it has taken
 * all of row i − 1 (its time: the cycles its inputs occupy the unit) and row
 * i has come out of the previous stage (that stage's time plus its pipeline
 * depth); a row enters the FIFO behind a stage only when one of its
 * fifo_rows slots is free (row i − fifo_rows has started the next stage),
 * else the unit stalls until then (blocking after service).
 * Memory: the head's first row cannot finish Q·K before phase A has arrived
 * (every row needs every key); when K/V do not fit on chip they stream and
 * the last row waits instead. A requantized row waits for the LSBs before
 * its second pass; ×V of the head's first row waits for the value rows
 * when values are pruned locally. When a head's first row starts Q·K, the
 * phase A of the heads after it is issued, as many as the key and value
 * SRAMs hold beside it (`ahead`, at least one: double buffering); the
 * layer's first head issues its own at the layer start. Returns when the
 * head's last row and its DRAM requests are done. */
static void issue_a(struct sp_state *s, struct sp_head *plans, int32_t np, int32_t k, double when) {
    int32_t last = k + plans[k].ahead;
    for (int32_t j = k; j < np && j <= last; j++)
        if (!plans[j].a_issued) plans[j].a_end = fetch_a(s, &plans[j], when, &plans[j].a_start), plans[j].a_issued = 1;
}

static double run_head(struct sp_state *s, struct sp_head *plans, int32_t np, int32_t k) {
    struct sp_head *p = &plans[k];
    issue_a(s, plans, np, k, s->stage_free[0]);
    const double a_start = p->a_start, a_end = p->a_end;
    const struct ap_trace *t = s->t;
    const struct sp_cfg *c = &s->c;
    const int32_t d = t->d, D = c->fifo_rows;
    int32_t *kept = s->kept, *valid = s->valid;
    int32_t nq;
    if (s->pruning) {
        nq = ap_sim_head_rows(t, p->idx, kept, valid);
    } else {
        nq = p->nq;
        for (int32_t i = 0; i < nq; i++) kept[i] = valid[i] = s->ref_valid[i];
    }
    double kr_msb = row_bytes(d, p->pq ? s->msb_bits : s->key_bits), kr_full = row_bytes(d, s->key_bits);
    double vr = row_bytes(d, c->value_bits);
    /* value rows phase B must bring: each kept one once when they fit on
     * chip, at most every key (the union of the rows' choices is not in the
     * trace; Σ b_i capped at the keys is its upper bound that the one-row
     * generation step meets exactly) */
    double sum_b = 0;
    int32_t topk_rows = 0;
    for (int32_t i = 0; i < nq; i++) {
        double b = p->gen ? floor(kept[i] * p->vfrac + 0.5) : valid[i];
        sum_b += b;
        if (valid[i] > 0) topk_rows++;
    }
    double v_rows = p->fits && sum_b > p->nk ? p->nk : sum_b;
    double end = a_end, b_end = 0;
    int32_t b_done = 0, lsb_done = p->requant == 0, next_done = k + 1 >= np, first = 1;
    double lsb_end = 0;
    for (int32_t i = 0; i < nq; i++) {
        double a = valid[i], b = p->gen ? floor(kept[i] * p->vfrac + 0.5) : valid[i];
        if (a <= 0) continue;
        int32_t rq = p->requant > 0 && (int64_t)(i + 1) * p->requant / nq > (int64_t)i * p->requant / nq;
        int32_t passes = 1 + rq;
        /* stage times */
        double tm[N_STAGES], lat[N_STAGES];
        double port = ap_sram_read(&s->ksram, a * kr_msb);
        if (rq) port += ap_sram_read(&s->ksram, a * kr_full);
        tm[0] = fmax(passes * array_cycles(a, d, c->qk_mult), port);
        tm[1] = passes * ceil_div(a, c->softmax_lanes);
        tm[2] = 0;
        /* a head with local value pruning sends every row through the
         * engine (the artifact's per-head if_topk flag), also rows whose k
         * covers all their keys */
        if (s->pruning && p->vprune) {
            double cmp = 0;
            if (p->topk_cycles_stat >= 0 && topk_rows > 0) {
                tm[2] = p->topk_cycles_stat / topk_rows;
                double rounds = p->topk_rounds_stat > 0 ? p->topk_rounds_stat / topk_rows : 0;
                cmp = (tm[2] - rounds * c->topk_overhead) * c->topk_par;
                if (cmp < 0) cmp = 0;
            } else {
                tm[2] = topk_estimate(a, c, &cmp);
            }
            s->topk_cmp += cmp, s->topk_filter += a;
        }
        double vport = ap_sram_read(&s->vsram, b * vr);
        tm[3] = fmax(array_cycles(b, d, c->v_mult), vport);
        lat[0] = c->lat[0], lat[1] = c->lat[1] + (p->pq ? c->requant_latency : 0);
        lat[2] = tm[2] > 0 ? c->lat[2] : 0, lat[3] = c->lat[3];
        /* the pipeline */
        double avail = a_start, done = 0;
        int64_t slot = s->row_no % D;
        for (int st = 0; st < N_STAGES; st++) {
            double start = fmax(s->stage_free[st], avail);
            if (st == 3 && !b_done) {
                /* the values chosen are requested as the head's first
                 * top-k decision comes out; ×V needs them */
                b_end = fetch_v(s, p, avail, v_rows);
                b_done = 1;
                if (p->vprune && b_end > start) s->stall_mem += b_end - start, start = b_end;
            }
            done = start + tm[st];
            if (st == 0) {
                if (!next_done) issue_a(s, plans, np, k + 1, start), next_done = 1;
                /* every row needs every key: the first row (streamed: the
                 * last) cannot finish before the keys are in */
                int last = i == nq - 1;
                if ((p->fits ? first : last) && a_end > done) s->stall_mem += a_end - done, done = a_end;
            }
            /* the row comes out of the unit's pipeline lat cycles after its
             * last input; rows in flight sit in pipeline registers, not in
             * the FIFO. A full FIFO holds the row at the output and stalls
             * the whole unit for as long. */
            double exit = done + lat[st];
            if (st < N_STAGES - 1 && s->row_no >= D) {
                double freed = s->start_ring[st + 1][slot]; /* row − D started the next stage */
                if (freed > exit) s->stall_fifo += freed - exit, exit = freed;
            }
            s->start_ring[st][slot] = start;
            s->stage_free[st] = exit - lat[st];
            s->busy[st] += tm[st];
            avail = exit;
            if (st == 1 && rq) {
                /* a requantized row: its LSBs are fetched after the decision
                 * (once per head), then it goes through Q·K and the softmax
                 * again; that pass's occupancy is in tm[0], tm[1], its
                 * pipeline depth is added here */
                if (!lsb_done) lsb_end = fetch_lsb(s, p, exit), lsb_done = 1;
                if (lsb_end > exit) s->stall_mem += lsb_end - exit;
                avail = fmax(exit, lsb_end) + lat[0] + lat[1];
            }
        }
        s->row_no++, first = 0;
        end = fmax(end, avail);
        /* events */
        if (p->pq) s->qk_macs_msb += a * d, s->rows_keybits += s->msb_bits;
        else s->qk_macs_full += a * d, s->rows_keybits += s->key_bits;
        if (rq) s->qk_macs_full += a * d, s->rows_keybits += s->key_bits - s->msb_bits;
        s->rows_pq += 1;
        s->sm_scores += passes * a, s->sm_rows += passes;
        if (p->pq) s->rq_cmp += a + 1; /* running max of the row, then the threshold */
        if (s->pruning) s->imp_tok += a, s->imp_head += d;
        s->xv_macs += b * d;
        s->fifo_bits += passes * a * c->score_bits + (a + b) * c->prob_bits;
        s->scored_pairs += a, s->v_pairs += b;
    }
    if (!next_done) issue_a(s, plans, np, k + 1, end);
    if (!lsb_done) lsb_end = fetch_lsb(s, p, end);
    if (!b_done) b_end = fetch_v(s, p, end, v_rows);
    return fmax(end, fmax(b_end, lsb_end));
}

/* ------------------------------------------------------------ entry point */

/* Simulate the trace chunk by chunk and layer by layer. A layer's attention
 * needs the previous layer's output (through the feed-forward part, off
 * this chip), so the pipeline drains at every layer boundary; then the
 * top-k engine selects the next layer's tokens and heads (pruning run, when
 * the next layer computes fewer), serially. Heads of one layer flow through
 * the pipeline back to back. */
enum ap_status ap_sim_spatten(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r) {
    struct sp_state *s = calloc(1, sizeof *s);
    if (!s) return ap_error(AP_ERR_NOMEM, "%s: out of memory", a->path);
    enum ap_status st = read_cfg(a, &s->c);
    if (st != AP_OK) {
        free(s);
        return st;
    }
    const struct sp_cfg *c = &s->c;
    s->t = t, s->pruning = a->pruning;
    s->kept = malloc(sizeof(int32_t) * (size_t)(t->T > 0 ? t->T : 1));
    s->valid = malloc(sizeof(int32_t) * (size_t)(t->T > 0 ? t->T : 1));
    s->ref_valid = malloc(sizeof(int32_t) * (size_t)(t->T > 0 ? t->T : 1));
    struct sp_head *plans = malloc(sizeof *plans * (size_t)(t->H > 0 ? t->H : 1));
    if (!s->kept || !s->valid || !s->ref_valid || !plans) {
        st = ap_error(AP_ERR_NOMEM, "%s: out of memory for %d tokens", a->path, t->T);
        goto out;
    }
    /* widths: the trace's method decided them when it says so */
    s->key_bits = (int32_t)ap_trace_param_num(t, "key_bits", ap_trace_param_num(t, "k_bits", c->key_bits));
    s->msb_bits = (int32_t)ap_trace_param_num(t, "msb_bits", ap_trace_param_num(t, "k_msb", c->msb_bits));
    if (s->key_bits < 1 || s->key_bits > 32) s->key_bits = c->key_bits;
    if (s->msb_bits < 1 || s->msb_bits > s->key_bits) s->msb_bits = s->key_bits;
    ap_sram_init(&s->ksram, "key_sram", c->key_kb * 1024, c->key_banks, c->port_bits, &a->tech);
    ap_sram_init(&s->vsram, "value_sram", c->value_kb * 1024, c->value_banks, c->port_bits, &a->tech);
    ap_dram_init(&s->dram, "hbm", c->dram_channels, c->dram_gbps, c->tx_bytes, a->tech.hbm_pj_per_bit, a->clock_hz);

    const int is_spatten = strcmp(t->method, "spatten") == 0, is_synth = strcmp(t->method, "synthetic") == 0;
    if (a->pruning && !is_spatten && !is_synth)
        ap_sim_note(r, "trace of method '%s': Q·K scores every valid pair of the computed heads; in generation "
                       "steps the mask's pruned pairs are taken as locally pruned values", t->method);
    if (a->pruning && ap_trace_head_stat(t, "pq_rows") < 0)
        ap_sim_note(r, "no progressive-quantization statistics: keys fetched at full width");
    const int32_t c_ttc = ap_trace_layer_stat(t, "token_topk_cycles"), c_htc = ap_trace_layer_stat(t, "head_topk_cycles");
    const int32_t c_ttr = ap_trace_layer_stat(t, "token_topk_rounds"), c_htr = ap_trace_layer_stat(t, "head_topk_rounds");
    const int32_t c_vtc = ap_trace_head_stat(t, "v_topk_cycles");

    double now = 0, full_tok = 0, act_tok = 0, full_heads = 0, act_heads = 0;
    for (int32_t n = 0; n < t->N; n++) {
        /* the chunk's unpruned head: the one with the most valid pairs */
        int64_t ref = (int64_t)n * t->L * t->H;
        for (int64_t i = 0; i < (int64_t)t->L * t->H; i++)
            if (t->heads[(int64_t)n * t->L * t->H + i].valid > t->heads[ref].valid) ref = (int64_t)n * t->L * t->H + i;
        if (!a->pruning) {
            int32_t q = t->heads[ref].queries, k = t->heads[ref].keys;
            for (int32_t i = 0; i < q && i < t->T; i++) {
                int32_t v = t->causal ? k - q + i + 1 : k;
                s->ref_valid[i] = v < 0 ? 0 : v > k ? k : v;
            }
        }
        for (int32_t l = 0; l < t->L; l++) {
            const int64_t li = (int64_t)n * t->L + l, h0 = li * t->H;
            /* plan the layer's heads (pruned heads are not computed) */
            int32_t np = 0;
            for (int32_t h = 0; h < t->H; h++) {
                if (a->pruning && t->heads[h0 + h].queries <= 0) continue;
                plan_head(s, h0 + h, ref, &plans[np]);
                struct sp_head *p = &plans[np];
                if (!p->fits) {
                    /* no reuse: every row fetches the keys it scores and the values it needs */
                    double ka = 0, va = 0;
                    if (a->pruning) {
                        int32_t q = ap_sim_head_rows(t, h0 + h, s->kept, s->valid);
                        for (int32_t i = 0; i < q; i++)
                            ka += s->valid[i], va += p->gen ? floor(s->kept[i] * p->vfrac + 0.5) : s->valid[i];
                    } else {
                        for (int32_t i = 0; i < p->nq; i++) ka += s->ref_valid[i];
                        va = ka;
                    }
                    p->stream_rows[1] = ka, p->stream_rows[2] = va;
                    ap_sim_note(r, "K/V of some heads exceed half of the key/value SRAMs: streamed per row, no reuse");
                }
                np++;
            }
            full_tok += t->heads[ref].keys, full_heads += t->H;
            act_tok += a->pruning ? t->tokens_active[li] : t->heads[ref].keys;
            act_heads += np;
            for (int st2 = 0; st2 < N_STAGES; st2++) s->stage_free[st2] = now;
            s->row_no = 0;
            double layer_end = now;
            if (np > 0) {
                for (int32_t k = 0; k < np; k++) layer_end = fmax(layer_end, run_head(s, plans, np, k));
            }
            layer_end = fmax(layer_end, s->dram_free);
            /* cascade decisions for the next layer */
            double tk = 0;
            if (a->pruning && l + 1 < t->L) {
                int32_t tok = t->tokens_active[li], tok_next = t->tokens_active[li + 1];
                int32_t hs = t->heads_active[li], hs_next = t->heads_active[li + 1];
                double cmp = 0;
                tk += cascade_topk(t, li, c_ttc, c_ttr, tok, tok_next, c, &cmp);
                tk += cascade_topk(t, li, c_htc, c_htr, hs, hs_next, c, &cmp);
                s->topk_cmp += cmp;
                if (tk > 0) s->topk_filter += tok + hs;
            }
            s->topk_layer_cycles += tk;
            now = layer_end + tk;
        }
    }
    if (s->summ_vp_ignored)
        ap_sim_note(r, "summarization heads: local value pruning is a generation-stage technique, every valid pair "
                       "multiplied by V");
    if (s->summ_pq_ignored)
        ap_sim_note(r, "summarization heads: progressive quantization is a generation-stage technique, keys at full "
                       "width");
    if (a->pruning && c_vtc < 0 && s->v_pairs < s->scored_pairs)
        ap_sim_note(r, "value top-k cycles estimated (median-pivot quick-select)");

    /* ---- report */
    r->cycles = now;
    const struct ap_tech *tt = &a->tech;
    const double mul16 = tt->mul_pj_per_bit2 * c->query_bits * c->query_bits;
    ap_sim_energy(r, "qk_array", s->qk_macs_msb * ap_tech_mac_pj(tt, c->query_bits, s->msb_bits) +
                                     s->qk_macs_full * ap_tech_mac_pj(tt, c->query_bits, s->key_bits));
    /* softmax per score: dequantize (a multiply), e^x, accumulate, the
     * normalizing multiply, quantize (an add); per row one reciprocal */
    ap_sim_energy(r, "softmax", s->sm_scores * (2 * mul16 + tt->exp_pj + ap_tech_add_pj(tt, c->score_bits) +
                                                ap_tech_add_pj(tt, c->prob_bits)) +
                                    s->sm_rows * tt->div_pj);
    if (s->rq_cmp > 0) ap_sim_energy(r, "requant_decision", s->rq_cmp * ap_tech_cmp_pj(tt, c->prob_bits));
    /* top-k: each compared candidate meets a '<' and a '>' comparator; the
     * final filter compares each candidate with the k-th once */
    if (s->topk_cmp + s->topk_filter > 0)
        ap_sim_energy(r, "topk_engine", (2 * s->topk_cmp + s->topk_filter) * ap_tech_cmp_pj(tt, c->imp_bits));
    if (s->imp_tok + s->imp_head > 0)
        ap_sim_energy(r, "importance", (s->imp_tok + s->imp_head) * ap_tech_add_pj(tt, c->imp_bits));
    ap_sim_energy(r, "xv_array", s->xv_macs * ap_tech_mac_pj(tt, c->prob_bits, c->value_bits));
    ap_sim_energy(r, "fifos", s->fifo_bits * tt->reg_pj_per_bit);
    ap_sim_energy(r, "key_sram", ap_sram_energy_pj(&s->ksram));
    ap_sim_energy(r, "value_sram", ap_sram_energy_pj(&s->vsram));
    ap_sim_energy(r, "hbm", ap_dram_energy_pj(&s->dram));
    ap_sim_busy(r, "qk_array", s->busy[0]);
    ap_sim_busy(r, "softmax", s->busy[1]);
    ap_sim_busy(r, "topk_engine", s->busy[2] + s->topk_layer_cycles);
    ap_sim_busy(r, "xv_array", s->busy[3]);
    ap_sim_busy(r, "hbm", s->dram_cycles);
    ap_sim_busy(r, "key_sram", s->ksram.busy_cycles);
    ap_sim_busy(r, "value_sram", s->vsram.busy_cycles);
    r->stall_cycles = s->stall_fifo + s->stall_mem;
    double macs = s->qk_macs_msb + s->qk_macs_full + s->xv_macs;
    r->utilization = now > 0 ? macs / ((double)(c->qk_mult + c->v_mult) * now) : 0;
    r->dram_bytes = s->dram.bytes;
    r->reram_bytes = 0;
    r->sram_bytes = (s->ksram.read_bits + s->ksram.write_bits + s->vsram.read_bits + s->vsram.write_bits) / 8;
    double sec = now / a->clock_hz, e_pj = 0;
    for (int32_t i = 0; i < r->n_components; i++) e_pj += r->components[i].value;
    e_pj += a->static_mw * 1e-3 * sec * 1e12;
    ap_sim_stat(r, "computed_gops", sec > 0 ? 2 * macs / sec * 1e-9 : 0);
    ap_sim_stat(r, "power_w", sec > 0 ? e_pj * 1e-12 / sec : 0);
    ap_sim_stat(r, "key_bits_effective", s->rows_pq > 0 ? s->rows_keybits / s->rows_pq : 0);
    ap_sim_stat(r, "tokens_pruned", full_tok > 0 ? 1 - act_tok / full_tok : 0);
    ap_sim_stat(r, "heads_pruned", full_heads > 0 ? 1 - act_heads / full_heads : 0);
    ap_sim_stat(r, "values_pruned", s->scored_pairs > 0 ? 1 - s->v_pairs / s->scored_pairs : 0);
    ap_sim_stat(r, "topk_cycles", s->busy[2] + s->topk_layer_cycles);
    ap_sim_stat(r, "memory_stall_cycles", s->stall_mem);
out:
    free(s->kept), free(s->valid), free(s->ref_valid), free(plans);
    free(s);
    return st;
}

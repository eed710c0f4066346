/* sprint.c — cycle-level model of SPRINT (S/M/L) and its baseline, from a
 * trace (chapter 3 of papers/002; SPEC §5; docs/sim/sprint.md).
 *
 * What is modelled, per query row, in order:
 *   1. the memory controller reads the query (d bytes) and, with pruning,
 *      issues CopyQ (the query's msb_bits·d bits into the crossbar's input
 *      buffer), waits tAxTh while the transposable arrays compute every
 *      valid key's 4-bit score and compare it with the layer threshold, and
 *      issues ReadP (the prune vector, one bit per key of the CORELET);
 *   2. the spatial-locality engine splits the row's kept keys into hits (on
 *      chip since the previous row, eq. 3.5) and misses (eq. 3.4); the PUs
 *      start on the hits at once, the misses stream in from main memory,
 *      K and V of a key together, through a small temporary buffer;
 *   3. each miss goes from the temporary buffer to the PUs and into
 *      K-buf/V-buf in the same cycle (the banks are not read for a missed
 *      key); with write_stall = 1, the literal reading of "a stall request
 *      is issued" (§3.5), the PUs stall one write-port time per miss
 *      (docs/sim/sprint.md, "Choices"); no double buffering;
 *   4. QK-PU, exponent LUT and V-PU form a pipeline at one key per
 *      ceil(d / lanes) cycles; the row's d outputs are divided by the
 *      exponent sum on the two dividers, overlapped with the next row.
 * The baseline (pruning = 0) is the same machine without in-memory pruning,
 * without the locality engine and without 2-D padding reduction (§3.6,
 * "Baseline architecture"): every position of the padded sequence is a
 * query and a key, every key of a row is fetched unless the whole
 * sequence's K and V fit on chip (then once per head).
 *
 * Legend: N = chunks, L = layers, H = heads, T = tokens per chunk,
 * d = head dimension, C = CORELETs, n = kept keys of a row, f = fetched
 * (missed) keys of a row, h = n − f hits. Times in cycles of the 1 GHz
 * clock, as doubles: per-CORELET quantities may be fractional averages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "sim/sim.h"

/* ------------------------------------------------------------ parameters */

/* [sprint] of the configuration (configs/sprint-*.ini; every key commented
 * there with its source). */
struct sprint_cfg {
    int32_t corelets;       /* C: CORELETs working on the same query (table 3.1) */
    double onchip_kb;       /* K-buf + V-buf, all CORELETs together (table 3.1) */
    int32_t sram_banks;     /* banks of the on-chip buffer, all CORELETs (table 3.1) */
    int32_t port_bits;      /* port width of one bank (table 3.1) */
    int32_t lanes;          /* MACs of one QK-PU (and of one V-PU) (table 3.1) */
    int32_t data_bits;      /* Q, K, V width (§3.5) */
    int32_t out_bits;       /* output width written back (§3.5) */
    int32_t softmax_bits;   /* exponent-sum accumulator width (§3.5) */
    int32_t msb_bits;       /* query and key MSBs used in memory (§3.3.6 fn. 5) */
    int32_t channels;       /* main-memory channels per CORELET (table 3.1) */
    int32_t channel_bits;   /* width of one channel (table 3.1) */
    double channel_mhz;     /* channel transfer rate (table 3.1) */
    int32_t burst_bytes;    /* one read or write transaction */
    int32_t t_cl;           /* column latency of CopyQ and ReadP, cycles */
    int32_t t_axth;         /* in-memory thresholding latency, cycles (§3.4.3: < 8) */
    int32_t temp_pairs;     /* temporary buffer in front of K-buf/V-buf, K+V pairs */
    int32_t dividers;       /* softmax dividers (§3.5: two) */
    int32_t pipeline_cycles; /* QK -> exp LUT -> V pipeline depth, drained once at the end */
    int32_t write_stall;    /* 1: the PUs stall while a fetched pair is written (§3.5, literal); 0: no stall */
};

static enum ap_status read_cfg(struct ap_sim_arch *a, struct sprint_cfg *c) {
    enum ap_status st;
    const char *s = "sprint";
#define PI(key, def, lo, hi)                                                                   \
    if ((st = ap_sim_param_int(a, s, #key, def, lo, hi, &c->key)) != AP_OK) return st;
#define PD(key, def, lo, hi)                                                                   \
    if ((st = ap_sim_param(a, s, #key, def, lo, hi, &c->key)) != AP_OK) return st;
    PI(corelets, 1, 1, 64);
    PD(onchip_kb, 16, 0.125, 1 << 20);
    PI(sram_banks, 8, 1, 4096);
    PI(port_bits, 128, 8, 4096);
    PI(lanes, 64, 1, 4096);
    PI(data_bits, 8, 2, 16);
    PI(out_bits, 16, 2, 32);
    PI(softmax_bits, 12, 4, 32);
    PI(msb_bits, 4, 1, 8);
    PI(channels, 16, 1, 1024);
    PI(channel_bits, 64, 8, 1024);
    PD(channel_mhz, 1000, 1, 1e5);
    PI(burst_bytes, 64, 1, 4096);
    PI(t_cl, 10, 0, 1000);
    PI(t_axth, 7, 0, 1000);
    PI(temp_pairs, 4, 1, 4096);
    PI(dividers, 2, 1, 256);
    PI(pipeline_cycles, 3, 0, 1000);
    PI(write_stall, 1, 0, 1);
#undef PI
#undef PD
    if (c->msb_bits > c->data_bits)
        return ap_error(AP_ERR_FORMAT, "%s: [sprint] msb_bits = %d: expected at most data_bits (%d)", a->path,
                        c->msb_bits, c->data_bits);
    if (c->sram_banks % c->corelets != 0)
        return ap_error(AP_ERR_FORMAT, "%s: [sprint] sram_banks = %d: expected a multiple of corelets (%d)", a->path,
                        c->sram_banks, c->corelets);
    return AP_OK;
}

/* Per-head timing constants derived from the configuration at head size d. */
struct sprint_timing {
    double pair_bytes;   /* one key's K row and V row on chip, bytes */
    double cap_keys;     /* keys (with values) the on-chip buffer holds, all CORELETs */
    double c_k;          /* PU cycles per key: ceil(d / lanes) */
    double w;            /* buffer-write stall per fetched key: port cycles of one CORELET's banks */
    double s;            /* PU cycles per missed key: c_k + w */
    double c_f;          /* memory cycles per fetched key of one CORELET (K + V, whole bursts) */
    double q_read;       /* memory cycles to read the query */
    double copyq;        /* CopyQ: bursts of the bus + tCL */
    double bus_bits;     /* one CORELET's channels together, bits per cycle */
};

static double burst_round(double bytes, int32_t burst) { return ceil(bytes / burst) * burst; }

static void timing_init(const struct sprint_cfg *c, double clock_hz, int32_t d, struct sprint_timing *tm) {
    double row_bytes = d * c->data_bits / 8.0;
    double bw = c->channels * (c->channel_bits / 8.0) * (c->channel_mhz * 1e6 / clock_hz); /* bytes/cycle, one CORELET */
    tm->pair_bytes = 2.0 * row_bytes;
    tm->cap_keys = floor(c->onchip_kb * 1024.0 / tm->pair_bytes);
    tm->c_k = ceil((double)d / c->lanes);
    tm->w = c->write_stall ? ceil(8.0 * tm->pair_bytes / ((double)(c->sram_banks / c->corelets) * c->port_bits)) : 0;
    tm->s = tm->c_k + tm->w;
    tm->c_f = 2.0 * burst_round(row_bytes, c->burst_bytes) / bw;
    tm->q_read = burst_round(row_bytes, c->burst_bytes) / bw;
    tm->bus_bits = c->channels * c->channel_bits;
    tm->copyq = ceil(c->msb_bits * (double)d / tm->bus_bits) + c->t_cl;
}

/* ------------------------------------------------------------ the run */

/* Everything counted over the run, booked into the report at the end. */
struct sprint_totals {
    double mem, core;            /* when the memory bus and the PUs are next free */
    double pe_busy, mem_busy, inmem_busy;
    double write_stall, wait_stall, mem_stall, pred_exposed;
    double pairs, fetched, reused; /* kept keys computed, fetched, found on chip (all CORELETs) */
    double bus_bytes;            /* CopyQ + ReadP bytes over the bus */
    double kv_read_bytes;        /* K/V bytes read from main memory (whole bursts) */
};

/* One row through the memory controller and the PUs (the rules in the file
 * comment). nb / fb: kept / fetched keys of the busiest CORELET; pred: the
 * thresholding commands' cycles after the query read (0 for the baseline).
 * The PUs take the nb − fb hits first (bootstrapped by the key index
 * generator), then miss i, which memory delivers at fetch_start + (i+1)·c_f
 * and which takes s = c_k + w cycles (write, then compute). With equal
 * spacing the last miss ends at the largest of three lines (the server busy
 * throughout, the first miss gating it, the last one gating it); this is
 * exact for the deterministic tandem queue as long as c_f <= s, which holds
 * whenever the channels are no wider than the buffer's ports. The memory is
 * free once the last miss has entered the temporary buffer: miss i enters
 * when miss i − temp_pairs has started service (back-pressure). */
static void row_step(struct sprint_totals *z, const struct sprint_timing *tm, double depth, double nb, double fb,
                     double pred) {
    double p_done = z->mem + tm->q_read + pred;
    double start = p_done > z->core ? p_done : z->core;
    double hb = nb - fb;
    if (pred > 0) {
        /* thresholding latency the previous row's compute did not hide */
        double exposed = p_done - z->core;
        z->pred_exposed += exposed < 0 ? 0 : exposed > pred ? pred : exposed;
    }
    z->wait_stall += start - z->core;
    double end, mem_done = p_done;
    if (fb > 0) {
        double a = start + hb * tm->c_k + fb * tm->s;
        double b = p_done + tm->c_f + fb * tm->s;
        double c = p_done + fb * tm->c_f + tm->s;
        end = a > b ? a : b;
        end = end > c ? end : c;
        z->wait_stall += end - a;
        mem_done = p_done + fb * tm->c_f;
        if (fb > depth) {
            double j = fb - 1 - depth; /* service start of miss j */
            double sa = start + hb * tm->c_k + j * tm->s, sb = p_done + tm->c_f + j * tm->s;
            double sj = sa > sb ? sa : sb;
            if (sj > mem_done) {
                z->mem_stall += sj - mem_done;
                mem_done = sj;
            }
        }
        z->write_stall += fb * tm->w;
    } else {
        end = start + nb * tm->c_k;
    }
    z->pe_busy += nb * tm->c_k + fb * tm->w;
    z->mem_busy += tm->q_read + fb * tm->c_f;
    z->core = end, z->mem = mem_done;
}

enum ap_status ap_sim_sprint(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r) {
    struct sprint_cfg cfg;
    enum ap_status st = read_cfg(a, &cfg);
    if (st != AP_OK) return st;
    const int pruning = a->pruning != 0;
    const int32_t C = cfg.corelets, d = t->d, T = t->T;
    if (d <= 0 || T <= 0) return ap_error(AP_ERR_FORMAT, "%s: trace with d = %d, T = %d", a->path, d, T);
    struct sprint_timing tm;
    timing_init(&cfg, a->clock_hz, d, &tm);
    if (tm.cap_keys < 1)
        return ap_error(AP_ERR_FORMAT, "%s: [sprint] onchip_kb = %g holds no key of d = %d", a->path, cfg.onchip_kb, d);
    const double data_B = cfg.data_bits / 8.0, row_bytes = d * data_B;

    /* statistics the trace may carry (SPRINT's own names) */
    const int32_t s_adj = ap_trace_head_stat(t, "adjacent_new"), s_padq = ap_trace_head_stat(t, "pad_queries"),
                  s_padk = ap_trace_head_stat(t, "pad_keys"), s_cmax = ap_trace_head_stat(t, "corelet_max");
    const int have_locality = s_adj >= 0;
    const int have_cmax =
        s_cmax >= 0 && strcmp(t->method, "sprint") == 0 && ap_trace_param_num(t, "corelets", 0) == C;

    int32_t *kept = malloc(sizeof(int32_t) * (size_t)T * 2);
    double *fetch = malloc(sizeof(double) * (size_t)T * 2); /* (T) per-row fetches; (T) per-row kept (baseline) */
    if (!kept || !fetch) {
        free(kept), free(fetch);
        return ap_error(AP_ERR_NOMEM, "%s: out of memory for rows of %d tokens", a->path, T);
    }
    int32_t *valid = kept + T;
    double *nrow = fetch + T;

    struct ap_dram mm;   /* main-memory reads (ReRAM cells behind 64-bit channels) */
    struct ap_reram wr;  /* main-memory writes */
    struct ap_reram imp; /* in-memory pruning: 4-bit MACs and comparators */
    struct ap_sram buf;  /* K-buf + V-buf */
    struct ap_pe_array qk, vpu;
    ap_dram_init(&mm, "main_memory", C * cfg.channels, cfg.channel_bits / 8.0 * cfg.channel_mhz * 1e-3,
                 cfg.burst_bytes, a->tech.reram_read_pj_per_bit, a->clock_hz);
    ap_reram_init(&wr, "mm_write", cfg.t_axth, &a->tech);
    ap_reram_init(&imp, "in_memory_pruning", cfg.t_axth, &a->tech);
    ap_sram_init(&buf, "kv_buf", cfg.onchip_kb * 1024.0, cfg.sram_banks, cfg.port_bits, &a->tech);
    ap_pe_init(&qk, "qk_pu", C * cfg.lanes, cfg.data_bits, cfg.data_bits, &a->tech);
    ap_pe_init(&vpu, "v_pu", C * cfg.lanes, cfg.data_bits, cfg.data_bits, &a->tech);
    double exps = 0, sum_adds = 0, divs = 0, write_bytes = 0;
    struct sprint_totals z;
    memset(&z, 0, sizeof z);
    int estimated_locality = 0, estimated_balance = 0, no_padding_stats = 0;

    const int64_t nh = (int64_t)t->N * t->L * t->H;
    for (int64_t h = 0; h < nh; h++) {
        const struct ap_trace_head *hd = &t->heads[h];
        int32_t q = ap_sim_head_rows(t, h, kept, valid);
        if (q <= 0) continue; /* a head the trace did not compute (SpAtten head pruning) */
        int32_t rows, keys;
        if (pruning) {
            /* ---- SPRINT: the trace's rows; fetches from the locality rule */
            rows = q, keys = hd->keys;
            /* keys a row needs beyond the previous row's (eq. 3.4 without a
             * capacity limit): the trace's total spread evenly over the rows
             * after the first (a per-row count is not in the trace) */
            double new_per_row = 0;
            if (have_locality)
                new_per_row = q > 1 ? ap_trace_head_value(t, h, s_adj) / (q - 1) : 0;
            else
                estimated_locality = 1;
            /* Fetches per row. The buffer keeps what it holds until the
             * space is needed: the previous row's keys (up to the capacity;
             * the rest streamed out), and in the room left over, keys of
             * earlier rows. A key the previous row did not keep is on chip
             * if an earlier row fetched it and it still fits: with U the
             * keys fetched so far (each a distinct key while nothing is
             * evicted; at most the head's keys), U − p such keys compete
             * for cap − p slots, and a newly needed key is one of them with
             * probability (U − p) / (keys − p) (uniform; the trace has no
             * key identities). */
            fetch[0] = kept[0];
            double U = kept[0];
            for (int32_t i = 1; i < q; i++) {
                double n = kept[i], p = kept[i - 1], overlap;
                if (have_locality) {
                    overlap = n > new_per_row ? n - new_per_row : 0;
                } else {
                    /* eq. 3.1: mean overlap of two random subsets of n and p
                     * among the row's valid keys (the paper observes 2-3x
                     * more on real data, so this errs towards fetching) */
                    overlap = valid[i] > 0 ? n * p / valid[i] : 0;
                }
                if (overlap > p) overlap = p;
                if (overlap < n + p - keys) overlap = n + p - keys; /* two subsets of the head's keys */
                double avail = p > 0 ? (tm.cap_keys < p ? tm.cap_keys / p : 1.0) : 0.0;
                double others = U - p, nonprev = keys - p, room = tm.cap_keys - p;
                double retained = others > 0 && room > 0 ? (others < room ? others : room) : 0;
                double hit_new = nonprev > 0 ? (n - overlap) * retained / nonprev : 0;
                fetch[i] = n - overlap * avail - hit_new;
                if (fetch[i] < 0) fetch[i] = 0;
                U = U + fetch[i] < keys ? U + fetch[i] : keys;
            }
            for (int32_t i = 0; i < q; i++) nrow[i] = kept[i];
            /* busiest CORELET's share of a row: the trace's, or ideal interleaving */
            double share = 1.0 / C;
            if (C > 1 && have_cmax && hd->kept > 0) {
                share = ap_trace_head_value(t, h, s_cmax) / (double)hd->kept;
                if (share < 1.0 / C) share = 1.0 / C;
                if (share > 1) share = 1;
            } else if (C > 1) {
                estimated_balance = 1;
            }
            for (int32_t i = 0; i < q; i++) {
                double n = nrow[i], f = fetch[i];
                /* the trace's share applies to hits and misses alike; with
                 * ideal interleaving the busiest CORELET gets ceil(n / C)
                 * keys, and f / C of the misses (f is an expectation) */
                double nb = n, fb = f;
                if (C > 1) nb = have_cmax ? n * share : ceil(n / C), fb = have_cmax ? f * share : f / C;
                double kpc = ceil((double)valid[i] / C); /* keys of one CORELET's prune vector */
                double pred = tm.copyq + cfg.t_axth + cfg.t_cl + ceil(kpc / tm.bus_bits);
                row_step(&z, &tm, cfg.temp_pairs, nb, fb, pred);
                z.inmem_busy += pred;
                imp.macs += (double)valid[i] * d;
                imp.compares += valid[i];
                z.bus_bytes += (cfg.msb_bits * (double)d + valid[i]) / 8.0;
            }
        } else {
            /* ---- baseline: padded rows and keys, no prediction */
            double pq = ap_trace_head_value(t, h, s_padq), pk = ap_trace_head_value(t, h, s_padk);
            if (s_padq < 0 || s_padk < 0) no_padding_stats = 1;
            rows = q + (int32_t)pq, keys = hd->keys + (int32_t)pk;
            if (rows > T) rows = T;
            const int fits = keys <= tm.cap_keys;
            double prev = 0;
            for (int32_t i = 0; i < rows; i++) {
                double n = t->causal ? keys - rows + i + 1 : keys;
                if (n < 0) n = 0;
                if (n > keys) n = keys;
                double f = fits ? (n > prev ? n - prev : 0) : n;
                if (fits && n > prev) prev = n;
                double nb = C > 1 ? ceil(n / C) : n, fb = C > 1 ? ceil(f / C) : f;
                row_step(&z, &tm, cfg.temp_pairs, nb, fb, 0);
                nrow[i] = n, fetch[i] = f;
            }
        }
        /* ---- counts of the head */
        for (int32_t i = 0; i < rows; i++) {
            double n = nrow[i], f = fetch[i];
            z.pairs += n, z.fetched += f, z.reused += n - f;
            z.kv_read_bytes += 2.0 * f * burst_round(row_bytes, cfg.burst_bytes);
            ap_dram_read(&mm, 2.0 * f, row_bytes); /* K and V rows */
            ap_sram_write(&buf, f * tm.pair_bytes);
            ap_sram_read(&buf, n * tm.pair_bytes); /* K for QK-PU, V for V-PU */
            qk.macs += n * d, vpu.macs += n * d;
            exps += n, sum_adds += n;
            if (n > 0) divs += d;
        }
        ap_dram_read(&mm, rows, row_bytes); /* the queries */
        /* Q, K, V written into main memory by the projections and the
         * output written back; the 2-D reduction skips padded positions */
        double wb = (double)rows * row_bytes + 2.0 * keys * row_bytes + (double)rows * d * cfg.out_bits / 8.0;
        wr.write_bits += 8.0 * wb;
        write_bytes += wb;
    }
    free(kept), free(fetch);

    /* ---- the report */
    double end = z.core > z.mem ? z.core : z.mem;
    double drain = z.pairs > 0 ? cfg.pipeline_cycles + ceil((double)d / cfg.dividers) : 0;
    r->cycles = end + drain;
    double read_bytes = mm.bytes + z.bus_bytes;
    r->dram_bytes = read_bytes + write_bytes;
    r->reram_bytes = mm.bytes + write_bytes; /* ReRAM cells read and written (CopyQ/ReadP touch buffers only) */
    r->sram_bytes = (buf.read_bits + buf.write_bits) / 8.0;
    r->stall_cycles = z.write_stall + z.wait_stall + z.mem_stall;
    r->utilization = r->cycles > 0 ? (qk.macs + vpu.macs) / (2.0 * C * cfg.lanes * r->cycles) : 0;

    ap_sim_energy(r, "mm_read", ap_dram_energy_pj(&mm));
    ap_sim_energy(r, "mm_write", ap_reram_energy_pj(&wr));
    if (pruning)
        ap_sim_energy(r, "in_memory_pruning", ap_reram_energy_pj(&imp) + 8.0 * z.bus_bytes * a->tech.reg_pj_per_bit);
    double sram_pj = buf.pj_per_bit;
    ap_sim_energy(r, "kv_buf_read", buf.read_bits * sram_pj);
    ap_sim_energy(r, "kv_buf_write", buf.write_bits * sram_pj);
    ap_sim_energy(r, "qk_pu", ap_pe_energy_pj(&qk));
    ap_sim_energy(r, "v_pu", ap_pe_energy_pj(&vpu));
    ap_sim_energy(r, "softmax", exps * a->tech.exp_pj + sum_adds * ap_tech_add_pj(&a->tech, cfg.softmax_bits + 8) +
                                    divs * a->tech.div_pj);

    ap_sim_busy(r, "qk_pu", z.pe_busy);
    ap_sim_busy(r, "v_pu", z.pe_busy);
    ap_sim_busy(r, "main_memory", z.mem_busy);
    if (pruning) ap_sim_busy(r, "in_memory_pruning", z.inmem_busy);

    ap_sim_stat(r, "kv_fetched_keys", z.fetched);
    ap_sim_stat(r, "kv_reused_keys", z.reused);
    ap_sim_stat(r, "mm_read_bytes", read_bytes);
    ap_sim_stat(r, "kv_read_bytes", z.kv_read_bytes);
    ap_sim_stat(r, "write_stall_cycles", z.write_stall);
    ap_sim_stat(r, "mem_backpressure_cycles", z.mem_stall);
    if (pruning) ap_sim_stat(r, "pred_exposed_cycles", z.pred_exposed);

    if (estimated_locality)
        ap_sim_note(r, "no adjacent_new in the trace: adjacent rows' overlap estimated as random (eq. 3.1)");
    if (pruning)
        ap_sim_note(r, "per-row fetches estimated from the head's adjacent_new and the buffer's capacity (the trace "
                       "has no per-row fetch counts)");
    if (estimated_balance)
        ap_sim_note(r, "no corelet_max for %d CORELETs in the trace: ideal interleaving assumed", C);
    if (no_padding_stats) ap_sim_note(r, "baseline: no pad_queries/pad_keys in the trace; no padding assumed");
    return AP_OK;
}

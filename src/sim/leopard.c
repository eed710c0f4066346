/* leopard.c — cycle-level model of a LEOPARD tile (thesis ch. 2, ISCA 2022;
 * SPEC §4; docs/sim/leopard.md) and of the baseline it is compared with.
 *
 * A tile has a front end (QK-PU: N bit-serial QK-DPUs reading the key bits
 * B at a time from the MSB and stopping a score as soon as its margin says
 * it is below the layer's threshold) and a back end (V-PU: LUT softmax and a
 * 64-way MAC array over the kept scores' value rows), joined by the score
 * and index FIFOs (512 entries); the front end stalls when they are full.
 * The baseline ([arch] pruning = 0) is one bit-parallel 12×12-bit QK-DPU and
 * the same V-PU and memories: every valid pair goes through both stages.
 *
 * Legend: S = query rows of a head, n_r = valid keys of row r, k_r = kept
 * keys of row r, p_r = n_r − k_r pruned, N = QK-DPUs, b = key bits per
 * front-end step (B = 2 for LEOPARD, k_bits for the bit-parallel baseline),
 * d = head dimension. Times are cycles of the tile's clock. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "sim/sim.h"

/* ------------------------------------------------------------ configuration */

struct leo_cfg {
    int32_t n_dpu, b, taps, q_bits, k_bits, v_bits, acc_bits, score_bits, idx_bits, fifo_depth;
    int32_t key_banks, value_banks, port_bits, vpu_lanes, q_load, recip, tiles, early_term;
    double key_kb, value_kb, fallback_kbits;
    double dram_gbps;
    int32_t dram_tx, dram_energy;
};

/* Read [leopard] and [dram] of the configuration (defaults: AE-LEOPARD,
 * table 2.2). Every key is read whatever the pruning mode, so a baseline
 * file may carry the same keys. Errors name the file, section and key. */
static enum ap_status leo_config(struct ap_sim_arch *a, struct leo_cfg *c) {
    enum ap_status st;
    const char *L = "leopard";
#define PI(key, def, lo, hi, dst) \
    if ((st = ap_sim_param_int(a, L, key, def, lo, hi, dst)) != AP_OK) return st
#define PD(sec, key, def, lo, hi, dst) \
    if ((st = ap_sim_param(a, sec, key, def, lo, hi, dst)) != AP_OK) return st
    PI("qk_dpus", 6, 1, 1024, &c->n_dpu);
    PI("bits_per_step", 2, 1, 32, &c->b);
    PI("dpu_taps", 64, 1, 4096, &c->taps);
    PI("q_bits", 12, 2, 32, &c->q_bits);
    PI("k_bits", 12, 2, 32, &c->k_bits);
    PI("v_bits", 16, 2, 32, &c->v_bits);
    PI("acc_bits", 20, 2, 64, &c->acc_bits);
    PI("early_termination", 1, 0, 1, &c->early_term);
    PD(L, "key_buffer_kb", 48, 1, 1 << 20, &c->key_kb);
    PI("key_banks", 6, 1, 1024, &c->key_banks);
    PD(L, "value_buffer_kb", 64, 1, 1 << 20, &c->value_kb);
    PI("value_banks", 8, 1, 1024, &c->value_banks);
    PI("port_bits", 128, 8, 8192, &c->port_bits);
    PI("vpu_lanes", 64, 1, 4096, &c->vpu_lanes);
    PI("score_bits", 24, 1, 64, &c->score_bits);
    PI("index_bits", 8, 1, 64, &c->idx_bits);
    PI("fifo_depth", 512, 1, 1 << 20, &c->fifo_depth);
    PI("q_load_cycles", 1, 0, 1000, &c->q_load);
    PI("recip_cycles", 1, 0, 1000, &c->recip);
    PI("tiles", 1, 1, 4096, &c->tiles);
    PD(L, "fallback_kbits_pruned", 8.3, 1, 32, &c->fallback_kbits);
    PD("dram", "gbytes_per_s", 25.6, 0.001, 1e6, &c->dram_gbps);
    if ((st = ap_sim_param_int(a, "dram", "transaction_bytes", 64, 1, 4096, &c->dram_tx)) != AP_OK) return st;
    if ((st = ap_sim_param_int(a, "dram", "book_energy", 0, 0, 1, &c->dram_energy)) != AP_OK) return st;
#undef PI
#undef PD
    if (c->b > c->k_bits)
        return ap_error(AP_ERR_FORMAT, "%s: [leopard] bits_per_step = %d: expected at most k_bits (%d)", a->path, c->b,
                        c->k_bits);
    return AP_OK;
}

static double cdiv(double x, double y) { return ceil(x / y); }
static double dmax(double x, double y) { return x > y ? x : y; }

/* ------------------------------------------------------------ timing */

/* The per-head timing constants, from the configuration and d. */
struct leo_timing {
    int32_t N;        /* DPUs working on the head */
    double step;      /* cycles of one front-end step: taps and key-buffer ports (1 for d <= 64) */
    double s_kept;    /* cycles of a kept score on its DPU: ceil(k_bits / b) steps */
    double s_pruned;  /* mean cycles of a pruned score (from the trace's statistics) */
    double q_load;    /* cycles to take the next query from the Q-FIFO into the DPUs */
    double c;         /* back-end cycles per kept score: softmax exp, value row read, d MACs (pipelined) */
    double e;         /* back-end cycles at a row's end: reciprocal of the sum, d normalizing multiplies */
    int32_t depth;    /* score / index FIFO entries */
};

/* Front-end cycles of a row with n valid and k kept keys. Keys are dealt to
 * the N DPUs in turn and kept ones spread evenly among them (the trace has no
 * per-key order): the busiest DPU holds ceil(n/N) keys of which ceil(k/N) are
 * kept. The QK-PU takes the next query only when every DPU is done (§2.3.2),
 * so the row costs the busiest DPU's time plus the query load. */
static double leo_front(const struct leo_timing *m, int32_t n, int32_t k) {
    double kn = ceil((double)n / m->N), kk = ceil((double)k / m->N);
    return m->q_load + ceil(kk * m->s_kept + (kn - kk) * m->s_pruned - 1e-9);
}

/* What one head's rows did to the FIFO. */
struct leo_fifo_use {
    double stall;        /* QK-PU cycles lost to a full FIFO */
    double max_occ;      /* most entries seen queued (entry mode only) */
    double entry_rows;   /* rows simulated entry by entry */
};

/* One head's rows through front end, FIFO and back end, starting at time 0
 * with an empty FIFO (a head starts after the previous one has drained: its
 * value rows overwrite the value buffer). Kept scores leave the front end in
 * bursts of N (one per DPU) spread evenly over the row's front-end time; the
 * back end takes them one by one in order, c cycles each, plus e after each
 * row's last one.
 *
 * Each row is computed in closed form when the FIFO provably cannot fill
 * during it, otherwise entry by entry through ap_fifo (fifo, depth entries):
 * a push that finds it full delays the QK-PU, and every later score of the
 * row with it. The bound: at most P0 = ceil((D − a0)/c) earlier entries are
 * still queued when the row's first burst arrives (departures are at least c
 * apart); if the back end serves a burst within the burst spacing
 * (N <= floor(dt/c)) the queue never exceeds P0 + N, otherwise P0 + k.
 * Entering entry mode from a closed-form row, the FIFO is re-seeded with the
 * P0 queued entries leaving back to back up to D (exact when the back end
 * was busy, the only case in which the FIFO fills; else conservative).
 * Returns the head's compute cycles (max of the front end's and the back
 * end's finish); *front_out gets the front end's finish. */
static double leo_rows(const struct leo_timing *m, const int32_t *kept, const int32_t *valid, int32_t q,
                       struct ap_fifo *fifo, const struct ap_tech *tech, struct leo_fifo_use *use,
                       double *front_out) {
    double tf = 0, D = 0; /* front end free; back end done with everything pushed */
    int in_fifo = 0;      /* the fifo's state is the real one (the previous row went entry by entry) */
    for (int32_t r = 0; r < q; r++) {
        const int32_t n = valid[r], k = kept[r];
        if (n <= 0) continue; /* no valid key: the row is not computed */
        const double F = leo_front(m, n, k), s = tf;
        double delay = 0;
        if (k > 0) {
            const double J = ceil((double)k / m->N), dt = (F - m->q_load) / J;
            const double a0 = s + m->q_load + dt, aL = s + F;
            const double nlast = k - (J - 1) * m->N;
            const double P0 = D > a0 ? cdiv(D - a0, m->c) : 0;
            const double bound = P0 + (m->N <= floor(dt / m->c) ? m->N : k);
            if (bound <= m->depth) {
                /* single server, no blocking: the last departure is the
                 * largest of "after everything before" and, per burst j,
                 * "burst j's arrival + the entries from j on"; affine in j,
                 * so the first or the last burst */
                D = dmax(D + k * m->c, dmax(a0 + k * m->c, aL + nlast * m->c)) + m->e;
                in_fifo = 0;
            } else {
                if (!in_fifo) {
                    ap_fifo_free(fifo);
                    if (ap_fifo_init(fifo, "score_fifo", m->depth, fifo->entry_bits, tech) != AP_OK) return -1;
                    const double p = P0 < m->depth ? P0 : m->depth;
                    for (double i = 0; i < p; i++) ap_fifo_push(fifo, D - (p - i) * m->c, m->c, NULL);
                    in_fifo = 1;
                }
                use->entry_rows++;
                int32_t left = k;
                for (int64_t j = 0; j < (int64_t)J; j++) {
                    const double a = s + m->q_load + (double)(j + 1) * dt;
                    const int32_t size = j + 1 < (int64_t)J ? m->N : (int32_t)nlast;
                    for (int32_t i = 0; i < size; i++) {
                        const double ready = a + delay;
                        const double serv = --left == 0 ? m->c + m->e : m->c;
                        double done;
                        const double enter = ap_fifo_push(fifo, ready, serv, &done);
                        if (enter > ready) delay += enter - ready;
                        D = done;
                    }
                }
                if (fifo->max_occupancy > use->max_occ) use->max_occ = fifo->max_occupancy;
            }
        }
        use->stall += delay;
        tf = s + F + delay;
    }
    *front_out = tf;
    return dmax(tf, D);
}

/* ------------------------------------------------------------ the run */

/* Mean front-end steps of a pruned score of head h: the method's own
 * steps_pruned when the trace was made with our b (its param B), else its
 * kbits_pruned / b, else fallback_kbits_pruned / b (noted). At least one
 * step, at most a kept score's. */
static double leo_pruned_steps(const struct ap_trace *t, int64_t h, const struct leo_cfg *c, struct ap_sim_report *r) {
    const double kept_steps = ceil((double)c->k_bits / c->b);
    if (!c->early_term) return kept_steps;
    const int32_t ip = ap_trace_head_stat(t, "pruned"), isp = ap_trace_head_stat(t, "steps_pruned"),
                  ikb = ap_trace_head_stat(t, "kbits_pruned");
    const double *st = t->head_stats + h * t->P;
    double steps = -1;
    if (ip >= 0 && st[ip] > 0) {
        if (isp >= 0 && ap_trace_param_num(t, "B", 0) == c->b) steps = st[isp] / st[ip];
        else if (ikb >= 0) {
            steps = st[ikb] / st[ip] / c->b;
            ap_sim_note(r, "pruned-score steps from kbits_pruned / %d (the trace's B differs or is missing)", c->b);
        }
    }
    if (steps < 0) {
        steps = c->fallback_kbits / c->b;
        if (ip < 0 || ikb < 0)
            ap_sim_note(r, "trace has no LEOPARD bit statistics: pruned scores read fallback_kbits_pruned = %g key bits",
                        c->fallback_kbits);
    }
    return steps < 1 ? 1 : steps > kept_steps ? kept_steps : steps;
}

enum ap_status ap_sim_leopard(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r) {
    struct leo_cfg c;
    enum ap_status st = leo_config(a, &c);
    if (st != AP_OK) return st;
    const struct ap_tech *tech = &a->tech;
    const int32_t d = t->d;
    const int prune = a->pruning != 0;
    /* the margin and its threshold test run every step only with early termination */
    const int margin = prune && c.early_term;

    struct ap_sram kbuf, vbuf;
    ap_sram_init(&kbuf, "key_buffer", c.key_kb * 1024, c.key_banks, c.port_bits, tech);
    ap_sram_init(&vbuf, "value_buffer", c.value_kb * 1024, c.value_banks, c.port_bits, tech);
    struct ap_dram dram;
    ap_dram_init(&dram, "dram", 1, c.dram_gbps, c.dram_tx, tech->dram_pj_per_bit, a->clock_hz);
    struct ap_pe_array qk, vpu;
    ap_pe_init(&qk, "qk_dpus", c.n_dpu * c.taps, c.q_bits, c.b, tech);
    ap_pe_init(&vpu, "v_pu", c.vpu_lanes, c.v_bits, c.v_bits, tech);
    struct ap_fifo score_fifo, idx_fifo;
    if ((st = ap_fifo_init(&score_fifo, "score_fifo", c.fifo_depth, c.score_bits, tech)) != AP_OK) return st;
    if ((st = ap_fifo_init(&idx_fifo, "index_fifo", c.fifo_depth, c.idx_bits, tech)) != AP_OK) {
        ap_fifo_free(&score_fifo);
        return st;
    }

    struct leo_timing m = {0};
    m.N = c.n_dpu;
    /* a step moves d·b key bits per DPU through the banks' ports and d taps */
    m.step = dmax(cdiv(d, c.taps), cdiv((double)d * c.b * c.n_dpu, (double)c.port_bits * c.key_banks));
    m.s_kept = ceil((double)c.k_bits / c.b) * m.step;
    m.q_load = c.q_load;
    m.c = dmax(cdiv(d, c.vpu_lanes), cdiv((double)d * c.v_bits, (double)c.port_bits * c.value_banks));
    m.e = c.recip + cdiv(d, c.vpu_lanes);
    m.depth = c.fifo_depth;
    /* keys one pass of the buffers holds; longer sequences go in key blocks */
    const double cap = floor(dmax(1, fmin(c.key_kb * 8192.0 / ((double)d * c.k_bits),
                                          c.value_kb * 8192.0 / ((double)d * c.v_bits))));

    int32_t *kept = malloc((size_t)(t->T > 0 ? t->T : 1) * sizeof *kept);
    int32_t *valid = malloc((size_t)(t->T > 0 ? t->T : 1) * sizeof *valid);
    double *tile_t = calloc((size_t)c.tiles, sizeof *tile_t);
    if (!kept || !valid || !tile_t) {
        free(kept), free(valid), free(tile_t), ap_fifo_free(&score_fifo), ap_fifo_free(&idx_fifo);
        return ap_error(AP_ERR_NOMEM, "leopard simulator: out of memory");
    }

    /* counted events, summed over heads */
    double steps = 0, scores = 0, kept_sum = 0, pruned_sum = 0, rows_kept = 0, q_bcast_bits = 0;
    double cycles = 0, stall_mem = 0, front_busy = 0, rows_all = 0;
    struct leo_fifo_use use = {0};
    double pruned_steps_w = 0, dram_busy = 0;
    for (int32_t n = 0; n < t->N && st == AP_OK; n++)
        for (int32_t l = 0; l < t->L; l++) {
            memset(tile_t, 0, (size_t)c.tiles * sizeof *tile_t);
            for (int32_t hh = 0; hh < t->H; hh++) {
                const int64_t h = ((int64_t)n * t->L + l) * t->H + hh;
                const int32_t q = ap_sim_head_rows(t, h, kept, valid);
                if (q <= 0) continue;
                int64_t nv = 0, nk = 0, n_rows = 0, n_rows_kept = 0;
                for (int32_t i = 0; i < q; i++) {
                    if (!prune) kept[i] = valid[i]; /* the baseline computes every valid pair */
                    nv += valid[i], nk += kept[i];
                    n_rows += valid[i] > 0, n_rows_kept += kept[i] > 0;
                }
                m.s_pruned = (prune ? leo_pruned_steps(t, h, &c, r) : ceil((double)c.k_bits / c.b)) * m.step;
                double front;
                const double hc = leo_rows(&m, kept, valid, q, &score_fifo, tech, &use, &front);
                if (hc < 0) {
                    st = ap_error(AP_ERR_NOMEM, "leopard simulator: out of memory");
                    break;
                }
                /* memory: K and V of the head into the buffers before any
                 * multiplication starts (§2.3.1), not overlapped; Q streamed
                 * in and outputs out during the compute (once per key block,
                 * partial outputs and sums spilled between blocks) */
                const int32_t keys = t->heads[h].keys;
                const double blocks = keys > 0 ? ceil(keys / cap) : 1;
                const double load = ap_dram_read(&dram, 1, (double)keys * d * c.k_bits / 8) +
                                    ap_dram_read(&dram, 1, (double)keys * d * c.v_bits / 8);
                double stream = ap_dram_read(&dram, blocks, (double)q * d * c.q_bits / 8) +
                                ap_dram_write(&dram, 1, (double)q * d * c.v_bits / 8);
                if (blocks > 1)
                    stream += ap_dram_write(&dram, blocks - 1, (double)q * (d * c.v_bits + c.acc_bits) / 8) +
                              ap_dram_read(&dram, blocks - 1, (double)q * (d * c.v_bits + c.acc_bits) / 8);
                const double mem_wait = ceil(load) + dmax(0, ceil(stream) - hc);
                tile_t[hh % c.tiles] += hc + mem_wait;
                stall_mem += mem_wait, dram_busy += ceil(load + stream);
                front_busy += front;
                ap_sram_write(&kbuf, (double)keys * d * c.k_bits / 8);
                ap_sram_write(&vbuf, (double)keys * d * c.v_bits / 8);
                /* front-end work: kept scores read every key bit, pruned ones
                 * their mean steps; step counts in units of b bits */
                const double pr = (double)(nv - nk);
                const double hsteps = (double)nk * ceil((double)c.k_bits / c.b) + pr * m.s_pruned / m.step;
                steps += hsteps, scores += (double)nv, kept_sum += (double)nk, pruned_sum += pr;
                pruned_steps_w += pr * m.s_pruned / m.step;
                rows_kept += (double)n_rows_kept;
                q_bcast_bits += (double)n_rows * d * c.q_bits * c.n_dpu;
                rows_all += (double)n_rows;
                ap_sram_read(&kbuf, hsteps * d * c.b / 8);
                ap_sram_read(&vbuf, (double)nk * d * c.v_bits / 8);
            }
            double layer = 0;
            for (int32_t i = 0; i < c.tiles; i++) layer = dmax(layer, tile_t[i]);
            cycles += layer; /* layers run one after the other; tiles split a layer's heads */
        }
    free(kept), free(valid), free(tile_t);
    if (st != AP_OK) {
        ap_fifo_free(&score_fifo), ap_fifo_free(&idx_fifo);
        return st;
    }

    /* ---- energy, per event (tech table at the configured node) ---------
     * QK-DPU step: d taps of q_bits × b (ap_tech_mac_pj), the shift-and-
     * accumulate of the partial sum (an acc_bits add) and its register.
     * With early termination every step also updates the margin (a shifted
     * subtraction: one add), adds it to the partial sum (one add), compares
     * with Th and latches the margin register; each score first forms the
     * margin's sum of |q_i| over sign-matching pairs (d − 1 adds of q_bits,
     * taken as d). Without it a pruning design compares once per score. */
    qk.macs = steps * d;
    qk.busy_cycles = steps * m.step / c.n_dpu;
    double step_pj = ap_tech_add_pj(tech, c.acc_bits) + c.acc_bits * tech->reg_pj_per_bit;
    if (margin) step_pj += 2 * ap_tech_add_pj(tech, c.acc_bits) + ap_tech_cmp_pj(tech, c.acc_bits) +
                           c.acc_bits * tech->reg_pj_per_bit;
    double score_pj = margin ? d * ap_tech_add_pj(tech, c.q_bits) : prune ? ap_tech_cmp_pj(tech, c.acc_bits) : 0;
    qk.extra_pj = steps * step_pj + scores * score_pj + q_bcast_bits * tech->reg_pj_per_bit;
    /* V-PU: d MACs per kept score; per row with kept scores d normalizing
     * multiplies (taken as MACs). Softmax: one exponential (1 KB LUT, as
     * table 2.2) and a score_bits add into the row sum per kept score, one
     * reciprocal per row. */
    vpu.macs = kept_sum * d;
    vpu.extra_pj = rows_kept * d * ap_tech_mac_pj(tech, c.v_bits, c.v_bits);
    vpu.busy_cycles = kept_sum * m.c + rows_kept * m.e;
    const double softmax_pj = kept_sum * (tech->exp_pj + ap_tech_add_pj(tech, c.score_bits)) + rows_kept * tech->div_pj;
    /* every kept score passes both FIFOs once, whether its row was simulated
     * entry by entry or in closed form (the re-seeded entries are not extra
     * scores): count them afresh */
    score_fifo.units = idx_fifo.units = 0;
    ap_fifo_book(&score_fifo, kept_sum);
    ap_fifo_book(&idx_fifo, kept_sum);

    ap_sim_energy(r, "qk_dpus", ap_pe_energy_pj(&qk));
    ap_sim_energy(r, "key_buffer", ap_sram_energy_pj(&kbuf));
    ap_sim_energy(r, "softmax", softmax_pj);
    ap_sim_energy(r, "v_pu", ap_pe_energy_pj(&vpu));
    ap_sim_energy(r, "value_buffer", ap_sram_energy_pj(&vbuf));
    ap_sim_energy(r, "fifos", ap_fifo_energy_pj(&score_fifo) + ap_fifo_energy_pj(&idx_fifo));
    /* §2.4.3: the paper's energies are compute and on-chip memory; DRAM is
     * booked only when [dram] book_energy = 1 (traffic is counted anyway) */
    if (c.dram_energy) ap_sim_energy(r, "dram", ap_dram_energy_pj(&dram));
    ap_fifo_free(&score_fifo), ap_fifo_free(&idx_fifo);

    r->cycles = cycles;
    r->stall_cycles = use.stall + stall_mem;
    r->dram_bytes = dram.bytes;
    r->sram_bytes = (kbuf.read_bits + kbuf.write_bits + vbuf.read_bits + vbuf.write_bits) / 8;
    ap_sim_busy(r, "qk_pu", front_busy);
    ap_sim_busy(r, "qk_dpus_mean", qk.busy_cycles);
    ap_sim_busy(r, "v_pu", vpu.busy_cycles);
    ap_sim_busy(r, "dram", dram_busy);
    /* the V-PU is the array the paper balances the design around (fig. 2.14) */
    r->utilization = ap_pe_utilization(&vpu, cycles * c.tiles);
    ap_sim_stat(r, "density", scores > 0 ? kept_sum / scores : 0);
    ap_sim_stat(r, "kbits_per_pruned", pruned_sum > 0 ? pruned_steps_w / pruned_sum * c.b : 0);
    ap_sim_stat(r, "qk_utilization", cycles > 0 ? qk.busy_cycles / (cycles * c.tiles) : 0);
    ap_sim_stat(r, "fifo_stall_cycles", use.stall);
    ap_sim_stat(r, "memory_stall_cycles", stall_mem);
    ap_sim_stat(r, "fifo_max_occupancy", use.max_occ);
    ap_sim_stat(r, "rows_simulated_by_entry", rows_all > 0 ? use.entry_rows / rows_all : 0);
    if (!t->rows && prune) ap_sim_note(r, "no rows.npy: kept keys spread evenly over each head's rows");
    return AP_OK;
}

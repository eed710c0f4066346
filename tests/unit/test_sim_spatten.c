/* test_sim_spatten.c — the SpAtten simulator (src/sim/spatten.c,
 * docs/sim/spatten.md): cycle counts of tiny traces against the model's
 * timing rules written out by hand, invariants (density, baseline, traffic
 * bound, the predictor's overhead at density 1), configuration errors.
 *
 * Timing rules used below (configs/spatten.ini, d = 64): Q·K takes
 * 512 / 64 = 8 keys per cycle, the softmax 16 scores per cycle, ×V 8 value
 * rows per cycle; pipeline depths Q·K 11, softmax 87, top-k 1, ×V 3; HBM
 * 16 × 32 B per cycle in 32-byte transactions; rows of 64 elements: query
 * 16 bits = 128 B, key 12 bits = 96 B (MSB 8 bits = 64 B, LSB 4 bits =
 * 32 B), value 8 bits = 64 B, output 16 bits = 128 B. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "sim/sim.h"
#include "sim_check.h"
#include "test.h"
#include "trace/synth.h"

/* Run configs/spatten.ini (and its baseline) on a synthetic trace. */
static int run_spec(const char *spec, struct ap_sim_report *r) {
    struct ap_trace t;
    char path[1024];
    ap_sc_config_path(path, sizeof path, "spatten.ini");
    if (ap_trace_synthesize(spec, &t) != AP_OK) {
        ap_test_fail(__FILE__, __LINE__, "synthesize %s: %s", spec, ap_last_error());
        return 0;
    }
    enum ap_status st = ap_sim_run(path, &t, r);
    ap_trace_free(&t);
    if (st != AP_OK) ap_test_fail(__FILE__, __LINE__, "sim %s: %s", spec, ap_last_error());
    return st == AP_OK;
}

/* Summarization, one head, nothing pruned, keys at full width (k_msb = 12:
 * no progressive quantization). Phase A brings S query, key and value rows
 * before the first row can finish Q·K; then one row enters Q·K every
 * ceil(S / 8) cycles and the last row drains through softmax and ×V:
 *   cycles = A + (S − 1)·ceil(S/8) + 11 + ceil(S/16) + 87 + ceil(S/8) + 3,
 *   A = S·(128 + 96 + 64) / 512.
 * A second head adds S·ceil(S/8): its phase A is fetched while the first
 * head computes. */
TEST(sim_spatten_summarization_cycles) {
    struct ap_sim_report r;
    for (int S = 64; S <= 128; S += 64) {
        char spec[128];
        snprintf(spec, sizeof spec, "S=%d,layers=1,heads=1,k_msb=12", S);
        REQUIRE(run_spec(spec, &r));
        double A = S * (128.0 + 96 + 64) / 512;
        double want = A + (S - 1) * ceil(S / 8.0) + 11 + ceil(S / 16.0) + 87 + ceil(S / 8.0) + 3;
        CHECK_NEAR(r.cycles, want, 1e-9);
        CHECK_NEAR(r.dram_bytes, S * (128.0 + 96 + 64 + 128), 1e-9);
        CHECK_NEAR(r.stall_cycles, A - ceil(S / 8.0), 1e-9); /* the first row waits for its keys */
        snprintf(spec, sizeof spec, "S=%d,layers=1,heads=2,k_msb=12", S);
        REQUIRE(run_spec(spec, &r));
        CHECK_NEAR(r.cycles, want + S * ceil(S / 8.0), 1e-9);
    }
    /* two layers: the pipeline drains at the layer boundary, so twice one layer */
    REQUIRE(run_spec("S=64,layers=2,heads=1,k_msb=12", &r));
    CHECK_NEAR(r.cycles, 2 * (36 + 63 * 8 + 11 + 4 + 87 + 8 + 3), 1e-9);
}

/* Generation step: one query against S cached keys. Memory bound: Q·K (S/8
 * cycles) finishes when phase A (query, keys, values) has arrived, then
 * softmax, ×V and the depths:
 *   cycles = A + 11 + S/16 + 87 + S/8 + 3,  A = (128 + S·(96 + 64)) / 512.
 * With half the values pruned locally, phase A carries no values; the
 * top-k engine selects them (median-pivot estimate over S candidates:
 * Σ_rounds ceil(m/16) + 3, m = S, S/2, ..., 2), phase B fetches the S/2
 * value rows chosen (and writes the 128-byte output) and ×V waits for it:
 *   cycles = A' + 11 + S/16 + 87 + topk + 1 + B + S/16 + 3,
 *   A' = (128 + 96 S) / 512,  B = (64 · S/2 + 128) / 512. */
TEST(sim_spatten_generation_cycles) {
    struct ap_sim_report r;
    const double S = 1024;
    REQUIRE(run_spec("S=1024,queries=1,layers=1,heads=1,k_msb=12", &r));
    CHECK_NEAR(r.cycles, (128 + S * 160) / 512 + 11 + S / 16 + 87 + S / 8 + 3, 1e-9);
    REQUIRE(run_spec("S=1024,queries=1,layers=1,heads=1,k_msb=12,value_prune=0.5", &r));
    double topk = 0;
    for (double m = S; m > 1; m /= 2) topk += ceil(m / 16) + 3;
    CHECK_NEAR(topk, 160, 0); /* 64+32+16+8+4+2+1+1+1+1 + 10 rounds x 3 */
    double want = (128 + S * 96) / 512 + 11 + S / 16 + 87 + topk + 1 + (64 * S / 2 + 128) / 512 + S / 16 + 3;
    CHECK_NEAR(r.cycles, want, 1e-9);
    CHECK_NEAR(ap_sim_report_stat(&r, "values_pruned"), 0.5, 1e-12);
    CHECK_NEAR(ap_sim_report_stat(&r, "topk_cycles"), topk, 0);
    /* progressive quantization, every row requantized: MSBs (64 B) in phase A,
     * LSBs (32 B) fetched after the row's decision leaves the softmax (depth
     * 87 + 1 for the decision), as many bytes as full keys; then the row goes
     * through Q·K and the softmax again (their occupancy counted twice in the
     * first pass, their depths 11 + 88 added after the LSBs):
     *   cycles = max(A, 2S/8) + 11 + 2S/16 + 88 + LSB + 11 + 88 + S/8 + 3 */
    REQUIRE(run_spec("S=1024,queries=1,layers=1,heads=1,k_msb=8,requant=1", &r));
    CHECK_NEAR(r.dram_bytes, r.baseline_dram_bytes, 0);
    CHECK_NEAR(ap_sim_report_stat(&r, "key_bits_effective"), 12, 0);
    double a2 = (128 + S * (64 + 64)) / 512, lsb = 32 * S / 512;
    CHECK_NEAR(r.cycles, fmax(a2, 2 * S / 8) + 11 + 2 * S / 16 + 88 + lsb + 11 + 88 + S / 8 + 3, 1e-9);
    /* MSBs only: 8 effective bits, a third less key traffic */
    REQUIRE(run_spec("S=1024,queries=1,layers=1,heads=1,k_msb=8", &r));
    CHECK_NEAR(ap_sim_report_stat(&r, "key_bits_effective"), 8, 0);
    CHECK_NEAR(r.baseline_dram_bytes - r.dram_bytes, S * 32, 0);
}

/* A denser trace never takes less energy, nor fewer cycles while local
 * value pruning is on. Summarization heads (more than one query row) do not
 * prune values locally, so there density changes nothing at all.
 * Generation steps fetch and multiply more value rows as density grows; at
 * density 1 value pruning is off: no top-k, and the value rows come with
 * the keys in phase A instead of after the head's top-k decision, which
 * can make density 1 faster than 0.9 (the generation closed forms above
 * give both chains). Energy and traffic stay monotone there. */
TEST(sim_spatten_denser_costs_more) {
    const double dens[] = {0.1, 0.25, 0.5, 0.75, 0.9, 1.0};
    const char *shapes[] = {"S=128,layers=2,heads=2", "S=512,layers=2,heads=2,queries=1",
                            "S=2048,layers=3,heads=4,queries=1,token_prune=0.2,head_prune=0.2,requant=0.5",
                            "S=256,layers=3,heads=4,token_prune=0.2,head_prune=0.2,causal=1"};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        double prev_c = 0, prev_e = 0, first_c = 0, prev_b = 0, c_below1 = 0;
        for (size_t i = 0; i < sizeof dens / sizeof dens[0]; i++) {
            char spec[256];
            struct ap_sim_report r;
            snprintf(spec, sizeof spec, "%s,density=%g", shapes[k], dens[i]);
            REQUIRE(run_spec(spec, &r));
            int boundary = dens[i] == 1.0 && strstr(shapes[k], "queries=1") != NULL;
            if (!boundary && !(r.cycles >= prev_c))
                ap_test_fail(__FILE__, __LINE__, "%s: %.0f cycles < %.0f at the lower density", spec, r.cycles, prev_c);
            if (!(r.energy_pj >= prev_e))
                ap_test_fail(__FILE__, __LINE__, "%s: %.6g pJ < %.6g at the lower density", spec, r.energy_pj, prev_e);
            if (i == 0) first_c = r.cycles;
            if (dens[i] < 1) c_below1 = r.cycles;
            if (dens[i] == 1.0 && prev_b > 0 && !(r.dram_bytes >= prev_b))
                ap_test_fail(__FILE__, __LINE__, "%s: fewer bytes than at the lower density", spec);
            prev_b = r.dram_bytes;
            prev_c = r.cycles, prev_e = r.energy_pj;
        }
        /* generation steps: density matters (value rows fetched) */
        if (strstr(shapes[k], "queries=1")) CHECK(c_below1 > first_c);
        else CHECK(prev_c == first_c);
    }
}

/* At density 1 with nothing pruned and no progressive quantization,
 * SpAtten differs from its baseline only by its predictor's
 * overhead: the importance accumulators, one 16-bit add per scored pair
 * (token importance, Σ of probabilities per key) and one per output element
 * (head importance, Σ |O|). They work beside the softmax and ×V, so the
 * cycles, traffic and every other component are identical. */
TEST(sim_spatten_density1_overhead) {
    /* summarization heads ignore the synthetic trace's progressive
     * quantization (default k_msb = 8: a generation-stage technique); a
     * generation step needs k_msb = k_bits to have none */
    const char *specs[] = {"S=128,layers=2,heads=3", "S=96,layers=2,heads=2,causal=1,k_msb=12",
                           "S=512,queries=1,layers=2,heads=2,k_msb=12"};
    char path[1024];
    ap_sc_config_path(path, sizeof path, "spatten.ini");
    struct ap_sim_arch a;
    REQUIRE(ap_sim_arch_load(path, &a) == AP_OK);
    double add16 = ap_tech_add_pj(&a.tech, 16);
    ap_sim_arch_free(&a);
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        struct ap_trace t;
        REQUIRE(ap_trace_synthesize(specs[k], &t) == AP_OK);
        double pairs = 0, rows = 0;
        for (int64_t h = 0; h < (int64_t)t.N * t.L * t.H; h++) pairs += (double)t.heads[h].valid, rows += t.heads[h].queries;
        double want = (pairs + rows * t.d) * add16;
        ap_trace_free(&t);
        struct ap_sim_report r;
        REQUIRE(run_spec(specs[k], &r));
        CHECK_NEAR(r.cycles, r.baseline_cycles, 0);
        CHECK_NEAR(r.dram_bytes, r.baseline_dram_bytes, 0);
        CHECK_NEAR(ap_sim_report_energy(&r, "importance"), want, want * 1e-12);
        CHECK_NEAR(r.energy_pj - r.baseline_energy_pj, want, want * 1e-9);
    }
}

/* HBM traffic never exceeds the no-reuse bound: every query row fetches
 * every key it scores at full width and every value it keeps, plus its
 * query and output rows. Includes heads too large for the key SRAM
 * (streamed per row) and both runs. */
TEST(sim_spatten_traffic_bound) {
    const char *specs[] = {"S=256,layers=3,heads=4,token_prune=0.3,head_prune=0.2,density=0.5",
                           "S=1024,queries=1,layers=2,heads=3,value_prune=0.6,requant=0.5",
                           "S=2048,layers=1,heads=1,k_msb=12", "S=200,layers=2,heads=2,causal=1,padding=0.2"};
    int32_t *kept = malloc(sizeof(int32_t) * 4096), *valid = malloc(sizeof(int32_t) * 4096);
    REQUIRE(kept && valid);
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        struct ap_trace t;
        REQUIRE(ap_trace_synthesize(specs[k], &t) == AP_OK);
        double bound = 0, full_keys = 0;
        for (int64_t h = 0; h < (int64_t)t.N * t.L * t.H; h++) {
            int32_t q = ap_sim_head_rows(&t, h, kept, valid);
            for (int32_t i = 0; i < q; i++) bound += 128 + 128 + valid[i] * 96.0 + kept[i] * 64.0;
            if (t.heads[h].keys > full_keys) full_keys = t.heads[h].keys;
        }
        /* the baseline computes every head on the unpruned sequence */
        double rows_full = t.heads[0].queries, pairs_full = (double)t.heads[0].valid;
        double base_bound = (double)t.L * t.H * (rows_full * 256 + pairs_full * (96.0 + 64));
        ap_trace_free(&t);
        struct ap_sim_report r;
        REQUIRE(run_spec(specs[k], &r));
        if (!(r.dram_bytes <= bound))
            ap_test_fail(__FILE__, __LINE__, "%s: %.0f bytes > no-reuse bound %.0f", specs[k], r.dram_bytes, bound);
        if (!(r.baseline_dram_bytes <= base_bound))
            ap_test_fail(__FILE__, __LINE__, "%s: baseline %.0f bytes > %.0f", specs[k], r.baseline_dram_bytes, base_bound);
    }
    /* the 2048-key head does not fit half of the 196 KB key SRAM (192 KB of
     * keys): it is streamed, and then the bound is met exactly */
    struct ap_sim_report r;
    REQUIRE(run_spec("S=2048,layers=1,heads=1,k_msb=12", &r));
    CHECK_NEAR(r.dram_bytes, 2048.0 * (128 + 128 + 2048 * (96.0 + 64)), 0);
    CHECK(strstr(r.notes, "streamed") != NULL);
    free(kept), free(valid);
}

/* The baseline computes every token and head at full width whatever the
 * trace pruned: its cycles, energy and traffic do not depend on density,
 * token / head / value pruning or progressive quantization. */
TEST(sim_spatten_baseline_independent) {
    const char *specs[] = {"S=256,layers=3,heads=4", "S=256,layers=3,heads=4,density=0.3",
                           "S=256,layers=3,heads=4,token_prune=0.4,head_prune=0.3",
                           "S=256,layers=3,heads=4,value_prune=0.5,requant=0.3,k_msb=6,density=0.7"};
    struct ap_sim_report r0, r;
    REQUIRE(run_spec(specs[0], &r0));
    for (size_t k = 1; k < sizeof specs / sizeof specs[0]; k++) {
        REQUIRE(run_spec(specs[k], &r));
        CHECK_NEAR(r.baseline_cycles, r0.baseline_cycles, 0);
        CHECK_NEAR(r.baseline_energy_pj, r0.baseline_energy_pj, r0.baseline_energy_pj * 1e-12);
        CHECK_NEAR(r.baseline_dram_bytes, r0.baseline_dram_bytes, 0);
    }
}

/* Cascade token pruning is quadratic in summarization: with every layer's
 * heads on l_t tokens the compute part of a layer is l_t·ceil(l_t/8)
 * cycles per head (plus the phase A of the first head, the drain and the
 * top-k engine between layers, each bounded here), so the speedup over the
 * baseline follows Σ S·ceil(S/8) / Σ l_t·ceil(l_t/8). */
TEST(sim_spatten_token_pruning_speedup) {
    struct ap_trace t;
    REQUIRE(ap_trace_synthesize("S=512,layers=6,heads=4,token_prune=0.3,k_msb=12", &t) == AP_OK);
    double full = 0, pruned = 0;
    for (int32_t l = 0; l < t.L; l++) {
        double n = t.tokens_active[l];
        full += 512.0 * ceil(512 / 8.0) * t.H, pruned += n * ceil(n / 8) * t.H;
    }
    ap_trace_free(&t);
    struct ap_sim_report r;
    REQUIRE(run_spec("S=512,layers=6,heads=4,token_prune=0.3,k_msb=12", &r));
    CHECK_NEAR(r.speedup_vs_baseline, full / pruned, 0.02 * full / pruned);
    CHECK(r.cycles > pruned && r.baseline_cycles > full);
    CHECK_NEAR(ap_sim_report_stat(&r, "tokens_pruned"), 0.3, 0.01);
}

/* Configuration errors name the file, the section and the key. */
TEST(sim_spatten_config_errors) {
    const char *cases[][2] = {
        {"qk_multiplierz = 512\n", "qk_multiplierz"},
        {"qk_multipliers = 0\n", "qk_multipliers"},
        {"dram_gbps_per_channel = fast\n", "dram_gbps_per_channel"},
        {"key_msb_bits = 13\n", "key_msb_bits"},
        {"fifo_rows = 1000\n", "fifo_rows"},
    };
    struct ap_trace t;
    REQUIRE(ap_trace_synthesize("S=32,layers=1,heads=1", &t) == AP_OK);
    char dir[] = "/tmp/ap_test_sim_spatten_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char path[1100];
    snprintf(path, sizeof path, "%s/bad.ini", dir);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        FILE *f = fopen(path, "w");
        REQUIRE(f);
        fprintf(f, "[arch]\nkind = spatten\nclock_mhz = 1000\nnode_nm = 40\n[spatten]\n%s", cases[k][0]);
        fclose(f);
        struct ap_sim_report r;
        enum ap_status st = ap_sim_run(path, &t, &r);
        CHECK(st != AP_OK);
        const char *msg = ap_last_error();
        if (!strstr(msg, cases[k][1]) || !strstr(msg, "bad.ini"))
            ap_test_fail(__FILE__, __LINE__, "'%s': message '%s' does not name the key and file", cases[k][0], msg);
        if (k != 0 && !strstr(msg, "spatten"))
            ap_test_fail(__FILE__, __LINE__, "'%s': message '%s' does not name the section", cases[k][0], msg);
    }
    /* the shipped configurations load and run */
    struct ap_sim_report r;
    CHECK(run_spec("S=32,layers=1,heads=1", &r));
    CHECK(strcmp(r.baseline, "spatten-baseline") == 0);
    remove(path);
    rmdir(dir);
    ap_trace_free(&t);
}

/* A trace of SpAtten's own method (built in memory): its statistics are used
 * as they are. One generation step of 1,024 keys, 512 values kept (kept
 * already excludes the pruned ones), the engine's own count of 200 cycles,
 * 8-bit MSBs and no requantization; then a second layer after a token
 * decision the method counted as 50 cycles:
 *   layer 1: A + 11 + 64 + 87 + 1 + 200 + 1 + V + 64 + 3,
 *            A = (128 + 64·1024) / 512, V = (64·512 + 128) / 512;
 *   layer 2 (after the 50 cycles) on 600 keys, 300 values, 100 cycles. */
static void own_trace(struct ap_trace *t) {
    static const char *hs[] = {"rows", "v_pruned", "v_topk_rounds", "v_topk_cycles", "pq_rows", "pq_requant_rows",
                               "pq_key_bits"};
    static const char *ls[] = {"token_topk_rounds", "token_topk_cycles", "head_topk_rounds", "head_topk_cycles"};
    memset(t, 0, sizeof *t);
    snprintf(t->model, sizeof t->model, "test");
    snprintf(t->method, sizeof t->method, "spatten");
    t->L = 2, t->H = 1, t->d = 64, t->D = 64, t->N = 1, t->T = 1024, t->causal = 1;
    t->n_params = 2, t->P = 7, t->Q = 4;
    t->param_keys = calloc(2, sizeof *t->param_keys);
    t->param_values = calloc(2, sizeof *t->param_values);
    snprintf(t->param_keys[0], AP_TRACE_NAME_MAX, "key_bits"), snprintf(t->param_values[0], AP_TRACE_VALUE_MAX, "12");
    snprintf(t->param_keys[1], AP_TRACE_NAME_MAX, "msb_bits"), snprintf(t->param_values[1], AP_TRACE_VALUE_MAX, "8");
    t->head_stat_names = calloc(7, sizeof *t->head_stat_names);
    t->layer_stat_names = calloc(4, sizeof *t->layer_stat_names);
    for (int i = 0; i < 7; i++) snprintf(t->head_stat_names[i], AP_TRACE_NAME_MAX, "%s", hs[i]);
    for (int i = 0; i < 4; i++) snprintf(t->layer_stat_names[i], AP_TRACE_NAME_MAX, "%s", ls[i]);
    t->heads = calloc(2, sizeof *t->heads);
    t->head_stats = calloc(14, sizeof *t->head_stats);
    t->tokens_active = calloc(2, sizeof *t->tokens_active);
    t->heads_active = calloc(2, sizeof *t->heads_active);
    t->layer_stats = calloc(8, sizeof *t->layer_stats);
    t->heads[0] = (struct ap_trace_head){1, 1024, 1024, 512};
    t->heads[1] = (struct ap_trace_head){1, 600, 600, 300};
    const double st0[7] = {1, 512, 7, 200, 1, 0, 8}, st1[7] = {1, 300, 6, 100, 1, 0, 8};
    memcpy(t->head_stats, st0, sizeof st0), memcpy(t->head_stats + 7, st1, sizeof st1);
    t->tokens_active[0] = 1024, t->tokens_active[1] = 600, t->heads_active[0] = t->heads_active[1] = 1;
    t->layer_stats[0] = 5, t->layer_stats[1] = 50; /* layer 0's token decision */
}

TEST(sim_spatten_own_trace_statistics) {
    struct ap_trace t;
    own_trace(&t);
    REQUIRE(t.heads && t.head_stats && t.layer_stats && t.param_keys);
    char path[1024];
    ap_sc_config_path(path, sizeof path, "spatten.ini");
    struct ap_sim_report r;
    enum ap_status st = ap_sim_run(path, &t, &r);
    ap_trace_free(&t);
    REQUIRE(st == AP_OK);
    double l1 = (128 + 64 * 1024.0) / 512 + 11 + 64 + 87 + 1 + 200 + 1 + (64 * 512.0 + 128) / 512 + 64 + 3;
    double l2 = (128 + 64 * 600.0) / 512 + 11 + ceil(600 / 16.0) + 87 + 1 + 100 + 1 + (64 * 300.0 + 128) / 512 +
                ceil(300 / 8.0) + 3;
    CHECK_NEAR(r.cycles, l1 + 50 + l2, 1e-9);
    CHECK_NEAR(ap_sim_report_stat(&r, "topk_cycles"), 200 + 50 + 100, 0);
    CHECK_NEAR(ap_sim_report_stat(&r, "key_bits_effective"), 8, 0);
    CHECK_NEAR(ap_sim_report_stat(&r, "values_pruned"), 1 - 812.0 / 1624, 1e-12);
    CHECK(strstr(r.notes, "estimated") == NULL);
    /* the baseline: both layers on the 1,024 keys, full width, every value */
    double b1 = (128 + 160 * 1024.0) / 512 + 11 + 64 + 87 + 128 + 3;
    CHECK_NEAR(r.baseline_cycles, 2 * b1, 1e-9);
}

/* test_sim_hammer.c — the HAMMER / ELSA-like / baseline simulator
 * (src/sim/hammer.c): cycle counts of tiny traces against the closed forms
 * of docs/sim/hammer.md, invariants (monotone in density, the predictor's
 * exact overhead at density 1, the no-reuse traffic bound, a baseline blind
 * to density), configuration errors, and the shipped configurations.
 *
 * Legend: S = tokens, d = head dimension, H = heads. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/sim.h"
#include "sim_check.h"
#include "test.h"

/* ------------------------------------------------------------ fixtures */

/* A trace of one layer, H heads of S queries over S keys, d = 64, every
 * head keeping kept_per_row keys in every row (no rows.npy: the framework
 * spreads kept evenly, which is exact here). stat_mean >= 0 adds HAMMER's
 * mean_ops statistic with that value for every head. */
#define MAX_H 4
struct fixture {
    struct ap_trace t;
    struct ap_trace_head heads[MAX_H];
    char stat_names[1][AP_TRACE_NAME_MAX];
    double stats[MAX_H];
};

static void fixture_init(struct fixture *f, int32_t S, int32_t H, int32_t kept_per_row, double stat_mean) {
    memset(f, 0, sizeof *f);
    snprintf(f->t.model, sizeof f->t.model, "tiny");
    snprintf(f->t.method, sizeof f->t.method, "%s", stat_mean >= 0 ? "hammer" : "synthetic");
    f->t.L = 1, f->t.H = H, f->t.d = 64, f->t.D = 64 * H, f->t.N = 1, f->t.T = S;
    f->t.heads = f->heads;
    for (int32_t h = 0; h < H; h++) {
        f->heads[h].queries = S, f->heads[h].keys = S;
        f->heads[h].valid = (int64_t)S * S, f->heads[h].kept = (int64_t)S * kept_per_row;
        f->stats[h] = stat_mean;
    }
    if (stat_mean >= 0) {
        snprintf(f->stat_names[0], AP_TRACE_NAME_MAX, "mean_ops");
        f->t.P = 1, f->t.head_stat_names = f->stat_names, f->t.head_stats = f->stats;
    }
}

/* The test configuration: the shipped hammer.ini's datapath, with DRAM at
 * 64 GB/s = 64 bytes per cycle at 1 GHz so loads are easy to count. */
static const char *const k_cfg_body = "[compute]\n"
                                      "data_bits = 16\npairs = 4\ntaps = 64\nrow_epilogue = 1\n"
                                      "[memory]\n"
                                      "dram_gbps = 64\ndram_channels = 1\ntransaction_bytes = 64\n"
                                      "kv_buffer_kb = 64\nkv_banks = 4\nkv_port_bits = 1024\n";

static char g_dir[256];

/* Write a configuration (arch lines + [hammer] lines + the body + extra)
 * to a file in a private folder; returns its path (static buffer). */
static const char *write_cfg(const char *name, int pruning, const char *predictor, const char *extra) {
    static char path[512];
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/ap_sim_hammer_%ld", (long)getpid());
        if (mkdir(g_dir, 0700) != 0 && access(g_dir, W_OK) != 0) return NULL;
    }
    snprintf(path, sizeof path, "%s/%s.ini", g_dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fprintf(f,
            "[arch]\nkind = hammer\npruning = %d\nclock_mhz = 1000\nnode_nm = 65\n"
            "[hammer]\npredictor = %s\napprox_pairs = 32\napprox_taps = 64\nselect_pairs = 32\n"
            "mean_lanes = 64\nscore_bits = 16\nscore_rows = 2\nmask_rows = 4\napprox_tokens = 512\n"
            "[elsa]\nhash_bits = 64\ncycles_per_key = 1\n%s%s",
            pruning, predictor, k_cfg_body, extra ? extra : "");
    fclose(f);
    return path;
}

static double report_stat(const struct ap_sim_report *r, const char *name) {
    for (int32_t i = 0; i < r->n_stats; i++)
        if (strcmp(r->stat_names[i], name) == 0) return r->stats[i];
    return -1;
}

/* Timing rules of docs/sim/hammer.md for one head of S rows, d = 64, B = 16
 * (a row is 128 bytes = 2 DRAM transactions), at 64 bytes per DRAM cycle:
 *   load  = 3·S·128 / 64 = 6·S      (Q, K, V)
 *   write = S·128 / 64   = 2·S      (O, after the last head)
 *   HAMMER mean pass = 2·S (accumulate, then centre and quantize)
 *   A = ceil(S / 32), C = ceil(S / 32) + 1, E = ceil(k / 4) + 1
 * one head: load + prep + A + C + S·E + write when E >= A, C (compute
 * bound); load + prep + A + S·C + E + write when C > E (select bound). */

/* ------------------------------------------------------------ closed forms */

TEST(sim_hammer_cycles_compute_bound) {
    struct fixture f;
    fixture_init(&f, 64, 1, 16, -1); /* density 1/4 */
    struct ap_sim_report r;
    const char *cfg = write_cfg("hammer", 1, "hammer", NULL);
    REQUIRE(cfg);
    CHECK_STATUS(ap_sc_run_file(cfg, &f.t, &r), AP_OK);
    const double load = 6 * 64, write = 2 * 64, prep = 2 * 64, A = 2, C = 3, E = 16 / 4 + 1;
    CHECK_NEAR(r.cycles, load + prep + A + C + 64 * E + write, 0);
    CHECK_NEAR(report_stat(&r, "density"), 0.25, 1e-12);
    CHECK_NEAR(report_stat(&r, "mean_share"), prep / r.cycles, 1e-12);
    /* the first head's load is a memory stall; nothing else waits on memory */
    CHECK_NEAR(report_stat(&r, "memory_stall"), load, 0);
    /* utilization: 2·d MACs per kept pair over 512 lanes */
    CHECK_NEAR(r.utilization, 64.0 * 16 * 128 / (512.0 * r.cycles), 1e-12);
}

TEST(sim_hammer_cycles_select_bound) {
    struct fixture f;
    fixture_init(&f, 128, 1, 1, -1); /* one kept key per row */
    struct ap_sim_report r;
    const char *cfg = write_cfg("hammer", 1, "hammer", NULL);
    REQUIRE(cfg);
    CHECK_STATUS(ap_sc_run_file(cfg, &f.t, &r), AP_OK);
    const double load = 6 * 128, write = 2 * 128, prep = 2 * 128, A = 4, C = 5, E = 1 + 1;
    CHECK_NEAR(r.cycles, load + prep + A + 128 * C + E + write, 0);
    /* the compute unit waits on selection, which never waits on it */
    CHECK(report_stat(&r, "pipeline_stall") > 0); /* the score stage is held by the score buffer */
}

TEST(sim_hammer_cycles_baseline_and_elsa) {
    struct fixture f;
    fixture_init(&f, 64, 1, 16, -1);
    struct ap_sim_report r;
    const char *base = write_cfg("base", 0, "hammer", NULL);
    REQUIRE(base);
    CHECK_STATUS(ap_sc_run_file(base, &f.t, &r), AP_OK);
    /* every valid pair: E = ceil(64 / 4) + 1 = 17, no predictor */
    CHECK_NEAR(r.cycles, 6 * 64 + 64 * 17 + 2 * 64, 0);
    CHECK_NEAR(ap_sim_report_energy(&r, "approx_score"), 0, 0); /* no such unit: not booked */
    const char *elsa = write_cfg("elsa", 1, "elsa", NULL);
    REQUIRE(elsa);
    CHECK_STATUS(ap_sc_run_file(elsa, &f.t, &r), AP_OK);
    /* ELSA: one hash/norm pass (S cycles), estimate+compare fused (C = 0) */
    CHECK_NEAR(r.cycles, 6 * 64 + 64 + 2 + 64 * 5 + 2 * 64, 0);
    CHECK(ap_sim_report_energy(&r, "hash_unit") > 0);
    CHECK_NEAR(report_stat(&r, "mean_share"), 0, 0);
}

TEST(sim_hammer_mean_off_from_trace) {
    /* a HAMMER trace whose mean_ops is 0 (mean=0): keys are coded as they
     * arrive from DRAM, no pass over K */
    struct fixture f;
    fixture_init(&f, 64, 1, 16, 0.0);
    struct ap_sim_report r;
    const char *cfg = write_cfg("hammer", 1, "hammer", NULL);
    REQUIRE(cfg);
    CHECK_STATUS(ap_sc_run_file(cfg, &f.t, &r), AP_OK);
    CHECK_NEAR(r.cycles, 6 * 64 + 2 + 3 + 64 * 5 + 2 * 64, 0);
    CHECK_NEAR(report_stat(&r, "mean_share"), 0, 0);
    CHECK(strstr(r.notes, "mean redistribution assumed") == NULL);
    fixture_init(&f, 64, 1, 16, 2.0 * 64 * 64); /* mean on, said by the trace */
    CHECK_STATUS(ap_sc_run_file(cfg, &f.t, &r), AP_OK);
    CHECK_NEAR(r.cycles, 6 * 64 + 128 + 2 + 3 + 64 * 5 + 2 * 64, 0);
}

/* ------------------------------------------------------------ invariants */

TEST(sim_hammer_monotone_in_density) {
    const char *preds[] = {"hammer", "elsa"};
    for (int p = 0; p < 2; p++) {
        const char *cfg = write_cfg(preds[p], 1, preds[p], NULL);
        REQUIRE(cfg);
        double prev_c = -1, prev_e = -1;
        for (int32_t k = 0; k <= 128; k += 4) {
            struct fixture f;
            fixture_init(&f, 128, 2, k, -1);
            struct ap_sim_report r;
            CHECK_STATUS(ap_sc_run_file(cfg, &f.t, &r), AP_OK);
            CHECK(r.cycles >= prev_c);
            CHECK(r.energy_pj >= prev_e);
            if (r.cycles < prev_c || r.energy_pj < prev_e) ap_test_fail(__FILE__, __LINE__, "%s at k = %d", preds[p], k);
            prev_c = r.cycles, prev_e = r.energy_pj;
        }
    }
}

TEST(sim_hammer_density_one_overhead) {
    /* at density 1 HAMMER computes what the baseline computes; the
     * difference is exactly its predictor: per head the two passes over K
     * (2·S cycles) and the pipeline fill of the first row (A + C cycles),
     * as long as neither the approximation stages nor DRAM set the pace;
     * in energy, the predictor's components, while compute and DRAM energy
     * are the same */
    const int32_t S = 128, H = 3;
    struct fixture f;
    fixture_init(&f, S, H, S, -1);
    struct ap_sim_report rh, rb;
    const char *base = write_cfg("base", 0, "hammer", NULL);
    REQUIRE(base);
    CHECK_STATUS(ap_sc_run_file(base, &f.t, &rb), AP_OK);
    const char *cfg = write_cfg("hammer", 1, "hammer", NULL);
    REQUIRE(cfg);
    CHECK_STATUS(ap_sc_run_file(cfg, &f.t, &rh), AP_OK);
    const double A = 4, C = 5;
    CHECK_NEAR(rh.cycles - rb.cycles, H * (2.0 * S + A + C), 0);
    CHECK_NEAR(ap_sim_report_energy(&rh, "compute"), ap_sim_report_energy(&rb, "compute"), 1e-6 * ap_sim_report_energy(&rb, "compute"));
    CHECK_NEAR(ap_sim_report_energy(&rh, "dram"), ap_sim_report_energy(&rb, "dram"), 0);
    CHECK_NEAR(rh.dram_bytes, rb.dram_bytes, 0);
    double predictor = ap_sim_report_energy(&rh, "mean_unit") + ap_sim_report_energy(&rh, "approx_score") +
                       ap_sim_report_energy(&rh, "candidate_select") + ap_sim_report_energy(&rh, "approx_buffers");
    /* plus the mean passes' extra reads of the K buffer */
    double kreads = ap_sim_report_energy(&rh, "qkvo_buffers") - ap_sim_report_energy(&rb, "qkvo_buffers");
    CHECK(kreads > 0);
    CHECK_NEAR(rh.energy_pj - rb.energy_pj, predictor + kreads, 1e-9 * rh.energy_pj);
    CHECK(predictor > 0);
}

TEST(sim_hammer_traffic_no_reuse_bound) {
    /* a design without on-chip reuse reads each query row once, a key row
     * for every valid pair (the predictor looks at every valid pair), a
     * value row for every kept pair, and writes each output row: HAMMER
     * never moves more; it moves exactly Q + K + V + O here */
    const char *preds[] = {"hammer", "elsa"};
    for (int p = 0; p < 2; p++) {
        const char *cfg = write_cfg(preds[p], 1, preds[p], NULL);
        REQUIRE(cfg);
        for (int32_t k = 1; k <= 64; k *= 2) {
            struct fixture f;
            fixture_init(&f, 64, 2, k, -1);
            struct ap_sim_report r;
            CHECK_STATUS(ap_sc_run_file(cfg, &f.t, &r), AP_OK);
            const double row = 128, H = 2, S = 64;
            double bound = H * (S * row + S * S * row + S * k * row + S * row);
            CHECK(r.dram_bytes <= bound);
            CHECK_NEAR(r.dram_bytes, H * 4 * S * row, 0);
        }
    }
}

TEST(sim_hammer_baseline_ignores_density) {
    const char *base = write_cfg("base", 0, "hammer", NULL);
    REQUIRE(base);
    struct ap_sim_report r0, r;
    struct fixture f;
    fixture_init(&f, 128, 2, 128, -1);
    CHECK_STATUS(ap_sc_run_file(base, &f.t, &r0), AP_OK);
    for (int32_t k = 0; k < 128; k += 9) {
        fixture_init(&f, 128, 2, k, -1);
        CHECK_STATUS(ap_sc_run_file(base, &f.t, &r), AP_OK);
        CHECK_NEAR(r.cycles, r0.cycles, 0);
        CHECK_NEAR(r.energy_pj, r0.energy_pj, 0);
        CHECK_NEAR(r.dram_bytes, r0.dram_bytes, 0);
    }
}

/* ------------------------------------------------------------ configuration */

TEST(sim_hammer_config_errors) {
    struct fixture f;
    fixture_init(&f, 64, 1, 16, -1);
    struct ap_sim_report r;
    /* an unknown key in our section */
    const char *cfg = write_cfg("bad1", 1, "hammer", "[hammer]\naprox_pairs = 8\n");
    REQUIRE(cfg);
    /* (the misspelt key sits in a second [hammer] block; blocks of one
     * section merge) */
    enum ap_status st = ap_sc_run_file(cfg, &f.t, &r);
    CHECK(st != AP_OK);
    CHECK(strstr(ap_last_error(), "aprox_pairs") != NULL);
    cfg = write_cfg("bad2", 1, "hammer", "[elsa]\nhash_bitz = 3\n");
    REQUIRE(cfg);
    CHECK(ap_sc_run_file(cfg, &f.t, &r) != AP_OK);
    CHECK(strstr(ap_last_error(), "hash_bitz") != NULL);
    /* a value out of range, and a predictor we do not model */
    char path[512];
    snprintf(path, sizeof path, "%s/bad3.ini", g_dir);
    FILE *o = fopen(path, "w");
    REQUIRE(o);
    fprintf(o, "[arch]\nkind = hammer\nclock_mhz = 1000\nnode_nm = 65\n[hammer]\napprox_pairs = 0\n");
    fclose(o);
    CHECK(ap_sc_run_file(path, &f.t, &r) == AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "approx_pairs") != NULL);
    CHECK(strstr(ap_last_error(), "bad3.ini") != NULL);
    o = fopen(path, "w");
    REQUIRE(o);
    fprintf(o, "[arch]\nkind = hammer\nclock_mhz = 1000\nnode_nm = 65\n[hammer]\npredictor = a3\n");
    fclose(o);
    CHECK(ap_sc_run_file(path, &f.t, &r) == AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "predictor") != NULL);
}

TEST(sim_hammer_shipped_configs) {
    /* the shipped files load, run, and HAMMER beats its baseline at density
     * 1/4; ELSA and HAMMER at the same density are within their predictor
     * costs of each other */
    struct fixture f;
    fixture_init(&f, 128, 4, 32, -1);
    const char *names[] = {"hammer", "elsa", "hammer-baseline"};
    struct ap_sim_report r[3];
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/configs/%s.ini", ap_test_source_dir(), names[i]);
        CHECK_STATUS(ap_sim_run(path, &f.t, &r[i]), AP_OK);
        CHECK(r[i].cycles > 0 && r[i].energy_pj > 0 && r[i].area_mm2 > 0);
    }
    CHECK(r[0].speedup_vs_baseline > 1.5);
    CHECK(r[1].speedup_vs_baseline > 1.5);
    CHECK_NEAR(r[0].area_mm2, 2.558, 1e-9);
    CHECK_NEAR(r[1].area_mm2, 3.297, 1e-9);
    CHECK_NEAR(r[0].baseline_cycles, r[2].cycles, 0);
}

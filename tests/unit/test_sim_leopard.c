/* test_sim_leopard.c — the LEOPARD simulator (src/sim/leopard.c) against the
 * timing rules of docs/sim/leopard.md written out as closed forms, its
 * invariants, and its configuration errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "sim/sim.h"
#include "sim_check.h"
#include "test.h"
#include "trace/synth.h"

/* ---- helpers ------------------------------------------------------------ */

/* Copy configs/src to a temporary file, replacing "key = ..." lines by
 * "key = value" for each "key=value" in set (';'-separated), dropping the
 * baseline line and appending extra (a raw text, may be NULL). */
static int write_variant(const char *dst, const char *src, const char *set, const char *extra) {
    char path[1024];
    ap_sc_config_path(path, sizeof path, src);
    FILE *in = fopen(path, "r"), *out = fopen(dst, "w");
    if (!in || !out) {
        if (in) fclose(in);
        if (out) fclose(out);
        return 0;
    }
    char line[512];
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "baseline =", 10) == 0) continue;
        int replaced = 0;
        if (set) {
            char copy[256];
            snprintf(copy, sizeof copy, "%s", set);
            for (char *kv = strtok(copy, ";"); kv && !replaced; kv = strtok(NULL, ";")) {
                const char *eq = strchr(kv, '=');
                size_t kl = (size_t)(eq - kv);
                if (strncmp(line, kv, kl) == 0 && line[kl] == ' ') {
                    fprintf(out, "%.*s = %s\n", (int)kl, kv, eq + 1);
                    replaced = 1;
                }
            }
        }
        if (!replaced) fputs(line, out);
    }
    if (extra) fputs(extra, out);
    fclose(in), fclose(out);
    return 1;
}

static enum ap_status run_cfg(const char *name, const struct ap_trace *t, struct ap_sim_report *r) {
    char path[1024];
    ap_sc_config_path(path, sizeof path, name);
    return ap_sc_run_file(path, t, r);
}

static double dmax2(double a, double b) { return a > b ? a : b; }

/* DRAM cycles of loading K (12-bit) and V (16-bit) of `keys` keys at d = 64:
 * whole 64-byte transactions at 25.6 GB/s and 800 MHz = 32 bytes a cycle. */
static double load_cycles(double keys) {
    double kb = keys * 64 * 12 / 8, vb = keys * 64 * 16 / 8;
    return (ceil(kb / 64) * 64 + ceil(vb / 64) * 64) / 32;
}

/* ---- closed forms ------------------------------------------------------- */

/* One head, S = 64 queries over 64 keys, 16 kept per row, pruned scores read
 * 4 key bits (2 steps). AE-LEOPARD (N = 6, B = 2): the busiest DPU holds
 * ceil(64/6) = 11 keys, ceil(16/6) = 3 of them kept: a row costs
 * F = q_load + 3·6 + 8·2 = 35 cycles. The back end (c = 1 per kept score,
 * e = 1 + 1 at a row's end) is faster, so the row's last burst (at s + F,
 * 16 − 2·6 = 4 scores) decides: D_r = s_r + F + 4 + 2, s_r = 35·r. Compute
 * ends at max(64·35, 63·35 + 41); K and V are loaded before. The baseline
 * (one bit-parallel DPU) takes n + q_load = 65 per row in front, n + e = 66
 * in the back end: back-end bound, D_r = 2 + 66·(r + 1). */
TEST(sim_leopard_tiny_cycles_closed_form) {
    struct ap_trace t;
    REQUIRE(ap_trace_synthesize("S=64,d=64,layers=1,heads=1,density=0.25,bits=4", &t) == AP_OK);
    struct ap_sim_report r, b;
    CHECK_STATUS(run_cfg("leopard-ae.ini", &t, &r), AP_OK);
    CHECK_STATUS(run_cfg("leopard-ae-baseline.ini", &t, &b), AP_OK);
    const double q_load = 1, e = 2, F = q_load + 3 * 6 + 8 * 2;
    const double leo = load_cycles(64) + dmax2(64 * F, 63 * F + F + 4 + e);
    CHECK_NEAR(r.cycles, leo, 0);
    CHECK_NEAR(r.cycles, 448 + 2246, 0);
    const double base = load_cycles(64) + q_load + 1 + 64 * (64 + e);
    CHECK_NEAR(b.cycles, base, 0);
    CHECK_NEAR(ap_sim_report_stat(&r, "fifo_stall_cycles"), 0, 0);
    /* HP (N = 8): busiest DPU 8 keys, 2 kept: F = 1 + 2·6 + 6·2 = 25; last
     * burst 16 − 8 = 8 scores: D_r = s_r + 25 + 8 + 2 */
    CHECK_STATUS(run_cfg("leopard-hp.ini", &t, &r), AP_OK);
    CHECK_NEAR(r.cycles, load_cycles(64) + 63 * 25 + 25 + 8 + e, 0);
    ap_trace_free(&t);
}

/* Density 1: the only differences from the baseline are the predictor's:
 * (a) the QK-DPUs' energy: 6 bit-serial steps per score, each 64 taps of
 *     12×2 bits + shift-accumulate + partial-sum register + margin update
 *     (2 adds, a compare, a register), plus the margin's sum of |q| (64 adds
 *     of 12 bits) per score and the query broadcast to 6 DPUs, instead of one
 *     12×12-bit step + accumulate + register per score and one broadcast;
 * (b) cycles: the busiest DPU holds ceil(64/6) = 11 keys, 66 cycles per row
 *     instead of 64 (front end 67 with the query load vs the baseline's back
 *     end 66). Key buffer bits (6·2 = 12 per element), value buffer, softmax,
 *     V-PU and FIFOs are equal. */
TEST(sim_leopard_density1_predictor_overhead) {
    struct ap_trace t;
    REQUIRE(ap_trace_synthesize("S=64,d=64,layers=1,heads=1,density=1", &t) == AP_OK);
    struct ap_sim_report r, b;
    CHECK_STATUS(run_cfg("leopard-ae.ini", &t, &r), AP_OK);
    CHECK_STATUS(run_cfg("leopard-ae-baseline.ini", &t, &b), AP_OK);
    const char *same[] = {"key_buffer", "softmax", "v_pu", "value_buffer", "fifos"};
    for (int i = 0; i < 5; i++) CHECK_NEAR(ap_sim_report_energy(&r, same[i]), ap_sim_report_energy(&b, same[i]), 1e-6 * ap_sim_report_energy(&b, same[i]));
    struct ap_tech tech;
    REQUIRE(ap_tech_load(65, NULL, &tech) == AP_OK);
    const double scores = 64 * 64, rows = 64, reg = tech.reg_pj_per_bit;
    const double add20 = ap_tech_add_pj(&tech, 20), cmp20 = ap_tech_cmp_pj(&tech, 20);
    const double leo_qk = scores * (6 * (64 * ap_tech_mac_pj(&tech, 12, 2) + 3 * add20 + cmp20 + 40 * reg) +
                                    64 * ap_tech_add_pj(&tech, 12)) +
                          rows * 64 * 12 * 6 * reg;
    const double base_qk = scores * (64 * ap_tech_mac_pj(&tech, 12, 12) + add20 + 20 * reg) + rows * 64 * 12 * reg;
    CHECK_NEAR(ap_sim_report_energy(&r, "qk_dpus"), leo_qk, 1e-6 * leo_qk);
    CHECK_NEAR(ap_sim_report_energy(&b, "qk_dpus"), base_qk, 1e-6 * base_qk);
    CHECK_NEAR(r.energy_pj - b.energy_pj, leo_qk - base_qk, 1e-6 * b.energy_pj);
    /* LEOPARD's rows: front end 67 per row, last burst 64 − 10·6 = 4 scores:
     * D_r = 67·r + 67 + 4 + 2 */
    CHECK_NEAR(r.cycles, load_cycles(64) + 63 * 67 + 73, 0);
    CHECK_NEAR(b.cycles, load_cycles(64) + 2 + 64 * 66, 0);
    ap_trace_free(&t);
}

/* ---- invariants --------------------------------------------------------- */

TEST(sim_leopard_denser_never_cheaper) {
    const char *cfgs[] = {"leopard-ae.ini", "leopard-hp.ini"};
    for (int c = 0; c < 2; c++) {
        double prev_cycles = 0, prev_energy = 0;
        for (int i = 1; i <= 10; i++) {
            char spec[128];
            snprintf(spec, sizeof spec, "S=256,layers=2,heads=2,density=%g,bits=8.3,spread=0.5", i / 10.0);
            struct ap_trace t;
            REQUIRE(ap_trace_synthesize(spec, &t) == AP_OK);
            struct ap_sim_report r;
            CHECK_STATUS(run_cfg(cfgs[c], &t, &r), AP_OK);
            CHECK(r.cycles >= prev_cycles);
            CHECK(r.energy_pj >= prev_energy);
            if (r.cycles < prev_cycles || r.energy_pj < prev_energy)
                fprintf(stderr, "  %s density %g: cycles %g (before %g), energy %g (before %g)\n", cfgs[c], i / 10.0,
                        r.cycles, prev_cycles, r.energy_pj, prev_energy);
            prev_cycles = r.cycles, prev_energy = r.energy_pj;
            ap_trace_free(&t);
        }
    }
}

TEST(sim_leopard_baseline_independent_of_density) {
    struct ap_sim_report r[2];
    const char *specs[] = {"S=200,layers=2,heads=3,density=0.1,bits=4.5,spread=0.8",
                           "S=200,layers=2,heads=3,density=0.9,bits=11"};
    for (int i = 0; i < 2; i++) {
        struct ap_trace t;
        REQUIRE(ap_trace_synthesize(specs[i], &t) == AP_OK);
        CHECK_STATUS(run_cfg("leopard-hp-baseline.ini", &t, &r[i]), AP_OK);
        ap_trace_free(&t);
    }
    CHECK_NEAR(r[0].cycles, r[1].cycles, 0);
    CHECK_NEAR(r[0].energy_pj, r[1].energy_pj, 1e-9 * r[0].energy_pj);
    CHECK_NEAR(r[0].dram_bytes, r[1].dram_bytes, 0);
}

/* DRAM traffic never exceeds fetching every K and V row for every query that
 * needs it (plus Q and the output once each, and the partial outputs of
 * key blocks), each request rounded to 64 bytes; and LEOPARD moves exactly
 * what its baseline moves (pruning saves compute and buffer reads, not DRAM). */
TEST(sim_leopard_traffic_bounds) {
    const char *specs[] = {"S=128,layers=1,heads=2,density=0.3", "S=1024,layers=1,heads=1,density=0.2,causal=1"};
    for (int i = 0; i < 2; i++) {
        struct ap_trace t;
        REQUIRE(ap_trace_synthesize(specs[i], &t) == AP_OK);
        struct ap_sim_report r, b;
        CHECK_STATUS(run_cfg("leopard-ae.ini", &t, &r), AP_OK);
        CHECK_STATUS(run_cfg("leopard-ae-baseline.ini", &t, &b), AP_OK);
        double bound = 0;
        for (int64_t h = 0; h < (int64_t)t.N * t.L * t.H; h++) {
            const double q = t.heads[h].queries;
            bound += (double)t.heads[h].valid * t.d * (12 + 16) / 8 + q * t.d * (12 + 16) / 8 +
                     q * (t.d * 16 + 20) / 8 * 2 + 6 * 64;
        }
        CHECK(r.dram_bytes > 0);
        CHECK(r.dram_bytes <= bound);
        CHECK_NEAR(r.dram_bytes, b.dram_bytes, 0);
        ap_trace_free(&t);
    }
}

/* Early termination off: every score reads all 12 key bits (6 steps), so the
 * front end costs what a kept score costs; pruning still skips the back end.
 * Energy lies between LEOPARD's and the baseline's. */
TEST(sim_leopard_early_termination_off) {
    struct ap_trace t;
    REQUIRE(ap_trace_synthesize("S=64,d=64,layers=1,heads=1,density=0.25,bits=4", &t) == AP_OK);
    char path[] = "/tmp/ap_test_leopard_XXXXXX.ini";
    int fd = mkstemps(path, 4);
    REQUIRE(fd >= 0);
    close(fd);
    REQUIRE(write_variant(path, "leopard-ae.ini", "early_termination=0", NULL));
    struct ap_sim_report off, on, b;
    CHECK_STATUS(ap_sc_run_file(path, &t, &off), AP_OK);
    CHECK_STATUS(run_cfg("leopard-ae.ini", &t, &on), AP_OK);
    CHECK_STATUS(run_cfg("leopard-ae-baseline.ini", &t, &b), AP_OK);
    /* busiest DPU 11 keys · 6 cycles; last burst 16 − 12 = 4 scores */
    const double F = 1 + 11 * 6;
    CHECK_NEAR(off.cycles, load_cycles(64) + 63 * F + F + 4 + 2, 0);
    CHECK(off.energy_pj > on.energy_pj);
    CHECK(off.energy_pj < b.energy_pj);
    CHECK_NEAR(ap_sim_report_energy(&off, "v_pu"), ap_sim_report_energy(&on, "v_pu"), 1e-9 * ap_sim_report_energy(&on, "v_pu"));
    unlink(path);
    ap_trace_free(&t);
}

/* HP-LEOPARD on a dense trace is back-end bound (8 DPUs make 8/6 scores a
 * cycle, the V-PU takes 1): the score FIFO fills and the front end stalls.
 * The back end then never idles after the first burst: the head ends at
 * first arrival + 512·(512 + e) − ... bounded below by S·(n + e). */
TEST(sim_leopard_fifo_backpressure) {
    struct ap_trace t;
    REQUIRE(ap_trace_synthesize("S=512,d=64,layers=1,heads=1,density=1", &t) == AP_OK);
    struct ap_sim_report r;
    CHECK_STATUS(run_cfg("leopard-hp.ini", &t, &r), AP_OK);
    CHECK(ap_sim_report_stat(&r, "fifo_stall_cycles") > 0);
    CHECK(ap_sim_report_stat(&r, "rows_simulated_by_entry") > 0);
    CHECK(ap_sim_report_stat(&r, "fifo_max_occupancy") <= 512);
    /* first burst at q_load + 6; then the V-PU is busy 512·514 cycles */
    CHECK_NEAR(r.cycles, load_cycles(512) + 1 + 6 + 512.0 * 514, 0);
    ap_trace_free(&t);
}

/* A trace without LEOPARD's statistics (another method's): pruned scores are
 * taken to read fallback_kbits_pruned bits and a note says so. */
TEST(sim_leopard_foreign_trace) {
    struct ap_trace t, u;
    REQUIRE(ap_trace_synthesize("S=128,layers=2,heads=2,density=0.3,bits=8.3", &t) == AP_OK);
    REQUIRE(ap_trace_synthesize("S=128,layers=2,heads=2,density=0.3,bits=2", &u) == AP_OK);
    const int32_t P = u.P;
    u.P = 0; /* hide its statistics */
    struct ap_sim_report r, ru;
    CHECK_STATUS(run_cfg("leopard-ae.ini", &t, &r), AP_OK);
    CHECK_STATUS(run_cfg("leopard-ae.ini", &u, &ru), AP_OK);
    CHECK_NEAR(ru.cycles, r.cycles, 0);
    CHECK_NEAR(ru.energy_pj, r.energy_pj, 1e-9 * r.energy_pj);
    CHECK(strstr(ru.notes, "fallback_kbits_pruned") != NULL);
    u.P = P;
    ap_trace_free(&t), ap_trace_free(&u);
}

/* ---- configuration errors ---------------------------------------------- */

TEST(sim_leopard_config_errors) {
    struct ap_trace t;
    REQUIRE(ap_trace_synthesize("S=32,layers=1,heads=1,density=0.5", &t) == AP_OK);
    char path[] = "/tmp/ap_test_leopard_XXXXXX.ini";
    int fd = mkstemps(path, 4);
    REQUIRE(fd >= 0);
    close(fd);
    struct ap_sim_report r;
    REQUIRE(write_variant(path, "leopard-ae.ini", NULL, "[leopard]\nqk_dpu = 6\n"));
    CHECK(ap_sc_run_file(path, &t, &r) != AP_OK);
    CHECK(strstr(ap_last_error(), "qk_dpu") != NULL);
    REQUIRE(write_variant(path, "leopard-ae.ini", "qk_dpus=0", NULL));
    CHECK(ap_sc_run_file(path, &t, &r) == AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "[leopard] qk_dpus") != NULL);
    REQUIRE(write_variant(path, "leopard-hp.ini", "bits_per_step=16", NULL));
    CHECK(ap_sc_run_file(path, &t, &r) == AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "bits_per_step") != NULL);
    REQUIRE(write_variant(path, "leopard-ae.ini", "gbytes_per_s=fast", NULL));
    CHECK(ap_sc_run_file(path, &t, &r) == AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "[dram] gbytes_per_s") != NULL);
    if (ap_test_failed()) fprintf(stderr, "  last error: %s\n", ap_last_error());
    unlink(path);
    ap_trace_free(&t);
}

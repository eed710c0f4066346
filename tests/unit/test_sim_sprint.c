/* test_sim_sprint.c — the SPRINT simulator (src/sim/sprint.c) against the
 * timing rules written out in docs/sim/sprint.md, its invariants, and its
 * configuration errors.
 *
 * Constants of configs/sprint-s.ini at d = 64 used below (derivations in
 * docs/sim/sprint.md, "Timing"):
 *   c_k = ceil(64 / 64) = 1       PU cycles per key
 *   w   = 0                       write stall per fetched key (write_stall = 0)
 *   s   = c_k + w = 1             PU cycles per fetched key
 *   c_f = 2 x 64 B / (16 x 8 B)  = 1   memory cycles per fetched K+V pair
 *   q   = 64 B / 128 B = 0.5      query read
 *   P   = CopyQ (1 + tCL 10) + tAxTh 7 + ReadP (tCL 10 + 1) = 29
 *   D   = 4                       temporary buffer, pairs
 *   drain = pipeline 3 + ceil(64 / 2 dividers) = 35
 *   buffer: 16 KB / 128 B = 128 keys */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "sim/sim.h"
#include "sim_check.h"
#include "test.h"
#include "trace/synth.h"

#define S_Q 0.5
#define S_P 29.0
#define S_CF 1.0
#define S_S 1.0
#define S_D 4.0
#define S_DRAIN 35.0

/* 256 tokens, density 1/2: 128 keys a row, exactly the buffer, so no room
 * is left for keys of earlier rows; 4 new keys a row (locality 1/64 of
 * 256). Row 0 fetches its 128 keys; each later row finds 124 on chip and
 * fetches 4 (<= D: no back-pressure).
 *   row 0: prune vector at q + P = 29.5; the misses arrive from there and
 *          the PUs take them at s each: row 0 ends at 29.5 + c_f + 128 s =
 *          158.5; memory is free after its 128 transfers (29.5 + 128 c_f)
 *          or when miss 128 − 1 − D = 123 enters service (29.5 + c_f +
 *          123 s), whichever is later: 157.5.
 *   row 1: thresholding from 157.5, vector at 187 (28.5 after row 0 ended:
 *          exposed); 124 hits + 4 x s = 128 cycles: ends at 315.
 *   rows 2..255: their thresholding (29.5) and 4 fetches (4 c_f) fit in
 *          the previous row's 128 cycles: each row adds 128.
 *   cycles = 315 + 254 x 128 + drain = 32862.
 * Baseline: 256 keys do not fit in 128: every row streams all 256 as
 * misses. Memory paces the rows: row t's query is read after row t − 1's
 * 256 transfers, its vector (here just the query) at q + t (q + 256 c_f),
 * and the row ends c_f + 256 s after it:
 *   cycles = q + 255 (q + 256 c_f) + c_f + 256 s + drain = 65700. */
TEST(sim_sprint_closed_form_tiny) {
    struct ap_sim_report r;
    CHECK_STATUS(ap_sc_run_spec("sprint-s.ini", "S=256,d=64,layers=1,heads=1,density=0.5,locality=0.015625", &r), AP_OK);
    double end0 = S_Q + S_P + S_CF + 128 * S_S;
    double m0 = S_Q + S_P + fmax(128 * S_CF, S_CF + (128 - 1 - S_D) * S_S);
    double v1 = m0 + S_Q + S_P, end1 = v1 + 124 + 4 * S_S;
    CHECK_NEAR(end1, 315.0, 1e-9);
    CHECK_NEAR(r.cycles, end1 + 254 * (124 + 4 * S_S) + S_DRAIN, 1e-6);
    CHECK_NEAR(r.cycles, 32862.0, 1e-6);
    CHECK_NEAR(ap_sim_report_stat(&r, "pred_exposed_cycles"), S_P + (v1 - end0), 1e-6);
    CHECK_NEAR(r.baseline_cycles, S_Q + 255 * (S_Q + 256 * S_CF) + S_CF + 256 * S_S + S_DRAIN, 1e-6);
    CHECK_NEAR(ap_sim_report_stat(&r, "kv_fetched_keys"), 128 + 255 * 4, 1e-6);
    CHECK_NEAR(ap_sim_report_stat(&r, "kv_reused_keys"), 255 * 124, 1e-6);
    CHECK_NEAR(ap_sim_report_stat(&r, "kv_read_bytes"), (128 + 255 * 4) * 128.0, 1e-6);
    CHECK_NEAR(r.baseline_cycles, 65700.0, 1e-6);
    CHECK_NEAR(ap_sim_report_stat(&r, "write_stall_cycles"), 0, 1e-9);
    /* in-memory pruning: 256 rows x 256 keys x 64 4-bit MACs at 0.10 pJ,
     * 256 x 256 comparators at 41 fJ, CopyQ + ReadP (256 + 256 bits) x 256
     * rows of register bits */
    struct ap_sim_arch a;
    char path[1024];
    ap_sc_config_path(path, sizeof path, "sprint-s.ini");
    REQUIRE(ap_sim_arch_load(path, &a) == AP_OK);
    double imp = 256.0 * 256 * 64 * 0.10 + 256.0 * 256 * 0.041 + 256.0 * 512 * a.tech.reg_pj_per_bit;
    ap_sim_arch_free(&a);
    CHECK_NEAR(ap_sim_report_energy(&r, "in_memory_pruning"), imp, 1e-6 * imp);
}

/* configs/sprint-s.ini with write_stall = 1 and no baseline, written to a
 * temporary file, run on a synthetic trace. */
static enum ap_status run_write_stall(const char *spec, struct ap_sim_report *r) {
    char path[1024], tmp[] = "/tmp/ap_sim_sprint_ws_XXXXXX.ini", line[512];
    ap_sc_config_path(path, sizeof path, "sprint-s.ini");
    FILE *in = fopen(path, "r");
    int fd = mkstemps(tmp, 4);
    if (!in || fd < 0) {
        if (in) fclose(in);
        return AP_ERR_IO;
    }
    FILE *out = fdopen(fd, "w");
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "baseline =", 10) == 0) continue;
        fputs(strncmp(line, "write_stall =", 13) == 0 ? "write_stall = 1\n" : line, out);
    }
    fclose(in), fclose(out);
    struct ap_trace t;
    enum ap_status st = ap_trace_synthesize(spec, &t);
    if (st == AP_OK) st = ap_sim_run(tmp, &t, r);
    ap_trace_free(&t);
    unlink(tmp);
    return st;
}

/* The same trace as sim_sprint_closed_form_tiny with a write stall of
 * w = 1024 bits / (8 banks x 128 bits) = 1 cycle per fetched pair: s = 2,
 * the PUs now slower than memory, and the temporary buffer's back-pressure
 * decides when memory is free.
 *   row 0: ends at 29.5 + c_f + 128 s = 286.5; memory free when miss 123
 *          enters service, 29.5 + c_f + 123 s = 276.5 (> 29.5 + 128 c_f).
 *   row 1: vector at 306 (19.5 exposed), 124 hits + 4 s: ends at 438.
 *   rows 2..255 add 132 each: cycles = 438 + 254 x 132 + drain = 34001. */
TEST(sim_sprint_closed_form_write_stall) {
    struct ap_sim_report r;
    CHECK_STATUS(run_write_stall("S=256,d=64,layers=1,heads=1,density=0.5,locality=0.015625", &r), AP_OK);
    const double s2 = 2.0;
    double end0 = S_Q + S_P + S_CF + 128 * s2;
    double m0 = S_Q + S_P + fmax(128 * S_CF, S_CF + (128 - 1 - S_D) * s2);
    CHECK_NEAR(m0, 276.5, 1e-9);
    double v1 = m0 + S_Q + S_P, end1 = v1 + 124 + 4 * s2;
    CHECK_NEAR(r.cycles, end1 + 254 * (124 + 4 * s2) + S_DRAIN, 1e-6);
    CHECK_NEAR(r.cycles, 34001.0, 1e-6);
    CHECK_NEAR(ap_sim_report_stat(&r, "pred_exposed_cycles"), S_P + (v1 - end0), 1e-6);
    CHECK_NEAR(ap_sim_report_stat(&r, "write_stall_cycles"), 128 + 255 * 4, 1e-6);
    /* memory blocked by the full temporary buffer in row 0: from its last
     * transfer (29.5 + 128) to 276.5 */
    CHECK_NEAR(ap_sim_report_stat(&r, "mem_backpressure_cycles"), m0 - (S_Q + S_P + 128 * S_CF), 1e-6);
}

/* Memory-bound rows with back-pressure: S-SPRINT, 512 tokens at density
 * 1/2 keeps 256 keys a row, twice the buffer: only 128 of the previous
 * row's keys are on chip, so with locality 0 a row hits 128 and fetches
 * 128 (> D). Row 0 fetches 256. In row t the PUs take the 128 hits from
 * the vector on (the previous row ended before it), then the misses:
 *   vector v_t = m_{t-1} + q + P; end_t = v_t + 128 + 128 s;
 *   memory free m_t after the 128 transfers or when miss 128 − 1 − D
 *   enters service: v_t + max(128 c_f, 128 + 123 s).
 * Row 0: v_0 = 29.5, end = v_0 + c_f + 256 s,
 *   m_0 = v_0 + max(256 c_f, c_f + 251 s). */
TEST(sim_sprint_closed_form_capacity) {
    struct ap_sim_report r;
    CHECK_STATUS(ap_sc_run_spec("sprint-s.ini", "S=512,d=64,layers=1,heads=1,density=0.5,locality=0", &r), AP_OK);
    double v = S_Q + S_P, m = v + fmax(256 * S_CF, S_CF + (256 - 1 - S_D) * S_S), end = v + S_CF + 256 * S_S;
    for (int t = 1; t < 512; t++) {
        v = m + S_Q + S_P;
        REQUIRE(v >= end); /* the rule above assumes the previous row is done */
        end = v + 128 + 128 * S_S;
        m = v + fmax(128 * S_CF, 128 + (128 - 1 - S_D) * S_S);
    }
    CHECK_NEAR(r.cycles, end + S_DRAIN, 1e-6);
    CHECK_NEAR(ap_sim_report_stat(&r, "kv_fetched_keys"), 256 + 511 * 128, 1e-6);
}

/* At density 1 (no padding, everything fits) SPRINT differs from its
 * baseline only by the predictor: (1) cycles by exactly the thresholding
 * latency the PUs could not hide (reported as pred_exposed_cycles: row 0's
 * P = 29, and row 1's, whose thresholding starts when row 0's memory is
 * free at q + P + max(64 c_f, c_f + (64 − 1 − D) s) = 93.5 and ends q + P
 * later, 123, while row 0's PUs end at q + P + c_f + 64 s = 94.5: 28.5
 * exposed; later rows overlap it with their 64 hits); (2) energy by exactly the in_memory_pruning component;
 * (3) main-memory traffic by the CopyQ + ReadP bits (40 bytes a row). */
TEST(sim_sprint_density_one_is_baseline_plus_predictor) {
    struct ap_sim_report r;
    CHECK_STATUS(ap_sc_run_spec("sprint-s.ini", "S=64,d=64,layers=1,heads=1,density=1,locality=0", &r), AP_OK);
    double m0 = S_Q + S_P + fmax(64 * S_CF, S_CF + (64 - 1 - S_D) * S_S), end0 = S_Q + S_P + S_CF + 64 * S_S;
    CHECK_NEAR(ap_sim_report_stat(&r, "pred_exposed_cycles"), S_P + (m0 + S_Q + S_P - end0), 1e-6);
    CHECK_NEAR(ap_sim_report_stat(&r, "pred_exposed_cycles"), 29.0 + 28.5, 1e-6);
    CHECK_NEAR(r.cycles - r.baseline_cycles, ap_sim_report_stat(&r, "pred_exposed_cycles"), 1e-6);
    CHECK_NEAR(r.energy_pj - r.baseline_energy_pj, ap_sim_report_energy(&r, "in_memory_pruning"), 1e-6 * r.energy_pj);
    CHECK_NEAR(r.dram_bytes - r.baseline_dram_bytes, 64 * 40.0, 1e-6);
    /* the same on M and L: more CORELETs, same rule */
    const char *cfgs[] = {"sprint-m.ini", "sprint-l.ini"};
    for (int i = 0; i < 2; i++) {
        CHECK_STATUS(ap_sc_run_spec(cfgs[i], "S=128,d=64,layers=2,heads=3,density=1,locality=0", &r), AP_OK);
        CHECK_NEAR(r.cycles - r.baseline_cycles, ap_sim_report_stat(&r, "pred_exposed_cycles"), 1e-6);
        CHECK_NEAR(r.energy_pj - r.baseline_energy_pj, ap_sim_report_energy(&r, "in_memory_pruning"), 1e-6 * r.energy_pj);
    }
}

/* A denser trace never takes fewer cycles or less energy, on every size,
 * with padding, causal, and with a buffer smaller than a row. */
TEST(sim_sprint_monotone_in_density) {
    const char *cfgs[] = {"sprint-s.ini", "sprint-m.ini", "sprint-l.ini"};
    const char *shapes[] = {"S=256,padding=0.3", "S=1024,causal=1", "S=700,spread=0.5"};
    for (int c = 0; c < 3; c++)
        for (int s = 0; s < 3; s++) {
            double prev_cyc = 0, prev_e = 0;
            for (int k = 1; k <= 10; k++) {
                char spec[256];
                snprintf(spec, sizeof spec, "%s,d=64,layers=1,heads=2,density=%g", shapes[s], k / 10.0);
                struct ap_sim_report r;
                CHECK_STATUS(ap_sc_run_spec(cfgs[c], spec, &r), AP_OK);
                if (r.cycles < prev_cyc - 1e-6 || r.energy_pj < prev_e * (1 - 1e-12))
                    ap_test_fail(__FILE__, __LINE__, "%s %s: cycles %.1f < %.1f or energy %.6g < %.6g", cfgs[c], spec,
                                 r.cycles, prev_cyc, r.energy_pj, prev_e);
                prev_cyc = r.cycles, prev_e = r.energy_pj;
            }
        }
}

/* K/V traffic never exceeds the no-reuse bound (every kept key's K and V
 * fetched for every row that keeps it), for SPRINT's own statistics and for
 * a trace without them (eq. 3.1 estimate), nor, when the head's keys fit
 * on chip, one fetch per key; the baseline's never exceeds every padded
 * row fetching every padded key. */
TEST(sim_sprint_traffic_bound) {
    const char *specs[] = {"S=384,padding=0.46,density=0.25", "S=2048,padding=0.5,density=0.25",
                           "S=1280,causal=1,density=0.3,locality=0.5", "S=300,density=0.9,spread=0.8"};
    const char *cfgs[] = {"sprint-s.ini", "sprint-m.ini", "sprint-l.ini"};
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++)
            for (int strip = 0; strip < 2; strip++) {
                char spec[256], path[1024];
                snprintf(spec, sizeof spec, "%s,d=64,layers=1,heads=2", specs[i]);
                struct ap_trace t;
                REQUIRE(ap_trace_synthesize(spec, &t) == AP_OK);
                if (strip) /* hide every statistic: the simulator must estimate */
                    for (int32_t p = 0; p < t.P; p++) t.head_stat_names[p][0] = '_';
                int64_t kept = 0, padded = 0, keys = 0, max_keys = 0;
                for (int64_t h = 0; h < (int64_t)t.L * t.H; h++) {
                    kept += t.heads[h].kept, keys += t.heads[h].keys;
                    if (t.heads[h].keys > max_keys) max_keys = t.heads[h].keys;
                }
                padded = (int64_t)t.L * t.H * (int64_t)t.T * t.T;
                ap_sc_config_path(path, sizeof path, cfgs[c]);
                struct ap_sim_arch a;
                struct ap_sim_report r;
                REQUIRE(ap_sim_arch_load(path, &a) == AP_OK);
                CHECK_STATUS(ap_sim_run_arch(&a, &t, &r), AP_OK);
                ap_sim_arch_free(&a);
                double kv = ap_sim_report_stat(&r, "kv_read_bytes");
                CHECK(kv >= 0 && kv <= kept * 128.0 + 1e-6);
                /* a head whose keys all fit (128 / 256 / 512 keys) fetches each at most once */
                if (max_keys <= 128 << c && kv > keys * 128.0 + 1e-6)
                    ap_test_fail(__FILE__, __LINE__, "%s %s strip=%d: %.0f bytes > %lld keys", cfgs[c], spec, strip, kv, (long long)keys);
                if (strip) CHECK(strstr(r.notes, "eq. 3.1") != NULL);
                snprintf(path + strlen(path) - 4, 32, "-baseline.ini");
                REQUIRE(ap_sim_arch_load(path, &a) == AP_OK);
                CHECK_STATUS(ap_sim_run_arch(&a, &t, &r), AP_OK);
                ap_sim_arch_free(&a);
                kv = ap_sim_report_stat(&r, "kv_read_bytes");
                CHECK(kv >= 0 && kv <= padded * 128.0 + 1e-6);
                ap_trace_free(&t);
            }
}

/* The baseline does not look at the mask: same cycles, energy and traffic
 * at every density (same padding). */
TEST(sim_sprint_baseline_ignores_density) {
    const char *cfgs[] = {"sprint-s-baseline.ini", "sprint-m-baseline.ini", "sprint-l-baseline.ini"};
    for (int c = 0; c < 3; c++) {
        struct ap_sim_report r0, r;
        CHECK_STATUS(ap_sc_run_spec(cfgs[c], "S=384,padding=0.46,density=0.05,d=64,layers=2,heads=2", &r0), AP_OK);
        for (int k = 2; k <= 10; k += 4) {
            char spec[128];
            snprintf(spec, sizeof spec, "S=384,padding=0.46,density=%g,locality=0.1,d=64,layers=2,heads=2", k / 10.0);
            CHECK_STATUS(ap_sc_run_spec(cfgs[c], spec, &r), AP_OK);
            CHECK_NEAR(r.cycles, r0.cycles, 1e-9 * r0.cycles);
            CHECK_NEAR(r.energy_pj, r0.energy_pj, 1e-9 * r0.energy_pj);
            CHECK_NEAR(r.dram_bytes, r0.dram_bytes, 1e-9 * r0.dram_bytes);
        }
    }
}

/* A configuration from text, written to a temporary file. */
static enum ap_status run_text(const char *text, const char *want_in_error) {
    char path[] = "/tmp/ap_sim_sprint_XXXXXX.ini";
    int fd = mkstemps(path, 4);
    if (fd < 0) return AP_ERR_IO;
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    struct ap_trace t;
    enum ap_status st = ap_trace_synthesize("S=64,layers=1,heads=1,density=0.5", &t);
    struct ap_sim_report r;
    if (st == AP_OK) st = ap_sim_run(path, &t, &r);
    ap_trace_free(&t);
    if (st != AP_OK && want_in_error && (!strstr(ap_last_error(), want_in_error) || !strstr(ap_last_error(), path)))
        ap_test_fail(__FILE__, __LINE__, "error '%s' does not name '%s' and the file", ap_last_error(), want_in_error);
    unlink(path);
    return st;
}

TEST(sim_sprint_config_errors) {
    const char *head = "[arch]\nkind = sprint\nclock_mhz = 1000\nnode_nm = 65\n[sprint]\n";
    char text[512];
    snprintf(text, sizeof text, "%scorelets = 2\nsram_banks = 16\n", head);
    CHECK_STATUS(run_text(text, NULL), AP_OK);
    snprintf(text, sizeof text, "%scorelet = 2\n", head);
    CHECK_STATUS(run_text(text, "corelet"), AP_ERR_FORMAT);
    snprintf(text, sizeof text, "%scorelets = 0\n", head);
    CHECK_STATUS(run_text(text, "corelets"), AP_ERR_FORMAT);
    snprintf(text, sizeof text, "%st_axth = -1\n", head);
    CHECK_STATUS(run_text(text, "t_axth"), AP_ERR_FORMAT);
    snprintf(text, sizeof text, "%smsb_bits = 9\n", head);
    CHECK_STATUS(run_text(text, "msb_bits"), AP_ERR_FORMAT);
    snprintf(text, sizeof text, "%scorelets = 4\nsram_banks = 6\n", head);
    CHECK_STATUS(run_text(text, "sram_banks"), AP_ERR_FORMAT);
    snprintf(text, sizeof text, "%sonchip_kb = many\n", head);
    CHECK_STATUS(run_text(text, "onchip_kb"), AP_ERR_FORMAT);
}

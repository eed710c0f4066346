/* test_sim_sanger.c — the Sanger simulator (src/sim/sanger.c) against closed
 * forms of its documented timing rules (docs/sim/sanger.md), its invariants,
 * and its configuration errors.
 *
 * Every closed form below uses the paper's 64 x 16 array at 500 MHz with the
 * 128 GB/s HBM (8 channels x 16 GB/s = 256 bytes a cycle), d = 64 and 16-bit
 * data, so one Q/K/V/O row is 128 bytes and moves in half a cycle. The
 * rules the formulas follow:
 *   load of a head       (Q rows + K rows + V rows used) x 128 B / 256 B
 *   pre-process band     A = ceil(keys / 64) x d, B = 2 x keys (two passes)
 *   block                2d cycles, plus R + P = 128 for a group's first
 *   blocks of a group    ceil(expected sub-rows / 64), released by the bands
 *                        in proportion to the group's rows each holds
 *   write-back           the last heads' O rows after the array is done */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "sim/sim.h"
#include "sim_check.h"
#include "test.h"
#include "trace/synth.h"

/* ------------------------------------------------------------ helpers */

/* A configuration like configs/sanger.ini (its paper values) with pruning
 * and pack_split set and `extra` lines appended to [array]; written to a
 * temporary file whose path goes to path (PATH_MAX). */
static int write_cfg(char *path, int pruning, int pack_split, const char *array_extra) {
    snprintf(path, 256, "/tmp/ap_test_sim_sanger_%d_XXXXXX", (int)getpid());
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    FILE *f = fdopen(fd, "w");
    if (!f) return 0;
    fprintf(f,
            "[arch]\nkind = sanger\nname = t\npruning = %d\nclock_mhz = 500\nnode_nm = 55\narea_mm2 = 16.9\n"
            "static_mw = 0\n[sanger]\npack_split = %d\n[array]\nrows = 64\npes = 16\nports = 64\nexp_units = 64\n"
            "data_bits = 16\nacc_bits = 32\n%s\n[preprocess]\nrows = 64\ncols = 64\nbits = 4\nsoftmax_passes = 2\n"
            "[mask_fifo]\nbytes = 4096\n[buffers]\nbytes = 131072\nbanks = 64\nport_bits = 32\n"
            "[hbm]\nchannels = 8\ngbytes_per_s = 16\ntransaction_bytes = 64\n",
            pruning, pack_split, array_extra ? array_extra : "");
    fclose(f);
    return 1;
}

/* Simulate spec with a configuration of that kind; 1 on success. */
static int run_spec(const char *spec, int pruning, int pack_split, struct ap_sim_report *r) {
    char path[256];
    struct ap_trace t;
    struct ap_sim_arch a;
    if (!write_cfg(path, pruning, pack_split, NULL)) return 0;
    if (ap_trace_synthesize(spec, &t) != AP_OK) {
        unlink(path);
        return 0;
    }
    enum ap_status st = ap_sim_arch_load(path, &a);
    if (st == AP_OK) {
        st = ap_sim_run_arch(&a, &t, r);
        ap_sim_arch_free(&a);
    }
    if (st != AP_OK) fprintf(stderr, "    %s\n", ap_last_error());
    ap_trace_free(&t);
    unlink(path);
    return st == AP_OK;
}

/* HBM cycles of the first head's load: Q and K rows, and the V rows some
 * kept pair uses, 128 B each at 256 B a cycle (keys are fetched once: the
 * predictor reads every valid key). used: keys used by at least one of the
 * q rows keeping k of their v keys uniformly: v (1 - (1 - k/v)^q). */
static double load_cycles(int q, int keys, double used) { return (q + keys + used) * 128.0 / 256.0; }

/* X ~ Hypergeometric(N, K, n): P(X = x), from log-binomials. */
static double hyper_pmf(int N, int K, int n, int x) {
    if (x < 0 || x > K || x > n || n - x > N - K) return 0;
    double l = lgamma(K + 1.0) - lgamma(x + 1.0) - lgamma(K - x + 1.0) + lgamma(N - K + 1.0) - lgamma(n - x + 1.0) -
               lgamma(N - K - n + x + 1.0) - (lgamma(N + 1.0) - lgamma(n + 1.0) - lgamma(N - n + 1.0));
    return exp(l);
}

/* ------------------------------------------------------------ closed forms */

/* The dense baseline, S = 128: a row's 64-key group takes ceil(64/16) = 4
 * sub-rows, a group 512 = 8 blocks, the head 16 blocks of 2d = 128 cycles
 * and two group fills of 128; after the 192-cycle load, before the 64-cycle
 * write-back: 192 + 16 x 128 + 2 x 128 + 64 = 2560, at any density. */
TEST(sim_sanger_baseline_closed_form) {
    const double want = load_cycles(128, 128, 128) + 16 * 128 + 2 * 128 + 128 * 128.0 / 256.0;
    CHECK_NEAR(want, 2560, 0);
    double energy = -1;
    const char *specs[] = {"S=128,layers=1,heads=1,density=0.05", "S=128,layers=1,heads=1,density=0.3",
                           "S=128,layers=1,heads=1,density=1"};
    for (int i = 0; i < 3; i++) {
        struct ap_sim_report r;
        REQUIRE(run_spec(specs[i], 0, 1, &r));
        CHECK_NEAR(r.cycles, want, 1e-9);
        CHECK_NEAR(ap_sim_report_stat(&r, "blocks"), 16, 1e-12);
        CHECK_NEAR(r.dram_bytes, 4 * 128 * 128.0, 1e-9); /* Q, K, V in; O out */
        /* every valid pair computed: 2 x 128 x 128 x 64 useful MACs */
        CHECK_NEAR(r.utilization, 2.0 * 128 * 128 * 64 / (1024.0 * want), 1e-12);
        if (energy < 0) energy = r.energy_pj;
        CHECK_NEAR(r.energy_pj, energy, 1e-9 * energy); /* baseline independent of density */
    }
}

/* Density 1: the accelerator's array does exactly the baseline's blocks; what
 * it adds is its predictor. Cycles: the first band's pre-process latency,
 * A + B = ceil(128/64) x 64 + 2 x 128 = 384, before the first block can
 * start (later bands run ahead of the array). Energy: the pre-process, pack &
 * split and mask FIFO components, and the pre-process's buffer reads (each
 * Q row once, every K row once per band: 2 bands); the array, the value and
 * output buffers and HBM are equal. */
TEST(sim_sanger_density1_differs_by_predictor) {
    struct ap_sim_report s, b;
    REQUIRE(run_spec("S=128,layers=1,heads=1,density=1", 1, 1, &s));
    REQUIRE(run_spec("S=128,layers=1,heads=1,density=1", 0, 1, &b));
    CHECK_NEAR(s.cycles - b.cycles, 2 * 64 + 2 * 128, 1e-9);
    double arr = ap_sim_report_energy(&b, "systolic_array");
    CHECK_NEAR(ap_sim_report_energy(&s, "systolic_array"), arr, 1e-9 * arr);
    CHECK_NEAR(ap_sim_report_energy(&s, "v_buffer"), ap_sim_report_energy(&b, "v_buffer"), 1e-6);
    CHECK_NEAR(ap_sim_report_energy(&s, "o_buffer"), ap_sim_report_energy(&b, "o_buffer"), 1e-6);
    CHECK_NEAR(ap_sim_report_energy(&s, "hbm"), ap_sim_report_energy(&b, "hbm"), 1e-6);
    CHECK_NEAR(s.dram_bytes, b.dram_bytes, 0);
    CHECK(ap_sim_report_energy(&s, "pre_process") > 0 && ap_sim_report_energy(&s, "pack_split") > 0 && ap_sim_report_energy(&s, "mask_fifo") > 0);
    CHECK_NEAR(ap_sim_report_energy(&b, "pre_process") + ap_sim_report_energy(&b, "pack_split") + ap_sim_report_energy(&b, "mask_fifo"), 0, 0);
    /* buffer reads of the predictor: 128 Q rows and 2 x 128 K rows of 1024 bits */
    struct ap_tech tech;
    REQUIRE(ap_tech_load(55, NULL, &tech) == AP_OK);
    double bit = ap_tech_sram_pj_per_bit(&tech, 131072.0 / 64);
    CHECK_NEAR(ap_sim_report_energy(&s, "q_buffer") - ap_sim_report_energy(&b, "q_buffer"), 128 * 1024.0 * bit, 1e-6);
    CHECK_NEAR(ap_sim_report_energy(&s, "k_buffer") - ap_sim_report_energy(&b, "k_buffer"), 2 * 128 * 1024.0 * bit, 1e-6);
    double pred = ap_sim_report_energy(&s, "pre_process") + ap_sim_report_energy(&s, "pack_split") + ap_sim_report_energy(&s, "mask_fifo") +
                  (128 + 256) * 1024.0 * bit;
    CHECK_NEAR(s.energy_pj - b.energy_pj, pred, 1e-9 * s.energy_pj);
    CHECK_NEAR(ap_sim_report_stat(&s, "util_after"), 1.0, 1e-12);
}

/* 8 of 128 keys kept per row: in a 64-key group X ~ H(128, 8, 64) <= 8 < 16,
 * so a row has one sub-row there unless X = 0, P0 = prod_{i<8} (64-i)/(128-i).
 * A group's 128 (1 - P0) expected sub-rows need 2 blocks, one released by
 * each band (each holds half the rows). Cycles: the load; the first band's
 * pre-process, 384; the two groups' first blocks (256 each, with the fill)
 * and second blocks (128 each), back to back since the second band is ready
 * at 640; the write-back. Without pack each row keeps its sub-row (256 in
 * all): the same blocks and cycles, the utilization before lower than the
 * one after. */
TEST(sim_sanger_sparse_closed_form) {
    double p0 = 1;
    for (int i = 0; i < 8; i++) p0 *= (64.0 - i) / (128.0 - i);
    double used = 128 * (1 - pow(1 - 8 / 128.0, 128));
    double want = load_cycles(128, 128, used) + 384 + 2 * 256 + 2 * 128 + 64;
    struct ap_sim_report r, n;
    REQUIRE(run_spec("S=128,layers=1,heads=1,density=0.0625", 1, 1, &r));
    REQUIRE(run_spec("S=128,layers=1,heads=1,density=0.0625", 1, 0, &n));
    CHECK_NEAR(r.cycles, want, 1e-6);
    CHECK_NEAR(n.cycles, want, 1e-6);
    CHECK_NEAR(ap_sim_report_stat(&r, "blocks"), 4, 1e-9);
    CHECK_NEAR(ap_sim_report_stat(&r, "subrows"), 2 * 128 * (1 - p0), 1e-9);
    CHECK_NEAR(ap_sim_report_stat(&n, "subrows"), 2 * 128, 1e-9);
    /* utilization = kept / (sub-rows x 16) */
    CHECK_NEAR(ap_sim_report_stat(&r, "util_after"), 1024 / (16 * 2 * 128 * (1 - p0)), 1e-9);
    CHECK_NEAR(ap_sim_report_stat(&r, "util_before"), 1024 / (16 * 256.0), 1e-9);
    CHECK(ap_sim_report_stat(&r, "util_before") < ap_sim_report_stat(&r, "util_after"));
    CHECK_NEAR(r.dram_bytes, (128 + 128 + used + 128) * 128, 1e-6);
}

/* 32 of 128 keys per row: X ~ H(128, 32, 64) has mean 16, so rows split:
 * Y = ceil(X/16) in {0, 1, 2}, mean m. A group's 128 m expected sub-rows
 * need E = ceil(128 m / 64) blocks, half released by each band. From the
 * first band's pre-process on (384 after the load) the array never waits:
 * two group fills of 128 and 2E blocks of 128. */
TEST(sim_sanger_split_closed_form) {
    double m = 0;
    for (int x = 0; x <= 32; x++) m += hyper_pmf(128, 32, 64, x) * ceil(x / 16.0);
    double e = ceil(128 * m / 64);
    CHECK(m > 1 && m < 2 && e >= 3 && e <= 4);
    double used = 128 * (1 - pow(1 - 32 / 128.0, 128));
    double want = load_cycles(128, 128, used) + 384 + 2 * 128 + 2 * e * 128 + 64;
    struct ap_sim_report r;
    REQUIRE(run_spec("S=128,layers=1,heads=1,density=0.25", 1, 1, &r));
    CHECK_NEAR(ap_sim_report_stat(&r, "blocks"), 2 * e, 1e-9);
    CHECK_NEAR(ap_sim_report_stat(&r, "subrows"), 2 * 128 * m, 1e-6);
    CHECK_NEAR(r.cycles, want, 1e-6);
    CHECK_NEAR(ap_sim_report_stat(&r, "util_after"), 128 * 32 / (16 * 2 * 128 * m), 1e-9);
}

/* ------------------------------------------------------------ invariants */

/* A denser trace never takes fewer cycles or less energy, for the accelerator
 * with and without pack & split, plain, causal and with uneven rows. */
TEST(sim_sanger_monotone_in_density) {
    const char *shapes[] = {"S=256,layers=2,heads=2", "S=256,layers=1,heads=2,causal=1",
                            "S=200,layers=1,heads=2,spread=0.8,padding=0.1"};
    const double dens[] = {0.01, 0.03, 0.06, 0.1, 0.15, 0.25, 0.4, 0.6, 0.8, 1.0};
    for (int s = 0; s < 3; s++)
        for (int ps = 0; ps <= 1; ps++) {
            double pc = 0, pe = 0;
            for (int i = 0; i < 10; i++) {
                char spec[128];
                snprintf(spec, sizeof spec, "%s,density=%g", shapes[s], dens[i]);
                struct ap_sim_report r;
                REQUIRE(run_spec(spec, 1, ps, &r));
                if (r.cycles < pc - 1e-9 || r.energy_pj < pe - 1e-9)
                    ap_test_fail(__FILE__, __LINE__, "%s pack_split=%d: cycles %.1f < %.1f or energy %.1f < %.1f", spec,
                                 ps, r.cycles, pc, r.energy_pj, pe);
                pc = r.cycles, pe = r.energy_pj;
            }
        }
}

/* HBM traffic never exceeds the no-reuse bound: every query row in and its
 * output out once, every valid key once (the predictor must read each one),
 * and a K and a V row for every kept pair. The pack & split variant and the
 * baseline at any density, causal or not. */
TEST(sim_sanger_traffic_within_no_reuse_bound) {
    const char *shapes[] = {"S=256,layers=1,heads=3", "S=256,layers=1,heads=3,causal=1"};
    const double dens[] = {0.002, 0.01, 0.1, 0.5, 1.0};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 5; i++)
            for (int pr = 0; pr <= 1; pr++) {
                char spec[128];
                snprintf(spec, sizeof spec, "%s,density=%g", shapes[s], dens[i]);
                struct ap_trace t;
                REQUIRE(ap_trace_synthesize(spec, &t) == AP_OK);
                double bound = 0;
                for (int64_t h = 0; h < (int64_t)t.N * t.L * t.H; h++) {
                    const struct ap_trace_head *hd = &t.heads[h];
                    double pairs = pr ? (double)hd->kept : (double)hd->valid;
                    bound += (2.0 * hd->queries + hd->keys + 2 * pairs) * 128;
                }
                ap_trace_free(&t);
                struct ap_sim_report r;
                REQUIRE(run_spec(spec, pr, 1, &r));
                if (!(r.dram_bytes <= bound + 1e-6))
                    ap_test_fail(__FILE__, __LINE__, "%s pruning=%d: %.0f bytes > bound %.0f", spec, pr, r.dram_bytes,
                                 bound);
            }
}

/* A trace carrying Sanger's own statistics: the simulator takes the head's
 * sub-row and block counts from it (not the estimate), and says nothing
 * about estimating. */
TEST(sim_sanger_uses_own_statistics) {
    struct ap_trace t;
    REQUIRE(ap_trace_synthesize("S=128,layers=1,heads=1,density=0.25", &t) == AP_OK);
    /* add the method's four statistics to the one head */
    const char *names[] = {"subrows_after", "subrows_before", "blocks_after", "blocks_before"};
    const double vals[] = {300, 320, 6, 6};
    int32_t P0 = t.P, P1 = t.P + 4;
    char(*nm)[AP_TRACE_NAME_MAX] = realloc(t.head_stat_names, (size_t)P1 * sizeof *nm);
    double *hs = malloc((size_t)P1 * sizeof *hs);
    REQUIRE(nm && hs);
    t.head_stat_names = nm;
    for (int32_t i = 0; i < P0; i++) hs[i] = t.head_stats[i];
    for (int i = 0; i < 4; i++) {
        snprintf(nm[P0 + i], AP_TRACE_NAME_MAX, "%s", names[i]);
        hs[P0 + i] = vals[i];
    }
    free(t.head_stats);
    t.head_stats = hs, t.P = P1;
    char path[256];
    REQUIRE(write_cfg(path, 1, 1, NULL));
    struct ap_sim_arch a;
    struct ap_sim_report r;
    REQUIRE(ap_sim_arch_load(path, &a) == AP_OK);
    CHECK_STATUS(ap_sim_run_arch(&a, &t, &r), AP_OK);
    ap_sim_arch_free(&a);
    unlink(path);
    CHECK_NEAR(ap_sim_report_stat(&r, "blocks"), 6, 1e-9);
    CHECK_NEAR(ap_sim_report_stat(&r, "subrows"), 300, 1e-9);
    CHECK_NEAR(ap_sim_report_stat(&r, "util_after"), (double)t.heads[0].kept / (16 * 300.0), 1e-12);
    CHECK_NEAR(ap_sim_report_stat(&r, "util_before"), (double)t.heads[0].kept / (16 * 320.0), 1e-12);
    CHECK(strstr(r.notes, "estimated") == NULL);
    /* 6 blocks of 128 cycles and two group fills on the array */
    for (int32_t i = 0; i < r.n_units; i++)
        if (strcmp(r.unit_busy[i].name, "systolic_array") == 0)
            CHECK_NEAR(r.unit_busy[i].value, 6 * 128 + 2 * 128, 1e-9);
    ap_trace_free(&t);
}

/* Other methods' traces: the estimate is used and noted. */
TEST(sim_sanger_notes_estimate) {
    struct ap_sim_report r;
    REQUIRE(run_spec("S=128,layers=1,heads=1,density=0.2", 1, 1, &r));
    CHECK(strstr(r.notes, "estimated") != NULL);
}

/* ------------------------------------------------------------ configuration */

/* The configuration file at path must be refused, naming needle and the file. */
static void expect_file_error(const char *path, const char *needle) {
    struct ap_trace t;
    REQUIRE(ap_trace_synthesize("S=64,layers=1,heads=1,density=0.5", &t) == AP_OK);
    struct ap_sim_report r;
    enum ap_status st = ap_sc_run_file(path, &t, &r);
    CHECK(st != AP_OK);
    if (st != AP_OK && !strstr(ap_last_error(), needle))
        ap_test_fail(__FILE__, __LINE__, "error '%s' does not name '%s'", ap_last_error(), needle);
    if (st != AP_OK && !strstr(ap_last_error(), path))
        ap_test_fail(__FILE__, __LINE__, "error '%s' does not name the file", ap_last_error());
    ap_trace_free(&t);
}

static void expect_cfg_error(const char *array_extra, const char *needle) {
    char path[256];
    REQUIRE(write_cfg(path, 1, 1, array_extra));
    expect_file_error(path, needle);
    unlink(path);
}

TEST(sim_sanger_config_errors) {
    expect_cfg_error("colums = 64", "colums");   /* unknown key */
    expect_cfg_error("bogus_rows = 1", "bogus_rows");
    /* out-of-range values: pes = 0, pes above ports, a negative bandwidth */
    char path[256];
    snprintf(path, sizeof path, "/tmp/ap_test_sim_sanger_pes_%d.ini", (int)getpid());
    const char *bad[] = {"pes = 0", "pes = 128", "gbytes_per_s = -1"};
    const char *needle[] = {"pes", "pes", "gbytes_per_s"};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(path, "w");
        REQUIRE(f);
        fprintf(f, "[arch]\nkind = sanger\npruning = 1\nclock_mhz = 500\nnode_nm = 55\n[array]\n%s\n%s",
                i < 2 ? bad[i] : "", i == 2 ? "[hbm]\ngbytes_per_s = -1\n" : "");
        fclose(f);
        expect_file_error(path, needle[i]);
    }
    unlink(path);
}

/* The repository's four configurations load, name their baselines, and the
 * accelerator beats its dense array at the paper's SQuAD density. */
TEST(sim_sanger_repo_configs) {
    const char *cfgs[] = {"configs/sanger.ini", "configs/sanger-16x8.ini"};
    struct ap_trace t;
    REQUIRE(ap_trace_synthesize("S=384,layers=1,heads=2,density=0.127", &t) == AP_OK);
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", ap_test_source_dir(), cfgs[i]);
        struct ap_sim_report r;
        CHECK_STATUS(ap_sim_run(path, &t, &r), AP_OK);
        CHECK(r.baseline[0] != 0);
        CHECK(r.speedup_vs_baseline > 1.5);
        CHECK(r.energy_ratio_vs_baseline > 1.0);
    }
    ap_trace_free(&t);
}

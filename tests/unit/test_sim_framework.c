/* test_sim_framework.c — the simulators' shared parts: INI files, the
 * technology table and its node scaling, the components' timing rules,
 * synthetic traces, trace save / read round trip, configuration loading. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/ini_file.h"
#include "sim/components.h"
#include "sim/sim.h"
#include "sim/tech.h"
#include "test.h"
#include "trace/synth.h"
#include "trace/trace_read.h"

static int parse(const char *text, struct ap_ini *ini) { return ap_ini_parse(text, strlen(text), "t.ini", ini); }

TEST(sim_ini_reads_sections_and_refuses_bad_files) {
    struct ap_ini ini;
    CHECK_STATUS(parse("top = 1\n[arch]\nkind = leopard ; a comment\nclock_mhz = 800\n[x]\nv = 2.5e3\n", &ini), AP_OK);
    CHECK_EQ_INT(ini.n, 4);
    CHECK(strcmp(ap_ini_string(&ini, "arch", "kind", NULL), "leopard") == 0);
    double v = 0;
    int64_t k = 0;
    CHECK_STATUS(ap_ini_double(&ini, "x", "v", 0, 0, 1e9, &v), AP_OK);
    CHECK_NEAR(v, 2500, 0);
    CHECK_STATUS(ap_ini_int(&ini, "arch", "clock_mhz", 0, 1, 10000, &k), AP_OK);
    CHECK_EQ_INT(k, 800);
    CHECK_STATUS(ap_ini_double(&ini, "x", "missing", 7, 0, 10, &v), AP_OK);
    CHECK_NEAR(v, 7, 0);
    /* out of range and not a number name the key */
    CHECK_STATUS(ap_ini_double(&ini, "x", "v", 0, 0, 100, &v), AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "[x] v") != NULL);
    CHECK_STATUS(ap_ini_int(&ini, "arch", "kind", 0, 0, 10, &k), AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "expected an integer") != NULL);
    /* "top" was never asked for */
    CHECK_STATUS(ap_ini_check_used(&ini), AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "unknown key 'top'") != NULL);
    ap_ini_free(&ini);

    CHECK_STATUS(parse("[a]\nx = 1\nx = 2\n", &ini), AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "given twice") != NULL);
    ap_ini_free(&ini);
    CHECK_STATUS(parse("[a]\nx = 1\nnot a key line\n", &ini), AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "t.ini:3") != NULL);
    ap_ini_free(&ini);
    CHECK_STATUS(ap_ini_parse("a = 1\0b", 7, "t.ini", &ini), AP_ERR_FORMAT);
    ap_ini_free(&ini);
}

TEST(sim_tech_scaling_follows_cv2) {
    /* (65/45) · (1.1/0.9)² and (40/45) · 1 */
    CHECK_NEAR(ap_tech_scale(45, 65), 65.0 / 45.0 * (1.1 * 1.1) / (0.9 * 0.9), 1e-12);
    CHECK_NEAR(ap_tech_scale(45, 40), 40.0 / 45.0, 1e-12);
    CHECK_NEAR(ap_tech_scale(65, 65), 1.0, 1e-15);
    CHECK_NEAR(ap_tech_scale(45, 65) * ap_tech_scale(65, 45), 1.0, 1e-12);
    /* 55 nm: 1.0 V */
    CHECK_NEAR(ap_tech_scale(45, 55), 55.0 / 45.0 * 1.0 / 0.81, 1e-12);
    struct ap_tech t45, t65;
    CHECK_STATUS(ap_tech_load(45, NULL, &t45), AP_OK);
    CHECK_STATUS(ap_tech_load(65, NULL, &t65), AP_OK);
    /* Horowitz's 45 nm figures come back at 45 nm */
    CHECK_NEAR(ap_tech_mac_pj(&t45, 8, 8), 0.2 + 16 * 0.1 / 32, 1e-12);
    CHECK_NEAR(t45.fp32_mul_pj, 3.7, 1e-12);
    CHECK_NEAR(ap_tech_sram_pj_per_bit(&t45, 8192) * 64, 10.0, 1e-9);
    CHECK_NEAR(ap_tech_sram_pj_per_bit(&t45, 32768) * 64, 20.0, 1e-9);
    CHECK_NEAR(t65.fp16_add_pj / t45.fp16_add_pj, ap_tech_scale(45, 65), 1e-12);
    /* memories off the logic node are not scaled */
    CHECK_NEAR(t65.hbm_pj_per_bit, t45.hbm_pj_per_bit, 0);
    CHECK_NEAR(t65.reram_read_pj_per_bit, 3.1, 0);
    /* overrides, and a key that is not in the table */
    struct ap_ini ini;
    CHECK_STATUS(parse("[tech]\nhbm_pj_per_bit = 7\n", &ini), AP_OK);
    CHECK_STATUS(ap_tech_load(65, &ini, &t65), AP_OK);
    CHECK_NEAR(t65.hbm_pj_per_bit, 7, 0);
    ap_ini_free(&ini);
    CHECK_STATUS(parse("[tech]\nhbm_pj = 7\n", &ini), AP_OK);
    CHECK_STATUS(ap_tech_load(65, &ini, &t65), AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "hbm_pj") != NULL);
    ap_ini_free(&ini);
}

TEST(sim_components_timing_rules) {
    struct ap_tech t;
    CHECK_STATUS(ap_tech_load(45, NULL, &t), AP_OK);
    /* SRAM: 4 banks × 64 bits = 32 bytes per cycle */
    struct ap_sram m;
    ap_sram_init(&m, "buf", 32768, 4, 64, &t);
    CHECK_NEAR(ap_sram_read(&m, 100), 4, 0); /* ceil(800 / 256) */
    CHECK_NEAR(ap_sram_write(&m, 32), 1, 0);
    CHECK_NEAR(ap_sram_energy_pj(&m), 132 * 8 * ap_tech_sram_pj_per_bit(&t, 8192), 1e-9);
    /* DRAM: 16 channels of 32 GB/s at 1 GHz = 32 B/cycle each; 3 requests of
     * 33 bytes = 6 transactions of 32 bytes */
    struct ap_dram d;
    ap_dram_init(&d, "hbm", 16, 32, 32, 3.9, 1e9);
    CHECK_NEAR(ap_dram_read(&d, 3, 33), 192.0 / (16 * 32), 1e-12);
    CHECK_NEAR(d.bytes, 192, 0);
    CHECK_NEAR(d.requested_bytes, 99, 0);
    CHECK_NEAR(d.transactions, 6, 0);
    CHECK_NEAR(ap_dram_energy_pj(&d), 192 * 8 * 3.9, 1e-9);
    /* FIFO of 2: five entries offered at time 0, 10 cycles each. They leave
     * at 10, 20, 30, 40, 50; entry k (k >= 2) enters when k-2 has left:
     * stalls 0 + 0 + 10 + 20 + 30 = 60. */
    struct ap_fifo f;
    CHECK_STATUS(ap_fifo_init(&f, "q", 2, 24, &t), AP_OK);
    double done = 0, enter[5];
    for (int k = 0; k < 5; k++) enter[k] = ap_fifo_push(&f, 0, 10, &done);
    CHECK_NEAR(done, 50, 0);
    CHECK_NEAR(enter[2], 10, 0);
    CHECK_NEAR(enter[4], 30, 0);
    CHECK_NEAR(f.stall_cycles, 60, 0);
    CHECK_NEAR(f.max_occupancy, 2, 0);
    ap_fifo_free(&f);
    /* a consumer faster than the producer: no stall, one entry at a time */
    CHECK_STATUS(ap_fifo_init(&f, "q", 4, 8, &t), AP_OK);
    for (int k = 0; k < 10; k++) ap_fifo_push(&f, 5.0 * k, 2, &done);
    CHECK_NEAR(f.stall_cycles, 0, 0);
    CHECK_NEAR(f.max_occupancy, 1, 0);
    CHECK_NEAR(done, 47, 0);
    ap_fifo_free(&f);
    /* sized entries: 1.5 units in a FIFO of 2 hold one at a time, so three
     * offered at 0 for 10 cycles enter at 0, 10, 20 (stall 30); an entry
     * larger than the FIFO enters alone, when it is empty */
    CHECK_STATUS(ap_fifo_init_sized(&f, "q", 2.0, 16, 64, &t), AP_OK);
    for (int k = 0; k < 3; k++) enter[k] = ap_fifo_push_sized(&f, 0, 1.5, 10, &done);
    CHECK_NEAR(enter[1], 10, 0);
    CHECK_NEAR(enter[2], 20, 0);
    CHECK_NEAR(f.stall_cycles, 30, 0);
    CHECK_NEAR(ap_fifo_push_sized(&f, 0, 5.0, 10, &done), 30, 0);
    CHECK_NEAR(done, 40, 0);
    ap_fifo_book(&f, 2.5);
    CHECK_NEAR(ap_fifo_energy_pj(&f), 2.0 * (4.5 + 5.0 + 2.5) * 64 * f.pj_per_bit, 1e-9);
    ap_fifo_free(&f);
    struct ap_pe_array p;
    ap_pe_init(&p, "pe", 64, 8, 8, &t);
    p.macs = 64 * 50, p.busy_cycles = 100;
    CHECK_NEAR(ap_pe_utilization(&p, 100), 0.5, 1e-15);
    CHECK_NEAR(ap_pe_energy_pj(&p), 3200 * ap_tech_mac_pj(&t, 8, 8), 1e-9);
}

TEST(sim_synthetic_trace_closed_forms) {
    struct ap_trace t;
    CHECK_STATUS(ap_trace_synthesize("S=64,d=32,layers=1,heads=1,density=0.25,bits=8,locality=0.5", &t), AP_OK);
    REQUIRE(t.rows != NULL);
    CHECK_EQ_INT(t.heads[0].valid, 64 * 64);
    CHECK_EQ_INT(t.heads[0].kept, 1024);
    int64_t sum = 0;
    for (int i = 0; i < 64; i++) {
        sum += t.rows[i];
        CHECK_EQ_INT(t.rows[i], 16);
    }
    CHECK_EQ_INT(sum, 1024);
    /* LEOPARD: 8 bits for each of 3072 pruned, 12 for each kept; 6 steps of 2 bits per kept */
    CHECK_NEAR(t.head_stats[ap_trace_head_stat(&t, "kbits_pruned")], 8.0 * 3072, 1e-9);
    CHECK_NEAR(t.head_stats[ap_trace_head_stat(&t, "kbits_kept")], 12.0 * 1024, 1e-9);
    CHECK_NEAR(t.head_stats[ap_trace_head_stat(&t, "steps_kept")], 6.0 * 1024, 1e-9);
    /* SPRINT: the first row's 16 keys, then min(16, 0.5 · 64) = 16 new per row */
    CHECK_NEAR(t.head_stats[ap_trace_head_stat(&t, "first_fetch")], 16, 0);
    CHECK_NEAR(t.head_stats[ap_trace_head_stat(&t, "fetched")], 16 + 63 * 16, 0);
    CHECK_NEAR(t.head_stats[ap_trace_head_stat(&t, "reused")], 0, 0);
    ap_trace_free(&t);

    /* causal with padding: 48 valid positions, row r sees r + 1 keys */
    CHECK_STATUS(ap_trace_synthesize("S=64,layers=1,heads=1,causal=1,padding=0.25,density=0.5", &t), AP_OK);
    CHECK_EQ_INT(t.heads[0].queries, 48);
    CHECK_EQ_INT(t.heads[0].valid, 48 * 49 / 2);
    CHECK_EQ_INT(t.heads[0].kept, 588); /* round(0.5 · 1176) */
    int32_t kept[64], valid[64];
    CHECK_EQ_INT(ap_sim_head_rows(&t, 0, kept, valid), 48);
    for (int r = 0; r < 48; r++) CHECK(kept[r] <= valid[r] && valid[r] == r + 1);
    ap_trace_free(&t);

    /* a cascade over 5 layers with mean 0.2: layer l prunes 0.1 · l of 100 tokens */
    CHECK_STATUS(ap_trace_synthesize("S=100,layers=5,heads=10,token_prune=0.2,head_prune=0.1", &t), AP_OK);
    const int want_tokens[5] = {100, 90, 80, 70, 60}, want_heads[5] = {10, 10, 9, 9, 8};
    double mean = 0;
    for (int l = 0; l < 5; l++) {
        CHECK_EQ_INT(t.tokens_active[l], want_tokens[l]);
        CHECK_EQ_INT(t.heads_active[l], want_heads[l]);
        mean += (100.0 - t.tokens_active[l]) / 100.0 / 5;
        CHECK_EQ_INT(t.heads[l * 10 + want_heads[l] - 1].queries, want_tokens[l]);
        if (want_heads[l] < 10) CHECK_EQ_INT(t.heads[l * 10 + 9].queries, 0);
    }
    CHECK_NEAR(mean, 0.2, 1e-12);
    ap_trace_free(&t);

    /* a generation step: one query against S keys */
    CHECK_STATUS(ap_trace_synthesize("S=256,layers=1,heads=2,queries=1,density=0.5", &t), AP_OK);
    CHECK_EQ_INT(t.heads[1].queries, 1);
    CHECK_EQ_INT(t.heads[1].valid, 256);
    CHECK_EQ_INT(t.heads[1].kept, 128);
    ap_trace_free(&t);

    CHECK_STATUS(ap_trace_synthesize("S=64,density=1.5", &t), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "density=1.5") != NULL);
    CHECK_STATUS(ap_trace_synthesize("S=64,dens=0.5", &t), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "unknown key 'dens'") != NULL);
    CHECK_STATUS(ap_trace_synthesize("S=64,bits=13", &t), AP_ERR_INVALID_ARG);
    CHECK_STATUS(ap_trace_synthesize("S=65536,layers=64,heads=64", &t), AP_ERR_INVALID_ARG);
}

TEST(sim_synthetic_trace_saved_reads_back) {
    struct ap_trace t, back;
    CHECK_STATUS(ap_trace_synthesize("S=40,layers=3,heads=2,density=0.3,spread=0.5,token_prune=0.1", &t), AP_OK);
    char dir[] = "/tmp/ap_synth_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char out[64];
    snprintf(out, sizeof out, "%s/trace", dir);
    CHECK_STATUS(ap_trace_save(&t, out), AP_OK);
    CHECK_STATUS(ap_trace_save(&t, out), AP_OK); /* replaces its own trace */
    CHECK_STATUS(ap_trace_read(out, &back), AP_OK);
    CHECK_EQ_INT(back.N * back.L * back.H, t.N * t.L * t.H);
    CHECK_EQ_INT(back.P, t.P);
    CHECK(strcmp(back.method, "synthetic") == 0);
    for (int64_t i = 0; i < (int64_t)t.N * t.L * t.H; i++) {
        CHECK_EQ_INT(back.heads[i].kept, t.heads[i].kept);
        CHECK_EQ_INT(back.heads[i].valid, t.heads[i].valid);
        for (int32_t p = 0; p < t.P; p++) CHECK_NEAR(back.head_stats[i * t.P + p], t.head_stats[i * t.P + p], 0);
    }
    REQUIRE(back.rows != NULL);
    CHECK(memcmp(back.rows, t.rows, sizeof(int32_t) * (size_t)t.N * t.L * t.H * t.T) == 0);
    CHECK(strcmp(ap_trace_param(&back, "spread"), "0.5") == 0);
    ap_trace_free(&back);
    /* a directory that is not a trace is never replaced */
    char other[96];
    snprintf(other, sizeof other, "%s/other", dir);
    REQUIRE(mkdir(other, 0755) == 0);
    CHECK_STATUS(ap_trace_save(&t, other), AP_ERR_IO);
    CHECK(strstr(ap_last_error(), "not a trace directory") != NULL);
    rmdir(other);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    ap_trace_free(&t);
}

/* Write text to dir/name; returns the path in buf. */
static const char *write_file(const char *dir, const char *name, const char *text, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", dir, name);
    FILE *f = fopen(buf, "w");
    if (f) fputs(text, f), fclose(f);
    return buf;
}

TEST(sim_arch_loading_refuses_bad_configs) {
    char dir[] = "/tmp/ap_arch_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char p[128];
    struct ap_sim_arch a;
    CHECK_STATUS(ap_sim_arch_load(write_file(dir, "ok.ini",
                                             "[arch]\nkind = sanger\nclock_mhz = 500\nnode_nm = 55\n"
                                             "baseline = ok-baseline.ini\narea_mm2 = 16.9\n",
                                             p, sizeof p),
                                  &a),
                 AP_OK);
    CHECK(strcmp(a.name, "ok") == 0);
    CHECK_NEAR(a.clock_hz, 5e8, 0);
    CHECK_EQ_INT(a.pruning, 1);
    char want[160];
    snprintf(want, sizeof want, "%s/ok-baseline.ini", dir);
    CHECK(strcmp(a.baseline_path, want) == 0);
    CHECK_NEAR(a.tech.fp16_mul_pj, 1.1 * ap_tech_scale(45, 55), 1e-12);
    ap_sim_arch_free(&a);
    CHECK_STATUS(ap_sim_arch_load(write_file(dir, "k.ini", "[arch]\nkind = tpu\nclock_mhz = 1\nnode_nm = 7\n", p,
                                             sizeof p),
                                  &a),
                 AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "kind = 'tpu'") != NULL);
    ap_sim_arch_free(&a);
    CHECK_STATUS(ap_sim_arch_load(write_file(dir, "c.ini", "[arch]\nkind = leopard\nnode_nm = 65\n", p, sizeof p), &a),
                 AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "clock_mhz is required") != NULL);
    ap_sim_arch_free(&a);
    CHECK_STATUS(ap_sim_arch_load(write_file(dir, "r.ini", "[arch]\nkind = leopard\nclock_mhz = 800\nnode_nm = 65\n"
                                                         "pruning = 2\n",
                                             p, sizeof p),
                                  &a),
                 AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "pruning") != NULL);
    ap_sim_arch_free(&a);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

TEST(sim_head_rows_spread_and_dense_ops) {
    struct ap_trace t;
    CHECK_STATUS(ap_trace_synthesize("S=10,d=4,layers=2,heads=3,density=0.33", &t), AP_OK);
    /* without rows.npy a head's kept keys are spread evenly over its rows */
    free(t.rows);
    t.rows = NULL;
    t.heads[0].kept = 33;
    int32_t kept[10], valid[10];
    CHECK_EQ_INT(ap_sim_head_rows(&t, 0, kept, valid), 10);
    for (int r = 0; r < 10; r++) {
        CHECK_EQ_INT(kept[r], r < 3 ? 4 : 3);
        CHECK_EQ_INT(valid[r], 10);
    }
    /* 100 valid pairs x 6 heads x 4·d operations */
    CHECK_NEAR(ap_sim_dense_ops(&t), 100.0 * 6 * 16, 0);
    ap_trace_free(&t);
}

TEST(sim_accelerators_lists_configs_naming_a_baseline) {
    char dir[] = "/tmp/ap_accel_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char p[128];
    const char *arch = "[arch]\nkind = sanger\nclock_mhz = 500\nnode_nm = 55\n";
    char with_base[256];
    snprintf(with_base, sizeof with_base, "%sbaseline = z-base.ini\n", arch);
    write_file(dir, "z-base.ini", arch, p, sizeof p);
    write_file(dir, "b.ini", with_base, p, sizeof p);
    write_file(dir, "a.ini", with_base, p, sizeof p);
    write_file(dir, "notes.txt", "not a configuration", p, sizeof p);
    char **paths = NULL;
    int32_t n = -1;
    CHECK_STATUS(ap_sim_accelerators(dir, &paths, &n), AP_OK);
    REQUIRE(n == 2);
    char want[160];
    snprintf(want, sizeof want, "%s/a.ini", dir);
    CHECK(strcmp(paths[0], want) == 0); /* sorted; the baseline itself is not listed */
    snprintf(want, sizeof want, "%s/b.ini", dir);
    CHECK(strcmp(paths[1], want) == 0);
    ap_sim_paths_free(paths, n);
    /* a configuration that does not load is an error naming it */
    write_file(dir, "c.ini", "[arch]\nkind = tpu\n", p, sizeof p);
    CHECK_STATUS(ap_sim_accelerators(dir, &paths, &n), AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "c.ini") != NULL);
    CHECK(paths == NULL && n == 0);
    CHECK_STATUS(ap_sim_accelerators("/nonexistent/configs", &paths, &n), AP_ERR_IO);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

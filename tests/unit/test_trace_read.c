/* test_trace_read.c — the trace reader (src/trace/trace_read.c): a trace
 * written by ap_trace_write on real text read back and checked against
 * itself (rows.npy against heads.csv, the method's statistic names), a
 * minimal hand-written trace, and every kind of malformed input refused
 * with a message naming the file and line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attnprune.h"
#include "methods/method.h"
#include "test.h"
#include "trace/trace_read.h"

/* A written trace of sanger on 2 chunks of 64 tokens of Emma, read back:
 * shapes from the model, the method's statistic names in order, every
 * head's kept pairs equal to the sum of its rows in rows.npy (written
 * from the mask, not from the count), valid = queries x keys (no padding,
 * bidirectional), a parameter with its default filled in. */
TEST(trace_read_round_trip) {
    const char *model = getenv("AP_MODEL_DIR"), *src = getenv("AP_SOURCE_DIR");
    REQUIRE(model && src);
    char text[4096], dir[256];
    snprintf(text, sizeof text, "%s/data/austen/emma.txt", src);
    snprintf(dir, sizeof dir, "/tmp/ap_trace_read_%ld", (long)getpid());
    struct ap_eval_params ep = ap_eval_default_params();
    ep.chunk_tokens = 64;
    ep.max_tokens = 128;
    ep.n_threads = 2;
    CHECK_STATUS(ap_trace_write(model, text, "sanger:t=1e-2", ep, dir), AP_OK);
    struct ap_trace t;
    CHECK_STATUS(ap_trace_read(dir, &t), AP_OK);
    CHECK_EQ_INT(t.N, 2);
    CHECK_EQ_INT(t.L, 6);
    CHECK_EQ_INT(t.H, 12);
    CHECK_EQ_INT(t.T, 64);
    CHECK_EQ_INT(t.d, 32);
    CHECK(strcmp(t.method, "sanger") == 0);
    CHECK(t.param_keys && ap_trace_param(&t, "bits") && strcmp(ap_trace_param(&t, "bits"), "4") == 0);
    CHECK(ap_trace_param(&t, "t") && strcmp(ap_trace_param(&t, "t"), "1e-2") == 0);
    CHECK(ap_trace_param(&t, "no_such_key") == NULL);
    struct ap_method *m = NULL;
    CHECK_STATUS(ap_method_create("sanger", &m), AP_OK);
    const struct ap_method_ops *ops = ap_method_ops_of(m);
    CHECK_EQ_INT(t.P, ops->n_stats);
    for (int32_t i = 0; i < t.P && i < ops->n_stats; i++) CHECK(strcmp(t.head_stat_names[i], ops->stat_names[i]) == 0);
    CHECK_EQ_INT(ap_trace_head_stat(&t, "kept"), 0);
    CHECK_EQ_INT(ap_trace_head_stat(&t, "absent"), -1);
    REQUIRE(t.rows);
    int64_t bad = 0, kept_total = 0, valid_total = 0;
    for (int64_t r = 0; r < (int64_t)t.N * t.L * t.H; r++) {
        int64_t sum = 0;
        for (int32_t i = 0; i < t.T; i++) sum += t.rows[r * t.T + i];
        bad += sum != t.heads[r].kept;
        bad += t.heads[r].valid != (int64_t)t.heads[r].queries * t.heads[r].keys;
        bad += t.head_stats[r * t.P + 0] != (double)t.heads[r].kept; /* sanger's "kept" statistic */
        kept_total += t.heads[r].kept;
        valid_total += t.heads[r].valid;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(kept_total > 0 && kept_total < valid_total);
    for (int64_t r = 0; r < (int64_t)t.N * t.L; r++) CHECK_EQ_INT(t.heads_active[r], 12);
    ap_method_free(m);
    ap_trace_free(&t);
    char p[300];
    static const char *const files[] = {"trace.json", "heads.csv", "layers.csv", "rows.npy"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static const char g_json[] = "{\"format\":\"attnprune-trace\",\"version\":1,\"model\":\"m\",\"architecture\":\"x\","
                             "\"layers\":1,\"heads\":2,\"head_dim\":4,\"hidden\":8,\"chunks\":1,\"tokens_per_chunk\":3,"
                             "\"causal\":false,\"method\":\"toy\",\"params\":{\"t\":\"0.5\"},"
                             "\"head_stats\":[\"a\",\"b\"],\"layer_stats\":[\"z\"]}";
static const char g_heads[] = "chunk,layer,head,queries,keys,valid,kept,a,b\n0,0,0,3,3,9,4,1.5,2\n0,0,1,3,3,9,9,0,-1e3\n";
static const char g_layers[] = "chunk,layer,tokens_active,heads_active,z\n0,0,3,2,7\n";

/* Parses the three texts; returns the status (the trace is freed). */
static enum ap_status parse3(const char *json, const char *heads, const char *layers) {
    struct ap_trace t;
    enum ap_status st = ap_trace_parse(json, strlen(json), heads, strlen(heads), layers, strlen(layers), "toy", &t);
    ap_trace_free(&t);
    return st;
}

/* A minimal hand-written trace: every field where it should be. */
TEST(trace_read_minimal) {
    struct ap_trace t;
    CHECK_STATUS(ap_trace_parse(g_json, strlen(g_json), g_heads, strlen(g_heads), g_layers, strlen(g_layers), "toy",
                                &t),
                 AP_OK);
    CHECK_EQ_INT(t.L * t.H * t.N, 2);
    CHECK_EQ_INT(t.heads[1].kept, 9);
    CHECK_NEAR(t.head_stats[0 * 2 + 0], 1.5, 0);
    CHECK_NEAR(t.head_stats[1 * 2 + 1], -1000.0, 0);
    CHECK_NEAR(t.layer_stats[0], 7.0, 0);
    CHECK_EQ_INT(t.tokens_active[0], 3);
    CHECK(strcmp(ap_trace_param(&t, "t"), "0.5") == 0);
    CHECK_EQ_INT(ap_trace_layer_stat(&t, "z"), 0);
    CHECK(t.rows == NULL);
    ap_trace_free(&t);
    /* without the trailing newline too */
    CHECK_STATUS(parse3(g_json, "chunk,layer,head,queries,keys,valid,kept,a,b\n0,0,0,3,3,9,4,1.5,2\n0,0,1,3,3,9,9,0,0",
                        g_layers),
                 AP_OK);
}

/* Malformed input: refused with AP_ERR_FORMAT and a message naming what
 * is wrong (file, line or key). */
TEST(trace_read_refuses_bad_input) {
    static const struct {
        const char *json, *heads, *layers, *needle;
    } bad[] = {
        {"{", g_heads, g_layers, "not valid JSON"},
        {"{\"format\":\"other\"}", g_heads, g_layers, "attnprune-trace"},
        {"{\"format\":\"attnprune-trace\",\"version\":2}", g_heads, g_layers, "version"},
        {g_json, "chunk,layer,head,queries,keys,valid,kept,a\n", g_layers, "header has 8 columns"},
        {g_json, "chunk,layer,head,queries,keys,valid,kept,a,c\n", g_layers, "column 9 is 'c', expected 'b'"},
        {g_json, "chunk,layer,head,queries,keys,valid,kept,a,b\n0,0,0,3,3,9,4,1.5\n", g_layers, "heads.csv:2: 8 fields"},
        {g_json, "chunk,layer,head,queries,keys,valid,kept,a,b\n0,0,2,3,3,9,4,1,2\n", g_layers, "head is '2'"},
        {g_json, "chunk,layer,head,queries,keys,valid,kept,a,b\n0,0,0,3,3,9,x4,1,2\n", g_layers, "kept is 'x4'"},
        {g_json, "chunk,layer,head,queries,keys,valid,kept,a,b\n0,0,0,3,3,5,6,1,2\n", g_layers, "kept <= valid"},
        {g_json, "chunk,layer,head,queries,keys,valid,kept,a,b\n0,0,0,3,3,9,4,nan,2\n", g_layers, "finite number"},
        {g_json, "chunk,layer,head,queries,keys,valid,kept,a,b\n0,0,0,3,3,9,4,1,2\n0,0,0,3,3,9,4,1,2\n", g_layers,
         "appears twice"},
        {g_json, "chunk,layer,head,queries,keys,valid,kept,a,b\n0,0,0,3,3,9,4,1,2\n", g_layers, "1 head rows, expected 2"},
        {g_json, g_heads, "chunk,layer,tokens_active,heads_active,z\n", "0 layer rows, expected 1"},
        {g_json, g_heads, "chunk,layer,tokens_active,heads_active,z\n0,0,3,3,7\n", "heads_active is '3'"},
        {g_json, "", g_layers, "empty, expected a header"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum ap_status st = parse3(bad[i].json, bad[i].heads, bad[i].layers);
        if (st != AP_ERR_FORMAT || !strstr(ap_last_error(), bad[i].needle))
            ap_test_fail(__FILE__, __LINE__, "case %zu: status %d, message '%s', expected AP_ERR_FORMAT naming '%s'",
                         i, (int)st, ap_last_error(), bad[i].needle);
    }
    struct ap_trace t;
    CHECK_STATUS(ap_trace_read("/nonexistent/trace", &t), AP_ERR_IO);
    CHECK(strstr(ap_last_error(), "/nonexistent/trace/trace.json") != NULL);
}

/* test_spatten.c — SpAtten: the cascade's decisions against
 * tests/ref/method_spatten.py on synthetic per-layer inputs (a C harness
 * plays the model's part), the per-head masks (local value pruning,
 * progressive quantization) against the same reference on the Q/K/V
 * fixtures, hand cases for the MSB/LSB quantizer and the progressive
 * quantization decision, parameter errors, padding / causal handling, and
 * the real model: active tokens and heads after every layer follow the
 * keep-ratio schedule. (The slides' top-k example is in test_topk.c.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "io/json_file.h"
#include "io/npy.h"
#include "kernels/progressive.h"
#include "method_check.h"
#include "methods/method.h"
#include "model/model.h"
#include "quant/msb_lsb.h"
#include "test.h"

#define TIE_REL 1e-6 /* a C/NumPy mask difference this close (relative) to a row's k-th largest is a tie */

/* ------------------------------------------------------------- the cascade */

/* One synthetic case: feed each layer's key_prob / head_out_abs to end_layer
 * as the model would (zero for pruned heads and tokens) and compare the
 * active sets and layer statistics after every layer. */
static void check_cascade_case(const cJSON *c, const cJSON *stat_names, int64_t *decisions) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
    const char *params = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "params"));
    const int32_t L = (int32_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "L"));
    const int32_t H = (int32_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "H"));
    const int32_t T = (int32_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "T"));
    REQUIRE(name && params && L > 0 && H > 0 && T > 0);
    char buf[256], spec[512];
    struct ap_npy *kp = NULL, *hoa = NULL, *tok = NULL, *head = NULL, *lst = NULL;
    snprintf(buf, sizeof buf, "spatten_cascade_%s_key_prob.npy", name);
    kp = REF_OPEN_ANY(buf, "method_spatten.py");
    snprintf(buf, sizeof buf, "spatten_cascade_%s_head_out_abs.npy", name);
    hoa = REF_OPEN_ANY(buf, "method_spatten.py");
    snprintf(buf, sizeof buf, "spatten_cascade_%s_token_active.npy", name);
    tok = REF_OPEN_ANY(buf, "method_spatten.py");
    snprintf(buf, sizeof buf, "spatten_cascade_%s_head_active.npy", name);
    head = REF_OPEN_ANY(buf, "method_spatten.py");
    snprintf(buf, sizeof buf, "spatten_cascade_%s_layer_stats.npy", name);
    lst = REF_OPEN_ANY(buf, "method_spatten.py");
    struct ap_method *m = NULL;
    double *key_prob = malloc(sizeof(double) * (size_t)H * T), *head_abs = malloc(sizeof(double) * (size_t)H);
    uint8_t *tact = malloc((size_t)T), *hact = malloc((size_t)H);
    if (!kp || !hoa || !tok || !head || !lst || !key_prob || !head_abs || !tact || !hact) goto out;
    snprintf(spec, sizeof spec, "spatten%s%s", *params ? ":" : "", params);
    CHECK_STATUS(ap_method_create(spec, &m), AP_OK);
    if (!m) goto out;
    const struct ap_method_ops *ops = ap_method_ops_of(m);
    const int32_t n_ls = cJSON_GetArraySize(stat_names);
    REQUIRE(ops->n_layer_stats == n_ls && lst->shape[1] == n_ls);
    for (int32_t s = 0; s < n_ls; s++)
        CHECK(strcmp(ops->layer_stat_names[s], cJSON_GetStringValue(cJSON_GetArrayItem(stat_names, s))) == 0);
    CHECK_STATUS(ops->begin_sequence(ap_method_state(m), T, L, H), AP_OK);
    memset(tact, 1, (size_t)T);
    memset(hact, 1, (size_t)H);
    int bad = 0;
    for (int32_t l = 0; l < L && !bad; l++) {
        for (int32_t h = 0; h < H; h++) {
            head_abs[h] = hact[h] ? ap_mc_f64(hoa, (int64_t)l * H + h) : 0.0;
            for (int32_t j = 0; j < T; j++)
                key_prob[(int64_t)h * T + j] = hact[h] && tact[j] ? ap_mc_f64(kp, ((int64_t)l * H + h) * T + j) : 0.0;
        }
        struct ap_layer_view view = {.layer = l, .n_layers = L, .n_tokens = T, .n_heads = H, .key_prob = key_prob,
                                     .head_out_abs = head_abs, .token_active = tact, .head_active = hact};
        CHECK_STATUS(ops->end_layer(ap_method_state(m), &view), AP_OK);
        const uint8_t *want_t = (const uint8_t *)tok->data + (int64_t)l * T;
        const uint8_t *want_h = (const uint8_t *)head->data + (int64_t)l * H;
        for (int32_t j = 0; j < T && !bad; j++)
            if ((tact[j] != 0) != (want_t[j] != 0)) {
                ap_test_fail(__FILE__, __LINE__, "%s %s: after layer %d token %d is %s in C, %s in NumPy", name, spec,
                             l, j, tact[j] ? "active" : "pruned", want_t[j] ? "active" : "pruned");
                bad = 1;
            }
        for (int32_t h = 0; h < H && !bad; h++)
            if ((hact[h] != 0) != (want_h[h] != 0)) {
                ap_test_fail(__FILE__, __LINE__, "%s %s: after layer %d head %d is %s in C, %s in NumPy", name, spec,
                             l, h, hact[h] ? "active" : "pruned", want_h[h] ? "active" : "pruned");
                bad = 1;
            }
        for (int32_t s = 0; s < n_ls && !bad; s++)
            if (view.stats[s] != ap_mc_f64(lst, (int64_t)l * n_ls + s)) {
                ap_test_fail(__FILE__, __LINE__, "%s %s: layer %d stat %s: C %g, NumPy %g", name, spec, l,
                             ops->layer_stat_names[s], view.stats[s], ap_mc_f64(lst, (int64_t)l * n_ls + s));
                bad = 1;
            }
        *decisions += T + H;
    }
out:
    ap_method_free(m);
    free(key_prob);
    free(head_abs);
    free(tact);
    free(hact);
    ap_npy_close(kp);
    ap_npy_close(hoa);
    ap_npy_close(tok);
    ap_npy_close(head);
    ap_npy_close(lst);
}

TEST(spatten_cascade_matches_numpy) {
    const char *dir = ap_test_fixture_dir();
    REQUIRE(dir != NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s/spatten_cascade_settings.json", dir);
    cJSON *root = NULL;
    if (ap_json_load(path, &root) != AP_OK) {
        ap_test_fail(__FILE__, __LINE__, "%s; make it with 'make test' (tests/ref/method_spatten.py --fixtures %s)",
                     ap_last_error(), dir);
        return;
    }
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases"), *c;
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(root, "layer_stats");
    int64_t decisions = 0, n = 0;
    if (cJSON_IsArray(cases) && cJSON_IsArray(names))
        cJSON_ArrayForEach(c, cases) {
            check_cascade_case(c, names, &decisions);
            n++;
        }
    CHECK(n >= 5);
    fprintf(stderr, "    %lld cascade cases: %lld token/head decisions and every layer statistic identical\n",
            (long long)n, (long long)decisions);
    cJSON_Delete(root);
}

/* ------------------------------------------------------- per-head masks */

TEST(spatten_masks_match_numpy) {
    struct ap_test_ref_totals t = {0};
    CHECK_METHOD_AGAINST_REF("spatten", "spatten", TIE_REL, &t);
    fprintf(stderr, "    spatten: %lld settings, %lld heads, %lld pairs: %lld differ, all %lld of them ties\n",
            (long long)t.settings, (long long)t.heads, (long long)t.pairs, (long long)t.differing, (long long)t.ties);
    CHECK(t.settings >= 2);
}

TEST(spatten_value_pruning_padding_causal) {
    const float q[] = {1, 1, 0, 1}, k[] = {0, 1, 2, 3};
    const uint8_t kv[] = {1, 1, 1, 0}, qv[] = {1, 0, 1, 1};
    uint8_t mask[16];
    struct ap_head_output out;
    /* Value pruning off: every valid pair, mask NULL. */
    RUN_TINY("spatten", q, k, 4, 4, 1, kv, qv, mask, &out);
    CHECK(out.mask == NULL);
    CHECK_EQ_INT(out.valid, 1 + 3 + 3);
    CHECK_EQ_INT(out.kept, 7);
    CHECK_NEAR(out.stats[0], 3, 0); /* rows */
    /* v_keep = 0.5, causal, key 3 padding, query 1 invalid: row 0 keeps key 0;
     * row 2 (q = 0, all equal) keys 0, 1; row 3 keys 1, 2. */
    RUN_TINY("spatten:v_keep=0.5", q, k, 4, 4, 1, kv, qv, mask, &out);
    const char *want = "1000" "0000" "1100" "0110";
    for (int i = 0; i < 16; i++) CHECK_EQ_INT(mask[i], want[i] == '1');
    CHECK_EQ_INT(out.kept, 5);
    CHECK_EQ_INT(out.valid, 7);
    CHECK_NEAR(out.stats[1], 2, 0); /* v_pruned */
    CHECK_NEAR(out.stats[2], 2, 0); /* rounds: rows 2 and 3 select 2 of 3 */
}

/* --------------------------------------- quantizer and progressive quantization */

TEST(spatten_msb_lsb_quantizer) {
    /* 4-bit codes (max 7), 2-bit MSB part: a step of 4 codes, midpoint 1.5. */
    const float x[] = {7, -7, 3.5f, 2.5f, -1, 0, 6};
    double full[7], msb[7];
    double s = ap_msb_lsb_scale(x, 1, 7, 7, NULL, 4);
    CHECK_NEAR(s, 1.0, 0);
    ap_msb_lsb_row(x, 7, s, 4, 2, full, msb);
    const double want_full[] = {7, -7, 4, 2, -1, 0, 6}; /* rint: 3.5 -> 4, 2.5 -> 2 (half to even) */
    const double want_msb[] = {5.5, -6.5, 5.5, 1.5, -2.5, 1.5, 5.5}; /* floor(c / 4) * 4 + 1.5 */
    for (int i = 0; i < 7; i++) {
        CHECK_NEAR(full[i], want_full[i], 0);
        CHECK_NEAR(msb[i], want_msb[i], 0);
    }
    /* msb_bits = bits: the MSB part is the full code. */
    ap_msb_lsb_row(x, 7, s, 4, 4, NULL, msb);
    for (int i = 0; i < 7; i++) CHECK_NEAR(msb[i], want_full[i], 0);
    /* The scale covers only valid rows, and is 1 for an all-zero input. */
    const float rows[] = {1, -2, 100, 100};
    const uint8_t valid[] = {1, 0};
    CHECK_NEAR(ap_msb_lsb_scale(rows, 2, 2, 2, valid, 12), 2.0 / 2047.0, 1e-18);
    const float zeros[] = {0, 0};
    CHECK_NEAR(ap_msb_lsb_scale(zeros, 1, 2, 2, NULL, 8), 1.0, 0);
}

TEST(spatten_progressive_quantization_decision) {
    /* d = 1, q = 1, scale 1. Keys 0 and 2 (full width). MSB-only (8-bit codes,
     * 1-bit MSB part: step 128, midpoint 63.5) maps both keys to code 63.5,
     * scale 2/127: equal scores, max probability 0.5. */
    const float q[] = {1}, k[] = {0, 2};
    double kf[2], km[2], p[2];
    double s = ap_msb_lsb_scale(k, 2, 1, 1, NULL, 8);
    ap_msb_lsb_row(k, 1, s, 8, 1, kf, km);
    ap_msb_lsb_row(k + 1, 1, s, 8, 1, kf + 1, km + 1);
    CHECK_NEAR(km[0], km[1], 0);
    /* threshold 0.6 > 0.5: the LSBs are fetched, the row recomputed exactly */
    struct ap_pq_row_result r = ap_pq_row(q, km, kf, 2, 1, 1.0f, 1, NULL, 0.6, 8, 1, p);
    CHECK_EQ_INT(r.requant, 1);
    CHECK_EQ_INT(r.key_bits, 8);
    CHECK_NEAR(r.max_prob, 0.5, 1e-15);
    CHECK_NEAR(p[1], exp(2.0) / (1 + exp(2.0)), 1e-15);
    /* threshold 0.5 is not above the maximum: MSB-only probabilities stand */
    r = ap_pq_row(q, km, kf, 2, 1, 1.0f, 1, NULL, 0.5, 8, 1, p);
    CHECK_EQ_INT(r.requant, 0);
    CHECK_EQ_INT(r.key_bits, 1);
    CHECK_NEAR(p[0], 0.5, 1e-15);
    /* a padded key is not visible: one key left, probability 1, never requantized */
    const uint8_t kv[] = {0, 1};
    r = ap_pq_row(q, km, kf, 2, 1, 1.0f, 1, kv, 0.99, 8, 1, p);
    CHECK_EQ_INT(r.requant, 0);
    CHECK_NEAR(p[0], 0, 0);
    CHECK_NEAR(p[1], 1, 0);
    /* In the method: rows, requantized rows and key bits add up per head. */
    const float q2[] = {1, 0};
    uint8_t mask[4];
    struct ap_head_output out;
    RUN_TINY("spatten:pq=1,key_bits=8,msb_bits=1,pq_threshold=0.6", q2, k, 2, 2, 0, NULL, NULL, mask, &out);
    CHECK_NEAR(out.stats[4], 2, 0);     /* pq_rows */
    CHECK_NEAR(out.stats[5], 2, 0);     /* both rows are at 0.5 < 0.6 */
    CHECK_NEAR(out.stats[6], 16, 0);    /* 8 bits each */
    CHECK_EQ_INT(out.kept, 4);          /* the mask is unchanged without value pruning */
}

/* --------------------------------------------------------------- parameters */

TEST(spatten_parameter_errors) {
    struct ap_method *m = NULL;
    const struct {
        const char *spec, *needle;
    } bad[] = {
        {"spatten:token_kep=0.5", "'token_kep'"},  {"spatten:token_keep=0", "token_keep=0"},
        {"spatten:head_keep=1.5", "head_keep=1.5"}, {"spatten:start_layer=0", "start_layer=0"},
        {"spatten:start_layer=two", "start_layer=two"}, {"spatten:schedule=cubic", "schedule=cubic"},
        {"spatten:keep_first=2", "keep_first=2"},   {"spatten:v_keep=-1", "v_keep=-1"},
        {"spatten:msb_bits=13", "msb_bits=13"},     {"spatten:key_bits=1", "key_bits=1"},
        {"spatten:topk_parallelism=0", "topk_parallelism=0"}, {"spatten:pq_threshold=2", "pq_threshold=2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(ap_method_create(bad[i].spec, &m), AP_ERR_INVALID_ARG);
        if (!strstr(ap_last_error(), bad[i].needle))
            ap_test_fail(__FILE__, __LINE__, "%s: message '%s' does not name '%s'", bad[i].spec, ap_last_error(),
                         bad[i].needle);
        CHECK(m == NULL);
    }
    CHECK_STATUS(ap_method_create("spatten:token_keep=0.5,head_keep=1,start_layer=2,schedule=step", &m), AP_OK);
    ap_method_free(m);
}

/* --------------------------------------------------------- the real model */

struct layer_log {
    int32_t n_layers, n_tokens, n_heads;
    int32_t tokens[64], heads[64];
    double stats[64][AP_METHOD_MAX_STATS];
    int first_kept[64];
};

static void on_layer(void *user, const struct ap_layer_view *view) {
    struct layer_log *log = user;
    if (view->layer < 0 || view->layer >= 64) return;
    int32_t t = 0, h = 0;
    for (int32_t j = 0; j < view->n_tokens; j++) t += view->token_active[j] != 0;
    for (int32_t i = 0; i < view->n_heads; i++) h += view->head_active[i] != 0;
    log->tokens[view->layer] = t;
    log->heads[view->layer] = h;
    log->first_kept[view->layer] = view->token_active[0];
    memcpy(log->stats[view->layer], view->stats, sizeof view->stats);
}

/* Expected input size of layer m: the schedule written out independently. */
static int32_t expect_linear(double keep, int32_t start, int32_t m, int32_t L, int32_t n) {
    if (m < start) return n;
    double r = 1.0 - (1.0 - keep) * (double)(m - start + 1) / (double)(L - start);
    int32_t k = (int32_t)floor(r * n + 0.5);
    return k < 1 ? 1 : k;
}

TEST(spatten_model_follows_schedule) {
    const char *dir = ap_test_model_dir();
    if (!dir) {
        ap_test_fail(__FILE__, __LINE__, "AP_MODEL_DIR is not set: run the suite with 'make test'");
        return;
    }
    struct ap_model_params mp = ap_model_default_params();
    mp.n_threads = 2;
    mp.method = "spatten:token_keep=0.4,head_keep=0.75";
    struct ap_model *m = NULL, *dense = NULL;
    CHECK_STATUS(ap_model_load(dir, mp, &m), AP_OK);
    mp.method = "dense";
    CHECK_STATUS(ap_model_load(dir, mp, &dense), AP_OK);
    if (!m || !dense) goto out;
    struct ap_model_info info;
    ap_model_get_info(m, &info);
    const char *text = "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
                       "must be in want of a wife. However little known the feelings or views of such a man may be "
                       "on his first entering a neighbourhood, this truth is so well fixed in the minds of the "
                       "surrounding families, that he is considered as the rightful property of some one or other "
                       "of their daughters.";
    int32_t ids[512], n = 0;
    CHECK_STATUS(ap_tokenizer_encode(ap_model_tokenizer(m), text, strlen(text), 0, ids, 512, &n), AP_OK);
    REQUIRE(n > 20 && info.n_layers <= 64);
    struct layer_log log = {0};
    ap_model_set_observer(m, (struct ap_model_observer){.on_layer = on_layer, .user = &log});
    float *emb = malloc(sizeof(float) * (size_t)info.hidden), *ref = malloc(sizeof(float) * (size_t)info.hidden);
    REQUIRE(emb && ref);
    CHECK_STATUS(ap_model_forward(m, ids, n, NULL, emb), AP_OK);
    CHECK_STATUS(ap_model_forward(dense, ids, n, NULL, ref), AP_OK);
    const int32_t L = info.n_layers, H = info.n_heads;
    const int32_t start = (int32_t)fmin(fmax(3, ceil(0.15 * L)), L - 1);
    for (int32_t l = 0; l < L; l++) {
        /* after layer l: the input of layer l + 1 (the last layer decides nothing) */
        int32_t want_t = l + 1 < L ? expect_linear(0.4, start, l + 1, L, n) : log.tokens[l > 0 ? l - 1 : 0];
        int32_t want_h = l + 1 < L ? expect_linear(0.75, start, l + 1, L, H) : log.heads[l > 0 ? l - 1 : 0];
        fprintf(stderr, "    layer %d: %d of %d tokens and %d of %d heads active after it (schedule %d, %d)\n", l,
                log.tokens[l], n, log.heads[l], H, want_t, want_h);
        CHECK_EQ_INT(log.tokens[l], want_t);
        CHECK_EQ_INT(log.heads[l], want_h);
        CHECK_EQ_INT(log.stats[l][0], log.tokens[l]); /* tokens_active */
        CHECK_EQ_INT(log.stats[l][2], log.heads[l]);  /* heads_active */
        CHECK(log.first_kept[l]);                     /* keep_first=1: [CLS] stays */
        if (l > 0) CHECK_EQ_INT(log.stats[l][1], log.tokens[l - 1] - log.tokens[l]); /* tokens_pruned */
    }
    double dot = 0, na = 0, nb = 0;
    for (int32_t j = 0; j < info.hidden; j++) {
        dot += (double)emb[j] * ref[j];
        na += (double)emb[j] * emb[j];
        nb += (double)ref[j] * ref[j];
    }
    double cos = dot / sqrt(na * nb);
    fprintf(stderr, "    %d tokens, token_keep=0.4, head_keep=0.75: embedding cosine to dense %.6f\n", n, cos);
    /* Pruning changed the embedding (how much is eval's business: mean pooling
     * over frozen pruned tokens costs a lot, docs/methods/spatten.md). */
    CHECK(isfinite(cos) && cos > 0.0 && cos < 0.9999);
    /* A second pass starts afresh (begin_sequence resets the cascade). */
    struct layer_log log2 = {0};
    ap_model_set_observer(m, (struct ap_model_observer){.on_layer = on_layer, .user = &log2});
    float *emb2 = malloc(sizeof(float) * (size_t)info.hidden);
    REQUIRE(emb2);
    CHECK_STATUS(ap_model_forward(m, ids, n, NULL, emb2), AP_OK);
    CHECK(memcmp(log.tokens, log2.tokens, sizeof log.tokens) == 0);
    CHECK(memcmp(emb, emb2, sizeof(float) * (size_t)info.hidden) == 0);
    free(emb2);
    free(emb);
    free(ref);
out:
    ap_model_free(m);
    ap_model_free(dense);
}

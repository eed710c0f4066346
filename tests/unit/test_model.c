/* test_model.c — the BERT encoder against Hugging Face transformers and
 * sentence-transformers (fixtures from tests/ref/bert_reference.py), the
 * reference attention kernel and layer ops against hand-computed values, and
 * the model loader's error messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attnprune.h"
#include "io/npy.h"
#include "kernels/attention.h"
#include "methods/method.h"
#include "model/layer_ops.h"
#include "methods/method.h"
#include "model/model.h"
#include "test.h"

/* Tolerances, named once. */
#define TOL_HIDDEN 1e-4     /* max abs error of any hidden state vs transformers */
#define TOL_EMB_COS 0.99999 /* min cosine of a sentence embedding vs sentence-transformers */
#define TOL_KERNEL 1e-6     /* reference kernel vs hand-computed values */
#define TOL_PACKED 1e-6     /* a packed pass's embedding vs the same line alone (unit-norm rows) */

static const char *fixture(char *buf, size_t cap, const char *name) {
    const char *dir = ap_test_fixture_dir();
    if (!dir) {
        ap_test_fail(__FILE__, __LINE__, "AP_FIXTURES is not set: run the suite with 'make test'");
        return NULL;
    }
    snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

static struct ap_model *load_default_model(int32_t threads) {
    const char *dir = ap_test_model_dir();
    if (!dir) {
        ap_test_fail(__FILE__, __LINE__, "AP_MODEL_DIR is not set: run the suite with 'make test'");
        return NULL;
    }
    struct ap_model_params mp = ap_model_default_params();
    mp.n_threads = threads;
    struct ap_model *m = NULL;
    enum ap_status st = ap_model_load(dir, mp, &m);
    if (st != AP_OK) ap_test_fail(__FILE__, __LINE__, "ap_model_load(%s): %s", dir, ap_last_error());
    return m;
}

/* ------------------------------------------------------- reference kernel */

TEST(attention_ref_hand_computed) {
    /* S = T = 2, d = 2, scale 1. q0 = (1, 0), q1 = (0, 1); k0 = (1, 0), k1 = (0, 2).
     * Row 0 scores (1, 0): p = (e/(e+1), 1/(e+1)). Row 1 scores (0, 2): p = (1/(1+e^2), e^2/(1+e^2)). */
    const float q[] = {1, 0, 0, 1}, k[] = {1, 0, 0, 2}, v[] = {10, 1, 20, 2};
    float o[4];
    double scratch[2];
    struct ap_attn_head h = {.q = q, .k = k, .v = v, .o = o, .q_stride = 2, .k_stride = 2, .v_stride = 2,
                             .o_stride = 2, .n_q = 2, .n_k = 2, .d = 2, .scale = 1.0f};
    ap_attention_ref(&h, NULL, scratch, NULL);
    double e = exp(1.0), e2 = exp(2.0);
    double p00 = e / (e + 1), p01 = 1 / (e + 1), p10 = 1 / (1 + e2), p11 = e2 / (1 + e2);
    CHECK_NEAR(o[0], p00 * 10 + p01 * 20, TOL_KERNEL * 20);
    CHECK_NEAR(o[1], p00 * 1 + p01 * 2, TOL_KERNEL * 2);
    CHECK_NEAR(o[2], p10 * 10 + p11 * 20, TOL_KERNEL * 20);
    CHECK_NEAR(o[3], p10 * 1 + p11 * 2, TOL_KERNEL * 2);

    /* A mask keeping only key 1 for row 0 makes row 0's output v1 exactly. */
    const uint8_t mask[] = {0, 1, 1, 1};
    ap_attention_ref(&h, mask, scratch, NULL);
    CHECK_NEAR(o[0], 20, 0);
    CHECK_NEAR(o[1], 2, 0);

    /* Causal: row 0 sees key 0 only; a padded key 0 then leaves row 0 empty (zeros). */
    h.causal = 1;
    ap_attention_ref(&h, NULL, scratch, NULL);
    CHECK_NEAR(o[0], 10, 0);
    CHECK_NEAR(o[1], 1, 0);
    const uint8_t valid[] = {0, 1};
    h.key_valid = valid;
    ap_attention_ref(&h, NULL, scratch, NULL);
    CHECK_NEAR(o[0], 0, 0);
    CHECK_NEAR(o[2], 20, 0);
}

/* ------------------------------------------------------------- layer ops */

TEST(layer_ops_hand_computed) {
    float x[] = {1, 2, 3, 4};
    const float g[] = {1, 1, 2, 2}, b[] = {0, 0, 1, 1};
    ap_layer_norm(x, 1, 4, g, b, 0.0f);
    /* mean 2.5, var 1.25 */
    double inv = 1.0 / sqrt(1.25);
    CHECK_NEAR(x[0], -1.5 * inv, 1e-6);
    CHECK_NEAR(x[3], 1.5 * inv * 2 + 1, 1e-6);

    float gx[] = {-1.0f, 0.0f, 1.0f, 3.0f};
    ap_gelu_erf(gx, 4);
    CHECK_NEAR(gx[0], -0.15865525393145707, 1e-6); /* x * Phi(x) */
    CHECK_NEAR(gx[1], 0.0, 0);
    CHECK_NEAR(gx[2], 0.8413447460685429, 1e-6);
    CHECK_NEAR(gx[3], 2.9959502, 1e-6);

    /* y = x W^T + b with x (2, 3), W (2, 3) */
    const float xx[] = {1, 2, 3, 4, 5, 6}, W[] = {1, 0, -1, 0.5f, 0.5f, 0.5f}, bb[] = {10, 20};
    float y[4];
    ap_linear(xx, 2, 3, W, bb, 2, y);
    CHECK_NEAR(y[0], 1 - 3 + 10, 1e-6);
    CHECK_NEAR(y[1], 3 + 20, 1e-6);
    CHECK_NEAR(y[2], 4 - 6 + 10, 1e-6);
    CHECK_NEAR(y[3], 7.5 + 20, 1e-6);

    float v[] = {3, 4};
    ap_l2_normalize(v, 2);
    CHECK_NEAR(v[0], 0.6, 1e-7);
    CHECK_NEAR(v[1], 0.8, 1e-7);
    float pm[2];
    ap_pool_mean(xx, 3, 2, NULL, pm); /* rows (1,2) (3,4) (5,6) */
    CHECK_NEAR(pm[0], 3, 1e-7);
    CHECK_NEAR(pm[1], 4, 1e-7);
    const uint8_t rows[3] = {1, 0, 1}; /* pooled over rows 0 and 2 only */
    ap_pool_mean(xx, 3, 2, rows, pm);
    CHECK_NEAR(pm[0], 3, 1e-7);
    CHECK_NEAR(pm[1], 4, 1e-7);
    const uint8_t first[3] = {1, 1, 0};
    ap_pool_mean(xx, 3, 2, first, pm);
    CHECK_NEAR(pm[0], 2, 1e-7);
    CHECK_NEAR(pm[1], 3, 1e-7);
    ap_pool_max(xx, 3, 2, first, pm);
    CHECK_NEAR(pm[0], 3, 0);
    CHECK_NEAR(pm[1], 4, 0);
}

/* --------------------------------------------------------------- methods */

TEST(method_specs) {
    struct ap_method *m = NULL;
    CHECK_STATUS(ap_method_create("dense", &m), AP_OK);
    REQUIRE(m != NULL);
    CHECK(strcmp(ap_method_name(m), "dense") == 0);
    ap_method_free(m);
    m = NULL;
    CHECK_STATUS(ap_method_create("nosuch:t=1", &m), AP_ERR_INVALID_ARG);
    CHECK(m == NULL);
    CHECK(strstr(ap_last_error(), "unknown method 'nosuch'") != NULL);
    CHECK(strstr(ap_last_error(), "dense") != NULL);
    CHECK_STATUS(ap_method_create("dense:t=1", &m), AP_ERR_INVALID_ARG);
    CHECK(strstr(ap_last_error(), "method 'dense'") != NULL);
    CHECK(ap_method_list_count() >= 1);
    struct ap_method_desc d;
    CHECK_STATUS(ap_method_list_get(ap_method_list_count(), &d), AP_ERR_RANGE);
}

TEST(valid_pairs_count_padding_and_causal) {
    const uint8_t valid[] = {1, 1, 0, 1};
    struct ap_head_inputs in = {.n_q = 4, .n_k = 4, .d = 1, .key_valid = NULL, .causal = 0};
    CHECK_EQ_INT(ap_head_valid_pairs(&in), 16);
    in.causal = 1;
    CHECK_EQ_INT(ap_head_valid_pairs(&in), 10);
    in.key_valid = valid;
    CHECK_EQ_INT(ap_head_valid_pairs(&in), 1 + 2 + 2 + 3);
    in.causal = 0;
    CHECK_EQ_INT(ap_head_valid_pairs(&in), 12);
    /* decode: one query against 4 keys sees all of them */
    in.n_q = 1;
    in.causal = 1;
    in.key_valid = NULL;
    CHECK_EQ_INT(ap_head_valid_pairs(&in), 4);
}

/* ---------------------------------------------------- the real model */

/* Run model_dir on the ids in ids_name and compare every hidden state with
 * hs_name (L+1, S, D), both fixtures; expect_s is the sequence length the
 * fixture must have (the model's position limit). */
static void check_hidden_states(const char *model_dir, const char *ids_name, const char *hs_name) {
    char p1[4096], p2[4096];
    if (!model_dir || !fixture(p1, sizeof p1, ids_name) || !fixture(p2, sizeof p2, hs_name)) {
        if (!model_dir) ap_test_fail(__FILE__, __LINE__, "no model directory");
        return;
    }
    struct ap_npy *ids_npy = NULL, *hs_npy = NULL;
    struct ap_model *m = NULL;
    float *hs = NULL;
    struct ap_model_params mp = ap_model_default_params();
    mp.n_threads = 2;
    CHECK_STATUS(ap_npy_open(p1, &ids_npy), AP_OK);
    CHECK_STATUS(ap_npy_open(p2, &hs_npy), AP_OK);
    CHECK_STATUS(ap_model_load(model_dir, mp, &m), AP_OK);
    if (!ids_npy || !hs_npy || !m) goto out;
    struct ap_model_info in;
    ap_model_get_info(m, &in);
    if (ids_npy->dtype != AP_DTYPE_I32 || ids_npy->ndim != 1) {
        ap_test_fail(__FILE__, __LINE__, "%s: expected int32 (S,)", p1);
        goto out;
    }
    const int32_t S = (int32_t)ids_npy->shape[0];
    const int64_t want_shape[3] = {in.n_layers + 1, S, in.hidden};
    const float *ref = NULL;
    CHECK_STATUS(ap_npy_f32(hs_npy, 3, want_shape, &ref), AP_OK);
    if (!ref) goto out;
    CHECK_EQ_INT(S, in.max_positions); /* the long input fills every position */
    hs = malloc(sizeof(float) * (size_t)(in.n_layers + 1) * S * in.hidden);
    if (!hs) goto out;
    CHECK_STATUS(ap_model_forward(m, (const int32_t *)ids_npy->data, S, hs, NULL), AP_OK);
    for (int32_t l = 0; l <= in.n_layers; l++) {
        char what[64];
        snprintf(what, sizeof what, "hidden_states[%d]", l);
        size_t off = (size_t)l * S * in.hidden;
        double maxd = CHECK_ARRAY_NEAR(what, hs + off, ref + off, (size_t)S * in.hidden, TOL_HIDDEN);
        fprintf(stderr, "    %s layer %d: max abs error %.3g over %d tokens\n", in.name, l, maxd, S);
    }
out:
    free(hs);
    ap_npy_close(ids_npy);
    ap_npy_close(hs_npy);
    ap_model_free(m);
}

TEST(bert_hidden_states_match_transformers) {
    check_hidden_states(ap_test_model_dir(), "hidden_ids.npy", "hidden_states.npy");
}

/* Another shape (3 layers, 4 heads, hidden 96, 128 positions, gelu_new,
 * "bert." tensor names, no sentence-transformers files): sizes come from
 * config.json, not from anything built in. */
TEST(bert_other_checkpoint_matches_transformers) {
    char dir[4096];
    if (!fixture(dir, sizeof dir, "tiny-bert")) return;
    check_hidden_states(dir, "tiny_hidden_ids.npy", "tiny_hidden_states.npy");
    struct ap_model *m = NULL;
    REQUIRE(ap_model_load(dir, ap_model_default_params(), &m) == AP_OK);
    struct ap_model_info in;
    ap_model_get_info(m, &in);
    CHECK_EQ_INT(in.n_layers, 3);
    CHECK_EQ_INT(in.n_heads, 4);
    CHECK_EQ_INT(in.head_dim, 24);
    CHECK_EQ_INT(in.max_tokens, 128);
    CHECK_EQ_INT(in.pooling, AP_POOLING_MEAN);
    CHECK_EQ_INT(in.normalize, 0);
    ap_model_free(m);
}

TEST(bert_embeddings_match_sentence_transformers) {
    char p1[4096], p2[4096];
    if (!fixture(p1, sizeof p1, "embed_texts.txt") || !fixture(p2, sizeof p2, "embed_reference.npy")) return;
    struct ap_npy *ref_npy = NULL;
    CHECK_STATUS(ap_npy_open(p2, &ref_npy), AP_OK);
    FILE *f = fopen(p1, "rb");
    CHECK(f != NULL);
    struct ap_model *m = load_default_model(2);
    float *emb = NULL;
    char *line = NULL;
    if (!ref_npy || !f || !m) goto out;
    struct ap_model_info in;
    ap_model_get_info(m, &in);
    REQUIRE(ref_npy->ndim == 2 && ref_npy->shape[1] == in.hidden);
    const int64_t n = ref_npy->shape[0];
    const float *ref = NULL;
    CHECK_STATUS(ap_npy_f32(ref_npy, 2, ref_npy->shape, &ref), AP_OK);
    emb = malloc(sizeof(float) * (size_t)in.hidden);
    size_t cap = 0;
    ssize_t len;
    int64_t i = 0, below = 0;
    double min_cos = 1.0, sum_cos = 0.0;
    while (ref && (len = getline(&line, &cap, f)) >= 0 && i < n) {
        if (len && line[len - 1] == '\n') len--;
        CHECK_STATUS(ap_model_embed(m, line, (size_t)len, emb), AP_OK);
        const float *r = ref + i * in.hidden;
        double dot = 0, na = 0, nb = 0;
        for (int32_t j = 0; j < in.hidden; j++) {
            dot += (double)emb[j] * r[j];
            na += (double)emb[j] * emb[j];
            nb += (double)r[j] * r[j];
        }
        double cos = dot / sqrt(na * nb);
        if (cos < min_cos) min_cos = cos;
        sum_cos += cos;
        if (!(cos >= TOL_EMB_COS) && below++ < 5)
            ap_test_fail(__FILE__, __LINE__, "line %lld: cosine %.8f < %.5f", (long long)i + 1, cos, TOL_EMB_COS);
        i++;
    }
    CHECK_EQ_INT(i, n);
    fprintf(stderr, "    %lld lines: cosine min %.8f mean %.8f\n", (long long)i, min_cos, i ? sum_cos / (double)i : 0);
out:
    free(line);
    free(emb);
    if (f) fclose(f);
    ap_npy_close(ref_npy);
    ap_model_free(m);
}

TEST(bert_threads_give_same_result) {
    struct ap_model *m1 = load_default_model(1), *m2 = load_default_model(2);
    if (!m1 || !m2) goto out;
    struct ap_model_info in;
    ap_model_get_info(m1, &in);
    const char *text = "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
                       "must be in want of a wife.";
    float *a = malloc(sizeof(float) * (size_t)in.hidden), *b = malloc(sizeof(float) * (size_t)in.hidden);
    REQUIRE(a && b);
    CHECK_STATUS(ap_model_embed(m1, text, strlen(text), a), AP_OK);
    CHECK_STATUS(ap_model_embed(m2, text, strlen(text), b), AP_OK);
    CHECK_ARRAY_NEAR("1 vs 2 threads", a, b, (size_t)in.hidden, 1e-6);
    free(a);
    free(b);
out:
    ap_model_free(m1);
    ap_model_free(m2);
}

static void count_head_calls(void *user, const struct ap_head_inputs *in, const struct ap_head_output *out,
                             const float *o, int64_t os) {
    (void)in, (void)out, (void)o, (void)os;
#pragma omp atomic
    (*(int64_t *)user)++;
}

/* The encoder with a fused method (sanger: row-block predictor + sparse
 * rows, no masks) against the same method through its masks (an observer
 * forces that path): embeddings within 1e-4 (a pair within float rounding
 * of t may be decided differently; none is, in test_sanger.c's real
 * heads), and 1 vs 2 threads equal on the fused path. */
TEST(bert_fused_predictor_equals_mask_path) {
    struct ap_model *m1 = load_default_model(1), *m2 = load_default_model(2);
    float *a = NULL, *b = NULL, *c = NULL;
    if (!m1 || !m2) goto out;
    CHECK_STATUS(ap_model_set_method(m1, "sanger:t=1e-3"), AP_OK);
    CHECK_STATUS(ap_model_set_method(m2, "sanger:t=1e-3"), AP_OK);
    struct ap_model_info in;
    ap_model_get_info(m1, &in);
    const char *text = "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
                       "must be in want of a wife. However little known the feelings or views of such a man may be "
                       "on his first entering a neighbourhood, this truth is so well fixed in the minds of the "
                       "surrounding families, that he is considered as the rightful property of some one or other "
                       "of their daughters.";
    a = malloc(sizeof(float) * (size_t)in.hidden), b = malloc(sizeof(float) * (size_t)in.hidden);
    c = malloc(sizeof(float) * (size_t)in.hidden);
    REQUIRE(a && b && c);
    CHECK_STATUS(ap_model_embed(m2, text, strlen(text), a), AP_OK);
    CHECK_STATUS(ap_model_embed(m1, text, strlen(text), c), AP_OK);
    int64_t calls = 0;
    ap_model_set_observer(m2, (struct ap_model_observer){.on_head = count_head_calls, .user = &calls});
    CHECK_STATUS(ap_model_embed(m2, text, strlen(text), b), AP_OK);
    CHECK_EQ_INT(calls, (int64_t)in.n_layers * in.n_heads);
    CHECK_ARRAY_NEAR("fused vs mask path", a, b, (size_t)in.hidden, 1e-4);
    CHECK_ARRAY_NEAR("fused, 1 vs 2 threads", c, a, (size_t)in.hidden, 1e-6);
out:
    free(a), free(b), free(c);
    ap_model_free(m1);
    ap_model_free(m2);
}

/* The first n lines of the embedding fixture's texts, tokenized back to back:
 * *ids (sum of lens) and *lens (n), malloc'ed. Returns the lines read. */
static int64_t fixture_line_ids(struct ap_model *m, int64_t n, int32_t **ids, int32_t **lens) {
    char path[4096];
    *ids = NULL;
    *lens = NULL;
    if (!fixture(path, sizeof path, "embed_texts.txt")) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        ap_test_fail(__FILE__, __LINE__, "cannot open %s", path);
        return 0;
    }
    struct ap_model_info in;
    ap_model_get_info(m, &in);
    *ids = malloc(sizeof(int32_t) * (size_t)(n * in.max_tokens));
    *lens = malloc(sizeof(int32_t) * (size_t)n);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t i = 0, r = 0;
    while (*ids && *lens && i < n && (len = getline(&line, &cap, f)) >= 0) {
        if (len && line[len - 1] == '\n') len--;
        if (i == 3) len = 0; /* an empty line: [CLS] [SEP] only */
        int32_t k = 0;
        CHECK_STATUS(ap_tokenizer_encode(ap_model_tokenizer(m), line, (size_t)len, in.max_tokens, *ids + r,
                                         in.max_tokens, &k),
                     AP_OK);
        (*lens)[i++] = k;
        r += k;
    }
    free(line);
    fclose(f);
    return i;
}

/* ap_model_embed_ids packs lines into passes of batch_tokens rows; every
 * row must be the line's embedding alone, whatever the packing and the
 * thread count. 80 lines of 10-2,560 characters (one truncated at 256 tokens,
 * one empty) over passes of at most 512 tokens: several passes, several
 * sequences each. */
TEST(bert_packed_lines_equal_one_by_one) {
    const char *dir = ap_test_model_dir();
    REQUIRE(dir != NULL);
    struct ap_model *single = load_default_model(1), *packed[2] = {NULL, NULL};
    int32_t *ids = NULL, *lens = NULL;
    float *one = NULL, *many[2] = {NULL, NULL};
    if (!single) goto out;
    for (int t = 0; t < 2; t++) {
        struct ap_model_params mp = ap_model_default_params();
        mp.n_threads = t + 1;
        mp.batch_tokens = 512;
        CHECK_STATUS(ap_model_load(dir, mp, &packed[t]), AP_OK);
        if (!packed[t]) goto out;
    }
    struct ap_model_info in;
    ap_model_get_info(packed[0], &in);
    CHECK_EQ_INT(in.batch_tokens, 512);
    const int64_t n = fixture_line_ids(single, 80, &ids, &lens);
    REQUIRE(n == 80);
    int64_t total = 0, longest = 0;
    for (int64_t i = 0; i < n; i++) {
        total += lens[i];
        if (lens[i] > longest) longest = lens[i];
    }
    CHECK(longest == in.max_tokens && total > 4 * 512); /* truncation, and several passes */
    const size_t D = (size_t)in.hidden;
    one = malloc(sizeof(float) * D * (size_t)n);
    for (int t = 0; t < 2; t++) many[t] = malloc(sizeof(float) * D * (size_t)n);
    REQUIRE(one && many[0] && many[1]);
    for (int64_t i = 0, r = 0; i < n; r += lens[i], i++)
        CHECK_STATUS(ap_model_forward(single, ids + r, lens[i], NULL, one + (size_t)i * D), AP_OK);
    for (int t = 0; t < 2; t++) CHECK_STATUS(ap_model_embed_ids(packed[t], ids, lens, n, many[t]), AP_OK);
    double d1 = CHECK_ARRAY_NEAR("packed, 1 thread vs one by one", many[0], one, D * (size_t)n, TOL_PACKED);
    double d2 = CHECK_ARRAY_NEAR("packed, 2 threads vs one by one", many[1], one, D * (size_t)n, TOL_PACKED);
    CHECK_ARRAY_NEAR("packed, 1 vs 2 threads", many[0], many[1], D * (size_t)n, TOL_PACKED);
    fprintf(stderr, "    %lld lines, %lld tokens: max difference to one by one %.3g (1 thread), %.3g (2 threads)\n",
            (long long)n, (long long)total, d1, d2);

    /* the default pass size gives the same rows */
    CHECK_STATUS(ap_model_embed_ids(single, ids, lens, n, many[0]), AP_OK);
    CHECK_ARRAY_NEAR("default batch_tokens vs one by one", many[0], one, D * (size_t)n, TOL_PACKED);

    /* a method with state across a sequence's layers runs line by line */
    CHECK_STATUS(ap_model_set_method(packed[1], "spatten"), AP_OK);
    CHECK_STATUS(ap_model_set_method(single, "spatten"), AP_OK);
    CHECK_STATUS(ap_model_embed_ids(packed[1], ids, lens, 10, many[1]), AP_OK);
    for (int64_t i = 0, r = 0; i < 10; r += lens[i], i++)
        CHECK_STATUS(ap_model_forward(single, ids + r, lens[i], NULL, one + (size_t)i * D), AP_OK);
    CHECK_ARRAY_NEAR("spatten: embed_ids vs one by one", many[1], one, D * 10, TOL_PACKED);

    /* bad sequences are named before any work */
    ids[lens[0] + 1] = in.vocab_size;
    CHECK_STATUS(ap_model_embed_ids(packed[0], ids, lens, n, many[0]), AP_ERR_RANGE);
    CHECK(strstr(ap_last_error(), "sequence 1: token id") != NULL);
    ids[lens[0] + 1] = 0;
    lens[2] = 0;
    CHECK_STATUS(ap_model_embed_ids(packed[0], ids, lens, n, many[0]), AP_ERR_RANGE);
    CHECK(strstr(ap_last_error(), "sequence 2: 0 tokens") != NULL);
    CHECK_STATUS(ap_model_embed_ids(packed[0], ids, lens, 0, many[0]), AP_OK);
out:
    free(ids);
    free(lens);
    free(one);
    free(many[0]);
    free(many[1]);
    ap_model_free(single);
    ap_model_free(packed[0]);
    ap_model_free(packed[1]);
}

TEST(bert_forward_rejects_bad_ids) {
    struct ap_model *m = load_default_model(1);
    if (!m) return;
    struct ap_model_info in;
    ap_model_get_info(m, &in);
    int32_t ids[3] = {101, in.vocab_size, 102};
    CHECK_STATUS(ap_model_forward(m, ids, 3, NULL, NULL), AP_ERR_RANGE);
    CHECK(strstr(ap_last_error(), "position 1") != NULL);
    CHECK_STATUS(ap_model_forward(m, ids, 0, NULL, NULL), AP_ERR_RANGE);
    CHECK_STATUS(ap_model_forward(m, ids, in.max_positions + 1, NULL, NULL), AP_ERR_RANGE);
    ap_model_free(m);
}

/* A copy of the default model directory whose config.json is replaced. */
static int make_model_variant(char *dir, size_t cap, const char *config_json) {
    const char *src = ap_test_model_dir();
    if (!src) return 0;
    snprintf(dir, cap, "/tmp/ap_test_model_XXXXXX");
    if (!mkdtemp(dir)) return 0;
    const char *files[] = {"vocab.txt", "model.safetensors", "tokenizer.json", "modules.json",
                           "sentence_bert_config.json", "1_Pooling"};
    char a[4096], b[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(a, sizeof a, "%s/%s", src, files[i]);
        snprintf(b, sizeof b, "%s/%s", dir, files[i]);
        if (symlink(a, b) != 0) return 0;
    }
    snprintf(b, sizeof b, "%s/config.json", dir);
    FILE *f = fopen(b, "wb");
    if (!f) return 0;
    fputs(config_json, f);
    fclose(f);
    return 1;
}

static void remove_model_variant(const char *dir) {
    const char *files[] = {"vocab.txt", "model.safetensors", "tokenizer.json", "modules.json",
                           "sentence_bert_config.json", "1_Pooling", "config.json"};
    char p[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

TEST(model_load_errors_name_the_problem) {
    struct ap_model *m = NULL;
    CHECK_STATUS(ap_model_load("/nonexistent/model", ap_model_default_params(), &m), AP_ERR_IO);
    CHECK(strstr(ap_last_error(), "/nonexistent/model/config.json") != NULL);
    CHECK(m == NULL);

    char dir[64];
    const char *good_prefix = "{\"model_type\": \"bert\", \"num_hidden_layers\": 6, \"num_attention_heads\": 12, "
                              "\"intermediate_size\": 1536, \"vocab_size\": 30522, \"max_position_embeddings\": 512, ";
    char cfg[1024];
    /* hidden_size that disagrees with the weights: a shape error naming the tensor */
    snprintf(cfg, sizeof cfg, "%s\"hidden_size\": 768}", good_prefix);
    REQUIRE(make_model_variant(dir, sizeof dir, cfg));
    CHECK_STATUS(ap_model_load(dir, ap_model_default_params(), &m), AP_ERR_SHAPE);
    CHECK(strstr(ap_last_error(), "embeddings.word_embeddings.weight") != NULL);
    CHECK(strstr(ap_last_error(), "[30522, 384], expected [30522, 768]") != NULL);
    remove_model_variant(dir);

    /* broken JSON */
    REQUIRE(make_model_variant(dir, sizeof dir, "{\"model_type\": \"bert\", "));
    CHECK_STATUS(ap_model_load(dir, ap_model_default_params(), &m), AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "config.json: invalid JSON") != NULL);
    remove_model_variant(dir);

    /* another architecture */
    REQUIRE(make_model_variant(dir, sizeof dir, "{\"model_type\": \"gpt2\"}"));
    CHECK_STATUS(ap_model_load(dir, ap_model_default_params(), &m), AP_ERR_UNSUPPORTED);
    CHECK(strstr(ap_last_error(), "\"gpt2\"") != NULL);
    remove_model_variant(dir);

    /* a required key of the wrong type */
    snprintf(cfg, sizeof cfg, "%s\"hidden_size\": \"384\"}", good_prefix);
    REQUIRE(make_model_variant(dir, sizeof dir, cfg));
    CHECK_STATUS(ap_model_load(dir, ap_model_default_params(), &m), AP_ERR_FORMAT);
    CHECK(strstr(ap_last_error(), "\"hidden_size\" must be an integer") != NULL);
    remove_model_variant(dir);
    CHECK(m == NULL);
}

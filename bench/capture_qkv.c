/* capture_qkv.c — real queries, keys and values for the attention
 * benchmarks: runs the decoder (SmolLM2-135M) densely over the first N
 * tokens of a text and saves one layer's per-head Q, K and V.
 *
 *   build/bench/capture_qkv MODEL.gguf TEXT N LAYER OUT_PREFIX
 *
 * Writes OUT_PREFIX_q.npy, _k.npy, _v.npy, float32 (H, N, d) each, keys and
 * values repeated for the query heads that share them (grouped-query
 * attention), RoPE applied, as the attention kernel sees them. Because the
 * decoder is causal, the first S rows of a capture at N tokens are the
 * capture of the first S tokens, so one capture serves every S <= N.
 *
 * Legend: H = query heads, N = tokens, d = head dimension. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "io/file_map.h"
#include "io/npy.h"
#include "methods/method.h"
#include "model/model.h"

struct capture {
    int32_t layer, H, N, d;
    float *qkv[3]; /* (H, N, d) each */
};

/* Observer: copy the chosen layer's heads (called concurrently per head). */
static void on_head(void *user, const struct ap_head_inputs *in, const struct ap_head_output *out, const float *o,
                    int64_t os) {
    (void)out, (void)o, (void)os;
    struct capture *c = user;
    if (in->layer != c->layer || in->n_q != c->N || in->n_k != c->N) return;
    const float *src[3] = {in->q, in->k, in->v};
    const int64_t stride[3] = {in->q_stride, in->k_stride, in->v_stride};
    for (int p = 0; p < 3; p++)
        for (int32_t i = 0; i < c->N; i++)
            memcpy(c->qkv[p] + ((int64_t)in->head * c->N + i) * c->d, src[p] + (int64_t)i * stride[p],
                   sizeof(float) * (size_t)c->d);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: capture_qkv MODEL.gguf TEXT N LAYER OUT_PREFIX\n");
        return 2;
    }
    const int32_t N = atoi(argv[3]), layer = atoi(argv[4]);
    struct ap_model_params mp = ap_model_default_params();
    mp.max_tokens = N;
    mp.n_threads = 2;
    struct ap_model *m = NULL;
    if (ap_model_load(argv[1], mp, &m) != AP_OK) {
        fprintf(stderr, "capture_qkv: %s\n", ap_last_error());
        return 1;
    }
    struct ap_model_info info;
    ap_model_get_info(m, &info);
    if (N < 1 || N > info.max_tokens || layer < 0 || layer >= info.n_layers) {
        fprintf(stderr, "capture_qkv: N must be 1..%d and LAYER 0..%d\n", info.max_tokens, info.n_layers - 1);
        return 2;
    }
    struct ap_file_map text;
    if (ap_file_map_open(argv[2], &text) != AP_OK) {
        fprintf(stderr, "capture_qkv: %s\n", ap_last_error());
        return 1;
    }
    int32_t n_ids = 0, cap = (int32_t)(text.size < (size_t)1 << 30 ? text.size + 16 : (size_t)1 << 30);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)cap);
    struct capture c = {.layer = layer, .H = info.n_heads, .N = N, .d = info.head_dim};
    for (int p = 0; p < 3; p++) c.qkv[p] = malloc(sizeof(float) * (size_t)c.H * (size_t)N * (size_t)c.d);
    if (!ids || !c.qkv[0] || !c.qkv[1] || !c.qkv[2]) {
        fprintf(stderr, "capture_qkv: out of memory\n");
        return 1;
    }
    if (ap_tokenizer_encode(ap_model_tokenizer(m), (const char *)text.data, text.size, 0, ids, cap, &n_ids) != AP_OK) {
        fprintf(stderr, "capture_qkv: %s\n", ap_last_error());
        return 1;
    }
    if (n_ids < N) {
        fprintf(stderr, "capture_qkv: %s has %d tokens, fewer than %d\n", argv[2], n_ids, N);
        return 1;
    }
    ap_model_set_observer(m, (struct ap_model_observer){.on_head = on_head, .user = &c});
    const double t0 = omp_get_wtime();
    if (ap_model_decode(m, ids, N, NULL, NULL) != AP_OK) {
        fprintf(stderr, "capture_qkv: %s\n", ap_last_error());
        return 1;
    }
    fprintf(stderr, "capture_qkv: %s, %d tokens of %s, layer %d: prefill %.1f s\n", info.name, N, argv[2], layer,
            omp_get_wtime() - t0);
    static const char *const part[3] = {"q", "k", "v"};
    const int64_t shape[3] = {c.H, N, c.d};
    for (int p = 0; p < 3; p++) {
        char path[4096];
        snprintf(path, sizeof path, "%s_%s.npy", argv[5], part[p]);
        if (ap_npy_write(path, AP_DTYPE_F32, c.qkv[p], shape, 3) != AP_OK) {
            fprintf(stderr, "capture_qkv: %s\n", ap_last_error());
            return 1;
        }
    }
    ap_file_map_close(&text);
    ap_model_free(m);
    free(ids);
    for (int p = 0; p < 3; p++) free(c.qkv[p]);
    return 0;
}

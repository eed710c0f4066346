/* llama.h — the Llama-family decoder (SmolLM2, Llama 2/3 and their kin, as
 * llama.cpp's "llama" architecture stores them in GGUF): weights, KV cache,
 * forward pass. Reached through the public ap_model_* functions (model.c).
 *
 * Legend: S = new tokens of one call, P = tokens already in the KV cache,
 * T = P + S keys, D = hidden, H = query heads, G = key/value heads (H is a
 * multiple of G: grouped-query attention), d = head dim, I = MLP width,
 * L = layers, V = vocabulary, C = the KV cache's capacity in tokens. */
#ifndef AP_MODEL_LLAMA_H
#define AP_MODEL_LLAMA_H

#include <stdint.h>

#include "attnprune.h"

struct ap_model;
struct ap_gguf;

struct ap_llama_layer {
    const float *attn_norm;    /* (D) */
    const float *wq, *wk, *wv; /* (H d, D), (G d, D), (G d, D) */
    const float *wo;           /* (D, H d) */
    const float *ffn_norm;     /* (D) */
    const float *w_gate, *w_up;/* (I, D) */
    const float *w_down;       /* (D, I) */
};

struct ap_llama {
    struct ap_gguf *gguf;
    float *weights;            /* every tensor dequantized to float32, one block */
    const float *tok_embd;     /* (V, D) */
    const float *out_norm;     /* (D) */
    const float *output;       /* (V, D); tok_embd when the embedding is tied */
    struct ap_llama_layer *layers;
    int32_t n_kv_heads;        /* G */
    int32_t rope_dim;          /* dimensions rotated per head (d unless the file says less) */
    float rope_base;           /* theta */
    float rope_scale;          /* linear position scaling: positions are divided by it (1 = none) */
    int32_t tied;              /* 1 if output is tok_embd */

    /* KV cache: per layer, per KV head, C rows of d floats, RoPE applied */
    int32_t cap;               /* C */
    int32_t n_past;            /* P */
    float *k_cache, *v_cache;  /* (L, G, C, d) */
    int32_t *pruned_at;        /* (C) cascade pruning: the first layer where the token is no key (L = never) */
    uint8_t *key_valid;        /* (C) scratch: the keys of the layer at hand */
    float *rope_cos, *rope_sin;/* (C, rope_dim / 2) */

    /* activations for up to s_cap new tokens at once */
    float *x, *xn, *q, *k, *v, *ctx, *tmp;  /* (S_cap, D) or (S_cap, H d) / (S_cap, G d) */
    float *gate, *up;                       /* (S_cap, I) */
    uint8_t *masks;            /* (n_threads, S_cap, C) per-thread mask buffers for methods that decide
                                  whole masks (the mask path), allocated on first use; NULL before */
    float *scores;             /* (n_threads, scratch_len) per-thread kernel scratch */
    size_t scratch_len;        /* floats of it per thread: ap_attention_f32_scratch(S_cap, C) */
    float *k_eff, *v_eff;      /* (n_threads, C, d) quantized K/V a method may hand back in a decode step */
};

enum ap_status ap_llama_load(struct ap_model *m, const char *path, struct ap_model_params params);
void ap_llama_free(struct ap_llama *ll);

/* Append S tokens after the P in the cache and run them through the model
 * (prefill when S > 1, a decode step when S = 1). hidden: NULL or (S, D),
 * the final normalized hidden states; logits_last: NULL or (V), the logits
 * of the last new token. */
enum ap_status ap_llama_decode(struct ap_model *m, const int32_t *ids, int32_t S, float *hidden,
                               float *logits_last);

/* logits (n, V) = hidden (n, D) · output^T. */
void ap_llama_lm_head(const struct ap_model *m, const float *hidden, int32_t n, float *logits);

#endif

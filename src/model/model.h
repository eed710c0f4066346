/* model.h — the model context shared by the public ap_model_* functions and
 * the architecture files (bert.c now; a decoder later).
 *
 * Legend: S = tokens (S_cap the longest the scratch is sized for), D = hidden,
 * H = heads, d = head dim, I = MLP width, L = layers, V = vocabulary,
 * R = rows of one encoder pass: the tokens of all its sequences packed back
 * to back (R_cap the most the scratch holds, >= S_cap). */
#ifndef AP_MODEL_MODEL_H
#define AP_MODEL_MODEL_H

#include "attnprune.h"
#include "core/arena.h"

struct ap_safetensors;
struct ap_method;
struct ap_head_inputs;
struct ap_head_output;
struct ap_layer_view;
struct ap_llama;

/* Who wants to see each head's work (eval metrics, traces, calibration).
 * on_head runs concurrently for different heads; on_layer single-threaded. */
struct ap_model_observer {
    void (*on_head)(void *user, const struct ap_head_inputs *in, const struct ap_head_output *out,
                    const float *o /* (S, d), row stride o_stride */, int64_t o_stride);
    void (*on_layer)(void *user, const struct ap_layer_view *view);
    void *user;
};

/* Set (or with a zeroed observer, clear) the model's observer. */
void ap_model_set_observer(struct ap_model *m, struct ap_model_observer observer);
/* The method in use. */
struct ap_method *ap_model_method(struct ap_model *m);

enum ap_activation { AP_ACT_GELU_ERF, AP_ACT_GELU_TANH, AP_ACT_RELU };

struct ap_bert_layer {
    const float *wq, *bq, *wk, *bk, *wv, *bv; /* (D, D), (D) */
    const float *wo, *bo;                     /* (D, D), (D): attention output */
    const float *ln1_g, *ln1_b;               /* (D) */
    const float *wi, *bi;                     /* (I, D), (I) */
    const float *wf, *bf;                     /* (D, I), (D): MLP output */
    const float *ln2_g, *ln2_b;               /* (D) */
};

struct ap_bert_weights {
    const float *word;      /* (V, D) */
    const float *position;  /* (P, D) */
    const float *token_type;/* (types, D); row 0 is used */
    const float *ln_g, *ln_b; /* (D) */
    struct ap_bert_layer *layers; /* (L) */
};

struct ap_model {
    struct ap_model_info info;
    enum ap_activation act;
    int32_t n_threads;
    int32_t s_cap;                 /* S_cap: longest sequence the scratch holds */
    int32_t r_cap;                 /* R_cap: most packed rows of one encoder pass (BERT) */
    struct ap_safetensors *st;     /* memory-mapped weights */
    struct ap_tokenizer *tok;
    struct ap_method *method;
    struct ap_bert_weights w;

    /* scratch, one arena sized at load */
    struct ap_arena arena;
    float *x;          /* (R_cap, D) hidden state */
    float *q, *k, *v;  /* (R_cap, D) projections; head h is columns h*d..h*d+d-1 */
    float *ctx;        /* (R_cap, D) attention output */
    float *tmp;        /* (R_cap, D) */
    float *inter;      /* (R_cap, I) */
    uint8_t *masks;    /* (max(H, n_threads), S_cap, S_cap) mask buffers for methods: per head
                          for one sequence, per thread in a packed pass */
    int64_t *row0;     /* (R_cap) first row of each sequence of a packed pass */
    float *attn_scratch; /* (n_threads, ap_attention_f32_scratch(S_cap, S_cap) rounded up to 16)
                            per-thread attention-kernel scratch */
    int32_t *ids;      /* (S_cap) token ids for ap_model_embed */
    float *x_prev;     /* (S_cap, D) hidden state before the layer, for pruned tokens */
    double *key_prob;  /* (H, S_cap) per head: probability each key received (cascade methods) */
    double *key_prob_packed; /* (H, S) the same, packed for the end_layer hook */
    double *head_out_abs;    /* (H) per head: sum of |O| */
    uint8_t *token_active;   /* (S_cap) 1 = the token is still in the sequence */
    uint8_t *head_active;    /* (H) 1 = the head is still computed */
    int32_t n_active;        /* tokens with token_active set */
    struct ap_model_observer observer;
    struct ap_llama *llama;  /* the decoder's state; NULL for BERT */
    unsigned char *fused_buf; /* (n_threads, fused_stride) the fused path's buffers (model/fused.h), or NULL */
    size_t fused_stride;      /* bytes per thread */
    int32_t fused_s_cap, fused_t_cap; /* queries and keys they are sized for */
    char dir[4096];          /* the model's directory (of the .gguf file for decoders) */
    char calib_text[4096];   /* calibration text in use */
};

#define AP_LLAMA_DEFAULT_CONTEXT AP_DECODER_DEFAULT_TOKENS

/* One dense or pruned forward pass over T token ids, whatever the
 * architecture (a decoder starts from an empty KV cache): for calibration,
 * traces and evaluations that observe the pass. */
enum ap_status ap_model_run(struct ap_model *m, const int32_t *ids, int32_t T);

enum ap_status ap_bert_load(struct ap_model *m, const char *dir, struct ap_model_params params);
enum ap_status ap_bert_forward(struct ap_model *m, const int32_t *ids, int32_t n, float *hidden_states,
                               float *embedding);
/* Sentence embeddings (n_seq, D) of n_seq sequences packed back to back in
 * ids (R = sum of lens, R <= R_cap, each 1 <= lens[s] <= S_cap) in one
 * encoder pass: one GEMM per projection over all R rows, attention per
 * sequence (no padding). The caller has checked lens and ids (in the
 * vocabulary). Only for methods without per-sequence state
 * (no begin_sequence / end_layer) and no observer: the caller checks
 * ap_bert_can_pack. */
enum ap_status ap_bert_embed_packed(struct ap_model *m, const int32_t *ids, const int32_t *lens, int32_t n_seq,
                                    float *embeddings);
int ap_bert_can_pack(const struct ap_model *m);

#endif

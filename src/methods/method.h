/* method.h — the one interface every attention-pruning method implements.
 *
 * A model hands a method the inputs of one head and gets back a mask (which
 * (query, key) pairs to compute) plus the statistics the trace records; the
 * kernel then computes exact attention on the mask. The model knows nothing
 * of any method's internals.
 *
 * Three optional hooks serve methods that need more than one head at a time:
 *   - calibrate: thresholds derived from the dense model's scores on
 *     calibration text (LEOPARD, SPRINT until thresholds can be learned);
 *   - begin_sequence / end_layer: state across layers of one forward pass
 *     (SpAtten's cascade token and head pruning).
 *
 * Legend: S = queries, T = keys, d = head dimension, H = heads, L = layers. */
#ifndef AP_METHODS_METHOD_H
#define AP_METHODS_METHOD_H

#include <stdint.h>

#include "attnprune.h"

#define AP_METHOD_MAX_STATS 12  /* per-head statistics a method may report */
#define AP_METHOD_MAX_PARAMS 16 /* parameters a method may take */

/* One parameter, for `attnprune methods` and for checking specs. */
struct ap_param_desc {
    const char *key;
    const char *def;  /* default, as the user would write it */
    const char *help; /* one line: meaning, unit, range */
};

/* A default that differs on a causal decoder (how each was chosen:
 * docs/decoder.md). */
struct ap_param_default {
    const char *key, *def;
};

struct ap_head_inputs {
    int32_t layer, head;
    int32_t n_layers, n_heads;  /* L, H of the model */
    int32_t n_q, n_k, d;        /* S, T, d */
    const float *q;             /* (S, d), row stride q_stride */
    const float *k;             /* (T, d), row stride k_stride */
    const float *v;             /* (T, d), row stride v_stride */
    int64_t q_stride, k_stride, v_stride;
    float scale;                /* 1/sqrt(d): scores are scale * q·k */
    int32_t causal;             /* query i sees keys j <= i + (T - S) */
    const uint8_t *key_valid;   /* (T) or NULL; 0 = padding or a pruned token: never kept */
    const uint8_t *query_valid; /* (S) or NULL; 0 = a row that is not computed at all */
};

struct ap_head_output {
    uint8_t *mask;  /* in: the caller's (S, T) buffer; out: the same with 1 = kept,
                       or NULL to mean "keep every valid pair" */
    int64_t kept;   /* kept pairs among the valid ones */
    int64_t valid;  /* valid pairs (valid query, valid key, not in the causal future) */
    double stats[AP_METHOD_MAX_STATS]; /* additive counts for this head, named by
                                          ops->stat_names (zeroed by the caller) */
    /* Quantized K/V (SpAtten's progressive quantization in a decode step):
     * the caller may offer two (T, d) buffers, row stride d; a method that
     * computes attention on other keys or values than the float ones fills
     * them and sets kv_replaced = 1, and the kernel then reads them. */
    float *k_eff, *v_eff;
    int32_t kv_replaced;
};

/* The distribution of one layer's scaled scores (scale * q·k over every
 * valid pair of every head) of the dense model on calibration text. */
struct ap_score_quantiles {
    int32_t layer;
    int32_t n;           /* quantiles given: value[k] is the k/(n-1) quantile */
    const float *value;  /* (n), non-decreasing; value[0] = min, value[n-1] = max */
    int64_t n_pairs;     /* valid pairs they summarize */
};

/* What the model shows a cascade method after a layer's attention, and the
 * pruning decisions it takes back. Token and head pruning found in layer l
 * take effect from layer l + 1. */
struct ap_layer_view {
    int32_t layer, n_layers;
    int32_t n_tokens, n_heads;  /* T, H */
    const double *key_prob;     /* (H, T): per head, the sum over computed queries of the
                                   attention probability each key received */
    const double *head_out_abs; /* (H): per head, the sum of |O| over computed queries */
    uint8_t *token_active;      /* (T) in/out: 1 = the token takes part in later layers */
    uint8_t *head_active;       /* (H) in/out: 1 = the head is computed in later layers */
    double stats[AP_METHOD_MAX_STATS]; /* additive counts for this layer (zeroed), named by
                                          ops->layer_stat_names */
};

struct ap_method_ops {
    const char *name;
    const char *summary;
    const char *paper;
    const struct ap_param_desc *params; /* n_params entries */
    int32_t n_params;
    const struct ap_param_default *decoder_defaults; /* n_decoder_defaults entries, or NULL */
    int32_t n_decoder_defaults;
    const char *const *stat_names;      /* n_stats names of ap_head_output.stats */
    int32_t n_stats;
    const char *const *layer_stat_names; /* n_layer_stats names of ap_layer_view.stats */
    int32_t n_layer_stats;

    /* Parse "k=v,k=v" (may be empty; keys are checked against params by the
     * caller first) into a new state; errors name the key and the value. */
    enum ap_status (*init)(const char *params, void **state);
    /* Decide the mask of one head. Must be safe to call concurrently for
     * different heads with the same state. */
    enum ap_status (*predict)(const void *state, const struct ap_head_inputs *in, struct ap_head_output *out);
    void (*free)(void *state);

    /* Optional. Returns 1 if the method still needs calibrate(). */
    int (*needs_calibration)(const void *state);
    /* Optional. Derive the method's thresholds from the dense model's score
     * distribution, one entry per layer. The note (cap bytes) says in words
     * what was done, e.g. "per-layer thresholds calibrated (not learned) for
     * density 0.25 on 52,000 calibration scores per layer". */
    enum ap_status (*calibrate)(void *state, const struct ap_score_quantiles *layers, int32_t n_layers,
                                char *note, size_t cap);
    /* Optional. Called single-threaded at the start of each forward pass. */
    enum ap_status (*begin_sequence)(void *state, int32_t n_tokens, int32_t n_layers, int32_t n_heads);
    /* Optional. Called single-threaded after each layer's attention. */
    enum ap_status (*end_layer)(void *state, struct ap_layer_view *view);

    /* Optional fused path: the predictor a block of query rows at a time,
     * its mask as row lists for ap_attention_sparse_rows, so no (S, T)
     * buffer exists (memory linear in S). Per head: rows_bytes(S, T, d)
     * bytes of buffer, rows_prepare once (what every block shares, e.g.
     * the quantized keys), then predict_rows for rows [i0, i0 + nb), nb <=
     * AP_ROWS_BLOCK, one block at a time per buffer: row r's kept keys, a
     * subset of its valid pairs in ascending order, go to cols[row_ptr[r],
     * row_ptr[r + 1]) (row_ptr (nb + 1), relative to the block; cols has
     * room for nb T). Adds kept and valid pairs of the rows to *kept and
     * *valid. The kept pairs equal predict's but for ties at the threshold
     * that float arithmetic may decide differently (each method's tests
     * bound them); statistics that need the whole mask (pack & split) are
     * predict's alone. */
    size_t (*rows_bytes)(const void *state, int32_t n_q, int32_t n_k, int32_t d);
    enum ap_status (*rows_prepare)(const void *state, const struct ap_head_inputs *in, void *buf);
    enum ap_status (*predict_rows)(const void *state, const struct ap_head_inputs *in, void *buf, int32_t i0,
                                   int32_t nb, int64_t *row_ptr, int32_t *cols, int64_t *kept, int64_t *valid);
};

/* Query rows per predict_rows call. */
#define AP_ROWS_BLOCK 32

struct ap_method;

/* Create a method from a spec "name" or "name:key=value,key=value". Unknown
 * keys are rejected with the list of the method's parameters. The defaults
 * are the encoder's; ap_method_create_for(spec, 1, out) takes the decoder's
 * (def_decoder) where a parameter has one. */
enum ap_status ap_method_create(const char *spec, struct ap_method **out);
enum ap_status ap_method_create_for(const char *spec, int decoder, struct ap_method **out);
void ap_method_free(struct ap_method *m);
const char *ap_method_name(const struct ap_method *m);
const struct ap_method_ops *ap_method_ops_of(const struct ap_method *m);
void *ap_method_state(const struct ap_method *m);
enum ap_status ap_method_predict(const struct ap_method *m, const struct ap_head_inputs *in,
                                 struct ap_head_output *out);

/* The registry. */
int32_t ap_method_count(void);
const struct ap_method_ops *ap_method_at(int32_t index);

/* Valid (query, key) pairs of a head: valid query, valid key, not in the
 * causal future. */
int64_t ap_head_valid_pairs(const struct ap_head_inputs *in);

/* Is (i, j) a valid pair of the head? */
static inline int ap_head_pair_valid(const struct ap_head_inputs *in, int32_t i, int32_t j) {
    return (!in->query_valid || in->query_valid[i]) && (!in->key_valid || in->key_valid[j]) &&
           (!in->causal || j <= i + (in->n_k - in->n_q));
}

/* Parameter parsing helpers for init(): walk "k=v,k=v" pairs. */
struct ap_param_iter {
    const char *p;
    char key[64];
    char value[1024];
};
/* 1 and the next pair in it->key / it->value, 0 at the end, -1 (error set)
 * on a malformed pair. */
int ap_param_next(struct ap_param_iter *it);
/* A whole number / a finite double, or AP_ERR_INVALID_ARG naming key. */
enum ap_status ap_param_double(const char *key, const char *value, double lo, double hi, double *out);
enum ap_status ap_param_int(const char *key, const char *value, int64_t lo, int64_t hi, int64_t *out);

#endif

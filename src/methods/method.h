/* method.h — the one interface every attention-pruning method implements.
 *
 * A model hands a method the inputs of one head and gets back a mask (which
 * (query, key) pairs to compute) plus the statistics the trace records; the
 * kernel then computes exact attention on the mask. The model knows nothing
 * of any method's internals.
 *
 * Legend: S = queries, T = keys, d = head dimension. */
#ifndef AP_METHODS_METHOD_H
#define AP_METHODS_METHOD_H

#include <stdint.h>

#include "attnprune.h"

struct ap_head_inputs {
    int32_t layer, head;
    int32_t n_q, n_k, d;       /* S, T, d */
    const float *q;            /* (S, d), row stride q_stride */
    const float *k;            /* (T, d), row stride k_stride */
    const float *v;            /* (T, d), row stride v_stride */
    int64_t q_stride, k_stride, v_stride;
    float scale;               /* 1/sqrt(d) */
    int32_t causal;
    const uint8_t *key_valid;  /* (T) or NULL */
};

struct ap_head_output {
    uint8_t *mask;     /* in: caller's (S, T) buffer; out: set to NULL to mean "keep all" */
    int64_t kept;      /* kept pairs among the valid ones */
    int64_t valid;     /* valid pairs (not padding, not in the causal future) */
};

struct ap_method_ops {
    const char *name;
    const char *summary;
    const char *paper;
    /* Parse "k=v,k=v" (may be empty) into a new state; errors name the key. */
    enum ap_status (*init)(const char *params, void **state);
    /* Decide the mask of one head. Must be safe to call concurrently for
     * different heads with the same state. */
    enum ap_status (*predict)(const void *state, const struct ap_head_inputs *in, struct ap_head_output *out);
    void (*free)(void *state);
};

struct ap_method;

/* Create a method from a spec "name" or "name:key=value,key=value". */
enum ap_status ap_method_create(const char *spec, struct ap_method **out);
void ap_method_free(struct ap_method *m);
const char *ap_method_name(const struct ap_method *m);
enum ap_status ap_method_predict(const struct ap_method *m, const struct ap_head_inputs *in,
                                 struct ap_head_output *out);

/* The registry, for `attnprune methods`. */
int32_t ap_method_count(void);
const struct ap_method_ops *ap_method_at(int32_t index);

/* Valid (query, key) pairs of a head: not padding, not in the causal future. */
int64_t ap_head_valid_pairs(const struct ap_head_inputs *in);

#endif

/* hammer.c — HAMMER (Lee, Hwang, Park, Rhu; IEEE CAL 2022): training-free
 * prediction of the attention mask with mean redistribution, a 2-bit
 * power-of-two quantizer, shift-add approximate scores, a shifted-ReLU
 * stand-in for exp, and division-free candidate selection. The kept pairs
 * then get exact attention from the kernel.
 *
 * Per head:
 *   1. m = mean over the valid keys of K (a d-vector); K' = K - m. Every
 *      exact score q_i.k_j moves by q_i.m, a constant of row i, so softmax is
 *      unchanged (eq. 7-8).
 *   2. codes quant(q_i), quant(k'_j) in {-factor, -1, +1, +factor} (eq. 6).
 *   3. a_ij = quant(q_i) . quant(k'_j): an integer, shifts and adds (eq. 9).
 *   4. f(a_ij): the shifted ReLU (kernels/shifted_relu.h); its zero point
 *      (0 in the paper) is our extra knob `zero`.
 *   5. keep (i, j) iff f(a_ij) > t * sum_j f(a_ij) over the keys row i sees:
 *      softmax compared with t without the division (§4, candidate selection).
 *
 * Where the paper is silent (docs/methods/hammer.md): the break points of
 * the shifted ReLU (b1, b2, b3, in units of d: 0.25, 0.5, 1 -> 8, 16, 32 at
 * d = 32), the curve between them (continuous by default), the value of t
 * (0.01, from the paper's "values smaller than 0.01 have little impact"),
 * and rows where nothing passes (keep_max: keep the pairs with the largest
 * a_ij rather than give the row a zero output).
 *
 * Legend: S = queries, T = keys, d = head dimension. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "core/arena.h"
#include "core/error.h"
#include "kernels/lowbit_gemm.h"
#include "kernels/shifted_relu.h"
#include "methods/method.h"
#include "quant/pow2.h"

struct hammer_state {
    double t;                   /* candidate threshold on the linearized probability */
    int32_t factor;             /* the large code's weight, a power of two */
    double cut;                 /* |x| >= cut takes the large code, raw value scale */
    double b[3];                /* shifted-ReLU break points, in units of d */
    enum ap_relu_shape shape;   /* curve between the break points */
    double zero;                /* the ReLU's zero point, in units of d (0 = the paper) */
    int32_t mean;               /* 1 = mean redistribution of K */
    int32_t keep_max;           /* 1 = a row with nothing selected keeps its largest a_ij */
};

static const struct ap_param_desc hammer_params[] = {
    {"t", "0", "candidate threshold: keep (i,j) iff f(a_ij) > t * sum_j f(a_ij); 0..1"},
    {"factor", "8", "weight of the large 2-bit code (|x| >= cut -> +-factor), power of two 1..64"},
    {"cut", "1", "quantizer cut point |x| >= cut, in the raw value scale of Q and K - mean; >= 0 (paper: 4)"},
    {"b1", "0.25", "1st shifted-ReLU break point (slope 1 -> 2), units of d: round(b1*d); > 0"},
    {"b2", "0.5", "2nd break point (slope 2 -> 4), units of d; >= b1"},
    {"b3", "1", "3rd break point (slope 4 -> 8), units of d; >= b2"},
    {"relu", "cont", "linearization: cont (continuous, slopes 1,2,4,8), shift (x << segment), plain (ReLU)"},
    {"zero", "0", "ReLU zero point, units of d: f(a - round(zero*d)); < 0 lets negative a through (ours, not the paper's)"},
    {"mean", "1", "mean redistribution of K over the valid keys: 1 on, 0 off (ablation)"},
    {"keep_max", "1", "a row where nothing passes keeps its largest approximate score(s): 1, or 0 = keeps none"},
};

enum { ST_KEPT, ST_APPROX_MACS, ST_MEAN_OPS, ST_RELU_ZERO, ST_ROWS_EMPTY, ST_FALLBACK_KEPT, ST_Q_LARGE, ST_K_LARGE,
       ST_COUNT };

static const char *const hammer_stat_names[ST_COUNT] = {
    [ST_KEPT] = "kept",                   /* kept valid pairs (as out->kept) */
    [ST_APPROX_MACS] = "approx_macs",     /* shift-add terms of the approximate scores: valid pairs x d */
    [ST_MEAN_OPS] = "mean_ops",           /* mean unit: valid keys x d accumulations + as many subtractions */
    [ST_RELU_ZERO] = "relu_zero",         /* valid pairs cut to 0 by the ReLU (a_ij <= zero point) */
    [ST_ROWS_EMPTY] = "rows_empty",       /* valid query rows where the threshold selected nothing */
    [ST_FALLBACK_KEPT] = "fallback_kept", /* pairs kept by keep_max in those rows */
    [ST_Q_LARGE] = "q_large",             /* query elements coded +-factor (valid queries) */
    [ST_K_LARGE] = "k_large",             /* key elements coded +-factor (valid keys, after the mean) */
};

static enum ap_status parse_flag(const char *key, const char *value, int32_t *out) {
    int64_t v;
    enum ap_status st = ap_param_int(key, value, 0, 1, &v);
    if (st == AP_OK) *out = (int32_t)v;
    return st;
}

static enum ap_status hammer_init(const char *params, void **state) {
    *state = NULL;
    struct hammer_state s = {
        .t = 0.0, .factor = 8, .cut = 1.0, .b = {0.25, 0.5, 1.0}, .shape = AP_RELU_CONT, .zero = 0.0, .mean = 1,
        .keep_max = 1,
    };
    struct ap_param_iter it = {.p = params ? params : ""};
    int r;
    enum ap_status st = AP_OK;
    while (st == AP_OK && (r = ap_param_next(&it)) == 1) {
        const char *k = it.key, *v = it.value;
        if (!strcmp(k, "t")) st = ap_param_double(k, v, 0.0, 1.0, &s.t);
        else if (!strcmp(k, "factor")) {
            int64_t f;
            st = ap_param_int(k, v, 1, AP_POW2_MAX_FACTOR, &f);
            if (st == AP_OK && !ap_pow2_factor_ok(f))
                st = ap_error(AP_ERR_INVALID_ARG, "factor=%s: expected a power of two in [1, %d] (a shift)", v,
                              AP_POW2_MAX_FACTOR);
            if (st == AP_OK) s.factor = (int32_t)f;
        } else if (!strcmp(k, "cut")) st = ap_param_double(k, v, 0.0, 1e30, &s.cut);
        else if (!strcmp(k, "b1")) st = ap_param_double(k, v, 1e-9, 64.0, &s.b[0]);
        else if (!strcmp(k, "b2")) st = ap_param_double(k, v, 1e-9, 64.0, &s.b[1]);
        else if (!strcmp(k, "b3")) st = ap_param_double(k, v, 1e-9, 64.0, &s.b[2]);
        else if (!strcmp(k, "relu")) {
            if (!strcmp(v, "cont")) s.shape = AP_RELU_CONT;
            else if (!strcmp(v, "shift")) s.shape = AP_RELU_SHIFT;
            else if (!strcmp(v, "plain")) s.shape = AP_RELU_PLAIN;
            else st = ap_error(AP_ERR_INVALID_ARG, "relu=%s: expected cont, shift or plain", v);
        } else if (!strcmp(k, "zero")) st = ap_param_double(k, v, -64.0, 64.0, &s.zero);
        else if (!strcmp(k, "mean")) st = parse_flag(k, v, &s.mean);
        else if (!strcmp(k, "keep_max")) st = parse_flag(k, v, &s.keep_max);
        else st = ap_error(AP_ERR_INVALID_ARG, "unknown parameter '%s'", k);
    }
    if (st != AP_OK) return st;
    if (r < 0) return AP_ERR_INVALID_ARG;
    if (s.b[0] > s.b[1] || s.b[1] > s.b[2])
        return ap_error(AP_ERR_INVALID_ARG, "b1=%g, b2=%g, b3=%g: break points must satisfy b1 <= b2 <= b3", s.b[0],
                        s.b[1], s.b[2]);
    struct hammer_state *p = malloc(sizeof *p);
    if (!p) return ap_error(AP_ERR_NOMEM, "out of memory");
    *p = s;
    *state = p;
    return AP_OK;
}

/* The break points of a head of dimension d, as integers of the score scale. */
static struct ap_shifted_relu head_relu(const struct hammer_state *s, int32_t d) {
    struct ap_shifted_relu r = {.shape = s->shape};
    for (int k = 0; k < 3; k++) r.b[k] = (int64_t)floor(s->b[k] * (double)d + 0.5);
    return r;
}

/* Query rows whose approximate scores one ap_i8_dots call computes. */
#define HAMMER_ROWS 64

/* Contract: see method.h. Scratch is O(T (d + ROWS)) bytes, allocated per
 * call. The power-of-two codes' dot products are exact int32 (ap_i8_dots:
 * integer SIMD, the key codes packed once per head; codes of +-64, i.e.
 * factor = 64, leave the maddubs range and take VNNI or the scalar loop). */
static enum ap_status hammer_predict(const void *state, const struct ap_head_inputs *in, struct ap_head_output *out) {
    const struct hammer_state *s = state;
    const int32_t S = in->n_q, T = in->n_k, d = in->d, offset = T - S;
    if (!out->mask) return ap_error(AP_ERR_INVALID_ARG, "hammer needs the caller's (S, T) mask buffer");
    if (d < 1 || d > AP_I8_MAX_D) return ap_error(AP_ERR_UNSUPPORTED, "hammer: head dimension %d outside 1..%d", d,
                                                   AP_I8_MAX_D);
    const struct ap_shifted_relu relu = head_relu(s, d);
    const int64_t zero = (int64_t)floor(s->zero * (double)d + 0.5);

    /* scratch: a row's f(a_ij) (T), the mean (d), a row's a_ij (T), the
     * block's a_ij (ROWS, T), K' codes (T, d), the block's query codes
     * (ROWS, d) */
    size_t bytes = sizeof(int64_t) * (size_t)T + sizeof(double) * (size_t)d + sizeof(int32_t) * (size_t)T +
                   sizeof(int32_t) * (size_t)HAMMER_ROWS * (size_t)T + ((size_t)T + HAMMER_ROWS) * (size_t)d;
    unsigned char *buf = malloc(bytes);
    if (!buf) return ap_error(AP_ERR_NOMEM, "hammer: out of memory for %zu bytes of scratch", bytes);
    int64_t *f = (int64_t *)buf;
    double *mean = (double *)(f + T);
    int32_t *a = (int32_t *)(mean + d);
    int32_t *dots = a + T;
    int8_t *kc = (int8_t *)(dots + (int64_t)HAMMER_ROWS * T);
    int8_t *qc = kc + (int64_t)T * d;

    /* 1. mean redistribution over the valid keys */
    int64_t n_keys = 0;
    for (int32_t c = 0; c < d; c++) mean[c] = 0.0;
    for (int32_t j = 0; j < T; j++) {
        if (in->key_valid && !in->key_valid[j]) continue;
        n_keys++;
        if (!s->mean) continue;
        const float *k = in->k + (int64_t)j * in->k_stride;
        for (int32_t c = 0; c < d; c++) mean[c] += (double)k[c];
    }
    if (s->mean && n_keys > 0)
        for (int32_t c = 0; c < d; c++) mean[c] /= (double)n_keys;

    /* 2. 2-bit codes of K' (valid keys only) */
    int64_t k_large = 0;
    for (int32_t j = 0; j < T; j++) {
        int8_t *kcj = kc + (int64_t)j * d;
        if (in->key_valid && !in->key_valid[j]) {
            memset(kcj, 0, (size_t)d);
            continue;
        }
        k_large += ap_pow2_quant_row(in->k + (int64_t)j * in->k_stride, s->mean ? mean : NULL, d, s->cut, s->factor,
                                     kcj);
    }
    struct ap_i8_keys keys;
    enum ap_status st = ap_i8_keys_pack(kc, T, d, &keys);
    if (st != AP_OK) {
        free(buf);
        return st;
    }

    /* 3-5. approximate scores, shifted ReLU, division-free selection */
    int64_t kept = 0, valid = 0, q_large = 0, relu_zero = 0, rows_empty = 0, fallback = 0;
    for (int32_t i0 = 0; i0 < S; i0 += HAMMER_ROWS) {
        const int32_t n_rows = S - i0 < HAMMER_ROWS ? S - i0 : HAMMER_ROWS;
        int32_t last_blk = in->causal ? i0 + n_rows - 1 + offset : T - 1;
        if (last_blk > T - 1) last_blk = T - 1;
        for (int32_t r = 0; r < n_rows; r++) {
            int8_t *qcr = qc + (int64_t)r * d;
            const int32_t i = i0 + r;
            memset(qcr, 0, (size_t)d);
            if (in->query_valid && !in->query_valid[i]) continue;
            int32_t last = in->causal ? i + offset : T - 1;
            if (last < 0) continue; /* a row with nothing visible is not counted */
            q_large += ap_pow2_quant_row(in->q + (int64_t)i * in->q_stride, NULL, d, s->cut, s->factor, qcr);
        }
        if (last_blk >= 0) ap_i8_dots(qc, n_rows, &keys, last_blk + 1, dots, T);
        for (int32_t r = 0; r < n_rows; r++) {
            const int32_t i = i0 + r;
            const int32_t *drow = dots + (int64_t)r * T;
            uint8_t *row = out->mask + (int64_t)i * T;
            memset(row, 0, (size_t)T);
            if (in->query_valid && !in->query_valid[i]) continue;
            int32_t last = in->causal ? i + offset : T - 1;
            if (last > T - 1) last = T - 1;
            if (last < 0) continue;
            int64_t sum = 0, seen = 0;
            int32_t amax = INT32_MIN;
            for (int32_t j = 0; j <= last; j++) {
                if (in->key_valid && !in->key_valid[j]) continue;
                a[j] = drow[j];
                f[j] = ap_shifted_relu(&relu, (int64_t)a[j] - zero);
                sum += f[j];
                relu_zero += f[j] == 0;
                if (a[j] > amax) amax = a[j];
                seen++;
            }
            if (!seen) continue;
            valid += seen;
            const double bound = s->t * (double)sum;
            int64_t row_kept = 0;
            for (int32_t j = 0; j <= last; j++) {
                if (in->key_valid && !in->key_valid[j]) continue;
                if ((double)f[j] > bound) {
                    row[j] = 1;
                    row_kept++;
                }
            }
            if (!row_kept) {
                rows_empty++;
                if (s->keep_max)
                    for (int32_t j = 0; j <= last; j++) {
                        if (in->key_valid && !in->key_valid[j]) continue;
                        if (a[j] == amax) {
                            row[j] = 1;
                            row_kept++;
                        }
                    }
                fallback += row_kept;
            }
            kept += row_kept;
        }
    }
    ap_i8_keys_free(&keys);
    free(buf);

    out->kept = kept;
    out->valid = valid;
    out->stats[ST_KEPT] = (double)kept;
    out->stats[ST_APPROX_MACS] = (double)valid * (double)d;
    out->stats[ST_MEAN_OPS] = s->mean ? 2.0 * (double)n_keys * (double)d : 0.0;
    out->stats[ST_RELU_ZERO] = (double)relu_zero;
    out->stats[ST_ROWS_EMPTY] = (double)rows_empty;
    out->stats[ST_FALLBACK_KEPT] = (double)fallback;
    out->stats[ST_Q_LARGE] = (double)q_large;
    out->stats[ST_K_LARGE] = (double)k_large;
    return AP_OK;
}

static void hammer_free(void *state) { free(state); }

/* ------------------------------------------------------ fused row blocks */

/* The per-head buffer of the fused path (rows_bytes): the packed key codes
 * of K' and one block's query codes, products and f values. Legend as
 * above; R = AP_ROWS_BLOCK. */
struct hammer_rows {
    struct ap_i8_keys keys; /* packed into kmem */
    int32_t *n_valid;       /* (T + 1) valid keys among the first j */
    int8_t *kc;             /* (T, d) codes of K' */
    unsigned char *kmem;    /* ap_i8_keys_bytes(T, d) */
    int8_t *qc;             /* (R, d) */
    int32_t *dots;          /* (R, T) */
    int32_t *f;             /* (T) one row's f(a_ij) */
    double *mean;           /* (d) */
};

static size_t hammer_layout(void *buf, int32_t n_k, int32_t d, struct hammer_rows **out) {
    const size_t T = (size_t)(n_k > 0 ? n_k : 1), D = (size_t)d, R = AP_ROWS_BLOCK;
    const size_t parts[] = {ap_arena_size_of(sizeof(struct hammer_rows)), ap_arena_size_of(sizeof(int32_t) * (T + 1)),
                            ap_arena_size_of(T * D), ap_arena_size_of(ap_i8_keys_bytes((int32_t)T, d)), ap_arena_size_of(R * D),
                            ap_arena_size_of(sizeof(int32_t) * R * T), ap_arena_size_of(sizeof(int32_t) * T),
                            ap_arena_size_of(sizeof(double) * D)};
    size_t off[sizeof parts / sizeof parts[0] + 1] = {0};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) off[i + 1] = off[i] + parts[i];
    if (buf) {
        unsigned char *p = (unsigned char *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
        struct hammer_rows *r = (struct hammer_rows *)(void *)p;
        r->n_valid = (int32_t *)(void *)(p + off[1]);
        r->kc = (int8_t *)(p + off[2]);
        r->kmem = p + off[3];
        r->qc = (int8_t *)(p + off[4]);
        r->dots = (int32_t *)(void *)(p + off[5]);
        r->f = (int32_t *)(void *)(p + off[6]);
        r->mean = (double *)(void *)(p + off[7]);
        *out = r;
    }
    return off[sizeof parts / sizeof parts[0]] + 64;
}

static size_t hammer_rows_bytes(const void *state, int32_t n_q, int32_t n_k, int32_t d) {
    (void)state, (void)n_q;
    return hammer_layout(NULL, n_k, d, NULL);
}

/* Steps 1-2 of predict for the whole head: mean redistribution, K' codes. */
static enum ap_status hammer_rows_prepare(const void *state, const struct ap_head_inputs *in, void *buf) {
    const struct hammer_state *s = state;
    const int32_t T = in->n_k, d = in->d;
    if (d < 1 || d > AP_I8_MAX_D)
        return ap_error(AP_ERR_UNSUPPORTED, "hammer: head dimension %d outside 1..%d", d, AP_I8_MAX_D);
    struct hammer_rows *r = NULL;
    hammer_layout(buf, T, d, &r);
    int64_t n_keys = 0;
    for (int32_t c = 0; c < d; c++) r->mean[c] = 0.0;
    r->n_valid[0] = 0;
    for (int32_t j = 0; j < T; j++) {
        const int valid = !in->key_valid || in->key_valid[j];
        r->n_valid[j + 1] = r->n_valid[j] + valid;
        if (!valid) continue;
        n_keys++;
        if (!s->mean) continue;
        const float *k = in->k + (int64_t)j * in->k_stride;
        for (int32_t c = 0; c < d; c++) r->mean[c] += (double)k[c];
    }
    if (s->mean && n_keys > 0)
        for (int32_t c = 0; c < d; c++) r->mean[c] /= (double)n_keys;
    for (int32_t j = 0; j < T; j++) {
        int8_t *kcj = r->kc + (int64_t)j * d;
        if (in->key_valid && !in->key_valid[j])
            memset(kcj, 0, (size_t)d);
        else
            ap_pow2_quant_row(in->k + (int64_t)j * in->k_stride, s->mean ? r->mean : NULL, d, s->cut, s->factor,
                              kcj);
    }
    return ap_i8_keys_pack_into(r->kc, T, d, r->kmem, &r->keys);
}

/* Steps 3-5 for rows [i0, i0 + nb): integer products (ap_i8_dots), then
 * the shifted ReLU and the division-free selection vectorized
 * (ap_relu_select_row): integer arithmetic throughout, so the kept pairs
 * are exactly predict's. */
static enum ap_status hammer_predict_rows(const void *state, const struct ap_head_inputs *in, void *buf, int32_t i0,
                                          int32_t nb, int64_t *row_ptr, int32_t *cols, int64_t *kept,
                                          int64_t *valid) {
    const struct hammer_state *s = state;
    const int32_t S = in->n_q, T = in->n_k, d = in->d, offset = T - S;
    AP_ASSERT(nb >= 0 && nb <= AP_ROWS_BLOCK && i0 >= 0 && i0 + nb <= S);
    struct hammer_rows *r = NULL;
    hammer_layout(buf, T, d, &r);
    const struct ap_shifted_relu relu = head_relu(s, d);
    const int64_t zero = (int64_t)floor(s->zero * (double)d + 0.5);
    for (int32_t b = 0; b < nb; b++) {
        const int32_t i = i0 + b;
        int8_t *qcr = r->qc + (int64_t)b * d;
        memset(qcr, 0, (size_t)d);
        if (in->query_valid && !in->query_valid[i]) continue;
        if (in->causal && i + offset < 0) continue;
        ap_pow2_quant_row(in->q + (int64_t)i * in->q_stride, NULL, d, s->cut, s->factor, qcr);
    }
    int64_t last64 = in->causal ? (int64_t)i0 + nb + offset : T;
    const int32_t n_blk = last64 > T ? T : last64 < 0 ? 0 : (int32_t)last64;
    if (n_blk > 0 && nb > 0) ap_i8_dots(r->qc, nb, &r->keys, n_blk, r->dots, T);
    int64_t pos = 0;
    row_ptr[0] = 0;
    for (int32_t b = 0; b < nb; b++) {
        const int32_t i = i0 + b;
        int64_t n64 = in->causal ? (int64_t)i + offset + 1 : T;
        const int32_t n = n64 > T ? T : n64 < 0 ? 0 : (int32_t)n64;
        if (n > 0 && (!in->query_valid || in->query_valid[i]) && r->n_valid[n] > 0) {
            int64_t sum = 0;
            const int32_t k = ap_relu_select_row(r->dots + (int64_t)b * T, n, zero, &relu, in->key_valid, s->t,
                                                 s->keep_max, r->f, cols + pos, &sum, ap_cpu_features());
            pos += k;
            *kept += k;
            *valid += r->n_valid[n];
        }
        row_ptr[b + 1] = pos;
    }
    return AP_OK;
}

/* Defaults on a causal decoder (SmolLM2-135M; docs/decoder.md): the
 * setting the sweeps of docs/results.md found within 1% of dense perplexity. */
static const struct ap_param_default decoder_defaults[] = {{"zero", "-6"}};

const struct ap_method_ops ap_method_hammer = {
    .name = "hammer",
    .summary = "mean redistribution, 2-bit power-of-two Q.K, shifted-ReLU softmax, division-free threshold",
    .paper = "HAMMER, IEEE CAL 2022",
    .params = hammer_params,
    .n_params = (int32_t)(sizeof hammer_params / sizeof hammer_params[0]),
    .decoder_defaults = decoder_defaults,
    .n_decoder_defaults = (int32_t)(sizeof decoder_defaults / sizeof decoder_defaults[0]),
    .stat_names = hammer_stat_names,
    .n_stats = ST_COUNT,
    .init = hammer_init,
    .predict = hammer_predict,
    .free = hammer_free,
    .rows_bytes = hammer_rows_bytes,
    .rows_prepare = hammer_rows_prepare,
    .predict_rows = hammer_predict_rows,
};

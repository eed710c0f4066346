/* leopard.c — LEOPARD (Li et al., ISCA 2022; thesis chapter 2): runtime
 * pruning of attention scores against a per-layer threshold, decided by a
 * bit-serial Q·K dot product that stops as soon as a conservative margin
 * shows the score cannot reach the threshold.
 *
 * Legend: S = queries, T = keys, d = head dimension, n = key magnitude bits.
 *
 * Per head:
 *   1. Q -> q_bits two's complement fixed point, K -> sign-magnitude with
 *      k_bits - 1 magnitude bits; each with one power-of-two scale taken
 *      from the head's largest |value| over its valid rows (quant/fixed_point.h;
 *      the paper gives the widths, not the binary point).
 *   2. The layer threshold Th (scaled-score units) becomes an integer code:
 *      keep iff q_int·k_int * unit >= Th, unit = scale * 2^(eq-q_bits+1) * 2^(ek-n),
 *      i.e. iff q_int·k_int >= Th_code (ap_fxp_threshold_code).
 *   3. Every valid pair runs the bit-serial dot product with early termination
 *      (kernels/bit_serial.h), B key bits per step from the MSB; its decision
 *      equals the full fixed-point comparison, and the number of key bits it
 *      read is recorded.
 * Kept pairs are then computed exactly by the model's attention kernel. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/bit_serial.h"
#include "methods/method.h"
#include "methods/threshold_calib.h"
#include "quant/fixed_point.h"

/* Query rows decided per block (kernels/bit_serial.h's ap_bit_serial_rows). */
#define LEOPARD_ROWS 32

struct leopard {
    struct ap_layer_thresholds th;
    int32_t q_bits; /* query code width, sign included */
    int32_t k_bits; /* key word width, sign included: k_bits - 1 magnitude bits */
    int32_t B;      /* key bits per step */
};

static const struct ap_param_desc leopard_params[] = {
    {"th", "", "threshold on the scaled score q.k/sqrt(d) (kept iff >= th): one value for all layers, or one per "
               "layer 'a;b;c'; empty = calibrated per layer for `density`"},
    {"density", AP_TH_DEFAULT_DENSITY_STR,
     "target kept fraction in (0, 1] for threshold calibration (calibrated, not learned); only without th"},
    {"q_bits", "12", "query fixed-point width in bits, sign included (2..16; paper: 12)"},
    {"k_bits", "12", "key sign-magnitude width in bits, sign included: k_bits-1 magnitude bits (2..16; paper: 12)"},
    {"B", "2", "key bits read per bit-serial step, from the MSB (1..16; paper: 2)"},
};

enum {
    ST_PRUNED,
    ST_KBITS_PRUNED,
    ST_KBITS_KEPT,
    ST_STEPS_PRUNED,
    ST_STEPS_KEPT,
    ST_HIST0, /* pruned pairs by key bits read: 1-2, 3-4, 5-6, 7-8, 9-10, 11+ */
    ST_COUNT = ST_HIST0 + 6,
};

static const char *const leopard_stats[ST_COUNT] = {
    "pruned",          /* valid pairs pruned */
    "kbits_pruned",    /* key bits read (sign included) summed over pruned pairs */
    "kbits_kept",      /* key bits read summed over kept pairs (k_bits each) */
    "steps_pruned",    /* bit-serial steps (B bits each) summed over pruned pairs */
    "steps_kept",      /* bit-serial steps summed over kept pairs */
    "pruned_kbits_1_2", "pruned_kbits_3_4", "pruned_kbits_5_6", "pruned_kbits_7_8", "pruned_kbits_9_10",
    "pruned_kbits_11_up",
};

static enum ap_status leopard_init(const char *params, void **state) {
    *state = NULL;
    struct leopard *s = calloc(1, sizeof *s);
    if (!s) return ap_error(AP_ERR_NOMEM, "out of memory");
    ap_thresholds_init(&s->th);
    s->q_bits = 12;
    s->k_bits = 12;
    s->B = 2;
    struct ap_param_iter it = {.p = params ? params : ""};
    enum ap_status st = AP_OK;
    int r;
    while (st == AP_OK && (r = ap_param_next(&it)) == 1) {
        int64_t v = 0;
        if (ap_thresholds_param(&s->th, it.key, it.value, &st)) continue;
        if (strcmp(it.key, "q_bits") == 0) {
            if ((st = ap_param_int(it.key, it.value, 2, AP_FXP_MAX_BITS, &v)) == AP_OK) s->q_bits = (int32_t)v;
        } else if (strcmp(it.key, "k_bits") == 0) {
            if ((st = ap_param_int(it.key, it.value, 2, AP_FXP_MAX_BITS, &v)) == AP_OK) s->k_bits = (int32_t)v;
        } else if (strcmp(it.key, "B") == 0) {
            if ((st = ap_param_int(it.key, it.value, 1, AP_FXP_MAX_BITS, &v)) == AP_OK) s->B = (int32_t)v;
        } else {
            st = ap_error(AP_ERR_INVALID_ARG, "unknown parameter '%s' (th, density, q_bits, k_bits, B)", it.key);
        }
    }
    if (st == AP_OK && r < 0) st = AP_ERR_INVALID_ARG;
    if (st != AP_OK) {
        free(s);
        return st;
    }
    *state = s;
    return AP_OK;
}

static void leopard_free(void *state) { free(state); }

static int leopard_needs_calibration(const void *state) {
    return ap_thresholds_missing(&((const struct leopard *)state)->th);
}

static enum ap_status leopard_calibrate(void *state, const struct ap_score_quantiles *layers, int32_t n_layers,
                                        char *note, size_t cap) {
    return ap_thresholds_calibrate(&((struct leopard *)state)->th, layers, n_layers, "leopard", note, cap);
}

/* Steps 1-2 and the keys of step 3 for one head, shared by predict and the
 * fused path: the threshold of the layer, the binary points of Q and K
 * (one per tensor of the head), the threshold in integer units of the
 * dot product, and K in sign-magnitude (kmag, kneg (T, d); zeros for
 * padding keys, never read). */
static enum ap_status head_setup(const struct leopard *s, const struct ap_head_inputs *in, int32_t *eq,
                                 int64_t *th_code, int32_t *kmag, uint8_t *kneg) {
    const int32_t S = in->n_q, T = in->n_k, d = in->d, n = s->k_bits - 1;
    double th = 0.0;
    enum ap_status st = ap_thresholds_get(&s->th, in->layer, in->n_layers, &th);
    if (st != AP_OK) return st;
    *eq = ap_fxp_exponent(ap_fxp_max_abs_rows(in->q, S, d, in->q_stride, in->query_valid));
    const int32_t ek = ap_fxp_exponent(ap_fxp_max_abs_rows(in->k, T, d, in->k_stride, in->key_valid));
    *th_code = ap_fxp_threshold_code(th, ldexp((double)in->scale, *eq - (s->q_bits - 1) + ek - n));
    for (int32_t j = 0; j < T; j++) {
        if (in->key_valid && !in->key_valid[j]) {
            memset(kmag + (int64_t)j * d, 0, sizeof(int32_t) * (size_t)d);
            memset(kneg + (int64_t)j * d, 0, (size_t)d);
            continue;
        }
        const float *k = in->k + (int64_t)j * in->k_stride;
        for (int32_t c = 0; c < d; c++)
            kmag[(int64_t)j * d + c] = ap_fxp_sign_magnitude(k[c], s->k_bits, ek, &kneg[(int64_t)j * d + c]);
    }
    return AP_OK;
}

static enum ap_status leopard_predict(const void *state, const struct ap_head_inputs *in, struct ap_head_output *out) {
    const struct leopard *s = state;
    const int32_t S = in->n_q, T = in->n_k, d = in->d, n = s->k_bits - 1;
    if (d < 1 || d > AP_ATTN_MAX_HEAD_DIM)
        return ap_error(AP_ERR_UNSUPPORTED, "head dimension %d outside 1..%d", d, AP_ATTN_MAX_HEAD_DIM);
    if (!out->mask) return ap_error(AP_ERR_INVALID_ARG, "no mask buffer given");

    int32_t *kmag = malloc(sizeof(int32_t) * (size_t)T * (size_t)d); /* (T, d) */
    uint8_t *kneg = malloc((size_t)T * (size_t)d);                   /* (T, d) */
    if (!kmag || !kneg) {
        free(kmag);
        free(kneg);
        return ap_error(AP_ERR_NOMEM, "out of memory for %d quantized keys", T);
    }
    /* 1-2. binary points, the threshold in integer units, the keys */
    int32_t eq = 0;
    int64_t th_code = 0;
    enum ap_status st = head_setup(s, in, &eq, &th_code, kmag, kneg);
    if (st != AP_OK) {
        free(kmag);
        free(kneg);
        return st;
    }

    /* 3. bit-serial decisions: a block of rows at a time through sgemm when
     * that is exact (kernels/bit_serial.h; the same decisions and bits), else
     * one ap_bit_serial_dot per pair */
    int64_t kept = 0, valid = 0, acc[ST_COUNT] = {0};
    const int blocked = ap_bs_rows_exact(d, (int64_t)1 << (s->q_bits - 1), n, s->B);
    struct ap_bs_keys kk;
    float *fbuf = NULL;
    int32_t *qc = NULL;
    uint8_t *bits = NULL;
    size_t n_key_floats = 0;
    if (blocked) {
        n_key_floats = ap_bs_keys_floats(T, d, n, s->B);
        fbuf = malloc(sizeof(float) * (n_key_floats + ap_bs_rows_floats(T, d, n, s->B, LEOPARD_ROWS)));
        qc = malloc(sizeof(int32_t) * (size_t)LEOPARD_ROWS * (size_t)d);
        bits = malloc((size_t)LEOPARD_ROWS * (size_t)T);
        if (!fbuf || !qc || !bits) {
            free(fbuf);
            free(qc);
            free(bits);
            free(kmag);
            free(kneg);
            return ap_error(AP_ERR_NOMEM, "out of memory for the bit-serial blocks of %d keys", T);
        }
        ap_bs_keys_prepare(&kk, kmag, kneg, T, d, n, s->B, fbuf);
    } else {
        qc = malloc(sizeof(int32_t) * (size_t)d);
        if (!qc) {
            free(kmag);
            free(kneg);
            return ap_error(AP_ERR_NOMEM, "out of memory");
        }
    }
    const int32_t rows = blocked ? LEOPARD_ROWS : 1;
    for (int32_t i0 = 0; i0 < S; i0 += rows) {
        const int32_t n_rows = S - i0 < rows ? S - i0 : rows;
        int32_t last_blk = in->causal ? i0 + n_rows - 1 + (T - S) : T - 1;
        if (last_blk > T - 1) last_blk = T - 1;
        for (int32_t r = 0; r < n_rows; r++) {
            const float *q = in->q + (int64_t)(i0 + r) * in->q_stride;
            const int v = !in->query_valid || in->query_valid[i0 + r];
            for (int32_t c = 0; c < d; c++) qc[(int64_t)r * d + c] = v ? ap_fxp_signed(q[c], s->q_bits, eq) : 0;
        }
        if (blocked)
            ap_bit_serial_rows(&kk, qc, n_rows, last_blk + 1, th_code, fbuf + n_key_floats,
                               out->mask + (int64_t)i0 * T, bits, T);
        for (int32_t r = 0; r < n_rows; r++) {
            const int32_t i = i0 + r;
            uint8_t *mrow = out->mask + (int64_t)i * T;
            if (in->query_valid && !in->query_valid[i]) {
                memset(mrow, 0, (size_t)T);
                continue;
            }
            for (int32_t j = 0; j < T; j++) {
                if (!ap_head_pair_valid(in, i, j)) {
                    mrow[j] = 0;
                    continue;
                }
                int32_t kbits;
                int keep;
                if (blocked) {
                    keep = mrow[j];
                    kbits = bits[(int64_t)r * T + j];
                } else {
                    struct ap_bs_result res;
                    keep = ap_bit_serial_dot(qc, kmag + (int64_t)j * d, kneg + (int64_t)j * d, d, n, s->B, th_code,
                                             &res, NULL);
                    mrow[j] = (uint8_t)keep;
                    kbits = res.bits;
                }
                const int32_t steps = (kbits + s->B - 1) / s->B;
                valid++;
                if (keep) {
                    kept++;
                    acc[ST_KBITS_KEPT] += kbits;
                    acc[ST_STEPS_KEPT] += steps;
                } else {
                    acc[ST_PRUNED]++;
                    acc[ST_KBITS_PRUNED] += kbits;
                    acc[ST_STEPS_PRUNED] += steps;
                    int bin = (kbits - 1) / 2;
                    acc[ST_HIST0 + (bin < 5 ? bin : 5)]++;
                }
            }
        }
    }
    free(fbuf);
    free(qc);
    free(bits);
    free(kmag);
    free(kneg);
    out->kept = kept;
    out->valid = valid;
    for (int32_t k = 0; k < ST_COUNT; k++) out->stats[k] = (double)acc[k];
    return AP_OK;
}

/* ------------------------------------------------------ fused row blocks */

/* The per-head buffer of the fused path: steps 1-2 and the keys of step 3
 * for the whole head, then one block's decisions. Legend as above; R =
 * AP_ROWS_BLOCK (= LEOPARD_ROWS). */
struct leopard_rows {
    int32_t eq, blocked;
    int64_t th_code;
    struct ap_bs_keys kk;
    int32_t *kmag;  /* (T, d) */
    uint8_t *kneg;  /* (T, d) */
    float *kf;      /* ap_bs_keys_floats + ap_bs_rows_floats(R) */
    int32_t *qc;    /* (R, d) */
    uint8_t *keep;  /* (R, T) */
    uint8_t *bits;  /* (R, T) */
};

static size_t leopard_layout(const struct leopard *s, void *buf, int32_t n_k, int32_t d,
                             struct leopard_rows **out) {
    const size_t T = (size_t)(n_k > 0 ? n_k : 1), D = (size_t)d, R = AP_ROWS_BLOCK;
    const int32_t n = s->k_bits - 1;
    const size_t nf = ap_bs_keys_floats((int32_t)T, d, n, s->B) + ap_bs_rows_floats((int32_t)T, d, n, s->B, (int32_t)R);
    const size_t parts[] = {ap_arena_size_of(sizeof(struct leopard_rows)), ap_arena_size_of(sizeof(int32_t) * T * D), ap_arena_size_of(T * D),
                            ap_arena_size_of(sizeof(float) * nf), ap_arena_size_of(sizeof(int32_t) * R * D), ap_arena_size_of(R * T),
                            ap_arena_size_of(R * T)};
    size_t off[sizeof parts / sizeof parts[0] + 1] = {0};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) off[i + 1] = off[i] + parts[i];
    if (buf) {
        unsigned char *p = (unsigned char *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
        struct leopard_rows *r = (struct leopard_rows *)(void *)p;
        r->kmag = (int32_t *)(void *)(p + off[1]);
        r->kneg = p + off[2];
        r->kf = (float *)(void *)(p + off[3]);
        r->qc = (int32_t *)(void *)(p + off[4]);
        r->keep = p + off[5];
        r->bits = p + off[6];
        *out = r;
    }
    return off[sizeof parts / sizeof parts[0]] + 64;
}

static size_t leopard_rows_bytes(const void *state, int32_t n_q, int32_t n_k, int32_t d) {
    (void)n_q;
    return leopard_layout(state, NULL, n_k, d, NULL);
}

/* Steps 1-2 (binary points over the whole head, as predict) and the keys. */
static enum ap_status leopard_rows_prepare(const void *state, const struct ap_head_inputs *in, void *buf) {
    const struct leopard *s = state;
    const int32_t T = in->n_k, d = in->d, n = s->k_bits - 1;
    if (d < 1 || d > AP_ATTN_MAX_HEAD_DIM)
        return ap_error(AP_ERR_UNSUPPORTED, "head dimension %d outside 1..%d", d, AP_ATTN_MAX_HEAD_DIM);
    struct leopard_rows *r = NULL;
    leopard_layout(s, buf, T, d, &r);
    enum ap_status st = head_setup(s, in, &r->eq, &r->th_code, r->kmag, r->kneg);
    if (st != AP_OK) return st;
    r->blocked = ap_bs_rows_exact(d, (int64_t)1 << (s->q_bits - 1), n, s->B);
    if (r->blocked) ap_bs_keys_prepare(&r->kk, r->kmag, r->kneg, T, d, n, s->B, r->kf);
    return AP_OK;
}

/* Step 3 for rows [i0, i0 + nb): predict's decisions (the block form when
 * exact, else one ap_bit_serial_dot per pair), as lists. */
static enum ap_status leopard_predict_rows(const void *state, const struct ap_head_inputs *in, void *buf, int32_t i0,
                                           int32_t nb, int64_t *row_ptr, int32_t *cols, int64_t *kept,
                                           int64_t *valid) {
    const struct leopard *s = state;
    const int32_t S = in->n_q, T = in->n_k, d = in->d, n = s->k_bits - 1;
    AP_ASSERT(nb >= 0 && nb <= AP_ROWS_BLOCK && i0 >= 0 && i0 + nb <= S);
    struct leopard_rows *r = NULL;
    leopard_layout(s, buf, T, d, &r);
    for (int32_t b = 0; b < nb; b++) {
        const float *q = in->q + (int64_t)(i0 + b) * in->q_stride;
        const int v = !in->query_valid || in->query_valid[i0 + b];
        for (int32_t c = 0; c < d; c++) r->qc[(int64_t)b * d + c] = v ? ap_fxp_signed(q[c], s->q_bits, r->eq) : 0;
    }
    int64_t last64 = in->causal ? (int64_t)i0 + nb + (T - S) : T; /* keys the block's last row sees */
    const int32_t n_blk = last64 > T ? T : last64 < 0 ? 0 : (int32_t)last64;
    if (r->blocked && n_blk > 0 && nb > 0)
        ap_bit_serial_rows(&r->kk, r->qc, nb, n_blk, r->th_code,
                           r->kf + ap_bs_keys_floats(T, d, n, s->B), r->keep, r->bits, T);
    int64_t pos = 0;
    row_ptr[0] = 0;
    for (int32_t b = 0; b < nb; b++) {
        const int32_t i = i0 + b;
        if (!in->query_valid || in->query_valid[i]) {
            for (int32_t j = 0; j < n_blk; j++) {
                if (!ap_head_pair_valid(in, i, j)) continue;
                int keep;
                if (r->blocked) {
                    keep = r->keep[(int64_t)b * T + j];
                } else {
                    struct ap_bs_result res;
                    keep = ap_bit_serial_dot(r->qc + (int64_t)b * d, r->kmag + (int64_t)j * d,
                                             r->kneg + (int64_t)j * d, d, n, s->B, r->th_code, &res, NULL);
                }
                (*valid)++;
                if (keep) cols[pos++] = j;
            }
        }
        *kept += pos - row_ptr[b];
        row_ptr[b + 1] = pos;
    }
    return AP_OK;
}

/* Defaults on a causal decoder (SmolLM2-135M; docs/decoder.md): the
 * setting the sweeps of docs/results.md found within 1% of dense perplexity. */
static const struct ap_param_default decoder_defaults[] = {{"density", "0.8"}};

const struct ap_method_ops ap_method_leopard = {
    .name = "leopard",
    .summary = "per-layer score thresholds (calibrated, not learned) decided by exact bit-serial Q.K with early "
               "termination; counts key bits read",
    .paper = "LEOPARD, ISCA 2022 (Li et al., Accelerating Attention through Gradient-Based Learned Runtime Pruning)",
    .params = leopard_params,
    .n_params = (int32_t)(sizeof leopard_params / sizeof leopard_params[0]),
    .decoder_defaults = decoder_defaults,
    .n_decoder_defaults = (int32_t)(sizeof decoder_defaults / sizeof decoder_defaults[0]),
    .stat_names = leopard_stats,
    .n_stats = ST_COUNT,
    .init = leopard_init,
    .predict = leopard_predict,
    .rows_bytes = leopard_rows_bytes,
    .rows_prepare = leopard_rows_prepare,
    .predict_rows = leopard_predict_rows,
    .free = leopard_free,
    .needs_calibration = leopard_needs_calibration,
    .calibrate = leopard_calibrate,
};

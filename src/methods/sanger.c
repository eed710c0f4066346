/* sanger.c — Sanger (Lu et al., MICRO 2021): the attention mask predicted
 * from 4-bit quantized queries and keys, a softmax, and a probability
 * threshold; then pack & split of the mask into load-balanced blocks for the
 * reconfigurable systolic array (its statistics are the trace's).
 *
 * Per head (§4.1-4.3, Algorithm 1):
 *   1. (artifact, normalize_qk: inner_product) each query and key row is
 *      divided by its L2 norm before quantization, and the quantized product
 *      is scaled back by |q_i| |k_j|;
 *   2. symmetric linear quantization at `bits` bits (quant/linear.h) with
 *      thr = max|x| over the head's (normalized) valid Q rows, and K rows
 *      (training-free; the artifact learns thr as an EMA during fine-tuning);
 *   3. S^_ij = deq(Q(q_i).Q(k_j)) * |q_i| |k_j| * scale, softmax over the keys
 *      row i sees, M_ij = [P^_ij > t];
 *   4. pack & split of M (mask/pack_split.h).
 *
 * Where the paper and artifact are silent or we differ
 * (docs/methods/sanger.md): thr per head rather than per layer and batch;
 * '>' as the artifact (the paper writes >=); a row where nothing passes keeps
 * its largest predicted score (keep_max) where the artifact's additive -10000
 * mask would fall back to the dense row.
 *
 * Legend: S = queries, T = keys, d = head dimension. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "core/arena.h"
#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/lowbit_dot.h"
#include "kernels/lowbit_gemm.h"
#include "mask/pack_split.h"
#include "methods/method.h"
#include "quant/linear.h"

struct sanger_state {
    double t;          /* probability threshold */
    int32_t bits;      /* quantizer bits */
    int32_t normalize; /* 1 = rows divided by their L2 norm before quantization */
    double thr_q;      /* quantizer range of Q; 0 = max|x| of the head */
    double thr_k;      /* the same for K */
    int32_t keep_max;  /* 1 = a row with nothing kept keeps its largest predicted score(s) */
    struct ap_pack_split_params ps;
};

static const struct ap_param_desc sanger_params[] = {
    {"t", "2e-3", "threshold on the predicted probability: keep P^_ij > t; 0..1 (paper: 2e-2 GLUE, 2e-3 SQuAD)"},
    {"bits", "4", "bits of the symmetric linear quantizer of Q and K, 2..8"},
    {"normalize", "1", "1 = L2-normalize each Q and K row before quantizing (artifact's inner_product), 0 = off"},
    {"thr_q", "0", "quantizer range of Q (of Q/|q| if normalize); 0 = max|x| over the head's valid rows"},
    {"thr_k", "0", "quantizer range of K (of K/|k| if normalize); 0 = max|x| over the head's valid rows"},
    {"keep_max", "1", "a row where nothing passes keeps its largest predicted score(s): 1, or 0 = keeps none"},
    {"ports", "64", "pack & split column-group width (the PE array's vertical ports), >= 1"},
    {"pes", "16", "pack & split PEs per array row: most kept pairs per sub-row, >= 1"},
    {"pe_rows", "64", "PE array rows: sub-rows per block, >= 1"},
};

enum { ST_KEPT, ST_PRED_MACS, ST_ROWS_EMPTY, ST_GROUPS, ST_SUBROWS_NONEMPTY, ST_SUBROWS_EMPTY, ST_SUBROWS_BEFORE,
       ST_SUBROWS_AFTER, ST_BLOCKS_BEFORE, ST_BLOCKS_AFTER, ST_PE_SLOTS_BEFORE, ST_PE_SLOTS_AFTER, ST_COUNT };

static const char *const sanger_stat_names[ST_COUNT] = {
    [ST_KEPT] = "kept",                         /* kept valid pairs = the nnz pack & split places */
    [ST_PRED_MACS] = "pred_macs",               /* low-bit MACs of the prediction: valid pairs x d */
    [ST_ROWS_EMPTY] = "rows_empty",             /* valid rows where the threshold kept nothing */
    [ST_GROUPS] = "groups",                     /* column groups holding a valid pair */
    [ST_SUBROWS_NONEMPTY] = "subrows_nonempty", /* sub-rows holding a kept pair */
    [ST_SUBROWS_EMPTY] = "subrows_empty",       /* sub-rows with valid pairs, none kept (packed away) */
    [ST_SUBROWS_BEFORE] = "subrows_before",     /* PE rows without pack (overfull rows still split) */
    [ST_SUBROWS_AFTER] = "subrows_after",       /* PE rows after pack & split */
    [ST_BLOCKS_BEFORE] = "blocks_before",       /* pe_rows-row blocks, summed over column groups */
    [ST_BLOCKS_AFTER] = "blocks_after",
    [ST_PE_SLOTS_BEFORE] = "pe_slots_before",   /* subrows_before x pes: utilization = kept / slots */
    [ST_PE_SLOTS_AFTER] = "pe_slots_after",     /* subrows_after x pes */
};

static enum ap_status parse_i32(const char *key, const char *value, int64_t lo, int64_t hi, int32_t *out) {
    int64_t v;
    enum ap_status st = ap_param_int(key, value, lo, hi, &v);
    if (st == AP_OK) *out = (int32_t)v;
    return st;
}

static enum ap_status sanger_init(const char *params, void **state) {
    *state = NULL;
    struct sanger_state s = {
        .t = 2e-3, .bits = 4, .normalize = 1, .thr_q = 0.0, .thr_k = 0.0, .keep_max = 1,
        .ps = {.ports = 64, .pes = 16, .pe_rows = 64},
    };
    struct ap_param_iter it = {.p = params ? params : ""};
    int r;
    enum ap_status st = AP_OK;
    while (st == AP_OK && (r = ap_param_next(&it)) == 1) {
        const char *k = it.key, *v = it.value;
        if (!strcmp(k, "t")) st = ap_param_double(k, v, 0.0, 1.0, &s.t);
        else if (!strcmp(k, "bits")) st = parse_i32(k, v, AP_LINEAR_MIN_BITS, AP_LINEAR_MAX_BITS, &s.bits);
        else if (!strcmp(k, "normalize")) st = parse_i32(k, v, 0, 1, &s.normalize);
        else if (!strcmp(k, "thr_q")) st = ap_param_double(k, v, 0.0, 1e30, &s.thr_q);
        else if (!strcmp(k, "thr_k")) st = ap_param_double(k, v, 0.0, 1e30, &s.thr_k);
        else if (!strcmp(k, "keep_max")) st = parse_i32(k, v, 0, 1, &s.keep_max);
        else if (!strcmp(k, "ports")) st = parse_i32(k, v, 1, 1 << 20, &s.ps.ports);
        else if (!strcmp(k, "pes")) st = parse_i32(k, v, 1, 1 << 20, &s.ps.pes);
        else if (!strcmp(k, "pe_rows")) st = parse_i32(k, v, 1, 1 << 20, &s.ps.pe_rows);
        else st = ap_error(AP_ERR_INVALID_ARG, "unknown parameter '%s'", k);
    }
    if (st != AP_OK) return st;
    if (r < 0) return AP_ERR_INVALID_ARG;
    struct sanger_state *p = malloc(sizeof *p);
    if (!p) return ap_error(AP_ERR_NOMEM, "out of memory");
    *p = s;
    *state = p;
    return AP_OK;
}

/* L2 norm of a row in double, or 1 when normalization is off. */
static double row_norm(const float *x, int32_t d, int normalize) {
    if (!normalize) return 1.0;
    double s = 0.0;
    for (int32_t c = 0; c < d; c++) s += (double)x[c] * (double)x[c];
    return sqrt(s);
}

/* Divisor applied before quantization: the norm, or 1 for a zero row (whose
 * codes are then 0 and whose scores are scaled back by 0). */
static inline double divisor(double norm) { return norm > 0.0 ? norm : 1.0; }

/* Query rows whose low-bit scores one ap_i8_dots call computes (a
 * (ROWS, T) int32 block: 1 MiB at T = 4096). */
#define SANGER_ROWS 64

/* Contract: see method.h. Scratch is O(T (d + ROWS)) bytes, allocated per
 * call. The dot products of the codes are exact int32 (ap_i8_dots: integer
 * SIMD, the key codes packed once per head). */
/* The quantizers of one head, shared by predict and the fused path: key
 * norms nk (T, double; padding keys untouched) and, when nq is given, query
 * norms (S); the ranges max|x| over the valid (normalized) rows unless
 * given; the steps *gq, *gk; the key codes kc (T, d; zeros for padding). */
static void head_quantizers(const struct sanger_state *s, const struct ap_head_inputs *in, double *nk, double *nq,
                            double *gq, double *gk, int8_t *kc) {
    const int32_t S = in->n_q, T = in->n_k, d = in->d;
    double amax_k = 0.0, amax_q = 0.0;
    for (int32_t j = 0; j < T; j++) {
        if (in->key_valid && !in->key_valid[j]) continue;
        const float *k = in->k + (int64_t)j * in->k_stride;
        nk[j] = row_norm(k, d, s->normalize);
        double m = ap_linear_absmax_row(k, divisor(nk[j]), d);
        if (m > amax_k) amax_k = m;
    }
    for (int32_t i = 0; i < S; i++) {
        if (in->query_valid && !in->query_valid[i]) continue;
        const float *q = in->q + (int64_t)i * in->q_stride;
        const double n = row_norm(q, d, s->normalize);
        if (nq) nq[i] = n;
        double m = ap_linear_absmax_row(q, divisor(n), d);
        if (m > amax_q) amax_q = m;
    }
    *gk = ap_linear_gamma(s->bits, s->thr_k > 0.0 ? s->thr_k : amax_k);
    *gq = ap_linear_gamma(s->bits, s->thr_q > 0.0 ? s->thr_q : amax_q);
    for (int32_t j = 0; j < T; j++) {
        int8_t *kcj = kc + (int64_t)j * d;
        if (in->key_valid && !in->key_valid[j]) memset(kcj, 0, (size_t)d);
        else ap_linear_quant_row(in->k + (int64_t)j * in->k_stride, divisor(nk[j]), d, *gk, s->bits, kcj);
    }
}

static enum ap_status sanger_predict(const void *state, const struct ap_head_inputs *in, struct ap_head_output *out) {
    const struct sanger_state *s = state;
    const int32_t S = in->n_q, T = in->n_k, d = in->d, offset = T - S;
    if (!out->mask) return ap_error(AP_ERR_INVALID_ARG, "sanger needs the caller's (S, T) mask buffer");
    if (d < 1 || d > AP_I8_MAX_D) return ap_error(AP_ERR_UNSUPPORTED, "sanger: head dimension %d outside 1..%d", d,
                                                   AP_I8_MAX_D);

    /* scratch: key norms, a row's scores and their exps (T each), the block's
     * query norms (ROWS), the block's dot products (ROWS, T), K codes (T, d),
     * the block's query codes (ROWS, d) */
    const size_t n_dbl = 3 * (size_t)T + SANGER_ROWS;
    const size_t bytes = sizeof(double) * n_dbl + sizeof(int32_t) * (size_t)SANGER_ROWS * (size_t)T +
                         ((size_t)T + SANGER_ROWS) * (size_t)d;
    unsigned char *buf = malloc(bytes);
    if (!buf) return ap_error(AP_ERR_NOMEM, "sanger: out of memory for %zu bytes of scratch", bytes);
    double *nk = (double *)buf;
    double *sc = nk + T, *ex = sc + T, *nqb = ex + T;
    int32_t *dots = (int32_t *)(nqb + SANGER_ROWS);
    int8_t *kc = (int8_t *)(dots + (int64_t)SANGER_ROWS * T);
    int8_t *qc = kc + (int64_t)T * d;

    /* quantizer ranges (max|x| over the valid normalized rows unless given), K codes */
    double gq = 0.0, gk = 0.0;
    head_quantizers(s, in, nk, NULL, &gq, &gk, kc);
    const double gg = gq * gk;
    struct ap_i8_keys keys;
    enum ap_status st = ap_i8_keys_pack(kc, T, d, &keys);
    if (st != AP_OK) {
        free(buf);
        return st;
    }

    /* predicted probabilities and the threshold, row by row, a block of
     * rows' dot products at a time */
    int64_t kept = 0, valid = 0, rows_empty = 0;
    const double scale = (double)in->scale;
    for (int32_t i0 = 0; i0 < S; i0 += SANGER_ROWS) {
        const int32_t n_rows = S - i0 < SANGER_ROWS ? S - i0 : SANGER_ROWS;
        int32_t last_blk = in->causal ? i0 + n_rows - 1 + offset : T - 1;
        if (last_blk > T - 1) last_blk = T - 1;
        for (int32_t r = 0; r < n_rows; r++) {
            const int32_t i = i0 + r;
            int8_t *qcr = qc + (int64_t)r * d;
            if (in->query_valid && !in->query_valid[i]) {
                memset(qcr, 0, (size_t)d);
                continue;
            }
            const float *q = in->q + (int64_t)i * in->q_stride;
            nqb[r] = row_norm(q, d, s->normalize);
            ap_linear_quant_row(q, divisor(nqb[r]), d, gq, s->bits, qcr);
        }
        if (last_blk >= 0) ap_i8_dots(qc, n_rows, &keys, last_blk + 1, dots, T);
        for (int32_t r = 0; r < n_rows; r++) {
            const int32_t i = i0 + r;
            uint8_t *row = out->mask + (int64_t)i * T;
            memset(row, 0, (size_t)T);
            if (in->query_valid && !in->query_valid[i]) continue;
            int32_t last = in->causal ? i + offset : T - 1;
            if (last > T - 1) last = T - 1;
            if (last < 0) continue;
            const double nq = nqb[r];
            const int32_t *drow = dots + (int64_t)r * T;
            double smax = -INFINITY;
            int64_t seen = 0;
            for (int32_t j = 0; j <= last; j++) {
                if (in->key_valid && !in->key_valid[j]) continue;
                const int32_t dot = drow[j];
                sc[j] = gg > 0.0 ? (double)dot / gg * nq * nk[j] * scale : 0.0;
                if (sc[j] > smax) smax = sc[j];
                seen++;
            }
            if (!seen) continue;
            valid += seen;
            double sum = 0.0;
            for (int32_t j = 0; j <= last; j++) {
                if (in->key_valid && !in->key_valid[j]) continue;
                ex[j] = exp(sc[j] - smax);
                sum += ex[j];
            }
            int64_t row_kept = 0;
            for (int32_t j = 0; j <= last; j++) {
                if (in->key_valid && !in->key_valid[j]) continue;
                if (ex[j] / sum > s->t) {
                    row[j] = 1;
                    row_kept++;
                }
            }
            if (!row_kept) {
                rows_empty++;
                if (s->keep_max)
                    for (int32_t j = 0; j <= last; j++) {
                        if (in->key_valid && !in->key_valid[j]) continue;
                        if (sc[j] == smax) {
                            row[j] = 1;
                            row_kept++;
                        }
                    }
            }
            kept += row_kept;
        }
    }
    ap_i8_keys_free(&keys);
    free(buf);

    struct ap_mask_view mv = {.mask = out->mask, .n_q = S, .n_k = T, .query_valid = in->query_valid,
                              .key_valid = in->key_valid, .causal = in->causal};
    struct ap_pack_split_stats ps;
    ap_pack_split_count(&mv, s->ps, &ps);
    AP_ASSERT(ps.nnz == kept);

    out->kept = kept;
    out->valid = valid;
    out->stats[ST_KEPT] = (double)kept;
    out->stats[ST_PRED_MACS] = (double)valid * (double)d;
    out->stats[ST_ROWS_EMPTY] = (double)rows_empty;
    out->stats[ST_GROUPS] = (double)ps.groups;
    out->stats[ST_SUBROWS_NONEMPTY] = (double)ps.subrows_nonempty;
    out->stats[ST_SUBROWS_EMPTY] = (double)ps.subrows_empty;
    out->stats[ST_SUBROWS_BEFORE] = (double)ps.subrows_before;
    out->stats[ST_SUBROWS_AFTER] = (double)ps.subrows_after;
    out->stats[ST_BLOCKS_BEFORE] = (double)ps.blocks_before;
    out->stats[ST_BLOCKS_AFTER] = (double)ps.blocks_after;
    out->stats[ST_PE_SLOTS_BEFORE] = (double)ps.subrows_before * (double)s->ps.pes;
    out->stats[ST_PE_SLOTS_AFTER] = (double)ps.subrows_after * (double)s->ps.pes;
    return AP_OK;
}

static void sanger_free(void *state) { free(state); }

/* ------------------------------------------------------ fused row blocks */

/* The per-head buffer of the fused path: what every row block shares
 * (quantizer steps, key norms, valid-key prefix counts, the packed key
 * codes) and one block's work space. Legend as above; R = AP_ROWS_BLOCK. */
struct sanger_rows {
    double gq, gk;          /* quantizer steps of Q and K */
    struct ap_i8_keys keys; /* packed into kmem */
    float *nk;              /* (T) key norms (1 without normalization; 0 for padding) */
    int32_t *n_valid;       /* (T + 1) valid keys among the first j */
    int8_t *kc;             /* (T, d) K codes */
    unsigned char *kmem;    /* ap_i8_keys_bytes(T, d) */
    int8_t *qc;             /* (R, d) the block's Q codes */
    int32_t *dots;          /* (R, T) the block's code products */
    float *row;             /* (T) one row's scores */
    double *nq;             /* (S) query norms, computed once per head */
    double *nkd;            /* (T) key norms in double */
};

/* Lays the buffer out (and returns its size when buf is NULL). */
static size_t rows_layout(void *buf, int32_t n_q, int32_t n_k, int32_t d, struct sanger_rows **out) {
    const size_t T = (size_t)(n_k > 0 ? n_k : 1), D = (size_t)d, R = AP_ROWS_BLOCK, S = (size_t)(n_q > 0 ? n_q : 1);
    const size_t parts[] = {ap_arena_size_of(sizeof(struct sanger_rows)), ap_arena_size_of(sizeof(float) * T),
                            ap_arena_size_of(sizeof(int32_t) * (T + 1)), ap_arena_size_of(T * D),
                            ap_arena_size_of(ap_i8_keys_bytes((int32_t)T, d)), ap_arena_size_of(R * D),
                            ap_arena_size_of(sizeof(int32_t) * R * T), ap_arena_size_of(sizeof(float) * T),
                            ap_arena_size_of(sizeof(double) * S), ap_arena_size_of(sizeof(double) * T)};
    size_t off[sizeof parts / sizeof parts[0] + 1] = {0};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) off[i + 1] = off[i] + parts[i];
    if (buf) {
        unsigned char *p = buf;
        struct sanger_rows *r = (struct sanger_rows *)(void *)p;
        r->nk = (float *)(void *)(p + off[1]);
        r->n_valid = (int32_t *)(void *)(p + off[2]);
        r->kc = (int8_t *)(p + off[3]);
        r->kmem = p + off[4];
        r->qc = (int8_t *)(p + off[5]);
        r->dots = (int32_t *)(void *)(p + off[6]);
        r->row = (float *)(void *)(p + off[7]);
        r->nq = (double *)(void *)(p + off[8]);
        r->nkd = (double *)(void *)(p + off[9]);
        *out = r;
    }
    return off[sizeof parts / sizeof parts[0]] + 64; /* + 64: the caller's buffer aligned up */
}

static size_t sanger_rows_bytes(const void *state, int32_t n_q, int32_t n_k, int32_t d) {
    (void)state;
    return rows_layout(NULL, n_q, n_k, d, NULL);
}

/* The buffer as laid out, from its first 64-byte boundary. */
static struct sanger_rows *rows_of(void *buf, int32_t n_q, int32_t n_k, int32_t d) {
    struct sanger_rows *r = NULL;
    rows_layout((void *)(((uintptr_t)buf + 63) & ~(uintptr_t)63), n_q, n_k, d, &r);
    return r;
}

/* Quantizer ranges over the whole head (as predict), key norms and codes. */
static enum ap_status sanger_rows_prepare(const void *state, const struct ap_head_inputs *in, void *buf) {
    const struct sanger_state *s = state;
    const int32_t S = in->n_q, T = in->n_k, d = in->d;
    if (d > AP_I8_MAX_D) return ap_error(AP_ERR_UNSUPPORTED, "sanger: head dimension %d > %d", d, AP_I8_MAX_D);
    struct sanger_rows *r = rows_of(buf, S, T, d);
    r->n_valid[0] = 0;
    for (int32_t j = 0; j < T; j++) {
        r->n_valid[j + 1] = r->n_valid[j] + (!in->key_valid || in->key_valid[j]);
        r->nkd[j] = 0.0;
    }
    head_quantizers(s, in, r->nkd, r->nq, &r->gq, &r->gk, r->kc);
    for (int32_t j = 0; j < T; j++) r->nk[j] = (float)r->nkd[j];
    return ap_i8_keys_pack_into(r->kc, T, d, r->kmem, &r->keys);
}

/* Rows [i0, i0 + nb): the block's code products (ap_i8_dots, integer
 * SIMD), scores dot / (gq gk) |q_i| |k_j| scale in float and the softmax
 * threshold per row (ap_softmax_threshold_row). Differs from predict only
 * in float rounding of the scores and the row sum (tests/unit/
 * test_sanger.c bounds it). */
static enum ap_status sanger_predict_rows(const void *state, const struct ap_head_inputs *in, void *buf, int32_t i0,
                                          int32_t nb, int64_t *row_ptr, int32_t *cols, int64_t *kept,
                                          int64_t *valid) {
    const struct sanger_state *s = state;
    const int32_t S = in->n_q, T = in->n_k, d = in->d, offset = T - S;
    AP_ASSERT(nb >= 0 && nb <= AP_ROWS_BLOCK && i0 >= 0 && i0 + nb <= S);
    struct sanger_rows *r = rows_of(buf, S, T, d);
    const double gg = r->gq * r->gk;
    for (int32_t b = 0; b < nb; b++) {
        const int32_t i = i0 + b;
        int8_t *qcr = r->qc + (int64_t)b * d;
        if (in->query_valid && !in->query_valid[i]) {
            memset(qcr, 0, (size_t)d);
            continue;
        }
        ap_linear_quant_row(in->q + (int64_t)i * in->q_stride, divisor(r->nq[i]), d, r->gq, s->bits, qcr);
    }
    int64_t last64 = in->causal ? (int64_t)i0 + nb + offset : T; /* keys the block's last row sees */
    const int32_t n_blk = last64 > T ? T : last64 < 0 ? 0 : (int32_t)last64;
    if (n_blk > 0 && nb > 0) ap_i8_dots(r->qc, nb, &r->keys, n_blk, r->dots, T);
    int64_t pos = 0;
    row_ptr[0] = 0;
    for (int32_t b = 0; b < nb; b++) {
        const int32_t i = i0 + b;
        int64_t n64 = in->causal ? (int64_t)i + offset + 1 : T;
        const int32_t n = n64 > T ? T : n64 < 0 ? 0 : (int32_t)n64;
        if (n > 0 && (!in->query_valid || in->query_valid[i])) {
            const float c = gg > 0.0 ? (float)(r->nq[i] / gg * (double)in->scale) : 0.0f;
            const int32_t k = ap_softmax_threshold_row(r->dots + (int64_t)b * T, r->row, n, c, r->nk, in->key_valid,
                                                       s->t, s->keep_max, cols + pos, ap_cpu_features());
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
static const struct ap_param_default decoder_defaults[] = {{"t", "1e-4"}};

const struct ap_method_ops ap_method_sanger = {
    .name = "sanger",
    .summary = "4-bit quantized Q.K prediction, softmax, probability threshold; pack & split statistics",
    .paper = "Sanger, MICRO 2021",
    .params = sanger_params,
    .n_params = (int32_t)(sizeof sanger_params / sizeof sanger_params[0]),
    .decoder_defaults = decoder_defaults,
    .n_decoder_defaults = (int32_t)(sizeof decoder_defaults / sizeof decoder_defaults[0]),
    .stat_names = sanger_stat_names,
    .n_stats = ST_COUNT,
    .init = sanger_init,
    .predict = sanger_predict,
    .free = sanger_free,
    .rows_bytes = sanger_rows_bytes,
    .rows_prepare = sanger_rows_prepare,
    .predict_rows = sanger_predict_rows,
};

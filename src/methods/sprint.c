/* sprint.c — SPRINT (Yazdanbakhsh, Moradifirouzabadi, Li, Kang; thesis
 * chapter 3): approximate thresholding inside a ReRAM main memory, then
 * selective fetch of the surviving keys and values for exact recompute.
 *
 * Legend: S = queries, T = keys, d = head dimension.
 *
 * Per head:
 *   1. Q and K as data_bits fixed point (8-bit in the paper; one power-of-two
 *      scale per tensor of the head, quant/fixed_point.h); the in-memory copy
 *      of K and the query sent through the DAC are their msb_bits MSBs (4):
 *      q4 = floor(q8 / 2^(data_bits - msb_bits)), the same for k.
 *   2. The crossbar computes a_ij = q4_i · k4_j; its output precision is b
 *      bits (b = 5): a is quantized over the head's full scale
 *      (quant/analog_output.h); b = 0 means an exact in-memory product.
 *   3. An analog comparator keeps (i, j) iff the quantized in-memory score,
 *      in scaled-score units, is >= the layer's threshold Th (LEOPARD's
 *      thresholds: th= or calibrated for density=, methods/threshold_calib.h).
 *      The mask is this in-memory decision: SPRINT prunes on the approximate
 *      comparison; the exact 8-bit recompute on chip only produces the scores
 *      of the kept keys (here the model's attention kernel computes them).
 *   4. Statistics of moving the kept keys on chip query after query: fetched,
 *      reused under a capacity, adjacent-query locality, padding skipped in
 *      both dimensions, CORELET shares under token interleaving
 *      (mask/adjacent_reuse.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "core/arena.h"
#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/lowbit_gemm.h"
#include "mask/adjacent_reuse.h"
#include "methods/method.h"
#include "methods/threshold_calib.h"
#include "quant/analog_output.h"
#include "quant/fixed_point.h"

struct sprint {
    struct ap_layer_thresholds th;
    int32_t data_bits; /* Q and K width in memory */
    int32_t msb_bits;  /* MSBs used in memory */
    int32_t msb_mid;   /* 1: an MSB code stands for the middle of the interval its dropped bits span */
    int32_t b;         /* output precision of the in-memory dot product, 0 = exact */
    int32_t corelets;
    double onchip_kb;  /* on-chip K + V buffer, KB */
    int64_t capacity;  /* keys on chip; 0 = from onchip_kb */
};

static const struct ap_param_desc sprint_params[] = {
    {"th", "", "threshold on the scaled score q.k/sqrt(d), LEOPARD's: one value, or one per layer 'a;b;c'; "
               "empty = calibrated per layer for `density`"},
    {"density", AP_TH_DEFAULT_DENSITY_STR,
     "target kept fraction in (0, 1] for threshold calibration (calibrated, not learned); only without th"},
    {"data_bits", "8", "width of the stored Q and K in bits, two's complement (2..16; paper: 8)"},
    {"msb_bits", "4", "MSBs of Q and K used by the in-memory dot product (1..min(8, data_bits); paper: 4)"},
    {"msb", "mid", "value of the MSB part: 'mid' = centre of the range the dropped LSBs span (unbiased), "
                   "'floor' = the bare truncated word (biased low)"},
    {"b", "5", "output precision of the in-memory dot product in bits over the head's full scale "
               "(2..16; paper: 5); 0 = exact"},
    {"corelets", "1", "CORELETs for token interleaving, key j -> CORELET j mod N (1..4; S/M/L-SPRINT: 1/2/4)"},
    {"onchip_kb", "16", "on-chip K and V buffer in KB (S/M/L-SPRINT: 16/32/64); sets the capacity"},
    {"capacity", "0", "keys (K and V rows) the on-chip buffer holds; 0 = onchip_kb*8192 / (2*d*data_bits)"},
};

enum {
    ST_PAD_QUERIES,
    ST_PAD_KEYS,
    ST_FIRST_FETCH,
    ST_FETCHED,
    ST_REUSED,
    ST_ADJ_NEW,
    ST_ADJ_SLOTS,
    ST_CORELET_MAX,
    ST_CORELET0,
    ST_COUNT = ST_CORELET0 + AP_REUSE_MAX_CORELETS,
};

static const char *const sprint_stats[ST_COUNT] = {
    "pad_queries",    /* query rows skipped as padding (2-D reduction) */
    "pad_keys",       /* key columns skipped as padding (2-D reduction) */
    "first_fetch",    /* keys fetched for the first computed query */
    "fetched",        /* keys (and values) fetched from main memory, the first query included */
    "reused",         /* unpruned keys already on chip */
    "adjacent_new",   /* sum of popcount(P^{t-1} & ~P^t) over adjacent queries, no capacity limit */
    "adjacent_slots", /* sum of the keys each non-first query may see: adjacent_new's denominator */
    "corelet_max",    /* sum over queries of the largest CORELET's key count */
    "corelet0", "corelet1", "corelet2", "corelet3", /* keys processed by each CORELET */
};

static enum ap_status sprint_init(const char *params, void **state) {
    *state = NULL;
    struct sprint *s = calloc(1, sizeof *s);
    if (!s) return ap_error(AP_ERR_NOMEM, "out of memory");
    ap_thresholds_init(&s->th);
    s->data_bits = 8;
    s->msb_bits = 4;
    s->msb_mid = 1;
    s->b = 5;
    s->corelets = 1;
    s->onchip_kb = 16;
    s->capacity = 0;
    struct ap_param_iter it = {.p = params ? params : ""};
    enum ap_status st = AP_OK;
    int r;
    while (st == AP_OK && (r = ap_param_next(&it)) == 1) {
        int64_t v = 0;
        if (ap_thresholds_param(&s->th, it.key, it.value, &st)) continue;
        if (strcmp(it.key, "data_bits") == 0) {
            if ((st = ap_param_int(it.key, it.value, 2, AP_FXP_MAX_BITS, &v)) == AP_OK) s->data_bits = (int32_t)v;
        } else if (strcmp(it.key, "msb_bits") == 0) {
            if ((st = ap_param_int(it.key, it.value, 1, 8, &v)) == AP_OK) s->msb_bits = (int32_t)v;
        } else if (strcmp(it.key, "msb") == 0) {
            if (strcmp(it.value, "mid") == 0 || strcmp(it.value, "floor") == 0)
                s->msb_mid = strcmp(it.value, "mid") == 0;
            else
                st = ap_error(AP_ERR_INVALID_ARG, "msb=%s: expected 'mid' or 'floor'", it.value);
        } else if (strcmp(it.key, "b") == 0) {
            if ((st = ap_param_int(it.key, it.value, 0, AP_ANALOG_MAX_BITS, &v)) == AP_OK) {
                if (v == 1) st = ap_error(AP_ERR_INVALID_ARG, "b=%s: expected 0 (exact) or 2..%d", it.value, AP_ANALOG_MAX_BITS);
                s->b = (int32_t)v;
            }
        } else if (strcmp(it.key, "corelets") == 0) {
            if ((st = ap_param_int(it.key, it.value, 1, AP_REUSE_MAX_CORELETS, &v)) == AP_OK) s->corelets = (int32_t)v;
        } else if (strcmp(it.key, "onchip_kb") == 0) {
            double x = 0;
            if ((st = ap_param_double(it.key, it.value, 1e-3, 1e9, &x)) == AP_OK) s->onchip_kb = x;
        } else if (strcmp(it.key, "capacity") == 0) {
            if ((st = ap_param_int(it.key, it.value, 0, INT32_MAX, &v)) == AP_OK) s->capacity = v;
        } else {
            st = ap_error(AP_ERR_INVALID_ARG,
                          "unknown parameter '%s' (th, density, data_bits, msb_bits, msb, b, corelets, onchip_kb, capacity)",
                          it.key);
        }
    }
    if (st == AP_OK && r < 0) st = AP_ERR_INVALID_ARG;
    if (st == AP_OK && s->msb_bits > s->data_bits)
        st = ap_error(AP_ERR_INVALID_ARG, "msb_bits=%d: more than data_bits=%d", s->msb_bits, s->data_bits);
    if (st != AP_OK) {
        free(s);
        return st;
    }
    *state = s;
    return AP_OK;
}

static void sprint_free(void *state) { free(state); }

static int sprint_needs_calibration(const void *state) {
    return ap_thresholds_missing(&((const struct sprint *)state)->th);
}

static enum ap_status sprint_calibrate(void *state, const struct ap_score_quantiles *layers, int32_t n_layers,
                                       char *note, size_t cap) {
    return ap_thresholds_calibrate(&((struct sprint *)state)->th, layers, n_layers, "sprint", note, cap);
}

/* The on-chip capacity in keys for head dimension d. */
static int64_t sprint_capacity(const struct sprint *s, int32_t d) {
    if (s->capacity > 0) return s->capacity;
    int64_t c = (int64_t)floor(s->onchip_kb * 8192.0 / (2.0 * d * s->data_bits));
    return c > 0 ? c : 1;
}

/* Query rows whose MSB products one ap_i8_dots call computes. */
#define SPRINT_ROWS 64

/* The MSB dot products of query rows i0 .. i0 + n_rows - 1 with keys
 * 0 .. n_keys - 1 into blk (n_rows, T), exact: through ap_i8_dots (integer
 * SIMD) when every code fits int8 (keys != NULL), else one loop per pair.
 * |code| <= 255 and d <= 512 bound every product by 512 * 255^2 < 2^31, so
 * int32 holds them. */
struct msb_block {
    const int16_t *k4;                /* (T, d) key codes */
    const struct ap_i8_keys *keys;    /* the same packed as int8, or NULL */
    int8_t *q8;                       /* (ROWS, d) scratch */
    int32_t T, d;
};

static void msb_block(const struct msb_block *mb, const int32_t *q4, int32_t n_rows, int32_t n_keys, int32_t *blk) {
    const int32_t T = mb->T, d = mb->d;
    if (n_keys <= 0) return;
    if (mb->keys) {
        for (int64_t x = 0; x < (int64_t)n_rows * d; x++) mb->q8[x] = (int8_t)q4[x];
        ap_i8_dots(mb->q8, n_rows, mb->keys, n_keys, blk, T);
        return;
    }
    for (int32_t r = 0; r < n_rows; r++)
        for (int32_t j = 0; j < n_keys; j++) {
            int64_t a = 0;
            for (int32_t c = 0; c < d; c++) a += (int64_t)q4[(int64_t)r * d + c] * mb->k4[(int64_t)j * d + c];
            blk[(int64_t)r * T + j] = (int32_t)a;
        }
}

/* A block's query codes q4 (n_rows, d) from rows i0.. (rows not valid:
 * zeros, never read); returns the last key any of its rows sees. */
static int32_t load_q4_block(const struct sprint *s, const struct ap_head_inputs *in, int32_t eq, int32_t i0,
                             int32_t n_rows, int32_t *q4) {
    const int32_t S = in->n_q, T = in->n_k, d = in->d, db = s->data_bits, mb = s->msb_bits, mid = s->msb_mid;
    for (int32_t r = 0; r < n_rows; r++) {
        const int32_t i = i0 + r;
        if (in->query_valid && !in->query_valid[i])
            memset(q4 + (int64_t)r * d, 0, sizeof(int32_t) * (size_t)d);
        else
            ap_fxp_msb_row(in->q + (int64_t)i * in->q_stride, d, db, eq, mb, mid + 1, mid, q4 + (int64_t)r * d);
    }
    int32_t last = in->causal ? i0 + n_rows - 1 + (T - S) : T - 1;
    return last > T - 1 ? T - 1 : last;
}

/* Steps 1-3's set-up for one head, shared by predict and the fused path. */
struct sprint_head {
    int32_t eq;      /* binary point of Q */
    int32_t fits_i8; /* key codes fit int8: products by ap_i8_dots */
    int64_t range;   /* the products' full scale over the valid pairs (b > 0) */
    int64_t th_code; /* the comparator as a threshold on output codes */
};

/* Fills *h and the key codes k4 (T, d), and when they fit int8 packs them
 * (from k8 (T, d)) into *keys: into kmem when given (ap_i8_keys_pack_into),
 * else allocated (the caller frees with ap_i8_keys_free). The full scale is
 * taken over blocks of `rows` query rows with the scratch q4, q8 (rows, d)
 * and blk (rows, T). */
static enum ap_status head_setup(const struct sprint *s, const struct ap_head_inputs *in, int32_t rows, int16_t *k4,
                                 int8_t *k8, void *kmem, struct ap_i8_keys *keys, int32_t *q4, int8_t *q8, int32_t *blk,
                                 struct sprint_head *h) {
    const int32_t S = in->n_q, T = in->n_k, d = in->d, db = s->data_bits, mb = s->msb_bits, mid = s->msb_mid;
    double th = 0.0;
    enum ap_status st = ap_thresholds_get(&s->th, in->layer, in->n_layers, &th);
    if (st != AP_OK) return st;
    /* 1. data_bits fixed point, then the msb_bits MSBs x4 = floor(x8 / 2^(db - mb)),
     * whose step is 2^(e - mb + 1). With msb=mid the code used is 2 x4 + 1 in
     * half steps, the middle of [x4, x4 + 1): one unit of the product is then
     * a quarter of the floor model's. */
    h->eq = ap_fxp_exponent(ap_fxp_max_abs_rows(in->q, S, d, in->q_stride, in->query_valid));
    const int32_t ek = ap_fxp_exponent(ap_fxp_max_abs_rows(in->k, T, d, in->k_stride, in->key_valid));
    const double unit = ldexp((double)in->scale, (h->eq - mb + 1) + (ek - mb + 1) - (mid ? 2 : 0));
    for (int32_t j = 0; j < T; j++) {
        int16_t *kj = k4 + (int64_t)j * d;
        if (in->key_valid && !in->key_valid[j]) {
            memset(kj, 0, sizeof(int16_t) * (size_t)d);
            continue;
        }
        ap_fxp_msb_row(in->k + (int64_t)j * in->k_stride, d, db, ek, mb, mid + 1, mid, q4); /* q4: d scratch */
        for (int32_t c = 0; c < d; c++) kj[c] = (int16_t)q4[c];
    }
    /* codes lie in [lo, hi]: the msb_bits two's complement range, x2 + 1
     * with mid */
    const int32_t code_lo = -(1 << (mb - 1)) * (mid + 1) + mid, code_hi = ((1 << (mb - 1)) - 1) * (mid + 1) + mid;
    h->fits_i8 = code_lo >= INT8_MIN && code_hi <= INT8_MAX;
    if (h->fits_i8) {
        for (int64_t x = 0; x < (int64_t)T * d; x++) k8[x] = (int8_t)k4[x];
        st = kmem ? ap_i8_keys_pack_into(k8, T, d, kmem, keys) : ap_i8_keys_pack(k8, T, d, keys);
        if (st != AP_OK) return st;
    }
    const struct msb_block mblk = {.k4 = k4, .keys = h->fits_i8 ? keys : NULL, .q8 = q8, .T = T, .d = d};
    /* 2. full scale of the crossbar output over the head's valid pairs */
    h->range = 0;
    if (s->b > 0)
        for (int32_t i0 = 0; i0 < S; i0 += rows) {
            const int32_t n_rows = S - i0 < rows ? S - i0 : rows;
            const int32_t last_blk = load_q4_block(s, in, h->eq, i0, n_rows, q4);
            msb_block(&mblk, q4, n_rows, last_blk + 1, blk);
            for (int32_t r = 0; r < n_rows; r++)
                for (int32_t j = 0; j <= last_blk; j++) {
                    if (!ap_head_pair_valid(in, i0 + r, j)) continue;
                    int64_t a = blk[(int64_t)r * T + j];
                    if (a < 0) a = -a;
                    if (a > h->range) h->range = a;
                }
        }
    /* 3. the comparator, as a threshold on codes */
    const int32_t levels = s->b > 0 ? ap_analog_output_levels(s->b) : 0;
    h->th_code = s->b > 0 ? ap_fxp_threshold_code(th, (double)h->range / levels * unit)
                          : ap_fxp_threshold_code(th, unit);
    return AP_OK;
}

static enum ap_status sprint_predict(const void *state, const struct ap_head_inputs *in, struct ap_head_output *out) {
    const struct sprint *s = state;
    const int32_t S = in->n_q, T = in->n_k, d = in->d;
    if (d < 1 || d > AP_ATTN_MAX_HEAD_DIM)
        return ap_error(AP_ERR_UNSUPPORTED, "head dimension %d outside 1..%d", d, AP_ATTN_MAX_HEAD_DIM);
    if (!out->mask) return ap_error(AP_ERR_INVALID_ARG, "no mask buffer given");

    /* scratch: key codes (T, d) int16 and int8, a block's query codes
     * (ROWS, d) int32 and int8, its products (ROWS, T) int32, 2 T bytes */
    const size_t bytes = (sizeof(int16_t) + 1) * (size_t)T * (size_t)d +
                         (sizeof(int32_t) + 1) * (size_t)SPRINT_ROWS * (size_t)d +
                         sizeof(int32_t) * (size_t)SPRINT_ROWS * (size_t)T + 2 * (size_t)T;
    unsigned char *buf = malloc(bytes);
    if (!buf) return ap_error(AP_ERR_NOMEM, "sprint: out of memory for %zu bytes of scratch (%d keys)", bytes, T);
    int32_t *blk = (int32_t *)buf;                                 /* (ROWS, T) */
    int32_t *q4 = blk + (int64_t)SPRINT_ROWS * T;                  /* (ROWS, d) */
    int16_t *k4 = (int16_t *)(q4 + (int64_t)SPRINT_ROWS * d);      /* (T, d) */
    int8_t *k8 = (int8_t *)(k4 + (int64_t)T * d);                  /* (T, d) */
    int8_t *q8 = k8 + (int64_t)T * d;                              /* (ROWS, d) */
    uint8_t *scratch = (uint8_t *)(q8 + (int64_t)SPRINT_ROWS * d); /* (2 T) */
    /* 1-3. binary points, key codes, the output's full scale, the threshold code */
    struct ap_i8_keys keys = {0};
    struct sprint_head hd;
    enum ap_status st = head_setup(s, in, SPRINT_ROWS, k4, k8, NULL, &keys, q4, q8, blk, &hd);
    if (st != AP_OK) {
        ap_i8_keys_free(&keys);
        free(buf);
        return st;
    }
    const int32_t eq = hd.eq;
    const int64_t range = hd.range, th_code = hd.th_code;
    const struct msb_block mblk = {.k4 = k4, .keys = hd.fits_i8 ? &keys : NULL, .q8 = q8, .T = T, .d = d};
    int64_t kept = 0, valid = 0;
    for (int32_t i0 = 0; i0 < S; i0 += SPRINT_ROWS) {
        const int32_t n_rows = S - i0 < SPRINT_ROWS ? S - i0 : SPRINT_ROWS;
        const int32_t last_blk = load_q4_block(s, in, eq, i0, n_rows, q4);
        msb_block(&mblk, q4, n_rows, last_blk + 1, blk);
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
                int64_t a = blk[(int64_t)r * T + j];
                int64_t code = s->b > 0 ? ap_analog_output_code(a, range, s->b) : a;
                mrow[j] = code >= th_code;
                kept += mrow[j];
                valid++;
            }
        }
    }
    /* 4. data movement */
    struct ap_reuse_stats rs;
    ap_reuse_stats_compute(out->mask, S, T, in->query_valid, in->key_valid, in->causal, sprint_capacity(s, d),
                           s->corelets, scratch, &rs);
    ap_i8_keys_free(&keys);
    free(buf);
    out->kept = kept;
    out->valid = valid;
    out->stats[ST_PAD_QUERIES] = (double)rs.pad_queries;
    out->stats[ST_PAD_KEYS] = (double)rs.pad_keys;
    out->stats[ST_FIRST_FETCH] = (double)rs.first_fetch;
    out->stats[ST_FETCHED] = (double)rs.fetched;
    out->stats[ST_REUSED] = (double)rs.reused;
    out->stats[ST_ADJ_NEW] = (double)rs.adjacent_new;
    out->stats[ST_ADJ_SLOTS] = (double)rs.adjacent_slots;
    out->stats[ST_CORELET_MAX] = (double)rs.corelet_max;
    for (int32_t c = 0; c < AP_REUSE_MAX_CORELETS; c++) out->stats[ST_CORELET0 + c] = (double)rs.corelet[c];
    return AP_OK;
}

/* ------------------------------------------------------ fused row blocks */

/* The per-head buffer of the fused path: key codes (int16 and, when they
 * fit, packed int8), the comparator's threshold code and the output's full
 * scale over the whole head (rows_prepare runs predict's steps 1-3), then
 * one block's query codes and products. R = AP_ROWS_BLOCK. */
struct sprint_rows {
    int32_t eq, fits_i8;
    int64_t range, th_code;
    int64_t a_min;          /* the comparator as a threshold on products: code(a) >= th_code <=> a >= a_min */
    int32_t *n_valid;       /* (T + 1) valid keys among the first j */
    struct ap_i8_keys keys; /* packed into kmem when fits_i8 */
    int16_t *k4;            /* (T, d) */
    int8_t *k8;             /* (T, d) */
    unsigned char *kmem;    /* ap_i8_keys_bytes(T, d) */
    int32_t *q4;            /* (R, d) */
    int8_t *q8;             /* (R, d) */
    int32_t *blk;           /* (R, T) */
};

static size_t sprint_layout(void *buf, int32_t n_k, int32_t d, struct sprint_rows **out) {
    const size_t T = (size_t)(n_k > 0 ? n_k : 1), D = (size_t)d, R = AP_ROWS_BLOCK;
    const size_t parts[] = {ap_arena_size_of(sizeof(struct sprint_rows)), ap_arena_size_of(sizeof(int16_t) * T * D), ap_arena_size_of(T * D),
                            ap_arena_size_of(ap_i8_keys_bytes((int32_t)T, d)), ap_arena_size_of(sizeof(int32_t) * R * D), ap_arena_size_of(R * D),
                            ap_arena_size_of(sizeof(int32_t) * R * T), ap_arena_size_of(sizeof(int32_t) * (T + 1))};
    size_t off[sizeof parts / sizeof parts[0] + 1] = {0};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) off[i + 1] = off[i] + parts[i];
    if (buf) {
        unsigned char *p = (unsigned char *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
        struct sprint_rows *r = (struct sprint_rows *)(void *)p;
        r->k4 = (int16_t *)(void *)(p + off[1]);
        r->k8 = (int8_t *)(p + off[2]);
        r->kmem = p + off[3];
        r->q4 = (int32_t *)(void *)(p + off[4]);
        r->q8 = (int8_t *)(p + off[5]);
        r->blk = (int32_t *)(void *)(p + off[6]);
        r->n_valid = (int32_t *)(void *)(p + off[7]);
        *out = r;
    }
    return off[sizeof parts / sizeof parts[0]] + 64;
}

static size_t sprint_rows_bytes(const void *state, int32_t n_q, int32_t n_k, int32_t d) {
    (void)state, (void)n_q;
    return sprint_layout(NULL, n_k, d, NULL);
}

/* predict's steps 1-3 for the whole head: binary points, key codes, the
 * products' full scale over every valid pair (a pass over all row blocks,
 * when b > 0) and the threshold code. */
static enum ap_status sprint_rows_prepare(const void *state, const struct ap_head_inputs *in, void *buf) {
    const struct sprint *s = state;
    const int32_t T = in->n_k, d = in->d;
    if (d < 1 || d > AP_ATTN_MAX_HEAD_DIM)
        return ap_error(AP_ERR_UNSUPPORTED, "head dimension %d outside 1..%d", d, AP_ATTN_MAX_HEAD_DIM);
    struct sprint_rows *r = NULL;
    sprint_layout(buf, T, d, &r);
    struct sprint_head hd;
    enum ap_status st = head_setup(s, in, AP_ROWS_BLOCK, r->k4, r->k8, r->kmem, &r->keys, r->q4, r->q8, r->blk, &hd);
    if (st != AP_OK) return st;
    r->eq = hd.eq, r->fits_i8 = hd.fits_i8, r->range = hd.range, r->th_code = hd.th_code;
    /* code(a) is non-decreasing in a, so the kept products are those >= the
     * smallest a that passes (binary search over [-range, range]; b = 0:
     * code(a) = a) */
    if (s->b == 0) {
        r->a_min = r->th_code;
    } else {
        int64_t lo = -r->range, hi = r->range + 1; /* hi: "none passes" */
        while (lo < hi) {
            const int64_t m = lo + (hi - lo) / 2;
            if (ap_analog_output_code(m, r->range, s->b) >= r->th_code) hi = m;
            else lo = m + 1;
        }
        r->a_min = lo;
    }
    r->n_valid[0] = 0;
    for (int32_t j = 0; j < T; j++) r->n_valid[j + 1] = r->n_valid[j] + (!in->key_valid || in->key_valid[j]);
    return AP_OK;
}

/* Step 3's comparator for rows [i0, i0 + nb), as a threshold on the
 * products (a_min), vectorized: predict's decisions as lists (the fetch and
 * reuse statistics need the whole mask: predict's alone). */
static enum ap_status sprint_predict_rows(const void *state, const struct ap_head_inputs *in, void *buf, int32_t i0,
                                          int32_t nb, int64_t *row_ptr, int32_t *cols, int64_t *kept,
                                          int64_t *valid) {
    const struct sprint *s = state;
    const int32_t T = in->n_k, d = in->d;
    AP_ASSERT(nb >= 0 && nb <= AP_ROWS_BLOCK && i0 >= 0 && i0 + nb <= in->n_q);
    struct sprint_rows *r = NULL;
    sprint_layout(buf, T, d, &r);
    const int32_t last_blk = load_q4_block(s, in, r->eq, i0, nb, r->q4);
    int32_t n_vis[AP_ROWS_BLOCK], counts[AP_ROWS_BLOCK];
    for (int32_t b = 0; b < nb; b++) {
        const int32_t i = i0 + b;
        int64_t n64 = in->causal ? (int64_t)i + (T - in->n_q) + 1 : T;
        n_vis[b] = (in->query_valid && !in->query_valid[i]) ? 0 : n64 > T ? T : n64 < 0 ? 0 : (int32_t)n64;
    }
    if (r->fits_i8) { /* products and comparator fused: each row's list at cols + b T, then packed */
        for (int64_t x = 0; x < (int64_t)nb * d; x++) r->q8[x] = (int8_t)r->q4[x];
        ap_i8_select_ge(r->q8, nb, &r->keys, last_blk + 1, n_vis, r->a_min, in->key_valid, cols, T, counts, r->blk,
                        ap_cpu_features());
        int64_t pos = 0;
        row_ptr[0] = 0;
        for (int32_t b = 0; b < nb; b++) {
            if (pos != (int64_t)b * T) memmove(cols + pos, cols + (int64_t)b * T, sizeof(int32_t) * (size_t)counts[b]);
            pos += counts[b];
            row_ptr[b + 1] = pos;
            *kept += counts[b];
            *valid += n_vis[b] > 0 ? r->n_valid[n_vis[b]] : 0;
        }
        return AP_OK;
    }
    const struct msb_block mblk = {.k4 = r->k4, .keys = NULL, .q8 = r->q8, .T = T, .d = d};
    msb_block(&mblk, r->q4, nb, last_blk + 1, r->blk);
    int64_t pos = 0;
    row_ptr[0] = 0;
    for (int32_t b = 0; b < nb; b++) {
        const int32_t i = i0 + b;
        int64_t n64 = in->causal ? (int64_t)i + (T - in->n_q) + 1 : T;
        const int32_t n = n64 > T ? T : n64 < 0 ? 0 : (int32_t)n64;
        if ((!in->query_valid || in->query_valid[i]) && n > 0) {
            pos += ap_append_ge_i32(r->blk + (int64_t)b * T, n, r->a_min, in->key_valid, cols + pos, ap_cpu_features());
            *valid += r->n_valid[n];
        }
        *kept += pos - row_ptr[b];
        row_ptr[b + 1] = pos;
    }
    return AP_OK;
}

/* Defaults on a causal decoder (SmolLM2-135M; docs/decoder.md): the
 * setting the sweeps of docs/results.md found within 1% of dense perplexity. */
static const struct ap_param_default decoder_defaults[] = {{"density", "0.8"}};

const struct ap_method_ops ap_method_sprint = {
    .name = "sprint",
    .summary = "in-memory approximate thresholding (4-bit MSB Q.K, b-bit output) against per-layer thresholds "
               "(calibrated, not learned); fetch/reuse statistics",
    .paper = "SPRINT (Yazdanbakhsh et al., Sparse Attention Acceleration with Approximate In-Memory Pruning; thesis ch. 3)",
    .params = sprint_params,
    .n_params = (int32_t)(sizeof sprint_params / sizeof sprint_params[0]),
    .decoder_defaults = decoder_defaults,
    .n_decoder_defaults = (int32_t)(sizeof decoder_defaults / sizeof decoder_defaults[0]),
    .stat_names = sprint_stats,
    .n_stats = ST_COUNT,
    .init = sprint_init,
    .predict = sprint_predict,
    .rows_bytes = sprint_rows_bytes,
    .rows_prepare = sprint_rows_prepare,
    .predict_rows = sprint_predict_rows,
    .free = sprint_free,
    .needs_calibration = sprint_needs_calibration,
    .calibrate = sprint_calibrate,
};

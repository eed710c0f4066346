/* attention.h — exact attention for one head, optionally restricted to a mask.
 *
 * Legend: S = queries, T = keys (S == T in an encoder), d = head dimension.
 * Rows are addressed with a stride in floats so a head can be read in place
 * from the model's (S, D) projections without a copy. */
#ifndef AP_KERNELS_ATTENTION_H
#define AP_KERNELS_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

/* Widest head the kernels accept; model loaders reject wider ones. */
#define AP_ATTN_MAX_HEAD_DIM 512

struct ap_attn_head {
    const float *q; /* (S, d), row stride q_stride */
    const float *k; /* (T, d), row stride k_stride */
    const float *v; /* (T, d), row stride v_stride */
    float *o;       /* (S, d), row stride o_stride: output */
    int64_t q_stride, k_stride, v_stride, o_stride;
    int32_t n_q;    /* S */
    int32_t n_k;    /* T */
    int32_t d;
    float scale;              /* usually 1/sqrt(d) */
    int32_t causal;           /* query i sees keys j <= i + (T - S) */
    const uint8_t *key_valid;   /* (T) or NULL; 0 marks a padding key, never attended */
    const uint8_t *query_valid; /* (S) or NULL; 0 marks a row that is not computed (output 0) */
};

/* Reference attention, the specification the fast kernels are tested against:
 * scores, softmax and P·V accumulated in double. mask is NULL (every valid
 * pair kept) or (S, T) bytes, 1 = kept. A query row with nothing kept, or
 * not valid, gets a zero output. scratch holds at least T doubles.
 * key_prob is NULL or (T): each key's probabilities over the computed rows
 * are added to it (SpAtten's token importance). */
void ap_attention_ref(const struct ap_attn_head *h, const uint8_t *mask, double *scratch, double *key_prob);

/* Fast fp32 attention with BLAS (kernels/attention_f32.c): the same contract
 * as ap_attention_ref, computed a block of query rows at a time as
 * scores = Q_blk·K^T (sgemm over the keys the block can see), a float
 * softmax per row (vectorized for the CPU found at run time), then
 * O_blk = P·V (sgemm); one query row uses sgemv.
 * Agrees with the reference within the tolerances of tests/unit/
 * test_attention_f32.c (outputs to about 1e-6 of max|V|).
 *
 * Additional requirements: q, k, v and o strides are at least d; V rows the
 * block can see must be finite (a zero probability still multiplies its V
 * row, which the reference skips); scratch holds
 * ap_attention_f32_scratch(S, T, d) floats, preferably 64-byte aligned.
 * BLAS called inside an OpenMP parallel region runs single-threaded
 * (OpenBLAS built for OpenMP), so callers parallelize over heads. */
void ap_attention_f32(const struct ap_attn_head *h, const uint8_t *mask, float *scratch, double *key_prob);

/* The same with the softmax's SIMD variants limited to `features`
 * (AP_CPU_* bits, intersected with ap_cpu_features(); 0 = the build's
 * baseline), so tests and benchmarks can run every variant in one process. */
void ap_attention_f32_isa(const struct ap_attn_head *h, const uint8_t *mask, float *scratch, double *key_prob,
                          uint32_t features);

/* Floats of scratch ap_attention_f32 needs for S queries, T keys and head
 * dimension d: O(T (d + block)), never O(S T). */
size_t ap_attention_f32_scratch(int32_t n_q, int32_t n_k, int32_t d);

/* The flash-style kernel (kernels/flash_f32.c): tiled over query blocks
 * and key tiles with an online softmax, hand-written for AVX-512 and AVX2,
 * memory O(T d) for the packed keys plus a fixed block workspace. Same
 * contract as ap_attention_f32 without key_prob. Runs the widest variant
 * `features` (intersected with ap_cpu_features()) allows and returns 1, or
 * returns 0 without touching anything when the CPU has neither (the
 * caller then takes the portable BLAS path). scratch holds
 * ap_attention_flash_scratch(S, T, d) floats. ap_attention_f32 calls it
 * for every head with more than one query row and no key_prob. */
int ap_attention_flash(const struct ap_attn_head *h, const uint8_t *mask, float *scratch, uint32_t features);
size_t ap_attention_flash_scratch(int32_t n_q, int32_t n_k, int32_t d);

/* Sparse attention from row lists (kernels/flash_f32.c), the fused
 * execution of a predicted mask: query rows [i0, i0 + nb) of h, row r
 * attending exactly to the keys cols[row_ptr[r], row_ptr[r + 1]) (row_ptr
 * (nb + 1), relative to the block), which the caller has already limited
 * to valid, visible keys (key_valid and causal are not applied again;
 * query_valid is). Per row, VW keys at a time: gathered Q·K products, the
 * online softmax, and P·V accumulated in registers, so the cost is
 * proportional to the kept pairs; no score matrix. Rows with an empty
 * list or not valid get zeros. Agrees with ap_attention_ref on the same
 * mask within the tolerances of tests/unit/test_attention_sparse.c.
 * scratch holds ap_attention_sparse_scratch(d) floats; features as
 * ap_attention_flash (the portable path is plain C). */
void ap_attention_sparse_rows(const struct ap_attn_head *h, int32_t i0, int32_t nb, const int64_t *row_ptr,
                              const int32_t *cols, float *scratch, uint32_t features);
size_t ap_attention_sparse_scratch(int32_t d);

/* Sanger-style thresholding of one row of predicted scores without a
 * probability array: the scores s[j] = dots[j] c key_scale[j] (integer
 * code products; key_scale NULL: 1) are written to s, padding keys
 * (key_valid[j] = 0) as -inf; with m their max, keeps j with
 * e^(s_j - m) / sum_k e^(s_k - m) > t, i.e. s_j > m + ln(t sum), writing
 * the kept indices ascending to cols and returning their count; when none
 * passes and keep_max, keeps the maximum(s). The sum in fp32 with the
 * kernels' exp2 (SIMD) or in double (portable path): a pair within about
 * 1e-6 relative of the threshold may be decided differently from a double
 * computation. */
int32_t ap_softmax_threshold_row(const int32_t *dots, float *s, int32_t n, float c, const float *key_scale,
                                 const uint8_t *key_valid, double t, int keep_max, int32_t *cols, uint32_t features);

/* Row selection on integer scores: the j < n with a[j] >= lo (and
 * key_valid[j], when given), ascending into cols (room for n); returns
 * their count. AVX-512 compresses 16 at a time; AVX2 and the portable
 * path test 8 / 1 at a time. SPRINT's comparator on its products. */
int32_t ap_append_ge_i32(const int32_t *a, int32_t n, int64_t lo, const uint8_t *key_valid, int32_t *cols,
                         uint32_t features);

/* Which flash variant `features` selects: 2 = AVX-512, 1 = AVX2, 0 = none. */
int ap_attention_flash_isa(uint32_t features);

#endif

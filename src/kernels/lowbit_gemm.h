/* lowbit_gemm.h — the predictors' low-bit products with integer SIMD: int8
 * query codes against a head's int8 key codes, exact int32 dot products.
 * Sanger's 4-bit codes, HAMMER's power-of-two 2-bit codes and SPRINT's MSB
 * codes all use it.
 *
 * Legend: T = keys packed, n_k = keys computed (<= T), n_q = query rows,
 * d = head dimension (1..AP_I8_MAX_D), G = key groups ceil(T / 16),
 * D4 = d rounded up to a multiple of 8, in 4-byte steps (D4 = 2 ceil(d / 8)).
 *
 * The keys are packed once per head (ap_i8_keys_pack): groups of 16 keys,
 * each group's codes stored 4 at a time across its 16 keys, so one 64-byte
 * line holds codes 4c..4c+3 of 16 keys; the (4c .. 4c+3) x 16 block is what
 * one vpdpbusd (or two vpmaddubsw) consumes against a broadcast 4-byte query
 * word. Keys past T and codes past d are zero.
 *
 * Kernels (picked at run time from the CPU's features and the codes' range;
 * every one gives exactly the scalar reference's result):
 *   AVX-512 VNNI / AVX-VNNI  vpdpbusd multiplies unsigned by signed bytes, so
 *       the queries get a bias: u = q + 128 in 0..255, and
 *       sum u k = q.k + 128 sum k; the per-key code sums are packed with the
 *       keys and the correction subtracted at the end. Exact for all int8
 *       codes (|acc| <= 512 * 255 * 128 < 2^31).
 *   AVX-512BW / AVX2 maddubs  vpmaddubsw adds two u8 x s8 products into an
 *       int16 with saturation. With bias 64 and every code (queries and keys)
 *       in [-64, 63], u = q + 64 is in 0..127 and four products (two
 *       vpmaddubsw outputs added in int16) stay within 4 * 127 * 64 = 32512
 *       < 2^15: exact. Codes outside that range take a VNNI kernel if the CPU
 *       has one, else the scalar loop.
 *   scalar  ap_dot_i8 per pair (the reference).
 */
#ifndef AP_KERNELS_LOWBIT_GEMM_H
#define AP_KERNELS_LOWBIT_GEMM_H

#include <stdint.h>

#include "attnprune.h"

#define AP_I8_KEY_GROUP 16 /* keys per packed group (one zmm of int32 results) */
#define AP_I8_MAX_D 512    /* head dimensions the kernels take */
#define AP_I8_MADDUBS_MIN (-64) /* code range of the maddubs kernels */
#define AP_I8_MADDUBS_MAX 63

/* A head's key codes packed for the kernels (owning; free with
 * ap_i8_keys_free). */
struct ap_i8_keys {
    int8_t *packed;  /* (G, D4, 16, 4), 64-byte aligned, zero padded */
    int8_t *rows;    /* (T, d) the codes as given, for the scalar kernel */
    int32_t *ksum;   /* (G * 16) sum over c of key j's codes (0 past T) */
    int32_t T, d, d4, groups;
    int32_t cmin, cmax; /* smallest and largest key code (0, 0 when T = 0) */
};

/* Which kernel a call took. */
enum ap_i8_kernel {
    AP_I8_SCALAR = 0,
    AP_I8_AVX2 = 1,       /* vpmaddubsw, 256-bit; codes in [-64, 63] */
    AP_I8_AVX512BW = 2,   /* vpmaddubsw, 512-bit; codes in [-64, 63] */
    AP_I8_AVXVNNI = 3,    /* vpdpbusd (VEX), 256-bit; any codes */
    AP_I8_AVX512VNNI = 4, /* vpdpbusd, 512-bit; any codes */
};

/* Packs codes (T, d) into *out (which the caller frees with
 * ap_i8_keys_free, also after an error). T >= 0, 1 <= d <= AP_I8_MAX_D.
 * AP_ERR_INVALID_ARG for sizes out of range, AP_ERR_NOMEM. */
enum ap_status ap_i8_keys_pack(const int8_t *codes, int32_t T, int32_t d, struct ap_i8_keys *out);

/* The same into caller memory: mem holds ap_i8_keys_bytes(T, d) bytes,
 * 64-byte aligned, and outlives *out (which must not be freed with
 * ap_i8_keys_free). For per-head buffers sized once (the fused predictors). */
size_t ap_i8_keys_bytes(int32_t T, int32_t d);
enum ap_status ap_i8_keys_pack_into(const int8_t *codes, int32_t T, int32_t d, void *mem, struct ap_i8_keys *out);

/* Frees what ap_i8_keys_pack allocated and zeroes *k; NULL or zeroed is fine. */
void ap_i8_keys_free(struct ap_i8_keys *k);

/* out[i * ldo + j] = sum over c < d of qc[i * d + c] * code(k, j, c), for
 * i < n_q, j < n_k; qc (n_q, d) with d = k->d, 0 <= n_k <= k->T, ldo >= n_k.
 * Exact (|result| <= 512 * 128 * 128 = 2^23). Single-threaded: callers
 * parallelize over query blocks or heads. A block of n_q <= 64 rows is
 * computed tile by tile straight into out, so a predictor that thresholds
 * row block by row block never holds more than (64, n_k) products. Takes
 * the widest kernel ap_cpu_features() allows for the codes' range. */
void ap_i8_dots(const int8_t *qc, int32_t n_q, const struct ap_i8_keys *k, int32_t n_k, int32_t *out, int64_t ldo);

/* The same with the kernels limited to those in `features` (AP_CPU_* bits,
 * further limited to what the CPU has): for tests and benchmarks. Returns
 * the kernel it took. */
enum ap_i8_kernel ap_i8_dots_isa(const int8_t *qc, int32_t n_q, const struct ap_i8_keys *k, int32_t n_k,
                                 int32_t *out, int64_t ldo, uint32_t features);

/* The products and a threshold fused: for each row i < n_q, the keys j <
 * n_vis[i] (<= n_k) whose product with row i is >= lo, and that key_valid
 * allows when given, ascending into cols + i * cap; counts[i] receives
 * their number. With AVX-512 VNNI the comparison and the compressing store
 * happen in the tile's epilogue, so no product is stored; otherwise the
 * products go to scratch (n_q, n_k) int32 and ap_append_ge_i32 selects.
 * The same pairs either way (exact integers). */
void ap_i8_select_ge(const int8_t *qc, int32_t n_q, const struct ap_i8_keys *k, int32_t n_k, const int32_t *n_vis,
                     int64_t lo, const uint8_t *key_valid, int32_t *cols, int64_t cap, int32_t *counts,
                     int32_t *scratch, uint32_t features);

/* The kernel's name: "scalar", "avx2", "avx512bw", "avxvnni", "avx512vnni". */
const char *ap_i8_kernel_name(enum ap_i8_kernel kernel);

#endif

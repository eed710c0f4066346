/* lowbit_gemm.c — int8 code products with integer SIMD (see lowbit_gemm.h).
 *
 * Legend: as lowbit_gemm.h; MR = query rows per register tile, NR = key
 * groups (of 16) per tile, QB = query rows packed at a time.
 *
 * Each call packs QB query rows at a time into a stack buffer (row stride
 * 4 D4 bytes, with the kernel's bias added and padding rows up to a
 * multiple of MR), then walks the keys NR groups at a time and, for each,
 * every MR-row tile of the buffer: the tile's MR x NR x 16 int32
 * accumulators live in registers over the whole of d, and the key tile
 * (NR x D4 x 64 bytes, 4 KiB at d = 64) stays in L1 across the row tiles.
 * The bias correction is subtracted and the tile stored with masked stores
 * (rows past n_q and keys past n_k are never written).
 *
 * The tile bodies are always-inline functions whose MR and NR become
 * constants at their call sites; `#pragma GCC unroll` unrolls the loops over
 * them fully, so the accumulator arrays end up in registers. */
#include "kernels/lowbit_gemm.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/lowbit_dot.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AP_I8_X86 1
#endif

#define QB 64 /* query rows packed at a time */
#define MR_MAX 8

/* ------------------------------------------------------------------ pack */

/* Contract: see lowbit_gemm.h. */
/* Bytes of the one block holding packed codes, sums and rows. */
static size_t keys_bytes(int32_t T, int32_t d) {
    const int32_t d4 = (d + 7) / 8 * 2, groups = (T + AP_I8_KEY_GROUP - 1) / AP_I8_KEY_GROUP;
    return (size_t)groups * (size_t)d4 * 64 + ap_arena_size_of(sizeof(int32_t) * (size_t)groups * AP_I8_KEY_GROUP) +
           (size_t)T * (size_t)d + 64;
}

size_t ap_i8_keys_bytes(int32_t T, int32_t d) {
    if (T < 0) T = 0;
    if (d < 1) d = 1;
    return keys_bytes(T, d);
}

/* Lays the keys out in mem (keys_bytes(T, d) bytes, 64-byte aligned). */
static void pack_into(const int8_t *codes, int32_t T, int32_t d, unsigned char *mem, struct ap_i8_keys *out) {
    const int32_t d4 = (d + 7) / 8 * 2, groups = (T + AP_I8_KEY_GROUP - 1) / AP_I8_KEY_GROUP;
    const size_t n_packed = (size_t)groups * (size_t)d4 * 64;
    const size_t n_rows = (size_t)T * (size_t)d;
    const size_t n_sum = (size_t)groups * AP_I8_KEY_GROUP;
    out->T = T;
    out->d = d;
    out->d4 = d4;
    out->groups = groups;
    out->packed = (int8_t *)mem;
    out->ksum = (int32_t *)(void *)(mem + n_packed);
    out->rows = (int8_t *)(mem + n_packed + ap_arena_size_of(sizeof(int32_t) * n_sum));
    memset(mem, 0, n_packed + sizeof(int32_t) * n_sum);
    if (n_rows) memcpy(out->rows, codes, n_rows);
    int32_t cmin = T > 0 ? INT8_MAX : 0, cmax = T > 0 ? INT8_MIN : 0;
    for (int32_t j = 0; j < T; j++) {
        const int8_t *src = codes + (int64_t)j * d;
        int8_t *dst = out->packed + (int64_t)(j / AP_I8_KEY_GROUP) * d4 * 64 + (j % AP_I8_KEY_GROUP) * 4;
        int32_t sum = 0, lo = INT8_MAX, hi = INT8_MIN;
        for (int32_t c = 0; c < d; c++) {
            const int32_t v = src[c];
            sum += v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        /* four codes at a time: codes 4c .. 4c + 3 of a key are one 4-byte word of its line */
        int32_t c = 0;
        for (; c + 4 <= d; c += 4) memcpy(dst + (int64_t)(c / 4) * 64, src + c, 4);
        for (; c < d; c++) dst[(int64_t)(c / 4) * 64 + c % 4] = src[c];
        out->ksum[j] = sum;
        if (lo < cmin) cmin = lo;
        if (hi > cmax) cmax = hi;
    }
    out->cmin = cmin;
    out->cmax = cmax;
}

static enum ap_status check_sizes(int32_t T, int32_t d) {
    if (T < 0 || d < 1 || d > AP_I8_MAX_D)
        return ap_error(AP_ERR_INVALID_ARG, "int8 keys: T = %d, d = %d (expected T >= 0, 1 <= d <= %d)", T, d,
                        AP_I8_MAX_D);
    return AP_OK;
}

enum ap_status ap_i8_keys_pack(const int8_t *codes, int32_t T, int32_t d, struct ap_i8_keys *out) {
    memset(out, 0, sizeof *out);
    enum ap_status st = check_sizes(T, d);
    if (st != AP_OK) return st;
    const size_t bytes = keys_bytes(T, d);
    unsigned char *mem = ap_aligned_alloc(bytes);
    if (!mem) return ap_error(AP_ERR_NOMEM, "int8 keys: out of memory for %zu bytes", bytes);
    pack_into(codes, T, d, mem, out);
    return AP_OK;
}

enum ap_status ap_i8_keys_pack_into(const int8_t *codes, int32_t T, int32_t d, void *mem, struct ap_i8_keys *out) {
    memset(out, 0, sizeof *out);
    enum ap_status st = check_sizes(T, d);
    if (st != AP_OK) return st;
    AP_ASSERT(((uintptr_t)mem & 63) == 0);
    pack_into(codes, T, d, mem, out);
    return AP_OK;
}

void ap_i8_keys_free(struct ap_i8_keys *k) {
    if (!k) return;
    ap_aligned_free(k->packed);
    memset(k, 0, sizeof *k);
}

const char *ap_i8_kernel_name(enum ap_i8_kernel kernel) {
    switch (kernel) {
    case AP_I8_SCALAR: return "scalar";
    case AP_I8_AVX2: return "avx2";
    case AP_I8_AVX512BW: return "avx512bw";
    case AP_I8_AVXVNNI: return "avxvnni";
    case AP_I8_AVX512VNNI: return "avx512vnni";
    }
    return "?";
}

/* ---------------------------------------------------------------- common */

/* One packed block of query rows and what the tiles need. */
/* Fused selection instead of stored products (ap_i8_select_ge; the
 * AVX-512 VNNI kernel only): rows relative to the block. */
struct blk_select {
    int32_t lo;             /* keep products >= lo */
    const uint8_t *kv;      /* (n_k) or NULL */
    const int32_t *n_vis;   /* (rows) keys each row sees */
    int32_t *cols;          /* (rows, cap) each row's list */
    int64_t cap;
    int32_t *counts;        /* (rows) list lengths, updated */
};

struct blk {
    const uint8_t *qp;        /* (rows rounded up to MR, 4 D4) biased query codes */
    int64_t qs;               /* 4 D4 */
    const struct ap_i8_keys *k;
    int32_t rows, n_k;        /* valid rows of qp, keys to compute */
    int32_t *out;             /* (rows, n_k), row stride ldo */
    int64_t ldo;
    struct blk_select *sel;   /* NULL: store products */
};

typedef void (*block_fn)(const struct blk *b);

/* Runs fn over qc (n_q, d) QB rows at a time, the codes biased by `bias`
 * (0, 64 or 128: kernels that multiply unsigned bytes). */
static void run_blocks_sel(const int8_t *qc, int32_t n_q, const struct ap_i8_keys *k, int32_t n_k, int32_t *out,
                           int64_t ldo, int32_t bias, block_fn fn, const struct blk_select *sel) {
    _Alignas(64) uint8_t qp[(QB + MR_MAX) * 4 * (AP_I8_MAX_D / 4)];
    const int32_t d = k->d;
    const int64_t qs = 4 * (int64_t)k->d4;
    for (int32_t i0 = 0; i0 < n_q; i0 += QB) {
        const int32_t rows = n_q - i0 < QB ? n_q - i0 : QB;
        const int32_t padded = (rows + MR_MAX - 1) / MR_MAX * MR_MAX;
        memset(qp, 0, (size_t)(padded * qs));
        for (int32_t r = 0; r < rows; r++) {
            const int8_t *src = qc + (int64_t)(i0 + r) * d;
            uint8_t *dst = qp + r * qs;
            for (int32_t c = 0; c < d; c++) dst[c] = (uint8_t)((int32_t)src[c] + bias);
        }
        struct blk_select bs;
        if (sel) {
            bs = *sel;
            bs.n_vis = sel->n_vis + i0;
            bs.cols = sel->cols + (int64_t)i0 * sel->cap;
            bs.counts = sel->counts + i0;
        }
        const struct blk b = {.qp = qp, .qs = qs, .k = k, .rows = rows, .n_k = n_k,
                              .out = out ? out + (int64_t)i0 * ldo : NULL, .ldo = ldo, .sel = sel ? &bs : NULL};
        fn(&b);
    }
}

static void run_blocks(const int8_t *qc, int32_t n_q, const struct ap_i8_keys *k, int32_t n_k, int32_t *out,
                       int64_t ldo, int32_t bias, block_fn fn) {
    run_blocks_sel(qc, n_q, k, n_k, out, ldo, bias, fn, NULL);
}

static void block_scalar(const int8_t *qc, int32_t n_q, const struct ap_i8_keys *k, int32_t n_k, int32_t *out,
                         int64_t ldo) {
    const int32_t d = k->d;
    for (int32_t i = 0; i < n_q; i++)
        for (int32_t j = 0; j < n_k; j++)
            out[(int64_t)i * ldo + j] = ap_dot_i8(qc + (int64_t)i * d, k->rows + (int64_t)j * d, d);
}

#ifdef AP_I8_X86
#define AI __attribute__((always_inline))
#define T_VNNI512 __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define T_BW512 __attribute__((target("avx512f,avx512bw")))
#define T_AVX2 __attribute__((target("avx2")))
#define T_AVXVNNI __attribute__((target("avx2,avxvnni")))

static inline int32_t load_word(const uint8_t *p) {
    int32_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* The tiles: lowbit_gemm_tile.inc once per kernel, with the ISA's target
 * attribute (a VNNI instruction can only appear in the VNNI kernels). */
#define TILE_W 512
#define TILE_VNNI 1
#define TILE_TARGET T_VNNI512
#define TILE_NAME tile_vnni512
#define BLOCK_NAME block_vnni512
#include "kernels/lowbit_gemm_tile.inc"

#define TILE_W 512
#define TILE_VNNI 0
#define TILE_TARGET T_BW512
#define TILE_NAME tile_bw512
#define BLOCK_NAME block_bw512
#include "kernels/lowbit_gemm_tile.inc"

#define TILE_W 256
#define TILE_VNNI 1
#define TILE_TARGET T_AVXVNNI
#define TILE_NAME tile_avxvnni
#define BLOCK_NAME block_avxvnni
#include "kernels/lowbit_gemm_tile.inc"

#define TILE_W 256
#define TILE_VNNI 0
#define TILE_TARGET T_AVX2
#define TILE_NAME tile_avx2
#define BLOCK_NAME block_avx2
#include "kernels/lowbit_gemm_tile.inc"
#endif

/* ------------------------------------------------------------- dispatch */

static int in_range(int32_t lo, int32_t hi) { return lo >= AP_I8_MADDUBS_MIN && hi <= AP_I8_MADDUBS_MAX; }

/* Contract: see lowbit_gemm.h. */
enum ap_i8_kernel ap_i8_dots_isa(const int8_t *qc, int32_t n_q, const struct ap_i8_keys *k, int32_t n_k,
                                 int32_t *out, int64_t ldo, uint32_t features) {
    AP_ASSERT(n_k >= 0 && n_k <= k->T && ldo >= n_k && n_q >= 0);
    if (n_q == 0 || n_k == 0) return AP_I8_SCALAR;
    features &= ap_cpu_features();
#ifdef AP_I8_X86
    if ((features & AP_CPU_AVX512F) && (features & AP_CPU_AVX512BW) && (features & AP_CPU_AVX512VNNI)) {
        run_blocks(qc, n_q, k, n_k, out, ldo, 128, block_vnni512);
        return AP_I8_AVX512VNNI;
    }
    if ((features & AP_CPU_AVX2) && (features & AP_CPU_AVXVNNI)) {
        run_blocks(qc, n_q, k, n_k, out, ldo, 128, block_avxvnni);
        return AP_I8_AVXVNNI;
    }
    const int wide = (features & AP_CPU_AVX512F) && (features & AP_CPU_AVX512BW);
    if (wide || (features & AP_CPU_AVX2)) {
        int32_t qmin = 0, qmax = 0;
        for (int64_t x = 0; x < (int64_t)n_q * k->d; x++) {
            if (qc[x] < qmin) qmin = qc[x];
            if (qc[x] > qmax) qmax = qc[x];
        }
        if (in_range(qmin, qmax) && in_range(k->cmin, k->cmax)) {
            run_blocks(qc, n_q, k, n_k, out, ldo, 64, wide ? block_bw512 : block_avx2);
            return wide ? AP_I8_AVX512BW : AP_I8_AVX2;
        }
    }
#else
    (void)features;
    (void)in_range;
#endif
    block_scalar(qc, n_q, k, n_k, out, ldo);
    return AP_I8_SCALAR;
}

void ap_i8_dots(const int8_t *qc, int32_t n_q, const struct ap_i8_keys *k, int32_t n_k, int32_t *out, int64_t ldo) {
    (void)ap_i8_dots_isa(qc, n_q, k, n_k, out, ldo, ap_cpu_features());
}

/* -------------------------------------------------------- fused select */

void ap_i8_select_ge(const int8_t *qc, int32_t n_q, const struct ap_i8_keys *k, int32_t n_k, const int32_t *n_vis,
                     int64_t lo, const uint8_t *key_valid, int32_t *cols, int64_t cap, int32_t *counts,
                     int32_t *scratch, uint32_t features) {
    AP_ASSERT(n_k >= 0 && n_k <= k->T && cap >= n_k && n_q >= 0);
    for (int32_t i = 0; i < n_q; i++) {
        counts[i] = 0;
        AP_ASSERT(n_vis[i] <= n_k);
    }
    if (n_q == 0 || n_k == 0 || lo > INT32_MAX) return;
    const int32_t l = lo < INT32_MIN ? INT32_MIN : (int32_t)lo;
    features &= ap_cpu_features();
#ifdef AP_I8_X86
    if ((features & AP_CPU_AVX512F) && (features & AP_CPU_AVX512BW) && (features & AP_CPU_AVX512VNNI)) {
        const struct blk_select sel = {.lo = l, .kv = key_valid, .n_vis = n_vis, .cols = cols, .cap = cap,
                                       .counts = counts};
        run_blocks_sel(qc, n_q, k, n_k, NULL, 0, 128, block_vnni512, &sel);
        return;
    }
#endif
    (void)ap_i8_dots_isa(qc, n_q, k, n_k, scratch, n_k, features);
    for (int32_t i = 0; i < n_q; i++)
        counts[i] = ap_append_ge_i32(scratch + (int64_t)i * n_k, n_vis[i], l, key_valid, cols + (int64_t)i * cap,
                                     features);
}

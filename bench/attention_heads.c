/* attention_heads.c — our attention on H heads at once, the C side of
 * bench/attention_vs_torch.sh (which times PyTorch's SDPA on the same
 * shapes and data in the same run and joins the two).
 *
 *   build/bench/attention_heads [-t THREADS] [-r RUNS] [-H HEADS] [-c 0|1]
 *                               [--qkv PREFIX] [-a SPEC]... S ...
 *
 * Q, K, V are (H, S, d) fp32, d = 64: with --qkv, the first S rows of each
 * head of PREFIX_{q,k,v}.npy ((H, N, d), from bench/capture_qkv; H from the
 * file); otherwise uniform in [-1, 1) (a fixed seed). Bidirectional (-c 0)
 * or causal (-c 1). Each -a SPEC adds a method (default: dense only):
 *   dense      ap_attention_f32 (the flash kernel) on every head;
 *   NAME:...   a method with a fused row-block predictor: per head
 *              rows_prepare, then per block of AP_ROWS_BLOCK query rows
 *              predict_rows and ap_attention_sparse_rows on its row lists.
 * Work is spread over THREADS OpenMP threads (default 2): one task per head,
 * or for the dense kernel when the heads do not divide evenly among the
 * threads (9 on 2), per quarter of a head's query rows. Prints one CSV
 * row per S and method:
 *   S,heads,causal,method,density,ours_ms,pred_ms,gflops,work_mb
 * (method quoted: a spec may hold commas)
 * ours_ms: median wall time of RUNS calls (default 5) after one warm-up;
 * pred_ms: the same for the predictor alone (prepare + predict_rows; 0 for
 * dense); density: kept / valid pairs; gflops: 4 d flops per visible pair
 * of dense attention over ours_ms (the dense-equivalent rate); work_mb: the
 * memory the kernels and predictor use besides Q, K, V and O, all threads
 * (linear in S by construction: no (S, T) buffer exists).
 *
 * Legend: H = heads, S = queries = keys, d = head dimension. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attnprune.h"
#include "io/npy.h"
#include "kernels/attention.h"
#include "methods/method.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(void) {
    fprintf(stderr, "usage: attention_heads [-t THREADS] [-r RUNS] [-H HEADS] [-c 0|1] [--qkv PREFIX] [-a SPEC]... S ...\n");
}

static double median(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* One thread's buffers for a fused method. */
struct fused_ws {
    unsigned char *buf; /* rows_bytes */
    int64_t row_ptr[AP_ROWS_BLOCK + 1];
    int32_t *cols;      /* (AP_ROWS_BLOCK, S) */
    float *sparse;      /* ap_attention_sparse_scratch(d) */
};

/* Row chunks per head for the dense kernel: 9 heads (SmolLM2's) would
 * leave one of 2 threads idle for a ninth of the time; SDPA splits heads
 * and query blocks too. Causal chunks are cheaper early, so they are
 * scheduled dynamically, the last (largest) first. A fused method keeps
 * one task per head: its rows_prepare is per head. */
#define DENSE_CHUNKS 4

/* Runs method m (NULL = dense) once over all heads; pred_only skips the
 * attention. Dense tasks are (head, chunk of query rows): the kernel sees a
 * chunk as a head of its own (its queries, the keys they can see; the same
 * arithmetic per row); fused tasks are heads. Returns 0, or 1 after printing
 * an error. */
static int run_once(const struct ap_method *m, int pred_only, const float *q, const float *k, const float *v, float *o,
                    int heads, int32_t S, int32_t d, int64_t ld, int causal, int threads, float *scratch, size_t sc,
                    struct fused_ws *ws, int64_t *kept_out, int64_t *valid_out) {
    int64_t kept = 0, valid = 0;
    int failed = 0;
    const int32_t n_chunks = m || S < DENSE_CHUNKS * 64 || heads % threads == 0 ? 1 : DENSE_CHUNKS;
    const int32_t chunk_rows = (S + n_chunks - 1) / n_chunks;
    const int64_t n_tasks = (int64_t)heads * n_chunks;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : kept, valid, failed)
    for (int64_t task = 0; task < n_tasks; task++) {
        const int h = (int)(task % heads);
        const int32_t c = n_chunks - 1 - (int32_t)(task / heads); /* last (largest causal) chunks first */
        const int32_t i0 = c * chunk_rows, nb = S - i0 < chunk_rows ? S - i0 : chunk_rows;
        const size_t off = (size_t)h * (size_t)ld * (size_t)d;
        const float scale = 1.0f / sqrtf((float)d);
        const int tid = omp_get_thread_num();
        if (!m) {
            const struct ap_attn_head hd = {.q = q + off + (size_t)i0 * d, .k = k + off, .v = v + off,
                                            .o = o + off + (size_t)i0 * d, .q_stride = d, .k_stride = d,
                                            .v_stride = d, .o_stride = d, .n_q = nb, .n_k = causal ? i0 + nb : S,
                                            .d = d, .scale = scale, .causal = causal};
            ap_attention_f32(&hd, NULL, scratch + sc * (size_t)tid, NULL);
            continue;
        }
        const struct ap_attn_head hd = {.q = q + off, .k = k + off, .v = v + off, .o = o + off, .q_stride = d,
                                        .k_stride = d, .v_stride = d, .o_stride = d, .n_q = S, .n_k = S, .d = d,
                                        .scale = scale, .causal = causal};
        const struct ap_method_ops *ops = ap_method_ops_of(m);
        const void *st = ap_method_state(m);
        struct ap_head_inputs in = {.layer = 0, .head = h, .n_layers = 1, .n_heads = heads, .n_q = S, .n_k = S,
                                    .d = d, .q = hd.q, .k = hd.k, .v = hd.v, .q_stride = d, .k_stride = d,
                                    .v_stride = d, .scale = hd.scale, .causal = causal};
        struct fused_ws *w = ws + tid;
        if (ops->rows_prepare(st, &in, w->buf) != AP_OK) {
            failed++;
            continue;
        }
        for (int32_t r0 = i0; r0 < i0 + nb; r0 += AP_ROWS_BLOCK) {
            const int32_t n = i0 + nb - r0 < AP_ROWS_BLOCK ? i0 + nb - r0 : AP_ROWS_BLOCK;
            if (ops->predict_rows(st, &in, w->buf, r0, n, w->row_ptr, w->cols, &kept, &valid) != AP_OK) {
                failed++;
                break;
            }
            if (!pred_only) ap_attention_sparse_rows(&hd, r0, n, w->row_ptr, w->cols, w->sparse, ap_cpu_features());
        }
    }
    if (failed) {
        fprintf(stderr, "attention_heads: %s\n", ap_last_error());
        return 1;
    }
    *kept_out = kept, *valid_out = valid;
    return 0;
}

int main(int argc, char **argv) {
    int threads = 2, runs = 5, heads = 12, causal = 0, n_sizes = 0, n_specs = 0;
    int32_t sizes[16];
    const char *specs[16], *qkv = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "-t"))
            threads = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "-r"))
            runs = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "-H"))
            heads = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "-c"))
            causal = atoi(argv[++i]) != 0;
        else if (i + 1 < argc && !strcmp(argv[i], "--qkv"))
            qkv = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "-a") && n_specs < 16)
            specs[n_specs++] = argv[++i];
        else if (argv[i][0] != '-' && n_sizes < 16)
            sizes[n_sizes++] = atoi(argv[i]);
        else {
            usage();
            return 2;
        }
    }
    if (threads < 1 || runs < 1 || runs > 100 || heads < 1 || n_sizes == 0) {
        usage();
        return 2;
    }
    if (!n_specs) specs[n_specs++] = "dense";
    const int32_t d = 64;
    int64_t N = 0; /* rows per head in the buffers */
    const float *file_qkv[3] = {NULL, NULL, NULL};
    struct ap_npy *npy[3] = {NULL, NULL, NULL};
    if (qkv) {
        static const char *const part[3] = {"q", "k", "v"};
        for (int p = 0; p < 3; p++) {
            char path[4096];
            snprintf(path, sizeof path, "%s_%s.npy", qkv, part[p]);
            const int64_t shape[3] = {-1, -1, d};
            if (ap_npy_open(path, &npy[p]) != AP_OK || ap_npy_f32(npy[p], 3, shape, &file_qkv[p]) != AP_OK) {
                fprintf(stderr, "attention_heads: %s\n", ap_last_error());
                return 1;
            }
        }
        const int64_t *sh = npy[0]->shape;
        heads = (int)sh[0], N = sh[1];
        for (int p = 1; p < 3; p++)
            if (npy[p]->shape[0] != heads || npy[p]->shape[1] != N) {
                fprintf(stderr, "attention_heads: %s_{q,k,v}.npy differ in shape\n", qkv);
                return 1;
            }
    }
    printf("S,heads,causal,method,density,ours_ms,pred_ms,gflops,work_mb\n");
    for (int si = 0; si < n_sizes; si++) {
        const int32_t S = sizes[si];
        if (S < 1 || (qkv && S > N)) {
            fprintf(stderr, "attention_heads: S must be 1..%lld, got %d\n", (long long)(qkv ? N : 1 << 30), S);
            return 2;
        }
        const int64_t ld = qkv ? N : S; /* rows per head in q, k, v */
        const size_t n = (size_t)heads * (size_t)ld * (size_t)d, sc = ap_attention_f32_scratch(S, S, d);
        float *q = NULL, *k = NULL, *v = NULL;
        float *o = malloc(sizeof(float) * n), *scratch = malloc(sizeof(float) * sc * (size_t)threads);
        double *ms = malloc(sizeof(double) * (size_t)runs), *pms = malloc(sizeof(double) * (size_t)runs);
        if (qkv) {
            q = (float *)file_qkv[0], k = (float *)file_qkv[1], v = (float *)file_qkv[2];
        } else {
            q = malloc(sizeof(float) * n), k = malloc(sizeof(float) * n), v = malloc(sizeof(float) * n);
            if (q && k && v) {
                uint64_t rng = 88172645463325252ull;
                for (size_t i = 0; i < n; i++) {
                    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                    const float x = (float)((double)(rng >> 11) / 4503599627370496.0 - 1.0);
                    q[i] = x, k[i] = -x * 0.5f, v[i] = x * x;
                }
            }
        }
        if (!q || !k || !v || !o || !scratch || !ms || !pms) {
            fprintf(stderr, "attention_heads: out of memory at S = %d\n", S);
            return 1;
        }
        const double pairs = causal ? (double)S * (S + 1) / 2 : (double)S * S;
        for (int a = 0; a < n_specs; a++) {
            struct ap_method *m = NULL;
            struct fused_ws *ws = NULL;
            double work = (double)sc * sizeof(float) * threads;
            if (strcmp(specs[a], "dense") != 0) {
                if (ap_method_create(specs[a], &m) != AP_OK) {
                    fprintf(stderr, "attention_heads: %s\n", ap_last_error());
                    return 2;
                }
                const struct ap_method_ops *ops = ap_method_ops_of(m);
                if (!ops->predict_rows) {
                    fprintf(stderr, "attention_heads: method '%s' has no fused row-block predictor\n", specs[a]);
                    return 2;
                }
                ws = calloc((size_t)threads, sizeof *ws);
                const size_t rb = ops->rows_bytes(ap_method_state(m), S, S, d);
                const size_t cb = sizeof(int32_t) * (size_t)AP_ROWS_BLOCK * (size_t)S;
                const size_t sb = sizeof(float) * ap_attention_sparse_scratch(d);
                for (int t = 0; ws && t < threads; t++) {
                    ws[t].buf = malloc(rb), ws[t].cols = malloc(cb), ws[t].sparse = malloc(sb);
                    if (!ws[t].buf || !ws[t].cols || !ws[t].sparse) {
                        fprintf(stderr, "attention_heads: out of memory at S = %d\n", S);
                        return 1;
                    }
                }
                work = (double)(rb + cb + sb + sizeof ws[0].row_ptr) * threads;
            }
            int64_t kept = 0, valid = 0;
            for (int pass = 0; pass < (m ? 2 : 1); pass++) /* pass 1: the predictor alone */
                for (int run = -1; run < runs; run++) {
                    const double t0 = now();
                    if (run_once(m, pass, q, k, v, o, heads, S, d, ld, causal, threads, scratch, sc, ws, &kept,
                                 &valid))
                        return 1;
                    if (run >= 0) (pass ? pms : ms)[run] = (now() - t0) * 1e3;
                }
            const double med = median(ms, runs), pmed = m ? median(pms, runs) : 0.0;
            const double dens = m && valid > 0 ? (double)kept / (double)valid : 1.0;
            printf("%d,%d,%d,\"%s\",%.4f,%.3f,%.3f,%.1f,%.2f\n", S, heads, causal, specs[a], dens, med, pmed,
                   4.0 * d * pairs * heads / (med * 1e-3) * 1e-9, work / 1048576.0);
            fflush(stdout);
            for (int t = 0; ws && t < threads; t++) free(ws[t].buf), free(ws[t].cols), free(ws[t].sparse);
            free(ws);
            ap_method_free(m);
        }
        if (!qkv) free(q), free(k), free(v);
        free(o), free(scratch), free(ms), free(pms);
    }
    for (int p = 0; p < 3; p++) ap_npy_close(npy[p]);
    return 0;
}

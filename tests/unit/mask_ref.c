/* mask_ref.c — a method against its NumPy reference (see mask_ref.h).
 *
 * Legend: L = layers, H = heads, S = tokens, d = head dimension. */
#include "mask_ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "io/npy.h"
#include "methods/method.h"
#include "test.h"

#define MAKE_FIXTURES "make them with 'make test' (tests/run.sh runs tests/ref/method_*.py --fixtures DIR)"

static int read_line(const char *file, int line, const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        ap_test_fail(file, line, "missing fixture %s: %s", path, MAKE_FIXTURES);
        return -1;
    }
    if (!fgets(buf, (int)cap, f)) buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static struct ap_npy *open_npy(const char *file, int line, const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct ap_npy *a = NULL;
    if (ap_npy_open(path, &a) != AP_OK) {
        ap_test_fail(file, line, "cannot open fixture %s (%s): %s", path, ap_last_error(), MAKE_FIXTURES);
        return NULL;
    }
    return a;
}

/* Check that NAME_stat_names.txt lists ops' stats in order. */
static void check_stat_names(const char *file, int line, const char *dir, const char *name,
                             const struct ap_method_ops *ops) {
    char path[1024], buf[256];
    snprintf(path, sizeof path, "%s/%s_stat_names.txt", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        ap_test_fail(file, line, "missing fixture %s: %s", path, MAKE_FIXTURES);
        return;
    }
    int32_t n = 0;
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!buf[0]) continue;
        if (n >= ops->n_stats || strcmp(buf, ops->stat_names[n]) != 0)
            ap_test_fail(file, line, "%s: stat %d is '%s' in the reference, '%s' in C", name, n, buf,
                         n < ops->n_stats ? ops->stat_names[n] : "(none)");
        n++;
    }
    fclose(f);
    if (n != ops->n_stats) ap_test_fail(file, line, "%s: %d stats in the reference, %d in C", name, n, ops->n_stats);
}

int ap_mask_ref_check(const char *file, int line, const char *name, const char *setting, const char *set,
                      struct ap_mask_ref_result *res) {
    memset(res, 0, sizeof *res);
    const char *dir = ap_test_fixture_dir();
    if (!dir) {
        ap_test_fail(file, line, "AP_FIXTURES is not set: run the suite with 'make test'");
        return -1;
    }
    char path[1024], spec[1024], params[960], setline[256], src[64];
    snprintf(path, sizeof path, "%s/%s_%s_spec.txt", dir, name, setting);
    if (read_line(file, line, path, params, sizeof params)) return -1;
    snprintf(path, sizeof path, "%s/%s_%s_set.txt", dir, name, set);
    if (read_line(file, line, path, setline, sizeof setline)) return -1;
    int valid_len = -1, causal = 0;
    if (sscanf(setline, "%63s %d %d", src, &valid_len, &causal) != 3) {
        ap_test_fail(file, line, "%s: expected 'SOURCE VALID_LEN CAUSAL', got '%s'", path, setline);
        return -1;
    }
    snprintf(spec, sizeof spec, "%s:%s", name, params);

    char fname[256];
    struct ap_npy *q = NULL, *k = NULL, *v = NULL, *mask = NULL, *stats = NULL, *ties = NULL, *unstable = NULL;
    struct ap_method *m = NULL;
    uint8_t *out_mask = NULL, *tie_map = NULL, *qvalid = NULL;
    int rc = -1;
    snprintf(fname, sizeof fname, "qkv_%s_q.npy", src);
    if (!(q = open_npy(file, line, dir, fname))) goto done;
    snprintf(fname, sizeof fname, "qkv_%s_k.npy", src);
    if (!(k = open_npy(file, line, dir, fname))) goto done;
    snprintf(fname, sizeof fname, "qkv_%s_v.npy", src);
    if (!(v = open_npy(file, line, dir, fname))) goto done;
    snprintf(fname, sizeof fname, "%s_%s_%s_mask.npy", name, setting, set);
    if (!(mask = open_npy(file, line, dir, fname))) goto done;
    snprintf(fname, sizeof fname, "%s_%s_%s_stats.npy", name, setting, set);
    if (!(stats = open_npy(file, line, dir, fname))) goto done;
    snprintf(fname, sizeof fname, "%s_%s_%s_ties.npy", name, setting, set);
    if (!(ties = open_npy(file, line, dir, fname))) goto done;
    snprintf(fname, sizeof fname, "%s_%s_%s_unstable.npy", name, setting, set);
    if (!(unstable = open_npy(file, line, dir, fname))) goto done;

    const int64_t want4[4] = {-1, -1, -1, -1};
    const float *qf, *kf, *vf;
    if (ap_npy_f32(q, 4, want4, &qf) != AP_OK || ap_npy_f32(k, 4, want4, &kf) != AP_OK ||
        ap_npy_f32(v, 4, want4, &vf) != AP_OK) {
        ap_test_fail(file, line, "Q/K/V fixture: %s", ap_last_error());
        goto done;
    }
    const int64_t L = q->shape[0], H = q->shape[1], S = q->shape[2], d = q->shape[3];
    if (mask->dtype != AP_DTYPE_U8 || mask->ndim != 4 || mask->shape[0] != L || mask->shape[1] != H ||
        mask->shape[2] != S || mask->shape[3] != S || stats->dtype != AP_DTYPE_F64 || stats->ndim != 3 ||
        ties->dtype != AP_DTYPE_I64 || ties->ndim != 2 || ties->shape[1] != 4 ||
        unstable->dtype != AP_DTYPE_U8) {
        ap_test_fail(file, line, "%s %s %s: reference arrays have unexpected dtypes or shapes", name, setting, set);
        goto done;
    }
    if (ap_method_create(spec, &m) != AP_OK) {
        ap_test_fail(file, line, "ap_method_create(%s): %s", spec, ap_last_error());
        goto done;
    }
    const struct ap_method_ops *ops = ap_method_ops_of(m);
    check_stat_names(file, line, dir, name, ops);
    if (stats->shape[0] != L || stats->shape[1] != H || stats->shape[2] != ops->n_stats) {
        ap_test_fail(file, line, "%s stats fixture has %lld stats, the method %d", name,
                     (long long)stats->shape[2], ops->n_stats);
        goto done;
    }
    out_mask = malloc((size_t)(S * S));
    tie_map = calloc((size_t)(L * H * S * S), 1);
    qvalid = malloc((size_t)S);
    if (!out_mask || !tie_map || !qvalid) {
        ap_test_fail(file, line, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < S; i++) qvalid[i] = valid_len < 0 || i < valid_len;
    const int64_t *tv = ties->data;
    const int64_t n_ties = ties->shape[0];
    for (int64_t t = 0; t < n_ties; t++) {
        int64_t l = tv[4 * t], h = tv[4 * t + 1], i = tv[4 * t + 2], j = tv[4 * t + 3];
        if (l < 0 || l >= L || h < 0 || h >= H || i < 0 || i >= S || j < 0 || j >= S) {
            ap_test_fail(file, line, "tie %lld out of range", (long long)t);
            goto done;
        }
        tie_map[((l * H + h) * S + i) * S + j] = 1;
    }
    res->ties = n_ties;
    const uint8_t *ref_all = mask->data, *unst = unstable->data;
    const double *ref_stats = stats->data;
    const float scale = 1.0f / sqrtf((float)d);
    int printed = 0;
    for (int64_t l = 0; l < L; l++)
        for (int64_t h = 0; h < H; h++) {
            const int64_t off = (l * H + h) * S * d;
            struct ap_head_inputs in = {
                .layer = (int32_t)l, .head = (int32_t)h, .n_layers = (int32_t)L, .n_heads = (int32_t)H,
                .n_q = (int32_t)S, .n_k = (int32_t)S, .d = (int32_t)d, .q = qf + off, .k = kf + off, .v = vf + off,
                .q_stride = d, .k_stride = d, .v_stride = d, .scale = scale, .causal = causal,
                .key_valid = valid_len < 0 ? NULL : qvalid, .query_valid = valid_len < 0 ? NULL : qvalid,
            };
            memset(out_mask, 0xAB, (size_t)(S * S)); /* garbage: predict must write every entry */
            struct ap_head_output out = {.mask = out_mask};
            if (ap_method_predict(m, &in, &out) != AP_OK) {
                ap_test_fail(file, line, "%s layer %lld head %lld: %s", spec, (long long)l, (long long)h,
                             ap_last_error());
                goto done;
            }
            res->heads++;
            const int head_unstable = unst[l * H + h] != 0;
            res->unstable_heads += head_unstable;
            const uint8_t *ref = ref_all + (l * H + h) * S * S;
            const uint8_t *tm = tie_map + (l * H + h) * S * S;
            int64_t head_diffs = 0, kept = 0;
            for (int64_t p = 0; p < S * S; p++) {
                kept += out_mask[p] == 1;
                if (out_mask[p] > 1) {
                    ap_test_fail(file, line, "%s layer %lld head %lld: mask[%lld] = %d, not 0 or 1", spec,
                                 (long long)l, (long long)h, (long long)p, out_mask[p]);
                    goto done;
                }
                if (out_mask[p] == ref[p]) continue;
                head_diffs++;
                if (tm[p] || head_unstable) {
                    res->tie_diffs++;
                    continue;
                }
                res->diffs++;
                if (printed++ < 8)
                    ap_test_fail(file, line, "%s %s: layer %lld head %lld pair (%lld, %lld): C %d, NumPy %d", spec,
                                 set, (long long)l, (long long)h, (long long)(p / S), (long long)(p % S),
                                 out_mask[p], ref[p]);
            }
            res->pairs += S * S;
            if (out.kept != kept)
                ap_test_fail(file, line, "%s: out.kept %lld but the mask holds %lld", spec, (long long)out.kept,
                             (long long)kept);
            if (out.valid != ap_head_valid_pairs(&in))
                ap_test_fail(file, line, "%s: out.valid %lld, expected %lld", spec, (long long)out.valid,
                             (long long)ap_head_valid_pairs(&in));
            if (head_diffs) continue;
            res->stat_heads++;
            const double *rs = ref_stats + (l * H + h) * ops->n_stats;
            for (int32_t s = 0; s < ops->n_stats; s++) {
                if (out.stats[s] == rs[s]) continue;
                res->stat_diffs++;
                if (printed++ < 16)
                    ap_test_fail(file, line, "%s %s: layer %lld head %lld stat %s: C %.17g, NumPy %.17g", spec, set,
                                 (long long)l, (long long)h, ops->stat_names[s], out.stats[s], rs[s]);
            }
        }
    if (res->diffs || res->stat_diffs)
        ap_test_fail(file, line, "%s on %s: %lld mask differences beyond ties, %lld stat differences", spec, set,
                     (long long)res->diffs, (long long)res->stat_diffs);
    rc = 0;
    fprintf(stderr,
            "    %s %s on %s: %lld heads, %lld pairs; %lld differences, %lld ties (%lld of them differ), "
            "%lld unstable heads; stats equal in %lld heads\n",
            name, setting, set, (long long)res->heads, (long long)res->pairs, (long long)res->diffs,
            (long long)res->ties, (long long)res->tie_diffs, (long long)res->unstable_heads,
            (long long)res->stat_heads);
done:
    ap_method_free(m);
    free(out_mask);
    free(tie_map);
    free(qvalid);
    ap_npy_close(q);
    ap_npy_close(k);
    ap_npy_close(v);
    ap_npy_close(mask);
    ap_npy_close(stats);
    ap_npy_close(ties);
    ap_npy_close(unstable);
    return rc;
}

/* method_ref_check.c — a method's masks and statistics against a NumPy
 * reference on the Q/K/V fixtures (see method_ref_check.h).
 *
 * Legend: L = layers, H = heads, S = queries, T = keys (= S), d = head dim. */
#include "method_ref_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "io/json_file.h"
#include "io/npy.h"
#include "kernels/probs_row.h"
#include "methods/method.h"
#include "test.h"

#define STATS_TOL 1e-9 /* relative tolerance of a statistic vs the reference */

static double f64_at(const struct ap_npy *a, int64_t i) {
    double v;
    memcpy(&v, (const unsigned char *)a->data + i * 8, 8);
    return v;
}

static struct ap_npy *open_fixture(const char *file, int line, const char *name, const char *prefix) {
    const char *dir = ap_test_fixture_dir();
    char path[4096];
    if (!dir) {
        ap_test_fail(file, line, "AP_FIXTURES is not set: run the suite with 'make test'");
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct ap_npy *a = NULL;
    if (ap_npy_open(path, &a) != AP_OK)
        ap_test_fail(file, line, "%s (%s); make it with 'make test' (tests/ref/method_%s.py --fixtures %s)",
                     ap_last_error(), path, prefix, dir);
    return a;
}

/* One setting: run the method on every head, compare. */
static void check_setting(const char *file, int line, const char *method, const char *prefix, double tie_rel,
                          const cJSON *set, struct ap_test_ref_totals *tot) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(set, "name"));
    const char *fix = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(set, "fixture"));
    const char *params = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(set, "params"));
    const cJSON *stats_names = cJSON_GetObjectItemCaseSensitive(set, "stats");
    const int key_len = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(set, "key_len"));
    const int query_len = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(set, "query_len"));
    const int causal = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(set, "causal"));
    if (!name || !fix || !params || !cJSON_IsArray(stats_names)) {
        ap_test_fail(file, line, "%s_settings.json: a setting lacks name, fixture, params or stats", prefix);
        return;
    }
    char buf[512], spec[512];
    struct ap_npy *q = NULL, *k = NULL, *v = NULL, *mask = NULL, *stats = NULL, *thr = NULL;
    struct ap_method *m = NULL;
    uint8_t *out_mask = NULL, *kvalid = NULL, *qvalid = NULL;
    double *p = NULL;
    const float *qf, *kf, *vf;
    snprintf(buf, sizeof buf, "qkv_%s_q.npy", fix);
    q = open_fixture(file, line, buf, prefix);
    snprintf(buf, sizeof buf, "qkv_%s_k.npy", fix);
    k = open_fixture(file, line, buf, prefix);
    snprintf(buf, sizeof buf, "qkv_%s_v.npy", fix);
    v = open_fixture(file, line, buf, prefix);
    snprintf(buf, sizeof buf, "%s_%s_mask.npy", prefix, name);
    mask = open_fixture(file, line, buf, prefix);
    snprintf(buf, sizeof buf, "%s_%s_stats.npy", prefix, name);
    stats = open_fixture(file, line, buf, prefix);
    snprintf(buf, sizeof buf, "%s_%s_thr.npy", prefix, name);
    thr = open_fixture(file, line, buf, prefix);
    if (!q || !k || !v || !mask || !stats || !thr) goto out;
    const int64_t any4[4] = {-1, -1, -1, -1};
    if (ap_npy_f32(q, 4, any4, &qf) != AP_OK || ap_npy_f32(k, 4, q->shape, &kf) != AP_OK ||
        ap_npy_f32(v, 4, q->shape, &vf) != AP_OK) {
        ap_test_fail(file, line, "%s", ap_last_error());
        goto out;
    }
    const int32_t L = (int32_t)q->shape[0], H = (int32_t)q->shape[1], S = (int32_t)q->shape[2],
                  d = (int32_t)q->shape[3], T = S;
    const int32_t n_stats = cJSON_GetArraySize(stats_names);
    if (mask->dtype != AP_DTYPE_U8 || mask->ndim != 4 || mask->shape[0] != L || mask->shape[1] != H ||
        mask->shape[2] != S || mask->shape[3] != T || stats->dtype != AP_DTYPE_F64 || stats->ndim != 3 ||
        stats->shape[2] != n_stats || thr->dtype != AP_DTYPE_F64 || thr->ndim != 3) {
        ap_test_fail(file, line, "%s_%s: reference arrays have unexpected dtypes or shapes", prefix, name);
        goto out;
    }
    snprintf(spec, sizeof spec, "%s%s%s", method, *params ? ":" : "", params);
    if (ap_method_create(spec, &m) != AP_OK) {
        ap_test_fail(file, line, "ap_method_create(%s): %s", spec, ap_last_error());
        goto out;
    }
    const struct ap_method_ops *ops = ap_method_ops_of(m);
    int32_t col[AP_METHOD_MAX_STATS + 2]; /* stats column -> -2 kept, -1 valid, else stat index */
    for (int32_t c = 0; c < n_stats && c < AP_METHOD_MAX_STATS + 2; c++) {
        const char *sn = cJSON_GetStringValue(cJSON_GetArrayItem(stats_names, c));
        col[c] = -3;
        if (sn && strcmp(sn, "kept") == 0) col[c] = -2;
        else if (sn && strcmp(sn, "valid") == 0) col[c] = -1;
        else
            for (int32_t s = 0; s < ops->n_stats; s++)
                if (sn && strcmp(sn, ops->stat_names[s]) == 0) col[c] = s;
        if (col[c] == -3) {
            ap_test_fail(file, line, "%s has no statistic '%s'", method, sn ? sn : "?");
            goto out;
        }
    }
    out_mask = malloc((size_t)S * T);
    kvalid = malloc((size_t)T);
    qvalid = malloc((size_t)S);
    p = malloc(sizeof(double) * (size_t)T);
    if (!out_mask || !kvalid || !qvalid || !p) goto out;
    for (int32_t j = 0; j < T; j++) kvalid[j] = key_len < 0 || j < key_len;
    for (int32_t i = 0; i < S; i++) qvalid[i] = query_len < 0 || i < query_len;
    const uint8_t *ref_mask = mask->data;
    int64_t differing = 0, ties = 0, heads_with_ties = 0, reported = 0;
    for (int32_t l = 0; l < L; l++)
        for (int32_t h = 0; h < H; h++) {
            const int64_t head = (int64_t)l * H + h;
            struct ap_head_inputs in = {
                .layer = l, .head = h, .n_layers = L, .n_heads = H, .n_q = S, .n_k = T, .d = d,
                .q = qf + head * S * d, .k = kf + head * T * d, .v = vf + head * T * d,
                .q_stride = d, .k_stride = d, .v_stride = d, .scale = 1.0f / sqrtf((float)d), .causal = causal,
                .key_valid = key_len < 0 ? NULL : kvalid, .query_valid = query_len < 0 ? NULL : qvalid,
            };
            struct ap_head_output out = {.mask = out_mask};
            if (ap_method_predict(m, &in, &out) != AP_OK) {
                ap_test_fail(file, line, "%s layer %d head %d: %s", spec, l, h, ap_last_error());
                goto out;
            }
            if (!out.mask) { /* keep every valid pair */
                out.mask = out_mask;
                for (int32_t i = 0; i < S; i++)
                    for (int32_t j = 0; j < T; j++) out_mask[(int64_t)i * T + j] = (uint8_t)ap_head_pair_valid(&in, i, j);
            }
            int64_t head_ties = 0, ones = 0;
            const uint8_t *rm = ref_mask + head * S * T;
            for (int32_t i = 0; i < S; i++) {
                int have_p = 0;
                for (int32_t j = 0; j < T; j++) {
                    const int64_t at = (int64_t)i * T + j;
                    int got = out.mask[at] != 0;
                    ones += got && ap_head_pair_valid(&in, i, j);
                    if (got && !ap_head_pair_valid(&in, i, j)) {
                        if (reported++ < 5)
                            ap_test_fail(file, line, "%s %s: layer %d head %d keeps invalid pair (%d, %d)", spec,
                                         name, l, h, i, j);
                        continue;
                    }
                    if (got == (rm[at] != 0)) continue;
                    differing++;
                    if (!have_p) {
                        int32_t last = causal ? i + (T - S) : T - 1;
                        ap_probs_row(in.q + (int64_t)i * d, in.k, d, T, d, in.scale, last, in.key_valid, p);
                        have_p = 1;
                    }
                    const double t = f64_at(thr, head * S + i);
                    if (isfinite(t) && fabs(p[j] - t) <= tie_rel * fabs(t)) {
                        head_ties++;
                        continue;
                    }
                    if (reported++ < 5)
                        ap_test_fail(file, line,
                                     "%s %s: layer %d head %d pair (%d, %d): C %d, NumPy %d (p %.17g, row threshold "
                                     "%.17g)",
                                     spec, name, l, h, i, j, got, !got, p[j], t);
                }
            }
            ties += head_ties;
            heads_with_ties += head_ties > 0;
            if (out.kept != ones && reported++ < 5)
                ap_test_fail(file, line, "%s %s: layer %d head %d: out->kept %lld but the mask keeps %lld", spec,
                             name, l, h, (long long)out.kept, (long long)ones);
            if (head_ties) continue; /* its counts may differ by the ties */
            for (int32_t c = 0; c < n_stats; c++) {
                const double want = f64_at(stats, head * n_stats + c);
                const double got = col[c] == -2 ? (double)out.kept : col[c] == -1 ? (double)out.valid : out.stats[col[c]];
                if (!(fabs(got - want) <= STATS_TOL * fmax(1.0, fabs(want))) && reported++ < 5)
                    ap_test_fail(file, line, "%s %s: layer %d head %d stat '%s': C %.17g, NumPy %.17g", spec, name,
                                 l, h, cJSON_GetStringValue(cJSON_GetArrayItem(stats_names, c)), got, want);
            }
        }
    fprintf(stderr, "    %s on %s (%dx%dx%dx%d%s%s): %lld pairs differ, %lld of them ties (%lld heads)\n", spec, fix,
            L, H, S, T, key_len >= 0 || query_len >= 0 ? ", padded" : "", causal ? ", causal" : "",
            (long long)differing, (long long)ties, (long long)heads_with_ties);
    tot->settings++;
    tot->heads += (int64_t)L * H;
    tot->pairs += (int64_t)L * H * S * T;
    tot->differing += differing;
    tot->ties += ties;
out:
    free(out_mask);
    free(kvalid);
    free(qvalid);
    free(p);
    ap_method_free(m);
    ap_npy_close(q);
    ap_npy_close(k);
    ap_npy_close(v);
    ap_npy_close(mask);
    ap_npy_close(stats);
    ap_npy_close(thr);
}

void ap_test_method_ref_check(const char *file, int line, const char *method, const char *prefix, double tie_rel,
                              struct ap_test_ref_totals *totals) {
    struct ap_test_ref_totals local = {0};
    if (!totals) totals = &local;
    const char *dir = ap_test_fixture_dir();
    if (!dir) {
        ap_test_fail(file, line, "AP_FIXTURES is not set: run the suite with 'make test'");
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s_settings.json", dir, prefix);
    cJSON *root = NULL;
    if (ap_json_load(path, &root) != AP_OK) {
        ap_test_fail(file, line, "%s; make it with 'make test' (tests/ref/method_%s.py --fixtures %s)",
                     ap_last_error(), prefix, dir);
        return;
    }
    const cJSON *sets = cJSON_GetObjectItemCaseSensitive(root, "settings"), *set;
    if (!cJSON_IsArray(sets) || cJSON_GetArraySize(sets) == 0)
        ap_test_fail(file, line, "%s: no \"settings\" array", path);
    else
        cJSON_ArrayForEach(set, sets) check_setting(file, line, method, prefix, tie_rel, set, totals);
    cJSON_Delete(root);
}

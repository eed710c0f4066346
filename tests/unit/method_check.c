/* method_check.c — the methods' tests against their NumPy references (see
 * method_check.h).
 *
 * Legend: L = layers, H = heads, S = queries, T = keys (= S), d = head dim. */
#include "method_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "io/json_file.h"
#include "kernels/probs_row.h"
#include "test.h"

#define STATS_TOL 1e-9 /* check 1: relative tolerance of a statistic vs the reference */

/* ================================================================ plumbing */

static int fixture_path(const char *file, int line, char *buf, size_t cap, const char *name) {
    const char *dir = ap_test_fixture_dir();
    if (!dir) {
        ap_test_fail(file, line, "AP_FIXTURES is not set: run the suite with 'make test'");
        return 0;
    }
    snprintf(buf, cap, "%s/%s", dir, name);
    return 1;
}

static void fail_missing(const char *file, int line, const char *path, const char *maker) {
    ap_test_fail(file, line,
                 "%s: %s — make it with 'make test' (tests/run.sh runs tests/ref/%s --fixtures build/fixtures) "
                 "or directly: .venv/bin/python tests/ref/%s --fixtures build/fixtures",
                 path, ap_last_error(), maker, maker);
}

struct ap_npy *ap_mc_ref_open(const char *file, int line, const char *name, const char *maker, enum ap_dtype dtype,
                              int32_t ndim, const int64_t *shape) {
    char path[4096];
    if (!fixture_path(file, line, path, sizeof path, name)) return NULL;
    struct ap_npy *a = NULL;
    if (ap_npy_open(path, &a) != AP_OK) {
        fail_missing(file, line, path, maker);
        return NULL;
    }
    if (ndim < 0) return a;
    int ok = a->dtype == dtype && a->ndim == ndim;
    for (int32_t i = 0; ok && i < ndim; i++) ok = shape[i] < 0 || a->shape[i] == shape[i];
    if (!ok) {
        ap_test_fail(file, line, "%s: dtype %s with %d dimensions, expected %s with %d (rerun tests/ref/%s)", path,
                     ap_dtype_name(a->dtype), a->ndim, ap_dtype_name(dtype), ndim, maker);
        ap_npy_close(a);
        return NULL;
    }
    return a;
}

double ap_mc_f64(const struct ap_npy *a, int64_t i) {
    double v;
    memcpy(&v, (const unsigned char *)a->data + i * (int64_t)sizeof v, sizeof v);
    return v;
}

int64_t ap_mc_i64(const struct ap_npy *a, int64_t i) {
    int64_t v;
    memcpy(&v, (const unsigned char *)a->data + i * (int64_t)sizeof v, sizeof v);
    return v;
}

int ap_mc_qkv_open(const char *file, int line, const char *name, struct ap_mc_qkv *r) {
    memset(r, 0, sizeof *r);
    const char *part[3] = {"q", "k", "v"};
    const float *data[3] = {NULL, NULL, NULL};
    for (int p = 0; p < 3; p++) {
        char fname[256];
        snprintf(fname, sizeof fname, "qkv_%s_%s.npy", name, part[p]);
        if (!(r->npy[p] = ap_mc_ref_open(file, line, fname, "qkv_fixture.py", AP_DTYPE_F32, -1, NULL))) goto fail;
        const int64_t want[4] = {-1, -1, -1, -1};
        if (ap_npy_f32(r->npy[p], 4, want, &data[p]) != AP_OK) {
            ap_test_fail(file, line, "%s: %s", fname, ap_last_error());
            goto fail;
        }
    }
    r->q = data[0];
    r->k = data[1];
    r->v = data[2];
    r->L = (int32_t)r->npy[0]->shape[0];
    r->H = (int32_t)r->npy[0]->shape[1];
    r->S = (int32_t)r->npy[0]->shape[2];
    r->d = (int32_t)r->npy[0]->shape[3];
    for (int p = 1; p < 3; p++)
        if (memcmp(r->npy[p]->shape, r->npy[0]->shape, sizeof(int64_t) * 4) != 0) {
            ap_test_fail(file, line, "qkv_%s: q, k and v differ in shape", name);
            goto fail;
        }
    return 1;
fail:
    ap_mc_qkv_close(r);
    return 0;
}

void ap_mc_qkv_close(struct ap_mc_qkv *r) {
    for (int p = 0; p < 3; p++) ap_npy_close(r->npy[p]);
    memset(r, 0, sizeof *r);
}

struct ap_head_inputs ap_mc_qkv_head(const struct ap_mc_qkv *r, int32_t l, int32_t h) {
    const int64_t off = ((int64_t)l * r->H + h) * r->S * r->d;
    struct ap_head_inputs in = {
        .layer = l, .head = h, .n_layers = r->L, .n_heads = r->H, .n_q = r->S, .n_k = r->S, .d = r->d,
        .q = r->q + off, .k = r->k + off, .v = r->v + off, .q_stride = r->d, .k_stride = r->d, .v_stride = r->d,
        .scale = 1.0f / sqrtf((float)r->d),
    };
    return in;
}

struct ap_method *ap_mc_make(const char *file, int line, const char *spec) {
    struct ap_method *m = NULL;
    if (ap_method_create(spec, &m) != AP_OK) ap_test_fail(file, line, "%s: %s", spec, ap_last_error());
    return m;
}

int ap_mc_stat_index(const char *file, int line, const struct ap_method *m, const char *name) {
    const struct ap_method_ops *ops = ap_method_ops_of(m);
    for (int32_t i = 0; i < ops->n_stats; i++)
        if (!strcmp(ops->stat_names[i], name)) return i;
    ap_test_fail(file, line, "no stat '%s'", name);
    return 0;
}

void ap_mc_run_tiny(const char *file, int line, const char *spec, const float *q, const float *k, int32_t S, int32_t T,
                    int causal, const uint8_t *key_valid, const uint8_t *query_valid, uint8_t *mask,
                    struct ap_head_output *out) {
    struct ap_method *m = NULL;
    int st = (int)ap_method_create(spec, &m);
    if (st != AP_OK)
        ap_test_fail(file, line, "ap_method_create(%s) returned %d, expected AP_OK (last error: %s)", spec, st,
                     ap_last_error());
    if (!m) return;
    struct ap_head_inputs in = {.n_layers = 1, .n_heads = 1, .n_q = S, .n_k = T, .d = 1, .q = q, .k = k, .v = k,
                                .q_stride = 1, .k_stride = 1, .v_stride = 1, .scale = 1.0f, .causal = causal,
                                .key_valid = key_valid, .query_valid = query_valid};
    memset(out, 0, sizeof *out);
    out->mask = mask;
    st = (int)ap_method_predict(m, &in, out);
    if (st != AP_OK)
        ap_test_fail(file, line, "ap_method_predict(%s) returned %d, expected AP_OK (last error: %s)", spec, st,
                     ap_last_error());
    ap_method_free(m);
}

void ap_mc_check_mask(const char *file, int line, const uint8_t *got, const char *want, int32_t S, int32_t T) {
    for (int32_t i = 0; i < S; i++)
        for (int32_t j = 0; j < T; j++)
            if ((got[i * T + j] != 0) != (want[i * T + j] == '1'))
                ap_test_fail(file, line, "pair (%d, %d): got %d, want %c", i, j, got[i * T + j], want[i * T + j]);
}

int64_t ap_mc_compare_masks(const char *file, int line, const char *what, const uint8_t *got, const uint8_t *want,
                            const uint8_t *tie, int64_t n, int64_t *tie_diffs) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if ((got[i] != 0) == (want[i] != 0)) continue;
        if (tie && tie[i]) {
            (*tie_diffs)++;
            continue;
        }
        if (bad < 5) ap_test_fail(file, line, "%s: element %lld is %d, reference %d", what, (long long)i, got[i], want[i]);
        bad++;
    }
    if (bad) ap_test_fail(file, line, "%s: %lld of %lld elements differ (not at a tie)", what, (long long)bad, (long long)n);
    return bad;
}

/* ============================================ check 1: ties at a row threshold */

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
    char buf[512], spec[512], maker[128];
    snprintf(maker, sizeof maker, "method_%s.py", prefix);
    struct ap_mc_qkv r;
    struct ap_npy *mask = NULL, *stats = NULL, *thr = NULL;
    struct ap_method *m = NULL;
    uint8_t *out_mask = NULL, *kvalid = NULL, *qvalid = NULL;
    double *p = NULL;
    if (!ap_mc_qkv_open(file, line, fix, &r)) return;
    snprintf(buf, sizeof buf, "%s_%s_mask.npy", prefix, name);
    mask = ap_mc_ref_open(file, line, buf, maker, AP_DTYPE_U8, -1, NULL);
    snprintf(buf, sizeof buf, "%s_%s_stats.npy", prefix, name);
    stats = ap_mc_ref_open(file, line, buf, maker, AP_DTYPE_U8, -1, NULL);
    snprintf(buf, sizeof buf, "%s_%s_thr.npy", prefix, name);
    thr = ap_mc_ref_open(file, line, buf, maker, AP_DTYPE_U8, -1, NULL);
    if (!mask || !stats || !thr) goto out;
    const int32_t L = r.L, H = r.H, S = r.S, d = r.d, T = S;
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
            struct ap_head_inputs in = ap_mc_qkv_head(&r, l, h);
            in.causal = causal;
            in.key_valid = key_len < 0 ? NULL : kvalid;
            in.query_valid = query_len < 0 ? NULL : qvalid;
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
                    const double t = ap_mc_f64(thr, head * S + i);
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
                const double want = ap_mc_f64(stats, head * n_stats + c);
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
    ap_mc_qkv_close(&r);
    ap_npy_close(mask);
    ap_npy_close(stats);
    ap_npy_close(thr);
}

void ap_test_method_ref_check(const char *file, int line, const char *method, const char *prefix, double tie_rel,
                              struct ap_test_ref_totals *totals) {
    struct ap_test_ref_totals local = {0};
    if (!totals) totals = &local;
    char path[4096], fname[256];
    snprintf(fname, sizeof fname, "%s_settings.json", prefix);
    if (!fixture_path(file, line, path, sizeof path, fname)) return;
    cJSON *root = NULL;
    if (ap_json_load(path, &root) != AP_OK) {
        snprintf(fname, sizeof fname, "method_%s.py", prefix);
        fail_missing(file, line, path, fname);
        return;
    }
    const cJSON *sets = cJSON_GetObjectItemCaseSensitive(root, "settings"), *set;
    if (!cJSON_IsArray(sets) || cJSON_GetArraySize(sets) == 0)
        ap_test_fail(file, line, "%s: no \"settings\" array", path);
    else
        cJSON_ArrayForEach(set, sets) check_setting(file, line, method, prefix, tie_rel, set, totals);
    cJSON_Delete(root);
}

/* ================================= check 2: a list of ties, unstable heads */

static int read_line(const char *file, int line, const char *path, const char *maker, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        ap_test_fail(file, line, "missing fixture %s: make it with 'make test' (tests/run.sh runs tests/ref/%s "
                     "--fixtures build/fixtures)", path, maker);
        return -1;
    }
    if (!fgets(buf, (int)cap, f)) buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* Check that NAME_stat_names.txt lists ops' stats in order. */
static void check_stat_names(const char *file, int line, const char *dir, const char *name, const char *maker,
                             const struct ap_method_ops *ops) {
    char path[1024], buf[256];
    snprintf(path, sizeof path, "%s/%s_stat_names.txt", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        ap_test_fail(file, line, "missing fixture %s: make it with 'make test' (tests/run.sh runs tests/ref/%s "
                     "--fixtures build/fixtures)", path, maker);
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
    char path[1024], spec[1024], params[960], setline[256], src[64], maker[128];
    snprintf(maker, sizeof maker, "method_%s.py", name);
    snprintf(path, sizeof path, "%s/%s_%s_spec.txt", dir, name, setting);
    if (read_line(file, line, path, maker, params, sizeof params)) return -1;
    snprintf(path, sizeof path, "%s/%s_%s_set.txt", dir, name, set);
    if (read_line(file, line, path, maker, setline, sizeof setline)) return -1;
    int valid_len = -1, causal = 0;
    if (sscanf(setline, "%63s %d %d", src, &valid_len, &causal) != 3) {
        ap_test_fail(file, line, "%s: expected 'SOURCE VALID_LEN CAUSAL', got '%s'", path, setline);
        return -1;
    }
    snprintf(spec, sizeof spec, "%s:%s", name, params);

    char fname[256];
    struct ap_mc_qkv r;
    struct ap_npy *mask = NULL, *stats = NULL, *ties = NULL, *unstable = NULL;
    struct ap_method *m = NULL;
    uint8_t *out_mask = NULL, *tie_map = NULL, *qvalid = NULL;
    int rc = -1;
    if (!ap_mc_qkv_open(file, line, src, &r)) return -1;
    snprintf(fname, sizeof fname, "%s_%s_%s_mask.npy", name, setting, set);
    if (!(mask = ap_mc_ref_open(file, line, fname, maker, AP_DTYPE_U8, -1, NULL))) goto done;
    snprintf(fname, sizeof fname, "%s_%s_%s_stats.npy", name, setting, set);
    if (!(stats = ap_mc_ref_open(file, line, fname, maker, AP_DTYPE_U8, -1, NULL))) goto done;
    snprintf(fname, sizeof fname, "%s_%s_%s_ties.npy", name, setting, set);
    if (!(ties = ap_mc_ref_open(file, line, fname, maker, AP_DTYPE_U8, -1, NULL))) goto done;
    snprintf(fname, sizeof fname, "%s_%s_%s_unstable.npy", name, setting, set);
    if (!(unstable = ap_mc_ref_open(file, line, fname, maker, AP_DTYPE_U8, -1, NULL))) goto done;

    const int64_t L = r.L, H = r.H, S = r.S;
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
    check_stat_names(file, line, dir, name, maker, ops);
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
    int printed = 0;
    for (int64_t l = 0; l < L; l++)
        for (int64_t h = 0; h < H; h++) {
            struct ap_head_inputs in = ap_mc_qkv_head(&r, (int32_t)l, (int32_t)h);
            in.causal = causal;
            in.key_valid = valid_len < 0 ? NULL : qvalid;
            in.query_valid = valid_len < 0 ? NULL : qvalid;
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
    ap_mc_qkv_close(&r);
    ap_npy_close(mask);
    ap_npy_close(stats);
    ap_npy_close(ties);
    ap_npy_close(unstable);
    return rc;
}

/* ===================== check 3: per-layer thresholds and a tie mask */

void ap_th_ref_check(const char *file, int line, const char *method, const char *data, const char *setting,
                     const char *params, int32_t n_ref_stats, struct ap_th_ref_result *res) {
    memset(res, 0, sizeof *res);
    if (n_ref_stats < 2 || n_ref_stats > AP_METHOD_MAX_STATS + 2) {
        ap_test_fail(file, line, "%s: %d reference statistics", method, n_ref_stats);
        return;
    }
    struct ap_mc_qkv r;
    if (!ap_mc_qkv_open(file, line, data, &r)) return;
    const int32_t L = r.L, H = r.H, S = r.S;
    res->L = L;
    res->H = H;
    res->S = S;
    char name[128], maker[64];
    snprintf(maker, sizeof maker, "method_%s.py", method);
    const int64_t shape_th[1] = {L}, shape_mask[4] = {L, H, S, S}, shape_stats[3] = {L, H, n_ref_stats};
    snprintf(name, sizeof name, "%s_%s_%s_th.npy", method, data, setting);
    struct ap_npy *th = ap_mc_ref_open(file, line, name, maker, AP_DTYPE_F64, 1, shape_th);
    snprintf(name, sizeof name, "%s_%s_%s_mask.npy", method, data, setting);
    struct ap_npy *mask = ap_mc_ref_open(file, line, name, maker, AP_DTYPE_U8, 4, shape_mask);
    snprintf(name, sizeof name, "%s_%s_%s_tie.npy", method, data, setting);
    struct ap_npy *tie = ap_mc_ref_open(file, line, name, maker, AP_DTYPE_U8, 4, shape_mask);
    snprintf(name, sizeof name, "%s_%s_%s_stats.npy", method, data, setting);
    struct ap_npy *stats = ap_mc_ref_open(file, line, name, maker, AP_DTYPE_F64, 3, shape_stats);
    struct ap_method *m = NULL;
    uint8_t *got = malloc((size_t)S * S);
    if (!th || !mask || !tie || !stats || !got) goto out;

    char spec[8192];
    int w = snprintf(spec, sizeof spec, "%s:%s,th=", method, params);
    for (int32_t l = 0; l < L; l++)
        w += snprintf(spec + w, sizeof spec - (size_t)w, "%s%.17g", l ? ";" : "", ap_mc_f64(th, l));
    if (ap_method_create(spec, &m) != AP_OK)
        ap_test_fail(file, line, "ap_method_create(%s): %s", spec, ap_last_error());
    if (!m) goto out;
    for (int32_t l = 0; l < L; l++)
        for (int32_t h = 0; h < H; h++) {
            struct ap_head_inputs in = ap_mc_qkv_head(&r, l, h);
            struct ap_head_output out = {.mask = got};
            if (ap_method_predict(m, &in, &out) != AP_OK) {
                ap_test_fail(file, line, "%s layer %d head %d: %s", spec, l, h, ap_last_error());
                goto out;
            }
            const int64_t off = ((int64_t)l * H + h) * S * S;
            const uint8_t *tw = (const uint8_t *)tie->data + off;
            for (int64_t x = 0; x < (int64_t)S * S; x++) res->ties += tw[x] != 0;
            char what[96];
            snprintf(what, sizeof what, "%s %s %s mask of layer %d head %d", method, data, setting, l, h);
            const int64_t before = res->tie_diffs;
            res->differ += ap_mc_compare_masks(file, line, what, got, (const uint8_t *)mask->data + off, tw,
                                               (int64_t)S * S, &res->tie_diffs);
            /* statistics: exact, unless a tie in this head was decided differently */
            const int64_t so = ((int64_t)l * H + h) * n_ref_stats;
            double mine[AP_METHOD_MAX_STATS + 2] = {(double)out.kept, (double)out.valid};
            for (int32_t k = 0; k < n_ref_stats - 2; k++) mine[2 + k] = out.stats[k];
            for (int32_t k = 0; k < n_ref_stats; k++)
                if (mine[k] != ap_mc_f64(stats, so + k) && res->tie_diffs == before) {
                    if (res->stat_bad++ < 5)
                        ap_test_fail(file, line, "%s %s layer %d head %d: statistic %d is %.0f, reference %.0f", data,
                                     setting, l, h, k, mine[k], ap_mc_f64(stats, so + k));
                }
            res->kept += out.kept;
            res->valid += out.valid;
            for (int32_t k = 0; k < AP_METHOD_MAX_STATS; k++) res->stat_sum[k] += out.stats[k];
        }
    res->ran = 1;
    if (res->differ != 0)
        ap_test_fail(file, line, "%s %s %s: %lld mask differences not at a tie", method, data, setting,
                     (long long)res->differ);
    if (res->stat_bad != 0)
        ap_test_fail(file, line, "%s %s %s: %lld statistics differ from the reference", method, data, setting,
                     (long long)res->stat_bad);
out:
    free(got);
    ap_method_free(m);
    ap_npy_close(th);
    ap_npy_close(mask);
    ap_npy_close(tie);
    ap_npy_close(stats);
    ap_mc_qkv_close(&r);
}

/* ------------------------------------------------------------ fused rows */

void ap_mc_check_rows(const char *file, int line, const char *spec, double max_diff_frac) {
    struct ap_mc_qkv r;
    if (!ap_mc_qkv_open(file, line, "real", &r)) return;
    struct ap_method *m = ap_mc_make(file, line, spec);
    if (!m) {
        ap_mc_qkv_close(&r);
        return;
    }
    const struct ap_method_ops *ops = ap_method_ops_of(m);
    const int32_t S = r.S;
    uint8_t *mask = malloc((size_t)S * (size_t)S), *kv = malloc((size_t)S);
    unsigned char *buf = ops->rows_bytes ? malloc(ops->rows_bytes(ap_method_state(m), S, S, r.d)) : NULL;
    int64_t row_ptr[AP_ROWS_BLOCK + 1];
    int32_t *cols = malloc(sizeof(int32_t) * (size_t)AP_ROWS_BLOCK * (size_t)S);
    if (!ops->predict_rows || !ops->rows_prepare || !buf || !mask || !kv || !cols) {
        ap_test_fail(file, line, "%s: no fused path, or out of memory", spec);
        goto out;
    }
    for (int32_t j = 0; j < S; j++) kv[j] = j % 11 != 5;
    int64_t total_valid = 0, total_diff = 0, total_kept = 0;
    for (int variant = 0; variant < 2; variant++)
        for (int32_t l = 0; l < r.L; l++)
            for (int32_t h = 0; h < r.H; h++) {
                struct ap_head_inputs in = ap_mc_qkv_head(&r, l, h);
                in.causal = variant;
                in.key_valid = variant ? kv : NULL;
                struct ap_head_output out = {.mask = mask};
                if (ap_method_predict(m, &in, &out) != AP_OK ||
                    ops->rows_prepare(ap_method_state(m), &in, buf) != AP_OK) {
                    ap_test_fail(file, line, "%s: %s", spec, ap_last_error());
                    goto out;
                }
                int64_t kept = 0, valid = 0, diff = 0, bad = 0;
                for (int32_t i0 = 0; i0 < S; i0 += AP_ROWS_BLOCK) {
                    const int32_t nb = S - i0 < AP_ROWS_BLOCK ? S - i0 : AP_ROWS_BLOCK;
                    if (ops->predict_rows(ap_method_state(m), &in, buf, i0, nb, row_ptr, cols, &kept, &valid) !=
                        AP_OK) {
                        ap_test_fail(file, line, "%s: %s", spec, ap_last_error());
                        goto out;
                    }
                    for (int32_t b = 0; b < nb; b++) {
                        const uint8_t *want = mask + (int64_t)(i0 + b) * S;
                        int32_t prev = -1;
                        int64_t e = row_ptr[b];
                        for (int32_t j = 0; j < S; j++) {
                            const int got = e < row_ptr[b + 1] && cols[e] == j;
                            if (got) {
                                bad += j <= prev || !ap_head_pair_valid(&in, i0 + b, j);
                                prev = j;
                                e++;
                            }
                            diff += got != want[j];
                        }
                        bad += e != row_ptr[b + 1]; /* unsorted or out-of-range entries left over */
                    }
                }
                if (bad) ap_test_fail(file, line, "%s: layer %d head %d: %lld bad list entries", spec, l, h, (long long)bad);
                if (valid != out.valid)
                    ap_test_fail(file, line, "%s: layer %d head %d: %lld valid pairs, predict %lld", spec, l, h,
                                 (long long)valid, (long long)out.valid);
                total_valid += valid;
                total_diff += diff;
                total_kept += kept;
            }
    fprintf(stderr, "    %s: %lld valid pairs, %lld kept, %lld decided differently\n", spec, (long long)total_valid,
            (long long)total_kept, (long long)total_diff);
    if (!(total_kept > 0 && total_kept < total_valid))
        ap_test_fail(file, line, "%s: kept %lld of %lld: pick a spec that prunes some", spec, (long long)total_kept,
                     (long long)total_valid);
    if ((double)total_diff > max_diff_frac * (double)total_valid)
        ap_test_fail(file, line, "%s: %lld pairs decided differently from predict (allowed %.3g of %lld)", spec,
                     (long long)total_diff, max_diff_frac, (long long)total_valid);
out:
    free(mask), free(kv), free(buf), free(cols);
    ap_method_free(m);
    ap_mc_qkv_close(&r);
}

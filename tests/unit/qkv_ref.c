/* qkv_ref.c — Q/K/V fixtures and reference outputs for the methods' tests
 * (see qkv_ref.h). */
#include "qkv_ref.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attnprune.h"
#include "test.h"

static int path_of(const char *file, int line, char *buf, size_t cap, const char *name) {
    const char *dir = ap_test_fixture_dir();
    if (!dir) {
        ap_test_fail(file, line, "AP_FIXTURES is not set: run the suite with 'make test'");
        return 0;
    }
    snprintf(buf, cap, "%s/%s", dir, name);
    return 1;
}

int qkv_ref_open(const char *file, int line, const char *name, struct qkv_ref *r) {
    memset(r, 0, sizeof *r);
    const char *part[3] = {"q", "k", "v"};
    const float *data[3] = {NULL, NULL, NULL};
    for (int p = 0; p < 3; p++) {
        char fname[256], path[4096];
        snprintf(fname, sizeof fname, "qkv_%s_%s.npy", name, part[p]);
        if (!path_of(file, line, path, sizeof path, fname)) goto fail;
        if (ap_npy_open(path, &r->npy[p]) != AP_OK) {
            ap_test_fail(file, line,
                         "%s: %s — make the fixtures with 'make test' (tests/ref/qkv_fixture.py writes them into "
                         "build/fixtures)",
                         path, ap_last_error());
            goto fail;
        }
        const int64_t want[4] = {-1, -1, -1, -1};
        if (ap_npy_f32(r->npy[p], 4, want, &data[p]) != AP_OK) {
            ap_test_fail(file, line, "%s: %s", path, ap_last_error());
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
    qkv_ref_close(r);
    return 0;
}

void qkv_ref_close(struct qkv_ref *r) {
    for (int p = 0; p < 3; p++) ap_npy_close(r->npy[p]);
    memset(r, 0, sizeof *r);
}

struct ap_head_inputs qkv_ref_head(const struct qkv_ref *r, int32_t l, int32_t h) {
    const int64_t off = ((int64_t)l * r->H + h) * r->S * r->d;
    struct ap_head_inputs in = {
        .layer = l, .head = h, .n_layers = r->L, .n_heads = r->H, .n_q = r->S, .n_k = r->S, .d = r->d,
        .q = r->q + off, .k = r->k + off, .v = r->v + off, .q_stride = r->d, .k_stride = r->d, .v_stride = r->d,
        .scale = 1.0f / sqrtf((float)r->d),
    };
    return in;
}

struct ap_npy *ref_output_open(const char *file_, int line, const char *file, const char *maker, enum ap_dtype dtype,
                               int32_t ndim, const int64_t *shape) {
    char path[4096];
    if (!path_of(file_, line, path, sizeof path, file)) return NULL;
    struct ap_npy *a = NULL;
    if (ap_npy_open(path, &a) != AP_OK) {
        ap_test_fail(file_, line,
                     "%s: %s — make it with 'make test' (tests/run.sh runs tests/ref/%s --fixtures build/fixtures) "
                     "or directly: .venv/bin/python tests/ref/%s --fixtures build/fixtures",
                     path, ap_last_error(), maker, maker);
        return NULL;
    }
    int ok = a->dtype == dtype && a->ndim == ndim;
    for (int32_t i = 0; ok && i < ndim; i++) ok = shape[i] < 0 || a->shape[i] == shape[i];
    if (!ok) {
        ap_test_fail(file_, line, "%s: dtype %s with %d dimensions, expected %s with %d (rerun tests/ref/%s)", path,
                     ap_dtype_name(a->dtype), a->ndim, ap_dtype_name(dtype), ndim, maker);
        ap_npy_close(a);
        return NULL;
    }
    return a;
}

double ref_f64(const struct ap_npy *a, int64_t i) {
    double v;
    memcpy(&v, (const unsigned char *)a->data + i * (int64_t)sizeof v, sizeof v);
    return v;
}

int64_t compare_masks(const char *file, int line, const char *what, const uint8_t *got, const uint8_t *want,
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

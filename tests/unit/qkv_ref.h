/* qkv_ref.h — for the methods' bit-for-bit tests: the real and random Q/K/V
 * fixtures (tests/ref/qkv_fixture.py) as per-head inputs, a method's NumPy
 * reference outputs (tests/ref/method_*.py), and a mask comparison that
 * accepts differences only where the reference marks a tie at a threshold.
 *
 * Legend: L = layers, H = heads, S = tokens (queries = keys), d = head dim.
 * A missing fixture is a test failure that says how to make it. */
#ifndef AP_TEST_QKV_REF_H
#define AP_TEST_QKV_REF_H

#include <stdint.h>

#include "io/npy.h"
#include "methods/method.h"

struct qkv_ref {
    struct ap_npy *npy[3];
    const float *q, *k, *v; /* (L, H, S, d) each */
    int32_t L, H, S, d;
};

/* Open BUILD/fixtures/qkv_NAME_{q,k,v}.npy (NAME = "real" or "rand").
 * Returns 1, or 0 after recording a failure. */
int qkv_ref_open(const char *file, int line, const char *name, struct qkv_ref *r);
void qkv_ref_close(struct qkv_ref *r);

/* Head (l, h) as method inputs: S queries and keys, scale 1/sqrt(d) as the
 * model computes it (in float), no padding, not causal. */
struct ap_head_inputs qkv_ref_head(const struct qkv_ref *r, int32_t l, int32_t h);

/* Open the reference output BUILD/fixtures/FILE, made by the script `maker`
 * (for the message), of dtype and shape (ndim dims; a negative entry matches
 * any size). Returns NULL after recording a failure. */
struct ap_npy *ref_output_open(const char *file_, int line, const char *file, const char *maker, enum ap_dtype dtype,
                               int32_t ndim, const int64_t *shape);

/* Element i of an F64 reference array. */
double ref_f64(const struct ap_npy *a, int64_t i);

/* Compare n mask bytes with the reference; differences where tie[i] is set
 * are counted in *tie_diffs, any other difference is a failure (the first
 * few are printed with their index). Returns the number of non-tie
 * differences. */
int64_t compare_masks(const char *file, int line, const char *what, const uint8_t *got, const uint8_t *want,
                      const uint8_t *tie, int64_t n, int64_t *tie_diffs);

#define QKV_REF_OPEN(name, r) qkv_ref_open(__FILE__, __LINE__, name, r)
#define REF_OUTPUT_OPEN(file, maker, dtype, ndim, shape) \
    ref_output_open(__FILE__, __LINE__, file, maker, dtype, ndim, shape)
#define COMPARE_MASKS(what, got, want, tie, n, tie_diffs) \
    compare_masks(__FILE__, __LINE__, what, got, want, tie, n, tie_diffs)

#endif

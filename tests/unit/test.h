/* test.h — a small unit-test harness: TEST() registers a function, CHECK*()
 * records a failure with file:line and the values involved and carries on,
 * REQUIRE() stops the test. The runner prints "N passed, N failed". */
#ifndef AP_TEST_H
#define AP_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

typedef void (*ap_test_fn)(void);
void ap_test_register(const char *name, ap_test_fn fn, const char *file);
void ap_test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int ap_test_failed(void); /* has the running test failed so far? */

/* Paths the runner is given by tests/run.sh (environment), or NULL. */
const char *ap_test_fixture_dir(void); /* AP_FIXTURES: reference fixtures from tests/ref */
const char *ap_test_model_dir(void);   /* AP_MODEL_DIR: the prepared default model     */
const char *ap_test_source_dir(void);  /* AP_SOURCE_DIR: the repository root           */
const char *ap_test_decoder(void);     /* AP_DECODER: the decoder model's .gguf file   */

#define TEST(name)                                                                     \
    static void name(void);                                                            \
    __attribute__((constructor)) static void ap_test_reg_##name(void) {                \
        ap_test_register(#name, name, __FILE__);                                       \
    }                                                                                  \
    static void name(void)

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) ap_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);             \
    } while (0)

#define REQUIRE(cond)                                                                  \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            ap_test_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);                    \
            return;                                                                    \
        }                                                                              \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                             \
    do {                                                                               \
        long long ap_a_ = (long long)(a), ap_b_ = (long long)(b);                      \
        if (ap_a_ != ap_b_)                                                            \
            ap_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, ap_a_, ap_b_); \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                          \
    do {                                                                               \
        double ap_a_ = (double)(a), ap_b_ = (double)(b);                               \
        if (!(fabs(ap_a_ - ap_b_) <= (tol)))                                           \
            ap_test_fail(__FILE__, __LINE__, "%s ~ %s: %.9g vs %.9g (tol %g)", #a, #b, ap_a_, ap_b_, (double)(tol)); \
    } while (0)

#define CHECK_STATUS(expr, want)                                                       \
    do {                                                                               \
        int ap_s_ = (int)(expr);                                                       \
        if (ap_s_ != (int)(want))                                                      \
            ap_test_fail(__FILE__, __LINE__, "%s returned %d, expected %s (last error: %s)", #expr, ap_s_, #want, \
                         ap_last_error());                                             \
    } while (0)

/* Compare two float arrays; on failure report the max difference and the first
 * few differing elements. Returns the max absolute difference. */
double ap_test_compare_f32(const char *file, int line, const char *what, const float *got, const float *want,
                           size_t n, double abs_tol);
#define CHECK_ARRAY_NEAR(what, got, want, n, tol) ap_test_compare_f32(__FILE__, __LINE__, what, got, want, n, tol)

#endif

/* test_main.c — runs every registered test (or those whose name contains the
 * first argument) and ends with the line "N passed, N failed". */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "attnprune.h"
#include "test.h"

#define AP_MAX_TESTS 1024

static struct {
    const char *name;
    const char *file;
    ap_test_fn fn;
} g_tests[AP_MAX_TESTS];
static int g_count = 0;
static int g_current_failed = 0;

void ap_test_register(const char *name, ap_test_fn fn, const char *file) {
    if (g_count >= AP_MAX_TESTS) {
        fprintf(stderr, "test.h: more than %d tests; raise AP_MAX_TESTS\n", AP_MAX_TESTS);
        abort();
    }
    g_tests[g_count].name = name;
    g_tests[g_count].file = file;
    g_tests[g_count].fn = fn;
    g_count++;
}

void ap_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "    %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    g_current_failed = 1;
}

int ap_test_failed(void) { return g_current_failed; }

const char *ap_test_fixture_dir(void) { return getenv("AP_FIXTURES"); }
const char *ap_test_model_dir(void) { return getenv("AP_MODEL_DIR"); }
const char *ap_test_decoder(void) { return getenv("AP_DECODER"); }
const char *ap_test_source_dir(void) {
    const char *s = getenv("AP_SOURCE_DIR");
    return s ? s : ".";
}

double ap_test_compare_f32(const char *file, int line, const char *what, const float *got, const float *want,
                           size_t n, double abs_tol) {
    double max_diff = 0.0;
    size_t max_at = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= abs_tol)) {
            if (bad < 5)
                fprintf(stderr, "    %s[%zu]: got %.9g, want %.9g (diff %.3g)\n", what, i, (double)got[i],
                        (double)want[i], d);
            bad++;
        }
        if (d > max_diff || isnan(d)) {
            max_diff = isnan(d) ? INFINITY : d;
            max_at = i;
        }
    }
    if (bad)
        ap_test_fail(file, line, "%s: %zu of %zu elements differ by more than %g; max diff %.3g at %zu", what,
                     bad, n, abs_tol, max_diff, max_at);
    return max_diff;
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;
    for (int i = 0; i < g_count; i++) {
        if (filter && !strstr(g_tests[i].name, filter)) continue;
        g_current_failed = 0;
        g_tests[i].fn();
        if (g_current_failed) {
            failed++;
            fprintf(stderr, "FAIL %s (%s)\n", g_tests[i].name, g_tests[i].file);
        } else {
            passed++;
            fprintf(stderr, "ok   %s\n", g_tests[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* fuzz_trace.c — any bytes given to the trace reader either fail with a
 * status or yield a trace whose every array can be read within its stated
 * shape. The input is trace.json, heads.csv and layers.csv separated by NUL
 * bytes. Seeds: tests/corpus/trace (written by hand from the format). */
#include <string.h>

#include "fuzz.h"
#include "trace/trace_read.h"

static volatile double g_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data, *end = p + size;
    const char *part[3] = {p, p, p};
    size_t len[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        const char *nul = part[i] < end ? memchr(part[i], '\0', (size_t)(end - part[i])) : NULL;
        len[i] = (size_t)((nul ? nul : end) - part[i]);
        if (i < 2) part[i + 1] = nul ? nul + 1 : end;
    }
    struct ap_trace t;
    if (ap_trace_parse(part[0], len[0], part[1], len[1], part[2], len[2], "fuzz", &t) != AP_OK) return 0;
    double s = 0.0;
    const int64_t nh = (int64_t)t.N * t.L * t.H, nl = (int64_t)t.N * t.L;
    for (int64_t r = 0; r < nh; r++) {
        if (t.heads[r].kept > t.heads[r].valid || t.heads[r].queries > t.T) __builtin_trap();
        s += (double)t.heads[r].kept;
        for (int32_t i = 0; i < t.P; i++) s += t.head_stats[r * t.P + i];
    }
    for (int64_t r = 0; r < nl; r++) {
        s += t.tokens_active[r] + t.heads_active[r];
        for (int32_t i = 0; i < t.Q; i++) s += t.layer_stats[r * t.Q + i];
    }
    for (int32_t i = 0; i < t.n_params; i++) s += (double)strlen(t.param_values[i]);
    g_sink += s;
    ap_trace_free(&t);
    return 0;
}

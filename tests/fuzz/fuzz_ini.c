/* fuzz_ini.c — any bytes given to the INI reader either fail with a status
 * or yield entries whose names and values are NUL-terminated within their
 * bounds, and the checked getters never read past them. Seeds:
 * tests/corpus/ini (written by hand, and the shipped configs' syntax). */
#include <string.h>

#include "fuzz.h"
#include "io/ini_file.h"

static volatile double g_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct ap_ini ini;
    if (ap_ini_parse((const char *)data, size, "fuzz", &ini) == AP_OK) {
        double s = 0;
        for (int32_t i = 0; i < ini.n; i++) {
            const struct ap_ini_entry *e = &ini.entries[i];
            if (!memchr(e->section, '\0', sizeof e->section) || !memchr(e->key, '\0', sizeof e->key) ||
                !memchr(e->value, '\0', sizeof e->value))
                __builtin_trap();
            double v;
            int64_t k;
            if (ap_ini_double(&ini, e->section, e->key, 0, -1e300, 1e300, &v) == AP_OK) s += v;
            if (ap_ini_int(&ini, e->section, e->key, 0, INT64_MIN, INT64_MAX, &k) == AP_OK) s += (double)k;
        }
        s += ap_ini_check_used(&ini);
        g_sink += s;
    }
    ap_ini_free(&ini);
    return 0;
}

/* error.c — status strings and the per-thread error message. */
#include "core/error.h"

#include <stdarg.h>
#include <string.h>

#define AP_ERROR_CAP 1024

static _Thread_local char g_message[AP_ERROR_CAP];

const char *ap_status_string(enum ap_status status) {
    switch (status) {
    case AP_OK: return "ok";
    case AP_ERR_INVALID_ARG: return "invalid argument";
    case AP_ERR_IO: return "I/O error";
    case AP_ERR_FORMAT: return "format error";
    case AP_ERR_SHAPE: return "shape error";
    case AP_ERR_UNSUPPORTED: return "unsupported";
    case AP_ERR_NOMEM: return "out of memory";
    case AP_ERR_ENCODING: return "encoding error";
    case AP_ERR_EMPTY: return "empty input";
    case AP_ERR_RANGE: return "out of range";
    }
    return "unknown status";
}

const char *ap_last_error(void) { return g_message; }

void ap_error_clear(void) { g_message[0] = '\0'; }

enum ap_status ap_error(enum ap_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_message, sizeof g_message, fmt, ap);
    va_end(ap);
    return status;
}

enum ap_status ap_error_prefix(enum ap_status status, const char *fmt, ...) {
    char prefix[AP_ERROR_CAP];
    char old[AP_ERROR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_message, sizeof old);
    /* prefix + ": " + old, cut at the buffer's end (truncation is acceptable here) */
    const char *parts[3] = {prefix, ": ", old};
    size_t used = 0;
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(parts[i]);
        if (len > sizeof g_message - 1 - used) len = sizeof g_message - 1 - used;
        memcpy(g_message + used, parts[i], len);
        used += len;
    }
    g_message[used] = '\0';
    return status;
}

void ap_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "attnprune: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
    abort();
}

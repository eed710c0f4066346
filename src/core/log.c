/* log.c — the library prints nothing itself; notes go to the caller's callback. */
#include "core/log.h"

#include <stdarg.h>

static ap_log_fn g_fn = NULL;
static void *g_user = NULL;
static enum ap_log_level g_max = AP_LOG_INFO;

void ap_log_set_callback(ap_log_fn fn, void *user, enum ap_log_level max_level) {
    g_fn = fn;
    g_user = user;
    g_max = max_level;
}

void ap_log(enum ap_log_level level, const char *fmt, ...) {
    if (!g_fn || level > g_max) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_fn(level, buf, g_user);
}

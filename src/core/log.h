/* log.h — optional progress and diagnostic notes, routed to a caller's callback. */
#ifndef AP_CORE_LOG_H
#define AP_CORE_LOG_H

#include "core/error.h"

void ap_log(enum ap_log_level level, const char *fmt, ...) AP_PRINTF(2, 3);

#define AP_LOG_I(...) ap_log(AP_LOG_INFO, __VA_ARGS__)
#define AP_LOG_W(...) ap_log(AP_LOG_WARN, __VA_ARGS__)
#define AP_LOG_D(...) ap_log(AP_LOG_DEBUG, __VA_ARGS__)

#endif

/* error.h — the library's error channel: a status plus a per-thread message. */
#ifndef AP_CORE_ERROR_H
#define AP_CORE_ERROR_H

#include <stdio.h>
#include <stdlib.h>

#include "attnprune.h"

#if defined(__GNUC__) || defined(__clang__)
#define AP_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#define AP_NORETURN __attribute__((noreturn))
#else
#define AP_PRINTF(fmt_idx, arg_idx)
#define AP_NORETURN
#endif

/* Record a failure for ap_last_error() and return its status, so callers write
 *     return ap_error(AP_ERR_FORMAT, "%s: header length %llu exceeds file size", path, n);
 */
enum ap_status ap_error(enum ap_status status, const char *fmt, ...) AP_PRINTF(2, 3);

/* Put "context: " in front of the current message (for a caller that knows
 * which file or tensor the callee was working on); returns status. */
enum ap_status ap_error_prefix(enum ap_status status, const char *fmt, ...) AP_PRINTF(2, 3);

void ap_error_clear(void);

/* Programmer bugs only: abort with file:line. Never for bad input. */
AP_NORETURN void ap_assert_fail(const char *expr, const char *file, int line);
#define AP_ASSERT(x) ((x) ? (void)0 : ap_assert_fail(#x, __FILE__, __LINE__))

#endif

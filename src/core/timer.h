/* timer.h — monotonic wall-clock time. */
#ifndef AP_CORE_TIMER_H
#define AP_CORE_TIMER_H

#include <time.h>

static inline double ap_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif

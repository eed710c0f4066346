/* shifted_relu.c — HAMMER's shifted ReLU (see shifted_relu.h). */
#include "kernels/shifted_relu.h"

int64_t ap_shifted_relu(const struct ap_shifted_relu *r, int64_t x) {
    if (x <= 0) return 0;
    switch (r->shape) {
    case AP_RELU_PLAIN: return x;
    case AP_RELU_SHIFT: {
        int s = (x > r->b[0]) + (x > r->b[1]) + (x > r->b[2]);
        return x << s;
    }
    case AP_RELU_CONT:
    default: {
        /* slope 2^k on segment k: (0, b0], (b0, b1], (b1, b2], (b2, inf) */
        int64_t lo = 0, y = 0;
        for (int k = 0; k < 3; k++) {
            if (x <= r->b[k]) return y + ((x - lo) << k);
            y += (r->b[k] - lo) << k;
            lo = r->b[k];
        }
        return y + ((x - lo) << 3);
    }
    }
}

/* lowbit_dot.c — int8 code dot products (see lowbit_dot.h). The plain loop
 * is the reference; compilers vectorize it. */
#include "kernels/lowbit_dot.h"

#include <cblas.h>

int32_t ap_dot_i8(const int8_t *a, const int8_t *b, int32_t n) {
    int32_t s = 0;
    for (int32_t c = 0; c < n; c++) s += (int32_t)a[c] * (int32_t)b[c];
    return s;
}

void ap_codes_gemm_f32(const float *a, int32_t n_a, const float *b, int32_t n_b, int32_t d, float *out, int64_t ldo) {
    if (n_a <= 0 || n_b <= 0) return;
    if (n_a == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n_b, d, 1.0f, b, d, a, 1, 0.0f, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_a, n_b, d, 1.0f, a, d, b, d, 0.0f, out, (int)ldo);
}

int ap_codes_exact_f32(int32_t d, int64_t amax, int64_t bmax) {
    if (d < 0 || amax < 0 || bmax < 0) return 0;
    if (amax > ((int64_t)1 << 24) || bmax > ((int64_t)1 << 24)) return 0;
    return (double)d * (double)amax * (double)bmax <= (double)((int64_t)1 << 24);
}

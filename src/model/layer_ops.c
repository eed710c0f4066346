/* layer_ops.c — dense transformer pieces. GEMMs go to OpenBLAS; the rest is
 * plain C with double accumulation where a sum spans a whole row. */
#include "model/layer_ops.h"

#include <cblas.h>
#include <math.h>

void ap_linear(const float *x, int32_t S, int32_t K, const float *W, const float *b, int32_t N, float *y) {
    if (S == 1) /* a decode step: a matrix-vector product, memory bound */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, W, K, x, 1, 0.0f, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, S, N, K, 1.0f, x, K, W, K, 0.0f, y, N);
    if (!b) return;
    for (int32_t i = 0; i < S; i++) {
        float *row = y + (int64_t)i * N;
        for (int32_t j = 0; j < N; j++) row[j] += b[j];
    }
}

void ap_layer_norm(float *x, int32_t S, int32_t D, const float *g, const float *b, float eps) {
    for (int32_t i = 0; i < S; i++) {
        float *row = x + (int64_t)i * D;
        double mean = 0.0, var = 0.0;
        for (int32_t j = 0; j < D; j++) mean += row[j];
        mean /= D;
        for (int32_t j = 0; j < D; j++) {
            double c = row[j] - mean;
            var += c * c;
        }
        var /= D;
        double inv = 1.0 / sqrt(var + (double)eps);
        for (int32_t j = 0; j < D; j++) row[j] = (float)((row[j] - mean) * inv) * g[j] + b[j];
    }
}

void ap_gelu_erf(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void ap_gelu_tanh(float *x, int64_t n) {
    const float c = 0.79788456080286536f; /* sqrt(2/pi) */
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * v * v * v)));
    }
}

void ap_relu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void ap_add_inplace(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void ap_pool_mean(const float *x, int32_t S, int32_t D, const uint8_t *rows, float *out) {
    int32_t n = 0;
    for (int32_t i = 0; i < S; i++) n += !rows || rows[i];
    for (int32_t j = 0; j < D; j++) {
        double s = 0.0;
        for (int32_t i = 0; i < S; i++)
            if (!rows || rows[i]) s += x[(int64_t)i * D + j];
        out[j] = n ? (float)(s / n) : 0.0f;
    }
}

void ap_pool_max(const float *x, int32_t S, int32_t D, const uint8_t *rows, float *out) {
    for (int32_t j = 0; j < D; j++) {
        float m = -INFINITY;
        for (int32_t i = 0; i < S; i++)
            if (!rows || rows[i]) m = fmaxf(m, x[(int64_t)i * D + j]);
        out[j] = m;
    }
}

void ap_l2_normalize(float *x, int32_t D) {
    double ss = 0.0;
    for (int32_t j = 0; j < D; j++) ss += (double)x[j] * x[j];
    double n = sqrt(ss);
    if (n < 1e-12) n = 1e-12;
    for (int32_t j = 0; j < D; j++) x[j] = (float)(x[j] / n);
}

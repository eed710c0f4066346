/* layer_ops.h — the dense pieces of a transformer layer: linear (BLAS),
 * layer norm, GELU, residual add, pooling.
 *
 * Legend: S = tokens, D = model width, I = MLP width, N = output features. */
#ifndef AP_MODEL_LAYER_OPS_H
#define AP_MODEL_LAYER_OPS_H

#include <stdint.h>

/* y (S, N) = x (S, K) · W^T + b, W (N, K) as stored by PyTorch's nn.Linear. */
void ap_linear(const float *x, int32_t S, int32_t K, const float *W, const float *b, int32_t N, float *y);

/* In place over each row of x (S, D): (x - mean) / sqrt(var + eps) * g + b. */
void ap_layer_norm(float *x, int32_t S, int32_t D, const float *g, const float *b, float eps);

/* In place, the exact (erf) GELU of BERT's "gelu". */
void ap_gelu_erf(float *x, int64_t n);
/* In place, the tanh approximation ("gelu_new", "gelu_pytorch_tanh"). */
void ap_gelu_tanh(float *x, int64_t n);
void ap_relu(float *x, int64_t n);

/* y += x, n elements. */
void ap_add_inplace(float *y, const float *x, int64_t n);

/* out (D) = mean over the rows of x (S, D) that rows (S) marks, or over all
 * rows if rows is NULL (sentence-transformers pools over the attention mask). */
void ap_pool_mean(const float *x, int32_t S, int32_t D, const uint8_t *rows, float *out);
/* out (D) = max over the marked rows of x (S, D), as ap_pool_mean. */
void ap_pool_max(const float *x, int32_t S, int32_t D, const uint8_t *rows, float *out);
/* x (D) /= max(||x||_2, 1e-12), as torch.nn.functional.normalize. */
void ap_l2_normalize(float *x, int32_t D);

#endif

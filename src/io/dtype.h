/* dtype.h — element types shared by the tensor file readers (safetensors, .npy).
 *
 * Names follow safetensors ("F32", "BF16", ...). Every type is stored
 * little-endian in the files attnprune reads; the host is assumed to be
 * little-endian too (x86-64, aarch64). */
#ifndef AP_IO_DTYPE_H
#define AP_IO_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#define AP_MAX_DIMS 8 /* the most dimensions a tensor file may give a tensor */

enum ap_dtype {
    AP_DTYPE_F32,
    AP_DTYPE_F16,
    AP_DTYPE_BF16,
    AP_DTYPE_F64,
    AP_DTYPE_I64,
    AP_DTYPE_I32,
    AP_DTYPE_I16,
    AP_DTYPE_I8,
    AP_DTYPE_U8,
    AP_DTYPE_BOOL,
};
#define AP_DTYPE_COUNT 10

/* Bytes per element (BOOL is one byte); 0 for a value outside the enum. */
size_t ap_dtype_size(enum ap_dtype dtype);

/* The safetensors spelling, e.g. "F32"; "?" for a value outside the enum. */
const char *ap_dtype_name(enum ap_dtype dtype);

/* IEEE 754 binary16 and bfloat16 bit patterns to float, exactly (every
 * half and bfloat16 value, subnormals, infinities and NaNs included, is
 * representable as a float). */
float ap_f16_to_f32(uint16_t bits);
float ap_bf16_to_f32(uint16_t bits);

/* Convert n elements at src (F32, F16, BF16 or F64, little-endian, any
 * alignment) to float in dst. Returns 1, or 0 (dst untouched) for any other
 * dtype. F64 is rounded to nearest. */
int ap_dtype_to_f32(enum ap_dtype dtype, const void *src, size_t n, float *dst);

/* ------------------------------------------------------------ shapes */

/* Write "[384, 384]" into buf (cap bytes, always NUL-terminated, cut short
 * with "..." if too small); "[]" for ndim 0. A negative entry prints "*". */
void ap_shape_format(char *buf, size_t cap, const int64_t *shape, int32_t ndim);

/* 1 if shape has ndim == expected_ndim and agrees with expected in every
 * entry; a negative entry of expected matches any size. */
int ap_shape_matches(const int64_t *shape, int32_t ndim, const int64_t *expected, int32_t expected_ndim);

/* The element count of a shape in *numel; 0 if it overflows size_t or a
 * dimension is negative (a zero dimension gives *numel = 0, never an
 * overflow). Returns 1 on success. */
int ap_shape_numel(const int64_t *shape, int32_t ndim, size_t *numel);

#endif

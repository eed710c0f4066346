/* safetensors.h — a bounds-checked reader of Hugging Face safetensors files.
 *
 * Layout: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON (an
 * object: tensor name -> {"dtype", "shape", "data_offsets": [begin, end]},
 * plus an optional "__metadata__" object of string -> string), then the data
 * section; offsets count from the data section's first byte.
 *
 * The whole header is checked when the file is opened (see docs/formats.md
 * for what is accepted), so every view handed out afterwards lies inside the
 * file. Tensor data is never copied, except where a float32 accessor has to
 * convert (F16, BF16) or realign (an F32 tensor at an odd address).
 *
 *     struct ap_safetensors *st;
 *     if (ap_safetensors_open("model.safetensors", &st) != AP_OK) return ...;
 *     const int64_t want[2] = {384, 384};
 *     const float *wq;  // (D, D)
 *     enum ap_status s = ap_safetensors_tensor_f32(st, "encoder.layer.0.attention.self.query.weight",
 *                                                  2, want, &wq);
 *     ...
 *     ap_safetensors_close(st);  // wq is gone with it
 *
 * A struct ap_safetensors may be read from several threads at once, except
 * for ap_safetensors_tensor_f32, which may fill its conversion cache. */
#ifndef AP_IO_SAFETENSORS_H
#define AP_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "attnprune.h"
#include "io/dtype.h"

#define AP_SAFETENSORS_MAX_HEADER 100000000u /* bytes; the reference implementation's limit */

struct ap_safetensors;

/* One tensor as it lies in the file. All pointers are valid until close. */
struct ap_tensor_view {
    const char *name;
    enum ap_dtype dtype;
    int32_t ndim;                /* 0 (a scalar) .. AP_MAX_DIMS */
    int64_t shape[AP_MAX_DIMS];  /* entries past ndim are 0 */
    const void *data;            /* nbytes, little-endian, C order; any alignment */
    size_t nbytes;               /* product(shape) * ap_dtype_size(dtype) */
};

/* Map path and check its header. Errors: AP_ERR_IO (cannot open or map),
 * AP_ERR_FORMAT (malformed; the message names the file, the tensor and the
 * problem), AP_ERR_UNSUPPORTED (a valid dtype attnprune has no use for, such
 * as U16 or F8_E4M3, or more than AP_MAX_DIMS dimensions), AP_ERR_NOMEM. */
enum ap_status ap_safetensors_open(const char *path, struct ap_safetensors **out);

/* The same over len bytes at buf, which the caller keeps alive (and
 * unchanged) until close. label (NULL: "<memory>") stands for the file name
 * in messages. This is the fuzzing entry point. */
enum ap_status ap_safetensors_open_memory(const void *buf, size_t len, const char *label,
                                          struct ap_safetensors **out);

/* Unmap and free, including converted float32 copies; NULL is fine. */
void ap_safetensors_close(struct ap_safetensors *st);

/* The path or label given at open. */
const char *ap_safetensors_label(const struct ap_safetensors *st);

/* Tensors, in the order of the header ("__metadata__" is not one). */
size_t ap_safetensors_count(const struct ap_safetensors *st);

/* The index-th tensor; AP_ERR_RANGE if index >= count. */
enum ap_status ap_safetensors_get(const struct ap_safetensors *st, size_t index, struct ap_tensor_view *view);

/* The tensor called name (O(log n)); AP_ERR_FORMAT "PATH: no tensor 'NAME'"
 * when there is none. */
enum ap_status ap_safetensors_find(const struct ap_safetensors *st, const char *name,
                                   struct ap_tensor_view *view);

/* 1 if a tensor called name exists, else 0; sets no error (for optional tensors). */
int ap_safetensors_contains(const struct ap_safetensors *st, const char *name);

/* The "__metadata__" value of key, or NULL if there is none. */
const char *ap_safetensors_metadata(const struct ap_safetensors *st, const char *key);

/* The tensor called name as float32, after checking it has ndim dimensions
 * of expected_shape (a negative entry matches any size). *out points into
 * the file when the tensor is F32 at a 4-byte-aligned address; otherwise an
 * F32 (unaligned), F16 or BF16 tensor is converted once into memory owned by
 * st (the same pointer on later calls), freed at close.
 * Errors: AP_ERR_FORMAT (no such tensor); AP_ERR_SHAPE "PATH: tensor 'NAME'
 * has shape [384, 383], expected [384, 384]", or a dtype other than F32, F16
 * or BF16; AP_ERR_INVALID_ARG (ndim outside 0..AP_MAX_DIMS); AP_ERR_NOMEM. */
enum ap_status ap_safetensors_tensor_f32(struct ap_safetensors *st, const char *name, int32_t ndim,
                                         const int64_t *expected_shape, const float **out);

#endif

/* npy.h — NumPy .npy files: a bounds-checked reader and an atomic writer.
 *
 * Layout: "\x93NUMPY", major and minor version bytes, a little-endian header
 * length (u16 in version 1.0, u32 in 2.0 and 3.0), then that many bytes of
 * a Python dict literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a '\n', then the array's bytes in C order.
 *
 * The reader parses the dict itself (no evaluation) and accepts only what
 * attnprune can use as-is: little-endian numbers of the dtypes in
 * io/dtype.h, C order, at most AP_MAX_DIMS dimensions, and exactly as many
 * data bytes as the shape needs (docs/formats.md).
 *
 *     struct ap_npy *q;
 *     if (ap_npy_open("q.npy", &q) != AP_OK) return ...;
 *     const int64_t want[3] = {12, -1, 64};  // (H, S, d), any S
 *     const float *qf;
 *     if (ap_npy_f32(q, 3, want, &qf) == AP_OK) ... q->shape[1] ...
 *     ap_npy_close(q);
 */
#ifndef AP_IO_NPY_H
#define AP_IO_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "attnprune.h"
#include "io/dtype.h"
#include "io/file_map.h"

/* An open .npy array. The fields above the line are for reading; the
 * others belong to the reader. */
struct ap_npy {
    enum ap_dtype dtype;
    int32_t ndim;               /* 0 (a scalar) .. AP_MAX_DIMS */
    int64_t shape[AP_MAX_DIMS]; /* entries past ndim are 0 */
    const void *data;           /* nbytes, little-endian, C order; any alignment */
    size_t nbytes;              /* product(shape) * ap_dtype_size(dtype) */
    int32_t version;            /* the file format's major version: 1, 2 or 3 */
    const char *label;          /* the path, or the label given to ap_npy_parse_memory */
    /* ---- private */
    struct ap_file_map map_;
    float *f32_; /* converted copy made by ap_npy_f32, or NULL */
};

/* Map path and parse it. Errors: AP_ERR_IO (cannot open or map),
 * AP_ERR_FORMAT (malformed; the message names the file and the problem),
 * AP_ERR_UNSUPPORTED (valid NumPy that attnprune does not read: big-endian,
 * Fortran order, another dtype, more than AP_MAX_DIMS dimensions, an
 * unknown format version), AP_ERR_NOMEM. */
enum ap_status ap_npy_open(const char *path, struct ap_npy **out);

/* The same over len bytes at buf, which the caller keeps alive until close;
 * label (NULL: "<memory>") stands for the file name in messages. This is the
 * fuzzing entry point. */
enum ap_status ap_npy_parse_memory(const void *buf, size_t len, const char *label, struct ap_npy **out);

/* Unmap and free; NULL is fine. */
void ap_npy_close(struct ap_npy *npy);

/* The array as float32, after checking it has ndim dimensions of
 * expected_shape (a negative entry matches any size). *out points into the
 * file for an F32 array at a 4-byte-aligned address; F32 elsewhere, F16 and
 * F64 (rounded) are converted once into memory owned by npy. Errors:
 * AP_ERR_SHAPE "PATH: array has shape [2, 3], expected [3, 2]" or another
 * dtype; AP_ERR_INVALID_ARG; AP_ERR_NOMEM. */
enum ap_status ap_npy_f32(struct ap_npy *npy, int32_t ndim, const int64_t *expected_shape, const float **out);

/* Write a C-order .npy (format 1.0, header padded so the data starts at a
 * multiple of 64 bytes, as NumPy writes) atomically: into "path.tmp.PID",
 * flushed, then renamed over path. Every dtype of io/dtype.h but BF16 (which
 * NumPy lacks: AP_ERR_UNSUPPORTED). Bad arguments (ndim outside
 * 0..AP_MAX_DIMS, a negative dimension, NULL data for a non-empty array)
 * are AP_ERR_INVALID_ARG. Any failure to write leaves path as it was, removes
 * the temporary file and returns AP_ERR_IO naming path and the reason.
 * ap_npy_write_f32 (attnprune.h) is this with AP_DTYPE_F32. */
enum ap_status ap_npy_write(const char *path, enum ap_dtype dtype, const void *data, const int64_t *shape,
                            int32_t ndim);

#endif

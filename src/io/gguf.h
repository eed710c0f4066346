/* gguf.h — a bounds-checked reader of GGUF files (llama.cpp's model format),
 * versions 2 and 3, little-endian.
 *
 * Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count;
 * metadata key/value pairs (key: u64 length + bytes; u32 value type; value);
 * tensor infos (name, u32 n_dims, n_dims u64 sizes ne[0] fastest first,
 * u32 ggml type, u64 offset into the data section); padding to the alignment
 * (metadata "general.alignment", default 32); the data section.
 *
 * Everything is checked when the file is opened (docs/formats.md lists what
 * is accepted), so every view handed out afterwards lies inside the file.
 * Tensor data is never copied; ap_gguf_dequantize converts to float32 into
 * the caller's buffer.
 *
 *     struct ap_gguf *g;
 *     if (ap_gguf_open("model.gguf", &g) != AP_OK) return ...;   // ap_last_error() says why
 *     uint32_t n_layer;
 *     ap_gguf_get_u32(g, "llama.block_count", &n_layer);
 *     struct ap_gguf_tensor t;
 *     ap_gguf_find_tensor(g, "blk.0.attn_q.weight", &t);          // t.ne = {576, 576}
 *     float *w = malloc(t.n_elements * sizeof *w);
 *     ap_gguf_dequantize(&t, w);                                  // row-major: ne[1] rows of ne[0]
 *     ap_gguf_close(g);
 *
 * A struct ap_gguf is read-only after open: any function may be called from
 * several threads at once. */
#ifndef AP_IO_GGUF_H
#define AP_IO_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "attnprune.h"

#define AP_GGUF_MAX_DIMS 4
#define AP_GGUF_DEFAULT_ALIGNMENT 32

/* Metadata value types, numbered as in the file. */
enum ap_gguf_type {
    AP_GGUF_UINT8 = 0,
    AP_GGUF_INT8 = 1,
    AP_GGUF_UINT16 = 2,
    AP_GGUF_INT16 = 3,
    AP_GGUF_UINT32 = 4,
    AP_GGUF_INT32 = 5,
    AP_GGUF_FLOAT32 = 6,
    AP_GGUF_BOOL = 7,
    AP_GGUF_STRING = 8,
    AP_GGUF_ARRAY = 9,
    AP_GGUF_UINT64 = 10,
    AP_GGUF_INT64 = 11,
    AP_GGUF_FLOAT64 = 12,
};

/* Tensor element types, numbered as ggml numbers them. Only those listed
 * are accepted; other ggml types are AP_ERR_UNSUPPORTED at open. */
enum ap_ggml_type {
    AP_GGML_F32 = 0,
    AP_GGML_F16 = 1,
    AP_GGML_Q4_0 = 2,
    AP_GGML_Q4_1 = 3,
    AP_GGML_Q5_0 = 6,
    AP_GGML_Q5_1 = 7,
    AP_GGML_Q8_0 = 8,
    AP_GGML_Q4_K = 12,
    AP_GGML_Q5_K = 13,
    AP_GGML_Q6_K = 14,
    AP_GGML_BF16 = 30,
};

/* Elements per block and bytes per block of a type (1 and 4 for F32); 0 for
 * a type this reader does not know. */
int32_t ap_ggml_block_elems(enum ap_ggml_type type);
int32_t ap_ggml_block_bytes(enum ap_ggml_type type);
/* "Q4_K", "F32", ...; "?" for an unknown type. */
const char *ap_ggml_type_name(enum ap_ggml_type type);

/* A string as stored: not NUL-terminated, any bytes. */
struct ap_gguf_str {
    const char *data;
    uint64_t len;
};

/* One metadata value. For an array, elem_type, n and data describe it;
 * string arrays are read element by element with ap_gguf_array_str. */
struct ap_gguf_kv {
    struct ap_gguf_str key;
    enum ap_gguf_type type;
    /* scalars (the one matching type is set; integers are also widened into i64/u64) */
    uint64_t u64;
    int64_t i64;
    double f64;
    struct ap_gguf_str str;
    /* arrays */
    enum ap_gguf_type elem_type;
    uint64_t n;
    const void *data; /* the first element in the file; unaligned */
};

struct ap_gguf_tensor {
    const char *name;                /* NUL-terminated copy owned by the reader */
    int32_t n_dims;                  /* 1 .. AP_GGUF_MAX_DIMS */
    int64_t ne[AP_GGUF_MAX_DIMS];    /* sizes, ne[0] fastest; entries past n_dims are 1 */
    int64_t n_elements;
    enum ap_ggml_type type;
    const void *data;                /* nbytes bytes in the mapped file */
    size_t nbytes;
};

struct ap_gguf;

/* Map path and check it all. Errors: AP_ERR_IO (cannot open or map),
 * AP_ERR_FORMAT (malformed; the message names the file, the key or tensor
 * and the problem), AP_ERR_UNSUPPORTED (a version other than 2 or 3, a
 * tensor type outside enum ap_ggml_type, or a big-endian file),
 * AP_ERR_NOMEM. */
enum ap_status ap_gguf_open(const char *path, struct ap_gguf **out);

/* The same over len bytes at buf, which the caller keeps alive until close.
 * label (NULL: "<memory>") stands for the file name in messages. The
 * fuzzing entry point. */
enum ap_status ap_gguf_open_memory(const void *buf, size_t len, const char *label, struct ap_gguf **out);

void ap_gguf_close(struct ap_gguf *g); /* NULL is fine */

const char *ap_gguf_label(const struct ap_gguf *g);
uint32_t ap_gguf_version(const struct ap_gguf *g);
uint32_t ap_gguf_alignment(const struct ap_gguf *g);

/* Metadata in file order (NULL for an index past the end); by key in
 * O(log n) (NULL when absent, no error set). */
size_t ap_gguf_kv_count(const struct ap_gguf *g);
const struct ap_gguf_kv *ap_gguf_kv_at(const struct ap_gguf *g, size_t index);
const struct ap_gguf_kv *ap_gguf_find_kv(const struct ap_gguf *g, const char *key);

/* Typed getters. AP_ERR_FORMAT "FILE: no metadata key 'KEY'" when absent,
 * or "FILE: metadata 'KEY' is a string, expected an unsigned integer" when
 * the type does not fit. Integer getters accept any integer type whose value
 * fits the result; ap_gguf_get_f32 accepts FLOAT32 and FLOAT64. */
enum ap_status ap_gguf_get_u32(const struct ap_gguf *g, const char *key, uint32_t *out);
enum ap_status ap_gguf_get_i64(const struct ap_gguf *g, const char *key, int64_t *out);
enum ap_status ap_gguf_get_f32(const struct ap_gguf *g, const char *key, float *out);
enum ap_status ap_gguf_get_bool(const struct ap_gguf *g, const char *key, int *out);
enum ap_status ap_gguf_get_str(const struct ap_gguf *g, const char *key, struct ap_gguf_str *out);
/* An array of elem_type (AP_ERR_FORMAT when absent, not an array, or of
 * another element type); *kv points at it. */
enum ap_status ap_gguf_get_array(const struct ap_gguf *g, const char *key, enum ap_gguf_type elem_type,
                                 const struct ap_gguf_kv **kv);

/* Elements of arrays (index < kv->n is the caller's to check; checked at
 * open that every element lies inside the file). Strings of a string array
 * are reached in O(1): open builds an offset table. */
struct ap_gguf_str ap_gguf_array_str(const struct ap_gguf *g, const struct ap_gguf_kv *kv, uint64_t index);
/* Integer (and BOOL: 0 or 1) element types; a UINT64 above INT64_MAX comes
 * back as its two's-complement bits. */
int64_t ap_gguf_array_int(const struct ap_gguf_kv *kv, uint64_t index);
double ap_gguf_array_float(const struct ap_gguf_kv *kv, uint64_t index);  /* FLOAT32 / FLOAT64 */

/* Tensors in file order (NULL for an index past the end); by name in
 * O(log n). ap_gguf_find_tensor sets
 * AP_ERR_FORMAT "FILE: no tensor 'NAME'" when absent; ap_gguf_has_tensor
 * sets no error. */
size_t ap_gguf_tensor_count(const struct ap_gguf *g);
const struct ap_gguf_tensor *ap_gguf_tensor_at(const struct ap_gguf *g, size_t index);
enum ap_status ap_gguf_find_tensor(const struct ap_gguf *g, const char *name, struct ap_gguf_tensor *out);
int ap_gguf_has_tensor(const struct ap_gguf *g, const char *name);

/* Dequantize a whole tensor to float32 (n_elements floats at out), exactly
 * as ggml's dequantize_row_* and the gguf Python package do. */
void ap_gguf_dequantize(const struct ap_gguf_tensor *t, float *out);
/* The same for n elements (a multiple of the block size) of raw blocks. */
void ap_ggml_dequantize_blocks(enum ap_ggml_type type, const void *blocks, int64_t n, float *out);

#endif

/* gguf.c — open, check and index a GGUF file.
 *
 * One pass over the header reads every metadata value and tensor info
 * through a cursor that refuses to step past the end of the file; counts
 * read from the file are checked against the bytes left before anything is
 * allocated for them, so a lying count costs an error, not memory. After
 * the pass: duplicate keys and tensor names are refused (via the sorted
 * indexes that lookups use), general.alignment is checked, and every
 * tensor's bytes are checked to lie inside the data section. After open
 * succeeds, views are handed out without further checks.
 *
 * What is accepted and refused is listed in docs/formats.md. */
#include "io/gguf.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/file_map.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c hands out little-endian file bytes as host values: a little-endian host is assumed"
#endif

#define GGUF_MAGIC "GGUF"
#define GGUF_MAX_KEY 65535 /* bytes in a key (the GGUF spec's limit) */
#define GGUF_MAX_NAME 64   /* bytes in a tensor name (the spec's limit; ggml's GGML_MAX_NAME) */
/* The fewest bytes a metadata entry and a tensor info can take: they bound
 * the counts in the header by the bytes that follow it. */
#define GGUF_MIN_KV_BYTES (8 + 1 + 4 + 1)         /* key length, 1-byte key, type, 1-byte value */
#define GGUF_MIN_TI_BYTES (8 + 1 + 4 + 8 + 4 + 8) /* name length, 1-byte name, n_dims, ne[0], type, offset */

struct ap_gguf {
    char *label;               /* path, or the caller's label */
    struct ap_file_map map;    /* when opened from a path */
    const unsigned char *buf;  /* the whole file: len bytes */
    size_t len;
    uint32_t version;
    uint32_t alignment;
    size_t data_offset;        /* where the data section starts in the file */

    size_t n_kv;
    struct ap_gguf_kv *kvs;              /* n_kv, file order */
    uint64_t **str_offsets;              /* n_kv: for an array of strings, the offset of each element's
                                            length field from kv->data; NULL otherwise */
    const struct ap_gguf_kv **kv_sorted; /* n_kv, by key bytes */

    size_t n_tensors;
    struct ap_gguf_tensor *tensors;              /* n_tensors, file order */
    const struct ap_gguf_tensor **tensor_sorted; /* n_tensors, by name */
    char *names;                                 /* n_tensors slots of GGUF_MAX_NAME + 1 bytes */
};

/* -------------------------------------------------------------- helpers */

static const char *const k_value_type_names[] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool", "string", "array", "uint64", "int64", "float64",
};
#define GGUF_N_VALUE_TYPES 13

/* Bytes of a fixed-size value type; 0 for STRING, ARRAY and unknown types. */
static size_t value_size(uint32_t type) {
    switch (type) {
    case AP_GGUF_UINT8:
    case AP_GGUF_INT8:
    case AP_GGUF_BOOL: return 1;
    case AP_GGUF_UINT16:
    case AP_GGUF_INT16: return 2;
    case AP_GGUF_UINT32:
    case AP_GGUF_INT32:
    case AP_GGUF_FLOAT32: return 4;
    case AP_GGUF_UINT64:
    case AP_GGUF_INT64:
    case AP_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static int is_integer_type(uint32_t type) {
    return type <= AP_GGUF_INT32 || type == AP_GGUF_UINT64 || type == AP_GGUF_INT64;
}

static int is_signed_type(uint32_t type) {
    return type == AP_GGUF_INT8 || type == AP_GGUF_INT16 || type == AP_GGUF_INT32 || type == AP_GGUF_INT64;
}

static const char *value_type_name(uint32_t type) {
    return type < GGUF_N_VALUE_TYPES ? k_value_type_names[type] : "?";
}

/* "a string", "an int32", "an array of float32": a metadata value's kind. */
static const char *kv_kind(const struct ap_gguf_kv *kv, char *buf, size_t cap) {
    if (kv->type == AP_GGUF_ARRAY)
        snprintf(buf, cap, "an array of %s", value_type_name(kv->elem_type));
    else
        snprintf(buf, cap, "%s %s", value_type_name(kv->type)[0] == 'i' ? "an" : "a", value_type_name(kv->type));
    return buf;
}

/* ggml's names for the tensor types this reader refuses, for the message. */
static const char *ggml_other_type_name(uint32_t type) {
    static const char *const names[] = {
        [9] = "Q8_1",     [10] = "Q2_K",   [11] = "Q3_K",  [15] = "Q8_K",   [16] = "IQ2_XXS", [17] = "IQ2_XS",
        [18] = "IQ3_XXS", [19] = "IQ1_S",  [20] = "IQ4_NL", [21] = "IQ3_S", [22] = "IQ2_S",   [23] = "IQ4_XS",
        [24] = "I8",      [25] = "I16",    [26] = "I32",   [27] = "I64",    [28] = "F64",     [29] = "IQ1_M",
        [34] = "TQ1_0",   [35] = "TQ2_0",  [39] = "MXFP4",
    };
    return type < sizeof names / sizeof names[0] && names[type] ? names[type] : NULL;
}

/* Bytes from a file (a key or a name, not yet trusted) as text for a
 * message: printable ASCII as is, anything else as \xNN, cut with "..." */
static const char *printable(char *buf, size_t cap, const char *s, uint64_t n) {
    AP_ASSERT(cap >= 8);
    size_t at = 0;
    for (uint64_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char piece[5];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
            piece[0] = (char)c, piece[1] = '\0';
        else
            snprintf(piece, sizeof piece, "\\x%02x", c);
        size_t pl = strlen(piece);
        if (at + pl + 4 > cap) { /* at + 4 <= cap holds: room for "..." */
            memcpy(buf + at, "...", 4);
            return buf;
        }
        memcpy(buf + at, piece, pl);
        at += pl;
    }
    buf[at] = '\0';
    return buf;
}

static int bytes_cmp(const char *a, uint64_t alen, const char *b, uint64_t blen) {
    uint64_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, (size_t)n) : 0;
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

static int kv_ptr_cmp(const void *a, const void *b) {
    const struct ap_gguf_kv *x = *(const struct ap_gguf_kv *const *)a;
    const struct ap_gguf_kv *y = *(const struct ap_gguf_kv *const *)b;
    return bytes_cmp(x->key.data, x->key.len, y->key.data, y->key.len);
}

static int tensor_ptr_cmp(const void *a, const void *b) {
    const struct ap_gguf_tensor *x = *(const struct ap_gguf_tensor *const *)a;
    const struct ap_gguf_tensor *y = *(const struct ap_gguf_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static const struct ap_gguf_kv *kv_lookup(const struct ap_gguf *g, const char *key) {
    size_t klen = strlen(key), lo = 0, hi = g->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct ap_gguf_kv *kv = g->kv_sorted[mid];
        int c = bytes_cmp(key, klen, kv->key.data, kv->key.len);
        if (c == 0) return kv;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static const struct ap_gguf_tensor *tensor_lookup(const struct ap_gguf *g, const char *name) {
    size_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, g->tensor_sorted[mid]->name);
        if (c == 0) return g->tensor_sorted[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* --------------------------------------------------------------- cursor */

/* The bytes of the file and a position in them; where names what is being
 * read ("metadata key 'general.name'") for messages. */
struct cursor {
    const unsigned char *buf;
    size_t len, pos;
    const char *label;
    char where[200];
};

static size_t left(const struct cursor *c) { return c->len - c->pos; }

static enum ap_status truncated(const struct cursor *c, const char *what, uint64_t need) {
    return ap_error(AP_ERR_FORMAT, "%s: %s: %s needs %llu bytes at byte %zu, but the file ends at byte %zu "
                    "(truncated file?)", c->label, c->where, what, (unsigned long long)need, c->pos, c->len);
}

static enum ap_status rd_u32(struct cursor *c, const char *what, uint32_t *out) {
    if (left(c) < 4) return truncated(c, what, 4);
    memcpy(out, c->buf + c->pos, 4);
    c->pos += 4;
    return AP_OK;
}

static enum ap_status rd_u64(struct cursor *c, const char *what, uint64_t *out) {
    if (left(c) < 8) return truncated(c, what, 8);
    memcpy(out, c->buf + c->pos, 8);
    c->pos += 8;
    return AP_OK;
}

/* A string: u64 length, then the bytes (in the file, not copied). */
static enum ap_status rd_str(struct cursor *c, const char *what, struct ap_gguf_str *out) {
    uint64_t n = 0;
    enum ap_status s = rd_u64(c, what, &n);
    if (s != AP_OK) return s;
    if (n > left(c))
        return ap_error(AP_ERR_FORMAT, "%s: %s: %s is %llu bytes long, but only %zu bytes follow its length "
                        "field at byte %zu (truncated file or a bad length)", c->label, c->where, what,
                        (unsigned long long)n, left(c), c->pos - 8);
    out->data = (const char *)c->buf + c->pos;
    out->len = n;
    c->pos += (size_t)n;
    return AP_OK;
}

/* ------------------------------------------------------------- metadata */

/* Read one scalar of a fixed-size type into kv's fields. */
static void set_scalar(struct ap_gguf_kv *kv, uint32_t type, const unsigned char *p) {
    switch (type) {
    case AP_GGUF_UINT8: kv->u64 = p[0]; break;
    case AP_GGUF_INT8: kv->i64 = (int8_t)p[0]; break;
    case AP_GGUF_BOOL: kv->u64 = p[0]; break;
    case AP_GGUF_UINT16: {
        uint16_t v;
        memcpy(&v, p, 2);
        kv->u64 = v;
        break;
    }
    case AP_GGUF_INT16: {
        int16_t v;
        memcpy(&v, p, 2);
        kv->i64 = v;
        break;
    }
    case AP_GGUF_UINT32: {
        uint32_t v;
        memcpy(&v, p, 4);
        kv->u64 = v;
        break;
    }
    case AP_GGUF_INT32: {
        int32_t v;
        memcpy(&v, p, 4);
        kv->i64 = v;
        break;
    }
    case AP_GGUF_UINT64: memcpy(&kv->u64, p, 8); break;
    case AP_GGUF_INT64: memcpy(&kv->i64, p, 8); break;
    case AP_GGUF_FLOAT32: {
        float v;
        memcpy(&v, p, 4);
        kv->f64 = v;
        return;
    }
    case AP_GGUF_FLOAT64: memcpy(&kv->f64, p, 8); return;
    }
    /* integers are widened into both fields (bit patterns for the other sign) */
    if (is_signed_type(type))
        kv->u64 = (uint64_t)kv->i64;
    else
        kv->i64 = (int64_t)kv->u64;
}

/* Read the value of metadata entry i (its key and type already read). */
static enum ap_status parse_value(struct ap_gguf *g, struct cursor *c, size_t i) {
    struct ap_gguf_kv *kv = &g->kvs[i];
    if (kv->type >= GGUF_N_VALUE_TYPES)
        return ap_error(AP_ERR_FORMAT, "%s: %s: unknown value type %u (expected 0 to %d)", c->label, c->where,
                        (unsigned)kv->type, GGUF_N_VALUE_TYPES - 1);
    if (kv->type == AP_GGUF_STRING) return rd_str(c, "the string value", &kv->str);
    if (kv->type != AP_GGUF_ARRAY) {
        size_t sz = value_size(kv->type);
        if (left(c) < sz) return truncated(c, "the value", sz);
        const unsigned char *p = c->buf + c->pos;
        if (kv->type == AP_GGUF_BOOL && p[0] > 1)
            return ap_error(AP_ERR_FORMAT, "%s: %s: bool value is %u, expected 0 or 1", c->label, c->where,
                            (unsigned)p[0]);
        set_scalar(kv, kv->type, p);
        c->pos += sz;
        return AP_OK;
    }

    uint32_t et = 0;
    uint64_t n = 0;
    enum ap_status s = rd_u32(c, "the array's element type", &et);
    if (s == AP_OK) s = rd_u64(c, "the array's length", &n);
    if (s != AP_OK) return s;
    if (et == AP_GGUF_ARRAY)
        return ap_error(AP_ERR_UNSUPPORTED, "%s: %s: an array of arrays; nested arrays are not supported",
                        c->label, c->where);
    if (et >= GGUF_N_VALUE_TYPES)
        return ap_error(AP_ERR_FORMAT, "%s: %s: unknown array element type %u (expected 0 to %d)", c->label,
                        c->where, (unsigned)et, GGUF_N_VALUE_TYPES - 1);
    kv->elem_type = (enum ap_gguf_type)et;
    kv->n = n;
    kv->data = c->buf + c->pos;

    if (et == AP_GGUF_STRING) {
        if (n > left(c) / 8)
            return ap_error(AP_ERR_FORMAT, "%s: %s: an array of %llu strings cannot fit in the %zu bytes left in "
                            "the file (each takes at least 8)", c->label, c->where, (unsigned long long)n, left(c));
        uint64_t *off = malloc(n ? (size_t)n * sizeof *off : 1);
        if (!off)
            return ap_error(AP_ERR_NOMEM, "%s: %s: out of memory indexing %llu strings", c->label, c->where,
                            (unsigned long long)n);
        g->str_offsets[i] = off;
        const size_t start = c->pos;
        for (uint64_t k = 0; k < n; k++) {
            off[k] = c->pos - start;
            struct ap_gguf_str str;
            char what[64];
            snprintf(what, sizeof what, "string %llu of %llu", (unsigned long long)k, (unsigned long long)n);
            s = rd_str(c, what, &str);
            if (s != AP_OK) return s;
        }
        return AP_OK;
    }

    size_t sz = value_size(et);
    if (n > left(c) / sz)
        return ap_error(AP_ERR_FORMAT, "%s: %s: an array of %llu %s values (%zu bytes each) cannot fit in the %zu "
                        "bytes left in the file", c->label, c->where, (unsigned long long)n, value_type_name(et), sz,
                        left(c));
    if (et == AP_GGUF_BOOL) {
        for (uint64_t k = 0; k < n; k++) {
            unsigned v = c->buf[c->pos + k];
            if (v > 1)
                return ap_error(AP_ERR_FORMAT, "%s: %s: bool element %llu is %u, expected 0 or 1", c->label,
                                c->where, (unsigned long long)k, v);
        }
    }
    c->pos += (size_t)n * sz;
    return AP_OK;
}

static enum ap_status parse_metadata(struct ap_gguf *g, struct cursor *c) {
    char kbuf[100];
    for (size_t i = 0; i < g->n_kv; i++) {
        struct ap_gguf_kv *kv = &g->kvs[i];
        snprintf(c->where, sizeof c->where, "metadata entry %zu of %zu", i, g->n_kv);
        enum ap_status s = rd_str(c, "the key", &kv->key);
        if (s != AP_OK) return s;
        if (kv->key.len == 0) return ap_error(AP_ERR_FORMAT, "%s: %s: empty key", c->label, c->where);
        if (kv->key.len > GGUF_MAX_KEY)
            return ap_error(AP_ERR_FORMAT, "%s: %s: key '%s' is %llu bytes, longer than GGUF's limit of %d",
                            c->label, c->where, printable(kbuf, sizeof kbuf, kv->key.data, kv->key.len),
                            (unsigned long long)kv->key.len, GGUF_MAX_KEY);
        if (memchr(kv->key.data, 0, (size_t)kv->key.len))
            return ap_error(AP_ERR_FORMAT, "%s: %s: key '%s' contains a NUL byte", c->label, c->where,
                            printable(kbuf, sizeof kbuf, kv->key.data, kv->key.len));
        snprintf(c->where, sizeof c->where, "metadata '%s'", printable(kbuf, sizeof kbuf, kv->key.data, kv->key.len));
        uint32_t type = 0;
        s = rd_u32(c, "the value type", &type);
        if (s != AP_OK) return s;
        kv->type = (enum ap_gguf_type)type;
        s = parse_value(g, c, i);
        if (s != AP_OK) return s;
    }

    for (size_t i = 0; i < g->n_kv; i++) g->kv_sorted[i] = &g->kvs[i];
    qsort(g->kv_sorted, g->n_kv, sizeof *g->kv_sorted, kv_ptr_cmp);
    for (size_t i = 1; i < g->n_kv; i++) {
        const struct ap_gguf_kv *a = g->kv_sorted[i - 1], *b = g->kv_sorted[i];
        if (bytes_cmp(a->key.data, a->key.len, b->key.data, b->key.len) == 0)
            return ap_error(AP_ERR_FORMAT, "%s: metadata key '%s' appears twice (entries %zu and %zu)", c->label,
                            printable(kbuf, sizeof kbuf, a->key.data, a->key.len),
                            (size_t)(a < b ? a - g->kvs : b - g->kvs), (size_t)(a < b ? b - g->kvs : a - g->kvs));
    }

    g->alignment = AP_GGUF_DEFAULT_ALIGNMENT;
    const struct ap_gguf_kv *al = kv_lookup(g, "general.alignment");
    if (al) {
        char kind[40];
        if (al->type != AP_GGUF_UINT32)
            return ap_error(AP_ERR_FORMAT, "%s: metadata 'general.alignment' is %s, expected a uint32", c->label,
                            kv_kind(al, kind, sizeof kind));
        if (al->u64 == 0 || (al->u64 & (al->u64 - 1)) != 0)
            return ap_error(AP_ERR_FORMAT, "%s: metadata 'general.alignment' is %llu, expected a power of two",
                            c->label, (unsigned long long)al->u64);
        g->alignment = (uint32_t)al->u64;
    }
    return AP_OK;
}

/* --------------------------------------------------------------- tensors */

static enum ap_status parse_tensor_info(struct ap_gguf *g, struct cursor *c, size_t i, uint64_t *offset) {
    struct ap_gguf_tensor *t = &g->tensors[i];
    char nbuf[100];
    snprintf(c->where, sizeof c->where, "tensor info %zu of %zu", i, g->n_tensors);
    struct ap_gguf_str name;
    enum ap_status s = rd_str(c, "the name", &name);
    if (s != AP_OK) return s;
    if (name.len == 0) return ap_error(AP_ERR_FORMAT, "%s: %s: empty tensor name", c->label, c->where);
    if (name.len > GGUF_MAX_NAME)
        return ap_error(AP_ERR_FORMAT, "%s: %s: name '%s' is %llu bytes, longer than GGUF's limit of %d", c->label,
                        c->where, printable(nbuf, sizeof nbuf, name.data, name.len), (unsigned long long)name.len,
                        GGUF_MAX_NAME);
    if (memchr(name.data, 0, (size_t)name.len))
        return ap_error(AP_ERR_FORMAT, "%s: %s: name '%s' contains a NUL byte", c->label, c->where,
                        printable(nbuf, sizeof nbuf, name.data, name.len));
    char *copy = g->names + i * (GGUF_MAX_NAME + 1);
    memcpy(copy, name.data, (size_t)name.len);
    copy[name.len] = '\0';
    t->name = copy;
    snprintf(c->where, sizeof c->where, "tensor '%s'", printable(nbuf, sizeof nbuf, name.data, name.len));

    uint32_t n_dims = 0;
    if ((s = rd_u32(c, "n_dims", &n_dims)) != AP_OK) return s;
    if (n_dims < 1 || n_dims > AP_GGUF_MAX_DIMS)
        return ap_error(AP_ERR_FORMAT, "%s: %s: %u dimensions, expected 1 to %d", c->label, c->where,
                        (unsigned)n_dims, AP_GGUF_MAX_DIMS);
    t->n_dims = (int32_t)n_dims;
    int64_t n_el = 1;
    int overflow = 0;
    for (int d = 0; d < AP_GGUF_MAX_DIMS; d++) {
        if (d >= (int)n_dims) {
            t->ne[d] = 1;
            continue;
        }
        uint64_t ne = 0;
        char what[16];
        snprintf(what, sizeof what, "ne[%d]", d);
        if ((s = rd_u64(c, what, &ne)) != AP_OK) return s;
        if (ne > (uint64_t)INT64_MAX)
            return ap_error(AP_ERR_FORMAT, "%s: %s: ne[%d] = %llu is larger than 2^63 - 1", c->label, c->where, d,
                            (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
        if (ne != 0 && n_el > INT64_MAX / (int64_t)ne) overflow = 1;
        n_el = overflow ? 0 : n_el * (int64_t)ne;
    }
    char shape[120];
    snprintf(shape, sizeof shape, "[%lld", (long long)t->ne[0]);
    for (int d = 1; d < t->n_dims; d++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), ", %lld", (long long)t->ne[d]);
    snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "]");
    if (overflow)
        return ap_error(AP_ERR_FORMAT, "%s: %s: shape %s has more than 2^63 - 1 elements", c->label, c->where,
                        shape);
    t->n_elements = n_el;

    uint32_t type = 0;
    if ((s = rd_u32(c, "the type", &type)) != AP_OK) return s;
    int32_t be = ap_ggml_block_elems((enum ap_ggml_type)type), bb = ap_ggml_block_bytes((enum ap_ggml_type)type);
    if (be == 0) {
        const char *other = ggml_other_type_name(type);
        char desc[40];
        if (other)
            snprintf(desc, sizeof desc, "ggml type %s (%u)", other, (unsigned)type);
        else
            snprintf(desc, sizeof desc, "unknown ggml type %u", (unsigned)type);
        return ap_error(AP_ERR_UNSUPPORTED, "%s: %s: %s is not supported (attnprune reads F32, F16, BF16, Q4_0, "
                        "Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K)", c->label, c->where, desc);
    }
    t->type = (enum ap_ggml_type)type;
    if (t->ne[0] % be != 0)
        return ap_error(AP_ERR_FORMAT, "%s: %s: shape %s: ne[0] = %lld is not a multiple of %s's block size %d",
                        c->label, c->where, shape, (long long)t->ne[0], ap_ggml_type_name(t->type), (int)be);
    int64_t blocks = n_el / be;
    if (blocks > INT64_MAX / bb || (uint64_t)blocks > SIZE_MAX / (uint64_t)bb)
        return ap_error(AP_ERR_FORMAT, "%s: %s: shape %s of %s needs more than 2^63 bytes", c->label, c->where,
                        shape, ap_ggml_type_name(t->type));
    t->nbytes = (size_t)blocks * (size_t)bb;

    if ((s = rd_u64(c, "the offset", offset)) != AP_OK) return s;
    if (*offset % g->alignment != 0)
        return ap_error(AP_ERR_FORMAT, "%s: %s: data offset %llu is not a multiple of the alignment %u", c->label,
                        c->where, (unsigned long long)*offset, (unsigned)g->alignment);
    return AP_OK;
}

static enum ap_status parse_tensors(struct ap_gguf *g, struct cursor *c) {
    uint64_t *offsets = malloc(g->n_tensors ? g->n_tensors * sizeof *offsets : 1);
    if (!offsets) return ap_error(AP_ERR_NOMEM, "%s: out of memory indexing %zu tensors", c->label, g->n_tensors);
    enum ap_status s = AP_OK;
    for (size_t i = 0; i < g->n_tensors && s == AP_OK; i++) s = parse_tensor_info(g, c, i, &offsets[i]);
    if (s != AP_OK) goto done;

    /* the data section starts at the next multiple of the alignment */
    uint64_t data = (uint64_t)c->pos + (g->alignment - c->pos % g->alignment) % g->alignment;
    if (g->n_tensors > 0 && data > c->len) {
        s = ap_error(AP_ERR_FORMAT, "%s: the data section should start at byte %llu (after the tensor infos, "
                     "aligned to %u), but the file ends at byte %zu (truncated file?)", c->label,
                     (unsigned long long)data, (unsigned)g->alignment, c->len);
        goto done;
    }
    g->data_offset = data > c->len ? c->len : (size_t)data;
    const size_t avail = c->len - g->data_offset;
    for (size_t i = 0; i < g->n_tensors; i++) {
        struct ap_gguf_tensor *t = &g->tensors[i];
        if (offsets[i] > avail || t->nbytes > avail - offsets[i]) {
            s = ap_error(AP_ERR_FORMAT, "%s: tensor '%s': %zu bytes of %s at data offset %llu reach past the end of "
                         "the file (the data section holds %zu bytes; truncated file?)", c->label, t->name, t->nbytes,
                         ap_ggml_type_name(t->type), (unsigned long long)offsets[i], avail);
            goto done;
        }
        t->data = c->buf + g->data_offset + offsets[i];
    }

    for (size_t i = 0; i < g->n_tensors; i++) g->tensor_sorted[i] = &g->tensors[i];
    qsort(g->tensor_sorted, g->n_tensors, sizeof *g->tensor_sorted, tensor_ptr_cmp);
    for (size_t i = 1; i < g->n_tensors; i++) {
        if (strcmp(g->tensor_sorted[i - 1]->name, g->tensor_sorted[i]->name) == 0) {
            char nbuf[100];
            const char *nm = g->tensor_sorted[i]->name;
            s = ap_error(AP_ERR_FORMAT, "%s: tensor '%s' appears twice in the tensor infos", c->label,
                         printable(nbuf, sizeof nbuf, nm, strlen(nm)));
            goto done;
        }
    }
done:
    free(offsets);
    return s;
}

/* --------------------------------------------------------------- header */

static uint32_t bswap32(uint32_t v) {
    return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

/* Check the whole file held in buf (len bytes) and index it into g. */
static enum ap_status parse(struct ap_gguf *g, const unsigned char *buf, size_t len) {
    struct cursor c = {.buf = buf, .len = len, .pos = 0, .label = g->label};
    snprintf(c.where, sizeof c.where, "header");
    g->buf = buf;
    g->len = len;
    if (len < 4)
        return ap_error(AP_ERR_FORMAT, "%s: %zu bytes, too short for a GGUF file (it starts with the magic "
                        "\"GGUF\")", g->label, len);
    if (memcmp(buf, GGUF_MAGIC, 4) != 0) {
        char m[40];
        return ap_error(AP_ERR_FORMAT, "%s: not a GGUF file: it starts with '%s', expected the magic 'GGUF'",
                        g->label, printable(m, sizeof m, (const char *)buf, 4));
    }
    c.pos = 4;
    uint32_t version = 0;
    uint64_t n_tensors = 0, n_kv = 0;
    enum ap_status s = rd_u32(&c, "the version", &version);
    if (s != AP_OK) return s;
    if (version != 2 && version != 3) {
        if (bswap32(version) >= 1 && bswap32(version) <= 3)
            return ap_error(AP_ERR_UNSUPPORTED, "%s: a big-endian GGUF file (version %u byte-swapped); attnprune "
                            "reads little-endian files only", g->label, (unsigned)bswap32(version));
        if (version == 1)
            return ap_error(AP_ERR_UNSUPPORTED, "%s: GGUF version 1 (32-bit counts) is not supported, expected "
                            "version 2 or 3", g->label);
        return ap_error(AP_ERR_UNSUPPORTED, "%s: GGUF version %u, expected 2 or 3", g->label, (unsigned)version);
    }
    g->version = version;
    if ((s = rd_u64(&c, "the tensor count", &n_tensors)) != AP_OK) return s;
    if ((s = rd_u64(&c, "the metadata count", &n_kv)) != AP_OK) return s;
    if (n_kv > left(&c) / GGUF_MIN_KV_BYTES)
        return ap_error(AP_ERR_FORMAT, "%s: header: metadata count %llu cannot fit in the %zu bytes that follow "
                        "the header (each entry takes at least %d)", g->label, (unsigned long long)n_kv, left(&c),
                        GGUF_MIN_KV_BYTES);
    if (n_tensors > left(&c) / GGUF_MIN_TI_BYTES)
        return ap_error(AP_ERR_FORMAT, "%s: header: tensor count %llu cannot fit in the %zu bytes that follow "
                        "the header (each tensor info takes at least %d)", g->label, (unsigned long long)n_tensors,
                        left(&c), GGUF_MIN_TI_BYTES);
    g->n_kv = (size_t)n_kv;
    g->kvs = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kvs);
    g->str_offsets = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->str_offsets);
    g->kv_sorted = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kv_sorted);
    if (!g->kvs || !g->str_offsets || !g->kv_sorted)
        return ap_error(AP_ERR_NOMEM, "%s: out of memory indexing %llu metadata entries", g->label,
                        (unsigned long long)n_kv);
    if ((s = parse_metadata(g, &c)) != AP_OK) return s;

    if (n_tensors > left(&c) / GGUF_MIN_TI_BYTES)
        return ap_error(AP_ERR_FORMAT, "%s: header: tensor count %llu cannot fit in the %zu bytes after the "
                        "metadata (each tensor info takes at least %d)", g->label, (unsigned long long)n_tensors,
                        left(&c), GGUF_MIN_TI_BYTES);
    g->n_tensors = (size_t)n_tensors;
    g->tensors = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *g->tensors);
    g->tensor_sorted = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *g->tensor_sorted);
    g->names = malloc(n_tensors ? (size_t)n_tensors * (GGUF_MAX_NAME + 1) : 1);
    if (!g->tensors || !g->tensor_sorted || !g->names)
        return ap_error(AP_ERR_NOMEM, "%s: out of memory indexing %llu tensors", g->label,
                        (unsigned long long)n_tensors);
    return parse_tensors(g, &c);
}

/* ------------------------------------------------------------------ API */

static enum ap_status gguf_new(const char *label, struct ap_gguf **out) {
    struct ap_gguf *g = calloc(1, sizeof *g);
    char *copy = g ? malloc(strlen(label) + 1) : NULL;
    if (!copy) {
        free(g);
        return ap_error(AP_ERR_NOMEM, "%s: out of memory", label);
    }
    strcpy(copy, label);
    g->label = copy;
    *out = g;
    return AP_OK;
}

enum ap_status ap_gguf_open_memory(const void *buf, size_t len, const char *label, struct ap_gguf **out) {
    AP_ASSERT(out != NULL);
    *out = NULL;
    if (!label) label = "<memory>";
    if (!buf && len) return ap_error(AP_ERR_INVALID_ARG, "%s: NULL buffer of %zu bytes", label, len);
    struct ap_gguf *g;
    enum ap_status s = gguf_new(label, &g);
    if (s != AP_OK) return s;
    s = parse(g, buf, len);
    if (s != AP_OK) {
        ap_gguf_close(g);
        return s;
    }
    *out = g;
    return AP_OK;
}

enum ap_status ap_gguf_open(const char *path, struct ap_gguf **out) {
    AP_ASSERT(out != NULL);
    *out = NULL;
    if (!path) return ap_error(AP_ERR_INVALID_ARG, "gguf: path is NULL");
    struct ap_gguf *g;
    enum ap_status s = gguf_new(path, &g);
    if (s != AP_OK) return s;
    s = ap_file_map_open(path, &g->map);
    if (s == AP_OK) s = parse(g, g->map.data, g->map.size);
    if (s != AP_OK) {
        ap_gguf_close(g);
        return s;
    }
    *out = g;
    return AP_OK;
}

void ap_gguf_close(struct ap_gguf *g) {
    if (!g) return;
    if (g->str_offsets)
        for (size_t i = 0; i < g->n_kv; i++) free(g->str_offsets[i]);
    free(g->str_offsets);
    free(g->kvs);
    free(g->kv_sorted);
    free(g->tensors);
    free(g->tensor_sorted);
    free(g->names);
    ap_file_map_close(&g->map);
    free(g->label);
    free(g);
}

const char *ap_gguf_label(const struct ap_gguf *g) { return g->label; }
uint32_t ap_gguf_version(const struct ap_gguf *g) { return g->version; }
uint32_t ap_gguf_alignment(const struct ap_gguf *g) { return g->alignment; }

size_t ap_gguf_kv_count(const struct ap_gguf *g) { return g->n_kv; }

const struct ap_gguf_kv *ap_gguf_kv_at(const struct ap_gguf *g, size_t index) {
    return index < g->n_kv ? &g->kvs[index] : NULL;
}

const struct ap_gguf_kv *ap_gguf_find_kv(const struct ap_gguf *g, const char *key) {
    AP_ASSERT(g && key);
    return kv_lookup(g, key);
}

/* The entry for key, or NULL with "no metadata key" set. */
static const struct ap_gguf_kv *need_kv(const struct ap_gguf *g, const char *key) {
    AP_ASSERT(g && key);
    const struct ap_gguf_kv *kv = kv_lookup(g, key);
    if (!kv) ap_error(AP_ERR_FORMAT, "%s: no metadata key '%s'", g->label, key);
    return kv;
}

static enum ap_status wrong_type(const struct ap_gguf *g, const char *key, const struct ap_gguf_kv *kv,
                                 const char *expected) {
    char kind[40];
    return ap_error(AP_ERR_FORMAT, "%s: metadata '%s' is %s, expected %s", g->label, key,
                    kv_kind(kv, kind, sizeof kind), expected);
}

/* A scalar integer's value as text, for "does not fit" messages. */
static const char *int_text(const struct ap_gguf_kv *kv, char *buf, size_t cap) {
    if (is_signed_type(kv->type))
        snprintf(buf, cap, "%lld", (long long)kv->i64);
    else
        snprintf(buf, cap, "%llu", (unsigned long long)kv->u64);
    return buf;
}

enum ap_status ap_gguf_get_u32(const struct ap_gguf *g, const char *key, uint32_t *out) {
    const struct ap_gguf_kv *kv = need_kv(g, key);
    if (!kv) return AP_ERR_FORMAT;
    if (!is_integer_type(kv->type)) return wrong_type(g, key, kv, "an unsigned integer");
    int fits = is_signed_type(kv->type) ? kv->i64 >= 0 && kv->i64 <= (int64_t)UINT32_MAX : kv->u64 <= UINT32_MAX;
    if (!fits) {
        char v[32];
        return ap_error(AP_ERR_FORMAT, "%s: metadata '%s' = %s does not fit a uint32", g->label, key,
                        int_text(kv, v, sizeof v));
    }
    *out = (uint32_t)kv->u64;
    return AP_OK;
}

enum ap_status ap_gguf_get_i64(const struct ap_gguf *g, const char *key, int64_t *out) {
    const struct ap_gguf_kv *kv = need_kv(g, key);
    if (!kv) return AP_ERR_FORMAT;
    if (!is_integer_type(kv->type)) return wrong_type(g, key, kv, "an integer");
    if (kv->type == AP_GGUF_UINT64 && kv->u64 > (uint64_t)INT64_MAX) {
        char v[32];
        return ap_error(AP_ERR_FORMAT, "%s: metadata '%s' = %s does not fit an int64", g->label, key,
                        int_text(kv, v, sizeof v));
    }
    *out = kv->i64;
    return AP_OK;
}

enum ap_status ap_gguf_get_f32(const struct ap_gguf *g, const char *key, float *out) {
    const struct ap_gguf_kv *kv = need_kv(g, key);
    if (!kv) return AP_ERR_FORMAT;
    if (kv->type != AP_GGUF_FLOAT32 && kv->type != AP_GGUF_FLOAT64) return wrong_type(g, key, kv, "a float");
    *out = (float)kv->f64;
    return AP_OK;
}

enum ap_status ap_gguf_get_bool(const struct ap_gguf *g, const char *key, int *out) {
    const struct ap_gguf_kv *kv = need_kv(g, key);
    if (!kv) return AP_ERR_FORMAT;
    if (kv->type != AP_GGUF_BOOL) return wrong_type(g, key, kv, "a bool");
    *out = kv->u64 != 0;
    return AP_OK;
}

enum ap_status ap_gguf_get_str(const struct ap_gguf *g, const char *key, struct ap_gguf_str *out) {
    const struct ap_gguf_kv *kv = need_kv(g, key);
    if (!kv) return AP_ERR_FORMAT;
    if (kv->type != AP_GGUF_STRING) return wrong_type(g, key, kv, "a string");
    *out = kv->str;
    return AP_OK;
}

enum ap_status ap_gguf_get_array(const struct ap_gguf *g, const char *key, enum ap_gguf_type elem_type,
                                 const struct ap_gguf_kv **out) {
    const struct ap_gguf_kv *kv = need_kv(g, key);
    if (!kv) return AP_ERR_FORMAT;
    if (kv->type != AP_GGUF_ARRAY || kv->elem_type != elem_type) {
        char want[40];
        snprintf(want, sizeof want, "an array of %s", value_type_name(elem_type));
        return wrong_type(g, key, kv, want);
    }
    *out = kv;
    return AP_OK;
}

struct ap_gguf_str ap_gguf_array_str(const struct ap_gguf *g, const struct ap_gguf_kv *kv, uint64_t index) {
    AP_ASSERT(g && kv && kv >= g->kvs && kv < g->kvs + g->n_kv);
    AP_ASSERT(kv->type == AP_GGUF_ARRAY && kv->elem_type == AP_GGUF_STRING && index < kv->n);
    const unsigned char *p = (const unsigned char *)kv->data + g->str_offsets[kv - g->kvs][index];
    struct ap_gguf_str s;
    memcpy(&s.len, p, 8);
    s.data = (const char *)p + 8;
    return s;
}

int64_t ap_gguf_array_int(const struct ap_gguf_kv *kv, uint64_t index) {
    AP_ASSERT(kv && kv->type == AP_GGUF_ARRAY && index < kv->n);
    AP_ASSERT(is_integer_type(kv->elem_type) || kv->elem_type == AP_GGUF_BOOL);
    struct ap_gguf_kv tmp = {0};
    set_scalar(&tmp, kv->elem_type, (const unsigned char *)kv->data + index * value_size(kv->elem_type));
    return tmp.i64;
}

double ap_gguf_array_float(const struct ap_gguf_kv *kv, uint64_t index) {
    AP_ASSERT(kv && kv->type == AP_GGUF_ARRAY && index < kv->n);
    AP_ASSERT(kv->elem_type == AP_GGUF_FLOAT32 || kv->elem_type == AP_GGUF_FLOAT64);
    struct ap_gguf_kv tmp = {0};
    set_scalar(&tmp, kv->elem_type, (const unsigned char *)kv->data + index * value_size(kv->elem_type));
    return tmp.f64;
}

size_t ap_gguf_tensor_count(const struct ap_gguf *g) { return g->n_tensors; }

const struct ap_gguf_tensor *ap_gguf_tensor_at(const struct ap_gguf *g, size_t index) {
    return index < g->n_tensors ? &g->tensors[index] : NULL;
}

enum ap_status ap_gguf_find_tensor(const struct ap_gguf *g, const char *name, struct ap_gguf_tensor *out) {
    AP_ASSERT(g && name && out);
    const struct ap_gguf_tensor *t = tensor_lookup(g, name);
    if (!t) return ap_error(AP_ERR_FORMAT, "%s: no tensor '%s'", g->label, name);
    *out = *t;
    return AP_OK;
}

int ap_gguf_has_tensor(const struct ap_gguf *g, const char *name) {
    AP_ASSERT(g && name);
    return tensor_lookup(g, name) != NULL;
}

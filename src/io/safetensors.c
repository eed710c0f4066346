/* safetensors.c — open, check and index a safetensors file.
 *
 * Everything a later read depends on is checked here, once: the header
 * length against the file, the JSON against the format, every integer
 * against the range a double holds exactly, every byte range against the
 * data section and against its dtype and shape. After open succeeds a view
 * can be handed out without further checks. */
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "io/file_map.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c hands out little-endian file bytes as host values: a little-endian host is assumed"
#endif

/* cJSON keeps numbers as doubles. From 2^53 on not every integer is
 * representable ("9007199254740993" silently becomes ...992), so such
 * offsets and dimensions (8 PiB) are rejected rather than guessed at. */
#define AP_JSON_INT_LIMIT 9007199254740992.0 /* 2^53 */

struct st_entry {
    const char *name; /* inside the cJSON tree */
    enum ap_dtype dtype;
    int32_t ndim;
    int64_t shape[AP_MAX_DIMS];
    size_t begin, end; /* bytes, relative to the data section */
    float *f32;        /* converted or realigned copy (ap_aligned_alloc), or NULL */
};

struct ap_safetensors {
    char *label;                 /* path, or the caller's label */
    struct ap_file_map map;      /* when opened from a path */
    const unsigned char *data;   /* the data section: data_len bytes */
    size_t data_len;
    cJSON *root;                 /* the parsed header; names and metadata live here */
    const cJSON *metadata;       /* "__metadata__" or NULL */
    struct st_entry *entries;    /* count, header order */
    struct st_entry **sorted;    /* count, by name */
    size_t count;
};

/* -------------------------------------------------------------- helpers */

/* The dtype names of the safetensors format that attnprune does not read. */
static const char *const k_unsupported_dtypes[] = {
    "U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64",
};

static int dtype_from_name(const char *s, enum ap_dtype *out) {
    for (int i = 0; i < AP_DTYPE_COUNT; i++) {
        if (strcmp(s, ap_dtype_name((enum ap_dtype)i)) == 0) {
            *out = (enum ap_dtype)i;
            return 1;
        }
    }
    return 0;
}

static int dtype_known_unsupported(const char *s) {
    for (size_t i = 0; i < sizeof k_unsupported_dtypes / sizeof k_unsupported_dtypes[0]; i++)
        if (strcmp(s, k_unsupported_dtypes[i]) == 0) return 1;
    return 0;
}

/* Describe a JSON value for a message: the number itself, or its kind. */
static const char *json_describe(const cJSON *it, char *buf, size_t cap) {
    if (!it) return "missing";
    if (cJSON_IsNumber(it)) {
        /* the shortest of these spellings that reads back as the same double */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, cap, "%.*g", prec, it->valuedouble);
            if (strtod(buf, NULL) == it->valuedouble) break;
        }
        return buf;
    }
    if (cJSON_IsString(it)) return "a string";
    if (cJSON_IsArray(it)) return "an array";
    if (cJSON_IsObject(it)) return "an object";
    if (cJSON_IsBool(it)) return "a boolean";
    if (cJSON_IsNull(it)) return "null";
    return "an invalid value";
}

/* A JSON number that is an integer in [0, 2^53). */
static int json_to_u64(const cJSON *it, uint64_t *out) {
    if (!cJSON_IsNumber(it)) return 0;
    double v = it->valuedouble;
    if (!(v >= 0.0 && v < AP_JSON_INT_LIMIT) || v != floor(v)) return 0; /* NaN fails the first test */
    *out = (uint64_t)v;
    return 1;
}

/* Offset of the first byte that is not well-formed UTF-8 (or is NUL, which
 * JSON text cannot hold and cJSON would cut strings at), or n if none.
 * Rejects overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_check(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c == 0) return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf)
            len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else
            return i;
        if (n - i < len) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80) return i;
        i += len;
    }
    return n;
}

static int entry_cmp(const void *a, const void *b) {
    const struct st_entry *x = *(const struct st_entry *const *)a;
    const struct st_entry *y = *(const struct st_entry *const *)b;
    return strcmp(x->name, y->name);
}

static struct st_entry *lookup(const struct ap_safetensors *st, const char *name) {
    size_t lo = 0, hi = st->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, st->sorted[mid]->name);
        if (c == 0) return st->sorted[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* ------------------------------------------------------------- checking */

/* Check the "__metadata__" object: string keys to string values. */
static enum ap_status check_metadata(const char *label, const cJSON *md) {
    if (!cJSON_IsObject(md))
        return ap_error(AP_ERR_FORMAT, "%s: \"__metadata__\" must be an object of strings, not %s", label,
                        cJSON_IsArray(md) ? "an array" : "a scalar");
    for (const cJSON *kv = md->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv)) {
            char b[40];
            return ap_error(AP_ERR_FORMAT, "%s: \"__metadata__\" value of \"%s\" is %s, expected a string", label,
                            kv->string, json_describe(kv, b, sizeof b));
        }
    }
    return AP_OK;
}

/* Check one tensor entry and fill e. data_len is the data section's size. */
static enum ap_status parse_entry(const char *label, const cJSON *item, size_t data_len, struct st_entry *e) {
    const char *name = item->string;
    char b1[40], b2[40];
    e->name = name;
    if (!cJSON_IsObject(item))
        return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': entry is %s, expected an object with dtype, shape and data_offsets",
                        label, name, json_describe(item, b1, sizeof b1));

    /* dtype */
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!dt) return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is missing", label, name);
    if (!cJSON_IsString(dt))
        return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is %s, expected a string such as \"F32\"", label,
                        name, json_describe(dt, b1, sizeof b1));
    if (!dtype_from_name(dt->valuestring, &e->dtype)) {
        if (dtype_known_unsupported(dt->valuestring))
            return ap_error(AP_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s is not supported (attnprune reads F32, "
                            "F16, BF16, F64, I64, I32, I16, I8, U8 and BOOL)", label, name, dt->valuestring);
        return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': unknown dtype \"%s\"", label, name, dt->valuestring);
    }

    /* shape */
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!sh) return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': \"shape\" is missing", label, name);
    if (!cJSON_IsArray(sh))
        return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': \"shape\" is %s, expected an array of integers", label,
                        name, json_describe(sh, b1, sizeof b1));
    int ndim = cJSON_GetArraySize(sh);
    if (ndim > AP_MAX_DIMS)
        return ap_error(AP_ERR_UNSUPPORTED, "%s: tensor '%s': %d dimensions, attnprune handles at most %d", label,
                        name, ndim, AP_MAX_DIMS);
    e->ndim = ndim;
    int k = 0;
    for (const cJSON *d = sh->child; d; d = d->next, k++) {
        uint64_t v;
        if (!json_to_u64(d, &v))
            return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': shape[%d] is %s, expected a non-negative integer "
                            "(below 2^53)", label, name, k, json_describe(d, b1, sizeof b1));
        e->shape[k] = (int64_t)v;
    }
    size_t numel;
    char shape_s[200];
    ap_shape_format(shape_s, sizeof shape_s, e->shape, e->ndim);
    size_t esize = ap_dtype_size(e->dtype);
    if (!ap_shape_numel(e->shape, e->ndim, &numel) || numel > SIZE_MAX / esize)
        return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': shape %s of %s overflows the size of memory", label, name,
                        shape_s, ap_dtype_name(e->dtype));

    /* data_offsets */
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!off) return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" is missing", label, name);
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" must be an array of two integers "
                        "[begin, end]", label, name);
    uint64_t begin, end;
    const cJSON *ob = off->child, *oe = off->child->next;
    if (!json_to_u64(ob, &begin) || !json_to_u64(oe, &end))
        return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': data_offsets [%s, %s] must be non-negative integers "
                        "(below 2^53)", label, name, json_describe(ob, b1, sizeof b1),
                        json_describe(oe, b2, sizeof b2));
    if (begin > end)
        return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] begin after they end", label,
                        name, (unsigned long long)begin, (unsigned long long)end);
    if (end > data_len)
        return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] reach past the end of the "
                        "data section (%zu bytes)", label, name, (unsigned long long)begin,
                        (unsigned long long)end, data_len);
    if (numel * esize != end - begin)
        return ap_error(AP_ERR_FORMAT, "%s: tensor '%s': shape %s of %s needs %zu bytes, but data_offsets "
                        "[%llu, %llu] hold %llu", label, name, shape_s, ap_dtype_name(e->dtype),
                        numel * esize, (unsigned long long)begin, (unsigned long long)end,
                        (unsigned long long)(end - begin));
    e->begin = (size_t)begin;
    e->end = (size_t)end;
    return AP_OK;
}

/* Check the whole file held in buf (len bytes) and index it into st. */
static enum ap_status parse(struct ap_safetensors *st, const unsigned char *buf, size_t len) {
    const char *label = st->label;
    if (len < 8)
        return ap_error(AP_ERR_FORMAT, "%s: %zu bytes, too short for a safetensors file (it starts with an "
                        "8-byte header length)", label, len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
    if (n > AP_SAFETENSORS_MAX_HEADER)
        return ap_error(AP_ERR_FORMAT, "%s: header length %llu is absurd (the limit is %u bytes); is this a "
                        "safetensors file?", label, (unsigned long long)n, AP_SAFETENSORS_MAX_HEADER);
    if (n > len - 8)
        return ap_error(AP_ERR_FORMAT, "%s: header length %llu exceeds the %zu bytes that follow it (truncated "
                        "file?)", label, (unsigned long long)n, len - 8);
    const unsigned char *hdr = buf + 8;
    size_t hlen = (size_t)n;
    st->data = hdr + hlen;
    st->data_len = len - 8 - hlen;

    size_t bad = utf8_check(hdr, hlen);
    if (bad < hlen)
        return ap_error(AP_ERR_FORMAT, "%s: header is not valid UTF-8 text (byte 0x%02x at header offset %zu)",
                        label, hdr[bad], bad);

    const char *parse_end = NULL;
    st->root = cJSON_ParseWithLengthOpts((const char *)hdr, hlen, &parse_end, 0);
    if (!st->root) {
        size_t at = parse_end ? (size_t)(parse_end - (const char *)hdr) : 0;
        return ap_error(AP_ERR_FORMAT, "%s: header is not valid JSON (error near header offset %zu of %zu)", label,
                        at, hlen);
    }
    /* writers pad the header with spaces so the data section is aligned */
    for (size_t i = (size_t)(parse_end - (const char *)hdr); i < hlen; i++) {
        unsigned char c = hdr[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return ap_error(AP_ERR_FORMAT, "%s: unexpected text after the JSON header (header offset %zu)", label,
                            i);
    }
    if (!cJSON_IsObject(st->root))
        return ap_error(AP_ERR_FORMAT, "%s: header is JSON but not an object of tensors", label);

    size_t cap = 0;
    for (const cJSON *it = st->root->child; it; it = it->next) cap++;
    st->entries = calloc(cap ? cap : 1, sizeof *st->entries);
    st->sorted = calloc(cap ? cap : 1, sizeof *st->sorted);
    if (!st->entries || !st->sorted)
        return ap_error(AP_ERR_NOMEM, "%s: out of memory indexing %zu tensors", label, cap);

    for (const cJSON *it = st->root->child; it; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) {
            if (st->metadata) return ap_error(AP_ERR_FORMAT, "%s: \"__metadata__\" appears twice", label);
            enum ap_status s = check_metadata(label, it);
            if (s != AP_OK) return s;
            st->metadata = it;
            continue;
        }
        struct st_entry *e = &st->entries[st->count];
        enum ap_status s = parse_entry(label, it, st->data_len, e);
        if (s != AP_OK) return s;
        st->sorted[st->count] = e;
        st->count++;
    }

    qsort(st->sorted, st->count, sizeof *st->sorted, entry_cmp);
    for (size_t i = 1; i < st->count; i++)
        if (strcmp(st->sorted[i - 1]->name, st->sorted[i]->name) == 0)
            return ap_error(AP_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", label,
                            st->sorted[i]->name);
    return AP_OK;
}

/* ------------------------------------------------------------------ API */

static enum ap_status st_new(const char *label, struct ap_safetensors **out) {
    struct ap_safetensors *st = calloc(1, sizeof *st);
    char *copy = st ? malloc(strlen(label) + 1) : NULL;
    if (!copy) {
        free(st);
        return ap_error(AP_ERR_NOMEM, "%s: out of memory", label);
    }
    strcpy(copy, label);
    st->label = copy;
    *out = st;
    return AP_OK;
}

enum ap_status ap_safetensors_open_memory(const void *buf, size_t len, const char *label,
                                          struct ap_safetensors **out) {
    AP_ASSERT(out != NULL);
    *out = NULL;
    if (!label) label = "<memory>";
    if (!buf && len) return ap_error(AP_ERR_INVALID_ARG, "%s: NULL buffer of %zu bytes", label, len);
    struct ap_safetensors *st;
    enum ap_status s = st_new(label, &st);
    if (s != AP_OK) return s;
    s = parse(st, buf, len);
    if (s != AP_OK) {
        ap_safetensors_close(st);
        return s;
    }
    *out = st;
    return AP_OK;
}

enum ap_status ap_safetensors_open(const char *path, struct ap_safetensors **out) {
    AP_ASSERT(out != NULL);
    *out = NULL;
    if (!path) return ap_error(AP_ERR_INVALID_ARG, "safetensors: path is NULL");
    struct ap_safetensors *st;
    enum ap_status s = st_new(path, &st);
    if (s != AP_OK) return s;
    s = ap_file_map_open(path, &st->map);
    if (s == AP_OK) s = parse(st, st->map.data, st->map.size);
    if (s != AP_OK) {
        ap_safetensors_close(st);
        return s;
    }
    *out = st;
    return AP_OK;
}

void ap_safetensors_close(struct ap_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->count; i++) ap_aligned_free(st->entries[i].f32);
    free(st->entries);
    free(st->sorted);
    cJSON_Delete(st->root);
    ap_file_map_close(&st->map);
    free(st->label);
    free(st);
}

const char *ap_safetensors_label(const struct ap_safetensors *st) { return st->label; }

size_t ap_safetensors_count(const struct ap_safetensors *st) { return st->count; }

static void fill_view(const struct ap_safetensors *st, const struct st_entry *e, struct ap_tensor_view *view) {
    memset(view, 0, sizeof *view);
    view->name = e->name;
    view->dtype = e->dtype;
    view->ndim = e->ndim;
    memcpy(view->shape, e->shape, sizeof view->shape);
    view->data = st->data + e->begin;
    view->nbytes = e->end - e->begin;
}

enum ap_status ap_safetensors_get(const struct ap_safetensors *st, size_t index, struct ap_tensor_view *view) {
    AP_ASSERT(st && view);
    if (index >= st->count)
        return ap_error(AP_ERR_RANGE, "%s: tensor index %zu out of range (%zu tensors)", st->label, index,
                        st->count);
    fill_view(st, &st->entries[index], view);
    return AP_OK;
}

enum ap_status ap_safetensors_find(const struct ap_safetensors *st, const char *name,
                                   struct ap_tensor_view *view) {
    AP_ASSERT(st && name && view);
    const struct st_entry *e = lookup(st, name);
    if (!e) return ap_error(AP_ERR_FORMAT, "%s: no tensor '%s'", st->label, name);
    fill_view(st, e, view);
    return AP_OK;
}

int ap_safetensors_contains(const struct ap_safetensors *st, const char *name) {
    AP_ASSERT(st && name);
    return lookup(st, name) != NULL;
}

const char *ap_safetensors_metadata(const struct ap_safetensors *st, const char *key) {
    AP_ASSERT(st && key);
    if (!st->metadata) return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st->metadata, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

enum ap_status ap_safetensors_tensor_f32(struct ap_safetensors *st, const char *name, int32_t ndim,
                                         const int64_t *expected_shape, const float **out) {
    AP_ASSERT(st && name && out);
    *out = NULL;
    if (ndim < 0 || ndim > AP_MAX_DIMS || (ndim > 0 && !expected_shape))
        return ap_error(AP_ERR_INVALID_ARG, "%s: tensor '%s': expected ndim %d is not in 0..%d (or shape is NULL)",
                        st->label, name, (int)ndim, AP_MAX_DIMS);
    struct st_entry *e = lookup(st, name);
    if (!e) return ap_error(AP_ERR_FORMAT, "%s: no tensor '%s'", st->label, name);
    if (!ap_shape_matches(e->shape, e->ndim, expected_shape, ndim)) {
        char have[200], want[200];
        ap_shape_format(have, sizeof have, e->shape, e->ndim);
        ap_shape_format(want, sizeof want, expected_shape, ndim);
        return ap_error(AP_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", st->label, name, have, want);
    }
    if (e->dtype != AP_DTYPE_F32 && e->dtype != AP_DTYPE_F16 && e->dtype != AP_DTYPE_BF16)
        return ap_error(AP_ERR_SHAPE, "%s: tensor '%s' has dtype %s, expected F32 (or F16/BF16, converted)",
                        st->label, name, ap_dtype_name(e->dtype));

    const unsigned char *p = st->data + e->begin;
    if (e->dtype == AP_DTYPE_F32 && (uintptr_t)p % _Alignof(float) == 0) {
        *out = (const float *)(const void *)p;
        return AP_OK;
    }
    if (!e->f32) {
        size_t numel = (e->end - e->begin) / ap_dtype_size(e->dtype);
        if (numel > SIZE_MAX / sizeof(float))
            return ap_error(AP_ERR_NOMEM, "%s: tensor '%s' is too large to convert to float32", st->label, name);
        float *f = ap_aligned_alloc(numel * sizeof(float));
        if (!f)
            return ap_error(AP_ERR_NOMEM, "%s: tensor '%s': out of memory converting %zu %s values to float32",
                            st->label, name, numel, ap_dtype_name(e->dtype));
        ap_dtype_to_f32(e->dtype, p, numel, f);
        e->f32 = f;
    }
    *out = e->f32;
    return AP_OK;
}

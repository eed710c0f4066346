/* npy.c — read (bounds-checked, zero-copy) and write (atomic) NumPy .npy files.
 *
 * The header is a Python dict literal. Rather than evaluating it, a small
 * scanner accepts exactly the literal NumPy writes and the variations
 * Python allows in it: keys in any order, either quote character, any
 * spacing, a trailing comma, "L" suffixes on dimensions (Python 2 era). */
#include "io/npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/error.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c treats '=' (native) as little-endian and hands out file bytes as host values"
#endif

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64 /* bytes: where NumPy starts the data, and so does ap_npy_write */

/* descr type codes (without the byte-order character) and what they mean */
static const struct {
    const char *code;
    enum ap_dtype dtype;
} k_codes[] = {
    {"f4", AP_DTYPE_F32}, {"f2", AP_DTYPE_F16}, {"f8", AP_DTYPE_F64}, {"i8", AP_DTYPE_I64}, {"i4", AP_DTYPE_I32},
    {"i2", AP_DTYPE_I16}, {"i1", AP_DTYPE_I8},  {"u1", AP_DTYPE_U8},  {"b1", AP_DTYPE_BOOL},
};

/* ------------------------------------------------------- header scanner */

struct cursor {
    const char *label;
    const unsigned char *begin, *p, *end; /* the header text */
};

static void skip_ws(struct cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

/* Skip spaces, then consume ch if it is next. */
static int accept(struct cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == (unsigned char)ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static enum ap_status syntax(const struct cursor *c, const char *what) {
    return ap_error(AP_ERR_FORMAT, "%s: .npy header: %s (header offset %zu)", c->label, what,
                    (size_t)(c->p - c->begin));
}

/* A quoted Python string without escapes: 'text' or "text". */
static int scan_string(struct cursor *c, const unsigned char **s, size_t *n) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    unsigned char q = *c->p;
    const unsigned char *start = c->p + 1;
    for (const unsigned char *r = start; r < c->end; r++) {
        if (*r == '\\') return 0;
        if (*r == q) {
            *s = start;
            *n = (size_t)(r - start);
            c->p = r + 1;
            return 1;
        }
    }
    return 0;
}

static int scan_word(struct cursor *c, const char *word) {
    skip_ws(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return 0;
    /* a whole word: not the start of "Falsehood" */
    if ((size_t)(c->end - c->p) > n) {
        unsigned char next = c->p[n];
        if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') || (next >= '0' && next <= '9') ||
            next == '_')
            return 0;
    }
    c->p += n;
    return 1;
}

static enum ap_status parse_descr(struct cursor *c, struct ap_npy *npy) {
    skip_ws(c);
    if (c->p < c->end && *c->p == '[')
        return ap_error(AP_ERR_UNSUPPORTED, "%s: structured dtype (a list of fields) is not supported; save a "
                        "plain numeric array", c->label);
    const unsigned char *s;
    size_t n;
    if (!scan_string(c, &s, &n)) return syntax(c, "'descr' must be a quoted string such as '<f4'");
    char order = '=';
    const unsigned char *code = s;
    size_t code_len = n;
    if (n > 0 && (s[0] == '<' || s[0] == '>' || s[0] == '=' || s[0] == '|')) {
        order = (char)s[0];
        code++;
        code_len--;
    }
    for (size_t i = 0; i < sizeof k_codes / sizeof k_codes[0]; i++) {
        if (code_len == 2 && memcmp(code, k_codes[i].code, 2) == 0) {
            enum ap_dtype dt = k_codes[i].dtype;
            /* byte order matters only for multi-byte types; '|' ("not
             * applicable") and '=' (native) mean little-endian here */
            if (order == '>' && ap_dtype_size(dt) > 1)
                return ap_error(AP_ERR_UNSUPPORTED, "%s: big-endian dtype '%.*s' is not supported; save it "
                                "little-endian (arr.astype(arr.dtype.newbyteorder('<')))", c->label, (int)n,
                                (const char *)s);
            npy->dtype = dt;
            return AP_OK;
        }
    }
    return ap_error(AP_ERR_UNSUPPORTED, "%s: dtype '%.*s' is not supported (attnprune reads <f4, <f8, <f2, <i8, "
                    "<i4, <i2, |i1, |u1 and |b1)", c->label, n > 32 ? 32 : (int)n, (const char *)s);
}

/* A tuple of non-negative integers: (), (5,), (2, 3), (2, 3,). */
static enum ap_status parse_shape(struct cursor *c, struct ap_npy *npy) {
    if (!accept(c, '(')) return syntax(c, "'shape' must be a tuple such as (2, 3)");
    int32_t ndim = 0;
    int comma_after_last = 0;
    while (!accept(c, ')')) {
        if (ndim > 0 && !comma_after_last) return syntax(c, "expected ',' or ')' in 'shape'");
        skip_ws(c);
        if (c->p < c->end && *c->p == '-') return syntax(c, "negative dimension in 'shape'");
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return syntax(c, "expected a dimension in 'shape'");
        uint64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            unsigned d = (unsigned)(*c->p - '0');
            if (v > ((uint64_t)INT64_MAX - d) / 10) return syntax(c, "dimension in 'shape' is too large");
            v = v * 10 + d;
            c->p++;
        }
        if (c->p < c->end && (*c->p == 'L' || *c->p == 'l')) c->p++; /* Python 2 long */
        if (ndim == AP_MAX_DIMS)
            return ap_error(AP_ERR_UNSUPPORTED, "%s: .npy array has more than %d dimensions", c->label,
                            AP_MAX_DIMS);
        npy->shape[ndim++] = (int64_t)v;
        comma_after_last = accept(c, ',');
    }
    if (ndim == 1 && !comma_after_last) return syntax(c, "'shape' (n) is not a tuple; NumPy writes (n,)");
    npy->ndim = ndim;
    return AP_OK;
}

/* The dict: exactly the keys 'descr', 'fortran_order' and 'shape', once each. */
static enum ap_status parse_header(struct cursor *c, struct ap_npy *npy) {
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (!accept(c, '{')) return syntax(c, "expected '{' at the start of the header dict");
    for (;;) {
        if (accept(c, '}')) break;
        const unsigned char *k;
        size_t kn;
        if (!scan_string(c, &k, &kn)) return syntax(c, "expected a quoted key or '}'");
        if (!accept(c, ':')) return syntax(c, "expected ':' after a key");
        enum ap_status s = AP_OK;
        int *seen = NULL;
        if (kn == 5 && memcmp(k, "descr", 5) == 0) {
            seen = &have_descr;
            if (!*seen) s = parse_descr(c, npy);
        } else if (kn == 13 && memcmp(k, "fortran_order", 13) == 0) {
            seen = &have_order;
            if (!*seen) {
                if (scan_word(c, "True"))
                    s = ap_error(AP_ERR_UNSUPPORTED, "%s: Fortran-order (column-major) arrays are not supported; "
                                 "save np.ascontiguousarray(arr)", c->label);
                else if (!scan_word(c, "False"))
                    s = syntax(c, "'fortran_order' must be True or False");
            }
        } else if (kn == 5 && memcmp(k, "shape", 5) == 0) {
            seen = &have_shape;
            if (!*seen) s = parse_shape(c, npy);
        } else {
            return ap_error(AP_ERR_FORMAT, "%s: .npy header: unexpected key '%.*s' (expected 'descr', "
                            "'fortran_order' and 'shape')", c->label, kn > 32 ? 32 : (int)kn, (const char *)k);
        }
        if (*seen) return ap_error(AP_ERR_FORMAT, "%s: .npy header: key '%.*s' appears twice", c->label, (int)kn,
                                   (const char *)k);
        if (s != AP_OK) return s;
        *seen = 1;
        if (accept(c, '}')) break;
        if (!accept(c, ',')) return syntax(c, "expected ',' or '}' after a value");
    }
    skip_ws(c);
    if (c->p != c->end) return syntax(c, "unexpected text after the header dict");
    if (!have_descr || !have_order || !have_shape)
        return ap_error(AP_ERR_FORMAT, "%s: .npy header lacks %s", c->label,
                        !have_descr ? "'descr'" : !have_order ? "'fortran_order'" : "'shape'");
    return AP_OK;
}

/* ---------------------------------------------------------------- reader */

static enum ap_status parse(struct ap_npy *npy, const unsigned char *buf, size_t len) {
    const char *label = npy->label;
    if (len < 10 || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        if (len >= NPY_MAGIC_LEN && memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) == 0)
            return ap_error(AP_ERR_FORMAT, "%s: .npy file truncated in its preamble (%zu bytes)", label, len);
        return ap_error(AP_ERR_FORMAT, "%s: not a .npy file (%s)", label,
                        len < NPY_MAGIC_LEN ? "too short for the magic string" : "no \\x93NUMPY magic string");
    }
    unsigned major = buf[6], minor = buf[7];
    size_t prefix, hlen;
    if (major == 1 && minor == 0) {
        prefix = 10;
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if (len < 12)
            return ap_error(AP_ERR_FORMAT, "%s: .npy file truncated in its preamble (%zu bytes)", label, len);
        prefix = 12;
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    } else {
        return ap_error(AP_ERR_UNSUPPORTED, "%s: .npy format version %u.%u is not supported (1.0, 2.0 and 3.0 are)",
                        label, major, minor);
    }
    npy->version = (int32_t)major;
    if (hlen > len - prefix)
        return ap_error(AP_ERR_FORMAT, "%s: .npy header length %zu exceeds the %zu bytes that follow it "
                        "(truncated file?)", label, hlen, len - prefix);

    struct cursor c = {label, buf + prefix, buf + prefix, buf + prefix + hlen};
    enum ap_status s = parse_header(&c, npy);
    if (s != AP_OK) return s;

    size_t numel, esize = ap_dtype_size(npy->dtype);
    char shape_s[200];
    ap_shape_format(shape_s, sizeof shape_s, npy->shape, npy->ndim);
    if (!ap_shape_numel(npy->shape, npy->ndim, &numel) || numel > SIZE_MAX / esize)
        return ap_error(AP_ERR_FORMAT, "%s: .npy shape %s of %s overflows the size of memory", label, shape_s,
                        ap_dtype_name(npy->dtype));
    size_t have = len - prefix - hlen, need = numel * esize;
    if (have != need)
        return ap_error(AP_ERR_FORMAT, "%s: .npy shape %s of %s needs %zu data bytes, the file holds %zu%s", label,
                        shape_s, ap_dtype_name(npy->dtype), need, have,
                        have < need ? " (truncated?)" : " (trailing bytes)");
    npy->data = buf + prefix + hlen;
    npy->nbytes = need;
    return AP_OK;
}

static enum ap_status npy_new(const char *label, struct ap_npy **out) {
    struct ap_npy *npy = calloc(1, sizeof *npy);
    char *copy = npy ? malloc(strlen(label) + 1) : NULL;
    if (!copy) {
        free(npy);
        return ap_error(AP_ERR_NOMEM, "%s: out of memory", label);
    }
    strcpy(copy, label);
    npy->label = copy;
    *out = npy;
    return AP_OK;
}

enum ap_status ap_npy_parse_memory(const void *buf, size_t len, const char *label, struct ap_npy **out) {
    AP_ASSERT(out != NULL);
    *out = NULL;
    if (!label) label = "<memory>";
    if (!buf && len) return ap_error(AP_ERR_INVALID_ARG, "%s: NULL buffer of %zu bytes", label, len);
    struct ap_npy *npy;
    enum ap_status s = npy_new(label, &npy);
    if (s != AP_OK) return s;
    s = parse(npy, buf, len);
    if (s != AP_OK) {
        ap_npy_close(npy);
        return s;
    }
    *out = npy;
    return AP_OK;
}

enum ap_status ap_npy_open(const char *path, struct ap_npy **out) {
    AP_ASSERT(out != NULL);
    *out = NULL;
    if (!path) return ap_error(AP_ERR_INVALID_ARG, ".npy: path is NULL");
    struct ap_npy *npy;
    enum ap_status s = npy_new(path, &npy);
    if (s != AP_OK) return s;
    s = ap_file_map_open(path, &npy->map_);
    if (s == AP_OK) s = parse(npy, npy->map_.data, npy->map_.size);
    if (s != AP_OK) {
        ap_npy_close(npy);
        return s;
    }
    *out = npy;
    return AP_OK;
}

void ap_npy_close(struct ap_npy *npy) {
    if (!npy) return;
    ap_aligned_free(npy->f32_);
    ap_file_map_close(&npy->map_);
    free((char *)npy->label);
    free(npy);
}

enum ap_status ap_npy_f32(struct ap_npy *npy, int32_t ndim, const int64_t *expected_shape, const float **out) {
    AP_ASSERT(npy && out);
    *out = NULL;
    if (ndim < 0 || ndim > AP_MAX_DIMS || (ndim > 0 && !expected_shape))
        return ap_error(AP_ERR_INVALID_ARG, "%s: expected ndim %d is not in 0..%d (or shape is NULL)", npy->label,
                        (int)ndim, AP_MAX_DIMS);
    if (!ap_shape_matches(npy->shape, npy->ndim, expected_shape, ndim)) {
        char have[200], want[200];
        ap_shape_format(have, sizeof have, npy->shape, npy->ndim);
        ap_shape_format(want, sizeof want, expected_shape, ndim);
        return ap_error(AP_ERR_SHAPE, "%s: array has shape %s, expected %s", npy->label, have, want);
    }
    if (npy->dtype != AP_DTYPE_F32 && npy->dtype != AP_DTYPE_F16 && npy->dtype != AP_DTYPE_F64)
        return ap_error(AP_ERR_SHAPE, "%s: array has dtype %s, expected F32 (or F16/F64, converted)", npy->label,
                        ap_dtype_name(npy->dtype));
    if (npy->dtype == AP_DTYPE_F32 && (uintptr_t)npy->data % _Alignof(float) == 0) {
        *out = npy->data;
        return AP_OK;
    }
    if (!npy->f32_) {
        size_t numel = npy->nbytes / ap_dtype_size(npy->dtype);
        if (numel > SIZE_MAX / sizeof(float))
            return ap_error(AP_ERR_NOMEM, "%s: array is too large to convert to float32", npy->label);
        float *f = ap_aligned_alloc(numel * sizeof(float));
        if (!f)
            return ap_error(AP_ERR_NOMEM, "%s: out of memory converting %zu %s values to float32", npy->label,
                            numel, ap_dtype_name(npy->dtype));
        ap_dtype_to_f32(npy->dtype, npy->data, numel, f);
        npy->f32_ = f;
    }
    *out = npy->f32_;
    return AP_OK;
}

/* ---------------------------------------------------------------- writer */

static const char *descr_of(enum ap_dtype dtype) {
    switch (dtype) {
    case AP_DTYPE_F32: return "<f4";
    case AP_DTYPE_F16: return "<f2";
    case AP_DTYPE_F64: return "<f8";
    case AP_DTYPE_I64: return "<i8";
    case AP_DTYPE_I32: return "<i4";
    case AP_DTYPE_I16: return "<i2";
    case AP_DTYPE_I8: return "|i1";
    case AP_DTYPE_U8: return "|u1";
    case AP_DTYPE_BOOL: return "|b1";
    case AP_DTYPE_BF16: return NULL;
    }
    return NULL;
}

/* The 10-byte preamble and the dict, padded with spaces and ended by '\n' so
 * that the whole is a multiple of NPY_ALIGN bytes. Returns its length. */
static size_t build_header(char *out, size_t cap, const char *descr, const int64_t *shape, int32_t ndim) {
    char dict[400];
    size_t n = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int32_t i = 0; i < ndim; i++)
        n += (size_t)snprintf(dict + n, sizeof dict - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", ndim == 1 ? "," : "");
    size_t total = 10 + n + 1;
    total = (total + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    AP_ASSERT(total <= cap && total - 10 <= 0xffff);
    size_t hlen = total - 10;
    memcpy(out, NPY_MAGIC, NPY_MAGIC_LEN);
    out[6] = 1;
    out[7] = 0;
    out[8] = (char)(hlen & 0xff);
    out[9] = (char)(hlen >> 8);
    memcpy(out + 10, dict, n);
    memset(out + 10 + n, ' ', total - 10 - n - 1);
    out[total - 1] = '\n';
    return total;
}

static int write_all(int fd, const void *buf, size_t n) {
    const unsigned char *p = buf;
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

enum ap_status ap_npy_write(const char *path, enum ap_dtype dtype, const void *data, const int64_t *shape,
                            int32_t ndim) {
    if (!path) return ap_error(AP_ERR_INVALID_ARG, ".npy write: path is NULL");
    if (ndim < 0 || ndim > AP_MAX_DIMS || (ndim > 0 && !shape))
        return ap_error(AP_ERR_INVALID_ARG, "%s: cannot write %d dimensions (0..%d)", path, (int)ndim, AP_MAX_DIMS);
    const char *descr = descr_of(dtype);
    if (!descr)
        return ap_error(AP_ERR_UNSUPPORTED, "%s: NumPy has no %s dtype to write", path, ap_dtype_name(dtype));
    size_t numel, esize = ap_dtype_size(dtype);
    for (int32_t i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return ap_error(AP_ERR_INVALID_ARG, "%s: cannot write dimension %d of size %lld", path, (int)i,
                            (long long)shape[i]);
    if (!ap_shape_numel(shape, ndim, &numel) || numel > SIZE_MAX / esize)
        return ap_error(AP_ERR_INVALID_ARG, "%s: shape overflows the size of memory", path);
    size_t nbytes = numel * esize;
    if (!data && nbytes) return ap_error(AP_ERR_INVALID_ARG, "%s: data is NULL for %zu bytes", path, nbytes);

    char header[512];
    size_t hbytes = build_header(header, sizeof header, descr, shape, ndim);

    size_t tmp_cap = strlen(path) + 32;
    char *tmp = malloc(tmp_cap);
    if (!tmp) return ap_error(AP_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, tmp_cap, "%s.tmp.%ld", path, (long)getpid());

    int fd;
    do {
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        enum ap_status s = ap_error(AP_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return s; /* nothing of ours to remove */
    }
    const char *step = "cannot write";
    int ok = write_all(fd, header, hbytes) == 0 && write_all(fd, data, nbytes) == 0;
    if (ok && !(ok = fsync(fd) == 0)) step = "cannot flush";
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        step = "cannot close";
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        step = "cannot rename the temporary file onto it";
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        enum ap_status s = ap_error(AP_ERR_IO, "%s: %s (%s): %s", path, step, tmp, strerror(e));
        free(tmp);
        return s;
    }
    free(tmp);
    return AP_OK;
}

enum ap_status ap_npy_write_f32(const char *path, const float *data, const int64_t *shape, int32_t ndim) {
    return ap_npy_write(path, AP_DTYPE_F32, data, shape, ndim);
}

/* test_io.c — the file readers of src/io: file maps, safetensors, .npy.
 *
 * Valid files come from three authors: this file (in memory), NumPy and the
 * safetensors library (tests/corpus/, written by tests/fuzz/make_corpus.py,
 * whose values are repeated here), so a reader cannot merely agree with a
 * writer that shares its mistakes. Every malformed file must fail with the
 * right status and a message that names the file. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/dtype.h"
#include "io/file_map.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "test.h"

#define CHECK_CONTAINS(haystack, needle)                                                               \
    do {                                                                                               \
        const char *ap_h_ = (haystack), *ap_n_ = (needle);                                             \
        if (!ap_h_ || !strstr(ap_h_, ap_n_))                                                           \
            ap_test_fail(__FILE__, __LINE__, "'%s' does not contain '%s'", ap_h_ ? ap_h_ : "(null)", ap_n_); \
    } while (0)

/* ---------------------------------------------------------------- helpers */

static void corpus_path(char *buf, size_t cap, const char *kind, const char *name) {
    snprintf(buf, cap, "%s/tests/corpus/%s/%s", ap_test_source_dir(), kind, name);
}

/* A whole file in malloc'd memory (NULL if unreadable); *len its size. */
static unsigned char *read_all(const char *path, size_t *len) {
    struct ap_file_map m;
    if (ap_file_map_open(path, &m) != AP_OK) return NULL;
    unsigned char *buf = malloc(m.size ? m.size : 1);
    if (buf && m.size) memcpy(buf, m.data, m.size);
    *len = m.size;
    ap_file_map_close(&m);
    return buf;
}

/* Remove path and, if it is a directory, everything under it. */
static void remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                remove_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* A fresh scratch directory, and its removal. */
static void scratch_dir(char *buf, size_t cap) {
    snprintf(buf, cap, "/tmp/ap_test_io_XXXXXX");
    if (!mkdtemp(buf)) buf[0] = '\0';
}
static void scratch_free(const char *dir) {
    if (dir[0]) remove_tree(dir);
}

/* Names in dir that contain ".tmp." (left-over temporary files). */
static int count_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static int write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* A safetensors file in memory: the header json (padded with spaces to a
 * multiple of 8, as the reference writer does), then n bytes of data. */
static unsigned char *st_make(const char *json, const void *data, size_t n, size_t *len) {
    size_t h = strlen(json);
    size_t hp = (8 + h + 7) / 8 * 8 - 8;
    *len = 8 + hp + n;
    unsigned char *buf = malloc(*len);
    if (!buf) return NULL;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hp >> (8 * i));
    memcpy(buf + 8, json, h);
    memset(buf + 8 + h, ' ', hp - h);
    if (n) memcpy(buf + 8 + hp, data, n);
    return buf;
}

/* -------------------------------------------------------------- dtypes */

TEST(io_dtype_sizes_and_names) {
    CHECK_EQ_INT(ap_dtype_size(AP_DTYPE_F32), 4);
    CHECK_EQ_INT(ap_dtype_size(AP_DTYPE_F16), 2);
    CHECK_EQ_INT(ap_dtype_size(AP_DTYPE_BF16), 2);
    CHECK_EQ_INT(ap_dtype_size(AP_DTYPE_F64), 8);
    CHECK_EQ_INT(ap_dtype_size(AP_DTYPE_I64), 8);
    CHECK_EQ_INT(ap_dtype_size(AP_DTYPE_I32), 4);
    CHECK_EQ_INT(ap_dtype_size(AP_DTYPE_I16), 2);
    CHECK_EQ_INT(ap_dtype_size(AP_DTYPE_I8), 1);
    CHECK_EQ_INT(ap_dtype_size(AP_DTYPE_U8), 1);
    CHECK_EQ_INT(ap_dtype_size(AP_DTYPE_BOOL), 1);
    CHECK(strcmp(ap_dtype_name(AP_DTYPE_BF16), "BF16") == 0);
    CHECK(strcmp(ap_dtype_name(AP_DTYPE_BOOL), "BOOL") == 0);
    CHECK(strcmp(ap_dtype_name((enum ap_dtype)99), "?") == 0);
}

/* The bit patterns of tests/fuzz/make_corpus.py (F16_BITS, BF16_BITS) and
 * their exact values. */
static const uint16_t k_f16_bits[12] = {0x3C00, 0xC000, 0x0001, 0x03FF, 0x0400, 0x7BFF,
                                        0x7C00, 0xFC00, 0x7E00, 0x8000, 0x3555, 0x8001};
static const uint16_t k_bf16_bits[10] = {0x3F80, 0xC040, 0x0001, 0x007F, 0x7F80,
                                         0xFF80, 0x7FC0, 0x8000, 0x4049, 0x3E20};

static void f16_expected(float *want) {
    want[0] = 1.0f;
    want[1] = -2.0f;
    want[2] = ldexpf(1.0f, -24);          /* smallest subnormal */
    want[3] = ldexpf(1023.0f, -24);       /* largest subnormal */
    want[4] = ldexpf(1.0f, -14);          /* smallest normal */
    want[5] = 65504.0f;                   /* largest finite */
    want[6] = INFINITY;
    want[7] = -INFINITY;
    want[8] = NAN;
    want[9] = -0.0f;
    want[10] = 0.333251953125f;           /* 0x3555 = 1365/4096 */
    want[11] = -ldexpf(1.0f, -24);
}

static void bf16_expected(float *want) {
    want[0] = 1.0f;
    want[1] = -3.0f;
    want[2] = ldexpf(1.0f, -133);         /* a float subnormal: bits 0x00010000 */
    want[3] = ldexpf(127.0f, -133);
    want[4] = INFINITY;
    want[5] = -INFINITY;
    want[6] = NAN;
    want[7] = -0.0f;
    want[8] = 3.140625f;
    want[9] = 0.15625f;
}

/* Each value must match exactly, sign of zero included; NaN must stay NaN. */
static void check_exact(const float *got, const float *want, int n, const char *what) {
    for (int i = 0; i < n; i++) {
        int ok = isnan(want[i]) ? isnan(got[i]) : same_bits(got[i], want[i]);
        if (!ok) ap_test_fail(__FILE__, __LINE__, "%s[%d]: got %.9g, want %.9g", what, i, got[i], want[i]);
    }
}

TEST(io_f16_and_bf16_conversions) {
    float want[12], got[12];
    f16_expected(want);
    for (int i = 0; i < 12; i++) got[i] = ap_f16_to_f32(k_f16_bits[i]);
    check_exact(got, want, 12, "f16");
    CHECK(signbit(got[9]));
    bf16_expected(want);
    for (int i = 0; i < 10; i++) got[i] = ap_bf16_to_f32(k_bf16_bits[i]);
    check_exact(got, want, 10, "bf16");

    /* every finite half converts to the value its fields say */
    int bad = 0;
    for (uint32_t b = 0; b < 0x10000; b++) {
        uint32_t e = (b >> 10) & 0x1f, m = b & 0x3ff;
        if (e == 0x1f) continue;
        double v = e == 0 ? ldexp((double)m, -24) : ldexp(1.0 + m / 1024.0, (int)e - 15);
        if (b & 0x8000) v = -v;
        if ((double)ap_f16_to_f32((uint16_t)b) != v) bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

TEST(io_shape_format) {
    char buf[64];
    const int64_t s[3] = {384, 383, -1};
    ap_shape_format(buf, sizeof buf, s, 2);
    CHECK(strcmp(buf, "[384, 383]") == 0);
    ap_shape_format(buf, sizeof buf, s, 3);
    CHECK(strcmp(buf, "[384, 383, *]") == 0);
    ap_shape_format(buf, sizeof buf, NULL, 0);
    CHECK(strcmp(buf, "[]") == 0);
    ap_shape_format(buf, 8, s, 2); /* too small: cut short, still terminated */
    CHECK_EQ_INT(strlen(buf), 7);
    CHECK(strstr(buf, "...") != NULL);
    size_t n = 0;
    const int64_t big[3] = {(int64_t)1 << 40, (int64_t)1 << 40, 0};
    CHECK(ap_shape_numel(big, 3, &n) && n == 0); /* a zero dimension is never an overflow */
    CHECK(!ap_shape_numel(big, 2, &n));
}

/* ------------------------------------------------------------ file map */

TEST(io_file_map) {
    char dir[64], path[128];
    scratch_dir(dir, sizeof dir);
    REQUIRE(dir[0]);
    struct ap_file_map m;

    snprintf(path, sizeof path, "%s/missing.bin", dir);
    CHECK_STATUS(ap_file_map_open(path, &m), AP_ERR_IO);
    CHECK_CONTAINS(ap_last_error(), path);
    CHECK_CONTAINS(ap_last_error(), strerror(ENOENT));
    CHECK(m.data == NULL && m.size == 0);
    ap_file_map_close(&m); /* harmless on a failed open */

    CHECK_STATUS(ap_file_map_open(dir, &m), AP_ERR_IO);
    CHECK_CONTAINS(ap_last_error(), "directory");

    snprintf(path, sizeof path, "%s/empty.bin", dir);
    REQUIRE(write_bytes(path, "", 0) == 0);
    CHECK_STATUS(ap_file_map_open(path, &m), AP_OK);
    CHECK_EQ_INT(m.size, 0);
    CHECK(strcmp(m.path, path) == 0);
    ap_file_map_close(&m);

    snprintf(path, sizeof path, "%s/five.bin", dir);
    REQUIRE(write_bytes(path, "hello", 5) == 0);
    CHECK_STATUS(ap_file_map_open(path, &m), AP_OK);
    CHECK_EQ_INT(m.size, 5);
    CHECK(m.data && memcmp(m.data, "hello", 5) == 0);
    ap_file_map_close(&m);
    CHECK(m.data == NULL);
    ap_file_map_close(&m); /* twice is fine */
    scratch_free(dir);
}

/* --------------------------------------------------------- safetensors */

TEST(io_safetensors_f32_and_metadata) {
    char path[1024];
    corpus_path(path, sizeof path, "safetensors", "ok_f32.safetensors");
    struct ap_safetensors *st = NULL;
    CHECK_STATUS(ap_safetensors_open(path, &st), AP_OK);
    REQUIRE(st);
    CHECK(strcmp(ap_safetensors_label(st), path) == 0);
    CHECK_EQ_INT(ap_safetensors_count(st), 2);
    CHECK(strcmp(ap_safetensors_metadata(st, "format"), "pt") == 0);
    CHECK(strcmp(ap_safetensors_metadata(st, "note"), "two small tensors") == 0);
    CHECK(ap_safetensors_metadata(st, "missing") == NULL);

    struct ap_tensor_view v;
    CHECK_STATUS(ap_safetensors_get(st, 0, &v), AP_OK); /* header order */
    CHECK(strcmp(v.name, "a.weight") == 0);
    CHECK_EQ_INT(v.dtype, AP_DTYPE_F32);
    CHECK_EQ_INT(v.ndim, 2);
    CHECK_EQ_INT(v.shape[0], 2);
    CHECK_EQ_INT(v.shape[1], 3);
    CHECK_EQ_INT(v.nbytes, 24);
    CHECK_STATUS(ap_safetensors_get(st, 2, &v), AP_ERR_RANGE);

    const int64_t ws[2] = {2, 3};
    const float *w = NULL;
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "a.weight", 2, ws, &w), AP_OK);
    REQUIRE(w);
    const float w_want[6] = {1, 2, 3, 4, 5, 6};
    CHECK_ARRAY_NEAR("a.weight", w, w_want, 6, 0.0);
    CHECK_STATUS(ap_safetensors_find(st, "a.weight", &v), AP_OK);
    CHECK(w == v.data); /* aligned F32: no copy, a pointer into the map */

    const int64_t bs[1] = {3};
    const float *b = NULL;
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "a.bias", 1, bs, &b), AP_OK);
    REQUIRE(b);
    const float b_want[3] = {-0.5f, 0.25f, 1e-3f};
    CHECK_ARRAY_NEAR("a.bias", b, b_want, 3, 0.0);

    const int64_t any[2] = {-1, 3};
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "a.weight", 2, any, &w), AP_OK); /* wildcard */

    CHECK_STATUS(ap_safetensors_find(st, "a.nothing", &v), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), path);
    CHECK_CONTAINS(ap_last_error(), "no tensor 'a.nothing'");
    CHECK(!ap_safetensors_contains(st, "a.nothing"));
    CHECK(ap_safetensors_contains(st, "a.bias"));
    ap_safetensors_close(st);
}

TEST(io_safetensors_half_types_exact) {
    char path[1024];
    corpus_path(path, sizeof path, "safetensors", "ok_mixed.safetensors");
    struct ap_safetensors *st = NULL;
    CHECK_STATUS(ap_safetensors_open(path, &st), AP_OK);
    REQUIRE(st);
    CHECK_EQ_INT(ap_safetensors_count(st), 6);
    CHECK(ap_safetensors_metadata(st, "format") == NULL);

    float want[12];
    const float *f = NULL, *again = NULL;
    const int64_t s16[1] = {12}, sbf[1] = {10}, s32[2] = {2, 2}, sempty[2] = {0, 4};
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "f16", 1, s16, &f), AP_OK);
    REQUIRE(f);
    f16_expected(want);
    check_exact(f, want, 12, "f16 tensor");
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "f16", 1, s16, &again), AP_OK);
    CHECK(again == f); /* converted once */

    CHECK_STATUS(ap_safetensors_tensor_f32(st, "bf16", 1, sbf, &f), AP_OK);
    REQUIRE(f);
    bf16_expected(want);
    check_exact(f, want, 10, "bf16 tensor");

    CHECK_STATUS(ap_safetensors_tensor_f32(st, "f32", 2, s32, &f), AP_OK);
    REQUIRE(f);
    const float w32[4] = {1.5f, -2.0f, 3.25f, 0.0f};
    CHECK_ARRAY_NEAR("f32", f, w32, 4, 0.0);

    CHECK_STATUS(ap_safetensors_tensor_f32(st, "scalar", 0, NULL, &f), AP_OK);
    REQUIRE(f);
    CHECK(f[0] == 42.0f);
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "empty", 2, sempty, &f), AP_OK);

    struct ap_tensor_view v;
    CHECK_STATUS(ap_safetensors_find(st, "i64", &v), AP_OK);
    CHECK_EQ_INT(v.dtype, AP_DTYPE_I64);
    int64_t ids[2];
    REQUIRE(v.nbytes == sizeof ids);
    memcpy(ids, v.data, sizeof ids);
    CHECK_EQ_INT(ids[0], -7);
    CHECK_EQ_INT(ids[1], (int64_t)1 << 40);
    const int64_t si[1] = {2};
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "i64", 1, si, &f), AP_ERR_SHAPE);
    CHECK_CONTAINS(ap_last_error(), "tensor 'i64' has dtype I64, expected F32");
    CHECK_CONTAINS(ap_last_error(), path);

    /* shape and rank mismatches name the tensor and both shapes */
    const int64_t wrong[2] = {2, 3};
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "f32", 2, wrong, &f), AP_ERR_SHAPE);
    CHECK_CONTAINS(ap_last_error(), "ok_mixed.safetensors: tensor 'f32' has shape [2, 2], expected [2, 3]");
    CHECK(f == NULL);
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "f32", 1, wrong, &f), AP_ERR_SHAPE);
    CHECK_CONTAINS(ap_last_error(), "has shape [2, 2], expected [2]");
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "f32", 9, wrong, &f), AP_ERR_INVALID_ARG);
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "nope", 2, wrong, &f), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "no tensor 'nope'");
    ap_safetensors_close(st);
}

/* The message of the style guide, word for word. */
TEST(io_safetensors_shape_message) {
    const char *json = "{\"encoder.layer.0.attention.self.query.weight\":{\"dtype\":\"F32\",\"shape\":[384,383],"
                       "\"data_offsets\":[0,588288]}}";
    size_t n = 384 * 383 * sizeof(float), len;
    float *zeros = calloc(384 * 383, sizeof(float));
    REQUIRE(zeros);
    unsigned char *buf = st_make(json, zeros, n, &len);
    free(zeros);
    REQUIRE(buf);
    struct ap_safetensors *st = NULL;
    CHECK_STATUS(ap_safetensors_open_memory(buf, len, "models/x/model.safetensors", &st), AP_OK);
    REQUIRE(st);
    const int64_t want[2] = {384, 384};
    const float *f;
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "encoder.layer.0.attention.self.query.weight", 2, want, &f),
                 AP_ERR_SHAPE);
    CHECK(strcmp(ap_last_error(), "models/x/model.safetensors: tensor 'encoder.layer.0.attention.self.query.weight' "
                                  "has shape [384, 383], expected [384, 384]") == 0);
    ap_safetensors_close(st);
    free(buf);
}

TEST(io_safetensors_misaligned_f32_is_copied) {
    /* from a file: the data section sits 2 bytes past a 4-byte boundary */
    char path[1024];
    corpus_path(path, sizeof path, "safetensors", "ok_misaligned.safetensors");
    struct ap_safetensors *st = NULL;
    CHECK_STATUS(ap_safetensors_open(path, &st), AP_OK);
    REQUIRE(st);
    struct ap_tensor_view v;
    CHECK_STATUS(ap_safetensors_find(st, "m", &v), AP_OK);
    CHECK((uintptr_t)v.data % 4 != 0);
    const int64_t s[1] = {3};
    const float *f = NULL, *again = NULL;
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "m", 1, s, &f), AP_OK);
    REQUIRE(f);
    CHECK((uintptr_t)f % 4 == 0);
    CHECK(f != v.data);
    const float want[3] = {7.0f, -8.5f, 9.25f};
    CHECK_ARRAY_NEAR("m", f, want, 3, 0.0);
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "m", 1, s, &again), AP_OK);
    CHECK(again == f);
    ap_safetensors_close(st);

    /* from memory: an aligned file placed at an odd address */
    corpus_path(path, sizeof path, "safetensors", "ok_f32.safetensors");
    size_t len;
    unsigned char *file = read_all(path, &len);
    REQUIRE(file);
    unsigned char *shifted = malloc(len + 1);
    REQUIRE(shifted);
    memcpy(shifted + 1, file, len);
    CHECK_STATUS(ap_safetensors_open_memory(shifted + 1, len, "shifted", &st), AP_OK);
    if (st) {
        const int64_t bs[1] = {3};
        CHECK_STATUS(ap_safetensors_tensor_f32(st, "a.bias", 1, bs, &f), AP_OK);
        const float b_want[3] = {-0.5f, 0.25f, 1e-3f};
        if (f) CHECK_ARRAY_NEAR("a.bias shifted", f, b_want, 3, 0.0);
        ap_safetensors_close(st);
    }
    free(shifted);
    free(file);
}

TEST(io_safetensors_dtypes_and_overlap) {
    char path[1024];
    corpus_path(path, sizeof path, "safetensors", "ok_dtypes_overlap.safetensors");
    struct ap_safetensors *st = NULL;
    CHECK_STATUS(ap_safetensors_open(path, &st), AP_OK);
    REQUIRE(st);
    struct ap_tensor_view v, o;
    double d;
    int32_t i32;
    int16_t i16;
    CHECK_STATUS(ap_safetensors_find(st, "f64", &v), AP_OK);
    CHECK_EQ_INT(v.dtype, AP_DTYPE_F64);
    memcpy(&d, v.data, 8);
    CHECK(d == 2.5);
    CHECK_STATUS(ap_safetensors_find(st, "overlap", &o), AP_OK);
    CHECK(o.data == v.data); /* shares the bytes of f64 */
    CHECK_STATUS(ap_safetensors_find(st, "i32", &v), AP_OK);
    memcpy(&i32, v.data, 4);
    CHECK_EQ_INT(i32, -3);
    CHECK_STATUS(ap_safetensors_find(st, "i16", &v), AP_OK);
    memcpy(&i16, v.data, 2);
    CHECK_EQ_INT(i16, 300);
    CHECK_STATUS(ap_safetensors_find(st, "i8", &v), AP_OK);
    CHECK_EQ_INT(*(const int8_t *)v.data, -5);
    CHECK_STATUS(ap_safetensors_find(st, "u8", &v), AP_OK);
    CHECK_EQ_INT(*(const uint8_t *)v.data, 255);
    CHECK_STATUS(ap_safetensors_find(st, "bool", &v), AP_OK);
    CHECK_EQ_INT(v.dtype, AP_DTYPE_BOOL);
    CHECK_EQ_INT(*(const uint8_t *)v.data, 1);
    ap_safetensors_close(st);

    corpus_path(path, sizeof path, "safetensors", "ok_no_tensors.safetensors");
    CHECK_STATUS(ap_safetensors_open(path, &st), AP_OK);
    REQUIRE(st);
    CHECK_EQ_INT(ap_safetensors_count(st), 0);
    CHECK(strcmp(ap_safetensors_metadata(st, "format"), "np") == 0);
    ap_safetensors_close(st);
}

/* Written by safetensors.torch.save (make_corpus.py). */
TEST(io_safetensors_written_by_library) {
    char path[1024];
    corpus_path(path, sizeof path, "safetensors", "lib_torch.safetensors");
    struct ap_safetensors *st = NULL;
    CHECK_STATUS(ap_safetensors_open(path, &st), AP_OK);
    REQUIRE(st);
    CHECK_EQ_INT(ap_safetensors_count(st), 4);
    CHECK(strcmp(ap_safetensors_metadata(st, "format"), "pt") == 0);
    const float *f = NULL;
    const int64_t sw[2] = {2, 2}, sh[1] = {3}, sb[1] = {4};
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "w", 2, sw, &f), AP_OK);
    const float w[4] = {0.5f, -1.0f, 2.0f, 1e-8f};
    if (f) CHECK_ARRAY_NEAR("w", f, w, 4, 0.0);
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "h", 1, sh, &f), AP_OK);
    const float h[3] = {1.0f, -0.5f, 65504.0f};
    if (f) CHECK_ARRAY_NEAR("h", f, h, 3, 0.0);
    CHECK_STATUS(ap_safetensors_tensor_f32(st, "b", 1, sb, &f), AP_OK);
    if (f) {
        const float b[3] = {1.0f, -2.0f, 0.15625f};
        CHECK_ARRAY_NEAR("b", f, b, 3, 0.0);
        CHECK_NEAR(f[3] / 3.0e38f, 1.0, 1.0 / 256); /* bfloat16 keeps 8 significant bits */
    }
    struct ap_tensor_view v;
    CHECK_STATUS(ap_safetensors_find(st, "ids", &v), AP_OK);
    int64_t ids[3];
    REQUIRE(v.nbytes == sizeof ids);
    memcpy(ids, v.data, sizeof ids);
    CHECK(ids[0] == 3 && ids[1] == 1 && ids[2] == 4);
    ap_safetensors_close(st);
}

struct bad_case {
    const char *file;
    enum ap_status status;
    const char *says; /* a part of the message */
};

static const struct bad_case k_bad_safetensors[] = {
    {"bad_short_file", AP_ERR_FORMAT, "5 bytes, too short"},
    {"bad_header_past_end", AP_ERR_FORMAT, "header length 1000 exceeds"},
    {"bad_header_absurd", AP_ERR_FORMAT, "header length 1099511627776 is absurd"},
    {"bad_header_not_json", AP_ERR_FORMAT, "not valid JSON"},
    {"bad_header_not_object", AP_ERR_FORMAT, "not an object"},
    {"bad_header_trailing_text", AP_ERR_FORMAT, "unexpected text after the JSON header"},
    {"bad_header_utf8", AP_ERR_FORMAT, "not valid UTF-8"},
    {"bad_entry_not_object", AP_ERR_FORMAT, "tensor 't': entry is an array"},
    {"bad_missing_dtype", AP_ERR_FORMAT, "tensor 't': \"dtype\" is missing"},
    {"bad_missing_shape", AP_ERR_FORMAT, "tensor 't': \"shape\" is missing"},
    {"bad_dtype_unknown", AP_ERR_FORMAT, "unknown dtype \"F33\""},
    {"bad_dtype_unsupported_u16", AP_ERR_UNSUPPORTED, "dtype U16 is not supported"},
    {"bad_shape_not_array", AP_ERR_FORMAT, "\"shape\" is 2, expected an array"},
    {"bad_shape_negative", AP_ERR_FORMAT, "shape[0] is -2"},
    {"bad_shape_fraction", AP_ERR_FORMAT, "shape[0] is 2.5"},
    {"bad_shape_nine_dims", AP_ERR_UNSUPPORTED, "9 dimensions"},
    {"bad_shape_beyond_2p53", AP_ERR_FORMAT, "shape[0] is 9007199254740992"},
    {"bad_shape_overflow", AP_ERR_FORMAT, "overflows"},
    {"bad_offsets_one_number", AP_ERR_FORMAT, "two integers"},
    {"bad_offsets_reversed", AP_ERR_FORMAT, "data_offsets [8, 0] begin after they end"},
    {"bad_offsets_past_end", AP_ERR_FORMAT, "past the end of the data section (8 bytes)"},
    {"bad_offsets_size_mismatch", AP_ERR_FORMAT, "shape [3] of F32 needs 12 bytes, but data_offsets [0, 8] hold 8"},
    {"bad_metadata_not_string", AP_ERR_FORMAT, "\"__metadata__\" value of \"epoch\" is 3"},
    {"bad_duplicate_name", AP_ERR_FORMAT, "tensor 't' appears twice"},
};

TEST(io_safetensors_malformed_corpus) {
    for (size_t i = 0; i < sizeof k_bad_safetensors / sizeof k_bad_safetensors[0]; i++) {
        const struct bad_case *c = &k_bad_safetensors[i];
        char name[128], path[1024];
        snprintf(name, sizeof name, "%s.safetensors", c->file);
        corpus_path(path, sizeof path, "safetensors", name);
        struct ap_safetensors *st = (struct ap_safetensors *)&st; /* must be reset to NULL */
        enum ap_status s = ap_safetensors_open(path, &st);
        if (s != c->status)
            ap_test_fail(__FILE__, __LINE__, "%s: status %d, expected %d (%s)", c->file, s, c->status,
                         ap_last_error());
        if (!strstr(ap_last_error(), path) || !strstr(ap_last_error(), c->says))
            ap_test_fail(__FILE__, __LINE__, "%s: message '%s' lacks the path or '%s'", c->file, ap_last_error(),
                         c->says);
        CHECK(st == NULL);
        if (s == AP_OK) ap_safetensors_close(st);
    }
}

/* Malformed headers not in the seed corpus. */
TEST(io_safetensors_malformed_memory) {
    static const struct {
        const char *json;
        enum ap_status status;
        const char *says;
    } cases[] = {
        {"{\"t\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", AP_ERR_FORMAT, "\"dtype\" is 32"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2]}}", AP_ERR_FORMAT, "\"data_offsets\" is missing"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", AP_ERR_FORMAT, "[-8, 0]"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.5]}}", AP_ERR_FORMAT, "[0, 8.5]"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,\"8\"]}}", AP_ERR_FORMAT, "a string"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,16]}}", AP_ERR_FORMAT, "two integers"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,8]}}", AP_ERR_FORMAT, "shape[0] is 1e+300"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,8]}}", AP_ERR_FORMAT, "shape[0] is null"},
        {"{\"t\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", AP_ERR_UNSUPPORTED, "F8_E4M3"},
        {"{\"t\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", AP_ERR_FORMAT, "unknown dtype \"f32\""},
        {"{\"__metadata__\":[\"a\"]}", AP_ERR_FORMAT, "\"__metadata__\" must be an object"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", AP_ERR_FORMAT, "appears twice"},
        {"\"just a string\"", AP_ERR_FORMAT, "not an object"},
        {"", AP_ERR_FORMAT, "not valid JSON"},
        {"{\"a\":1}\x01", AP_ERR_FORMAT, "unexpected text after"},
        {"{\"\xc0\xaf\":1}", AP_ERR_FORMAT, "not valid UTF-8"}, /* an overlong '/' */
    };
    const float data[2] = {1, 2};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        unsigned char *buf = st_make(cases[i].json, data, sizeof data, &len);
        REQUIRE(buf);
        struct ap_safetensors *st = NULL;
        enum ap_status s = ap_safetensors_open_memory(buf, len, "mem.safetensors", &st);
        if (s != cases[i].status)
            ap_test_fail(__FILE__, __LINE__, "case %zu: status %d, expected %d (%s)", i, s, cases[i].status,
                         ap_last_error());
        if (!strstr(ap_last_error(), "mem.safetensors: ") || !strstr(ap_last_error(), cases[i].says))
            ap_test_fail(__FILE__, __LINE__, "case %zu: message '%s' lacks the label or '%s'", i, ap_last_error(),
                         cases[i].says);
        ap_safetensors_close(st);
        free(buf);
    }

    /* a NUL byte inside the header, and a header length of exactly the file */
    const char nul[] = "{\"a\0b\":1}";
    unsigned char buf[8 + sizeof nul - 1];
    memset(buf, 0, 8);
    buf[0] = sizeof nul - 1;
    memcpy(buf + 8, nul, sizeof nul - 1);
    struct ap_safetensors *st = NULL;
    CHECK_STATUS(ap_safetensors_open_memory(buf, sizeof buf, NULL, &st), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "<memory>: header is not valid UTF-8 text (byte 0x00");
    CHECK_STATUS(ap_safetensors_open_memory(NULL, 0, "nothing", &st), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "nothing: 0 bytes, too short");

    CHECK_STATUS(ap_safetensors_open("/nonexistent/dir/model.safetensors", &st), AP_ERR_IO);
    CHECK_CONTAINS(ap_last_error(), "/nonexistent/dir/model.safetensors: cannot open");
}

/* ------------------------------------------------------------------- npy */

TEST(io_npy_written_by_numpy) {
    char path[1024];
    struct ap_npy *a = NULL;
    const float *f = NULL;

    corpus_path(path, sizeof path, "npy", "np_f32_2x3.npy");
    CHECK_STATUS(ap_npy_open(path, &a), AP_OK);
    REQUIRE(a);
    CHECK_EQ_INT(a->dtype, AP_DTYPE_F32);
    CHECK_EQ_INT(a->ndim, 2);
    CHECK(a->shape[0] == 2 && a->shape[1] == 3);
    CHECK_EQ_INT(a->version, 1);
    CHECK((size_t)((const unsigned char *)a->data - a->map_.data) % 64 == 0); /* NumPy aligns the data */
    const int64_t s23[2] = {2, 3};
    CHECK_STATUS(ap_npy_f32(a, 2, s23, &f), AP_OK);
    REQUIRE(f);
    CHECK(f == a->data);
    const float want[6] = {0.5f, -1.25f, 3.0f, 1e-3f, 65504.0f, -0.0f};
    for (int i = 0; i < 6; i++) CHECK(same_bits(f[i], want[i]));
    const int64_t s32[2] = {3, 2};
    CHECK_STATUS(ap_npy_f32(a, 2, s32, &f), AP_ERR_SHAPE);
    CHECK_CONTAINS(ap_last_error(), "np_f32_2x3.npy: array has shape [2, 3], expected [3, 2]");
    ap_npy_close(a);

    corpus_path(path, sizeof path, "npy", "np_f64_scalar.npy");
    CHECK_STATUS(ap_npy_open(path, &a), AP_OK);
    REQUIRE(a);
    CHECK_EQ_INT(a->dtype, AP_DTYPE_F64);
    CHECK_EQ_INT(a->ndim, 0);
    CHECK_EQ_INT(a->nbytes, 8);
    CHECK_STATUS(ap_npy_f32(a, 0, NULL, &f), AP_OK);
    if (f) CHECK(f[0] == 3.25f);
    ap_npy_close(a);

    corpus_path(path, sizeof path, "npy", "np_f16.npy");
    CHECK_STATUS(ap_npy_open(path, &a), AP_OK);
    REQUIRE(a);
    CHECK_EQ_INT(a->dtype, AP_DTYPE_F16);
    const int64_t s4[1] = {4};
    CHECK_STATUS(ap_npy_f32(a, 1, s4, &f), AP_OK);
    if (f) {
        const float h[4] = {1.0f, -2.0f, ldexpf(1.0f, -14), INFINITY};
        check_exact(f, h, 4, "np_f16");
    }
    ap_npy_close(a);

    corpus_path(path, sizeof path, "npy", "np_bool_empty.npy");
    CHECK_STATUS(ap_npy_open(path, &a), AP_OK);
    REQUIRE(a);
    CHECK_EQ_INT(a->dtype, AP_DTYPE_BOOL);
    CHECK(a->ndim == 2 && a->shape[0] == 0 && a->shape[1] == 3);
    CHECK_EQ_INT(a->nbytes, 0);
    CHECK_STATUS(ap_npy_f32(a, 2, NULL, &f), AP_ERR_INVALID_ARG);
    const int64_t s03[2] = {0, 3};
    CHECK_STATUS(ap_npy_f32(a, 2, s03, &f), AP_ERR_SHAPE);
    CHECK_CONTAINS(ap_last_error(), "has dtype BOOL");
    ap_npy_close(a);

    corpus_path(path, sizeof path, "npy", "np_v3_i32.npy");
    CHECK_STATUS(ap_npy_open(path, &a), AP_OK);
    REQUIRE(a);
    CHECK_EQ_INT(a->version, 3);
    CHECK_EQ_INT(a->dtype, AP_DTYPE_I32);
    int32_t v[4];
    REQUIRE(a->nbytes == sizeof v);
    memcpy(v, a->data, sizeof v);
    CHECK(v[0] == 1 && v[1] == -2 && v[2] == 3 && v[3] == -4);
    ap_npy_close(a);
}

/* Header variations Python allows (make_corpus.py writes them by hand). */
TEST(io_npy_header_variations) {
    static const struct {
        const char *file;
        enum ap_dtype dtype;
        int32_t ndim;
        int64_t d0, d1;
        int32_t version;
    } cases[] = {
        {"ok_plain.npy", AP_DTYPE_F32, 2, 2, 3, 1},
        {"ok_keys_reordered_dquotes.npy", AP_DTYPE_F32, 2, 3, 2, 1},
        {"ok_long_suffix_native.npy", AP_DTYPE_F32, 2, 2, 3, 1},
        {"ok_scalar_i32.npy", AP_DTYPE_I32, 0, 0, 0, 1},
        {"ok_version2.npy", AP_DTYPE_I64, 1, 2, 0, 2},
        {"ok_unpadded_bigendian_byte.npy", AP_DTYPE_I8, 1, 2, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[1024];
        corpus_path(path, sizeof path, "npy", cases[i].file);
        struct ap_npy *a = NULL;
        CHECK_STATUS(ap_npy_open(path, &a), AP_OK);
        if (!a) continue;
        if (a->dtype != cases[i].dtype || a->ndim != cases[i].ndim || a->shape[0] != cases[i].d0 ||
            a->shape[1] != cases[i].d1 || a->version != cases[i].version)
            ap_test_fail(__FILE__, __LINE__, "%s: dtype %s ndim %d shape [%lld, %lld] v%d", cases[i].file,
                         ap_dtype_name(a->dtype), a->ndim, (long long)a->shape[0], (long long)a->shape[1],
                         a->version);
        ap_npy_close(a);
    }
    char path[1024];
    struct ap_npy *a = NULL;
    corpus_path(path, sizeof path, "npy", "ok_unpadded_bigendian_byte.npy");
    CHECK_STATUS(ap_npy_open(path, &a), AP_OK);
    if (a) {
        const int8_t *b = a->data;
        CHECK(b[0] == 127 && b[1] == -128);
        ap_npy_close(a);
    }
    corpus_path(path, sizeof path, "npy", "ok_version2.npy");
    CHECK_STATUS(ap_npy_open(path, &a), AP_OK);
    if (a) {
        int64_t q[2];
        memcpy(q, a->data, sizeof q);
        CHECK(q[0] == 1 && q[1] == -1);
        ap_npy_close(a);
    }
}

static const struct bad_case k_bad_npy[] = {
    {"bad_short", AP_ERR_FORMAT, "not a .npy file"},
    {"bad_magic", AP_ERR_FORMAT, "magic"},
    {"bad_truncated_preamble", AP_ERR_FORMAT, "truncated in its preamble"},
    {"bad_version", AP_ERR_UNSUPPORTED, "version 4.0"},
    {"bad_header_past_end", AP_ERR_FORMAT, "header length 4000 exceeds"},
    {"bad_not_dict", AP_ERR_FORMAT, "expected '{'"},
    {"bad_missing_shape", AP_ERR_FORMAT, "lacks 'shape'"},
    {"bad_unknown_key", AP_ERR_FORMAT, "unexpected key 'x'"},
    {"bad_duplicate_key", AP_ERR_FORMAT, "key 'descr' appears twice"},
    {"bad_fortran_order", AP_ERR_UNSUPPORTED, "Fortran-order"},
    {"bad_big_endian", AP_ERR_UNSUPPORTED, "big-endian dtype '>f4'"},
    {"bad_dtype_u4", AP_ERR_UNSUPPORTED, "dtype '<u4' is not supported"},
    {"bad_structured", AP_ERR_UNSUPPORTED, "structured dtype"},
    {"bad_shape_not_tuple", AP_ERR_FORMAT, "not a tuple"},
    {"bad_shape_negative", AP_ERR_FORMAT, "negative dimension"},
    {"bad_shape_nine_dims", AP_ERR_UNSUPPORTED, "more than 8 dimensions"},
    {"bad_shape_overflow", AP_ERR_FORMAT, "overflows"},
    {"bad_data_truncated", AP_ERR_FORMAT, "needs 8 data bytes, the file holds 6"},
    {"bad_trailing_bytes", AP_ERR_FORMAT, "needs 8 data bytes, the file holds 9"},
};

TEST(io_npy_malformed_corpus) {
    for (size_t i = 0; i < sizeof k_bad_npy / sizeof k_bad_npy[0]; i++) {
        const struct bad_case *c = &k_bad_npy[i];
        char name[128], path[1024];
        snprintf(name, sizeof name, "%s.npy", c->file);
        corpus_path(path, sizeof path, "npy", name);
        struct ap_npy *a = (struct ap_npy *)&a;
        enum ap_status s = ap_npy_open(path, &a);
        if (s != c->status)
            ap_test_fail(__FILE__, __LINE__, "%s: status %d, expected %d (%s)", c->file, s, c->status,
                         ap_last_error());
        if (!strstr(ap_last_error(), path) || !strstr(ap_last_error(), c->says))
            ap_test_fail(__FILE__, __LINE__, "%s: message '%s' lacks the path or '%s'", c->file, ap_last_error(),
                         c->says);
        CHECK(a == NULL);
        if (s == AP_OK) ap_npy_close(a);
    }
}

/* Headers not in the seed corpus, built here (version 1.0, unpadded). */
TEST(io_npy_malformed_memory) {
    static const struct {
        const char *header;
        enum ap_status status;
        const char *says;
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", AP_ERR_FORMAT, "True or False"},
        {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,)}", AP_ERR_FORMAT, "True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", AP_ERR_FORMAT, "must be a tuple"},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (2,)}", AP_ERR_UNSUPPORTED, "'|O'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} 7", AP_ERR_FORMAT, "after the header dict"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", AP_ERR_FORMAT, "expected ',' or '}'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 2)}", AP_ERR_FORMAT, "expected ',' or ')'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", AP_ERR_FORMAT, "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,),", AP_ERR_FORMAT, "expected a quoted key or '}'"},
        {"{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,)}", AP_ERR_FORMAT, "quoted string"},
        {"{descr: '<f4'}", AP_ERR_FORMAT, "expected a quoted key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char buf[256];
        size_t h = strlen(cases[i].header);
        REQUIRE(10 + h + 8 <= sizeof buf);
        memcpy(buf, "\x93NUMPY\x01\x00", 8);
        buf[8] = (unsigned char)h;
        buf[9] = 0;
        memcpy(buf + 10, cases[i].header, h);
        memset(buf + 10 + h, 0, 8); /* two float32 */
        struct ap_npy *a = NULL;
        enum ap_status s = ap_npy_parse_memory(buf, 10 + h + 8, "mem.npy", &a);
        if (s != cases[i].status)
            ap_test_fail(__FILE__, __LINE__, "case %zu: status %d, expected %d (%s)", i, s, cases[i].status,
                         ap_last_error());
        if (!strstr(ap_last_error(), "mem.npy: ") || !strstr(ap_last_error(), cases[i].says))
            ap_test_fail(__FILE__, __LINE__, "case %zu: message '%s' lacks the label or '%s'", i, ap_last_error(),
                         cases[i].says);
        ap_npy_close(a);
    }
    struct ap_npy *a = NULL;
    CHECK_STATUS(ap_npy_parse_memory(NULL, 0, NULL, &a), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "<memory>: not a .npy file");
}

TEST(io_npy_misaligned_f32_is_copied) {
    char path[1024];
    corpus_path(path, sizeof path, "npy", "np_f32_2x3.npy");
    size_t len;
    unsigned char *file = read_all(path, &len);
    REQUIRE(file);
    unsigned char *shifted = malloc(len + 3);
    REQUIRE(shifted);
    memcpy(shifted + 3, file, len);
    struct ap_npy *a = NULL;
    CHECK_STATUS(ap_npy_parse_memory(shifted + 3, len, "shifted.npy", &a), AP_OK);
    if (a) {
        const float *f = NULL;
        const int64_t any[2] = {-1, -1};
        CHECK_STATUS(ap_npy_f32(a, 2, any, &f), AP_OK);
        CHECK(f != NULL && f != a->data && (uintptr_t)f % 4 == 0);
        const float want[6] = {0.5f, -1.25f, 3.0f, 1e-3f, 65504.0f, -0.0f};
        if (f) CHECK_ARRAY_NEAR("shifted", f, want, 6, 0.0);
        ap_npy_close(a);
    }
    free(shifted);
    free(file);
}

/* Write, read back, compare: several dtypes and shapes, including 0-d, a
 * zero-length dimension and the full AP_MAX_DIMS. */
TEST(io_npy_round_trip) {
    char dir[64];
    scratch_dir(dir, sizeof dir);
    REQUIRE(dir[0]);
    static const int64_t shapes[][AP_MAX_DIMS] = {
        {0}, {5}, {2, 3}, {0, 3}, {2, 0, 4}, {1, 2, 1, 2, 1, 1, 1, 3},
    };
    static const int32_t ndims[] = {0, 1, 2, 2, 3, 8};
    static const enum ap_dtype dtypes[] = {AP_DTYPE_F32, AP_DTYPE_I32, AP_DTYPE_I64, AP_DTYPE_F64, AP_DTYPE_F16,
                                           AP_DTYPE_I16, AP_DTYPE_I8,  AP_DTYPE_U8,  AP_DTYPE_BOOL};
    unsigned char data[8 * 64];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)(i * 37 + 11);
    for (size_t k = 0; k < sizeof dtypes / sizeof dtypes[0]; k++) {
        for (size_t s = 0; s < sizeof ndims / sizeof ndims[0]; s++) {
            enum ap_dtype dt = dtypes[k];
            if (dt == AP_DTYPE_BOOL)
                for (size_t i = 0; i < sizeof data; i++) data[i] &= 1;
            char path[128];
            snprintf(path, sizeof path, "%s/%s_%zu.npy", dir, ap_dtype_name(dt), s);
            CHECK_STATUS(ap_npy_write(path, dt, data, shapes[s], ndims[s]), AP_OK);
            struct ap_npy *a = NULL;
            CHECK_STATUS(ap_npy_open(path, &a), AP_OK);
            if (!a) continue;
            size_t numel = 1;
            for (int32_t d = 0; d < ndims[s]; d++) numel *= (size_t)shapes[s][d];
            int ok = a->dtype == dt && a->ndim == ndims[s] &&
                     memcmp(a->shape, shapes[s], sizeof a->shape) == 0 && a->nbytes == numel * ap_dtype_size(dt) &&
                     memcmp(a->data, data, a->nbytes) == 0 && a->version == 1 &&
                     (size_t)((const unsigned char *)a->data - a->map_.data) % 64 == 0 &&
                     ((const char *)a->data)[-1] == '\n';
            if (!ok) ap_test_fail(__FILE__, __LINE__, "round trip of %s differs", path);
            ap_npy_close(a);
        }
    }
    /* the public float32 writer */
    char path[128];
    snprintf(path, sizeof path, "%s/public.npy", dir);
    const float x[6] = {1.5f, -2.25f, 0.0f, 1e30f, -1e-30f, 7.0f};
    const int64_t s32[2] = {3, 2};
    CHECK_STATUS(ap_npy_write_f32(path, x, s32, 2), AP_OK);
    struct ap_npy *a = NULL;
    CHECK_STATUS(ap_npy_open(path, &a), AP_OK);
    if (a) {
        const float *f = NULL;
        CHECK_STATUS(ap_npy_f32(a, 2, s32, &f), AP_OK);
        if (f) CHECK_ARRAY_NEAR("public", f, x, 6, 0.0);
        /* NumPy's own spelling of the header, padded to 64 bytes */
        const char *h = (const char *)a->map_.data + 10;
        CHECK(strncmp(h, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 59) == 0);
        ap_npy_close(a);
    }
    CHECK_STATUS(ap_npy_write(path, AP_DTYPE_BF16, x, s32, 2), AP_ERR_UNSUPPORTED);
    CHECK_EQ_INT(count_temp_files(dir), 0);
    scratch_free(dir);
}

TEST(io_npy_writer_is_atomic) {
    char dir[64], path[160], tmp[200], other[160];
    scratch_dir(dir, sizeof dir);
    REQUIRE(dir[0]);
    const float x[2] = {1, 2};
    const int64_t s2[1] = {2};

    /* into a directory that does not exist: AP_ERR_IO naming the path */
    snprintf(path, sizeof path, "%s/no/such/dir/x.npy", dir);
    CHECK_STATUS(ap_npy_write_f32(path, x, s2, 1), AP_ERR_IO);
    CHECK_CONTAINS(ap_last_error(), path);
    CHECK_CONTAINS(ap_last_error(), strerror(ENOENT));

    /* an existing file survives a failed write untouched */
    snprintf(path, sizeof path, "%s/keep.npy", dir);
    REQUIRE(write_bytes(path, "precious", 8) == 0);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    REQUIRE(mkdir(tmp, 0700) == 0); /* the temporary file cannot be created */
    CHECK_STATUS(ap_npy_write_f32(path, x, s2, 1), AP_ERR_IO);
    CHECK_CONTAINS(ap_last_error(), path);
    size_t len = 0;
    unsigned char *kept = read_all(path, &len);
    CHECK(kept && len == 8 && memcmp(kept, "precious", 8) == 0);
    free(kept);
    struct stat sb;
    CHECK(stat(tmp, &sb) == 0 && S_ISDIR(sb.st_mode)); /* not ours: left alone */
    rmdir(tmp);

    /* bad arguments fail before anything is written */
    const int64_t neg[1] = {-2};
    CHECK_STATUS(ap_npy_write_f32(path, x, neg, 1), AP_ERR_INVALID_ARG);
    CHECK_STATUS(ap_npy_write_f32(path, x, s2, 9), AP_ERR_INVALID_ARG);
    CHECK_STATUS(ap_npy_write_f32(path, NULL, s2, 1), AP_ERR_INVALID_ARG);
    kept = read_all(path, &len);
    CHECK(kept && len == 8 && memcmp(kept, "precious", 8) == 0);
    free(kept);

    /* the rename fails (the target is a non-empty directory): the written
     * temporary file is removed again */
    snprintf(other, sizeof other, "%s/adir", dir);
    REQUIRE(mkdir(other, 0700) == 0);
    char inner[200];
    snprintf(inner, sizeof inner, "%s/inside", other);
    REQUIRE(write_bytes(inner, "x", 1) == 0);
    CHECK_STATUS(ap_npy_write_f32(other, x, s2, 1), AP_ERR_IO);
    CHECK_CONTAINS(ap_last_error(), other);
    CHECK_CONTAINS(ap_last_error(), "rename");
    CHECK(stat(other, &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK_EQ_INT(count_temp_files(dir), 0);

    /* a successful write replaces the file and leaves no temporary behind */
    CHECK_STATUS(ap_npy_write_f32(path, x, s2, 1), AP_OK);
    struct ap_npy *a = NULL;
    CHECK_STATUS(ap_npy_open(path, &a), AP_OK);
    if (a) {
        CHECK(a->nbytes == 8 && memcmp(a->data, x, 8) == 0);
        ap_npy_close(a);
    }
    CHECK_EQ_INT(count_temp_files(dir), 0);
    scratch_free(dir);
}

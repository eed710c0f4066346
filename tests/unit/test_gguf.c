/* test_gguf.c — the GGUF reader (src/io/gguf.c) and ggml's block types
 * (src/io/gguf_dequant.c).
 *
 * Valid files come from two authors: the gguf Python package's writer
 * (tests/ref/gguf_fixture.py: a synthetic file with every value and tensor
 * type, and the real SmolLM2 model), whose dequantizer gives the expected
 * floats, compared here bit for bit; and this file, which builds a small
 * file in memory and breaks it one field at a time. Every broken file must
 * fail with the right status and a message naming the file and the key or
 * tensor at fault. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "io/dtype.h"
#include "io/file_map.h"
#include "io/gguf.h"
#include "io/json_file.h"
#include "io/npy.h"
#include "test.h"

#define CHECK_CONTAINS(haystack, needle)                                                               \
    do {                                                                                               \
        const char *ap_h_ = (haystack), *ap_n_ = (needle);                                             \
        if (!ap_h_ || !strstr(ap_h_, ap_n_))                                                           \
            ap_test_fail(__FILE__, __LINE__, "'%s' does not contain '%s'", ap_h_ ? ap_h_ : "(null)", ap_n_); \
    } while (0)

/* ---------------------------------------------------------------- helpers */

static const char *gguf_fixture(char *buf, size_t cap, const char *name) {
    const char *dir = ap_test_fixture_dir();
    if (!dir) {
        ap_test_fail(__FILE__, __LINE__, "AP_FIXTURES is not set: run the suite with 'make test'");
        return NULL;
    }
    snprintf(buf, cap, "%s/gguf/%s", dir, name);
    return buf;
}

/* expected.json of tests/ref/gguf_fixture.py, or NULL (a failure recorded). */
static cJSON *load_expected(void) {
    char path[4096];
    if (!gguf_fixture(path, sizeof path, "expected.json")) return NULL;
    cJSON *root = NULL;
    if (ap_json_load(path, &root) != AP_OK) {
        ap_test_fail(__FILE__, __LINE__, "%s; make it with 'make test' (tests/ref/gguf_fixture.py)", ap_last_error());
        return NULL;
    }
    return root;
}

static const char *jstr(const cJSON *obj, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(it) ? it->valuestring : "";
}

static double jnum(const cJSON *obj, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(it) ? it->valuedouble : NAN;
}

/* Do len bytes at data spell the hex string? */
static int hex_equals(const char *hex, const char *data, uint64_t len) {
    if (strlen(hex) != 2 * len) return 0;
    for (uint64_t i = 0; i < len; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1 || (unsigned char)data[i] != v) return 0;
    }
    return 1;
}

/* Compare n floats bit for bit; report the first few differences. */
static void check_bits(const char *file, int line, const char *what, const float *got, const float *want, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&got[i], &want[i], sizeof(float)) == 0) continue;
        if (bad < 5) {
            uint32_t g, w;
            memcpy(&g, &got[i], 4);
            memcpy(&w, &want[i], 4);
            fprintf(stderr, "    %s[%zu]: got %.9g (0x%08x), want %.9g (0x%08x)\n", what, i, (double)got[i],
                    (unsigned)g, (double)want[i], (unsigned)w);
        }
        bad++;
    }
    if (bad) ap_test_fail(file, line, "%s: %zu of %zu elements differ from the gguf package's", what, bad, n);
}
#define CHECK_BITS(what, got, want, n) check_bits(__FILE__, __LINE__, what, got, want, n)

/* An .npy fixture as float32 with any shape of ndim dimensions. */
static const float *load_npy(struct ap_npy **npy, const char *name, int32_t ndim) {
    char path[4096];
    *npy = NULL;
    if (!gguf_fixture(path, sizeof path, name)) return NULL;
    if (ap_npy_open(path, npy) != AP_OK) {
        ap_test_fail(__FILE__, __LINE__, "%s", ap_last_error());
        return NULL;
    }
    const int64_t any[4] = {-1, -1, -1, -1};
    const float *f = NULL;
    if (ap_npy_f32(*npy, ndim, any, &f) != AP_OK) ap_test_fail(__FILE__, __LINE__, "%s", ap_last_error());
    return f;
}

/* ------------------------------------------------------ the type table */

TEST(gguf_block_table) {
    const struct {
        enum ap_ggml_type t;
        int32_t elems, bytes;
        const char *name;
    } want[] = {
        {AP_GGML_F32, 1, 4, "F32"},       {AP_GGML_F16, 1, 2, "F16"},       {AP_GGML_BF16, 1, 2, "BF16"},
        {AP_GGML_Q4_0, 32, 18, "Q4_0"},   {AP_GGML_Q4_1, 32, 20, "Q4_1"},   {AP_GGML_Q5_0, 32, 22, "Q5_0"},
        {AP_GGML_Q5_1, 32, 24, "Q5_1"},   {AP_GGML_Q8_0, 32, 34, "Q8_0"},   {AP_GGML_Q4_K, 256, 144, "Q4_K"},
        {AP_GGML_Q5_K, 256, 176, "Q5_K"}, {AP_GGML_Q6_K, 256, 210, "Q6_K"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK_EQ_INT(ap_ggml_block_elems(want[i].t), want[i].elems);
        CHECK_EQ_INT(ap_ggml_block_bytes(want[i].t), want[i].bytes);
        CHECK(strcmp(ap_ggml_type_name(want[i].t), want[i].name) == 0);
    }
    CHECK_EQ_INT(ap_ggml_block_elems((enum ap_ggml_type)10), 0); /* Q2_K: not read */
    CHECK_EQ_INT(ap_ggml_block_bytes((enum ap_ggml_type)99), 0);
    CHECK(strcmp(ap_ggml_type_name((enum ap_ggml_type)99), "?") == 0);
}

/* Blocks worked out by hand, independent of any other implementation. */
TEST(gguf_dequant_hand_blocks) {
    float y[256];
    /* Q8_0: d = 0.5 (0x3800), q = -16 .. 15 */
    unsigned char q8[34] = {0x00, 0x38};
    for (int j = 0; j < 32; j++) q8[2 + j] = (unsigned char)(int8_t)(j - 16);
    ap_ggml_dequantize_blocks(AP_GGML_Q8_0, q8, 32, y);
    for (int j = 0; j < 32; j++) CHECK(y[j] == 0.5f * (float)(j - 16));

    /* Q4_0: d = 2 (0x4000); byte j = low nibble j & 15, high nibble 15 - (j & 15) */
    unsigned char q4[18] = {0x00, 0x40};
    for (int j = 0; j < 16; j++) q4[2 + j] = (unsigned char)(j | ((15 - j) << 4));
    ap_ggml_dequantize_blocks(AP_GGML_Q4_0, q4, 32, y);
    for (int j = 0; j < 16; j++) {
        CHECK(y[j] == 2.0f * (float)(j - 8));
        CHECK(y[j + 16] == 2.0f * (float)(7 - j));
    }

    /* Q4_1: d = 1, m = -1.5 (0xBE00): y = q - 1.5 */
    unsigned char q41[20] = {0x00, 0x3c, 0x00, 0xbe};
    for (int j = 0; j < 16; j++) q41[4 + j] = (unsigned char)(j | (j << 4));
    ap_ggml_dequantize_blocks(AP_GGML_Q4_1, q41, 32, y);
    for (int j = 0; j < 16; j++) CHECK(y[j] == (float)j - 1.5f && y[j + 16] == (float)j - 1.5f);

    /* Q5_0: d = 1; qh bit 3 and bit 20 set: elements 3 and 20 get +16 */
    unsigned char q50[22] = {0x00, 0x3c, 0x08, 0x00, 0x10, 0x00};
    ap_ggml_dequantize_blocks(AP_GGML_Q5_0, q50, 32, y);
    for (int j = 0; j < 32; j++) CHECK(y[j] == (j == 3 || j == 20 ? 0.0f : -16.0f));

    /* Q6_K: d = 1, scales[k] = k - 8, every q = 33 (ql nibble 1, qh bits 2): y = scale of the 16-group */
    unsigned char q6[210];
    memset(q6, 0x11, 128);
    memset(q6 + 128, 0xaa, 64);
    for (int k = 0; k < 16; k++) q6[192 + k] = (unsigned char)(int8_t)(k - 8);
    q6[208] = 0x00;
    q6[209] = 0x3c;
    ap_ggml_dequantize_blocks(AP_GGML_Q6_K, q6, 256, y);
    for (int j = 0; j < 256; j++) CHECK(y[j] == (float)(j / 16 - 8));

    /* BF16 and F16 */
    const unsigned char h[4] = {0x00, 0x3c, 0x01, 0x80}; /* 1.0, -2^-24 */
    ap_ggml_dequantize_blocks(AP_GGML_F16, h, 2, y);
    CHECK(y[0] == 1.0f && y[1] == -ldexpf(1.0f, -24));
    const unsigned char bf[2] = {0x49, 0x40}; /* 0x4049 = 3.140625 */
    ap_ggml_dequantize_blocks(AP_GGML_BF16, bf, 1, y);
    CHECK(y[0] == 3.140625f);
}

/* --------------------------------------------------- the synthetic file */

static struct ap_gguf *open_synthetic(void) {
    char path[4096];
    if (!gguf_fixture(path, sizeof path, "synthetic.gguf")) return NULL;
    struct ap_gguf *g = NULL;
    if (ap_gguf_open(path, &g) != AP_OK) ap_test_fail(__FILE__, __LINE__, "%s", ap_last_error());
    return g;
}

static enum ap_gguf_type type_from_name(const char *s) {
    static const char *const names[] = {"uint8", "int8",   "uint16", "int16", "uint32", "int32",  "float32",
                                        "bool",  "string", "array",  "uint64", "int64", "float64"};
    for (int i = 0; i < 13; i++)
        if (strcmp(s, names[i]) == 0) return (enum ap_gguf_type)i;
    return (enum ap_gguf_type)99;
}

/* One scalar (or array element) against its JSON form. */
static int value_matches(const struct ap_gguf *g, const struct ap_gguf_kv *kv, enum ap_gguf_type t, const cJSON *v,
                         uint64_t index) {
    int arr = kv->type == AP_GGUF_ARRAY;
    switch (t) {
    case AP_GGUF_STRING: {
        struct ap_gguf_str s = arr ? ap_gguf_array_str(g, kv, index) : kv->str;
        return cJSON_IsString(v) && hex_equals(v->valuestring, s.data, s.len);
    }
    case AP_GGUF_BOOL:
        return cJSON_IsBool(v) && (arr ? ap_gguf_array_int(kv, index) : (int64_t)kv->u64) == cJSON_IsTrue(v);
    case AP_GGUF_FLOAT32:
    case AP_GGUF_FLOAT64:
        return cJSON_IsNumber(v) && (arr ? ap_gguf_array_float(kv, index) : kv->f64) == v->valuedouble;
    case AP_GGUF_UINT64: {
        uint64_t want = cJSON_IsString(v) ? strtoull(v->valuestring, NULL, 10) : (uint64_t)v->valuedouble;
        return (arr ? (uint64_t)ap_gguf_array_int(kv, index) : kv->u64) == want;
    }
    case AP_GGUF_INT64: {
        int64_t want = cJSON_IsString(v) ? strtoll(v->valuestring, NULL, 10) : (int64_t)v->valuedouble;
        return (arr ? ap_gguf_array_int(kv, index) : kv->i64) == want;
    }
    default: /* the narrow integers: exact in a double */
        return cJSON_IsNumber(v) && (double)(arr ? ap_gguf_array_int(kv, index) : kv->i64) == v->valuedouble;
    }
}

TEST(gguf_synthetic_metadata) {
    cJSON *root = load_expected();
    struct ap_gguf *g = root ? open_synthetic() : NULL;
    const cJSON *syn = cJSON_GetObjectItemCaseSensitive(root, "synthetic");
    if (!g || !syn) goto done;
    CHECK_EQ_INT(ap_gguf_version(g), (int)jnum(syn, "version"));
    CHECK_EQ_INT(ap_gguf_alignment(g), 64);
    CHECK_EQ_INT(ap_gguf_kv_count(g), (int)jnum(syn, "kv_count"));
    CHECK(ap_gguf_kv_at(g, ap_gguf_kv_count(g)) == NULL);

    /* file order */
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(syn, "keys_in_order"), *k;
    size_t i = 0;
    cJSON_ArrayForEach(k, keys) {
        const struct ap_gguf_kv *kv = ap_gguf_kv_at(g, i++);
        REQUIRE(kv != NULL);
        CHECK(kv->key.len == strlen(k->valuestring) && memcmp(kv->key.data, k->valuestring, kv->key.len) == 0);
    }
    CHECK_EQ_INT(i, ap_gguf_kv_count(g));

    /* every value */
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(syn, "kv")) {
        const char *key = jstr(e, "key");
        const struct ap_gguf_kv *kv = ap_gguf_find_kv(g, key);
        if (!kv) {
            ap_test_fail(__FILE__, __LINE__, "no key '%s'", key);
            continue;
        }
        enum ap_gguf_type t = type_from_name(jstr(e, "type"));
        CHECK_EQ_INT(kv->type, t);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "value");
        if (t != AP_GGUF_ARRAY) {
            if (!value_matches(g, kv, t, v, 0)) ap_test_fail(__FILE__, __LINE__, "metadata '%s': wrong value", key);
            continue;
        }
        enum ap_gguf_type et = type_from_name(jstr(e, "elem_type"));
        CHECK_EQ_INT(kv->elem_type, et);
        CHECK_EQ_INT(kv->n, cJSON_GetArraySize(v));
        const struct ap_gguf_kv *again = NULL;
        CHECK_STATUS(ap_gguf_get_array(g, key, et, &again), AP_OK);
        CHECK(again == kv);
        uint64_t j = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, v) {
            if (j < kv->n && !value_matches(g, kv, et, x, j))
                ap_test_fail(__FILE__, __LINE__, "metadata '%s' element %llu: wrong value", key,
                             (unsigned long long)j);
            j++;
        }
    }

    /* typed getters */
    uint32_t u32 = 0;
    int64_t i64 = 0;
    float f = 0;
    int b = -1;
    struct ap_gguf_str s;
    CHECK_STATUS(ap_gguf_get_u32(g, "test.uint32", &u32), AP_OK);
    CHECK(u32 == 4000000000u);
    CHECK_STATUS(ap_gguf_get_u32(g, "test.uint8", &u32), AP_OK);
    CHECK(u32 == 200);
    CHECK_STATUS(ap_gguf_get_u32(g, "test.small_uint64", &u32), AP_OK);
    CHECK(u32 == 7);
    CHECK_STATUS(ap_gguf_get_u32(g, "general.alignment", &u32), AP_OK);
    CHECK(u32 == 64);
    CHECK_STATUS(ap_gguf_get_i64(g, "test.int64", &i64), AP_OK);
    CHECK(i64 == -(INT64_C(1) << 62) - 3);
    CHECK_STATUS(ap_gguf_get_i64(g, "test.int8", &i64), AP_OK);
    CHECK(i64 == -100);
    CHECK_STATUS(ap_gguf_get_i64(g, "test.uint32", &i64), AP_OK);
    CHECK(i64 == 4000000000);
    CHECK_STATUS(ap_gguf_get_f32(g, "test.float32", &f), AP_OK);
    CHECK(f == 3.14159f);
    CHECK_STATUS(ap_gguf_get_f32(g, "test.float64", &f), AP_OK);
    CHECK(f == (float)2.718281828459045);
    CHECK_STATUS(ap_gguf_get_bool(g, "test.bool", &b), AP_OK);
    CHECK(b == 1);
    CHECK_STATUS(ap_gguf_get_bool(g, "test.bool_false", &b), AP_OK);
    CHECK(b == 0);
    CHECK_STATUS(ap_gguf_get_str(g, "general.architecture", &s), AP_OK);
    CHECK(s.len == 9 && memcmp(s.data, "synthetic", 9) == 0);
    CHECK_STATUS(ap_gguf_get_str(g, "test.empty_string", &s), AP_OK);
    CHECK(s.len == 0);

    /* and their refusals, which name the file, the key and the expectation */
    CHECK_STATUS(ap_gguf_get_u32(g, "test.string", &u32), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "synthetic.gguf: metadata 'test.string' is a string, expected an unsigned integer");
    CHECK_STATUS(ap_gguf_get_u32(g, "test.int8", &u32), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "metadata 'test.int8' = -100 does not fit a uint32");
    CHECK_STATUS(ap_gguf_get_u32(g, "test.uint64", &u32), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "9223372036854775813 does not fit a uint32");
    CHECK_STATUS(ap_gguf_get_i64(g, "test.uint64", &i64), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "does not fit an int64");
    CHECK_STATUS(ap_gguf_get_u32(g, "no.such.key", &u32), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "synthetic.gguf: no metadata key 'no.such.key'");
    CHECK_STATUS(ap_gguf_get_f32(g, "test.int32", &f), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "'test.int32' is an int32, expected a float");
    CHECK_STATUS(ap_gguf_get_bool(g, "test.uint8", &b), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "is a uint8, expected a bool");
    CHECK_STATUS(ap_gguf_get_str(g, "test.string_array", &s), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "is an array of string, expected a string");
    const struct ap_gguf_kv *arr = NULL;
    CHECK_STATUS(ap_gguf_get_array(g, "test.int32_array", AP_GGUF_STRING, &arr), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "'test.int32_array' is an array of int32, expected an array of string");
    CHECK(ap_gguf_find_kv(g, "test.uint") == NULL && ap_gguf_find_kv(g, "test.uint80") == NULL);
done:
    ap_gguf_close(g);
    cJSON_Delete(root);
}

TEST(gguf_synthetic_tensors_bit_exact) {
    cJSON *root = load_expected();
    struct ap_gguf *g = root ? open_synthetic() : NULL;
    const cJSON *syn = cJSON_GetObjectItemCaseSensitive(root, "synthetic");
    if (!g || !syn) goto done;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(syn, "tensors"), *e;
    CHECK_EQ_INT(ap_gguf_tensor_count(g), cJSON_GetArraySize(list));
    CHECK(ap_gguf_tensor_at(g, ap_gguf_tensor_count(g)) == NULL);
    size_t index = 0;
    int types_seen = 0;
    cJSON_ArrayForEach(e, list) {
        const char *name = jstr(e, "name");
        struct ap_gguf_tensor t;
        if (ap_gguf_find_tensor(g, name, &t) != AP_OK) {
            ap_test_fail(__FILE__, __LINE__, "%s", ap_last_error());
            continue;
        }
        const struct ap_gguf_tensor *at = ap_gguf_tensor_at(g, index++);
        CHECK(at && strcmp(at->name, name) == 0 && at->data == t.data);
        CHECK(strcmp(t.name, name) == 0);
        CHECK(strcmp(ap_ggml_type_name(t.type), jstr(e, "type")) == 0);
        types_seen |= 1 << (t.type % 31);
        const cJSON *ne = cJSON_GetObjectItemCaseSensitive(e, "ne");
        CHECK_EQ_INT(t.n_dims, cJSON_GetArraySize(ne));
        int64_t n = 1;
        for (int d = 0; d < AP_GGUF_MAX_DIMS; d++) {
            const cJSON *x = cJSON_GetArrayItem(ne, d);
            CHECK_EQ_INT(t.ne[d], x ? (int64_t)x->valuedouble : 1);
            n *= t.ne[d];
        }
        CHECK_EQ_INT(t.n_elements, n);
        CHECK_EQ_INT(t.nbytes, n / ap_ggml_block_elems(t.type) * ap_ggml_block_bytes(t.type));
        CHECK((uintptr_t)t.data % 64 == 0); /* the map is page-aligned, the file 64-aligned */

        struct ap_npy *npy = NULL;
        const float *want = load_npy(&npy, jstr(e, "npy"), t.n_dims);
        float *got = malloc((size_t)t.n_elements * sizeof *got);
        if (want && got) {
            CHECK_EQ_INT(npy->nbytes, t.n_elements * 4);
            ap_gguf_dequantize(&t, got);
            CHECK_BITS(name, got, want, (size_t)t.n_elements);
        }
        free(got);
        ap_npy_close(npy);
    }
    CHECK_EQ_INT(__builtin_popcount((unsigned)types_seen), 11);
    CHECK(ap_gguf_has_tensor(g, "q8_0.cube") && !ap_gguf_has_tensor(g, "q8_0.cub") && !ap_gguf_has_tensor(g, ""));
    struct ap_gguf_tensor t;
    CHECK_STATUS(ap_gguf_find_tensor(g, "nope.weight", &t), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "synthetic.gguf: no tensor 'nope.weight'");
done:
    ap_gguf_close(g);
    cJSON_Delete(root);
}

/* ------------------------------------------------------- the real model */

TEST(gguf_real_model) {
    cJSON *root = load_expected();
    const cJSON *real = cJSON_GetObjectItemCaseSensitive(root, "real");
    if (!real) goto done;
    struct ap_gguf *g = NULL;
    const char *path = jstr(real, "model");
    if (ap_gguf_open(path, &g) != AP_OK) {
        ap_test_fail(__FILE__, __LINE__, "%s", ap_last_error());
        goto done;
    }
    CHECK_EQ_INT(ap_gguf_version(g), 3);
    CHECK_EQ_INT(ap_gguf_alignment(g), 32);
    CHECK_EQ_INT(ap_gguf_tensor_count(g), (int64_t)jnum(real, "tensor_count"));
    CHECK_EQ_INT(ap_gguf_kv_count(g), (int64_t)jnum(real, "kv_count"));
    uint32_t u = 0;
    CHECK_STATUS(ap_gguf_get_u32(g, "llama.block_count", &u), AP_OK);
    CHECK_EQ_INT(u, (int64_t)jnum(real, "block_count"));
    float eps = 0;
    CHECK_STATUS(ap_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps), AP_OK);
    CHECK(eps == (float)jnum(real, "rms_eps"));
    struct ap_gguf_str arch;
    CHECK_STATUS(ap_gguf_get_str(g, "general.architecture", &arch), AP_OK);
    CHECK(arch.len == 5 && memcmp(arch.data, "llama", 5) == 0);

    /* the tokenizer: 49,152 strings through the offset table */
    const struct ap_gguf_kv *tokens = NULL, *types = NULL;
    CHECK_STATUS(ap_gguf_get_array(g, "tokenizer.ggml.tokens", AP_GGUF_STRING, &tokens), AP_OK);
    CHECK_STATUS(ap_gguf_get_array(g, "tokenizer.ggml.token_type", AP_GGUF_INT32, &types), AP_OK);
    if (tokens && types) {
        CHECK_EQ_INT(tokens->n, (int64_t)jnum(real, "n_tokens"));
        const cJSON *tk = cJSON_GetObjectItemCaseSensitive(real, "tokens"), *x;
        const cJSON *tt = cJSON_GetObjectItemCaseSensitive(real, "token_types");
        cJSON_ArrayForEach(x, tk) {
            uint64_t id = strtoull(x->string, NULL, 10);
            struct ap_gguf_str s = ap_gguf_array_str(g, tokens, id);
            if (!hex_equals(x->valuestring, s.data, s.len))
                ap_test_fail(__FILE__, __LINE__, "token %llu: '%.*s'", (unsigned long long)id, (int)s.len, s.data);
            CHECK_EQ_INT(ap_gguf_array_int(types, id), (int64_t)jnum(tt, x->string));
        }
        uint64_t total = 0; /* every string reachable, and inside the file */
        for (uint64_t k = 0; k < tokens->n; k++) total += ap_gguf_array_str(g, tokens, k).len;
        CHECK(total > tokens->n);
    }

    /* rows of tensors, dequantized */
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(real, "tensors")) {
        const char *name = jstr(e, "name");
        struct ap_gguf_tensor t;
        if (ap_gguf_find_tensor(g, name, &t) != AP_OK) {
            ap_test_fail(__FILE__, __LINE__, "%s", ap_last_error());
            continue;
        }
        CHECK(strcmp(ap_ggml_type_name(t.type), jstr(e, "type")) == 0);
        const cJSON *ne = cJSON_GetObjectItemCaseSensitive(e, "ne"), *rows = cJSON_GetObjectItemCaseSensitive(e, "rows");
        CHECK_EQ_INT(t.n_dims, cJSON_GetArraySize(ne));
        CHECK_EQ_INT(t.ne[0], (int64_t)cJSON_GetArrayItem(ne, 0)->valuedouble);
        struct ap_npy *npy = NULL;
        const float *want = load_npy(&npy, jstr(e, "npy"), 2);
        const int64_t row_len = t.ne[0];
        const size_t row_bytes = (size_t)(row_len / ap_ggml_block_elems(t.type) * ap_ggml_block_bytes(t.type));
        float *got = malloc((size_t)row_len * sizeof *got);
        int r = 0;
        const cJSON *row;
        if (want && got) {
            CHECK_EQ_INT(npy->shape[0], cJSON_GetArraySize(rows));
            CHECK_EQ_INT(npy->shape[1], row_len);
            cJSON_ArrayForEach(row, rows) {
                int64_t ri = (int64_t)row->valuedouble;
                REQUIRE(ri < t.n_elements / row_len);
                ap_ggml_dequantize_blocks(t.type, (const unsigned char *)t.data + (size_t)ri * row_bytes, row_len, got);
                char what[128];
                snprintf(what, sizeof what, "%s row %lld", name, (long long)ri);
                CHECK_BITS(what, got, want + (size_t)r * (size_t)row_len, (size_t)row_len);
                r++;
            }
        }
        free(got);
        ap_npy_close(npy);
    }
    ap_gguf_close(g);
done:
    cJSON_Delete(root);
}

/* ----------------------------------------- a small file, built and broken */

struct bytes {
    unsigned char *p;
    size_t n, cap;
};

static void put(struct bytes *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        AP_ASSERT(b->p != NULL);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}
static void put_u8(struct bytes *b, uint8_t v) { put(b, &v, 1); }
static void put_u32(struct bytes *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(struct bytes *b, uint64_t v) { put(b, &v, 8); }
static void put_str(struct bytes *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

/* Where the small file keeps the fields the tests break. */
struct small {
    struct bytes b;
    size_t version, n_tensors, n_kv;
    size_t align_type, align_val, key_two, bool_val, arr_elem_type, arr_n, strs_n, str0_len, f_type;
    size_t tb_name, tb_ndims, tb_ne0, tb_ne1, tb_type, tb_offset, ta_offset;
};

/* GGUF v3: 6 metadata entries of several types, tensors "t.a" (F32 [8])
 * and "t.b" (Q8_0 [32, 2]); the last byte of the file is the last byte of
 * t.b, so every byte is needed. */
static void small_file(struct small *s) {
    memset(s, 0, sizeof *s);
    struct bytes *b = &s->b;
    put(b, "GGUF", 4);
    s->version = b->n, put_u32(b, 3);
    s->n_tensors = b->n, put_u64(b, 2);
    s->n_kv = b->n, put_u64(b, 6);
    put_str(b, "general.alignment");
    s->align_type = b->n, put_u32(b, AP_GGUF_UINT32);
    s->align_val = b->n, put_u32(b, 32);
    put_str(b, "a.one"), put_u32(b, AP_GGUF_STRING), put_str(b, "hi");
    put_u64(b, 5), s->key_two = b->n, put(b, "a.two", 5), put_u32(b, AP_GGUF_BOOL);
    s->bool_val = b->n, put_u8(b, 1);
    put_str(b, "a.arr"), put_u32(b, AP_GGUF_ARRAY);
    s->arr_elem_type = b->n, put_u32(b, AP_GGUF_UINT32);
    s->arr_n = b->n, put_u64(b, 3), put_u32(b, 1), put_u32(b, 2), put_u32(b, 3);
    put_str(b, "a.strs"), put_u32(b, AP_GGUF_ARRAY), put_u32(b, AP_GGUF_STRING);
    s->strs_n = b->n, put_u64(b, 3);
    s->str0_len = b->n, put_str(b, "x"), put_str(b, ""), put_str(b, "yz");
    put_str(b, "a.f");
    s->f_type = b->n, put_u32(b, AP_GGUF_FLOAT32);
    float half = 0.5f;
    put(b, &half, 4);
    /* tensor infos */
    put_str(b, "t.a"), put_u32(b, 1), put_u64(b, 8), put_u32(b, AP_GGML_F32);
    s->ta_offset = b->n, put_u64(b, 0);
    put_u64(b, 3), put(b, "t.", 2), s->tb_name = b->n, put(b, "b", 1);
    s->tb_ndims = b->n, put_u32(b, 2);
    s->tb_ne0 = b->n, put_u64(b, 32);
    s->tb_ne1 = b->n, put_u64(b, 2);
    s->tb_type = b->n, put_u32(b, AP_GGML_Q8_0);
    s->tb_offset = b->n, put_u64(b, 32);
    while (b->n % 32) put_u8(b, 0);
    for (int i = 0; i < 8; i++) {
        float v = (float)i - 3.5f;
        put(b, &v, 4);
    }
    for (int blk = 0; blk < 2; blk++) {
        put_u8(b, 0x00), put_u8(b, 0x3c); /* d = 1 */
        for (int j = 0; j < 32; j++) put_u8(b, (uint8_t)(int8_t)(j - 16 + blk));
    }
}

static void patch_u32(struct small *s, size_t at, uint32_t v) { memcpy(s->b.p + at, &v, 4); }
static void patch_u64(struct small *s, size_t at, uint64_t v) { memcpy(s->b.p + at, &v, 8); }

TEST(gguf_small_file_valid) {
    struct small s;
    small_file(&s);
    struct ap_gguf *g = NULL;
    CHECK_STATUS(ap_gguf_open_memory(s.b.p, s.b.n, "small.gguf", &g), AP_OK);
    if (g) {
        CHECK(strcmp(ap_gguf_label(g), "small.gguf") == 0);
        CHECK_EQ_INT(ap_gguf_kv_count(g), 6);
        const struct ap_gguf_kv *strs = NULL;
        CHECK_STATUS(ap_gguf_get_array(g, "a.strs", AP_GGUF_STRING, &strs), AP_OK);
        if (strs) {
            struct ap_gguf_str x = ap_gguf_array_str(g, strs, 0), e = ap_gguf_array_str(g, strs, 1),
                               yz = ap_gguf_array_str(g, strs, 2);
            CHECK(x.len == 1 && x.data[0] == 'x' && e.len == 0 && yz.len == 2 && memcmp(yz.data, "yz", 2) == 0);
        }
        const struct ap_gguf_kv *arr = ap_gguf_find_kv(g, "a.arr");
        CHECK(arr && arr->n == 3 && ap_gguf_array_int(arr, 2) == 3);
        struct ap_gguf_tensor t;
        CHECK_STATUS(ap_gguf_find_tensor(g, "t.b", &t), AP_OK);
        float y[64];
        ap_gguf_dequantize(&t, y);
        CHECK(y[0] == -16.0f && y[63] == 16.0f);
        CHECK_STATUS(ap_gguf_find_tensor(g, "t.a", &t), AP_OK);
        ap_gguf_dequantize(&t, y);
        CHECK(y[0] == -3.5f && y[7] == 3.5f);
    }
    ap_gguf_close(g);

    /* the same bytes through a file, and a file that is not there */
    char path[] = "/tmp/ap_test_gguf_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    CHECK(write(fd, s.b.p, s.b.n) == (ssize_t)s.b.n);
    close(fd);
    g = NULL;
    CHECK_STATUS(ap_gguf_open(path, &g), AP_OK);
    CHECK(g && strcmp(ap_gguf_label(g), path) == 0);
    ap_gguf_close(g);
    unlink(path);
    CHECK_STATUS(ap_gguf_open(path, &g), AP_ERR_IO);
    CHECK(g == NULL);
    CHECK_CONTAINS(ap_last_error(), path);
    ap_gguf_close(NULL);
    free(s.b.p);
}

TEST(gguf_truncated_everywhere) {
    struct small s;
    small_file(&s);
    for (size_t len = 0; len < s.b.n; len++) {
        unsigned char *copy = malloc(len ? len : 1); /* exactly len bytes: ASan sees any overread */
        memcpy(copy, s.b.p, len);
        struct ap_gguf *g = (struct ap_gguf *)1;
        enum ap_status st = ap_gguf_open_memory(copy, len, "cut.gguf", &g);
        if (st != AP_ERR_FORMAT || g != NULL || strncmp(ap_last_error(), "cut.gguf: ", 10) != 0)
            ap_test_fail(__FILE__, __LINE__, "cut at %zu of %zu bytes: status %d, '%s'", len, s.b.n, (int)st,
                         ap_last_error());
        ap_gguf_close(st == AP_OK ? g : NULL);
        free(copy);
    }
    free(s.b.p);
}

/* Open a broken copy of the small file: expect status and message parts. */
static void expect_broken(const char *file, int line, struct small *s, enum ap_status want, const char *part1,
                          const char *part2) {
    struct ap_gguf *g = NULL;
    enum ap_status st = ap_gguf_open_memory(s->b.p, s->b.n, "broken.gguf", &g);
    const char *msg = ap_last_error();
    if (st != want)
        ap_test_fail(file, line, "status %d, expected %d ('%s')", (int)st, (int)want, msg);
    else if (strncmp(msg, "broken.gguf: ", 13) != 0 || !strstr(msg, part1) || (part2 && !strstr(msg, part2)))
        ap_test_fail(file, line, "'%s' should name '%s'%s%s", msg, part1, part2 ? " and " : "", part2 ? part2 : "");
    ap_gguf_close(g);
    free(s->b.p);
    small_file(s); /* fresh for the next case */
}
#define EXPECT_BROKEN(s, want, p1, p2) expect_broken(__FILE__, __LINE__, s, want, p1, p2)

TEST(gguf_broken_header) {
    struct small s;
    small_file(&s);
    memcpy(s.b.p, "GGML", 4);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "not a GGUF file", "'GGML'");
    patch_u32(&s, s.version, 1);
    EXPECT_BROKEN(&s, AP_ERR_UNSUPPORTED, "version 1", "expected version 2 or 3");
    patch_u32(&s, s.version, 4);
    EXPECT_BROKEN(&s, AP_ERR_UNSUPPORTED, "version 4", "expected 2 or 3");
    patch_u32(&s, s.version, 0x03000000u);
    EXPECT_BROKEN(&s, AP_ERR_UNSUPPORTED, "big-endian", NULL);
    patch_u64(&s, s.n_kv, UINT64_C(1) << 40);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata count 1099511627776 cannot fit", NULL);
    patch_u64(&s, s.n_kv, UINT64_MAX);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata count", NULL);
    patch_u64(&s, s.n_tensors, UINT64_C(1) << 60);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor count 1152921504606846976 cannot fit", NULL);
    patch_u64(&s, s.n_tensors, (s.b.n - 24) / 33); /* fits the file's size, not what follows the metadata */
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "cannot fit", "after the metadata");
    /* one entry too many: t.a's info is read as key "t.a", an int8 (its n_dims), value 8 (ne[0]'s first byte);
       then the rest of ne[0] and the type make an empty tensor name */
    patch_u64(&s, s.n_kv, 7);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor info 0 of 2: empty tensor name", NULL);
    /* one tensor too few: t.b's info becomes padding and data, which is allowed */
    patch_u64(&s, s.n_tensors, 1);
    struct ap_gguf *g = NULL;
    CHECK_STATUS(ap_gguf_open_memory(s.b.p, s.b.n, "one.gguf", &g), AP_OK);
    CHECK(g && ap_gguf_tensor_count(g) == 1 && ap_gguf_has_tensor(g, "t.a") && !ap_gguf_has_tensor(g, "t.b"));
    ap_gguf_close(g);
    free(s.b.p);
}

TEST(gguf_broken_metadata) {
    struct small s;
    small_file(&s);
    memcpy(s.b.p + s.key_two, "a.one", 5);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata key 'a.one' appears twice", NULL);
    s.b.p[s.key_two + 2] = 0;
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "key 'a.\\x00wo' contains a NUL byte", NULL);
    patch_u32(&s, s.f_type, 13);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata 'a.f': unknown value type 13", NULL);
    patch_u32(&s, s.arr_elem_type, AP_GGUF_ARRAY);
    EXPECT_BROKEN(&s, AP_ERR_UNSUPPORTED, "metadata 'a.arr'", "nested arrays are not supported");
    patch_u32(&s, s.arr_elem_type, 77);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata 'a.arr': unknown array element type 77", NULL);
    patch_u64(&s, s.arr_n, UINT64_C(1) << 62);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata 'a.arr': an array of 4611686018427387904 uint32", "cannot fit");
    patch_u64(&s, s.strs_n, UINT64_C(1) << 61);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata 'a.strs': an array of 2305843009213693952 strings", "cannot fit");
    patch_u64(&s, s.str0_len, 1000);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata 'a.strs': string 0 of 3 is 1000 bytes long", NULL);
    patch_u64(&s, s.str0_len, UINT64_MAX);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "string 0 of 3 is 18446744073709551615 bytes long", NULL);
    s.b.p[s.bool_val] = 2;
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata 'a.two': bool value is 2, expected 0 or 1", NULL);
    patch_u64(&s, s.key_two - 8, 0);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata entry 2 of 6: empty key", NULL);
    patch_u64(&s, s.key_two - 8, 70000);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata entry 2 of 6: the key is 70000 bytes long", NULL);
    /* general.alignment */
    patch_u32(&s, s.align_val, 0);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata 'general.alignment' is 0, expected a power of two", NULL);
    patch_u32(&s, s.align_val, 48);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata 'general.alignment' is 48, expected a power of two", NULL);
    patch_u32(&s, s.align_type, AP_GGUF_INT32);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "metadata 'general.alignment' is an int32, expected a uint32", NULL);
    patch_u32(&s, s.align_val, 64); /* t.b's offset 32 is then misaligned */
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.b': data offset 32 is not a multiple of the alignment 64", NULL);
    free(s.b.p);
}

TEST(gguf_broken_tensors) {
    struct small s;
    small_file(&s);
    s.b.p[s.tb_name] = 'a';
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.a' appears twice", NULL);
    patch_u64(&s, s.tb_offset, 33);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.b': data offset 33 is not a multiple of the alignment 32", NULL);
    patch_u64(&s, s.tb_offset, 64);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.b': 68 bytes of Q8_0 at data offset 64 reach past the end", NULL);
    patch_u64(&s, s.tb_offset, UINT64_MAX - 31);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.b'", "reach past the end");
    patch_u64(&s, s.ta_offset, 1024);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.a': 32 bytes of F32 at data offset 1024", NULL);
    patch_u32(&s, s.tb_type, 99);
    EXPECT_BROKEN(&s, AP_ERR_UNSUPPORTED, "tensor 't.b': unknown ggml type 99 is not supported", NULL);
    patch_u32(&s, s.tb_type, 10);
    EXPECT_BROKEN(&s, AP_ERR_UNSUPPORTED, "tensor 't.b': ggml type Q2_K (10) is not supported", NULL);
    patch_u32(&s, s.tb_type, AP_GGML_Q4_K);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.b': shape [32, 2]: ne[0] = 32 is not a multiple of Q4_K's block "
                  "size 256", NULL);
    patch_u64(&s, s.tb_ne0, 33);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.b': shape [33, 2]: ne[0] = 33", NULL);
    patch_u64(&s, s.tb_ne1, 3); /* needs 102 bytes, 68 are there */
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.b': 102 bytes of Q8_0", "reach past the end");
    patch_u64(&s, s.tb_ne1, UINT64_C(1) << 62);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.b': shape [32, 4611686018427387904] has more than 2^63 - 1", NULL);
    patch_u64(&s, s.tb_ne1, UINT64_C(31) << 53); /* 31 * 2^58 elements fit an int64, their 34/32 bytes do not */
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.b': shape [32, 279223176896970752] of Q8_0 needs more than", NULL);
    patch_u64(&s, s.tb_ne1, UINT64_MAX);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.b': ne[1] = 18446744073709551615 is larger than 2^63 - 1", NULL);
    patch_u32(&s, s.tb_ndims, 0);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.b': 0 dimensions, expected 1 to 4", NULL);
    patch_u32(&s, s.tb_ndims, 5);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor 't.b': 5 dimensions, expected 1 to 4", NULL);
    patch_u64(&s, s.tb_name - 10, 0);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor info 1 of 2: empty tensor name", NULL);
    patch_u64(&s, s.tb_name - 10, 65);
    EXPECT_BROKEN(&s, AP_ERR_FORMAT, "tensor info 1 of 2: name 't.b", "is 65 bytes, longer than GGUF's limit of 64");
    free(s.b.p);
}

/* A file with no tensors ends after its metadata: no data section needed. */
TEST(gguf_metadata_only) {
    struct bytes b = {0};
    put(&b, "GGUF", 4), put_u32(&b, 2), put_u64(&b, 0), put_u64(&b, 1);
    put_str(&b, "k"), put_u32(&b, AP_GGUF_UINT64), put_u64(&b, 12345);
    struct ap_gguf *g = NULL;
    CHECK_STATUS(ap_gguf_open_memory(b.p, b.n, NULL, &g), AP_OK);
    if (g) {
        CHECK_EQ_INT(ap_gguf_version(g), 2);
        CHECK_EQ_INT(ap_gguf_tensor_count(g), 0);
        CHECK(strcmp(ap_gguf_label(g), "<memory>") == 0);
        int64_t v = 0;
        CHECK_STATUS(ap_gguf_get_i64(g, "k", &v), AP_OK);
        CHECK(v == 12345);
    }
    ap_gguf_close(g);
    CHECK_STATUS(ap_gguf_open_memory(NULL, 0, NULL, &g), AP_ERR_FORMAT);
    CHECK_CONTAINS(ap_last_error(), "<memory>: 0 bytes, too short");
    free(b.p);
}

/* ------------------------------------------------- the fuzzing seed corpus */

/* tests/fuzz/make_corpus.py names each seed for what the reader must do
 * with it: ok_* and lib_* (written by the gguf package) open, bad_* fail. */
TEST(gguf_corpus_names_hold) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/corpus/gguf", ap_test_source_dir());
    DIR *d = opendir(dir);
    if (!d) {
        ap_test_fail(__FILE__, __LINE__, "cannot open %s", dir);
        return;
    }
    int n_ok = 0, n_bad = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int ok = strncmp(e->d_name, "ok_", 3) == 0 || strncmp(e->d_name, "lib_", 4) == 0;
        int bad = strncmp(e->d_name, "bad_", 4) == 0;
        if (!ok && !bad) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct ap_gguf *g = NULL;
        enum ap_status st = ap_gguf_open(path, &g);
        if (ok && st != AP_OK) ap_test_fail(__FILE__, __LINE__, "%s should open: %s", e->d_name, ap_last_error());
        if (bad && st == AP_OK) ap_test_fail(__FILE__, __LINE__, "%s should fail to open", e->d_name);
        if (bad && st != AP_OK && (strncmp(ap_last_error(), path, strlen(path)) != 0 || st == AP_ERR_IO))
            ap_test_fail(__FILE__, __LINE__, "%s: status %d, message '%s'", e->d_name, (int)st, ap_last_error());
        n_ok += ok;
        n_bad += bad;
        ap_gguf_close(g);
    }
    closedir(d);
    CHECK(n_ok >= 7 && n_bad >= 25);

    /* the package's own writer: tokens, an F16 tensor, padding between tensors */
    char path[8192];
    snprintf(path, sizeof path, "%s/lib_writer.gguf", dir);
    struct ap_gguf *g = NULL;
    CHECK_STATUS(ap_gguf_open(path, &g), AP_OK);
    if (!g) return;
    const struct ap_gguf_kv *tok = NULL;
    CHECK_STATUS(ap_gguf_get_array(g, "tokenizer.ggml.tokens", AP_GGUF_STRING, &tok), AP_OK);
    if (tok && tok->n == 3) {
        struct ap_gguf_str s = ap_gguf_array_str(g, tok, 2);
        CHECK(s.len == 5 && memcmp(s.data, "hello", 5) == 0);
    }
    float f = 0, h[4];
    CHECK_STATUS(ap_gguf_get_f32(g, "a.f64", &f), AP_OK);
    CHECK(f == 0.25f);
    struct ap_gguf_tensor t;
    CHECK_STATUS(ap_gguf_find_tensor(g, "h", &t), AP_OK);
    if (t.type == AP_GGML_F16 && t.n_elements == 4) {
        ap_gguf_dequantize(&t, h);
        CHECK(h[0] == 1.0f && h[1] == -2.0f && h[2] == 0.5f && h[3] == 65504.0f);
    }
    CHECK_STATUS(ap_gguf_find_tensor(g, "w", &t), AP_OK);
    CHECK(t.n_dims == 2 && t.ne[0] == 4 && t.ne[1] == 3);
    ap_gguf_close(g);
}

/* fuzz_gguf.c — any bytes given to the GGUF reader either fail with a status
 * or yield metadata and tensors whose every byte can be read (AddressSanitizer
 * checks the "can"): every value and array element is walked, every tensor is
 * found again by name, and the first blocks of each are dequantized.
 * Seeds: tests/corpus/gguf (tests/fuzz/make_corpus.py). */
#include <string.h>

#include "fuzz.h"
#include "io/gguf.h"

#define FUZZ_MAX_ELEMS 4096 /* floats dequantized per tensor (16 K-quant blocks) */

static volatile uint64_t g_sink; /* keeps the reads from being optimized away */
static float g_out[FUZZ_MAX_ELEMS];

static uint64_t touch(const void *p, uint64_t n) {
    const unsigned char *b = p;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) sum += b[i];
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct ap_gguf *g = NULL;
    if (ap_gguf_open_memory(data, size, "fuzz.gguf", &g) != AP_OK) {
        if (g != NULL) __builtin_trap();
        return 0;
    }
    uint64_t sum = ap_gguf_version(g) + ap_gguf_alignment(g);
    uint32_t align = ap_gguf_alignment(g);
    if (align == 0 || (align & (align - 1)) != 0) __builtin_trap();

    size_t n_kv = ap_gguf_kv_count(g);
    for (size_t i = 0; i < n_kv; i++) {
        const struct ap_gguf_kv *kv = ap_gguf_kv_at(g, i);
        if (!kv) __builtin_trap();
        sum += touch(kv->key.data, kv->key.len);
        char key[256];
        if (kv->key.len < sizeof key) { /* found again by its key (keys are unique) */
            memcpy(key, kv->key.data, kv->key.len);
            key[kv->key.len] = '\0';
            if (strlen(key) == kv->key.len && ap_gguf_find_kv(g, key) != kv) __builtin_trap();
        }
        if (kv->type == AP_GGUF_STRING) sum += touch(kv->str.data, kv->str.len);
        if (kv->type != AP_GGUF_ARRAY) {
            sum += kv->u64;
            continue;
        }
        for (uint64_t k = 0; k < kv->n; k++) {
            switch (kv->elem_type) {
            case AP_GGUF_STRING: {
                struct ap_gguf_str s = ap_gguf_array_str(g, kv, k);
                sum += touch(s.data, s.len);
                break;
            }
            case AP_GGUF_FLOAT32:
            case AP_GGUF_FLOAT64: sum += ap_gguf_array_float(kv, k) > 0.0; break;
            case AP_GGUF_ARRAY: __builtin_trap(); /* refused at open */
            default: sum += (uint64_t)ap_gguf_array_int(kv, k); break;
            }
        }
    }
    if (ap_gguf_kv_at(g, n_kv) != NULL) __builtin_trap();

    size_t n_t = ap_gguf_tensor_count(g);
    for (size_t i = 0; i < n_t; i++) {
        const struct ap_gguf_tensor *t = ap_gguf_tensor_at(g, i);
        if (!t || t->n_dims < 1 || t->n_dims > AP_GGUF_MAX_DIMS) __builtin_trap();
        int32_t be = ap_ggml_block_elems(t->type), bb = ap_ggml_block_bytes(t->type);
        if (be == 0 || t->ne[0] % be != 0) __builtin_trap();
        if ((uint64_t)t->n_elements / (uint64_t)be * (uint64_t)bb != t->nbytes) __builtin_trap();
        struct ap_gguf_tensor again;
        if (ap_gguf_find_tensor(g, t->name, &again) != AP_OK || again.data != t->data) __builtin_trap();
        if (t->nbytes) {
            const unsigned char *b = t->data;
            sum += b[0] + b[t->nbytes - 1];
        }
        int64_t n = t->n_elements < FUZZ_MAX_ELEMS ? t->n_elements : FUZZ_MAX_ELEMS;
        n -= n % be;
        ap_ggml_dequantize_blocks(t->type, t->data, n, g_out);
        for (int64_t k = 0; k < n; k++) {
            uint32_t bits;
            memcpy(&bits, &g_out[k], sizeof bits);
            sum += bits;
        }
        if (t->n_elements <= FUZZ_MAX_ELEMS) ap_gguf_dequantize(t, g_out);
    }
    if (ap_gguf_has_tensor(g, "no such tensor \x01")) __builtin_trap();
    g_sink += sum;
    ap_gguf_close(g);
    return 0;
}

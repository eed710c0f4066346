/* fuzz_safetensors.c — any bytes given to the safetensors reader either fail
 * with a status or yield views whose every byte can be read (AddressSanitizer
 * checks the "can"); the float32 accessor is run on each tensor too.
 * Seeds: tests/corpus/safetensors (tests/fuzz/make_corpus.py). */
#include <string.h>

#include "fuzz.h"
#include "io/safetensors.h"

static volatile uint64_t g_sink; /* keeps the reads from being optimized away */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct ap_safetensors *st = NULL;
    if (ap_safetensors_open_memory(data, size, "fuzz.safetensors", &st) != AP_OK) return 0;

    uint64_t sum = 0;
    size_t n = ap_safetensors_count(st);
    for (size_t i = 0; i < n; i++) {
        struct ap_tensor_view v;
        if (ap_safetensors_get(st, i, &v) != AP_OK) __builtin_trap();
        if (v.ndim < 0 || v.ndim > AP_MAX_DIMS) __builtin_trap();
        uint64_t numel = 1;
        for (int32_t d = 0; d < v.ndim; d++) numel *= (uint64_t)v.shape[d];
        if (numel * ap_dtype_size(v.dtype) != v.nbytes) __builtin_trap();
        const unsigned char *b = v.data;
        for (size_t k = 0; k < v.nbytes; k++) sum += b[k];

        struct ap_tensor_view again;
        if (ap_safetensors_find(st, v.name, &again) != AP_OK) __builtin_trap(); /* names are unique */

        const float *f = NULL;
        if (ap_safetensors_tensor_f32(st, v.name, v.ndim, v.shape, &f) == AP_OK) {
            for (size_t k = 0; k < (size_t)numel; k++) {
                uint32_t bits;
                memcpy(&bits, &f[k], sizeof bits);
                sum += bits;
            }
        }
        /* a wrong shape must be refused, not read */
        int64_t wrong[AP_MAX_DIMS + 1] = {0};
        memcpy(wrong, v.shape, sizeof v.shape);
        wrong[0] += 1;
        if (ap_safetensors_tensor_f32(st, v.name, v.ndim > 0 ? v.ndim : 1, wrong, &f) == AP_OK) __builtin_trap();
    }
    const char *fmt = ap_safetensors_metadata(st, "format");
    if (fmt) sum += strlen(fmt);
    if (ap_safetensors_contains(st, "no such tensor \x01")) sum++;
    g_sink += sum;
    ap_safetensors_close(st);
    return 0;
}

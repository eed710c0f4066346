/* fuzz_npy.c — any bytes given to the .npy reader either fail with a status
 * or yield an array whose every byte can be read; the float32 accessor runs
 * on float arrays. Seeds: tests/corpus/npy (tests/fuzz/make_corpus.py). */
#include <string.h>

#include "fuzz.h"
#include "io/npy.h"

static volatile uint64_t g_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct ap_npy *npy = NULL;
    if (ap_npy_parse_memory(data, size, "fuzz.npy", &npy) != AP_OK) return 0;

    uint64_t sum = 0;
    const unsigned char *b = npy->data;
    for (size_t k = 0; k < npy->nbytes; k++) sum += b[k];
    /* the invariants a caller relies on */
    if (npy->ndim < 0 || npy->ndim > AP_MAX_DIMS) __builtin_trap();
    uint64_t numel = 1;
    for (int32_t i = 0; i < npy->ndim; i++) numel *= (uint64_t)npy->shape[i];
    if (numel * ap_dtype_size(npy->dtype) != npy->nbytes) __builtin_trap();

    const float *f = NULL;
    if (ap_npy_f32(npy, npy->ndim, npy->shape, &f) == AP_OK) {
        for (size_t k = 0; k < (size_t)numel; k++) {
            uint32_t bits;
            memcpy(&bits, &f[k], sizeof bits);
            sum += bits;
        }
    }
    g_sink += sum;
    ap_npy_close(npy);
    return 0;
}

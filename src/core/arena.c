/* arena.c — aligned bump allocation. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void *ap_aligned_alloc(size_t bytes) {
    size_t rounded = ap_arena_size_of(bytes ? bytes : 1);
    return aligned_alloc(AP_ALIGN, rounded);
}

void ap_aligned_free(void *p) { free(p); }

enum ap_status ap_arena_init(struct ap_arena *a, size_t cap) {
    memset(a, 0, sizeof *a);
    size_t rounded = ap_arena_size_of(cap ? cap : 1);
    a->base = ap_aligned_alloc(rounded);
    if (!a->base) return ap_error(AP_ERR_NOMEM, "cannot allocate a %zu-byte scratch arena", rounded);
    a->cap = rounded;
    return AP_OK;
}

void ap_arena_free(struct ap_arena *a) {
    ap_aligned_free(a->base);
    memset(a, 0, sizeof *a);
}

void *ap_arena_alloc(struct ap_arena *a, size_t bytes) {
    size_t need = ap_arena_size_of(bytes);
    if (need > a->cap - a->used) {
        ap_error(AP_ERR_NOMEM, "scratch arena exhausted: %zu bytes requested, %zu of %zu free", need,
                 a->cap - a->used, a->cap);
        return NULL;
    }
    void *p = a->base + a->used;
    a->used += need;
    return p;
}

float *ap_arena_floats(struct ap_arena *a, size_t count) { return ap_arena_alloc(a, count * sizeof(float)); }

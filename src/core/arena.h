/* arena.h — one aligned allocation per lifetime, handed out by bumping a pointer.
 *
 * A model sizes its scratch once at load time (from the longest sequence it
 * will see) and carves tensors out of one arena; nothing is allocated in the
 * forward pass. ap_arena_mark/ap_arena_reset_to give stack-like reuse. */
#ifndef AP_CORE_ARENA_H
#define AP_CORE_ARENA_H

#include <stddef.h>

#include "attnprune.h"

#define AP_ALIGN 64 /* bytes: a cache line, and an AVX-512 register */

struct ap_arena {
    unsigned char *base;
    size_t cap;  /* bytes */
    size_t used; /* bytes */
};

/* Reserve cap bytes (rounded up to AP_ALIGN). */
enum ap_status ap_arena_init(struct ap_arena *a, size_t cap);
void ap_arena_free(struct ap_arena *a);

/* bytes from the arena, aligned to AP_ALIGN; NULL (and an error set) if the
 * arena is exhausted, which means the caller sized it wrongly. */
void *ap_arena_alloc(struct ap_arena *a, size_t bytes);
float *ap_arena_floats(struct ap_arena *a, size_t count);

static inline size_t ap_arena_mark(const struct ap_arena *a) { return a->used; }
static inline void ap_arena_reset_to(struct ap_arena *a, size_t mark) { a->used = mark; }

/* Bytes an allocation of `bytes` takes in an arena, for sizing one up front. */
static inline size_t ap_arena_size_of(size_t bytes) { return (bytes + AP_ALIGN - 1) / AP_ALIGN * AP_ALIGN; }

/* Aligned heap memory outside any arena (free with ap_aligned_free). */
void *ap_aligned_alloc(size_t bytes);
void ap_aligned_free(void *p);

#endif

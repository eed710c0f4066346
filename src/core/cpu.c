/* cpu.c — which SIMD paths this CPU can take, with an environment override
 * (AP_CPU=scalar|avx2|native) so the fallbacks can be forced in tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "attnprune.h"

static uint32_t detect(void) {
    uint32_t f = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) f |= AP_CPU_SSE42;
    if (__builtin_cpu_supports("avx2")) f |= AP_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) f |= AP_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) f |= AP_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) f |= AP_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vnni")) f |= AP_CPU_AVX512VNNI;
    /* AVX-VNNI (CPUID.(EAX=7,ECX=1):EAX bit 4): not every compiler's
     * __builtin_cpu_supports knows its name, so ask CPUID; it uses the YMM
     * state that the AVX2 check has already found enabled by the OS. */
    unsigned a, b, c, d;
    if ((f & AP_CPU_AVX2) && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4))) f |= AP_CPU_AVXVNNI;
#endif
    return f;
}

uint32_t ap_cpu_features(void) {
    static int cached = 0;
    static uint32_t features = 0;
    if (!cached) {
        uint32_t f = detect();
        const char *env = getenv("AP_CPU");
        if (env && strcmp(env, "scalar") == 0) f = 0;
        else if (env && strcmp(env, "avx2") == 0)
            f &= ~(uint32_t)(AP_CPU_AVX512F | AP_CPU_AVX512BW | AP_CPU_AVX512VNNI);
        features = f;
        cached = 1;
    }
    return features;
}

const char *ap_cpu_feature_string(uint32_t features) {
    static _Thread_local char buf[128];
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {{AP_CPU_SSE42, "sse4.2"},         {AP_CPU_AVX2, "avx2"},         {AP_CPU_FMA, "fma"},
                 {AP_CPU_AVX512F, "avx512f"},      {AP_CPU_AVX512BW, "avx512bw"}, {AP_CPU_AVX512VNNI, "avx512vnni"},
                 {AP_CPU_AVXVNNI, "avxvnni"}};
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(features & names[i].bit)) continue;
        int n = snprintf(buf + used, sizeof buf - used, "%s%s", used ? " " : "", names[i].name);
        if (n < 0 || (size_t)n >= sizeof buf - used) break;
        used += (size_t)n;
    }
    if (!used) snprintf(buf, sizeof buf, "none");
    return buf;
}

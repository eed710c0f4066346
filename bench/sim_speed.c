/* sim_speed.c — how long the simulators take: every accelerator configured
 * in a folder (each .ini naming a baseline, run with its baseline, as
 * `attnprune compare` does) on one synthetic trace, the median of R runs,
 * per accelerator and in total. The bound: all of them on a
 * 12-layer, 12-head, 512-token trace in under a second.
 *
 *   build/bench/sim_speed [CONFIG_DIR] [SPEC] [R]
 *   default: configs 'S=512,d=64,layers=12,heads=12,density=0.25' 5 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "sim/sim.h"
#include "trace/synth.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}


int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "configs";
    const char *spec = argc > 2 ? argv[2] : "S=512,d=64,layers=12,heads=12,density=0.25";
    int R = argc > 3 ? atoi(argv[3]) : 5;
    if (R < 1) R = 1;
    struct ap_trace t;
    double t0 = ap_time_now();
    if (ap_trace_synthesize(spec, &t) != AP_OK) {
        fprintf(stderr, "sim_speed: %s\n", ap_last_error());
        return 1;
    }
    double synth_s = ap_time_now() - t0;
    char **paths = NULL;
    int32_t n = 0;
    if (ap_sim_accelerators(dir, &paths, &n) != AP_OK) {
        fprintf(stderr, "sim_speed: %s\n", ap_last_error());
        return 1;
    }
    printf("trace %s: %d x %d x %d heads, synthesized in %.3f s\n", spec, t.N, t.L, t.H, synth_s);
    printf("%-28s %12s\n", "configuration (+ baseline)", "median_ms");
    double *tot = calloc((size_t)R, sizeof *tot), *one = calloc((size_t)R, sizeof *one);
    struct ap_sim_report *r = malloc(sizeof *r);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < R; k++) {
            double s = ap_time_now();
            if (ap_sim_run(paths[i], &t, r) != AP_OK) {
                fprintf(stderr, "sim_speed: %s\n", ap_last_error());
                return 1;
            }
            one[k] = ap_time_now() - s;
            tot[k] += one[k];
        }
        qsort(one, (size_t)R, sizeof *one, cmp_double);
        printf("%-28s %12.2f\n", paths[i], one[R / 2] * 1e3);
    }
    qsort(tot, (size_t)R, sizeof *tot, cmp_double);
    printf("all %d accelerators and their baselines: median %.3f s (min %.3f, max %.3f) over %d runs\n", n, tot[R / 2],
           tot[0], tot[R - 1], R);
    ap_sim_paths_free(paths, n);
    free(tot), free(one), free(r);
    ap_trace_free(&t);
    return 0;
}

/* sim_check.c — shared plumbing of the simulators' tests (sim_check.h). */
#include "sim_check.h"

#include <stdio.h>

#include "test.h"
#include "trace/synth.h"

void ap_sc_config_path(char *buf, size_t cap, const char *name) {
    const char *root = ap_test_source_dir();
    snprintf(buf, cap, "%s/configs/%s", root ? root : ".", name);
}

enum ap_status ap_sc_run_file(const char *path, const struct ap_trace *t, struct ap_sim_report *r) {
    struct ap_sim_arch a;
    enum ap_status st = ap_sim_arch_load(path, &a);
    if (st == AP_OK) st = ap_sim_run_arch(&a, t, r);
    ap_sim_arch_free(&a);
    return st;
}

enum ap_status ap_sc_run_spec(const char *name, const char *spec, struct ap_sim_report *r) {
    char path[1024];
    ap_sc_config_path(path, sizeof path, name);
    struct ap_trace t;
    enum ap_status st = ap_trace_synthesize(spec, &t);
    if (st == AP_OK) st = ap_sim_run(path, &t, r);
    ap_trace_free(&t);
    return st;
}

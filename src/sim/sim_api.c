/* sim_api.c — the simulators behind the public API (attnprune.h): a trace
 * opened once, any number of configurations run on it. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "sim/sim.h"

/* The whole text a writer produced, through open_memstream. */
static enum ap_status capture(char **out, enum ap_status (*write)(const struct ap_sim_report *, FILE *),
                              const struct ap_sim_report *r) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return ap_error(AP_ERR_NOMEM, "report: out of memory");
    enum ap_status st = write(r, f);
    if (fclose(f) != 0 && st == AP_OK) st = ap_error(AP_ERR_NOMEM, "report: out of memory");
    if (st != AP_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return AP_OK;
}

static enum ap_status write_csv(const struct ap_sim_report *r, FILE *f) {
    ap_sim_csv_row(r, f);
    return AP_OK;
}

enum ap_status ap_sim_simulate(const char *arch_path, const struct ap_trace *trace, struct ap_sim_summary *out,
                               char **json, char **csv_row) {
    if (json) *json = NULL;
    if (csv_row) *csv_row = NULL;
    memset(out, 0, sizeof *out);
    struct ap_sim_report *r = calloc(1, sizeof *r);
    if (!r) return ap_error(AP_ERR_NOMEM, "%s: out of memory", arch_path);
    enum ap_status st = ap_sim_run(arch_path, trace, r);
    if (st == AP_OK) {
        snprintf(out->arch, sizeof out->arch, "%s", r->arch);
        snprintf(out->kind, sizeof out->kind, "%s", r->kind);
        snprintf(out->baseline, sizeof out->baseline, "%s", r->baseline);
        out->cycles = r->cycles, out->seconds = r->seconds, out->energy_pj = r->energy_pj;
        out->utilization = r->utilization, out->dram_bytes = r->dram_bytes;
        out->gops = r->gops, out->gops_per_j = r->gops_per_j, out->gops_per_mm2 = r->gops_per_mm2;
        out->speedup_vs_baseline = r->speedup_vs_baseline;
        out->energy_ratio_vs_baseline = r->energy_ratio_vs_baseline;
        out->traffic_vs_baseline = r->traffic_vs_baseline;
    }
    if (st == AP_OK && json) st = capture(json, ap_sim_report_json, r);
    if (st == AP_OK && csv_row) st = capture(csv_row, write_csv, r);
    if (st != AP_OK && json) free(*json), *json = NULL;
    free(r);
    return st;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void ap_sim_paths_free(char **paths, int32_t n) {
    for (int32_t i = 0; paths && i < n; i++) free(paths[i]);
    free(paths);
}

enum ap_status ap_sim_accelerators(const char *dir, char ***paths, int32_t *n) {
    *paths = NULL, *n = 0;
    DIR *d = opendir(dir);
    if (!d) return ap_error(AP_ERR_IO, "%s: cannot open the configuration folder: %s", dir, strerror(errno));
    char **list = NULL;
    int32_t count = 0, cap = 0;
    enum ap_status st = AP_OK;
    struct dirent *e;
    while (st == AP_OK && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ini") != 0) continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct ap_sim_arch a;
        st = ap_sim_arch_load(path, &a);
        int accelerator = st == AP_OK && a.baseline_path[0];
        ap_sim_arch_free(&a);
        if (!accelerator) continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(list, sizeof *grown * (size_t)cap);
            if (!grown) {
                st = ap_error(AP_ERR_NOMEM, "%s: out of memory", dir);
                break;
            }
            list = grown;
        }
        if (!(list[count] = strdup(path))) st = ap_error(AP_ERR_NOMEM, "%s: out of memory", dir);
        else count++;
    }
    closedir(d);
    if (st != AP_OK) {
        ap_sim_paths_free(list, count);
        return st;
    }
    if (count) qsort(list, (size_t)count, sizeof *list, by_name);
    *paths = list, *n = count;
    return AP_OK;
}

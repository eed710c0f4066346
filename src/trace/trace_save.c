/* trace_save.c — the one writer of the trace format (docs/trace-format.md):
 * any trace held in memory (a model's, assembled by ap_trace_write; a
 * synthetic one; one read and edited), into a directory assembled under a
 * temporary name and renamed when complete, so a reader never sees half a
 * trace. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/npy.h"
#include "trace/synth.h"

static const char *const g_files[] = {"trace.json", "heads.csv", "layers.csv", "rows.npy"};

/* Remove a partly written temporary trace directory (its trace files and
 * the directory itself), ignoring what is not there. */
static void dir_discard(const char *tmp_dir) {
    char p[4300];
    for (size_t i = 0; i < sizeof g_files / sizeof g_files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp_dir, g_files[i]);
        unlink(p);
    }
    rmdir(tmp_dir);
}

enum ap_status ap_trace_dir_check(const char *out_dir) {
    char p[4200];
    struct stat sb;
    if (stat(out_dir, &sb) == 0) {
        snprintf(p, sizeof p, "%s/trace.json", out_dir);
        if (stat(p, &sb) != 0)
            return ap_error(AP_ERR_IO, "%s exists and is not a trace directory (no trace.json); not replacing it",
                            out_dir);
    }
    return AP_OK;
}

/* Replace out_dir by tmp_dir (ap_trace_dir_check's rule: only a trace
 * directory is replaced, and only its trace files are removed). */
static enum ap_status dir_replace(const char *tmp_dir, const char *out_dir) {
    char p[4200];
    struct stat sb;
    enum ap_status st = ap_trace_dir_check(out_dir);
    if (st != AP_OK) return st;
    if (stat(out_dir, &sb) == 0) {
        for (size_t i = 0; i < sizeof g_files / sizeof g_files[0]; i++) {
            snprintf(p, sizeof p, "%s/%s", out_dir, g_files[i]);
            unlink(p);
        }
        if (rmdir(out_dir) != 0) return ap_error(AP_ERR_IO, "%s: cannot replace it: %s", out_dir, strerror(errno));
    }
    if (rename(tmp_dir, out_dir) != 0)
        return ap_error(AP_ERR_IO, "cannot rename %s to %s: %s", tmp_dir, out_dir, strerror(errno));
    return AP_OK;
}

static char *metadata_json(const struct ap_trace *t) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "format", "attnprune-trace");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "model", t->model);
    cJSON_AddStringToObject(root, "architecture", t->architecture);
    cJSON_AddNumberToObject(root, "layers", t->L);
    cJSON_AddNumberToObject(root, "heads", t->H);
    cJSON_AddNumberToObject(root, "head_dim", t->d);
    cJSON_AddNumberToObject(root, "hidden", t->D);
    cJSON_AddNumberToObject(root, "chunks", t->N);
    cJSON_AddNumberToObject(root, "tokens_per_chunk", t->T);
    cJSON_AddBoolToObject(root, "causal", t->causal);
    cJSON_AddStringToObject(root, "method", t->method);
    cJSON_AddStringToObject(root, "method_spec", t->method_spec);
    cJSON_AddStringToObject(root, "method_paper", t->method_paper);
    cJSON_AddStringToObject(root, "method_note", t->method_note);
    cJSON *params = cJSON_AddObjectToObject(root, "params");
    for (int32_t i = 0; i < t->n_params; i++) cJSON_AddStringToObject(params, t->param_keys[i], t->param_values[i]);
    cJSON *hs = cJSON_AddArrayToObject(root, "head_stats");
    for (int32_t i = 0; i < t->P; i++) cJSON_AddItemToArray(hs, cJSON_CreateString(t->head_stat_names[i]));
    cJSON *ls = cJSON_AddArrayToObject(root, "layer_stats");
    for (int32_t i = 0; i < t->Q; i++) cJSON_AddItemToArray(ls, cJSON_CreateString(t->layer_stat_names[i]));
    cJSON_AddStringToObject(root, "files", t->rows ? "heads.csv layers.csv rows.npy" : "heads.csv layers.csv");
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

static enum ap_status write_csvs(const struct ap_trace *t, const char *tmp) {
    char path[4300];
    snprintf(path, sizeof path, "%s/heads.csv", tmp);
    FILE *f = fopen(path, "w");
    if (!f) return ap_error(AP_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    fputs("chunk,layer,head,queries,keys,valid,kept", f);
    for (int32_t i = 0; i < t->P; i++) fprintf(f, ",%s", t->head_stat_names[i]);
    fputc('\n', f);
    for (int32_t n = 0; n < t->N; n++)
        for (int32_t l = 0; l < t->L; l++)
            for (int32_t h = 0; h < t->H; h++) {
                const int64_t hi = ((int64_t)n * t->L + l) * t->H + h;
                const struct ap_trace_head *hd = &t->heads[hi];
                fprintf(f, "%d,%d,%d,%d,%d,%lld,%lld", n, l, h, hd->queries, hd->keys, (long long)hd->valid,
                        (long long)hd->kept);
                for (int32_t i = 0; i < t->P; i++) fprintf(f, ",%.17g", t->head_stats[hi * t->P + i]);
                fputc('\n', f);
            }
    if (ferror(f) | fclose(f)) return ap_error(AP_ERR_IO, "%s: write error", path);
    snprintf(path, sizeof path, "%s/layers.csv", tmp);
    if (!(f = fopen(path, "w"))) return ap_error(AP_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    fputs("chunk,layer,tokens_active,heads_active", f);
    for (int32_t i = 0; i < t->Q; i++) fprintf(f, ",%s", t->layer_stat_names[i]);
    fputc('\n', f);
    for (int32_t n = 0; n < t->N; n++)
        for (int32_t l = 0; l < t->L; l++) {
            const int64_t li = (int64_t)n * t->L + l;
            fprintf(f, "%d,%d,%d,%d", n, l, t->tokens_active[li], t->heads_active[li]);
            for (int32_t i = 0; i < t->Q; i++) fprintf(f, ",%.17g", t->layer_stats[li * t->Q + i]);
            fputc('\n', f);
        }
    if (ferror(f) | fclose(f)) return ap_error(AP_ERR_IO, "%s: write error", path);
    return AP_OK;
}

enum ap_status ap_trace_save(const struct ap_trace *t, const char *dir) {
    char tmp[4200], path[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dir, (long)getpid());
    dir_discard(tmp); /* a leftover of this process id */
    if (mkdir(tmp, 0755) != 0) return ap_error(AP_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    enum ap_status st = write_csvs(t, tmp);
    if (st == AP_OK && t->rows) {
        const int64_t shape[4] = {t->N, t->L, t->H, t->T};
        snprintf(path, sizeof path, "%s/rows.npy", tmp);
        st = ap_npy_write(path, AP_DTYPE_I32, t->rows, shape, 4);
    }
    if (st == AP_OK) {
        char *json = metadata_json(t);
        snprintf(path, sizeof path, "%s/trace.json", tmp);
        FILE *f = json ? fopen(path, "w") : NULL;
        if (!json)
            st = ap_error(AP_ERR_NOMEM, "%s: out of memory", path);
        else if (!f || fputs(json, f) < 0 || fputc('\n', f) == EOF || fclose(f) != 0)
            st = ap_error(AP_ERR_IO, "%s: write error", path);
        free(json);
    }
    if (st == AP_OK) st = dir_replace(tmp, dir);
    if (st != AP_OK) dir_discard(tmp);
    return st;
}

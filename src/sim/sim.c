/* sim.c — configurations, the report, the dispatch to each accelerator's
 * simulator, its baseline, and the JSON / CSV output (sim.h). */
#include "sim/sim.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "core/error.h"

static const struct {
    const char *kind;
    ap_sim_fn run;
} g_sims[] = {
    {"hammer", ap_sim_hammer}, {"sanger", ap_sim_sanger},   {"leopard", ap_sim_leopard},
    {"sprint", ap_sim_sprint}, {"spatten", ap_sim_spatten},
};

/* ------------------------------------------------------------ configuration */

enum ap_status ap_sim_arch_load(const char *path, struct ap_sim_arch *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    enum ap_status st = ap_ini_read(path, &out->ini);
    if (st != AP_OK) return st;
    struct ap_ini *ini = &out->ini;
    const char *kind = ap_ini_string(ini, "arch", "kind", NULL);
    if (!kind) return ap_error(AP_ERR_FORMAT, "%s: [arch] kind is required (hammer, sanger, leopard, sprint, spatten)", path);
    int known = 0;
    for (size_t i = 0; i < sizeof g_sims / sizeof g_sims[0]; i++) known |= strcmp(kind, g_sims[i].kind) == 0;
    if (!known || strlen(kind) >= sizeof out->kind)
        return ap_error(AP_ERR_FORMAT, "%s: [arch] kind = '%s': expected hammer, sanger, leopard, sprint or spatten",
                        path, kind);
    strcpy(out->kind, kind);
    /* name: [arch] name, or the file name without its folder and .ini */
    const char *name = ap_ini_string(ini, "arch", "name", NULL);
    if (name) {
        if (strlen(name) >= sizeof out->name) return ap_error(AP_ERR_FORMAT, "%s: [arch] name is too long", path);
        strcpy(out->name, name);
    } else {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t n = strlen(base);
        if (n > 4 && strcmp(base + n - 4, ".ini") == 0) n -= 4;
        if (n >= sizeof out->name) n = sizeof out->name - 1;
        memcpy(out->name, base, n);
        out->name[n] = '\0';
    }
    int64_t pruning;
    double mhz;
    if ((st = ap_ini_int(ini, "arch", "pruning", 1, 0, 1, &pruning)) != AP_OK) return st;
    if ((st = ap_ini_double(ini, "arch", "clock_mhz", 0, 1, 1e5, &mhz)) != AP_OK) return st;
    if (!ap_ini_find(ini, "arch", "clock_mhz")) return ap_error(AP_ERR_FORMAT, "%s: [arch] clock_mhz is required", path);
    if ((st = ap_ini_double(ini, "arch", "node_nm", 0, 5, 250, &out->node_nm)) != AP_OK) return st;
    if (!ap_ini_find(ini, "arch", "node_nm")) return ap_error(AP_ERR_FORMAT, "%s: [arch] node_nm is required", path);
    if ((st = ap_ini_double(ini, "arch", "area_mm2", 0, 0, 1e6, &out->area_mm2)) != AP_OK) return st;
    if ((st = ap_ini_double(ini, "arch", "static_mw", 0, 0, 1e9, &out->static_mw)) != AP_OK) return st;
    out->pruning = (int32_t)pruning;
    out->clock_hz = mhz * 1e6;
    const char *base_file = ap_ini_string(ini, "arch", "baseline", NULL);
    if (base_file && base_file[0]) {
        const char *slash = strrchr(path, '/');
        int dir_len = slash && base_file[0] != '/' ? (int)(slash - path + 1) : 0;
        if ((size_t)dir_len + strlen(base_file) >= sizeof out->baseline_path)
            return ap_error(AP_ERR_FORMAT, "%s: [arch] baseline: path too long", path);
        snprintf(out->baseline_path, sizeof out->baseline_path, "%.*s%s", dir_len, path, base_file);
    }
    return ap_tech_load(out->node_nm, ini, &out->tech);
}

void ap_sim_arch_free(struct ap_sim_arch *a) { ap_ini_free(&a->ini); }

enum ap_status ap_sim_param(struct ap_sim_arch *a, const char *section, const char *key, double def, double lo,
                            double hi, double *out) {
    return ap_ini_double(&a->ini, section, key, def, lo, hi, out);
}

enum ap_status ap_sim_param_int(struct ap_sim_arch *a, const char *section, const char *key, int64_t def, int64_t lo,
                                int64_t hi, int32_t *out) {
    int64_t v;
    if (lo < INT32_MIN) lo = INT32_MIN;
    if (hi > INT32_MAX) hi = INT32_MAX;
    enum ap_status st = ap_ini_int(&a->ini, section, key, def, lo, hi, &v);
    if (st == AP_OK) *out = (int32_t)v;
    return st;
}

/* ------------------------------------------------------------ booking */

static void book(struct ap_sim_entry *e, int32_t *n, const char *name, double v) {
    for (int32_t i = 0; i < *n; i++)
        if (strcmp(e[i].name, name) == 0) {
            e[i].value += v;
            return;
        }
    AP_ASSERT(*n < AP_SIM_MAX_ENTRIES);
    snprintf(e[*n].name, sizeof e[*n].name, "%s", name);
    e[*n].value = v;
    (*n)++;
}

void ap_sim_energy(struct ap_sim_report *r, const char *component, double pj) {
    book(r->components, &r->n_components, component, pj);
}

void ap_sim_busy(struct ap_sim_report *r, const char *unit, double cycles) { book(r->unit_busy, &r->n_units, unit, cycles); }

void ap_sim_stat(struct ap_sim_report *r, const char *name, double value) {
    for (int32_t i = 0; i < r->n_stats; i++)
        if (strcmp(r->stat_names[i], name) == 0) {
            r->stats[i] = value;
            return;
        }
    AP_ASSERT(r->n_stats < (int32_t)(sizeof r->stats / sizeof r->stats[0]));
    snprintf(r->stat_names[r->n_stats], sizeof r->stat_names[0], "%s", name);
    r->stats[r->n_stats++] = value;
}

void ap_sim_note(struct ap_sim_report *r, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (strstr(r->notes, buf)) return;
    size_t used = strlen(r->notes);
    if (used + strlen(buf) + 3 >= sizeof r->notes) return;
    snprintf(r->notes + used, sizeof r->notes - used, "%s%s", used ? "; " : "", buf);
}

double ap_sim_report_energy(const struct ap_sim_report *r, const char *component) {
    for (int32_t i = 0; i < r->n_components; i++)
        if (strcmp(r->components[i].name, component) == 0) return r->components[i].value;
    return 0.0;
}

double ap_sim_report_stat(const struct ap_sim_report *r, const char *name) {
    for (int32_t i = 0; i < r->n_stats; i++)
        if (strcmp(r->stat_names[i], name) == 0) return r->stats[i];
    return NAN;
}

/* ------------------------------------------------------------ trace views */

double ap_sim_dense_ops(const struct ap_trace *t) {
    double ops = 0;
    for (int32_t n = 0; n < t->N; n++) {
        int64_t full = 0; /* the chunk's unpruned valid pairs per head */
        for (int64_t i = 0; i < (int64_t)t->L * t->H; i++) {
            int64_t v = t->heads[(int64_t)n * t->L * t->H + i].valid;
            if (v > full) full = v;
        }
        ops += (double)full * t->L * t->H * 4.0 * t->d;
    }
    return ops;
}

int32_t ap_sim_head_rows(const struct ap_trace *t, int64_t h, int32_t *kept, int32_t *valid) {
    const struct ap_trace_head *hd = &t->heads[h];
    int32_t q = hd->queries, k = hd->keys;
    if (q <= 0) return 0;
    if (q > t->T) q = t->T;
    for (int32_t r = 0; r < q; r++) {
        int32_t v = t->causal ? k - q + r + 1 : k;
        valid[r] = v < 0 ? 0 : v > k ? k : v;
    }
    if (t->rows) {
        /* rows are token positions: when every kept row lies among the
         * first q positions (padding at the end) they are the rows, in
         * place; otherwise (token pruning) the rows with keys, in order */
        const int32_t *row = t->rows + h * t->T;
        int32_t last = -1;
        for (int32_t i = 0; i < t->T; i++)
            if (row[i] > 0) last = i;
        if (last < q) {
            for (int32_t r = 0; r < q; r++) kept[r] = row[r];
        } else {
            int32_t m = 0;
            for (int32_t i = 0; i < t->T && m < q; i++)
                if (row[i] > 0) kept[m++] = row[i];
            while (m < q) kept[m++] = 0;
        }
    } else {
        int64_t per = hd->kept / q, rem = hd->kept % q;
        for (int32_t r = 0; r < q; r++) kept[r] = (int32_t)(per + (r < rem));
    }
    /* a row never keeps more than it may see (rows.npy and the even spread
     * both respect it for consistent traces; clamp for the others) */
    for (int32_t r = 0; r < q; r++)
        if (kept[r] > valid[r]) kept[r] = valid[r];
    return q;
}

/* ------------------------------------------------------------ running */

enum ap_status ap_sim_run_arch(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->arch, sizeof r->arch, "%s", a->name);
    snprintf(r->kind, sizeof r->kind, "%s", a->kind);
    snprintf(r->trace, sizeof r->trace, "%.180s/%.63s", t->model, t->method);
    r->pruning = a->pruning;
    r->clock_hz = a->clock_hz;
    ap_sim_fn run = NULL;
    for (size_t i = 0; i < sizeof g_sims / sizeof g_sims[0]; i++)
        if (strcmp(a->kind, g_sims[i].kind) == 0) run = g_sims[i].run;
    AP_ASSERT(run);
    enum ap_status st = run(a, t, r);
    if (st != AP_OK) return st;
    if ((st = ap_ini_check_used(&a->ini)) != AP_OK) return st;
    r->seconds = r->cycles / a->clock_hz;
    if (a->static_mw > 0) ap_sim_energy(r, "static", a->static_mw * 1e-3 * r->seconds * 1e12);
    r->energy_pj = 0;
    for (int32_t i = 0; i < r->n_components; i++) r->energy_pj += r->components[i].value;
    r->ops = ap_sim_dense_ops(t);
    r->gops = r->seconds > 0 ? r->ops / r->seconds * 1e-9 : 0;
    r->gops_per_j = r->energy_pj > 0 ? r->ops / (r->energy_pj * 1e-12) * 1e-9 : 0;
    r->area_mm2 = a->area_mm2;
    r->gops_per_mm2 = a->area_mm2 > 0 ? r->gops / a->area_mm2 : 0;
    return AP_OK;
}

enum ap_status ap_sim_run(const char *arch_path, const struct ap_trace *t, struct ap_sim_report *r) {
    struct ap_sim_arch a;
    enum ap_status st = ap_sim_arch_load(arch_path, &a);
    if (st == AP_OK) st = ap_sim_run_arch(&a, t, r);
    char base_path[sizeof a.baseline_path];
    snprintf(base_path, sizeof base_path, "%s", a.baseline_path);
    ap_sim_arch_free(&a);
    if (st != AP_OK || !base_path[0]) return st;
    struct ap_sim_arch b;
    struct ap_sim_report br;
    st = ap_sim_arch_load(base_path, &b);
    if (st == AP_OK && strcmp(b.kind, r->kind) != 0)
        st = ap_error(AP_ERR_FORMAT, "%s: baseline %s is a %s, not a %s", arch_path, base_path, b.kind, r->kind);
    if (st == AP_OK) st = ap_sim_run_arch(&b, t, &br);
    ap_sim_arch_free(&b);
    if (st != AP_OK) return ap_error_prefix(st, "%s: baseline", arch_path);
    snprintf(r->baseline, sizeof r->baseline, "%s", br.arch);
    r->baseline_cycles = br.cycles, r->baseline_energy_pj = br.energy_pj, r->baseline_dram_bytes = br.dram_bytes;
    r->speedup_vs_baseline = r->seconds > 0 ? br.seconds / r->seconds : 0;
    r->energy_ratio_vs_baseline = r->energy_pj > 0 ? br.energy_pj / r->energy_pj : 0;
    r->traffic_vs_baseline = br.dram_bytes > 0 ? r->dram_bytes / br.dram_bytes : 0;
    return AP_OK;
}

/* ------------------------------------------------------------ output */

enum ap_status ap_sim_report_json(const struct ap_sim_report *r, FILE *f) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return ap_error(AP_ERR_NOMEM, "report: out of memory");
    cJSON_AddStringToObject(o, "arch", r->arch);
    cJSON_AddStringToObject(o, "kind", r->kind);
    cJSON_AddStringToObject(o, "trace", r->trace);
    cJSON_AddBoolToObject(o, "pruning", r->pruning);
    cJSON_AddNumberToObject(o, "clock_hz", r->clock_hz);
    cJSON_AddNumberToObject(o, "cycles", r->cycles);
    cJSON_AddNumberToObject(o, "seconds", r->seconds);
    cJSON_AddNumberToObject(o, "energy_pj", r->energy_pj);
    cJSON *e = cJSON_AddObjectToObject(o, "energy_by_component");
    for (int32_t i = 0; i < r->n_components; i++) cJSON_AddNumberToObject(e, r->components[i].name, r->components[i].value);
    cJSON *u = cJSON_AddObjectToObject(o, "busy_cycles");
    for (int32_t i = 0; i < r->n_units; i++) cJSON_AddNumberToObject(u, r->unit_busy[i].name, r->unit_busy[i].value);
    cJSON_AddNumberToObject(o, "stall_cycles", r->stall_cycles);
    cJSON_AddNumberToObject(o, "utilization", r->utilization);
    cJSON_AddNumberToObject(o, "dram_bytes", r->dram_bytes);
    cJSON_AddNumberToObject(o, "reram_bytes", r->reram_bytes);
    cJSON_AddNumberToObject(o, "sram_bytes", r->sram_bytes);
    cJSON_AddNumberToObject(o, "ops", r->ops);
    cJSON_AddNumberToObject(o, "gops", r->gops);
    cJSON_AddNumberToObject(o, "gops_per_j", r->gops_per_j);
    if (r->area_mm2 > 0) {
        cJSON_AddNumberToObject(o, "area_mm2", r->area_mm2);
        cJSON_AddNumberToObject(o, "gops_per_mm2", r->gops_per_mm2);
    } else {
        cJSON_AddNullToObject(o, "area_mm2");
        cJSON_AddNullToObject(o, "gops_per_mm2");
    }
    cJSON *s = cJSON_AddObjectToObject(o, "stats");
    for (int32_t i = 0; i < r->n_stats; i++) cJSON_AddNumberToObject(s, r->stat_names[i], r->stats[i]);
    if (r->baseline[0]) {
        cJSON_AddStringToObject(o, "baseline", r->baseline);
        cJSON_AddNumberToObject(o, "baseline_cycles", r->baseline_cycles);
        cJSON_AddNumberToObject(o, "baseline_energy_pj", r->baseline_energy_pj);
        cJSON_AddNumberToObject(o, "speedup_vs_baseline", r->speedup_vs_baseline);
        cJSON_AddNumberToObject(o, "energy_ratio_vs_baseline", r->energy_ratio_vs_baseline);
        cJSON_AddNumberToObject(o, "traffic_vs_baseline", r->traffic_vs_baseline);
    } else {
        cJSON_AddNullToObject(o, "baseline");
        cJSON_AddNullToObject(o, "speedup_vs_baseline");
        cJSON_AddNullToObject(o, "energy_ratio_vs_baseline");
        cJSON_AddNullToObject(o, "traffic_vs_baseline");
    }
    cJSON_AddStringToObject(o, "notes", r->notes);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return ap_error(AP_ERR_NOMEM, "report: out of memory");
    fputs(text, f);
    fputc('\n', f);
    cJSON_free(text);
    return AP_OK;
}

const char *ap_sim_csv_columns(void) {
    return "arch,kind,trace,cycles,seconds,energy_pj,utilization,dram_bytes,reram_bytes,gops,gops_per_j,gops_per_mm2,"
           "baseline,speedup_vs_baseline,energy_ratio_vs_baseline,traffic_vs_baseline";
}

void ap_sim_csv_header(FILE *f) { fprintf(f, "%s\n", ap_sim_csv_columns()); }

void ap_sim_csv_row(const struct ap_sim_report *r, FILE *f) {
    fprintf(f, "%s,%s,\"%s\",%.17g,%.9g,%.9g,%.6g,%.17g,%.17g,%.6g,%.6g,", r->arch, r->kind, r->trace, r->cycles,
            r->seconds, r->energy_pj, r->utilization, r->dram_bytes, r->reram_bytes, r->gops, r->gops_per_j);
    if (r->area_mm2 > 0)
        fprintf(f, "%.6g,", r->gops_per_mm2);
    else
        fputc(',', f);
    if (r->baseline[0])
        fprintf(f, "%s,%.6g,%.6g,%.6g\n", r->baseline, r->speedup_vs_baseline, r->energy_ratio_vs_baseline,
                r->traffic_vs_baseline);
    else
        fputs(",,,\n", f);
}

/* trace_read.c — reading a trace directory back (see trace_read.h).
 *
 * The CSV files are the writer's (trace.c): comma-separated, no quoting,
 * a header line, then one row per record. The parser takes a buffer and
 * its length, never reads past it, and checks every field.
 *
 * Legend: N = chunks, L = layers, H = heads, T = tokens per chunk,
 * P = per-head statistics, Q = per-layer statistics. */
#include "trace/trace_read.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/file_map.h"
#include "io/npy.h"

#define MAX_RECORDS ((int64_t)1 << 26) /* N L H at most: 64 M head rows */
#define MAX_STATS 256

/* ------------------------------------------------------------ trace.json */

static enum ap_status copy_string(const cJSON *root, const char *label, const char *key, int required, char *dst,
                                  size_t cap) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it) {
        if (required) return ap_error(AP_ERR_FORMAT, "%s/trace.json: missing \"%s\"", label, key);
        dst[0] = '\0';
        return AP_OK;
    }
    if (!cJSON_IsString(it) || !it->valuestring)
        return ap_error(AP_ERR_FORMAT, "%s/trace.json: \"%s\" must be a string", label, key);
    if (strlen(it->valuestring) >= cap)
        return ap_error(AP_ERR_FORMAT, "%s/trace.json: \"%s\" longer than %zu bytes", label, key, cap - 1);
    memcpy(dst, it->valuestring, strlen(it->valuestring) + 1);
    return AP_OK;
}

static enum ap_status get_int(const cJSON *root, const char *label, const char *key, int64_t lo, int64_t hi,
                              int32_t *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || !cJSON_IsNumber(it))
        return ap_error(AP_ERR_FORMAT, "%s/trace.json: \"%s\" must be a number", label, key);
    const double v = it->valuedouble;
    if (!(v >= (double)lo && v <= (double)hi) || v != floor(v))
        return ap_error(AP_ERR_FORMAT, "%s/trace.json: \"%s\" is %g, expected an integer in %lld..%lld", label, key,
                        v, (long long)lo, (long long)hi);
    *out = (int32_t)v;
    return AP_OK;
}

/* A JSON array of names into a freshly allocated (n, AP_TRACE_NAME_MAX) table. */
static enum ap_status name_list(const cJSON *root, const char *label, const char *key,
                                char (**names)[AP_TRACE_NAME_MAX], int32_t *n) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key);
    *n = 0;
    *names = NULL;
    if (!arr || !cJSON_IsArray(arr))
        return ap_error(AP_ERR_FORMAT, "%s/trace.json: \"%s\" must be an array of names", label, key);
    const int count = cJSON_GetArraySize(arr);
    if (count > MAX_STATS)
        return ap_error(AP_ERR_FORMAT, "%s/trace.json: \"%s\" has %d names, at most %d", label, key, count, MAX_STATS);
    *names = calloc((size_t)(count > 0 ? count : 1), sizeof **names);
    if (!*names) return ap_error(AP_ERR_NOMEM, "out of memory");
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (!cJSON_IsString(e) || !e->valuestring || !e->valuestring[0] || strlen(e->valuestring) >= AP_TRACE_NAME_MAX ||
            strchr(e->valuestring, ',') || strchr(e->valuestring, '\n'))
            return ap_error(AP_ERR_FORMAT, "%s/trace.json: \"%s\"[%d] must be a non-empty name without commas, "
                            "shorter than %d bytes", label, key, i, AP_TRACE_NAME_MAX);
        memcpy((*names)[i], e->valuestring, strlen(e->valuestring) + 1);
        i++;
    }
    *n = count;
    return AP_OK;
}

static enum ap_status parse_json(const char *json, size_t len, const char *label, struct ap_trace *t) {
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) return ap_error(AP_ERR_FORMAT, "%s/trace.json: not valid JSON", label);
    enum ap_status st = AP_OK;
    char format[AP_TRACE_NAME_MAX];
    int32_t version = 0;
    if ((st = copy_string(root, label, "format", 1, format, sizeof format)) != AP_OK) goto out;
    if (strcmp(format, "attnprune-trace") != 0) {
        st = ap_error(AP_ERR_FORMAT, "%s/trace.json: format \"%s\", expected \"attnprune-trace\"", label, format);
        goto out;
    }
    if ((st = get_int(root, label, "version", 1, 1, &version)) != AP_OK) goto out;
    if ((st = copy_string(root, label, "model", 0, t->model, sizeof t->model)) != AP_OK ||
        (st = copy_string(root, label, "architecture", 1, t->architecture, sizeof t->architecture)) != AP_OK ||
        (st = copy_string(root, label, "method", 1, t->method, sizeof t->method)) != AP_OK ||
        (st = copy_string(root, label, "method_spec", 0, t->method_spec, sizeof t->method_spec)) != AP_OK ||
        (st = copy_string(root, label, "method_paper", 0, t->method_paper, sizeof t->method_paper)) != AP_OK ||
        (st = copy_string(root, label, "method_note", 0, t->method_note, sizeof t->method_note)) != AP_OK ||
        (st = get_int(root, label, "layers", 1, AP_TRACE_MAX_DIM, &t->L)) != AP_OK ||
        (st = get_int(root, label, "heads", 1, AP_TRACE_MAX_DIM, &t->H)) != AP_OK ||
        (st = get_int(root, label, "head_dim", 1, AP_TRACE_MAX_DIM, &t->d)) != AP_OK ||
        (st = get_int(root, label, "hidden", 1, (int64_t)1 << 30, &t->D)) != AP_OK ||
        (st = get_int(root, label, "chunks", 0, AP_TRACE_MAX_DIM, &t->N)) != AP_OK ||
        (st = get_int(root, label, "tokens_per_chunk", 1, AP_TRACE_MAX_DIM, &t->T)) != AP_OK)
        goto out;
    const cJSON *causal = cJSON_GetObjectItemCaseSensitive(root, "causal");
    if (causal && !cJSON_IsBool(causal)) {
        st = ap_error(AP_ERR_FORMAT, "%s/trace.json: \"causal\" must be true or false", label);
        goto out;
    }
    t->causal = causal && cJSON_IsTrue(causal);
    if ((int64_t)t->N * t->L * t->H > MAX_RECORDS) {
        st = ap_error(AP_ERR_FORMAT, "%s/trace.json: %d chunks x %d layers x %d heads is more than %lld head rows",
                      label, t->N, t->L, t->H, (long long)MAX_RECORDS);
        goto out;
    }
    if ((st = name_list(root, label, "head_stats", &t->head_stat_names, &t->P)) != AP_OK ||
        (st = name_list(root, label, "layer_stats", &t->layer_stat_names, &t->Q)) != AP_OK)
        goto out;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
    if (params) {
        if (!cJSON_IsObject(params)) {
            st = ap_error(AP_ERR_FORMAT, "%s/trace.json: \"params\" must be an object", label);
            goto out;
        }
        const int n = cJSON_GetArraySize(params);
        if (n > MAX_STATS) {
            st = ap_error(AP_ERR_FORMAT, "%s/trace.json: more than %d params", label, MAX_STATS);
            goto out;
        }
        t->param_keys = calloc((size_t)(n > 0 ? n : 1), sizeof *t->param_keys);
        t->param_values = calloc((size_t)(n > 0 ? n : 1), sizeof *t->param_values);
        if (!t->param_keys || !t->param_values) {
            st = ap_error(AP_ERR_NOMEM, "out of memory");
            goto out;
        }
        const cJSON *p;
        cJSON_ArrayForEach(p, params) {
            if (!p->string || strlen(p->string) >= AP_TRACE_NAME_MAX || !cJSON_IsString(p) || !p->valuestring ||
                strlen(p->valuestring) >= AP_TRACE_VALUE_MAX) {
                st = ap_error(AP_ERR_FORMAT, "%s/trace.json: params must map names to strings (shorter than %d / %d "
                              "bytes)", label, AP_TRACE_NAME_MAX, AP_TRACE_VALUE_MAX);
                goto out;
            }
            memcpy(t->param_keys[t->n_params], p->string, strlen(p->string) + 1);
            memcpy(t->param_values[t->n_params], p->valuestring, strlen(p->valuestring) + 1);
            t->n_params++;
        }
    }
out:
    cJSON_Delete(root);
    return st;
}

/* ------------------------------------------------------------------- CSV */

struct csv {
    const char *p, *end;
    const char *file; /* "LABEL/heads.csv" for messages */
    int64_t line;     /* the line just read, 1-based */
};

/* The next line as [*s, *e) (without the newline); 0 at the end. */
static int next_line(struct csv *c, const char **s, const char **e) {
    if (c->p >= c->end) return 0;
    *s = c->p;
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    *e = nl ? nl : c->end;
    c->p = nl ? nl + 1 : c->end;
    c->line++;
    if (*e > *s && (*e)[-1] == '\r') (*e)--;
    return 1;
}

/* Splits [s, e) at commas into at most cap fields; returns the count, or
 * cap + 1 if there are more. */
static int split(const char *s, const char *e, const char **fs, const char **fe, int cap) {
    int n = 0;
    const char *a = s;
    for (const char *q = s;; q++) {
        if (q == e || *q == ',') {
            if (n == cap) return cap + 1;
            fs[n] = a, fe[n] = q, n++;
            if (q == e) break;
            a = q + 1;
        }
    }
    return n;
}

static int field_is(const char *s, const char *e, const char *name) {
    const size_t n = strlen(name);
    return (size_t)(e - s) == n && memcmp(s, name, n) == 0;
}

static enum ap_status field_int(const struct csv *c, const char *s, const char *e, const char *what, int64_t lo,
                                int64_t hi, int64_t *out) {
    char buf[32];
    const size_t n = (size_t)(e - s);
    if (n == 0 || n >= sizeof buf) goto bad;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end = NULL;
    errno = 0;
    const long long v = strtoll(buf, &end, 10);
    if (errno || *end || end == buf || v < lo || v > hi) goto bad;
    *out = v;
    return AP_OK;
bad:
    return ap_error(AP_ERR_FORMAT, "%s:%lld: %s is '%.*s', expected an integer in %lld..%lld", c->file,
                    (long long)c->line, what, (int)(n < 40 ? n : 40), s, (long long)lo, (long long)hi);
}

static enum ap_status field_double(const struct csv *c, const char *s, const char *e, const char *what,
                                   double *out) {
    char buf[64];
    const size_t n = (size_t)(e - s);
    if (n == 0 || n >= sizeof buf) goto bad;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end = NULL;
    const double v = strtod(buf, &end);
    if (*end || end == buf || !isfinite(v)) goto bad;
    *out = v;
    return AP_OK;
bad:
    return ap_error(AP_ERR_FORMAT, "%s:%lld: %s is '%.*s', expected a finite number", c->file, (long long)c->line,
                    what, (int)(n < 40 ? n : 40), s);
}

/* Checks a header line: the fixed columns, then the statistic names. */
static enum ap_status header(struct csv *c, const char *const *fixed, int n_fixed, char (*names)[AP_TRACE_NAME_MAX],
                             int n_names) {
    const char *s, *e;
    if (!next_line(c, &s, &e)) return ap_error(AP_ERR_FORMAT, "%s: empty, expected a header line", c->file);
    const char *fs[MAX_STATS + 8], *fe[MAX_STATS + 8];
    const int n = split(s, e, fs, fe, MAX_STATS + 8);
    if (n != n_fixed + n_names)
        return ap_error(AP_ERR_FORMAT, "%s:1: header has %d columns, expected %d (%d fixed + the %d statistics "
                        "trace.json names)", c->file, n, n_fixed + n_names, n_fixed, n_names);
    for (int i = 0; i < n; i++) {
        const char *want = i < n_fixed ? fixed[i] : names[i - n_fixed];
        if (!field_is(fs[i], fe[i], want))
            return ap_error(AP_ERR_FORMAT, "%s:1: column %d is '%.*s', expected '%s'", c->file, i + 1,
                            (int)(fe[i] - fs[i] < 40 ? fe[i] - fs[i] : 40), fs[i], want);
    }
    return AP_OK;
}

static enum ap_status parse_heads(const char *text, size_t len, const char *label, struct ap_trace *t) {
    char file[AP_TRACE_VALUE_MAX + 16];
    snprintf(file, sizeof file, "%s/heads.csv", label);
    struct csv c = {.p = text, .end = text + len, .file = file};
    static const char *const fixed[] = {"chunk", "layer", "head", "queries", "keys", "valid", "kept"};
    enum ap_status st = header(&c, fixed, 7, t->head_stat_names, t->P);
    if (st != AP_OK) return st;
    const int64_t n_rec = (int64_t)t->N * t->L * t->H;
    uint8_t *seen = calloc((size_t)(n_rec > 0 ? n_rec : 1), 1);
    if (!seen) return ap_error(AP_ERR_NOMEM, "out of memory");
    const char *s, *e;
    const char *fs[MAX_STATS + 8], *fe[MAX_STATS + 8];
    int64_t rows = 0;
    while (st == AP_OK && next_line(&c, &s, &e)) {
        if (s == e && c.p >= c.end) break; /* a final empty line */
        const int n = split(s, e, fs, fe, MAX_STATS + 8);
        if (n != 7 + t->P) {
            st = ap_error(AP_ERR_FORMAT, "%s:%lld: %d fields, expected %d", file, (long long)c.line, n, 7 + t->P);
            break;
        }
        int64_t v[7];
        static const char *const what[] = {"chunk", "layer", "head", "queries", "keys", "valid", "kept"};
        const int64_t hi[] = {t->N - 1, t->L - 1, t->H - 1, t->T, t->T, (int64_t)t->T * t->T, (int64_t)t->T * t->T};
        for (int i = 0; i < 7 && st == AP_OK; i++) st = field_int(&c, fs[i], fe[i], what[i], 0, hi[i], &v[i]);
        if (st != AP_OK) break;
        if (v[6] > v[5] || v[5] > v[3] * v[4]) {
            st = ap_error(AP_ERR_FORMAT, "%s:%lld: kept %lld, valid %lld, queries x keys %lld: expected kept <= valid "
                          "<= queries x keys", file, (long long)c.line, (long long)v[6], (long long)v[5],
                          (long long)(v[3] * v[4]));
            break;
        }
        const int64_t r = (v[0] * t->L + v[1]) * t->H + v[2];
        if (seen[r]) {
            st = ap_error(AP_ERR_FORMAT, "%s:%lld: chunk %lld layer %lld head %lld appears twice", file,
                          (long long)c.line, (long long)v[0], (long long)v[1], (long long)v[2]);
            break;
        }
        seen[r] = 1;
        t->heads[r] = (struct ap_trace_head){.queries = (int32_t)v[3], .keys = (int32_t)v[4], .valid = v[5],
                                             .kept = v[6]};
        for (int i = 0; i < t->P && st == AP_OK; i++)
            st = field_double(&c, fs[7 + i], fe[7 + i], t->head_stat_names[i], &t->head_stats[r * t->P + i]);
        rows++;
    }
    if (st == AP_OK && rows != n_rec)
        st = ap_error(AP_ERR_FORMAT, "%s: %lld head rows, expected %lld (%d chunks x %d layers x %d heads)", file,
                      (long long)rows, (long long)n_rec, t->N, t->L, t->H);
    free(seen);
    return st;
}

static enum ap_status parse_layers(const char *text, size_t len, const char *label, struct ap_trace *t) {
    char file[AP_TRACE_VALUE_MAX + 16];
    snprintf(file, sizeof file, "%s/layers.csv", label);
    struct csv c = {.p = text, .end = text + len, .file = file};
    static const char *const fixed[] = {"chunk", "layer", "tokens_active", "heads_active"};
    enum ap_status st = header(&c, fixed, 4, t->layer_stat_names, t->Q);
    if (st != AP_OK) return st;
    const int64_t n_rec = (int64_t)t->N * t->L;
    uint8_t *seen = calloc((size_t)(n_rec > 0 ? n_rec : 1), 1);
    if (!seen) return ap_error(AP_ERR_NOMEM, "out of memory");
    const char *s, *e;
    const char *fs[MAX_STATS + 8], *fe[MAX_STATS + 8];
    int64_t rows = 0;
    while (st == AP_OK && next_line(&c, &s, &e)) {
        if (s == e && c.p >= c.end) break;
        const int n = split(s, e, fs, fe, MAX_STATS + 8);
        if (n != 4 + t->Q) {
            st = ap_error(AP_ERR_FORMAT, "%s:%lld: %d fields, expected %d", file, (long long)c.line, n, 4 + t->Q);
            break;
        }
        int64_t v[4];
        static const char *const what[] = {"chunk", "layer", "tokens_active", "heads_active"};
        const int64_t hi[] = {t->N - 1, t->L - 1, t->T, t->H};
        for (int i = 0; i < 4 && st == AP_OK; i++) st = field_int(&c, fs[i], fe[i], what[i], 0, hi[i], &v[i]);
        if (st != AP_OK) break;
        const int64_t r = v[0] * t->L + v[1];
        if (seen[r]) {
            st = ap_error(AP_ERR_FORMAT, "%s:%lld: chunk %lld layer %lld appears twice", file, (long long)c.line,
                          (long long)v[0], (long long)v[1]);
            break;
        }
        seen[r] = 1;
        t->tokens_active[r] = (int32_t)v[2];
        t->heads_active[r] = (int32_t)v[3];
        for (int i = 0; i < t->Q && st == AP_OK; i++)
            st = field_double(&c, fs[4 + i], fe[4 + i], t->layer_stat_names[i], &t->layer_stats[r * t->Q + i]);
        rows++;
    }
    if (st == AP_OK && rows != n_rec)
        st = ap_error(AP_ERR_FORMAT, "%s: %lld layer rows, expected %lld (%d chunks x %d layers)", file,
                      (long long)rows, (long long)n_rec, t->N, t->L);
    free(seen);
    return st;
}

/* ---------------------------------------------------------------- entry */

enum ap_status ap_trace_parse(const char *json, size_t json_len, const char *heads_csv, size_t heads_len,
                              const char *layers_csv, size_t layers_len, const char *label, struct ap_trace *out) {
    memset(out, 0, sizeof *out);
    if (!label) label = "<memory>";
    enum ap_status st = parse_json(json, json_len, label, out);
    if (st == AP_OK) {
        const size_t nh = (size_t)out->N * (size_t)out->L * (size_t)out->H, nl = (size_t)out->N * (size_t)out->L;
        out->heads = calloc(nh > 0 ? nh : 1, sizeof *out->heads);
        out->head_stats = calloc(nh * (size_t)out->P > 0 ? nh * (size_t)out->P : 1, sizeof(double));
        out->tokens_active = calloc(nl > 0 ? nl : 1, sizeof(int32_t));
        out->heads_active = calloc(nl > 0 ? nl : 1, sizeof(int32_t));
        out->layer_stats = calloc(nl * (size_t)out->Q > 0 ? nl * (size_t)out->Q : 1, sizeof(double));
        if (!out->heads || !out->head_stats || !out->tokens_active || !out->heads_active || !out->layer_stats)
            st = ap_error(AP_ERR_NOMEM, "%s: out of memory for %zu head rows", label, nh);
    }
    if (st == AP_OK) st = parse_heads(heads_csv, heads_len, label, out);
    if (st == AP_OK) st = parse_layers(layers_csv, layers_len, label, out);
    if (st != AP_OK) ap_trace_free(out);
    return st;
}

enum ap_status ap_trace_read(const char *dir, struct ap_trace *out) {
    memset(out, 0, sizeof *out);
    char path[4200];
    struct ap_file_map map[3];
    memset(map, 0, sizeof map);
    static const char *const names[3] = {"trace.json", "heads.csv", "layers.csv"};
    enum ap_status st = AP_OK;
    for (int i = 0; i < 3 && st == AP_OK; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        st = ap_file_map_open(path, &map[i]);
    }
    if (st == AP_OK)
        st = ap_trace_parse((const char *)map[0].data, map[0].size, (const char *)map[1].data, map[1].size,
                            (const char *)map[2].data, map[2].size, dir, out);
    for (int i = 0; i < 3; i++) ap_file_map_close(&map[i]);
    if (st != AP_OK) return st;
    snprintf(path, sizeof path, "%s/rows.npy", dir);
    FILE *probe = fopen(path, "rb");
    if (!probe) return AP_OK; /* rows are optional */
    fclose(probe);
    struct ap_npy *npy = NULL;
    st = ap_npy_open(path, &npy);
    if (st == AP_OK) {
        const int64_t want[4] = {out->N, out->L, out->H, out->T};
        int ok = npy->dtype == AP_DTYPE_I32 && npy->ndim == 4;
        for (int i = 0; ok && i < 4; i++) ok = npy->shape[i] == want[i];
        if (!ok) {
            st = ap_error(AP_ERR_FORMAT, "%s: expected int32 (%d, %d, %d, %d), the shape trace.json gives", path,
                          out->N, out->L, out->H, out->T);
        } else {
            out->rows = malloc(npy->nbytes > 0 ? npy->nbytes : 1);
            if (!out->rows) st = ap_error(AP_ERR_NOMEM, "out of memory for %s", path);
            else if (npy->nbytes) memcpy(out->rows, npy->data, npy->nbytes);
        }
        for (int64_t i = 0; st == AP_OK && i < (int64_t)(npy->nbytes / sizeof(int32_t)); i++)
            if (out->rows[i] < 0 || out->rows[i] > out->T)
                st = ap_error(AP_ERR_FORMAT, "%s: element %lld is %d, expected 0..%d kept keys", path, (long long)i,
                              out->rows[i], out->T);
    }
    ap_npy_close(npy);
    if (st != AP_OK) ap_trace_free(out);
    return st;
}

void ap_trace_free(struct ap_trace *t) {
    if (!t) return;
    free(t->param_keys), free(t->param_values), free(t->head_stat_names), free(t->layer_stat_names);
    free(t->heads), free(t->head_stats), free(t->tokens_active), free(t->heads_active), free(t->layer_stats);
    free(t->rows);
    memset(t, 0, sizeof *t);
}

int32_t ap_trace_head_stat(const struct ap_trace *t, const char *name) {
    for (int32_t i = 0; i < t->P; i++)
        if (strcmp(t->head_stat_names[i], name) == 0) return i;
    return -1;
}

int32_t ap_trace_layer_stat(const struct ap_trace *t, const char *name) {
    for (int32_t i = 0; i < t->Q; i++)
        if (strcmp(t->layer_stat_names[i], name) == 0) return i;
    return -1;
}

double ap_trace_head_value(const struct ap_trace *t, int64_t h, int32_t col) {
    return col >= 0 && col < t->P ? t->head_stats[h * t->P + col] : 0.0;
}

const char *ap_trace_param(const struct ap_trace *t, const char *key) {
    for (int32_t i = 0; i < t->n_params; i++)
        if (strcmp(t->param_keys[i], key) == 0) return t->param_values[i];
    return NULL;
}

enum ap_status ap_trace_open(const char *dir, struct ap_trace **out) {
    *out = NULL;
    struct ap_trace *t = calloc(1, sizeof *t);
    if (!t) return ap_error(AP_ERR_NOMEM, "%s: out of memory", dir);
    enum ap_status st = ap_trace_read(dir, t);
    if (st != AP_OK) {
        ap_trace_free(t);
        free(t);
        return st;
    }
    *out = t;
    return AP_OK;
}

void ap_trace_close(struct ap_trace *trace) {
    if (!trace) return;
    ap_trace_free(trace);
    free(trace);
}

double ap_trace_param_num(const struct ap_trace *t, const char *key, double def) {
    const char *v = ap_trace_param(t, key);
    if (!v) return def;
    char *end;
    double x = strtod(v, &end);
    return end != v ? x : def;
}

/* method.c — the method registry, spec parsing ("name:key=value,..."), and
 * the helpers every method's init() uses to read its parameters. */
#include "methods/method.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Every method, in the order `attnprune methods` lists them. A new method
 * adds its ops here and nowhere else. */
#define AP_METHODS(X)                                                                                        \
    X(ap_method_dense) X(ap_method_oracle_topk) X(ap_method_oracle_threshold) X(ap_method_hammer)                  \
        X(ap_method_sanger) X(ap_method_leopard) X(ap_method_sprint) X(ap_method_spatten)

#define AP_DECLARE(sym) extern const struct ap_method_ops sym;
AP_METHODS(AP_DECLARE)
#undef AP_DECLARE

#define AP_ADDRESS(sym) &sym,
static const struct ap_method_ops *const g_methods[] = {AP_METHODS(AP_ADDRESS)};
#undef AP_ADDRESS

struct ap_method {
    const struct ap_method_ops *ops;
    void *state;
};

int32_t ap_method_count(void) { return (int32_t)(sizeof g_methods / sizeof g_methods[0]); }

const struct ap_method_ops *ap_method_at(int32_t index) {
    return index >= 0 && index < ap_method_count() ? g_methods[index] : NULL;
}

/* The default of parameter i on a decoder: its decoder override, else def. */
static const char *decoder_default(const struct ap_method_ops *ops, int32_t i) {
    for (int32_t k = 0; k < ops->n_decoder_defaults; k++)
        if (strcmp(ops->decoder_defaults[k].key, ops->params[i].key) == 0) return ops->decoder_defaults[k].def;
    return ops->params[i].def;
}

int32_t ap_method_list_count(void) { return ap_method_count(); }

enum ap_status ap_method_list_get(int32_t index, struct ap_method_desc *out) {
    const struct ap_method_ops *ops = ap_method_at(index);
    if (!ops) return ap_error(AP_ERR_RANGE, "method index %d outside 0..%d", index, ap_method_count() - 1);
    out->name = ops->name;
    out->summary = ops->summary;
    out->paper = ops->paper;
    out->n_params = ops->n_params;
    return AP_OK;
}

enum ap_status ap_method_list_param(int32_t index, int32_t param, struct ap_method_param_desc *out) {
    const struct ap_method_ops *ops = ap_method_at(index);
    if (!ops || param < 0 || param >= ops->n_params)
        return ap_error(AP_ERR_RANGE, "no parameter %d of method %d", param, index);
    out->key = ops->params[param].key;
    out->def = ops->params[param].def;
    out->def_decoder = decoder_default(ops, param);
    out->help = ops->params[param].help;
    return AP_OK;
}

int ap_param_next(struct ap_param_iter *it) {
    while (*it->p == ',') it->p++;
    if (!*it->p) return 0;
    const char *end = strchr(it->p, ',');
    size_t len = end ? (size_t)(end - it->p) : strlen(it->p);
    const char *eq = memchr(it->p, '=', len);
    if (!eq || eq == it->p) {
        ap_error(AP_ERR_INVALID_ARG, "parameter '%.*s' is not of the form key=value", (int)len, it->p);
        return -1;
    }
    size_t klen = (size_t)(eq - it->p), vlen = len - klen - 1;
    if (klen >= sizeof it->key || vlen >= sizeof it->value) {
        ap_error(AP_ERR_INVALID_ARG, "parameter '%.*s' is too long", (int)len, it->p);
        return -1;
    }
    memcpy(it->key, it->p, klen);
    it->key[klen] = '\0';
    memcpy(it->value, eq + 1, vlen);
    it->value[vlen] = '\0';
    it->p += len;
    return 1;
}

enum ap_status ap_param_double(const char *key, const char *value, double lo, double hi, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (errno || end == value || *end || !isfinite(v) || v < lo || v > hi)
        return ap_error(AP_ERR_INVALID_ARG, "%s=%s: expected a number in [%g, %g]", key, value, lo, hi);
    *out = v;
    return AP_OK;
}

enum ap_status ap_param_int(const char *key, const char *value, int64_t lo, int64_t hi, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v < lo || v > hi)
        return ap_error(AP_ERR_INVALID_ARG, "%s=%s: expected an integer in [%lld, %lld]", key, value, (long long)lo,
                        (long long)hi);
    *out = v;
    return AP_OK;
}

/* Every key of params must be one of the method's. */
static enum ap_status check_keys(const struct ap_method_ops *ops, const char *params) {
    struct ap_param_iter it = {.p = params};
    int r;
    while ((r = ap_param_next(&it)) == 1) {
        int known = 0;
        for (int32_t i = 0; i < ops->n_params; i++) known |= strcmp(ops->params[i].key, it.key) == 0;
        if (known) continue;
        char list[512] = "";
        for (int32_t i = 0; i < ops->n_params; i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, ops->params[i].key, sizeof list - strlen(list) - 1);
        }
        return ap_error(AP_ERR_INVALID_ARG, "unknown parameter '%s' (%s)", it.key,
                        ops->n_params ? list : "this method takes none");
    }
    return r < 0 ? AP_ERR_INVALID_ARG : AP_OK;
}

enum ap_status ap_method_create(const char *spec, struct ap_method **out) {
    return ap_method_create_for(spec, 0, out);
}

enum ap_status ap_method_create_for(const char *spec, int decoder, struct ap_method **out) {
    *out = NULL;
    if (!spec || !*spec) spec = "dense";
    const char *colon = strchr(spec, ':');
    size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *params = colon ? colon + 1 : "";
    const struct ap_method_ops *ops = NULL;
    for (int32_t i = 0; i < ap_method_count(); i++)
        if (strlen(g_methods[i]->name) == name_len && strncmp(g_methods[i]->name, spec, name_len) == 0)
            ops = g_methods[i];
    if (!ops) {
        char known[512] = "";
        for (int32_t i = 0; i < ap_method_count(); i++) {
            strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
            strncat(known, g_methods[i]->name, sizeof known - strlen(known) - 1);
        }
        return ap_error(AP_ERR_INVALID_ARG, "unknown method '%.*s' (known: %s)", (int)name_len, spec, known);
    }
    enum ap_status st = check_keys(ops, params);
    if (st != AP_OK) return ap_error_prefix(st, "method '%s'", ops->name);
    /* The parameter table is the one source of defaults: init() sees every
     * default first and the user's values after them (later keys win), so
     * what `attnprune methods` prints is what runs. */
    char full[4096];
    size_t used = 0;
    full[0] = '\0';
    for (int32_t i = 0; i < ops->n_params; i++) {
        const char *def = decoder ? decoder_default(ops, i) : ops->params[i].def;
        if (!def || !def[0]) continue;
        int n = snprintf(full + used, sizeof full - used, "%s%s=%s", used ? "," : "", ops->params[i].key, def);
        if (n < 0 || (size_t)n >= sizeof full - used) return ap_error(AP_ERR_INVALID_ARG, "method '%s': defaults too long", ops->name);
        used += (size_t)n;
    }
    if (*params) {
        int n = snprintf(full + used, sizeof full - used, "%s%s", used ? "," : "", params);
        if (n < 0 || (size_t)n >= sizeof full - used)
            return ap_error(AP_ERR_INVALID_ARG, "method '%s': parameters too long", ops->name);
    }
    struct ap_method *m = calloc(1, sizeof *m);
    if (!m) return ap_error(AP_ERR_NOMEM, "out of memory creating method '%s'", ops->name);
    m->ops = ops;
    st = ops->init(full, &m->state);
    if (st != AP_OK) {
        free(m);
        return ap_error_prefix(st, "method '%s'", ops->name);
    }
    *out = m;
    return AP_OK;
}

void ap_method_free(struct ap_method *m) {
    if (!m) return;
    if (m->ops->free) m->ops->free(m->state);
    free(m);
}

const char *ap_method_name(const struct ap_method *m) { return m->ops->name; }
const struct ap_method_ops *ap_method_ops_of(const struct ap_method *m) { return m->ops; }
void *ap_method_state(const struct ap_method *m) { return m->state; }

enum ap_status ap_method_predict(const struct ap_method *m, const struct ap_head_inputs *in,
                                 struct ap_head_output *out) {
    return m->ops->predict(m->state, in, out);
}

int64_t ap_head_valid_pairs(const struct ap_head_inputs *in) {
    const int32_t S = in->n_q, T = in->n_k, offset = T - S;
    int64_t total = 0;
    for (int32_t i = 0; i < S; i++) {
        if (in->query_valid && !in->query_valid[i]) continue;
        int32_t last = in->causal ? i + offset : T - 1; /* last visible key */
        if (last >= T) last = T - 1;
        if (!in->key_valid) {
            total += last + 1;
            continue;
        }
        for (int32_t j = 0; j <= last; j++) total += in->key_valid[j] != 0;
    }
    return total;
}

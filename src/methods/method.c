/* method.c — the method registry and spec parsing ("name:key=value,..."). */
#include "methods/method.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

extern const struct ap_method_ops ap_method_dense;

static const struct ap_method_ops *const g_methods[] = {
    &ap_method_dense,
};

struct ap_method {
    const struct ap_method_ops *ops;
    void *state;
};

int32_t ap_method_count(void) { return (int32_t)(sizeof g_methods / sizeof g_methods[0]); }

const struct ap_method_ops *ap_method_at(int32_t index) {
    return index >= 0 && index < ap_method_count() ? g_methods[index] : NULL;
}

int32_t ap_method_list_count(void) { return ap_method_count(); }

enum ap_status ap_method_list_get(int32_t index, struct ap_method_desc *out) {
    const struct ap_method_ops *ops = ap_method_at(index);
    if (!ops) return ap_error(AP_ERR_RANGE, "method index %d outside 0..%d", index, ap_method_count() - 1);
    out->name = ops->name;
    out->summary = ops->summary;
    out->paper = ops->paper;
    return AP_OK;
}

enum ap_status ap_method_create(const char *spec, struct ap_method **out) {
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
        char known[256] = "";
        for (int32_t i = 0; i < ap_method_count(); i++) {
            strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
            strncat(known, g_methods[i]->name, sizeof known - strlen(known) - 1);
        }
        return ap_error(AP_ERR_INVALID_ARG, "unknown method '%.*s' (known: %s)", (int)name_len, spec, known);
    }
    struct ap_method *m = calloc(1, sizeof *m);
    if (!m) return ap_error(AP_ERR_NOMEM, "out of memory creating method '%s'", ops->name);
    m->ops = ops;
    enum ap_status st = ops->init(params, &m->state);
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

enum ap_status ap_method_predict(const struct ap_method *m, const struct ap_head_inputs *in,
                                 struct ap_head_output *out) {
    return m->ops->predict(m->state, in, out);
}

int64_t ap_head_valid_pairs(const struct ap_head_inputs *in) {
    const int32_t S = in->n_q, T = in->n_k, offset = T - S;
    int64_t total = 0;
    for (int32_t i = 0; i < S; i++) {
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

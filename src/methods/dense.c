/* dense.c — the baseline: every valid pair is kept. */
#include "core/error.h"
#include "methods/method.h"

static enum ap_status dense_init(const char *params, void **state) {
    *state = NULL;
    if (params && *params) return ap_error(AP_ERR_INVALID_ARG, "takes no parameters, got '%s'", params);
    return AP_OK;
}

static enum ap_status dense_predict(const void *state, const struct ap_head_inputs *in, struct ap_head_output *out) {
    (void)state;
    out->mask = NULL; /* keep all */
    out->valid = ap_head_valid_pairs(in);
    out->kept = out->valid;
    return AP_OK;
}

static void dense_free(void *state) { (void)state; }

const struct ap_method_ops ap_method_dense = {
    .name = "dense",
    .summary = "exact attention over every valid pair (the baseline)",
    .paper = "-",
    .params = NULL,
    .n_params = 0,
    .init = dense_init,
    .predict = dense_predict,
    .free = dense_free,
};

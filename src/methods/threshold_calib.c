/* threshold_calib.c — per-layer thresholds: parsing, calibration from score
 * quantiles, lookup (see threshold_calib.h). */
#include "methods/threshold_calib.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void ap_thresholds_init(struct ap_layer_thresholds *t) {
    memset(t, 0, sizeof *t);
    t->density = AP_TH_DEFAULT_DENSITY;
}

/* "V" or "V0;V1;...": finite numbers separated by ';'. */
static enum ap_status parse_list(struct ap_layer_thresholds *t, const char *key, const char *value) {
    int32_t n = 0;
    const char *p = value;
    for (;;) {
        char *end = NULL;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || !isfinite(v) || (*end && *end != ';'))
            return ap_error(AP_ERR_INVALID_ARG,
                            "%s=%s: expected one threshold or a ';'-separated list of per-layer thresholds "
                            "(scaled scores, e.g. %s=0.5 or %s=0.5;0.7;1.1)",
                            key, value, key, key);
        if (n == AP_TH_MAX_LAYERS)
            return ap_error(AP_ERR_INVALID_ARG, "%s=%s: more than %d thresholds", key, value, AP_TH_MAX_LAYERS);
        t->th[n++] = v;
        if (!*end) break;
        p = end + 1;
    }
    t->n = n;
    t->calibrated = 0;
    return AP_OK;
}

int ap_thresholds_param(struct ap_layer_thresholds *t, const char *key, const char *value, enum ap_status *st) {
    if (strcmp(key, "th") == 0) {
        *st = parse_list(t, key, value);
        return 1;
    }
    if (strcmp(key, "density") == 0) {
        double v = 0.0;
        *st = ap_param_double(key, value, 0.0, 1.0, &v);
        if (*st == AP_OK && !(v > 0.0)) *st = ap_error(AP_ERR_INVALID_ARG, "%s=%s: expected a number in (0, 1]", key, value);
        if (*st == AP_OK) t->density = v;
        return 1;
    }
    return 0;
}

int ap_thresholds_missing(const struct ap_layer_thresholds *t) { return t->n == 0; }

double ap_quantile_interpolate(const float *value, int32_t n, double p) {
    AP_ASSERT(n >= 2);
    if (!(p > 0.0)) return value[0];
    if (p >= 1.0) return value[n - 1];
    double pos = p * (double)(n - 1);
    int32_t k = (int32_t)floor(pos);
    if (k >= n - 1) return value[n - 1];
    double frac = pos - (double)k;
    return (double)value[k] + frac * ((double)value[k + 1] - (double)value[k]);
}

enum ap_status ap_thresholds_calibrate(struct ap_layer_thresholds *t, const struct ap_score_quantiles *layers,
                                       int32_t n_layers, const char *method, char *note, size_t cap) {
    if (note && cap) note[0] = '\0';
    if (t->n > 0 && !t->calibrated) {
        if (note && cap) snprintf(note, cap, "%s: thresholds given with th=; nothing calibrated", method);
        return AP_OK;
    }
    if (n_layers < 1 || n_layers > AP_TH_MAX_LAYERS)
        return ap_error(AP_ERR_INVALID_ARG, "calibration for %d layers; 1..%d supported", n_layers, AP_TH_MAX_LAYERS);
    double th[AP_TH_MAX_LAYERS];
    uint8_t seen[AP_TH_MAX_LAYERS] = {0};
    int64_t pairs_min = INT64_MAX;
    for (int32_t k = 0; k < n_layers; k++) {
        const struct ap_score_quantiles *q = &layers[k];
        if (q->layer < 0 || q->layer >= n_layers || seen[q->layer])
            return ap_error(AP_ERR_INVALID_ARG, "calibration entry %d names layer %d: expected each of 0..%d once", k,
                            q->layer, n_layers - 1);
        if (q->n < 2 || !q->value)
            return ap_error(AP_ERR_INVALID_ARG, "calibration of layer %d has %d quantiles; at least 2 (min and max) needed",
                            q->layer, q->n);
        for (int32_t i = 0; i < q->n; i++)
            if (!isfinite(q->value[i]) || (i > 0 && q->value[i] < q->value[i - 1]))
                return ap_error(AP_ERR_INVALID_ARG, "calibration of layer %d: quantile %d is %g, not finite and non-decreasing",
                                q->layer, i, (double)q->value[i]);
        seen[q->layer] = 1;
        th[q->layer] = ap_quantile_interpolate(q->value, q->n, 1.0 - t->density);
        if (q->n_pairs < pairs_min) pairs_min = q->n_pairs;
    }
    memcpy(t->th, th, sizeof(double) * (size_t)n_layers);
    t->n = n_layers;
    t->calibrated = 1;
    t->n_pairs_min = pairs_min;
    if (note && cap) {
        int w = snprintf(note, cap,
                         "%s: per-layer thresholds calibrated (not learned) for density %g as the %g quantile of "
                         "each layer's dense scaled scores (>= %lld calibration scores per layer): th=",
                         method, t->density, 1.0 - t->density, (long long)pairs_min);
        for (int32_t l = 0; l < n_layers && w >= 0 && (size_t)w < cap; l++)
            w += snprintf(note + w, cap - (size_t)w, "%s%.9g", l ? ";" : "", th[l]);
    }
    return AP_OK;
}

enum ap_status ap_thresholds_get(const struct ap_layer_thresholds *t, int32_t layer, int32_t n_layers, double *th) {
    if (t->n == 0)
        return ap_error(AP_ERR_INVALID_ARG,
                        "thresholds are missing: give th=V (or th=V0;V1;... per layer), or calibrate the method on "
                        "calibration text first");
    if (t->n == 1) {
        *th = t->th[0];
        return AP_OK;
    }
    if (t->n != n_layers)
        return ap_error(AP_ERR_INVALID_ARG, "%d per-layer thresholds for a model of %d layers", t->n, n_layers);
    if (layer < 0 || layer >= t->n) return ap_error(AP_ERR_RANGE, "layer %d outside 0..%d", layer, t->n - 1);
    *th = t->th[layer];
    return AP_OK;
}

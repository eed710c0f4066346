/* threshold_calib.h — per-layer score thresholds, shared by LEOPARD and
 * SPRINT: given by the user, or calibrated from the dense model's scores.
 *
 * A pair (i, j) of layer l survives iff its scaled score s = q_i·k_j / sqrt(d)
 * is >= Th_l (a score exactly at the threshold is kept: LEOPARD prunes the
 * scores "lower than the learned threshold", and its soft threshold keeps
 * the x >= Th branch).
 *
 * LEOPARD learns Th_l by training (soft threshold + surrogate L0 penalty);
 * SPRINT reuses LEOPARD's. Until training exists here, thresholds are
 * *calibrated, not learned*: Th_l is the (1 - density) quantile of layer l's
 * dense scaled scores on calibration text, so that about `density` of the
 * valid pairs survive, with no change to the model's weights.
 *
 * Parameters every threshold method takes:
 *   th=V        one threshold for every layer
 *   th=V0;V1;.. one per layer (exactly as many as the model has layers)
 *   density=D   target kept fraction for calibration, in (0, 1] (default AP_TH_DEFAULT_DENSITY);
 *               used only when th is not given. Giving both is an error. */
#ifndef AP_METHODS_THRESHOLD_CALIB_H
#define AP_METHODS_THRESHOLD_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "methods/method.h"

#define AP_TH_MAX_LAYERS 256
#define AP_TH_DEFAULT_DENSITY 0.55
#define AP_TH_DEFAULT_DENSITY_STR "0.55"

struct ap_layer_thresholds {
    int32_t n;          /* thresholds held: 0 = none yet (calibration needed),
                           1 = one for every layer, else one per layer */
    int32_t calibrated; /* 1 if they came from ap_thresholds_calibrate() */
    double density;     /* target kept fraction for calibration */
    int64_t n_pairs_min; /* calibration: fewest scores behind a layer's quantiles */
    double th[AP_TH_MAX_LAYERS];
};

void ap_thresholds_init(struct ap_layer_thresholds *t);

/* Handle key=value if key is "th" or "density": returns 1 and sets *st
 * (AP_OK or AP_ERR_INVALID_ARG naming the key and value); returns 0 for any
 * other key. */
int ap_thresholds_param(struct ap_layer_thresholds *t, const char *key, const char *value, enum ap_status *st);


/* 1 while no threshold is known. */
int ap_thresholds_missing(const struct ap_layer_thresholds *t);

/* Th_l for each of the n_layers entries of layers (each names its layer; all
 * of 0..n_layers-1 must appear, once): the (1 - density) quantile,
 * interpolated linearly between the given quantiles. Writes a one-line note
 * saying the thresholds are calibrated, not learned, with their values.
 * When the thresholds were given by th=, nothing changes and the note says
 * so. `method` names the method in the note. */
enum ap_status ap_thresholds_calibrate(struct ap_layer_thresholds *t, const struct ap_score_quantiles *layers,
                                       int32_t n_layers, const char *method, char *note, size_t cap);

/* The threshold of `layer` for a model of n_layers layers: AP_ERR_INVALID_ARG
 * if there are none yet (the message says to give th= or calibrate) or the
 * per-layer list does not match the model's layer count. */
enum ap_status ap_thresholds_get(const struct ap_layer_thresholds *t, int32_t layer, int32_t n_layers,
                                 double *th);

/* The p quantile (p in [0, 1]) of a distribution given by n >= 2 quantiles
 * value[k] = the k/(n-1) quantile: linear interpolation between neighbours
 * (NumPy's default "linear" method when value holds the sorted sample). */
double ap_quantile_interpolate(const float *value, int32_t n, double p);

#endif

/* calibration.h — per-layer score distributions of the dense model on
 * calibration text, and calibrating a method's thresholds from them.
 *
 * Legend: L = layers, Q = AP_CALIB_QUANTILES. */
#ifndef AP_MODEL_CALIBRATION_H
#define AP_MODEL_CALIBRATION_H

#include <stddef.h>
#include <stdint.h>

#include "attnprune.h"

#define AP_CALIB_QUANTILES 10001 /* quantiles k / 10000, k = 0..10000 */

/* The default calibration text of a prepared model directory. */
#define AP_CALIB_DEFAULT_TEXT "calibration.txt"

/* Fill q (L, Q) with the quantiles of each layer's scaled scores of the
 * dense model on text_path (one text per line, all lines as one token
 * stream cut into chunks of the model's max tokens) and n_pairs (L) with
 * the pairs counted; cached in model_dir/calibration/. source receives a
 * description of the text used. Resolution: 1/512 in score units. */
enum ap_status ap_model_score_quantiles(struct ap_model *m, const char *model_dir, const char *text_path, float *q,
                                        int64_t *n_pairs, char *source, size_t source_cap);

/* If the model's method needs calibration, calibrate it on text_path and
 * record its note in the model's info.method_note. */
enum ap_status ap_model_calibrate_method(struct ap_model *m, const char *model_dir, const char *text_path);

#endif

/* trace_read.h — a trace directory read back (docs/trace-format.md): what
 * the simulators take as input, and nothing else (SPEC §8).
 *
 * Legend: N = chunks, L = layers, H = heads, T = tokens per chunk,
 * P = per-head statistics, Q = per-layer statistics. */
#ifndef AP_TRACE_TRACE_READ_H
#define AP_TRACE_TRACE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "attnprune.h"

#define AP_TRACE_NAME_MAX 64   /* statistic and parameter names, with the NUL */
#define AP_TRACE_VALUE_MAX 256 /* parameter values */
#define AP_TRACE_MAX_DIM 65536 /* largest N, L, H, T accepted */

/* One (chunk, layer, head) row of heads.csv. */
struct ap_trace_head {
    int32_t queries, keys; /* rows and keys taking part (0, 0: head not computed) */
    int64_t valid, kept;   /* valid pairs, kept pairs */
};

struct ap_trace {
    char model[AP_TRACE_VALUE_MAX], architecture[AP_TRACE_NAME_MAX];
    char method[AP_TRACE_NAME_MAX], method_spec[AP_TRACE_VALUE_MAX];
    char method_paper[AP_TRACE_VALUE_MAX], method_note[1024]; /* how the method was set up (optional) */
    int32_t L, H, d, D, N, T;
    int32_t causal;
    int32_t n_params; /* params: method parameters, as strings */
    char (*param_keys)[AP_TRACE_NAME_MAX];
    char (*param_values)[AP_TRACE_VALUE_MAX];
    int32_t P, Q; /* statistics per head / per layer */
    char (*head_stat_names)[AP_TRACE_NAME_MAX];  /* (P) */
    char (*layer_stat_names)[AP_TRACE_NAME_MAX]; /* (Q) */
    struct ap_trace_head *heads;   /* (N, L, H) */
    double *head_stats;            /* (N, L, H, P) */
    int32_t *tokens_active;        /* (N, L) */
    int32_t *heads_active;         /* (N, L) */
    double *layer_stats;           /* (N, L, Q) */
    int32_t *rows;                 /* (N, L, H, T) kept keys per query row, or NULL without rows.npy */
};

/* Read DIR/trace.json, DIR/heads.csv, DIR/layers.csv and, when present,
 * DIR/rows.npy. Every (chunk, layer, head) and (chunk, layer) row must
 * appear exactly once, the CSV headers must name the statistics trace.json
 * lists, every count must be a non-negative integer (kept <= valid <=
 * queries * keys) and every statistic a finite number. Errors name the file,
 * the line and what was expected (AP_ERR_FORMAT), or the file and the
 * system's reason (AP_ERR_IO). *out is zeroed on failure; free with
 * ap_trace_free either way. */
enum ap_status ap_trace_read(const char *dir, struct ap_trace *out);

/* The same from memory (the fuzzing entry point): the three texts, not
 * necessarily NUL-terminated, and no rows. label names the trace in
 * messages. */
enum ap_status ap_trace_parse(const char *json, size_t json_len, const char *heads_csv, size_t heads_len,
                              const char *layers_csv, size_t layers_len, const char *label, struct ap_trace *out);

void ap_trace_free(struct ap_trace *t);

/* Index of a per-head (per-layer) statistic by name, or -1. */
int32_t ap_trace_head_stat(const struct ap_trace *t, const char *name);
int32_t ap_trace_layer_stat(const struct ap_trace *t, const char *name);

/* Statistic column col (from ap_trace_head_stat) of head record h, or 0
 * when the trace has no such column (col < 0). */
double ap_trace_head_value(const struct ap_trace *t, int64_t h, int32_t col);

/* A method parameter's value as written in trace.json, or NULL. */
const char *ap_trace_param(const struct ap_trace *t, const char *key);

/* The same as a number, or def when missing or not a number. */
double ap_trace_param_num(const struct ap_trace *t, const char *key, double def);

#endif

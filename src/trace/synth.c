/* synth.c — synthetic traces from published statistics (synth.h).
 *
 * Every head of a synthetic trace is built from closed forms: the valid
 * pairs of its query rows, the kept keys of each row (density times the
 * row's valid keys, optionally tilted by `spread`, rounded so the head's
 * total is the rounded sum), and each method family's statistics from the
 * spec's means. Nothing is random: the same spec gives the same trace.
 *
 * Legend: N = chunks, L = layers, H = heads, T = tokens per chunk (S). */
#include "trace/synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

struct synth {
    double S, d, layers, heads, chunks, causal, queries, padding, density, spread;
    double bits, k_bits, B, locality, token_prune, head_prune, value_prune, requant, k_msb;
};

static const struct {
    const char *key;
    size_t offset;
    double def, lo, hi;
    int integer;
    const char *what;
} g_keys[] = {
#define K(name) #name, offsetof(struct synth, name)
    {K(S), 384, 1, 65536, 1, "tokens per sequence"},
    {K(d), 64, 1, 4096, 1, "head dimension"},
    {K(layers), 12, 1, 1024, 1, "layers"},
    {K(heads), 12, 1, 1024, 1, "heads per layer"},
    {K(chunks), 1, 1, 65536, 1, "sequences"},
    {K(causal), 0, 0, 1, 1, "0 or 1"},
    {K(queries), 0, 0, 1, 1, "0 (all S rows) or 1 (one generation step)"},
    {K(padding), 0, 0, 0.99, 0, "a fraction in [0, 0.99]"},
    {K(density), 1, 0, 1, 0, "a fraction in [0, 1]"},
    {K(spread), 0, 0, 1, 0, "a fraction in [0, 1]"},
    {K(bits), 8.3, 1, 32, 0, "mean K bits per pruned score in [1, k_bits]"},
    {K(k_bits), 12, 2, 32, 1, "K width in bits"},
    {K(B), 2, 1, 16, 1, "K bits per bit-serial step"},
    {K(locality), 0.021, 0, 1, 0, "a fraction in [0, 1]"},
    {K(token_prune), 0, 0, 0.5, 0, "a mean fraction in [0, 0.5] (the last layer prunes twice the mean)"},
    {K(head_prune), 0, 0, 0.5, 0, "a mean fraction in [0, 0.5]"},
    {K(value_prune), 0, 0, 1, 0, "a fraction in [0, 1]"},
    {K(requant), 0, 0, 1, 0, "a fraction in [0, 1]"},
    {K(k_msb), 8, 1, 32, 1, "key MSB bits, at most k_bits"},
#undef K
};
#define N_KEYS ((int)(sizeof g_keys / sizeof g_keys[0]))

static const char *const g_head_stats[] = {
    "pruned",       "kbits_pruned", "kbits_kept", "steps_pruned",   "steps_kept",  "pad_queries",
    "pad_keys",     "first_fetch",  "fetched",    "reused",         "adjacent_new", "adjacent_slots",
    "rows",         "v_pruned",     "pq_rows",    "pq_requant_rows", "pq_key_bits"};
enum { HS_PRUNED, HS_KBITS_PRUNED, HS_KBITS_KEPT, HS_STEPS_PRUNED, HS_STEPS_KEPT, HS_PAD_Q, HS_PAD_K, HS_FIRST,
       HS_FETCHED, HS_REUSED, HS_ADJ_NEW, HS_ADJ_SLOTS, HS_ROWS, HS_V_PRUNED, HS_PQ_ROWS, HS_PQ_REQUANT, HS_PQ_BITS,
       N_HS };
static const char *const g_layer_stats[] = {"tokens_pruned", "heads_pruned"};
#define N_LS 2

static enum ap_status parse_spec(const char *spec, struct synth *s, char (*given)[AP_TRACE_VALUE_MAX]) {
    for (int i = 0; i < N_KEYS; i++) *(double *)((char *)s + g_keys[i].offset) = g_keys[i].def;
    const char *p = spec ? spec : "";
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[256];
        if (n >= sizeof item) return ap_error(AP_ERR_INVALID_ARG, "synthetic trace: '%.40s...' is too long", p);
        memcpy(item, p, n);
        item[n] = '\0';
        p += n + (end ? 1 : 0);
        if (n == 0) continue;
        char *eq = strchr(item, '=');
        if (!eq) return ap_error(AP_ERR_INVALID_ARG, "synthetic trace: '%s': expected key=value", item);
        *eq = '\0';
        const char *key = item, *val = eq + 1;
        int k = -1;
        for (int i = 0; i < N_KEYS; i++)
            if (strcmp(key, g_keys[i].key) == 0) k = i;
        if (k < 0) {
            char list[512] = "";
            for (int i = 0; i < N_KEYS; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", g_keys[i].key);
            return ap_error(AP_ERR_INVALID_ARG, "synthetic trace: unknown key '%s' (keys: %s)", key, list);
        }
        char *stop = NULL;
        errno = 0;
        double v = strtod(val, &stop);
        if (stop == val || *stop != '\0' || errno != 0 || !isfinite(v) || v < g_keys[k].lo || v > g_keys[k].hi ||
            (g_keys[k].integer && v != floor(v)))
            return ap_error(AP_ERR_INVALID_ARG, "synthetic trace: %s=%s: expected %s (%g..%g)", key, val,
                            g_keys[k].what, g_keys[k].lo, g_keys[k].hi);
        *(double *)((char *)s + g_keys[k].offset) = v;
        snprintf(given[k], AP_TRACE_VALUE_MAX, "%.200s", val);
    }
    if (s->k_msb > s->k_bits)
        return ap_error(AP_ERR_INVALID_ARG, "synthetic trace: k_msb=%g: expected at most k_bits (%g)", s->k_msb, s->k_bits);
    if (s->bits > s->k_bits)
        return ap_error(AP_ERR_INVALID_ARG, "synthetic trace: bits=%g: expected at most k_bits (%g)", s->bits, s->k_bits);
    if (s->chunks * s->layers * s->heads * s->S > 134217728.0)
        return ap_error(AP_ERR_INVALID_ARG, "synthetic trace: chunks x layers x heads x S = %.0f row entries; at most 2^27",
                        s->chunks * s->layers * s->heads * s->S);
    return AP_OK;
}

/* The fraction of tokens (heads) layer l leaves out under a cascade whose
 * mean over the layers is `mean`: linear from 0 at the first layer to
 * 2·mean at the last (one layer: mean). */
static double cascade(double mean, int32_t l, int32_t L) { return L > 1 ? 2.0 * mean * l / (L - 1) : mean; }

/* Fill one head: rows (T entries, kept per row), its record and statistics. */
static void fill_head(const struct synth *s, int32_t q, int32_t k, int32_t pad, int32_t *rows,
                      struct ap_trace_head *hd, double *st) {
    int64_t valid = 0, kept = 0, first = 0, adj_new = 0, adj_slots = 0;
    double cum = 0, prev_round = 0;
    for (int32_t r = 0; r < q; r++) {
        int32_t v = s->causal && s->queries == 0 ? r + 1 : k;
        double tilt = q > 1 ? s->spread * (2.0 * r / (q - 1) - 1.0) : 0.0;
        double x = s->density * v * (1.0 + tilt);
        if (x > v) x = v;
        cum += x;
        double cr = floor(cum + 0.5);
        int32_t kr = (int32_t)(cr - prev_round);
        prev_round = cr;
        if (kr > v) kr = v;
        if (kr < 0) kr = 0;
        rows[r] = kr;
        valid += v, kept += kr;
        if (r == 0) {
            first = kr;
        } else {
            /* SPRINT: keys newly needed beyond the previous row's, as a
             * fraction of the row's valid keys, within what two rows of
             * these sizes allow: at least kr - kprev (the row grew), at
             * most kr and at most the v - kprev keys the previous row left */
            const int64_t kprev = rows[r - 1];
            int64_t nw = (int64_t)floor(s->locality * v + 0.5);
            if (nw > kr) nw = kr;
            if (nw > v - kprev) nw = v - kprev;
            if (nw < kr - kprev) nw = kr - kprev;
            if (nw < 0) nw = 0;
            adj_new += nw, adj_slots += v;
        }
    }
    hd->queries = q, hd->keys = k, hd->valid = valid, hd->kept = kept;
    const double pruned = (double)(valid - kept);
    const double kept_steps = ceil(s->k_bits / s->B);
    st[HS_PRUNED] = pruned;
    st[HS_KBITS_PRUNED] = s->bits * pruned;
    st[HS_KBITS_KEPT] = s->k_bits * (double)kept;
    st[HS_STEPS_PRUNED] = s->bits / s->B * pruned;
    st[HS_STEPS_KEPT] = kept_steps * (double)kept;
    st[HS_PAD_Q] = pad, st[HS_PAD_K] = pad;
    st[HS_FIRST] = (double)first;
    st[HS_FETCHED] = (double)(first + adj_new);
    st[HS_REUSED] = (double)(kept - first - adj_new);
    st[HS_ADJ_NEW] = (double)adj_new, st[HS_ADJ_SLOTS] = (double)adj_slots;
    st[HS_ROWS] = q;
    st[HS_V_PRUNED] = floor(s->value_prune * (double)kept + 0.5);
    st[HS_PQ_ROWS] = q;
    st[HS_PQ_REQUANT] = floor(s->requant * q + 0.5);
    st[HS_PQ_BITS] = s->k_msb * q + (s->k_bits - s->k_msb) * st[HS_PQ_REQUANT];
}

enum ap_status ap_trace_synthesize(const char *spec, struct ap_trace *out) {
    memset(out, 0, sizeof *out);
    struct synth s;
    char given[N_KEYS][AP_TRACE_VALUE_MAX];
    memset(given, 0, sizeof given);
    enum ap_status st = parse_spec(spec, &s, given);
    if (st != AP_OK) return st;
    const int32_t N = (int32_t)s.chunks, L = (int32_t)s.layers, H = (int32_t)s.heads, T = (int32_t)s.S;
    snprintf(out->model, sizeof out->model, "synthetic");
    snprintf(out->architecture, sizeof out->architecture, "synthetic");
    snprintf(out->method, sizeof out->method, "synthetic");
    snprintf(out->method_spec, sizeof out->method_spec, "%s", spec ? spec : "");
    snprintf(out->method_note, sizeof out->method_note,
             "synthetic trace from published statistics (attnprune trace --synthetic)");
    out->N = N, out->L = L, out->H = H, out->T = T, out->d = (int32_t)s.d, out->D = (int32_t)(s.d * s.heads);
    out->causal = s.causal != 0;
    out->n_params = N_KEYS, out->P = N_HS, out->Q = N_LS;
    const int64_t nh = (int64_t)N * L * H, nl = (int64_t)N * L;
    out->param_keys = calloc(N_KEYS, sizeof *out->param_keys);
    out->param_values = calloc(N_KEYS, sizeof *out->param_values);
    out->head_stat_names = calloc(N_HS, sizeof *out->head_stat_names);
    out->layer_stat_names = calloc(N_LS, sizeof *out->layer_stat_names);
    out->heads = calloc((size_t)nh, sizeof *out->heads);
    out->head_stats = calloc((size_t)nh * N_HS, sizeof *out->head_stats);
    out->tokens_active = calloc((size_t)nl, sizeof *out->tokens_active);
    out->heads_active = calloc((size_t)nl, sizeof *out->heads_active);
    out->layer_stats = calloc((size_t)nl * N_LS, sizeof *out->layer_stats);
    out->rows = calloc((size_t)nh * T, sizeof *out->rows);
    if (!out->param_keys || !out->param_values || !out->head_stat_names || !out->layer_stat_names || !out->heads ||
        !out->head_stats || !out->tokens_active || !out->heads_active || !out->layer_stats || !out->rows) {
        ap_trace_free(out);
        return ap_error(AP_ERR_NOMEM, "synthetic trace: out of memory for %lld heads of %d tokens", (long long)nh, T);
    }
    for (int i = 0; i < N_KEYS; i++) {
        snprintf(out->param_keys[i], AP_TRACE_NAME_MAX, "%s", g_keys[i].key);
        if (given[i][0])
            snprintf(out->param_values[i], AP_TRACE_VALUE_MAX, "%.200s", given[i]);
        else
            snprintf(out->param_values[i], AP_TRACE_VALUE_MAX, "%g", g_keys[i].def);
    }
    for (int i = 0; i < N_HS; i++) snprintf(out->head_stat_names[i], AP_TRACE_NAME_MAX, "%s", g_head_stats[i]);
    for (int i = 0; i < N_LS; i++) snprintf(out->layer_stat_names[i], AP_TRACE_NAME_MAX, "%s", g_layer_stats[i]);

    const int32_t pad = (int32_t)floor(s.padding * T + 0.5);
    const int32_t S_valid = T - pad > 1 ? T - pad : 1;
    for (int32_t n = 0; n < N; n++)
        for (int32_t l = 0; l < L; l++) {
            double tp = cascade(s.token_prune, l, L), hp = cascade(s.head_prune, l, L);
            int32_t tokens = (int32_t)floor(S_valid * (1.0 - tp) + 0.5), heads = (int32_t)floor(H * (1.0 - hp) + 0.5);
            if (tokens < 1) tokens = 1;
            if (heads < 1) heads = 1;
            const int64_t li = (int64_t)n * L + l;
            out->tokens_active[li] = tokens, out->heads_active[li] = heads;
            out->layer_stats[li * N_LS + 0] = S_valid - tokens;
            out->layer_stats[li * N_LS + 1] = H - heads;
            const int32_t q = s.queries == 1 ? 1 : tokens;
            for (int32_t h = 0; h < heads; h++) {
                const int64_t hi = li * H + h;
                fill_head(&s, q, tokens, pad, out->rows + hi * T, &out->heads[hi], out->head_stats + hi * N_HS);
            }
        }
    return AP_OK;
}

enum ap_status ap_trace_synthesize_dir(const char *spec, const char *out_dir) {
    struct ap_trace t;
    enum ap_status st = ap_trace_synthesize(spec, &t);
    if (st == AP_OK) st = ap_trace_save(&t, out_dir);
    ap_trace_free(&t);
    return st;
}

/* llama.c — the Llama-family decoder from a GGUF file.
 *
 * Legend as in llama.h. The forward pass follows llama.cpp's "llama" graph,
 * which is Hugging Face's LlamaForCausalLM with its Q/K weights permuted:
 *   x = tok_embd[id]
 *   per layer: h = RMSNorm(x) · attn_norm
 *              q = h Wq^T, k = h Wk^T, v = h Wv^T;  RoPE on q and k
 *              x += Attention(q, k, v; causal, grouped-query) Wo^T
 *              h = RMSNorm(x) · ffn_norm
 *              x += (silu(h Wgate^T) * (h Wup^T)) Wdown^T
 *   logits = (RMSNorm(x) · out_norm) output^T
 * RoPE rotates adjacent pairs (q[2i], q[2i+1]) by pos · theta^(-2i/rope_dim):
 * the GGUF converter permuted the rows of Wq and Wk so that this equals
 * Hugging Face's rotate-half form on the original weights.
 *
 * Attention runs per query head through the configured method (a mask) and
 * the attention kernel, causally over the KV cache; query head h reads the
 * K/V of head h / (H / G). */
#include "model/llama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "core/log.h"
#include "io/gguf.h"
#include "kernels/attention.h"
#include "methods/method.h"
#include "model/fused.h"
#include "model/layer_ops.h"
#include "model/model.h"
#include "model/tokenizer.h"

/* ------------------------------------------------------------ configuration */

/* "<arch>.<name>" as an unsigned integer. */
static enum ap_status hp_u32(const struct ap_gguf *g, const char *arch, const char *name, uint32_t *out) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, name);
    return ap_gguf_get_u32(g, key, out);
}

static int hp_has(const struct ap_gguf *g, const char *arch, const char *name) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, name);
    return ap_gguf_find_kv(g, key) != NULL;
}

static enum ap_status hp_f32(const struct ap_gguf *g, const char *arch, const char *name, float *out) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, name);
    return ap_gguf_get_f32(g, key, out);
}

static enum ap_status read_hparams(struct ap_model *m, struct ap_llama *ll, const char *path) {
    const struct ap_gguf *g = ll->gguf;
    struct ap_gguf_str s;
    enum ap_status st = ap_gguf_get_str(g, "general.architecture", &s);
    if (st != AP_OK) return st;
    char arch[64];
    if (s.len >= sizeof arch) return ap_error(AP_ERR_FORMAT, "%s: general.architecture is %llu bytes long", path,
                                              (unsigned long long)s.len);
    memcpy(arch, s.data, s.len);
    arch[s.len] = '\0';
    if (strcmp(arch, "llama") != 0)
        return ap_error(AP_ERR_UNSUPPORTED, "%s: general.architecture is \"%s\"; attnprune's decoder runs \"llama\"",
                        path, arch);
    uint32_t L, D, I, H, G = 0, ctx, rope_dim = 0;
    float eps, base = 10000.0f;
    if ((st = hp_u32(g, arch, "block_count", &L)) || (st = hp_u32(g, arch, "embedding_length", &D)) ||
        (st = hp_u32(g, arch, "feed_forward_length", &I)) || (st = hp_u32(g, arch, "attention.head_count", &H)) ||
        (st = hp_u32(g, arch, "context_length", &ctx)) ||
        (st = hp_f32(g, arch, "attention.layer_norm_rms_epsilon", &eps)))
        return st;
    if (hp_has(g, arch, "attention.head_count_kv") && (st = hp_u32(g, arch, "attention.head_count_kv", &G))) return st;
    if (!G) G = H;
    if (hp_has(g, arch, "rope.freq_base") && (st = hp_f32(g, arch, "rope.freq_base", &base))) return st;
    if (L < 1 || L > 1024 || D < 1 || D > 65536 || I < 1 || I > 1048576 || H < 1 || H > 1024 || ctx < 1)
        return ap_error(AP_ERR_FORMAT, "%s: implausible sizes: %u layers, width %u, MLP %u, %u heads, context %u", path,
                        L, D, I, H, ctx);
    if (D % H != 0 || H % G != 0)
        return ap_error(AP_ERR_FORMAT, "%s: width %u is not a multiple of %u heads, or %u heads of %u KV heads", path,
                        D, H, H, G);
    const uint32_t d = D / H;
    if (d > AP_ATTN_MAX_HEAD_DIM)
        return ap_error(AP_ERR_UNSUPPORTED, "%s: head dimension %u exceeds %d", path, d, AP_ATTN_MAX_HEAD_DIM);
    if (hp_has(g, arch, "rope.dimension_count") && (st = hp_u32(g, arch, "rope.dimension_count", &rope_dim))) return st;
    if (!rope_dim) rope_dim = d;
    if (rope_dim > d || rope_dim % 2)
        return ap_error(AP_ERR_FORMAT, "%s: rope.dimension_count %u must be even and at most the head dimension %u",
                        path, rope_dim, d);
    if (!(eps > 0.0f) || !(base > 1.0f))
        return ap_error(AP_ERR_FORMAT, "%s: RMSNorm epsilon %g or RoPE base %g out of range", path, (double)eps,
                        (double)base);
    ll->rope_scale = 1.0f;
    char key[256];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    if (ap_gguf_find_kv(g, key)) {
        if ((st = ap_gguf_get_str(g, key, &s)) != AP_OK) return st;
        if (s.len == 6 && memcmp(s.data, "linear", 6) == 0) {
            if ((st = hp_f32(g, arch, "rope.scaling.factor", &ll->rope_scale)) != AP_OK) return st;
            if (!(ll->rope_scale >= 1.0f))
                return ap_error(AP_ERR_FORMAT, "%s: rope.scaling.factor %g must be >= 1", path, (double)ll->rope_scale);
        } else if (!(s.len == 4 && memcmp(s.data, "none", 4) == 0)) {
            return ap_error(AP_ERR_UNSUPPORTED, "%s: RoPE scaling \"%.*s\" is not supported (none or linear)", path,
                            (int)(s.len > 32 ? 32 : s.len), s.data);
        }
    }
    struct ap_model_info *in = &m->info;
    in->arch = AP_ARCH_LLAMA;
    in->n_layers = (int32_t)L;
    in->n_heads = (int32_t)H;
    in->n_kv_heads = (int32_t)G;
    in->hidden = (int32_t)D;
    in->head_dim = (int32_t)d;
    in->intermediate = (int32_t)I;
    in->max_positions = (int32_t)ctx;
    in->layer_norm_eps = eps;
    in->rope_base = base;
    in->pooling = AP_POOLING_MEAN;
    in->normalize = 0;
    ll->n_kv_heads = (int32_t)G;
    ll->rope_dim = (int32_t)rope_dim;
    ll->rope_base = base;
    return AP_OK;
}

/* ------------------------------------------------------------------ weights */

struct wanted {
    const char *name;
    int64_t ne0, ne1; /* GGUF order: ne0 = input features (fastest), ne1 = rows; ne1 = 0 for a vector */
    const float **dst;
    struct ap_gguf_tensor t; /* found and checked by check_tensor */
    int64_t offset;          /* where its floats start in ll->weights */
};

static enum ap_status check_tensor(const struct ap_gguf *g, const char *path, const struct wanted *w,
                                   struct ap_gguf_tensor *t) {
    enum ap_status st = ap_gguf_find_tensor(g, w->name, t);
    if (st != AP_OK) return st;
    const int want_dims = w->ne1 ? 2 : 1;
    if (t->n_dims != want_dims || t->ne[0] != w->ne0 || (w->ne1 && t->ne[1] != w->ne1)) {
        if (w->ne1)
            return ap_error(AP_ERR_SHAPE, "%s: tensor '%s' has %d dimensions [%lld, %lld], expected [%lld, %lld]", path,
                            w->name, t->n_dims, (long long)t->ne[0], (long long)t->ne[1], (long long)w->ne0,
                            (long long)w->ne1);
        return ap_error(AP_ERR_SHAPE, "%s: tensor '%s' has %d dimensions [%lld, ...], expected [%lld]", path, w->name,
                        t->n_dims, (long long)t->ne[0], (long long)w->ne0);
    }
    return AP_OK;
}

static enum ap_status load_weights(struct ap_model *m, struct ap_llama *ll, const char *path) {
    const struct ap_model_info *in = &m->info;
    const int64_t D = in->hidden, I = in->intermediate, d = in->head_dim, H = in->n_heads, G = ll->n_kv_heads;
    const int32_t L = in->n_layers;
    const struct ap_gguf *g = ll->gguf;
    struct ap_gguf_tensor t;
    enum ap_status st = ap_gguf_find_tensor(g, "token_embd.weight", &t);
    if (st != AP_OK) return st;
    if (t.n_dims != 2 || t.ne[0] != D || t.ne[1] < 1 || t.ne[1] > INT32_MAX)
        return ap_error(AP_ERR_SHAPE, "%s: tensor 'token_embd.weight' has shape [%lld, %lld], expected [%lld, V]", path,
                        (long long)t.ne[0], (long long)t.ne[1], (long long)D);
    const int64_t V = t.ne[1];
    m->info.vocab_size = (int32_t)V;
    ll->tied = !ap_gguf_has_tensor(g, "output.weight");

    const size_t n_wanted = 3 + 9 * (size_t)L;
    struct wanted *w = calloc(n_wanted, sizeof *w);
    char (*names)[64] = calloc(n_wanted, sizeof *names);
    ll->layers = calloc((size_t)L, sizeof *ll->layers);
    if (!w || !names || !ll->layers) {
        free(w);
        free(names);
        return ap_error(AP_ERR_NOMEM, "out of memory loading %s", path);
    }
    size_t n = 0;
    w[n++] = (struct wanted){.name = "token_embd.weight", .ne0 = D, .ne1 = V, .dst = &ll->tok_embd};
    w[n++] = (struct wanted){.name = "output_norm.weight", .ne0 = D, .ne1 = 0, .dst = &ll->out_norm};
    if (!ll->tied) w[n++] = (struct wanted){.name = "output.weight", .ne0 = D, .ne1 = V, .dst = &ll->output};
    for (int32_t l = 0; l < L; l++) {
        struct ap_llama_layer *y = &ll->layers[l];
        const struct {
            const char *suffix;
            int64_t ne0, ne1;
            const float **dst;
        } per[] = {
            {"attn_norm.weight", D, 0, &y->attn_norm}, {"attn_q.weight", D, H * d, &y->wq},
            {"attn_k.weight", D, G * d, &y->wk},       {"attn_v.weight", D, G * d, &y->wv},
            {"attn_output.weight", H * d, D, &y->wo},  {"ffn_norm.weight", D, 0, &y->ffn_norm},
            {"ffn_gate.weight", D, I, &y->w_gate},     {"ffn_up.weight", D, I, &y->w_up},
            {"ffn_down.weight", I, D, &y->w_down},
        };
        for (size_t i = 0; i < sizeof per / sizeof per[0]; i++) {
            snprintf(names[n], sizeof names[n], "blk.%d.%s", l, per[i].suffix);
            w[n] = (struct wanted){.name = names[n], .ne0 = per[i].ne0, .ne1 = per[i].ne1, .dst = per[i].dst};
            n++;
        }
    }
    /* one block for every tensor, dequantized */
    int64_t total = 0;
    for (size_t i = 0; i < n && st == AP_OK; i++) {
        st = check_tensor(g, path, &w[i], &w[i].t);
        w[i].offset = total;
        total += w[i].t.n_elements;
    }
    if (st == AP_OK) {
        ll->weights = ap_aligned_alloc((size_t)total * sizeof(float));
        if (!ll->weights) st = ap_error(AP_ERR_NOMEM, "out of memory for %lld weights of %s", (long long)total, path);
    }
    if (st == AP_OK) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(m->n_threads)
        for (size_t i = 0; i < n; i++) {
            ap_gguf_dequantize(&w[i].t, ll->weights + w[i].offset);
            *w[i].dst = ll->weights + w[i].offset;
        }
    }
    if (st == AP_OK && ll->tied) ll->output = ll->tok_embd;
    int64_t n_params = 0;
    for (size_t i = 0; i < ap_gguf_tensor_count(g); i++) n_params += ap_gguf_tensor_at(g, i)->n_elements;
    m->info.n_params = n_params;
    free(w);
    free(names);
    return st;
}

/* ------------------------------------------------------------------ scratch */

static enum ap_status alloc_scratch(struct ap_model *m, struct ap_llama *ll) {
    const size_t C = (size_t)ll->cap, S = (size_t)m->s_cap, D = (size_t)m->info.hidden;
    const size_t I = (size_t)m->info.intermediate, d = (size_t)m->info.head_dim, H = (size_t)m->info.n_heads;
    const size_t G = (size_t)ll->n_kv_heads, L = (size_t)m->info.n_layers, nt = (size_t)m->n_threads;
    const size_t half = (size_t)ll->rope_dim / 2;
    size_t bytes = 2 * ap_arena_size_of(L * G * C * d * sizeof(float)) + ap_arena_size_of(C * sizeof(int32_t)) +
                   ap_arena_size_of(C) + 2 * ap_arena_size_of(C * half * sizeof(float)) +
                   3 * ap_arena_size_of(S * D * sizeof(float)) + 2 * ap_arena_size_of(S * H * d * sizeof(float)) +
                   2 * ap_arena_size_of(S * G * d * sizeof(float)) + 2 * ap_arena_size_of(S * I * sizeof(float)) +
                   ap_arena_size_of(nt * ap_attention_f32_scratch((int32_t)S, (int32_t)C, (int32_t)d) * sizeof(float)) +
                   2 * ap_arena_size_of(nt * C * d * sizeof(float)) +
                   2 * ap_arena_size_of(H * C * sizeof(double)) +
                   ap_arena_size_of(H * sizeof(double)) + ap_arena_size_of(C) + ap_arena_size_of(H);
    enum ap_status st = ap_arena_init(&m->arena, bytes);
    if (st != AP_OK) return st;
    struct ap_arena *a = &m->arena;
    ll->k_cache = ap_arena_floats(a, L * G * C * d);
    ll->v_cache = ap_arena_floats(a, L * G * C * d);
    ll->pruned_at = ap_arena_alloc(a, C * sizeof(int32_t));
    ll->key_valid = ap_arena_alloc(a, C);
    ll->rope_cos = ap_arena_floats(a, C * half);
    ll->rope_sin = ap_arena_floats(a, C * half);
    ll->x = ap_arena_floats(a, S * D);
    ll->xn = ap_arena_floats(a, S * D);
    ll->tmp = ap_arena_floats(a, S * D);
    ll->q = ap_arena_floats(a, S * H * d);
    ll->ctx = ap_arena_floats(a, S * H * d);
    ll->k = ap_arena_floats(a, S * G * d);
    ll->v = ap_arena_floats(a, S * G * d);
    ll->gate = ap_arena_floats(a, S * I);
    ll->up = ap_arena_floats(a, S * I);
    ll->masks = NULL; /* allocated on first use: only a method that decides whole masks needs them */
    ll->scratch_len = ap_attention_f32_scratch((int32_t)S, (int32_t)C, (int32_t)d);
    ll->scores = ap_arena_floats(a, nt * ll->scratch_len);
    ll->k_eff = ap_arena_floats(a, nt * C * d);
    ll->v_eff = ap_arena_floats(a, nt * C * d);
    m->key_prob = ap_arena_alloc(a, H * C * sizeof(double));
    m->key_prob_packed = ap_arena_alloc(a, H * C * sizeof(double));
    m->head_out_abs = ap_arena_alloc(a, H * sizeof(double));
    m->token_active = ap_arena_alloc(a, C);
    m->head_active = ap_arena_alloc(a, H);
    AP_ASSERT(m->head_active != NULL); /* the arena was sized for exactly these */
    /* RoPE tables in double, rounded once: theta_i = base^(-2i / rope_dim) */
    for (size_t p = 0; p < C; p++)
        for (size_t i = 0; i < half; i++) {
            double inv = pow((double)ll->rope_base, -2.0 * (double)i / (double)ll->rope_dim);
            double ang = (double)p / (double)ll->rope_scale * inv;
            ll->rope_cos[p * half + i] = (float)cos(ang);
            ll->rope_sin[p * half + i] = (float)sin(ang);
        }
    return AP_OK;
}

enum ap_status ap_llama_load(struct ap_model *m, const char *path, struct ap_model_params params) {
    struct ap_llama *ll = calloc(1, sizeof *ll);
    if (!ll) return ap_error(AP_ERR_NOMEM, "out of memory loading %s", path);
    m->llama = ll;
    enum ap_status st = ap_gguf_open(path, &ll->gguf);
    if (st != AP_OK) return st;
    if ((st = read_hparams(m, ll, path)) != AP_OK) return st;
    if (params.max_tokens < 0)
        return ap_error(AP_ERR_INVALID_ARG, "max_tokens must be >= 0 (0 = the model's own), got %d", params.max_tokens);
    const int32_t ctx = m->info.max_positions;
    if (params.max_tokens > ctx)
        return ap_error(AP_ERR_INVALID_ARG, "max_tokens %d exceeds the model's context of %d tokens", params.max_tokens,
                        ctx);
    /* The KV cache holds max_tokens (default: the model's context, at most
     * AP_LLAMA_DEFAULT_CONTEXT); one call takes up to as many new tokens. */
    ll->cap = params.max_tokens ? params.max_tokens : (ctx < AP_LLAMA_DEFAULT_CONTEXT ? ctx : AP_LLAMA_DEFAULT_CONTEXT);
    m->info.max_tokens = ll->cap;
    m->s_cap = ll->cap;
    if ((st = ap_bpe_load_gguf(ll->gguf, &m->tok)) != AP_OK) return ap_error_prefix(st, "%s: tokenizer", path);
    if ((st = load_weights(m, ll, path)) != AP_OK) return st;
    if ((st = alloc_scratch(m, ll)) != AP_OK) return st;
    ll->n_past = 0;
    return AP_OK;
}

void ap_llama_free(struct ap_llama *ll) {
    if (!ll) return;
    ap_aligned_free(ll->weights);
    free(ll->masks);
    free(ll->layers);
    ap_gguf_close(ll->gguf);
    free(ll);
}

/* ------------------------------------------------------------------ forward */

/* In place over S rows of x (S, D): x / sqrt(mean(x^2) + eps) * g, the mean
 * in double. */
static void rms_norm(const float *x, int32_t S, int32_t D, const float *g, float eps, float *out) {
    for (int32_t i = 0; i < S; i++) {
        const float *row = x + (int64_t)i * D;
        float *o = out + (int64_t)i * D;
        double ss = 0.0;
        for (int32_t j = 0; j < D; j++) ss += (double)row[j] * row[j];
        const float inv = (float)(1.0 / sqrt(ss / D + (double)eps));
        for (int32_t j = 0; j < D; j++) o[j] = (row[j] * inv) * g[j];
    }
}

/* Rotate adjacent pairs of the first rope_dim entries of each head of each
 * row of x (S, n_heads d) at positions pos0 .. pos0 + S - 1. */
static void rope(const struct ap_llama *ll, float *x, int32_t S, int32_t n_heads, int32_t d, int32_t pos0) {
    const int32_t half = ll->rope_dim / 2;
    for (int32_t i = 0; i < S; i++) {
        const float *c = ll->rope_cos + (int64_t)(pos0 + i) * half, *s = ll->rope_sin + (int64_t)(pos0 + i) * half;
        for (int32_t h = 0; h < n_heads; h++) {
            float *v = x + ((int64_t)i * n_heads + h) * d;
            for (int32_t j = 0; j < half; j++) {
                const float a = v[2 * j], b = v[2 * j + 1];
                v[2 * j] = a * c[j] - b * s[j];
                v[2 * j + 1] = a * s[j] + b * c[j];
            }
        }
    }
}

static float *cache_row(float *cache, const struct ap_model *m, int32_t layer, int32_t g, int32_t pos) {
    const struct ap_llama *ll = m->llama;
    const int64_t d = m->info.head_dim;
    return cache + (((int64_t)layer * ll->n_kv_heads + g) * ll->cap + pos) * d;
}

/* ctx (S, H d) = per query head attention of the S new queries over the T
 * cached keys, causal; heads run in parallel. */
static enum ap_status attention_layer(struct ap_model *m, int32_t layer, int32_t S) {
    struct ap_llama *ll = m->llama;
    const int32_t H = m->info.n_heads, d = m->info.head_dim, G = ll->n_kv_heads;
    const int32_t T = ll->n_past + S, group = H / G;
    const int64_t Hd = (int64_t)H * d;
    const float scale = 1.0f / sqrtf((float)d);
    const struct ap_method_ops *ops = ap_method_ops_of(m->method);
    const int cascade = ops->end_layer != NULL;
    int any_pruned = 0;
    for (int32_t j = 0; j < T; j++) {
        ll->key_valid[j] = ll->pruned_at[j] > layer;
        any_pruned |= !ll->key_valid[j];
    }
    const uint8_t *kv = any_pruned ? ll->key_valid : NULL;
    /* the fused path (model/fused.h) when the method has one and nothing needs whole masks */
    const int fused = ap_fused_usable(m);
    if (fused) {
        enum ap_status st = ap_fused_reserve(m, m->s_cap, ll->cap);
        if (st != AP_OK) return st;
    } else if (strcmp(ops->name, "dense") != 0 && !ll->masks) { /* dense asks for no mask */
        /* (n_threads, S_cap, C) bytes, quadratic in the context: only for the mask path */
        const size_t bytes = (size_t)m->n_threads * (size_t)m->s_cap * (size_t)ll->cap;
        ll->masks = malloc(bytes);
        if (!ll->masks) return ap_error(AP_ERR_NOMEM, "out of memory for %zu bytes of attention masks", bytes);
    }
    enum ap_status status = AP_OK;
    char message[1024] = "";
#pragma omp parallel for schedule(dynamic, 1) num_threads(m->n_threads)
    for (int32_t h = 0; h < H; h++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        double *key_prob = cascade ? m->key_prob + (int64_t)h * ll->cap : NULL;
        if (key_prob) memset(key_prob, 0, sizeof(double) * (size_t)T);
        if (!m->head_active[h]) {
            for (int32_t i = 0; i < S; i++) memset(ll->ctx + (int64_t)i * Hd + (int64_t)h * d, 0, sizeof(float) * (size_t)d);
            m->head_out_abs[h] = 0.0;
            continue;
        }
        const int32_t g = h / group;
        struct ap_head_inputs in = {
            .layer = layer, .head = h, .n_layers = m->info.n_layers, .n_heads = H, .n_q = S, .n_k = T, .d = d,
            .q = ll->q + (int64_t)h * d, .k = cache_row(ll->k_cache, m, layer, g, 0),
            .v = cache_row(ll->v_cache, m, layer, g, 0), .q_stride = Hd, .k_stride = d, .v_stride = d,
            .scale = scale, .causal = 1, .key_valid = kv, .query_valid = NULL,
        };
        if (fused) {
            struct ap_attn_head kh = {
                .q = in.q, .k = in.k, .v = in.v, .o = ll->ctx + (int64_t)h * d,
                .q_stride = Hd, .k_stride = d, .v_stride = d, .o_stride = Hd,
                .n_q = S, .n_k = T, .d = d, .scale = scale, .causal = 1, .key_valid = kv,
            };
            int64_t kept = 0, valid = 0;
            enum ap_status st = ap_fused_head(m, tid, &in, &kh, &kept, &valid);
            if (st != AP_OK) {
#pragma omp critical
                {
                    status = st;
                    snprintf(message, sizeof message, "head %d: %s", h, ap_last_error());
                }
            }
            continue;
        }
        struct ap_head_output out = {.mask = ll->masks + (int64_t)tid * m->s_cap * ll->cap};
        if (S == 1) { /* a decode step: a method may quantize K/V (SpAtten's progressive quantization) */
            out.k_eff = ll->k_eff + (int64_t)tid * ll->cap * d;
            out.v_eff = ll->v_eff + (int64_t)tid * ll->cap * d;
        }
        enum ap_status st = ap_method_predict(m->method, &in, &out);
        if (st != AP_OK) {
#pragma omp critical
            {
                status = st;
                snprintf(message, sizeof message, "head %d: %s", h, ap_last_error());
            }
            continue;
        }
        struct ap_attn_head kh = {
            .q = in.q, .k = out.kv_replaced ? out.k_eff : in.k, .v = out.kv_replaced ? out.v_eff : in.v,
            .o = ll->ctx + (int64_t)h * d,
            .q_stride = Hd, .k_stride = d, .v_stride = d, .o_stride = Hd,
            .n_q = S, .n_k = T, .d = d, .scale = scale, .causal = 1, .key_valid = kv, .query_valid = NULL,
        };
        ap_attention_f32(&kh, out.mask, ll->scores + (int64_t)tid * (int64_t)ll->scratch_len, key_prob);
        if (cascade) {
            double a = 0.0;
            for (int32_t i = 0; i < S; i++) {
                const float *o = kh.o + (int64_t)i * Hd;
                for (int32_t c = 0; c < d; c++) a += fabs((double)o[c]);
            }
            m->head_out_abs[h] = a;
        }
        if (m->observer.on_head) m->observer.on_head(m->observer.user, &in, &out, kh.o, Hd);
    }
    if (status != AP_OK) return ap_error(status, "%s", message);
    if (!cascade) return AP_OK;

    /* Cascade token pruning: a key the method drops after this layer leaves
     * the KV cache of every later layer (queries are never dropped: every
     * position predicts its next token). */
    for (int32_t j = 0; j < T; j++) m->token_active[j] = ll->key_valid[j];
    struct ap_layer_view view = {
        .layer = layer, .n_layers = m->info.n_layers, .n_tokens = T, .n_heads = H, .key_prob = m->key_prob_packed,
        .head_out_abs = m->head_out_abs, .token_active = m->token_active, .head_active = m->head_active,
    };
    for (int32_t h = 0; h < H; h++)
        memcpy(m->key_prob_packed + (int64_t)h * T, m->key_prob + (int64_t)h * ll->cap, sizeof(double) * (size_t)T);
    enum ap_status st = ops->end_layer(ap_method_state(m->method), &view);
    if (st != AP_OK) return ap_error_prefix(st, "method '%s' after layer %d", ops->name, layer);
    for (int32_t j = 0; j < T; j++)
        if (!m->token_active[j] && ll->pruned_at[j] > layer + 1) ll->pruned_at[j] = layer + 1;
    if (m->observer.on_layer) m->observer.on_layer(m->observer.user, &view);
    return AP_OK;
}

static void silu_mul(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float x = gate[i];
        gate[i] = x / (1.0f + expf(-x)) * up[i];
    }
}

enum ap_status ap_llama_decode(struct ap_model *m, const int32_t *ids, int32_t S, float *hidden, float *logits_last) {
    struct ap_llama *ll = m->llama;
    const struct ap_model_info *in = &m->info;
    const int32_t D = in->hidden, I = in->intermediate, H = in->n_heads, G = ll->n_kv_heads, d = in->head_dim;
    const int32_t P = ll->n_past;
    if (S < 1 || S > m->s_cap)
        return ap_error(AP_ERR_RANGE, "%d new tokens; this model takes 1..%d at once", S, m->s_cap);
    if (P + S > ll->cap)
        return ap_error(AP_ERR_RANGE, "%d new tokens after %d in the KV cache exceed its %d (reset it, or load with a "
                        "larger max_tokens)", S, P, ll->cap);
    for (int32_t i = 0; i < S; i++)
        if (ids[i] < 0 || ids[i] >= in->vocab_size)
            return ap_error(AP_ERR_RANGE, "token id %d at position %d is outside the vocabulary (0..%d)", ids[i], i,
                            in->vocab_size - 1);
    const struct ap_method_ops *ops = ap_method_ops_of(m->method);
    if (P == 0) {
        for (int32_t j = 0; j < ll->cap; j++) ll->pruned_at[j] = in->n_layers;
        memset(m->head_active, 1, (size_t)H);
    }
    for (int32_t j = P; j < P + S; j++) ll->pruned_at[j] = in->n_layers;
    if (ops->begin_sequence) {
        enum ap_status st = ops->begin_sequence(ap_method_state(m->method), P + S, in->n_layers, H);
        if (st != AP_OK) return ap_error_prefix(st, "method '%s'", ops->name);
    }
    float *x = ll->x;
    for (int32_t i = 0; i < S; i++)
        memcpy(x + (int64_t)i * D, ll->tok_embd + (int64_t)ids[i] * D, sizeof(float) * (size_t)D);
    const int64_t Hd = (int64_t)H * d, Gd = (int64_t)G * d;
    for (int32_t l = 0; l < in->n_layers; l++) {
        const struct ap_llama_layer *y = &ll->layers[l];
        rms_norm(x, S, D, y->attn_norm, in->layer_norm_eps, ll->xn);
        ap_linear(ll->xn, S, D, y->wq, NULL, (int32_t)Hd, ll->q);
        ap_linear(ll->xn, S, D, y->wk, NULL, (int32_t)Gd, ll->k);
        ap_linear(ll->xn, S, D, y->wv, NULL, (int32_t)Gd, ll->v);
        rope(ll, ll->q, S, H, d, P);
        rope(ll, ll->k, S, G, d, P);
        for (int32_t g = 0; g < G; g++)
            for (int32_t i = 0; i < S; i++) {
                memcpy(cache_row(ll->k_cache, m, l, g, P + i), ll->k + i * Gd + (int64_t)g * d, sizeof(float) * (size_t)d);
                memcpy(cache_row(ll->v_cache, m, l, g, P + i), ll->v + i * Gd + (int64_t)g * d, sizeof(float) * (size_t)d);
            }
        ll->n_past = P; /* the attention sees P + S keys */
        enum ap_status st = attention_layer(m, l, S);
        if (st != AP_OK) return ap_error_prefix(st, "layer %d", l);
        ap_linear(ll->ctx, S, (int32_t)Hd, y->wo, NULL, D, ll->tmp);
        ap_add_inplace(x, ll->tmp, (int64_t)S * D);
        rms_norm(x, S, D, y->ffn_norm, in->layer_norm_eps, ll->xn);
        ap_linear(ll->xn, S, D, y->w_gate, NULL, I, ll->gate);
        ap_linear(ll->xn, S, D, y->w_up, NULL, I, ll->up);
        silu_mul(ll->gate, ll->up, (int64_t)S * I);
        ap_linear(ll->gate, S, I, y->w_down, NULL, D, ll->tmp);
        ap_add_inplace(x, ll->tmp, (int64_t)S * D);
    }
    ll->n_past = P + S;
    rms_norm(x, S, D, ll->out_norm, in->layer_norm_eps, ll->xn);
    if (hidden) memcpy(hidden, ll->xn, sizeof(float) * (size_t)S * D);
    if (logits_last) ap_llama_lm_head(m, ll->xn + (int64_t)(S - 1) * D, 1, logits_last);
    return AP_OK;
}

void ap_llama_lm_head(const struct ap_model *m, const float *hidden, int32_t n, float *logits) {
    ap_linear(hidden, n, m->info.hidden, m->llama->output, NULL, m->info.vocab_size, logits);
}

/* bert.c — the BERT-family encoder: configuration, weights, forward pass.
 *
 * Legend: S = tokens, D = hidden, H = heads, d = head dim (D / H),
 * I = MLP width, L = layers, V = vocabulary, P = position embeddings.
 *
 * The forward pass follows Hugging Face's BertModel in eval mode:
 *   x = LayerNorm(word[id] + position[i] + token_type[0])
 *   per layer: a = Attention(x W_q, x W_k, x W_v) W_o;  x = LayerNorm(x + a)
 *              f = act(x W_i) W_f;                      x = LayerNorm(x + f)
 * then the sentence-transformers pooling (mean, CLS or max) and, when the
 * model's modules.json lists it, L2 normalization. The attention step asks
 * the configured method for a mask and the reference kernel for the output. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "core/log.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "kernels/attention.h"
#include "kernels/gelu_f32.h"
#include "methods/method.h"
#include "model/fused.h"
#include "model/layer_ops.h"
#include "model/model.h"
#include "model/tokenizer.h"

#define AP_PATH_MAX 4096

/* ------------------------------------------------------------ configuration */

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void join(char *out, const char *dir, const char *name) { snprintf(out, AP_PATH_MAX, "%s/%s", dir, name); }

/* config.json: the architecture's sizes. */
static enum ap_status read_config(struct ap_model *m, const char *dir) {
    char path[AP_PATH_MAX];
    join(path, dir, "config.json");
    cJSON *cfg = NULL;
    enum ap_status st = ap_json_load(path, &cfg);
    if (st != AP_OK) return st;
    struct ap_model_info *in = &m->info;
    const char *type = NULL, *act = NULL, *pos_type = NULL;
    int64_t L, H, D, I, V, P, types;
    double eps;
    if ((st = ap_json_string(cfg, path, "model_type", NULL, &type)) != AP_OK) goto done;
    if (!type) {
        st = ap_error(AP_ERR_FORMAT, "%s: missing \"model_type\" (expected \"bert\")", path);
        goto done;
    }
    if (strcmp(type, "bert") != 0) {
        st = ap_error(AP_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not supported (expected \"bert\")", path, type);
        goto done;
    }
    if ((st = ap_json_int(cfg, path, "num_hidden_layers", 1, 0, 1, 1024, &L)) != AP_OK ||
        (st = ap_json_int(cfg, path, "num_attention_heads", 1, 0, 1, 1024, &H)) != AP_OK ||
        (st = ap_json_int(cfg, path, "hidden_size", 1, 0, 1, 65536, &D)) != AP_OK ||
        (st = ap_json_int(cfg, path, "intermediate_size", 1, 0, 1, 1 << 20, &I)) != AP_OK ||
        (st = ap_json_int(cfg, path, "vocab_size", 1, 0, 1, 1 << 24, &V)) != AP_OK ||
        (st = ap_json_int(cfg, path, "max_position_embeddings", 1, 0, 1, 1 << 16, &P)) != AP_OK ||
        (st = ap_json_int(cfg, path, "type_vocab_size", 0, 2, 1, 1024, &types)) != AP_OK ||
        (st = ap_json_double(cfg, path, "layer_norm_eps", 0, 1e-12, &eps)) != AP_OK ||
        (st = ap_json_string(cfg, path, "hidden_act", "gelu", &act)) != AP_OK ||
        (st = ap_json_string(cfg, path, "position_embedding_type", "absolute", &pos_type)) != AP_OK)
        goto done;
    if (D % H != 0) {
        st = ap_error(AP_ERR_FORMAT, "%s: hidden_size %lld is not a multiple of num_attention_heads %lld", path,
                      (long long)D, (long long)H);
        goto done;
    }
    if (D / H > AP_ATTN_MAX_HEAD_DIM) {
        st = ap_error(AP_ERR_UNSUPPORTED, "%s: head dimension %lld exceeds %d", path, (long long)(D / H),
                      AP_ATTN_MAX_HEAD_DIM);
        goto done;
    }
    if (strcmp(pos_type, "absolute") != 0) {
        st = ap_error(AP_ERR_UNSUPPORTED, "%s: position_embedding_type \"%s\" is not supported (expected \"absolute\")",
                      path, pos_type);
        goto done;
    }
    if (strcmp(act, "gelu") == 0) m->act = AP_ACT_GELU_ERF;
    else if (strcmp(act, "gelu_new") == 0 || strcmp(act, "gelu_pytorch_tanh") == 0) m->act = AP_ACT_GELU_TANH;
    else if (strcmp(act, "relu") == 0) m->act = AP_ACT_RELU;
    else {
        st = ap_error(AP_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported (gelu, gelu_new, relu)", path, act);
        goto done;
    }
    in->arch = AP_ARCH_BERT;
    in->n_layers = (int32_t)L;
    in->n_heads = (int32_t)H;
    in->hidden = (int32_t)D;
    in->head_dim = (int32_t)(D / H);
    in->intermediate = (int32_t)I;
    in->vocab_size = (int32_t)V;
    in->max_positions = (int32_t)P;
    in->layer_norm_eps = (float)eps;
    m->w.token_type = NULL;
    (void)types;
done:
    cJSON_Delete(cfg);
    return st;
}

/* The sentence-transformers files: truncation length, pooling, normalization.
 * A plain Hugging Face directory without them gets mean pooling, no
 * normalization, and truncation at max_position_embeddings. */
static enum ap_status read_sentence_config(struct ap_model *m, const char *dir) {
    char path[AP_PATH_MAX];
    struct ap_model_info *in = &m->info;
    enum ap_status st = AP_OK;
    in->max_tokens = in->max_positions;
    in->pooling = AP_POOLING_MEAN;
    in->normalize = 0;

    join(path, dir, "sentence_bert_config.json");
    if (file_exists(path)) {
        cJSON *c = NULL;
        int64_t len;
        if ((st = ap_json_load(path, &c)) != AP_OK) return st;
        st = ap_json_int(c, path, "max_seq_length", 0, in->max_positions, 1, in->max_positions, &len);
        cJSON_Delete(c);
        if (st != AP_OK) return st;
        in->max_tokens = (int32_t)len;
    }

    join(path, dir, "modules.json");
    if (!file_exists(path)) {
        AP_LOG_I("%s: no modules.json; using mean pooling without normalization", dir);
        return AP_OK;
    }
    cJSON *mods = NULL;
    FILE *f = fopen(path, "rb"); /* modules.json is a JSON array, not an object */
    if (!f) return ap_error(AP_ERR_IO, "%s: cannot open", path);
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    mods = cJSON_Parse(buf);
    if (!mods || !cJSON_IsArray(mods)) {
        cJSON_Delete(mods);
        return ap_error(AP_ERR_FORMAT, "%s: expected a JSON array of modules", path);
    }
    char pool_dir[AP_PATH_MAX] = "";
    const cJSON *mod;
    cJSON_ArrayForEach(mod, mods) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(mod, "type");
        const cJSON *sub = cJSON_GetObjectItemCaseSensitive(mod, "path");
        if (!cJSON_IsString(type)) continue;
        if (strstr(type->valuestring, "Pooling") && cJSON_IsString(sub))
            snprintf(pool_dir, sizeof pool_dir, "%s/%s", dir, sub->valuestring);
        else if (strstr(type->valuestring, "Normalize"))
            in->normalize = 1;
        else if (!strstr(type->valuestring, "Transformer")) {
            st = ap_error(AP_ERR_UNSUPPORTED, "%s: module \"%s\" is not supported (Transformer, Pooling, Normalize)",
                          path, type->valuestring);
            break;
        }
    }
    cJSON_Delete(mods);
    if (st != AP_OK || !pool_dir[0]) return st;

    join(path, pool_dir, "config.json");
    cJSON *pc = NULL;
    if ((st = ap_json_load(path, &pc)) != AP_OK) return st;
    int mean = 0, cls = 0, max = 0, sqrt_len = 0, wmean = 0, last = 0;
    if ((st = ap_json_bool(pc, path, "pooling_mode_mean_tokens", 0, &mean)) != AP_OK ||
        (st = ap_json_bool(pc, path, "pooling_mode_cls_token", 0, &cls)) != AP_OK ||
        (st = ap_json_bool(pc, path, "pooling_mode_max_tokens", 0, &max)) != AP_OK ||
        (st = ap_json_bool(pc, path, "pooling_mode_mean_sqrt_len_tokens", 0, &sqrt_len)) != AP_OK ||
        (st = ap_json_bool(pc, path, "pooling_mode_weightedmean_tokens", 0, &wmean)) != AP_OK ||
        (st = ap_json_bool(pc, path, "pooling_mode_lasttoken", 0, &last)) != AP_OK) {
        cJSON_Delete(pc);
        return st;
    }
    cJSON_Delete(pc);
    if (mean + cls + max + sqrt_len + wmean + last != 1 || sqrt_len || wmean || last)
        return ap_error(AP_ERR_UNSUPPORTED,
                        "%s: exactly one of pooling_mode_mean_tokens, pooling_mode_cls_token, "
                        "pooling_mode_max_tokens must be true",
                        path);
    in->pooling = mean ? AP_POOLING_MEAN : cls ? AP_POOLING_CLS : AP_POOLING_MAX;
    return AP_OK;
}

/* The tokenizer's normalization switches: tokenizer.json's BertNormalizer if
 * present (what the fast tokenizer uses), else tokenizer_config.json. */
static enum ap_status load_tokenizer(struct ap_model *m, const char *dir) {
    char path[AP_PATH_MAX];
    struct ap_wordpiece_params tp = ap_wordpiece_default_params();
    enum ap_status st;
    join(path, dir, "tokenizer.json");
    if (file_exists(path)) {
        cJSON *t = NULL;
        if ((st = ap_json_load(path, &t)) != AP_OK) return st;
        const cJSON *norm = cJSON_GetObjectItemCaseSensitive(t, "normalizer");
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(t, "model");
        const char *ntype = NULL, *mtype = NULL;
        st = ap_json_string(norm, path, "type", NULL, &ntype);
        if (st == AP_OK) st = ap_json_string(model, path, "type", NULL, &mtype);
        if (st == AP_OK && (!ntype || strcmp(ntype, "BertNormalizer") != 0 || !mtype || strcmp(mtype, "WordPiece") != 0))
            st = ap_error(AP_ERR_UNSUPPORTED, "%s: expected a BertNormalizer and a WordPiece model, found %s and %s",
                          path, ntype ? ntype : "none", mtype ? mtype : "none");
        int lower = 1, clean = 1, chinese = 1;
        int64_t max_chars = 100;
        if (st == AP_OK) st = ap_json_bool(norm, path, "lowercase", 1, &lower);
        if (st == AP_OK) st = ap_json_bool(norm, path, "clean_text", 1, &clean);
        if (st == AP_OK) st = ap_json_bool(norm, path, "handle_chinese_chars", 1, &chinese);
        if (st == AP_OK) st = ap_json_int(model, path, "max_input_chars_per_word", 0, 100, 1, 1 << 20, &max_chars);
        if (st == AP_OK) {
            const cJSON *sa = cJSON_GetObjectItemCaseSensitive(norm, "strip_accents");
            tp.strip_accents = cJSON_IsBool(sa) ? (cJSON_IsTrue(sa) ? 1 : 0) : -1;
            tp.lowercase = lower;
            tp.clean_text = clean;
            tp.tokenize_chinese_chars = chinese;
            tp.max_input_chars_per_word = (int32_t)max_chars;
        }
        cJSON_Delete(t);
        if (st != AP_OK) return st;
    } else {
        join(path, dir, "tokenizer_config.json");
        if (file_exists(path)) {
            cJSON *t = NULL;
            int lower = 1, chinese = 1;
            if ((st = ap_json_load(path, &t)) != AP_OK) return st;
            st = ap_json_bool(t, path, "do_lower_case", 1, &lower);
            if (st == AP_OK) st = ap_json_bool(t, path, "tokenize_chinese_chars", 1, &chinese);
            const cJSON *sa = cJSON_GetObjectItemCaseSensitive(t, "strip_accents");
            tp.strip_accents = cJSON_IsBool(sa) ? (cJSON_IsTrue(sa) ? 1 : 0) : -1;
            tp.lowercase = lower;
            tp.tokenize_chinese_chars = chinese;
            cJSON_Delete(t);
            if (st != AP_OK) return st;
        }
    }
    tp.max_tokens = m->info.max_tokens;
    join(path, dir, "vocab.txt");
    if ((st = ap_wordpiece_load(path, tp, &m->tok)) != AP_OK) return st;
    if (ap_tokenizer_vocab_size(m->tok) > m->info.vocab_size)
        return ap_error(AP_ERR_SHAPE, "%s: %d tokens, but config.json says vocab_size %d", path,
                        ap_tokenizer_vocab_size(m->tok), m->info.vocab_size);
    return AP_OK;
}

/* ------------------------------------------------------------------ weights */

/* Tensor names differ between checkpoints: a "bert." prefix on BertFor*
 * models, and gamma/beta instead of weight/bias on old LayerNorms. */
static enum ap_status weight(struct ap_model *m, const char *prefix, const char *name, int32_t ndim, int64_t d0,
                             int64_t d1, const float **out) {
    const int64_t shape[2] = {d0, d1};
    char full[256];
    struct ap_tensor_view view;
    snprintf(full, sizeof full, "%s%s", prefix, name);
    if (ap_safetensors_find(m->st, full, &view) != AP_OK && strstr(full, "LayerNorm.")) {
        char alt[256];
        size_t len = strlen(full);
        if (len > 7 && strcmp(full + len - 7, ".weight") == 0)
            snprintf(alt, sizeof alt, "%.*s.gamma", (int)(len - 7), full);
        else if (len > 5 && strcmp(full + len - 5, ".bias") == 0)
            snprintf(alt, sizeof alt, "%.*s.beta", (int)(len - 5), full);
        else
            snprintf(alt, sizeof alt, "%s", full);
        if (ap_safetensors_find(m->st, alt, &view) == AP_OK) snprintf(full, sizeof full, "%s", alt);
    }
    return ap_safetensors_tensor_f32(m->st, full, ndim, shape, out);
}

static enum ap_status load_weights(struct ap_model *m, const char *dir) {
    char path[AP_PATH_MAX];
    join(path, dir, "model.safetensors");
    enum ap_status st = ap_safetensors_open(path, &m->st);
    if (st != AP_OK) return st;
    const struct ap_model_info *in = &m->info;
    const int64_t D = in->hidden, I = in->intermediate;
    struct ap_tensor_view view;
    const char *prefix = "";
    if (ap_safetensors_find(m->st, "embeddings.word_embeddings.weight", &view) != AP_OK) {
        if (ap_safetensors_find(m->st, "bert.embeddings.word_embeddings.weight", &view) == AP_OK)
            prefix = "bert.";
        else
            return ap_error(AP_ERR_FORMAT, "%s: no tensor 'embeddings.word_embeddings.weight' (is this a BERT model?)",
                            path);
    }
    int64_t types = 0;
    char name[256];
    snprintf(name, sizeof name, "%sembeddings.token_type_embeddings.weight", prefix);
    if (ap_safetensors_find(m->st, name, &view) == AP_OK && view.ndim == 2) types = view.shape[0];
    if (types < 1) return ap_error(AP_ERR_FORMAT, "%s: tensor '%s' missing or not 2-D", path, name);

    struct ap_bert_weights *w = &m->w;
    if ((st = weight(m, prefix, "embeddings.word_embeddings.weight", 2, in->vocab_size, D, &w->word)) ||
        (st = weight(m, prefix, "embeddings.position_embeddings.weight", 2, in->max_positions, D, &w->position)) ||
        (st = weight(m, prefix, "embeddings.token_type_embeddings.weight", 2, types, D, &w->token_type)) ||
        (st = weight(m, prefix, "embeddings.LayerNorm.weight", 1, D, 0, &w->ln_g)) ||
        (st = weight(m, prefix, "embeddings.LayerNorm.bias", 1, D, 0, &w->ln_b)))
        return st;
    w->layers = calloc((size_t)in->n_layers, sizeof *w->layers);
    if (!w->layers) return ap_error(AP_ERR_NOMEM, "out of memory for %d layers", in->n_layers);
    for (int32_t l = 0; l < in->n_layers; l++) {
        struct ap_bert_layer *y = &w->layers[l];
        struct {
            const char *suffix;
            int32_t ndim;
            int64_t d0, d1;
            const float **dst;
        } t[] = {
            {"attention.self.query.weight", 2, D, D, &y->wq},   {"attention.self.query.bias", 1, D, 0, &y->bq},
            {"attention.self.key.weight", 2, D, D, &y->wk},     {"attention.self.key.bias", 1, D, 0, &y->bk},
            {"attention.self.value.weight", 2, D, D, &y->wv},   {"attention.self.value.bias", 1, D, 0, &y->bv},
            {"attention.output.dense.weight", 2, D, D, &y->wo}, {"attention.output.dense.bias", 1, D, 0, &y->bo},
            {"attention.output.LayerNorm.weight", 1, D, 0, &y->ln1_g},
            {"attention.output.LayerNorm.bias", 1, D, 0, &y->ln1_b},
            {"intermediate.dense.weight", 2, I, D, &y->wi},     {"intermediate.dense.bias", 1, I, 0, &y->bi},
            {"output.dense.weight", 2, D, I, &y->wf},           {"output.dense.bias", 1, D, 0, &y->bf},
            {"output.LayerNorm.weight", 1, D, 0, &y->ln2_g},    {"output.LayerNorm.bias", 1, D, 0, &y->ln2_b},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            char n2[256];
            snprintf(n2, sizeof n2, "encoder.layer.%d.%s", l, t[i].suffix);
            if ((st = weight(m, prefix, n2, t[i].ndim, t[i].d0, t[i].d1, t[i].dst)) != AP_OK) return st;
        }
    }
    int64_t n_params = 0;
    for (size_t i = 0; i < ap_safetensors_count(m->st); i++) {
        if (ap_safetensors_get(m->st, i, &view) != AP_OK) continue;
        if (view.dtype != AP_DTYPE_F32 && view.dtype != AP_DTYPE_F16 && view.dtype != AP_DTYPE_BF16) continue;
        int64_t c = 1;
        for (int32_t k = 0; k < view.ndim; k++) c *= view.shape[k];
        n_params += c;
    }
    m->info.n_params = n_params;
    return AP_OK;
}

/* --------------------------------------------------------------- scratch */

/* Floats of one thread's attention-kernel scratch, rounded up to whole
 * cache lines so that each thread's slice stays 64-byte aligned. */
static size_t attn_scratch_floats(const struct ap_model *m) {
    size_t n = ap_attention_f32_scratch(m->s_cap, m->s_cap, m->info.head_dim);
    return ap_arena_size_of(n * sizeof(float)) / sizeof(float);
}

/* The per-row tensors (x, q, k, v, ctx, tmp, inter) hold R_cap rows, so that
 * several sequences share one pass; the per-sequence ones (masks, x_prev,
 * key probabilities, activity flags) hold S_cap. */
static enum ap_status alloc_scratch(struct ap_model *m) {
    const size_t S = (size_t)m->s_cap, R = (size_t)m->r_cap, D = (size_t)m->info.hidden;
    const size_t I = (size_t)m->info.intermediate, H = (size_t)m->info.n_heads, nt = (size_t)m->n_threads;
    size_t bytes = 6 * ap_arena_size_of(R * D * sizeof(float)) + ap_arena_size_of(S * D * sizeof(float)) +
                   ap_arena_size_of(R * I * sizeof(float)) + ap_arena_size_of((H > nt ? H : nt) * S * S) +
                   ap_arena_size_of(R * sizeof(int64_t)) +
                   ap_arena_size_of(nt * attn_scratch_floats(m) * sizeof(float)) +
                   ap_arena_size_of(S * sizeof(int32_t)) + 2 * ap_arena_size_of(H * S * sizeof(double)) +
                   ap_arena_size_of(H * sizeof(double)) + ap_arena_size_of(S) + ap_arena_size_of(H);
    enum ap_status st = ap_arena_init(&m->arena, bytes);
    if (st != AP_OK) return st;
    m->x = ap_arena_floats(&m->arena, R * D);
    m->q = ap_arena_floats(&m->arena, R * D);
    m->k = ap_arena_floats(&m->arena, R * D);
    m->v = ap_arena_floats(&m->arena, R * D);
    m->ctx = ap_arena_floats(&m->arena, R * D);
    m->tmp = ap_arena_floats(&m->arena, R * D);
    m->inter = ap_arena_floats(&m->arena, R * I);
    m->masks = ap_arena_alloc(&m->arena, (H > nt ? H : nt) * S * S);
    m->row0 = ap_arena_alloc(&m->arena, R * sizeof(int64_t));
    m->attn_scratch = ap_arena_floats(&m->arena, nt * attn_scratch_floats(m));
    m->ids = ap_arena_alloc(&m->arena, S * sizeof(int32_t));
    m->x_prev = ap_arena_floats(&m->arena, S * D);
    m->key_prob = ap_arena_alloc(&m->arena, H * S * sizeof(double));
    m->key_prob_packed = ap_arena_alloc(&m->arena, H * S * sizeof(double));
    m->head_out_abs = ap_arena_alloc(&m->arena, H * sizeof(double));
    m->token_active = ap_arena_alloc(&m->arena, S);
    m->head_active = ap_arena_alloc(&m->arena, H);
    AP_ASSERT(m->head_active != NULL); /* the arena was sized for exactly these */
    return AP_OK;
}

enum ap_status ap_bert_load(struct ap_model *m, const char *dir, struct ap_model_params params) {
    enum ap_status st;
    if ((st = read_config(m, dir)) != AP_OK) return st;
    if ((st = read_sentence_config(m, dir)) != AP_OK) return st;
    if (params.max_tokens < 0)
        return ap_error(AP_ERR_INVALID_ARG, "max_tokens must be >= 0 (0 = the model's own), got %d", params.max_tokens);
    if (params.max_tokens > 0) {
        if (params.max_tokens > m->info.max_positions)
            return ap_error(AP_ERR_INVALID_ARG, "max_tokens %d exceeds the model's %d position embeddings",
                            params.max_tokens, m->info.max_positions);
        m->info.max_tokens = params.max_tokens;
    }
    if ((st = load_tokenizer(m, dir)) != AP_OK) return st;
    if ((st = load_weights(m, dir)) != AP_OK) return st;
    if (params.batch_tokens < 0)
        return ap_error(AP_ERR_INVALID_ARG, "batch_tokens must be >= 0 (0 = %d), got %d", AP_DEFAULT_BATCH_TOKENS,
                        params.batch_tokens);
    m->s_cap = m->info.max_positions;
    m->r_cap = params.batch_tokens ? params.batch_tokens : AP_DEFAULT_BATCH_TOKENS;
    if (m->r_cap < m->s_cap) m->r_cap = m->s_cap; /* one sequence always fits */
    m->info.batch_tokens = m->r_cap;
    (void)ap_cpu_features(); /* detected here, once, before parallel loops read the cached bits */
    return alloc_scratch(m);
}

/* ------------------------------------------------------------------ forward */

static void activation(const struct ap_model *m, float *x, int64_t n) {
    switch (m->act) {
    case AP_ACT_GELU_ERF: ap_gelu_erf_f32(x, n); break; /* vectorized; ap_gelu_erf is its reference */
    case AP_ACT_GELU_TANH: ap_gelu_tanh(x, n); break;
    case AP_ACT_RELU: ap_relu(x, n); break;
    }
}

/* ctx (S, D) = per-head attention of q, k, v (S, D) for each of n_seq
 * sequences packed in m->q, m->k, m->v, m->ctx (sequence s is lens[s] rows
 * from row0[s]); the (sequence, head) pairs run in parallel, in one parallel
 * loop per layer however many sequences the pass holds. Inactive heads
 * (cascade head pruning) output zeros; inactive tokens are neither queries
 * nor keys. With a cascade method (one sequence only), each head's key
 * probabilities and output magnitude are gathered for its end_layer hook. */
static enum ap_status attention_layer(struct ap_model *m, int32_t layer, const int32_t *lens, const int64_t *row0,
                                      int32_t n_seq) {
    const int32_t H = m->info.n_heads, d = m->info.head_dim, D = m->info.hidden;
    const float scale = 1.0f / sqrtf((float)d);
    const struct ap_method_ops *ops = ap_method_ops_of(m->method);
    const int cascade = ops->end_layer != NULL;
    AP_ASSERT(n_seq == 1 || (!cascade && m->n_active == lens[0]));
    const uint8_t *tok = m->n_active < lens[0] ? m->token_active : NULL;
    /* the fused path (model/fused.h) when the method has one and nothing needs whole masks */
    const int fused = ap_fused_usable(m);
    if (fused) {
        enum ap_status st = ap_fused_reserve(m, m->s_cap, m->s_cap);
        if (st != AP_OK) return st;
    }
    enum ap_status status = AP_OK;
    char message[1024] = "";
    const int64_t n_pairs = (int64_t)n_seq * H;
#pragma omp parallel for schedule(dynamic, 1) num_threads(m->n_threads)
    for (int64_t pair = 0; pair < n_pairs; pair++) {
        const int32_t seq = (int32_t)(pair / H), h = (int32_t)(pair % H), S = lens[seq];
        const float *q = m->q + row0[seq] * D, *k = m->k + row0[seq] * D, *v = m->v + row0[seq] * D;
        float *ctx = m->ctx + row0[seq] * D;
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        /* one sequence: a mask buffer per head, as the observers may expect;
         * several: one per thread, since two threads may run the same head */
        uint8_t *mask_buf = m->masks + (int64_t)(n_seq == 1 ? h : tid) * m->s_cap * m->s_cap;
        double *key_prob = cascade ? m->key_prob + (int64_t)h * m->s_cap : NULL;
        if (key_prob) memset(key_prob, 0, sizeof(double) * (size_t)S);
        if (!m->head_active[h]) {
            for (int32_t i = 0; i < S; i++) memset(ctx + (int64_t)i * D + (int64_t)h * d, 0, sizeof(float) * (size_t)d);
            m->head_out_abs[h] = 0.0;
            continue;
        }
        struct ap_head_inputs in = {
            .layer = layer, .head = h, .n_layers = m->info.n_layers, .n_heads = H, .n_q = S, .n_k = S, .d = d,
            .q = q + (int64_t)h * d, .k = k + (int64_t)h * d, .v = v + (int64_t)h * d,
            .q_stride = D, .k_stride = D, .v_stride = D, .scale = scale, .causal = 0, .key_valid = tok,
            .query_valid = tok,
        };
        if (fused) {
            const struct ap_attn_head kh = {
                .q = in.q, .k = in.k, .v = in.v, .o = ctx + (int64_t)h * d,
                .q_stride = D, .k_stride = D, .v_stride = D, .o_stride = D,
                .n_q = S, .n_k = S, .d = d, .scale = scale, .causal = 0, .key_valid = tok, .query_valid = tok,
            };
            int64_t kept = 0, valid = 0;
            enum ap_status st = ap_fused_head(m, tid, &in, &kh, &kept, &valid);
            if (st != AP_OK) {
#pragma omp critical
                {
                    status = st;
                    snprintf(message, sizeof message, "sequence %d of the pass, head %d: %s", seq, h, ap_last_error());
                }
            }
            continue;
        }
        struct ap_head_output out = {.mask = mask_buf};
        enum ap_status st = ap_method_predict(m->method, &in, &out);
        if (st != AP_OK) {
#pragma omp critical
            {
                status = st;
                if (n_seq == 1) snprintf(message, sizeof message, "head %d: %s", h, ap_last_error());
                else snprintf(message, sizeof message, "sequence %d of the pass, head %d: %s", seq, h, ap_last_error());
            }
            continue;
        }
        struct ap_attn_head kh = {
            .q = in.q, .k = in.k, .v = in.v, .o = ctx + (int64_t)h * d,
            .q_stride = D, .k_stride = D, .v_stride = D, .o_stride = D,
            .n_q = S, .n_k = S, .d = d, .scale = scale, .causal = 0, .key_valid = tok, .query_valid = tok,
        };
        ap_attention_f32(&kh, out.mask, m->attn_scratch + (int64_t)tid * (int64_t)attn_scratch_floats(m), key_prob);
        if (cascade) {
            double a = 0.0;
            for (int32_t i = 0; i < S; i++) {
                if (tok && !tok[i]) continue;
                const float *o = kh.o + (int64_t)i * D;
                for (int32_t c = 0; c < d; c++) a += fabs((double)o[c]);
            }
            m->head_out_abs[h] = a;
        }
        if (m->observer.on_head) m->observer.on_head(m->observer.user, &in, &out, kh.o, D);
    }
    if (status != AP_OK) return ap_error(status, "%s", message);
    if (!cascade) return AP_OK;
    const int32_t S = lens[0];

    struct ap_layer_view view = {
        .layer = layer, .n_layers = m->info.n_layers, .n_tokens = S, .n_heads = H, .key_prob = m->key_prob_packed,
        .head_out_abs = m->head_out_abs, .token_active = m->token_active, .head_active = m->head_active,
    };
    for (int32_t h = 0; h < H; h++) /* (H, T) contiguous for the hook */
        memcpy(m->key_prob_packed + (int64_t)h * S, m->key_prob + (int64_t)h * m->s_cap, sizeof(double) * (size_t)S);
    enum ap_status st = ops->end_layer(ap_method_state(m->method), &view);
    if (st != AP_OK) return ap_error_prefix(st, "method '%s' after layer %d", ops->name, layer);
    m->n_active = 0;
    for (int32_t i = 0; i < S; i++) m->n_active += m->token_active[i] != 0;
    if (m->observer.on_layer) m->observer.on_layer(m->observer.user, &view);
    return AP_OK;
}

/* The row-wise pieces between the products, over R rows split among the
 * model's threads. Each row is computed exactly as the reference functions of
 * layer_ops.c would (same operations, same order), so the result does not
 * depend on the thread count or on how sequences were packed. */

/* y (R, 3 of N) += b: the biases of the q, k, v projections. */
static void add_bias3(const struct ap_model *m, int64_t R, int32_t N, float *y0, const float *b0, float *y1,
                      const float *b1, float *y2, const float *b2) {
#pragma omp parallel for schedule(static) num_threads(m->n_threads)
    for (int64_t i = 0; i < R; i++) {
        float *r0 = y0 + i * N, *r1 = y1 + i * N, *r2 = y2 + i * N;
        for (int32_t j = 0; j < N; j++) {
            r0[j] += b0[j];
            r1[j] += b1[j];
            r2[j] += b2[j];
        }
    }
}

/* x (R, D) = LayerNorm(x + (t + b)): a residual after an output projection. */
static void residual_norm(const struct ap_model *m, int64_t R, float *x, const float *t, const float *b,
                          const float *g, const float *beta) {
    const int32_t D = m->info.hidden;
    const float eps = m->info.layer_norm_eps;
#pragma omp parallel for schedule(static) num_threads(m->n_threads)
    for (int64_t i = 0; i < R; i++) {
        float *row = x + i * D;
        const float *tr = t + i * D;
        for (int32_t j = 0; j < D; j++) row[j] += tr[j] + b[j];
        ap_layer_norm(row, 1, D, g, beta, eps);
    }
}

/* y (R, I) = act(y + b): the MLP's first layer after its product. */
static void bias_activation(const struct ap_model *m, int64_t R, float *y, const float *b) {
    const int32_t I = m->info.intermediate;
#pragma omp parallel for schedule(static) num_threads(m->n_threads)
    for (int64_t i = 0; i < R; i++) {
        float *row = y + i * I;
        for (int32_t j = 0; j < I; j++) row[j] += b[j];
        activation(m, row, I);
    }
}

/* x (R, D) = LayerNorm(word[id] + position[i] + token_type[0]), the position
 * i counted from each sequence's start. */
static void embed_tokens(const struct ap_model *m, const int32_t *ids, const int32_t *lens, int32_t n_seq) {
    const struct ap_bert_weights *w = &m->w;
    const int32_t D = m->info.hidden;
    for (int32_t s = 0, r = 0; s < n_seq; s++)
        for (int32_t i = 0; i < lens[s]; i++, r++) {
            const float *we = w->word + (int64_t)ids[r] * D, *pe = w->position + (int64_t)i * D;
            float *row = m->x + (int64_t)r * D;
            for (int32_t j = 0; j < D; j++) row[j] = we[j] + pe[j] + w->token_type[j];
        }
    int64_t R = 0;
    for (int32_t s = 0; s < n_seq; s++) R += lens[s];
#pragma omp parallel for schedule(static) num_threads(m->n_threads)
    for (int64_t i = 0; i < R; i++) ap_layer_norm(m->x + i * D, 1, D, w->ln_g, w->ln_b, m->info.layer_norm_eps);
}

/* The encoder over n_seq sequences packed back to back in ids (lens[s] each,
 * R = their sum <= R_cap rows), already validated. Projections and MLP are one
 * product each over all R rows; attention runs per sequence. Cascade pruning
 * (token_active, x_prev) and hidden_states ((L+1, S, D)) need n_seq == 1.
 * embeddings: NULL or (n_seq, D). */
static enum ap_status encoder_pass(struct ap_model *m, const int32_t *ids, const int32_t *lens, int32_t n_seq,
                                   float *hidden_states, float *embeddings) {
    const struct ap_model_info *in = &m->info;
    const int32_t D = in->hidden, I = in->intermediate;
    int64_t R = 0;
    for (int32_t s = 0; s < n_seq; s++) R += lens[s];
    AP_ASSERT(R <= m->r_cap && (n_seq == 1 || !hidden_states));
    const struct ap_method_ops *ops = ap_method_ops_of(m->method);
    memset(m->token_active, 1, (size_t)lens[0]);
    memset(m->head_active, 1, (size_t)in->n_heads);
    m->n_active = lens[0];
    if (ops->begin_sequence) {
        AP_ASSERT(n_seq == 1);
        enum ap_status st = ops->begin_sequence(ap_method_state(m->method), lens[0], in->n_layers, in->n_heads);
        if (st != AP_OK) return ap_error_prefix(st, "method '%s'", ops->name);
    }
    for (int32_t s = 0; s < n_seq; s++) m->row0[s] = s ? m->row0[s - 1] + lens[s - 1] : 0;
    float *x = m->x;
    embed_tokens(m, ids, lens, n_seq);
    if (hidden_states) memcpy(hidden_states, x, sizeof(float) * (size_t)R * D);

    for (int32_t l = 0; l < in->n_layers; l++) {
        const struct ap_bert_layer *y = &m->w.layers[l];
        /* Tokens pruned by a cascade method (one sequence only) are removed
         * from this layer on: they are neither queries nor keys, and their
         * hidden state stays as it was when they were pruned (restored from
         * x_prev below). */
        const int pruned = n_seq == 1 && m->n_active < lens[0];
        if (pruned) memcpy(m->x_prev, x, sizeof(float) * (size_t)R * D);
        ap_linear(x, (int32_t)R, D, y->wq, NULL, D, m->q);
        ap_linear(x, (int32_t)R, D, y->wk, NULL, D, m->k);
        ap_linear(x, (int32_t)R, D, y->wv, NULL, D, m->v);
        add_bias3(m, R, D, m->q, y->bq, m->k, y->bk, m->v, y->bv);
        enum ap_status st = attention_layer(m, l, lens, m->row0, n_seq);
        if (st != AP_OK) return ap_error_prefix(st, "layer %d", l);
        ap_linear(m->ctx, (int32_t)R, D, y->wo, NULL, D, m->tmp);
        residual_norm(m, R, x, m->tmp, y->bo, y->ln1_g, y->ln1_b);
        ap_linear(x, (int32_t)R, D, y->wi, NULL, I, m->inter);
        bias_activation(m, R, m->inter, y->bi);
        ap_linear(m->inter, (int32_t)R, I, y->wf, NULL, D, m->tmp);
        residual_norm(m, R, x, m->tmp, y->bf, y->ln2_g, y->ln2_b);
        if (pruned)
            for (int32_t i = 0; i < lens[0]; i++)
                if (!m->token_active[i]) memcpy(x + (int64_t)i * D, m->x_prev + (int64_t)i * D, sizeof(float) * (size_t)D);
        if (hidden_states) memcpy(hidden_states + (int64_t)(l + 1) * R * D, x, sizeof(float) * (size_t)R * D);
    }

    if (!embeddings) return AP_OK;
    for (int32_t s = 0, row0 = 0; s < n_seq; row0 += lens[s], s++) {
        const float *xs = x + (int64_t)row0 * D;
        float *e = embeddings + (int64_t)s * D;
        /* Tokens a cascade method pruned have left the sequence: like padding
         * in sentence-transformers, they are not pooled. */
        const uint8_t *rows = n_seq == 1 && m->n_active < lens[0] ? m->token_active : NULL;
        switch (in->pooling) {
        case AP_POOLING_MEAN: ap_pool_mean(xs, lens[s], D, rows, e); break;
        case AP_POOLING_CLS: memcpy(e, xs, sizeof(float) * (size_t)D); break;
        case AP_POOLING_MAX: ap_pool_max(xs, lens[s], D, rows, e); break;
        }
        if (in->normalize) ap_l2_normalize(e, D);
    }
    return AP_OK;
}

/* Every id of one sequence within the vocabulary. */
static enum ap_status check_ids(const struct ap_model *m, const int32_t *ids, int32_t S) {
    for (int32_t i = 0; i < S; i++)
        if (ids[i] < 0 || ids[i] >= m->info.vocab_size)
            return ap_error(AP_ERR_RANGE, "token id %d at position %d is outside the vocabulary (0..%d)", ids[i], i,
                            m->info.vocab_size - 1);
    return AP_OK;
}

enum ap_status ap_bert_forward(struct ap_model *m, const int32_t *ids, int32_t S, float *hidden_states,
                               float *embedding) {
    if (S < 1 || S > m->s_cap)
        return ap_error(AP_ERR_RANGE, "sequence of %d tokens; this model takes 1..%d", S, m->s_cap);
    enum ap_status st = check_ids(m, ids, S);
    if (st != AP_OK) return st;
    return encoder_pass(m, ids, &S, 1, hidden_states, embedding);
}

int ap_bert_can_pack(const struct ap_model *m) {
    const struct ap_method_ops *ops = ap_method_ops_of(m->method);
    return !ops->begin_sequence && !ops->end_layer && !m->observer.on_head && !m->observer.on_layer;
}

enum ap_status ap_bert_embed_packed(struct ap_model *m, const int32_t *ids, const int32_t *lens, int32_t n_seq,
                                    float *embeddings) {
    AP_ASSERT(n_seq >= 1 && ap_bert_can_pack(m));
    int64_t R = 0;
    for (int32_t s = 0; s < n_seq; s++) {
        AP_ASSERT(lens[s] >= 1 && lens[s] <= m->s_cap);
        R += lens[s];
    }
    AP_ASSERT(R <= m->r_cap);
    return encoder_pass(m, ids, lens, n_seq, NULL, embeddings);
}

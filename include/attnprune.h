/*
 * attnprune.h — runtime-pruned (dynamically sparse) self-attention on CPUs.
 *
 * Usage: embed one line of text with a BERT-family sentence encoder.
 *
 *     struct ap_model_params mp = ap_model_default_params();
 *     mp.n_threads = 2;
 *     struct ap_model *model = NULL;
 *     if (ap_model_load("models/all-MiniLM-L6-v2", mp, &model) != AP_OK) {
 *         fprintf(stderr, "attnprune: %s\n", ap_last_error());
 *         return 1;
 *     }
 *     struct ap_model_info info;
 *     ap_model_get_info(model, &info);
 *     float *emb = malloc(sizeof(float) * (size_t)info.hidden);  // (D)
 *     if (ap_model_embed(model, "Hello, world.", 13, emb) != AP_OK)
 *         fprintf(stderr, "attnprune: %s\n", ap_last_error());
 *     free(emb);
 *     ap_model_free(model);
 *
 * Conventions
 *   - Every fallible function returns enum ap_status. On failure the calling
 *     thread's ap_last_error() holds a message that names the file, tensor or
 *     parameter at fault and what was expected. The library never prints and
 *     never exits; ap_log_set_callback() lets the caller see progress notes.
 *   - Contexts are opaque; parameter structs are passed by value and come
 *     from ap_*_default_params().
 *   - Dimension letters in shape comments: S = sequence (tokens), D = hidden
 *     size, d = head dimension, H = heads, L = layers, V = vocabulary.
 *     Tensors are row-major float32 unless stated.
 */
#ifndef ATTNPRUNE_H
#define ATTNPRUNE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AP_VERSION_MAJOR 0
#define AP_VERSION_MINOR 1
#define AP_VERSION_PATCH 0
#define AP_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------- status */

enum ap_status {
    AP_OK = 0,
    AP_ERR_INVALID_ARG = 1,  /* a bad argument, flag or parameter value       */
    AP_ERR_IO = 2,           /* a file could not be opened, read or written    */
    AP_ERR_FORMAT = 3,       /* a file's content is malformed                  */
    AP_ERR_SHAPE = 4,        /* a tensor has the wrong shape or dtype          */
    AP_ERR_UNSUPPORTED = 5,  /* valid, but not something attnprune handles     */
    AP_ERR_NOMEM = 6,        /* an allocation failed                           */
    AP_ERR_ENCODING = 7,     /* text is not valid UTF-8                        */
    AP_ERR_EMPTY = 8,        /* an input that must hold something is empty     */
    AP_ERR_RANGE = 9,        /* an index or size outside its allowed range     */
};

/* A short constant name for a status, e.g. "format error". */
const char *ap_status_string(enum ap_status status);

/* The message of the most recent failure in the calling thread ("" if none). */
const char *ap_last_error(void);

/* --------------------------------------------------------------- logging */

enum ap_log_level { AP_LOG_ERROR = 0, AP_LOG_WARN = 1, AP_LOG_INFO = 2, AP_LOG_DEBUG = 3 };
typedef void (*ap_log_fn)(enum ap_log_level level, const char *message, void *user);

/* Route the library's log notes to fn (NULL silences them, the default). */
void ap_log_set_callback(ap_log_fn fn, void *user, enum ap_log_level max_level);

/* ----------------------------------------------------------- CPU features */

enum ap_cpu_feature {
    AP_CPU_SSE42 = 1u << 0,
    AP_CPU_AVX2 = 1u << 1,
    AP_CPU_FMA = 1u << 2,
    AP_CPU_AVX512F = 1u << 3,
    AP_CPU_AVX512BW = 1u << 4,
    AP_CPU_AVX512VNNI = 1u << 5,
    AP_CPU_AVXVNNI = 1u << 6,
};

/* The features kernels may use: those the CPU has, less any the environment
 * variable AP_CPU turns off ("scalar" = none, "avx2" = no AVX-512). */
uint32_t ap_cpu_features(void);

/* A space-separated list of the names in a feature mask, e.g. "avx2 fma". */
const char *ap_cpu_feature_string(uint32_t features);

/* ------------------------------------------------------------- tokenizer */

struct ap_tokenizer;

/* Encode UTF-8 text into token ids, with the model's special tokens around
 * them ([CLS] ... [SEP] for BERT; for byte-level BPE the BOS/EOS its GGUF
 * asks for, none for SmolLM2) and truncated to max_tokens, those included
 * (0 = the tokenizer's own limit). Special tokens written literally in the
 * text ("[SEP]", "<|im_end|>") become their ids. ids has room for cap
 * entries; *n_ids receives the count, or the count needed when cap is too
 * small (AP_ERR_RANGE). Invalid UTF-8 gives AP_ERR_ENCODING with the byte
 * offset. */
enum ap_status ap_tokenizer_encode(const struct ap_tokenizer *tok, const char *text, size_t len,
                                   int32_t max_tokens, int32_t *ids, int32_t cap, int32_t *n_ids);

/* Token ids back to text (byte-level BPE only; WordPiece gives
 * AP_ERR_UNSUPPORTED). Writes the bytes to buf, a NUL after them if cap
 * leaves room, and their count to *len; cap too small gives AP_ERR_RANGE
 * with the count needed in *len. decode(encode(text)) gives the text back
 * (unless BOS/EOS are added or it was truncated), less any byte the
 * vocabulary has no token for: those are dropped when encoding, as Hugging
 * Face does (SmolLM2 lacks 21, e.g. U+0004 and the lead bytes of planes 4 to
 * 11). A prefix of ids may end inside a UTF-8 character: while generating,
 * hold back an incomplete tail until the next token completes it. */
enum ap_status ap_tokenizer_decode(const struct ap_tokenizer *tok, const int32_t *ids, int32_t n, char *buf,
                                   size_t cap, size_t *len);

/* The vocabulary entry of id, or NULL if out of range. For byte-level BPE
 * that is the GPT-2 spelling ("\xc4\xa0the", shown as "Ġthe"), as
 * Hugging Face's convert_ids_to_tokens gives; ap_tokenizer_decode gives
 * the bytes. */
const char *ap_tokenizer_token(const struct ap_tokenizer *tok, int32_t id);
int32_t ap_tokenizer_vocab_size(const struct ap_tokenizer *tok);
/* The end-of-sequence token of a decoder's tokenizer (generation stops
 * there), or -1 when it has none (WordPiece). */
int32_t ap_tokenizer_eos(const struct ap_tokenizer *tok);

/* ------------------------------------------------------------------ model */

struct ap_model;

enum ap_model_arch { AP_ARCH_BERT = 1, AP_ARCH_LLAMA = 2 };
enum ap_pooling { AP_POOLING_MEAN = 0, AP_POOLING_CLS = 1, AP_POOLING_MAX = 2 };

struct ap_model_params {
    int32_t n_threads;   /* threads for GEMMs and attention; 0 = all cores        */
    int32_t max_tokens;  /* longest sequence; 0 = the model's configured maximum */
    const char *method;  /* attention method spec ("dense"); NULL = "dense"      */
    const char *calib_text; /* calibration text for methods whose thresholds are
                               calibrated (leopard, sprint); NULL = the model
                               directory's calibration.txt */
    int32_t batch_tokens; /* BERT: most tokens of one packed encoder pass of
                             ap_model_embed_ids (sequences back to back, no
                             padding); 0 = AP_DEFAULT_BATCH_TOKENS; raised to
                             max_positions if below. Ignored by decoders. */
};

struct ap_model_params ap_model_default_params(void);

struct ap_model_info {
    enum ap_model_arch arch;
    int32_t n_layers;        /* L */
    int32_t n_heads;         /* H */
    int32_t n_kv_heads;      /* key/value heads (decoders with grouped-query attention); H for BERT */
    int32_t hidden;          /* D */
    int32_t head_dim;        /* d = D / H */
    int32_t intermediate;    /* MLP width */
    int32_t vocab_size;      /* V */
    int32_t max_positions;   /* learned position embeddings (BERT); trained context (decoders) */
    int32_t max_tokens;      /* truncation length used by embed (<= max_positions);
                                decoders: the KV cache's capacity in tokens */
    float rope_base;         /* decoders: RoPE theta; 0 for BERT */
    enum ap_pooling pooling;
    int32_t normalize;       /* 1 if embeddings are L2-normalized */
    float layer_norm_eps;    /* LayerNorm (BERT) or RMSNorm (decoders) epsilon */
    int64_t n_params;        /* parameters in the weight file */
    char name[128];          /* model directory's base name */
    char method[256];        /* attention method in use, as specified */
    char method_note[512];   /* how the method was set up, e.g. its calibration */
    int32_t batch_tokens;    /* BERT: most tokens of one packed pass (ap_model_embed_ids); 0 for decoders */
};

/* Load a model: either a BERT directory (config.json, model.safetensors,
 * vocab.txt and, when present, the sentence-transformers files modules.json,
 * sentence_bert_config.json, 1_Pooling/config.json), or a decoder as a GGUF
 * file (llama architecture; path to the .gguf, or a directory holding
 * model.gguf and no config.json). docs/model.md lists what is read. BERT
 * weights are memory-mapped; GGUF weights are dequantized to float32 once.
 * All scratch memory is sized here: for BERT the position limit, for a
 * decoder max_tokens (default: the trained context, at most
 * AP_DECODER_DEFAULT_TOKENS) for the KV cache. A model runs one forward pass
 * at a time: use one context per calling thread (each uses n_threads). */
#define AP_DECODER_DEFAULT_TOKENS 4096
#define AP_DEFAULT_BATCH_TOKENS 2048
enum ap_status ap_model_load(const char *dir, struct ap_model_params params, struct ap_model **out);
void ap_model_free(struct ap_model *model);

void ap_model_get_info(const struct ap_model *model, struct ap_model_info *info);
const struct ap_tokenizer *ap_model_tokenizer(const struct ap_model *model);

/* Run the encoder on n token ids (1 <= n <= info.max_tokens).
 *   hidden_states: NULL, or (L+1, n, D) — the embedding output, then every
 *                  layer's output, as Hugging Face's output_hidden_states.
 *   embedding:     NULL, or (D) — pooled (and normalized) sentence embedding. */
enum ap_status ap_model_forward(struct ap_model *model, const int32_t *ids, int32_t n,
                                float *hidden_states, float *embedding);

/* Tokenize text (truncating at info.max_tokens) and write its sentence
 * embedding to out (D), as sentence-transformers' encode would. BERT only. */
enum ap_status ap_model_embed(struct ap_model *model, const char *text, size_t len, float *out);

/* Sentence embeddings out (n, D) of n token sequences stored back to back in
 * ids: sequence s is lens[s] ids (1 <= lens[s] <= info.max_positions), e.g.
 * from ap_tokenizer_encode with info.max_tokens. Consecutive sequences are
 * packed into encoder passes of at most info.batch_tokens tokens: the
 * projections and the MLP run as one matrix product over the whole pass,
 * attention per sequence, no padding. Row s equals ap_model_forward's
 * embedding of sequence s alone, up to float rounding (the products' sums
 * may be ordered differently). A method with state across a sequence's
 * layers (spatten) runs the sequences one at a time. BERT only. */
enum ap_status ap_model_embed_ids(struct ap_model *model, const int32_t *ids, const int32_t *lens, int64_t n,
                                  float *out);

/* Decoders (info.arch == AP_ARCH_LLAMA). The model keeps a KV cache: each
 * call appends n tokens after the ap_model_n_past() already in it and runs
 * them causally (n > 1: prefill; n = 1: one decode step).
 *   hidden:      NULL, or (n, D): the final normalized hidden states, for
 *                ap_model_logits;
 *   logits_last: NULL, or (V): the logits of the last of the n tokens.
 * AP_ERR_RANGE when the cache would overflow (max_tokens at load). */
enum ap_status ap_model_decode(struct ap_model *model, const int32_t *ids, int32_t n, float *hidden,
                               float *logits_last);
/* logits (n, V) from hidden states (n, D) of ap_model_decode. */
enum ap_status ap_model_logits(const struct ap_model *model, const float *hidden, int32_t n, float *logits);
/* Empty the KV cache (and a cascade method's pruning state). */
void ap_model_reset(struct ap_model *model);
int32_t ap_model_n_past(const struct ap_model *model);

/* Replace the model's attention method (spec as ap_model_params.method),
 * calibrating it if it needs calibration; the weights are kept. On failure
 * the old method stays. */
enum ap_status ap_model_set_method(struct ap_model *model, const char *spec);

/* ---------------------------------------------------------------- methods */

/* The attention methods the library has; a model selects one with
 * ap_model_params.method = "NAME" or "NAME:key=value,key=value". */
struct ap_method_desc {
    const char *name;
    const char *summary;
    const char *paper;
    int32_t n_params;
};
struct ap_method_param_desc {
    const char *key;
    const char *def;         /* default value, as written in a spec (encoders) */
    const char *help;
    const char *def_decoder; /* the default on a causal decoder (often def) */
};
int32_t ap_method_list_count(void);
/* AP_ERR_RANGE if index is outside 0..ap_method_list_count()-1. */
enum ap_status ap_method_list_get(int32_t index, struct ap_method_desc *out);
enum ap_status ap_method_list_param(int32_t index, int32_t param, struct ap_method_param_desc *out);

/* ------------------------------------------------------------- evaluation */

/* Fidelity of a method against dense attention on real text: the text's
 * lines as one token stream cut into chunks, each chunk run through the
 * dense model once (ap_eval_open) and through the model with each method
 * setting (ap_eval_method). docs/eval.md defines every metric. */
struct ap_eval;

struct ap_eval_params {
    int32_t chunk_tokens;  /* tokens per chunk with [CLS]/[SEP]; 0 = the model's max tokens */
    int64_t max_tokens;    /* use at most this many tokens of text (whole chunks); 0 = all */
    int32_t n_threads;     /* 0 = all cores */
    const char *calib_text;/* as ap_model_params.calib_text */
    /* optional progress: called after each chunk with chunks done and total */
    void (*progress)(void *user, int64_t done, int64_t total);
    void *progress_user;
};

struct ap_eval_params ap_eval_default_params(void);

struct ap_eval_result {
    double density;       /* kept pairs / valid pairs, over every layer, head and chunk */
    double mass_recall;   /* mean over computed query rows of the dense probability kept */
    double out_rel_err;   /* mean over heads of ||O - O_dense||_F / ||O_dense||_F, same inputs */
    double emb_cos_mean;  /* sentence embedding cosine to the dense model, mean over chunks */
    double emb_cos_min;   /* and the minimum */
    int64_t chunks, tokens;
    double seconds;       /* wall time of this setting */
    char note[512];       /* the method's set-up note (e.g. its calibration), or "" */
};

enum ap_status ap_eval_open(const char *model_dir, const char *text_path, struct ap_eval_params params,
                            struct ap_eval **out);
enum ap_status ap_eval_method(struct ap_eval *ev, const char *method_spec, struct ap_eval_result *out);
int64_t ap_eval_chunk_count(const struct ap_eval *ev);
void ap_eval_free(struct ap_eval *ev);

/* ------------------------------------------------------------- perplexity */

/* Perplexity of a decoder on real text, dense and with a method, and how far
 * the method's next-token distributions are from dense (docs/eval.md). The
 * whole text is one token stream; windows of ctx tokens start every stride
 * tokens (Hugging Face's sliding-window perplexity), each a prefill from an
 * empty KV cache. */
struct ap_ppl_params {
    int32_t ctx;          /* tokens per window (default 1024) */
    int32_t stride;       /* 1..ctx; 0 = ctx (windows do not overlap) */
    int64_t max_windows;  /* run at most this many windows; 0 = all */
    int32_t n_threads;    /* 0 = all cores */
    const char *calib_text; /* as ap_model_params.calib_text */
    int32_t prefill;      /* 0: the method's pass over a window is one prefill. P > 0: only
                             its first P tokens are; the rest are fed one decode step at a
                             time (the generation stage, teacher-forced) */
};
struct ap_ppl_params ap_ppl_default_params(void);

/* One finished window, for progress and per-window output. */
struct ap_ppl_window {
    int64_t index, n_windows;  /* this window's index, of n_windows */
    int64_t begin, end;        /* tokens [begin, end) of the text */
    int64_t scored;            /* targets scored in this window */
    double nll, nll_dense;     /* summed negative log-likelihood (nats), method and dense */
    double kl_sum;             /* summed KL(dense || method) over the scored targets' rows */
    int64_t top1_agree;        /* rows whose argmax agrees with dense */
    double density;            /* kept pairs / the dense causal pairs of the window (L H W(W+1)/2) */
    double seconds, seconds_dense; /* wall time of the method's and the dense prefill */
};

struct ap_ppl_result {
    double ppl, ppl_dense;     /* exp(mean NLL) over every scored target */
    double kl_mean;            /* mean KL(dense || method) per scored target, nats */
    double top1;               /* fraction of scored rows whose argmax agrees with dense */
    double density;            /* kept pairs / the dense causal pairs, over every window */
    int64_t tokens, windows, scored;
    double seconds, seconds_dense; /* summed prefill wall time */
    char note[512];            /* the method's set-up note, or "" */
    /* the method's own per-head statistics (attnprune methods names them),
     * summed over every head of every layer: over prefills and over decode
     * steps (one query) separately */
    int32_t n_stats;
    char stat_names[12][32];
    double stats_prefill[12], stats_decode[12];
    int64_t decode_rows;       /* query rows computed in decode steps, over every head and layer */
};

/* Run it. method_spec NULL or "dense": dense only (ppl == ppl_dense, KL 0,
 * top-1 1). on_window (may be NULL) is called after each window. */
enum ap_status ap_ppl_run(const char *model, const char *text_path, const char *method_spec,
                          struct ap_ppl_params params, void (*on_window)(void *user, const struct ap_ppl_window *w),
                          void *user, struct ap_ppl_result *out);
/* Windows a text of n_tokens gets. */
int64_t ap_ppl_window_count(int64_t n_tokens, int32_t ctx, int32_t stride, int64_t max_windows);

/* ------------------------------------------------------------------ trace */

/* Run a method over chunks of real text and write its per-layer, per-head
 * trace (SPEC §8; the format is docs/trace-format.md) into out_dir, which is
 * assembled under a temporary name and renamed when complete. An existing
 * out_dir is replaced only if it holds a trace. Chunking as ap_eval_open. */
enum ap_status ap_trace_write(const char *model_dir, const char *text_path, const char *method_spec,
                              struct ap_eval_params params, const char *out_dir);

/* Write a synthetic trace: a paper's published statistics (density, bits
 * per pruned score, padding, locality, cascade pruning rates, ...) as a
 * trace in out_dir, spec 'key=value,...' (keys in docs/trace-format.md,
 * "Synthetic traces"); out_dir is written as ap_trace_write writes. */
enum ap_status ap_trace_synthesize_dir(const char *spec, const char *out_dir);

/* A trace read back for the simulators (bounds-checked; errors name the
 * file and line). */
struct ap_trace;
enum ap_status ap_trace_open(const char *dir, struct ap_trace **out);
void ap_trace_close(struct ap_trace *trace);

/* ------------------------------------------------------------- simulators */

/* The headline of one simulation (the whole report is the JSON text). */
struct ap_sim_summary {
    char arch[64], kind[32], baseline[64]; /* baseline: "" when none configured */
    double cycles, seconds, energy_pj;
    double utilization;                    /* of the main compute array(s) */
    double dram_bytes;                     /* main-memory traffic */
    double gops, gops_per_j;               /* dense-equivalent operations */
    double gops_per_mm2;                   /* 0 when the area is unknown */
    double speedup_vs_baseline, energy_ratio_vs_baseline, traffic_vs_baseline; /* 0 without a baseline */
};

/* Simulate the accelerator configured in arch_path (configs/NAME.ini;
 * docs/simulators.md) on a trace, and its baseline when the configuration
 * names one. json and csv_row, when not NULL, receive the full report as
 * JSON and as one CSV row (columns: ap_sim_csv_columns()), to free(). */
enum ap_status ap_sim_simulate(const char *arch_path, const struct ap_trace *trace, struct ap_sim_summary *out,
                               char **json, char **csv_row);
const char *ap_sim_csv_columns(void);

/* The accelerator configurations in dir: every .ini whose [arch] names a
 * baseline (baselines themselves run through them), sorted by file name.
 * *paths holds *n malloc'ed paths; free with ap_sim_paths_free. A
 * configuration that does not load is an error naming it. */
enum ap_status ap_sim_accelerators(const char *dir, char ***paths, int32_t *n);
void ap_sim_paths_free(char **paths, int32_t n);

/* ------------------------------------------------------------------- .npy */

/* Write a C-order float32 .npy of the given shape (ndim <= 8) atomically:
 * into path.tmp.PID, then renamed over path. */
enum ap_status ap_npy_write_f32(const char *path, const float *data, const int64_t *shape, int32_t ndim);

#ifdef __cplusplus
}
#endif

#endif /* ATTNPRUNE_H */

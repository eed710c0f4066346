/* cmd_embed.c — attnprune embed: one sentence embedding per input line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: attnprune embed -m MODEL_DIR [-i TEXT_FILE] -o OUT.npy [options]\n"
            "\n"
            "Embed each line of TEXT_FILE (standard input if -i is absent or '-') with the\n"
            "model's sentence-transformers recipe: WordPiece tokens truncated at the model's\n"
            "max tokens, the encoder, pooling and normalization. Writes float32 .npy of\n"
            "shape (lines, hidden), row i for line i (empty lines included), the same as\n"
            "sentence-transformers' encode. The file is written only when every line is\n"
            "done (via a temporary file and a rename): a failure leaves no output.\n"
            "\n"
            "  -m, --model DIR       model directory (required)\n"
            "  -i, --input FILE      UTF-8 text, one input per line (default: stdin)\n"
            "  -o, --output FILE     output .npy (required)\n"
            "  -t, --threads N       threads (default: all cores)\n"
            "  -a, --method SPEC     attention method (default: dense; see 'attnprune methods')\n"
            "      --max-tokens N    truncate inputs at N tokens (default: the model's)\n"
            "      --batch-tokens N  tokens per encoder pass (default: %d): consecutive lines\n"
            "                        are packed back to back, without padding, so that the\n"
            "                        projections and the MLP are one matrix product per pass;\n"
            "                        raised to the model's position limit if below it; the\n"
            "                        results do not depend on it beyond float rounding\n"
            "      --progress        always report progress on stderr\n"
            "      --no-progress     never report progress (default: on a terminal only)\n"
            "  -q, --quiet           no summary line\n"
            "  -v, --verbose         print the library's notes on stderr\n"
            "  -h, --help            this text\n",
            AP_DEFAULT_BATCH_TOKENS);
}

/* Is the directory that will hold path writable? Checked before any work so
 * that a long run does not fail at its very end. */
static int output_dir_ok(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    if (access(dir, W_OK) != 0) {
        ap_cli_fail("embed", "cannot write %s: directory '%s': %s", path, dir, strerror(errno));
        return 0;
    }
    return 1;
}

int ap_cmd_embed(int argc, char **argv) {
    enum { OPT_MAX_TOKENS = 256, OPT_BATCH_TOKENS, OPT_PROGRESS, OPT_NO_PROGRESS };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"input", required_argument, 0, 'i'},
        {"output", required_argument, 0, 'o'},  {"threads", required_argument, 0, 't'},
        {"method", required_argument, 0, 'a'},  {"max-tokens", required_argument, 0, OPT_MAX_TOKENS},
        {"batch-tokens", required_argument, 0, OPT_BATCH_TOKENS},
        {"progress", no_argument, 0, OPT_PROGRESS}, {"no-progress", no_argument, 0, OPT_NO_PROGRESS},
        {"quiet", no_argument, 0, 'q'},         {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *model_dir = NULL, *input = NULL, *output = NULL;
    struct ap_model_params mp = ap_model_default_params();
    int verbose = 0, quiet = 0, progress_mode = -1, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:i:o:t:a:qvh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 'i': input = optarg; break;
        case 'o': output = optarg; break;
        case 't':
            if (ap_cli_parse_int("embed", "--threads", optarg, 1, 1024, &mp.n_threads)) return AP_EXIT_USAGE;
            break;
        case 'a': mp.method = optarg; break;
        case OPT_MAX_TOKENS:
            if (ap_cli_parse_int("embed", "--max-tokens", optarg, 2, 1 << 20, &mp.max_tokens)) return AP_EXIT_USAGE;
            break;
        case OPT_BATCH_TOKENS:
            if (ap_cli_parse_int("embed", "--batch-tokens", optarg, 1, 1 << 20, &mp.batch_tokens)) return AP_EXIT_USAGE;
            break;
        case OPT_PROGRESS: progress_mode = 1; break;
        case OPT_NO_PROGRESS: progress_mode = 0; break;
        case 'q': quiet = 1; break;
        case 'v': verbose++; break;
        case 'h': help(stdout); return AP_EXIT_OK;
        default: return ap_cli_usage_error("embed", "bad option");
        }
    }
    if (optind < argc) return ap_cli_usage_error("embed", "unexpected argument '%s'", argv[optind]);
    if (!model_dir) return ap_cli_usage_error("embed", "-m MODEL_DIR is required");
    if (!output) return ap_cli_usage_error("embed", "-o OUT.npy is required");
    ap_cli_enable_log(verbose);
    if (!output_dir_ok(output)) return AP_EXIT_FAILURE;

    const char *input_name = input && strcmp(input, "-") != 0 ? input : "standard input";
    char *text = NULL;
    size_t text_len = 0;
    int rc = ap_cli_read_all("embed", input, &text, &text_len);
    if (rc != AP_EXIT_OK) return rc;
    if (text_len == 0) {
        free(text);
        return ap_cli_fail("embed", "%s: empty input (expected one text per line)", input_name);
    }

    /* Lines: split at '\n', a trailing '\r' dropped; a final line without a
     * newline counts, an empty segment after the last newline does not. */
    size_t n_lines = 0;
    for (size_t i = 0; i < text_len; i++) n_lines += text[i] == '\n';
    if (text[text_len - 1] != '\n') n_lines++;
    size_t *starts = malloc(sizeof(size_t) * n_lines), *lens = malloc(sizeof(size_t) * n_lines);
    int32_t *counts = malloc(sizeof(int32_t) * n_lines); /* tokens per line */
    if (!starts || !lens || !counts) {
        free(starts), free(lens), free(counts), free(text);
        return ap_cli_fail("embed", "out of memory for %zu lines", n_lines);
    }
    for (size_t i = 0, line = 0, begin = 0; i <= text_len && line < n_lines; i++) {
        if (i == text_len || text[i] == '\n') {
            size_t len = i - begin;
            if (len && text[begin + len - 1] == '\r') len--;
            starts[line] = begin;
            lens[line] = len;
            line++;
            begin = i + 1;
        }
    }

    struct ap_model *model = NULL;
    float *emb = NULL;
    int32_t *ids = NULL;
    enum ap_status st = ap_model_load(model_dir, mp, &model);
    if (st != AP_OK) {
        rc = ap_cli_fail_status("embed", st);
        goto out;
    }
    struct ap_model_info in;
    ap_model_get_info(model, &in);

    /* First pass: tokenize everything, so bad input is reported before any
     * long computation, and the progress bar can count tokens. The ids are
     * kept back to back, (total tokens), for ap_model_embed_ids. */
    const struct ap_tokenizer *tok = ap_model_tokenizer(model);
    size_t ids_cap = (size_t)in.max_tokens * 64;
    ids = malloc(sizeof(int32_t) * ids_cap);
    emb = malloc(sizeof(float) * (size_t)in.hidden * n_lines);
    if (!ids || !emb) {
        rc = ap_cli_fail("embed", "out of memory for %zu embeddings", n_lines);
        goto out;
    }
    int64_t total_tokens = 0;
    for (size_t l = 0; l < n_lines; l++) {
        if ((size_t)total_tokens + (size_t)in.max_tokens > ids_cap) { /* room for one more line at most */
            int32_t *grown = realloc(ids, sizeof(int32_t) * ids_cap * 2);
            if (!grown) {
                rc = ap_cli_fail("embed", "out of memory for the token ids of %zu lines", n_lines);
                goto out;
            }
            ids = grown;
            ids_cap *= 2;
        }
        int32_t n = 0;
        st = ap_tokenizer_encode(tok, text + starts[l], lens[l], in.max_tokens, ids + total_tokens, in.max_tokens, &n);
        if (st != AP_OK) {
            rc = ap_cli_fail("embed", "%s:%zu: %s", input_name, l + 1, ap_last_error());
            goto out;
        }
        counts[l] = n;
        total_tokens += n;
    }

    struct ap_progress prog;
    ap_progress_begin(&prog, progress_mode, total_tokens, "tokens");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t done_tokens = 0;
    for (size_t l = 0; l < n_lines;) {
        /* the lines of one encoder pass, as ap_model_embed_ids packs them,
         * so that progress moves once per pass */
        int64_t rows = counts[l];
        size_t e = l + 1;
        while (e < n_lines && rows + counts[e] <= in.batch_tokens) rows += counts[e++];
        st = ap_model_embed_ids(model, ids + done_tokens, counts + l, (int64_t)(e - l), emb + l * (size_t)in.hidden);
        if (st != AP_OK) {
            ap_progress_end(&prog);
            if (e - l == 1) rc = ap_cli_fail("embed", "%s:%zu: %s", input_name, l + 1, ap_last_error());
            else rc = ap_cli_fail("embed", "%s:%zu-%zu: %s", input_name, l + 1, e, ap_last_error());
            goto out;
        }
        done_tokens += rows;
        ap_progress_update(&prog, done_tokens);
        l = e;
    }
    ap_progress_end(&prog);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);

    const int64_t shape[2] = {(int64_t)n_lines, in.hidden};
    st = ap_npy_write_f32(output, emb, shape, 2);
    if (st != AP_OK) {
        rc = ap_cli_fail_status("embed", st);
        goto out;
    }
    if (!quiet)
        fprintf(stderr, "embedded %zu lines (%lld tokens) in %.2f s, %.0f tokens/s, with %s -> %s [%zu x %d float32]\n",
                n_lines, (long long)total_tokens, secs, secs > 0 ? (double)total_tokens / secs : 0.0, in.method,
                output, n_lines, in.hidden);
    if (!quiet && in.method_note[0]) fprintf(stderr, "%s\n", in.method_note);
    rc = AP_EXIT_OK;
out:
    ap_model_free(model);
    free(ids);
    free(emb);
    free(starts);
    free(lens);
    free(counts);
    free(text);
    return rc;
}

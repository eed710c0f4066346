/* cmd_generate.c — attnprune generate: continue a prompt with a decoder,
 * greedily, streaming the text; for checking a model (and a method) by eye. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: attnprune generate -m MODEL.gguf -p PROMPT [-n N] [-a METHOD] [options]\n"
            "\n"
            "Tokenize PROMPT, run it through the decoder (prefill), then append N tokens,\n"
            "each the most likely next token (greedy), one decode step over the KV cache\n"
            "at a time. The prompt and the continuation go to stdout as they come; token\n"
            "counts and speeds (prefill and decode tokens/s) to stderr. Generation stops\n"
            "early at the model's end-of-sequence token unless --ignore-eos.\n"
            "\n"
            "  -m, --model PATH      decoder: a .gguf file, or a directory with model.gguf (required)\n"
            "  -p, --prompt TEXT     the prompt (required; '-' reads it from standard input)\n"
            "  -n, --tokens N        tokens to generate (default 32)\n"
            "  -a, --method SPEC     attention method for prefill and decode (default dense)\n"
            "      --ignore-eos      keep going past the end-of-sequence token\n"
            "      --ids             print the generated token ids on stderr too\n"
            "      --calib FILE      calibration text for calibrated thresholds\n"
            "  -t, --threads N       threads (default: all cores)\n"
            "  -v, --verbose         print the library's notes on stderr\n"
            "  -h, --help            this text\n");
}

int ap_cmd_generate(int argc, char **argv) {
    enum { OPT_IGNORE_EOS = AP_OPT_FIRST_FREE, OPT_IDS };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"prompt", required_argument, 0, 'p'},
        {"tokens", required_argument, 0, 'n'}, {"method", required_argument, 0, 'a'},
        {"ignore-eos", no_argument, 0, OPT_IGNORE_EOS}, {"ids", no_argument, 0, OPT_IDS},
        {"calib", required_argument, 0, AP_OPT_CALIB}, {"threads", required_argument, 0, 't'},
        {"verbose", no_argument, 0, 'v'},      {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model_path = NULL, *prompt = NULL;
    struct ap_model_params mp = ap_model_default_params();
    int32_t n_gen = 32;
    int ignore_eos = 0, show_ids = 0, verbose = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:p:n:a:t:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'p': prompt = optarg; break;
        case 'n':
            if (ap_cli_parse_int("generate", "--tokens", optarg, 0, 1 << 20, &n_gen)) return AP_EXIT_USAGE;
            break;
        case 'a': mp.method = optarg; break;
        case OPT_IGNORE_EOS: ignore_eos = 1; break;
        case OPT_IDS: show_ids = 1; break;
        case AP_OPT_CALIB: mp.calib_text = optarg; break;
        case 't':
            if (ap_cli_parse_int("generate", "--threads", optarg, 1, 1024, &mp.n_threads)) return AP_EXIT_USAGE;
            break;
        case 'v': verbose++; break;
        case 'h': help(stdout); return AP_EXIT_OK;
        default: return ap_cli_usage_error("generate", "bad option");
        }
    }
    if (optind < argc) return ap_cli_usage_error("generate", "unexpected argument '%s'", argv[optind]);
    if (!model_path) return ap_cli_usage_error("generate", "-m MODEL.gguf is required");
    if (!prompt) return ap_cli_usage_error("generate", "-p PROMPT is required");
    ap_cli_enable_log(verbose);
    char *owned = NULL;
    size_t plen = strlen(prompt);
    if (strcmp(prompt, "-") == 0) {
        if (ap_cli_read_all("generate", "-", &owned, &plen) != AP_EXIT_OK) return AP_EXIT_FAILURE;
        prompt = owned;
    }
    struct ap_model *m = NULL;
    enum ap_status st = ap_model_load(model_path, mp, &m);
    if (st != AP_OK) {
        free(owned);
        return ap_cli_fail_status("generate", st);
    }
    struct ap_model_info info;
    ap_model_get_info(m, &info);
    int rc = AP_EXIT_OK;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)info.max_tokens);
    float *logits = malloc(sizeof(float) * (size_t)info.vocab_size);
    char *piece = malloc(4096);
    int32_t n = 0;
    if (info.arch != AP_ARCH_LLAMA) {
        rc = ap_cli_fail("generate", "%s is not a decoder (generate needs a GGUF language model)", model_path);
    } else if (!ids || !logits || !piece) {
        rc = ap_cli_fail("generate", "out of memory");
    } else if ((st = ap_tokenizer_encode(ap_model_tokenizer(m), prompt, plen, info.max_tokens, ids, info.max_tokens,
                                         &n)) != AP_OK) {
        rc = ap_cli_fail_status("generate", st);
    } else if (n == 0) {
        rc = ap_cli_fail("generate", "the prompt has no tokens");
    } else if (n + n_gen > info.max_tokens) {
        rc = ap_cli_fail("generate", "%d prompt tokens + %d new exceed the KV cache's %d", n, n_gen, info.max_tokens);
    }
    if (rc != AP_EXIT_OK) goto done;
    if (info.method_note[0]) fprintf(stderr, "%s\n", info.method_note);
    fwrite(prompt, 1, plen, stdout);
    fflush(stdout);
    double t0 = ap_cli_now();
    st = ap_model_decode(m, ids, n, NULL, logits);
    const double t_prefill = ap_cli_now() - t0;
    const int32_t eos = ap_tokenizer_eos(ap_model_tokenizer(m));
    int32_t made = 0;
    t0 = ap_cli_now();
    while (st == AP_OK && made < n_gen) {
        int32_t best = 0;
        for (int32_t v = 1; v < info.vocab_size; v++)
            if (logits[v] > logits[best]) best = v;
        if (best == eos && !ignore_eos) break;
        size_t len = 0;
        if (ap_tokenizer_decode(ap_model_tokenizer(m), &best, 1, piece, 4096, &len) == AP_OK) fwrite(piece, 1, len, stdout);
        fflush(stdout);
        if (show_ids) fprintf(stderr, "%s%d", made ? " " : "ids: ", best);
        made++;
        if (made == n_gen) break;
        st = ap_model_decode(m, &best, 1, NULL, logits);
    }
    const double t_decode = ap_cli_now() - t0;
    printf("\n");
    if (show_ids && made) fprintf(stderr, "\n");
    if (st != AP_OK) {
        rc = ap_cli_fail_status("generate", st);
        goto done;
    }
    fprintf(stderr, "prompt %d tokens, prefill %.3f s (%.1f tokens/s); generated %d tokens, %.3f s (%.1f tokens/s)\n",
            n, t_prefill, n / t_prefill, made, t_decode, made > 1 ? (made - 1) / t_decode : 0.0);
done:
    free(ids);
    free(logits);
    free(piece);
    free(owned);
    ap_model_free(m);
    return rc;
}

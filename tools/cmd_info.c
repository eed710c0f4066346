/* cmd_info.c — attnprune info: a model's architecture summary. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: attnprune info -m MODEL_DIR [-v]\n"
            "\n"
            "Load a model directory (config.json, model.safetensors, vocab.txt and the\n"
            "sentence-transformers files) and print its architecture: layers, heads,\n"
            "sizes, tokenizer limits, pooling, parameters, and the CPU features the\n"
            "kernels will use.\n"
            "\n"
            "  -m, --model DIR   model directory (required)\n"
            "  -v, --verbose     print the library's notes on stderr\n"
            "  -h, --help        this text\n");
}

static const char *pooling_name(enum ap_pooling p) {
    switch (p) {
    case AP_POOLING_MEAN: return "mean";
    case AP_POOLING_CLS: return "cls";
    case AP_POOLING_MAX: return "max";
    }
    return "?";
}

int ap_cmd_info(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model_dir = NULL;
    int verbose = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 'v': verbose++; break;
        case 'h': help(stdout); return AP_EXIT_OK;
        default: return ap_cli_usage_error("info", "bad option");
        }
    }
    if (optind < argc) return ap_cli_usage_error("info", "unexpected argument '%s'", argv[optind]);
    if (!model_dir) return ap_cli_usage_error("info", "-m MODEL_DIR is required");
    ap_cli_enable_log(verbose);
    struct ap_model *model = NULL;
    enum ap_status st = ap_model_load(model_dir, ap_model_default_params(), &model);
    if (st != AP_OK) return ap_cli_fail_status("info", st);
    struct ap_model_info in;
    ap_model_get_info(model, &in);
    printf("model          %s (%s)\n", in.name, model_dir);
    printf("architecture   BERT encoder\n");
    printf("layers         %d\n", in.n_layers);
    printf("heads          %d (head dim %d)\n", in.n_heads, in.head_dim);
    printf("hidden         %d\n", in.hidden);
    printf("intermediate   %d\n", in.intermediate);
    printf("vocabulary     %d\n", in.vocab_size);
    printf("positions      %d\n", in.max_positions);
    printf("max tokens     %d (inputs are truncated here)\n", in.max_tokens);
    printf("pooling        %s%s\n", pooling_name(in.pooling), in.normalize ? ", L2-normalized" : "");
    printf("layer norm eps %g\n", (double)in.layer_norm_eps);
    printf("parameters     %lld (%.1f M)\n", (long long)in.n_params, (double)in.n_params / 1e6);
    printf("method         %s\n", in.method);
    printf("cpu features   %s\n", ap_cpu_feature_string(ap_cpu_features()));
    ap_model_free(model);
    return AP_EXIT_OK;
}

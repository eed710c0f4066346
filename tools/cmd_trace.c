/* cmd_trace.c — attnprune trace: a method's per-layer, per-head trace on
 * real text, for the simulators. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: attnprune trace -m MODEL_DIR -i TEXT -a METHOD -o DIR [options]\n"
            "       attnprune trace --synthetic SPEC -o DIR\n"
            "\n"
            "Run METHOD over chunks of TEXT (as 'attnprune eval' cuts them) and write its\n"
            "trace into DIR: trace.json (model, method and every parameter, statistic\n"
            "names), heads.csv (one row per chunk, layer and head), layers.csv (one row\n"
            "per chunk and layer) and rows.npy (kept keys per query row). The format is\n"
            "docs/trace-format.md. DIR is written under a temporary name and renamed when\n"
            "complete; an existing trace in DIR is replaced, anything else is refused.\n"
            "\n"
            "With --synthetic, no model runs: SPEC 'key=value,...' turns published\n"
            "statistics into a trace (method \"synthetic\") for the simulators, e.g.\n"
            "  --synthetic 'S=384,d=64,layers=12,heads=12,density=0.214,bits=8.3'\n"
            "Keys (default): S (384) tokens, d (64), layers (12), heads (12), chunks (1),\n"
            "causal (0), queries (0 = S rows; 1 = one generation step), padding (0,\n"
            "fraction of S), density (1, kept/valid pairs), spread (0, per-row variation),\n"
            "bits (8.3, LEOPARD K bits per pruned score), k_bits (12), B (2), locality\n"
            "(0.021, SPRINT keys newly fetched between adjacent queries), token_prune,\n"
            "head_prune (0, SpAtten mean fraction pruned over layers), value_prune (0),\n"
            "requant (0, rows fetching key LSBs), k_msb (8). docs/trace-format.md has\n"
            "the rules.\n"
            "\n"
            "      --synthetic SPEC  write a synthetic trace instead of running a model\n"
            "  -m, --model DIR       model directory (required)\n"
            "  -i, --input FILE      UTF-8 text (required)\n"
            "  -a, --method SPEC     NAME or NAME:key=value,... (default: dense)\n"
            "  -o, --output DIR      trace directory (required)\n"
            "      --max-tokens N    use at most N tokens of text, in whole chunks (default: all)\n"
            "      --chunk N         tokens per chunk (default: the model's max tokens; decoders:\n"
            "                        1024, each chunk a causal prefill from an empty cache)\n"
            "      --calib FILE      calibration text for calibrated thresholds\n"
            "  -t, --threads N       threads (default: all cores)\n"
            "      --progress        always report progress on stderr\n"
            "      --no-progress     never (default: on a terminal only)\n"
            "  -v, --verbose         print the library's notes on stderr\n"
            "  -h, --help            this text\n");
}

int ap_cmd_trace(int argc, char **argv) {
    
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"input", required_argument, 0, 'i'},
        {"method", required_argument, 0, 'a'}, {"output", required_argument, 0, 'o'},
        {"max-tokens", required_argument, 0, AP_OPT_MAX_TOKENS}, {"chunk", required_argument, 0, AP_OPT_CHUNK},
        {"calib", required_argument, 0, AP_OPT_CALIB}, {"threads", required_argument, 0, 't'},
        {"progress", no_argument, 0, AP_OPT_PROGRESS}, {"no-progress", no_argument, 0, AP_OPT_NO_PROGRESS},
        {"verbose", no_argument, 0, 'v'},      {"help", no_argument, 0, 'h'},
        {"synthetic", required_argument, 0, AP_OPT_FIRST_FREE}, {0, 0, 0, 0}};
    const char *synthetic = NULL, *model_dir = NULL, *input = NULL, *output = NULL, *method = "dense";
    struct ap_eval_params ep = ap_eval_default_params();
    struct ap_chunk_progress prog = {.mode = -1};
    int verbose = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:i:a:o:t:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 'i': input = optarg; break;
        case 'a': method = optarg; break;
        case 'o': output = optarg; break;
        case 'v': verbose++; break;
        case 'h': help(stdout); return AP_EXIT_OK;
        case AP_OPT_FIRST_FREE: synthetic = optarg; break;
        default: {
            int r = ap_cli_chunk_option("trace", c, optarg, &ep, &prog.mode);
            if (r < 0) return AP_EXIT_USAGE;
            if (r == 0) return ap_cli_usage_error("trace", "bad option");
        }
        }
    }
    if (optind < argc) return ap_cli_usage_error("trace", "unexpected argument '%s'", argv[optind]);
    if (synthetic) {
        if (model_dir || input) return ap_cli_usage_error("trace", "--synthetic runs no model: drop -m and -i");
        if (!output) return ap_cli_usage_error("trace", "-o DIR is required");
        enum ap_status st = ap_trace_synthesize_dir(synthetic, output);
        if (st != AP_OK) return ap_cli_fail_status("trace", st);
        fprintf(stderr, "synthetic trace written to %s\n", output);
        return AP_EXIT_OK;
    }
    if (!model_dir) return ap_cli_usage_error("trace", "-m MODEL_DIR is required");
    if (!input) return ap_cli_usage_error("trace", "-i TEXT is required");
    if (!output) return ap_cli_usage_error("trace", "-o DIR is required");
    ap_cli_enable_log(verbose);
    ep.progress = ap_cli_chunk_progress;
    ep.progress_user = &prog;
    enum ap_status st = ap_trace_write(model_dir, input, method, ep, output);
    if (st != AP_OK) return ap_cli_fail_status("trace", st);
    fprintf(stderr, "trace of %s written to %s\n", method, output);
    return AP_EXIT_OK;
}

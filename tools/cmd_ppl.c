/* cmd_ppl.c — attnprune ppl: perplexity of a decoder on a text, dense or with
 * a method (then also KL divergence and top-1 agreement against dense). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: attnprune ppl -m MODEL.gguf -i TEXT [--ctx N] [--stride N] [-a METHOD] [options]\n"
            "\n"
            "Perplexity of a decoder language model on TEXT (the whole file as one token\n"
            "stream, newlines included). Windows of --ctx tokens start every --stride\n"
            "tokens; each scores the targets no earlier window scored, from a fresh KV\n"
            "cache (Hugging Face's sliding-window perplexity; docs/eval.md). With -a, every\n"
            "window runs dense and with METHOD on the same weights, and the summary adds\n"
            "the method's density, mean KL(dense || method) per target and the fraction of\n"
            "targets whose top-1 token agrees with dense. The last line of stdout is\n"
            "ppl=<value> (the method's, or dense's without -a).\n"
            "\n"
            "  -m, --model PATH      decoder: a .gguf file, or a directory with model.gguf (required)\n"
            "  -i, --input FILE      UTF-8 text (required)\n"
            "  -a, --method SPEC     NAME or NAME:key=value,... (see 'attnprune methods'); default dense\n"
            "      --ctx N           tokens per window (default 1024)\n"
            "      --stride N        tokens between window starts, 1..ctx (default: ctx)\n"
            "      --windows N       run at most N windows (default: all)\n"
            "      --prefill N       the method's pass prefills only the first N tokens of each\n"
            "                        window and feeds the rest one decode step at a time over the\n"
            "                        KV cache (the generation stage; default 0: whole windows)\n"
            "      --calib FILE      calibration text for calibrated thresholds\n"
            "                        (default: the model directory's calibration.txt)\n"
            "  -o, --output FILE     CSV to append one row per window to, as each finishes\n"
            "                        (an interrupted run keeps its finished windows); columns:\n"
            "                        method, params, ctx, stride, window, begin, end, scored,\n"
            "                        nll, nll_dense, kl_sum, top1_agree, density, seconds,\n"
            "                        seconds_dense\n"
            "  -t, --threads N       threads (default: all cores)\n"
            "      --progress        always report progress on stderr\n"
            "      --no-progress     never (default: on a terminal only)\n"
            "  -v, --verbose         print the library's notes on stderr\n"
            "  -h, --help            this text\n");
}

struct run {
    const char *output, *spec;
    int32_t ctx, stride;
    struct ap_progress bar;
    int progress_mode, failed;
};


static void on_window(void *user, const struct ap_ppl_window *w) {
    struct run *r = user;
    if (w->index == 0 || !r->bar.total) ap_progress_begin(&r->bar, r->progress_mode, w->n_windows, "windows");
    ap_progress_update(&r->bar, w->index + 1);
    if (w->index + 1 == w->n_windows) ap_progress_end(&r->bar);
    if (!r->output || r->failed) return;
    FILE *f = fopen(r->output, "a");
    if (!f) {
        r->failed = ap_cli_fail("ppl", "%s: cannot open for appending: %s", r->output, strerror(errno));
        return;
    }
    if (ftell(f) == 0)
        fputs("method,params,ctx,stride,window,begin,end,scored,nll,nll_dense,kl_sum,top1_agree,density,seconds,"
              "seconds_dense\n",
              f);
    char name[256], num[512];
    const char *colon = strchr(r->spec, ':');
    snprintf(name, sizeof name, "%.*s", colon ? (int)(colon - r->spec) : (int)strlen(r->spec), r->spec);
    ap_cli_csv_field(f, name, 0);
    ap_cli_csv_field(f, colon ? colon + 1 : "", 0);
    snprintf(num, sizeof num, "%d,%d,%lld,%lld,%lld,%lld,%.6f,%.6f,%.6f,%lld,%.6f,%.3f,%.3f\n", r->ctx, r->stride,
             (long long)w->index, (long long)w->begin, (long long)w->end, (long long)w->scored, w->nll, w->nll_dense,
             w->kl_sum, (long long)w->top1_agree, w->density, w->seconds, w->seconds_dense);
    fputs(num, f);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad) r->failed = ap_cli_fail("ppl", "%s: write error", r->output);
}

int ap_cmd_ppl(int argc, char **argv) {
    enum { OPT_CTX = AP_OPT_FIRST_FREE, OPT_STRIDE, OPT_WINDOWS, OPT_PREFILL };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},      {"input", required_argument, 0, 'i'},
        {"method", required_argument, 0, 'a'},     {"ctx", required_argument, 0, OPT_CTX},
        {"stride", required_argument, 0, OPT_STRIDE}, {"windows", required_argument, 0, OPT_WINDOWS},
        {"prefill", required_argument, 0, OPT_PREFILL},
        {"calib", required_argument, 0, AP_OPT_CALIB}, {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 't'},    {"progress", no_argument, 0, AP_OPT_PROGRESS},
        {"no-progress", no_argument, 0, AP_OPT_NO_PROGRESS}, {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    const char *model = NULL, *input = NULL, *spec = "dense";
    struct ap_ppl_params p = ap_ppl_default_params();
    struct run r = {.progress_mode = -1};
    int verbose = 0, c;
    int32_t v = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:i:a:o:t:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'i': input = optarg; break;
        case 'a': spec = optarg; break;
        case 'o': r.output = optarg; break;
        case OPT_CTX:
            if (ap_cli_parse_int("ppl", "--ctx", optarg, 2, 1 << 20, &p.ctx)) return AP_EXIT_USAGE;
            break;
        case OPT_STRIDE:
            if (ap_cli_parse_int("ppl", "--stride", optarg, 1, 1 << 20, &p.stride)) return AP_EXIT_USAGE;
            break;
        case OPT_WINDOWS:
            if (ap_cli_parse_int("ppl", "--windows", optarg, 1, 2000000000, &v)) return AP_EXIT_USAGE;
            p.max_windows = v;
            break;
        case OPT_PREFILL:
            if (ap_cli_parse_int("ppl", "--prefill", optarg, 0, 1 << 20, &p.prefill)) return AP_EXIT_USAGE;
            break;
        case AP_OPT_CALIB: p.calib_text = optarg; break;
        case 't':
            if (ap_cli_parse_int("ppl", "--threads", optarg, 1, 1024, &p.n_threads)) return AP_EXIT_USAGE;
            break;
        case AP_OPT_PROGRESS: r.progress_mode = 1; break;
        case AP_OPT_NO_PROGRESS: r.progress_mode = 0; break;
        case 'v': verbose++; break;
        case 'h': help(stdout); return AP_EXIT_OK;
        default: return ap_cli_usage_error("ppl", "bad option");
        }
    }
    if (optind < argc) return ap_cli_usage_error("ppl", "unexpected argument '%s'", argv[optind]);
    if (!model) return ap_cli_usage_error("ppl", "-m MODEL.gguf is required");
    if (!input) return ap_cli_usage_error("ppl", "-i TEXT is required");
    if (p.stride > p.ctx) return ap_cli_usage_error("ppl", "--stride %d exceeds --ctx %d", p.stride, p.ctx);
    if (p.prefill >= p.ctx) return ap_cli_usage_error("ppl", "--prefill %d must be below --ctx %d", p.prefill, p.ctx);
    ap_cli_enable_log(verbose);
    r.spec = spec;
    r.ctx = p.ctx;
    r.stride = p.stride ? p.stride : p.ctx;
    struct ap_ppl_result res;
    enum ap_status st = ap_ppl_run(model, input, spec, p, on_window, &r, &res);
    if (st != AP_OK) return ap_cli_fail_status("ppl", st);
    if (r.failed) return r.failed;
    const int with_method = strcmp(spec, "dense") != 0;
    printf("text      %s: %lld tokens, %lld windows of %d (stride %d), %lld targets scored\n", input,
           (long long)res.tokens, (long long)res.windows, p.ctx, r.stride, (long long)res.scored);
    printf("dense     ppl %.4f  prefill %.2f s\n", res.ppl_dense, res.seconds_dense);
    if (with_method) {
        printf("%-9s ppl %.4f (%+.2f%% vs dense)  density %.4f  KL %.5f nats  top-1 %.4f  prefill %.2f s\n", spec,
               res.ppl, 100.0 * (res.ppl / res.ppl_dense - 1.0), res.density, res.kl_mean, res.top1, res.seconds);
        if (res.note[0]) printf("          %s\n", res.note);
        if (res.n_stats) {
            printf("          method statistics, summed over heads and layers:  prefill  |  decode steps "
                   "(%lld query rows)\n",
                   (long long)res.decode_rows);
            for (int32_t s = 0; s < res.n_stats; s++)
                printf("            %-22s %16.6g  | %16.6g\n", res.stat_names[s], res.stats_prefill[s],
                       res.stats_decode[s]);
        }
    }
    printf("ppl=%.6f\n", res.ppl);
    return AP_EXIT_OK;
}

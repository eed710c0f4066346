/* cmd_eval.c — attnprune eval: density against fidelity on real text, one
 * CSV row per method setting, appended as each finishes. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MAX_SPECS 256

static void help(FILE *f) {
    fprintf(f,
            "usage: attnprune eval -m MODEL_DIR -i TEXT -a METHOD [-a METHOD ...] -o OUT.csv [options]\n"
            "\n"
            "Cut TEXT (one text per line; all lines as one token stream) into chunks of\n"
            "the model's max tokens, run the dense model once per chunk, then the model\n"
            "with each METHOD setting, and append one CSV row per setting to OUT.csv as\n"
            "soon as it finishes (an interrupted sweep keeps its finished rows). Columns:\n"
            "  method, params, density, mass_recall, out_rel_err, emb_cos_mean,\n"
            "  emb_cos_min, chunks, tokens, seconds, note\n"
            "(docs/eval.md defines them). A table of the same rows goes to stdout.\n"
            "\n"
            "  -m, --model DIR         model directory (required)\n"
            "  -i, --input FILE        UTF-8 text (required)\n"
            "  -a, --method SPEC       NAME or NAME:key=value,... (repeatable; see 'attnprune methods')\n"
            "      --sweep KEY=v1,v2   run every -a once per value of KEY (added to its params)\n"
            "      --max-tokens N      use at most N tokens of text, in whole chunks (default: all)\n"
            "      --chunk N           tokens per chunk (default: the model's max tokens)\n"
            "      --calib FILE        calibration text for calibrated thresholds\n"
            "                          (default: MODEL_DIR/calibration.txt)\n"
            "  -o, --output FILE       CSV to append to (required; a header is written if new)\n"
            "  -t, --threads N         threads (default: all cores)\n"
            "      --progress          always report progress on stderr\n"
            "      --no-progress       never (default: on a terminal only)\n"
            "  -v, --verbose           print the library's notes (calibration, ...) on stderr\n"
            "  -h, --help              this text\n");
}


static int append_row(const char *path, const char *spec, const struct ap_eval_result *r) {
    FILE *f = fopen(path, "a");
    if (!f) return ap_cli_fail("eval", "%s: cannot open for appending: %s", path, strerror(errno));
    if (ftell(f) == 0)
        fputs("method,params,density,mass_recall,out_rel_err,emb_cos_mean,emb_cos_min,chunks,tokens,seconds,note\n",
              f);
    char name[256], params[1024], num[512];
    const char *colon = strchr(spec, ':');
    snprintf(name, sizeof name, "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec), spec);
    snprintf(params, sizeof params, "%s", colon ? colon + 1 : "");
    ap_cli_csv_field(f, name, 0);
    ap_cli_csv_field(f, params, 0);
    snprintf(num, sizeof num, "%.6f,%.6f,%.6f,%.8f,%.8f,%lld,%lld,%.2f", r->density, r->mass_recall, r->out_rel_err,
             r->emb_cos_mean, r->emb_cos_min, (long long)r->chunks, (long long)r->tokens, r->seconds);
    fputs(num, f);
    fputc(',', f);
    ap_cli_csv_field(f, r->note, 1);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad) return ap_cli_fail("eval", "%s: write error", path);
    return AP_EXIT_OK;
}

int ap_cmd_eval(int argc, char **argv) {
    enum { OPT_SWEEP = AP_OPT_FIRST_FREE };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},        {"input", required_argument, 0, 'i'},
        {"method", required_argument, 0, 'a'},       {"sweep", required_argument, 0, OPT_SWEEP},
        {"max-tokens", required_argument, 0, AP_OPT_MAX_TOKENS}, {"chunk", required_argument, 0, AP_OPT_CHUNK},
        {"calib", required_argument, 0, AP_OPT_CALIB},  {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 't'},      {"progress", no_argument, 0, AP_OPT_PROGRESS},
        {"no-progress", no_argument, 0, AP_OPT_NO_PROGRESS}, {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0}};
    const char *model_dir = NULL, *input = NULL, *output = NULL, *sweep = NULL;
    const char *methods[MAX_SPECS];
    int n_methods = 0, verbose = 0, c;
    struct ap_chunk_progress prog = {.mode = -1};
    struct ap_eval_params ep = ap_eval_default_params();
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:i:a:o:t:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 'i': input = optarg; break;
        case 'a':
            if (n_methods == MAX_SPECS) return ap_cli_usage_error("eval", "more than %d -a options", MAX_SPECS);
            methods[n_methods++] = optarg;
            break;
        case 'o': output = optarg; break;
        case OPT_SWEEP: sweep = optarg; break;
        case 'v': verbose++; break;
        case 'h': help(stdout); return AP_EXIT_OK;
        default: {
            int r = ap_cli_chunk_option("eval", c, optarg, &ep, &prog.mode);
            if (r < 0) return AP_EXIT_USAGE;
            if (r == 0) return ap_cli_usage_error("eval", "bad option");
        }
        }
    }
    if (optind < argc) return ap_cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
    if (!model_dir) return ap_cli_usage_error("eval", "-m MODEL_DIR is required");
    if (!input) return ap_cli_usage_error("eval", "-i TEXT is required");
    if (!output) return ap_cli_usage_error("eval", "-o OUT.csv is required");
    if (!n_methods) return ap_cli_usage_error("eval", "at least one -a METHOD is required");

    /* the settings: each -a, times each sweep value */
    char key[64] = "";
    const char *values = NULL;
    if (sweep) {
        const char *eq = strchr(sweep, '=');
        if (!eq || eq == sweep || !eq[1] || (size_t)(eq - sweep) >= sizeof key)
            return ap_cli_usage_error("eval", "--sweep expects KEY=v1,v2,..., got '%s'", sweep);
        snprintf(key, sizeof key, "%.*s", (int)(eq - sweep), sweep);
        values = eq + 1;
    }
    ap_cli_enable_log(verbose);
    /* check every spec before the long dense pass */
    struct ap_eval *ev = NULL;
    ep.progress = ap_cli_chunk_progress;
    ep.progress_user = &prog;
    if (prog.mode != 0) fprintf(stderr, "dense pass over %s\n", input);
    enum ap_status st = ap_eval_open(model_dir, input, ep, &ev);
    if (st != AP_OK) return ap_cli_fail_status("eval", st);
    fprintf(stderr, "%lld chunks of text\n", (long long)ap_eval_chunk_count(ev));
    printf("%-44s %8s %8s %8s %10s %10s\n", "method", "density", "recall", "out_err", "cos_mean", "cos_min");
    fflush(stdout);
    int rc = AP_EXIT_OK;
    for (int a = 0; a < n_methods && rc == AP_EXIT_OK; a++) {
        const char *v = values;
        do {
            char spec[2048];
            size_t vlen = 0;
            if (v) {
                const char *comma = strchr(v, ',');
                vlen = comma ? (size_t)(comma - v) : strlen(v);
                snprintf(spec, sizeof spec, "%s%s%s=%.*s", methods[a], strchr(methods[a], ':') ? "," : ":", key,
                         (int)vlen, v);
            } else {
                snprintf(spec, sizeof spec, "%s", methods[a]);
            }
            struct ap_eval_result r;
            st = ap_eval_method(ev, spec, &r);
            if (st != AP_OK) {
                rc = ap_cli_fail_status("eval", st);
                break;
            }
            rc = append_row(output, spec, &r);
            printf("%-44s %8.4f %8.4f %8.4f %10.6f %10.6f\n", spec, r.density, r.mass_recall, r.out_rel_err,
                   r.emb_cos_mean, r.emb_cos_min);
            if (r.note[0]) printf("    %s\n", r.note);
            fflush(stdout);
            if (v) v = v[vlen] ? v + vlen + 1 : NULL;
        } while (v && rc == AP_EXIT_OK);
    }
    ap_eval_free(ev);
    return rc;
}

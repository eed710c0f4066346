/* cmd_sim.c — attnprune sim: one accelerator (and its baseline) on a trace;
 * attnprune compare: every configured accelerator on one trace, one table. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Write text to path through path.tmp.PID and a rename, so a failure leaves
 * nothing half-written. */
static int write_atomically(const char *cmd, const char *path, const char *text) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return ap_cli_fail(cmd, "%s: cannot write: %s", tmp, strerror(errno));
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return ap_cli_fail(cmd, "%s: write error: %s", path, strerror(errno));
    }
    return AP_EXIT_OK;
}

/* Append a CSV row to path, with the header first when the file is new or empty. */
static int append_csv(const char *cmd, const char *path, const char *row) {
    FILE *f = fopen(path, "a");
    if (!f) return ap_cli_fail(cmd, "%s: cannot append: %s", path, strerror(errno));
    if (ftell(f) == 0) fprintf(f, "%s\n", ap_sim_csv_columns());
    int bad = fputs(row, f) < 0;
    bad |= fclose(f) != 0;
    return bad ? ap_cli_fail(cmd, "%s: write error", path) : AP_EXIT_OK;
}

static void sim_help(FILE *f) {
    fprintf(f,
            "usage: attnprune sim --arch CONFIG.ini --trace DIR [-o OUT.json] [--csv FILE]\n"
            "\n"
            "Simulate the accelerator CONFIG.ini describes (configs/: hammer, elsa,\n"
            "sanger, sanger-16x8, leopard-ae, leopard-hp, sprint-s/m/l, spatten, and\n"
            "their *-baseline.ini) on the trace in DIR (written by 'attnprune trace',\n"
            "from a model or --synthetic), and its baseline on the same trace when the\n"
            "configuration names one. The report (docs/simulators.md) has cycles,\n"
            "seconds, energy_pj and energy_by_component, busy cycles per unit, stalls,\n"
            "utilization, dram_bytes (main memory) and reram_bytes, gops and gops_per_j\n"
            "(dense-equivalent operations), gops_per_mm2 where the area is known, and\n"
            "speedup_vs_baseline, energy_ratio_vs_baseline (baseline energy / ours),\n"
            "traffic_vs_baseline.\n"
            "\n"
            "  -a, --arch FILE      accelerator configuration (required)\n"
            "  -T, --trace DIR      trace directory (required)\n"
            "  -o, --output FILE    write the JSON report there (via a temporary file);\n"
            "                       stdout then gets the CSV header and row. Without -o\n"
            "                       the JSON goes to stdout\n"
            "      --csv FILE       append the CSV row to FILE (header when new)\n"
            "  -h, --help           this text\n");
}

int ap_cmd_sim(int argc, char **argv) {
    static const struct option opts[] = {{"arch", required_argument, 0, 'a'},   {"trace", required_argument, 0, 'T'},
                                         {"output", required_argument, 0, 'o'}, {"csv", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *arch = NULL, *trace_dir = NULL, *output = NULL, *csv = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "a:T:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': arch = optarg; break;
        case 'T': trace_dir = optarg; break;
        case 'o': output = optarg; break;
        case 'c': csv = optarg; break;
        case 'h': sim_help(stdout); return AP_EXIT_OK;
        default: return ap_cli_usage_error("sim", "bad option");
        }
    }
    if (optind < argc) return ap_cli_usage_error("sim", "unexpected argument '%s'", argv[optind]);
    if (!arch) return ap_cli_usage_error("sim", "--arch CONFIG.ini is required");
    if (!trace_dir) return ap_cli_usage_error("sim", "--trace DIR is required");
    struct ap_trace *trace = NULL;
    enum ap_status st = ap_trace_open(trace_dir, &trace);
    if (st != AP_OK) return ap_cli_fail_status("sim", st);
    struct ap_sim_summary sum;
    char *json = NULL, *row = NULL;
    st = ap_sim_simulate(arch, trace, &sum, &json, &row);
    ap_trace_close(trace);
    if (st != AP_OK) return ap_cli_fail_status("sim", st);
    int rc = AP_EXIT_OK;
    if (output) {
        rc = write_atomically("sim", output, json);
        if (rc == AP_EXIT_OK) printf("%s\n%s", ap_sim_csv_columns(), row);
    } else {
        fputs(json, stdout);
    }
    if (rc == AP_EXIT_OK && csv) rc = append_csv("sim", csv, row);
    free(json), free(row);
    return rc;
}

/* ------------------------------------------------------------ compare */

static void compare_help(FILE *f) {
    fprintf(f,
            "usage: attnprune compare --trace DIR [--configs DIR] [--csv FILE]\n"
            "\n"
            "Simulate every accelerator configured in the configs folder (each .ini\n"
            "that names a baseline; baselines themselves run through them) on one\n"
            "trace and print one table: cycles, time, energy, effective GOP/s and\n"
            "GOP/J, main-memory traffic, utilization, and speedup and energy ratio\n"
            "against each one's own baseline. Statistics a simulator needs but the\n"
            "trace lacks (a trace from another method) are estimated, as each\n"
            "report's notes say (attnprune sim prints them).\n"
            "\n"
            "  -T, --trace DIR      trace directory (required)\n"
            "      --configs DIR    configuration folder (default: configs)\n"
            "      --csv FILE       also write every row as CSV to FILE (via a temporary file)\n"
            "  -h, --help           this text\n");
}

int ap_cmd_compare(int argc, char **argv) {
    static const struct option opts[] = {{"trace", required_argument, 0, 'T'}, {"configs", required_argument, 0, 'C'},
                                         {"csv", required_argument, 0, 'c'},   {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *trace_dir = NULL, *configs = "configs", *csv = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "T:h", opts, NULL)) != -1) {
        switch (c) {
        case 'T': trace_dir = optarg; break;
        case 'C': configs = optarg; break;
        case 'c': csv = optarg; break;
        case 'h': compare_help(stdout); return AP_EXIT_OK;
        default: return ap_cli_usage_error("compare", "bad option");
        }
    }
    if (optind < argc) return ap_cli_usage_error("compare", "unexpected argument '%s'", argv[optind]);
    if (!trace_dir) return ap_cli_usage_error("compare", "--trace DIR is required");
    char **paths = NULL;
    int32_t n = 0;
    enum ap_status st = ap_sim_accelerators(configs, &paths, &n);
    if (st != AP_OK) return ap_cli_fail_status("compare", st);
    if (n == 0) {
        ap_sim_paths_free(paths, n);
        return ap_cli_fail("compare", "%s: no accelerator configuration (an .ini naming a baseline)", configs);
    }
    struct ap_trace *trace = NULL;
    st = ap_trace_open(trace_dir, &trace);
    int rc = st == AP_OK ? AP_EXIT_OK : ap_cli_fail_status("compare", st);
    char *rows = NULL;
    size_t rows_len = 0;
    FILE *rf = rc == AP_EXIT_OK && csv ? open_memstream(&rows, &rows_len) : NULL;
    if (rf) fprintf(rf, "%s\n", ap_sim_csv_columns());
    double t0 = ap_cli_now();
    if (rc == AP_EXIT_OK)
        printf("%-14s %14s %11s %12s %10s %10s %11s %6s %8s %8s\n", "arch", "cycles", "time_us", "energy_uj",
               "GOP/s", "GOP/J", "dram_MB", "util", "speedup", "energy_x");
    for (int i = 0; i < n && rc == AP_EXIT_OK; i++) {
        struct ap_sim_summary s;
        char *row = NULL;
        st = ap_sim_simulate(paths[i], trace, &s, NULL, rf ? &row : NULL);
        if (st != AP_OK) {
            rc = ap_cli_fail_status("compare", st);
            break;
        }
        printf("%-14s %14.0f %11.2f %12.3f %10.1f %10.1f %11.3f %6.3f %8.2f %8.2f\n", s.arch, s.cycles,
               s.seconds * 1e6, s.energy_pj * 1e-6, s.gops, s.gops_per_j, s.dram_bytes / 1e6, s.utilization,
               s.speedup_vs_baseline, s.energy_ratio_vs_baseline);
        if (rf) fputs(row, rf);
        free(row);
    }
    double elapsed = ap_cli_now() - t0;
    if (rf) fclose(rf);
    fflush(stdout); /* the table before the timing line, also when piped */
    if (rc == AP_EXIT_OK) {
        fprintf(stderr, "%d accelerators and their baselines simulated in %.3f s\n", n, elapsed);
        if (csv) rc = write_atomically("compare", csv, rows ? rows : "");
    }
    free(rows);
    ap_trace_close(trace);
    ap_sim_paths_free(paths, n);
    return rc;
}

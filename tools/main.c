/* main.c — the attnprune command: dispatch to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} g_commands[] = {
    {"info", ap_cmd_info, "print a model's architecture summary"},
    {"embed", ap_cmd_embed, "sentence embeddings of each input line, as float32 .npy"},
    {"methods", ap_cmd_methods, "list the attention methods and their parameters"},
    {"eval", ap_cmd_eval, "density against fidelity of methods on real text, as CSV"},
    {"trace", ap_cmd_trace, "a method's per-layer, per-head trace on real text, for the simulators"},
    {"ppl", ap_cmd_ppl, "perplexity of a decoder on text, dense or with a method (KL, top-1)"},
    {"generate", ap_cmd_generate, "continue a prompt with a decoder (greedy), for sanity"},
    {"sim", ap_cmd_sim, "simulate an accelerator (and its baseline) on a trace: cycles, energy, traffic"},
    {"compare", ap_cmd_compare, "simulate every configured accelerator on one trace, as one table"},
};

static void usage(FILE *f) {
    fprintf(f,
            "usage: attnprune <command> [options]\n"
            "\n"
            "Runtime-pruned self-attention on CPUs (version %s).\n"
            "\n"
            "commands:\n",
            AP_VERSION_STRING);
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        fprintf(f, "  %-10s %s\n", g_commands[i].name, g_commands[i].summary);
    fprintf(f,
            "\n"
            "'attnprune <command> --help' describes a command's options.\n"
            "Exit status: 0 success, 1 failure, 2 bad usage.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return AP_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return AP_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("attnprune %s\n", AP_VERSION_STRING);
        return AP_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        if (strcmp(cmd, g_commands[i].name) == 0) return g_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "attnprune: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return AP_EXIT_USAGE;
}

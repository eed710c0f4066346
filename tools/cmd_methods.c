/* cmd_methods.c — attnprune methods: every attention method the library has. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int ap_cmd_methods(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: attnprune methods\n\nList the attention methods, with what each does and its paper.\n"
               "Select one with -a NAME[:key=value,...] where a command takes -a, e.g.\n"
               "  -a sanger:t=2e-3,bits=4   or   -a spatten:token_keep=0.7,head_keep=0.9\n"
               "A parameter whose default differs on a causal decoder (a .gguf model) shows it as\n"
               "(decoders: VALUE); docs/decoder.md says how those were chosen.\n");
        return AP_EXIT_OK;
    }
    if (argc > 1) return ap_cli_usage_error("methods", "unexpected argument '%s'", argv[1]);
    for (int32_t i = 0; i < ap_method_list_count(); i++) {
        struct ap_method_desc m;
        if (ap_method_list_get(i, &m) != AP_OK) return ap_cli_fail_status("methods", AP_ERR_RANGE);
        printf("%s — %s\n    paper: %s\n", m.name, m.summary, m.paper);
        for (int32_t k = 0; k < m.n_params; k++) {
            struct ap_method_param_desc pd;
            if (ap_method_list_param(i, k, &pd) != AP_OK) return ap_cli_fail_status("methods", AP_ERR_RANGE);
            if (strcmp(pd.def, pd.def_decoder) != 0)
                printf("    %-14s default %-10s %s (decoders: %s)\n", pd.key, pd.def, pd.help,
                       pd.def_decoder[0] ? pd.def_decoder : "none");
            else
                printf("    %-14s default %-10s %s\n", pd.key, pd.def, pd.help);
        }
        if (!m.n_params) printf("    (no parameters)\n");
    }
    return AP_EXIT_OK;
}

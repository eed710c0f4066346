/* cmd_methods.c — attnprune methods: every attention method the library has. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int ap_cmd_methods(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: attnprune methods\n\nList the attention methods, with what each does and its paper.\n"
               "Select one with -a NAME[:key=value,...] where a command takes -a.\n");
        return AP_EXIT_OK;
    }
    if (argc > 1) return ap_cli_usage_error("methods", "unexpected argument '%s'", argv[1]);
    for (int32_t i = 0; i < ap_method_list_count(); i++) {
        struct ap_method_desc m;
        if (ap_method_list_get(i, &m) != AP_OK) return ap_cli_fail_status("methods", AP_ERR_RANGE);
        printf("%-10s %s (paper: %s)\n", m.name, m.summary, m.paper);
    }
    return AP_EXIT_OK;
}

/* cli.h — shared pieces of the attnprune command: subcommands, messages,
 * exit codes, progress. Only this tool turns a status into text and an exit
 * code; the library never prints. */
#ifndef AP_TOOLS_CLI_H
#define AP_TOOLS_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "attnprune.h"

enum { AP_EXIT_OK = 0, AP_EXIT_FAILURE = 1, AP_EXIT_USAGE = 2 };

int ap_cmd_info(int argc, char **argv);
int ap_cmd_embed(int argc, char **argv);
int ap_cmd_methods(int argc, char **argv);
int ap_cmd_eval(int argc, char **argv);
int ap_cmd_trace(int argc, char **argv);
int ap_cmd_ppl(int argc, char **argv);
int ap_cmd_generate(int argc, char **argv);
int ap_cmd_sim(int argc, char **argv);
int ap_cmd_compare(int argc, char **argv);

/* "attnprune CMD: message" on stderr; returns AP_EXIT_FAILURE or AP_EXIT_USAGE. */
int ap_cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ap_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The library's last error for a failed status. */
int ap_cli_fail_status(const char *cmd, enum ap_status st);

/* Parse a whole non-negative decimal integer for a flag; 0 on success. */
int ap_cli_parse_int(const char *cmd, const char *flag, const char *text, int32_t lo, int32_t hi, int32_t *out);

/* Seconds on a monotonic clock. */
double ap_cli_now(void);

/* Log notes from the library to stderr when verbose. */
void ap_cli_enable_log(int verbose);

/* A progress bar on stderr: drawn in place on a terminal, a line every few
 * seconds otherwise (when forced on), nothing when off. */
struct ap_progress {
    int enabled, tty;
    int64_t total, done;
    double start, last_draw;
    const char *unit;
};
void ap_progress_begin(struct ap_progress *p, int mode /* -1 auto, 0 off, 1 on */, int64_t total, const char *unit);
void ap_progress_update(struct ap_progress *p, int64_t done);
void ap_progress_end(struct ap_progress *p);

/* Options shared by the commands that run a model over chunks of text
 * (eval, trace): long-option codes, and their handling into ap_eval_params. */
enum {
    AP_OPT_MAX_TOKENS = 256,
    AP_OPT_CHUNK,
    AP_OPT_CALIB,
    AP_OPT_PROGRESS,
    AP_OPT_NO_PROGRESS,
    AP_OPT_FIRST_FREE /* commands number their own options from here */
};
/* 1 if c was one of the shared options (applied to ep / *progress_mode, with
 * -t for threads), -1 after a usage error has been printed, 0 otherwise. */
int ap_cli_chunk_option(const char *cmd, int c, const char *arg, struct ap_eval_params *ep, int *progress_mode);

/* A progress bar over chunks, as ap_eval_params.progress (user: this struct). */
struct ap_chunk_progress {
    struct ap_progress bar;
    int mode; /* -1 auto, 0 off, 1 on */
};
void ap_cli_chunk_progress(void *user, int64_t done, int64_t total);

/* Write one CSV field followed by ',' (or '\n' when last), quoted when it
 * holds a comma, quote or newline. */
void ap_cli_csv_field(FILE *f, const char *s, int last);

/* Read a whole file ("-" or NULL = stdin) into memory; *len excludes the NUL
 * that is appended. Errors name the file. */
int ap_cli_read_all(const char *cmd, const char *path, char **out, size_t *len);

#endif

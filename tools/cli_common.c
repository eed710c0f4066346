/* cli_common.c — messages, integer flags, progress bar, whole-file reads. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int ap_cli_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "attnprune %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return AP_EXIT_FAILURE;
}

int ap_cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "attnprune %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'attnprune %s --help')\n", cmd);
    va_end(ap);
    return AP_EXIT_USAGE;
}

int ap_cli_fail_status(const char *cmd, enum ap_status st) {
    const char *msg = ap_last_error();
    return ap_cli_fail(cmd, "%s", msg && *msg ? msg : ap_status_string(st));
}

int ap_cli_parse_int(const char *cmd, const char *flag, const char *text, int32_t lo, int32_t hi, int32_t *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || !end || *end || end == text || v < lo || v > hi) {
        ap_cli_usage_error(cmd, "%s expects an integer in %d..%d, got '%s'", flag, lo, hi, text);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

static void log_to_stderr(enum ap_log_level level, const char *message, void *user) {
    (void)user;
    static const char *names[] = {"error", "warning", "note", "debug"};
    fprintf(stderr, "attnprune: %s: %s\n", names[level], message);
}

void ap_cli_enable_log(int verbose) {
    ap_log_set_callback(log_to_stderr, NULL, verbose >= 2 ? AP_LOG_DEBUG : verbose ? AP_LOG_INFO : AP_LOG_WARN);
}

double ap_cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ap_progress_begin(struct ap_progress *p, int mode, int64_t total, const char *unit) {
    memset(p, 0, sizeof *p);
    p->tty = isatty(STDERR_FILENO);
    p->enabled = mode < 0 ? p->tty : mode;
    p->total = total;
    p->unit = unit;
    p->start = p->last_draw = ap_cli_now();
}

static void draw(struct ap_progress *p, int final) {
    double t = ap_cli_now() - p->start;
    double rate = t > 0 ? (double)p->done / t : 0.0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0.0;
    int pct = p->total ? (int)(100 * p->done / p->total) : 100;
    if (p->tty) {
        char bar[31];
        int fill = p->total ? (int)(30 * p->done / p->total) : 30;
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %3d%% %lld/%lld %s  %.1f %s/s  eta %.0f s   ", bar, pct, (long long)p->done,
                (long long)p->total, p->unit, rate, p->unit, eta);
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "progress: %lld/%lld %s (%d%%), %.1f %s/s, eta %.0f s\n", (long long)p->done,
                (long long)p->total, p->unit, pct, rate, p->unit, eta);
    }
    fflush(stderr);
}

void ap_progress_update(struct ap_progress *p, int64_t done) {
    p->done = done;
    if (!p->enabled) return;
    double t = ap_cli_now();
    if (t - p->last_draw < (p->tty ? 0.1 : 5.0)) return;
    p->last_draw = t;
    draw(p, 0);
}

void ap_progress_end(struct ap_progress *p) {
    if (p->enabled) draw(p, 1);
}

int ap_cli_read_all(const char *cmd, const char *path, char **out, size_t *len) {
    int use_stdin = !path || strcmp(path, "-") == 0;
    const char *name = use_stdin ? "standard input" : path;
    FILE *f = use_stdin ? stdin : fopen(path, "rb");
    if (!f) return ap_cli_fail(cmd, "%s: cannot open: %s", name, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int oom = !buf, err = oom || ferror(f);
    if (!use_stdin) fclose(f);
    if (err) {
        free(buf);
        return ap_cli_fail(cmd, "%s: %s", name, oom ? "out of memory reading it" : "read error");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return AP_EXIT_OK;
}

int ap_cli_chunk_option(const char *cmd, int c, const char *arg, struct ap_eval_params *ep, int *progress_mode) {
    int32_t v = 0;
    switch (c) {
    case AP_OPT_MAX_TOKENS:
        if (ap_cli_parse_int(cmd, "--max-tokens", arg, 1, 2000000000, &v)) return -1;
        ep->max_tokens = v;
        return 1;
    case AP_OPT_CHUNK:
        return ap_cli_parse_int(cmd, "--chunk", arg, 3, 1 << 20, &ep->chunk_tokens) ? -1 : 1;
    case AP_OPT_CALIB: ep->calib_text = arg; return 1;
    case 't': return ap_cli_parse_int(cmd, "--threads", arg, 1, 1024, &ep->n_threads) ? -1 : 1;
    case AP_OPT_PROGRESS: *progress_mode = 1; return 1;
    case AP_OPT_NO_PROGRESS: *progress_mode = 0; return 1;
    }
    return 0;
}

void ap_cli_chunk_progress(void *user, int64_t done, int64_t total) {
    struct ap_chunk_progress *p = user;
    if (done == 1) ap_progress_begin(&p->bar, p->mode, total, "chunks");
    ap_progress_update(&p->bar, done);
    if (done == total) ap_progress_end(&p->bar);
}

void ap_cli_csv_field(FILE *f, const char *s, int last) {
    if (strpbrk(s, ",\"\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"') fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputc(last ? '\n' : ',', f);
}

/* trace_dir.c — renaming finished trace directories into place (trace_dir.h). */
#include "trace/trace_dir.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

static const char *const g_files[] = {"trace.json", "heads.csv", "layers.csv", "rows.npy"};

void ap_trace_dir_discard(const char *tmp_dir) {
    char p[4200];
    for (size_t i = 0; i < sizeof g_files / sizeof g_files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp_dir, g_files[i]);
        unlink(p);
    }
    rmdir(tmp_dir);
}

enum ap_status ap_trace_dir_replace(const char *tmp_dir, const char *out_dir) {
    char p[4200];
    struct stat sb;
    if (stat(out_dir, &sb) == 0) {
        snprintf(p, sizeof p, "%s/trace.json", out_dir);
        if (stat(p, &sb) != 0)
            return ap_error(AP_ERR_IO, "%s exists and is not a trace directory (no trace.json); not replacing it",
                            out_dir);
        for (size_t i = 0; i < sizeof g_files / sizeof g_files[0]; i++) {
            snprintf(p, sizeof p, "%s/%s", out_dir, g_files[i]);
            unlink(p);
        }
        if (rmdir(out_dir) != 0) return ap_error(AP_ERR_IO, "%s: cannot replace it: %s", out_dir, strerror(errno));
    }
    if (rename(tmp_dir, out_dir) != 0)
        return ap_error(AP_ERR_IO, "cannot rename %s to %s: %s", tmp_dir, out_dir, strerror(errno));
    return AP_OK;
}

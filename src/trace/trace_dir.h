/* trace_dir.h — putting a finished trace directory in place: traces are
 * assembled under a temporary name and renamed when complete, so a reader
 * never sees half a trace. Shared by the model's trace writer and
 * ap_trace_save. */
#ifndef AP_TRACE_TRACE_DIR_H
#define AP_TRACE_TRACE_DIR_H

#include "attnprune.h"

/* Replace out_dir by tmp_dir: an existing out_dir must be a trace directory
 * (it holds trace.json; only the trace files are removed), anything else
 * is refused (AP_ERR_IO). */
enum ap_status ap_trace_dir_replace(const char *tmp_dir, const char *out_dir);

/* Remove a partly written temporary trace directory (its trace files and
 * the directory itself), ignoring what is not there. */
void ap_trace_dir_discard(const char *tmp_dir);

#endif

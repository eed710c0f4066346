/* synth.h — synthetic traces: a paper's published statistics turned into a
 * trace (method "synthetic"), so a simulator can reproduce the paper's
 * figures without the paper's model (docs/trace-format.md, "Synthetic
 * traces").
 *
 * The spec is 'key=value,...'. Keys (defaults):
 *   S=384        tokens per sequence (T)
 *   d=64         head dimension
 *   layers=12, heads=12, chunks=1
 *   causal=0     1: query i sees keys <= i
 *   queries=0    query rows per head: 0 = S (summarization / prefill);
 *                1 = one generation step against S cached keys
 *   padding=0    fraction of the S positions that are padding (at the end;
 *                never counted as valid)
 *   density=1    kept / valid pairs of every head
 *   spread=0     kept per row varies linearly from (1-spread) to (1+spread)
 *                times the mean over a head's rows (0 = every row alike)
 *   bits=8.3     LEOPARD: mean K bits processed per pruned score (sign included)
 *   k_bits=12    LEOPARD: K width (kept scores read all of it), B=2 bits per step
 *   locality=0.021  SPRINT: keys newly fetched between adjacent queries, as a
 *                fraction of the valid keys (paper: 2.1 %)
 *   token_prune=0   SpAtten: mean fraction of tokens pruned over the layers;
 *                cascade schedule: layer l prunes 2·token_prune·l/(L-1) of them
 *   head_prune=0    SpAtten: the same for heads
 *   value_prune=0   SpAtten: fraction of kept pairs whose value row is pruned
 *                locally (generation stage)
 *   requant=0    SpAtten: fraction of rows that fetch the key LSBs again
 *   k_msb=8      SpAtten: key MSB bits fetched first (of k_bits)
 * Head statistics written (per head, additive): pruned, kbits_pruned,
 * kbits_kept, steps_pruned, steps_kept (LEOPARD's names), pad_queries,
 * pad_keys, first_fetch, fetched, reused, adjacent_new, adjacent_slots
 * (SPRINT's), v_pruned, pq_rows, pq_requant_rows, pq_key_bits (SpAtten's);
 * layer statistics tokens_pruned, heads_pruned. rows are always present. */
#ifndef AP_TRACE_SYNTH_H
#define AP_TRACE_SYNTH_H

#include "attnprune.h"
#include "trace/trace_read.h"

/* Build the trace the spec describes. Unknown keys, values out of range and
 * shapes too large (N·L·H·T over 2^27 row entries, 512 MiB of rows) are AP_ERR_INVALID_ARG
 * naming the key. Free with ap_trace_free. */
enum ap_status ap_trace_synthesize(const char *spec, struct ap_trace *out);

/* Write any trace to dir in the trace format (trace.json, heads.csv,
 * layers.csv, rows.npy when t->rows), under a temporary name renamed when
 * complete; an existing trace directory there is replaced. */
enum ap_status ap_trace_save(const struct ap_trace *t, const char *dir);

/* AP_ERR_IO when dir exists and is not a trace directory (ap_trace_save
 * would refuse to replace it): for writers to check before long work. */
enum ap_status ap_trace_dir_check(const char *dir);

#endif

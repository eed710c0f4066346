/* sim.h — the simulators' shared interface: an architecture configuration
 * (configs/NAME.ini), a trace (src/trace/trace_read.h), one report struct
 * for every accelerator so comparisons are one table (docs/simulators.md).
 *
 *     struct ap_sim_report r;
 *     ap_sim_run("configs/leopard-ae.ini", &trace, &r);   // and its baseline
 *     ap_sim_report_json(&r, stdout);
 *
 * Legend: N = chunks, L = layers, H = heads, T = tokens per chunk. */
#ifndef AP_SIM_SIM_H
#define AP_SIM_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "attnprune.h"
#include "io/ini_file.h"
#include "sim/components.h"
#include "sim/tech.h"
#include "trace/trace_read.h"

#define AP_SIM_MAX_ENTRIES 24 /* components and units in a report */
#define AP_SIM_NAME_MAX 64

/* An architecture configuration. [arch] keys read by the loader:
 *   kind      hammer | sanger | leopard | sprint | spatten   (required)
 *   name      label in reports (default: the file name without .ini)
 *   pruning   1 = the accelerator, 0 = its baseline: same memories, clock
 *             and bit widths, every valid pair computed, no predictor
 *   baseline  configuration file of the baseline, relative to this file's
 *             folder (optional; reports then carry the ratios)
 *   clock_mhz, node_nm, area_mm2 (0 = unknown), static_mw (leakage and
 *             clock power, booked as "static" over the run's time)
 * [tech] overrides the technology table (tech.h). Every other section is
 * the simulator's; every key must be read by someone (a misspelt key is an
 * error). */
struct ap_sim_arch {
    char path[1024];
    char name[AP_SIM_NAME_MAX], kind[32];
    int32_t pruning;
    char baseline_path[1024]; /* resolved, or "" */
    double clock_hz, node_nm, area_mm2, static_mw;
    struct ap_tech tech;
    struct ap_ini ini;
};

enum ap_status ap_sim_arch_load(const char *path, struct ap_sim_arch *out);
void ap_sim_arch_free(struct ap_sim_arch *a);

/* A simulator parameter from section.key of the configuration: missing ->
 * def; out of [lo, hi] or not a number -> AP_ERR_FORMAT naming the file,
 * section and key. */
enum ap_status ap_sim_param(struct ap_sim_arch *a, const char *section, const char *key, double def, double lo,
                            double hi, double *out);
enum ap_status ap_sim_param_int(struct ap_sim_arch *a, const char *section, const char *key, int64_t def, int64_t lo,
                                int64_t hi, int32_t *out);

struct ap_sim_entry {
    char name[AP_SIM_COMPONENT_NAME_MAX];
    double value;
};

/* What a simulator reports. Every accelerator fills the same fields. */
struct ap_sim_report {
    char arch[AP_SIM_NAME_MAX], kind[32], trace[AP_TRACE_VALUE_MAX];
    int32_t pruning;
    double clock_hz;
    double cycles, seconds;
    double energy_pj;                               /* sum of the components */
    int32_t n_components;
    struct ap_sim_entry components[AP_SIM_MAX_ENTRIES]; /* energy by component, pJ */
    int32_t n_units;
    struct ap_sim_entry unit_busy[AP_SIM_MAX_ENTRIES];  /* busy cycles per unit */
    double stall_cycles;      /* cycles some unit waited on another (FIFO full, memory) */
    double utilization;       /* useful MACs / (lanes × cycles) of the main compute array(s) */
    double dram_bytes;        /* main-memory traffic (DRAM, HBM, or ReRAM main memory), bytes */
    double reram_bytes;       /* of which ReRAM (SPRINT), bytes */
    double sram_bytes;        /* on-chip buffer traffic, bytes */
    double ops;               /* dense-equivalent attention operations of the trace (ap_sim_dense_ops) */
    double gops, gops_per_j, area_mm2, gops_per_mm2;
    double stats[8];          /* simulator-specific figures, named in stat_names (e.g. Sanger's utilization before pack & split) */
    char stat_names[8][AP_SIM_COMPONENT_NAME_MAX];
    int32_t n_stats;
    char notes[1024];         /* what the simulator estimated because the trace lacked it */
    /* against the baseline on the same trace (0 when none was configured) */
    char baseline[AP_SIM_NAME_MAX];
    double baseline_cycles, baseline_energy_pj, baseline_dram_bytes;
    double speedup_vs_baseline, energy_ratio_vs_baseline, traffic_vs_baseline;
};

/* Booking, for the simulators: add value to the named entry (created on
 * first use, in order). Over AP_SIM_MAX_ENTRIES names is a programmer bug. */
void ap_sim_energy(struct ap_sim_report *r, const char *component, double pj);
void ap_sim_busy(struct ap_sim_report *r, const char *unit, double cycles);
void ap_sim_stat(struct ap_sim_report *r, const char *name, double value);
/* Append a note (once per distinct text). */
void ap_sim_note(struct ap_sim_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Dense-equivalent attention operations of a trace: for every computed or
 * token/head-pruned head, 2·d multiply-adds for Q·K plus 2·d for P·V per
 * valid pair of the unpruned sequence (the chunk's largest valid count
 * among its heads). The common numerator of GOP/s for every accelerator,
 * so effective throughputs are comparable. */
double ap_sim_dense_ops(const struct ap_trace *t);

/* Query rows of head index h ((n·L + l)·H + head) of the trace: the kept
 * keys of each computed row and its valid keys, in row order. From rows.npy
 * when present (the first `queries` positions when all kept rows lie there,
 * else the rows with kept keys in order, then zero rows up to `queries`);
 * otherwise kept spread evenly over the rows (remainder to the first ones).
 * Causal traces: row r of q rows over k keys sees k − q + r + 1 keys.
 * kept and valid hold T entries; returns the number of rows (= queries). */
int32_t ap_sim_head_rows(const struct ap_trace *t, int64_t h, int32_t *kept, int32_t *valid);

/* A component's energy in pJ (0 when the report has no such component), a
 * simulator statistic (NAN when absent). */
double ap_sim_report_energy(const struct ap_sim_report *r, const char *component);
double ap_sim_report_stat(const struct ap_sim_report *r, const char *name);

/* One simulator: fills r from the trace (cycles, energy via ap_sim_energy,
 * dram bytes, utilization, ...). ap_sim_run_arch fills the common fields
 * (name, seconds, GOP/s, static energy) after it returns. */
typedef enum ap_status (*ap_sim_fn)(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r);

enum ap_status ap_sim_hammer(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r);
enum ap_status ap_sim_sanger(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r);
enum ap_status ap_sim_leopard(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r);
enum ap_status ap_sim_sprint(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r);
enum ap_status ap_sim_spatten(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r);

/* Run one loaded configuration on a trace (no baseline). Checks afterwards
 * that every configuration key was read. */
enum ap_status ap_sim_run_arch(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r);

/* Load path, run it, and when it names a baseline run that on the same
 * trace and fill the ratios. */
enum ap_status ap_sim_run(const char *arch_path, const struct ap_trace *t, struct ap_sim_report *r);

/* Output: the JSON object (fields named in docs/simulators.md), and one CSV
 * row under ap_sim_csv_header's columns. */
enum ap_status ap_sim_report_json(const struct ap_sim_report *r, FILE *f);
void ap_sim_csv_header(FILE *f);
void ap_sim_csv_row(const struct ap_sim_report *r, FILE *f);

#endif

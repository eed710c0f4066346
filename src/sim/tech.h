/* tech.h — the technology table: energy per event, each entry with the node
 * it was published for and its source, scaled to the node a configuration
 * asks for (docs/simulators.md, "Technology table").
 *
 * Scaling rule between nodes (logic only): dynamic energy C·V² with C
 * proportional to the feature size and V the node's nominal supply,
 *     E(n2) = E(n1) · (n2 / n1) · (V(n2) / V(n1))²,
 * V: 28 nm 0.9 V, 40 nm 0.9 V, 45 nm 0.9 V, 55 nm 1.0 V, 65 nm 1.1 V,
 * 90 nm 1.2 V, linear in between. 45 → 65 nm gives ×2.16 (Stillmaker & Baas,
 * Integration 2017, tabulate about ×2 for this step). Off-chip memories
 * (DRAM, HBM) and ReRAM device energies are not scaled: they do not follow
 * the logic node. */
#ifndef AP_SIM_TECH_H
#define AP_SIM_TECH_H

#include <stdint.h>

#include "attnprune.h"
#include "io/ini_file.h"

/* Energies at the configured node, in pJ. Every field may be overridden by a
 * key of the same name in the configuration's [tech] section (given at
 * node_nm, not scaled). */
struct ap_tech {
    double node_nm;         /* the node every logic energy below is scaled to */
    double add_pj_per_bit;  /* integer adder, per bit of width                    (Horowitz 2014, 45 nm) */
    double mul_pj_per_bit2; /* integer multiplier, per a_bits x b_bits            (Horowitz 2014, 45 nm) */
    double fp16_add_pj, fp16_mul_pj, fp32_add_pj, fp32_mul_pj; /* one operation   (Horowitz 2014, 45 nm) */
    double reg_pj_per_bit;  /* a flip-flop written and read, per bit              (composed, see tech.c) */
    double sram_pj_per_bit; /* SRAM access per bit for an 8 KB array; ap_tech_sram_pj_per_bit scales it
                               with sqrt(capacity / 8 KB)                          (Horowitz 2014, 45 nm) */
    double exp_pj;          /* one exponential: 1 KB table read, a 16-bit multiply and add (composed) */
    double div_pj;          /* one reciprocal / division, 16-bit (Newton step: two multiplies, an add) */
    double dram_pj_per_bit; /* DDR4 interface and array, per bit moved (not scaled) */
    double hbm_pj_per_bit;  /* HBM2, per bit moved (O'Connor et al., MICRO 2017; not scaled) */
    double reram_mac_pj;    /* in-memory 4-bit MAC with its DAC share (SPRINT table 3.1 text, 65 nm device) */
    double reram_read_pj_per_bit, reram_write_pj_per_bit; /* ReRAM cell read / write (SPRINT) */
    double reram_cmp_pj;    /* analog comparator, one decision (SPRINT) */
};

/* E(to) / E(from) under the rule above; nodes outside [20, 130] nm are
 * clamped to it. */
double ap_tech_scale(double from_nm, double to_nm);

/* The table at node_nm, then the [tech] section's overrides from ini (each
 * key must name a field; its value is taken at node_nm as given). Errors
 * name the file and key. */
enum ap_status ap_tech_load(double node_nm, struct ap_ini *ini, struct ap_tech *out);

/* Energies of composite events, in pJ. */
double ap_tech_mac_pj(const struct ap_tech *t, int32_t a_bits, int32_t b_bits); /* multiply + add of a+b bits */
double ap_tech_add_pj(const struct ap_tech *t, int32_t bits);
double ap_tech_cmp_pj(const struct ap_tech *t, int32_t bits);                  /* a comparator = an adder */
double ap_tech_sram_pj_per_bit(const struct ap_tech *t, double capacity_bytes);

/* One line per table entry (name, value at the node, unit, source node and
 * source) for docs and 'attnprune sim --tech'; returns the number of
 * entries; i out of range gives NULL fields. */
int32_t ap_tech_describe(const struct ap_tech *t, int32_t i, const char **name, double *value, const char **unit,
                         double *source_nm, const char **source);

#endif

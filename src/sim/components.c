/* components.c — SRAM, DRAM/HBM, ReRAM, FIFO and PE-array models
 * (components.h): timing rules and energy per event. */
#include "sim/components.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static void set_name(char *dst, const char *name) { snprintf(dst, AP_SIM_COMPONENT_NAME_MAX, "%s", name); }

/* ---------------------------------------------------------------- SRAM */

void ap_sram_init(struct ap_sram *m, const char *name, double capacity_bytes, int32_t banks, int32_t port_bits,
                  const struct ap_tech *tech) {
    memset(m, 0, sizeof *m);
    set_name(m->name, name);
    m->capacity_bytes = capacity_bytes;
    m->banks = banks > 0 ? banks : 1;
    m->port_bits = port_bits > 0 ? port_bits : 64;
    /* each bank is an array of capacity / banks: its bits cost what that size costs */
    m->pj_per_bit = ap_tech_sram_pj_per_bit(tech, capacity_bytes / m->banks);
}

static double port_cycles(const struct ap_sram *m, double bytes) {
    return bytes > 0 ? ceil(8.0 * bytes / ((double)m->banks * m->port_bits)) : 0.0;
}

double ap_sram_read(struct ap_sram *m, double bytes) {
    double c = port_cycles(m, bytes);
    m->read_bits += 8.0 * bytes, m->busy_cycles += c;
    return c;
}

double ap_sram_write(struct ap_sram *m, double bytes) {
    double c = port_cycles(m, bytes);
    m->write_bits += 8.0 * bytes, m->busy_cycles += c;
    return c;
}

double ap_sram_energy_pj(const struct ap_sram *m) { return (m->read_bits + m->write_bits) * m->pj_per_bit; }

/* ---------------------------------------------------------------- DRAM */

void ap_dram_init(struct ap_dram *m, const char *name, int32_t channels, double gbytes_per_s, int32_t transaction_bytes,
                  double pj_per_bit, double clock_hz) {
    memset(m, 0, sizeof *m);
    set_name(m->name, name);
    m->channels = channels > 0 ? channels : 1;
    m->bytes_per_cycle = gbytes_per_s * 1e9 / clock_hz;
    m->transaction_bytes = transaction_bytes > 0 ? transaction_bytes : 1;
    m->pj_per_bit = pj_per_bit;
}

static double transfer(struct ap_dram *m, double n, double bytes) {
    if (n <= 0 || bytes <= 0) return 0.0;
    double tx = n * ceil(bytes / m->transaction_bytes);
    double moved = tx * m->transaction_bytes;
    m->transactions += tx, m->bytes += moved, m->requested_bytes += n * bytes;
    return moved / (m->channels * m->bytes_per_cycle);
}

double ap_dram_read(struct ap_dram *m, double n, double bytes) { return transfer(m, n, bytes); }
double ap_dram_write(struct ap_dram *m, double n, double bytes) { return transfer(m, n, bytes); }
double ap_dram_energy_pj(const struct ap_dram *m) { return 8.0 * m->bytes * m->pj_per_bit; }

/* ---------------------------------------------------------------- ReRAM */

void ap_reram_init(struct ap_reram *m, const char *name, int32_t threshold_cycles, const struct ap_tech *tech) {
    memset(m, 0, sizeof *m);
    set_name(m->name, name);
    m->mac_pj = tech->reram_mac_pj;
    m->read_pj_per_bit = tech->reram_read_pj_per_bit;
    m->write_pj_per_bit = tech->reram_write_pj_per_bit;
    m->cmp_pj = tech->reram_cmp_pj;
    m->threshold_cycles = threshold_cycles;
}

double ap_reram_energy_pj(const struct ap_reram *m) {
    return m->macs * m->mac_pj + m->read_bits * m->read_pj_per_bit + m->write_bits * m->write_pj_per_bit +
           m->compares * m->cmp_pj;
}

/* ---------------------------------------------------------------- FIFO */

enum ap_status ap_fifo_init(struct ap_fifo *f, const char *name, int32_t depth, int32_t entry_bits,
                            const struct ap_tech *tech) {
    memset(f, 0, sizeof *f);
    set_name(f->name, name);
    if (depth < 1) return ap_error(AP_ERR_INVALID_ARG, "FIFO %s: depth %d, expected at least 1", name, depth);
    f->depth = depth, f->entry_bits = entry_bits;
    f->leave = calloc((size_t)depth, sizeof *f->leave);
    if (!f->leave) return ap_error(AP_ERR_NOMEM, "FIFO %s: out of memory", name);
    /* a register file of depth x entry_bits: one SRAM-like bit of that size */
    f->pj_per_bit = ap_tech_sram_pj_per_bit(tech, (double)depth * entry_bits / 8.0);
    return AP_OK;
}

void ap_fifo_free(struct ap_fifo *f) {
    free(f->leave);
    f->leave = NULL;
}

double ap_fifo_push(struct ap_fifo *f, double ready, double service, double *done) {
    int64_t slot = f->count % f->depth;
    /* the slot is free once the entry depth places earlier has left */
    double enter = ready;
    if (f->count >= f->depth && f->leave[slot] > enter) enter = f->leave[slot];
    f->stall_cycles += enter - ready;
    /* entries that have left by `enter` (leave times never decrease: one
     * consumer, in order); those older than the reused slot surely have */
    if (f->count >= f->depth && f->left < f->count - f->depth + 1) f->left = f->count - f->depth + 1;
    while (f->left < f->count && f->leave[f->left % f->depth] <= enter) f->left++;
    double occ = (double)(f->count - f->left) + 1.0;
    if (occ > f->max_occupancy) f->max_occupancy = occ;
    double start = enter > f->consumer_free ? enter : f->consumer_free;
    double leave = start + service;
    f->consumer_free = leave;
    f->leave[slot] = leave;
    f->count++;
    if (done) *done = leave;
    return enter;
}

double ap_fifo_energy_pj(const struct ap_fifo *f) { return 2.0 * (double)f->count * f->entry_bits * f->pj_per_bit; }

/* ---------------------------------------------------------------- PE array */

void ap_pe_init(struct ap_pe_array *p, const char *name, int32_t lanes, int32_t a_bits, int32_t b_bits,
                const struct ap_tech *tech) {
    memset(p, 0, sizeof *p);
    set_name(p->name, name);
    p->lanes = lanes > 0 ? lanes : 1;
    p->a_bits = a_bits, p->b_bits = b_bits;
    p->mac_pj = ap_tech_mac_pj(tech, a_bits, b_bits);
}

double ap_pe_energy_pj(const struct ap_pe_array *p) { return p->macs * p->mac_pj + p->extra_pj; }

double ap_pe_utilization(const struct ap_pe_array *p, double cycles) {
    return cycles > 0 ? p->macs / ((double)p->lanes * cycles) : 0.0;
}

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

enum ap_status ap_fifo_init_sized(struct ap_fifo *f, const char *name, double capacity, int32_t max_entries,
                                  int32_t unit_bits, const struct ap_tech *tech) {
    memset(f, 0, sizeof *f);
    set_name(f->name, name);
    if (max_entries < 1 || !(capacity > 0))
        return ap_error(AP_ERR_INVALID_ARG, "FIFO %s: %d entries of capacity %g, expected at least 1 and > 0", name,
                        max_entries, capacity);
    f->depth = max_entries, f->entry_bits = unit_bits, f->capacity = capacity;
    f->leave = calloc((size_t)max_entries, sizeof *f->leave);
    f->size = calloc((size_t)max_entries, sizeof *f->size);
    if (!f->leave || !f->size) {
        ap_fifo_free(f);
        return ap_error(AP_ERR_NOMEM, "FIFO %s: out of memory", name);
    }
    /* a register file of capacity x unit_bits: one SRAM-like bit of that size */
    f->pj_per_bit = ap_tech_sram_pj_per_bit(tech, capacity * unit_bits / 8.0);
    return AP_OK;
}

enum ap_status ap_fifo_init(struct ap_fifo *f, const char *name, int32_t depth, int32_t entry_bits,
                            const struct ap_tech *tech) {
    return ap_fifo_init_sized(f, name, depth, depth, entry_bits, tech);
}

void ap_fifo_free(struct ap_fifo *f) {
    free(f->leave), free(f->size);
    f->leave = f->size = NULL;
}

double ap_fifo_push_sized(struct ap_fifo *f, double ready, double size, double service, double *done) {
    double enter = ready;
    for (;;) {
        /* entries that have left by `enter` (leave times never decrease:
         * one consumer, in order) */
        while (f->head < f->tail && f->leave[f->head % f->depth] <= enter) {
            f->occupancy -= f->size[f->head % f->depth];
            f->head++;
        }
        if (f->head == f->tail) break;
        int ring_full = f->tail - f->head >= f->depth;
        if (!ring_full && f->occupancy + size <= f->capacity * (1 + 1e-12)) break;
        enter = f->leave[f->head % f->depth]; /* wait for the oldest to leave */
    }
    if (f->head == f->tail) f->occupancy = 0; /* no rounding drift when empty */
    f->stall_cycles += enter - ready;
    double start = enter > f->consumer_free ? enter : f->consumer_free;
    f->consumer_free = start + service;
    f->leave[f->tail % f->depth] = f->consumer_free, f->size[f->tail % f->depth] = size;
    f->tail++, f->occupancy += size, f->units += size;
    if (f->occupancy > f->max_occupancy) f->max_occupancy = f->occupancy;
    if (done) *done = f->consumer_free;
    return enter;
}

double ap_fifo_push(struct ap_fifo *f, double ready, double service, double *done) {
    return ap_fifo_push_sized(f, ready, 1.0, service, done);
}

void ap_fifo_book(struct ap_fifo *f, double units) { f->units += units; }

double ap_fifo_energy_pj(const struct ap_fifo *f) { return 2.0 * f->units * f->entry_bits * f->pj_per_bit; }

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

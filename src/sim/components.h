/* components.h — the parts every accelerator model is built from, each with
 * its timing rule and its energy per event (docs/simulators.md).
 *
 * Components count events; a simulator decides how their cycles overlap
 * (pipelined stages take the slowest, sequential ones add) and, at the end,
 * books each component's energy into the report under the component's name.
 * Times are in cycles of the accelerator's clock, as doubles (exact for
 * integers below 2^53). */
#ifndef AP_SIM_COMPONENTS_H
#define AP_SIM_COMPONENTS_H

#include <stdint.h>

#include "attnprune.h"
#include "sim/tech.h"

#define AP_SIM_COMPONENT_NAME_MAX 32

/* ---- SRAM buffer -------------------------------------------------------
 * capacity, banks of port_bits each: an access of B bytes occupies the ports
 * ceil(8·B / (banks·port_bits)) cycles. Energy per bit from the technology
 * table at this capacity. */
struct ap_sram {
    char name[AP_SIM_COMPONENT_NAME_MAX];
    double capacity_bytes;
    int32_t banks, port_bits;
    double pj_per_bit;             /* at this capacity */
    double read_bits, write_bits;  /* counted */
    double busy_cycles;            /* port cycles counted */
};
void ap_sram_init(struct ap_sram *m, const char *name, double capacity_bytes, int32_t banks, int32_t port_bits,
                  const struct ap_tech *tech);
double ap_sram_read(struct ap_sram *m, double bytes);  /* returns port cycles */
double ap_sram_write(struct ap_sram *m, double bytes); /* returns port cycles */
double ap_sram_energy_pj(const struct ap_sram *m);

/* ---- DRAM / HBM channels -----------------------------------------------
 * channels × bytes_per_cycle each (at the accelerator's clock); every
 * request is rounded up to whole transactions; a transfer spread over all
 * channels takes moved / (channels · bytes_per_cycle) cycles. */
struct ap_dram {
    char name[AP_SIM_COMPONENT_NAME_MAX];
    int32_t channels;
    double bytes_per_cycle;     /* per channel */
    int32_t transaction_bytes;
    double pj_per_bit;
    double bytes;               /* moved, whole transactions */
    double requested_bytes;     /* asked for, before rounding */
    double transactions;
};
/* gbytes_per_s per channel, converted at clock_hz. */
void ap_dram_init(struct ap_dram *m, const char *name, int32_t channels, double gbytes_per_s, int32_t transaction_bytes,
                  double pj_per_bit, double clock_hz);
/* n requests of `bytes` each (each rounded up to transactions); returns the
 * cycles at full bandwidth. */
double ap_dram_read(struct ap_dram *m, double n, double bytes);
double ap_dram_write(struct ap_dram *m, double n, double bytes);
double ap_dram_energy_pj(const struct ap_dram *m);

/* ---- ReRAM arrays (SPRINT) ---------------------------------------------
 * In-memory MACs (4-bit cells, DAC on the query side), cell reads and
 * writes, analog comparator decisions; thresholding a query takes
 * threshold_cycles. */
struct ap_reram {
    char name[AP_SIM_COMPONENT_NAME_MAX];
    double mac_pj, read_pj_per_bit, write_pj_per_bit, cmp_pj;
    int32_t threshold_cycles;
    double macs, read_bits, write_bits, compares; /* counted */
};
void ap_reram_init(struct ap_reram *m, const char *name, int32_t threshold_cycles, const struct ap_tech *tech);
double ap_reram_energy_pj(const struct ap_reram *m);

/* ---- FIFO with back-pressure -------------------------------------------
 * A producer/consumer pair through a buffer of `capacity` units, simulated
 * entry by entry (a tandem queue with a finite buffer): an entry of `size`
 * units enters when the producer offers it and the entries still queued
 * leave room for it (or the FIFO is empty: an entry larger than the whole
 * buffer enters alone); the consumer starts it when it has entered and the
 * previous one is done, and takes `service` cycles; it leaves when done.
 * The producer stalls while the FIFO is full. A plain FIFO of `depth`
 * entries is capacity = depth with entries of size 1. */
struct ap_fifo {
    char name[AP_SIM_COMPONENT_NAME_MAX];
    int32_t depth;         /* most entries queued at once (the ring) */
    int32_t entry_bits;    /* bits of a unit-size entry, for the energy */
    double capacity;       /* units it holds */
    double pj_per_bit;     /* a register-file write + read, per bit */
    double *leave, *size;  /* (depth) rings: when each queued entry leaves, its units */
    int64_t head, tail;    /* queued entries [head, tail); tail = entries pushed */
    double occupancy;      /* units queued */
    double consumer_free;  /* when the consumer finishes its current entry */
    double stall_cycles;   /* producer cycles lost to a full FIFO */
    double max_occupancy;  /* most units held at once, the entering entry included */
    double units;          /* units that passed (pushed, or booked by ap_fifo_book) */
};
/* depth entries of entry_bits each. */
enum ap_status ap_fifo_init(struct ap_fifo *f, const char *name, int32_t depth, int32_t entry_bits,
                            const struct ap_tech *tech);
/* capacity units (unit_bits each) in at most max_entries entries. */
enum ap_status ap_fifo_init_sized(struct ap_fifo *f, const char *name, double capacity, int32_t max_entries,
                                  int32_t unit_bits, const struct ap_tech *tech);
void ap_fifo_free(struct ap_fifo *f);
/* Offer an entry at time `ready` that will take the consumer `service`
 * cycles; returns when it entered (>= ready: the producer resumes then).
 * *done, when not NULL, receives when the consumer finishes it. */
double ap_fifo_push(struct ap_fifo *f, double ready, double service, double *done);
double ap_fifo_push_sized(struct ap_fifo *f, double ready, double size, double service, double *done);
/* Units that pass through without being simulated one by one (a
 * simulator that proved they cannot fill it), for the energy. */
void ap_fifo_book(struct ap_fifo *f, double units);
/* Every unit that passed written and read once. */
double ap_fifo_energy_pj(const struct ap_fifo *f);

/* ---- PE arrays ---------------------------------------------------------
 * lanes multipliers of a_bits × b_bits (a dot-product unit of `lanes` taps,
 * a systolic array of rows × cols = lanes, or bit-serial units whose b_bits
 * is the bits taken per cycle). Energy per MAC from the technology table;
 * busy_cycles and macs are what the simulator books. */
struct ap_pe_array {
    char name[AP_SIM_COMPONENT_NAME_MAX];
    int32_t lanes, a_bits, b_bits;
    double mac_pj;
    double macs;          /* useful MACs counted */
    double busy_cycles;   /* cycles the array was occupied */
    double extra_pj;      /* other events of the unit (exp, compare, ...) booked by the simulator */
};
void ap_pe_init(struct ap_pe_array *p, const char *name, int32_t lanes, int32_t a_bits, int32_t b_bits,
                const struct ap_tech *tech);
double ap_pe_energy_pj(const struct ap_pe_array *p);
/* Fraction of the lanes' cycles doing useful MACs over `cycles`. */
double ap_pe_utilization(const struct ap_pe_array *p, double cycles);

#endif

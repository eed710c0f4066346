/* tech.c — the technology table (tech.h): each energy with its source node
 * and source, scaled to the configured node. */
#include "sim/tech.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/error.h"

/* Nominal supply per node (V), for the C·V² rule; linear in between. */
static const struct {
    double nm, v;
} g_supply[] = {{20, 0.85}, {28, 0.9}, {40, 0.9}, {45, 0.9}, {55, 1.0}, {65, 1.1}, {90, 1.2}, {130, 1.2}};

static double supply(double nm) {
    const size_t n = sizeof g_supply / sizeof g_supply[0];
    if (nm <= g_supply[0].nm) return g_supply[0].v;
    for (size_t i = 1; i < n; i++)
        if (nm <= g_supply[i].nm) {
            double f = (nm - g_supply[i - 1].nm) / (g_supply[i].nm - g_supply[i - 1].nm);
            return g_supply[i - 1].v + f * (g_supply[i].v - g_supply[i - 1].v);
        }
    return g_supply[n - 1].v;
}

static double clamp_node(double nm) { return nm < 20 ? 20 : nm > 130 ? 130 : nm; }

double ap_tech_scale(double from_nm, double to_nm) {
    from_nm = clamp_node(from_nm), to_nm = clamp_node(to_nm);
    double vf = supply(from_nm), vt = supply(to_nm);
    return (to_nm / from_nm) * (vt * vt) / (vf * vf);
}

/* The table. value is at source_nm; scaled = 1 for entries that follow the
 * logic node. Horowitz, "Computing's energy problem", ISSCC 2014, gives
 * 45 nm / 0.9 V: 8-bit add 0.03 pJ, 32-bit add 0.1 pJ, 8-bit multiply
 * 0.2 pJ, 32-bit multiply 3.1 pJ, fp16 add 0.4 / multiply 1.1 pJ, fp32 add
 * 0.9 / multiply 3.7 pJ, 64-bit read of an 8 KB SRAM 10 pJ (32 KB 20 pJ,
 * 1 MB 100 pJ: about sqrt(capacity)). */
enum { F_ADD, F_MUL, F_H_ADD, F_H_MUL, F_S_ADD, F_S_MUL, F_REG, F_SRAM, F_EXP, F_DIV, F_DRAM, F_HBM, F_RMAC, F_RREAD,
       F_RWRITE, F_RCMP, F_COUNT };

static const struct {
    const char *name;
    size_t offset;
    double value, source_nm;
    int scaled;
    const char *unit, *source;
} g_table[F_COUNT] = {
    [F_ADD] = {"add_pj_per_bit", offsetof(struct ap_tech, add_pj_per_bit), 0.1 / 32, 45, 1, "pJ/bit",
               "Horowitz ISSCC 2014: 32-bit add 0.1 pJ"},
    [F_MUL] = {"mul_pj_per_bit2", offsetof(struct ap_tech, mul_pj_per_bit2), 0.2 / 64, 45, 1, "pJ/bit^2",
               "Horowitz ISSCC 2014: 8-bit multiply 0.2 pJ (array multiplier ~ a*b bits)"},
    [F_H_ADD] = {"fp16_add_pj", offsetof(struct ap_tech, fp16_add_pj), 0.4, 45, 1, "pJ", "Horowitz ISSCC 2014"},
    [F_H_MUL] = {"fp16_mul_pj", offsetof(struct ap_tech, fp16_mul_pj), 1.1, 45, 1, "pJ", "Horowitz ISSCC 2014"},
    [F_S_ADD] = {"fp32_add_pj", offsetof(struct ap_tech, fp32_add_pj), 0.9, 45, 1, "pJ", "Horowitz ISSCC 2014"},
    [F_S_MUL] = {"fp32_mul_pj", offsetof(struct ap_tech, fp32_mul_pj), 3.7, 45, 1, "pJ", "Horowitz ISSCC 2014"},
    /* a flip-flop write + read: taken as one SRAM bit of a tiny (64 B)
     * array, sqrt(64 / 8192) of the 8 KB figure. Our choice. */
    [F_REG] = {"reg_pj_per_bit", offsetof(struct ap_tech, reg_pj_per_bit), 10.0 / 64 * 0.08839, 45, 1, "pJ/bit",
               "composed: 8 KB SRAM bit (Horowitz) x sqrt(64 B / 8 KB)"},
    [F_SRAM] = {"sram_pj_per_bit", offsetof(struct ap_tech, sram_pj_per_bit), 10.0 / 64, 45, 1, "pJ/bit",
                "Horowitz ISSCC 2014: 64-bit read of an 8 KB SRAM 10 pJ"},
    /* exp: 16 bits from a 1 KB table (sqrt(1/8) of the 8 KB bit), one fp16
     * multiply and add for the interpolation. Our composition. */
    [F_EXP] = {"exp_pj", offsetof(struct ap_tech, exp_pj), 16 * (10.0 / 64) * 0.35355 + 1.1 + 0.4, 45, 1, "pJ",
               "composed: 1 KB table read (16 bits) + fp16 multiply + add"},
    [F_DIV] = {"div_pj", offsetof(struct ap_tech, div_pj), 2 * 1.1 + 0.4, 45, 1, "pJ",
               "composed: Newton reciprocal step, two fp16 multiplies + add"},
    [F_DRAM] = {"dram_pj_per_bit", offsetof(struct ap_tech, dram_pj_per_bit), 15.0, 0, 0, "pJ/bit",
                "DDR4 access and interface, ~15 pJ/bit (O'Connor et al., MICRO 2017, fig. 1)"},
    [F_HBM] = {"hbm_pj_per_bit", offsetof(struct ap_tech, hbm_pj_per_bit), 3.9, 0, 0, "pJ/bit",
               "HBM2 3.9 pJ/bit (O'Connor et al., MICRO 2017)"},
    [F_RMAC] = {"reram_mac_pj", offsetof(struct ap_tech, reram_mac_pj), 0.10, 65, 0, "pJ",
                "SPRINT (thesis ch. 3): in-memory MAC with DAC 0.10 pJ"},
    [F_RREAD] = {"reram_read_pj_per_bit", offsetof(struct ap_tech, reram_read_pj_per_bit), 3.1, 65, 0, "pJ/bit",
                 "SPRINT (thesis ch. 3): ReRAM read 3.1 pJ/bit"},
    [F_RWRITE] = {"reram_write_pj_per_bit", offsetof(struct ap_tech, reram_write_pj_per_bit), 24.4, 65, 0, "pJ/bit",
                  "SPRINT (thesis ch. 3): ReRAM write 24.4 pJ/bit"},
    [F_RCMP] = {"reram_cmp_pj", offsetof(struct ap_tech, reram_cmp_pj), 0.041, 65, 0, "pJ",
                "SPRINT (thesis ch. 3): analog comparator 41 fJ"},
};

enum ap_status ap_tech_load(double node_nm, struct ap_ini *ini, struct ap_tech *out) {
    memset(out, 0, sizeof *out);
    out->node_nm = node_nm;
    for (int i = 0; i < F_COUNT; i++) {
        double v = g_table[i].value;
        if (g_table[i].scaled) v *= ap_tech_scale(g_table[i].source_nm, node_nm);
        *(double *)((char *)out + g_table[i].offset) = v;
    }
    if (!ini) return AP_OK;
    for (int32_t e = 0; e < ini->n; e++) {
        struct ap_ini_entry *en = &ini->entries[e];
        if (strcmp(en->section, "tech") != 0) continue;
        int found = 0;
        for (int i = 0; i < F_COUNT && !found; i++)
            if (strcmp(en->key, g_table[i].name) == 0) {
                double v;
                enum ap_status st = ap_ini_double(ini, "tech", en->key, 0, 0, 1e9, &v);
                if (st != AP_OK) return st;
                *(double *)((char *)out + g_table[i].offset) = v;
                found = 1;
            }
        if (!found) return ap_error(AP_ERR_FORMAT, "%s: [tech] %s is not an entry of the technology table", ini->path, en->key);
    }
    return AP_OK;
}

int32_t ap_tech_describe(const struct ap_tech *t, int32_t i, const char **name, double *value, const char **unit,
                         double *source_nm, const char **source) {
    if (i < 0 || i >= F_COUNT) {
        *name = *unit = *source = NULL;
        *value = *source_nm = 0;
        return F_COUNT;
    }
    *name = g_table[i].name;
    *value = *(const double *)((const char *)t + g_table[i].offset);
    *unit = g_table[i].unit;
    *source_nm = g_table[i].source_nm;
    *source = g_table[i].source;
    return F_COUNT;
}

double ap_tech_mac_pj(const struct ap_tech *t, int32_t a_bits, int32_t b_bits) {
    return t->mul_pj_per_bit2 * a_bits * b_bits + t->add_pj_per_bit * (a_bits + b_bits);
}

double ap_tech_add_pj(const struct ap_tech *t, int32_t bits) { return t->add_pj_per_bit * bits; }

double ap_tech_cmp_pj(const struct ap_tech *t, int32_t bits) { return t->add_pj_per_bit * bits; }

double ap_tech_sram_pj_per_bit(const struct ap_tech *t, double capacity_bytes) {
    if (capacity_bytes < 64) capacity_bytes = 64;
    return t->sram_pj_per_bit * sqrt(capacity_bytes / 8192.0);
}

/* spatten.c — placeholder until the spatten simulator lands (issue 6, in progress). */
#include "core/error.h"
#include "sim/sim.h"

enum ap_status ap_sim_spatten(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r) {
    (void)t, (void)r;
    return ap_error(AP_ERR_UNSUPPORTED, "%s: the spatten simulator is not implemented yet", a->path);
}

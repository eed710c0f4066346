/* sanger.c — placeholder until the sanger simulator lands (issue 6, in progress). */
#include "core/error.h"
#include "sim/sim.h"

enum ap_status ap_sim_sanger(struct ap_sim_arch *a, const struct ap_trace *t, struct ap_sim_report *r) {
    (void)t, (void)r;
    return ap_error(AP_ERR_UNSUPPORTED, "%s: the sanger simulator is not implemented yet", a->path);
}

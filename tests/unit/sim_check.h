/* sim_check.h — the plumbing the simulators' tests share: a shipped
 * configuration's path, running a configuration file on a trace, and a
 * synthetic spec through a configuration and its baseline. */
#ifndef AP_TEST_SIM_CHECK_H
#define AP_TEST_SIM_CHECK_H

#include <stddef.h>

#include "sim/sim.h"

/* SOURCE/configs/NAME into buf (AP_SOURCE_DIR, else the working folder). */
void ap_sc_config_path(char *buf, size_t cap, const char *name);

/* Load the configuration file and run it on t, without its baseline. */
enum ap_status ap_sc_run_file(const char *path, const struct ap_trace *t, struct ap_sim_report *r);

/* configs/NAME and its baseline on the synthetic trace spec (ap_sim_run). */
enum ap_status ap_sc_run_spec(const char *name, const char *spec, struct ap_sim_report *r);

#endif

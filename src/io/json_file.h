/* json_file.h — small, checked accessors over cJSON for configuration files.
 * Every error names the file and the key. */
#ifndef AP_IO_JSON_FILE_H
#define AP_IO_JSON_FILE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "attnprune.h"

/* Read and parse path (at most 16 MiB). *out must be freed with cJSON_Delete. */
enum ap_status ap_json_load(const char *path, cJSON **out);

/* Integer key: missing -> def (or an error if required); present but not an
 * integral number within [lo, hi] -> AP_ERR_FORMAT. */
enum ap_status ap_json_int(const cJSON *obj, const char *path, const char *key, int required, int64_t def,
                           int64_t lo, int64_t hi, int64_t *out);
enum ap_status ap_json_double(const cJSON *obj, const char *path, const char *key, int required, double def,
                              double *out);
enum ap_status ap_json_bool(const cJSON *obj, const char *path, const char *key, int def, int *out);
/* String key: missing -> def (may be NULL); present but not a string -> AP_ERR_FORMAT. */
enum ap_status ap_json_string(const cJSON *obj, const char *path, const char *key, const char *def,
                              const char **out);

#endif

/* json_file.c — configuration files as cJSON trees, with checked accessors. */
#include "io/json_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define AP_JSON_MAX_BYTES (16u << 20)

enum ap_status ap_json_load(const char *path, cJSON **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return ap_error(AP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(AP_JSON_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return ap_error(AP_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, AP_JSON_MAX_BYTES + 1, f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return ap_error(AP_ERR_IO, "%s: read error", path);
    }
    if (n > AP_JSON_MAX_BYTES) {
        free(buf);
        return ap_error(AP_ERR_FORMAT, "%s: larger than %u bytes, not a configuration file", path,
                        AP_JSON_MAX_BYTES);
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, n, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - buf) : 0;
        free(buf);
        return ap_error(AP_ERR_FORMAT, "%s: invalid JSON near byte %zu", path, at);
    }
    free(buf);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ap_error(AP_ERR_FORMAT, "%s: expected a JSON object at the top level", path);
    }
    *out = root;
    return AP_OK;
}

enum ap_status ap_json_int(const cJSON *obj, const char *path, const char *key, int required, int64_t def,
                           int64_t lo, int64_t hi, int64_t *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) {
        if (required) return ap_error(AP_ERR_FORMAT, "%s: missing required key \"%s\"", path, key);
        *out = def;
        return AP_OK;
    }
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || !isfinite(v) || v != floor(v))
        return ap_error(AP_ERR_FORMAT, "%s: \"%s\" must be an integer", path, key);
    if (v < (double)lo || v > (double)hi)
        return ap_error(AP_ERR_FORMAT, "%s: \"%s\" is %.0f, expected %lld..%lld", path, key, v, (long long)lo,
                        (long long)hi);
    *out = (int64_t)v;
    return AP_OK;
}

enum ap_status ap_json_double(const cJSON *obj, const char *path, const char *key, int required, double def,
                              double *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) {
        if (required) return ap_error(AP_ERR_FORMAT, "%s: missing required key \"%s\"", path, key);
        *out = def;
        return AP_OK;
    }
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return ap_error(AP_ERR_FORMAT, "%s: \"%s\" must be a number", path, key);
    *out = it->valuedouble;
    return AP_OK;
}

enum ap_status ap_json_bool(const cJSON *obj, const char *path, const char *key, int def, int *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) {
        *out = def;
        return AP_OK;
    }
    if (!cJSON_IsBool(it)) return ap_error(AP_ERR_FORMAT, "%s: \"%s\" must be true or false", path, key);
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return AP_OK;
}

enum ap_status ap_json_string(const cJSON *obj, const char *path, const char *key, const char *def,
                              const char **out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) {
        *out = def;
        return AP_OK;
    }
    if (!cJSON_IsString(it)) return ap_error(AP_ERR_FORMAT, "%s: \"%s\" must be a string", path, key);
    *out = it->valuestring;
    return AP_OK;
}

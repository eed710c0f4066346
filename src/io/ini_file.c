/* ini_file.c — INI files through inih, stored whole (ini_file.h). */
#include "io/ini_file.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/file_map.h"

struct parse_state {
    struct ap_ini *ini;
    int32_t cap;
    enum ap_status st; /* first failure inside the handler */
    int32_t line;      /* lines seen, counted by the handler for messages */
};

/* inih calls this for every key; returning 0 makes ini_parse_string report
 * the line. Lengths are checked here so nothing is silently truncated. */
static int on_entry(void *user, const char *section, const char *key, const char *value) {
    struct parse_state *ps = user;
    struct ap_ini *ini = ps->ini;
    if (ps->st != AP_OK) return 0;
    if (strlen(section) >= AP_INI_NAME_MAX || strlen(key) >= AP_INI_NAME_MAX || strlen(value) >= AP_INI_VALUE_MAX) {
        ps->st = ap_error(AP_ERR_FORMAT, "%s: [%.40s] %.40s: name or value too long (names < %d, values < %d bytes)",
                          ini->path, section, key, AP_INI_NAME_MAX, AP_INI_VALUE_MAX);
        return 0;
    }
    if (key[0] == '\0') {
        ps->st = ap_error(AP_ERR_FORMAT, "%s: [%s]: an entry without a key name", ini->path, section);
        return 0;
    }
    for (int32_t i = 0; i < ini->n; i++)
        if (strcmp(ini->entries[i].section, section) == 0 && strcmp(ini->entries[i].key, key) == 0) {
            ps->st = ap_error(AP_ERR_FORMAT, "%s: [%s] %s is given twice", ini->path, section, key);
            return 0;
        }
    if (ini->n == ps->cap) {
        if (ps->cap >= AP_INI_MAX_ENTRIES) {
            ps->st = ap_error(AP_ERR_FORMAT, "%s: more than %d keys", ini->path, AP_INI_MAX_ENTRIES);
            return 0;
        }
        int32_t cap = ps->cap ? ps->cap * 2 : 32;
        struct ap_ini_entry *e = realloc(ini->entries, sizeof *e * (size_t)cap);
        if (!e) {
            ps->st = ap_error(AP_ERR_NOMEM, "%s: out of memory", ini->path);
            return 0;
        }
        ini->entries = e, ps->cap = cap;
    }
    struct ap_ini_entry *e = &ini->entries[ini->n++];
    memset(e, 0, sizeof *e);
    strcpy(e->section, section), strcpy(e->key, key), strcpy(e->value, value);
    return 1;
}

enum ap_status ap_ini_parse(const char *text, size_t len, const char *label, struct ap_ini *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", label ? label : "(config)");
    if (len == 0) text = "";
    if (memchr(text, '\0', len))
        return ap_error(AP_ERR_FORMAT, "%s: a NUL byte in the text (not an INI file)", out->path);
    char *copy = malloc(len + 1);
    if (!copy) return ap_error(AP_ERR_NOMEM, "%s: out of memory", out->path);
    memcpy(copy, text, len);
    copy[len] = '\0';
    struct parse_state ps = {.ini = out};
    int r = ini_parse_string(copy, on_entry, &ps);
    free(copy);
    if (ps.st != AP_OK) return ps.st;
    if (r > 0) return ap_error(AP_ERR_FORMAT, "%s:%d: not a '[section]' or 'key = value' line", out->path, r);
    if (r < 0) return ap_error(AP_ERR_NOMEM, "%s: out of memory", out->path);
    return AP_OK;
}

enum ap_status ap_ini_read(const char *path, struct ap_ini *out) {
    memset(out, 0, sizeof *out);
    struct ap_file_map fm;
    enum ap_status st = ap_file_map_open(path, &fm);
    if (st != AP_OK) return st;
    if (fm.size > (1u << 20)) {
        ap_file_map_close(&fm);
        return ap_error(AP_ERR_FORMAT, "%s: %zu bytes; a configuration file is at most 1 MiB", path, fm.size);
    }
    st = ap_ini_parse((const char *)fm.data, fm.size, path, out);
    ap_file_map_close(&fm);
    return st;
}

void ap_ini_free(struct ap_ini *ini) {
    free(ini->entries);
    ini->entries = NULL, ini->n = 0;
}

const struct ap_ini_entry *ap_ini_find(struct ap_ini *ini, const char *section, const char *key) {
    for (int32_t i = 0; i < ini->n; i++)
        if (strcmp(ini->entries[i].section, section) == 0 && strcmp(ini->entries[i].key, key) == 0) {
            ini->entries[i].used = 1;
            return &ini->entries[i];
        }
    return NULL;
}

enum ap_status ap_ini_double(struct ap_ini *ini, const char *section, const char *key, double def, double lo,
                             double hi, double *out) {
    const struct ap_ini_entry *e = ap_ini_find(ini, section, key);
    if (!e) {
        *out = def;
        return AP_OK;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(e->value, &end);
    if (end == e->value || *end != '\0' || errno != 0 || !isfinite(v))
        return ap_error(AP_ERR_FORMAT, "%s: [%s] %s = '%s': expected a number", ini->path, section, key, e->value);
    if (v < lo || v > hi)
        return ap_error(AP_ERR_FORMAT, "%s: [%s] %s = %g: expected a number in [%g, %g]", ini->path, section, key, v,
                        lo, hi);
    *out = v;
    return AP_OK;
}

enum ap_status ap_ini_int(struct ap_ini *ini, const char *section, const char *key, int64_t def, int64_t lo,
                          int64_t hi, int64_t *out) {
    const struct ap_ini_entry *e = ap_ini_find(ini, section, key);
    if (!e) {
        *out = def;
        return AP_OK;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(e->value, &end, 10);
    if (end == e->value || *end != '\0' || errno != 0)
        return ap_error(AP_ERR_FORMAT, "%s: [%s] %s = '%s': expected an integer", ini->path, section, key, e->value);
    if (v < lo || v > hi)
        return ap_error(AP_ERR_FORMAT, "%s: [%s] %s = %lld: expected an integer in [%lld, %lld]", ini->path, section,
                        key, v, (long long)lo, (long long)hi);
    *out = (int64_t)v;
    return AP_OK;
}

const char *ap_ini_string(struct ap_ini *ini, const char *section, const char *key, const char *def) {
    const struct ap_ini_entry *e = ap_ini_find(ini, section, key);
    return e ? e->value : def;
}

enum ap_status ap_ini_check_used(const struct ap_ini *ini) {
    for (int32_t i = 0; i < ini->n; i++)
        if (!ini->entries[i].used)
            return ap_error(AP_ERR_FORMAT, "%s: unknown key '%s' in [%s]", ini->path, ini->entries[i].key,
                            ini->entries[i].section);
    return AP_OK;
}

/* ini_file.h — INI configuration files (inih underneath), kept whole so a
 * loader can ask for keys by section and name and then refuse the ones
 * nobody asked for (a misspelt key is an error, not a silent default).
 *
 * Syntax (inih): "[section]" lines, "key = value" lines, comments from ';' or
 * '#' at the start of a line or after whitespace. Keys before any section
 * belong to section "". */
#ifndef AP_IO_INI_FILE_H
#define AP_IO_INI_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "attnprune.h"

#define AP_INI_NAME_MAX 64   /* section and key names, with the NUL */
#define AP_INI_VALUE_MAX 512 /* values, with the NUL */
#define AP_INI_MAX_ENTRIES 1024

struct ap_ini_entry {
    char section[AP_INI_NAME_MAX], key[AP_INI_NAME_MAX], value[AP_INI_VALUE_MAX];
    int32_t used; /* set by the getters */
};

struct ap_ini {
    char path[1024]; /* the file, for messages */
    int32_t n;
    struct ap_ini_entry *entries; /* (n) */
};

/* Read and parse path. A syntax error, a name or value too long, a key given
 * twice in one section or more than AP_INI_MAX_ENTRIES keys is AP_ERR_FORMAT
 * naming the file and line. Free with ap_ini_free (also after a failure). */
enum ap_status ap_ini_read(const char *path, struct ap_ini *out);

/* The same from memory (not necessarily NUL-terminated); label names it in
 * messages. The fuzzing entry point. */
enum ap_status ap_ini_parse(const char *text, size_t len, const char *label, struct ap_ini *out);

void ap_ini_free(struct ap_ini *ini);

/* The entry for section.key (marked used), or NULL. */
const struct ap_ini_entry *ap_ini_find(struct ap_ini *ini, const char *section, const char *key);

/* A number: missing -> def; present but not a finite number within
 * [lo, hi] -> AP_ERR_FORMAT naming the file, section and key. */
enum ap_status ap_ini_double(struct ap_ini *ini, const char *section, const char *key, double def, double lo,
                             double hi, double *out);
/* An integer, likewise. */
enum ap_status ap_ini_int(struct ap_ini *ini, const char *section, const char *key, int64_t def, int64_t lo,
                          int64_t hi, int64_t *out);
/* A string: missing -> def (may be NULL). */
const char *ap_ini_string(struct ap_ini *ini, const char *section, const char *key, const char *def);

/* AP_ERR_FORMAT naming the first entry no getter asked for, else AP_OK. */
enum ap_status ap_ini_check_used(const struct ap_ini *ini);

#endif

/* file_map.h — a whole file mapped read-only into memory.
 *
 * Weights and tensor files are never copied: readers parse the mapped bytes
 * in place and hand out pointers into them, valid until ap_file_map_close. */
#ifndef AP_IO_FILE_MAP_H
#define AP_IO_FILE_MAP_H

#include <stddef.h>

#include "attnprune.h"

#define AP_FILE_MAP_PATH_MAX 4096 /* bytes, with the terminating NUL (Linux PATH_MAX) */

struct ap_file_map {
    const unsigned char *data; /* size bytes; NULL when size is 0 */
    size_t size;               /* bytes */
    char path[AP_FILE_MAP_PATH_MAX];
};

/* Map the regular file at path read-only (MAP_PRIVATE). An empty file maps
 * to size 0 and data NULL. Errors (AP_ERR_IO, naming the path and the
 * system's reason): cannot open or stat, not a regular file, mmap failure.
 * A path of AP_FILE_MAP_PATH_MAX bytes or more is AP_ERR_INVALID_ARG.
 * On failure *out is zeroed, so ap_file_map_close on it is harmless. */
enum ap_status ap_file_map_open(const char *path, struct ap_file_map *out);

/* Unmap and zero; safe on a zeroed or already closed map. */
void ap_file_map_close(struct ap_file_map *map);

#endif

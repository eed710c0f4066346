/* file_map.c — read-only mmap of a whole file. */
#include "io/file_map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

enum ap_status ap_file_map_open(const char *path, struct ap_file_map *out) {
    AP_ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    if (!path) return ap_error(AP_ERR_INVALID_ARG, "file map: path is NULL");
    size_t n = strlen(path);
    if (n >= sizeof out->path)
        return ap_error(AP_ERR_INVALID_ARG, "%.64s...: path is %zu bytes long, the limit is %zu", path, n,
                        sizeof out->path - 1);

    int fd;
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return ap_error(AP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));

    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ap_error(AP_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ap_error(AP_ERR_IO, "%s: not a regular file%s", path, S_ISDIR(st.st_mode) ? " (a directory)" : "");
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size > (uintmax_t)SIZE_MAX) {
        close(fd);
        return ap_error(AP_ERR_IO, "%s: file size %jd cannot be mapped", path, (intmax_t)st.st_size);
    }

    size_t size = (size_t)st.st_size;
    const unsigned char *data = NULL;
    if (size > 0) {
        void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return ap_error(AP_ERR_IO, "%s: cannot map %zu bytes: %s", path, size, strerror(e));
        }
        data = p;
    }
    close(fd); /* the mapping keeps the file alive */

    out->data = data;
    out->size = size;
    memcpy(out->path, path, n + 1);
    return AP_OK;
}

void ap_file_map_close(struct ap_file_map *map) {
    if (!map) return;
    if (map->data && map->size) munmap((void *)map->data, map->size);
    memset(map, 0, sizeof *map);
}

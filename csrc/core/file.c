/*
 * file.c - opening a regular file for streaming, the one rule for the
 * calls and for kombo-attach's manifest check (core.file_info).
 */
#include "kombo.h"
#include "file.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* A regular file's size as a size_t, when its base64 body fits one. */
int kombo_sendable_size(const struct stat *st, size_t *size)
{
    if (st->st_size < 0 || (uintmax_t)st->st_size > KOMBO_MAX_CONTENT_BYTES)
        return 0;
    *size = (size_t)st->st_size;
    return 1;
}

/* "is a FIFO (named pipe), not a regular file": what a path that is not a
 * regular file is. */
static void not_regular(char *err, size_t errsz, mode_t mode)
{
    const char *kind = S_ISFIFO(mode)   ? "a FIFO (named pipe)"
                       : S_ISCHR(mode)  ? "a character device"
                       : S_ISBLK(mode)  ? "a block device"
                       : S_ISSOCK(mode) ? "a socket"
                       : S_ISDIR(mode)  ? "a directory"
                                        : NULL;
    if (kind != NULL)
        snprintf(err, errsz, "is %s, not a regular file", kind);
    else
        snprintf(err, errsz, "is not a regular file");
}

/* Only a regular file is read, and nothing waits on the way: a FIFO's
 * open() for reading blocks until a writer comes, a device may never end,
 * so the kind is checked by stat() before the open (no open() side effects
 * on a device), then again by fstat() on the descriptor (the path may have
 * changed in between), which is opened with O_NONBLOCK; a regular file gets
 * blocking reads back before it is handed out. */
void *kombo_file_open(const char *path, size_t *size, char *err, size_t errsz)
{
    struct stat st;
    FILE *f;
    int fd, flags;

    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        not_regular(err, errsz, st.st_mode);
        return NULL;
    }
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errsz, "cannot be opened: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(err, errsz, "cannot be examined: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        not_regular(err, errsz, st.st_mode);
        close(fd);
        return NULL;
    }
    if (!kombo_sendable_size(&st, size)) {
        snprintf(err, errsz, "is larger than this build can send (at most %zu bytes)",
                 (size_t)KOMBO_MAX_CONTENT_BYTES);
        close(fd);
        return NULL;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        snprintf(err, errsz, "cannot be read: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    f = fdopen(fd, "rb");
    if (f == NULL) {
        snprintf(err, errsz, "cannot be read: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    return f;
}

void kombo_file_close(void *handle)
{
    if (handle != NULL)
        fclose((FILE *)handle);
}

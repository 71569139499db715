/*
 * file.h - opening a regular file for streaming (file.c).
 */
#ifndef KOMBO_FILE_H
#define KOMBO_FILE_H

#include "kombo.h"

#include <stddef.h>
#include <stdint.h>

/* The largest attachment (file, bytes or source size) whose base64 and
 * the JSON around it still fit a size_t: a limit on 32-bit builds only. */
#define KOMBO_MAX_CONTENT_BYTES ((SIZE_MAX - 65536) / 4 * 3)

/* A regular file's size (st: its stat) as a size_t in *size: 1 when its
 * base64 body fits one (at most KOMBO_MAX_CONTENT_BYTES), else 0. */
struct stat;
int kombo_sendable_size(const struct stat *st, size_t *size);

/* Opens a regular file for streaming: returns a handle (FILE *) and its size,
 * or NULL with a message ("cannot be opened: No such file or directory",
 * "is a FIFO (named pipe), not a regular file").  Anything but a regular
 * file is refused before a byte is read, and never waits: a FIFO, a device
 * or a socket is not opened for blocking reads.  The one rule for both
 * the calls and kombo-attach's manifest check (core.file_info). */
void *kombo_file_open(const char *path, size_t *size, char *err, size_t errsz);
void kombo_file_close(void *handle);

#endif

/*
 * buf.h - growable buffers (buf.c); the type is public, in kombo.h.
 */
#ifndef KOMBO_BUF_H
#define KOMBO_BUF_H

#include "kombo.h"

void kombo_buf_init(kombo_buf *b);
void kombo_buf_free(kombo_buf *b);
void kombo_buf_reset(kombo_buf *b); /* len = 0, keeps memory and limit, clears failed */
int kombo_buf_append(kombo_buf *b, const void *p, size_t n); /* 0 ok, -1 failed */
/* n more bytes for the caller to fill (NUL-terminated after them), or NULL
 * (failed): one reservation for what is written in pieces. */
char *kombo_buf_extend(kombo_buf *b, size_t n);
int kombo_buf_puts(kombo_buf *b, const char *s);
int kombo_buf_printf(kombo_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif

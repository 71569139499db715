/*
 * buf.c - strings and growable buffers (kombo_str, kombo_buf).
 *
 * Everything here is plain libc: no Lua, no libcurl.  Buffers record an
 * allocation (or limit) failure in `failed` and turn later appends into
 * no-ops, so a caller that builds a string in many steps checks once.
 */
#include "kombo.h"
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KOMBO_BUF_MIN_CAP 256

/* ---------------------------------------------------------------- strings */

kombo_str kombo_str_c(const char *s)
{
    kombo_str r;
    r.ptr = s;
    r.len = s ? strlen(s) : 0;
    return r;
}

/* ---------------------------------------------------------------- buffers */

void kombo_buf_init(kombo_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = 0;
    b->failed = 0;
}

/* Releases the memory; the limit survives so a freed buffer can be reused
 * with the same cap (kombo_response keeps its body limit that way). */
void kombo_buf_free(kombo_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = 0;
}

void kombo_buf_reset(kombo_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Makes room for n more bytes plus the terminating NUL, or marks the buffer
 * failed.  Checks the limit and size_t overflow before allocating. */
static int buf_reserve(kombo_buf *b, size_t n)
{
    size_t need, cap;
    char *p;

    if (b->failed)
        return -1;
    if (b->limit && (b->len > b->limit || n > b->limit - b->len))
        goto fail;
    /* No object may exceed PTRDIFF_MAX; this also rules out size_t wrap. */
    if (n > (size_t)PTRDIFF_MAX - 1 - b->len)
        goto fail;
    need = b->len + n + 1;
    if (b->data && need <= b->cap)
        return 0;

    cap = b->cap ? b->cap : KOMBO_BUF_MIN_CAP;
    while (cap < need) {
        if (cap > (size_t)PTRDIFF_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (!p)
        goto fail;
    if (!b->data)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return 0;

fail:
    b->failed = 1;
    return -1;
}

/* Room for n more bytes and the NUL without growing or passing the limit:
 * the common case, decided without a call (a body is many small appends). */
static int has_room(const kombo_buf *b, size_t n)
{
    return b->data != NULL && !b->failed && n < b->cap - b->len &&
           (b->limit == 0 || (b->len <= b->limit && n <= b->limit - b->len));
}

int kombo_buf_append(kombo_buf *b, const void *p, size_t n)
{
    /* Reserving even for n == 0 means data is non-NULL after any successful
     * append, so callers can use it as a C string right away. */
    if (!has_room(b, n) && buf_reserve(b, n) != 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

char *kombo_buf_extend(kombo_buf *b, size_t n)
{
    char *p;
    if (!has_room(b, n) && buf_reserve(b, n) != 0)
        return NULL;
    p = b->data + b->len;
    b->len += n;
    b->data[b->len] = '\0';
    return p;
}

int kombo_buf_puts(kombo_buf *b, const char *s)
{
    return kombo_buf_append(b, s, strlen(s));
}

int kombo_buf_printf(kombo_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return -1;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return -1;
    }
    if (buf_reserve(b, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

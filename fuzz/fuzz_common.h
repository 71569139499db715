/*
 * fuzz_common.h - shared helpers of the libFuzzer harnesses in fuzz/.
 *
 * The references (UTF-8, base64) are independent implementations, so none
 * of them calls into csrc/; the JSON helpers wrap the core's scanner (see
 * below, and fuzz_json.c for how that is checked).  A failed check
 * prints what differed and aborts, which libFuzzer reports as a crash and
 * saves the input under build/fuzz/artifacts/.
 */
#ifndef KOMBO_FUZZ_COMMON_H
#define KOMBO_FUZZ_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, timegm */
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/kombo.h"

/* Not every harness uses every helper. */
/* The checkers are not fuzz targets: no coverage feedback from them. */
#define FZ_FN static __attribute__((unused, no_sanitize("coverage")))

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "\nfuzz check failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, "\n");                                                        \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* A growable byte string for decoded output. */
typedef struct fz_bytes {
    unsigned char *p;
    size_t n, cap;
} fz_bytes;

/* Room for n more bytes and a NUL. */
FZ_FN void fz_reserve(fz_bytes *b, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
}

FZ_FN void fz_put(fz_bytes *b, const void *src, size_t n)
{
    fz_reserve(b, n);
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
    b->p[b->n] = 0;
}

FZ_FN void fz_free(fz_bytes *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* ------------------------------------------------------------- UTF-8 */

/* Reference strict UTF-8 check: decodes each code point arithmetically and
 * rejects overlongs, surrogates, > U+10FFFF and truncated sequences. */
FZ_FN int fz_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        unsigned long cp, min;
        size_t len, k;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (n - i < len)
            return 0;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

FZ_FN int fz_hex(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* -------------------------------------------------------------- JSON */

/* No second JSON parser here: JSON output is taken apart with the core's
 * own strict scanner (json.h), which fuzz_json checks by properties that
 * need no reference.  This helper decodes a validated string whole. */
FZ_FN void fz_json_decode(const jval *v, fz_bytes *out)
{
    int trunc;
    size_t n;

    out->n = 0;
    fz_reserve(out, v->n); /* a decoded string is shorter than its literal */
    n = kombo_json_str_decode(v, (char *)out->p, v->n, 0, &trunc);
    CHECK(!trunc, "decode with cap = literal length truncated");
    out->n = n;
}

/* Member `key` of object obj: the last one's value in *out; the number of
 * members with that key in *count (a duplicate is a finding). */
FZ_FN int fz_json_member(const jval *obj, const char *key, jval *out, int *count)
{
    jiter it;
    jval k, v;

    *count = 0;
    if (obj->type != J_OBJECT)
        return 0;
    kombo_json_iter_begin(&it, obj);
    while (kombo_json_iter_next(&it, &k, &v)) {
        if (kombo_json_str_eq(&k, key)) {
            *out = v;
            (*count)++;
        }
    }
    return *count > 0;
}

/* Number of members of a validated object or array. */
FZ_FN int fz_json_count(const jval *c)
{
    jiter it;
    jval k, v;
    int n = 0;

    kombo_json_iter_begin(&it, c);
    while (kombo_json_iter_next(&it, &k, &v))
        n++;
    return n;
}

/* ------------------------------------------------------------ base64 */

FZ_FN int fz_b64_val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Reference decoder: canonical padded base64 only; -1 when not. */
FZ_FN int fz_b64_decode(const char *s, size_t n, fz_bytes *out)
{
    size_t i;
    if (n % 4)
        return -1;
    for (i = 0; i < n; i += 4) {
        int v[4], k, pad = 0;
        unsigned char o[3];
        for (k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else {
                if (pad)
                    return -1; /* data after '=' */
                if ((v[k] = fz_b64_val((unsigned char)s[i + k])) < 0)
                    return -1;
            }
        }
        o[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        o[1] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
        o[2] = (unsigned char)((v[2] & 3) << 6 | v[3]);
        fz_put(out, o, (size_t)(3 - pad));
    }
    return 0;
}

/* --------------------------------------------------- input splitting */

/* Splits data at the separator byte `sep` into at most max fields. */
FZ_FN size_t fz_split(const uint8_t *data, size_t size, uint8_t sep, const char **f, size_t *fl, size_t max)
{
    size_t nf = 0, start = 0, i;
    for (i = 0; i <= size && nf < max; i++) {
        if (i == size || data[i] == sep) {
            f[nf] = (const char *)data + start;
            fl[nf] = i - start;
            nf++;
            start = i + 1;
        }
    }
    return nf;
}

#endif

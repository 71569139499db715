/*
 * fuzz_common.h - shared helpers of the libFuzzer harnesses in fuzz/.
 *
 * Everything here is an independent reference implementation: the harnesses
 * check the core against it, so none of it calls into csrc/.  A failed check
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

FZ_FN void fz_put(fz_bytes *b, const void *src, size_t n)
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

FZ_FN size_t fz_put_utf8(unsigned char *o, unsigned long cp)
{
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = (unsigned char)(0xC0 | (cp >> 6)); o[1] = (unsigned char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* -------------------------------------------------------------- JSON */

/* A tiny strict RFC 8259 parser, enough to take the core's output apart.
 * fz_json_value() validates one value at *p (depth-limited) and advances. */
FZ_FN void fz_ws(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
        (*p)++;
}

FZ_FN int fz_hex(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

FZ_FN long fz_hex4(const char *p, const char *end)
{
    long v = 0;
    int i, h;
    if (end - p < 4)
        return -1;
    for (i = 0; i < 4; i++) {
        if ((h = fz_hex((unsigned char)p[i])) < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Decodes the string literal at *p (which must be '"') into out (may be
 * NULL) and advances past it.  strict: raw bytes must be valid UTF-8 and
 * every \u escape must form a scalar value.  Returns 0 or -1. */
FZ_FN int fz_json_string(const char **p, const char *end, fz_bytes *out, int strict)
{
    const char *s = *p, *run;
    if (s >= end || *s != '"')
        return -1;
    s++;
    run = s;
    for (;;) {
        unsigned char c;
        if (s >= end)
            return -1;
        c = (unsigned char)*s;
        if (c == '"')
            break;
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            s++;
            continue;
        }
        if (strict && !fz_utf8_valid((const unsigned char *)run, (size_t)(s - run)))
            return -1;
        if (out)
            fz_put(out, run, (size_t)(s - run));
        if (end - s < 2)
            return -1;
        {
            unsigned char tmp[4];
            unsigned long cp;
            switch (s[1]) {
            case '"': cp = '"'; s += 2; break;
            case '\\': cp = '\\'; s += 2; break;
            case '/': cp = '/'; s += 2; break;
            case 'b': cp = '\b'; s += 2; break;
            case 'f': cp = '\f'; s += 2; break;
            case 'n': cp = '\n'; s += 2; break;
            case 'r': cp = '\r'; s += 2; break;
            case 't': cp = '\t'; s += 2; break;
            case 'u': {
                long u = fz_hex4(s + 2, end), lo;
                if (u < 0)
                    return -1;
                s += 6;
                if (u >= 0xDC00 && u <= 0xDFFF)
                    return -1;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (end - s < 6 || s[0] != '\\' || s[1] != 'u')
                        return -1;
                    lo = fz_hex4(s + 2, end);
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return -1;
                    s += 6;
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                }
                cp = (unsigned long)u;
                break;
            }
            default:
                return -1;
            }
            if (out)
                fz_put(out, tmp, fz_put_utf8(tmp, cp));
        }
        run = s;
    }
    if (strict && !fz_utf8_valid((const unsigned char *)run, (size_t)(s - run)))
        return -1;
    if (out)
        fz_put(out, run, (size_t)(s - run));
    *p = s + 1;
    return 0;
}

FZ_FN int fz_json_value(const char **p, const char *end, int depth);

FZ_FN int fz_json_container(const char **p, const char *end, int depth, char close)
{
    if (depth > 200)
        return -1;
    (*p)++;
    fz_ws(p, end);
    if (*p < end && **p == close) {
        (*p)++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            if (fz_json_string(p, end, NULL, 1))
                return -1;
            fz_ws(p, end);
            if (*p >= end || **p != ':')
                return -1;
            (*p)++;
            fz_ws(p, end);
        }
        if (fz_json_value(p, end, depth))
            return -1;
        fz_ws(p, end);
        if (*p < end && **p == ',') {
            (*p)++;
            fz_ws(p, end);
            continue;
        }
        if (*p < end && **p == close) {
            (*p)++;
            return 0;
        }
        return -1;
    }
}

FZ_FN int fz_digits(const char **p, const char *end)
{
    const char *b = *p;
    while (*p < end && **p >= '0' && **p <= '9')
        (*p)++;
    return *p > b ? 0 : -1;
}

FZ_FN int fz_json_value(const char **p, const char *end, int depth)
{
    size_t left;
    if (*p >= end)
        return -1;
    left = (size_t)(end - *p);
    switch (**p) {
    case '{': return fz_json_container(p, end, depth + 1, '}');
    case '[': return fz_json_container(p, end, depth + 1, ']');
    case '"': return fz_json_string(p, end, NULL, 1);
    case 't': if (left >= 4 && !memcmp(*p, "true", 4)) { *p += 4; return 0; } return -1;
    case 'f': if (left >= 5 && !memcmp(*p, "false", 5)) { *p += 5; return 0; } return -1;
    case 'n': if (left >= 4 && !memcmp(*p, "null", 4)) { *p += 4; return 0; } return -1;
    default:
        if (**p == '-')
            (*p)++;
        if (*p < end && **p == '0')
            (*p)++;
        else if (*p >= end || **p < '1' || **p > '9' || fz_digits(p, end))
            return -1;
        if (*p < end && **p == '.') {
            (*p)++;
            if (fz_digits(p, end))
                return -1;
        }
        if (*p < end && (**p == 'e' || **p == 'E')) {
            (*p)++;
            if (*p < end && (**p == '+' || **p == '-'))
                (*p)++;
            if (fz_digits(p, end))
                return -1;
        }
        return 0;
    }
}

/* Whether [s, s+n) is exactly one JSON value (surrounding whitespace ok). */
FZ_FN int fz_json_valid(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    fz_ws(&p, end);
    if (fz_json_value(&p, end, 0))
        return 0;
    fz_ws(&p, end);
    return p == end;
}

/* Member `key` of the validated object [s, s+n): the value's span.  Counts
 * how often the key occurs in *count (duplicates are a finding). */
FZ_FN int fz_json_get(const char *s, size_t n, const char *key, const char **vp, size_t *vn, int *count)
{
    const char *p = s, *end = s + n;
    size_t klen = strlen(key);
    int found = 0;
    fz_ws(&p, end);
    if (p >= end || *p != '{')
        return 0;
    p++;
    fz_ws(&p, end);
    if (count)
        *count = 0;
    while (p < end && *p != '}') {
        fz_bytes k = {0};
        const char *v;
        if (fz_json_string(&p, end, &k, 1)) {
            fz_free(&k);
            return 0;
        }
        fz_ws(&p, end);
        p++; /* ':' (validated) */
        fz_ws(&p, end);
        v = p;
        if (fz_json_value(&p, end, 0)) {
            fz_free(&k);
            return 0;
        }
        if (k.n == klen && memcmp(k.p, key, klen) == 0) {
            *vp = v;
            *vn = (size_t)(p - v);
            found = 1;
            if (count)
                (*count)++;
        }
        fz_free(&k);
        fz_ws(&p, end);
        if (p < end && *p == ',') {
            p++;
            fz_ws(&p, end);
        }
    }
    return found;
}

/* Number of members of the validated object [s, s+n). */
FZ_FN int fz_json_members(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    int count = 0;
    fz_ws(&p, end);
    if (p >= end || *p != '{')
        return -1;
    p++;
    fz_ws(&p, end);
    while (p < end && *p != '}') {
        if (fz_json_string(&p, end, NULL, 1))
            return -1;
        fz_ws(&p, end);
        p++;
        fz_ws(&p, end);
        if (fz_json_value(&p, end, 0))
            return -1;
        count++;
        fz_ws(&p, end);
        if (p < end && *p == ',') {
            p++;
            fz_ws(&p, end);
        }
    }
    return count;
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

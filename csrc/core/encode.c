/*
 * encode.c - growable buffers, encoders and the streaming body writer.
 *
 * Everything here is plain libc: no Lua, no libcurl.  Buffers record an
 * allocation (or limit) failure in `failed` and turn later appends into
 * no-ops, so a caller that builds a string in many steps checks once.
 */
#include "kombo.h"
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

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

int kombo_buf_append(kombo_buf *b, const void *p, size_t n)
{
    /* Reserving even for n == 0 means data is non-NULL after any successful
     * append, so callers can use it as a C string right away. */
    if (buf_reserve(b, n) != 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
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

/* ----------------------------------------------------------------- UTF-8 */

size_t kombo_utf8_seqlen(unsigned char c)
{
    if (c >= 0xF0 && c <= 0xF4) return 4;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    return 1;
}

/* Strict UTF-8 (RFC 3629): shortest form only, no surrogates, nothing above
 * U+10FFFF, no truncated sequences.  NUL is a valid code point here; callers
 * that must reject it do so separately. */
int kombo_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */

        /* ASCII eight bytes at a time: base64 data and most text. */
        if (c < 0x80 && n - i >= 8) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            if ((x & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        need = kombo_utf8_seqlen((unsigned char)c) - 1;
        if (need == 0)
            return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
        if (c == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates U+D800..U+DFFF */
        else if (c == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
        if (n - i - 1 < need)
            return 0;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= need; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        i += need + 1;
    }
    return 1;
}

/* ---------------------------------------------------------------- base64 */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 1 for the 64 alphabet bytes; a table, since data can be megabytes. */
static const unsigned char b64_is_char[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
    ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
    ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['+'] = 1, ['/'] = 1};

/* SWAR range test: for bytes below 0x80, byte b of x is in [lo, hi] when
 * b + (0x80 - lo) has its top bit set and b + (0x7f - hi) has not; no sum
 * carries into the next byte. */
#define B64_ONES 0x0101010101010101ull
#define B64_HIGH 0x8080808080808080ull
static uint64_t b64_in_range(uint64_t x, unsigned lo, unsigned hi)
{
    return (x + B64_ONES * (0x80u - lo)) & ~(x + B64_ONES * (0x7fu - hi)) & B64_HIGH;
}

/* Whether all 8 bytes of x are in the base64 alphabet (no '='). */
static int b64_word_valid(uint64_t x)
{
    uint64_t ok;
    if (x & B64_HIGH)
        return 0;
    ok = b64_in_range(x, 'A', 'Z') | b64_in_range(x, 'a', 'z') | b64_in_range(x, '0', '9') |
         b64_in_range(x, '+', '+') | b64_in_range(x, '/', '/');
    return ok == B64_HIGH;
}

/* Standard alphabet, length a multiple of 4, at most two '=' and only at the
 * very end.  No whitespace.  Non-zero trailing bits are accepted. */
int kombo_base64_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t pad = 0, i;

    if (n % 4 != 0)
        return 0;
    if (n == 0)
        return 1;
    if (p[n - 1] == '=') {
        pad = 1;
        if (p[n - 2] == '=')
            pad = 2;
    }
    n -= pad;
    /* Eight bytes at a time, no early exit: a small call's data is checked
     * on every call, so this loop is a visible part of its cost. */
    for (i = 0; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        if (!b64_word_valid(x))
            return 0;
    }
    for (; i < n; i++)
        if (!b64_is_char[p[i]])
            return 0;
    return 1;
}

size_t kombo_base64_decoded_len(const char *s, size_t n)
{
    size_t pad = 0;
    if (n >= 1 && s[n - 1] == '=')
        pad++;
    if (n >= 2 && s[n - 2] == '=')
        pad++;
    return n / 4 * 3 - pad;
}

void kombo_hex_lower(char *out, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int kombo_sha256_hex(const void *p, size_t n, char out[KOMBO_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != KOMBO_SHA256_LEN) {
        out[0] = '\0';
        return -1;
    }
    kombo_hex_lower(out, md, len);
    return 0;
}

size_t kombo_base64_encoded_len(size_t n)
{
    return (n / 3 + (n % 3 != 0)) * 4;
}

size_t kombo_base64_encode(char *out, const unsigned char *in, size_t n)
{
    char *o = out;
    size_t i = 0;

    for (; n - i >= 3; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        *o++ = b64_alphabet[(v >> 18) & 63];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = b64_alphabet[(v >> 6) & 63];
        *o++ = b64_alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        *o++ = b64_alphabet[(v >> 18) & 63];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        *o++ = b64_alphabet[(v >> 18) & 63];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = b64_alphabet[(v >> 6) & 63];
        *o++ = '=';
    }
    return (size_t)(o - out);
}

/* ------------------------------------------------------------------ JSON */

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

/* Bytes that can go into a JSON string literal as they are. */
static int json_safe(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\' && c != 0x7f;
}

int kombo_json_string(kombo_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    kombo_buf_append(b, "\"", 1);
    while (i < n) {
        size_t run = i;
        char esc[6];
        size_t elen = 2;

        /* Copy the longest run of safe bytes in one append. */
        while (run < n && json_safe(p[run]))
            run++;
        if (run > i)
            kombo_buf_append(b, p + i, run - i);
        if (run >= n)
            break;

        esc[0] = '\\';
        switch (p[run]) {
        case '"':  esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex_lower[p[run] >> 4];
            esc[5] = hex_lower[p[run] & 15];
            elen = 6;
            break;
        }
        kombo_buf_append(b, esc, elen);
        i = run + 1;
    }
    kombo_buf_append(b, "\"", 1);
    return b->failed ? -1 : 0;
}

/* ------------------------------------------------------ percent-encoding */

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

int kombo_percent_encode(kombo_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        size_t run = i;
        char esc[3];

        while (run < n && unreserved(p[run]))
            run++;
        if (run > i)
            kombo_buf_append(b, p + i, run - i);
        if (run >= n)
            break;
        esc[0] = '%';
        esc[1] = hex_upper[p[run] >> 4];
        esc[2] = hex_upper[p[run] & 15];
        kombo_buf_append(b, esc, 3);
        i = run + 1;
    }
    /* Leave data non-NULL even for an empty input. */
    kombo_buf_append(b, "", 0);
    return b->failed ? -1 : 0;
}

/* ------------------------------------------------------------ body writer */

/* A regular file's size as a size_t, when its base64 body fits one. */
static int sendable_size(const struct stat *st, size_t *size)
{
    if (st->st_size < 0 || (uintmax_t)st->st_size > KOMBO_MAX_CONTENT_BYTES)
        return 0;
    *size = (size_t)st->st_size;
    return 1;
}

/* Raw bytes read in groups of three so that every chunk but the last encodes
 * without padding: 48 KiB in, 64 KiB out. */
#define STREAM_RAW (48 * 1024)

enum stream_kind { STREAM_BYTES, STREAM_FILE, STREAM_SOURCE };

struct kombo_stream {
    enum stream_kind kind;
    kombo_str bytes;       /* STREAM_BYTES */
    FILE *file;            /* STREAM_FILE (owned) */
    kombo_source source;   /* STREAM_SOURCE */
    size_t size;           /* raw bytes announced */
    size_t raw_done;       /* raw bytes read from it so far (raw_len of them not encoded yet) */
    size_t raw_len;        /* bytes waiting in raw: the 0-2 of an incomplete triple between chunks */
    int touched;           /* the source has been read from (a rewind is needed) */
    int ended;             /* all `size` bytes read and the end confirmed */
    unsigned char raw[STREAM_RAW];
    char enc[STREAM_RAW / 3 * 4];
    size_t enc_len, enc_off; /* encoded bytes waiting in enc */
    /* SHA-256 of the raw bytes read in this attempt (kombo_body_digest):
     * restarted with the first read after a rewind, finished once the end
     * is confirmed (digest_done).  md_failed: libcrypto failed, no digest. */
    EVP_MD_CTX *md;
    int md_failed, digest_done;
    unsigned char digest[KOMBO_SHA256_LEN];
};

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
    if (!sendable_size(&st, size)) {
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

static void body_fail(kombo_body *body, const char *fmt, const char *detail)
{
    if (!body->failed)
        snprintf(body->error, sizeof body->error, fmt, detail);
    body->failed = 1;
}

/* Reads up to `want` raw bytes from the stream; -1 on a source error. */
static long stream_raw_read(kombo_stream *st, kombo_body *body, unsigned char *dst, size_t want)
{
    switch (st->kind) {
    case STREAM_BYTES: {
        size_t left = st->bytes.len - st->raw_done;
        size_t n = want < left ? want : left;
        memcpy(dst, st->bytes.ptr + st->raw_done, n);
        return (long)n;
    }
    case STREAM_FILE: {
        size_t n = fread(dst, 1, want, st->file);
        if (n < want && ferror(st->file)) {
            body_fail(body, "reading the file failed: %s", strerror(errno));
            return -1;
        }
        return (long)n;
    }
    default: {
        char err[200] = "";
        long n = st->source.read(st->source.ud, (char *)dst, want, err, sizeof err);
        if (n == KOMBO_SOURCE_AGAIN)
            return n;
        if (n < 0 || (size_t)n > want) {
            body_fail(body, "the attachment source failed: %s", err[0] ? err : "no reason given");
            return -1;
        }
        return n;
    }
    }
}

/* The content digest: one EVP context per stream, made at its first read
 * and reused for every attempt.  Only for a body whose before_last hook is
 * set (a journal asks call:digest() there): hashing every upload would put
 * a SHA-256 of the whole file on the plain upload's path. */
static void digest_start(kombo_stream *st, const kombo_body *body)
{
    st->digest_done = 0;
    st->md_failed = 0;
    if (body->before_last == NULL) {
        st->md_failed = 1; /* not asked for: no digest */
        return;
    }
    if (st->md == NULL)
        st->md = EVP_MD_CTX_new();
    if (st->md == NULL || EVP_DigestInit_ex(st->md, EVP_sha256(), NULL) != 1)
        st->md_failed = 1;
}

static void digest_finish(kombo_stream *st)
{
    unsigned int len = 0;
    if (!st->md_failed && EVP_DigestFinal_ex(st->md, st->digest, &len) == 1 && len == KOMBO_SHA256_LEN)
        st->digest_done = 1;
    else
        st->md_failed = 1;
}

/* Refills st->enc from the source; keeps raw reads in multiples of three
 * except at the very end.  Never lets a short or long source pass as whole.
 * A push-mode source may have fewer bytes than wanted for now: what it gave
 * is encoded in whole triples and the 0-2 left over wait in st->raw for the
 * next chunk.  Returns 0 (encoded bytes in st->enc, or st->ended), 1 when
 * the source has no bytes yet and nothing could be encoded, -1 on failure. */
static int stream_fill(kombo_stream *st, kombo_body *body)
{
    size_t want = st->size - st->raw_done, n_enc;
    int again = 0;
    if (!st->touched)
        digest_start(st, body);
    st->touched = 1;
    if (want > STREAM_RAW - st->raw_len)
        want = STREAM_RAW - st->raw_len;
    while (want > 0) {
        long n = stream_raw_read(st, body, st->raw + st->raw_len, want);
        if (n == KOMBO_SOURCE_AGAIN) {
            again = 1;
            break;
        }
        if (n < 0)
            return -1;
        if (n == 0) {
            body_fail(body, "%s", st->kind == STREAM_FILE
                                      ? "the file ended before its size when opened "
                                        "(did it shrink while being sent?)"
                                      : "the attachment source ended before its announced size");
            return -1;
        }
        if (!st->md_failed && EVP_DigestUpdate(st->md, st->raw + st->raw_len, (size_t)n) != 1)
            st->md_failed = 1;
        st->raw_len += (size_t)n;
        st->raw_done += (size_t)n;
        want -= (size_t)n;
    }
    /* The last bytes (padding included) are encoded before the end is
     * confirmed; the segment only ends, and the JSON after it only goes out,
     * once the source said it has nothing more. */
    n_enc = st->raw_done == st->size ? st->raw_len : st->raw_len / 3 * 3;
    st->enc_len = kombo_base64_encode(st->enc, st->raw, n_enc);
    st->enc_off = 0;
    if (n_enc < st->raw_len)
        memmove(st->raw, st->raw + n_enc, st->raw_len - n_enc);
    st->raw_len -= n_enc;
    if (!again && st->raw_done == st->size && st->enc_len == 0) {
        if (st->kind != STREAM_BYTES) {
            unsigned char extra;
            long n = stream_raw_read(st, body, &extra, 1);
            if (n == KOMBO_SOURCE_AGAIN)
                return 1;
            if (n < 0)
                return -1;
            if (n > 0) {
                body_fail(body, "%s", st->kind == STREAM_FILE
                                          ? "the file is longer than its size when opened "
                                            "(did it grow while being sent?)"
                                          : "the attachment source is longer than its announced size");
                return -1;
            }
        }
        st->ended = 1;
        digest_finish(st);
    }
    return st->enc_len == 0 && !st->ended ? 1 : 0;
}

static int stream_rewind(kombo_stream *st, kombo_body *body)
{
    if (!st->touched)
        return 0; /* nothing consumed yet: a one-shot source is still whole */
    st->raw_done = st->raw_len = 0;
    st->touched = st->ended = 0;
    st->digest_done = 0;
    st->enc_len = st->enc_off = 0;
    if (st->kind == STREAM_FILE && fseek(st->file, 0, SEEK_SET) != 0) {
        body_fail(body, "cannot rewind the file: %s", strerror(errno));
        return -1;
    }
    if (st->kind == STREAM_SOURCE && (st->source.rewind == NULL || st->source.rewind(st->source.ud) != 0)) {
        body_fail(body, "%s", "the attachment source cannot be read a second time");
        return -1;
    }
    return 0;
}

kombo_segment *kombo_body_segment(kombo_body *body, size_t i)
{
    if (i < KOMBO_INLINE_SEGMENTS)
        return &body->seg[i];
    i -= KOMBO_INLINE_SEGMENTS;
    return &body->more[i / KOMBO_SEGMENT_BLOCK][i % KOMBO_SEGMENT_BLOCK];
}

static const kombo_segment *seg_const(const kombo_body *body, size_t i)
{
    if (i < KOMBO_INLINE_SEGMENTS)
        return &body->seg[i];
    i -= KOMBO_INLINE_SEGMENTS;
    return &body->more[i / KOMBO_SEGMENT_BLOCK][i % KOMBO_SEGMENT_BLOCK];
}

#define SEG(body, i) kombo_body_segment((body), (i))

static kombo_segment *body_segment(kombo_body *body, kombo_segment_kind kind)
{
    kombo_segment *sg;
    size_t past = body->nseg >= KOMBO_INLINE_SEGMENTS ? body->nseg - KOMBO_INLINE_SEGMENTS : 0;
    if (body->nseg >= KOMBO_INLINE_SEGMENTS && past / KOMBO_SEGMENT_BLOCK >= body->nmore) {
        /* A new block; only the table of blocks moves, never a segment. */
        kombo_segment **more = realloc(body->more, (body->nmore + 1) * sizeof(kombo_segment *));
        kombo_segment *block;
        if (more == NULL) {
            body_fail(body, "%s", "out of memory");
            return NULL;
        }
        body->more = more;
        block = calloc(KOMBO_SEGMENT_BLOCK, sizeof *block);
        if (block == NULL) {
            body_fail(body, "%s", "out of memory");
            return NULL;
        }
        body->more[body->nmore++] = block;
    }
    sg = SEG(body, body->nseg);
    body->nseg++;
    sg->kind = kind;
    kombo_buf_init(&sg->owned);
    sg->borrowed = KOMBO_STR_NULL;
    sg->stream = NULL;
    return sg;
}

static size_t seg_len(const kombo_segment *sg)
{
    switch (sg->kind) {
    case KOMBO_SEG_OWNED:
        return sg->owned.len;
    case KOMBO_SEG_BORROWED:
        return sg->borrowed.len;
    default:
        return kombo_base64_encoded_len(sg->stream->size);
    }
}

kombo_buf *kombo_body_add_owned(kombo_body *body)
{
    kombo_segment *sg = body_segment(body, KOMBO_SEG_OWNED);
    if (sg == NULL) {
        /* A buffer that swallows appends (a failed kombo_buf stays empty):
         * a body model lays out its JSON without checking every step. */
        kombo_buf_init(&body->overflow);
        body->overflow.failed = 1;
        return &body->overflow;
    }
    return &sg->owned;
}

void kombo_body_add_borrowed(kombo_body *body, kombo_str s)
{
    kombo_segment *sg = body_segment(body, KOMBO_SEG_BORROWED);
    if (sg != NULL)
        sg->borrowed = s;
}

static kombo_stream *body_add_stream(kombo_body *body, enum stream_kind kind)
{
    kombo_segment *sg = body_segment(body, KOMBO_SEG_BASE64);
    kombo_stream *st;
    if (sg == NULL)
        return NULL;
    st = calloc(1, sizeof *st);
    if (st == NULL) {
        body->nseg--;
        body_fail(body, "%s", "out of memory");
        return NULL;
    }
    st->kind = kind;
    sg->stream = st;
    return st;
}

int kombo_body_add_file(kombo_body *body, void *file_handle)
{
    struct stat sb;
    size_t size;
    kombo_stream *st;

    if (fstat(fileno((FILE *)file_handle), &sb) != 0) {
        kombo_file_close(file_handle);
        body_fail(body, "cannot stat the file: %s", strerror(errno));
        return -1;
    }
    if (!sendable_size(&sb, &size)) {
        kombo_file_close(file_handle);
        body_fail(body, "%s", "the file grew past the largest size this build can send");
        return -1;
    }
    st = body_add_stream(body, STREAM_FILE);
    if (st == NULL) {
        kombo_file_close(file_handle);
        return -1;
    }
    st->file = file_handle;
    st->size = size;
    return 0;
}

int kombo_body_add_bytes(kombo_body *body, kombo_str bytes)
{
    kombo_stream *st = body_add_stream(body, STREAM_BYTES);
    if (st == NULL)
        return -1;
    st->bytes = bytes;
    st->size = bytes.len;
    return 0;
}

int kombo_body_add_source(kombo_body *body, const kombo_source *source)
{
    kombo_stream *st = body_add_stream(body, STREAM_SOURCE);
    if (st == NULL)
        return -1;
    st->source = *source;
    st->size = source->size;
    return 0;
}

int kombo_body_digest(const kombo_body *body, char hex[KOMBO_SHA256_HEX])
{
    size_t i;
    hex[0] = '\0';
    if (body->failed)
        return 0;
    for (i = 0; i < body->nseg; i++) {
        const kombo_stream *st = seg_const(body, i)->stream;
        if (seg_const(body, i)->kind == KOMBO_SEG_BASE64 && st != NULL && st->digest_done) {
            kombo_hex_lower(hex, st->digest, KOMBO_SHA256_LEN);
            return 1;
        }
    }
    return 0;
}

size_t kombo_body_raw_size(const kombo_body *body)
{
    size_t i, n = 0;
    for (i = 0; i < body->nseg; i++)
        if (seg_const(body, i)->kind == KOMBO_SEG_BASE64)
            n += seg_const(body, i)->stream->size;
    return n;
}

int kombo_body_finish(kombo_body *body)
{
    size_t i;
    body->length = 0;
    for (i = 0; i < body->nseg && !body->failed; i++) {
        if (SEG(body, i)->kind == KOMBO_SEG_OWNED && SEG(body, i)->owned.failed)
            body_fail(body, "%s", "out of memory");
        else
            body->length += seg_len(SEG(body, i));
    }
    return body->failed ? -1 : 0;
}

/* Safe on a zeroed body and when called twice: leaves a zeroed body. */
void kombo_body_free(kombo_body *body)
{
    size_t i;

    for (i = 0; i < body->nseg; i++) {
        kombo_segment *sg = SEG(body, i);
        if (sg->kind == KOMBO_SEG_OWNED)
            kombo_buf_free(&sg->owned);
        if (sg->stream != NULL) {
            if (sg->stream->kind == STREAM_FILE)
                kombo_file_close(sg->stream->file);
            EVP_MD_CTX_free(sg->stream->md);
            free(sg->stream);
        }
    }
    for (i = 0; i < body->nmore; i++)
        free(body->more[i]);
    free(body->more);
    memset(body, 0, sizeof *body);
}

int kombo_body_rewind(kombo_body *body)
{
    size_t i;
    body->seg_i = 0;
    body->seg_off = 0;
    body->sent = 0;
    body->next_progress = 0;
    body->before_last_done = 0;
    body->written_at = 0;
    if (body->failed)
        return -1;
    for (i = 0; i < body->nseg; i++)
        if (SEG(body, i)->stream != NULL && stream_rewind(SEG(body, i)->stream, body) != 0)
            return -1;
    return 0;
}

/* At most about 100 reports per upload, plus the final one. */
static void report_progress(kombo_body *body)
{
    size_t step;
    if (body->on_progress == NULL || body->sent < body->next_progress)
        return;
    step = body->length / 100;
    if (step < 16384)
        step = 16384;
    body->next_progress = body->sent >= body->length ? (size_t)-1 : body->sent + step;
    if (body->next_progress > body->length && body->sent < body->length)
        body->next_progress = body->length;
    body->on_progress(body->progress_ud, body->sent, body->length);
}

int kombo_body_last_bytes(kombo_body *body)
{
    if (!body->before_last_done && !body->failed) {
        body->before_last_done = 1;
        body->written_at = kombo_wall_now();
        if (body->before_last != NULL && body->before_last(body->before_last_ud) != 0 && !body->failed)
            body_fail(body, "%s", "the request was stopped before its last bytes");
    }
    return body->failed ? -1 : 0;
}

size_t kombo_body_read(kombo_body *body, char *dst, size_t cap)
{
    size_t got = 0;

    body->want_input = 0;
    while (got < cap && body->seg_i < body->nseg && !body->failed) {
        kombo_segment *sg = SEG(body, body->seg_i);
        size_t take, left;
        const char *src;

        if (sg->kind == KOMBO_SEG_BASE64) {
            kombo_stream *st = sg->stream;
            if (st->enc_off == st->enc_len && !st->ended) {
                int r = stream_fill(st, body);
                if (r != 0) {
                    body->want_input = r > 0;
                    break;
                }
            }
            src = st->enc + st->enc_off;
            left = st->enc_len - st->enc_off;
        } else {
            src = (sg->kind == KOMBO_SEG_OWNED ? sg->owned.data : sg->borrowed.ptr) + body->seg_off;
            left = seg_len(sg) - body->seg_off;
        }
        take = cap - got < left ? cap - got : left;
        /* The bytes that complete the body: the hook may still stop them. */
        if (take && body->sent + got + take == body->length && !body->defer_last && !body->before_last_done) {
            kombo_body_last_bytes(body);
            if (body->failed)
                break;
        }
        if (take) {
            memcpy(dst + got, src, take);
            got += take;
        }
        if (sg->kind == KOMBO_SEG_BASE64) {
            sg->stream->enc_off += take;
            if (sg->stream->enc_off == sg->stream->enc_len && sg->stream->ended)
                body->seg_i++;
        } else {
            body->seg_off += take;
            if (body->seg_off >= seg_len(sg)) {
                body->seg_i++;
                body->seg_off = 0;
            }
        }
    }
    if (body->failed)
        return 0;
    body->sent += got;
    report_progress(body);
    return got;
}

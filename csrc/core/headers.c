/*
 * headers.c - a response's header block, Retry-After and the limit headers.
 *
 * The response buffers a transport fills, the one parser of a raw header
 * block (kombo_header_next: the lookup below, the limit headers and the Lua
 * binding's header table all walk it), Retry-After: delta-seconds here,
 * HTTP-dates by libcurl's curl_getdate, which the core links anyway, and
 * Kombo's limit headers (kombo_parse_limits: one rule for repeats and
 * overflow, documented in kombo.h).
 *
 * No locale, no TZ: curl_getdate computes UTC itself.
 */
#include "kombo.h"
#include "buf.h"
#include "classify.h"

#include <curl/curl.h>
#include <string.h>

#define HEADERS_LIMIT KOMBO_MAX_HEADER_BYTES /* raw header block of one response */
#define RETRY_AFTER_CAP 1e9         /* seconds; larger values are capped */

/* Own helpers rather than <ctype.h>: results must not depend on the locale. */
static int a_lower(int c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }
static int a_digit(int c) { return c >= '0' && c <= '9'; }
static int a_blank(int c) { return c == ' ' || c == '\t'; }

/* ------------------------------------------------------------ responses */

void kombo_response_init(kombo_response *r, size_t max_body)
{
    memset(r, 0, sizeof *r);
    r->error = KOMBO_TE_NONE;
    r->phase = KOMBO_PHASE_CONNECT;
    kombo_buf_init(&r->headers);
    r->headers.limit = HEADERS_LIMIT;
    kombo_buf_init(&r->body);
    r->body.limit = max_body ? max_body : KOMBO_DEFAULT_MAX_RESPONSE;
}

void kombo_response_reset(kombo_response *r)
{
    r->error = KOMBO_TE_NONE;
    r->phase = KOMBO_PHASE_CONNECT;
    r->error_message[0] = '\0';
    r->status = 0;
    if (r->want_timing)
        memset(&r->timing, 0, sizeof r->timing);
    kombo_buf_reset(&r->headers); /* keeps the limits */
    kombo_buf_reset(&r->body);
}

void kombo_response_free(kombo_response *r)
{
    kombo_buf_free(&r->headers);
    kombo_buf_free(&r->body);
}

/* --------------------------------------------------------- header block */

/* Next line of [p, end): sets *le to the end of its content (before "\r\n"
 * or "\n") and returns the start of the following line. */
static const char *next_line(const char *p, const char *end, const char **le)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e = nl ? nl : end;

    if (e > p && e[-1] == '\r')
        e--;
    *le = e;
    return nl ? nl + 1 : end;
}

static int is_status_line(const char *p, const char *le)
{
    return le - p >= 5 && memcmp(p, "HTTP/", 5) == 0;
}

const char *kombo_header_fields(const char *block, size_t n, size_t *len)
{
    const char *le, *p, *end;
    if (!block || n == 0) {
        *len = 0;
        return block;
    }
    end = block + n;
    p = next_line(block, end, &le);
    if (!is_status_line(block, le))
        p = block;
    /* the blank line that ends the block: its line end is dropped, the
     * last field's kept */
    if (end - p >= 3 && memcmp(end - 3, "\n\r\n", 3) == 0)
        end -= 2;
    else if (end - p >= 2 && memcmp(end - 2, "\n\n", 2) == 0)
        end -= 1;
    *len = (size_t)(end - p);
    return p;
}

const char *kombo_header_start(const char *block, size_t n)
{
    const char *p, *q, *end, *le, *next;

    if (!block)
        return NULL;
    p = q = block;
    end = block + n;
    /* A transport may keep several blocks (100 Continue): only the one
     * after the last status line belongs to the final answer. */
    for (; q < end; q = next) {
        next = next_line(q, end, &le);
        if (is_status_line(q, le))
            p = next;
    }
    return p;
}

int kombo_header_next(const char **p, const char *end, kombo_str *name, kombo_str *value)
{
    while (*p && *p < end) {
        const char *b = *p, *le, *c, *v;

        *p = next_line(b, end, &le);
        /* "Name:" exactly: no blank or control byte in the name, none
         * before the colon (RFC 9112 5.1), so a folded continuation line
         * (obs-fold, leading blank) or garbage is no field. */
        for (c = b; c < le && *c != ':'; c++)
            if ((unsigned char)*c <= 0x20 || *c == 0x7f)
                break;
        if (c == b || c >= le || *c != ':')
            continue;
        v = c + 1;
        while (v < le && a_blank((unsigned char)*v))
            v++;
        while (le > v && a_blank((unsigned char)le[-1]))
            le--;
        name->ptr = b;
        name->len = (size_t)(c - b);
        value->ptr = v;
        value->len = (size_t)(le - v);
        return 1;
    }
    return 0;
}

int kombo_header_name_is(kombo_str name, const char *want)
{
    size_t n = strlen(want), i;

    if (name.len != n || n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char a = (unsigned char)name.ptr[i], b = (unsigned char)want[i];
        /* Equal bytes pass at one comparison (most of a name); others only
         * as the two cases of one ASCII letter. */
        if (a != b && ((a | 0x20) != (b | 0x20) || (unsigned)((a | 0x20) - 'a') > 'z' - 'a'))
            return 0;
    }
    return 1;
}

int kombo_response_header(const kombo_response *r, const char *name, char *out, size_t outsz)
{
    const char *p, *end;
    kombo_str hn, hv;
    size_t nlen;

    if (out && outsz)
        out[0] = '\0';
    if (!r || !name || !r->headers.data || r->headers.len == 0)
        return 0;
    nlen = strlen(name);
    if (nlen == 0)
        return 0;
    p = kombo_header_start(r->headers.data, r->headers.len);
    end = r->headers.data + r->headers.len;
    while (kombo_header_next(&p, end, &hn, &hv)) {
        if (!kombo_header_name_is(hn, name))
            continue;
        if (out && outsz) {
            size_t n = hv.len < outsz - 1 ? hv.len : outsz - 1;
            memcpy(out, hv.ptr, n);
            out[n] = '\0';
        }
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------- Retry-After */

double kombo_parse_retry_after(const char *value, double now)
{
    const char *s, *e;
    size_t n, i;
    time_t t;
    double d;

    if (!value)
        return -1;
    s = value;
    e = value + strlen(value);
    while (s < e && a_blank((unsigned char)*s))
        s++;
    while (e > s && a_blank((unsigned char)e[-1]))
        e--;
    n = (size_t)(e - s);
    if (n == 0)
        return -1;

    if (a_digit((unsigned char)s[0])) {
        /* delta-seconds = 1*DIGIT; anything else after the digits is garbage */
        double v = 0;
        for (i = 0; i < n; i++) {
            if (!a_digit((unsigned char)s[i]))
                return -1;
            if (v < RETRY_AFTER_CAP) /* stop growing: no overflow on huge input */
                v = v * 10 + (s[i] - '0');
        }
        return v > RETRY_AFTER_CAP ? RETRY_AFTER_CAP : v;
    }

    if (now != now) /* NaN clock: dates can't be resolved */
        return -1;
    /* An HTTP-date (IMF-fixdate, RFC 850, asctime).  curl_getdate is more
     * lenient than RFC 9110 (other zones, a trailing word, 31 Feb rolls
     * over into March), which only ever yields a wait, never a crash; it
     * returns -1 for what it cannot read. */
    t = curl_getdate(s, NULL);
    if (t == (time_t)-1)
        return -1;
    d = (double)t - now;
    if (d < 0)
        return 0;
    return d > RETRY_AFTER_CAP ? RETRY_AFTER_CAP : d;
}

/* --------------------------------------------------------- limit headers */

/* By kombo_limit_field; with their lengths, so that most header lines
 * (none of these) are passed over at a look at their name's length. */
#define LIMIT_NAME(s) {(s), sizeof(s) - 1}
static const struct {
    const char *name;
    size_t len;
} limit_names[KOMBO_LIMIT_COUNT] = {
    LIMIT_NAME("Concurrency-Limit"), LIMIT_NAME("Concurrency-Remaining"), LIMIT_NAME("RateLimit-Limit"),
    LIMIT_NAME("RateLimit-Remaining"), LIMIT_NAME("RateLimit-Reset"),
};

/* One element of a limit header's value: [s, e) with its blanks, digits
 * only, at most KOMBO_LIMIT_MAX.  Returns it, or -1. */
static long limit_element(const char *s, const char *e)
{
    long v = 0;
    while (s < e && a_blank((unsigned char)*s))
        s++;
    while (e > s && a_blank((unsigned char)e[-1]))
        e--;
    if (s == e)
        return -1;
    for (; s < e; s++) {
        int d;
        if (!a_digit((unsigned char)*s))
            return -1;
        d = *s - '0';
        if (v > (KOMBO_LIMIT_MAX - d) / 10) /* leading zeros never get here */
            return -1;
        v = v * 10 + d;
    }
    return v;
}

/* Whether the line [p, le) may be a limit header: its first letter and
 * the dash after "Concurrency" or "RateLimit" (index 11 or 9).  Most lines
 * (Content-Type, Connection, Date) fail here at two bytes, with no parse. */
static int may_be_limit(const char *p, const char *le)
{
    int first = a_lower((unsigned char)*p);
    if (first == 'c')
        return le - p > 12 && p[11] == '-';
    if (first == 'r')
        return le - p > 10 && p[9] == '-';
    return 0;
}

/* The rule is kombo.h's, at kombo_parse_limits.  One walk of the block:
 * a status line starts the fields over (only the final answer's block
 * counts, as kombo_header_start has it), so no first walk to find it. */
void kombo_parse_limits(const char *block, size_t n, kombo_limits *out)
{
    enum { UNSEEN, SEEN, BAD } state[KOMBO_LIMIT_COUNT];
    const char *p = block, *end = block ? block + n : NULL;
    kombo_str hn, hv;
    int f;

    for (f = 0; f < KOMBO_LIMIT_COUNT; f++) {
        state[f] = UNSEEN;
        out->value[f] = -1;
    }
    while (p != NULL && p < end) {
        const char *line = p, *le, *s, *e, *stop;
        p = next_line(line, end, &le);
        if (!may_be_limit(line, le)) {
            if (is_status_line(line, le))
                for (f = 0; f < KOMBO_LIMIT_COUNT; f++) {
                    state[f] = UNSEEN;
                    out->value[f] = -1;
                }
            continue;
        }
        if (!kombo_header_next(&line, p, &hn, &hv))
            continue;
        stop = hv.ptr + hv.len;
        for (f = 0; f < KOMBO_LIMIT_COUNT
                    && (hn.len != limit_names[f].len || !kombo_header_name_is(hn, limit_names[f].name));
             f++)
            ;
        if (f == KOMBO_LIMIT_COUNT || state[f] == BAD)
            continue;
        for (s = hv.ptr;; s = e + 1) { /* each comma-separated element; one when there is no comma */
            long v;
            for (e = s; e < stop && *e != ','; e++)
                ;
            v = limit_element(s, e);
            if (v < 0 || (state[f] == SEEN && v != out->value[f])) {
                state[f] = BAD;
                break;
            }
            state[f] = SEEN;
            out->value[f] = v;
            if (e == stop)
                break;
        }
    }
    for (f = 0; f < KOMBO_LIMIT_COUNT; f++)
        if (state[f] != SEEN)
            out->value[f] = -1;
}

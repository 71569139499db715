/*
 * classify.c - what one attempt's answer means.
 *
 * Given what a transport saw (a transport error and how far the attempt got,
 * or a status, headers and body), decide the error kind, whether the request
 * may have been acted upon, whether a retry is safe, and a human message.
 * Also: Retry-After parsing and a small strict JSON scanner for the two
 * response shapes Kombo documents (the positive response and the ATS error).
 *
 * Everything here is pure: no I/O, no allocation besides the response
 * buffers, no locale, no TZ.
 */
#include "kombo.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HEADERS_LIMIT (64u * 1024u) /* raw header block of one response */
#define JSON_MAX_DEPTH 64           /* nesting of objects/arrays; bounds recursion */
#define RETRY_AFTER_CAP 1e9         /* seconds; larger values are capped */
#define LOCATION_SHOWN 200          /* bytes of a Location header quoted in a message */
#define CONTENT_TYPE_SHOWN 100

/* ------------------------------------------------------------- names */

const char *kombo_kind_name(kombo_kind k)
{
    switch (k) {
    case KOMBO_OK: return "ok";
    case KOMBO_ERR_VALIDATION: return "validation";
    case KOMBO_ERR_API: return "api";
    case KOMBO_ERR_HTTP: return "http";
    case KOMBO_ERR_NETWORK: return "network";
    case KOMBO_ERR_TIMEOUT: return "timeout";
    case KOMBO_ERR_DECODE: return "decode";
    case KOMBO_ERR_INTERNAL: return "internal";
    case KOMBO_ERR_ABORTED: return "aborted";
    }
    return "internal"; /* out-of-range value: misuse */
}

const char *kombo_outcome_name(kombo_outcome o)
{
    switch (o) {
    case KOMBO_OUTCOME_NONE: return "";
    case KOMBO_OUTCOME_NOT_SENT: return "not_sent";
    case KOMBO_OUTCOME_REJECTED: return "rejected";
    case KOMBO_OUTCOME_UNKNOWN: return "unknown";
    }
    return "unknown"; /* out-of-range: assume the worst */
}

/* ----------------------------------------------------- ASCII helpers */

/* Own helpers rather than <ctype.h>: results must not depend on the locale. */
static int a_lower(int c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }
static int a_digit(int c) { return c >= '0' && c <= '9'; }
static int a_blank(int c) { return c == ' ' || c == '\t'; }

/* Length of the UTF-8 sequence that lead byte c starts (1 for ASCII and for
 * bytes that cannot lead one). */
static size_t u8_seqlen(unsigned char c)
{
    if (c >= 0xF0 && c <= 0xF4) return 4;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    return 1;
}

/* After a truncating snprintf: drop a trailing UTF-8 sequence that was cut
 * in half, so messages stay valid UTF-8 for Lua and logs. */
static void u8_fix_tail(char *s)
{
    size_t n = strlen(s), i = n, cont = 0;

    while (i > 0 && cont < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    if (i > 0 && (unsigned char)s[i - 1] >= 0xC0 && u8_seqlen((unsigned char)s[i - 1]) > cont + 1)
        s[i - 1] = '\0';
}

/* Formats into dst (size cap), always NUL-terminated; fixes a cut tail. */
static void fmt_into(char *dst, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void fmt_into(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    if (n < 0)
        dst[0] = '\0';
    else if ((size_t)n >= cap)
        u8_fix_tail(dst);
}

/* Copies header text (server-controlled) for quoting in a message: at most
 * max bytes, anything but printable ASCII becomes '?', so a hostile header
 * cannot smuggle control sequences into logs. */
static void copy_header_text(char *dst, size_t cap, const char *src, size_t max)
{
    size_t i;

    for (i = 0; i < max && i + 1 < cap && src[i]; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (char)((c >= 0x20 && c < 0x7f) ? c : '?');
    }
    dst[i] = '\0';
}

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
    kombo_buf_reset(&r->headers); /* keeps the limits */
    kombo_buf_reset(&r->body);
}

void kombo_response_free(kombo_response *r)
{
    kombo_buf_free(&r->headers);
    kombo_buf_free(&r->body);
}

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

int kombo_response_header(const kombo_response *r, const char *name, char *out, size_t outsz)
{
    const char *p, *end, *le, *next;
    size_t nlen;

    if (out && outsz)
        out[0] = '\0';
    if (!r || !name || !r->headers.data || r->headers.len == 0)
        return 0;
    nlen = strlen(name);
    if (nlen == 0)
        return 0;
    p = r->headers.data;
    end = p + r->headers.len;

    /* If a transport kept several header blocks (100 Continue, redirects),
     * only the one after the last status line belongs to the final answer. */
    {
        const char *q = p;
        while (q < end) {
            next = next_line(q, end, &le);
            if (is_status_line(q, le))
                p = next;
            q = next;
        }
    }

    for (; p < end; p = next) {
        const char *v, *ve;
        size_t i, n;

        next = next_line(p, end, &le);
        /* "Name:" exactly: no space before the colon (RFC 9112 5.1). */
        if ((size_t)(le - p) <= nlen || p[nlen] != ':')
            continue;
        for (i = 0; i < nlen; i++)
            if (a_lower((unsigned char)p[i]) != a_lower((unsigned char)name[i]))
                break;
        if (i < nlen)
            continue;
        v = p + nlen + 1;
        ve = le;
        while (v < ve && a_blank((unsigned char)*v))
            v++;
        while (ve > v && a_blank((unsigned char)ve[-1]))
            ve--;
        if (out && outsz) {
            n = (size_t)(ve - v);
            if (n > outsz - 1)
                n = outsz - 1;
            memcpy(out, v, n);
            out[n] = '\0';
        }
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------- Retry-After */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): no timegm, no TZ environment involved. */
static long days_from_civil(long y, int m, int d)
{
    long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Year of a day count (inverse of the above, year only). */
static long year_from_days(long z)
{
    long era, doe, yoe, y, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    return y + (mp >= 10); /* months Jan, Feb belong to the next year */
}

static int days_in_month(long y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 ? 28 + leap : dm[m - 1];
}

/* n decimal digits at s into *v; 0 when any is not a digit. */
static int read_digits(const char *s, int n, int *v)
{
    int i, x = 0;

    for (i = 0; i < n; i++) {
        if (!a_digit((unsigned char)s[i]))
            return 0;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 1;
}

/* Month from its three-letter name (case-sensitive, as HTTP-date is). */
static int read_month(const char *s)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int i;

    for (i = 0; i < 12; i++)
        if (memcmp(s, names + 3 * i, 3) == 0)
            return i + 1;
    return 0;
}

static int is_short_day(const char *s)
{
    static const char names[] = "MonTueWedThuFriSatSun";
    int i;

    for (i = 0; i < 7; i++)
        if (memcmp(s, names + 3 * i, 3) == 0)
            return 1;
    return 0;
}

/* Length of the long day name ("Sunday") at the start of s[0..n), or 0. */
static size_t long_day_len(const char *s, size_t n)
{
    static const char *const names[] = {"Monday", "Tuesday", "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};
    size_t i;

    for (i = 0; i < 7; i++) {
        size_t l = strlen(names[i]);
        if (n >= l && memcmp(s, names[i], l) == 0)
            return l;
    }
    return 0;
}

/* "HH:MM:SS" into seconds of the day; -1 when malformed or out of range.
 * Second 60 is accepted (leap second). */
static long read_time(const char *s)
{
    int h, m, sec;

    if (s[2] != ':' || s[5] != ':' || !read_digits(s, 2, &h) || !read_digits(s + 3, 2, &m) ||
        !read_digits(s + 6, 2, &sec))
        return -1;
    if (h > 23 || m > 59 || sec > 60)
        return -1;
    return h * 3600L + m * 60L + sec;
}

/* Unix time of a date into *t; 0 on a bad day, month or time. */
static int civil_time(long y, int mon, int d, long tod, double *t)
{
    if (mon < 1 || d < 1 || d > days_in_month(y, mon) || tod < 0)
        return 0;
    *t = (double)days_from_civil(y, mon, d) * 86400.0 + (double)tod;
    return 1;
}

/* Parses an HTTP-date (RFC 9110 5.6.7) of exactly n bytes into *t (Unix
 * seconds); 0 when it is none of the three formats. */
static int parse_http_date(const char *s, size_t n, double now, double *t)
{
    int d, y, mon;
    size_t dl;

    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
    if (n == 29 && is_short_day(s) && s[3] == ',' && s[4] == ' ' && s[7] == ' ' && s[11] == ' ' &&
        s[16] == ' ' && s[25] == ' ' && memcmp(s + 26, "GMT", 3) == 0) {
        if (!read_digits(s + 5, 2, &d) || !(mon = read_month(s + 8)) || !read_digits(s + 12, 4, &y))
            return 0;
        return civil_time(y, mon, d, read_time(s + 17), t);
    }

    /* asctime: "Sun Nov  6 08:49:37 1994" (day as 2DIGIT or SP DIGIT) */
    if (n == 24 && is_short_day(s) && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ') {
        if (!(mon = read_month(s + 4)) || !read_digits(s + 20, 4, &y))
            return 0;
        if (s[8] == ' ') {
            if (!read_digits(s + 9, 1, &d))
                return 0;
        } else if (!read_digits(s + 8, 2, &d)) {
            return 0;
        }
        return civil_time(y, mon, d, read_time(s + 11), t);
    }

    /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
    dl = long_day_len(s, n);
    if (dl && n == dl + 24) {
        const char *f = s + dl; /* after the day name */
        long yy, nowy, full;
        double nd;

        if (f[0] != ',' || f[1] != ' ' || f[4] != '-' || f[8] != '-' || f[11] != ' ' || f[20] != ' ' ||
            memcmp(f + 21, "GMT", 3) != 0)
            return 0;
        if (!read_digits(f + 2, 2, &d) || !(mon = read_month(f + 5)) || !read_digits(f + 9, 2, &y))
            return 0;
        /* Two-digit year: RFC 9110 says a year more than 50 years in the
         * future means the most recent past year with those digits.  Pick
         * the year in (now - 50, now + 50]. */
        yy = y;
        nd = now / 86400.0;
        if (!(nd > -1e9 && nd < 1e9)) /* NaN or absurd clock: avoid an undefined cast */
            nd = 0;
        nowy = year_from_days((long)nd - (nd < 0));
        full = nowy - nowy % 100 + yy;
        if (full > nowy + 50)
            full -= 100;
        else if (full <= nowy - 50)
            full += 100;
        return civil_time(full, mon, d, read_time(f + 12), t);
    }
    return 0;
}

double kombo_parse_retry_after(const char *value, double now)
{
    const char *s, *e;
    size_t n, i;
    double t;

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

    if (now != now || !parse_http_date(s, n, now, &t)) /* NaN clock: dates can't be resolved */
        return -1;
    t -= now;
    if (t < 0)
        return 0;
    return t > RETRY_AFTER_CAP ? RETRY_AFTER_CAP : t;
}

/* ------------------------------------------------------ JSON scanner */

/*
 * A strict RFC 8259 scanner: the whole document is validated first (depth
 * limited, so hostile nesting cannot exhaust the stack), then the shape
 * checks walk the validated text again with an iterator.  Values are spans
 * of the original text; nothing is allocated.
 */

typedef enum jtype { J_NONE = 0, J_OBJECT, J_ARRAY, J_STRING, J_NUMBER, J_TRUE, J_FALSE, J_NULL } jtype;

typedef struct jval {
    jtype type;
    const char *p; /* the value's text, p[0..n) */
    size_t n;
} jval;

typedef struct jscan {
    const char *start, *p, *end;
    const char *err; /* first problem (static text), NULL when fine */
    size_t err_at;   /* its byte offset */
} jscan;

static int j_fail(jscan *s, const char *why)
{
    if (!s->err) {
        s->err = why;
        s->err_at = (size_t)(s->p - s->start);
    }
    return -1;
}

static int j_eof_or(jscan *s, const char *why)
{
    return j_fail(s, s->p >= s->end ? "unexpected end of input" : why);
}

static void j_ws(jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p; -1 when any is not hex. */
static long hex4(const char *p)
{
    long v = 0;
    int i, h;

    for (i = 0; i < 4; i++) {
        if ((h = hexval((unsigned char)p[i])) < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* A string literal at s->p (which is '"').  Rejects raw control bytes, bad
 * escapes, unpaired surrogates (they cannot become UTF-8) and invalid
 * UTF-8. */
static int j_string(jscan *s)
{
    const char *open = s->p;

    s->p++;
    for (;;) {
        unsigned char c;
        long u, lo;

        if (s->p >= s->end)
            return j_fail(s, "unterminated string");
        c = (unsigned char)*s->p;
        if (c == '"')
            break;
        if (c < 0x20)
            return j_fail(s, "control character in string");
        if (c != '\\') {
            s->p++;
            continue;
        }
        if (s->end - s->p < 2)
            return j_fail(s, "unterminated string");
        switch (s->p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            s->p += 2;
            continue;
        case 'u':
            break;
        default:
            return j_fail(s, "invalid escape in string");
        }
        if (s->end - s->p < 6) {
            /* Truncated: say so, unless what is there is already wrong. */
            const char *q = s->p + 2;
            while (q < s->end && hexval((unsigned char)*q) >= 0)
                q++;
            return j_fail(s, q == s->end ? "unexpected end of input" : "invalid \\u escape in string");
        }
        if ((u = hex4(s->p + 2)) < 0)
            return j_fail(s, "invalid \\u escape in string");
        if (u >= 0xDC00 && u <= 0xDFFF)
            return j_fail(s, "unpaired surrogate in string");
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (s->end - s->p < 12 || s->p[6] != '\\' || s->p[7] != 'u' || (lo = hex4(s->p + 8)) < 0 ||
                lo < 0xDC00 || lo > 0xDFFF)
                return j_fail(s, "unpaired surrogate in string");
            s->p += 6;
        }
        s->p += 6;
    }
    s->p++; /* closing quote */
    if (!kombo_utf8_valid(open + 1, (size_t)(s->p - open - 2))) {
        s->p = open;
        return j_fail(s, "invalid UTF-8 in string");
    }
    return 0;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int j_number(jscan *s)
{
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p >= s->end)
        return j_fail(s, "unexpected end of input");
    if (*s->p == '0') {
        s->p++;
    } else if (*s->p >= '1' && *s->p <= '9') {
        while (s->p < s->end && a_digit((unsigned char)*s->p))
            s->p++;
    } else {
        return j_fail(s, "invalid number");
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (s->p >= s->end || !a_digit((unsigned char)*s->p))
            return j_eof_or(s, "invalid number");
        while (s->p < s->end && a_digit((unsigned char)*s->p))
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || !a_digit((unsigned char)*s->p))
            return j_eof_or(s, "invalid number");
        while (s->p < s->end && a_digit((unsigned char)*s->p))
            s->p++;
    }
    return 0;
}

static int j_literal(jscan *s, const char *lit)
{
    size_t n = strlen(lit);
    size_t have = (size_t)(s->end - s->p);

    if (have < n && memcmp(s->p, lit, have) == 0)
        return j_fail(s, "unexpected end of input"); /* a truncated body */
    if (have < n || memcmp(s->p, lit, n) != 0)
        return j_fail(s, "invalid literal");
    s->p += n;
    return 0;
}

static int j_value(jscan *s, int depth, jval *out);

/* An object or array at s->p; `depth` counts this container. */
static int j_container(jscan *s, int depth, int is_obj)
{
    char close = is_obj ? '}' : ']';

    if (depth > JSON_MAX_DEPTH)
        return j_fail(s, "nested too deeply");
    s->p++;
    j_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    for (;;) {
        if (is_obj) {
            if (s->p >= s->end || *s->p != '"')
                return j_eof_or(s, "expected a string key");
            if (j_string(s))
                return -1;
            j_ws(s);
            if (s->p >= s->end || *s->p != ':')
                return j_eof_or(s, "expected ':'");
            s->p++;
            j_ws(s);
        }
        if (j_value(s, depth, NULL))
            return -1;
        j_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            j_ws(s);
            continue;
        }
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 0;
        }
        return j_eof_or(s, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

/* One value at s->p (whitespace already skipped); `depth` is the nesting of
 * the container holding it (0 at top level). */
static int j_value(jscan *s, int depth, jval *out)
{
    const char *b = s->p;
    jtype t;
    int rc;

    if (s->p >= s->end)
        return j_fail(s, "unexpected end of input");
    switch (*s->p) {
    case '{': t = J_OBJECT; rc = j_container(s, depth + 1, 1); break;
    case '[': t = J_ARRAY; rc = j_container(s, depth + 1, 0); break;
    case '"': t = J_STRING; rc = j_string(s); break;
    case 't': t = J_TRUE; rc = j_literal(s, "true"); break;
    case 'f': t = J_FALSE; rc = j_literal(s, "false"); break;
    case 'n': t = J_NULL; rc = j_literal(s, "null"); break;
    default:
        if (*s->p == '-' || a_digit((unsigned char)*s->p)) {
            t = J_NUMBER;
            rc = j_number(s);
        } else {
            return j_fail(s, "unexpected character");
        }
    }
    if (rc)
        return -1;
    if (out) {
        out->type = t;
        out->p = b;
        out->n = (size_t)(s->p - b);
    }
    return 0;
}

/* Validates a whole document; *root is its single top-level value. */
static int j_parse(jscan *s, const char *text, size_t n, jval *root)
{
    memset(s, 0, sizeof *s);
    s->start = s->p = text;
    s->end = text + n;
    j_ws(s);
    if (j_value(s, 0, root))
        return -1;
    j_ws(s);
    if (s->p != s->end)
        return j_fail(s, "trailing data after the JSON value");
    return 0;
}

/* Walks the members of an already validated object or array. */
typedef struct jiter {
    jscan s;
    int is_obj, done;
} jiter;

static void j_iter_begin(jiter *it, const jval *c)
{
    memset(it, 0, sizeof *it);
    it->is_obj = c->type == J_OBJECT;
    it->s.start = it->s.p = c->p;
    it->s.end = c->p + c->n;
    it->done = c->type != J_OBJECT && c->type != J_ARRAY;
    if (!it->done) {
        it->s.p++; /* '{' or '[' */
        j_ws(&it->s);
        it->done = it->s.p >= it->s.end || *it->s.p == '}' || *it->s.p == ']';
    }
}

/* Next member: *key is set for objects (may be NULL for arrays).  1 when
 * one was read, 0 at the end. */
static int j_iter_next(jiter *it, jval *key, jval *val)
{
    jscan *s = &it->s;

    if (it->done)
        return 0;
    if (it->is_obj) {
        const char *b = s->p;
        if (j_string(s))
            goto stop;
        if (key) {
            key->type = J_STRING;
            key->p = b;
            key->n = (size_t)(s->p - b);
        }
        j_ws(s);
        if (s->p >= s->end || *s->p != ':')
            goto stop;
        s->p++;
        j_ws(s);
    }
    /* The text was validated, so depth cannot exceed the limit here. */
    if (j_value(s, 0, val))
        goto stop;
    j_ws(s);
    if (s->p < s->end && *s->p == ',') {
        s->p++;
        j_ws(s);
    } else {
        it->done = 1;
    }
    return 1;
stop:
    it->done = 1;
    return 0;
}

/* Encodes code point cp as UTF-8 into o; returns the byte count. */
static size_t u8_put(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes a validated string literal into dst (cap >= 1), NUL-terminated,
 * stopping at a character boundary when full (*truncated then set).  With
 * `clean`, control characters become spaces: these texts end up in logs.
 * Returns the number of bytes written. */
static size_t j_str_decode(const jval *v, char *dst, size_t cap, int clean, int *truncated)
{
    const char *p = v->p + 1, *end = v->p + v->n - 1;
    size_t o = 0;

    *truncated = 0;
    while (p < end) {
        char tmp[4];
        size_t tn;

        if (*p == '\\') {
            unsigned long cp;
            switch (p[1]) {
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                cp = (unsigned long)hex4(p + 2);
                if (cp >= 0xD800 && cp <= 0xDBFF) { /* validated: a low half follows */
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)hex4(p + 8) - 0xDC00);
                    p += 6;
                }
                p += 4;
                break;
            default: cp = (unsigned char)p[1]; break; /* " \ / */
            }
            p += 2;
            tn = u8_put(tmp, cp);
        } else {
            tn = u8_seqlen((unsigned char)*p);
            if (tn > (size_t)(end - p))
                tn = (size_t)(end - p);
            memcpy(tmp, p, tn);
            p += tn;
        }
        if (clean && tn == 1 && ((unsigned char)tmp[0] < 0x20 || tmp[0] == 0x7f))
            tmp[0] = ' ';
        if (tn > cap - 1 - o) {
            *truncated = 1;
            break;
        }
        memcpy(dst + o, tmp, tn);
        o += tn;
    }
    dst[o] = '\0';
    return o;
}

/* Whether v is a string equal to lit (after unescaping). */
static int j_str_eq(const jval *v, const char *lit)
{
    char buf[64];
    int trunc;
    size_t n;

    if (v->type != J_STRING)
        return 0;
    /* Most keys have no escapes: compare the raw text, decode only when
     * it differs and has a backslash that could make it equal. */
    n = strlen(lit);
    if (v->n - 2 == n && memcmp(v->p + 1, lit, n) == 0)
        return 1;
    if (!memchr(v->p + 1, '\\', v->n - 2))
        return 0;
    n = j_str_decode(v, buf, sizeof buf, 0, &trunc);
    return !trunc && n == strlen(lit) && memcmp(buf, lit, n) == 0;
}

/* Member `key` of a validated object.  With duplicate keys the last one
 * wins, as in lua-cjson and JavaScript's JSON.parse. */
static int j_get(const jval *obj, const char *key, jval *out)
{
    jiter it;
    jval k = {J_NONE, NULL, 0}, v; /* j_iter_next sets the key of every object member */
    int found = 0;

    if (obj->type != J_OBJECT)
        return 0;
    j_iter_begin(&it, obj);
    while (j_iter_next(&it, &k, &v)) {
        if (j_str_eq(&k, key)) {
            *out = v;
            found = 1;
        }
    }
    return found;
}

/* ---------------------------------------------------- response shapes */

/* Checks the positive response {status:"success", data:{}, warnings:[{message}]}.
 * Returns 1 when it matches; otherwise writes what is wrong into why. */
static int success_shape(const jval *root, char *why, size_t whysz)
{
    jval v, w;
    jiter it;
    size_t i = 0;

    if (root->type != J_OBJECT) {
        fmt_into(why, whysz, "the top level is not an object");
        return 0;
    }
    if (!j_get(root, "status", &v)) {
        fmt_into(why, whysz, "missing \"status\"");
        return 0;
    }
    if (!j_str_eq(&v, "success")) {
        fmt_into(why, whysz, "\"status\" is not \"success\"");
        return 0;
    }
    if (!j_get(root, "data", &v)) {
        fmt_into(why, whysz, "missing \"data\"");
        return 0;
    }
    if (v.type != J_OBJECT) {
        fmt_into(why, whysz, "\"data\" is not an object");
        return 0;
    }
    if (!j_get(root, "warnings", &v)) {
        fmt_into(why, whysz, "missing \"warnings\"");
        return 0;
    }
    if (v.type != J_ARRAY) {
        fmt_into(why, whysz, "\"warnings\" is not an array");
        return 0;
    }
    j_iter_begin(&it, &v);
    for (; j_iter_next(&it, NULL, &w); i++) {
        jval m;
        if (w.type != J_OBJECT) {
            fmt_into(why, whysz, "warnings[%zu] is not an object", i);
            return 0;
        }
        if (!j_get(&w, "message", &m) || m.type != J_STRING) {
            fmt_into(why, whysz, "warnings[%zu] has no string \"message\"", i);
            return 0;
        }
    }
    return 1;
}

/* A member that must be a string or null; absent is tolerated (the API
 * description marks it required, but an older or proxied server may omit
 * it, and the message alone is enough to report the error). */
static int opt_string(const jval *obj, const char *key, jval *out)
{
    if (!j_get(obj, key, out)) {
        out->type = J_NULL;
        return 1;
    }
    return out->type == J_STRING || out->type == J_NULL;
}

static void copy_opt(const jval *v, char *dst, size_t cap, int *has)
{
    int trunc;

    if (v->type == J_STRING) {
        j_str_decode(v, dst, cap, 1, &trunc);
        *has = 1;
    }
}

/* Kombo's ATS error body {status:"error", error:{code,title,message,log_url}}.
 * Fills message, code, title, log_url when it matches; returns 1 then. */
static int error_shape(const jval *root, kombo_classification *out)
{
    jval v, err, msg, code, title, log_url;
    int trunc;

    if (root->type != J_OBJECT || !j_get(root, "status", &v) || !j_str_eq(&v, "error"))
        return 0;
    if (!j_get(root, "error", &err) || err.type != J_OBJECT)
        return 0;
    if (!j_get(&err, "message", &msg) || msg.type != J_STRING)
        return 0;
    if (!opt_string(&err, "code", &code) || !opt_string(&err, "title", &title) ||
        !opt_string(&err, "log_url", &log_url))
        return 0;

    j_str_decode(&msg, out->message, sizeof out->message, 1, &trunc);
    copy_opt(&code, out->code, sizeof out->code, &out->has_code);
    copy_opt(&title, out->title, sizeof out->title, &out->has_title);
    copy_opt(&log_url, out->log_url, sizeof out->log_url, &out->has_log_url);
    return 1;
}

/* ------------------------------------------------------ classification */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    }
    return NULL;
}

/* The body as (pointer, length); never a NULL pointer. */
static const char *body_of(const kombo_response *r, size_t *n)
{
    *n = r->body.data ? r->body.len : 0;
    return r->body.data ? r->body.data : "";
}

static double retry_after_of(const kombo_response *r, double now)
{
    char v[128];

    if (!kombo_response_header(r, "Retry-After", v, sizeof v))
        return -1;
    return kombo_parse_retry_after(v, now);
}

/* Outcome and retry flags that a status implies once the server answered.
 * 429 and 503 say "not now" before acting, so a retry is safe; other 5xx
 * may have acted; other 4xx and 3xx were refused. */
static void status_outcome(const kombo_response *r, double now, kombo_classification *out)
{
    int s = r->status;

    if (s == 429 || s == 503) {
        out->outcome = KOMBO_OUTCOME_REJECTED;
        out->retryable_safe = 1;
        out->retry_after = retry_after_of(r, now);
    } else if (s >= 500) {
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        out->retryable_unsafe = 1;
        out->retry_after = retry_after_of(r, now);
    } else if (s >= 300) {
        out->outcome = KOMBO_OUTCOME_REJECTED;
    } else {
        out->outcome = KOMBO_OUTCOME_UNKNOWN; /* 2xx: likely acted upon; 1xx: can't tell */
    }
}

static const char *phase_note(kombo_phase ph)
{
    switch (ph) {
    case KOMBO_PHASE_CONNECT: return "before the request was sent";
    case KOMBO_PHASE_SENDING: return "while the request was being sent; it may have been processed";
    case KOMBO_PHASE_WAITING: return "after the request was sent; it may have been processed";
    case KOMBO_PHASE_RECEIVING: return "while the response was arriving; the request may have been processed";
    case KOMBO_PHASE_DONE: return "after the response arrived; the request may have been processed";
    }
    return "it may have been processed";
}

/* Network failure, timeout or abort: the phase decides whether anything
 * reached the server. */
static void classify_transport(const kombo_response *r, kombo_classification *out)
{
    const char *what;
    const char *em = r->error_message;
    int emlen;
    const char *nul = memchr(em, '\0', sizeof r->error_message);

    emlen = (int)(nul ? (size_t)(nul - em) : sizeof r->error_message); /* tolerate a missing NUL */
    switch (r->error) {
    case KOMBO_TE_TIMEOUT:
        out->kind = KOMBO_ERR_TIMEOUT;
        what = "timed out";
        break;
    case KOMBO_TE_ABORTED:
        /* We cut the body short ourselves, so the server saw an incomplete
         * request it cannot act on.  Not retried: the source is suspect. */
        out->kind = KOMBO_ERR_ABORTED;
        out->outcome = KOMBO_OUTCOME_NOT_SENT;
        fmt_into(out->message, sizeof out->message,
                 "upload aborted: %.*s (the request was cut off, so the server cannot have acted on it)",
                 emlen, em);
        return;
    default:
        out->kind = KOMBO_ERR_NETWORK;
        what = "network error";
        break;
    }
    if (r->phase == KOMBO_PHASE_CONNECT) {
        out->outcome = KOMBO_OUTCOME_NOT_SENT;
        out->retryable_safe = 1;
    } else {
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        out->retryable_unsafe = 1;
    }
    fmt_into(out->message, sizeof out->message, "%s%s%.*s (%s)", what, emlen ? ": " : "", emlen, em,
             phase_note(r->phase));
}

/* The answer exceeded max_response_bytes.  The status line, when it came,
 * still says whether the server acted; only the body is missing. */
static void classify_too_large(const kombo_response *r, double now, kombo_classification *out)
{
    out->kind = KOMBO_ERR_HTTP;
    if (r->status >= 100) {
        status_outcome(r, now, out);
        fmt_into(out->message, sizeof out->message,
                 "HTTP %d response body larger than %zu bytes (max_response_bytes); aborted", r->status,
                 r->body.limit);
    } else {
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        fmt_into(out->message, sizeof out->message,
                 "response larger than %zu bytes (max_response_bytes); aborted", r->body.limit);
    }
}

static void classify_success(const kombo_response *r, kombo_classification *out)
{
    size_t n;
    const char *body = body_of(r, &n);
    jscan s;
    jval root;
    char why[160];

    if (n == 0) {
        out->kind = KOMBO_ERR_DECODE;
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        fmt_into(out->message, sizeof out->message,
                 "HTTP %d with an empty response body (the request may have been processed)", r->status);
        return;
    }
    if (j_parse(&s, body, n, &root)) {
        out->kind = KOMBO_ERR_DECODE;
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        fmt_into(out->message, sizeof out->message,
                 "response body is not JSON: %s at byte %zu (HTTP %d; the request may have been processed)",
                 s.err, s.err_at, r->status);
        return;
    }
    if (!success_shape(&root, why, sizeof why)) {
        out->kind = KOMBO_ERR_DECODE;
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        fmt_into(out->message, sizeof out->message,
                 "response is not Kombo's success shape: %s (HTTP %d; the request may have been processed)",
                 why, r->status);
        return;
    }
    out->kind = KOMBO_OK;
    out->outcome = KOMBO_OUTCOME_NONE;
}

static void classify_redirect(const kombo_response *r, kombo_classification *out)
{
    char loc[LOCATION_SHOWN + 1], shown[LOCATION_SHOWN + 1];

    out->kind = KOMBO_ERR_HTTP;
    out->outcome = KOMBO_OUTCOME_REJECTED;
    if (kombo_response_header(r, "Location", loc, sizeof loc) && loc[0]) {
        copy_header_text(shown, sizeof shown, loc, LOCATION_SHOWN);
        fmt_into(out->message, sizeof out->message,
                 "HTTP %d redirect to %s not followed (the API key is never sent to another host)", r->status,
                 shown);
    } else {
        fmt_into(out->message, sizeof out->message, "HTTP %d redirect not followed", r->status);
    }
}

static void classify_error_status(const kombo_response *r, double now, kombo_classification *out)
{
    size_t n;
    const char *body = body_of(r, &n);
    jscan s;
    jval root;

    status_outcome(r, now, out);
    if (n > 0 && j_parse(&s, body, n, &root) == 0 && error_shape(&root, out)) {
        out->kind = KOMBO_ERR_API;
        if (!out->message[0]) /* Kombo's message is always present; keep ours non-empty anyway */
            fmt_into(out->message, sizeof out->message, "HTTP %d (Kombo error without a message)", r->status);
        return;
    }

    out->kind = KOMBO_ERR_HTTP;
    {
        char ct[CONTENT_TYPE_SHOWN + 1], shown[CONTENT_TYPE_SHOWN + 1];
        const char *reason = reason_phrase(r->status);

        if (kombo_response_header(r, "Content-Type", ct, sizeof ct) && ct[0])
            copy_header_text(shown, sizeof shown, ct, CONTENT_TYPE_SHOWN);
        else
            strcpy(shown, "no content type");
        fmt_into(out->message, sizeof out->message, "HTTP %d%s%s with a non-Kombo body (%s, %zu bytes)",
                 r->status, reason ? " " : "", reason ? reason : "", shown, n);
    }
}

void kombo_classify(const kombo_response *r, double now, kombo_classification *out)
{
    memset(out, 0, sizeof *out);
    out->retry_after = -1;

    if (!r) {
        out->kind = KOMBO_ERR_INTERNAL;
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        fmt_into(out->message, sizeof out->message, "no response to classify");
        return;
    }
    /* A body that could not be stored whole (limit or out of memory) must
     * not be parsed as if complete, even if the transport did not say so. */
    if (r->error == KOMBO_TE_TOO_LARGE || (r->error == KOMBO_TE_NONE && r->body.failed)) {
        classify_too_large(r, now, out);
        return;
    }
    if (r->error != KOMBO_TE_NONE) {
        classify_transport(r, out);
        return;
    }
    if (r->status < 100 || r->status > 999) {
        out->kind = KOMBO_ERR_NETWORK;
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        if (r->status == 0)
            fmt_into(out->message, sizeof out->message, "no HTTP status received");
        else
            fmt_into(out->message, sizeof out->message, "invalid HTTP status %d", r->status);
        return;
    }
    if (r->status < 200) {
        /* An interim answer as the final one: the server may still act. */
        out->kind = KOMBO_ERR_HTTP;
        out->outcome = KOMBO_OUTCOME_UNKNOWN;
        fmt_into(out->message, sizeof out->message, "HTTP %d informational response without a final answer",
                 r->status);
        return;
    }
    if (r->status < 300) {
        classify_success(r, out);
        return;
    }
    if (r->status < 400) {
        classify_redirect(r, out);
        return;
    }
    classify_error_status(r, now, out);
}

/*
 * json.c - the strict JSON scanner declared in json.h.
 *
 * Pure: no allocation, no locale.  The shape checks of classify.c and the
 * Lua result builder (lua_json.c) walk text validated here.
 */
#include "json.h"

#include "codec.h" /* kombo_utf8_valid, kombo_utf8_seqlen */

#include <stdint.h>
#include <string.h>

static int a_digit(int c) { return c >= '0' && c <= '9'; }

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

/* 1 for the bytes a string holds as they stand: not '"', '\\' or a
 * control byte (one look-up a byte, not three comparisons). */
#define SPLAIN(c) ((c) >= 0x20 && (c) != '"' && (c) != '\\')
#define SPLAIN4(c) SPLAIN(c), SPLAIN((c) + 1), SPLAIN((c) + 2), SPLAIN((c) + 3)
#define SPLAIN16(c) SPLAIN4(c), SPLAIN4((c) + 4), SPLAIN4((c) + 8), SPLAIN4((c) + 12)
#define SPLAIN64(c) SPLAIN16(c), SPLAIN16((c) + 16), SPLAIN16((c) + 32), SPLAIN16((c) + 48)
static const unsigned char STRING_PLAIN[256] = {SPLAIN64(0), SPLAIN64(64), SPLAIN64(128), SPLAIN64(192)};

/* A string literal at s->p (which is '"').  Rejects raw control bytes, bad
 * escapes, unpaired surrogates (they cannot become UTF-8) and invalid
 * UTF-8.  (j_string below tells most strings first.) */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int j_string_full(jscan *s)
{
    const char *open = s->p, *p = s->p + 1, *end = s->end;
    unsigned high = 0; /* the OR of the bytes: UTF-8 is checked only when one is >= 0x80 */

    s->escaped = 0;

    for (;;) {
        unsigned char c;
        long u, lo;

        /* The bytes that stand for themselves, through a local pointer: a
         * store to s->p would be read again after every byte (a char may
         * alias it); first eight ASCII bytes a step, to the first byte
         * that is not plain ASCII (the byte loop below reads on from it). */
        p = kombo_json_string_run(p, end, 1);
        while (p < end && STRING_PLAIN[(unsigned char)*p]) {
            high |= (unsigned char)*p;
            p++;
        }
        s->p = p;
        if (p >= end)
            return j_fail(s, "unterminated string");
        c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c < 0x20)
            return j_fail(s, "control character in string");
        if (end - p < 2)
            return j_fail(s, "unterminated string");
        s->escaped = 1;
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            continue;
        case 'u':
            break;
        default:
            return j_fail(s, "invalid escape in string");
        }
        if (end - p < 6) {
            /* Truncated: say so, unless what is there is already wrong. */
            const char *q = p + 2;
            while (q < end && hexval((unsigned char)*q) >= 0)
                q++;
            return j_fail(s, q == end ? "unexpected end of input" : "invalid \\u escape in string");
        }
        if ((u = hex4(p + 2)) < 0)
            return j_fail(s, "invalid \\u escape in string");
        if (u >= 0xDC00 && u <= 0xDFFF)
            return j_fail(s, "unpaired surrogate in string");
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || (lo = hex4(p + 8)) < 0 || lo < 0xDC00 ||
                lo > 0xDFFF)
                return j_fail(s, "unpaired surrogate in string");
            p += 6;
        }
        p += 6;
    }
    s->p = p + 1; /* past the closing quote */
    if ((high & 0x80) && !kombo_utf8_valid(open + 1, (size_t)(p - open - 1))) {
        s->p = open;
        return j_fail(s, "invalid UTF-8 in string");
    }
    return 0;
}

/* The same, most strings (plain ASCII, the first byte that is not plain
 * their closing quote) told by the 8-byte run alone: no byte loop, no
 * UTF-8 check, none of the full reading's state set up (a key or a short
 * value cost about 75 instructions, most of them that). */
static int j_string(jscan *s)
{
    const char *p = kombo_json_string_run(s->p + 1, s->end, 1);
    if (p < s->end && *p == '"') {
        s->p = p + 1;
        s->escaped = 0;
        return 0;
    }
    return j_string_full(s);
}

/* The tape's entry for the token at s->p, or TAPE_NONE when there is no
 * tape or it is full (tape_over then says so). */
#define TAPE_NONE 0xffffffffu
static inline unsigned tape_add(jscan *s)
{
    if (s->tape_n < s->tape_cap) {
        s->tape_at[s->tape_n] = (uint32_t)(s->p - s->start);
        return (unsigned)s->tape_n++;
    }
    s->tape_over = 1;
    return TAPE_NONE;
}

/* Its end: a scalar's at s->p (a string's marked plain when it held no
 * escape: scalar_end), or a container's count. */
static inline void tape_end(jscan *s, unsigned i, uint32_t end)
{
    if (i != TAPE_NONE)
        s->tape_end[i] = end;
}

static inline uint32_t scalar_end(const jscan *s, int string)
{
    return (uint32_t)(s->p - s->start) | (string && !s->escaped ? JTAPE_PLAIN : 0u);
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

/* *out (when asked for) as the value of type t at [b, e) found by s; 0. */
static int described(const jscan *s, jval *out, jtype t, const char *b, const char *e)
{
    if (out) {
        out->type = t;
        out->p = b;
        out->n = (size_t)(e - b);
        out->marks = s->marks;
    }
    return 0;
}

/* An object or array at s->p; `depth` counts this container. */
static int j_container(jscan *s, int depth, int is_obj, unsigned taped)
{
    char close = is_obj ? '}' : ']';
    jmarks *m = s->record;
    unsigned mark = KOMBO_JSON_MARKS; /* this container's record, if it has one */
    uint32_t members = 0;

    if (depth > KOMBO_JSON_MAX_DEPTH)
        return j_fail(s, "nested too deeply");
    if (m != NULL && depth <= KOMBO_JSON_MARK_DEPTH && m->n < KOMBO_JSON_MARKS) {
        mark = m->n++;
        m->open[mark] = s->p;
        m->close[mark] = NULL;
        m->count[mark] = 0;
    }
    s->p++;
    j_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        if (mark < KOMBO_JSON_MARKS)
            m->close[mark] = s->p;
        tape_end(s, taped, 0);
        return 0;
    }
    for (;;) {
        jval *val = NULL; /* where the member is recorded (the top level's) */
        if (is_obj) {
            const char *key = s->p;
            unsigned key_taped;
            if (s->p >= s->end || *s->p != '"')
                return j_eof_or(s, "expected a string key");
            key_taped = tape_add(s);
            if (j_string(s))
                return -1;
            tape_end(s, key_taped, scalar_end(s, 1));
            if (depth == 1 && s->members != NULL) {
                jmembers *mm = s->members;
                if (mm->n < KOMBO_JSON_ROOT_MEMBERS) {
                    described(s, &mm->key[mm->n], J_STRING, key, s->p);
                    val = &mm->val[mm->n++];
                } else {
                    mm->all = 0;
                }
            }
            j_ws(s);
            if (s->p >= s->end || *s->p != ':')
                return j_eof_or(s, "expected ':'");
            s->p++;
            j_ws(s);
        }
        if (j_value(s, depth, val))
            return -1;
        members++;
        if (mark < KOMBO_JSON_MARKS)
            m->count[mark]++;
        j_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            j_ws(s);
            continue;
        }
        if (s->p < s->end && *s->p == close) {
            s->p++;
            if (mark < KOMBO_JSON_MARKS)
                m->close[mark] = s->p;
            tape_end(s, taped, members);
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
    unsigned taped;

    if (s->p >= s->end)
        return j_fail(s, "unexpected end of input");
    taped = tape_add(s);
    switch (*s->p) {
    case '{': t = J_OBJECT; rc = j_container(s, depth + 1, 1, taped); break;
    case '[': t = J_ARRAY; rc = j_container(s, depth + 1, 0, taped); break;
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
    if (t != J_OBJECT && t != J_ARRAY)
        tape_end(s, taped, scalar_end(s, t == J_STRING));
    return described(s, out, t, b, s->p);
}

int kombo_json_parse_members(jscan *s, const char *text, size_t n, jval *root, jmarks *marks,
                             jmembers *members)
{
    return kombo_json_parse_taped(s, text, n, root, marks, members, NULL);
}

int kombo_json_parse_taped(jscan *s, const char *text, size_t n, jval *root, jmarks *marks, jmembers *members,
                           jtape *tape)
{
    memset(s, 0, sizeof *s);
    if (tape != NULL && n < JTAPE_PLAIN) { /* (offsets below the flag) */
        s->tape_at = tape->at;
        s->tape_end = tape->end;
        s->tape_cap = KOMBO_JSON_TAPE;
    }
    s->start = s->p = text;
    s->end = text + n;
    s->marks = s->record = marks;
    if (marks != NULL) {
        marks->n = 0;
        marks->ntape = KOMBO_JSON_TAPE + 1; /* (the caller hands its tape on) */
    }
    s->members = members;
    if (members != NULL) {
        members->n = 0;
        members->all = 1;
    }
    j_ws(s);
    if (j_value(s, 0, root))
        return -1;
    if (tape != NULL)
        tape->n = s->tape_cap != 0 && !s->tape_over ? (unsigned)s->tape_n : KOMBO_JSON_TAPE + 1;
    if (members != NULL && (root == NULL || root->type != J_OBJECT))
        members->all = 0;
    j_ws(s);
    if (s->p != s->end)
        return j_fail(s, "trailing data after the JSON value");
    return 0;
}

int kombo_json_parse_marked(jscan *s, const char *text, size_t n, jval *root, jmarks *marks)
{
    return kombo_json_parse_members(s, text, n, root, marks, NULL);
}

int kombo_json_parse(jscan *s, const char *text, size_t n, jval *root)
{
    return kombo_json_parse_marked(s, text, n, root, NULL);
}

void kombo_json_iter_begin(jiter *it, const jval *c)
{
    memset(it, 0, sizeof *it);
    it->is_obj = c->type == J_OBJECT;
    it->s.start = it->s.p = c->p;
    it->s.end = c->p + c->n;
    it->s.marks = c->marks;
    it->done = c->type != J_OBJECT && c->type != J_ARRAY;
    if (!it->done) {
        it->s.p++; /* '{' or '[' */
        j_ws(&it->s);
        it->done = it->s.p >= it->s.end || *it->s.p == '}' || *it->s.p == ']';
    }
}

/* ------------------------------------------- walking validated text
 *
 * The iterator walks text kombo_json_parse accepted, so it only needs to
 * find where each value ends, not to check it again: a string ends at the
 * first quote after an even run of backslashes, a container at its
 * matching bracket (brackets inside strings skipped).  Checking it again
 * would scan a nested value once per level above it.  Every step stays
 * within [p, end) whatever the text, so a misuse cannot read past it. */

/* The bytes a container's end depends on: quotes and brackets. */
static const unsigned char STRUCTURAL[256] = {['"'] = 1, ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1};

/* Past the string whose opening quote is at s->p. */
static int t_string(jscan *s)
{
    const char *start = s->p + 1, *p = start;

    while (p < s->end) {
        const char *q = memchr(p, '"', (size_t)(s->end - p)), *b;
        if (q == NULL)
            break;
        for (b = q; b > start && b[-1] == '\\'; b--)
            ;
        if (((q - b) & 1) == 0) {
            s->p = q + 1;
            return 0;
        }
        p = q + 1;
    }
    s->p = s->end;
    return -1;
}

/* One past the end of the container opening at p, as the strict scan
 * recorded it; NULL when it did not.  The record is in text order. */
static const char *marked_end(const jmarks *m, const char *p)
{
    unsigned lo = 0, hi = m->n;

    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (m->open[mid] == p)
            return m->close[mid];
        if (m->open[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Past the value at s->p, described in *out (may be NULL). */
int kombo_json_skip(jscan *s, jval *out)
{
    const char *b = s->p;
    jtype t;

    if (b >= s->end)
        return -1;
    switch (*b) {
    case '"':
        t = J_STRING;
        if (t_string(s))
            return -1;
        break;
    case '{':
    case '[': {
        size_t depth = 0;
        const unsigned char *p = (const unsigned char *)s->p, *end = (const unsigned char *)s->end;
        const char *e = s->marks != NULL ? marked_end(s->marks, b) : NULL;
        t = *b == '{' ? J_OBJECT : J_ARRAY;
        if (e != NULL && e <= s->end) { /* recorded: no need to read it */
            s->p = e;
            break;
        }
        while (p < end) {
            unsigned char c;
            /* Most bytes matter to nothing here: skip them four at a time. */
            while (end - p >= 4 && !STRUCTURAL[p[0]] && !STRUCTURAL[p[1]] && !STRUCTURAL[p[2]] &&
                   !STRUCTURAL[p[3]])
                p += 4;
            while (p < end && !STRUCTURAL[*p])
                p++;
            if (p == end)
                break;
            c = *p;
            if (c == '"') {
                s->p = (const char *)p;
                if (t_string(s))
                    return -1;
                p = (const unsigned char *)s->p;
                continue;
            }
            p++;
            if (c == '{' || c == '[')
                depth++;
            else if (--depth == 0)
                break;
        }
        s->p = (const char *)p;
        if (depth != 0)
            return -1;
        break;
    }
    case 't':
    case 'n':
    case 'f': {
        size_t n = *b == 'f' ? 5 : 4;
        t = *b == 't' ? J_TRUE : *b == 'n' ? J_NULL : J_FALSE;
        if ((size_t)(s->end - b) < n)
            return -1;
        s->p += n;
        break;
    }
    default:
        t = J_NUMBER;
        while (s->p < s->end && (a_digit((unsigned char)*s->p) || *s->p == '-' || *s->p == '+' ||
                                 *s->p == '.' || *s->p == 'e' || *s->p == 'E'))
            s->p++;
        if (s->p == b)
            return -1;
    }
    return described(s, out, t, b, s->p);
}

int kombo_json_iter_next(jiter *it, jval *key, jval *val)
{
    jscan *s = &it->s;

    if (it->done)
        return 0;
    if (it->is_obj) {
        const char *b = s->p;
        if (s->p >= s->end || *s->p != '"' || t_string(s))
            goto stop;
        if (key)
            described(s, key, J_STRING, b, s->p);
        j_ws(s);
        if (s->p >= s->end || *s->p != ':')
            goto stop;
        s->p++;
        j_ws(s);
    }
    if (kombo_json_skip(s, val))
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

/* The next character of a validated string's text at *pp (before `end`,
 * the closing quote) as UTF-8 into tmp; advances *pp, returns the length. */
static size_t str_char(const char **pp, const char *end, char tmp[4])
{
    const char *p = *pp;
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
        tn = kombo_utf8_seqlen((unsigned char)*p);
        if (tn > (size_t)(end - p))
            tn = (size_t)(end - p);
        memcpy(tmp, p, tn);
        p += tn;
    }
    *pp = p;
    return tn;
}

size_t kombo_json_str_decode(const jval *v, char *dst, size_t cap, int clean, int *truncated)
{
    const char *p = v->p + 1, *end = v->p + v->n - 1;
    size_t o = 0;

    *truncated = 0;
    while (p < end) {
        char tmp[4];
        size_t tn = str_char(&p, end, tmp);

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

int kombo_json_str_eq(const jval *v, const char *lit)
{
    const char *p, *end;
    size_t n, o = 0;

    if (v->type != J_STRING)
        return 0;
    p = v->p + 1;
    end = v->p + v->n - 1;
    /* The usual miss at one byte: text that starts with neither the
     * first byte of lit nor a backslash (an escape) cannot be lit. */
    if (p < end && *p != '\\' && *p != lit[0])
        return 0;
    n = strlen(lit);
    /* Most keys have no escapes, and then the text is the value.  With a
     * backslash it is not (the text \n is a newline, never the two bytes
     * backslash and n), so then the value is compared, not the text.  An
     * escape only ever shortens (two to twelve bytes of text for one to
     * four of value), so a text no longer than lit needs no decoding: it
     * is lit exactly when it has no backslash and the same bytes. */
    if ((size_t)(end - p) <= n)
        return (size_t)(end - p) == n && memcmp(p, lit, n) == 0 && !memchr(p, '\\', n);
    if (!memchr(p, '\\', (size_t)(end - p)))
        return 0; /* longer, and no escape to shorten it */
    /* Decoded a character at a time: no length limit. */
    while (p < end) {
        char tmp[4];
        size_t tn = str_char(&p, end, tmp);

        if (tn > n - o || memcmp(lit + o, tmp, tn) != 0)
            return 0;
        o += tn;
    }
    return o == n;
}

int kombo_json_get(const jval *obj, const char *key, jval *out)
{
    jiter it;
    jval k = {J_NONE, NULL, 0, NULL}, v; /* j_iter_next sets the key of every object member */
    int found = 0;

    if (obj->type != J_OBJECT)
        return 0;
    kombo_json_iter_begin(&it, obj);
    while (kombo_json_iter_next(&it, &k, &v)) {
        if (kombo_json_str_eq(&k, key)) {
            *out = v;
            found = 1;
        }
    }
    return found;
}
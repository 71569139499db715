/*
 * redact.c - finds echoes of the API key (and of any other secret: proxy
 * credentials, a webhook secret; several at once) in what a server sent
 * back, in what kombo-attach prints, and in what a webhook handler logs.
 *
 * A server (or a proxy's error page) may quote the Authorization header:
 * whole, cut off by a length cap, re-cased, percent-encoded, JSON-escaped
 * (its error JSON quoting the key, or quoting the request as JSON inside a
 * JSON string), or a mix.  What goes is every run of KOMBO_REDACT_MIN (8)
 * or more bytes that equals, folded (ASCII case; a space, a control byte
 * and "+" are one byte), a run of the key or of the key percent-encoded
 * (RFC 3986 unreserved bytes kept, every other byte %xx, either case of
 * hex), with the text read four ways:
 *   - as it is;
 *   - with JSON escapes decoded (\" \\ \/ \b \f \n \r \t, \uXXXX in
 *     either case of hex, a surrogate pair as its one character in UTF-8);
 *   - with JSON escapes and %XX decoded;
 *   - with JSON escapes decoded twice (JSON quoted inside a JSON string).
 * A run starts and ends at the edges of the text's units (an escape, %XX,
 * a UTF-8 sequence, a byte), so "<redacted>" never cuts an escape or a
 * character in two: a JSON string stays a valid JSON string and UTF-8
 * stays UTF-8.  (A key echoed raw across a JSON text's structure, a '"'
 * that ends a string, is another matter: kombo_json_next_string and
 * core.redact_json redact inside string literals only.)  Keys shorter than
 * 8 bytes are never looked for: they are test keys, and redacting them
 * would shred ordinary words.
 *
 * The algorithm: every 8-byte window of the folded key and of its folded
 * percent-encoding is one uint64_t, exactly (8 bytes, no hash collision to
 * verify), kept in a small open-addressed set.  The text is read once,
 * unit by unit, each reading rolling its own window of the bytes it reads
 * a byte at a time and remembering where each came from; a window in the
 * set is key material, and touching or overlapping such windows (of any
 * reading) make one run, replaced by a single "<redacted>".  Every run of
 * >= 8 key bytes is a chain of such windows, so nothing the rule names is
 * missed; a chain of key windows that is not one contiguous piece of the
 * key (a key with repeated 7-byte runs, or a copy that switches between
 * plain and encoded mid-way) goes too, which errs on the safe side.  The
 * four readings differ only near a '\' or '%': where the last 20 units
 * were plain bytes, one reading stands for all (a tight loop over ASCII
 * bytes, as fast as the single reading used to be), and the others start
 * again as copies of it at the next '\' or '%'.  A text that is plain
 * bytes with no key window in them (most are) is told by a leaner pass
 * still, which keeps only the window.  O(n) in the text,
 * O(key) to build, no allocation when nothing matches; the set lives in
 * the redactor itself for keys up to 67 bytes (135 for letters, digits and
 * "-._~" only); longer ones need kombo_redactor_extra() bytes.
 *
 * Measured (gcc -O2, x86-64, the 46-byte key of spec/integration/
 * secrets_spec.lua, 1 MiB of JSON-like text, through core.redact):
 *   no match, no '\' or '%' .............. 1.8 ms (~580 MB/s; 2.5 ms before the
 *                                           escapes were read)
 *   the key echoed every 4 KiB ............ 2.3 ms (the copy included)
 *   no match, an escape every 10 bytes .... 19 ms (four readings all the way)
 *   naive (at every offset, the longest case-folded match against every
 *   offset of the key and of its encoding, which is what matching any
 *   run rather than the key's leading bytes asks for) 250 ms, O(n * key)
 * Building the set for that key: 0.34 us.  Beside an HTTP call, nothing.
 */
#include "kombo.h"
#include "redact.h"
#include "buf.h"

#include <stdlib.h>
#include <string.h>

#define GRAM KOMBO_REDACT_MIN

static const char REDACTED[] = "<redacted>";

/* ASCII case folded; a space, a control byte and "+" are one byte (form
 * encoding writes a space as "+", and messages have control bytes as
 * spaces: classify.c).  Never 0.  The casts keep each arm a byte: the
 * plain_fold initializer evaluates FOLD for 0..255, where clang's
 * -Wconstant-conversion rejects the int arm (c) + 32 of c = 255. */
#define FOLD(c)                                                        \
    ((c) <= ' ' || (c) == 0x7f   ? '+'                                 \
     : (c) >= 'A' && (c) <= 'Z' ? (unsigned char)((c) + ('a' - 'A'))   \
                                : (unsigned char)(c))

static unsigned char fold(unsigned char c)
{
    return (unsigned char)FOLD(c);
}

/* fold() of the bytes that are a unit by themselves in every reading:
 * ASCII but '\\' and '%'; 0 for the others. */
#define PLAIN(c) ((c) >= 0x80 || (c) == '\\' || (c) == '%' ? 0 : FOLD(c))
#define PLAIN4(c) PLAIN(c), PLAIN((c) + 1), PLAIN((c) + 2), PLAIN((c) + 3)
#define PLAIN16(c) PLAIN4(c), PLAIN4((c) + 4), PLAIN4((c) + 8), PLAIN4((c) + 12)
#define PLAIN64(c) PLAIN16(c), PLAIN16((c) + 16), PLAIN16((c) + 32), PLAIN16((c) + 48)
static const unsigned char plain_fold[256] = {PLAIN64(0), PLAIN64(64), PLAIN64(128), PLAIN64(192)};

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Bytes of the key percent-encoded. */
static size_t encoded_len(const char *key, size_t keylen)
{
    size_t i, n = 0;
    for (i = 0; i < keylen; i++)
        n += unreserved((unsigned char)key[i]) ? 1 : 3;
    return n;
}

/* log2 of the slot count for the windows of the keys looked for (8 bytes
 * or longer): at most half full.  0 when there is none. */
static unsigned slot_bits(const kombo_str *keys, size_t nkeys)
{
    size_t grams = 0, k;
    unsigned bits = 4;
    for (k = 0; k < nkeys; k++) {
        if (keys[k].ptr == NULL || keys[k].len < GRAM)
            continue;
        grams += (keys[k].len - GRAM + 1) + (encoded_len(keys[k].ptr, keys[k].len) - GRAM + 1);
    }
    if (grams == 0)
        return 0;
    while (((size_t)1 << bits) < 2 * grams)
        bits++;
    return bits;
}

size_t kombo_redactor_extra_keys(const kombo_str *keys, size_t nkeys)
{
    unsigned bits = slot_bits(keys, nkeys);
    return bits == 0 || ((size_t)1 << bits) <= KOMBO_REDACT_INLINE ? 0 : ((size_t)1 << bits) * sizeof(uint64_t);
}

size_t kombo_redactor_extra(const char *key, size_t keylen)
{
    kombo_str k;
    k.ptr = key, k.len = keylen;
    return kombo_redactor_extra_keys(&k, 1);
}

static size_t slot_of(uint64_t g, unsigned bits)
{
    return (size_t)((g * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - bits));
}

/* g is never 0 (the empty slot): fold() gives no NUL. */
static void insert(kombo_redactor *r, uint64_t g)
{
    size_t mask = ((size_t)1 << r->bits) - 1, i;
    for (i = slot_of(g, r->bits); r->slots[i] != 0; i = (i + 1) & mask)
        if (r->slots[i] == g)
            return;
    r->slots[i] = g;
}

static int member(const kombo_redactor *r, uint64_t g)
{
    size_t mask = ((size_t)1 << r->bits) - 1, i;
    for (i = slot_of(g, r->bits); r->slots[i] != 0; i = (i + 1) & mask)
        if (r->slots[i] == g)
            return 1;
    return 0;
}

/* The bit of the 4 folded bytes q (the first one highest) in r->quads. */
static uint32_t quad_bit(uint32_t q)
{
    return (uint32_t)(q * UINT32_C(0x9E3779B1)) >> 20; /* 12 bits: KOMBO_REDACT_QUAD_BITS */
}

/* Feeds one folded byte to a rolling window; inserts it once full, and
 * its last 4 bytes into the filter from the 4th byte on. */
static void feed(kombo_redactor *r, uint64_t *g, size_t *have, unsigned char c)
{
    *g = (*g << 8) | c;
    if (++*have >= 4) {
        uint32_t b = quad_bit((uint32_t)*g);
        r->quads[b >> 6] |= UINT64_C(1) << (b & 63);
    }
    if (*have >= GRAM)
        insert(r, *g);
}

/* Every window of one key and of its percent-encoding into the set. */
static void insert_key(kombo_redactor *r, const char *key, size_t keylen)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t g = 0;
    size_t i, have = 0;

    for (i = 0; i < keylen; i++)
        feed(r, &g, &have, fold((unsigned char)key[i]));
    g = 0, have = 0;
    for (i = 0; i < keylen; i++) {
        unsigned char c = (unsigned char)key[i];
        if (unreserved(c)) {
            feed(r, &g, &have, fold(c));
        } else {
            feed(r, &g, &have, '%');
            feed(r, &g, &have, (unsigned char)hex[c >> 4]);
            feed(r, &g, &have, (unsigned char)hex[c & 15]);
        }
    }
}

/* One set for all the keys: the text is still read once, however many
 * secrets a program holds (an API key, proxy credentials, a webhook
 * secret), and a run may mix windows of several keys (erring on the safe
 * side, as a repeated run within one key does). */
/* A redactor's serial (kombo_redactor.serial): a process-wide count,
 * atomic since states in several threads may make redactors at once. */
static uint64_t next_serial(void)
{
#if defined(__GCC_ATOMIC_LLONG_LOCK_FREE) && __GCC_ATOMIC_LLONG_LOCK_FREE == 2
    static uint64_t last;
    return __atomic_add_fetch(&last, 1, __ATOMIC_RELAXED);
#else
    return 0; /* none: every check is made */
#endif
}

int kombo_redactor_init_keys(kombo_redactor *r, const kombo_str *keys, size_t nkeys, void *extra)
{
    size_t k;

    r->serial = next_serial();
    r->slots = r->inline_slots;
    r->bits = slot_bits(keys, nkeys);
    if (r->bits == 0)
        return 0;
    if (((size_t)1 << r->bits) > KOMBO_REDACT_INLINE) {
        if (extra == NULL) {
            r->bits = 0;
            return 0;
        }
        r->slots = (uint64_t *)extra;
    }
    memset(r->slots, 0, ((size_t)1 << r->bits) * sizeof(uint64_t));
    memset(r->quads, 0, sizeof r->quads);
    for (k = 0; k < nkeys; k++)
        if (keys[k].ptr != NULL && keys[k].len >= GRAM)
            insert_key(r, keys[k].ptr, keys[k].len);
    return 1;
}

int kombo_redactor_init(kombo_redactor *r, const char *key, size_t keylen, void *extra)
{
    kombo_str k;
    k.ptr = key, k.len = keylen;
    return kombo_redactor_init_keys(r, &k, 1, extra);
}

/* ------------------------------------------------------------ reading */

/* What one unit of the text stands for.  A unit is what no copy of the
 * key is cut inside: a JSON escape (\" \\ \/ \b \f \n \r \t, \uXXXX in
 * either case of hex, a surrogate pair as one unit), %XX, a UTF-8
 * sequence, or any other byte. */
enum { U_BYTE, U_ESC, U_PCT };

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = fold(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static long hex4(const unsigned char *p)
{
    long v = 0;
    int k, h;
    for (k = 0; k < 4; k++) {
        if ((h = hexval(p[k])) < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* UTF-8 of cp (a lone surrogate as its 3 bytes, as it stands). */
static size_t utf8_put(unsigned char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
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

/* The unit at p[i] (i < n): its length; *kind, and for U_ESC and U_PCT
 * the bytes it stands for in dec[0..*dn). */
static size_t unit_at(const unsigned char *p, size_t i, size_t n, int *kind, unsigned char *dec, size_t *dn)
{
    unsigned char c = p[i];
    size_t need, k;

    if (c == '\\' && n - i >= 2) {
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *at = p[i + 1] ? strchr(from, p[i + 1]) : NULL;
        long u, lo;
        if (at != NULL) {
            *kind = U_ESC;
            dec[0] = (unsigned char)to[at - from];
            *dn = 1;
            return 2;
        }
        if (p[i + 1] == 'u' && n - i >= 6 && (u = hex4(p + i + 2)) >= 0) {
            size_t len = 6;
            if (u >= 0xD800 && u <= 0xDBFF && n - i >= 12 && p[i + 6] == '\\' && p[i + 7] == 'u' &&
                (lo = hex4(p + i + 8)) >= 0xDC00 && lo <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                len = 12;
            }
            *kind = U_ESC;
            *dn = utf8_put(dec, (unsigned long)u);
            return len;
        }
    } else if (c == '%' && n - i >= 3 && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
        *kind = U_PCT;
        dec[0] = (unsigned char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
        *dn = 1;
        return 3;
    }
    *kind = U_BYTE;
    if (c < 0xC2 || c > 0xF4)
        return 1;
    need = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
    if (n - i <= need)
        return 1;
    for (k = 1; k <= need; k++)
        if ((p[i + k] & 0xC0) != 0x80)
            return 1;
    return need + 1;
}

/* One reading of the text: the bytes as they are, JSON escapes decoded,
 * or JSON escapes and %XX decoded.  g is the rolling window of folded
 * bytes read; at[] holds, for the last GRAM of them, where the unit each
 * came from starts. */
typedef struct lane {
    uint64_t g;
    size_t count;
    size_t at[GRAM];
} lane;

typedef struct span {
    size_t a, b;
    int found;
} span;

/* Reads byte c of the unit [from, to); a key window ending here joins the
 * run when it touches it.  One past the run is found again by the next
 * call; one wholly before it (the fourth reading lags behind the others)
 * takes its place, and the run it displaces is found again. */
/* A key window [a, to) just read joins the run when it touches it.  One
 * past the run is found again by the next call; one wholly before it (the
 * fourth reading lags behind the others) takes its place, and the run it
 * displaces is found again. */
static void add_window(span *run, size_t a, size_t to)
{
    if (!run->found || to < run->a) {
        run->a = a, run->b = to, run->found = 1;
    } else if (a <= run->b) {
        if (a < run->a)
            run->a = a;
        if (to > run->b)
            run->b = to;
    }
}

/* Reads byte c of the unit [from, to). */
static void read_byte(const kombo_redactor *r, lane *l, unsigned char c, size_t from, size_t to, span *run)
{
    l->g = (l->g << 8) | fold(c);
    l->at[l->count % GRAM] = from;
    if (++l->count >= GRAM && member(r, l->g))
        add_window(run, l->at[l->count % GRAM], to); /* at[]: where the window's first byte came from */
}

static void read_bytes(const kombo_redactor *r, lane *l, const unsigned char *b, size_t n, size_t from, size_t to,
                       span *run)
{
    size_t k;
    for (k = 0; k < n; k++)
        read_byte(r, l, b[k], from, to, run);
}

/* The fourth reading: JSON escapes decoded twice (JSON quoted inside a
 * JSON string: \\\" for '"', \\\\ for '\', \\u0041).  The bytes of the
 * first decoding wait here until a whole second-level unit (at most 12
 * bytes) can be read; each keeps the span of the text it came from. */
#define DEEP_AHEAD 12
typedef struct deep {
    unsigned char b[32];
    size_t from[32], to[32];
    size_t h, n; /* the bytes waiting: [h, n) */
} deep;

/* Reads the buffered bytes, all of them when flush, else while a whole
 * unit is sure to be there (a byte other than '\\' is read at once: the
 * bytes of one UTF-8 sequence come in together). */
static void deep_read(const kombo_redactor *r, lane *l, deep *d, int flush, span *run)
{
    while (d->h < d->n && (flush || d->n - d->h >= DEEP_AHEAD || d->b[d->h] != '\\')) {
        unsigned char dec[4];
        size_t dn = 0, len, k, h = d->h;
        int kind;

        len = unit_at(d->b + h, 0, d->n - h, &kind, dec, &dn);
        if (kind == U_PCT)
            len = 1; /* %XX is not decoded in this reading */
        if (kind == U_ESC)
            read_bytes(r, l, dec, dn, d->from[h], d->to[h + len - 1], run);
        else
            for (k = 0; k < len; k++)
                read_byte(r, l, d->b[h + k], d->from[h], d->to[h + len - 1], run);
        d->h += len;
    }
    if (d->h == d->n)
        d->h = d->n = 0;
}

static void deep_push(const kombo_redactor *r, lane *l, deep *d, const unsigned char *b, size_t n, size_t from,
                      size_t to, span *run)
{
    size_t k;
    if (d->n + n > sizeof d->b) { /* at most DEEP_AHEAD - 1 wait: move them to the front */
        d->n -= d->h;
        memmove(d->b, d->b + d->h, d->n);
        memmove(d->from, d->from + d->h, d->n * sizeof d->from[0]);
        memmove(d->to, d->to + d->h, d->n * sizeof d->to[0]);
        d->h = 0;
    }
    for (k = 0; k < n; k++) {
        d->b[d->n] = b[k];
        d->from[d->n] = from;
        d->to[d->n] = to;
        d->n++;
    }
    deep_read(r, l, d, 0, run);
}

/* Where the next window of l can start at the earliest; next: where the
 * next unit starts. */
static size_t next_window(const lane *l, size_t next)
{
    if (l->count == 0)
        return next;
    return l->at[(l->count < GRAM - 1 ? 0 : l->count - (GRAM - 1)) % GRAM];
}

/* Bytes read as they are since the last escape or %XX for the readings to
 * be the same again, the fourth's pending bytes read. */
#define RESYNC (GRAM + DEEP_AHEAD)

/* Whether p[i..n) is plain bytes (every reading the same) none of whose
 * 4-byte blocks p[i + 4k..i + 4k + 4) has its bit in the filter: then no
 * window of 8 is a key's, since each window holds one of those blocks
 * whole (the one starting 0 to 3 bytes into it), and every 4 bytes of a
 * key window have their bit set.  About 6 instructions a byte, where the
 * plain pass takes a set look-up for every byte. */
static int quick_clean(const kombo_redactor *r, const unsigned char *p, size_t i, size_t n)
{
    for (; n - i >= 4; i += 4) {
        uint32_t a = plain_fold[p[i]], b = plain_fold[p[i + 1]], c = plain_fold[p[i + 2]],
                 d = plain_fold[p[i + 3]], q;
        if (a == 0 || b == 0 || c == 0 || d == 0)
            return 0;
        q = quad_bit(a << 24 | b << 16 | c << 8 | d);
        if ((r->quads[q >> 6] >> (q & 63)) & 1)
            return 0;
    }
    for (; i < n; i++)
        if (plain_fold[p[i]] == 0)
            return 0;
    return 1;
}

/* Most texts are plain ASCII with no window of a key in them, and then
 * every reading is the bytes as they are and nothing matches: this pass
 * says so with nothing kept but the window, in a loop of about ten
 * instructions a byte (a window whose slot is empty is no member: most
 * are told by that one load).  It stops at the first byte that is no
 * plain byte or that completes a key window, and leaves *gp as the first
 * reading's window before that byte, for the full reading to go on from
 * there.  Returns where it stopped (n: nothing to find). */
static size_t plain_pass(const kombo_redactor *r, const unsigned char *p, size_t i, size_t n, uint64_t *gp)
{
    const uint64_t *slots = r->slots;
    unsigned bits = r->bits;
    size_t first = n - i > GRAM - 1 ? i + (GRAM - 1) : n; /* the first byte that completes a window */
    uint64_t g = 0;

    for (; i < first; i++) {
        unsigned char f = plain_fold[p[i]];
        if (f == 0)
            break;
        g = (g << 8) | f;
    }
    if (i == first) {
        for (; i < n; i++) {
            unsigned char f = plain_fold[p[i]];
            uint64_t next = (g << 8) | f;
            if (f == 0 || (slots[slot_of(next, bits)] != 0 && member(r, next)))
                break;
            g = next;
        }
    }
    *gp = g;
    return i;
}

/* The four readings from `i` on, where the plain pass (which began at
 * `from`) stopped with the window `window`: a function of its own, never
 * inlined, so that the texts the plain pass clears (most) do not pay for
 * setting up its state. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int full_reading(const kombo_redactor *r, const unsigned char *p, size_t n, size_t from, size_t i,
                        uint64_t window, size_t *start, size_t *end)
{
    size_t plain = 0, k;
    lane l[4];
    deep d;
    span run = {0, 0, 0};
    int synced = 1;

    /* (Every entry of at[] and d.b that is read is written first; zeroed
     * for clang-tidy's analyzer, which cannot tell, at 96 bytes a text
     * that gets this far.) */
    memset(l[0].at, 0, sizeof l[0].at);
    memset(d.b, 0, sizeof d.b);
    l[0].g = window, l[0].count = i - from; /* as the first reading would have it at i */
    for (k = l[0].count > GRAM ? l[0].count - GRAM : 0; k < l[0].count; k++)
        l[0].at[k % GRAM] = from + k;
    /* Four readings: the bytes as they are (l[0]); JSON escapes decoded;
     * JSON escapes and %XX decoded; JSON escapes decoded twice.  Where the
     * last RESYNC units were plain bytes they all read the same: then only
     * l[0] reads (synced), and the others start again as copies of it at
     * the next '\' or '%'. */
    d.h = d.n = 0;
    while (i < n) {
        unsigned char dec[4];
        size_t dn = 0, len;
        int kind;

        if (synced) { /* the common case: plain ASCII, one byte a unit, one reading */
            lane *z = &l[0];
            size_t i0 = i, c0 = z->count, cnt = c0, m;
            uint64_t g = z->g;
            int done = 0;
            for (; i < n; i++) {
                unsigned char f = plain_fold[p[i]];
                if (f == 0)
                    break;
                g = (g << 8) | f;
                if (++cnt >= GRAM && member(r, g)) /* the window's first byte: index cnt - GRAM */
                    add_window(&run, cnt - GRAM >= c0 ? i0 + (cnt - GRAM - c0) : z->at[cnt % GRAM], i + 1);
                if (run.found) {
                    size_t first = cnt < GRAM - 1 ? 0 : cnt - (GRAM - 1); /* of the next window */
                    size_t at = first >= c0 ? i0 + (first - c0) : z->at[first % GRAM];
                    if (at > run.b) {
                        i++;
                        done = 1;
                        break;
                    }
                }
            }
            if (done || i >= n)
                break; /* the text's end, or the run is whole: the lane is read no more */
            for (m = cnt > c0 + GRAM ? cnt - GRAM : c0; m < cnt; m++)
                z->at[m % GRAM] = i0 + (m - c0);
            z->g = g, z->count = cnt;
        }

        len = unit_at(p, i, n, &kind, dec, &dn);
        if (kind == U_BYTE && p[i] != '\\' && p[i] != '%') {
            plain++;
        } else {
            plain = 0;
            if (synced) {
                l[1] = l[2] = l[3] = l[0];
                synced = 0;
            }
        }
        read_bytes(r, &l[0], p + i, len, i, i + len, &run);
        if (!synced) {
            const unsigned char *j = kind == U_ESC ? dec : p + i;
            size_t jn = kind == U_ESC ? dn : len;
            read_bytes(r, &l[1], j, jn, i, i + len, &run);
            read_bytes(r, &l[2], kind == U_BYTE ? p + i : dec, kind == U_BYTE ? len : dn, i, i + len, &run);
            deep_push(r, &l[3], &d, j, jn, i, i + len, &run);
            if (i + len == n)
                deep_read(r, &l[3], &d, 1, &run);
            if (plain >= RESYNC && d.n == 0) /* deep_read empties it as it reads the last byte */
                synced = 1;
        }
        i += len;
        if (run.found) { /* done once no reading can reach back to the run */
            for (k = 0; k < (synced ? 1u : 4u); k++)
                if (next_window(&l[k], k == 3 && d.n ? d.from[d.h] : i) <= run.b)
                    break;
            if (k == (synced ? 1u : 4u))
                break;
        }
    }
    if (run.found)
        *start = run.a, *end = run.b;
    return run.found;
}

int kombo_redactor_next(const kombo_redactor *r, const char *s, size_t n, size_t *start, size_t *end)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i0 = *start, i;
    uint64_t g;

    if (s == NULL || i0 > n || !kombo_redactor_may_match(r, n - i0) || quick_clean(r, p, i0, n))
        return 0;
    if ((i = plain_pass(r, p, i0, n, &g)) == n)
        return 0;
    return full_reading(r, p, n, i0, i, g, start, end);
}

int kombo_redact(kombo_buf *out, const char *s, size_t n, const char *key, size_t keylen)
{
    kombo_redactor r;
    size_t need = kombo_redactor_extra(key, keylen), from = 0, a = 0, b;
    void *extra = NULL;
    int any = 0;

    if (need && (extra = malloc(need)) == NULL)
        return -1;
    if (kombo_redactor_init(&r, key, keylen, extra)) {
        while (kombo_redactor_next(&r, s, n, &a, &b)) {
            kombo_buf_append(out, s + from, a - from);
            kombo_buf_append(out, REDACTED, sizeof REDACTED - 1);
            from = a = b;
            any = 1;
        }
        if (any)
            kombo_buf_append(out, s + from, n - from);
    }
    free(extra);
    if (!any)
        return 0;
    return out->failed ? -1 : 1;
}

int kombo_json_next_string(const char *s, size_t n, size_t *from, size_t *a, size_t *b)
{
    const char *q;
    size_t j;

    if (*from >= n || (q = memchr(s + *from, '"', n - *from)) == NULL)
        return 0;
    *a = j = (size_t)(q - s) + 1;
    while (j < n && s[j] != '"')
        j += s[j] == '\\' ? 2 : 1;
    *b = j < n ? j : n;
    *from = j < n ? j + 1 : n;
    return 1;
}

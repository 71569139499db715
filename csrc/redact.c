/*
 * redact.c - finds echoes of the API key in what a server sent back.
 *
 * A server (or a proxy's error page) may quote the Authorization header:
 * whole, cut off by a length cap, re-cased, or percent-encoded.  What goes
 * is every run of KOMBO_REDACT_MIN (8) or more bytes of the text that
 * equals, ASCII case folded, a run of the key or of the key
 * percent-encoded (RFC 3986 unreserved bytes kept, every other byte %xx,
 * either case of hex).  Keys shorter than 8 bytes are never looked for:
 * they are test keys, and redacting them would shred ordinary words.
 *
 * The algorithm: every 8-byte window of the folded key and of its folded
 * percent-encoding is one uint64_t, exactly (8 bytes, no hash collision to
 * verify), kept in a small open-addressed set.  The text is read once with
 * the same window rolled a byte at a time; a window in the set is key
 * material, and consecutive or overlapping such windows make one run,
 * replaced by a single "<redacted>".  Every run of >= 8 key bytes is a
 * chain of such windows, so nothing the rule names is missed; a chain of
 * key windows that is not one contiguous piece of the key (a key with
 * repeated 7-byte runs, or a copy that switches between plain and encoded
 * mid-way) goes too, which errs on the safe side.  O(n) in the text,
 * O(key) to build, no allocation when nothing matches; the set lives in
 * the redactor itself for keys up to 67 bytes (135 for letters, digits and
 * "-._~" only); longer ones need kombo_redactor_extra() bytes.
 *
 * Measured (gcc -O2, x86-64, the 46-byte key of spec/integration/
 * secrets_spec.lua, 1 MiB of JSON-like text):
 *   no match .............................. 2.1 ms (~500 MB/s)
 *   the key echoed every 4 KiB ............ 2.3-2.8 ms (the copy included)
 *   naive (at every offset, the longest case-folded match against every
 *   offset of the key and of its encoding, which is what matching any
 *   run rather than the key's leading bytes asks for) 250 ms, O(n * key)
 * Building the set for that key: 0.34 us; scanning a 200-byte string:
 * 0.45 us.  Through Lua: call:result() of a small success 1.09 us with a
 * short key (no redaction), 1.39 us with that key (set built, every
 * string scanned, none copied); core.redact of a 168-byte header block
 * 0.77 us.  Beside an HTTP call, nothing.
 */
#include "kombo.h"

#include <stdlib.h>
#include <string.h>

#define GRAM KOMBO_REDACT_MIN

static const char REDACTED[] = "<redacted>";

static unsigned char fold(unsigned char c)
{
    return (unsigned char)((c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c);
}

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

/* log2 of the slot count for the key's windows: at most half full. */
static unsigned slot_bits(const char *key, size_t keylen)
{
    size_t plen = encoded_len(key, keylen);
    size_t grams = (keylen - GRAM + 1) + (plen - GRAM + 1);
    unsigned bits = 4;
    while (((size_t)1 << bits) < 2 * grams)
        bits++;
    return bits;
}

size_t kombo_redactor_extra(const char *key, size_t keylen)
{
    unsigned bits;
    if (key == NULL || keylen < GRAM)
        return 0;
    bits = slot_bits(key, keylen);
    return ((size_t)1 << bits) <= KOMBO_REDACT_INLINE ? 0 : ((size_t)1 << bits) * sizeof(uint64_t);
}

static size_t slot_of(uint64_t g, unsigned bits)
{
    return (size_t)((g * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - bits));
}

static void insert(kombo_redactor *r, uint64_t g)
{
    size_t mask = ((size_t)1 << r->bits) - 1, i;
    if (g == 0) { /* eight NUL bytes: 0 marks an empty slot */
        r->has_zero = 1;
        return;
    }
    for (i = slot_of(g, r->bits); r->slots[i] != 0; i = (i + 1) & mask)
        if (r->slots[i] == g)
            return;
    r->slots[i] = g;
}

static int member(const kombo_redactor *r, uint64_t g)
{
    size_t mask = ((size_t)1 << r->bits) - 1, i;
    if (g == 0)
        return r->has_zero;
    for (i = slot_of(g, r->bits); r->slots[i] != 0; i = (i + 1) & mask)
        if (r->slots[i] == g)
            return 1;
    return 0;
}

/* Feeds one folded byte to a rolling window; inserts it once full. */
static void feed(kombo_redactor *r, uint64_t *g, size_t *have, unsigned char c)
{
    *g = (*g << 8) | c;
    if (++*have >= GRAM)
        insert(r, *g);
}

int kombo_redactor_init(kombo_redactor *r, const char *key, size_t keylen, void *extra)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t g = 0;
    size_t i, have = 0;

    r->bits = 0;
    r->has_zero = 0;
    r->slots = r->inline_slots;
    if (key == NULL || keylen < GRAM)
        return 0;
    r->bits = slot_bits(key, keylen);
    if (((size_t)1 << r->bits) > KOMBO_REDACT_INLINE) {
        if (extra == NULL) {
            r->bits = 0;
            return 0;
        }
        r->slots = (uint64_t *)extra;
    }
    memset(r->slots, 0, ((size_t)1 << r->bits) * sizeof(uint64_t));
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
    return 1;
}

int kombo_redactor_next(const kombo_redactor *r, const char *s, size_t n, size_t *start, size_t *end)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = *start, k, run_end = 0;
    uint64_t g = 0;
    int found = 0;

    if (r->bits == 0 || s == NULL || n < GRAM || i > n - GRAM)
        return 0;
    for (k = 0; k < GRAM - 1; k++)
        g = (g << 8) | fold(p[i + k]);
    for (; i + GRAM <= n; i++) {
        g = (g << 8) | fold(p[i + GRAM - 1]);
        if (member(r, g)) {
            if (!found)
                *start = i;
            found = 1;
            run_end = i + GRAM;
        } else if (found && i >= run_end) {
            break; /* the window just past the run is not key material */
        }
    }
    if (found)
        *end = run_end;
    return found;
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

/*
 * redact.h - redaction of echoed secrets: API keys, proxy credentials,
 * webhook secrets (redact.c).
 */
#ifndef KOMBO_REDACT_H
#define KOMBO_REDACT_H

#include "kombo.h"

#include <stddef.h>
#include <stdint.h>

/* Redaction of echoed API keys (redact.c): every run of >= 8 bytes equal,
 * folded (ASCII case; space, control bytes and "+" alike), to a run of the
 * key or of the key percent-encoded, the text read as it is, with JSON
 * escapes decoded, with JSON escapes and %XX decoded, and with JSON escapes
 * decoded twice; runs never end inside an escape or a UTF-8 sequence.
 * Keys shorter than 8 bytes are not looked for.  kombo_redact appends s
 * with each run replaced by "<redacted>" to out and returns 1, returns 0
 * with out untouched when nothing matched, -1 on allocation failure.  The
 * span API: init (extra = kombo_redactor_extra() bytes of memory, or NULL
 * when that is 0; returns 0 when there is nothing to look for), then
 * kombo_redactor_next finds the first run in s[*start..n) as
 * [*start, *end) and returns 1, or returns 0. */
#define KOMBO_REDACT_MIN 8
#define KOMBO_REDACT_INLINE 512
#define KOMBO_REDACT_QUAD_BITS 4096
typedef struct kombo_redactor {
    uint64_t *slots; /* the key's folded 8-byte windows; 0 = empty slot */
    unsigned bits;   /* log2 of the slot count; 0: nothing to look for */
    /* Different for every init in the process (0 where the build has no
     * lock-free 64-bit atomics): a text this redactor found clean once is
     * clean for it again (the answer decoder's cache of short strings). */
    uint64_t serial;
    /* A filter of the 4-byte runs of the same folded texts, a bit each
     * (by a hash: a set bit may be another run's): a text none of whose
     * 4-byte blocks (from its start, 4 bytes apart) has its bit set holds
     * no window of 8 (kombo_redactor_next's quick pass). */
    uint64_t quads[KOMBO_REDACT_QUAD_BITS / 64];
    uint64_t inline_slots[KOMBO_REDACT_INLINE];
} kombo_redactor;
size_t kombo_redactor_extra(const char *key, size_t keylen);
int kombo_redactor_init(kombo_redactor *r, const char *key, size_t keylen, void *extra);
int kombo_redactor_next(const kombo_redactor *r, const char *s, size_t n, size_t *start, size_t *end);
/* Whether a text of n bytes can hold a run at all: r (may be NULL) looks
 * for something and n is at least KOMBO_REDACT_MIN.  kombo_redactor_next
 * asks it first; a caller with many short texts (an answer's strings, most
 * of them shorter) asks it to skip the call. */
static inline int kombo_redactor_may_match(const kombo_redactor *r, size_t n)
{
    return r != NULL && r->bits != 0 && n >= KOMBO_REDACT_MIN;
}
int kombo_redact(kombo_buf *out, const char *s, size_t n, const char *key, size_t keylen);
/* The same for several keys at once (any of them may be absent or short):
 * one set holds the windows of all, so a text is read once whatever their
 * number.  init returns 0 when none is 8 bytes or longer. */
size_t kombo_redactor_extra_keys(const kombo_str *keys, size_t nkeys);
int kombo_redactor_init_keys(kombo_redactor *r, const kombo_str *keys, size_t nkeys, void *extra);
/* JSON text: the next string literal at or after s[*from] as its contents
 * s[*a..*b) (escapes as they stand); *from moves past its closing quote.
 * Returns 0 when there is none.  Redacting the contents of each, and
 * nothing else, keeps a JSON text valid whatever the key (core.redact_json). */
int kombo_json_next_string(const char *s, size_t n, size_t *from, size_t *a, size_t *b);

#endif

/*
 * json.h - the core's strict JSON scanner (internal; not part of kombo.h).
 *
 * RFC 8259 exactly: the whole document is validated first, nesting limited
 * to KOMBO_JSON_MAX_DEPTH so hostile input cannot exhaust the stack; then
 * callers walk the validated text with an iterator.  Values are spans of
 * the original text; nothing is allocated.
 *
 * Why our own and not lua-cjson: the core classifies answers without Lua
 * (the C API), and Debian's lua-cjson 2.1.0 turns integers into floats and
 * [] into {}.  classify.c checks a body's shape with it and lua_json.c
 * builds the Lua result from the same scan.
 */
#ifndef KOMBO_JSON_H
#define KOMBO_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KOMBO_JSON_MAX_DEPTH 64 /* nesting of objects and arrays */

/* Eight bytes a step (one at a time costs about seven instructions a byte):
 * the first byte in [p, end) that is a '"' or a '\\' (with `strict`, also a
 * control byte or one above 0x7f), or where fewer than eight bytes are
 * left: the caller's byte loop goes on from there.  In x ^ 0x22.. and
 * x ^ 0x5c.. a zero byte is a quote or a backslash, x - 0x20.. borrows at a
 * byte below 0x20, and x's own high bits are the bytes above 0x7f; a borrow
 * may flag bytes above a flagged one too, never below it, so the lowest
 * flag is the first such byte.  (The scanner's strings, strict; the
 * decoder's, already validated.) */
static inline const char *kombo_json_string_run(const char *p, const char *end, int strict)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    while (end - p >= 8) {
        uint64_t x, q, b, hit;
        memcpy(&x, p, 8);
        q = x ^ (ones * '"');
        b = x ^ (ones * '\\');
        hit = ((q - ones) & ~q) | ((b - ones) & ~b);
        if (strict)
            hit |= ((x - ones * 0x20) & ~x) | x;
        hit &= highs;
        if (hit != 0)
            return p + (__builtin_ctzll(hit) >> 3);
        p += 8;
    }
#else
    (void)end;
    (void)strict;
#endif
    return p;
}

typedef enum jtype { J_NONE = 0, J_OBJECT, J_ARRAY, J_STRING, J_NUMBER, J_TRUE, J_FALSE, J_NULL } jtype;

/* Where containers end and how many members they hold, recorded by the
 * strict scan for the walks that follow it: stepping over a recorded
 * container is a look-up, not a second scan of its text (the classifier's
 * shape checks step over data, a page's results and each warning: without
 * a record each is read again per walk, a cost in proportion to the page),
 * and the decoder (lua_json.c) makes its table at its size before reading
 * it.  Records the first KOMBO_JSON_MARKS containers nested at most
 * KOMBO_JSON_MARK_DEPTH deep (the top level is 1: 6 reaches the objects
 * inside a page's first records); any other is found by its text, as
 * without a record. */
#define KOMBO_JSON_MARKS 16
#define KOMBO_JSON_MARK_DEPTH 6
typedef struct jmarks {
    const char *open[KOMBO_JSON_MARKS];  /* each container's '{' or '[', in text order */
    const char *close[KOMBO_JSON_MARKS]; /* one past its closing bracket; NULL: not read */
    size_t count[KOMBO_JSON_MARKS];      /* its members (an object's keys, repeated ones too) */
    unsigned n;
    /* The text's tape (jtape, below) for the decoder, when it has one:
     * offsets from base; ntape > KOMBO_JSON_TAPE: none. */
    const uint32_t *tape_at, *tape_end;
    unsigned ntape;
    const char *tape_base;
} jmarks;

/* Every token of a small text as the strict scan read it, in text order:
 * each value's and key's first byte (an offset from the text's start) and
 * its end (one past it; a string's with JTAPE_PLAIN set when it holds no
 * escape), or a container's number of members.  The decoder (lua_json.c)
 * builds from it without reading the text again but for the bytes of
 * strings and numbers.  A text of more than KOMBO_JSON_TAPE tokens has no
 * tape (n is KOMBO_JSON_TAPE + 1). */
#define KOMBO_JSON_TAPE 64
#define JTAPE_PLAIN 0x80000000u
typedef struct jtape {
    uint32_t *at, *end; /* KOMBO_JSON_TAPE entries each (the caller's: a classification's) */
    unsigned n;
} jtape;

typedef struct jval {
    jtype type;
    const char *p; /* the value's text, p[0..n); strings include their quotes */
    size_t n;
    const jmarks *marks; /* the record of the scan that found it, or NULL */
} jval;

/* The top-level object's members as the strict scan read them (keys and
 * values, in text order), so that a check of them (classify.c's success
 * shape) needs no second walk; `all` is 0 when there were more than
 * KOMBO_JSON_ROOT_MEMBERS (then only the first are here) or the top level
 * is no object. */
#define KOMBO_JSON_ROOT_MEMBERS 8
typedef struct jmembers {
    jval key[KOMBO_JSON_ROOT_MEMBERS], val[KOMBO_JSON_ROOT_MEMBERS];
    unsigned n;
    int all;
} jmembers;

typedef struct jscan {
    const char *start, *p, *end;
    const char *err; /* first problem (static text), NULL when fine */
    size_t err_at;   /* its byte offset */
    const jmarks *marks; /* container ends kombo_json_skip looks up; NULL: none */
    jmarks *record;      /* where the strict scan records them; NULL: not */
    jmembers *members;   /* where it records the top-level members; NULL: not */
    /* Where it records the tokens (the caller's jtape's arrays), as the
     * scan goes; the counts are no uint32_t, which a store to an entry
     * could change as far as the compiler knows (it would read them again
     * after each one). */
    uint32_t *tape_at, *tape_end;
    size_t tape_n, tape_cap;     /* entries made; room (0: no tape recorded) */
    unsigned char tape_over;     /* more tokens than room */
    unsigned char escaped;       /* the last string read held an escape (the tape's JTAPE_PLAIN) */
} jscan;

/* Validates a whole document (surrounding whitespace allowed): 0 and *root
 * its single top-level value, or -1 with s->err and s->err_at set. */
int kombo_json_parse(jscan *s, const char *text, size_t n, jval *root);
/* The same, recording container ends into *marks; the values found in the
 * document carry it, so walks of them (iterators, kombo_json_get) use it.
 * *marks must outlive those walks. */
int kombo_json_parse_marked(jscan *s, const char *text, size_t n, jval *root, jmarks *marks);
/* The same, also recording the top-level object's members into *members
 * (valid only when it returns 0). */
int kombo_json_parse_members(jscan *s, const char *text, size_t n, jval *root, jmarks *marks,
                             jmembers *members);
/* The same, also recording the tokens into *tape (when the text is shorter
 * than 2 GiB: no tape otherwise). */
int kombo_json_parse_taped(jscan *s, const char *text, size_t n, jval *root, jmarks *marks, jmembers *members,
                           jtape *tape);

/* Walks the members of a validated object or array. */
typedef struct jiter {
    jscan s;
    int is_obj, done;
} jiter;

void kombo_json_iter_begin(jiter *it, const jval *container);
/* In validated text: moves s->p past the value at s->p (found by its end,
 * not checked again) and describes it in *out (may be NULL); -1 when the
 * text ends first.  Never reads outside [s->p, s->end). */
int kombo_json_skip(jscan *s, jval *out);
/* Next member: 1 when one was read (*key set for objects; key may be NULL),
 * 0 at the end. */
int kombo_json_iter_next(jiter *it, jval *key, jval *val);

/* Member `key` of a validated object; with duplicate keys the last one
 * wins, as in lua-cjson and JavaScript's JSON.parse.  1 when found. */
int kombo_json_get(const jval *obj, const char *key, jval *out);

/* Whether v is a string equal to lit after unescaping. */
int kombo_json_str_eq(const jval *v, const char *lit);

/* Decodes a validated string into dst (cap >= 1), NUL-terminated, stopping
 * at a character boundary when full (*truncated then set).  With `clean`,
 * control characters become spaces (for texts that end up in logs).  A
 * string's decoded form is never longer than v->n - 2 bytes, so cap = v->n
 * always holds it whole.  Returns the number of bytes written. */
size_t kombo_json_str_decode(const jval *v, char *dst, size_t cap, int clean, int *truncated);

#endif

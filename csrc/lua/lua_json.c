/*
 * lua_json.c - builds Lua values from the core's JSON scan and header
 * parser (see lua_json.h).  Builds against Lua 5.1 (LuaJIT) to 5.4.
 */
#include "lua/lua_json.h"

#include "core/kombo.h"
#include "core/classify.h"
#include "core/redact.h"
#include "core/json.h"

#include <lauxlib.h>

#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SCRATCH 256 /* bytes decoded on the C stack; longer texts use a userdata */

/* Registry values a document needs, fetched once per document. */
typedef struct ctx {
    lua_State *L;
    int null_idx;     /* stack index of the null value (nil until the first null: push_null) */
    int names, slot;  /* where the registry's names are (registry_get) */
    int null_read;    /* the null value is at null_idx */
    int array_mt_idx; /* stack index of the array metatable, or nil */
    const kombo_redactor *red; /* strings are redacted of the API key; NULL: not */
    int room;         /* the stack is known to have slots up to this index */
    const jmarks *marks; /* the scan's record of the text (sizes), or NULL */
    unsigned next_mark;  /* the first entry not yet passed (containers come in text order) */
    struct string_cache *cache; /* short strings made before (string_cache), or NULL */
    int cache_idx;              /* stack index of the table holding them */
    int broken;                 /* a string the text ended in (push_string_at) */
} ctx;

static void push_value(ctx *c, const jval *v);
static void push_null(ctx *c);

/* Room for n bytes: buf when it is large enough, else a userdata left on
 * the stack (the caller removes it), so a Lua error cannot leak memory. */
static char *scratch(lua_State *L, char *buf, size_t n, int *pushed)
{
    *pushed = n > SCRATCH;
    return *pushed ? (char *)lua_newuserdata(L, n) : buf;
}

void kombo_lua_push_redacted(lua_State *L, const kombo_redactor *r, const char *s, size_t n)
{
    luaL_Buffer b;
    size_t from = 0, start = 0, end;

    if (!kombo_redactor_may_match(r, n) || !kombo_redactor_next(r, s, n, &start, &end)) {
        lua_pushlstring(L, s, n); /* the usual case: no echo, no copy */
        return;
    }
    luaL_buffinit(L, &b);
    do {
        luaL_addlstring(&b, s + from, start - from);
        luaL_addstring(&b, "<redacted>");
        from = start = end;
    } while (kombo_redactor_next(r, s, n, &start, &end));
    luaL_addlstring(&b, s + from, n - from);
    luaL_pushresult(&b);
}

static void push_string(lua_State *L, const kombo_redactor *r, const jval *v)
{
    char buf[SCRATCH], *dst;
    int trunc, pushed;
    size_t len;

    /* Most strings have no escape: their text is the value. */
    if (!memchr(v->p + 1, '\\', v->n - 2)) {
        kombo_lua_push_redacted(L, r, v->p + 1, v->n - 2);
        return;
    }
    dst = scratch(L, buf, v->n, &pushed); /* decoded form < v->n bytes */
    len = kombo_json_str_decode(v, dst, v->n, 0, &trunc);
    kombo_lua_push_redacted(L, r, dst, len);
    if (pushed)
        lua_remove(L, -2);
}

/* A float by strtod with '.' replaced by the locale's decimal point, as
 * Lua's own l_str2d does: the result must not depend on setlocale(). */
static void push_float(lua_State *L, const char *p, size_t n)
{
    char buf[SCRATCH], *s, *dot;
    char point = localeconv()->decimal_point[0];
    int pushed;

    s = scratch(L, buf, n + 1, &pushed);
    memcpy(s, p, n);
    s[n] = '\0';
    if (point && point != '.' && (dot = strchr(s, '.')) != NULL)
        *dot = point;
    lua_pushnumber(L, (lua_Number)strtod(s, NULL));
    if (pushed)
        lua_remove(L, -2);
}

static void push_number(lua_State *L, const jval *v)
{
#if LUA_VERSION_NUM >= 503
    /* An integer literal that fits lua_Integer stays an integer, as Lua's
     * own reader would have it; larger ones (2^63) become floats.  "-0" is
     * a float too: integer 0 would lose the sign. */
    const char *p = v->p, *end = v->p + v->n;
    int neg = *p == '-';
    lua_Unsigned limit = (lua_Unsigned)LUA_MAXINTEGER + (lua_Unsigned)neg, x = 0;

    if (neg)
        p++;
    if (!memchr(p, '.', (size_t)(end - p)) && !memchr(p, 'e', (size_t)(end - p)) &&
        !memchr(p, 'E', (size_t)(end - p)) && !(neg && end - p == 1 && *p == '0')) {
        for (; p < end; p++) {
            unsigned d = (unsigned)(*p - '0');
            if (x > (limit - d) / 10)
                break; /* overflow */
            x = x * 10 + d;
        }
        if (p == end) {
            /* -x by unsigned arithmetic: LUA_MININTEGER has no positive twin */
            lua_pushinteger(L, neg ? (lua_Integer)(0u - x) : (lua_Integer)x);
            return;
        }
    }
#endif
    push_float(L, v->p, v->n);
}

/* Members held on the Lua stack before their table is made: a container's
 * size is known only at its end, and a table made at the exact size is
 * never rehashed while it fills.  A longer one gets its table after this
 * many, and grows from there. */
#define PENDING_MAX 256
#define PENDING_STACK 2000

static void ws(jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Moves the `pending` members above the table (or above `base`, making the
 * table first, sized for them) into it.  A new table is made on top and
 * then put in the first member's slot: no rotation of the members under
 * it. */
static int flush(lua_State *L, int base, int table, int is_obj, int pending, lua_Integer *n)
{
    int j, first = (table ? table : base) + 1, t = table;
    if (table == 0) {
        lua_createtable(L, is_obj ? 0 : pending, is_obj ? pending : 0);
        t = lua_gettop(L);
    }
    for (j = 0; j < pending; j++) {
        if (is_obj) {
            lua_pushvalue(L, first + 2 * j);
            lua_pushvalue(L, first + 1 + 2 * j);
            lua_rawset(L, t); /* in order: of a repeated key, the last one wins */
        } else {
            lua_pushvalue(L, first + j);
            lua_rawseti(L, t, (int)++*n);
        }
    }
    if (table == 0) {
        table = base + 1;
        if (pending > 0)
            lua_replace(L, table); /* the first member's slot: it is in the table now */
    }
    lua_settop(L, table);
    return table;
}

static void push_at(ctx *c, jscan *s);

/* Stack slots a member may need (its key, its value, and a flush's table
 * and copies).  Asked for RESERVE_SLOTS at a time, not for each member;
 * when that many are not there, the exact number, which raises only where
 * asking for each member would have. */
#define MEMBER_SLOTS 4
#define RESERVE_SLOTS 32

static void reserve(ctx *c, int top)
{
    if (lua_checkstack(c->L, RESERVE_SLOTS)) {
        c->room = top + RESERVE_SLOTS;
    } else {
        luaL_checkstack(c->L, MEMBER_SLOTS, "JSON nested too deeply");
        c->room = top + MEMBER_SLOTS;
    }
}

/* The first '"' or '\\' in [p, end), or end. */
static const char *quote_or_escape(const char *p, const char *end)
{
    p = kombo_json_string_run(p, end, 0);
    while (p < end && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* Short strings made before, by the state (kombo_lua_push_string_cache):
 * an answer's keys ("status", "data", "id", ...) come again in every
 * answer, and finding one here by its bytes is a compare and a table
 * read, where lua_pushlstring hashes it and looks it up in the state's
 * string table.  Slot i of the table (i = 1..CACHE_SLOTS) holds the Lua
 * string whose bytes are bytes[i - 1]; slot CACHE_SLOTS + 1 this record.
 * Only strings no redactor changed are put here, so pushing one is pushing
 * what lua_pushlstring would have made of the same bytes.  Every string is
 * checked against the decoding client's secrets before it is pushed from
 * here, unless this same redactor (its serial) found these bytes clean
 * before: a string cached from another client's answer (one that happens
 * to be this client's secret) is still redacted here, and an answer's keys
 * ("warnings", "remote_id") are not scanned again on every answer.  Up to
 * 128 strings may stay alive after their answers are gone, reachable only
 * through the registry. */
#define CACHE_SLOTS 128
#define CACHE_BYTES 16
/* Four places for each string (its set: slots s, s + CACHE_SETS, ...),
 * taken in turn by the new strings of the set: with two, a page of one
 * job still had three of its strings taking turns in a pair, each made
 * again on every answer (with one, four groups). */
#define CACHE_WAYS 4
#define CACHE_SETS (CACHE_SLOTS / CACHE_WAYS)
typedef struct string_cache {
    uint64_t clean[CACHE_SLOTS];    /* the serial of the redactor that found it clean; 0: none */
    unsigned char len[CACHE_SLOTS]; /* its length + 1; 0: empty */
    unsigned char next[CACHE_SETS]; /* the way the set's next new string takes */
    char bytes[CACHE_SLOTS][CACHE_BYTES];
} string_cache;

void kombo_lua_push_string_cache(lua_State *L)
{
    string_cache *sc;
    lua_createtable(L, CACHE_SLOTS + 1, 0);
    sc = lua_newuserdata(L, sizeof *sc);
    memset(sc, 0, sizeof *sc);
    lua_rawseti(L, -2, CACHE_SLOTS + 1);
}

/* Whether a[0..n) and b[0..n) (n <= CACHE_BYTES) are the same bytes, by
 * two overlapping loads from each end rather than a call to memcmp (an
 * answer's every key is compared here). */
static inline int same_short(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8), memcpy(&b0, b, 8);
        memcpy(&a1, a + n - 8, 8), memcpy(&b1, b + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n >= 4) {
        uint32_t a0, a1, b0, b1;
        memcpy(&a0, a, 4), memcpy(&b0, b, 4);
        memcpy(&a1, a + n - 4, 4), memcpy(&b1, b + n - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    while (n > 0) {
        n--;
        if (a[n] != b[n])
            return 0;
    }
    return 1;
}

/* Whether s[0..n) holds a run the redactor replaces. */
static int echoes_secret(const kombo_redactor *r, const char *s, size_t n)
{
    size_t start = 0, end;
    return kombo_redactor_may_match(r, n) && kombo_redactor_next(r, s, n, &start, &end);
}

/* Pushes s[0..n) (n <= CACHE_BYTES) and returns 1: from the cache when it
 * holds it, else made and kept there (in its set's next place).  Returns 0,
 * nothing pushed, when it holds a run of the client's secrets (never
 * cached: the caller redacts it). */
static unsigned cache_set(const char *s, size_t n)
{
    return n == 0 ? 0 : ((unsigned char)s[0] + 3u * (unsigned char)s[n - 1] + 5u * (unsigned)n) % CACHE_SETS;
}

static int push_cached(ctx *c, const char *s, size_t n)
{
    string_cache *sc = c->cache;
    unsigned set = cache_set(s, n), i, way;
    uint64_t serial = kombo_redactor_may_match(c->red, n) ? c->red->serial : 0;
    for (way = 0, i = set; way < CACHE_WAYS; way++, i += CACHE_SETS) {
        if (sc->len[i] != n + 1 || !same_short(sc->bytes[i], s, n))
            continue;
        if (kombo_redactor_may_match(c->red, n) && (serial == 0 || sc->clean[i] != serial)) {
            if (echoes_secret(c->red, s, n))
                return 0;
            sc->clean[i] = serial;
        }
        lua_rawgeti(c->L, c->cache_idx, (int)i + 1);
        return 1;
    }
    if (echoes_secret(c->red, s, n))
        return 0;
    way = sc->next[set];
    sc->next[set] = (unsigned char)((way + 1) % CACHE_WAYS);
    i = set + way * CACHE_SETS;
    lua_pushlstring(c->L, s, n);
    lua_pushvalue(c->L, -1);
    lua_rawseti(c->L, c->cache_idx, (int)i + 1); /* (the array part is there: no allocation) */
    memcpy(sc->bytes[i], s, n);
    sc->len[i] = (unsigned char)(n + 1);
    sc->clean[i] = serial;
    return 1;
}

/* The slot (1..CACHE_SLOTS) of the cache's table holding s[0..n) (n <=
 * CACHE_BYTES) when nothing is left to check of it (r found it clean
 * before, or it is too short to hold a secret), else 0: a key's usual
 * way, inlined into push_string_at (push_cached then does the rest). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline unsigned cached_clean(const string_cache *sc, const kombo_redactor *r, const char *s, size_t n)
{
    unsigned i = cache_set(s, n), way;
    for (way = 0; way < CACHE_WAYS; way++, i += CACHE_SETS)
        if (sc->len[i] == n + 1 && same_short(sc->bytes[i], s, n))
            return !kombo_redactor_may_match(r, n) || (r->serial != 0 && sc->clean[i] == r->serial) ? i + 1 : 0;
    return 0;
}

/* The text b[0..n) of a string with no escape, pushed: keys, and values
 * too short to be an id, from the cache when they are short. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void push_plain(ctx *c, const char *b, size_t n, int is_key)
{
    if (c->cache == NULL || n > CACHE_BYTES || !(is_key || n < KOMBO_REDACT_MIN) || !push_cached(c, b, n))
        kombo_lua_push_redacted(c->L, c->red, b, n); /* (as it is when no secret can be in it) */
}

/* push_string_at's other strings: one the 8-byte run did not end (near
 * the text's end), or with an escape. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void push_other_string_at(ctx *c, jscan *s, int is_key)
{
    const char *b = s->p + 1, *p, *end = s->end;
    jval v;

    p = quote_or_escape(b, end);
    if (p < end && *p == '"') {
        s->p = p + 1;
        push_plain(c, b, (size_t)(p - b), is_key);
    } else if (kombo_json_skip(s, &v) != 0) {
        c->broken = 1;
    } else {
        push_string(c->L, c->red, &v);
    }
}

/* The string at s->p of validated text; s->p moves past it.  Nothing
 * pushed, c->broken set, when the text ends first (cannot happen in
 * validated text).  Most strings have no escape: the first quote ends
 * them and their text is the value, read here once (not found by
 * kombo_json_skip and then searched for a backslash), 8 bytes a step.
 * (No value returned: each way out is a tail call.) */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void push_text(ctx *c, const char *b, size_t n, int is_key)
{
    unsigned slot;
    if (n <= CACHE_BYTES && (is_key || n < KOMBO_REDACT_MIN) && c->cache != NULL &&
        (slot = cached_clean(c->cache, c->red, b, n)) != 0)
        lua_rawgeti(c->L, c->cache_idx, (int)slot);
    else
        push_plain(c, b, n, is_key);
}

static void push_string_at(ctx *c, jscan *s, int is_key)
{
    const char *b = s->p + 1, *end = s->end, *p = kombo_json_string_run(b, end, 0);

    if (p >= end || *p != '"') {
        push_other_string_at(c, s, is_key);
        return;
    }
    s->p = p + 1;
    push_text(c, b, (size_t)(p - b), is_key);
}

static void set_array_mt(ctx *c)
{
    if (!lua_isnil(c->L, c->array_mt_idx)) {
        lua_pushvalue(c->L, c->array_mt_idx);
        lua_setmetatable(c->L, -2);
    }
}

/* The number of members the scan recorded for the container opening at p,
 * or -1 when it recorded none for it. */
static long recorded_members(ctx *c, const char *p)
{
    const jmarks *m = c->marks;
    if (m == NULL)
        return -1;
    while (c->next_mark < m->n && m->open[c->next_mark] < p)
        c->next_mark++;
    if (c->next_mark < m->n && m->open[c->next_mark] == p && m->count[c->next_mark] <= INT_MAX / 2)
        return (long)m->count[c->next_mark++];
    return -1;
}

/* Past a container's opening bracket: 1 when it is empty (its `close`
 * read too), else 0 at its first member. */
static int opened_empty(jscan *s, char close)
{
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 1;
    }
    return 0;
}

/* An object member's key at s->p and the colon after it: the key pushed,
 * or -1 (nothing pushed) where no key stands. */
static int push_key_at(ctx *c, jscan *s)
{
    if (*s->p != '"')
        return -1;
    push_string_at(c, s, 1);
    if (c->broken) {
        c->broken = 0;
        return -1;
    }
    ws(s);
    if (s->p < s->end && *s->p == ':')
        s->p++;
    ws(s);
    return 0;
}

/* After a member: 1 past a comma (another member follows), else 0, past
 * the container's `close` when it stands there. */
static int more_members(jscan *s, char close)
{
    ws(s);
    if (s->p < s->end && *s->p == ',') {
        s->p++;
        ws(s);
        return 1;
    }
    if (s->p < s->end && *s->p == close)
        s->p++;
    return 0;
}

/* A container of `count` members (the scan's record): its table is made
 * at that size first and each member set in it as it is read, with no
 * member held on the stack. */
static void push_sized_at(ctx *c, jscan *s, int count)
{
    lua_State *L = c->L;
    int is_obj = *s->p == '{', t;
    char close = is_obj ? '}' : ']';
    lua_Integer n = 0;

    lua_createtable(L, is_obj ? 0 : count, is_obj ? count : 0);
    t = lua_gettop(L);
    if (!opened_empty(s, close)) {
        while (s->p < s->end) {
            if (t + MEMBER_SLOTS > c->room)
                reserve(c, t);
            if (is_obj && push_key_at(c, s) != 0)
                break;
            push_at(c, s);
            if (is_obj)
                lua_rawset(L, t); /* in order: of a repeated key, the last one wins */
            else
                lua_rawseti(L, t, (int)++n);
            if (!more_members(s, close))
                break;
        }
        if (lua_gettop(L) != t)
            lua_settop(L, t); /* a key without a value */
    }
    if (!is_obj)
        set_array_mt(c);
}

/* The object or array at s->p of validated text, in one pass: members are
 * pushed as they are read (nested ones the same way), never skipped over
 * first, so each byte is read once however deep it sits. */
static void push_container_at(ctx *c, jscan *s)
{
    lua_State *L = c->L;
    int is_obj = *s->p == '{', base = lua_gettop(L), table = 0, pending = 0;
    char close = is_obj ? '}' : ']';
    lua_Integer n = 0;
    long count = recorded_members(c, s->p);

    if (count >= 0) {
        push_sized_at(c, s, (int)count);
        return;
    }
    if (!opened_empty(s, close)) {
        while (s->p < s->end) {
            /* Lua 5.1 and LuaJIT give a C function about 8,000 stack slots:
             * past PENDING_STACK in use, this level's members go into its
             * table before it reads more, so that however deep the nesting
             * (the scanner bounds it at KOMBO_JSON_MAX_DEPTH) the pending
             * members of all levels stay below that (valid JSON never
             * fails here). */
            int top = lua_gettop(L);
            if (pending > 0 && top > PENDING_STACK) {
                table = flush(L, base, table, is_obj, pending, &n);
                pending = 0;
                top = lua_gettop(L);
            }
            if (top + MEMBER_SLOTS > c->room)
                reserve(c, top);
            if (is_obj && push_key_at(c, s) != 0)
                break;
            push_at(c, s);
            if (++pending == PENDING_MAX) {
                table = flush(L, base, table, is_obj, pending, &n);
                pending = 0;
            }
            if (!more_members(s, close))
                break;
        }
        lua_settop(L, (table ? table : base) + pending * (is_obj ? 2 : 1)); /* a key without a value */
    }
    flush(L, base, table, is_obj, pending, &n);
    if (!is_obj)
        set_array_mt(c);
}

/* The value at entry *i of the tape (the strict scan's record of the
 * text: jtape), and the values it holds; *i moves past them.  No byte of
 * the text is read again but for strings and numbers, whose bytes are
 * pushed as push_string_at and push_at push them (the same redaction). */
static void push_taped(ctx *c, const jmarks *m, unsigned *i, int is_key)
{
    lua_State *L = c->L;
    unsigned k = (*i)++;
    const char *p = m->tape_base + m->tape_at[k];
    uint32_t end = m->tape_end[k];

    switch (*p) {
    case '{':
    case '[': {
        int is_obj = *p == '{', t;
        uint32_t j;
        lua_createtable(L, is_obj ? 0 : (int)end, is_obj ? (int)end : 0); /* (end < KOMBO_JSON_TAPE) */
        t = lua_gettop(L);
        for (j = 0; j < end; j++) {
            if (t + MEMBER_SLOTS > c->room)
                reserve(c, t);
            if (is_obj)
                push_taped(c, m, i, 1);
            push_taped(c, m, i, 0);
            if (is_obj)
                lua_rawset(L, t); /* in order: of a repeated key, the last one wins */
            else
                lua_rawseti(L, t, (int)j + 1);
        }
        if (!is_obj)
            set_array_mt(c);
        return;
    }
    case '"':
        if (end & JTAPE_PLAIN) {
            push_text(c, p + 1, (size_t)((end & ~JTAPE_PLAIN) - m->tape_at[k]) - 2, is_key);
        } else {
            jval v = {J_STRING, p, (size_t)(end - m->tape_at[k]), NULL};
            push_string(L, c->red, &v);
        }
        return;
    case 't': lua_pushboolean(L, 1); return;
    case 'f': lua_pushboolean(L, 0); return;
    case 'n': push_null(c); return;
    default: {
        jval v = {J_NUMBER, p, (size_t)(end - m->tape_at[k]), NULL};
        push_number(L, &v);
        return;
    }
    }
}

/* Whether v is the text the tape of its record begins with. */
static int taped(const jval *v)
{
    const jmarks *m = v->marks;
    return m != NULL && m->ntape > 0 && m->ntape <= KOMBO_JSON_TAPE && m->tape_base + m->tape_at[0] == v->p;
}

/* The value at s->p of validated text; s->p moves past it. */
static void push_at(ctx *c, jscan *s)
{
    jval v;
    if (s->p < s->end && (*s->p == '{' || *s->p == '[')) {
        push_container_at(c, s);
        return;
    }
    if (s->p < s->end && *s->p == '"') {
        push_string_at(c, s, 0);
        if (!c->broken)
            return;
        c->broken = 0;
    } else if (kombo_json_skip(s, &v) == 0) {
        push_value(c, &v);
        return;
    }
    s->p = s->end;
    push_null(c); /* cannot happen in validated text */
}

static void push_value(ctx *c, const jval *v)
{
    lua_State *L = c->L;

    switch (v->type) {
    case J_OBJECT:
    case J_ARRAY: {
        jscan s;
        if (taped(v)) {
            unsigned i = 0;
            push_taped(c, v->marks, &i, 0);
            break;
        }
        memset(&s, 0, sizeof s);
        s.start = s.p = v->p;
        s.end = v->p + v->n;
        push_container_at(c, &s);
        break;
    }
    case J_STRING: push_string(L, c->red, v); break;
    case J_NUMBER: push_number(L, v); break;
    case J_TRUE: lua_pushboolean(L, 1); break;
    case J_FALSE: lua_pushboolean(L, 0); break;
    case J_NULL:
    case J_NONE: push_null(c); break;
    }
}

/* The registry's value under the name at index `i` of the table at
 * `names` (0: under the literal `name`): a string already made is looked
 * up at its hash, where lua_getfield makes the string again each time
 * (LuaJIT hashes and interns it: about 200 instructions). */
static void registry_get(lua_State *L, int names, int i, const char *name)
{
    if (names == 0) {
        lua_getfield(L, LUA_REGISTRYINDEX, name);
        return;
    }
    lua_rawgeti(L, names, i);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

/* JSON null's value, looked up at the first null of the text (most
 * answers of an upload have none). */
static void push_null(ctx *c)
{
    if (!c->null_read) {
        registry_get(c->L, c->names, c->slot, "kombo.null");
        if (lua_isnil(c->L, -1)) {
            lua_pop(c->L, 1);
            lua_pushlightuserdata(c->L, NULL); /* cjson.null's value */
        }
        lua_replace(c->L, c->null_idx);
        c->null_read = 1;
    }
    lua_pushvalue(c->L, c->null_idx);
}

/* Decodes with redaction when r is not NULL; names, slot: see
 * kombo_lua_push_jval_names. */
static void push_jval_names(lua_State *L, const jval *v, const kombo_redactor *r, int names, int slot)
{
    ctx c;
    int base = lua_gettop(L);

    luaL_checkstack(L, 4, "out of stack space");
    if (names < 0 && names > LUA_REGISTRYINDEX)
        names = base + names + 1; /* read again at the first null, the stack grown by then */
    c.L = L;
    c.red = r;
    c.room = base + 4;
    c.marks = v->marks;
    c.next_mark = 0;
    c.cache = NULL;
    c.cache_idx = 0;
    c.broken = 0;
    c.names = names;
    c.slot = slot;
    c.null_read = 0;
    lua_pushnil(L); /* the null value's place (push_null) */
    c.null_idx = base + 1;
    registry_get(L, names, slot + 1, "kombo.array_mt");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    c.array_mt_idx = base + 2;
    if (names != 0) {
        lua_rawgeti(L, names, slot + 2);
        if (lua_istable(L, -1)) {
            lua_rawgeti(L, -1, CACHE_SLOTS + 1);
            c.cache = lua_touserdata(L, -1);
            lua_pop(L, 1);
            c.cache_idx = lua_gettop(L);
        }
    }
    push_value(&c, v);
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
}

static void push_jval(lua_State *L, const jval *v, const kombo_redactor *r)
{
    push_jval_names(L, v, r, 0, 0);
}

void kombo_lua_push_jval_names(lua_State *L, const jval *v, const kombo_redactor *r, int names, int slot)
{
    push_jval_names(L, v, r, names, slot);
}

void kombo_lua_push_jval(lua_State *L, const jval *v)
{
    push_jval(L, v, NULL);
}

void kombo_lua_push_jval_redactor(lua_State *L, const jval *v, const kombo_redactor *r)
{
    push_jval(L, v, r);
}

void kombo_lua_push_jval_redacted(lua_State *L, const jval *v, const char *key)
{
    kombo_redactor r; /* 4 KiB on the C stack: the set for keys up to 67 bytes */
    size_t keylen = key ? strlen(key) : 0, need = kombo_redactor_extra(key, keylen);
    void *extra = NULL;

    if (need) /* a long key: the set in a userdata, so an error cannot leak it */
        extra = lua_newuserdata(L, need);
    if (!kombo_redactor_init(&r, key, keylen, extra)) {
        if (need)
            lua_pop(L, 1);
        push_jval(L, v, NULL);
        return;
    }
    push_jval(L, v, &r);
    if (need)
        lua_remove(L, -2);
}

void kombo_lua_answer_jval(const kombo_classification *cls, const char *body, jmarks *marks, jval *root)
{
    unsigned i;
    for (i = 0; i < cls->nmarks && i < KOMBO_JSON_MARKS; i++) {
        marks->open[i] = body + cls->mark_at[i];
        marks->close[i] = NULL; /* (not kept: the decoder reads every container) */
        marks->count[i] = cls->mark_members[i];
    }
    marks->n = i;
    marks->tape_at = cls->tape_at;
    marks->tape_end = cls->tape_end;
    marks->ntape = cls->ntape;
    marks->tape_base = body;
    root->type = J_OBJECT;
    root->p = body + cls->json_off;
    root->n = cls->json_len;
    root->marks = marks;
}

int kombo_lua_push_json(lua_State *L, const char *text, size_t n)
{
    jscan s;
    jval root;
    jmarks marks; /* the first containers' sizes */

    if (!text || kombo_json_parse_marked(&s, text, n, &root, &marks))
        return 0;
    kombo_lua_push_jval(L, &root);
    return 1;
}

/* ------------------------------------------------------------- headers */

void kombo_lua_push_headers(lua_State *L, const char *block, size_t n)
{
    const char *p = kombo_header_start(block, n), *end = block ? block + n : NULL;
    kombo_str name, value;

    luaL_checkstack(L, 5, "out of stack space");
    lua_newtable(L);
    while (kombo_header_next(&p, end, &name, &value)) {
        char buf[SCRATCH], *low;
        int pushed;
        size_t i;

        low = scratch(L, buf, name.len, &pushed);
        for (i = 0; i < name.len; i++) {
            char ch = name.ptr[i];
            low[i] = (char)((ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch);
        }
        lua_pushlstring(L, low, name.len);
        if (pushed)
            lua_remove(L, -2);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isstring(L, -1)) { /* repeated: "first, second" */
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, value.ptr, value.len);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushlstring(L, value.ptr, value.len);
        }
        lua_rawset(L, -3);
    }
}

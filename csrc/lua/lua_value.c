/*
 * lua_value.c - a Lua value into the core's value tree (core/schema.h), in
 * one walk that records what only Lua can get wrong: a key that is not a
 * string, a table that is neither an array nor an object, a cycle, a
 * nesting too deep, NaN, a function or userdata where JSON has no value.
 * What the API's descriptors say (types, enums, patterns, unknown
 * members) is the core's to check, once, afterwards.
 *
 * Strings are read in place (lent) where Lua keeps them for as long as
 * they are used: a key, a name, an id is only read until the call is made
 * (kombo_lua_new_call), and no Lua code runs until then but where the
 * reader asks for a field (a file object's size, read_source; a query
 * parameter past the slots, lua_request.c), which first copies what it
 * lent (keep_lent).  Nor may the reader allocate with a call that runs a
 * collection step (lua_pushstring, lua_newtable...): its finalizers are
 * Lua code too (kombo_lua_is_callable reads "__call" from the registry).
 * What the call keeps past its making is kept: a file object's content
 * (data, bytes: the body borrows them) is copied into the arena when
 * short, else anchored in the call's anchor table so that the collector
 * keeps it while the call lives; the facts of its file objects are copied
 * by the call (call.c).
 */
#include "lua/lua_kombo.h"
#include "core/schema.h"
#include "core/file.h"
#include "core/body.h"
#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int is_integer_value(lua_State *L, int idx)
{
#if LUA_VERSION_NUM >= 503
    return lua_isinteger(L, idx);
#else
    (void)L;
    (void)idx;
    return 0;
#endif
}

const char *kombo_lua_type_of(lua_State *L, int idx)
{
    return lua_typename(L, lua_type(L, idx));
}

int kombo_lua_is_callable(lua_State *L, int idx)
{
    int yes;
    if (lua_isfunction(L, idx))
        return 1;
    idx = idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx;
    if (!lua_getmetatable(L, idx))
        return 0;
    /* The key "__call" kept in the registry (luaopen_kombo_core): pushing
     * a string is an allocation, which may run a collection step and its
     * finalizers while the reader has strings lent (lend). */
    lua_getfield(L, LUA_REGISTRYINDEX, KOMBO_LUA_CALL_KEY);
    lua_rawget(L, -2);
    yes = !lua_isnil(L, -1);
    lua_pop(L, 2);
    return yes;
}

static int is_sentinel(lua_State *L, int idx, const char *name)
{
    int eq;
    lua_getfield(L, LUA_REGISTRYINDEX, name);
    eq = !lua_isnil(L, -1) && lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return eq;
}

/* Arrays decoded from an answer carry this metatable (lua_json.c), so that
 * an empty one is written back as [] and not as {}. */
static int has_array_mt(lua_State *L, int idx)
{
    int yes;
    if (!lua_getmetatable(L, idx))
        return 0;
    lua_getfield(L, LUA_REGISTRYINDEX, "kombo.array_mt");
    yes = !lua_isnil(L, -1) && lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* n when the table's keys are exactly 1..n (an array), else -1.  (An
 * object is told by its first key, a string: read_table.) */
static int array_length(lua_State *L, int idx)
{
    size_t n = 0, max = 0;
    int others = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        n++;
        if (lua_type(L, -1) == LUA_TNUMBER) {
            double d = lua_tonumber(L, -1);
            if (d >= 1 && d == floor(d) && d < 1e15) {
                if ((size_t)d > max)
                    max = (size_t)d;
            } else {
                others++;
            }
        } else {
            others++;
        }
    }
    return others == 0 && max == n ? (int)n : -1;
}

/* Appends ".key" or "[i]" to the path; returns the old length to restore.
 * Without snprintf: every member of every call passes here, and a path is
 * read only when a problem names it. */
static size_t path_put_key(kombo_lua_reader *r, size_t old, const char *key, size_t klen)
{
    const size_t cap = sizeof r->path - 1; /* bytes before the NUL */
    size_t o = old < cap ? old : cap;
    if (klen > 64)
        klen = 64;
    if (o > 0 && o < cap)
        r->path[o++] = '.';
    if (klen > cap - o)
        klen = cap - o;
    memcpy(r->path + o, key, klen);
    r->path[o + klen] = '\0';
    return old;
}

static size_t path_push_key(kombo_lua_reader *r, const char *key, size_t klen)
{
    return path_put_key(r, strlen(r->path), key, klen);
}

static size_t path_push_index(kombo_lua_reader *r, int i)
{
    size_t old = strlen(r->path), n;
    char num[24];
    n = kombo_format_int(num, i);
    if (old + n + 3 <= sizeof r->path) { /* "[" num "]" NUL, else as snprintf would not fit it: cut */
        r->path[old] = '[';
        memcpy(r->path + old + 1, num, n);
        r->path[old + 1 + n] = ']';
        r->path[old + 2 + n] = '\0';
    } else {
        snprintf(r->path + old, sizeof r->path - old, "[%s]", num);
    }
    return old;
}

/* The path, with the member being read joined to it first (see
 * kombo_lua_reader's pend_key): every reader of r->path below asks here. */
static const char *at(kombo_lua_reader *r)
{
    if (r->pend_key != NULL) {
        path_put_key(r, r->pend_base, r->pend_key, r->pend_len);
        r->pend_key = NULL;
    }
    return r->path;
}

static kombo_value *new_value(kombo_lua_reader *r, kombo_vtype type)
{
    kombo_value *v = kombo_value_new(r->arena, type);
    if (v == NULL)
        r->failed = 1;
    return v;
}

static kombo_value *invalid(kombo_lua_reader *r, const char *fmt, const char *arg)
{
    kombo_problems_add(r->problems, at(r), fmt, arg);
    return new_value(r, KOMBO_V_INVALID);
}

/* The string at idx, whose bytes lua_tolstring gave as s. */
static kombo_str anchor_known(kombo_lua_reader *r, int idx, kombo_str s)
{
    /* A short string (a key, an id, a name) is copied into the arena: a
     * copy costs less than a slot in the anchor table, and only long ones
     * (a document's data) are worth borrowing. */
    if (s.len <= KOMBO_LUA_COPY_MAX) {
        char *copy = kombo_arena_alloc(r->arena, s.len + 1);
        if (copy != NULL) {
            memcpy(copy, s.ptr, s.len);
            s.ptr = copy;
            return s;
        }
    }
    lua_pushvalue(r->L, idx);
    lua_rawseti(r->L, r->anchor, ++r->anchored);
    return s;
}

/* The string at idx (bytes s) into *dst: in place, noted to be copied
 * before Lua code may run (keep_lent), unless it is to be kept, or long
 * (anchored: a copy would cost more), or too many are lent already. */
static void lend(kombo_lua_reader *r, int idx, kombo_str s, kombo_str *dst)
{
    if (!r->keep && s.len <= KOMBO_LUA_COPY_MAX && r->nlent < KOMBO_LUA_LENT_MAX) {
        *dst = s;
        r->lent[r->nlent++] = dst;
    } else {
        *dst = anchor_known(r, idx, s);
    }
}

void kombo_lua_keep_lent(kombo_lua_reader *r)
{
    int i;
    for (i = 0; i < r->nlent; i++) {
        kombo_str *s = r->lent[i];
        char *copy = kombo_arena_alloc(r->arena, s->len + 1);
        if (copy == NULL) {
            r->failed = 1;
            s->ptr = "";
            s->len = 0;
            continue;
        }
        memcpy(copy, s->ptr, s->len);
        s->ptr = copy;
    }
    r->nlent = 0;
}

/* A file object's source: the callable at `fn` with the table's `size`.
 * `object` is the length of the file object's own path in r->path (the
 * path now ends in ".source"), where ".size" goes. */
int kombo_lua_shape_by_name(lua_State *L, const kombo_schema *b, int body, const char **got)
{
    size_t i;
    for (i = 0; i < b->nproperties; i++) {
        int t;
        lua_getfield(L, body, b->properties[i].name);
        t = lua_type(L, -1);
        if (t != LUA_TNIL && t != LUA_TTABLE && kombo_schema_types(b->properties[i].schema, 0) == KOMBO_T_OBJECT) {
            *got = kombo_lua_type_of(L, -1);
            lua_pop(L, 1);
            return (int)i;
        }
        lua_pop(L, 1);
    }
    return -1;
}

/* The body's own members looked up by name (raw: the body has no
 * metatable), as note_shape would note them, before any of the caller's
 * Lua can run (read_source): a misuse raises first, as it always did.
 * (The first in the descriptor's order, as the walk's own note.) */
static void shape_by_name(kombo_lua_reader *r)
{
    const char *got = NULL;
    int bad = kombo_lua_shape_by_name(r->L, r->shape, r->shape_body, &got);
    r->shape_checked = 1;
    if (bad >= 0 && (r->shape_bad < 0 || bad < r->shape_bad))
        r->shape_bad = bad, r->shape_got = got;
}

/* Whether the body at stack index `body` has remote_fields (a raw read: no
 * Lua runs).  Here, not in lua_request.c, which reads with this file. */
int kombo_lua_has_remote_fields(lua_State *L, int body)
{
    int yes;
    /* (the name is a live string, the method's upvalue: no allocation) */
    lua_pushliteral(L, "remote_fields");
    lua_rawget(L, body);
    yes = !lua_isnil(L, -1);
    lua_pop(L, 1);
    return yes;
}

static kombo_value *read_source(kombo_lua_reader *r, int t, int fn, size_t object)
{
    lua_State *L = r->L;
    kombo_value *v;
    double size;
    size_t old;

    at(r); /* (the path ends in ".source": ".size" replaces it below) */
    /* Before any Lua of the caller's runs: a call whose remote_fields need
     * Lua is not read here (lua_request.c), so it is known first. */
    if (r->aliased == 1)
        r->aliased = kombo_lua_has_remote_fields(L, r->shape_body) ? 2 : 3;
    if (r->aliased == 2)
        return new_value(r, KOMBO_V_INVALID);
    kombo_lua_keep_lent(r); /* the field's __index may run Lua */
    if (r->shape != NULL && !r->shape_checked)
        shape_by_name(r);
    if (r->shape_bad >= 0)
        return new_value(r, KOMBO_V_INVALID); /* (the body's misuse raises: no Lua of the caller's first) */
    lua_getfield(L, t, "size");
    size = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
    old = strlen(r->path);
    r->path[object] = '\0';
    path_push_key(r, "size", 4);
    if (lua_isnil(L, -1)) {
        kombo_problems_add(r->problems, r->path, "is required with source (the exact byte count)");
        v = new_value(r, KOMBO_V_INVALID);
    } else if (!(size >= 0 && size == floor(size) && size < 9007199254740992.0)) {
        kombo_problems_add(r->problems, r->path, "must be a whole number of bytes >= 0");
        v = new_value(r, KOMBO_V_INVALID);
    } else {
        lsource *s = r->call != NULL ? kombo_lua_source_new(r->call) : NULL;
        if (s == NULL) {
            r->failed = 1;
            v = NULL;
        } else {
            const size_t max_content = KOMBO_MAX_CONTENT_BYTES; /* an integer, then a double */
            lua_pushvalue(L, fn);
            s->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
            /* A size past what the build can send stays past it (and the
             * rules say so); the cast stays defined on 32 bits. */
            s->source.size = (size_t)kombo_lua_clamp(size, 0, (double)max_content + 1);
            v = new_value(r, KOMBO_V_SOURCE);
            if (v != NULL)
                v->source = &s->source;
        }
    }
    r->path[old] = '\0';
    lua_pop(L, 1);
    return v;
}

static kombo_value *read_table(kombo_lua_reader *r, int idx, int depth);

/* A file object's `size` belongs to its source: without one it is a
 * mistake (the content's size is known from file, bytes or data).  The
 * keys an object's walk saw, as bits: */
#define SEEN_SIZE 1
#define SEEN_SOURCE 2
#define SEEN_CONTENT 4

static int seen_bit(const char *key, size_t n)
{
    switch (n) {
    case 4:
        if (memcmp(key, "size", 4) == 0)
            return SEEN_SIZE;
        return memcmp(key, "file", 4) == 0 || memcmp(key, "data", 4) == 0 ? SEEN_CONTENT : 0;
    case 5:
        return memcmp(key, "bytes", 5) == 0 ? SEEN_CONTENT : 0;
    case 6:
        return memcmp(key, "source", 6) == 0 ? SEEN_SOURCE : 0;
    case 8:
        return memcmp(key, "data_url", 8) == 0 ? SEEN_CONTENT : 0;
    default:
        return 0;
    }
}

static void stray_size(kombo_lua_reader *r, int seen)
{
    if ((seen & SEEN_SIZE) && !(seen & SEEN_SOURCE) && (seen & SEEN_CONTENT)) {
        size_t old = path_push_key(r, "size", 4);
        kombo_problems_add(r->problems, r->path, "is only used with source");
        r->path[old] = '\0';
    }
}

/* The value at absolute index idx, whose lua_type the caller has (a
 * member's walk asks it once: for the body's shape and for this). */
static kombo_value *read_value(kombo_lua_reader *r, int idx, int type, int depth)
{
    lua_State *L = r->L;
    kombo_value *v;

    switch (type) {
    case LUA_TSTRING:
        v = new_value(r, KOMBO_V_STRING);
        if (v != NULL) {
            kombo_str s;
            s.ptr = lua_tolstring(L, idx, &s.len);
            lend(r, idx, s, &v->s);
        }
        return v;
    case LUA_TBOOLEAN:
        v = new_value(r, KOMBO_V_BOOLEAN);
        if (v != NULL)
            v->b = lua_toboolean(L, idx);
        return v;
    case LUA_TNUMBER:
        if (is_integer_value(L, idx)) {
            v = new_value(r, KOMBO_V_INTEGER);
            if (v != NULL)
                v->i = (int64_t)lua_tointeger(L, idx);
            return v;
        } else {
            double d = lua_tonumber(L, idx);
            if (!isfinite(d))
                return invalid(r, "must be a finite number (got %s)", isnan(d) ? "NaN" : "infinity");
            /* Lua 5.1 has no integers: a whole number is one. */
            if (d == floor(d) && fabs(d) < 9007199254740992.0) {
                v = new_value(r, KOMBO_V_INTEGER);
                if (v != NULL)
                    v->i = (int64_t)d;
            } else {
                v = new_value(r, KOMBO_V_NUMBER);
                if (v != NULL)
                    v->d = d;
            }
            return v;
        }
    case LUA_TTABLE:
        return read_table(r, idx, depth);
    default:
        if (is_sentinel(L, idx, "kombo.null"))
            return new_value(r, KOMBO_V_NULL);
        if (is_sentinel(L, idx, "kombo.empty_array"))
            return new_value(r, KOMBO_V_ARRAY);
        v = invalid(r, "cannot be sent as JSON (a %s)", kombo_lua_type_of(L, idx));
        return v;
    }
}

kombo_value *kombo_lua_read_value(kombo_lua_reader *r, int idx, int depth)
{
    if (idx < 0)
        idx = lua_gettop(r->L) + idx + 1;
    return read_value(r, idx, lua_type(r->L, idx), depth);
}

/* A member of the body (key, its value on top) that is not a table: when
 * the descriptor says it may only be an object, a misuse that
 * kombo_lua_read_request raises, the first in the descriptor's order. */
static void note_shape(kombo_lua_reader *r, const char *key, size_t klen)
{
    const kombo_schema *b = r->shape;
    size_t i;
    for (i = 0; i < b->nproperties && (r->shape_bad < 0 || i < (size_t)r->shape_bad); i++)
        if (kombo_str_is((kombo_str){key, klen}, b->properties[i].name)) {
            if (kombo_schema_types(b->properties[i].schema, 0) == KOMBO_T_OBJECT) {
                r->shape_bad = (int)i;
                r->shape_got = kombo_lua_type_of(r->L, -1);
            }
            return;
        }
}

/* An object's members, in one walk (lua_next order), the first one already
 * on the stack: a key that is not a string makes the table neither an
 * object nor an array, and what its members added is taken back, so the
 * table's shape is the one problem (as a separate pass over the keys would
 * have found, at the cost of walking every object twice). */
static kombo_value *read_members(kombo_lua_reader *r, int idx, int depth, kombo_value *v)
{
    lua_State *L = r->L;
    size_t count = r->problems->count, dropped = r->problems->dropped;
    int seen = 0, body = depth == 0 && r->shape != NULL;
    size_t base = strlen(r->path); /* the object's own path: each member's goes after it */
    /* lua_next leaves each member's key and value in the same two slots */
    int vidx = lua_gettop(L), kidx = vidx - 1;

    do {
        kombo_value *member;
        size_t klen, old;
        const char *key;
        int bit, type;
        if (lua_type(L, kidx) != LUA_TSTRING) {
            lua_pop(L, 2);
            r->problems->count = count;
            r->problems->dropped = dropped;
            return NULL;
        }
        key = lua_tolstring(L, kidx, &klen);
        type = lua_type(L, vidx);
        if (body && type != LUA_TTABLE)
            note_shape(r, key, klen);
        if (body && r->aliased == 1 && klen == 13 && memcmp(key, "remote_fields", 13) == 0)
            r->aliased = 2; /* (a value lua_next gives is never nil) */
        bit = seen_bit(key, klen);
        seen |= bit;
        /* Its path is joined only if asked (at): a valid string member,
         * the usual one, never asks. */
        old = base;
        r->pend_key = key;
        r->pend_len = klen;
        r->pend_base = base;
        if (r->call != NULL && bit == SEEN_SOURCE && kombo_lua_is_callable(L, vidx)) {
            member = read_source(r, idx, vidx, old);
        } else {
            /* data and bytes (and a path or URL, read like them): what the
             * body may borrow while the call lives */
            int keep = r->keep;
            r->keep = keep || bit == SEEN_CONTENT;
            member = read_value(r, vidx, type, depth + 1);
            r->keep = keep;
        }
        if (member != NULL) {
            kombo_str k = {key, klen};
            lend(r, kidx, k, &member->key);
            kombo_value_append(v, member);
        }
        r->pend_key = NULL;
        r->path[old] = '\0'; /* (joined or not: the object's own path again) */
        lua_pop(L, 1);
        if (r->failed) {
            lua_pop(L, 1);
            break;
        }
    } while (lua_next(L, idx) != 0);
    if (body && !r->failed)
        r->shape_walked = 1;
    if (r->call != NULL)
        stray_size(r, seen);
    return v;
}

static kombo_value *read_table(kombo_lua_reader *r, int idx, int depth)
{
    lua_State *L = r->L;
    kombo_value *v;
    int n, i;
    const void *self;
    size_t old;
    static const char *const neither = "must have only string keys (an object) or only keys 1..n (an array)";

    at(r); /* a nested table: its members' paths go after its own */
    if (depth > KOMBO_LUA_MAX_DEPTH) {
        char limit[16];
        snprintf(limit, sizeof limit, "%d", KOMBO_LUA_MAX_DEPTH);
        return invalid(r, "nests deeper than %s levels", limit);
    }
    /* Each level holds a key, a value and temporaries: a C function is only
     * promised LUA_MINSTACK slots, and KOMBO_LUA_MAX_DEPTH levels need more. */
    luaL_checkstack(L, 8, "a table nested too deeply");
    self = lua_topointer(L, idx);
    for (i = 0; i < depth; i++)
        if (r->open[i] == self)
            return invalid(r, "%s", "is cyclic (a table contains itself)");

    lua_pushnil(L);
    if (lua_next(L, idx) == 0) { /* empty: {} unless it was decoded as [] */
        v = new_value(r, has_array_mt(L, idx) ? KOMBO_V_ARRAY : KOMBO_V_EMPTY);
        if (v != NULL)
            v->given = "table";
        return v;
    }
    if (lua_type(L, -2) == LUA_TSTRING) { /* an object, unless another key says otherwise */
        kombo_value *object = new_value(r, KOMBO_V_OBJECT);
        if (object == NULL) {
            lua_pop(L, 2);
            return NULL;
        }
        object->given = "table";
        r->open[depth] = self;
        v = read_members(r, idx, depth, object);
        r->open[depth] = NULL;
        return v != NULL ? v : invalid(r, "%s", neither);
    }
    lua_pop(L, 2);
    n = array_length(L, idx); /* an array, or neither: its first key is not a string */
    if (n <= 0)
        return invalid(r, "%s", neither);
    v = new_value(r, KOMBO_V_ARRAY);
    if (v == NULL)
        return NULL;
    v->given = "table";
    r->open[depth] = self;
    for (i = 1; i <= n && !r->failed; i++) {
        kombo_value *item;
        int type;
        old = path_push_index(r, i);
#if LUA_VERSION_NUM >= 503
        type = lua_rawgeti(L, idx, i);
#else
        lua_rawgeti(L, idx, i);
        type = lua_type(L, -1);
#endif
        item = read_value(r, lua_gettop(L), type, depth + 1);
        lua_pop(L, 1);
        r->path[old] = '\0';
        if (item != NULL)
            kombo_value_append(v, item);
    }
    r->open[depth] = NULL;
    return v;
}

void kombo_lua_reader_init(kombo_lua_reader *r, lua_State *L, kombo_arena *arena, int anchor,
                           kombo_problems *problems, lcall *call)
{
    /* Not all zeroed: open[] past the depth a read starts at (0 or 1) is
     * set before it is read, and the path is a C string. */
    r->L = L;
    r->arena = arena;
    r->anchor = anchor;
    r->problems = problems;
    r->call = call;
    r->anchored = 0;
    r->failed = 0;
    r->nlent = 0;
    r->keep = 0;
    r->shape = NULL;
    r->shape_walked = 0;
    r->shape_checked = 0;
    r->shape_body = 0;
    r->shape_bad = -1;
    r->shape_got = NULL;
    r->aliased = 0;
    r->open[0] = NULL;
    r->path[0] = '\0';
    r->pend_key = NULL;
}

/* ---------------------------------------------------- kombo.encode_json */

/* core.encode_json(value) -> JSON text | nil, message: the value tree and
 * the core's writer that every request body goes through, so a result
 * re-encodes as the answer it came from (an empty array decoded from it as
 * [], integers as integers). */
int kombo_lua_encode_json(lua_State *L)
{
    kombo_problems problems;
    kombo_lua_reader r;
    kombo_arena arena;
    kombo_body body;
    kombo_value *v;
    int anchor;

    luaL_checkany(L, 1);
    lua_settop(L, 1);
    lua_newtable(L);
    anchor = lua_gettop(L);
    kombo_problems_init(&problems);
    kombo_arena_init(&arena);
    kombo_lua_reader_init(&r, L, &arena, anchor, &problems, NULL);
    strcpy(r.path, "value");
    v = kombo_lua_read_value(&r, 1, 1);
    if (v != NULL && problems.count == 0)
        kombo_schema_check(NULL, v, "value", &problems);
    if (r.failed || v == NULL) {
        kombo_arena_free(&arena);
        return luaL_error(L, "out of memory");
    }
    if (problems.count > 0) {
        kombo_arena_free(&arena);
        lua_pushnil(L);
        lua_pushfstring(L, "%s %s", problems.items[0].path, problems.items[0].message);
        return 2;
    }
    memset(&body, 0, sizeof body);
    if (kombo_schema_write(&body, NULL, v) != 0 || kombo_body_finish(&body) != 0) {
        kombo_body_free(&body);
        kombo_arena_free(&arena);
        return luaL_error(L, "out of memory");
    }
    {
        luaL_Buffer b;
        char chunk[4096];
        size_t n;
        luaL_buffinit(L, &b);
        while ((n = kombo_body_read(&body, chunk, sizeof chunk)) > 0)
            luaL_addlstring(&b, chunk, n);
        luaL_pushresult(&b);
    }
    kombo_body_free(&body);
    kombo_arena_free(&arena);
    return 1;
}

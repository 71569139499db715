/*
 * lua_call.c - the call object of kombo.core: made by client:prepare(op,
 * args), driven either by libcurl in C (call:perform(), call:attempt()) or
 * step by step from Lua (call:next(), call:request(), call:read(),
 * call:complete(); the cosocket transport), and read out as a plain result
 * table that kombo/errors.lua dresses.
 */
#include "lua/lua_kombo.h"
#include "lua/lua_json.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/body.h"
#include "core/classify.h"
#include "core/call.h"
#include "core/client.h"
#include "core/schema.h"
#include "core/internal.h"
#include "core/json.h"
#include "core/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

/* A success's record of its exchange (push_result): what res.http gives
 * (errors.lua's success_index reads it by core.header_block_read), held in
 * C so that a dressed success needs no table field per figure (each one a
 * key to hash and memory for the collector, on every call, for the few
 * callers that look).  A bare userdata: no metatable to set on each one
 * (header_block_read knows it by its size instead), its bytes' length the
 * userdata's. */
typedef struct header_block {
    double elapsed;
    int status, attempts;
    char data[1]; /* the block's fields (kombo_header_fields), to the userdata's end */
} header_block;

#define HEADER_BLOCK_FIXED offsetof(header_block, data)

/* core.header_block_read(block) -> the header bytes as a string, status,
 * attempts, elapsed.  (Any other userdata without a metatable is read as
 * one too: only its own bytes are read.) */
static int l_header_block_read(lua_State *L)
{
    header_block *hb = lua_touserdata(L, 1);
    size_t size = lua_type(L, 1) == LUA_TUSERDATA ? lua_rawlen(L, 1) : 0;
    if (size < HEADER_BLOCK_FIXED || lua_getmetatable(L, 1))
        return luaL_argerror(L, 1, "not a header block");
    lua_pushlstring(L, hb->data, size - HEADER_BLOCK_FIXED);
    lua_pushinteger(L, hb->status);
    lua_pushinteger(L, hb->attempts);
    lua_pushnumber(L, hb->elapsed);
    return 4;
}

/* A dressed success is its answer with a metatable shared by every success
 * dressed with the same __index function (one per client's secrets), and
 * its header block is found by the answer in a store with weak keys: no
 * table made and filled per call for the few callers that read res.http
 * (errors.lua's success_index reads the store).  Both tables are held by
 * the table registered as HEADER_BLOCK_MT (once the header blocks'
 * metatable; now the results' shared state, set on no value), which the
 * call's methods and client:run hold as their upvalue 2. */
#define STORE_SLOT 1 /* the store: answer -> its header block, or its res.http once read */
#define SHARED_MT_SLOT 2 /* __index function -> the metatable made for it */
/* Slots 3 and 4 (kombo_lua_push_jval_names): the registry names of the
 * decoder's null and array metatable, as strings made once; slot 5 the
 * decoder's cache of short strings (an answer's keys). */
#define NAMES_SLOT 3

/* A table with weak keys (mode "k"), or weak keys and values ("kv"): the
 * metatables by their __index are weak both ways, since each refers to its
 * key, which Lua 5.1 and LuaJIT (no ephemerons) would then never collect;
 * one no success uses any more is made again when needed. */
static void new_weak(lua_State *L, const char *mode)
{
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
}

/* Pushes the shared metatable for the __index function at `index`, made
 * on first use; hbmt: the results' shared state (HEADER_BLOCK_MT). */
static void push_success_mt(lua_State *L, int hbmt, int index)
{
    lua_rawgeti(L, hbmt, SHARED_MT_SLOT);
    lua_pushvalue(L, index);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 1);
        lua_pushvalue(L, index);
        lua_setfield(L, -2, "__index");
        lua_pushvalue(L, index);
        lua_pushvalue(L, -2);
        lua_rawset(L, -4);
    }
    lua_replace(L, -2); /* over the table of them */
}

/* core.success_metatable(index) -> the metatable of the successes dressed
 * with the __index function `index` (errors.lua dresses with it too) */
static int l_success_metatable(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    push_success_mt(L, lua_upvalueindex(1), 1);
    return 1;
}

/* The call metatable under a light userdata key of the registry as well as
 * under CALL_MT: found without hashing a string (luaL_getmetatable makes
 * and hashes its name each time on LuaJIT), for every call made. */
static const char call_mt_key = 'c';

static void push_call_mt(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&call_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

int kombo_lua_reusable_call(lua_State *L, int idx, int mt)
{
    lcall *c = lua_touserdata(L, idx);
    int ok;
    if (c == NULL || !lua_getmetatable(L, idx))
        return 0;
    if (mt == 0) {
        push_call_mt(L);
        ok = lua_rawequal(L, -1, -2);
        lua_pop(L, 1);
    } else {
        ok = lua_rawequal(L, -1, mt);
    }
    lua_pop(L, 1);
    /* a closed call holds nothing (close_call): it may be made again */
    return ok && c->call == NULL && c->owner == NULL && !c->in_multi && !c->in_transfer && !c->in_written;
}

/* The body's bytes are all handed out: the read after the last chunk
 * would give nothing (call:read's tell_end and its FFI twin). */
static int body_read_out(const kombo_body *body)
{
    return body->seg_i >= body->nseg && !body->want_input;
}

/* A call's methods hold its metatable as their upvalue 1 (the methods run
 * several times per call). */
static lcall *to_call(lua_State *L, int i)
{
    return kombo_lua_to_udata(L, i, 1, CALL_MT);
}

static lcall *check_call(lua_State *L, int i)
{
    lcall *c = to_call(L, i);
    if (c->call == NULL)
        luaL_argerror(L, i, "call is closed");
    c->L = L; /* callbacks (source, on_progress) run on the caller's thread */
    return c;
}

void kombo_lua_push_problems(lua_State *L, const kombo_problems *p)
{
    size_t i;
    lua_createtable(L, (int)p->count, 0);
    for (i = 0; i < p->count; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, p->items[i].path);
        lua_setfield(L, -2, "path");
        lua_pushstring(L, p->items[i].message);
        lua_setfield(L, -2, "message");
        lua_rawseti(L, -2, (int)i + 1);
    }
    if (p->dropped > 0) {
        lua_pushinteger(L, (lua_Integer)p->dropped);
        lua_setfield(L, -2, "dropped");
    }
}

/* Problems a Lua layer found first (the ATS-specific remote_fields rules)
 * come in as a list at `idx`, so that one list holds them all. */
static void preload_problems(lua_State *L, int idx, kombo_problems *p)
{
    int i, n;
    if (!lua_istable(L, idx))
        return;
    n = (int)lua_rawlen(L, idx);
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "path");
            lua_getfield(L, -2, "message");
            kombo_problems_add(p, luaL_optstring(L, -2, ""), "%s", luaL_optstring(L, -1, ""));
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
    }
}

int kombo_lua_set_headers(lua_State *L, int idx, kombo_call *call, const char *path, kombo_problems *p)
{
    kombo_str names[KOMBO_MAX_EXTRA_HEADERS], values[KOMBO_MAX_EXTRA_HEADERS];
    size_t n = 0;
    if (idx < 0) /* (Lua 5.1 has no lua_absindex) */
        idx = lua_gettop(L) + idx + 1;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        /* (no lua_tolstring on a key: it would change a number key in place) */
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
            kombo_problems_add(p, path, "must map header names (strings) to values (strings), got %s = %s",
                               luaL_typename(L, -2), luaL_typename(L, -1));
            lua_pop(L, 2);
            return -1;
        }
        if (n == KOMBO_MAX_EXTRA_HEADERS) {
            kombo_problems_add(p, path, "holds more than %d headers", KOMBO_MAX_EXTRA_HEADERS);
            lua_pop(L, 2);
            return -1;
        }
        /* the strings stay alive in the table while they are copied */
        names[n].ptr = lua_tolstring(L, -2, &names[n].len);
        values[n].ptr = lua_tolstring(L, -1, &values[n].len);
        n++;
        lua_pop(L, 1);
    }
    return kombo_call_set_headers(call, names, values, n, path, p);
}

/* A call that was not made gives its arena block back at once and forgets
 * its client: nothing anchors the client for it, so its __gc must not
 * reach the client (which may be collected first). */
static void unmade(lua_State *L, lcall *c)
{
    kombo_arena_free(&c->arena);
    if (c->arena_block != NULL) {
        if (c->owner->spare_block == NULL)
            c->owner->spare_block = c->arena_block;
        else
            free(c->arena_block);
        c->arena_block = NULL;
    }
    kombo_arena_init_with(&c->arena, NULL, 0);
    luaL_unref(L, LUA_REGISTRYINDEX, c->anchor_ref); /* a reused table may hold strings: dropped */
    c->anchor_ref = LUA_NOREF;
    c->owner->calls--; /* counted from the start of prepare */
    kombo_lua_client_maybe_free(c->owner);
    c->owner = NULL;
}

/* (The call userdata is the first value this pushes, made or not.)
 * client:prepare(op_name, args [, problems [, list_files [, options]]]) -> call | nil, problems
 * | nil, false, shape_message | nil, false, nil, options_message (the stack: 1 client, 2 op name,
 * 3 args, 4 problems; list_files: for call:files(); options: the index of the call's own
 * settings and headers, or 0) */
int kombo_lua_new_call(lua_State *L, lclient *owner, int client_idx, const kombo_operation *op, int args,
                       int list_files, int options, int reuse, int needs)
{
    kombo_problems problems;
    kombo_request req;
    kombo_config own;
    const char *shape;
    lcall *c;
    int ud, anchor;

    /* Every caller looked at the client first, but Lua may have run since
     * (a batch's pick, an __index): a closed client's core is gone. */
    if (owner->client == NULL || owner->close_pending)
        return luaL_error(L, "kombo client is closed");
    /* the spares overlapping calls handed back, one at a time */
    if (owner->spare_call == NULL && owner->nmore_calls > 0)
        owner->spare_call = owner->more_calls[--owner->nmore_calls];
    if (owner->spare_block == NULL && owner->nmore_blocks > 0)
        owner->spare_block = owner->more_blocks[--owner->nmore_blocks];
    if (reuse != 0) { /* a closed call: it holds nothing (close_call) */
        c = lua_touserdata(L, reuse);
        lua_pushvalue(L, reuse);
    } else {
        c = lua_newuserdata(L, sizeof *c);
        /* That allocation may run a collection step, whose finalizers may
         * close the client before this call is counted (below): its core
         * client may be gone.  (The bare userdata has no __gc yet.) */
        if (owner->client == NULL || owner->close_pending)
            return luaL_error(L, "kombo client is closed");
    }
    ud = lua_gettop(L);
    memset(c, 0, sizeof *c);
    c->L = L;
    c->owner = owner;
    /* Counted at once: reading the arguments may run Lua (an __index), which
     * may close the client; the client then waits for this call. */
    owner->calls++;
    c->anchor_ref = LUA_NOREF;
    c->progress_ref = LUA_NOREF;
    c->written_ref = LUA_NOREF;
    if (reuse == 0) {
        push_call_mt(L);
        lua_setmetatable(L, ud);
    }
    /* The client's spare first block, else a new one (the arena zeroes what
     * it hands out); freed or handed back by __gc. */
    c->arena_block = owner->spare_block != NULL ? owner->spare_block : malloc(KOMBO_LUA_ARENA_FIRST);
    owner->spare_block = NULL;
    kombo_arena_init_with(&c->arena, c->arena_block, c->arena_block ? KOMBO_LUA_ARENA_FIRST : 0);
    /* The anchor: the long strings the request borrows (an upload's data),
     * and the client at [0].  The client's emptied one from its last call
     * when it has one (its registry slot with it), else a new one. */
    if (owner->spare_anchor == LUA_NOREF && owner->nmore_anchors > 0)
        owner->spare_anchor = owner->more_anchors[--owner->nmore_anchors];
    if (owner->spare_anchor != LUA_NOREF) {
        c->anchor_ref = owner->spare_anchor;
        owner->spare_anchor = LUA_NOREF;
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->anchor_ref);
    } else {
        lua_createtable(L, 2, 1);
        lua_pushvalue(L, -1);
        c->anchor_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    anchor = lua_gettop(L);
    lua_pushvalue(L, client_idx);
    lua_rawseti(L, anchor, 0);

    kombo_problems_init(&problems);
    preload_problems(L, args + 1, &problems);
    if (options != 0) {
        /* The call's own settings first: a mistake there is the caller's
         * misuse (raised), not a problem of the request. */
        kombo_problems op_problems;
        kombo_problems_init(&op_problems);
        if (kombo_lua_read_call_config(L, options, kombo_client_config(owner->client), &own, &op_problems) > 0) {
            unmade(L, c);
            lua_pushnil(L);
            lua_pushboolean(L, 0);
            lua_pushnil(L);
            lua_pushfstring(L, "option '%s' %s", op_problems.items[0].path, op_problems.items[0].message);
            return 4;
        }
    }
    shape = kombo_lua_read_request(L, args, anchor, op, &req, c, &problems, needs);
    if (shape == kombo_lua_needs_lua) {
        /* Nothing of the call is kept: its anchor, emptied, goes back to
         * the client's spares for the call made next (as close_call's). */
        if (owner->spare_anchor == LUA_NOREF) {
            int i;
            for (i = 0; i <= c->anchored; i++) {
                lua_pushnil(L);
                lua_rawseti(L, anchor, i);
            }
            owner->spare_anchor = c->anchor_ref;
            c->anchor_ref = LUA_NOREF;
        }
        unmade(L, c);
        return 0;
    }
    if (shape != NULL) {
        unmade(L, c);
        lua_pushnil(L);
        lua_pushboolean(L, 0);
        lua_pushstring(L, shape);
        return 3;
    }
    if (options != 0)
        req.config = &own;
    /* One pass: the core checks what the reader built (its own problems
     * are already in `problems`; a value it reported is not reported
     * again), then the call is made from the checked request. */
    kombo_request_resolve(owner->client, &req, &problems);
    if (problems.count == 0 && problems.dropped == 0) {
        c->call = kombo_call_make(owner->client, &req, list_files, &problems, owner->spare_call);
        owner->spare_call = NULL; /* taken, also when making failed (it is freed then) */
        if (c->call == NULL && problems.count == 0) {
            unmade(L, c);
            return luaL_error(L, "out of memory preparing the request");
        }
    } else {
        kombo_value_close_files(req.body);
    }
    if (problems.count > 0) {
        kombo_call_free(c->call);
        c->call = NULL;
        unmade(L, c);
        lua_pushnil(L);
        kombo_lua_push_problems(L, &problems);
        return 2;
    }
    if (options != 0) {
        lua_getfield(L, options, "headers");
        if (lua_istable(L, -1)) {
            kombo_problems hp;
            kombo_problems_init(&hp);
            if (kombo_lua_set_headers(L, -1, c->call, "headers", &hp) != 0) {
                kombo_call_free(c->call);
                c->call = NULL;
                unmade(L, c);
                lua_pushnil(L);
                lua_pushboolean(L, 0);
                lua_pushnil(L);
                lua_pushfstring(L, "option '%s' %s", hp.count > 0 ? hp.items[0].path : "headers",
                                hp.count > 0 ? hp.items[0].message : "cannot be set");
                return 4;
            }
        }
        lua_pop(L, 1);
    }
    lua_pushvalue(L, ud);
    return 1;
}

/* call:close() and its __gc */
static int close_call(lua_State *L, lcall *c)
{
    if (c->in_multi) /* its easy handle points into it (a multi holds it alive, so not __gc) */
        return luaL_error(L, "kombo call: close() while its attempt is in flight in a multi");
    if (c->in_written) /* kombo_body_read is on the stack below it */
        return luaL_error(L, "kombo call: close() from its own on_written function");
    if (c->in_transfer) /* from its own source or on_progress function: libcurl is using it */
        return luaL_error(L, "kombo call: close() while its transfer is in progress");
    /* A client still in use keeps one call's memory for its next call.  Only
     * a live call holds its client alive (its anchor): a closed one, or one
     * never made (unmade), forgets it, since its __gc may run after the
     * client's memory is gone. */
    lclient *owner = c->call != NULL ? c->owner : NULL;
    int keep = owner != NULL && owner->client != NULL && !owner->close_pending;
    if (c->call != NULL) {
        if (keep && owner->spare_call == NULL) {
            kombo_call_recycle(c->call);
            owner->spare_call = c->call;
        } else if (keep && owner->nmore_calls < KOMBO_LUA_MORE_SPARES
                   && kombo_call_response(c->call)->body.cap <= KOMBO_LUA_SPARE_MAX_BODY) {
            kombo_call_recycle(c->call);
            owner->more_calls[owner->nmore_calls++] = c->call;
        } else {
            kombo_call_free(c->call);
        }
        c->call = NULL;
        if (owner != NULL) {
            owner->calls--;
            kombo_lua_client_maybe_free(owner);
        }
    } else if (c->owner != NULL) {
        /* A prepare that raised before the call was made (an __index of the
         * arguments): counted from its start, and its anchor (still
         * referenced) keeps the client alive until here. */
        c->owner->calls--;
        kombo_lua_client_maybe_free(c->owner);
    }
    kombo_arena_free(&c->arena);
    if (c->arena_block != NULL) {
        if (keep && owner->client != NULL && owner->spare_block == NULL)
            owner->spare_block = c->arena_block;
        else if (keep && owner->client != NULL && owner->nmore_blocks < KOMBO_LUA_MORE_SPARES)
            owner->more_blocks[owner->nmore_blocks++] = c->arena_block;
        else
            free(c->arena_block);
        c->arena_block = NULL;
        kombo_arena_init_with(&c->arena, NULL, 0);
    }
    free(c->batch);
    c->batch = NULL;
    c->batch_cap = 0;
    if (c->anchor_ref != LUA_NOREF && keep &&
        (owner->spare_anchor == LUA_NOREF || owner->nmore_anchors < KOMBO_LUA_MORE_SPARES)) {
        /* emptied, client included (a spare that held its client would
         * keep it alive through the registry), for the client's next call */
        int i;
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->anchor_ref);
        for (i = 0; i <= c->anchored; i++) {
            lua_pushnil(L);
            lua_rawseti(L, -2, i);
        }
        lua_pop(L, 1);
        if (owner->spare_anchor == LUA_NOREF)
            owner->spare_anchor = c->anchor_ref;
        else
            owner->more_anchors[owner->nmore_anchors++] = c->anchor_ref;
    } else {
        luaL_unref(L, LUA_REGISTRYINDEX, c->anchor_ref);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, c->progress_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, c->written_ref);
    kombo_lua_sources_free(L, c);
    c->anchor_ref = c->progress_ref = c->written_ref = LUA_NOREF;
    c->owner = NULL; /* the anchor is gone: the client may be collected now */
    return 0;
}

static int l_call_gc(lua_State *L)
{
    return close_call(L, to_call(L, 1));
}

static int l_call_tostring(lua_State *L)
{
    lcall *c = to_call(L, 1);
    lua_pushfstring(L, "kombo.call (%p%s)", (void *)c, c->call ? "" : ", closed");
    return 1;
}

static void set_str(lua_State *L, const char *k, const char *v, size_t n)
{
    lua_pushlstring(L, v, n);
    lua_setfield(L, -2, k);
}

/* The client's redactor of its API key, made once; NULL when there is
 * nothing to look for (*none) or no memory for it (then the caller
 * redacts with a redactor of its own: never without). */
static const kombo_redactor *client_redactor(lclient *lc, const char *key, int *none)
{
    if (lc->redactor == NULL && !lc->redactor_none) {
        size_t keylen = key ? strlen(key) : 0, extra = kombo_redactor_extra(key, keylen);
        kombo_redactor *r = malloc(sizeof *r + extra);
        if (r == NULL)
            return NULL;
        if (!kombo_redactor_init(r, key, keylen, extra ? (void *)(r + 1) : NULL)) {
            free(r);
            lc->redactor_none = 1;
        } else {
            lc->redactor = r;
            lc->redactor_size = sizeof *r + extra;
        }
    }
    *none = lc->redactor_none;
    return lc->redactor;
}

/* A success's header block and figures as a userdata (header_block): of
 * the block, only what res.http can need (kombo_header_fields), a fifth of
 * a small answer's block less kept for the life of its res. */
static void push_header_block(lua_State *L, const kombo_result *res)
{
    const kombo_buf *h = &res->response->headers;
    size_t n;
    const char *bytes = kombo_header_fields(h->data, h->len, &n);
#if LUA_VERSION_NUM >= 504
    header_block *hb = lua_newuserdatauv(L, HEADER_BLOCK_FIXED + n, 0);
#else
    header_block *hb = lua_newuserdata(L, HEADER_BLOCK_FIXED + n);
#endif
    hb->status = res->status;
    hb->attempts = res->attempts;
    hb->elapsed = res->elapsed;
    if (n > 0)
        memcpy(hb->data, bytes, n);
}

/* A success's answer decoded into Lua values, every string redacted of
 * the client's secrets.  It is decoded once: from the span the core's scan
 * validated while classifying it (no second parser), its first containers
 * made at the sizes that scan recorded. */
static void push_answer(lua_State *L, lcall *c, const kombo_result *res)
{
    const char *key = kombo_call_config(c->call)->api_key;
    int none = 0;
    const kombo_redactor *red = client_redactor(c->owner, key, &none);
    jmarks marks;
    jval root;
    kombo_lua_answer_jval(&res->cls, res->response->body.data, &marks, &root);
    if (red != NULL || none)
        kombo_lua_push_jval_names(L, &root, red, lua_upvalueindex(2), NAMES_SLOT);
    else
        kombo_lua_push_jval_redacted(L, &root, key);
}

/* The outcome of the call as a plain table; kombo/errors.lua dresses it.
 * With `index` (a stack index, or 0), a success comes back dressed
 * instead, as errors.lua would: the decoded answer, whose metatable is the
 * one shared by the successes of that __index function (what
 * success_index gives in errors.lua), its header block in the store; and
 * true after it.  Returns the values pushed (call:perform's and
 * call:result's answer): 1, or 2 when dressed. */
static int push_result(lua_State *L, lcall *c, const kombo_result *res, int index)
{
    const kombo_classification *cls = &res->cls;
    const kombo_response *r = res->response;
    int answered = r != NULL && res->attempts > 0;
    if (index != 0 && cls->kind == KOMBO_OK && answered) {
        push_success_mt(L, lua_upvalueindex(2), index);
        push_answer(L, c, res);
        lua_pushvalue(L, -2);
        lua_setmetatable(L, -2);
        lua_rawgeti(L, lua_upvalueindex(2), STORE_SLOT);
        lua_pushvalue(L, -2);
        push_header_block(L, res);
        lua_rawset(L, -3);
        lua_pop(L, 1);
        lua_pushboolean(L, 1); /* (the metatable stays below: not returned) */
        return 2;
    }
    lua_createtable(L, 0, cls->kind == KOMBO_OK ? 8 : 16);
    lua_pushstring(L, kombo_kind_name(cls->kind));
    lua_setfield(L, -2, "kind");
    if (cls->kind != KOMBO_OK) {
        kombo_call *call = c->call;
        lua_pushstring(L, kombo_outcome_name(cls->outcome));
        lua_setfield(L, -2, "outcome");
        lua_pushstring(L, cls->message);
        lua_setfield(L, -2, "message");
        /* err:retryable() and err:may_have_landed() (kombo/errors.lua): the
         * core's retry rule, and whether the operation writes */
        lua_pushboolean(L, kombo_call_retryable(call));
        lua_setfield(L, -2, "retryable");
        lua_pushboolean(L, strcmp(kombo_call_operation(call)->method, "GET") != 0);
        lua_setfield(L, -2, "write");
    }
    if (cls->has_code)
        lua_pushstring(L, cls->code), lua_setfield(L, -2, "code");
    if (cls->has_title)
        lua_pushstring(L, cls->title), lua_setfield(L, -2, "title");
    if (cls->has_log_url)
        lua_pushstring(L, cls->log_url), lua_setfield(L, -2, "log_url");
    if (cls->retry_after >= 0)
        lua_pushnumber(L, cls->retry_after), lua_setfield(L, -2, "retry_after");
    if (res->status > 0)
        lua_pushinteger(L, res->status), lua_setfield(L, -2, "status");
    lua_pushinteger(L, res->attempts);
    lua_setfield(L, -2, "attempts");
    lua_pushnumber(L, res->elapsed);
    lua_setfield(L, -2, "elapsed");
    {
        /* When the last attempt's request was handed over whole: an unknown
         * outcome is settled only after its timeout has passed since then. */
        double w = kombo_call_body(c->call)->written_at;
        if (w > 0)
            lua_pushnumber(L, w), lua_setfield(L, -2, "written_at");
    }
    if (answered) {
        if (cls->kind == KOMBO_OK) {
            /* A success's header block is read only if res.http.headers is
             * asked for, redacted then: until then it is bytes in a userdata,
             * which nothing that prints tables can show. */
            push_header_block(L, res);
            lua_setfield(L, -2, "header_block");
            push_answer(L, c, res);
            lua_setfield(L, -2, "decoded");
        } else {
            set_str(L, "headers", r->headers.data ? r->headers.data : "", r->headers.len);
            set_str(L, "body", r->body.data ? r->body.data : "", r->body.len);
        }
    }
    return 1;
}

/* ------------------------------------------------- the libcurl driver */

static kombo_curl *acquire_curl(lua_State *L, lclient *lc)
{
    kombo_curl *t;
    if (lc->client == NULL || lc->close_pending)
        luaL_error(L, "kombo client is closed");
    if (lc->busy)
        luaL_error(L, "kombo client is busy with another upload (an upload was started from its own "
                      "source or on_progress callback)");
    if ((t = kombo_curl_acquire()) == NULL)
        luaL_error(L, "cannot initialise libcurl");
    lc->busy = 1;
    return t;
}

static void release_curl(lclient *lc, kombo_curl *t)
{
    kombo_curl_release(t);
    lc->busy = 0;
    kombo_lua_client_maybe_free(lc); /* the call itself still holds it */
}

/* call:perform([index]) -> result table (blocking; for scripts); with
 * index (a function): a success's res, true (push_result) */
static int perform(lua_State *L, lcall *c, int index)
{
    kombo_curl *t = acquire_curl(L, c->owner);
    const kombo_result *res;
    c->in_transfer = 1; /* (the callbacks run under lua_pcall: nothing jumps past the reset) */
    res = kombo_curl_perform(t, c->call);
    c->in_transfer = 0;
    /* Released first: building the result may raise (out of memory), and
     * the client must not stay busy then.  res is the call's, which this
     * call keeps alive (and with it the client). */
    release_curl(c->owner, t);
    return push_result(L, c, res, index);
}

static int l_call_perform(lua_State *L)
{
    lcall *c = check_call(L, 1);
    return perform(L, c, lua_isfunction(L, 2) ? 2 : 0);
}

/* The common call in one step (client:run, and the operations' methods,
 * lua_method.c): the call prepare makes of the arguments at `args` (the
 * slot above them empty: no problems of Lua's), performed and closed, in
 * the call userdata this client keeps for its runs.  index: the stack index
 * of a success's __index, or 0.  Returns what call:perform(index) returns,
 * or prepare's nil, ... when no call is made. */
int kombo_lua_client_run(lua_State *L, lclient *lc, const kombo_operation *op, int client_idx, int args, int index,
                         int needs)
{
    int n, reuse = 0, call;
    lcall *kept;
    if (lc->run_call == LUA_NOREF) {
        lua_pushboolean(L, 0);
        lc->run_call = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    /* The kept call, or false.  It stays in its slot while this run uses
     * it: a run inside this one (from an __index of the arguments) finds it
     * open and makes a call of its own, as does a run after one that raised
     * half-way (that one is then dropped, and its __gc closes it). */
    lua_rawgeti(L, LUA_REGISTRYINDEX, lc->run_call);
    kept = lua_touserdata(L, -1);
    if (kept != NULL && kept->call == NULL && kept->owner == NULL && !kept->in_multi && !kept->in_transfer &&
        !kept->in_written)
        reuse = lua_gettop(L);
    call = lua_gettop(L) + 1; /* the call userdata, made or not, is the first value new_call pushes */
    n = kombo_lua_new_call(L, lc, client_idx, op, args, 0, 0, reuse, needs);
    if (n == 0 || lua_type(L, -n) != LUA_TUSERDATA)
        kombo_lua_call_close(L, call); /* not made: what reading the arguments took (on_progress) */
    else
        n = kombo_lua_perform_close(L, call, index);
    /* A new call, closed: kept for the next run, unless the client was
     * closed meanwhile */
    if (reuse == 0 && lc->run_call != LUA_NOREF) {
        lua_pushvalue(L, call);
        lua_rawseti(L, LUA_REGISTRYINDEX, lc->run_call);
    }
    return n;
}

void kombo_lua_call_close(lua_State *L, int call_idx)
{
    close_call(L, lua_touserdata(L, call_idx));
}

int kombo_lua_perform_close(lua_State *L, int call_idx, int index)
{
    lcall *c = lua_touserdata(L, call_idx); /* the one kombo_lua_new_call just made */
    int n;
    c->L = L;
    n = perform(L, c, index);
    close_call(L, c);
    return n;
}

/* call:attempt(): one attempt with libcurl, reported to the call (for a
 * loop driven from Lua, e.g. with a debug hook between the steps). */
static int l_call_attempt(lua_State *L)
{
    lcall *c = check_call(L, 1);
    kombo_curl *t = acquire_curl(L, c->owner);
    c->in_transfer = 1;
    kombo_curl_attempt(t, c->call);
    c->in_transfer = 0;
    /* before release: the call reads its client's retry policy */
    kombo_call_complete(c->call, kombo_call_response(c->call), kombo_monotonic_now(),
                        kombo_wall_now());
    release_curl(c->owner, t);
    return 0;
}

/* ------------------------------------------------- the sans-I/O steps */

/* call:next(now) -> "send" | "sleep", delay | "done" */
int kombo_lua_push_step(lua_State *L, kombo_step step, double delay)
{
    switch (step) {
    case KOMBO_STEP_SEND:
        lua_pushliteral(L, "send");
        return 1;
    case KOMBO_STEP_SLEEP:
        lua_pushliteral(L, "sleep");
        lua_pushnumber(L, delay);
        return 2;
    default:
        lua_pushliteral(L, "done");
        return 1;
    }
}

static int l_call_next(lua_State *L)
{
    lcall *c = check_call(L, 1);
    double delay;
    kombo_step step = kombo_call_next(c->call, luaL_checknumber(L, 2), &delay);
    return kombo_lua_push_step(L, step, delay);
}

/* call:request() -> url, {"Name: value", ...}, content_length,
 * max_response_bytes (the cap the core applies), method */
static int l_call_request(lua_State *L)
{
    lcall *c = check_call(L, 1);
    size_t i, n = kombo_call_header_count(c->call);
    lua_pushstring(L, kombo_call_url(c->call));
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_pushstring(L, kombo_call_header(c->call, i));
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_pushinteger(L, (lua_Integer)kombo_call_body(c->call)->length);
    lua_pushinteger(L, (lua_Integer)kombo_call_response(c->call)->body.limit);
    lua_pushstring(L, kombo_call_operation(c->call)->method);
    return 5;
}

/* Where url's "<scheme>://<authority>" ends (at its path, query or
 * fragment, or its end), or 0 when it does not start with a scheme and
 * "://".  (call:view's path and call:request_head's Host and target.) */
static size_t authority_end(const char *url)
{
    size_t i = 0;
    if (!((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z')))
        return 0;
    while (url[i] != '\0' && (isalnum((unsigned char)url[i]) || url[i] == '+' || url[i] == '.' || url[i] == '-'))
        i++;
    if (strncmp(url + i, "://", 3) != 0)
        return 0;
    i += 3;
    return i + strcspn(url + i, "/?#");
}

/* call:view(with_headers) -> url, path, headers | nil, body length, method: the request as
 * the debug log and the hooks show it (kombo/trace.lua), in one crossing:
 * the URL and every header redacted of the client's secrets (its cached
 * redactor), Authorization's value masked, and the URL's path (no scheme,
 * host, query or fragment; "/" when empty). */
static int l_call_view(lua_State *L)
{
    lcall *c = check_call(L, 1);
    int with_headers = lua_toboolean(L, 2); /* (read before anything is pushed) */
    size_t i, n = kombo_call_header_count(c->call), len, from;
    int none = 0;
    const kombo_redactor *red = client_redactor(c->owner, kombo_call_config(c->call)->api_key, &none);
    const char *url = kombo_call_url(c->call);
    if (red == NULL && !none)
        return luaL_error(L, "out of memory");
    kombo_lua_push_redacted(L, red, url, strlen(url));
    url = lua_tolstring(L, -1, &len);
    from = authority_end(url);
    if (from == 0) {
        lua_pushvalue(L, -1);
    } else {
        size_t to = from + strcspn(url + from, "?#");
        if (to == from)
            lua_pushliteral(L, "/");
        else
            lua_pushlstring(L, url + from, to - from);
    }
    if (!with_headers)
        n = 0, lua_pushnil(L); /* (headers are the costly part: redacted one by one) */
    else
        lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        const char *h = kombo_call_header(c->call, i);
        if (strncasecmp(h, "Authorization:", 14) == 0)
            lua_pushliteral(L, "Authorization: Bearer <redacted>");
        else
            kombo_lua_push_redacted(L, red, h, strlen(h));
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_pushinteger(L, (lua_Integer)kombo_call_body(c->call)->length);
    lua_pushstring(L, kombo_call_operation(c->call)->method);
    return 5;
}

/* call:request_head() -> head, base, length, max_body, timeout,
 * connect_timeout: what the cosocket transport needs before it sends, in
 * one call (call:request() and call:timeouts() together, the head rendered
 * here instead of in Lua from a table of header strings).  head:
 * "<method> <path> HTTP/1.1", "Host: <the URL's authority>", the call's
 * headers, "Content-Length: <n>" (not for a GET without a body),
 * "Connection: keep-alive", each ended by CRLF, then CRLF; base: the URL's
 * "<scheme>://<authority>".  Nothing when the URL is neither http:// nor
 * https:// (the transport reports that itself). */
typedef struct {
    const char *url, *method, *path;
    size_t skip, base_len, method_len, path_len, num_len;
    int with_length;
    char num[24];
} head_plan;

/* The head's parts (0 when the URL is neither http:// nor https://:
 * nothing to render; else 1).  head_write gives its size. */
static int head_plan_of(lcall *c, head_plan *h)
{
    size_t length = kombo_call_body(c->call)->length;
    h->url = kombo_call_url(c->call);
    h->method = kombo_call_operation(c->call)->method;
    h->with_length = length > 0 || strcmp(h->method, "GET") != 0;
    if (strncmp(h->url, "https://", 8) == 0)
        h->skip = 8;
    else if (strncmp(h->url, "http://", 7) == 0)
        h->skip = 7;
    else
        return 0;
    h->base_len = authority_end(h->url);
    h->path = h->url[h->base_len] == '/' ? h->url + h->base_len : "/";
    h->method_len = strlen(h->method);
    h->path_len = strlen(h->path);
    h->num_len = h->with_length ? kombo_format_int(h->num, (long long)length) : 0;
    return 1;
}

/* Writes the head into head, as far as cap bytes hold it, and returns its
 * whole size (larger than cap: not all written, write it again into a
 * buffer of that size).  One pass: the common head fits the caller's
 * buffer, so it is not measured first. */
static size_t head_write(lcall *c, const head_plan *h, char *head, size_t cap)
{
    size_t i, n = kombo_call_header_count(c->call), at = 0;
#define HEAD_PUT(p, len) ((at + (len) <= cap ? (void)memcpy(head + at, (p), (len)) : (void)0), at += (len))
#define HEAD_LIT(s) HEAD_PUT(s, sizeof(s) - 1)
    HEAD_PUT(h->method, h->method_len);
    HEAD_LIT(" ");
    HEAD_PUT(h->path, h->path_len);
    HEAD_LIT(" HTTP/1.1\r\nHost: ");
    HEAD_PUT(h->url + h->skip, h->base_len - h->skip);
    HEAD_LIT("\r\n");
    for (i = 0; i < n; i++) {
        const char *hd = kombo_call_header(c->call, i);
        size_t len = strlen(hd);
        HEAD_PUT(hd, len);
        HEAD_LIT("\r\n");
    }
    if (h->with_length) {
        HEAD_LIT("Content-Length: ");
        HEAD_PUT(h->num, h->num_len);
        HEAD_LIT("\r\n");
    }
    HEAD_LIT("Connection: keep-alive\r\n\r\n");
#undef HEAD_LIT
#undef HEAD_PUT
    return at;
}

static int l_call_request_head(lua_State *L)
{
    lcall *c = check_call(L, 1);
    const kombo_config *cfg = kombo_call_config(c->call);
    head_plan h;
    char local[1024], *head = local;
    size_t size;
    lua_Integer length = (lua_Integer)kombo_call_body(c->call)->length;
    lua_Integer limit = (lua_Integer)kombo_call_response(c->call)->body.limit;
    double timeout = cfg->timeout, connect_timeout = cfg->connect_timeout;
    /* The head's bytes, then the URL's base, into one buffer pushed once
     * (LuaJIT's luaL_Buffer copies byte by byte: it was most of this call).
     * Everything read of the call is read before a push: a push may run a
     * finalizer, and one that closes the call frees what h points into. */
    if (!head_plan_of(c, &h))
        return 0;
    size = head_write(c, &h, local, sizeof local);
    if (size + h.base_len > sizeof local) {
        /* (a larger head in a userdata, which the collector frees even
         * when a push below raises) */
        head = lua_newuserdata(L, size + h.base_len);
        if (c->call == NULL)
            return luaL_error(L, "kombo: the call was closed while its request head was rendered");
        if (head_write(c, &h, head, size) != size)
            return luaL_error(L, "kombo: the request head changed while it was rendered");
    }
    memcpy(head + size, h.url, h.base_len);
    lua_pushlstring(L, head, size);
    lua_pushlstring(L, head + size, h.base_len);
    if (head != local)
        lua_remove(L, -3);
    lua_pushinteger(L, length);
    lua_pushinteger(L, limit);
    lua_pushnumber(L, timeout);
    lua_pushnumber(L, connect_timeout);
    return 6;
}

/* call:read([max [, push [, tell_end]]]) -> the next chunk of the body, up
 * to max bytes (default 64 KiB); nothing at the end; nil, message when the
 * attachment's source failed (the request must be aborted).  With push, a
 * source function is not called from here: false means it must be called
 * (in Lua, where it may yield) and its results handed to call:feed()
 * first.  With tell_end, a chunk that ends the body comes as chunk, nil,
 * true (the read after it would give nothing). */
static int l_call_read(lua_State *L)
{
    lcall *c = check_call(L, 1);
    size_t max = (size_t)kombo_lua_clamp(luaL_optnumber(L, 2, 65536), 1, 16 * 1024 * 1024);
    kombo_body *body = kombo_call_body(c->call);
    size_t n;
    char local[4096], *dst = local; /* a small body's read: no buffer kept (it was a malloc per call) */
    {
        size_t i;
        for (i = 0; i < c->nsources; i++)
            c->sources[i]->push = lua_toboolean(L, 3);
    }
    if (max > sizeof local) {
        if (c->batch_cap < max) { /* grown once to the batch size, reused for every later read */
            char *p = realloc(c->batch, max);
            if (p == NULL)
                return luaL_error(L, "out of memory");
            c->batch = p;
            c->batch_cap = max;
        }
        dst = c->batch;
    }
    n = kombo_body_read(body, dst, max);
    if (n == 0) {
        if (body->want_input) {
            lua_pushboolean(L, 0);
            return 1;
        }
        if (!body->failed)
            return 0;
        lua_pushnil(L);
        lua_pushstring(L, body->error);
        return 2;
    }
    lua_pushlstring(L, dst, n);
    if (lua_toboolean(L, 4) && body_read_out(body)) {
        /* that was the end: the next read would give nothing (the cosocket
         * transport's small body in one read, not two) */
        lua_pushnil(L);
        lua_pushboolean(L, 1);
        return 3;
    }
    return 1;
}

/* call:source() -> the source function the body reads (or waits on) now,
 * or nothing (no file object's content is a source) */
static int l_call_source(lua_State *L)
{
    lsource *s = kombo_lua_source_current(check_call(L, 1));
    if (s == NULL)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->fn_ref);
    return 1;
}

/* call:feed(chunk | nil [, message]): what the source function returned,
 * for a read in push mode: a string, nil at the end, nil and a message on
 * failure.  Checked as a pulled source's results are. */
static int l_call_feed(lua_State *L)
{
    lsource *s = kombo_lua_source_current(check_call(L, 1));
    if (s == NULL)
        return luaL_error(L, "call:feed(): the attachment has no source");
    if (s->chunk_off < s->chunk_len)
        return luaL_error(L, "call:feed(): the last chunk is not used up yet (call:read() first)");
    if (s->fed_end || s->fed_error)
        return luaL_error(L, "call:feed(): the source has ended");
    kombo_lua_source_take(L, s, 2);
    return 0;
}

/* call:integration_id() -> the X-Integration-Id the call sends ("" for an
 * operation without one): decided by the core (kombo_request_resolve), so
 * the Lua layer keys its caches and limits by it rather than deciding again */
static int l_call_integration_id(lua_State *L)
{
    lcall *c = check_call(L, 1);
    lua_pushstring(L, kombo_call_integration_id(c->call));
    return 1;
}

/* call:operation() -> the name of its operation ("create_application") */
static int l_call_operation(lua_State *L)
{
    lua_pushstring(L, kombo_call_operation(check_call(L, 1)->call)->name);
    return 1;
}

/* call:files() -> { { path =, type =, content_type =, size = }, ... }: the
 * body's file objects, defaults applied, in the order they are written
 * (type and content_type nil when absent, size nil for data_url): what
 * preflight checks; the call must have been prepared with list_files */
static int l_call_files(lua_State *L)
{
    size_t n, i;
    const kombo_call_file *files = kombo_call_files(check_call(L, 1)->call, &n);
    if (files == NULL)
        return luaL_error(L, "call:files(): the call was prepared without listing its files");
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        const kombo_file_facts *f = &files[i].facts;
        lua_createtable(L, 0, 4);
        lua_pushstring(L, files[i].path);
        lua_setfield(L, -2, "path");
        if (f->type.ptr != NULL) {
            lua_pushlstring(L, f->type.ptr, f->type.len);
            lua_setfield(L, -2, "type");
        }
        if (f->content_type.ptr != NULL) {
            lua_pushlstring(L, f->content_type.ptr, f->content_type.len);
            lua_setfield(L, -2, "content_type");
        }
        if (f->has_size) {
            lua_pushnumber(L, (lua_Number)f->size);
            lua_setfield(L, -2, "size");
        }
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* call:sent() -> body bytes handed to the transport in this attempt, the
 * body's length */
static int l_call_sent(lua_State *L)
{
    kombo_body *body = kombo_call_body(check_call(L, 1)->call);
    lua_pushinteger(L, (lua_Integer)body->sent);
    lua_pushinteger(L, (lua_Integer)body->length);
    return 2;
}

/* call:digest() -> the SHA-256 (hex) of the attachment's raw content as
 * the last attempt read it out, when it was read to its end and the body
 * did not fail; nil otherwise (data, data_url, a body cut short, no
 * attempt yet, or no on_written hook: only then is the content hashed) */
static int l_call_digest(lua_State *L)
{
    char hex[KOMBO_SHA256_HEX];
    if (!kombo_body_digest(kombo_call_body(check_call(L, 1)->call), hex))
        return 0;
    lua_pushlstring(L, hex, KOMBO_SHA256_HEX - 1);
    return 1;
}

/* The before_last hook: runs the on_written function on the thread now
 * driving the call (c->L, set by every entry point).  It gets the bytes
 * sent so far and the body's length (sent < length) and must return true
 * for the last bytes to go; false/nil [, message] or an error stops them,
 * and the attempt is aborted.  It runs under lua_pcall from inside the
 * transport, so it cannot yield (a yield is an error, so it stops too). */
static int lbefore_last(void *ud)
{
    lcall *c = ud;
    lua_State *L = c->L;
    kombo_body *body = kombo_call_body(c->call);
    int top = lua_gettop(L), rc = 0;
    const char *msg;

    if (!lua_checkstack(L, 4)) {
        snprintf(body->error, sizeof body->error, "on_written: no room on the Lua stack");
        body->failed = 1;
        return -1;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->written_ref);
    lua_pushinteger(L, (lua_Integer)body->sent);
    lua_pushinteger(L, (lua_Integer)body->length);
    c->in_written = 1;
    if (lua_pcall(L, 2, 2, 0) != 0) {
        msg = lua_tostring(L, -1);
        snprintf(body->error, sizeof body->error, "on_written raised: %s", msg ? msg : "(not a string)");
        rc = -1;
    } else if (!lua_toboolean(L, -2)) {
        msg = lua_tostring(L, -1);
        snprintf(body->error, sizeof body->error, "on_written refused: %s",
                 msg ? msg : "it returned no true value");
        rc = -1;
    }
    c->in_written = 0;
    if (rc != 0)
        body->failed = 1;
    lua_settop(L, top);
    return rc;
}

/* call:on_written(fn | nil): fn(sent, length) runs once per attempt just
 * before the bytes that complete the body are handed to the transport
 * (libcurl, the multi engine, call:read/call:body); it must return true
 * for them to go.  Not for a GET or an empty body.  fn must not yield. */
static int l_call_on_written(lua_State *L)
{
    lcall *c = check_call(L, 1);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_unref(L, LUA_REGISTRYINDEX, c->written_ref);
    c->written_ref = LUA_NOREF;
    if (lua_isnoneornil(L, 2)) {
        kombo_call_set_before_last(c->call, NULL, NULL);
        return 0;
    }
    lua_pushvalue(L, 2);
    c->written_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    kombo_call_set_before_last(c->call, lbefore_last, c);
    return 0;
}

static void push_limit(lua_State *L, const kombo_limits *l, kombo_limit_field f)
{
    if (l->value[f] >= 0)
        lua_pushinteger(L, (lua_Integer)l->value[f]);
    else
        lua_pushnil(L);
}

/* What call:limits() returns, pushed (6 values; none when no attempt was
 * made: returns 0). */
static int push_limits(lua_State *L, lcall *c)
{
    const kombo_result *res = kombo_call_result(c->call);
    const kombo_response *r = kombo_call_response(c->call);
    kombo_limits lim;
    if (res->attempts == 0)
        return 0;
    kombo_parse_limits(r->headers.data, r->headers.len, &lim);
    lua_pushinteger(L, res->status);
    if (res->cls.has_code)
        lua_pushstring(L, res->cls.code);
    else
        lua_pushnil(L);
    push_limit(L, &lim, KOMBO_LIMIT_CONCURRENCY);
    push_limit(L, &lim, KOMBO_LIMIT_CONCURRENCY_REMAINING);
    if (res->cls.retry_after >= 0)
        lua_pushnumber(L, res->cls.retry_after);
    else
        lua_pushnil(L);
    push_limit(L, &lim, KOMBO_LIMIT_RATE_RESET);
    return 6;
}

/* call:limits() -> status, code, concurrency_limit, concurrency_remaining,
 * retry_after, rate_reset: what a scheduler needs from the last attempt's
 * answer, without building the result (nil where absent; the limits by
 * kombo_parse_limits, as core.limits reads them for res.http.limits) */
static int l_call_limits(lua_State *L)
{
    return push_limits(L, check_call(L, 1));
}

/* call:after(now[, index]) -> step, delay, status, code, concurrency_limit,
 * concurrency_remaining, retry_after, rate_reset[, res, dressed]:
 * call:next(now) (delay nil unless step is "sleep") and call:limits() in
 * one step, for a scheduler at the end of each attempt (the limits read
 * first, as they were before the call decided).  With index (a function),
 * when the step is "done": also call:result(index, true) after the eight
 * (the limits padded with nils), so the call is closed then: the batch's
 * job that ends in one step. */
static int l_call_after(lua_State *L)
{
    lcall *c = check_call(L, 1);
    double now = luaL_checknumber(L, 2), delay = 0;
    int n, index = lua_isfunction(L, 3) ? 3 : 0, done = 0;
    lua_settop(L, 5); /* 4: step, 5: delay */
    n = push_limits(L, c);
    switch (kombo_call_next(c->call, now, &delay)) {
    case KOMBO_STEP_SEND:
        lua_pushliteral(L, "send");
        break;
    case KOMBO_STEP_SLEEP:
        lua_pushliteral(L, "sleep");
        lua_pushnumber(L, delay);
        lua_replace(L, 5);
        break;
    default:
        lua_pushliteral(L, "done");
        done = 1;
        break;
    }
    lua_replace(L, 4);
    if (!done || index == 0)
        return 2 + n;
    lua_settop(L, 5 + 6); /* (no attempt: no limits) */
    n = push_result(L, c, kombo_call_result(c->call), index);
    while (lua_gettop(L) - n > 5 + 6) /* (a dressed one leaves its metatable below) */
        lua_remove(L, 5 + 6 + 1);
    if (n == 1)
        lua_pushnil(L); /* (not dressed) */
    close_call(L, c);
    return 2 + 6 + 2;
}

/* call:rewind() -> true | nil, message (a one-shot source cannot rewind) */
static int l_call_rewind(lua_State *L)
{
    lcall *c = check_call(L, 1);
    kombo_body *body = kombo_call_body(c->call);
    if (kombo_body_rewind(body) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, body->error);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* call:body() -> the whole body (tests and small requests) */
static int l_call_body(lua_State *L)
{
    lcall *c = check_call(L, 1);
    kombo_body *body = kombo_call_body(c->call);
    luaL_Buffer b;
    size_t n;
    kombo_body_rewind(body);
    luaL_buffinit(L, &b);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): Lua's LUAL_BUFFERSIZE */
    while ((n = kombo_body_read(body, luaL_prepbuffer(&b), LUAL_BUFFERSIZE)) > 0)
        luaL_addsize(&b, n);
    luaL_pushresult(&b);
    if (body->failed) { /* never a short body as if it were whole */
        lua_pushnil(L);
        lua_pushstring(L, body->error);
        return 2;
    }
    kombo_body_rewind(body);
    return 1;
}

static const char *const transport_errors[] = {"", "network", "timeout", "too_large", "aborted", "resources", "headers", NULL};
static const char *const phases[] = {"connect", "sending", "waiting", "receiving", "done", NULL};

/* call:complete{status=, headers=, body=, error=, phase=, message=}, now, wall_now */
static void report_attempt(lcall *c, kombo_phase phase, double status, const char *headers, size_t nh,
                           const char *body, size_t nb, int error, const char *message, double now,
                           double wall, const double *timing);

static int l_call_complete(lua_State *L)
{
    lcall *c = check_call(L, 1);
    size_t nh = 0, nb = 0;
    const char *headers, *body, *message;
    double status, timing[4], now, wall;
    int error = KOMBO_TE_NONE, have_timing = 0;
    kombo_phase phase;
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 4); /* the fields from 5 on, where they stay while the core copies them */
    lua_getfield(L, 2, "status");
    status = luaL_optnumber(L, -1, 0);
    lua_getfield(L, 2, "headers");
    headers = lua_tolstring(L, -1, &nh);
    lua_getfield(L, 2, "body");
    body = lua_tolstring(L, -1, &nb);
    lua_getfield(L, 2, "error");
    if (!lua_isnil(L, -1))
        error = luaL_checkoption(L, -1, NULL, transport_errors);
    lua_getfield(L, 2, "phase");
    phase = (kombo_phase)luaL_checkoption(L, -1, "done", phases);
    lua_getfield(L, 2, "message");
    message = luaL_optstring(L, -1, "");
    lua_getfield(L, 2, "timing"); /* the cosocket transport's figures (call:measure()) */
    if (lua_istable(L, -1)) {
        static const char *const fields[4] = {"connect", "first_byte", "total", "bytes_sent"};
        int i;
        for (i = 0; i < 4; i++) {
            lua_getfield(L, -1 - i, fields[i]);
            timing[i] = lua_tonumber(L, -1);
        }
        have_timing = 1;
    }
    now = luaL_checknumber(L, 3);
    wall = luaL_checknumber(L, 4);
    report_attempt(c, phase, status, headers, nh, body, nb, error, message, now, wall, have_timing ? timing : NULL);
    return 0;
}

/* An option of `list` at arg i, as luaL_checkoption(L, i, def, list) finds it
 * (the same values and error), its candidate chosen by the first byte: the
 * cosocket transport reports an attempt's phase and error per call. */
static int check_option_at(lua_State *L, int i, const char *def, const char *const list[])
{
    size_t n, k;
    const char *s = def != NULL && lua_isnoneornil(L, i) ? def : luaL_checklstring(L, i, &n);
    for (k = 0; list[k] != NULL; k++)
        if (list[k][0] == s[0] && strcmp(list[k], s) == 0)
            return (int)k;
    return luaL_argerror(L, i, lua_pushfstring(L, "invalid option '%s'", s));
}

/* An attempt's end as the cosocket transport reports it (call:report and
 * its FFI twin): call:complete's fields and rules, the values given as
 * they are.  `timing`: connect, first_byte, total, bytes_sent, or NULL. */
static void report_attempt(lcall *c, kombo_phase phase, double status, const char *headers, size_t nh,
                           const char *body, size_t nb, int error, const char *message, double now,
                           double wall, const double *timing)
{
    kombo_response *r = kombo_call_response(c->call);
    kombo_response_reset(r);
    r->phase = phase;
    r->status = (int)kombo_lua_clamp(status, 0, 1e6); /* > 999: "invalid HTTP status" */
    if (headers != NULL)
        kombo_buf_append(&r->headers, headers, nh);
    if (body != NULL && kombo_buf_append(&r->body, body, nb) != 0)
        r->error = KOMBO_TE_TOO_LARGE;
    if (error != KOMBO_TE_NONE)
        r->error = (kombo_transport_error)error;
    kombo_copy_text(r->error_message, sizeof r->error_message, message != NULL ? message : "");
    if (r->error == KOMBO_TE_TOO_LARGE && r->error_message[0] == '\0')
        snprintf(r->error_message, sizeof r->error_message, "response body larger than %zu bytes",
                 r->body.limit);
    if (r->want_timing && timing != NULL) { /* the cosocket transport's figures (call:measure()) */
        r->timing.connect = timing[0];
        r->timing.first_byte = timing[1];
        r->timing.total = timing[2];
        r->timing.bytes_sent = timing[3];
    }
    kombo_call_complete(c->call, r, now, wall);
}

/* call:report(phase, status, headers, body, error, message, now, wall_now,
 * step [, connect, first_byte, total, bytes_sent]): call:complete's report
 * (the same fields, the same rules) with its values as arguments, for the
 * cosocket transport: no response table to read field by field.  With
 * `step` true it then returns what call:next(now) returns, in the same
 * crossing (the transport's loop asks it right after).  The timing
 * figures are read when call:measure() was called. */
static int l_call_report(lua_State *L)
{
    lcall *c = check_call(L, 1);
    double now = luaL_checknumber(L, 8), wall = luaL_checknumber(L, 9), delay, timing[4];
    size_t nh = 0, nb = 0;
    kombo_phase phase = (kombo_phase)check_option_at(L, 2, "done", phases);
    double status = luaL_optnumber(L, 3, 0);
    const char *headers = lua_tolstring(L, 4, &nh), *body = lua_tolstring(L, 5, &nb);
    int error = lua_isnoneornil(L, 6) ? KOMBO_TE_NONE : check_option_at(L, 6, NULL, transport_errors);
    const char *message = luaL_optstring(L, 7, "");
    int i;
    for (i = 0; i < 4; i++)
        timing[i] = lua_tonumber(L, 11 + i);
    report_attempt(c, phase, status, headers, nh, body, nb, error, message, now, wall, timing);
    if (!lua_toboolean(L, 10))
        return 0;
    return kombo_lua_push_step(L, kombo_call_next(c->call, now, &delay), delay);
}

/* The same two steps for the cosocket transport through LuaJIT's FFI
 * (kombo/cosocket.lua): a classic C function is a trace exit for LuaJIT,
 * an FFI call is compiled into the trace.  Neither calls back into Lua or
 * touches a lua_State.  `c`: the call's userdata (the transport checks its
 * metatable: these come from a field of it).  They return the step
 * (KOMBO_STEP_*, *delay set for a sleep), or -1 when the call is closed or
 * a code is out of range (the transport then makes the classic call, which
 * raises as it always did). */
static int ffi_report(lcall *c, int phase, double status, const char *headers, size_t nh, const char *body,
                      size_t nb, int error, const char *message, double now, double wall, const double *timing,
                      double *delay)
{
    if (c == NULL || c->call == NULL || phase < KOMBO_PHASE_CONNECT || phase > KOMBO_PHASE_DONE ||
        error < KOMBO_TE_NONE || error > KOMBO_TE_HEADERS)
        return -1;
    report_attempt(c, (kombo_phase)phase, status, headers, nh, body, nb, error, message, now, wall, timing);
    *delay = 0;
    return (int)kombo_call_next(c->call, now, delay);
}

static int ffi_next(lcall *c, double now, double *delay)
{
    if (c == NULL || c->call == NULL)
        return -1;
    *delay = 0;
    return (int)kombo_call_next(c->call, now, delay);
}

/* call:request_head() for the FFI: the head then the base written into
 * buf (cap bytes); returns the head's length, with out[0] the base's
 * length, out[1] the body's, out[2] max_body, out[3] timeout, out[4]
 * connect_timeout (the numbers call:request_head gives); 0 for a URL
 * neither http:// nor https://; -1 when the call is closed or buf is too
 * small (the transport then makes the classic call). */
static int ffi_request_head(lcall *c, char *buf, size_t cap, double *out)
{
    const kombo_config *cfg;
    head_plan h;
    size_t size;
    if (c == NULL || c->call == NULL)
        return -1;
    if (!head_plan_of(c, &h))
        return 0;
    if (h.base_len > cap)
        return -1;
    size = head_write(c, &h, buf, cap - h.base_len);
    if (size + h.base_len > cap)
        return -1;
    memcpy(buf + size, h.url, h.base_len);
    cfg = kombo_call_config(c->call);
    out[0] = (double)h.base_len;
    out[1] = (double)(lua_Integer)kombo_call_body(c->call)->length;
    out[2] = (double)(lua_Integer)kombo_call_response(c->call)->body.limit;
    out[3] = cfg->timeout;
    out[4] = cfg->connect_timeout;
    return (int)size;
}

/* call:read(max, true, true) for the FFI, when nothing in the body can call
 * Lua (no source function, no on_progress, no on_written hook: LuaJIT's FFI
 * must not be re-entered): up to max bytes into buf; returns how many, with
 * *last set when they end the body; 0 at the end; -1 when the classic call
 * must be made instead (the call closed, a callback possible, a source
 * that failed or waits: call:read says which). */
static int ffi_read(lcall *c, char *buf, size_t max, int *last)
{
    kombo_body *body;
    size_t n;
    if (c == NULL || c->call == NULL || c->nsources > 0)
        return -1;
    body = kombo_call_body(c->call);
    if (body->on_progress != NULL || body->before_last != NULL || body->failed)
        return -1;
    n = kombo_body_read(body, buf, max);
    if (n == 0)
        return body->want_input || body->failed ? -1 : 0;
    *last = body_read_out(body);
    return (int)n;
}

/* What the transport casts the metatable's `cosocket_ffi` (a light
 * userdata) to; kombo/cosocket.lua declares the same struct. */
static const struct {
    int (*report)(lcall *, int, double, const char *, size_t, const char *, size_t, int, const char *, double,
                  double, const double *, double *);
    int (*next)(lcall *, double, double *);
    int (*request_head)(lcall *, char *, size_t, double *);
    int (*read)(lcall *, char *, size_t, int *);
} cosocket_ffi = {ffi_report, ffi_next, ffi_request_head, ffi_read};

/* call:set_headers(headers) -> true | nil, message: the call's own headers
 * for the next attempts ({ ["Name"] = "value" }, replacing those set
 * before; a before_request hook's), by the rules of kombo_call_set_headers */
static int l_call_set_headers(lua_State *L)
{
    lcall *c = check_call(L, 1);
    kombo_problems p;
    luaL_checktype(L, 2, LUA_TTABLE);
    kombo_problems_init(&p);
    if (kombo_lua_set_headers(L, 2, c->call, "headers", &p) != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s", p.count > 0 ? p.items[0].message : "cannot be set");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* call:attempt_info() -> kind, outcome, status, code of the last attempt
 * (what a hook is told; nil where absent; the outcome nil on success) */
static int l_call_attempt_info(lua_State *L)
{
    const kombo_result *res = kombo_call_result(check_call(L, 1)->call);
    lua_pushstring(L, kombo_kind_name(res->cls.kind));
    if (res->cls.kind != KOMBO_OK)
        lua_pushstring(L, kombo_outcome_name(res->cls.outcome));
    else
        lua_pushnil(L);
    if (res->status > 0)
        lua_pushinteger(L, res->status);
    else
        lua_pushnil(L);
    if (res->cls.has_code)
        lua_pushstring(L, res->cls.code);
    else
        lua_pushnil(L);
    return 4;
}

/* call:timeouts() -> timeout, connect_timeout: the call's (its own, else
 * its client's), for a transport driven from Lua */
static int l_call_timeouts(lua_State *L)
{
    const kombo_config *cfg = kombo_call_config(check_call(L, 1)->call);
    lua_pushnumber(L, cfg->timeout);
    lua_pushnumber(L, cfg->connect_timeout);
    return 2;
}

/* call:measure(): the transports measure the attempts from now on (for
 * hooks; call:timing() reads the figures) */
static int l_call_measure(lua_State *L)
{
    kombo_call_response(check_call(L, 1)->call)->want_timing = 1;
    return 0;
}

/* call:timing() -> connect, first_byte, total, bytes_sent of the last
 * attempt (seconds from its start; bytes of the request handed to the
 * connection), as the transport measured them after call:measure() */
static int l_call_timing(lua_State *L)
{
    const kombo_response *r = kombo_call_response(check_call(L, 1)->call);
    lua_pushnumber(L, r->timing.connect);
    lua_pushnumber(L, r->timing.first_byte);
    lua_pushnumber(L, r->timing.total);
    lua_pushnumber(L, r->timing.bytes_sent);
    return 4;
}

/* call:result([index[, close]]) -> result table; with index (a function),
 * as call:perform(index): a success's res, true.  With close, the call is
 * closed once its result is built (a batch's job: one step, not two). */
static int l_call_result(lua_State *L)
{
    lcall *c = check_call(L, 1);
    int n = push_result(L, c, kombo_call_result(c->call), lua_isfunction(L, 2) ? 2 : 0);
    if (lua_toboolean(L, 3))
        close_call(L, c);
    return n;
}

void kombo_lua_open_call(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"perform", l_call_perform}, {"attempt", l_call_attempt}, {"next", l_call_next},
        {"request", l_call_request}, {"view", l_call_view}, {"request_head", l_call_request_head},
        {"read", l_call_read},       {"rewind", l_call_rewind},
        {"source", l_call_source},   {"feed", l_call_feed},
        {"integration_id", l_call_integration_id}, {"operation", l_call_operation},
        {"body", l_call_body},       {"files", l_call_files},
        {"sent", l_call_sent},       {"digest", l_call_digest},
        {"set_headers", l_call_set_headers}, {"measure", l_call_measure}, {"timing", l_call_timing},
        {"attempt_info", l_call_attempt_info}, {"timeouts", l_call_timeouts},  {"on_written", l_call_on_written},       {"limits", l_call_limits}, {"after", l_call_after},       {"complete", l_call_complete}, {"report", l_call_report}, {"result", l_call_result},
        {"close", l_call_gc},        {"__gc", l_call_gc},         {"__close", l_call_gc},
        {"__tostring", l_call_tostring}, {NULL, NULL}};
    luaL_newmetatable(L, CALL_MT);
    lua_pushlightuserdata(L, (void *)&call_mt_key);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX); /* (push_call_mt) */
    lua_pushvalue(L, -1);                  /* upvalue 1: the call metatable (to_call) */
    luaL_newmetatable(L, HEADER_BLOCK_MT); /* upvalue 2: the results' shared state (push_result) */
    lua_pushliteral(L, "kombo.header_block");
    lua_setfield(L, -2, "__metatable");
    new_weak(L, "k");
    lua_rawseti(L, -2, STORE_SLOT);
    new_weak(L, "kv");
    lua_rawseti(L, -2, SHARED_MT_SLOT);
    lua_pushliteral(L, "kombo.null");
    lua_rawseti(L, -2, NAMES_SLOT);
    lua_pushliteral(L, "kombo.array_mt");
    lua_rawseti(L, -2, NAMES_SLOT + 1);
    kombo_lua_push_string_cache(L);
    lua_rawseti(L, -2, NAMES_SLOT + 2);
    luaL_setfuncs(L, methods, 2);
    lua_pushlightuserdata(L, (void *)&cosocket_ffi); /* (a data pointer: ISO C casts no function pointer to void *) */
    lua_setfield(L, -2, "cosocket_ffi");
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

/* core.header_block_read, core.success_store and core.success_metatable,
 * on the module table at the top of the stack. */
void kombo_lua_open_header_block(lua_State *L)
{
    lua_pushcfunction(L, l_header_block_read);
    lua_setfield(L, -2, "header_block_read");
    luaL_getmetatable(L, HEADER_BLOCK_MT);
    lua_rawgeti(L, -1, STORE_SLOT);
    lua_setfield(L, -3, "success_store");
    lua_pushcclosure(L, l_success_metatable, 1);
    lua_setfield(L, -2, "success_metatable");
}

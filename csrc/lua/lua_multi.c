/*
 * lua_multi.c - core.multi(): many calls' attempts at once over one
 * libcurl multi handle (csrc/curl/multi.c), for attach_many outside nginx
 * (lua/kombo/bulk.lua decides what to send and when).
 *
 *   local m = core.multi()
 *   m:add(call[, value])     -- one attempt of a call whose call:next() said "send";
 *                            -- m:run() gives back `value` (default: the call) when it ends
 *   for _, job in ipairs(m:run(0.1)) do ... job.call:next(now) ... end
 *   m:abort(call)            -- cut an attempt off (reported to the call as aborted)
 *   m:running(), m:close()
 *
 * The calls in flight and their values are kept alive by registry
 * references held in a C array (at most a few dozen entries): no Lua
 * table keyed by call, whose keys would churn with every attempt (a hash
 * that is rebuilt every few inserts, issue 24).
 */
#include "lua/lua_kombo.h"

#include <stdlib.h>
#include <string.h>

#define MULTI_MT "kombo.multi"
#define MAX_DONE 64 /* attempts reported per m:run() */

typedef struct inflight {
    lcall *c;
    int call_ref;  /* the call userdata */
    int value_ref; /* what m:run() gives back (LUA_NOREF: the call) */
} inflight;

typedef struct lmulti {
    kombo_multi *multi;
    inflight *inflight;
    size_t n, cap;
    int in_run; /* m:run() is on the stack (a callback must not re-enter it) */
} lmulti;

static lmulti *check_multi(lua_State *L, int i)
{
    lmulti *m = luaL_checkudata(L, i, MULTI_MT);
    if (m->multi == NULL)
        luaL_argerror(L, i, "multi is closed");
    return m;
}

static int l_multi_new(lua_State *L)
{
    lmulti *m = lua_newuserdata(L, sizeof *m);
    memset(m, 0, sizeof *m);
    luaL_getmetatable(L, MULTI_MT);
    lua_setmetatable(L, -2);
    if ((m->multi = kombo_multi_new()) == NULL)
        return luaL_error(L, "cannot initialise libcurl");
    return 1;
}

/* The entry of the in-flight array for c, or NULL. */
static inflight *find(lmulti *m, const lcall *c)
{
    size_t i;
    for (i = 0; i < m->n; i++)
        if (m->inflight[i].c == c)
            return &m->inflight[i];
    return NULL;
}

/* Drops an entry (its references; the last entry takes its place). */
static void drop(lua_State *L, lmulti *m, inflight *e)
{
    e->c->in_multi = 0;
    luaL_unref(L, LUA_REGISTRYINDEX, e->call_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, e->value_ref);
    *e = m->inflight[--m->n];
}

/* m:add(call[, value]) -> true | nil, message */
static int l_multi_add(lua_State *L)
{
    lmulti *m = check_multi(L, 1);
    lcall *c = luaL_checkudata(L, 2, CALL_MT);
    inflight *e;
    if (c->call == NULL)
        return luaL_argerror(L, 2, "call is closed");
    if (c->owner->client == NULL || c->owner->close_pending)
        return luaL_error(L, "kombo client is closed");
    if (c->in_multi)
        return luaL_argerror(L, 2, "call has an attempt in flight already");
    if (m->n == m->cap) { /* room first: once the attempt has begun, nothing may fail */
        size_t cap = m->cap * 2 + 16;
        inflight *grown = realloc(m->inflight, cap * sizeof *grown);
        if (grown == NULL)
            return luaL_error(L, "out of memory");
        m->inflight = grown;
        m->cap = cap;
    }
    lua_settop(L, 3);
    c->L = L;
    if (kombo_multi_add(m->multi, c->call, c) != 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "out of memory (or the call has an attempt in flight already)");
        return 2;
    }
    e = &m->inflight[m->n++];
    e->c = c;
    e->value_ref = lua_isnil(L, 3) ? (lua_pop(L, 1), LUA_NOREF) : luaL_ref(L, LUA_REGISTRYINDEX);
    e->call_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* (the call, now at the top) */
    c->in_multi = 1;
    lua_pushboolean(L, 1);
    return 1;
}

/* m:run(timeout) -> { value, ... } of the attempts that ended (possibly
 * empty), after at most `timeout` seconds. */
static int l_multi_run(lua_State *L)
{
    lmulti *m = check_multi(L, 1);
    double timeout = kombo_lua_clamp(luaL_optnumber(L, 2, 0), 0, 1e6);
    void *done[MAX_DONE];
    size_t n, i;

    if (m->in_run)
        return luaL_error(L, "kombo multi: run() called from one of its own callbacks");
    /* Callbacks (source, on_progress) run on the thread that runs the multi. */
    for (i = 0; i < m->n; i++)
        m->inflight[i].c->L = L;
    m->in_run = 1;
    n = kombo_multi_run(m->multi, timeout, done, MAX_DONE);
    m->in_run = 0;
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        inflight *e = find(m, done[i]);
        if (e == NULL) /* (cannot happen: every tag is an entry's call) */
            continue;
        lua_rawgeti(L, LUA_REGISTRYINDEX, e->value_ref != LUA_NOREF ? e->value_ref : e->call_ref);
        lua_rawseti(L, -2, (int)i + 1);
        drop(L, m, e);
    }
    return 1;
}

/* m:abort(call) -> true | false (no attempt of it here).  The attempt is
 * reported to the call as aborted: call:next() then says "done". */
static int l_multi_abort(lua_State *L)
{
    lmulti *m = check_multi(L, 1);
    lcall *c = luaL_checkudata(L, 2, CALL_MT);
    void *tag = NULL;
    inflight *e;
    if (m->in_run)
        return luaL_error(L, "kombo multi: abort() called from one of its own callbacks");
    if (c->call == NULL || kombo_multi_abort(m->multi, c->call, "cut off: the batch was aborted", &tag) != 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if ((e = find(m, tag)) != NULL)
        drop(L, m, e);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_multi_running(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)kombo_multi_running(check_multi(L, 1)->multi));
    return 1;
}

static int l_multi_gc(lua_State *L)
{
    lmulti *m = luaL_checkudata(L, 1, MULTI_MT);
    if (m->in_run)
        return luaL_error(L, "kombo multi: close() called from one of its own callbacks");
    if (m->multi == NULL)
        return 0;
    kombo_multi_free(m->multi); /* the attempts still in flight are cut off, unreported */
    m->multi = NULL;
    while (m->n > 0)
        drop(L, m, &m->inflight[m->n - 1]);
    free(m->inflight);
    m->inflight = NULL;
    m->cap = 0;
    return 0;
}

void kombo_lua_open_multi(lua_State *L)
{
    static const luaL_Reg methods[] = {{"add", l_multi_add},         {"run", l_multi_run},
                                       {"abort", l_multi_abort},     {"running", l_multi_running},
                                       {"close", l_multi_gc},        {"__gc", l_multi_gc},
                                       {"__close", l_multi_gc},      {NULL, NULL}};
    luaL_newmetatable(L, MULTI_MT);
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_multi_new);
    lua_setfield(L, -2, "multi");
}

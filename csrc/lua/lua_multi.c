/*
 * lua_multi.c - core.multi(): many calls' attempts at once over one
 * libcurl multi handle (csrc/curl/multi.c), for attach_many outside nginx
 * (lua/kombo/bulk.lua decides what to send and when).
 *
 *   local m = core.multi()
 *   m:add(call)              -- one attempt of a call whose call:next() said "send"
 *   for _, call in ipairs(m:run(0.1)) do ... call:next(now) ... end
 *   m:abort(call)            -- cut an attempt off (reported to the call as aborted)
 *   m:running(), m:close()
 *
 * The calls in flight are kept alive by a table in the multi's registry
 * slot, keyed by their lcall pointer.
 */
#include "lua/lua_kombo.h"

#include <string.h>

#define MULTI_MT "kombo.multi"
#define MAX_DONE 64 /* attempts reported per m:run() */

typedef struct lmulti {
    kombo_multi *multi;
    int inflight_ref; /* { [lightuserdata lcall] = call userdata } */
    int in_run;       /* m:run() is on the stack (a callback must not re-enter it) */
} lmulti;

static lmulti *check_multi(lua_State *L, int i)
{
    lmulti *m = luaL_checkudata(L, i, MULTI_MT);
    if (m->multi == NULL)
        luaL_argerror(L, i, "multi is closed");
    return m;
}

static void push_inflight(lua_State *L, lmulti *m)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, m->inflight_ref);
}

static int l_multi_new(lua_State *L)
{
    lmulti *m = lua_newuserdata(L, sizeof *m);
    memset(m, 0, sizeof *m);
    m->inflight_ref = LUA_NOREF;
    luaL_getmetatable(L, MULTI_MT);
    lua_setmetatable(L, -2);
    if ((m->multi = kombo_multi_new()) == NULL)
        return luaL_error(L, "cannot initialise libcurl");
    lua_newtable(L);
    m->inflight_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
}

/* m:add(call) -> true | nil, message */
static int l_multi_add(lua_State *L)
{
    lmulti *m = check_multi(L, 1);
    lcall *c = luaL_checkudata(L, 2, CALL_MT);
    if (c->call == NULL)
        return luaL_argerror(L, 2, "call is closed");
    if (c->owner->client == NULL || c->owner->close_pending)
        return luaL_error(L, "kombo client is closed");
    if (c->in_multi)
        return luaL_argerror(L, 2, "call has an attempt in flight already");
    c->L = L;
    if (kombo_multi_add(m->multi, c->call, c) != 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "out of memory (or the call has an attempt in flight already)");
        return 2;
    }
    push_inflight(L, m);
    lua_pushlightuserdata(L, c);
    lua_pushvalue(L, 2);
    lua_rawset(L, -3);
    c->in_multi = 1;
    lua_pushboolean(L, 1);
    return 1;
}

/* Moves the call whose attempt ended (tag = its lcall) from the in-flight
 * table to the array at -2 (the inflight table is at -1). */
static void take_done(lua_State *L, void *tag, int n)
{
    ((lcall *)tag)->in_multi = 0;
    lua_pushlightuserdata(L, tag);
    lua_rawget(L, -2);
    lua_rawseti(L, -3, n);
    lua_pushlightuserdata(L, tag);
    lua_pushnil(L);
    lua_rawset(L, -3);
}

/* m:run(timeout) -> { call, ... } whose attempt ended (possibly empty),
 * after at most `timeout` seconds. */
static int l_multi_run(lua_State *L)
{
    lmulti *m = check_multi(L, 1);
    double timeout = kombo_lua_clamp(luaL_optnumber(L, 2, 0), 0, 1e6);
    void *done[MAX_DONE];
    size_t n, i;

    if (m->in_run)
        return luaL_error(L, "kombo multi: run() called from one of its own callbacks");
    /* Callbacks (source, on_progress) run on the thread that runs the multi. */
    push_inflight(L, m);
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        ((lcall *)lua_touserdata(L, -2))->L = L;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    m->in_run = 1;
    n = kombo_multi_run(m->multi, timeout, done, MAX_DONE);
    m->in_run = 0;
    lua_createtable(L, (int)n, 0);
    push_inflight(L, m);
    for (i = 0; i < n; i++)
        take_done(L, done[i], (int)i + 1);
    lua_pop(L, 1);
    return 1;
}

/* m:abort(call) -> true | false (no attempt of it here).  The attempt is
 * reported to the call as aborted: call:next() then says "done". */
static int l_multi_abort(lua_State *L)
{
    lmulti *m = check_multi(L, 1);
    lcall *c = luaL_checkudata(L, 2, CALL_MT);
    void *tag = NULL;
    if (m->in_run)
        return luaL_error(L, "kombo multi: abort() called from one of its own callbacks");
    if (c->call == NULL || kombo_multi_abort(m->multi, c->call, "cut off: the batch was aborted", &tag) != 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    c->in_multi = 0;
    push_inflight(L, m);
    lua_pushlightuserdata(L, tag);
    lua_pushnil(L);
    lua_rawset(L, -3);
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
    push_inflight(L, m);
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) { /* their attempts are cut off, unreported */
        ((lcall *)lua_touserdata(L, -2))->in_multi = 0;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    kombo_multi_free(m->multi);
    m->multi = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, m->inflight_ref);
    m->inflight_ref = LUA_NOREF;
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

/*
 * lua_multi.c - core.multi(): many calls' attempts at once over one
 * libcurl multi handle (csrc/curl/multi.c), for attach_many outside nginx
 * (lua/kombo/bulk.lua decides what to send and when).
 *
 *   local m = core.multi()
 *   m:add(call[, value])     -- one attempt of a call whose call:next() said "send";
 *                            -- m:run() gives back `value` (default: the call) when it ends
 *   for _, job in ipairs(m:run(0.1)) do ... job.call:next(now) ... end
 *                            -- (m:run's second value: the time it returned at;
 *                            -- its third, how many the list holds)
 *   m:abort(call)            -- cut an attempt off (reported to the call as aborted)
 *   m:running(), m:close()
 *
 * The calls in flight and their values are kept alive in a Lua table of
 * the multi's, at the index of their slot in a C array (at most a few
 * dozen entries): no Lua table keyed by call, whose keys would churn with
 * every attempt (a hash that is rebuilt every few inserts, issue 24), and
 * no registry reference made and dropped per attempt.  m:run() gives its
 * list back in one table of the multi's, refilled at every m:run() (read
 * it before the next one).
 */
#include "lua/lua_kombo.h"

#include <stdlib.h>
#include <string.h>

#define MULTI_MT "kombo.multi"
#define MAX_DONE 64 /* attempts reported per m:run() */

/* Slot i (from 0) of the in-flight array keeps its call at index 2i+1 of
 * the multi's table and what m:run() gives back at 2i+2. */
typedef struct inflight {
    lcall *c; /* NULL: a free slot */
} inflight;

typedef struct lmulti {
    kombo_multi *multi;
    inflight *inflight;
    size_t n, cap; /* slots in use, slots */
    size_t ndone;  /* entries of the done table (the last m:run()'s) */
    int tab_ref;   /* the calls in flight and their values */
    int done_ref;  /* m:run()'s list, reused */
    int in_run;    /* m:run() or m:add() is on the stack (a callback must not re-enter either) */
} lmulti;

/* Methods' upvalues: 1 the multi metatable, 2 the call metatable
 * (kombo_lua_to_udata: compared rather than looked up by name per call). */
static lmulti *check_multi(lua_State *L, int i)
{
    lmulti *m = kombo_lua_to_udata(L, i, 1, MULTI_MT);
    if (m->multi == NULL)
        luaL_argerror(L, i, "multi is closed");
    return m;
}

static int l_multi_new(lua_State *L)
{
    lmulti *m = lua_newuserdata(L, sizeof *m);
    memset(m, 0, sizeof *m);
    m->tab_ref = m->done_ref = LUA_NOREF;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setmetatable(L, -2);
    lua_createtable(L, 32, 0);
    m->tab_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 16, 0);
    m->done_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if ((m->multi = kombo_multi_new()) == NULL)
        return luaL_error(L, "cannot initialise libcurl");
    return 1;
}

/* The slot of c, or NULL.  (c->in_multi holds its slot's index + 1: no
 * search of the slots per attempt that ends.) */
static inflight *find(lmulti *m, const lcall *c)
{
    size_t k = (size_t)c->in_multi - 1;
    if (c->in_multi <= 0 || k >= m->cap || m->inflight[k].c != c)
        return NULL;
    return &m->inflight[k];
}

/* Frees a slot: its call and value are no longer kept (tab: the stack
 * index of the multi's table). */
static void drop(lua_State *L, lmulti *m, inflight *e, int tab)
{
    int k = (int)(e - m->inflight);
    e->c->in_multi = 0;
    e->c = NULL;
    m->n--;
    lua_pushnil(L);
    lua_rawseti(L, tab, 2 * k + 1);
    lua_pushnil(L);
    lua_rawseti(L, tab, 2 * k + 2);
}

/* m:add(call[, value]) -> true | nil, message */
static int l_multi_add(lua_State *L)
{
    lmulti *m = check_multi(L, 1);
    lcall *c = kombo_lua_to_udata(L, 2, 2, CALL_MT);
    inflight *e;
    int k, k_added;
    if (c->call == NULL)
        return luaL_argerror(L, 2, "call is closed");
    if (c->owner->client == NULL || c->owner->close_pending)
        return luaL_error(L, "kombo client is closed");
    if (c->in_multi)
        return luaL_argerror(L, 2, "call has an attempt in flight already");
    /* A small body is read whole as the attempt begins, by its source: one
     * that adds to this multi would take the entry picked below (the core
     * refuses it too, kombo_multi_add; this says why). */
    if (m->in_run)
        return luaL_error(L, "kombo multi: add() called from one of its own callbacks");
    if (m->n == m->cap) { /* room first: once the attempt has begun, nothing may fail */
        size_t cap = m->cap * 2 + 16;
        inflight *grown = realloc(m->inflight, cap * sizeof *grown);
        if (grown == NULL)
            return luaL_error(L, "out of memory");
        memset(grown + m->cap, 0, (cap - m->cap) * sizeof *grown);
        m->inflight = grown;
        m->cap = cap;
    }
    for (e = m->inflight; e->c != NULL; e++) /* a free one: there is room */
        ;
    k = (int)(e - m->inflight);
    lua_settop(L, 3);
    lua_rawgeti(L, LUA_REGISTRYINDEX, m->tab_ref);
    lua_checkstack(L, 2);
    /* (stored first: a failed table store raises before the attempt begins) */
    lua_pushvalue(L, 2);
    lua_rawseti(L, 4, 2 * k + 1);
    lua_pushvalue(L, lua_isnil(L, 3) ? 2 : 3);
    lua_rawseti(L, 4, 2 * k + 2);
    c->L = L;
    m->in_run = 1; /* (the callbacks run under lua_pcall: nothing jumps past the reset) */
    k_added = kombo_multi_add(m->multi, c->call, c);
    m->in_run = 0;
    if (k_added != 0) {
        lua_pushnil(L);
        lua_rawseti(L, 4, 2 * k + 1);
        lua_pushnil(L);
        lua_rawseti(L, 4, 2 * k + 2);
        lua_pushnil(L);
        lua_pushliteral(L, "out of memory (or the call has an attempt in flight already)");
        return 2;
    }
    e->c = c;
    m->n++;
    c->in_multi = k + 1; /* (find) */
    lua_pushboolean(L, 1);
    return 1;
}

/* m:run(timeout) -> { value, ... } of the attempts that ended (possibly
 * empty), after at most `timeout` seconds: the multi's own table, refilled
 * at every m:run(); the time it returns at (core.now()'s first value: the
 * loop's "now" for the first of them, without a core.now() of its own);
 * and how many the list holds (no length operator's search of a table
 * whose tail was just emptied). */
static int l_multi_run(lua_State *L)
{
    lmulti *m = check_multi(L, 1);
    double timeout = kombo_lua_clamp(luaL_optnumber(L, 2, 0), 0, 1e6);
    void *done[MAX_DONE];
    size_t n, i, kept = 0;

    if (m->in_run)
        return luaL_error(L, "kombo multi: run() called from one of its own callbacks");
    /* Callbacks (source, on_progress) run on the thread that runs the multi. */
    for (i = 0; i < m->cap; i++)
        if (m->inflight[i].c != NULL)
            m->inflight[i].c->L = L;
    m->in_run = 1;
    n = kombo_multi_run(m->multi, timeout, done, MAX_DONE);
    m->in_run = 0;
    lua_settop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, m->tab_ref);  /* 2 */
    lua_rawgeti(L, LUA_REGISTRYINDEX, m->done_ref); /* 3 */
    for (i = 0; i < n; i++) {
        inflight *e = find(m, done[i]);
        if (e == NULL) /* (cannot happen: every tag is a slot's call) */
            continue;
        lua_rawgeti(L, 2, 2 * (int)(e - m->inflight) + 2);
        lua_rawseti(L, 3, (int)++kept);
        drop(L, m, e, 2);
    }
    for (i = kept + 1; i <= m->ndone; i++) { /* what the last m:run() left */
        lua_pushnil(L);
        lua_rawseti(L, 3, (int)i);
    }
    m->ndone = kept;
    lua_pushnumber(L, kombo_monotonic_now());
    lua_pushinteger(L, (lua_Integer)kept);
    return 3;
}

/* m:abort(call) -> true | false (no attempt of it here).  The attempt is
 * reported to the call as aborted: call:next() then says "done". */
static int l_multi_abort(lua_State *L)
{
    lmulti *m = check_multi(L, 1);
    lcall *c = kombo_lua_to_udata(L, 2, 2, CALL_MT);
    void *tag = NULL;
    inflight *e;
    if (m->in_run)
        return luaL_error(L, "kombo multi: abort() called from one of its own callbacks");
    if (c->call == NULL || kombo_multi_abort(m->multi, c->call, "cut off: the batch was aborted", &tag) != 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if ((e = find(m, tag)) != NULL) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, m->tab_ref);
        drop(L, m, e, lua_gettop(L));
        lua_pop(L, 1);
    }
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
    lmulti *m = kombo_lua_to_udata(L, 1, 1, MULTI_MT);
    size_t i;
    if (m->in_run)
        return luaL_error(L, "kombo multi: close() called from one of its own callbacks");
    if (m->multi == NULL)
        return 0;
    kombo_multi_free(m->multi); /* the attempts still in flight are cut off, unreported */
    m->multi = NULL;
    for (i = 0; i < m->cap; i++)
        if (m->inflight[i].c != NULL) {
            m->inflight[i].c->in_multi = 0;
            m->inflight[i].c = NULL;
        }
    m->n = 0;
    free(m->inflight);
    m->inflight = NULL;
    m->cap = 0;
    luaL_unref(L, LUA_REGISTRYINDEX, m->tab_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, m->done_ref);
    m->tab_ref = m->done_ref = LUA_NOREF;
    return 0;
}

void kombo_lua_open_multi(lua_State *L)
{
    static const luaL_Reg methods[] = {{"add", l_multi_add},         {"run", l_multi_run},
                                       {"abort", l_multi_abort},     {"running", l_multi_running},
                                       {"close", l_multi_gc},        {"__gc", l_multi_gc},
                                       {"__close", l_multi_gc},      {NULL, NULL}};
    luaL_newmetatable(L, MULTI_MT);
    lua_pushvalue(L, -1);      /* upvalue 1: the multi metatable */
    luaL_getmetatable(L, CALL_MT); /* upvalue 2: the call's (kombo_lua_open_call made it) */
    luaL_setfuncs(L, methods, 2);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -1);
    luaL_getmetatable(L, CALL_MT);
    lua_pushcclosure(L, l_multi_new, 2);
    lua_setfield(L, -3, "multi");
    lua_pop(L, 1);
}

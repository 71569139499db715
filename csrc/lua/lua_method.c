/*
 * lua_method.c - the common call of an operation's client method
 * (client:attach_to_candidate and the rest) in one C function, and
 * core.needs, the rule it and kombo/call.lua share.
 *
 * kombo/init.lua's method for each operation calls core.method's function
 * first: the common call (no options, nothing observing the client, over
 * libcurl, nothing for Lua to do before the core reads the arguments) is
 * made there, as client:run makes it, with no Lua frame of call.lua's.  For
 * any other call it answers false, and the method calls call.lua's
 * call_operation itself (never from C: a hook or a cosocket may yield).
 *
 * What it reads of the client's state (kombo/client.lua's `private[self]`):
 * plain_core, success_index, config.preflight, config.secrets.
 */
#include "lua/lua_kombo.h"
#include "core/call.h" /* kombo_call_integration_id */

#include <string.h>

/* Upvalues of a method (core.method's arguments after the first two), and
 * the keys it reads, made once (lua_getfield would hash each on every
 * call). */
#define UP_CLIENT_MT lua_upvalueindex(1)   /* the core client's metatable */
#define UP_HEADER_MT lua_upvalueindex(2)   /* a header block's (push_result) */
#define UP_PRIVATE lua_upvalueindex(3)     /* kombo/client.lua's states, by client */
#define UP_NAME lua_upvalueindex(4)        /* the method's name, for errors */
#define UP_REFUSED lua_upvalueindex(5)     /* call.lua's refused */
#define UP_FROM_RESULT lua_upvalueindex(6) /* errors.from_result */
#define UP_INDEX lua_upvalueindex(7)       /* the operation's index in the core's table */
#define UP_FLAGS lua_upvalueindex(8)       /* METHOD_* */
#define UP_KEYS 9                          /* the keys below, from upvalue 9 on */
static const char *const keys[] = {"plain_core", "success_index", "body", "remote_fields", "preflight", "config",
                                   "secrets", "options", "index"};
enum {
    K_PLAIN_CORE,
    K_SUCCESS_INDEX,
    K_BODY,
    K_REMOTE_FIELDS,
    K_PREFLIGHT,
    K_CONFIG,
    K_SECRETS,
    K_OPTIONS,
    K_INDEX,
    K_COUNT
};
#define KEY(k) lua_upvalueindex(UP_KEYS + (k))

/* What a call of the operation needs of Lua before the core reads its
 * arguments (flags: METHOD_ALIASED when its body's remote_fields may hold
 * aliases, METHOD_PREFLIGHTED when a preflight applies to it).  Pushes
 * `aliased` (a boolean: remote_fields to normalize, kombo/remote_fields.lua)
 * and `wanted` (the preflight asked: args.preflight, else the client's
 * config.preflight), reading as Lua code does (metamethods honoured), each
 * field once.  p: the client's state (a plain table); keys: the number of the running function's
 * upvalue that holds the first key (the keys are upvalues of core.needs
 * and of each method); raw: args is known to have no metatable (a batch's
 * job): its fields, and the body's when it has none either, are then read
 * with lua_rawget, which gives the same while no Lua code runs. */
#define METHOD_ALIASED KOMBO_LUA_NEED_ALIASED
#define METHOD_PREFLIGHTED KOMBO_LUA_NEED_PREFLIGHTED

static void get(lua_State *L, int t, int key)
{
    lua_pushvalue(L, key);
    lua_gettable(L, t < 0 && t > LUA_REGISTRYINDEX ? t - 1 : t); /* (an upvalue's index stays) */
}

/* get, for a table known to have no metatable (the same value, without
 * the miss's look for an __index) */
static void rawget(lua_State *L, int t, int key)
{
    lua_pushvalue(L, key);
    lua_rawget(L, t < 0 && t > LUA_REGISTRYINDEX ? t - 1 : t);
}

#define NEEDS_KEY(k) lua_upvalueindex(keys + (k))
static void push_needs(lua_State *L, int p, int args, int flags, int keys, int raw)
{
    int aliased = 0;
    /* (at most 4 slots above its callers' 6: within the LUA_MINSTACK a C
     * function is given) */
    if (lua_type(L, args) != LUA_TTABLE) {
        lua_pushboolean(L, 0);
        lua_pushboolean(L, 0);
        return;
    }
    if (flags & METHOD_ALIASED) {
        (raw ? rawget : get)(L, args, NEEDS_KEY(K_BODY));
        if (lua_type(L, -1) == LUA_TTABLE) {
            if (raw && lua_getmetatable(L, -1)) {
                lua_pop(L, 1);
                raw = 0; /* its __index may run any code (set args' metatable too) */
            }
            (raw ? rawget : get)(L, -1, NEEDS_KEY(K_REMOTE_FIELDS));
            aliased = !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pushboolean(L, aliased);
    if (flags & METHOD_PREFLIGHTED) {
        (raw ? rawget : get)(L, args, NEEDS_KEY(K_PREFLIGHT));
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            rawget(L, p, NEEDS_KEY(K_CONFIG)); /* (p: a plain table) */
            get(L, -1, NEEDS_KEY(K_PREFLIGHT));
            lua_replace(L, -2);
        }
    } else {
        lua_pushboolean(L, 0);
    }
}

/* core.needs(p, args, flags) -> aliased, wanted (kombo/call.lua's needs;
 * the keys are its upvalues) */
static int l_needs(lua_State *L)
{
    int flags = (int)luaL_checkinteger(L, 3);
    lua_settop(L, 2);
    push_needs(L, 1, 2, flags, 1, 0);
    return 2;
}

/* Pushes the keys (as upvalues for a closure). */
static void push_keys(lua_State *L)
{
    int k;
    luaL_checkstack(L, K_COUNT, NULL);
    for (k = 0; k < K_COUNT; k++)
        lua_pushstring(L, keys[k]);
}

/* Not made here: false, nil, and what needs() gave (or nothing) for the
 * method to hand call_operation.  aliased, wanted: at 4 and 5, or none. */
static int declined(lua_State *L, int with_needs)
{
    lua_settop(L, 5);
    lua_pushboolean(L, 0);
    lua_pushnil(L);
    if (!with_needs)
        return 2;
    lua_pushvalue(L, 4);
    lua_pushvalue(L, 5);
    return 4;
}

/* The client's config.preflight, read once for the methods and the batch
 * preparers alike (see lclient.preflight_default); p at 4, the keys from
 * upvalue `keys` on. */
static int preflight_default(lua_State *L, lclient *lc, int keys)
{
    if (lc->preflight_default == 0) {
        rawget(L, 4, NEEDS_KEY(K_CONFIG)); /* (p: a plain table) */
        get(L, -1, NEEDS_KEY(K_PREFLIGHT));
        lc->preflight_default = lua_toboolean(L, -1) ? 2 : 1;
        lua_pop(L, 2);
    }
    return lc->preflight_default == 2;
}

/* What the call needs of Lua, the long way (push_needs): 1 when the method
 * declines (what was read at 7 and 8, handed over, not read again). */
static int needs_lua(lua_State *L, lclient *lc, int flags, int raw)
{
    lua_settop(L, 6);
    push_needs(L, 4, 2, flags, UP_KEYS, raw); /* 7 aliased, 8 wanted */
    /* (an __index read there may have closed the client: call.lua then
     * raises, naming the caller) */
    if (lua_toboolean(L, 7) || lua_toboolean(L, 8) || lc->client == NULL || lc->close_pending)
        return 1;
    lua_settop(L, 6);
    return 0;
}

/* fast(self, args [, opts]) -> res, nil | nil, err | false, nil [, aliased, wanted] */
static int l_method(lua_State *L)
{
    int flags = (int)lua_tointeger(L, UP_FLAGS), n, res, needs = 0;
    const kombo_operation *op;
    lclient *lc;

    if (!lua_isnoneornil(L, 3))
        return declined(L, 0); /* the call's own options */
    lua_settop(L, 3);
    lua_pushvalue(L, 1);
    lua_rawget(L, UP_PRIVATE); /* 4: p */
    if (lua_type(L, 4) != LUA_TTABLE) {
        lua_settop(L, 3);
        return declined(L, 0); /* not a client: call.lua raises */
    }
    lua_pushvalue(L, KEY(K_PLAIN_CORE));
    lua_rawget(L, 4); /* 5: the core client, or false (observed, in nginx, closed) */
    lua_pushvalue(L, KEY(K_SUCCESS_INDEX));
    lua_rawget(L, 4); /* 6: made by the first call through call.lua */
    lc = lua_touserdata(L, 5);
    if (lc == NULL || lua_type(L, 6) != LUA_TFUNCTION || !lua_getmetatable(L, 5) ||
        !lua_rawequal(L, -1, UP_CLIENT_MT) || lc->client == NULL || lc->close_pending) {
        lua_settop(L, 3);
        return declined(L, 0);
    }
    lua_settop(L, 6);
    op = kombo_operation_at((size_t)lua_tointeger(L, UP_INDEX));
    if (flags != 0) {
        /* Arguments without a metatable (a table literal: the usual call)
         * are looked at by the core's reader as it walks them, rather than
         * read here first by name; the rest the long way, here. */
        if (lua_type(L, 2) == LUA_TTABLE && !lua_getmetatable(L, 2) &&
            !((flags & METHOD_PREFLIGHTED) && preflight_default(L, lc, UP_KEYS)))
            needs = flags;
        else if (needs_lua(L, lc, flags, 0))
            goto decline;
    }
    /* As client:run: args at 2 with nothing (no problems) at 3, the index at 6 */
    n = kombo_lua_client_run(L, lc, op, 5, 2, 6, needs);
    if (n == 0) {
        /* The reader found something for Lua (or could not tell): asked
         * the long way, which reads no more than the reader did. */
        if (needs_lua(L, lc, flags, 1))
            goto decline;
        n = kombo_lua_client_run(L, lc, op, 5, 2, 6, 0);
    }
    res = lua_gettop(L) - n + 1;
    if (lua_isnil(L, res)) {
        /* Not made: call.lua's refused(p, name, level, problems, shape,
         * bad_option), level 4: refused, this, the method, its caller */
        lua_settop(L, res + 3);
        lua_pushvalue(L, UP_REFUSED);
        lua_pushvalue(L, 4);
        lua_pushvalue(L, UP_NAME);
        lua_pushinteger(L, 4);
        lua_pushvalue(L, res + 1);
        lua_pushvalue(L, res + 2);
        lua_pushvalue(L, res + 3);
        lua_call(L, 6, 2);
        return 2;
    }
    if (n == 2 && lua_toboolean(L, -1)) { /* dressed by the core: res */
        lua_pushnil(L);
        lua_replace(L, -2);
        return 2;
    }
    /* the plain result: errors.from_result(res, p.config.secrets) */
    lua_pushvalue(L, UP_FROM_RESULT);
    lua_pushvalue(L, res);
    rawget(L, 4, KEY(K_CONFIG)); /* (p: a plain table) */
    get(L, -1, KEY(K_SECRETS));
    lua_replace(L, -2);
    lua_call(L, 2, 2);
    return 2;

decline:
    lua_replace(L, 5);
    lua_replace(L, 4);
    return declined(L, 1); /* (what was read is handed over, not read again) */
}

/* core.method(op_index, flags, private, name, refused, from_result) -> fast
 * (see above) */
static int l_method_new(lua_State *L)
{
    lua_Integer index = luaL_checkinteger(L, 1), flags = luaL_checkinteger(L, 2);
    int k;
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TSTRING);
    luaL_checktype(L, 5, LUA_TFUNCTION);
    luaL_checktype(L, 6, LUA_TFUNCTION);
    lua_settop(L, 6);
    luaL_getmetatable(L, CLIENT_MT);
    luaL_getmetatable(L, HEADER_BLOCK_MT);
    for (k = 3; k <= 6; k++)
        lua_pushvalue(L, k);
    lua_pushinteger(L, index);
    lua_pushinteger(L, flags);
    push_keys(L);
    lua_pushcclosure(L, l_method, UP_KEYS - 1 + K_COUNT);
    return 1;
}

/* ------------------------------------------------- a batch's job */

/* Upvalues of a job preparer's inner step (core.job_preparer's arguments,
 * what it reads once per batch rather than per job, then the keys). */
#define JUP_CLIENT_MT lua_upvalueindex(1) /* the core client's metatable */
#define JUP_P lua_upvalueindex(2)         /* the client's state (kombo/client.lua's private[self]) */
#define JUP_PICK lua_upvalueindex(3)      /* pick(job) -> the operation (its table of core.operations) | nil */
#define JUP_NEEDS lua_upvalueindex(4)     /* operation -> METHOD_* (kombo/call.lua's NEEDS) */
#define JUP_CALL_MT lua_upvalueindex(5)   /* a call's metatable (kombo_lua_reusable_call) */
#define JUP_LAST_OP lua_upvalueindex(6)   /* the operation pick named last (its table), or false */
#define JUP_MEMO lua_upvalueindex(7)      /* job_memo: what that operation's table said */
#define JUP_KEYS 8

/* The last operation's number and flags, read from its table and NEEDS
 * once rather than for every job (a batch's jobs are mostly of one
 * operation; neither changes while the library is loaded). */
typedef struct job_memo {
    const void *table; /* JUP_LAST_OP's address (it holds the table: no other has it) */
    const kombo_operation *op;
    int flags;
} job_memo;

/* A job the preparer leaves to call.lua: false. */
static int job_declined(lua_State *L)
{
    lua_settop(L, 0);
    lua_pushboolean(L, 0);
    return 1;
}

/* What the job at 1 needs of Lua, the long way (push_needs): 1 when the
 * preparer declines; else the stack is left at 5. */
static int job_needs_lua(lua_State *L, lclient *lc, int flags)
{
    lua_settop(L, 5);
    push_needs(L, 4, 1, flags, JUP_KEYS, 1); /* 6 aliased, 7 wanted (the job: no metatable) */
    /* (an __index read there may have closed the client) */
    if (lua_toboolean(L, 6) || lua_toboolean(L, 7) || lc->client == NULL || lc->close_pending)
        return 1;
    lua_settop(L, 5);
    return 0;
}

/* The preparer's step, run protected by l_job_prepare (see there). */
static int job_prepare(lua_State *L)
{
    int flags, reuse = 0, n, needs = 0;
    lclient *lc;
    lcall *c;
    const kombo_operation *op;
    job_memo *memo;
    kombo_step step;
    double delay = 0;

    lua_settop(L, 3);
    lua_pushvalue(L, JUP_P); /* 4: p */
    lua_pushvalue(L, lua_upvalueindex(JUP_KEYS + K_PLAIN_CORE));
    lua_rawget(L, 4); /* 5: the core client, or false (observed, in nginx, closed) */
    lc = lua_touserdata(L, 5);
    if (lc == NULL || !lua_getmetatable(L, 5) || !lua_rawequal(L, -1, JUP_CLIENT_MT) || lc->client == NULL ||
        lc->close_pending)
        return job_declined(L);
    lua_settop(L, 5);
    if (lua_type(L, 1) != LUA_TTABLE || lua_getmetatable(L, 1))
        return job_declined(L); /* (pick is not called for a job with metamethods: it reads it once) */
    lua_pushvalue(L, lua_upvalueindex(JUP_KEYS + K_OPTIONS));
    lua_rawget(L, 1);
    if (!lua_isnil(L, -1))
        return job_declined(L); /* the job's own options */
    lua_settop(L, 5);
    /* Which operation: pick's rule (kombo/uploads.lua's job_operation, or
     * run_many's), its number and what it needs of Lua. */
    lua_pushvalue(L, JUP_PICK);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1); /* 6: the operation, or nil */
    if (lua_type(L, 6) != LUA_TTABLE || lc->client == NULL || lc->close_pending)
        return job_declined(L); /* (pick is Lua: a hook in it may have closed the client) */
    memo = lua_touserdata(L, JUP_MEMO);
    if (lua_topointer(L, 6) == memo->table) {
        op = memo->op;
        flags = memo->flags;
    } else {
        lua_pushvalue(L, lua_upvalueindex(JUP_KEYS + K_INDEX));
        lua_rawget(L, 6); /* 7: its index */
        lua_pushvalue(L, 6);
        lua_rawget(L, JUP_NEEDS); /* 8: its flags */
        if (!lua_isnumber(L, 7) || !lua_isnumber(L, 8) ||
            (op = kombo_operation_at((size_t)lua_tointeger(L, 7))) == NULL)
            return job_declined(L);
        flags = (int)lua_tointeger(L, 8);
        memo->op = op;
        memo->flags = flags;
        memo->table = lua_topointer(L, 6);
        lua_pushvalue(L, 6);
        lua_replace(L, JUP_LAST_OP);
    }
    lua_settop(L, 5);
    /* What the job needs of Lua: looked at by the core's reader as it walks
     * the job (no metatable, above), unless the client's preflight is on
     * (then read here first, the long way). */
    if (flags != 0 && (flags & METHOD_PREFLIGHTED) && preflight_default(L, lc, JUP_KEYS)) {
        if (job_needs_lua(L, lc, flags))
            return job_declined(L);
    } else {
        needs = flags;
    }
    if (kombo_lua_reusable_call(L, 2, JUP_CALL_MT))
        reuse = 2; /* made again in place */
    lua_pushvalue(L, 1); /* 6: the arguments, */
    lua_pushnil(L);      /* 7: no problems of Lua's */
    n = kombo_lua_new_call(L, lc, 5, op, 6, 0, 0, reuse, needs);
    if (n == 0) {
        /* The reader found something for Lua (or could not tell: a body
         * with a metatable): asked the long way, which reads no more. */
        if (job_needs_lua(L, lc, flags))
            return job_declined(L);
        lua_pushvalue(L, 1);
        lua_pushnil(L);
        n = kombo_lua_new_call(L, lc, 5, op, 6, 0, 0, reuse, 0);
    }
    if (lua_type(L, -n) != LUA_TUSERDATA) {
        /* Refused by the core: its problems, or a shape mistake.  Handed
         * back for the batch to word as call.lua would, rather than read
         * the job a second time there (an __index would run twice). */
        kombo_lua_call_close(L, 8); /* what reading the arguments took */
        return n;                   /* nil, problems | nil, false, shape */
    }
    lua_settop(L, 8);
    c = lua_touserdata(L, 8);
    lua_pushstring(L, kombo_call_integration_id(c->call));
    if (lua_isnoneornil(L, 3))
        return 2;
    step = kombo_call_next(c->call, lua_tonumber(L, 3), &delay);
    return 2 + kombo_lua_push_step(L, step, delay);
}

/* prepare(job, reuse, now) -> call, integration_id[, step[, delay]]
 *                            | nil, problems | nil, false, shape | false
 *
 * A batch's common job (kombo/batch.lua, attach_many and run_many outside
 * nginx) prepared as call.lua's prepare would with `defer`: a plain table
 * (no metatable) without job.options, of the operation pick(job) names,
 * for a client nothing observes over libcurl, needing nothing of Lua (no
 * remote_fields to normalize, no preflight).  The call is made in `reuse`
 * when that is a closed call (the batch hands back the calls it closed),
 * else in a new userdata; with `now`, its first call:next(now) too.  A job
 * the core refuses gives nil and what the core said (its problems, or a
 * shape mistake's message), which the batch words as call.lua would.  Any
 * other job, or an error on the way (an __index of a table inside the job
 * that raises; pick's), gives false and nothing else: the batch then
 * prepares it through call.lua.  It never raises.  Inside nginx no
 * client has a plain core: it declines before any Lua runs. */
static int l_job_prepare(lua_State *L)
{
    lua_settop(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1)); /* the step */
    lua_insert(L, 1);
    if (lua_pcall(L, 3, LUA_MULTRET, 0) != 0)
        return job_declined(L);
    return lua_gettop(L);
}

/* core.job_preparer(p, pick, needs) -> prepare (see above): one per batch */
static int l_job_preparer(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    luaL_getmetatable(L, CLIENT_MT);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    luaL_getmetatable(L, CALL_MT);
    lua_pushboolean(L, 0); /* no operation yet */
    memset(lua_newuserdata(L, sizeof(job_memo)), 0, sizeof(job_memo));
    push_keys(L);
    lua_pushcclosure(L, job_prepare, JUP_KEYS - 1 + K_COUNT);
    lua_pushcclosure(L, l_job_prepare, 1);
    return 1;
}

void kombo_lua_open_method(lua_State *L)
{
    lua_pushcfunction(L, l_job_preparer);
    lua_setfield(L, -2, "job_preparer");
    lua_pushcfunction(L, l_method_new);
    lua_setfield(L, -2, "method");
    push_keys(L);
    lua_pushcclosure(L, l_needs, K_COUNT);
    lua_setfield(L, -2, "needs");
    lua_pushinteger(L, METHOD_ALIASED);
    lua_setfield(L, -2, "METHOD_ALIASED");
    lua_pushinteger(L, METHOD_PREFLIGHTED);
    lua_setfield(L, -2, "METHOD_PREFLIGHTED");
}

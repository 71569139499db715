/*
 * lua_config.c - a client's options, and a call's own, from Lua tables
 * into the core's kombo_config, by the core's one options table
 * (kombo_options in csrc/core/client.c).  lkombo.c (core.client) and
 * lua_call.c (client:prepare's options) read them here, so that neither
 * uses the other's functions.
 */
#include "lua/lua_kombo.h"
#include "core/internal.h"
#include "core/client.h"

#include <math.h>
#include <string.h>

/* The resolved options (kombo/init.lua has applied the environment and the
 * defaults and checked the types) as C strings: a NUL inside would cut the
 * value short silently, so it is a problem. */
static const char *opt_cstr(lua_State *L, int t, const char *key, kombo_problems *p)
{
    size_t n;
    const char *s;
    lua_getfield(L, t, key);
    s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
    lua_pop(L, 1); /* the string stays alive in the options table */
    if (s != NULL && memchr(s, '\0', n) != NULL)
        kombo_problems_add(p, key, "must not contain CR, LF or NUL");
    return s;
}

/* One option of kombo_options from the table at t (the options, or the
 * retries table) into cfg; an absent or mistyped value keeps the default
 * (kombo/init.lua has checked the types). */
static void read_option(lua_State *L, int t, const char *key, const kombo_option *o, kombo_config *cfg,
                        kombo_problems *p)
{
    char *field = (char *)cfg + o->offset;
    double v;
    if (o->kind == KOMBO_OPTION_STRING) {
        *(const char **)(void *)field = opt_cstr(L, t, key, p);
        return;
    }
    if (o->kind == KOMBO_OPTION_URL_OR_OFF) {
        lua_getfield(L, t, key);
        if (lua_isboolean(L, -1)) {
            if (lua_toboolean(L, -1))
                kombo_problems_add(p, key, "must be an http:// URL or false (true means nothing)");
            *(const char **)(void *)field = ""; /* false: off */
            lua_pop(L, 1);
            return;
        }
        lua_pop(L, 1);
        *(const char **)(void *)field = opt_cstr(L, t, key, p);
        return;
    }
    lua_getfield(L, t, key);
    if (o->kind == KOMBO_OPTION_BOOLEAN) {
        if (!lua_isnil(L, -1))
            *(int *)(void *)field = lua_toboolean(L, -1);
        lua_pop(L, 1);
        return;
    }
    if (lua_type(L, -1) != LUA_TNUMBER) {
        lua_pop(L, 1);
        return;
    }
    v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    switch (o->kind) {
    case KOMBO_OPTION_NUMBER:
        *(double *)(void *)field = v;
        break;
    case KOMBO_OPTION_COUNT:
        /* 0 (also for NaN or a fraction) fails the client's check: "at least 1". */
        *(int *)(void *)field = v == floor(v) ? (int)kombo_lua_clamp(v, 0, 1e6) : 0;
        break;
    case KOMBO_OPTION_BYTES:
        /* Only whole numbers reach a size_t: the conversion's own rule. */
        if (!(v >= 0 && v <= 9007199254740992.0 && v == floor(v)))
            kombo_problems_add(p, o->name, "must be a whole number of bytes >= 0");
        *(size_t *)(void *)field = (size_t)kombo_lua_clamp(v, 0, 9007199254740992.0);
        break;
    default:
        break;
    }
}

void kombo_lua_read_config(lua_State *L, int t, kombo_config *cfg, kombo_problems *p)
{
    const kombo_option *o;
    int retries;
    *cfg = kombo_config_defaults;
    lua_getfield(L, t, "retries");
    retries = lua_gettop(L);
    if (lua_isboolean(L, retries) && !lua_toboolean(L, retries))
        kombo_retry_policy_none(&cfg->retry);
    for (o = kombo_options; o->name != NULL; o++) {
        if (strncmp(o->name, "retries.", 8) != 0)
            read_option(L, t, o->name, o, cfg, p);
        else if (lua_istable(L, retries))
            read_option(L, retries, o->name + 8, o, cfg, p);
    }
    lua_pop(L, 1);
}

/* A call's own settings (kombo_request.config) from the table at t: the
 * options of kombo_options marked per_call, over the client's `base`
 * (retries = false: one attempt; a retries table: its fields over the
 * client's policy), checked by the core's rules (kombo_config_check_call).
 * The Lua layer has checked the types.  Returns the problems' count. */
size_t kombo_lua_read_call_config(lua_State *L, int t, const kombo_config *base, kombo_config *cfg,
                                  kombo_problems *p)
{
    const kombo_option *o;
    size_t before = p->count + p->dropped;
    int retries;
    *cfg = *base;
    lua_getfield(L, t, "retries");
    retries = lua_gettop(L);
    if (lua_isboolean(L, retries) && !lua_toboolean(L, retries))
        cfg->retry.max_attempts = 1;
    for (o = kombo_options; o->name != NULL; o++) {
        if (!o->per_call)
            continue;
        if (strncmp(o->name, "retries.", 8) != 0) {
            lua_getfield(L, t, o->name);
            if (!lua_isnil(L, -1))
                read_option(L, t, o->name, o, cfg, p);
            lua_pop(L, 1);
        } else if (lua_istable(L, retries)) {
            read_option(L, retries, o->name + 8, o, cfg, p);
        }
    }
    lua_pop(L, 1);
    if (p->count + p->dropped == before)
        kombo_config_check_call(cfg, p);
    return p->count + p->dropped - before;
}


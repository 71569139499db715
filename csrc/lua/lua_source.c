/*
 * lua_source.c - Lua functions (or ltn12 sources) that feed a file
 * object's bytes, and on_progress.  A body may hold several file objects
 * (an application's CV and cover letter), each with its own source; the
 * body reads them one after another.
 *
 * Pulled: the body's read callback calls the function from C (it must not
 * yield).  Pushed (call:read(n, true), the cosocket transport): the read
 * callback drains only what call:feed() handed over and otherwise answers
 * KOMBO_SOURCE_AGAIN, so that the function runs in Lua and may yield.
 */
#include "lua/lua_kombo.h"
#include "core/body.h"
#include "core/call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kombo_lua_source_take(lua_State *L, lsource *s, int idx)
{
    if (idx < 0)
        idx = lua_gettop(L) + idx + 1; /* (lua_absindex is 5.2+) */
    luaL_unref(L, LUA_REGISTRYINDEX, s->chunk_ref);
    s->chunk_ref = LUA_NOREF;
    s->chunk = NULL;
    s->chunk_len = s->chunk_off = 0;
    if (lua_isnoneornil(L, idx)) { /* ltn12: nil at the end, nil + message on error */
        if (lua_isnoneornil(L, idx + 1)) {
            s->fed_end = 1;
        } else {
            s->fed_error = 1;
            snprintf(s->fed_msg, sizeof s->fed_msg, "%s",
                     lua_tostring(L, idx + 1) ? lua_tostring(L, idx + 1) : "error");
        }
        return;
    }
    if (lua_type(L, idx) != LUA_TSTRING) {
        s->fed_error = 1;
        snprintf(s->fed_msg, sizeof s->fed_msg, "source returned a %s, not a string", luaL_typename(L, idx));
        return;
    }
    lua_pushvalue(L, idx);
    s->chunk = lua_tolstring(L, -1, &s->chunk_len);
    s->chunk_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (s->chunk_len > 0) {
        s->empty = 0;
    } else if (++s->empty > KOMBO_LUA_MAX_EMPTY_CHUNKS) {
        s->fed_error = 1;
        snprintf(s->fed_msg, sizeof s->fed_msg, "source returned only empty chunks");
    }
}

/* The body's read callback: drains the current chunk; when it is used up,
 * a pulled source is called here (its results go through
 * kombo_lua_source_take), a pushed one answers KOMBO_SOURCE_AGAIN until
 * call:feed() hands over the next. */
static long lsource_read(void *ud, char *buf, size_t cap, char *err, size_t errsz)
{
    lsource *s = ud;
    lcall *c = s->call;
    lua_State *L = c->L;
    size_t i;

    for (i = 0; i < c->nsources; i++)
        if (c->sources[i] == s)
            c->current = i;
    while (s->chunk_off >= s->chunk_len) {
        if (s->fed_error) {
            snprintf(err, errsz, "%s", s->fed_msg);
            return -1;
        }
        if (s->fed_end)
            return 0;
        if (s->push)
            return KOMBO_SOURCE_AGAIN;
        lua_rawgeti(L, LUA_REGISTRYINDEX, s->fn_ref);
        if (lua_pcall(L, 0, 2, 0) != 0) {
            s->fed_error = 1;
            snprintf(s->fed_msg, sizeof s->fed_msg, "source raised: %s",
                     lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
            lua_pop(L, 1);
            continue;
        }
        kombo_lua_source_take(L, s, -2);
        lua_pop(L, 2);
    }
    if (cap > s->chunk_len - s->chunk_off)
        cap = s->chunk_len - s->chunk_off;
    memcpy(buf, s->chunk + s->chunk_off, cap);
    s->chunk_off += cap;
    return (long)cap;
}

lsource *kombo_lua_source_new(lcall *c)
{
    lsource **grown, *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    grown = realloc(c->sources, (c->nsources + 1) * sizeof(lsource *));
    if (grown == NULL) {
        free(s);
        return NULL;
    }
    c->sources = grown;
    c->sources[c->nsources++] = s;
    s->call = c;
    s->fn_ref = LUA_NOREF;
    s->chunk_ref = LUA_NOREF;
    s->source.read = lsource_read;
    s->source.rewind = NULL; /* a function cannot be replayed */
    s->source.ud = s;
    return s;
}

void kombo_lua_sources_free(lua_State *L, lcall *c)
{
    size_t i;
    for (i = 0; i < c->nsources; i++) {
        luaL_unref(L, LUA_REGISTRYINDEX, c->sources[i]->fn_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, c->sources[i]->chunk_ref);
        free(c->sources[i]);
    }
    free(c->sources);
    c->sources = NULL;
    c->nsources = c->current = 0;
}

lsource *kombo_lua_source_current(lcall *c)
{
    return c->current < c->nsources ? c->sources[c->current] : NULL;
}

static void lprogress(void *ud, size_t sent, size_t total)
{
    lcall *c = ud;
    lua_State *L = c->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->progress_ref);
    lua_pushnumber(L, (lua_Number)sent);
    lua_pushnumber(L, (lua_Number)total);
    if (lua_pcall(L, 2, 0, 0) != 0) {
        /* Abort rather than drop the error: the next read sees `failed`. */
        kombo_body *body = kombo_call_body(c->call);
        if (!body->failed)
            snprintf(body->error, sizeof body->error, "on_progress raised: %s",
                     lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
        body->failed = 1;
        lua_pop(L, 1);
    }
}

void kombo_lua_set_progress(lcall *c, kombo_request *req)
{
    req->on_progress = lprogress;
    req->progress_ud = c;
}

/*
 * ltesting.c - module "kombo.testing": the core's helpers as Lua functions,
 * for the specs only.  Built next to kombo/core.so by `make lib`, never
 * installed by the rockspec, so kombo.core's surface is what the library
 * itself needs.
 *
 * Builds against Lua 5.1 (and LuaJIT), 5.2, 5.3 and 5.4.
 */
#include "core/kombo.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/classify.h"
#include "lua/lua_json.h"

#include <lauxlib.h>
#include <lua.h>

#include <string.h>

#if LUA_VERSION_NUM < 502
static void compat_setfuncs(lua_State *L, const luaL_Reg *l)
{
    for (; l->name != NULL; l++) {
        lua_pushcfunction(L, l->func);
        lua_setfield(L, -2, l->name);
    }
}
#define luaL_setfuncs(L, l, n) compat_setfuncs(L, l)
#endif

/* Runs one of the core's string encoders on argument 1 and returns its output. */
static int push_encoded(lua_State *L, int (*encode)(kombo_buf *, const char *, size_t))
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    kombo_buf b;
    kombo_buf_init(&b);
    encode(&b, s, n);
    if (b.failed) {
        kombo_buf_free(&b);
        return luaL_error(L, "out of memory");
    }
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    kombo_buf_free(&b);
    return 1;
}

static int l_json_string(lua_State *L)
{
    return push_encoded(L, kombo_json_string);
}

static int l_percent_encode(lua_State *L)
{
    return push_encoded(L, kombo_percent_encode);
}

static int l_base64_valid(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_pushboolean(L, kombo_base64_valid(s, n));
    return 1;
}

static int l_utf8_valid(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_pushboolean(L, kombo_utf8_valid(s, n));
    return 1;
}

static int l_parse_retry_after(lua_State *L)
{
    double v = kombo_parse_retry_after(luaL_optstring(L, 1, NULL), luaL_checknumber(L, 2));
    if (v < 0)
        return 0;
    lua_pushnumber(L, v);
    return 1;
}

/* decode_json(text) -> value, or nil, "invalid JSON" */
static int l_decode_json(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (kombo_lua_push_json(L, s, n))
        return 1;
    lua_pushnil(L);
    lua_pushliteral(L, "invalid JSON");
    return 2;
}

/* Overwrites with '#' every byte of the valid JSON text[0..n) that a value
 * built from the tape does not read: whitespace, ':' and ',', closing
 * brackets (all but opening brackets and the bytes of strings, numbers and
 * literals), so that the text is no JSON any more.  Found from the text,
 * not from the tape, so that a text past the tape is spoiled alike. */
static void spoil(char *text, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (text[i] == '"') {
            for (i++; i < n && text[i] != '"'; i++)
                if (text[i] == '\\')
                    i++; /* the escaped byte: a '"' there ends nothing */
            i++;         /* past the closing quote */
            continue;
        }
        switch (text[i]) {
        case ' ': case '\t': case '\r': case '\n': case ':': case ',': case '}': case ']':
            text[i] = '#';
            break;
        default:
            break;
        }
        i++;
    }
}

/* answer_json(body [, spoil]) -> value, tokens: `body` classified as a
 * call's 200 answer is (kombo_classify: Kombo's success shape) and its
 * value built as a call builds it (kombo_lua_answer_jval), over a copy;
 * tokens is the number the scan put on its tape, or false when body has
 * more than the tape holds (the value is then read from the text).  With
 * `spoil`, the copy is spoiled first (spoil above): only a value built
 * from the tape comes out right.  nil, message when body is no success. */
static int l_answer_json(lua_State *L)
{
    static const kombo_response_shape shape = {.warnings = 0, .data_member = NULL, .list = 0};
    size_t n;
    const char *body = luaL_checklstring(L, 1, &n);
    int spoiled = lua_toboolean(L, 2), stored;
    char *copy = lua_newuserdata(L, n); /* (on the stack: an error below leaks nothing) */
    kombo_response r;
    kombo_classification cls;
    jmarks marks;
    jval root;

    memcpy(copy, body, n);
    kombo_response_init(&r, n);
    r.status = 200;
    stored = kombo_buf_append(&r.body, body, n) == 0;
    if (stored)
        kombo_classify(&r, 0, &shape, &cls);
    kombo_response_free(&r);
    if (!stored)
        return luaL_error(L, "out of memory");
    if (cls.kind != KOMBO_OK) {
        lua_pushnil(L);
        lua_pushstring(L, cls.message);
        return 2;
    }
    if (spoiled)
        spoil(copy, n);
    kombo_lua_answer_jval(&cls, copy, &marks, &root);
    kombo_lua_push_jval(L, &root);
    if (cls.ntape <= KOMBO_JSON_TAPE)
        lua_pushinteger(L, (lua_Integer)cls.ntape);
    else
        lua_pushboolean(L, 0);
    return 2;
}

/* parse_headers(block) -> { ["lower-case-name"] = "value" } */
static int l_parse_headers(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    kombo_lua_push_headers(L, s, n);
    return 1;
}

/* set_sentinels(null, array_mt) -> previous null, array_mt: the registry
 * values decode_json uses (the ones core.set_sentinels and the Lua layer
 * set; nil clears).  Specs put the previous ones back. */
static int l_set_sentinels(lua_State *L)
{
    lua_settop(L, 2);
    if (!lua_isnil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, LUA_REGISTRYINDEX, "kombo.null");
    lua_getfield(L, LUA_REGISTRYINDEX, "kombo.array_mt");
    lua_pushvalue(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "kombo.null");
    lua_pushvalue(L, 2);
    lua_setfield(L, LUA_REGISTRYINDEX, "kombo.array_mt");
    return 2;
}

int luaopen_kombo_testing(lua_State *L)
{
    static const luaL_Reg functions[] = {{"json_string", l_json_string},
                                         {"percent_encode", l_percent_encode},
                                         {"base64_valid", l_base64_valid},
                                         {"utf8_valid", l_utf8_valid},
                                         {"parse_retry_after", l_parse_retry_after},
                                         {"decode_json", l_decode_json},
                                         {"answer_json", l_answer_json},
                                         {"parse_headers", l_parse_headers},
                                         {"set_sentinels", l_set_sentinels},
                                         {NULL, NULL}};

    lua_newtable(L);
    luaL_setfuncs(L, functions, 0);
    return 1;
}

/*
 * lua_webhook.c - Kombo's webhook deliveries for the Lua layer
 * (lua/kombo/webhook.lua):
 *
 *   core.webhook_verify(body, signature, secret) -> true | false, code, message
 *   core.webhook_decode(body)                    -> event | nil, code, message
 *
 * verify is webhook.c's rule over the body's bytes as Lua holds them (no
 * copy); decode reads the body with the core's strict JSON scanner (the
 * one answers are read with: integers stay integers, [] stays an array)
 * and checks the event's envelope, {id, type, data}.  Messages never quote
 * the body, the secret or the expected signature.
 */
#include "lua/lua_kombo.h"
#include "lua/lua_json.h"
#include "core/json.h"
#include "core/webhook.h"

#include <string.h>

static const char *opt_string(lua_State *L, int idx, size_t *n)
{
    *n = 0;
    if (lua_isnoneornil(L, idx))
        return NULL;
    return luaL_checklstring(L, idx, n);
}

static int l_webhook_verify(lua_State *L)
{
    size_t n, siglen, secretlen;
    const char *body = luaL_checklstring(L, 1, &n);
    const char *sig = opt_string(L, 2, &siglen);
    const char *secret = opt_string(L, 3, &secretlen);
    kombo_webhook_status st = kombo_webhook_verify(body, n, sig, siglen, secret, secretlen);

    if (st == KOMBO_WEBHOOK_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushstring(L, kombo_webhook_code(st));
    lua_pushstring(L, kombo_webhook_message(st));
    return 3;
}

static int refuse(lua_State *L, const char *code, const char *message)
{
    lua_pushnil(L);
    lua_pushstring(L, code);
    lua_pushstring(L, message);
    return 3;
}

/* Member `key` of the event object: 1 when it has the JSON type `want`
 * (and, for a string, is not empty). */
static int member_is(const jval *obj, const char *key, jtype want)
{
    jval v;
    return kombo_json_get(obj, key, &v) && v.type == want && !(want == J_STRING && v.n <= 2);
}

static int l_webhook_decode(lua_State *L)
{
    size_t n;
    const char *body = luaL_checklstring(L, 1, &n);
    jscan s;
    jval root;

    if (n >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0)
        return refuse(L, "body_json", "the body starts with a byte order mark (EF BB BF): not JSON as Kombo sends it");
    if (kombo_json_parse(&s, body, n, &root) != 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "body_json");
        if (n == 0)
            lua_pushliteral(L, "the body is empty, not a JSON event");
        else
            lua_pushfstring(L, "the body is not valid JSON: %s at byte %d", s.err,
                            (int)kombo_lua_clamp((double)s.err_at, 0, 2e9));
        return 3;
    }
    if (root.type != J_OBJECT)
        return refuse(L, "body_shape", "the body is JSON but not an object: not a Kombo event");
    if (!member_is(&root, "id", J_STRING))
        return refuse(L, "body_shape", "the event has no id (a non-empty string)");
    if (!member_is(&root, "type", J_STRING))
        return refuse(L, "body_shape", "the event has no type (a non-empty string)");
    if (!member_is(&root, "data", J_OBJECT))
        return refuse(L, "body_shape", "the event has no data object");
    kombo_lua_push_jval(L, &root);
    return 1;
}

void kombo_lua_open_webhook(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"webhook_verify", l_webhook_verify}, {"webhook_decode", l_webhook_decode}, {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
}

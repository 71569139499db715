/*
 * raw_inproc.c - raw_curl.c's loop (one reused easy handle POSTing the
 * captured bytes with CURLOPT_POSTFIELDS) as a Lua module, so that
 * bench/interleaved.lua can time it in the same process as kombo-lua, in
 * alternating blocks of calls.  Both then run through the same CPU modes of
 * this VM (they flip every few seconds), which separate processes run one
 * after the other do not.
 *
 *   local open = require "raw_inproc"
 *   local run = open(URL, HEADERS_FILE, BODY_FILE)
 *   run(n)          -- n calls in a C loop; raises on a failed or non-200 call
 *
 * The loop is C, so the raw side pays for no Lua per call.  One handle per
 * open() (a process may open two: bench/interleaved.lua's control run).
 */
#include "raw_common.h"
#include <lauxlib.h>
#include <lua.h>

typedef struct {
    CURL *h;
    struct curl_slist *headers;
    char *body;
    size_t received;
} raw_loop;

static int run(lua_State *L)
{
    raw_loop *r = lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer n = luaL_checkinteger(L, 1), i;
    for (i = 0; i < n; i++)
        if (raw_loop_call(r->h, &r->received) != 0)
            return luaL_error(L, "raw_inproc: call %d failed (see stderr)", (int)i + 1);
    return 0;
}

static int gc(lua_State *L)
{
    raw_loop *r = lua_touserdata(L, 1);
    if (r->h != NULL)
        curl_easy_cleanup(r->h);
    curl_slist_free_all(r->headers);
    free(r->body);
    r->h = NULL, r->headers = NULL, r->body = NULL;
    return 0;
}

static int open_loop(lua_State *L)
{
    const char *url = luaL_checkstring(L, 1), *headers_file = luaL_checkstring(L, 2);
    const char *body_file = luaL_checkstring(L, 3);
    size_t hlen, blen;
    char *hdrs;
    /* The userdata first, with its __gc: nothing raises after a slurp but
     * with what it read owned by the userdata or freed. */
    raw_loop *r = lua_newuserdata(L, sizeof *r);
    memset(r, 0, sizeof *r);
    lua_newtable(L);
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    r->body = slurp(body_file, &blen);
    hdrs = slurp(headers_file, &hlen);
    if (hdrs == NULL || r->body == NULL) {
        free(hdrs);
        return luaL_error(L, "raw_inproc: cannot read the headers or the body file");
    }
    r->headers = captured_headers(hdrs);
    free(hdrs); /* (curl_slist_append copied the lines) */
    if (r->headers == NULL || (r->h = curl_easy_init()) == NULL)
        return luaL_error(L, "raw_inproc: cannot initialise libcurl");
    raw_loop_options(r->h, url, r->headers, &r->received);
    curl_easy_setopt(r->h, CURLOPT_POST, 1L);
    curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(r->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    lua_pushcclosure(L, run, 1); /* the userdata, kept alive by the closure */
    return 1;
}

int luaopen_raw_inproc(lua_State *L)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    lua_pushcfunction(L, open_loop);
    return 1;
}

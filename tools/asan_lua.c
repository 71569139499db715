/*
 * asan_lua.c - a minimal Lua 5.4 interpreter built with AddressSanitizer,
 * for `make test-asan` (build/asan/lua, run as `busted --lua=build/asan/lua`).
 *
 * Why not LD_PRELOAD the ASan runtime into the system lua5.4: the preload is
 * inherited by every process the specs start (scripts/standin, nginx, curl
 * health checks, openssl), which then run uninstrumented under the ASan
 * runtime; a curl health check hangs that way, and leak reports from those
 * programs would fail the suite.  An executable linked with
 * -fsanitize=address carries the runtime itself (and exports it to the
 * instrumented kombo/core.so), while its children are plain processes.
 *
 *   asan_lua script [args...]   runs script with `arg` and `...` set like lua.c
 *
 * Lua's own code (liblua5.4.so) is not instrumented; only kombo/core.so is.
 * The state is closed on exit (also on error), so every __gc runs and what a
 * finaliser fails to free shows up in LeakSanitizer's report.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <stdio.h>

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL)
        msg = luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L;
    int i, status;

    if (argc < 2) {
        fprintf(stderr, "usage: %s script [args...]\n", argv[0]);
        return 2;
    }
    L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "%s: cannot create a Lua state\n", argv[0]);
        return 1;
    }
    luaL_openlibs(L);

    /* arg[-1] = interpreter, arg[0] = script, arg[1..] = its arguments. */
    lua_createtable(L, argc, 1);
    for (i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1);
    }
    lua_setglobal(L, "arg");

    lua_pushcfunction(L, traceback);
    status = luaL_loadfile(L, argv[1]);
    if (status == LUA_OK) {
        for (i = 2; i < argc; i++)
            lua_pushstring(L, argv[i]);
        status = lua_pcall(L, argc - 2, 0, 1);
    }
    if (status != LUA_OK)
        fprintf(stderr, "%s: %s\n", argv[0], lua_tostring(L, -1));
    lua_close(L);
    return status == LUA_OK ? 0 : 1;
}

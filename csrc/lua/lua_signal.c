/*
 * lua_signal.c - what a command-line tool needs that plain Lua lacks
 * (kombo-attach, lua/kombo/cli/): counting SIGINT/SIGTERM instead of dying
 * of them, and asking whether a descriptor is a terminal.
 *
 *   core.watch_signals()   installs the handlers (again: no-op); true
 *   core.signals_caught()  how many SIGINT/SIGTERM arrived since
 *   core.isatty(fd)        true when fd (0, 1, 2) is a terminal
 *
 * The handler only counts (a volatile sig_atomic_t, async-signal-safe);
 * the Lua side polls the count between steps.  After the second signal it
 * puts the default action back, so a third one ends a process that is
 * stuck rather than draining.  When the Lua state closes, the actions found
 * before are put back: the handler lives in this library, which Lua
 * unloads afterwards, and a signal must not jump into unmapped code.
 */
#include "lua/lua_kombo.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t caught;
static int watching;
static struct sigaction old_int, old_term;

static void on_signal(int sig)
{
    if (caught < 2 && ++caught == 2) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGINT, &dfl, NULL); /* sigaction is async-signal-safe */
        sigaction(SIGTERM, &dfl, NULL);
    }
    (void)sig;
}

static int l_signal_guard_gc(lua_State *L)
{
    (void)L;
    if (watching) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        watching = 0;
    }
    return 0;
}

static int l_watch_signals(lua_State *L)
{
    struct sigaction sa;
    if (!watching) {
        lua_newuserdata(L, 1); /* the guard first: nothing is installed without it */
        lua_newtable(L);
        lua_pushcfunction(L, l_signal_guard_gc);
        lua_setfield(L, -2, "__gc");
        lua_setmetatable(L, -2);
        lua_setfield(L, LUA_REGISTRYINDEX, "kombo.signal_guard");
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, SIGINT); /* one handler at a time: the count stays exact */
        sigaddset(&sa.sa_mask, SIGTERM);
        sa.sa_flags = SA_RESTART; /* reads of the manifest and journal carry on */
        if (sigaction(SIGINT, &sa, &old_int) != 0)
            return luaL_error(L, "watch_signals: sigaction failed");
        watching = 1;
        if (sigaction(SIGTERM, &sa, &old_term) != 0) {
            old_term.sa_handler = SIG_DFL; /* the guard puts back SIGINT's, and SIGTERM's default */
            sigemptyset(&old_term.sa_mask);
            old_term.sa_flags = 0;
            return luaL_error(L, "watch_signals: sigaction failed");
        }
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_signals_caught(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)caught);
    return 1;
}

static int l_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    lua_pushboolean(L, fd >= 0 && fd <= 2 && isatty((int)fd));
    return 1;
}

void kombo_lua_open_signal(lua_State *L)
{
    static const luaL_Reg functions[] = {{"watch_signals", l_watch_signals},
                                         {"signals_caught", l_signals_caught},
                                         {"isatty", l_isatty},
                                         {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
}

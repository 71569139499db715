/*
 * lua_compat.c - what every file of the binding may use and that uses
 * nothing of theirs: Lua 5.1's missing luaL_setfuncs, and the one safe way
 * from a Lua number to a C integer.
 */
#include "lua/lua_kombo.h"

#if LUA_VERSION_NUM < 502
void kombo_lua_setfuncs(lua_State *L, const luaL_Reg *l)
{
    for (; l->name != NULL; l++) {
        lua_pushcfunction(L, l->func);
        lua_setfield(L, -2, l->name);
    }
}
#endif

double kombo_lua_clamp(double v, double lo, double hi)
{
    if (v != v)
        return lo;
    return v < lo ? lo : v > hi ? hi : v;
}


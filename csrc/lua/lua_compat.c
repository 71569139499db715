/*
 * lua_compat.c - what every file of the binding may use and that uses
 * nothing of theirs: Lua 5.1's missing luaL_setfuncs, and the one safe way
 * from a Lua number to a C integer.
 */
#include "lua/lua_kombo.h"

#if LUA_VERSION_NUM < 502
void kombo_lua_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    int i;
    luaL_checkstack(L, nup, "too many upvalues");
    for (; l->name != NULL; l++) {
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#endif

double kombo_lua_clamp(double v, double lo, double hi)
{
    if (v != v)
        return lo;
    return v < lo ? lo : v > hi ? hi : v;
}


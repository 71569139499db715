/*
 * lua_request.c - a call's argument table into the core's request: path
 * parameters, integration_id, query parameters and the body, read into the
 * core's value tree (lua_value.c); the core then checks all of it against
 * the operation's descriptors, once (kombo_request_resolve).
 *
 * Top-level keys are checked here against the operation (its path
 * parameters, query parameters, integration_id, body, on_progress): an
 * unknown key is a problem that suggests the nearest known one, since a
 * misspelt key would otherwise be dropped silently.
 */
#include "lua/lua_kombo.h"
#include "core/internal.h" /* kombo_schema_types */
#include "core/request.h"
#include "core/schema.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The value at stack index idx as an optional string at `path`.  A value
 * of the wrong type is a problem and comes back as "" (present but
 * unusable), so that the rules do not also call it missing.  A string is
 * read in place: its slot keeps it until the call is made (the slots stay
 * on the stack of kombo_lua_new_call), which copies it into the URL or a
 * header. */
static kombo_str slot_str(kombo_lua_reader *r, int idx, const char *path)
{
    lua_State *L = r->L;
    kombo_str s = KOMBO_STR_NULL;
    int t = lua_type(L, idx);
    if (t == LUA_TSTRING) {
        s.ptr = lua_tolstring(L, idx, &s.len);
    } else if (t != LUA_TNIL) {
        kombo_problems_add(r->problems, path, "must be a string (got %s)", kombo_lua_type_of(L, idx));
        s.ptr = "";
    }
    return s;
}

/* A path parameter of the operation's sibling (application_id given to
 * attach_to_candidate): a problem that names the operation to call. */
static int other_target(kombo_lua_reader *r, const kombo_operation *op, const char *key, size_t n)
{
    const kombo_operation *other = n < 64 ? kombo_operation_sibling(op, key) : NULL;
    char noun[64];
    size_t len;
    if (other == NULL)
        return 0;
    len = n > 3 && strcmp(key + n - 3, "_id") == 0 ? n - 3 : n;
    snprintf(noun, sizeof noun, "%.*s", (int)len, key);
    kombo_problems_add(r->problems, key, "is not a field of %s (use %s for %s %s)", op->name, other->name,
                       strchr("aeiou", noun[0]) != NULL && noun[0] != '\0' ? "an" : "a", noun);
    return 1;
}

/* An unknown top-level key: a problem naming it, with the nearest known
 * key when there is one. */
static void unknown_key(kombo_lua_reader *r, const char *const *keys)
{
    lua_State *L = r->L;
    char path[128];
    size_t n;
    const char *key, *near;
    if (lua_type(L, -2) != LUA_TSTRING) {
        kombo_problems_add(r->problems, "(arguments)", "has a %s key; only field names are allowed",
                           kombo_lua_type_of(L, -2));
        return;
    }
    key = lua_tolstring(L, -2, &n);
    near = kombo_suggest_key(key, n, keys, sizeof keys[0]);
    snprintf(path, sizeof path, "%.*s", (int)(n > 64 ? 64 : n), key);
    if (near != NULL)
        kombo_problems_add(r->problems, path, "is not a known field (did you mean %s?)", near);
    else
        kombo_problems_add(r->problems, path, "is not a known field");
}

/* The top-level keys an operation takes, NULL-terminated. */
#define MAX_KEYS 48
static size_t call_keys(const kombo_operation *op, const char **keys)
{
    size_t n = 0, i;
    for (i = 0; i < KOMBO_MAX_PARAMS && op->params[i] != NULL; i++)
        keys[n++] = op->params[i];
    if (op->integration_scoped)
        keys[n++] = "integration_id";
    for (i = 0; op->query != NULL && i < op->query->nproperties && n + 5 < MAX_KEYS; i++)
        keys[n++] = op->query->properties[i].name;
    if (op->body_schema != NULL) {
        keys[n++] = "body";
        keys[n++] = "on_progress";
        keys[n++] = "preflight"; /* read by the Lua layer (kombo/init.lua) */
    }
    keys[n] = NULL;
    return n;
}

static const char *shape_error(lua_State *L, const char *what, int idx)
{
    return lua_pushfstring(L, "%s must be a table, got %s", what, kombo_lua_type_of(L, idx));
}

/* The body's members whose descriptor is an object and nothing else:
 * anything but a table there is a misuse, raised like a non-table body. */
static const char *shape_message(lua_State *L, const kombo_operation *op, int bad, const char *got)
{
    char what[96];
    snprintf(what, sizeof what, "'body.%s'", op->body_schema->properties[bad].name);
    return lua_pushfstring(L, "%s must be a table, got %s", what, got);
}

static const char *body_shape(lua_State *L, const kombo_operation *op, int body)
{
    const char *got = NULL;
    int bad = kombo_lua_shape_by_name(L, op->body_schema, body, &got);
    return bad < 0 ? NULL : shape_message(L, op, bad, got);
}

/* The query parameters given at the top level, as one object value; the
 * first nslots ones' values are in the stack slots from `slot` on, and
 * bit i of `given` says whether slot i holds anything (a query lists up
 * to fifteen parameters; a call gives one or two). */
static void read_query(kombo_lua_reader *r, int t, int slot, size_t nslots, uint64_t given,
                       const kombo_operation *op, kombo_request *req)
{
    lua_State *L = r->L;
    size_t i;
    req->query = kombo_value_new(r->arena, KOMBO_V_OBJECT);
    if (req->query == NULL) {
        r->failed = 1;
        return;
    }
    for (i = 0; i < op->query->nproperties && !r->failed; i++) {
        const char *name = op->query->properties[i].name;
        int at; /* where its value is: its slot, or pushed */
        if (i < nslots) {
            if (i < 64 && !((given >> i) & 1))
                continue; /* not given (most of them) */
            at = slot + (int)i;
            if (lua_isnil(L, at))
                continue;
        } else { /* past MAX_KEYS: no slot, and its __index may run Lua */
            kombo_lua_keep_lent(r);
            lua_getfield(L, t, name);
            at = lua_gettop(L);
        }
        if (!lua_isnil(L, at)) {
            kombo_value *v;
            int keep = r->keep;
            size_t n = strlen(name); /* (no snprintf: per parameter of every call) */
            if (n >= sizeof r->path)
                n = sizeof r->path - 1;
            memcpy(r->path, name, n);
            r->path[n] = '\0';
            /* (past the slots the value may be __index's own: nothing holds
             * it once popped, so nothing of it is lent) */
            r->keep = keep || i >= nslots;
            v = kombo_lua_read_value(r, at, 1);
            r->keep = keep;
            if (v != NULL) {
                v->key = kombo_str_c(name); /* static: the descriptor's */
                kombo_value_append(req->query, v);
            }
        }
        if (i >= nslots)
            lua_pop(L, 1);
    }
}

const char kombo_lua_needs_lua[] = "the call needs Lua first";

/* What the call needs of Lua first (see kombo_lua_needs_lua), as
 * kombo/call.lua's needs() would tell it, from an argument table without
 * a metatable (so no Lua runs): a preflight asked (args.preflight set and
 * true; the method passes the flag only when the client's own default is
 * off) is told from its slot here; remote_fields in the body to normalize
 * as the body's walk meets its members (r->aliased), before it reads
 * anything that may run Lua.  A body with a metatable is the long way's
 * (its __index). */
static int needs_lua(lua_State *L, const kombo_operation *op, int body_type, int body_mt, int preflight,
                     int needs)
{
    if (op->body_schema == NULL)
        return 1; /* (never so: the flags are uploads' and creates') */
    if ((needs & KOMBO_LUA_NEED_PREFLIGHTED) && lua_toboolean(L, preflight))
        return 1;
    return (needs & KOMBO_LUA_NEED_ALIASED) && body_type == LUA_TTABLE && body_mt;
}

const char *kombo_lua_read_request(lua_State *L, int t, int anchor, const kombo_operation *op,
                                   kombo_request *req, lcall *c, kombo_problems *problems, int needs)
{
    const char *keys[MAX_KEYS];
    kombo_lua_reader r;
    size_t i, k, nkeys;
    int body = 0, body_type = LUA_TNIL, body_mt = 0, slots;
    uint64_t given = 0; /* bit k: keys[k]'s slot was set (k < 64) */

    memset(req, 0, sizeof *req);
    req->op = op;
    req->arena = &c->arena;
    if (lua_isnil(L, t) && op->body_schema == NULL) {
        lua_newtable(L); /* client:check_api_key(): no arguments at all */
        lua_replace(L, t);
    }
    if (!lua_istable(L, t))
        return shape_error(L, "the argument", t);
    nkeys = call_keys(op, keys);

    kombo_lua_reader_init(&r, L, &c->arena, anchor, problems, c);
    /* One walk over the arguments: each known key's value goes to its own
     * stack slot (slots + its index in keys), so nothing is looked up again;
     * any other key is a problem (and goes with the rest when the shape
     * below raises). */
    luaL_checkstack(L, (int)nkeys + 8, "out of stack space");
    slots = lua_gettop(L) + 1;
    lua_settop(L, slots + (int)nkeys - 1);
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        size_t k = nkeys;
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *key = lua_tostring(L, -2);
            for (k = 0; k < nkeys; k++)
                if (keys[k][0] == key[0] && strcmp(keys[k], key) == 0)
                    break;
        }
        if (k == nkeys) {
            size_t n = 0;
            const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : NULL;
            if (key == NULL || !other_target(&r, op, key, n))
                unknown_key(&r, keys);
            lua_pop(L, 1);
        } else {
            lua_replace(L, slots + (int)k);
            if (k < 64)
                given |= (uint64_t)1 << k;
        }
    }
    /* An argument table with a metatable may inherit fields (__index):
     * read those by name, as a field lookup would. */
    if (lua_getmetatable(L, t)) {
        lua_pop(L, 1);
        if (needs != 0)
            return kombo_lua_needs_lua; /* (the method checked: never so) */
        for (k = 0; k < nkeys; k++)
            if (lua_isnil(L, slots + (int)k)) {
                lua_getfield(L, t, keys[k]);
                lua_replace(L, slots + (int)k);
                if (k < 64)
                    given |= (uint64_t)1 << k; /* (maybe nil: looked at again) */
            }
    }
    /* keys[] is in call_keys' order: path parameters, integration_id,
     * query, body, on_progress, preflight. */
    if (op->body_schema != NULL) {
        body = slots + (int)nkeys - 3;
        body_type = lua_type(L, body);
        if (body_type == LUA_TTABLE && lua_getmetatable(L, body)) {
            lua_pop(L, 1);
            body_mt = 1;
        }
    }
    /* Before anything raises or is kept: nothing has been read but the
     * top-level keys, which the long way reads again. */
    if (needs != 0 && needs_lua(L, op, body_type, body_mt, slots + (int)nkeys - 1, needs))
        return kombo_lua_needs_lua;
    if (op->body_schema != NULL) {
        /* Shape first: these raise, before any problem counts.  A missing
         * body is a problem (the core's), like a missing id.  The body's
         * members are shape-checked here only when it has a metatable (a
         * field lookup may inherit them); else while it is read (below). */
        const char *shape;
        if (body_type != LUA_TNIL && body_type != LUA_TTABLE)
            return shape_error(L, "'body'", body);
        if (body_mt && (shape = body_shape(L, op, body)) != NULL)
            return shape;
    }
    k = 0;
    for (i = 0; i < KOMBO_MAX_PARAMS && op->params[i] != NULL; i++, k++)
        req->params[i] = slot_str(&r, slots + (int)k, op->params[i]);
    if (op->integration_scoped)
        req->integration_id = slot_str(&r, slots + (int)k++, "integration_id");
    if (op->query != NULL) {
        size_t nq = nkeys - k - (op->body_schema != NULL ? 3 : 0); /* the query keys call_keys listed */
        read_query(&r, t, slots + (int)k, nq, k < 64 ? given >> k : 0, op, req);
        k += nq;
    }
    if (op->body_schema != NULL) {
        if (body_type == LUA_TTABLE) {
            strcpy(r.path, "body");
            r.shape = body_mt ? NULL : op->body_schema;
            r.shape_body = body;
            r.aliased = (needs & KOMBO_LUA_NEED_ALIASED) ? 1 : 0;
            req->body = kombo_lua_read_value(&r, body, 0); /* the body is level 0 */
            r.shape = NULL;
            /* (a walk that stopped short may not have met remote_fields) */
            if (r.aliased == 1 && !r.shape_walked && kombo_lua_has_remote_fields(L, body))
                r.aliased = 2;
            if (r.aliased == 2) {
                c->anchored = r.anchored; /* (emptied by the caller) */
                return kombo_lua_needs_lua;
            }
            if (!body_mt && !r.shape_walked) {
                /* The walk stopped short (a key that is not a string, an
                 * array, empty, out of memory): by name, as before. */
                const char *shape;
                kombo_lua_keep_lent(&r);
                if ((shape = body_shape(L, op, body)) != NULL)
                    return shape;
            } else if (!body_mt && r.shape_bad >= 0) {
                return shape_message(L, op, r.shape_bad, r.shape_got);
            }
        }

        int preflight = slots + (int)k + 2, progress = slots + (int)k + 1;
        if (!lua_isnil(L, preflight) && !lua_isboolean(L, preflight)) /* used by the Lua layer (kombo/call.lua) */
            kombo_problems_add(problems, "preflight", "must be a boolean (got %s)", kombo_lua_type_of(L, preflight));

        if (lua_isnil(L, progress)) {
            /* none */
        } else if (kombo_lua_is_callable(L, progress)) {
            lua_pushvalue(L, progress);
            c->progress_ref = luaL_ref(L, LUA_REGISTRYINDEX);
            kombo_lua_set_progress(c, req);
        } else {
            kombo_problems_add(problems, "on_progress", "must be a function (got %s)", kombo_lua_type_of(L, progress));
        }
    }
    c->anchored = r.anchored;
    if (r.failed || c->arena.failed)
        return "out of memory reading the arguments";
    return NULL;
}

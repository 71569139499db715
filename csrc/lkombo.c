/*
 * lkombo.c - the Lua binding, module "kombo.core".
 *
 * Maps Lua tables onto the C request model and back.  It raises Lua errors
 * only for misuse of its own interface (kombo/init.lua calls it); problems
 * with the user's data come back as a list of {path=, message=} tables.
 *
 * Builds against Lua 5.1 (and LuaJIT), 5.2, 5.3 and 5.4.
 */
#include "kombo.h"

#include <lauxlib.h>
#include <lua.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CALL_MT "kombo.call"
#define CURL_MT "kombo.curl"
#define MAX_JSON_DEPTH 32

/* ------------------------------------------------------------ compat */

#if LUA_VERSION_NUM < 502
#define lua_rawlen lua_objlen
static void compat_setfuncs(lua_State *L, const luaL_Reg *l)
{
    for (; l->name != NULL; l++) {
        lua_pushcfunction(L, l->func);
        lua_setfield(L, -2, l->name);
    }
}
#define luaL_setfuncs(L, l, n) compat_setfuncs(L, l)
#endif

static int is_integer_value(lua_State *L, int idx)
{
#if LUA_VERSION_NUM >= 503
    return lua_isinteger(L, idx);
#else
    (void)L;
    (void)idx;
    return 0;
#endif
}

/* Lua numbers reach C integers only through this: casting NaN or a value
 * outside the target type is undefined behaviour (UBSan float-cast-overflow).
 * NaN becomes lo; callers that must refuse bad values check them first. */
static double clamp_num(double v, double lo, double hi)
{
    if (v != v)
        return lo;
    return v < lo ? lo : v > hi ? hi : v;
}

/* ------------------------------------------------------ reading tables */

/* The strings a call borrows live in an anchor table referenced from the
 * registry until the call is freed, so the GC cannot move them away. */
typedef struct reader {
    lua_State *L;
    int anchor; /* stack index of the anchor table */
    int n;
    kombo_problems *problems;
} reader;

static const char *type_of(lua_State *L, int idx)
{
    return lua_typename(L, lua_type(L, idx));
}

/* Reads t[key] (t at stack index t) as an optional string. */
static kombo_str get_str(reader *r, int t, const char *key, const char *path)
{
    lua_State *L = r->L;
    kombo_str s = KOMBO_STR_NULL;
    lua_getfield(L, t, key);
    if (lua_type(L, -1) == LUA_TSTRING) {
        s.ptr = lua_tolstring(L, -1, &s.len);
        lua_pushvalue(L, -1);
        lua_rawseti(L, r->anchor, ++r->n);
    } else if (!lua_isnil(L, -1)) {
        kombo_problems_add(r->problems, path, "must be a string (got %s)", type_of(L, -1));
        s.ptr = ""; /* present but unusable: keeps "is required" from firing too */
        s.len = 0;
    }
    lua_pop(L, 1);
    return s;
}

static double get_num(lua_State *L, int t, const char *key, double dflt)
{
    double v;
    lua_getfield(L, t, key);
    if (lua_isnil(L, -1))
        v = dflt;
    else if (lua_type(L, -1) == LUA_TNUMBER)
        v = lua_tonumber(L, -1);
    else
        return luaL_error(L, "option '%s' must be a number (got %s)", key, type_of(L, -1));
    lua_pop(L, 1);
    return v;
}

static int get_bool(lua_State *L, int t, const char *key)
{
    int v;
    lua_getfield(L, t, key);
    v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* ------------------------------------------------- remote_fields -> JSON */

typedef struct json_writer {
    lua_State *L;
    kombo_buf *out;
    kombo_problems *problems;
    int visiting; /* stack index of a set of tables on the current path */
    char path[256];
} json_writer;

static void json_value(json_writer *w, int idx, int depth);

static int is_sentinel(lua_State *L, int idx, const char *name)
{
    int eq;
    lua_getfield(L, LUA_REGISTRYINDEX, name);
    eq = !lua_isnil(L, -1) && lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return eq;
}

/* Appends ".key" or "[i]" to the path; return the old length to restore. */
static size_t path_push_key(json_writer *w, const char *key)
{
    size_t old = strlen(w->path);
    snprintf(w->path + old, sizeof w->path - old, ".%s", key);
    return old;
}

static size_t path_push_index(json_writer *w, int i)
{
    size_t old = strlen(w->path);
    snprintf(w->path + old, sizeof w->path - old, "[%d]", i);
    return old;
}

/* A table is a JSON array when its keys are exactly 1..n. */
static int array_length(lua_State *L, int idx, int *mixed)
{
    size_t n = 0, max = 0;
    int strings = 0, others = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        n++;
        if (lua_type(L, -1) == LUA_TSTRING) {
            strings++;
        } else if (lua_type(L, -1) == LUA_TNUMBER) {
            double d = lua_tonumber(L, -1);
            if (d >= 1 && d == floor(d) && d < 1e15) {
                if ((size_t)d > max)
                    max = (size_t)d;
            } else {
                others++;
            }
        } else {
            others++;
        }
    }
    *mixed = others > 0 || (strings > 0 && strings != (int)n) || (strings == 0 && max != n);
    return strings == 0 && others == 0 && max == n ? (int)n : -1;
}

static void json_table(json_writer *w, int idx, int depth)
{
    lua_State *L = w->L;
    int mixed, n, i, first = 1;
    size_t old;

    if (depth > MAX_JSON_DEPTH) {
        kombo_problems_add(w->problems, w->path, "nests deeper than %d levels", MAX_JSON_DEPTH);
        return;
    }
    /* Each level holds a key, a value and temporaries: a C function is only
     * promised LUA_MINSTACK slots, and MAX_JSON_DEPTH levels need more. */
    luaL_checkstack(L, 8, "remote_fields nested too deeply");
    lua_pushvalue(L, idx);
    lua_rawget(L, w->visiting);
    if (!lua_isnil(L, -1)) {
        lua_pop(L, 1);
        kombo_problems_add(w->problems, w->path, "is cyclic (a table contains itself)");
        return;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, w->visiting);

    n = array_length(L, idx, &mixed);
    if (n > 0) {
        kombo_buf_puts(w->out, "[");
        for (i = 1; i <= n; i++) {
            if (i > 1)
                kombo_buf_puts(w->out, ",");
            old = path_push_index(w, i);
            lua_rawgeti(L, idx, i);
            json_value(w, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
            w->path[old] = '\0';
        }
        kombo_buf_puts(w->out, "]");
    } else if (mixed) {
        kombo_problems_add(w->problems, w->path,
                           "must have only string keys (an object) or only keys 1..n (an array)");
    } else {
        kombo_buf_puts(w->out, "{");
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            size_t klen;
            const char *key = lua_tolstring(L, -2, &klen); /* only strings here */
            old = path_push_key(w, key);
            if (!kombo_utf8_valid(key, klen))
                kombo_problems_add(w->problems, w->path, "key is not valid UTF-8");
            if (!first)
                kombo_buf_puts(w->out, ",");
            first = 0;
            kombo_json_string(w->out, key, klen);
            kombo_buf_puts(w->out, ":");
            json_value(w, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
            w->path[old] = '\0';
        }
        kombo_buf_puts(w->out, "}");
    }
    lua_pushvalue(L, idx);
    lua_pushnil(L);
    lua_rawset(L, w->visiting);
}

static void json_value(json_writer *w, int idx, int depth)
{
    lua_State *L = w->L;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (!kombo_utf8_valid(s, n))
            kombo_problems_add(w->problems, w->path, "is not valid UTF-8");
        kombo_json_string(w->out, s, n);
        break;
    }
    case LUA_TNUMBER:
        if (is_integer_value(L, idx)) {
#if LUA_VERSION_NUM >= 503
            kombo_buf_printf(w->out, LUA_INTEGER_FMT, (LUA_INTEGER)lua_tointeger(L, idx));
#endif
        } else {
            double d = lua_tonumber(L, idx);
            if (!isfinite(d))
                kombo_problems_add(w->problems, w->path, "must be a finite number (got %s)",
                                   isnan(d) ? "NaN" : "infinity");
            else if (d == floor(d) && fabs(d) < 9007199254740992.0)
                kombo_buf_printf(w->out, "%.0f", d);
            else
                kombo_buf_printf(w->out, "%.17g", d);
        }
        break;
    case LUA_TBOOLEAN:
        kombo_buf_puts(w->out, lua_toboolean(L, idx) ? "true" : "false");
        break;
    case LUA_TTABLE:
        json_table(w, idx, depth);
        break;
    default:
        if (is_sentinel(L, idx, "kombo.null"))
            kombo_buf_puts(w->out, "null");
        else if (is_sentinel(L, idx, "kombo.empty_array"))
            kombo_buf_puts(w->out, "[]");
        else
            kombo_problems_add(w->problems, w->path, "cannot be sent as JSON (a %s)",
                               type_of(L, idx));
    }
}

/* ----------------------------------------------------------- the call */

/* A Lua function (or ltn12 source) feeding attachment bytes.  Chunks may
 * be any size; the one being drained stays referenced until used up. */
typedef struct lsource {
    kombo_source source;
    int fn_ref;
    int chunk_ref;
    const char *chunk;
    size_t chunk_len, chunk_off;
} lsource;

typedef struct lcall {
    kombo_call *call;
    lua_State *L; /* the thread now driving the call (callbacks run on it) */
    int anchor_ref;
    kombo_buf remote_fields;
    lsource src;
    int progress_ref;
} lcall;

/* At most this many empty chunks in a row before a source counts as stuck. */
#define MAX_EMPTY_CHUNKS 1000

static long lsource_read(void *ud, char *buf, size_t cap, char *err, size_t errsz)
{
    lcall *c = ud;
    lsource *s = &c->src;
    lua_State *L = c->L;
    int empty = 0;

    while (s->chunk_off >= s->chunk_len) {
        luaL_unref(L, LUA_REGISTRYINDEX, s->chunk_ref);
        s->chunk_ref = LUA_NOREF;
        s->chunk = NULL;
        s->chunk_len = s->chunk_off = 0;
        lua_rawgeti(L, LUA_REGISTRYINDEX, s->fn_ref);
        if (lua_pcall(L, 0, 2, 0) != 0) {
            snprintf(err, errsz, "source raised: %s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
            lua_pop(L, 1);
            return -1;
        }
        if (lua_isnil(L, -2)) { /* ltn12: nil at the end, nil + message on error */
            if (!lua_isnil(L, -1)) {
                snprintf(err, errsz, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
                lua_pop(L, 2);
                return -1;
            }
            lua_pop(L, 2);
            return 0;
        }
        if (lua_type(L, -2) != LUA_TSTRING) {
            snprintf(err, errsz, "source returned a %s, not a string", luaL_typename(L, -2));
            lua_pop(L, 2);
            return -1;
        }
        lua_pop(L, 1);
        s->chunk = lua_tolstring(L, -1, &s->chunk_len);
        s->chunk_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        if (s->chunk_len == 0 && ++empty > MAX_EMPTY_CHUNKS) {
            snprintf(err, errsz, "source returned only empty chunks");
            return -1;
        }
    }
    if (cap > s->chunk_len - s->chunk_off)
        cap = s->chunk_len - s->chunk_off;
    memcpy(buf, s->chunk + s->chunk_off, cap);
    s->chunk_off += cap;
    return (long)cap;
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

static lcall *check_call(lua_State *L, int i)
{
    lcall *c = luaL_checkudata(L, i, CALL_MT);
    if (c->call == NULL)
        luaL_argerror(L, i, "call is closed");
    c->L = L; /* callbacks (source, on_progress) run on the caller's thread */
    return c;
}

static void push_problems(lua_State *L, const kombo_problems *p)
{
    size_t i;
    lua_createtable(L, (int)p->count, 0);
    for (i = 0; i < p->count; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, p->items[i].path);
        lua_setfield(L, -2, "path");
        lua_pushstring(L, p->items[i].message);
        lua_setfield(L, -2, "message");
        lua_rawseti(L, -2, (int)i + 1);
    }
    if (p->dropped > 0) {
        lua_pushinteger(L, (lua_Integer)p->dropped);
        lua_setfield(L, -2, "dropped");
    }
}

/* Configuration reaches C as C strings: a NUL inside would cut the value
 * short silently (a truncated key, header or URL), so it is a problem. */
static const char *get_cstr(reader *r, int t, const char *key)
{
    kombo_str s = get_str(r, t, key, key);
    if (s.ptr != NULL && memchr(s.ptr, '\0', s.len) != NULL)
        kombo_problems_add(r->problems, key, "must not contain CR, LF or NUL");
    return s.ptr;
}

static void read_config(reader *r, int t, kombo_config *cfg)
{
    lua_State *L = r->L;
    memset(cfg, 0, sizeof *cfg);
    cfg->api_key = get_cstr(r, t, "api_key");
    cfg->integration_id = get_cstr(r, t, "integration_id");
    cfg->server_url = get_cstr(r, t, "server_url");
    cfg->user_agent = get_cstr(r, t, "user_agent");
    cfg->ca_file = get_cstr(r, t, "ca_file");
    cfg->timeout = get_num(L, t, "timeout", 300);
    cfg->connect_timeout = get_num(L, t, "connect_timeout", 10);
    {
        double mrb = get_num(L, t, "max_response_bytes", KOMBO_DEFAULT_MAX_RESPONSE);
        if (!(mrb >= 0 && mrb <= 9007199254740992.0))
            kombo_problems_add(r->problems, "max_response_bytes", "must be a number of bytes >= 0");
        cfg->max_response_bytes = (size_t)clamp_num(mrb, 0, 9007199254740992.0);
    }
    kombo_retry_policy_default(&cfg->retry);
    lua_getfield(L, t, "retries");
    if (lua_istable(L, -1)) {
        int rt = lua_gettop(L);
        /* 0 (also for NaN) fails validation: "must be at least 1". */
        cfg->retry.max_attempts = (int)clamp_num(get_num(L, rt, "max_attempts", cfg->retry.max_attempts), 0, 1e6);
        cfg->retry.initial_interval = get_num(L, rt, "initial_interval", cfg->retry.initial_interval);
        cfg->retry.max_interval = get_num(L, rt, "max_interval", cfg->retry.max_interval);
        cfg->retry.exponent = get_num(L, rt, "exponent", cfg->retry.exponent);
        cfg->retry.max_elapsed = get_num(L, rt, "max_elapsed", cfg->retry.max_elapsed);
        cfg->retry.retry_unsafe = get_bool(L, rt, "retry_unsafe");
    } else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
        kombo_retry_policy_none(&cfg->retry);
    }
    lua_pop(L, 1);
}

static int is_callable(lua_State *L, int idx)
{
    int yes;
    if (lua_isfunction(L, idx))
        return 1;
    if (!luaL_getmetafield(L, idx, "__call"))
        return 0;
    yes = !lua_isnil(L, -1);
    lua_pop(L, 1);
    return yes;
}

/* attachment.source (a function or ltn12 source) with attachment.size. */
static void read_source(reader *r, int a, kombo_attachment *at, lsource *src)
{
    lua_State *L = r->L;
    lua_getfield(L, a, "source");
    if (!lua_isnil(L, -1)) {
        const size_t max_content = KOMBO_MAX_CONTENT_BYTES;
        double size;
        lua_getfield(L, a, "size");
        size = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
        if (!is_callable(L, -2))
            kombo_problems_add(r->problems, "body.attachment.source",
                               "must be a function returning chunks (got %s)", type_of(L, -2));
        else if (lua_isnil(L, -1))
            kombo_problems_add(r->problems, "body.attachment.size",
                               "is required with source (the exact byte count)");
        else if (!(size >= 0 && size == floor(size) && size < 9007199254740992.0))
            kombo_problems_add(r->problems, "body.attachment.size",
                               "must be a whole number of bytes >= 0");
        else {
            lua_pushvalue(L, -2);
            src->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
            src->source.read = lsource_read;
            src->source.rewind = NULL; /* a function cannot be replayed */
            /* A size past what the build can send stays past it (and the
             * request check says so); the cast stays defined on 32 bits. */
            src->source.size = (size_t)clamp_num(size, 0, (double)max_content + 1);
            at->source = &src->source;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void read_request(reader *r, int t, kombo_request *req, kombo_buf *remote_fields,
                         lsource *src, int *progress_ref, void *owner)
{
    lua_State *L = r->L;
    const char *target;
    memset(req, 0, sizeof *req);

    lua_getfield(L, t, "target");
    target = lua_tostring(L, -1);
    req->target = target != NULL && strcmp(target, "application") == 0 ? KOMBO_TARGET_APPLICATION
                                                                       : KOMBO_TARGET_CANDIDATE;
    lua_pop(L, 1);
    req->id = get_str(r, t, "id",
                      req->target == KOMBO_TARGET_APPLICATION ? "application_id" : "candidate_id");
    req->integration_id = get_str(r, t, "integration_id", "integration_id");

    lua_getfield(L, t, "attachment");
    if (lua_istable(L, -1)) {
        int a = lua_gettop(L);
        kombo_attachment *at = &req->attachment;
        at->name = get_str(r, a, "name", "body.attachment.name");
        at->content_type = get_str(r, a, "content_type", "body.attachment.content_type");
        at->type = get_str(r, a, "type", "body.attachment.type");
        at->data = get_str(r, a, "data", "body.attachment.data");
        at->data_url = get_str(r, a, "data_url", "body.attachment.data_url");
        at->file = get_str(r, a, "file", "body.attachment.file");
        at->bytes = get_str(r, a, "bytes", "body.attachment.bytes");
        read_source(r, a, at, src);
    }
    lua_pop(L, 1);

    lua_getfield(L, t, "on_progress");
    if (is_callable(L, -1)) {
        lua_pushvalue(L, -1);
        *progress_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        req->on_progress = lprogress;
        req->progress_ud = owner;
    } else if (!lua_isnil(L, -1)) {
        kombo_problems_add(r->problems, "on_progress", "must be a function (got %s)", type_of(L, -1));
    }
    lua_pop(L, 1);

    lua_getfield(L, t, "remote_fields");
    if (lua_istable(L, -1)) {
        json_writer w;
        w.L = L;
        w.out = remote_fields;
        w.problems = r->problems;
        lua_newtable(L);
        w.visiting = lua_gettop(L);
        strcpy(w.path, "body.remote_fields");
        json_table(&w, w.visiting - 1, 1);
        lua_pop(L, 1);
        if (remote_fields->len > 0 && remote_fields->data[0] == '[')
            kombo_problems_add(r->problems, "body.remote_fields",
                               "must be an object (a table with string keys), not a list");
        req->remote_fields_json.ptr = remote_fields->data;
        req->remote_fields_json.len = remote_fields->len;
    } else if (!lua_isnil(L, -1)) {
        kombo_problems_add(r->problems, "body.remote_fields", "must be a table (got %s)",
                           type_of(L, -1));
    }
    lua_pop(L, 1);
}

/* A field of the wrong Lua type already has its problem; the core would
 * only add "must not be empty" for the placeholder. */
static int has_problem_at(const kombo_problems *p, const char *path)
{
    size_t i;
    for (i = 0; i < p->count; i++)
        if (strcmp(p->items[i].path, path) == 0)
            return 1;
    return 0;
}

/* core.prepare(config, request) -> call | nil, problems */
static int l_prepare(lua_State *L)
{
    kombo_problems lua_problems, core_problems;
    kombo_config cfg;
    kombo_request req;
    lcall *c;
    reader r;
    size_t i;

    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    c = lua_newuserdata(L, sizeof *c); /* 3 */
    memset(c, 0, sizeof *c);
    c->L = L;
    c->anchor_ref = LUA_NOREF;
    c->progress_ref = LUA_NOREF;
    c->src.fn_ref = LUA_NOREF;
    c->src.chunk_ref = LUA_NOREF;
    c->src.source.ud = c;
    kombo_buf_init(&c->remote_fields);
    luaL_getmetatable(L, CALL_MT);
    lua_setmetatable(L, 3);
    lua_newtable(L); /* 4: anchor */

    kombo_problems_init(&lua_problems);
    r.L = L;
    r.anchor = 4;
    r.n = 0;
    r.problems = &lua_problems;
    read_config(&r, 1, &cfg);
    read_request(&r, 2, &req, &c->remote_fields, &c->src, &c->progress_ref, c);
    if (c->remote_fields.failed)
        return luaL_error(L, "out of memory encoding remote_fields");

    c->call = kombo_call_new(&cfg, &req, &core_problems);
    for (i = 0; i < core_problems.count; i++)
        if (!has_problem_at(&lua_problems, core_problems.items[i].path))
            kombo_problems_add(&lua_problems, core_problems.items[i].path, "%s",
                               core_problems.items[i].message);
    lua_problems.dropped += core_problems.dropped;
    if (lua_problems.count > 0) {
        kombo_call_free(c->call);
        c->call = NULL;
        lua_pushnil(L);
        push_problems(L, &lua_problems);
        return 2;
    }
    if (c->call == NULL)
        return luaL_error(L, "out of memory preparing the request");
    c->anchor_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the anchor */
    lua_settop(L, 3);
    return 1;
}

static int l_call_gc(lua_State *L)
{
    lcall *c = luaL_checkudata(L, 1, CALL_MT);
    kombo_call_free(c->call);
    c->call = NULL;
    kombo_buf_free(&c->remote_fields);
    luaL_unref(L, LUA_REGISTRYINDEX, c->anchor_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, c->progress_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, c->src.fn_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, c->src.chunk_ref);
    c->anchor_ref = c->progress_ref = c->src.fn_ref = c->src.chunk_ref = LUA_NOREF;
    return 0;
}

static int l_call_tostring(lua_State *L)
{
    lcall *c = luaL_checkudata(L, 1, CALL_MT);
    lua_pushfstring(L, "kombo.call (%p%s)", (void *)c, c->call ? "" : ", closed");
    return 1;
}

static void set_str(lua_State *L, const char *k, const char *v, size_t n)
{
    lua_pushlstring(L, v, n);
    lua_setfield(L, -2, k);
}

/* The outcome of the call as a plain table; kombo/init.lua dresses it. */
static void push_result(lua_State *L, const kombo_result *res)
{
    const kombo_classification *cls = &res->cls;
    const kombo_response *r = res->response;
    lua_createtable(L, 0, 14);
    lua_pushstring(L, kombo_kind_name(cls->kind));
    lua_setfield(L, -2, "kind");
    if (cls->kind != KOMBO_OK) {
        lua_pushstring(L, kombo_outcome_name(cls->outcome));
        lua_setfield(L, -2, "outcome");
        lua_pushstring(L, cls->message);
        lua_setfield(L, -2, "message");
    }
    if (cls->has_code)
        lua_pushstring(L, cls->code), lua_setfield(L, -2, "code");
    if (cls->has_title)
        lua_pushstring(L, cls->title), lua_setfield(L, -2, "title");
    if (cls->has_log_url)
        lua_pushstring(L, cls->log_url), lua_setfield(L, -2, "log_url");
    if (cls->retry_after >= 0)
        lua_pushnumber(L, cls->retry_after), lua_setfield(L, -2, "retry_after");
    if (res->status > 0)
        lua_pushinteger(L, res->status), lua_setfield(L, -2, "status");
    lua_pushinteger(L, res->attempts);
    lua_setfield(L, -2, "attempts");
    lua_pushnumber(L, res->elapsed);
    lua_setfield(L, -2, "elapsed");
    if (r != NULL && res->attempts > 0) {
        set_str(L, "headers", r->headers.data ? r->headers.data : "", r->headers.len);
        set_str(L, "body", r->body.data ? r->body.data : "", r->body.len);
    }
}

/* A libcurl handle as Lua sees it.  Callbacks (a source, on_progress) run
 * inside curl_easy_perform: they may close the client, which then only
 * marks the handle, freed once the transfer is over; starting another
 * transfer on the busy handle is an error. */
typedef struct lcurl {
    kombo_curl *t;
    int busy;
    int close_pending;
} lcurl;

static kombo_curl *acquire_curl(lua_State *L, int i, lcurl **out)
{
    lcurl *lc = luaL_checkudata(L, i, CURL_MT);
    if (lc->t == NULL || lc->close_pending)
        luaL_argerror(L, i, "client is closed");
    if (lc->busy)
        luaL_error(L, "kombo client is busy with another upload (an upload was started from its own "
                      "source or on_progress callback)");
    lc->busy = 1;
    *out = lc;
    return lc->t;
}

static void release_curl(lcurl *lc)
{
    lc->busy = 0;
    if (lc->close_pending) {
        kombo_curl_free(lc->t);
        lc->t = NULL;
        lc->close_pending = 0;
    }
}

/* call:perform(curl) -> result table (blocking; for scripts) */
static int l_call_perform(lua_State *L)
{
    lcall *c = check_call(L, 1);
    lcurl *lc;
    kombo_curl *t = acquire_curl(L, 2, &lc);
    const kombo_result *res = kombo_curl_perform(t, c->call);
    release_curl(lc);
    push_result(L, res);
    return 1;
}

/* call:attempt(curl): one attempt with libcurl, reported to the call (for
 * a loop driven from Lua, e.g. with a debug hook between the steps). */
static int l_call_attempt(lua_State *L)
{
    lcall *c = check_call(L, 1);
    lcurl *lc;
    kombo_curl *t = acquire_curl(L, 2, &lc);
    kombo_curl_attempt(t, c->call);
    release_curl(lc);
    kombo_call_complete(c->call, kombo_call_response(c->call), kombo_monotonic_now(),
                        kombo_wall_now());
    return 0;
}

/* The sans-I/O steps, for transports written in Lua (cosockets). */

/* call:next(now) -> "send" | "sleep", delay | "done" */
static int l_call_next(lua_State *L)
{
    lcall *c = check_call(L, 1);
    double delay;
    switch (kombo_call_next(c->call, luaL_checknumber(L, 2), &delay)) {
    case KOMBO_STEP_SEND:
        lua_pushliteral(L, "send");
        return 1;
    case KOMBO_STEP_SLEEP:
        lua_pushliteral(L, "sleep");
        lua_pushnumber(L, delay);
        return 2;
    default:
        lua_pushliteral(L, "done");
        return 1;
    }
}

/* call:request() -> url, {"Name: value", ...}, content_length, max_response_bytes
 * (the cap the core applies, defaults resolved) */
static int l_call_request(lua_State *L)
{
    lcall *c = check_call(L, 1);
    size_t i, n = kombo_call_header_count(c->call);
    lua_pushstring(L, kombo_call_url(c->call));
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_pushstring(L, kombo_call_header(c->call, i));
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_pushinteger(L, (lua_Integer)kombo_call_body(c->call)->length);
    lua_pushinteger(L, (lua_Integer)kombo_call_config(c->call)->max_response_bytes);
    return 4;
}

/* call:read(max) -> next chunk of the body; nothing at the end; nil, message
 * when the attachment's source failed (the request must be aborted) */
static int l_call_read(lua_State *L)
{
    lcall *c = check_call(L, 1);
    size_t max = (size_t)clamp_num(luaL_optnumber(L, 2, 65536), 0, 1e9);
    luaL_Buffer b;
    size_t n;
    char *p;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): LUAL_BUFFERSIZE is Lua's 16*sizeof*sizeof */
    if (max == 0 || max > LUAL_BUFFERSIZE)
        max = LUAL_BUFFERSIZE; /* NOLINT(bugprone-sizeof-expression): Lua's macro */
    luaL_buffinit(L, &b);
    p = luaL_prepbuffer(&b); /* NOLINT(bugprone-sizeof-expression): Lua's macro */
    n = kombo_body_read(kombo_call_body(c->call), p, max);
    if (n == 0) {
        kombo_body *body = kombo_call_body(c->call);
        if (!body->failed)
            return 0;
        lua_pushnil(L);
        lua_pushstring(L, body->error);
        return 2;
    }
    luaL_addsize(&b, n);
    luaL_pushresult(&b);
    return 1;
}

/* call:rewind() -> true | nil, message (a one-shot source cannot rewind) */
static int l_call_rewind(lua_State *L)
{
    lcall *c = check_call(L, 1);
    kombo_body *body = kombo_call_body(c->call);
    if (kombo_body_rewind(body) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, body->error);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* call:body() -> the whole body (tests and small requests) */
static int l_call_body(lua_State *L)
{
    lcall *c = check_call(L, 1);
    kombo_body *body = kombo_call_body(c->call);
    luaL_Buffer b;
    size_t n;
    kombo_body_rewind(body);
    luaL_buffinit(L, &b);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): Lua's LUAL_BUFFERSIZE */
    while ((n = kombo_body_read(body, luaL_prepbuffer(&b), LUAL_BUFFERSIZE)) > 0)
        luaL_addsize(&b, n);
    luaL_pushresult(&b);
    if (body->failed) { /* never a short body as if it were whole */
        lua_pushnil(L);
        lua_pushstring(L, body->error);
        return 2;
    }
    kombo_body_rewind(body);
    return 1;
}

static const char *const transport_errors[] = {"", "network", "timeout", "too_large", "aborted", NULL};
static const char *const phases[] = {"connect", "sending", "waiting", "receiving", "done", NULL};

/* call:complete{status=, headers=, body=, error=, phase=, message=}, now, wall_now */
static int l_call_complete(lua_State *L)
{
    lcall *c = check_call(L, 1);
    kombo_response *r = kombo_call_response(c->call);
    size_t n;
    const char *s;
    luaL_checktype(L, 2, LUA_TTABLE);
    kombo_response_reset(r);
    lua_getfield(L, 2, "status");
    r->status = (int)clamp_num(luaL_optnumber(L, -1, 0), 0, 1e6); /* > 999: "invalid HTTP status" */
    lua_getfield(L, 2, "headers");
    if ((s = lua_tolstring(L, -1, &n)) != NULL)
        kombo_buf_append(&r->headers, s, n);
    lua_getfield(L, 2, "body");
    if ((s = lua_tolstring(L, -1, &n)) != NULL && kombo_buf_append(&r->body, s, n) != 0)
        r->error = KOMBO_TE_TOO_LARGE;
    lua_getfield(L, 2, "error");
    if (!lua_isnil(L, -1))
        r->error = (kombo_transport_error)luaL_checkoption(L, -1, NULL, transport_errors);
    lua_getfield(L, 2, "phase");
    r->phase = (kombo_phase)luaL_checkoption(L, -1, "done", phases);
    lua_getfield(L, 2, "message");
    snprintf(r->error_message, sizeof r->error_message, "%s", luaL_optstring(L, -1, ""));
    if (r->error == KOMBO_TE_TOO_LARGE && r->error_message[0] == '\0')
        snprintf(r->error_message, sizeof r->error_message, "response body larger than %zu bytes",
                 kombo_call_config(c->call)->max_response_bytes);
    kombo_call_complete(c->call, r, luaL_checknumber(L, 3), luaL_checknumber(L, 4));
    return 0;
}

/* call:result() -> result table */
static int l_call_result(lua_State *L)
{
    lcall *c = check_call(L, 1);
    push_result(L, kombo_call_result(c->call));
    return 1;
}

/* ------------------------------------------------- the curl transport */

static int l_curl_new(lua_State *L)
{
    lcurl *lc = lua_newuserdata(L, sizeof *lc);
    memset(lc, 0, sizeof *lc);
    luaL_getmetatable(L, CURL_MT);
    lua_setmetatable(L, -2);
    lc->t = kombo_curl_new();
    if (lc->t == NULL)
        return luaL_error(L, "cannot initialise libcurl");
    return 1;
}

/* __gc, __close and close(): never frees a handle inside its own transfer
 * (a transfer keeps its handle's userdata on the stack, so __gc cannot
 * run then; close() from a callback can). */
static int l_curl_close(lua_State *L)
{
    lcurl *lc = luaL_checkudata(L, 1, CURL_MT);
    if (lc->busy) {
        lc->close_pending = 1;
        return 0;
    }
    kombo_curl_free(lc->t);
    lc->t = NULL;
    return 0;
}

static int l_curl_tostring(lua_State *L)
{
    lcurl *lc = luaL_checkudata(L, 1, CURL_MT);
    lua_pushfstring(L, "kombo.curl (%p%s)", (void *)lc, lc->t && !lc->close_pending ? "" : ", closed");
    return 1;
}

/* ------------------------------------------------------- free helpers */

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

static int l_base64_encode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    /* whole 3-byte groups per buffer */
    size_t chunk = (LUAL_BUFFERSIZE / 4) * 3; /* NOLINT(bugprone-sizeof-expression): Lua's macro */
    luaL_buffinit(L, &b);
    while (n > 0) {
        size_t take = n < chunk ? n : chunk;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): Lua's luaL_prepbuffer */
        luaL_addsize(&b, kombo_base64_encode(luaL_prepbuffer(&b), (const unsigned char *)s, take));
        s += take;
        n -= take;
    }
    luaL_pushresult(&b);
    return 1;
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

static int l_now(lua_State *L)
{
    lua_pushnumber(L, kombo_monotonic_now());
    lua_pushnumber(L, kombo_wall_now());
    return 2;
}

static int l_sleep(lua_State *L)
{
    kombo_sleep(luaL_checknumber(L, 1));
    return 0;
}

/* core.set_sentinels(null, empty_array): JSON values with no Lua type. */
static int l_set_sentinels(lua_State *L)
{
    lua_settop(L, 2);
    lua_setfield(L, LUA_REGISTRYINDEX, "kombo.empty_array");
    lua_setfield(L, LUA_REGISTRYINDEX, "kombo.null");
    return 0;
}

static void new_class(lua_State *L, const char *name, const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

static const char empty_array_sentinel = 0;

int luaopen_kombo_core(lua_State *L)
{
    static const luaL_Reg call_methods[] = {
        {"perform", l_call_perform}, {"attempt", l_call_attempt}, {"next", l_call_next},     {"request", l_call_request},
        {"read", l_call_read},       {"rewind", l_call_rewind},       {"body", l_call_body},     {"complete", l_call_complete},
        {"result", l_call_result},   {"close", l_call_gc},      {"__gc", l_call_gc},
        {"__close", l_call_gc},      {"__tostring", l_call_tostring}, {NULL, NULL}};
    static const luaL_Reg curl_methods[] = {{"close", l_curl_close},
                                            {"__gc", l_curl_close},
                                            {"__close", l_curl_close},
                                            {"__tostring", l_curl_tostring},
                                            {NULL, NULL}};
    static const luaL_Reg functions[] = {{"prepare", l_prepare},
                                         {"curl", l_curl_new},
                                         {"json_string", l_json_string},
                                         {"percent_encode", l_percent_encode},
                                         {"base64_encode", l_base64_encode},
                                         {"base64_valid", l_base64_valid},
                                         {"utf8_valid", l_utf8_valid},
                                         {"parse_retry_after", l_parse_retry_after},
                                         {"now", l_now},
                                         {"sleep", l_sleep},
                                         {"set_sentinels", l_set_sentinels},
                                         {NULL, NULL}};

    new_class(L, CALL_MT, call_methods);
    new_class(L, CURL_MT, curl_methods);
    lua_newtable(L);
    luaL_setfuncs(L, functions, 0);
    lua_pushliteral(L, KOMBO_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, kombo_curl_version());
    lua_setfield(L, -2, "curl_version");
    lua_pushnumber(L, KOMBO_STALE_WINDOW);
    lua_setfield(L, -2, "STALE_WINDOW");
    /* JSON's [] for cjson builds that lack cjson.empty_array. */
    lua_pushlightuserdata(L, (void *)&empty_array_sentinel);
    lua_setfield(L, -2, "empty_array");
    return 1;
}

/*
 * lua_request.c - a call's argument table into the core's request, in one
 * pass that records every problem (the rules themselves are the core's,
 * request.c and model_attachment.c).
 *
 * Keys are checked against the operation (its path parameters,
 * integration_id, body, on_progress) and the body model's field list: an
 * unknown key is a problem that suggests the nearest known one, since a
 * misspelt key (contentType) would otherwise be dropped silently.
 * remote_fields are the exception: ATS-specific, passed through as JSON.
 */
#include "lua/lua_kombo.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_JSON_DEPTH 32

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

static const char *type_of(lua_State *L, int idx)
{
    return lua_typename(L, lua_type(L, idx));
}

/* The strings a call borrows live in an anchor table referenced from the
 * registry until the call is freed, so the GC cannot collect them. */
typedef struct reader {
    lua_State *L;
    int anchor; /* stack index of the anchor table */
    int n;
    kombo_problems *problems;
} reader;

/* The value on top of the stack as an optional string at `path`.  A value
 * of the wrong type is a problem and comes back as "" (present but
 * unusable), so that the rules do not also call it missing. */
static kombo_str top_str(reader *r, const char *path)
{
    lua_State *L = r->L;
    kombo_str s = KOMBO_STR_NULL;
    if (lua_type(L, -1) == LUA_TSTRING) {
        s.ptr = lua_tolstring(L, -1, &s.len);
        lua_pushvalue(L, -1);
        lua_rawseti(L, r->anchor, ++r->n);
    } else if (!lua_isnil(L, -1)) {
        kombo_problems_add(r->problems, path, "must be a string (got %s)", type_of(L, -1));
        s.ptr = "";
    }
    return s;
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

/* A path parameter of the operation's sibling (application_id given to
 * attach_to_candidate): a problem that names the operation to call. */
static int other_target(reader *r, const kombo_operation *op, const char *key, size_t n)
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

/* An unknown key at `base`: a problem naming it, with the nearest known
 * key when there is one. */
static void unknown_key(reader *r, const char *base, const void *table, size_t stride)
{
    lua_State *L = r->L;
    char path[128];
    if (lua_type(L, -2) != LUA_TSTRING) {
        kombo_problems_add(r->problems, base[0] ? base : "(arguments)",
                           "has a %s key; only field names are allowed", type_of(L, -2));
        return;
    }
    {
        size_t n;
        const char *key = lua_tolstring(L, -2, &n);
        const char *near = kombo_suggest_key(key, n, table, stride);
        snprintf(path, sizeof path, "%s%s%.*s", base, base[0] ? "." : "", (int)(n > 64 ? 64 : n), key);
        if (near != NULL)
            kombo_problems_add(r->problems, path, "is not a known field (did you mean %s?)", near);
        else
            kombo_problems_add(r->problems, path, "is not a known field");
    }
}

/* ------------------------------------------------- remote_fields -> JSON */

/* Written here rather than with lua-cjson: Debian's lua-cjson 2.1.0 writes
 * 2^53+1 as 9.007199254741e+15 (14 significant digits), has no
 * empty_array, and raises instead of reporting a path; a request must be
 * sent exactly as given or refused with a reason. */
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

/* Arrays decoded from an answer carry this metatable (lua_json.c), so that
 * an empty one is written back as [] and not as {}. */
static int has_array_mt(lua_State *L, int idx)
{
    int yes;
    if (!lua_getmetatable(L, idx))
        return 0;
    lua_getfield(L, LUA_REGISTRYINDEX, "kombo.array_mt");
    yes = !lua_isnil(L, -1) && lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
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
    if (n == 0 && !mixed && has_array_mt(L, idx)) {
        kombo_buf_puts(w->out, "[]"); /* an empty array decoded from an answer */
    } else if (n > 0) {
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


static void write_remote_fields(reader *r, int idx, kombo_buf *out, kombo_request *req)
{
    lua_State *L = r->L;
    json_writer w;
    w.L = L;
    w.out = out;
    w.problems = r->problems;
    lua_newtable(L);
    w.visiting = lua_gettop(L);
    strcpy(w.path, "body.remote_fields");
    json_table(&w, idx, 1);
    lua_pop(L, 1);
    if (out->len > 0 && out->data[0] == '[')
        kombo_problems_add(r->problems, "body.remote_fields",
                           "must be an object (a table with string keys), not a list");
    req->remote_fields_json.ptr = out->data;
    req->remote_fields_json.len = out->len;
}

/* ------------------------------------------------- sources and progress */

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
    lcall *c = ud;
    lsource *s = &c->src;
    lua_State *L = c->L;

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

/* attachment.source (a function or ltn12 source) with attachment.size;
 * the attachment table is at `a`. */
static void read_source(reader *r, int a, kombo_attachment *at, lcall *c)
{
    lua_State *L = r->L;
    lua_getfield(L, a, "source");
    lua_getfield(L, a, "size");
    if (!lua_isnil(L, -2)) {
        const size_t max_content = KOMBO_MAX_CONTENT_BYTES; /* an integer, then a double */
        double size = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
        at->source_given = 1;
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
            c->src.fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
            c->src.source.read = lsource_read;
            c->src.source.rewind = NULL; /* a function cannot be replayed */
            c->src.source.ud = c;
            /* A size past what the build can send stays past it (and the
             * rules say so); the cast stays defined on 32 bits. */
            c->src.source.size = (size_t)kombo_lua_clamp(size, 0, (double)max_content + 1);
            at->source = &c->src.source;
        }
    } else if (!lua_isnil(L, -1)) {
        kombo_problems_add(r->problems, "body.attachment.size", "is only used with source");
    }
    lua_pop(L, 2);
}

/* body.attachment, the table at `a`: every key is one of the model's. */
static void read_attachment(reader *r, int a, kombo_attachment *at, lcall *c)
{
    lua_State *L = r->L;
    lua_pushnil(L);
    while (lua_next(L, a) != 0) {
        const kombo_field *f = NULL;
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *key = lua_tostring(L, -2);
            for (f = kombo_attachment_fields; f->key != NULL; f++)
                if (strcmp(f->key, key) == 0)
                    break;
        }
        if (f == NULL || f->key == NULL) {
            unknown_key(r, "body.attachment", kombo_attachment_fields, sizeof *f);
        } else if (f->offset != (size_t)-1) {
            char path[64];
            snprintf(path, sizeof path, "body.attachment.%s", f->key);
            *(kombo_str *)(void *)((char *)at + f->offset) = top_str(r, path);
        }
        lua_pop(L, 1);
    }
    read_source(r, a, at, c);
}

/* The top-level keys an operation takes, for suggestions. */
static size_t call_keys(const kombo_operation *op, const char **keys, size_t cap)
{
    size_t n = 0, i;
    for (i = 0; i < KOMBO_MAX_PARAMS && op->params[i] != NULL && n + 1 < cap; i++)
        keys[n++] = op->params[i];
    if (op->integration_scoped)
        keys[n++] = "integration_id";
    if (op->body != KOMBO_BODY_NONE) {
        keys[n++] = "body";
        keys[n++] = "on_progress";
        keys[n++] = "preflight"; /* read by the Lua layer (kombo/init.lua) */
    }
    keys[n] = NULL;
    return n;
}

static const char *shape_error(lua_State *L, const char *what, int idx)
{
    return lua_pushfstring(L, "%s must be a table, got %s", what, type_of(L, idx));
}

const char *kombo_lua_read_request(lua_State *L, int t, int anchor, const kombo_operation *op,
                                   kombo_request *req, lcall *c, kombo_problems *problems)
{
    const char *keys[KOMBO_MAX_PARAMS + 5];
    reader r;
    int body = 0, attachment = 0, remote = 0;
    size_t i, nkeys;

    memset(req, 0, sizeof *req);
    req->op = op;
    r.L = L;
    r.anchor = anchor;
    r.n = 0;
    r.problems = problems;
    if (lua_isnil(L, t) && op->body == KOMBO_BODY_NONE) {
        lua_newtable(L); /* client:check_api_key(): no arguments at all */
        lua_replace(L, t);
    }
    if (!lua_istable(L, t))
        return shape_error(L, "the argument", t);
    nkeys = call_keys(op, keys, sizeof keys / sizeof keys[0]);

    /* Shape first: these raise, before any problem is looked for.  A
     * missing body is a problem (below), like a missing id. */
    if (op->body == KOMBO_BODY_ATTACHMENT) {
        lua_getfield(L, t, "body");
        body = lua_gettop(L);
        if (lua_isnil(L, body)) {
            lua_pop(L, 1);
            lua_newtable(L); /* read as empty: nothing below looks at it */
            kombo_problems_add(problems, "body", "is required");
        } else if (!lua_istable(L, body)) {
            return shape_error(L, "'body'", body);
        }
        lua_getfield(L, body, "attachment");
        attachment = lua_gettop(L);
        if (!lua_isnil(L, attachment) && !lua_istable(L, attachment))
            return shape_error(L, "'body.attachment'", attachment);
        lua_getfield(L, body, "remote_fields");
        remote = lua_gettop(L);
        if (!lua_isnil(L, remote) && !lua_istable(L, remote))
            return shape_error(L, "'body.remote_fields'", remote);
    }

    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        size_t k = nkeys;
        if (lua_type(L, -2) == LUA_TSTRING)
            for (k = 0; k < nkeys; k++)
                if (strcmp(keys[k], lua_tostring(L, -2)) == 0)
                    break;
        if (k == nkeys) {
            size_t n = 0;
            const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : NULL;
            if (key == NULL || !other_target(&r, op, key, n))
                unknown_key(&r, "", keys, sizeof keys[0]);
        }
        lua_pop(L, 1);
    }
    for (i = 0; i < KOMBO_MAX_PARAMS && op->params[i] != NULL; i++) {
        lua_getfield(L, t, op->params[i]);
        req->params[i] = top_str(&r, op->params[i]);
        lua_pop(L, 1);
    }
    if (op->integration_scoped) {
        lua_getfield(L, t, "integration_id");
        req->integration_id = top_str(&r, "integration_id");
        lua_pop(L, 1);
    }
    if (op->body != KOMBO_BODY_ATTACHMENT)
        return NULL;

    lua_pushnil(L);
    while (lua_next(L, body) != 0) {
        size_t k;
        for (k = 0; kombo_attachment_body_keys[k] != NULL; k++)
            if (lua_type(L, -2) == LUA_TSTRING && strcmp(kombo_attachment_body_keys[k], lua_tostring(L, -2)) == 0)
                break;
        if (kombo_attachment_body_keys[k] == NULL)
            unknown_key(&r, "body", kombo_attachment_body_keys, sizeof kombo_attachment_body_keys[0]);
        lua_pop(L, 1);
    }
    if (lua_istable(L, attachment)) {
        req->has_attachment = 1;
        read_attachment(&r, attachment, &req->attachment, c);
    }
    if (lua_istable(L, remote))
        write_remote_fields(&r, remote, &c->remote_fields, req);

    lua_getfield(L, t, "preflight"); /* used by the Lua layer (kombo/init.lua) */
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
        kombo_problems_add(problems, "preflight", "must be a boolean (got %s)", type_of(L, -1));
    lua_pop(L, 1);

    lua_getfield(L, t, "on_progress");
    if (is_callable(L, -1)) {
        lua_pushvalue(L, -1);
        c->progress_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        req->on_progress = lprogress;
        req->progress_ud = c;
    } else if (!lua_isnil(L, -1)) {
        kombo_problems_add(problems, "on_progress", "must be a function (got %s)", type_of(L, -1));
    }
    lua_pop(L, 1);
    return NULL;
}

/* ---------------------------------------------------- kombo.encode_json */

/* core.encode_json(value) -> JSON text | nil, message: the same writer as
 * remote_fields, so a result re-encodes as the answer it came from (an
 * empty array decoded from it as [], integers as integers). */
int kombo_lua_encode_json(lua_State *L)
{
    kombo_problems problems;
    kombo_buf out;
    json_writer w;
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    kombo_problems_init(&problems);
    kombo_buf_init(&out);
    w.L = L;
    w.out = &out;
    w.problems = &problems;
    lua_newtable(L);
    w.visiting = 2;
    strcpy(w.path, "value");
    json_value(&w, 1, 1);
    if (problems.count > 0 || out.failed) {
        lua_pushnil(L);
        if (out.failed)
            lua_pushliteral(L, "out of memory");
        else
            lua_pushfstring(L, "%s %s", problems.items[0].path, problems.items[0].message);
        kombo_buf_free(&out);
        return 2;
    }
    lua_pushlstring(L, out.data ? out.data : "", out.len);
    kombo_buf_free(&out);
    return 1;
}

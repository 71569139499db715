/*
 * lkombo.c - the Lua binding, module "kombo.core": clients, the operation
 * table and defaults as Lua sees them, and the few free functions the Lua
 * layer needs.  Calls live in lua_call.c, reading arguments in
 * lua_request.c; the binding's files are listed in lua_kombo.h.
 *
 * It raises Lua errors only for misuse of its own interface (kombo/init.lua
 * calls it); problems with the user's data come back as a list of
 * {path=, message=} tables.
 */
#include "lua/lua_kombo.h"
#include "lua/lua_json.h"
#include "core/internal.h" /* kombo_header_name_is */
#include "core/buf.h"
#include "core/codec.h"
#include "core/file.h"
#include "core/classify.h"
#include "core/redact.h"
#include "core/request.h"
#include "core/client.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ config */

/* core.call_options: the options a call may have of its own, as
 * core.options names them ({ timeout = "number", ..., retries = true }). */
static void push_call_options(lua_State *L)
{
    static const char *const lua_type_of[] = {"string", "number", "number", "number", "boolean", "string|boolean"};
    const kombo_option *o;
    lua_newtable(L);
    for (o = kombo_options; o->name != NULL; o++) {
        if (!o->per_call)
            continue;
        if (strncmp(o->name, "retries.", 8) == 0) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "retries");
        } else {
            lua_pushstring(L, lua_type_of[o->kind]);
            lua_setfield(L, -2, o->name);
        }
    }
}

/* core.options: { name = "string" | "number" | "boolean" | "string|boolean", retries = {...} }
 * from kombo_options, for the Lua layer's type checks. */
static void push_options(lua_State *L)
{
    static const char *const lua_type_of[] = {"string", "number", "number", "number", "boolean", "string|boolean"};
    const kombo_option *o;
    lua_newtable(L);
    lua_newtable(L);
    for (o = kombo_options; o->name != NULL; o++) {
        int retry = strncmp(o->name, "retries.", 8) == 0;
        lua_pushstring(L, lua_type_of[o->kind]);
        lua_setfield(L, retry ? -2 : -3, retry ? o->name + 8 : o->name);
    }
    lua_setfield(L, -2, "retries");
}

/* ------------------------------------------------------------ proxies */

/* core.proxy(url) -> { host =, port =, authority = "host:port",
 * authorization = "Basic ..." | nil, credentials = "user:password" | nil,
 * user =, password = (percent-decoded) } | nil, message: the
 * core's one reading of a proxy URL (kombo_proxy_parse), for the cosocket
 * transport and for the secrets a client redacts.  The message never
 * quotes the URL. */
static int l_proxy(lua_State *L)
{
    const char *url = luaL_checkstring(L, 1);
    const char *why = NULL;
    kombo_proxy px;
    if (kombo_proxy_parse(url, &px, &why) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    lua_createtable(L, 0, 7);
    lua_pushlstring(L, px.host.ptr, px.host.len);
    lua_setfield(L, -2, "host");
    lua_pushinteger(L, px.port);
    lua_setfield(L, -2, "port");
    lua_pushlstring(L, px.host.ptr, px.host.len);
    lua_pushfstring(L, ":%d", px.port);
    lua_concat(L, 2);
    lua_setfield(L, -2, "authority");
    if (px.user.ptr != NULL) {
        kombo_buf cred;
        char *b64;
        size_t n, user_len;
        kombo_buf_init(&cred);
        if (kombo_proxy_credentials(&px, &cred) != 0) {
            kombo_buf_free(&cred);
            return luaL_error(L, "out of memory");
        }
        n = kombo_base64_encoded_len(cred.len);
        b64 = lua_newuserdata(L, n + 1);
        kombo_base64_encode(b64, (const unsigned char *)cred.data, cred.len);
        lua_pushliteral(L, "Basic ");
        lua_pushlstring(L, b64, n);
        lua_concat(L, 2);
        memset(b64, 0, n);
        lua_setfield(L, -3, "authorization");
        lua_pop(L, 1);
        lua_pushlstring(L, cred.data, cred.len);
        lua_setfield(L, -2, "credentials");
        /* the decoded user is what comes before the ':' kombo_proxy_credentials put in */
        kombo_buf_reset(&cred);
        px.password = KOMBO_STR_NULL;
        if (kombo_proxy_credentials(&px, &cred) != 0) {
            kombo_buf_free(&cred);
            return luaL_error(L, "out of memory");
        }
        user_len = cred.len - 1; /* "user:" */
        lua_getfield(L, -1, "credentials");
        lua_pushlstring(L, lua_tostring(L, -1), user_len);
        lua_setfield(L, -3, "user");
        lua_pushstring(L, lua_tostring(L, -1) + user_len + 1);
        lua_setfield(L, -3, "password");
        lua_pop(L, 1);
        memset(cred.data, 0, cred.len);
        kombo_buf_free(&cred);
    }
    return 1;
}

/* core.proxy_refusal(host_port, status) -> the message for a refused
 * CONNECT (both transports word it the same: kombo_proxy_refusal). */
static int l_proxy_refusal(lua_State *L)
{
    char msg[256];
    kombo_proxy_refusal(msg, sizeof msg, luaL_checkstring(L, 1), (int)luaL_checkinteger(L, 2));
    lua_pushstring(L, msg);
    return 1;
}

/* ------------------------------------------------------------ clients */

/* core.client(options) -> client | nil, problems (option names as paths) */
static int l_client_new(lua_State *L)
{
    kombo_problems problems;
    kombo_config cfg;
    lclient *lc;
    luaL_checktype(L, 1, LUA_TTABLE);
    kombo_problems_init(&problems);
    kombo_lua_read_config(L, 1, &cfg, &problems);
    lc = lua_newuserdata(L, sizeof *lc);
    memset(lc, 0, sizeof *lc);
    lc->spare_anchor = LUA_NOREF;
    lc->run_call = LUA_NOREF;
    luaL_getmetatable(L, CLIENT_MT);
    lua_setmetatable(L, -2);
    if (problems.count == 0) {
        lc->client = kombo_client_new(&cfg, &problems);
        if (lc->client == NULL && problems.count == 0)
            return luaL_error(L, "out of memory");
    }
    if (problems.count > 0) {
        lua_pushnil(L);
        kombo_lua_push_problems(L, &problems);
        return 2;
    }
    return 1;
}

lclient *kombo_lua_check_client(lua_State *L, int i)
{
    lclient *lc = luaL_checkudata(L, i, CLIENT_MT);
    if (lc->client == NULL || lc->close_pending)
        luaL_error(L, "kombo client is closed");
    return lc;
}

/* The operation at stack index 2 for client:prepare and client:run: its
 * index in core.operations (op.index, no name compared), or its name. */
static const kombo_operation *operation_arg(lua_State *L)
{
    const kombo_operation *op;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        double i = lua_tonumber(L, 2);
        op = i >= 0 && i < 1e6 && i == (double)(size_t)i ? kombo_operation_at((size_t)i) : NULL;
    } else {
        op = kombo_operation_find(luaL_checkstring(L, 2));
    }
    if (op == NULL)
        luaL_argerror(L, 2, "unknown operation");
    return op;
}

/* The client at 1 (its methods hold its metatable as their upvalue 1),
 * open. */
static lclient *client_for_call(lua_State *L)
{
    lclient *lc = kombo_lua_to_udata(L, 1, 1, CLIENT_MT);
    if (lc->client == NULL || lc->close_pending)
        kombo_lua_check_client(L, 1); /* raises */
    return lc;
}

/* client:prepare(op, args [, problems [, list_files [, options [, reuse]]]]) -> call | nil, problems
 * | nil, false, message (args' shape) | nil, false, nil, message (options)
 * list_files: note the body's file objects for call:files() (preflight);
 * options: the call's own settings and headers (kombo/call.lua has
 * checked the names and types); op: its index or name; reuse: a call
 * closed by the caller, made again in place when nothing holds it (see
 * kombo_lua_reusable_call), else a new one is made.  Upvalues: the client
 * metatable, the call metatable (compared, not looked up per call). */
static int l_client_prepare(lua_State *L)
{
    lclient *lc = client_for_call(L);
    const kombo_operation *op = operation_arg(L);
    int list_files = lua_toboolean(L, 5);
    int options = lua_istable(L, 6) ? 6 : 0;
    lua_settop(L, 7);
    return kombo_lua_new_call(L, lc, 1, op, 3, list_files, options,
                              kombo_lua_reusable_call(L, 7, lua_upvalueindex(2)) ? 7 : 0, 0);
}

/* client:run(op, args [, index]) -> as call:perform(index) of the call
 * prepare makes, closed before this returns | as prepare when it makes
 * none (nil, ...).  The common call (kombo/call.lua) in one step: no
 * options, problems, file list or preflight of its own. */
static int l_client_run(lua_State *L)
{
    lclient *lc = client_for_call(L);
    const kombo_operation *op = operation_arg(L);
    lua_settop(L, 4);
    lua_pushnil(L);
    lua_insert(L, 4); /* 4: no problems; the index at 5 */
    return kombo_lua_client_run(L, lc, op, 1, 3, lua_isfunction(L, 5) ? 5 : 0, 0);
}

/* client:set_secrets({ secret, ... }): what the client's answers are
 * redacted of (kombo/client.lua: the API key and proxy credentials, at
 * most 16); the redactor is made now, once for all its calls. */
static int l_client_set_secrets(lua_State *L)
{
    lclient *lc = kombo_lua_check_client(L, 1);
    kombo_str keys[16];
    size_t n = 0, need;
    kombo_redactor *r;
    int i;

    luaL_checktype(L, 2, LUA_TTABLE);
    for (i = 1; i <= 16; i++) {
        lua_rawgeti(L, 2, i);
        if (lua_type(L, -1) == LUA_TSTRING) /* it stays alive in the table */
            keys[n].ptr = lua_tolstring(L, -1, &keys[n].len), n++;
        lua_pop(L, 1);
    }
    need = kombo_redactor_extra_keys(keys, n);
    r = malloc(sizeof *r + need);
    if (r == NULL)
        return luaL_error(L, "out of memory");
    kombo_lua_client_drop_redactor(lc);
    if (kombo_redactor_init_keys(r, keys, n, need ? (void *)(r + 1) : NULL)) {
        lc->redactor = r;
        lc->redactor_size = sizeof *r + need;
    } else {
        free(r);
        lc->redactor_none = 1;
    }
    return 0;
}

static int l_client_close(lua_State *L)
{
    lclient *lc = luaL_checkudata(L, 1, CLIENT_MT);
    if (lc->client != NULL)
        lc->close_pending = 1;
    kombo_lua_client_maybe_free(lc);
    luaL_unref(L, LUA_REGISTRYINDEX, lc->spare_anchor);
    lc->spare_anchor = LUA_NOREF;
    while (lc->nmore_anchors > 0)
        luaL_unref(L, LUA_REGISTRYINDEX, lc->more_anchors[--lc->nmore_anchors]);
    luaL_unref(L, LUA_REGISTRYINDEX, lc->run_call);
    lc->run_call = LUA_NOREF;
    return 0;
}

static int l_client_closed(lua_State *L)
{
    lclient *lc = luaL_checkudata(L, 1, CLIENT_MT);
    lua_pushboolean(L, lc->client == NULL || lc->close_pending);
    return 1;
}

static int l_client_tostring(lua_State *L)
{
    lclient *lc = luaL_checkudata(L, 1, CLIENT_MT);
    lua_pushfstring(L, "kombo.core_client (%p%s)", (void *)lc, lc->client ? "" : ", closed");
    return 1;
}

/* ------------------------------------------------- operations, defaults */

/* t[k] = v for the table on top of the stack. */
static void set_string(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void set_number(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_boolean(lua_State *L, const char *k, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

/* core.operations: the operation table (csrc/gen/operations.c) as Lua sees it; the
 * Lua layer makes one client method per entry. */
static void push_operations(lua_State *L)
{
    const kombo_operation *op;
    size_t i, k;
    lua_newtable(L);
    for (i = 0; (op = kombo_operation_at(i)) != NULL; i++) {
        lua_createtable(L, 0, 15);
        set_string(L, "name", op->name);
        lua_pushinteger(L, (lua_Integer)i); /* client:prepare takes it for the name */
        lua_setfield(L, -2, "index");
        set_string(L, "method", op->method);
        set_string(L, "path", op->path);
        lua_newtable(L);
        for (k = 0; k < KOMBO_MAX_PARAMS && op->params[k] != NULL; k++) {
            lua_pushstring(L, op->params[k]);
            lua_rawseti(L, -2, (int)k + 1);
        }
        lua_setfield(L, -2, "params");
        if (kombo_operation_is_upload(op))
            set_string(L, "body", "attachment");
        else if (op->body_schema != NULL)
            set_string(L, "body", "json");
        set_boolean(L, "idempotent", op->idempotent);
        set_boolean(L, "warnings", op->response.warnings);
        if (op->response.data_member != NULL)
            set_string(L, "data_member", op->response.data_member);
        if (op->response.list) {
            /* pages() and each() follow it; page_size_max is what they ask for by default */
            set_boolean(L, "list", 1);
            if (op->page_size_max > 0) {
                lua_pushinteger(L, op->page_size_max);
                lua_setfield(L, -2, "page_size_max");
            }
        }
        set_boolean(L, "integration_scoped", op->integration_scoped);
        set_boolean(L, "has_query", op->query != NULL);
        if (op->doc_url != NULL)
            set_string(L, "doc_url", op->doc_url);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

/* core.defaults: kombo_config_defaults, the one table of defaults;
 * max_response_bytes and max_list_response_bytes are the caps its
 * max_response_bytes = 0 stands for (kombo_max_response). */
static void push_defaults(lua_State *L)
{
    const kombo_config *d = &kombo_config_defaults;
    lua_newtable(L);
    set_string(L, "server_url", d->server_url);
    set_number(L, "timeout", d->timeout);
    set_number(L, "connect_timeout", d->connect_timeout);
    lua_pushinteger(L, (lua_Integer)KOMBO_DEFAULT_MAX_RESPONSE);
    lua_setfield(L, -2, "max_response_bytes");
    lua_pushinteger(L, (lua_Integer)KOMBO_DEFAULT_MAX_LIST_RESPONSE);
    lua_setfield(L, -2, "max_list_response_bytes");
    lua_newtable(L);
    lua_pushinteger(L, d->retry.max_attempts);
    lua_setfield(L, -2, "max_attempts");
    set_number(L, "initial_interval", d->retry.initial_interval);
    set_number(L, "max_interval", d->retry.max_interval);
    set_number(L, "exponent", d->retry.exponent);
    set_number(L, "max_elapsed", d->retry.max_elapsed);
    set_boolean(L, "retry_unsafe", d->retry.retry_unsafe);
    lua_setfield(L, -2, "retries");
}

/* ------------------------------------------------------- free helpers */

/* core.suggest_key(key, {names...}) -> the nearest name | nil: the core's
 * suggestion for a misspelt key (kombo_suggest_key), for the Lua layer's
 * options. */
static int l_suggest_key(lua_State *L)
{
    const char *names[65];
    size_t n = 0, len;
    const char *key = luaL_checklstring(L, 1, &len), *near;
    luaL_checktype(L, 2, LUA_TTABLE);
    for (; n < 64; n++) {
        lua_rawgeti(L, 2, (int)n + 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            break;
        }
        names[n] = lua_tostring(L, -1); /* alive: the table holds it */
        lua_pop(L, 1);
    }
    names[n] = NULL;
    near = kombo_suggest_key(key, len, names, sizeof names[0]);
    if (near == NULL)
        lua_pushnil(L);
    else
        lua_pushstring(L, near);
    return 1;
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

/* core.parse_headers(block) -> { ["lower-case-name"] = "value" }: the
 * core's one header parser (headers.c), for res.http.headers and err.headers. */
static int l_parse_headers(lua_State *L)
{
    size_t n;
    const char *s = luaL_optlstring(L, 1, "", &n);
    kombo_lua_push_headers(L, s, n);
    return 1;
}

/* core.header_values(block, name) -> { value, ... }: every value of header
 * `name` in the final answer's block, in order, trimmed; the same parser
 * and name rule (kombo_header_name_is) as the curl transport, for the
 * cosocket transport's framing headers. */
static int l_header_values(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *want = luaL_checkstring(L, 2);
    const char *p = kombo_header_start(s, n), *end = s + n;
    kombo_str name, value;
    int i = 0;

    lua_newtable(L);
    while (kombo_header_next(&p, end, &name, &value))
        if (kombo_header_name_is(name, want)) {
            lua_pushlstring(L, value.ptr, value.len);
            lua_rawseti(L, -2, ++i);
        }
    return 1;
}

/* Pushes an absent value as nil, else its bytes with ASCII letters
 * lower-cased: as they are when there is no upper-case letter (the usual
 * "keep-alive"), else through a copy (a short one on the stack: LuaJIT's
 * luaL_Buffer adds byte by byte). */
static void push_lower(lua_State *L, int found, kombo_str v)
{
    char local[64], *out;
    size_t i;
    if (!found) {
        lua_pushnil(L);
        return;
    }
    for (i = 0; i < v.len; i++)
        if (v.ptr[i] >= 'A' && v.ptr[i] <= 'Z')
            break;
    if (i == v.len) {
        lua_pushlstring(L, v.ptr, v.len);
        return;
    }
    out = v.len <= sizeof local ? local : lua_newuserdata(L, v.len);
    for (i = 0; i < v.len; i++) {
        char ch = v.ptr[i];
        out[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    }
    lua_pushlstring(L, out, v.len);
    if (out != local)
        lua_remove(L, -2); /* the userdata */
}

/* The framing headers of a header block: the first Connection,
 * Transfer-Encoding and Content-Length values (found when has_* is set),
 * and whether a later Content-Length value differs from the first; by the
 * core's parser and name rule (the curl transport's: headers.c). */
typedef struct {
    kombo_str conn, te, cl;
    int has_conn, has_te, has_cl, differ;
} framing_values;

static void find_framing(const char *s, size_t n, framing_values *f)
{
    const char *p = kombo_header_start(s, n), *end = s + n;
    kombo_str name, value;
    memset(f, 0, sizeof *f);
    while (kombo_header_next(&p, end, &name, &value)) {
        /* by length first: most names are none of the three */
        if (name.len == 10 && kombo_header_name_is(name, "connection")) {
            if (!f->has_conn)
                f->conn = value, f->has_conn = 1;
        } else if (name.len == 17 && kombo_header_name_is(name, "transfer-encoding")) {
            if (!f->has_te)
                f->te = value, f->has_te = 1;
        } else if (name.len == 14 && kombo_header_name_is(name, "content-length")) {
            if (!f->has_cl)
                f->cl = value, f->has_cl = 1;
            else if (value.len != f->cl.len || (f->cl.len > 0 && memcmp(value.ptr, f->cl.ptr, f->cl.len) != 0))
                f->differ = 1;
        }
    }
}

/* core.framing(block) -> connection, transfer_encoding, content_length,
 * lengths_differ: the cosocket transport's framing headers in one call,
 * found as core.header_values finds them (the same parser and name rule as
 * the curl transport): the first Connection and Transfer-Encoding values
 * lower-cased (ASCII), the first Content-Length value as sent, each nil
 * when absent; and whether a later Content-Length value differs from the
 * first. */
static int l_framing(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    framing_values f;
    find_framing(s, n, &f);
    push_lower(L, f.has_conn, f.conn);
    push_lower(L, f.has_te, f.te);
    if (f.has_cl)
        lua_pushlstring(L, f.cl.ptr, f.cl.len);
    else
        lua_pushnil(L);
    lua_pushboolean(L, f.differ);
    return 4;
}

/* Whether v, lower-cased (ASCII, as push_lower does), holds `needle` (lower
 * case): what string.find(lower(v), needle, 1, true) tells. */
static int lower_holds(kombo_str v, const char *needle)
{
    size_t i, j, m = strlen(needle);
    for (i = 0; i + m <= v.len; i++) {
        for (j = 0; j < m; j++) {
            char ch = v.ptr[i + j];
            if ((ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch) != needle[j])
                break;
        }
        if (j == m)
            return 1;
    }
    return 0;
}

/* core.framing's answer as the cosocket transport reads it, for LuaJIT's
 * FFI (a classic C function is a trace exit; kombo/cosocket.lua):
 * out[0] Connection holds "close", out[1] it holds "keep-alive" (its
 * value lower-cased, "" when absent), out[2] Transfer-Encoding holds
 * "chunked", out[3] the first Content-Length value's offset in the block
 * (-1 when absent), out[4] its length, out[5] a later one differs, out[6]
 * it is digits only, at least one (what "^%d+$" finds).  Reads only the
 * block; touches no lua_State. */
static void ffi_framing(const char *s, size_t n, int *out)
{
    framing_values f;
    size_t i;
    find_framing(s, n, &f);
    out[6] = f.has_cl && f.cl.len > 0;
    for (i = 0; i < f.cl.len && out[6]; i++)
        out[6] = f.cl.ptr[i] >= '0' && f.cl.ptr[i] <= '9';
    out[0] = f.has_conn && lower_holds(f.conn, "close");
    out[1] = f.has_conn && lower_holds(f.conn, "keep-alive");
    out[2] = f.has_te && lower_holds(f.te, "chunked");
    out[3] = f.has_cl ? (int)(f.cl.ptr - s) : -1;
    out[4] = f.has_cl ? (int)f.cl.len : 0;
    out[5] = f.differ;
}

/* core.framing_flags(block) -> close, keep_alive, chunked, length,
 * lengths_differ, length_digits: ffi_framing's answer for a Lua without
 * the FFI (kombo/cosocket.lua), so that the rule has one owner. */
static int l_framing_flags(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    int out[7];
    ffi_framing(s, n, out);
    lua_pushboolean(L, out[0]);
    lua_pushboolean(L, out[1]);
    lua_pushboolean(L, out[2]);
    if (out[3] >= 0)
        lua_pushlstring(L, s + out[3], (size_t)out[4]);
    else
        lua_pushnil(L);
    lua_pushboolean(L, out[5]);
    lua_pushboolean(L, out[6]);
    return 6;
}

/* core.framing_ffi: what kombo/cosocket.lua casts (a light userdata) to
 * call ffi_framing; it declares the same struct. */
static const struct {
    void (*framing)(const char *, size_t, int *);
} framing_ffi = {ffi_framing};

/* core.limits(block) -> { concurrency_limit =, concurrency_remaining =,
 * rate_limit =, rate_remaining =, rate_reset = } (integers; a field is
 * left out when absent): the core's one reading of the limit headers
 * (kombo_parse_limits), for res.http.limits and err.limits. */
static int l_limits(lua_State *L)
{
    static const char *const fields[KOMBO_LIMIT_COUNT] = {
        "concurrency_limit", "concurrency_remaining", "rate_limit", "rate_remaining", "rate_reset",
    };
    kombo_limits lim;
    size_t n = 0;
    const char *s = lua_isnoneornil(L, 1) ? NULL : luaL_checklstring(L, 1, &n);
    int f;
    kombo_parse_limits(s, n, &lim);
    lua_createtable(L, 0, KOMBO_LIMIT_COUNT);
    for (f = 0; f < KOMBO_LIMIT_COUNT; f++) {
        if (lim.value[f] < 0)
            continue;
        lua_pushinteger(L, (lua_Integer)lim.value[f]);
        lua_setfield(L, -2, fields[f]);
    }
    return 1;
}

/* At most this many secrets in one redaction (a client's API key and proxy
 * credentials, a webhook secret, what a caller adds). */
#define MAX_SECRETS 16

/* The last redactor made, kept for the next call with the same key, or an
 * array with the same strings: a client redacts with its one array of
 * secrets, and a hook or debug line redacts several texts per call, so
 * making the redactor again each time was most of their cost.  The
 * registry's REDACT_CACHE table holds the key, a copy of the array's
 * entries (compared by value: a changed array is a miss) and the
 * redactor's userdata, which is wiped when collected. */
#define REDACT_CACHE "kombo.redact_cache"
#define REDACTOR_MT "kombo.redactor"

typedef struct lredactor {
    size_t size; /* of the whole userdata, for the wipe */
    kombo_redactor r;
} lredactor;

static int l_redactor_gc(lua_State *L)
{
    volatile unsigned char *p = lua_touserdata(L, 1);
    size_t i, n = p != NULL ? ((lredactor *)lua_touserdata(L, 1))->size : 0;
    for (i = 0; i < n; i++)
        p[i] = 0;
    return 0;
}

/* The cached redactor for the key at 2, its userdata left at 3; or NULL
 * (the stack as it was). */
static const kombo_redactor *cached_redactor(lua_State *L, int nkeys)
{
    int same, i;
    lua_getfield(L, LUA_REGISTRYINDEX, REDACT_CACHE);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    lua_getfield(L, -1, "key");
    lua_getfield(L, -2, "n");
    same = lua_rawequal(L, -2, 2) && lua_tonumber(L, -1) == nkeys;
    lua_pop(L, 2);
    for (i = 1; same && lua_type(L, 2) == LUA_TTABLE && i <= nkeys; i++) {
        lua_rawgeti(L, 2, i);
        lua_rawgeti(L, -2, i);
        same = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    if (!same) {
        lua_pop(L, 1);
        return NULL;
    }
    lua_getfield(L, -1, "ud");
    lua_remove(L, -2);
    return &((lredactor *)lua_touserdata(L, -1))->r;
}

/* The (text, key) arguments of core.redact and core.redact_json, with the
 * redactor for key: a string, or an array of strings to look for all at
 * once (non-strings in it are skipped).  The redactor, or NULL when text is
 * to be returned as it is (text not a string, key neither a string nor a
 * table, or no key to look for).  Its userdata is stack slot 3 until the
 * caller returns. */
static const kombo_redactor *redactor_args(lua_State *L, const char **s, size_t *n)
{
    kombo_str keys[MAX_SECRETS];
    size_t nkeys = 0, need;
    int i, len = 1;
    const kombo_redactor *cached;
    lredactor *ud;

    lua_settop(L, 2);
    if (lua_type(L, 1) != LUA_TSTRING || (lua_type(L, 2) != LUA_TSTRING && lua_type(L, 2) != LUA_TTABLE)) {
        lua_settop(L, 1);
        return NULL;
    }
    *s = lua_tolstring(L, 1, n);
    if (lua_type(L, 2) == LUA_TTABLE) {
        luaL_argcheck(L, lua_rawlen(L, 2) <= MAX_SECRETS, 2, "at most 16 secrets");
        len = (int)lua_rawlen(L, 2);
    }
    if ((cached = cached_redactor(L, len)) != NULL)
        return ((const lredactor *)lua_touserdata(L, 3))->size > 0 ? cached : (lua_settop(L, 1), NULL);
    if (lua_type(L, 2) == LUA_TSTRING) {
        keys[0].ptr = lua_tolstring(L, 2, &keys[0].len);
        nkeys = 1;
    } else {
        for (i = 1; i <= len; i++) {
            lua_rawgeti(L, 2, i);
            if (lua_type(L, -1) == LUA_TSTRING) /* it stays alive in the table */
                keys[nkeys].ptr = lua_tolstring(L, -1, &keys[nkeys].len), nkeys++;
            lua_pop(L, 1);
        }
    }
    need = kombo_redactor_extra_keys(keys, nkeys);
    ud = lua_newuserdata(L, sizeof *ud + need); /* slot 3 */
    ud->size = sizeof *ud + need;
    luaL_getmetatable(L, REDACTOR_MT);
    lua_setmetatable(L, 3);
    if (!kombo_redactor_init_keys(&ud->r, keys, nkeys, need ? (void *)(ud + 1) : NULL)) {
        ud->size = 0; /* nothing to look for; cached as such (size 0) */
        memset(ud, 0, sizeof *ud);
    }
    /* the cache: { key =, n =, [i] = the array's entries, ud = } */
    lua_createtable(L, len, 3);
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, "key");
    lua_pushinteger(L, len);
    lua_setfield(L, -2, "n");
    for (i = 1; lua_type(L, 2) == LUA_TTABLE && i <= len; i++) {
        lua_rawgeti(L, 2, i);
        lua_rawseti(L, -2, i);
    }
    lua_pushvalue(L, 3);
    lua_setfield(L, -2, "ud");
    lua_setfield(L, LUA_REGISTRYINDEX, REDACT_CACHE);
    if (ud->size == 0) {
        lua_settop(L, 1);
        return NULL;
    }
    return &ud->r;
}

/* core.redact(s, key) -> s with every echo of key, or of each key of an
 * array of them (redact.c's rule), as "<redacted>"; s itself when there is
 * none, or when s is not a string or key neither a string nor a table. */
static int l_redact(lua_State *L)
{
    const kombo_redactor *r;
    size_t n, start = 0, end;
    const char *s;

    if ((r = redactor_args(L, &s, &n)) == NULL)
        return 1;
    if (!kombo_redactor_next(r, s, n, &start, &end)) {
        lua_settop(L, 1); /* no echo: s itself, no copy */
        return 1;
    }
    kombo_lua_push_redacted(L, r, s, n);
    return 1;
}

/* core.redact_json(text, key) -> text with the echoes of key inside its
 * string literals (redact.c's rule) as "<redacted>", and nothing outside
 * them touched: valid JSON stays valid whatever the key.  text itself when
 * there is none, or when text or key is not a string. */
static int l_redact_json(lua_State *L)
{
    const kombo_redactor *r;
    luaL_Buffer b;
    size_t n, from = 0, copied = 0, a, e;
    const char *s;
    int any = 0;

    if ((r = redactor_args(L, &s, &n)) == NULL)
        return 1;
    while (kombo_json_next_string(s, n, &from, &a, &e)) {
        size_t st = 0, en;
        while (kombo_redactor_next(r, s + a, e - a, &st, &en)) {
            if (!any)
                luaL_buffinit(L, &b);
            any = 1;
            luaL_addlstring(&b, s + copied, a + st - copied);
            luaL_addstring(&b, "<redacted>");
            copied = a + en;
            st = en;
        }
    }
    if (!any) {
        lua_settop(L, 1); /* no echo: text itself, no copy */
        return 1;
    }
    luaL_addlstring(&b, s + copied, n - copied);
    luaL_pushresult(&b);
    return 1;
}

/* core.file_info(path) -> size, or nil, reason, kind: whether
 * attachment.file would be accepted, by the rule the calls use
 * (kombo_file_open: a regular file that can be opened; a FIFO, device,
 * socket or directory is refused without an open() that waits).  The
 * reason reads after the path: "is a FIFO (named pipe), not a regular
 * file", "cannot be opened: Permission denied".  `kind` is for programs
 * ("missing", "fifo", "other": anything else), so that no caller matches
 * the reason's words.  A size of 0 is returned as such (the caller words
 * that). */
static int l_file_info(lua_State *L)
{
    size_t n, size = 0;
    const char *path = luaL_checklstring(L, 1, &n);
    char err[200];
    void *file;

    if (n == 0 || memchr(path, '\0', n) != NULL) {
        lua_pushnil(L);
        lua_pushstring(L, n == 0 ? "must not be empty" : "must not contain NUL");
        return 2;
    }
    file = kombo_file_open(path, &size, err, sizeof err);
    if (file == NULL) {
        struct stat st;
        const char *kind = stat(path, &st) != 0 ? (errno == ENOENT ? "missing" : "other")
                                                : S_ISFIFO(st.st_mode) ? "fifo" : "other";
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushstring(L, kind);
        return 3;
    }
    kombo_file_close(file);
#if LUA_VERSION_NUM >= 503
    lua_pushinteger(L, (lua_Integer)size); /* an off_t's value: fits a 64-bit lua_Integer */
#else
    lua_pushnumber(L, (lua_Number)size); /* 5.1's lua_Integer may be 32 bits */
#endif
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

/* core.set_sentinels(null, empty_array, array_mt): the JSON values with no
 * Lua type of their own, and the metatable decoded arrays carry. */
static int l_set_sentinels(lua_State *L)
{
    lua_settop(L, 3);
    lua_setfield(L, LUA_REGISTRYINDEX, "kombo.array_mt");
    lua_setfield(L, LUA_REGISTRYINDEX, "kombo.empty_array");
    lua_setfield(L, LUA_REGISTRYINDEX, "kombo.null");
    return 0;
}

static const char empty_array_sentinel = 0;

/* The pool's idle handles are freed when the Lua state closes, before Lua
 * unloads this library (its finalizer runs after this one): otherwise they
 * would outlive the code that owns them. */
static int l_pool_guard_gc(lua_State *L)
{
    (void)L;
    kombo_curl_pool_drain();
    return 0;
}

static void set_pool_guard(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "kombo.pool_guard");
    if (lua_isnil(L, -1)) {
        lua_newuserdata(L, 1);
        lua_newtable(L);
        lua_pushcfunction(L, l_pool_guard_gc);
        lua_setfield(L, -2, "__gc");
        lua_setmetatable(L, -2);
        lua_setfield(L, LUA_REGISTRYINDEX, "kombo.pool_guard");
    }
    lua_pop(L, 1);
}

int luaopen_kombo_core(lua_State *L)
{
    static const luaL_Reg client_methods[] = {
        {"close", l_client_close}, {"closed", l_client_closed},
        {"set_secrets", l_client_set_secrets},
        {"__gc", l_client_close},      {"__close", l_client_close}, {"__tostring", l_client_tostring},
        {NULL, NULL}};
    static const luaL_Reg functions[] = {{"client", l_client_new},     {"base64_encode", l_base64_encode},
                                         {"parse_headers", l_parse_headers}, {"limits", l_limits}, {"redact", l_redact},
                                         {"header_values", l_header_values}, {"framing", l_framing},
                                         {"framing_flags", l_framing_flags},
                                         {"redact_json", l_redact_json},
                                         {"encode_json", kombo_lua_encode_json},
                                         {"file_info", l_file_info},
                                         {"proxy", l_proxy}, {"proxy_refusal", l_proxy_refusal},
                                         {"now", l_now}, {"suggest_key", l_suggest_key},               {"sleep", l_sleep},
                                         {"set_sentinels", l_set_sentinels}, {NULL, NULL}};

    set_pool_guard(L);
    lua_pushliteral(L, "__call");
    lua_setfield(L, LUA_REGISTRYINDEX, KOMBO_LUA_CALL_KEY);
    kombo_lua_open_call(L);
    luaL_newmetatable(L, REDACTOR_MT);
    lua_pushcfunction(L, l_redactor_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, REDACTOR_MT);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    luaL_newmetatable(L, CLIENT_MT);
    lua_pushvalue(L, -1);
    luaL_setfuncs(L, client_methods, 1); /* the metatable, for the methods' check */
    lua_pushvalue(L, -1);
    luaL_getmetatable(L, CALL_MT); /* (kombo_lua_open_call made it) */
    lua_pushcclosure(L, l_client_prepare, 2);
    lua_setfield(L, -2, "prepare");
    /* run also builds a success's result, whose header block's metatable
     * push_result reads as upvalue 2 (kombo_lua_open_call made it). */
    lua_pushvalue(L, -1);
    luaL_getmetatable(L, HEADER_BLOCK_MT);
    lua_pushcclosure(L, l_client_run, 2);
    lua_setfield(L, -2, "run");
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    lua_newtable(L);
    luaL_setfuncs(L, functions, 0);
    lua_pushlightuserdata(L, (void *)&framing_ffi); /* (a data pointer: ISO C casts no function pointer to void *) */
    lua_setfield(L, -2, "framing_ffi");
    kombo_lua_open_signal(L);
    kombo_lua_open_digest(L);
    kombo_lua_open_lock(L);
    kombo_lua_open_webhook(L);
    kombo_lua_open_header_block(L);
    lua_pushliteral(L, KOMBO_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, kombo_curl_version());
    lua_setfield(L, -2, "curl_version");
    lua_pushinteger(L, KOMBO_MAX_HEADER_BYTES);
    lua_setfield(L, -2, "MAX_HEADER_BYTES");
    kombo_lua_open_multi(L);
    kombo_lua_open_method(L);
    push_operations(L);
    lua_setfield(L, -2, "operations");
    push_defaults(L);
    lua_setfield(L, -2, "defaults");
    push_options(L);
    lua_setfield(L, -2, "options");
    push_call_options(L);
    lua_setfield(L, -2, "call_options");
    /* JSON's [] for cjson builds that lack cjson.empty_array. */
    lua_pushlightuserdata(L, (void *)&empty_array_sentinel);
    lua_setfield(L, -2, "empty_array");
    return 1;
}

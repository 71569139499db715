/*
 * lua_kombo.h - what the files of the Lua binding (module "kombo.core")
 * share: Lua version compatibility, the userdata types, and the functions
 * one file offers the others.
 *
 *   lkombo.c       the module, clients, free functions
 *   lua_compat.c   Lua 5.1 compatibility, numbers into C integers (uses no other file)
 *   lua_request.c  a call's argument table -> kombo_request (the core validates it, once)
 *   lua_value.c    a Lua value -> the core's value tree (what only Lua gets wrong); core.encode_json
 *   lua_source.c   sources (Lua functions feeding a file object's bytes), on_progress
 *   lua_call.c     the call object: the sans-I/O steps and the libcurl driver
 *   lua_method.c   the operations' client methods (the common call without a Lua frame)
 *   lua_multi.c    core.multi(): many calls' attempts at once (attach_many)
 *   lua_signal.c   signals and terminals for the command-line tool (kombo-attach)
 *   lua_digest.c   SHA-256 of strings, files and downloads (kombo-attach's journal)
 *   lua_lock.c     core.lock: an exclusive fcntl lock on a file (kombo-attach's journal)
 *   lua_webhook.c  core.webhook_verify, core.webhook_decode (kombo.verify_webhook)
 *
 * Builds against Lua 5.1 (and LuaJIT), 5.2, 5.3 and 5.4.
 */
#ifndef KOMBO_LUA_H
#define KOMBO_LUA_H

#include "core/kombo.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>

#define CALL_MT "kombo.call"
#define CLIENT_MT "kombo.core_client"
#define HEADER_BLOCK_MT "kombo.header_block" /* a success's raw header block (lua_call.c) */

#if LUA_VERSION_NUM < 502
#define lua_rawlen lua_objlen
#define luaL_setfuncs(L, l, n) kombo_lua_setfuncs(L, l, n)
void kombo_lua_setfuncs(lua_State *L, const luaL_Reg *l, int nup);
#endif

/* Lua numbers reach C integers only through this: casting NaN or a value
 * outside the target type is undefined behaviour (UBSan float-cast-overflow).
 * NaN becomes lo; callers that must refuse bad values check them first. */
double kombo_lua_clamp(double v, double lo, double hi); /* lua_compat.c */

#define KOMBO_LUA_MORE_SPARES 32           /* calls' memory kept beyond the one spare */
#define KOMBO_LUA_SPARE_MAX_BODY (64 * 1024) /* an answer's buffer kept with it, at most */

/* A client as Lua holds it: the core's client.  libcurl handles (and the
 * connections they keep) come from the process-wide pool for each call
 * (kombo_curl_acquire).  Closing a client only marks it while a transfer
 * runs (a source or on_progress may close it) or while call objects that
 * point into it are alive (a cosocket upload waiting in another request);
 * it is freed when the last of them is done. */
typedef struct lclient {
    kombo_client *client;
    int busy;
    int close_pending;
    int calls; /* live call objects: they point into the client, so it waits for them */
    /* What the last closed call leaves for the next one (a script's calls
     * follow each other): its core call (kombo_call_recycle) and its
     * arena's first block.  Memory outside Lua's heap, so that a call
     * costs the collector a small userdata, not kilobytes. */
    kombo_call *spare_call;
    char *spare_block;
    /* and its anchor table, emptied (a registry reference, or LUA_NOREF):
     * freed by the client's __gc, which has a Lua state to do it. */
    int spare_anchor;
    /* More of the same, for calls that overlap (attach_many has up to 30
     * in flight, and closes them in whatever order they end): a closed
     * call's memory goes here when the spare above is taken, and one is
     * moved back before the next call is made (client:prepare, client:run).
     * A call whose answer's buffer grew large is freed instead. */
    kombo_call *more_calls[KOMBO_LUA_MORE_SPARES];
    char *more_blocks[KOMBO_LUA_MORE_SPARES];
    int more_anchors[KOMBO_LUA_MORE_SPARES]; /* registry references, as spare_anchor */
    int nmore_calls, nmore_blocks, nmore_anchors;
    /* client:run's call userdata, closed, for its next run: a registry
     * slot (LUA_NOREF until the first run) holding it, or false while a
     * run has it (a run that raises leaves it to the collector, whose
     * __gc closes it).  A call a script cannot see needs no new object. */
    int run_call;
    /* The redactor of the client's secrets (client:set_secrets: the API
     * key and proxy credentials; else the key alone, made for the first
     * answer that needs it, lua_call.c), made once rather than for every
     * answer; redactor_none: nothing long enough to look for. */
    struct kombo_redactor *redactor;
    size_t redactor_size;
    int redactor_none;
    /* The client's config.preflight (kombo/client.lua's private state, set
     * when the client is made and never again), as the operations' methods
     * read it once rather than on every upload (lua_method.c): 0 not read
     * yet, 1 false, 2 true. */
    int preflight_default;
} lclient;

/* Frees the client's redactor, wiped first (it holds windows of secrets). */
static inline void kombo_lua_client_drop_redactor(lclient *lc)
{
    if (lc->redactor != NULL) {
        volatile unsigned char *p = (volatile unsigned char *)lc->redactor;
        size_t i;
        for (i = 0; i < lc->redactor_size; i++)
            p[i] = 0;
        free(lc->redactor);
        lc->redactor = NULL;
    }
    lc->redactor_none = 0;
}

/* Frees what the client keeps for its next call, and its redactor. */
static inline void kombo_lua_client_free_spares(lclient *lc)
{
    kombo_call_free(lc->spare_call);
    free(lc->spare_block);
    lc->spare_call = NULL;
    lc->spare_block = NULL;
    while (lc->nmore_calls > 0)
        kombo_call_free(lc->more_calls[--lc->nmore_calls]);
    while (lc->nmore_blocks > 0)
        free(lc->more_blocks[--lc->nmore_blocks]);
    kombo_lua_client_drop_redactor(lc);
}

/* Frees the core's client once it is closed and nothing uses it any more:
 * never inside its own transfer (a transfer keeps its call, and through it
 * the client, referenced, so __gc cannot run then; close() from a callback
 * can).  Here rather than in a .c file: both the client (lkombo.c) and its
 * calls (lua_call.c) free it, and neither file depends on the other. */
static inline void kombo_lua_client_maybe_free(lclient *lc)
{
    if (lc->close_pending && !lc->busy && lc->calls == 0) {
        kombo_lua_client_free_spares(lc);
        kombo_client_free(lc->client);
        lc->client = NULL;
        lc->close_pending = 0;
    }
}

/* A Lua function (or ltn12 source) feeding attachment bytes.  Chunks may
 * be any size; the one being drained stays referenced until used up.
 * Pulled: the read callback calls the function (from C: it must not
 * yield).  Pushed (call:read(n, true), the cosocket transport): the read
 * callback only drains what call:feed() handed over and otherwise answers
 * KOMBO_SOURCE_AGAIN, so the function runs in Lua and may yield. */
/* At most this many empty chunks in a row before a source counts as stuck. */
#define KOMBO_LUA_MAX_EMPTY_CHUNKS 1000

typedef struct lcall lcall;

typedef struct lsource {
    kombo_source source;
    lcall *call;   /* whose thread runs the function */
    int fn_ref;
    int chunk_ref;
    const char *chunk;
    size_t chunk_len, chunk_off;
    int push;      /* pushed, not pulled */
    int fed_end;   /* the source said nil (end) */
    int fed_error; /* the source failed; fed_msg says why */
    int empty;     /* empty chunks in a row */
    char fed_msg[200];
} lsource;

/* The source contract, in one place for both ways of driving a source (the
 * pulled read of lua_request.c, call:feed()): what the function returned,
 * the values at idx and idx + 1, replaces the drained chunk.  ltn12: a
 * string is the next chunk (anchored in chunk_ref); nil is the end
 * (fed_end); nil and a message is a failure saying that message; anything
 * else, or more than KOMBO_LUA_MAX_EMPTY_CHUNKS empty chunks in a row, is a
 * failure (fed_error, fed_msg). */
void kombo_lua_source_take(lua_State *L, lsource *s, int idx);

/* Bytes of an lcall's own first arena block: an upload's tree takes about
 * 900, a create_application with a few candidate fields about 2,000. */
#define KOMBO_LUA_ARENA_FIRST 2048

struct lcall {
    kombo_call *call;
    lclient *owner;
    lua_State *L;   /* the thread now driving the call (callbacks run on it) */
    int anchor_ref; /* the strings the request borrows, and the client */
    int anchored;   /* strings in it (at 1..anchored; the client at 0) */
    kombo_arena arena; /* the request's value tree */
    char *batch; /* call:read()'s buffer */
    size_t batch_cap;
    lsource **sources; /* the file objects' sources, in the order the body reads them */
    size_t nsources;
    size_t current;    /* the source the body reads (or waits on) now */
    int progress_ref;
    int written_ref; /* call:on_written(fn): run before the body's last bytes go */
    int in_written;  /* that function is running (the call must not be closed from it) */
    int in_multi; /* an attempt of it is in flight in a core.multi(): its slot there + 1 (lua_multi.c), else 0 */
    int in_transfer; /* call:perform() or call:attempt() is moving its bytes (its callbacks may run) */
    /* The arena's first block (KOMBO_LUA_ARENA_FIRST bytes): no malloc
     * for a small request's tree when the client has one spare. */
    char *arena_block;
};

/* lua_request.c: reads the argument table at `args` for `op` into req
 * (values into c->arena).  Problems with values go to `problems`; a shape
 * mistake (a non-table where a table belongs) returns its message instead,
 * and the caller raises.  The strings req borrows are anchored in the
 * table at `anchor`. */
const char *kombo_lua_read_request(lua_State *L, int args, int anchor, const kombo_operation *op,
                                   kombo_request *req, lcall *c, kombo_problems *problems, int needs);
/* What kombo_lua_read_request returns (this very pointer) when `needs`
 * (METHOD_* flags, lua_method.c; 0: none) asked it to look, as it reads,
 * for what the call needs of Lua first (remote_fields to normalize, a
 * preflight asked), and it found some, or could not tell without running
 * Lua: nothing is read then, and the caller asks the long way. */
extern const char kombo_lua_needs_lua[];
#define KOMBO_LUA_NEED_ALIASED 1     /* = lua_method.c's METHOD_ALIASED */
#define KOMBO_LUA_NEED_PREFLIGHTED 2 /* = METHOD_PREFLIGHTED */

/* lua_value.c: a Lua value into the value tree.  Tables nest at most this
 * many levels below the body (remote_fields itself is level 1), so that a
 * cycle-free but absurd value cannot exhaust the C stack. */
#define KOMBO_LUA_MAX_DEPTH 32
#define KOMBO_LUA_LENT_MAX 32

typedef struct kombo_lua_reader {
    lua_State *L;
    kombo_arena *arena;
    kombo_problems *problems;
    lcall *call;   /* NULL: no sources (core.encode_json) */
    int anchor;    /* stack index of the anchor table */
    int anchored;  /* strings in it */
    int failed;    /* out of memory */
    /* The tables on the current path, by depth (a cycle returns to one):
     * compared by address, with no Lua table to fill and empty per call. */
    const void *open[KOMBO_LUA_MAX_DEPTH + 1];
    char path[256];
    /* The member being read, not yet joined to the path: joined when
     * something reads the path (a problem, a nested table, a source:
     * lua_value.c's at), which a valid scalar member never does. */
    const char *pend_key;
    size_t pend_len, pend_base;
    /* Strings read in place rather than copied, copied before Lua code may
     * run (lua_value.c: lend, keep_lent). */
    kombo_str *lent[KOMBO_LUA_LENT_MAX];
    int nlent;
    int keep; /* reading what the body borrows past the call's making: copied or anchored */
    /* The body's descriptor while its own members are read (lua_request.c):
     * a member only an object may be, given as another Lua type, is noted
     * in the same walk (the first in the descriptor's order) rather than
     * looked up by name for every property. */
    const struct kombo_schema *shape;
    int shape_body;        /* the body's stack index (it has no metatable) */
    int shape_checked;     /* its members were looked up by name already */
    int shape_walked;      /* the walk saw every member of the body */
    int shape_bad;         /* the index of that property, or -1 */
    const char *shape_got; /* the Lua type it was given */
    /* remote_fields in the body, for a call that may need Lua for it
     * (lua_request.c's needs): 0 not looked for, 1 looked for as the walk
     * goes, 2 found, 3 looked up and absent. */
    int aliased;
} kombo_lua_reader;

/* lua_request.c: whether the body at `body` (no metatable) has remote_fields */
int kombo_lua_has_remote_fields(lua_State *L, int body);

/* lua_value.c: the first member of the body at `body` (looked up by name,
 * as Lua reads it) whose descriptor in b is an object and nothing else and
 * which is given as another type (its Lua type in *got), as an index in
 * b's properties; -1 when none.  The reader's walk notes the same. */
int kombo_lua_shape_by_name(lua_State *L, const struct kombo_schema *b, int body, const char **got);

void kombo_lua_reader_init(kombo_lua_reader *r, lua_State *L, kombo_arena *arena, int anchor,
                           kombo_problems *problems, lcall *call);
/* The value at idx, at r->path (NULL when out of memory: r->failed). */
kombo_value *kombo_lua_read_value(kombo_lua_reader *r, int idx, int depth);
/* Strings kept past the call's making up to this many bytes are copied
 * into the arena rather than anchored. */
#define KOMBO_LUA_COPY_MAX 128
/* Copies the strings read in place so far: before anything that may run
 * Lua code (a field's __index) while the request is read. */
void kombo_lua_keep_lent(kombo_lua_reader *r);
const char *kombo_lua_type_of(lua_State *L, int idx);
int kombo_lua_is_callable(lua_State *L, int idx);
#define KOMBO_LUA_CALL_KEY "kombo.__call" /* the registry's "__call" (kombo_lua_is_callable) */

/* lua_source.c */
lsource *kombo_lua_source_new(lcall *c);          /* a pulled source of c, NULL when out of memory */
void kombo_lua_sources_free(lua_State *L, lcall *c); /* unrefs and frees them all */
lsource *kombo_lua_source_current(lcall *c);      /* the one the body reads now, or NULL */
void kombo_lua_set_progress(lcall *c, kombo_request *req); /* on_progress (c->progress_ref) */

int kombo_lua_encode_json(lua_State *L); /* core.encode_json */

/* lua_call.c */
void kombo_lua_push_problems(lua_State *L, const kombo_problems *p);
/* lua_config.c: a client's options from the resolved options table at t
 * (kombo/client.lua has checked the types), and a call's own settings from
 * its options table (see there). */
void kombo_lua_read_config(lua_State *L, int t, kombo_config *cfg, kombo_problems *p);
size_t kombo_lua_read_call_config(lua_State *L, int t, const kombo_config *base, kombo_config *cfg,
                                  kombo_problems *p);
/* lua_call.c: the headers table at idx ({ ["Name"] = "value" }) set on the
 * call (kombo_call_set_headers); problems under `path`. */
int kombo_lua_set_headers(lua_State *L, int idx, kombo_call *call, const char *path, kombo_problems *p);
/* lua_call.c: client:prepare (see there); reuse: the stack index of a
 * closed call userdata to make the call in (client:run's), or 0 for a new
 * one; needs: as kombo_lua_read_request's, which when it says
 * kombo_lua_needs_lua makes this return no value (the call userdata
 * pushed, not made). */
int kombo_lua_new_call(lua_State *L, lclient *owner, int client_idx, const kombo_operation *op, int args,
                       int list_files, int options, int reuse, int needs);
void kombo_lua_open_call(lua_State *L);
/* lua_call.c: 1 when the value at idx is a closed call userdata that
 * kombo_lua_new_call may make again (reuse): nothing points into it.  mt:
 * where the call metatable is (a caller's upvalue), or 0: the registry. */
int kombo_lua_reusable_call(lua_State *L, int idx, int mt);
/* lua_call.c: what call:next says, pushed: "send" | "sleep", delay | "done";
 * returns how many values. */
int kombo_lua_push_step(lua_State *L, kombo_step step, double delay);
/* lua_call.c: client:run's second half: call:perform(index) of the call at
 * call_idx (index: a stack index, or 0), then call:close(); returns what
 * perform returns.  The running C function's upvalue 2 must be a header
 * block's metatable, as it is for the call's methods. */
int kombo_lua_perform_close(lua_State *L, int call_idx, int index);
/* lua_call.c: call:close() of the call userdata at call_idx (also one
 * never made). */
void kombo_lua_call_close(lua_State *L, int call_idx);
/* lua_call.c: core.header_block_read, core.success_store, core.success_metatable (a success's header block, read on demand). */
void kombo_lua_open_header_block(lua_State *L);
lclient *kombo_lua_check_client(lua_State *L, int i);

/* The userdata at i when its metatable is the calling C function's upvalue
 * `up` (methods hold their metatable so: no registry lookup by name on
 * the per-call path), else luaL_checkudata's check and message by `tname`. */
static inline void *kombo_lua_to_udata(lua_State *L, int i, int up, const char *tname)
{
    void *p = lua_touserdata(L, i);
    if (p != NULL && lua_getmetatable(L, i)) {
        int same = lua_rawequal(L, -1, lua_upvalueindex(up));
        lua_pop(L, 1);
        if (same)
            return p;
    }
    return luaL_checkudata(L, i, tname);
}

/* lua_call.c: client:run's step (see there), for it and the operations' methods */
int kombo_lua_client_run(lua_State *L, lclient *lc, const kombo_operation *op, int client_idx, int args, int index,
                         int needs);
/* lua_method.c: sets core.method, core.needs and their flags on the module table at -1 */
void kombo_lua_open_method(lua_State *L);

/* lua_multi.c: sets core.multi on the module table at -1 */
void kombo_lua_open_multi(lua_State *L);

/* lua_signal.c: core.watch_signals, core.signals_caught, core.isatty into the table on top */
void kombo_lua_open_signal(lua_State *L);

/* lua_digest.c: core.sha256, core.sha256_file into the table on top */
void kombo_lua_open_digest(lua_State *L);

/* lua_lock.c: core.lock (and the lock metatable) into the table on top */
void kombo_lua_open_lock(lua_State *L);

/* lua_webhook.c: core.webhook_verify, core.webhook_decode into the table on top */
void kombo_lua_open_webhook(lua_State *L);

#endif

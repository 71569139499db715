/*
 * lua_json.h - JSON text and raw header blocks into Lua values (internal).
 *
 * The answer is read once: the core's scanner (json.h) validates the body
 * and these build the Lua result from that scan, so lua-cjson never decodes
 * it again (Debian's lua-cjson 2.1.0 makes integers floats and [] a {}).
 */
#ifndef KOMBO_LUA_JSON_H
#define KOMBO_LUA_JSON_H

#include <lua.h>
#include <stddef.h>

#include "core/json.h"

/* Pushes the value of JSON text[0..n) and returns 1, or returns 0 and
 * pushes nothing when it is not valid JSON (kombo_json_parse's rules).
 * Objects become tables; arrays tables with the registry's
 * "kombo.array_mt" as metatable (none when that is nil); null the
 * registry's "kombo.null" (cjson.null, a NULL light userdata, when unset);
 * on Lua 5.3+ an integer literal that fits lua_Integer an integer, every
 * other number a float.  Raises only on out-of-memory. */
int kombo_lua_push_json(lua_State *L, const char *text, size_t n);

/* The same for a value the scanner already validated (e.g. a member of a
 * body kombo_json_parse accepted): no second validation.  Always pushes.
 * When v->marks is set (the scan's record, with where its containers open
 * in this text), the containers it records are made at their size. */
void kombo_lua_push_jval(lua_State *L, const jval *v);
/* The same with every string (keys and values) redacted of `key`
 * (kombo_redact's rule; NULL or shorter than 8 bytes: none); a string
 * with no echo of the key is pushed as is, without a copy. */
void kombo_lua_push_jval_redacted(lua_State *L, const jval *v, const char *key);

/* Pushes s[0..n) redacted by r (r NULL or inactive: as is). */
struct kombo_redactor;
void kombo_lua_push_redacted(lua_State *L, const struct kombo_redactor *r, const char *s, size_t n);
/* The same with a redactor built beforehand (NULL: nothing to look for). */
void kombo_lua_push_jval_redactor(lua_State *L, const jval *v, const struct kombo_redactor *r);
/* The same, the registry's names "kombo.null" and "kombo.array_mt" given
 * as Lua strings at [slot] and [slot + 1] of the table at stack index
 * `names` (an upvalue of the caller: no string made per call), and at
 * [slot + 2] (when it is set) a cache of short strings that
 * kombo_lua_push_string_cache made: keys, and values shorter than a
 * secret, are found there rather than made again (the same strings). */
void kombo_lua_push_jval_names(lua_State *L, const jval *v, const struct kombo_redactor *r, int names, int slot);
/* Pushes a new, empty cache of short strings for [slot + 2] above. */
void kombo_lua_push_string_cache(lua_State *L);

/* A success's answer as the push functions above take it: *root the span
 * its classification validated in `body` (the body classified, or a copy
 * of it: offsets are what is kept), and *marks the record of that scan,
 * the sizes of its first containers and the tape of a small answer's
 * tokens, which *root points to (*marks must outlive the push).  The one
 * place a classification becomes a jval: the binding's answers and
 * kombo.testing's are built the same way. */
struct kombo_classification;
void kombo_lua_answer_jval(const struct kombo_classification *cls, const char *body, jmarks *marks, jval *root);

/* Pushes a table of the final answer's header fields in a raw block
 * (kombo_header_start/kombo_header_next): lower-case name -> value, a
 * repeated field's values joined with ", " in order (RFC 9110 5.3). */
void kombo_lua_push_headers(lua_State *L, const char *block, size_t n);

#endif

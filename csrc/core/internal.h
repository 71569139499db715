/*
 * internal.h - helpers the core's files share (not part of kombo.h): one
 * definition each, so that no file keeps its own copy.
 */
#ifndef KOMBO_INTERNAL_H
#define KOMBO_INTERNAL_H

#include "kombo.h" /* kombo_str, kombo_problems */

#include <stddef.h>
#include <string.h>

/* Adds a problem under `path` (problems.c); past KOMBO_MAX_PROBLEMS it is
 * counted in `dropped` only. */
void kombo_problems_add(kombo_problems *p, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Whether s holds exactly the C string lit, compared in place (no strlen,
 * no memcmp call): most keys differ at their first byte, and the writer
 * and the validator compare keys for every member of every object. */
static inline int kombo_str_is(kombo_str s, const char *lit)
{
    size_t i = 0;
    if (s.ptr == NULL)
        return 0;
    while (i < s.len && lit[i] != '\0' && s.ptr[i] == lit[i])
        i++;
    return i == s.len && lit[i] == '\0';
}

/* kombo_value_member (value.c), inline for the validator's and the
 * writer's walks, which look up each of a descriptor's names (a query's
 * ten for two given): the exported function is a call through the PLT. */
static inline kombo_value *kombo_member_named(const kombo_value *v, const char *name)
{
    kombo_value *m;
    if (v == NULL || v->type != KOMBO_V_OBJECT)
        return NULL;
    for (m = v->child; m != NULL; m = m->next)
        if (kombo_str_is(m->key, name))
            return m;
    return NULL;
}

/* src copied into dst[cap] (cap > 0), cut to fit and NUL-terminated: what
 * snprintf(dst, cap, "%s", src) does, without parsing a format (a call
 * sets a message this way every time). */
static inline void kombo_copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The known key nearest to `key` (the same letters ignoring case, '_' and
 * '-', or at most two edits away), or NULL.  `table` holds entries of
 * `stride` bytes that each start with a `const char *` key; a NULL key ends it. */
const char *kombo_suggest_key(const char *key, size_t len, const void *table, size_t stride);

/* ------------------------------------------- schema.c, file_object.c, write.c */

struct kombo_schema;
struct kombo_value;
struct kombo_arena;
struct kombo_property;

/* At most KOMBO_ECHO_MAX bytes of s for a message, printable ASCII only
 * (other bytes as '?'), "..." when cut; dst needs KOMBO_ECHO_MAX + 4. */
#define KOMBO_ECHO_MAX 40
void kombo_echo(char *dst, size_t dstsz, kombo_str s);

/* A double as the shortest text that reads back equal (%.15g, %.16g or
 * %.17g); buf holds 32 bytes.  Finite values only. */
void kombo_format_double(char buf[32], double d);
/* An integer in decimal, as "%lld" writes it (without snprintf: a query's
 * page_size and an array index in a path are written on every call);
 * returns its length. */
size_t kombo_format_int(char buf[24], long long v);

/* The JSON name of a value's type for "(got ...)": v->given when set. */
const char *kombo_value_type_name(const struct kombo_value *v);

/* Whether v's type is one s allows: 1, 0, or -1 for an empty table that s
 * allows both as an array and as an object.  A value already reported
 * (KOMBO_V_INVALID) fits anything. */
int kombo_schema_type_ok(const struct kombo_schema *s, const struct kombo_value *v);
/* The types s allows at its top: its own, a file object's, or its
 * branches' (any of them for anyOf/oneOf, all for allOf); 0: anything. */
unsigned kombo_schema_types(const struct kombo_schema *s, int depth);
/* "a string or null", "an integer", "a string, an array or an object". */
void kombo_type_words(char *buf, size_t cap, unsigned types);
/* The problem kombo_schema_type_ok found: "must be a string (got number)". */
void kombo_schema_type_problem(kombo_problems *out, const char *path, const struct kombo_schema *s,
                               const struct kombo_value *v);
/* The property s lists under `name`, or NULL. */
const struct kombo_property *kombo_schema_property(const struct kombo_schema *s, const char *name);
/* The longest path a problem holds (kombo_problem.path), with its NUL. */
#define KOMBO_PATH_CAP 128
/* dst = base + "." + key (key's control bytes as '?', at most 64 bytes of
 * it), cut to fit dst (at a UTF-8 boundary). */
void kombo_path_join(char *dst, size_t cap, const char *base, const char *key, size_t keylen);
/* dst = base + "[i]" (i counts from 1), or base alone when the index does not fit. */
void kombo_path_index(char *dst, size_t cap, const char *base, size_t i);
/* d is a whole number that fits an int64_t. */
int kombo_integral(double d);
/* The longest prefix of s[0..n) that does not end inside a UTF-8 sequence. */
size_t kombo_utf8_cut(const char *s, size_t n);

#endif

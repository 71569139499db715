/*
 * schema_types.c - what the validator (schema.c), the file object's rules
 * (file_object.c) and the writer (write.c) all say about values and
 * descriptors: a value's type name, whether a descriptor's types admit a
 * value and the problem when not, paths, echoes of values in messages.
 * It uses none of them, so they can all use it.
 */
#include "schema.h"
#include "internal.h"
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* --------------------------------------------------------------- helpers */

void kombo_echo(char *dst, size_t dstsz, kombo_str s)
{
    size_t n = s.len < KOMBO_ECHO_MAX ? s.len : KOMBO_ECHO_MAX;
    size_t i, o = 0;

    if (dstsz == 0)
        return;
    for (i = 0; i < n && s.ptr != NULL && o + 1 < dstsz; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        dst[o++] = (char)((ch >= 0x20 && ch < 0x7f) ? ch : '?');
    }
    if (s.len > n && o + 3 < dstsz) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

size_t kombo_format_int(char buf[24], long long v)
{
    char tmp[24];
    size_t n = 0, i;
    /* the magnitude as unsigned: LLONG_MIN has no positive twin */
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    i = 0;
    if (v < 0)
        buf[i++] = '-';
    while (n > 0)
        buf[i++] = tmp[--n];
    buf[i] = '\0';
    return i;
}

void kombo_format_double(char buf[32], double d)
{
    static const char *const fmts[] = {"%.15g", "%.16g", "%.17g"};
    size_t i;
    /* Whole numbers below 2^53 in full, as the binding has always written
     * them (1e15 as 1000000000000000). */
    if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(int64_t)d) {
        snprintf(buf, 32, "%.0f", d);
        return;
    }
    for (i = 0; i < 3; i++) {
        snprintf(buf, 32, fmts[i], d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

/* The cut that keeps a UTF-8 sequence whole: n moved back past a lead
 * byte whose sequence would not fit. */
size_t kombo_utf8_cut(const char *s, size_t n)
{
    size_t i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3)
        i--;
    if (i > 0 && (unsigned char)s[i - 1] >= 0xC0 && n - (i - 1) < kombo_utf8_seqlen((unsigned char)s[i - 1]))
        return i - 1;
    return n;
}

/* Whether any of p's n bytes is a control byte (< 0x20, or DEL), told
 * eight bytes a step (a name rarely has one). */
#define PJ_ONES 0x0101010101010101ull
#define PJ_HIGH 0x8080808080808080ull
static uint64_t word_control(uint64_t x)
{
    uint64_t del = x ^ (PJ_ONES * 0x7f);
    /* a byte below 0x20 (its high bit clear), or a zero byte of del */
    return (((x - PJ_ONES * 0x20) & ~x) | ((del - PJ_ONES) & ~del)) & PJ_HIGH;
}

static int has_control(const char *p, size_t n)
{
    uint64_t x;
    size_t i;
    if (n < 8) {
        for (i = 0; i < n; i++)
            if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] == 0x7f)
                return 1;
        return 0;
    }
    for (i = 0; n - i > 8; i += 8) {
        memcpy(&x, p + i, 8);
        if (word_control(x))
            return 1;
    }
    memcpy(&x, p + n - 8, 8); /* the last eight, overlapping bytes already seen */
    return word_control(x) != 0;
}

void kombo_path_join(char *dst, size_t cap, const char *base, const char *key, size_t keylen)
{
    size_t o = strlen(base), i;

    if (o >= cap)
        o = cap - 1;
    memmove(dst, base, o);
    if (o > 0 && o + 1 < cap) /* a top-level member (a query parameter) has no dot */
        dst[o++] = '.';
    if (keylen > 64)
        keylen = kombo_utf8_cut(key, 64);
    if (keylen > cap - 1 - o)
        keylen = cap - 1 - o;
    /* Copied whole, then control bytes masked: a path is made for every
     * member checked, and read only when a problem names it. */
    memcpy(dst + o, key, keylen);
    if (has_control(dst + o, keylen))
        for (i = o; i < o + keylen; i++) {
            unsigned char ch = (unsigned char)dst[i];
            if (ch < 0x20 || ch == 0x7f)
                dst[i] = '?';
        }
    o = kombo_utf8_cut(dst, o + keylen);
    dst[o] = '\0';
}

void kombo_path_index(char *dst, size_t cap, const char *base, size_t i)
{
    char ix[32];
    size_t o = strlen(base), n;

    /* (no snprintf: a path is made for every element checked) */
    ix[0] = '[';
    n = 1 + kombo_format_int(ix + 1, (long long)i);
    ix[n++] = ']';
    ix[n] = '\0';
    if (o + n >= cap) /* no room for the index: the element's path is its array's */
        n = 0;
    if (o >= cap)
        o = kombo_utf8_cut(base, cap - 1);
    memmove(dst, base, o);
    memcpy(dst + o, ix, n);
    dst[o + n] = '\0';
}

const char *kombo_vpath_text(kombo_vpath *p)
{
    if (p->text == NULL) {
        const char *base = kombo_vpath_text(p->up);
        if (p->key != NULL)
            kombo_path_join(p->buf, sizeof p->buf, base, p->key, p->klen == (size_t)-1 ? strlen(p->key) : p->klen);
        else
            kombo_path_index(p->buf, sizeof p->buf, base, p->index);
        p->text = p->buf;
    }
    return p->text;
}

const char *kombo_value_type_name(const kombo_value *v)
{
    if (v->given != NULL)
        return v->given;
    switch (v->type) {
    case KOMBO_V_NULL: return "null";
    case KOMBO_V_BOOLEAN: return "boolean";
    case KOMBO_V_INTEGER:
    case KOMBO_V_NUMBER: return "number";
    case KOMBO_V_STRING: return "string";
    case KOMBO_V_ARRAY: return "array";
    case KOMBO_V_OBJECT: return "object";
    case KOMBO_V_EMPTY: return "table";
    case KOMBO_V_SOURCE: return "function";
    default: return "value";
    }
}

int kombo_integral(double d)
{
    return d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == (double)(int64_t)d;
}

/* ------------------------------------------------------------------ types */

/* The types s allows at its top: its own, a file object's, or its
 * branches' (any of them for anyOf/oneOf, all for allOf); 0: anything. */
unsigned kombo_schema_types(const kombo_schema *s, int depth)
{
    unsigned t = s->types;
    size_t i;

    if (s->flags & KOMBO_S_FILE)
        t |= KOMBO_T_OBJECT;
    if (t != 0 || s->combine == KOMBO_COMBINE_NONE || depth > 16)
        return t;
    if (s->combine == KOMBO_COMBINE_ALL_OF) {
        unsigned all = 0;
        for (i = 0; i < s->nbranches; i++) {
            unsigned b = kombo_schema_types(s->branches[i], depth + 1);
            if (b != 0)
                all = all ? (all & b) : b;
        }
        return all;
    }
    for (i = 0; i < s->nbranches; i++) {
        unsigned b = kombo_schema_types(s->branches[i], depth + 1);
        if (b == 0)
            return 0;
        t |= b;
    }
    return t;
}

int kombo_schema_type_ok(const kombo_schema *s, const kombo_value *v)
{
    /* A typed descriptor's own types, without the walk of its branches. */
    unsigned t = s->types != 0 && !(s->flags & KOMBO_S_FILE) ? s->types : kombo_schema_types(s, 0);

    if (v->type == KOMBO_V_INVALID)
        return 1;
    if (t == 0)
        return 1;
    switch (v->type) {
    case KOMBO_V_NULL: return (t & KOMBO_T_NULL) != 0;
    case KOMBO_V_BOOLEAN:
        return (t & KOMBO_T_BOOLEAN) || ((s->flags & KOMBO_S_QUERY_BOOL) && (t & KOMBO_T_STRING));
    case KOMBO_V_INTEGER: return (t & (KOMBO_T_INTEGER | KOMBO_T_NUMBER)) != 0;
    case KOMBO_V_NUMBER: return (t & KOMBO_T_NUMBER) || ((t & KOMBO_T_INTEGER) && kombo_integral(v->d));
    case KOMBO_V_STRING: return (t & KOMBO_T_STRING) != 0;
    case KOMBO_V_ARRAY:
        return (t & KOMBO_T_ARRAY) || ((s->flags & KOMBO_S_QUERY_LIST) && (t & KOMBO_T_STRING));
    case KOMBO_V_OBJECT: return (t & KOMBO_T_OBJECT) != 0;
    case KOMBO_V_EMPTY:
        if ((t & KOMBO_T_ARRAY) && (t & KOMBO_T_OBJECT))
            return -1;
        return (t & (KOMBO_T_ARRAY | KOMBO_T_OBJECT)) != 0 ||
               ((s->flags & KOMBO_S_QUERY_LIST) && (t & KOMBO_T_STRING));
    default: return 0;
    }
}

/* "a string or null", "an integer", "a string, an array or an object". */
void kombo_type_words(char *buf, size_t cap, unsigned t)
{
    const char *w[7];
    size_t n = 0, i, o = 0;

    if (t & KOMBO_T_STRING) w[n++] = "a string";
    if (t & KOMBO_T_NUMBER) w[n++] = "a number";
    else if (t & KOMBO_T_INTEGER) w[n++] = "an integer";
    if (t & KOMBO_T_BOOLEAN) w[n++] = "a boolean";
    if (t & KOMBO_T_ARRAY) w[n++] = "an array";
    if (t & KOMBO_T_OBJECT) w[n++] = "an object";
    if (t & KOMBO_T_NULL) w[n++] = "null";
    buf[0] = '\0';
    for (i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", w[i]);
}

void kombo_schema_type_problem(kombo_problems *out, const char *path, const kombo_schema *s,
                               const kombo_value *v)
{
    char words[96];
    if (kombo_schema_type_ok(s, v) < 0) {
        kombo_problems_add(out, path,
                           "is an empty table, which could be an array or an object here: "
                           "give kombo.empty_array for an empty array, or leave it out");
        return;
    }
    kombo_type_words(words, sizeof words, kombo_schema_types(s, 0));
    /* A query string that also takes a Lua array or boolean says so. */
    if (s->flags & KOMBO_S_QUERY_LIST)
        snprintf(words + strlen(words), sizeof words - strlen(words), " or an array of strings");
    else if (s->flags & KOMBO_S_QUERY_BOOL)
        snprintf(words + strlen(words), sizeof words - strlen(words), " or a boolean");
    kombo_problems_add(out, path, "must be %s (got %s)", words, kombo_value_type_name(v));
}

const kombo_property *kombo_schema_property(const kombo_schema *s, const char *name)
{
    size_t i;
    for (i = 0; i < s->nproperties; i++)
        if (s->properties[i].name[0] == name[0] && strcmp(s->properties[i].name, name) == 0)
            return &s->properties[i];
    return NULL;
}


/*
 * value_json.c - JSON text into a value tree: a request body for C
 * programs that have it as text (and for the fuzzers), read with the
 * core's strict scanner (json.h).  Strings are decoded into the arena;
 * numbers without a fraction or an exponent that fit 64 bits are integers.
 */
#include "kombo.h"
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kombo_value *from_jval(kombo_arena *a, const jval *j);

static int decode_string(kombo_arena *a, const jval *j, kombo_str *out)
{
    char *dst = kombo_arena_alloc(a, j->n); /* decoded is never longer than n - 2, plus NUL */
    int truncated = 0;
    if (dst == NULL)
        return -1;
    out->len = kombo_json_str_decode(j, dst, j->n, 0, &truncated);
    out->ptr = dst;
    return 0;
}

static int is_integer_text(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] == '.' || p[i] == 'e' || p[i] == 'E')
            return 0;
    return 1;
}

static kombo_value *number(kombo_arena *a, const jval *j)
{
    char text[400];
    kombo_value *v;
    size_t n = j->n < sizeof text - 1 ? j->n : sizeof text - 1;
    memcpy(text, j->p, n);
    text[n] = '\0';
    if (is_integer_text(text, n)) {
        long long i;
        errno = 0;
        i = strtoll(text, NULL, 10);
        if (errno == 0) {
            v = kombo_value_new(a, KOMBO_V_INTEGER);
            if (v != NULL)
                v->i = (int64_t)i;
            return v;
        }
    }
    v = kombo_value_new(a, KOMBO_V_NUMBER);
    if (v != NULL)
        v->d = strtod(text, NULL); /* a huge exponent gives HUGE_VAL: refused by the writer's caller */
    return v;
}

static kombo_value *container(kombo_arena *a, const jval *j)
{
    kombo_value *v = kombo_value_new(a, j->type == J_OBJECT ? KOMBO_V_OBJECT : KOMBO_V_ARRAY);
    jiter it;
    jval key, val;
    if (v == NULL)
        return NULL;
    kombo_json_iter_begin(&it, j);
    while (kombo_json_iter_next(&it, &key, &val)) {
        kombo_value *m = from_jval(a, &val);
        if (m == NULL)
            return NULL;
        if (j->type == J_OBJECT && decode_string(a, &key, &m->key) != 0)
            return NULL;
        kombo_value_append(v, m);
    }
    return v;
}

static kombo_value *from_jval(kombo_arena *a, const jval *j)
{
    kombo_value *v;
    switch (j->type) {
    case J_OBJECT:
    case J_ARRAY:
        return container(a, j);
    case J_STRING:
        v = kombo_value_new(a, KOMBO_V_STRING);
        if (v != NULL && decode_string(a, j, &v->s) != 0)
            return NULL;
        return v;
    case J_NUMBER:
        return number(a, j);
    case J_TRUE:
    case J_FALSE:
        v = kombo_value_new(a, KOMBO_V_BOOLEAN);
        if (v != NULL)
            v->b = j->type == J_TRUE;
        return v;
    case J_NULL:
    default:
        return kombo_value_new(a, KOMBO_V_NULL);
    }
}

kombo_value *kombo_value_parse_json(kombo_arena *a, const char *text, size_t n, char *err, size_t errsz)
{
    jscan s;
    jval root;
    kombo_value *v;
    if (kombo_json_parse(&s, text, n, &root) != 0) {
        snprintf(err, errsz, "%s at byte %zu", s.err, s.err_at);
        return NULL;
    }
    v = from_jval(a, &root);
    if (v == NULL)
        snprintf(err, errsz, "out of memory");
    return v;
}

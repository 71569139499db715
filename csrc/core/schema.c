/*
 * schema.c - the one validator: a value tree checked against a generated
 * descriptor (schema.h), every problem at once, one per mistake.
 *
 * Messages follow request.c's rules: lower-case, no final period, read
 * after the path ("body.attachment.type is required (one of CV, ...)").
 * A value is echoed at most KOMBO_ECHO_MAX bytes, printable ASCII only.
 * Paths: members as "a.b", elements as "a[1]" (1-based, as Lua counts and
 * as the binding writes remote_fields paths).
 *
 * File objects (KOMBO_S_FILE) get their own rules first (file_object.c),
 * which also apply their defaults, so that today's wording stands where
 * both would speak (kombo_problems_add keeps the first word per path).
 */
#include "schema.h"
#include "internal.h"
#include "codec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_CAP 128   /* kombo_problem.path */
#define MAX_DEPTH 128  /* nested checks: values, and branches of branches */
#define ENUM_IN_REQUIRED 8
#define LIST_CAP 160   /* an enum's values listed in a message (which holds 256 bytes) */

typedef struct ck {
    kombo_arena *arena;
    kombo_problems *out;
    int depth;
} ck;

static void check(ck *c, const kombo_schema *s, kombo_value *v, kombo_vpath *path);
static void check_any(ck *c, kombo_value *v, kombo_vpath *path);

/* The path's text, for a problem (joined only now: kombo_vpath). */
#define AT(path) kombo_vpath_text(path)

/* "CV, COVER_LETTER, OTHER" into buf (cut with "..." when long). */
static void list_values(char *buf, size_t cap, const char *const *values)
{
    size_t o = 0, i;
    buf[0] = '\0';
    for (i = 0; values != NULL && values[i] != NULL; i++) {
        size_t n = strlen(values[i]);
        if (o + n + 2 + 4 >= cap) {
            snprintf(buf + o, cap - o, "%s...", i ? ", " : "");
            return;
        }
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", values[i]);
    }
}

static size_t count_values(const char *const *values)
{
    size_t n = 0;
    while (values != NULL && values[n] != NULL)
        n++;
    return n;
}

/* ---------------------------------------------------------------- formats */

static int digits(const char *p, size_t n, int *out)
{
    size_t i;
    int v = 0;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

/* RFC 3339 date-time ("2024-05-01T12:00:00Z", "...:00.5+02:00"), or a bare
 * date (Kombo's own pattern allows one). */
static int date_time_ok(kombo_str s)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s.ptr;
    size_t n = s.len, i;
    int y, mo, d, h, mi, se, dim;

    if (n < 10 || !digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) || p[7] != '-' ||
        !digits(p + 8, 2, &d))
        return 0;
    if (mo < 1 || mo > 12 || d < 1)
        return 0;
    dim = mdays[mo - 1] + (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
    if (d > dim)
        return 0;
    if (n == 10)
        return 1;
    if (n < 20 || (p[10] != 'T' && p[10] != 't') || !digits(p + 11, 2, &h) || p[13] != ':' ||
        !digits(p + 14, 2, &mi) || p[16] != ':' || !digits(p + 17, 2, &se))
        return 0;
    if (h > 23 || mi > 59 || se > 60)
        return 0;
    i = 19;
    if (p[i] == '.') {
        size_t f = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == f)
            return 0;
    }
    if (i < n && (p[i] == 'Z' || p[i] == 'z'))
        return i + 1 == n;
    if (i < n && (p[i] == '+' || p[i] == '-')) {
        int oh, om;
        return n - i == 6 && digits(p + i + 1, 2, &oh) && p[i + 3] == ':' && digits(p + i + 4, 2, &om) &&
               oh <= 23 && om <= 59;
    }
    return 0;
}

static int blank_or_control(kombo_str s)
{
    size_t i;
    for (i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch <= 0x20 || ch == 0x7f)
            return 1;
    }
    return 0;
}

static int email_ok(kombo_str s)
{
    const char *at = s.len ? memchr(s.ptr, '@', s.len) : NULL;
    const char *dom, *end = s.ptr + s.len, *dot;
    if (at == NULL || at == s.ptr || blank_or_control(s) || memchr(at + 1, '@', (size_t)(end - at - 1)))
        return 0;
    dom = at + 1;
    dot = dom < end ? memchr(dom, '.', (size_t)(end - dom)) : NULL;
    return dot != NULL && dom[0] != '.' && end[-1] != '.';
}

static int alpha(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static int uri_ok(kombo_str s)
{
    size_t i = 0;
    if (s.len == 0 || !alpha((unsigned char)s.ptr[0]) || blank_or_control(s))
        return 0;
    for (i = 1; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch == ':')
            return i + 1 < s.len;
        if (!alpha(ch) && !(ch >= '0' && ch <= '9') && ch != '+' && ch != '-' && ch != '.')
            return 0;
    }
    return 0;
}

/* --------------------------------------------------------------- scalars */

static size_t utf8_chars(kombo_str s)
{
    size_t i, n = 0;
    for (i = 0; i < s.len; i++)
        n += ((unsigned char)s.ptr[i] & 0xC0) != 0x80;
    return n;
}

/* A string against s's string rules; the first that fails speaks.  The
 * value's echo is made only for a problem's message. */
#define GOT (kombo_echo(got, sizeof got, str), got)
static void check_string(ck *c, const kombo_schema *s, kombo_str str, kombo_vpath *path)
{
    char got[KOMBO_ECHO_MAX + 4], list[LIST_CAP];
    size_t i;

    if (!kombo_utf8_valid(str.ptr, str.len)) {
        kombo_problems_add(c->out, AT(path), "must be valid UTF-8");
        return;
    }
    if (s->enum_values != NULL) {
        for (i = 0; s->enum_values[i] != NULL && !kombo_str_is(str, s->enum_values[i]); i++)
            ;
        if (s->enum_values[i] == NULL) {
            list_values(list, sizeof list, s->enum_values);
            kombo_problems_add(c->out, AT(path), "must be one of %s (got \"%s\")", list, GOT);
            return;
        }
    }
    if (s->const_value != NULL && !kombo_str_is(str, s->const_value)) {
        kombo_problems_add(c->out, AT(path), "must be \"%.100s\" (got \"%s\")", s->const_value, GOT);
        return;
    }
    if (s->min_length > 0 && utf8_chars(str) < s->min_length) {
        if (s->min_length == 1)
            kombo_problems_add(c->out, AT(path), "must not be empty");
        else
            kombo_problems_add(c->out, AT(path), "must be at least %zu characters long", s->min_length);
        return;
    }
    if (s->pattern != NULL) {
        int r = kombo_regex_match(s->pattern, str.ptr, str.len);
        const char *src = s->pattern->source ? s->pattern->source : "its pattern";
        if (r == 0) {
            kombo_problems_add(c->out, AT(path), "must match %.120s (got \"%s\")", src, GOT);
            return;
        }
        if (r < 0) {
            kombo_problems_add(c->out, AT(path), "could not be checked against %.120s: the match gave up (got \"%s\")",
                               src, GOT);
            return;
        }
    }
    switch (s->format) {
    case KOMBO_FMT_DATE_TIME:
        if (!date_time_ok(str))
            kombo_problems_add(c->out, AT(path), "must be a date-time like 2024-05-01T12:00:00Z (got \"%s\")", GOT);
        break;
    case KOMBO_FMT_EMAIL:
        if (!email_ok(str))
            kombo_problems_add(c->out, AT(path), "must be an email address (got \"%s\")", GOT);
        break;
    case KOMBO_FMT_URI:
        if (!uri_ok(str))
            kombo_problems_add(c->out, AT(path), "must be an absolute URI (got \"%s\")", GOT);
        break;
    default:
        break;
    }
}

#undef GOT

static void check_number(ck *c, const kombo_schema *s, const kombo_value *v, kombo_vpath *path)
{
    double d = v->type == KOMBO_V_INTEGER ? (double)v->i : v->d;
    char lim[32], got[32];
    int low = s->has_minimum && d < s->minimum;

    if (!low && !(s->has_maximum && d > s->maximum))
        return; /* (the value is echoed only in a problem: no formatting per call) */
    if (v->type == KOMBO_V_INTEGER)
        kombo_format_int(got, (long long)v->i);
    else
        kombo_format_double(got, v->d);
    kombo_format_double(lim, low ? s->minimum : s->maximum);
    kombo_problems_add(c->out, AT(path), low ? "must be at least %s (got %s)" : "must be at most %s (got %s)", lim, got);
}

/* A query list: each element a non-empty string without a comma, and each
 * held to the string rules of s. */
static void check_query_list(ck *c, const kombo_schema *s, const kombo_value *v, kombo_vpath *path)
{
    const kombo_value *e;
    kombo_vpath p;
    size_t i = 0;

    for (e = v->child; e != NULL; e = e->next) {
        kombo_vpath_element(&p, path, ++i);
        if (e->type == KOMBO_V_INVALID)
            continue;
        if (e->type != KOMBO_V_STRING)
            kombo_problems_add(c->out, AT(&p), "must be a string (got %s)", kombo_value_type_name(e));
        else if (e->s.len == 0)
            kombo_problems_add(c->out, AT(&p), "must not be empty");
        else if (memchr(e->s.ptr, ',', e->s.len) != NULL)
            kombo_problems_add(c->out, AT(&p), "must not contain a comma (the values are sent as one comma-separated list)");
        else
            check_string(c, s, e->s, &p);
    }
}

/* --------------------------------------------------------------- objects */

/* The properties an object is checked against: one schema's, or several
 * (allOf, merged). */
typedef struct view {
    const kombo_schema *const *from; /* schemas whose properties count */
    size_t nfrom;
    int open, file;
    const kombo_schema *additional; /* with open: NULL is anything */
} view;

static int listed(const view *w, kombo_str key)
{
    size_t f, i;
    for (f = 0; f < w->nfrom; f++)
        for (i = 0; i < w->from[f]->nproperties; i++)
            if (kombo_str_is(key, w->from[f]->properties[i].name))
                return 1;
    return 0;
}

/* The SDK's own members of a file object, which the description does not
 * list: the content given as a path, bytes or a source (and its size). */
static const char *const file_extras[] = {"file", "bytes", "source", "size"};
#define NEXTRAS (sizeof file_extras / sizeof file_extras[0])

static void unknown_member(ck *c, const view *w, const kombo_value *m, kombo_vpath *path)
{
    const char *inline_names[48];
    const char **names = inline_names;
    const char *near = NULL;
    size_t total = w->file ? NEXTRAS : 0, f, i, k = 0;

    for (f = 0; f < w->nfrom; f++)
        total += w->from[f]->nproperties;
    if (total + 1 > sizeof inline_names / sizeof inline_names[0])
        names = malloc((total + 1) * sizeof *names);
    if (names != NULL) {
        for (f = 0; f < w->nfrom; f++)
            for (i = 0; i < w->from[f]->nproperties; i++)
                names[k++] = w->from[f]->properties[i].name;
        for (i = 0; w->file && i < NEXTRAS; i++)
            names[k++] = file_extras[i];
        names[k] = NULL;
        near = kombo_suggest_key(m->key.ptr, m->key.len, names, sizeof *names);
    }
    if (near != NULL)
        kombo_problems_add(c->out, AT(path), "is not a known field (did you mean %s?)", near);
    else
        kombo_problems_add(c->out, AT(path), "is not a known field");
    if (names != inline_names)
        free(names);
}

static void required_problem(ck *c, const kombo_schema *ps, kombo_vpath *path)
{
    char list[LIST_CAP];
    size_t n = ps != NULL ? count_values(ps->enum_values) : 0;
    if (n > 0 && n <= ENUM_IN_REQUIRED && (ps->types == 0 || ps->types == KOMBO_T_STRING)) {
        list_values(list, sizeof list, ps->enum_values);
        kombo_problems_add(c->out, AT(path), "is required (one of %s)", list);
    } else {
        kombo_problems_add(c->out, AT(path), "is required");
    }
}

/* The members of object v (or an empty table taken as one): the listed
 * ones in the descriptor's order, then the others in the value's.  Of a
 * file object, the members its own rules check whole (file_object.c: the
 * name's rules, the content type's (the description's pattern, in the
 * words uploads have always had), the type through check_member, data and
 * data_url) are skipped, so that none is checked twice (1 MB of base64 is
 * scanned once), and so are the SDK's own (file, bytes, source, size). */
static void walk_object(ck *c, const view *w, kombo_value *v, kombo_vpath *path)
{
    kombo_vpath p;
    kombo_value *m;
    /* Members one descriptor's names found, each another member (allOf's
     * branches may list a name twice: not counted there). */
    size_t f, i, found = 0, all = w->nfrom == 1 ? v->n : (size_t)-1;
    unsigned file_listed = 0; /* of a file object: the file keys a descriptor lists, as bits */

    for (f = 0; f < w->nfrom; f++) {
        const kombo_schema *s = w->from[f];
        for (i = 0; i < s->nproperties; i++) {
            const kombo_property *prop = &s->properties[i];
            if (w->file) {
                int k = kombo_file_key_name(prop->name);
                if (k >= 0)
                    file_listed |= 1u << k;
                if (k >= 0 && k <= KOMBO_FILE_DATA_URL)
                    continue; /* checked by the file object's rules */
            }
            /* Once every member is found, the other names find none (a
             * query's ten parameters, two given): only "required" is left. */
            m = v->type == KOMBO_V_OBJECT && found < all ? kombo_member_named(v, prop->name) : NULL;
            if (m == NULL) {
                /* A file object's members are its own rules' (file_object.c). */
                if (prop->required && !w->file) {
                    kombo_vpath_name(&p, path, prop->name);
                    required_problem(c, prop->schema, &p);
                }
            } else {
                found++;
                kombo_vpath_name(&p, path, prop->name);
                check(c, prop->schema, m, &p);
            }
        }
    }
    if (v->type != KOMBO_V_OBJECT || found == all)
        return; /* (every member listed: none is left for the walk below) */
    for (m = v->child; m != NULL; m = m->next) {
        if (m->key.ptr == NULL)
            continue;
        if (w->file) {
            int k = kombo_file_key(m->key);
            if (k > KOMBO_FILE_DATA_URL || (k >= 0 && (file_listed & (1u << k))))
                continue; /* the SDK's own, or listed */
        }
        if (listed(w, m->key))
            continue;
        kombo_vpath_member(&p, path, m->key.ptr, m->key.len);
        if (w->open && !kombo_utf8_valid(m->key.ptr, m->key.len))
            kombo_problems_add(c->out, AT(&p), "has a name that is not valid UTF-8");
        else if (w->open)
            check(c, w->additional, m, &p);
        else
            unknown_member(c, w, m, &p);
    }
}

/* The listed member of property `prop` (m, NULL when absent) of an object
 * at objpath: "is required" when absent and required, else checked against
 * its schema.  The file object's rules call it (a kombo_member_check_fn)
 * for the member they check in their own order. */
static void check_member(void *ctx, const kombo_property *prop, kombo_value *m, kombo_vpath *objpath)
{
    ck *c = ctx;
    kombo_vpath p;

    kombo_vpath_name(&p, objpath, prop->name);
    if (m == NULL) {
        if (prop->required)
            required_problem(c, prop->schema, &p);
    } else {
        check(c, prop->schema, m, &p);
    }
}

/* ------------------------------------------------------------ combinations */

static int object_like(const kombo_schema *s)
{
    return s->combine == KOMBO_COMBINE_NONE &&
           ((s->types & KOMBO_T_OBJECT) || s->nproperties > 0 || (s->flags & (KOMBO_S_FILE | KOMBO_S_OPEN)));
}

/* allOf over objects, flattened (an allOf inside one counts too); 0 when
 * a branch is not an object, or too many. */
#define MAX_MERGED 32
static int collect_all_of(const kombo_schema *s, const kombo_schema **out, size_t *n, int depth)
{
    size_t i;
    if (s->combine == KOMBO_COMBINE_ALL_OF && depth < 8) {
        if (s->nproperties > 0 || s->types != 0) {
            if (*n >= MAX_MERGED)
                return 0;
            out[(*n)++] = s;
        }
        for (i = 0; i < s->nbranches; i++)
            if (!collect_all_of(s->branches[i], out, n, depth + 1))
                return 0;
        return 1;
    }
    if (!object_like(s) || *n >= MAX_MERGED)
        return 0;
    out[(*n)++] = s;
    return 1;
}

/* 1 when the branches were checked as one merged object. */
static int check_all_of(ck *c, const kombo_schema *s, kombo_value *v, kombo_vpath *path)
{
    const kombo_schema *from[MAX_MERGED];
    size_t n = 0, i;
    view w;
    int any_open_free = 0;

    if (!collect_all_of(s, from, &n, 0) || n == 0)
        return 0;
    if (v->type != KOMBO_V_OBJECT && v->type != KOMBO_V_EMPTY) {
        kombo_problems_add(c->out, AT(path), "must be an object (got %s)", kombo_value_type_name(v));
        return 1;
    }
    memset(&w, 0, sizeof w);
    w.from = from;
    w.nfrom = n;
    for (i = 0; i < n; i++) {
        if (from[i]->flags & KOMBO_S_OPEN) {
            w.open = 1;
            if (from[i]->additional == NULL)
                any_open_free = 1;
            else if (w.additional == NULL)
                w.additional = from[i]->additional;
        }
    }
    if (any_open_free)
        w.additional = NULL;
    for (i = 0; i < n; i++)
        if (from[i]->flags & KOMBO_S_FILE) {
            w.file = 1;
            kombo_file_object_check(c->arena, from[i], v, path, c->out, check_member, c);
            break;
        }
    walk_object(c, &w, v, path);
    return 1;
}

static void copy_problems(kombo_problems *out, const kombo_problems *from)
{
    size_t i;
    for (i = 0; i < from->count; i++)
        kombo_problems_add(out, from->items[i].path, "%s", from->items[i].message);
    out->dropped += from->dropped;
}

static void check_any_of(ck *c, const kombo_schema *s, kombo_value *v, kombo_vpath *path)
{
    kombo_problems *trial, *best, *saved = c->out;
    size_t i, valid = 0, best_n = (size_t)-1, matching = 0;
    char words[160], p[PATH_CAP];
    unsigned none = 0;

    if (s->discriminator != NULL && s->discriminator_values != NULL) {
        kombo_value *m;
        char list[LIST_CAP], got[KOMBO_ECHO_MAX + 4];
        if (v->type != KOMBO_V_OBJECT && v->type != KOMBO_V_EMPTY) {
            kombo_problems_add(c->out, AT(path), "must be an object (got %s)", kombo_value_type_name(v));
            return;
        }
        kombo_path_join(p, sizeof p, AT(path), s->discriminator, strlen(s->discriminator));
        m = kombo_value_member(v, s->discriminator);
        list_values(list, sizeof list, s->discriminator_values);
        if (m == NULL) {
            kombo_problems_add(c->out, p, "is required (one of %s)", list);
            return;
        }
        if (m->type == KOMBO_V_INVALID)
            return;
        if (m->type != KOMBO_V_STRING) {
            kombo_problems_add(c->out, p, "must be a string (got %s)", kombo_value_type_name(m));
            return;
        }
        for (i = 0; i < s->nbranches && s->discriminator_values[i] != NULL; i++)
            if (kombo_str_is(m->s, s->discriminator_values[i])) {
                check(c, s->branches[i], v, path);
                return;
            }
        kombo_echo(got, sizeof got, m->s);
        kombo_problems_add(c->out, p, "must be one of %s (got \"%s\")", list, got);
        return;
    }

    trial = malloc(sizeof *trial);
    best = malloc(sizeof *best);
    if (trial == NULL || best == NULL) {
        free(trial);
        free(best);
        kombo_problems_add(c->out, AT(path), "could not be checked (out of memory)");
        return;
    }
    kombo_problems_init(best);
    for (i = 0; i < s->nbranches; i++) {
        const kombo_schema *b = s->branches[i];
        size_t n;
        if (kombo_schema_type_ok(b, v) != 1) {
            none |= kombo_schema_types(b, 0);
            continue;
        }
        matching++;
        kombo_problems_init(trial);
        c->out = trial;
        check(c, b, v, path);
        c->out = saved;
        n = trial->count + trial->dropped;
        if (n == 0) {
            valid++;
            if (s->combine == KOMBO_COMBINE_ANY_OF)
                break;
        } else if (n < best_n) {
            kombo_problems *t = best;
            best = trial;
            trial = t;
            best_n = n;
        }
    }
    if (valid > 1)
        kombo_problems_add(c->out, AT(path), "matches more than one of the allowed shapes");
    else if (valid == 0 && matching == 0) {
        /* "a string, an object": each branch's shape once. */
        size_t o = 0;
        unsigned bits[] = {KOMBO_T_STRING, KOMBO_T_NUMBER | KOMBO_T_INTEGER, KOMBO_T_BOOLEAN, KOMBO_T_ARRAY,
                           KOMBO_T_OBJECT, KOMBO_T_NULL};
        words[0] = '\0';
        for (i = 0; i < sizeof bits / sizeof bits[0]; i++) {
            char w[32];
            if (!(none & bits[i]))
                continue;
            kombo_type_words(w, sizeof w, none & bits[i]);
            o += (size_t)snprintf(words + o, sizeof words - o, "%s%s", o ? ", " : "", w);
            if (o >= sizeof words)
                break;
        }
        kombo_problems_add(c->out, AT(path), "must be one of: %s (got %s)", words, kombo_value_type_name(v));
    } else if (valid == 0) {
        copy_problems(c->out, best);
    }
    free(trial);
    free(best);
}

/* ---------------------------------------------------------------- check */

static void check_self(ck *c, const kombo_schema *s, kombo_value *v, kombo_vpath *path)
{
    switch (v->type) {
    case KOMBO_V_STRING:
        check_string(c, s, v->s, path);
        break;
    case KOMBO_V_INTEGER:
    case KOMBO_V_NUMBER:
        check_number(c, s, v, path);
        break;
    case KOMBO_V_ARRAY:
    case KOMBO_V_EMPTY: {
        unsigned t = kombo_schema_types(s, 0);
        if (!(t & KOMBO_T_ARRAY) && (s->flags & KOMBO_S_QUERY_LIST) && v->child == NULL) {
            /* Sent as "ids=" a filter would match nothing (or, left out,
             * everything): neither is what an empty list means, so ask. */
            kombo_problems_add(c->out, AT(path),
                               "must not be an empty list (leave it out not to filter by it)");
        } else if (v->type == KOMBO_V_ARRAY && !(t & KOMBO_T_ARRAY) && (s->flags & KOMBO_S_QUERY_LIST)) {
            check_query_list(c, s, v, path);
        } else if (v->type == KOMBO_V_ARRAY) {
            kombo_value *e;
            kombo_vpath p;
            size_t i = 0;
            for (e = v->child; e != NULL; e = e->next) {
                kombo_vpath_element(&p, path, ++i);
                check(c, s->items, e, &p);
            }
        } else if ((t & KOMBO_T_OBJECT) || s->nproperties > 0 || (s->flags & KOMBO_S_FILE)) {
            goto object; /* an empty table taken as an object: its required members are missing */
        }
        break;
    }
    case KOMBO_V_OBJECT:
    object:
        /* A combination's members belong to its branches (checked above). */
        if (s->combine != KOMBO_COMBINE_NONE)
            break;
        if ((s->types & KOMBO_T_OBJECT) || s->nproperties > 0 || (s->flags & (KOMBO_S_FILE | KOMBO_S_OPEN))) {
            view w;
            memset(&w, 0, sizeof w);
            w.from = &s;
            w.nfrom = 1;
            w.open = (s->flags & KOMBO_S_OPEN) != 0;
            w.file = (s->flags & KOMBO_S_FILE) != 0;
            w.additional = s->additional;
            /* A file object whose members its own rules covered (the usual
             * upload) leaves the walk nothing to do. */
            if (!w.file || kombo_file_object_check(c->arena, s, v, path, c->out, check_member, c))
                walk_object(c, &w, v, path);
        } else if (v->type == KOMBO_V_OBJECT && s->types == 0) {
            check_any(c, v, path); /* any value: only its strings' encoding */
        }
        break;
    default:
        break;
    }
}

/* Member names go out as JSON strings: valid UTF-8 only. */
static void check_keys(ck *c, const kombo_value *v, kombo_vpath *path)
{
    const kombo_value *m;
    char p[PATH_CAP];
    for (m = v->child; m != NULL; m = m->next)
        if (m->key.ptr != NULL && !kombo_utf8_valid(m->key.ptr, m->key.len)) {
            kombo_path_join(p, sizeof p, AT(path), m->key.ptr, m->key.len);
            kombo_problems_add(c->out, p, "has a name that is not valid UTF-8");
        }
}

/* A value any JSON value may be: its strings must still be UTF-8. */
static void check_any(ck *c, kombo_value *v, kombo_vpath *path)
{
    kombo_vpath p;
    kombo_value *m;
    size_t i = 0;

    if (v->type == KOMBO_V_STRING) {
        if (!kombo_utf8_valid(v->s.ptr, v->s.len))
            kombo_problems_add(c->out, AT(path), "must be valid UTF-8");
        return;
    }
    if (v->type == KOMBO_V_SOURCE) {
        kombo_problems_add(c->out, AT(path), "cannot be sent as JSON (got %s)", kombo_value_type_name(v));
        return;
    }
    if (v->type != KOMBO_V_ARRAY && v->type != KOMBO_V_OBJECT)
        return;
    if (v->type == KOMBO_V_OBJECT)
        check_keys(c, v, path);
    for (m = v->child; m != NULL; m = m->next) {
        if (v->type == KOMBO_V_ARRAY)
            kombo_vpath_element(&p, path, ++i);
        else
            kombo_vpath_member(&p, path, m->key.ptr != NULL ? m->key.ptr : "", m->key.len);
        check(c, NULL, m, &p);
    }
}

static void check(ck *c, const kombo_schema *s, kombo_value *v, kombo_vpath *path)
{
    if (v == NULL || v->type == KOMBO_V_INVALID)
        return;
    if (v->type == KOMBO_V_NUMBER && !isfinite(v->d)) {
        /* The binding refuses these; a C caller is told too (no JSON for them). */
        kombo_problems_add(c->out, AT(path), "must be a finite number (got %s)", isnan(v->d) ? "NaN" : "infinity");
        return;
    }
    if (s == NULL) {
        if (c->depth >= MAX_DEPTH) {
            kombo_problems_add(c->out, AT(path), "is nested too deeply");
            return;
        }
        c->depth++;
        check_any(c, v, path);
        c->depth--;
        return;
    }
    if (c->depth >= MAX_DEPTH) {
        kombo_problems_add(c->out, AT(path), "is nested too deeply");
        return;
    }
    c->depth++;
    /* A bare anyOf/oneOf says which shapes it takes itself. */
    if (s->types != 0 || (s->flags & KOMBO_S_FILE) || s->combine == KOMBO_COMBINE_NONE ||
        s->combine == KOMBO_COMBINE_ALL_OF || v->type == KOMBO_V_EMPTY) {
        int t = kombo_schema_type_ok(s, v);
        if (t != 1 && !(t == 0 && s->types == 0 && !(s->flags & KOMBO_S_FILE))) {
            kombo_schema_type_problem(c->out, AT(path), s, v);
            c->depth--;
            return;
        }
    }
    if (s->combine == KOMBO_COMBINE_ALL_OF) {
        if (!check_all_of(c, s, v, path)) {
            size_t i;
            for (i = 0; i < s->nbranches; i++)
                check(c, s->branches[i], v, path);
            check_self(c, s, v, path);
        }
    } else {
        if (s->combine != KOMBO_COMBINE_NONE)
            check_any_of(c, s, v, path);
        check_self(c, s, v, path);
    }
    c->depth--;
}

size_t kombo_schema_check_in(kombo_arena *a, const kombo_schema *s, kombo_value *v, const char *path,
                             kombo_problems *out)
{
    size_t before = out->count + out->dropped;
    kombo_vpath root;
    ck c;

    c.arena = a;
    c.out = out;
    c.depth = 0;
    kombo_vpath_root(&root, path != NULL ? path : "");
    if (v == NULL)
        kombo_problems_add(out, path, "is required");
    else
        check(&c, s, v, &root);
    return out->count + out->dropped - before;
}

size_t kombo_schema_check(const kombo_schema *s, kombo_value *v, const char *path, kombo_problems *out)
{
    return kombo_schema_check_in(NULL, s, v, path, out);
}

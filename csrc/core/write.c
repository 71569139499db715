/*
 * write.c - a checked value tree as a JSON body (segments) and as a query
 * string.  Members go out in the descriptor's order, then the ones it does
 * not list in the value's order; a file object's content goes last, as a
 * base64 stream (file, bytes, source) or borrowed verbatim (data), so a
 * large payload is never copied.  The JSON of a Kombo upload comes out
 * byte for byte as the hand-written attachment model laid it out before.
 * The same walk finds a body's file objects (kombo_schema_files), for
 * preflight.
 */
#include "schema.h"
#include "internal.h"
#include "buf.h"
#include "codec.h"
#include "body.h"

#include <stdio.h>
#include <string.h>

#define MAX_WRITE_DEPTH 200

typedef struct writer {
    kombo_body *body;
    kombo_buf *cur; /* the owned segment being written; NULL: start a new one */
    int failed;
    int depth;
    int brace; /* an object's "{" not written yet: its first member's key brings it */
} writer;

static kombo_buf *buf(writer *w)
{
    if (w->cur == NULL)
        w->cur = kombo_body_add_owned(w->body);
    return w->cur;
}

/* A literal's bytes: its length known here, not counted at every call. */
#define PUT(w, lit) kombo_buf_append(buf(w), (lit), sizeof(lit) - 1)

static void write_value(writer *w, const kombo_schema *s, kombo_value *v);

static int prop_listed(const kombo_schema *s, kombo_str key)
{
    size_t i;
    for (i = 0; s != NULL && i < s->nproperties; i++)
        if (kombo_str_is(key, s->properties[i].name))
            return 1;
    return 0;
}

/* ------------------------------------------------------------- branches */

/* The branch of an anyOf/oneOf a checked value took: the discriminator's,
 * else the first whose type fits and that lists the most of the value's
 * members (a closed branch that misses one does not fit). */
static const kombo_schema *pick_branch(const kombo_schema *s, const kombo_value *v)
{
    const kombo_schema *best = NULL;
    long best_score = -1;
    size_t i;

    if (s->discriminator != NULL && s->discriminator_values != NULL) {
        const kombo_value *m = kombo_value_member(v, s->discriminator);
        for (i = 0; m != NULL && m->type == KOMBO_V_STRING && i < s->nbranches && s->discriminator_values[i]; i++)
            if (kombo_str_is(m->s, s->discriminator_values[i]))
                return s->branches[i];
        return NULL;
    }
    for (i = 0; i < s->nbranches; i++) {
        const kombo_schema *b = s->branches[i];
        const kombo_value *m;
        long score = 0;
        if (kombo_schema_type_ok(b, v) != 1)
            continue;
        if (v->type == KOMBO_V_OBJECT && b->combine == KOMBO_COMBINE_NONE) {
            for (m = v->child; m != NULL; m = m->next) {
                if (prop_listed(b, m->key))
                    score++;
                else if (!(b->flags & KOMBO_S_OPEN) && !(b->flags & KOMBO_S_FILE))
                    score = -1000000;
            }
        }
        if (score > best_score) {
            best_score = score;
            best = b;
        }
    }
    return best;
}

/* -------------------------------------------------------------- objects */

/* The schemas whose properties order an object's members: one, or an
 * allOf's object branches in order. */
#define MAX_FROM 32
static void collect_from(const kombo_schema *s, const kombo_schema **from, size_t *n, int depth)
{
    size_t i;
    if (s == NULL || *n >= MAX_FROM)
        return;
    if (s->combine == KOMBO_COMBINE_ALL_OF && depth < 8) {
        from[(*n)++] = s;
        for (i = 0; i < s->nbranches; i++)
            collect_from(s->branches[i], from, n, depth + 1);
        return;
    }
    from[(*n)++] = s;
}

static const kombo_schema *additional_of(const kombo_schema *const *from, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if ((from[i]->flags & KOMBO_S_OPEN) && from[i]->additional == NULL)
            return NULL;
    for (i = 0; i < n; i++)
        if (from[i]->flags & KOMBO_S_OPEN)
            return from[i]->additional;
    return NULL;
}

static int listed_in(const kombo_schema *const *from, size_t n, kombo_str key)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (prop_listed(from[i], key))
            return 1;
    return 0;
}

/* A member already written (listed twice across allOf branches; within
 * one descriptor names are unique). */
static int written_before(const kombo_schema *const *from, size_t f, size_t i)
{
    size_t g, j;
    const char *name = from[f]->properties[i].name;
    for (g = 0; g < f; g++)
        for (j = 0; j < from[g]->nproperties; j++)
            if (strcmp(from[g]->properties[j].name, name) == 0)
                return 1;
    return 0;
}

/* plain: the key is known to need no escape (a file object's own names,
 * matched exactly), so it is not scanned again. */
static void member_of(writer *w, int *first, const kombo_schema *s, kombo_value *m, int plain)
{
    kombo_buf *b = buf(w);
    size_t comma = *first && !w->brace ? 0 : 1, n = m->key.len;
    char lead = w->brace ? '{' : ',';
    char *o;

    w->brace = 0;
    plain = (plain || kombo_json_plain(m->key.ptr, n)) && n <= (size_t)-1 / 2;
    /* A string member whose key and value need no escape (a name, a type,
     * an id): `,"key":"value"` in one reservation, as write_value would
     * write it (whatever the descriptor's branch, a string is a string). */
    if (plain && m->type == KOMBO_V_STRING && w->depth < MAX_WRITE_DEPTH && m->s.len <= (size_t)-1 / 4 &&
        kombo_json_plain(m->s.ptr, m->s.len)) {
        size_t vn = m->s.len;
        if ((o = kombo_buf_extend(b, comma + n + 5 + vn)) != NULL) {
            o[0] = lead;
            o[comma] = '"';
            memcpy(o + comma + 1, m->key.ptr, n);
            o += comma + 1 + n;
            o[0] = '"';
            o[1] = ':';
            o[2] = '"';
            if (vn > 0)
                memcpy(o + 3, m->s.ptr, vn);
            o[3 + vn] = '"';
        }
        *first = 0;
        return;
    }
    /* `,"key":` in one reservation when the key needs no escape (the usual
     * case: a name from the description); else piece by piece. */
    if (plain) {
        if ((o = kombo_buf_extend(b, comma + n + 3)) != NULL) {
            o[0] = lead;
            o[comma] = '"';
            memcpy(o + comma + 1, m->key.ptr, n);
            o[comma + 1 + n] = '"';
            o[comma + 2 + n] = ':';
        }
    } else {
        if (comma)
            kombo_buf_append(b, &lead, 1);
        kombo_json_string(b, m->key.ptr, m->key.len);
        kombo_buf_append(b, ":", 1);
    }
    *first = 0;
    write_value(w, s, m);
}

static void member(writer *w, int *first, const kombo_schema *s, kombo_value *m)
{
    member_of(w, first, s, m, 0);
}

/* The file object's content, last: a base64 stream (taking over the file
 * the check opened), data borrowed verbatim, or data_url.  1 when the
 * data's closing quote is still to be written (with the object's "}", in
 * one append). */
static int file_content(writer *w, kombo_value *v, kombo_value *const fm[KOMBO_FILE_NKEYS], int first)
{
    kombo_value *bytes = fm[KOMBO_FILE_BYTES], *src = fm[KOMBO_FILE_SOURCE];
    kombo_value *data = fm[KOMBO_FILE_DATA], *url = fm[KOMBO_FILE_DATA_URL];
    int raw = v->file != NULL || (bytes != NULL && bytes->type == KOMBO_V_STRING) ||
              (src != NULL && src->type == KOMBO_V_SOURCE && src->source != NULL);

    if (raw || (data != NULL && data->type == KOMBO_V_STRING)) {
        if (first)
            PUT(w, "\"data\":\"");
        else
            PUT(w, ",\"data\":\"");
        if (data != NULL && data->type == KOMBO_V_STRING) {
            kombo_body_add_borrowed(w->body, data->s);
        } else if (v->file != NULL) {
            void *f = v->file;
            v->file = NULL; /* the body's now, also when adding it fails */
            w->failed |= kombo_body_add_file(w->body, f) != 0;
        } else if (bytes != NULL && bytes->type == KOMBO_V_STRING) {
            w->failed |= kombo_body_add_bytes(w->body, bytes->s) != 0;
        } else {
            w->failed |= kombo_body_add_source(w->body, src->source) != 0;
        }
        w->cur = NULL;
        return 1;
    } else if (url != NULL && url->type == KOMBO_V_STRING) {
        if (first)
            PUT(w, "\"data_url\":");
        else
            PUT(w, ",\"data_url\":");
        kombo_json_string(buf(w), url->s.ptr, url->s.len);
    }
    return 0;
}

/* A file object: name, content_type and type first, then what else the
 * descriptor lists and the value has, then the content (file_content). */
static void write_file_object(writer *w, const kombo_schema *const *from, size_t n,
                              const kombo_schema *additional, kombo_value *v)
{
    static const int head[] = {KOMBO_FILE_NAME, KOMBO_FILE_CONTENT_TYPE, KOMBO_FILE_TYPE};
    kombo_value *fm[KOMBO_FILE_NKEYS];
    int first = 1;
    size_t f, i;
    kombo_value *m;

    size_t named = kombo_file_members(v, fm);

    w->brace = 1; /* written with the first member's key */
    for (i = 0; i < 3; i++)
        if (fm[head[i]] != NULL)
            member_of(w, &first, NULL, fm[head[i]], 1);
    /* Every member has one of the file object's own names (the usual
     * case): none is left for the walks below, which only write others. */
    for (f = 0; f < n && named < v->n; f++)
        for (i = 0; i < from[f]->nproperties; i++) {
            const kombo_property *p = &from[f]->properties[i];
            if (kombo_file_key_name(p->name) >= 0 || written_before(from, f, i))
                continue;
            m = kombo_member_named(v, p->name);
            if (m != NULL)
                member(w, &first, p->schema, m);
        }
    for (m = named < v->n ? v->child : NULL; m != NULL; m = m->next)
        if (m->key.ptr != NULL && kombo_file_key(m->key) < 0 && !listed_in(from, n, m->key))
            member(w, &first, additional, m);
    if (w->brace) { /* no member before the content */
        w->brace = 0;
        PUT(w, "{");
    }
    if (file_content(w, v, fm, first))
        PUT(w, "\"}");
    else
        PUT(w, "}");
}

static void write_object(writer *w, const kombo_schema *s, kombo_value *v)
{
    const kombo_schema *from[MAX_FROM];
    const kombo_schema *additional;
    size_t n = 0, f, i, listed = 0;
    int first = 1;
    kombo_value *m;

    collect_from(s, from, &n, 0);
    additional = additional_of(from, n);
    for (f = 0; f < n; f++)
        if (from[f]->flags & KOMBO_S_FILE) {
            write_file_object(w, from, n, additional, v);
            return;
        }
    w->brace = 1; /* written with the first member's key */
    for (f = 0; f < n; f++)
        for (i = 0; i < from[f]->nproperties && listed < v->n; i++) { /* (all written: no name finds more) */
            const kombo_property *p = &from[f]->properties[i];
            if (written_before(from, f, i))
                continue;
            m = kombo_member_named(v, p->name);
            if (m != NULL) {
                member(w, &first, p->schema, m);
                listed++;
            }
        }
    for (m = v->child; m != NULL && listed < v->n; m = m->next) /* (all listed: none left) */
        if (m->key.ptr != NULL && !listed_in(from, n, m->key))
            member(w, &first, additional, m);
    if (w->brace) { /* no member: {} */
        w->brace = 0;
        PUT(w, "{}");
    } else {
        PUT(w, "}");
    }
}

/* ---------------------------------------------------------------- values */

static void write_number(kombo_buf *b, const kombo_value *v)
{
    char num[32];
    if (v->type == KOMBO_V_INTEGER)
        kombo_format_int(num, (long long)v->i);
    else
        kombo_format_double(num, v->d);
    kombo_buf_puts(b, num);
}

static void write_value(writer *w, const kombo_schema *s, kombo_value *v)
{
    kombo_value *e;
    int first = 1;

    if (++w->depth > MAX_WRITE_DEPTH) {
        w->failed = 1;
        w->depth--;
        return;
    }
    while (s != NULL && (s->combine == KOMBO_COMBINE_ANY_OF || s->combine == KOMBO_COMBINE_ONE_OF))
        s = pick_branch(s, v);
    switch (v->type) {
    case KOMBO_V_NULL:
        PUT(w, "null");
        break;
    case KOMBO_V_BOOLEAN:
        if (v->b)
            PUT(w, "true");
        else
            PUT(w, "false");
        break;
    case KOMBO_V_INTEGER:
    case KOMBO_V_NUMBER:
        write_number(buf(w), v);
        break;
    case KOMBO_V_STRING:
        kombo_json_string(buf(w), v->s.ptr != NULL ? v->s.ptr : "", v->s.len);
        break;
    case KOMBO_V_ARRAY:
        PUT(w, "[");
        for (e = v->child; e != NULL; e = e->next) {
            if (!first)
                PUT(w, ",");
            first = 0;
            write_value(w, s != NULL ? s->items : NULL, e);
        }
        PUT(w, "]");
        break;
    case KOMBO_V_EMPTY: {
        /* [] or {}, as the descriptor has it ({} when it says nothing). */
        int array = 0;
        if (s != NULL) {
            unsigned t = s->types;
            array = (t & KOMBO_T_ARRAY) && !(t & KOMBO_T_OBJECT) && !(s->flags & KOMBO_S_FILE);
        }
        if (array)
            PUT(w, "[]");
        else
            PUT(w, "{}");
        break;
    }
    case KOMBO_V_OBJECT:
        write_object(w, s, v);
        break;
    default:
        /* A source outside a file object, an invalid value: a checked tree
         * has none. */
        PUT(w, "null");
        break;
    }
    w->depth--;
}

int kombo_schema_write(kombo_body *body, const kombo_schema *s, kombo_value *v)
{
    writer w;
    w.body = body;
    w.cur = NULL;
    w.failed = 0;
    w.depth = 0;
    w.brace = 0;
    if (v == NULL)
        return -1;
    write_value(&w, s, v);
    if (w.failed || body->failed)
        return -1;
    if (w.cur != NULL && w.cur->failed)
        return -1;
    return 0;
}

/* ---------------------------------------------------------- file objects */

/* The walk of kombo_schema_files: the writer's choices (branches, the
 * descriptors of members), without writing. */
typedef struct files_walk {
    kombo_file_visit_fn fn;
    void *ud;
    int depth;
} files_walk;

static void files_in(files_walk *fw, const kombo_schema *s, const kombo_value *v, const char *path)
{
    const kombo_schema *from[MAX_FROM];
    const kombo_schema *additional;
    const kombo_value *m;
    char p[KOMBO_PATH_CAP];
    size_t n = 0, f, i = 0;

    while (s != NULL && (s->combine == KOMBO_COMBINE_ANY_OF || s->combine == KOMBO_COMBINE_ONE_OF))
        s = pick_branch(s, v);
    if (s == NULL || fw->depth >= MAX_WRITE_DEPTH) /* no descriptor: no file object below */
        return;
    fw->depth++;
    if (v->type == KOMBO_V_ARRAY) {
        for (m = v->child; m != NULL; m = m->next) {
            kombo_path_index(p, sizeof p, path, ++i);
            files_in(fw, s->items, m, p);
        }
    } else if (v->type == KOMBO_V_OBJECT) {
        collect_from(s, from, &n, 0);
        for (f = 0; f < n && !(from[f]->flags & KOMBO_S_FILE); f++)
            ;
        if (f < n) {
            fw->fn(fw->ud, path, v);
        } else {
            additional = additional_of(from, n);
            for (f = 0; f < n; f++)
                for (i = 0; i < from[f]->nproperties; i++) {
                    const kombo_property *prop = &from[f]->properties[i];
                    if (written_before(from, f, i) || (m = kombo_value_member(v, prop->name)) == NULL)
                        continue;
                    kombo_path_join(p, sizeof p, path, prop->name, strlen(prop->name));
                    files_in(fw, prop->schema, m, p);
                }
            for (m = v->child; m != NULL; m = m->next)
                if (m->key.ptr != NULL && !listed_in(from, n, m->key)) {
                    kombo_path_join(p, sizeof p, path, m->key.ptr, m->key.len);
                    files_in(fw, additional, m, p);
                }
        }
    }
    fw->depth--;
}

void kombo_schema_files(const kombo_schema *s, const kombo_value *v, const char *path, kombo_file_visit_fn fn,
                        void *ud)
{
    files_walk fw;
    fw.fn = fn;
    fw.ud = ud;
    fw.depth = 0;
    if (v != NULL)
        files_in(&fw, s, v, path);
}

/* ----------------------------------------------------------------- query */

/* A scalar's text, percent-encoded where it goes (no copy of the value
 * first: the encoding of a joined list is its elements' encodings joined
 * with "%2C", the encoded comma). */
static void query_scalar(kombo_buf *url, const kombo_value *v)
{
    char num[32];
    if (v->type == KOMBO_V_STRING) {
        kombo_percent_encode(url, v->s.ptr != NULL ? v->s.ptr : "", v->s.len);
    } else if (v->type == KOMBO_V_BOOLEAN) {
        kombo_buf_puts(url, v->b ? "true" : "false"); /* (unreserved: encoded as they are) */
    } else if (v->type == KOMBO_V_INTEGER || v->type == KOMBO_V_NUMBER) {
        if (v->type == KOMBO_V_INTEGER)
            kombo_format_int(num, (long long)v->i);
        else
            kombo_format_double(num, v->d);
        kombo_percent_encode(url, num, strlen(num)); /* ("1e+20": its + is encoded) */
    }
}

static void query_param(kombo_buf *url, int *first, const kombo_value *m)
{
    const kombo_value *e;
    if (m->type == KOMBO_V_NULL || m->type == KOMBO_V_EMPTY || m->type == KOMBO_V_INVALID ||
        m->type == KOMBO_V_OBJECT || m->type == KOMBO_V_SOURCE)
        return;
    kombo_buf_append(url, *first ? "?" : "&", 1);
    *first = 0;
    kombo_percent_encode(url, m->key.ptr, m->key.len);
    kombo_buf_append(url, "=", 1);
    if (m->type == KOMBO_V_ARRAY) {
        for (e = m->child; e != NULL; e = e->next) {
            if (e != m->child)
                kombo_buf_append(url, "%2C", 3);
            query_scalar(url, e);
        }
    } else {
        query_scalar(url, m);
    }
}

int kombo_query_write(kombo_buf *url, const kombo_schema *s, const kombo_value *v)
{
    const kombo_value *m;
    size_t i, listed = 0;
    int first = 1;

    if (v == NULL || v->type != KOMBO_V_OBJECT)
        return url->failed ? -1 : 0;
    for (i = 0; s != NULL && i < s->nproperties && listed < v->n; i++) { /* (all written: no name finds more) */
        m = kombo_member_named(v, s->properties[i].name);
        if (m != NULL) {
            query_param(url, &first, m);
            listed++;
        }
    }
    for (m = v->child; m != NULL && listed < v->n; m = m->next) /* (all listed: none left) */
        if (m->key.ptr != NULL && !prop_listed(s, m->key))
            query_param(url, &first, m);
    return url->failed ? -1 : 0;
}

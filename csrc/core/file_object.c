/*
 * file_object.c - Kombo's file object on a value tree: what the
 * description says only in prose, and the SDK's own ways to give the
 * content (a path, raw bytes, a source).  The rules and their words are
 * those the uploads have always had (the hand-written attachment model
 * they replace), with the node's path for "body.attachment":
 *
 *   { name, content_type, type, data | data_url | file | bytes | source (+ size) }
 *
 * Defaults first, in the same pass: the name from the file's base name,
 * the file opened (v->file), the content type inferred from the first 512
 * bytes and the name.  An explicit value always wins.
 */
#include "schema.h"
#include "internal.h"
#include "codec.h"
#include "file.h"
#include "content_type.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NAME_MAX_BYTES 4096
#define DATA_URL_MAX_BYTES 8192
#define CONTENT_TYPE_MAX_BYTES 255
#define PATH_CAP 128

/* --------------------------------------------------------------- helpers */

/* The members this file names (schema.h), found in one walk. */
enum {
    K_NAME = KOMBO_FILE_NAME, K_CTYPE = KOMBO_FILE_CONTENT_TYPE, K_TYPE = KOMBO_FILE_TYPE,
    K_DATA = KOMBO_FILE_DATA, K_URL = KOMBO_FILE_DATA_URL, K_FILE = KOMBO_FILE_FILE,
    K_BYTES = KOMBO_FILE_BYTES, K_SOURCE = KOMBO_FILE_SOURCE, K_SIZE = KOMBO_FILE_SIZE,
    NKEYS = KOMBO_FILE_NKEYS
};
static const char *const key_name[NKEYS] = {"name", "content_type", "type", "data", "data_url",
                                            "file", "bytes", "source", "size"};
static const unsigned char key_len[NKEYS] = {4, 12, 4, 4, 8, 4, 5, 6, 4};

size_t kombo_file_members(const kombo_value *v, kombo_value *m[KOMBO_FILE_NKEYS])
{
    kombo_value *c;
    size_t named = 0;
    int k;

    for (k = 0; k < NKEYS; k++)
        m[k] = NULL;
    if (v == NULL || v->type != KOMBO_V_OBJECT)
        return 0;
    for (c = v->child; c != NULL; c = c->next) {
        k = kombo_file_key(c->key);
        if (k >= 0) {
            named++;
            if (m[k] == NULL)
                m[k] = c;
        }
    }
    return named;
}

typedef struct slots {
    kombo_value *m[NKEYS];
    const kombo_property *prop[NKEYS]; /* the descriptor's property of each, NULL when it lists none */
    size_t named;                      /* the object's members with one of these names */
} slots;

static void collect(const kombo_value *v, slots *f)
{
    f->named = kombo_file_members(v, f->m);
}

/* The descriptor's properties by key, in one walk over them (rather than
 * a lookup by name for each member the rules look at). */
static void collect_props(const kombo_schema *s, slots *f)
{
    size_t i;
    int k;

    for (k = 0; k < NKEYS; k++)
        f->prop[k] = NULL;
    for (i = 0; i < s->nproperties; i++) {
        k = kombo_file_key_name(s->properties[i].name);
        if (k >= 0 && f->prop[k] == NULL)
            f->prop[k] = &s->properties[i];
    }
}

/* A member as a string: absent (ptr NULL), present but not a usable
 * string (""), or its bytes. */
static kombo_str slot_str(const slots *f, int k)
{
    const kombo_value *m = f->m[k];
    kombo_str s = KOMBO_STR_NULL;
    if (m == NULL)
        return s;
    if (m->type == KOMBO_V_STRING && m->s.ptr != NULL)
        return m->s;
    s.ptr = "";
    return s;
}

/* A string member: present and a string. */
static int slot_is_string(const slots *f, int k)
{
    return f->m[k] != NULL && f->m[k]->type == KOMBO_V_STRING;
}

static int has_byte(kombo_str s, char c)
{
    return s.len && memchr(s.ptr, c, s.len) != NULL;
}

/* A member's path, joined only when a problem is reported there. */
#define AT(buf, path, k) (kombo_path_join((buf), PATH_CAP, kombo_vpath_text(path), key_name[k], key_len[k]), (buf))

/* The description's pattern for content_type (^[\w.-]+\/[\w.-]+$), in the
 * words uploads have always used; no pattern, no rule. */
static int content_type_ok(const kombo_property *prop, kombo_str ctype)
{
    const kombo_regex *re = prop != NULL && prop->schema != NULL ? prop->schema->pattern : NULL;
    return re == NULL || kombo_regex_match(re, ctype.ptr, ctype.len) == 1;
}

static int ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int has_prefix_ci(kombo_str s, const char *lit)
{
    size_t n = strlen(lit), i;

    if (s.len < n)
        return 0;
    for (i = 0; i < n; i++)
        if (ascii_lower((unsigned char)s.ptr[i]) != (unsigned char)lit[i])
            return 0;
    return 1;
}

/* Whether the authority after "scheme://" names a host: userinfo ("u@") and
 * port (":443") do not count, an IPv6 literal ("[::1]") does. */
static int url_has_host(const char *p, size_t n)
{
    size_t end = 0, host = 0, i;

    while (end < n && p[end] != '/' && p[end] != '?' && p[end] != '#')
        end++;
    for (i = 0; i < end; i++)
        if (p[i] == '@')
            host = i + 1;
    if (host < end && p[host] == '[')
        return end - host > 2;
    return host < end && p[host] != ':';
}

static void check_data_url(kombo_problems *out, kombo_vpath *path, int k, kombo_str s)
{
    char at[PATH_CAP];
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t i, skip;
    int ctl = 0;

    if (s.len == 0) {
        kombo_problems_add(out, AT(at, path, k), "must not be empty");
        return;
    }
    if (s.len > DATA_URL_MAX_BYTES)
        kombo_problems_add(out, AT(at, path, k), "is too long (%zu bytes, at most %d)", s.len,
                           DATA_URL_MAX_BYTES);
    if (!kombo_utf8_valid(s.ptr, s.len))
        kombo_problems_add(out, AT(at, path, k), "must be valid UTF-8");
    for (i = 0; i < s.len; i++)
        if (p[i] <= 0x20 || p[i] == 0x7f)
            ctl = 1;
    if (ctl)
        kombo_problems_add(out, AT(at, path, k), "must not contain whitespace or control characters");

    if (has_prefix_ci(s, "https://"))
        skip = 8;
    else if (has_prefix_ci(s, "http://"))
        skip = 7;
    else {
        kombo_problems_add(out, AT(at, path, k), "must be an absolute http:// or https:// URL");
        return;
    }
    if (!url_has_host(s.ptr + skip, s.len - skip))
        kombo_problems_add(out, AT(at, path, k), "must name a host after \"://\"");
}

/* Says why data is not base64, pointing at the first bad byte. */
static void check_data(kombo_problems *out, kombo_vpath *path, int k, kombo_str s)
{
    char at[PATH_CAP];
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t i;

    if (s.len == 0) {
        kombo_problems_add(out, AT(at, path, k), "must not be empty");
        return;
    }
    if (kombo_base64_valid(s.ptr, s.len))
        return;
    if (s.len % 4 != 0) {
        kombo_problems_add(out, AT(at, path, k), "must be base64 (length %zu is not a multiple of 4)", s.len);
        return;
    }
    for (i = 0; i < s.len; i++) {
        unsigned char c = p[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                 c == '/' || (c == '=' && i + 2 >= s.len && (i + 1 == s.len || p[i + 1] == '='));
        if (!ok) {
            kombo_problems_add(out, AT(at, path, k),
                               "must be base64 (standard alphabet, padded; bad byte at offset %zu)", i);
            return;
        }
    }
    kombo_problems_add(out, AT(at, path, k), "must be base64 (standard alphabet, padded)");
}

static void check_raw_size(kombo_problems *out, kombo_vpath *path, const char *key, size_t size)
{
    char at[PATH_CAP];
    if (size > 0 && size <= KOMBO_MAX_CONTENT_BYTES)
        return;
    kombo_path_join(at, PATH_CAP, kombo_vpath_text(path), key, strlen(key));
    if (size == 0)
        kombo_problems_add(out, at, "is 0 bytes: an empty document is refused");
    else
        kombo_problems_add(out, at, "is larger than this build can send (at most %zu bytes)",
                           (size_t)KOMBO_MAX_CONTENT_BYTES);
}

/* data, data_url, file, bytes, source: exactly one. */
static void check_content_choice(kombo_problems *out, kombo_vpath *path, const slots *f)
{
    static const int keys[] = {K_DATA, K_URL, K_FILE, K_BYTES, K_SOURCE};
    const char *given[5];
    char list[96] = "";
    size_t n = 0, i, o = 0;

    for (i = 0; i < 5; i++)
        if (f->m[keys[i]] != NULL)
            given[n++] = key_name[keys[i]];
    if (n == 0) {
        kombo_problems_add(out, kombo_vpath_text(path), "needs exactly one of data, data_url, file, bytes or source");
        return;
    }
    if (n == 1)
        return;
    for (i = 0; i < n; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", given[i],
                              i + 2 < n ? ", " : i + 2 == n ? " and " : "");
    kombo_problems_add(out, kombo_vpath_text(path), "has %s%s; give exactly one", n == 2 ? "both " : "", list);
}

/* ---------------------------------------------------------------- defaults */

/* A string member added to the object (key and value borrowed), and to
 * its slot. */
static int add_member(kombo_arena *a, kombo_value *v, slots *f, int k, kombo_str s, kombo_problems *out,
                      kombo_vpath *path)
{
    kombo_value *m;
    if (a == NULL) {
        kombo_problems_add(out, kombo_vpath_text(path), "cannot take its defaults (no arena: use kombo_schema_check_in)");
        return -1;
    }
    m = kombo_value_new(a, KOMBO_V_STRING);
    if (m == NULL) {
        kombo_problems_add(out, kombo_vpath_text(path), "could not be checked (out of memory)");
        return -1;
    }
    m->key.ptr = key_name[k];
    m->key.len = key_len[k];
    m->s = s;
    kombo_value_append(v, m);
    f->m[k] = m;
    f->named++;
    return 0;
}

/* What the content tells: the name from the path, the content type from
 * the leading bytes and the name; the file opened into v->file. */
static void prepare(kombo_arena *a, kombo_value *v, slots *f, kombo_vpath *path, kombo_problems *out)
{
    kombo_str file = slot_str(f, K_FILE), bytes = slot_str(f, K_BYTES), name;
    const kombo_value *src = f->m[K_SOURCE];
    unsigned char head[512];
    size_t n = 0, total = 0;
    const char *type;
    char at[PATH_CAP];

    if (file.ptr != NULL && file.len > 0 && !has_byte(file, '\0')) {
        char err[200], *cpath;
        size_t size = 0;
        void *fh;
        /* The name comes from the path even when the file cannot be read:
         * that is one mistake, not two. */
        if (f->m[K_NAME] == NULL) {
            const char *slash = file.ptr + file.len;
            while (slash > file.ptr && slash[-1] != '/')
                slash--;
            kombo_str base = {slash, (size_t)(file.ptr + file.len - slash)};
            if (add_member(a, v, f, K_NAME, base, out, path) != 0)
                return;
        }
        if (v->file != NULL) {
            /* Checked before (one branch of an anyOf): opened, defaulted. */
            return;
        }
        cpath = malloc(file.len + 1);
        if (cpath == NULL) {
            kombo_problems_add(out, kombo_vpath_text(path), "could not be checked (out of memory)");
            return;
        }
        memcpy(cpath, file.ptr, file.len);
        cpath[file.len] = '\0';
        fh = kombo_file_open(cpath, &size, err, sizeof err);
        if (fh == NULL) {
            kombo_problems_add(out, AT(at, path, K_FILE), "%.120s: %s", cpath, err);
            free(cpath);
            return;
        }
        if (size == 0) {
            kombo_file_close(fh);
            kombo_problems_add(out, AT(at, path, K_FILE), "%.120s: is 0 bytes: an empty document is refused",
                               cpath);
            free(cpath);
            return;
        }
        free(cpath);
        n = fread(head, 1, sizeof head, (FILE *)fh);
        total = size;
        rewind((FILE *)fh);
        v->file = fh;
    } else if (bytes.ptr != NULL) {
        n = bytes.len < sizeof head ? bytes.len : sizeof head;
        if (n)
            memcpy(head, bytes.ptr, n);
        total = bytes.len;
    } else if (src == NULL || src->type != KOMBO_V_SOURCE || src->source == NULL) {
        return; /* data and data_url: the caller says what it is */
    }
    if (f->m[K_CTYPE] == NULL) {
        name = slot_str(f, K_NAME);
        type = kombo_content_type_infer(head, n, total > n, name.ptr, name.len);
        add_member(a, v, f, K_CTYPE, kombo_str_c(type != NULL ? type : "application/octet-stream"), out, path);
    }
}

/* ------------------------------------------------------------------ rules */

/* Members of the wrong type, before anything else speaks of them: the
 * listed ones against their schema, the SDK's own as strings or a source. */
static void check_member_types(const slots *f, kombo_vpath *path, kombo_problems *out)
{
    const kombo_value *m;
    char at[PATH_CAP];
    int k;

    for (k = 0; k < K_SOURCE; k++) {
        const kombo_property *prop = f->prop[k];
        m = f->m[k];
        if (m == NULL || m->type == KOMBO_V_INVALID)
            continue;
        if (prop != NULL && prop->schema != NULL) {
            if (kombo_schema_type_ok(prop->schema, m) != 1)
                kombo_schema_type_problem(out, AT(at, path, k), prop->schema, m);
        } else if (m->type != KOMBO_V_STRING) {
            kombo_problems_add(out, AT(at, path, k), "must be a string (got %s)", kombo_value_type_name(m));
        }
    }
    m = f->m[K_SOURCE];
    if (m != NULL && m->type != KOMBO_V_INVALID && (m->type != KOMBO_V_SOURCE || m->source == NULL))
        kombo_problems_add(out, AT(at, path, K_SOURCE), "must be a function returning chunks (got %s)",
                           kombo_value_type_name(m));
}

/* kombo_file_object_check's answer: whether walk_object has anything left
 * (see schema.h).  Of the members named here, it skips the description's
 * ones when listed (and reports them when not) and checks the SDK's own
 * only when listed. */
static int walk_needed(const kombo_value *v, const slots *f)
{
    int k;
    if (v->type == KOMBO_V_OBJECT && f->named < v->n)
        return 1; /* a member of another name */
    for (k = 0; k < NKEYS; k++) {
        int listed = f->prop[k] != NULL, described = k <= K_URL;
        if (f->m[k] != NULL && listed != described)
            return 1;
    }
    return 0;
}

int kombo_file_object_check(kombo_arena *a, const kombo_schema *s, kombo_value *v, kombo_vpath *path,
                            kombo_problems *out, kombo_member_check_fn check_member, void *ctx)
{
    kombo_str name, data, data_url, file, bytes, ctype;
    const kombo_value *src;
    char at[PATH_CAP];
    slots f;

    if (v->type != KOMBO_V_EMPTY && v->type != KOMBO_V_OBJECT)
        return 1;
    collect(v, &f);
    collect_props(s, &f);
    if (v->type == KOMBO_V_OBJECT) {
        check_member_types(&f, path, out);
        prepare(a, v, &f, path, out);
    } /* else {}: nothing to default, every rule says what is missing */

    /* Present but not a string: its type was reported (here, or by the
     * reader of an invalid value); its other rules say nothing. */
    name = slot_str(&f, K_NAME);
    data = slot_str(&f, K_DATA);
    data_url = slot_str(&f, K_URL);
    file = slot_str(&f, K_FILE);
    bytes = slot_str(&f, K_BYTES);
    ctype = slot_str(&f, K_CTYPE);
    src = f.m[K_SOURCE];

    /* name */
    if (!name.ptr)
        kombo_problems_add(out, AT(at, path, K_NAME), "is required");
    else if (!slot_is_string(&f, K_NAME))
        ;
    else if (name.len == 0)
        kombo_problems_add(out, AT(at, path, K_NAME), "must not be empty");
    else if (name.len > NAME_MAX_BYTES)
        kombo_problems_add(out, AT(at, path, K_NAME), "is too long (%zu bytes, at most %d)", name.len,
                           NAME_MAX_BYTES);
    else if (!kombo_utf8_valid(name.ptr, name.len))
        kombo_problems_add(out, AT(at, path, K_NAME), "must be valid UTF-8");
    else if (has_byte(name, '\0'))
        kombo_problems_add(out, AT(at, path, K_NAME), "must not contain NUL");

    /* type: the description's enum, before the content's rules. */
    if (f.prop[K_TYPE] != NULL)
        check_member(ctx, f.prop[K_TYPE], f.m[K_TYPE], path);

    check_content_choice(out, path, &f);
    if (slot_is_string(&f, K_DATA))
        check_data(out, path, K_DATA, data);
    if (slot_is_string(&f, K_URL))
        check_data_url(out, path, K_URL, data_url);
    if (slot_is_string(&f, K_FILE)) {
        if (file.len == 0)
            kombo_problems_add(out, AT(at, path, K_FILE), "must not be empty");
        else if (has_byte(file, '\0'))
            kombo_problems_add(out, AT(at, path, K_FILE), "must not contain NUL");
    }
    if (slot_is_string(&f, K_BYTES))
        check_raw_size(out, path, "bytes", bytes.len);
    if (src != NULL && src->type == KOMBO_V_SOURCE && src->source != NULL)
        check_raw_size(out, path, "size", src->source->size);

    /* content_type: needed to make sense of inline bytes. */
    if (!ctype.ptr) {
        if (data.ptr != NULL)
            kombo_problems_add(out, AT(at, path, K_CTYPE), "is required with data");
    } else if (!slot_is_string(&f, K_CTYPE)) {
        /* its type was reported */
    } else if (ctype.len > CONTENT_TYPE_MAX_BYTES) {
        kombo_problems_add(out, AT(at, path, K_CTYPE), "is too long (%zu bytes, at most %d)", ctype.len,
                           CONTENT_TYPE_MAX_BYTES);
    } else if (!content_type_ok(f.prop[K_CTYPE], ctype)) {
        kombo_problems_add(out, AT(at, path, K_CTYPE), "must look like type/subtype, e.g. application/pdf");
    }
    return walk_needed(v, &f);
}

void kombo_file_object_facts(const kombo_value *v, kombo_file_facts *out)
{
    kombo_str data, bytes;
    const kombo_value *m;
    slots f;

    collect(v, &f);
    data = slot_str(&f, K_DATA);
    bytes = slot_str(&f, K_BYTES);
    memset(out, 0, sizeof *out);
    if (slot_is_string(&f, K_TYPE))
        out->type = f.m[K_TYPE]->s;
    if (slot_is_string(&f, K_CTYPE))
        out->content_type = f.m[K_CTYPE]->s;
    m = f.m[K_SOURCE];
    out->has_size = 1;
    if (v->file != NULL) {
        struct stat st;
        if (fstat(fileno((FILE *)v->file), &st) == 0 && st.st_size > 0)
            out->size = (size_t)st.st_size;
    } else if (bytes.ptr != NULL) {
        out->size = bytes.len;
    } else if (m != NULL && m->type == KOMBO_V_SOURCE && m->source != NULL) {
        out->size = m->source->size;
    } else if (data.ptr != NULL) {
        out->size = kombo_base64_decoded_len(data.ptr, data.len); /* checked already: valid */
    } else if (f.m[K_URL] != NULL) {
        out->has_size = 0;
    }
}

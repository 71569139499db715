/*
 * schema.h - requests as data: the descriptors a value tree (kombo.h: built
 * from a Lua table, or by hand in C) is checked against (generated from
 * Kombo's description into csrc/gen/, never written by hand), the one
 * validator and the one writer.  Internal: a C program builds a value tree
 * with kombo.h alone.
 *
 *   value.c        the value tree and its arena (declared in kombo.h)
 *   value_json.c   JSON text into a value tree
 *   schema.c       validation against a descriptor: every problem at once
 *   regex.c        the matcher for patterns compiled at generation time
 *   file_object.c  Kombo's file object: the rules the description states
 *                  only in prose, and the content given as file/bytes/source
 *   write.c        a checked value as JSON body segments, query strings
 */
#ifndef KOMBO_SCHEMA_H
#define KOMBO_SCHEMA_H

#include "kombo.h"
#include "body.h" /* kombo_body: the writer's output */

#include <string.h>

/* ------------------------------------------------------------ patterns */

/* A pattern of the description (an ECMAScript regex), compiled by the
 * generator (tools/generate.lua) into nodes matched over bytes: a sequence
 * of atoms, each a byte class or a group (a sub-sequence), repeated
 * min..max times, greedily, with backtracking.  Anchors are explicit.  The
 * generator refuses what this cannot express (alternation, lookaround,
 * backreferences), so a pattern is never handed raw to another engine. */
typedef enum kombo_re_kind {
    KOMBO_RE_CLASS = 0, /* one byte in `set` */
    KOMBO_RE_GROUP,     /* the sequence sub[0..nsub) */
    KOMBO_RE_BEGIN,     /* ^ : at offset 0 */
    KOMBO_RE_END        /* $ : at the end */
} kombo_re_kind;

#define KOMBO_RE_MANY 0xFFFFu /* max: unbounded */

typedef struct kombo_re_node {
    kombo_re_kind kind;
    unsigned short min, max;               /* repetition ({1,1} for a plain atom) */
    const unsigned char *set;              /* CLASS: 32-byte bitmap, bit c set when byte c matches */
    const struct kombo_re_node *sub;       /* GROUP */
    size_t nsub;
} kombo_re_node;

typedef struct kombo_regex {
    const char *source; /* the pattern as the description writes it, for messages */
    const kombo_re_node *nodes;
    size_t n;
    int anchored_begin, anchored_end; /* unanchored: may match anywhere (a search) */
    int one_pass; /* the generator found no backtracking can change the answer (regex.c) */
} kombo_regex;

/* 1 when s[0..n) matches (a search unless anchored), 0 when not, -1 when
 * the match gave up (more than KOMBO_RE_STEPS steps: never for the
 * description's patterns, whose atoms do not overlap). */
#define KOMBO_RE_STEPS 100000
int kombo_regex_match(const kombo_regex *re, const char *s, size_t n);

/* --------------------------------------------------------- descriptors */

typedef enum kombo_type_bit {
    KOMBO_T_NULL = 1 << 0,
    KOMBO_T_BOOLEAN = 1 << 1,
    KOMBO_T_INTEGER = 1 << 2,
    KOMBO_T_NUMBER = 1 << 3, /* includes integers */
    KOMBO_T_STRING = 1 << 4,
    KOMBO_T_ARRAY = 1 << 5,
    KOMBO_T_OBJECT = 1 << 6
} kombo_type_bit;

typedef enum kombo_format {
    KOMBO_FMT_NONE = 0,
    KOMBO_FMT_DATE_TIME, /* RFC 3339 date-time, or a date (Kombo accepts both; its pattern says so) */
    KOMBO_FMT_EMAIL,
    KOMBO_FMT_URI        /* absolute: scheme ":" ... */
} kombo_format;

typedef enum kombo_combine {
    KOMBO_COMBINE_NONE = 0,
    KOMBO_COMBINE_ALL_OF, /* every branch */
    KOMBO_COMBINE_ANY_OF, /* at least one */
    KOMBO_COMBINE_ONE_OF  /* exactly one */
} kombo_combine;

/* Flags of a descriptor node. */
#define KOMBO_S_FILE 1u         /* Kombo's file object (name, content_type, data | data_url): also takes file, bytes, source */
#define KOMBO_S_OPEN 2u         /* members it does not list are allowed (additionalProperties true, or a schema) */
#define KOMBO_S_QUERY_LIST 4u   /* a query string holding a comma-separated list: an array of strings is joined */
#define KOMBO_S_QUERY_BOOL 8u   /* a query string "true" | "false": a boolean is accepted */
#define KOMBO_S_DEPRECATED 16u

/* kombo_schema is declared in kombo.h (an operation points at its descriptors). */

typedef struct kombo_property {
    const char *name;
    const kombo_schema *schema;
    int required;
} kombo_property;

struct kombo_schema {
    unsigned types; /* KOMBO_T_* bits; 0: any JSON value */
    unsigned flags; /* KOMBO_S_* */
    kombo_format format;
    const char *const *enum_values; /* NULL-terminated (the description's enums are strings), or NULL */
    const char *const_value;        /* a string const, or NULL */
    const kombo_regex *pattern;     /* or NULL */
    int has_minimum, has_maximum;
    double minimum, maximum;
    size_t min_length; /* in characters (UTF-8 sequences); 0: none */
    /* object */
    const kombo_property *properties; /* in the description's order */
    size_t nproperties;
    const kombo_schema *additional;   /* with KOMBO_S_OPEN: the schema of other members, or NULL (anything) */
    /* array */
    const kombo_schema *items;        /* or NULL (anything) */
    /* anyOf / oneOf / allOf */
    kombo_combine combine;
    const kombo_schema *const *branches;
    size_t nbranches;
    /* A discriminated oneOf/anyOf: the member that names the branch, and
     * per branch the value it takes there (parallel to branches). */
    const char *discriminator;
    const char *const *discriminator_values;
};

/* ---------------------------------------------------------- validation */

/* A value's path as the validator names it ("body.attachment.type"),
 * joined only when something reads it: a problem there (most values have
 * none), or a member's path below it.  A member's name or an element's
 * number after its parent's path, or (up NULL) a text.  Each lives on the
 * stack of the check that made it, with its own buffer. */
typedef struct kombo_vpath {
    struct kombo_vpath *up;
    const char *text; /* up NULL: the path; else NULL until joined (into buf) */
    const char *key;  /* a member's name (klen bytes; (size_t)-1: a C string), or NULL: the element `index` */
    size_t klen, index;
    char buf[128];    /* kombo_problem.path's size */
} kombo_vpath;
/* The path's text, joined now if not yet (kombo_path_join, kombo_path_index). */
const char *kombo_vpath_text(kombo_vpath *p);
static inline void kombo_vpath_member(kombo_vpath *p, kombo_vpath *up, const char *key, size_t klen)
{
    p->up = up;
    p->text = NULL;
    p->key = key;
    p->klen = klen;
}
static inline void kombo_vpath_root(kombo_vpath *p, const char *text)
{
    p->up = NULL;
    p->text = text;
    p->key = NULL;
    p->klen = p->index = 0;
    p->buf[0] = '\0';
}
/* A descriptor's name (a C string: measured only if joined) */
static inline void kombo_vpath_name(kombo_vpath *p, kombo_vpath *up, const char *name)
{
    kombo_vpath_member(p, up, name, (size_t)-1);
}
static inline void kombo_vpath_element(kombo_vpath *p, kombo_vpath *up, size_t index)
{
    p->up = up;
    p->text = NULL;
    p->key = NULL;
    p->index = index;
}

/* Checks v against s at `path` ("body", "body.candidate", ...), adding
 * every problem, one per mistake (a wrong type is not also a wrong
 * pattern; a missing object's members are not missing one by one), with
 * did-you-mean for a member s does not list.  File objects get their
 * defaults first (the name from the path, the content type inferred), and
 * their file opened (v->file), so a check is the only pass.  Returns the
 * number of problems added.
 *
 * The defaults are members added to the file object, carved from `arena`
 * (the one the tree was built in; it must outlive the tree's use).
 * kombo_schema_check is the same with no arena: for trees without a file
 * object (a query, a plain body); a file object that needs a default
 * member then gets the problem "cannot take its defaults (no arena)".
 * Strings of file paths need no NUL terminator (they are copied).  A check
 * may open files: kombo_value_close_files(root) closes those the writer
 * did not take over, whatever the outcome. */
size_t kombo_schema_check_in(kombo_arena *arena, const kombo_schema *s, kombo_value *v, const char *path,
                             kombo_problems *out);
size_t kombo_schema_check(const kombo_schema *s, kombo_value *v, const char *path, kombo_problems *out);

/* The file object's own rules (file_object.c): what the description says
 * only in prose, and the defaults (added to v from arena).  Called by
 * kombo_schema_check_in on a KOMBO_S_FILE node, before the generic rules
 * of the members s lists (so its words stand where both would speak); it
 * hands the one listed member it checks in its own order ("type", between
 * the name's rules and the content's) back to the validator through
 * check_member, so that neither file calls the other. */
typedef void (*kombo_member_check_fn)(void *ctx, const kombo_property *prop, kombo_value *m,
                                      kombo_vpath *objpath); /* m: the member, NULL when absent */
/* Returns 0 when the generic walk of v against s alone (schema.c's
 * walk_object) would find nothing left to check: every member has one of
 * the names below, the description's listed by s, the SDK's own not (the
 * usual upload); else 1. */
int kombo_file_object_check(kombo_arena *arena, const kombo_schema *s, kombo_value *v, kombo_vpath *path,
                             kombo_problems *out, kombo_member_check_fn check_member, void *ctx);

/* The members of a file object the SDK knows by name: the description's
 * (name, content_type, type, data, data_url) and its own (file, bytes,
 * source, and the source's size).  The validator and the writer find them
 * in one walk over the object rather than by a lookup each. */
enum {
    KOMBO_FILE_NAME, KOMBO_FILE_CONTENT_TYPE, KOMBO_FILE_TYPE, KOMBO_FILE_DATA, KOMBO_FILE_DATA_URL,
    KOMBO_FILE_FILE, KOMBO_FILE_BYTES, KOMBO_FILE_SOURCE, KOMBO_FILE_SIZE, KOMBO_FILE_NKEYS
};
/* Which of them `key` is, or -1: by length, then the first byte, one
 * comparison for any key (of a constant length, which the compiler turns
 * into a load or two).  Inline: it runs for every member and listed name of
 * a file object, checked and written. */
#define KOMBO_FILE_IS(lit, k) (memcmp(p, (lit), sizeof(lit) - 1) == 0 ? (k) : -1)
static inline int kombo_file_key(kombo_str key)
{
    const char *p = key.ptr;

    if (p == NULL)
        return -1;
    switch (key.len) {
    case 4:
        switch (p[0]) {
        case 'n': return KOMBO_FILE_IS("name", KOMBO_FILE_NAME);
        case 't': return KOMBO_FILE_IS("type", KOMBO_FILE_TYPE);
        case 'd': return KOMBO_FILE_IS("data", KOMBO_FILE_DATA);
        case 'f': return KOMBO_FILE_IS("file", KOMBO_FILE_FILE);
        case 's': return KOMBO_FILE_IS("size", KOMBO_FILE_SIZE);
        default: return -1;
        }
    case 5: return KOMBO_FILE_IS("bytes", KOMBO_FILE_BYTES);
    case 6: return KOMBO_FILE_IS("source", KOMBO_FILE_SOURCE);
    case 8: return KOMBO_FILE_IS("data_url", KOMBO_FILE_DATA_URL);
    case 12: return KOMBO_FILE_IS("content_type", KOMBO_FILE_CONTENT_TYPE);
    default: return -1;
    }
}
#undef KOMBO_FILE_IS
/* The same for a descriptor's property name (a C string). */
static inline int kombo_file_key_name(const char *name)
{
    kombo_str key = {name, strlen(name)};
    return kombo_file_key(key);
}
/* m[k]: the first member of v named the k-th (NULL when none).  Returns
 * how many of v's members have one of these names (v->n when all have:
 * the usual file object, whose other members need no walk). */
size_t kombo_file_members(const kombo_value *v, kombo_value *m[KOMBO_FILE_NKEYS]);

/* What a file object is, once its defaults are applied. */
typedef struct kombo_file_facts {
    kombo_str type;         /* "CV", ... (absent when not given) */
    kombo_str content_type; /* given or inferred; may be absent with data_url */
    size_t size;            /* raw (decoded) bytes */
    int has_size;           /* 0 for data_url: Kombo downloads it */
} kombo_file_facts;
/* Of a file object kombo_schema_check_in found no problem in (data is not
 * checked again). */
void kombo_file_object_facts(const kombo_value *v, kombo_file_facts *out);

/* -------------------------------------------------------------- writer */

/* Appends a checked value as JSON to body's segments: members in the
 * descriptor's order, then the ones it does not list in the value's order;
 * a file object's content last, as a base64 stream when given as file,
 * bytes or source (taking over v->file).  0, or -1 (body->error). */
int kombo_schema_write(kombo_body *body, const kombo_schema *s, kombo_value *v);

/* Calls fn for every file object of a checked value (s its descriptor), in
 * the order the writer writes them, with its path as the validator names it
 * ("body.attachments[2]"; an array's elements count from 1) and its defaults
 * applied.  Call it before kombo_schema_write, which takes over the files
 * the check opened. */
typedef void (*kombo_file_visit_fn)(void *ud, const char *path, const kombo_value *v);
void kombo_schema_files(const kombo_schema *s, const kombo_value *v, const char *path, kombo_file_visit_fn fn,
                        void *ud);

/* Appends "?a=1&b=x%2Cy" (nothing when no member) for a checked object of
 * query parameters: members in the descriptor's order, percent-encoded;
 * an array joined with commas, a boolean as true/false. */
int kombo_query_write(kombo_buf *url, const kombo_schema *s, const kombo_value *v);

#endif

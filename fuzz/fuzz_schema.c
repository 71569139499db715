/*
 * fuzz_schema.c - the descriptor-driven validator and writer (schema.h) on
 * value trees built from the input bytes.
 *
 * Each input becomes one value tree (any shape: nested arrays and objects,
 * members named like Kombo's, file objects with data, bytes, sources or a
 * file path, empty tables, invalid values, bad UTF-8), which is checked and
 * written against every operation's body_schema and query (the generated
 * table, kombo_operation_at) and against hand-built descriptors (a file
 * object body with open remote_fields, nested enums, patterns, a
 * discriminated oneOf, anyOf, allOf, query parameters).  The checks:
 *   - no crash, no leak, no sanitizer report (the problems fit their slots)
 *   - a value the check found no problem with (and without an invalid
 *     node, which its reader reported) is written, and the body read out
 *     is exactly body->length bytes of JSON the core's strict scanner
 *     accepts; a query string is percent-encoded ASCII
 *   - after kombo_value_close_files and kombo_body_free no file is open
 *     (LeakSanitizer sees a FILE left open), and no node holds one
 */
#include "fuzz_common.h"

#include "core/schema.h"
#include "core/buf.h"
#include "core/body.h"
#include "core/json.h"

#include <unistd.h>

/* ------------------------------------------------------------ descriptors */

static unsigned char set_word[32], set_upper[32], set_slash[32];
static void set_range(unsigned char *set, int lo, int hi)
{
    for (int c = lo; c <= hi; c++)
        set[c >> 3] |= (unsigned char)(1u << (c & 7));
}

static const kombo_re_node ct_nodes[] = {
    {KOMBO_RE_BEGIN, 1, 1, NULL, NULL, 0},
    {KOMBO_RE_CLASS, 1, KOMBO_RE_MANY, set_word, NULL, 0},
    {KOMBO_RE_CLASS, 1, 1, set_slash, NULL, 0},
    {KOMBO_RE_CLASS, 1, KOMBO_RE_MANY, set_word, NULL, 0},
    {KOMBO_RE_END, 1, 1, NULL, NULL, 0},
};
static const kombo_regex re_ct = {"^[\\w.-]+/[\\w.-]+$", ct_nodes, 5, 1, 1, 0};
static const kombo_re_node cc_nodes[] = {
    {KOMBO_RE_BEGIN, 1, 1, NULL, NULL, 0},
    {KOMBO_RE_CLASS, 2, 2, set_upper, NULL, 0},
    {KOMBO_RE_END, 1, 1, NULL, NULL, 0},
};
static const kombo_regex re_cc = {"^[A-Z]{2}$", cc_nodes, 3, 1, 1, 0};
/* (\w+/)* unanchored: groups and backtracking in a search */
static const kombo_re_node grp_sub[] = {
    {KOMBO_RE_CLASS, 1, KOMBO_RE_MANY, set_word, NULL, 0},
    {KOMBO_RE_CLASS, 1, 1, set_slash, NULL, 0},
};
static const kombo_re_node grp_nodes[] = {
    {KOMBO_RE_GROUP, 1, KOMBO_RE_MANY, NULL, grp_sub, 2},
    {KOMBO_RE_CLASS, 2, 5, set_upper, NULL, 0},
};
static const kombo_regex re_grp = {"(\\w+/)+[A-Z]{2,5}", grp_nodes, 2, 0, 0, 0};

static const char *const type_enum[] = {"CV", "COVER_LETTER", "OTHER", NULL};
static const char *const gender_enum[] = {"MALE", "FEMALE", "OTHER", NULL};
static const kombo_schema s_string = {.types = KOMBO_T_STRING};
static const kombo_schema s_ctype = {.types = KOMBO_T_STRING, .pattern = &re_ct};
static const kombo_schema s_uri = {.types = KOMBO_T_STRING, .format = KOMBO_FMT_URI};
static const kombo_schema s_type = {.types = KOMBO_T_STRING, .enum_values = type_enum};
static const kombo_property att_props[] = {
    {"name", &s_string, 1}, {"content_type", &s_ctype, 0}, {"type", &s_type, 1},
    {"data", &s_string, 0}, {"data_url", &s_uri, 0},
};
static const kombo_schema s_att = {.types = KOMBO_T_OBJECT, .flags = KOMBO_S_FILE, .properties = att_props,
                                   .nproperties = 5};
static const kombo_schema s_rf = {.types = KOMBO_T_OBJECT, .flags = KOMBO_S_OPEN};
static const kombo_property body_props[] = {{"attachment", &s_att, 1}, {"remote_fields", &s_rf, 0}};
static const kombo_schema s_body = {.types = KOMBO_T_OBJECT, .properties = body_props, .nproperties = 2};

static const kombo_schema s_gender = {.types = KOMBO_T_STRING, .enum_values = gender_enum};
static const kombo_schema s_cc = {.types = KOMBO_T_STRING, .pattern = &re_cc};
static const kombo_schema s_grp = {.types = KOMBO_T_STRING | KOMBO_T_NULL, .pattern = &re_grp,
                                   .format = KOMBO_FMT_EMAIL};
static const kombo_schema s_dt = {.types = KOMBO_T_STRING | KOMBO_T_NULL, .format = KOMBO_FMT_DATE_TIME};
static const kombo_schema s_age = {.types = KOMBO_T_INTEGER, .has_minimum = 1, .minimum = 1, .has_maximum = 1,
                                   .maximum = 250};
static const kombo_schema s_score = {.types = KOMBO_T_NUMBER | KOMBO_T_BOOLEAN, .has_maximum = 1, .maximum = 0.5};
static const kombo_schema s_nonempty = {.types = KOMBO_T_STRING, .min_length = 2, .const_value = "ab"};
static const kombo_schema s_files = {.types = KOMBO_T_ARRAY, .items = &s_att};
static const kombo_schema s_any_arr = {.types = KOMBO_T_ARRAY};
static const kombo_schema s_arr_or_obj = {.types = KOMBO_T_ARRAY | KOMBO_T_OBJECT, .flags = KOMBO_S_OPEN,
                                          .additional = &s_age};
static const kombo_property person_props[] = {
    {"first_name", &s_nonempty, 1}, {"gender", &s_gender, 1}, {"country", &s_cc, 0}, {"birthday", &s_dt, 0},
    {"email", &s_grp, 0},           {"age", &s_age, 0},       {"score", &s_score, 0}, {"extra", &s_arr_or_obj, 0},
    {"tags", &s_any_arr, 0},
};
static const kombo_schema s_person = {.types = KOMBO_T_OBJECT, .properties = person_props, .nproperties = 9};

static const char *const kind_email[] = {"email", NULL}, *const kind_phone[] = {"phone", NULL};
static const kombo_schema s_kind_email = {.types = KOMBO_T_STRING, .enum_values = kind_email};
static const kombo_schema s_kind_phone = {.types = KOMBO_T_STRING, .enum_values = kind_phone};
static const kombo_property email_props[] = {{"kind", &s_kind_email, 1}, {"address", &s_grp, 1}};
static const kombo_property phone_props[] = {{"kind", &s_kind_phone, 1}, {"number", &s_string, 1}};
static const kombo_schema s_email_obj = {.types = KOMBO_T_OBJECT, .properties = email_props, .nproperties = 2};
static const kombo_schema s_phone_obj = {.types = KOMBO_T_OBJECT, .properties = phone_props, .nproperties = 2};
static const kombo_schema *const contact_branches[] = {&s_email_obj, &s_phone_obj};
static const char *const contact_values[] = {"email", "phone", NULL};
static const kombo_schema s_contact = {.combine = KOMBO_COMBINE_ONE_OF, .branches = contact_branches,
                                       .nbranches = 2, .discriminator = "kind",
                                       .discriminator_values = contact_values};
static const kombo_schema *const ref_branches[] = {&s_cc, &s_person, &s_att, &s_files};
static const kombo_schema s_ref = {.combine = KOMBO_COMBINE_ANY_OF, .branches = ref_branches, .nbranches = 4};
static const kombo_schema *const one_branches[] = {&s_string, &s_cc, &s_email_obj, &s_phone_obj};
static const kombo_schema s_one = {.combine = KOMBO_COMBINE_ONE_OF, .branches = one_branches, .nbranches = 4};
static const kombo_schema *const all_branches[] = {&s_email_obj, &s_body, &s_rf};
static const kombo_schema s_all = {.combine = KOMBO_COMBINE_ALL_OF, .branches = all_branches, .nbranches = 3};
static const kombo_schema *const all2_branches[] = {&s_person, &s_all};
static const kombo_schema s_all2 = {.combine = KOMBO_COMBINE_ALL_OF, .branches = all2_branches, .nbranches = 2};
static const kombo_schema s_contacts = {.types = KOMBO_T_ARRAY, .items = &s_contact};
static const kombo_property cand_props[] = {
    {"candidate", &s_person, 1}, {"files", &s_files, 0}, {"contact", &s_contact, 0}, {"contacts", &s_contacts, 0},
    {"ref", &s_ref, 0},          {"one", &s_one, 0},     {"all", &s_all2, 0},        {"attachment", &s_att, 0},
};
static const kombo_schema s_cand = {.types = KOMBO_T_OBJECT, .properties = cand_props, .nproperties = 8,
                                    .flags = KOMBO_S_OPEN};

static const char *const status_enum[] = {"OPEN", "CLOSED", "DRAFT", NULL};
static const char *const bool_enum[] = {"true", "false", NULL};
static const kombo_schema s_q_status = {.types = KOMBO_T_STRING, .flags = KOMBO_S_QUERY_LIST,
                                        .enum_values = status_enum};
static const kombo_schema s_q_page = {.types = KOMBO_T_INTEGER, .has_minimum = 1, .minimum = 1};
static const kombo_schema s_q_bool = {.types = KOMBO_T_STRING, .flags = KOMBO_S_QUERY_BOOL, .enum_values = bool_enum};
static const kombo_schema s_q_ids = {.types = KOMBO_T_STRING, .flags = KOMBO_S_QUERY_LIST};
static const kombo_property q_props[] = {
    {"status", &s_q_status, 0}, {"page", &s_q_page, 0}, {"include_deleted", &s_q_bool, 0},
    {"q", &s_string, 0},        {"ids", &s_q_ids, 0},   {"updated_after", &s_dt, 0}};
static const kombo_schema s_query = {.types = KOMBO_T_OBJECT, .properties = q_props, .nproperties = 6};

static const kombo_schema *const bodies[] = {&s_body, &s_cand, &s_att, &s_contact, &s_ref, &s_one,
                                             &s_all, &s_all2, &s_files, &s_rf, NULL};
static const kombo_schema *const queries[] = {&s_query, NULL};

/* ------------------------------------------------------------ value trees */

typedef struct gen {
    const uint8_t *p;
    size_t n, at;
    kombo_arena *arena;
    size_t nodes;
    kombo_source sources[8];
    size_t nsources;
    int invalid; /* a node the reader reported: the tree is never sent */
} gen;

static unsigned byte(gen *g)
{
    return g->at < g->n ? g->p[g->at++] : 0;
}

static char file_path[64];

static const char *const keys[] = {
    "name", "content_type", "type", "data", "data_url", "file", "bytes", "source", "size", "attachment",
    "remote_fields", "candidate", "files", "contact", "contacts", "ref", "one", "all", "kind", "address",
    "number", "first_name", "gender", "country", "birthday", "email", "age", "score", "extra", "tags",
    "status", "page", "include_deleted", "q", "ids", "updated_after", "contentType", "nmae"};
#define NKEYS (sizeof keys / sizeof keys[0])
static const char *const words[] = {
    "CV", "OTHER", "cv.pdf", "application/pdf", "a/b", "JVBERi0=", "JVBERi0", "https://example.com/x",
    "http://", "ftp://x", "email", "phone", "a@b.co", "DE", "de", "MALE", "2024-05-01", "2024-02-30T10:00:00Z",
    "2024-05-01T12:00:00.5+02:00", "OPEN", "CLOSED", "true", "ab", "", "x,y", "\xff\xfe", "a\0b", "dir/sub/ABC",
    "urn:x", file_path, "/nonexistent", "/tmp"};
#define NWORDS (sizeof words / sizeof words[0])
static const size_t word_len[NWORDS] = {[26] = 3};

/* Member names and strings from the generated table (every operation's
 * body and query descriptors: property names, enum and const values,
 * discriminators), so that inputs reach the members Kombo describes; a
 * discriminated branch's values were read past their end once, a crash
 * these static lists did not reach. */
#define HARVEST_MAX 2048
static const char *gen_keys[HARVEST_MAX], *gen_words[HARVEST_MAX];
static size_t n_gen_keys, n_gen_words;

static void add_unique(const char **list, size_t *n, const char *s)
{
    size_t i;
    if (s == NULL || *n >= HARVEST_MAX)
        return;
    for (i = 0; i < *n; i++)
        if (strcmp(list[i], s) == 0)
            return;
    list[(*n)++] = s;
}

static void harvest(const kombo_schema *s, int depth)
{
    size_t i;
    if (s == NULL || depth > 16)
        return;
    for (i = 0; i < s->nproperties; i++) {
        add_unique(gen_keys, &n_gen_keys, s->properties[i].name);
        harvest(s->properties[i].schema, depth + 1);
    }
    for (i = 0; s->enum_values != NULL && s->enum_values[i] != NULL; i++)
        add_unique(gen_words, &n_gen_words, s->enum_values[i]);
    add_unique(gen_words, &n_gen_words, s->const_value);
    add_unique(gen_keys, &n_gen_keys, s->discriminator);
    for (i = 0; s->discriminator_values != NULL && i < s->nbranches && s->discriminator_values[i] != NULL; i++)
        add_unique(gen_words, &n_gen_words, s->discriminator_values[i]);
    for (i = 0; i < s->nbranches; i++)
        harvest(s->branches[i], depth + 1);
    harvest(s->items, depth + 1);
    harvest(s->additional, depth + 1);
}

static long fz_src_read(void *ud, char *buf, size_t cap, char *err, size_t errsz)
{
    size_t *left = ud;
    size_t k = *left < cap ? *left : cap;
    (void)err;
    (void)errsz;
    memset(buf, 'S', k);
    *left -= k;
    return (long)k;
}

static size_t src_left[8];

static kombo_value *value(gen *g, int depth);

static void key_of(gen *g, kombo_value *m)
{
    unsigned k = byte(g);
    if (k < 100) {
        m->key = kombo_str_c(keys[k % NKEYS]);
    } else if (k < 200 && n_gen_keys > 0) {
        m->key = kombo_str_c(gen_keys[(byte(g) << 8 | byte(g)) % n_gen_keys]);
    } else {
        size_t len = byte(g) % 8;
        if (len > g->n - g->at)
            len = g->n - g->at;
        m->key.ptr = (const char *)g->p + g->at;
        m->key.len = len;
        g->at += len;
    }
}

static kombo_value *value(gen *g, int depth)
{
    unsigned op = byte(g);
    kombo_value *v;
    size_t i, n;

    if (++g->nodes > 400 || depth > 12)
        op = 0;
    switch (op % 12) {
    case 0:
        return kombo_value_new(g->arena, KOMBO_V_NULL);
    case 1:
        v = kombo_value_new(g->arena, KOMBO_V_BOOLEAN);
        v->b = (int)(byte(g) & 1);
        return v;
    case 2:
        v = kombo_value_new(g->arena, KOMBO_V_INTEGER);
        v->i = (int64_t)(int8_t)byte(g) * (byte(g) & 1 ? 1 : 1000000007);
        return v;
    case 3: {
        uint64_t bits = 0;
        double d;
        for (i = 0; i < 8; i++)
            bits = bits << 8 | byte(g);
        memcpy(&d, &bits, sizeof d);
        v = kombo_value_new(g->arena, KOMBO_V_NUMBER);
        v->d = (byte(g) & 3) ? (double)(int8_t)bits / 4 : d; /* NaN and infinity too: the check refuses them */
        return v;
    }
    case 4:
    case 5: {
        unsigned w = byte(g);
        v = kombo_value_new(g->arena, KOMBO_V_STRING);
        if (w < 100) {
            v->s = kombo_str_c(words[w % NWORDS]);
            if (word_len[w % NWORDS])
                v->s.len = word_len[w % NWORDS];
        } else if (w < 160 && n_gen_words > 0) {
            v->s = kombo_str_c(gen_words[(byte(g) << 8 | byte(g)) % n_gen_words]);
        } else {
            size_t len = byte(g) % 48;
            if (len > g->n - g->at)
                len = g->n - g->at;
            v->s.ptr = (const char *)g->p + g->at;
            v->s.len = len;
            g->at += len;
        }
        return v;
    }
    case 6:
    case 7:
        v = kombo_value_new(g->arena, op % 12 == 6 ? KOMBO_V_ARRAY : KOMBO_V_OBJECT);
        n = byte(g) % 7;
        for (i = 0; i < n && g->at < g->n; i++) {
            kombo_value *m = value(g, depth + 1);
            if (v->type == KOMBO_V_OBJECT)
                key_of(g, m);
            kombo_value_append(v, m);
        }
        return v;
    case 8:
        return kombo_value_new(g->arena, KOMBO_V_EMPTY);
    case 9:
        v = kombo_value_new(g->arena, KOMBO_V_SOURCE);
        if (g->nsources < 8 && (byte(g) & 1)) {
            kombo_source *s = &g->sources[g->nsources];
            src_left[g->nsources] = byte(g) % 5;
            s->read = fz_src_read;
            s->rewind = NULL;
            s->ud = &src_left[g->nsources];
            s->size = src_left[g->nsources];
            g->nsources++;
            v->source = s;
        } else {
            v->given = "function";
        }
        return v;
    case 10:
        v = kombo_value_new(g->arena, KOMBO_V_INVALID);
        v->given = "userdata";
        g->invalid++;
        return v;
    default:
        /* A file object, roughly right, so that the deeper rules run. */
        v = kombo_value_new(g->arena, KOMBO_V_OBJECT);
        n = 1 + byte(g) % 5;
        for (i = 0; i < n; i++) {
            static const char *const fk[] = {"name", "type", "content_type", "bytes", "file", "data", "data_url"};
            kombo_value *m = value(g, depth + 1);
            m->key = kombo_str_c(fk[byte(g) % 7]);
            kombo_value_append(v, m);
        }
        return v;
    }
}

/* ---------------------------------------------------------------- checks */

/* The tree's arena: the one the file objects' defaults come from. */
static kombo_arena *fz_arena;

static void no_files(const kombo_value *v, int depth)
{
    const kombo_value *c;
    CHECK(v->file == NULL, "a node still holds a file after close_files");
    if (depth > 64)
        return;
    for (c = v->child; c != NULL; c = c->next)
        no_files(c, depth + 1);
}

static void run_body(const kombo_schema *s, kombo_value *v, int invalid)
{
    kombo_problems p;
    kombo_problems_init(&p);
    kombo_schema_check_in(fz_arena, s, v, "body", &p);
    CHECK(p.count <= KOMBO_MAX_PROBLEMS, "count %zu", p.count);
    for (size_t i = 0; i < p.count; i++)
        CHECK(memchr(p.items[i].path, 0, sizeof p.items[i].path) && memchr(p.items[i].message, 0, sizeof p.items[i].message),
              "an unterminated problem");
    if (p.count == 0 && p.dropped == 0) {
        kombo_body body;
        memset(&body, 0, sizeof body);
        if (kombo_schema_write(&body, s, v) == 0 && kombo_body_finish(&body) == 0) {
            fz_bytes out = {0};
            char chunk[4096];
            size_t got;
            jscan js;
            jval root;
            while ((got = kombo_body_read(&body, chunk, sizeof chunk)) > 0)
                fz_put(&out, chunk, got);
            /* An invalid node was reported by its reader and is not checked
             * further (nor what depends on it): such a tree is never sent. */
            if (!body.failed && !invalid) {
                CHECK(out.n == body.length, "read %zu of %zu bytes", out.n, body.length);
                CHECK(kombo_json_parse(&js, (const char *)out.p, out.n, &root) == 0,
                      "written body is not JSON (%s at %zu): %.*s", js.err, js.err_at, (int)out.n, out.p);
            }
            fz_free(&out);
        }
        kombo_body_free(&body);
    }
    kombo_value_close_files(v);
    no_files(v, 0);
}

static void run_query(const kombo_schema *s, kombo_value *v)
{
    kombo_problems p;
    kombo_problems_init(&p);
    kombo_schema_check_in(fz_arena, s, v, "query", &p);
    if (p.count == 0) {
        kombo_buf url;
        size_t i;
        kombo_buf_init(&url);
        kombo_query_write(&url, s, v);
        for (i = 0; i < url.len; i++) {
            unsigned char c = (unsigned char)url.data[i];
            CHECK(c > 0x20 && c < 0x7f && c != '#' && c != ' ', "query byte 0x%02x: %s", c, url.data);
        }
        kombo_buf_free(&url);
    }
    kombo_value_close_files(v);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    FILE *f;
    int fd;
    (void)argc;
    (void)argv;
    set_range(set_word, 'A', 'Z');
    set_range(set_word, 'a', 'z');
    set_range(set_word, '0', '9');
    set_range(set_word, '_', '_');
    set_range(set_word, '.', '.');
    set_range(set_word, '-', '-');
    set_range(set_upper, 'A', 'Z');
    set_range(set_slash, '/', '/');
    for (size_t i = 0; kombo_operation_at(i) != NULL; i++) {
        harvest(kombo_operation_at(i)->body_schema, 0);
        harvest(kombo_operation_at(i)->query, 0);
    }
    strcpy(file_path, "/tmp/fuzz_schema_XXXXXX");
    fd = mkstemp(file_path);
    if (fd >= 0) {
        f = fdopen(fd, "wb");
        fputs("%PDF-1.4 fuzz", f);
        fclose(f);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kombo_arena arena;
    gen g;
    kombo_value *v;
    size_t i;
    const kombo_operation *op;

    kombo_arena_init(&arena);
    fz_arena = &arena;
    memset(&g, 0, sizeof g);
    g.p = data;
    g.n = size;
    g.arena = &arena;
    v = value(&g, 0);

    for (i = 0; bodies[i] != NULL; i++) {
        for (size_t k = 0; k < g.nsources; k++)
            src_left[k] = g.sources[k].size; /* a fresh source per run */
        run_body(bodies[i], v, g.invalid);
    }
    for (i = 0; queries[i] != NULL; i++)
        run_query(queries[i], v);
    for (i = 0; (op = kombo_operation_at(i)) != NULL; i++) {
        if (op->body_schema != NULL)
            run_body(op->body_schema, v, g.invalid);
        if (op->query != NULL)
            run_query(op->query, v);
    }
    kombo_arena_free(&arena);
    return 0;
}

/*
 * schema_test.c - unit tests of the descriptor-driven validator and writer
 * (csrc/core/schema.h) with hand-built descriptors.  (When the attachment
 * model was still hand-written, model_attachment.c, this file checked the
 * descriptor-driven path against it: the same problems, word for word, and
 * the same bytes.  The Lua specs keep those words and bytes now.)
 *
 * Built and run by spec/unit/schema_c_spec.lua (also under ASan/UBSan);
 * exits 0 when every expectation holds, else prints each failure.
 */
#include "core/json.h"
#include "core/kombo.h"
#include "core/schema.h"
#include "core/buf.h"
#include "core/body.h"
#include "core/internal.h"
#include "core/codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures, checks;

#define EXPECT(cond, ...)                                                  \
    do {                                                                   \
        checks++;                                                          \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

/* ------------------------------------------------------------ values */

static kombo_arena A;

static kombo_value *V(kombo_vtype t)
{
    kombo_value *v = kombo_value_new(&A, t);
    if (v == NULL)
        abort();
    return v;
}
static kombo_value *S(const char *s)
{
    kombo_value *v = V(KOMBO_V_STRING);
    v->s = kombo_str_c(s);
    return v;
}
static kombo_value *SN(const char *s, size_t n)
{
    kombo_value *v = V(KOMBO_V_STRING);
    v->s.ptr = s;
    v->s.len = n;
    return v;
}
static kombo_value *I(int64_t i)
{
    kombo_value *v = V(KOMBO_V_INTEGER);
    v->i = i;
    return v;
}
static kombo_value *D(double d)
{
    kombo_value *v = V(KOMBO_V_NUMBER);
    v->d = d;
    return v;
}
static kombo_value *B(int b)
{
    kombo_value *v = V(KOMBO_V_BOOLEAN);
    v->b = b;
    return v;
}
/* O("k", v, "k2", v2, NULL) */
static kombo_value *O(const char *k, ...)
{
    kombo_value *o = V(KOMBO_V_OBJECT);
    va_list ap;
    va_start(ap, k);
    while (k != NULL) {
        kombo_value *m = va_arg(ap, kombo_value *);
        m->key = kombo_str_c(k);
        kombo_value_append(o, m);
        k = va_arg(ap, const char *);
    }
    va_end(ap);
    return o;
}
/* ARR(v1, v2, NULL) */
static kombo_value *ARR(kombo_value *first, ...)
{
    kombo_value *a = V(KOMBO_V_ARRAY), *e = first;
    va_list ap;
    va_start(ap, first);
    while (e != NULL) {
        kombo_value_append(a, e);
        e = va_arg(ap, kombo_value *);
    }
    va_end(ap);
    return a;
}

/* A source over a string, rewindable. */
typedef struct strsrc {
    const char *p;
    size_t n, at;
} strsrc;
static long src_read(void *ud, char *buf, size_t cap, char *err, size_t errsz)
{
    strsrc *s = ud;
    size_t k = s->n - s->at < cap ? s->n - s->at : cap;
    (void)err;
    (void)errsz;
    memcpy(buf, s->p + s->at, k);
    s->at += k;
    return (long)k;
}
static int src_rewind(void *ud)
{
    ((strsrc *)ud)->at = 0;
    return 0;
}

/* ------------------------------------------------------- descriptors */

/* \w . - as a 32-byte bitmap, and A-Z. */
static unsigned char set_word[32], set_upper[32], set_slash[32], set_digit[32], set_dash[32];
static void set_range(unsigned char *set, int lo, int hi)
{
    for (int c = lo; c <= hi; c++)
        set[c >> 3] |= (unsigned char)(1u << (c & 7));
}
static void init_sets(void)
{
    set_range(set_word, 'A', 'Z');
    set_range(set_word, 'a', 'z');
    set_range(set_word, '0', '9');
    set_range(set_word, '_', '_');
    set_range(set_word, '.', '.');
    set_range(set_word, '-', '-');
    set_range(set_upper, 'A', 'Z');
    set_range(set_slash, '/', '/');
    set_range(set_digit, '0', '9');
    set_range(set_dash, '-', '-');
}

/* ^[\w.-]+/[\w.-]+$ */
static const kombo_re_node ct_nodes[] = {
    {KOMBO_RE_BEGIN, 1, 1, NULL, NULL, 0},
    {KOMBO_RE_CLASS, 1, KOMBO_RE_MANY, set_word, NULL, 0},
    {KOMBO_RE_CLASS, 1, 1, set_slash, NULL, 0},
    {KOMBO_RE_CLASS, 1, KOMBO_RE_MANY, set_word, NULL, 0},
    {KOMBO_RE_END, 1, 1, NULL, NULL, 0},
};
static const kombo_regex re_ct = {"^[\\w.-]+/[\\w.-]+$", ct_nodes, 5, 1, 1, 0};

/* ^[A-Z]{2}$ */
static const kombo_re_node cc_nodes[] = {
    {KOMBO_RE_BEGIN, 1, 1, NULL, NULL, 0},
    {KOMBO_RE_CLASS, 2, 2, set_upper, NULL, 0},
    {KOMBO_RE_END, 1, 1, NULL, NULL, 0},
};
static const kombo_regex re_cc = {"^[A-Z]{2}$", cc_nodes, 3, 1, 1, 0};

/* ^([0-9]+-)*[0-9]+$ : a group with backtracking */
static const kombo_re_node grp_sub[] = {
    {KOMBO_RE_CLASS, 1, KOMBO_RE_MANY, set_digit, NULL, 0},
    {KOMBO_RE_CLASS, 1, 1, set_dash, NULL, 0},
};
static const kombo_re_node grp_nodes[] = {
    {KOMBO_RE_BEGIN, 1, 1, NULL, NULL, 0},
    {KOMBO_RE_GROUP, 0, KOMBO_RE_MANY, NULL, grp_sub, 2},
    {KOMBO_RE_CLASS, 1, KOMBO_RE_MANY, set_digit, NULL, 0},
    {KOMBO_RE_END, 1, 1, NULL, NULL, 0},
};
static const kombo_regex re_grp = {"^([0-9]+-)*[0-9]+$", grp_nodes, 4, 1, 1, 0};

/* [A-Z]{2} unanchored: a search */
static const kombo_regex re_search = {"[A-Z]{2}", cc_nodes + 1, 1, 0, 0, 0};

/* ^(([0-9]*)*)*x$ : catastrophic on "000...0" (gives up) */
static const kombo_re_node bad_in[] = {{KOMBO_RE_CLASS, 0, KOMBO_RE_MANY, set_digit, NULL, 0}};
static const kombo_re_node bad_mid[] = {{KOMBO_RE_GROUP, 0, KOMBO_RE_MANY, NULL, bad_in, 1},
                                        {KOMBO_RE_CLASS, 0, KOMBO_RE_MANY, set_digit, NULL, 0}};
static const kombo_re_node bad_nodes[] = {
    {KOMBO_RE_BEGIN, 1, 1, NULL, NULL, 0},
    {KOMBO_RE_GROUP, 0, KOMBO_RE_MANY, NULL, bad_mid, 2},
    {KOMBO_RE_CLASS, 1, 1, set_upper, NULL, 0},
    {KOMBO_RE_END, 1, 1, NULL, NULL, 0},
};
static const kombo_regex re_bad = {"^((\\d*)*\\d*)*[A-Z]$", bad_nodes, 4, 1, 1, 0};

static const char *const type_enum[] = {"CV", "COVER_LETTER", "OTHER", NULL};
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

/* A candidate: nested object with a required enum, a pattern, a date-time,
 * an email, numbers, an array of file objects. */
static const char *const gender_enum[] = {"MALE", "FEMALE", "OTHER", NULL};
static const kombo_schema s_gender = {.types = KOMBO_T_STRING, .enum_values = gender_enum};
static const kombo_schema s_cc = {.types = KOMBO_T_STRING, .pattern = &re_cc};
static const kombo_schema s_dt = {.types = KOMBO_T_STRING | KOMBO_T_NULL, .format = KOMBO_FMT_DATE_TIME};
static const kombo_schema s_email = {.types = KOMBO_T_STRING, .format = KOMBO_FMT_EMAIL};
static const kombo_schema s_age = {.types = KOMBO_T_INTEGER, .has_minimum = 1, .minimum = 1, .has_maximum = 1,
                                   .maximum = 250};
static const kombo_schema s_score = {.types = KOMBO_T_NUMBER, .has_maximum = 1, .maximum = 0.5};
static const kombo_schema s_nonempty = {.types = KOMBO_T_STRING, .min_length = 1};
static const kombo_schema s_min3 = {.types = KOMBO_T_STRING, .min_length = 3};
static const kombo_schema s_files = {.types = KOMBO_T_ARRAY, .items = &s_att};
static const kombo_schema s_tags = {.types = KOMBO_T_ARRAY, .items = &s_nonempty};
static const kombo_schema s_strnull = {.types = KOMBO_T_STRING | KOMBO_T_NULL};
static const kombo_schema s_arr_or_obj = {.types = KOMBO_T_ARRAY | KOMBO_T_OBJECT, .flags = KOMBO_S_OPEN};
static const kombo_property person_props[] = {
    {"first_name", &s_nonempty, 1}, {"gender", &s_gender, 1}, {"country", &s_cc, 0},
    {"birthday", &s_dt, 0},         {"email", &s_email, 0},   {"age", &s_age, 0},
    {"score", &s_score, 0},         {"nick", &s_min3, 0},     {"middle", &s_strnull, 0},
    {"extra", &s_arr_or_obj, 0},    {"tags", &s_tags, 0},
};
static const kombo_schema s_person = {.types = KOMBO_T_OBJECT, .properties = person_props, .nproperties = 11};
static const kombo_property cand_props[] = {{"candidate", &s_person, 1}, {"files", &s_files, 0}};
static const kombo_schema s_cand = {.types = KOMBO_T_OBJECT, .properties = cand_props, .nproperties = 2};

/* A discriminated oneOf: {kind:"email", address} | {kind:"phone", number} */
static const char *const kind_email[] = {"email", NULL}, *const kind_phone[] = {"phone", NULL};
static const kombo_schema s_kind_email = {.types = KOMBO_T_STRING, .enum_values = kind_email};
static const kombo_schema s_kind_phone = {.types = KOMBO_T_STRING, .enum_values = kind_phone};
static const kombo_property email_props[] = {{"kind", &s_kind_email, 1}, {"address", &s_email, 1}};
static const kombo_property phone_props[] = {{"kind", &s_kind_phone, 1}, {"number", &s_string, 1}};
static const kombo_schema s_email_obj = {.types = KOMBO_T_OBJECT, .properties = email_props, .nproperties = 2};
static const kombo_schema s_phone_obj = {.types = KOMBO_T_OBJECT, .properties = phone_props, .nproperties = 2};
static const kombo_schema *const contact_branches[] = {&s_email_obj, &s_phone_obj};
static const char *const contact_values[] = {"email", "phone", NULL};
static const kombo_schema s_contact = {.combine = KOMBO_COMBINE_ONE_OF, .branches = contact_branches,
                                       .nbranches = 2, .discriminator = "kind",
                                       .discriminator_values = contact_values};

/* anyOf without a discriminator: a string, or an object {id} */
static const kombo_property ref_props[] = {{"id", &s_nonempty, 1}};
static const kombo_schema s_ref_obj = {.types = KOMBO_T_OBJECT, .properties = ref_props, .nproperties = 1};
static const kombo_schema *const ref_branches[] = {&s_cc, &s_ref_obj};
static const kombo_schema s_ref = {.combine = KOMBO_COMBINE_ANY_OF, .branches = ref_branches, .nbranches = 2};
/* oneOf that a value can match twice */
static const kombo_schema *const twice_branches[] = {&s_string, &s_nonempty};
static const kombo_schema s_twice = {.combine = KOMBO_COMBINE_ONE_OF, .branches = twice_branches, .nbranches = 2};
/* anyOf of a file object and an array: an empty table is ambiguous */
static const kombo_schema *const fa_branches[] = {&s_att, &s_files};
static const kombo_schema s_file_or_list = {.combine = KOMBO_COMBINE_ANY_OF, .branches = fa_branches,
                                            .nbranches = 2};

/* allOf: {a (required)} + {b} + open-free */
static const kombo_property all_a[] = {{"a", &s_string, 1}};
static const kombo_property all_b[] = {{"b", &s_age, 0}};
static const kombo_schema s_all_a = {.types = KOMBO_T_OBJECT, .properties = all_a, .nproperties = 1};
static const kombo_schema s_all_b = {.types = KOMBO_T_OBJECT, .properties = all_b, .nproperties = 1};
static const kombo_schema *const all_branches[] = {&s_all_a, &s_all_b};
static const kombo_schema s_all = {.combine = KOMBO_COMBINE_ALL_OF, .branches = all_branches, .nbranches = 2};

/* query: status (list of enum), page (integer), include_deleted (bool), q (string) */
static const char *const status_enum[] = {"OPEN", "CLOSED", "DRAFT", NULL};
static const kombo_schema s_q_status = {.types = KOMBO_T_STRING, .flags = KOMBO_S_QUERY_LIST,
                                        .enum_values = status_enum};
static const kombo_schema s_q_page = {.types = KOMBO_T_INTEGER, .has_minimum = 1, .minimum = 1};
static const kombo_schema s_q_bool = {.types = KOMBO_T_STRING, .flags = KOMBO_S_QUERY_BOOL,
                                      .enum_values = (const char *const[]){"true", "false", NULL}};
static const kombo_property q_props[] = {
    {"status", &s_q_status, 0}, {"page", &s_q_page, 0}, {"include_deleted", &s_q_bool, 0}, {"q", &s_string, 0}};
static const kombo_schema s_query = {.types = KOMBO_T_OBJECT, .properties = q_props, .nproperties = 4};

/* ------------------------------------------------------------ helpers */

static void expect_problems_at(int line, const kombo_problems *p, const char *const *want)
{
    size_t n = 0, i;
    int ok;
    while (want[n] != NULL)
        n++;
    ok = p->count == n;
    for (i = 0; ok && i < n; i++) {
        char got[512];
        snprintf(got, sizeof got, "%s %s", p->items[i].path, p->items[i].message);
        ok = strcmp(got, want[i]) == 0;
    }
    checks++;
    if (!ok) {
        failures++;
        fprintf(stderr, "schema_test.c:%d: problems differ\n  want:\n", line);
        for (i = 0; i < n; i++)
            fprintf(stderr, "    %s\n", want[i]);
        fprintf(stderr, "  got:\n");
        for (i = 0; i < p->count; i++)
            fprintf(stderr, "    %s %s\n", p->items[i].path, p->items[i].message);
    }
}
#define PROBLEMS(p, ...) expect_problems_at(__LINE__, (p), (const char *const[]){__VA_ARGS__, NULL})

static size_t check_at(const kombo_schema *s, kombo_value *v, const char *path, kombo_problems *p)
{
    kombo_problems_init(p);
    return kombo_schema_check_in(&A, s, v, path, p);
}

/* The whole body as bytes (kombo_body_finish, then read out). */
static void read_body(kombo_body *b, kombo_buf *out)
{
    char chunk[7000];
    size_t n;
    kombo_buf_reset(out);
    kombo_body_rewind(b);
    while ((n = kombo_body_read(b, chunk, sizeof chunk)) > 0)
        kombo_buf_append(out, chunk, n);
    kombo_buf_append(out, "", 0);
}

static void write_expect_at(int line, const kombo_schema *s, kombo_value *v, const char *want)
{
    kombo_body body;
    kombo_buf out;
    memset(&body, 0, sizeof body);
    kombo_buf_init(&out);
    checks++;
    if (kombo_schema_write(&body, s, v) != 0 || kombo_body_finish(&body) != 0) {
        failures++;
        fprintf(stderr, "schema_test.c:%d: write failed: %s\n", line, body.error);
    } else {
        read_body(&body, &out);
        if (strcmp(out.data, want) != 0 || out.len != body.length) {
            failures++;
            fprintf(stderr, "schema_test.c:%d: written\n  %s\nwanted\n  %s\n", line, out.data, want);
        }
    }
    kombo_body_free(&body);
    kombo_buf_free(&out);
    kombo_value_close_files(v);
}
#define WRITES(s, v, want) write_expect_at(__LINE__, (s), (v), (want))

/* ------------------------------------------------------- test files */

static char pdf_path[64], empty_path[64], txt_path[64];

static void make_files(void)
{
    FILE *f;
    int fd;
    strcpy(pdf_path, "/tmp/schema_test_XXXXXX");
    fd = mkstemp(pdf_path);
    f = fdopen(fd, "wb");
    fputs("%PDF-1.4\nhello pdf\n", f);
    fclose(f);
    strcpy(empty_path, "/tmp/schema_test_XXXXXX");
    close(mkstemp(empty_path));
    strcpy(txt_path, "/tmp/schema_test_XXXXXX");
    fd = mkstemp(txt_path);
    f = fdopen(fd, "wb");
    fputs("plain words", f);
    fclose(f);
}

static void test_attachment_more(void)
{
    kombo_problems p;
    kombo_value *v;
    char longname[5000];

    /* Raw content from a source: its size announced, its bytes base64 on
     * the way out, the content type from the name. */
    {
        static strsrc ss = {"hello", 5, 0};
        static kombo_source src = {src_read, src_rewind, &ss, 5};
        kombo_value *sv = V(KOMBO_V_SOURCE);
        sv->source = &src;
        v = O("attachment", O("name", S("a.txt"), "type", S("CV"), "source", sv, NULL), NULL);
        check_at(&s_body, v, "body", &p);
        PROBLEMS(&p, NULL);
        WRITES(&s_body, v, "{\"attachment\":{\"name\":\"a.txt\",\"content_type\":\"text/plain\","
                           "\"type\":\"CV\",\"data\":\"aGVsbG8=\"}}");
    }

    /* Unknown members: did-you-mean over the listed and the SDK's own. */
    v = O("attachment", O("name", S("a.pdf"), "type", S("CV"), "data_url", S("https://x.y"), "contentType",
                          S("a/b"), "fiel", S("x"), "zzz", S("q"), "size", I(3), NULL),
          "remote_field", O(NULL), NULL);
    check_at(&s_body, v, "body", &p);
    PROBLEMS(&p, "body.attachment.contentType is not a known field (did you mean content_type?)",
             "body.attachment.fiel is not a known field (did you mean file?)",
             "body.attachment.zzz is not a known field",
             "body.remote_field is not a known field (did you mean remote_fields?)");

    /* Wrong types: the generic words; a reported value is not reported again. */
    v = O("attachment", O("name", I(3), "type", B(1), "data", D(1.5), "bytes", V(KOMBO_V_NULL), "source", S("x"),
                          NULL),
          "remote_fields", S("x"), NULL);
    check_at(&s_body, v, "body", &p);
    PROBLEMS(&p, "body.attachment.name must be a string (got number)",
             "body.attachment.type must be a string (got boolean)",
             "body.attachment.data must be a string (got number)",
             "body.attachment.bytes must be a string (got null)",
             "body.attachment.source must be a function returning chunks (got string)",
             "body.attachment has data, bytes and source; give exactly one",
             "body.remote_fields must be an object (got string)");
    v = O("attachment", O("name", V(KOMBO_V_INVALID), "type", S("CV"), "data_url", S("https://x.y"), NULL),
          "remote_fields", V(KOMBO_V_INVALID), NULL);
    EXPECT(check_at(&s_body, v, "body", &p) == 0, "an invalid value is not reported again (%zu)", p.count);
    v = O("attachment", V(KOMBO_V_EMPTY), NULL);
    check_at(&s_body, v, "body", &p);
    PROBLEMS(&p, "body.attachment.name is required", "body.attachment.type is required (one of CV, COVER_LETTER, OTHER)",
             "body.attachment needs exactly one of data, data_url, file, bytes or source");
    /* given: the binding's word for the type */
    v = S("x");
    v->given = "function";
    v->type = KOMBO_V_SOURCE;
    check_at(&s_body, O("attachment", v, NULL), "body", &p);
    PROBLEMS(&p, "body.attachment must be an object (got function)");

    /* A long name and a long path */
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    v = O("attachment", O("name", S(longname), "type", S("CV"), "data_url", S("https://x.y"), NULL), NULL);
    check_at(&s_body, v, "body", &p);
    PROBLEMS(&p, "body.attachment.name is too long (4999 bytes, at most 4096)");
    v = O(longname, S("x"), NULL);
    check_at(&s_body, v, "body", &p);
    EXPECT(p.count == 2 && strlen(p.items[1].path) == 5 + 64, "a long key is cut in the path (%s)",
           p.count > 1 ? p.items[1].path : "");

    /* No arena: a file object that needs a default says so. */
    v = O("attachment", O("type", S("CV"), "bytes", S("abc"), NULL), NULL);
    kombo_problems_init(&p);
    kombo_schema_check(&s_body, v, "body", &p);
    PROBLEMS(&p, "body.attachment cannot take its defaults (no arena: use kombo_schema_check_in)");
}

static void test_candidate(void)
{
    kombo_problems p;
    kombo_value *v;

    v = O("candidate", O("first_name", S("Ada"), "gender", S("FEMALE"), "country", S("DE"), "birthday",
                         S("2000-02-29T23:59:60.123+01:00"), "email", S("ada@example.com"), "age", D(36.0),
                         "score", D(0.25), "nick", S("\xc3\xa4\xc3\xb6\xc3\xbc"), "middle", V(KOMBO_V_NULL),
                         "extra", ARR(I(1), NULL), "tags", ARR(S("x"), NULL), NULL),
          NULL);
    EXPECT(check_at(&s_cand, v, "body", &p) == 0, "valid candidate: %s %s", p.items[0].path, p.items[0].message);
    WRITES(&s_cand, v,
           "{\"candidate\":{\"first_name\":\"Ada\",\"gender\":\"FEMALE\",\"country\":\"DE\",\"birthday\":"
           "\"2000-02-29T23:59:60.123+01:00\",\"email\":\"ada@example.com\",\"age\":36,\"score\":0.25,"
           "\"nick\":\"\xc3\xa4\xc3\xb6\xc3\xbc\",\"middle\":null,\"extra\":[1],\"tags\":[\"x\"]}}");

    v = O("candidate", O("first_name", S(""), "country", S("de"), "birthday", S("2023-02-29"), "email",
                         S("ada@@x.y"), "age", I(0), "score", D(0.75), "nick", S("ab"), "middle", B(0),
                         "extra", V(KOMBO_V_EMPTY), "tags", ARR(S("ok"), S(""), I(3), NULL), "Gender", S("x"),
                         NULL),
          NULL);
    check_at(&s_cand, v, "body", &p);
    PROBLEMS(&p, "body.candidate.first_name must not be empty",
             "body.candidate.gender is required (one of MALE, FEMALE, OTHER)",
             "body.candidate.country must match ^[A-Z]{2}$ (got \"de\")",
             "body.candidate.birthday must be a date-time like 2024-05-01T12:00:00Z (got \"2023-02-29\")",
             "body.candidate.email must be an email address (got \"ada@@x.y\")",
             "body.candidate.age must be at least 1 (got 0)", "body.candidate.score must be at most 0.5 (got 0.75)",
             "body.candidate.nick must be at least 3 characters long",
             "body.candidate.middle must be a string or null (got boolean)",
             "body.candidate.extra is an empty table, which could be an array or an object here: give "
             "kombo.empty_array for an empty array, or leave it out",
             "body.candidate.tags[2] must not be empty", "body.candidate.tags[3] must be a string (got number)",
             "body.candidate.Gender is not a known field (did you mean gender?)");

    v = O("candidate", O("gender", S("male"), "age", D(2.5), "birthday", S("2024-13-01T00:00:00Z"), NULL), NULL);
    check_at(&s_cand, v, "body", &p);
    PROBLEMS(&p, "body.candidate.first_name is required",
             "body.candidate.gender must be one of MALE, FEMALE, OTHER (got \"male\")",
             "body.candidate.birthday must be a date-time like 2024-05-01T12:00:00Z (got \"2024-13-01T00:00:00Z\")",
             "body.candidate.age must be an integer (got number)");
    check_at(&s_cand, O(NULL), "body", &p);
    PROBLEMS(&p, "body.candidate is required");
    check_at(&s_cand, V(KOMBO_V_EMPTY), "body", &p);
    PROBLEMS(&p, "body.candidate is required");
    check_at(&s_cand, S("x"), "body", &p);
    PROBLEMS(&p, "body must be an object (got string)");
    v = O("candidate", O("first_name", SN("a\xc3", 2), "gender", S("MALE"), NULL), NULL);
    check_at(&s_cand, v, "body", &p);
    PROBLEMS(&p, "body.candidate.first_name must be valid UTF-8");
}

static int fz_count(const jval *c)
{
    jiter it;
    jval k, v;
    int n = 0;
    kombo_json_iter_begin(&it, c);
    while (kombo_json_iter_next(&it, &k, &v))
        n++;
    return n;
}

static void test_files_array(void)
{
    kombo_problems p;
    kombo_value *files, *v;
    kombo_body body;
    kombo_buf out;
    jscan js;
    jval root;
    int i;

    files = V(KOMBO_V_ARRAY);
    for (i = 0; i < 6; i++) {
        static const char *const names[] = {"f0", "f1", "f2", "f3", "f4", "f5"};
        kombo_value *f = O("name", S(names[i]), "type", S("OTHER"), "bytes", S(i % 2 ? "abc" : "%PDF-x"), NULL);
        if (i == 3)
            f = O("type", S("OTHER"), "file", S(txt_path), "name", S(names[i]), NULL);
        kombo_value_append(files, f);
    }
    v = O("candidate", O("first_name", S("A"), "gender", S("OTHER"), NULL), "files", files, NULL);
    EXPECT(check_at(&s_cand, v, "body", &p) == 0, "files: %s %s", p.items[0].path, p.items[0].message);
    memset(&body, 0, sizeof body);
    kombo_buf_init(&out);
    EXPECT(kombo_schema_write(&body, &s_cand, v) == 0 && kombo_body_finish(&body) == 0, "write: %s", body.error);
    EXPECT(body.nseg == 13, "%zu segments", body.nseg);
    read_body(&body, &out);
    EXPECT(strcmp(out.data,
                  "{\"candidate\":{\"first_name\":\"A\",\"gender\":\"OTHER\"},\"files\":["
                  "{\"name\":\"f0\",\"content_type\":\"application/pdf\",\"type\":\"OTHER\",\"data\":\"JVBERi14\"},"
                  "{\"name\":\"f1\",\"content_type\":\"text/plain\",\"type\":\"OTHER\",\"data\":\"YWJj\"},"
                  "{\"name\":\"f2\",\"content_type\":\"application/pdf\",\"type\":\"OTHER\",\"data\":\"JVBERi14\"},"
                  "{\"name\":\"f3\",\"content_type\":\"text/plain\",\"type\":\"OTHER\",\"data\":\"cGxhaW4gd29yZHM=\"},"
                  "{\"name\":\"f4\",\"content_type\":\"application/pdf\",\"type\":\"OTHER\",\"data\":\"JVBERi14\"},"
                  "{\"name\":\"f5\",\"content_type\":\"text/plain\",\"type\":\"OTHER\",\"data\":\"YWJj\"}]}") == 0,
           "files body: %s", out.data);
    EXPECT(kombo_json_parse(&js, out.data, out.len, &root) == 0, "files body is JSON: %s", out.data);
    EXPECT(kombo_body_raw_size(&body) == 6 + 3 + 6 + 11 + 6 + 3, "raw size %zu", kombo_body_raw_size(&body));
    kombo_body_free(&body);
    kombo_buf_free(&out);
    kombo_value_close_files(v);

    /* 40 leaves: segments in three allocated blocks. */
    files = V(KOMBO_V_ARRAY);
    for (i = 0; i < 40; i++)
        kombo_value_append(files, O("name", S("n.txt"), "type", S("CV"), "bytes", S("x"), NULL));
    EXPECT(check_at(&s_files, files, "files", &p) == 0, "40 files");
    memset(&body, 0, sizeof body);
    kombo_buf_init(&out);
    EXPECT(kombo_schema_write(&body, &s_files, files) == 0 && kombo_body_finish(&body) == 0, "write 40: %s",
           body.error);
    EXPECT(body.nseg == 81, "%zu segments", body.nseg);
    read_body(&body, &out);
    EXPECT(kombo_json_parse(&js, out.data, out.len, &root) == 0 && fz_count(&root) == 40, "40 files body: %s",
           out.data);
    EXPECT(strncmp(out.data, "[{\"name\":\"n.txt\",\"content_type\":\"text/plain\",\"type\":\"CV\",\"data\":\"eA==\"},",
                   60) == 0,
           "40 files body: %s", out.data);
    kombo_body_free(&body);
    kombo_buf_free(&out);

    /* The bytes' name is not defaulted: it is required... except that the
     * name is only required of a file object. */
    files = ARR(O("type", S("CV"), "data_url", S("https://x.y"), NULL), O("name", S("n"), NULL), NULL);
    v = O("candidate", O("first_name", S("A"), "gender", S("OTHER"), NULL), "files", files, NULL);
    check_at(&s_cand, v, "body", &p);
    PROBLEMS(&p, "body.files[1].name is required", "body.files[2].type is required (one of CV, COVER_LETTER, OTHER)",
             "body.files[2] needs exactly one of data, data_url, file, bytes or source");
}

/* kombo_schema_files: every file object of a checked value, with its path
 * as the validator names it and its facts (defaults applied), in the
 * writer's order; nothing where the descriptor has none. */
typedef struct seen_files {
    char paths[8][128];
    kombo_file_facts facts[8];
    int n;
} seen_files;
static void note_file(void *ud, const char *path, const kombo_value *v)
{
    seen_files *s = ud;
    if (s->n < 8) {
        snprintf(s->paths[s->n], sizeof s->paths[0], "%s", path);
        kombo_file_object_facts(v, &s->facts[s->n]);
    }
    s->n++;
}

static void test_schema_files(void)
{
    kombo_problems p;
    kombo_value *v;
    seen_files s;

    v = O("files", ARR(O("type", S("CV"), "file", S(pdf_path), NULL),
                       O("name", S("b.txt"), "type", S("OTHER"), "bytes", S("abc"), NULL),
                       O("name", S("u"), "type", S("COVER_LETTER"), "data_url", S("https://x.y/u"), NULL), NULL),
          "candidate", O("first_name", S("A"), "gender", S("OTHER"), "extra", O("file", S(pdf_path), NULL), NULL),
          NULL);
    EXPECT(check_at(&s_cand, v, "body", &p) == 0, "files: %s %s", p.items[0].path, p.items[0].message);
    memset(&s, 0, sizeof s);
    kombo_schema_files(&s_cand, v, "body", note_file, &s);
    EXPECT(s.n == 3, "%d file objects", s.n); /* not candidate.extra: an open object, no file object */
    EXPECT(strcmp(s.paths[0], "body.files[1]") == 0, "%s", s.paths[0]);
    EXPECT(strcmp(s.paths[1], "body.files[2]") == 0, "%s", s.paths[1]);
    EXPECT(strcmp(s.paths[2], "body.files[3]") == 0, "%s", s.paths[2]);
    EXPECT(kombo_str_is(s.facts[0].type, "CV") && kombo_str_is(s.facts[0].content_type, "application/pdf") &&
               s.facts[0].has_size && s.facts[0].size > 0,
           "the file's facts");
    EXPECT(kombo_str_is(s.facts[1].content_type, "text/plain") && s.facts[1].size == 3, "the bytes' facts");
    EXPECT(kombo_str_is(s.facts[2].type, "COVER_LETTER") && !s.facts[2].has_size, "the data_url's facts");
    kombo_value_close_files(v);

    /* an anyOf's file object branch, and its list branch */
    v = O("name", S("a.txt"), "type", S("CV"), "bytes", S("x"), NULL);
    EXPECT(check_at(&s_file_or_list, v, "answer", &p) == 0, "file branch");
    memset(&s, 0, sizeof s);
    kombo_schema_files(&s_file_or_list, v, "answer", note_file, &s);
    EXPECT(s.n == 1 && strcmp(s.paths[0], "answer") == 0, "%d: %s", s.n, s.paths[0]);
    v = ARR(O("name", S("a.txt"), "type", S("CV"), "bytes", S("x"), NULL), NULL);
    EXPECT(check_at(&s_file_or_list, v, "answer", &p) == 0, "list branch");
    memset(&s, 0, sizeof s);
    kombo_schema_files(&s_file_or_list, v, "answer", note_file, &s);
    EXPECT(s.n == 1 && strcmp(s.paths[0], "answer[1]") == 0, "%d: %s", s.n, s.paths[0]);
    memset(&s, 0, sizeof s);
    kombo_schema_files(&s_string, S("x"), "s", note_file, &s);
    kombo_schema_files(NULL, O("file", S(pdf_path), NULL), "any", note_file, &s);
    EXPECT(s.n == 0, "%d file objects where there are none", s.n);
}

static void test_combinations(void)
{
    kombo_problems p;
    kombo_value *v;

    /* discriminated oneOf */
    v = O("kind", S("email"), "address", S("a@b.co"), NULL);
    EXPECT(check_at(&s_contact, v, "body.contact", &p) == 0, "contact email");
    WRITES(&s_contact, O("address", S("a@b.co"), "kind", S("email"), NULL),
           "{\"kind\":\"email\",\"address\":\"a@b.co\"}");
    check_at(&s_contact, O("kind", S("phone"), "address", S("a@b.co"), NULL), "body.contact", &p);
    PROBLEMS(&p, "body.contact.number is required", "body.contact.address is not a known field");
    check_at(&s_contact, O("number", S("1"), NULL), "body.contact", &p);
    PROBLEMS(&p, "body.contact.kind is required (one of email, phone)");
    check_at(&s_contact, O("kind", S("fax"), NULL), "body.contact", &p);
    PROBLEMS(&p, "body.contact.kind must be one of email, phone (got \"fax\")");
    check_at(&s_contact, S("x"), "body.contact", &p);
    PROBLEMS(&p, "body.contact must be an object (got string)");

    /* anyOf without a discriminator */
    EXPECT(check_at(&s_ref, S("AB"), "ref", &p) == 0, "ref string");
    EXPECT(check_at(&s_ref, O("id", S("x"), NULL), "ref", &p) == 0, "ref object");
    check_at(&s_ref, S("abc"), "ref", &p);
    PROBLEMS(&p, "ref must match ^[A-Z]{2}$ (got \"abc\")");
    check_at(&s_ref, O("id", S(""), NULL), "ref", &p);
    PROBLEMS(&p, "ref.id must not be empty");
    check_at(&s_ref, I(4), "ref", &p);
    PROBLEMS(&p, "ref must be one of: a string, an object (got number)");
    check_at(&s_twice, S("x"), "t", &p);
    PROBLEMS(&p, "t matches more than one of the allowed shapes");
    EXPECT(check_at(&s_twice, S(""), "t", &p) == 0, "oneOf with exactly one match");
    check_at(&s_file_or_list, V(KOMBO_V_EMPTY), "f", &p);
    PROBLEMS(&p, "f is an empty table, which could be an array or an object here: give kombo.empty_array for an "
                 "empty array, or leave it out");
    WRITES(&s_file_or_list, ARR(NULL), "[]");
    WRITES(&s_files, V(KOMBO_V_EMPTY), "[]");
    WRITES(&s_rf, V(KOMBO_V_EMPTY), "{}");

    /* allOf: one merged object */
    EXPECT(check_at(&s_all, O("b", I(3), "a", S("x"), NULL), "all", &p) == 0, "allOf");
    WRITES(&s_all, O("z", S("late"), "b", I(3), "a", S("x"), NULL), "{\"a\":\"x\",\"b\":3,\"z\":\"late\"}");
    check_at(&s_all, O("b", I(0), "c", S("x"), NULL), "all", &p);
    PROBLEMS(&p, "all.a is required", "all.b must be at least 1 (got 0)", "all.c is not a known field");
    check_at(&s_all, ARR(NULL), "all", &p);
    PROBLEMS(&p, "all must be an object (got array)");
}

static void test_regex_formats(void)
{
    struct {
        const kombo_regex *re;
        const char *s;
        int want;
    } cases[] = {
        {&re_cc, "DE", 1},         {&re_cc, "D", 0},          {&re_cc, "DEU", 0},      {&re_cc, "", 0},
        {&re_ct, "a/b", 1},        {&re_ct, "a/b/c", 0},      {&re_ct, "/b", 0},       {&re_ct, "a.b-c/x_y", 1},
        {&re_grp, "1-22-333", 1},  {&re_grp, "1", 1},         {&re_grp, "1-", 0},      {&re_grp, "-1", 0},
        {&re_grp, "12--3", 0},     {&re_search, "xxABxx", 1}, {&re_search, "xAx", 0},  {&re_search, "AB", 1},
    };
    size_t i;
    char zeros[64];
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        EXPECT(kombo_regex_match(cases[i].re, cases[i].s, strlen(cases[i].s)) == cases[i].want, "%s on %s",
               cases[i].re->source, cases[i].s);
    {
        /* A search over 1 MB: the starts that cannot match are skipped. */
        size_t big = 1u << 20;
        char *s = malloc(big);
        memset(s, 'x', big);
        EXPECT(kombo_regex_match(&re_search, s, big) == 0, "a long search without a match");
        s[big - 2] = 'A';
        s[big - 1] = 'B';
        EXPECT(kombo_regex_match(&re_search, s, big) == 1, "a long search with a match at the end");
        EXPECT(kombo_regex_match(&re_cc, s, big) == 0, "an anchored pattern on 1 MB");
        free(s);
    }
    {
        /* The generator's form of one-pass patterns (anchors as flags, each
         * run followed by a class it does not overlap, or last): the one
         * pass answers as the backtracking matcher does, on every string of
         * up to 6 bytes over the bytes that matter, and on a long one. */
        static const kombo_re_node ct[] = {{KOMBO_RE_CLASS, 1, KOMBO_RE_MANY, set_word, NULL, 0},
                                           {KOMBO_RE_CLASS, 1, 1, set_slash, NULL, 0},
                                           {KOMBO_RE_CLASS, 1, KOMBO_RE_MANY, set_word, NULL, 0}};
        static const kombo_re_node mix[] = {{KOMBO_RE_CLASS, 0, 2, set_upper, NULL, 0},
                                            {KOMBO_RE_CLASS, 2, 2, set_digit, NULL, 0},
                                            {KOMBO_RE_CLASS, 1, 3, set_dash, NULL, 0},
                                            {KOMBO_RE_CLASS, 0, KOMBO_RE_MANY, set_word, NULL, 0}};
        const kombo_regex pairs[][2] = {
            {{"ct", ct, 3, 1, 1, 1}, {"ct", ct, 3, 1, 1, 0}},
            {{"ct$?", ct, 3, 1, 0, 1}, {"ct$?", ct, 3, 1, 0, 0}},
            {{"mix", mix, 4, 1, 1, 1}, {"mix", mix, 4, 1, 1, 0}},
            {{"mix$?", mix, 4, 1, 0, 1}, {"mix$?", mix, 4, 1, 0, 0}},
        };
        static const char alphabet[] = "aZ9/-_ ";
        char str[8], *big = malloc(20000);
        size_t k, len, code, total, q, diffs = 0;
        for (k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
            for (len = 0, total = 1; len <= 6; len++, total *= sizeof alphabet - 1)
                for (code = 0; code < total; code++) {
                    for (q = 0, i = code; q < len; q++, i /= sizeof alphabet - 1)
                        str[q] = alphabet[i % (sizeof alphabet - 1)];
                    diffs += kombo_regex_match(&pairs[k][0], str, len) != kombo_regex_match(&pairs[k][1], str, len);
                }
            memset(big, 'a', 20000);
            big[9999] = '/';
            diffs += kombo_regex_match(&pairs[k][0], big, 20000) != kombo_regex_match(&pairs[k][1], big, 20000);
        }
        free(big);
        EXPECT(diffs == 0, "%zu strings answered otherwise in one pass", diffs);
    }
    memset(zeros, '0', sizeof zeros);
    EXPECT(kombo_regex_match(&re_bad, zeros, sizeof zeros) == -1, "a catastrophic pattern gives up");
    {
        static const kombo_schema s_bad = {.types = KOMBO_T_STRING, .pattern = &re_bad};
        kombo_problems p;
        check_at(&s_bad, SN(zeros, sizeof zeros), "x", &p);
        PROBLEMS(&p, "x could not be checked against ^((\\d*)*\\d*)*[A-Z]$: the match gave up (got "
                     "\"0000000000000000000000000000000000000000...\")");
    }
    {
        static const char *const good[] = {"2024-05-01T12:00:00Z", "2024-05-01", "2024-02-29T00:00:00+14:00",
                                           "1999-12-31t23:59:59.999999z", "2000-01-01T00:00:60-00:30", NULL};
        static const char *const bad[] = {"2024-05-01T12:00Z", "2023-02-29", "2024-04-31", "2024-05-01T24:00:00Z",
                                          "2024-05-01T12:60:00Z", "2024-05-01T12:00:00", "2024-05-01T12:00:00.Z",
                                          "2024-05-01T12:00:00+1:00", "2024-5-01", "1900-02-29", "2024-05-01 ",
                                          NULL};
        kombo_problems p;
        for (i = 0; good[i]; i++)
            EXPECT(check_at(&s_dt, S(good[i]), "d", &p) == 0, "date-time %s", good[i]);
        for (i = 0; bad[i]; i++)
            EXPECT(check_at(&s_dt, S(bad[i]), "d", &p) == 1, "not a date-time: %s", bad[i]);
        EXPECT(check_at(&s_email, S("a@b.c"), "e", &p) == 0, "email");
        EXPECT(check_at(&s_email, S("a b@c.d"), "e", &p) == 1, "email with space");
        EXPECT(check_at(&s_email, S("@c.d"), "e", &p) == 1, "email without local part");
        EXPECT(check_at(&s_email, S("a@cd"), "e", &p) == 1, "email without a dot");
        EXPECT(check_at(&s_uri, S("urn:x"), "u", &p) == 0, "uri");
        EXPECT(check_at(&s_uri, S("a+b.c-d:/x"), "u", &p) == 0, "uri scheme chars");
        check_at(&s_uri, S("1http://x"), "u", &p);
        PROBLEMS(&p, "u must be an absolute URI (got \"1http://x\")");
        EXPECT(check_at(&s_uri, S("http:"), "u", &p) == 1, "uri with nothing after the colon");
        EXPECT(check_at(&s_uri, S("http://a b"), "u", &p) == 1, "uri with a space");
    }
}

static void test_numbers_and_query(void)
{
    kombo_problems p;
    kombo_value *v;
    kombo_buf url;

    WRITES(NULL, ARR(D(0.1), D(1.0 / 3), D(-0.0), D(1e300), D(9007199254740993.0), I(INT64_MIN), I(INT64_MAX),
                     D(123456789.125), NULL),
           "[0.1,0.3333333333333333,-0,1e+300,9007199254740992,-9223372036854775808,9223372036854775807,"
           "123456789.125]");
    WRITES(NULL, O("s", S("\x01\"\\/\xe2\x82\xac"), NULL), "{\"s\":\"\\u0001\\\"\\\\/\xe2\x82\xac\"}");

    v = O("q", S("a b,c"), "include_deleted", B(1), "page", I(2), "status", ARR(S("OPEN"), S("CLOSED"), NULL),
          "other", S("x&y"), NULL);
    EXPECT(check_at(&s_query, v, "query", &p) == 1, "query: one unknown");
    PROBLEMS(&p, "query.other is not a known field");
    kombo_buf_init(&url);
    kombo_buf_puts(&url, "/ats/jobs");
    EXPECT(kombo_query_write(&url, &s_query, v) == 0, "query write");
    EXPECT(strcmp(url.data, "/ats/jobs?status=OPEN%2CCLOSED&page=2&include_deleted=true&q=a%20b%2Cc&other=x%26y") ==
               0,
           "query: %s", url.data);
    kombo_buf_reset(&url);
    EXPECT(kombo_query_write(&url, &s_query, O(NULL)) == 0 && url.len == 0, "no query: nothing");
    kombo_buf_free(&url);

    v = O("status", ARR(S("OPEN"), S(""), S("A,B"), I(1), S("NOPE"), NULL), "page", D(1.5), "include_deleted",
          S("yes"), "pgae", I(1), NULL);
    check_at(&s_query, v, "", &p);
    PROBLEMS(&p, "status[2] must not be empty",
             "status[3] must not contain a comma (the values are sent as one comma-separated list)",
             "status[4] must be a string (got number)", "status[5] must be one of OPEN, CLOSED, DRAFT (got \"NOPE\")",
             "page must be an integer (got number)", "include_deleted must be one of true, false (got \"yes\")",
             "pgae is not a known field (did you mean page?)");
    EXPECT(check_at(&s_query, O("status", S("OPEN"), "include_deleted", S("false"), "page", D(3.0), NULL), "query",
                    &p) == 0,
           "query with plain values");
    /* An empty list filters nothing (sent) or everything (left out): refused either way. */
    check_at(&s_query, O("status", V(KOMBO_V_EMPTY), NULL), "", &p);
    PROBLEMS(&p, "status must not be an empty list (leave it out not to filter by it)");
    check_at(&s_query, O("status", ARR(NULL), NULL), "", &p);
    PROBLEMS(&p, "status must not be an empty list (leave it out not to filter by it)");
}

static void test_value_api(void)
{
    kombo_arena a;
    kombo_value *o, *m;
    size_t i;
    kombo_arena_init(&a);
    o = kombo_value_new(&a, KOMBO_V_OBJECT);
    for (i = 0; i < 1000; i++) {
        m = kombo_value_new(&a, KOMBO_V_INTEGER);
        m->i = (int64_t)i;
        m->key = kombo_str_c(i == 999 ? "last" : "k");
        kombo_value_append(o, m);
    }
    EXPECT(o->n == 1000 && o->child->i == 0 && o->last->i == 999, "append keeps order and counts");
    EXPECT(kombo_value_member(o, "last") == o->last && kombo_value_member(o, "nope") == NULL, "member");
    EXPECT(kombo_arena_alloc(&a, 100000) != NULL && !a.failed, "a large allocation");
    EXPECT(kombo_value_member(NULL, "x") == NULL, "member of NULL");
    kombo_arena_free(&a);
    kombo_arena_free(&a);
}

/* kombo_base64_valid at every length to 160 and every position of a bad
 * byte (its wide steps, their overlapping last step and the byte loop), a
 * padded string and each kind of byte outside the alphabet. */
static void test_base64_valid(void)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char bad[] = {'=', '-', '_', ' ', '\n', '\0', '@', '[', '`', '{', ':', ',', '.', (char)0x80, (char)0xC1};
    char s[160];
    size_t n, i, k, wrong = 0;
    for (n = 4; n <= sizeof s; n += 4) {
        for (i = 0; i < n; i++)
            s[i] = alphabet[(i * 7 + n) % 64];
        wrong += kombo_base64_valid(s, n) != 1;
        s[n - 1] = '=';
        wrong += kombo_base64_valid(s, n) != 1;
        s[n - 2] = '=';
        wrong += kombo_base64_valid(s, n) != 1;
        for (i = 0; i < n - 2; i++)
            for (k = 0; k < sizeof bad; k++) {
                char was = s[i];
                s[i] = bad[k];
                wrong += kombo_base64_valid(s, n) != 0;
                s[i] = was;
            }
    }
    EXPECT(wrong == 0, "%zu answers otherwise", wrong);
}

/* kombo_base64_encode against a character-at-a-time encoder, at every
 * length to 300 (the 12-byte vector step, the 6-byte step, the 3-byte step
 * and both paddings, each starting at every remainder) over bytes that
 * reach every 6-bit value in every position. */
static void test_base64_encode(void)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char in[300];
    char got[400], want[400];
    size_t n, i, wrong = 0;
    unsigned seed;
    for (seed = 0; seed < 8; seed++) {
        for (i = 0; i < sizeof in; i++)
            in[i] = (unsigned char)(i * 37u + seed * 101u + (i >> 3) * seed);
        for (n = 0; n <= sizeof in; n++) {
            char *w = want;
            size_t len;
            for (i = 0; i + 3 <= n; i += 3) {
                unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
                *w++ = alphabet[v >> 18 & 63], *w++ = alphabet[v >> 12 & 63];
                *w++ = alphabet[v >> 6 & 63], *w++ = alphabet[v & 63];
            }
            if (n - i == 1) {
                *w++ = alphabet[in[i] >> 2], *w++ = alphabet[(in[i] & 3) << 4], *w++ = '=', *w++ = '=';
            } else if (n - i == 2) {
                *w++ = alphabet[in[i] >> 2], *w++ = alphabet[(in[i] & 3) << 4 | in[i + 1] >> 4];
                *w++ = alphabet[(in[i + 1] & 15) << 2], *w++ = '=';
            }
            len = kombo_base64_encode(got, in, n);
            wrong += len != (size_t)(w - want) || len != kombo_base64_encoded_len(n) || memcmp(got, want, len) != 0;
        }
    }
    EXPECT(wrong == 0, "%zu lengths encoded otherwise", wrong);
}

int main(void)
{
    kombo_arena_init(&A);
    init_sets();
    make_files();
    test_value_api();
    test_attachment_more();
    test_candidate();
    test_files_array();
    test_schema_files();
    test_combinations();
    test_regex_formats();
    test_numbers_and_query();
    test_base64_valid();
    test_base64_encode();
    unlink(pdf_path);
    unlink(empty_path);
    unlink(txt_path);
    kombo_arena_free(&A);
    printf("schema_test: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}

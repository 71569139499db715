/*
 * json_marks_test.c - the strict scan's record of container ends (json.h,
 * jmarks): a walk of a document parsed with a record must find exactly
 * what a walk of the same document parsed without one finds, whatever the
 * nesting, the number of containers (more than the record holds) and the
 * duplicate keys; and each recorded container's member count must be the
 * number of members the walk finds in it.
 *
 * Built and run by spec/unit/json_marks_c_spec.lua (also under ASan/UBSan);
 * exits 0 when every expectation holds, else prints each failure.
 */
#include "core/json.h"

#include <stdio.h>
#include <string.h>

static int failures, checks;

#define EXPECT(cond, what)                                                          \
    do {                                                                            \
        checks++;                                                                   \
        if (!(cond)) {                                                              \
            failures++;                                                             \
            fprintf(stderr, "%s:%d: FAILED %s: %s\n", __FILE__, __LINE__, #cond, (what)); \
        }                                                                           \
    } while (0)

/* Walks a and b (the same value of the same text, parsed with and without
 * a record) side by side: every member the same span, every object's
 * kombo_json_get of each key the same answer. */
static void same_walk(const char *doc, const jval *a, const jval *b)
{
    jiter ia, ib;
    jval ka, va, kb, vb;
    int more_a, more_b;
    size_t members = 0;
    unsigned i;

    EXPECT(a->type == b->type && a->p == b->p && a->n == b->n, doc);
    if (a->type != J_OBJECT && a->type != J_ARRAY)
        return;
    kombo_json_iter_begin(&ia, a);
    kombo_json_iter_begin(&ib, b);
    for (;;) {
        more_a = kombo_json_iter_next(&ia, &ka, &va);
        more_b = kombo_json_iter_next(&ib, &kb, &vb);
        EXPECT(more_a == more_b, doc);
        if (!more_a || !more_b)
            break;
        members++;
        if (a->type == J_OBJECT) {
            char key[64];
            int trunc;
            jval ga, gb;
            EXPECT(ka.p == kb.p && ka.n == kb.n, doc);
            kombo_json_str_decode(&ka, key, sizeof key, 0, &trunc);
            EXPECT(kombo_json_get(a, key, &ga) == kombo_json_get(b, key, &gb), doc);
            EXPECT(ga.p == gb.p && ga.n == gb.n && ga.type == gb.type, doc); /* the last of a repeated key */
        }
        same_walk(doc, &va, &vb);
    }
    for (i = 0; a->marks != NULL && i < a->marks->n; i++)
        if (a->marks->open[i] == a->p)
            EXPECT(a->marks->count[i] == members, doc);
}

static void check_doc(const char *doc, unsigned want_marks)
{
    jscan sa, sb;
    jval ra, rb;
    jmarks marks;
    size_t n = strlen(doc);

    EXPECT(kombo_json_parse_marked(&sa, doc, n, &ra, &marks) == 0, doc);
    EXPECT(kombo_json_parse(&sb, doc, n, &rb) == 0, doc);
    EXPECT(ra.marks == &marks && rb.marks == NULL, doc);
    EXPECT(marks.n == want_marks, doc);
    same_walk(doc, &ra, &rb);
}

int main(void)
{
    char many[4096], deep[512];
    size_t i, o;
    jscan s;
    jval root;
    jmarks marks;

    check_doc("{\"status\":\"success\",\"data\":{\"id\":\"att_1\"},\"warnings\":[]}", 3);
    check_doc("{\"status\":\"success\",\"data\":{\"next\":null,\"results\":[{\"id\":\"j\",\"location\":{\"city\":\"B\"},"
              "\"tags\":[\"a]\",\"{b\"]}]},\"warnings\":[{\"message\":\"m\"}]}",
              8);
    check_doc("[]", 1);
    check_doc("\"no container\"", 0);
    check_doc(" { \"a\" : [ 1 , { \"b\" : [ ] } , \"}\" ] , \"a\" : { } } ", 5);
    check_doc("{\"k\\\"]\":{\"x\":\"\\\\\"},\"k\\\"]\":[\"\\\"}\"]}", 3);

    /* More containers at the recorded depths than the record holds: the
     * rest are found by their text. */
    o = (size_t)sprintf(many, "{\"data\":[");
    for (i = 0; i < 3 * KOMBO_JSON_MARKS; i++)
        o += (size_t)sprintf(many + o, "%s{\"i\":[%u,{}]}", i ? "," : "", (unsigned)i);
    sprintf(many + o, "],\"after\":{\"z\":[[]]}}");
    check_doc(many, KOMBO_JSON_MARKS);

    /* Deeper than KOMBO_JSON_MARK_DEPTH: only the outer levels recorded. */
    for (o = 0, i = 0; i < KOMBO_JSON_MAX_DEPTH / 2; i++)
        o += (size_t)sprintf(deep + o, "{\"d\":[");
    for (i = 0; i < KOMBO_JSON_MAX_DEPTH / 2; i++)
        o += (size_t)sprintf(deep + o, "]}");
    check_doc(deep, KOMBO_JSON_MARK_DEPTH);

    /* kombo_json_str_eq: the text is compared when it has no escape, the
     * value when it has one; a text no longer than the literal needs no
     * decoding (an escape only shortens). */
    {
        static const struct {
            const char *json;
            const char *lit;
            int eq;
        } eqs[] = {
            {"\"status\"", "status", 1},      {"\"statu\"", "status", 0},
            {"\"statuss\"", "status", 0},     {"\"st\\u0061tus\"", "status", 1},
            {"\"st\\u0061tu\"", "status", 0}, {"\"st\\u0061tuss\"", "status", 0},
            {"\"\\u0064ata\"", "data", 1},    {"\"d\\na\"", "d\na", 1},
            {"\"a\\\\b\"", "a\\b", 1},       {"\"a\\\\b\"", "a\\\\b", 0},
            {"\"\"", "", 1},                  {"\"\"", "x", 0},
            {"\"\\u00e9\"", "\xc3\xa9", 1},   {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 1},
        };
        for (i = 0; i < sizeof eqs / sizeof eqs[0]; i++) {
            EXPECT(kombo_json_parse(&s, eqs[i].json, strlen(eqs[i].json), &root) == 0, eqs[i].json);
            EXPECT(kombo_json_str_eq(&root, eqs[i].lit) == eqs[i].eq, eqs[i].json);
        }
    }

    /* A text that fails: the record is reset, and an unclosed container
     * has no end in it. */
    EXPECT(kombo_json_parse_marked(&s, "{\"a\":[1,2", 9, &root, &marks) != 0, "truncated");
    EXPECT(marks.n == 2 && marks.close[0] == NULL && marks.close[1] == NULL, "truncated");

    printf("%d checks, %d failed\n", checks, failures);
    return failures != 0;
}

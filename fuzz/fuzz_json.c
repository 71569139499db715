/*
 * fuzz_json.c - the core's strict JSON scanner (json.h) on arbitrary text.
 *
 * No second parser to compare with: the checks are properties that hold
 * for any correct strict scanner.
 *   - parse succeeds exactly when no error is set; the error offset lies
 *     within the input; the same text gives the same answer twice
 *   - walking a valid document with the iterator stays inside the input,
 *     and every value's text starts as its type says
 *   - compacting (all whitespace between tokens dropped) and re-spacing
 *     (whitespace between every token) keep the document valid, and both
 *     compact to the same bytes
 *   - a proper prefix of a compact document is invalid, unless the document
 *     is a number (whose prefixes can be numbers)
 *   - wrapping in [...] up to depth 64 stays valid; one level more fails
 *     with "nested too deeply"
 *   - decoding a string with any cap writes at most cap bytes, NUL
 *     included, stops on a character boundary (valid UTF-8), is a prefix of
 *     the full decode, and says truncated exactly when it is shorter; the
 *     "clean" form has the same length and no control byte
 *   - kombo_json_get finds the last member whose key decodes to the same
 *     bytes; kombo_json_str_eq holds for a string's decoded value (any
 *     length) and never for the escaped text of a string with an escape
 */
#include "fuzz_common.h"
#include "core/codec.h"
#include "core/json.h"

#define SPACES 5
static const char *const spaces[SPACES] = {" ", "\t", "\n", "\r\n", " \t\r\n "};

typedef struct walk {
    const char *start, *end;
    fz_bytes compact, spaced;
    unsigned seed;
    int depth, max_depth;
} walk;

static void space(walk *w)
{
    w->seed = w->seed * 1103515245u + 12345u;
    fz_put(&w->spaced, spaces[(w->seed >> 16) % SPACES], strlen(spaces[(w->seed >> 16) % SPACES]));
}

static void emit(walk *w, const char *p, size_t n)
{
    fz_put(&w->compact, p, n);
    fz_put(&w->spaced, p, n);
    space(w);
}

static void check_string(const jval *v)
{
    fz_bytes full = {0};
    char *dst;
    size_t caps[6], i, n;
    int trunc;

    fz_json_decode(v, &full);
    CHECK(full.n <= v->n - 2, "decoded %zu bytes from a %zu-byte literal", full.n, v->n);
    CHECK(kombo_utf8_valid((const char *)full.p, full.n), "decoded string is not UTF-8");
    caps[0] = 1, caps[1] = 2, caps[2] = 4, caps[3] = full.n / 2 + 1, caps[4] = full.n, caps[5] = full.n + 1;
    for (i = 0; i < 6; i++) {
        if (caps[i] == 0)
            caps[i] = 1; /* the API wants room for the NUL */
        /* Exactly cap bytes on the heap: a write past it is an ASan report. */
        dst = malloc(caps[i]);
        n = kombo_json_str_decode(v, dst, caps[i], 0, &trunc);
        CHECK(n < caps[i] && dst[n] == '\0', "cap %zu: %zu bytes", caps[i], n);
        CHECK(memcmp(dst, full.p, n) == 0, "cap %zu: not a prefix of the full decode", caps[i]);
        CHECK(trunc == (n < full.n), "cap %zu: truncated %d with %zu of %zu bytes", caps[i], trunc, n, full.n);
        CHECK(kombo_utf8_valid(dst, n), "cap %zu: cut inside a character", caps[i]);
        n = kombo_json_str_decode(v, dst, caps[i], 1, &trunc);
        while (n > 0) {
            unsigned char c = (unsigned char)dst[--n];
            CHECK(c >= 0x20 && c != 0x7f, "clean decode kept control byte 0x%02x", c);
        }
        free(dst);
    }
    /* str_eq compares the decoded value, whatever its length; a literal
     * with a NUL cannot be asked about. */
    if (!memchr(full.p, 0, full.n))
        CHECK(kombo_json_str_eq(v, (const char *)full.p), "str_eq differs from the decode");
    /* The raw text of a string with an escape is longer than its value, so
     * it never equals it (the text \n is not the two bytes \ and n). */
    if (memchr(v->p + 1, '\\', v->n - 2) && !memchr(v->p + 1, 0, v->n - 2)) {
        fz_bytes raw = {0};
        fz_put(&raw, v->p + 1, v->n - 2);
        CHECK(!kombo_json_str_eq(v, (const char *)raw.p), "str_eq matches the escaped text %s",
              (const char *)raw.p);
        fz_free(&raw);
    }
    fz_free(&full);
}

static void walk_value(walk *w, const jval *v)
{
    static const char first[] = {0, '{', '[', '"', 0, 't', 'f', 'n'};
    jiter it;
    jval key, val, got;
    int is_obj = v->type == J_OBJECT, count = 0;

    CHECK(v->p >= w->start && v->n > 0 && v->p + v->n <= w->end, "value span outside the input");
    if (v->type == J_NUMBER)
        CHECK(v->p[0] == '-' || (v->p[0] >= '0' && v->p[0] <= '9'), "number starts with %c", v->p[0]);
    else
        CHECK(v->type > J_NONE && v->type <= J_NULL && v->p[0] == first[v->type], "type %d starts with %c",
              (int)v->type, v->p[0]);
    if (v->type == J_STRING)
        check_string(v);
    if (v->type != J_OBJECT && v->type != J_ARRAY) {
        emit(w, v->p, v->n);
        return;
    }
    if (++w->depth > w->max_depth)
        w->max_depth = w->depth;
    emit(w, is_obj ? "{" : "[", 1);
    kombo_json_iter_begin(&it, v);
    while (kombo_json_iter_next(&it, is_obj ? &key : NULL, &val)) {
        if (count++)
            emit(w, ",", 1);
        if (is_obj) {
            CHECK(key.type == J_STRING, "key is not a string");
            check_string(&key);
            emit(w, key.p, key.n);
            emit(w, ":", 1);
            /* The last member with this key is what kombo_json_get finds;
             * "this key" by the decoded bytes, not by str_eq, which get
             * itself uses. */
            {
                fz_bytes k = {0}, d2 = {0};
                jiter rest = it;
                jval k2, v2, last = val;
                fz_json_decode(&key, &k);
                while (kombo_json_iter_next(&rest, &k2, &v2)) {
                    fz_json_decode(&k2, &d2);
                    if (d2.n == k.n && memcmp(d2.p, k.p, k.n) == 0)
                        last = v2;
                }
                if (!memchr(k.p, 0, k.n))
                    CHECK(kombo_json_get(v, (const char *)k.p, &got) && got.p == last.p && got.n == last.n,
                          "kombo_json_get(%s) is not the last member", (const char *)k.p);
                fz_free(&k);
                fz_free(&d2);
            }
        }
        walk_value(w, &val);
    }
    emit(w, is_obj ? "}" : "]", 1);
    w->depth--;
}

static int valid(const char *p, size_t n, jscan *s)
{
    jval root;
    return kombo_json_parse(s, p, n, &root) == 0;
}

static void check_valid(const char *text, size_t n, const jval *root, unsigned seed)
{
    walk w, w2;
    jscan s;
    jval r2;
    fz_bytes wrapped = {0};
    size_t i, step;
    int k;

    memset(&w, 0, sizeof w);
    w.start = text;
    w.end = text + n;
    w.seed = seed;
    walk_value(&w, root);
    CHECK(valid((const char *)w.compact.p, w.compact.n, &s), "compact form invalid: %s", s.err);
    CHECK(valid((const char *)w.spaced.p, w.spaced.n, &s), "spaced form invalid: %s", s.err);

    /* The spaced form compacts to the same bytes. */
    memset(&w2, 0, sizeof w2);
    w2.start = (const char *)w.spaced.p;
    w2.end = w2.start + w.spaced.n;
    CHECK(kombo_json_parse(&s, w2.start, w.spaced.n, &r2) == 0, "spaced");
    walk_value(&w2, &r2);
    CHECK(w2.compact.n == w.compact.n && memcmp(w2.compact.p, w.compact.p, w.compact.n) == 0,
          "spacing changed the document");

    /* Proper prefixes of a compact non-number are invalid. */
    if (root->type != J_NUMBER) {
        step = w.compact.n > 512 ? w.compact.n / 64 : 1;
        for (i = 0; i < w.compact.n; i += step)
            CHECK(!valid((const char *)w.compact.p, i, &s), "prefix of %zu bytes is valid", i);
    }

    /* The depth limit: 64 levels are fine, 65 are not. */
    for (k = 64 - w.max_depth; k <= 65 - w.max_depth; k++) {
        int j;
        wrapped.n = 0;
        for (j = 0; j < k; j++)
            fz_put(&wrapped, "[", 1);
        fz_put(&wrapped, w.compact.p, w.compact.n);
        for (j = 0; j < k; j++)
            fz_put(&wrapped, "]", 1);
        if (w.max_depth + k <= KOMBO_JSON_MAX_DEPTH)
            CHECK(valid((const char *)wrapped.p, wrapped.n, &s), "depth %d rejected: %s", w.max_depth + k,
                  s.err);
        else
            CHECK(!valid((const char *)wrapped.p, wrapped.n, &s) && strcmp(s.err, "nested too deeply") == 0,
                  "depth %d: %s", w.max_depth + k, s.err ? s.err : "accepted");
    }
    fz_free(&wrapped);
    fz_free(&w.compact);
    fz_free(&w.spaced);
    fz_free(&w2.compact);
    fz_free(&w2.spaced);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: a read past the end is an ASan report. */
    char *text = malloc(size ? size : 1);
    jscan s, again;
    jval root, r2;
    int rc;

    memcpy(text, data, size);
    rc = kombo_json_parse(&s, text, size, &root);
    CHECK((rc == 0) == (s.err == NULL), "rc %d with error %s", rc, s.err ? s.err : "none");
    CHECK(rc == 0 || s.err_at <= size, "error offset %zu beyond %zu bytes", s.err_at, size);
    CHECK(kombo_json_parse(&again, text, size, &r2) == rc && again.err == s.err && again.err_at == s.err_at,
          "not deterministic");
    if (rc == 0)
        check_valid(text, size, &root, size ? data[0] : 0);
    free(text);
    return 0;
}

/*
 * fuzz_request.c - the request validator, URL/header rendering and the
 * streaming body writer, with arbitrary field values.
 *
 * Input layout (see fuzz/corpus/fuzz_request/ for examples):
 *   byte 0   absent mask: bit i set makes field i absent (NULL pointer)
 *   byte 1   flags: bit 0 application target, bit 1 send field 5 as raw
 *            `bytes` (base64-encoded by the core) instead of `data`, bit 2
 *            repeat those bytes past the 48 KiB stream chunk, bits 3-7 seed
 *            the read chunk sizes
 *   rest     fields separated by 0xFF: id, integration_id, name,
 *            content_type, type, data, data_url, remote_fields_json
 *            (missing trailing fields are absent)
 *
 * The request is built as the Lua binding builds it: a value tree (the
 * attachment's members as strings, remote_fields read from its JSON text
 * with kombo_value_parse_json), checked against the generated descriptor.
 *
 * Checks: kombo_request_validate and kombo_call_new agree; a valid request
 * gives a URL whose id segment is only unreserved bytes and %XX and decodes
 * back to the id; headers carry no CR/LF; the body, read in odd chunk sizes
 * (twice, with a rewind between), is exactly Content-Length bytes of strict
 * JSON (by the core's scanner, json.h: the writer is checked by the reader)
 * whose fields decode back to the input (remote_fields: the same JSON
 * value, member for member, strings decoded, numbers by value); an invalid
 * one gives NUL-terminated problems that never quote the API key.
 */
#include "fuzz_common.h"
#include "core/kombo.h"
#include "core/body.h"
#include "core/content_type.h"
#include "core/request.h"
#include "core/call.h"
#include "core/json.h"

#define API_KEY "fuzz-secret-key-0123456789abcdef"
#define SERVER "http://127.0.0.1:9/v1"
#define NFIELDS 8
/* The deepest remote_fields the Lua binding reads: KOMBO_LUA_MAX_DEPTH (33,
 * lua_kombo.h) levels counting the body, so 32 below it, and
 * kombo.empty_array, written as [] inside the deepest.  The body adds one
 * level, which the scanner that checks it must still read (64 at most). */
#define REMOTE_FIELDS_MAX_DEPTH 33
typedef char body_depth_fits_the_scanner[REMOTE_FIELDS_MAX_DEPTH + 1 <= KOMBO_JSON_MAX_DEPTH ? 1 : -1];
#define MAX_CHUNK 65537

enum { F_ID, F_INTEGRATION, F_NAME, F_CTYPE, F_TYPE, F_DATA, F_URL, F_REMOTE };

static const size_t chunk_sizes[] = {1, 2, 3, 5, 7, 13, 64, 1000, 4096, MAX_CHUNK};
#define NCHUNKS (sizeof chunk_sizes / sizeof chunk_sizes[0])

/* Reads the whole body; each read goes to the end of a heap buffer so that
 * a write beyond `cap` lands in ASan's redzone. */
static void read_body(kombo_body *body, unsigned seed, fz_bytes *out)
{
    static char *buf;
    size_t k = 0, n, reads = 0;
    if (!buf)
        buf = malloc(MAX_CHUNK);
    for (;;) {
        size_t cap = chunk_sizes[(seed + k++ * 7) % NCHUNKS];
        n = kombo_body_read(body, buf + MAX_CHUNK - cap, cap);
        CHECK(n <= cap, "read %zu > cap %zu", n, cap);
        if (n == 0)
            break;
        fz_put(out, buf + MAX_CHUNK - cap, n);
        CHECK(++reads < 100000000, "body never ends");
    }
    CHECK(!body->failed, "body failed: %s", body->error);
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void check_url(const char *url, int app, kombo_str id)
{
    const char *prefix = app ? SERVER "/ats/applications/" : SERVER "/ats/candidates/";
    const char *suffix = "/attachments";
    size_t ul = strlen(url), pl = strlen(prefix), sl = strlen(suffix), i;
    fz_bytes dec = {0};

    CHECK(ul >= pl + sl && memcmp(url, prefix, pl) == 0 && memcmp(url + ul - sl, suffix, sl) == 0,
          "url %s", url);
    for (i = pl; i < ul - sl;) {
        unsigned char c = (unsigned char)url[i];
        if (c == '%') {
            int h1, h2;
            unsigned char b;
            CHECK(i + 2 < ul - sl, "truncated %% escape in %s", url);
            h1 = fz_hex((unsigned char)url[i + 1]);
            h2 = fz_hex((unsigned char)url[i + 2]);
            CHECK(h1 >= 0 && h2 >= 0 && !(url[i + 1] >= 'a') && !(url[i + 2] >= 'a'),
                  "bad %% escape in %s", url);
            b = (unsigned char)(h1 * 16 + h2);
            CHECK(!is_unreserved(b), "unreserved byte 0x%02x escaped in %s", b, url);
            fz_put(&dec, &b, 1);
            i += 3;
        } else {
            CHECK(is_unreserved(c), "raw byte 0x%02x in the id segment of %s", c, url);
            fz_put(&dec, &c, 1);
            i++;
        }
    }
    CHECK(dec.n == id.len && (id.len == 0 || memcmp(dec.p, id.ptr, id.len) == 0),
          "id segment does not decode back to the id (%zu vs %zu bytes)", dec.n, id.len);
    fz_free(&dec);
}

/* The JSON string v decodes to exactly s. */
static void check_json_str(const char *what, const jval *v, kombo_str s)
{
    fz_bytes dec = {0};
    CHECK(v->type == J_STRING, "%s is not a JSON string", what);
    fz_json_decode(v, &dec);
    CHECK(dec.n == s.len && (s.len == 0 || memcmp(dec.p, s.ptr, s.len) == 0),
          "%s decodes to %zu bytes, input has %zu", what, dec.n, s.len);
    fz_free(&dec);
}

/* The attachment's members as the harness gave them. */
typedef struct given {
    kombo_str name, content_type, type, data, bytes, data_url;
} given;

/* Two validated JSON values are the same value: members in order, strings
 * decoded, numbers by value. */
static int same_json(const jval *a, const jval *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case J_OBJECT:
    case J_ARRAY: {
        jiter ia, ib;
        jval ka, va, kb, vb;
        int more_a, more_b;
        kombo_json_iter_begin(&ia, a);
        kombo_json_iter_begin(&ib, b);
        for (;;) {
            more_a = kombo_json_iter_next(&ia, &ka, &va);
            more_b = kombo_json_iter_next(&ib, &kb, &vb);
            if (more_a != more_b)
                return 0;
            if (!more_a)
                return 1;
            if (a->type == J_OBJECT && !same_json(&ka, &kb))
                return 0;
            if (!same_json(&va, &vb))
                return 0;
        }
    }
    case J_STRING: {
        fz_bytes da = {0}, db = {0};
        int same;
        fz_json_decode(a, &da);
        fz_json_decode(b, &db);
        same = da.n == db.n && (da.n == 0 || memcmp(da.p, db.p, da.n) == 0);
        fz_free(&da);
        fz_free(&db);
        return same;
    }
    case J_NUMBER: {
        char ta[400], tb[400];
        snprintf(ta, sizeof ta, "%.*s", (int)a->n, a->p);
        snprintf(tb, sizeof tb, "%.*s", (int)b->n, b->p);
        return strtod(ta, NULL) == strtod(tb, NULL);
    }
    default:
        return 1;
    }
}

static void check_body(const fz_bytes *b, const given *a, const kombo_str *remote_json, int bytes_mode,
                       const char *inferred)
{
    const char *body = (const char *)b->p;
    jscan s;
    jval root, att, v;
    int count, members;

    CHECK(kombo_json_parse(&s, body, b->n, &root) == 0 && root.type == J_OBJECT,
          "body is not a strict JSON object (%s): %.*s", s.err ? s.err : "not an object",
          (int)(b->n > 300 ? 300 : b->n), body);
    CHECK(fz_json_member(&root, "attachment", &att, &count) && count == 1 && att.type == J_OBJECT,
          "no single \"attachment\" object");
    members = 1;
    if (remote_json != NULL) {
        jscan rs;
        jval rv;
        CHECK(kombo_json_parse(&rs, remote_json->ptr, remote_json->len, &rv) == 0, "remote_fields input");
        CHECK(fz_json_member(&root, "remote_fields", &v, &count) && count == 1, "no remote_fields");
        CHECK(same_json(&v, &rv), "remote_fields changed: sent %.*s", (int)(v.n > 300 ? 300 : v.n), v.p);
        members++;
    }
    CHECK(fz_json_count(&root) == members, "unexpected top-level members");

    members = 0;
    CHECK(fz_json_member(&att, "name", &v, &count) && count == 1, "no name");
    check_json_str("name", &v, a->name);
    members++;
    CHECK(fz_json_member(&att, "type", &v, &count) && count == 1, "no type");
    check_json_str("type", &v, a->type);
    members++;
    if (a->content_type.ptr || inferred) {
        CHECK(fz_json_member(&att, "content_type", &v, &count) && count == 1, "no content_type");
        check_json_str("content_type", &v, a->content_type.ptr ? a->content_type : kombo_str_c(inferred));
        members++;
    }
    if (a->data_url.ptr) {
        CHECK(fz_json_member(&att, "data_url", &v, &count) && count == 1, "no data_url");
        check_json_str("data_url", &v, a->data_url);
        members++;
    } else {
        fz_bytes dec = {0}, raw = {0};
        CHECK(fz_json_member(&att, "data", &v, &count) && count == 1, "no data");
        CHECK(v.type == J_STRING, "data is not a JSON string");
        fz_json_decode(&v, &dec);
        if (bytes_mode) {
            CHECK(fz_b64_decode((const char *)dec.p, dec.n, &raw) == 0, "data is not base64");
            CHECK(raw.n == a->bytes.len && (raw.n == 0 || memcmp(raw.p, a->bytes.ptr, raw.n) == 0),
                  "base64 of bytes does not decode back (%zu vs %zu bytes)", raw.n, a->bytes.len);
        } else {
            CHECK(dec.n == a->data.len && memcmp(dec.p, a->data.ptr, dec.n) == 0, "data changed");
        }
        fz_free(&dec);
        fz_free(&raw);
        members++;
    }
    CHECK(fz_json_count(&att) == members, "unexpected attachment members");
}

/* key_in_input: the fuzzer learns the key from the strstr() below and puts
 * it into a field, which a message may then quote as the user's own input. */
static void check_problems(const kombo_problems *p, int key_in_input)
{
    size_t i;
    CHECK(p->count <= KOMBO_MAX_PROBLEMS, "count %zu", p->count);
    for (i = 0; i < p->count; i++) {
        const kombo_problem *it = &p->items[i];
        CHECK(memchr(it->path, 0, sizeof it->path) && memchr(it->message, 0, sizeof it->message),
              "problem %zu not NUL-terminated", i);
        CHECK(it->path[0] && it->message[0], "empty problem %zu", i);
        CHECK(key_in_input || (!strstr(it->message, API_KEY) && !strstr(it->path, API_KEY)), "API key in a problem");
    }
}

/* Nesting of a validated value: 0 for a scalar, 1 for [] or {}. */
static int json_depth(const jval *v)
{
    jiter it;
    jval k, e;
    int d = 0, x;

    if (v->type != J_OBJECT && v->type != J_ARRAY)
        return 0;
    kombo_json_iter_begin(&it, v);
    while (kombo_json_iter_next(&it, &k, &e))
        if ((x = json_depth(&e)) > d)
            d = x;
    return d + 1;
}

static kombo_client *client;

/* A string member, when given. */
static void add_str(kombo_arena *arena, kombo_value *object, const char *key, kombo_str s)
{
    kombo_value *v;
    if (s.ptr == NULL)
        return;
    v = kombo_value_new(arena, KOMBO_V_STRING);
    CHECK(v != NULL, "out of memory");
    v->key = kombo_str_c(key);
    v->s = s;
    kombo_value_append(object, v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *f[NFIELDS];
    size_t fl[NFIELDS], nf, i;
    kombo_request req;
    kombo_config cfg;
    kombo_problems vp, cp;
    kombo_arena arena;
    kombo_value *body_v, *att;
    kombo_str remote;
    const kombo_str *remote_json = NULL;
    given g;
    kombo_call *c;
    uint8_t absent, flags;
    int app, bytes_mode, repeat, key_in_input;
    char *big = NULL;
    const char *inferred = NULL;

    if (size < 2)
        return 0;
    key_in_input = memmem(data, size, API_KEY, sizeof API_KEY - 1) != NULL;
    absent = data[0];
    flags = data[1];
    app = flags & 1;
    bytes_mode = (flags >> 1) & 1;
    repeat = (flags >> 2) & 1;
    nf = fz_split(data + 2, size - 2, 0xFF, f, fl, NFIELDS);

    memset(&req, 0, sizeof req);
    memset(&g, 0, sizeof g);
    req.op = kombo_operation_find(app ? "attach_to_application" : "attach_to_candidate");
#define FIELD(i) ((i) < nf && !(absent & (1u << (i))) ? (kombo_str){f[i], fl[i]} : KOMBO_STR_NULL)
    req.params[0] = FIELD(F_ID);
    req.integration_id = FIELD(F_INTEGRATION);
    g.name = FIELD(F_NAME);
    g.content_type = FIELD(F_CTYPE);
    g.type = FIELD(F_TYPE);
    if (bytes_mode) {
        g.bytes = FIELD(F_DATA);
        if (repeat && g.bytes.ptr && g.bytes.len > 0) {
            /* Past one 48 KiB stream chunk, not a multiple of 3. */
            size_t n = g.bytes.len, total = 0;
            big = malloc(49152 + 2 * n + 1);
            while (total < 49152 + 1)
                memcpy(big + total, g.bytes.ptr, n), total += n;
            g.bytes = (kombo_str){big, total};
        }
    } else {
        g.data = FIELD(F_DATA);
    }
    g.data_url = FIELD(F_URL);
    remote = FIELD(F_REMOTE);
#undef FIELD

    kombo_arena_init(&arena);
    body_v = kombo_value_new(&arena, KOMBO_V_OBJECT);
    att = kombo_value_new(&arena, KOMBO_V_OBJECT);
    CHECK(body_v != NULL && att != NULL, "out of memory");
    att->key = kombo_str_c("attachment");
    kombo_value_append(body_v, att);
    add_str(&arena, att, "name", g.name);
    add_str(&arena, att, "content_type", g.content_type);
    add_str(&arena, att, "type", g.type);
    add_str(&arena, att, "data", g.data);
    add_str(&arena, att, "bytes", g.bytes);
    add_str(&arena, att, "data_url", g.data_url);
    /* The Lua binding reads remote_fields from a table, at most
     * REMOTE_FIELDS_MAX_DEPTH levels deep; here from JSON text. */
    if (remote.ptr) {
        jscan rs;
        jval rv;
        char err[128];
        if (kombo_json_parse(&rs, remote.ptr, remote.len, &rv) == 0 && json_depth(&rv) <= REMOTE_FIELDS_MAX_DEPTH) {
            kombo_value *rf = kombo_value_parse_json(&arena, remote.ptr, remote.len, err, sizeof err);
            CHECK(rf != NULL, "remote_fields: %s", err);
            rf->key = kombo_str_c("remote_fields");
            kombo_value_append(body_v, rf);
            remote_json = &remote;
        }
    }
    req.body = body_v;
    req.arena = &arena;

    kombo_problems_init(&vp);
    kombo_request_validate(&req, &vp);
    check_problems(&vp, key_in_input);
    kombo_value_close_files(req.body);

    if (client == NULL) { /* one client for every input, as a program keeps one */
        kombo_problems none;
        cfg = kombo_config_defaults;
        cfg.api_key = API_KEY;
        cfg.server_url = SERVER;
        cfg.user_agent = "kombo-lua-fuzz/0";
        cfg.timeout = 10;
        cfg.connect_timeout = 1;
        client = kombo_client_new(&cfg, &none);
        CHECK(client != NULL, "the fuzz client's options are refused");
    }

    c = kombo_call_new(client, &req, &cp);
    check_problems(&cp, key_in_input);
    CHECK((vp.count + vp.dropped == 0) == (c != NULL), "validate found %zu problems, call_new %s",
          vp.count + vp.dropped, c ? "succeeded" : "failed");
    CHECK(vp.count == cp.count && vp.dropped == cp.dropped, "validate %zu problems, call_new %zu",
          vp.count, cp.count);
    if (getenv("FUZZ_VERBOSE")) { /* to see what a seed exercises */
        fprintf(stderr, "%s: %zu problems\n", c ? "valid" : "invalid", vp.count);
        for (i = 0; i < vp.count; i++)
            fprintf(stderr, "  %s %s\n", vp.items[i].path, vp.items[i].message);
    }
    if (c == NULL) {
        kombo_arena_free(&arena);
        free(big);
        return 0;
    }

    check_url(kombo_call_url(c), app, req.params[0]);
    CHECK(kombo_call_header_count(c) == 5, "%zu headers", kombo_call_header_count(c));
    for (i = 0; i < kombo_call_header_count(c); i++) {
        const char *h = kombo_call_header(c, i);
        CHECK(h && !strpbrk(h, "\r\n"), "header %zu has CR/LF", i);
    }
    {
        const char *h = kombo_call_header(c, 1);
        CHECK(strlen(h) == 18 + req.integration_id.len && memcmp(h, "X-Integration-Id: ", 18) == 0 &&
                  memcmp(h + 18, req.integration_id.ptr, req.integration_id.len) == 0,
              "X-Integration-Id header %s", h);
    }

    if (bytes_mode && g.bytes.ptr && !g.content_type.ptr) {
        size_t hn = g.bytes.len < 512 ? g.bytes.len : 512;
        inferred = kombo_content_type_infer((const unsigned char *)g.bytes.ptr, hn, g.bytes.len > hn, g.name.ptr,
                                            g.name.len);
        if (!inferred)
            inferred = "application/octet-stream";
    }

    {
        kombo_body *body = kombo_call_body(c);
        fz_bytes first = {0}, second = {0};
        double delay;
        unsigned seed = flags >> 3;

        CHECK(kombo_call_next(c, 0.0, &delay) == KOMBO_STEP_SEND, "first step is not SEND");
        read_body(body, seed, &first);
        CHECK(first.n == body->length, "read %zu bytes, Content-Length %zu", first.n, body->length);
        CHECK(body->sent == body->length, "sent %zu of %zu", body->sent, body->length);
        check_body(&first, &g, remote_json, bytes_mode, inferred);

        CHECK(kombo_body_rewind(body) == 0, "rewind failed: %s", body->error);
        read_body(body, seed + 3, &second);
        CHECK(second.n == first.n && memcmp(first.p, second.p, first.n) == 0, "second read differs");
        fz_free(&first);
        fz_free(&second);
    }
    kombo_call_free(c);
    kombo_arena_free(&arena);
    free(big);
    return 0;
}

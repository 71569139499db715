/*
 * fuzz_encode.c - the JSON string writer, base64, the percent-encoder, the
 * UTF-8 check and content type inference, each against a reference or,
 * for JSON, the core's own reader.
 *
 * The whole input is one arbitrary byte string; every encoder gets it.
 *   kombo_json_string     quoted, no raw control byte or DEL, decodes back to
 *                         the input (high bytes masked, by the core's strict
 *                         scanner); strict JSON exactly when the input is UTF-8
 *   kombo_base64_encode   exactly encoded_len bytes (into an exact-size heap
 *                         buffer), always kombo_base64_valid, decodes back
 *   kombo_base64_valid    agrees with a reference on the raw input
 *   kombo_percent_encode  only unreserved bytes and upper-case %XX, only
 *                         non-unreserved bytes escaped, decodes back
 *   kombo_utf8_valid      agrees with an arithmetic reference decoder
 *   kombo_content_type_infer  a static string or NULL (memory safety only)
 */
#include "fuzz_common.h"
#include "core/kombo.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/content_type.h"
#include "core/json.h"

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int ref_b64_valid(const unsigned char *s, size_t n)
{
    size_t i, pad = 0;
    if (n % 4)
        return 0;
    while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
        pad++;
    for (i = 0; i < n - pad; i++)
        if (fz_b64_val(s[i]) < 0)
            return 0;
    return 1;
}

/* The input with every byte >= 0x80 made 'a': the writer passes those
 * bytes through one for one, so this tells how it escaped the rest even
 * when the input is not UTF-8 (which the strict scanner rejects). */
static char *ascii_copy(const uint8_t *data, size_t size)
{
    char *c = malloc(size + 1);
    size_t i;
    for (i = 0; i < size; i++)
        c[i] = (char)(data[i] >= 0x80 ? 'a' : data[i]);
    return c;
}

/* Scans text as one JSON string and decodes it into dec. */
static int scan_string(const char *text, size_t n, fz_bytes *dec, const char **err)
{
    jscan s;
    jval v;
    if (kombo_json_parse(&s, text, n, &v) || v.type != J_STRING || v.n != n) {
        *err = s.err ? s.err : "not one string";
        return -1;
    }
    fz_json_decode(&v, dec);
    return 0;
}

static void check_json(const uint8_t *data, size_t size)
{
    kombo_buf b, ab;
    fz_bytes dec = {0};
    const char *err = NULL;
    size_t i;
    int utf8 = fz_utf8_valid(data, size);
    char *ascii = ascii_copy(data, size);
    jscan s;
    jval v;

    kombo_buf_init(&b);
    CHECK(kombo_json_string(&b, (const char *)data, size) == 0, "json_string failed");
    CHECK(b.data && b.len >= 2 && b.data[0] == '"' && b.data[b.len - 1] == '"' && b.data[b.len] == 0,
          "not a quoted, NUL-terminated literal");
    for (i = 0; i < b.len; i++)
        CHECK((unsigned char)b.data[i] >= 0x20 && b.data[i] != 0x7f, "raw control byte 0x%02x at %zu",
              (unsigned char)b.data[i], i);

    /* Same output but for the high bytes, and that output decodes back. */
    kombo_buf_init(&ab);
    CHECK(kombo_json_string(&ab, ascii, size) == 0 && ab.len == b.len, "high bytes not passed through");
    for (i = 0; i < b.len; i++)
        CHECK(ab.data[i] == ((unsigned char)b.data[i] >= 0x80 ? 'a' : b.data[i]), "byte %zu differs", i);
    CHECK(scan_string(ab.data, ab.len, &dec, &err) == 0, "output is not a JSON string literal: %s", err);
    CHECK(dec.n == size && (size == 0 || memcmp(dec.p, ascii, size) == 0), "decodes to %zu bytes, input %zu",
          dec.n, size);
    kombo_buf_free(&ab);

    /* The real output: strict JSON exactly when the input is UTF-8. */
    if (utf8) {
        CHECK(scan_string(b.data, b.len, &dec, &err) == 0, "strict JSON check failed: %s", err);
        CHECK(dec.n == size && (size == 0 || memcmp(dec.p, data, size) == 0), "decodes to %zu bytes, input %zu",
              dec.n, size);
    } else {
        CHECK(kombo_json_parse(&s, b.data, b.len, &v) != 0 && strcmp(s.err, "invalid UTF-8 in string") == 0,
              "non-UTF-8 output: %s", s.err ? s.err : "accepted");
    }
    fz_free(&dec);
    free(ascii);

    /* Appending to a buffer that already holds text keeps that text. */
    kombo_buf_reset(&b);
    kombo_buf_puts(&b, "[");
    kombo_json_string(&b, (const char *)data, size);
    kombo_buf_puts(&b, "]");
    CHECK(!b.failed && b.data[0] == '[' && b.data[b.len - 1] == ']', "append after text");
    if (utf8)
        CHECK(kombo_json_parse(&s, b.data, b.len, &v) == 0 && v.type == J_ARRAY, "array is not JSON");
    kombo_buf_free(&b);

    /* A limit that cuts the literal short sets failed, never overflows. */
    kombo_buf_init(&b);
    b.limit = size / 2 + 1;
    if (kombo_json_string(&b, (const char *)data, size) == 0)
        CHECK(b.len <= b.limit, "limit %zu exceeded: %zu", b.limit, b.len);
    else
        CHECK(b.failed, "error without failed");
    kombo_buf_free(&b);
}

static void check_base64(const uint8_t *data, size_t size)
{
    size_t want = kombo_base64_encoded_len(size), got;
    char *out = malloc(want ? want : 1);
    fz_bytes dec = {0};

    CHECK(want == (size + 2) / 3 * 4, "encoded_len(%zu) = %zu", size, want);
    got = kombo_base64_encode(out, data, size);
    CHECK(got == want, "encode wrote %zu, encoded_len %zu", got, want);
    CHECK(kombo_base64_valid(out, got), "encoder output is not valid base64");
    CHECK(fz_b64_decode(out, got, &dec) == 0, "reference decoder rejects the output");
    CHECK(dec.n == size && (size == 0 || memcmp(dec.p, data, size) == 0), "round trip differs");
    fz_free(&dec);
    free(out);

    CHECK(kombo_base64_valid((const char *)data, size) == ref_b64_valid(data, size),
          "base64_valid disagrees with the reference (%d)", kombo_base64_valid((const char *)data, size));
}

static void check_percent(const uint8_t *data, size_t size)
{
    kombo_buf b;
    size_t i, escaped = 0;
    fz_bytes dec = {0};

    for (i = 0; i < size; i++)
        escaped += !unreserved(data[i]);
    kombo_buf_init(&b);
    CHECK(kombo_percent_encode(&b, (const char *)data, size) == 0, "percent_encode failed");
    CHECK(b.data != NULL && b.data[b.len] == 0, "data NULL or not terminated");
    CHECK(b.len == size + 2 * escaped, "length %zu for %zu bytes, %zu escaped", b.len, size, escaped);
    for (i = 0; i < b.len;) {
        unsigned char c = (unsigned char)b.data[i];
        if (c == '%') {
            int h1, h2;
            unsigned char v;
            CHECK(i + 2 < b.len, "truncated escape");
            h1 = fz_hex((unsigned char)b.data[i + 1]);
            h2 = fz_hex((unsigned char)b.data[i + 2]);
            CHECK(h1 >= 0 && h2 >= 0 && b.data[i + 1] < 'a' && b.data[i + 2] < 'a', "bad escape at %zu", i);
            v = (unsigned char)(h1 * 16 + h2);
            CHECK(!unreserved(v), "unreserved 0x%02x escaped", v);
            fz_put(&dec, &v, 1);
            i += 3;
        } else {
            CHECK(unreserved(c), "raw 0x%02x in output", c);
            fz_put(&dec, &c, 1);
            i++;
        }
    }
    CHECK(dec.n == size && (size == 0 || memcmp(dec.p, data, size) == 0), "does not decode back");
    fz_free(&dec);
    kombo_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *ct;
    size_t i;

    check_json(data, size);
    check_base64(data, size);
    check_percent(data, size);

    CHECK(kombo_utf8_valid((const char *)data, size) == fz_utf8_valid(data, size),
          "utf8_valid disagrees with the reference (%d)", kombo_utf8_valid((const char *)data, size));
    /* Every prefix too: truncated sequences at the end. */
    for (i = size > 8 ? size - 8 : 0; i < size; i++)
        CHECK(kombo_utf8_valid((const char *)data, i) == fz_utf8_valid(data, i), "utf8_valid prefix %zu", i);

    ct = kombo_content_type_infer(data, size < 512 ? size : 512, size > 512, (const char *)data, size);
    CHECK(ct == NULL || (strlen(ct) > 2 && strchr(ct, '/')), "content type %s", ct);
    for (i = 0; i < 2; i++) {
        ct = kombo_content_type_infer(data, size, (int)i, NULL, 0);
        CHECK(ct == NULL || (strlen(ct) > 2 && strchr(ct, '/')), "content type %s", ct);
    }
    return 0;
}
